#!/bin/sh
# run_examples.sh [EPOCHS] [DATA_DIR]: the figures of docs/results.md's
# "Model programs" section in one sitting, 2 threads: cvae, iwae,
# gumbel_vae and conv_vae for EPOCHS (10) epochs each into out/examples/,
# the MLP VAE (`vae`) for the same budget, and conv_vae beside its PyTorch
# twin, interleaved A B A B (the full run, then 3 more epochs each), with
# each epoch's seconds. Needs `make examples`.
set -eu
cd "$(dirname "$0")/.."
epochs=${1:-10}
data=${2:-$(sh examples/get_data.sh)}
out=out/examples
rm -rf "$out"
mkdir -p "$out"
run() { name=$1; shift; echo "== $name" >&2; "$@" > "$out/$name.log" 2>&1; tail -n 3 "$out/$name.log"; }
for p in cvae iwae gumbel_vae; do
    run $p build/$p --data "$data" --epochs "$epochs" --threads 2 --out "$out/$p"
done
run vae build/vae --data "$data" --epochs "$epochs" --seed 1 --threads 2 --metrics "$out/vae.jsonl" --iw-samples 0
run conv_vae build/conv_vae --data "$data" --epochs "$epochs" --threads 2 --out "$out/conv_vae"
run conv_torch /usr/bin/python3 examples/conv_vae_pytorch.py "$data" "$epochs" 2
run conv_vae_2 build/conv_vae --data "$data" --epochs 3 --threads 2 --out "$out/conv_vae_2"
run conv_torch_2 /usr/bin/python3 examples/conv_vae_pytorch.py "$data" 3 2
/usr/bin/python3 - "$out" <<'PY'
import json, re, statistics, sys
out = sys.argv[1]
ours = [json.loads(l)["seconds"] for f in ("conv_vae/metrics.jsonl", "conv_vae_2/metrics.jsonl") for l in open(f"{out}/{f}")]
torch = [float(m.group(1)) for f in ("conv_torch.log", "conv_torch_2.log")
         for m in re.finditer(r"seconds ([\d.]+)", open(f"{out}/{f}").read())]
last = lambda f: json.loads(open(f"{out}/{f}").read().splitlines()[-1])
te = re.findall(r"test -ELBO ([\d.]+)", open(f"{out}/conv_torch.log").read())
print(f"conv_vae test -ELBO {last('conv_vae/metrics.jsonl')['test_loss']:.2f}, PyTorch {float(te[-1]):.2f}, "
      f"MLP VAE {last('vae.jsonl')['test_loss']:.2f}")
print(f"seconds/epoch: tape median {statistics.median(ours):.2f} (first {ours[0]:.2f}, last of run 1 "
      f"{ours[len(ours) - 4]:.2f}), PyTorch median {statistics.median(torch):.2f} (first {torch[0]:.2f}, "
      f"last of run 1 {torch[len(torch) - 4]:.2f}); ratio {statistics.median(ours) / statistics.median(torch):.2f}")
PY

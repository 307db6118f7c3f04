#!/bin/sh
# compare_pytorch.sh [EPOCHS] [DATA_DIR]: the reference VAE (784-400-20,
# Adam 1e-3, batch 128, seed 1) trained by `vae` and by PyTorch
# (examples/pytorch_vae.py, Debian's python3-torch) in one sitting, with 1
# and then 2 threads, each under /usr/bin/time -v. Prints the test negative
# ELBO per epoch, the median seconds of a training epoch and the peak
# resident memory. Needs `make examples` first.
set -eu
cd "$(dirname "$0")/.."
epochs=${1:-10}
data=${2:-$(sh examples/get_data.sh)}
out=$(mktemp -d)
for th in 1 2; do
    echo "== threads $th: vae" >&2
    /usr/bin/time -v build/vae --data "$data" --epochs "$epochs" --seed 1 --threads "$th" \
        --iw-samples 0 --metrics "$out/vae_$th.jsonl" > "$out/vae_$th.log" 2> "$out/vae_$th.time"
    echo "== threads $th: pytorch" >&2
    /usr/bin/time -v /usr/bin/python3 examples/pytorch_vae.py "$data" "$epochs" "$th" \
        > "$out/torch_$th.log" 2> "$out/torch_$th.time"
done
/usr/bin/python3 - "$out" "$epochs" <<'PY'
import json, re, statistics, sys
out, epochs = sys.argv[1], int(sys.argv[2])
def rss(path):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read()).group(1)) / 1024
rows = {}
for th in (1, 2):
    ours = [json.loads(l) for l in open(f"{out}/vae_{th}.jsonl")]
    torch = [l.split() for l in open(f"{out}/torch_{th}.log") if l.startswith("epoch")]
    rows[th] = dict(ours_loss=[r["test_loss"] for r in ours], torch_loss=[float(t[5]) for t in torch],
                    ours_s=statistics.median(r["seconds"] for r in ours),
                    torch_s=statistics.median(float(t[7]) for t in torch),
                    ours_mb=rss(f"{out}/vae_{th}.time"), torch_mb=rss(f"{out}/torch_{th}.time"))
print("| epoch | vae, test -ELBO | PyTorch, test -ELBO |")
print("| --- | --- | --- |")
for e in range(epochs):
    print(f"| {e + 1} | {rows[1]['ours_loss'][e]:.2f} | {rows[1]['torch_loss'][e]:.2f} |")
print()
print("| threads | vae s/epoch | PyTorch s/epoch | ratio | vae peak RSS | PyTorch peak RSS |")
print("| --- | --- | --- | --- | --- | --- |")
for th in (1, 2):
    r = rows[th]
    print(f"| {th} | {r['ours_s']:.2f} | {r['torch_s']:.2f} | {r['torch_s'] / r['ours_s']:.2f}x | "
          f"{r['ours_mb']:.0f} MiB | {r['torch_mb']:.0f} MiB |")
PY
rm -rf "$out"

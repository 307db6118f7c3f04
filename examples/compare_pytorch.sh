#!/bin/sh
# compare_pytorch.sh [ROUNDS] [EPOCHS] [DATA_DIR]: the reference VAE
# (784-400-20, Adam 1e-3, seed 1) trained by `vae` (A) and by PyTorch (B,
# examples/pytorch_vae.py, Debian's python3-torch, flush-to-zero on as in
# vae) in one sitting, interleaved A B A B ..., ROUNDS rounds (3) of EPOCHS
# epochs (2) at three settings: batch 128 on 1 and 2 threads, batch 16 on 1
# thread. Prints every run's epochs, the medians over rounds of the mean
# epoch, of the first and of the last, the ratio, and the peak resident
# memory (/usr/bin/time -v), then the test -ELBO per epoch of round 1 at
# batch 128, 1 thread. vae adapts its threads to other processes'
# load; here it is fixed (--adapt-threads 0) as PyTorch's is. Needs `make
# examples` first.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
epochs=${2:-2}
data=${3:-$(sh examples/get_data.sh)}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for r in $(seq 1 "$rounds"); do
    for setting in "1 128" "2 128" "1 16"; do
        set -- $setting
        tag="t$1_b$2_r$r"
        /usr/bin/time -v build/vae --data "$data" --epochs "$epochs" --seed 1 --threads "$1" --batch "$2" \
            --iw-samples 0 --adapt-threads 0 --metrics "$out/vae_$tag.jsonl" > /dev/null 2> "$out/vae_$tag.time"
        /usr/bin/time -v /usr/bin/python3 examples/pytorch_vae.py "$data" "$epochs" "$1" "$2" \
            > "$out/torch_$tag.log" 2> "$out/torch_$tag.time"
    done
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, re, statistics as st, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rss(path):
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(path).read()).group(1)) / 1024
print("| setting | vae s/epoch (first, last) | PyTorch s/epoch (first, last) | vae / PyTorch | vae peak RSS | PyTorch peak RSS |")
print("| --- | --- | --- | --- | --- | --- |")
for th, b in ((1, 128), (2, 128), (1, 16)):
    runs = {"vae": [], "torch": []}
    mem = {"vae": [], "torch": []}
    for r in range(1, rounds + 1):
        tag = f"t{th}_b{b}_r{r}"
        runs["vae"].append([json.loads(l)["seconds"] for l in open(f"{out}/vae_{tag}.jsonl")])
        runs["torch"].append([float(l.split()[7]) for l in open(f"{out}/torch_{tag}.log") if l.startswith("epoch")])
        mem["vae"].append(rss(f"{out}/vae_{tag}.time")), mem["torch"].append(rss(f"{out}/torch_{tag}.time"))
        print(f"  round {r}, {th} thread(s), batch {b}: vae {runs['vae'][-1]}, PyTorch {runs['torch'][-1]}", file=sys.stderr)
    m = {k: (st.median(st.mean(e) for e in v), st.median(e[0] for e in v), st.median(e[-1] for e in v))
         for k, v in runs.items()}
    print(f"| batch {b}, {th} thread{'s' if th > 1 else ''} | {m['vae'][0]:.2f} ({m['vae'][1]:.2f}, {m['vae'][2]:.2f}) | "
          f"{m['torch'][0]:.2f} ({m['torch'][1]:.2f}, {m['torch'][2]:.2f}) | {m['vae'][0] / m['torch'][0]:.2f} | "
          f"{st.median(mem['vae']):.0f} MiB | {st.median(mem['torch']):.0f} MiB |")
ours = [json.loads(l)["test_loss"] for l in open(f"{out}/vae_t1_b128_r1.jsonl")]
theirs = [float(l.split()[5]) for l in open(f"{out}/torch_t1_b128_r1.log") if l.startswith("epoch")]
print("\n| epoch | vae, test -ELBO | PyTorch, test -ELBO |\n| --- | --- | --- |")
for e, (a, b) in enumerate(zip(ours, theirs), 1):
    print(f"| {e} | {a:.2f} | {b:.2f} |")
PY

#!/bin/sh
# bench_ops.sh [ROUNDS]: forward + backward of conv2d, conv_transpose2d,
# logsumexp and softmax at realistic sizes, ours (`build/bench ops`) and
# PyTorch's (tests/bench_ops.py, Debian's python3-torch) interleaved in one
# sitting, A B A B ..., at 1 and 2 threads. Prints the median over ROUNDS
# (default 3) of each run's median and the ratio ours / PyTorch.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
make -s build/bench
out=$(mktemp -d)
for th in 1 2; do
    for r in $(seq "$rounds"); do
        build/bench ops "$th" > "$out/ours_${th}_$r"
        /usr/bin/python3 tests/bench_ops.py "$th" > "$out/torch_${th}_$r"
    done
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import glob, re, statistics, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def read(path):
    rows = {}
    for line in open(path):
        m = re.match(r"\s+(.+?)\s+forward\s+([\d.]+) ms\s+forward\+backward\s+([\d.]+) ms", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), float(m.group(3)))
    return rows
print(f"median of {rounds} interleaved runs (each a median of 15), ms")
print("| op | threads | tape fwd | PyTorch fwd | tape fwd+bwd | PyTorch fwd+bwd | ratio fwd+bwd |")
print("| --- | --- | --- | --- | --- | --- | --- |")
for th in (1, 2):
    ours = [read(f"{out}/ours_{th}_{r}") for r in range(1, rounds + 1)]
    torch = [read(f"{out}/torch_{th}_{r}") for r in range(1, rounds + 1)]
    for op in (o for o in ours[0] if o in torch[0]):  # not our floors' lines
        of = statistics.median(o[op][0] for o in ours); ob = statistics.median(o[op][1] for o in ours)
        tf = statistics.median(t[op][0] for t in torch); tb = statistics.median(t[op][1] for t in torch)
        print(f"| {op} | {th} | {of:.2f} | {tf:.2f} | {ob:.2f} | {tb:.2f} | {ob / tb:.2f} |")
PY
rm -rf "$out"

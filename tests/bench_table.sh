#!/bin/sh
# bench_table.sh [ROUNDS]: make bench's table. A step of the reference VAE
# (784-400-20, Adam) at batch 128 on 1 and 2 threads and batch 16 on 1
# thread: its floor and ours (build/bench step: the floor's GEMMs in their
# fastest layouts with BLIS's fastest configuration, each timed alone, plus
# a vectorized Adam pass; and the floor run as steps, 10 at a time between
# 10 of ours, the same products and pass one after another as a step runs
# them: a shared machine slows whole stretches of seconds, and the two
# medians come from the same stretches) and, when Debian's python3-torch is
# there, PyTorch's (examples/pytorch_vae.py, one epoch, given our BLIS
# kernels through BLIS_ARCH_TYPE). The runs interleaved (ours, PyTorch,
# next setting, ...), ROUNDS rounds (3), medians. The CPU and the date
# first.
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-3}
data=$(sh examples/get_data.sh)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && torch=1
for r in $(seq 1 "$rounds"); do
    for setting in "1 128" "2 128" "1 16"; do
        set -- $setting
        TAPE_DATA=$(dirname "$data") build/bench step "$1" "$2" 1 > "$out/tape_$1_$2_$r"
        arch=$(sed -n 's/.*BLIS_ARCH_TYPE=\([0-9]*\).*/\1/p' "$out/tape_$1_$2_$r")
        [ "$torch" = 1 ] && BLIS_ARCH_TYPE=$arch /usr/bin/python3 examples/pytorch_vae.py "$data" 1 "$1" "$2" \
            > "$out/torch_$1_$2_$r"
    done
done
head -1 "$out/tape_1_128_1"
/usr/bin/python3 - "$out" "$rounds" "$torch" <<'PY'
import re, statistics as st, sys
out, rounds, torch = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
print("| setting | kernels | floor ms | tape ms | tape / floor | floor as steps ms | tape beside them ms |"
      " tape / floor as steps |" + (" PyTorch ms | tape / PyTorch |" if torch else ""))
print("| --- | --- | --- | --- | --- | --- | --- | --- |" + (" --- | --- |" if torch else ""))
for th, b in ((1, 128), (2, 128), (1, 16)):
    fl, us, pt, bf, bu, kern = [], [], [], [], [], ""
    for r in range(1, rounds + 1):
        line = open(f"{out}/tape_{th}_{b}_{r}").read()
        m = re.search(r"floor ([\d.]+) ms .*ours ([\d.]+) ms .*BLIS's (\w+) kernels", line)
        fl.append(float(m.group(1))), us.append(float(m.group(2)))
        kern = m.group(3)
        m = re.search(r"medians floor ([\d.]+) ms, ours ([\d.]+) ms", line)
        bf.append(float(m.group(1))), bu.append(float(m.group(2)))
        if torch:
            secs = float(re.search(r"seconds ([\d.]+)", open(f"{out}/torch_{th}_{b}_{r}").read()).group(1))
            pt.append(1e3 * secs / -(-60000 // b))
    f, u, g, v = st.median(fl), st.median(us), st.median(bf), st.median(bu)
    row = (f"| batch {b}, {th} thread{'s' if th > 1 else ''} | {kern} | {f:.3f} | {u:.3f} | {u / f:.2f} | {g:.3f} |"
           f" {v:.3f} | {v / g:.2f} |")
    if torch:
        p = st.median(pt)
        row += f" {p:.3f} | {u / p:.2f} |"
    print(row)
print(f"medians of {rounds} interleaved rounds; PyTorch: one epoch of 60000 images a round, per step"
      if torch else f"medians of {rounds} interleaved rounds (python3-torch not installed: no PyTorch column)")
PY

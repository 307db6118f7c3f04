#!/bin/sh
# bench_builds.sh A_BUILD B_BUILD [ROUNDS] [EPOCHS]: two builds of `vae`
# (say, before and after a change: `git worktree add /tmp/old REV && make -C
# /tmp/old examples`) on the reference VAE, interleaved A B A B ..., ROUNDS
# rounds (3) of EPOCHS epochs (2) at the issue's three settings: batch 128
# on 1 and 2 threads, batch 16 on 1 thread; threads fixed. Prints each run's
# epochs, then per setting the medians over rounds of the mean epoch, the
# first and the last epoch, B / A, and the peak resident memory.
set -eu
a=$1 b=$2 rounds=${3:-3} epochs=${4:-2}
data=${TAPE_DATA:-../shared/data}/mnist
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
adapt() { "$1/vae" --help 2>&1 | grep -q adapt-threads && echo "--adapt-threads 0" || true; }
for r in $(seq 1 "$rounds"); do
    for setting in "1 128" "2 128" "1 16"; do
        set -- $setting
        for k in a b; do
            eval dir=\$$k
            /usr/bin/time -v "$dir/vae" --data "$data" --epochs "$epochs" --seed 1 --threads "$1" --batch "$2" \
                --iw-samples 0 $(adapt "$dir") --metrics "$out/$k-t$1-b$2-r$r.jsonl" > /dev/null 2> "$out/$k-t$1-b$2-r$r.time"
        done
    done
done
/usr/bin/python3 - "$out" "$rounds" "$a" "$b" <<'PY'
import json, re, statistics as st, sys
out, rounds, A, B = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
rss = lambda p: int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(p).read()).group(1)) / 1024
print(f"A = {A}, B = {B}")
print("| setting | A s/epoch (first, last) | B s/epoch (first, last) | B / A | A peak RSS | B peak RSS |")
print("| --- | --- | --- | --- | --- | --- |")
for th, bs in ((1, 128), (2, 128), (1, 16)):
    m, mem = {}, {}
    for k in "ab":
        runs = [[json.loads(l)["seconds"] for l in open(f"{out}/{k}-t{th}-b{bs}-r{r}.jsonl")] for r in range(1, rounds + 1)]
        print(f"  {k}, {th} thread(s), batch {bs}: " + "; ".join(" ".join(f"{s:.2f}" for s in e) for e in runs), file=sys.stderr)
        m[k] = (st.median(st.mean(e) for e in runs), st.median(e[0] for e in runs), st.median(e[-1] for e in runs))
        mem[k] = st.median(rss(f"{out}/{k}-t{th}-b{bs}-r{r}.time") for r in range(1, rounds + 1))
    print(f"| batch {bs}, {th} thread{'s' if th > 1 else ''} | {m['a'][0]:.2f} ({m['a'][1]:.2f}, {m['a'][2]:.2f}) | "
          f"{m['b'][0]:.2f} ({m['b'][1]:.2f}, {m['b'][2]:.2f}) | {m['b'][0] / m['a'][0]:.2f} | {mem['a']:.0f} MiB | {mem['b']:.0f} MiB |")
PY

#!/bin/sh
# bench_busy.sh [ROUNDS]: the reference VAE on 2 threads, quiet and with
# one core kept busy by another process (a shell loop), with the thread team
# fixed (--adapt-threads 0) and adapting to the load (the default),
# interleaved, ROUNDS rounds (3) of 2 epochs each. Prints each run's epochs
# and the medians, and each busy run against the quiet one.
set -eu
rounds=${1:-3}
vae=${BUILD:-build}/vae
data=${TAPE_DATA:-../shared/data}/mnist
out=$(mktemp -d)
busy=""
trap '[ -n "$busy" ] && kill $busy 2>/dev/null; rm -rf "$out"' EXIT
run() { "$vae" --data "$data" --epochs 2 --seed 1 --threads 2 --iw-samples 0 --adapt-threads "$2" \
            --metrics "$out/$1.jsonl" > /dev/null; }
for r in $(seq 1 "$rounds"); do
    run "quiet-fixed-$r" 0
    run "quiet-adapt-$r" 1
    sh -c 'while :; do :; done' & busy=$!
    sleep 0.5
    run "busy-fixed-$r" 0
    run "busy-adapt-$r" 1
    kill $busy; wait $busy 2>/dev/null || true; busy=""
done
/usr/bin/python3 - "$out" "$rounds" <<'PY'
import json, statistics as st, sys
out, rounds = sys.argv[1], int(sys.argv[2])
med = {}
for k in ("quiet-fixed", "quiet-adapt", "busy-fixed", "busy-adapt"):
    runs = [[json.loads(l)["seconds"] for l in open(f"{out}/{k}-{r}.jsonl")] for r in range(1, rounds + 1)]
    med[k] = (st.median(st.mean(e) for e in runs), st.median(e[0] for e in runs), st.median(e[-1] for e in runs))
    print(f"{k}: " + "; ".join(" ".join(f"{s:.2f}" for s in e) for e in runs)
          + f"  -> median {med[k][0]:.2f} s/epoch (first {med[k][1]:.2f}, last {med[k][2]:.2f})")
q = med["quiet-fixed"][0]
for k in ("busy-fixed", "busy-adapt"):
    print(f"{k} / quiet: {med[k][0] / q:.2f} (first epoch {med[k][1] / q:.2f}, last {med[k][2] / q:.2f})")
PY

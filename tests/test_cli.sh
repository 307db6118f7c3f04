#!/bin/sh
# test_cli.sh VAE: the vae program as a user runs it, on real MNIST: usage
# errors, a short training with every output, an exact resume, --eval, a
# broken checkpoint, every model kind. Ends with "N passed, N failed, N skipped".
vae=$1
data=${TAPE_DATA:-../shared/data}/mnist
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0 skipped=0
ok() { echo "ok   cli_$1"; passed=$((passed + 1)); }
fail() { echo "FAIL cli_$1: $2"; failed=$((failed + 1)); }
# expect NAME STATUS PATTERN CMD...: exit status and a line of its output
expect() {
    name=$1 want=$2 pat=$3; shift 3
    "$@" > "$tmp/out" 2>&1; got=$?
    if [ "$got" -ne "$want" ]; then fail "$name" "exit $got, expected $want"; sed 's/^/    /' "$tmp/out" | tail -5
    elif ! grep -q -- "$pat" "$tmp/out"; then fail "$name" "no \"$pat\" in the output"; sed 's/^/    /' "$tmp/out" | tail -5
    else ok "$name"; fi
}

expect help 0 "--likelihood" "$vae" --help
expect bad_number 2 "--latent: expected a whole number from 1 to 100000, got \"x\"" "$vae" --latent x
expect bad_choice 2 "--model: expected one of vae|ae|sparse|denoising, got \"gan\"" "$vae" --model gan
expect bad_hidden 2 "--hidden: expected 1 to 8 widths" "$vae" --hidden 400,,3
expect two_sources 2 "give one of" "$vae" --data a --csv b
expect missing_data 1 "/nonexistent: expected train-images-idx3-ubyte" "$vae" --data /nonexistent --epochs 1
expect bad_kernels 2 "--kernels: expected one of auto|measure|avx512|blis, got \"x\"" "$vae" --kernels x

if [ ! -f "$data/train-images-idx3-ubyte.gz" ] && [ ! -f "$data/train-images-idx3-ubyte" ]; then
    if [ "${TAPE_REQUIRE_DATA:-0}" = 1 ]; then fail data "no $data"; else
        echo "skip cli_training (no $data; set TAPE_DATA)"; skipped=$((skipped + 1)); fi
    echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit
fi

small="--data $data --train-limit 3000 --test-limit 500 --hidden 64 --latent 2 --batch 100 --seed 7 --threads 2"
expect train 0 "active latent units" "$vae" $small --epochs 2 --out "$tmp/run" --metrics "$tmp/m.jsonl" --iw-samples 5
# BLIS's kernels: AVX-512 ones when asked on a CPU with AVX-512; a user's
# BLIS_ARCH_TYPE (3: haswell) wins over --kernels
tiny="$small --epochs 1 --train-limit 500 --test-limit 100 --iw-samples 0"
if grep -q avx512f /proc/cpuinfo && grep -q avx512dq /proc/cpuinfo && grep -q avx512bw /proc/cpuinfo &&
   grep -q avx512vl /proc/cpuinfo && grep -q avx512cd /proc/cpuinfo; then
    expect kernels_avx512 0 "BLIS's skx kernels" "$vae" $tiny --kernels avx512
else
    expect kernels_avx512 0 "BLIS's .* kernels" "$vae" $tiny --kernels avx512
fi
expect kernels_user_env 0 "BLIS's haswell kernels" env BLIS_ARCH_TYPE=3 "$vae" $tiny --kernels avx512
# a CPU BLIS cannot name (its choice taken to be "generic"): auto measures the
# configurations this CPU runs and never keeps the generic ones when another runs
"$vae" $tiny --kernels blis > /dev/null 2>&1 # (BLIS works at all)
env TAPE_BLAS_AS_GENERIC=1 TAPE_KERNELS_CACHE=0 "$vae" $tiny > "$tmp/generic.log" 2>&1
if grep -q "kernels (measured, ms a step of [0-9]* rows: .*generic" "$tmp/generic.log" &&
   ! grep -q "BLIS's generic kernels" "$tmp/generic.log"; then
    grep -o "BLIS's [a-z0-9]* kernels (measured[^)]*)" "$tmp/generic.log" | sed 's/^/    /'; ok kernels_measured_not_generic
else fail kernels_measured_not_generic "$(grep -i "kernels" "$tmp/generic.log" | head -2)"; fi
# the choice kept for the CPU: a second run takes it without measuring
cache=$(mktemp -d)
env TAPE_BLAS_AS_GENERIC=1 XDG_CACHE_HOME="$cache" "$vae" $tiny > /dev/null 2>&1
env TAPE_BLAS_AS_GENERIC=1 XDG_CACHE_HOME="$cache" "$vae" $tiny > "$tmp/cached.log" 2>&1
grep -q "kernels (measured before on this CPU" "$tmp/cached.log" && [ "$(wc -l < "$cache/tape/kernels")" = 1 ] &&
    ok kernels_choice_kept || fail kernels_choice_kept "$(grep -i kernels "$tmp/cached.log" | head -1)"
rm -rf "$cache"
# two processes at once (MPI ranks): one measures, the other waits and takes its choice
cache=$(mktemp -d)
env TAPE_BLAS_AS_GENERIC=1 XDG_CACHE_HOME="$cache" "$vae" $tiny > "$tmp/k1.log" 2>&1 &
env TAPE_BLAS_AS_GENERIC=1 XDG_CACHE_HOME="$cache" "$vae" $tiny > "$tmp/k2.log" 2>&1
wait
k1=$(grep -o "BLIS's [a-z0-9]* kernels" "$tmp/k1.log") k2=$(grep -o "BLIS's [a-z0-9]* kernels" "$tmp/k2.log")
[ -n "$k1" ] && [ "$k1" = "$k2" ] && [ "$(wc -l < "$cache/tape/kernels")" = 1 ] &&
    grep -q "measured before" "$tmp/k1.log" "$tmp/k2.log" && ok kernels_one_measures_at_a_time ||
    fail kernels_one_measures_at_a_time "$k1 / $k2"
rm -rf "$cache"
missing=""
for f in model.safetensors reconstructions.png samples.png interpolation.png manifold.png latent_scatter.png \
         reconstructions.svg samples.svg interpolation.svg manifold.svg latent_scatter.svg; do
    [ -s "$tmp/run/$f" ] || missing="$missing $f"
done
# the learning curves beside the metrics, redrawn each epoch: both epochs
[ -s "$tmp/m.svg" ] && grep -q ">loss</text>" "$tmp/m.svg" && grep -q ">kl</text>" "$tmp/m.svg" &&
    [ "$(grep -c '<polyline' "$tmp/m.svg")" -ge 4 ] || missing="$missing m.svg"
if [ -z "$missing" ]; then ok train_outputs; else fail train_outputs "no$missing"; fi
if /usr/bin/python3 - "$tmp/m.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
need = {"epoch", "train_loss", "test_loss", "test_recon", "test_kl", "seconds"}
assert len(rows) == 2 and all(need <= set(r) for r in rows), rows
assert rows[1]["test_loss"] < rows[0]["test_loss"], rows
assert abs(rows[1]["test_recon"] + rows[1]["test_kl"] - rows[1]["test_loss"]) < 1e-6
PY
then ok metrics; else fail metrics "bad JSON Lines"; fi

# one epoch, then resume for the second: the same numbers as two in a row
"$vae" $small --epochs 1 --out "$tmp/half" > /dev/null 2>&1
expect resume 0 "epoch 2/2" "$vae" $small --epochs 2 --resume "$tmp/half/model.safetensors" --out "$tmp/half" --metrics "$tmp/r.jsonl"
straight=$(sed -n 2p "$tmp/m.jsonl" | sed 's/"seconds":[^,]*,//')
resumed=$(sed -n 1p "$tmp/r.jsonl" | sed 's/"seconds":[^,]*,//')
if [ -n "$straight" ] && [ "$straight" = "$resumed" ]; then ok resume_exact
else fail resume_exact "straight $straight, resumed $resumed"; fi

# --start-from: a checkpoint's weights under this command line's model and
# training; with no epochs it evaluates what --eval evaluates
"$vae" $small --epochs 0 --iw-samples 0 --start-from "$tmp/run/model.safetensors" > "$tmp/sf.out" 2>&1
"$vae" $small --iw-samples 0 --eval "$tmp/run/model.safetensors" > "$tmp/ev.out" 2>&1
a=$(grep "test negative ELBO" "$tmp/sf.out") b=$(grep "test negative ELBO" "$tmp/ev.out")
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok start_from_weights; else fail start_from_weights "\"$a\" against \"$b\""; fi
expect start_from_iwae 0 "epoch 1/1" "$vae" $small --epochs 1 --iw-k 5 --start-from "$tmp/run/model.safetensors"
expect start_from_shape 1 "shape" "$vae" $small --hidden 32 --epochs 1 --start-from "$tmp/run/model.safetensors"
# --conv: the convolutional body, trained, saved and evaluated from its file
expect conv 0 "conv(32,64)" "$vae" $small --conv 1 --epochs 1 --threads 1 --out "$tmp/conv"
expect conv_eval 0 "test log p(x) >= L_10" "$vae" --eval "$tmp/conv/model.safetensors" --data "$data" --test-limit 200 --iw-samples 10 --threads 1
printf '1,2,3,4\n5,6,7,8\n1,2,3,4\n5,6,7,8\n1,2,3,4\n5,6,7,8\n1,2,3,4\n5,6,7,8\n1,2,3,4\n5,6,7,8\n' > "$tmp/four.csv"
expect conv_csv 2 "--conv: the data are not images" "$vae" --csv "$tmp/four.csv" --conv 1 --epochs 1
expect start_from_resume 2 "--start-from: give it alone, not with --resume" "$vae" $small --start-from a --resume b

# a learning-rate schedule counts steps, so it survives a resume (a step
# schedule does not depend on --epochs; a cosine runs over --epochs)
sched="--schedule step --lr 2e-3 --lr-step 1 --lr-gamma 0.5"
"$vae" $small $sched --epochs 2 --metrics "$tmp/s2.jsonl" > /dev/null 2>&1
"$vae" $small $sched --epochs 1 --out "$tmp/s1" > /dev/null 2>&1
"$vae" $small $sched --epochs 2 --resume "$tmp/s1/model.safetensors" --metrics "$tmp/s1.jsonl" > /dev/null 2>&1
"$vae" $small --schedule cosine --lr 2e-3 --min-lr 1e-4 --epochs 2 --metrics "$tmp/c2.jsonl" > /dev/null 2>&1
if /usr/bin/python3 - "$tmp/s2.jsonl" "$tmp/s1.jsonl" "$tmp/c2.jsonl" "$tmp/m.jsonl" <<'PY'
import json, sys
two, resumed, cos, const = ([json.loads(l) for l in open(f)] for f in sys.argv[1:])
assert [r["lr"] for r in two] == [1e-3, 5e-4] and const[1]["lr"] == 1e-3, (two, const)
assert abs(cos[0]["lr"] - (1e-4 + (2e-3 - 1e-4) * 0.5)) < 1e-12 and abs(cos[1]["lr"] - 1e-4) < 1e-12, cos
drop = lambda r: {k: v for k, v in r.items() if k != "seconds"}
assert drop(two[1]) == drop(resumed[0]), (two[1], resumed[0])
PY
then ok schedule_resume; else fail schedule_resume "schedule lost on resume or wrong"; fi
expect bad_schedule 2 "--schedule: expected one of constant|step|cosine, got \"exp\"" "$vae" --schedule exp

expect eval 0 "L_10 = " "$vae" --eval "$tmp/run/model.safetensors" --data "$data" --test-limit 200 --iw-samples 10
head -c 300 "$tmp/run/model.safetensors" > "$tmp/cut.safetensors"
expect eval_truncated 1 "cut.safetensors: header length" "$vae" --eval "$tmp/cut.safetensors" --data "$data"

for kind in ae sparse denoising; do
    expect "model_$kind" 0 "test reconstruction" "$vae" $small --model $kind --latent 16 --epochs 1
done
expect gaussian_vae 0 "test negative ELBO" "$vae" $small --likelihood gaussian --samples 2 --warmup 20 --epochs 1
expect binarize_dynamic 0 "epoch 1/1" "$vae" $small --binarize dynamic --epochs 1 --iw-samples 0
# ---- the bad-input audit's findings on the command line --------------------
expect epochs_wrap 2 "--epochs: expected a whole number from 0 to 1000000, got \"4294967296\"" "$vae" --epochs 4294967296
expect samples_wrap 2 "--samples: expected a whole number from 1 to 10000, got \"4294967296\"" "$vae" --samples 4294967296
expect hidden_comma 2 "--hidden: expected 1 to 8 widths" "$vae" --hidden 8,
expect latent_huge 2 "--latent: expected a whole number from 1 to 100000" "$vae" --latent 100000000000
expect out_empty 2 "--out: expected a non-empty DIR, got \"\"" "$vae" --out ""
expect seed_max 0 "seed 18446744073709551615" "$vae" $small --seed 18446744073709551615 --epochs 0
expect eval_folder 1 "is a folder, expected a checkpoint file" "$vae" --eval "$tmp" --data "$data"
awk 'BEGIN { srand(1); for (i = 0; i < 40; i++) { for (j = 0; j < 5; j++) printf "%s%.3f", j ? "," : "", rand(); print "" } }' > "$tmp/five.csv"
expect eval_width 1 "the model takes 784 values per example, the data have 5" "$vae" --eval "$tmp/run/model.safetensors" --csv "$tmp/five.csv"
mkdir -p "$tmp/mdir"
expect metrics_folder 1 "mdir: is a folder, expected a regular file" "$vae" $small --epochs 1 --metrics "$tmp/mdir"
grep -q "^epoch 1" "$tmp/out" && fail metrics_folder_early "trained before reporting the bad path" || ok metrics_folder_early
printf '1,2\n' > "$tmp/one.csv"
expect one_row 1 "one.csv: 1 example: expected at least 2" "$vae" --csv "$tmp/one.csv"
printf '1,2\nnan,3\n' > "$tmp/nan.csv"
expect csv_nan 1 "nan.csv: line 2, column 1: \"nan\" is not a finite number" "$vae" --csv "$tmp/nan.csv"
long=$(printf 'd%.0s' $(seq 1 700))
expect long_out 2 "--out: 4227 bytes: expected a folder name of at most" "$vae" $small --epochs 1 --out "$tmp/$long/$long/$long/$long/$long/$long/x"
# a diverging run stops with the step named and keeps the last good checkpoint
mkdir -p "$tmp/div"
"$vae" $small --epochs 1 --optim sgd --lr 0.01 --out "$tmp/div" > /dev/null 2>&1
cp "$tmp/div/model.safetensors" "$tmp/good.safetensors"
expect diverge 1 "step [0-9]* (epoch [0-9]*): the" "$vae" $small --epochs 3 --optim sgd --lr 1e6 --out "$tmp/div"
cmp -s "$tmp/div/model.safetensors" "$tmp/good.safetensors" && ok diverge_keeps_checkpoint || fail diverge_keeps_checkpoint "the checkpoint changed"
ls "$tmp/div" | grep -q tmp && fail diverge_no_temp "a temporary file was left" || ok diverge_no_temp
# a checkpoint with a NaN weight is refused, naming the tensor
/usr/bin/python3 - "$tmp/run/model.safetensors" "$tmp/nan.safetensors" <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
start = 8 + n + h["encoder.0.weight"]["data_offsets"][0]
b[start + 12:start + 16] = struct.pack("<f", float("nan"))
open(sys.argv[2], "wb").write(b)
PY
expect eval_nan 1 "tensor encoder.0.weight: element 3 is nan" "$vae" --eval "$tmp/nan.safetensors" --data "$data" --test-limit 100
# training state in a checkpoint is read strictly, with ranges
for bad in "train.epoch 2147483647" "train.epoch one" "train.step 9223372036854775807"; do
    set -- $bad
    /usr/bin/python3 - "$tmp/run/model.safetensors" "$tmp/state.safetensors" "$1" "$2" <<'PY'
import json, struct, sys
b = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
h["__metadata__"][sys.argv[3]] = sys.argv[4]
j = json.dumps(h, separators=(",", ":")).encode()
j += b" " * (-len(j) % 8)
open(sys.argv[2], "wb").write(struct.pack("<Q", len(j)) + j + b[8 + n:])
PY
    expect "resume_$1_$2" 1 "metadata $1 = \"$2\": expected a whole number from 0 to" "$vae" $small --epochs 3 --resume "$tmp/state.safetensors"
done
# a picture that cannot be written is an error, not a success
mkdir -p "$tmp/pic/reconstructions.png"
expect png_fails 1 "reconstructions.png" "$vae" $small --epochs 1 --out "$tmp/pic"
# files follow the umask
(umask 027 && "$vae" $small --epochs 1 --out "$tmp/mask" > /dev/null 2>&1)
[ "$(stat -c %a "$tmp/mask/model.safetensors")" = 640 ] && ok umask || fail umask "mode $(stat -c %a "$tmp/mask/model.safetensors"), expected 640"
# --resume appends to the metrics: the history before it stays
"$vae" $small --epochs 1 --out "$tmp/hist" --metrics "$tmp/hist.jsonl" > /dev/null 2>&1
"$vae" $small --epochs 2 --resume "$tmp/hist/model.safetensors" --out "$tmp/hist" --metrics "$tmp/hist.jsonl" > /dev/null 2>&1
[ "$(grep -c epoch "$tmp/hist.jsonl")" = 2 ] && ok metrics_appended || fail metrics_appended "$(cat "$tmp/hist.jsonl")"

frey=${TAPE_DATA:-../shared/data}/freyface/frey_rawface.mat
if [ -f "$frey" ]; then
    expect frey_face 0 "28x20\|1769 train" "$vae" --frey "$frey" --likelihood gaussian --hidden 64 --latent 4 --epochs 1 --seed 1
fi

# ---- issue 25: outputs, owners, checks before training -----------------------
# /dev/null as the metrics: refused, and /dev/null is still the device
expect metrics_devnull 1 "/dev/null: is a character device, expected a regular file" "$vae" $tiny --metrics /dev/null --out "$tmp/dn"
[ -c /dev/null ] && ok devnull_intact || fail devnull_intact "/dev/null is no longer a character device"
# a FIFO: refused at once (no hang)
mkfifo "$tmp/fifo"
expect metrics_fifo 1 "fifo: is a FIFO" timeout 60 "$vae" $tiny --metrics "$tmp/fifo" --out "$tmp/ff"
# a link to the user's log: followed, the log gets the line, the link stays
: > "$tmp/log.jsonl"; ln -s log.jsonl "$tmp/link.jsonl"
expect metrics_symlink 0 "epoch 1/1" "$vae" $tiny --metrics "$tmp/link.jsonl" --out "$tmp/sl"
if [ -L "$tmp/link.jsonl" ] && [ "$(wc -l < "$tmp/log.jsonl")" = 1 ]; then ok symlink_followed
else fail symlink_followed "the link was replaced or the log got no line"; fi
# the metrics onto the checkpoint or a picture of the same run
expect metrics_is_checkpoint 1 "the same file" "$vae" $tiny --out "$tmp/same" --metrics "$tmp/same/model.safetensors"
expect metrics_is_picture 1 "the same file" "$vae" $tiny --out "$tmp/same2" --metrics "$tmp/same2/samples.png"
[ ! -e "$tmp/same2/model.safetensors" ] && ok checked_before_training || fail checked_before_training "a checkpoint was written"
# two trainers on one --out: the second refused by name, the first unharmed
"$vae" $small --epochs 100000 --out "$tmp/busy" --metrics "$tmp/busy.jsonl" > "$tmp/busy.out" 2>&1 &
first=$!
for i in $(seq 1 300); do [ -e "$tmp/busy/.model.safetensors.lock" ] && break; sleep 0.1; done
expect second_trainer 1 "in use by another run (process $first)" "$vae" $small --epochs 4 --out "$tmp/busy" --metrics "$tmp/busy2.jsonl"
for i in $(seq 1 300); do [ -s "$tmp/busy/model.safetensors" ] && break; sleep 0.1; done
kill $first; wait $first
# the first run's history is its own (epochs 1, 2, ... in order) and its checkpoint loads
if /usr/bin/python3 -c "
import json, sys
e = [json.loads(l)['epoch'] for l in open(sys.argv[1])]
assert e == list(range(1, len(e) + 1)) and e, e" "$tmp/busy.jsonl" && [ ! -e "$tmp/busy2.jsonl" ] &&
   "$vae" --eval "$tmp/busy/model.safetensors" --data "$data" --test-limit 100 --iw-samples 0 > /dev/null 2>&1
then ok first_trainer_whole; else fail first_trainer_whole "mixed metrics or a broken checkpoint"; fi
# every check that can be made before training is made before training
expect shards_gt_batch 2 "--shards 200: expected at most --batch (100)" "$vae" $small --shards 200
expect min_lr_above_lr 2 "--min-lr 0.01: expected at most --lr" "$vae" $small --schedule cosine --min-lr 1e-2
long=$(head -c 4085 /dev/zero | tr '\0' a)
expect out_4085 2 "--out: 4085 bytes: expected a folder name" "$vae" $tiny --out "$long"
for i in 1 2 3 4 5 6 7 8 9 10; do echo "0.5,2"; done > "$tmp/big.csv"
expect binarize_range 1 "big.csv: training value [0-9]* is 2: --binarize dynamic" "$vae" --csv "$tmp/big.csv" --binarize dynamic --epochs 1
expect few_test_images 0 "wrote .*reconstructions.png" "$vae" $tiny --test-limit 5 --out "$tmp/few"
bin=${TAPE_DATA:-../shared/data}/binarized_mnist
if [ -d "$bin" ]; then
    expect classes_unlabelled 1 "--classes 10: the training set has no labels" "$vae" --binarized "$bin" --classes 10 --train-limit 500 --test-limit 100 --epochs 1
fi
# images of 0x0, and a test set of another width: refused, the file named
/usr/bin/python3 - "$tmp" <<'PY'
import os, struct, sys
def idx(d, name, dims, data=b""):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(struct.pack(">I", 0x800 + len(dims)) + b"".join(struct.pack(">I", x) for x in dims) + data)
t = sys.argv[1]
idx(f"{t}/zero", "train-images-idx3-ubyte", [3, 0, 0])
idx(f"{t}/zero", "t10k-images-idx3-ubyte", [2, 2, 2], bytes(8))
idx(f"{t}/wide", "train-images-idx3-ubyte", [4, 2, 2], bytes(16))
idx(f"{t}/wide", "t10k-images-idx3-ubyte", [2, 3, 3], bytes(18))
PY
expect zero_size_images 1 "zero/train-images-idx3-ubyte: 3 examples of 0 values: expected 1 or more" "$vae" --data "$tmp/zero" --epochs 1
expect test_width 1 "wide/t10k-images-idx3-ubyte: 9 values per example (3x3), but .*wide/train-images-idx3-ubyte has 4 (2x2)" "$vae" --data "$tmp/wide" --epochs 1
# the checkpoint of 8 shards (metadata of every shard's generator) resumes
expect shards_8 0 "epoch 1/1" "$vae" $tiny --shards 8 --out "$tmp/s8"
expect shards_8_resume 0 "resumed from .*epoch 1" "$vae" $tiny --shards 8 --epochs 2 --resume "$tmp/s8/model.safetensors" --out "$tmp/s8"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

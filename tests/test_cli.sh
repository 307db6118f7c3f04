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

if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
    if [ "${TAPE_REQUIRE_DATA:-0}" = 1 ]; then fail data "no $data"; else
        echo "skip cli_training (no $data; set TAPE_DATA)"; skipped=$((skipped + 1)); fi
    echo "$passed passed, $failed failed, $skipped skipped"; [ "$failed" -eq 0 ]; exit
fi

small="--data $data --train-limit 3000 --test-limit 500 --hidden 64 --latent 2 --batch 100 --seed 7 --threads 2"
expect train 0 "active latent units" "$vae" $small --epochs 2 --out "$tmp/run" --metrics "$tmp/m.jsonl" --iw-samples 5
missing=""
for f in model.safetensors reconstructions.png samples.png interpolation.png manifold.png latent_scatter.png; do
    [ -s "$tmp/run/$f" ] || missing="$missing $f"
done
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

expect eval 0 "L_10 = " "$vae" --eval "$tmp/run/model.safetensors" --data "$data" --test-limit 200 --iw-samples 10
head -c 300 "$tmp/run/model.safetensors" > "$tmp/cut.safetensors"
expect eval_truncated 1 "cut.safetensors: header length" "$vae" --eval "$tmp/cut.safetensors" --data "$data"

for kind in ae sparse denoising; do
    expect "model_$kind" 0 "test reconstruction" "$vae" $small --model $kind --latent 16 --epochs 1
done
expect gaussian_vae 0 "test negative ELBO" "$vae" $small --likelihood gaussian --samples 2 --warmup 20 --epochs 1
expect binarize_dynamic 0 "epoch 1/1" "$vae" $small --binarize dynamic --epochs 1 --iw-samples 0
frey=${TAPE_DATA:-../shared/data}/freyface/frey_rawface.mat
if [ -f "$frey" ]; then
    expect frey_face 0 "28x20\|1769 train" "$vae" --frey "$frey" --likelihood gaussian --hidden 64 --latent 4 --epochs 1 --seed 1
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

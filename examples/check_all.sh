#!/bin/sh
# check_all.sh [BUILD] [DATA]: every model program's --check (the gradient
# check of its loss with the build's eps and tolerance, on real MNIST) and
# each built-in variant's, one line each: the worst relative error and the
# verdict. BUILD is build (float, the default) or a folder holding the
# programs of another build; DATA the MNIST folder (../shared/data/mnist).
# Extra arguments go to every program through $CHECK_ARGS (e.g. --seed 3).
build=${1:-build} data=${2:-${TAPE_DATA:-../shared/data}/mnist}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
line() { # line NAME PROGRAM ARGS...: runs one check, prints its summary
    name=$1; shift
    printf '%-34s ' "$name"
    "$@" --check --data "$data" --train-limit 200 --test-limit 100 --out "$out/$name" $CHECK_ARGS 2>&1 |
        grep -o 'worst relative error [0-9.e+-]*\|tolerance [0-9.e+-]*: [a-z]*' | tr '\n' ' '
    echo
}
for e in cvae conv_vae gumbel_vae iwae vqvae m2 flow_vae hvae2; do
    line "$e" "$build/$e"
done
for v in "vae" "vae --beta 4" "vae --iw-k 5" "vae --classes 10" "vae --conv 1" "ae" "sparse" \
         "sparse --sparse-on hidden" "denoising --noise mask" "denoising --noise gaussian" \
         "denoising --noise saltpepper"; do
    line "vae --model $v" "$build/vae" --model $v --seed 1
done

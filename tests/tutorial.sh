#!/bin/sh
# tutorial.sh PREFIX CC [SANITIZE_FLAGS]: the code of docs/tutorial.md (its
# ```c blocks in order) extracted into one file, built against the library
# installed in PREFIX as the page says (float and double), trained for a
# short budget on real MNIST, and gradient-checked in the double build;
# then README.md's program and docs/compare.md's snippet.
prefix=$1 cc=$2 san=${3:-}
data=${TAPE_DATA:-../shared/data}/mnist
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' docs/tutorial.md > "$dir/mycvae.c"
[ -s "$dir/mycvae.c" ] || { echo "no code in docs/tutorial.md"; exit 1; }
pc() { PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config "$@"; }
for lib in tape tape-double; do
    $cc -std=c11 -Wall -Wextra -pedantic -Werror -o "$dir/$lib" "$dir/mycvae.c" \
        $(pc --cflags --libs $lib) $san || { echo "the tutorial does not compile against $lib"; exit 1; }
done
export LD_LIBRARY_PATH="$prefix/lib"
"$dir/tape" --data "$data" --epochs 2 --train-limit 2000 --test-limit 200 --batch 50 \
    --out "$dir/run" || exit 1
for f in model.safetensors metrics.jsonl samples.png reconstructions.png interpolation.png; do
    [ -s "$dir/run/$f" ] || { echo "the tutorial's program wrote no $f"; exit 1; }
done
# --check in both builds, with each build's eps and tolerance
"$dir/tape-double" --check --data "$data" --train-limit 100 --test-limit 100 --out "$dir/check" || exit 1
"$dir/tape" --check --data "$data" --train-limit 100 --test-limit 100 --out "$dir/check-f" || exit 1
# README.md's program, likewise
awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on' README.md > "$dir/readme.c"
[ -s "$dir/readme.c" ] || { echo "no code in README.md"; exit 1; }
$cc -std=c11 -Wall -Wextra -pedantic -Werror -o "$dir/readme" "$dir/readme.c" \
    $(pc --cflags --libs tape) $san || { echo "README.md's program does not compile"; exit 1; }
"$dir/readme" --data "$data" --epochs 1 --train-limit 1000 --test-limit 100 --out "$dir/readme-run" |
    grep "L_50 = -" || { echo "README.md's program did not print L_50"; exit 1; }
# docs/compare.md's snippet, in a program that checks what it configured
{
    printf '#include <tape/model.h>\nint main(void)\n{\n'
    awk '/^```c$/ {on = 1; next} /^```$/ {on = 0} on {print "    " $0}' docs/compare.md
    printf '    return !(c.kind == MODEL_SPARSE_AE && c.sparse_on == MODEL_SPARSE_ON_HIDDEN && c.latent == 32);\n}\n'
} > "$dir/variant.c"
grep -q model_variant "$dir/variant.c" || { echo "no model_variant code in docs/compare.md"; exit 1; }
$cc -std=c11 -Wall -Wextra -pedantic -Werror -o "$dir/variant" "$dir/variant.c" \
    $(pc --cflags --libs tape) $san || { echo "docs/compare.md's code does not compile"; exit 1; }
"$dir/variant" || { echo "docs/compare.md's code did not give sparse-hidden with a code of 32"; exit 1; }

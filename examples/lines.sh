#!/bin/sh
# lines.sh [FILE...]: each model program's size as "model definition /
# whole file" lines. The definition is everything between the includes
# (and the blank line after them) and `int main`; the rest is the program.
# Default: the model programs of examples/.
[ $# -gt 0 ] || set -- examples/cvae.c examples/conv_vae.c examples/gumbel_vae.c examples/iwae.c \
    examples/vqvae.c examples/m2.c examples/flow_vae.c examples/hvae2.c
for f in "$@"; do
    awk -v name="$(basename "$f" .c)" '
        /^#include/ { inc = NR }
        /^int main/ && !m { m = NR }
        END { printf "%-12s %3d / %3d\n", name, m - inc - 2, NR }' "$f"
done

#!/bin/sh
# run.sh BUILD CC: runs the float and double test programs and the vae
# program's end-to-end tests, then builds a
# program against the *installed* library with pkg-config, as users will;
# prints one closing line "N passed, N failed" over all of them.
if [ -z "${1:-}" ] || [ ! -d "$1" ]; then
    echo "usage: tests/run.sh BUILD_DIR [CC] (run it through make test)" >&2
    exit 2
fi
build=$1
cc=${2:-cc}
passed=0 failed=0 skipped=0
# The data the tests read: $TAPE_DATA, else ../shared/data, else the MNIST
# that `make demo` fetched into data/mnist (fetched now the same way, the
# checksums checked, when it is not there yet). Data that no registry
# provides (Frey Face, binarized MNIST) is then skipped, the reason named.
if [ -z "${TAPE_DATA:-}" ]; then
    if [ -f ../shared/data/mnist/train-images-idx3-ubyte.gz ]; then
        TAPE_DATA=../shared/data
    elif dir=$(sh examples/get_data.sh) && [ "$(basename "$dir")" = mnist ]; then
        TAPE_DATA=$(dirname "$dir")
    else
        TAPE_DATA=../shared/data
    fi
fi
export TAPE_DATA
echo "data: $TAPE_DATA"
# OpenMP workers that sleep at once at a barrier instead of spinning: the
# tests run thousands of tiny parallel loops, and on a machine whose other
# core is busy a spinning team waits a scheduler tick at each (a grad
# check on 2 threads: over a minute instead of 3 s). Speed is measured by
# make bench, never here. A caller's own setting is kept.
OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
export OMP_WAIT_POLICY
count() { # count LOG STATUS: adds a runner's summary line; a runner that
          # exited non-zero with no failure counted (a sanitizer's report
          # after the summary, a crash) counts as one more failure
    status=$2
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" | tail -n 1)
    if [ -z "$line" ]; then
        echo "a runner ended without a summary (crashed?)"; failed=$((failed + 1))
        return
    fi
    set -- $line
    passed=$((passed + $1)); failed=$((failed + $3)); skipped=$((skipped + $5))
    if [ "$status" -ne 0 ] && [ "$3" -eq 0 ]; then
        echo "a runner exited with status $status after its summary"; failed=$((failed + 1))
    fi
}
for prec in float double; do
    echo "== tests, $prec build"
    "$build/test_$prec" > "$build/test_$prec.log" 2>&1
    rc=$?
    cat "$build/test_$prec.log"
    count "$build/test_$prec.log" "$rc"
done

echo "== the vae program"
sh tests/test_cli.sh "$build/vae" > "$build/test_cli.log" 2>&1
rc=$?
cat "$build/test_cli.log"
count "$build/test_cli.log" "$rc"

echo "== the model programs of examples/"
sh tests/test_examples.sh "$build" > "$build/test_examples.log" 2>&1
rc=$?
cat "$build/test_examples.log"
count "$build/test_examples.log" "$rc"

# data-parallel training: the library and programs built again with mpicc
# (make MPI=1) when OpenMPI is installed; .ci/run installs it and sets
# TAPE_REQUIRE_MPI=1. Not under the sanitizers (OpenMPI's own allocations).
case "$build" in
*san*) ;;
*)
    if command -v mpicc > /dev/null 2>&1 && command -v mpirun > /dev/null 2>&1; then
        echo "== data-parallel training over MPI"
        if make -s MPI=1 examples > "$build/test_mpi.log" 2>&1; then
            sh tests/test_mpi.sh "$build/mpi" > "$build/test_mpi.log" 2>&1
            rc=$?
        else
            echo "0 passed, 1 failed, 0 skipped" >> "$build/test_mpi.log"; rc=1
        fi
        cat "$build/test_mpi.log"
        count "$build/test_mpi.log" "$rc"
    elif [ "${TAPE_REQUIRE_MPI:-0}" = 1 ]; then
        echo "FAIL mpi: no mpicc/mpirun (apt-get install libopenmpi-dev openmpi-bin)"; failed=$((failed + 1))
    else
        echo "skip mpi (no OpenMPI; apt-get install libopenmpi-dev openmpi-bin)"; skipped=$((skipped + 1))
    fi
    ;;
esac

echo "== the exported symbols"
# the shared libraries export the public API alone: every name declared
# TN_API in an installed header, with its module's prefix; none of the
# internals ("__"), nothing else (a resolver of a CPU-dispatched function
# goes with its function; ASan's one-definition markers of the exported
# objects, __odr_asan.NAME, come with the sanitizer build)
headers="tensor/tn.h autograd/ad.h nn/nn.h nn/train/*.h models/model.h models/compare.h"
for lib in tape tape-double; do
    so="$build/lib$lib.so"
    names=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TDBRVi]$/ {print $3}' | grep -v '^__odr_asan\.' |
            sed 's/\.resolver$//' | sort -u)
    bad=$(echo "$names" | grep -v -E '^(tn|ad|nn|model|vae|ae)_' ; echo "$names" | grep '__')
    for name in $names; do
        grep -q -E "^TN_API .*[^A-Za-z0-9_]$name(\(|\[|;| )" $headers || bad="$bad $name:not-declared-TN_API-in-a-header"
    done
    n=$(echo "$names" | grep -c .)
    if [ -n "$names" ] && [ -z "$bad" ]; then
        echo "ok   exported_symbols $lib: $n names, each declared TN_API, none internal"; passed=$((passed + 1))
    else
        echo "FAIL exported_symbols $lib:"; echo "$bad" | tr ' ' '\n' | grep . | head -5 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done

echo "== the house"
# no function of the library or the programs over 80 lines
if /usr/bin/python3 tests/function_lengths.py; then
    echo "ok   function_lengths"; passed=$((passed + 1))
else
    echo "FAIL function_lengths"; failed=$((failed + 1))
fi

echo "== install and build against it with pkg-config"
# as a user would: #include <tape/...>, pkg-config tape (float) or
# tape-double; a float program linked with the double library (or the
# reverse) must fail to link, not compute garbage
stage=$(mktemp -d)
san=$(case "$build" in *san*) echo -fsanitize=address,undefined,float-cast-overflow;; esac)
pc() { PKG_CONFIG_PATH="$stage/lib/pkgconfig" pkg-config "$@"; }
if make -s install PREFIX="$stage" BUILD="$build" > "$stage.log" 2>&1; then
    installed=1
else
    installed=0; cat "$stage.log"
fi
for lib in tape tape-double; do
    if [ $installed = 1 ] &&
       $cc -std=c11 -Wall -Wextra -pedantic -Werror -o "$stage/consumer-$lib" tests/consumer.c \
           $(pc --cflags --libs $lib) -lm $san > "$stage.log" 2>&1 &&
       LD_LIBRARY_PATH="$stage/lib" "$stage/consumer-$lib" > "$stage.log" 2>&1; then
        cat "$stage.log"; echo "ok   pkg_config_consumer $lib"; passed=$((passed + 1))
    else
        cat "$stage.log"; echo "FAIL pkg_config_consumer $lib"; failed=$((failed + 1))
    fi
done
if [ $installed = 1 ] && { [ -f "$TAPE_DATA/mnist/train-images-idx3-ubyte.gz" ] || [ -f "$TAPE_DATA/mnist/train-images-idx3-ubyte" ]; }; then
    if sh tests/tutorial.sh "$stage" "$cc" "$san" > "$stage.log" 2>&1; then
        tail -2 "$stage.log"; echo "ok   tutorial_compiles_trains_and_checks"; passed=$((passed + 1))
    else
        cat "$stage.log"; echo "FAIL tutorial_compiles_trains_and_checks"; failed=$((failed + 1))
    fi
elif [ "${TAPE_REQUIRE_DATA:-0}" = 1 ]; then
    echo "FAIL tutorial: no MNIST"; failed=$((failed + 1))
else
    echo "skip tutorial (no MNIST)"; skipped=$((skipped + 1))
fi
for pair in "tape tape-double tn_real_is_float" "tape-double tape tn_real_is_double"; do
    set -- $pair
    if [ $installed = 1 ] &&
       ! $cc -std=c11 -o "$stage/mixed" tests/consumer.c $(pc --cflags $1) \
           $(pc --libs $2) -lm $san > "$stage.log" 2>&1 &&
       grep -q "undefined reference to .$3" "$stage.log"; then
        echo "ok   mixed_link_fails $1 code with $2"; passed=$((passed + 1))
    else
        cat "$stage.log"; echo "FAIL mixed_link_fails $1 code with $2"; failed=$((failed + 1))
    fi
done
rm -rf "$stage" "$stage.log"

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]

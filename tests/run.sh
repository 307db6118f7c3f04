#!/bin/sh
# run.sh BUILD CC: runs the float and double test programs, then builds a
# program against the *installed* library with pkg-config, as users will;
# prints one closing line "N passed, N failed" over all of them.
build=$1
cc=${2:-cc}
passed=0 failed=0
count() { # adds the closing line of a runner's output
    line=$(tail -n 1 "$1")
    p=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
    f=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
    if [ -z "$p" ]; then
        echo "runner $2 ended without a summary (crashed?)"; failed=$((failed + 1))
    else
        passed=$((passed + p)); failed=$((failed + f))
    fi
}
for prec in float double; do
    echo "== tests, $prec build"
    "$build/test_$prec" > "$build/test_$prec.log" 2>&1
    cat "$build/test_$prec.log"
    count "$build/test_$prec.log" "$prec"
done

echo "== install and build against it with pkg-config"
stage=$(mktemp -d)
if make -s install PREFIX="$stage" BUILD="$build" > "$stage.log" 2>&1 &&
   PKG_CONFIG_PATH="$stage/lib/pkgconfig" \
   $cc -std=c11 -Wall -Wextra -pedantic -o "$stage/consumer" tests/consumer.c \
       $(PKG_CONFIG_PATH="$stage/lib/pkgconfig" pkg-config --cflags --libs tape) \
       $(case "$build" in *san*) echo -fsanitize=address,undefined;; esac) \
       >> "$stage.log" 2>&1 &&
   LD_LIBRARY_PATH="$stage/lib" "$stage/consumer" >> "$stage.log" 2>&1; then
    echo "ok   pkg_config_consumer"; passed=$((passed + 1))
else
    cat "$stage.log"; echo "FAIL pkg_config_consumer"; failed=$((failed + 1))
fi
rm -rf "$stage" "$stage.log"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

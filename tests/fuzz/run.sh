#!/bin/sh
# run.sh SECONDS TARGET...: runs each built harness build/fuzz/fuzz_TARGET
# for SECONDS from a scratch copy of its seed corpus; one line per harness
# (executions, coverage, corpus size) and "N passed, N failed, 0 skipped".
# A crash, a sanitizer report or a leak is a failure; its input is kept as
# build/fuzz/crash-TARGET-*.
secs=$1
shift
passed=0 failed=0
for t in "$@"; do
    rm -rf "build/fuzz/corpus-$t"
    cp -r "tests/fuzz/corpus/$t" "build/fuzz/corpus-$t"
    if "build/fuzz/fuzz_$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
           -timeout=20 -artifact_prefix="build/fuzz/crash-$t-" -print_final_stats=1 \
           "build/fuzz/corpus-$t" > "build/fuzz/$t.log" 2>&1; then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "build/fuzz/$t.log")
        cov=$(grep -o 'cov: [0-9]*' "build/fuzz/$t.log" | tail -n 1)
        echo "ok   fuzz_$t: $execs executions in $secs s, $cov edges, corpus $(ls "build/fuzz/corpus-$t" | wc -l) inputs"
        passed=$((passed + 1))
    else
        tail -n 30 "build/fuzz/$t.log"
        echo "FAIL fuzz_$t: a finding (input kept as build/fuzz/crash-$t-*)"
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]

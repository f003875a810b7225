#!/bin/sh
# run.sh [SECONDS]: fuzzes lexer + parser + checker for SECONDS (default 300), then
# folds what it found into the committed corpus and regressions.
#
#   1. seeds: tests/fuzz/corpus (the minimised corpus), every .cajal of stdlib/,
#      examples/ and tests/, and tests/fuzz/regressions
#   2. four fifths of the time with inputs up to 4 KB, one fifth up to 100 KB
#      (long lines, deep nesting, long chains); two workers running jobs of at
#      most 120 s (FUZZ_JOB_SECONDS) on a shared corpus, so a crash ends one job,
#      not the run, and no process lives long (the interpreter keeps every source
#      and name until exit: see fuzz_check.c)
#   3. -merge=1 of old corpus + new finds into an empty folder, which replaces
#      tests/fuzz/corpus: the smallest set with the same coverage
#   4. the new corpus is run once more with libFuzzer's leak check after every
#      input (off while fuzzing: it costs 40 ms an input here, see README.md)
#   5. crash-, timeout-, leak-, oom- and slow-unit- files go to tests/fuzz/regressions
# Regressions that still fail are listed first and are not used as seeds.
#
# Logs: build/fuzz/logs/DATE-short/ and DATE-long/ (fuzz-N.log, one per job).
# Each run appends "date seconds executions" to build/fuzz/executions; the last
# line printed is this run's total.
# Environment: FUZZ_JOBS (workers, default 2), FUZZ_JOB_SECONDS, FUZZ_LONG_SHARE (percent of the
# time with long inputs, default 20), FUZZ_FLAGS (more libFuzzer flags).
set -eu

cd "$(dirname "$0")/../.."
TOP=$(pwd)
SECONDS_TOTAL=${1:-300}
JOBS=${FUZZ_JOBS:-2}
JOB_SECONDS=${FUZZ_JOB_SECONDS:-120}
LONG_SHARE=${FUZZ_LONG_SHARE:-20}
FUZZER=build/fuzz/fuzz_check
HERE=tests/fuzz
WORK=build/fuzz/work
LOGS=build/fuzz/logs
ART=build/fuzz/artifacts/

if [ ! -x "$FUZZER" ]; then
    echo "run.sh: $FUZZER is missing; run: sh tests/fuzz/build.sh" >&2
    exit 1
fi
case "$SECONDS_TOTAL" in
    '' | *[!0-9]*) echo "run.sh: SECONDS must be a whole number, not '$SECONDS_TOTAL'" >&2; exit 2 ;;
esac

mkdir -p "$HERE/corpus" "$HERE/regressions" "$LOGS" "$ART"
rm -rf "$WORK"
mkdir -p "$WORK/corpus" "$WORK/seeds" "$WORK/merged"

# Seeds: copied flat (names made unique), so the fuzzer never writes into the tree.
# A regression that still crashes is left out: the fuzzer would only find it again.
n=0
for f in stdlib/*.cajal examples/*.cajal $(find tests -name '*.cajal' -not -path 'tests/fuzz/*' 2>/dev/null); do
    [ -f "$f" ] || continue
    n=$((n + 1))
    cp "$f" "$WORK/seeds/$n-$(basename "$f")"
done
still=0
for f in "$HERE"/regressions/*; do
    [ -f "$f" ] || continue
    if timeout 60 "$FUZZER" -timeout=10 -rss_limit_mb=3072 "$f" >"$WORK/one.log" 2>&1; then
        n=$((n + 1))
        cp "$f" "$WORK/seeds/$n-$(basename "$f")"
    else
        still=$((still + 1))
        echo "still fails: $f ($(grep -m1 -E '^SUMMARY|^fuzz_check: ' "$WORK/one.log" || echo 'no summary'))"
    fi
done
cp "$HERE"/corpus/* "$WORK/corpus/" 2>/dev/null || true

stamp=$(date +%Y%m%d-%H%M%S)
long=$((SECONDS_TOTAL * LONG_SHARE / 100))
short=$((SECONDS_TOTAL - long))

# fuzz SECONDS MAX_LEN NAME [flags]: one session of jobs of at most JOB_SECONDS,
# JOBS at a time, all sharing the working corpus; prints its executions. Short
# jobs bound memory (every source and name is kept until exit: fuzz_check.c)
# and let a crash end one job, not the session.
fuzz() {
    secs=$1
    max_len=$2
    name=$3
    shift 3
    [ "$secs" -gt 0 ] || { echo 0; return; }
    per=$JOB_SECONDS
    [ "$secs" -lt "$per" ] && per=$secs
    njobs=$(( (secs + per - 1) / per * JOBS ))
    dir="$TOP/$LOGS/$stamp-$name"
    mkdir -p "$dir"
    # shellcheck disable=SC2086
    (cd "$dir" && "$TOP/$FUZZER" -jobs="$njobs" -workers="$JOBS" -detect_leaks=0 \
        -max_total_time="$per" -max_len="$max_len" -timeout=10 -rss_limit_mb=3072 \
        -dict="$TOP/$HERE/cajal.dict" -artifact_prefix="$TOP/$ART" -print_final_stats=1 \
        "$@" ${FUZZ_FLAGS:-} "$TOP/$WORK/corpus" "$TOP/$WORK/seeds" >"$dir/main.log" 2>&1) || true
    # Each job ends with "stat::number_executed_units: N" (or dies first: then
    # its last "#N" progress line counts).
    total=0
    for log in "$dir"/fuzz-*.log; do
        [ -f "$log" ] || continue
        n=$(sed -n 's/^stat::number_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -1)
        [ -n "$n" ] || n=$(sed -n 's/^#\([0-9][0-9]*\)[^0-9:].*/\1/p' "$log" | tail -1)
        total=$((total + ${n:-0}))
    done
    echo "$total"
}

echo "fuzzing for $SECONDS_TOTAL s on $JOBS workers, in jobs of up to $JOB_SECONDS s ($short s up to 4 KB, $long s up to 100 KB)"
e1=$(fuzz "$short" 4096 short)
e2=$(fuzz "$long" 100000 long -len_control=0)
execs=$((e1 + e2))

# Minimise: everything the old corpus and this run cover, in as few files as possible.
"$FUZZER" -merge=1 -max_len=100000 -timeout=10 -rss_limit_mb=3072 \
    "$WORK/merged" "$HERE/corpus" "$WORK/corpus" "$WORK/seeds" >"$LOGS/$stamp-merge.log" 2>&1 || {
    echo "run.sh: the merge failed; see $LOGS/$stamp-merge.log (the corpus is unchanged)" >&2
    exit 1
}
if [ -n "$(ls "$WORK/merged")" ]; then
    rm -f "$HERE"/corpus/*
    cp "$WORK/merged"/* "$HERE/corpus/"
fi

# Leaks, input by input, over the new corpus (see "Leak checks" in README.md).
"$FUZZER" -runs=0 -detect_leaks=1 -max_len=100000 -timeout=10 -rss_limit_mb=3072 -artifact_prefix="$ART" \
    "$HERE/corpus" >"$LOGS/$stamp-leaks.log" 2>&1 || echo "run.sh: the leak pass failed; see $LOGS/$stamp-leaks.log"

found=0
for f in "$ART"crash-* "$ART"timeout-* "$ART"leak-* "$ART"oom-* "$ART"slow-unit-*; do
    [ -f "$f" ] || continue
    if [ ! -f "$HERE/regressions/$(basename "$f")" ]; then
        cp "$f" "$HERE/regressions/"
        found=$((found + 1))
        echo "new finding: $HERE/regressions/$(basename "$f")"
    fi
done

echo "$stamp $SECONDS_TOTAL $execs" >>build/fuzz/executions
echo "corpus: $(ls "$HERE/corpus" | wc -l) files; new regressions: $found; regressions that still fail: $still; logs: $LOGS/$stamp-*"
echo "executions: $execs"

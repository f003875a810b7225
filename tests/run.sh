#!/bin/sh
# run.sh BUILD [FLOAT_BUILD]: runs every test and ends with "N passed, N failed".
#
# Folders (STYLE.md section 7):
#   tests/unit/     C unit tests, built as BUILD/tests/test_* (and FLOAT_BUILD's)
#   tests/lang/     golden scripts; tests/errors/: one script per error message
#   tests/stdlib/   the standard library's models reproduce their papers' results
#   tests/cli/, tests/repl/   shell scripts driving the command line and the REPL
#
# A golden script states what it expects beside the line that produces it:
#   print 40 + 2          # expect: 42
#   let x = 10ms + 2mV    # error: 1:9: cannot add a voltage (mV) to a time (ms)
# stdout must equal the `expect:` texts in order (or the sibling NAME.out), and
# the error lines on stderr must equal the `error:` texts in order (or NAME.err).
# `# args: ...` passes arguments; `# exit: N` sets the expected status (default:
# 1 when errors are expected, else 0). Scripts run from their own folder.
set -u
BUILD=${1:-build/double}
FLOAT=${2:-}
TOP=$(cd "$(dirname "$0")/.." && pwd)
CAJAL="$TOP/cajal"
case "$BUILD" in *-san) CAJAL="$TOP/$BUILD/cajal" ;; esac
export CAJAL TOP
export CAJAL_HISTORY=/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM
passed=0
failed=0
failures=""

pass() { passed=$((passed + 1)); }
fail() {
    failed=$((failed + 1))
    failures="$failures $1"
    echo "FAIL $1"
    [ -s "$TMP/why" ] && sed 's/^/    /' "$TMP/why" | head -40
}

# Golden script: expectations from comments, or sibling .out/.err files.
run_script() {
    f=$1
    dir=$(dirname "$f")
    base=$(basename "$f" .cajal)
    args=$(sed -n 's/.*# args: //p' "$f" | head -1)
    want_exit=$(sed -n 's/.*# exit: //p' "$f" | head -1)
    (cd "$dir" && eval "\"$CAJAL\" $args \"$base.cajal\"" >"$TMP/out" 2>"$TMP/err" </dev/null)
    status=$?
    : >"$TMP/why"
    if [ -f "$dir/$base.out" ]; then
        cp "$dir/$base.out" "$TMP/want_out"
    else
        sed -n 's/.*# expect: //p' "$f" >"$TMP/want_out"
    fi
    if [ -f "$dir/$base.err" ]; then
        cp "$dir/$base.err" "$TMP/want_err"
        cp "$TMP/err" "$TMP/got_err"
    else
        sed -n 's/.*# error: //p' "$f" | sed "s|^|$base.cajal:|; s|: \([^0-9]\)|: error: \1|" >"$TMP/want_err"
        grep -E '^[^ ]+:[0-9]+:[0-9]+: error: |^cajal: error: ' "$TMP/err" >"$TMP/got_err"
    fi
    if [ -z "$want_exit" ]; then
        if [ -s "$TMP/want_err" ]; then want_exit=1; else want_exit=0; fi
    fi
    ok=1
    if ! cmp -s "$TMP/want_out" "$TMP/out"; then
        ok=0
        echo "stdout differs (- expected, + actual):" >>"$TMP/why"
        diff "$TMP/want_out" "$TMP/out" >>"$TMP/why"
    fi
    if ! cmp -s "$TMP/want_err" "$TMP/got_err"; then
        ok=0
        echo "errors differ (- expected, + actual):" >>"$TMP/why"
        diff "$TMP/want_err" "$TMP/got_err" >>"$TMP/why"
    fi
    if [ "$status" != "$want_exit" ]; then
        ok=0
        echo "exit status $status, expected $want_exit; stderr:" >>"$TMP/why"
        head -20 "$TMP/err" >>"$TMP/why"
    fi
    if grep -q -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/err"; then
        ok=0
        grep -A20 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$TMP/err" | head -30 >>"$TMP/why"
    fi
    if [ $ok = 1 ]; then pass; else fail "$f"; fi
}

run_program() {
    : >"$TMP/why"
    if "$@" >"$TMP/why" 2>&1; then pass; else fail "$*"; fi
}

now() { date +%s.%N 2>/dev/null || date +%s; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

folder() {
    name=$1
    shift
    start=$(now)
    before=$((passed + failed))
    "$@"
    echo "  $name: $((passed + failed - before)) tests in $(elapsed "$start") s"
}

unit_tests() {
    for b in "$TOP/$BUILD"/tests/test_* ${FLOAT:+"$TOP/$FLOAT"/tests/test_*}; do
        [ -x "$b" ] || continue
        run_program "$b"
    done
}

scripts_in() {
    for f in "$TOP"/tests/$1/*.cajal; do
        [ -f "$f" ] || continue
        run_script "$f"
    done
}

shell_tests() {
    for f in "$TOP"/tests/$1/*.sh; do
        [ -f "$f" ] || continue
        run_program sh "$f"
    done
}

echo "tests ($BUILD${FLOAT:+ and $FLOAT}):"
cd "$TOP" || exit 1
folder unit unit_tests
folder lang scripts_in lang
folder errors scripts_in errors
folder cli shell_tests cli
folder repl shell_tests repl
folder stdlib scripts_in stdlib
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]

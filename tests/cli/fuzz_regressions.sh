#!/bin/sh
# fuzz_regressions.sh: every input the fuzzer (or a person) found bad stays a test.
#
# Runs `cajal --check FILE` and `cajal < FILE` (the REPL reading a pipe) on every
# file in tests/fuzz/regressions, and on inputs too big to commit, made here:
# 10 MB lines, 100,000-deep ( [ { and unary minus and a^a^..., a+a+... with
# 1,000,000 terms, plus a missing file and a directory. A run fails when it is
# killed by a signal, takes more than 10 s, exits with a status other than 0, 1
# or 2, or prints a sanitizer report. $CAJAL picks the binary (tests/run.sh sets
# it to the sanitized one under SANITIZE=1); the default is ./cajal. A sanitized
# binary (a path with "-san") runs 3 to 5 times slower, so it gets 30 s;
# FUZZ_REGRESSION_LIMIT sets the limit in seconds.
. "$(dirname "$0")/../lib.sh"
export CAJAL_HISTORY=/dev/null
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
case "$CAJAL" in *-san*) LIMIT=${FUZZ_REGRESSION_LIMIT:-30} ;; *) LIMIT=${FUZZ_REGRESSION_LIMIT:-10} ;; esac

if [ ! -x "$CAJAL" ]; then
    echo "fuzz_regressions.sh: $CAJAL is missing; run make" >&2
    exit 1
fi

# repeat TEXT COUNT: TEXT written COUNT times, no newline.
repeat() { yes "$1" | head -n "$2" | tr -d '\n'; }

big=$tmp/big
mkdir -p "$big"
{ printf 'print '; repeat '(' 100000; printf '1'; repeat ')' 100000; echo; } >"$big/deep-paren.cajal"
{ printf 'print '; repeat '[' 100000; printf '1'; repeat ']' 100000; echo; } >"$big/deep-bracket.cajal"
{ printf 'neuron A() '; repeat '{' 100000; repeat '}' 100000; echo; } >"$big/deep-brace.cajal"
repeat '(' 100000 >"$big/deep-open-only.cajal"
{ printf 'print '; repeat '-' 100000; echo 1; } >"$big/deep-unary-minus.cajal"
{ printf 'print '; repeat 'not ' 100000; echo 1; } >"$big/deep-not.cajal"
{ printf 'let a = 2\nprint '; repeat 'a^' 100000; echo a; } >"$big/deep-power.cajal"
{ printf 'let a = 2\nprint '; repeat 'a+' 1000000; echo a; } >"$big/chain-plus-1e6.cajal"
{ printf 'let a = 2\nlet b = '; repeat 'a*' 1000000; echo a; } >"$big/chain-times-1e6.cajal"
{ printf '# '; head -c 10485760 /dev/zero | tr '\0' 'x'; echo; } >"$big/line-10mb-comment.cajal"
{ printf 'print '; head -c 10485760 /dev/zero | tr '\0' 'x'; echo; } >"$big/line-10mb-name.cajal"
{ printf 'print "'; head -c 10485760 /dev/zero | tr '\0' 'x'; echo; } >"$big/line-10mb-string.cajal"
{ printf 'let a = 1ms + 1mV'; head -c 10485760 /dev/zero | tr '\0' ' '; echo; } >"$big/line-10mb-error.cajal"
head -c 10485760 /dev/zero >"$big/nul-10mb.cajal"

passed=0

# check NAME CMD...: runs CMD with a time limit and judges how it ended.
check() {
    name=$1
    shift
    timeout -k 5 "$LIMIT" "$@" >"$tmp/out" 2>"$tmp/err"
    status=$?
    why=""
    case $status in
        0 | 1 | 2) ;;
        124 | 137) why="took more than $LIMIT s" ;;
        *) why="exit status $status" ;;
    esac
    [ $status -gt 128 ] && [ $status != 137 ] && why="killed by signal $((status - 128))"
    if grep -q -E 'AddressSanitizer|LeakSanitizer|MemorySanitizer|runtime error:' "$tmp/err"; then
        why="${why:+$why; }sanitizer report"
    fi
    if [ -z "$why" ]; then
        passed=$((passed + 1))
        return
    fi
    failed=$((failed + 1))
    echo "FAIL $name: $why"
    grep -m1 -A12 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err" | sed 's/^/    /' | cut -c1-200
}

for f in "$TOP"/tests/fuzz/regressions/* "$big"/*; do
    [ -f "$f" ] || continue
    rel=${f#"$TOP"/}
    case "$f" in "$big"/*) rel="(made) $(basename "$f")" ;; esac
    check "cajal --check $rel" "$CAJAL" --check "$f"
    check "cajal < $rel" sh -c '"$1" <"$2"' sh "$CAJAL" "$f"
done
check "cajal --check (missing file)" "$CAJAL" --check "$tmp/no-such-file.cajal"
check "cajal --check (a directory)" "$CAJAL" --check "$TOP/tests"
check "cajal (a directory as script)" "$CAJAL" "$TOP/tests"

echo "fuzz regressions: $passed passed, $failed failed"
[ $failed = 0 ]

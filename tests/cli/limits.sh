#!/bin/sh
# Limits that keep bad input from crashing cajal or flooding the screen:
# bracket nesting, expression nesting and length, parser stack, and the error cap.
. "$(dirname "$0")/../lib.sh"

cd "$tmp" || exit 1
# repeat TEXT N: TEXT N times, without a newline
repeat() { awk -v s="$1" -v n="$2" 'BEGIN { for (i = 0; i < n; i++) printf "%s", s }'; }

# Brackets deeper than 256 levels: one error at the 257th opener, no crash;
# 256 levels are fine (docs/language.md).
{ printf 'let a = '; repeat '(' 256; printf 1; repeat ')' 256; printf '\nprint a\n'; } >nest256.cajal
run 0 nest256.cajal
out <<'X'
1
X
{ printf 'let a = '; repeat '(' 257; printf 1; repeat ')' 257; printf '\nprint 1\n'; } >nest257.cajal
run 1 nest257.cajal
grep 'error:' "$tmp/err" >"$tmp/errs"
same errs <<'X'
nest257.cajal:1:265: error: nesting deeper than 256 levels
X
{ printf 'population E = Rate(2) '; repeat '{' 300; printf '\n'; } >braces.cajal
run 1 braces.cajal
grep 'nesting' "$tmp/err" >"$tmp/errs"
same errs <<'X'
braces.cajal:1:280: error: nesting deeper than 256 levels
X
# 100,000 levels: the parser's own stack has a limit too; the one problem is
# reported once, and the let's later use is not reported again.
{ printf 'let a = '; repeat '(' 100000; printf 1; repeat ')' 100000; printf '\nprint a\n'; } >nest100k.cajal
run 1 nest100k.cajal
grep 'error:' "$tmp/err" >"$tmp/errs"
same errs <<'X'
nest100k.cajal:1:265: error: nesting deeper than 256 levels
X

# An expression nested deeper than 256 levels is an error, not a deep
# recursion: the statement is reported once and dropped, so nothing walks it.
# A flat chain of a left-associative operator is one level, however long.
{ printf 'let a = 1'; repeat '+1' 1000; printf '\nprint a == 1001\nprint '; repeat '2*' 1000; printf '1 > 0\n'; } >flat.cajal
run 0 flat.cajal
out <<'X'
1
1
X
{ printf 'let a = '; repeat '-' 2500; printf '1\nprint a\n'; } >unary.cajal
run 1 unary.cajal
grep 'error:' "$tmp/err" >"$tmp/errs"
same errs <<'X'
unary.cajal:1:2252: error: expression nested deeper than 256 levels
X
{ printf 'let a = '; repeat '2^' 257; printf '1\n'; } >pow.cajal
run 1 pow.cajal
grep 'error:' "$tmp/err" >"$tmp/errs"
same errs <<'X'
pow.cajal:1:9: error: expression nested deeper than 256 levels
X
# Arguments and list items count: 200 nested calls of 100-term sums are deep.
{ printf 'let a = '; repeat 'abs(1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+1+' 200; printf 1; repeat ')' 200; printf '\n'; } >deepcalls.cajal
run 1 deepcalls.cajal
grep -c 'error:' "$tmp/err" >"$tmp/count"
same count <<'X'
1
X
# A chain longer than 1024 operators is too long for the walkers' recursion
# (20,000 levels in a let, a print, a neuron's body and an expression
# statement, whether run, checked or dumped): one error each, no crash.
{ printf 'let a = 1'; repeat '+1' 1025; printf '\n'; } >long.cajal
run 1 long.cajal
grep 'error:' "$tmp/err" >"$tmp/errs"
same errs <<'X'
long.cajal:1:9: error: expression too long: more than 1024 operators in a row; split it into lets
X
{ printf 'let a = 1'; repeat '+1' 20000; printf '\n'; } >d1.cajal
{ printf 'print 1'; repeat '+1' 20000; printf '\n'; } >d2.cajal
{ printf 'neuron N() {\n  r = 1'; repeat '+1' 20000; printf '\n}\n'; } >d3.cajal
{ printf 'print [1][0'; repeat '+0' 20000; printf ']\n'; } >d4.cajal
for f in d1 d2 d3 d4; do
    for how in "" --check --dump-ast; do
        run 1 $how $f.cajal
        grep -c 'expression too long: more than 1024 operators' "$tmp/err" >"$tmp/count"
        same count <<'X'
1
X
    done
done

# A file reports up to 20 errors, then counts the rest.
awk 'BEGIN { for (i = 1; i <= 25; i++) printf "print zz%d\n", i }' >many.cajal
run 1 many.cajal
grep -c 'error:' "$tmp/err" >"$tmp/count"
same count <<'X'
20
X
tail -n 1 "$tmp/err" >"$tmp/last"
same last <<'X'
cajal: 5 more errors not shown
X
awk 'BEGIN { for (i = 1; i <= 21; i++) printf "print zz%d\n", i }' >many21.cajal
run 1 many21.cajal
tail -n 1 "$tmp/err" >"$tmp/last"
same last <<'X'
cajal: 1 more error not shown
X
[ "$failed" = 0 ]

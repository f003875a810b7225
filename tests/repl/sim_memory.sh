#!/bin/sh
# A network too large for memory, declared in a REPL session that has already
# run: the error names the tensor and its size, and comes once, before anything
# is allocated. The session goes on: the weights, recording and state computed
# before are still there, and the next run works.
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/session.txt" <<'X'
let N = 3
population E = Rate(N) { init x = 1 }
synapse J: E -> E { w = 0.5 }
simulate for 2 steps dt 1ms record E.x
print E.x[0]
population Big = Rate(3000000)
synapse B: Big -> Big { w = 0 }
print J.w[0, 0]
print E.x[0]
simulate for 1 steps dt 1ms continue
print E.x[0]
X
(cd "$tmp" && "$CAJAL" <session.txt >out 2>err)

# x = 1, then 1 + 0.1 (-1 + 3 * 0.5 tanh(1)) = 1.014, 1.028 at the end of the run,
# and 1.041 after one more step
cat >"$tmp/want_out" <<'X'
E.x[0] [2, 1]: mean 1.007  std 0.00712  min 1  max 1.014
  1
  1.014
0.5
E.x[0] [2, 1]: mean 1.007  std 0.00712  min 1  max 1.014
  1
  1.014
1.041
X
if ! cmp -s "$tmp/want_out" "$tmp/out"; then
    fail "stdout differs (- expected, + actual)"
    diff "$tmp/want_out" "$tmp/out" | sed 's/^/    /' | head -30
fi
n=$(grep -c "error: B.w of \[3000000, 3000000\] needs 72.0 TB" "$tmp/err")
if [ "$n" != 1 ]; then
    fail "the error for B.w came $n times, expected once; the errors were:"
    grep error "$tmp/err" | sed 's/^/    /' | head -10
fi
other=$(grep -c "error:" "$tmp/err")
[ "$other" = 1 ] || fail "$other errors in all, expected 1"
[ "$failed" = 0 ] && echo "memory check in the REPL: ok"
[ "$failed" = 0 ]

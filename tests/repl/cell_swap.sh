#!/bin/sh
# The lecture's one-token swap, typed into one REPL session (stdin piped): an
# LSTM cell is declared, wired, trained and evaluated; then only the cell is
# declared again with `z * i` changed to `z - i` (subtractive gating, Costa et
# al. 2017). The REPL says which declaration the new cell replaces; the next
# evaluate runs the new cell without the population, synapse, cost or weights
# being typed again (every weight keeps its value: none is re-initialised), so
# its loss differs from the first; training and evaluating go on working.
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/session.txt" <<'X'
cell LSTM(n) {
  state h[n], c[n]
  out h
  gate i = sigmoid(affine(in, h))
  gate f = sigmoid(affine(in, h))
  z = tanh(affine(in, h))
  gate o = sigmoid(affine(in, h))
  c' = c * f + z * i
  h' = tanh(c') * o
}
seed 1
input u[2]
output y[1]
population L = LSTM(8) from u
synapse L -> y { w ~ normal(0, 0.1); learn }
cost fit = mse(y, target)
train on adding(T = 10) with adam(lr = 1e-2) batch 16 steps 20
evaluate on adding(T = 10) batch 64
cell LSTM(n) {
  state h[n], c[n]
  out h
  gate i = sigmoid(affine(in, h))
  gate f = sigmoid(affine(in, h))
  z = tanh(affine(in, h))
  gate o = sigmoid(affine(in, h))
  c' = c * f + z - i
  h' = tanh(c') * o
}
evaluate on adding(T = 10) batch 64
train on adding(T = 10) with adam(lr = 1e-2) batch 16 steps 20
evaluate on adding(T = 10) batch 64
X
(cd "$tmp" && "$CAJAL" <session.txt >out.txt 2>err.txt)
status=$?
[ "$status" = 0 ] || fail "exit status $status, expected 0"
grep -q -F "cell 'LSTM' replaces the one declared at <stdin>:1" "$tmp/err.txt" || fail "no replacement message"
grep -q -E "error:|re-initialised" "$tmp/err.txt" && fail "errors or re-initialised weights: $(grep -E 'error:|re-initialised' "$tmp/err.txt")"
n=$(grep -c '^evaluate: loss=' "$tmp/out.txt")
[ "$n" = 3 ] || fail "$n evaluate lines, expected 3"
before=$(sed -n '1s/^evaluate: loss=\([^ ]*\).*/\1/p' "$tmp/out.txt")
after=$(sed -n '2s/^evaluate: loss=\([^ ]*\).*/\1/p' "$tmp/out.txt")
[ -n "$before" ] && [ "$before" != "$after" ] || fail "the swapped cell did not run: loss $before before, $after after"
grep -q -E 'nan|inf' "$tmp/out.txt" && fail "a loss is not finite"
if [ "$failed" != 0 ]; then
    sed 's/^/    out | /' "$tmp/out.txt"
    grep -v '^train:' "$tmp/err.txt" | sed 's/^/    err | /'
    exit 1
fi
echo "cell swap: ok"

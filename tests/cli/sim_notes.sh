#!/bin/sh
# Notes and located errors of simulate whose text goes beyond the `error:` line
# a golden script can state: the note that says which population a model's
# equation failed in, ...
. "$(dirname "$0")/../lib.sh"

# A coefficient of a derivative found to be 0 only by the run: the error is at
# the model's equation, and a note names the population that uses it.
cat >"$tmp/coef.cajal" <<'X'
neuron N(a = 1ms, b = 1ms) {
  (a - b) * dx/dt = -x
}
population E = N(2)
simulate for 1ms
X
run 1 "$tmp/coef.cajal"
sed "s|$tmp/||" "$tmp/err" >"$tmp/err2" && mv "$tmp/err2" "$tmp/err"
err <<'X'
coef.cajal:2:3: error: this coefficient of the derivative is 0
   2 |   (a - b) * dx/dt = -x
     |   ^^^^^^^
coef.cajal:4:1: note: in population E
   4 | population E = N(2)
     | ^^^^^^^^^^^^^^^^^^^
X

[ "$failed" = 0 ]

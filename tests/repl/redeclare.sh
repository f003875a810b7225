#!/bin/sh
# Declaring again a population or input that synapses and cells read, typed
# into one REPL session (stdin piped). A synapse takes the new sizes (and says
# it re-initialised its weights); a name that stops being a population (a let,
# a neuron) is an error at the synapse that reads it, the entry is undone, and
# the session goes on with the old declaration. Before, the synapse kept a
# pointer to the replaced declaration: wrong sizes, or a crash.
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/session.txt" <<'X'
import "lstm"
population E = Rate(4)
synapse J: E -> E { w = 0.5 }
let E = 5
neuron E(tau = 1ms) {
  tau * dx/dt = -x
}
print sum(J.w)
population E = Rate(3)
print sum(J.w)
input u[2]
population L = LSTM(3) from u
let u = 2
input u[4]
simulate for 2 steps dt 1ms with u = 1
print sum(L.f.W_in ^ 0)
:names
X
(cd "$tmp" && "$CAJAL" <session.txt >out.txt 2>err.txt)
status=$?
[ "$status" = 1 ] || fail "exit status $status, expected 1 (the session had errors, and ended)"
cat >"$tmp/want_out" <<'X'
8
4.5
12
X
grep -v '^  ' "$tmp/out.txt" >"$tmp/got_out"
cmp -s "$tmp/want_out" "$tmp/got_out" || fail "printed values differ: $(tr '\n' ' ' <"$tmp/got_out")"
grep -q -F "<stdin>:3:12: error: 'E' is a let, not a population" "$tmp/err.txt" || fail "no error for E as a let"
grep -q -F "<stdin>:3:12: error: 'E' is a neuron, not a population" "$tmp/err.txt" || fail "no error for E as a neuron"
grep -q -F "note: synapse J reads E, declared again at line 4" "$tmp/err.txt" || fail "no note naming the redeclaration"
grep -q -F "<stdin>:12:29: error: a cell reads inputs or populations; 'u' is a let" "$tmp/err.txt" || fail "no error for u as a let"
grep -q -F "re-initialised J.w" "$tmp/err.txt" || fail "J.w not re-initialised for the new size"
grep -q -F "synapse J          E -> E, w [3, 3] dense" "$tmp/out.txt" || fail ":names does not show J.w as [3, 3]"
if [ "$failed" != 0 ]; then
    sed 's/^/    out | /' "$tmp/out.txt"
    sed 's/^/    err | /' "$tmp/err.txt"
    exit 1
fi
echo "redeclare: ok"

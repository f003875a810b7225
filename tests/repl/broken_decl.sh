#!/bin/sh
# A cell typed with a mistake, then used a few lines later in the same REPL
# session (stdin piped): the failed entry was rolled back, so the cell is
# unknown, and the population says where its declaration failed; the session
# goes on. The REPL rolls a failed line's memory back, so what the checker
# keeps of the failed declaration must not live there (it once did, and this
# crashed). A neuron the same, and :names shows no ghost of either. In a file,
# checked as a whole, the use says the declaration has errors (tests/errors).
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/session.txt" <<'X'
cell C(n) {
  state h[n], c[n]
  out h
  h' = tanh(affine(in, h))
}
let a = 1
let q = [1, 2, 3, 4, 5, 6, 7, 8]
input u[2]
population L = C(4) from u
cell C(n) {
  state h[n]
  out h
  h' = tanh(affine(in, h))
}
population L = C(4) from u
print a + 1
neuron X(tau = 1ms) {
  tau * dx/dt = -x + nope
}
population P = X(2)
:names
X
(cd "$tmp" && "$CAJAL" <session.txt >out 2>err)
status=$?
[ "$status" = 1 ] || fail "broken_decl.sh: exit status $status, expected 1 (the session had errors, and ended)"
grep -q "^<stdin>:9:16: error: unknown cell 'C': its declaration (line 1) had errors and was not kept" "$tmp/err" ||
    fail "broken_decl.sh: no located error naming the failed cell declaration; stderr:$(sed 's/^/    /' "$tmp/err")"
grep -q "^<stdin>:20:16: error: unknown neuron model 'X': its declaration (line 17) had errors and was not kept" "$tmp/err" ||
    fail "broken_decl.sh: no located error naming the failed neuron declaration; stderr:$(sed 's/^/    /' "$tmp/err")"
[ "$(grep -c error "$tmp/err")" = 4 ] ||
    fail "broken_decl.sh: expected 4 errors (the cell, its use, the neuron, its use); stderr:$(sed 's/^/    /' "$tmp/err")"
printf '2\n  let a              = 1\n  let q              = [1, 2, 3, 4, 5, 6, 7, 8]\n  input      u       [2]\n  cell       C\n  population L       C, 4 neurons\n' >"$tmp/want"
cmp -s "$tmp/want" "$tmp/out" || fail "broken_decl.sh: the session did not go on, or :names shows a failed declaration (stdout: $(cat "$tmp/out"))"
exit $((failed > 0))

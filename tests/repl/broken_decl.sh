#!/bin/sh
# A cell typed with a mistake, then used a few lines later in the same REPL
# session (stdin piped): the population says the cell's declaration failed and
# where, rather than "unknown neuron model", and the session goes on. The
# REPL rolls a failed line's memory back, so what the checker keeps of the
# failed declaration must not live there (it once did, and this crashed).
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
X
(cd "$tmp" && "$CAJAL" <session.txt >out 2>err)
status=$?
[ "$status" = 1 ] || fail "broken_decl.sh: exit status $status, expected 1 (the session had errors, and ended)"
grep -q "^<stdin>:9:16: error: cell 'C' cannot be used: its declaration (line 1) has errors" "$tmp/err" ||
    fail "broken_decl.sh: no located error naming the failed declaration; stderr:$(sed 's/^/    /' "$tmp/err")"
[ "$(grep -c error "$tmp/err")" = 2 ] || fail "broken_decl.sh: expected 2 errors (the cell, its use); stderr:$(sed 's/^/    /' "$tmp/err")"
[ "$(cat "$tmp/out")" = 2 ] || fail "broken_decl.sh: the session did not go on after the errors (stdout: $(cat "$tmp/out"))"
exit $((failed > 0))

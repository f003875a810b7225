#!/bin/sh
# load checks what a file holds against the synapse it goes into: under Dale's
# law w holds magnitudes, so a negative value is an error naming the synapse and
# its sign (and an .npz with one changes nothing); a sparse pattern, a mask or
# no_self keeps only its connections, and a note counts the values dropped.
. "$(dirname "$0")/../lib.sh"
cd "$tmp" || exit 1

cat >make.cajal <<'X'
population E = Rate(4)
synapse M: E -> E { w = -1 }
synapse P: E -> E { w = 1 }
save M.w to "neg.npy"
save P.w to "ones.npy"
X
run 0 make.cajal

cat >sign.cajal <<'X'
population E = Rate(4)
synapse K: E -> E { w = 0.5; sign - }
load "neg.npy" into K.w
X
run 1 sign.cajal
err <<'X'
sign.cajal:3:1: error: K.w in 'neg.npy' has 16 negative or NaN values; synapse K has sign -, so K.w holds magnitudes (>= 0)
   3 | load "neg.npy" into K.w
     | ^^^^^^^^^^^^^^^^^^^^^^^
hint: the effective weight is -K.w; save writes and load reads w itself
X

# From an .npz every array is checked before any is loaded: the error leaves
# P.w as it was (the REPL goes on after it).
cat >pk.cajal <<'X'
population E = Rate(4)
synapse P: E -> E { w = 1 }
synapse K: E -> E { w = -1 }
save "pk.npz"
X
run 0 pk.cajal
printf '%s\n' 'population E = Rate(4)' 'synapse P: E -> E { w = 0.25 }' 'synapse K: E -> E { w = 0.5; sign + }' \
    'load "pk.npz"' 'print P.w[0, 0], K.w[0, 0]' >pk.in
what="cajal < pk.in"
"$CAJAL" <pk.in >out 2>err
grep error: err >err2 && mv err2 err
err <<'X'
<stdin>:4:1: error: K.w in 'pk.npz' has 16 negative or NaN values; synapse K has sign +, so K.w holds magnitudes (>= 0)
X
out <<'X'
0.25
0.5
X

# Sparse (p), dense with a mask (p near 1) and no_self keep their connections.
cat >drop.cajal <<'X'
seed 3
population E = Rate(4)
synapse S: E -> E { w = 0.5; p = 0.3 }
synapse D: E -> E { w = 0.5; p = 0.9 }
synapse N: E -> E { w = 0.5; no_self }
synapse F: E -> E { w = 0.5 }
load "ones.npy" into S.w
load "ones.npy" into D.w
load "ones.npy" into N.w
load "ones.npy" into F.w
print sum(S.w), sum(D.w), sum(N.w), sum(F.w)
X
run 0 drop.cajal
err <<'X'
note: 11 of the 16 nonzero values in 'ones.npy' fall outside S.w's connections (p) and are dropped
note: 2 of the 16 nonzero values in 'ones.npy' fall outside D.w's connections (p) and are dropped
note: 4 of the 16 nonzero values in 'ones.npy' fall outside N.w's connections (no_self) and are dropped
X
out <<'X'
5
14
12
16
X

[ "$failed" = 0 ]

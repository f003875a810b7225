#!/bin/sh
# :names shows each synapse's weights with the shape and storage that print
# and save show: a one-to-one synapse stores its diagonal, [n].
. "$(dirname "$0")/../lib.sh"

printf '%s\n' 'population A = Rate(4)' 'synapse O: A -> A { w = 2; one_to_one }' 'synapse J: A -> A { w = 1 }' \
    'synapse L: A -> A lowrank(1) { m = 1; n = 1 }' ':names' 'print O.w' >"$tmp/in"
what="cajal < names"
"$CAJAL" <"$tmp/in" >"$tmp/out" 2>"$tmp/err"
out <<'X'
  population A       Rate, 4 neurons
  synapse O          A -> A, w [4] one_to_one
  synapse J          A -> A, w [4, 4] dense
  synapse L          A -> A, w low rank 1: m [4, 1], n [4, 1]
O.w [4]: mean 2  std 0  min 2  max 2
  2 2 2 2
X
err </dev/null

[ "$failed" = 0 ]

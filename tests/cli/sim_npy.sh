#!/bin/sh
# save writes what numpy.save writes, byte for byte, and load reads it back.
# The targets were written by NumPy (fixtures/sim/gen_sim.py): a [3, 4] weight
# matrix loaded into a synapse and saved again, and a recording [time, batch, n]
# whose values are exact (0.5^k), with its sample times. In an .npz the members
# are stored uncompressed, so each must appear in it whole. (This is the double
# build; tests/unit/test_engine.c checks the float build against w34_f4.npy.)
. "$(dirname "$0")/../lib.sh"
FX=$TOP/fixtures/sim
run() {
    if ! (cd "$tmp" && "$CAJAL" "$@" >out 2>err </dev/null); then
        fail "cajal $*: exit status not 0"
        sed 's/^/    /' "$tmp/err" | head -10
    fi
}
hex() { od -An -v -tx1 "$1" | tr -d ' \n'; }
# inside ARCHIVE MEMBER: the member's bytes occur in the archive, at a byte boundary.
inside() {
    hex "$1" | sed 's/../& /g' >"$tmp/archive.hex"
    hex "$2" | sed 's/../& /g' >"$tmp/member.hex"
    grep -q -F -f "$tmp/member.hex" "$tmp/archive.hex"
}

cat >"$tmp/w.cajal" <<X
population A = Rate(4)
population B = Rate(3)
synapse J: A -> B { w = 0 }
load "$FX/w34.npy" into J.w
save J.w to "J.npy"
save "net.npz"
X
run w.cajal
cmp -s "$tmp/J.npy" "$FX/w34.npy" || fail "save J.w to \"J.npy\" differs from numpy.save's w34.npy"
inside "$tmp/net.npz" "$FX/w34.npy" || fail "net.npz does not hold w34.npy's bytes as J.w"

# back again: the .npz into a fresh model, saved as .npy, is still NumPy's file
cat >"$tmp/back.cajal" <<X
population A = Rate(4)
population B = Rate(3)
synapse J: A -> B { w = 1 }
load "net.npz"
save J.w to "back.npy"
print J.w[1, 2]
X
run back.cajal
cmp -s "$tmp/back.npy" "$FX/w34.npy" || fail "net.npz loaded and saved again differs from w34.npy"
[ "$(cat "$tmp/out")" = "0.657" ] || fail "J.w[1, 2] after load is $(cat "$tmp/out"), not 0.657"

# a recording, rank 3: tau = 1 s, dt = 0.5 s halves x each step, exactly
cat >"$tmp/rec.cajal" <<'X'
neuron Decay(tau = 1s) {
  tau * dx/dt = -x
}
population P = Decay(3) { init x = 1 }
simulate for 5 steps dt 0.5s batch 2 record P.x
save P.x to "halves.npy"
save "run.npz"
X
run rec.cajal
cmp -s "$tmp/halves.npy" "$FX/halves.npy" || fail "save P.x to \"halves.npy\" differs from numpy.save's"
inside "$tmp/run.npz" "$FX/halves.npy" || fail "run.npz does not hold halves.npy's bytes as P.x"
inside "$tmp/run.npz" "$FX/halves_time.npy" || fail "run.npz does not hold halves_time.npy's bytes as time"
grep -q -a -F "P.x.npy" "$tmp/run.npz" || fail "run.npz has no member P.x.npy"
grep -q -a -F "time.npy" "$tmp/run.npz" || fail "run.npz has no member time.npy"

# the same arrays give the same archive, byte for byte (fixed timestamps)
mv "$tmp/run.npz" "$tmp/run1.npz"
run rec.cajal
cmp -s "$tmp/run.npz" "$tmp/run1.npz" || fail "two saves of the same run differ"

# the checker can fail: a different value is not found
printf '\223NUMPY' >"$tmp/not.npy"
cat "$FX/halves.npy" >>"$tmp/not.npy"
inside "$tmp/run.npz" "$tmp/not.npy" && fail "inside() found bytes that are not there"

[ "$failed" = 0 ] && echo "npy files as NumPy writes them: ok"
[ "$failed" = 0 ]

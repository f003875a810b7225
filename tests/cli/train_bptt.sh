#!/bin/sh
# Truncated BPTT from a script: `bptt K` with K at least the trial's T steps is
# full backpropagation through time, so the gradients `save grads` writes are
# the same bytes as without the clause; a shorter window changes them. (The
# gradient a shorter window gives is checked against finite differences of each
# chunk's loss in tests/unit/test_training.c.)
. "$(dirname "$0")/../lib.sh"

# grads NAME CLAUSE: one step of training on T = 40 with CLAUSE; writes NAME.npz
grads() {
    cat >"$tmp/$1.cajal" <<X
seed 3
input u[3]
output z[3]
population H = Rate(16, tau = 10ms)
synapse Win: u -> H { w ~ normal(0, 1); learn }
synapse J: H -> H { w ~ normal(0, 1.2 / sqrt(16)); learn }
synapse Wout: H -> z { w ~ normal(0, 0.3); learn }
cost fit = mse(z, target)
cost calm = 1e-2 * mean(H.r ^ 2)
train on flipflop(bits = 3, T = 40, p = 0.1) with sgd(lr = 0.01) batch 4 steps 1 $2
save grads "$1.npz"
X
    if ! (cd "$tmp" && "$CAJAL" "$1.cajal" >"$1.out" 2>"$1.err" </dev/null); then
        fail "train ... $2: exit status not 0"
        sed 's/^/    /' "$tmp/$1.err" | head -5
    fi
    [ -s "$tmp/$1.npz" ] || fail "train ... $2: save grads wrote nothing"
}

grads full ""
grads at_T "bptt 40"
grads beyond "bptt 1000"
grads short "bptt 10"
grads one "bptt 1"
cmp -s "$tmp/full.npz" "$tmp/at_T.npz" || fail "bptt 40 (= T) does not give the full gradient, byte for byte"
cmp -s "$tmp/full.npz" "$tmp/beyond.npz" || fail "bptt 1000 (> T) does not give the full gradient, byte for byte"
cmp -s "$tmp/full.npz" "$tmp/short.npz" && fail "bptt 10 gives the full gradient: truncation does nothing"
cmp -s "$tmp/short.npz" "$tmp/one.npz" && fail "bptt 1 and bptt 10 give the same gradient"

# the archive holds one gradient per learnt weight, under the weight's name
for key in Win.w J.w Wout.w; do
    grep -q -a "$key.npy" "$tmp/full.npz" || fail "save grads: no $key in the archive"
done

# and the file is what `save grads` promises: loadable as parameters of the same shapes
cat >"$tmp/load.cajal" <<X
input u[3]
output z[3]
population H = Rate(16, tau = 10ms)
synapse Win: u -> H { w = 0 }
synapse J: H -> H { w = 0 }
synapse Wout: H -> z { w = 0 }
load "full.npz"
X
(cd "$tmp" && "$CAJAL" load.cajal >load.out 2>load.err </dev/null) || fail "the gradients file does not load into the same model: $(head -1 "$tmp/load.err")"

[ "$failed" = 0 ] && echo "bptt: ok"
[ "$failed" = 0 ]

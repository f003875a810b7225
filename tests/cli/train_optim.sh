#!/bin/sh
# Optimizers as a script reaches them (the update rules themselves are checked
# against hand-computed steps in tests/unit/test_optim.c):
#   - a learning-rate schedule is written as the optimizer's `schedule`
#     argument, and it acts: under warmup(steps = 2) the first update has
#     learning rate 0 and moves no weight, the second does;
#   - every schedule and optimizer can be written;
#   - signed synapses (Dale's law) keep their sign through training: the
#     magnitude is clamped at 0 after each step, never below.
. "$(dirname "$0")/../lib.sh"
run() {   # run NAME: NAME.cajal in $tmp, status 0 expected
    if ! (cd "$tmp" && "$CAJAL" "$1.cajal" >"$1.out" 2>"$1.err" </dev/null); then
        fail "$1.cajal: exit status not 0: $(grep -m1 error "$tmp/$1.err")"
        return 1
    fi
}

model() {   # model 'WITH ... steps N' OUT
    cat <<X
seed 3
input u[3]
output z[3]
population E = Rate(16, tau = 10ms)
synapse Win: u -> E { w ~ normal(0, 1); learn }
synapse K: E -> E { w ~ uniform(0, 0.1); sign -; learn }
synapse P: E -> E { w ~ uniform(0, 0.1); sign +; learn }
synapse Wout: E -> z { w ~ normal(0, 0.3); learn }
cost fit = mse(z, target)
save Win.w, K.w, P.w, Wout.w to "before_$2"
train on flipflop(bits = 3, T = 40, p = 0.1) $1
save Win.w, K.w, P.w, Wout.w to "$2"
print K.w, P.w
X
}

# ---- schedules --------------------------------------------------------------------
model 'with sgd(lr = 0.5, schedule = warmup(steps = 2)) batch 4 steps 1' warm1.npz >"$tmp/warm1.cajal"
model 'with sgd(lr = 0.5, schedule = warmup(steps = 2)) batch 4 steps 2' warm2.npz >"$tmp/warm2.cajal"
if run warm1 && run warm2; then
    cmp -s "$tmp/before_warm1.npz" "$tmp/warm1.npz" || fail "warmup(steps = 2): the first update (lr 0) moved the weights"
    cmp -s "$tmp/before_warm2.npz" "$tmp/warm2.npz" && fail "warmup(steps = 2): the second update moved nothing"
fi
k=0
for opt in 'adam(lr = 1e-2, schedule = cosine(warmup = 5, floor = 0.1))' 'adamw(schedule = cosine())' \
    'rmsprop(lr = 1e-3, schedule = step_decay(every = 3, gamma = 0.5))' 'sgd(lr = 0.1, momentum = 0.9, nesterov = 1, schedule = cosine)' \
    'adam(lr = 1e-2, beta1 = 0.8, beta2 = 0.99, eps = 1e-6, weight_decay = 1e-4)' 'rmsprop(alpha = 0.9, momentum = 0.5)'; do
    k=$((k + 1))
    model "with $opt batch 4 steps 6" "opt$k.npz" >"$tmp/opt$k.cajal"
    run "opt$k" || fail "with $opt: could not be written"
done

# ---- Dale's law through training --------------------------------------------------------
# A learning rate large enough to push magnitudes through 0: they stop at 0.
model 'with sgd(lr = 5) batch 4 steps 20 clip 10' dale.npz >"$tmp/dale.cajal"
if run dale; then
    for name in K.w P.w; do
        min=$(grep "^$name " "$tmp/dale.out" | sed -n 's/.* min \([^ ]*\) .*/\1/p')
        [ -n "$min" ] || { fail "print $name: no min in '$(grep "^$name" "$tmp/dale.out")'"; continue; }
        awk -v x="$min" 'BEGIN { exit !(x == 0) }' ||
            fail "$name (signed) has min $min after training: expected magnitudes clamped at exactly 0"
    done
fi

[ "$failed" = 0 ] && echo "optimizers: ok"
[ "$failed" = 0 ]

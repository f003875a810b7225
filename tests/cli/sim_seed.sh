#!/bin/sh
# Seed determinism: the same script and seed give bit-identical results, run
# after run (the saved .npz compared byte for byte: weights, per-neuron draws,
# the initial state, white noise and a sparse pattern all come from the seed);
# another --seed gives other results; `seed 7` in a script equals --seed 7; and
# --seed wins over a script's `seed` statement (as -D wins over a let), with a
# note saying so.
. "$(dirname "$0")/../lib.sh"

# run NAME ARGS...: runs cajal in $tmp, which must succeed.
run() {
    name=$1
    shift
    if ! (cd "$tmp" && "$CAJAL" "$@" >"$name.out" 2>"$name.err" </dev/null); then
        fail "cajal $*: exit status not 0"
        sed 's/^/    /' "$tmp/$name.err" | head -10
    fi
}

cat >"$tmp/net.cajal" <<'X'
# A noisy E/I rate network with every kind of random draw.
let N = 60
neuron Noisy(tau = 10ms, sigma = 0.3) {
  tau * dx/dt = -x + in + sigma * sqrt(tau) * xi
  r = tanh(x)
}
population E = Noisy(N) { init x ~ normal(0, 1); tau ~ uniform(5ms, 20ms) }
population I = Rate(N / 4, tau = 5ms, phi = relu) { init x ~ uniform(0, 1) }
synapse J: E -> E { w ~ normal(0, 1.2 / sqrt(N)); no_self }
synapse S: E -> E { w ~ normal(0, 1); p = 0.1 }
synapse L: E -> E lowrank(2) { m ~ normal(0, 1); n ~ normal(0, 1) }
synapse EI: E -> I { w ~ uniform(0, 0.2); sign + }
synapse IE: I -> E { w ~ lognormal(-2, 0.5); sign - }
simulate for 100ms dt 0.1ms batch 3 record E.x, I.x every 1ms
save "run.npz"
print J.w, S.w, L.m, L.n, EI.w, IE.w, E.tau, E.x, I.x
X
printf 'seed 7\n' | cat - "$tmp/net.cajal" >"$tmp/seeded.cajal"

run a --seed 7 net.cajal
mv "$tmp/run.npz" "$tmp/a.npz"
run b --seed 7 net.cajal
mv "$tmp/run.npz" "$tmp/b.npz"
run c --seed 8 net.cajal
mv "$tmp/run.npz" "$tmp/c.npz"
run d seeded.cajal
mv "$tmp/run.npz" "$tmp/d.npz"
run e --seed 8 seeded.cajal
mv "$tmp/run.npz" "$tmp/e.npz"
run f net.cajal
mv "$tmp/run.npz" "$tmp/f.npz"
run g --seed 1 net.cajal
mv "$tmp/run.npz" "$tmp/g.npz"

[ -s "$tmp/a.npz" ] || fail "save wrote no run.npz"
cmp -s "$tmp/a.npz" "$tmp/b.npz" || fail "--seed 7 twice: the .npz files differ"
cmp -s "$tmp/a.out" "$tmp/b.out" || fail "--seed 7 twice: the printed means differ"
cmp -s "$tmp/a.npz" "$tmp/c.npz" && fail "--seed 7 and --seed 8 wrote the same .npz"
cmp -s "$tmp/a.out" "$tmp/c.out" && fail "--seed 7 and --seed 8 printed the same mean"
cmp -s "$tmp/a.npz" "$tmp/d.npz" || fail "seed 7 in the script differs from --seed 7"
cmp -s "$tmp/c.npz" "$tmp/e.npz" || fail "--seed 8 did not win over the script's seed 7"
grep -q -F "note: --seed 8 replaces seed 7" "$tmp/e.err" || fail "no note that --seed 8 replaces seed 7: $(cat "$tmp/e.err")"
grep -q -F "replaces seed" "$tmp/a.err" "$tmp/d.err" && fail "a note on a run without a seed statement to replace"
cmp -s "$tmp/f.npz" "$tmp/g.npz" || fail "no --seed differs from the default --seed 1"

# Each draw changes with the seed: every printed summary line differs.
for key in J.w S.w L.m L.n EI.w IE.w E.tau E.x I.x; do
    grep -q -a -F "$key.npy" "$tmp/a.npz" || fail "run.npz has no $key"
    a=$(grep "^$key " "$tmp/a.out")
    c=$(grep "^$key " "$tmp/c.out")
    [ -n "$a" ] || fail "print $key showed nothing"
    [ "$a" = "$c" ] && fail "$key is the same with --seed 7 and --seed 8: $a"
done

[ "$failed" = 0 ] && echo "seed determinism: ok"
[ "$failed" = 0 ]

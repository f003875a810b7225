#!/bin/sh
# Bad input to training (issue 5): each is an error located at what is wrong,
# exit status 1, and nothing trained. One script per case, since a run stops at
# its first failing statement. (tests/errors/train.cajal has the errors found
# while checking; these are the ones only running finds.)
. "$(dirname "$0")/../lib.sh"

# expect NAME PATTERN: NAME.cajal (already written) fails with status 1, its
# first error line matches the grep pattern PATTERN, and no training step ran.
expect() {
    (cd "$tmp" && "$CAJAL" "$1.cajal" >"$1.out" 2>"$1.err" </dev/null)
    rc=$?
    first=$(grep -m1 ': error: ' "$tmp/$1.err")
    [ "$rc" = 1 ] || fail "$1: exit status $rc, expected 1 (stderr: $(head -2 "$tmp/$1.err" | tr '\n' ' '))"
    printf '%s\n' "$first" | grep -q -e "$2" || fail "$1: expected an error like '$2', got '$first'"
    grep -q '^train: step' "$tmp/$1.err" && fail "$1: training ran"
}

head='input u[3]
output z[3]
population H = Rate(8)
population Q = Rate(4)
synapse Win: u -> H { w ~ normal(0, 1); learn }
synapse Wout: H -> z { w ~ normal(0, 0.3); learn }
synapse Fixed: u -> Q { w ~ normal(0, 1) }
synapse K: H -> H { w ~ normal(0, 0.3) }
cost fit = mse(z, target)'
train='train on flipflop(bits = 3, T = 20) with adam(lr = 1e-3) steps 2'

# A cost over what no learnt weight can change: located at that cost (line 10),
# naming it.
k=0
for body in 'mean(Q.r ^ 2)' 'mean(u ^ 2)' 'mean(stop(z) ^ 2)' '1e-3 * l2(K.w)'; do
    k=$((k + 1))
    printf '%s\ncost other = %s\n%s\n' "$head" "$body" "$train" >"$tmp/nograd$k.cajal"
    (cd "$tmp" && "$CAJAL" "nograd$k.cajal" >/dev/null 2>"nograd$k.err" </dev/null)
    grep -q "^nograd$k.cajal:10:[0-9]*: error: .*other" "$tmp/nograd$k.err" ||
        fail "cost other = $body: no learnt weight reaches it, and no error at line 10 says so"
done

# The task's sizes against the model's: both sizes named.
printf 'input u[2]\noutput z[3]\npopulation H = Rate(8)\nsynapse u -> H { w = 1; learn }\nsynapse H -> z { w = 1; learn }\ncost fit = mse(z, target)\n%s\n' "$train" >"$tmp/size_in.cajal"
expect size_in '^size_in.cajal:7:10: error: this task has 3 input channels but input u has 2$'
printf 'input u[3]\noutput z[2]\npopulation H = Rate(8)\nsynapse u -> H { w = 1; learn }\nsynapse H -> z { w = 1; learn }\ncost fit = mse(z, target)\n%s\n' "$train" >"$tmp/size_out.cajal"
expect size_out '^size_out.cajal:7:10: error: this task has 3 target channels but output z has 2$'
printf 'input u[3]\noutput z[2]\npopulation H = Rate(8)\nsynapse u -> H { w = 1; learn }\nsynapse H -> z { w = 1; learn }\ncost fit = mse(z, target)\nevaluate on flipflop(bits = 3)\n' >"$tmp/size_eval.cajal"
expect size_eval '^size_eval.cajal:7:13: error: this task has 3 target channels but output z has 2$'

# A data file whose rows disagree: the line named, at the file argument.
printf 'a,b,c\n1,2,3\n4,5\n6,7,8\n' >"$tmp/ragged.csv"
printf 'data d = csv("ragged.csv")\ninput u[3]\noutput z[1]\nsynapse W: u -> z { w = 0; learn }\ncost fit = mse(z, target)\ntrain on d steps 1\n' >"$tmp/ragged.cajal"
expect ragged "^ragged.cajal:1:14: error: file 'ragged.csv': line 3 has 2 fields, expected 3"
# a series (inputs only) has nothing to train towards
printf 'a,b,c\n1,2,3\n4,5,6\n' >"$tmp/series.csv"
sed 's/ragged/series/' "$tmp/ragged.cajal" >"$tmp/series.cajal"
expect series "^series.cajal:6:10: error: data set 'd' is an input series without targets"

# A learning rate that is not positive, however it is written.
printf '%s\nlet rate = -1e-3\ntrain on flipflop(bits = 3, T = 20) with sgd(lr = rate) steps 2\n' "$head" >"$tmp/lr_let.cajal"
expect lr_let '^lr_let.cajal:11:51: error: the learning rate must be positive, not -0.001$'
printf '%s\ntrain on flipflop(bits = 3, T = 20) with rmsprop(lr = -2) steps 2\n' "$head" >"$tmp/lr_neg.cajal"
expect lr_neg '^lr_neg.cajal:10:55: error: the learning rate must be positive, not -2$'
printf '%s\ntrain on flipflop(bits = 3, T = 20) with adamw(lr = 0) steps 2\n' "$head" >"$tmp/lr_zero.cajal"
expect lr_zero '^lr_zero.cajal:10:53: error: the learning rate must be positive, not 0$'
# (checked before anything runs: the simulation on line 10 never starts)
printf '%s\nsimulate for 10 steps\ntrain on flipflop(bits = 3, T = 20) with adam(lr = -1) steps 2\n' "$head" >"$tmp/lr_before_run.cajal"
expect lr_before_run '^lr_before_run.cajal:11:52: error: the learning rate must be positive, not -1$'

# Nothing marked learn.
printf '%s\n%s\n' "$head" "$train" | sed 's/; learn//' >"$tmp/nolearn.cajal"
expect nolearn '^nolearn.cajal:10:1: error: nothing to train: no synapse is marked learn$'
grep -q 'hint: add learn to a synapse' "$tmp/nolearn.err" || fail "nolearn: no hint showing where learn goes"

# No cost.
printf '%s\n%s\n' "$head" "$train" | sed '/^cost/d' >"$tmp/nocost.cajal"
expect nocost '^nocost.cajal:9:1: error: train needs a cost to reduce'

# A truncated or foreign checkpoint, located at the resume clause.
printf 'population A = Rate(3)\npopulation B = Rate(3)\nsynapse W: A -> B { w = 1 }\nsave "foreign.npz"\n' >"$tmp/foreign.cajal"
(cd "$tmp" && "$CAJAL" foreign.cajal >/dev/null 2>&1) || fail "could not write foreign.npz"
printf '%s\n%s checkpoint "good.npz" every 2\n' "$head" "$train" >"$tmp/good.cajal"
(cd "$tmp" && "$CAJAL" good.cajal >/dev/null 2>&1) || fail "could not write good.npz"
head -c 2000 "$tmp/good.npz" >"$tmp/cut.npz"
echo "not a zip" >"$tmp/text.npz"
printf '%s\n%s resume "cut.npz"\n' "$head" "$train" >"$tmp/cut.cajal"
expect cut "^cut.cajal:10:[0-9]*: error: 'cut.npz' is truncated"
printf '%s\n%s resume "text.npz"\n' "$head" "$train" >"$tmp/text.cajal"
expect text "^text.cajal:10:[0-9]*: error: 'text.npz' is not a .npz archive"
printf '%s\n%s resume "foreign.npz"\n' "$head" "$train" >"$tmp/foreign_resume.cajal"
expect foreign_resume "^foreign_resume.cajal:10:[0-9]*: error: 'foreign.npz' is not a training checkpoint"
printf '%s\n%s resume "missing.npz"\n' "$head" "$train" >"$tmp/missing.cajal"
expect missing "^missing.cajal:10:[0-9]*: error: cannot open 'missing.npz': no such file"

# a loss of mismatched sizes names them as the user counts them, one trial's
# (not with the batch the checks see inside)
printf '%s\ncost odd = mse(H.r, target)\ntrain on flipflop(bits = 3, T = 20) batch 7 steps 2\n' "$head" >"$tmp/loss_shape.cajal"
expect loss_shape "^loss_shape.cajal:10:12: error: 'mse' compares \[8\] with a target of \[3\]: the shapes must be equal$"

# bptt with another method: at the by clause, not the whole statement
printf '%s\ntrain on flipflop(bits = 3, T = 20) steps 2 bptt 5 by feedback_alignment\n' "$head" >"$tmp/bptt_by.cajal"
expect bptt_by "^bptt_by.cajal:10:52: error: bptt truncates backpropagation; it does not combine with 'by feedback_alignment'$"
# the column of the resume clause
col=$(grep -m1 ': error: ' "$tmp/cut.err" | cut -d: -f3)
want=$(awk '/resume/ { print index($0, "resume") }' "$tmp/cut.cajal")
[ "$col" = "$want" ] || fail "the truncated-checkpoint error is at column $col, the resume clause at $want"

[ "$failed" = 0 ] && echo "training errors: ok"
[ "$failed" = 0 ]

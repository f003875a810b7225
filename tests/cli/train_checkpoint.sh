#!/bin/sh
# Checkpoints, resume, and what training does when it cannot go on (issue 5):
#   - `checkpoint "c.npz" every K` then `resume "c.npz"` continues exactly: the
#     final parameters are the same bytes as an uninterrupted run's, on a task
#     and on a data set (whose sampler must resume at its place in the epoch);
#   - a loss that overflows stops training with a message naming the first op
#     and time step, and the parameters are put back to those of the last good
#     step (the same bytes as a run that stopped there); so does a gradient
#     that is not finite;
#   - a failed resume (truncated, foreign, another model's, another
#     optimizer's checkpoint) is a located error and changes no parameter;
#   - no temporary file is left beside a checkpoint, whether training ends,
#     fails to write its checkpoint, or is interrupted (Ctrl-C in the REPL
#     stops after the current step and keeps the parameters).
# Scripts whose later statements must run after a failed `train` are fed to the
# REPL on stdin (`cajal < file`): there an error does not end the session.
. "$(dirname "$0")/../lib.sh"
run() {   # run NAME: cajal NAME.cajal in $tmp; NAME.out, NAME.err, NAME.rc
    (cd "$tmp" && "$CAJAL" "$1.cajal" >"$1.out" 2>"$1.err" </dev/null)
    echo $? >"$tmp/$1.rc"
}
repl() {  # repl NAME: the same, through the REPL
    (cd "$tmp" && "$CAJAL" <"$1.cajal" >"$1.out" 2>"$1.err")
    echo $? >"$tmp/$1.rc"
}
ok() {    # ok NAME: ran with status 0
    [ "$(cat "$tmp/$1.rc")" = 0 ] || { fail "$1.cajal: exit status $(cat "$tmp/$1.rc")"; sed 's/^/    /' "$tmp/$1.err" | head -5; }
}
no_temps() {
    left=$(cd "$tmp" && ls | grep '\.tmp' | head -3)
    [ -z "$left" ] || fail "$1: temporary files left behind: $left"
}

# model CLAUSES OUT: a small rate RNN on the flip-flop, Adam with clipping
model() {
    cat <<X
seed 3
input u[3]
output z[3]
population H = Rate(16, tau = 10ms)
synapse Win: u -> H { w ~ normal(0, 1); learn }
synapse J: H -> H { w ~ normal(0, 1.2 / sqrt(16)); learn }
synapse Wout: H -> z { w ~ normal(0, 0.3); learn }
cost fit = mse(z, target)
train on flipflop(bits = 3, T = 40, p = 0.1) with adam(lr = 1e-2) batch 4 $1
save "$2"
X
}

# ---- resume continues exactly ------------------------------------------------
# Every 15 steps of 40: the file holds step 30 when the run ends.
model 'steps 40 clip 1.0 checkpoint "c.npz" every 15' full.npz >"$tmp/full.cajal"
model 'steps 40 clip 1.0 resume "c.npz"' resumed.npz >"$tmp/resumed.cajal"
model 'steps 30 clip 1.0' thirty.npz >"$tmp/thirty.cajal"
run full && ok full
no_temps "a run with checkpoints"
run resumed && ok resumed
run thirty && ok thirty
cmp -s "$tmp/full.npz" "$tmp/resumed.npz" || fail "a run resumed at step 30 ends with other parameters than the uninterrupted run"
cmp -s "$tmp/full.npz" "$tmp/thirty.npz" && fail "30 and 40 steps give the same parameters: the comparison above says nothing"
grep -q 'train: step 40/40' "$tmp/resumed.err" || fail "the resumed run does not count on to step 40"
grep -q 'train: step \([0-9]\|[12][0-9]\)/40' "$tmp/resumed.err" && fail "the resumed run reports steps before 30"

# The same with a data set: batches come from the sampler's epochs, and a
# resumed run must draw the batches the uninterrupted one drew after step 30.
awk 'BEGIN { s = 7; for (i = 0; i < 3000; i++) { s = (s * 1103515245 + 12345) % 2147483648;
             printf "%s", substr("abcd", int(s / 65536) % 4 + 1, 1); if (i % 60 == 59) printf "\n" } }' >"$tmp/text.txt"
text_model() {
    cat <<X
seed 3
data t = text("text.txt", seq = 20, split = 0.9)
input u[5]
output z[5]
population H = Rate(16, tau = 10ms)
synapse Win: u -> H { w ~ normal(0, 1); learn }
synapse Wout: H -> z { w ~ normal(0, 0.3); learn }
cost fit = cross_entropy(z, target)
train on t with adam(lr = 1e-2) batch 8 steps 40 $1
save "$2"
X
}
text_model 'checkpoint "ct.npz" every 15' tfull.npz >"$tmp/tfull.cajal"
text_model 'resume "ct.npz"' tresumed.npz >"$tmp/tresumed.cajal"
run tfull && ok tfull
run tresumed && ok tresumed
cmp -s "$tmp/tfull.npz" "$tmp/tresumed.npz" ||
    fail "on a data set, a run resumed at step 30 ends with other parameters than the uninterrupted run (the sampler's place is not restored)"

# ---- a loss that overflows -----------------------------------------------------
# sgd(lr = 1e10) blows the weights up until the loss is no longer finite.
cat >"$tmp/nan.cajal" <<X
$(model 'steps 40' after_nan.npz | sed 's/adam(lr = 1e-2)/sgd(lr = 1e10)/')
X
repl nan
msg=$(grep 'error: training stopped' "$tmp/nan.err" | head -1)
[ -n "$msg" ] || fail "sgd(lr = 1e10): no 'training stopped' error; stderr: $(head -3 "$tmp/nan.err")"
case "$msg" in
*"<stdin>:9:1: error: training stopped at step "*) ;;
*) fail "the overflow error is not located at the train statement: $msg" ;;
esac
printf '%s\n' "$msg" | grep -q 'comes from [a-z_0-9]* .*at time step [0-9]' ||
    fail "the overflow message does not name the first op and time step: $msg"
k=$(printf '%s\n' "$msg" | sed -n 's/.*training stopped at step \([0-9]*\).*/\1/p')
if [ -n "$k" ] && [ "$k" -ge 1 ]; then
    # steps count from 0: step k failed, and the parameters it started with
    # are kept: those after k updates, the same bytes as a run of k steps
    # (whose parameters are all finite: it finished)
    grep -q "hint: the parameters from before step $k are restored" "$tmp/nan.err" ||
        fail "no hint that the parameters from before step $k are restored: $(grep hint "$tmp/nan.err")"
    model "steps $k" good.npz | sed 's/adam(lr = 1e-2)/sgd(lr = 1e10)/' >"$tmp/good.cajal"
    run good && ok good
    model "steps $((k - 1))" early.npz | sed 's/adam(lr = 1e-2)/sgd(lr = 1e10)/' >"$tmp/early.cajal"
    run early && ok early
    [ -s "$tmp/after_nan.npz" ] || fail "save after the failed train wrote nothing"
    cmp -s "$tmp/good.npz" "$tmp/after_nan.npz" ||
        fail "after the overflow at step $k the parameters are not those of the last good step (a run of $k steps)"
    cmp -s "$tmp/good.npz" "$tmp/early.npz" && fail "runs of $k and $((k - 1)) steps end alike: the comparison above says nothing"
else
    fail "the overflow stopped at step '$k'; expected a later step, after some good ones"
fi

# A gradient that is not finite while the loss is: sqrt(r^2) at r = 0 (every
# unit starts at rest) has the gradient 0 / 0. The message must also name the
# op and the time step.
cat >"$tmp/nangrad.cajal" <<X
$(model 'steps 10' after_nangrad.npz | sed 's/^cost fit = .*/&\ncost odd = 1e-3 * mean(sqrt(H.r ^ 2))/')
X
run nangrad
msg=$(grep 'error: training stopped' "$tmp/nangrad.err" | head -1)
[ -n "$msg" ] || fail "sqrt(r^2) at r = 0: no 'training stopped' error; stderr: $(head -3 "$tmp/nangrad.err")"
printf '%s\n' "$msg" | grep -q 'at time step [0-9]' ||
    fail "a gradient that is not finite: the message does not name the op and time step: $msg"
# it fails on the very first update, which is step 0 (training.md's example)
case "$msg" in
*"error: training stopped at step 0: "*) ;;
*) fail "a failure on the first update is not called step 0: $msg" ;;
esac

# ---- a failed resume changes nothing ----------------------------------------------
head -c 3000 "$tmp/c.npz" >"$tmp/truncated.npz"
printf 'population A = Rate(3)\npopulation B = Rate(3)\nsynapse W: A -> B { w = 1 }\nsave "foreign.npz"\n' >"$tmp/foreign.cajal"
run foreign && ok foreign
model 'steps 20 checkpoint "small.npz" every 20' small_final.npz | sed 's/Rate(16/Rate(12/; s/sqrt(16)/sqrt(12)/' >"$tmp/small.cajal"
run small && ok small
model 'steps 20 checkpoint "sgd.npz" every 20' sgd_final.npz | sed 's/adam(lr = 1e-2)/sgd(lr = 1e-2, momentum = 0.9)/' >"$tmp/sgd.cajal"
run sgd && ok sgd
# the session trains 10 steps, saves, then fails to resume four times
{
    model 'steps 10' before.npz
    for bad in truncated.npz foreign.npz small.npz sgd.npz; do
        echo "train on flipflop(bits = 3, T = 40, p = 0.1) with adam(lr = 1e-2) batch 4 steps 40 resume \"$bad\""
    done
    echo 'save "after.npz"'
} >"$tmp/badresume.cajal"
repl badresume
n=$(grep -c '^<stdin>:1[1-4]:[0-9]*: error: ' "$tmp/badresume.err")
[ "$n" -ge 4 ] || fail "four bad checkpoints gave $n located errors: $(grep error "$tmp/badresume.err" | head -4)"
grep -q "error: 'truncated.npz' is truncated" "$tmp/badresume.err" || fail "a truncated checkpoint is not called truncated: $(grep -m1 truncated.npz "$tmp/badresume.err")"
grep -q "error: 'foreign.npz' is not a training checkpoint" "$tmp/badresume.err" || fail "a saved model is taken for a checkpoint"
grep -q "error: Win.w in 'small.npz' is \[12, 3\], but the model's is \[16, 3\]" "$tmp/badresume.err" ||
    fail "another model's checkpoint: no error naming both shapes"
grep -q "error: 'sgd.npz' was written by sgd, but this run trains with adam" "$tmp/badresume.err" || fail "an sgd checkpoint resumed by adam: no error naming both optimizers"
grep -q "train: step [0-9]*/40" "$tmp/badresume.err" && fail "a failed resume went on training"
cmp -s "$tmp/before.npz" "$tmp/after.npz" || fail "a failed resume changed the parameters"

# Adam's state resumed by rmsprop: each keeps a second moment under the same key
# (optim.v.NAME), but they are not the same quantity; the checkpoint should say
# which optimizer wrote it.
model 'steps 40 resume "c.npz"' rms.npz | sed 's/adam(lr = 1e-2)/rmsprop(lr = 1e-2)/' >"$tmp/rms.cajal"
run rms
[ "$(cat "$tmp/rms.rc")" = 1 ] && grep -q "error: .*adam" "$tmp/rms.err" ||
    fail "an adam checkpoint resumed by rmsprop is taken without a word"

# ---- no half-written checkpoint -------------------------------------------------------
# a checkpoint that cannot be written: a located error, nothing left behind
model 'steps 10 checkpoint "no/such/dir/c.npz" every 5' unwritable.npz >"$tmp/unwritable.cajal"
run unwritable
[ "$(cat "$tmp/unwritable.rc")" = 1 ] || fail "a checkpoint into a missing folder: exit status $(cat "$tmp/unwritable.rc"), expected 1"
grep -q '^unwritable.cajal:9:[0-9]*: error: .*no/such/dir/c.npz' "$tmp/unwritable.err" ||
    fail "a checkpoint into a missing folder: no located error naming it: $(head -1 "$tmp/unwritable.err")"
no_temps "a checkpoint that could not be written"
# ... says only that: the steps before it are done, kept and not undone
grep -q 'hint:' "$tmp/unwritable.err" && fail "a checkpoint that could not be written gives a hint about non-finite values: $(grep hint: "$tmp/unwritable.err")"
model 'steps 10 checkpoint "no/such/dir/c.npz" every 2' after_unwritable.npz >"$tmp/unwritable2.cajal"
repl unwritable2
model 'steps 2' two.npz >"$tmp/two.cajal"
run two && ok two
cmp -s "$tmp/two.npz" "$tmp/after_unwritable.npz" ||
    fail "a checkpoint that could not be written after step 2 undid a step: the parameters are not those of a run of 2 steps"

# Ctrl-C in the REPL: training stops after the current step (and its checkpoint),
# keeps the parameters, and leaves a whole checkpoint to resume from.
if env --default-signal=INT true 2>/dev/null; then
    model 'steps 100000 checkpoint "int.npz" every 1' after_int.npz >"$tmp/int.cajal"
    (cd "$tmp" && exec env --default-signal=INT "$CAJAL" <int.cajal >int.out 2>int.err) &
    pid=$!
    tries=0
    while [ ! -f "$tmp/int.npz" ] && [ $tries -lt 600 ]; do sleep 0.1; tries=$((tries + 1)); done
    sleep 0.2
    kill -INT $pid 2>/dev/null
    # should Ctrl-C not stop it, end it after a minute rather than hang the suite
    (sleep 60 && kill -KILL $pid 2>/dev/null) &
    guard=$!
    wait $pid
    kill $guard 2>/dev/null
    msg=$(grep 'error: training interrupted' "$tmp/int.err" | head -1)
    n=$(printf '%s\n' "$msg" | sed -n 's/.*interrupted after step \([0-9]*\) of 100000.*/\1/p')
    if [ -z "$n" ]; then
        fail "Ctrl-C: no 'training interrupted after step N' message: $(head -3 "$tmp/int.err")"
    else
        no_temps "an interrupted run"
        # the parameters kept are those after n steps, and int.npz holds step n
        model "steps $n" n_steps.npz >"$tmp/n_steps.cajal"
        run n_steps && ok n_steps
        cmp -s "$tmp/n_steps.npz" "$tmp/after_int.npz" || fail "Ctrl-C after step $n kept other parameters than a run of $n steps"
        model "steps $((n + 3)) resume \"int.npz\"" int_resumed.npz >"$tmp/int_resumed.cajal"
        model "steps $((n + 3))" n3_steps.npz >"$tmp/n3_steps.cajal"
        run int_resumed && ok int_resumed
        run n3_steps && ok n3_steps
        cmp -s "$tmp/int_resumed.npz" "$tmp/n3_steps.npz" || fail "resuming the interrupted run's checkpoint does not continue exactly"
    fi
fi

[ "$failed" = 0 ] && echo "checkpoints: ok"
[ "$failed" = 0 ]

#!/bin/sh
# The training examples run, and each network learns its task as issue 5 asks
# (fixed seeds, step caps in the scripts; nothing here measures time):
#   flipflop          a vanilla tanh RNN gets over 95% of the bits right
#   mante             the continuous-time rate RNN comes within 90% of the ideal
#                     integrator's accuracy in each context
#   delayed_addition  an RNN (gated integrators) answers with mse below 0.01
#   ready_set_go      the produced interval is off by less than 10% on average
#   adding            an IRNN beats the trivial answer (mse 0.167) by far: < 0.05
#   sine              the wave is matched: mse < 0.01
# Each script prints an `evaluate` line before training and one after; the
# first must be far from the goal (so the second says something about
# training), the last must reach it.
. "$(dirname "$0")/../lib.sh"

# value KEY LINE: the number after KEY= in an evaluate line
value() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# check NAME WHICH KEY 'awk condition on x': WHICH is first or last evaluate line
check() {
    if [ "$2" = first ]; then line=$(grep '^evaluate:' "$tmp/$1.out" | head -1); else line=$(grep '^evaluate:' "$tmp/$1.out" | tail -1); fi
    x=$(value "$3" "$line")
    [ -n "$x" ] || { fail "examples/train_$1.cajal: no $3= in its $2 evaluate line: '$line'"; return; }
    awk -v x="$x" "BEGIN { exit !($4) }" || fail "examples/train_$1.cajal: $2 $3 is $x, expected $4 (line: $line)"
}

for name in adding delayed_addition flipflop mante ready_set_go sine; do
    if ! (cd "$TOP" && "$CAJAL" "examples/train_$name.cajal" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null); then
        fail "examples/train_$name.cajal: exit status not 0"
        sed 's/^/    /' "$tmp/$name.err" | head -10
        continue
    fi
    grep -q "error" "$tmp/$name.err" && fail "examples/train_$name.cajal reported: $(grep error "$tmp/$name.err" | head -1)"
    [ "$(grep -c '^evaluate:' "$tmp/$name.out")" = 2 ] || fail "examples/train_$name.cajal: expected two evaluate lines"
    # progress goes to stderr, ending at the last step
    grep -q '^train: step \([0-9]*\)/\1 ' "$tmp/$name.err" || fail "examples/train_$name.cajal: no final progress line on stderr"
done

check flipflop first accuracy 'x < 0.6'
check flipflop last accuracy 'x > 0.95'
check delayed_addition first mse 'x > 0.1'
check delayed_addition last mse 'x < 0.01'
check ready_set_go first interval_error 'x > 0.5'
check ready_set_go last interval_error 'x < 0.1'
check adding first mse 'x > 0.167'
check adding last mse 'x < 0.05'
check sine first mse 'x > 0.4'
check sine last mse 'x < 0.01'
check mante first accuracy 'x < 0.6'

# What docs/training.md and the examples' comments quote is what they print:
# the flip-flop's line (in the default, double build), the adding problem's
# mse below 0.01 there, ten progress lines for steps 300, and the recompute
# clause in :help train.
if "$CAJAL" --version | grep -q 'double precision'; then
    last=$(grep '^evaluate:' "$tmp/flipflop.out" | tail -1)
    other=$(grep -o 'evaluate: loss=[0-9.]* accuracy=[0-9.]*' "$TOP/docs/training.md" | grep -v -x -F "$last" | head -1)
    [ -z "$other" ] || fail "docs/training.md quotes '$other', but examples/train_flipflop.cajal prints '$last'"
    [ "$(grep -c -F "$last" "$TOP/docs/training.md")" = 2 ] || fail "docs/training.md does not quote '$last' twice"
    check adding last mse 'x < 0.01'
fi
[ "$(grep -c '^train: step' "$tmp/flipflop.err")" = 10 ] ||
    fail "steps 300 printed $(grep -c '^train: step' "$tmp/flipflop.err") progress lines, docs/training.md says ten"
printf ':help train\n' | "$CAJAL" 2>&1 | grep -q 'recompute every K' || fail ":help train does not show the recompute clause"
# mante: in each context, at least 90% of the ideal integrator's accuracy
for ctx in motion colour; do
    line=$(grep '^evaluate:' "$tmp/mante.out" | tail -1)
    a=$(value "accuracy_$ctx" "$line")
    i=$(value "ideal_$ctx" "$line")
    if [ -z "$a" ] || [ -z "$i" ]; then
        fail "examples/train_mante.cajal: no accuracy_$ctx or ideal_$ctx in '$line'"
    else
        awk -v a="$a" -v i="$i" 'BEGIN { exit !(a >= 0.9 * i && i > 0.8) }' ||
            fail "examples/train_mante.cajal: $ctx accuracy $a is below 90% of the ideal $i"
    fi
done

[ "$failed" = 0 ] && echo "training examples: ok"
[ "$failed" = 0 ]

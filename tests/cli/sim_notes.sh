#!/bin/sh
# Notes and located errors of simulate whose text goes beyond the `error:` line
# a golden script can state: the note that says which population a model's
# equation failed in, the number of steps a duration takes, and the recording interval actually
# used when the one asked for falls between steps.
. "$(dirname "$0")/../lib.sh"

# A coefficient of a derivative found to be 0 only by the run: the error is at
# the model's equation, and a note names the population that uses it.
cat >"$tmp/coef.cajal" <<'X'
neuron N(a = 1ms, b = 1ms) {
  (a - b) * dx/dt = -x
}
population E = N(2)
simulate for 1ms
X
run 1 "$tmp/coef.cajal"
sed "s|$tmp/||" "$tmp/err" >"$tmp/err2" && mv "$tmp/err2" "$tmp/err"
err <<'X'
coef.cajal:2:3: error: this coefficient of the derivative is 0
   2 |   (a - b) * dx/dt = -x
     |   ^^^^^^^
coef.cajal:4:1: note: in population E
   4 | population E = N(2)
     | ^^^^^^^^^^^^^^^^^^^
X

# A duration of more steps of dt than a run takes (at most 1e12, as `for N
# steps`) says how many, even past what a number holds; one shorter than a step
# says so.
steps() {
    printf 'population E = Rate(2)\nsimulate for %s\n' "$1" >"$tmp/steps.cajal"
    run 1 "$tmp/steps.cajal"
    grep error: "$tmp/err" | sed "s|$tmp/||" >"$tmp/err2" && mv "$tmp/err2" "$tmp/err"
}
steps '200s dt 1e-10s'
err <<'X'
steps.cajal:2:1: error: the duration is 2e+12 steps of dt = 1e-07 ms; a run takes at most 1e12 steps
X
steps '1e300s dt 1e-300s'
err <<'X'
steps.cajal:2:1: error: the duration is more steps of dt = 1e-297 ms than can be counted; a run takes at most 1e12 steps
X
steps '1ms dt 1e-320s'
err <<'X'
steps.cajal:2:1: error: the duration is more steps of dt = 9.99989e-318 ms than can be counted; a run takes at most 1e12 steps
X
steps '0.01ms dt 1ms'
err <<'X'
steps.cajal:2:1: error: the duration is shorter than one step of dt = 1 ms
X

# Samples fall on steps: an interval between two is rounded to the nearest
# (at least one step), and a note says which; a whole number of steps, or an
# interval longer than the run (one sample), needs none.
every() {
    printf 'population E = Rate(2)\nsimulate for 10ms dt %s record E.r every %s\nprint E.r[0]\n' "$1" "$2" >"$tmp/every.cajal"
    run 0 "$tmp/every.cajal"
}
every 1ms 1.5ms
err <<'X'
note: recording every 1.5 ms is not a whole number of steps of dt = 1 ms; recording every 2 steps (2 ms)
X
every 1ms 0.5ms
err <<'X'
note: recording every 0.5 ms is less than one step of dt = 1 ms; recording every step (1 ms)
X
every 0.25ms 1ms
err </dev/null
every 1ms 1s
err </dev/null
every 0.1ms 0.3ms
err </dev/null

[ "$failed" = 0 ]

#!/bin/sh
# What a run keeps besides its plan is its recordings (--stats: rec_mb): a run
# that records nothing keeps nothing per step (it kept an 8-byte time stamp per
# step, 8 GB for 10^9 steps), and one that records keeps one sample per
# `every` for the variable and its time stamps.
. "$(dirname "$0")/../lib.sh"

printf 'population E = Rate(1)\nsimulate for 1000000 steps dt 1ms\n' >"$tmp/plain.cajal"
run 0 --stats "$tmp/plain.cajal"
grep -q 'stats: simulate steps=1000000 .* rec_mb=0.000 ' "$tmp/err" || fail "unrecorded run: $(grep stats "$tmp/err")"

printf 'population E = Rate(1)\nsimulate for 1000000 steps dt 1ms record E.x every 1000 steps\n' >"$tmp/rec.cajal"
run 0 --stats "$tmp/rec.cajal"
grep -q -E 'stats: simulate steps=1000000 .* rec_mb=0.0(16|08) ' "$tmp/err" || fail "recorded run (1000 samples of E.x and t, 8 or 4 bytes each): $(grep stats "$tmp/err")"
[ "$failed" = 0 ]

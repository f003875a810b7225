#!/bin/sh
# The simulation examples run: exit status 0, no error, something printed, and
# each one's telling number is on the side the lecture says it is.
. "$(dirname "$0")/../lib.sh"

for name in demo integrator chaos ei_network lowrank noise; do
    if ! (cd "$TOP" && "$CAJAL" "examples/$name.cajal" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null); then
        fail "examples/$name.cajal: exit status not 0"
        sed 's/^/    /' "$tmp/$name.err" | head -10
    fi
    grep -q "error" "$tmp/$name.err" && fail "examples/$name.cajal reported: $(head -1 "$tmp/$name.err")"
    [ -s "$tmp/$name.out" ] || fail "examples/$name.cajal printed nothing"
done

# line N of an example's output, as a number, compared with awk: check NAME N 'x > 0.5'
check() {
    v=$(sed -n "$2p" "$tmp/$1.out")
    awk -v x="$v" "BEGIN { exit !($3) }" || fail "examples/$1.cajal line $2 is '$v', expected $3"
}
check demo 3 'x < 1e-10'              # g = 0.5: silent
check demo 5 'x > 0.3'                # g = 1.5: active
check demo 7 'x > 0.1'                # and moving
check integrator 3 'x == 5'
check integrator 12 'x == 5'          # decay 1 holds
check integrator 14 'x < 0.01'        # decay 0.8 forgets
check integrator 16 'x > 100'         # decay 1.1 runs away
check integrator 18 'x == 5'          # tuned feedback holds
check chaos 3 'x == 1e-08'
check chaos 5 'x < 1e-20'             # gain 0.5 converges
check chaos 13 'x > 0.3'              # gain 1.5 separates
check ei_network 3 'x > 0.3 && x < 0.5'
check ei_network 5 'x > 0.45 && x < 0.65'
check ei_network 7 'x > 100'
check lowrank 3 'x > 1'
check lowrank 5 'x < -1'
check lowrank 7 'x < 1e-6 && x > -1e-6'
check noise 3 'x > 0 && x < 0.06'
check noise 5 'x > 0.47 && x < 0.53'
check noise 7 'x > 0.115 && x < 0.135'

[ "$failed" = 0 ] && echo "examples: ok"
[ "$failed" = 0 ]

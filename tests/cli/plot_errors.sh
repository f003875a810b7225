#!/bin/sh
# Every message of src/plot_stmt.c, with its location and carets: each case
# runs the model of tests/plot/model.cajal, then one statement that fails. They
# fail before gnuplot would start (CAJAL_GNUPLOT points nowhere to prove it),
# and the statements before the failing one have run.
. "$(dirname "$0")/../lib.sh"
top=$TOP
cp "$top/tests/plot/model.cajal" "$top/tests/plot/w4.npy" "$tmp/"
cd "$tmp" || exit 1
export CAJAL_GNUPLOT=/nonexistent
unset CAJAL_PLOT
l=$(($(wc -l <model.cajal) + 2))   # the line of the statement after `print 1`

# case STATEMENT SPAN: the statement fails with the message on stdin (its first
# line without the location, then any hint), the carets under SPAN.
case_() {
    stmt=$1
    span=$2
    { cat model.cajal; echo 'print 1'; echo "$stmt"; echo 'print 2'; } >t.cajal
    "$CAJAL" t.cajal >out 2>err </dev/null
    status=$?
    prefix=${stmt%%"$span"*}
    col=$((${#prefix} + 1))
    {
        IFS= read -r first
        echo "t.cajal:$l:$col: error: $first"
        printf '%4d | %s\n' "$l" "$stmt"
        printf '     | %s%s\n' "$(printf '%s' "$prefix" | sed 's/./ /g')" "$(printf '%s' "$span" | sed 's/./^/g')"
        cat
    } >want
    if [ "$status" != 1 ] || [ "$(cat out)" != 1 ] || ! cmp -s want err; then
        echo "FAIL $stmt: exit status $status (expected 1), stdout '$(cat out)' (expected 1), stderr (- expected, + actual):"
        diff want err | sed 's/^/    /' | head -20
        failed=$((failed + 1))
    fi
}

case_ 'plot R.r' 'R.r' <<'X'
R.r was not recorded by the last simulate
hint: add record R.r to the simulate statement, as in: simulate for 1s record R.r
X
case_ 'plot u[0], E, R' 'R' <<'X'
R.r was not recorded by the last simulate
hint: add record R.r to the simulate statement, as in: simulate for 1s record R.r
X
case_ 'plot loss' 'loss' <<'X'
nothing has been trained yet: plot loss draws the cost terms over the steps of a train statement
X
case_ 'plot J.w[0] vs u[0]' 'J.w[0]' <<'X'
J.w[0] does not change over time; vs draws one recorded trace against another, as in plot E.r[0] vs E.r[1]
X
case_ 'plot E.v vs u[0]' 'E.v' <<'X'
E.v is 2 traces; vs takes one on each side, as in E.r[0] vs E.r[1]
X
case_ 'plot E.v[0] vs R.r[0]' 'R.r' <<'X'
R.r was not recorded by the last simulate
hint: add record R.r to the simulate statement, as in: simulate for 1s record R.r
X
case_ 'plot R.tau' 'R.tau' <<'X'
R.tau is one number (10 ms); print shows it
X
case_ 'plot J.w[1, 2]' 'J.w[1, 2]' <<'X'
J.w[1, 2] is one number (0.5); print shows it
X
case_ 'plot sum(E.v) * 2' 'sum(E.v) * 2' <<'X'
cannot draw sum(E.v) * 2 over time: its value has no time axis
hint: sum, mean, l1 and l2 reduce over time too unless they are the outermost call, as in plot mean(E.r)
X
case_ 'plot 2 * hist(J.w)' 'hist(J.w)' <<'X'
hist(...) is a panel of its own: write it as a separate plot item, as in plot E.r, hist(J.w)
X
case_ 'plot E.v + loss' 'loss' <<'X'
loss is a panel of its own: write it as a separate plot item, as in plot E.r, loss
X
case_ 'plot hist(loss)' 'loss' <<'X'
hist takes values, as in hist(J.w) or hist(E.r)
X
case_ 'plot E.v[0], J.w to "fig.jpg"' 'plot E.v[0], J.w to "fig.jpg"' <<'X'
cannot plot to 'fig.jpg': unknown file type '.jpg'; use .png, .svg, .pdf or .gp
X

# Nothing has been simulated: the model without its simulate statement.
grep -v '^simulate' model.cajal >m2.cajal
{ cat m2.cajal; echo 'plot E.v[0]'; } >t.cajal
"$CAJAL" t.cajal >out 2>err </dev/null
grep -q "error: nothing has been simulated yet, so there is no recording of E.v to plot" err &&
    grep -q "hint: simulate first and record it, as in: simulate for 1s record E.v" err || {
    echo "FAIL plot before simulate:"
    sed 's/^/    /' err
    failed=$((failed + 1))
}
# Weights need no simulation: their heat map goes to a file without one.
unset CAJAL_GNUPLOT
{ cat m2.cajal; echo 'plot J.w, hist(J.w) to "w.svg"'; } >t.cajal
if ! "$CAJAL" t.cajal >out 2>err </dev/null || ! [ -s w.svg ]; then
    echo "FAIL plot J.w before simulate:"
    sed 's/^/    /' err
    failed=$((failed + 1))
fi
[ "$failed" = 0 ]

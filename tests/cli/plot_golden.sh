#!/bin/sh
# plot in the terminal, as text: the output of fixed small plots is compared
# with golden files in tests/plot/ (stmt_*.txt). The model is tests/plot/model.cajal
# (a voltage driven by a 5 Hz sine, a 4x4 weight matrix loaded from w4.npy);
# each case appends one plot statement to it. CAJAL_PLOT=text draws text even
# though stdout is a file, and COLUMNS x LINES fixes the size (plot.h: the
# window's size when stdout is a terminal, else these).
#
# After a deliberate change, rewrite the golden files with
#   CAJAL_UPDATE_GOLDEN=1 sh tests/cli/plot_golden.sh
# and read the diff.
. "$(dirname "$0")/../lib.sh"
top=$TOP

if ! command -v gnuplot >/dev/null 2>&1 && [ -z "${CAJAL_GNUPLOT:-}" ]; then
    echo "FAIL plot_golden.sh: gnuplot is not installed (make test installs gnuplot-nox)"
    exit 1
fi
cp "$top/tests/plot/model.cajal" "$top/tests/plot/w4.npy" "$tmp/"
cd "$tmp" || exit 1

# golden NAME STATEMENT [LINES]: runs the model and STATEMENT at 60 columns and
# LINES lines (default 20), compares stdout.
golden() {
    name=$1
    cp model.cajal "$name.cajal"
    echo "$2" >>"$name.cajal"
    CAJAL_PLOT=text COLUMNS=60 LINES=${3:-20} NO_COLOR=1 TERM=dumb \
        "$CAJAL" "$name.cajal" >"$name.out" 2>"$name.err" </dev/null
    status=$?
    if [ "$status" != 0 ] || [ -s "$name.err" ]; then
        echo "FAIL $2: exit status $status, stderr:"
        sed 's/^/    /' "$name.err" | head -10
        failed=$((failed + 1))
        return
    fi
    want="$top/tests/plot/$name.txt"
    if [ -n "${CAJAL_UPDATE_GOLDEN:-}" ]; then
        cp "$name.out" "$want"
        echo "wrote $want"
    elif ! cmp -s "$want" "$name.out"; then
        echo "FAIL $2: output differs from tests/plot/$name.txt (- expected, + actual)"
        diff "$want" "$name.out" | sed 's/^/    /' | head -40
        failed=$((failed + 1))
    fi
}

golden stmt_sine 'plot E.v[0]'             # one trace, time in ms, voltage in mV
golden stmt_heat4 'plot J.w'               # drawn by cajal: row 0 at the top
golden stmt_panels 'plot mean(E.v), hist(J.w)' 40   # two panels stacked, 19 lines each

[ "$failed" = 0 ]

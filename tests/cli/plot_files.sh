#!/bin/sh
# plot ... to FILE: the files are opened as what they claim to be (a PNG decoded
# by tests/plot/pngcheck.c for its size and number of distinct colours, an SVG
# through xmllint, a PDF's header and trailer, a .gp script run by gnuplot); a
# plot with no file when stdout is not a terminal prints one line and succeeds;
# a missing or failing gnuplot is an error at the statement, not a crash. At the
# end no gnuplot started here is still running, and no temporary file is left
# in the target folder or in TMPDIR.
. "$(dirname "$0")/../lib.sh"
top=$TOP

real=$(command -v gnuplot) || {
    echo "FAIL plot_files.sh: gnuplot is not installed (make test installs gnuplot-nox)"
    exit 1
}
${CC:-cc} -std=c11 -O1 -o "$tmp/pngcheck" "$top/tests/plot/pngcheck.c" -lz || {
    echo "FAIL plot_files.sh: cannot build tests/plot/pngcheck.c"
    exit 1
}
# A gnuplot that notes its process id, then becomes the real one (same pid).
cat >"$tmp/gnuplot" <<EOF
#!/bin/sh
echo \$\$ >>"$tmp/pids"
exec "$real" "\$@"
EOF
# A gnuplot that fails as gnuplot does, with a line number on stderr.
cat >"$tmp/badplot" <<'EOF'
#!/bin/sh
cat >/dev/null
echo '         line 7: undefined variable: oops' >&2
exit 1
EOF
chmod +x "$tmp/gnuplot" "$tmp/badplot"
export CAJAL_GNUPLOT="$tmp/gnuplot"
mkdir "$tmp/work" "$tmp/tmpdir"
export TMPDIR="$tmp/tmpdir"
unset CAJAL_PLOT
before=$(pgrep -x gnuplot | sort)
cp "$top/tests/plot/model.cajal" "$top/tests/plot/w4.npy" "$tmp/work/"
cd "$tmp/work" || exit 1

# run STATUS STATEMENTS...: the model, then the statements, one a line (lib.sh's
# same, out and err check what it printed).
run() {
    want=$1
    shift
    what=$*
    cp model.cajal t.cajal
    for s in "$@"; do echo "$s" >>t.cajal; done
    "$CAJAL" t.cajal >"$tmp/out" 2>"$tmp/err" </dev/null
    status=$?
    if [ "$status" != "$want" ]; then
        fail "$what: exit status $status, expected $want"
        sed 's/^/    /' "$tmp/err" | head -10
    fi
}
# png FILE W H: a real PNG of that size with more than 20 colours.
png() {
    if ! got=$("$tmp/pngcheck" "$1" 2>&1); then
        fail "$1: $got"
        return
    fi
    set -- "$1" "$2" "$3" $got
    [ "$4" = "$2" ] && [ "$5" = "$3" ] || fail "$1 is $4 x $5, expected $2 x $3"
    [ "$6" -gt 20 ] || fail "$1 has $6 colours: a blank picture"
}
l=$(($(wc -l <model.cajal) + 1))   # the line of the first statement added

# ---- into files
run 0 'plot E.v, J.w, hist(J.w), E.v[0] vs u[0] to "all.png"' 'plot J.w to "w.PNG"'
same err </dev/null
png all.png 900 1440
png w.PNG 640 540

run 0 'plot E.v[0:2], J.w to "fig.svg"'
if ! xmllint --noout fig.svg 2>"$tmp/xml"; then
    fail "fig.svg is not well-formed XML:"
    sed 's/^/    /' "$tmp/xml" | head -5
fi
grep -q '<svg' fig.svg && grep -q 'E.v (mV)' fig.svg && grep -q 'time (ms)' fig.svg ||
    fail "fig.svg lacks the svg element or the axis labels 'E.v (mV)' and 'time (ms)'"

run 0 'plot E.v to "v.pdf"'
[ "$(head -c 5 v.pdf)" = "%PDF-" ] || fail "v.pdf does not start with %PDF-"
tail -c 16 v.pdf | grep -q '%%EOF' || fail "v.pdf does not end with %%EOF"
[ "$(wc -c <v.pdf)" -gt 2000 ] || fail "v.pdf is too small to hold a plot"

# .gp: the script and its data beside it; gnuplot run in the folder draws fig.png.
mkdir gp
run 0 'plot E.v[0], J.w to "gp/fig.gp"'
for f in fig.gp fig_1.dat fig_2.dat; do [ -s "gp/$f" ] || fail "gp/$f was not written"; done
head -1 gp/fig_1.dat | grep -q '^#' || fail "gp/fig_1.dat has no header line"
(cd gp && "$real" fig.gp) || fail "gnuplot fig.gp failed"
png gp/fig.png 900 720

# ---- no file and not a terminal: one line on stderr, and the script goes on
run 0 'print 1' 'plot E.v[0]' 'print 2'
same out <<'X'
1
2
X
same err <<'X'
plot skipped: output is not a terminal (write it to a file with: plot ... to "fig.png")
X

# ---- gnuplot missing or failing: an error at the statement, no file, exit 1
CAJAL_GNUPLOT=/nonexistent run 1 'print 1' 'plot J.w to "m.png"' 'print 2'
same out <<'X'
1
X
same err <<X
t.cajal:$((l + 1)):1: error: gnuplot is not installed; install it with: sudo apt-get install gnuplot-nox
$(printf '%4d' $((l + 1))) | plot J.w to "m.png"
     | ^^^^^^^^^^^^^^^^^^^
hint: CAJAL_GNUPLOT is set to '/nonexistent'; unset it to use gnuplot from PATH
X
[ -e m.png ] && fail "a missing gnuplot left m.png"
CAJAL_PLOT=text CAJAL_GNUPLOT=/nonexistent run 1 'plot E.v[0]'
grep -q 'error: gnuplot is not installed' "$tmp/err" || fail "$what: no message for the missing gnuplot"

echo old >w.png
CAJAL_GNUPLOT="$tmp/badplot" run 1 'plot J.w to "w.png"'
same err <<X
t.cajal:$l:1: error: gnuplot: undefined variable: oops
$(printf '%4d' $l) | plot J.w to "w.png"
     | ^^^^^^^^^^^^^^^^^^^
X
[ "$(cat w.png)" = old ] || fail "a failed plot changed the existing w.png"

# ---- nothing left behind
leftover=$( (ls -A .; ls -A gp) | grep '^\.')
[ -z "$leftover" ] || fail "temporary files left in the target folder: $leftover"
[ -z "$(ls -A "$tmp/tmpdir")" ] || fail "files left in TMPDIR: $(ls -A "$tmp/tmpdir")"
[ -s "$tmp/pids" ] || fail "the gnuplot stand-in never ran: CAJAL_GNUPLOT was not used"
for pid in $(cat "$tmp/pids" 2>/dev/null); do
    [ -d "/proc/$pid" ] && fail "gnuplot $pid is still running after its plot"
done
after=$(pgrep -x gnuplot | sort)
for pid in $after; do
    echo "$before" | grep -qx "$pid" && continue
    grep -qx "$pid" "$tmp/pids" && fail "gnuplot $pid started here is still running"
done
[ "$failed" = 0 ]

#!/bin/sh
# Plots in the REPL. Piped (no terminal): `:set plot` shows and changes where
# terminal plots go (text draws even into a pipe; auto skips with one line on
# stderr; another word is refused). In a terminal (tmux): a plot typed at the
# prompt is drawn in the window as text before the prompt comes back, and the
# session goes on.
. "$(dirname "$0")/../lib.sh"
case "$CAJAL" in /*) ;; *) CAJAL=$(pwd)/$CAJAL ;; esac
sock="cajal-plot-$$"
cleanup() {
    tmux -L "$sock" kill-server 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
cp "$TOP/tests/plot/model.cajal" "$TOP/tests/plot/w4.npy" "$tmp/"
cd "$tmp" || exit 1
unset CAJAL_PLOT

# ---- piped
cat >in <<'X'
:load model.cajal
:set plot
plot J.w
:set plot text
:set plot
plot J.w
:set plot bogus
:set plot   auto
plot J.w
X
COLUMNS=60 LINES=20 NO_COLOR=1 "$CAJAL" <in >out 2>err
status=$?
[ "$status" = 1 ] || fail "piped session: exit status $status, expected 1 (for ':set plot bogus')"
{
    echo "plot auto"
    echo "plot text"
    cat "$TOP/tests/plot/stmt_heat4.txt"
    echo ":set plot takes text, sixel or auto"
} >want
if ! cmp -s want out; then
    fail "piped session: stdout differs (- expected, + actual)"
    diff want out | sed 's/^/    /' | head -30
fi
n=$(grep -c '^plot skipped: output is not a terminal' err)
[ "$n" = 2 ] || fail "piped session: $n 'plot skipped' lines on stderr, expected 2"

# ---- in a terminal
if ! command -v tmux >/dev/null; then
    fail "tmux is not installed (make test installs it)"
    exit 1
fi
tmux -L "$sock" -f /dev/null new-session -d -x 80 -y 50 \
    "cd '$tmp' && HOME='$tmp' CAJAL_HISTORY=/dev/null TERM=xterm NO_COLOR=1 '$CAJAL'; echo EXITED \$?; sleep 30"
screen() { tmux -L "$sock" capture-pane -p -S -300; }
send() { tmux -L "$sock" send-keys "$@"; }
# Waits (up to about 10 s, a guard against hangs, not a timing test) for text.
wait_for() {
    i=0
    while ! screen | grep -q -F -- "$1"; do
        i=$((i + 1))
        if [ $i -gt 200 ]; then
            fail "the screen never showed: $1"
            screen | grep -v "^$" | sed "s/^/    | /" | tail -30
            exit 1
        fi
        sleep 0.05
    done
}
# The prompt is the last line with text: the plot came before it.
prompt_last() {
    last=$(screen | grep -v '^ *$' | tail -1)
    case "$last" in "cajal>"*) ;; *) fail "after $1 the last line is '$last', not the prompt" ;; esac
}
wait_for "cajal>"
send ':load model.cajal' Enter ':set plot text' Enter 'plot E.v[0]' Enter
wait_for "E.v[0] *******"
sleep 0.3
prompt_last 'plot E.v[0]'
screen | grep -q 'time (ms)' || fail "the terminal plot has no time axis 'time (ms)'"
screen | grep -q 'E.v (mV)' || fail "the terminal plot has no y label 'E.v (mV)'"
send 'plot J.w' Enter
wait_for "R (post)"
sleep 0.3
prompt_last 'plot J.w'
send 'print 40 + 2' Enter
wait_for "42"
send C-d
wait_for "EXITED 0"
[ "$failed" = 0 ]

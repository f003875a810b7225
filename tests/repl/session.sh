#!/bin/sh
# Drives the REPL through a pseudo-terminal (tmux), typing as a person does:
# a multi-line declaration, tab completion of a name and of members after a dot,
# a bad line and a good line after it, a re-declaration, Ctrl-C at the prompt,
# :names and :help, and Ctrl-D; then checks the screen and the history file.
set -eu
CAJAL=$(cd "$(dirname "${CAJAL:-./cajal}")" && pwd)/$(basename "${CAJAL:-./cajal}")
command -v tmux >/dev/null || { echo "tmux is not installed (make test installs it)"; exit 1; }
work=$(mktemp -d)
sock="cajal-repl-$$"
cleanup() { tmux -L "$sock" kill-server 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT INT TERM

tmux -L "$sock" -f /dev/null new-session -d -x 110 -y 60 \
    "cd '$work' && HOME='$work' CAJAL_HISTORY='$work/history' TERM=xterm '$CAJAL'; echo EXITED \$?; sleep 30"
screen() { tmux -L "$sock" capture-pane -p -S -200; }
send() { tmux -L "$sock" send-keys "$@"; }
# Waits (up to about 10 s, a guard against hangs, not a timing test) for text.
wait_for() {
    i=0
    while ! screen | grep -q -F -- "$1"; do
        i=$((i + 1))
        if [ $i -gt 200 ]; then
            echo "screen never showed: $1"
            screen | grep -v "^$" | sed "s/^/    | /"
            exit 1
        fi
        sleep 0.05
    done
}
expect_not() {
    if screen | grep -q -F -- "$1"; then
        echo "screen shows what it should not: $1"
        screen | sed 's/^/    | /'
        exit 1
    fi
}

wait_for "cajal>"
# A multi-line declaration: the open brace asks for more with "...>".
send 'neuron Foo(tau = 10ms) {' Enter
wait_for "...>"
send '  tau * dx/dt = -x + in' Enter '  r = tanh(x)' Enter '}' Enter
# Tab completes a declared name...
send 'population E = Fo' Tab
wait_for "population E = Foo"
send '(10)' Enter
# ...and members after a dot.
send 'print E.' Tab Tab
wait_for "E.tau"
wait_for "E.x"
send C-u
# A bad line reports a located error; the good line after it works.
send 'let bad = 10ms + 1mV' Enter
wait_for "error: cannot add a voltage (mV) to a time (ms)"
wait_for "                 ^^^"
send 'let good = 200pF / 10nS' Enter 'print good' Enter
wait_for "20 ms"
send 'print bad' Enter
wait_for "unknown name 'bad'"
# Re-declaring replaces and says so.
send 'population E = Rate(20)' Enter
wait_for "population 'E' replaces the one declared at <repl>:5"
# Ctrl-C at the prompt drops the open entry.
send 'let c = (1 +' Enter
wait_for "...>"
send C-c
send 'print 6 * 7' Enter
wait_for "42"
send ':names' Enter
wait_for "population E       Rate, 20 neurons"
send ':help let' Enter
wait_for "let NAME = EXPR"
send C-d
wait_for "EXITED 0"
expect_not "AddressSanitizer"
expect_not "runtime error"
grep -q "let good = 200pF / 10nS" "$work/history" || { echo "history was not saved"; exit 1; }
echo "repl session: ok"

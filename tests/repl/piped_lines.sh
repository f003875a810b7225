#!/bin/sh
# A session piped into the REPL: an error names the line of stdin it is on,
# counting the lines that hold :commands, blank lines and comments.
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/session.txt" <<'X'
let a = 1
:names
:help let
nope1
let b = [1,
2]
nope2


# a comment
nope3
X
"$CAJAL" <"$tmp/session.txt" >"$tmp/out" 2>"$tmp/err"
status=$?
[ "$status" = 1 ] || fail "piped_lines.sh: exit status $status, expected 1"
grep '^<stdin>' "$tmp/err" >"$tmp/located"
what="cajal < session.txt"
same located <<'X'
<stdin>:4:1: error: unknown name 'nope1'
<stdin>:7:1: error: unknown name 'nope2'
<stdin>:11:1: error: unknown name 'nope3'
X
[ "$failed" = 0 ]

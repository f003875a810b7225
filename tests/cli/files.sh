#!/bin/sh
# Files given on the command line: missing, directories, unreadable, empty,
# Windows line endings, binary, and very long lines.
. "$(dirname "$0")/../lib.sh"

cd "$tmp" || exit 1
mkdir folder.cajal
ln -s /proc/self/mem unreadable.cajal

# Files that cannot be read: reported without a location, status 1.
run 1 nothere.cajal
err <<'X'
cajal: error: cannot read 'nothere.cajal': no such file
X
run 1 folder.cajal
err <<'X'
cajal: error: cannot read 'folder.cajal': is a directory, not a file
X
run 1 unreadable.cajal
err <<'X'
cajal: error: cannot read 'unreadable.cajal': could not be read
X
run 1 --check nothere.cajal
err <<'X'
cajal: error: cannot read 'nothere.cajal': no such file
X
run 1 --dump-ast nothere.cajal
err <<'X'
cajal: error: cannot read 'nothere.cajal': no such file
X
run 1 --dump-ast folder.cajal
err <<'X'
cajal: error: cannot read 'folder.cajal': is a directory, not a file
X

# An empty file, or one of comments and blank lines, does nothing and succeeds.
: >empty.cajal
run 0 empty.cajal
out </dev/null
err </dev/null
printf '# nothing\n\n/* still\nnothing */\n' >comments.cajal
run 0 comments.cajal
err </dev/null

# Windows line endings read like Unix ones; the echoed line drops the \r.
printf 'let a = 1\r\nprint a\r\nprint zz\r\n' >crlf.cajal
run 1 crlf.cajal
out </dev/null
err <<'X'
crlf.cajal:3:7: error: unknown name 'zz'
   3 | print zz
     |       ^^
X
printf 'let a = 1\r\nprint a\r\n' >crlf_ok.cajal
run 0 crlf_ok.cajal
out <<'X'
1
X

# A file that is not text: each bad byte is reported, up to the cap of 20
# errors, then a count of the rest; unprintable bytes echo as '?'.
printf '\000\001\002\003\004\005\006\007\010\016\017\020\021\022\023\024\025\026\027\030\031\032\033\034\035\036' >binary.cajal
run 1 binary.cajal
err_head 3 <<'X'
binary.cajal:1:1: error: unexpected NUL byte
   1 | ??????????????????????????
     | ^
X
tail -n 1 "$tmp/err" >"$tmp/last"; cp "$tmp/last" "$tmp/err"
err <<'X'
cajal: 6 more errors not shown
X

# A 10 MB comment line and a 1 MB string are read whole.
awk 'BEGIN { s = "# "; for (i = 0; i < 20; i++) s = s s; print substr(s, 1, 10000000); print "print 7" }' >long.cajal
run 0 long.cajal
out <<'X'
7
X
awk 'BEGIN { s = "ab"; for (i = 0; i < 19; i++) s = s s; printf "let s = \"%s\"\nprint 8\n", s }' >string.cajal
run 0 string.cajal
out <<'X'
8
X

[ "$failed" = 0 ]

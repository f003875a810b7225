#!/bin/sh
# Where import looks (the script's folder, -I, $CAJAL_PATH, the standard
# library) and what it says when a module is missing or unreadable.
. "$(dirname "$0")/../lib.sh"

# stderr with the source tree's path written as TOP
err_top_head4() { sed "s|$top|TOP|g" "$tmp/err" | head -n 4 >"$tmp/err_top"; same err_top; }
err_top() { sed "s|$top|TOP|g" "$tmp/err" >"$tmp/err_top"; same err_top; }

top=$TOP
CAJAL_STDLIB="$top/stdlib"
export CAJAL_STDLIB
cd "$tmp" || exit 1
mkdir -p lib1 lib2 scripts dir.cajal
printf 'neuron One(tau = 1ms) {\n  tau * dx/dt = -x + in\n  r = x\n}\n' >lib1/one.cajal
printf 'let two = 2\n' >lib2/two.cajal
printf 'let here = 3\n' >scripts/here.cajal
printf 'import "here"\nimport "one"\nimport "two"\npopulation P = One(2)\nprint here + two\n' >scripts/main.cajal
ln -s /proc/self/mem lib1/unreadable.cajal

# The script's folder first, then -I, then $CAJAL_PATH.
CAJAL_PATH=lib2
export CAJAL_PATH
run 0 -I lib1 scripts/main.cajal
out <<'X'
5
X
CAJAL_PATH="$tmp/lib2:$tmp/lib1"
run 0 scripts/main.cajal
out <<'X'
5
X
unset CAJAL_PATH
# -e reads modules from the current folder; ".cajal" may be written.
cp lib2/two.cajal .
run 0 -e 'import "two.cajal"' -e 'print two'
out <<'X'
2
X

# A missing module lists where it looked, in order.
CAJAL_PATH=lib2
export CAJAL_PATH
run 1 scripts/main.cajal
err_top_head4 <<'X'
scripts/main.cajal:2:8: error: module 'one' not found
   2 | import "one"
     |        ^^^^^
hint: looked in scripts/one.cajal, lib2/one.cajal, TOP/stdlib/one.cajal
X
unset CAJAL_PATH
run 1 -I lib1 -I lib2 -e 'import "zz"'
err_top <<'X'
<command line>:1:8: error: module 'zz' not found
   1 | import "zz"
     |        ^^^^
hint: looked in ./zz.cajal, lib1/zz.cajal, lib2/zz.cajal, TOP/stdlib/zz.cajal
X
# A folder named like a module is not a module.
run 1 -e 'import "dir"'
err_head 1 <<'X'
<command line>:1:8: error: module 'dir' not found
X
run 1 -I lib1 -e 'import "unreadable"'
err <<'X'
<command line>:1:8: error: cannot read module 'unreadable' (lib1/unreadable.cajal): could not be read
   1 | import "unreadable"
     |        ^^^^^^^^^^^^
X

[ "$failed" = 0 ]

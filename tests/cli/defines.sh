#!/bin/sh
# -D name=value overrides a let: its forms, its units, and the usage errors
# that list the script's lets.
. "$(dirname "$0")/../lib.sh"

cat >"$tmp/lets.cajal" <<'X'
let N = 128
let g = 1.5
let tau = 10ms
print N, g, tau
X
printf 'print 1\n' >"$tmp/nolets.cajal"
cd "$tmp" || exit 1

# -D overrides a let, with units, in either spelling.
run 0 -D N=256 -D tau=5ms lets.cajal
out <<'X'
256
1.5
5 ms
X
err </dev/null
run 0 -DN=2*3 lets.cajal
out <<'X'
6
1.5
10 ms
X
run 0 -D g=N/64 -D N=256 lets.cajal
out <<'X'
256
4
10 ms
X
run 0 -D N=7 --check lets.cajal
out </dev/null

# A -D without its let is a usage error that lists the lets.
run 2 -D Nn=3 lets.cajal
err <<'X'
cajal: error: -D Nn: the script has no 'let Nn'; did you mean 'N'? its lets are N, g, tau
X
run 2 -D zzzz=3 lets.cajal
err <<'X'
cajal: error: -D zzzz: the script has no 'let zzzz'; its lets are N, g, tau
X
run 2 -D N=3 nolets.cajal
err <<'X'
cajal: error: -D N: the script has no lets to override
X
run 2 -D N=3 --check nolets.cajal
err <<'X'
cajal: error: -D N: the script has no lets to override
X
# With -e, the -D is checked against every snippet before any of them runs.
run 2 -D N=3 -e 'print 1'
out </dev/null
err <<'X'
cajal: error: -D N: the script has no lets to override
X
run 2 -D M=3 -e 'print 1' -e 'let N = 2'
out </dev/null
err <<'X'
cajal: error: -D M: the script has no 'let M'; did you mean 'N'? its lets are N
X
run 0 -D N=3 -e 'print 1' -e 'let N = 2' -e 'print N'
out <<'X'
1
3
X
# Several -e are named apart in messages; none runs when one is wrong.
run 1 -e 'print 1' -e 'print 1+'
out </dev/null
err <<'X'
<-e 2>:1:9: error: unexpected end of input; expected an expression
   1 | print 1+
     |         ^
X

# The value keeps the let's unit.
run 1 -D tau=5 --check lets.cajal
err_head 3 <<'X'
<command line>:1:1: error: -D tau gives a number without unit, but the script's tau is a time (ms)
   1 | 5
     | ^
X
run 1 -D N=5ms --check lets.cajal
err_head 3 <<'X'
<command line>:1:1: error: -D N gives a time (ms), but the script's N is a number without unit
   1 | 5ms
     | ^^^
X

# A -D must give the same kind of value as the let: not a string for a number.
run 1 -D 'g="a"' --check lets.cajal
err_head 3 <<'X'
<command line>:1:1: error: -D g gives a string, but the script's g is a number without unit
   1 | "a"
     | ^^^
X
# A rejected -D is the only error: the let keeps the script's value, so the
# lines that use it do not report it unknown.
run 1 -D tau=5 lets.cajal
grep -c 'error:' "$tmp/err" >"$tmp/count"
same count <<'X'
1
X
out </dev/null
# Given twice, the last -D wins.
run 0 -D N=1 -D N=2 lets.cajal
out <<'X'
2
1.5
10 ms
X
err </dev/null
# What -D takes: name=expression.
for bad in N '=3' 'N=' '2N=3' 'N-1=3' 'a b=1'; do
    run 2 -D "$bad" lets.cajal
    err <<X
cajal: error: -D takes name=value, as in -D N=256 or -D tau=20ms (got '$bad')
X
done
run 2 -D 'N=1;2' lets.cajal
err <<'X'
<command line>:1:1: error: -D N needs a value, as in -D N=256
   1 | 1;2
     | ^^^
X
run 2 -D 'N=let x = 1' lets.cajal
err <<'X'
<command line>:1:1: error: -D N needs a value, as in -D N=256
   1 | let x = 1
     | ^^^^^^^^^
X
run 2 -D 'N=1+' lets.cajal
err <<'X'
<command line>:1:3: error: unexpected end of input; expected an expression
   1 | 1+
     |   ^
X
run 2 -D 'N=(1' lets.cajal
err <<'X'
<command line>:1:3: error: expected ')' to close '(' opened at 1:1
   1 | (1
     |   ^
X
run 2 -D g=1e400 lets.cajal
out </dev/null
err <<'X'
<command line>:1:1: error: number too large: 1e400 is more than the largest number, about 1.8e308
   1 | 1e400
     | ^^^^^
X
run 1 -D N=zzzz --check lets.cajal
err_head 3 <<'X'
<command line>:1:1: error: unknown name 'zzzz'
   1 | zzzz
     | ^^^^
X

[ "$failed" = 0 ]

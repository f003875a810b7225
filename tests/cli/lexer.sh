#!/bin/sh
# Lexer messages whose full text the golden scripts cannot hold: the unknown
# unit hint, and carets under UTF-8 text and tabs.
. "$(dirname "$0")/../lib.sh"

cd "$tmp" || exit 1
# An unknown unit suggests the product and lists the units (the middle of the
# list is not checked here).
printf 'let a = 10xs\nlet b = 3e\n' >unit.cajal
run 1 unit.cajal
grep '^hint:' "$tmp/err" | head -n 1 >hint
case $(cat hint) in
"hint: to multiply, write 10 * xs; "*"e.g. ms mV nS pF uA kHz Mohm mM") ;;
*) echo "FAIL unknown unit hint: $(cat hint)"; failed=$((failed + 1)) ;;
esac
head -n 3 "$tmp/err" >head3
same head3 <<'X'
unit.cajal:1:11: error: unknown unit 'xs'
   1 | let a = 10xs
     |           ^^
X
# The caret counts characters, not bytes, and tabs are kept.
printf 'let \317\204 = "\316\274" + 1\n\tlet q = 2 $\n' >utf8.cajal
run 1 utf8.cajal
same err <<'X'
utf8.cajal:1:9: error: this operator needs a number, not a string
   1 | let τ = "μ" + 1
     |         ^^^
utf8.cajal:2:12: error: unexpected character '$'
   2 | 	let q = 2 $
     | 	          ^
X
# A number ending in e lacks its exponent's digits: no "write 3 * e".
printf 'let b = 3e\nlet c = 1.5E\n' >exponent.cajal
run 1 exponent.cajal
grep -E '^hint:|error:' "$tmp/err" >hints
same hints <<'X'
exponent.cajal:1:10: error: unknown unit 'e'
hint: an exponent needs digits, as in 3e-3
exponent.cajal:2:12: error: unknown unit 'E'
hint: an exponent needs digits, as in 1.5e-3
X
# A span longer than the shown window gets carets under the window only.
{ printf 'print '; awk 'BEGIN { for (i = 0; i < 5000; i++) printf "x" }'; printf '\n'; } >longname.cajal
run 1 longname.cajal
awk 'NR == 3 { print length($0) }' "$tmp/err" >width
same width <<'X'
210
X
# A stray byte that is not UTF-8 is one column, shown as '?' with a caret
# under it, and the columns after it count it.
printf '\244print 1\nprint 1 \244\024\n' >badutf.cajal
run 1 badutf.cajal
err <<'X'
badutf.cajal:1:1: error: invalid UTF-8 byte 0xA4
   1 | ?print 1
     | ^
badutf.cajal:2:9: error: invalid UTF-8 byte 0xA4
   2 | print 1 ??
     |         ^
badutf.cajal:2:10: error: unexpected control character 0x14
   2 | print 1 ??
     |          ^
X
# A UTF-8 byte order mark at the start of a file is skipped silently.
printf '\357\273\277print zz\n' >bom.cajal
run 1 bom.cajal
out <<'X'
X
grep 'error:' "$tmp/err" >errs
same errs <<'X'
bom.cajal:1:7: error: unknown name 'zz'
X
printf '\357\273\277print 1\n' >bom2.cajal
run 0 bom2.cajal
out <<'X'
1
X
[ "$failed" = 0 ]

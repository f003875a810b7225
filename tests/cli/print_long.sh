#!/bin/sh
# print writes a value whole, however long: a 3000-item list and a 5000-byte
# string were cut at 4095 bytes with no mark.
. "$(dirname "$0")/../lib.sh"

cd "$tmp" || exit 1
awk 'BEGIN { printf "print ["; for (i = 0; i < 3000; i++) printf "%s%d", i ? ", " : "", i; printf "]\n" }' >list.cajal
run 0 list.cajal
awk 'BEGIN { printf "["; for (i = 0; i < 3000; i++) printf "%s%d", i ? ", " : "", i; printf "]\n" }' >want
cmp -s want out || fail "cajal list.cajal: the list is not printed whole ($(wc -c <out) bytes, expected $(wc -c <want))"
awk 'BEGIN { printf "print \""; for (i = 0; i < 5000; i++) printf "y"; printf "z\"\n" }' >str.cajal
run 0 str.cajal
awk 'BEGIN { for (i = 0; i < 5000; i++) printf "y"; printf "z\n" }' >want
cmp -s want out || fail "cajal str.cajal: the string is not printed whole ($(wc -c <out) bytes, expected $(wc -c <want))"
[ "$failed" = 0 ]

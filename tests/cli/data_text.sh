#!/bin/sh
# The character model of examples/data_text.cajal, trained for 400 steps on
# Debian's GPL-3 (/usr/share/common-licenses), predicts the held-out 10% at a
# perplexity at most 0.6 of the single-character-frequency baseline (both on
# the evaluate line; the run gets near 0.26), then samples 200 characters of
# the file's own vocabulary after its prompt. Skips, saying so, where the
# licence texts are not installed.
. "$(dirname "$0")/../lib.sh"
FILE=/usr/share/common-licenses/GPL-3
if [ ! -r "$FILE" ]; then
    echo "skip: $FILE is not installed (Debian's base-files)"
    exit 0
fi
bytes() { od -An -v -tu1 "$1" | tr -s ' ' '\n' | sed '/^$/d' | sort -u; }
bytes "$FILE" >"$tmp/vocab"
V=$(wc -l <"$tmp/vocab")

if ! (cd "$TOP" && "$CAJAL" -D V="$V" examples/data_text.cajal >"$tmp/out" 2>"$tmp/err" </dev/null); then
    fail "examples/data_text.cajal: exit status not 0"
    sed 's/^/    /' "$tmp/err" | head -10
fi
line=$(sed -n 1p "$tmp/out")
ppl=$(printf '%s\n' "$line" | sed -n 's/.* perplexity=\([^ ]*\).*/\1/p')
base=$(printf '%s\n' "$line" | sed -n 's/.* baseline_perplexity=\([^ ]*\).*/\1/p')
if [ -z "$ppl" ] || [ -z "$base" ]; then
    fail "no perplexities in the evaluate line '$line'"
else
    awk -v p="$ppl" -v b="$base" 'BEGIN { exit !(p <= 0.6 * b && b > 20) }' ||
        fail "held-out perplexity $ppl is not at most 0.6 of the baseline $base"
fi
# The sample: "The " and 200 characters (newlines among them), then a newline.
sed 1d "$tmp/out" >"$tmp/sample"
n=$(wc -c <"$tmp/sample")
[ "$n" -eq 205 ] || fail "sample printed $n bytes, not 4 + 200 + 1"
[ "$(head -c 4 "$tmp/sample")" = "The " ] || fail "the sample does not start with its prompt 'The '"
head -c 204 "$tmp/sample" >"$tmp/text"
bytes "$tmp/text" | comm -23 - "$tmp/vocab" >"$tmp/foreign"
[ -s "$tmp/foreign" ] && fail "the sample has bytes that $FILE never has: $(tr '\n' ' ' <"$tmp/foreign")"
[ "$failed" = 0 ]

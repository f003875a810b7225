#!/bin/sh
# Capabilities not built yet (include/pending.def): a statement that needs
# one parses and checks, then stops with a message naming what is missing and
# what to use meanwhile. The statements to try come from pending.def itself,
# so this test follows the table as entries are removed.
. "$(dirname "$0")/../lib.sh"

# run STATUS ARGS...: as lib.sh's, with $tmp/in as stdin.
run() {
    want=$1
    shift
    what="cajal $*"
    "$CAJAL" "$@" >"$tmp/out" 2>"$tmp/err" <"$tmp/in"
    status=$?
    if [ "$status" != "$want" ]; then
        echo "FAIL $what: exit status $status, expected $want"
        sed 's/^/    /' "$tmp/err" | head -10
        failed=$((failed + 1))
    fi
}

top=$TOP
cd "$tmp" || exit 1
: >"$tmp/in"

# KEY|WORD|STATEMENT|SPAN: a statement that needs the capability KEY, the word
# the message names, and the text its carets underline (the whole statement
# unless given). Capabilities no longer in pending.def are skipped.
cat >cases <<'X'
SIMULATE|simulate|simulate for 1s|
TRAIN|train|train on ff steps 10|
EVALUATE|evaluate|evaluate on ff|
SAVE|save|save "net.npz"|
LOAD|load|load "net.npz"|
PLOT|plot|plot E.r|
RASTER|raster|raster E|
SPIKING|LIF|population S = LIF(3); simulate for 1ms|population S = LIF(3)
ANALYSIS|fixedpoints|fixedpoints|
ANALYSIS|eig|eig J.w|
ANALYSIS|pca|pca E.r|
ANALYSIS|lyapunov|lyapunov|
ANALYSIS|energy|energy|
SAMPLE|sample|sample 10|
DATA|data|data d = npy("x.npy")|
EXTERN|extern|extern "libm.so.6" erf(x)|
MODEL_VALUES|print|print E.r|E.r
X

# Every entry of pending.def is exercised here.
if [ ! -f "$top/include/pending.def" ]; then
    echo "FAIL no include/pending.def under $top"
    exit 1
fi
sed -n 's/^PENDING(\([A-Z_]*\), "\(.*\)", "\(.*\)")$/\1|\2|\3/p' "$top/include/pending.def" >def
if [ ! -s def ] && grep -q '^PENDING(' "$top/include/pending.def"; then
    echo "FAIL pending.def: could not read its entries"
    failed=$((failed + 1))
fi
while IFS="|" read -r key need instead; do
    if ! grep -q "^$key|" cases; then
        echo "FAIL pending.sh has no statement for PENDING($key) in include/pending.def"
        failed=$((failed + 1))
    fi
done <def

n=0
while IFS='|' read -r key word stmt span; do
    line=$(grep "^$key|" def) || continue
    need=$(echo "$line" | cut -d"|" -f2)
    instead=$(echo "$line" | cut -d'|' -f3)
    n=$((n + 1))
    printf 'population E = Rate(10)\nsynapse J: E -> E\ntask ff = flipflop()\nprint 1\n%s\nprint 2\n' "$stmt" >p$n.cajal
    [ -n "$span" ] || span=$stmt
    prefix=${stmt%%"$span"*}
    col=$((${#prefix} + 1))
    carets=$(printf '%s' "$span" | sed 's/./^/g')
    pad=$(printf '%s' "$prefix" | sed 's/./ /g')
    run 1 p$n.cajal
    out <<Y
1
Y
    {
        echo "p$n.cajal:5:$col: error: '$word' cannot run yet: this version of cajal does not have $need"
        echo "   5 | $stmt"
        echo "     | $pad$carets"
        [ -z "$instead" ] || echo "hint: $instead"
    } >want_err
    same err <want_err
    sed -n 5p p$n.cajal >>all_statements
done <cases

# --check never runs, so all these statements pass it.
if [ "$n" -gt 0 ]; then
    { sed -n 1,3p p1.cajal; cat all_statements; } >all.cajal
    run 0 --check all.cajal
    err </dev/null
fi

# Piped into cajal (the REPL without prompts), each entry runs on its own: a
# pending statement stops only itself, and the session ends with status 1.
if [ "$n" -gt 0 ]; then
    sed -n '5p' p1.cajal >stmt1
    printf 'print 1\n%s\nprint 2\n' "$(cat stmt1)" >"$tmp/in"
    run 1
    out <<'Y'
1
2
Y
fi
[ "$failed" = 0 ]

#!/bin/sh
# reproduce.sh [--quick]: the lecture's comparison of gated cells, `make reproduce`.
#
# LSTM, subLSTM (Costa et al., NIPS 2017) and GRU, each of the same hidden size
# and trained with the same optimizer, steps and batch, on
#
#   scripts/reproduce/fashion.cajal   sequential Fashion-MNIST, test accuracy
#   scripts/reproduce/text.cajal      a character model of Debian's licence
#                                     texts, held-out perplexity per character
#   scripts/reproduce/adding.cajal    the adding problem at T = 50 and T = 100,
#                                     test mse (always answering 1 scores 1/6)
#
# Each script is written for the LSTM; the other cells are the same script with
# `LSTM(` swapped on its population line. The table, with parameter counts and
# each run's wall and CPU seconds, goes to results/cells.md (written whole, then
# renamed); samples of the character models go below it. One BLAS thread, so
# the CPU seconds compare runs whatever the load. About 18 minutes (8 of CPU) on two
# cores; --quick runs every script for a few steps, prints the table and keeps
# results/ as it is (a check that the pipeline works).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
CAJAL=${CAJAL:-$TOP/cajal}
HERE=$TOP/scripts/reproduce
OUT=$TOP/results/cells.md
FM=/usr/share/datasets/fashion-mnist
LICENCES=/usr/share/common-licenses
CORPUS="GPL-2 GPL-3 LGPL-2.1 Apache-2.0 GFDL-1.3 MPL-2.0"
CELLS="LSTM SubLSTM GRU"
export OPENBLAS_NUM_THREADS=1

quick=0
case "${1:-}" in
--quick) quick=1 ;;
"") ;;
*) echo "usage: sh scripts/reproduce.sh [--quick]" >&2; exit 2 ;;
esac
[ -x "$CAJAL" ] || { echo "reproduce: $CAJAL is not built; run make" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

# Sizes: what the scripts say, or a few steps for --quick.
if [ $quick = 1 ]; then
    FM_N=1000 FM_STEPS=5 TEXT_STEPS=5 ADD_STEPS=5
else
    FM_N=12000 FM_STEPS=1000 TEXT_STEPS=800 ADD_STEPS=2000
fi
FM_H=128 TEXT_H=128 ADD_H=32

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.0f", b - a }'; }

# Trainable numbers of a cell of H units on I inputs, with a readout to O
# outputs (no bias): what `save` writes. LSTM and subLSTM: four affine maps
# (W_in, W_h, b); GRU: three, the candidate's with two biases.
params() {
    case "$1" in
    GRU) echo $((3 * $4 * ($2 + $4) + 4 * $4 + $4 * $3)) ;;
    *) echo $((4 * ($4 * ($2 + $4) + $4) + $4 * $3)) ;;
    esac
}

# run NAME SCRIPT CELL [-D ...]: runs SCRIPT with CELL in place of LSTM; leaves
# the evaluate line in $tmp/NAME.eval, the rest of stdout in $tmp/NAME.rest,
# and sets wall and cpu (seconds). A failed run counts and shows its stderr.
run() {
    name=$1 script=$2 cell=$3
    shift 3
    sed "s/^population L = LSTM(/population L = $cell(/" "$HERE/$script" >"$tmp/$name.cajal"
    echo "reproduce: $name" >&2
    start=$(now)
    if [ -x /usr/bin/time ]; then
        /usr/bin/time -f %U -o "$tmp/$name.cpu" "$CAJAL" "$@" "$tmp/$name.cajal" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
    else
        "$CAJAL" "$@" "$tmp/$name.cajal" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
    fi
    status=$?
    wall=$(seconds "$start" "$(now)")
    cpu=$( [ -s "$tmp/$name.cpu" ] && awk '{ printf "%.0f", $1 }' "$tmp/$name.cpu" || echo "-")
    grep '^evaluate:' "$tmp/$name.out" | head -1 >"$tmp/$name.eval"
    grep -v '^evaluate:' "$tmp/$name.out" >"$tmp/$name.rest"
    if [ $status != 0 ] || [ ! -s "$tmp/$name.eval" ]; then
        failures=$((failures + 1))
        echo "reproduce: $name failed (exit status $status):" >&2
        grep -v '^train: step' "$tmp/$name.err" | head -10 | sed 's/^/    /' >&2
    fi
}

# field NAME KEY: KEY=value from NAME's evaluate line, or "failed".
field() {
    v=$(sed -n "s/.* $2=\([^ ]*\).*/\1/p" "$tmp/$1.eval")
    echo "${v:-failed}"
}

{
    echo "# Gated cells on real data: LSTM, subLSTM, GRU"
    echo
    rev=$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)
    [ -n "$(git -C "$TOP" status --porcelain --untracked-files=no 2>/dev/null)" ] && rev="$rev + local changes"
    [ "$CAJAL" = "$TOP/cajal" ] || rev="$rev (run with CAJAL=$CAJAL)"
    echo "Written by \`make reproduce\` (scripts/reproduce.sh) on $(date -u +%Y-%m-%d): cajal $rev,"
    echo "double precision, one BLAS thread, $(nproc) cores of $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1),"
    echo "load average $(cut -d' ' -f1 /proc/loadavg) at the start. Within a table every cell has the same"
    echo "hidden size, optimizer (Adam), learning rate, steps, batch and seed; wall and CPU are"
    echo "seconds for the whole run (reading the data, training, testing)."
    [ $quick = 1 ] && echo && echo "**--quick: a few steps each; the numbers only show that the pipeline runs.**"
    echo
} >"$tmp/table.md"

# ---- sequential Fashion-MNIST ----------------------------------------------------
{
    echo "## Sequential Fashion-MNIST"
    echo
    echo "28 steps of 28 pixels, the class after the last row. $FM_N training images"
    echo "(90% train, 10% test), $FM_STEPS steps of 64, lr 5e-3; chance is 10%."
    echo
    echo "| cell | hidden | parameters | test accuracy | wall s | CPU s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
} >>"$tmp/table.md"
if [ -r "$FM/train-images-idx3-ubyte.gz" ]; then
    for cell in $CELLS; do
        run "fashion-$cell" fashion.cajal "$cell" -D N=$FM_N -D STEPS=$FM_STEPS -D H=$FM_H
        echo "| $cell | $FM_H | $(params $cell 28 10 $FM_H) | $(field "fashion-$cell" accuracy) | $wall | $cpu |" >>"$tmp/table.md"
    done
else
    echo "| (skipped: $FM is not installed, Debian's dataset-fashion-mnist) | | | | | |" >>"$tmp/table.md"
fi

# ---- character model -------------------------------------------------------------
: >"$tmp/licences.txt"
for f in $CORPUS; do
    [ -r "$LICENCES/$f" ] && cat "$LICENCES/$f" >>"$tmp/licences.txt"
done
bytes=$(wc -c <"$tmp/licences.txt")
V=$(od -An -v -tu1 "$tmp/licences.txt" | tr -s ' ' '\n' | sed '/^$/d' | sort -u | wc -l)
{
    echo
    echo "## Character-level language model"
    echo
    echo "$CORPUS from $LICENCES, one after another: $bytes bytes, $V distinct."
    echo "The first 90% trains (windows of 100 characters), the last 10% is held out;"
    echo "$TEXT_STEPS steps of 32 windows, lr 5e-3. The baseline is the perplexity of"
    echo "character frequencies alone (docs/data.md); lower is better."
    echo
    echo "| cell | hidden | parameters | held-out perplexity | baseline | ratio | wall s | CPU s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >>"$tmp/table.md"
: >"$tmp/samples.md"
if [ "$bytes" -gt 1000 ]; then
    for cell in $CELLS; do
        run "text-$cell" text.cajal "$cell" -D FILE=\""$tmp/licences.txt"\" -D V=$V -D STEPS=$TEXT_STEPS -D H=$TEXT_H
        ppl=$(field "text-$cell" perplexity)
        base=$(field "text-$cell" baseline_perplexity)
        ratio=$(awk -v p="$ppl" -v b="$base" 'BEGIN { if (p + 0 > 0 && b + 0 > 0) printf "%.2f", p / b; else print "-" }')
        echo "| $cell | $TEXT_H | $(params $cell $V $V $TEXT_H) | $ppl | $base | $ratio | $wall | $cpu |" >>"$tmp/table.md"
        { echo; echo "$cell, temperature 0.7:"; echo; echo '```'; cat "$tmp/text-$cell.rest"; echo '```'; } >>"$tmp/samples.md"
    done
else
    echo "| (skipped: the licence texts are not in $LICENCES) | | | | | | | |" >>"$tmp/table.md"
fi

# ---- adding problem --------------------------------------------------------------
{
    echo
    echo "## Adding problem"
    echo
    echo "Sum the two marked values of T; test mse on 1,000 fresh sequences (always"
    echo "answering 1 scores 0.167). Hidden $ADD_H, $ADD_STEPS steps of 64, lr 1e-2."
    echo
    echo "| cell | hidden | parameters | mse, T = 50 | wall s | CPU s | mse, T = 100 | wall s | CPU s |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
} >>"$tmp/table.md"
for cell in $CELLS; do
    run "adding50-$cell" adding.cajal "$cell" -D T=50 -D STEPS=$ADD_STEPS -D H=$ADD_H
    row="| $cell | $ADD_H | $(params $cell 2 1 $ADD_H) | $(field "adding50-$cell" mse) | $wall | $cpu"
    run "adding100-$cell" adding.cajal "$cell" -D T=100 -D STEPS=$ADD_STEPS -D H=$ADD_H
    echo "$row | $(field "adding100-$cell" mse) | $wall | $cpu |" >>"$tmp/table.md"
done

if [ -s "$tmp/samples.md" ]; then
    { echo; echo "## Samples of the character models"; echo; echo "Prompt \"The \", 300 characters."; cat "$tmp/samples.md"; } >>"$tmp/table.md"
fi

if [ $quick = 1 ]; then
    cat "$tmp/table.md"
else
    mkdir -p "$TOP/results"
    cp "$tmp/table.md" "$OUT.tmp" && mv -f "$OUT.tmp" "$OUT"
    cat "$OUT"
    echo "reproduce: wrote $OUT" >&2
fi
[ $failures = 0 ] || { echo "reproduce: $failures run(s) failed" >&2; exit 1; }

#!/bin/sh
# bench/plastic_oja.sh: the cost of a plastic dense synapse (issue 7), standalone.
#
# A rate network of N = 1000 (bench/cases/plastic_oja.cajal: tau dx/dt = -x +
# J tanh(x)) with Oja's rule on J at every step, batch 1, 1000 steps, double,
# against the same network without the rule (plastic_oja_static.cajal). Each
# figure is the median over REPS repeats run in turn (rule on, rule off, on,
# off, ...), so a machine that slows down for a while slows both alike. One
# thread. Prints, in seconds per time step:
#
#   bench case=plastic_oja n=1000 batch=1 prec=double reps=5 cajal_s=... static_s=...
#
# then the ratio cajal_s / static_s (goal: at most 1.7). Run after `make`:
#   sh bench/plastic_oja.sh            BENCH_REPS=9 sh bench/plastic_oja.sh
set -eu
cd "$(dirname "$0")/.."
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
REPS=${BENCH_REPS:-5}
N=${BENCH_N:-1000}
T=${BENCH_T:-1000}
PREC=${BENCH_PREC:-double}
[ -x "build/$PREC/cajal" ] || { echo "bench: build/$PREC/cajal is missing: run make (PRECISION=$PREC)" >&2; exit 1; }

# one CASE: seconds per step of one run
one() {
    "$CAJAL" --stats -D N="$N" -D T="$T" "bench/cases/$1.cajal" 2>&1 >/dev/null |
        sed -n 's/^stats: simulate .*s_per_step=\([^ ]*\).*/\1/p' | tail -1
}

median() { sort -g | awk '{ v[NR] = $1 } END { print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

on=$(mktemp) off=$(mktemp) CAJAL=$(mktemp)
trap 'rm -f "$on" "$off" "$CAJAL"' EXIT INT TERM
cp "build/$PREC/cajal" "$CAJAL" && chmod +x "$CAJAL"   # a rebuild during the run changes nothing
one plastic_oja >/dev/null   # warm the caches and the page cache
rep=0
while [ "$rep" -lt "$REPS" ]; do
    s=$(one plastic_oja); [ -n "$s" ] || { echo "bench: plastic_oja failed" >&2; exit 1; }
    echo "$s" >>"$on"
    s=$(one plastic_oja_static); [ -n "$s" ] || { echo "bench: plastic_oja_static failed" >&2; exit 1; }
    echo "$s" >>"$off"
    rep=$((rep + 1))
done
cajal=$(median <"$on")
static=$(median <"$off")
echo "bench case=plastic_oja n=$N batch=1 prec=$PREC reps=$REPS cajal_s=$cajal static_s=$static"
awk -v a="$cajal" -v b="$static" 'BEGIN { r = a / b; printf "  rule on / rule off: %.3g (goal: at most 1.7): %s\n", r, r <= 1.7 ? "met" : "missed" }'

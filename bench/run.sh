#!/bin/sh
# bench/run.sh: cajal against the bare BLAS calls and its peers, in one run.
#
# `make bench` installs the peers (scripts/deps.sh bench), builds both
# precisions, then runs this. Every figure is the median of REPS repeats run
# round-robin across the tools (cajal, blas, numpy, torch, cajal, ...), so a
# machine that slows down for a while slows every tool alike; the spread
# printed beside it is (max - min) / median. Every process runs on one thread.
#
# Each case prints one machine-readable line, every *_s key in seconds per time
# step:
#   bench case=sim_rate n=1000 batch=1 T=1000 prec=double threads=1 reps=5
#         cajal_s=... blas_s=... numpy_s=... torch_s=... spread=... rss_mb=... need_mb=...
# then a human table with the ratios. A full run rewrites bench/results.txt with
# those lines, the date and the machine.
#
# Adding a case (later issues): write `CASE_TOOL PREC` functions that run one
# repeat of one tool and print `s=SECONDS_PER_STEP [key=value ...]` on stdout,
# then a `case_CASE PREC ...` function that sets the case's variables, calls
# `measure CASE PREC TOOL...`, reads the figures with `stat TOOL KEY median`,
# prints its `bench case=CASE ...` line (also appended to $lines, which goes to
# results.txt) and its table, and appends a row to $summary (columns as
# `table` prints them, "-" for a tool it lacks); then call it from main.
#
# Environment:
#   BENCH_REPS=N   repeats per figure (default 5, at least 5 for results.txt)
#   BENCH_FULL=1   1000 steps in every case (default: fewer steps where one
#                  step costs milliseconds, to stay within a few minutes; the
#                  T= key says how many ran)
#   BENCH_PREC="double float"   precisions to run
#   BENCH_TRACE=1  each process's wall time on stderr
set -eu
cd "$(dirname "$0")/.."

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
REPS=${BENCH_REPS:-5}
FULL=${BENCH_FULL:-0}
PRECS=${BENCH_PREC:-double float}
TRACE=${BENCH_TRACE:-0}
PY=/usr/bin/python3
OUT=build/bench
BLAS_INC=/usr/include/x86_64-linux-gnu/openblas-pthread
mkdir -p "$OUT"
samples=$OUT/samples.txt
lines=$OUT/lines.txt
summary=$OUT/summary.txt
: >"$lines"
: >"$summary"

die() { echo "bench: $*" >&2; exit 1; }

# ---- tools -----------------------------------------------------------------

setup() {
    # A copy of each interpreter, so a rebuild during the run cannot change it.
    for p in $PRECS; do
        [ -x "build/$p/cajal" ] || die "build/$p/cajal is missing: run 'make bench' (it builds both precisions)"
        cp "build/$p/cajal" "$OUT/cajal_$p.tmp" && mv "$OUT/cajal_$p.tmp" "$OUT/cajal_$p" ||
            die "cannot copy build/$p/cajal"
    done
    [ -x /usr/bin/time ] || die "/usr/bin/time is missing: apt-get install time"
    $PY -c 'import numpy' 2>/dev/null || die "NumPy is missing for $PY: apt-get install python3-numpy"
    $PY -c 'import torch' 2>/dev/null || die "PyTorch is missing for $PY: apt-get install python3-torch"
    # Each C loop, in both precisions, with cajal's vectorised exp/tanh/sigmoid
    # (src/vecmath.c, built with the Makefile's flags) at hand.
    cflags="-std=c11 -D_GNU_SOURCE -O2 -march=native -fno-math-errno -fvect-cost-model=dynamic -Wall -Iinclude -I$BLAS_INC"
    for c in bench/*.c; do
        name=$(basename "$c" .c)
        # shellcheck disable=SC2086
        gcc $cflags -o "$OUT/${name}_double" "$c" src/vecmath.c -lopenblas -lm
        # shellcheck disable=SC2086
        gcc $cflags -DBENCH_FLOAT -o "$OUT/${name}_float" "$c" src/vecmath.c -lopenblas -lm
    done
}

# ---- peers: one long-lived interpreter each ----------------------------------

# A peer script run without arguments reads "N B T K PREC" lines and answers
# each with one result line. run.sh starts one process per peer and keeps it,
# so Python's start-up and torch's import (about 1.5 s, more than half of a
# round's time when every repeat was a new process) are paid once. Each repeat
# still draws and allocates its own arrays; a warm interpreter can only help
# the peers. numpy talks on fds 3 (requests) and 4 (answers), torch on 5 and 6.
peers_start() {
    for p in numpy torch; do
        rm -f "$OUT/$p.in" "$OUT/$p.out"
        mkfifo "$OUT/$p.in" "$OUT/$p.out"
        $PY "bench/rate_$p.py" <"$OUT/$p.in" >"$OUT/$p.out" &
    done
    exec 3>"$OUT/numpy.in" 4<"$OUT/numpy.out" 5>"$OUT/torch.in" 6<"$OUT/torch.out"
}

peers_stop() {
    exec 3>&- 4<&- 5>&- 6<&-
    wait
    rm -f "$OUT/numpy.in" "$OUT/numpy.out" "$OUT/torch.in" "$OUT/torch.out"
}

# peer_ask WFD RFD REQUEST: one repeat in a peer; its answer with s= for s_per_step=.
peer_ask() {
    echo "$3" >&"$1" || return 1
    read -r answer <&"$2" || return 1
    echo "$answer" | sed 's/s_per_step=/s=/'
}

# ---- the common runner ------------------------------------------------------

# measure CASE PREC TOOL...: REPS rounds, each running CASE_TOOL PREC for every
# tool in turn; each output word key=value becomes a line "TOOL KEY VALUE".
measure() {
    mcase=$1 mprec=$2
    shift 2
    : >"$samples"
    rep=0
    while [ "$rep" -lt "$REPS" ]; do
        for tool in "$@"; do
            [ "$TRACE" = 1 ] && t0=$(date +%s.%N)
            out=$("${mcase}_${tool}" "$mprec") || die "$mcase $tool failed (n=$n batch=$b prec=$mprec)"
            [ "$TRACE" = 1 ] && echo "  trace: $tool $(calc "$(date +%s.%N) - $t0") s wall: $out" >&2
            [ -n "$out" ] || die "$mcase $tool printed nothing (n=$n batch=$b prec=$mprec)"
            for kv in $out; do
                echo "$tool ${kv%%=*} ${kv#*=}" >>"$samples"
            done
        done
        rep=$((rep + 1))
    done
}

# stat TOOL KEY median|spread|min|max: over the repeats of the last measure.
stat() {
    awk -v t="$1" -v k="$2" '$1 == t && $2 == k { print $3 }' "$samples" | sort -g |
        awk -v what="$3" '{ v[NR] = $1 }
            END {
                if (NR == 0) { print "nan"; exit }
                m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
                if (what == "median") printf "%.4g\n", m
                else if (what == "max") printf "%.4g\n", v[NR]
                else if (what == "min") printf "%.4g\n", v[1]
                else printf "%.3f\n", (m > 0 ? (v[NR] - v[1]) / m : 0)
            }'
}

# calc EXPR: floating-point arithmetic (awk).
calc() { awk "BEGIN { printf \"%.4g\", $1 }"; }
# holds EXPR: true when the awk condition is.
holds() { awk "BEGIN { exit !($1) }"; }

# ---- case sim_rate: tau dx/dt = -x + J tanh(x) -------------------------------

# One repeat of each tool; n, b, T, K set by case_sim_rate.
sim_rate_cajal() {
    tf=$OUT/time.txt
    st=$(/usr/bin/time -f 'rss_kb=%M' -o "$tf" "$OUT/cajal_$1" --stats -D N="$n" -D B="$b" -D T="$T" -D K="$K" \
        bench/cases/sim_rate.cajal 2>&1 >/dev/null) || { echo "$st" >&2; return 1; }
    s=$(echo "$st" | sed -n 's/^stats: simulate .*s_per_step=\([^ ]*\).*/\1/p' | tail -1)
    [ -n "$s" ] || { echo "$st" >&2; return 1; }
    echo "s=$s $(tail -1 "$tf")"
}

sim_rate_blas_gemm() { "$OUT/rate_blas_$1" "$n" "$b" "$T" "$K" gemm | sed 's/s_per_step=/s=/'; }
sim_rate_blas_gemv() { "$OUT/rate_blas_$1" "$n" "$b" "$T" "$K" gemv | sed 's/s_per_step=/s=/'; }
sim_rate_numpy() { peer_ask 3 4 "$n $b $T $K $1"; }
sim_rate_torch() { peer_ask 5 6 "$n $b $T $K $1"; }

# case_sim_rate PREC N B T: measures, then prints the bench line and the table.
case_sim_rate() {
    prec=$1 n=$2 b=$3 T=$4
    [ "$FULL" = 1 ] && T=1000
    K=$(((T + 9) / 10))
    if [ "$b" = 1 ]; then
        measure sim_rate "$prec" cajal blas_gemm blas_gemv numpy torch
    else
        measure sim_rate "$prec" cajal blas_gemm numpy torch
    fi
    cajal=$(stat cajal s median)
    gemm=$(stat blas_gemm s median)
    blas=$gemm blas_tool=blas_gemm how=gemm
    if [ "$b" = 1 ]; then
        gemv=$(stat blas_gemv s median)
        if holds "$gemv < $gemm"; then blas=$gemv blas_tool=blas_gemv how=gemv; fi
    fi
    mm=$(stat $blas_tool mm_s median)
    numpy=$(stat numpy s median)
    torch=$(stat torch s median)
    spread=0
    for tool in cajal $blas_tool numpy torch; do
        sp=$(stat $tool s spread)
        if holds "$sp > $spread"; then spread=$sp; fi
    done
    rss=$(calc "$(stat cajal rss_kb max) * 1024 / 1e6")
    bytes=8
    [ "$prec" = float ] && bytes=4
    samples_n=$(((T + K - 1) / K))
    need=$(calc "($n * $n + $samples_n * $b * $n) * $bytes / 1e6")
    gemm_key=""
    [ "$b" = 1 ] && gemm_key=" blas_gemm_s=$gemm blas_gemv_s=$gemv"
    cmin=$(stat cajal s min) bmin=$(stat $blas_tool s min)
    line="bench case=sim_rate n=$n batch=$b T=$T prec=$prec threads=1 reps=$REPS cajal_s=$cajal blas_s=$blas numpy_s=$numpy torch_s=$torch spread=$spread rss_mb=$rss need_mb=$need blas_mm_s=$mm$gemm_key cajal_min_s=$cmin blas_min_s=$bmin"
    echo "$line"
    echo "$line" >>"$lines"

    r_blas=$(calc "$cajal / $blas")
    r_numpy=$(calc "$numpy / $cajal")
    r_torch=$(calc "$torch / $cajal")
    limit=$(calc "1.1 * $need + 20")
    goal_mem=missed
    holds "$rss <= $limit" && goal_mem=met
    if [ "$n" -ge 1000 ]; then
        goal="cajal/blas < 1.10"
        holds "$r_blas < 1.10" && goal_speed=met || goal_speed=missed
    elif [ "$n" -le 100 ]; then
        goal="numpy/cajal, torch/cajal >= 3"
        holds "$r_numpy >= 3 && $r_torch >= 3" && goal_speed=met || goal_speed=missed
    else
        goal="" goal_speed=-
    fi
    printf '  %-6s %11s %11s %8s %10s\n' tool "median s" "min s" spread "/ cajal"
    printf '  %-6s %11s %11s %8s %10s\n' cajal "$cajal" "$cmin" "$(stat cajal s spread)" 1
    printf '  %-6s %11s %11s %8s %10s   %s; the product alone %s\n' blas "$blas" "$bmin" "$(stat $blas_tool s spread)" \
        "$(calc "$blas / $cajal")" "$how" "$mm"
    if [ "$b" = 1 ]; then
        printf '  %-6s %11s %11s %8s %10s   (not used)\n' "$([ $how = gemv ] && echo gemm || echo gemv)" \
            "$([ $how = gemv ] && echo "$gemm" || echo "$gemv")" "" "" ""
    fi
    printf '  %-6s %11s %11s %8s %10s\n' numpy "$numpy" "$(stat numpy s min)" "$(stat numpy s spread)" "$r_numpy"
    printf '  %-6s %11s %11s %8s %10s\n' torch "$torch" "$(stat torch s min)" "$(stat torch s spread)" "$r_torch"
    echo "  cajal/blas $r_blas (of the minimums $(calc "$cmin / $bmin")), numpy/cajal $r_numpy, torch/cajal $r_torch${goal:+; goal $goal: $goal_speed}"
    echo "  max RSS $rss MB for $need MB of weights and recordings (limit 1.1 x need + 20 = $limit MB): $goal_mem"
    echo
    printf '%-9s %-6s %5s %5s %5s %10s %10s %10s %10s %6s %6s %6s %6s %-6s %7s %7s %-6s\n' sim_rate "$prec" "$n" "$b" "$T" \
        "$cajal" "$blas" "$numpy" "$torch" "$r_blas" "$r_numpy" "$r_torch" "$spread" "$goal_speed" "$rss" "$need" \
        "$goal_mem" >>"$summary"
}

# ---- main --------------------------------------------------------------------

machine() {
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    cpu_id=$(awk -F': ' '/^cpu family/ { f = $2 } /^model[[:space:]]*:/ { m = $2 } /^stepping/ { s = $2; exit }
        END { printf "family %s model %s stepping %s", f, m, s }' /proc/cpuinfo)
    simd=$(grep -o -w -m1 -E 'avx512f|avx2' /proc/cpuinfo | sort -u | paste -s -d' ')
    echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1) ($cpu_id; ${simd}), $(grep -c ^processor /proc/cpuinfo) cores"
    echo "openblas: $("$OUT/corename_double"), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
    echo "peers: $($PY -c 'import sys, numpy, torch; print("python", sys.version.split()[0], "numpy", numpy.__version__, "torch", torch.__version__)')"
    echo "threads: 1 (OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1, torch.set_num_threads(1))"
    echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine widens the spread)"
    echo "reps: $REPS, round-robin; figures are medians in seconds per step, spread = (max - min) / median, the largest over the tools"
}

setup
trap peers_stop EXIT
peers_start
start=$(date +%s)
machine | tee "$OUT/machine.txt"
echo
for prec in $PRECS; do
    # Steps: 1000, or fewer where a step costs milliseconds (BENCH_FULL=1: 1000).
    for nbt in "100 1 1000" "100 64 1000" "1000 1 1000" "1000 64 200" "4000 1 50" "4000 64 10"; do
        # shellcheck disable=SC2086
        case_sim_rate "$prec" $nbt
    done
done

table() {
    printf '%-9s %-6s %5s %5s %5s %10s %10s %10s %10s %6s %6s %6s %6s %-6s %7s %7s %-6s\n' case prec n batch T cajal_s blas_s \
        numpy_s torch_s c/blas np/c th/c spread speed rss_mb need_mb memory
    cat "$summary"
}
echo "summary (speed goal: cajal/blas < 1.10 at n >= 1000, numpy/cajal and torch/cajal >= 3 at n = 100;"
echo "memory goal: rss_mb <= 1.1 x need_mb + 20)"
table
echo "bench: $(($(date +%s) - start)) s"

if [ "$REPS" -ge 5 ] && [ "$PRECS" = "double float" ]; then
    {
        echo "# bench/results.txt: the last full 'make bench' (bench/run.sh); see bench/README.md."
        cat "$OUT/machine.txt"
        echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); the run took $(($(date +%s) - start)) s"
        [ "$FULL" = 1 ] && echo "steps: 1000 in every case" || echo "steps: as T= says (BENCH_FULL=1 runs 1000 everywhere)"
        echo
        cat "$lines"
        echo
        table
    } >bench/results.txt.tmp
    mv bench/results.txt.tmp bench/results.txt
    echo "bench: wrote bench/results.txt"
fi

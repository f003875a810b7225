#!/bin/sh
# bench/run.sh: cajal against the bare BLAS calls and its peers, in one run.
#
# `make bench` installs the peers (scripts/deps.sh bench), builds both
# precisions, then runs this. Every figure is the median of REPS repeats run
# round-robin across the tools (cajal, blas, numpy, torch, cajal, ...), so a
# machine that slows down for a while slows every tool alike; the spread
# printed beside it is (max - min) / median. Every process runs on one thread.
#
# Each case prints one machine-readable line, then a human table with the
# ratios and its goals (bench/README.md lists the cases and their keys):
#   bench case=sim_rate n=1000 batch=1 T=1000 prec=double threads=1 reps=5
#         cajal_s=... blas_s=... numpy_s=... torch_s=... spread=... rss_mb=... need_mb=...
#   bench case=plastic_oja n=1000 batch=1 prec=double reps=5 cajal_s=... static_s=...
#   bench case=vec_tanh prec=float ns_per_elem=... max_rel_err=...
#   bench case=op_overhead prec=double us_per_op=... torch_us_per_op=...
#   bench case=train_rnn hidden=128 batch=64 T=100 prec=float threads=1 reps=5
#         cajal_s=... torch_s=... gemm_frac=... grad_relerr=... rss_mb=...   (and train_ctrnn)
#   bench case=train_lstm hidden=128 prec=float cajal_s=... torch_s=... gemm_frac=... grad_relerr=...
#         (and train_gru; the other keys follow)
# A full run rewrites bench/results.txt with those lines, the date and the machine.
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
#   BENCH_CASES="sim_rate plastic_oja vec_tanh op_overhead train_rnn train_ctrnn train_lstm train_gru"
#                  cases to run (results.txt is written only when all run)
#   BENCH_HIDDEN="32 128 512"   hidden sizes of the training cases
#   BENCH_TRACE=1  each process's wall time on stderr
set -eu
cd "$(dirname "$0")/.."

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
REPS=${BENCH_REPS:-5}
FULL=${BENCH_FULL:-0}
PRECS=${BENCH_PREC:-double float}
TRACE=${BENCH_TRACE:-0}
ALL_CASES="sim_rate plastic_oja vec_tanh op_overhead train_rnn train_ctrnn train_lstm train_gru"
CASES=${BENCH_CASES:-$ALL_CASES}
HIDDEN=${BENCH_HIDDEN:-32 128 512}
PY=/usr/bin/python3
# PyTorch with glibc's malloc kept from returning memory to the system (issue 5):
# "PyTorch" in the training cases is the faster of this and PyTorch as installed.
TUNED="glibc.malloc.mmap_threshold=4294967296:glibc.malloc.trim_threshold=4294967296"
OUT=build/bench
BLAS_INC=/usr/include/x86_64-linux-gnu/openblas-pthread
mkdir -p "$OUT"
samples=$OUT/samples.txt
lines=$OUT/lines.txt
summary=$OUT/summary.txt
tsummary=$OUT/train_summary.txt
osummary=$OUT/other_summary.txt
: >"$lines"
: >"$summary"
: >"$tsummary"
: >"$osummary"

die() { echo "bench: $*" >&2; exit 1; }
# emit LINE: a bench line, printed and kept for results.txt.
emit() { echo "$1"; echo "$1" >>"$lines"; }
# wants CASE: true when CASE is to run.
wants() { case " $CASES " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

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
        case $name in cajal_*) continue ;; esac
        # shellcheck disable=SC2086
        gcc $cflags -o "$OUT/${name}_double" "$c" src/vecmath.c -lopenblas -lm
        # shellcheck disable=SC2086
        gcc $cflags -DBENCH_FLOAT -o "$OUT/${name}_float" "$c" src/vecmath.c -lopenblas -lm
    done
    # bench/cajal_*.c call into the engine: linked with the objects of the cajal
    # just built and copied (build/<prec>/obj, all but main.o), so they run
    # the same code.
    for p in $PRECS; do
        objs=$(ls "build/$p/obj/"*.o | grep -v '/main\.o$')
        pflag=""
        [ "$p" = float ] && pflag=-DCAJAL_FLOAT
        for c in bench/cajal_*.c; do
            name=$(basename "$c" .c)
            # shellcheck disable=SC2086
            gcc $cflags $pflag -Ibuild/gen -o "$OUT/${name}_$p" "$c" $objs -lopenblas -lreadline -lffi -lz -lm -lpthread ||
                die "cannot link $c against build/$p/obj"
        done
    done
}

# ---- peers: one long-lived interpreter each ----------------------------------

# A peer script run without arguments reads request lines and answers each with
# one result line. run.sh starts one process per peer and keeps it, so Python's
# start-up and torch's import (about 1.5 s, more than half of a round's time
# when every repeat was a new process) are paid once. Each repeat still draws
# and allocates its own arrays (and, training, builds its own model); a warm
# interpreter can only help the peers. Two peers run at a time, on fds 3
# (requests) and 4 (answers), and 5 and 6 (dash has fds 0-9 only):
#   peers_start rate    numpy on 3/4, torch on 5/6        (rate_*.py, case sim_rate)
#   peers_start train   torch as installed on 3/4, torch with glibc's malloc
#                       tuned (GLIBC_TUNABLES=$TUNED) on 5/6  (train_torch.py)
peers_start() {
    peers=$1
    if [ "$peers" = rate ]; then
        a="$PY bench/rate_numpy.py" b="$PY bench/rate_torch.py"
    else
        a="$PY bench/train_torch.py" b="env GLIBC_TUNABLES=$TUNED $PY bench/train_torch.py"
    fi
    for p in a b; do
        rm -f "$OUT/peer_$p.in" "$OUT/peer_$p.out"
        mkfifo "$OUT/peer_$p.in" "$OUT/peer_$p.out"
    done
    # shellcheck disable=SC2086
    $a <"$OUT/peer_a.in" >"$OUT/peer_a.out" &
    # shellcheck disable=SC2086
    $b <"$OUT/peer_b.in" >"$OUT/peer_b.out" &
    exec 3>"$OUT/peer_a.in" 4<"$OUT/peer_a.out" 5>"$OUT/peer_b.in" 6<"$OUT/peer_b.out"
    peers_up=1
}

peers_stop() {
    [ "${peers_up:-0}" = 1 ] || return 0
    exec 3>&- 4<&- 5>&- 6<&-
    wait
    rm -f "$OUT/peer_a.in" "$OUT/peer_a.out" "$OUT/peer_b.in" "$OUT/peer_b.out"
    peers_up=0
}

# peer_ask WFD RFD REQUEST: one repeat in a peer; its answer with s= for s_per_step=.
peer_ask() {
    echo "$3" >&"$1" || return 1
    read -r answer <&"$2" || return 1
    case $answer in error=*) echo "bench: peer: $answer (request: $3)" >&2; return 1 ;; esac
    echo "$answer" | sed 's/s_per_step=/s=/'
}

# key KEY WORDS...: the value of KEY=... among the words ("" if absent).
key() {
    k=$1
    shift
    for w in "$@"; do
        case $w in "$k="*) echo "${w#*=}"; return 0 ;; esac
    done
    echo ""
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
    emit "$line"

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

# ---- case plastic_oja: Oja's rule on a dense synapse, in the time loop (issue 7) --

# One repeat each: the network with the rule (plastic_oja.cajal) and without it
# (plastic_oja_static.cajal); n and T set by case_plastic_oja.
oja_run() {
    st=$("$OUT/cajal_$1" --stats -D N="$n" -D T="$T" "bench/cases/$2.cajal" 2>&1 >/dev/null) || { echo "$st" >&2; return 1; }
    s=$(echo "$st" | sed -n 's/^stats: simulate .*s_per_step=\([^ ]*\).*/\1/p' | tail -1)
    [ -n "$s" ] || { echo "$st" >&2; return 1; }
    echo "s=$s"
}
plastic_oja_plastic() { oja_run "$1" plastic_oja; }
plastic_oja_static() { oja_run "$1" plastic_oja_static; }

case_plastic_oja() {
    prec=$1 n=1000 b=1 T=1000
    measure plastic_oja "$prec" plastic static
    on=$(stat plastic s median) off=$(stat static s median)
    spread=$(stat plastic s spread)
    sp=$(stat static s spread)
    holds "$sp > $spread" && spread=$sp
    r=$(calc "$on / $off")
    rmin=$(calc "$(stat plastic s min) / $(stat static s min)")
    holds "$r <= 1.7" && goal=met || goal=missed
    line="bench case=plastic_oja n=$n batch=1 prec=$prec reps=$REPS cajal_s=$on static_s=$off T=$T ratio=$r spread=$spread cajal_min_s=$(stat plastic s min) static_min_s=$(stat static s min)"
    emit "$line"
    printf '  %-8s %11s %11s %8s\n' run "median s" "min s" spread
    printf '  %-8s %11s %11s %8s\n' "rule on" "$on" "$(stat plastic s min)" "$(stat plastic s spread)"
    printf '  %-8s %11s %11s %8s\n' "rule off" "$off" "$(stat static s min)" "$(stat static s spread)"
    echo "  rule on / rule off $r (of the minimums $rmin); goal at most 1.7: $goal"
    echo
    printf '%-12s %-6s %-46s %-8s %s\n' plastic_oja "$prec" "on/off $r (min $rmin), spread $spread" "$goal" "goal <= 1.7" >>"$osummary"
}

# ---- case vec_tanh: vectorised tanh and sigmoid (src/vecmath.c) -----------------

vec_tanh_cajal() { "$OUT/vec_tanh_$1" speed $((1 << 20)); }
vec_tanh_torch() { peer_ask 3 4 "vec $((1 << 20)) $1"; }

case_vec_tanh() {
    prec=$1 n=$((1 << 20)) b=1
    acc=$("$OUT/vec_tanh_$prec" acc) || die "vec_tanh acc failed"
    # shellcheck disable=SC2086
    err=$(key max_rel_err $acc) ulp=$(key max_ulp $acc) serr=$(key sigmoid_max_rel_err $acc)
    measure vec_tanh "$prec" cajal torch
    ns=$(stat cajal ns_per_elem median) sns=$(stat cajal sigmoid_ns_per_elem median)
    l1=$(stat cajal l1_ns_per_elem median) libm=$(stat cajal libm_ns_per_elem median)
    tns=$(stat torch ns_per_elem median) tsns=$(stat torch sigmoid_ns_per_elem median)
    spread=$(stat cajal ns_per_elem spread)
    line="bench case=vec_tanh prec=$prec ns_per_elem=$ns max_rel_err=$err sigmoid_ns_per_elem=$sns sigmoid_max_rel_err=$serr max_ulp=$ulp l1_ns_per_elem=$l1 libm_ns_per_elem=$libm torch_ns_per_elem=$tns torch_sigmoid_ns_per_elem=$tsns n=$n reps=$REPS spread=$spread min_ns_per_elem=$(stat cajal ns_per_elem min)"
    emit "$line"
    if [ "$prec" = float ]; then
        holds "$ns <= 0.4 && $sns <= 0.4 && $err <= 1e-6 && $serr <= 1e-6" && goal=met || goal=missed
        gtext="<= 0.4 ns/elem, rel err <= 1e-6"
    else
        holds "$ulp <= 4" && goal=met || goal=missed
        gtext="a few ulp (<= 4)"
    fi
    printf '  %-22s %10s %12s\n' "ns per element" tanh sigmoid
    printf '  %-22s %10s %12s   (N = %s; in L1, N = 4096: %s)\n' "cajal vecmath" "$ns" "$sns" "$n" "$l1"
    printf '  %-22s %10s %12s\n' "libm (scalar loop)" "$libm" "-"
    printf '  %-22s %10s %12s\n' "torch (out=)" "$tns" "$tsns"
    echo "  max relative error: tanh $err ($ulp ulp), sigmoid $serr; torch/cajal $(calc "$tns / $ns") (tanh); goal $gtext: $goal"
    echo
    printf '%-12s %-6s %-46s %-8s %s\n' vec_tanh "$prec" "tanh $ns sigmoid $sns ns/elem, err $err" "$goal" "goal $gtext" >>"$osummary"
}

# ---- case op_overhead: the interpreter's own cost per op ------------------------

# cajal: bench/cajal_ops.c runs the training episode of train_rnn.cajal (its
# declarations) at H = 4, batch 1, T = 1000 and divides the forward and backward
# time per time step by the plan's loop steps (ops and fused groups) and VJPs.
# PyTorch: a tiny RNN written op by op with autograd (train_torch.py `ops`).
op_overhead_cajal() { "$OUT/cajal_ops_$1" "$OUT/ops_rnn.cajal" "$b" "$T" 5 -D H="$n" | sed 's/us_per_op=/s=/'; }
op_overhead_torch() { peer_ask 3 4 "ops $n $b $T $1" | sed 's/^us_per_op=/s=/'; }

case_op_overhead() {
    prec=$1 n=4 b=1 T=1000
    sed '/^train on adding/,$d' bench/cases/train_rnn.cajal >"$OUT/ops_rnn.cajal"
    measure op_overhead "$prec" cajal torch
    us=$(stat cajal s median) tus=$(stat torch s median)
    fwd=$(stat cajal us_per_op_fwd median) gop=$(stat cajal us_per_graph_op median)
    lo=$(stat cajal loop_ops median) vo=$(stat cajal vjp_ops median)
    go=$(stat cajal graph_ops median) gvo=$(stat cajal graph_vjp_ops median)
    spread=$(stat cajal s spread)
    line="bench case=op_overhead prec=$prec us_per_op=$us torch_us_per_op=$tus n=$n batch=$b T=$T reps=$REPS us_per_op_fwd=$fwd us_per_graph_op=$gop loop_ops=$lo vjp_ops=$vo graph_ops=$go graph_vjp_ops=$gvo spread=$spread min_us_per_op=$(stat cajal s min)"
    emit "$line"
    holds "$us <= 0.2" && goal=met || goal=missed
    echo "  cajal: $us us per plan step (forward $lo ops, backward $vo VJPs per time step; forward alone $fwd us;"
    echo "         $gop us per graph op counting each op of a fused group: $go forward, $gvo backward)"
    echo "  torch: $tus us per op (5 ops and 5 backward nodes per time step); torch/cajal $(calc "$tus / $us"); goal at most 0.2 us: $goal"
    echo
    printf '%-12s %-6s %-46s %-8s %s\n' op_overhead "$prec" "$us us/op (torch $tus)" "$goal" "goal <= 0.2 us" >>"$osummary"
}

# ---- training cases: train_rnn, train_ctrnn, train_lstm, train_gru --------------

# The case's script is bench/cases/train_KIND.cajal; kind, H, B, T, S, G set by
# case_train. One repeat of each tool:
#   cajal        the script, `--stats`: s_per_step of its train line (batch
#                draw, forward, backward, Adam), the largest RSS
#   torch        train_torch.py `time` in the peer as installed (fds 3/4)
#   torch_tuned  the same in the peer with glibc's malloc tuned (fds 5/6)
#   gemm         train_gemm.c: OpenBLAS GEMM at the step's shapes (s=, hot;
#                stored_s=, activations in their per-step slots)
train_cajal() {
    tf=$OUT/time.txt
    st=$(/usr/bin/time -f 'rss_kb=%M' -o "$tf" "$OUT/cajal_$1" --stats -D H="$H" -D B="$B" -D T="$T" -D S="$S" \
        "bench/cases/train_$kind.cajal" 2>&1 >/dev/null) || { echo "$st" >&2; return 1; }
    s=$(echo "$st" | sed -n 's/^stats: train .*s_per_step=\([^ ]*\).*/\1/p' | tail -1)
    [ -n "$s" ] || { echo "$st" >&2; return 1; }
    echo "s=$s $(tail -1 "$tf")"
}
train_torch() { peer_ask 3 4 "time $kind $H $B $T $S $1"; }
train_torch_tuned() { peer_ask 5 6 "time $kind $H $B $T $S $1"; }
train_gemm() { "$OUT/train_gemm_$1" "$G" "$H" "$B" "$T" 2 "$GREPS"; }

# grad_script KIND: the case's declarations, then a gradient check on a fixed
# batch: cajal's weights (ctrnn: saved for PyTorch) or PyTorch's (rnn, lstm,
# gru: `load ... as torch_KIND`), one step on batch.npz, the gradients saved.
grad_script() {
    sed '/^train on adding/,$d' "bench/cases/train_$1.cajal"
    case $1 in rnn | lstm | gru) printf 'load "sd.npz" as torch_%s\nload "ro.npy" into Wout.w\n' "$1" ;; esac
    printf 'data d = npz("batch.npz")\nsave "w0.npz"\ntrain on d with adam(lr = 1e-3) batch B steps 1\nsave grads "g.npz"\nsave "w1.npz"\n'
}

# grad_check PREC: sets grad, loss_err, worst. PyTorch writes the batch (and for
# the cells its weights), cajal runs one step in the folder (its script is copied
# there, since cajal looks for data files beside the script), PyTorch compares.
grad_check() {
    gdir=$OUT/grad_${kind}_$1_$H
    rm -rf "$gdir"
    mkdir -p "$gdir"
    grad_script "$kind" >"$gdir/grad.cajal"
    peer_ask 3 4 "prep $kind $H $B $T $1 $PWD/$gdir" >/dev/null || die "train_$kind: the PyTorch side of the gradient check failed"
    cbin=$PWD/$OUT/cajal_$1
    (cd "$gdir" && "$cbin" -D H="$H" -D B="$B" -D T="$T" grad.cajal >out.txt 2>&1) ||
        { cat "$gdir/out.txt" >&2; die "train_$kind: cajal's side of the gradient check failed ($gdir)"; }
    ans=$(peer_ask 3 4 "grad $kind $H $B $T $1 $PWD/$gdir") || die "train_$kind: the gradient comparison failed"
    # shellcheck disable=SC2086
    grad=$(key grad_relerr $ans) loss_err=$(key loss_relerr $ans) worst=$(key worst $ans)
}

# case_train KIND PREC H S: measures, checks gradients, prints the line and table.
case_train() {
    kind=$1 prec=$2 H=$3 S=$4 B=64 T=100
    n=$H b=$B
    [ "$FULL" = 1 ] && S=20
    case $kind in lstm) G=4 ;; gru) G=3 ;; *) G=1 ;; esac
    GREPS=$((S < 2 ? 1 : S / 2))
    [ "$H" -ge 512 ] && GREPS=1
    grad_check "$prec"
    sed '/^train on adding/,$d' "bench/cases/train_$kind.cajal" >"$OUT/ops_$kind.cajal"
    mem=$("$OUT/cajal_ops_$prec" "$OUT/ops_$kind.cajal" "$B" "$T" 0 -D H="$H") || die "cajal_ops failed for $kind"
    # shellcheck disable=SC2086
    plan_mb=$(key plan_mb $mem) grad_mb=$(key grad_mb $mem) state_mb=$(key state_mb $mem)
    measure train "$prec" cajal torch torch_tuned gemm
    cajal=$(stat cajal s median) ti=$(stat torch s median) tt=$(stat torch_tuned s median)
    torch=$ti which=installed
    if holds "$tt < $ti"; then torch=$tt which=tuned; fi
    ttool=torch
    [ $which = tuned ] && ttool=torch_tuned
    gemm=$(stat gemm s median) gstored=$(stat gemm stored_s median) flops=$(stat gemm flops median)
    frac=$(calc "$gemm / $cajal")
    gflops=$(calc "$flops / $cajal / 1e9")
    ggflops=$(calc "$flops / $gemm / 1e9")
    speedup=$(calc "$torch / $cajal")
    tfrac=$(calc "$gemm / $torch")
    spread=0
    for tool in cajal $ttool gemm; do
        sp=$(stat $tool s spread)
        if holds "$sp > $spread"; then spread=$sp; fi
    done
    rss=$(calc "$(stat cajal rss_kb max) * 1024 / 1e6")
    cmin=$(stat cajal s min) tmin=$(stat $ttool s min) gmin=$(stat gemm s min)
    extra="steps=$S torch_installed_s=$ti torch_tuned_s=$tt torch_used=$which speedup=$speedup gflops=$gflops gemm_s=$gemm gemm_gflops=$ggflops gemm_stored_s=$gstored torch_gemm_frac=$tfrac loss_relerr=$loss_err grad_worst=$worst plan_mb=$plan_mb grad_mb=$grad_mb state_mb=$state_mb spread=$spread cajal_min_s=$cmin torch_min_s=$tmin gemm_min_s=$gmin"
    case $kind in
    rnn | ctrnn)
        line="bench case=train_$kind hidden=$H batch=$B T=$T prec=$prec threads=1 reps=$REPS cajal_s=$cajal torch_s=$torch gemm_frac=$frac grad_relerr=$grad rss_mb=$rss $extra" ;;
    *)
        line="bench case=train_$kind hidden=$H prec=$prec cajal_s=$cajal torch_s=$torch gemm_frac=$frac grad_relerr=$grad batch=$B T=$T threads=1 reps=$REPS rss_mb=$rss $extra" ;;
    esac
    emit "$line"
    # Goals: issue 5 (rnn, ctrnn), issue 6 (lstm, gru).
    goals="" speed_goal=met
    add_goal() {   # add_goal TEXT CONDITION
        if holds "$2"; then goals="$goals$1 met; "; else goals="$goals$1 MISSED; "; speed_goal=missed; fi
    }
    case $kind in
    rnn | ctrnn)
        x=4
        [ "$kind" = ctrnn ] && x=5
        [ "$H" = 32 ] && add_goal "torch/cajal >= $x" "$speedup >= $x"
        add_goal "faster than torch" "$speedup > 1"
        [ "$H" = 512 ] && add_goal "gemm_frac >= 0.90" "$frac >= 0.90"
        ;;
    *)
        case $H in
        32) add_goal "torch/cajal >= 3" "$speedup >= 3"; add_goal "gemm_frac >= 0.40" "$frac >= 0.40" ;;
        128) add_goal "torch/cajal >= 1.5" "$speedup >= 1.5"; add_goal "gemm_frac >= 0.75" "$frac >= 0.75" ;;
        512) add_goal "gemm_frac >= 0.90" "$frac >= 0.90" ;;
        esac
        ;;
    esac
    grad_goal=-
    if [ "$prec" = double ]; then
        holds "$grad < 1e-9" && grad_goal=met || grad_goal=MISSED
        goals="${goals}grad_relerr < 1e-9 $grad_goal"
    fi
    printf '  %-12s %11s %11s %8s %10s\n' tool "median s" "min s" spread "/ cajal"
    printf '  %-12s %11s %11s %8s %10s   %s GFLOP/s in its products\n' cajal "$cajal" "$cmin" "$(stat cajal s spread)" 1 "$gflops"
    printf '  %-12s %11s %11s %8s %10s%s\n' torch "$ti" "$(stat torch s min)" "$(stat torch s spread)" "$(calc "$ti / $cajal")" \
        "$([ $which = installed ] && echo "   (used)")"
    printf '  %-12s %11s %11s %8s %10s%s\n' torch_tuned "$tt" "$(stat torch_tuned s min)" "$(stat torch_tuned s spread)" \
        "$(calc "$tt / $cajal")" "$([ $which = tuned ] && echo "   (used)")"
    printf '  %-12s %11s %11s %8s %10s   %s GFLOP/s; activations in per-step slots: %s s\n' gemm "$gemm" "$gmin" \
        "$(stat gemm s spread)" "$(calc "$gemm / $cajal")" "$ggflops" "$gstored"
    echo "  torch/cajal $speedup (of the minimums $(calc "$tmin / $cmin")); gemm_frac $frac (of the minimums $(calc "$gmin / $cmin"); torch's $tfrac)"
    echo "  gradients against PyTorch from the same weights: relative error $grad (loss $loss_err; worst $worst)"
    echo "  memory: max RSS $rss MB; the plan stores $plan_mb MB, gradients $grad_mb MB, the states alone $state_mb MB"
    echo "  goals: $goals"
    echo
    printf '%-12s %-6s %6s %4s %10s %10s %7s %7s %7s %9s %6s %-7s %7s %7s\n' "train_$kind" "$prec" "$H" "$S" "$cajal" "$torch" \
        "$speedup" "$frac" "$gflops" "$grad" "$spread" "$speed_goal" "$rss" "$plan_mb" >>"$tsummary"
    echo "train_$kind $H $prec $cajal" >>"$OUT/train_times.txt"
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
start=$(date +%s)
machine | tee "$OUT/machine.txt"
echo
: >"$OUT/train_times.txt"
if wants sim_rate; then
    peers_start rate
    for prec in $PRECS; do
        # Steps: 1000, or fewer where a step costs milliseconds (BENCH_FULL=1: 1000).
        for nbt in "100 1 1000" "100 64 1000" "1000 1 1000" "1000 64 200" "4000 1 50" "4000 64 10"; do
            # shellcheck disable=SC2086
            case_sim_rate "$prec" $nbt
        done
    done
    peers_stop
fi
# Issue 7 sets this case in double only.
if wants plastic_oja && case " $PRECS " in *" double "*) true ;; *) false ;; esac; then
    case_plastic_oja double
fi
peers_start train
for prec in $PRECS; do
    wants vec_tanh && case_vec_tanh "$prec"
    wants op_overhead && case_op_overhead "$prec"
done
# Training steps per repeat: 20 at hidden 32, 8 at 128, 2 at 512 (one step of an
# LSTM of 512 takes about a second in double); BENCH_FULL=1: 20 everywhere.
for prec in $PRECS; do
    for kind in rnn ctrnn lstm gru; do
        wants "train_$kind" || continue
        for H in $HIDDEN; do
            S=20
            [ "$H" -ge 128 ] && S=8
            [ "$H" -ge 512 ] && S=2
            case_train "$kind" "$prec" "$H" "$S"
        done
    done
done
peers_stop

table() {
    if [ -s "$summary" ]; then
        printf '%-9s %-6s %5s %5s %5s %10s %10s %10s %10s %6s %6s %6s %6s %-6s %7s %7s %-6s\n' case prec n batch T cajal_s blas_s \
            numpy_s torch_s c/blas np/c th/c spread speed rss_mb need_mb memory
        cat "$summary"
        echo
    fi
    if [ -s "$osummary" ]; then
        cat "$osummary"
        echo
    fi
    if [ -s "$tsummary" ]; then
        printf '%-12s %-6s %6s %4s %10s %10s %7s %7s %7s %9s %6s %-7s %7s %7s\n' case prec hidden S cajal_s torch_s th/c \
            gemm_fr GFLOP/s grad_err spread speed rss_mb plan_mb
        cat "$tsummary"
        echo
        # The float build against the double build, case by case (goal: about 2).
        if [ "$PRECS" = "double float" ]; then
            echo "float vs double: cajal_s(double) / cajal_s(float) (goal about 2)"
            awk '{ t[$1 " " $2 " " $3] = $4; k[$1 " " $2] = 1 }
                 END { for (c in k) if ((c " double") in t && (c " float") in t)
                           printf "  %-12s %6s %6.3g\n", substr(c, 1, index(c, " ") - 1), substr(c, index(c, " ") + 1),
                                  t[c " double"] / t[c " float"] }' "$OUT/train_times.txt" | sort -k1,1 -k2,2n
            echo
        fi
    fi
}
echo "summary (sim_rate speed goal: cajal/blas < 1.10 at n >= 1000, numpy/cajal and torch/cajal >= 3 at n = 100;"
echo "memory goal: rss_mb <= 1.1 x need_mb + 20; training goals: issue 5 (train_rnn, train_ctrnn), issue 6 (train_lstm,"
echo "train_gru); th/c = torch_s / cajal_s, gemm_fr = gemm_frac)"
table
echo "bench: $(($(date +%s) - start)) s"

if [ "$REPS" -ge 5 ] && [ "$PRECS" = "double float" ] && [ "$CASES" = "$ALL_CASES" ] && [ "$HIDDEN" = "32 128 512" ]; then
    {
        echo "# bench/results.txt: the last full 'make bench' (bench/run.sh); see bench/README.md."
        cat "$OUT/machine.txt"
        echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); the run took $(($(date +%s) - start)) s"
        [ "$FULL" = 1 ] && echo "steps: 1000 in every case (training: 20)" || echo "steps: as T= (sim_rate) and steps= (training) say (BENCH_FULL=1 runs more)"
        echo
        cat "$lines"
        echo
        table
    } >bench/results.txt.tmp
    mv bench/results.txt.tmp bench/results.txt
    echo "bench: wrote bench/results.txt"
fi

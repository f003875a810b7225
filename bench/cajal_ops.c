/* cajal_ops.c: the interpreter's own cost per plan step (bench case op_overhead),
 * and a look at a training plan. Linked against cajal's objects (run.sh builds
 * it from build/<prec>/obj, the objects of the cajal it copied).
 *
 *   cajal_ops SCRIPT B T REPS [dump] [-D NAME=VALUE ...]
 *
 * Loads SCRIPT (declarations only: a model with a cost and learnt weights),
 * builds the training episode cajal's `train` builds (batch B, T steps, Euler,
 * every value stored for the backward pass), fills its inputs, target and mask
 * with fixed numbers, then times, over REPS repeats after one warm-up:
 *   fwd   episode_forward: the plan's loop segment, T times, plus the cost sums
 *   bwd   episode_backward: every loop step's VJP, T times, plus the hoisted ends
 *   sim   the same plan's steps alone (plan_step, T times), no cost bookkeeping
 * and counts the plan's loop steps (ops and fused groups run every time step):
 *   loop_ops   forward steps per time step (an op, or a fused group of them)
 *   vjp_ops    of those, the ones whose VJP runs (a gradient reaches their output)
 *   graph_ops, graph_vjp_ops   the same counting every graph op inside a fused
 *              group (the instructions of its program) as one
 * Prints one line:
 *   loop_ops=.. vjp_ops=.. graph_ops=.. graph_vjp_ops=.. fwd_s=.. bwd_s=.. sim_s=..
 *   us_per_op=.. us_per_op_fwd=.. us_per_op_bwd=.. us_per_graph_op=..
 * us_per_op = (fwd + bwd time per time step) / (loop_ops + vjp_ops), medians
 * over REPS; us_per_op_fwd = sim / loop_ops; us_per_graph_op divides by
 * graph_ops + graph_vjp_ops. Also: plan_mb (every value the plan stores for
 * the backward pass), grad_mb (gradient buffers), state_mb (the states alone,
 * T + 1 steps of B x their sizes: the least BPTT can keep). REPS = 0 prints the
 * counts and the memory only. With `dump`, the plan (plan_dump) and its buffers
 * of more than one slot go to stderr first.
 */
#include "episode.h"
#include "interp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: cajal_ops SCRIPT B T REPS [dump] [-D NAME=VALUE ...]\n");
        return 2;
    }
    const char *path = argv[1];
    int64_t B = atoll(argv[2]), T = atoll(argv[3]);
    int reps = atoi(argv[4]);
    bool dump = false;
    Interp in;
    interp_init(&in);
    builtins_init();
    for (int i = 5; i < argc; i++) {
        if (!strcmp(argv[i], "dump"))
            dump = true;
        else if (!strcmp(argv[i], "-D") && i + 1 < argc) {
            if (!interp_define(&in, argv[++i])) {
                interp_flush(&in);
                return 2;
            }
        }
    }
    if (!interp_load_prelude(&in)) {
        interp_flush(&in);
        return 1;
    }
    in.check_defines = true;
    if (interp_exec_file(&in, path) != INTERP_OK || !runtime_model(&in.rt, &in.env, &in.diags, span_none())) {
        interp_flush(&in);
        return 1;
    }
    Model *m = in.rt.model;
    Episode e;
    EpisodeSpec spec = { .batch = B, .steps = T, .dt = 1e-3, .method = METHOD_EULER, .backward = true };
    if (!episode_init(&e, m, &in.env, &spec, &in.diags, span_none())) {
        interp_flush(&in);
        return 1;
    }
    /* Inputs, target, mask: fixed values (the mask 1 at the last step only). */
    for (int k = -2; k < m->ninputs; k++) {
        real *x = episode_input(&e, k);
        if (!x)
            continue;
        int64_t n = k == -1 || k == -2 ? m->outputs[0].n : m->inputs[k].n;
        for (int64_t i = 0; i < T * B * n; i++)
            x[i] = k == -2 ? (real)(i >= (T - 1) * B * n) : (real)(0.5 + 0.25 * ((i * 7919) % 13 - 6) / 6.0);
    }
    const Plan *p = &e.plan;
    int loop_ops = 0, vjp_ops = 0, graph_ops = 0, graph_vjp_ops = 0;
    for (int i = 0; i < p->nsteps; i++) {
        const PlanStep *s = &p->steps[i];
        if (s->seg != SEG_LOOP || (s->kind != STEP_OP && s->kind != STEP_FUSED))
            continue;
        loop_ops++;
        int inside = s->kind == STEP_FUSED ? s->prog.ncode : 1;
        graph_ops += inside;
        bool any = false;
        if (s->kind == STEP_OP)
            any = e.bw.needs[s->node];
        else
            for (int k = 0; k < s->prog.nout; k++)
                any |= e.bw.needs[s->prog_out[k]];
        vjp_ops += any;
        graph_vjp_ops += any ? inside : 0;
    }
    /* Memory: what the plan stores, its gradients, and the states alone over T steps. */
    int64_t state_reals = 0;
    for (int k = 0; k < e.g.nstates; k++)
        state_reals += m->states[e.g.states[k].model_state].n;
    double plan_mb = (double)p->bytes / 1e6, grad_mb = (double)e.bw.bytes / 1e6,
           state_mb = (double)((T + 1) * B * state_reals) * sizeof(real) / 1e6;
    if (dump) {
        plan_dump(p, stderr);
        /* Each buffer of more than one slot, and the nodes that live in it. */
        for (int b = 0; b < p->nbufs; b++) {
            const PlanBuf *pb = &p->bufs[b];
            if (!pb->owned || pb->period < 2)
                continue;
            fprintf(stderr, "buffer %d: %lld rows x ld %lld x period %d = %.3f MB:", b, (long long)pb->rows, (long long)pb->ld,
                    pb->period, (double)(pb->slot * pb->period) * sizeof(real) / 1e6);
            for (int i = 0; i < e.g.n; i++)
                if (p->ref[i].buf == b)
                    fprintf(stderr, " %s%%%d", e.g.nodes[i].label ? e.g.nodes[i].label : "", i);
            fprintf(stderr, "\n");
        }
        fprintf(stderr, "plan %.3f MB, gradients %.3f MB, the states alone over T + 1 steps %.3f MB\n", plan_mb, grad_mb, state_mb);
        fprintf(stderr, "loop steps: %d forward, %d with a VJP; graph ops (a fused group's each): %d forward, %d with a VJP\n",
                loop_ops, vjp_ops, graph_ops, graph_vjp_ops);
    }
    if (reps < 1) {
        printf("loop_ops=%d vjp_ops=%d graph_ops=%d graph_vjp_ops=%d plan_mb=%.4g grad_mb=%.4g state_mb=%.4g\n", loop_ops, vjp_ops,
               graph_ops, graph_vjp_ops, plan_mb, grad_mb, state_mb);
        return 0;
    }
    double *fwd = malloc(sizeof(double) * (size_t)(reps + 1)), *bwd = malloc(sizeof(double) * (size_t)(reps + 1)),
           *sim = malloc(sizeof(double) * (size_t)(reps + 1));
    double sink = 0;
    for (int r = -1; r < reps; r++) {
        double t0 = now();
        sink += episode_forward(&e);
        double t1 = now();
        model_zero_grads(m);
        episode_backward(&e);
        double t2 = now();
        plan_prepare(&e.plan);
        for (int64_t t = 0; t < T; t++)
            plan_step(&e.plan, t);
        double t3 = now();
        if (r >= 0) {
            fwd[r] = (t1 - t0) / (double)T;
            bwd[r] = (t2 - t1) / (double)T;
            sim[r] = (t3 - t2) / (double)T;
        }
    }
    double f = median(fwd, reps), b = median(bwd, reps), s = median(sim, reps);
    printf("loop_ops=%d vjp_ops=%d graph_ops=%d graph_vjp_ops=%d fwd_s=%.6g bwd_s=%.6g sim_s=%.6g us_per_op=%.4g us_per_op_fwd=%.4g "
           "us_per_op_bwd=%.4g us_per_graph_op=%.4g plan_mb=%.4g grad_mb=%.4g state_mb=%.4g loss=%.6g\n",
           loop_ops, vjp_ops, graph_ops, graph_vjp_ops, f, b, s, 1e6 * (f + b) / (loop_ops + vjp_ops), 1e6 * s / loop_ops,
           1e6 * b / (vjp_ops ? vjp_ops : 1), 1e6 * (f + b) / (graph_ops + graph_vjp_ops), plan_mb, grad_mb, state_mb, sink / (reps + 1));
    episode_fini(&e);
    interp_fini(&in);
    return 0;
}

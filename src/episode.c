/* episode.c: a batch forward and backward through the unrolled model (episode.h).
 *
 * Training's episodes run the plastic synapses' rules in the forward pass
 * (plasticity.h); the backward pass puts back, step by step, the weights each
 * step used. Evaluation runs with the rules off: it measures the network as it is.
 */
#include "episode.h"
#include "fold.h"
#include "plasticity.h"
#include "xalloc.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

bool episode_init(Episode *e, Model *m, const Env *env, const EpisodeSpec *spec, Diags *d, Span at)
{
    memset(e, 0, sizeof *e);
    e->model = m;
    e->env = env;
    e->batch = spec->batch;
    e->steps = spec->steps;
    e->dt = spec->dt;
    e->backward = spec->backward;
    graph_init(&e->g);
    LowerSpec ls = { spec->method, spec->dt, env, NULL, 0 };
    if (!lower_model(m, &ls, &e->g, d, at) || !cost_lower(m, env, &e->g, &e->costs, d, at)) {
        graph_fini(&e->g);
        return false;
    }
    /* Keep the costs and whatever the caller reads. */
    e->wanted = xmalloc((size_t)(e->costs.n + spec->nextra + 1) * sizeof *e->wanted);
    for (int k = 0; k < e->costs.n; k++)
        e->wanted[e->nwanted++] = e->costs.terms[k].node;
    /* and each term's weights, read before the run (episode_forward) */
    e->wanted = xrealloc(e->wanted, (size_t)(2 * e->costs.n + spec->nextra + 2) * sizeof *e->wanted);
    for (int k = 0; k < e->costs.n; k++)
        if (e->costs.terms[k].where >= 0)
            e->wanted[e->nwanted++] = e->costs.terms[k].where;
    for (int k = 0; k < spec->nextra; k++) {
        int node = graph_find(&e->g, spec->extra[k]);
        if (node >= 0)
            e->wanted[e->nwanted++] = node;
    }
    e->output_node = -1;
    if (spec->keep_outputs && m->noutputs == 1) {
        e->output_node = graph_find(&e->g, m->outputs[0].name);
        if (e->output_node >= 0)
            e->wanted[e->nwanted++] = e->output_node;
        int64_t dim[3] = { spec->steps, spec->batch, m->outputs[0].n };
        if (!(e->outputs = tensor_new("outputs", 3, dim, d, at))) {
            graph_fini(&e->g);
            cost_fini(&e->costs);
            free(e->wanted);
            return false;
        }
    }
    /* Training runs the plastic synapses' rules; they read values the plan keeps. */
    e->weights = xcalloc((size_t)(e->costs.n * e->steps + 1), sizeof *e->weights);
    Plasticity *pl = NULL;
    if (spec->backward) {
        bool ok = true;
        PlasticitySpec pspec = { .batch = spec->batch, .steps = spec->steps, .dt = spec->dt, .store = true,
                                 .costs = &e->costs, .cost_weights = e->weights };
        pl = plasticity_new(m, env, &e->g, &pspec, d, at, &ok);
        if (!ok) {
            episode_fini(e);
            return false;
        }
        const int *extra;
        int nextra = plasticity_wanted(pl, &extra);
        e->wanted = xrealloc(e->wanted, (size_t)(e->nwanted + nextra + 1) * sizeof *e->wanted);
        for (int k = 0; k < nextra; k++)
            e->wanted[e->nwanted++] = extra[k];
    }
    /* Sums fold into GEMMs, except where a plastic synapse's rule runs its products. */
    if (!pl)
        graph_fold_sums(&e->g, e->wanted, e->nwanted);
    PlanSpec ps = { .batch = spec->batch, .steps = spec->steps, .store = spec->backward, .wanted = e->wanted,
                    .nwanted = e->nwanted, .own_inputs = true, .dt = spec->dt,
                    .recompute = spec->backward ? spec->recompute : 0 };
    ps.nchanging = plasticity_changing(pl, &ps.changing);
    e->recompute = ps.recompute > 0 && ps.recompute < spec->steps ? ps.recompute : 0;
    char tag[64];
    snprintf(tag, sizeof tag, "noise#train");
    ps.noise = model_stream(m, tag);
    if (!plan_build(&e->plan, &e->g, &ps, d, at)) {
        plasticity_free(pl);
        episode_fini(e);
        return false;
    }
    /* A term's weights must be known before the time loop: ops of the batch's
     * inputs and numbers, computed once over every step. */
    for (int k = 0; k < e->costs.n; k++) {
        int w = e->costs.terms[k].where;
        if (w >= 0 && (e->plan.seg[w] != SEG_HOIST || e->plan.ref[w].buf < 0 || e->plan.bufs[e->plan.ref[w].buf].period != spec->steps)) {
            const Node *decl = e->costs.terms[k].decl;
            const Node *where = decl->opts.n ? decl->opts.v[0]->a : decl->a;
            diag_error(d, where->span, "'where' takes a weight for each step from the task's mask, target and numbers; "
                       "this expression mixes the steps (as a mean over them does)");
            plasticity_free(pl);
            episode_fini(e);
            return false;
        }
    }
    if (pl) {
        e->plastic = pl;
        if (!plasticity_bind(pl, &e->plan, d, at)) {
            episode_fini(e);
            return false;
        }
    }
    if (spec->backward) {
        if (!model_alloc_grads(m, d, at)) {
            episode_fini(e);
            return false;
        }
        Tensor **grads = xcalloc((size_t)e->g.n + 1, sizeof *grads);
        for (int i = 0; i < e->g.n; i++)
            if (e->g.nodes[i].kind == G_PARAM)
                grads[i] = model_grad_of(m, e->g.nodes[i].tensor);
        bool ok = autodiff_init(&e->bw, &e->plan, grads, d, at);
        free(grads);
        if (!ok) {
            episode_fini(e);
            return false;
        }
        e->bw.window = spec->window;
    }
    e->terms = xcalloc((size_t)e->costs.n + 1, sizeof *e->terms);
    e->seed = xcalloc((size_t)e->costs.n + 1, sizeof *e->seed);
    e->seed_node = xcalloc((size_t)e->costs.n + 1, sizeof *e->seed_node);
    if (e->recompute) {
        for (int i = 0; i < e->plan.nsteps; i++)
            e->nnoise += e->plan.steps[i].kind == STEP_NOISE;
        int64_t segments = (e->steps + e->recompute - 1) / e->recompute;
        e->noise_at = xcalloc((size_t)(segments * e->nnoise + 1), sizeof *e->noise_at);
    }
    return true;
}

void episode_fini(Episode *e)
{
    plasticity_free(e->plastic);
    e->plastic = NULL;
    if (e->backward && e->bw.plan)
        autodiff_fini(&e->bw);
    if (e->plan.g)
        plan_fini(&e->plan);
    cost_fini(&e->costs);
    graph_fini(&e->g);
    free(e->wanted);
    free(e->weights);
    free(e->terms);
    free(e->seed);
    free(e->seed_node);
    free(e->noise_at);
    tensor_free(e->outputs);
    memset(e, 0, sizeof *e);
}

real *episode_input(Episode *e, int k)
{
    int index = k >= 0 ? k : k == -1 ? e->model->ninputs : e->model->ninputs + 1;
    for (int i = 0; i < e->g.n; i++)
        if (e->g.nodes[i].kind == G_INPUT && e->g.nodes[i].index == index && e->plan.live[i])
            return plan_value(&e->plan, i, 0, NULL, NULL);
    return NULL;
}

void episode_reseed(Episode *e, Rng base)
{
    for (int i = 0; i < e->plan.nsteps; i++)
        if (e->plan.steps[i].kind == STEP_NOISE)
            e->plan.steps[i].rng = rng_stream(&base, (uint64_t)e->plan.steps[i].node);
}

real *episode_state(Episode *e, int s) { return plan_value(&e->plan, e->g.states[s].cur, 0, NULL, NULL); }

real *episode_value(Episode *e, const char *name, int64_t t, int64_t *ld)
{
    int node = graph_find(&e->g, name);
    return node >= 0 ? plan_value(&e->plan, node, t, ld, NULL) : NULL;
}

static void save_noise(Episode *e, int64_t segment)
{
    int k = 0;
    for (int i = 0; i < e->plan.nsteps; i++)
        if (e->plan.steps[i].kind == STEP_NOISE)
            e->noise_at[segment * e->nnoise + k++] = e->plan.steps[i].rng;
}

static void restore_noise(Episode *e, int64_t segment)
{
    int k = 0;
    for (int i = 0; i < e->plan.nsteps; i++)
        if (e->plan.steps[i].kind == STEP_NOISE)
            e->plan.steps[i].rng = e->noise_at[segment * e->nnoise + k++];
}

double episode_forward(Episode *e)
{
    const int64_t T = e->steps;
    /* Each term's weights per step follow the mask now in the plan. */
    /* Each term's weights per step follow its `where` (the task's mask, or an
     * expression of it the plan has just computed for every step). */
    plan_prepare(&e->plan);
    for (int k = 0; k < e->costs.n; k++) {
        int node = e->costs.terms[k].where;
        Tensor mask = { 0 };
        if (node >= 0 && e->plan.live[node]) {
            int64_t ld, rows;
            mask.data = plan_value(&e->plan, node, 0, &ld, &rows);
            mask.size = T * rows * ld;
            mask.rank = 1;
            mask.dim[0] = mask.size;
        }
        cost_step_weights(&e->costs, k, e->steps, e->dt, mask.data ? &mask : NULL, e->weights + k * T);
    }
    Plasticity *pl = e->plastic;
    plasticity_start(pl);
    for (int k = 0; k < e->costs.n; k++)
        e->terms[k] = 0;
    for (int64_t t = 0; t < T; t++) {
        if (e->recompute && t % e->recompute == 0)
            save_noise(e, t / e->recompute);
        if (!pl) {
            plan_step(&e->plan, t);
        } else if (!plasticity_step(pl, &e->plan, t)) {
            /* a rule blew a weight up: reported, the weights from before kept */
            plasticity_finish(pl);
            e->loss = NAN;
            return e->loss;
        }
        if (e->outputs && e->output_node >= 0) {
            int64_t ld, n = e->outputs->dim[2];
            const real *y = plan_value(&e->plan, e->output_node, t, &ld, NULL);
            real *dst = e->outputs->data + t * e->batch * n;
            bool batched = e->g.nodes[e->output_node].batched;
            for (int64_t b = 0; b < e->batch; b++)
                memcpy(dst + b * n, y + (batched ? b * ld : 0), (size_t)n * sizeof(real));
        }
        for (int k = 0; k < e->costs.n; k++) {
            double w = e->weights[k * T + t];
            if (w != 0 && !e->costs.terms[k].constant)
                e->terms[k] += w * *plan_value(&e->plan, e->costs.terms[k].node, t, NULL, NULL);
        }
    }
    plasticity_finish(pl);
    e->loss = 0;
    for (int k = 0; k < e->costs.n; k++) {
        if (e->costs.terms[k].constant)
            e->terms[k] = *plan_value(&e->plan, e->costs.terms[k].node, 0, NULL, NULL);
        e->loss += e->terms[k];
    }
    return e->loss;
}

void episode_backward(Episode *e)
{
    const int64_t T = e->steps;
    Plasticity *pl = e->plastic;
    autodiff_zero(&e->bw);
    for (int k = 0; k < e->costs.n; k++)
        if (e->costs.terms[k].constant)
            autodiff_seed(&e->bw, e->costs.terms[k].node, 0, 1);
    for (int64_t t = T - 1; t >= 0; t--) {
        /* Recomputation: at a segment's last step, run its steps forward again
         * (states are kept, noise replays) to refill the values it needs. */
        if (e->recompute && (t == T - 1 || (t + 1) % e->recompute == 0)) {
            int64_t start = t - t % e->recompute;
            restore_noise(e, start / e->recompute);
            for (int64_t u = start; u <= t; u++)
                plan_step(&e->plan, u);
        }
        int n = 0;
        for (int k = 0; k < e->costs.n; k++) {
            double w = e->weights[k * T + t];
            if (w != 0 && !e->costs.terms[k].constant) {
                e->seed_node[n] = e->costs.terms[k].node;
                e->seed[n++] = (real)w;
            }
        }
        plasticity_rewind(pl, t);
        autodiff_step(&e->bw, t, e->seed_node, e->seed, n);
    }
    autodiff_finish(&e->bw);
    plasticity_rewind(pl, -1);
}

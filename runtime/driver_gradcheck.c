/* driver_gradcheck.c - the `gradcheck` command: the generated backward
 * pass against central differences of the forward pass.
 *
 * For random inputs x (batch 2) and a random dL/dy, the objective is
 * L = sum(y * dy), so backward(x, dy) gives dL/dW and dL/dx exactly.  The
 * network runs in inference mode (dropout off, batchnorm on its running
 * statistics), the mode of the `backward` command: training mode would
 * make forward passes random (dropout) or batch-coupled.
 *
 * The network computes in float32, so differences need a step large
 * enough to rise above rounding (L is summed in double): h = 1e-2 *
 * max(1, |v|).  But a step that moves some relu or max-pool input across
 * its kink gives a wrong difference, and a first-layer weight feeds
 * thousands of them; so an element that disagrees is retried with h / 10
 * and h / 100 (below that, float32 rounding dominates), and passes if one
 * of them agrees.  When v itself sits within h of a kink, the central
 * difference averages the two slopes while backward rightly gives one of
 * them, so the one-sided differences (free: L at v is known) count too.
 * A wrong analytic gradient agrees with none of these.
 *
 * Pass: |num - ana| <= 1e-2 * max(|num|, |ana|, G) + noise, where G is the
 * largest |analytic gradient| among the tensor's sampled elements and
 * noise = 1e-5 * max(1, sum|y * dy|) the rounding of L over the step.  A
 * floor of 1 in place of G (the usual float32 rule) would let through,
 * say, a bias gradient off by half in a layer whose gradients are all
 * near 0.01 (LeNet's fc2); G keeps the test relative within each tensor
 * while elements far smaller than their tensor's largest are not held
 * to precision that float32 cannot give. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver_commands.h"

#define GC_BATCH 2
#define GC_STEP 1e-2
#define GC_MIN_STEP 0.9e-4   /* 1e-4 after rounding in h /= 10 */
#define GC_TOL 1e-2
#define GC_NOISE 1e-5

typedef struct {
    const char *name;
    float *values;       /* what is perturbed: a tensor of params, or x */
    const float *grad;   /* its analytic gradient (params' grads, or dx) */
    long size;
    int samples;         /* random elements, besides the first and last */
} gc_target;

typedef struct {
    const cnn_net *net;
    void *m;
    float *x, *dy, *y, *dx;
    int n;
    gc_target *targets;
    int ntargets;
    cnn_rng rng;
    double base;         /* L at the unperturbed point */
    double noise;        /* float32 rounding in a difference of L */
    long passed, failed;
} gc;

static void gc_free(gc *g)
{
    if (g->m)
        g->net->destroy(g->m);
    free(g->x);
    free(g->dy);
    free(g->y);
    free(g->dx);
    free(g->targets);
}

/* L = sum(y * dy) of an inference forward pass, in double. */
static double objective(gc *g)
{
    double sum = 0.0;
    g->net->forward(g->m, g->x, g->y, g->n);
    for (long i = 0; i < (long)g->n * g->net->out_size; i++)
        sum += (double)g->y[i] * (double)g->dy[i];
    return sum;
}

/* Of the central and the two one-sided differences of L at v with step
 * rel * max(1, |v|), the one closest to ana (see the top of the file).
 * The steps are those float32 can represent around v. */
static double numeric(gc *g, float *v, double rel, double ana)
{
    const float old = *v;
    const double h = rel * fmax(fabs((double)old), 1.0);
    const float up = (float)(old + h), down = (float)(old - h);
    *v = up;
    double lp = objective(g);
    *v = down;
    double lm = objective(g);
    *v = old;
    double est[3] = {(lp - lm) / ((double)up - (double)down), (lp - g->base) / ((double)up - (double)old),
                     (g->base - lm) / ((double)old - (double)down)};
    double best = est[0];
    for (int k = 1; k < 3; k++)
        if (fabs(est[k] - ana) < fabs(best - ana))
            best = est[k];
    return best;
}

/* What an element may be off by: GC_TOL relative to the largest of num,
 * ana and the tensor's largest sampled gradient, plus the float32 noise
 * of a difference of L. */
static double tolerance(const gc *g, double num, double ana, double big)
{
    return GC_TOL * fmax(fmax(fabs(num), fabs(ana)), big) + g->noise;
}

/* Checks element i of t; updates the worst errors.  Steps shrink from
 * GC_STEP by tens until one agrees (see the top of the file). */
static int check_element(gc *g, const gc_target *t, long i, double big, double *max_abs, double *max_rel)
{
    double ana = (double)t->grad[i], num = 0.0, err = INFINITY;
    for (double h = GC_STEP; h >= GC_MIN_STEP && err > tolerance(g, num, ana, big); h /= 10) {
        double est = numeric(g, &t->values[i], h, ana);
        if (fabs(est - ana) < err) {
            num = est;
            err = fabs(num - ana);
        }
    }
    double scale = fmax(fmax(fabs(num), fabs(ana)), big);
    double rel = scale > 0 ? err / scale : 0.0;
    *max_abs = fmax(*max_abs, err);
    *max_rel = fmax(*max_rel, rel);
    if (err <= tolerance(g, num, ana, big))
        return 1;
    printf("  %s[%ld]: numeric %.6g, analytic %.6g\n", t->name, i, num, ana);
    return 0;
}

/* The first and last elements and t->samples random ones; *big is their
 * largest analytic gradient. */
static long *pick(gc *g, const gc_target *t, double *big)
{
    long *idx = malloc(((size_t)t->samples + 2) * sizeof *idx);
    if (!idx)
        return NULL;
    idx[0] = 0;
    idx[1] = t->size - 1;
    for (int k = 0; k < t->samples; k++)
        idx[k + 2] = (long)(cnn_rng_next(&g->rng) % (uint64_t)t->size);
    *big = 0.0;
    for (int k = 0; k < t->samples + 2; k++)
        *big = fmax(*big, fabs((double)t->grad[idx[k]]));
    return idx;
}

static int check_target(gc *g, const gc_target *t)
{
    double max_abs = 0.0, max_rel = 0.0, big;
    long ok = 0, bad = 0, *idx = pick(g, t, &big);
    if (!idx)
        return -1;
    for (int k = 0; k < t->samples + 2; k++) {
        if (check_element(g, t, idx[k], big, &max_abs, &max_rel))
            ok++;
        else
            bad++;
    }
    printf("%-24s %4ld checked  largest |grad| %.2e  max abs err %.2e  max rel err %.2e  %s\n", t->name,
           ok + bad, big, max_abs, max_rel, bad ? "FAILED" : "ok");
    g->passed += ok;
    g->failed += bad;
    free(idx);
    return 0;
}

/* Trained tensors, then the input; `samples` random elements are spread
 * evenly over the parameter tensors, and as many again over the input. */
static int make_targets(gc *g, int samples)
{
    const cnn_net *net = g->net;
    float *params = net->params(g->m);
    const float *grads = net->grads(g->m);
    g->targets = calloc((size_t)net->ntensors + 1, sizeof *g->targets);
    if (!g->targets)
        return -1;
    int nparams = 0;
    for (int i = 0; i < net->ntensors; i++)
        nparams += !net->tensors[i].in_state;
    for (int i = 0; i < net->ntensors; i++) {
        const cnn_tensor *w = &net->tensors[i];
        if (w->in_state)
            continue;
        gc_target *t = &g->targets[g->ntargets];
        t->name = w->name;
        t->values = params + w->offset;
        t->grad = grads + w->offset;
        t->size = 1;
        for (int d = 0; d < w->ndim; d++)
            t->size *= (long)w->shape[d];
        t->samples = samples / nparams + (g->ntargets < samples % nparams);
        g->ntargets++;
    }
    gc_target *in = &g->targets[g->ntargets++];
    in->name = "input";
    in->values = g->x;
    in->grad = g->dx;
    in->size = (long)g->n * net->in_size;
    in->samples = samples;
    return 0;
}

static int gc_setup(gc *g, const cnn_net *net, const cnn_drv_opts *o)
{
    size_t in = (size_t)GC_BATCH * (size_t)net->in_size, out = (size_t)GC_BATCH * (size_t)net->out_size;
    memset(g, 0, sizeof *g);
    g->net = net;
    g->n = GC_BATCH;
    g->x = malloc(in * sizeof *g->x);
    g->dx = malloc(in * sizeof *g->dx);
    g->dy = malloc(out * sizeof *g->dy);
    g->y = malloc(out * sizeof *g->y);
    if (!g->x || !g->dx || !g->dy || !g->y) {
        cnn_drv_error(o, "out of memory");
        return DRV_IO;
    }
    cnn_rng_seed(&g->rng, o->seed);
    for (size_t i = 0; i < in; i++)
        g->x[i] = cnn_rng_normal(&g->rng);
    for (size_t i = 0; i < out; i++)
        g->dy[i] = cnn_rng_normal(&g->rng);
    if (!(g->m = cnn_drv_model(net, o, GC_BATCH)))
        return DRV_IO;
    if (make_targets(g, o->samples)) {
        cnn_drv_error(o, "out of memory");
        return DRV_IO;
    }
    return DRV_OK;
}

/* L at the unperturbed point, for one-sided differences; and the size of
 * L's terms, which sets the rounding noise of a difference of L: about
 * 1e-7 * sum|y * dy| per evaluation, over a step of 1e-2. */
static void measure_base(gc *g)
{
    double size = 0.0;
    g->base = objective(g);
    for (long i = 0; i < (long)g->n * g->net->out_size; i++)
        size += fabs((double)g->y[i] * (double)g->dy[i]);
    g->noise = GC_NOISE * fmax(size, 1.0);
}

static int run_checks(gc *g, const cnn_drv_opts *o)
{
    printf("gradcheck %s: batch %d, inference mode (dropout off, batchnorm on running statistics),\n"
           "float32: pass if |num - ana| <= %g * max(|num|, |ana|, largest |grad| of the tensor) + %.1e\n",
           g->net->name, GC_BATCH, GC_TOL, g->noise);
    for (int i = 0; i < g->ntargets; i++)
        if (check_target(g, &g->targets[i])) {
            cnn_drv_error(o, "out of memory");
            return DRV_IO;
        }
    printf("gradcheck: %ld passed, %ld failed\n", g->passed, g->failed);
    return g->failed ? DRV_GRADCHECK : DRV_OK;
}

int cnn_drv_gradcheck(const cnn_net *net, const cnn_drv_opts *o)
{
    gc g;
    if (!net->backward) {
        cnn_drv_error(o, "network %s was compiled with --no-train: it has no backward pass", net->name);
        return DRV_USAGE;
    }
    int rc = gc_setup(&g, net, o);
    if (rc == DRV_OK) {
        net->backward(g.m, g.x, g.dy, g.dx, g.n);
        measure_base(&g);
        rc = run_checks(&g, o);
    }
    gc_free(&g);
    return rc;
}

/* optim.c - SGD and Adam updates and learning-rate schedules, as torch.optim.
 *
 * To agree with PyTorch to the last bit wherever possible, each update
 * performs the same float operations as torch.optim's single-tensor code
 * (torch 1.13, CPU): every tensor op that stores a float tensor rounds once
 * to float here too.  torch's vectorised add(x, y, alpha=a) and
 * addcmul(x, y, z, value=v) are fused multiply-adds, x + a*y and
 * x + (v*y)*z rounded once; computing them in double and rounding to float
 * gives the same result (short of a double-rounding tie, ~2^-29 odds)
 * without needing hardware FMA. */
#include <math.h>

#include "cnnrt.h"

#ifdef __SSE__
#include <xmmintrin.h>
#endif

/* A compiler-fused multiply-add would round differently from torch (GNU C
 * modes fuse across statements when the target has FMA). */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

cnn_optim cnn_sgd(float lr, float momentum)
{
    cnn_optim o = {0};
    o.kind = CNN_SGD;
    o.lr = lr;
    o.momentum = momentum;
    o.beta1 = 0.9f;
    o.beta2 = 0.999f;
    o.eps = 1e-8f;
    o.sched = CNN_SCHED_CONST;
    o.gamma = 0.1f;
    return o;
}

cnn_optim cnn_adam(float lr)
{
    cnn_optim o = cnn_sgd(lr, 0.0f);
    o.kind = CNN_ADAM;
    return o;
}

float cnn_lr_at(const cnn_optim *o, int epoch)
{
    static const double pi = 3.14159265358979323846;
    if (epoch < 0)
        epoch = 0;
    if (o->sched == CNN_SCHED_STEP && o->step_size > 0)
        return (float)(o->lr * pow(o->gamma, epoch / o->step_size));
    if (o->sched == CNN_SCHED_COSINE && o->total_epochs > 0)
        return (float)(o->lr * (1.0 + cos(pi * epoch / o->total_epochs)) / 2.0);
    return o->lr;
}

/* x + a*y rounded once to float: torch's add(x, y, alpha=a) */
static float axpy(float x, float a, float y) { return (float)((double)x + (double)a * (double)y); }

/* SGD's usual case: momentum, no weight decay, not Nesterov, past the
 * first step.  The same operations as sgd_update's, LANES floats at a
 * time, each step a loop of its own over local arrays: GCC's -O2 then
 * vectorises it (it will not check at run time that w, g and buf do not
 * overlap, nor add a scalar remainder).  The update is a tenth of a
 * training step on a network of many parameters and few pixels (V-Net's
 * deepest stages). */
#define LANES 8

static void momentum_update(float lr, float mom, float *w, const float *g, float *buf, size_t n)
{
    const double neg_lr = -(double)lr;
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        float b[LANES], v[LANES];
        for (int k = 0; k < LANES; k++)
            b[k] = buf[i + k] * mom + g[i + k];
        for (int k = 0; k < LANES; k++)
            buf[i + k] = b[k];
        for (int k = 0; k < LANES; k++)
            v[k] = w[i + k];
        for (int k = 0; k < LANES; k++)
            w[i + k] = (float)((double)v[k] + neg_lr * (double)b[k]);
    }
    for (; i < n; i++) {
        buf[i] = buf[i] * mom + g[i];
        w[i] = axpy(w[i], -lr, buf[i]);
    }
}

static void sgd_update(const cnn_optim *o, float lr, long step, float *w,
                       const float *g, float *buf, size_t n)
{
    float wd = o->weight_decay, mom = o->momentum, d;
    size_t i;
    if (mom != 0.0f && wd == 0.0f && !o->nesterov && step > 1) {
        momentum_update(lr, mom, w, g, buf, n);
        return;
    }
    for (i = 0; i < n; i++) {
        d = wd != 0.0f ? axpy(g[i], wd, w[i]) : g[i];
        if (mom != 0.0f) {
            /* torch starts the buffer as a copy of the first gradient */
            buf[i] = step <= 1 ? d : buf[i] * mom + d;
            d = o->nesterov ? axpy(d, mom, buf[i]) : buf[i];
        }
        w[i] = axpy(w[i], -lr, d);
    }
}

/* Adam's scalars for one step, in double as torch computes them in Python */
typedef struct {
    float b1, b2, c1, c2, eps, bc2_sqrt, neg_step_size;
} AdamStep;

static AdamStep adam_step(const cnn_optim *o, float lr, long step)
{
    double bc1 = 1.0 - pow((double)o->beta1, (double)step);
    double bc2 = 1.0 - pow((double)o->beta2, (double)step);
    AdamStep a;
    a.b1 = o->beta1, a.b2 = o->beta2, a.eps = o->eps;
    a.c1 = (float)(1.0 - (double)o->beta1), a.c2 = (float)(1.0 - (double)o->beta2);
    a.bc2_sqrt = (float)sqrt(bc2);
    a.neg_step_size = (float)-((double)lr / bc1);
    return a;
}

/* One parameter's update for the gradient d */
static void adam_one(const AdamStep *a, float d, float *m, float *v, float *w)
{
    *m = axpy(*m * a->b1, a->c1, d);
    *v = axpy(*v * a->b2, a->c2 * d, d);                         /* addcmul: (c2*d) rounded, then fused */
    *w = *w + a->neg_step_size * *m / (sqrtf(*v) / a->bc2_sqrt + a->eps);   /* addcdiv: not fused */
}

/* r = the square roots of LANES floats.  sqrtf would set errno for a
 * negative one, so compilers keep it scalar (with a test and a call);
 * SSE's are the same correctly rounded roots, four at a time. */
static void sqrt_lanes(const float *x, float *r)
{
    int k = 0;
#ifdef __SSE__
    for (; k + 4 <= LANES; k += 4)
        _mm_storeu_ps(r + k, _mm_sqrt_ps(_mm_loadu_ps(x + k)));
#endif
    for (; k < LANES; k++)
        r[k] = sqrtf(x[k]);
}

/* Without weight decay, as adam_one LANES floats at a time, as
 * momentum_update does SGD's: the same floats. */
static void adam_lanes(const AdamStep *a, float *w, const float *g, float *m, float *v, size_t n)
{
    size_t i = 0;
    for (; i + LANES <= n; i += LANES) {
        float d[LANES], mk[LANES], vk[LANES], wk[LANES], root[LANES];
        for (int k = 0; k < LANES; k++)
            d[k] = g[i + k], mk[k] = m[i + k], vk[k] = v[i + k];
        for (int k = 0; k < LANES; k++)
            mk[k] = axpy(mk[k] * a->b1, a->c1, d[k]);
        for (int k = 0; k < LANES; k++)
            vk[k] = axpy(vk[k] * a->b2, a->c2 * d[k], d[k]);
        for (int k = 0; k < LANES; k++)
            m[i + k] = mk[k], v[i + k] = vk[k];
        sqrt_lanes(vk, root);
        for (int k = 0; k < LANES; k++)
            wk[k] = w[i + k];
        for (int k = 0; k < LANES; k++)
            w[i + k] = wk[k] + a->neg_step_size * mk[k] / (root[k] / a->bc2_sqrt + a->eps);
    }
    for (; i < n; i++)
        adam_one(a, g[i], &m[i], &v[i], &w[i]);
}

static void adam_update(const cnn_optim *o, float lr, long step, float *w,
                        const float *g, float *m, float *v, size_t n)
{
    AdamStep a = adam_step(o, lr, step);
    float wd = o->weight_decay;
    if (wd == 0.0f) {
        adam_lanes(&a, w, g, m, v, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        adam_one(&a, axpy(g[i], wd, w[i]), &m[i], &v[i], &w[i]);
}

void cnn_optim_update(const cnn_optim *o, float lr, long step, float *w,
                      const float *g, float *state1, float *state2, size_t n)
{
    if (step < 1)
        step = 1;
    if (o->kind == CNN_ADAM)
        adam_update(o, lr, step, w, g, state1, state2, n);
    else
        sgd_update(o, lr, step, w, g, state1, n);
}

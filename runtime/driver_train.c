/* driver_train.c - the `train` command: mini-batch training on an
 * MNIST-format data set with a test-set evaluation after every epoch.
 *
 * Deterministic for a given --seed (initial weights and the shuffle of
 * each epoch come from it; OpenMP threads may change float rounding).
 * With --save the weights are saved atomically after every epoch, so
 * that a diverged or interrupted run keeps its last good checkpoint: a
 * non-finite loss (checked every step) or weight (checked every epoch,
 * before saving) stops training with DRV_DIVERGED.
 *
 * Under mpirun (libcnnrt-mpi, dist.c) --batch is the global batch: every
 * rank shuffles alike and trains on its share of each batch, the train
 * step sums the gradients over the ranks, and rank 0 saves. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"
#include "driver_commands.h"
#include "io.h"

typedef struct {
    const cnn_net *net;
    const cnn_drv_opts *o;
    void *m;
    cnn_drv_set train, test;
    int ntrain;          /* training images used: --limit */
    int *perm;           /* this epoch's order */
    float *xb;           /* the batch's images and labels, gathered */
    int *yb;
    cnn_rng rng;         /* shuffling */
    cnn_optim opt;
    int saved_epoch;     /* last epoch written to --save; 0: none */
} trainer;

static void trainer_free(trainer *t)
{
    if (t->m)
        t->net->destroy(t->m);
    cnn_drv_free_set(&t->train);
    cnn_drv_free_set(&t->test);
    free(t->perm);
    free(t->xb);
    free(t->yb);
}

static int check_trainable(const cnn_net *net, const cnn_drv_opts *o)
{
    if (!net->train_step) {
        cnn_drv_error(o, "network %s was compiled with --no-train: it cannot be trained", net->name);
        return DRV_USAGE;
    }
    return DRV_OK;
}

/* The model first: a bad --load fails before the data set is read. */
static int trainer_setup(trainer *t, const cnn_net *net, const cnn_drv_opts *o)
{
    memset(t, 0, sizeof *t);
    t->net = net;
    t->o = o;
    int rc = check_trainable(net, o);
    if (rc != DRV_OK)
        return rc;
    if (!(t->m = cnn_drv_model(net, o, (o->batch + cnn_dist_size() - 1) / cnn_dist_size())))
        return DRV_IO;
    if (o->save && cnn_dist_rank() == 0 && cnnrt_out_probe(o->save) != 0) {   /* not after an epoch's work */
        cnn_drv_error(o, "%s: cannot write: %s", o->save, strerror(errno));
        return DRV_IO;
    }
    if ((rc = cnn_drv_load_set(net, o, "train", &t->train)) != DRV_OK ||
        (rc = cnn_drv_load_set(net, o, "t10k", &t->test)) != DRV_OK)
        return rc;
    t->ntrain = o->limit > 0 && o->limit < t->train.n ? o->limit : t->train.n;
    if (o->batch < cnn_dist_size() || t->ntrain < cnn_dist_size()) {
        cnn_drv_error(o, "--batch %d and %d training images: each of the %d ranks needs one",
                      o->batch, t->ntrain, cnn_dist_size());
        return DRV_USAGE;
    }
    t->perm = malloc((size_t)t->ntrain * sizeof *t->perm);
    t->xb = malloc((size_t)o->batch * (size_t)net->in_size * sizeof *t->xb);
    t->yb = malloc((size_t)o->batch * (size_t)t->train.label_size * sizeof *t->yb);
    if (!t->perm || !t->xb || !t->yb) {
        cnn_drv_error(o, "out of memory");
        return DRV_IO;
    }
    for (int i = 0; i < t->ntrain; i++)
        t->perm[i] = i;
    /* Its own stream, so that shuffling does not depend on the init. */
    cnn_rng_seed(&t->rng, o->seed ^ 0x53485546464c45ull);
    t->opt = cnn_drv_optim(o);
    return DRV_OK;
}

/* Fisher-Yates.  j = u * (i + 1) / 2^32 for 32 random bits u maps onto
 * [0, i] with a bias below n / 2^32 (negligible) and no division. */
static void shuffle(int *p, int n, cnn_rng *r)
{
    for (int i = n - 1; i > 0; i--) {
        uint64_t j = ((cnn_rng_next(r) >> 32) * (uint64_t)(i + 1)) >> 32;
        int tmp = p[i];
        p[i] = p[j];
        p[j] = tmp;
    }
}

static void gather(trainer *t, int from, int k)
{
    size_t size = (size_t)t->net->in_size, labels = (size_t)t->train.label_size;
    for (int j = 0; j < k; j++) {
        int idx = t->perm[from + j];
        memcpy(t->xb + (size_t)j * size, t->train.x + (size_t)idx * size, size * sizeof *t->xb);
        memcpy(t->yb + (size_t)j * labels, t->train.y + (size_t)idx * labels, labels * sizeof *t->yb);
    }
}

/* where: "at epoch E step S: loss is nan" or the like. */
static void report_divergence(const trainer *t, const char *where)
{
    const cnn_drv_opts *o = t->o;
    fprintf(stderr, "%s: training diverged %s", o->prog, where);
    if (o->save && t->saved_epoch)
        fprintf(stderr, "; the last good checkpoint is %s (epoch %d)", o->save, t->saved_epoch);
    else if (o->save)
        fprintf(stderr, "; nothing was saved to %s", o->save);
    fprintf(stderr, " (try a smaller --lr)\n");
}

static const char *nonfinite_name(float v)
{
    return isnan(v) ? "nan" : v > 0 ? "inf" : "-inf";
}

/* A NaN can hide from the loss (ReLU and max pooling map it to a number)
 * while it spreads through the weights, so they are scanned once an
 * epoch, before they are saved: a few microseconds per million floats. */
static int check_weights(trainer *t, int epoch)
{
    const cnn_net *net = t->net;
    for (int i = 0; i < net->ntensors; i++) {
        const cnn_tensor *ts = &net->tensors[i];
        const float *v = (ts->in_state ? net->state(t->m) : net->params(t->m)) + ts->offset;
        size_t n = 1;
        for (int d = 0; d < ts->ndim; d++)
            n *= (size_t)ts->shape[d];
        for (size_t k = 0; k < n; k++)
            if (!isfinite(v[k])) {
                char where[400];
                snprintf(where, sizeof where, "in epoch %d: %s[%zu] is %s", epoch, ts->name, k,
                         nonfinite_name(v[k]));
                report_divergence(t, where);
                return DRV_DIVERGED;
            }
    }
    return DRV_OK;
}

/* Under mpirun every rank needs an image of each batch: a last batch
 * with fewer images than ranks is left out. */
static int images_per_epoch(int n, int batch)
{
    int last = n % batch ? n % batch : batch;
    return last < cnn_dist_size() ? n - last : n;
}

/* One pass over the shuffled training images; *loss is their mean loss. */
static int run_epoch(trainer *t, int epoch, double *loss)
{
    const int batch = t->o->batch, n = images_per_epoch(t->ntrain, batch);
    cnn_optim cur = t->opt;
    cnn_progress bar;
    double sum = 0.0;
    cur.lr = cnn_lr_at(&t->opt, epoch - 1);
    shuffle(t->perm, n, &t->rng);
    cnn_progress_begin(&bar, epoch, t->o->epochs, n);
    for (int i = 0, step = 1; i < n; i += batch, step++) {
        int k = n - i < batch ? n - i : batch, from, mine;
        cnn_dist_share(k, &from, &mine);
        cnn_dist_set_batch(k);
        gather(t, i + from, mine);
        float l = t->net->train_step(t->m, t->xb, t->yb, mine, &cur);
        if (!isfinite(l)) {
            char where[100];
            cnn_progress_end(&bar);
            snprintf(where, sizeof where, "at epoch %d step %d: loss is %s", epoch, step, nonfinite_name(l));
            report_divergence(t, where);
            return cnn_dist_fail(DRV_DIVERGED);
        }
        sum += (double)l * mine;
        cnn_progress_update(&bar, i + k, sum / (i + k));
    }
    cnn_progress_end(&bar);
    cnn_dist_set_batch(0);
    cnn_dist_sum(&sum, 1);
    *loss = sum / n;
    return DRV_OK;
}

/* Rank 0 writes; every rank learns whether it could. */
static int checkpoint(trainer *t, int epoch)
{
    /* Without --sync-bn the batchnorm statistics differ between ranks, so
     * they agree on the verdict before anything is written. */
    int rc = cnn_dist_agree(check_weights(t, epoch));
    if (rc != DRV_OK || !t->o->save)
        return rc;
    if (cnn_dist_rank() == 0 && t->net->save(t->m, t->o->save) < 0) {
        cnn_drv_error(t->o, "%s", cnn_error());
        rc = DRV_IO;
    }
    if ((rc = cnn_dist_agree(rc)) == DRV_OK)
        t->saved_epoch = epoch;
    return rc;
}

static void print_plan(const trainer *t)
{
    const cnn_drv_opts *o = t->o;
    printf("training %s on %d images of %s (test: %d), %s lr %g", t->net->name, t->ntrain, o->data,
           t->test.n, o->optim == CNN_ADAM ? "adam" : "sgd", o->lr);
    if (o->optim == CNN_SGD)
        printf(" momentum %g%s", o->momentum, o->nesterov ? " nesterov" : "");
    if (o->weight_decay > 0)
        printf(" weight-decay %g", o->weight_decay);
    if (o->schedule == CNN_SCHED_COSINE)
        printf(" cosine");
    else if (o->schedule == CNN_SCHED_STEP)
        printf(" step %d gamma %g", o->step_size, o->gamma);
    printf(", batch %d, %d epochs, seed %llu\n", o->batch, o->epochs, (unsigned long long)o->seed);
    fflush(stdout);
}

/* "epoch 2/5  loss 0.3446  test-acc 86.92%  [dice 0.9012  ]time 1.9 s  31243 images/s" */
static void print_epoch(const trainer *t, int epoch, double loss, const cnn_drv_score *sc, double secs)
{
    printf("epoch %d/%d  loss %.4f  test-acc %.2f%%  ", epoch, t->o->epochs, loss,
           100.0 * (double)sc->correct / (double)sc->labels);
    if (sc->dice >= 0)
        printf("dice %.4f  ", sc->dice);
    printf("time %.1f s  %.0f images/s\n", secs, secs > 0 ? t->ntrain / secs : 0.0);
    fflush(stdout);   /* a log file shows each epoch as it ends */
}

static int train_epochs(trainer *t, cnn_drv_score *sc)
{
    const cnn_drv_opts *o = t->o;
    int rc = DRV_OK;
    print_plan(t);
    for (int e = 1; e <= o->epochs && rc == DRV_OK; e++) {
        double loss = 0.0, t0 = cnn_drv_now();
        if ((rc = run_epoch(t, e, &loss)) != DRV_OK)
            break;
        double secs = cnn_drv_now() - t0;
        if ((rc = cnn_drv_evaluate(t->net, t->m, o, &t->test, sc)) != DRV_OK)
            break;
        print_epoch(t, e, loss, sc, secs);
        rc = checkpoint(t, e);
    }
    return rc;
}

int cnn_drv_train(const cnn_net *net, const cnn_drv_opts *o)
{
    trainer t;
    cnn_drv_score sc = {0.0, 0, 1, -1.0, 0};
    int rc = cnn_dist_agree(trainer_setup(&t, net, o));
    if (rc == DRV_OK) {
        /* rank 0's weights and running statistics on every rank */
        cnn_dist_broadcast(net->params(t.m), net->num_params);
        cnn_dist_broadcast(net->state(t.m), net->num_state);
        rc = train_epochs(&t, &sc);
    }
    if (rc == DRV_OK) {
        printf("final test accuracy: %.2f%%\n", 100.0 * (double)sc.correct / (double)sc.labels);
        if (sc.dice >= 0)
            printf("final test dice: %.4f\n", sc.dice);
        if (o->save)
            printf("weights saved to %s\n", o->save);
    }
    trainer_free(&t);
    return rc;
}

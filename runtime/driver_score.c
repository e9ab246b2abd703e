/* driver_score.c - loss and accuracy of a classifier over a data set, and
 * the `eval` command.
 *
 * The loss is the one the network trains with, computed the same way as
 * the generated train_step: cross-entropy from the softmax outputs (with
 * probabilities clamped at 1e-30 but NaN kept), or the mean squared error against the
 * one-hot label over all outputs.
 *
 * Under mpirun each rank scores its share of the set with rank 0's model
 * (batchnorm running statistics may differ between ranks without
 * --sync-bn), and the sums are added over the ranks. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "dist.h"
#include "driver_commands.h"

/* Images per forward call: bounds the output buffer, not the batch (the
 * generated forward splits calls into max_batch chunks itself). */
#define SCORE_CHUNK 1024

int cnn_drv_argmax(const float *y, int classes)
{
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (y[c] > y[best])
            best = c;
    return best;
}

static double item_loss(const cnn_net *net, const float *y, int label)
{
    /* "<" so that a NaN probability gives a NaN loss, not -log(1e-30). */
    if (net->loss == CNN_LOSS_CROSS_ENTROPY)
        return -log(y[label] < 1e-30f ? 1e-30 : (double)y[label]);
    double sum = 0.0;
    for (int c = 0; c < net->out_size; c++) {
        double d = (double)y[c] - (c == label);
        sum += d * d;
    }
    return sum / net->out_size;
}

int cnn_drv_evaluate(const cnn_net *net, void *m, const cnn_drv_opts *o, const cnn_drv_set *s,
                     cnn_drv_score *r)
{
    float *y = malloc((size_t)SCORE_CHUNK * (size_t)net->out_size * sizeof *y);
    if (!y) {
        cnn_drv_error(o, "out of memory");
        return cnn_dist_fail(DRV_IO);   /* the other ranks wait in cnn_dist_sum */
    }
    double sums[2] = {0.0, 0.0};   /* loss, correct */
    int from, count;
    cnn_dist_share(s->n, &from, &count);
    cnn_dist_broadcast(net->state(m), net->num_state);
    for (int i = from; i < from + count; i += SCORE_CHUNK) {
        int k = from + count - i < SCORE_CHUNK ? from + count - i : SCORE_CHUNK;
        net->forward(m, s->x + (size_t)i * (size_t)net->in_size, y, k);
        for (int j = 0; j < k; j++) {
            const float *yj = y + (size_t)j * (size_t)net->out_size;
            sums[0] += item_loss(net, yj, s->y[i + j]);
            sums[1] += cnn_drv_argmax(yj, net->out_c) == s->y[i + j];
        }
    }
    cnn_dist_sum(sums, 2);
    r->n = s->n;
    r->correct = (long)sums[1];
    r->loss = s->n ? sums[0] / s->n : 0.0;
    free(y);
    return DRV_OK;
}

/* The model first: a bad --load fails before the data set is read.  A
 * failure on any rank stops them all. */
int cnn_drv_eval(const cnn_net *net, const cnn_drv_opts *o)
{
    cnn_drv_set test;
    cnn_drv_score sc;
    int rc = cnn_drv_need(o, o->load, "load");
    if (rc == DRV_OK)
        rc = cnn_drv_need_classifier(net, o);
    if (rc != DRV_OK)
        return rc;
    void *m = cnn_drv_model(net, o, o->batch);
    if ((rc = cnn_dist_agree(m ? DRV_OK : DRV_IO)) != DRV_OK) {
        if (m)
            net->destroy(m);
        return rc;
    }
    int loaded = cnn_drv_load_set(net, o, "t10k", &test);
    if ((rc = cnn_dist_agree(loaded)) == DRV_OK)
        rc = cnn_drv_evaluate(net, m, o, &test, &sc);
    if (loaded == DRV_OK)
        cnn_drv_free_set(&test);
    if (rc == DRV_OK)
        printf("t10k: loss %.4f  accuracy %.2f%% (%ld/%d)\n", sc.loss, 100.0 * (double)sc.correct / sc.n,
               sc.correct, sc.n);
    net->destroy(m);
    return rc;
}

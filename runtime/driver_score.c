/* driver_score.c - loss, accuracy and Dice score of a network over a data
 * set, and the `eval` command.
 *
 * The loss is the one the network trains with, computed the same way as
 * the generated train_step: cross-entropy from the softmax outputs (with
 * probabilities clamped at 1e-30 but NaN kept), averaged over the output
 * pixels of dense prediction, or the mean squared error against the
 * one-hot labels over all outputs.  Accuracy counts labels: images for a
 * classifier, pixels for dense prediction.  A 2-class dense net (a
 * foreground/background segmentation) also gets the mean over images of
 * the foreground Dice score of its argmax, the measure segmentation
 * papers report (V-Net's).
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

int cnn_drv_argmax(const float *y, int classes, long stride)
{
    int best = 0;
    for (int c = 1; c < classes; c++)
        if (y[c * stride] > y[best * stride])
            best = c;
    return best;
}

/* One item's loss: its C planes of `pixels` outputs and their labels. */
static double item_loss(const cnn_net *net, const float *y, const int *labels, long pixels)
{
    double sum = 0.0;
    if (net->loss == CNN_LOSS_CROSS_ENTROPY) {
        for (long p = 0; p < pixels; p++) {
            float py = y[labels[p] * pixels + p];
            /* "<" so that a NaN probability gives a NaN loss, not -log(1e-30). */
            sum -= log(py < 1e-30f ? 1e-30 : (double)py);
        }
        return sum / (double)pixels;
    }
    for (int c = 0; c < net->out_c; c++)
        for (long p = 0; p < pixels; p++) {
            double d = (double)y[c * pixels + p] - (c == labels[p]);
            sum += d * d;
        }
    return sum / net->out_size;
}

/* Adds one item's loss, correct labels and Dice score to sums[0..2]. */
static void score_item(const cnn_net *net, const float *y, const int *labels, double *sums)
{
    long pixels = cnn_drv_label_size(net), correct = 0;
    for (long p = 0; p < pixels; p++)
        correct += cnn_drv_argmax(y + p, net->out_c, pixels) == labels[p];
    sums[0] += item_loss(net, y, labels, pixels);
    sums[1] += (double)correct;
    if (cnn_drv_has_dice(net))
        sums[2] += cnn_dice_score(y, labels, pixels, 0, 1);
}

int cnn_drv_evaluate(const cnn_net *net, void *m, const cnn_drv_opts *o, const cnn_drv_set *s,
                     cnn_drv_score *r)
{
    float *y = malloc((size_t)SCORE_CHUNK * (size_t)net->out_size * sizeof *y);
    if (!y) {
        cnn_drv_error(o, "out of memory");
        return cnn_dist_fail(DRV_IO);   /* the other ranks wait in cnn_dist_sum */
    }
    double sums[3] = {0.0, 0.0, 0.0};   /* loss, correct, Dice */
    int from, count;
    cnn_dist_share(s->n, &from, &count);
    cnn_dist_broadcast(net->state(m), net->num_state);
    for (int i = from; i < from + count; i += SCORE_CHUNK) {
        int k = from + count - i < SCORE_CHUNK ? from + count - i : SCORE_CHUNK;
        net->forward(m, s->x + (size_t)i * (size_t)net->in_size, y, k);
        for (int j = 0; j < k; j++)
            score_item(net, y + (size_t)j * (size_t)net->out_size, s->y + (size_t)(i + j) * (size_t)s->label_size,
                       sums);
    }
    cnn_dist_sum(sums, 3);
    r->n = s->n;
    r->correct = (long)sums[1];
    r->labels = (long)s->n * s->label_size;
    r->loss = s->n ? sums[0] / s->n : 0.0;
    r->dice = cnn_drv_has_dice(net) && s->n ? sums[2] / s->n : -1.0;
    free(y);
    return DRV_OK;
}

/* "t10k: loss 0.3125  accuracy 88.12% (8812/10000)", pixels counted for
 * dense prediction, then the Dice score if there is one. */
static void print_score(const cnn_drv_score *sc)
{
    printf("t10k: loss %.4f  accuracy %.2f%% (%ld/%ld%s)", sc->loss, 100.0 * (double)sc->correct / (double)sc->labels,
           sc->correct, sc->labels, sc->labels > sc->n ? " pixels" : "");
    if (sc->dice >= 0)
        printf("  dice %.4f", sc->dice);
    printf("\n");
}

/* The model first: a bad --load fails before the data set is read.  A
 * failure on any rank stops them all. */
int cnn_drv_eval(const cnn_net *net, const cnn_drv_opts *o)
{
    cnn_drv_set test;
    cnn_drv_score sc;
    int rc = cnn_drv_need(o, o->load, "load");
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
        print_score(&sc);
    net->destroy(m);
    return rc;
}

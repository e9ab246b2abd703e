/* driver_commands.h - the driver's commands, one file each, and what one
 * command shares with another; not installed.  driver.c dispatches to
 * them; they use driver.h and never driver.c (see driver.h). */
#ifndef CNNRT_DRIVER_COMMANDS_H
#define CNNRT_DRIVER_COMMANDS_H

#include "driver.h"

/* driver_score.c: inference over a data set. */
typedef struct {
    double loss;     /* mean: cross-entropy or MSE, as the network's loss */
    long correct;    /* labels (images or pixels) the argmax gets right */
    long labels;     /* of so many */
    double dice;     /* mean foreground Dice of 2-class dense nets; -1 otherwise */
    int n;
} cnn_drv_score;
/* The class with the largest of `classes` values `stride` floats apart
 * (the first on ties). */
int cnn_drv_argmax(const float *y, int classes, long stride);
/* Runs net->forward over s; DRV_OK or DRV_IO (out of memory). */
int cnn_drv_evaluate(const cnn_net *net, void *m, const cnn_drv_opts *o, const cnn_drv_set *s,
                     cnn_drv_score *r);

/* One function per command (and `info`, in driver.c). */
int cnn_drv_train(const cnn_net *net, const cnn_drv_opts *o);
int cnn_drv_eval(const cnn_net *net, const cnn_drv_opts *o);
int cnn_drv_predict(const cnn_net *net, const cnn_drv_opts *o);
int cnn_drv_bench(const cnn_net *net, const cnn_drv_opts *o);
int cnn_drv_forward(const cnn_net *net, const cnn_drv_opts *o);
int cnn_drv_backward(const cnn_net *net, const cnn_drv_opts *o);
int cnn_drv_gradcheck(const cnn_net *net, const cnn_drv_opts *o);

#endif

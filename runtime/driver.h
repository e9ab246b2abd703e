/* driver.h - what the files of the driver (cnn_main) share; not installed.
 *
 * The driver is split one idea per file, in three layers (each uses only
 * those before it; tests/layering.sh checks the includes):
 *   support   this header: option parsing and messages (driver_opts.c),
 *             data sets (driver_data.c), raw .bin files (driver_bin.c),
 *             model set-up (driver_model.c), the clock and progress bar
 *             (progress.c);
 *   commands  driver_commands.h: one file per command (driver_train.c ...)
 *             and the scoring they share (driver_score.c);
 *   cnn_main  driver.c: the command table, the usage text, dispatch.
 * Commands return the process exit status (DRV_OK ...) and print their
 * own messages. */
#ifndef CNNRT_DRIVER_H
#define CNNRT_DRIVER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cnnrt.h"

/* Exit statuses of the driver, as documented in `help`: DRV_USAGE also
 * for an output that would overwrite an input or another output;
 * DRV_IO also for running out of memory, a file size limit (SIGXFSZ is
 * ignored, so the write fails with EFBIG) or OpenMP threads (libgomp
 * exits with 1 when it cannot create them; driver.c's exit guard turns
 * that into DRV_IO); DRV_DIVERGED for a NaN or infinite loss (any loss,
 * checked every step) or weight (checked every epoch before saving),
 * with the last good checkpoint kept. */
enum { DRV_OK = 0, DRV_USAGE = 1, DRV_IO = 2, DRV_DIVERGED = 3, DRV_GRADCHECK = 4 };

#define DRV_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"

/* Everything the command line can say; see usage_text in driver.c for meanings. */
typedef struct {
    const char *prog;           /* argv[0], for messages */
    const char *command;
    const char *data, *load, *save;
    const char *input, *output, *grad_output, *grad_input, *grad_weights;
    int epochs, batch, threads, limit, samples, step_size;
    int batch_set, lr_set, threads_set;  /* given on the command line */
    uint64_t seed;
    double lr, momentum, weight_decay, gamma, seconds;
    int nesterov;
    int sync_bn;                /* under MPI: batchnorm statistics over all ranks */
    cnn_optim_kind optim;
    cnn_sched_kind schedule;
    char **files;               /* positional arguments (predict) */
    int nfiles;
} cnn_drv_opts;

/* A data set in memory: n network inputs and their labels, label_size
 * per input (1 for a classifier, one per output pixel for dense
 * prediction). */
typedef struct {
    float *x;
    int *y;
    int n, label_size;
} cnn_drv_set;

/* driver_opts.c: sets o to the defaults, then fills it from the options
 * in argv[0..argc-1]; `allowed` lists the options the command takes (see
 * driver.c).  DRV_OK, or DRV_USAGE after printing why. */
int cnn_drv_parse(const char *prog, const char *command, int argc, char **argv, const char *allowed,
                  cnn_drv_opts *o);
cnn_optim cnn_drv_optim(const cnn_drv_opts *o);
/* A message on stderr: "PROG: " (o may be NULL), then fmt. */
void cnn_drv_error(const cnn_drv_opts *o, const char *fmt, ...)
#ifdef __GNUC__
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* driver_data.c: loads DIR/PREFIX-images-idxN-ubyte and -labels-idxM-ubyte
 * ("train" or "t10k"; N and M from the network's shapes, 3 and 1 for
 * MNIST) and checks them against the network. */
int cnn_drv_load_set(const cnn_net *net, const cnn_drv_opts *o, const char *prefix,
                     cnn_drv_set *s);
void cnn_drv_free_set(cnn_drv_set *s);
/* A label item's dimensions into dims: none for a classifier (one class
 * per item), else the output's H, W, or D, H, W for a volume.  Returns
 * how many. */
int cnn_drv_label_dims(const cnn_net *net, int *dims);
/* Checks that an IDX file's items have the network's input shape (C,H,W
 * with C omitted when 1); DRV_OK or DRV_IO. */
int cnn_drv_check_inputs(const cnn_net *net, const cnn_drv_opts *o, const char *path,
                         const cnn_idx_info *info);
/* Prints the data files the network reads, for the usage text. */
void cnn_drv_data_help(const cnn_net *net, FILE *f);
/* Labels per input: 1, or the output's pixels for dense prediction. */
int cnn_drv_label_size(const cnn_net *net);
/* Whether train and eval print the Dice score (cnn_dice_score, of the
 * runtime's layers.c): 2 classes per pixel. */
int cnn_drv_has_dice(const cnn_net *net);

/* driver_bin.c: raw little-endian float32 files.  read: the whole file,
 * whose size must be a positive multiple of item floats; *n items. */
int cnn_drv_read_bin(const cnn_drv_opts *o, const char *path, size_t item, float **out, int *n);
/* Writes count floats atomically (temporary file + rename). */
int cnn_drv_write_bin(const cnn_drv_opts *o, const char *path, const float *v, size_t count);

/* driver_model.c: creates a model for max_batch images, initialised with
 * o->seed, then loaded from o->load if set.  NULL after printing why. */
void *cnn_drv_model(const cnn_net *net, const cnn_drv_opts *o, int max_batch);
/* Commands other than train/gradcheck/bench need --load. */
int cnn_drv_need(const cnn_drv_opts *o, const char *value, const char *option);
/* Sets the OpenMP thread count when the network can use it. */
void cnn_drv_threads(const cnn_drv_opts *o);

/* progress.c: a monotonic clock and the training progress bar. */
double cnn_drv_now(void);   /* seconds */
typedef struct {
    int active;             /* stderr is a terminal */
    double start, last;     /* when the epoch began, last redraw */
    int epoch, epochs;
    long total;             /* images in the epoch */
} cnn_progress;
void cnn_progress_begin(cnn_progress *p, int epoch, int epochs, long total);
void cnn_progress_update(cnn_progress *p, long done, double loss);
void cnn_progress_end(cnn_progress *p);   /* erases the bar */

#endif

/* progress.c - a monotonic clock and the one-line training progress bar.
 *
 * The bar is drawn on stderr with '\r' only when stderr is a terminal, so
 * logs and pipes get nothing but the per-epoch lines on stdout.  Redraws
 * are limited to ten a second: printing is not free on slow terminals. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "driver.h"

#define BAR_WIDTH 30

double cnn_drv_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void cnn_progress_begin(cnn_progress *p, int epoch, int epochs, long total)
{
    p->active = isatty(fileno(stderr));
    p->start = cnn_drv_now();
    p->last = 0;
    p->epoch = epoch;
    p->epochs = epochs;
    p->total = total > 0 ? total : 1;
}

void cnn_progress_update(cnn_progress *p, long done, double loss)
{
    if (!p->active)
        return;
    double now = cnn_drv_now();
    if (now - p->last < 0.1 && done < p->total)
        return;
    p->last = now;
    int fill = (int)((double)BAR_WIDTH * (double)done / (double)p->total);
    char bar[BAR_WIDTH + 1];
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    double rate = now > p->start ? (double)done / (now - p->start) : 0.0;
    fprintf(stderr, "\repoch %d/%d [%s] %3d%%  %.0f images/s  loss %.4f ", p->epoch, p->epochs, bar,
            (int)(100.0 * (double)done / (double)p->total), rate, loss);
    fflush(stderr);
}

void cnn_progress_end(cnn_progress *p)
{
    if (!p->active)
        return;
    /* Blank the bar so the epoch line on stdout starts on a clean line. */
    fprintf(stderr, "\r%*s\r", BAR_WIDTH + 60, "");
    fflush(stderr);
}

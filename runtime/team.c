/* team.c - how many threads a generated network's next call runs with.
 *
 * OpenMP threads wait for each other at the end of every parallel loop (a
 * LeNet-5 training step has about 25 of them).  When another process takes
 * a core, the thread that shares it is preempted for milliseconds at a
 * time, and every loop waits for it: with libgomp's default spinning, two
 * threads then train 20 to 40 times slower than one.  libgomp reads its
 * wait policy from the environment before main() runs, so code that is
 * linked into someone else's program cannot change it; what it can change
 * is the team each call uses.
 *
 * So each entry point (forward, train step, backward) times itself, and
 * the teams are tried against each other: all threads, half of them, ...,
 * one.  A call at the current team updates its moving average of seconds
 * per image; now and then one call tries the next team up or down (a
 * probe), and the faster one stays.  A probe that loses costs time, so the
 * next probe of that team waits until BUDGET times the expected loss has
 * passed: probing never costs more than 1/BUDGET of the time.  The
 * expected loss is the difference of the averages, so when the current
 * team slows down (a collapse makes it slower than fewer threads were),
 * the probe downwards is due at once.  A larger team is tried sooner
 * (HINT instead of BUDGET) when /proc/loadavg shows enough idle CPUs for
 * it: the load that made it slow has likely gone. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cnnrt.h"

#define BUDGET 50.0    /* probes cost at most 2% of the time */
#define HINT 10.0      /* ... and at most 10% when idle CPUs suggest a larger team */
#define SMOOTH 0.25    /* weight of a new call in the moving average */
#define IDLE_EVERY 0.1 /* seconds between looks at /proc/loadavg */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The team of level l: all threads at level 0, half as many at each next. */
static int team_of(const cnn_team *t, int level)
{
    int n = t->all >> level;
    return n > 1 ? n : 1;
}

static int levels(const cnn_team *t)
{
    int l = 1;
    while (l < CNN_TEAM_LEVELS && team_of(t, l) < team_of(t, l - 1))
        l++;
    return l;
}

/* When the team of `level` may be tried next, for a call of `images`. */
static double probe_due(const cnn_team *t, int level, long images, int idle)
{
    int dir = level > t->level;
    double ahead = t->per_image[level] - t->per_image[t->level];
    double budget = BUDGET;
    if (t->per_image[level] <= 0 || ahead <= 0)
        return t->probed[dir];
    if (!dir && idle >= team_of(t, level) - team_of(t, t->level))
        budget = HINT;
    return t->probed[dir] + budget * ahead * (double)images;
}

int cnn_team_choose(cnn_team *t, int all, double now, long images, int idle)
{
    if (all != t->all) {   /* first call, or the program changed its threads */
        memset(t, 0, sizeof *t);
        t->all = all > 1 ? all : 1;
    }
    t->trying = t->level;
    if (t->calls > 1 && t->all > 1) {   /* two calls measure the first team (the first is cold) */
        int down = t->level + 1, up = t->level - 1;
        if (down < levels(t) && now >= probe_due(t, down, images, idle))
            t->trying = down;
        else if (up >= 0 && now >= probe_due(t, up, images, idle))
            t->trying = up;
    }
    return team_of(t, t->trying);
}

/* The median of a call's seconds per image and the two calls' before it
 * at the same level (fewer at first: the least): one slow call (a page
 * fault, a process that ran for a moment) is no collapse, two in a row are. */
static double median_recent(cnn_team *t, int level, double per)
{
    double a = t->recent[level][0], b = t->recent[level][1];
    t->recent[level][1] = a;
    t->recent[level][0] = per;
    if (a <= 0)
        return per;
    if (b <= 0)
        return a < per ? a : per;
    if ((a <= b) == (b <= per))
        return b;
    if ((b <= a) == (a <= per))
        return a;
    return per;
}

void cnn_team_record(cnn_team *t, double now, double seconds, long images)
{
    double per = seconds / (double)(images > 0 ? images : 1);
    double *avg = &t->per_image[t->trying];
    t->calls++;
    if (t->trying == t->level) {   /* the first call is cold: slow, but the probes correct it */
        per = median_recent(t, t->level, per);
        if (*avg > 0 && per < 2 * *avg && 2 * per > *avg)
            *avg += SMOOTH * (per - *avg);
        else   /* the first call, or two in a row twice as fast or slow: things changed */
            *avg = per;
        return;
    }
    /* a probe: its one call is what the other team does now */
    t->probed[t->trying > t->level] = now;
    *avg = per;
    t->recent[t->trying][0] = per;
    t->recent[t->trying][1] = 0;
    if (per < t->per_image[t->level]) {
        t->level = t->trying;
        t->probed[0] = t->probed[1] = now;   /* the old team is now a probe away */
    }
}

/* CPUs that no runnable task wants now: /proc/loadavg's fourth field is
 * "runnable/all" tasks, the caller included; -1 where it cannot be read. */
static int idle_cpus(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int runnable = 0, got;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return -1;
    got = fscanf(f, "%*f %*f %*f %d", &runnable);
    fclose(f);
    return got == 1 && cpus > 0 ? (int)cpus - runnable : -1;
}

int cnn_team_start(cnn_team *t, int all, long images)
{
    if (all <= 1) {   /* one thread (or no OpenMP): nothing to choose */
        t->all = 1;
        return 1;
    }
    double now = now_seconds();
    int team;
    if (t->level > 0 && now - t->idle_at >= IDLE_EVERY) {   /* only a larger team needs it */
        t->idle = idle_cpus();
        t->idle_at = now;
    } else if (t->level == 0) {
        t->idle = -1;
    }
    team = cnn_team_choose(t, all, now, images, t->idle);
    t->started = now;   /* after cnn_team_choose, which clears t when `all` changes */
    return team;
}

void cnn_team_end(cnn_team *t, long images)
{
    if (t->all <= 1)
        return;
    double now = now_seconds();
    cnn_team_record(t, now, now - t->started, images);
}

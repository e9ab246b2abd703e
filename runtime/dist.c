/* dist.c - data-parallel training: the ranks of a job, the hooks that the
 * generated train step calls (cnnrt_net.h), and the few collectives the
 * driver needs (dist.h).
 *
 * One source, two builds.  Plain, it is a job of one rank and every hook
 * returns at once, so libcnnrt has no MPI dependency.  With -DCNNRT_MPI
 * (libcnnrt-mpi) the ranks are MPI_COMM_WORLD's: the same generated C,
 * linked against it, sums its gradients over the ranks.
 *
 * Gradients go out in buckets while the backward pass runs: each layer
 * reports its dL/dW as soon as it is final (cnn_dist_grads_ready, in
 * backward order), neighbouring ranges of the parameter array join one
 * pending bucket, and a bucket of BUCKET_FLOATS or more starts a
 * non-blocking all-reduce in place.  cnn_dist_grads_wait sends the rest,
 * sums any range that no layer reported, and waits for all of them.
 * Open MPI progresses such requests only inside MPI calls, hence the
 * MPI_Testall at every report.
 *
 * When every rank is on one node there is no network to overlap with:
 * the all-reduce is memory copies that the ranks' own cores make either
 * way, and Open MPI's blocking all-reduce does them about twice as fast as
 * its non-blocking one (30 against 60 ms for ResNet-18's 47 MB on this
 * project's machine).  The reports are then ignored and all gradients
 * summed with MPI_Allreduce after the backward pass, one synchronisation
 * per step.  CNNRT_MPI_OVERLAP=0 or 1 in the environment decides instead. */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"
#include "dist.h"

#ifdef CNNRT_MPI
#include <mpi.h>
#endif

/* 4 MiB: a dozen buckets for ResNet-18, large enough that the latency
 * of each all-reduce is small beside its transfer. */
#define BUCKET_FLOATS (1L << 20)
#define MAX_RANGES 4096

typedef struct {
    long off, count;   /* in floats, from the gradient array's start */
} range;

static struct {
    int rank, size;
    int batch;          /* the global batch of the steps; 0: not training */
    int sync_bn;
    int overlap;        /* buckets summed with non-blocking all-reduces */
    double wait;        /* seconds in communication calls */
    float *base;        /* the gradients of the step under way; NULL: none */
    range pending;      /* reported but not sent */
    range sent[MAX_RANGES];   /* what was sent, neighbours merged */
    int nsent;
    int untracked;      /* sent more disjoint ranges than sent[] holds */
    int nreq;
#ifdef CNNRT_MPI
    MPI_Request req[MAX_RANGES];
#endif
} D = {0, 1, 0, 0, 0, 0.0, NULL, {0, 0}, {{0, 0}}, 0, 0, 0
#ifdef CNNRT_MPI
       , {0}
#endif
};

static void reset_step(float *grads)
{
    D.base = grads;
    D.nsent = D.nreq = D.untracked = 0;
    D.pending.count = 0;
}

int cnn_dist_rank(void) { return D.rank; }
int cnn_dist_size(void) { return D.size; }
double cnn_dist_wait_seconds(void) { return D.wait; }
void cnn_dist_set_batch(int global_batch) { D.batch = global_batch; }
void cnn_dist_set_sync_bn(int on) { D.sync_bn = on; }

int cnn_dist_batch(int n)
{
    return D.size > 1 && D.batch > 0 ? D.batch : n;
}

int cnn_dist_sync_bn(void)
{
    return D.size > 1 && D.batch > 0 && D.sync_bn;
}

void cnn_dist_share(int k, int *from, int *count)
{
    int base = k / D.size, extra = k % D.size;
    *count = base + (D.rank < extra);
    *from = D.rank * base + (D.rank < extra ? D.rank : extra);
}

#ifdef CNNRT_MPI

/* Non-blocking when some ranks are on other nodes (see the top).  The
 * ranks must agree (their collectives have to match), so an environment
 * that reaches some ranks only cannot split them: any 0 wins. */
static int choose_overlap(void)
{
    const char *forced = getenv("CNNRT_MPI_OVERLAP");
    MPI_Comm node;
    int on_node, overlap, all;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &on_node);
    MPI_Comm_free(&node);
    overlap = forced && *forced ? strcmp(forced, "0") != 0 : on_node < D.size;
    MPI_Allreduce(&overlap, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

void cnn_dist_init(int *argc, char ***argv)
{
    int provided;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &D.rank);
    MPI_Comm_size(MPI_COMM_WORLD, &D.size);
    D.overlap = choose_overlap();
    if (D.rank != 0 && !freopen("/dev/null", "w", stdout))
        fprintf(stderr, "rank %d: cannot silence stdout\n", D.rank);
}

void cnn_dist_finalize(void)
{
    MPI_Finalize();
}

/* Only a safety net (see sum_unreported) relies on this list. */
static void remember_sent(range r)
{
    range *last = D.nsent ? &D.sent[D.nsent - 1] : NULL;
    if (last && last->off == r.off + r.count) {
        last->off = r.off;
        last->count += r.count;
    } else if (last && last->off + last->count == r.off) {
        last->count += r.count;
    } else if (D.nsent < MAX_RANGES) {
        D.sent[D.nsent++] = r;
    } else {
        D.untracked = 1;
    }
}

static void start_timer(double *t0) { *t0 = MPI_Wtime(); }
static void stop_timer(double t0) { D.wait += MPI_Wtime() - t0; }

int cnn_dist_agree(int rc)
{
    int all = rc;
    double t0;
    start_timer(&t0);
    if (D.size > 1)
        MPI_Allreduce(&rc, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    stop_timer(t0);
    return all;
}

int cnn_dist_root_says(int flag)
{
    double t0;
    start_timer(&t0);
    if (D.size > 1)
        MPI_Bcast(&flag, 1, MPI_INT, 0, MPI_COMM_WORLD);
    stop_timer(t0);
    return flag;
}

/* In chunks: MPI counts are ints. */
void cnn_dist_broadcast(float *v, long n)
{
    for (long done = 0; D.size > 1 && done < n; done += BUCKET_FLOATS) {
        long k = n - done < BUCKET_FLOATS ? n - done : BUCKET_FLOATS;
        MPI_Bcast(v + done, (int)k, MPI_FLOAT, 0, MPI_COMM_WORLD);
    }
}

int cnn_dist_fail(int rc)
{
    if (D.size > 1) {
        fflush(stdout);
        fprintf(stderr, "rank %d: ending the job (exit status %d)\n", D.rank, rc);
        MPI_Abort(MPI_COMM_WORLD, rc);
    }
    return rc;
}

void cnn_dist_sum(double *v, int n)
{
    double t0;
    if (D.size < 2)
        return;
    start_timer(&t0);
    MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    stop_timer(t0);
}

static void sum_now(float *g, long n)
{
    for (long done = 0; done < n; done += BUCKET_FLOATS) {
        long k = n - done < BUCKET_FLOATS ? n - done : BUCKET_FLOATS;
        MPI_Allreduce(MPI_IN_PLACE, g + done, (int)k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
}

/* The pending range goes out as one request per BUCKET_FLOATS at most;
 * when the request table is full, the requests under way finish first. */
static void send_pending(void)
{
    range r = D.pending;
    D.pending.count = 0;
    for (long done = 0; done < r.count; done += BUCKET_FLOATS) {
        range part = {r.off + done, r.count - done < BUCKET_FLOATS ? r.count - done : BUCKET_FLOATS};
        remember_sent(part);
        if (D.nreq == MAX_RANGES) {
            MPI_Waitall(D.nreq, D.req, MPI_STATUSES_IGNORE);
            D.nreq = 0;
        }
        MPI_Iallreduce(MPI_IN_PLACE, D.base + part.off, (int)part.count, MPI_FLOAT, MPI_SUM,
                       MPI_COMM_WORLD, &D.req[D.nreq++]);
    }
}

static void progress(void)
{
    int done;
    if (D.nreq)
        MPI_Testall(D.nreq, D.req, &done, MPI_STATUSES_IGNORE);
}

static void wait_all(void)
{
    MPI_Waitall(D.nreq, D.req, MPI_STATUSES_IGNORE);
    D.nreq = 0;
}

#else /* one process */

void cnn_dist_init(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
}

void cnn_dist_finalize(void) {}
int cnn_dist_agree(int rc) { return rc; }
int cnn_dist_root_says(int flag) { return flag; }
void cnn_dist_broadcast(float *v, long n) { (void)v; (void)n; }
int cnn_dist_fail(int rc) { return rc; }
void cnn_dist_sum(double *v, int n) { (void)v; (void)n; }
static void start_timer(double *t0) { *t0 = 0.0; }
static void stop_timer(double t0) { (void)t0; }
static void sum_now(float *g, long n) { (void)g; (void)n; }
static void send_pending(void) { D.pending.count = 0; }
static void progress(void) {}
static void wait_all(void) {}

#endif

void cnn_dist_grads_ready(float *grads, long off, long count)
{
    double t0;
    if (D.size < 2 || D.batch <= 0 || count <= 0 || !D.overlap)
        return;
    start_timer(&t0);
    if (D.base != grads)   /* the first report of a step */
        reset_step(grads);
    range *p = &D.pending;
    if (p->count && off + count == p->off) {
        p->off = off;
        p->count += count;
    } else if (p->count && p->off + p->count == off) {
        p->count += count;
    } else {
        send_pending();
        p->off = off;
        p->count = count;
    }
    if (p->count >= BUCKET_FLOATS)
        send_pending();
    progress();
    stop_timer(t0);
}

static int by_offset(const void *a, const void *b)
{
    long x = ((const range *)a)->off, y = ((const range *)b)->off;
    return (x > y) - (x < y);
}

/* Ranges no layer reported (there should be none) are summed here, so
 * that the weights can never drift apart. */
static void sum_unreported(float *grads, long n)
{
    long at = 0;
    qsort(D.sent, (size_t)D.nsent, sizeof D.sent[0], by_offset);
    for (int i = 0; i < D.nsent; i++) {
        if (D.sent[i].off > at)
            sum_now(grads + at, D.sent[i].off - at);
        at = D.sent[i].off + D.sent[i].count;
    }
    if (at < n)
        sum_now(grads + at, n - at);
}

void cnn_dist_grads_wait(float *grads, long n)
{
    double t0;
    if (D.size < 2 || D.batch <= 0)
        return;
    start_timer(&t0);
    if (!D.overlap) {
        sum_now(grads, n);
        stop_timer(t0);
        return;
    }
    if (D.base != grads)   /* no layer reported */
        reset_step(grads);
    send_pending();
    wait_all();
    if (!D.untracked)
        sum_unreported(grads, n);
    D.base = NULL;
    stop_timer(t0);
}

/* dist.h - what the driver asks of data-parallel training (dist.c); not
 * installed.  The generated code's hooks are in cnnrt_net.h.
 *
 * dist.c is built twice: into libcnnrt as a single process (rank 0 of 1,
 * every collective a no-op), and with -DCNNRT_MPI into libcnnrt-mpi, where
 * the ranks are MPI_COMM_WORLD's.  The driver calls the same functions
 * either way, so it has no MPI code of its own. */
#ifndef CNNRT_DIST_H
#define CNNRT_DIST_H

/* MPI_Init_thread (funneled: OpenMP threads never call MPI) and its end.
 * Ranks other than 0 get /dev/null for stdout: rank 0 alone prints. */
void cnn_dist_init(int *argc, char ***argv);
void cnn_dist_finalize(void);
int cnn_dist_rank(void);
int cnn_dist_size(void);

/* This rank's share of k items: [*from, *from + *count), shares differing
 * by at most one, the larger ones first. */
void cnn_dist_share(int k, int *from, int *count);

/* The global batch of the training steps that follow (0: none, the
 * hooks then do nothing), and whether batchnorm statistics are summed
 * over the ranks. */
void cnn_dist_set_batch(int global_batch);
void cnn_dist_set_sync_bn(int on);

/* The largest rc of all ranks: a failure anywhere is a failure everywhere. */
int cnn_dist_agree(int rc);
/* Rank 0's flag, on every rank (loops that must stop together). */
int cnn_dist_root_says(int flag);
/* Rank 0's n floats, on every rank. */
void cnn_dist_broadcast(float *v, long n);
/* A failure that the other ranks cannot know of (they may be waiting in a
 * collective): with several ranks, ends the whole job with exit status rc
 * and does not return; alone, returns rc. */
int cnn_dist_fail(int rc);

/* Seconds spent in communication calls since the start. */
double cnn_dist_wait_seconds(void);

#endif

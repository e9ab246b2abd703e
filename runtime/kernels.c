/* kernels.c - the convolution kernels of cnn_kernels, compiled once per
 * instruction set and chosen at run time from the CPU.
 *
 * Generated code is built with whatever flags the user gives (the
 * documented build is a plain `cc -O2`, baseline x86-64), so its hot loops
 * live here instead: kernels_tile.h, kernels_impl.h and kernels_dw.h are
 * included once for each set, inside functions carrying GCC/clang target
 * attributes, so that every build compiles all of them and the CPU check
 * picks one:
 *
 *   generic  GNU C vectors of 4 floats (SSE2, NEON, ...), 4 outputs x 12
 *            positions per micro-kernel; plain floats without GNU C
 *   avx2     8 lanes, 16 registers: 4 outputs x 24 positions
 *   avx512   16 lanes, 32 registers: 8 outputs x 48 positions (two
 *            tiles), 8 x 24 on 8 lanes for a task's odd last tile;
 *            3-D dL/dW on 8 lanes, 4 filters x 6 taps; the
 *            other kernels are avx2's, which measured 2-8% faster on AMD
 *            Zen 4 (512-bit operations in two halves, twice the lanes to
 *            sum, and 16-lane rows of 28 or 10 floats mostly tail)
 *
 * The vector types are GNU C's (plain C loops of this shape defeat both
 * vectorisers).  On x86 an empty asm keeps loaded inputs in registers:
 * otherwise GCC folds them into every multiply-add, 4 or 8 loads instead
 * of 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

/* CNNRT_PLAIN_C builds what a compiler without GNU C gets (for tests). */
#if defined(__GNUC__) && !defined(CNNRT_PLAIN_C)
#define CNN_GNU 1
#else
#define CNN_GNU 0
#endif
#if CNN_GNU && (defined(__x86_64__) || defined(__i386__))
#define CNN_X86 1
#include <immintrin.h>
#else
#define CNN_X86 0
#endif

#define PACK_FLOATS 4096   /* a task's packed rows: 16 KiB of L1 */
#define MATMUL_ROWS 256    /* rows of a packed column block */
#ifndef DIRECT_FLOATS
#define DIRECT_FLOATS 8192 /* input a pass reads from the planes: 32 KiB */
#endif

/* Channels per pass: as many as fit `budget` floats at ps floats each,
 * split evenly (64 channels of 78: 32 + 32, not 52 + 12). */
static long channels_per_pass(long channels, long ps, long budget)
{
    long most = budget / ps < 1 ? 1 : budget / ps, passes;
    if (most > channels)
        most = channels;
    passes = (channels + most - 1) / most;
    return (channels + passes - 1) / passes;
}

/* Each tap's offset from an output position: row r, column s (KW-1-s
 * when flipped: dL/dx reads backwards), in packed rows `row` long (which
 * pack_rows already flipped), or in the planes (row 0). */
static void tap_offsets(const cnn_tile_conv *p, long row, long *off)
{
    for (long t = 0; t < p->kh * p->kw; t++) {
        long r = t / p->kw, s = t % p->kw;
        if (p->flipped)
            s = p->kw - 1 - s;
        if (p->flipped && !row)
            r = p->kh - 1 - r;
        off[t] = r * (row ? row : p->row_step) + s * p->dw;
    }
}

/* Channels [c0, c0 + nc), KH rows of len floats from position q0 of each
 * (row r starts KH-1-r rows in when flipped), side by side in pack. */
static void pack_rows(const cnn_tile_conv *p, long c0, long nc, long q0, long len, long row, float *pack)
{
    for (long c = 0; c < nc; c++) {
        const float *plane = p->in + (c0 + c) * p->in_stride + q0;
        for (long r = 0; r < p->kh; r++) {
            long start = (p->flipped ? p->kh - 1 - r : r) * p->row_step;
            memcpy(pack + (c * p->kh + r) * row, plane + start, sizeof(float) * (size_t)len);
        }
    }
}

/* Where a chunk of positions, from position p0 on, lies in the planes:
 * consecutive, or (at8) in groups of 8 consecutive positions, group g
 * starting at at8[g] (rows of an output plane without their padding
 * columns, rows of several depths), so that no vector of 8 lanes crosses
 * from one group to another. */
typedef struct {
    long p0;
    const long *at8;
} Chunk;

/* Where position p0 + i lies in the planes. */
static inline long plane_at(const Chunk *ch, long i)
{
    long p = ch->p0 + i;
    return ch->at8 ? ch->at8[p / 8] + p % 8 : p;
}

/* How far position p0 + i lies from p0 in the planes. */
static inline long chunk_at(const Chunk *ch, long i)
{
    return plane_at(ch, i) - plane_at(ch, 0);
}

#define LOADV(v, p) memcpy(&(v), (p), sizeof(v))
#define STOREV(p, v) memcpy((p), &(v), sizeof(v))
/* dst += the sum of v's lanes (generic sets; x86 ones sum in a tree) */
#define HSUM_LANES(dst, v)                                                                            \
    do {                                                                                              \
        float lanes_[sizeof(v) / sizeof(float)];                                                      \
        memcpy(lanes_, &(v), sizeof(v));                                                              \
        for (size_t l_ = 0; l_ < sizeof(v) / sizeof(float); l_++)                                     \
            (dst) += lanes_[l_];                                                                      \
    } while (0)
#define HSUM_INTO HSUM_LANES

/* ---- generic: any C99 compiler, any CPU ---- */
#if CNN_GNU
typedef float v4f __attribute__((vector_size(16)));
typedef int v4i __attribute__((vector_size(16)));
#define VEC v4f
#define VL 4
#define BCASTV(s) ((v4f){0, 0, 0, 0} + (s))
#define RELUV(v) ((v4f)((v4i)(v) & ((v) > (v4f){0, 0, 0, 0})))   /* +0 where not v > 0 */
#else
#define VEC float
#define VL 1
#define BCASTV(s) (s)
#define RELUV(v) ((v) > 0.0f ? (v) : 0.0f)
#endif
#if CNN_X86
#define KEEP(v) __asm__("" : "+x"(v))
#else
#define KEEP(v) (void)0
#endif
#define MADD(acc, a, b) ((acc) += (a) * (b))
#define KTARGET
#define TILE_FN tile_generic
#define TILE_NJ 4
#include "kernels_tile.h"

/* q positions, 3 * VL at a time */
static void run_generic(long q, const Chunk *ch, const float *x, long xstride, long nc, const long *off, long nt,
                        const float *w, long wj, long wc, int nj, float *y, long ystride, int acc)
{
    for (long s = 0; s < q; s += 3 * VL) {
        long at = chunk_at(ch, s);
        tile_generic(x + at, chunk_at(ch, s + VL) - at, chunk_at(ch, s + 2 * VL) - at, xstride, nc, off, nt, w, wj,
                     wc, nj, y + s, ystride, acc);
    }
}

#define ISA(name) name##_generic
#define CHUNK 24
#define NJ_RUN 4
#define RUN run_generic
#include "kernels_impl.h"
#define DW_FN dw_rows_generic
#define DW_PAIRS 3
#include "kernels_dw.h"

static const cnn_kernels generic_kernels = {"generic",           conv_tiles_generic,      dw_tile_generic,
                                            matmul_tiles_generic, dw_cols_generic,         fc_forward_generic,
                                            fc_weight_grads_generic, fc_input_grads_generic, rows_out_generic,
                                            dw_rows_generic, 3};

#undef VEC
#undef VL
#undef BCASTV
#undef RELUV
#undef KEEP
#undef MADD
#undef KTARGET
#undef ISA
#undef CHUNK
#undef NJ_RUN
#undef RUN

#if CNN_X86
typedef float v8f __attribute__((vector_size(32)));
typedef float v16f __attribute__((vector_size(64)));

/* ---- avx2: 8 lanes, 16 registers ---- */
#define KTARGET __attribute__((target("avx2,fma")))
#define VEC v8f
#define VL 8
#define BCASTV(s) ((v8f)_mm256_set1_ps(s))
#define MADD(acc, a, b) ((acc) = (v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(acc)))
#define RELUV(v) ((v8f)_mm256_max_ps((__m256)(v), _mm256_setzero_ps()))   /* +0 for -0 and NaN */
#define KEEP(v) __asm__("" : "+x"(v))
#undef HSUM_INTO
#define HSUM_INTO(dst, v) ((dst) += hsum_avx2(v))
static __attribute__((target("avx2,fma"))) inline float hsum_avx2(v8f v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128((__m256)v), _mm256_extractf128_ps((__m256)v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_shuffle_ps(s, s, 1)));
}
#define TILE_FN tile_avx2
#define TILE_NJ 4
#include "kernels_tile.h"
#define TILE_FN tile2_avx2
#define TILE_NJ 2
#include "kernels_tile.h"

/* 4 outputs, or 2 for a layer's last ones (6 filters: 4 + 2) */
static KTARGET void run_avx2(long q, const Chunk *ch, const float *x, long xstride, long nc, const long *off,
                             long nt, const float *w, long wj, long wc, int nj, float *y, long ystride, int acc)
{
    long v1 = chunk_at(ch, VL), v2 = chunk_at(ch, 2 * VL);
    (void)q;   /* always 24 */
    if (nj > 2)
        tile_avx2(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
    else
        tile2_avx2(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
}

#define ISA(name) name##_avx2
#define CHUNK 24
#define NJ_RUN 4
#define RUN run_avx2
#include "kernels_impl.h"
#define DW_FN dw_rows_avx2
#define DW_PAIRS 3
#include "kernels_dw.h"

static const cnn_kernels avx2_kernels = {"avx2",          conv_tiles_avx2,      dw_tile_avx2,
                                         matmul_tiles_avx2, dw_cols_avx2,         fc_forward_avx2,
                                         fc_weight_grads_avx2, fc_input_grads_avx2, rows_out_avx2,
                                         dw_rows_avx2, 3};

#undef KTARGET
#undef VEC
#undef VL
#undef BCASTV
#undef MADD
#undef RELUV
#undef KEEP
#undef ISA
#undef CHUNK
#undef NJ_RUN
#undef RUN

/* ---- avx512: 16 lanes, 32 registers ---- */
#define KTARGET __attribute__((target("avx2,fma,avx512f,avx512vl")))
#define KEEP(v) __asm__("" : "+v"(v))
#define VEC v8f
#define VL 8
#define BCASTV(s) ((v8f)_mm256_set1_ps(s))
#define MADD(acc, a, b) ((acc) = (v8f)_mm256_fmadd_ps((__m256)(a), (__m256)(b), (__m256)(acc)))
#define TILE_FN tile8x24_avx512
#define TILE_NJ 8
#include "kernels_tile.h"
#define TILE_FN tile6x24_avx512
#define TILE_NJ 6
#include "kernels_tile.h"
#define TILE_FN tile4x24_avx512
#define TILE_NJ 4
#include "kernels_tile.h"
#define DW_FN dw_rows_avx512
#define DW_PAIRS 6
#include "kernels_dw.h"
#undef VEC
#undef VL
#undef BCASTV
#undef MADD

#define VEC v16f
#define VL 16
#define BCASTV(s) ((v16f)_mm512_set1_ps(s))
#define MADD(acc, a, b) ((acc) = (v16f)_mm512_fmadd_ps((__m512)(a), (__m512)(b), (__m512)(acc)))
#define TILE_FN tile8x48_avx512
#define TILE_NJ 8
#include "kernels_tile.h"
#define TILE_FN tile6x48_avx512
#define TILE_NJ 6
#include "kernels_tile.h"
#define TILE_FN tile4x48_avx512
#define TILE_NJ 4
#include "kernels_tile.h"

/* 24 positions on 8 lanes, from `at` of the chunk; for the last outputs
 * of a layer (6 of LeNet's first convolution) the smallest tile that
 * holds them, not 8 rows of which some repeat output 0 for nothing. */
static KTARGET void run24_avx512(const Chunk *ch, long at, const float *x, long xstride, long nc, const long *off,
                                 long nt, const float *w, long wj, long wc, int nj, float *y, long ystride, int acc)
{
    long b = chunk_at(ch, at), v1 = chunk_at(ch, at + 8) - b, v2 = chunk_at(ch, at + 16) - b;
    x += b;
    y += at;
    if (nj > 6)
        tile8x24_avx512(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
    else if (nj > 4)
        tile6x24_avx512(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
    else
        tile4x24_avx512(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
}

/* Whether the chunk's groups of 8 pair into 16 consecutive positions
 * (the chunk starts at a multiple of 48). */
static int pairs16(const Chunk *ch)
{
    const long *g = ch->at8 + ch->p0 / 8;
    return g[1] == g[0] + 8 && g[3] == g[2] + 8 && g[5] == g[4] + 8;
}

/* 48 positions on 16 lanes, unless a 16-lane vector would cross from
 * one group of 8 to another that does not follow it: then two tiles on
 * 8 lanes, as for a task's odd last 24. */
static KTARGET void run_avx512(long q, const Chunk *ch, const float *x, long xstride, long nc, const long *off,
                               long nt, const float *w, long wj, long wc, int nj, float *y, long ystride, int acc)
{
    long v1 = chunk_at(ch, 16), v2 = chunk_at(ch, 32);
    if (q == 24 || (ch->at8 && !pairs16(ch))) {
        for (long at = 0; at < q; at += 24)
            run24_avx512(ch, at, x, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
    } else if (nj > 6)
        tile8x48_avx512(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
    else if (nj > 4)
        tile6x48_avx512(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
    else
        tile4x48_avx512(x, v1, v2, xstride, nc, off, nt, w, wj, wc, nj, y, ystride, acc);
}

#define ISA(name) name##_avx512
#define CHUNK 48
#define NJ_RUN 8
#define RUN run_avx512
#define IMPL_TILES_ONLY
#include "kernels_impl.h"

static const cnn_kernels avx512_kernels = {"avx512",          conv_tiles_avx512,      dw_tile_avx2,
                                           matmul_tiles_avx512, dw_cols_avx2,         fc_forward_avx2,
                                           fc_weight_grads_avx2, fc_input_grads_avx2, rows_out_avx2,
                                           dw_rows_avx512, 6};
#endif

/* Whether this CPU (and its OS) runs the set's instructions. */
static int cpu_runs(const cnn_kernels *k)
{
    if (k == &generic_kernels)
        return 1;
#if CNN_X86
    __builtin_cpu_init();
    int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == &avx2_kernels)
        return avx2;
    if (k == &avx512_kernels)
        return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl");
#endif
    return 0;
}

/* Best first. */
static const cnn_kernels *const every_set[] = {
#if CNN_X86
    &avx512_kernels, &avx2_kernels,
#endif
    &generic_kernels,
};

const cnn_kernels *cnn_kernels_isa(const char *isa)
{
    for (size_t i = 0; i < sizeof every_set / sizeof every_set[0]; i++)
        if (strcmp(every_set[i]->isa, isa) == 0)
            return cpu_runs(every_set[i]) ? every_set[i] : NULL;
    return NULL;
}

static const cnn_kernels *choose(void)
{
    const cnn_kernels *best = &generic_kernels;
    for (size_t i = 0; i < sizeof every_set / sizeof every_set[0]; i++)
        if (cpu_runs(every_set[i])) {
            best = every_set[i];
            break;
        }
    const char *want = getenv("CNNRT_ISA");
    if (!want || !*want)
        return best;
    const cnn_kernels *k = cnn_kernels_isa(want);
    if (!k)
        fprintf(stderr, "cnnrt: CNNRT_ISA=%s is not one this CPU runs (generic, avx2, avx512): using %s\n", want,
                best->isa);
    return k ? k : best;
}

const cnn_kernels *cnn_kernels_best(void)
{
#if CNN_GNU
    static const cnn_kernels *chosen;
    const cnn_kernels *k = __atomic_load_n(&chosen, __ATOMIC_ACQUIRE);
    if (!k) {
        k = choose();
        __atomic_store_n(&chosen, k, __ATOMIC_RELEASE);
    }
    return k;
#else
    return choose();   /* no atomics in C99: the environment each time */
#endif
}

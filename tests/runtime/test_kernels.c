/* test_kernels.c - every instruction set's cnn_kernels this CPU runs
 * (generic, avx2, avx512), against sums in double computed here, on
 * shapes that reach their edges: outputs not a multiple of the
 * micro-kernel's, an odd number of tiles (16-lane kernels take two at
 * once), several passes over the channels, packed and direct reads,
 * dL/dx's flipped taps, dilation, sums whose length is no multiple of a
 * vector.  A set the CPU lacks is reported as skipped.
 *
 * Build: cc -std=c99 -Iruntime tests/runtime/test_kernels.c libcnnrt.a -lcunit -lz -lm */
#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

static const cnn_kernels *kernels;   /* the set under test */

static float *random_floats(long n, unsigned seed)
{
    float *p = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    CU_ASSERT_FATAL(p != NULL);
    for (long i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (float)((seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return p;
}

/* got against want, within float rounding of a sum of terms of size
 * `scale` in all (the sum of the terms' magnitudes). */
static int close_to(float got, double want, double scale)
{
    return fabs((double)got - want) <= 1e-5 * scale + 1e-6;
}

/* ---- conv_tiles ---- */

typedef struct {
    long c, f, kh, kw, wp, dw, t0, t1;
    int flipped;
    long width, gap;   /* at8: groups of 8 in rows of width positions, gap floats
                          skipped after each; odd gaps put the rows in reverse */
} ConvCase;

/* Where conv_tiles reads position q's window: group g of 8 in row
 * g * 8 / width, which lies at row * (width + gap) (reversed: from the
 * end of the positions, so that groups of 8 never pair into 16). */
static long plane_at(const ConvCase *k, long q)
{
    if (!k->width)
        return q;
    long row = q / k->width, rows = (k->t1 * CNN_TILE_Q + k->width - 1) / k->width;
    if (k->gap % 2)
        row = rows - 1 - row;
    return row * (k->width + k->gap) + q % k->width;
}

static void check_conv(const ConvCase *k)
{
    long reach = (k->kw - 1) * k->dw, span = (k->kh - 1) * k->wp + reach;
    long rows = k->width ? (k->t1 * CNN_TILE_Q + k->width - 1) / k->width : 0;
    long plane = (k->width ? rows * (k->width + k->gap) : k->t1 * CNN_TILE_Q) + span + 7;
    long out_stride = k->t1 * CNN_TILE_Q + 5, at8[256];
    for (long g = 0; g < k->t1 * CNN_TILE_Q / 8; g++)
        at8[g] = plane_at(k, 8 * g);
    float *in = random_floats(k->c * plane, 1), *w = random_floats(k->f * k->c * k->kh * k->kw, 2);
    long nout = (k->f + 1) * out_stride;   /* one row more: the kernel's not to touch */
    float *out = random_floats(nout, 3), *before = malloc(sizeof(float) * (size_t)nout);
    CU_ASSERT_FATAL(before != NULL);
    memcpy(before, out, sizeof(float) * (size_t)nout);
    cnn_tile_conv p = {in, plane, k->c, k->kh, k->kw, k->wp, k->dw, k->flipped, w, k->c * k->kh * k->kw,
                       k->kh * k->kw, k->f, out, out_stride, k->width ? at8 : NULL};
    kernels->conv_tiles(&p, k->t0, k->t1);
    long bad = 0;
    for (long f = 0; f <= k->f; f++)
        for (long q = 0; q < out_stride; q++) {
            float got = out[f * out_stride + q];
            if (f == k->f || q < k->t0 * CNN_TILE_Q || q >= k->t1 * CNN_TILE_Q) {
                bad += got != before[f * out_stride + q];   /* not the kernel's to write */
                continue;
            }
            double sum = 0, scale = 0;
            for (long c = 0; c < k->c; c++)
                for (long r = 0; r < k->kh; r++)
                    for (long s = 0; s < k->kw; s++) {
                        long at = k->flipped ? (k->kh - 1 - r) * k->wp + (k->kw - 1 - s) * k->dw
                                             : r * k->wp + s * k->dw;
                        double term = (double)w[f * k->c * k->kh * k->kw + c * k->kh * k->kw + r * k->kw + s] *
                                      in[c * plane + plane_at(k, q) + at];
                        sum += term;
                        scale += fabs(term);
                    }
            bad += !close_to(got, sum, scale);
        }
    if (bad)
        printf("\n  %s conv_tiles c %ld f %ld %ldx%ld wp %ld dw %ld tiles [%ld, %ld)%s rows %ld gap %ld: %ld wrong",
               kernels->isa, k->c, k->f, k->kh, k->kw, k->wp, k->dw, k->t0, k->t1, k->flipped ? " flipped" : "",
               k->width, k->gap, bad);
    CU_ASSERT(bad == 0);
    free(in);
    free(w);
    free(out);
    free(before);
}

static void test_conv_tiles(void)
{
    static const ConvCase cases[] = {
        {3, 5, 3, 3, 20, 1, 0, 3, 0, 0, 0},      /* direct reads, outputs not a multiple of 4 or 8 */
        {3, 5, 3, 3, 20, 1, 1, 4, 1, 0, 0},      /* dL/dx */
        {70, 13, 3, 3, 58, 1, 2, 7, 0, 0, 0},    /* several passes over the channels */
        {70, 13, 3, 3, 58, 1, 0, 5, 1, 0, 0},
        {40, 9, 5, 5, 200, 1, 0, 3, 0, 0, 0},    /* packed rows, several passes */
        {40, 9, 5, 5, 200, 1, 3, 6, 1, 0, 0},
        {2, 17, 3, 3, 90, 2, 0, 4, 0, 0, 0},     /* dilation */
        {1, 6, 5, 5, 32, 1, 0, 1, 1, 0, 0},      /* LeNet's first layer, one tile */
        {6, 16, 1, 1, 14, 1, 0, 2, 0, 0, 0},     /* 1x1 */
        {5, 9, 3, 3, 18, 1, 0, 6, 0, 16, 2},     /* groups of 8: rows of 16, pad columns skipped */
        {5, 9, 3, 3, 18, 1, 1, 6, 1, 16, 2},     /* the same from an odd tile, flipped */
        {4, 7, 3, 5, 28, 1, 0, 5, 0, 24, 4},     /* rows of 24: 16-lane vectors would cross them */
        {3, 6, 3, 3, 12, 2, 0, 4, 0, 8, 4},      /* rows of 8, dilated */
        {3, 10, 3, 3, 19, 1, 0, 6, 0, 16, 3},    /* rows of 16 in reverse: vectors of 16 in rows  */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i]);
}

/* ---- dw_tile, dw_rows, dw_cols ---- */

static void test_dw_tile(void)
{
    long nv = 17, nimg = 2, dqstride = nv * 8 + 3, istride = 4 * dqstride + 11;
    float *dq = random_floats(nimg * istride, 4), *x = random_floats(nimg * istride + 40, 5);
    float s[12];
    for (int i = 0; i < 12; i++)
        s[i] = (float)i;
    const float *xs[3] = {x + 1, x + 9, x + 30};
    kernels->dw_tile(dq, dqstride, xs[0], xs[1], xs[2], nv, nimg, istride, s);
    long bad = 0;
    for (int j = 0; j < 4; j++)
        for (int k = 0; k < 3; k++) {
            double sum = j * 3 + k, scale = fabs(sum);
            for (long im = 0; im < nimg; im++)
                for (long q = 0; q < nv * 8; q++) {
                    double term = (double)dq[im * istride + j * dqstride + q] * xs[k][im * istride + q];
                    sum += term;
                    scale += fabs(term);
                }
            bad += !close_to(s[j * 3 + k], sum, scale);
        }
    CU_ASSERT(bad == 0);
    free(dq);
    free(x);
}

/* 2 depths of 3 rows of 16 positions, rows and depths apart in x (gaps
 * the kernel must skip), inputs at unaligned offsets, sums added to what
 * s holds. */
static void test_dw_rows(void)
{
    long nv = 2, nr = 3, nd = 2, xrow = nv * 8 + 5, xdepth = 4 * xrow + 3, np = kernels->dw_pairs;
    long per = nd * nr * nv * 8, dqstride = per + 9;
    float *dq = random_floats(4 * dqstride, 9), *x = random_floats(nd * xdepth + 40, 10);
    float s[4 * CNN_DW_PAIRS];
    const float *xs[CNN_DW_PAIRS];
    CU_ASSERT_FATAL(np >= 1 && np <= CNN_DW_PAIRS);
    for (long i = 0; i < np; i++) {
        xs[i] = x + (i == np - 1 ? 0 : 7 * i + 1);
        for (int j = 0; j < 4; j++)
            s[j * np + i] = (float)(j * np + i);
    }
    kernels->dw_rows(dq, dqstride, xs, xrow, xdepth, nv, nr, nd, s);
    long bad = 0;
    for (int j = 0; j < 4; j++)
        for (long i = 0; i < np; i++) {
            double sum = (double)(j * np + i), scale = fabs(sum);
            for (long q = 0; q < per; q++) {
                long z = q / (nr * nv * 8), r = q / (nv * 8) % nr, v = q % (nv * 8);
                double term = (double)dq[j * dqstride + q] * xs[i][z * xdepth + r * xrow + v];
                sum += term;
                scale += fabs(term);
            }
            bad += !close_to(s[j * np + i], sum, scale);
        }
    CU_ASSERT(bad == 0);
    free(dq);
    free(x);
}

static void test_dw_cols(void)
{
    long ng = 1032, nk = 70, nf = 7, f0 = 4, f1 = 8;
    float *dq = random_floats(8 * ng, 6), *x = random_floats(nk * ng, 7), *dw = random_floats(nf * nk, 8);
    float *before = malloc(sizeof(float) * (size_t)(nf * nk));
    CU_ASSERT_FATAL(before != NULL);
    memcpy(before, dw, sizeof(float) * (size_t)(nf * nk));
    kernels->dw_cols(dq, x, ng, nk, nf, f0, f1, dw);
    long bad = 0;
    for (long f = 0; f < nf; f++)
        for (long k = 0; k < nk; k++) {
            double sum = before[f * nk + k], scale = fabs(sum);
            for (long q = 0; f >= f0 && q < ng; q++) {
                double term = (double)dq[f * ng + q] * x[k * ng + q];
                sum += term;
                scale += fabs(term);
            }
            bad += !close_to(dw[f * nk + k], sum, scale);
        }
    CU_ASSERT(bad == 0);
    free(dq);
    free(x);
    free(dw);
    free(before);
}

/* ---- matmul_tiles ---- */

static void test_matmul_tiles(void)
{
    long nk = 300, t0 = 1, t1 = 4, ld = 5 * CNN_TILE_Q, nf = 11, f0 = 4, f1 = 12, wj = nk + 2, wc = 1;
    float *x = random_floats(nk * ld, 9), *w = random_floats(nf * wj, 10), *y = random_floats(12 * ld, 11);
    kernels->matmul_tiles(x, ld, nk, w, wj, wc, nf, f0, f1, t0, t1, y);
    long bad = 0;
    for (long f = f0; f < nf; f++)
        for (long q = t0 * CNN_TILE_Q; q < t1 * CNN_TILE_Q; q++) {
            double sum = 0, scale = 0;
            for (long k = 0; k < nk; k++) {
                double term = (double)w[f * wj + k * wc] * x[k * ld + q];
                sum += term;
                scale += fabs(term);
            }
            bad += !close_to(y[f * ld + q], sum, scale);
        }
    CU_ASSERT(bad == 0);
    free(x);
    free(w);
    free(y);
}

/* ---- fully connected ---- */

static void test_fc(void)
{
    long nin = 37, nout = 11, n = 3;
    float *x = random_floats(n * nin, 12), *w = random_floats(nout * nin, 13), *b = random_floats(nout, 14);
    float *y = random_floats(n * nout, 15), *dy = random_floats(n * nout, 16), *dx = random_floats(n * nin, 17);
    float *dw = random_floats(nout * nin, 18), *db = random_floats(nout, 19);
    float *dx0 = malloc(sizeof(float) * (size_t)(n * nin)), *dw0 = malloc(sizeof(float) * (size_t)(nout * nin));
    float db0[11];
    CU_ASSERT_FATAL(dx0 && dw0);
    memcpy(dx0, dx, sizeof(float) * (size_t)(n * nin));
    memcpy(dw0, dw, sizeof(float) * (size_t)(nout * nin));
    memcpy(db0, db, sizeof db0);
    kernels->fc_forward(x, nin, w, b, nout, 2, nout, n, y);
    kernels->fc_forward(x, nin, w, NULL, nout, 0, 2, n, y);
    kernels->fc_weight_grads(x, nin, dy, nout, 0, 5, n, dw, db);
    kernels->fc_weight_grads(x, nin, dy, nout, 5, nout, n, dw, NULL);
    kernels->fc_input_grads(dy, nout, w, nin, 1, n, dx);
    long bad = 0;
    for (long i = 0; i < n; i++)
        for (long o = 0; o < nout; o++) {
            double sum = o >= 2 ? b[o] : 0, scale = fabs(sum);
            for (long k = 0; k < nin; k++) {
                sum += (double)w[o * nin + k] * x[i * nin + k];
                scale += fabs((double)w[o * nin + k] * x[i * nin + k]);
            }
            bad += !close_to(y[i * nout + o], sum, scale);
        }
    for (long o = 0; o < nout; o++) {
        double bsum = db0[o];
        for (long i = 0; i < n; i++)
            bsum += dy[i * nout + o];
        bad += o < 5 ? !close_to(db[o], bsum, 10) : db[o] != db0[o];
        for (long k = 0; k < nin; k++) {
            double sum = dw0[o * nin + k];
            for (long i = 0; i < n; i++)
                sum += (double)dy[i * nout + o] * x[i * nin + k];
            bad += !close_to(dw[o * nin + k], sum, 10);
        }
    }
    for (long i = 0; i < n; i++)
        for (long k = 0; k < nin; k++) {
            double sum = dx0[i * nin + k];
            for (long o = 0; i >= 1 && o < nout; o++)
                sum += (double)dy[i * nout + o] * w[o * nin + k];
            bad += !close_to(dx[i * nin + k], sum, 20);
        }
    CU_ASSERT(bad == 0);
    free(x), free(w), free(b), free(y), free(dy), free(dx), free(dw), free(db), free(dx0), free(dw0);
}

/* ---- rows_out: exactly the generated code's v > 0 ? v : 0 ---- */

static void test_rows_out(void)
{
    long oh = 3, ow = 29, width = 40;
    float *rows = random_floats(oh * width, 20), *y = random_floats((oh + 1) * ow, 21);
    float end = y[oh * ow];
    rows[3] = -0.0f;
    rows[5] = NAN;
    rows[width + 20] = NAN;
    long bad = 0;
    for (int relu = 0; relu < 2; relu++) {
        kernels->rows_out(rows, width, oh, ow, 0.25f, relu, y);
        for (long r = 0; r < oh; r++)
            for (long o = 0; o < ow; o++) {
                float v = rows[r * width + o] + 0.25f, want = relu ? (v > 0.0f ? v : 0.0f) : v;
                float got = y[r * ow + o];
                bad += isnan(want) ? !isnan(got) : memcmp(&got, &want, sizeof got) != 0;
            }
    }
    rows[3] = -0.0f;   /* -0 + -0 is -0, which relu makes +0 */
    kernels->rows_out(rows, width, 1, ow, -0.0f, 1, y);
    bad += signbit(y[3]) != 0 || y[3] != 0.0f;
    CU_ASSERT(bad == 0);
    CU_ASSERT(y[oh * ow] == end);   /* not the kernel's to write */
    free(rows);
    free(y);
}

static void test_lookup(void)
{
    CU_ASSERT(cnn_kernels_isa("sse9") == NULL);
    CU_ASSERT(cnn_kernels_isa("") == NULL);
    CU_ASSERT_FATAL(cnn_kernels_isa("generic") != NULL);
    CU_ASSERT(strcmp(cnn_kernels_isa("generic")->isa, "generic") == 0);
    CU_ASSERT(cnn_kernels_best() != NULL);
}

/* The set's tests, or a line saying that the CPU lacks it; failures. */
static unsigned run_set(const char *isa)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {{"conv_tiles", test_conv_tiles}, {"dw_tile", test_dw_tile}, {"dw_rows", test_dw_rows},
                 {"dw_cols", test_dw_cols},
                 {"matmul_tiles", test_matmul_tiles}, {"fc", test_fc},
                 {"rows_out", test_rows_out}};
    kernels = cnn_kernels_isa(isa);
    if (!kernels) {
        printf("test_kernels: %s kernels skipped: not in this build, or this CPU does not run them\n", isa);
        return 0;
    }
    CU_pSuite suite = CU_add_suite(isa, NULL, NULL);
    if (!suite)
        return 1;
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    if (CU_basic_run_suite(suite) != CUE_SUCCESS)
        return 1;
    return CU_get_number_of_failures();
}

int main(void)
{
    static const char *sets[] = {"generic", "avx2", "avx512"};
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 1;
    CU_pSuite lookup = CU_add_suite("lookup", NULL, NULL);
    CU_add_test(lookup, "cnn_kernels_isa", test_lookup);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_suite(lookup);
    unsigned failures = CU_get_number_of_failures();
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        failures += run_set(sets[i]);
    CU_cleanup_registry();
    return failures ? 1 : 0;
}

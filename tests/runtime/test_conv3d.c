/* test_conv3d.c - the runtime's 3-D convolution (runtime/conv3d.c) on
 * small random cases that reach both of its paths (direct tiles and
 * vol2col columns) for each of forward, dL/dW and dL/dx: against sums in
 * double computed here, against central differences of its own forward
 * (a convolution is linear, so they are exact up to rounding), and with
 * every range split in uneven pieces as a thread team would call it.
 *
 * Usage: test_conv3d [DIR]  with DIR, each case's inputs and results go to
 * DIR/caseN.bin for tests/runtime/conv3d_ref.py to check against PyTorch.
 * Exit status 1 when a check fails. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

typedef struct {
    int n, c, d, h, w, f, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw;
} Case;

static const Case cases[] = {
    /* n  c  d  h   w  f  kd kh kw sd sh sw pd ph pw dd dh dw */
    {2, 3, 4, 5, 6, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1},    /* 1x1x1 */
    {1, 4, 6, 7, 9, 6, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* 3x3x3 pad 1 */
    {1, 2, 7, 8, 9, 3, 5, 5, 5, 1, 1, 1, 2, 2, 2, 1, 1, 1},    /* 5x5x5 pad 2 */
    {2, 3, 6, 8, 10, 4, 2, 2, 2, 2, 2, 2, 0, 0, 0, 1, 1, 1},   /* 2x2x2 stride 2 */
    {1, 3, 5, 6, 7, 4, 3, 3, 3, 1, 1, 1, 1, 0, 2, 1, 1, 1},    /* pads per axis */
    {1, 2, 7, 8, 8, 3, 3, 3, 3, 1, 1, 1, 2, 1, 2, 2, 1, 2},    /* dilation in depth */
    {1, 3, 5, 9, 9, 5, 3, 3, 3, 1, 1, 1, 1, 2, 2, 1, 2, 2},    /* dilation in H, W */
    {1, 3, 7, 6, 6, 4, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},    /* stride in depth */
    {1, 5, 5, 9, 11, 7, 3, 2, 4, 1, 1, 1, 1, 1, 0, 1, 1, 1},   /* odd kernel and sizes */
    {1, 16, 4, 12, 12, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* channels in passes */
    {1, 3, 4, 5, 5, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* pad beyond the kernel */
    {2, 4, 3, 2, 2, 32, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1},   /* planes too small for tiles */
    {1, 3, 9, 9, 9, 4, 3, 3, 3, 2, 3, 2, 1, 0, 1, 1, 1, 1},    /* strides, odd sizes */
    {1, 3, 8, 16, 16, 4, 3, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1},  /* columns of 3, 3 and 2 depths */
    {2, 24, 2, 2, 3, 30, 5, 5, 5, 1, 1, 1, 2, 2, 2, 1, 1, 1},  /* small volume: dL/dW by rows, dL/dx in 2 blocks */
    {1, 3, 4, 16, 16, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* rows of 16: the tiles skip the pad columns */
    {1, 4, 3, 8, 24, 5, 3, 3, 5, 1, 1, 1, 1, 1, 2, 1, 1, 1},   /* rows of 24: 16-lane vectors would cross them */
    {1, 2, 3, 6, 16, 3, 3, 3, 3, 1, 1, 1, 1, 2, 2, 1, 2, 2},   /* rows of 16, dilated taps */
    {1, 3, 7, 6, 8, 4, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},    /* rows of 8, depth stride 2 */
    {1, 2, 3, 4, 8, 3, 3, 3, 3, 1, 1, 1, 2, 3, 1, 1, 1, 1},    /* rows of 8, rows reading only padding */
    {1, 1, 2, 40, 110, 2, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* dL/dW in blocks of 36 and 4 rows */
    {1, 2, 11, 30, 30, 5, 3, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1}, /* dL/dW in blocks of 4 and 2 depths */
    {2, 3, 5, 6, 16, 5, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* dL/dW reads dL/dy, 5 filters */
    {1, 3, 5, 6, 16, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* dL/dW copies dL/dy, 3 filters */
};

static int failures;

static float *floats(long n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!p) {
        fprintf(stderr, "test_conv3d: out of memory\n");
        exit(2);
    }
    return p;
}

static float *random_floats(long n, unsigned *seed)
{
    float *p = floats(n);
    for (long i = 0; i < n; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)((*seed >> 8) % 2001) / 1000.0f - 1.0f;
    }
    return p;
}

/* The geometry of case k, initialised. */
static cnn_conv3d geometry(const Case *k)
{
    cnn_conv3d g;
    memset(&g, 0, sizeof g);
    g.c = k->c, g.d = k->d, g.h = k->h, g.w = k->w, g.f = k->f;
    g.kd = k->kd, g.kh = k->kh, g.kw = k->kw, g.sd = k->sd, g.sh = k->sh, g.sw = k->sw;
    g.pd = k->pd, g.ph = k->ph, g.pw = k->pw, g.dd = k->dd, g.dh = k->dh, g.dw = k->dw;
    if (cnn_conv3d_init(&g)) {
        fprintf(stderr, "test_conv3d: cnn_conv3d_init refused a valid geometry\n");
        exit(1);
    }
    return g;
}

/* Everything one case computes, for n items. */
typedef struct {
    long in, out, wn;               /* floats per item in and out, weights */
    float *x, *w, *b, *dy;          /* inputs */
    float *y, *dx, *dw, *db;        /* results */
    float *dxc;                     /* dL/dx again, split by channels */
} Run;

/* The index of x[c][z][r][s] in one item, or -1 in the padding. */
static long input_at(const cnn_conv3d *g, long c, long z, long r, long s)
{
    if (z < 0 || z >= g->d || r < 0 || r >= g->h || s < 0 || s >= g->w)
        return -1;
    return ((c * g->d + z) * g->h + r) * g->w + s;
}

/* Calls fn(item's x index, y index, w index) for every product term. */
#define EACH_TERM(g, BODY)                                                                            \
    for (long f = 0; f < (g)->f; f++)                                                                 \
        for (long oz = 0; oz < (g)->od; oz++)                                                         \
            for (long oy = 0; oy < (g)->oh; oy++)                                                     \
                for (long ox = 0; ox < (g)->ow; ox++)                                                 \
                    for (long c = 0; c < (g)->c; c++)                                                 \
                        for (long a = 0; a < (g)->kd; a++)                                            \
                            for (long r = 0; r < (g)->kh; r++)                                        \
                                for (long s = 0; s < (g)->kw; s++) {                                  \
                                    long xi = input_at(g, c, oz * (g)->sd + a * (g)->dd - (g)->pd,    \
                                                       oy * (g)->sh + r * (g)->dh - (g)->ph,          \
                                                       ox * (g)->sw + s * (g)->dw - (g)->pw);         \
                                    long yi = ((f * (g)->od + oz) * (g)->oh + oy) * (g)->ow + ox;     \
                                    long wi = (((f * (g)->c + c) * (g)->kd + a) * (g)->kh + r) *      \
                                              (g)->kw + s;                                            \
                                    if (xi >= 0) {                                                    \
                                        BODY;                                                         \
                                    }                                                                 \
                                }

static void expect(const char *what, int k, long i, float got, double want, double scale)
{
    if (fabs((double)got - want) <= 1e-5 * scale + 1e-5)
        return;
    if (failures++ < 20)
        fprintf(stderr, "test_conv3d: case %d %s[%ld] = %.7g, want %.7g\n", k, what, i, got, want);
}

/* Results against sums in double (and each sum's magnitude for the tolerance). */
static void check_sums(const cnn_conv3d *g, const Run *u, int n, int k)
{
    double *want = calloc((size_t)(u->out + u->in + u->wn) * 2, sizeof(double));
    if (!want)
        exit(2);
    for (int i = 0; i < n; i++) {
        const float *x = u->x + i * u->in, *dy = u->dy + i * u->out;
        double *y = want, *ys = want + u->out, *dx = ys + u->out, *dxs = dx + u->in;
        memset(want, 0, sizeof(double) * (size_t)(2 * (u->out + u->in)));
        EACH_TERM(g, y[yi] += (double)x[xi] * u->w[wi]; ys[yi] += fabs((double)x[xi] * u->w[wi]);
                  dx[xi] += (double)dy[yi] * u->w[wi]; dxs[xi] += fabs((double)dy[yi] * u->w[wi]))
        for (long j = 0; j < u->out; j++)
            expect("y", k, i * u->out + j, u->y[i * u->out + j], y[j] + u->b[j / (u->out / g->f)], ys[j] + 1);
        for (long j = 0; j < u->in; j++)
            expect("dx", k, i * u->in + j, u->dx[i * u->in + j], dx[j], dxs[j]);
    }
    double *dw = want, *dws = want + u->wn, db[64] = {0};
    memset(want, 0, sizeof(double) * (size_t)(2 * u->wn));
    for (int i = 0; i < n; i++) {
        const float *x = u->x + i * u->in, *dy = u->dy + i * u->out;
        EACH_TERM(g, dw[wi] += (double)dy[yi] * x[xi]; dws[wi] += fabs((double)dy[yi] * x[xi]))
        for (long j = 0; j < u->out; j++)
            db[j / (u->out / g->f)] += dy[j];
    }
    for (long j = 0; j < u->wn; j++)
        expect("dw", k, j, u->dw[j], dw[j], dws[j]);
    for (long f = 0; f < g->f; f++)
        expect("db", k, f, u->db[f], db[f], (double)u->out * n);
    free(want);
}

/* Forward of n items, each range split in three uneven pieces. */
static void forward(const cnn_conv3d *g, const Run *u, const float *x, const float *w, int n)
{
    float *xpad = floats(g->xpad_floats), *wpack = floats(g->wpack_floats), *task = floats(g->task_floats);
    cnn_conv3d_pack(g, w, wpack);
    for (int i = 0; i < n; i++) {
        long p = g->xpad_planes;
        cnn_conv3d_pad_input(g, x + i * u->in, xpad, p / 3, p);
        cnn_conv3d_pad_input(g, x + i * u->in, xpad, 0, p / 3);
        int a = g->od / 3, b = g->od - g->od / 4;
        float *y = u->y + i * u->out;
        cnn_conv3d_forward(g, x + i * u->in, xpad, w, wpack, u->b, y, b, g->od, task);
        cnn_conv3d_forward(g, x + i * u->in, xpad, w, wpack, u->b, y, 0, a, task);
        cnn_conv3d_forward(g, x + i * u->in, xpad, w, wpack, u->b, y, a, b, task);
    }
    free(xpad);
    free(wpack);
    free(task);
}

static void backward(const cnn_conv3d *g, const Run *u, int n)
{
    float *xpad = floats(g->xpad_floats), *wpack = floats(g->wpack_floats), *task = floats(g->task_floats);
    float *dyp = floats(g->dy_floats);
    cnn_conv3d_pack(g, u->w, wpack);
    for (int i = 0; i < n; i++) {
        const float *x = u->x + i * u->in, *dy = u->dy + i * u->out;
        cnn_conv3d_pad_input(g, x, xpad, 0, g->xpad_planes);
        cnn_conv3d_pad_dy(g, dy, dyp, g->dy_planes / 2, g->dy_planes);
        cnn_conv3d_pad_dy(g, dy, dyp, 0, g->dy_planes / 2);
        int f1 = g->f / 3 + 1 < g->f ? g->f / 3 + 1 : g->f;   /* not a multiple of 4 */
        cnn_conv3d_weight_grads(g, x, xpad, dy, dyp, u->dw, u->db, f1, g->f, task);
        cnn_conv3d_weight_grads(g, x, xpad, dy, dyp, u->dw, u->db, 0, f1, task);
        int d1 = g->d / 2;
        cnn_conv3d_input_grads(g, dy, dyp, u->w, wpack, u->dx + i * u->in, d1, g->d, task);
        cnn_conv3d_input_grads(g, dy, dyp, u->w, wpack, u->dx + i * u->in, 0, d1, task);
        if (!u->dxc)
            continue;
        int c1 = g->c / 3 + 1 < g->c ? g->c / 3 + 1 : g->c;
        cnn_conv3d_input_grads_channels(g, dy, dyp, u->w, wpack, u->dxc + i * u->in, c1, g->c, task);
        cnn_conv3d_input_grads_channels(g, dy, dyp, u->w, wpack, u->dxc + i * u->in, 0, c1, task);
    }
    free(xpad);
    free(wpack);
    free(task);
    free(dyp);
}

/* L = sum of y * dy; dL/dx[j] and dL/dw[j] at a few j against (L(+e) -
 * L(-e)) / 2e of our own forward. */
static double loss(const cnn_conv3d *g, const Run *u, const float *x, const float *w, int n)
{
    double l = 0;
    forward(g, u, x, w, n);
    for (long j = 0; j < n * u->out; j++)
        l += (double)u->y[j] * u->dy[j];
    return l;
}

static void check_differences(const cnn_conv3d *g, Run *u, int n, int k)
{
    const float e = 0.125f;   /* a power of 2: x +- e is exact for |x| <= 1 */
    for (int t = 0; t < 5; t++) {
        long j = (t * 7919L) % (n * u->in), m = (t * 104729L) % u->wn;
        float keep = u->x[j];
        u->x[j] = keep + e;
        double up = loss(g, u, u->x, u->w, n);
        u->x[j] = keep - e;
        double down = loss(g, u, u->x, u->w, n);
        u->x[j] = keep;
        expect("dx (differences)", k, j, u->dx[j], (up - down) / (2 * e), 10 * (fabs(up) + fabs(down)));
        keep = u->w[m];
        u->w[m] = keep + e;
        up = loss(g, u, u->x, u->w, n);
        u->w[m] = keep - e;
        down = loss(g, u, u->x, u->w, n);
        u->w[m] = keep;
        expect("dw (differences)", k, m, u->dw[m], (up - down) / (2 * e), 10 * (fabs(up) + fabs(down)));
    }
}

/* DIR/caseK.bin: 18 int32 (the Case), then x, w, b, dy, y, dx, dw, db. */
static void save(const char *dir, int k, const Case *c, const Run *u)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/case%d.bin", dir, k);
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        perror(path);
        exit(2);
    }
    const int *head = &c->n;
    long n = c->n;
    fwrite(head, sizeof(int), 18, fp);
    fwrite(u->x, sizeof(float), (size_t)(n * u->in), fp);
    fwrite(u->w, sizeof(float), (size_t)u->wn, fp);
    fwrite(u->b, sizeof(float), (size_t)c->f, fp);
    fwrite(u->dy, sizeof(float), (size_t)(n * u->out), fp);
    fwrite(u->y, sizeof(float), (size_t)(n * u->out), fp);
    fwrite(u->dx, sizeof(float), (size_t)(n * u->in), fp);
    fwrite(u->dw, sizeof(float), (size_t)u->wn, fp);
    fwrite(u->db, sizeof(float), (size_t)c->f, fp);
    if (fclose(fp)) {
        perror(path);
        exit(2);
    }
}

static void run_case(int k, const char *dir)
{
    const Case *c = &cases[k];
    cnn_conv3d g = geometry(c);
    unsigned seed = 17u + (unsigned)k;
    Run u;
    u.in = (long)c->c * c->d * c->h * c->w;
    u.out = (long)c->f * g.od * g.oh * g.ow;
    u.wn = (long)c->f * c->c * c->kd * c->kh * c->kw;
    u.x = random_floats(c->n * u.in, &seed);
    u.w = random_floats(u.wn, &seed);
    u.b = random_floats(c->f, &seed);
    u.dy = random_floats(c->n * u.out, &seed);
    u.y = floats(c->n * u.out);
    u.dx = random_floats(c->n * u.in, &seed);   /* dL/dx, dL/dW, dL/db add to what they hold */
    u.dw = random_floats(u.wn, &seed);
    u.db = random_floats(c->f, &seed);
    float *dx0 = floats(c->n * u.in), *dw0 = floats(u.wn), db0[64];
    memcpy(dx0, u.dx, sizeof(float) * (size_t)(c->n * u.in));
    u.dxc = floats(c->n * u.in);
    memcpy(u.dxc, u.dx, sizeof(float) * (size_t)(c->n * u.in));
    memcpy(dw0, u.dw, sizeof(float) * (size_t)u.wn);
    memcpy(db0, u.db, sizeof(float) * (size_t)c->f);
    forward(&g, &u, u.x, u.w, c->n);
    backward(&g, &u, c->n);
    for (long j = 0; j < c->n * u.in; j++)
        u.dx[j] -= dx0[j];
    for (long j = 0; j < u.wn; j++)
        u.dw[j] -= dw0[j];
    for (long j = 0; j < c->f; j++)
        u.db[j] -= db0[j];
    printf("case %2d: %dx%dx%dx%d -> %dx%dx%dx%d, forward and dL/dW by %s, dL/dx by %s\n", k, c->c, c->d, c->h,
           c->w, c->f, g.od, g.oh, g.ow, g.direct ? "tiles" : "columns", g.direct_dx ? "tiles" : "columns");
    check_sums(&g, &u, c->n, k);
    for (long j = 0; j < c->n * u.in; j++)   /* the same sums: the same bits */
        if (u.dxc[j] - dx0[j] != u.dx[j] && failures++ < 20)
            fprintf(stderr, "test_conv3d: case %d dx split by channels [%ld] = %.7g, by depths %.7g\n", k, j,
                    u.dxc[j] - dx0[j], u.dx[j]);
    free(u.dxc);
    u.dxc = NULL;
    if (dir)
        save(dir, k, c, &u);
    check_differences(&g, &u, c->n, k);
    free(u.x), free(u.w), free(u.b), free(u.dy), free(u.y), free(u.dx), free(u.dw), free(u.db);
    free(dx0), free(dw0);
}

/* Geometries init must refuse. */
static void check_refused(void)
{
    static const Case bad[] = {
        {1, 1, 2, 5, 5, 1, 3, 3, 3, 1, 1, 1, 0, 0, 0, 1, 1, 1},   /* kernel deeper than the input */
        {1, 1, 4, 5, 5, 1, 3, 3, 3, 0, 1, 1, 0, 0, 0, 1, 1, 1},   /* stride 0 */
        {1, 1, 4, 5, 5, 1, 3, 3, 3, 1, 1, 1, 0, -1, 0, 1, 1, 1},  /* negative pad */
        {1, 0, 4, 5, 5, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1},   /* no channels */
        {1, 1, 4, 5, 5, 1, 3, 3, 3, 1, 1, 1, 0, 0, 0, 2, 1, 1},   /* dilated past the input */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const Case *k = &bad[i];
        cnn_conv3d g = {k->c, k->d, k->h, k->w, k->f, k->kd, k->kh, k->kw, k->sd, k->sh, k->sw,
                        k->pd, k->ph, k->pw, k->dd, k->dh, k->dw, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        if (cnn_conv3d_init(&g) != -1 && failures++ < 20)
            fprintf(stderr, "test_conv3d: bad geometry %zu accepted\n", i);
    }
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : NULL;
    printf("test_conv3d: kernels %s\n", cnn_kernels_best()->isa);
    for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++)
        run_case(k, dir);
    check_refused();
    if (failures) {
        fprintf(stderr, "test_conv3d: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_conv3d: all %d cases pass\n", (int)(sizeof cases / sizeof cases[0]));
    return 0;
}

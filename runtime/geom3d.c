/* geom3d.c - the geometry of the runtime's volume layers: what
 * cnn_conv3d_init, cnn_deconv3d_init and cnn_pool3d_init work out from
 * the caller's sizes (output sizes, the kernels taken, buffer sizes).
 * Apart from the kernels themselves (conv3d.c, vol3d.c), so that cnnc
 * links it alone to size the buffers of the code it generates. */
#include <string.h>

#include "cnnrt.h"
#include "conv3d_layout.h"

/* Direct tiles compute every position of rows WP wide (or of the rows
 * alone, when they are whole vectors: layout_of's nq24), of which only
 * OH*OW are outputs; as in the compiler's emit/tile.c, they are used
 * unless that waste exceeds what columns cost (about 20/F of the work),
 * or the kernel's rows do not fit a tile's pack. */
static int tiles_pay(long kh, long kw, long dw, long outputs, long positions, long nout)
{
    return kh * (CNN_TILE_Q + (kw - 1) * dw) <= CNN_TILE_PACK_MOST && 20 * outputs >= nout * (positions - outputs);
}

static int out_size(int n, int k, int s, int p, int dil, int *out)
{
    long reach = (k - 1L) * dil + 1, room = n + 2L * p;
    if (n < 1 || k < 1 || s < 1 || p < 0 || dil < 1 || room < reach)
        return -1;
    *out = (int)((room - reach) / s + 1);
    return 0;
}

int cnn_conv3d_init(cnn_conv3d *g)
{
    if (g->c < 1 || g->f < 1 || out_size(g->d, g->kd, g->sd, g->pd, g->dd, &g->od) ||
        out_size(g->h, g->kh, g->sh, g->ph, g->dh, &g->oh) || out_size(g->w, g->kw, g->sw, g->pw, g->dw, &g->ow))
        return -1;
    Layout L = layout_of(g);
    long outputs = (long)g->oh * g->ow, inputs = (long)g->h * g->w;
    g->direct = g->sh == 1 && g->sw == 1 && g->dd == 1 && tiles_pay(g->kh, g->kw, g->dw, outputs, L.nq24, g->f);
    g->direct_dx = g->direct && g->sd == 1 && L.ad >= 0 && L.ah >= 0 && L.aw >= 0 &&
                   tiles_pay(g->kh, g->kw, g->dw, inputs, L.nqx24, g->c);
    g->xpad_planes = g->direct ? L.dp : 0;
    g->dy_planes = g->direct_dx ? L.dq : g->direct ? g->od : 0;
    g->xpad_floats = g->direct ? L.dp * g->c * L.plane + L.xslack : 0;
    g->dy_floats = (g->direct_dx ? L.dq * g->f * L.qplane + L.dslack : 0) + (g->direct ? g->od * L.dwf * L.nqw : 0);
    g->wpack_floats = (g->direct + g->direct_dx) * L.k * g->f;
    long cols = (L.k + L.rows_f) * L.ng;
    g->task_floats = g->direct ? (long)g->f * L.nq24 : cols;
    g->task_floats = max_of(g->task_floats, g->direct_dx ? (long)g->c * L.nqx24 : cols);
    return 0;
}

static int deconv_size(int n, int k, int s, int p, int dil, int *out)
{
    long size = (n - 1L) * s - 2L * p + (k - 1L) * dil + 1;
    if (n < 1 || k < 1 || s < 1 || p < 0 || dil < 1 || size < 1 || size > 0x7fffffff)
        return -1;
    *out = (int)size;
    return 0;
}

int cnn_deconv3d_init(cnn_deconv3d *g)
{
    if (g->c < 1 || g->f < 1 || deconv_size(g->d, g->kd, g->sd, g->pd, g->dd, &g->od) ||
        deconv_size(g->h, g->kh, g->sh, g->ph, g->dh, &g->oh) || deconv_size(g->w, g->kw, g->sw, g->pw, g->dw, &g->ow))
        return -1;
    cnn_conv3d *v = &g->conv;
    memset(v, 0, sizeof *v);
    v->c = g->f, v->d = g->od, v->h = g->oh, v->w = g->ow, v->f = g->c;
    v->kd = g->kd, v->kh = g->kh, v->kw = g->kw, v->sd = g->sd, v->sh = g->sh, v->sw = g->sw;
    v->pd = g->pd, v->ph = g->ph, v->pw = g->pw, v->dd = g->dd, v->dh = g->dh, v->dw = g->dw;
    if (cnn_conv3d_init(v) || v->od != g->d || v->oh != g->h || v->ow != g->w)
        return -1;
    g->x_planes = v->dy_planes;
    g->dy_planes = v->xpad_planes;
    g->xp_floats = v->dy_floats;
    g->dyp_floats = v->xpad_floats;
    g->wpack_floats = v->wpack_floats;
    g->task_floats = v->task_floats;
    return 0;
}

int cnn_pool3d_init(cnn_pool3d *g)
{
    if (g->c < 1)
        return -1;
    g->in_plane = g->out_plane = 1;
    for (int a = 0; a < 3; a++) {
        long n = g->size[a], k = g->k[a], s = g->s[a], room = g->pad[a] + n + g->pad_end[a] + g->extra[a];
        if (n < 1 || k < 1 || s < 1 || g->pad[a] < 0 || g->pad_end[a] < 0 || g->extra[a] < 0 || room < k)
            return -1;
        long out = (room - k) / s + 1;
        /* the first window must reach the input, the last start in it */
        if (g->pad[a] >= k || (out - 1) * s - g->pad[a] >= n || out > 0x7fffffff)
            return -1;
        g->out[a] = (int)out;
        g->in_plane *= n;
        g->out_plane *= out;
    }
    return 0;
}

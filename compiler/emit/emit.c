/* emit/emit.c - the C backend's frame: the memory plan, the model struct, the
 * public API (the generated header), the pass drivers, the loss and the
 * descriptor the runtime's driver uses.  The kernels are in emit/conv.c,
 * tile.c, cols.c, flat.c and blas.c (lower.c chooses among them) and
 * emit/layers.c; the printing helpers they share are emit/print.c's.
 *
 * The generated code keeps one arena per model: parameters, gradients,
 * optimizer state, batchnorm state and statistics, and per-image
 * activations, gradients and dropout masks scaled by max_batch.  Every layer
 * reads its inputs' activations, so a training step keeps all of them, and
 * gradients accumulate (+=) into the inputs' gradient buffers, so a tensor
 * read by several layers gets the sum. */
#include "emit.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"
#include "cnnrt_net.h"
#include "emitter.h"
#include "kinds.h"
#include "lower.h"
#include "report.h"

/* ---- the plan ---- */

static char *c_identifier(const char *name)
{
    char *id = xmalloc(strlen(name) + 2);
    char *p = id;
    if (isdigit((unsigned char)name[0]))
        *p++ = '_';
    for (const char *s = name; *s; s++)
        *p++ = isalnum((unsigned char)*s) ? *s : '_';
    *p = '\0';
    return id;
}

/* A weight layer is initialised for ReLU when a ReLU (or a PReLU, whose
 * slopes start at 0.25) follows it directly or behind a batchnorm. */
static bool relu_follows(const Net *net, const Node *n)
{
    if (act_info[n->act].he_init)
        return true;
    for (int i = n->id + 1; i < net->nnodes; i++) {
        const Node *next = net->nodes[i];
        if (next->ninputs != 1 || next->inputs[0] != n->id)
            continue;
        if (next->op == OP_PRELU)
            return true;
        if (next->op == OP_ACT)
            return act_info[next->act].he_init;
        if (next->op == OP_BATCHNORM)
            return relu_follows(net, next);
    }
    return false;
}

/* The sizes of the weight and the bias, from layer_tensors. */
static void plan_tensor_sizes(LayerPlan *lp)
{
    LayerTensor t[MAX_LAYER_TENSORS];
    int count = layer_tensors(lp->node, t);
    bool ok = true;   /* the checker has counted them */
    for (int k = 0; k < count; k++)
        if (strcmp(t[k].what, "weight") == 0)
            lp->w_size = (long)tensor_elems(&t[k], &ok);
        else if (strcmp(t[k].what, "bias") == 0)
            lp->b_size = (long)tensor_elems(&t[k], &ok);
}

/* The name of one of lp's offsets in the generated code ("conv1_W", see
 * emit_offsets), or the number itself where it does not fit an enum. */
static char *offset_name(const LayerPlan *lp, const char *what, long off)
{
    if (off < 0)
        return NULL;
    if (off > INT_MAX)
        return xasprintf("%ld", off);
    return xasprintf("%s_%s", lp->cname, what);
}

/* The names of lp's offsets; the input's buffers are the caller's. */
static void name_offsets(Emitter *E, LayerPlan *lp)
{
    if (lp->node->id == 0) {
        lp->y_expr = xstrdup("m->x");
        lp->dy_expr = xstrdup("m->dx");
        return;
    }
    lp->w_name = offset_name(lp, "W", lp->w_off);
    lp->b_name = offset_name(lp, "B", lp->b_off);
    lp->rm_name = offset_name(lp, "MEAN", lp->rm_off);
    lp->rv_name = offset_name(lp, "VAR", lp->rv_off);
    lp->stats_name = offset_name(lp, "STATS", lp->stats_off);
    lp->mask_name = offset_name(lp, "MASK", lp->mask_off);
    lp->y_name = offset_name(lp, "Y", lp->act_off);
    lp->y_expr = xasprintf("ACT(%s)", lp->y_name);
    if (E->train) {
        lp->dy_name = offset_name(lp, "DY", lp->grad_off);
        lp->dy_expr = xasprintf("DACT(%s)", lp->dy_name);
    }
}

static void free_plan(Emitter *E)
{
    for (int i = 0; i < E->net->nnodes; i++) {
        LayerPlan *lp = &E->plan[i];
        char *names[] = {lp->cname, lp->w_name, lp->b_name, lp->rm_name, lp->rv_name, lp->stats_name,
                         lp->mask_name, lp->y_name, lp->dy_name, lp->y_expr, lp->dy_expr};
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
            free(names[k]);
    }
    free(E->plan);
}

/* A layer's C name: its own, made an identifier; with its id appended
 * when an earlier layer has it, or when NAME_forward would be the API's
 * (PREFIX_forward) or the descriptor's (d_forward), or its offsets' names
 * (NAME_W) the header's macros (PREFIX_IN_W, PREFIX_OUT_W). */
static char *layer_cname(const Emitter *E, int i)
{
    char *name = c_identifier(E->net->nodes[i]->name);
    char *in = xasprintf("%s_IN", E->upper), *out = xasprintf("%s_OUT", E->upper);
    bool taken = strcmp(name, "d") == 0 || strcmp(name, E->opt->prefix) == 0 || strcmp(name, in) == 0 ||
                 strcmp(name, out) == 0;
    for (int j = 0; j < i && !taken; j++)
        taken = strcmp(E->plan[j].cname, name) == 0;
    free(in);
    free(out);
    if (!taken)
        return name;
    char *fixed = xasprintf("%s_%d", name, i);
    free(name);
    return fixed;
}

static void plan_layers(Emitter *E)
{
    const Net *net = E->net;
    lower_net(net, E->opt->blas, &E->lowered);
    E->col_elems = E->lowered.col;
    E->flat_elems = E->lowered.scratch;
    E->task_elems = E->lowered.task;
    plan_memory(net, E->train, &E->mem);
    E->act_elems = E->mem.act_elems;
    E->grad_elems = E->mem.grad_elems;
    E->plan = xcalloc((size_t)net->nnodes, sizeof *E->plan);
    for (int i = 0; i < net->nnodes; i++) {
        const Node *n = net->nodes[i];
        LayerPlan *lp = &E->plan[i];
        lp->node = n;
        lp->low = &E->lowered.layers[i];
        lp->w_off = lp->b_off = lp->rm_off = lp->rv_off = lp->stats_off = lp->mask_off = -1;
        lp->cname = layer_cname(E, i);
        long cin = (long)n->in_shape.c;
        plan_tensor_sizes(lp);
        switch (n->op) {
        case OP_BATCHNORM:
            lp->rm_off = E->num_state;
            lp->rv_off = E->num_state + cin;
            E->num_state += 2 * cin;
            lp->stats_off = E->num_stats;
            E->num_stats += 2 * cin;
            break;
        default:
            break;
        }
        if (kept_elems(n) > 0) {   /* dropout's mask, lrn's scales */
            lp->mask_off = E->mask_elems;
            E->mask_elems += (long)kept_elems(n);
        }
        if (lp->w_size) {
            lp->w_off = E->num_params;
            E->num_params += lp->w_size;
        }
        if (lp->b_size) {
            lp->b_off = E->num_params;
            E->num_params += lp->b_size;
        }
        lp->he_init = relu_follows(net, n);
        lp->act_off = E->mem.act_off[i];
        lp->grad_off = E->mem.grad_off[i];
        name_offsets(E, lp);
    }
}

/* ---- the file's parts ---- */

static const char *shape_str(char buf[static 64], Shape s)
{
    if (s.volume)
        snprintf(buf, 64, "%lldx%lldx%lldx%lld", (long long)s.d, (long long)s.h, (long long)s.w, (long long)s.c);
    else
        snprintf(buf, 64, "%lldx%lldx%lld", (long long)s.h, (long long)s.w, (long long)s.c);
    return buf;
}

/* The loss in words, for the header's and the loss function's comments. */
static const char *loss_words(const Net *net)
{
    switch (net_loss(net)) {
    case LOSS_CE:
        return "softmax cross-entropy";
    case LOSS_DICE:
        return "V-Net's soft Dice loss of channel 1";
    default:
        return "mean squared error against one-hot labels";
    }
}

static void emit_header(Emitter *E, StrBuf *h)
{
    const Net *net = E->net;
    const char *P = E->opt->prefix, *U = E->upper;
    const Node *last = net->nodes[net->output];
    char in[64], out[64];
    sb_printf(h, "/* %s.h - generated by cnnc %s; do not edit.\n", P, CNNC_VERSION);
    sb_printf(h, " * Network %s: input %s, output %s, %ld parameters. */\n", net->name,
              shape_str(in, net->input), shape_str(out, last->out), E->num_params);
    sb_printf(h, "#ifndef %s_H\n#define %s_H\n\n#include <stdint.h>\n\n#include \"cnnrt.h\"\n\n", U, U);
    sb_printf(h, "#define %s_IN_C %lld\n#define %s_IN_H %lld\n#define %s_IN_W %lld\n", U,
              (long long)net->input.c, U, (long long)net->input.h, U, (long long)net->input.w);
    if (net->input.volume)
        sb_printf(h, "#define %s_IN_D %lld\n#define %s_OUT_D %lld\n", U, (long long)net->input.d, U,
                  (long long)last->out.d);
    sb_printf(h, "#define %s_IN_SIZE %lld\n", U,
              (long long)(net->input.c * net->input.h * net->input.w * net->input.d));
    sb_printf(h, "#define %s_OUT_C %lld\n#define %s_OUT_H %lld\n#define %s_OUT_W %lld\n", U,
              (long long)last->out.c, U, (long long)last->out.h, U, (long long)last->out.w);
    sb_printf(h, "#define %s_OUT_SIZE %lld\n", U, (long long)last->out_elems);
    sb_printf(h, "#define %s_NUM_PARAMS %ld\n#define %s_NUM_STATE %ld\n", U, E->num_params, U, E->num_state);
    sb_printf(h, "#define %s_TRAINABLE %d\n", U, E->train);
    if (E->opt->embed)
        sb_printf(h, "#ifndef %s_MAX_BATCH\n#define %s_MAX_BATCH 1   /* images per call: buffers are static */\n#endif\n",
                  U, U);
    if (E->opt->embed && E->task_elems)
        sb_printf(h, "#ifndef %s_MAX_THREADS\n#define %s_MAX_THREADS 4   /* volume scratch: calls use at most these */\n"
                     "#endif\n", U, U);
    sb_puts(h, "\n");
    sb_printf(h, "typedef struct %s %s;   /* parameters, gradients, state */\n\n", P, P);
    sb_puts(h, "/* With OpenMP, each call runs with as many threads as omp_get_max_threads()\n"
               " * unless fewer were measured to be faster (another process holds a core:\n"
               " * runtime/team.c); the results are the same, and the caller's count is\n"
               " * unchanged after. */\n");
    if (E->task_elems)
        sb_printf(h, "/* Volume layers keep a scratch per thread: a call runs with at most the\n"
                     " * omp_get_max_threads() that %s_new saw. */\n", P);
    sb_printf(h, "%s *%s_new(int max_batch);          /* NULL on allocation failure */\n", P, P);
    sb_printf(h, "void %s_free(%s *m);\n", P, P);
    sb_printf(h, "void %s_init(%s *m, uint64_t seed);   /* He/Glorot, deterministic */\n", P, P);
    sb_printf(h, "int %s_load(%s *m, const char *path);  /* safetensors; 0 ok, <0 error (cnn_error()) */\n", P, P);
    sb_printf(h, "int %s_save(const %s *m, const char *path);\n", P, P);
    sb_printf(h, "/* Inference: n images x (NCHW) to n outputs y; any n. */\n");
    sb_printf(h, "void %s_forward(%s *m, const float *x, float *y, int n);\n", P, P);
    if (E->train) {
        sb_printf(h, "/* One optimizer step on n <= max_batch images; labels: one class per\n"
                     " * output pixel (OUT_H*OUT_W per image).  Returns the mean loss (%s),\n"
                     " * NAN if n is out of range. */\n",
                  loss_words(net));
        sb_printf(h, "float %s_train_step(%s *m, const float *x, const int *labels, int n,\n"
                     "                    const cnn_optim *opt);\n", P, P);
        sb_printf(h, "/* Inference-mode backward: given dL/dy, writes dL/dx (if dx is not NULL)\n"
                     " * and the weight gradients (%s_grads); nothing is updated. */\n", P);
        sb_printf(h, "void %s_backward(%s *m, const float *x, const float *dy, float *dx, int n);\n", P, P);
        sb_printf(h, "float *%s_grads(%s *m);          /* NUM_PARAMS floats, as %s_params */\n", P, P, P);
    }
    sb_printf(h, "float *%s_params(%s *m);         /* NUM_PARAMS floats, tensors in order */\n", P, P);
    sb_printf(h, "float *%s_state(%s *m);          /* NUM_STATE floats: batchnorm statistics */\n", P, P);
    sb_printf(h, "extern const cnn_net %s_net;   /* descriptor for the driver */\n\n#endif\n", P);
}

static void emit_blas_serial(Emitter *E);

/* Parameters from which clearing the gradients and the optimizer's update
 * are split among the thread team: 4 MB a buffer, a fraction of a
 * millisecond each, where waking the threads costs microseconds.  Each
 * float's work is its own, so the results do not change. */
#define SPLIT_PARAMS (1L << 20)

static bool split_params(const Emitter *E)
{
    return E->train && E->num_params >= SPLIT_PARAMS;
}

/* Volume layers split an item's work among the team (emit/vol.c), each
 * thread with its own scratch; large nets their parameters' update. */
static void emit_thread_macros(Emitter *E)
{
    const bool task = E->task_elems > 0;
    emit_out(E, "#ifdef _OPENMP");
    emit_out(E, "#define THREADS() omp_get_max_threads()   /* the team of the next parallel loop */");
    if (task)
        emit_out(E, "#define TASK() (m->task + (size_t)omp_get_thread_num() * %ld)   /* this thread's scratch */",
            E->task_elems);
    emit_out(E, "#else");
    emit_out(E, "#define THREADS() 1");
    if (task)
        emit_out(E, "#define TASK() (m->task)");
    emit_out(E, "#endif");
    if (!task)
        return;
    emit_out(E, "/* Ranges per item: a thread's share when the batch is smaller than the team. */");
    emit_out(E, "#define PARTS(n) ((n) >= THREADS() ? 1 : (THREADS() + (n) - 1) / (n))");
}

static void emit_prologue(Emitter *E)
{
    const char *P = E->opt->prefix;
    emit_out(E, "/* %s.c - generated by cnnc %s from %s; do not edit.", P, CNNC_VERSION, E->net->files[0]);
    emit_out(E, " * Every size is a constant; kernel loops of up to %ld iterations are unrolled. */",
        E->opt->unroll);
    emit_out(E, "#include <math.h>");
    emit_out(E, "#include <stdlib.h>");
    emit_out(E, "#include <string.h>");
    emit_blank(E);
    if (E->opt->blas)
        emit_out(E, "#include <cblas.h>");
    emit_out(E, "#include \"%s\"", E->opt->header_name);
    emit_blank(E);
    if (E->opt->blas)
        emit_blas_serial(E);
    emit_out(E, "/* In ISO C mode (-std=c99) GCC does not fuse a*b+c into one FMA instruction;");
    emit_out(E, " * clang does within an expression.  Fused, the kernels run up to 25%% faster. */");
    emit_out(E, "#if defined(__GNUC__) && !defined(__clang__)");
    emit_out(E, "#pragma GCC optimize(\"fp-contract=fast\")");
    emit_out(E, "#endif");
    emit_blank(E);
    emit_out(E, "#ifdef _OPENMP");
    emit_out(E, "#include <omp.h>");
    emit_out(E, "/* Loops run in parallel when the layer has work enough for it (par, set");
    emit_out(E, " * at the top of each layer's function): waking threads for a few");
    emit_out(E, " * microseconds of work costs more than it saves. */");
    emit_out(E, "#define PARALLEL_FOR _Pragma(\"omp parallel for schedule(static) if(par)\")");
    emit_out(E, "#define PARALLEL_FOR2 _Pragma(\"omp parallel for collapse(2) schedule(static) if(par)\")");
    emit_out(E, "#else");
    emit_out(E, "#define PARALLEL_FOR");
    emit_out(E, "#define PARALLEL_FOR2");
    emit_out(E, "#endif");
    emit_blank(E);
    emit_open_block(E, "struct %s", P);
    emit_out(E, "int max_batch;");
    emit_out(E, "int training;          /* batch statistics and dropout on */");
    emit_out(E, "int loss_fused;        /* the loss gave dL/dlogits: skip softmax backward */");
    emit_out(E, "long step;             /* optimizer steps so far */");
    emit_out(E, "cnn_rng rng;           /* dropout */");
    emit_out(E, "const float *x;        /* the batch being run */");
    emit_out(E, "float *dx;             /* where dL/dx goes, or NULL */");
    emit_out(E, "float *params;         /* %ld */", E->num_params);
    emit_out(E, "float *grads, *opt1, *opt2;");
    emit_out(E, "float *state;          /* %ld: batchnorm running mean and variance */", E->num_state);
    emit_out(E, "float *stats;          /* %ld: batchnorm batch mean and 1/std */", E->num_stats);
    emit_out(E, "float *act, *dact;     /* per image: %ld and %ld (buffers shared by", E->act_elems, E->grad_elems);
    emit_out(E, "                          tensors whose lifetimes do not overlap) */");
    emit_out(E, "float *mask;           /* %ld per image: dropout */", E->mask_elems);
    emit_out(E, "float *flat;           /* %ld per image: convolution scratch */", E->flat_elems);
    if (E->task_elems) {
        emit_out(E, "float *task;           /* %ld per thread: volume convolutions' scratch */", E->task_elems);
        emit_out(E, "int threads;           /* of them, and the most threads a call runs with */");
    }
    emit_out(E, "cnn_team team[3];      /* the threads of forward, train step, backward */");
    if (E->col_elems)
        emit_out(E, "float *col;            /* %ld: im2col columns */", E->col_elems);
    E->indent--;
    emit_out(E, "};");
    emit_blank(E);
    emit_out(E, "/* Each layer's data, by offset in floats: LAYER_W and LAYER_B in params (and");
    emit_out(E, " * grads), LAYER_MEAN and LAYER_VAR in state, LAYER_STATS in stats; LAYER_Y,");
    emit_out(E, " * LAYER_DY and LAYER_MASK per image in act, dact and mask (an enum above the");
    emit_out(E, " * layer's functions). */");
    emit_out(E, "#define ACT(off) (m->act + (size_t)(off) * (size_t)m->max_batch)");
    emit_out(E, "#define DACT(off) (m->dact + (size_t)(off) * (size_t)m->max_batch)");
    emit_out(E, "#define MASK(off) (m->mask + (size_t)(off) * (size_t)m->max_batch)");
    if (E->flat_elems)
        emit_out(E, "#define FLAT(i) (m->flat + (size_t)(i) * %ld)   /* image i's convolution scratch */",
            E->flat_elems);
    if (E->task_elems || split_params(E))
        emit_thread_macros(E);
    emit_blank(E);
}

/* The comment above each layer's functions: what it is and its shapes. */
static void layer_comment(Emitter *E, const LayerPlan *lp)
{
    const Node *n = lp->node;
    StrBuf opts;
    sb_init(&opts);
    report_options(n, &opts);
    char in[64], out[64];
    emit_out(E, "/* %s: %s%s%s, %s -> %s, %lld parameters */", n->name,
        n->kind_name ? n->kind_name : op_name(n->op),
        opts.len ? " " : "", opts.len ? opts.data : "", shape_str(in, n->in_shape), shape_str(out, n->out),
        (long long)n->params);
    sb_free(&opts);
}

/* enum { conv1_W = 0, conv1_B = 150, conv1_Y = 0, ... }: where the layer's
 * data lives (see the prologue), by name. */
static void emit_offsets(Emitter *E, const LayerPlan *lp)
{
    const struct {
        const char *name;
        long off;
    } o[] = {{lp->w_name, lp->w_off}, {lp->b_name, lp->b_off}, {lp->rm_name, lp->rm_off},
             {lp->rv_name, lp->rv_off}, {lp->stats_name, lp->stats_off}, {lp->mask_name, lp->mask_off},
             {lp->y_name, lp->act_off}, {lp->dy_name, lp->grad_off}};
    StrBuf s;
    sb_init(&s);
    for (size_t k = 0; k < sizeof o / sizeof o[0]; k++)
        if (o[k].name && !isdigit((unsigned char)o[k].name[0]))
            sb_printf(&s, "%s%s = %ld", s.len ? ", " : "", o[k].name, o[k].off);
    if (s.len)
        emit_out(E, "enum { %s };", s.data);
    sb_free(&s);
}

/* A layer's kernels, one per direction, chosen by kind and options. */
typedef void (*EmitKernel)(Emitter *E, const LayerPlan *lp);
typedef struct {
    EmitKernel forward, backward;
} Kernels;

static Kernels kernels_of(const LayerPlan *lp)
{
    static const Kernels kernels[] = {
        [KERNEL_NONE] = {emit_layer_forward, emit_layer_backward},
        [KERNEL_TILE] = {emit_tile_conv_forward, emit_tile_conv_backward},
        [KERNEL_COLS] = {emit_cols_conv_forward, emit_cols_conv_backward},
        [KERNEL_FLAT] = {emit_flat_conv_forward, emit_flat_conv_backward},
        [KERNEL_ROW] = {emit_conv_forward, emit_conv_backward},
        [KERNEL_DECONV] = {emit_deconv_forward, emit_deconv_backward},
        [KERNEL_FC] = {emit_fc_forward, emit_fc_backward},
        [KERNEL_BLAS] = {emit_blas_forward, emit_blas_backward},
        [KERNEL_CONV3D] = {emit_conv3d_forward, emit_conv3d_backward},
        [KERNEL_DECONV3D] = {emit_deconv3d_forward, emit_deconv3d_backward},
    };
    return kernels[lp->low->kernel];
}

/* Whether a layer's loops run in parallel: when n images bring more than
 * PAR_WORK multiply-adds or values moved (measured: ~4 us on one core). */
#define PAR_WORK 100000

static void declare_par(Emitter *E, const Node *n)
{
    long long work = (long long)n->macs + (long long)n->out_elems;
    for (int k = 0; k < n->ninputs; k++)
        work += (long long)E->net->nodes[n->inputs[k]]->out_elems;
    if (work >= PAR_WORK)
        emit_out(E, "const int par = 1;");
    else
        emit_out(E, "const int par = n >= %lld;", (PAR_WORK + work - 1) / work);
    emit_out(E, "(void)par;");
}

/* The code that follows goes into body, a block deeper, until
 * end_capture: a function's body is written before its head, which
 * declares par only if a loop of the body runs in parallel. */
static StrBuf *begin_capture(Emitter *E, StrBuf *body)
{
    StrBuf *file = E->out;
    sb_init(body);
    E->out = body;
    E->indent++;
    return file;
}

static bool end_capture(Emitter *E, StrBuf *file)
{
    const char *body = E->out->data;
    E->indent--;
    E->out = file;
    return body && strstr(body, "PARALLEL_FOR");
}

/* static void NAME_DIR(PREFIX *m, int n): the kernel's code. */
static void emit_layer_function(Emitter *E, const LayerPlan *lp, const char *dir, EmitKernel kernel)
{
    StrBuf body, *file = begin_capture(E, &body);
    kernel(E, lp);
    bool par = end_capture(E, file);
    emit_open_block(E, "static void %s_%s(%s *m, int n)", lp->cname, dir, E->opt->prefix);
    if (par)
        declare_par(E, lp->node);
    sb_puts(E->out, body.data ? body.data : "");
    emit_close_block(E);
    emit_blank(E);
    sb_free(&body);
}

static void emit_layer_functions(Emitter *E)
{
    for (int i = 1; i < E->net->nnodes; i++) {
        const LayerPlan *lp = &E->plan[i];
        Kernels k = kernels_of(lp);
        layer_comment(E, lp);
        emit_offsets(E, lp);
        emit_layer_function(E, lp, "forward", k.forward);
        if (E->train)
            emit_layer_function(E, lp, "backward", k.backward);
    }
}


/* A layer's dL/dW and dL/db (adjacent in grads) are final after its
 * backward: data-parallel training may start summing them over the ranks
 * while the layers below run theirs. */
static void report_grads(Emitter *E, const LayerPlan *lp)
{
    const char *off = lp->w_off >= 0 ? lp->w_name : lp->b_name;
    long size = (lp->w_off >= 0 ? lp->w_size : 0) + (lp->b_off >= 0 ? lp->b_size : 0);
    if (off && size > 0)
        emit_out(E, "if (m->training) cnn_dist_grads_ready(m->grads, %s, %ld);", off, size);
}

/* Clears node j's dL/dy buffer before a backward step. */
static void clear_grad(Emitter *E, int j)
{
    const Node *in = E->net->nodes[j];
    if (in->out_elems < 4096) {
        emit_out(E, "memset(%s, 0, sizeof(float) * (size_t)n * %lld);", E->plan[j].dy_expr,
            (long long)in->out_elems);
        return;
    }
    emit_out(E, "PARALLEL_FOR");
    emit_out(E, "for (int i = 0; i < n; i++)");
    emit_out(E, "    memset(%s + (size_t)i * %lld, 0, sizeof(float) * %lld);", E->plan[j].dy_expr,
        (long long)in->out_elems, (long long)in->out_elems);
}

static void emit_passes(Emitter *E)
{
    const char *P = E->opt->prefix;
    emit_open_block(E, "static void forward_pass(%s *m, int n)", P);
    for (int i = 1; i < E->net->nnodes; i++)
        emit_out(E, "%s_forward(m, n);", E->plan[i].cname);
    emit_close_block(E);
    emit_blank(E);
    if (!E->train)
        return;
    emit_out(E, "/* Gradients accumulate into the inputs' buffers, which may hold another");
    emit_out(E, " * gradient until then (they share memory): each is cleared just before");
    emit_out(E, " * its last reader's backward, the first to write it. */");
    StrBuf body, *file = begin_capture(E, &body);
    for (int i = E->net->nnodes - 1; i >= 1; i--) {
        const Node *node = E->net->nodes[i];
        if (i < E->net->nnodes - 1 && E->mem.last_use[i] == i)
            clear_grad(E, i);          /* nothing reads it: a zero gradient */
        for (int k = 0; k < node->ninputs; k++) {
            int j = node->inputs[k];
            bool first = true;
            for (int q = 0; q < k; q++)
                first &= node->inputs[q] != j;
            if (j > 0 && first && E->mem.last_use[j] == i)
                clear_grad(E, j);
        }
        emit_out(E, "%s_backward(m, n);", E->plan[i].cname);
        report_grads(E, &E->plan[i]);
    }
    bool par = end_capture(E, file);
    emit_open_block(E, "static void backward_pass(%s *m, int n)", P);
    if (par) {
        emit_out(E, "const int par = n >= 8;   /* for clearing large buffers */");
        emit_out(E, "(void)par;");
    }
    sb_puts(E->out, body.data ? body.data : "");
    sb_free(&body);
    emit_close_block(E);
    emit_blank(E);
}


/* " + v", or nothing for 0. */
static const char *plus(char buf[static 32], long v)
{
    if (!v)
        return "";
    snprintf(buf, 32, " + %ld", v);
    return buf;
}

static void emit_lifecycle(Emitter *E)
{
    const char *P = E->opt->prefix;
    long np = E->num_params, mb_fixed = np * (E->train ? 4 : 1) + E->num_state + E->num_stats + E->col_elems;
    long per_image = E->act_elems + E->grad_elems + (E->train ? E->mask_elems : 0) + E->flat_elems;
    emit_open_block(E, "%s *%s_new(int max_batch)", P, P);
    const char *tasks = "";
    if (E->task_elems) {
        /* m->task: a scratch for each thread a call may run with */
        emit_out(E, "int threads = 1;");
        emit_out(E, "#ifdef _OPENMP");
        emit_out(E, "threads = omp_get_max_threads();");
        emit_out(E, "#endif");
        emit_out(E, "const size_t tasks = (size_t)threads * %ldu;", E->task_elems);
        tasks = " - tasks";
    }
    emit_out(E, "if (max_batch < 1 || (size_t)max_batch > ((size_t)-1 / sizeof(float) - %ldu%s) / %ldu)", mb_fixed,
        tasks, per_image > 0 ? per_image : 1);
    emit_out(E, "    return NULL;");
    emit_out(E, "%s *m = calloc(1, sizeof *m);", P);
    emit_out(E, "float *arena = calloc(%ldu + (size_t)%ldu * (size_t)max_batch%s, sizeof(float));", mb_fixed + 1,
        per_image, E->task_elems ? " + tasks" : "");
    emit_open_block(E, "if (!m || !arena)");
    emit_out(E, "free(m);");
    emit_out(E, "free(arena);");
    emit_out(E, "return NULL;");
    emit_close_block(E);
    emit_out(E, "m->max_batch = max_batch;");
    emit_out(E, "m->params = arena;");
    if (E->train) {
        emit_out(E, "m->grads = m->params + %ld;", np);
        emit_out(E, "m->opt1 = m->grads + %ld;", np);
        emit_out(E, "m->opt2 = m->opt1 + %ld;", np);
        emit_out(E, "m->state = m->opt2 + %ld;", np);
    } else {
        emit_out(E, "m->state = m->params + %ld;", np);
    }
    char off[32];
    emit_out(E, "m->stats = m->state%s;", plus(off, E->num_state));
    if (E->col_elems) {
        emit_out(E, "m->col = m->stats%s;", plus(off, E->num_stats));
        emit_out(E, "m->act = m->col + %ld;", E->col_elems);
    } else {
        emit_out(E, "m->act = m->stats%s;", plus(off, E->num_stats));
    }
    if (E->train) {
        emit_out(E, "m->dact = m->act + (size_t)%ld * (size_t)max_batch;", E->act_elems);
        emit_out(E, "m->mask = m->dact + (size_t)%ld * (size_t)max_batch;", E->grad_elems);
        emit_out(E, "m->flat = m->mask + (size_t)%ld * (size_t)max_batch;", E->mask_elems);
    } else {
        emit_out(E, "m->flat = m->act + (size_t)%ld * (size_t)max_batch;", E->act_elems);
    }
    if (E->task_elems) {
        emit_out(E, "m->task = m->flat + (size_t)%ld * (size_t)max_batch;", E->flat_elems);
        emit_out(E, "m->threads = threads;");
    }
    emit_out(E, "%s_init(m, 0);", P);
    emit_out(E, "return m;");
    emit_close_block(E);
    emit_blank(E);
    emit_open_block(E, "void %s_free(%s *m)", P, P);
    emit_out(E, "if (m)");
    emit_out(E, "    free(m->params);");
    emit_out(E, "free(m);");
    emit_close_block(E);
    emit_blank(E);
    emit_weight_accessors(E);
    if (E->train) {
        emit_open_block(E, "float *%s_grads(%s *m)", P, P);
        emit_out(E, "return m->grads;");
        emit_close_block(E);
        emit_blank(E);
    }
}

static void emit_init(Emitter *E)
{
    const char *P = E->opt->prefix;
    emit_open_block(E, "void %s_init(%s *m, uint64_t seed)", P, P);
    emit_out(E, "cnn_rng r;");
    emit_out(E, "cnn_rng_seed(&r, seed);");
    for (int i = 1; i < E->net->nnodes; i++) {
        const LayerPlan *lp = &E->plan[i];
        const Node *n = lp->node;
        if (n->op == OP_BATCHNORM) {
            emit_out(E, "cnn_fill(m->params + %s, %ld, 1.0f);", lp->w_name, lp->w_size);
            emit_out(E, "cnn_fill(m->params + %s, %ld, 0.0f);", lp->b_name, lp->b_size);
            emit_out(E, "cnn_fill(m->state + %s, %ld, 0.0f);", lp->rm_name, lp->w_size);
            emit_out(E, "cnn_fill(m->state + %s, %ld, 1.0f);", lp->rv_name, lp->w_size);
            continue;
        }
        if (n->op == OP_PRELU) {   /* nn.PReLU's */
            emit_out(E, "cnn_fill(m->params + %s, %ld, 0.25f);", lp->w_name, lp->w_size);
            continue;
        }
        if (lp->w_off < 0)
            continue;
        long fan_in, fan_out;
        /* A volume's kernel has KD planes of taps; an image's one. */
        long taps = (long)(n->kh * n->kw * (n->kd > 1 ? n->kd : 1));
        if (n->op == OP_FC) {
            fan_in = lp->w_size / (long)n->filters;
            fan_out = (long)n->filters;
        } else if (n->op == OP_CONV) {
            fan_in = (long)(n->in_shape.c / n->groups) * taps;
            fan_out = (long)(n->filters / n->groups) * taps;
        } else {   /* deconv: torch's fan_in is weight.size(1) * kernel */
            fan_in = (long)(n->filters / n->groups) * taps;
            fan_out = (long)(n->in_shape.c / n->groups) * taps;
        }
        if (lp->he_init)
            emit_out(E, "cnn_init_he(m->params + %s, %ld, %ld, &r);", lp->w_name, lp->w_size, fan_in);
        else
            emit_out(E, "cnn_init_glorot(m->params + %s, %ld, %ld, %ld, &r);", lp->w_name, lp->w_size, fan_in,
                fan_out);
        if (lp->b_off >= 0)
            emit_out(E, "cnn_init_bias(m->params + %s, %ld, %ld, &r);", lp->b_name, lp->b_size, fan_in);
    }
    if (E->train)
        emit_out(E, "memset(m->opt1, 0, sizeof(float) * 2 * %ldu);", E->num_params);
    emit_out(E, "m->step = 0;");
    emit_out(E, "cnn_rng_seed(&m->rng, seed ^ 0x9e3779b97f4a7c15u);");
    emit_close_block(E);
    emit_blank(E);
}


/* Where the plan put a tensor of layer_tensors. */
static long tensor_offset(const LayerPlan *lp, const char *what)
{
    return strcmp(what, "weight") == 0 ? lp->w_off
         : strcmp(what, "bias") == 0 ? lp->b_off
         : strcmp(what, "running_mean") == 0 ? lp->rm_off : lp->rv_off;
}

static int collect_tensors(const Emitter *E, TensorInfo **out_tensors)
{
    TensorInfo *t = xcalloc((size_t)E->net->nnodes * MAX_LAYER_TENSORS + 1, sizeof *t);
    int count = 0;
    for (int i = 1; i < E->net->nnodes; i++) {
        const LayerPlan *lp = &E->plan[i];
        LayerTensor lt[MAX_LAYER_TENSORS];
        int nt = layer_tensors(lp->node, lt);
        for (int k = 0; k < nt; k++) {
            TensorInfo *ti = &t[count++];
            ti->name = xasprintf("%s.%s", lp->node->name, lt[k].what);
            ti->ndim = lt[k].ndim;
            memcpy(ti->shape, lt[k].shape, sizeof ti->shape);
            ti->offset = tensor_offset(lp, lt[k].what);
            ti->in_state = lt[k].state;
        }
    }
    *out_tensors = t;
    return count;
}

static void free_tensors(TensorInfo *t, int count)
{
    for (int i = 0; i < count; i++)
        free(t[i].name);
    free(t);
}

static void emit_tensors(Emitter *E, const TensorInfo *t, int count)
{
    const char *P = E->opt->prefix;
    emit_open_block(E, "static const cnn_tensor %s_tensors[] =", P);
    for (int i = 0; i < count; i++) {
        StrBuf dims;
        sb_init(&dims);
        for (int d = 0; d < t[i].ndim; d++)
            sb_printf(&dims, "%s%lld", d ? ", " : "", (long long)t[i].shape[d]);
        emit_out(E, "{\"%s\", %d, {%s}, %ld, %d},", t[i].name, t[i].ndim, dims.data ? dims.data : "0",
            t[i].offset, t[i].in_state);
        sb_free(&dims);
    }
    if (count == 0)
        emit_out(E, "{\"\", 0, {0}, 0, 0}");
    E->indent--;
    emit_out(E, "};");
    emit_out(E, "enum { NUM_TENSORS = %d };", count);
    emit_blank(E);
    if (E->opt->embed) {
        emit_out(E, "/* The weights are compiled in: nothing to load, and no file I/O. */");
        emit_open_block(E, "int %s_load(%s *m, const char *path)", P, P);
        emit_out(E, "(void)m;");
        emit_out(E, "(void)path;");
        emit_out(E, "return -1;");
        emit_close_block(E);
        emit_blank(E);
        emit_open_block(E, "int %s_save(const %s *m, const char *path)", P, P);
        emit_out(E, "(void)m;");
        emit_out(E, "(void)path;");
        emit_out(E, "return -1;");
        emit_close_block(E);
        emit_blank(E);
        return;
    }
    emit_open_block(E, "int %s_load(%s *m, const char *path)", P, P);
    emit_out(E, "return cnn_load_tensors(path, %s_tensors, NUM_TENSORS, m->params, %ldu, m->state, %ldu);", P,
        E->num_params, E->num_state);
    emit_close_block(E);
    emit_blank(E);
    emit_open_block(E, "int %s_save(const %s *m, const char *path)", P, P);
    emit_out(E, "return cnn_save_tensors(path, %s_tensors, NUM_TENSORS, m->params, m->state);", P);
    emit_close_block(E);
    emit_blank(E);
}

/* Each entry point runs with the team cnn_team_start picks (runtime/team.c:
 * fewer threads when they were measured to be faster) and restores the
 * caller's thread count after. */
static void emit_team(Emitter *E)
{
    const char *P = E->opt->prefix;
    emit_out(E, "enum { TEAM_FORWARD, TEAM_TRAIN, TEAM_BACKWARD };");
    emit_out(E, "#ifdef _OPENMP");
    emit_out(E, "/* The threads this call runs with; returns the caller's count. */");
    emit_open_block(E, "static int team_start(%s *m, int kind, int n)", P);
    if (E->task_elems) {
        emit_out(E, "int all = omp_get_max_threads(), most = all < m->threads ? all : m->threads;   /* m->task's */");
        emit_out(E, "int team = cnn_team_start(&m->team[kind], most, n);");
    } else {
        emit_out(E, "int all = omp_get_max_threads(), team = cnn_team_start(&m->team[kind], all, n);");
    }
    emit_out(E, "if (team != all)");
    emit_out(E, "    omp_set_num_threads(team);");
    emit_out(E, "return all;");
    emit_close_block(E);
    emit_blank(E);
    emit_open_block(E, "static void team_end(%s *m, int kind, int all, int n)", P);
    emit_out(E, "cnn_team_end(&m->team[kind], n);");
    emit_out(E, "if (omp_get_max_threads() != all)");
    emit_out(E, "    omp_set_num_threads(all);");
    emit_close_block(E);
    emit_out(E, "#else");
    emit_out(E, "#define team_start(m, kind, n) 1");
    emit_out(E, "#define team_end(m, kind, all, n) ((void)(all))");
    emit_out(E, "#endif");
    emit_blank(E);
}

/* --blas: the products run inside OpenMP's parallel loops, a cblas_sgemm
 * per thread, so OpenBLAS's own threads would only compete with them.
 * openblas_set_num_threads is OpenBLAS's alone: called through a weak
 * symbol, other CBLAS libraries still link (and are left as they are). */
static void emit_blas_serial(Emitter *E)
{
    emit_out(E, "#if defined(_OPENMP) && defined(__GNUC__) && defined(__ELF__)");
    emit_out(E, "extern void openblas_set_num_threads(int) __attribute__((weak));");
    emit_out(E, "extern int openblas_get_num_threads(void) __attribute__((weak));");
    emit_out(E, "/* OpenBLAS to one thread for this call; returns its count before. */");
    emit_open_block(E, "static int blas_serial_begin(void)");
    emit_out(E, "if (!openblas_set_num_threads || !openblas_get_num_threads)");
    emit_out(E, "    return 1;");
    emit_out(E, "int was = openblas_get_num_threads();");
    emit_out(E, "if (was != 1)");
    emit_out(E, "    openblas_set_num_threads(1);");
    emit_out(E, "return was;");
    emit_close_block(E);
    emit_out(E, "#define blas_serial_end(was) ((was) != 1 ? openblas_set_num_threads(was) : (void)0)");
    emit_out(E, "#else");
    emit_out(E, "#define blas_serial_begin() 1");
    emit_out(E, "#define blas_serial_end(was) ((void)(was))");
    emit_out(E, "#endif");
    emit_blank(E);
}

/* The public NAME: the static NAME_call (args ARGS) between team_start and
 * team_end.  RET: "void" or a type. */
static void emit_timed(Emitter *E, const char *ret, const char *name, const char *params, const char *args,
                       const char *kind)
{
    const char *P = E->opt->prefix;
    bool value = strcmp(ret, "void") != 0;
    emit_open_block(E, "%s %s_%s(%s *m, %s)", ret, P, name, P, params);
    emit_out(E, "const int all = team_start(m, %s, n);", kind);
    if (E->opt->blas)
        emit_out(E, "const int blas_threads = blas_serial_begin();");
    emit_out(E, "%s%s_call(m, %s);", value ? "const float r = " : "", name, args);
    if (E->opt->blas)
        emit_out(E, "blas_serial_end(blas_threads);");
    emit_out(E, "team_end(m, %s, all, n);", kind);
    if (value)
        emit_out(E, "return r;");
    emit_close_block(E);
    emit_blank(E);
}

static void emit_forward_api(Emitter *E)
{
    const char *P = E->opt->prefix, *U = E->upper;
    const LayerPlan *last = &E->plan[E->net->output];
    emit_team(E);
    emit_out(E, "/* Inference runs in chunks of max_batch images. */");
    emit_open_block(E, "static void forward_call(%s *m, const float *x, float *y, int n)", P);
    emit_out(E, "m->training = 0;");
    emit_open_block(E, "for (int done = 0; done < n; done += m->max_batch)");
    emit_out(E, "int k = n - done < m->max_batch ? n - done : m->max_batch;");
    emit_out(E, "m->x = x + (size_t)done * %s_IN_SIZE;", U);
    emit_out(E, "forward_pass(m, k);");
    emit_out(E, "memcpy(y + (size_t)done * %s_OUT_SIZE, %s, sizeof(float) * (size_t)k * %s_OUT_SIZE);", U,
        last->y_expr, U);
    emit_close_block(E);
    emit_close_block(E);
    emit_blank(E);
    emit_timed(E, "void", "forward", "const float *x, float *y, int n", "x, y, n", "TEAM_FORWARD");
}

/* The Dice loss (runtime/layers.c) gives dL/dy of the softmax output; the
 * softmax backward follows, not fused. */
static void emit_dice_loss(Emitter *E, const LayerPlan *last, long hw)
{
    emit_out(E, "/* V-Net's soft Dice loss of channel 1 of 2 over %ld output pixels: per image", hw);
    emit_out(E, " * 1 - 2 sum(p g) / (sum(p^2) + sum(g^2)), the mean over the batch. */");
    emit_open_block(E, "static float loss_and_grad(%s *m, const int *labels, int n)", E->opt->prefix);
    emit_out(E, "const float scale = 1.0f / (float)cnn_dist_batch(n);   /* global batch */");
    emit_out(E, "double total = cnn_dice_loss(%s, labels, %ld, 0, n, scale, %s);", last->y_expr, hw, last->dy_expr);
    emit_out(E, "m->loss_fused = 0;");
    emit_out(E, "return total < 0.0 ? NAN : (float)(total / n);   /* < 0: a label not 0 or 1 */");
    emit_close_block(E);
    emit_blank(E);
}

/* The loss and its gradient with respect to the last layer's output; for a
 * softmax output with cross-entropy, with respect to the logits (the
 * softmax is fused). */
static void emit_loss(Emitter *E)
{
    const char *P = E->opt->prefix, *U = E->upper;
    const LayerPlan *last = &E->plan[E->net->output];
    const Node *ln = last->node;
    long hw = (long)(ln->out.d * ln->out.h * ln->out.w), classes = (long)ln->out.c;   /* voxels on volumes */
    /* " * HW" where it is not 1, and the pixel p when there is more than one */
    char per_hw[32] = "", pixels[32] = "", label[64];
    if (hw > 1) {
        snprintf(per_hw, sizeof per_hw, " * %ld", hw);
        snprintf(pixels, sizeof pixels, " * %ld.0f", hw);
    }
    if (net_loss(E->net) == LOSS_DICE) {
        emit_dice_loss(E, last, hw);
        return;
    }
    emit_out(E, "/* %s over %ld classes at each of %ld output pixels. */",
        net_loss(E->net) == LOSS_CE ? "Softmax cross-entropy" : "Mean squared error against one-hot labels",
        classes, hw);
    emit_open_block(E, "static float loss_and_grad(%s *m, const int *labels, int n)", P);
    emit_out(E, "const float *y = %s;", last->y_expr);
    emit_out(E, "float *dy = %s;", last->dy_expr);
    emit_out(E, "double total = 0.0;");
    bool softmax = net_loss(E->net) == LOSS_CE;
    if (softmax)
        emit_out(E, "const float scale = 1.0f / ((float)cnn_dist_batch(n)%s);   /* global batch */", pixels);
    else
        emit_out(E, "const float scale = 2.0f / ((float)cnn_dist_batch(n) * %s_OUT_SIZE);   /* global batch */", U);
    emit_open_block(E, "for (int i = 0; i < n; i++)");
    bool p = emit_loop(E, "int", "p", hw);
    Term lt[] = {{hw, "(size_t)i"}, {p, "p"}};
    emit_out(E, "int label = labels[%s];", emit_linear(label, sizeof label, 2, lt));
    emit_out(E, "if (label < 0 || label >= %ld)", classes);
    emit_out(E, "    return NAN;");
    if (softmax) {
        emit_out(E, "const float *yp = y + (size_t)i * %s_OUT_SIZE%s;", U, p ? " + p" : "");
        emit_out(E, "float *dp = dy + (size_t)i * %s_OUT_SIZE%s;", U, p ? " + p" : "");
        /* Clamped as "< 1e-30f ? 1e-30f : y" so that a NaN compares false
         * and reaches the loss: the driver's divergence stop needs it. */
        emit_out(E, "float py = yp[%s%s];", hw > 1 ? "(size_t)label" : "label", per_hw);
        emit_out(E, "total -= log(py < 1e-30f ? 1e-30f : py);");
        emit_out(E, "for (int c = 0; c < %ld; c++)", classes);
        emit_out(E, "    dp[%s%s] = (yp[%s%s] - (c == label)) * scale;", hw > 1 ? "(size_t)c" : "c", per_hw,
            hw > 1 ? "(size_t)c" : "c", per_hw);
        emit_end_loop(E, p);
        emit_close_block(E);
        emit_out(E, "m->loss_fused = 1;");
        emit_out(E, "return (float)(total / ((double)n%s));", per_hw);
    } else {
        emit_open_block(E, "for (int c = 0; c < %ld; c++)", classes);
        emit_out(E, "size_t at = (size_t)i * %s_OUT_SIZE + (size_t)c%s%s;", U, per_hw, p ? " + p" : "");
        emit_out(E, "float d = y[at] - (c == label);");
        emit_out(E, "total += (double)d * d;");
        emit_out(E, "dy[at] = d * scale;");
        emit_close_block(E);
        emit_end_loop(E, p);
        emit_close_block(E);
        emit_out(E, "m->loss_fused = 0;");
        emit_out(E, "return (float)(total / ((double)n * %s_OUT_SIZE));", U);
    }
    emit_close_block(E);
    emit_blank(E);
}

/* whole, a statement over all parameters, or for many of them part over
 * [lo, hi), one range a thread. */
static void emit_over_params(Emitter *E, const char *whole, const char *part)
{
    long np = E->num_params;
    if (!split_params(E)) {
        emit_out(E, "%s", whole);
        return;
    }
    emit_open_scope(E);
    emit_out(E, "const int par = 1, parts = THREADS();");
    emit_out(E, "(void)par;");
    emit_out(E, "PARALLEL_FOR");
    emit_open_block(E, "for (int j = 0; j < parts; j++)");
    emit_out(E, "const size_t lo = %ldu * (size_t)j / (size_t)parts, hi = %ldu * (size_t)(j + 1) / (size_t)parts;",
        np, np);
    emit_out(E, "%s", part);
    emit_close_block(E);
    emit_close_block(E);
}

static void emit_clear_grads(Emitter *E)
{
    char whole[96];
    snprintf(whole, sizeof whole, "memset(m->grads, 0, sizeof(float) * %ldu);", E->num_params);
    emit_over_params(E, whole, "memset(m->grads + lo, 0, sizeof(float) * (hi - lo));");
}

static void emit_train_api(Emitter *E)
{
    const char *P = E->opt->prefix, *U = E->upper;
    const LayerPlan *last = &E->plan[E->net->output];
    emit_loss(E);
    emit_open_block(E, "static float train_step_call(%s *m, const float *x, const int *labels, int n, const cnn_optim *opt)", P);
    emit_out(E, "if (n < 1 || n > m->max_batch)");
    emit_out(E, "    return NAN;");
    emit_out(E, "m->training = 1;");
    emit_out(E, "m->x = x;");
    emit_out(E, "m->dx = NULL;");
    emit_out(E, "forward_pass(m, n);");
    emit_out(E, "float loss = loss_and_grad(m, labels, n);");
    emit_out(E, "if (!isfinite(loss))");
    emit_out(E, "    return loss;   /* a bad label or a diverged net: change nothing */");
    emit_clear_grads(E);
    emit_out(E, "backward_pass(m, n);");
    emit_out(E, "cnn_dist_grads_wait(m->grads, %ldu);   /* summed over the ranks */", E->num_params);
    emit_out(E, "m->step++;");
    char whole[160];
    snprintf(whole, sizeof whole,
        "cnn_optim_update(opt, opt->lr, m->step, m->params, m->grads, m->opt1, m->opt2, %ldu);", E->num_params);
    emit_over_params(E, whole, "cnn_optim_update(opt, opt->lr, m->step, m->params + lo, m->grads + lo, "
                               "m->opt1 + lo, m->opt2 + lo, hi - lo);");
    emit_out(E, "return loss;");
    emit_close_block(E);
    emit_blank(E);
    emit_timed(E, "float", "train_step", "const float *x, const int *labels, int n, const cnn_optim *opt",
               "x, labels, n, opt", "TEAM_TRAIN");
    emit_open_block(E, "static void backward_call(%s *m, const float *x, const float *dy, float *dx, int n)", P);
    emit_out(E, "m->training = 0;");
    emit_out(E, "m->loss_fused = 0;");
    emit_clear_grads(E);
    emit_open_block(E, "for (int done = 0; done < n; done += m->max_batch)");
    emit_out(E, "int k = n - done < m->max_batch ? n - done : m->max_batch;");
    emit_out(E, "m->x = x + (size_t)done * %s_IN_SIZE;", U);
    emit_out(E, "m->dx = dx ? dx + (size_t)done * %s_IN_SIZE : NULL;", U);
    emit_out(E, "if (m->dx)");
    emit_out(E, "    memset(m->dx, 0, sizeof(float) * (size_t)k * %s_IN_SIZE);", U);
    emit_out(E, "forward_pass(m, k);");
    emit_out(E, "memcpy(%s, dy + (size_t)done * %s_OUT_SIZE, sizeof(float) * (size_t)k * %s_OUT_SIZE);",
        last->dy_expr, U, U);
    emit_out(E, "backward_pass(m, k);");
    emit_close_block(E);
    emit_out(E, "m->dx = NULL;");
    emit_close_block(E);
    emit_blank(E);
    emit_timed(E, "void", "backward", "const float *x, const float *dy, float *dx, int n", "x, dy, dx, n",
               "TEAM_BACKWARD");
}

/* The descriptor: untyped wrappers so that the runtime's driver can run
 * any generated network. */
static void emit_descriptor(Emitter *E, const char *report_text)
{
    const char *P = E->opt->prefix, *U = E->upper;
    emit_out(E, "static void *d_new(int b) { return %s_new(b); }", P);
    emit_out(E, "static void d_free(void *m) { %s_free(m); }", P);
    emit_out(E, "static void d_init(void *m, uint64_t s) { %s_init(m, s); }", P);
    emit_out(E, "static int d_load(void *m, const char *p) { return %s_load(m, p); }", P);
    emit_out(E, "static int d_save(const void *m, const char *p) { return %s_save(m, p); }", P);
    emit_out(E, "static void d_forward(void *m, const float *x, float *y, int n) { %s_forward(m, x, y, n); }", P);
    emit_out(E, "static float *d_params(void *m) { return %s_params(m); }", P);
    emit_out(E, "static float *d_state(void *m) { return %s_state(m); }", P);
    if (E->train) {
        emit_out(E, "static float d_train(void *m, const float *x, const int *l, int n, const cnn_optim *o)");
        emit_out(E, "{");
        emit_out(E, "    return %s_train_step(m, x, l, n, o);", P);
        emit_out(E, "}");
        emit_out(E, "static void d_backward(void *m, const float *x, const float *dy, float *dx, int n)");
        emit_out(E, "{");
        emit_out(E, "    %s_backward(m, x, dy, dx, n);", P);
        emit_out(E, "}");
        emit_out(E, "static float *d_grads(void *m) { return %s_grads(m); }", P);
    }
    emit_blank(E);
    /* One literal per line: C99 promises only 4095 characters a string. */
    emit_open_block(E, "static const char *const report[] =");
    const char *line = report_text;
    while (*line) {
        const char *eol = strchr(line, '\n');
        size_t len = eol ? (size_t)(eol - line) : strlen(line);
        StrBuf lit;
        sb_init(&lit);
        for (size_t i = 0; i < len; i++) {
            unsigned char ch = (unsigned char)line[i];
            if (ch == '"' || ch == '\\')
                sb_printf(&lit, "\\%c", ch);
            else if (ch < 32 || ch >= 127)
                sb_printf(&lit, "\\%03o", ch);
            else
                sb_putn(&lit, line + i, 1);
        }
        emit_out(E, "\"%s\",", lit.data ? lit.data : "");
        sb_free(&lit);
        line += len + (eol != NULL);
    }
    emit_out(E, "NULL");
    E->indent--;
    emit_out(E, "};");
    emit_blank(E);
    emit_open_block(E, "const cnn_net %s_net =", P);
    emit_out(E, "\"%s\",", P);
    if (E->net->input.volume) {
        emit_out(E, "%s_IN_C, %s_IN_D, %s_IN_H, %s_IN_W, %s_IN_SIZE,", U, U, U, U, U);
        emit_out(E, "%s_OUT_C, %s_OUT_D, %s_OUT_H, %s_OUT_W, %s_OUT_SIZE,", U, U, U, U, U);
    } else {   /* depth 0: an image */
        emit_out(E, "%s_IN_C, 0, %s_IN_H, %s_IN_W, %s_IN_SIZE,", U, U, U, U);
        emit_out(E, "%s_OUT_C, 0, %s_OUT_H, %s_OUT_W, %s_OUT_SIZE,", U, U, U, U);
    }
    emit_out(E, "%s_NUM_PARAMS, %s_NUM_STATE,", U, U);
    emit_out(E, "%s,", net_loss(E->net) == LOSS_CE ? "CNN_LOSS_CROSS_ENTROPY"
                     : net_loss(E->net) == LOSS_DICE ? "CNN_LOSS_DICE" : "CNN_LOSS_MSE");
    emit_out(E, "%s_tensors, NUM_TENSORS, report,", P);
    emit_out(E, "d_new, d_free, d_init, d_load, d_save, d_forward, d_params, d_state,");
    if (E->train)
        emit_out(E, "d_train, d_backward, d_grads,");
    else
        emit_out(E, "NULL, NULL, NULL,");
    E->indent--;
    emit_out(E, "};");
    if (E->opt->emit_main) {
        emit_blank(E);
        emit_open_block(E, "int main(int argc, char **argv)");
        emit_out(E, "return cnn_main(&%s_net, argc, argv);", P);
        emit_close_block(E);
    }
}

int emit_c(const Net *net, const EmitOptions *opt, StrBuf *c, StrBuf *h, char *err, size_t errlen)
{
    Emitter E = {0};
    E.net = net;
    E.opt = opt;
    E.out = c;
    E.train = !opt->no_train;
    E.upper = xstrdup(opt->prefix);
    for (char *p = E.upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    plan_layers(&E);
    emit_header(&E, h);
    emit_prologue(&E);
    emit_layer_functions(&E);
    emit_passes(&E);
    TensorInfo *tensors;
    int ntensors = collect_tensors(&E, &tensors);
    int rc = 0;
    if (opt->embed) {
        rc = emit_embedded(&E, tensors, ntensors, err, errlen);
        emit_static_lifecycle(&E);
    } else {
        emit_lifecycle(&E);
        emit_init(&E);
    }
    emit_tensors(&E, tensors, ntensors);
    free_tensors(tensors, ntensors);
    emit_forward_api(&E);
    if (E.train)
        emit_train_api(&E);
    StrBuf report;
    sb_init(&report);
    report_table(net, E.opt->blas, 1, &report);
    emit_descriptor(&E, report.data ? report.data : "");
    sb_free(&report);
    free_plan(&E);
    free(E.upper);
    plan_free(&E.mem);
    lower_free(&E.lowered);
    return rc;
}

/* expand.c - turns parsed statements into the network graph.
 *
 * Block calls are expanded in place with a scope of their own: the call's
 * name prefixes every layer name inside ("layer1.0.conv1"), `input` means
 * the block's input, automatic names count from 1 again, and $parameters
 * are replaced by the call's arguments.  repeat bodies are expanded N times
 * in the current scope.  Includes are parsed and expanded where they stand.
 * Everything is bounded (layers, call depth, include depth, total work) so
 * that no input makes the compiler run away. */
#define _DEFAULT_SOURCE
#include "expand.h"
#include "kinds.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layers.h"
#include "names.h"
#include "reserved.h"
#include "util.h"


typedef struct Counter {
    const char *kind;
    int64_t count;
    struct Counter *next;
} Counter;

typedef struct Scope {
    const char *prefix;     /* "" at top level, "layer1.0." in a call */
    int input;              /* what `input` means here */
    Counter *counters;      /* automatic names */
    const Stmt *block;      /* the block being expanded, NULL at top */
    const Word *args;       /* its arguments, already resolved */
    struct Scope *parent;
    int depth;
} Scope;

typedef struct {
    Net *net;
    Arena *arena;
    NameMap names;
    const Stmt **blocks;
    int nblocks;
    char *includes[MAX_INCLUDE_DEPTH + 1];  /* real paths being read */
    int ninclude;
    int prev;               /* the previous statement's output; -1 before any */
    long work;
    bool too_big;           /* the limit message was given */
    bool input_problem;     /* a message about `input` was given */
    SrcLoc network_loc, fit_loc;
    bool saw_network, saw_fit, saw_loss;
} Expander;

static void expand_list(Expander *E, Scope *S, const Stmt *list, bool top);

/* ---- limits ---- */

static bool over_limit(Expander *E, SrcLoc loc)
{
    if (E->too_big)
        return true;
    if (++E->work > MAX_WORK || E->net->nnodes >= MAX_NODES) {
        error_at(loc, "the network expands to more than %d layers (or %d statements); "
                      "check the repeat counts", MAX_NODES, MAX_WORK);
        E->too_big = true;
    }
    return E->too_big;
}

/* ---- names ---- */

static const char *scoped(Expander *E, const Scope *S, const char *name)
{
    size_t lp = strlen(S->prefix), ln = strlen(name);
    char *full = arena_alloc(E->arena, lp + ln + 1);
    memcpy(full, S->prefix, lp);
    memcpy(full + lp, name, ln + 1);
    return full;
}

static const char *auto_name(Expander *E, Scope *S, const char *kind)
{
    Counter *c = S->counters;
    while (c && strcmp(c->kind, kind) != 0)
        c = c->next;
    if (!c) {
        c = arena_alloc(E->arena, sizeof *c);
        c->kind = kind;
        c->next = S->counters;
        S->counters = c;
    }
    c->count++;
    /* Not cut short: two blocks whose long names share a prefix must
     * still get different automatic names. */
    char digits[24];
    snprintf(digits, sizeof digits, "%lld", (long long)c->count);
    size_t lk = strlen(kind), ld = strlen(digits);
    char *name = arena_alloc(E->arena, lk + ld + 1);
    memcpy(name, kind, lk);
    memcpy(name + lk, digits, ld + 1);
    return name;
}

/* Registers full as naming node id; false (reported) if it is taken. */
static bool define(Expander *E, const char *full, int id, SrcLoc loc, bool automatic)
{
    const NameEntry *old = names_get(&E->names, full);
    if (old && !automatic && old->loc.file == loc.file && old->loc.line == loc.line &&
        old->loc.col == loc.col) {
        /* The same statement again: a named layer in a repeat. */
        error_at(loc, "'%s' is defined again by the next iteration of its repeat; leave the "
                      "layer unnamed, or put it in a block and call that", full);
        return false;
    }
    if (old) {
        if (automatic)
            error_at(loc, "the automatic name '%s' is already taken; give this layer a name "
                          "with NAME = ...", full);
        else
            error_at(loc, "'%s' is already defined", full);
        if (old->loc.file)
            note_at(old->loc, "'%s' was defined here", full);
        return false;
    }
    names_put(&E->names, full, id, loc);
    return true;
}

/* Suggests a defined name close to a misspelled one.  The scan is linear,
 * so only for small nets and the first errors: a generated file with a
 * hundred thousand bad names must not take minutes. */
static const char *suggest_name(Expander *E, const char *name)
{
    if (E->names.count > 5000 || diag_errors() > 100)
        return NULL;
    const char *best = NULL;
    int best_d = (int)(strlen(name) / 3) + 1;   /* "foo" is not a typo of "fc1" */
    if (best_d > 3)
        best_d = 3;
    for (size_t i = 0; i < E->names.cap; i++) {
        const char *key = E->names.slots[i].key;
        if (!key)
            continue;
        int d = layer_edit_distance(name, key);
        if (d < best_d) {
            best_d = d;
            best = key;
        }
    }
    return best;
}

/* A name used as an input: looked up in this scope, then outwards. */
static int resolve_ref(Expander *E, const Scope *S, const Word *w)
{
    if (strcmp(w->s, "input") == 0)
        return S->input;
    for (const Scope *s = S; s; s = s->parent) {
        const NameEntry *e = names_get(&E->names, scoped(E, s, w->s));
        if (e)
            return e->id;
    }
    const char *hint = suggest_name(E, w->s);
    if (hint)
        error_at(w->loc, "unknown layer '%s'; did you mean '%s'?", w->s, hint);
    else
        error_at(w->loc, "unknown layer '%s': a layer must be named before it is used", w->s);
    return -1;
}

/* ---- block parameters ---- */

static const Scope *param_scope(const Scope *S)
{
    while (S && !S->block)
        S = S->parent;
    return S;
}

/* The argument bound to $name, or NULL (reported). */
static const Word *param_value(const Scope *S, const Word *use)
{
    const Scope *bs = param_scope(S);
    if (!bs) {
        error_at(use->loc, "'$%s' is used outside a block", use->s);
        return NULL;
    }
    const Word *p = bs->block->params, *a = bs->args;
    for (; p && a; p = p->next, a = a->next)
        if (strcmp(p->s, use->s) == 0)
            return a;
    error_at(use->loc, "block '%s' has no parameter '%s'", bs->block->head, use->s);
    return NULL;
}

static Word *copy_word(Expander *E, const Word *w, SrcLoc loc)
{
    Word *c = arena_alloc(E->arena, sizeof *c);
    *c = *w;
    c->loc = loc;
    c->next = NULL;
    return c;
}

/* Replaces $params in a DIMS word: each atom must become a whole number. */
static Word *resolve_dims(Expander *E, const Scope *S, const Word *w, bool *ok)
{
    Word *c = copy_word(E, w, w->loc);
    Word **tail = &c->atoms;
    for (const Word *a = w->atoms; a; a = a->next) {
        Word *na = copy_word(E, a, a->loc);
        if (a->kind == W_PARAM) {
            const Word *v = param_value(S, a);
            if (!v) {
                *ok = false;
                na->kind = W_INT;
            } else if (v->kind != W_INT) {
                error_at(a->loc, "'$%s' is '%s' here, but a size needs a whole number", a->s, word_text(v));
                *ok = false;
                na->kind = W_INT;
            } else {
                na->kind = W_INT;
                na->i = v->i;
                na->text = v->text;
            }
        }
        *tail = na;
        tail = &na->next;
    }
    return c;
}

/* A copy of a word list with every $param replaced.  *ok turns false on an
 * unknown parameter (reported). */
static bool has_params(const Word *w)
{
    for (; w; w = w->next) {
        if (w->kind == W_PARAM)
            return true;
        for (const Word *a = w->kind == W_DIMS ? w->atoms : NULL; a; a = a->next)
            if (a->kind == W_PARAM)
                return true;
    }
    return false;
}

static const Word *resolve_words(Expander *E, const Scope *S, const Word *in, bool *ok)
{
    if (!has_params(in))
        return in;   /* nothing to copy: a repeat must not allocate per iteration */
    Word *head = NULL, **tail = &head;
    for (const Word *w = in; w; w = w->next) {
        Word *c;
        if (w->kind == W_PARAM) {
            const Word *v = param_value(S, w);
            if (!v) {
                *ok = false;
                continue;
            }
            c = copy_word(E, v, w->loc);
        } else if (w->kind == W_DIMS) {
            c = resolve_dims(E, S, w, ok);
        } else {
            c = copy_word(E, w, w->loc);
        }
        *tail = c;
        tail = &c->next;
    }
    return head;
}

/* ---- top-level statements ---- */

static bool only_at_top(const Stmt *st, bool top, const char *what)
{
    if (!top)
        error_at(st->loc, "'%s' is only allowed at the top level of a file, "
                          "not inside a block or repeat", what);
    return top;
}

static bool is_c_identifier(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
        return false;
    for (s++; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
              (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

static void stmt_network(Expander *E, const Stmt *st, bool top)
{
    if (!only_at_top(st, top, "network"))
        return;
    const Word *w = st->words;
    if (!w || w->kind != W_NAME || w->next) {
        error_at(w ? w->loc : st->loc, "'network' needs one name (a C identifier), e.g. network lenet5");
        return;
    }
    if (E->saw_network) {
        error_at(st->loc, "'network' is given twice");
        note_at(E->network_loc, "the first is here");
        return;
    }
    if (!is_c_identifier(w->s) || strlen(w->s) > 64) {
        error_at(w->loc, "the network name '%s' must be a C identifier of at most 64 "
                         "characters (letters, digits, _), since it prefixes the generated C", w->s);
        return;
    }
    if (prefix_problem(w->s)) {
        char better[96];
        prefix_suggestion(w->s, better, sizeof better);
        error_at(w->loc, "the network name '%s' %s, and it prefixes the generated C; choose "
                         "another, e.g. network %s", w->s, prefix_problem(w->s), better);
        return;
    }
    E->saw_network = true;
    E->network_loc = st->loc;
    free(E->net->name);
    E->net->name = xstrdup(w->s);
    E->net->name_loc = w->loc;
}

static void create_input_node(Expander *E, SrcLoc loc)
{
    Node *in = net_add_node(E->net, OP_INPUT, "input", loc);
    in->kind_name = xstrdup(op_name(OP_INPUT));
    names_put(&E->names, "input", 0, loc);
    E->prev = 0;
}

/* HxW, HxWxC, or DxHxWxC: a volume (SPEC 7). */
static Shape input_shape(const Word *w)
{
    int64_t v[4] = {0, 0, 0, 0};
    int count = 0;
    for (const Word *a = w->atoms; a && count < 4; a = a->next)
        v[count++] = a->i;
    if (count == 4)
        return (Shape){.d = v[0], .h = v[1], .w = v[2], .c = v[3], .volume = true};
    return (Shape){.d = 1, .h = v[0], .w = v[1], .c = count == 3 ? v[2] : 1};
}

static void stmt_input(Expander *E, Scope *S, const Stmt *st, bool top)
{
    if (!only_at_top(st, top, "input"))
        return;
    if (E->net->has_input) {
        error_at(st->loc, "'input' is given twice");
        note_at(E->net->input_loc, "the first is here");
        return;
    }
    if (E->net->nnodes > 0)
        return;  /* a layer before it was reported already */
    if (st->broken) {
        /* Its syntax error is out; later layers must not say "no input". */
        E->input_problem = true;
        create_input_node(E, st->loc);
        return;
    }
    bool ok = true;
    const Word *w = resolve_words(E, S, st->words, &ok);
    if (!ok)
        return;
    if (!w || w->kind != W_DIMS || w->natoms < 2 || w->natoms > 4 || w->next) {
        error_at(w ? w->loc : st->loc, "'input' needs the image size as HxWxC or HxW, e.g. input 28x28x1"
                 " (or a volume's as DxHxWxC)");
        E->input_problem = true;
        create_input_node(E, st->loc);
        return;
    }
    E->net->input = input_shape(w);
    E->net->has_input = true;
    E->net->input_loc = st->loc;
    create_input_node(E, st->loc);
}

static void stmt_fit(Expander *E, const Stmt *st, bool top)
{
    if (!only_at_top(st, top, "fit"))
        return;
    const Word *w = st->words;
    FitMode mode;
    if (w && !w->next && w->kind == W_NAME && strcmp(w->s, "floor") == 0)
        mode = FIT_FLOOR;
    else if (w && !w->next && w->kind == W_NAME && strcmp(w->s, "ceil") == 0)
        mode = FIT_CEIL;
    else if (w && !w->next && w->kind == W_NAME && strcmp(w->s, "error") == 0)
        mode = FIT_ERROR;
    else {
        error_at(w ? w->loc : st->loc, "'fit' takes one of floor, ceil or error");
        return;
    }
    if (E->saw_fit) {
        error_at(st->loc, "'fit' is given twice");
        note_at(E->fit_loc, "the first is here");
        return;
    }
    E->saw_fit = true;
    E->fit_loc = st->loc;
    E->net->fit = mode;
}

/* The file-wide training loss; whether the network fits it is the
 * checker's to say, once the output's shape is known. */
static void stmt_loss(Expander *E, const Stmt *st, bool top)
{
    if (!only_at_top(st, top, "loss"))
        return;
    const Word *w = st->words;
    LossKind loss = LOSS_DEFAULT;
    for (int k = LOSS_CE; w && !w->next && w->kind == W_NAME && k <= LOSS_MSE; k++)
        if (strcmp(w->s, loss_name((LossKind)k)) == 0)
            loss = (LossKind)k;
    if (loss == LOSS_DEFAULT) {
        error_at(w ? w->loc : st->loc, "'loss' takes one of " LOSS_KINDS);
        return;
    }
    if (E->saw_loss) {
        error_at(st->loc, "'loss' is given twice");
        note_at(E->net->loss_loc, "the first is here");
        return;
    }
    E->saw_loss = true;
    E->net->loss = loss;
    E->net->loss_loc = st->loc;
}

static const Stmt *find_block(const Expander *E, const char *name)
{
    for (int i = 0; i < E->nblocks; i++)
        if (strcmp(E->blocks[i]->head, name) == 0)
            return E->blocks[i];
    return NULL;
}

static void stmt_block(Expander *E, const Stmt *st, bool top)
{
    if (!only_at_top(st, top, "block"))
        return;
    const Stmt *old = find_block(E, st->head);
    if (old) {
        error_at(st->head_loc, "block '%s' is defined twice", st->head);
        note_at(old->head_loc, "the first definition is here");
        return;
    }
    LayerKind kind;
    if (layer_kind(st->head, &kind)) {
        error_at(st->head_loc, "a block cannot be called '%s': that is a layer kind", st->head);
        return;
    }
    /* Kept even so, so that its calls do not say "unknown block". */
    for (const Word *p = st->params; p; p = p->next)
        for (const Word *q = p->next; q; q = q->next)
            if (strcmp(p->s, q->s) == 0)
                error_at(q->loc, "parameter '%s' is listed twice", q->s);
    E->blocks = xrealloc(E->blocks, (size_t)(E->nblocks + 1) * sizeof *E->blocks);
    E->blocks[E->nblocks++] = st;
}

/* Why path cannot be included, or NULL.  Only a regular file may be: a
 * FIFO or /dev/zero would hang or exhaust memory. */
static const char *not_includable(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return strerror(errno);
    if (S_ISDIR(sb.st_mode))
        return "it is a directory";
    return S_ISREG(sb.st_mode) ? NULL : "not a regular file";
}

static void stmt_include(Expander *E, Scope *S, const Stmt *st, bool top)
{
    if (!only_at_top(st, top, "include"))
        return;
    const Word *w = st->words;
    if (!w || w->kind != W_STRING || w->next) {
        error_at(w ? w->loc : st->loc, "'include' needs one file name in quotes, e.g. include \"blocks.net\"");
        return;
    }
    if (E->ninclude >= MAX_INCLUDE_DEPTH) {
        error_at(st->loc, "includes nest more than %d deep", MAX_INCLUDE_DEPTH);
        return;
    }
    char *dir = path_dirname(st->loc.file);
    char *path = path_join(dir, w->s);
    free(dir);
    char *real = realpath(path, NULL);
    const char *why = real ? not_includable(real) : strerror(errno);
    size_t len = 0;
    char *text = why ? NULL : read_file_max(path, CNNC_MAX_SOURCE, &len);
    if (!text) {
        error_at(w->loc, "cannot read '%s': %s", path, why ? why : strerror(errno));
        free(real);
        free(path);
        return;
    }
    for (int i = 0; i < E->ninclude; i++)
        if (strcmp(E->includes[i], real) == 0) {
            error_at(w->loc, "'%s' is already being included: an include cycle", path);
            goto done;
        }
    if (len > CNNC_MAX_SOURCE) {
        error_at(w->loc, "'%s' is larger than %u bytes", path, CNNC_MAX_SOURCE);
        goto done;
    }
    net_add_file(E->net, path);
    const char *file = diag_add_source(path, text, len);
    const Stmt *list = parse_text(E->arena, file, text, len);
    E->includes[E->ninclude++] = real;
    real = NULL;
    expand_list(E, S, list, true);
    free(E->includes[--E->ninclude]);
done:
    free(real);
    free(text);
    free(path);
}

static void stmt_repeat(Expander *E, Scope *S, const Stmt *st)
{
    bool ok = true;
    const Word *w = resolve_words(E, S, st->words, &ok);
    if (!ok)
        return;
    if (!w || w->kind != W_INT || w->next) {
        error_at(w ? w->loc : st->loc, "'repeat' needs a count, e.g. repeat 3 { ... }");
        return;
    }
    if (w->i < 0) {
        error_at(w->loc, "'repeat' count must not be negative, not %lld", (long long)w->i);
        return;
    }
    int errors = diag_errors();
    for (int64_t i = 0; i < w->i && st->body; i++) {
        if (over_limit(E, st->loc))
            return;
        expand_list(E, S, st->body, false);
        if (diag_errors() > errors)
            return;   /* the next iteration would only say it again */
    }
}

/* ---- layers and calls ---- */

/* The first layer makes sure there is an input node to hang from. */
static bool need_input(Expander *E, const Stmt *st)
{
    if (E->net->nnodes > 0)
        return true;
    error_at(st->loc, "a layer comes before the 'input' statement; start the network "
                      "with e.g. input 28x28x1");
    E->input_problem = true;
    create_input_node(E, st->loc);
    return true;
}

static void unknown_kind(Expander *E, const Stmt *st)
{
    if (find_block(E, st->head)) {
        error_at(st->head_loc, "'%s' is a block: call it with arguments, e.g. %s(...)", st->head, st->head);
        return;
    }
    const char *hint = layer_suggest(st->head);
    if (hint) {
        error_at(st->head_loc, "unknown layer kind '%s'; did you mean '%s'?", st->head, hint);
        return;
    }
    StrBuf kinds;
    sb_init(&kinds);
    layer_kind_list(&kinds);
    error_at(st->head_loc, "unknown layer kind '%s' (layers are %s and the activations)", st->head,
             kinds.data);
    sb_free(&kinds);
}

static void stmt_layer(Expander *E, Scope *S, const Stmt *st)
{
    LayerKind kind;
    if (!layer_kind(st->head, &kind)) {
        unknown_kind(E, st);
        return;
    }
    if (over_limit(E, st->loc) || !need_input(E, st))
        return;
    bool ok = true;
    const Word *words = resolve_words(E, S, st->words, &ok);
    const char *name = st->def ? scoped(E, S, st->def) : NULL;
    Node *n = net_add_node(E->net, kind.op, "", st->loc);
    free(n->kind_name);
    n->kind_name = xstrdup(kind.keyword);
    InputRefs refs;
    if (!layer_parse(n, &kind, E->net->input.volume, words, &refs))
        ok = false;
    /* Named layers count too, so that the third conv is conv3 either way. */
    const char *automatic = auto_name(E, S, op_auto_prefix(n));
    if (!name)
        name = scoped(E, S, automatic);
    free(n->name);
    n->name = xstrdup(name);
    if (!define(E, name, n->id, st->def ? st->def_loc : st->loc, !st->def))
        ok = false;
    if (refs.takes_previous)
        node_add_input(n, E->prev, st->loc);
    for (int i = 0; i < refs.n; i++) {
        int id = resolve_ref(E, S, refs.names[i]);
        if (id < 0)
            ok = false;
        else
            node_add_input(n, id, refs.names[i]->loc);
    }
    n->invalid = !ok;
    E->prev = n->id;
}

static bool check_call(const Scope *S, const Stmt *st, const Stmt *block)
{
    if (block && block->broken && !block->body)
        return false;   /* its header had a syntax error: nothing to add */
    if (!block) {
        LayerKind kind;
        if (layer_kind(st->head, &kind))
            error_at(st->head_loc, "'%s' is a layer, not a block: write it without parentheses", st->head);
        else
            error_at(st->head_loc, "unknown block '%s' (blocks must be defined before they are called)", st->head);
        return false;
    }
    int nparams = word_count(block->params), nargs = word_count(st->args);
    if (nparams != nargs) {
        error_at(st->head_loc, "block '%s' takes %d argument%s, not %d", st->head, nparams,
                 nparams == 1 ? "" : "s", nargs);
        note_at(block->head_loc, "'%s' is defined here", st->head);
        return false;
    }
    for (const Scope *s = S; s; s = s->parent)
        if (s->block == block) {
            error_at(st->head_loc, "block '%s' calls itself", st->head);
            return false;
        }
    if (S->depth >= MAX_CALL_DEPTH) {
        error_at(st->head_loc, "block calls nest more than %d deep", MAX_CALL_DEPTH);
        return false;
    }
    return true;
}

/* The input of a call: the previous output, or `from NAME`. */
static int call_input(Expander *E, Scope *S, const Stmt *st, const Word *words, bool *ok)
{
    if (!words)
        return E->prev;
    if (words->kind == W_NAME && strcmp(words->s, "from") == 0 && words->next &&
        words->next->kind == W_NAME && !words->next->next) {
        int id = resolve_ref(E, S, words->next);
        if (id < 0)
            *ok = false;
        return id;
    }
    error_at(words->loc, "a block call takes only 'from NAME' after its arguments, not '%s'",
             word_text(words));
    (void)st;
    *ok = false;
    return -1;
}

static void stmt_call(Expander *E, Scope *S, const Stmt *st)
{
    const Stmt *block = find_block(E, st->head);
    if (!check_call(S, st, block) || over_limit(E, st->loc) || !need_input(E, st))
        return;
    bool ok = true;
    const Word *args = resolve_words(E, S, st->args, &ok);
    const Word *words = resolve_words(E, S, st->words, &ok);
    int input = call_input(E, S, st, words, &ok);
    if (!ok)
        return;
    const char *name = st->def ? st->def : auto_name(E, S, st->head);
    const char *full = scoped(E, S, name);
    if (names_get(&E->names, full)) {
        define(E, full, -1, st->def ? st->def_loc : st->loc, !st->def);
        return;
    }
    Scope inner = {0};
    size_t lf = strlen(full);
    char *prefix = arena_alloc(E->arena, lf + 2);
    memcpy(prefix, full, lf);
    prefix[lf] = '.';
    inner.prefix = prefix;
    inner.input = input;
    inner.block = block;
    inner.args = args;
    inner.parent = S;
    inner.depth = S->depth + 1;
    int before = E->net->nnodes, errors = diag_errors();
    E->prev = input;
    expand_list(E, &inner, block->body, false);
    if (E->net->nnodes == before && diag_errors() == errors && !block->broken) {
        error_at(st->head_loc, "block '%s' has no layers, so its call has no output", st->head);
        return;
    }
    /* The call's name stands for the block's output. */
    define(E, full, E->prev, st->def ? st->def_loc : st->loc, !st->def);
}

static void expand_stmt(Expander *E, Scope *S, const Stmt *st, bool top)
{
    switch (st->kind) {
    case S_NETWORK: stmt_network(E, st, top); break;
    case S_INPUT: stmt_input(E, S, st, top); break;
    case S_FIT: stmt_fit(E, st, top); break;
    case S_LOSS: stmt_loss(E, st, top); break;
    case S_INCLUDE: stmt_include(E, S, st, top); break;
    case S_BLOCK: stmt_block(E, st, top); break;
    case S_REPEAT: stmt_repeat(E, S, st); break;
    case S_LAYER: stmt_layer(E, S, st); break;
    case S_CALL: stmt_call(E, S, st); break;
    }
}

static void expand_list(Expander *E, Scope *S, const Stmt *list, bool top)
{
    for (const Stmt *st = list; st && !E->too_big; st = st->next)
        expand_stmt(E, S, st, top);
}

void expand_program(Net *net, Arena *arena, const Stmt *program, const char *file)
{
    Expander E = {0};
    E.net = net;
    E.arena = arena;
    E.prev = -1;
    names_init(&E.names);
    char *real = realpath(file, NULL);
    if (real)
        E.includes[E.ninclude++] = real;
    Scope top = {0};
    top.prefix = "";
    diag_dedupe(true);
    expand_list(&E, &top, program, true);
    diag_dedupe(false);
    SrcLoc start = {file, 1, 1};
    if (!net->has_input && !E.input_problem)
        error_at(start, "no 'input' statement: say the image size first, e.g. input 28x28x1");
    else if (net->nnodes == 1 && diag_errors() == 0)
        error_at(net->input_loc, "the network has no layers after 'input'");
    net->output = net->nnodes - 1;
    while (E.ninclude > 0)
        free(E.includes[--E.ninclude]);
    free(E.blocks);
    names_free(&E.names);
}

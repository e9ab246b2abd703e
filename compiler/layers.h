/* layers.h - interpreting the words of one layer statement into a Node.
 *
 * The expander resolves block parameters first, so every word here is
 * concrete.  Names of input layers (`from x`, `add a, b`) are collected
 * for the expander, which knows the scopes. */
#ifndef CNNC_LAYERS_H
#define CNNC_LAYERS_H

#include <stdbool.h>

#include "ast.h"
#include "ir.h"
#include "util.h"

typedef struct {
    const char *keyword;   /* as written: "conv", "relu", ... */
    OpKind op;
    ActKind act;           /* for the activation statements */
} LayerKind;

/* The layer kind of a statement keyword in *kind; false if none. */
bool layer_kind(const char *keyword, LayerKind *kind);
/* "conv, deconv, ..., crop": the kinds that are not activations. */
void layer_kind_list(StrBuf *sb);
/* The closest layer keyword to a misspelling, or NULL. */
const char *layer_suggest(const char *word);

enum { MAX_LAYER_INPUTS = 256 };

typedef struct {
    const Word *names[MAX_LAYER_INPUTS];  /* named inputs, in order */
    int n;
    bool takes_previous;  /* add/mul/concat with one name, or no `from` */
} InputRefs;

/* Fills n's options from words; a volume's layers (SPEC 7) take three
 * spatial sizes where an image's take two.  Reports every problem and
 * returns false if there was one. */
bool layer_parse(Node *n, const LayerKind *kind, bool volume, const Word *words, InputRefs *refs);

/* Edit distance, for "did you mean" suggestions (small strings only). */
int layer_edit_distance(const char *a, const char *b);

#endif

/* ast.h - the parsed form of a .net file, before blocks, repeats and
 * includes are expanded into the graph (expand.c).
 *
 * The parser only knows the structure of statements.  A layer statement is
 * kept as its words ("conv", 3x3x64, "stride", 2, ...) and the expander
 * interprets them per layer kind: that way a misplaced option gets a message
 * about the layer ("conv does not take 'global'") instead of a bare syntax
 * error, and block parameters can stand anywhere a word can.
 *
 * All AST memory comes from one Arena and is freed at once. */
#ifndef CNNC_AST_H
#define CNNC_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

typedef struct Arena Arena;
Arena *arena_new(void);
void arena_free(Arena *a);
void *arena_alloc(Arena *a, size_t n);      /* zeroed */
char *arena_strndup(Arena *a, const char *s, size_t n);

typedef enum {
    W_INT,     /* 64 */
    W_FLOAT,   /* 0.5 */
    W_DIMS,    /* 3x3x64: atoms are W_INT or W_PARAM */
    W_NAME,    /* conv, stride, layer1.0, relu, ... */
    W_PARAM,   /* $c */
    W_COMMA,   /* , between names */
    W_STRING   /* "file.net" */
} WordKind;

typedef struct Word {
    WordKind kind;
    SrcLoc loc;
    int64_t i;           /* W_INT */
    double f;            /* W_FLOAT */
    const char *s;       /* W_NAME, W_PARAM (without $), W_STRING */
    const char *text;    /* as written, for messages */
    struct Word *atoms;  /* W_DIMS: a list */
    int natoms;
    struct Word *next;
} Word;

typedef enum {
    S_NETWORK,  /* network NAME */
    S_INPUT,    /* input HxWxC */
    S_FIT,      /* fit floor|ceil|error */
    S_LOSS,     /* loss ce|dice|mse */
    S_LAYER,    /* [def =] KIND words */
    S_CALL,     /* [def =] BLOCK(args) words */
    S_BLOCK,    /* block NAME(params) { body } */
    S_REPEAT,   /* repeat N { body } */
    S_INCLUDE   /* include "file" */
} StmtKind;

typedef struct Stmt {
    StmtKind kind;
    SrcLoc loc;           /* the statement's first token */
    const char *def;      /* NAME in "NAME = ...", or NULL */
    SrcLoc def_loc;
    const char *head;     /* layer kind, block name, include path */
    SrcLoc head_loc;
    Word *words;          /* layer words; network/input/fit/loss/repeat argument */
    Word *args;           /* S_CALL arguments */
    Word *params;         /* S_BLOCK parameter names (W_NAME) */
    struct Stmt *body;    /* S_BLOCK, S_REPEAT */
    bool broken;          /* a syntax error was reported in it (S_INPUT, S_BLOCK
                             or its body, S_REPEAT body): the expander then
                             keeps quiet about what is missing */
    struct Stmt *next;
} Stmt;

/* Parses one file's text.  Syntax errors are reported through diag and the
 * parser recovers at the next statement; the statements that parsed are
 * returned either way.  file is the interned name from diag_add_source. */
Stmt *parse_text(Arena *arena, const char *file, const char *text, size_t len);

int word_count(const Word *w);
/* Human-readable text of a word, for messages. */
const char *word_text(const Word *w);

#endif

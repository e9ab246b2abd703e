/* lexstate.h - what the reentrant lexer keeps between tokens. */
#ifndef CNNC_LEXSTATE_H
#define CNNC_LEXSTATE_H

#include "ast.h"

enum { LEX_MAX_BRACES = 64 };   /* open '{' whose place is remembered */

typedef struct LexState {
    Arena *arena;
    const char *file;     /* interned, for locations */
    const char *src;      /* the whole text being lexed, for looking ahead */
    size_t len;
    size_t pos;           /* offset of the end of the current token */
    int line, col;        /* where the next token starts */
    int paren;            /* depth of ( ): newlines inside do not end statements */
    SrcLoc paren_open;    /* the outermost open '(' */
    int braces;           /* depth of { } */
    SrcLoc brace_open[LEX_MAX_BRACES];  /* the innermost open '{'s */
    int stray_close;      /* the last '}' had no '{' to close */
    int last;             /* the last token returned */
    int at_eof;
} LexState;

#endif

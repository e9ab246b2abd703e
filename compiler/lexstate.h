/* lexstate.h - what the reentrant lexer keeps between tokens. */
#ifndef CNNC_LEXSTATE_H
#define CNNC_LEXSTATE_H

#include "ast.h"

typedef struct LexState {
    Arena *arena;
    const char *file;     /* interned, for locations */
    int line, col;        /* where the next token starts */
    int paren;            /* depth of ( ): newlines inside do not end statements */
    int last;             /* the last token returned */
    int at_eof;
    int suppress_next_syntax_error;  /* the lexer already reported it */
} LexState;

#endif

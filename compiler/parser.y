/* parser.y - the structure of .net statements.
 *
 * Layer statements stay lists of words here (see ast.h); this grammar knows
 * separators, definitions, block calls, block and repeat bodies, and where
 * to resume after a syntax error: at the next statement, so that every
 * error of a file is reported in one run.
 *
 * Canonical LR without default reductions (but in the accepting state)
 * detects an error before reducing anything, so recovery never pops the
 * statements parsed so far; the separators are written into stmt_list for
 * the same reason. */
%define api.pure full
%define parse.error custom
%define lr.type canonical-lr
%define lr.default-reduction accepting
%locations
%param {void *scanner}
%parse-param {ParseCtx *ctx}

%code requires {
#include <stdbool.h>

#include "ast.h"
typedef struct ParseCtx ParseCtx;
typedef struct { Word *head, *tail; } WordList;
typedef struct { Stmt *head, *tail; bool broken; } StmtList;
}

%code provides {
struct ParseCtx {
    Arena *arena;
    const char *file;
    Stmt *result, *last;   /* the top-level statements parsed so far */
    int errors;            /* syntax errors recovered from so far */
    struct LexState *lex;
};
}

%union {
    int count;
    Word *word;
    Stmt *stmt;
    WordList words;
    StmtList stmts;
}

%code {
#include <stdbool.h>
#include <string.h>

#include "lexstate.h"
#include "lexer.h"
#include "util.h"

static void yyerror(YYLTYPE *loc, void *scanner, ParseCtx *ctx, const char *msg);
static Stmt *new_stmt(ParseCtx *ctx, StmtKind kind, const YYLTYPE *loc);
static SrcLoc to_loc(ParseCtx *ctx, const YYLTYPE *loc);
static WordList words_add(WordList l, Word *w);
static StmtList stmts_add(StmtList l, Stmt *s);
static void top_add(ParseCtx *ctx, Stmt *s);
static Word *comma_word(ParseCtx *ctx, const YYLTYPE *loc);
}

%token NEWLINE "end of line"
%token <word> WORD "name" INT "integer" FLOAT "number" DIMS "size" PARAM "parameter"
%token <word> STRING "string" DEFNAME "name =" CALLNAME "block call"
%token <word> NETWORK "'network'" INPUT "'input'" FIT "'fit'" BLOCK "'block'"
%token <word> REPEAT "'repeat'" INCLUDE "'include'" LOSS "'loss'"
%token BAD "invalid token"

%type <stmts> stmt_list body
%type <count> lbrace
%type <stmt> opt_stmt stmt layer call
%type <words> words opt_args args opt_params params
%type <word> word value keyword

%%

/* Top-level statements go into ctx as soon as they are complete, so that
 * they survive a syntax error the parser cannot recover from (an unclosed
 * '{' at the end of the file). */
program
    : top_stmt
    | program NEWLINE top_stmt
    | program ';' top_stmt
    ;

top_stmt
    : opt_stmt                   { top_add(ctx, $1); }
    ;

stmt_list
    : opt_stmt                   { StmtList l = {0, 0, false}; $$ = stmts_add(l, $1); }
    | stmt_list NEWLINE opt_stmt { $$ = stmts_add($1, $3); }
    | stmt_list ';' opt_stmt     { $$ = stmts_add($1, $3); }
    ;

opt_stmt
    : %empty                     { $$ = NULL; }
    | stmt
    | error                      { $$ = NULL; }
    ;

stmt
    : NETWORK words              { $$ = new_stmt(ctx, S_NETWORK, &@1); $$->words = $2.head; }
    | INPUT words                { $$ = new_stmt(ctx, S_INPUT, &@1); $$->words = $2.head; }
    | INPUT error                { $$ = new_stmt(ctx, S_INPUT, &@1); $$->broken = true; }
    | FIT words                  { $$ = new_stmt(ctx, S_FIT, &@1); $$->words = $2.head; }
    | LOSS words                 { $$ = new_stmt(ctx, S_LOSS, &@1); $$->words = $2.head; }
    | INCLUDE words              { $$ = new_stmt(ctx, S_INCLUDE, &@1); $$->words = $2.head; }
    | REPEAT words body          {
                                     $$ = new_stmt(ctx, S_REPEAT, &@1);
                                     $$->words = $2.head;
                                     $$->body = $3.head;
                                     $$->broken = $3.broken;
                                 }
    | BLOCK CALLNAME '(' opt_params ')' body
                                 {
                                     $$ = new_stmt(ctx, S_BLOCK, &@1);
                                     $$->head = $2->s;
                                     $$->head_loc = $2->loc;
                                     $$->params = $4.head;
                                     $$->body = $6.head;
                                     $$->broken = $6.broken;
                                 }
    | BLOCK CALLNAME error       {
                                     $$ = new_stmt(ctx, S_BLOCK, &@1);
                                     $$->head = $2->s;
                                     $$->head_loc = $2->loc;
                                     $$->broken = true;
                                 }
    | layer
    | call
    | DEFNAME '=' layer          { $$ = $3; $$->def = $1->s; $$->def_loc = $1->loc; $$->loc = $1->loc; }
    | DEFNAME '=' call           { $$ = $3; $$->def = $1->s; $$->def_loc = $1->loc; $$->loc = $1->loc; }
    ;

/* A body knows whether a statement in it was dropped for a syntax error,
 * so that the expander does not add "block has no layers" to it. */
body
    : lbrace stmt_list '}'       { $$ = $2; $$.broken = ctx->errors != $1; }
    ;

lbrace
    : '{'                        { $$ = ctx->errors; }
    ;

layer
    : WORD words                 {
                                     $$ = new_stmt(ctx, S_LAYER, &@1);
                                     $$->head = $1->s;
                                     $$->head_loc = $1->loc;
                                     $$->words = $2.head;
                                 }
    ;

call
    : CALLNAME '(' opt_args ')' words
                                 {
                                     $$ = new_stmt(ctx, S_CALL, &@1);
                                     $$->head = $1->s;
                                     $$->head_loc = $1->loc;
                                     $$->args = $3.head;
                                     $$->words = $5.head;
                                 }
    ;

opt_args
    : %empty                     { WordList l = {0, 0}; $$ = l; }
    | args
    ;

args
    : value                      { WordList l = {0, 0}; $$ = words_add(l, $1); }
    | args ',' value             { $$ = words_add($1, $3); }
    ;

opt_params
    : %empty                     { WordList l = {0, 0}; $$ = l; }
    | params
    ;

params
    : WORD                       { WordList l = {0, 0}; $$ = words_add(l, $1); }
    | params ',' WORD            { $$ = words_add($1, $3); }
    ;

words
    : %empty                     { WordList l = {0, 0}; $$ = l; }
    | words word                 { $$ = words_add($1, $2); }
    ;

word
    : value
    | STRING
    | ','                        { $$ = comma_word(ctx, &@1); }
    ;

value
    : WORD | INT | FLOAT | DIMS | PARAM | keyword
    ;

keyword
    : NETWORK | INPUT | FIT | BLOCK | REPEAT | INCLUDE | LOSS
    ;

%%

static SrcLoc to_loc(ParseCtx *ctx, const YYLTYPE *loc)
{
    SrcLoc l = {ctx->file, loc->first_line, loc->first_column};
    return l;
}

static Stmt *new_stmt(ParseCtx *ctx, StmtKind kind, const YYLTYPE *loc)
{
    Stmt *s = arena_alloc(ctx->arena, sizeof *s);
    s->kind = kind;
    s->loc = to_loc(ctx, loc);
    return s;
}

static WordList words_add(WordList l, Word *w)
{
    w->next = NULL;
    if (l.tail)
        l.tail->next = w;
    else
        l.head = w;
    l.tail = w;
    return l;
}

static StmtList stmts_add(StmtList l, Stmt *s)
{
    if (!s)
        return l;
    if (l.tail)
        l.tail->next = s;
    else
        l.head = s;
    l.tail = s;
    return l;
}

static Word *comma_word(ParseCtx *ctx, const YYLTYPE *loc)
{
    Word *w = arena_alloc(ctx->arena, sizeof *w);
    w->kind = W_COMMA;
    w->loc = to_loc(ctx, loc);
    w->text = ",";
    return w;
}

static void top_add(ParseCtx *ctx, Stmt *s)
{
    if (!s)
        return;
    if (ctx->last)
        ctx->last->next = s;
    else
        ctx->result = s;
    ctx->last = s;
}

/* Only for the parser's own failures; syntax errors go through
 * yyreport_syntax_error. */
static void yyerror(YYLTYPE *loc, void *scanner, ParseCtx *ctx, const char *msg)
{
    (void)scanner;
    if (strcmp(msg, "memory exhausted") == 0)
        msg = "statements are nested too deeply";
    error_at(to_loc(ctx, loc), "%s", msg);
}

/* How a token is named in messages: its text when it has one that helps. */
static void describe_token(StrBuf *sb, yysymbol_kind_t kind, void *scanner, const LexState *ls)
{
    if (kind == YYSYMBOL_NEWLINE && ls->at_eof)
        kind = YYSYMBOL_YYEOF;   /* the newline that ends the last line */
    switch (kind) {
    case YYSYMBOL_WORD: case YYSYMBOL_INT: case YYSYMBOL_FLOAT: case YYSYMBOL_DIMS:
    case YYSYMBOL_PARAM: case YYSYMBOL_STRING: case YYSYMBOL_DEFNAME: case YYSYMBOL_CALLNAME:
        sb_printf(sb, "'%.40s%s'", yyget_text(scanner),
                  yyget_leng(scanner) > 40 ? "..." : "");
        break;
    default:
        sb_puts(sb, yysymbol_name(kind));
    }
}

/* The unclosed bracket that explains an error at the end of the input. */
static bool report_unclosed(const LexState *ls, yysymbol_kind_t got)
{
    if (got != YYSYMBOL_YYEOF && !(got == YYSYMBOL_NEWLINE && ls->at_eof))
        return false;
    if (ls->paren > 0) {
        error_at(ls->paren_open, "this '(' is not closed: a ')' is missing");
        return true;
    }
    if (ls->braces > 0) {
        int i = ls->braces <= LEX_MAX_BRACES ? ls->braces - 1 : LEX_MAX_BRACES - 1;
        error_at(ls->brace_open[i], "this '{' is not closed: a '}' is missing before the end of the file");
        return true;
    }
    return false;
}

/* "syntax error: unexpected X, expecting A or B" in the language's words,
 * with the common mistakes said plainly. */
static int yyreport_syntax_error(const yypcontext_t *yyctx, void *scanner, ParseCtx *ctx)
{
    enum { MAX_LISTED = 4 };
    const LexState *ls = ctx->lex;
    yysymbol_kind_t got = yypcontext_token(yyctx);
    ctx->errors++;
    if (got == YYSYMBOL_BAD)        /* the lexer has said what is wrong */
        return 0;
    if (report_unclosed(ls, got))
        return 0;
    SrcLoc loc = to_loc(ctx, yypcontext_location(yyctx));
    yysymbol_kind_t expected[YYNTOKENS];
    int n = yypcontext_expected_tokens(yyctx, expected, YYNTOKENS);
    if (n < 0)
        return n;
    bool want_brace = false, want_word = false, want_call = false;
    for (int i = 0; i < n; i++) {
        want_brace |= expected[i] == YYTRANSLATE('{');
        want_word |= expected[i] == YYSYMBOL_WORD;
        want_call |= expected[i] == YYSYMBOL_CALLNAME;
    }
    if (want_call && n == 1) {
        error_at(loc, "'block' needs a name and its parameters here, e.g. block basic(c, s) { ... }");
        return 0;
    }
    if (got == YYTRANSLATE('}') && ls->stray_close) {
        error_at(loc, "this '}' has no '{' to close");
        return 0;
    }
    StrBuf sb;
    sb_init(&sb);
    sb_puts(&sb, "syntax error: unexpected ");
    describe_token(&sb, got, scanner, ls);
    if (want_brace && (got == YYSYMBOL_NEWLINE || got == YYTRANSLATE(';'))) {
        sb_puts(&sb, ", expecting '{' (a body starts on the line of its 'block' or 'repeat')");
    } else if (want_word && want_call && n == 2) {
        sb_puts(&sb, ", expecting a layer or a block call after '='");
    } else {
        for (int i = 0; i < n && n <= MAX_LISTED; i++) {
            sb_puts(&sb, i == 0 ? ", expecting " : i == n - 1 ? " or " : ", ");
            sb_puts(&sb, yysymbol_name(expected[i]));
        }
    }
    error_at(loc, "%s", sb.data);
    sb_free(&sb);
    /* Newlines inside ( ) do not end the statement, so a missing ')'
     * shows up lines later. */
    if (ls->paren > 0 && ls->paren_open.line != loc.line)
        note_at(ls->paren_open, "the '(' here is not closed");
    return 0;
}

/* flex marks the end of its buffer with NUL bytes, and each NUL inside a
 * token makes it rescan the token from its start: a long comment full of
 * NULs took minutes.  A .net file is text, so a NUL is an error, given
 * once at the first, and the lexer reads a blank in its place (gcc ignores
 * them too).  Returns the text to lex, with flex's two closing NULs. */
static char *blank_nuls(const char *file, const char *text, size_t len)
{
    char *buf = xmalloc(len + 2);
    memcpy(buf, text, len);
    buf[len] = buf[len + 1] = '\0';
    const char *first = memchr(text, '\0', len);
    if (!first)
        return buf;
    SrcLoc loc = {file, 1, 1};
    for (const char *p = text; p < first; p++) {
        loc.col = *p == '\n' ? 1 : loc.col + 1;
        loc.line += *p == '\n';
    }
    size_t count = 0;
    for (size_t i = (size_t)(first - text); i < len; i++)
        if (buf[i] == '\0') {
            buf[i] = ' ';
            count++;
        }
    error_at(loc, "unexpected byte 0x00 (%zu in the file): a .net file is text", count);
    return buf;
}

Stmt *parse_text(Arena *arena, const char *file, const char *text, size_t len)
{
    LexState ls;
    memset(&ls, 0, sizeof ls);
    ls.arena = arena;
    ls.file = file;
    ls.line = ls.col = 1;
    size_t bom = utf8_bom_length(text, len);
    ls.src = text + bom;   /* not buf: flex writes into the token's end */
    ls.len = len - bom;
    char *buf = blank_nuls(file, ls.src, ls.len);
    ParseCtx ctx = {arena, file, NULL, NULL, 0, &ls};
    yyscan_t scanner;
    if (yylex_init_extra(&ls, &scanner) != 0) {
        free(buf);
        return NULL;
    }
    YY_BUFFER_STATE yybuf = yy_scan_buffer(buf, ls.len + 2, scanner);
    yyparse(scanner, &ctx);
    yy_delete_buffer(yybuf, scanner);
    yylex_destroy(scanner);
    free(buf);
    return ctx.result;
}

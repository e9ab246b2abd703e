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
%define parse.error detailed
%define lr.type canonical-lr
%define lr.default-reduction accepting
%locations
%param {void *scanner}
%parse-param {ParseCtx *ctx}

%code requires {
#include "ast.h"
typedef struct ParseCtx ParseCtx;
typedef struct { Word *head, *tail; } WordList;
typedef struct { Stmt *head, *tail; } StmtList;
}

%code provides {
struct ParseCtx {
    Arena *arena;
    const char *file;
    Stmt *result;
    struct LexState *lex;
};
}

%union {
    Word *word;
    Stmt *stmt;
    WordList words;
    StmtList stmts;
}

%code {
#include <string.h>

#include "lexstate.h"
#include "lexer.h"

static void yyerror(YYLTYPE *loc, void *scanner, ParseCtx *ctx, const char *msg);
static Stmt *new_stmt(ParseCtx *ctx, StmtKind kind, const YYLTYPE *loc);
static SrcLoc to_loc(ParseCtx *ctx, const YYLTYPE *loc);
static WordList words_add(WordList l, Word *w);
static StmtList stmts_add(StmtList l, Stmt *s);
static Word *comma_word(ParseCtx *ctx, const YYLTYPE *loc);
}

%token NEWLINE "end of line"
%token <word> WORD "name" INT "integer" FLOAT "number" DIMS "size" PARAM "parameter"
%token <word> STRING "string" DEFNAME "name =" CALLNAME "block call"
%token <word> NETWORK "'network'" INPUT "'input'" FIT "'fit'" BLOCK "'block'"
%token <word> REPEAT "'repeat'" INCLUDE "'include'"
%token BAD "invalid token"

%type <stmts> stmt_list body
%type <stmt> opt_stmt stmt layer call
%type <words> words opt_args args opt_params params
%type <word> word value keyword

%%

program
    : stmt_list                  { ctx->result = $1.head; }
    ;

stmt_list
    : opt_stmt                   { StmtList l = {0, 0}; $$ = stmts_add(l, $1); }
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
    | FIT words                  { $$ = new_stmt(ctx, S_FIT, &@1); $$->words = $2.head; }
    | INCLUDE words              { $$ = new_stmt(ctx, S_INCLUDE, &@1); $$->words = $2.head; }
    | REPEAT words body          { $$ = new_stmt(ctx, S_REPEAT, &@1); $$->words = $2.head; $$->body = $3.head; }
    | BLOCK CALLNAME '(' opt_params ')' body
                                 {
                                     $$ = new_stmt(ctx, S_BLOCK, &@1);
                                     $$->head = $2->s;
                                     $$->head_loc = $2->loc;
                                     $$->params = $4.head;
                                     $$->body = $6.head;
                                 }
    | layer
    | call
    | DEFNAME '=' layer          { $$ = $3; $$->def = $1->s; $$->def_loc = $1->loc; $$->loc = $1->loc; }
    | DEFNAME '=' call           { $$ = $3; $$->def = $1->s; $$->def_loc = $1->loc; $$->loc = $1->loc; }
    ;

body
    : '{' stmt_list '}'          { $$ = $2; }
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
    : NETWORK | INPUT | FIT | BLOCK | REPEAT | INCLUDE
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

static void yyerror(YYLTYPE *loc, void *scanner, ParseCtx *ctx, const char *msg)
{
    (void)scanner;
    if (ctx->lex->suppress_next_syntax_error) {
        ctx->lex->suppress_next_syntax_error = 0;
        return;
    }
    error_at(to_loc(ctx, loc), "%s", msg);
}

Stmt *parse_text(Arena *arena, const char *file, const char *text, size_t len)
{
    LexState ls;
    memset(&ls, 0, sizeof ls);
    ls.arena = arena;
    ls.file = file;
    ls.line = ls.col = 1;
    ParseCtx ctx = {arena, file, NULL, &ls};
    yyscan_t scanner;
    if (yylex_init_extra(&ls, &scanner) != 0)
        return NULL;
    YY_BUFFER_STATE buf = yy_scan_bytes(text, (int)len, scanner);
    yyparse(scanner, &ctx);
    yy_delete_buffer(buf, scanner);
    yylex_destroy(scanner);
    return ctx.result;
}

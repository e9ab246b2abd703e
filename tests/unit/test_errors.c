/* test_errors.c - the malformed-input corpus.
 *
 * Every tests/errors/NNN-name.net is a small broken network whose first
 * line pins the first diagnostic cnnc must print:
 *
 *     # expect: LINE:COL: FRAGMENT
 *
 * Further "# expect:" lines anywhere in the file name errors that must also
 * appear (all errors of a file are reported).  Every error line must have
 * the gcc form FILE:LINE:COL: error: MESSAGE followed by the quoted source
 * line and a caret line.  tests/errors/inc/ holds files that the cases
 * include; they are not cases themselves.  An input that the fuzzer (make
 * fuzz) finds a crash with becomes a case here, with the error it must give.
 *
 * The tests run from the top of the repository (make unit-check). */
#define _POSIX_C_SOURCE 200809L
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "frontend.h"
#include "suites.h"
#include "util.h"

#define ERRORS_DIR "tests/errors"

/* The corpus is meant to cover every kind of mistake; shrinking it by
 * accident (a bad glob, a moved directory) must not go unnoticed. */
enum { MIN_CASES = 60 };

typedef struct {
    int line, col;
    char *fragment;
} Expect;

typedef struct {
    Expect *items;
    int n;
} Expects;

/* ---- listing the corpus ---- */

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.net files of dir, sorted, as "dir/name"; NULL-terminated.  A
 * missing directory gives an empty list. */
static char **list_nets(const char *dir, int *count)
{
    char **names = NULL;
    int n = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".net") != 0)
            continue;
        names = xrealloc(names, (size_t)(n + 2) * sizeof *names);
        names[n++] = xasprintf("%s/%s", dir, e->d_name);
    }
    if (d)
        closedir(d);
    if (names) {
        names[n] = NULL;
        qsort(names, (size_t)n, sizeof *names, compare_names);
    }
    *count = n;
    return names;
}

static void free_list(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* ---- expectations ---- */

static const char EXPECT[] = "# expect: ";

/* Parses "LINE:COL: FRAGMENT" (after the prefix); false if malformed. */
static bool parse_expect(const char *s, Expect *e)
{
    int used = 0;
    if (sscanf(s, "%d:%d: %n", &e->line, &e->col, &used) != 2 || used == 0 || !s[used])
        return false;
    e->fragment = xstrdup(s + used);
    return true;
}

/* All "# expect:" lines of text, in order.  *first_ok says whether the
 * first line of the file is one. */
static bool read_expects(const char *text, Expects *out, bool *first_ok)
{
    out->items = NULL;
    out->n = 0;
    *first_ok = strncmp(text, EXPECT, sizeof EXPECT - 1) == 0;
    for (const char *p = text; *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (strncmp(p, EXPECT, sizeof EXPECT - 1) == 0) {
            char *line = xstrndup(p, len);
            out->items = xrealloc(out->items, (size_t)(out->n + 1) * sizeof *out->items);
            bool ok = parse_expect(line + sizeof EXPECT - 1, &out->items[out->n]);
            free(line);
            if (!ok)
                return false;
            out->n++;
        }
        p += len + (eol != NULL);
    }
    return true;
}

static void free_expects(Expects *e)
{
    for (int i = 0; i < e->n; i++)
        free(e->items[i].fragment);
    free(e->items);
}

/* ---- reading what cnnc printed ---- */

typedef struct {
    int line, col;
    const char *message;   /* points into the printed text */
} Printed;

/* "FILE:LINE:COL: error: MESSAGE" -> line, col, message.  FILE may contain
 * ':' only before the last three fields, so the line is parsed from the
 * marker backwards. */
static bool parse_error_line(const char *s, Printed *out)
{
    const char *mark = strstr(s, ": error: ");
    if (!mark || mark == s)
        return false;
    const char *p = mark;   /* at ": error: "; LINE:COL ends just before */
    int fields[2], got = 0;
    while (got < 2) {
        const char *digits_end = p;
        while (p > s && p[-1] >= '0' && p[-1] <= '9')
            p--;
        if (p == digits_end || p == s || p[-1] != ':')
            return false;
        fields[1 - got] = atoi(p);
        got++;
        p--;   /* the ':' before the number */
    }
    if (p == s)
        return false;   /* no FILE before LINE:COL */
    out->line = fields[0];
    out->col = fields[1];
    out->message = mark + strlen(": error: ");
    return true;
}

/* A caret line: a space, then spaces or tabs (or the "   " after a cut
 * line's "..."), then '^' and the end of the line. */
static bool is_caret_line(const char *s, size_t len)
{
    if (len < 2 || s[0] != ' ' || s[len - 1] != '^')
        return false;
    for (size_t i = 1; i < len - 1; i++)
        if (s[i] != ' ' && s[i] != '\t')
            return false;
    return true;
}

typedef struct {
    char **lines;
    size_t *lens;
    int n;
} Lines;

static void split_lines(char *text, Lines *out)
{
    out->lines = NULL;
    out->lens = NULL;
    out->n = 0;
    for (char *p = text; *p;) {
        char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        out->lines = xrealloc(out->lines, (size_t)(out->n + 1) * sizeof *out->lines);
        out->lens = xrealloc(out->lens, (size_t)(out->n + 1) * sizeof *out->lens);
        if (eol)
            *eol = '\0';
        out->lines[out->n] = p;
        out->lens[out->n] = len;
        out->n++;
        p += len + (eol != NULL);
    }
}

static void free_lines(Lines *l)
{
    free(l->lines);
    free(l->lens);
}

/* Checks the form of every error line; collects them.  Returns a problem
 * description, or NULL. */
static const char *check_form(const Lines *l, Printed *errors, int *nerrors)
{
    *nerrors = 0;
    for (int i = 0; i < l->n; i++) {
        const char *s = l->lines[i];
        if (s[0] == ' ' || !strstr(s, ": error: "))
            continue;   /* quoted source lines start with a space */
        if (strncmp(s, "cnnc: error: ", 13) == 0)
            return "an error without FILE:LINE:COL";
        if (!parse_error_line(s, &errors[*nerrors]))
            return "an error line not of the form FILE:LINE:COL: error: MESSAGE";
        (*nerrors)++;
        if (i + 2 >= l->n || l->lines[i + 1][0] != ' ')
            return "an error without its quoted source line";
        if (!is_caret_line(l->lines[i + 2], l->lens[i + 2]))
            return "an error without a caret line under its source line";
    }
    return NULL;
}

static bool matches(const Printed *p, const Expect *e)
{
    return p->line == e->line && p->col == e->col && strstr(p->message, e->fragment);
}

/* ---- one file ---- */

/* Compiles path with diagnostics captured; returns what was printed (the
 * caller frees it) and whether compilation failed. */
static char *compile_captured(const char *path, bool *failed)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    *failed = true;   /* no capture: the case fails on the message below */
    if (!f)
        return xstrdup("(open_memstream failed)");
    diag_reset();
    diag_set_stream(f);
    Net *net = compile_file(path);
    *failed = net == NULL;
    net_free(net);
    diag_set_stream(NULL);
    diag_reset();
    fclose(f);
    return buf;
}

static void report_failure(const char *path, const char *why, const char *printed)
{
    fprintf(stderr, "\n%s: %s\n--- cnnc printed:\n%s---\n", path, why, printed);
    CU_FAIL(why);
}

/* The problem with one corpus case, or NULL. */
static const char *check_case(const Expects *ex, char *printed)
{
    Lines l;
    split_lines(printed, &l);
    Printed *errors = xcalloc((size_t)l.n + 1, sizeof *errors);
    int n;
    const char *why = check_form(&l, errors, &n);
    if (!why && n == 0)
        why = "no error was printed";
    if (!why && !matches(&errors[0], &ex->items[0]))
        why = "the first error is not the expected one";
    for (int i = 1; !why && i < ex->n; i++) {
        bool found = false;
        for (int j = 0; j < n && !found; j++)
            found = matches(&errors[j], &ex->items[i]);
        if (!found)
            why = "an expected further error is missing";
    }
    free(errors);
    free_lines(&l);
    return why;
}

static void run_case(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text) {
        report_failure(path, "cannot read the case", "");
        return;
    }
    Expects ex;
    bool first_ok;
    bool parsed = read_expects(text, &ex, &first_ok);
    free(text);
    if (!parsed || !first_ok || ex.n == 0) {
        report_failure(path, "the first line must be '# expect: LINE:COL: FRAGMENT'", "");
        free_expects(&ex);
        return;
    }
    bool failed;
    char *printed = compile_captured(path, &failed);
    char *copy = xstrdup(printed);   /* check_case cuts it into lines */
    const char *why = failed ? check_case(&ex, copy) : "compile_file succeeded";
    if (why) {
        report_failure(path, why, printed);
        fprintf(stderr, "expected first: %d:%d: %s\n", ex.items[0].line, ex.items[0].col,
                ex.items[0].fragment);
    } else {
        CU_PASS("case ok");
    }
    free(copy);
    free(printed);
    free_expects(&ex);
}

/* ---- the suite ---- */

static void test_corpus(void)
{
    int n;
    char **cases = list_nets(ERRORS_DIR, &n);
    if (n < MIN_CASES) {
        fprintf(stderr, "\n%s has %d cases, fewer than %d (run from the top of the repository)\n",
                ERRORS_DIR, n, MIN_CASES);
        CU_FAIL("too few corpus cases");
    }
    for (int i = 0; i < n; i++)
        run_case(cases[i]);
    free_list(cases, n);
}

void suite_errors(void)
{
    CU_pSuite s = CU_add_suite("errors", NULL, NULL);
    CU_add_test(s, "malformed-input corpus", test_corpus);
}

/* diag.c - see diag.h.  Sources are kept so that a diagnostic can quote the
 * line it points at, as gcc does. */
#include "diag.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct Source {
    char *name;
    char *text;
    size_t len;
    size_t *lines;      /* offsets of line starts, built on the first quote */
    size_t nlines;
    int printed;        /* errors and warnings shown at this file */
    struct Source *next;
} Source;

/* A binary file gives an error per byte; past this many in one file the
 * rest are counted but not printed, so that the output stays readable. */
enum { MAX_PRINTED = 1000 };

/* Quoted lines longer than this are shown as a window around the caret. */
enum { QUOTE_WIDTH = 160 };

static Source *sources;
static FILE *stream;
static int werror, nowarn, nerrors, nwarnings;

/* While on (see diag_dedupe), hashes of the diagnostics printed so far: a
 * block called twice must not say the same thing at the same place twice. */
static bool dedupe;
static uint64_t *seen;
static size_t seen_cap, seen_count;

const char *diag_add_source(const char *name, const char *text, size_t len)
{
    size_t bom = utf8_bom_length(text, len);
    text += bom;
    len -= bom;
    Source *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(name);
    s->text = xstrndup(text, len);
    s->len = len;
    s->next = sources;
    sources = s;
    return s->name;
}

void diag_set_stream(FILE *f) { stream = f; }

void diag_dedupe(bool on)
{
    free(seen);
    seen = NULL;
    seen_cap = seen_count = 0;
    dedupe = on;
}
void diag_set_werror(int on) { werror = on; }
void diag_set_nowarn(int on) { nowarn = on; }
int diag_errors(void) { return nerrors; }
int diag_warnings(void) { return nwarnings; }

void diag_reset(void)
{
    while (sources) {
        Source *next = sources->next;
        free(sources->name);
        free(sources->text);
        free(sources->lines);
        free(sources);
        sources = next;
    }
    diag_dedupe(false);
    nerrors = nwarnings = 0;
    werror = nowarn = 0;
}

static FILE *diag_stream(void) { return stream ? stream : stderr; }

/* Looks the file up by its interned pointer: names are unique per source. */
static Source *find_source(const char *file)
{
    for (Source *s = sources; s; s = s->next)
        if (s->name == file)
            return s;
    return NULL;
}

static void index_lines(Source *s)
{
    size_t n = 1;
    for (size_t i = 0; i < s->len; i++)
        n += s->text[i] == '\n';
    s->lines = xmalloc(n * sizeof *s->lines);
    s->lines[0] = 0;
    s->nlines = 1;
    for (size_t i = 0; i < s->len; i++)
        if (s->text[i] == '\n')
            s->lines[s->nlines++] = i + 1;
}

/* Prints the quoted source line and a caret under column loc.col; tabs are
 * kept so that the caret lines up in a terminal.  A long line is cut to a
 * window around the caret, marked with "...". */
static void quote_line(SrcLoc loc)
{
    Source *s = find_source(loc.file);
    if (!s || loc.line < 1)
        return;
    if (!s->lines)
        index_lines(s);
    if ((size_t)loc.line > s->nlines)
        return;
    const char *p = s->text + s->lines[loc.line - 1], *end = s->text + s->len;
    const char *eol = p;
    while (eol < end && *eol != '\n' && *eol != '\r')
        eol++;
    const char *caret = p + (loc.col > 1 ? loc.col - 1 : 0);
    if (caret > eol)
        caret = eol;
    const char *from = p, *to = eol;
    if (caret - from > QUOTE_WIDTH / 2)
        from = caret - QUOTE_WIDTH / 2;
    if (to - caret > QUOTE_WIDTH / 2)
        to = caret + QUOTE_WIDTH / 2;
    FILE *f = diag_stream();
    fputs(from > p ? " ..." : " ", f);
    for (const char *q = from; q < to; q++)
        fputc((unsigned char)*q >= 32 || *q == '\t' ? *q : '?', f);
    fputs(to < eol ? "...\n " : "\n ", f);
    if (from > p)
        fputs("   ", f);
    for (const char *q = from; q < caret; q++)
        fputc(*q == '\t' ? '\t' : ' ', f);
    fputs("^\n", f);
}

static uint64_t hash_diag(SrcLoc loc, const char *kind, const char *msg)
{
    uint64_t h = 1469598103934665603ull;  /* FNV-1a */
    char head[64];
    snprintf(head, sizeof head, "%p:%d:%d:", (const void *)loc.file, loc.line, loc.col);
    for (const char *parts[] = {head, kind, msg}, **q = parts; q < parts + 3; q++)
        for (const char *c = *q; *c; c++)
            h = (h ^ (unsigned char)*c) * 1099511628211ull;
    return h ? h : 1;   /* 0 marks an empty slot */
}

/* True the first time a diagnostic is seen. */
static bool first_time(uint64_t h)
{
    if (2 * (seen_count + 1) > seen_cap) {
        size_t cap = seen_cap ? 2 * seen_cap : 64;
        uint64_t *slots = xcalloc(cap, sizeof *slots);
        for (size_t i = 0; i < seen_cap; i++)
            for (size_t j = seen[i] & (cap - 1); seen[i]; j = (j + 1) & (cap - 1))
                if (!slots[j]) {
                    slots[j] = seen[i];
                    break;
                }
        free(seen);
        seen = slots;
        seen_cap = cap;
    }
    size_t j = h & (seen_cap - 1);
    for (; seen[j]; j = (j + 1) & (seen_cap - 1))
        if (seen[j] == h)
            return false;
    seen[j] = h;
    seen_count++;
    return true;
}

static char *format(const char *fmt, va_list ap)
{
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *msg = xmalloc((size_t)(n > 0 ? n : 0) + 1);
    vsnprintf(msg, (size_t)(n > 0 ? n : 0) + 1, fmt, ap);
    return msg;
}

/* False once a file has had MAX_PRINTED diagnostics; says so once. */
static bool within_limit(SrcLoc loc)
{
    Source *src = loc.file ? find_source(loc.file) : NULL;
    if (!src)
        return true;
    if (src->printed > MAX_PRINTED)
        return false;
    if (++src->printed <= MAX_PRINTED)
        return true;
    fprintf(diag_stream(), "%s: note: more than %d diagnostics; the rest are not shown\n",
            loc.file, MAX_PRINTED);
    return false;
}

/* Prints one diagnostic unless it was printed before.  A note belongs to
 * the diagnostic before it and shares its fate. */
static void report(SrcLoc loc, const char *kind, const char *fmt, va_list ap, int quote)
{
    static bool last_shown;
    char *msg = format(fmt, ap);
    if (strcmp(kind, "note") != 0)
        last_shown = (!dedupe || first_time(hash_diag(loc, kind, msg))) && within_limit(loc);
    if (last_shown) {
        FILE *f = diag_stream();
        if (loc.file)
            fprintf(f, "%s:%d:%d: %s: %s\n", loc.file, loc.line, loc.col, kind, msg);
        else
            fprintf(f, "cnnc: %s: %s\n", kind, msg);
        if (quote && loc.file)
            quote_line(loc);
    }
    free(msg);
}

void error_at(SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    verror_at(loc, fmt, ap);
    va_end(ap);
}

void verror_at(SrcLoc loc, const char *fmt, va_list ap)
{
    report(loc, "error", fmt, ap, 1);
    nerrors++;   /* a repeated error still counts: callers test for any */
}

void warning_at(SrcLoc loc, const char *fmt, ...)
{
    if (nowarn)
        return;
    va_list ap;
    va_start(ap, fmt);
    report(loc, werror ? "error" : "warning", fmt, ap, 1);
    va_end(ap);
    if (werror)
        nerrors++;
    else
        nwarnings++;
}

void note_at(SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(loc, "note", fmt, ap, 0);
    va_end(ap);
}

void error_plain(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    SrcLoc none = {0};
    report(none, "error", fmt, ap, 0);
    va_end(ap);
    nerrors++;
}

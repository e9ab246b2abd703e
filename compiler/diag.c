/* diag.c - see diag.h.  Sources are kept so that a diagnostic can quote the
 * line it points at, as gcc does. */
#include "diag.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct Source {
    char *name;
    char *text;
    size_t len;
    struct Source *next;
} Source;

static Source *sources;
static FILE *stream;
static int werror, nowarn, nerrors, nwarnings;

const char *diag_add_source(const char *name, const char *text, size_t len)
{
    Source *s = xcalloc(1, sizeof *s);
    s->name = xstrdup(name);
    s->text = xstrndup(text, len);
    s->len = len;
    s->next = sources;
    sources = s;
    return s->name;
}

void diag_set_stream(FILE *f) { stream = f; }
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
        free(sources);
        sources = next;
    }
    nerrors = nwarnings = 0;
    werror = nowarn = 0;
}

static FILE *out(void) { return stream ? stream : stderr; }

/* Looks the file up by its interned pointer: names are unique per source. */
static const Source *find_source(const char *file)
{
    for (const Source *s = sources; s; s = s->next)
        if (s->name == file)
            return s;
    return NULL;
}

/* Prints the quoted source line and a caret under column loc.col; tabs are
 * kept so that the caret lines up in a terminal. */
static void quote_line(SrcLoc loc)
{
    const Source *s = find_source(loc.file);
    if (!s || loc.line < 1)
        return;
    const char *p = s->text, *end = s->text + s->len;
    for (int line = 1; line < loc.line && p < end; p++)
        if (*p == '\n')
            line++;
    if (p >= end && loc.line > 1)
        return;
    const char *eol = p;
    while (eol < end && *eol != '\n' && *eol != '\r')
        eol++;
    FILE *f = out();
    fputc(' ', f);
    for (const char *q = p; q < eol; q++)
        fputc((unsigned char)*q >= 32 || *q == '\t' ? *q : '?', f);
    fputs("\n ", f);
    for (int i = 1; i < loc.col && p + i - 1 < eol; i++)
        fputc(p[i - 1] == '\t' ? '\t' : ' ', f);
    fputs("^\n", f);
}

static void report(SrcLoc loc, const char *kind, const char *fmt, va_list ap, int quote)
{
    FILE *f = out();
    if (loc.file)
        fprintf(f, "%s:%d:%d: %s: ", loc.file, loc.line, loc.col, kind);
    else
        fprintf(f, "cnnc: %s: ", kind);
    vfprintf(f, fmt, ap);
    fputc('\n', f);
    if (quote && loc.file)
        quote_line(loc);
}

void error_at(SrcLoc loc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(loc, "error", fmt, ap, 1);
    va_end(ap);
    nerrors++;
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

/* diag.h - gcc-style diagnostics: FILE:LINE:COL: error: MESSAGE, then the
 * source line and a caret.  Every error of a run is reported; callers keep
 * going and ask diag_errors() at the end. */
#ifndef CNNC_DIAG_H
#define CNNC_DIAG_H

#include <stdarg.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef struct {
    const char *file;   /* interned by diag_add_source; NULL: no location */
    int line, col;      /* 1-based */
} SrcLoc;

/* Registers a file's text so that diagnostics can quote its lines.  Returns
 * the interned file name to put into SrcLocs.  The text is copied. */
const char *diag_add_source(const char *name, const char *text, size_t len);

/* 3 if text starts with a UTF-8 byte order mark, else 0.  Like gcc, cnnc
 * reads a file as if the mark were not there (lexer and quoted lines). */
static inline size_t utf8_bom_length(const char *text, size_t len)
{
    return len >= 3 && (unsigned char)text[0] == 0xEF && (unsigned char)text[1] == 0xBB &&
           (unsigned char)text[2] == 0xBF ? 3 : 0;
}

void diag_set_stream(FILE *f);       /* default stderr; tests capture it */
/* While on, a diagnostic identical to one printed before (same place, same
 * text) is counted but not printed again: the expander turns it on, since a
 * block called N times would otherwise repeat its mistakes N times.  Each
 * call starts afresh. */
void diag_dedupe(bool on);
void diag_set_werror(int on);        /* -Werror: warnings count as errors */
void diag_set_nowarn(int on);        /* -w: warnings are not printed */

#if defined(__GNUC__)
#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define DIAG_PRINTF(a, b)
#endif

void error_at(SrcLoc loc, const char *fmt, ...) DIAG_PRINTF(2, 3);
void verror_at(SrcLoc loc, const char *fmt, va_list ap) DIAG_PRINTF(2, 0);
void warning_at(SrcLoc loc, const char *fmt, ...) DIAG_PRINTF(2, 3);
/* A follow-up line without a caret: "FILE:LINE:COL: note: ..." */
void note_at(SrcLoc loc, const char *fmt, ...) DIAG_PRINTF(2, 3);
/* An error with no file location: "cnnc: error: ..." */
void error_plain(const char *fmt, ...) DIAG_PRINTF(1, 2);

int diag_errors(void);               /* errors so far (warnings with -Werror) */
int diag_warnings(void);
void diag_reset(void);               /* forget counts and sources (tests) */

#endif

/* fuzz_frontend.c - libFuzzer target for the front end (make fuzz).
 *
 * Each input is compiled as a .net file: lexer, parser, expander and
 * checker must survive any bytes, and a network that checks must give a
 * report in all three formats.  Diagnostics go to /dev/null; ASan and
 * UBSan turn every memory error, leak or undefined operation into a crash.
 *
 * Includes are resolved relative to the input's name, which lies in a
 * temporary directory: `include "x.net"` just fails, as it should, instead
 * of reading whatever the current directory holds, while the few files
 * written there (see helpers) let includes succeed, nest and loop.
 *
 * Byte-level mutations rarely build a token longer than a few hundred
 * bytes, yet the lexer once overflowed on tokens, comments and blank runs
 * of 16 KiB (issue 9).  So one mutation in 64 repeats a byte of the
 * input 16 to 32 KiB times in place: the inputs stay plain .net text,
 * and long tokens of every kind get tried (make fuzz runs with
 * -len_control=0 so that the length limit allows them from the start). */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "diag.h"
#include "frontend.h"
#include "report.h"
#include "util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

static FILE *sink;
static char dir[] = "/tmp/cnnc-fuzz-XXXXXX";
static char *name;

/* Files an input may include; net.dict has their include statements. */
static const struct {
    const char *name, *text;
} helpers[] = {
    {"a.net", "block blk(c) { conv 3x3x$c pad 1 relu }\nblock two(c, s) {\n"
              "    x = blk($c)\n    conv 1x1x$c stride $s from x\n}\n"},
    {"b.net", "include \"a.net\"\nrelu\nblk(4)\n"},
    {"loop.net", "include \"loop.net\"\n"},
    {"bad.net", "conv 3x3x @\nblock q(a) { fc $b\n"},
};
enum { NHELPERS = sizeof helpers / sizeof helpers[0] };

static char *helper_path(int i)
{
    return xasprintf("%s/%s", dir, helpers[i].name);
}

static void remove_dir(void)
{
    for (int i = 0; i < NHELPERS; i++) {
        char *path = helper_path(i);
        unlink(path);
        free(path);
    }
    rmdir(dir);
}

static void write_helpers(void)
{
    for (int i = 0; i < NHELPERS; i++) {
        char *path = helper_path(i);
        FILE *f = fopen(path, "w");
        if (!f || fputs(helpers[i].text, f) == EOF || fclose(f) != 0) {
            perror(path);
            exit(1);
        }
        free(path);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sink = fopen("/dev/null", "w");
    if (!sink || !mkdtemp(dir)) {
        perror("fuzz_frontend: setup");
        exit(1);
    }
    atexit(remove_dir);
    write_helpers();
    name = xasprintf("%s/fuzz.net", dir);
    return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed)
{
    if (seed % 64 != 0 || size >= max_size)
        return LLVMFuzzerMutate(data, size, max_size);
    size_t at = (seed >> 6) % (size + 1);
    uint8_t byte = size ? data[(seed >> 8) % size] : ' ';
    size_t run = 16384 + (size_t)(seed >> 10) % 16384;
    if (run > max_size - size)
        run = max_size - size;
    memmove(data + at + run, data + at, size - at);
    memset(data + at, byte, run);
    return size + run;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    diag_set_stream(sink);
    Net *net = compile_text(name, (const char *)data, size);
    if (net) {
        StrBuf out;
        sb_init(&out);
        report_table(net, false, 1, &out);   /* each kernel choice once */
        report_json(net, true, 1, &out);
        report_dot(net, &out);
        sb_free(&out);
        net_free(net);
    }
    diag_reset();
    return 0;
}

/* frontend.c - the stages from text to checked graph, in order. */
#include "frontend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ast.h"
#include "check.h"
#include "expand.h"
#include "util.h"

/* The default network name is the file's base name, made a C identifier. */
static char *default_name(const char *path)
{
    char *name = strcmp(path, "-") == 0 ? xstrdup("net") : path_basename_noext(path);
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
            *p = '_';
    if (!*name || (*name >= '0' && *name <= '9')) {
        char *fixed = xasprintf("net_%s", name);
        free(name);
        name = fixed;
    }
    return name;
}

Net *expand_text(const char *name, const char *text, size_t len)
{
    const char *display = strcmp(name, "-") == 0 ? "<stdin>" : name;
    Net *net = net_new();
    net->name = default_name(name);
    net_add_file(net, display);
    if (len > CNNC_MAX_SOURCE) {
        error_plain("'%s' is larger than %u bytes", display, CNNC_MAX_SOURCE);
        return net;
    }
    const char *file = diag_add_source(display, text, len);
    Arena *arena = arena_new();
    const Stmt *program = parse_text(arena, file, text, len);
    expand_program(net, arena, program, file);
    arena_free(arena);
    return net;
}

Net *compile_text(const char *name, const char *text, size_t len)
{
    int before = diag_errors();
    Net *net = expand_text(name, text, len);
    check_net(net);
    if (diag_errors() > before) {
        net_free(net);
        return NULL;
    }
    return net;
}

Net *compile_file(const char *path)
{
    size_t len;
    char *text = read_file_max(path, CNNC_MAX_SOURCE, &len);
    if (!text) {
        error_plain("cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    Net *net = compile_text(path, text, len);
    free(text);
    return net;
}

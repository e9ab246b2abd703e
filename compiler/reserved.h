/* reserved.h - names that cannot be the C prefix of the generated code. */
#ifndef CNNC_RESERVED_H
#define CNNC_RESERVED_H

#include <stddef.h>

/* Why the C identifier name cannot prefix the generated code (it becomes
 * the model's type name, NAME_new, NAME_forward, ...), e.g. "is a C
 * keyword"; NULL if it can. */
const char *prefix_problem(const char *name);

/* A prefix close to name that can be used instead, into buf. */
void prefix_suggestion(const char *name, char *buf, size_t size);

#endif

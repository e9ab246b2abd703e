/* names.h - a hash map from full layer names to node ids, so that name
 * lookups stay fast in a network of many thousand layers. */
#ifndef CNNC_NAMES_H
#define CNNC_NAMES_H

#include "diag.h"

typedef struct {
    char *key;
    int id;
    SrcLoc loc;   /* where the name was defined */
} NameEntry;

typedef struct {
    NameEntry *slots;
    size_t cap, count;
} NameMap;

void names_init(NameMap *m);
void names_free(NameMap *m);
/* The entry for key, or NULL. */
const NameEntry *names_get(const NameMap *m, const char *key);
/* Adds key (copied); the caller has checked that it is new. */
void names_put(NameMap *m, const char *key, int id, SrcLoc loc);

#endif

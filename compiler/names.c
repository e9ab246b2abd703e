/* names.c - open addressing with linear probing; the table stays at most
 * half full. */
#include "names.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static uint64_t hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;  /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

void names_init(NameMap *m)
{
    m->cap = 64;
    m->count = 0;
    m->slots = xcalloc(m->cap, sizeof *m->slots);
}

void names_free(NameMap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    m->slots = NULL;
    m->cap = m->count = 0;
}

static NameEntry *slot_for(NameEntry *slots, size_t cap, const char *key)
{
    size_t i = hash(key) & (cap - 1);
    while (slots[i].key && strcmp(slots[i].key, key) != 0)
        i = (i + 1) & (cap - 1);
    return &slots[i];
}

const NameEntry *names_get(const NameMap *m, const char *key)
{
    const NameEntry *e = slot_for(m->slots, m->cap, key);
    return e->key ? e : NULL;
}

static void grow(NameMap *m)
{
    size_t cap = m->cap * 2;
    NameEntry *slots = xcalloc(cap, sizeof *slots);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key)
            *slot_for(slots, cap, m->slots[i].key) = m->slots[i];
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
}

void names_put(NameMap *m, const char *key, int id, SrcLoc loc)
{
    if (2 * (m->count + 1) > m->cap)
        grow(m);
    NameEntry *e = slot_for(m->slots, m->cap, key);
    e->key = xstrdup(key);
    e->id = id;
    e->loc = loc;
    m->count++;
}

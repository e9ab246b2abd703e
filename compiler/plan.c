/* plan.c - buffer placement by "greedy by size": the largest tensors are
 * placed first, each at the lowest offset where it overlaps in memory no
 * placed tensor that is alive at the same time (see plan.h). */
#include "plan.h"

#include <stdlib.h>

#include "util.h"

typedef struct {
    int id;
    long size, first, last, off;
} Interval;

static int by_size_desc(const void *a, const void *b)
{
    const Interval *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return x->id - y->id;
}

static int by_offset(const void *a, const void *b)
{
    const Interval *x = *(const Interval *const *)a, *y = *(const Interval *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* Places every interval; returns the arena size. */
static long place(Interval *iv, int count)
{
    qsort(iv, (size_t)count, sizeof *iv, by_size_desc);
    Interval **live = xmalloc((size_t)(count + 1) * sizeof *live);
    long total = 0;
    for (int i = 0; i < count; i++) {
        int nlive = 0;
        for (int j = 0; j < i; j++)
            if (iv[j].first <= iv[i].last && iv[i].first <= iv[j].last)
                live[nlive++] = &iv[j];
        qsort(live, (size_t)nlive, sizeof *live, by_offset);
        long off = 0;
        for (int j = 0; j < nlive; j++) {
            if (live[j]->off >= off + iv[i].size)
                break;   /* the gap before it is large enough */
            if (live[j]->off + live[j]->size > off)
                off = live[j]->off + live[j]->size;
        }
        iv[i].off = off;
        if (off + iv[i].size > total)
            total = off + iv[i].size;
    }
    free(live);
    return total;
}

/* One buffer after another: the plan without reuse. */
static long place_plainly(const Net *net, long *off)
{
    long total = 0;
    for (int i = 1; i < net->nnodes; i++) {
        off[i] = total;
        total += (long)net->nodes[i]->out_elems;
    }
    return total;
}

static long plan_buffers(const Net *net, const int *last_use, long *off)
{
    int count = net->nnodes - 1;
    if (count > PLAN_MAX_REUSE_NODES)
        return place_plainly(net, off);
    Interval *iv = xcalloc((size_t)count + 1, sizeof *iv);
    for (int i = 1; i < net->nnodes; i++) {
        Interval *t = &iv[i - 1];
        t->id = i;
        t->size = (long)net->nodes[i]->out_elems;
        t->first = i;
        t->last = last_use[i];
    }
    long total = place(iv, count);
    for (int k = 0; k < count; k++)
        off[iv[k].id] = iv[k].off;
    free(iv);
    return total;
}

void plan_memory(const Net *net, bool train, MemPlan *plan)
{
    int n = net->nnodes;
    plan->act_off = xcalloc((size_t)n, sizeof *plan->act_off);
    plan->grad_off = xcalloc((size_t)n, sizeof *plan->grad_off);
    plan->last_use = xcalloc((size_t)n, sizeof *plan->last_use);
    for (int i = 0; i < n; i++) {
        plan->last_use[i] = i;
        const Node *node = net->nodes[i];
        for (int k = 0; k < node->ninputs; k++)
            plan->last_use[node->inputs[k]] = i;
    }
    plan->last_use[n - 1] = n;   /* the output is read after the pass */
    long *scratch = xcalloc((size_t)n, sizeof *scratch);
    plan->act_plain = place_plainly(net, scratch);
    plan->grad_plain = train ? plan->act_plain : 0;
    if (train) {
        /* Every activation is read again by the backward pass. */
        plan->act_elems = place_plainly(net, plan->act_off);
        plan->grad_elems = plan_buffers(net, plan->last_use, plan->grad_off);
    } else {
        plan->act_elems = plan_buffers(net, plan->last_use, plan->act_off);
        plan->grad_elems = 0;
    }
    free(scratch);
}

void plan_free(MemPlan *plan)
{
    free(plan->act_off);
    free(plan->grad_off);
    free(plan->last_use);
}

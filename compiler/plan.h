/* plan.h - where each activation and gradient lives in the generated
 * code's arena.  Buffers whose lifetimes do not overlap share memory.
 *
 * A tensor lives from the step that produces it to the last step that
 * reads it (steps are node ids), the output until the end.  Inference
 * reuses activation buffers.  Training keeps every activation for the
 * backward pass, but a gradient lives only from the backward step of its
 * last reader down to its own, so gradients share buffers. */
#ifndef CNNC_PLAN_H
#define CNNC_PLAN_H

#include <stdbool.h>

#include "ir.h"

typedef struct {
    long *act_off;       /* per node (node 0 unused), floats per image */
    long *grad_off;      /* training only */
    int *last_use;       /* the last node that reads each node's output */
    long act_elems;      /* per image, as planned */
    long grad_elems;
    long act_plain;      /* the same without reuse */
    long grad_plain;
} MemPlan;

/* Nets larger than this are planned without reuse: the placement below is
 * quadratic in the number of layers. */
enum { PLAN_MAX_REUSE_NODES = 4096 };

void plan_memory(const Net *net, bool train, MemPlan *plan);
void plan_free(MemPlan *plan);

#endif

/* ir.c - construction and lookup of the network graph (see ir.h). */
#include "ir.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

Net *net_new(void)
{
    Net *net = xcalloc(1, sizeof *net);
    net->fit = FIT_ERROR;
    net->output = -1;
    return net;
}

void net_free(Net *net)
{
    if (!net)
        return;
    for (int i = 0; i < net->nnodes; i++) {
        Node *n = net->nodes[i];
        free(n->name);
        free(n->kind_name);
        free(n->inputs);
        free(n->input_locs);
        free(n);
    }
    for (int i = 0; i < net->nfiles; i++)
        free(net->files[i]);
    free(net->files);
    free(net->nodes);
    free(net->name);
    free(net);
}

Node *net_add_node(Net *net, OpKind op, const char *name, SrcLoc loc)
{
    if (net->nnodes == net->cap) {
        net->cap = net->cap ? net->cap * 2 : 16;
        net->nodes = xrealloc(net->nodes, (size_t)net->cap * sizeof *net->nodes);
    }
    Node *n = xcalloc(1, sizeof *n);
    n->id = net->nnodes;
    n->name = xstrdup(name);
    n->op = op;
    n->loc = loc;
    n->kd = n->sd = n->dd = n->crop_d = 1;
    n->sh = n->sw = n->dh = n->dw = n->groups = 1;
    n->bias = true;
    n->act_alpha = 0.1;
    n->eps = 1e-5;
    n->momentum = 0.1;
    n->fit = FIT_DEFAULT;
    net->nodes[net->nnodes++] = n;
    return n;
}

void node_add_input(Node *n, int id, SrcLoc loc)
{
    n->inputs = xrealloc(n->inputs, (size_t)(n->ninputs + 1) * sizeof *n->inputs);
    n->input_locs = xrealloc(n->input_locs, (size_t)(n->ninputs + 1) * sizeof *n->input_locs);
    n->inputs[n->ninputs] = id;
    n->input_locs[n->ninputs] = loc;
    n->ninputs++;
}

Node *net_find(const Net *net, const char *name)
{
    /* Linear on purpose: nets have at most a few hundred nodes, and the
     * expander keeps its own hash of names while it builds. */
    for (int i = net->nnodes - 1; i >= 0; i--)
        if (strcmp(net->nodes[i]->name, name) == 0)
            return net->nodes[i];
    return NULL;
}

void net_add_file(Net *net, const char *path)
{
    for (int i = 0; i < net->nfiles; i++)
        if (strcmp(net->files[i], path) == 0)
            return;
    net->files = xrealloc(net->files, (size_t)(net->nfiles + 1) * sizeof *net->files);
    net->files[net->nfiles++] = xstrdup(path);
}

/* lenet-train.c - the whole training program for a generated network: the
 * runtime's driver does the rest (see `./lenet-train help`). */
#include "lenet.h"

int main(int argc, char **argv)
{
    return cnn_main(&lenet5_net, argc, argv);
}

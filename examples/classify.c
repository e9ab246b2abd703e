/* classify.c - a program that ships inference only: it loads trained
 * weights and classifies the images of an IDX file (MNIST format). */
#include <stdio.h>
#include <stdlib.h>

#include "lenet.h"

static const char *const classes[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
};

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s WEIGHTS.safetensors IMAGES-idx3-ubyte[.gz]\n", argv[0]);
        return 1;
    }
    char err[512];
    float *images;
    int n, h, w;
    if (cnn_idx_load_images(argv[2], &images, &n, &h, &w, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    lenet5 *net = lenet5_new(64);
    if (!net || h != LENET5_IN_H || w != LENET5_IN_W || lenet5_load(net, argv[1]) != 0) {
        fprintf(stderr, "%s\n", net ? (h != LENET5_IN_H || w != LENET5_IN_W ? "images are not 28x28" : cnn_error())
                                    : "out of memory");
        lenet5_free(net);
        free(images);
        return 2;
    }
    float *scores = malloc(sizeof(float) * (size_t)n * LENET5_OUT_SIZE);
    if (!scores) {
        lenet5_free(net);
        free(images);
        return 2;
    }
    lenet5_forward(net, images, scores, n);
    for (int i = 0; i < n; i++) {
        const float *s = scores + (size_t)i * LENET5_OUT_SIZE;
        int best = 0;
        for (int k = 1; k < LENET5_OUT_SIZE; k++)
            if (s[k] > s[best])
                best = k;
        printf("%d %s %.3f\n", i, classes[best], s[best]);
    }
    free(scores);
    lenet5_free(net);
    free(images);
    return 0;
}

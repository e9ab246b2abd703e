/* test_known.c - hand-computed cases from the literature, run through the
 * code cnnc generates for tests/gen/edge.net and tests/gen/pool4.net. */
#include <CUnit/Basic.h>
#include <math.h>
#include <string.h>

#include "edge.h"
#include "pool4.h"

static void test_edge_filters(void)
{
    edge *m = edge_new(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* conv1.weight [2,1,3,3]: a vertical and a horizontal edge detector */
    static const float w[18] = {1, 0, -1, 1, 0, -1, 1, 0, -1,
                                1, 1, 1, 0, 0, 0, -1, -1, -1};
    memcpy(edge_params(m), w, sizeof w);
    float x[36], y[32];
    for (int r = 0; r < 6; r++)
        for (int c = 0; c < 6; c++)
            x[r * 6 + c] = c < 3 ? 10.0f : 0.0f;
    edge_forward(m, x, y, 1);
    for (int r = 0; r < 4; r++) {
        CU_ASSERT_DOUBLE_EQUAL(y[r * 4 + 0], 0.0, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(y[r * 4 + 1], 30.0, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(y[r * 4 + 2], 30.0, 1e-6);
        CU_ASSERT_DOUBLE_EQUAL(y[r * 4 + 3], 0.0, 1e-6);
    }
    for (int p = 16; p < 32; p++)
        CU_ASSERT_DOUBLE_EQUAL(y[p], 0.0, 1e-6);   /* no horizontal edge */
    /* dL/dW for dL/dy = 1 on the vertical map only: the sum of each 4x4
     * window of x, i.e. 10 * 4 * (number of bright columns in it). */
    float dy[32] = {0}, dx[36];
    for (int p = 0; p < 16; p++)
        dy[p] = 1.0f;
    edge_backward(m, x, dy, dx, 1);
    const float *g = edge_grads(m);
    static const float want[3] = {120, 80, 40};   /* kw = 0, 1, 2 */
    for (int kh = 0; kh < 3; kh++)
        for (int kw = 0; kw < 3; kw++) {
            CU_ASSERT_DOUBLE_EQUAL(g[kh * 3 + kw], want[kw], 1e-4);
            CU_ASSERT_DOUBLE_EQUAL(g[9 + kh * 3 + kw], 0.0, 1e-6);
        }
    /* dL/dx at the corner sees one tap (w = 1); the centre sees all nine
     * taps of the vertical filter, which sum to 0. */
    CU_ASSERT_DOUBLE_EQUAL(dx[0], 1.0, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(dx[2 * 6 + 2], 0.0, 1e-6);
    edge_free(m);
}

static void test_max_pool(void)
{
    pool4 *m = pool4_new(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    static const float x[16] = {1, 1, 2, 4, 5, 6, 7, 8, 3, 2, 1, 0, 1, 2, 3, 4};
    float y[4];
    pool4_forward(m, x, y, 1);
    CU_ASSERT_EQUAL(y[0], 6.0f);
    CU_ASSERT_EQUAL(y[1], 8.0f);
    CU_ASSERT_EQUAL(y[2], 3.0f);
    CU_ASSERT_EQUAL(y[3], 4.0f);
    /* The gradient goes to each window's maximum only. */
    static const float dy[4] = {1, 2, 3, 4};
    float dx[16];
    pool4_backward(m, x, dy, dx, 1);
    static const float want[16] = {0, 0, 0, 0, 0, 1, 0, 2, 3, 0, 0, 0, 0, 0, 0, 4};
    for (int p = 0; p < 16; p++)
        CU_ASSERT_EQUAL(dx[p], want[p]);
    pool4_free(m);
}

/* Ties: each window's first maximum in row-major order gets all of the
 * gradient, as PyTorch's max_pool2d gives it (checked with torch 1.13:
 * these x and dy give this dx). */
static void test_max_pool_ties(void)
{
    pool4 *m = pool4_new(1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    static const float x[16] = {5, 5, 2, 4, 5, 5, 7, 7, 3, 2, 1, 1, 3, 3, 1, 1};
    static const float dy[4] = {1, 2, 3, 4};
    static const float want[16] = {1, 0, 0, 0, 0, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    float y[4], dx[16];
    pool4_forward(m, x, y, 1);
    CU_ASSERT_EQUAL(y[0], 5.0f);
    CU_ASSERT_EQUAL(y[3], 1.0f);
    pool4_backward(m, x, dy, dx, 1);
    for (int p = 0; p < 16; p++)
        CU_ASSERT_EQUAL(dx[p], want[p]);
    pool4_free(m);
}

int main(void)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    CU_pSuite s = CU_add_suite("known", NULL, NULL);
    CU_add_test(s, "6x6 image, two 3x3 edge filters", test_edge_filters);
    CU_add_test(s, "4x4 max-pool gives 6 8 / 3 4", test_max_pool);
    CU_add_test(s, "4x4 max-pool: ties go to the first maximum", test_max_pool_ties);
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

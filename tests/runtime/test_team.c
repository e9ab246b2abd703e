/* test_team.c - CUnit tests of the runtime's thread teams (team.c): how
 * many threads a call gets, quiet and under load, on a simulated clock
 * (and once on the real one).
 *
 * Build: cc -std=c99 -Iruntime tests/runtime/test_team.c libcnnrt.a -lcunit -lz -lm */
#define _POSIX_C_SOURCE 200809L

#include <CUnit/Basic.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cnnrt.h"

/* Seconds per image with `team` threads on a 2-core machine: quiet, two
 * threads are 1.74x faster than one; with a busy process on one core, two
 * threads wait for the preempted one at every loop (40x slower), one runs
 * on the free core. */
static double quiet2(int team) { return team > 1 ? 1e-4 : 1.74e-4; }
static double loaded2(int team) { return team > 1 ? 7e-3 : 1.9e-4; }
/* Quiet, but every 50th call is 20 times as slow (a page fault, a process
 * that runs for a moment). */
static double spiky2(int team)
{
    static int calls;
    return quiet2(team) * (++calls % 50 ? 1 : 20);
}
/* Quiet, the first call three times as slow (caches, page faults). */
static double cold2(int team)
{
    static int calls;
    return quiet2(team) * (calls++ ? 1 : 3);
}
/* 8 cores, one busy: 8 threads collapse, fewer scale. */
static double loaded8(int team) { return team > 7 ? 7e-3 : 1e-3 / team; }

/* A simulated machine: its cost per image, and the idle CPUs that
 * /proc/loadavg would show (-1: no such file). */
typedef struct {
    double (*cost)(int team);
    int idle;
} machine;

/* Runs `calls` calls of 64 images; returns the seconds they took, and adds
 * to *clock.  at[t] counts the calls run with t threads. */
static double run_calls(cnn_team *t, int all, machine m, int calls, double *clock, int *at)
{
    double total = 0;
    for (int i = 0; i < calls; i++) {
        int team = cnn_team_choose(t, all, *clock, 64, m.idle);
        double secs = m.cost(team) * 64;
        CU_ASSERT_FATAL(team >= 1 && team <= all);
        *clock += secs;
        total += secs;
        cnn_team_record(t, *clock, secs, 64);
        if (at)
            at[team]++;
    }
    return total;
}

/* 5000 calls on a machine that stays as it is: within SLACK of the time
 * the best team would take, nearly all calls with it. */
static void check_steady(machine m, int best, double slack)
{
    cnn_team t = {0};
    double clock = 1000;
    int at[3] = {0};
    double secs = run_calls(&t, 2, m, 5000, &clock, at);
    CU_ASSERT(secs <= slack * 5000 * 64 * m.cost(best));
    CU_ASSERT(at[best] > 4800);
}

/* trying one thread now and then costs at most 2% */
static void test_team_quiet(void) { check_steady((machine){quiet2, 1}, 2, 1.02); }
/* a few calls with two threads, the rest with one: about the 1-thread rate */
static void test_team_loaded(void) { check_steady((machine){loaded2, 0}, 1, 1.05); }
/* one slow call now and then is no reason to drop a thread */
static void test_team_spiky(void) { check_steady((machine){spiky2, 1}, 2, 1.02 * (1 + 19.0 / 50)); }
/* the same where /proc/loadavg claims a free CPU all along: about 10% more */
static void test_team_loaded_hint_wrong(void) { check_steady((machine){loaded2, 1}, 1, 1.12); }

/* Load comes: one thread within two calls.  It goes: two threads again
 * once the budget of the last probe allows, sooner (`soon` calls) when
 * /proc/loadavg shows the idle CPU. */
static void check_comes_and_goes(int idle, int soon)
{
    cnn_team t = {0};
    double clock = 1000, secs;
    int at[3] = {0};
    run_calls(&t, 2, (machine){quiet2, idle}, 500, &clock, NULL);
    secs = run_calls(&t, 2, (machine){loaded2, idle < 0 ? idle : 0}, 500, &clock, at);
    CU_ASSERT(at[2] <= 2);
    CU_ASSERT(secs <= 500 * 64 * loaded2(1) + 2 * 64 * loaded2(2));
    run_calls(&t, 2, (machine){quiet2, idle}, soon, &clock, NULL);
    memset(at, 0, sizeof at);
    run_calls(&t, 2, (machine){quiet2, idle}, 500, &clock, at);
    CU_ASSERT(at[2] >= 480);
}

static void test_team_load_comes_and_goes(void) { check_comes_and_goes(-1, 2500); }
static void test_team_load_goes_seen(void) { check_comes_and_goes(1, 500); }

/* A slow first call is no reason to switch to one thread; a collapse from
 * the start costs two calls. */
static void test_team_start(void)
{
    cnn_team t = {0}, u = {0};
    double clock = 1000;
    int at[3] = {0}, at_loaded[3] = {0};
    run_calls(&t, 2, (machine){cold2, 1}, 20, &clock, at);
    CU_ASSERT(at[1] <= 1);   /* one probe, which loses */
    run_calls(&u, 2, (machine){loaded2, 0}, 20, &clock, at_loaded);
    CU_ASSERT_EQUAL(at_loaded[2], 2);
}

static void test_team_levels(void)
{
    cnn_team t = {0};
    double clock = 1000;
    int at[9] = {0};
    run_calls(&t, 8, (machine){loaded8, 6}, 1000, &clock, NULL);
    run_calls(&t, 8, (machine){loaded8, 6}, 1000, &clock, at);
    CU_ASSERT(at[4] >= 950);   /* 8 collapse; 4 is the largest team of the halving ladder that does not */
}

static void test_team_threads_change(void)
{
    cnn_team t = {0};
    double clock = 1000;
    CU_ASSERT_EQUAL(cnn_team_choose(&t, 1, clock, 64, -1), 1);
    run_calls(&t, 2, (machine){loaded2, 0}, 100, &clock, NULL);
    CU_ASSERT_EQUAL(cnn_team_choose(&t, 2, clock, 64, -1), 1);
    /* the program asked for another count: measured afresh, from all of them */
    CU_ASSERT_EQUAL(cnn_team_choose(&t, 4, clock, 64, -1), 4);
    CU_ASSERT_EQUAL(cnn_team_start(&t, 1, 64), 1);
    cnn_team_end(&t, 64);
}

/* With the real clock: a call that does nothing takes next to no time,
 * also the first one (which starts from a cleared cnn_team). */
static void test_team_clock(void)
{
    cnn_team t = {0};
    CU_ASSERT_EQUAL(cnn_team_start(&t, 2, 64), 2);
    cnn_team_end(&t, 64);
    CU_ASSERT(t.per_image[0] > 0 && t.per_image[0] < 0.01);
}


int main(void)
{
    static const struct { const char *name; CU_TestFunc fn; } tests[] = {
        {"team: quiet keeps all threads", test_team_quiet},
        {"team: loaded drops to one", test_team_loaded},
        {"team: loaded, /proc/loadavg wrong", test_team_loaded_hint_wrong},
        {"team: quiet with slow calls", test_team_spiky},
        {"team: load comes and goes", test_team_load_comes_and_goes},
        {"team: load goes, idle CPU seen", test_team_load_goes_seen},
        {"team: first calls", test_team_start},
        {"team: halving ladder", test_team_levels},
        {"team: thread count changes", test_team_threads_change},
        {"team: real clock", test_team_clock},
    };
    CU_pSuite suite;
    unsigned failed;
    if (CU_initialize_registry() != CUE_SUCCESS)
        return 2;
    suite = CU_add_suite("team", NULL, NULL);
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
        CU_add_test(suite, tests[i].name, tests[i].fn);
    CU_basic_set_mode(CU_BRM_NORMAL);
    CU_basic_run_tests();
    failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    return failed ? 1 : 0;
}

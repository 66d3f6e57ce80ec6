/*
 * Thread CPU time of idsvc's verification and signing on one thread, first each in a
 * loop of its own and then alternately, one verification and one signature in turn, as
 * the daemon's worker runs them for each request. The limit of the HTTPS scenario uses
 * the rates of the loops of their own, and this shows how much of the daemon's larger
 * figures the alternation alone explains.
 */
#include <time.h>

#include "bench.h"

static double thread_cpu_seconds(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Adds the thread CPU time of one run of op to *total. Returns op's result. */
static int timed_run(const bench_op *op, void *state, double *total)
{
    double started = thread_cpu_seconds();
    int rc = op->run(state);

    *total += thread_cpu_seconds() - started;
    return rc;
}

/* Runs first (and second, when not NULL) in turn for seconds of wall-clock time and
 * stores the mean thread CPU time of each, in milliseconds. */
static int measure_turns(const bench_op *first, void *first_state, const bench_op *second,
                         void *second_state, double seconds, double *first_ms,
                         double *second_ms)
{
    double first_total = 0.0, second_total = 0.0;
    double deadline = wall_seconds() + seconds;
    long count = 0;

    while (wall_seconds() < deadline) {
        if (timed_run(first, first_state, &first_total) != 0)
            return -1;
        if (second != NULL && timed_run(second, second_state, &second_total) != 0)
            return -1;
        count++;
    }
    if (count == 0)
        return -1;
    *first_ms = 1000.0 * first_total / (double)count;
    if (second != NULL)
        *second_ms = 1000.0 * second_total / (double)count;
    return 0;
}

int bench_alternate(const bench_op *verify, const bench_op *sign, double seconds,
                    bench_cpu_pair *alone, bench_cpu_pair *alternate)
{
    void *verify_state = verify->setup(verify->shared);
    void *sign_state = sign->setup(sign->shared);
    int rc = -1;

    if (verify_state == NULL || sign_state == NULL)
        goto out;
    if (measure_turns(verify, verify_state, NULL, NULL, seconds, &alone->verify_ms,
                      NULL) != 0 ||
        measure_turns(sign, sign_state, NULL, NULL, seconds, &alone->sign_ms, NULL) != 0 ||
        measure_turns(verify, verify_state, sign, sign_state, seconds,
                      &alternate->verify_ms, &alternate->sign_ms) != 0)
        goto out;
    rc = 0;
out:
    if (verify_state != NULL)
        verify->teardown(verify_state);
    if (sign_state != NULL)
        sign->teardown(sign_state);
    return rc;
}

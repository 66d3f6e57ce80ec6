/* Runs one operation on N threads for a fixed time and returns the process's rate. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

typedef struct worker {
    const bench_op *op;
    pthread_barrier_t *start;
    double seconds;
    long count;
    int failed;
} worker;

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_worker(void *opaque)
{
    worker *w = opaque;
    void *state = w->op->setup(w->op->shared);
    double deadline;

    /* Every thread waits here, so setup time is not measured. */
    pthread_barrier_wait(w->start);
    if (state == NULL) {
        w->failed = 1;
        return NULL;
    }
    deadline = now_seconds() + w->seconds;
    while (now_seconds() < deadline) {
        if (w->op->run(state) != 0) {
            w->failed = 1;
            break;
        }
        w->count++;
    }
    w->op->teardown(state);
    return NULL;
}

double bench_measure(const bench_op *op, int threads, double seconds)
{
    pthread_t ids[16];
    worker workers[16] = {0};
    pthread_barrier_t start;
    double started, elapsed;
    long total = 0;
    int failed = 0;

    if (threads < 1 || threads > 16)
        return -1.0;
    pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++) {
        workers[i] = (worker){.op = op, .start = &start, .seconds = seconds};
        pthread_create(&ids[i], NULL, run_worker, &workers[i]);
    }
    pthread_barrier_wait(&start);
    started = now_seconds();
    for (int i = 0; i < threads; i++) {
        pthread_join(ids[i], NULL);
        total += workers[i].count;
        failed |= workers[i].failed;
    }
    elapsed = now_seconds() - started;
    pthread_barrier_destroy(&start);
    return failed ? -1.0 : (double)total / elapsed;
}

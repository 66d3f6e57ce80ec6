/* A condition variable whose timed waits run on the monotonic clock. */
#ifndef IDSVC_MONOTONIC_COND_H
#define IDSVC_MONOTONIC_COND_H

#include <pthread.h>
#include <time.h>

/* Initialises cond so that pthread_cond_timedwait reads its deadline on CLOCK_MONOTONIC,
 * and a step of the wall clock neither delays nor hastens the wait. The deadline must
 * then come from clock_gettime(CLOCK_MONOTONIC). */
static inline void monotonic_cond_init(pthread_cond_t *cond)
{
    pthread_condattr_t attr;

    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(cond, &attr);
    pthread_condattr_destroy(&attr);
}

#endif

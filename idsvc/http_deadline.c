#include "http_deadline.h"

#include <stdio.h>
#include <sys/socket.h>
#include <time.h>

long long http_deadline_now_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

void http_deadlines_init(http_deadlines *list, unsigned timeout_seconds)
{
    pthread_mutex_init(&list->lock, NULL);
    list->head = NULL;
    list->count = 0;
    list->timeout_ms = (long long)timeout_seconds * 1000;
}

void http_deadlines_destroy(http_deadlines *list)
{
    pthread_mutex_destroy(&list->lock);
}

void http_deadline_add(http_deadlines *list, http_deadline *entry, int fd,
                       const char *address)
{
    entry->fd = fd;
    entry->address = address;
    atomic_init(&entry->deadline_ms, http_deadline_now_ms() + list->timeout_ms);

    pthread_mutex_lock(&list->lock);
    entry->prev = NULL;
    entry->next = list->head;
    if (list->head != NULL)
        list->head->prev = entry;
    list->head = entry;
    list->count++;
    pthread_mutex_unlock(&list->lock);
}

void http_deadline_remove(http_deadlines *list, http_deadline *entry)
{
    pthread_mutex_lock(&list->lock);
    if (entry->prev != NULL)
        entry->prev->next = entry->next;
    else
        list->head = entry->next;
    if (entry->next != NULL)
        entry->next->prev = entry->prev;
    list->count--;
    pthread_mutex_unlock(&list->lock);
}

void http_deadline_clear(http_deadline *entry)
{
    atomic_store(&entry->deadline_ms, 0);
}

void http_deadline_restart(const http_deadlines *list, http_deadline *entry)
{
    atomic_store(&entry->deadline_ms, http_deadline_now_ms() + list->timeout_ms);
}

http_deadline_sweep http_deadlines_sweep(http_deadlines *list, long long now_ms)
{
    http_deadline_sweep sweep = {0};

    pthread_mutex_lock(&list->lock);
    for (http_deadline *entry = list->head; entry != NULL; entry = entry->next) {
        long long deadline = atomic_load(&entry->deadline_ms);

        if (deadline == 0 || deadline > now_ms)
            continue;
        /* A request that arrived whole meanwhile keeps its connection. */
        if (!atomic_compare_exchange_strong(&entry->deadline_ms, &deadline, 0))
            continue;
        shutdown(entry->fd, SHUT_RDWR);
        if (sweep.closed++ == 0)
            snprintf(sweep.first_address, sizeof(sweep.first_address), "%s",
                     entry->address);
    }
    pthread_mutex_unlock(&list->lock);
    return sweep;
}

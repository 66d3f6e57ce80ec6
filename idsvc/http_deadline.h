/*
 * Request deadlines. libmicrohttpd 0.9.75 closes a connection only after [limits]
 * connection_timeout without traffic, so a client that sends one byte of its request
 * now and then could hold a connection for good. Here each connection gets a deadline
 * as well: its TLS handshake and its next request, head and body, must arrive within
 * connection_timeout of the connection's start or of the end of its previous request.
 * Idle time counts, as it does for the idle timeout. The accept thread sweeps the
 * deadlines and shuts down the socket of each connection past its deadline.
 * libmicrohttpd then reads the end of the stream on its own thread and closes the
 * connection.
 */
#ifndef IDSVC_HTTP_DEADLINE_H
#define IDSVC_HTTP_DEADLINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* The deadline of one connection, kept in its libmicrohttpd socket context. */
typedef struct http_deadline {
    int fd;
    /* CLOCK_MONOTONIC milliseconds, or 0 while the node handles a received request. */
    atomic_llong deadline_ms;
    const char *address; /* the client's address, for the log line */
    struct http_deadline *prev;
    struct http_deadline *next;
} http_deadline;

/* The deadlines of all connections of the node's listeners. */
typedef struct http_deadlines {
    pthread_mutex_t lock;
    http_deadline *head;
    size_t count;
    long long timeout_ms;
} http_deadlines;

/* The connections that one sweep shut down. */
typedef struct http_deadline_sweep {
    size_t closed;
    char first_address[64]; /* the client address of the first of them */
} http_deadline_sweep;

/* Returns the monotonic clock in milliseconds, the clock of every deadline. */
long long http_deadline_now_ms(void);

void http_deadlines_init(http_deadlines *list, unsigned timeout_seconds);
void http_deadlines_destroy(http_deadlines *list);

/* Adds a new connection with its socket fd and a deadline of now plus the timeout. The
 * address must stay allocated until http_deadline_remove. */
void http_deadline_add(http_deadlines *list, http_deadline *entry, int fd,
                       const char *address);

/* Removes the connection. libmicrohttpd calls the CLOSED notification, which calls
 * this, before it closes the socket, so a sweep never shuts down a reused fd. */
void http_deadline_remove(http_deadlines *list, http_deadline *entry);

/* Clears the deadline once a request has arrived whole, because the node's own work on
 * it and its reply are not the client's to hurry. */
void http_deadline_clear(http_deadline *entry);

/* Sets the deadline to now plus the timeout, at the end of a request. */
void http_deadline_restart(const http_deadlines *list, http_deadline *entry);

/* Shuts down, for reading and writing, the socket of every connection whose deadline is
 * at or before now_ms, and clears its deadline so that it is shut down once. */
http_deadline_sweep http_deadlines_sweep(http_deadlines *list, long long now_ms);

#endif

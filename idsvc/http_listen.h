/*
 * The listening sockets of the HTTPS server and the thread that accepts on them. The
 * thread hands each accepted socket to libmicrohttpd with MHD_add_connection.
 * http_acceptor_stop closes the listening sockets, so the kernel refuses new
 * connections at once. http.c explains why the node does not let libmicrohttpd listen.
 */
#ifndef IDSVC_HTTP_LISTEN_H
#define IDSVC_HTTP_LISTEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "http_deadline.h"
#include "metrics.h"

#define HTTP_LISTEN_MAX_SOCKETS 2 /* the API port and [server] public_port */

/* One listening socket and the libmicrohttpd daemon that serves its connections. */
typedef struct http_listen_socket {
    int fd; /* -1 once closed */
    struct MHD_Daemon *daemon;
    unsigned max_connections;     /* [limits] max_connections */
    atomic_uint open_connections; /* handed to the daemon and not closed yet */
} http_listen_socket;

typedef struct http_acceptor {
    http_listen_socket *sockets[HTTP_LISTEN_MAX_SOCKETS];
    size_t socket_count;
    int wake_fd; /* an eventfd: a stop, or a connection closed at the limit */
    atomic_bool stopping;
    pthread_t thread;
    bool running;
    long long pause_until_ms;   /* CLOCK_MONOTONIC; accept() ran out of resources */
    long long rejection_log_ms; /* CLOCK_MONOTONIC of the last connection_rejected line */
    unsigned rejections;        /* connections libmicrohttpd rejected since that line */
    http_deadlines deadlines;   /* of every connection of the sockets (http_deadline.h) */
    long long next_sweep_ms;    /* CLOCK_MONOTONIC of the next sweep of the deadlines */
    metrics *metrics;           /* counts the connections that the sweeps shut down */
} http_acceptor;

/* Opens a TCP socket listening on address (an IPv4 or IPv6 literal) and port, with
 * SO_REUSEADDR, and IPV6_V6ONLY for an IPv6 address. Returns 0 with *fd set, or -1 with
 * a sentence in error. */
int http_listen_open(const char *address, unsigned port, int *fd, char *error,
                     size_t error_size);

/*
 * Makes room in the open-file limit (RLIMIT_NOFILE) for max_connections on each of the
 * listeners, plus a reserve for the database, the token files, logs and each worker
 * thread's own descriptors. It raises the soft limit up to the hard limit where needed.
 * When even the hard limit is too low, it sets *fitted to the connections per listener
 * that fit and logs connection_limit_lowered. Returns 0, or -1 with a sentence in error
 * when not one connection fits.
 */
int http_listen_fit_descriptors(unsigned max_connections, unsigned listeners,
                                unsigned threads, unsigned *fitted, char *error,
                                size_t error_size);

/* Closes the listening socket, when it is open. */
void http_listen_close(http_listen_socket *socket);

/* Starts the thread that accepts on the sockets, whose fd and daemon are set, and sweeps
 * the request deadlines of timeout_seconds once a second. The sockets must stay
 * allocated until http_acceptor_destroy. m may be NULL. Returns 0, or -1 with a sentence
 * in error. */
int http_acceptor_start(http_acceptor *acceptor, http_listen_socket **sockets,
                        size_t count, unsigned timeout_seconds, metrics *m, char *error,
                        size_t error_size);

/* Stops the accept thread, then closes the listening sockets. After it returns, no
 * connection is added to a daemon. Calling it again does nothing. */
void http_acceptor_stop(http_acceptor *acceptor);

/* Shuts down the connections past their request deadline, when a sweep is due, as the
 * accept thread does once a second. The stop calls it while it drains, because the
 * thread has stopped by then. It does nothing while the thread runs. */
void http_acceptor_sweep(http_acceptor *acceptor);

/* Frees what http_acceptor_start made. Call it after MHD_stop_daemon, because the
 * daemons' connection callbacks use the acceptor until then. */
void http_acceptor_destroy(http_acceptor *acceptor);

/* Counts a closed connection, from the daemon's MHD_OPTION_NOTIFY_CONNECTION callback
 * with CLOSED. The acceptor counts a connection when it hands it to the daemon, stops
 * accepting at max_connections, and goes on after a close. */
void http_listen_connection_closed(http_acceptor *acceptor, http_listen_socket *socket);

#endif

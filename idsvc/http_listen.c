#define _GNU_SOURCE /* accept4, pthread_setname_np, the GNU strerror_r */

#include "http_listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "log.h"

/* accept() calls per socket and wakeup, so that a flood on one port cannot starve the
 * other one or the stop. */
#define ACCEPT_BATCH 32
/* How long the thread leaves the sockets alone after accept() ran out of descriptors or
 * memory. The socket stays readable, so polling it again at once would spin. */
#define ACCEPT_PAUSE_MS 100
#define REJECTION_LOG_INTERVAL_MS 1000
/* How often the thread sweeps the request deadlines. A connection past its deadline is
 * shut down within this much of it. */
#define DEADLINE_SWEEP_INTERVAL_MS 1000

static long long monotonic_ms(void)
{
    struct timespec now;

    clock_gettime(CLOCK_MONOTONIC, &now);
    return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static int listen_address(const char *text, unsigned port,
                          struct sockaddr_storage *address, socklen_t *length)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)address;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)address;

    memset(address, 0, sizeof(*address));
    if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        *length = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        *length = sizeof(*v6);
        return 0;
    }
    return -1;
}

/* Sets the options libmicrohttpd 0.9.75 sets on the sockets it opens itself:
 * SO_REUSEADDR, so that a restart can bind while the previous process's connections are
 * in TIME_WAIT, and IPV6_V6ONLY, so that an IPv6 address does not also take IPv4
 * connections. */
static int set_listen_options(int fd, int family)
{
    int on = 1;

    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
        return -1;
    if (family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
        return -1;
    return 0;
}

int http_listen_open(const char *address, unsigned port, int *fd_out, char *error,
                     size_t error_size)
{
    struct sockaddr_storage storage;
    socklen_t length = 0;
    const char *step;
    int failure;
    int fd;

    *fd_out = -1;
    if (listen_address(address, port, &storage, &length) != 0) {
        snprintf(error, error_size,
                 "[server] listen: \"%s\" is not an IPv4 or IPv6 address", address);
        return -1;
    }
    fd = socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        step = "socket()";
    else if (set_listen_options(fd, storage.ss_family) != 0)
        step = "setsockopt()";
    else if (bind(fd, (struct sockaddr *)&storage, length) != 0)
        step = "bind()";
    else if (listen(fd, SOMAXCONN) != 0)
        step = "listen()";
    else {
        *fd_out = fd;
        return 0;
    }

    failure = errno;
    snprintf(error, error_size,
             "cannot start the HTTPS server on %s port %u: %s failed: %s%s", address,
             port, step, strerror(failure),
             failure == EADDRINUSE ? " (another process listens on this port)" : "");
    if (fd >= 0)
        close(fd);
    return -1;
}

/* Descriptors kept for everything but connections: SQLite, the token files that
 * SoftHSM2 opens for each operation, logs, and the listening sockets, plus
 * HTTP_LISTEN_RESERVED_PER_THREAD for each worker's epoll instance, wakeup pipe and
 * database connection. The sizes are estimates. When a connection takes the last
 * descriptor, SoftHSM2 2.6 cannot open a key's file, drops the key object and does not
 * find it again in this process, so every later handshake fails until a restart
 * (docs/architecture.md). */
#define HTTP_LISTEN_RESERVED_FDS 64
#define HTTP_LISTEN_RESERVED_PER_THREAD 8

int http_listen_fit_descriptors(unsigned max_connections, unsigned listeners,
                                unsigned threads, unsigned *fitted, char *error,
                                size_t error_size)
{
    rlim_t reserve = HTTP_LISTEN_RESERVED_FDS +
                     (rlim_t)HTTP_LISTEN_RESERVED_PER_THREAD * threads * listeners;
    rlim_t needed = (rlim_t)max_connections * listeners + reserve;
    struct rlimit limit;

    *fitted = max_connections;
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY ||
        limit.rlim_cur >= needed)
        return 0;
    if (limit.rlim_max == RLIM_INFINITY || limit.rlim_max >= needed)
        limit.rlim_cur = needed;
    else
        limit.rlim_cur = limit.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0 || getrlimit(RLIMIT_NOFILE, &limit) != 0)
        return 0;
    if (limit.rlim_cur >= needed)
        return 0;

    if (limit.rlim_cur <= reserve + listeners) {
        snprintf(error, error_size,
                 "the open-file limit (ulimit -n) is %llu, and the node needs %llu for "
                 "[limits] max_connections = %u. Raise the limit.",
                 (unsigned long long)limit.rlim_cur, (unsigned long long)needed,
                 max_connections);
        return -1;
    }
    *fitted = (unsigned)((limit.rlim_cur - reserve) / listeners);
    log_message(LOG_WARN, "connection_limit_lowered",
                "the open-file limit (ulimit -n) is %llu, below the %llu that [limits] "
                "max_connections = %u needs, so each listener takes at most %u "
                "connections. Raise the hard limit to serve more.",
                (unsigned long long)limit.rlim_cur, (unsigned long long)needed,
                max_connections, *fitted);
    return 0;
}

void http_listen_close(http_listen_socket *socket)
{
    if (socket->fd >= 0)
        close(socket->fd);
    socket->fd = -1;
}

void http_listen_connection_closed(http_acceptor *acceptor, http_listen_socket *socket)
{
    /* The acceptor leaves a socket at its limit out of its poll set, so the first close
     * below the limit must wake it. */
    if (atomic_fetch_sub(&socket->open_connections, 1) >= socket->max_connections)
        eventfd_write(acceptor->wake_fd, 1);
}

/* Logs the connections that MHD_add_connection rejected, at most one line a second. */
static void note_rejection(http_acceptor *acceptor, int failure)
{
    long long now = monotonic_ms();
    char buffer[128];
    const char *reason = strerror_r(failure, buffer, sizeof(buffer));

    acceptor->rejections++;
    if (now - acceptor->rejection_log_ms < REJECTION_LOG_INTERVAL_MS)
        return;
    log_message(LOG_WARN, "connection_rejected",
                "libmicrohttpd rejected %u new connections since the previous "
                "connection_rejected line. The last one failed: %s.",
                acceptor->rejections, reason);
    acceptor->rejections = 0;
    acceptor->rejection_log_ms = now;
}

/* Returns true when accept() failed only for this one connection, so the next call may
 * succeed. Linux reports a network error of a pending connection that way. */
static bool accept_error_is_transient(int failure)
{
    switch (failure) {
    case EINTR:
    case ECONNABORTED:
    case EPROTO:
    case ENOPROTOOPT:
    case EHOSTDOWN:
    case ENONET:
    case EHOSTUNREACH:
    case EOPNOTSUPP:
    case ENETDOWN:
    case ENETUNREACH:
        return true;
    default:
        return false;
    }
}

/* Returns how many more connections the socket's daemon may take. */
static unsigned connection_room(const http_listen_socket *socket)
{
    unsigned open = atomic_load(&socket->open_connections);

    return open < socket->max_connections ? socket->max_connections - open : 0;
}

/* Accepts the waiting connections of one socket, up to ACCEPT_BATCH and the room below
 * max_connections, and hands each to the socket's daemon. The room is read again here
 * because connections may have opened while the thread waited in poll(). */
static void accept_batch(http_acceptor *acceptor, http_listen_socket *socket)
{
    unsigned room = connection_room(socket);

    for (unsigned i = 0; i < ACCEPT_BATCH && i < room; i++) {
        struct sockaddr_storage address;
        socklen_t length = sizeof(address);
        char reason[128];
        int fd = accept4(socket->fd, (struct sockaddr *)&address, &length,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (fd < 0 && accept_error_is_transient(errno))
            continue;
        if (fd < 0) {
            log_message(LOG_WARN, "accept_failed",
                        "accept() failed: %s. New connections wait %d ms in the backlog.",
                        strerror_r(errno, reason, sizeof(reason)), ACCEPT_PAUSE_MS);
            acceptor->pause_until_ms = monotonic_ms() + ACCEPT_PAUSE_MS;
            return;
        }
        /* From here on the daemon owns fd, and closes it when it rejects it. The CLOSED
         * notification of an accepted connection takes it off the count again.
         * NOTE: when the worker cannot allocate the connection's memory pool, 0.9.75
         * closes it without a notification, and the count keeps one connection too many
         * until the node restarts. */
        atomic_fetch_add(&socket->open_connections, 1);
        if (MHD_add_connection(socket->daemon, fd, (struct sockaddr *)&address, length) !=
            MHD_YES) {
            note_rejection(acceptor, errno);
            http_listen_connection_closed(acceptor, socket);
        }
    }
}

/* Shuts down the connections past their request deadline, when a sweep is due, and
 * logs one line for them all.
 * NOTE: an idle keep-alive connection counts here too when its worker was too busy to
 * close it at libmicrohttpd's idle timeout first, such as while a commit waits for the
 * database. The sweep cannot tell it from a client that trickles its request. */
static void sweep_deadlines(http_acceptor *acceptor, long long now)
{
    http_deadline_sweep sweep;

    if (now < acceptor->next_sweep_ms)
        return;
    acceptor->next_sweep_ms = now + DEADLINE_SWEEP_INTERVAL_MS;
    sweep = http_deadlines_sweep(&acceptor->deadlines, now);
    if (sweep.closed == 0)
        return;
    if (acceptor->metrics != NULL)
        metrics_record_request_timeouts(acceptor->metrics, sweep.closed);
    log_message(
        LOG_WARN, "request_timeout",
        "closed %zu connection(s) that sent no whole request within "
        "connection_timeout (%lld s) of their start or of their previous request, "
        "the first from %s",
        sweep.closed, acceptor->deadlines.timeout_ms / 1000, sweep.first_address);
}

/* Returns the poll() timeout in milliseconds until the next sweep, or -1 when no
 * connection is open. It counts the connections handed to a daemon, because a worker
 * registers a connection's deadline some time after MHD_add_connection returns. */
static int sweep_timeout_ms(http_acceptor *acceptor, long long now)
{
    unsigned open = 0;

    for (size_t i = 0; i < acceptor->socket_count; i++)
        open += atomic_load(&acceptor->sockets[i]->open_connections);
    if (open == 0)
        return -1;
    if (now >= acceptor->next_sweep_ms)
        return 0;
    return (int)(acceptor->next_sweep_ms - now);
}

/* Waits for a connection on the sockets that have room below max_connections, for a
 * wakeup or for the next sweep of the deadlines, and accepts what waits. */
static void accept_once(http_acceptor *acceptor)
{
    struct pollfd fds[1 + HTTP_LISTEN_MAX_SOCKETS];
    http_listen_socket *polled[HTTP_LISTEN_MAX_SOCKETS];
    size_t count = 0;
    int timeout_ms = -1;
    long long now = monotonic_ms();
    eventfd_t wakeups;
    char reason[128];

    fds[0] = (struct pollfd){.fd = acceptor->wake_fd, .events = POLLIN};
    timeout_ms = sweep_timeout_ms(acceptor, now);
    if (now < acceptor->pause_until_ms &&
        (timeout_ms < 0 || acceptor->pause_until_ms - now < timeout_ms))
        timeout_ms = (int)(acceptor->pause_until_ms - now);
    for (size_t i = 0; i < acceptor->socket_count && now >= acceptor->pause_until_ms;
         i++) {
        http_listen_socket *socket = acceptor->sockets[i];

        /* A socket at the limit is left out, so its new connections wait in the kernel's
         * backlog until one closes, as they did when libmicrohttpd listened itself. */
        if (connection_room(socket) == 0)
            continue;
        polled[count] = socket;
        fds[1 + count] = (struct pollfd){.fd = socket->fd, .events = POLLIN};
        count++;
    }

    if (poll(fds, 1 + count, timeout_ms) < 0) {
        if (errno != EINTR) {
            log_message(LOG_ERROR, "accept_failed",
                        "poll() on the listening sockets failed: %s",
                        strerror_r(errno, reason, sizeof(reason)));
            acceptor->pause_until_ms = monotonic_ms() + ACCEPT_PAUSE_MS;
        }
        return;
    }
    sweep_deadlines(acceptor, monotonic_ms());
    if (fds[0].revents != 0)
        eventfd_read(acceptor->wake_fd, &wakeups);
    for (size_t i = 0; i < count && !atomic_load(&acceptor->stopping); i++)
        if (fds[1 + i].revents != 0)
            accept_batch(acceptor, polled[i]);
}

static void *accept_main(void *arg)
{
    http_acceptor *acceptor = arg;

    while (!atomic_load(&acceptor->stopping))
        accept_once(acceptor);
    return NULL;
}

int http_acceptor_start(http_acceptor *acceptor, http_listen_socket **sockets,
                        size_t count, unsigned timeout_seconds, metrics *m, char *error,
                        size_t error_size)
{
    int rc;

    acceptor->socket_count = count;
    for (size_t i = 0; i < count; i++)
        acceptor->sockets[i] = sockets[i];
    atomic_init(&acceptor->stopping, false);
    acceptor->pause_until_ms = 0;
    acceptor->rejection_log_ms = 0;
    acceptor->rejections = 0;
    acceptor->next_sweep_ms = 0;
    acceptor->metrics = m;
    acceptor->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (acceptor->wake_fd < 0) {
        snprintf(error, error_size, "cannot start the HTTPS server: eventfd() failed: %s",
                 strerror(errno));
        return -1;
    }
    http_deadlines_init(&acceptor->deadlines, timeout_seconds);
    rc = pthread_create(&acceptor->thread, NULL, accept_main, acceptor);
    if (rc != 0) {
        snprintf(error, error_size,
                 "cannot start the HTTPS server: pthread_create() of the "
                 "accept thread failed: %s",
                 strerror(rc));
        close(acceptor->wake_fd);
        acceptor->wake_fd = -1;
        http_deadlines_destroy(&acceptor->deadlines);
        return -1;
    }
    pthread_setname_np(acceptor->thread, "idsvc-accept");
    acceptor->running = true;
    return 0;
}

void http_acceptor_stop(http_acceptor *acceptor)
{
    if (!acceptor->running)
        return;
    atomic_store(&acceptor->stopping, true);
    eventfd_write(acceptor->wake_fd, 1);
    pthread_join(acceptor->thread, NULL);
    acceptor->running = false;
    /* Once the sockets are closed, the kernel sends a reset for each new connection, so
     * the client sees ECONNREFUSED. Connections in the backlog that were not accepted
     * yet are reset too. */
    for (size_t i = 0; i < acceptor->socket_count; i++)
        http_listen_close(acceptor->sockets[i]);
}

void http_acceptor_sweep(http_acceptor *acceptor)
{
    if (acceptor->wake_fd >= 0 && !acceptor->running)
        sweep_deadlines(acceptor, monotonic_ms());
}

void http_acceptor_destroy(http_acceptor *acceptor)
{
    if (acceptor->wake_fd >= 0) {
        close(acceptor->wake_fd);
        http_deadlines_destroy(&acceptor->deadlines);
    }
    acceptor->wake_fd = -1;
}

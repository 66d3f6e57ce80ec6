/*
 * Open-file limits of the bench program and of the daemon, so that a run with many idle
 * connections can check in advance that they fit. Linux only: reads /proc.
 */
#ifndef IDSVC_BENCH_FD_LIMITS_H
#define IDSVC_BENCH_FD_LIMITS_H

#include <sys/types.h>

/* Counts the open file descriptors of process pid (0 for this process) in /proc/PID/fd.
 * Returns -1 when the folder cannot be read. */
long bench_count_open_files(pid_t pid);

/* Returns the soft "Max open files" limit of process pid from /proc/PID/limits, LONG_MAX
 * when it is unlimited, or -1 when it cannot be read. */
long bench_open_file_limit(pid_t pid);

/* Raises this process's soft RLIMIT_NOFILE to needed, or to the hard limit when that is
 * lower, and never lowers it. Returns the soft limit in force afterwards, LONG_MAX when
 * it is unlimited, or -1 when getrlimit fails. */
long bench_raise_open_file_limit(long needed);

#endif

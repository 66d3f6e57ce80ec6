/* Open-file limits and counts of the bench program and of the daemon, read from /proc. */
#include "bench_fd_limits.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

long bench_count_open_files(pid_t pid)
{
    char path[64];
    struct dirent *entry;
    long count = 0;
    DIR *dir;

    if (pid == 0)
        snprintf(path, sizeof(path), "/proc/self/fd");
    else
        snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
    dir = opendir(path);
    if (dir == NULL)
        return -1;
    while ((entry = readdir(dir)) != NULL) {
        if (entry->d_name[0] != '.')
            count++;
    }
    closedir(dir);
    /* /proc/self/fd lists the descriptor of the open folder too. */
    return pid == 0 && count > 0 ? count - 1 : count;
}

long bench_open_file_limit(pid_t pid)
{
    static const char prefix[] = "Max open files";
    char path[64];
    char line[256];
    char soft[32];
    long limit = -1;
    FILE *file;

    snprintf(path, sizeof(path), "/proc/%ld/limits", (long)pid);
    file = fopen(path, "r");
    if (file == NULL)
        return -1;
    while (fgets(line, sizeof(line), file) != NULL) {
        if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
            continue;
        if (sscanf(line + sizeof(prefix) - 1, "%31s", soft) == 1)
            limit = strcmp(soft, "unlimited") == 0 ? LONG_MAX : strtol(soft, NULL, 10);
        break;
    }
    fclose(file);
    return limit;
}

static long limit_value(rlim_t value)
{
    return value == RLIM_INFINITY || value > (rlim_t)LONG_MAX ? LONG_MAX : (long)value;
}

long bench_raise_open_file_limit(long needed)
{
    struct rlimit limits;
    rlim_t target;

    if (getrlimit(RLIMIT_NOFILE, &limits) != 0)
        return -1;
    if (needed <= 0 || limit_value(limits.rlim_cur) >= needed)
        return limit_value(limits.rlim_cur);

    target = (rlim_t)needed;
    if (limits.rlim_max != RLIM_INFINITY && target > limits.rlim_max)
        target = limits.rlim_max;
    limits.rlim_cur = target;
    /* On failure the old limit stays in force, and getrlimit below returns it. */
    (void)setrlimit(RLIMIT_NOFILE, &limits);
    if (getrlimit(RLIMIT_NOFILE, &limits) != 0)
        return -1;
    return limit_value(limits.rlim_cur);
}

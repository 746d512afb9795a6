/* How busy the machine is, for the pacer (_pacing.pxd): the tasks running
 * or waiting for a CPU that are not this process's, and the CPUs this
 * process may run on.  Linux reads /proc (the running count of
 * /proc/loadavg, less this process's own threads in state R from
 * /proc/self/task/<tid>/stat) in some microseconds; elsewhere, or when
 * /proc cannot be read, the answer is -1 (unknown) and the pacer relies on
 * its timings alone. */
#ifndef FASTMLP_LOAD_H
#define FASTMLP_LOAD_H
#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fastmlp_read_small(const char* path, char* buf, int size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    int n = (int) read(fd, buf, size - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    return n;
}

/* Running or runnable tasks machine-wide, the caller included; -1: unknown. */
static int fastmlp_running_total(void) {
    char buf[256];
    if (fastmlp_read_small("/proc/loadavg", buf, sizeof buf) < 0) return -1;
    /* "0.50 0.40 0.30 R/T last_pid": the fourth field's R */
    char* p = buf;
    for (int field = 0; field < 3; field++) {
        p = strchr(p, ' ');
        if (p == NULL) return -1;
        p++;
    }
    return atoi(p);
}

/* This process's threads in state R (running or runnable); -1: unknown.
 * Some microseconds per thread: ask only when the total says it matters. */
static int fastmlp_own_running(void) {
    char buf[256];
    DIR* dir = opendir("/proc/self/task");
    if (dir == NULL) return -1;
    int own = 0;
    struct dirent* e;
    char path[64];
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        snprintf(path, sizeof path, "/proc/self/task/%.20s/stat", e->d_name);
        if (fastmlp_read_small(path, buf, sizeof buf) < 0) continue;
        char* close_paren = strrchr(buf, ')');   /* the name may hold spaces */
        if (close_paren != NULL && close_paren[1] == ' ' && close_paren[2] == 'R') own++;
    }
    closedir(dir);
    return own;
}

/* CPUs this process may run on (its affinity mask); at least 1. */
static int fastmlp_cpus(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int) n : 1;
}
#else
static int fastmlp_running_total(void) { return -1; }
static int fastmlp_own_running(void) { return -1; }
static int fastmlp_cpus(void) { return 1; }
#endif
#endif

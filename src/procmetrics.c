#include "procmetrics.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

typedef struct proc_stat {
        double cpu_seconds;
        double rss_bytes;
        double start_time_seconds;
} proc_stat_t;

static int read_proc_stat(proc_stat_t *ret) {
        char buf[1024];
        FILE *f = fopen("/proc/self/stat", "re");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* Fields after the command name, which may contain spaces: skip to ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EIO;
        unsigned long long utime = 0, stime = 0, starttime = 0;
        long long rss_pages = 0;
        /* state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
         * cutime cstime priority nice threads itrealvalue starttime(22) vsize rss(24) */
        int got = sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d %*d %llu "
                                "%*u %lld", &utime, &stime, &starttime, &rss_pages);
        if (got != 4)
                return -EIO;
        double ticks = (double) sysconf(_SC_CLK_TCK);
        double page = (double) sysconf(_SC_PAGESIZE);
        ret->cpu_seconds = (double) (utime + stime) / ticks;
        ret->rss_bytes = (double) rss_pages * page;

        double boot = 0;
        f = fopen("/proc/stat", "re");
        if (f) {
                char line[256];
                while (fgets(line, sizeof line, f))
                        if (strncmp(line, "btime ", 6) == 0) {
                                boot = strtod(line + 6, NULL);
                                break;
                        }
                fclose(f);
        }
        ret->start_time_seconds = boot + (double) starttime / ticks;
        return 0;
}

static void collect_stat(metric_family_t *f, void *userdata) {
        /* userdata selects the field; all three read the same file. */
        size_t field = (size_t) (uintptr_t) userdata;
        proc_stat_t st;
        metric_t *s;
        if (read_proc_stat(&st) < 0 || metric_family_series(f, NULL, &s) < 0)
                return;
        metric_set(s, field == 0 ? st.cpu_seconds : field == 1 ? st.rss_bytes : st.start_time_seconds);
}

static void collect_open_fds(metric_family_t *f, void *userdata) {
        metric_t *s;
        DIR *d = opendir("/proc/self/fd");
        if (!d)
                return;
        double n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.')
                        n++;
        closedir(d);
        if (metric_family_series(f, NULL, &s) == 0)
                metric_set(s, n - 1); /* not counting the directory's own fd */
}

static void collect_max_fds(metric_family_t *f, void *userdata) {
        struct rlimit rl;
        metric_t *s;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && metric_family_series(f, NULL, &s) == 0)
                metric_set(s, rl.rlim_cur == RLIM_INFINITY ? 0 : (double) rl.rlim_cur);
}

int procmetrics_register(metrics_t *m) {
        static const struct {
                const char *name;
                const char *help;
                metric_type_t type;
                metric_collect_cb collect;
                uintptr_t field;
        } families[] = {
                { "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", METRIC_COUNTER,
                  collect_stat, 0 },
                { "process_resident_memory_bytes", "Resident memory size in bytes.", METRIC_GAUGE, collect_stat, 1 },
                { "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                  METRIC_GAUGE, collect_stat, 2 },
                { "process_open_fds", "Number of open file descriptors.", METRIC_GAUGE, collect_open_fds, 0 },
                { "process_max_fds", "Maximum number of open file descriptors.", METRIC_GAUGE, collect_max_fds, 0 },
        };
        for (size_t i = 0; i < sizeof families / sizeof families[0]; i++) {
                metric_family_t *f;
                int r = metrics_family_add(m, families[i].name, families[i].help, families[i].type, NULL, 0, NULL,
                                           0, false, &f);
                if (r < 0)
                        return r;
                metric_family_set_collect(f, families[i].collect, (void *) families[i].field);
        }
        return 0;
}

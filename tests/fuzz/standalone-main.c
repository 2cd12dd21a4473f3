/* A plain driver for the fuzz targets: runs LLVMFuzzerTestOneInput on every
 * file named on the command line, and on every regular file of every
 * directory named there (not recursive), in name order. This is how the seed
 * corpora run as ordinary meson tests with any compiler, and how a crash
 * reproducer is replayed under gdb or valgrind without libFuzzer.
 *
 * Exit status: 0 when every input ran (a failed invariant aborts), 1 when an
 * input could not be read or none was found. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

/* Weak so targets without an initializer link too. */
__attribute__((weak)) int LLVMFuzzerInitialize(int *argc, char ***argv);

static int run_file(const char *path) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "%s: %s\n", path, strerror(errno));
                return -1;
        }
        size_t alloc = 4096, len = 0;
        uint8_t *buf = malloc(alloc);
        while (buf) {
                if (len == alloc) {
                        uint8_t *b = realloc(buf, alloc * 2);
                        if (!b) {
                                free(buf);
                                buf = NULL;
                                break;
                        }
                        buf = b;
                        alloc *= 2;
                }
                size_t n = fread(buf + len, 1, alloc - len, f);
                if (n == 0)
                        break;
                len += n;
        }
        bool bad = !buf || ferror(f);
        fclose(f);
        if (bad) {
                fprintf(stderr, "%s: cannot read\n", path);
                free(buf);
                return -1;
        }
        /* An exact-size copy, so AddressSanitizer sees a read past the input
         * as libFuzzer would. */
        uint8_t *exact = malloc(len ? len : 1);
        if (!exact) {
                free(buf);
                return -1;
        }
        memcpy(exact, buf, len);
        free(buf);
        fprintf(stderr, "running %s (%zu bytes)\n", path, len);
        LLVMFuzzerTestOneInput(exact, len);
        free(exact);
        return 0;
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

static int run_dir(const char *dir, size_t *ret_count) {
        DIR *d = opendir(dir);
        if (!d) {
                fprintf(stderr, "%s: %s\n", dir, strerror(errno));
                return -1;
        }
        char **names = NULL;
        size_t n = 0;
        int r = 0;
        struct dirent *de;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                char **t = realloc(names, (n + 1) * sizeof *names);
                if (!t) {
                        r = -1;
                        break;
                }
                names = t;
                if (asprintf(&names[n], "%s/%s", dir, de->d_name) < 0) {
                        r = -1;
                        break;
                }
                n++;
        }
        closedir(d);
        if (n > 0)
                qsort(names, n, sizeof *names, cmp_names);
        for (size_t i = 0; i < n; i++) {
                struct stat st;
                if (r == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
                        if (run_file(names[i]) < 0)
                                r = -1;
                        else
                                (*ret_count)++;
                }
                free(names[i]);
        }
        free(names);
        return r;
}

int main(int argc, char **argv) {
        if (LLVMFuzzerInitialize)
                LLVMFuzzerInitialize(&argc, &argv);
        size_t count = 0;
        int r = 0;
        for (int i = 1; i < argc; i++) {
                struct stat st;
                if (stat(argv[i], &st) < 0) {
                        fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
                        r = -1;
                } else if (S_ISDIR(st.st_mode)) {
                        if (run_dir(argv[i], &count) < 0)
                                r = -1;
                } else if (run_file(argv[i]) < 0)
                        r = -1;
                else
                        count++;
        }
        fprintf(stderr, "%zu input(s) ran\n", count);
        return r == 0 && count > 0 ? 0 : 1;
}

/* no-pwait2 ERRNO COMMAND [ARGS...]: runs COMMAND with a seccomp filter that
 * fails epoll_pwait2() with ERRNO ("ENOSYS", as on kernels before 5.11, or
 * "EPERM", as under a container seccomp profile that predates the call), so
 * the loop's fallback to its timerfd is exercised (tests/fault/meson.build).
 * Exit 77 (skipped) on an architecture it does not know; 2 on usage or
 * set-up errors; otherwise COMMAND's own exit. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#define FILTER_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define FILTER_ARCH AUDIT_ARCH_AARCH64
#endif

int main(int argc, char **argv) {
        if (argc < 3 || (strcmp(argv[1], "ENOSYS") != 0 && strcmp(argv[1], "EPERM") != 0)) {
                fprintf(stderr, "usage: no-pwait2 ENOSYS|EPERM COMMAND [ARGS...]\n");
                return 2;
        }
#if !defined(FILTER_ARCH) || !defined(SYS_epoll_pwait2)
        fprintf(stderr, "no-pwait2: no filter for this architecture\n");
        return 77;
#else
        unsigned err = strcmp(argv[1], "ENOSYS") == 0 ? ENOSYS : EPERM;
        struct sock_filter filter[] = {
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, FILTER_ARCH, 1, 0),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
                BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
                BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_epoll_pwait2, 0, 1),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (err & SECCOMP_RET_DATA)),
                BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        };
        struct sock_fprog prog = { .len = (unsigned short) (sizeof filter / sizeof filter[0]), .filter = filter };
        if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
                fprintf(stderr, "no-pwait2: cannot install the seccomp filter: %s\n", strerror(errno));
                return 2;
        }
        execvp(argv[2], argv + 2);
        fprintf(stderr, "no-pwait2: %s: %s\n", argv[2], strerror(errno));
        return 2;
#endif
}

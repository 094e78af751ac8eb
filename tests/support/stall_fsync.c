/* A disk that stalls on demand, for crash drills of Redis/Valkey's append-only file.
 *
 * Preloaded into a server (LD_PRELOAD), it holds every fsync, fdatasync, sync_file_range,
 * syncfs and sync call of the process for as long as the file named by STALL_FSYNC_FLAG
 * exists, as a disk that stopped completing flushes would. The first call held during a
 * stall creates "<flag>.held", so a test knows the stall has taken hold.
 *
 * Why this loses writes: with appendfsync everysec, Redis and Valkey postpone writing their
 * AOF buffer to the file while a background fsync is still running (up to 2 s, then they write
 * anyway). During that window, writes they already acknowledged exist only in the process's
 * memory, and a SIGKILL really loses them; a plain SIGKILL without a stall loses nothing,
 * because the kernel's page cache keeps whatever the process had written.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void hold(void) {
    const char *flag = getenv("STALL_FSYNC_FLAG");
    if (flag == NULL || access(flag, F_OK) != 0) return;
    char held[PATH_MAX];
    if (snprintf(held, sizeof held, "%s.held", flag) < (int)sizeof held) {
        int fd = open(held, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0) close(fd);
    }
    const struct timespec tick = {0, 5 * 1000 * 1000};
    while (access(flag, F_OK) == 0) nanosleep(&tick, NULL);
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int fsync(int fd) {
    hold();
    return REAL(fsync)(fd);
}

int fdatasync(int fd) {
    hold();
    return REAL(fdatasync)(fd);
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags) {
    hold();
    return REAL(sync_file_range)(fd, offset, nbytes, flags);
}

int syncfs(int fd) {
    hold();
    return REAL(syncfs)(fd);
}

void sync(void) {
    hold();
    REAL(sync)();
}

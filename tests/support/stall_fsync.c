/* A disk that stalls on demand, for crash drills of Redis/Valkey's append-only file.
 *
 * Preloaded into a server (LD_PRELOAD), it holds every fsync, fdatasync, sync_file_range,
 * syncfs and sync call of the process for as long as the file named by STALL_FSYNC_FLAG
 * exists, as a disk that stopped completing flushes would. A call held creates "<flag>.held",
 * so a test knows the stall has taken hold; a call completed dates "<flag>.synced", so a test
 * can begin a stall just before the next one.
 *
 * Why this loses writes: with appendfsync everysec, Redis and Valkey postpone writing their
 * AOF buffer to the file while a background fsync is still running (up to 2 s, then they write
 * anyway). During that window, writes they already acknowledged exist only in the process's
 * memory, and a SIGKILL really loses them; a plain SIGKILL without a stall loses nothing,
 * because the kernel's page cache keeps whatever the process had written.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void touch(const char *flag, const char *suffix) {
    int saved = errno; /* the caller sees the errno of its own call, not of this */
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s%s", flag, suffix) < (int)sizeof path) {
        int fd = open(path, O_WRONLY | O_CREAT, 0644);
        if (fd >= 0) {
            futimens(fd, NULL);
            close(fd);
        }
    }
    errno = saved;
}

/* Before each call: hold it while the flag exists. */
static void hold(void) {
    const char *flag = getenv("STALL_FSYNC_FLAG");
    if (flag == NULL || access(flag, F_OK) != 0) return;
    touch(flag, ".held");
    const struct timespec tick = {0, 5 * 1000 * 1000};
    while (access(flag, F_OK) == 0) nanosleep(&tick, NULL);
}

/* After each call: "<flag>.synced" dated now, so a test can time a stall to the next one. */
static void synced(void) {
    const char *flag = getenv("STALL_FSYNC_FLAG");
    if (flag != NULL) touch(flag, ".synced");
}

#define REAL(name) ((__typeof__(&name))dlsym(RTLD_NEXT, #name))

int fsync(int fd) {
    hold();
    int done = REAL(fsync)(fd);
    synced();
    return done;
}

int fdatasync(int fd) {
    hold();
    int done = REAL(fdatasync)(fd);
    synced();
    return done;
}

int sync_file_range(int fd, off_t offset, off_t nbytes, unsigned int flags) {
    hold();
    int done = REAL(sync_file_range)(fd, offset, nbytes, flags);
    synced();
    return done;
}

int syncfs(int fd) {
    hold();
    int done = REAL(syncfs)(fd);
    synced();
    return done;
}

void sync(void) {
    hold();
    REAL(sync)();
    synced();
}

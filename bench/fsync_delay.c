/* A slow disk for bench/run: an LD_PRELOAD library that sleeps FSYNC_DELAY_MS milliseconds in
 * every fsync, fdatasync, sync_file_range and msync(MS_SYNC) of the process, then calls the real
 * one (found with dlsym(RTLD_NEXT)), so each durable commit costs at least that long, as on a
 * disk whose cache flush takes that long.
 *
 * FSYNC_DELAY_STATS names a file the library maps shared and counts into (calls and nanoseconds
 * slept, per function; see `struct stats`), so the benchmark can read, while the server runs,
 * that the wrapper is really in the path.
 *
 *     cc -O2 -shared -fPIC -o fsync_delay.so fsync_delay.c -ldl
 *     LD_PRELOAD=./fsync_delay.so FSYNC_DELAY_MS=3 FSYNC_DELAY_STATS=/tmp/s appointment-registry
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

enum { FSYNC, FDATASYNC, SYNC_FILE_RANGE, MSYNC, FUNCTIONS };

/* The layout bench/run reads: FUNCTIONS pairs of little-endian u64 (calls, nanoseconds slept),
 * in the order of the enum above. */
struct stats {
    uint64_t calls_ns[FUNCTIONS][2];
};

static long delay_ns;
static struct stats *stats;

__attribute__((constructor)) static void setup(void) {
    const char *ms = getenv("FSYNC_DELAY_MS");
    delay_ns = ms ? (long)(atof(ms) * 1e6) : 0;
    const char *path = getenv("FSYNC_DELAY_STATS");
    if (path && *path) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            if (ftruncate(fd, sizeof(struct stats)) == 0) {
                void *p = mmap(NULL, sizeof(struct stats), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
                if (p != MAP_FAILED)
                    stats = p;
            }
            close(fd);
        }
    }
}

/* Sleeps the whole delay (resuming after signals), keeps errno, and counts. */
static void delay(int which) {
    int saved = errno;
    struct timespec t0, t1, left = {delay_ns / 1000000000L, delay_ns % 1000000000L};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (delay_ns > 0 && nanosleep(&left, &left) != 0 && errno == EINTR) {
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (stats) {
        uint64_t ns = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
        __atomic_fetch_add(&stats->calls_ns[which][0], 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&stats->calls_ns[which][1], ns, __ATOMIC_RELAXED);
    }
    errno = saved;
}

#define REAL(name) \
    static __typeof__(name) *real; \
    if (!real) \
        real = (__typeof__(name) *)dlsym(RTLD_NEXT, #name)

int fsync(int fd) {
    REAL(fsync);
    delay(FSYNC);
    return real(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    delay(FDATASYNC);
    return real(fd);
}

int sync_file_range(int fd, off64_t offset, off64_t nbytes, unsigned int flags) {
    REAL(sync_file_range);
    if (flags & SYNC_FILE_RANGE_WAIT_AFTER)
        delay(SYNC_FILE_RANGE);
    return real(fd, offset, nbytes, flags);
}

int msync(void *addr, size_t length, int flags) {
    REAL(msync);
    if (flags & MS_SYNC)
        delay(MSYNC);
    return real(addr, length, flags);
}

/* shim_fail.c: an LD_PRELOAD shim that fails the Nth file-system call on files under
 * $QUARRY_FAIL_DIR, for I/O-error sweeps (SQLite's way of testing I/O errors).
 *   QUARRY_FAIL_DIR    the watched directory (absolute)
 *   QUARRY_FAIL_OPS    comma list of write,pwrite,fsync,fdatasync,rename,ftruncate,fallocate,
 *                      create (an open with O_CREAT); default: all of them
 *   QUARRY_FAIL_N      the 1-based index of the call to fail among the watched calls; 0: none
 *   QUARRY_FAIL_ERRNO  ENOSPC (default) or EIO
 *   QUARRY_FAIL_PERSIST 1: fail every watched call from the Nth on (a disk that stays full)
 *   QUARRY_FAIL_COUNT_FILE  at exit, the number of watched calls is written there
 *   QUARRY_FAIL_SKIP   a file-name prefix never failed nor counted (e.g. LOG: the info log)
 * Each injected failure is reported on stderr ("shim_fail: call N (op) -> ENOSPC"). */
#include "shim_common.h"

#include <errno.h>

enum { OP_WRITE = 1, OP_PWRITE = 2, OP_FSYNC = 4, OP_FDATASYNC = 8, OP_RENAME = 16,
       OP_FTRUNCATE = 32, OP_FALLOCATE = 64, OP_CREATE = 128, OP_ALL = 255 };
static const char *const op_names[] = {"write", "pwrite", "fsync", "fdatasync", "rename",
                                       "ftruncate", "fallocate", "create"};

static unsigned ops = OP_ALL;
static long fail_n, calls, failures;
static int fail_errno = ENOSPC, persist, reported;
static char count_file[PATH_MAX], skip[64];

__attribute__((constructor)) static void fail_init(void) {
  const char *s;
  shim_resolve();
  shim_init_dir("QUARRY_FAIL_DIR");
  if ((s = getenv("QUARRY_FAIL_OPS")) && *s) {
    size_t i;
    ops = 0;
    for (i = 0; i < sizeof op_names / sizeof *op_names; i++) {
      const char *p = strstr(s, op_names[i]);
      size_t l = strlen(op_names[i]);
      while (p && !((p == s || p[-1] == ',') && (p[l] == ',' || p[l] == '\0')))
        p = strstr(p + 1, op_names[i]);
      if (p)
        ops |= 1u << i;
    }
    if (strstr(s, "all"))
      ops = OP_ALL;
  }
  if ((s = getenv("QUARRY_FAIL_N")))
    fail_n = atol(s);
  if ((s = getenv("QUARRY_FAIL_ERRNO")) && strcmp(s, "EIO") == 0)
    fail_errno = EIO;
  if ((s = getenv("QUARRY_FAIL_PERSIST")))
    persist = atoi(s);
  if ((s = getenv("QUARRY_FAIL_SKIP")))
    snprintf(skip, sizeof skip, "%s", s);
  if ((s = getenv("QUARRY_FAIL_COUNT_FILE")))
    snprintf(count_file, sizeof count_file, "%s", s);
}

__attribute__((destructor)) static void fail_fini(void) {
  if (count_file[0]) {
    FILE *f = fopen(count_file, "w");
    if (f) {
      fprintf(f, "%ld %ld\n", calls, failures);
      fclose(f);
    }
  }
}

/* Counts a watched call of kind op; 1 when it must fail (errno set). */
static int should_fail(unsigned op) {
  long n;
  int fail;
  if (!(ops & op))
    return 0;
  pthread_mutex_lock(&shim_lock);
  n = ++calls;
  fail = fail_n > 0 && (n == fail_n || (persist && n > fail_n));
  if (fail)
    failures++;
  pthread_mutex_unlock(&shim_lock);
  if (fail) {
    if (!reported || !persist) {
      char msg[160];
      int i = 0, len;
      while (!(op & (1u << i)))
        i++;
      len = snprintf(msg, sizeof msg, "shim_fail: call %ld (%s) -> %s%s\n", n, op_names[i],
                     fail_errno == EIO ? "EIO" : "ENOSPC", persist ? " (persistent)" : "");
      real.write(2, msg, (size_t)len);
      reported = 1;
    }
    errno = fail_errno;
  }
  return fail;
}

static int skipped(const char *path) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  return skip[0] && strncmp(base, skip, strlen(skip)) == 0;
}

static void watch(int fd, const char *path) {
  if (fd >= 0 && fd < SHIM_MAX_FD)
    shim_watched[fd] = (unsigned char)(shim_under_dir(path) && !skipped(path));
}

int open(const char *path, int flags, ...) {
  va_list ap;
  int mode, fd;
  shim_resolve();
  va_start(ap, flags);
  mode = shim_mode_arg(flags, ap);
  va_end(ap);
  if ((flags & O_CREAT) && shim_under_dir(path) && !skipped(path) && should_fail(OP_CREATE))
    return -1;
  fd = real.open(path, flags, mode);
  watch(fd, path);
  return fd;
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  int mode, fd, abs_ok;
  shim_resolve();
  va_start(ap, flags);
  mode = shim_mode_arg(flags, ap);
  va_end(ap);
  abs_ok = dirfd == AT_FDCWD || (path[0] == '/');
  if (abs_ok && (flags & O_CREAT) && shim_under_dir(path) && !skipped(path) &&
      should_fail(OP_CREATE))
    return -1;
  fd = real.openat(dirfd, path, flags, mode);
  if (abs_ok)
    watch(fd, path);
  return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

ssize_t write(int fd, const void *buf, size_t n) {
  shim_resolve();
  if (shim_is_watched(fd) && should_fail(OP_WRITE))
    return -1;
  return real.write(fd, buf, n);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  shim_resolve();
  if (shim_is_watched(fd) && should_fail(OP_PWRITE))
    return -1;
  return real.pwrite(fd, buf, n, off);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite")));

int fsync(int fd) {
  shim_resolve();
  if (shim_is_watched(fd) && should_fail(OP_FSYNC))
    return -1;
  return real.fsync(fd);
}

int fdatasync(int fd) {
  shim_resolve();
  if (shim_is_watched(fd) && should_fail(OP_FDATASYNC))
    return -1;
  return real.fdatasync(fd);
}

int ftruncate(int fd, off_t len) {
  shim_resolve();
  if (shim_is_watched(fd) && should_fail(OP_FTRUNCATE))
    return -1;
  return real.ftruncate(fd, len);
}
int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

int fallocate(int fd, int mode, off_t off, off_t len) {
  shim_resolve();
  if (shim_is_watched(fd) && should_fail(OP_FALLOCATE))
    return -1;
  return real.fallocate(fd, mode, off, len);
}
int fallocate64(int fd, int mode, off_t off, off_t len) __attribute__((alias("fallocate")));

int rename(const char *from, const char *to) {
  shim_resolve();
  if ((shim_under_dir(from) || shim_under_dir(to)) && should_fail(OP_RENAME))
    return -1;
  return real.rename(from, to);
}

int close(int fd) {
  shim_resolve();
  if (fd >= 0 && fd < SHIM_MAX_FD)
    shim_watched[fd] = 0;
  return real.close(fd);
}

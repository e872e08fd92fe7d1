/* shim_common.h: what the LD_PRELOAD shims share: the real libc functions (dlsym RTLD_NEXT), and
 * which descriptors belong to files under the watched directory. Included by one shim each. */
#ifndef QUARRY_SHIM_COMMON_H
#define QUARRY_SHIM_COMMON_H

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define SHIM_MAX_FD 65536

typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef int (*fd_fn)(int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*fallocate_fn)(int, int, off_t, off_t);
typedef int (*sfr_fn)(int, off_t, off_t, unsigned int);

static struct {
  open_fn open;
  openat_fn openat;
  write_fn write;
  pwrite_fn pwrite;
  fd_fn fsync, fdatasync, close;
  rename_fn rename;
  ftruncate_fn ftruncate;
  fallocate_fn fallocate;
  sfr_fn sync_file_range;
} real;

static char shim_dir[PATH_MAX];
static size_t shim_dir_len;
static pthread_mutex_t shim_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned char shim_watched[SHIM_MAX_FD]; /* 1: fd is a file under shim_dir */

static void shim_resolve(void) {
  if (real.open)
    return;
  real.openat = (openat_fn)dlsym(RTLD_NEXT, "openat");
  real.write = (write_fn)dlsym(RTLD_NEXT, "write");
  real.pwrite = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite");
  real.fsync = (fd_fn)dlsym(RTLD_NEXT, "fsync");
  real.fdatasync = (fd_fn)dlsym(RTLD_NEXT, "fdatasync");
  real.close = (fd_fn)dlsym(RTLD_NEXT, "close");
  real.rename = (rename_fn)dlsym(RTLD_NEXT, "rename");
  real.ftruncate = (ftruncate_fn)dlsym(RTLD_NEXT, "ftruncate");
  real.fallocate = (fallocate_fn)dlsym(RTLD_NEXT, "fallocate");
  real.sync_file_range = (sfr_fn)dlsym(RTLD_NEXT, "sync_file_range");
  real.open = (open_fn)dlsym(RTLD_NEXT, "open");
}

/* 1 when path (absolute, or relative to the working directory) lies under shim_dir. */
static int shim_under_dir(const char *path) {
  char abs[PATH_MAX * 2];
  if (shim_dir_len == 0 || path == NULL)
    return 0;
  if (path[0] != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == NULL)
      return 0;
    snprintf(abs, sizeof abs, "%s/%s", cwd, path);
    path = abs;
  }
  return strncmp(path, shim_dir, shim_dir_len) == 0 &&
         (path[shim_dir_len] == '/' || path[shim_dir_len] == '\0');
}

static void shim_init_dir(const char *env) {
  const char *d = getenv(env);
  if (d && *d) {
    char cwd[PATH_MAX];
    if (d[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
      snprintf(shim_dir, sizeof shim_dir, "%s", d);
    else
      snprintf(shim_dir, sizeof shim_dir, "%.2000s/%.2000s", cwd, d);
    shim_dir_len = strlen(shim_dir);
    while (shim_dir_len > 1 && shim_dir[shim_dir_len - 1] == '/')
      shim_dir[--shim_dir_len] = '\0';
  }
}

static int shim_is_watched(int fd) { return fd >= 0 && fd < SHIM_MAX_FD && shim_watched[fd]; }

static int shim_mode_arg(int flags, va_list ap) {
#ifdef O_TMPFILE
  if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
#else
  if (flags & O_CREAT)
#endif
    return va_arg(ap, int);
  return 0;
}

#endif

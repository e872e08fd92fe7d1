/* shim_powerloss.c: an LD_PRELOAD shim standing in for a power cut. Data written (write, pwrite,
 * ftruncate) to files under $QUARRY_SHIM_DIR is held in this process's memory and reaches the
 * file only at fsync/fdatasync (or close) of that descriptor. A SIGKILL then drops exactly what
 * was never synced, as a power loss drops the page cache.
 * Limits: close applies what is pending (a closed, unsynced file is treated as durable: the
 * shim is lenient there); directory entries (create, rename) are durable at once; reads of a file
 * with pending data see the old bytes (RocksDB does not read files it is writing). */
#include "shim_common.h"

typedef struct op {
  struct op *next;
  off_t off;    /* write offset, or the new size of a truncate */
  size_t len;   /* 0 with is_trunc */
  int is_trunc;
  char data[];
} op;

typedef struct {
  off_t pos;    /* logical file position */
  off_t size;   /* logical size (max of the real size and the pending writes) */
  int append;
  op *head, *tail;
} pending;

static pending *files[SHIM_MAX_FD];

__attribute__((constructor)) static void powerloss_init(void) {
  shim_resolve();
  shim_init_dir("QUARRY_SHIM_DIR");
}

static void track(int fd, const char *path, int flags) {
  pending *p;
  struct stat st;
  if (fd < 0 || fd >= SHIM_MAX_FD || (flags & O_ACCMODE) == O_RDONLY || !shim_under_dir(path))
    return;
  p = calloc(1, sizeof *p);
  if (p == NULL)
    return;
  if (fstat(fd, &st) == 0)
    p->size = st.st_size;
  p->append = (flags & O_APPEND) != 0;
  pthread_mutex_lock(&shim_lock);
  files[fd] = p;
  shim_watched[fd] = 1;
  pthread_mutex_unlock(&shim_lock);
}

/* Applies and frees the pending operations of fd (shim_lock held). Returns 0 or -1 (errno). */
static int apply_locked(int fd) {
  pending *p = files[fd];
  op *o, *next;
  int rc = 0;
  int fl = -1;
  if (p == NULL || p->head == NULL)
    return 0;
  if (p->append && (fl = fcntl(fd, F_GETFL)) >= 0) /* pwrite ignores the offset with O_APPEND */
    fcntl(fd, F_SETFL, fl & ~O_APPEND);
  for (o = p->head; o; o = next) {
    next = o->next;
    if (rc == 0) {
      if (o->is_trunc) {
        if (real.ftruncate(fd, o->off) != 0)
          rc = -1;
      } else {
        size_t done = 0;
        while (done < o->len) {
          ssize_t w = real.pwrite(fd, o->data + done, o->len - done, o->off + (off_t)done);
          if (w <= 0) {
            rc = -1;
            break;
          }
          done += (size_t)w;
        }
      }
    }
    free(o);
  }
  p->head = p->tail = NULL;
  if (fl >= 0)
    fcntl(fd, F_SETFL, fl);
  return rc;
}

static ssize_t hold(int fd, const void *buf, size_t n, off_t off, int use_pos) {
  pending *p;
  op *o = malloc(sizeof *o + n);
  if (o == NULL)
    return -1;
  pthread_mutex_lock(&shim_lock);
  p = files[fd];
  if (use_pos)
    off = p->append ? p->size : p->pos;
  o->next = NULL;
  o->off = off;
  o->len = n;
  o->is_trunc = 0;
  memcpy(o->data, buf, n);
  if (p->tail)
    p->tail->next = o;
  else
    p->head = o;
  p->tail = o;
  if (use_pos)
    p->pos = off + (off_t)n;
  if (off + (off_t)n > p->size)
    p->size = off + (off_t)n;
  pthread_mutex_unlock(&shim_lock);
  return (ssize_t)n;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  int mode, fd;
  shim_resolve();
  va_start(ap, flags);
  mode = shim_mode_arg(flags, ap);
  va_end(ap);
  fd = real.open(path, flags, mode);
  track(fd, path, flags);
  return fd;
}
int open64(const char *path, int flags, ...) __attribute__((alias("open")));

int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  int mode, fd;
  shim_resolve();
  va_start(ap, flags);
  mode = shim_mode_arg(flags, ap);
  va_end(ap);
  fd = real.openat(dirfd, path, flags, mode);
  if (dirfd == AT_FDCWD || (path[0] == '/'))
    track(fd, path, flags);
  return fd;
}
int openat64(int dirfd, const char *path, int flags, ...) __attribute__((alias("openat")));

int creat(const char *path, mode_t mode) { return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }

ssize_t write(int fd, const void *buf, size_t n) {
  shim_resolve();
  if (!shim_is_watched(fd))
    return real.write(fd, buf, n);
  return hold(fd, buf, n, 0, 1);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
  shim_resolve();
  if (!shim_is_watched(fd))
    return real.pwrite(fd, buf, n, off);
  return hold(fd, buf, n, off, 0);
}
ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) __attribute__((alias("pwrite")));

int ftruncate(int fd, off_t len) {
  op *o;
  pending *p;
  shim_resolve();
  if (!shim_is_watched(fd))
    return real.ftruncate(fd, len);
  if ((o = calloc(1, sizeof *o)) == NULL)
    return -1;
  o->off = len;
  o->is_trunc = 1;
  pthread_mutex_lock(&shim_lock);
  p = files[fd];
  if (p->tail)
    p->tail->next = o;
  else
    p->head = o;
  p->tail = o;
  p->size = len;
  pthread_mutex_unlock(&shim_lock);
  return 0;
}
int ftruncate64(int fd, off_t len) __attribute__((alias("ftruncate")));

static int sync_with(int fd, int data_only) {
  int rc;
  fd_fn fn;
  shim_resolve();
  fn = data_only ? real.fdatasync : real.fsync;
  if (!shim_is_watched(fd))
    return fn(fd);
  pthread_mutex_lock(&shim_lock);
  rc = apply_locked(fd);
  pthread_mutex_unlock(&shim_lock);
  return rc ? rc : fn(fd);
}

int fsync(int fd) { return sync_with(fd, 0); }
int fdatasync(int fd) { return sync_with(fd, 1); }

/* sync_file_range promises nothing about durability: the data stays held. */
int sync_file_range(int fd, off_t off, off_t n, unsigned int flags) {
  shim_resolve();
  if (shim_is_watched(fd))
    return 0;
  return real.sync_file_range(fd, off, n, flags);
}

int close(int fd) {
  shim_resolve();
  if (shim_is_watched(fd)) {
    pthread_mutex_lock(&shim_lock);
    apply_locked(fd);
    free(files[fd]);
    files[fd] = NULL;
    shim_watched[fd] = 0;
    pthread_mutex_unlock(&shim_lock);
  }
  return real.close(fd);
}

/* files.c: the filesystem steps that make a copy durable and a target safe to write: fsync of a
 * directory and of its parent, new/empty directory checks, private staging directories
 * (q_stage_open/close/sweep: checkpoints and restores), recursive removal, LOCK probes, and the durable
 * replacement of a file (quarry_file_*, the one write-fsync-rename-fsync sequence). */
#include "files.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int q_fsync_dir(const char *path) {
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0;
  if (fd < 0)
    return q_fail(QUARRY_EIO, "cannot open directory %s to sync it: %s", path, strerror(errno));
  if (fsync(fd) != 0)
    rc = q_fail(errno == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO, "fsync of directory %s failed: %s",
                path, strerror(errno));
  close(fd);
  return rc;
}

int q_trim_slashes(const char *path, char *buf, size_t cap) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/')
    n--;
  if (n >= cap)
    return q_fail(QUARRY_EINVAL, "path too long: %s", path);
  memcpy(buf, path, n);
  buf[n] = '\0';
  return 0;
}

int q_parent_dir(const char *path, char *buf, size_t cap) {
  size_t n = strlen(path);
  while (n > 1 && path[n - 1] == '/') /* "a/b/" is "a/b" */
    n--;
  while (n > 0 && path[n - 1] != '/')
    n--;
  while (n > 1 && path[n - 1] == '/')
    n--;
  if (n == 0) {
    if (cap < 2)
      return q_fail(QUARRY_EINVAL, "path too long: %s", path);
    strcpy(buf, ".");
    return 0;
  }
  if (n >= cap)
    return q_fail(QUARRY_EINVAL, "path too long: %s", path);
  memcpy(buf, path, n);
  buf[n] = '\0';
  return 0;
}

int q_fsync_parent(const char *path) {
  char parent[PATH_MAX];
  int rc = q_parent_dir(path, parent, sizeof parent);
  return rc ? rc : q_fsync_dir(parent);
}

int q_check_new_dir(const char *path, const char *what) {
  char parent[PATH_MAX];
  struct stat st;
  int rc;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "the %s must be a non-empty path", what);
  if (lstat(path, &st) == 0)
    return q_fail(QUARRY_EINVAL, "%s %s already exists; choose a new directory", what, path);
  if (errno != ENOENT)
    return q_fail(QUARRY_EIO, "cannot check %s %s: %s", what, path, strerror(errno));
  if ((rc = q_parent_dir(path, parent, sizeof parent)) != 0)
    return rc;
  if (stat(parent, &st) != 0)
    return q_fail(QUARRY_EIO, "the directory %s that should contain the %s %s does not exist (%s)",
                  parent, what, path, strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return q_fail(QUARRY_EIO, "%s, the parent of the %s %s, is not a directory", parent, what,
                  path);
  return 0;
}

/* Takes the write lock of the whole file fd, without waiting: 0, or -1 (EAGAIN: held). */
static int lock_owner(int fd) {
  struct flock fl;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  return fcntl(fd, F_OFD_SETLK, &fl);
}

int q_stage_open(const char *prefix, const char *name, q_stage *st) {
  char tmp[PATH_MAX], own[PATH_MAX];
  size_t dlen;
  int fd, e;
  st->fd = -1;
  st->dir[0] = st->inner[0] = '\0';
  if (snprintf(st->dir, sizeof st->dir, "%sXXXXXX", prefix) >= (int)sizeof st->dir ||
      (size_t)snprintf(st->inner, sizeof st->inner, "%s/%s", st->dir, name) >= sizeof st->inner ||
      (size_t)snprintf(tmp, sizeof tmp, "%s/%s.new", st->dir, Q_STAGE_OWNER) >= sizeof tmp) {
    st->dir[0] = '\0';
    errno = ENAMETOOLONG;
    return -1;
  }
  if (mkdtemp(st->dir) == NULL) {
    st->dir[0] = '\0';
    return -1;
  }
  /* mkdtemp filled dir in place: the paths under it start with the same number of bytes */
  dlen = strlen(st->dir);
  memcpy(st->inner, st->dir, dlen);
  memcpy(tmp, st->dir, dlen);
  memcpy(own, tmp, strlen(tmp) + 1);
  own[strlen(own) - 4] = '\0'; /* without ".new" */
  /* locked under a temporary name, then renamed: a sweeper never meets the owner file of a live
   * stage unlocked */
  fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0 || lock_owner(fd) != 0 || rename(tmp, own) != 0) {
    e = errno;
    if (fd >= 0)
      close(fd);
    q_remove_tree(st->dir);
    st->dir[0] = '\0';
    errno = e;
    return -1;
  }
  st->fd = fd;
  return 0;
}

int q_stage_close(q_stage *st) {
  int rc = 0;
  if (st->dir[0] != '\0')
    rc = q_remove_tree(st->dir); /* removed while still locked: never seen stale */
  if (st->fd >= 0)
    close(st->fd);
  st->fd = -1;
  st->dir[0] = '\0';
  return rc;
}

/* Puts dir/<rescue> of a stale stage (dfd) back at rescue_to if rescue_to is missing. */
static void rescue_from_stage(int sfd, const char *rescue, const char *rescue_to) {
  struct stat s;
  if (rescue == NULL || fstatat(sfd, rescue, &s, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(s.st_mode))
    return;
  if (lstat(rescue_to, &s) == 0 || errno != ENOENT)
    return; /* the new one is in place (or something else is): the stage's copy is the old one */
  if (renameat2(sfd, rescue, AT_FDCWD, rescue_to, RENAME_NOREPLACE) == 0)
    q_fsync_parent(rescue_to);
}

int q_stage_sweep(const char *prefix, const char *rescue, const char *rescue_to) {
  char parent[PATH_MAX], path[PATH_MAX];
  const char *slash = strrchr(prefix, '/'), *base = slash ? slash + 1 : prefix;
  size_t blen = strlen(base);
  struct dirent *e;
  DIR *d;
  int n = 0;
  if (slash == NULL)
    snprintf(parent, sizeof parent, ".");
  else if (slash == prefix)
    snprintf(parent, sizeof parent, "/");
  else if ((size_t)(slash - prefix) >= sizeof parent)
    return 0;
  else
    snprintf(parent, sizeof parent, "%.*s", (int)(slash - prefix), prefix);
  if ((d = opendir(parent)) == NULL)
    return 0;
  while ((e = readdir(d)) != NULL) {
    struct stat s;
    int sfd, ofd;
    if (strncmp(e->d_name, base, blen) != 0 || strlen(e->d_name) != blen + 6)
      continue;
    if (fstatat(dirfd(d), e->d_name, &s, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(s.st_mode) ||
        s.st_uid != geteuid() || (s.st_mode & 07777) != 0700)
      continue;
    if ((sfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
      continue;
    ofd = openat(sfd, Q_STAGE_OWNER, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (ofd >= 0 && lock_owner(ofd) == 0 &&
        (size_t)snprintf(path, sizeof path, "%s/%s", parent, e->d_name) < sizeof path) {
      rescue_from_stage(sfd, rescue, rescue_to);
      if (q_remove_tree(path) == 0)
        n++;
    }
    if (ofd >= 0)
      close(ofd);
    close(sfd);
  }
  closedir(d);
  return n;
}

int q_dir_is_empty(const char *path) {
  DIR *d = opendir(path);
  struct dirent *e;
  int empty = 1;
  if (d == NULL)
    return errno == ENOENT ? -1 : 0;
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
      empty = 0;
      break;
    }
  }
  closedir(d);
  return empty;
}

int q_remove_tree(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : q_fail(QUARRY_EIO, "cannot remove %s: %s", path, strerror(errno));
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    char buf[PATH_MAX];
    int rc = 0;
    if (d == NULL)
      return q_fail(QUARRY_EIO, "cannot remove %s: %s", path, strerror(errno));
    while (rc == 0 && (e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      if (snprintf(buf, sizeof buf, "%s/%s", path, e->d_name) >= (int)sizeof buf)
        rc = q_fail(QUARRY_EINVAL, "path too long under %s", path);
      else
        rc = q_remove_tree(buf);
    }
    closedir(d);
    if (rc)
      return rc;
    if (rmdir(path) != 0)
      return q_fail(QUARRY_EIO, "cannot remove %s: %s", path, strerror(errno));
    return 0;
  }
  if (unlink(path) != 0)
    return q_fail(QUARRY_EIO, "cannot remove %s: %s", path, strerror(errno));
  return 0;
}

int q_lock_holder(const char *dir) {
  char buf[PATH_MAX];
  struct flock fl;
  int fd, holder = 0;
  if (snprintf(buf, sizeof buf, "%s/LOCK", dir) >= (int)sizeof buf)
    return 0;
  fd = open(buf, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK; /* would a write lock conflict with anything? */
  fl.l_whence = SEEK_SET;
  /* F_OFD_GETLK only reports: it never takes or drops a lock. A POSIX lock holder is reported
   * with its pid; an OFD lock holder with -1 (then we cannot tell: say another process). */
  if (fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
    holder = fl.l_pid == getpid() ? 1 : 2;
  close(fd);
  return holder;
}

int q_read_file(const char *path, char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  *out = NULL;
  *len = 0;
  if (f == NULL)
    return q_fail(errno == ENOENT ? QUARRY_ENOTFOUND : QUARRY_EIO, "cannot read %s: %s", path,
                  strerror(errno));
  for (;;) {
    size_t got;
    if (cap - n < 4096) {
      char *grown = realloc(buf, cap ? cap * 2 : 8192);
      if (grown == NULL) {
        free(buf);
        fclose(f);
        return q_fail(QUARRY_ENOMEM, "out of memory");
      }
      buf = grown;
      cap = cap ? cap * 2 : 8192;
    }
    got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror(f)) {
    free(buf);
    fclose(f);
    return q_fail(QUARRY_EIO, "cannot read %s", path);
  }
  fclose(f);
  buf[n] = '\0';
  *out = buf;
  *len = n;
  return 0;
}

/* ---- durable replacement of a file (quarry_file_*) ----------------------------------------- */
struct quarry_file {
  int fd;
  int stream; /* 1: written straight to the target (a FIFO, a character device, stdout) */
  char *path; /* the target */
  char *tmp;  /* "<path>.tmp-XXXXXX"; NULL when streaming */
};

static int errno_code(int e) { return e == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO; }

/* Fills the last 6 characters of name with random letters and digits. */
static void random_suffix(char *name) {
  static const char alnum[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  unsigned char r[6];
  size_t i, n = strlen(name);
  if (getentropy(r, sizeof r) != 0) { /* no entropy source: still unique enough with O_EXCL */
    unsigned long x = (unsigned long)getpid() ^ (unsigned long)time(NULL) ^ (unsigned long)clock();
    for (i = 0; i < sizeof r; i++, x = x * 6364136223846793005UL + 1442695040888963407UL)
      r[i] = (unsigned char)(x >> 33);
  }
  for (i = 0; i < 6; i++)
    name[n - 6 + i] = alnum[r[i] % (sizeof alnum - 1)];
}

static void file_free(quarry_file *f) {
  if (f->fd >= 0)
    close(f->fd);
  free(f->path);
  free(f->tmp);
  free(f);
}

/* The name written in messages: the temporary file, or the target when streaming. */
static const char *file_name(const quarry_file *f) {
  if (!f->stream)
    return f->tmp;
  return strcmp(f->path, "-") == 0 ? "standard output" : f->path;
}

/* An output that is streamed to rather than replaced: a FIFO or a character device. */
static int is_stream_type(mode_t m) { return S_ISFIFO(m) || S_ISCHR(m); }

/* Opens the stream output of f->path (already known to be "-", /dev/stdout, /dev/stderr, a FIFO
 * or a character device, or a link to one of those: follow_link). */
static int open_stream(quarry_file *f, int follow_link) {
  struct stat st;
  f->stream = 1;
  if (strcmp(f->path, "-") == 0 || strcmp(f->path, "/dev/stdout") == 0)
    f->fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
  else if (strcmp(f->path, "/dev/stderr") == 0)
    f->fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
  else {
    /* no O_CREAT: nothing is made; O_NOFOLLOW when the name was not a link, so a link swapped
     * in since the lstat is refused (ELOOP) rather than written through */
    f->fd = open(f->path, O_WRONLY | O_CLOEXEC | O_NOCTTY | (follow_link ? 0 : O_NOFOLLOW));
    if (f->fd >= 0 && (fstat(f->fd, &st) != 0 || !is_stream_type(st.st_mode))) {
      close(f->fd);
      f->fd = -1;
      return q_fail(QUARRY_EINVAL, "%s changed while it was opened (no longer a FIFO or a "
                                   "character device); not written", f->path);
    }
  }
  if (f->fd < 0) {
    int e = errno;
    return q_fail(errno_code(e), "cannot open %s for writing: %s", file_name(f), strerror(e));
  }
  return 0;
}

/* Why the temporary file beside path could not be created, said about path's directory. */
static int create_failed(const quarry_file *f, int e) {
  char parent[PATH_MAX];
  struct stat st;
  if ((e == ENOENT || e == ENOTDIR) && q_parent_dir(f->path, parent, sizeof parent) == 0) {
    if (stat(parent, &st) != 0)
      return q_fail(QUARRY_EIO, "cannot write %s: the directory %s does not exist; create it "
                                "first or choose another path", f->path, parent);
    if (!S_ISDIR(st.st_mode))
      return q_fail(QUARRY_EIO, "cannot write %s: %s is not a directory", f->path, parent);
  }
  if (f->tmp == NULL)
    return q_fail(errno_code(e), "cannot write %s: %s", f->path, strerror(e));
  return q_fail(errno_code(e), "cannot create %s (to write %s): %s", f->tmp, f->path,
                strerror(e));
}

int quarry_file_create(const char *path, quarry_file **out) {
  quarry_file *f;
  struct stat st;
  size_t n;
  int tries, rc;
  *out = NULL;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "file_create: the path must be a non-empty string");
  n = strlen(path);
  if (n + 12 >= PATH_MAX)
    return q_fail(QUARRY_EINVAL, "file_create: path too long: %s", path);
  if ((f = calloc(1, sizeof *f)) == NULL || (f->path = strdup(path)) == NULL) {
    free(f);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  f->fd = -1;
  /* what the user named decides how it is written: a regular file (or nothing yet) is
   * replaced atomically; "-", a FIFO or a character device is streamed to; a symbolic link is
   * never replaced nor written through, unless it leads to a FIFO or a character device
   * (/dev/stdout, /dev/fd/N); anything else is refused */
  if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0 ||
      strcmp(path, "/dev/stderr") == 0) {
    rc = open_stream(f, 1);
  } else if (lstat(path, &st) != 0) {
    int e = errno;
    rc = e == ENOENT ? 0 : create_failed(f, e);
  } else if (S_ISLNK(st.st_mode)) {
    struct stat target;
    if (stat(path, &target) == 0 && is_stream_type(target.st_mode))
      rc = open_stream(f, 1);
    else
      rc = q_fail(QUARRY_EINVAL, "%s is a symbolic link: quarry neither replaces a link nor "
                                 "writes through one; give the link's target explicitly", path);
  } else if (is_stream_type(st.st_mode)) {
    rc = open_stream(f, 0);
  } else if (S_ISDIR(st.st_mode)) {
    rc = q_fail(QUARRY_EINVAL, "%s is a directory; give a file name", path);
  } else if (!S_ISREG(st.st_mode)) {
    rc = q_fail(QUARRY_EINVAL, "%s is not a regular file, a FIFO or a character device; not "
                               "replaced", path);
  } else {
    rc = 0;
  }
  if (rc != 0 || f->stream) {
    if (rc != 0)
      file_free(f);
    else
      *out = f;
    return rc;
  }
  if ((f->tmp = malloc(n + 12)) == NULL) {
    file_free(f);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  for (tries = 0; tries < 100 && f->fd < 0; tries++) {
    snprintf(f->tmp, n + 12, "%s.tmp-XXXXXX", path);
    random_suffix(f->tmp);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f->fd < 0 && errno != EEXIST)
      break;
  }
  if (f->fd < 0) {
    rc = create_failed(f, errno);
    file_free(f);
    return rc;
  }
  *out = f;
  return 0;
}

int quarry_file_write(quarry_file *f, const void *data, size_t len) {
  const char *p = data;
  while (len > 0) {
    ssize_t w = write(f->fd, p, len);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return q_fail(errno_code(errno), "cannot write %s: %s", file_name(f), strerror(errno));
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int quarry_file_commit(quarry_file *f) {
  int rc = 0;
  /* a stream is synced when it can be (stdout redirected to a file); a FIFO or a terminal
   * cannot (EINVAL) and has nothing to make durable */
  if (fsync(f->fd) != 0 && !(f->stream && (errno == EINVAL || errno == EROFS || errno == ENOTSUP)))
    rc = q_fail(errno_code(errno), "fsync of %s failed: %s", file_name(f), strerror(errno));
  if (close(f->fd) != 0 && rc == 0)
    rc = q_fail(errno_code(errno), "cannot close %s: %s", file_name(f), strerror(errno));
  f->fd = -1;
  if (f->stream) {
    file_free(f);
    return rc;
  }
  if (rc == 0 && rename(f->tmp, f->path) != 0)
    rc = q_fail(QUARRY_EIO, "cannot rename %s to %s: %s", f->tmp, f->path, strerror(errno));
  if (rc != 0) {
    unlink(f->tmp);
    file_free(f);
    return rc;
  }
  rc = q_fsync_parent(f->path); /* the rename is durable once the directory is */
  file_free(f);
  return rc;
}

void quarry_file_abort(quarry_file *f) {
  if (f == NULL)
    return;
  if (f->fd >= 0)
    close(f->fd);
  f->fd = -1;
  if (!f->stream)
    unlink(f->tmp);
  file_free(f);
}

int quarry_file_streaming(const quarry_file *f) { return f->stream; }

int quarry_file_mkdtemp(const char *prefix, char *buf, size_t cap) {
  const char *base = getenv("TMPDIR");
  struct stat st;
  if (prefix == NULL || *prefix == '\0')
    prefix = "quarry";
  if (strchr(prefix, '/') != NULL)
    return q_fail(QUARRY_EINVAL, "mkdtemp: the prefix must not contain '/': %s", prefix);
  if (base == NULL || base[0] != '/' || stat(base, &st) != 0 || !S_ISDIR(st.st_mode))
    base = "/tmp";
  if (snprintf(buf, cap, "%s%s%s.XXXXXX", base, base[strlen(base) - 1] == '/' ? "" : "/",
               prefix) >= (int)cap)
    return q_fail(QUARRY_EINVAL, "mkdtemp: path too long under %s", base);
  if (mkdtemp(buf) == NULL) { /* mode 0700, a new name: never an existing directory */
    int e = errno;
    return q_fail(errno_code(e), "cannot create a temporary directory under %s: %s", base,
                  strerror(e));
  }
  return 0;
}

const char *quarry_file_temp_path(const quarry_file *f) { return f->stream ? f->path : f->tmp; }

int quarry_file_write_atomic(const char *path, const void *data, size_t len) {
  quarry_file *f;
  int rc = quarry_file_create(path, &f);
  if (rc != 0)
    return rc;
  if ((rc = quarry_file_write(f, data, len)) != 0) {
    quarry_file_abort(f);
    return rc;
  }
  return quarry_file_commit(f);
}

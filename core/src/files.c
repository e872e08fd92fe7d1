/* files.c: the filesystem steps that make a copy durable and a target safe to write: fsync of a
 * directory and of its parent, new/empty directory checks, recursive removal, LOCK probes, and
 * the durable replacement of a file (quarry_file_*, the one write-fsync-rename-fsync sequence). */
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
  char *path; /* the target */
  char *tmp;  /* "<path>.tmp-XXXXXX" */
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

int quarry_file_create(const char *path, quarry_file **out) {
  quarry_file *f;
  size_t n;
  int tries;
  *out = NULL;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "file_create: the path must be a non-empty string");
  n = strlen(path);
  if (n + 12 >= PATH_MAX)
    return q_fail(QUARRY_EINVAL, "file_create: path too long: %s", path);
  if ((f = calloc(1, sizeof *f)) == NULL || (f->path = strdup(path)) == NULL ||
      (f->tmp = malloc(n + 12)) == NULL) {
    if (f != NULL) {
      free(f->path);
      free(f);
    }
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  f->fd = -1;
  for (tries = 0; tries < 100 && f->fd < 0; tries++) {
    snprintf(f->tmp, n + 12, "%s.tmp-XXXXXX", path);
    random_suffix(f->tmp);
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (f->fd < 0 && errno != EEXIST)
      break;
  }
  if (f->fd < 0) {
    int e = errno;
    int rc = q_fail(errno_code(e), "cannot create %s: %s", f->tmp, strerror(e));
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
      return q_fail(errno_code(errno), "cannot write %s: %s", f->tmp, strerror(errno));
    p += w;
    len -= (size_t)w;
  }
  return 0;
}

int quarry_file_commit(quarry_file *f) {
  int rc = 0;
  if (fsync(f->fd) != 0)
    rc = q_fail(errno_code(errno), "fsync of %s failed: %s", f->tmp, strerror(errno));
  if (close(f->fd) != 0 && rc == 0)
    rc = q_fail(errno_code(errno), "cannot close %s: %s", f->tmp, strerror(errno));
  f->fd = -1;
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
  unlink(f->tmp);
  file_free(f);
}

const char *quarry_file_temp_path(const quarry_file *f) { return f->tmp; }

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

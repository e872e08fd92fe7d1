/* files.c: the filesystem steps that make a copy durable and a target safe to write: fsync of a
 * directory and of its parent, new/empty directory checks, recursive removal, LOCK probes. */
#include "durable.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

int q_write_file_durable(const char *path, const char *data, size_t len) {
  char tmp[PATH_MAX];
  int fd, rc = 0;
  size_t off = 0;
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
    return q_fail(QUARRY_EINVAL, "path too long: %s", path);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return q_fail(QUARRY_EIO, "cannot create %s: %s", tmp, strerror(errno));
  while (off < len) {
    ssize_t w = write(fd, data + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0) {
      rc = q_fail(errno == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO, "cannot write %s: %s", tmp,
                  strerror(errno));
      break;
    }
    off += (size_t)w;
  }
  if (rc == 0 && fsync(fd) != 0)
    rc = q_fail(errno == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO, "fsync of %s failed: %s", tmp,
                strerror(errno));
  close(fd);
  if (rc == 0 && rename(tmp, path) != 0)
    rc = q_fail(QUARRY_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
  if (rc) {
    unlink(tmp);
    return rc;
  }
  return q_fsync_parent(path);
}

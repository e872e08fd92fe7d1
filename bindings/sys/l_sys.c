/* l_sys.c: the module quarry.sys: what the quarry command needs from the operating system and
 * that is not storage: the monotonic clock, the process id, atomic file replacement, and the
 * signal catcher (l_signal.c). */
#include "lsys.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* sys.clock(): seconds (float) from a monotonic clock, for timing (benchmarks, progress). */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}


/* sys.pid(): this process's id. */
static int l_pid(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)getpid());
  return 1;
}

/* ---- sys.write_atomic: the node_exporter textfile (and any file a reader polls) ------------- */
static int write_failed(lua_State *L, const char *what, const char *path, const char *tmp,
                        int fd) {
  int e = errno;
  if (fd >= 0)
    close(fd);
  if (tmp)
    unlink(tmp);
  return ql_raisef(L, e == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO, "write_atomic", "%s %s: %s",
                   what, path, strerror(e));
}

/* sys.write_atomic(path, data): writes data to a temporary file in path's directory, fsyncs
 * it, renames it over path and fsyncs the directory: a reader sees the old file or the new one,
 * never a part. The file gets mode 0644. */
static int l_write_atomic(lua_State *L) {
  size_t len, off = 0;
  const char *path = luaL_checkstring(L, 1), *data = luaL_checklstring(L, 2, &len);
  char tmp[PATH_MAX], dir[PATH_MAX], *slash;
  int fd;
  if (snprintf(tmp, sizeof tmp, "%s.tmp-XXXXXX", path) >= (int)sizeof tmp)
    return ql_raisef(L, QUARRY_EINVAL, "write_atomic", "path too long: %s", path);
  if ((fd = mkstemp(tmp)) < 0)
    return write_failed(L, "cannot create a temporary file beside", path, NULL, -1);
  while (off < len) {
    ssize_t n = write(fd, data + off, len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return write_failed(L, "cannot write", tmp, tmp, fd);
    off += (size_t)n;
  }
  if (fchmod(fd, 0644) != 0 || fsync(fd) != 0)
    return write_failed(L, "cannot sync", tmp, tmp, fd);
  if (close(fd) != 0)
    return write_failed(L, "cannot close", tmp, tmp, -1);
  if (rename(tmp, path) != 0)
    return write_failed(L, "cannot rename the temporary file to", path, tmp, -1);
  snprintf(dir, sizeof dir, "%s", path);
  slash = strrchr(dir, '/');
  if (slash == NULL)
    strcpy(dir, ".");
  else if (slash == dir)
    dir[1] = '\0';
  else
    *slash = '\0';
  if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    fsync(fd); /* the rename is durable once the directory is */
    close(fd);
  }
  return 0;
}

static const luaL_Reg sys_fns[] = {
  {"clock", l_clock},
  {"pid", l_pid},
  {"write_atomic", l_write_atomic},
  {NULL, NULL},
};

QL_EXPORT int luaopen_quarry_sys(lua_State *L) {
  luaL_newlib(L, sys_fns);
  ql_error_open(L);
  ql_signal_open(L);
  return 1;
}

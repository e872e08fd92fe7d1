/* l_sys.c: the module quarry.sys: what the quarry command needs from the operating system and
 * that is not storage: the monotonic clock, the process id, atomic file replacement, and the
 * signal catcher (l_signal.c), the outputs of the tools and scratch directories (l_output.c). */
#include "lsys.h"

#include <sys/ioctl.h>
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

/* sys.terminal_columns([fd]): the columns of the terminal on fd (default 2, stderr), or nil when fd
 * is not a terminal or its size is unknown (0). One ioctl: cheap enough for every redraw of a
 * progress line, so a resized terminal is followed without a SIGWINCH handler. */
static int l_terminal_columns(lua_State *L) {
  int fd = (int)luaL_optinteger(L, 1, 2);
  struct winsize ws;
  if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) {
    lua_pushnil(L);
    return 1;
  }
  lua_pushinteger(L, (lua_Integer)ws.ws_col);
  return 1;
}

/* ---- sys.write_atomic: the node_exporter textfile (and any file a reader polls) ------------- */
/* sys.write_atomic(path, data): the core's quarry_file_write_atomic (a temporary file in path's
 * directory, fsync, rename over path, fsync of the directory): a reader sees the old file or the
 * new one, never a part. */
static int l_write_atomic(lua_State *L) {
  size_t len;
  const char *path = luaL_checkstring(L, 1), *data = luaL_checklstring(L, 2, &len);
  int rc = quarry_file_write_atomic(path, data, len);
  if (rc != 0)
    return ql_raise(L, rc, "write_atomic");
  return 0;
}

static const luaL_Reg sys_fns[] = {
  {"clock", l_clock},
  {"pid", l_pid},
  {"terminal_columns", l_terminal_columns},
  {"write_atomic", l_write_atomic},
  {NULL, NULL},
};

QL_EXPORT int luaopen_quarry_sys(lua_State *L) {
  luaL_newlib(L, sys_fns);
  ql_error_open(L);
  ql_signal_open(L);
  ql_output_open(L);
  return 1;
}

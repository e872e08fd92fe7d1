/* l_output.c: sys.output, a file a tool writes through the core's quarry_file_* (a new temporary
 * file renamed over the target on close, or a stream for "-", a FIFO or a character device;
 * symbolic links refused), buffered; sys.mkdtemp, a new 0700 scratch directory; sys.file_kind. */
#include "lsys.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define OUTPUT_MT "quarry.sys.output"
#define OUTPUT_BUF 65536

typedef struct sys_output {
  quarry_file *f; /* NULL once closed or aborted */
  size_t len;
  char buf[OUTPUT_BUF];
} sys_output;

static sys_output *checkoutput(lua_State *L, int idx) {
  sys_output *o = luaL_checkudata(L, idx, OUTPUT_MT);
  if (o->f == NULL)
    ql_raisef(L, QUARRY_ECLOSED, "output", "closed: written to after close() or an error (open a new one with quarry.sys.output)");
  return o;
}

/* Raises rc after aborting the output (the target is untouched unless streamed to). */
QL_NORETURN static void ofail(lua_State *L, sys_output *o, int rc) {
  lua_pushstring(L, quarry_last_error());
  quarry_file_abort(o->f);
  o->f = NULL;
  ql_raisef(L, rc, "output", "%s", lua_tostring(L, -1));
}

static void oflush(lua_State *L, sys_output *o) {
  if (o->len > 0) {
    int rc = quarry_file_write(o->f, o->buf, o->len);
    o->len = 0;
    if (rc != 0)
      ofail(L, o, rc);
  }
}

/* o:write(s, ...): appends the strings (numbers are converted). */
static int o_write(lua_State *L) {
  sys_output *o = checkoutput(L, 1);
  int i, n = lua_gettop(L);
  for (i = 2; i <= n; i++) {
    size_t len;
    const char *s = luaL_checklstring(L, i, &len);
    if (o->len + len > OUTPUT_BUF)
      oflush(L, o);
    if (len >= OUTPUT_BUF) {
      int rc = quarry_file_write(o->f, s, len);
      if (rc != 0)
        ofail(L, o, rc);
    } else {
      memcpy(o->buf + o->len, s, len);
      o->len += len;
    }
  }
  return 0;
}

/* o:close(): writes what is buffered, fsyncs and renames over the target (or ends the stream). */
static int o_close(lua_State *L) {
  sys_output *o = luaL_checkudata(L, 1, OUTPUT_MT);
  quarry_file *f;
  int rc;
  if (o->f == NULL)
    return 0;
  oflush(L, o);
  f = o->f;
  o->f = NULL; /* commit frees it, whatever the result */
  if ((rc = quarry_file_commit(f)) != 0)
    return ql_raise(L, rc, "output");
  return 0;
}

/* o:abort(): drops the output (removes the temporary file). Idempotent. */
static int o_abort(lua_State *L) {
  sys_output *o = luaL_checkudata(L, 1, OUTPUT_MT);
  quarry_file_abort(o->f);
  o->f = NULL;
  o->len = 0;
  return 0;
}

/* o:streaming(): true when written straight to the target ("-", a FIFO, a character device). */
static int o_streaming(lua_State *L) {
  sys_output *o = checkoutput(L, 1);
  lua_pushboolean(L, quarry_file_streaming(o->f));
  return 1;
}

/* o:temp_path(): the temporary file's path (the target's when streaming), for messages. */
static int o_temp_path(lua_State *L) {
  sys_output *o = checkoutput(L, 1);
  lua_pushstring(L, quarry_file_temp_path(o->f));
  return 1;
}

/* __close: commit on a normal exit, abort on an error. */
static int o_toclose(lua_State *L) {
  if (!lua_isnil(L, 2))
    return o_abort(L);
  return o_close(L);
}

/* sys.output(path): see the docs (docs/lua-api.md). */
static int l_output(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  sys_output *o = lua_newuserdatauv(L, sizeof *o, 0);
  int rc;
  o->f = NULL;
  o->len = 0;
  luaL_setmetatable(L, OUTPUT_MT);
  if ((rc = quarry_file_create(path, &o->f)) != 0)
    return ql_raise(L, rc, "output");
  return 1;
}

/* sys.file_kind(path): what path names, not following a link (lstat): "file", "directory",
 * "link", "fifo", "char", "block", "socket"; nil and the reason when it cannot be told (ENOENT:
 * nil, "missing"). Opening a FIFO to learn its size would block: callers ask this first. */
static int l_file_kind(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  struct stat st;
  const char *k;
  if (lstat(path, &st) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, errno == ENOENT ? "missing" : strerror(errno));
    return 2;
  }
  k = S_ISREG(st.st_mode)    ? "file"
      : S_ISDIR(st.st_mode)  ? "directory"
      : S_ISLNK(st.st_mode)  ? "link"
      : S_ISFIFO(st.st_mode) ? "fifo"
      : S_ISCHR(st.st_mode)  ? "char"
      : S_ISBLK(st.st_mode)  ? "block"
                             : "socket";
  lua_pushstring(L, k);
  return 1;
}

/* sys.mkdtemp([prefix]): a new directory, mode 0700, under $TMPDIR or /tmp. */
static int l_mkdtemp(lua_State *L) {
  char buf[PATH_MAX];
  int rc = quarry_file_mkdtemp(luaL_optstring(L, 1, NULL), buf, sizeof buf);
  if (rc != 0)
    return ql_raise(L, rc, "mkdtemp");
  lua_pushstring(L, buf);
  return 1;
}

static const luaL_Reg output_methods[] = {
  {"write", o_write},         {"close", o_close},         {"abort", o_abort},
  {"streaming", o_streaming}, {"temp_path", o_temp_path}, {NULL, NULL},
};

void ql_output_open(lua_State *L) {
  if (luaL_newmetatable(L, OUTPUT_MT)) {
    luaL_newlib(L, output_methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, o_abort);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, o_toclose);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, l_output);
  lua_setfield(L, -2, "output");
  lua_pushcfunction(L, l_mkdtemp);
  lua_setfield(L, -2, "mkdtemp");
  lua_pushcfunction(L, l_file_kind);
  lua_setfield(L, -2, "file_kind");
}

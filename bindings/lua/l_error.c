/* l_error.c: quarry error objects ({code, message, op} with the shared metatable quarry.error),
 * the raise helpers every other file uses, boxes owning C memory, and quarry.is_error. */
#include "lquarry.h"

#include <stdarg.h>

void ql_push_error(lua_State *L, const char *code, const char *op, const char *message) {
  lua_createtable(L, 0, 3);
  lua_pushstring(L, code);
  lua_setfield(L, -2, "code");
  lua_pushstring(L, message);
  lua_setfield(L, -2, "message");
  lua_pushstring(L, op);
  lua_setfield(L, -2, "op");
  luaL_setmetatable(L, QL_ERROR);
}

/* Length of a leading "<core op>: " in msg (a lowercase identifier, e.g. "iter_next: "), else 0.
 * RocksDB's own texts start with a capital ("IO error: ") and are kept whole. */
static size_t core_op_prefix(const char *msg) {
  size_t i = 0;
  while ((msg[i] >= 'a' && msg[i] <= 'z') || msg[i] == '_')
    i++;
  return (i > 0 && msg[i] == ':' && msg[i + 1] == ' ') ? i + 2 : 0;
}

int ql_raise(lua_State *L, int rc, const char *op) {
  const char *msg = quarry_last_error();
  if (msg == NULL || msg[0] == '\0')
    msg = quarry_strerror(rc);
  else /* the core names its own operation; ours is in `op` */
    msg += core_op_prefix(msg);
  /* msg belongs to the core (thread-local buffer): ql_push_error copies it before raising. */
  ql_push_error(L, quarry_err_name(rc), op, msg);
  return lua_error(L);
}

int ql_raisef(lua_State *L, int rc, const char *op, const char *fmt, ...) {
  va_list ap;
  const char *msg;
  va_start(ap, fmt);
  msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  ql_push_error(L, quarry_err_name(rc), op, msg);
  return lua_error(L);
}

const char *ql_checkbytes(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_typeerror(L, idx, "string");
  return lua_tolstring(L, idx, len);
}

/* ---- the error metatable ------------------------------------------------------------------- */
static int error_tostring(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "op");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "quarry: %s: %s", luaL_optstring(L, 2, "?"), luaL_optstring(L, 3, "?"));
  return 1;
}

static int l_is_error(lua_State *L) {
  int yes = 0;
  if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, QL_ERROR);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  lua_pushboolean(L, yes);
  return 1;
}

/* ---- boxes ------------------------------------------------------------------------------- */
typedef struct {
  void *p;
  ql_free_fn fn;
} ql_box;

void **ql_box_new(lua_State *L, ql_free_fn fn) {
  ql_box *b = (ql_box *)lua_newuserdatauv(L, sizeof *b, 0);
  b->p = NULL;
  b->fn = fn;
  luaL_setmetatable(L, QL_BOX);
  return &b->p;
}

void ql_box_free(lua_State *L, int idx) {
  ql_box *b = (ql_box *)luaL_checkudata(L, idx, QL_BOX);
  void *p = b->p;
  b->p = NULL;
  if (p != NULL)
    b->fn(p);
}

static int box_gc(lua_State *L) {
  ql_box_free(L, 1);
  return 0;
}

void quarry_l_error_open(lua_State *L) {
  luaL_newmetatable(L, QL_ERROR);
  lua_pushcfunction(L, error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pop(L, 1);

  luaL_newmetatable(L, QL_BOX);
  lua_pushcfunction(L, box_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);

  lua_pushcfunction(L, l_is_error);
  lua_setfield(L, -2, "is_error");
}

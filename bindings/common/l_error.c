/* l_error.c: the quarry.error type: error objects {code, message, op} with one shared metatable,
 * the raise helpers every binding module uses, and quarry.is_error. */
#include "lcommon.h"

#include <stdarg.h>
#include <stdlib.h>

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
  lua_error(L);
  abort(); /* not reached: lua_error does not return */
}

int ql_raisef(lua_State *L, int rc, const char *op, const char *fmt, ...) {
  va_list ap;
  const char *msg;
  va_start(ap, fmt);
  msg = lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  ql_push_error(L, quarry_err_name(rc), op, msg);
  lua_error(L);
  abort(); /* not reached: lua_error does not return */
}

/* ---- the error metatable ------------------------------------------------------------------- */
static int error_tostring(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "op");
  lua_getfield(L, 1, "message");
  lua_pushfstring(L, "quarry: %s: %s", luaL_optstring(L, 2, "?"), luaL_optstring(L, 3, "?"));
  return 1;
}

int ql_is_error(lua_State *L) {
  int yes = 0;
  if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, QL_ERROR);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  lua_pushboolean(L, yes);
  return 1;
}

void ql_error_open(lua_State *L) {
  if (luaL_newmetatable(L, QL_ERROR)) { /* else another module registered it first */
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}

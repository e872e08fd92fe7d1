/* class.c: the helpers the binding modules use to declare their types (metatables with a
 * readable __name and a methods table) and to check their arguments. */
#include "lcommon.h"

void ql_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta) {
  luaL_newmetatable(L, tname); /* sets __name = tname */
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void ql_add_methods(lua_State *L, const char *tname, const luaL_Reg *methods) {
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

int ql_closed(lua_State *L, const char *tname, const char *op, int by_db) {
  ql_raisef(L, QUARRY_ECLOSED, op, "%s is closed%s", tname,
            by_db ? " (its database was closed)" : "");
}

const char *ql_checkpath(lua_State *L, int idx, int argn, const char *op) {
  if (lua_type(L, idx) == LUA_TNUMBER) /* luaL_checkstring would take it as its text */
    ql_raisef(L, QUARRY_EINVAL, op, "bad argument #%d to '%s' (path string expected, got number)",
              argn, op);
  return luaL_checkstring(L, idx); /* other types: Lua's own argument error */
}

const char *ql_checkbytes(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_typeerror(L, idx, "string");
  return lua_tolstring(L, idx, len);
}

/* l_json.c: the module quarry.json.core (luaopen_quarry_json_core): json.null, json.number, the
 * object and array metatables, json.keys, and the option helpers the other l_json*.c files share. */
#include "l_json.h"

#include <string.h>

/* ---- options --------------------------------------------------------------------------------- */

static int opt_get(lua_State *L, int idx, const char *name) {
  if (lua_isnoneornil(L, idx))
    return LUA_TNIL;
  return lua_getfield(L, idx, name);
}

int qj_optbool(lua_State *L, const char *op, int idx, const char *name, int def) {
  int t = opt_get(L, idx, name), v = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TBOOLEAN)
      return ql_raisef(L, QUARRY_EINVAL, op, "json: option %s: boolean expected, got %s", name, luaL_typename(L, -1));
    v = lua_toboolean(L, -1);
  }
  if (!lua_isnoneornil(L, idx))
    lua_pop(L, 1);
  return v;
}

lua_Integer qj_optint(lua_State *L, const char *op, int idx, const char *name, lua_Integer def,
                      lua_Integer lo, lua_Integer hi) {
  int t = opt_get(L, idx, name), ok = 0;
  lua_Integer v = def;
  if (t != LUA_TNIL) {
    v = lua_tointegerx(L, -1, &ok);
    if (!ok || v < lo || v > hi)
      ql_raisef(L, QUARRY_EINVAL, op, "json: option %s: integer in [%I, %I] expected", name, lo, hi);
  }
  if (!lua_isnoneornil(L, idx))
    lua_pop(L, 1);
  return v;
}

/* The string stays valid while the option table at idx is alive (it holds the value). */
const char *qj_optstring(lua_State *L, const char *op, int idx, const char *name, const char *def,
                         size_t *len) {
  int t = opt_get(L, idx, name);
  const char *s = def;
  if (t != LUA_TNIL) {
    if (t != LUA_TSTRING)
      ql_raisef(L, QUARRY_EINVAL, op, "json: option %s: string expected, got %s", name, luaL_typename(L, -1));
    s = lua_tolstring(L, -1, len);
  } else if (len != NULL) {
    *len = def ? strlen(def) : 0;
  }
  if (!lua_isnoneornil(L, idx))
    lua_pop(L, 1);
  return s;
}

void qj_checkopts(lua_State *L, const char *op, int idx, const char *const *known) {
  if (lua_isnoneornil(L, idx))
    return;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int found = 0;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -1);
      for (const char *const *p = known; *p != NULL; p++)
        if (strcmp(*p, k) == 0)
          found = 1;
      if (!found)
        ql_raisef(L, QUARRY_EINVAL, op, "json: unknown option \"%s\"", k);
    } else {
      ql_raisef(L, QUARRY_EINVAL, op, "json: option names are strings, got %s", luaL_typename(L, -1));
    }
  }
}

/* ---- json.number ----------------------------------------------------------------------------- */

int qj_valid_number(const char *s, size_t n) {
  size_t i = 0;
  if (i < n && s[i] == '-')
    i++;
  if (i >= n)
    return 0;
  if (s[i] == '0') {
    i++;
  } else if (s[i] >= '1' && s[i] <= '9') {
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
  } else {
    return 0;
  }
  if (i < n && s[i] == '.') {
    size_t d = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d)
      return 0;
  }
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    size_t d = i;
    while (i < n && s[i] >= '0' && s[i] <= '9')
      i++;
    if (i == d)
      return 0;
  }
  return i == n;
}

void qj_push_number_text(lua_State *L, const char *text, size_t len) {
  lua_createtable(L, 0, 1);
  lua_pushlstring(L, text, len);
  lua_setfield(L, -2, "text");
  luaL_setmetatable(L, QJ_NUMBER_MT);
}

/* The text of the json.number at idx (raises if it is not one). */
static const char *number_text(lua_State *L, int idx, size_t *len) {
  const char *s = NULL;
  if (lua_getmetatable(L, idx)) {
    luaL_getmetatable(L, QJ_NUMBER_MT);
    int is = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (is && lua_type(L, idx) == LUA_TTABLE) {
      lua_getfield(L, idx, "text");
      s = lua_tolstring(L, -1, len);
      lua_pop(L, 1); /* the table holds the string */
    }
  }
  if (s == NULL)
    luaL_typeerror(L, idx, QJ_NUMBER_MT);
  return s;
}

/* json.number(text | number) */
static int l_number(lua_State *L) {
  size_t len;
  if (lua_type(L, 1) == LUA_TNUMBER) {
    char buf[64];
    if (lua_isinteger(L, 1)) {
      len = (size_t)snprintf(buf, sizeof buf, LUA_INTEGER_FMT, lua_tointeger(L, 1));
    } else {
      lua_Number d = lua_tonumber(L, 1);
      if (d != d || d - d != 0)
        return ql_raisef(L, QUARRY_EINVAL, "json.number", "json.number: %f is not a JSON number", (double)d);
      lua_settop(L, 1);
      lua_pushvalue(L, lua_upvalueindex(1)); /* json.encode */
      lua_pushvalue(L, 1);
      lua_call(L, 1, 1);
      const char *s = lua_tolstring(L, -1, &len);
      qj_push_number_text(L, s, len);
      return 1;
    }
    qj_push_number_text(L, buf, len);
    return 1;
  }
  const char *s = luaL_checklstring(L, 1, &len);
  if (!qj_valid_number(s, len))
    return ql_raisef(L, QUARRY_EINVAL, "json.number", "json.number: \"%s\" is not a JSON number", s);
  qj_push_number_text(L, s, len);
  return 1;
}

static int number_value(lua_State *L) {
  size_t len;
  const char *s = number_text(L, 1, &len);
  if (lua_stringtonumber(L, s) == 0)
    return ql_raisef(L, QUARRY_EINVAL, "json.number", "json.number: \"%s\" is not convertible", s);
  return 1;
}

static int number_tostring(lua_State *L) {
  size_t len;
  number_text(L, 1, &len);
  lua_getfield(L, 1, "text");
  return 1;
}

static int number_eq(lua_State *L) {
  size_t la, lb;
  const char *a = number_text(L, 1, &la), *b = number_text(L, 2, &lb);
  lua_pushboolean(L, la == lb && memcmp(a, b, la) == 0);
  return 1;
}

/* ---- objects: json.keys and __pairs ---------------------------------------------------------- */

static int l_keys(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1)); /* the keys implementation of the encoder */
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  return 1;
}

static int pairs_step(lua_State *L) {
  lua_Integer i = lua_tointeger(L, lua_upvalueindex(2)) + 1;
  if (lua_rawgeti(L, lua_upvalueindex(1), i) == LUA_TNIL)
    return 1;
  lua_pushinteger(L, i);
  lua_replace(L, lua_upvalueindex(2));
  lua_pushvalue(L, -1);
  lua_rawget(L, 1);
  return 2;
}

/* __pairs of json.object_mt: the keys in json.keys order, then value. */
static int object_pairs(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  lua_pushinteger(L, 0);
  lua_pushcclosure(L, pairs_step, 2);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  return 3;
}

/* ---- the table ---------------------------------------------------------------------------------- */

QL_EXPORT int luaopen_quarry_json_core(lua_State *L) {
  lua_createtable(L, 0, 24); /* the json table */
  ql_error_open(L);

  luaL_newmetatable(L, QJ_ARRAY_MT);
  lua_setfield(L, -2, "array_mt");

  luaL_newmetatable(L, QJ_NUMBER_MT);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, number_value);
  lua_setfield(L, -2, "value");
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, number_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushcfunction(L, number_eq);
  lua_setfield(L, -2, "__eq");
  lua_setfield(L, -2, "number_mt");

  qj_pushnull(L);
  lua_setfield(L, -2, "null");

  luaL_newmetatable(L, QJ_OBJECT_MT);
  lua_setfield(L, -2, "object_mt");

  qj_decode_open(L);
  qj_encode_open(L); /* sets json.encode and json._keys */
  qj_reader_open(L);
  qj_writer_open(L);
  qj_lz4_open(L);

  /* functions built over the encoder's key order */
  lua_getfield(L, -1, "_keys");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, l_keys, 1);
  lua_setfield(L, -3, "keys");
  luaL_getmetatable(L, QJ_OBJECT_MT);
  lua_pushvalue(L, -2);
  lua_pushcclosure(L, object_pairs, 1);
  lua_setfield(L, -2, "__pairs");
  lua_pop(L, 2);
  lua_pushnil(L);
  lua_setfield(L, -2, "_keys");

  lua_getfield(L, -1, "encode");
  lua_pushcclosure(L, l_number, 1);
  lua_setfield(L, -2, "number");
  return 1;
}

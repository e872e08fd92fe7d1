/* l_options.c: Lua option tables to core options: open options (preset < env < explicit),
 * ropts / wopts / iopts, db:tuning() values, quarry.presets and quarry.option_list. */
#include "lquarry.h"

#include <string.h>

static void free_options(void *p) { quarry_options_free((quarry_options *)p); }

static const quarry_option_info *find_option(const char *name) {
  size_t i, n = 0;
  const quarry_option_info *list = quarry_option_list(&n);
  for (i = 0; i < n; i++)
    if (strcmp(list[i].name, name) == 0)
      return &list[i];
  return NULL;
}

/* Raises InvalidArgument: "<what> '<name>' must be <expected>, got <type of value at idx>". */
static int bad_value(lua_State *L, const char *op, const char *what, const char *name,
                     const char *expected, int idx) {
  return ql_raisef(L, QUARRY_EINVAL, op, "%s '%s' must be %s, got %s", what, name, expected,
                   luaL_typename(L, idx));
}

/* ---- open options -------------------------------------------------------------------------- */
static void set_explicit(lua_State *L, quarry_options *o, const char *name, int vidx) {
  const quarry_option_info *info = find_option(name);
  int rc = 0;
  if (info == NULL)
    ql_raisef(L, QUARRY_EINVAL, "open", "unknown option '%s'", name);
  switch (info->type) {
  case QUARRY_OPT_INT: {
    int isint = 0;
    lua_Integer v = lua_tointegerx(L, vidx, &isint);
    if (lua_type(L, vidx) != LUA_TNUMBER || !isint)
      bad_value(L, "open", "option", name, "an integer", vidx);
    rc = quarry_options_set_int(o, name, (int64_t)v);
    break;
  }
  case QUARRY_OPT_BOOL:
    if (lua_type(L, vidx) != LUA_TBOOLEAN)
      bad_value(L, "open", "option", name, "a boolean", vidx);
    rc = quarry_options_set_bool(o, name, lua_toboolean(L, vidx));
    break;
  case QUARRY_OPT_STRING:
    if (lua_type(L, vidx) != LUA_TSTRING)
      bad_value(L, "open", "option", name, "a string", vidx);
    rc = quarry_options_set_string(o, name, lua_tostring(L, vidx));
    break;
  default:
    ql_raisef(L, QUARRY_EINVAL, "open", "option '%s' has an unknown type", name);
  }
  if (rc < 0)
    ql_raise(L, rc, "open");
}

static void add_families(lua_State *L, quarry_options *o, int vidx) {
  lua_Integer i, n;
  if (lua_type(L, vidx) != LUA_TTABLE)
    bad_value(L, "open", "option", "column_families", "a table of names", vidx);
  n = (lua_Integer)lua_rawlen(L, vidx);
  for (i = 1; i <= n; i++) {
    int rc;
    if (lua_rawgeti(L, vidx, i) != LUA_TSTRING)
      ql_raisef(L, QUARRY_EINVAL, "open", "option 'column_families': entry %d must be a string, got %s",
                (int)i, luaL_typename(L, -1));
    rc = quarry_options_add_column_family(o, lua_tostring(L, -1));
    if (rc < 0)
      ql_raise(L, rc, "open");
    lua_pop(L, 1);
  }
}

quarry_options *ql_open_options(lua_State *L, int idx) {
  const char *preset = NULL, *name;
  int env = 1, rc;
  quarry_options *o = NULL;
  void **slot;
  idx = lua_absindex(L, idx);
  if (!lua_isnoneornil(L, idx)) {
    luaL_checktype(L, idx, LUA_TTABLE);
    if (lua_getfield(L, idx, "preset") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        bad_value(L, "open", "option", "preset", "a string", -1);
      preset = lua_tostring(L, -1); /* anchored by the options table */
    }
    if (lua_getfield(L, idx, "env") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TBOOLEAN)
        bad_value(L, "open", "option", "env", "a boolean", -1);
      env = lua_toboolean(L, -1);
    }
    lua_pop(L, 2);
  }
  slot = ql_box_new(L, free_options);
  rc = quarry_options_new(preset, &o);
  *slot = o;
  if (rc < 0)
    ql_raise(L, rc, "open");
  if (env && (rc = quarry_options_apply_env(o)) < 0)
    ql_raise(L, rc, "open");
  if (lua_isnoneornil(L, idx))
    return o;
  lua_pushnil(L);
  while ((name = ql_next_option(L, idx, "open", "option")) != NULL) {
    if (strcmp(name, "preset") == 0 || strcmp(name, "env") == 0)
      ; /* applied above */
    else if (strcmp(name, "column_families") == 0)
      add_families(L, o, lua_gettop(L));
    else
      set_explicit(L, o, name, lua_gettop(L));
    lua_pop(L, 1);
  }
  return o;
}

/* ---- per-call option tables ---------------------------------------------------------------- */
const char *ql_next_option(lua_State *L, int idx, const char *op, const char *what) {
  if (!lua_next(L, idx))
    return NULL;
  if (lua_type(L, -2) != LUA_TSTRING)
    ql_raisef(L, QUARRY_EINVAL, op, "%s names must be strings, got %s", what,
              luaL_typename(L, -2));
  return lua_tostring(L, -2);
}

static int opt_bool(lua_State *L, const char *op, const char *what, const char *name) {
  if (lua_type(L, -1) != LUA_TBOOLEAN)
    bad_value(L, op, what, name, "a boolean", -1);
  return lua_toboolean(L, -1);
}

static const quarry_snapshot *opt_snapshot(lua_State *L, const char *op, const char *what,
                                           const ql_db *owner) {
  ql_snapshot *s = (ql_snapshot *)luaL_testudata(L, -1, QL_SNAPSHOT);
  if (s == NULL)
    bad_value(L, op, what, "snapshot", "a quarry.snapshot", -1);
  s = ql_checksnapshot(L, -1, op);
  if (s->owner != owner)
    ql_raisef(L, QUARRY_EINVAL, op, "%s 'snapshot' belongs to another database", what);
  return s->s;
}

static int check_table(lua_State *L, int idx) {
  if (lua_isnoneornil(L, idx))
    return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  return 1;
}

void ql_read_options(lua_State *L, int idx, const ql_db *owner, const char *op,
                     quarry_read_options *ro) {
  static const quarry_read_options init = QUARRY_READ_OPTIONS_INIT;
  const char *name;
  *ro = init;
  if (!check_table(L, idx))
    return;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while ((name = ql_next_option(L, idx, op, "read option")) != NULL) {
    if (strcmp(name, "snapshot") == 0)
      ro->snapshot = opt_snapshot(L, op, "read option", owner);
    else if (strcmp(name, "fill_cache") == 0)
      ro->fill_cache = opt_bool(L, op, "read option", name);
    else if (strcmp(name, "verify_checksums") == 0)
      ro->verify_checksums = opt_bool(L, op, "read option", name);
    else
      ql_raisef(L, QUARRY_EINVAL, op, "unknown read option '%s'", name);
    lua_pop(L, 1);
  }
}

void ql_write_options(lua_State *L, int idx, const char *op, quarry_write_options *wo) {
  static const quarry_write_options init = QUARRY_WRITE_OPTIONS_INIT;
  const char *name;
  *wo = init;
  if (!check_table(L, idx))
    return;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while ((name = ql_next_option(L, idx, op, "write option")) != NULL) {
    if (strcmp(name, "sync") == 0)
      wo->sync = opt_bool(L, op, "write option", name);
    else if (strcmp(name, "wal") == 0)
      wo->wal = opt_bool(L, op, "write option", name);
    else
      ql_raisef(L, QUARRY_EINVAL, op, "unknown write option '%s'", name);
    lua_pop(L, 1);
  }
}

static const char *opt_bytes(lua_State *L, const char *op, const char *name, size_t *len) {
  if (lua_type(L, -1) != LUA_TSTRING)
    bad_value(L, op, "iterator option", name, "a string", -1);
  return lua_tolstring(L, -1, len); /* anchored by the options table */
}

int ql_iter_options(lua_State *L, int idx, const ql_db *owner, const char *op,
                    quarry_iter_options *io) {
  static const quarry_iter_options init = QUARRY_ITER_OPTIONS_INIT;
  const char *name;
  int has_snapshot = 0;
  *io = init;
  if (!check_table(L, idx))
    return 0;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while ((name = ql_next_option(L, idx, op, "iterator option")) != NULL) {
    if (strcmp(name, "from") == 0)
      io->from = opt_bytes(L, op, name, &io->from_len);
    else if (strcmp(name, "to") == 0)
      io->to = opt_bytes(L, op, name, &io->to_len);
    else if (strcmp(name, "prefix") == 0)
      io->prefix = opt_bytes(L, op, name, &io->prefix_len);
    else if (strcmp(name, "reverse") == 0)
      io->reverse = opt_bool(L, op, "iterator option", name);
    else if (strcmp(name, "keys_only") == 0)
      io->keys_only = opt_bool(L, op, "iterator option", name);
    else if (strcmp(name, "fill_cache") == 0)
      io->fill_cache = opt_bool(L, op, "iterator option", name);
    else if (strcmp(name, "limit") == 0) {
      int isint = 0;
      lua_Integer n = lua_tointegerx(L, -1, &isint);
      if (lua_type(L, -1) != LUA_TNUMBER || !isint || n < 0)
        return ql_raisef(L, QUARRY_EINVAL, op,
                  "iterator option 'limit' must be a non-negative integer, got %s",
                  lua_type(L, -1) == LUA_TNUMBER ? lua_tostring(L, -1) : luaL_typename(L, -1));
      io->limit = (int64_t)n;
    } else if (strcmp(name, "snapshot") == 0) {
      io->snapshot = opt_snapshot(L, op, "iterator option", owner);
      has_snapshot = 1;
    } else
      return ql_raisef(L, QUARRY_EINVAL, op, "unknown iterator option '%s'", name);
    lua_pop(L, 1);
  }
  return has_snapshot;
}

/* ---- tuning values ------------------------------------------------------------------------- */
void ql_push_tuning(lua_State *L, const quarry_options *opts) {
  size_t i, n = 0;
  const quarry_option_info *list = quarry_option_list(&n);
  lua_createtable(L, 0, (int)n);
  for (i = 0; i < n; i++) {
    int64_t num = 0;
    const char *str = NULL;
    if (!list[i].tuning || quarry_options_get(opts, list[i].name, &num, &str) < 0)
      continue;
    switch (list[i].type) {
    case QUARRY_OPT_INT: lua_pushinteger(L, (lua_Integer)num); break;
    case QUARRY_OPT_BOOL: lua_pushboolean(L, num != 0); break;
    default: lua_pushstring(L, str); break;
    }
    lua_setfield(L, -2, list[i].name);
  }
}

static const char *type_name(quarry_opt_type t) {
  switch (t) {
  case QUARRY_OPT_INT: return "integer";
  case QUARRY_OPT_BOOL: return "boolean";
  default: return "string";
  }
}

void ql_options_open(lua_State *L) {
  const char *const *names = quarry_preset_names();
  const quarry_option_info *list;
  size_t i, n = 0;

  /* quarry.presets = { default = {...}, production = {...}, development = {...} } */
  lua_newtable(L);
  for (; *names != NULL; names++) {
    quarry_options *o = NULL;
    void **slot = ql_box_new(L, free_options);
    int rc = quarry_options_new(*names, &o);
    *slot = o;
    if (rc < 0)
      ql_raise(L, rc, "presets");
    ql_push_tuning(L, o);
    lua_setfield(L, -3, *names);
    ql_box_free(L, -1);
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "presets");

  /* quarry.option_list = { {name =, type =, tuning =, doc =}, ... } */
  list = quarry_option_list(&n);
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    lua_pushstring(L, list[i].name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, type_name(list[i].type));
    lua_setfield(L, -2, "type");
    lua_pushboolean(L, list[i].tuning);
    lua_setfield(L, -2, "tuning");
    lua_pushstring(L, list[i].doc ? list[i].doc : "");
    lua_setfield(L, -2, "doc");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "option_list");
}

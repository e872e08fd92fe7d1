/* l_backup.c: the quarry.backups handle (a backup directory: create, list, verify, restore,
 * purge) and the module function quarry.backups(dir [, opts]). */
#include "lquarry.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
  quarry_backups *b; /* NULL once closed */
} ql_backups;

static ql_backups *tobackups(lua_State *L, int idx) {
  return (ql_backups *)luaL_checkudata(L, idx, QL_BACKUPS);
}

static ql_backups *checkbackups(lua_State *L, int idx, const char *op) {
  ql_backups *h = tobackups(L, idx);
  if (h->b == NULL)
    ql_closed(L, QL_BACKUPS, op, 0);
  return h;
}

static int opt_bool(lua_State *L, const char *op, const char *name) {
  if (lua_type(L, -1) != LUA_TBOOLEAN)
    return ql_raisef(L, QUARRY_EINVAL, op, "%s option '%s' must be a boolean, got %s", op, name,
              luaL_typename(L, -1));
  return lua_toboolean(L, -1);
}

static uint32_t opt_count(lua_State *L, const char *op, const char *name, lua_Integer min) {
  lua_Integer v;
  if (!lua_isinteger(L, -1) || (v = lua_tointeger(L, -1)) < min || v > (lua_Integer)UINT32_MAX)
    ql_raisef(L, QUARRY_EINVAL, op, "%s option '%s' must be an integer >= %d, got %s", op, name,
              (int)min, luaL_tolstring(L, -1, NULL));
  return (uint32_t)lua_tointeger(L, -1);
}

/* A backup id argument: an integer >= 1, or "latest". */
static uint32_t check_id(lua_State *L, int idx, const char *op) {
  if (lua_type(L, idx) == LUA_TSTRING && strcmp(lua_tostring(L, idx), "latest") == 0)
    return QUARRY_BACKUP_LATEST;
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (v >= 1 && v <= (lua_Integer)UINT32_MAX)
      return (uint32_t)v;
  }
  ql_raisef(L, QUARRY_EINVAL, op, "the backup id must be an integer >= 1 or \"latest\", got %s",
            luaL_tolstring(L, idx, NULL));
  return 0;
}

/* ---- quarry.backups(dir [, opts]) ----------------------------------------------------------- */
static int l_backups(lua_State *L) {
  const char *dir = ql_checkpath(L, 1, 1, "backups");
  quarry_backup_options o = QUARRY_BACKUP_OPTIONS_INIT;
  const char *name;
  ql_backups *h;
  int rc;
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while ((name = ql_next_option(L, 2, "backups", "backups option")) != NULL) {
      if (strcmp(name, "max_backups") == 0)
        o.max_backups = opt_count(L, "backups", name, 0);
      else if (strcmp(name, "share_table_files") == 0)
        o.share_table_files = opt_bool(L, "backups", name);
      else if (strcmp(name, "create_if_missing") == 0)
        o.create_if_missing = opt_bool(L, "backups", name);
      else
        return ql_raisef(L, QUARRY_EINVAL, "backups", "unknown backups option '%s'", name);
      lua_pop(L, 1);
    }
  }
  lua_settop(L, 1);
  h = (ql_backups *)lua_newuserdatauv(L, sizeof *h, 1);
  h->b = NULL;
  luaL_setmetatable(L, QL_BACKUPS);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the directory, for tostring */
  rc = quarry_backups_open(dir, &o, &h->b);
  if (rc < 0)
    return ql_raise(L, rc, "backups");
  return 1;
}

/* ---- methods -------------------------------------------------------------------------------- */
static int backups_create(lua_State *L) {
  ql_backups *h = checkbackups(L, 1, "backup");
  ql_db *d = ql_checkdb(L, 2, "backup");
  int flush = 1, rc;
  uint32_t id = 0;
  const char *name;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while ((name = ql_next_option(L, 3, "backup", "backup option")) != NULL) {
      if (strcmp(name, "flush") == 0)
        flush = opt_bool(L, "backup", name);
      else
        return ql_raisef(L, QUARRY_EINVAL, "backup", "unknown backup option '%s'", name);
      lua_pop(L, 1);
    }
  }
  rc = quarry_backups_create(h->b, d->db, flush, &id);
  if (rc < 0)
    return ql_raise(L, rc, "backup");
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int backups_list(lua_State *L) {
  ql_backups *h = checkbackups(L, 1, "backup_list");
  quarry_backup_info *list = NULL;
  size_t n = 0, i;
  void **slot = ql_box_new(L, free);
  int rc = quarry_backups_list(h->b, &list, &n);
  *slot = list;
  if (rc < 0)
    return ql_raise(L, rc, "backup_list");
  lua_createtable(L, (int)n, 0);
  for (i = 0; i < n; i++) {
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, (lua_Integer)list[i].id);
    lua_setfield(L, -2, "id");
    lua_pushinteger(L, (lua_Integer)list[i].timestamp);
    lua_setfield(L, -2, "timestamp");
    lua_pushinteger(L, (lua_Integer)list[i].size);
    lua_setfield(L, -2, "size");
    lua_pushinteger(L, (lua_Integer)list[i].files);
    lua_setfield(L, -2, "files");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  ql_box_free(L, -2);
  return 1;
}

/* The id a call resolved "latest" to: the newest in the list (0 when there is none). */
static uint32_t latest_id(quarry_backups *b) {
  quarry_backup_info *list = NULL;
  size_t n = 0;
  uint32_t id = 0;
  if (quarry_backups_list(b, &list, &n) == 0 && n > 0)
    id = list[n - 1].id;
  free(list);
  return id;
}

static int backups_verify(lua_State *L) {
  ql_backups *h = checkbackups(L, 1, "backup_verify");
  uint32_t id = check_id(L, 2, "backup_verify");
  int deep = 0, shallow = 0, rc;
  const char *name;
  if (!lua_isnoneornil(L, 3)) {
    luaL_checktype(L, 3, LUA_TTABLE);
    lua_pushnil(L);
    while ((name = ql_next_option(L, 3, "backup_verify", "backup_verify option")) != NULL) {
      if (strcmp(name, "deep") == 0)
        deep = opt_bool(L, "backup_verify", name);
      else if (strcmp(name, "shallow") == 0)
        shallow = opt_bool(L, "backup_verify", name);
      else
        return ql_raisef(L, QUARRY_EINVAL, "backup_verify", "unknown backup_verify option '%s'", name);
      lua_pop(L, 1);
    }
  }
  if (id == QUARRY_BACKUP_LATEST && (id = latest_id(h->b)) == 0)
    id = QUARRY_BACKUP_LATEST; /* none: the core reports it */
  if (deep && shallow)
    return ql_raisef(L, QUARRY_EINVAL, "backup_verify",
                     "backup_verify options 'deep' and 'shallow' exclude each other");
  rc = quarry_backups_verify(h->b, id, shallow ? QUARRY_BACKUP_VERIFY_SHALLOW : deep);
  if (rc < 0)
    return ql_raise(L, rc, "backup_verify");
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* backups:restore(id | "latest", db_dir [, wal_dir] [, {overwrite = bool, wal_dir = dir}]) */
static int backups_restore(lua_State *L) {
  ql_backups *h = checkbackups(L, 1, "restore");
  uint32_t id = check_id(L, 2, "restore");
  const char *db_dir = ql_checkpath(L, 3, 2, "restore"), *name;
  quarry_restore_options ro = QUARRY_RESTORE_OPTIONS_INIT;
  int opts = 4, rc;
  if (lua_type(L, 4) == LUA_TSTRING) {
    ro.wal_dir = lua_tostring(L, 4);
    opts = 5;
  } else if (lua_isnil(L, 4)) {
    opts = 5;
  }
  if (!lua_isnoneornil(L, opts)) {
    luaL_checktype(L, opts, LUA_TTABLE);
    lua_pushnil(L);
    while ((name = ql_next_option(L, opts, "restore", "restore option")) != NULL) {
      if (strcmp(name, "overwrite") == 0) {
        ro.overwrite = opt_bool(L, "restore", name);
      } else if (strcmp(name, "wal_dir") == 0) {
        if (lua_type(L, -1) != LUA_TSTRING)
          return ql_raisef(L, QUARRY_EINVAL, "restore", "restore option 'wal_dir' must be a string");
        ro.wal_dir = lua_tostring(L, -1); /* anchored by the options table */
      } else {
        return ql_raisef(L, QUARRY_EINVAL, "restore", "unknown restore option '%s'", name);
      }
      lua_pop(L, 1);
    }
  }
  if (id == QUARRY_BACKUP_LATEST && (id = latest_id(h->b)) == 0)
    id = QUARRY_BACKUP_LATEST;
  rc = quarry_backups_restore(h->b, id, db_dir, &ro);
  if (rc < 0)
    return ql_raise(L, rc, "restore");
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int backups_purge(lua_State *L) {
  ql_backups *h = checkbackups(L, 1, "purge");
  lua_Integer keep = luaL_checkinteger(L, 2);
  int rc;
  if (keep < 0 || keep > (lua_Integer)UINT32_MAX)
    return ql_raisef(L, QUARRY_EINVAL, "purge", "keep must be an integer >= 0, got %I", keep);
  rc = quarry_backups_purge(h->b, (uint32_t)keep);
  if (rc < 0)
    return ql_raise(L, rc, "purge");
  return 0;
}

static int backups_dir(lua_State *L) {
  lua_pushstring(L, quarry_backups_dir(checkbackups(L, 1, "dir")->b));
  return 1;
}

static int backups_close(lua_State *L) {
  ql_backups *h = tobackups(L, 1);
  quarry_backups *b = h->b;
  h->b = NULL; /* closed before destroyed */
  quarry_backups_close(b);
  return 0;
}

static int backups_tostring(lua_State *L) {
  ql_backups *h = tobackups(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "%s (%s, %s)", QL_BACKUPS, luaL_optstring(L, -1, "?"),
                  h->b ? "open" : "closed");
  return 1;
}

static const luaL_Reg backups_methods[] = {
  {"create", backups_create},
  {"list", backups_list},
  {"verify", backups_verify},
  {"restore", backups_restore},
  {"purge", backups_purge},
  {"dir", backups_dir},
  {"close", backups_close},
  {NULL, NULL},
};

static const luaL_Reg backups_meta[] = {
  {"__gc", backups_close},
  {"__close", backups_close},
  {"__tostring", backups_tostring},
  {NULL, NULL},
};

void ql_backup_open(lua_State *L) {
  ql_newclass(L, QL_BACKUPS, backups_methods, backups_meta);
  lua_pushcfunction(L, l_backups);
  lua_setfield(L, -2, "backups");
}

/* l_db.c: the quarry.db type (db.c: open, close, tostring, path, mode, tuning, destroy) and the
 * data operations of rw.c shared by db and cf (get, multi_get, put, put_many, delete, ...). */
#include "lquarry.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- accessors ----------------------------------------------------------------------------- */
ql_db *ql_todb(lua_State *L, int idx) { return (ql_db *)luaL_checkudata(L, idx, QL_DB); }

ql_db *ql_checkdb(lua_State *L, int idx, const char *op) {
  ql_db *d = ql_todb(L, idx);
  if (d->db == NULL)
    ql_closed(L, QL_DB, op, 0);
  return d;
}

/* Is the value at idx a userdata with metatable tname? (no error) */
static int is_type(lua_State *L, int idx, const char *tname) {
  int yes;
  if (!lua_getmetatable(L, idx))
    return 0;
  luaL_getmetatable(L, tname);
  yes = lua_rawequal(L, -1, -2);
  lua_pop(L, 2);
  return yes;
}

ql_db *ql_checktarget(lua_State *L, int idx, const char *op, quarry_cf **cf) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL) {
    if (is_type(L, idx, QL_DB)) {
      ql_db *d = (ql_db *)p;
      if (d->db == NULL)
        ql_closed(L, QL_DB, op, 0);
      *cf = NULL;
      return d;
    }
    if (is_type(L, idx, QL_CF)) {
      ql_cf *c = ql_checkcf(L, idx, op);
      *cf = c->cf;
      return c->owner;
    }
  }
  luaL_typeerror(L, idx, "quarry.db or quarry.cf");
  return NULL;
}

void ql_push_owner(lua_State *L, int idx) {
  if (is_type(L, idx, QL_CF))
    lua_getiuservalue(L, idx, 1);
  else
    lua_pushvalue(L, idx);
}

quarry_cf *ql_optcf(lua_State *L, int idx, const ql_db *owner, const char *op) {
  ql_cf *c;
  if (lua_isnoneornil(L, idx))
    return NULL;
  if (luaL_testudata(L, idx, QL_CF) == NULL)
    luaL_typeerror(L, idx, "quarry.cf or nil");
  c = ql_checkcf(L, idx, op);
  if (c->owner != owner)
    ql_raisef(L, QUARRY_EINVAL, op, "the column family belongs to another database");
  return c->cf;
}

/* ---- values read but not yet pushed ---------------------------------------------------------
 * A pinned value (or db:seek's iterator) must be freed before its db closes, and lua_pushlstring
 * may raise (out of memory) with the value still unpushed. So the value is parked in the db
 * userdata while it is pushed; anything left there by an error is freed on the next read or when
 * the db closes. */
void ql_release_pending(ql_db *d) {
  if (d->pending_iter != NULL) {
    quarry_iter *it = d->pending_iter;
    d->pending_iter = NULL;
    quarry_iter_close(it);
  }
  if (d->pending != NULL) {
    quarry_value *v = d->pending;
    d->pending = NULL;
    quarry_value_free(v);
  }
  if (d->pending_vals != NULL) {
    size_t i;
    for (i = 0; i < d->pending_n; i++) {
      quarry_value *v = d->pending_vals[i];
      d->pending_vals[i] = NULL;
      quarry_value_free(v);
    }
    d->pending_vals = NULL;
    d->pending_n = 0;
  }
}

/* ---- quarry.open / close ------------------------------------------------------------------- */
static int l_open(lua_State *L) {
  const char *path = ql_checkpath(L, 1, 1, "open");
  quarry_options *o;
  quarry_db *db = NULL;
  int rc;
  ql_db *d;
  lua_settop(L, 2);
  d = (ql_db *)lua_newuserdatauv(L, sizeof *d, QL_DB_NUV);
  memset(d, 0, sizeof *d);
  luaL_setmetatable(L, QL_DB);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  o = ql_open_options(L, 2); /* pushes the box owning o */
  rc = quarry_db_open(path, o, &db);
  ql_box_free(L, -1);
  lua_pop(L, 1);
  if (rc < 0)
    return ql_raise(L, rc, "open");
  d->db = db;
  /* tostring shows the path as the core gives it: a server URL without its password */
  lua_pushstring(L, quarry_db_path(db));
  lua_setiuservalue(L, -2, 1);
  return 1;
}

static int close_db(lua_State *L, int raise) {
  ql_db *d = ql_todb(L, 1);
  quarry_db *db = d->db;
  int rc;
  if (db == NULL)
    return 0;
  ql_release_pending(d);
  d->db = NULL; /* closed before destroyed: children see it at once */
  if (d->scratch != NULL) {
    quarry_batch *b = d->scratch;
    d->scratch = NULL;
    quarry_batch_close(b);
  }
  rc = quarry_db_close(db);
  if (rc < 0 && raise)
    return ql_raise(L, rc, "close");
  return 0;
}

static int db_close(lua_State *L) { return close_db(L, 1); }
static int db_gc(lua_State *L) { return close_db(L, 0); }

static int db_tostring(lua_State *L) {
  ql_db *d = ql_todb(L, 1);
  lua_getiuservalue(L, 1, 1);
  lua_pushfstring(L, "%s (%s, %s)", QL_DB, luaL_optstring(L, -1, "?"),
                  d->db ? "open" : "closed");
  return 1;
}

static int db_path(lua_State *L) {
  lua_pushstring(L, quarry_db_path(ql_checkdb(L, 1, "path")->db));
  return 1;
}

static int db_mode(lua_State *L) {
  lua_pushstring(L, quarry_db_mode(ql_checkdb(L, 1, "mode")->db));
  return 1;
}

static int db_backend(lua_State *L) {
  lua_pushstring(L, quarry_db_backend(ql_checkdb(L, 1, "backend")->db));
  return 1;
}

static int db_tuning(lua_State *L) {
  ql_push_tuning(L, quarry_db_options(ql_checkdb(L, 1, "tuning")->db));
  return 1;
}

static int db_live_children(lua_State *L) {
  quarry_db *db = ql_checkdb(L, 1, "live_children")->db;
  lua_createtable(L, 0, 3);
  lua_pushinteger(L, quarry_db_live_iterators(db));
  lua_setfield(L, -2, "iterators");
  lua_pushinteger(L, quarry_db_live_snapshots(db));
  lua_setfield(L, -2, "snapshots");
  lua_pushinteger(L, quarry_db_live_batches(db));
  lua_setfield(L, -2, "batches");
  return 1;
}

static int db_catch_up(lua_State *L) {
  int rc = quarry_db_catch_up(ql_checkdb(L, 1, "catch_up")->db);
  if (rc < 0)
    return ql_raise(L, rc, "catch_up");
  return 0;
}

/* ---- data operations (self is a db or a cf) ------------------------------------------------ */
/* The data operations carry the db and the cf metatables as upvalues 1 and 2 (ql_add_target_fns),
 * so telling a db from a cf costs a metatable fetch and a pointer comparison per call instead of
 * two registry lookups by name. Same checks and errors as ql_checktarget. */
ql_db *ql_target(lua_State *L, const char *op, quarry_cf **cf) {
  void *p = lua_touserdata(L, 1);
  if (p != NULL && lua_getmetatable(L, 1)) {
    if (lua_rawequal(L, -1, lua_upvalueindex(1))) {
      ql_db *d = (ql_db *)p;
      lua_pop(L, 1);
      if (d->db == NULL)
        ql_closed(L, QL_DB, op, 0);
      *cf = NULL;
      return d;
    }
    if (lua_rawequal(L, -1, lua_upvalueindex(2))) {
      ql_cf *c = (ql_cf *)p;
      lua_pop(L, 1);
      if (c->closed)
        ql_closed(L, QL_CF, op, 0);
      if (c->owner->db == NULL)
        ql_closed(L, QL_CF, op, 1);
      *cf = c->cf;
      return c->owner;
    }
    lua_pop(L, 1);
  }
  luaL_typeerror(L, 1, "quarry.db or quarry.cf");
  return NULL;
}

static int data_get(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "get", &cf);
  size_t klen, vlen;
  const char *key = ql_checkbytes(L, 2, &klen), *data;
  quarry_read_options ro;
  quarry_value *v = NULL;
  int rc;
  ql_read_options(L, 3, d, "get", &ro);
  ql_release_pending(d);
  rc = quarry_get(d->db, cf, &ro, key, klen, &v);
  if (rc < 0)
    return ql_raise(L, rc, "get");
  if (v == NULL) {
    lua_pushnil(L);
    return 1;
  }
  d->pending = v;
  data = quarry_value_data(v, &vlen);
  lua_pushlstring(L, data, vlen);
  d->pending = NULL;
  quarry_value_free(v);
  return 1;
}

static int data_multi_get(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "multi_get", &cf);
  quarry_read_options ro;
  size_t i, n;
  const char **keys;
  size_t *klens;
  quarry_value **vals;
  char *mem;
  size_t need;
  int rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  ql_read_options(L, 3, d, "multi_get", &ro);
  n = lua_rawlen(L, 2);
  ql_release_pending(d);
  if (n > (((size_t)-1) >> 1) / (sizeof *keys + sizeof *klens + sizeof *vals))
    return ql_raisef(L, QUARRY_EINVAL, "multi_get", "too many keys");
  /* One scratch block (keys, lengths, values), anchored in the db's user value 2 so that values
   * parked there survive until released (see release_pending). The block of the previous call is
   * reused when large enough (its values were all released above), so a loop of multi_get calls
   * of the same size allocates it once. */
  need = n * (sizeof *keys + sizeof *klens + sizeof *vals) + 1;
  QL_PUSH_TARGET_OWNER(L, 1, cf);
  if (lua_getiuservalue(L, -1, 2) == LUA_TUSERDATA && lua_rawlen(L, -1) >= need &&
      lua_rawlen(L, -1) <= 4 * need + 4096) {
    mem = (char *)lua_touserdata(L, -1);
    lua_remove(L, -2); /* the owner */
  } else {
    lua_pop(L, 2);
    mem = (char *)lua_newuserdatauv(L, need, 0);
    QL_PUSH_TARGET_OWNER(L, 1, cf);
    lua_pushvalue(L, -2);
    lua_setiuservalue(L, -2, 2);
    lua_pop(L, 1);
  }
  vals = (quarry_value **)(void *)mem;
  keys = (const char **)(void *)(mem + n * sizeof *vals);
  klens = (size_t *)(void *)(mem + n * (sizeof *vals + sizeof *keys));
  for (i = 0; i < n; i++) {
    vals[i] = NULL;
    if (lua_rawgeti(L, 2, (lua_Integer)i + 1) != LUA_TSTRING)
      return luaL_argerror(L, 2, lua_pushfstring(L, "keys[%d] must be a string, got %s",
                                                 (int)i + 1, luaL_typename(L, -1)));
    keys[i] = lua_tolstring(L, -1, &klens[i]); /* anchored by the keys table */
    lua_pop(L, 1);
  }
  lua_createtable(L, (int)n, 1);
  if (n > 0) {
    rc = quarry_multi_get(d->db, cf, &ro, n, keys, klens, vals);
    if (rc < 0)
      return ql_raise(L, rc, "multi_get");
    d->pending_vals = vals;
    d->pending_n = n;
    for (i = 0; i < n; i++) {
      size_t vlen;
      const char *data;
      if (vals[i] == NULL)
        continue;
      data = quarry_value_data(vals[i], &vlen);
      lua_pushlstring(L, data, vlen);
      lua_rawseti(L, -2, (lua_Integer)i + 1);
      quarry_value_free(vals[i]);
      vals[i] = NULL;
    }
    d->pending_vals = NULL;
    d->pending_n = 0;
  }
  lua_pushinteger(L, (lua_Integer)n);
  lua_setfield(L, -2, "n");
  return 1;
}

static int data_put(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "put", &cf);
  size_t klen, vlen;
  const char *key = ql_checkbytes(L, 2, &klen), *val = ql_checkbytes(L, 3, &vlen);
  quarry_write_options wo;
  int rc;
  ql_write_options(L, 4, "put", &wo);
  rc = quarry_put(d->db, cf, &wo, key, klen, val, vlen);
  if (rc < 0)
    return ql_raise(L, rc, "put");
  return 0;
}

/* ---- put_many ---------------------------------------------------------------------------------
 * One atomic batch from a table, written through the db userdata's scratch batch: cleared before
 * and after each call, so building it allocates nothing once it has grown to the usual size; a
 * call that made it larger than QL_SCRATCH_KEEP frees it (memory stays bounded). */
#define QL_SCRATCH_KEEP ((size_t)4 << 20)

static void scratch_done(ql_db *d) {
  size_t bytes = 0;
  if (d->scratch == NULL)
    return;
  if (quarry_batch_data_size(d->scratch, &bytes) < 0 || bytes > QL_SCRATCH_KEEP) {
    quarry_batch *b = d->scratch;
    d->scratch = NULL;
    quarry_batch_close(b);
  } else {
    quarry_batch_clear(d->scratch);
  }
}

/* Raises the argument error of a bad element of put_many's table (after releasing the batch). */
static int bad_element(lua_State *L, ql_db *d, const char *fmt, ...) {
  va_list ap;
  scratch_done(d);
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return luaL_argerror(L, 2, lua_tostring(L, -1));
}

/* Pushes a readable name for the string key at idx: "t[\"name\"]" for short printable keys, else
 * "the entry with a <n>-byte key". */
static const char *key_name(lua_State *L, int idx) {
  size_t len, i;
  const char *k = lua_tolstring(L, idx, &len);
  int plain = len <= 40;
  for (i = 0; plain && i < len; i++)
    plain = k[i] >= 0x20 && k[i] < 0x7f && k[i] != '"' && k[i] != '\\';
  if (plain)
    return lua_pushfstring(L, "t[\"%s\"]", k);
  return lua_pushfstring(L, "the entry with a %d-byte key", (int)len);
}

static int data_put_many(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "put_many", &cf);
  quarry_write_options wo;
  lua_Integer i, n;
  size_t count = 0;
  int rc;
  luaL_checktype(L, 2, LUA_TTABLE);
  ql_write_options(L, 3, "put_many", &wo);
  lua_settop(L, 3);
  if (d->scratch == NULL && (rc = quarry_batch_new(d->db, &d->scratch)) < 0)
    return ql_raise(L, rc, "put_many");
  quarry_batch_clear(d->scratch);
  n = (lua_Integer)lua_rawlen(L, 2);
  if (n > 0) { /* the sequence form: key, value, key, value, ... */
    if (n % 2 != 0)
      return bad_element(L, d, "t has %I entries: expected key, value, key, value, ... (an even "
                               "number)", n);
    for (i = 1; i < n; i += 2) {
      size_t klen, vlen;
      const char *key, *val;
      if (lua_rawgeti(L, 2, i) != LUA_TSTRING)
        return bad_element(L, d, "t[%I] (a key) must be a string, got %s", i, luaL_typename(L, -1));
      if (lua_rawgeti(L, 2, i + 1) != LUA_TSTRING)
        return bad_element(L, d, "t[%I] (the value of t[%I]) must be a string, got %s", i + 1, i,
                           luaL_typename(L, -1));
      key = lua_tolstring(L, -2, &klen); /* anchored by t */
      val = lua_tolstring(L, -1, &vlen);
      lua_pop(L, 2);
      if ((rc = quarry_batch_put(d->scratch, cf, key, klen, val, vlen)) < 0) {
        scratch_done(d);
        return ql_raisef(L, rc, "put_many", "t[%I]: %s", i, quarry_last_error());
      }
    }
    count = (size_t)(n / 2);
  } else { /* the map form: {[key] = value, ...} */
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      size_t klen, vlen;
      const char *key, *val;
      if (lua_type(L, -2) != LUA_TSTRING)
        return bad_element(L, d, "t has a key of type %s: keys must be strings",
                           luaL_typename(L, -2));
      if (lua_type(L, -1) != LUA_TSTRING)
        return bad_element(L, d, "%s must be a string, got %s", key_name(L, -2),
                           luaL_typename(L, -1));
      key = lua_tolstring(L, -2, &klen);
      val = lua_tolstring(L, -1, &vlen);
      if ((rc = quarry_batch_put(d->scratch, cf, key, klen, val, vlen)) < 0) {
        const char *what = key_name(L, -2);
        scratch_done(d);
        return ql_raisef(L, rc, "put_many", "%s: %s", what, quarry_last_error());
      }
      lua_pop(L, 1);
      count++;
    }
  }
  rc = count > 0 ? quarry_db_write(d->db, d->scratch, &wo) : 0;
  scratch_done(d);
  if (rc < 0)
    return ql_raise(L, rc, "put_many");
  lua_pushinteger(L, (lua_Integer)count);
  return 1;
}

static int data_delete(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "delete", &cf);
  size_t klen;
  const char *key = ql_checkbytes(L, 2, &klen);
  quarry_write_options wo;
  int rc;
  ql_write_options(L, 3, "delete", &wo);
  rc = quarry_delete(d->db, cf, &wo, key, klen);
  if (rc < 0)
    return ql_raise(L, rc, "delete");
  return 0;
}

static int data_delete_range(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "delete_range", &cf);
  size_t flen, tlen;
  const char *from = ql_checkbytes(L, 2, &flen), *to = ql_checkbytes(L, 3, &tlen);
  quarry_write_options wo;
  int rc;
  ql_write_options(L, 4, "delete_range", &wo);
  rc = quarry_delete_range(d->db, cf, &wo, from, flen, to, tlen);
  if (rc < 0)
    return ql_raise(L, rc, "delete_range");
  return 0;
}

/* ---- module functions over a path ---------------------------------------------------------- */
void ql_free_names(void *p) { quarry_free_names((char **)p); }

void ql_push_names(lua_State *L, char **names) {
  lua_Integer i;
  lua_newtable(L);
  for (i = 0; names != NULL && names[i] != NULL; i++) {
    lua_pushstring(L, names[i]);
    lua_rawseti(L, -2, i + 1);
  }
}

static int l_list_column_families(lua_State *L) {
  const char *path = ql_checkpath(L, 1, 1, "list_column_families");
  char **names = NULL;
  void **slot = ql_box_new(L, ql_free_names);
  int rc = quarry_list_column_families(path, &names);
  *slot = names;
  if (rc < 0)
    return ql_raise(L, rc, "list_column_families");
  ql_push_names(L, names);
  ql_box_free(L, -2);
  return 1;
}

static int l_destroy(lua_State *L) {
  int rc = quarry_destroy(ql_checkpath(L, 1, 1, "destroy"));
  if (rc < 0)
    return ql_raise(L, rc, "destroy");
  return 0;
}

static const luaL_Reg db_methods[] = {
  {"close", db_close},
  {"path", db_path},
  {"backend", db_backend},
  {"mode", db_mode},
  {"tuning", db_tuning},
  {"live_children", db_live_children},
  {"catch_up", db_catch_up},
  {NULL, NULL},
};

static const luaL_Reg db_meta[] = {
  {"__gc", db_gc},
  {"__close", db_close},
  {"__tostring", db_tostring},
  {NULL, NULL},
};

const luaL_Reg ql_data_ops[] = {
  {"get", data_get},
  {"multi_get", data_multi_get},
  {"put", data_put},
  {"put_many", data_put_many},
  {"delete", data_delete},
  {"delete_range", data_delete_range},
  {NULL, NULL},
};

static const luaL_Reg module_fns[] = {
  {"open", l_open},
  {"list_column_families", l_list_column_families},
  {"destroy", l_destroy},
  {NULL, NULL},
};

void ql_add_target_fns(lua_State *L, const char *tname, const luaL_Reg *fns) {
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "__index");
  luaL_newmetatable(L, QL_DB); /* the upvalues; a metatable missing yet is created here and */
  luaL_newmetatable(L, QL_CF); /* completed by its ql_newclass */
  luaL_newmetatable(L, QL_ITER);
  luaL_setfuncs(L, fns, 3);
  lua_pop(L, 2);
}

void ql_db_open(lua_State *L) {
  ql_newclass(L, QL_DB, db_methods, db_meta);
  ql_add_target_fns(L, QL_DB, ql_data_ops);
  luaL_setfuncs(L, module_fns, 0);
}

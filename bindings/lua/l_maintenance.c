/* l_maintenance.c: the binding of core/src/maintenance.c: db:flush, db:compact, db:property,
 * db:approximate_size, db:size_on_disk. */
#include "lquarry.h"

#include <stdlib.h>

static int db_flush(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "flush");
  int rc = quarry_db_flush(d->db, ql_optcf(L, 2, d, "flush"));
  if (rc < 0)
    return ql_raise(L, rc, "flush");
  return 0;
}

/* Optional string at idx: NULL for nil/none. */
static const char *optbytes(lua_State *L, int idx, size_t *len) {
  *len = 0;
  if (lua_isnoneornil(L, idx))
    return NULL;
  return ql_checkbytes(L, idx, len);
}

static int db_compact(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "compact");
  quarry_cf *cf = ql_optcf(L, 2, d, "compact");
  size_t flen, tlen;
  const char *from = optbytes(L, 3, &flen), *to = optbytes(L, 4, &tlen);
  int rc = quarry_db_compact(d->db, cf, from, flen, to, tlen);
  if (rc < 0)
    return ql_raise(L, rc, "compact");
  return 0;
}

static void free_cstring(void *p) { free(p); }

static int db_property(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "property");
  const char *name = ql_checkbytes(L, 2, NULL);
  quarry_cf *cf = ql_optcf(L, 3, d, "property");
  char *out = NULL;
  void **slot = ql_box_new(L, free_cstring);
  int rc = quarry_db_property(d->db, cf, name, &out);
  *slot = out;
  if (rc < 0)
    return ql_raise(L, rc, "property");
  if (out == NULL)
    lua_pushnil(L);
  else
    lua_pushstring(L, out);
  ql_box_free(L, -2);
  return 1;
}

static int db_approximate_size(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "approximate_size");
  int arg = 2, rc;
  quarry_cf *cf = NULL;
  size_t flen, tlen;
  const char *from, *to;
  uint64_t bytes = 0;
  if (lua_type(L, 2) != LUA_TSTRING) { /* [cf,] [from, to] */
    cf = ql_optcf(L, 2, d, "approximate_size");
    arg = 3;
  }
  from = optbytes(L, arg, &flen);
  to = optbytes(L, arg + 1, &tlen);
  rc = quarry_db_approximate_size(d->db, cf, from, flen, to, tlen, &bytes);
  if (rc < 0)
    return ql_raise(L, rc, "approximate_size");
  lua_pushinteger(L, (lua_Integer)bytes);
  return 1;
}

static int db_size_on_disk(lua_State *L) {
  uint64_t bytes = 0;
  int rc = quarry_db_size_on_disk(ql_checkdb(L, 1, "size_on_disk")->db, &bytes);
  if (rc < 0)
    return ql_raise(L, rc, "size_on_disk");
  lua_pushinteger(L, (lua_Integer)bytes);
  return 1;
}

static const luaL_Reg db_fns[] = {
  {"flush", db_flush},
  {"compact", db_compact},
  {"property", db_property},
  {"approximate_size", db_approximate_size},
  {"size_on_disk", db_size_on_disk},
  {NULL, NULL},
};

void ql_maintenance_open(lua_State *L) { ql_add_methods(L, QL_DB, db_fns); }

/* l_verify.c: the binding of core/src/verify.c: db:verify, db:digest, cf:digest. */
#include "lquarry.h"

#include <string.h>

static void free_report(void *p) { quarry_scan_report_free((quarry_scan_report *)p); }

/* Pushes {name = {keys = n, bytes = b}, ...} or {name = hex, ...} (digests). */
static void push_families(lua_State *L, const quarry_scan_report *r, int digests) {
  size_t i;
  lua_createtable(L, 0, (int)r->nfamilies);
  for (i = 0; i < r->nfamilies; i++) {
    const quarry_family_report *f = &r->families[i];
    if (digests) {
      lua_pushstring(L, f->digest);
    } else {
      lua_createtable(L, 0, 2);
      lua_pushinteger(L, (lua_Integer)f->keys);
      lua_setfield(L, -2, "keys");
      lua_pushinteger(L, (lua_Integer)f->bytes);
      lua_setfield(L, -2, "bytes");
    }
    lua_setfield(L, -2, f->name);
  }
}

static int db_verify(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "verify");
  quarry_scan_report *r = NULL;
  void **slot = ql_box_new(L, free_report);
  int rc = quarry_db_verify(d->db, &r);
  *slot = r;
  if (rc < 0)
    return ql_raise(L, rc, "verify");
  lua_createtable(L, 0, 6);
  push_families(L, r, 0);
  lua_setfield(L, -2, "families");
  lua_pushinteger(L, (lua_Integer)r->keys);
  lua_setfield(L, -2, "keys");
  lua_pushinteger(L, (lua_Integer)r->bytes);
  lua_setfield(L, -2, "bytes");
  lua_pushinteger(L, (lua_Integer)r->sequence);
  lua_setfield(L, -2, "sequence");
  lua_pushinteger(L, (lua_Integer)r->table_files);
  lua_setfield(L, -2, "table_files");
  lua_pushinteger(L, (lua_Integer)r->table_bytes);
  lua_setfield(L, -2, "table_bytes");
  ql_box_free(L, -2);
  return 1;
}

/* Digest options at idx: nil, or {snapshot = s} with s an open snapshot of owner. */
static const quarry_snapshot *digest_options(lua_State *L, int idx, const ql_db *owner) {
  const quarry_snapshot *snap = NULL;
  const char *name;
  if (lua_isnoneornil(L, idx))
    return NULL;
  luaL_checktype(L, idx, LUA_TTABLE);
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while ((name = ql_next_option(L, idx, "digest", "digest option")) != NULL) {
    ql_snapshot *s;
    if (strcmp(name, "snapshot") != 0)
      ql_raisef(L, QUARRY_EINVAL, "digest", "unknown digest option '%s'", name);
    if (luaL_testudata(L, -1, QL_SNAPSHOT) == NULL)
      ql_raisef(L, QUARRY_EINVAL, "digest",
                "digest option 'snapshot' must be a quarry.snapshot, got %s",
                luaL_typename(L, -1));
    s = ql_checksnapshot(L, -1, "digest");
    if (s->owner != owner)
      ql_raisef(L, QUARRY_EINVAL, "digest", "digest option 'snapshot' belongs to another database");
    snap = s->s;
    lua_pop(L, 1);
  }
  return snap;
}

/* Pushes the digest of target (db, or cf when cf != NULL) and, for a db, the family digests. */
static int push_digest(lua_State *L, ql_db *d, quarry_cf *cf, int opts_idx) {
  const quarry_snapshot *snap = digest_options(L, opts_idx, d);
  quarry_scan_report *r = NULL;
  void **slot = ql_box_new(L, free_report);
  int rc = quarry_db_digest(d->db, cf, snap, &r);
  *slot = r;
  if (rc < 0)
    return ql_raise(L, rc, "digest");
  lua_pushstring(L, r->digest);
  if (cf != NULL) {
    ql_box_free(L, -2);
    return 1;
  }
  push_families(L, r, 1);
  ql_box_free(L, -3);
  return 2;
}

/* db:digest([cf] [, opts]) */
static int db_digest(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "digest");
  int opts_idx = 2;
  quarry_cf *cf = NULL;
  if (lua_type(L, 2) == LUA_TUSERDATA) {
    cf = ql_optcf(L, 2, d, "digest");
    opts_idx = 3;
  } else if (lua_isnil(L, 2) && lua_gettop(L) >= 3) {
    opts_idx = 3;
  }
  return push_digest(L, d, cf, opts_idx);
}

/* cf:digest([opts]) */
static int cf_digest(lua_State *L) {
  ql_cf *c = ql_checkcf(L, 1, "digest");
  return push_digest(L, c->owner, c->cf, 2);
}

static const luaL_Reg db_fns[] = {
  {"verify", db_verify},
  {"digest", db_digest},
  {NULL, NULL},
};

static const luaL_Reg cf_fns[] = {
  {"digest", cf_digest},
  {NULL, NULL},
};

void ql_verify_open(lua_State *L) {
  ql_add_methods(L, QL_DB, db_fns);
  ql_add_methods(L, QL_CF, cf_fns);
}

/* l_cf.c: the quarry.cf handle (a column family, owned by its db: usable while the db is open)
 * and the db methods that find, list, create and drop families. Data operations: l_db.c. */
#include "lquarry.h"

ql_cf *ql_tocf(lua_State *L, int idx) { return (ql_cf *)luaL_checkudata(L, idx, QL_CF); }

ql_cf *ql_checkcf(lua_State *L, int idx, const char *op) {
  ql_cf *c = ql_tocf(L, idx);
  if (c->closed)
    ql_closed(L, QL_CF, op, 0);
  if (c->owner->db == NULL) /* the core cf died with its db */
    ql_closed(L, QL_CF, op, 1);
  return c;
}

ql_cf *ql_cf_push(lua_State *L, int db_idx) {
  ql_cf *c;
  db_idx = lua_absindex(L, db_idx);
  c = (ql_cf *)lua_newuserdatauv(L, sizeof *c, 2);
  c->cf = NULL;
  c->owner = ql_todb(L, db_idx);
  c->closed = 1;
  luaL_setmetatable(L, QL_CF);
  lua_pushvalue(L, db_idx);
  lua_setiuservalue(L, -2, 1);
  return c;
}

/* Pushes a cf handle for name, found (create = 0) or created (create = 1). */
static int push_family(lua_State *L, int create, const char *op) {
  ql_db *d = ql_checkdb(L, 1, op);
  const char *name = luaL_checkstring(L, 2);
  quarry_cf *cf = NULL;
  ql_cf *c = ql_cf_push(L, 1);
  int rc = create ? quarry_db_create_cf(d->db, name, &cf) : quarry_db_cf(d->db, name, &cf);
  if (rc < 0)
    return ql_raise(L, rc, op);
  lua_pushvalue(L, 2);
  lua_setiuservalue(L, -2, 2);
  c->cf = cf;
  c->closed = 0;
  return 1;
}

static int db_cf(lua_State *L) { return push_family(L, 0, "cf"); }
static int db_create_column_family(lua_State *L) {
  return push_family(L, 1, "create_column_family");
}

static int db_drop_column_family(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "drop_column_family");
  int rc = quarry_db_drop_cf(d->db, luaL_checkstring(L, 2));
  if (rc < 0)
    return ql_raise(L, rc, "drop_column_family");
  return 0;
}

static int db_column_families(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "column_families");
  char **names = NULL;
  void **slot = ql_box_new(L, ql_free_names);
  int rc = quarry_db_cf_names(d->db, &names);
  *slot = names;
  if (rc < 0)
    return ql_raise(L, rc, "column_families");
  ql_push_names(L, names);
  ql_box_free(L, -2);
  return 1;
}

static int cf_close(lua_State *L) {
  ql_tocf(L, 1)->closed = 1;
  return 0;
}

static int cf_name(lua_State *L) {
  ql_checkcf(L, 1, "name");
  lua_getiuservalue(L, 1, 2);
  return 1;
}

static int cf_tostring(lua_State *L) {
  ql_cf *c = ql_tocf(L, 1);
  lua_getiuservalue(L, 1, 2);
  lua_pushfstring(L, "%s (%s, %s)", QL_CF, luaL_optstring(L, -1, "?"),
                  (c->closed || c->owner == NULL || c->owner->db == NULL) ? "closed" : "open");
  return 1;
}

static const luaL_Reg cf_methods[] = {
  {"close", cf_close},
  {"name", cf_name},
  {NULL, NULL},
};

static const luaL_Reg cf_meta[] = {
  {"__gc", cf_close},
  {"__close", cf_close},
  {"__tostring", cf_tostring},
  {NULL, NULL},
};

static const luaL_Reg db_fns[] = {
  {"cf", db_cf},
  {"create_column_family", db_create_column_family},
  {"drop_column_family", db_drop_column_family},
  {"column_families", db_column_families},
  {NULL, NULL},
};

void ql_cf_open(lua_State *L) {
  ql_newclass(L, QL_CF, cf_methods, cf_meta);
  ql_add_target_fns(L, QL_CF, ql_data_ops);
  ql_add_methods(L, QL_DB, db_fns);
}

/* l_snapshot.c: the quarry.snapshot handle (a consistent read view, child of a db) and
 * db:snapshot(). Reads use it through ropts.snapshot / iopts.snapshot (l_options.c). */
#include "lquarry.h"

ql_snapshot *ql_tosnapshot(lua_State *L, int idx) {
  return (ql_snapshot *)luaL_checkudata(L, idx, QL_SNAPSHOT);
}

ql_snapshot *ql_checksnapshot(lua_State *L, int idx, const char *op) {
  ql_snapshot *s = ql_tosnapshot(L, idx);
  if (s->s == NULL)
    ql_closed(L, QL_SNAPSHOT, op, 0);
  if (quarry_snapshot_is_closed(s->s)) /* released by db:close() */
    ql_closed(L, QL_SNAPSHOT, op, 1);
  return s;
}

static int db_snapshot(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "snapshot");
  ql_snapshot *s = (ql_snapshot *)lua_newuserdatauv(L, sizeof *s, 1);
  int rc;
  s->s = NULL;
  s->owner = d;
  luaL_setmetatable(L, QL_SNAPSHOT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1);
  rc = quarry_snapshot_new(d->db, &s->s);
  if (rc < 0)
    return ql_raise(L, rc, "snapshot");
  return 1;
}

static int snapshot_sequence(lua_State *L) {
  ql_snapshot *s = ql_checksnapshot(L, 1, "sequence");
  lua_pushinteger(L, (lua_Integer)quarry_snapshot_sequence(s->s));
  return 1;
}

static int snapshot_close(lua_State *L) {
  ql_snapshot *s = ql_tosnapshot(L, 1);
  quarry_snapshot *cs = s->s;
  s->s = NULL; /* closed before destroyed */
  quarry_snapshot_close(cs);
  return 0;
}

static int snapshot_tostring(lua_State *L) {
  ql_snapshot *s = ql_tosnapshot(L, 1);
  if (s->s == NULL || quarry_snapshot_is_closed(s->s))
    lua_pushfstring(L, "%s (closed)", QL_SNAPSHOT);
  else
    lua_pushfstring(L, "%s (sequence %I, open)", QL_SNAPSHOT,
                    (lua_Integer)quarry_snapshot_sequence(s->s));
  return 1;
}

static const luaL_Reg snapshot_methods[] = {
  {"sequence", snapshot_sequence},
  {"close", snapshot_close},
  {NULL, NULL},
};

static const luaL_Reg snapshot_meta[] = {
  {"__gc", snapshot_close},
  {"__close", snapshot_close},
  {"__tostring", snapshot_tostring},
  {NULL, NULL},
};

static const luaL_Reg db_fns[] = {
  {"snapshot", db_snapshot},
  {NULL, NULL},
};

void ql_snapshot_open(lua_State *L) {
  ql_newclass(L, QL_SNAPSHOT, snapshot_methods, snapshot_meta);
  ql_add_methods(L, QL_DB, db_fns);
}

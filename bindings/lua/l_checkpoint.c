/* l_checkpoint.c: the binding of core/src/checkpoint.c: db:checkpoint(dir). */
#include "lquarry.h"

static int db_checkpoint(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "checkpoint");
  const char *dir = ql_checkpath(L, 2, 1, "checkpoint");
  int rc = quarry_db_checkpoint(d->db, dir);
  if (rc < 0)
    return ql_raise(L, rc, "checkpoint");
  return 0;
}

static const luaL_Reg db_fns[] = {
  {"checkpoint", db_checkpoint},
  {NULL, NULL},
};

void ql_checkpoint_open(lua_State *L) { ql_add_methods(L, QL_DB, db_fns); }

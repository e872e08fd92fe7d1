/* quarry.c: luaopen_quarry_core, the entry point of the Lua module quarry.core: registers each
 * type (l_<concern>.c) and the version strings. */
#include "lquarry.h"

QL_EXPORT int luaopen_quarry_core(lua_State *L) {
  lua_newtable(L);
  ql_error_open(L);
  lua_pushcfunction(L, ql_is_error);
  lua_setfield(L, -2, "is_error");
  ql_box_open(L);
  quarry_l_options_open(L);
  quarry_l_db_open(L);
  quarry_l_cf_open(L);
  quarry_l_batch_open(L);
  quarry_l_iter_open(L);
  quarry_l_snapshot_open(L);
  quarry_l_durability_open(L);
  quarry_l_metrics_open(L);

  lua_pushstring(L, quarry_version());
  lua_setfield(L, -2, "version");
  lua_pushstring(L, quarry_rocksdb_version());
  lua_setfield(L, -2, "rocksdb_version");
  return 1;
}

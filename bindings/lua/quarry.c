/* quarry.c: luaopen_quarry_core, the entry point of the Lua module quarry.core: registers each
 * type (l_<concern>.c) and the version strings. */
#include "lapi.h"
#include "lquarry.h"

/* The functions lent to the other C modules (bindings/common/lapi.h); never written. */
static ql_core_api core_api = {
    QL_CORE_API_VERSION, quarry_get,        quarry_value_data, quarry_value_free,
    quarry_batch_new,    quarry_batch_put,  quarry_batch_delete, quarry_batch_clear,
    quarry_batch_close,  quarry_db_write,   quarry_last_error, quarry_err_name};

QL_EXPORT int luaopen_quarry_core(lua_State *L) {
  lua_newtable(L);
  ql_error_open(L);
  lua_pushcfunction(L, ql_is_error);
  lua_setfield(L, -2, "is_error");
  ql_box_open(L);
  ql_options_open(L);
  ql_db_open(L);
  ql_cf_open(L);
  ql_batch_open(L);
  ql_iter_open(L);
  ql_snapshot_open(L);
  ql_maintenance_open(L);
  ql_checkpoint_open(L);
  ql_verify_open(L);
  ql_backup_open(L);
  ql_metrics_open(L);

  lua_pushlightuserdata(L, &core_api);
  lua_setfield(L, LUA_REGISTRYINDEX, QL_CORE_API);

  lua_pushstring(L, quarry_version());
  lua_setfield(L, -2, "version");
  lua_pushstring(L, quarry_rocksdb_version());
  lua_setfield(L, -2, "rocksdb_version");
  return 1;
}

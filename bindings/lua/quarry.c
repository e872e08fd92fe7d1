/* quarry.c: luaopen_quarry_core, the entry point of the Lua module quarry.core: registers each
 * type (l_<concern>.c), the version strings and quarry.json; plus the class helpers they share. */
#include "lquarry.h"

#include <time.h>

void ql_newclass(lua_State *L, const char *tname, const luaL_Reg *methods, const luaL_Reg *meta) {
  luaL_newmetatable(L, tname); /* sets __name = tname */
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}

void ql_add_methods(lua_State *L, const char *tname, const luaL_Reg *methods) {
  luaL_getmetatable(L, tname);
  lua_getfield(L, -1, "__index");
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

int ql_closed(lua_State *L, const char *tname, const char *op, int by_db) {
  return ql_raisef(L, QUARRY_ECLOSED, op, "%s is closed%s", tname,
                   by_db ? " (its database was closed)" : "");
}

/* quarry.clock(): seconds (float) from a monotonic clock, for timing (benchmarks, progress). */
static int l_clock(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec * 1e-9);
  return 1;
}

QL_EXPORT int luaopen_quarry_core(lua_State *L) {
  lua_newtable(L);
  quarry_l_error_open(L);
  quarry_l_options_open(L);
  quarry_l_db_open(L);
  quarry_l_cf_open(L);
  quarry_l_batch_open(L);
  quarry_l_iter_open(L);
  quarry_l_snapshot_open(L);
  quarry_l_durability_open(L);
  quarry_l_metrics_open(L); /* l_metrics.c: db:metrics, db:prometheus; l_signal.c below */
  quarry_l_signal_open(L);

  lua_pushstring(L, quarry_version());
  lua_setfield(L, -2, "version");
  lua_pushstring(L, quarry_rocksdb_version());
  lua_setfield(L, -2, "rocksdb_version");
  lua_pushstring(L, quarry_lz4_version());
  lua_setfield(L, -2, "lz4_version");
  lua_pushcfunction(L, l_clock);
  lua_setfield(L, -2, "clock");

  quarry_l_json_open(L);
  lua_setfield(L, -2, "json");
  return 1;
}

/* l_metrics.c: db:metrics() (a Lua table of the engine's counters, latency histograms with
 * quantiles, RocksDB figures and per-family figures) and db:prometheus() (the text format). */
#include "lquarry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void free_metrics(void *p) { quarry_metrics_free((quarry_metrics *)p); }

/* Takes a snapshot of the db at idx; pushes a box owning it (freed at __gc or ql_box_free). */
static quarry_metrics *snapshot(lua_State *L, int idx, const char *op) {
  ql_db *d = ql_checkdb(L, idx, op);
  quarry_metrics *m = NULL;
  void **slot = ql_box_new(L, free_metrics);
  int rc = quarry_db_metrics(d->db, &m);
  *slot = m;
  if (rc < 0)
    ql_raise(L, rc, op);
  return m;
}

/* Pushes a figure: an integer when it is one (counts, bytes), else a float. */
static void push_number(lua_State *L, double v) {
  if (v == (double)(lua_Integer)v && v > -9.2e18 && v < 9.2e18)
    lua_pushinteger(L, (lua_Integer)v);
  else
    lua_pushnumber(L, v);
}

static void push_histogram(lua_State *L, const quarry_histogram *h) {
  uint64_t cumulative = 0;
  size_t i;
  lua_createtable(L, 0, 6);
  lua_pushinteger(L, (lua_Integer)h->count);
  lua_setfield(L, -2, "count");
  lua_pushnumber(L, h->sum);
  lua_setfield(L, -2, "sum");
  lua_pushnumber(L, quarry_histogram_quantile(h, 0.5));
  lua_setfield(L, -2, "p50");
  lua_pushnumber(L, quarry_histogram_quantile(h, 0.99));
  lua_setfield(L, -2, "p99");
  lua_pushnumber(L, quarry_histogram_quantile(h, 0.999));
  lua_setfield(L, -2, "p999");
  lua_createtable(L, QUARRY_HISTOGRAM_BUCKETS, 0);
  for (i = 0; i < QUARRY_HISTOGRAM_BUCKETS; i++) {
    cumulative += h->buckets[i];
    lua_createtable(L, 0, 2);
    lua_pushnumber(L, quarry_histogram_bound(i));
    lua_setfield(L, -2, "le");
    lua_pushinteger(L, (lua_Integer)cumulative);
    lua_setfield(L, -2, "count");
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "buckets");
}

/* db:metrics() -> table (docs/metrics.md describes its fields). */
static int db_metrics(lua_State *L) {
  quarry_metrics *m = snapshot(L, 1, "metrics");
  const quarry_metric_info *info;
  size_t n, i, j;
  double v, hits = -1, misses = -1;
  int flags = quarry_metrics_flags(m), code;

  lua_createtable(L, 0, 12);
  lua_pushstring(L, quarry_db_path(ql_todb(L, 1)->db));
  lua_setfield(L, -2, "path");
  lua_pushstring(L, quarry_db_mode(ql_todb(L, 1)->db));
  lua_setfield(L, -2, "mode");
  lua_pushboolean(L, flags & 1);
  lua_setfield(L, -2, "enabled");
  lua_pushboolean(L, (flags & 2) != 0);
  lua_setfield(L, -2, "statistics");

  lua_newtable(L); /* counters */
  lua_newtable(L); /* rocksdb */
  info = quarry_metric_list(&n);
  for (i = 0; i < n; i++) {
    if (quarry_metrics_value(m, (quarry_metric)i, &v) < 0)
      continue;
    if (i == QUARRY_METRIC_HANDLES || i == QUARRY_METRIC_UPTIME_SECONDS) {
      push_number(L, v);
      lua_setfield(L, -4, info[i].name);
    } else if (i == QUARRY_METRIC_FAILED) {
      lua_pushboolean(L, v != 0);
      lua_setfield(L, -4, "failed");
    } else if (info[i].type == QUARRY_METRIC_COUNTER && !info[i].statistics) {
      push_number(L, v);
      lua_setfield(L, -3, info[i].name);
    } else {
      push_number(L, v);
      lua_setfield(L, -2, info[i].name);
      if (i == QUARRY_METRIC_BLOCK_CACHE_HITS)
        hits = v;
      else if (i == QUARRY_METRIC_BLOCK_CACHE_MISSES)
        misses = v;
    }
  }
  if (hits >= 0 && misses >= 0 && hits + misses > 0) {
    lua_pushnumber(L, hits / (hits + misses));
    lua_setfield(L, -2, "block_cache_hit_rate");
  }
  lua_setfield(L, -3, "rocksdb");
  lua_setfield(L, -2, "counters");

  lua_newtable(L); /* errors by code name */
  for (code = -1; code >= QUARRY_EUNKNOWN; code--) {
    uint64_t count = quarry_metrics_errors(m, code);
    if (count == 0)
      continue;
    /* ENOMEM and EUNKNOWN share the name "Unknown": add them up */
    lua_getfield(L, -1, quarry_err_name(code));
    lua_pushinteger(L, (lua_Integer)count + (lua_Integer)lua_tointeger(L, -1));
    lua_setfield(L, -3, quarry_err_name(code));
    lua_pop(L, 1);
  }
  lua_setfield(L, -2, "errors");

  lua_newtable(L); /* histograms */
  info = quarry_histogram_list(&n);
  for (i = 0; i < n; i++) {
    push_histogram(L, quarry_metrics_histogram(m, (quarry_histogram_id)i));
    lua_setfield(L, -2, info[i].name);
  }
  lua_setfield(L, -2, "histograms");

  lua_newtable(L); /* families */
  info = quarry_cf_metric_list(&n);
  for (i = 0; i < quarry_metrics_cf_count(m); i++) {
    lua_createtable(L, 0, (int)n);
    for (j = 0; j < n; j++) {
      if (quarry_metrics_cf_value(m, i, (quarry_cf_metric)j, &v) < 0)
        continue;
      push_number(L, v);
      lua_setfield(L, -2, info[j].name);
    }
    lua_setfield(L, -2, quarry_metrics_cf_name(m, i));
  }
  lua_setfield(L, -2, "families");

  ql_box_free(L, -2);
  return 1;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* db:prometheus([{namespace = "quarry", labels = {name = value, ...}}]) -> string */
static int db_prometheus(lua_State *L) {
  const char *ns = NULL;
  const char **labels = NULL;
  quarry_metrics *m;
  char *text = NULL;
  void **slot;
  size_t n = 0, i;
  int rc, top;

  ql_checkdb(L, 1, "prometheus");
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
      if (k == NULL || (strcmp(k, "namespace") != 0 && strcmp(k, "labels") != 0))
        return ql_raisef(L, QUARRY_EINVAL, "prometheus", "unknown option '%s'",
                  k ? k : luaL_typename(L, -2));
      lua_pop(L, 1);
    }
    if (lua_getfield(L, 2, "namespace") != LUA_TNIL) {
      if (lua_type(L, -1) != LUA_TSTRING)
        return ql_raisef(L, QUARRY_EINVAL, "prometheus", "option 'namespace' must be a string, got %s",
                  luaL_typename(L, -1));
      ns = lua_tostring(L, -1); /* anchored by the options table */
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 2, "labels") != LUA_TNIL) {
      int t = lua_gettop(L);
      if (lua_type(L, t) != LUA_TTABLE)
        return ql_raisef(L, QUARRY_EINVAL, "prometheus", "option 'labels' must be a table, got %s",
                  luaL_typename(L, t));
      lua_pushnil(L);
      while (lua_next(L, t)) {
        lua_pop(L, 1);
        n++;
      }
      /* names and values as strings, anchored in a scratch table at t + 1 */
      lua_createtable(L, (int)(2 * n), 0);
      labels = (const char **)lua_newuserdatauv(L, (2 * n + 1) * sizeof *labels, 0);
      i = 0;
      lua_pushnil(L);
      while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING)
          return ql_raisef(L, QUARRY_EINVAL, "prometheus", "label names must be strings, got %s",
                    luaL_typename(L, -2));
        if (lua_type(L, -1) != LUA_TSTRING && lua_type(L, -1) != LUA_TNUMBER)
          return ql_raisef(L, QUARRY_EINVAL, "prometheus",
                    "label '%s' must be a string or a number, got %s", lua_tostring(L, -2),
                    luaL_typename(L, -1));
        lua_pushvalue(L, -2);
        lua_rawseti(L, t + 1, (lua_Integer)(2 * i + 1));
        lua_pop(L, 1);
        i++;
      }
      /* sorted by name: the output does not depend on the table's order */
      {
        const char **names = (const char **)lua_newuserdatauv(L, (n + 1) * sizeof *names, 0);
        for (i = 0; i < n; i++) {
          lua_rawgeti(L, t + 1, (lua_Integer)(2 * i + 1));
          names[i] = lua_tostring(L, -1); /* anchored by the scratch table */
          lua_pop(L, 1);
        }
        qsort(names, n, sizeof *names, cmp_names);
        for (i = 0; i < n; i++) {
          lua_getfield(L, t, names[i]);
          lua_tostring(L, -1); /* a number becomes its text (the copy on the stack) */
          lua_rawseti(L, t + 1, (lua_Integer)(2 * i + 2));
          lua_rawgeti(L, t + 1, (lua_Integer)(2 * i + 2));
          labels[2 * i] = names[i];
          labels[2 * i + 1] = lua_tostring(L, -1); /* anchored by the scratch table */
          lua_pop(L, 1);
        }
        labels[2 * n] = NULL;
        lua_pop(L, 1);
      }
    }
  }
  top = lua_gettop(L);
  m = snapshot(L, 1, "prometheus");
  slot = ql_box_new(L, free);
  {
    /* the Lua the module was built against, on <ns>_build_info */
    static const char *const build[] = {
        "lua_version", LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE, NULL};
    rc = quarry_metrics_prometheus_ex(m, ns, labels, build, &text);
  }
  *slot = text;
  if (rc < 0)
    return ql_raise(L, rc, "prometheus");
  lua_pushstring(L, text);
  ql_box_free(L, top + 2);
  ql_box_free(L, top + 1);
  return 1;
}

static const luaL_Reg db_methods[] = {
  {"metrics", db_metrics},
  {"prometheus", db_prometheus},
  {NULL, NULL},
};

void ql_metrics_open(lua_State *L) {
  ql_add_methods(L, QL_DB, db_methods);
}

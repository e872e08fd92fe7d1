/* embed.c: a host program that embeds Lua and Quarry, as a node written in C would.
 *
 *   embed DB_DIR GLUE_SCRIPT [LUA_CPATH]
 *
 * 1. Creates its own lua_State, sets package.cpath (from the third argument, else the standard
 *    LUA_CPATH environment variable), loads GLUE_SCRIPT (docs/examples/node_glue.lua) and calls
 *    its functions: open the database, append blocks, read them back, print metrics.
 * 2. Calls the C core directly on the same path while the Lua state holds it: quarry_db_open
 *    returns a second handle onto the same engine (one RocksDB instance per path and process).
 * 3. Starts four threads, each with a Lua state of its own that opens the same path and writes;
 *    then counts through the C handle: no write is lost.
 * Exit status 0 when every check holds. Built and run by CTest (example/embed).
 *
 * Link with libquarry.so (not the static library) when the Lua module is loaded too: the module
 * calls the quarry_* functions through the dynamic linker, so both use the library's one
 * registry of open databases. pkg-config --cflags --libs quarry lua5.4 */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quarry.h"

#define N_THREADS 4
#define N_PUTS 2000

static const char *db_path, *glue_path, *cpath;

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "embed: %s: %s\n", what, detail);
  exit(1);
}

/* A Lua state with the standard libraries, package.cpath set, and the glue module loaded into
 * the global `glue`. */
static lua_State *new_state(void) {
  lua_State *L = luaL_newstate();
  if (L == NULL)
    fail("lua", "out of memory");
  luaL_openlibs(L);
  if (cpath) {
    lua_getglobal(L, "package");
    lua_pushstring(L, cpath);
    lua_setfield(L, -2, "cpath");
    lua_pop(L, 1);
  }
  if (luaL_loadfile(L, glue_path) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK)
    fail(glue_path, lua_tostring(L, -1));
  lua_setglobal(L, "glue");
  return L;
}

/* Calls glue.<fn>(args...) with nargs values already pushed; leaves nres results. */
static void call(lua_State *L, const char *fn, int nargs, int nres) {
  lua_getglobal(L, "glue");
  lua_getfield(L, -1, fn);
  lua_remove(L, -2);
  lua_insert(L, -(nargs + 1));
  if (lua_pcall(L, nargs, nres, 0) != LUA_OK)
    fail(fn, luaL_tolstring(L, -1, NULL));
}

static void check_ok(int rc, const char *what) {
  if (rc != 0) {
    char detail[1024];
    snprintf(detail, sizeof detail, "%s: %s", quarry_err_name(rc), quarry_last_error());
    fail(what, detail);
  }
}

static void *thread_main(void *arg) {
  int id = (int)(intptr_t)arg;
  char prefix[16];
  lua_State *L = new_state();
  snprintf(prefix, sizeof prefix, "thread%d-", id);
  lua_pushstring(L, db_path);
  call(L, "open", 1, 0);
  lua_pushstring(L, prefix);
  lua_pushinteger(L, N_PUTS);
  call(L, "hammer", 2, 0);
  call(L, "close", 0, 0);
  lua_close(L);
  return NULL;
}

static size_t count_prefix(quarry_db *db, const char *prefix) {
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  quarry_iter *it;
  const char *k, *v;
  size_t kl, vl, n = 0;
  io.prefix = prefix;
  io.prefix_len = strlen(prefix);
  io.keys_only = 1;
  check_ok(quarry_iter_new(db, NULL, &io, &it), "iterator");
  while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1)
    n++;
  quarry_iter_close(it);
  return n;
}

int main(int argc, char **argv) {
  lua_State *L;
  quarry_db *db;
  quarry_cf *blocks;
  quarry_value *v;
  quarry_metrics *m;
  pthread_t th[N_THREADS];
  unsigned char key[8];
  lua_Integer tip;
  double handles;
  size_t len, total;
  int i;

  if (argc < 3) {
    fprintf(stderr, "usage: embed DB_DIR GLUE_SCRIPT [LUA_CPATH]\n");
    return 2;
  }
  db_path = argv[1];
  glue_path = argv[2];
  cpath = argc > 3 ? argv[3] : NULL;
  quarry_destroy(db_path); /* a fresh database each run (missing is fine) */

  /* 1. Lua: open, append 100 blocks in two batches, read one back */
  L = new_state();
  lua_pushstring(L, db_path);
  call(L, "open", 1, 0);
  lua_pushinteger(L, 50);
  call(L, "write_blocks", 1, 0);
  lua_pushinteger(L, 50);
  call(L, "write_blocks", 1, 1);
  tip = lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_pushinteger(L, 42);
  call(L, "read_block", 1, 1);
  printf("lua: tip %lld, block 42 = \"%s\"\n", (long long)tip, lua_tostring(L, -1));
  if (tip != 99 || lua_tostring(L, -1) == NULL || strcmp(lua_tostring(L, -1), "block 42") != 0)
    fail("lua", "unexpected blocks");
  lua_pop(L, 1);

  /* 2. C: a second handle on the same engine, while the Lua state holds the first */
  check_ok(quarry_db_open(db_path, NULL, &db), "quarry_db_open (shared engine)");
  check_ok(quarry_db_metrics(db, &m), "metrics");
  check_ok(quarry_metrics_value(m, QUARRY_METRIC_HANDLES, &handles), "metrics");
  quarry_metrics_free(m);
  printf("c: opened %s beside the Lua state: %g handles on one engine\n", db_path, handles);
  if (handles != 2)
    fail("c", "the C handle does not share the Lua state's engine (link libquarry.so)");
  check_ok(quarry_db_cf(db, "blocks", &blocks), "cf");
  for (i = 0; i < 8; i++)
    key[i] = (unsigned char)(i == 7 ? 99 : 0);
  check_ok(quarry_get(db, blocks, NULL, (const char *)key, 8, &v), "get");
  if (v == NULL)
    fail("c", "block 99 written by Lua is missing");
  {
    const char *data = quarry_value_data(v, &len);
    printf("c: block 99 = \"%.*s\"\n", (int)len, data);
  }
  quarry_value_free(v);
  check_ok(quarry_put(db, NULL, NULL, "from-c", 6, "hello lua", 9), "put");
  lua_pushstring(L, "from-c");
  call(L, "get", 1, 1);
  printf("lua: from-c = \"%s\"\n", lua_tostring(L, -1));
  if (lua_tostring(L, -1) == NULL || strcmp(lua_tostring(L, -1), "hello lua") != 0)
    fail("lua", "does not see the C write");
  lua_pop(L, 1);

  /* 3. four threads, four more Lua states, one engine */
  for (i = 0; i < N_THREADS; i++)
    if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
      fail("pthread_create", "failed");
  for (i = 0; i < N_THREADS; i++)
    pthread_join(th[i], NULL);
  total = count_prefix(db, "thread");
  printf("c: %zu of %d writes from %d threads (one Lua state each) are there\n", total,
         N_THREADS * N_PUTS, N_THREADS);
  if (total != (size_t)N_THREADS * N_PUTS)
    fail("threads", "writes were lost");

  call(L, "summary", 0, 1);
  printf("lua: %s\n", lua_tostring(L, -1));
  lua_pop(L, 1);
  call(L, "prometheus", 0, 1);
  {
    const char *text = lua_tostring(L, -1), *p;
    static const char *const wanted[] = {"node_db_size_bytes{", "node_db_wal_synced_total{",
                                         "node_db_compaction_jobs{",
                                         "node_db_write_batch_seconds_count{"};
    for (i = 0; i < 4; i++) {
      if ((p = strstr(text, wanted[i])) == NULL)
        fail("prometheus", wanted[i]);
      printf("lua: %.*s\n", (int)strcspn(p, "\n"), p);
    }
  }
  lua_pop(L, 1);

  call(L, "close", 0, 0);
  lua_close(L);
  check_ok(quarry_db_close(db), "close");
  check_ok(quarry_destroy(db_path), "destroy (every handle is closed)");
  printf("ok\n");
  return 0;
}

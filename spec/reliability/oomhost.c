/* oomhost.c: rel_oomhost, the out-of-memory harness. A C host creates a lua_State with
 * lua_newstate and an allocator that fails allocations, loads the quarry module and runs
 * spec/reliability/oomworkload.lua, for every N (or every Kth): the Nth allocation after the module is
 * loaded fails (--once: only that one, which Lua's emergency collection retries; default: every
 * allocation from the Nth on, until the workload's pcall returns). Then it closes the state (every
 * handle must be released by __gc), opens the database again in a fresh state and checks it:
 * opens cleanly (no leaked LOCK), every acknowledged step present, the batches atomic.
 * Under ASan (the sanitize build) LeakSanitizer reports any leak at exit.
 *   usage: rel_oomhost WORKLOAD.lua DB_DIR [--stride K] [--once] [--from N] [--to N]
 * LUA_PATH / LUA_CPATH must find the in-tree module. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct {
  int armed, once;
  unsigned long count, fail_at, failures;
} heap;
static lua_Integer acked;

/* Lua assumes shrinking never fails: only new blocks and growth count. */
static void *failing_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(ptr);
    return NULL;
  }
  if (heap.armed && (ptr == NULL || nsize > osize)) {
    heap.count++;
    if (heap.fail_at && (heap.count == heap.fail_at || (!heap.once && heap.count > heap.fail_at))) {
      heap.failures++;
      return NULL;
    }
  }
  return realloc(ptr, nsize);
}

static int l_ack(lua_State *L) {
  acked = luaL_checkinteger(L, 1);
  return 0;
}

static int traceback(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL)
    msg = lua_pushfstring(L, "(%s)", luaL_typename(L, 1));
  luaL_traceback(L, L, msg, 1);
  return 1;
}

/* Runs the workload with the allocator failing at fail_at (0: never). Returns the pcall status. */
static int run_workload(const char *workload, const char *db, unsigned long fail_at, char *err,
                        size_t errlen) {
  lua_State *L = lua_newstate(failing_alloc, NULL);
  int status;
  if (L == NULL) {
    snprintf(err, errlen, "lua_newstate failed");
    return -1;
  }
  luaL_openlibs(L);
  lua_getglobal(L, "require");
  lua_pushstring(L, "quarry");
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    snprintf(err, errlen, "require quarry: %s", lua_tostring(L, -1));
    lua_close(L);
    return -1;
  }
  lua_pushstring(L, db);
  lua_setglobal(L, "DB");
  lua_pushcfunction(L, l_ack);
  lua_setglobal(L, "ack");
  lua_pushcfunction(L, traceback);
  if (luaL_loadfile(L, workload) != LUA_OK) {
    snprintf(err, errlen, "load: %s", lua_tostring(L, -1));
    lua_close(L);
    return -1;
  }
  acked = 0;
  heap.count = 0;
  heap.failures = 0;
  heap.fail_at = fail_at;
  heap.armed = 1;
  status = lua_pcall(L, 0, 0, -2);
  heap.armed = 0;
  err[0] = '\0';
  if (status != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    snprintf(err, errlen, "%s", m ? m : "(no message)");
  }
  lua_close(L); /* every database, iterator, snapshot and batch is released here by __gc */
  return status;
}

/* Opens the database in a fresh, normal state and checks it against acked. */
static int verify(const char *db, lua_Integer ack, char *err, size_t errlen) {
  lua_State *L = luaL_newstate();
  int status;
  static const char *const check =
      "local dir, acked = ...\n"
      "local q = require('quarry')\n"
      "local db = q.open(dir, {column_families = {'x'}, env = false})\n"
      "local x = db:cf('x')\n"
      "local function v(i) return ('v'):rep(i * 10) end\n"
      "local last = 0\n"
      "for i = 1, 10 do\n"
      "  local got = db:get(('k%03d'):format(i))\n"
      "  if got ~= nil then assert(got == v(i), 'altered k' .. i); assert(last == i - 1 or (i == 1 and acked >= 12), 'gap at ' .. i); last = i\n"
      "  elseif i == 1 and acked >= 12 then last = 1\n"
      "  else assert(i > acked, 'acknowledged k' .. i .. ' lost') end\n"
      "end\n"
      "assert(last <= acked + 1, 'more present than attempted')\n"
      "local n = 0\n"
      "for j = 1, 3 do if x:get(('b%03d'):format(j)) == 'batch' then n = n + 1 end end\n"
      "assert(n == 0 or n == 3, 'torn batch: ' .. n .. ' of 3')\n"
      "if acked >= 11 then assert(n == 3, 'acknowledged batch lost') end\n"
      "local k11 = db:get('k011')\n"
      "if acked >= 12 then assert(k11 == 'x' and db:get('k001') == nil, 'acknowledged batch 12 lost') end\n"
      "if k11 then assert(db:get('k001') == nil, 'torn batch 12') end\n"
      "db:close()\n";
  luaL_openlibs(L);
  if (luaL_loadstring(L, check) != LUA_OK) {
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
    lua_close(L);
    return -1;
  }
  lua_pushstring(L, db);
  lua_pushinteger(L, ack);
  status = lua_pcall(L, 2, 0, 0);
  if (status != LUA_OK)
    snprintf(err, errlen, "%s", lua_tostring(L, -1));
  lua_close(L);
  return status;
}

int main(int argc, char **argv) {
  const char *workload, *db;
  unsigned long stride = 1, from = 1, to = 0, n, total, points = 0, errmem = 0, completed = 0,
                other = 0, bad = 0;
  int i;
  char err[4096];
  if (argc < 3) {
    fprintf(stderr, "usage: rel_oomhost WORKLOAD.lua DB_DIR [--stride K] [--once] [--from N] [--to N]\n");
    return 2;
  }
  workload = argv[1];
  db = argv[2];
  for (i = 3; i < argc; i++) {
    if (strcmp(argv[i], "--once") == 0)
      heap.once = 1;
    else if (strcmp(argv[i], "--stride") == 0 && i + 1 < argc)
      stride = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
      from = strtoul(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
      to = strtoul(argv[++i], NULL, 10);
  }
  /* Counting run: no failure; the workload must pass and the check too. */
  if (system(NULL) && db[0]) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", db);
    if (system(cmd) != 0)
      return 2;
  }
  if (run_workload(workload, db, 0, err, sizeof err) != LUA_OK || acked != 13) {
    fprintf(stderr, "oomhost: the workload fails without injected failures: %s\n", err);
    return 1;
  }
  total = heap.count;
  if (verify(db, acked, err, sizeof err) != LUA_OK) {
    fprintf(stderr, "oomhost: check fails without injected failures: %s\n", err);
    return 1;
  }
  if (to == 0 || to > total)
    to = total;
  for (n = from; n <= to; n += stride) {
    int st;
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", db);
    if (system(cmd) != 0)
      return 2;
    points++;
    st = run_workload(workload, db, n, err, sizeof err);
    if (st == LUA_OK)
      completed++;
    else if (st == LUA_ERRMEM || strstr(err, "not enough memory"))
      errmem++;
    else {
      other++;
      if (!strstr(err, "not enough memory"))
        fprintf(stderr, "oomhost: N=%lu: an error other than out of memory: %s\n", n, err);
    }
    if (verify(db, acked, err, sizeof err) != LUA_OK) {
      bad++;
      fprintf(stderr, "oomhost: N=%lu (acked %lld): check failed: %s\n", n, (long long)acked, err);
    }
  }
  printf("oomhost: mode=%s allocations=%lu stride=%lu points=%lu out_of_memory=%lu "
         "completed=%lu other_errors=%lu inconsistent=%lu result=%s\n",
         heap.once ? "once" : "persistent", total, stride, points, errmem, completed, other, bad,
         bad ? "FAIL" : "PASS");
  return bad ? 1 : 0;
}

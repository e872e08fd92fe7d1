/* fuzz_lua.c: one libFuzzer entry for the Lua-facing decoders. A lua_State with the quarry module
 * linked in (every binding module: quarry.core, quarry.json.core, quarry.sys, quarry.bytes, each
 * in package.preload) loads spec/fuzz/<QFUZZ_TARGET>.lua, which returns a
 * function called with each input. That function absorbs the errors a decoder may rightly raise
 * on bad bytes and raises for anything else (a broken invariant, a Lua error inside the decoder);
 * such an error aborts here, so libFuzzer records the input. Memory errors in the C decoders are
 * caught by ASan/UBSan. The Lua interpreter is not instrumented, so a line hook feeds libFuzzer
 * edges between Lua lines (extra counters): the Lua decoders get coverage guidance too.
 * Built by CMake when QUARRY_FUZZ=ON (clang). Run with -detect_leaks=0: Lua's collector frees
 * later than one input, which LeakSanitizer would scan for at every input. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int luaopen_quarry_core(lua_State *L);
int luaopen_quarry_json_core(lua_State *L);
int luaopen_quarry_sys(lua_State *L);
int luaopen_quarry_bytes(lua_State *L);
int luaopen_quarry_u256(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lua_State *L;
static int fn_ref;

/* libFuzzer reads this section as extra coverage counters. */
__attribute__((section("__libfuzzer_extra_counters"))) static uint8_t lua_edges[1 << 16];
static unsigned prev_line;

static void line_hook(lua_State *S, lua_Debug *ar) {
  unsigned line = (unsigned)ar->currentline;
  (void)S;
  lua_edges[((line * 2654435761u) ^ prev_line) & 0xffffu]++;
  prev_line = line >> 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_getglobal(L, "package");
  lua_getfield(L, -1, "preload");
  lua_pushcfunction(L, luaopen_quarry_core);
  lua_setfield(L, -2, "quarry.core");
  lua_pushcfunction(L, luaopen_quarry_json_core);
  lua_setfield(L, -2, "quarry.json.core");
  lua_pushcfunction(L, luaopen_quarry_sys);
  lua_setfield(L, -2, "quarry.sys");
  lua_pushcfunction(L, luaopen_quarry_bytes);
  lua_setfield(L, -2, "quarry.bytes");
  lua_pushcfunction(L, luaopen_quarry_u256);
  lua_setfield(L, -2, "quarry.u256");
  lua_pop(L, 1);
  lua_pushstring(L, QFUZZ_SOURCE_DIR "/bindings/lua/?.lua;" QFUZZ_SOURCE_DIR
                    "/bindings/lua/?/init.lua;" QFUZZ_SOURCE_DIR "/bindings/json/?.lua;"
                    QFUZZ_SOURCE_DIR "/scripts/?.lua;" QFUZZ_SOURCE_DIR "/scripts/?/init.lua;"
                    QFUZZ_SOURCE_DIR "/spec/fuzz/?.lua");
  lua_setfield(L, -2, "path");
  lua_pop(L, 1);
  if (luaL_dofile(L, QFUZZ_SOURCE_DIR "/spec/fuzz/" QFUZZ_TARGET ".lua") != LUA_OK) {
    fprintf(stderr, "fuzz: cannot load the %s harness: %s\n", QFUZZ_TARGET, lua_tostring(L, -1));
    abort();
  }
  fn_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static unsigned long runs;
  prev_line = 0;
  lua_sethook(L, line_hook, LUA_MASKLINE, 0);
  lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
  lua_pushlstring(L, (const char *)data, size);
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    const char *m = lua_tostring(L, -1);
    fprintf(stderr, "fuzz %s: %s\n", QFUZZ_TARGET, m ? m : luaL_typename(L, -1));
    abort();
  }
  if (++runs % 4096 == 0)
    lua_gc(L, LUA_GCCOLLECT);
  return 0;
}

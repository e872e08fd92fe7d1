/* l_lz4.c: json.lz4_compress and json.lz4_decompress, whole strings in the LZ4 frame format
 * (the format json.reader and json.writer stream), and json.lz4_version. */
#include "l_json.h"

#include <lz4.h>
#include <lz4frame.h>
#include <string.h>

/* json.lz4_compress(s [, level]) */
static int l_lz4_compress(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  LZ4F_preferences_t prefs;
  memset(&prefs, 0, sizeof prefs);
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  prefs.frameInfo.contentSize = n;
  prefs.compressionLevel = (int)luaL_optinteger(L, 2, 0);
  size_t bound = LZ4F_compressFrameBound(n, &prefs);
  luaL_Buffer b;
  char *out = luaL_buffinitsize(L, &b, bound);
  size_t z = LZ4F_compressFrame(out, bound, s, n, &prefs);
  if (LZ4F_isError(z))
    return ql_raisef(L, QUARRY_EINVAL, "json.lz4_compress", "json.lz4_compress: %s",
                     LZ4F_getErrorName(z));
  luaL_pushresultsize(&b, z);
  return 1;
}

static int dctx_gc(lua_State *L) {
  LZ4F_dctx **p = lua_touserdata(L, 1);
  if (*p != NULL)
    LZ4F_freeDecompressionContext(*p);
  *p = NULL;
  return 0;
}

/* json.lz4_decompress(s): one or more concatenated frames. */
static int l_lz4_decompress(lua_State *L) {
  size_t n, pos = 0, hint = 1;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_settop(L, 1);
  LZ4F_dctx **box = lua_newuserdatauv(L, sizeof *box, 0); /* 2: owns the context */
  *box = NULL;
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, 2);
  if (LZ4F_isError(LZ4F_createDecompressionContext(box, LZ4F_VERSION)))
    return ql_raisef(L, QUARRY_ENOMEM, "json.lz4_decompress",
                     "json.lz4_decompress: cannot create an LZ4 context");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  while (pos < n || hint != 0) {
    size_t dst = 4 * QJ_CHUNK, src = n - pos;
    char *out = luaL_prepbuffsize(&b, dst);
    hint = LZ4F_decompress(*box, out, &dst, s + pos, &src, NULL);
    if (LZ4F_isError(hint))
      return ql_raisef(L, QUARRY_ECORRUPTION, "json.lz4_decompress", "json.lz4_decompress: %s",
                       LZ4F_getErrorName(hint));
    luaL_addsize(&b, dst);
    pos += src;
    if (pos >= n && dst == 0 && hint != 0)
      return ql_raisef(L, QUARRY_ECORRUPTION, "json.lz4_decompress",
                       "json.lz4_decompress: truncated input");
  }
  luaL_pushresult(&b);
  return 1;
}

void qj_lz4_open(lua_State *L) {
  lua_pushcfunction(L, l_lz4_compress);
  lua_setfield(L, -2, "lz4_compress");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, dctx_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcclosure(L, l_lz4_decompress, 1);
  lua_setfield(L, -2, "lz4_decompress");
  lua_pushstring(L, LZ4_versionString()); /* of the library loaded, not of the headers */
  lua_setfield(L, -2, "lz4_version");
}

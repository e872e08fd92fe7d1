/* l_bytes.c: the module quarry.bytes: byte-string encodings for keys and hashes: be64 (8-byte
 * big-endian), uvarint (LEB128), tohex and fromhex. No storage: these are plain functions. */
#include "lcommon.h"

#include <stdint.h>
#include <string.h>

/* bytes.be64(n [, suffix]): the 8 bytes of integer n, most significant first (taken as unsigned:
 * byte strings of n >= 0 sort as the numbers do), followed by suffix; one string built in one go,
 * for integer keys (heights, sequence numbers) without string.pack's format parsing. */
/* Argument idx as an integer, taken as unsigned 64-bit: a number with an integral value; a string
 * is refused (lua_tointegerx alone would take "12"). */
static uint64_t check_u64(lua_State *L, int idx) {
  lua_Integer n;
  int isnum;
  if (lua_type(L, idx) != LUA_TNUMBER)
    luaL_typeerror(L, idx, "integer");
  n = lua_tointegerx(L, idx, &isnum);
  if (!isnum)
    luaL_argerror(L, idx, "number has no integer representation");
  return (uint64_t)n;
}

static int l_be64(lua_State *L) {
  uint64_t u = check_u64(L, 1);
  size_t slen = 0, i;
  const char *suffix;
  char small[64];
  luaL_Buffer b;
  char *buf;
  if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TSTRING) /* not a number turned into text */
    return luaL_typeerror(L, 2, "string");
  suffix = luaL_optlstring(L, 2, "", &slen);
  /* the common short key on the C stack, pushed once; a long suffix through a Lua buffer */
  buf = slen <= sizeof small - 8 ? small : luaL_buffinitsize(L, &b, 8 + slen);
  for (i = 0; i < 8; i++)
    buf[i] = (char)(u >> (56 - 8 * i));
  if (slen)
    memcpy(buf + 8, suffix, slen);
  if (buf == small)
    lua_pushlstring(L, buf, 8 + slen);
  else
    luaL_pushresultsize(&b, 8 + slen);
  return 1;
}

/* bytes.tohex(s [, i [, j]]): lowercase hex of bytes i..j of s (default all; negative
 * positions count from the end, as string.sub's). */
static int l_tohex(lua_State *L) {
  static const char digits[] = "0123456789abcdef";
  size_t len, k, n;
  const char *s;
  lua_Integer i, j;
  luaL_Buffer b;
  char *out;
  if (lua_type(L, 1) != LUA_TSTRING) /* not a number turned into its text */
    return luaL_typeerror(L, 1, "string");
  s = lua_tolstring(L, 1, &len);
  i = luaL_optinteger(L, 2, 1);
  j = luaL_optinteger(L, 3, -1);
  if (i < 0)
    i = (lua_Integer)len + i + 1 > 0 ? (lua_Integer)len + i + 1 : 1;
  else if (i == 0)
    i = 1;
  if (j < 0)
    j = (lua_Integer)len + j + 1;
  else if (j > (lua_Integer)len)
    j = (lua_Integer)len;
  if (i > j) {
    lua_pushliteral(L, "");
    return 1;
  }
  n = (size_t)(j - i + 1);
  out = luaL_buffinitsize(L, &b, 2 * n);
  for (k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[(size_t)i - 1 + k];
    out[2 * k] = digits[c >> 4];
    out[2 * k + 1] = digits[c & 15];
  }
  luaL_pushresultsize(&b, 2 * n);
  return 1;
}

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;
}

/* bytes.fromhex(h [, prefix]): prefix followed by the bytes of h, or nil when h is not lowercase
 * hex of even length (uppercase is refused: the bytes must give back the same text). */
static int l_fromhex(lua_State *L) {
  size_t len, plen = 0, k;
  const char *h, *prefix;
  luaL_Buffer b;
  char *out;
  if (lua_type(L, 1) != LUA_TSTRING)
    return luaL_typeerror(L, 1, "string");
  h = lua_tolstring(L, 1, &len);
  if (!lua_isnoneornil(L, 2) && lua_type(L, 2) != LUA_TSTRING)
    return luaL_typeerror(L, 2, "string");
  prefix = luaL_optlstring(L, 2, "", &plen);
  if (len % 2) {
    lua_pushnil(L);
    return 1;
  }
  out = luaL_buffinitsize(L, &b, plen + len / 2);
  memcpy(out, prefix, plen);
  for (k = 0; k < len; k += 2) {
    int hi = hexval((unsigned char)h[k]), lo = hexval((unsigned char)h[k + 1]);
    if (hi < 0 || lo < 0) {
      lua_pushnil(L);
      return 1;
    }
    out[plen + k / 2] = (char)(hi << 4 | lo);
  }
  luaL_pushresultsize(&b, plen + len / 2);
  return 1;
}

/* bytes.uvarint(n): the unsigned LEB128 bytes of integer n (taken as unsigned 64-bit: 1 to 10
 * bytes, 7 bits each, least significant first, high bit set on all but the last). */
static int l_uvarint(lua_State *L) {
  char buf[10];
  int k = 0;
  uint64_t u = check_u64(L, 1);
  do {
    unsigned char low = (unsigned char)(u & 0x7f);
    u >>= 7;
    buf[k++] = (char)(u ? (low | 0x80) : low);
  } while (u);
  lua_pushlstring(L, buf, (size_t)k);
  return 1;
}

static const luaL_Reg bytes_fns[] = {
  {"be64", l_be64},
  {"uvarint", l_uvarint},
  {"tohex", l_tohex},
  {"fromhex", l_fromhex},
  {NULL, NULL},
};

QL_EXPORT int luaopen_quarry_bytes(lua_State *L);

QL_EXPORT int luaopen_quarry_bytes(lua_State *L) {
  luaL_newlib(L, bytes_fns);
  return 1;
}

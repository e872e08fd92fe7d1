/* l_json_encode.c: Lua values to JSON text (json.encode, and the writer's elements).
 * Deterministic: recorded key order for decoded objects, bytewise-sorted keys otherwise. */
#include "l_json.h"

#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qj_key {
  const char *s;
  size_t len;
};

struct qj_pathstep {
  const char *key; /* NULL: an array index */
  size_t klen;
  lua_Integer index;
};

/* ---- buffer ---------------------------------------------------------------------------------- */

void qj_encoder_reserve(lua_State *L, qj_encoder *e, size_t n) {
  if (e->cap - e->len >= n)
    return;
  size_t cap = e->cap ? e->cap : 256;
  while (cap - e->len < n) {
    if (cap > ((size_t)-1) / 2)
      ql_raisef(L, QUARRY_EINVAL, e->op, "json.encode: output too large");
    cap *= 2;
  }
  char *p = realloc(e->buf, cap);
  if (p == NULL)
    ql_raisef(L, QUARRY_ENOMEM, e->op, "json.encode: out of memory");
  e->buf = p;
  e->cap = cap;
}

void qj_encoder_put(lua_State *L, qj_encoder *e, const char *s, size_t n) {
  qj_encoder_reserve(L, e, n);
  memcpy(e->buf + e->len, s, n);
  e->len += n;
}

static void putc_(lua_State *L, qj_encoder *e, char c) {
  if (e->len == e->cap)
    qj_encoder_reserve(L, e, 1);
  e->buf[e->len++] = c;
}

void qj_encoder_free(qj_encoder *e) {
  free(e->buf);
  free(e->keys);
  free(e->path);
  free(e->steps);
  e->buf = NULL;
  e->keys = NULL;
  e->path = NULL;
  e->steps = NULL;
  e->len = e->cap = e->nkeys = e->kcap = 0;
  e->pcap = 0;
}

/* ---- error messages with the path of the offending value ------------------------------------- */

static void push_path(lua_State *L, const qj_encoder *e) {
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addchar(&b, '$');
  for (int i = 0; i < e->depth; i++) {
    const struct qj_pathstep *s = &e->steps[i];
    if (s->key != NULL) {
      luaL_addchar(&b, '.');
      luaL_addlstring(&b, s->key, s->klen > 64 ? 64 : s->klen);
    } else if (s->index > 0) {
      lua_pushfstring(L, "[%I]", s->index);
      luaL_addvalue(&b);
    }
  }
  luaL_pushresult(&b);
}

QL_NORETURN static void enc_error(lua_State *L, const qj_encoder *e,
                                                const char *what) {
  push_path(L, e);
  ql_raisef(L, QUARRY_EINVAL, e->op, "json.encode: %s at %s", what, lua_tostring(L, -1));
}

/* ---- strings ------------------------------------------------------------------------------- */

/* 0: copy; 1: needs an escape; 2: first byte of a UTF-8 sequence (or invalid). */
static unsigned char char_class[256];

static void init_classes(void) {
  for (int c = 0; c < 256; c++)
    char_class[c] = c < 0x20 || c == '"' || c == '\\' ? 1 : c >= 0x80 ? 2 : 0;
}

/* Length of the valid UTF-8 sequence at s[0..n) (s[0] >= 0x80), or 0 if invalid. */
size_t qj_utf8_len(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned min, cp;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
    cp = c & 0x1F;
    min = 0x80;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    cp = c & 0x0F;
    min = 0x800;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    cp = c & 0x07;
    min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

static void put_string(lua_State *L, qj_encoder *e, const char *str, size_t n) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  qj_encoder_reserve(L, e, n + 2);
  e->buf[e->len++] = '"';
  while (i < n) {
    size_t j = i;
    while (j < n && char_class[s[j]] == 0)
      j++;
    if (j > i) {
      qj_encoder_put(L, e, (const char *)s + i, j - i);
      i = j;
      if (i >= n)
        break;
    }
    unsigned char c = s[i];
    if (char_class[c] == 2) {
      size_t len = qj_utf8_len(s + i, n - i);
      if (len == 0) {
        if (!e->allow_invalid_utf8) {
          char what[96];
          snprintf(what, sizeof what, "invalid UTF-8 at byte %zu of a string", i);
          enc_error(L, e, what);
        }
        len = 1;
      }
      qj_encoder_put(L, e, (const char *)s + i, len);
      i += len;
      continue;
    }
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t elen = 2;
    switch (c) {
    case '"': esc[1] = '"'; break;
    case '\\': esc[1] = '\\'; break;
    case '\n': esc[1] = 'n'; break;
    case '\r': esc[1] = 'r'; break;
    case '\t': esc[1] = 't'; break;
    case '\b': esc[1] = 'b'; break;
    case '\f': esc[1] = 'f'; break;
    default:
      esc[1] = 'u';
      esc[2] = '0';
      esc[3] = '0';
      esc[4] = hex[c >> 4];
      esc[5] = hex[c & 15];
      elen = 6;
    }
    qj_encoder_put(L, e, esc, elen);
    i++;
  }
  putc_(L, e, '"');
}

/* ---- numbers ------------------------------------------------------------------------------- */

static void put_integer(lua_State *L, qj_encoder *e, lua_Integer v) {
  char tmp[24];
  char *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0)
    *--p = '-';
  qj_encoder_put(L, e, p, (size_t)(tmp + sizeof tmp - p));
}

/* Shortest of %.15g, %.16g, %.17g that reads back as d; "." + "0" added to integral values so
 * the text stays a float. Independent of the C locale's decimal point. */
static size_t format_double(char *buf, size_t size, double d) {
  char dp = localeconv()->decimal_point[0];
  int n = 0;
  for (int prec = 15; prec <= 17; prec++) {
    n = snprintf(buf, size, "%.*g", prec, d);
    if (prec == 17 || strtod(buf, NULL) == d)
      break;
  }
  int integral = 1;
  for (int i = 0; i < n; i++) {
    if (buf[i] == dp) {
      buf[i] = '.';
      integral = 0;
    } else if (buf[i] == 'e' || buf[i] == 'E') {
      integral = 0;
    }
  }
  if (integral && (size_t)n + 2 < size) {
    buf[n++] = '.';
    buf[n++] = '0';
    buf[n] = '\0';
  }
  return (size_t)n;
}

static void put_float(lua_State *L, qj_encoder *e, lua_Number d) {
  char buf[40];
  if (isnan(d) || isinf(d))
    enc_error(L, e, isnan(d) ? "NaN is not a JSON number" : "infinity is not a JSON number");
  qj_encoder_put(L, e, buf, format_double(buf, sizeof buf, (double)d));
}

/* ---- tables -------------------------------------------------------------------------------- */

static void encode_any(lua_State *L, qj_encoder *e, int idx);

static void newline(lua_State *L, qj_encoder *e, int level) {
  if (e->indent == NULL)
    return;
  qj_encoder_reserve(L, e, 1 + (size_t)level * e->indent_len);
  e->buf[e->len++] = '\n';
  for (int i = 0; i < level; i++) {
    memcpy(e->buf + e->len, e->indent, e->indent_len);
    e->len += e->indent_len;
  }
}

static void push_key(lua_State *L, qj_encoder *e, const char *s, size_t len) {
  if (e->nkeys == e->kcap) {
    size_t cap = e->kcap ? e->kcap * 2 : 64;
    struct qj_key *k = realloc(e->keys, cap * sizeof *k);
    if (k == NULL)
      ql_raisef(L, QUARRY_ENOMEM, e->op, "json.encode: out of memory");
    e->keys = k;
    e->kcap = cap;
  }
  e->keys[e->nkeys].s = s;
  e->keys[e->nkeys].len = len;
  e->nkeys++;
}

static int key_cmp(const void *a, const void *b) {
  const struct qj_key *x = a, *y = b;
  size_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->s, y->s, n);
  if (c != 0)
    return c;
  return x->len < y->len ? -1 : x->len > y->len;
}

/* Raises for the key at idx (a copy is converted, so a lua_next in progress stays valid). */
QL_NORETURN static void bad_key(lua_State *L, const qj_encoder *e, const char *what,
                                              int idx) {
  const char *tn = luaL_typename(L, idx);
  int isnum = lua_type(L, idx) == LUA_TNUMBER;
  lua_pushvalue(L, idx);
  lua_pushfstring(L, "%s key of type %s (%s)", what, tn,
                  isnum ? lua_tostring(L, -1) : "keys must be strings");
  enc_error(L, e, lua_tostring(L, -1));
}

/* Member "key": value, with the value on top of the stack (popped). */
static void put_member(lua_State *L, qj_encoder *e, const char *k, size_t klen, int first) {
  if (!first)
    putc_(L, e, ',');
  newline(L, e, e->depth);
  put_string(L, e, k, klen);
  if (e->indent != NULL)
    qj_encoder_put(L, e, ": ", 2);
  else
    putc_(L, e, ':');
  e->steps[e->depth - 1].key = k;
  e->steps[e->depth - 1].klen = klen;
  encode_any(L, e, lua_gettop(L));
  lua_pop(L, 1);
}

/* Writes the object at idx: first the keys recorded in t[1..n] (decoded objects), then the other
 * string keys sorted bytewise. With emit = 0 only collects the keys onto the key stack. */
static size_t object_keys(lua_State *L, qj_encoder *e, int idx, int ordered, int emit) {
  size_t base = e->nkeys, present = 0, nstr = 0;
  lua_Integer n = ordered ? (lua_Integer)lua_rawlen(L, idx) : 0;
  int first = 1;
  for (lua_Integer i = 1; i <= n; i++) {
    size_t klen;
    if (lua_rawgeti(L, idx, i) != LUA_TSTRING)
      enc_error(L, e, "the key order of a json.object_mt table holds a non-string");
    const char *k = lua_tolstring(L, -1, &klen); /* the table holds the key */
    if (lua_rawget(L, idx) == LUA_TNIL) {
      lua_pop(L, 1);
      continue;
    }
    present++;
    if (emit) {
      put_member(L, e, k, klen, first);
      first = 0;
    } else {
      lua_pop(L, 1);
      push_key(L, e, k, klen);
    }
  }
  /* Any other keys? */
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_pop(L, 1);
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING) {
      nstr++;
    } else if (!(ordered && lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1 &&
                 lua_tointeger(L, -1) <= n)) {
      bad_key(L, e, "object", -1);
    }
  }
  if (nstr != present) {
    size_t xbase = e->nkeys;
    if (n > 0) { /* a set of the recorded keys */
      lua_createtable(L, 0, (int)n);
      for (lua_Integer i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, i);
        lua_pushboolean(L, 1);
        lua_rawset(L, -3);
      }
    } else {
      lua_pushnil(L);
    }
    int set = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      lua_pop(L, 1);
      if (lua_type(L, -1) != LUA_TSTRING)
        continue;
      if (n > 0) {
        lua_pushvalue(L, -1);
        int seen = lua_rawget(L, set) != LUA_TNIL;
        lua_pop(L, 1);
        if (seen)
          continue;
      }
      size_t klen;
      const char *k = lua_tolstring(L, -1, &klen);
      push_key(L, e, k, klen);
    }
    lua_pop(L, 1); /* the set */
    qsort(e->keys + xbase, e->nkeys - xbase, sizeof *e->keys, key_cmp);
    if (emit) {
      for (size_t i = xbase; i < e->nkeys; i++) {
        lua_pushlstring(L, e->keys[i].s, e->keys[i].len);
        lua_rawget(L, idx);
        put_member(L, e, e->keys[i].s, e->keys[i].len, first);
        first = 0;
      }
    }
  }
  size_t total = e->nkeys - base;
  if (emit)
    e->nkeys = base;
  return emit ? (first ? 0 : 1) : total;
}

static void put_array(lua_State *L, qj_encoder *e, int idx, lua_Integer n) {
  putc_(L, e, '[');
  for (lua_Integer i = 1; i <= n; i++) {
    if (i > 1)
      putc_(L, e, ',');
    newline(L, e, e->depth);
    e->steps[e->depth - 1].key = NULL;
    e->steps[e->depth - 1].index = i;
    lua_rawgeti(L, idx, i);
    encode_any(L, e, lua_gettop(L));
    lua_pop(L, 1);
  }
  if (n > 0)
    newline(L, e, e->depth - 1);
  putc_(L, e, ']');
}

/* The length of an array: #t, or t.n when it is an integer at least #t (table.pack). */
static lua_Integer array_len(lua_State *L, int idx) {
  lua_Integer n = (lua_Integer)lua_rawlen(L, idx);
  lua_pushliteral(L, "n");
  if (lua_rawget(L, idx) == LUA_TNUMBER && lua_isinteger(L, -1) && lua_tointeger(L, -1) > n)
    n = lua_tointeger(L, -1);
  lua_pop(L, 1);
  return n;
}

static void put_object(lua_State *L, qj_encoder *e, int idx, int ordered) {
  putc_(L, e, '{');
  if (object_keys(L, e, idx, ordered, 1))
    newline(L, e, e->depth - 1);
  putc_(L, e, '}');
}

/* A plain table: a sequence 1..n (or table.pack's n) is an array, string keys an object. */
static void put_plain(lua_State *L, qj_encoder *e, int idx) {
  lua_Integer nint = 0, maxint = 0, packn = -1;
  size_t nstr = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      nstr++;
      size_t kl;
      const char *k = lua_tolstring(L, -2, &kl);
      if (kl == 1 && k[0] == 'n' && lua_isinteger(L, -1))
        packn = lua_tointeger(L, -1);
    } else if (lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
      nint++;
      if (lua_tointeger(L, -2) > maxint)
        maxint = lua_tointeger(L, -2);
    } else {
      bad_key(L, e, "table", -2);
    }
    lua_pop(L, 1);
  }
  if (nint == 0 && (nstr != 1 || packn != 0)) {
    put_object(L, e, idx, 0);
  } else if (nstr == 0 && maxint == nint) {
    put_array(L, e, idx, nint);
  } else if (nstr == 1 && packn >= maxint) {
    put_array(L, e, idx, packn);
  } else if (nstr > 0) {
    enc_error(L, e, "table mixes integer and string keys (not an array nor an object)");
  } else {
    enc_error(L, e, "sparse array (use json.null for holes, or set n)");
  }
}

static void put_table(lua_State *L, qj_encoder *e, int idx) {
  const void *p = lua_topointer(L, idx);
  if (lua_getmetatable(L, idx)) {
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    if (mt == e->mt_number) {
      size_t len;
      lua_getfield(L, idx, "text");
      const char *s = lua_tolstring(L, -1, &len);
      if (s == NULL || lua_type(L, -1) != LUA_TSTRING || !qj_valid_number(s, len))
        enc_error(L, e, "json.number with an invalid text");
      qj_encoder_put(L, e, s, len);
      lua_pop(L, 1);
      return;
    }
    /* other metatables: encoded as plain tables (metamethods are not called) */
  }
  for (int i = 0; i < e->depth; i++)
    if (e->path[i] == p)
      enc_error(L, e, "cycle: a table contains itself");
  if (e->depth >= e->max_depth) {
    char what[64];
    snprintf(what, sizeof what, "nesting deeper than %d (max_depth)", e->max_depth);
    enc_error(L, e, what);
  }
  luaL_checkstack(L, 8, "json.encode");
  e->path[e->depth] = p;
  e->steps[e->depth].key = NULL;
  e->steps[e->depth].index = 0;
  e->depth++;
  const void *mt = NULL;
  if (lua_getmetatable(L, idx)) {
    mt = lua_topointer(L, -1);
    lua_pop(L, 1);
  }
  if (mt != NULL && mt == e->mt_array)
    put_array(L, e, idx, array_len(L, idx));
  else if (mt != NULL && mt == e->mt_object)
    put_object(L, e, idx, 1);
  else
    put_plain(L, e, idx);
  e->depth--;
}

static void encode_any(lua_State *L, qj_encoder *e, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    put_string(L, e, s, len);
    break;
  }
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx))
      put_integer(L, e, lua_tointeger(L, idx));
    else
      put_float(L, e, lua_tonumber(L, idx));
    break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx))
      qj_encoder_put(L, e, "true", 4);
    else
      qj_encoder_put(L, e, "false", 5);
    break;
  case LUA_TNIL:
    qj_encoder_put(L, e, "null", 4);
    break;
  case LUA_TLIGHTUSERDATA:
    if (lua_touserdata(L, idx) == NULL) {
      qj_encoder_put(L, e, "null", 4);
      break;
    }
    enc_error(L, e, "cannot encode a light userdata (only json.null)");
  case LUA_TTABLE:
    put_table(L, e, idx);
    break;
  default: {
    char what[64];
    snprintf(what, sizeof what, "cannot encode a %s", luaL_typename(L, idx));
    enc_error(L, e, what);
  }
  }
}

/* ---- entry points -------------------------------------------------------------------------- */

static void ensure_path(lua_State *L, qj_encoder *e) {
  if (e->pcap >= (size_t)e->max_depth + 1)
    return;
  size_t n = (size_t)e->max_depth + 1;
  const void **p = realloc(e->path, n * sizeof *p);
  if (p == NULL)
    ql_raisef(L, QUARRY_ENOMEM, e->op, "json.encode: out of memory");
  e->path = p;
  struct qj_pathstep *s = realloc(e->steps, n * sizeof *s);
  if (s == NULL)
    ql_raisef(L, QUARRY_ENOMEM, e->op, "json.encode: out of memory");
  e->steps = s;
  e->pcap = n;
}

static const char *const encode_opts[] = {"indent", "allow_invalid_utf8", "max_depth", NULL};

void qj_encoder_options(lua_State *L, const char *op, int idx, qj_encoder *e) {
  e->op = op;
  static const char spaces[] = "                ";
  e->allow_invalid_utf8 = qj_optbool(L, op, idx, "allow_invalid_utf8", 0);
  e->max_depth = (int)qj_optint(L, op, idx, "max_depth", QJ_DEFAULT_MAX_DEPTH, 1, QJ_MAX_MAX_DEPTH);
  e->indent = NULL;
  e->indent_len = 0;
  if (!lua_isnoneornil(L, idx)) {
    int t = lua_getfield(L, idx, "indent");
    if (t == LUA_TNUMBER) {
      lua_Integer n = lua_tointeger(L, -1);
      if (!lua_isinteger(L, -1) || n < 0 || n > 16)
        ql_raisef(L, QUARRY_EINVAL, op, "json: option indent: 0..16 spaces or a string of spaces and tabs");
      e->indent = spaces;
      e->indent_len = (size_t)n;
    } else if (t == LUA_TSTRING) {
      size_t n;
      const char *s = lua_tolstring(L, -1, &n);
      if (strspn(s, " \t") != n || n > 16)
        ql_raisef(L, QUARRY_EINVAL, op, "json: option indent: 0..16 spaces or a string of spaces and tabs");
      e->indent = n <= 16 && strspn(s, " ") == n ? spaces : "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t";
      if (strspn(s, " ") != n && strspn(s, "\t") != n)
        ql_raisef(L, QUARRY_EINVAL, op, "json: option indent: spaces or tabs, not both");
      e->indent_len = n;
    } else if (t == LUA_TBOOLEAN && lua_toboolean(L, -1)) {
      e->indent = spaces;
      e->indent_len = 2;
    } else if (t != LUA_TNIL && t != LUA_TBOOLEAN) {
      ql_raisef(L, QUARRY_EINVAL, op, "json: option indent: number or string expected");
    }
    lua_pop(L, 1);
  }
}

static void begin(lua_State *L, qj_encoder *e) {
  ensure_path(L, e);
  e->depth = 0;
  e->nkeys = 0;
  luaL_getmetatable(L, QJ_OBJECT_MT);
  e->mt_object = lua_topointer(L, -1);
  luaL_getmetatable(L, QJ_ARRAY_MT);
  e->mt_array = lua_topointer(L, -1);
  luaL_getmetatable(L, QJ_NUMBER_MT);
  e->mt_number = lua_topointer(L, -1);
  lua_pop(L, 3);
}

void qj_encode_value(lua_State *L, qj_encoder *e, int idx) {
  idx = lua_absindex(L, idx);
  begin(L, e);
  encode_any(L, e, idx);
}

static int encoder_gc(lua_State *L) {
  qj_encoder_free(lua_touserdata(L, 1));
  return 0;
}

/* json.encode(value [, opts]); the encoder (upvalue 1) is shared: encoding never calls Lua code,
 * so it cannot be re-entered. */
static int l_encode(lua_State *L) {
  qj_encoder *e = lua_touserdata(L, lua_upvalueindex(1));
  lua_settop(L, 2);
  qj_checkopts(L, "json.encode", 2, encode_opts);
  qj_encoder_options(L, "json.encode", 2, e);
  e->len = 0;
  qj_encode_value(L, e, 1);
  lua_pushlstring(L, e->buf, e->len);
  if (e->cap > (1u << 20)) { /* do not keep a large buffer alive */
    free(e->buf);
    e->buf = NULL;
    e->cap = e->len = 0;
  }
  return 1;
}

void qj_push_keys(lua_State *L, qj_encoder *e, int idx) {
  idx = lua_absindex(L, idx);
  e->max_depth = QJ_DEFAULT_MAX_DEPTH;
  e->op = "json.keys";
  begin(L, e);
  int ordered = 0;
  if (lua_getmetatable(L, idx)) {
    ordered = lua_topointer(L, -1) == e->mt_object;
    lua_pop(L, 1);
  }
  e->depth = 1;
  e->steps[0].key = NULL;
  e->steps[0].index = 0;
  size_t n = object_keys(L, e, idx, ordered, 0);
  lua_createtable(L, (int)n, 0);
  if (n > 0 && ordered) { /* the recorded keys are not sorted: only the extras */ }
  for (size_t i = 0; i < n; i++) {
    lua_pushlstring(L, e->keys[i].s, e->keys[i].len);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  e->nkeys = 0;
  e->depth = 0;
}

static int l_keys_impl(lua_State *L) {
  qj_encoder *e = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TTABLE);
  qj_push_keys(L, e, 1);
  return 1;
}

void qj_encode_open(lua_State *L) {
  init_classes();
  qj_encoder *e = lua_newuserdatauv(L, sizeof *e, 0);
  memset(e, 0, sizeof *e);
  e->max_depth = QJ_DEFAULT_MAX_DEPTH;
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, encoder_gc);
  lua_setfield(L, -2, "__gc");
  lua_setmetatable(L, -2);
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, l_encode, 1);
  lua_setfield(L, -3, "encode");
  lua_pushcclosure(L, l_keys_impl, 1);
  lua_setfield(L, -2, "_keys");
}

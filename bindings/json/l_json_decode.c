/* l_json_decode.c: builds Lua values from yajl's events (json.decode, and the reader's elements).
 * Numbers come as text and strings with escapes are re-decoded from the source, so both are exact. */
#include "l_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CTX ((qj_builder *)ctx)

/* ---- positions and errors -------------------------------------------------------------------- */

/* Absolute offset just after the token yajl is reporting (yajl counts within the chunk). */
static uint64_t cur_pos(const qj_builder *b) {
  return b->chunk_base + (b->chunk ? yajl_get_bytes_consumed(b->h) : 0);
}

/* Absolute offset of the last byte of the current token (the position errors name). */
static uint64_t tok_pos(const qj_builder *b) {
  uint64_t p = cur_pos(b);
  /* a number is complete only when the byte after it arrives, possibly in the next chunk (or at
   * the end of the input): its last byte is then before the chunk, so no clamping to it */
  return p > 0 ? p - 1 : 0;
}

static void advance_lines(qj_builder *b, uint64_t pos) {
  if (pos <= b->lc_pos)
    return;
  if (b->chunk != NULL && b->lc_pos >= b->chunk_base && pos <= b->chunk_base + b->chunk_len) {
    const unsigned char *p = b->chunk + (b->lc_pos - b->chunk_base);
    const unsigned char *end = b->chunk + (pos - b->chunk_base);
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
      p++;
      b->lc_line++;
      b->lc_line_pos = b->chunk_base + (uint64_t)(p - b->chunk);
    }
  }
  b->lc_pos = pos;
}

void qj_builder_linecol(qj_builder *b, uint64_t pos, uint64_t *line, uint64_t *col) {
  advance_lines(b, pos);
  *line = b->lc_line;
  *col = pos >= b->lc_line_pos ? pos - b->lc_line_pos + 1 : 1;
}

void qj_builder_count_lines(qj_builder *b) {
  if (b->chunk != NULL)
    advance_lines(b, b->chunk_base + b->chunk_len);
}

__attribute__((format(printf, 2, 3))) static int fail(qj_builder *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(b->err, sizeof b->err, fmt, ap);
  va_end(ap);
  b->failed = 1;
  b->err_pos = tok_pos(b);
  return 0; /* returned by the callback: yajl stops with yajl_status_client_canceled */
}

/* ---- placing a finished value (on top of the stack) ------------------------------------------ */

static void enqueue(qj_builder *b) {
  lua_State *L = b->L;
  lua_rawseti(L, b->s_queue, ++b->q_tail);
  lua_pushinteger(L, (lua_Integer)cur_pos(b));
  lua_rawseti(L, b->s_queue, ++b->q_tail);
}

static int top_done(qj_builder *b) {
  lua_State *L = b->L;
  uint64_t line, col;
  switch (b->mode) {
  case QJ_MODE_DOC:
    b->header_done = 1; /* the value stays on the stack for json.decode */
    return 1;
  case QJ_MODE_ARRAY:
    lua_pop(L, 1);
    b->header_done = 1;
    return 1;
  case QJ_MODE_OBJECT:
  case QJ_MODE_AUTO:
    b->header_done = 1;
    if (b->key_found) {
      lua_pop(L, 1); /* the header: the reader keeps it */
      return 1;
    }
    if (b->mode == QJ_MODE_OBJECT)
      return fail(b, "the top-level object has no member \"%s\"", b->key);
    /* AUTO without the key: the object is the first of a sequence of top-level values */
    b->mode = QJ_MODE_LINES;
    if (b->on_header != NULL) {
      lua_pushnil(L);
      b->on_header(b);
      lua_pop(L, 1);
    }
    break;
  case QJ_MODE_LINES:
    break;
  }
  qj_builder_linecol(b, tok_pos(b), &line, &col);
  b->last_end_line = line;
  enqueue(b);
  return 1;
}

/* Stack: [object, key, value] -> [object]. The first occurrence of a key fixes its position in the
 * key order (object[1..n]); a repeated name (b->dup, set by cb_map_key) keeps the first value or
 * takes the last one at the first's position, as opts.duplicates says ("error" stopped earlier). */
static int object_set(qj_builder *b) {
  lua_State *L = b->L;
  if (b->dup[b->depth]) {
    if (b->duplicates == QJ_DUP_FIRST) {
      lua_pop(L, 2);
      return 1;
    }
  } else if (b->keep_order) {
    lua_pushvalue(L, -2);
    lua_rawseti(L, -4, ++b->count[b->depth]);
  }
  lua_rawset(L, -3);
  return 1;
}

static int finish(qj_builder *b) {
  if (b->depth == 0)
    return top_done(b);
  switch (b->kind[b->depth]) {
  case 'a':
    lua_rawseti(b->L, -2, ++b->count[b->depth]);
    return 1;
  case 'o':
    return object_set(b);
  default: /* 'd': an element of the streamed array */
    enqueue(b);
    return 1;
  }
}

/* Checks run before any value starts; what is 0 scalar, 1 array, 2 object. */
static int value_start(qj_builder *b, int what) {
  if (b->depth == 0) {
    uint64_t line, col;
    switch (b->mode) {
    case QJ_MODE_DOC:
      break;
    case QJ_MODE_ARRAY:
      if (what != 1)
        return fail(b, "the top-level value is not an array");
      break;
    case QJ_MODE_OBJECT:
    case QJ_MODE_AUTO:
      if (b->header_done)
        return fail(b, "more than one top-level value (for JSON Lines use format = \"jsonl\")");
      if (what != 2)
        return fail(b, "the top-level value is not an object");
      break;
    case QJ_MODE_LINES:
      qj_builder_linecol(b, tok_pos(b), &line, &col);
      if (line == b->last_end_line)
        return fail(b, "more than one value on line %llu", (unsigned long long)line);
      break;
    }
  } else if (b->key_pending && what != 1) {
    return fail(b, "member \"%s\" is not an array", b->key);
  }
  return 1;
}

static int open_level(qj_builder *b, char kind) {
  if (b->depth >= b->max_depth)
    return fail(b, "nesting deeper than %d (max_depth)", b->max_depth);
  if (!lua_checkstack(b->L, 8))
    return fail(b, "Lua stack exhausted");
  b->depth++;
  b->kind[b->depth] = (unsigned char)kind;
  b->count[b->depth] = 0;
  return 1;
}

/* ---- strings: exact decoding of escapes -------------------------------------------------------- */

static int hex4(const unsigned char *p, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned c = p[i], d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return 0;
    v = v * 16 + d;
  }
  *out = v;
  return 1;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Decodes the escapes of raw[0..n) (a string token without its quotes, already checked by yajl's
 * lexer) into b->sbuf. Lone surrogates are an error or U+FFFD (opts.lone_surrogates). */
static int unescape(qj_builder *b, const unsigned char *raw, size_t n, size_t *outlen) {
  if (b->scap < n + 1) {
    size_t cap = n + 1 < 256 ? 256 : n + 1;
    char *p = realloc(b->sbuf, cap);
    if (p == NULL)
      return fail(b, "out of memory");
    b->sbuf = p;
    b->scap = cap;
  }
  char *o = b->sbuf;
  size_t i = 0;
  while (i < n) {
    const unsigned char *bs = memchr(raw + i, '\\', n - i);
    size_t run = bs ? (size_t)(bs - raw) - i : n - i;
    memcpy(o, raw + i, run);
    o += run;
    i += run;
    if (i >= n)
      break;
    unsigned char c = raw[i + 1];
    i += 2;
    switch (c) {
    case 'b': *o++ = '\b'; break;
    case 'f': *o++ = '\f'; break;
    case 'n': *o++ = '\n'; break;
    case 'r': *o++ = '\r'; break;
    case 't': *o++ = '\t'; break;
    case 'u': {
      unsigned cp, lo;
      if (i + 4 > n || !hex4(raw + i, &cp))
        return fail(b, "invalid \\u escape");
      i += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (i + 6 <= n && raw[i] == '\\' && raw[i + 1] == 'u' && hex4(raw + i + 2, &lo) &&
            lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          i += 6;
        } else if (b->replace_surrogates) {
          cp = 0xFFFD;
        } else {
          return fail(b, "lone surrogate \\u%04x in string (opts.lone_surrogates = \"replace\" "
                         "substitutes U+FFFD)", cp);
        }
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        if (!b->replace_surrogates)
          return fail(b, "lone surrogate \\u%04x in string (opts.lone_surrogates = \"replace\" "
                         "substitutes U+FFFD)", cp);
        cp = 0xFFFD;
      }
      o += put_utf8(o, cp);
      break;
    }
    default: /* '"', '\\', '/' */
      *o++ = (char)c;
      break;
    }
  }
  *outlen = (size_t)(o - b->sbuf);
  return 1;
}

/* yajl's own check lets overlong forms and encoded surrogates through; the encoder refuses them,
 * so the decoder does too (what decodes also encodes). */
static int utf8_ok(qj_builder *b, const unsigned char *s, size_t n) {
  for (size_t i = 0; i < n;) {
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = qj_utf8_len(s + i, n - i);
    if (k == 0)
      return fail(b, "invalid UTF-8 in string");
    i += k;
  }
  return 1;
}

/* Pushes the string yajl reports. Without escapes yajl points into our chunk and the bytes are
 * exact; with escapes it decoded them itself (dropping lone surrogates to '?'), so we find the
 * token in the chunk (it ends just before yajl's position) and decode it again. */
static int push_string(qj_builder *b, const unsigned char *v, size_t len) {
  lua_State *L = b->L;
  uintptr_t pv = (uintptr_t)v, c0 = (uintptr_t)b->chunk;
  if (b->chunk != NULL && pv >= c0 && pv + len <= c0 + b->chunk_len) {
    if (!utf8_ok(b, v, len))
      return 0;
    b->str_start = b->chunk_base + (uint64_t)(pv - c0) - 1;
    lua_pushlstring(L, (const char *)v, len);
    return 1;
  }
  size_t consumed = b->chunk ? yajl_get_bytes_consumed(b->h) : 0;
  if (consumed < 2 || b->chunk[consumed - 1] != '"')
    return fail(b, "internal error: string token outside the current chunk");
  const unsigned char *end = b->chunk + consumed - 1, *p = end;
  for (;;) {
    if (p == b->chunk)
      return fail(b, "internal error: string token outside the current chunk");
    p--;
    if (*p == '"') {
      const unsigned char *q = p;
      while (q > b->chunk && q[-1] == '\\')
        q--;
      if (((size_t)(p - q) & 1) == 0)
        break;
    }
  }
  size_t outlen = 0;
  b->str_start = b->chunk_base + (uint64_t)(p - b->chunk);
  if (!utf8_ok(b, p + 1, (size_t)(end - p - 1)) || !unescape(b, p + 1, (size_t)(end - p - 1), &outlen))
    return 0;
  lua_pushlstring(L, b->sbuf, outlen);
  if (b->scap > QJ_CHUNK) { /* a large string: do not keep a copy of its size for the next ones */
    free(b->sbuf);
    b->sbuf = NULL;
    b->scap = 0;
  }
  return 1;
}

/* ---- numbers ----------------------------------------------------------------------------------- */

/* An integer text within int64 (not "-0"): sets *out and returns 1. */
static int parse_int(const char *s, size_t len, lua_Integer *out) {
  size_t i = 0;
  int neg = 0;
  if (len > 0 && s[0] == '-') {
    neg = 1;
    i = 1;
  }
  if (i >= len || len - i > 19)
    return 0;
  uint64_t v = 0;
  for (; i < len; i++) {
    unsigned d = (unsigned)(unsigned char)s[i] - '0';
    if (d > 9)
      return 0;
    v = v * 10 + d;
  }
  if (neg) {
    if (v == 0 || v > (uint64_t)INT64_MAX + 1)
      return 0;
    *out = v == (uint64_t)INT64_MAX + 1 ? LUA_MININTEGER : -(lua_Integer)v;
  } else {
    if (v > (uint64_t)INT64_MAX)
      return 0;
    *out = (lua_Integer)v;
  }
  return 1;
}

static int cb_number(void *ctx, const char *s, size_t len) {
  qj_builder *b = CTX;
  lua_State *L = b->L;
  lua_Integer i;
  if (!value_start(b, 0))
    return 0;
  if (parse_int(s, len, &i)) {
    lua_pushinteger(L, i);
  } else if (b->float_numbers) {
    char tmp[64];
    char *z = tmp;
    if (len >= sizeof tmp) {
      if (b->scap < len + 1) {
        char *p = realloc(b->sbuf, len + 1);
        if (p == NULL)
          return fail(b, "out of memory");
        b->sbuf = p;
        b->scap = len + 1;
      }
      z = b->sbuf;
    }
    memcpy(z, s, len);
    z[len] = '\0';
    if (lua_stringtonumber(L, z) == 0)
      return fail(b, "number %s not convertible", z);
    if (lua_isinteger(L, -1)) { /* "1e2" stays a float, as the text says */
      lua_Number d = (lua_Number)lua_tointeger(L, -1);
      lua_pop(L, 1);
      lua_pushnumber(L, d);
    }
  } else {
    lua_createtable(L, 0, 1);
    lua_pushlstring(L, s, len);
    lua_setfield(L, -2, "text");
    lua_pushvalue(L, b->s_number_mt);
    lua_setmetatable(L, -2);
  }
  return finish(b);
}

/* ---- the other callbacks ----------------------------------------------------------------------- */

static int cb_null(void *ctx) {
  qj_builder *b = CTX;
  if (!value_start(b, 0))
    return 0;
  qj_pushnull(b->L);
  return finish(b);
}

static int cb_boolean(void *ctx, int v) {
  qj_builder *b = CTX;
  if (!value_start(b, 0))
    return 0;
  lua_pushboolean(b->L, v);
  return finish(b);
}

static int cb_string(void *ctx, const unsigned char *v, size_t len) {
  qj_builder *b = CTX;
  if (!value_start(b, 0))
    return 0;
  if (!push_string(b, v, len))
    return 0;
  return finish(b);
}

static int cb_start_map(void *ctx) {
  qj_builder *b = CTX;
  lua_State *L = b->L;
  if (!value_start(b, 2) || !open_level(b, 'o'))
    return 0;
  int h = b->hint[b->depth]; /* siblings tend to share a shape: avoid regrowing the table */
  lua_createtable(L, b->keep_order ? h : 0, h);
  lua_pushvalue(L, b->s_object_mt);
  lua_setmetatable(L, -2);
  if (b->depth == 1 && (b->mode == QJ_MODE_OBJECT || b->mode == QJ_MODE_AUTO) &&
      b->on_header != NULL)
    b->on_header(b);
  return 1;
}

/* A member name seen before in this object: an error naming it, or b->dup for object_set. */
static int duplicate(qj_builder *b, const unsigned char *v, size_t len) {
  if (b->duplicates != QJ_DUP_ERROR) {
    b->dup[b->depth] = 1;
    return 1;
  }
  fail(b, "%.*s", (int)(len < 120 ? len : 120), (const char *)v);
  b->err_pos = b->str_start;
  b->err_dup = 1;
  return 0;
}

/* Stack: [object] -> [object, key]. One rawget per member finds a repeated name in O(1) (the object
 * is its own hash set); skipped when nothing needs it (key_order = false, duplicates = "last"). */
static int cb_map_key(void *ctx, const unsigned char *v, size_t len) {
  qj_builder *b = CTX;
  lua_State *L = b->L;
  if (b->depth == 1 && (b->mode == QJ_MODE_OBJECT || b->mode == QJ_MODE_AUTO) &&
      len == b->key_len && memcmp(v, b->key, len) == 0) {
    if (b->key_found && b->duplicates == QJ_DUP_ERROR) { /* a second streamed member */
      if (!push_string(b, v, len))
        return 0;
      return duplicate(b, v, len);
    }
    b->key_pending = 1;
  }
  if (!push_string(b, v, len))
    return 0;
  b->dup[b->depth] = 0;
  if (!b->keep_order && b->duplicates == QJ_DUP_LAST)
    return 1;
  lua_pushvalue(L, -1);
  int seen = lua_rawget(L, -3) != LUA_TNIL;
  lua_pop(L, 1);
  return seen ? duplicate(b, v, len) : 1;
}

static void set_hint(qj_builder *b) {
  lua_Integer n = b->count[b->depth];
  b->hint[b->depth] = n > 64 ? 64 : (int)n;
}

static int cb_end_map(void *ctx) {
  qj_builder *b = CTX;
  set_hint(b);
  b->depth--;
  return finish(b);
}

static int cb_start_array(void *ctx) {
  qj_builder *b = CTX;
  lua_State *L = b->L;
  int divert = (b->depth == 0 && b->mode == QJ_MODE_ARRAY) || (b->key_pending && b->depth == 1);
  if (!value_start(b, 1) || !open_level(b, divert ? 'd' : 'a'))
    return 0;
  if (divert) {
    lua_pushboolean(L, 0); /* placeholder: the elements go to the queue */
    if (b->key_pending) {
      b->key_pending = 0;
      b->key_found = 1;
    }
  } else {
    lua_createtable(L, b->hint[b->depth], 0);
    lua_pushvalue(L, b->s_array_mt);
    lua_setmetatable(L, -2);
  }
  return 1;
}

static int cb_end_array(void *ctx) {
  qj_builder *b = CTX;
  if (b->kind[b->depth] == 'd') {
    lua_pop(b->L, 1);
    b->depth--;
    if (b->depth == 1)
      lua_pop(b->L, 1); /* the key of the streamed member: not part of the header */
    else
      b->header_done = 1;
    return 1;
  }
  set_hint(b);
  b->depth--;
  return finish(b);
}

static const yajl_callbacks callbacks = {
    cb_null, cb_boolean, NULL, NULL, cb_number, cb_string,
    cb_start_map, cb_map_key, cb_end_map, cb_start_array, cb_end_array,
};

/* ---- builder lifecycle ----------------------------------------------------------------------- */

int qj_builder_init(qj_builder *b, enum qj_mode mode, int max_depth) {
  b->mode = mode;
  b->max_depth = max_depth;
  b->lc_line = 1;
  b->kind = malloc((size_t)max_depth + 2);
  b->count = malloc(sizeof *b->count * ((size_t)max_depth + 2));
  b->hint = calloc((size_t)max_depth + 2, sizeof *b->hint);
  b->dup = calloc((size_t)max_depth + 2, 1);
  b->h = yajl_alloc(&callbacks, NULL, b);
  if (b->kind == NULL || b->count == NULL || b->hint == NULL || b->dup == NULL || b->h == NULL)
    return -1;
  if (mode == QJ_MODE_AUTO || mode == QJ_MODE_LINES || mode == QJ_MODE_OBJECT)
    yajl_config(b->h, yajl_allow_multiple_values, 1);
  return 0;
}

void qj_builder_free(qj_builder *b) {
  if (b->h != NULL)
    yajl_free(b->h);
  b->h = NULL;
  free(b->kind);
  b->kind = NULL;
  free(b->count);
  b->count = NULL;
  free(b->hint);
  b->hint = NULL;
  free(b->dup);
  b->dup = NULL;
  free(b->sbuf);
  b->sbuf = NULL;
  b->scap = 0;
}

int qj_builder_feed(qj_builder *b, const unsigned char *chunk, size_t len, uint64_t base) {
  yajl_status st;
  b->chunk = chunk;
  b->chunk_len = chunk ? len : 0;
  b->chunk_base = base;
  st = chunk ? yajl_parse(b->h, chunk, len) : yajl_complete_parse(b->h);
  if (st == yajl_status_ok)
    return 0;
  if (b->failed)
    return -1;
  size_t bc = chunk ? yajl_get_bytes_consumed(b->h) : 0;
  unsigned char *e = yajl_get_error(b->h, 0, NULL, 0);
  size_t n = e ? strlen((const char *)e) : 0;
  /* yajl stops after the offending token for parse errors and on the offending byte for most
   * lexical ones (not for invalid UTF-8): name the offending byte in both cases. */
  int on_byte = e != NULL && strncmp((const char *)e, "lexical error", 13) == 0 &&
                strstr((const char *)e, "UTF8") == NULL;
  uint64_t p = base + bc;
  if (chunk == NULL && e != NULL && strstr((const char *)e, "premature EOF") != NULL)
    b->err_pos = p; /* the end of the input */
  else
    b->err_pos = on_byte || p == 0 ? p : p - 1;
  while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' ' || e[n - 1] == '.'))
    n--;
  const char *msg = e ? (const char *)e : "unknown error";
  if (n >= 13 && memcmp(msg, "parse error: ", 13) == 0) { /* our message says it already */
    msg += 13;
    n -= 13;
  }
  snprintf(b->err, sizeof b->err, "%.*s", (int)n, msg);
  if (e != NULL)
    yajl_free_error(b->h, e);
  b->failed = 1;
  return -1;
}

void qj_builder_errmsg(qj_builder *b, char *out, size_t n) {
  uint64_t line, col;
  qj_builder_linecol(b, b->err_pos, &line, &col);
  if (b->err_dup)
    snprintf(out, n, "duplicate member \"%s\" at line %llu, column %llu (byte %llu)", b->err,
             (unsigned long long)line, (unsigned long long)col, (unsigned long long)b->err_pos);
  else
    snprintf(out, n, "parse error at line %llu, column %llu (byte %llu): %s",
             (unsigned long long)line, (unsigned long long)col, (unsigned long long)b->err_pos,
             b->err);
}

void qj_builder_options(lua_State *L, const char *op, int idx, qj_builder *b, int *max_depth) {
  const char *s;
  *max_depth = (int)qj_optint(L, op, idx, "max_depth", QJ_DEFAULT_MAX_DEPTH, 1, QJ_MAX_MAX_DEPTH);
  b->keep_order = qj_optbool(L, op, idx, "key_order", 1);
  s = qj_optstring(L, op, idx, "lone_surrogates", "error", NULL);
  if (strcmp(s, "replace") == 0)
    b->replace_surrogates = 1;
  else if (strcmp(s, "error") != 0)
    ql_raisef(L, QUARRY_EINVAL, op, "json: option lone_surrogates: expected \"error\" or \"replace\", got \"%s\"", s);
  s = qj_optstring(L, op, idx, "duplicates", "error", NULL);
  if (strcmp(s, "error") == 0)
    b->duplicates = QJ_DUP_ERROR;
  else if (strcmp(s, "first") == 0)
    b->duplicates = QJ_DUP_FIRST;
  else if (strcmp(s, "last") == 0)
    b->duplicates = QJ_DUP_LAST;
  else
    ql_raisef(L, QUARRY_EINVAL, op, "json: option duplicates: expected \"error\", \"first\" or \"last\", got \"%s\"", s);
  s = qj_optstring(L, op, idx, "numbers", "exact", NULL);
  if (strcmp(s, "float") == 0)
    b->float_numbers = 1;
  else if (strcmp(s, "exact") != 0)
    ql_raisef(L, QUARRY_EINVAL, op, "json: option numbers: expected \"exact\" or \"float\", got \"%s\"", s);
}

/* ---- json.decode ------------------------------------------------------------------------------- */

static int builder_gc(lua_State *L) {
  qj_builder_free(lua_touserdata(L, 1));
  return 0;
}

static const char *const decode_opts[] = {"max_depth", "key_order", "lone_surrogates", "numbers",
                                          "duplicates", NULL};

static int l_decode(lua_State *L) {
  size_t len;
  const char *text = luaL_checklstring(L, 1, &len);
  int max_depth;
  qj_builder *b;
  lua_settop(L, 2);
  qj_checkopts(L, "json.decode", 2, decode_opts);
  b = lua_newuserdatauv(L, sizeof *b, 0); /* 3 */
  memset(b, 0, sizeof *b);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_setmetatable(L, -2);
  qj_builder_options(L, "json.decode", 2, b, &max_depth);
  if (qj_builder_init(b, QJ_MODE_DOC, max_depth) != 0)
    return ql_raisef(L, QUARRY_ENOMEM, "json.decode", "json: out of memory");
  luaL_getmetatable(L, QJ_OBJECT_MT); /* 4 */
  luaL_getmetatable(L, QJ_ARRAY_MT);  /* 5 */
  luaL_getmetatable(L, QJ_NUMBER_MT); /* 6 */
  b->L = L;
  b->s_object_mt = 4;
  b->s_array_mt = 5;
  b->s_number_mt = 6;
  luaL_checkstack(L, 8, "json.decode");
  int rc = qj_builder_feed(b, (const unsigned char *)text, len, 0);
  if (rc == 0)
    rc = qj_builder_feed(b, NULL, 0, len);
  if (rc != 0) {
    b->chunk = (const unsigned char *)text; /* count lines over the whole text */
    b->chunk_len = len;
    b->chunk_base = 0;
    char what[400];
    qj_builder_errmsg(b, what, sizeof what);
    lua_pushfstring(L, "json: %s", what);
    qj_builder_free(b);
    return ql_raisef(L, QUARRY_EINVAL, "json.decode", "%s", lua_tostring(L, -1));
  }
  qj_builder_free(b);
  return 1;
}

void qj_decode_open(lua_State *L) {
  lua_createtable(L, 0, 1); /* metatable of the builder box */
  lua_pushcfunction(L, builder_gc);
  lua_setfield(L, -2, "__gc");
  lua_pushcclosure(L, l_decode, 1);
  lua_setfield(L, -2, "decode");
}

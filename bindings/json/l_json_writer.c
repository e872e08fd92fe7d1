/* l_json_writer.c: json.writer, a streaming writer of big JSON documents (array, object with a
 * header and an array under a key, JSON Lines), plain or LZ4-framed, written atomically through
 * the core's quarry_file_* (a temporary file renamed over the target on close). */
#include "l_json.h"

#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>

enum { W_ARRAY, W_OBJECT, W_LINES };

typedef struct qj_writer {
  qj_encoder e;    /* its buffer holds the output not yet written */
  quarry_file *f;  /* the temporary file; NULL once committed or aborted */
  int closed;
  int busy;        /* set while an element is encoded: an error leaves a partial element */
  size_t mark;     /* e.len before the element being written */
  int format;
  int lz4;
  LZ4F_cctx *cctx;
  char *zbuf;
  size_t zcap;
  lua_Integer count;
  uint64_t bytes;  /* uncompressed bytes produced */
} qj_writer;

static qj_writer *towriter(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, QJ_WRITER_MT);
}

static qj_writer *checkwriter(lua_State *L, int idx) {
  qj_writer *w = towriter(L, idx);
  if (w->closed)
    ql_raisef(L, QUARRY_ECLOSED, "json.writer", "the writer is closed");
  if (w->busy) { /* the previous write raised: drop its partial element */
    w->e.len = w->mark;
    w->busy = 0;
  }
  return w;
}

/* Releases everything; removes the temporary file unless it was committed. */
static void writer_release(qj_writer *w) {
  quarry_file_abort(w->f);
  w->f = NULL;
  LZ4F_freeCompressionContext(w->cctx);
  w->cctx = NULL;
  free(w->zbuf);
  w->zbuf = NULL;
  qj_encoder_free(&w->e);
  w->closed = 1;
}

/* Raises a quarry error (op "json.writer", code rc) after releasing the writer and removing its
 * temporary file. what NULL: the message of the failed core call (quarry_last_error). The
 * message does not repeat the op: the error's tostring adds it ("quarry: json.writer: ..."). */
QL_NORETURN static void wfail(lua_State *L, qj_writer *w, int rc, const char *what) {
  lua_pushstring(L, what != NULL ? what : quarry_last_error());
  writer_release(w);
  ql_raisef(L, rc, "json.writer", "%s", lua_tostring(L, -1));
}

static void write_all(lua_State *L, qj_writer *w, const char *p, size_t n) {
  int rc = quarry_file_write(w->f, p, n);
  if (rc != 0)
    wfail(L, w, rc, NULL);
}

static void zbuf_reserve(lua_State *L, qj_writer *w, size_t n) {
  if (w->zcap >= n)
    return;
  char *p = realloc(w->zbuf, n);
  if (p == NULL)
    wfail(L, w, QUARRY_ENOMEM, "out of memory");
  w->zbuf = p;
  w->zcap = n;
}

/* Writes (compressing) the encoder's buffer. */
static void flush(lua_State *L, qj_writer *w) {
  const char *p = w->e.buf;
  size_t n = w->e.len;
  w->bytes += n;
  if (!w->lz4) {
    write_all(L, w, p, n);
  } else {
    while (n > 0) {
      size_t k = n < QJ_CHUNK ? n : QJ_CHUNK;
      zbuf_reserve(L, w, LZ4F_compressBound(k, NULL));
      size_t z = LZ4F_compressUpdate(w->cctx, w->zbuf, w->zcap, p, k, NULL);
      if (LZ4F_isError(z))
        wfail(L, w, QUARRY_EIO, LZ4F_getErrorName(z));
      write_all(L, w, w->zbuf, z);
      p += k;
      n -= k;
    }
  }
  w->e.len = 0;
}

static void put(lua_State *L, qj_writer *w, const char *s, size_t n) {
  qj_encoder_put(L, &w->e, s, n);
}

/* w:write(value) */
static int w_write(lua_State *L) {
  qj_writer *w = checkwriter(L, 1);
  luaL_checkany(L, 2);
  lua_settop(L, 2);
  w->mark = w->e.len;
  w->busy = 1;
  if (w->format != W_LINES)
    put(L, w, w->count > 0 ? ",\n" : "\n", w->count > 0 ? 2 : 1);
  qj_encode_value(L, &w->e, 2);
  if (w->format == W_LINES)
    put(L, w, "\n", 1);
  w->busy = 0;
  w->count++;
  if (w->e.len >= QJ_CHUNK)
    flush(L, w);
  return 0;
}

/* w:close(): ends the document, syncs it and renames the temporary file over path. */
static int w_close(lua_State *L) {
  qj_writer *w = towriter(L, 1);
  if (w->closed)
    return 0;
  checkwriter(L, 1);
  if (w->format == W_ARRAY)
    put(L, w, w->count > 0 ? "\n]\n" : "]\n", w->count > 0 ? 3 : 2);
  else if (w->format == W_OBJECT)
    put(L, w, w->count > 0 ? "\n]}\n" : "]}\n", w->count > 0 ? 4 : 3);
  flush(L, w);
  if (w->lz4) {
    zbuf_reserve(L, w, LZ4F_compressBound(0, NULL));
    size_t z = LZ4F_compressEnd(w->cctx, w->zbuf, w->zcap, NULL);
    if (LZ4F_isError(z))
      wfail(L, w, QUARRY_EIO, LZ4F_getErrorName(z));
    write_all(L, w, w->zbuf, z);
  }
  quarry_file *f = w->f;
  w->f = NULL; /* commit frees it, whatever the result */
  int rc = quarry_file_commit(f);
  if (rc != 0)
    wfail(L, w, rc, NULL);
  writer_release(w);
  return 0;
}

/* w:abort(): drops the output (removes the temporary file); the target is left untouched. */
static int w_abort(lua_State *L) {
  qj_writer *w = towriter(L, 1);
  if (!w->closed)
    writer_release(w);
  return 0;
}

/* __close(w, err): commits on a normal exit, aborts when the block exits with an error. */
static int w_tbc(lua_State *L) {
  if (!lua_isnoneornil(L, 2))
    return w_abort(L);
  return w_close(L);
}

static int w_count(lua_State *L) {
  lua_pushinteger(L, towriter(L, 1)->count);
  return 1;
}

static int w_gc(lua_State *L) {
  qj_writer *w = towriter(L, 1);
  writer_release(w); /* frees memory held by a writer that failed to open, too */
  return 0;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && strcmp(s + n - k, suffix) == 0;
}

static const char *const writer_opts[] = {"format", "key", "header", "compress", "indent",
                                          "allow_invalid_utf8", "max_depth", NULL};

/* Creates the temporary file that will replace path (raises IOError/NoSpace naming it); the
 * writer is open from here on. */
static void create_file(lua_State *L, qj_writer *w, const char *path) {
  int rc = quarry_file_create(path, &w->f);
  if (rc != 0)
    ql_raisef(L, rc, "json.writer", "%s", quarry_last_error());
  w->closed = 0;
}

/* json.writer(path [, opts]) */
static int l_writer(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_settop(L, 2);
  qj_checkopts(L, "json.writer", 2, writer_opts);
  qj_writer *w = lua_newuserdatauv(L, sizeof *w, 0); /* 3 */
  memset(w, 0, sizeof *w);
  w->closed = 1;
  luaL_setmetatable(L, QJ_WRITER_MT);

  int lz4_ext = ends_with(path, ".lz4");
  const char *fmt = qj_optstring(L, "json.writer", 2, "format", NULL, NULL);
  if (fmt == NULL)
    fmt = ends_with(path, ".jsonl") || ends_with(path, ".jsonl.lz4") || ends_with(path, ".ndjson") ||
                  ends_with(path, ".ndjson.lz4")
              ? "jsonl"
              : "array";
  if (strcmp(fmt, "array") == 0)
    w->format = W_ARRAY;
  else if (strcmp(fmt, "object") == 0)
    w->format = W_OBJECT;
  else if (strcmp(fmt, "jsonl") == 0)
    w->format = W_LINES;
  else
    return ql_raisef(L, QUARRY_EINVAL, "json.writer", "option format: \"array\", \"object\" or \"jsonl\"");
  const char *comp = qj_optstring(L, "json.writer", 2, "compress", lz4_ext ? "lz4" : "none", NULL);
  if (strcmp(comp, "lz4") == 0)
    w->lz4 = 1;
  else if (strcmp(comp, "none") != 0)
    return ql_raisef(L, QUARRY_EINVAL, "json.writer", "option compress: \"lz4\" or \"none\"");
  size_t klen;
  const char *key = qj_optstring(L, "json.writer", 2, "key", "blocks", &klen);
  if (w->format != W_OBJECT && !lua_isnil(L, 2) && lua_getfield(L, 2, "header") != LUA_TNIL)
    return ql_raisef(L, QUARRY_EINVAL, "json.writer", "option header needs format = \"object\"");
  lua_settop(L, 3);

  qj_encoder_options(L, "json.writer", 2, &w->e);
  if (w->format == W_LINES && w->e.indent != NULL && w->e.indent_len > 0)
    return ql_raisef(L, QUARRY_EINVAL, "json.writer", "option indent cannot be used with format = \"jsonl\"");

  /* the document's opening, built before the file exists */
  if (w->format == W_ARRAY) {
    put(L, w, "[", 1);
  } else if (w->format == W_OBJECT) {
    size_t hlen;
    lua_getfield(L, 2, "header"); /* 4 */
    if (lua_isnil(L, 4)) {
      put(L, w, "{", 1);
    } else {
      if (!lua_istable(L, 4))
        return ql_raisef(L, QUARRY_EINVAL, "json.writer", "option header: a table expected");
      lua_pushlstring(L, key, klen);
      if (lua_rawget(L, 4) != LUA_TNIL)
        return ql_raisef(L, QUARRY_EINVAL, "json.writer", "the header has a member named like the key \"%s\"", key);
      lua_pop(L, 1);
      /* encode through json.encode so that the header's memory is owned by Lua */
      lua_getfield(L, lua_upvalueindex(1), "encode");
      lua_pushvalue(L, 4);
      lua_call(L, 1, 1);
      const char *h = lua_tolstring(L, -1, &hlen);
      if (hlen < 2 || h[0] != '{')
        return ql_raisef(L, QUARRY_EINVAL, "json.writer", "option header: must encode as a JSON object");
      put(L, w, h, hlen - 1);
      if (hlen > 2)
        put(L, w, ",", 1);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    lua_pushlstring(L, key, klen);
    qj_encode_value(L, &w->e, -1); /* the key as a JSON string */
    lua_pop(L, 1);
    put(L, w, ":[", 2);
  }

  if (w->lz4) {
    LZ4F_preferences_t prefs;
    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    size_t rc = LZ4F_createCompressionContext(&w->cctx, LZ4F_VERSION);
    if (LZ4F_isError(rc))
      return ql_raisef(L, QUARRY_ENOMEM, "json.writer", "cannot create an LZ4 context");
    zbuf_reserve(L, w, LZ4F_HEADER_SIZE_MAX);
    rc = LZ4F_compressBegin(w->cctx, w->zbuf, w->zcap, &prefs);
    if (LZ4F_isError(rc))
      return ql_raisef(L, QUARRY_EIO, "json.writer", "LZ4: %s", LZ4F_getErrorName(rc));
    create_file(L, w, path);
    write_all(L, w, w->zbuf, rc);
  } else {
    create_file(L, w, path);
  }
  return 1;
}

void qj_writer_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"write", w_write}, {"close", w_close}, {"abort", w_abort},
                                     {"count", w_count}, {NULL, NULL}};
  luaL_newmetatable(L, QJ_WRITER_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, w_tbc);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, w_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushvalue(L, -1); /* the json table, for json.encode */
  lua_pushcclosure(L, l_writer, 1);
  lua_setfield(L, -2, "writer");
}

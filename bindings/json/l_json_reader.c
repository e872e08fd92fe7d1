/* l_json_reader.c: json.reader, a streaming reader of big JSON documents (top-level array, array
 * under a key, JSON Lines), plain or LZ4-framed, in memory bounded by one element and one chunk. */
#include "l_json.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* User values of a reader. */
enum { UV_QUEUE = 1, UV_STACK, UV_HEADER, UV_SOURCE, UV_NAME, UV_ERROR, UV_COUNT = UV_ERROR };

typedef struct qj_reader {
  qj_builder b;
  int fd;        /* -1: a function source, or closed */
  int closed;
  int busy;      /* a call is running (or was interrupted by an error: the reader is unusable) */
  int failed;    /* a parse error was raised; the message is user value UV_ERROR */
  int deferred;  /* a parse error is pending: raised once the elements before it are returned */
  int started;   /* the format is detected and the builder exists */
  int eof;       /* the source is exhausted */
  int finished;  /* everything is parsed */
  enum qj_mode want;
  int max_depth;
  int lz4;       /* -1 unknown, 0 plain, 1 LZ4 frames */
  size_t lz4_hint;
  LZ4F_dctx *dctx;
  unsigned char *in; /* raw bytes from the source */
  size_t in_pos, in_len, in_cap;
  unsigned char *pend; /* uncompressed bytes not yet given to yajl */
  size_t pend_len, pend_cap;
  size_t scan_pos; /* pend[0..scan_pos) was scanned for strings */
  size_t safe;     /* pend[0..safe) ends outside any string */
  int in_str;
  uint64_t fed;       /* uncompressed bytes given to yajl */
  uint64_t raw_read;  /* bytes taken from the source */
  uint64_t last_end;  /* offset just after the last element returned; at the end, every byte */
  int64_t size;       /* file size, -1 for a function */
  lua_Integer q_head;
  char *key;
} qj_reader;

static qj_reader *toreader(lua_State *L, int idx) {
  return luaL_checkudata(L, idx, QJ_READER_MT);
}

static qj_reader *checkreader(lua_State *L, int idx) {
  qj_reader *r = toreader(L, idx);
  if (r->closed)
    ql_raisef(L, QUARRY_ECLOSED, "json.reader", "json.reader: the reader is closed");
  if (r->failed) {
    lua_getiuservalue(L, idx, UV_ERROR);
    lua_error(L);
  }
  if (r->busy)
    ql_raisef(L, QUARRY_EABORTED, "json.reader",
              "json.reader: unusable after an error raised while reading");
  return r;
}

static void reader_release(qj_reader *r) {
  qj_builder_free(&r->b);
  if (r->fd >= 0)
    close(r->fd);
  r->fd = -1;
  if (r->dctx != NULL)
    LZ4F_freeDecompressionContext(r->dctx);
  r->dctx = NULL;
  free(r->in);
  r->in = NULL;
  free(r->pend);
  r->pend = NULL;
  free(r->key);
  r->key = NULL;
  r->in_len = r->in_pos = r->pend_len = r->in_cap = r->pend_cap = 0;
}

/* Raises a quarry error (code rc, op "json.reader", message "json: <name>: <what>") and keeps it
 * in UV_ERROR: every later call raises it again. */
QL_NORETURN static void rfail(lua_State *L, qj_reader *r, int idx, int rc, const char *what) {
  lua_getiuservalue(L, idx, UV_NAME);
  lua_pushfstring(L, "json: %s: %s", lua_tostring(L, -1), what);
  ql_push_error(L, quarry_err_name(rc), "json.reader", lua_tostring(L, -1));
  lua_pushvalue(L, -1);
  lua_setiuservalue(L, idx, UV_ERROR);
  r->failed = 1;
  r->busy = 0;
  lua_error(L);
  abort(); /* not reached */
}

/* ---- input: raw bytes, then LZ4 or not ----------------------------------------------------- */

/* Reads into r->in after its first keep bytes; returns 0 at the end of the source. */
static int read_raw(lua_State *L, qj_reader *r, size_t keep) {
  r->in_pos = 0;
  r->in_len = keep;
  if (r->fd >= 0) {
    ssize_t n;
    do
      n = read(r->fd, r->in + keep, r->in_cap - keep);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
      lua_pushfstring(L, "read error: %s", strerror(errno));
      rfail(L, r, 1, QUARRY_EIO, lua_tostring(L, -1));
    }
    r->in_len = keep + (size_t)n;
  } else {
    size_t n;
    lua_getiuservalue(L, 1, UV_SOURCE);
    lua_call(L, 0, 1);
    if (lua_isnil(L, -1)) {
      n = 0;
    } else if (lua_type(L, -1) != LUA_TSTRING) {
      rfail(L, r, 1, QUARRY_EINVAL, "the source function must return strings (or nil at the end)");
    } else {
      const char *s = lua_tolstring(L, -1, &n);
      if (keep + n > r->in_cap) {
        unsigned char *p = realloc(r->in, keep + n);
        if (p == NULL)
          rfail(L, r, 1, QUARRY_ENOMEM, "out of memory");
        r->in = p;
        r->in_cap = keep + n;
      }
      memcpy(r->in + keep, s, n);
    }
    lua_pop(L, 1);
    r->in_len = keep + n;
  }
  r->raw_read += r->in_len - keep;
  return r->in_len > keep;
}

static void pend_reserve(lua_State *L, qj_reader *r, size_t n) {
  if (r->pend_cap - r->pend_len >= n)
    return;
  size_t cap = r->pend_cap ? r->pend_cap : 2 * QJ_CHUNK;
  while (cap - r->pend_len < n)
    cap *= 2;
  unsigned char *p = realloc(r->pend, cap);
  if (p == NULL)
    rfail(L, r, 1, QUARRY_ENOMEM, "out of memory");
  r->pend = p;
  r->pend_cap = cap;
}

/* Appends uncompressed bytes to pend; returns 0 when the source is exhausted. */
static int fill(lua_State *L, qj_reader *r) {
  if (r->in_pos == r->in_len && !read_raw(L, r, 0)) {
    if (r->lz4 == 1 && r->lz4_hint != 0) { /* output still held by the context? */
      size_t dst, src = 0, rc;
      pend_reserve(L, r, QJ_CHUNK);
      dst = r->pend_cap - r->pend_len;
      rc = LZ4F_decompress(r->dctx, r->pend + r->pend_len, &dst, r->in, &src, NULL);
      if (LZ4F_isError(rc) || dst == 0)
        rfail(L, r, 1, QUARRY_ECORRUPTION, "truncated LZ4 input");
      r->pend_len += dst;
      r->lz4_hint = rc;
      return 1;
    }
    return 0;
  }
  if (r->lz4 < 0) {
    while (r->in_len < 4 && read_raw(L, r, r->in_len)) /* tiny pieces from a function */
      ;
    static const unsigned char magic[4] = {0x04, 0x22, 0x4D, 0x18}; /* 0x184D2204 LE */
    r->lz4 = r->in_len >= 4 && memcmp(r->in, magic, 4) == 0;
    if (r->lz4) {
      size_t rc = LZ4F_createDecompressionContext(&r->dctx, LZ4F_VERSION);
      if (LZ4F_isError(rc))
        rfail(L, r, 1, QUARRY_ENOMEM, "cannot create an LZ4 context");
      r->lz4_hint = 1;
    }
  }
  if (!r->lz4) {
    size_t n = r->in_len - r->in_pos;
    pend_reserve(L, r, n);
    memcpy(r->pend + r->pend_len, r->in + r->in_pos, n);
    r->pend_len += n;
    r->in_pos = r->in_len;
    return 1;
  }
  pend_reserve(L, r, QJ_CHUNK);
  size_t dst = r->pend_cap - r->pend_len, src = r->in_len - r->in_pos;
  size_t rc = LZ4F_decompress(r->dctx, r->pend + r->pend_len, &dst, r->in + r->in_pos, &src, NULL);
  if (LZ4F_isError(rc)) {
    lua_pushfstring(L, "LZ4 error: %s", LZ4F_getErrorName(rc));
    rfail(L, r, 1, QUARRY_ECORRUPTION, lua_tostring(L, -1));
  }
  r->pend_len += dst;
  r->in_pos += src;
  r->lz4_hint = rc;
  return 1;
}

/* Moves r->safe to the last position of pend that is outside a string, so that yajl never sees a
 * string split between two chunks (the decoder re-reads strings with escapes from the chunk). A
 * raw newline cannot be inside a valid string: past one, the error is yajl's to report. */
static void scan(qj_reader *r) {
  const unsigned char *p = r->pend;
  size_t i = r->scan_pos, n = r->pend_len;
  while (i < n) {
    if (!r->in_str) {
      const unsigned char *q = memchr(p + i, '"', n - i);
      if (q == NULL) {
        r->safe = n;
        break;
      }
      i = (size_t)(q - p);
      r->safe = i;
      r->in_str = 1;
      i++;
    } else {
      const unsigned char *q = memchr(p + i, '"', n - i);
      const unsigned char *lim = q ? q : p + n;
      const unsigned char *nl = memchr(p + i, '\n', (size_t)(lim - (p + i)));
      if (nl != NULL) {
        i = (size_t)(nl - p) + 1;
        r->safe = i;
        continue;
      }
      if (q == NULL)
        break;
      const unsigned char *b = q;
      while (b > p && b[-1] == '\\')
        b--;
      i = (size_t)(q - p) + 1;
      if (((size_t)(q - b) & 1) == 0) {
        r->in_str = 0;
        r->safe = i;
      }
    }
  }
  r->scan_pos = n;
}

/* ---- parsing ---------------------------------------------------------------------------------- */

/* Keeps the message of a parse error (user value UV_ERROR): the elements completed before the
 * error are returned first, then every call raises it. */
static void parse_error(lua_State *L, qj_reader *r) {
  char what[400];
  qj_builder_errmsg(&r->b, what, sizeof what);
  lua_getiuservalue(L, 1, UV_NAME);
  lua_pushfstring(L, "json: %s: %s", lua_tostring(L, -1), what);
  ql_push_error(L, quarry_err_name(QUARRY_EINVAL), "json.reader", lua_tostring(L, -1));
  lua_setiuservalue(L, 1, UV_ERROR);
  lua_pop(L, 2);
  r->deferred = 1;
  r->finished = 1;
}

static void on_header(qj_builder *b) {
  lua_pushvalue(b->L, -1);
  lua_setiuservalue(b->L, 1, UV_HEADER);
}

static int is_space(unsigned char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Detects LZ4 and the format from the first bytes, and creates the builder. */
static void start(lua_State *L, qj_reader *r) {
  unsigned char c = 0;
  size_t skipped = 0, i = 0;
  while (r->pend_len < 3 && !r->eof)
    if (!fill(L, r))
      r->eof = 1;
  if (r->pend_len >= 3 && memcmp(r->pend, "\xEF\xBB\xBF", 3) == 0) { /* a UTF-8 byte order mark */
    memmove(r->pend, r->pend + 3, r->pend_len - 3);
    r->pend_len -= 3;
    skipped = 3;
  }
  for (;;) {
    while (i < r->pend_len && is_space(r->pend[i]))
      i++;
    if (i < r->pend_len) {
      c = r->pend[i];
      break;
    }
    if (r->eof)
      break;
    if (!fill(L, r))
      r->eof = 1;
  }
  enum qj_mode mode = r->want;
  if (mode == QJ_MODE_AUTO)
    mode = c == '[' ? QJ_MODE_ARRAY : c == '{' ? (r->key ? QJ_MODE_OBJECT : QJ_MODE_AUTO)
                                                : QJ_MODE_LINES;
  if (c == 0 && r->eof) {
    if (mode == QJ_MODE_ARRAY || mode == QJ_MODE_OBJECT)
      rfail(L, r, 1, QUARRY_EINVAL, "empty input");
    r->finished = 1;
  }
  if (qj_builder_init(&r->b, mode, r->max_depth) != 0)
    rfail(L, r, 1, QUARRY_ENOMEM, "out of memory");
  if (r->key == NULL) {
    r->key = strdup("blocks");
    if (r->key == NULL)
      rfail(L, r, 1, QUARRY_ENOMEM, "out of memory");
  }
  r->b.key = r->key;
  r->b.key_len = strlen(r->key);
  r->b.on_header = on_header;
  r->b.owner = r;
  r->fed = skipped;
  r->b.lc_pos = skipped;
  r->started = 1;
}

/* After a string much larger than a chunk, gives back what pend grew to for it. */
static void pend_shrink(qj_reader *r) {
  if (r->pend_cap <= 16 * QJ_CHUNK || r->pend_len > 2 * QJ_CHUNK)
    return;
  unsigned char *p = realloc(r->pend, 2 * QJ_CHUNK);
  if (p != NULL) {
    r->pend = p;
    r->pend_cap = 2 * QJ_CHUNK;
  }
}

/* Gives yajl pend[0..n) and keeps the rest. */
static int feed(lua_State *L, qj_reader *r, size_t n) {
  if (qj_builder_feed(&r->b, r->pend, n, r->fed) != 0) {
    parse_error(L, r);
    return -1;
  }
  qj_builder_count_lines(&r->b);
  r->fed += n;
  memmove(r->pend, r->pend + n, r->pend_len - n);
  r->pend_len -= n;
  r->scan_pos -= n;
  r->safe -= n;
  pend_shrink(r);
  return 0;
}

/* Where to end the next chunk given to yajl: pend[0..safe), or, when safe is the opening quote of
 * an unfinished string, before the structural byte that precedes it. yajl copies the first token
 * of every chunk into its own buffer (its lexer resumes there), and a string found in that buffer
 * rather than in the chunk is decoded once more by push_string: a 50 MB string first in a chunk
 * cost two extra copies of it. After a one-byte token (',' ':' '[' '{') it is read in place. */
static size_t cut(const qj_reader *r) {
  size_t i = r->safe;
  if (!r->in_str || i == 0 || i >= r->pend_len || r->pend[i] != '"')
    return i;
  while (i > 0 && is_space(r->pend[i - 1]))
    i--;
  if (i > 0 && memchr(",:[{", r->pend[i - 1], 4) != NULL)
    return i - 1;
  return r->safe;
}

static void step(lua_State *L, qj_reader *r) {
  if (!r->eof && !fill(L, r))
    r->eof = 1;
  if (r->eof) {
    r->safe = r->scan_pos = r->pend_len;
    if (r->pend_len > 0 && feed(L, r, r->pend_len) != 0)
      return;
    if (qj_builder_feed(&r->b, NULL, 0, r->fed) != 0)
      parse_error(L, r);
    r->finished = 1;
    return;
  }
  scan(r);
  size_t n = cut(r);
  if (n > 0)
    feed(L, r, n);
}

/* Pops the next queued element onto the stack (queue at qidx); returns 0 if the queue is empty. */
static int pop_queue(lua_State *L, qj_reader *r, int qidx) {
  if (r->q_head > r->b.q_tail)
    return 0;
  lua_rawgeti(L, qidx, r->q_head + 1);
  r->last_end = (uint64_t)lua_tointeger(L, -1);
  lua_pop(L, 1);
  lua_rawgeti(L, qidx, r->q_head);
  lua_pushnil(L);
  lua_rawseti(L, qidx, r->q_head);
  lua_pushnil(L);
  lua_rawseti(L, qidx, r->q_head + 1);
  r->q_head += 2;
  if (r->q_head > r->b.q_tail) {
    r->q_head = 1;
    r->b.q_tail = 0;
  }
  return 1;
}

/* The end of the input was reached and every element returned: from now on r:offset() counts
 * every uncompressed byte of the input, what follows the last element included (closing
 * brackets, trailing members, blank lines; fed also counts a skipped byte order mark). pend
 * holds bytes only when start() found nothing but blanks. */
static int at_end(lua_State *L, qj_reader *r) {
  r->last_end = r->fed + r->pend_len;
  lua_pushnil(L);
  return 1;
}

static int r_next(lua_State *L) {
  qj_reader *r = checkreader(L, 1);
  lua_settop(L, 1);
  lua_getiuservalue(L, 1, UV_QUEUE); /* 2 */
  if (pop_queue(L, r, 2))
    return 1;
  if (r->deferred) {
    r->failed = 1;
    lua_getiuservalue(L, 1, UV_ERROR);
    return lua_error(L);
  }
  if (r->finished)
    return at_end(L, r);
  r->busy = 1;
  if (!r->started)
    start(L, r);
  luaL_getmetatable(L, QJ_OBJECT_MT); /* 3 */
  luaL_getmetatable(L, QJ_ARRAY_MT);  /* 4 */
  luaL_getmetatable(L, QJ_NUMBER_MT); /* 5 */
  lua_getiuservalue(L, 1, UV_STACK);  /* 6: the partly built element of the previous call */
  lua_State *T = lua_tothread(L, 6);
  int n = lua_gettop(T);
  luaL_checkstack(L, n + 16, "json.reader");
  lua_xmove(T, L, n);
  r->b.L = L;
  r->b.s_object_mt = 3;
  r->b.s_array_mt = 4;
  r->b.s_number_mt = 5;
  r->b.s_queue = 2;
  while (r->q_head > r->b.q_tail && !r->finished)
    step(L, r);
  if (r->deferred)
    lua_settop(L, 6); /* the element the error interrupted */
  n = lua_gettop(L) - 6;
  if (!lua_checkstack(T, n + 1))
    rfail(L, r, 1, QUARRY_ENOMEM, "Lua stack exhausted");
  lua_xmove(L, T, n);
  r->busy = 0;
  if (pop_queue(L, r, 2))
    return 1;
  if (r->deferred) {
    r->failed = 1;
    lua_getiuservalue(L, 1, UV_ERROR);
    return lua_error(L);
  }
  return at_end(L, r); /* the loop above ends with an element queued or everything parsed */
}

static int r_each(lua_State *L) {
  checkreader(L, 1);
  lua_pushcfunction(L, r_next);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  lua_pushvalue(L, 1); /* closing value: the loop closes the reader */
  return 4;
}

static int r_offset(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)toreader(L, 1)->last_end);
  return 1;
}

static int r_compressed_offset(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)toreader(L, 1)->raw_read);
  return 1;
}

static int r_size(lua_State *L) {
  qj_reader *r = toreader(L, 1);
  if (r->size < 0)
    lua_pushnil(L);
  else
    lua_pushinteger(L, (lua_Integer)r->size);
  return 1;
}

static int r_header(lua_State *L) {
  toreader(L, 1);
  lua_getiuservalue(L, 1, UV_HEADER);
  return 1;
}

/* Did the top-level array (or the object holding the key) end? A parse error after that is in
 * trailing bytes: every element was read. False for JSON Lines. */
static int r_complete(lua_State *L) {
  qj_reader *r = toreader(L, 1);
  lua_pushboolean(L, r->started && r->b.header_done &&
                         (r->b.mode == QJ_MODE_ARRAY || r->b.mode == QJ_MODE_OBJECT ||
                          (r->b.mode == QJ_MODE_AUTO && r->b.key_found)));
  return 1;
}

static int r_format(lua_State *L) {
  qj_reader *r = toreader(L, 1);
  static const char *const names[] = {"document", "array", "object", "auto", "jsonl"};
  if (!r->started)
    lua_pushnil(L);
  else if (r->b.mode == QJ_MODE_AUTO && r->b.key_found)
    lua_pushliteral(L, "object");
  else
    lua_pushstring(L, names[r->b.mode]);
  return 1;
}

static int r_close(lua_State *L) {
  qj_reader *r = toreader(L, 1);
  if (!r->closed) {
    r->closed = 1;
    reader_release(r);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_QUEUE);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_STACK);
    lua_pushnil(L);
    lua_setiuservalue(L, 1, UV_SOURCE);
  }
  return 0;
}

static const char *const reader_opts[] = {"format", "key", "name", "max_depth", "key_order",
                                          "lone_surrogates", "numbers", "duplicates", NULL};

/* json.reader(path | fn [, opts]) */
static int l_reader(lua_State *L) {
  const char *path = NULL;
  int is_fn = lua_type(L, 1) == LUA_TFUNCTION;
  if (!is_fn)
    path = luaL_checkstring(L, 1);
  lua_settop(L, 2);
  qj_checkopts(L, "json.reader", 2, reader_opts);
  qj_reader *r = lua_newuserdatauv(L, sizeof *r, UV_COUNT); /* 3 */
  memset(r, 0, sizeof *r);
  r->fd = -1;
  r->closed = 1;
  r->lz4 = -1;
  r->size = -1;
  r->q_head = 1;
  luaL_setmetatable(L, QJ_READER_MT);

  const char *fmt = qj_optstring(L, "json.reader", 2, "format", "auto", NULL);
  if (strcmp(fmt, "auto") == 0)
    r->want = QJ_MODE_AUTO;
  else if (strcmp(fmt, "array") == 0)
    r->want = QJ_MODE_ARRAY;
  else if (strcmp(fmt, "object") == 0)
    r->want = QJ_MODE_OBJECT;
  else if (strcmp(fmt, "jsonl") == 0)
    r->want = QJ_MODE_LINES;
  else
    return ql_raisef(L, QUARRY_EINVAL, "json.reader", "json.reader: option format: \"auto\", \"array\", \"object\" or \"jsonl\"");
  size_t klen;
  const char *key = qj_optstring(L, "json.reader", 2, "key", NULL, &klen);
  qj_builder_options(L, "json.reader", 2, &r->b, &r->max_depth);
  const char *name = qj_optstring(L, "json.reader", 2, "name", is_fn ? "<function>" : path, NULL);
  lua_pushstring(L, name);
  lua_setiuservalue(L, 3, UV_NAME);
  lua_newtable(L);
  lua_setiuservalue(L, 3, UV_QUEUE);
  lua_newthread(L);
  lua_setiuservalue(L, 3, UV_STACK);
  if (is_fn) {
    lua_pushvalue(L, 1);
    lua_setiuservalue(L, 3, UV_SOURCE);
  }
  if (key != NULL) {
    if (klen == 0 || memchr(key, '\0', klen) != NULL)
      return ql_raisef(L, QUARRY_EINVAL, "json.reader", "json.reader: option key: a non-empty string without NUL");
    if ((r->key = strdup(key)) == NULL)
      return ql_raisef(L, QUARRY_ENOMEM, "json.reader", "json.reader: out of memory");
  }
  r->in_cap = QJ_CHUNK;
  r->in = malloc(r->in_cap);
  if (r->in == NULL)
    return ql_raisef(L, QUARRY_ENOMEM, "json.reader", "json.reader: out of memory");
  if (!is_fn) {
    struct stat st;
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0)
      return ql_raisef(L, QUARRY_EIO, "json.reader", "json.reader: cannot open %s: %s", path, strerror(errno));
    if (fstat(r->fd, &st) == 0 && S_ISREG(st.st_mode))
      r->size = (int64_t)st.st_size;
  }
  r->closed = 0;
  return 1;
}

static int r_gc(lua_State *L) {
  qj_reader *r = toreader(L, 1);
  reader_release(r);
  r->closed = 1;
  return 0;
}

void qj_reader_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"next", r_next},     {"each", r_each},     {"offset", r_offset},
      {"compressed_offset", r_compressed_offset}, {"size", r_size},
      {"header", r_header}, {"complete", r_complete}, {"format", r_format}, {"close", r_close},
      {NULL, NULL}};
  luaL_newmetatable(L, QJ_READER_MT);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pushcfunction(L, r_close);
  lua_setfield(L, -2, "__close");
  lua_pushcfunction(L, r_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  lua_pushcfunction(L, l_reader);
  lua_setfield(L, -2, "reader");
}

/* l_json.h: what the C files of the module quarry.json.core share (l_json*.c, l_lz4.c;
 * module-internal). Errors are quarry error objects (lcommon.h): see docs/json.md for the codes.
 * Decoding builds Lua values from yajl events (l_json_decode.c); encoding is our own. */
#ifndef L_JSON_H
#define L_JSON_H

#include <lauxlib.h>
#include <lua.h>
#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_parse.h>

#include "lcommon.h"

/* Metatable names, also the __name that tostring and luaL_typeerror show. */
#define QJ_OBJECT_MT "quarry.json.object"
#define QJ_ARRAY_MT "quarry.json.array"
#define QJ_NUMBER_MT "quarry.json.number"
#define QJ_READER_MT "quarry.json.reader"
#define QJ_WRITER_MT "quarry.json.writer"

#define QJ_DEFAULT_MAX_DEPTH 1000
#define QJ_MAX_MAX_DEPTH 10000
#define QJ_CHUNK (64 * 1024)

/* json.null is the light userdata NULL (the same value as cjson.null). */
#define qj_pushnull(L) lua_pushlightuserdata((L), NULL)

/* ---- l_json.c --------------------------------------------------------------------------------- */
/* Pushes a json.number holding a copy of text (which must already be valid JSON number text). */
void qj_push_number_text(lua_State *L, const char *text, size_t len);
/* 1 when text[0..len) is a JSON number (RFC 8259 grammar), else 0. */
int qj_valid_number(const char *text, size_t len);
/* Option helpers: the option table is at idx (absent/nil: defaults). A bad value raises
 * InvalidArgument with op (the Lua function, e.g. "json.decode") and message "json: option NAME: ...". */
int qj_optbool(lua_State *L, const char *op, int idx, const char *name, int def);
lua_Integer qj_optint(lua_State *L, const char *op, int idx, const char *name, lua_Integer def,
                      lua_Integer lo, lua_Integer hi);
const char *qj_optstring(lua_State *L, const char *op, int idx, const char *name, const char *def,
                         size_t *len);
/* Raises InvalidArgument "json: unknown option ..." for an unknown option in the table at idx. */
void qj_checkopts(lua_State *L, const char *op, int idx, const char *const *known);

/* ---- l_json_decode.c: the value builder behind json.decode and json.reader -------------------- */
/* What a repeated member name in an object does (option duplicates). */
enum { QJ_DUP_ERROR, QJ_DUP_FIRST, QJ_DUP_LAST };

enum qj_mode {
  QJ_MODE_DOC,    /* one document: json.decode */
  QJ_MODE_ARRAY,  /* stream the elements of the top-level array */
  QJ_MODE_OBJECT, /* stream the elements of the array under key; other members form the header */
  QJ_MODE_AUTO,   /* '{': OBJECT if the key is found, else every top-level value is an element */
  QJ_MODE_LINES   /* JSON Lines: every top-level value is an element */
};

typedef struct qj_builder {
  lua_State *L;
  yajl_handle h;
  enum qj_mode mode;
  int depth;
  int max_depth;
  int replace_surrogates; /* lone surrogates become U+FFFD instead of an error */
  int float_numbers;      /* non-integers decode to floats (lossy) instead of json.number */
  int keep_order;         /* objects record their key order */
  int duplicates;         /* a repeated member name: QJ_DUP_ERROR, QJ_DUP_FIRST or QJ_DUP_LAST */
  unsigned char *kind;    /* per level (1..max_depth+1): 'a' array, 'o' object, 'd' diverted */
  lua_Integer *count;     /* per level: elements or keys stored so far */
  int *hint;              /* per level: size of the last container closed there (presizing) */
  unsigned char *dup;     /* per object level: the pending member's name was seen before */
  /* stack slots (absolute indices) of the cached values of the current call */
  int s_object_mt, s_array_mt, s_number_mt, s_queue;
  lua_Integer q_tail;     /* queue: value at 2i-1, end offset at 2i, i in 1..q_tail/2 */
  /* the key under which elements stream (OBJECT/AUTO) */
  const char *key;
  size_t key_len;
  int key_pending; /* the last top-level key was `key`: the next value must be an array */
  int key_found;
  int header_done; /* the top-level value of ARRAY/OBJECT mode ended */
  /* the chunk being parsed: positions are chunk_base + yajl_get_bytes_consumed() */
  const unsigned char *chunk;
  size_t chunk_len;
  uint64_t chunk_base;
  /* line accounting (absolute offsets in the uncompressed input) */
  uint64_t lc_pos;      /* lines are counted up to here */
  uint64_t lc_line;     /* 1-based line of lc_pos */
  uint64_t lc_line_pos; /* offset where that line starts */
  uint64_t last_end_line; /* LINES: line where the previous top-level value ended (0: none) */
  /* scratch for strings with escapes */
  char *sbuf;
  size_t scap;
  /* absolute offset of the opening quote of the last string or key pushed */
  uint64_t str_start;
  /* error detected by a callback (the callback returned 0) */
  int failed;
  int err_dup; /* the error is a duplicate member name: err holds the name (cut to fit) */
  uint64_t err_pos;
  char err[200];
  /* set by the reader: called with the header table on top when the top-level object opens */
  void (*on_header)(struct qj_builder *b);
  void *owner;
} qj_builder;

/* Allocates the handle and per-level arrays (malloc); mode DOC has no queue. Returns 0 on
 * success, -1 when out of memory. qj_builder_free releases everything (idempotent). */
int qj_builder_init(qj_builder *b, enum qj_mode mode, int max_depth);
void qj_builder_free(qj_builder *b);
/* Parses chunk (or finishes the input when chunk == NULL). base is the absolute offset of
 * chunk[0]. Returns 0 on success; on error returns -1 with the message and position in b->err,
 * b->err_pos (the caller frees nothing: everything stays owned by b). */
int qj_builder_feed(qj_builder *b, const unsigned char *chunk, size_t len, uint64_t base);
/* Line and column (1-based, in bytes) of absolute position pos, which must be at or after
 * every position passed before (lines are counted forward through the chunks fed). */
void qj_builder_linecol(qj_builder *b, uint64_t pos, uint64_t *line, uint64_t *col);
/* Counts the lines of the fed chunk up to its end (call after a successful feed). */
void qj_builder_count_lines(qj_builder *b);
/* Formats b's error (after qj_builder_feed returned -1) as "parse error at line L, column C
 * (byte B): what" or, for a duplicate member name, "duplicate member "NAME" at line L, column C
 * (byte B)", into out[0..n). */
void qj_builder_errmsg(qj_builder *b, char *out, size_t n);
/* Reads decode options from the table at idx into b (before qj_builder_init's allocations). */
void qj_builder_options(lua_State *L, const char *op, int idx, qj_builder *b, int *max_depth);

/* ---- l_json_encode.c -------------------------------------------------------------------------- */
typedef struct qj_encoder {
  const char *op; /* the Lua function its errors name: "json.encode" or "json.writer" */
  char *buf;
  size_t len, cap;
  int max_depth;
  int allow_invalid_utf8;
  const char *indent; /* NULL: compact */
  size_t indent_len;
  /* sorting scratch: keys of the objects being written (a stack of segments) */
  struct qj_key *keys;
  size_t nkeys, kcap;
  /* path of the tables being written, for cycle detection and error messages */
  const void **path;
  struct qj_pathstep *steps;
  size_t pcap;
  int depth;
  /* the metatables, fetched when an encoding starts */
  const void *mt_object, *mt_array, *mt_number;
} qj_encoder;

/* Length of the valid UTF-8 sequence at s[0..n) (s[0] >= 0x80; no overlong forms, surrogates or
 * code points past U+10FFFF), or 0 if it is invalid. */
size_t qj_utf8_len(const unsigned char *s, size_t n);
/* Reads encode options (indent, allow_invalid_utf8, max_depth) from the table at idx. */
void qj_encoder_options(lua_State *L, const char *op, int idx, qj_encoder *e);
/* Appends the encoding of the value at idx to e->buf; raises on unencodable values (e's memory
 * stays owned by whoever owns e, so nothing leaks). */
void qj_encode_value(lua_State *L, qj_encoder *e, int idx);
/* Makes room for n more bytes (raises a memory error on failure). */
void qj_encoder_reserve(lua_State *L, qj_encoder *e, size_t n);
void qj_encoder_put(lua_State *L, qj_encoder *e, const char *s, size_t n);
void qj_encoder_free(qj_encoder *e);
/* Pushes a table of the keys of the table at idx in encoding order (see docs/json.md). */
void qj_push_keys(lua_State *L, qj_encoder *e, int idx);

/* ---- registration (each adds its functions to the json table on top of the stack) ------------ */
void qj_decode_open(lua_State *L);
void qj_encode_open(lua_State *L);
void qj_reader_open(lua_State *L);
void qj_writer_open(lua_State *L);
void qj_lz4_open(lua_State *L); /* also json.lz4_version */

QL_EXPORT int luaopen_quarry_json_core(lua_State *L);

#endif

/* l_fast.c: the module quarry.chain.fast, the C hot path of a migration into the chain store
 * (docs/chain-fast.md). For a format declared as data (renames, a named coinbase rule, an amount
 * unit, a named unspendable rule), one call per block validates the model block (a quarry.json
 * value, renamed by quarry.chain.formats) against the group and the store with the checks of
 * quarry.chain's Group:add, encodes it with the byte layout of quarry.chain.codec and puts it
 * into the group's batch; the group's overlay (transaction ids, outputs created and spent in the
 * group, block hashes) lives in C hash tables, earlier groups are read from the store through
 * quarry.h. A block the fast path does not take (a refusal, or anything outside what it covers:
 * amounts of 2^128 and more, plain Lua tables, floats) makes add() answer false: nothing of the
 * group is written and quarry.chain.migrate replays the group through Group:add, which refuses
 * with its own message or takes the block. codec.lua stays the reference of every byte;
 * spec/27 proves the two agree (digests of stores migrated each way, every refusal).
 *
 * The batch of a committed group is written by a writer thread (quarry_db_write) while the next
 *  group is validated and encoded on the caller's thread: lookups see the group being written
 * through its overlay, kept until the write ends; wait() joins it and raises its error. */
#include "lcommon.h"
#include "lapi.h"    /* the quarry.h functions, lent by quarry.core */
#include "lquarry.h" /* the ql_db / ql_cf userdata layouts only */

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define FAST_MT "quarry.chain.fast"
#define OP "quarry.chain.fast"

enum { F_BLOCKS, F_HASHES, F_TXS, F_UTXO, F_UNDO, F_META, F_COUNT };
static const char *const FAMILY[F_COUNT] = {"blocks", "hashes", "txs", "utxo", "undo", "meta"};

enum { CB_FIRST_NO_INPUTS, CB_AURIUMCHAIN, CB_BITCOIN_CORE };
enum { US_NONE, US_BITCOIN_CORE };
enum { U_INTEGER, U_DECIMAL, U_QUANTITY };

/* Amounts, their sums and the supply: exact below 2^128 (beyond: the Lua path's quarry.u256). */
__extension__ typedef unsigned __int128 u128;
#define U128_MAX (~(u128)0)
#define I63 ((u128)INT64_MAX)

/* ---- byte buffers ---------------------------------------------------------------------------- */
typedef struct {
  char *p;
  size_t n, cap;
} buf_t;

static int buf_grow(buf_t *b, size_t more) {
  /* a buffer is allocated once asked for, even for 0 bytes: memcpy(b->p, s, 0) must not see a
   * NULL b->p (an empty hash, "", is a real key: AuriumChain's unmined blocks) */
  if (b->cap - b->n >= more && b->p != NULL)
    return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->n < more)
    cap *= 2;
  if (cap > (1u << 20)) /* a large value: about what it needs, not the next power of two */
    cap = b->n + more + (b->n + more) / 8;
  char *p = realloc(b->p, cap);
  if (p == NULL)
    return -1;
  b->p = p;
  b->cap = cap;
  return 0;
}

/* ---- hash tables: byte keys (in an arena) to three integers ----------------------------------- */
typedef struct {
  uint64_t hash; /* 0: empty */
  size_t koff;
  uint32_t klen;
  int64_t a, b, c;
} slot_t;

typedef struct {
  slot_t *s;
  size_t cap, n; /* cap: a power of two */
  buf_t keys;
} tab_t;

static uint64_t hash_bytes(const char *k, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)k[i]) * 0x100000001b3ULL;
  h ^= h >> 29;
  return h ? h : 1;
}

static void tab_clear(tab_t *t) {
  if (t->s)
    memset(t->s, 0, t->cap * sizeof *t->s);
  t->n = 0;
  t->keys.n = 0;
}

static void tab_free(tab_t *t) {
  free(t->s);
  free(t->keys.p);
  memset(t, 0, sizeof *t);
}

static slot_t *tab_find(const tab_t *t, const char *k, size_t n) {
  if (t->n == 0)
    return NULL;
  uint64_t h = hash_bytes(k, n);
  size_t m = t->cap - 1;
  for (size_t i = h & m;; i = (i + 1) & m) {
    slot_t *s = &t->s[i];
    if (s->hash == 0)
      return NULL;
    if (s->hash == h && s->klen == n && memcmp(t->keys.p + s->koff, k, n) == 0)
      return s;
  }
}

/* The slot of k, added (a = b = c = 0) when missing; NULL when out of memory. */
static slot_t *tab_put(tab_t *t, const char *k, size_t n, int *added) {
  if ((t->n + 1) * 2 > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    slot_t *s = calloc(cap, sizeof *s);
    if (s == NULL)
      return NULL;
    for (size_t i = 0; i < t->cap; i++) {
      if (t->s[i].hash == 0)
        continue;
      size_t j = t->s[i].hash & (cap - 1);
      while (s[j].hash != 0)
        j = (j + 1) & (cap - 1);
      s[j] = t->s[i];
    }
    free(t->s);
    t->s = s;
    t->cap = cap;
  }
  uint64_t h = hash_bytes(k, n);
  size_t m = t->cap - 1;
  for (size_t i = h & m;; i = (i + 1) & m) {
    slot_t *s = &t->s[i];
    if (s->hash == 0) {
      if (buf_grow(&t->keys, n))
        return NULL;
      memcpy(t->keys.p + t->keys.n, k, n);
      s->hash = h;
      s->koff = t->keys.n;
      s->klen = (uint32_t)n;
      s->a = s->b = s->c = 0;
      t->keys.n += n;
      t->n++;
      *added = 1;
      return s;
    }
    if (s->hash == h && s->klen == n && memcmp(t->keys.p + s->koff, k, n) == 0) {
      *added = 0;
      return s;
    }
  }
}

/* ---- a group's overlay ------------------------------------------------------------------------ */
typedef struct {
  tab_t txs;     /* tx id (text) -> a height, b index, c outputs */
  tab_t hashes;  /* hash key -> a height */
  tab_t created; /* utxo key -> a amount, b 1 once spent in the group */
  tab_t spent;   /* utxo key of a committed output spent by the group */
  quarry_batch *batch;
} overlay_t;

static void overlay_clear(overlay_t *o) {
  tab_clear(&o->txs);
  tab_clear(&o->hashes);
  tab_clear(&o->created);
  tab_clear(&o->spent);
}

/* ---- per block scratch --------------------------------------------------------------------- */
typedef struct {
  int64_t h, t, n;
  u128 amount;
} ref_t;

typedef struct {
  int has_refs;
  size_t ref_off, nref;
  int64_t nout;
  size_t idk_off, idk_len; /* in the key scratch */
  int tx_idx;              /* stack index of the transaction table */
} txinfo_t;

typedef struct {
  u128 a;
  int live;
} out_t;

#define RING 8
#define NOV (RING + 2)

typedef struct {
  /* the store and its families */
  quarry_db *db;
  quarry_cf *cf[F_COUNT];
  int sync;
  /* the format's rules */
  int coinbase, unspendable, unit, scale, relax_empty, relax_dup;
  char *dump_format;
  /* metatables of quarry.json's values (compared by address) */
  const void *mt_obj, *mt_arr, *mt_num;
  /* the group */
  int open;
  int64_t tip, base, ntxs, nutxos;
  u128 supply;
  int has_tip, store_empty, have_base;
  buf_t tip_hash;
  int64_t relaxed[4]; /* empty_hash, duplicate_hash, unlinked, unspendable */
  u128 burnt;         /* unspendable_amount */
  int64_t n, bytes;
  /* overlays: the current group's (cur), the one the writer thread is writing (pend, -1: none),
   * and those of the RING groups written before it (ring[0] the newest), kept while the groups
   * go through C one after the other: their transactions and outputs are found without a read of
   * the store (outputs they created that a later group spent are marked spent in them) */
  overlay_t ov[NOV];
  int cur, pend;
  int ring[RING], nring;
  /* the writer thread */
  pthread_t writer;
  int writing;  /* a write is under way (the thread runs, when threaded) */
  int threaded;
  int wrc;      /* its result */
  char werr[256];
  /* scratch */
  buf_t val, key, undo, tmp;
  ref_t *refs;
  size_t nrefs, refcap;
  txinfo_t *txi;
  size_t txcap;
  out_t *outs;
  size_t outcap;
  /* every tx id and hash key this run's C groups wrote, when the store was empty at the start
   * (filter_ok): a key it has not seen is in no earlier group, so its lookup is skipped */
  uint64_t *bloom;
  int filter_ok, begun;
  jmp_buf bail;
  lua_State *L;
  int base_top;
} fast_t;

#define BAIL(f) longjmp((f)->bail, 1)

static const ql_core_api *A; /* quarry.core's libquarry */

static fast_t *checkfast(lua_State *L, int idx) {
  fast_t *f = *(fast_t **)luaL_checkudata(L, idx, FAST_MT);
  if (f == NULL || f->db == NULL)
    ql_raisef(L, QUARRY_ECLOSED, OP, "quarry.chain.fast: closed");
  return f;
}

/* memory errors inside add(): give up the block (the Lua path then raises its own) */
static void put_bytes(fast_t *f, buf_t *b, const void *s, size_t n) {
  if (buf_grow(b, n))
    BAIL(f);
  memcpy(b->p + b->n, s, n);
  b->n += n;
}
static void put_byte(fast_t *f, buf_t *b, unsigned c) {
  if (buf_grow(b, 1))
    BAIL(f);
  b->p[b->n++] = (char)c;
}
static void put_uv(fast_t *f, buf_t *b, uint64_t v) {
  if (buf_grow(b, 10))
    BAIL(f);
  while (v >= 0x80) {
    b->p[b->n++] = (char)((v & 0x7f) | 0x80);
    v >>= 7;
  }
  b->p[b->n++] = (char)v;
}
static void put_uv128(fast_t *f, buf_t *b, u128 v) {
  if (buf_grow(b, 19))
    BAIL(f);
  while (v >= 0x80) {
    b->p[b->n++] = (char)((unsigned)(v & 0x7f) | 0x80);
    v >>= 7;
  }
  b->p[b->n++] = (char)v;
}
static void add128(fast_t *f, u128 *acc, u128 v) {
  if (*acc > U128_MAX - v)
    BAIL(f); /* beyond 2^128: the Lua path */
  *acc += v;
}
/* decimal digits (no sign, no leading zero) into *out: 1, or 0 (not such text, or 2^128 and more) */
static int u128_parse(const char *s, size_t n, u128 *out) {
  u128 v = 0;
  if (n == 0 || (s[0] == '0' && n > 1))
    return 0;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9' || v > (U128_MAX - 9) / 10)
      return 0;
    v = v * 10 + (unsigned)(s[i] - '0');
  }
  *out = v;
  return 1;
}
/* the decimal text of v into buf (40 bytes); returns its length */
static size_t u128_text(u128 v, char *buf) {
  char t[40];
  size_t n = 0;
  do {
    t[n++] = (char)('0' + (unsigned)(v % 10));
    v /= 10;
  } while (v);
  for (size_t i = 0; i < n; i++)
    buf[i] = t[n - 1 - i];
  buf[n] = 0;
  return n;
}

/* order-preserving varint of the utxo keys (codec.ov) */
static void put_ov(fast_t *f, buf_t *b, uint64_t v) {
  unsigned char c[9];
  size_t k;
  if (v < 0x80) {
    c[0] = (unsigned char)v;
    k = 1;
  } else if (v < 0x4000) {
    c[0] = (unsigned char)(0x80 | (v >> 8));
    c[1] = (unsigned char)v;
    k = 2;
  } else if (v < 0x200000) {
    c[0] = (unsigned char)(0xC0 | (v >> 16));
    c[1] = (unsigned char)(v >> 8);
    c[2] = (unsigned char)v;
    k = 3;
  } else if (v < 0x10000000) {
    c[0] = (unsigned char)(0xE0 | (v >> 24));
    c[1] = (unsigned char)(v >> 16);
    c[2] = (unsigned char)(v >> 8);
    c[3] = (unsigned char)v;
    k = 4;
  } else {
    c[0] = 0xF0;
    for (int i = 0; i < 8; i++)
      c[1 + i] = (unsigned char)(v >> (56 - 8 * i));
    k = 9;
  }
  put_bytes(f, b, c, k);
}

/* lowercase hex digits: their value, else -1 (filled by luaopen) */
static signed char HEX[256];
static int hexval(int c) { return HEX[c & 0xff]; }
/* lowercase hex of even length, non-empty (codec.is_hex and the skey rule) */
static int is_hex(const char *s, size_t n) {
  if (n == 0 || n % 2)
    return 0;
  const unsigned char *u = (const unsigned char *)s;
  int bad = 0;
  for (size_t i = 0; i < n; i++)
    bad |= HEX[u[i]];
  return bad >= 0;
}
static void put_fromhex(fast_t *f, buf_t *b, const char *s, size_t n) {
  if (buf_grow(b, n / 2))
    BAIL(f);
  const unsigned char *u = (const unsigned char *)s;
  char *o = b->p + b->n;
  for (size_t i = 0; i < n; i += 2)
    *o++ = (char)(HEX[u[i]] << 4 | HEX[u[i + 1]]);
  b->n += n / 2;
}
/* skey: 0x01 + raw bytes for hex, else 0x00 + the text */
static void put_skey(fast_t *f, buf_t *b, const char *s, size_t n) {
  if (is_hex(s, n)) {
    put_byte(f, b, 1);
    put_fromhex(f, b, s, n);
  } else {
    put_byte(f, b, 0);
    put_bytes(f, b, s, n);
  }
}

/* ---- values ---------------------------------------------------------------------------------- */
enum { K_STR, K_INT, K_NUM, K_OBJ, K_ARR, K_NULL, K_TRUE, K_FALSE, K_NIL, K_OTHER };

static int kind(fast_t *f, lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING:
    return K_STR;
  case LUA_TNUMBER:
    return lua_isinteger(L, idx) ? K_INT : K_OTHER; /* floats: never from the reader */
  case LUA_TBOOLEAN:
    return lua_toboolean(L, idx) ? K_TRUE : K_FALSE;
  case LUA_TNIL:
    return K_NIL;
  case LUA_TLIGHTUSERDATA:
    return lua_touserdata(L, idx) == NULL ? K_NULL : K_OTHER;
  case LUA_TTABLE: {
    if (!lua_getmetatable(L, idx))
      return K_OTHER; /* a plain table: its keys would be sorted (json.keys); the Lua path */
    const void *mt = lua_topointer(L, -1);
    lua_pop(L, 1);
    if (mt == f->mt_obj)
      return K_OBJ;
    if (mt == f->mt_arr)
      return K_ARR;
    if (mt == f->mt_num)
      return K_NUM;
    return K_OTHER;
  }
  default:
    return K_OTHER;
  }
}

static const char *const DICT[] = {
    "index",     "timestamp", "previous_hash", "hash",          "nonce",         "difficulty",
    "miner",     "transactions", "id",         "inputs",        "outputs",       "tx_id",
    "output_index", "address", "amount",       "chain",         "blocks",        "version",
    "memo",      "script",    "sequence",      "fee",           "type",          "data",
    "value",     "name",      "signature",     "size",          "weight",        "merkle_root",
    "note",      "extra",     "time",          "height",        "vout",          "txid",
    "coinbase",  "witness",   "locktime",      "pubkey",        "script_sig",    "script_pubkey",
    "to",        "from",      "gas",           "nbits",         "bits",          "target",
    "reward",    "parent_hash", "state_root",  "uncles"};
#define NDICT (sizeof DICT / sizeof DICT[0])

/* DICT's words by length and first letter: dict_at[len][c] is the first index + 1 of a chain
 * through dict_next (filled by luaopen) */
#define DICT_MAXLEN 16
static unsigned char dict_at[DICT_MAXLEN + 1][26], dict_next[NDICT];

static void dict_init(void) {
  for (int i = (int)NDICT - 1; i >= 0; i--) {
    size_t n = strlen(DICT[i]);
    int c = DICT[i][0] - 'a';
    dict_next[i] = dict_at[n][c];
    dict_at[n][c] = (unsigned char)(i + 1);
  }
}

static void put_key(fast_t *f, buf_t *b, const char *k, size_t n) {
  int c = n ? (unsigned char)k[0] - 'a' : -1;
  if (n <= DICT_MAXLEN && c >= 0 && c < 26)
    for (int i = dict_at[n][c]; i; i = dict_next[i - 1])
      if (memcmp(DICT[i - 1], k, n) == 0) {
        put_uv(f, b, (uint64_t)(i - 1) * 2);
        return;
      }
  put_uv(f, b, (uint64_t)n * 2 + 1);
  put_bytes(f, b, k, n);
}

/* codec.put_string */
static void put_string(fast_t *f, buf_t *b, const char *s, size_t n) {
  if (is_hex(s, n)) {
    if (n == 64)
      put_byte(f, b, 9);
    else if (n == 40)
      put_byte(f, b, 10);
    else {
      put_byte(f, b, 8);
      put_uv(f, b, n / 2);
    }
    put_fromhex(f, b, s, n);
    return;
  }
  put_byte(f, b, 7);
  put_uv(f, b, n);
  put_bytes(f, b, s, n);
}

/* the value at idx in the generic encoding (codec.put_value) */
static void put_value(fast_t *f, lua_State *L, buf_t *b, int idx) {
  switch (kind(f, L, idx)) {
  case K_STR: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    put_string(f, b, s, n);
    return;
  }
  case K_INT: {
    lua_Integer v = lua_tointeger(L, idx);
    if (v >= 0) {
      put_byte(f, b, 3);
      put_uv(f, b, (uint64_t)v);
    } else {
      put_byte(f, b, 4);
      put_uv(f, b, (uint64_t)(-(v + 1)));
    }
    return;
  }
  case K_OBJ: {
    size_t nk = lua_rawlen(L, idx);
    if (!lua_checkstack(L, 4))
      BAIL(f);
    put_byte(f, b, 12);
    put_uv(f, b, nk);
    for (size_t i = 1; i <= nk; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i);
      if (lua_type(L, -1) != LUA_TSTRING)
        BAIL(f);
      size_t kl;
      const char *k = lua_tolstring(L, -1, &kl);
      put_key(f, b, k, kl);
      lua_rawget(L, idx); /* the key is replaced by the value */
      put_value(f, L, b, lua_gettop(L));
      lua_pop(L, 1);
    }
    return;
  }
  case K_ARR: {
    size_t n = lua_rawlen(L, idx);
    if (!lua_checkstack(L, 4))
      BAIL(f);
    put_byte(f, b, 11);
    put_uv(f, b, n);
    for (size_t i = 1; i <= n; i++) {
      lua_rawgeti(L, idx, (lua_Integer)i);
      put_value(f, L, b, lua_gettop(L));
      lua_pop(L, 1);
    }
    return;
  }
  case K_NULL:
    put_byte(f, b, 0);
    return;
  case K_FALSE:
    put_byte(f, b, 1);
    return;
  case K_TRUE:
    put_byte(f, b, 2);
    return;
  case K_NUM: {
    size_t n;
    lua_getfield(L, idx, "text");
    if (lua_type(L, -1) != LUA_TSTRING)
      BAIL(f);
    const char *s = lua_tolstring(L, -1, &n);
    put_byte(f, b, 6);
    put_uv(f, b, n);
    put_bytes(f, b, s, n);
    lua_pop(L, 1);
    return;
  }
  default:
    BAIL(f); /* a float, a plain table, nil inside a value: the Lua path */
  }
}

/* rawget of a string member of the table at idx, pushed; returns its kind */
static int member(fast_t *f, lua_State *L, int idx, const char *name) {
  lua_pushstring(L, name);
  lua_rawget(L, idx);
  return kind(f, L, -1);
}

/* the member list (object keys in order) at idx equals want[0..n)? */
static int keys_are(lua_State *L, int idx, const char *const *want, size_t n) {
  if (lua_rawlen(L, idx) != n)
    return 0;
  for (size_t i = 0; i < n; i++) {
    lua_rawgeti(L, idx, (lua_Integer)i + 1);
    size_t kl;
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &kl) : NULL;
    int same = k != NULL && kl == strlen(want[i]) && memcmp(k, want[i], kl) == 0;
    lua_pop(L, 1);
    if (!same)
      return 0;
  }
  return 1;
}

static int slot_of(const char *k, size_t kl, const char *const *keys, int n) {
  for (int i = 0; i < n; i++)
    if (keys[i][0] == k[0] && kl == strlen(keys[i]) && memcmp(k, keys[i], kl) == 0)
      return i + 1;
  return 0;
}

static const char *const BLOCK_KEYS[] = {"index", "timestamp", "previous_hash", "hash",
                                         "nonce", "difficulty", "miner", "transactions"};
static const char *const TX_KEYS[] = {"id", "inputs", "outputs"};
static const char *const IN_KEYS[] = {"tx_id", "output_index"};
static const char *const OUT_KEYS[] = {"address", "amount"};

/* put_member: key code 0, the key, the value */
static void put_member(fast_t *f, lua_State *L, buf_t *b, const char *k, size_t kl, int vidx) {
  put_byte(f, b, 0);
  put_key(f, b, k, kl);
  put_value(f, L, b, vidx);
}

/* ---- the encoder of a validated block (codec.encode_block) ----------------------------------- */

static void put_inputs(fast_t *f, lua_State *L, buf_t *b, int ins, txinfo_t *ti, int64_t h) {
  size_t len = lua_type(L, ins) == LUA_TTABLE ? lua_rawlen(L, ins) : 0;
  int shaped = 1;
  for (size_t i = 1; i <= len && shaped; i++) {
    lua_rawgeti(L, ins, (lua_Integer)i);
    shaped = keys_are(L, lua_gettop(L), IN_KEYS, 2);
    lua_pop(L, 1);
  }
  put_uv(f, b, len * 2 + (size_t)shaped);
  for (size_t i = 1; i <= len; i++) {
    ref_t *r = &f->refs[ti->ref_off + i - 1];
    put_uv(f, b, (uint64_t)(h - r->h));
    put_uv(f, b, (uint64_t)r->t);
    put_uv(f, b, (uint64_t)r->n);
    if (shaped)
      continue;
    lua_rawgeti(L, ins, (lua_Integer)i);
    int inp = lua_gettop(L);
    size_t nk = lua_rawlen(L, inp);
    put_uv(f, b, nk + 1);
    for (size_t k = 1; k <= nk; k++) {
      lua_rawgeti(L, inp, (lua_Integer)k);
      size_t kl;
      const char *key = lua_tolstring(L, -1, &kl);
      int slot = slot_of(key, kl, IN_KEYS, 2);
      if (slot) {
        put_byte(f, b, (unsigned)slot);
      } else {
        lua_pushvalue(L, -1);
        lua_rawget(L, inp);
        put_member(f, L, b, key, kl, lua_gettop(L));
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
}

static void put_outputs(fast_t *f, lua_State *L, buf_t *b, int outs) {
  size_t len = lua_type(L, outs) == LUA_TTABLE ? lua_rawlen(L, outs) : 0;
  int shaped = 1;
  for (size_t i = 1; i <= len && shaped; i++) {
    lua_rawgeti(L, outs, (lua_Integer)i);
    int o = lua_gettop(L);
    shaped = keys_are(L, o, OUT_KEYS, 2);
    if (shaped)
      shaped = member(f, L, o, "amount") == K_INT, lua_pop(L, 1);
    lua_pop(L, 1);
  }
  put_uv(f, b, len * 2 + (size_t)shaped);
  for (size_t i = 1; i <= len; i++) {
    lua_rawgeti(L, outs, (lua_Integer)i);
    int o = lua_gettop(L);
    if (shaped) {
      member(f, L, o, "address");
      put_value(f, L, b, lua_gettop(L));
      member(f, L, o, "amount");
      put_uv(f, b, (uint64_t)lua_tointeger(L, -1));
      lua_pop(L, 3);
      continue;
    }
    size_t nk = lua_rawlen(L, o);
    put_uv(f, b, nk + 1);
    for (size_t k = 1; k <= nk; k++) {
      lua_rawgeti(L, o, (lua_Integer)k);
      size_t kl;
      const char *key = lua_tolstring(L, -1, &kl);
      int slot = slot_of(key, kl, OUT_KEYS, 2);
      lua_pushvalue(L, -1);
      lua_rawget(L, o);
      int v = lua_gettop(L);
      if (slot == 2 && lua_isinteger(L, v)) {
        put_byte(f, b, 2);
        put_uv(f, b, (uint64_t)lua_tointeger(L, v));
      } else if (slot == 1) {
        put_byte(f, b, 1);
        put_value(f, L, b, v);
      } else {
        put_member(f, L, b, key, kl, v);
      }
      lua_pop(L, 2);
    }
    lua_pop(L, 1);
  }
}

static void put_tx(fast_t *f, lua_State *L, buf_t *b, int tx, int keyed, txinfo_t *ti, int64_t h) {
  if (!keyed) {
    member(f, L, tx, "inputs");
    put_inputs(f, L, b, lua_gettop(L), ti, h);
    member(f, L, tx, "outputs");
    put_outputs(f, L, b, lua_gettop(L));
    lua_pop(L, 2);
    return;
  }
  size_t nk = lua_rawlen(L, tx);
  put_uv(f, b, nk + 1);
  for (size_t k = 1; k <= nk; k++) {
    lua_rawgeti(L, tx, (lua_Integer)k);
    size_t kl;
    const char *key = lua_tolstring(L, -1, &kl);
    int slot = slot_of(key, kl, TX_KEYS, 3);
    lua_pushvalue(L, -1);
    lua_rawget(L, tx);
    int v = lua_gettop(L);
    if (slot == 1) {
      put_byte(f, b, 1);
    } else if (slot == 2 && ti->has_refs) {
      put_byte(f, b, 2);
      put_inputs(f, L, b, v, ti, h);
    } else if (slot == 3) {
      put_byte(f, b, 3);
      put_outputs(f, L, b, v);
    } else {
      put_member(f, L, b, key, kl, v);
    }
    lua_pop(L, 2);
  }
}

/* the transactions: the tables validation kept on the stack (f->txi[i].tx_idx) */
static void put_txs(fast_t *f, lua_State *L, buf_t *b, size_t ntx, int64_t h) {
  int shaped = 1;
  for (size_t i = 0; i < ntx && shaped; i++)
    shaped = f->txi[i].has_refs && keys_are(L, f->txi[i].tx_idx, TX_KEYS, 3);
  put_uv(f, b, ntx * 2 + (size_t)shaped);
  for (size_t i = 0; i < ntx; i++)
    put_tx(f, L, b, f->txi[i].tx_idx, !shaped, &f->txi[i], h);
}

static int ok_uint(lua_State *L, int idx) { return lua_isinteger(L, idx) && lua_tointeger(L, idx) >= 0; }

static void encode_block(fast_t *f, lua_State *L, int block, int txs, size_t ntx, int64_t h,
                         const char *hash, size_t hash_len, int derived_prev, buf_t *b) {
  b->n = 0;
  put_byte(f, b, 1); /* BLOCK_VERSION */
  put_string(f, b, hash, hash_len);
  /* the id table */
  int fixed = 1;
  for (size_t i = 0; i < ntx && fixed; i++) {
    const char *id = f->key.p + f->txi[i].idk_off;
    fixed = f->txi[i].idk_len == 33 && id[0] == 1;
  }
  put_uv(f, b, ntx * 2 + (size_t)fixed);
  for (size_t i = 0; i < ntx; i++) {
    const char *idk = f->key.p + f->txi[i].idk_off;
    if (fixed) {
      put_bytes(f, b, idk + 1, 32);
    } else {
      lua_pushstring(L, "id");
      lua_rawget(L, f->txi[i].tx_idx);
      size_t n;
      const char *id = lua_tolstring(L, -1, &n);
      put_string(f, b, id, n);
      lua_pop(L, 1);
    }
  }
  int top = lua_gettop(L);
  /* shaped: exactly the block keys in order, derived link, integer timestamp/nonce/difficulty */
  if (derived_prev && keys_are(L, block, BLOCK_KEYS, 8)) {
    member(f, L, block, "timestamp");
    member(f, L, block, "nonce");
    member(f, L, block, "difficulty");
    if (ok_uint(L, top + 1) && ok_uint(L, top + 2) && ok_uint(L, top + 3)) {
      put_byte(f, b, 0);
      for (int i = 1; i <= 3; i++)
        put_uv(f, b, (uint64_t)lua_tointeger(L, top + i));
      member(f, L, block, "miner");
      put_value(f, L, b, lua_gettop(L));
      put_txs(f, L, b, ntx, h);
      lua_settop(L, top);
      return;
    }
    lua_settop(L, top);
  }
  size_t nk = lua_rawlen(L, block);
  put_uv(f, b, nk + 1);
  for (size_t k = 1; k <= nk; k++) {
    lua_rawgeti(L, block, (lua_Integer)k);
    size_t kl;
    const char *key = lua_tolstring(L, -1, &kl);
    int slot = slot_of(key, kl, BLOCK_KEYS, 8);
    lua_pushvalue(L, -1);
    lua_rawget(L, block);
    int v = lua_gettop(L);
    if (slot == 1 || slot == 4 || (slot == 3 && derived_prev)) {
      put_byte(f, b, (unsigned)slot);
    } else if ((slot == 2 || slot == 5 || slot == 6) && ok_uint(L, v)) {
      put_byte(f, b, (unsigned)slot);
      put_uv(f, b, (uint64_t)lua_tointeger(L, v));
    } else if (slot == 7) {
      put_byte(f, b, 7);
      put_value(f, L, b, v);
    } else if (slot == 8) {
      put_byte(f, b, 8);
      put_txs(f, L, b, ntx, h);
    } else {
      put_member(f, L, b, key, kl, v);
    }
    lua_settop(L, top);
  }
}

/* 64-bit FNV-1a, 8 bytes at a time, then the tail and the length (codec.fnv) */
static uint64_t fnv_words(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  const uint64_t P = 0x100000001b3ULL;
  size_t p = 0;
  for (; p + 8 <= n; p += 8) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
      w = w << 8 | (unsigned char)s[p + (size_t)i];
    h = (h ^ w) * P;
  }
  for (; p < n; p++)
    h = (h ^ (unsigned char)s[p]) * P;
  h = (h ^ (uint64_t)n) * P;
  return h;
}

/* ---- the run's filter of written keys -------------------------------------------------------- */
#define BLOOM_BITS (1ULL << 26) /* 8 MiB: about 1 % false positives at 6 million keys */

static void bloom_add(fast_t *f, const char *k, size_t n) {
  if (!f->filter_ok)
    return;
  uint64_t h = hash_bytes(k, n), h2 = (h >> 33) | 1;
  for (int i = 0; i < 4; i++) {
    uint64_t bit = (h + (uint64_t)i * h2) & (BLOOM_BITS - 1);
    f->bloom[bit >> 6] |= 1ULL << (bit & 63);
  }
}

/* 0: certainly never written by this run (and the store was empty): no lookup needed */
static int bloom_may(fast_t *f, const char *k, size_t n) {
  if (!f->filter_ok)
    return 1;
  uint64_t h = hash_bytes(k, n), h2 = (h >> 33) | 1;
  for (int i = 0; i < 4; i++) {
    uint64_t bit = (h + (uint64_t)i * h2) & (BLOOM_BITS - 1);
    if (!(f->bloom[bit >> 6] & (1ULL << (bit & 63))))
      return 0;
  }
  return 1;
}

/* ---- reads of earlier groups ----------------------------------------------------------------- */

static int read_uv(const char *s, size_t n, size_t *p, uint64_t *out) {
  uint64_t v = 0;
  int shift = 0;
  while (*p < n) {
    unsigned c = (unsigned char)s[(*p)++];
    if (shift > 63)
      return -1;
    v |= (uint64_t)(c & 0x7f) << shift;
    if (c < 0x80) {
      *out = v;
      return 0;
    }
    shift += 7;
  }
  return -1;
}

/* Gets key of family cf: 1 found (value copied into f->tmp), 0 missing; a failed read bails. */
static int get(fast_t *f, int cf, const char *k, size_t kn) {
  quarry_value *v = NULL;
  if (A->get(f->db, f->cf[cf], NULL, k, kn, &v) != QUARRY_OK)
    BAIL(f); /* the Lua path reads again and raises the store's error */
  if (v == NULL)
    return 0;
  size_t n;
  const char *d = A->value_data(v, &n);
  f->tmp.n = 0;
  if (buf_grow(&f->tmp, n)) {
    A->value_free(v);
    BAIL(f);
  }
  if (n > 0)
    memcpy(f->tmp.p, d, n);
  f->tmp.n = n;
  A->value_free(v);
  return 1;
}


/* The overlays a lookup reads, newest first: the pending group's, then the ring's. */
static int older(fast_t *f, overlay_t **o) {
  int n = 0;
  if (f->pend >= 0)
    o[n++] = &f->ov[f->pend];
  for (int i = 0; i < f->nring; i++)
    o[n++] = &f->ov[f->ring[i]];
  return n;
}

/* A transaction's location (height, index, outputs): this group's, the group being written, or
 * the store's; 0 when there is none. */
static int find_tx(fast_t *f, const char *id, size_t idn, const char *idk, size_t idkn,
                   int64_t loc[3]) {
  overlay_t *o[NOV];
  o[0] = &f->ov[f->cur];
  /* the filter knows every id of the earlier groups and blocks (not yet this block's) */
  int no = !f->filter_ok || bloom_may(f, idk, idkn) ? 1 + older(f, o + 1) : 1;
  for (int g = 0; g < no; g++) {
    slot_t *s = tab_find(&o[g]->txs, id, idn);
    if (s) {
      loc[0] = s->a, loc[1] = s->b, loc[2] = s->c;
      return 1;
    }
  }
  if (!bloom_may(f, idk, idkn) || !get(f, F_TXS, idk, idkn))
    return 0;
  uint64_t v[3];
  size_t p = 0;
  for (int i = 0; i < 3; i++)
    if (read_uv(f->tmp.p, f->tmp.n, &p, &v[i]) || v[i] > INT64_MAX)
      BAIL(f);
  if (p != f->tmp.n)
    BAIL(f);
  loc[0] = (int64_t)v[0], loc[1] = (int64_t)v[1], loc[2] = (int64_t)v[2];
  return 1;
}

static int hash_known(fast_t *f, const char *hk, size_t n) {
  overlay_t *o[NOV];
  o[0] = &f->ov[f->cur];
  int no = !f->filter_ok || bloom_may(f, hk, n) ? 1 + older(f, o + 1) : 1;
  for (int g = 0; g < no; g++)
    if (tab_find(&o[g]->hashes, hk, n))
      return 1;
  return bloom_may(f, hk, n) && get(f, F_HASHES, hk, n);
}

/* Spends the output at key pk: its amount, or a bail (missing, spent, 2^128 and more). */
static u128 spend(fast_t *f, const char *pk, size_t n) {
  overlay_t *cur = &f->ov[f->cur], *o[NOV];
  int added;
  slot_t *s = tab_find(&cur->created, pk, n);
  if (s) {
    if (s->b)
      BAIL(f); /* double spend within the group */
    s->b = 1;
    return (u128)(uint64_t)s->a | (u128)(uint64_t)s->c << 64;
  }
  if (tab_find(&cur->spent, pk, n))
    BAIL(f);
  u128 amount = 0;
  int found = 0, no = older(f, o);
  for (int g = 0; g < no && !found; g++) {
    s = tab_find(&o[g]->created, pk, n);
    if (s) {
      if (s->b)
        BAIL(f); /* spent by a later group */
      s->b = 1;  /* for the groups after this one (a void group drops the ring: l_discard) */
      amount = (u128)(uint64_t)s->a | (u128)(uint64_t)s->c << 64;
      found = 1;
    } else if (tab_find(&o[g]->spent, pk, n)) {
      BAIL(f);
    }
  }
  if (!found) {
    if (!get(f, F_UTXO, pk, n))
      BAIL(f);
    u128 a = 0;
    size_t p = 0;
    int shift = 0, done = 0;
    while (p < f->tmp.n && !done) { /* LEB128 of up to 128 bits (codec.read_amount) */
      unsigned c = (unsigned char)f->tmp.p[p++];
      if (shift > 126 || (shift == 126 && (c & 0x7f) > 3))
        BAIL(f); /* 2^128 and more: the Lua path */
      a |= (u128)(c & 0x7f) << shift;
      shift += 7;
      done = c < 0x80;
    }
    if (!done || p != f->tmp.n)
      BAIL(f);
    amount = a;
  }
  s = tab_put(&cur->spent, pk, n, &added);
  if (s == NULL)
    BAIL(f);
  return amount;
}



/* Reads an amount in the format's unit from the value on top (json.number text, or a quantity
 * string) into *out: 1, or 0 for anything the fast path leaves to Lua (which refuses or takes it
 * exactly). An integer >= 0 is taken as it is by the caller (Group:add does). */
static int read_amount(fast_t *f, lua_State *L, int idx, u128 *out) {
  int k = kind(f, L, idx);
  if (f->unit == U_QUANTITY) {
    size_t n;
    if (k != K_STR)
      return 0;
    const char *s = lua_tolstring(L, idx, &n);
    if (n < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
      return 0;
    u128 v = 0;
    for (size_t i = 2; i < n; i++) {
      int c = (unsigned char)s[i], d;
      if (c >= 'A' && c <= 'F')
        d = c - 'A' + 10;
      else if ((d = hexval(c)) < 0)
        return 0;
      if (v >> 124)
        return 0;
      v = v << 4 | (u128)d;
    }
    *out = v;
    return 1;
  }
  if (k != K_NUM)
    return 0;
  lua_getfield(L, idx, "text");
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  int ok = 0;
  if (f->unit == U_INTEGER) { /* an integer beyond 64 bits (a fraction or text: Lua refuses) */
    ok = s != NULL && u128_parse(s, n, out);
    lua_pop(L, 1);
    return ok;
  }
  if (s != NULL && n > 0) {
    size_t i = 0;
    u128 v = 0;
    int digits = 0;
    ok = 1;
    if (!(s[0] >= '0' && s[0] <= '9') || (s[0] == '0' && n > 1 && s[1] >= '0' && s[1] <= '9'))
      ok = 0;
    for (; ok && i < n && s[i] >= '0' && s[i] <= '9'; i++) {
      if (v > (U128_MAX - 9) / 10)
        ok = 0;
      v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (ok && i < n) {
      if (s[i] != '.' || i + 1 == n)
        ok = 0;
      for (i++; ok && i < n; i++) {
        if (!(s[i] >= '0' && s[i] <= '9'))
          ok = 0;
        else if (digits < f->scale) {
          if (v > (U128_MAX - 9) / 10)
            ok = 0;
          v = v * 10 + (unsigned)(s[i] - '0');
          digits++;
        } else if (s[i] != '0')
          ok = 0; /* more decimals than the scale: refused by the Lua path */
      }
    }
    for (; ok && digits < f->scale; digits++) {
      if (v > U128_MAX / 10)
        ok = 0;
      v *= 10;
    }
    if (ok)
      *out = v;
  }
  lua_pop(L, 1);
  return ok;
}

/* The format's coinbase rule for transaction t (1-based) of the block; ins: its inputs (nil or
 * an array). */
static int coinbase(fast_t *f, lua_State *L, int ins, size_t nins, size_t t) {
  switch (f->coinbase) {
  case CB_FIRST_NO_INPUTS:
    return t == 1 && nins == 0;
  case CB_AURIUMCHAIN: {
    if (nins == 0)
      return 1;
    if (nins != 1)
      return 0;
    lua_rawgeti(L, ins, 1);
    int i = lua_gettop(L);
    if (kind(f, L, i) != K_OBJ)
      BAIL(f);
    int k = member(f, L, i, "tx_id");
    if (k == K_NIL) {
      lua_pop(L, 1);
      k = member(f, L, i, "prev_tx_id");
    }
    size_t n;
    const char *s = k == K_STR ? lua_tolstring(L, -1, &n) : NULL;
    int r = s != NULL && n == 1 && s[0] == '0';
    lua_pop(L, 2);
    return r;
  }
  case CB_BITCOIN_CORE: {
    if (t != 1 || nins != 1)
      return 0;
    lua_rawgeti(L, ins, 1);
    int i = lua_gettop(L);
    int k = kind(f, L, i);
    if (k != K_OBJ) {
      lua_pop(L, 1);
      if (k == K_STR || k == K_INT || k == K_NULL || k == K_TRUE || k == K_FALSE)
        return 0; /* type(ins[1]) ~= "table" */
      BAIL(f);
    }
    int r = member(f, L, i, "coinbase") != K_NIL;
    lua_pop(L, 2);
    return r;
  }
  }
  return 0;
}

/* bitcoin-core's unspendable(out, o, tx, t, block): an OP_RETURN or oversized scriptPubKey, or an
 * output of the genesis block's coinbase. */
static int unspendable(fast_t *f, lua_State *L, int out, size_t t, int block) {
  int k = member(f, L, out, "scriptPubKey");
  int s = lua_gettop(L), r = 0;
  if (k == K_OBJ) {
    size_t n;
    if (member(f, L, s, "hex") == K_STR) {
      const char *hex = lua_tolstring(L, -1, &n);
      if (n >= 2 && hex[0] == '6' && (hex[1] == 'a' || hex[1] == 'A'))
        r = 1;
      if (n > 2 * 10000)
        r = 1;
    }
    lua_pop(L, 1);
    if (!r && member(f, L, s, "type") == K_STR) {
      const char *ty = lua_tolstring(L, -1, &n);
      r = n == 8 && memcmp(ty, "nulldata", 8) == 0;
    }
    lua_pop(L, 1);
  } else if (k == K_ARR || k == K_NUM || k == K_OTHER) {
    BAIL(f); /* a table of another kind: s.hex goes through its metatable in Lua */
  }
  lua_pop(L, 1);
  if (r || t != 1)
    return r;
  /* genesis_coinbase */
  int hk = member(f, L, block, "index");
  if (hk == K_NIL) {
    lua_pop(L, 1);
    hk = member(f, L, block, "height");
  }
  int h0 = hk == K_INT && lua_tointeger(L, -1) == 0;
  lua_pop(L, 1);
  if (!h0)
    return 0;
  int none = member(f, L, block, "previousblockhash") == K_NIL;
  lua_pop(L, 1);
  none = none && member(f, L, block, "previous_hash") == K_NIL;
  lua_pop(L, 1);
  return none;
}

static void batch_put(fast_t *f, int cf, const char *k, size_t kn, const char *v, size_t vn) {
  if (A->batch_put(f->ov[f->cur].batch, f->cf[cf], k, kn, v, vn) != QUARRY_OK)
    BAIL(f);
}

static void put_be64(fast_t *f, buf_t *b, uint64_t v) {
  unsigned char c[8];
  for (int i = 0; i < 8; i++)
    c[i] = (unsigned char)(v >> (56 - 8 * i));
  put_bytes(f, b, c, 8);
}

static size_t array_len(fast_t *f, lua_State *L, int idx) {
  int k = kind(f, L, idx);
  if (k == K_NIL)
    return 0;
  if (k != K_ARR)
    BAIL(f);
  return lua_rawlen(L, idx);
}

/* Validates and stages the block at index 2 (Group:add's steps 1-6). */
__attribute__((noinline)) static void add_block(fast_t *f, lua_State *L) {
  const int block = 2;
  overlay_t *cur = &f->ov[f->cur];
  int added;
  if (!lua_checkstack(L, 40) || kind(f, L, block) != K_OBJ)
    BAIL(f);
  /* step 1: the height */
  if (member(f, L, block, "index") != K_INT)
    BAIL(f);
  int64_t h = lua_tointeger(L, -1);
  lua_pop(L, 1);
  int first = !f->has_tip;
  if (h < 0 || (!first && h != f->tip + 1))
    BAIL(f);
  /* step 2: the hash and the link */
  int bh = lua_gettop(L) + 1;
  if (member(f, L, block, "hash") != K_STR)
    BAIL(f);
  size_t hash_len;
  const char *hash = lua_tolstring(L, bh, &hash_len);
  int64_t d_unlinked = 0, d_empty = 0, d_dup = 0;
  int linked = 0;
  if (!first) {
    size_t pl;
    int pk = member(f, L, block, "previous_hash");
    const char *prev = pk == K_STR ? lua_tolstring(L, -1, &pl) : NULL;
    linked = prev != NULL && pl == f->tip_hash.n && memcmp(prev, f->tip_hash.p, pl) == 0;
    if (!linked) {
      if (f->relax_empty && (f->tip_hash.n == 0 || (prev != NULL && pl == 0)))
        d_unlinked = 1;
      else
        BAIL(f);
    }
    lua_pop(L, 1);
  }
  int indexed = 1;
  f->key.n = 0;
  if (hash_len == 0 && f->relax_empty) {
    d_empty = 1;
    indexed = 0;
  } else {
    put_skey(f, &f->key, hash, hash_len);
    if (hash_known(f, f->key.p, f->key.n)) {
      if (!f->relax_dup)
        BAIL(f);
      d_dup = 1;
      indexed = 0;
    }
  }
  size_t hk_len = indexed ? f->key.n : 0; /* the hash key is key[0..hk_len) */
  /* the transactions */
  int txs = lua_gettop(L) + 1;
  member(f, L, block, "transactions");
  size_t ntx = array_len(f, L, txs);
  if (ntx + 1 > f->txcap) {
    size_t cap = f->txcap ? f->txcap : 16;
    while (cap < ntx + 1)
      cap *= 2;
    txinfo_t *p = realloc(f->txi, cap * sizeof *p);
    if (p == NULL)
      BAIL(f);
    f->txi = p;
    f->txcap = cap;
  }
  if (!lua_checkstack(L, (int)ntx * 3 + 40))
    BAIL(f);
  f->nrefs = 0;
  u128 supply = f->supply, burnt_sum = 0;
  int64_t nutxos = f->nutxos, burnt_n = 0;
  for (size_t t = 1; t <= ntx; t++) {
    txinfo_t *ti = &f->txi[t - 1];
    lua_rawgeti(L, txs, (lua_Integer)t);
    int tx = lua_gettop(L);
    ti->tx_idx = tx;
    /* step 3: the id */
    if (kind(f, L, tx) != K_OBJ || member(f, L, tx, "id") != K_STR)
      BAIL(f);
    size_t idn;
    const char *id = lua_tolstring(L, -1, &idn);
    ti->idk_off = f->key.n;
    put_skey(f, &f->key, id, idn);
    ti->idk_len = f->key.n - ti->idk_off;
    int64_t loc[3];
    if (find_tx(f, id, idn, f->key.p + ti->idk_off, ti->idk_len, loc))
      BAIL(f);
    int ins = lua_gettop(L) + 1;
    member(f, L, tx, "inputs");
    size_t nins = array_len(f, L, ins);
    int outs = lua_gettop(L) + 1;
    member(f, L, tx, "outputs");
    size_t nouts = array_len(f, L, outs);
    int mints = coinbase(f, L, ins, nins, t);
    u128 sum_in = 0;
    ti->has_refs = !mints || nins == 0;
    ti->ref_off = f->nrefs;
    ti->nref = 0;
    if (ti->has_refs) {
      /* step 4: the inputs */
      if (f->nrefs + nins > f->refcap) {
        size_t cap = f->refcap ? f->refcap : 64;
        while (cap < f->nrefs + nins)
          cap *= 2;
        ref_t *p = realloc(f->refs, cap * sizeof *p);
        if (p == NULL)
          BAIL(f);
        f->refs = p;
        f->refcap = cap;
      }
      for (size_t i = 1; i <= nins; i++) {
        lua_rawgeti(L, ins, (lua_Integer)i);
        int inp = lua_gettop(L);
        if (kind(f, L, inp) != K_OBJ || member(f, L, inp, "tx_id") != K_STR)
          BAIL(f);
        size_t rn;
        const char *rid = lua_tolstring(L, -1, &rn);
        if (member(f, L, inp, "output_index") != K_INT)
          BAIL(f);
        int64_t n = lua_tointeger(L, -1);
        if (n < 0)
          BAIL(f);
        size_t mark = f->key.n;
        put_skey(f, &f->key, rid, rn);
        if (!find_tx(f, rid, rn, f->key.p + mark, f->key.n - mark, loc) || n >= loc[2])
          BAIL(f);
        f->key.n = mark;
        put_ov(f, &f->key, (uint64_t)loc[0]);
        put_ov(f, &f->key, (uint64_t)loc[1]);
        put_ov(f, &f->key, (uint64_t)n);
        u128 amount = spend(f, f->key.p + mark, f->key.n - mark);
        f->key.n = mark;
        ref_t *r = &f->refs[f->nrefs++];
        r->h = loc[0], r->t = loc[1], r->n = n, r->amount = amount;
        ti->nref++;
        add128(f, &sum_in, amount);
        lua_settop(L, inp - 1);
      }
    }
    /* step 5: the outputs */
    u128 sum_out = 0, tx_burnt = 0;
    int64_t tx_nburnt = 0;
    if (nouts > f->outcap) {
      size_t cap = f->outcap ? f->outcap : 64;
      while (cap < nouts)
        cap *= 2;
      out_t *p = realloc(f->outs, cap * sizeof *p);
      if (p == NULL)
        BAIL(f);
      f->outs = p;
      f->outcap = cap;
    }
    for (size_t o = 1; o <= nouts; o++) {
      lua_rawgeti(L, outs, (lua_Integer)o);
      int out = lua_gettop(L);
      if (kind(f, L, out) != K_OBJ)
        BAIL(f);
      member(f, L, out, "amount");
      u128 a;
      if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 0)
        a = (u128)lua_tointeger(L, -1);
      else if (!read_amount(f, L, lua_gettop(L), &a))
        BAIL(f);
      add128(f, &sum_out, a);
      int live = f->unspendable == US_NONE || !unspendable(f, L, out, t, block);
      f->outs[o - 1].a = a;
      f->outs[o - 1].live = live;
      if (!live) {
        add128(f, &tx_burnt, a);
        tx_nburnt++;
      }
      lua_settop(L, out - 1);
    }
    if ((!mints && sum_out > sum_in) || supply < sum_in || sum_out < tx_burnt)
      BAIL(f);
    /* supply - sum_in + sum_out - burnt (never below zero: the inputs are in the supply) */
    u128 s = supply - sum_in;
    add128(f, &s, sum_out - tx_burnt);
    supply = s;
    nutxos += (int64_t)nouts - tx_nburnt - (int64_t)ti->nref;
    burnt_n += tx_nburnt;
    add128(f, &burnt_sum, tx_burnt);
    ti->nout = (int64_t)nouts;
    /* the transaction is now known to the next ones (txloc), its live outputs created */
    slot_t *sl = tab_put(&cur->txs, id, idn, &added);
    if (sl == NULL)
      BAIL(f);
    sl->a = h, sl->b = (int64_t)t - 1, sl->c = (int64_t)nouts;
    for (size_t o = 0; o < nouts; o++) {
      u128 a = f->outs[o].a;
      int live = f->outs[o].live;
      if (!live)
        continue;
      size_t mark = f->key.n;
      put_ov(f, &f->key, (uint64_t)h);
      put_ov(f, &f->key, (uint64_t)t - 1);
      put_ov(f, &f->key, (uint64_t)o);
      sl = tab_put(&cur->created, f->key.p + mark, f->key.n - mark, &added);
      if (sl == NULL)
        BAIL(f);
      sl->a = (int64_t)(uint64_t)a, sl->c = (int64_t)(uint64_t)(a >> 64), sl->b = 0;
      f->key.n = mark;
    }
    lua_settop(L, tx); /* keeps the transaction for the encoder */
  }
  /* step 6: the block value, its index entries and its undo record */
  int derived_prev = !first && linked;
  /* a relaxed link is stored: linked is false then; a first block keeps its value */
  if (!first && !linked)
    derived_prev = 0;
  encode_block(f, L, block, txs, ntx, h, hash, hash_len, derived_prev, &f->val);
  f->undo.n = 0;
  put_uv(f, &f->undo, f->nrefs);
  for (size_t i = 0; i < f->nrefs; i++) {
    ref_t *r = &f->refs[i];
    put_uv(f, &f->undo, (uint64_t)(h - r->h));
    put_uv(f, &f->undo, (uint64_t)r->t);
    put_uv(f, &f->undo, (uint64_t)r->n);
    put_uv128(f, &f->undo, r->amount);
  }
  char hkey[8];
  for (int i = 0; i < 8; i++)
    hkey[i] = (char)((uint64_t)h >> (56 - 8 * i));
  batch_put(f, F_BLOCKS, hkey, 8, f->val.p, f->val.n);
  if (hk_len) {
    size_t mark = f->key.n;
    put_uv(f, &f->key, (uint64_t)h);
    uint64_t sum = fnv_words(f->val.p, f->val.n);
    for (int i = 0; i < 8; i++)
      put_byte(f, &f->key, (unsigned)(sum >> (8 * i)) & 0xff);
    batch_put(f, F_HASHES, f->key.p, hk_len, f->key.p + mark, f->key.n - mark);
    bloom_add(f, f->key.p, hk_len);
    slot_t *sl = tab_put(&cur->hashes, f->key.p, hk_len, &added);
    if (sl == NULL)
      BAIL(f);
    sl->a = h;
    f->key.n = mark;
  }
  for (size_t t = 0; t < ntx; t++) {
    txinfo_t *ti = &f->txi[t];
    size_t mark = f->key.n;
    put_uv(f, &f->key, (uint64_t)h);
    put_uv(f, &f->key, (uint64_t)t);
    put_uv(f, &f->key, (uint64_t)ti->nout);
    batch_put(f, F_TXS, f->key.p + ti->idk_off, ti->idk_len, f->key.p + mark, f->key.n - mark);
    bloom_add(f, f->key.p + ti->idk_off, ti->idk_len);
    f->key.n = mark;
  }
  batch_put(f, F_UNDO, hkey, 8, f->undo.p, f->undo.n);
  if (f->val.cap > (8u << 20)) { /* a huge block: its copy is in the batch, the scratch goes */
    free(f->val.p);
    memset(&f->val, 0, sizeof f->val);
  }
  /* the group's state */
  if (first) {
    f->base = h;
    f->have_base = 1;
  }
  f->tip = h;
  f->has_tip = 1;
  f->tip_hash.n = 0;
  put_bytes(f, &f->tip_hash, hash, hash_len);
  f->supply = supply;
  f->nutxos = nutxos;
  f->ntxs += (int64_t)ntx;
  f->relaxed[0] += d_empty;
  f->relaxed[1] += d_dup;
  f->relaxed[2] += d_unlinked;
  f->relaxed[3] += burnt_n;
  add128(f, &f->burnt, burnt_sum);
  f->n++;
  f->bytes += (int64_t)(f->val.n + f->undo.n + 48 * (ntx + 1));
}

/* ---- the writer thread ---------------------------------------------------------------------- */

static void *writer_main(void *arg) {
  fast_t *f = arg;
  overlay_t *o = &f->ov[f->pend];
  quarry_write_options wo = QUARRY_WRITE_OPTIONS_INIT;
  wo.sync = f->sync;
  f->wrc = A->db_write(f->db, o->batch, &wo);
  if (f->wrc != QUARRY_OK)
    snprintf(f->werr, sizeof f->werr, "%s", A->last_error());
  return NULL;
}

/* Joins the writer; returns its result (0, or a QUARRY_E* code with f->werr). The written group's
 * overlay joins the ring (the oldest leaves it). */
static int join_writer(fast_t *f) {
  if (!f->writing)
    return 0;
  if (f->threaded)
    pthread_join(f->writer, NULL);
  f->writing = 0;
  overlay_t *o = &f->ov[f->pend];
  A->batch_clear(o->batch);
  if (f->wrc != QUARRY_OK) {
    overlay_clear(o);
  } else {
    if (f->nring == RING)
      overlay_clear(&f->ov[f->ring[--f->nring]]);
    memmove(f->ring + 1, f->ring, (size_t)f->nring * sizeof f->ring[0]);
    f->ring[0] = f->pend;
    f->nring++;
  }
  f->pend = -1;
  return f->wrc;
}

/* Drops the ring (after a void group or a group through Lua, its marks may be wrong). */
static void ring_clear(fast_t *f) {
  for (int i = 0; i < f->nring; i++)
    overlay_clear(&f->ov[f->ring[i]]);
  f->nring = 0;
}

/* An overlay neither current, pending nor in the ring. */
static int free_overlay(fast_t *f) {
  for (int i = 0; i < NOV; i++) {
    int used = i == f->cur || i == f->pend;
    for (int j = 0; j < f->nring && !used; j++)
      used = f->ring[j] == i;
    if (!used)
      return i;
  }
  return -1; /* not reached: NOV = RING + 2 */
}

static void raise_write(lua_State *L, fast_t *f, int rc) {
  f->wrc = 0;
  ql_raisef(L, rc, OP, "quarry.chain.fast: writing a group failed: %s", f->werr);
}

static void wait_writer(lua_State *L, fast_t *f) {
  int rc = join_writer(f);
  if (rc != QUARRY_OK)
    raise_write(L, f, rc);
}

static void fast_release(fast_t *f) {
  join_writer(f);
  for (int i = 0; i < NOV; i++) {
    overlay_t *o = &f->ov[i];
    tab_free(&o->txs);
    tab_free(&o->hashes);
    tab_free(&o->created);
    tab_free(&o->spent);
    if (o->batch)
      A->batch_close(o->batch);
    o->batch = NULL;
  }
  free(f->val.p);
  free(f->key.p);
  free(f->undo.p);
  free(f->tmp.p);
  free(f->tip_hash.p);
  free(f->refs);
  free(f->txi);
  free(f->outs);
  free(f->bloom);
  f->bloom = NULL;
  free(f->dump_format);
  memset(&f->val, 0, sizeof f->val);
  f->refs = NULL;
  f->txi = NULL;
  f->outs = NULL;
  f->dump_format = NULL;
  f->db = NULL;
}

/* ---- the Lua functions ---------------------------------------------------------------------- */

static const char *opt_string(lua_State *L, int t, const char *name, const char *def) {
  lua_getfield(L, t, name);
  const char *s = lua_isnil(L, -1) ? def : luaL_checkstring(L, -1);
  lua_pop(L, 1);
  return s;
}

static int opt_bool(lua_State *L, int t, const char *name) {
  lua_getfield(L, t, name);
  int b = lua_toboolean(L, -1);
  lua_pop(L, 1);
  return b;
}

/* fast.new(db, cfs, rules) -> m: rules = { coinbase = "first-without-inputs" | "auriumchain" |
 * "bitcoin-core", unspendable = nil | "bitcoin-core", unit = "integer" | "decimal" | "quantity",
 * scale, empty_hash, duplicate_hash, sync, dump_format, object_mt, array_mt, number_mt } */
static int l_new(lua_State *L) {
  ql_db *d = luaL_checkudata(L, 1, QL_DB);
  if (A == NULL) {
    lua_getfield(L, LUA_REGISTRYINDEX, QL_CORE_API);
    const ql_core_api *api = lua_touserdata(L, -1);
    lua_pop(L, 1);
    if (api == NULL || api->version != QL_CORE_API_VERSION)
      return ql_raisef(L, QUARRY_EINVAL, OP, "quarry.chain.fast.new: quarry.core is not loaded "
                                             "(or is another version)");
    A = api;
  }
  if (d->db == NULL)
    return ql_raisef(L, QUARRY_ECLOSED, OP, "quarry.chain.fast.new: the database is closed");
  luaL_checktype(L, 2, LUA_TTABLE);
  luaL_checktype(L, 3, LUA_TTABLE);
  /* the state holds 128-bit integers: malloc's 16-byte alignment, not a userdata's 8 */
  fast_t **box = lua_newuserdatauv(L, sizeof *box, 2);
  *box = NULL;
  fast_t *f = calloc(1, sizeof *f);
  if (f == NULL)
    return ql_raisef(L, QUARRY_ENOMEM, OP, "quarry.chain.fast.new: out of memory");
  *box = f;
  luaL_setmetatable(L, FAST_MT);
  lua_pushvalue(L, 1);
  lua_setiuservalue(L, -2, 1); /* the db outlives m */
  f->db = d->db;
  for (int i = 0; i < F_COUNT; i++) {
    lua_getfield(L, 2, FAMILY[i]);
    ql_cf *c = luaL_checkudata(L, -1, QL_CF);
    f->cf[i] = c->cf;
    lua_pop(L, 1);
  }
  const char *cb = opt_string(L, 3, "coinbase", "first-without-inputs");
  f->coinbase = !strcmp(cb, "auriumchain")    ? CB_AURIUMCHAIN
                : !strcmp(cb, "bitcoin-core") ? CB_BITCOIN_CORE
                : !strcmp(cb, "first-without-inputs")
                    ? CB_FIRST_NO_INPUTS
                    : -1;
  const char *us = opt_string(L, 3, "unspendable", "none");
  f->unspendable = !strcmp(us, "bitcoin-core") ? US_BITCOIN_CORE : !strcmp(us, "none") ? US_NONE : -1;
  const char *unit = opt_string(L, 3, "unit", "integer");
  f->unit = !strcmp(unit, "decimal") ? U_DECIMAL : !strcmp(unit, "quantity") ? U_QUANTITY
            : !strcmp(unit, "integer") ? U_INTEGER : -1;
  if (f->coinbase < 0 || f->unspendable < 0 || f->unit < 0)
    return ql_raisef(L, QUARRY_EINVAL, OP,
                     "quarry.chain.fast.new: unknown rule (coinbase %s, unspendable %s, unit %s)",
                     cb, us, unit);
  lua_getfield(L, 3, "scale");
  f->scale = (int)luaL_optinteger(L, -1, 0);
  lua_pop(L, 1);
  if (f->scale < 0 || f->scale > 18)
    return ql_raisef(L, QUARRY_EINVAL, OP, "quarry.chain.fast.new: scale %d is not in 0..18",
                     f->scale);
  f->relax_empty = opt_bool(L, 3, "empty_hash");
  f->relax_dup = opt_bool(L, 3, "duplicate_hash");
  f->sync = opt_bool(L, 3, "sync");
  f->dump_format = strdup(opt_string(L, 3, "dump_format", "quarry"));
  const char *mts[3] = {"object_mt", "array_mt", "number_mt"};
  const void **dst[3] = {&f->mt_obj, &f->mt_arr, &f->mt_num};
  lua_createtable(L, 3, 0);
  for (int i = 0; i < 3; i++) {
    lua_getfield(L, 3, mts[i]);
    luaL_checktype(L, -1, LUA_TTABLE);
    *dst[i] = lua_topointer(L, -1);
    lua_rawseti(L, -2, i + 1);
  }
  lua_setiuservalue(L, -2, 2); /* keeps the metatables alive */
  f->pend = -1;
  for (int i = 0; i < NOV; i++)
    if (A->batch_new(f->db, &f->ov[i].batch) != QUARRY_OK)
      return ql_raisef(L, QUARRY_ENOMEM, OP, "quarry.chain.fast: %s", A->last_error());
  if (f->dump_format == NULL)
    return ql_raisef(L, QUARRY_ENOMEM, OP, "out of memory");
  return 1;
}

static int64_t field_int(lua_State *L, int t, const char *name, int *present) {
  lua_getfield(L, t, name);
  int isnum = 0;
  int64_t v = (int64_t)lua_tointegerx(L, -1, &isnum);
  if (present)
    *present = isnum;
  else if (!isnum)
    ql_raisef(L, QUARRY_EINVAL, OP, "quarry.chain.fast: begin: %s must be an integer", name);
  lua_pop(L, 1);
  return v;
}

/* An amount of the state: a Lua integer >= 0, or the decimal text of a quarry.u256 (tostring). */
static int field_amount(lua_State *L, int t, const char *name, u128 *out) {
  lua_getfield(L, t, name);
  int ok = 0;
  if (lua_isinteger(L, -1)) {
    ok = lua_tointeger(L, -1) >= 0;
    *out = (u128)lua_tointeger(L, -1);
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    ok = u128_parse(s, n, out);
  }
  lua_pop(L, 1);
  return ok;
}

/* Pushes an amount: a Lua integer below 2^63, else its decimal text (quarry.u256.new reads it). */
static void push_amount(lua_State *L, u128 v) {
  if (v <= I63) {
    lua_pushinteger(L, (lua_Integer)v);
  } else {
    char buf[48];
    size_t n = u128_text(v, buf);
    lua_pushlstring(L, buf, n);
  }
}

/* m:begin(state): starts a group over the store's state { tip, tip_hash, base, supply, ntxs,
 * nutxos, relaxed = { five integers }, empty }. Returns false when the state is outside the fast
 * path (a supply of 2^128 or more, counts that are not integers): the group then goes through
 * Lua. Amounts of 2^63 and more come as their decimal text. */
static int l_begin(lua_State *L) {
  fast_t *f = checkfast(L, 1);
  luaL_checktype(L, 2, LUA_TTABLE);
  wait_writer(L, f);
  overlay_clear(&f->ov[f->cur]);
  A->batch_clear(f->ov[f->cur].batch);
  f->open = 0;
  f->n = f->bytes = 0;
  int has;
  f->tip = field_int(L, 2, "tip", &f->has_tip);
  f->base = field_int(L, 2, "base", &f->have_base);
  f->tip_hash.n = 0;
  lua_getfield(L, 2, "tip_hash");
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    if (buf_grow(&f->tip_hash, n))
      return ql_raisef(L, QUARRY_ENOMEM, OP, "out of memory");
    memcpy(f->tip_hash.p, s, n);
    f->tip_hash.n = n;
  } else if (f->has_tip) {
    lua_pushboolean(L, 0); /* a tip without a string hash: not the chain store's */
    return 1;
  }
  lua_pop(L, 1);
  if (!field_amount(L, 2, "supply", &f->supply)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  f->ntxs = field_int(L, 2, "ntxs", NULL);
  f->nutxos = field_int(L, 2, "nutxos", NULL);
  static const char *const names[5] = {"empty_hash", "duplicate_hash", "unlinked", "unspendable",
                                       "unspendable_amount"};
  lua_getfield(L, 2, "relaxed");
  luaL_checktype(L, -1, LUA_TTABLE);
  for (int i = 0; i < 4; i++) {
    f->relaxed[i] = field_int(L, lua_gettop(L), names[i], &has);
    if (!has) {
      lua_pushboolean(L, 0);
      return 1;
    }
  }
  if (!field_amount(L, lua_gettop(L), names[4], &f->burnt)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  lua_pop(L, 1);
  f->store_empty = opt_bool(L, 2, "empty");
  /* the filter knows every key only when this run's C groups wrote everything the store holds:
   * the store empty at the first group; any later begin (after a group through Lua) drops it */
  if (f->store_empty && f->bloom == NULL && !f->begun) {
    f->bloom = calloc(BLOOM_BITS / 64, sizeof *f->bloom);
    f->filter_ok = f->bloom != NULL;
  } else {
    f->filter_ok = 0;
  }
  f->begun = 1;
  f->open = 1;
  lua_pushboolean(L, 1);
  return 1;
}

/* m:add(block) -> true (validated and staged), or false: the fast path does not take it (a
 * refusal, or a value it does not cover); the group is then void (m:discard()) and the caller
 * replays it through quarry.chain's Group:add. */
static int l_add(lua_State *L) {
  fast_t *f = checkfast(L, 1);
  if (!f->open)
    return ql_raisef(L, QUARRY_EINVAL, OP, "quarry.chain.fast: add: no group (m:begin)");
  lua_settop(L, 2);
  /* the state add_block changes only at its end, after every check */
  if (setjmp(f->bail)) {
    lua_settop(L, 2);
    f->open = 0;
    lua_pushboolean(L, 0);
    return 1;
  }
  add_block(f, L);
  lua_settop(L, 2);
  lua_pushboolean(L, 1);
  return 1;
}

/* m:count(), m:size(): blocks in the group, and Group:size()'s estimate of its bytes */
static int l_count(lua_State *L) {
  lua_pushinteger(L, checkfast(L, 1)->n);
  return 1;
}
static int l_size(lua_State *L) {
  lua_pushinteger(L, checkfast(L, 1)->bytes);
  return 1;
}

/* m:state() -> { tip, tip_hash, base, supply, ntxs, nutxos, relaxed = {...} } after the blocks
 * added so far */
static int l_state(lua_State *L) {
  fast_t *f = checkfast(L, 1);
  lua_createtable(L, 0, 8);
  if (f->has_tip) {
    lua_pushinteger(L, f->tip);
    lua_setfield(L, -2, "tip");
    lua_pushlstring(L, f->tip_hash.p ? f->tip_hash.p : "", f->tip_hash.n);
    lua_setfield(L, -2, "tip_hash");
  }
  if (f->have_base) {
    lua_pushinteger(L, f->base);
    lua_setfield(L, -2, "base");
  }
  push_amount(L, f->supply);
  lua_setfield(L, -2, "supply");
  lua_pushinteger(L, f->ntxs);
  lua_setfield(L, -2, "ntxs");
  lua_pushinteger(L, f->nutxos);
  lua_setfield(L, -2, "nutxos");
  static const char *const names[5] = {"empty_hash", "duplicate_hash", "unlinked", "unspendable",
                                       "unspendable_amount"};
  lua_createtable(L, 0, 5);
  for (int i = 0; i < 4; i++) {
    lua_pushinteger(L, f->relaxed[i]);
    lua_setfield(L, -2, names[i]);
  }
  push_amount(L, f->burnt);
  lua_setfield(L, -2, names[4]);
  lua_setfield(L, -2, "relaxed");
  return 1;
}

static void meta_put(lua_State *L, fast_t *f, const char *k, const char *v, size_t vn) {
  if (A->batch_put(f->ov[f->cur].batch, f->cf[F_META], k, strlen(k), v, vn) != QUARRY_OK)
    ql_raisef(L, QUARRY_EIO, OP, "quarry.chain.fast: %s", A->last_error());
}

/* m:commit(extra [, wait]): Group:commit's writes (the UTXO changes, the meta entries, the extra
 * meta entries: key -> string, or false to delete), handed to the writer thread; the next group
 * starts at once. wait: returns once the batch is written (raises its error). A write error of
 * an earlier group is raised by the next commit, begin or wait. */
static int l_commit(lua_State *L) {
  fast_t *f = checkfast(L, 1);
  if (!f->open)
    return ql_raisef(L, QUARRY_EINVAL, OP, "quarry.chain.fast: commit: no group");
  int wait = lua_toboolean(L, 3);
  overlay_t *o = &f->ov[f->cur];
  quarry_batch *b = o->batch;
  for (size_t i = 0; i < o->created.cap; i++) {
    slot_t *s = &o->created.s[i];
    if (s->hash == 0 || s->b)
      continue;
    char v[20];
    size_t n = 0;
    u128 a = (u128)(uint64_t)s->a | (u128)(uint64_t)s->c << 64;
    while (a >= 0x80) {
      v[n++] = (char)((unsigned)(a & 0x7f) | 0x80);
      a >>= 7;
    }
    v[n++] = (char)a;
    if (A->batch_put(b, f->cf[F_UTXO], o->created.keys.p + s->koff, s->klen, v, n))
      return ql_raisef(L, QUARRY_EIO, OP, "quarry.chain.fast: %s", A->last_error());
  }
  for (size_t i = 0; i < o->spent.cap; i++) {
    slot_t *s = &o->spent.s[i];
    if (s->hash != 0 && A->batch_delete(b, f->cf[F_UTXO], o->spent.keys.p + s->koff, s->klen))
      return ql_raisef(L, QUARRY_EIO, OP, "quarry.chain.fast: %s", A->last_error());
  }
  if (f->n > 0) {
    char tmp[256];
    size_t n;
    buf_t *t = &f->tmp;
    if (setjmp(f->bail))
      return ql_raisef(L, QUARRY_ENOMEM, OP, "out of memory");
    if (f->store_empty) {
      meta_put(L, f, "format", "quarry.chain/1", 14);
      t->n = 0;
      put_uv(f, t, (uint64_t)f->base);
      meta_put(L, f, "base", t->p, t->n);
      meta_put(L, f, "dump_format", f->dump_format, strlen(f->dump_format));
    }
    t->n = 0;
    put_be64(f, t, (uint64_t)f->tip);
    meta_put(L, f, "tip", t->p, t->n);
    t->n = 0;
    put_uv128(f, t, f->supply);
    meta_put(L, f, "supply", t->p, t->n);
    t->n = 0;
    put_uv(f, t, (uint64_t)f->ntxs);
    meta_put(L, f, "txs", t->p, t->n);
    t->n = 0;
    put_uv(f, t, (uint64_t)f->nutxos);
    meta_put(L, f, "utxos", t->p, t->n);
    int zero = f->burnt == 0;
    for (int i = 0; i < 4; i++)
      zero = zero && f->relaxed[i] == 0;
    if (!zero) { /* encode_counts: quarry.json's compact text of the object, in this order; an
                    amount of 2^63 and more is a quarry.u256 there, written as its text */
      char amt[48];
      u128_text(f->burnt, amt);
      const char *q = f->burnt > I63 ? "\"" : "";
      n = (size_t)snprintf(tmp, sizeof tmp,
                           "{\"empty_hash\":%lld,\"duplicate_hash\":%lld,\"unlinked\":%lld,"
                           "\"unspendable\":%lld,\"unspendable_amount\":%s%s%s}",
                           (long long)f->relaxed[0], (long long)f->relaxed[1],
                           (long long)f->relaxed[2], (long long)f->relaxed[3], q, amt, q);
      meta_put(L, f, "relaxed", tmp, n);
    }
  }
  if (lua_istable(L, 2)) {
    lua_pushnil(L);
    while (lua_next(L, 2)) {
      size_t kn, vn;
      const char *k = luaL_checklstring(L, -2, &kn);
      int rc;
      if (lua_type(L, -1) == LUA_TBOOLEAN && !lua_toboolean(L, -1))
        rc = A->batch_delete(b, f->cf[F_META], k, kn);
      else {
        const char *v = luaL_checklstring(L, -1, &vn);
        rc = A->batch_put(b, f->cf[F_META], k, kn, v, vn);
      }
      if (rc != QUARRY_OK)
        return ql_raisef(L, rc, OP, "quarry.chain.fast: %s", A->last_error());
      lua_pop(L, 1);
    }
  }
  wait_writer(L, f); /* the group before: written, its overlay in the ring */
  if (f->n > 0)
    f->store_empty = 0;
  f->n = f->bytes = 0;
  f->pend = f->cur; /* the committed group is the pending one */
  f->cur = free_overlay(f);
  overlay_clear(&f->ov[f->cur]);
  A->batch_clear(f->ov[f->cur].batch);
  /* the writer thread blocks every signal: SIGINT, SIGTERM go to the caller's thread, as
   * before (quarry.sys's handlers, the command's exit codes 130 and 143) */
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &old);
  f->threaded = pthread_create(&f->writer, NULL, writer_main, f) == 0;
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (!f->threaded)
    writer_main(f); /* no thread: write here */
  f->writing = 1; /* joined by the next commit, begin, discard, wait or close */
  if (wait)
    wait_writer(L, f);
  return 0;
}

/* m:discard(): drops the group (nothing of it is written); waits for the group being written. */
static int l_discard(lua_State *L) {
  fast_t *f = checkfast(L, 1);
  f->open = 0;
  overlay_clear(&f->ov[f->cur]);
  A->batch_clear(f->ov[f->cur].batch);
  f->n = f->bytes = 0;
  int rc = join_writer(f);
  ring_clear(f); /* the void group may have marked outputs of the ring spent */
  if (rc != QUARRY_OK)
    raise_write(L, f, rc);
  return 0;
}

/* m:wait(): returns once the last committed group is written; raises its write error. */
static int l_wait(lua_State *L) {
  wait_writer(L, checkfast(L, 1));
  return 0;
}

/* m:close(): waits for the writer and frees everything (idempotent). Raises a pending write
 * error. */
static int l_close(lua_State *L) {
  fast_t *f = *(fast_t **)luaL_checkudata(L, 1, FAST_MT);
  if (f == NULL || f->db == NULL)
    return 0;
  int rc = join_writer(f);
  fast_release(f);
  if (rc != QUARRY_OK)
    raise_write(L, f, rc);
  return 0;
}

static int l_gc(lua_State *L) {
  fast_t **box = luaL_checkudata(L, 1, FAST_MT);
  if (*box != NULL) {
    if ((*box)->db != NULL)
      fast_release(*box);
    free(*box);
    *box = NULL;
  }
  return 0;
}

static const luaL_Reg methods[] = {{"begin", l_begin},   {"add", l_add},         {"count", l_count},
                                   {"size", l_size},     {"state", l_state},     {"commit", l_commit},
                                   {"discard", l_discard}, {"wait", l_wait},     {"close", l_close},
                                   {NULL, NULL}};
static const luaL_Reg meta[] = {{"__gc", l_gc}, {"__close", l_gc}, {NULL, NULL}};

QL_EXPORT int luaopen_quarry_chain_fast(lua_State *L);

QL_EXPORT int luaopen_quarry_chain_fast(lua_State *L) {
  dict_init();
  for (int c = 0; c < 256; c++)
    HEX[c] = (signed char)(c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1);
  ql_error_open(L);
  ql_newclass(L, FAST_MT, methods, meta);
  lua_newtable(L);
  lua_pushcfunction(L, l_new);
  lua_setfield(L, -2, "new");
  lua_pushliteral(L, "first-without-inputs auriumchain bitcoin-core");
  lua_setfield(L, -2, "COINBASE_RULES");
  lua_pushliteral(L, "bitcoin-core");
  lua_setfield(L, -2, "UNSPENDABLE_RULES");
  return 1;
}

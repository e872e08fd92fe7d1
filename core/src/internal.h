/* internal.h: the private structures shared by the core's source files.
 * Nothing here is part of the public interface; only the core sources (core/src) include it. */
#ifndef QUARRY_INTERNAL_H
#define QUARRY_INTERNAL_H

#define QUARRY_BUILDING 1
#include "quarry.h"

#include <pthread.h>
#include <rocksdb/c.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* ---- status.c: errors ---------------------------------------------------------------------- */
/* Maps a RocksDB error string ("Corruption: ...", "IO error: No space left ...") to a code, stores
 * RocksDB's message as the thread's last error, frees err (rocksdb_free) and returns the code.
 * err may be NULL (then returns 0). The message does not repeat the operation: callers know it
 * (the Lua binding reports it in the error's `op` field). */
int q_status_from_rocksdb(char *err);
/* The one place RocksDB's text is mapped: the code for a RocksDB status string (0 for NULL). */
int q_status_code(const char *msg);
/* Records a formatted last-error message and returns code. */
int q_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- options.c: options --------------------------------------------------------------------- */
enum { Q_COMP_NONE = 0, Q_COMP_LZ4 = 1, Q_COMP_ZSTD = 2 };
enum { Q_MODE_READ_WRITE = 0, Q_MODE_READ_ONLY = 1, Q_MODE_SECONDARY = 2 };

struct quarry_options {
  char preset[16];
  /* tuning */
  int64_t write_buffer_mb, block_cache_mb, max_open_files, bloom_bits, block_size_kb;
  int64_t max_background_jobs, readahead_mb, level0_file_num_compaction_trigger;
  int64_t level0_slowdown_writes_trigger, level0_stop_writes_trigger, target_file_size_mb;
  int64_t max_bytes_for_level_base_mb;
  int compression;            /* Q_COMP_*: every level but the bottommost */
  int bottommost_compression; /* Q_COMP_* */
  int wal, sync;
  /* non-tuning */
  int create_if_missing;
  int mode;                   /* Q_MODE_* */
  int metrics, statistics;    /* metrics.c: record counters; RocksDB statistics */
  /* server backends (backend_postgresql.c) */
  int64_t connect_timeout, statement_timeout_ms, pool_size;
  char *secondary_path;       /* owned */
  char **cfs;                 /* owned, ncfs entries */
  size_t ncfs;
};

/* Builds RocksDB options (and the block cache, owned by the caller) from quarry options. */
rocksdb_options_t *q_rocksdb_options(const quarry_options *o, rocksdb_cache_t **cache_out);
int q_options_copy(const quarry_options *src, quarry_options **out);
/* "read_write" | "read_only" | "secondary" (static). */
const char *q_mode_name(int mode);

/* ---- manifest.c: the open-time MANIFEST check (docs/design.md#f13) ---------------------------
 * Before an open of path with the families names (n): table files in the directory that the
 * MANIFEST does not list, holding keys the database does not have and that no WAL holds, mean
 * MANIFEST records were lost: QUARRY_ECORRUPTION naming them. 0 otherwise (also when another
 * process holds the LOCK, or when RocksDB cannot open it: its open reports that). */
int q_manifest_check(const char *path, const rocksdb_options_t *ropts, char **names, size_t n);

/* ---- children ------------------------------------------------------------------------------ */
typedef enum { Q_CHILD_ITER = 1, Q_CHILD_SNAPSHOT = 2, Q_CHILD_BATCH = 3 } q_child_kind;

typedef struct q_child {
  struct q_child *prev, *next;
  q_child_kind kind;
  quarry_db *db; /* NULL once the child or its db is closed */
  const struct q_backend *be; /* the backend of its db (backend.h), set by q_child_link; kept
                                 after close so that the child's own close dispatches */
} q_child;

/* Links a child in db's list and counts it (takes db->lock); sets c->db = db. */
void q_child_link(quarry_db *db, q_child *c);
/* Unlinks and uncounts a child; db->lock must be held. Sets c->db = NULL. */
void q_child_unlink_locked(q_child *c);

/* Releases the RocksDB resources of a child and unlinks it (called with db->lock held, by
 * db_close or by the child's own close). Sets c->db = NULL. Defined in iter.c / snapshot.c /
 * batch.c. A child's close does: if (c->db) { lock; release; unlock; } free. Closing a child and
 * its db concurrently from two threads is not supported (one must finish first). */
void q_iter_release(quarry_iter *it);
void q_snapshot_release(quarry_snapshot *s);
void q_batch_release(quarry_batch *b);

/* ---- metrics.c: recording (the hot path is inline here) ------------------------------------
 * Each engine has Q_STRIPES copies of its counters and histograms, each on its own cache lines;
 * a thread always records into the same stripe (assigned round-robin at its first record), so
 * threads rarely share a line. Additions are relaxed atomics: a reader sums the stripes. */
#define Q_STRIPES 8
enum {
  Q_C_MULTI_GET_KEYS, Q_C_DELETES, Q_C_DELETE_RANGES, Q_C_KEYS_READ, Q_C_READ_BYTES,
  Q_C_KEYS_WRITTEN, Q_C_WRITTEN_BYTES, Q_C_ITER_STEPS, Q_C_WAL_SYNCED,
  Q_C_ROUND_TRIPS, Q_C_RETRIES, /* server backends only (backend_postgresql.c) */
  Q_C_COUNT
};
#define Q_ERROR_CODES 16 /* QUARRY_E* codes -1 .. -16 */

typedef struct {
  _Atomic uint64_t n[QUARRY_HISTOGRAM_BUCKETS];
  _Atomic uint64_t sum_ns;
} q_hist;

typedef struct {
  _Alignas(64) q_hist h[QUARRY_HISTOGRAM_COUNT];
  _Atomic uint64_t c[Q_C_COUNT];
  _Atomic uint64_t errors[Q_ERROR_CODES];
} q_stripe;

typedef struct {
  int on; /* the open option metrics; fixed while the engine lives */
  q_stripe stripe[Q_STRIPES];
} q_metrics;

/* Turns RocksDB's per-thread perf context off in the calling thread (perf level kDisable, as
 * db_bench runs; RocksDB's default counts): Quarry never reads it, and its counting costs about
 * 650 instructions of a 17,000-instruction point read (callgrind). Called by quarry_db_open and
 * by a thread's first recorded operation (q_stripe_slow), so every thread doing data operations
 * through Quarry has it off while metrics are on (the default). */
static inline void q_perf_counters_off(void) { rocksdb_set_perf_level(rocksdb_disable); }

/* This thread's stripe (0 .. Q_STRIPES-1); the first call in a thread also calls
 * q_perf_counters_off. */
unsigned q_stripe_slow(void);
/* Stripe + 1 of the calling thread; 0: not assigned yet. The initial-exec TLS model makes reading
 * it one instruction off the thread pointer instead of a __tls_get_addr call per counter update
 * (the library is a Lua module loaded with dlopen: 4 bytes fit in glibc's surplus static TLS). */
#if defined(__GNUC__) && !defined(QUARRY_TLS_DYNAMIC)
#define Q_TLS_FAST __attribute__((tls_model("initial-exec")))
#else
#define Q_TLS_FAST
#endif
extern _Thread_local unsigned q_tls_stripe Q_TLS_FAST;
static inline q_stripe *q_stripe_of(q_metrics *m) {
  unsigned s = q_tls_stripe;
  return &m->stripe[s ? s - 1 : q_stripe_slow()];
}

static inline uint64_t q_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Bucket of a latency: bound(i) = 2^i microseconds; (bound(i-1), bound(i)] goes to i. */
static inline unsigned q_bucket(uint64_t ns) {
  uint64_t us = (ns + 999) / 1000;
  unsigned i = us <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(us - 1);
  return i < QUARRY_HISTOGRAM_BUCKETS - 1 ? i : QUARRY_HISTOGRAM_BUCKETS - 1;
}

/* Start of a timed operation: 0 when metrics are off. */
static inline uint64_t q_timer(const q_metrics *m) { return m->on ? q_now_ns() : 0; }

/* Ends a timed operation started at t0: one observation in histogram h. */
static inline void q_observe(q_metrics *m, int h, uint64_t t0) {
  if (m->on) {
    uint64_t dt = q_now_ns() - t0;
    q_hist *hist = &q_stripe_of(m)->h[h];
    atomic_fetch_add_explicit(&hist->n[q_bucket(dt)], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&hist->sum_ns, dt, memory_order_relaxed);
  }
}

/* Adds v to counter c (Q_C_*). */
static inline void q_count(q_metrics *m, int c, uint64_t v) {
  if (m->on)
    atomic_fetch_add_explicit(&q_stripe_of(m)->c[c], v, memory_order_relaxed);
}

/* Adds to two counters at once (one stripe lookup). */
static inline void q_count2(q_metrics *m, int c1, uint64_t v1, int c2, uint64_t v2) {
  if (m->on) {
    q_stripe *s = q_stripe_of(m);
    atomic_fetch_add_explicit(&s->c[c1], v1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->c[c2], v2, memory_order_relaxed);
  }
}

/* Counts a failed data operation by its code; returns rc (any value: >= 0 is not counted). */
static inline int q_count_error(q_metrics *m, int rc) {
  if (rc < 0 && rc >= -Q_ERROR_CODES && m->on)
    atomic_fetch_add_explicit(&q_stripe_of(m)->errors[-rc - 1], 1, memory_order_relaxed);
  return rc;
}

/* metrics.c: a snapshot of qm's counters and histograms alone (a server backend's, which has
 * no RocksDB figures), with round_trips and retries; flags as quarry_metrics_flags. */
int q_metrics_snapshot(q_metrics *qm, int flags, quarry_metrics **out);
/* Sets a db-wide figure of a snapshot (marks it available). */
void q_metrics_set(quarry_metrics *m, quarry_metric id, double v);

/* ---- db.c: engines (one RocksDB instance) and handles onto them ------------------------------
 * An engine is one open RocksDB instance with its families, failed state and metrics. A
 * read_write engine is shared by every read_write or read_only handle that opens its path in this
 * process (the registry, keyed by the real path, counts them); secondary opens, and read_only
 * opens of a path that is not open read_write, get an engine of their own. Lock order: registry
 * lock, then a handle's lock, then its engine's lock. */
typedef struct q_family {
  char *name;
  /* NULL once dropped. Read with __atomic_load_n (data operations take no lock). */
  rocksdb_column_family_handle_t *h;
  /* The handle of a dropped family: destroyed only when the engine closes, since another thread
   * may still be using it (RocksDB keeps a dropped family readable while a handle lives). */
  rocksdb_column_family_handle_t *dropped_h;
} q_family;

typedef struct q_engine {
  struct q_engine *next; /* the registry's list (registry lock) */
  char *key;             /* normalised path */
  int refs;              /* handles open on it (registry lock) */
  int mode;              /* Q_MODE_* of the RocksDB instance */
  rocksdb_t *rdb;
  rocksdb_options_t *ropts;
  rocksdb_cache_t *cache;
  quarry_options *opts;  /* effective options of the open that created it, owned */

  pthread_mutex_t lock;  /* guards fams[] and failed_msg */
  q_family **fams;       /* every family ever opened; fams[0] is "default" */
  size_t nfams, capfams;

  _Atomic int failed;    /* 0, or the code of the write error that failed the instance */
  char failed_msg[256];

  uint64_t opened_ns;    /* q_now_ns() at open */
  q_metrics metrics;     /* large: last */
} q_engine;

/* A family seen through one handle: valid until that handle closes. */
struct quarry_cf {
  quarry_db *db;
  q_family *fam; /* owned by the engine, which outlives db */
  const char *name; /* == fam->name */
  void *bf;         /* another backend's family (backend_postgresql.c); fam is then NULL */
};

/* The live RocksDB handle of cf, NULL once the family was dropped (through any handle). */
static inline rocksdb_column_family_handle_t *q_cf_handle(const quarry_cf *cf) {
  return __atomic_load_n(&cf->fam->h, __ATOMIC_ACQUIRE);
}

struct quarry_db {
  const struct q_backend *be; /* the operations serving this handle (backend.h) */
  struct q_pg *pg;          /* the PostgreSQL backend's state (NULL for RocksDB) */
  q_engine *eng;
  q_metrics *m;             /* == &eng->metrics */
  rocksdb_t *rdb;           /* == eng->rdb (borrowed); NULL once this handle is closed */
  rocksdb_options_t *ropts_db; /* == eng->ropts (borrowed) */
  rocksdb_cache_t *cache;   /* == eng->cache (borrowed) */
  quarry_options *opts;     /* effective options of this handle, owned */
  char *path;
  int mode;                 /* this handle's mode (read_only on a shared read_write engine) */

  pthread_mutex_t lock;     /* guards cfs[] and children */
  quarry_cf **cfs;          /* this handle's views of families, created on demand */
  quarry_cf *default_cf;    /* == cfs[0]; read without the lock (cfs may be reallocated) */
  size_t ncfs, capcfs;
  q_child children;         /* sentinel of a circular list */
  int n_iters, n_snapshots, n_batches;

  rocksdb_readoptions_t *read_default;
  rocksdb_writeoptions_t *write_opts[2][2]; /* [sync][wal] */
  /* rw.c: the write batch single puts and deletes reuse (taken with an atomic exchange; NULL
   * before the first one, or while a thread uses it). Freed by handle_free. */
  _Atomic(rocksdb_writebatch_t *) put_batch;
};

/* A live family named name, or NULL (eng->lock held). */
q_family *q_engine_find_live_locked(q_engine *eng, const char *name);
/* Registers a new family in the engine (eng->lock held). */
int q_engine_add_family_locked(q_engine *eng, const char *name, rocksdb_column_family_handle_t *h,
                               q_family **out);
/* This handle's view of fam, created on first use (db->lock held). */
int q_db_view_locked(quarry_db *db, q_family *fam, quarry_cf **out);
/* Copies the live RocksDB family handles of db's engine (for flush/compact of every family).
 * The caller frees *out (the handles stay owned by the engine). */
int q_db_live_handles(quarry_db *db, rocksdb_column_family_handle_t ***out, size_t *n);
/* The modes in which handles of this process have path open: a mask of 1 << Q_MODE_* (0: none).
 * Every engine counts, read_only and secondary ones included: those take no LOCK file, so this
 * registry is the only way to see them. (A read_only handle joining a read_write engine shows
 * as read_write.) path is compared by its real path. */
int q_path_open_here(const char *path);
/* The same with the registry lock held by the caller (q_registry_lock): no database of this
 * process opens or closes until q_registry_unlock, so a check and what depends on it (replacing a
 * database directory) cannot race an open. Nothing that opens or closes a database may be
 * called in between. */
int q_path_open_here_locked(const char *path);
void q_registry_lock(void);
void q_registry_unlock(void);
/* Handles open on eng (read under the registry lock). */
int q_engine_handles(q_engine *eng);
/* The engine of db went through a sync of its WAL (flush_wal with sync): counts it. */
void q_db_wal_synced(quarry_db *db);

/* Guards for every public function. */
int q_db_check(const quarry_db *db, const char *op);        /* NULL -> ECLOSED */
int q_db_check_write(quarry_db *db, const char *op);        /* + read-only/secondary/failed */
/* q_db_check_write for what is not a write (checkpoint, backup): its own refusal text */
int q_db_check_read_write(quarry_db *db, const char *op, const char *why, const char *todo);
/* The effective sync and wal (0 or 1 each) of write options w (NULL: defaults) on db: w's
 * values where set (>= 0), else db's open options. The one place they are resolved. */
void q_write_mode(const quarry_db *db, const quarry_write_options *w, int *sync, int *wal);
/* 1 when the effective write options of w (on db) sync the WAL. */
int q_write_syncs(const quarry_db *db, const quarry_write_options *w);
/* Resolves cf (NULL -> default) to a live handle or fails (dropped -> ENOTFOUND, other db). */
int q_cf_resolve(quarry_db *db, quarry_cf *cf, const char *op, rocksdb_column_family_handle_t **h);
/* verify.c: reads, with block checksums verified and the block cache not filled, every entry in
 * the key range of each live table file for which wanted(name, ctx) is non-zero (name as RocksDB
 * gives it: "/000013.sst"); range deletions are ignored so that no entry is skipped. *files and
 * *bytes: the files selected and their sizes. A damaged block: QUARRY_ECORRUPTION naming it. */
int q_verify_table_files(quarry_db *db, int (*wanted)(const char *name, void *ctx), void *ctx,
                         uint64_t *files, uint64_t *bytes);
/* After a failed write: if code is EIO/ENOSPC, puts the handle in the failed state. Returns code. */
int q_db_write_failed(quarry_db *db, int code);
int q_check_key(const char *op, size_t klen);
/* The prepared RocksDB write options for w's effective sync and wal (owned by db). */
rocksdb_writeoptions_t *q_write_options(quarry_db *db, const quarry_write_options *w);

/* ---- iter.c / snapshot.c / batch.c ----------------------------------------------------------- */
struct quarry_snapshot {
  q_child child;
  const rocksdb_snapshot_t *snap;
  uint64_t seq;
};

struct quarry_batch {
  q_child child;
  rocksdb_writebatch_t *wb;
};

/* iterator position states (quarry_iter.started) */
enum { Q_IT_FRESH = 0, Q_IT_STEPPED = 1, Q_IT_PLACED = 2 };

struct quarry_iter {
  q_child child;
  rocksdb_iterator_t *it; /* NULL once closed */
  rocksdb_readoptions_t *ro;
  char *lower, *upper; /* owned copies of the bounds (RocksDB borrows them), NULL: none */
  size_t lower_len, upper_len;
  int empty;           /* the bounds exclude every key: never positioned */
  int reverse, keys_only;
  int started;         /* Q_IT_*: PLACED means step returns the current entry before moving */
  int64_t limit, seen;
};

/* quarry_value is a rocksdb_pinnableslice_t behind an opaque type: no extra allocation. A value
 * read by another backend is a q_heap_value whose pointer carries the low bit (allocations are
 * at least 2-aligned, so a pinnable slice never has it): quarry_value_data / quarry_value_free
 * tell the two apart without a lookup. */
typedef struct {
  size_t len;
  char data[];
} q_heap_value;
#define Q_VALUE_IS_HEAP(v) (((uintptr_t)(const void *)(v)) & 1u)
#define Q_HEAP(v) ((q_heap_value *)(void *)((uintptr_t)(const void *)(v) & ~(uintptr_t)1))
/* A value holding a copy of data (len bytes), tagged as above; NULL when out of memory. */
quarry_value *q_heap_value_new(const char *data, size_t len);
#define Q_VALUE(ps) ((quarry_value *)(void *)(ps))
#define Q_PINNED(v) ((rocksdb_pinnableslice_t *)(void *)(v))

/* The bounds of an iterator (iter.c): o's from/to, and its prefix as [prefix, successor), the
 * tighter of each kept; owned copies the caller frees (NULL: no bound). *empty = 1 when they
 * exclude every key. Shared by the backends. */
int q_iter_bounds(const quarry_iter_options *o, char **lower, size_t *lower_len, char **upper,
                  size_t *upper_len, int *empty);
/* Checks a snapshot passed to a read of db: closed -> ECLOSED, another db's -> EINVAL. */
int q_snapshot_check(quarry_db *db, const quarry_snapshot *s, const char *op);
/* Builds read options for a call: *out is the db's shared default when ropts is NULL/default
 * (then *owned = 0), otherwise new options the caller destroys (*owned = 1). */
int q_read_options(quarry_db *db, const quarry_read_options *ropts, const char *op,
                   rocksdb_readoptions_t **out, int *owned);
/* Bytewise key order (the default comparator's). */
int q_key_cmp(const char *a, size_t alen, const char *b, size_t blen);
/* Checks a [from, to) range: both present, keys within the limit, from < to (else EINVAL). */
int q_check_range(const char *op, const char *from, size_t flen, const char *to, size_t tlen);
/* Value size limit of RocksDB's write batch (values are length-prefixed with 32 bits). */
int q_check_value(const char *op, size_t vlen);

#include "backend.h"

#endif

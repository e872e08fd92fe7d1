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

/* ---- tuning.c: options ---------------------------------------------------------------------- */
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
  char *secondary_path;       /* owned */
  char **cfs;                 /* owned, ncfs entries */
  size_t ncfs;
};

/* Builds RocksDB options (and the block cache, owned by the caller) from quarry options. */
rocksdb_options_t *q_rocksdb_options(const quarry_options *o, rocksdb_cache_t **cache_out);
int q_options_copy(const quarry_options *src, quarry_options **out);
/* "read_write" | "read_only" | "secondary" (static). */
const char *q_mode_name(int mode);

/* ---- children ------------------------------------------------------------------------------ */
typedef enum { Q_CHILD_ITER = 1, Q_CHILD_SNAPSHOT = 2, Q_CHILD_BATCH = 3 } q_child_kind;

typedef struct q_child {
  struct q_child *prev, *next;
  q_child_kind kind;
  quarry_db *db; /* NULL once the child or its db is closed */
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

/* ---- db.c ------------------------------------------------------------------------------------ */
struct quarry_cf {
  quarry_db *db;
  /* NULL once dropped. Read with __atomic_load_n (data operations take no lock). */
  rocksdb_column_family_handle_t *h;
  /* The handle of a dropped family: destroyed only at close, since another thread may still be
   * using it (RocksDB keeps a dropped family readable while a handle lives). */
  rocksdb_column_family_handle_t *dropped_h;
  char *name;
};

struct quarry_db {
  rocksdb_t *rdb;
  rocksdb_options_t *ropts_db;
  rocksdb_cache_t *cache;
  quarry_options *opts; /* effective options, owned */
  char *path;
  int mode;

  pthread_mutex_t lock; /* guards cfs[], children, failed */
  quarry_cf **cfs;      /* every family ever opened; cfs[0] is "default" */
  quarry_cf *default_cf; /* == cfs[0]; read without the lock (cfs may be reallocated) */
  char *regkey;         /* normalised path in the process-wide registry of open databases */
  size_t ncfs, capcfs;
  q_child children;     /* sentinel of a circular list */
  int n_iters, n_snapshots, n_batches;

  _Atomic int failed;   /* 0, or the code of the write error that failed the handle */
  char failed_msg[256];

  rocksdb_readoptions_t *read_default;
  rocksdb_writeoptions_t *write_opts[2][2]; /* [sync][wal] */
};

/* Appends a quarry_cf for handle h to db->cfs (db->lock held, or during open). */
int q_db_add_cf_locked(quarry_db *db, const char *name, rocksdb_column_family_handle_t *h,
                       quarry_cf **out);

/* Guards for every public function. */
int q_db_check(const quarry_db *db, const char *op);        /* NULL -> ECLOSED */
int q_db_check_write(quarry_db *db, const char *op);        /* + read-only/secondary/failed */
/* Resolves cf (NULL -> default) to a live handle or fails (dropped -> ENOTFOUND, other db). */
int q_cf_resolve(quarry_db *db, quarry_cf *cf, const char *op, rocksdb_column_family_handle_t **h);
/* After a failed write: if code is EIO/ENOSPC, puts the handle in the failed state. Returns code. */
int q_db_write_failed(quarry_db *db, int code);
int q_check_key(const char *op, size_t klen);
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

/* quarry_value is a rocksdb_pinnableslice_t behind an opaque type: no extra allocation. */
#define Q_VALUE(ps) ((quarry_value *)(void *)(ps))
#define Q_PINNED(v) ((rocksdb_pinnableslice_t *)(void *)(v))

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

#endif

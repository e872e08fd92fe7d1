/* quarry.h: the public C interface of Quarry, a storage engine over RocksDB.
 * The Lua module is a thin layer over this header; a C program can use it alone.
 *
 * Conventions (every function below follows them):
 *  - Opaque handles, functions named quarry_<object>_<verb>.
 *  - Every fallible function returns int: 0 on success, a negative QUARRY_E* code on failure.
 *    The human message of the last failure in the calling thread (RocksDB's own text included)
 *    is quarry_last_error(); it stays valid until the next failing call in that thread.
 *  - Output parameters come last. On failure they are left set to NULL / 0.
 *  - Destructors (quarry_*_close / quarry_*_free) accept NULL and are idempotent per handle.
 *  - Keys and values are (pointer, length) pairs: binary-safe, NUL bytes allowed.
 *    Keys longer than QUARRY_MAX_KEY_SIZE are refused with QUARRY_EINVAL.
 *  - Children (iterators, snapshots, batches) are tracked by their database: quarry_db_close
 *    releases their RocksDB resources first (RocksDB 7.8 aborts otherwise). The child handle
 *    itself stays allocated and owned by the caller; any later use returns QUARRY_ECLOSED and
 *    its close just frees it. So destruction order never matters.
 *  - Thread safety: a quarry_db may be used from several threads at once (reads, writes,
 *    iterator creation). An individual iterator, batch or options object is single-threaded.
 *  - One engine per path and process: opening a path that is already open read_write in this
 *    process (e.g. from a second Lua state) returns a new handle onto the same RocksDB instance
 *    (reference-counted, keyed by the real path) instead of failing on RocksDB's LOCK. Each
 *    handle tracks its own children and column-family handles; the engine closes with its last
 *    handle; metrics are per engine.
 */
#ifndef QUARRY_H
#define QUARRY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(QUARRY_BUILDING) && defined(__GNUC__)
#define QUARRY_API __attribute__((visibility("default")))
#else
#define QUARRY_API
#endif

#define QUARRY_VERSION_MAJOR 0
#define QUARRY_VERSION_MINOR 1
#define QUARRY_VERSION_PATCH 0
#define QUARRY_VERSION "0.1.0"

/* RocksDB's FAQ: keys should stay under 8 MB; huge keys bloat the MANIFEST (docs/design.md#f9). */
#define QUARRY_MAX_KEY_SIZE (8u * 1024u * 1024u)

/* ---------------------------------------------------------------------------------------------
 * Errors: one X-macro gives the code, its stable name (the Lua error `code`) and a short text.
 * ------------------------------------------------------------------------------------------- */
#define QUARRY_ERRNO_MAP(X)                                                                  \
  X(ENOTFOUND, -1, "NotFound", "not found")                                                  \
  X(ECORRUPTION, -2, "Corruption", "data corruption detected")                               \
  X(ENOTSUPPORTED, -3, "NotSupported", "operation not supported")                            \
  X(EINVAL, -4, "InvalidArgument", "invalid argument")                                       \
  X(EIO, -5, "IOError", "I/O error")                                                         \
  X(ENOSPC, -6, "NoSpace", "no space left on device")                                        \
  X(EBUSY, -7, "Busy", "resource busy")                                                      \
  X(ELOCKED, -8, "Locked", "database is locked by another process")                          \
  X(ETIMEDOUT, -9, "TimedOut", "operation timed out")                                        \
  X(EABORTED, -10, "Aborted", "operation aborted")                                           \
  X(ETRYAGAIN, -11, "TryAgain", "try again")                                                 \
  X(EINCOMPLETE, -12, "Incomplete", "operation incomplete")                                  \
  X(ESHUTDOWN, -13, "ShutdownInProgress", "shutdown in progress")                            \
  X(ECLOSED, -14, "Closed", "use of a closed object")                                        \
  X(ENOMEM, -15, "Unknown", "out of memory")                                                 \
  X(EUNKNOWN, -16, "Unknown", "unknown error")

typedef enum {
  QUARRY_OK = 0,
#define QUARRY_XX(sym, val, name, text) QUARRY_##sym = (val),
  QUARRY_ERRNO_MAP(QUARRY_XX)
#undef QUARRY_XX
} quarry_status;

/* Stable name of a code ("NotFound", "Closed", ...); "OK" for 0, "Unknown" for anything else.
 * Returns a static string. */
QUARRY_API const char *quarry_err_name(int code);
/* Short generic text of a code. Returns a static string. */
QUARRY_API const char *quarry_strerror(int code);
/* Detailed message of the last failure in this thread (includes RocksDB's text). Never NULL.
 * Owned by the library; valid until the next failing call in the same thread. */
QUARRY_API const char *quarry_last_error(void);

/* Versions: static strings. */
QUARRY_API const char *quarry_version(void);
QUARRY_API const char *quarry_rocksdb_version(void);

/* ---------------------------------------------------------------------------------------------
 * Handles
 * ------------------------------------------------------------------------------------------- */
typedef struct quarry_options quarry_options;   /* open options and tuning, built before open */
typedef struct quarry_db quarry_db;             /* an open database */
typedef struct quarry_cf quarry_cf;             /* a column family, owned by its db */
typedef struct quarry_batch quarry_batch;       /* an atomic write batch, child of a db */
typedef struct quarry_iter quarry_iter;         /* an iterator, child of a db */
typedef struct quarry_snapshot quarry_snapshot; /* a consistent read view, child of a db */
typedef struct quarry_value quarry_value;       /* a value read by quarry_get (pinned) */

/* ---------------------------------------------------------------------------------------------
 * Options: presets, environment overrides, explicit values. Precedence preset < env < explicit.
 * ------------------------------------------------------------------------------------------- */
typedef enum { QUARRY_OPT_INT = 1, QUARRY_OPT_BOOL = 2, QUARRY_OPT_STRING = 3 } quarry_opt_type;

typedef struct {
  const char *name;    /* e.g. "write_buffer_mb"; also the env suffix QUARRY_DB_WRITE_BUFFER_MB */
  quarry_opt_type type;
  int tuning;          /* 1: a tuning value reported by quarry_db_tuning / presets */
  const char *doc;     /* one line */
} quarry_option_info;

/* The table of known option names (static). *count receives its length. */
QUARRY_API const quarry_option_info *quarry_option_list(size_t *count);

/* Names of the presets, NULL-terminated static array: "default", "production", "development". */
QUARRY_API const char *const *quarry_preset_names(void);

/* Creates options resolved from a preset (NULL means "default"). Unknown preset: QUARRY_EINVAL.
 * The caller owns *out and frees it with quarry_options_free. */
QUARRY_API int quarry_options_new(const char *preset, quarry_options **out);
QUARRY_API void quarry_options_free(quarry_options *opts);

/* Applies QUARRY_DB_<NAME> environment variables over the current values. A bad value gives
 * QUARRY_EINVAL naming the variable. Unknown QUARRY_DB_* variables are ignored. Only tuning
 * options (quarry_option_info.tuning = 1) are read from the environment: mode,
 * create_if_missing and secondary_path change what open does and are never taken from it. */
QUARRY_API int quarry_options_apply_env(quarry_options *opts);

/* Explicit setters. Unknown name, wrong type for the option, or bad value: QUARRY_EINVAL
 * naming the option. Strings are copied. */
QUARRY_API int quarry_options_set_int(quarry_options *opts, const char *name, int64_t value);
QUARRY_API int quarry_options_set_bool(quarry_options *opts, const char *name, int value);
QUARRY_API int quarry_options_set_string(quarry_options *opts, const char *name, const char *value);
/* Parses text for any type ("true"/"false"/"1"/"0" for bool, decimal for int). */
QUARRY_API int quarry_options_set_parse(quarry_options *opts, const char *name, const char *text);
/* Adds a column family name to open (created if missing in read-write mode). Copied. */
QUARRY_API int quarry_options_add_column_family(quarry_options *opts, const char *name);

/* Reads an option's current value. For QUARRY_OPT_STRING, *str points into opts (valid until
 * the option changes or opts is freed); an unset secondary_path gives *str = NULL. The name
 * "preset" (not an option: read-only) gives the preset's name in *str. Unknown name:
 * QUARRY_EINVAL. Either out may be NULL. */
QUARRY_API int quarry_options_get(const quarry_options *opts, const char *name, int64_t *num,
                                  const char **str);

/* ---------------------------------------------------------------------------------------------
 * Database
 * ------------------------------------------------------------------------------------------- */
/* A path starting with postgresql:// or postgres:// is a server URL: the PostgreSQL backend
 * (libpq) serves the handle and every function of this header works on it the same way, except
 * what has no meaning there (checkpoints, backups, compaction, properties, sizes, catch_up,
 * destroy, mode "secondary"): QUARRY_ENOTSUPPORTED naming the server's own way. A lost
 * connection is QUARRY_EIO (nothing written), or QUARRY_EINCOMPLETE when a commit was sent and
 * not answered (outcome unknown); docs/scale-out.md#mapping has the mapping and the codes.
 * Opens (or creates) the database at path. opts may be NULL (default preset with env overrides
 * applied). opts is only read; the caller still owns it and may free it right after.
 * Another process holding the LOCK gives QUARRY_ELOCKED with a message naming read-only and
 * secondary modes. The caller owns *out and closes it with quarry_db_close.
 * In this process, a path already open read_write (same real path) is shared: a read_write or
 * read_only open gets a new handle onto that engine (read_only handles refuse writes but see the
 * latest data); the column families the options name are created in it (read_write) or must
 * exist (read_only); its RocksDB tuning stays that of the first open, while sync, wal and
 * readahead_mb are per handle. Joining an engine in the failed state gives QUARRY_EBUSY (close
 * its handles, then reopen). Otherwise each open gets its own instance, as from another process:
 * secondary opens always, read_only opens of a path not open read_write here (they keep the view
 * of their open), and a read_write open beside such read_only instances.
 * Side effect: RocksDB's per-thread perf context (rocksdb_set_perf_level) is turned off in the
 * calling thread, and in each thread at its first data operation while metrics are on; Quarry
 * never reads it and its counting costs about 4% of a point read. */
QUARRY_API int quarry_db_open(const char *path, const quarry_options *opts, quarry_db **out);

/* Closes: destroys this handle's live iterators, releases its snapshots, frees its batches'
 * contents, syncs the WAL (read_write), closes RocksDB when db is the engine's last handle, and
 * frees db. Returns the WAL sync status (the db is freed even on failure). Children handles stay
 * valid to close. NULL is accepted. */
QUARRY_API int quarry_db_close(quarry_db *db);

/* Static/owned accessors; returned strings live as long as db. */
QUARRY_API const char *quarry_db_path(const quarry_db *db);
QUARRY_API const char *quarry_db_mode(const quarry_db *db); /* "read_write"|"read_only"|"secondary" */
/* The backend serving db: "rocksdb" (a directory) or "postgresql" (a server URL). Static. */
QUARRY_API const char *quarry_db_backend(const quarry_db *db);
/* The effective options the db was opened with (owned by db; do not free). */
QUARRY_API const quarry_options *quarry_db_options(const quarry_db *db);
/* 0, or the code (QUARRY_EIO / QUARRY_ENOSPC) of the write error that put db in the failed state:
 * every later write then fails with that code and reads keep working; close and reopen to
 * recover (docs/design.md#f3). NULL gives 0. */
QUARRY_API int quarry_db_is_failed(const quarry_db *db);
/* Number of live children of each kind (for tests and leak checks). */
QUARRY_API int quarry_db_live_iterators(const quarry_db *db);
QUARRY_API int quarry_db_live_snapshots(const quarry_db *db);
QUARRY_API int quarry_db_live_batches(const quarry_db *db);

/* Lists the families in the database at path (not open). *names is a NULL-terminated array the
 * caller frees with quarry_free_names. */
QUARRY_API int quarry_list_column_families(const char *path, char ***names);
QUARRY_API void quarry_free_names(char **names);

/* Destroys the database at path. An open database (any handle in this process, or another
 * process): QUARRY_EBUSY or QUARRY_ELOCKED. */
QUARRY_API int quarry_destroy(const char *path);

/* Secondary mode: replays the primary's newer writes. Other modes: QUARRY_ENOTSUPPORTED. */
QUARRY_API int quarry_db_catch_up(quarry_db *db);

/* ---------------------------------------------------------------------------------------------
 * Column families. quarry_cf pointers are owned by the db and stay valid until quarry_db_close,
 * even after the family is dropped (then every use gives QUARRY_ENOTFOUND). NULL anywhere a
 * quarry_cf* is taken means the "default" family.
 * ------------------------------------------------------------------------------------------- */
QUARRY_API int quarry_db_cf(quarry_db *db, const char *name, quarry_cf **out);     /* ENOTFOUND */
QUARRY_API int quarry_db_create_cf(quarry_db *db, const char *name, quarry_cf **out);
QUARRY_API int quarry_db_drop_cf(quarry_db *db, const char *name);
/* Names of the open families, NULL-terminated, caller frees with quarry_free_names. */
QUARRY_API int quarry_db_cf_names(quarry_db *db, char ***names);
QUARRY_API const char *quarry_cf_name(const quarry_cf *cf);
QUARRY_API quarry_db *quarry_cf_db(const quarry_cf *cf);

/* ---------------------------------------------------------------------------------------------
 * Reads and writes
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  const quarry_snapshot *snapshot; /* NULL: latest */
  int fill_cache;                  /* -1: default (yes), 0, 1 */
  int verify_checksums;            /* -1: default (yes), 0, 1 */
} quarry_read_options;

typedef struct {
  int sync; /* -1: the db's default (option "sync"), 0, 1 */
  int wal;  /* -1: the db's default (option "wal"), 0, 1 */
} quarry_write_options;

/* Initialisers giving "all defaults". */
#define QUARRY_READ_OPTIONS_INIT {NULL, -1, -1}
#define QUARRY_WRITE_OPTIONS_INIT {-1, -1}

/* Reads key. A missing key is success with *out = NULL. Otherwise *out is a pinned value the
 * caller frees with quarry_value_free; its bytes stay valid until then. ropts may be NULL. */
QUARRY_API int quarry_get(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts,
                          const char *key, size_t klen, quarry_value **out);
QUARRY_API const char *quarry_value_data(const quarry_value *v, size_t *len);
QUARRY_API void quarry_value_free(quarry_value *v);

/* Reads n keys in one call. values[i] receives a pinned value or NULL when missing; on failure
 * every values[i] is NULL. The caller frees each non-NULL values[i] with quarry_value_free. */
QUARRY_API int quarry_multi_get(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts,
                                size_t n, const char *const *keys, const size_t *klens,
                                quarry_value **values);

QUARRY_API int quarry_put(quarry_db *db, quarry_cf *cf, const quarry_write_options *wopts,
                          const char *key, size_t klen, const char *val, size_t vlen);
QUARRY_API int quarry_delete(quarry_db *db, quarry_cf *cf, const quarry_write_options *wopts,
                             const char *key, size_t klen);
/* Deletes [from, to). from >= to is QUARRY_EINVAL. */
QUARRY_API int quarry_delete_range(quarry_db *db, quarry_cf *cf,
                                   const quarry_write_options *wopts, const char *from,
                                   size_t flen, const char *to, size_t tlen);

/* ---------------------------------------------------------------------------------------------
 * Batches: atomic across families of one db.
 * ------------------------------------------------------------------------------------------- */
QUARRY_API int quarry_batch_new(quarry_db *db, quarry_batch **out);
QUARRY_API int quarry_batch_put(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen,
                                const char *val, size_t vlen);
QUARRY_API int quarry_batch_delete(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen);
QUARRY_API int quarry_batch_delete_range(quarry_batch *b, quarry_cf *cf, const char *from,
                                         size_t flen, const char *to, size_t tlen);
QUARRY_API int quarry_batch_count(const quarry_batch *b, size_t *count);
QUARRY_API int quarry_batch_data_size(const quarry_batch *b, size_t *bytes);
QUARRY_API int quarry_batch_clear(quarry_batch *b);
/* Commits b atomically. The batch keeps its contents (clear it to reuse). A cf of another db in
 * b is refused when it is added. */
QUARRY_API int quarry_db_write(quarry_db *db, quarry_batch *b, const quarry_write_options *wopts);
QUARRY_API void quarry_batch_close(quarry_batch *b);
QUARRY_API int quarry_batch_is_closed(const quarry_batch *b);

/* ---------------------------------------------------------------------------------------------
 * Snapshots
 * ------------------------------------------------------------------------------------------- */
QUARRY_API int quarry_snapshot_new(quarry_db *db, quarry_snapshot **out);
QUARRY_API uint64_t quarry_snapshot_sequence(const quarry_snapshot *s); /* 0 once closed */
QUARRY_API void quarry_snapshot_close(quarry_snapshot *s);
QUARRY_API int quarry_snapshot_is_closed(const quarry_snapshot *s);

/* ---------------------------------------------------------------------------------------------
 * Iterators. Bounds and prefix are copied into the iterator (RocksDB borrows them).
 * ------------------------------------------------------------------------------------------- */
typedef struct {
  const char *from; size_t from_len;     /* inclusive lower bound, NULL: none */
  const char *to; size_t to_len;         /* exclusive upper bound, NULL: none */
  const char *prefix; size_t prefix_len; /* only keys starting with prefix, NULL: none */
  int reverse;                           /* quarry_iter_step walks backwards */
  int64_t limit;                         /* quarry_iter_step stops after limit pairs; <0: none */
  int keys_only;                         /* quarry_iter_step does not return values */
  int fill_cache;                        /* -1 default, 0, 1 */
  const quarry_snapshot *snapshot;       /* NULL: latest */
} quarry_iter_options;
#define QUARRY_ITER_OPTIONS_INIT {NULL, 0, NULL, 0, NULL, 0, 0, -1, 0, -1, NULL}

QUARRY_API int quarry_iter_new(quarry_db *db, quarry_cf *cf, const quarry_iter_options *iopts,
                               quarry_iter **out);
/* Positioning. All return 0 or an error (QUARRY_ECLOSED, or RocksDB's status e.g. Corruption). */
QUARRY_API int quarry_iter_first(quarry_iter *it);
QUARRY_API int quarry_iter_last(quarry_iter *it);
QUARRY_API int quarry_iter_seek(quarry_iter *it, const char *key, size_t klen);
QUARRY_API int quarry_iter_seek_for_prev(quarry_iter *it, const char *key, size_t klen);
QUARRY_API int quarry_iter_next(quarry_iter *it);
QUARRY_API int quarry_iter_prev(quarry_iter *it);
/* 1 if positioned on an entry, 0 if not (or closed). */
QUARRY_API int quarry_iter_valid(const quarry_iter *it);
/* Current key / value: pointers valid until the iterator moves or closes. NULL when not valid. */
QUARRY_API const char *quarry_iter_key(const quarry_iter *it, size_t *len);
QUARRY_API const char *quarry_iter_value(const quarry_iter *it, size_t *len);
/* Walk in the iterator's direction honouring reverse and limit: the first call positions at the
 * start (first, or last when reverse), later calls advance. Returns 1 with the pair set
 * (value NULL when keys_only), 0 at the end, or a negative error. Pointers as quarry_iter_key. */
QUARRY_API int quarry_iter_step(quarry_iter *it, const char **key, size_t *klen, const char **val,
                                size_t *vlen);
QUARRY_API void quarry_iter_close(quarry_iter *it);
QUARRY_API int quarry_iter_is_closed(const quarry_iter *it);

/* ---------------------------------------------------------------------------------------------
 * Maintenance and durability
 * ------------------------------------------------------------------------------------------- */
QUARRY_API int quarry_db_flush(quarry_db *db, quarry_cf *cf); /* cf NULL: every family */
/* Compacts [from, to) of cf (NULL bounds: whole range; cf NULL: every family). */
QUARRY_API int quarry_db_compact(quarry_db *db, quarry_cf *cf, const char *from, size_t flen,
                                 const char *to, size_t tlen);
/* A RocksDB property. Unknown property: success with *out = NULL. Caller frees *out with free(). */
QUARRY_API int quarry_db_property(quarry_db *db, quarry_cf *cf, const char *name, char **out);
QUARRY_API int quarry_db_approximate_size(quarry_db *db, quarry_cf *cf, const char *from,
                                          size_t flen, const char *to, size_t tlen,
                                          uint64_t *bytes);
/* Total bytes of the files under the database directory. */
QUARRY_API int quarry_db_size_on_disk(quarry_db *db, uint64_t *bytes);

/* ---------------------------------------------------------------------------------------------
 * Durable file replacement (core/src/files.c): a reader of path sees the old file or the new
 * one, never a part. "-" (stdout), a FIFO or a character device (or a link to one, such as
 * /dev/stdout) is streamed to instead, never replaced; any other symbolic link is refused
 * (QUARRY_EINVAL naming it), as is a directory or another file type. The new content goes to a temporary file created O_CREAT|O_EXCL|O_NOFOLLOW
 * (mode 0644 before the umask) under a random name "<path>.tmp-XXXXXX" in path's directory;
 * commit fsyncs it, renames it over path and fsyncs the directory. Used by backups' seals, the
 * JSON writer and quarry.sys.write_atomic.
 * ------------------------------------------------------------------------------------------- */
typedef struct quarry_file quarry_file;
/* Creates the temporary file that will replace path. On success *out is owned by the caller,
 * who ends it with exactly one of quarry_file_commit or quarry_file_abort (both free it); path
 * is copied. QUARRY_EIO / QUARRY_ENOSPC naming the file, QUARRY_EINVAL for a path too long. */
QUARRY_API int quarry_file_create(const char *path, quarry_file **out);
/* Appends len bytes (retries short writes and EINTR). On failure the file stays open: the
 * caller still commits (which then fails) or aborts. */
QUARRY_API int quarry_file_write(quarry_file *f, const void *data, size_t len);
/* fsync, close, rename over the target, fsync of the directory. Frees f whatever the result;
 * on a failure before the rename the temporary file is removed and the target is untouched. */
QUARRY_API int quarry_file_commit(quarry_file *f);
/* Removes the temporary file and frees f; the target is untouched. NULL is accepted. */
QUARRY_API void quarry_file_abort(quarry_file *f);
/* The temporary file's path (owned by f; valid until commit or abort). */
QUARRY_API const char *quarry_file_temp_path(const quarry_file *f);
/* The whole sequence for data already in memory: create, write, commit. */
QUARRY_API int quarry_file_write_atomic(const char *path, const void *data, size_t len);
/* 1 when f streams to its target ("-", a FIFO, a character device) instead of replacing it. */
QUARRY_API int quarry_file_streaming(const quarry_file *f);
/* Creates a new directory, mode 0700, "<$TMPDIR or /tmp>/<prefix>.XXXXXX" (mkdtemp(3); prefix
 * NULL or "" is "quarry", must not contain '/'), its path written to buf (cap bytes, caller's).
 * The caller removes it. QUARRY_EINVAL for a bad prefix or a path too long, QUARRY_EIO. */
QUARRY_API int quarry_file_mkdtemp(const char *prefix, char *buf, size_t cap);

/* ---------------------------------------------------------------------------------------------
 * Checkpoints, backups, verification (core/src/checkpoint.c, backup.c, verify.c)
 * ------------------------------------------------------------------------------------------- */
/* Writes a consistent, openable copy of db into dir. dir must not exist (QUARRY_EINVAL "...
 * already exists; choose a new directory") and its parent must be an existing directory
 * (QUARRY_EIO naming it). The memtables are flushed first, so a database without a WAL loses
 * nothing; table files are hard-linked when dir is on the same filesystem, copied otherwise. Both
 * dir and its parent are fsynced before return. read_only/secondary: QUARRY_ENOTSUPPORTED.
 * dir is only read. Safe to call while other threads write: the copy is one consistent state
 * (with the WAL off and several families, each family's state is taken at its own flush). */
QUARRY_API int quarry_db_checkpoint(quarry_db *db, const char *dir);

/* What a full scan read, family by family. */
typedef struct {
  char *name;       /* family name, owned by the report */
  uint64_t keys;    /* entries read */
  uint64_t bytes;   /* key + value bytes read */
  char digest[65];  /* hex SHA-256 of the family (quarry_db_digest; "" for quarry_db_verify) */
} quarry_family_report;

typedef struct {
  quarry_family_report *families; /* nfamilies entries sorted by name (bytewise) */
  size_t nfamilies;
  uint64_t keys, bytes;           /* totals over the families */
  uint64_t sequence;              /* sequence number the scan read at (the snapshot's) */
  uint64_t table_files;           /* quarry_db_verify: live table files checked */
  uint64_t table_bytes;           /* quarry_db_verify: their total size per the MANIFEST */
  char digest[65];                /* quarry_db_digest: the digest asked for; "" otherwise */
} quarry_scan_report;

/* Reads every entry of every family at one snapshot with block checksums verified (without
 * filling the block cache), and checks that each live table file exists with the size the
 * MANIFEST records. A damaged block gives QUARRY_ECORRUPTION whose message names the table file
 * (RocksDB's text) and the family; nothing read from a damaged block is ever returned. Any mode.
 * On success the caller owns *out and frees it with quarry_scan_report_free. */
QUARRY_API int quarry_db_verify(quarry_db *db, quarry_scan_report **out);

/* A deterministic SHA-256 digest of contents, read like quarry_db_verify (checksums verified):
 *   family digest   = SHA-256 over its entries in key order of
 *                     be64(len key) || key || be64(len value) || value
 *   database digest = SHA-256 over the families in bytewise name order of
 *                     be64(len name) || name || family digest (32 raw bytes)
 * (be64: 8 bytes big-endian). cf NULL: the database digest in (*out)->digest and each family's
 * in (*out)->families; cf given: that family alone, its digest in both places. snap NULL: a
 * snapshot taken for the call. Two databases with the same families and entries have the same
 * digest whatever their files, options or history. The caller frees *out with
 * quarry_scan_report_free. */
QUARRY_API int quarry_db_digest(quarry_db *db, quarry_cf *cf, const quarry_snapshot *snap,
                                quarry_scan_report **out);
QUARRY_API void quarry_scan_report_free(quarry_scan_report *r);

/* Backups: RocksDB's BackupEngine over one directory, incremental (table files shared between
 * backups), each backup sealed, verified by content, restorable into a new directory. */
typedef struct quarry_backups quarry_backups;

typedef struct {
  uint32_t max_backups;  /* 0: keep every backup; else only the newest max_backups are kept,
                            applied after each create */
  int share_table_files; /* 1 (default): unchanged table files are shared between backups */
  int create_if_missing; /* 1 (default): create the directory (its parent must exist) */
} quarry_backup_options;
#define QUARRY_BACKUP_OPTIONS_INIT {0, 1, 1}

typedef struct {
  uint32_t id;       /* 1, 2, ... in creation order */
  int64_t timestamp; /* creation time, seconds since the epoch */
  uint64_t size;     /* bytes of all its files (shared ones included) */
  uint32_t files;    /* number of files */
} quarry_backup_info;

/* An id meaning "the newest backup" (ids start at 1). */
#define QUARRY_BACKUP_LATEST 0u

/* Opens (creating with opts->create_if_missing) the backup directory dir. A non-empty directory
 * that is not a backup directory: QUARRY_EINVAL. One handle per directory: another handle in
 * this process gives QUARRY_EBUSY, another process QUARRY_ELOCKED (a lock on dir/quarry.lock).
 * opts may be NULL (defaults) and is only read. The caller owns *out and closes it with
 * quarry_backups_close. A handle may be used from several threads (one operation at a time). */
QUARRY_API int quarry_backups_open(const char *dir, const quarry_backup_options *opts,
                                   quarry_backups **out);
/* Closes the handle and frees it. NULL is accepted. */
QUARRY_API void quarry_backups_close(quarry_backups *b);
/* The directory as given to open, without trailing slashes (owned by b). */
QUARRY_API const char *quarry_backups_dir(const quarry_backups *b);

/* Backs up db (read-write mode): flushes the memtables first when flush is non-zero, and always
 * when the database runs without a WAL. Seals the new meta file, then applies max_backups.
 * *id (may be NULL) receives the new backup's id. db is only used during the call. */
QUARRY_API int quarry_backups_create(quarry_backups *b, quarry_db *db, int flush, uint32_t *id);
/* The backups, oldest first. The caller frees *out with free(). */
QUARRY_API int quarry_backups_list(quarry_backups *b, quarry_backup_info **out, size_t *n);
/* Checks backup id (or QUARRY_BACKUP_LATEST): the meta file against its seal, every file's size,
 * then (level 0, the default) every byte of every file against the CRC-32C recorded when it was
 * copied; level 1 (deep) also restores it into a scratch directory beside the backup directory
 * and runs quarry_db_verify there; level QUARRY_BACKUP_VERIFY_SHALLOW stops after the sizes and
 * does not detect corruption. Damage gives QUARRY_ECORRUPTION naming the file. Unknown id:
 * QUARRY_ENOTFOUND. */
#define QUARRY_BACKUP_VERIFY_SHALLOW (-1)
QUARRY_API int quarry_backups_verify(quarry_backups *b, uint32_t id, int deep);

typedef struct {
  const char *wal_dir; /* NULL: WAL files go into db_dir */
  int overwrite;       /* 1: an existing database at db_dir (and wal_dir) is replaced */
} quarry_restore_options;
#define QUARRY_RESTORE_OPTIONS_INIT {NULL, 0}

/* Restores backup id (or QUARRY_BACKUP_LATEST) into db_dir. db_dir must not exist (its parent
 * must), or be an empty directory, or (ropts->overwrite) hold a database; anything else is
 * QUARRY_EINVAL. A database open there gives QUARRY_EBUSY (a handle of this process, in any mode:
 * read_only and secondary included) or QUARRY_ELOCKED (another process's LOCK).
 * Without wal_dir the backup is restored beside db_dir and renamed into place, so db_dir never
 * holds half a restore; with wal_dir RocksDB restores in place. Files are checked against their
 * checksums while copied; db_dir and its parent are fsynced. ropts may be NULL. */
QUARRY_API int quarry_backups_restore(quarry_backups *b, uint32_t id, const char *db_dir,
                                      const quarry_restore_options *ropts);
/* Deletes all but the newest keep backups (and files no remaining backup uses). */
QUARRY_API int quarry_backups_purge(quarry_backups *b, uint32_t keep);

/* ---------------------------------------------------------------------------------------------
 * Metrics (core/src/metrics.c): per-engine counters and latency histograms recorded by every
 * data operation, plus RocksDB's own figures, read as one snapshot. Recording costs two clock
 * reads and a few relaxed atomic additions per operation (docs/metrics.md has the measured
 * overhead); the open option metrics = false turns it off. Handles sharing one engine (the same
 * path opened twice in a process) share its metrics.
 * ------------------------------------------------------------------------------------------- */
typedef struct quarry_metrics quarry_metrics; /* a snapshot, owned by the caller */

typedef enum {
  QUARRY_METRIC_COUNTER = 1,  /* only grows while the engine is open */
  QUARRY_METRIC_GAUGE = 2,    /* a current value */
  QUARRY_METRIC_HISTOGRAM = 3 /* latencies in seconds, QUARRY_HISTOGRAM_BUCKETS buckets */
} quarry_metric_type;

/* X(ID, name, type, exposed, statistics, help). name is the key in Lua's db:metrics() and,
 * after the namespace, the Prometheus name (counters get "_total"). exposed = 0: not printed
 * under this name by quarry_metrics_prometheus (a histogram's _count already gives it, or the
 * per-family figures do). statistics = 1: only available with the open option statistics. */
#define QUARRY_METRIC_MAP(X)                                                                   \
  X(GETS, "gets", COUNTER, 0, 0, "point reads (get); also get_seconds_count")                \
  X(MULTI_GETS, "multi_gets", COUNTER, 0, 0, "multi_get calls; also multi_get_seconds_count") \
  X(MULTI_GET_KEYS, "multi_get_keys", COUNTER, 1, 0, "keys asked for by multi_get calls")      \
  X(PUTS, "puts", COUNTER, 0, 0, "single-key puts; also put_seconds_count")                    \
  X(DELETES, "deletes", COUNTER, 1, 0, "single-key deletes")                                   \
  X(DELETE_RANGES, "delete_ranges", COUNTER, 1, 0, "range deletions (delete_range)")           \
  X(WRITE_BATCHES, "write_batches", COUNTER, 0, 0,                                             \
    "batches committed (write); also write_batch_seconds_count")                               \
  X(KEYS_READ, "keys_read", COUNTER, 1, 0,                                                     \
    "keys found by get and multi_get, plus entries returned by iterator steps")                \
  X(READ_BYTES, "read_bytes", COUNTER, 1, 0,                                                   \
    "value bytes found by get and multi_get, plus key and value bytes of iterator steps")      \
  X(KEYS_WRITTEN, "keys_written", COUNTER, 1, 0,                                               \
    "entries written: puts, deletes, range deletions and the entries of batches")              \
  X(WRITTEN_BYTES, "written_bytes", COUNTER, 1, 0,                                             \
    "bytes written: keys and values of puts, deletes and ranges, batches' serialized size")   \
  X(ITERATOR_SEEKS, "iterator_seeks", COUNTER, 0, 0,                                           \
    "iterator positionings (first, last, seek, seek_for_prev, a walk's start); also "          \
    "iterator_seek_seconds_count")                                                             \
  X(ITERATOR_STEPS, "iterator_steps", COUNTER, 1, 0, "iterator moves to a neighbouring entry") \
  X(WAL_SYNCED, "wal_synced", COUNTER, 1, 0,                                                   \
    "WAL syncs: writes with sync on and the WAL flushes done when a handle closes")            \
  X(ERRORS, "errors", COUNTER, 0, 0,                                                           \
    "failed data operations (printed as errors_total with a code label)")                      \
  X(BLOCK_CACHE_HITS, "block_cache_hits", COUNTER, 1, 1, "block cache hits")                   \
  X(BLOCK_CACHE_MISSES, "block_cache_misses", COUNTER, 1, 1, "block cache misses")             \
  X(WRITE_STALL_SECONDS, "write_stall_seconds", COUNTER, 1, 1,                                 \
    "time writers spent stalled or stopped by RocksDB")                                        \
  X(COMPACTION_READ_BYTES, "compaction_read_bytes", COUNTER, 1, 1, "bytes read by compactions") \
  X(COMPACTION_WRITTEN_BYTES, "compaction_written_bytes", COUNTER, 1, 1,                       \
    "bytes written by compactions")                                                            \
  X(FLUSH_WRITTEN_BYTES, "flush_written_bytes", COUNTER, 1, 1, "bytes written by flushes")     \
  X(SIZE_BYTES, "size_bytes", GAUGE, 1, 0, "bytes of the files in the database directory")    \
  X(LIVE_SST_BYTES, "live_sst_bytes", GAUGE, 0, 0, "bytes of live table files (all families)") \
  X(SST_BYTES, "sst_bytes", GAUGE, 0, 0, "bytes of all table files (all families)")          \
  X(MEMTABLE_BYTES, "memtable_bytes", GAUGE, 0, 0, "bytes of the memtables (all families)")    \
  X(PENDING_COMPACTION_BYTES, "pending_compaction_bytes", GAUGE, 0, 0,                         \
    "bytes compaction still has to rewrite, estimated (all families)")                         \
  X(ESTIMATE_KEYS, "estimate_keys", GAUGE, 0, 0, "keys, estimated (all families)")            \
  X(COMPACTION_JOBS, "compaction_jobs", GAUGE, 1, 0, "compactions running")                    \
  X(FLUSH_JOBS, "flush_jobs", GAUGE, 1, 0, "memtable flushes running")                         \
  X(BLOCK_CACHE_CAPACITY_BYTES, "block_cache_capacity_bytes", GAUGE, 1, 0,                     \
    "capacity of the block cache")                                                             \
  X(BLOCK_CACHE_USAGE_BYTES, "block_cache_usage_bytes", GAUGE, 1, 0,                           \
    "bytes held by the block cache")                                                           \
  X(BLOCK_CACHE_PINNED_BYTES, "block_cache_pinned_bytes", GAUGE, 1, 0,                         \
    "bytes of block cache entries pinned by readers")                                          \
  X(DELAYED_WRITE_RATE, "delayed_write_rate_bytes_per_second", GAUGE, 1, 0,                    \
    "write rate RocksDB imposes while it slows writes down (0: no slowdown)")                  \
  X(WRITE_STOPPED, "write_stopped", GAUGE, 1, 0, "1 while RocksDB stops writes")              \
  X(FAILED, "failed", GAUGE, 1, 0, "1 once a write error put the database in the failed state") \
  X(HANDLES, "handles", GAUGE, 1, 0, "handles open on this engine in this process")            \
  X(UPTIME_SECONDS, "uptime_seconds", GAUGE, 1, 0, "seconds since the engine was opened")    \
  X(ROUND_TRIPS, "round_trips", COUNTER, 1, 0,                                                 \
    "requests sent to a database server and answered (server backends only)")                  \
  X(RETRIES, "retries", COUNTER, 1, 0,                                                         \
    "transactions retried after a serialization failure or deadlock (server backends only)")

/* X(ID, name, type, exposed, statistics, help): figures of each column family (label cf). */
#define QUARRY_CF_METRIC_MAP(X)                                                                \
  X(ESTIMATE_KEYS, "estimate_keys", GAUGE, 1, 0, "keys, estimated")                           \
  X(LIVE_SST_BYTES, "live_sst_bytes", GAUGE, 1, 0, "bytes of live table files")                \
  X(SST_BYTES, "sst_bytes", GAUGE, 1, 0, "bytes of all table files, obsolete ones included")  \
  X(MEMTABLE_BYTES, "memtable_bytes", GAUGE, 1, 0, "bytes of the memtables")                   \
  X(PENDING_COMPACTION_BYTES, "pending_compaction_bytes", GAUGE, 1, 0,                         \
    "bytes compaction still has to rewrite, estimated")                                        \
  X(L0_FILES, "l0_files", GAUGE, 1, 0, "table files at level 0 (many slow writes down)")

/* X(ID, name, type, exposed, statistics, help): latency histograms (Prometheus name
 * <namespace>_<name>_seconds). */
#define QUARRY_HISTOGRAM_MAP(X)                                                                \
  X(GET, "get", HISTOGRAM, 1, 0, "latency of point reads (get)")                               \
  X(MULTI_GET, "multi_get", HISTOGRAM, 1, 0, "latency of multi_get calls")                     \
  X(PUT, "put", HISTOGRAM, 1, 0, "latency of single-key puts")                                 \
  X(WRITE_BATCH, "write_batch", HISTOGRAM, 1, 0, "latency of batch commits (write)")           \
  X(ITERATOR_SEEK, "iterator_seek", HISTOGRAM, 1, 0,                                           \
    "latency of iterator positionings (first, last, seek, seek_for_prev, a walk's start)")

typedef enum {
#define QUARRY_XX(id, name, type, exposed, stats, help) QUARRY_METRIC_##id,
  QUARRY_METRIC_MAP(QUARRY_XX)
#undef QUARRY_XX
  QUARRY_METRIC_COUNT
} quarry_metric;

typedef enum {
#define QUARRY_XX(id, name, type, exposed, stats, help) QUARRY_CF_METRIC_##id,
  QUARRY_CF_METRIC_MAP(QUARRY_XX)
#undef QUARRY_XX
  QUARRY_CF_METRIC_COUNT
} quarry_cf_metric;

typedef enum {
#define QUARRY_XX(id, name, type, exposed, stats, help) QUARRY_HISTOGRAM_##id,
  QUARRY_HISTOGRAM_MAP(QUARRY_XX)
#undef QUARRY_XX
  QUARRY_HISTOGRAM_COUNT
} quarry_histogram_id;

typedef struct {
  const char *name;
  quarry_metric_type type;
  int exposed;    /* printed by quarry_metrics_prometheus under this name */
  int statistics; /* needs the open option statistics = true */
  const char *help;
} quarry_metric_info;

/* The descriptions, indexed by the enums above (static tables). *count receives the length. */
QUARRY_API const quarry_metric_info *quarry_metric_list(size_t *count);
QUARRY_API const quarry_metric_info *quarry_cf_metric_list(size_t *count);
QUARRY_API const quarry_metric_info *quarry_histogram_list(size_t *count);

/* Fixed log-scale buckets: bucket i counts latencies in (bound(i-1), bound(i)] with
 * bound(i) = 1 microsecond * 2^i for i < QUARRY_HISTOGRAM_BUCKETS - 1 (up to ~67 s); the last
 * bucket is +Inf. */
#define QUARRY_HISTOGRAM_BUCKETS 28
typedef struct {
  uint64_t count;                             /* observations (the sum of buckets) */
  double sum;                                 /* total seconds */
  uint64_t buckets[QUARRY_HISTOGRAM_BUCKETS]; /* per bucket, not cumulative */
} quarry_histogram;

/* Upper bound of bucket i in seconds (HUGE_VAL for the last); i out of range gives -1. */
QUARRY_API double quarry_histogram_bound(size_t i);
/* The q-quantile (0 <= q <= 1) in seconds, interpolated linearly inside its bucket as
 * Prometheus' histogram_quantile does; a quantile falling in the +Inf bucket gives the largest
 * finite bound. 0 for an empty histogram or a NULL h. */
QUARRY_API double quarry_histogram_quantile(const quarry_histogram *h, double q);

/* Takes a snapshot of db's engine: the counters and histograms (summed over the threads that
 * recorded them) and RocksDB's figures (properties of every live family, the block cache, the
 * size of the directory, statistics when on). Any mode; the data operations are not blocked.
 * The caller owns *out and frees it with quarry_metrics_free; it does not refer to db. */
QUARRY_API int quarry_db_metrics(quarry_db *db, quarry_metrics **out);
QUARRY_API void quarry_metrics_free(quarry_metrics *m);

/* A db-wide figure. QUARRY_ENOTSUPPORTED when it is not available (a statistics figure without
 * the statistics option; a property RocksDB did not report), then *value = 0. Counters are
 * integers held in a double (exact below 2^53). */
QUARRY_API int quarry_metrics_value(const quarry_metrics *m, quarry_metric id, double *value);
/* Failed data operations with this code (a QUARRY_E* value). */
QUARRY_API uint64_t quarry_metrics_errors(const quarry_metrics *m, int code);
/* A histogram of the snapshot (owned by m), NULL for an unknown id. */
QUARRY_API const quarry_histogram *quarry_metrics_histogram(const quarry_metrics *m,
                                                            quarry_histogram_id id);
/* Families of the snapshot (the live ones, "default" first) and their figures. Names are owned
 * by m. quarry_metrics_cf_value: as quarry_metrics_value; i out of range is QUARRY_EINVAL. */
QUARRY_API size_t quarry_metrics_cf_count(const quarry_metrics *m);
QUARRY_API const char *quarry_metrics_cf_name(const quarry_metrics *m, size_t i);
QUARRY_API int quarry_metrics_cf_value(const quarry_metrics *m, size_t i, quarry_cf_metric id,
                                       double *value);
/* 1 when the snapshot's engine records metrics (open option metrics), 2 when it also has
 * RocksDB statistics (open option statistics), 0 when neither; or-ed flags 1 and 2. */
QUARRY_API int quarry_metrics_flags(const quarry_metrics *m);

/* The snapshot in Prometheus' text exposition format 0.0.4: one HELP and one TYPE line per
 * metric, base units (seconds, bytes), counters named *_total, histograms as cumulative
 * *_bucket{le="..."} lines ending with le="+Inf" (equal to *_count) plus *_sum and *_count,
 * per-family figures labelled cf="<name>", errors labelled code="<name>". Names start with
 * ns followed by "_" (ns NULL: "quarry"; "": no prefix); ns must match [a-zA-Z_:][a-zA-Z0-9_:]*.
 * labels: NULL, or a NULL-terminated array of name, value pairs added to every sample; names
 * must match [a-zA-Z_][a-zA-Z0-9_]*, must not start with "__" and must not be le, cf or code;
 * values are escaped (backslash, double quote, newline). Bad ns or labels: QUARRY_EINVAL.
 * Figures that are not available are left out. First comes <ns>_build_info{version="...",
 * rocksdb_version="..."} 1 (version and rocksdb_version are reserved label names too); every
 * error code's series is there from the start, 0 until it happens. The caller frees *out with
 * free(). */
QUARRY_API int quarry_metrics_prometheus(const quarry_metrics *m, const char *ns,
                                         const char *const *labels, char **out);
/* As quarry_metrics_prometheus, with build_labels (NULL, or name, value pairs ending with NULL)
 * added to the <ns>_build_info sample only, after version and rocksdb_version: what a binding
 * knows of its own build (the Lua module adds lua_version). Their names follow the rules of
 * labels and must differ from the constant labels'. */
QUARRY_API int quarry_metrics_prometheus_ex(const quarry_metrics *m, const char *ns,
                                            const char *const *labels,
                                            const char *const *build_labels, char **out);

#ifdef __cplusplus
}
#endif
#endif /* QUARRY_H */

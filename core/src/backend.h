/* backend.h: the backend seam. A quarry_db is served by one backend (RocksDB directory, or a
 * PostgreSQL server URL); every public operation of quarry.h that takes a db or one of its
 * children goes through that backend's operations table. The public functions themselves are the
 * dispatchers in backend.c; backend_rocksdb.c gathers the RocksDB operations (implemented in
 * db.c, rw.c, iter.c, ... as q_rdb_*), backend_postgresql.c implements the PostgreSQL ones.
 * A handle knows its backend (quarry_db.be); a child knows it too (q_child.be, set when it is
 * linked), so a child closed with its db still dispatches to the right close. */
#ifndef QUARRY_BACKEND_H
#define QUARRY_BACKEND_H

#include "internal.h"

/* X(ret, field, public name, (params), (args), object): operations returning a value. object is
 * the first argument the dispatcher reads the backend from. */
#define Q_BACKEND_OPS(X)                                                                          \
  X(int, close, quarry_db_close, (quarry_db * db), (db), db)                                      \
  X(int, is_failed, quarry_db_is_failed, (const quarry_db *db), (db), db)                         \
  X(int, catch_up, quarry_db_catch_up, (quarry_db * db), (db), db)                                \
  X(int, cf, quarry_db_cf, (quarry_db * db, const char *name, quarry_cf **out), (db, name, out),  \
    db)                                                                                           \
  X(int, create_cf, quarry_db_create_cf, (quarry_db * db, const char *name, quarry_cf **out),     \
    (db, name, out), db)                                                                          \
  X(int, drop_cf, quarry_db_drop_cf, (quarry_db * db, const char *name), (db, name), db)          \
  X(int, cf_names, quarry_db_cf_names, (quarry_db * db, char ***names), (db, names), db)          \
  X(int, get, quarry_get,                                                                         \
    (quarry_db * db, quarry_cf * cf, const quarry_read_options *ropts, const char *key,           \
     size_t klen, quarry_value **out),                                                            \
    (db, cf, ropts, key, klen, out), db)                                                          \
  X(int, multi_get, quarry_multi_get,                                                             \
    (quarry_db * db, quarry_cf * cf, const quarry_read_options *ropts, size_t n,                  \
     const char *const *keys, const size_t *klens, quarry_value **values),                        \
    (db, cf, ropts, n, keys, klens, values), db)                                                  \
  X(int, put, quarry_put,                                                                         \
    (quarry_db * db, quarry_cf * cf, const quarry_write_options *wopts, const char *key,          \
     size_t klen, const char *val, size_t vlen),                                                  \
    (db, cf, wopts, key, klen, val, vlen), db)                                                    \
  X(int, del, quarry_delete,                                                                      \
    (quarry_db * db, quarry_cf * cf, const quarry_write_options *wopts, const char *key,          \
     size_t klen),                                                                                \
    (db, cf, wopts, key, klen), db)                                                               \
  X(int, delete_range, quarry_delete_range,                                                       \
    (quarry_db * db, quarry_cf * cf, const quarry_write_options *wopts, const char *from,         \
     size_t flen, const char *to, size_t tlen),                                                   \
    (db, cf, wopts, from, flen, to, tlen), db)                                                    \
  X(int, batch_new, quarry_batch_new, (quarry_db * db, quarry_batch **out), (db, out), db)        \
  X(int, write, quarry_db_write,                                                                  \
    (quarry_db * db, quarry_batch * b, const quarry_write_options *wopts), (db, b, wopts), db)    \
  X(int, snapshot_new, quarry_snapshot_new, (quarry_db * db, quarry_snapshot **out), (db, out),   \
    db)                                                                                           \
  X(int, iter_new, quarry_iter_new,                                                               \
    (quarry_db * db, quarry_cf * cf, const quarry_iter_options *iopts, quarry_iter **out),        \
    (db, cf, iopts, out), db)                                                                     \
  X(int, flush, quarry_db_flush, (quarry_db * db, quarry_cf * cf), (db, cf), db)                  \
  X(int, compact, quarry_db_compact,                                                              \
    (quarry_db * db, quarry_cf * cf, const char *from, size_t flen, const char *to, size_t tlen), \
    (db, cf, from, flen, to, tlen), db)                                                           \
  X(int, property, quarry_db_property,                                                            \
    (quarry_db * db, quarry_cf * cf, const char *name, char **out), (db, cf, name, out), db)      \
  X(int, approximate_size, quarry_db_approximate_size,                                            \
    (quarry_db * db, quarry_cf * cf, const char *from, size_t flen, const char *to, size_t tlen,  \
     uint64_t *bytes),                                                                            \
    (db, cf, from, flen, to, tlen, bytes), db)                                                    \
  X(int, size_on_disk, quarry_db_size_on_disk, (quarry_db * db, uint64_t * bytes), (db, bytes),   \
    db)                                                                                           \
  X(int, checkpoint, quarry_db_checkpoint, (quarry_db * db, const char *dir), (db, dir), db)      \
  X(int, verify, quarry_db_verify, (quarry_db * db, quarry_scan_report **out), (db, out), db)     \
  X(int, digest, quarry_db_digest,                                                                \
    (quarry_db * db, quarry_cf * cf, const quarry_snapshot *snap, quarry_scan_report **out),      \
    (db, cf, snap, out), db)                                                                      \
  X(int, metrics, quarry_db_metrics, (quarry_db * db, quarry_metrics **out), (db, out), db)       \
  X(int, backups_create, quarry_backups_create,                                                   \
    (quarry_backups * b, quarry_db * db, int flush, uint32_t *id), (b, db, flush, id), db)        \
  X(int, batch_put, quarry_batch_put,                                                             \
    (quarry_batch * b, quarry_cf * cf, const char *key, size_t klen, const char *val,             \
     size_t vlen),                                                                                \
    (b, cf, key, klen, val, vlen), b)                                                             \
  X(int, batch_delete, quarry_batch_delete,                                                       \
    (quarry_batch * b, quarry_cf * cf, const char *key, size_t klen), (b, cf, key, klen), b)      \
  X(int, batch_delete_range, quarry_batch_delete_range,                                           \
    (quarry_batch * b, quarry_cf * cf, const char *from, size_t flen, const char *to,             \
     size_t tlen),                                                                                \
    (b, cf, from, flen, to, tlen), b)                                                             \
  X(int, batch_count, quarry_batch_count, (const quarry_batch *b, size_t *count), (b, count), b)  \
  X(int, batch_data_size, quarry_batch_data_size, (const quarry_batch *b, size_t *bytes),         \
    (b, bytes), b)                                                                                \
  X(int, batch_clear, quarry_batch_clear, (quarry_batch * b), (b), b)                             \
  X(int, batch_is_closed, quarry_batch_is_closed, (const quarry_batch *b), (b), b)                \
  X(uint64_t, snapshot_sequence, quarry_snapshot_sequence, (const quarry_snapshot *s), (s), s)    \
  X(int, snapshot_is_closed, quarry_snapshot_is_closed, (const quarry_snapshot *s), (s), s)       \
  X(int, iter_first, quarry_iter_first, (quarry_iter * it), (it), it)                             \
  X(int, iter_last, quarry_iter_last, (quarry_iter * it), (it), it)                               \
  X(int, iter_seek, quarry_iter_seek, (quarry_iter * it, const char *key, size_t klen),           \
    (it, key, klen), it)                                                                          \
  X(int, iter_seek_for_prev, quarry_iter_seek_for_prev,                                           \
    (quarry_iter * it, const char *key, size_t klen), (it, key, klen), it)                        \
  X(int, iter_next, quarry_iter_next, (quarry_iter * it), (it), it)                               \
  X(int, iter_prev, quarry_iter_prev, (quarry_iter * it), (it), it)                               \
  X(int, iter_valid, quarry_iter_valid, (const quarry_iter *it), (it), it)                        \
  X(const char *, iter_key, quarry_iter_key, (const quarry_iter *it, size_t *len), (it, len), it) \
  X(const char *, iter_value, quarry_iter_value, (const quarry_iter *it, size_t *len), (it, len), \
    it)                                                                                           \
  X(int, iter_step, quarry_iter_step,                                                             \
    (quarry_iter * it, const char **key, size_t *klen, const char **val, size_t *vlen),           \
    (it, key, klen, val, vlen), it)                                                               \
  X(int, iter_is_closed, quarry_iter_is_closed, (const quarry_iter *it), (it), it)

/* X(field, public name, (params), (args), object): operations returning nothing. */
#define Q_BACKEND_VOID_OPS(X)                                                                     \
  X(batch_close, quarry_batch_close, (quarry_batch * b), (b), b)                                  \
  X(snapshot_close, quarry_snapshot_close, (quarry_snapshot * s), (s), s)                         \
  X(iter_close, quarry_iter_close, (quarry_iter * it), (it), it)

typedef struct q_backend {
  const char *name; /* "rocksdb", "postgresql" */
#define Q_FIELD(ret, field, pub, params, args, obj) ret(*field) params;
#define Q_VFIELD(field, pub, params, args, obj) void(*field) params;
  Q_BACKEND_OPS(Q_FIELD)
  Q_BACKEND_VOID_OPS(Q_VFIELD)
#undef Q_FIELD
#undef Q_VFIELD
} q_backend;

extern const q_backend q_backend_rocksdb;
extern const q_backend q_backend_postgresql;

/* The RocksDB backend's operations (db.c, cf.c, rw.c, batch.c, snapshot.c, iter.c,
 * maintenance.c, checkpoint.c, verify.c, metrics.c, backup.c): q_rdb_<field>. */
#define Q_RDB_DECL(ret, field, pub, params, args, obj) ret q_rdb_##field params;
#define Q_RDB_VDECL(field, pub, params, args, obj) void q_rdb_##field params;
Q_BACKEND_OPS(Q_RDB_DECL)
Q_BACKEND_VOID_OPS(Q_RDB_VDECL)
#undef Q_RDB_DECL
#undef Q_RDB_VDECL

/* The PostgreSQL backend's entry points that are not per handle (backend_postgresql.c). */
int q_pg_is_url(const char *path);
int q_pg_open(const char *url, const quarry_options *opts, quarry_db **out);
int q_pg_list_column_families(const char *url, char ***names);
int q_pg_destroy(const char *url);

#endif

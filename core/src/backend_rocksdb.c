/* backend_rocksdb.c: the RocksDB backend's operations table. The operations themselves stay in
 * the files of their concern (db.c, cf.c, rw.c, batch.c, snapshot.c, iter.c, maintenance.c,
 * checkpoint.c, verify.c, metrics.c, backup.c), named q_rdb_<operation>: the code paths are
 * those the core had before the seam, reached through one indirect call. */
#include "backend.h"

const q_backend q_backend_rocksdb = {
    "rocksdb",
#define Q_ENTRY(ret, field, pub, params, args, obj) q_rdb_##field,
#define Q_VENTRY(field, pub, params, args, obj) q_rdb_##field,
    Q_BACKEND_OPS(Q_ENTRY) Q_BACKEND_VOID_OPS(Q_VENTRY)
#undef Q_ENTRY
#undef Q_VENTRY
};

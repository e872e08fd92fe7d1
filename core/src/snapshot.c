/* snapshot.c: consistent read views, tracked as children of their db so that closing the db
 * releases them; a released snapshot stays allocated until its own close. */
#include "internal.h"

#include <stdlib.h>

int q_rdb_snapshot_new(quarry_db *db, quarry_snapshot **out) {
  quarry_snapshot *s;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "snapshot: out is NULL");
  *out = NULL;
  if ((rc = q_db_check(db, "snapshot")) != 0)
    return rc;
  /* RocksDB 7.8 hands a secondary a snapshot, then get ignores it (the latest value comes back),
   * multi_get honours it and iterators refuse it: a view that is not one. Refused here. */
  if (db->mode == Q_MODE_SECONDARY)
    return q_fail(QUARRY_ENOTSUPPORTED,
                  "snapshot: RocksDB cannot read a database opened secondary at a snapshot (get "
                  "would ignore it); for a fixed view open the database with mode = \"read_only\" "
                  "(it takes no LOCK and sees the database as of the open), or read the secondary "
                  "without a snapshot between catch_up calls");
  if ((s = calloc(1, sizeof *s)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  s->snap = rocksdb_create_snapshot(db->rdb);
  /* The 7.8 C API cannot read a snapshot's own sequence number; the latest sequence right after
   * creation equals it unless another thread wrote in between. */
  s->seq = rocksdb_get_latest_sequence_number(db->rdb);
  s->child.kind = Q_CHILD_SNAPSHOT;
  q_child_link(db, &s->child);
  *out = s;
  return 0;
}

void q_snapshot_release(quarry_snapshot *s) {
  if (s->snap && s->child.db)
    rocksdb_release_snapshot(s->child.db->rdb, s->snap);
  s->snap = NULL;
  s->seq = 0;
  q_child_unlink_locked(&s->child);
}

void q_rdb_snapshot_close(quarry_snapshot *s) {
  quarry_db *db;
  if (s == NULL)
    return;
  if ((db = s->child.db) != NULL) {
    pthread_mutex_lock(&db->lock);
    q_snapshot_release(s);
    pthread_mutex_unlock(&db->lock);
  }
  free(s);
}

uint64_t q_rdb_snapshot_sequence(const quarry_snapshot *s) {
  return s && s->snap ? s->seq : 0;
}

int q_rdb_snapshot_is_closed(const quarry_snapshot *s) { return s == NULL || s->snap == NULL; }

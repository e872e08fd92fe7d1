/* batch.c: write batches, atomic across the families of one db, tracked as children of their db
 * (closing the db frees their contents), and their commit (quarry_db_write, timed in metrics). */
#include "internal.h"

#include <stdlib.h>

int q_rdb_batch_new(quarry_db *db, quarry_batch **out) {
  quarry_batch *b;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "batch: out is NULL");
  *out = NULL;
  if ((rc = q_db_check(db, "batch")) != 0)
    return rc;
  if ((b = calloc(1, sizeof *b)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  b->wb = rocksdb_writebatch_create();
  b->child.kind = Q_CHILD_BATCH;
  q_child_link(db, &b->child);
  *out = b;
  return 0;
}

void q_batch_release(quarry_batch *b) {
  if (b->wb)
    rocksdb_writebatch_destroy(b->wb);
  b->wb = NULL;
  q_child_unlink_locked(&b->child);
}

void q_rdb_batch_close(quarry_batch *b) {
  quarry_db *db;
  if (b == NULL)
    return;
  if ((db = b->child.db) != NULL) {
    pthread_mutex_lock(&db->lock);
    q_batch_release(b);
    pthread_mutex_unlock(&db->lock);
  }
  free(b);
}

int q_rdb_batch_is_closed(const quarry_batch *b) { return b == NULL || b->wb == NULL; }

static int batch_target(quarry_batch *b, quarry_cf *cf, const char *op,
                        rocksdb_column_family_handle_t **h) {
  *h = NULL;
  if (b == NULL || b->wb == NULL || b->child.db == NULL)
    return q_fail(QUARRY_ECLOSED, "%s: the batch is closed", op);
  return q_cf_resolve(b->child.db, cf, op, h);
}

int q_rdb_batch_put(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen,
                     const char *val, size_t vlen) {
  rocksdb_column_family_handle_t *h;
  int rc;
  if ((rc = batch_target(b, cf, "batch_put", &h)) != 0 ||
      (rc = q_check_key("batch_put", klen)) != 0 || (rc = q_check_value("batch_put", vlen)) != 0)
    return rc;
  rocksdb_writebatch_put_cf(b->wb, h, key, klen, val, vlen);
  return 0;
}

int q_rdb_batch_delete(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen) {
  rocksdb_column_family_handle_t *h;
  int rc;
  if ((rc = batch_target(b, cf, "batch_delete", &h)) != 0 ||
      (rc = q_check_key("batch_delete", klen)) != 0)
    return rc;
  rocksdb_writebatch_delete_cf(b->wb, h, key, klen);
  return 0;
}

int q_rdb_batch_delete_range(quarry_batch *b, quarry_cf *cf, const char *from, size_t flen,
                              const char *to, size_t tlen) {
  rocksdb_column_family_handle_t *h;
  int rc;
  if ((rc = batch_target(b, cf, "batch_delete_range", &h)) != 0 ||
      (rc = q_check_range("batch_delete_range", from, flen, to, tlen)) != 0)
    return rc;
  rocksdb_writebatch_delete_range_cf(b->wb, h, from, flen, to, tlen);
  return 0;
}

int q_rdb_batch_count(const quarry_batch *b, size_t *count) {
  if (count)
    *count = 0;
  if (b == NULL || b->wb == NULL)
    return q_fail(QUARRY_ECLOSED, "batch_count: the batch is closed");
  if (count)
    *count = (size_t)rocksdb_writebatch_count(b->wb);
  return 0;
}

int q_rdb_batch_data_size(const quarry_batch *b, size_t *bytes) {
  size_t n = 0;
  if (bytes)
    *bytes = 0;
  if (b == NULL || b->wb == NULL)
    return q_fail(QUARRY_ECLOSED, "batch_data_size: the batch is closed");
  rocksdb_writebatch_data(b->wb, &n);
  if (bytes)
    *bytes = n;
  return 0;
}

int q_rdb_batch_clear(quarry_batch *b) {
  if (b == NULL || b->wb == NULL)
    return q_fail(QUARRY_ECLOSED, "batch_clear: the batch is closed");
  rocksdb_writebatch_clear(b->wb);
  return 0;
}

int q_rdb_write(quarry_db *db, quarry_batch *b, const quarry_write_options *wopts) {
  char *err = NULL;
  size_t bytes = 0;
  uint64_t t0;
  int rc;
  if ((rc = q_db_check(db, "write")) != 0)
    return rc;
  if ((rc = q_db_check_write(db, "write")) != 0)
    return q_count_error(db->m, rc);
  if (b != NULL && b->child.be != db->be) /* another backend's batch: another layout */
    return q_count_error(db->m,
                         q_fail(QUARRY_EINVAL, "write: the batch belongs to another database"));
  if (b == NULL || b->wb == NULL || b->child.db == NULL)
    return q_count_error(db->m, q_fail(QUARRY_ECLOSED, "write: the batch is closed"));
  if (b->child.db != db)
    return q_count_error(db->m,
                         q_fail(QUARRY_EINVAL, "write: the batch belongs to another database"));
  t0 = q_timer(db->m);
  rocksdb_write(db->rdb, q_write_options(db, wopts), b->wb, &err);
  q_observe(db->m, QUARRY_HISTOGRAM_WRITE_BATCH, t0);
  if (err)
    return q_count_error(db->m, q_db_write_failed(db, q_status_from_rocksdb(err)));
  if (db->m->on) {
    rocksdb_writebatch_data(b->wb, &bytes);
    q_count2(db->m, Q_C_KEYS_WRITTEN, (uint64_t)rocksdb_writebatch_count(b->wb),
             Q_C_WRITTEN_BYTES, bytes);
  }
  if (q_write_syncs(db, wopts))
    q_db_wal_synced(db);
  return 0;
}

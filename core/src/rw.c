/* rw.c: single-key reads and writes (get, multi_get, put, delete, delete_range) and the read and
 * write options they use: cached per db for the default cases, built per call otherwise. Each
 * operation records its counters and latency (metrics.c) once its arguments are checked. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

rocksdb_writeoptions_t *q_write_options(quarry_db *db, const quarry_write_options *w) {
  int sync, wal;
  q_write_mode(db, w, &sync, &wal);
  return db->write_opts[sync][wal];
}

int q_snapshot_check(quarry_db *db, const quarry_snapshot *s, const char *op) {
  /* another backend's snapshot has another layout: look at nothing past its q_child */
  if (s->child.be != db->be)
    return q_fail(QUARRY_EINVAL, "%s: the snapshot belongs to another database", op);
  if (s->snap == NULL || s->child.db == NULL)
    return q_fail(QUARRY_ECLOSED, "%s: the snapshot is closed", op);
  if (s->child.db != db)
    return q_fail(QUARRY_EINVAL, "%s: the snapshot belongs to another database", op);
  return 0;
}

int q_read_options(quarry_db *db, const quarry_read_options *r, const char *op,
                   rocksdb_readoptions_t **out, int *owned) {
  rocksdb_readoptions_t *ro;
  int rc;
  *out = NULL;
  *owned = 0;
  if (r == NULL || (r->snapshot == NULL && r->fill_cache < 0 && r->verify_checksums < 0)) {
    *out = db->read_default;
    return 0;
  }
  if (r->snapshot && (rc = q_snapshot_check(db, r->snapshot, op)) != 0)
    return rc;
  ro = rocksdb_readoptions_create();
  if (r->snapshot)
    rocksdb_readoptions_set_snapshot(ro, r->snapshot->snap);
  if (r->fill_cache >= 0)
    rocksdb_readoptions_set_fill_cache(ro, (unsigned char)(r->fill_cache != 0));
  if (r->verify_checksums >= 0)
    rocksdb_readoptions_set_verify_checksums(ro, (unsigned char)(r->verify_checksums != 0));
  *out = ro;
  *owned = 1;
  return 0;
}

int q_rdb_get(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts, const char *key,
               size_t klen, quarry_value **out) {
  rocksdb_column_family_handle_t *h;
  rocksdb_readoptions_t *ro;
  rocksdb_pinnableslice_t *ps;
  char *err = NULL;
  uint64_t t0;
  int rc, owned;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "get: out is NULL");
  *out = NULL;
  if ((rc = q_cf_resolve(db, cf, "get", &h)) != 0)
    return rc;
  if ((rc = q_check_key("get", klen)) != 0)
    return q_count_error(db->m, rc);
  if ((rc = q_read_options(db, ropts, "get", &ro, &owned)) != 0)
    return q_count_error(db->m, rc);
  t0 = q_timer(db->m);
  ps = rocksdb_get_pinned_cf(db->rdb, ro, h, key, klen, &err);
  q_observe(db->m, QUARRY_HISTOGRAM_GET, t0);
  if (owned)
    rocksdb_readoptions_destroy(ro);
  if (err) {
    if (ps)
      rocksdb_pinnableslice_destroy(ps);
    return q_count_error(db->m, q_status_from_rocksdb(err));
  }
  if (ps) {
    size_t vlen = 0;
    rocksdb_pinnableslice_value(ps, &vlen);
    q_count2(db->m, Q_C_KEYS_READ, 1, Q_C_READ_BYTES, vlen);
  }
  *out = ps ? Q_VALUE(ps) : NULL;
  return 0;
}

quarry_value *q_heap_value_new(const char *data, size_t len) {
  q_heap_value *h = malloc(sizeof *h + (len ? len : 1));
  if (h == NULL)
    return NULL;
  h->len = len;
  if (len)
    memcpy(h->data, data, len);
  return (quarry_value *)(void *)((uintptr_t)(void *)h | 1u);
}

const char *quarry_value_data(const quarry_value *v, size_t *len) {
  if (v && Q_VALUE_IS_HEAP(v)) {
    const q_heap_value *h = Q_HEAP(v);
    if (len)
      *len = h->len;
    return h->data;
  }
  const rocksdb_pinnableslice_t *ps = (const rocksdb_pinnableslice_t *)(const void *)v;
  size_t n = 0;
  const char *p = NULL;
  if (ps)
    p = rocksdb_pinnableslice_value(ps, &n);
  if (len)
    *len = n;
  return p;
}

void quarry_value_free(quarry_value *v) {
  if (v && Q_VALUE_IS_HEAP(v))
    free(Q_HEAP(v));
  else if (v)
    rocksdb_pinnableslice_destroy(Q_PINNED(v));
}

int q_rdb_multi_get(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts, size_t n,
                     const char *const *keys, const size_t *klens, quarry_value **values) {
  rocksdb_column_family_handle_t *h;
  rocksdb_readoptions_t *ro;
  rocksdb_pinnableslice_t **ps;
  char **errs;
  size_t i, found = 0, bytes = 0;
  uint64_t t0;
  int rc, owned;
  if (values == NULL && n > 0)
    return q_fail(QUARRY_EINVAL, "multi_get: values is NULL");
  for (i = 0; i < n; i++)
    values[i] = NULL;
  if ((rc = q_cf_resolve(db, cf, "multi_get", &h)) != 0)
    return rc;
  if (n == 0)
    return 0;
  if (keys == NULL || klens == NULL)
    return q_count_error(db->m, q_fail(QUARRY_EINVAL, "multi_get: keys or klens is NULL"));
  for (i = 0; i < n; i++)
    if ((rc = q_check_key("multi_get", klens[i])) != 0)
      return q_count_error(db->m, rc);
  ps = calloc(n, sizeof *ps);
  errs = calloc(n, sizeof *errs);
  if (ps == NULL || errs == NULL) {
    free(ps);
    free(errs);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  if ((rc = q_read_options(db, ropts, "multi_get", &ro, &owned)) != 0) {
    free(ps);
    free(errs);
    return q_count_error(db->m, rc);
  }
  t0 = q_timer(db->m);
  rocksdb_batched_multi_get_cf(db->rdb, ro, h, n, keys, klens, ps, errs, 0);
  q_observe(db->m, QUARRY_HISTOGRAM_MULTI_GET, t0);
  q_count(db->m, Q_C_MULTI_GET_KEYS, n);
  if (owned)
    rocksdb_readoptions_destroy(ro);
  for (i = 0; i < n; i++) {
    if (errs[i] && rc == 0)
      rc = q_status_from_rocksdb(errs[i]);
    else if (errs[i])
      rocksdb_free(errs[i]);
  }
  for (i = 0; i < n; i++) {
    if (rc == 0 && ps[i]) {
      size_t vlen = 0;
      rocksdb_pinnableslice_value(ps[i], &vlen);
      found++;
      bytes += vlen;
    }
    if (rc == 0)
      values[i] = ps[i] ? Q_VALUE(ps[i]) : NULL;
    else if (ps[i])
      rocksdb_pinnableslice_destroy(ps[i]);
  }
  free(ps);
  free(errs);
  if (found)
    q_count2(db->m, Q_C_KEYS_READ, found, Q_C_READ_BYTES, bytes);
  return q_count_error(db->m, rc);
}

/* Single puts and deletes write through a batch the handle keeps and clears between uses,
 * where rocksdb_put_cf / rocksdb_delete_cf (DB::Put, DB::Delete) build, allocate and free a
 * write batch per call; the same write otherwise (db_bench writes this way). A thread takes the
 * batch with an atomic exchange; one finding it taken makes a batch of its own for the call. A
 * batch grown past Q_PUT_BATCH_KEEP (a large value) is freed rather than kept. callgrind: about
 * 270 instructions less per put of a 100-byte value. */
#define Q_PUT_BATCH_KEEP ((size_t)1 << 20)

static rocksdb_writebatch_t *put_batch_take(quarry_db *db) {
  rocksdb_writebatch_t *wb = atomic_exchange_explicit(&db->put_batch, NULL, memory_order_acquire);
  return wb ? wb : rocksdb_writebatch_create();
}

static void put_batch_give(quarry_db *db, rocksdb_writebatch_t *wb) {
  size_t size = 0;
  rocksdb_writebatch_data(wb, &size);
  if (size > Q_PUT_BATCH_KEEP) {
    rocksdb_writebatch_destroy(wb);
    return;
  }
  rocksdb_writebatch_clear(wb);
  wb = atomic_exchange_explicit(&db->put_batch, wb, memory_order_release);
  if (wb) /* another thread gave one back meanwhile */
    rocksdb_writebatch_destroy(wb);
}

int q_rdb_put(quarry_db *db, quarry_cf *cf, const quarry_write_options *wopts, const char *key,
               size_t klen, const char *val, size_t vlen) {
  rocksdb_column_family_handle_t *h;
  rocksdb_writebatch_t *wb;
  char *err = NULL;
  uint64_t t0;
  int rc;
  if ((rc = q_cf_resolve(db, cf, "put", &h)) != 0)
    return rc;
  if ((rc = q_db_check_write(db, "put")) != 0 || (rc = q_check_key("put", klen)) != 0 ||
      (rc = q_check_value("put", vlen)) != 0)
    return q_count_error(db->m, rc);
  t0 = q_timer(db->m);
  wb = put_batch_take(db);
  rocksdb_writebatch_put_cf(wb, h, key, klen, val, vlen);
  rocksdb_write(db->rdb, q_write_options(db, wopts), wb, &err);
  put_batch_give(db, wb);
  q_observe(db->m, QUARRY_HISTOGRAM_PUT, t0);
  if (err)
    return q_count_error(db->m, q_db_write_failed(db, q_status_from_rocksdb(err)));
  q_count2(db->m, Q_C_KEYS_WRITTEN, 1, Q_C_WRITTEN_BYTES, klen + vlen);
  if (q_write_syncs(db, wopts))
    q_db_wal_synced(db);
  return 0;
}

int q_rdb_del(quarry_db *db, quarry_cf *cf, const quarry_write_options *wopts,
                  const char *key, size_t klen) {
  rocksdb_column_family_handle_t *h;
  rocksdb_writebatch_t *wb;
  char *err = NULL;
  int rc;
  if ((rc = q_cf_resolve(db, cf, "delete", &h)) != 0)
    return rc;
  if ((rc = q_db_check_write(db, "delete")) != 0 || (rc = q_check_key("delete", klen)) != 0)
    return q_count_error(db->m, rc);
  wb = put_batch_take(db);
  rocksdb_writebatch_delete_cf(wb, h, key, klen);
  rocksdb_write(db->rdb, q_write_options(db, wopts), wb, &err);
  put_batch_give(db, wb);
  if (err)
    return q_count_error(db->m, q_db_write_failed(db, q_status_from_rocksdb(err)));
  q_count(db->m, Q_C_DELETES, 1);
  q_count2(db->m, Q_C_KEYS_WRITTEN, 1, Q_C_WRITTEN_BYTES, klen);
  if (q_write_syncs(db, wopts))
    q_db_wal_synced(db);
  return 0;
}

/* Bytewise order, the default comparator's. */
int q_key_cmp(const char *a, size_t alen, const char *b, size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;
  if (c)
    return c;
  return alen < blen ? -1 : alen > blen ? 1 : 0;
}

int q_check_range(const char *op, const char *from, size_t flen, const char *to, size_t tlen) {
  int rc;
  if (from == NULL || to == NULL)
    return q_fail(QUARRY_EINVAL, "%s: both range bounds are required", op);
  if ((rc = q_check_key(op, flen)) != 0 || (rc = q_check_key(op, tlen)) != 0)
    return rc;
  if (q_key_cmp(from, flen, to, tlen) >= 0)
    return q_fail(QUARRY_EINVAL, "%s: the range start must sort before its end", op);
  return 0;
}

int q_rdb_delete_range(quarry_db *db, quarry_cf *cf, const quarry_write_options *wopts,
                        const char *from, size_t flen, const char *to, size_t tlen) {
  rocksdb_column_family_handle_t *h;
  char *err = NULL;
  int rc;
  if ((rc = q_cf_resolve(db, cf, "delete_range", &h)) != 0)
    return rc;
  if ((rc = q_db_check_write(db, "delete_range")) != 0 ||
      (rc = q_check_range("delete_range", from, flen, to, tlen)) != 0)
    return q_count_error(db->m, rc);
  rocksdb_delete_range_cf(db->rdb, q_write_options(db, wopts), h, from, flen, to, tlen, &err);
  if (err)
    return q_count_error(db->m, q_db_write_failed(db, q_status_from_rocksdb(err)));
  q_count(db->m, Q_C_DELETE_RANGES, 1);
  q_count2(db->m, Q_C_KEYS_WRITTEN, 1, Q_C_WRITTEN_BYTES, flen + tlen);
  if (q_write_syncs(db, wopts))
    q_db_wal_synced(db);
  return 0;
}

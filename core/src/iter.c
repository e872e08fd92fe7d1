/* iter.c: iterators over one family, with owned copies of their bounds (RocksDB borrows them),
 * prefix ranges turned into bounds, and quarry_iter_step's direction and limit. Positionings are
 * timed and steps counted in the metrics of the iterator's db. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static char *dup_bytes(const char *p, size_t n) {
  char *c = malloc(n ? n : 1);
  if (c && n)
    memcpy(c, p, n);
  return c;
}

/* The smallest key greater than every key starting with prefix: drop trailing 0xFF bytes, then
 * increment the last byte. Returns 0 (no such key: the prefix is all 0xFF, or empty) or 1. */
static int prefix_successor(const char *prefix, size_t plen, char **out, size_t *olen) {
  size_t n = plen;
  while (n > 0 && (unsigned char)prefix[n - 1] == 0xFF)
    n--;
  if (n == 0)
    return 0;
  *out = dup_bytes(prefix, n);
  if (*out == NULL)
    return -1;
  (*out)[n - 1] = (char)((unsigned char)(*out)[n - 1] + 1);
  *olen = n;
  return 1;
}

/* Replaces the owned bound *cur with candidate when it is tighter (lower: larger; upper:
 * smaller). candidate is copied. */
static int tighten(char **cur, size_t *curlen, const char *cand, size_t candlen, int lower) {
  int c;
  char *copy;
  if (*cur) {
    c = q_key_cmp(cand, candlen, *cur, *curlen);
    if (lower ? c <= 0 : c >= 0)
      return 0;
  }
  if ((copy = dup_bytes(cand, candlen)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  free(*cur);
  *cur = copy;
  *curlen = candlen;
  return 0;
}

int q_iter_bounds(const quarry_iter_options *o, char **lower, size_t *lower_len, char **upper,
                  size_t *upper_len, int *empty) {
  int rc;
  *lower = *upper = NULL;
  *lower_len = *upper_len = 0;
  *empty = 0;
  if (o->from && (rc = tighten(lower, lower_len, o->from, o->from_len, 1)) != 0)
    goto fail;
  if (o->to && (rc = tighten(upper, upper_len, o->to, o->to_len, 0)) != 0)
    goto fail;
  if (o->prefix) {
    char *succ = NULL;
    size_t slen = 0;
    int has;
    if ((rc = tighten(lower, lower_len, o->prefix, o->prefix_len, 1)) != 0)
      goto fail;
    has = prefix_successor(o->prefix, o->prefix_len, &succ, &slen);
    if (has < 0) {
      rc = q_fail(QUARRY_ENOMEM, "out of memory");
      goto fail;
    }
    if (has) {
      rc = tighten(upper, upper_len, succ, slen, 0);
      free(succ);
      if (rc)
        goto fail;
    }
  }
  if (*lower && *upper && q_key_cmp(*lower, *lower_len, *upper, *upper_len) >= 0)
    *empty = 1;
  return 0;
fail:
  free(*lower);
  free(*upper);
  *lower = *upper = NULL;
  return rc;
}

static void iter_free(quarry_iter *it) {
  free(it->lower);
  free(it->upper);
  free(it);
}

int q_rdb_iter_new(quarry_db *db, quarry_cf *cf, const quarry_iter_options *o, quarry_iter **out) {
  static const quarry_iter_options defaults = QUARRY_ITER_OPTIONS_INIT;
  rocksdb_column_family_handle_t *h;
  quarry_iter *it;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "iterator: out is NULL");
  *out = NULL;
  if ((rc = q_cf_resolve(db, cf, "iterator", &h)) != 0)
    return rc;
  if (o == NULL)
    o = &defaults;
  if (o->snapshot && (rc = q_snapshot_check(db, o->snapshot, "iterator")) != 0)
    return rc;
  if ((it = calloc(1, sizeof *it)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  it->reverse = o->reverse != 0;
  it->keys_only = o->keys_only != 0;
  it->limit = o->limit;

  if ((rc = q_iter_bounds(o, &it->lower, &it->lower_len, &it->upper, &it->upper_len,
                          &it->empty)) != 0)
    goto fail;

  /* RocksDB copies the read options into the iterator it creates and borrows only the bounds,
   * which live in it->ro (the C API keeps their slices there). An iterator without bounds,
   * snapshot, fill_cache or readahead is made from the db's shared default options and owns
   * none: no options object built and destroyed per iterator. */
  if (it->lower || it->upper || o->fill_cache >= 0 || o->snapshot || db->opts->readahead_mb > 0) {
    it->ro = rocksdb_readoptions_create();
    if (it->lower)
      rocksdb_readoptions_set_iterate_lower_bound(it->ro, it->lower, it->lower_len);
    if (it->upper)
      rocksdb_readoptions_set_iterate_upper_bound(it->ro, it->upper, it->upper_len);
    if (o->fill_cache >= 0)
      rocksdb_readoptions_set_fill_cache(it->ro, (unsigned char)(o->fill_cache != 0));
    if (o->snapshot)
      rocksdb_readoptions_set_snapshot(it->ro, o->snapshot->snap);
    if (db->opts->readahead_mb > 0)
      rocksdb_readoptions_set_readahead_size(it->ro, (size_t)db->opts->readahead_mb << 20);
  }
  it->it = rocksdb_create_iterator_cf(db->rdb, it->ro ? it->ro : db->read_default, h);
  it->child.kind = Q_CHILD_ITER;
  q_child_link(db, &it->child);
  *out = it;
  return 0;
fail:
  iter_free(it);
  return rc;
}

void q_iter_release(quarry_iter *it) {
  if (it->it)
    rocksdb_iter_destroy(it->it);
  if (it->ro)
    rocksdb_readoptions_destroy(it->ro);
  it->it = NULL;
  it->ro = NULL;
  q_child_unlink_locked(&it->child);
}

void q_rdb_iter_close(quarry_iter *it) {
  quarry_db *db;
  if (it == NULL)
    return;
  if ((db = it->child.db) != NULL) {
    pthread_mutex_lock(&db->lock);
    q_iter_release(it);
    pthread_mutex_unlock(&db->lock);
  }
  iter_free(it);
}

int q_rdb_iter_is_closed(const quarry_iter *it) { return it == NULL || it->it == NULL; }

static int live(const quarry_iter *it, const char *op) {
  if (it == NULL || it->it == NULL)
    return q_fail(QUARRY_ECLOSED, "%s: the iterator is closed", op);
  return 0;
}

/* After a move: RocksDB's status, if any. */
static int status(quarry_iter *it) {
  char *err = NULL;
  if (rocksdb_iter_valid(it->it))
    return 0;
  rocksdb_iter_get_error(it->it, &err);
  return q_status_from_rocksdb(err);
}

typedef enum { MOVE_FIRST, MOVE_LAST, MOVE_SEEK, MOVE_SEEK_PREV, MOVE_NEXT, MOVE_PREV } move_kind;

static int move(quarry_iter *it, move_kind m, const char *key, size_t klen, const char *op) {
  q_metrics *qm;
  uint64_t t0;
  int rc, step = m == MOVE_NEXT || m == MOVE_PREV;
  if ((rc = live(it, op)) != 0)
    return rc;
  qm = it->child.db->m; /* a live iterator has its db */
  if (key && (rc = q_check_key(op, klen)) != 0)
    return q_count_error(qm, rc);
  /* An iterator whose bounds exclude every key is never on an entry: stepping it is the same
   * misuse as stepping an unpositioned one (and RocksDB would assert on the latter). */
  if (step && (it->empty || !rocksdb_iter_valid(it->it)))
    return q_count_error(
        qm, q_fail(QUARRY_EINVAL, "%s: the iterator is not positioned on an entry", op));
  if (it->empty) {
    it->started = Q_IT_PLACED;
    return 0;
  }
  t0 = step ? 0 : q_timer(qm);
  switch (m) {
  case MOVE_FIRST: rocksdb_iter_seek_to_first(it->it); break;
  case MOVE_LAST: rocksdb_iter_seek_to_last(it->it); break;
  case MOVE_SEEK: rocksdb_iter_seek(it->it, key, klen); break;
  case MOVE_SEEK_PREV: rocksdb_iter_seek_for_prev(it->it, key, klen); break;
  case MOVE_NEXT: rocksdb_iter_next(it->it); break;
  case MOVE_PREV: rocksdb_iter_prev(it->it); break;
  }
  if (step)
    q_count(qm, Q_C_ITER_STEPS, 1);
  else
    q_observe(qm, QUARRY_HISTOGRAM_ITERATOR_SEEK, t0);
  it->started = step ? Q_IT_STEPPED : Q_IT_PLACED;
  return q_count_error(qm, status(it));
}

int q_rdb_iter_first(quarry_iter *it) { return move(it, MOVE_FIRST, NULL, 0, "iter_first"); }
int q_rdb_iter_last(quarry_iter *it) { return move(it, MOVE_LAST, NULL, 0, "iter_last"); }
int q_rdb_iter_next(quarry_iter *it) { return move(it, MOVE_NEXT, NULL, 0, "iter_next"); }
int q_rdb_iter_prev(quarry_iter *it) { return move(it, MOVE_PREV, NULL, 0, "iter_prev"); }

int q_rdb_iter_seek(quarry_iter *it, const char *key, size_t klen) {
  if (key == NULL)
    return q_fail(QUARRY_EINVAL, "iter_seek: key is NULL");
  return move(it, MOVE_SEEK, key, klen, "iter_seek");
}

int q_rdb_iter_seek_for_prev(quarry_iter *it, const char *key, size_t klen) {
  if (key == NULL)
    return q_fail(QUARRY_EINVAL, "iter_seek_for_prev: key is NULL");
  return move(it, MOVE_SEEK_PREV, key, klen, "iter_seek_for_prev");
}

int q_rdb_iter_valid(const quarry_iter *it) {
  return it && it->it && !it->empty && rocksdb_iter_valid(it->it);
}

const char *q_rdb_iter_key(const quarry_iter *it, size_t *len) {
  if (len)
    *len = 0;
  if (!quarry_iter_valid(it))
    return NULL;
  return rocksdb_iter_key(it->it, len);
}

const char *q_rdb_iter_value(const quarry_iter *it, size_t *len) {
  if (len)
    *len = 0;
  if (!quarry_iter_valid(it))
    return NULL;
  return rocksdb_iter_value(it->it, len);
}

int q_rdb_iter_step(quarry_iter *it, const char **key, size_t *klen, const char **val,
                     size_t *vlen) {
  q_metrics *qm;
  uint64_t t0;
  size_t kl = 0, vl = 0;
  int rc = 0;
  if (key)
    *key = NULL;
  if (klen)
    *klen = 0;
  if (val)
    *val = NULL;
  if (vlen)
    *vlen = 0;
  if ((rc = live(it, "iter_step")) != 0)
    return rc;
  qm = it->child.db->m;
  if (it->limit >= 0 && it->seen >= it->limit)
    return 0;
  if (it->empty)
    return 0;
  switch (it->started) {
  case Q_IT_FRESH:
    t0 = q_timer(qm);
    if (it->reverse)
      rocksdb_iter_seek_to_last(it->it);
    else
      rocksdb_iter_seek_to_first(it->it);
    q_observe(qm, QUARRY_HISTOGRAM_ITERATOR_SEEK, t0);
    break;
  case Q_IT_STEPPED:
    if (!rocksdb_iter_valid(it->it))
      return q_count_error(qm, status(it));
    if (it->reverse)
      rocksdb_iter_prev(it->it);
    else
      rocksdb_iter_next(it->it);
    q_count(qm, Q_C_ITER_STEPS, 1);
    break;
  default: /* placed by first/last/seek: return the current entry */
    break;
  }
  it->started = Q_IT_STEPPED;
  if (!rocksdb_iter_valid(it->it)) /* the end, or an error: status() tells */
    return (rc = status(it)) != 0 ? q_count_error(qm, rc) : 0;
  it->seen++;
  {
    const char *k = rocksdb_iter_key(it->it, &kl);
    const char *v = it->keys_only ? NULL : rocksdb_iter_value(it->it, &vl);
    if (key)
      *key = k;
    if (klen)
      *klen = kl;
    if (val)
      *val = v;
    if (vlen)
      *vlen = vl;
  }
  q_count2(qm, Q_C_KEYS_READ, 1, Q_C_READ_BYTES, kl + vl);
  return 1;
}

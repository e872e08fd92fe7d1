/* test_children.c: closing a db with live iterators, snapshots and batches releases them first
 * (RocksDB 7.8 aborts otherwise); the children stay usable handles that report ECLOSED and
 * close cleanly afterwards, in any order. */
#include "check.h"

TEST(close_with_live_children) {
  const char *dir = check_tmpdir(0, "children");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  quarry_cf *cf;
  quarry_iter *it1, *it2, *it3;
  quarry_snapshot *s1, *s2;
  quarry_batch *b1, *b2;
  quarry_read_options ro = QUARRY_READ_OPTIONS_INIT;
  const char *k, *v;
  size_t kl, vl, n;
  int i;

  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "f"));
  CHECK_OK(quarry_db_open(path, o, &db));
  CHECK_OK(quarry_db_cf(db, "f", &cf));
  for (i = 0; i < 100; i++) {
    char key[8];
    snprintf(key, sizeof key, "k%03d", i);
    PUT(db, NULL, key, "v");
    PUT(db, cf, key, "w");
  }

  /* children of every kind, some positioned mid-walk, one on a family */
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it1));
  CHECK_EQ_INT(quarry_iter_step(it1, &k, &kl, &v, &vl), 1);
  CHECK_OK(quarry_iter_new(db, cf, NULL, &it2));
  CHECK_OK(quarry_iter_seek(it2, "k050", 4));
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it3));
  CHECK_OK(quarry_snapshot_new(db, &s1));
  CHECK_OK(quarry_snapshot_new(db, &s2));
  CHECK_OK(quarry_batch_new(db, &b1));
  CHECK_OK(quarry_batch_put(b1, cf, "x", 1, "y", 1));
  CHECK_OK(quarry_batch_new(db, &b2));
  CHECK_EQ_INT(quarry_db_live_iterators(db), 3);
  CHECK_EQ_INT(quarry_db_live_snapshots(db), 2);
  CHECK_EQ_INT(quarry_db_live_batches(db), 2);

  /* closing one child before the db unlinks it */
  quarry_iter_close(it3);
  quarry_snapshot_close(s2);
  quarry_batch_close(b2);
  CHECK_EQ_INT(quarry_db_live_iterators(db), 2);
  CHECK_EQ_INT(quarry_db_live_snapshots(db), 1);
  CHECK_EQ_INT(quarry_db_live_batches(db), 1);

  /* a family dropped while an iterator over it lives */
  CHECK_OK(quarry_db_drop_cf(db, "f"));
  CHECK(quarry_iter_valid(it2));
  CHECK_OK(quarry_iter_next(it2));
  k = quarry_iter_key(it2, &kl);
  CHECK_MEM(k, kl, "k051", 4);

  /* the db closes first: no abort */
  CHECK_ALLOW_LIVE_CHILDREN();
  CHECK_OK(quarry_db_close(db));
  quarry_options_free(o);

  /* the children report being closed */
  CHECK(quarry_iter_is_closed(it1));
  CHECK(!quarry_iter_valid(it1));
  CHECK(quarry_iter_key(it1, &kl) == NULL);
  CHECK_ERR(quarry_iter_step(it1, &k, &kl, &v, &vl), QUARRY_ECLOSED);
  CHECK_ERR(quarry_iter_seek(it2, "a", 1), QUARRY_ECLOSED);
  CHECK_ERR(quarry_iter_first(it2), QUARRY_ECLOSED);
  CHECK(quarry_snapshot_is_closed(s1));
  CHECK_EQ_INT(quarry_snapshot_sequence(s1), 0);
  CHECK(quarry_batch_is_closed(b1));
  CHECK_ERR(quarry_batch_put(b1, NULL, "a", 1, "b", 1), QUARRY_ECLOSED);
  CHECK_ERR(quarry_batch_count(b1, &n), QUARRY_ECLOSED);
  CHECK_ERR(quarry_batch_clear(b1), QUARRY_ECLOSED);

  /* a closed snapshot passed to a read of a live db */
  CHECK_OK(quarry_db_open(path, NULL, &db));
  ro.snapshot = s1;
  {
    quarry_value *val;
    quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
    quarry_iter *it;
    CHECK_ERR(quarry_get(db, NULL, &ro, "k001", 4, &val), QUARRY_ECLOSED);
    io.snapshot = s1;
    CHECK_ERR(quarry_iter_new(db, NULL, &io, &it), QUARRY_ECLOSED);
    CHECK_ERR(quarry_db_write(db, b1, NULL), QUARRY_ECLOSED);
  }
  CHECK_GET(db, NULL, "k001", "v");
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  /* and close cleanly afterwards, twice over for NULL */
  quarry_iter_close(it1);
  quarry_iter_close(it2);
  quarry_snapshot_close(s1);
  quarry_batch_close(b1);

  check_rmrf(dir);
}

/* test_batch.c: batches are atomic across families, persist across a reopen, support
 * delete_range; write-side guards (closed batch, another db's batch, bad ranges). */
#include "check.h"

TEST(atomic_across_families_and_guards) {
  const char *dir = check_tmpdir(0, "batch");
  const char *path = check_path(0, dir, "db");
  const char *path2 = check_path(1, dir, "db2");
  quarry_options *o;
  quarry_db *db, *db2;
  quarry_cf *a, *b, *c, *other;
  quarry_batch *bt, *bt2;
  size_t n;
  char key[16];
  int i;
  quarry_write_options sync = {1, 1};

  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "a"));
  CHECK_OK(quarry_options_add_column_family(o, "b"));
  CHECK_OK(quarry_options_add_column_family(o, "c"));
  CHECK_OK(quarry_db_open(path, o, &db));
  CHECK_OK(quarry_db_cf(db, "a", &a));
  CHECK_OK(quarry_db_cf(db, "b", &b));
  CHECK_OK(quarry_db_cf(db, "c", &c));

  /* nothing visible before the write, everything after */
  CHECK_OK(quarry_batch_new(db, &bt));
  CHECK_EQ_INT(quarry_db_live_batches(db), 1);
  CHECK_OK(quarry_batch_put(bt, a, "k1", 2, "va", 2));
  CHECK_OK(quarry_batch_put(bt, b, "k1", 2, "vb", 2));
  CHECK_OK(quarry_batch_put(bt, c, "k1", 2, "vc", 2));
  CHECK_OK(quarry_batch_put(bt, NULL, "k1", 2, "vd", 2));
  CHECK_OK(quarry_batch_count(bt, &n));
  CHECK_EQ_INT(n, 4);
  CHECK_OK(quarry_batch_data_size(bt, &n));
  CHECK(n > 0);
  CHECK_GET(db, a, "k1", NULL);
  CHECK_GET(db, c, "k1", NULL);
  CHECK_OK(quarry_db_write(db, bt, &sync));
  CHECK_GET(db, a, "k1", "va");
  CHECK_GET(db, b, "k1", "vb");
  CHECK_GET(db, c, "k1", "vc");
  CHECK_GET(db, NULL, "k1", "vd");
  /* the batch keeps its contents; clear empties it */
  CHECK_OK(quarry_batch_count(bt, &n));
  CHECK_EQ_INT(n, 4);
  CHECK_OK(quarry_batch_clear(bt));
  CHECK_OK(quarry_batch_count(bt, &n));
  CHECK_EQ_INT(n, 0);

  /* deletes and delete_range in a batch, across families */
  for (i = 0; i < 20; i++) {
    snprintf(key, sizeof key, "r%02d", i);
    CHECK_OK(quarry_batch_put(bt, a, key, strlen(key), "x", 1));
    CHECK_OK(quarry_batch_put(bt, b, key, strlen(key), "y", 1));
  }
  CHECK_OK(quarry_db_write(db, bt, NULL));
  CHECK_OK(quarry_batch_clear(bt));
  CHECK_OK(quarry_batch_delete_range(bt, a, "r05", 3, "r10", 3));
  CHECK_OK(quarry_batch_delete(bt, b, "r00", 3));
  CHECK_OK(quarry_batch_delete(bt, c, "k1", 2));
  CHECK_ERR(quarry_batch_delete_range(bt, a, "r10", 3, "r05", 3), QUARRY_EINVAL);
  CHECK_ERR(quarry_batch_delete_range(bt, a, "r10", 3, "r10", 3), QUARRY_EINVAL);
  CHECK_OK(quarry_db_write(db, bt, NULL));
  CHECK_GET(db, a, "r04", "x");
  CHECK_GET(db, a, "r05", NULL);
  CHECK_GET(db, a, "r09", NULL);
  CHECK_GET(db, a, "r10", "x");
  CHECK_GET(db, b, "r00", NULL);
  CHECK_GET(db, b, "r05", "y");
  CHECK_GET(db, c, "k1", NULL);

  /* delete_range outside a batch, and its guards */
  CHECK_OK(quarry_delete_range(db, b, NULL, "r10", 3, "r15", 3));
  CHECK_GET(db, b, "r09", "y");
  CHECK_GET(db, b, "r12", NULL);
  CHECK_GET(db, b, "r15", "y");
  CHECK_ERR(quarry_delete_range(db, b, NULL, "r15", 3, "r10", 3), QUARRY_EINVAL);
  CHECK_OK(quarry_delete(db, b, NULL, "r15", 3));
  CHECK_GET(db, b, "r15", NULL);

  /* a batch or family of another database is refused */
  CHECK_OK(quarry_options_add_column_family(o, "z"));
  CHECK_OK(quarry_db_open(path2, o, &db2));
  CHECK_OK(quarry_db_cf(db2, "z", &other));
  CHECK_ERR(quarry_batch_put(bt, other, "k", 1, "v", 1), QUARRY_EINVAL);
  CHECK_OK(quarry_batch_new(db2, &bt2));
  CHECK_ERR(quarry_db_write(db, bt2, NULL), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "another database");
  quarry_batch_close(bt2);
  CHECK_NO_CHILDREN(db2);
  CHECK_OK(quarry_db_close(db2));
  quarry_options_free(o);

  /* a closed batch */
  quarry_batch_close(bt);
  quarry_batch_close(NULL);
  CHECK_EQ_INT(quarry_db_live_batches(db), 0);

  /* persistence across a reopen */
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  CHECK_OK(quarry_db_open(path, NULL, &db));
  CHECK_OK(quarry_db_cf(db, "a", &a));
  CHECK_OK(quarry_db_cf(db, "b", &b));
  CHECK_OK(quarry_db_cf(db, "c", &c));
  CHECK_GET(db, a, "k1", "va");
  CHECK_GET(db, b, "k1", "vb");
  CHECK_GET(db, c, "k1", NULL);
  CHECK_GET(db, NULL, "k1", "vd");
  CHECK_GET(db, a, "r07", NULL);
  CHECK_GET(db, a, "r11", "x");

  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

TEST(no_wal_batch_survives_a_clean_close) {
  const char *dir = check_tmpdir(0, "batch");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  quarry_cf *c;
  quarry_batch *bt;

  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "c"));
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o);
  CHECK_OK(quarry_db_cf(db, "c", &c));
  /* a batch written with the WAL off survives a clean close (memtables are flushed) */
  {
    quarry_write_options nowal = {0, 0};
    CHECK_OK(quarry_batch_new(db, &bt));
    CHECK_OK(quarry_batch_put(bt, c, "nowal", 5, "1", 1));
    CHECK_OK(quarry_db_write(db, bt, &nowal));
    quarry_batch_close(bt);
  }
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  CHECK_OK(quarry_db_open(path, NULL, &db));
  CHECK_OK(quarry_db_cf(db, "c", &c));
  CHECK_GET(db, c, "nowal", "1");
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  check_rmrf(dir);
}

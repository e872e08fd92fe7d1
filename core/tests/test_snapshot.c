/* test_snapshot.c: a snapshot isolates reads (get, multi_get, iterators) from later writes;
 * snapshots of another db or closed ones are refused. */
#include "check.h"

static void check_get_at(quarry_db *db, const quarry_snapshot *s, const char *key,
                         const char *want) {
  quarry_read_options ro = QUARRY_READ_OPTIONS_INIT;
  quarry_value *v;
  size_t len;
  const char *data;
  ro.snapshot = s;
  CHECK_OK(quarry_get(db, NULL, &ro, key, strlen(key), &v));
  if (want == NULL) {
    CHECK(v == NULL);
    return;
  }
  CHECK(v != NULL);
  data = quarry_value_data(v, &len);
  CHECK_MEM(data, len, want, strlen(want));
  quarry_value_free(v);
}

TEST(snapshot_isolates_reads) {
  const char *dir = check_tmpdir(0, "snapshot");
  const char *path = check_path(0, dir, "db");
  const char *path2 = check_path(1, dir, "db2");
  quarry_db *db, *db2;
  quarry_snapshot *s, *s2;
  quarry_read_options ro = QUARRY_READ_OPTIONS_INIT;
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  quarry_iter *it;
  quarry_value *vals[3];
  const char *keys[3] = {"a", "b", "c"};
  size_t klens[3] = {1, 1, 1}, vlen;
  const char *k, *v;
  size_t kl;
  int n;
  uint64_t seq;

  CHECK_OK(quarry_db_open(path, NULL, &db));
  PUT(db, NULL, "a", "1");
  PUT(db, NULL, "b", "1");
  CHECK_OK(quarry_snapshot_new(db, &s));
  CHECK_EQ_INT(quarry_db_live_snapshots(db), 1);
  seq = quarry_snapshot_sequence(s);
  CHECK(seq >= 2);
  CHECK(!quarry_snapshot_is_closed(s));

  PUT(db, NULL, "a", "2");
  CHECK_OK(quarry_delete(db, NULL, NULL, "b", 1));
  PUT(db, NULL, "c", "2");

  check_get_at(db, s, "a", "1");
  check_get_at(db, s, "b", "1");
  check_get_at(db, s, "c", NULL);
  CHECK_GET(db, NULL, "a", "2");
  CHECK_GET(db, NULL, "b", NULL);
  CHECK_GET(db, NULL, "c", "2");

  /* multi_get through the snapshot */
  ro.snapshot = s;
  CHECK_OK(quarry_multi_get(db, NULL, &ro, 3, keys, klens, vals));
  CHECK(vals[0] && vals[1] && vals[2] == NULL);
  v = quarry_value_data(vals[0], &vlen);
  CHECK_MEM(v, vlen, "1", 1);
  quarry_value_free(vals[0]);
  quarry_value_free(vals[1]);
  /* and without it */
  CHECK_OK(quarry_multi_get(db, NULL, NULL, 3, keys, klens, vals));
  CHECK(vals[0] && vals[1] == NULL && vals[2]);
  v = quarry_value_data(vals[2], &vlen);
  CHECK_MEM(v, vlen, "2", 1);
  quarry_value_free(vals[0]);
  quarry_value_free(vals[2]);

  /* an iterator through the snapshot */
  io.snapshot = s;
  CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
  n = 0;
  while (quarry_iter_step(it, &k, &kl, &v, &vlen) == 1) {
    CHECK_MEM(v, vlen, "1", 1);
    n++;
  }
  CHECK_EQ_INT(n, 2);
  quarry_iter_close(it);

  /* a snapshot of another database */
  CHECK_OK(quarry_db_open(path2, NULL, &db2));
  CHECK_OK(quarry_snapshot_new(db2, &s2));
  ro.snapshot = s2;
  CHECK_ERR(quarry_get(db, NULL, &ro, "a", 1, &vals[0]), QUARRY_EINVAL);
  io.snapshot = s2;
  CHECK_ERR(quarry_iter_new(db, NULL, &io, &it), QUARRY_EINVAL);
  CHECK(it == NULL);
  quarry_snapshot_close(s2);
  CHECK_NO_CHILDREN(db2);
  CHECK_OK(quarry_db_close(db2));

  /* a later snapshot sees the later writes; sequence grows */
  CHECK_OK(quarry_snapshot_new(db, &s2));
  CHECK(quarry_snapshot_sequence(s2) > seq);
  check_get_at(db, s2, "c", "2");
  quarry_snapshot_close(s2);

  /* a closed snapshot: ECLOSED, no crash (the handle is freed by close, so use a live db's
   * released one: close the db first, below, in test_children) */
  quarry_snapshot_close(s);
  quarry_snapshot_close(NULL);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

/* test_maintenance.c: flush, compact, properties, approximate sizes, size on disk, multi_get
 * holes, and the same calls on a dropped family. */
#include "check.h"

TEST(flush_compact_properties_sizes) {
  const char *dir = check_tmpdir(0, "maintenance");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  quarry_cf *cf;
  char key[32], val[256], *prop;
  uint64_t size, disk0, disk1;
  int i;

  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "f"));
  CHECK_OK(quarry_options_set_string(o, "compression", "none"));
  CHECK_OK(quarry_options_set_string(o, "bottommost_compression", "none"));
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o);
  CHECK_OK(quarry_db_cf(db, "f", &cf));
  CHECK_OK(quarry_db_size_on_disk(db, &disk0));
  CHECK(disk0 > 0);

  memset(val, 'x', sizeof val);
  for (i = 0; i < 5000; i++) {
    snprintf(key, sizeof key, "key%06d", i);
    CHECK_OK(quarry_put(db, cf, NULL, key, strlen(key), val, sizeof val));
  }
  CHECK_OK(quarry_db_flush(db, cf));
  CHECK_OK(quarry_db_flush(db, NULL));
  CHECK_OK(quarry_db_property(db, cf, "rocksdb.num-files-at-level0", &prop));
  CHECK_STR(prop, "1");
  free(prop);
  CHECK_OK(quarry_db_property(db, cf, "rocksdb.estimate-num-keys", &prop));
  CHECK(prop && atoi(prop) > 4000);
  free(prop);

  CHECK_OK(quarry_db_approximate_size(db, cf, "key000000", 9, "key005000", 9, &size));
  CHECK(size > 5000u * 200u);
  CHECK_OK(quarry_db_approximate_size(db, cf, NULL, 0, NULL, 0, &size));
  CHECK(size > 5000u * 200u);
  CHECK_OK(quarry_db_approximate_size(db, NULL, NULL, 0, NULL, 0, &size)); /* empty family */
  CHECK_EQ_INT(size, 0);
  CHECK_OK(quarry_db_approximate_size(db, cf, "z", 1, "a", 1, &size)); /* inverted: nothing */
  CHECK_EQ_INT(size, 0);
  CHECK_OK(quarry_db_size_on_disk(db, &disk1));
  CHECK(disk1 > disk0 + 5000u * 200u);

  CHECK_OK(quarry_delete_range(db, cf, NULL, "key000000", 9, "key004000", 9));
  CHECK_OK(quarry_db_compact(db, cf, NULL, 0, NULL, 0));
  CHECK_OK(quarry_db_compact(db, NULL, "a", 1, "z", 1));
  CHECK_OK(quarry_db_property(db, cf, "rocksdb.num-files-at-level0", &prop));
  CHECK_STR(prop, "0");
  free(prop);
  CHECK_GET(db, cf, "key003999", NULL);
  {
    quarry_value *v;
    size_t len;
    const char *keys[4] = {"key004000", "nope", "key000001", "key004999"};
    size_t klens[4] = {9, 4, 9, 9};
    quarry_value *vals[4];
    CHECK_OK(quarry_get(db, cf, NULL, "key004000", 9, &v));
    CHECK(v != NULL);
    CHECK_MEM(quarry_value_data(v, &len), len, val, sizeof val);
    quarry_value_free(v);
    CHECK_OK(quarry_multi_get(db, cf, NULL, 4, keys, klens, vals));
    CHECK(vals[0] && !vals[1] && !vals[2] && vals[3]);
    CHECK_MEM(quarry_value_data(vals[3], &len), len, val, sizeof val);
    quarry_value_free(vals[0]);
    quarry_value_free(vals[3]);
    CHECK_OK(quarry_multi_get(db, cf, NULL, 0, NULL, NULL, NULL));
  }

  /* a dropped family */
  CHECK_OK(quarry_db_drop_cf(db, "f"));
  CHECK_ERR(quarry_db_flush(db, cf), QUARRY_ENOTFOUND);
  CHECK_ERR(quarry_db_compact(db, cf, NULL, 0, NULL, 0), QUARRY_ENOTFOUND);
  CHECK_ERR(quarry_db_property(db, cf, "rocksdb.estimate-num-keys", &prop), QUARRY_ENOTFOUND);
  CHECK_ERR(quarry_db_approximate_size(db, cf, NULL, 0, NULL, 0, &size), QUARRY_ENOTFOUND);
  CHECK_OK(quarry_db_flush(db, NULL)); /* every live family */

  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

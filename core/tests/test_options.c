/* test_options.c: the option table, preset values, QUARRY_DB_* environment overrides (preset <
 * env < explicit), validation messages, and the effective options of an open db. */
#include "check.h"

static int64_t get_num(const quarry_options *o, const char *name) {
  int64_t n = -12345;
  CHECK_OK(quarry_options_get(o, name, &n, NULL));
  return n;
}

static const char *get_str(const quarry_options *o, const char *name) {
  const char *s = NULL;
  CHECK_OK(quarry_options_get(o, name, NULL, &s));
  return s;
}

TEST(option_table) {
  static const char *const tuning[] = {
      "write_buffer_mb", "block_cache_mb", "max_open_files", "compression",
      "bottommost_compression", "bloom_bits", "block_size_kb", "max_background_jobs", "wal",
      "sync", "readahead_mb", "level0_file_num_compaction_trigger",
      "level0_slowdown_writes_trigger", "level0_stop_writes_trigger", "target_file_size_mb",
      "max_bytes_for_level_base_mb"};
  size_t n, i, j;
  const quarry_option_info *t = quarry_option_list(&n);
  const char *const *presets = quarry_preset_names();
  CHECK(n >= 19);
  for (i = 0; i < sizeof tuning / sizeof tuning[0]; i++) {
    for (j = 0; j < n && strcmp(t[j].name, tuning[i]) != 0; j++)
      ;
    CHECK(j < n);
    CHECK_EQ_INT(t[j].tuning, 1);
    CHECK(t[j].doc && *t[j].doc);
  }
  for (j = 0; j < n; j++) {
    if (strcmp(t[j].name, "create_if_missing") == 0)
      CHECK(t[j].type == QUARRY_OPT_BOOL && !t[j].tuning);
    if (strcmp(t[j].name, "mode") == 0 || strcmp(t[j].name, "secondary_path") == 0)
      CHECK(t[j].type == QUARRY_OPT_STRING && !t[j].tuning);
    if (strcmp(t[j].name, "compression") == 0)
      CHECK(t[j].type == QUARRY_OPT_STRING);
    if (strcmp(t[j].name, "wal") == 0)
      CHECK(t[j].type == QUARRY_OPT_BOOL);
  }
  CHECK_STR(presets[0], "default");
  CHECK_STR(presets[1], "production");
  CHECK_STR(presets[2], "development");
  CHECK(presets[3] == NULL);
}

TEST(presets) {
  quarry_options *o;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_STR(get_str(o, "preset"), "default");
  CHECK_EQ_INT(get_num(o, "write_buffer_mb"), 128);
  CHECK_EQ_INT(get_num(o, "block_cache_mb"), 256);
  CHECK_EQ_INT(get_num(o, "max_background_jobs"), 4);
  CHECK_EQ_INT(get_num(o, "bloom_bits"), 10);
  CHECK_EQ_INT(get_num(o, "wal"), 1);
  CHECK_EQ_INT(get_num(o, "sync"), 0);
  CHECK_EQ_INT(get_num(o, "block_size_kb"), 16);
  CHECK_EQ_INT(get_num(o, "level0_file_num_compaction_trigger"), 4);
  CHECK_EQ_INT(get_num(o, "level0_slowdown_writes_trigger"), 20);
  CHECK_EQ_INT(get_num(o, "level0_stop_writes_trigger"), 36);
  CHECK_EQ_INT(get_num(o, "create_if_missing"), 1);
  CHECK_STR(get_str(o, "compression"), "lz4");
  CHECK_STR(get_str(o, "bottommost_compression"), "lz4");
  CHECK_STR(get_str(o, "mode"), "read_write");
  CHECK(get_str(o, "secondary_path") == NULL);
  quarry_options_free(o);

  CHECK_OK(quarry_options_new("production", &o));
  CHECK_EQ_INT(get_num(o, "write_buffer_mb"), 256);
  CHECK_EQ_INT(get_num(o, "block_cache_mb"), 512);
  CHECK_EQ_INT(get_num(o, "max_background_jobs"), 8);
  CHECK_STR(get_str(o, "compression"), "lz4");
  CHECK_STR(get_str(o, "bottommost_compression"), "zstd");
  CHECK_EQ_INT(get_num(o, "wal"), 1);
  quarry_options_free(o);

  CHECK_OK(quarry_options_new("development", &o));
  CHECK_EQ_INT(get_num(o, "write_buffer_mb"), 64);
  CHECK_EQ_INT(get_num(o, "max_background_jobs"), 2);
  CHECK_STR(get_str(o, "compression"), "lz4");
  CHECK_EQ_INT(get_num(o, "wal"), 0);
  quarry_options_free(o);
}

TEST(setters) {
  quarry_options *o;
  int64_t n;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_int(o, "bloom_bits", 0));
  CHECK_EQ_INT(get_num(o, "bloom_bits"), 0);
  CHECK_OK(quarry_options_set_bool(o, "sync", 1));
  CHECK_EQ_INT(get_num(o, "sync"), 1);
  CHECK_OK(quarry_options_set_string(o, "compression", "zstd"));
  CHECK_STR(get_str(o, "compression"), "zstd");
  CHECK_OK(quarry_options_set_string(o, "secondary_path", "/tmp/x"));
  CHECK_STR(get_str(o, "secondary_path"), "/tmp/x");
  CHECK_OK(quarry_options_set_int(o, "max_open_files", -1));
  CHECK_ERR(quarry_options_set_int(o, "max_open_files", -2), QUARRY_EINVAL);
  CHECK_ERR(quarry_options_set_int(o, "max_open_files", 0), QUARRY_EINVAL);
  CHECK_ERR(quarry_options_set_int(o, "write_buffer_mb", 0), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "option 'write_buffer_mb' expects an integer from 1");
  CHECK_ERR(quarry_options_set_string(o, "write_buffer_mb", "1"), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "option 'write_buffer_mb' expects an integer");
  CHECK_ERR(quarry_options_set_bool(o, "compression", 1), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "option 'compression' expects a string");
  CHECK_ERR(quarry_options_set_string(o, "bottommost_compression", "gzip"), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "'bottommost_compression'");
  CHECK_CONTAINS(quarry_last_error(), "gzip");
  /* parse */
  CHECK_OK(quarry_options_set_parse(o, "write_buffer_mb", "32"));
  CHECK_EQ_INT(get_num(o, "write_buffer_mb"), 32);
  CHECK_OK(quarry_options_set_parse(o, "wal", "false"));
  CHECK_EQ_INT(get_num(o, "wal"), 0);
  CHECK_OK(quarry_options_set_parse(o, "wal", "1"));
  CHECK_EQ_INT(get_num(o, "wal"), 1);
  CHECK_OK(quarry_options_set_parse(o, "mode", "read_only"));
  CHECK_STR(get_str(o, "mode"), "read_only");
  CHECK_ERR(quarry_options_set_parse(o, "wal", "maybe"), QUARRY_EINVAL);
  CHECK_ERR(quarry_options_set_parse(o, "bloom_bits", "10x"), QUARRY_EINVAL);
  CHECK_ERR(quarry_options_set_parse(o, "nope", "1"), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "unknown option 'nope'");
  CHECK_ERR(quarry_options_get(o, "nope", &n, NULL), QUARRY_EINVAL);
  CHECK_OK(quarry_options_add_column_family(o, "a"));
  CHECK_OK(quarry_options_add_column_family(o, "a"));
  CHECK_ERR(quarry_options_add_column_family(o, ""), QUARRY_EINVAL);
  quarry_options_free(o);
  quarry_options_free(NULL);
}

TEST(environment) {
  const char *dir = check_tmpdir(0, "tuning");
  quarry_options *o;
  quarry_db *db;
  char *prop;

  /* env over preset */
  setenv("QUARRY_DB_BLOCK_CACHE_MB", "64", 1);
  setenv("QUARRY_DB_COMPRESSION", "zstd", 1);
  setenv("QUARRY_DB_WAL", "false", 1);
  setenv("QUARRY_DB_MODE", "read_only", 1); /* not a tuning option: ignored */
  setenv("QUARRY_DB_UNRELATED", "x", 1);    /* unknown: ignored */
  CHECK_OK(quarry_options_new("production", &o));
  CHECK_EQ_INT(get_num(o, "block_cache_mb"), 512);
  CHECK_OK(quarry_options_apply_env(o));
  CHECK_EQ_INT(get_num(o, "block_cache_mb"), 64);
  CHECK_STR(get_str(o, "compression"), "zstd");
  CHECK_EQ_INT(get_num(o, "wal"), 0);
  CHECK_STR(get_str(o, "mode"), "read_write");
  CHECK_EQ_INT(get_num(o, "write_buffer_mb"), 256); /* untouched */
  /* explicit over env (the caller sets after applying the environment) */
  CHECK_OK(quarry_options_set_int(o, "block_cache_mb", 32));
  CHECK_EQ_INT(get_num(o, "block_cache_mb"), 32);
  quarry_options_free(o);
  unsetenv("QUARRY_DB_COMPRESSION");
  unsetenv("QUARRY_DB_WAL");
  unsetenv("QUARRY_DB_MODE");
  unsetenv("QUARRY_DB_UNRELATED");

  /* an open with NULL options applies the environment; the effective values are the db's */
  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &db));
  CHECK_EQ_INT(get_num(quarry_db_options(db), "block_cache_mb"), 64);
  CHECK_EQ_INT(get_num(quarry_db_options(db), "write_buffer_mb"), 128);
  CHECK_OK(quarry_db_property(db, NULL, "rocksdb.block-cache-capacity", &prop));
  CHECK(prop != NULL);
  CHECK_STR(prop, "67108864");
  free(prop);
  CHECK_OK(quarry_db_property(db, NULL, "rocksdb.no-such-property", &prop));
  CHECK(prop == NULL);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  /* bad values name the variable */
  setenv("QUARRY_DB_BLOCK_CACHE_MB", "abc", 1);
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_ERR(quarry_options_apply_env(o), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(),
                 "environment variable QUARRY_DB_BLOCK_CACHE_MB: expected an integer, got 'abc'");
  CHECK_ERR(quarry_db_open(check_path(0, dir, "db"), NULL, &db), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "QUARRY_DB_BLOCK_CACHE_MB");
  setenv("QUARRY_DB_BLOCK_CACHE_MB", "-5", 1);
  CHECK_ERR(quarry_options_apply_env(o), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "QUARRY_DB_BLOCK_CACHE_MB");
  unsetenv("QUARRY_DB_BLOCK_CACHE_MB");
  setenv("QUARRY_DB_BOTTOMMOST_COMPRESSION", "gzip", 1);
  CHECK_ERR(quarry_options_apply_env(o), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "QUARRY_DB_BOTTOMMOST_COMPRESSION");
  unsetenv("QUARRY_DB_BOTTOMMOST_COMPRESSION");
  CHECK_OK(quarry_options_apply_env(o));
  quarry_options_free(o);
  check_rmrf(dir);
}

/* Every preset and compression opens (the codecs are linked into this RocksDB). */
TEST(open_every_preset) {
  const char *dir = check_tmpdir(0, "tuning");
  const char *const *p;
  static const char *const comps[] = {"none", "lz4", "zstd"};
  size_t i;
  int j = 0;
  for (p = quarry_preset_names(); *p; p++) {
    for (i = 0; i < 3; i++) {
      char leaf[64];
      quarry_options *o;
      quarry_db *db;
      snprintf(leaf, sizeof leaf, "p%d", j++);
      CHECK_OK(quarry_options_new(*p, &o));
      CHECK_OK(quarry_options_set_string(o, "compression", comps[i]));
      CHECK_OK(quarry_options_set_string(o, "bottommost_compression", comps[2 - i]));
      CHECK_OK(quarry_db_open(check_path(1, dir, leaf), o, &db));
      quarry_options_free(o);
      PUT(db, NULL, "k", "v");
      CHECK_OK(quarry_db_flush(db, NULL));
      CHECK_OK(quarry_db_compact(db, NULL, NULL, 0, NULL, 0));
      CHECK_GET(db, NULL, "k", "v");
      CHECK_NO_CHILDREN(db);
      CHECK_OK(quarry_db_close(db));
    }
  }
  check_rmrf(dir);
}

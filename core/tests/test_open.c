/* test_open.c: opening, creating families, reopening (every family is opened), listing,
 * create_if_missing, modes' guards, destroy. */
#include "check.h"

/* Creates the database every later case starts from: families users, logs and later (tmp was
 * created and dropped), alice in users, l1 in logs, k in default; closed. */
static void create_db(const char *path) {
  quarry_options *o;
  quarry_db *db;
  quarry_cf *users, *logs, *cf;
  char **names;
  int64_t num;
  const char *str;

  /* create with two families */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "users"));
  CHECK_OK(quarry_options_add_column_family(o, "logs"));
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o); /* opts may be freed right after open */
  CHECK_STR(quarry_db_path(db), path);
  CHECK_STR(quarry_db_mode(db), "read_write");
  CHECK_OK(quarry_db_cf(db, "users", &users));
  CHECK_OK(quarry_db_cf(db, "logs", &logs));
  CHECK_STR(quarry_cf_name(users), "users");
  CHECK(quarry_cf_db(users) == db);
  CHECK_ERR(quarry_db_cf(db, "nope", &cf), QUARRY_ENOTFOUND);
  CHECK(cf == NULL);
  PUT(db, users, "alice", "1");
  PUT(db, logs, "l1", "x");
  PUT(db, NULL, "k", "v");
  CHECK_GET(db, users, "alice", "1");
  CHECK_GET(db, NULL, "alice", NULL);

  /* create and drop at run time */
  CHECK_OK(quarry_db_create_cf(db, "tmp", &cf));
  PUT(db, cf, "t", "1");
  CHECK_ERR(quarry_db_create_cf(db, "tmp", &cf), QUARRY_EINVAL);
  CHECK_OK(quarry_db_cf(db, "tmp", &cf));
  CHECK_OK(quarry_db_drop_cf(db, "tmp"));
  CHECK_ERR(quarry_put(db, cf, NULL, "a", 1, "b", 1), QUARRY_ENOTFOUND);
  CHECK_CONTAINS(quarry_last_error(), "column family 'tmp' was dropped");
  CHECK_ERR(quarry_get(db, cf, NULL, "t", 1, &(quarry_value *){NULL}), QUARRY_ENOTFOUND);
  CHECK_ERR(quarry_db_drop_cf(db, "tmp"), QUARRY_ENOTFOUND);
  CHECK_ERR(quarry_db_drop_cf(db, "default"), QUARRY_EINVAL);
  CHECK_OK(quarry_db_create_cf(db, "later", &cf));
  CHECK_OK(quarry_db_cf_names(db, &names));
  CHECK_EQ_INT(check_count_names(names), 4);
  CHECK_STR(names[0], "default");
  CHECK(check_has_name(names, "users") && check_has_name(names, "logs"));
  CHECK(check_has_name(names, "later") && !check_has_name(names, "tmp"));
  quarry_free_names(names);

  /* the effective options */
  CHECK_OK(quarry_options_get(quarry_db_options(db), "write_buffer_mb", &num, NULL));
  CHECK(num > 0);
  CHECK_OK(quarry_options_get(quarry_db_options(db), "compression", NULL, &str));
  CHECK_STR(str, "lz4");

  /* destroy refuses an open database */
  CHECK_ERR(quarry_destroy(path), QUARRY_EBUSY);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  CHECK_OK(quarry_db_close(NULL));
}

TEST(create_if_missing_false) {
  const char *dir = check_tmpdir(0, "open");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  char **names;

  /* create_if_missing = false on a missing database */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_bool(o, "create_if_missing", 0));
  db = (quarry_db *)1;
  CHECK_ERR(quarry_db_open(path, o, &db), QUARRY_ENOTFOUND);
  CHECK(db == NULL);
  CHECK_CONTAINS(quarry_last_error(), "does not exist");
  CHECK_ERR(quarry_list_column_families(path, &names), QUARRY_ENOTFOUND);
  quarry_options_free(o);

  check_rmrf(dir);
}

TEST(create_families_and_drop) {
  const char *dir = check_tmpdir(0, "open");
  create_db(check_path(0, dir, "db"));
  check_rmrf(dir);
}

TEST(list_without_opening) {
  const char *dir = check_tmpdir(0, "open");
  const char *path = check_path(0, dir, "db");
  char **names;

  create_db(path);
  /* list without opening */
  CHECK_OK(quarry_list_column_families(path, &names));
  CHECK_EQ_INT(check_count_names(names), 4);
  CHECK(check_has_name(names, "default") && check_has_name(names, "users"));
  CHECK(check_has_name(names, "logs") && check_has_name(names, "later"));
  quarry_free_names(names);

  check_rmrf(dir);
}

TEST(reopen_opens_every_family) {
  const char *dir = check_tmpdir(0, "open");
  const char *path = check_path(0, dir, "db");
  quarry_db *db;
  quarry_cf *users, *logs, *cf;

  create_db(path);
  /* reopen with no family listed: all of them are opened, data persisted */
  CHECK_OK(quarry_db_open(path, NULL, &db));
  CHECK_OK(quarry_db_cf(db, "users", &users));
  CHECK_OK(quarry_db_cf(db, "later", &cf));
  CHECK_GET(db, users, "alice", "1");
  CHECK_GET(db, NULL, "k", "v");
  CHECK_OK(quarry_db_cf(db, "logs", &logs));
  CHECK_GET(db, logs, "l1", "x");
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  check_rmrf(dir);
}

TEST(read_only) {
  const char *dir = check_tmpdir(0, "open");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  quarry_cf *cf;

  create_db(path);
  /* read_only: opens, reads, refuses writes and family creation */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "read_only"));
  CHECK_OK(quarry_db_open(path, o, &db));
  CHECK_STR(quarry_db_mode(db), "read_only");
  CHECK_GET(db, NULL, "k", "v");
  CHECK_ERR(quarry_put(db, NULL, NULL, "a", 1, "b", 1), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "database opened read_only: writes are not allowed");
  CHECK_ERR(quarry_db_create_cf(db, "x", &cf), QUARRY_ENOTSUPPORTED);
  CHECK_OK(quarry_db_close(db));
  /* read_only with a missing family */
  CHECK_OK(quarry_options_add_column_family(o, "missing"));
  CHECK_ERR(quarry_db_open(path, o, &db), QUARRY_ENOTFOUND);
  CHECK_CONTAINS(quarry_last_error(), "'missing'");
  quarry_options_free(o);

  check_rmrf(dir);
}

TEST(secondary_needs_a_path) {
  const char *dir = check_tmpdir(0, "open");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;

  create_db(path);
  /* secondary needs a secondary_path */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "secondary"));
  CHECK_ERR(quarry_db_open(path, o, &db), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "secondary_path");
  quarry_options_free(o);

  check_rmrf(dir);
}

TEST(destroy) {
  const char *dir = check_tmpdir(0, "open");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  char **names;

  create_db(path);
  /* destroy */
  CHECK_OK(quarry_destroy(path));
  CHECK_ERR(quarry_list_column_families(path, &names), QUARRY_ENOTFOUND);
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_bool(o, "create_if_missing", 0));
  CHECK_ERR(quarry_db_open(path, o, &db), QUARRY_ENOTFOUND);
  quarry_options_free(o);

  check_rmrf(dir);
}

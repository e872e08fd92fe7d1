/* test_errors.c: error names and texts, RocksDB status mapping, a LOCK held by another process
 * (ELOCKED; read_only and secondary opens still work, catch_up follows the primary), key size,
 * writes in read-only mode, unknown options. */
#include "check.h"

#include <sys/wait.h>

/* Internal (hidden in the shared library, reachable from the static one): the one mapping of
 * RocksDB's status text. */
int q_status_code(const char *msg);

/* The primary: opens the db, reports on `up`, obeys commands read from `down`. */
static void primary(const char *path, int up, int down) {
  quarry_db *db;
  char cmd;
  if (quarry_db_open(path, NULL, &db) != 0) {
    fprintf(stderr, "primary: %s\n", quarry_last_error());
    _exit(1);
  }
  if (quarry_put(db, NULL, NULL, "c1", 2, "1", 1) != 0 || write(up, "r", 1) != 1)
    _exit(1);
  while (read(down, &cmd, 1) == 1) {
    if (cmd == 'w') {
      if (quarry_put(db, NULL, NULL, "c2", 2, "2", 1) != 0 || write(up, "w", 1) != 1)
        _exit(1);
    } else {
      break;
    }
  }
  _exit(quarry_db_close(db) == 0 ? 0 : 1);
}

/* First: it forks before this process starts any RocksDB thread. */
TEST(lock_held_by_another_process) {
  const char *dir = check_tmpdir(0, "errors");
  const char *path = check_path(0, dir, "db");
  const char *sec = check_path(1, dir, "secondary");
  const char *cp = check_path(2, dir, "cp");
  int up[2], down[2], status;
  pid_t pid;
  char c;
  quarry_options *o;
  quarry_db *db, *ro, *sdb;
  quarry_scan_report *report = NULL;

  CHECK_EQ_INT(pipe(up), 0);
  CHECK_EQ_INT(pipe(down), 0);
  pid = fork();
  CHECK(pid >= 0);
  if (pid == 0) {
    close(up[0]);
    close(down[1]);
    primary(path, up[1], down[0]);
  }
  close(up[1]);
  close(down[0]);
  CHECK_EQ_INT(read(up[0], &c, 1), 1);

  /* read_write: locked by the other process */
  db = (quarry_db *)1;
  CHECK_ERR(quarry_db_open(path, NULL, &db), QUARRY_ELOCKED);
  CHECK(db == NULL);
  CHECK_CONTAINS(quarry_last_error(), "locked by another process");
  if (getenv("QUARRY_TEST_VERBOSE"))
    printf("%s\n", quarry_last_error());
  CHECK_CONTAINS(quarry_last_error(), "read_only");
  CHECK_CONTAINS(quarry_last_error(), "secondary");
  CHECK_ERR(quarry_destroy(path), QUARRY_ELOCKED);

  /* read_only works */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "read_only"));
  CHECK_OK(quarry_db_open(path, o, &ro));
  CHECK_GET(ro, NULL, "c1", "1");
  CHECK_ERR(quarry_put(ro, NULL, NULL, "x", 1, "y", 1), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "database opened read_only: writes are not allowed");
  CHECK_ERR(quarry_delete(ro, NULL, NULL, "x", 1), QUARRY_ENOTSUPPORTED);
  CHECK_ERR(quarry_db_flush(ro, NULL), QUARRY_ENOTSUPPORTED);
  CHECK_ERR(quarry_db_catch_up(ro), QUARRY_ENOTSUPPORTED);
  CHECK_ERR(quarry_db_checkpoint(ro, cp), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "checkpoint needs a database opened read_write");
  CHECK_CONTAINS(quarry_last_error(), "this one is opened read_only");
  quarry_options_free(o);

  /* secondary works and follows the primary */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "secondary"));
  CHECK_OK(quarry_options_set_string(o, "secondary_path", sec));
  CHECK_OK(quarry_db_open(path, o, &sdb));
  quarry_options_free(o);
  CHECK_STR(quarry_db_mode(sdb), "secondary");
  CHECK_GET(sdb, NULL, "c1", "1");
  CHECK_GET(sdb, NULL, "c2", NULL);
  CHECK_EQ_INT(write(down[1], "w", 1), 1);
  CHECK_EQ_INT(read(up[0], &c, 1), 1);
  CHECK_GET(sdb, NULL, "c2", NULL);
  CHECK_OK(quarry_db_catch_up(sdb));
  CHECK_GET(sdb, NULL, "c2", "2");
  CHECK_ERR(quarry_put(sdb, NULL, NULL, "x", 1, "y", 1), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "database opened secondary: writes are not allowed");
  /* digest and verify read at a snapshot, which RocksDB cannot on a secondary: said plainly */
  CHECK_ERR(quarry_db_digest(sdb, NULL, NULL, &report), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "cannot read a database opened secondary at a snapshot");
  CHECK_CONTAINS(quarry_last_error(), "mode = \"read_only\" and call digest there");
  CHECK_ERR(quarry_db_verify(sdb, &report), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "and call verify there");
  CHECK(report == NULL);
  CHECK_ERR(quarry_db_checkpoint(sdb, cp), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "this one is opened secondary: take the checkpoint");

  /* in this process: destroy refuses, a second read_write open is refused */
  CHECK_ERR(quarry_destroy(path), QUARRY_EBUSY);
  CHECK_NO_CHILDREN(ro);
  CHECK_NO_CHILDREN(sdb);
  CHECK_OK(quarry_db_close(ro));
  CHECK_OK(quarry_db_close(sdb));

  /* the primary closes; now everything is allowed */
  CHECK_EQ_INT(write(down[1], "q", 1), 1);
  CHECK_EQ_INT(waitpid(pid, &status, 0), pid);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  close(up[0]);
  close(down[1]);
  CHECK_OK(quarry_db_open(path, NULL, &db));
  CHECK_GET(db, NULL, "c2", "2");
  /* same process, read_write: a second handle onto the same engine (test_shared.c has more) */
  CHECK_OK(quarry_db_open(path, NULL, &ro));
  CHECK_GET(ro, NULL, "c2", "2");
  CHECK_OK(quarry_db_close(ro));
  CHECK_ERR(quarry_db_catch_up(db), QUARRY_ENOTSUPPORTED);

  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  CHECK_OK(quarry_destroy(path));
  check_rmrf(dir);
}

TEST(key_size) {
  const char *dir = check_tmpdir(0, "errors");
  quarry_db *db;
  quarry_value *v;

  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &db));
  /* key size */
  {
    size_t big = QUARRY_MAX_KEY_SIZE + 1;
    char *key = calloc(1, big);
    const char *keys[1];
    size_t klens[1];
    quarry_value *vals[1];
    quarry_iter *it;
    quarry_batch *b;
    CHECK(key != NULL);
    CHECK_ERR(quarry_put(db, NULL, NULL, key, big, "v", 1), QUARRY_EINVAL);
    CHECK_CONTAINS(quarry_last_error(), "exceeds the 8 MiB limit");
    CHECK_CONTAINS(quarry_last_error(), "8388609");
    CHECK_ERR(quarry_get(db, NULL, NULL, key, big, &v), QUARRY_EINVAL);
    CHECK_ERR(quarry_delete(db, NULL, NULL, key, big), QUARRY_EINVAL);
    keys[0] = key;
    klens[0] = big;
    CHECK_ERR(quarry_multi_get(db, NULL, NULL, 1, keys, klens, vals), QUARRY_EINVAL);
    CHECK(vals[0] == NULL);
    CHECK_OK(quarry_batch_new(db, &b));
    CHECK_ERR(quarry_batch_put(b, NULL, key, big, "v", 1), QUARRY_EINVAL);
    quarry_batch_close(b);
    CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
    CHECK_ERR(quarry_iter_seek(it, key, big), QUARRY_EINVAL);
    quarry_iter_close(it);
    CHECK_OK(quarry_put(db, NULL, NULL, key, QUARRY_MAX_KEY_SIZE, "v", 1)); /* the limit itself */
    free(key);
  }

  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

TEST(unknown_options) {
  quarry_options *o;

  /* unknown options, bad values */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_ERR(quarry_options_set_int(o, "foo", 1), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "unknown option 'foo'");
  CHECK_ERR(quarry_options_set_bool(o, "bar", 1), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "'bar'");
  CHECK_ERR(quarry_options_set_int(o, "wal", 1), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "option 'wal' expects a boolean");
  CHECK_ERR(quarry_options_set_string(o, "compression", "gzip"), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "compression");
  CHECK_CONTAINS(quarry_last_error(), "zstd");
  CHECK_ERR(quarry_options_set_string(o, "mode", "x"), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "read_only");
  CHECK_ERR(quarry_options_set_int(o, "block_cache_mb", -1), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "block_cache_mb");
  quarry_options_free(o);
  CHECK_ERR(quarry_options_new("fast", &o), QUARRY_EINVAL);
  CHECK(o == NULL);
  CHECK_CONTAINS(quarry_last_error(), "fast");
}

TEST(names) {
  CHECK_STR(quarry_err_name(0), "OK");
#define X(sym, val, name, text)                                                                \
  CHECK_EQ_INT(QUARRY_##sym, val);                                                             \
  CHECK_STR(quarry_err_name(val), name);                                                       \
  CHECK_STR(quarry_strerror(val), text);
  QUARRY_ERRNO_MAP(X)
#undef X
  CHECK_STR(quarry_err_name(-999), "Unknown");
  CHECK_STR(quarry_err_name(QUARRY_ELOCKED), "Locked");
  CHECK_STR(quarry_err_name(QUARRY_ECLOSED), "Closed");
  CHECK(quarry_strerror(-999) != NULL);
  CHECK(quarry_last_error() != NULL);
  CHECK_STR(quarry_version(), QUARRY_VERSION);
  CHECK_STR(quarry_rocksdb_version(), "7.8.3");
}

TEST(status_mapping) {
  CHECK_EQ_INT(q_status_code(NULL), 0);
  CHECK_EQ_INT(q_status_code("NotFound: "), QUARRY_ENOTFOUND);
  CHECK_EQ_INT(q_status_code("Corruption: block checksum mismatch"), QUARRY_ECORRUPTION);
  CHECK_EQ_INT(q_status_code("Not implemented: x"), QUARRY_ENOTSUPPORTED);
  CHECK_EQ_INT(q_status_code("Invalid argument: Column family not found"), QUARRY_EINVAL);
  CHECK_EQ_INT(q_status_code("IO error: While open a file for appending: /x/000012.log: "
                             "Input/output error"),
               QUARRY_EIO);
  CHECK_EQ_INT(q_status_code("IO error: No space left on device: While appending to file: "
                             "/x/000012.log: No space left on device"),
               QUARRY_ENOSPC);
  CHECK_EQ_INT(q_status_code("IO error: While lock file: /x/LOCK: Resource temporarily "
                             "unavailable"),
               QUARRY_ELOCKED);
  CHECK_EQ_INT(q_status_code("IO error: lock hold by current process, acquire time 1 acquiring "
                             "thread 2: /x/LOCK: No locks available"),
               QUARRY_ELOCKED);
  CHECK_EQ_INT(q_status_code("Resource busy: "), QUARRY_EBUSY);
  CHECK_EQ_INT(q_status_code("Operation timed out: "), QUARRY_ETIMEDOUT);
  CHECK_EQ_INT(q_status_code("Operation aborted: "), QUARRY_EABORTED);
  CHECK_EQ_INT(q_status_code("Result incomplete: "), QUARRY_EINCOMPLETE);
  CHECK_EQ_INT(q_status_code("Shutdown in progress: "), QUARRY_ESHUTDOWN);
  CHECK_EQ_INT(q_status_code("Operation failed. Try again.: "), QUARRY_ETRYAGAIN);
  CHECK_EQ_INT(q_status_code("something else"), QUARRY_EUNKNOWN);
}

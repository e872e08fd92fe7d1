/* test_failed.c: a write that fails with ENOSPC (a small tmpfs) puts the handle in the failed
 * state: later writes report it, reads keep working, close and reopen loses nothing
 * acknowledged and the process never aborts. Needs root to mount; skipped otherwise. */
#include "check.h"

#include <sys/mount.h>

TEST(enospc_puts_the_handle_in_the_failed_state) {
  const char *dir = check_tmpdir(0, "failed");
  const char *mnt = check_path(0, dir, "mnt");
  const char *path = check_path(1, mnt, "db");
  quarry_db *db;
  quarry_options *o;
  char key[32], *val;
  const size_t vlen = 64 * 1024;
  int i, acked = -1, rc = 0, code;

  CHECK_EQ_INT(mkdir(mnt, 0777), 0);
  if (geteuid() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=4m") != 0) {
    printf("skipped: cannot mount a tmpfs (needs root): %s\n", strerror(errno));
    check_rmrf(dir);
    return;
  }
  val = malloc(vlen);
  CHECK(val != NULL);
  { /* incompressible, so the files really grow */
    uint32_t x = 2463534242u;
    size_t j;
    for (j = 0; j < vlen; j++) {
      x ^= x << 13;
      x ^= x >> 17;
      x ^= x << 5;
      val[j] = (char)(x >> 24);
    }
  }

  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_int(o, "write_buffer_mb", 1));
  CHECK_OK(quarry_db_open(path, o, &db));
  for (i = 0; i < 1000; i++) {
    snprintf(key, sizeof key, "k%05d", i);
    rc = quarry_put(db, NULL, NULL, key, strlen(key), val, vlen);
    if (rc != 0)
      break;
    acked = i;
  }
  code = rc;
  CHECK(code == QUARRY_ENOSPC || code == QUARRY_EIO);
  CHECK(acked > 0);
  printf("first failure after %d writes: %s: %s\n", acked + 1, quarry_err_name(code),
         quarry_last_error());

  CHECK_EQ_INT(quarry_db_is_failed(db), code);
  /* every later write reports the failed state, with the original error */
  CHECK_ERR(quarry_put(db, NULL, NULL, "x", 1, "y", 1), code);
  CHECK_CONTAINS(quarry_last_error(), "failed state");
  CHECK_CONTAINS(quarry_last_error(), "close and reopen");
  CHECK_ERR(quarry_delete(db, NULL, NULL, "x", 1), code);
  CHECK_ERR(quarry_delete_range(db, NULL, NULL, "a", 1, "b", 1), code);
  CHECK_ERR(quarry_db_flush(db, NULL), code);
  {
    quarry_batch *b;
    CHECK_OK(quarry_batch_new(db, &b));
    CHECK_OK(quarry_batch_put(b, NULL, "x", 1, "y", 1));
    CHECK_ERR(quarry_db_write(db, b, NULL), code);
    quarry_batch_close(b);
  }
  /* reads still work */
  {
    quarry_value *v;
    CHECK_OK(quarry_get(db, NULL, NULL, "k00000", 6, &v));
    quarry_value_free(v);
  }
  CHECK_NO_CHILDREN(db);
  quarry_db_close(db); /* its status may report the failure; the handle is freed either way */

  /* room again: reopen, nothing acknowledged lost */
  CHECK_EQ_INT(mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=256m"), 0);
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o);
  for (i = 0; i <= acked; i++) {
    quarry_value *v;
    size_t len;
    snprintf(key, sizeof key, "k%05d", i);
    CHECK_OK(quarry_get(db, NULL, NULL, key, strlen(key), &v));
    if (v == NULL)
      CHECK_FAIL_("acknowledged key %s lost", key);
    CHECK_MEM(quarry_value_data(v, &len), len, val, vlen);
    quarry_value_free(v);
  }
  CHECK_EQ_INT(quarry_db_is_failed(db), 0);
  PUT(db, NULL, "after", "1");
  CHECK_GET(db, NULL, "after", "1");
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  free(val);
  CHECK_EQ_INT(umount(mnt), 0);
  check_rmrf(dir);
}

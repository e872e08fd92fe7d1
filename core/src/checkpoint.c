/* checkpoint.c: consistent, openable copies of an open database (RocksDB's checkpoint: hard links
 * on the same filesystem, copies across), made durable: the new directory and its parent fsynced. */
#include "files.h"

#include <limits.h>
#include <string.h>

int quarry_db_checkpoint(quarry_db *db, const char *target) {
  rocksdb_checkpoint_t *cp;
  char *err = NULL, dir[PATH_MAX];
  int rc;
  if ((rc = q_db_check_read_write(db, "checkpoint", " (it flushes the memtables first)",
                                   "take the checkpoint")) != 0)
    return rc;
  if ((rc = q_check_new_dir(target, "checkpoint target")) != 0)
    return rc;
  /* RocksDB stages into "<dir>.tmp": "cp/" must not become "cp/.tmp" */
  if ((rc = q_trim_slashes(target, dir, sizeof dir)) != 0)
    return rc;
  cp = rocksdb_checkpoint_object_create(db->rdb, &err);
  if (err)
    return q_status_from_rocksdb(err);
  /* log_size_for_flush = 0: always flush the memtables first. With the WAL on this only makes
   * the copied WAL short; with the WAL off (the development preset) it is what puts recent
   * writes into the checkpoint at all. */
  rocksdb_checkpoint_create(cp, dir, 0, &err);
  rocksdb_checkpoint_object_destroy(cp);
  if (err) {
    rc = q_status_code(err);
    if (strstr(err, "exists")) /* created by someone else since q_check_new_dir */
      rc = q_fail(QUARRY_EINVAL, "checkpoint target %s already exists; choose a new directory "
                                 "(%s)", dir, err);
    else
      rc = q_fail(rc, "checkpoint into %s failed: %s", dir, err);
    rocksdb_free(err);
    return rc;
  }
  /* RocksDB syncs each file it writes or copies (hard-linked tables were synced when written)
   * and the new directory after renaming it into place, but not the parent (docs/design.md#f6): without
   * that fsync a power cut can lose the directory entry of a checkpoint reported as made. The
   * new directory is synced again here so this function's promise does not rest on RocksDB's. */
  if ((rc = q_fsync_dir(dir)) != 0 || (rc = q_fsync_parent(dir)) != 0)
    return rc;
  return 0;
}

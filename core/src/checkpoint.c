/* checkpoint.c: consistent, openable copies of an open database (RocksDB's checkpoint: hard links
 * on the same filesystem, copies across), made durable: the new directory and its parent fsynced.
 * Staged in a private mkdtemp directory beside the target (q_stage_open), never at a predictable
 * name; the stages of checkpoints killed mid-way are removed by the next one beside them. */
#include "files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int q_rdb_checkpoint(quarry_db *db, const char *target) {
  rocksdb_checkpoint_t *cp;
  char *err = NULL, dir[PATH_MAX], parent[PATH_MAX], prefix[PATH_MAX];
  q_stage st;
  int rc;
  if ((rc = q_db_check_read_write(db, "checkpoint", " (it flushes the memtables first)",
                                   "take the checkpoint")) != 0)
    return rc;
  if ((rc = q_check_new_dir(target, "checkpoint target")) != 0)
    return rc;
  if ((rc = q_trim_slashes(target, dir, sizeof dir)) != 0 ||
      (rc = q_parent_dir(dir, parent, sizeof parent)) != 0)
    return rc;
  /* RocksDB stages into "<dir>.tmp", a predictable name: a stale one makes it fail ("exists"),
   * and one planted as a symbolic link to a directory has that directory's files deleted by
   * its cleanup. So it works in a new private directory (q_stage_open: mode 0700, beside the
   * target, the same filesystem for hard links) where no one else can plant anything, and the
   * finished copy is renamed to the target, never over anything (RENAME_NOREPLACE). */
  if (snprintf(prefix, sizeof prefix, "%s/.quarry-checkpoint.", parent) >= (int)sizeof prefix)
    return q_fail(QUARRY_EINVAL, "checkpoint target path too long: %s", target);
  q_stage_sweep(prefix, NULL, NULL); /* what checkpoints killed here left behind */
  if (q_stage_open(prefix, "cp", &st) != 0) {
    if (errno == ENAMETOOLONG)
      return q_fail(QUARRY_EINVAL, "checkpoint target path too long: %s", target);
    return q_fail(errno == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO,
                  "cannot create a staging directory in %s for the checkpoint %s: %s", parent, dir,
                  strerror(errno));
  }
  cp = rocksdb_checkpoint_object_create(db->rdb, &err);
  if (err) {
    q_stage_close(&st);
    return q_status_from_rocksdb(err);
  }
  /* log_size_for_flush = 0: always flush the memtables first. With the WAL on this only makes
   * the copied WAL short; with the WAL off (the development preset) it is what puts recent
   * writes into the checkpoint at all. */
  rocksdb_checkpoint_create(cp, st.inner, 0, &err);
  rocksdb_checkpoint_object_destroy(cp);
  if (err) {
    rc = q_fail(q_status_code(err), "checkpoint into %s failed: %s", dir, err);
    rocksdb_free(err);
    q_stage_close(&st);
    return rc;
  }
  if ((rc = q_fsync_dir(st.inner)) != 0) {
    q_stage_close(&st);
    return rc;
  }
  if (renameat2(AT_FDCWD, st.inner, AT_FDCWD, dir, RENAME_NOREPLACE) != 0) {
    int e = errno;
    q_stage_close(&st);
    if (e == EEXIST) /* created by someone else since q_check_new_dir */
      return q_fail(QUARRY_EINVAL, "checkpoint target %s already exists; choose a new directory",
                    dir);
    return q_fail(QUARRY_EIO, "cannot rename the checkpoint to %s: %s", dir,
                  strerror(e));
  }
  q_stage_close(&st);
  /* RocksDB syncs each file it writes or copies (hard-linked tables were synced when written)
   * and the new directory after renaming it into place, but not the parent (docs/design.md#f6): without
   * that fsync a power cut can lose the directory entry of a checkpoint reported as made. The
   * new directory is synced again here so this function's promise does not rest on RocksDB's. */
  if ((rc = q_fsync_dir(dir)) != 0 || (rc = q_fsync_parent(dir)) != 0)
    return rc;
  return 0;
}

/* files.h: the filesystem steps shared by the core's sources (files.c): directory fsyncs, path
 * checks, private staging directories, recursive removal, the LOCK probe, whole-file reads
 * (private to the core; the durable replacement of a file is public: quarry_file_* in quarry.h). */
#ifndef QUARRY_FILES_H
#define QUARRY_FILES_H

#include "internal.h"

#include <limits.h>
#include <stddef.h>

/* ---- files.c ---------------------------------------------------------------------------------- */
/* fsyncs the directory path (opened O_RDONLY | O_DIRECTORY). QUARRY_EIO naming it on failure. */
int q_fsync_dir(const char *path);
/* fsyncs the directory that contains path (its parent; "." for a bare name). */
int q_fsync_parent(const char *path);
/* Copies path into buf (size cap) without its trailing slashes ("a/b//" -> "a/b"; "/" stays).
 * Returns 0, or QUARRY_EINVAL (naming path) if it does not fit. Directory names derived from a
 * path ("<dir>.tmp") must not land inside it. */
int q_trim_slashes(const char *path, char *buf, size_t cap);
/* Writes the parent directory of path into buf (size cap). Returns 0, or EINVAL if too long. */
int q_parent_dir(const char *path, char *buf, size_t cap);
/* Checks that path does not exist and that its parent is an existing directory. what names the
 * path in messages ("checkpoint target"). Existing: QUARRY_EINVAL "... already exists; choose a
 * new directory"; missing parent: QUARRY_EIO naming the parent. */
int q_check_new_dir(const char *path, const char *what);
/* A private staging directory for a directory that will be renamed to a path beside it: mkdtemp
 * of "<prefix>XXXXXX" (a new random name, never an existing entry nor a link, mode 0700), where
 * prefix names a place in the target's parent directory: the same filesystem, so the finished
 * work renames (and hard-links) into place, and no other user can plant, link or swap anything
 * inside it meanwhile (a predictable "<path>.tmp" can be pre-created or be a planted link). Work
 * goes into inner = dir/<name>, created by the caller, so that what is renamed into place has the
 * permissions the umask gives, not the stage's 0700. The stage holds an owner file
 * (Q_STAGE_OWNER) locked (an open-file-description lock) for as long as fd is open: a process
 * killed mid-way leaves its stage unlocked, and q_stage_sweep recognises it as stale. */
#define Q_STAGE_OWNER ".quarry-stage-owner"
typedef struct q_stage {
  char dir[PATH_MAX];
  char inner[PATH_MAX];
  int fd; /* the owner file, locked; -1 when closed */
} q_stage;
/* Creates the stage. Returns 0, or -1 with errno set (ENAMETOOLONG if a path does not fit): the
 * caller says what failed. Nothing is left behind on failure. */
int q_stage_open(const char *prefix, const char *name, q_stage *st);
/* Removes the stage and everything still in it, then releases its lock. Returns
 * q_remove_tree's status. Closing a closed stage does nothing. */
int q_stage_close(q_stage *st);
/* Removes the stale stages of "<prefix>XXXXXX": directories of this user, mode 0700, whose owner
 * file is not locked (their process is gone). A stage being used, another user's, a link, or one
 * without an owner file (made before owner files) is left alone. If rescue is given and a stale
 * stage holds dir/<rescue> while rescue_to does not exist (a restore killed between moving the
 * old database aside and renaming the new one in), dir/<rescue> is renamed back to rescue_to
 * (and its parent synced) before the stage is removed: the old database comes back. Returns how
 * many stages were removed. */
int q_stage_sweep(const char *prefix, const char *rescue, const char *rescue_to);
/* 1 if path is a directory with no entries besides . and .., 0 if not, -1 if it does not exist. */
int q_dir_is_empty(const char *path);
/* Removes path and everything under it (no symlink is followed). Missing path: success. */
int q_remove_tree(const char *path);
/* Is the RocksDB LOCK file under dir held? 0: no (or no LOCK file), 1: by this process,
 * 2: by another process. Uses an open-file-description lock probe, which conflicts with the
 * POSIX lock RocksDB holds whoever holds it, and never drops that lock. */
int q_lock_holder(const char *dir);
/* Reads a whole small file into a malloc'd NUL-terminated buffer (*len without the NUL). */
int q_read_file(const char *path, char **out, size_t *len);

#endif

/* backup.c: incremental backups on RocksDB's BackupEngine, with retention, restore into a new
 * directory made atomically, and verification of every file's content checksum (not sizes only). */
#include "files.h"
#include "hash.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Seals of the meta files, kept beside RocksDB's layout (which ignores this directory): the
 * SHA-256 of meta/<id> as written, so a damaged meta file is told apart from its backup's data. */
#define SEALS "quarry-meta"
/* Held (an open-file-description write lock) while a handle is open: RocksDB's BackupEngine
 * assumes one user per directory, and opening it cleans up what another user is writing. */
#define LOCKFILE "quarry.lock"
/* Prefix of the scratch directory (inside the backup directory, one per process) where a new
 * backup's files are linked to be read back before the backup is kept. */
#define SCRATCH "quarry-check-"

struct quarry_backups {
  pthread_mutex_t lock; /* one operation at a time: the BackupEngine is not thread-safe */
  rocksdb_backup_engine_t *be;
  rocksdb_env_t *env;
  char *dir;
  char *key;            /* realpath of dir, in the process-wide list of open directories */
  int lockfd;
  int share_table_files;
  uint32_t max_backups;
};

/* ---- directories open in this process (a second handle would clean up under the first) ---- */
typedef struct open_dir {
  struct open_dir *next;
  char *key;
} open_dir;

static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static open_dir *open_dirs;

static int open_dirs_add(const char *key) {
  open_dir *e;
  int rc = 0;
  pthread_mutex_lock(&open_lock);
  for (e = open_dirs; e; e = e->next)
    if (strcmp(e->key, key) == 0)
      break;
  if (e)
    rc = QUARRY_EBUSY;
  else if ((e = malloc(sizeof *e)) == NULL || (e->key = strdup(key)) == NULL) {
    free(e);
    rc = QUARRY_ENOMEM;
  } else {
    e->next = open_dirs;
    open_dirs = e;
  }
  pthread_mutex_unlock(&open_lock);
  return rc;
}

static void open_dirs_remove(const char *key) {
  open_dir **pp, *e;
  pthread_mutex_lock(&open_lock);
  for (pp = &open_dirs; (e = *pp) != NULL; pp = &e->next) {
    if (strcmp(e->key, key) == 0) {
      *pp = e->next;
      free(e->key);
      free(e);
      break;
    }
  }
  pthread_mutex_unlock(&open_lock);
}

/* ---- open / close ----------------------------------------------------------------------------- */
static int is_dir(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int join(char *buf, size_t cap, const char *dir, const char *leaf) {
  if (snprintf(buf, cap, "%s/%s", dir, leaf) >= (int)cap)
    return q_fail(QUARRY_EINVAL, "path too long: %s/%s", dir, leaf);
  return 0;
}

/* Creates dir (its parent must exist) or checks that an existing one can hold backups. */
static int prepare_dir(const char *dir, int create) {
  char buf[PATH_MAX];
  struct stat st;
  int empty, rc;
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT)
      return q_fail(QUARRY_EIO, "cannot use backup directory %s: %s", dir, strerror(errno));
    if (!create)
      return q_fail(QUARRY_ENOTFOUND, "backup directory %s does not exist", dir);
    if ((rc = q_check_new_dir(dir, "backup directory")) != 0)
      return rc;
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
      return q_fail(QUARRY_EIO, "cannot create backup directory %s: %s", dir, strerror(errno));
    return q_fsync_parent(dir);
  }
  if (!S_ISDIR(st.st_mode))
    return q_fail(QUARRY_EINVAL, "backup directory %s is not a directory", dir);
  if ((rc = join(buf, sizeof buf, dir, "meta")) != 0)
    return rc;
  empty = q_dir_is_empty(dir);
  if (!empty && !is_dir(buf)) {
    if ((rc = join(buf, sizeof buf, dir, LOCKFILE)) != 0)
      return rc;
    if (access(buf, F_OK) != 0)
      return q_fail(QUARRY_EINVAL,
                    "%s is not a backup directory (it is not empty and has no meta/); choose a "
                    "new or empty directory",
                    dir);
  }
  return 0;
}

static int take_lock(quarry_backups *b) {
  char buf[PATH_MAX];
  struct flock fl;
  int rc;
  if ((rc = join(buf, sizeof buf, b->dir, LOCKFILE)) != 0)
    return rc;
  b->lockfd = open(buf, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (b->lockfd < 0)
    return q_fail(QUARRY_EIO, "cannot open %s: %s", buf, strerror(errno));
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(b->lockfd, F_OFD_SETLK, &fl) != 0) {
    if (errno == EAGAIN || errno == EACCES)
      return q_fail(QUARRY_ELOCKED,
                    "backup directory %s is in use by another process (it holds %s); one "
                    "process at a time may use a backup directory",
                    b->dir, buf);
    return q_fail(QUARRY_EIO, "cannot lock %s: %s", buf, strerror(errno));
  }
  return 0;
}

void quarry_backups_close(quarry_backups *b) {
  if (b == NULL)
    return;
  if (b->be)
    rocksdb_backup_engine_close(b->be);
  if (b->env)
    rocksdb_env_destroy(b->env);
  if (b->lockfd >= 0)
    close(b->lockfd); /* releases the lock */
  if (b->key) {
    open_dirs_remove(b->key);
    free(b->key);
  }
  free(b->dir);
  pthread_mutex_destroy(&b->lock);
  free(b);
}

/* Opens b's BackupEngine (b->be) on b->dir. */
static int open_engine(quarry_backups *b) {
  rocksdb_backup_engine_options_t *bo = rocksdb_backup_engine_options_create(b->dir);
  char *err = NULL;
  int rc;
  rocksdb_backup_engine_options_set_share_table_files(bo, (unsigned char)b->share_table_files);
  rocksdb_backup_engine_options_set_sync(bo, 1);
  b->be = rocksdb_backup_engine_open_opts(bo, b->env, &err);
  rocksdb_backup_engine_options_destroy(bo);
  if (err) {
    rc = q_status_code(err);
    q_fail(rc, "cannot open backup directory %s: %s", b->dir, err);
    rocksdb_free(err);
    b->be = NULL;
    return rc;
  }
  return 0;
}

int quarry_backups_open(const char *dir, const quarry_backup_options *opts, quarry_backups **out) {
  static const quarry_backup_options defaults = QUARRY_BACKUP_OPTIONS_INIT;
  quarry_backups *b;
  char real[PATH_MAX];
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "backups: out is NULL");
  *out = NULL;
  if (dir == NULL || *dir == '\0')
    return q_fail(QUARRY_EINVAL, "the backup directory must be a non-empty path");
  if (opts == NULL)
    opts = &defaults;
  if ((rc = prepare_dir(dir, opts->create_if_missing != 0)) != 0)
    return rc;
  if ((b = calloc(1, sizeof *b)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  pthread_mutex_init(&b->lock, NULL);
  b->lockfd = -1;
  b->max_backups = opts->max_backups;
  if ((rc = q_trim_slashes(dir, real, sizeof real)) != 0) { /* "<dir>.verify-..." beside it */
    quarry_backups_close(b);
    return rc;
  }
  if ((b->dir = strdup(real)) == NULL) {
    quarry_backups_close(b);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  if (realpath(dir, real) == NULL) {
    rc = q_fail(QUARRY_EIO, "cannot resolve %s: %s", dir, strerror(errno));
    quarry_backups_close(b);
    return rc;
  }
  if ((rc = open_dirs_add(real)) != 0) {
    quarry_backups_close(b);
    return rc == QUARRY_EBUSY
               ? q_fail(rc, "backup directory %s is already open in this process; close the "
                            "other handle first",
                        dir)
               : q_fail(rc, "out of memory");
  }
  if ((b->key = strdup(real)) == NULL) {
    open_dirs_remove(real);
    quarry_backups_close(b);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  if ((rc = take_lock(b)) != 0) {
    quarry_backups_close(b);
    return rc;
  }
  b->env = rocksdb_create_default_env();
  b->share_table_files = opts->share_table_files != 0;
  if ((rc = open_engine(b)) != 0) {
    quarry_backups_close(b);
    return rc;
  }
  *out = b;
  return 0;
}

const char *quarry_backups_dir(const quarry_backups *b) { return b ? b->dir : NULL; }

/* ---- backup information --------------------------------------------------------------------- */
static int list_locked(quarry_backups *b, quarry_backup_info **out, size_t *n) {
  const rocksdb_backup_engine_info_t *info = rocksdb_backup_engine_get_backup_info(b->be);
  int i, count = info ? rocksdb_backup_engine_info_count(info) : 0;
  quarry_backup_info *list = calloc(count > 0 ? (size_t)count : 1, sizeof *list);
  *out = NULL;
  *n = 0;
  if (list == NULL) {
    if (info)
      rocksdb_backup_engine_info_destroy(info);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  for (i = 0; i < count; i++) {
    list[i].id = rocksdb_backup_engine_info_backup_id(info, i);
    list[i].timestamp = rocksdb_backup_engine_info_timestamp(info, i);
    list[i].size = rocksdb_backup_engine_info_size(info, i);
    list[i].files = rocksdb_backup_engine_info_number_files(info, i);
  }
  if (info)
    rocksdb_backup_engine_info_destroy(info);
  *out = list;
  *n = (size_t)count;
  return 0;
}

/* Resolves id (QUARRY_BACKUP_LATEST: the newest) to an existing backup id. */
static int resolve_id(quarry_backups *b, uint32_t id, uint32_t *out) {
  quarry_backup_info *list;
  size_t n, i;
  int rc = list_locked(b, &list, &n);
  if (rc)
    return rc;
  *out = 0;
  for (i = 0; i < n; i++) {
    if (id == QUARRY_BACKUP_LATEST ? list[i].id > *out : list[i].id == id)
      *out = list[i].id;
  }
  free(list);
  if (*out == 0) {
    if (id == QUARRY_BACKUP_LATEST)
      return q_fail(QUARRY_ENOTFOUND, "backup directory %s holds no backup", b->dir);
    return q_fail(QUARRY_ENOTFOUND, "backup %" PRIu32 " does not exist in %s", id, b->dir);
  }
  return 0;
}

int quarry_backups_list(quarry_backups *b, quarry_backup_info **out, size_t *n) {
  int rc;
  if (out == NULL || n == NULL)
    return q_fail(QUARRY_EINVAL, "backups_list: out is NULL");
  *out = NULL;
  *n = 0;
  if (b == NULL)
    return q_fail(QUARRY_ECLOSED, "the backups handle is closed");
  pthread_mutex_lock(&b->lock);
  rc = list_locked(b, out, n);
  pthread_mutex_unlock(&b->lock);
  return rc;
}

static int all_digits(const char *s) {
  if (*s == '\0')
    return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9')
      return 0;
  return 1;
}

/* ---- seals of the meta files ------------------------------------------------------------------ */
static int file_sha256(const char *path, char hex[65]) {
  char *data;
  size_t len;
  unsigned char d[32];
  q_sha256 s;
  int rc = q_read_file(path, &data, &len);
  if (rc)
    return rc;
  q_sha256_init(&s);
  q_sha256_update(&s, data, len);
  q_sha256_final(&s, d);
  q_hex(d, sizeof d, hex);
  free(data);
  return 0;
}

static int write_seal(quarry_backups *b, uint32_t id) {
  char meta[PATH_MAX], seals[PATH_MAX], seal[PATH_MAX], hex[65], line[80];
  int rc;
  snprintf(meta, sizeof meta, "%s/meta/%" PRIu32, b->dir, id);
  if ((rc = join(seals, sizeof seals, b->dir, SEALS)) != 0)
    return rc;
  if (snprintf(seal, sizeof seal, "%s/%" PRIu32, seals, id) >= (int)sizeof seal)
    return q_fail(QUARRY_EINVAL, "path too long under %s", seals);
  if (mkdir(seals, 0755) == 0) {
    if ((rc = q_fsync_dir(b->dir)) != 0) /* the new directory's entry */
      return rc;
  } else if (errno != EEXIST) {
    return q_fail(QUARRY_EIO, "cannot create %s: %s", seals, strerror(errno));
  }
  if ((rc = file_sha256(meta, hex)) != 0)
    return rc;
  snprintf(line, sizeof line, "sha256 %s\n", hex);
  return quarry_file_write_atomic(seal, line, strlen(line));
}

/* Removes the seals of backups that no longer exist (after a purge). */
static void sweep_seals(quarry_backups *b) {
  char seals[PATH_MAX], path[PATH_MAX];
  quarry_backup_info *list;
  size_t n, i;
  DIR *d;
  struct dirent *e;
  if (join(seals, sizeof seals, b->dir, SEALS) != 0 || list_locked(b, &list, &n) != 0)
    return;
  if ((d = opendir(seals)) != NULL) {
    while ((e = readdir(d)) != NULL) {
      int kept = 0;
      if (!all_digits(e->d_name))
        continue;
      for (i = 0; i < n && !kept; i++)
        kept = strtoul(e->d_name, NULL, 10) == list[i].id;
      if (!kept && snprintf(path, sizeof path, "%s/%s", seals, e->d_name) < (int)sizeof path)
        unlink(path);
    }
    closedir(d);
    q_fsync_dir(seals);
  }
  free(list);
}

/* ---- create / purge ------------------------------------------------------------------------- */
static int check_new_backup(quarry_backups *b, quarry_db *db, uint32_t id);
static void discard_backup(quarry_backups *b, uint32_t id);

static int purge_locked(quarry_backups *b, uint32_t keep) {
  char *err = NULL;
  rocksdb_backup_engine_purge_old_backups(b->be, keep, &err);
  if (err)
    return q_status_from_rocksdb(err);
  sweep_seals(b);
  return 0;
}

int q_rdb_backups_create(quarry_backups *b, quarry_db *db, int flush, uint32_t *id) {
  char *err = NULL;
  uint32_t newest = 0;
  int rc;
  if (id)
    *id = 0;
  if (b == NULL)
    return q_fail(QUARRY_ECLOSED, "the backups handle is closed");
  if ((rc = q_db_check_read_write(db, "backup", "", "create the backup")) != 0)
    return rc;
  /* Without a WAL, what is still in the memtables exists nowhere else: always flush. */
  if (!db->opts->wal)
    flush = 1;
  pthread_mutex_lock(&b->lock);
  rocksdb_backup_engine_create_new_backup_flush(b->be, db->rdb, (unsigned char)(flush != 0), &err);
  if (err) {
    rc = q_status_code(err);
    q_fail(rc, "backup of %s into %s failed: %s", db->path, b->dir, err);
    rocksdb_free(err);
  }
  if (rc == 0)
    rc = resolve_id(b, QUARRY_BACKUP_LATEST, &newest);
  if (rc == 0 && (rc = check_new_backup(b, db, newest)) != 0) {
    char msg[1200];
    snprintf(msg, sizeof msg, "%s", quarry_last_error());
    discard_backup(b, newest);
    q_fail(rc,
           "backup of %s refused, nothing kept in %s: %s. The database is damaged: check it "
           "with db:verify() (quarry verify for a chain store) and restore it from an earlier "
           "backup",
           db->path, b->dir, msg);
    newest = 0;
  }
  if (rc == 0)
    rc = write_seal(b, newest);
  if (rc == 0 && b->max_backups > 0)
    rc = purge_locked(b, b->max_backups);
  pthread_mutex_unlock(&b->lock);
  if (rc == 0 && id)
    *id = newest;
  return rc;
}

int quarry_backups_purge(quarry_backups *b, uint32_t keep) {
  int rc;
  if (b == NULL)
    return q_fail(QUARRY_ECLOSED, "the backups handle is closed");
  pthread_mutex_lock(&b->lock);
  rc = purge_locked(b, keep);
  pthread_mutex_unlock(&b->lock);
  return rc;
}

/* ---- verify ---------------------------------------------------------------------------------- */
/* CRC-32C of a whole file. */
static int file_crc32c(const char *path, uint32_t *crc, uint64_t *size) {
  static const size_t chunk = 1u << 20;
  char *buf = malloc(chunk);
  int fd, rc = 0;
  *crc = 0;
  *size = 0;
  if (buf == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
    free(buf);
    return q_fail(QUARRY_ECORRUPTION, "backup file %s cannot be read: %s", path,
                  strerror(errno));
  }
  for (;;) {
    ssize_t got = read(fd, buf, chunk);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0) {
      rc = q_fail(QUARRY_EIO, "cannot read backup file %s: %s", path, strerror(errno));
      break;
    }
    if (got == 0)
      break;
    *crc = q_crc32c(*crc, buf, (size_t)got);
    *size += (uint64_t)got;
  }
  close(fd);
  free(buf);
  return rc;
}

/* Next line of text at *p (NUL-terminated buffer): returns it (terminated in place), or NULL. */
static char *next_line(char **p) {
  char *line = *p, *nl;
  if (line == NULL || *line == '\0')
    return NULL;
  nl = strchr(line, '\n');
  if (nl) {
    *nl = '\0';
    *p = nl + 1;
  } else {
    *p = line + strlen(line);
  }
  return line;
}


/* Calls fn(name, crc, ctx) for every file listed in the text of meta/<id> (name relative to the
 * backup directory, crc the CRC-32C recorded for it); stops at the first non-zero return. */
static int walk_meta(uint32_t id, const char *meta_path, char *text,
                     int (*fn)(const char *name, uint32_t crc, void *ctx), void *ctx) {
  char *p = text, *line;
  unsigned long count = 0, seen = 0;
  int stage = 0, rc = 0;
  /* Layout written by RocksDB 7.8: [schema_version N], timestamp, sequence number, optional
   * fields (metadata ...), the number of files, then one line per file:
   * "<path relative to the backup directory> crc32 <decimal CRC-32C>" [further fields]. */
  while (rc == 0 && (line = next_line(&p)) != NULL) {
    if (stage == 0 && strncmp(line, "schema_version ", 15) == 0)
      continue;
    if (stage < 2) { /* timestamp, then sequence number */
      if (!all_digits(line))
        return q_fail(QUARRY_ECORRUPTION, "backup %" PRIu32 ": %s is damaged (line \"%.40s\")",
                      id, meta_path, line);
      stage++;
      continue;
    }
    if (stage == 2) { /* optional fields until the file count */
      if (all_digits(line)) {
        count = strtoul(line, NULL, 10);
        stage = 3;
      }
      continue;
    }
    {
      char *save = NULL, *name = strtok_r(line, " ", &save), *field, *value;
      uint32_t want = 0;
      int have = 0;
      while ((field = strtok_r(NULL, " ", &save)) != NULL &&
             (value = strtok_r(NULL, " ", &save)) != NULL) {
        if (strcmp(field, "crc32") == 0 && all_digits(value)) {
          unsigned long long v = strtoull(value, NULL, 10);
          if (v <= UINT32_MAX) {
            want = (uint32_t)v;
            have = 1;
          }
        }
      }
      if (name == NULL || strstr(name, "..") != NULL || name[0] == '/' || !have)
        return q_fail(QUARRY_ECORRUPTION,
                      "backup %" PRIu32 ": %s is damaged (file line %lu has no usable path and "
                      "crc32)",
                      id, meta_path, seen + 1);
      if ((rc = fn(name, want, ctx)) != 0)
        return rc;
      seen++;
    }
  }
  if (stage < 3 || seen != count)
    return q_fail(QUARRY_ECORRUPTION,
                  "backup %" PRIu32 ": %s is damaged (it lists %lu of %lu files)", id, meta_path,
                  seen, count);
  return 0;
}

typedef struct {
  quarry_backups *b;
  uint32_t id;
} crc_check;

/* One file of a backup against the CRC-32C recorded for it. */
static int check_crc(const char *name, uint32_t want, void *ctx) {
  const crc_check *c = ctx;
  char path[PATH_MAX];
  uint32_t got;
  uint64_t size;
  int rc;
  if ((rc = join(path, sizeof path, c->b->dir, name)) != 0)
    return rc;
  if ((rc = file_crc32c(path, &got, &size)) != 0)
    return rc;
  if (got != want)
    return q_fail(QUARRY_ECORRUPTION,
                  "backup %" PRIu32 ": file %s is damaged: its CRC-32C is %" PRIu32
                  ", the backup recorded %" PRIu32 " (%" PRIu64 " bytes)",
                  c->id, path, got, want, size);
  return 0;
}

/* Checks every file listed in meta/<id> against the CRC-32C recorded there. */
static int verify_files(quarry_backups *b, uint32_t id, const char *meta_path, char *text) {
  crc_check c = {b, id};
  return walk_meta(id, meta_path, text, check_crc, &c);
}

static int restore_staged(quarry_backups *b, uint32_t id, const char *db_dir, q_stage *st);
static int restore_prefix(const char *db_dir, char *prefix, size_t cap);

/* Restores into a private scratch directory next to the backup directory (restore_staged:
 * "<dir>.restoring-XXXXXX/db") and scans it with checksums. */
static int verify_deep(quarry_backups *b, uint32_t id) {
  char prefix[PATH_MAX];
  const char *scratch;
  q_stage st;
  quarry_options *o = NULL;
  quarry_db *db = NULL;
  quarry_scan_report *r = NULL;
  int rc = restore_prefix(b->dir, prefix, sizeof prefix);
  if (rc != 0)
    return rc;
  q_stage_sweep(prefix, NULL, NULL); /* the scratch copies of deep verifies killed mid-way */
  if ((rc = restore_staged(b, id, b->dir, &st)) != 0)
    return rc;
  scratch = st.inner;
  rc = quarry_options_new(NULL, &o);
  if (rc == 0)
    rc = quarry_options_set_string(o, "mode", "read_only");
  if (rc == 0)
    rc = quarry_db_open(scratch, o, &db);
  if (rc == 0)
    rc = quarry_db_verify(db, &r);
  if (rc) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", quarry_last_error());
    q_fail(rc, "backup %" PRIu32 " restored into %s: %s", id, scratch, msg);
  }
  quarry_scan_report_free(r);
  quarry_db_close(db);
  quarry_options_free(o);
  q_stage_close(&st);
  return rc;
}

int quarry_backups_verify(quarry_backups *b, uint32_t id, int deep) {
  char meta[PATH_MAX], seal[PATH_MAX], want[65], got[65], *text = NULL, *err = NULL;
  size_t len;
  int rc;
  if (b == NULL)
    return q_fail(QUARRY_ECLOSED, "the backups handle is closed");
  pthread_mutex_lock(&b->lock);
  if ((rc = resolve_id(b, id, &id)) != 0)
    goto done;
  snprintf(meta, sizeof meta, "%s/meta/%" PRIu32, b->dir, id);
  snprintf(seal, sizeof seal, "%s/" SEALS "/%" PRIu32, b->dir, id);
  /* 1. the meta file against its seal (backups made by Quarry have one) */
  if (q_read_file(seal, &text, &len) == 0) {
    int ok = len >= 7 + 64 && strncmp(text, "sha256 ", 7) == 0;
    if (ok) {
      memcpy(want, text + 7, 64);
      want[64] = '\0';
    }
    free(text);
    text = NULL;
    if ((rc = file_sha256(meta, got)) != 0)
      goto done;
    if (!ok || strcmp(want, got) != 0) {
      rc = q_fail(QUARRY_ECORRUPTION,
                  "backup %" PRIu32 ": file %s is damaged: its SHA-256 differs from the one "
                  "recorded in %s when the backup was made (one of the two files is damaged)",
                  id, meta, seal);
      goto done;
    }
  }
  /* 2. RocksDB's own check: every file present with its recorded size */
  rocksdb_backup_engine_verify_backup(b->be, id, &err);
  if (err) {
    rc = q_status_code(err);
    q_fail(rc, "backup %" PRIu32 " in %s: %s", id, b->dir, err);
    rocksdb_free(err);
    goto done;
  }
  if (deep == QUARRY_BACKUP_VERIFY_SHALLOW) /* sizes only: corruption is not detected */
    goto done;
  /* 3. every byte of every file against the CRC-32C RocksDB recorded when it copied it */
  if ((rc = q_read_file(meta, &text, &len)) != 0)
    goto done;
  if ((rc = verify_files(b, id, meta, text)) != 0)
    goto done;
  /* 4. optionally: restore and read every key with checksums verified */
  if (deep > 0)
    rc = verify_deep(b, id);
done:
  free(text);
  pthread_mutex_unlock(&b->lock);
  return rc;
}

/* ---- checking what a new backup copied ------------------------------------------------------ */
/* A list of file names (owned copies). */
typedef struct {
  char **v;
  size_t n, cap;
} name_list;

static void names_free(name_list *l) {
  size_t i;
  for (i = 0; i < l->n; i++)
    free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int names_add(name_list *l, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 16;
    char **v = realloc(l->v, cap * sizeof *v);
    if (v == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    l->v = v;
    l->cap = cap;
  }
  if ((l->v[l->n] = strdup(name)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  l->n++;
  return 0;
}

static int names_has(const name_list *l, const char *name) {
  size_t i;
  for (i = 0; i < l->n; i++)
    if (strcmp(l->v[i], name) == 0)
      return 1;
  return 0;
}

static int is_table_file(const char *name) {
  size_t n = strlen(name);
  return n > 4 && strcmp(name + n - 4, ".sst") == 0;
}

static int collect_table(const char *name, uint32_t crc, void *ctx) {
  (void)crc;
  return is_table_file(name) ? names_add(ctx, name) : 0;
}

/* Appends the table files that backup id lists (names relative to the backup directory). */
static int backup_tables(quarry_backups *b, uint32_t id, name_list *out) {
  char meta[PATH_MAX], *text;
  size_t len;
  int rc;
  snprintf(meta, sizeof meta, "%s/meta/%" PRIu32, b->dir, id);
  if ((rc = q_read_file(meta, &text, &len)) != 0)
    return rc;
  rc = walk_meta(id, meta, text, collect_table, out);
  free(text);
  return rc;
}

/* The name a backup file has in its database, with a leading '/' as rocksdb_livefiles gives it:
 * "shared_checksum/000013_s<session>_<size>.sst" and "private/3/000013.sst" -> "/000013.sst". */
static int db_file_name(const char *name, char *out, size_t cap) {
  const char *base = strrchr(name, '/');
  base = base ? base + 1 : name;
  if (strncmp(name, "shared_checksum/", 16) == 0) {
    size_t digits = strspn(base, "0123456789");
    const char *ext = strrchr(base, '.');
    if (digits == 0 || base[digits] != '_' || ext == NULL)
      return q_fail(QUARRY_ECORRUPTION, "backup file %s has a name BackupEngine does not write",
                    name);
    snprintf(out, cap, "/%.*s%s", (int)digits, base, ext);
  } else {
    snprintf(out, cap, "/%s", base);
  }
  return 0;
}

typedef struct {
  const char *from; /* the backup directory, resolved */
  const char *to;   /* the scratch directory */
} link_job;

/* Links one file of the backup into the scratch directory under its database name. */
static int link_file(const char *name, uint32_t crc, void *ctx) {
  const link_job *j = ctx;
  char target[PATH_MAX], leaf[PATH_MAX], link_path[PATH_MAX];
  int rc;
  (void)crc;
  if ((rc = db_file_name(name, leaf, sizeof leaf)) != 0 ||
      (rc = join(target, sizeof target, j->from, name)) != 0)
    return rc;
  if (snprintf(link_path, sizeof link_path, "%s%s", j->to, leaf) >= (int)sizeof link_path)
    return q_fail(QUARRY_EINVAL, "path too long under %s", j->to);
  if (symlink(target, link_path) != 0)
    return q_fail(QUARRY_EIO, "cannot link %s to %s: %s", link_path, target, strerror(errno));
  return 0;
}

static int is_wanted(const char *name, void *ctx) { return names_has(ctx, name); }

/* The table files of backup id that no other backup lists, by database name ("/000013.sst"). */
static int new_tables(quarry_backups *b, uint32_t id, name_list *out) {
  name_list mine = {0}, older = {0};
  quarry_backup_info *list = NULL;
  size_t n = 0, i;
  char leaf[PATH_MAX];
  int rc = list_locked(b, &list, &n);
  for (i = 0; rc == 0 && i < n; i++)
    if (list[i].id != id)
      rc = backup_tables(b, list[i].id, &older);
  if (rc == 0)
    rc = backup_tables(b, id, &mine);
  for (i = 0; rc == 0 && i < mine.n; i++)
    if (!names_has(&older, mine.v[i]) && (rc = db_file_name(mine.v[i], leaf, sizeof leaf)) == 0)
      rc = names_add(out, leaf);
  free(list);
  names_free(&mine);
  names_free(&older);
  return rc;
}

/* Copies msg into out with each occurrence of from replaced by to. */
static void replace_all(const char *msg, const char *from, const char *to, char *out, size_t cap) {
  size_t used = 0, flen = strlen(from);
  out[0] = '\0';
  while (*msg && used + 1 < cap) {
    if (flen && strncmp(msg, from, flen) == 0) {
      int w = snprintf(out + used, cap - used, "%s", to);
      if (w < 0 || (size_t)w >= cap - used)
        break;
      used += (size_t)w;
      msg += flen;
    } else {
      out[used++] = *msg++;
      out[used] = '\0';
    }
  }
}

/* Reads, with block checksums, every table file that backup id is the first to hold, as the
 * backup holds it: the backup's files are linked into a scratch directory inside the backup
 * directory, opened read-only (its own caches: every block comes from the backup's bytes) and
 * the key range of each new table file is scanned. Damage: QUARRY_ECORRUPTION naming the file
 * by its path in db (the database backed up). */
static int check_new_backup(quarry_backups *b, quarry_db *db, uint32_t id) {
  char scratch[PATH_MAX], meta[PATH_MAX], *text = NULL;
  name_list fresh = {0};
  quarry_options *o = NULL;
  quarry_db *sdb = NULL;
  uint64_t files = 0, bytes = 0;
  size_t len;
  link_job j;
  int rc;
  if ((rc = new_tables(b, id, &fresh)) != 0 || fresh.n == 0) {
    names_free(&fresh);
    return rc;
  }
  if (snprintf(scratch, sizeof scratch, "%s/" SCRATCH "%ld", b->key, (long)getpid()) >=
      (int)sizeof scratch) {
    names_free(&fresh);
    return q_fail(QUARRY_EINVAL, "path too long: %s", b->key);
  }
  snprintf(meta, sizeof meta, "%s/meta/%" PRIu32, b->dir, id);
  j.from = b->key;
  j.to = scratch;
  q_remove_tree(scratch);
  if (mkdir(scratch, 0700) != 0)
    rc = q_fail(QUARRY_EIO, "cannot create %s: %s", scratch, strerror(errno));
  if (rc == 0)
    rc = q_read_file(meta, &text, &len);
  if (rc == 0)
    rc = walk_meta(id, meta, text, link_file, &j);
  if (rc == 0)
    rc = quarry_options_new(NULL, &o);
  if (rc == 0)
    rc = quarry_options_set_string(o, "mode", "read_only");
  if (rc == 0)
    rc = quarry_db_open(scratch, o, &sdb);
  if (rc == 0)
    rc = q_verify_table_files(sdb, is_wanted, &fresh, &files, &bytes);
  if (rc) { /* name the database's files, not their links */
    char msg[1200];
    replace_all(quarry_last_error(), scratch, db->path, msg, sizeof msg);
    q_fail(rc, "%s", msg);
  }
  quarry_db_close(sdb);
  quarry_options_free(o);
  free(text);
  names_free(&fresh);
  q_remove_tree(scratch);
  return rc;
}

/* Removes backup id, which check_new_backup refused: its meta file goes (a backup without one
 * does not exist), then the engine is reopened and its garbage collection removes the files no
 * remaining backup uses. Best effort: the caller reports the refusal. */
static void discard_backup(quarry_backups *b, uint32_t id) {
  char meta[PATH_MAX], dir[PATH_MAX], *err = NULL;
  rocksdb_backup_engine_t *old;
  snprintf(meta, sizeof meta, "%s/meta/%" PRIu32, b->dir, id);
  snprintf(dir, sizeof dir, "%s/meta", b->dir);
  if (unlink(meta) == 0)
    q_fsync_dir(dir);
  old = b->be; /* idle: a new engine reads the directory without the removed backup */
  if (open_engine(b) != 0) {
    b->be = old;
  } else {
    rocksdb_backup_engine_close(old);
    rocksdb_backup_engine_purge_old_backups(b->be, UINT32_MAX, &err);
    if (err)
      rocksdb_free(err);
    sweep_seals(b);
  }
}

/* ---- restore ----------------------------------------------------------------------------------- */
/* Refuses dir when a database there is open: by a handle of this process in any mode (the
 * registry: read-only and secondary opens take no LOCK file, so the LOCK alone would miss them)
 * or by another process (its LOCK). Called at the start of a restore and again, registry lock
 * held, right before the target is replaced. */
static int check_not_open(const char *dir, const char *what, int registry_held) {
  int modes = registry_held ? q_path_open_here_locked(dir) : q_path_open_here(dir);
  if (modes) {
    char kinds[64] = "";
    int m, n = 0;
    for (m = Q_MODE_READ_WRITE; m <= Q_MODE_SECONDARY; m++)
      if (modes & (1 << m))
        n += snprintf(kinds + n, sizeof kinds - (size_t)n, "%s%s", n ? " and " : "",
                      q_mode_name(m));
    return q_fail(QUARRY_EBUSY,
                  "%s %s is a database open in this process (mode %s); close every handle on it "
                  "first",
                  what, dir, kinds);
  }
  switch (q_lock_holder(dir)) {
  case 1:
    return q_fail(QUARRY_EBUSY, "%s %s is a database open in this process; close it first", what,
                  dir);
  case 2:
    return q_fail(QUARRY_ELOCKED, "%s %s is a database locked by another process; stop it first",
                  what, dir);
  default: return 0;
  }
}

/* Checks a restore target: not open anywhere; missing (parent exists), empty, or (overwrite) a
 * database. *state: 0 missing, 1 empty directory, 2 a database to replace. */
static int check_target(const char *dir, const char *what, int overwrite, int *state) {
  char buf[PATH_MAX];
  struct stat st;
  int empty, rc;
  *state = 0;
  if (dir == NULL || *dir == '\0')
    return q_fail(QUARRY_EINVAL, "the %s must be a non-empty path", what);
  if (stat(dir, &st) != 0) {
    if (errno != ENOENT)
      return q_fail(QUARRY_EIO, "cannot check %s %s: %s", what, dir, strerror(errno));
    return q_check_new_dir(dir, what);
  }
  if (!S_ISDIR(st.st_mode))
    return q_fail(QUARRY_EINVAL, "%s %s is not a directory", what, dir);
  if ((rc = check_not_open(dir, what, 0)) != 0)
    return rc;
  empty = q_dir_is_empty(dir);
  if (empty == 1) {
    *state = 1;
    return 0;
  }
  if (!overwrite)
    return q_fail(QUARRY_EINVAL,
                  "%s %s is not empty; choose a new directory, or restore with overwrite to "
                  "replace the database there",
                  what, dir);
  if ((rc = join(buf, sizeof buf, dir, "CURRENT")) != 0)
    return rc;
  if (access(buf, F_OK) != 0)
    return q_fail(QUARRY_EINVAL,
                  "refusing to overwrite %s %s: it is not empty and does not hold a database (no "
                  "CURRENT file)",
                  what, dir);
  *state = 2;
  return 0;
}

static int rocksdb_restore(quarry_backups *b, uint32_t id, const char *db_dir,
                           const char *wal_dir) {
  rocksdb_restore_options_t *ro = rocksdb_restore_options_create();
  char *err = NULL;
  int rc = 0;
  rocksdb_backup_engine_restore_db_from_backup(b->be, db_dir, wal_dir, ro, id, &err);
  rocksdb_restore_options_destroy(ro);
  if (err) {
    rc = q_status_code(err);
    q_fail(rc, "restore of backup %" PRIu32 " from %s into %s failed: %s", id, b->dir, db_dir,
           err);
    rocksdb_free(err);
  }
  return rc;
}

/* Says why the directory a restore writes into could not be created (RocksDB ignores a failed
 * mkdir there and then reports ENOENT opening it): a read-only file system, a parent without
 * write permission or a full disk is named, with what to do. */
static int restore_dir_failed(int e, const char *dir, const char *target) {
  return q_fail(e == ENOSPC ? QUARRY_ENOSPC : QUARRY_EIO, "cannot restore into %s: mkdir %s: %s (%s)",
                target, dir, strerror(e),
                e == EROFS    ? "the file system is mounted read-only: restore onto a writable one"
                : e == EACCES ? "no write permission in its parent directory"
                : e == ENOSPC ? "free some space and run the restore again"
                              : "nothing was restored");
}

/* Creates the directory a restore writes into. An existing directory is left as it is. */
static int make_restore_dir(const char *dir, const char *target) {
  if (mkdir(dir, 0777) == 0 || errno == EEXIST)
    return 0;
  return restore_dir_failed(errno, dir, target);
}

/* The stage prefix of restores into db_dir: "<db_dir>.restoring-". */
static int restore_prefix(const char *db_dir, char *prefix, size_t cap) {
  if (snprintf(prefix, cap, "%s.restoring-", db_dir) >= (int)cap)
    return q_fail(QUARRY_EINVAL, "path too long: %s", db_dir);
  return 0;
}

/* Restores backup id into a new private directory beside db_dir (q_stage_open, the checkpoints'
 * staging: "<db_dir>.restoring-XXXXXX", mode 0700, a name no one can predict nor plant), the
 * database itself in st->inner (stage/db). On success the caller renames st->inner into place
 * and closes the stage (q_stage_close). */
static int restore_staged(quarry_backups *b, uint32_t id, const char *db_dir, q_stage *st) {
  char prefix[PATH_MAX];
  int rc;
  if ((rc = restore_prefix(db_dir, prefix, sizeof prefix)) != 0)
    return rc;
  if (q_stage_open(prefix, "db", st) != 0) {
    if (errno == ENAMETOOLONG)
      return q_fail(QUARRY_EINVAL, "path too long: %s", db_dir);
    snprintf(prefix + strlen(prefix), sizeof prefix - strlen(prefix), "XXXXXX");
    return restore_dir_failed(errno, prefix, db_dir);
  }
  if ((rc = make_restore_dir(st->inner, db_dir)) != 0 ||
      (rc = rocksdb_restore(b, id, st->inner, st->inner)) != 0 ||
      (rc = q_fsync_dir(st->inner)) != 0) {
    q_stage_close(st);
    return rc;
  }
  return 0;
}

static int restore_locked(quarry_backups *b, uint32_t id, const char *target,
                          const quarry_restore_options *ropts) {
  char old[PATH_MAX], db_dir[PATH_MAX], prefix[PATH_MAX];
  q_stage st;
  int rc, state, wstate = 0;
  /* the staging directory must be beside db_dir, not inside it */
  if ((rc = q_trim_slashes(target, db_dir, sizeof db_dir)) != 0 ||
      (rc = restore_prefix(db_dir, prefix, sizeof prefix)) != 0)
    return rc;
  /* A restore killed here earlier left its stage: removed, and if it was killed between moving
   * the old database aside and renaming the new one in, the old database is put back first. */
  q_stage_sweep(prefix, "replaced", db_dir);
  if ((rc = check_target(target, "restore target", ropts->overwrite, &state)) != 0)
    return rc;
  if (ropts->wal_dir) {
    /* WAL files in their own directory: RocksDB restores in place (it empties both first). */
    if ((rc = check_target(ropts->wal_dir, "WAL directory", ropts->overwrite, &wstate)) != 0)
      return rc;
    if ((rc = make_restore_dir(db_dir, db_dir)) != 0 ||
        (rc = make_restore_dir(ropts->wal_dir, db_dir)) != 0 ||
        (rc = rocksdb_restore(b, id, db_dir, ropts->wal_dir)) != 0)
      return rc;
    if ((rc = q_fsync_dir(db_dir)) != 0 || (rc = q_fsync_parent(db_dir)) != 0 ||
        (rc = q_fsync_dir(ropts->wal_dir)) != 0 || (rc = q_fsync_parent(ropts->wal_dir)) != 0)
      return rc;
    return 0;
  }
  /* Restore beside the target in a private directory, then rename it into place: the target is
   * never half-restored, and no one else's file or link is ever in the way: a planted
   * "<db_dir>.restoring-<pid>" (the name once used) is just another entry of the parent. */
  if ((rc = restore_staged(b, id, db_dir, &st)) != 0)
    return rc;
  /* the database replaced is moved into the stage too, not to a predictable name (the sweep
   * above knows it as "replaced") */
  if (snprintf(old, sizeof old, "%s/replaced", st.dir) >= (int)sizeof old) { /* not reached */
    q_stage_close(&st);
    return q_fail(QUARRY_EINVAL, "path too long: %s", db_dir);
  }
  /* The copy took a while: check again, with the registry held so that no handle of this
   * process can open db_dir until the new database is in place. */
  q_registry_lock();
  if ((rc = check_not_open(db_dir, "restore target", 1)) != 0) {
    q_registry_unlock();
    q_stage_close(&st);
    return rc;
  }
  if (state == 2 && rename(db_dir, old) != 0) {
    rc = q_fail(QUARRY_EIO, "cannot move %s aside: %s", db_dir, strerror(errno));
    q_registry_unlock();
    q_stage_close(&st);
    return rc;
  }
  /* missing (or moved aside just now): never over anything that appeared meanwhile; an empty
   * directory: rename(2) replaces it (and refuses it if it is no longer empty, or a link) */
  if ((state == 1 ? rename(st.inner, db_dir)
                  : renameat2(AT_FDCWD, st.inner, AT_FDCWD, db_dir, RENAME_NOREPLACE)) != 0) {
    int e = errno;
    if (state == 2)
      rename(old, db_dir);
    q_registry_unlock();
    q_stage_close(&st);
    if (e == EEXIST || e == ENOTEMPTY) /* created or filled by someone else since the check */
      return q_fail(QUARRY_EINVAL,
                    "restore target %s appeared or changed during the restore; nothing was "
                    "replaced: run the restore again",
                    db_dir);
    return q_fail(QUARRY_EIO, "cannot rename %s to %s: %s", st.inner, db_dir, strerror(e));
  }
  q_registry_unlock();
  /* until the parent is synced, the replaced database (in the stage) is kept */
  if ((rc = q_fsync_parent(db_dir)) != 0)
    return rc;
  return q_stage_close(&st); /* with the replaced database in it */
}

int quarry_backups_restore(quarry_backups *b, uint32_t id, const char *db_dir,
                           const quarry_restore_options *ropts) {
  static const quarry_restore_options defaults = QUARRY_RESTORE_OPTIONS_INIT;
  int rc;
  if (b == NULL)
    return q_fail(QUARRY_ECLOSED, "the backups handle is closed");
  if (ropts == NULL)
    ropts = &defaults;
  pthread_mutex_lock(&b->lock);
  rc = resolve_id(b, id, &id);
  if (rc == 0)
    rc = restore_locked(b, id, db_dir, ropts);
  pthread_mutex_unlock(&b->lock);
  return rc;
}

/* db.c: opening and closing databases (modes, families, the process-wide registry of open paths),
 * children tracking, the guards every operation starts with, the failed state, destroy/list. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- process-wide registry of open paths (so destroy can refuse with EBUSY) ----------------- */
typedef struct reg_entry {
  struct reg_entry *next;
  char *key;
} reg_entry;

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static reg_entry *registry;

/* Normalises path: realpath when it exists, else realpath(parent)/basename, else a copy. */
static char *normalise_path(const char *path) {
  char buf[PATH_MAX], *dup1, *dup2, *out;
  if (realpath(path, buf))
    return strdup(buf);
  dup1 = strdup(path);
  dup2 = strdup(path);
  out = NULL;
  if (dup1 && dup2 && realpath(dirname(dup1), buf)) {
    const char *base = basename(dup2);
    size_t n = strlen(buf) + strlen(base) + 2;
    if ((out = malloc(n)) != NULL)
      snprintf(out, n, "%s/%s", strcmp(buf, "/") ? buf : "", base);
  }
  free(dup1);
  free(dup2);
  return out ? out : strdup(path);
}

static int registry_has_locked(const char *key) {
  reg_entry *e;
  for (e = registry; e; e = e->next)
    if (strcmp(e->key, key) == 0)
      return 1;
  return 0;
}

static int registry_add(const char *key) {
  reg_entry *e = malloc(sizeof *e);
  if (e == NULL || (e->key = strdup(key)) == NULL) {
    free(e);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&registry_lock);
  e->next = registry;
  registry = e;
  pthread_mutex_unlock(&registry_lock);
  return 0;
}

static void registry_remove(const char *key) {
  reg_entry **pp, *e;
  pthread_mutex_lock(&registry_lock);
  for (pp = &registry; (e = *pp) != NULL; pp = &e->next) {
    if (strcmp(e->key, key) == 0) {
      *pp = e->next;
      free(e->key);
      free(e);
      break;
    }
  }
  pthread_mutex_unlock(&registry_lock);
}

/* ---- children ------------------------------------------------------------------------------ */
static void count_child(quarry_db *db, q_child_kind kind, int delta) {
  if (kind == Q_CHILD_ITER)
    db->n_iters += delta;
  else if (kind == Q_CHILD_SNAPSHOT)
    db->n_snapshots += delta;
  else
    db->n_batches += delta;
}

void q_child_link(quarry_db *db, q_child *c) {
  pthread_mutex_lock(&db->lock);
  c->db = db;
  c->next = &db->children;
  c->prev = db->children.prev;
  db->children.prev->next = c;
  db->children.prev = c;
  count_child(db, c->kind, 1);
  pthread_mutex_unlock(&db->lock);
}

void q_child_unlink_locked(q_child *c) {
  if (c->db == NULL)
    return;
  c->prev->next = c->next;
  c->next->prev = c->prev;
  c->prev = c->next = c;
  count_child(c->db, c->kind, -1);
  c->db = NULL;
}

static int live_count(const quarry_db *db, q_child_kind kind) {
  quarry_db *m = (quarry_db *)(uintptr_t)db; /* the mutex, not the value, changes */
  int n;
  if (db == NULL)
    return 0;
  pthread_mutex_lock(&m->lock);
  n = kind == Q_CHILD_ITER ? db->n_iters : kind == Q_CHILD_SNAPSHOT ? db->n_snapshots : db->n_batches;
  pthread_mutex_unlock(&m->lock);
  return n;
}

int quarry_db_live_iterators(const quarry_db *db) { return live_count(db, Q_CHILD_ITER); }
int quarry_db_live_snapshots(const quarry_db *db) { return live_count(db, Q_CHILD_SNAPSHOT); }
int quarry_db_live_batches(const quarry_db *db) { return live_count(db, Q_CHILD_BATCH); }

/* ---- guards -------------------------------------------------------------------------------- */
int q_db_check(const quarry_db *db, const char *op) {
  if (db == NULL || db->rdb == NULL)
    return q_fail(QUARRY_ECLOSED, "%s: the database is closed", op);
  return 0;
}

int q_db_check_write(quarry_db *db, const char *op) {
  int rc = q_db_check(db, op), failed;
  if (rc)
    return rc;
  if (db->mode != Q_MODE_READ_WRITE)
    return q_fail(QUARRY_ENOTSUPPORTED, "database opened %s: writes are not allowed",
                  q_mode_name(db->mode));
  failed = atomic_load(&db->failed);
  if (failed) {
    char msg[sizeof db->failed_msg];
    pthread_mutex_lock(&db->lock);
    memcpy(msg, db->failed_msg, sizeof msg);
    pthread_mutex_unlock(&db->lock);
    return q_fail(failed,
                  "the database handle is in a failed state after a write error (%s); close and "
                  "reopen it (nothing acknowledged was lost)",
                  msg);
  }
  return 0;
}

int q_db_write_failed(quarry_db *db, int code) {
  char msg[sizeof db->failed_msg];
  if (code != QUARRY_EIO && code != QUARRY_ENOSPC)
    return code;
  snprintf(msg, sizeof msg, "%s", quarry_last_error());
  pthread_mutex_lock(&db->lock);
  if (!atomic_load(&db->failed)) {
    memcpy(db->failed_msg, msg, sizeof msg);
    atomic_store(&db->failed, code);
  }
  pthread_mutex_unlock(&db->lock);
  q_fail(code, "%s; the database handle is now in a failed state: close and reopen it", msg);
  return code;
}

int q_check_key(const char *op, size_t klen) {
  if (klen > QUARRY_MAX_KEY_SIZE)
    return q_fail(QUARRY_EINVAL, "key of %zu bytes exceeds the 8 MiB limit", klen);
  (void)op;
  return 0;
}

int q_check_value(const char *op, size_t vlen) {
  if ((uint64_t)vlen > UINT32_MAX)
    return q_fail(QUARRY_EINVAL, "value of %zu bytes exceeds the 4 GiB limit", vlen);
  (void)op;
  return 0;
}

/* ---- open ---------------------------------------------------------------------------------- */
static int file_exists(const char *dir, const char *name) {
  char buf[PATH_MAX];
  struct stat st;
  snprintf(buf, sizeof buf, "%s/%s", dir, name);
  return stat(buf, &st) == 0;
}

static int add_name(char ***names, size_t *n, const char *name) {
  size_t i;
  char **grown, *copy;
  for (i = 0; i < *n; i++)
    if (strcmp((*names)[i], name) == 0)
      return 0;
  grown = realloc(*names, (*n + 2) * sizeof *grown);
  if (grown == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *names = grown;
  if ((copy = strdup(name)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  grown[(*n)++] = copy;
  grown[*n] = NULL;
  return 0;
}

void quarry_free_names(char **names) {
  char **p;
  if (names == NULL)
    return;
  for (p = names; *p; p++)
    free(*p);
  free(names);
}

/* The families to open: "default" first, those in the database, then the requested ones. */
static int family_names(const quarry_options *o, const char *path, const rocksdb_options_t *ro,
                        char ***out, size_t *n) {
  char *err = NULL, **existing;
  size_t i, nexisting = 0;
  int rc = 0, exists;
  *out = NULL;
  *n = 0;
  if ((rc = add_name(out, n, "default")) != 0)
    return rc;
  exists = file_exists(path, "CURRENT");
  if (exists) {
    existing = rocksdb_list_column_families(ro, path, &nexisting, &err);
    if (err) {
      rc = q_status_from_rocksdb(err);
      goto fail;
    }
    for (i = 0; i < nexisting && rc == 0; i++)
      rc = add_name(out, n, existing[i]);
    rocksdb_list_column_families_destroy(existing, nexisting);
    if (rc)
      goto fail;
  } else if (o->mode != Q_MODE_READ_WRITE || !o->create_if_missing) {
    rc = q_fail(QUARRY_ENOTFOUND, "database %s does not exist (%s)", path,
                o->mode != Q_MODE_READ_WRITE ? "a database is never created in read_only or secondary mode"
                                             : "create_if_missing is false");
    goto fail;
  }
  for (i = 0; i < o->ncfs; i++) {
    size_t before = *n;
    if ((rc = add_name(out, n, o->cfs[i])) != 0)
      goto fail;
    if (*n != before && o->mode != Q_MODE_READ_WRITE) {
      rc = q_fail(QUARRY_ENOTFOUND,
                  "column family '%s' does not exist in %s (families are only created in "
                  "read_write mode)",
                  o->cfs[i], path);
      goto fail;
    }
  }
  return 0;
fail:
  quarry_free_names(*out);
  *out = NULL;
  *n = 0;
  return rc;
}

static quarry_cf *cf_new(quarry_db *db, const char *name, rocksdb_column_family_handle_t *h) {
  quarry_cf *cf = calloc(1, sizeof *cf);
  if (cf == NULL || (cf->name = strdup(name)) == NULL) {
    free(cf);
    return NULL;
  }
  cf->db = db;
  cf->h = h;
  return cf;
}

int q_db_add_cf_locked(quarry_db *db, const char *name, rocksdb_column_family_handle_t *h,
                       quarry_cf **out) {
  quarry_cf *cf;
  if (db->ncfs == db->capcfs) {
    size_t cap = db->capcfs ? db->capcfs * 2 : 8;
    quarry_cf **grown = realloc(db->cfs, cap * sizeof *grown);
    if (grown == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    db->cfs = grown;
    db->capcfs = cap;
  }
  if ((cf = cf_new(db, name, h)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  db->cfs[db->ncfs++] = cf;
  *out = cf;
  return 0;
}

static void db_free(quarry_db *db) {
  size_t i;
  int s, w;
  for (i = 0; i < db->ncfs; i++) {
    free(db->cfs[i]->name);
    free(db->cfs[i]);
  }
  free(db->cfs);
  if (db->read_default)
    rocksdb_readoptions_destroy(db->read_default);
  for (s = 0; s < 2; s++)
    for (w = 0; w < 2; w++)
      if (db->write_opts[s][w])
        rocksdb_writeoptions_destroy(db->write_opts[s][w]);
  if (db->ropts_db)
    rocksdb_options_destroy(db->ropts_db);
  if (db->cache)
    rocksdb_cache_destroy(db->cache);
  if (db->regkey) {
    registry_remove(db->regkey);
    free(db->regkey);
  }
  quarry_options_free(db->opts);
  free(db->path);
  pthread_mutex_destroy(&db->lock);
  free(db);
}

static int open_error(quarry_db *db, char *err) {
  int code = q_status_code(err);
  char text[768];
  snprintf(text, sizeof text, "%s", err);
  rocksdb_free(err);
  if (code == QUARRY_ELOCKED) {
    if (strstr(text, "lock hold by current process"))
      return q_fail(code,
                    "database %s is already open in this process (%s); to open it a second time "
                    "use mode = \"read_only\" or mode = \"secondary\"",
                    db->path, text);
    return q_fail(code,
                  "database %s is locked by another process (%s); to inspect a live database "
                  "open it with mode = \"read_only\" or mode = \"secondary\"",
                  db->path, text);
  }
  return q_fail(code, "cannot open database %s: %s", db->path, text);
}

int quarry_db_open(const char *path, const quarry_options *opts, quarry_db **out) {
  quarry_db *db = NULL;
  quarry_options *defaults = NULL;
  char **names = NULL, *err = NULL;
  size_t n = 0, i;
  const rocksdb_options_t **cfopts = NULL;
  rocksdb_column_family_handle_t **handles = NULL;
  int rc, s, w;

  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "open: out is NULL");
  *out = NULL;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "open: the path must be a non-empty string");
  if (opts == NULL) {
    if ((rc = quarry_options_new(NULL, &defaults)) != 0)
      return rc;
    if ((rc = quarry_options_apply_env(defaults)) != 0) {
      quarry_options_free(defaults);
      return rc;
    }
    opts = defaults;
  }
  if (opts->mode == Q_MODE_SECONDARY && opts->secondary_path == NULL) {
    quarry_options_free(defaults);
    return q_fail(QUARRY_EINVAL, "mode \"secondary\" requires the option secondary_path");
  }

  db = calloc(1, sizeof *db);
  if (db == NULL) {
    quarry_options_free(defaults);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  pthread_mutex_init(&db->lock, NULL);
  db->children.next = db->children.prev = &db->children;
  db->mode = opts->mode;
  rc = q_options_copy(opts, &db->opts);
  quarry_options_free(defaults);
  if (rc) {
    db_free(db);
    return rc;
  }
  if ((db->path = strdup(path)) == NULL || (db->regkey = normalise_path(path)) == NULL) {
    db_free(db);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  if ((rc = registry_add(db->regkey)) != 0) {
    free(db->regkey);
    db->regkey = NULL;
    db_free(db);
    return rc;
  }
  db->ropts_db = q_rocksdb_options(db->opts, &db->cache);

  if ((rc = family_names(db->opts, path, db->ropts_db, &names, &n)) != 0)
    goto fail;
  cfopts = calloc(n, sizeof *cfopts);
  handles = calloc(n, sizeof *handles);
  if (cfopts == NULL || handles == NULL) {
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
    goto fail;
  }
  for (i = 0; i < n; i++)
    cfopts[i] = db->ropts_db;

  switch (db->mode) {
  case Q_MODE_READ_ONLY:
    db->rdb = rocksdb_open_for_read_only_column_families(db->ropts_db, path, (int)n,
                                                          (const char *const *)names, cfopts,
                                                          handles, 0, &err);
    break;
  case Q_MODE_SECONDARY:
    db->rdb = rocksdb_open_as_secondary_column_families(db->ropts_db, path,
                                                        db->opts->secondary_path, (int)n,
                                                        (const char *const *)names, cfopts,
                                                        handles, &err);
    break;
  default:
    db->rdb = rocksdb_open_column_families(db->ropts_db, path, (int)n, (const char *const *)names,
                                           cfopts, handles, &err);
    break;
  }
  if (err) {
    rc = open_error(db, err);
    db->rdb = NULL;
    goto fail;
  }
  for (i = 0; i < n; i++) {
    quarry_cf *cf;
    if ((rc = q_db_add_cf_locked(db, names[i], handles[i], &cf)) != 0)
      goto fail_open;
    handles[i] = NULL;
  }
  db->default_cf = db->cfs[0];

  db->read_default = rocksdb_readoptions_create();
  for (s = 0; s < 2; s++) {
    for (w = 0; w < 2; w++) {
      db->write_opts[s][w] = rocksdb_writeoptions_create();
      rocksdb_writeoptions_set_sync(db->write_opts[s][w], (unsigned char)s);
      rocksdb_writeoptions_disable_WAL(db->write_opts[s][w], !w);
    }
  }
  quarry_free_names(names);
  free(cfopts);
  free(handles);
  *out = db;
  return 0;

fail_open:
  for (i = 0; i < n; i++)
    if (handles[i])
      rocksdb_column_family_handle_destroy(handles[i]);
  for (i = 0; i < db->ncfs; i++)
    rocksdb_column_family_handle_destroy(db->cfs[i]->h);
  rocksdb_close(db->rdb);
  db->rdb = NULL;
fail:
  quarry_free_names(names);
  free(cfopts);
  free(handles);
  db_free(db);
  return rc;
}

/* ---- close --------------------------------------------------------------------------------- */
int quarry_db_close(quarry_db *db) {
  int rc = 0;
  size_t i;
  char *err = NULL;
  if (db == NULL)
    return 0;
  pthread_mutex_lock(&db->lock);
  /* FACTS 1: an iterator or family handle alive at rocksdb_close aborts the process. */
  while (db->children.next != &db->children) {
    q_child *c = db->children.next;
    switch (c->kind) {
    case Q_CHILD_ITER: q_iter_release((quarry_iter *)(void *)c); break;
    case Q_CHILD_SNAPSHOT: q_snapshot_release((quarry_snapshot *)(void *)c); break;
    default: q_batch_release((quarry_batch *)(void *)c); break;
    }
  }
  /* FACTS 5: rocksdb_close neither reports a status nor syncs the WAL. A failed handle is not
   * synced: RocksDB 7.8 asserts (aborts) when a file writer that already saw an I/O error is
   * used again (WritableFileWriter::AssertFalseAndGetStatusForPrevError, seen on ENOSPC), and
   * whatever was acknowledged before the failure is already durable or reported. */
  if (db->mode == Q_MODE_READ_WRITE && !atomic_load(&db->failed)) {
    rocksdb_flush_wal(db->rdb, 1, &err);
    if (err)
      rc = q_status_from_rocksdb(err);
  }
  for (i = 0; i < db->ncfs; i++) {
    quarry_cf *cf = db->cfs[i];
    if (cf->h)
      rocksdb_column_family_handle_destroy(cf->h);
    if (cf->dropped_h)
      rocksdb_column_family_handle_destroy(cf->dropped_h);
    cf->h = cf->dropped_h = NULL;
    cf->db = NULL;
  }
  pthread_mutex_unlock(&db->lock);
  rocksdb_close(db->rdb);
  db->rdb = NULL;
  db_free(db);
  return rc;
}

/* ---- accessors ----------------------------------------------------------------------------- */
const char *quarry_db_path(const quarry_db *db) { return db ? db->path : NULL; }
const char *quarry_db_mode(const quarry_db *db) { return db ? q_mode_name(db->mode) : NULL; }
const quarry_options *quarry_db_options(const quarry_db *db) { return db ? db->opts : NULL; }

int quarry_db_is_failed(const quarry_db *db) {
  quarry_db *m = (quarry_db *)(uintptr_t)db; /* atomic_load takes a non-const pointer */
  return db ? atomic_load(&m->failed) : 0;
}

int quarry_db_catch_up(quarry_db *db) {
  char *err = NULL;
  int rc = q_db_check(db, "catch_up");
  if (rc)
    return rc;
  if (db->mode != Q_MODE_SECONDARY)
    return q_fail(QUARRY_ENOTSUPPORTED, "catch_up needs mode \"secondary\" (database opened %s)",
                  q_mode_name(db->mode));
  rocksdb_try_catch_up_with_primary(db->rdb, &err);
  return q_status_from_rocksdb(err);
}

/* ---- path operations ----------------------------------------------------------------------- */
int quarry_list_column_families(const char *path, char ***names) {
  rocksdb_options_t *o;
  char *err = NULL, **list, **res = NULL;
  size_t n = 0, i, m = 0;
  int rc = 0;
  if (names == NULL)
    return q_fail(QUARRY_EINVAL, "list_column_families: names is NULL");
  *names = NULL;
  if (path == NULL)
    return q_fail(QUARRY_EINVAL, "list_column_families: path is NULL");
  if (!file_exists(path, "CURRENT"))
    return q_fail(QUARRY_ENOTFOUND, "database %s does not exist", path);
  o = rocksdb_options_create();
  rocksdb_options_set_info_log_level(o, 4);
  list = rocksdb_list_column_families(o, path, &n, &err);
  rocksdb_options_destroy(o);
  if (err)
    return q_status_from_rocksdb(err);
  for (i = 0; i < n && rc == 0; i++)
    rc = add_name(&res, &m, list[i]);
  rocksdb_list_column_families_destroy(list, n);
  if (rc == 0 && res == NULL && (res = calloc(1, sizeof *res)) == NULL)
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
  if (rc) {
    quarry_free_names(res);
    return rc;
  }
  *names = res;
  return 0;
}

/* 1 when another process holds the LOCK file. RocksDB takes a POSIX fcntl write lock; an
 * open-file-description lock conflicts with it and, unlike a POSIX lock, closing our descriptor
 * cannot drop a lock this process holds through RocksDB. */
static int locked_elsewhere(const char *path) {
  char buf[PATH_MAX];
  struct flock fl;
  int fd, locked = 0;
  snprintf(buf, sizeof buf, "%s/LOCK", path);
  fd = open(buf, O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return 0;
  memset(&fl, 0, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
    locked = errno == EAGAIN || errno == EACCES;
  close(fd); /* releases the probe's lock */
  return locked;
}

int quarry_destroy(const char *path) {
  char *key, *err = NULL;
  rocksdb_options_t *o;
  int rc = 0;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "destroy: the path must be a non-empty string");
  if ((key = normalise_path(path)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  /* Held throughout so no open in this process can start in between. */
  pthread_mutex_lock(&registry_lock);
  if (registry_has_locked(key)) {
    rc = q_fail(QUARRY_EBUSY, "database %s is open in this process; close it first", path);
  } else if (locked_elsewhere(path)) {
    rc = q_fail(QUARRY_ELOCKED, "database %s is locked by another process; close it there first",
                path);
  } else {
    o = rocksdb_options_create();
    rocksdb_options_set_info_log_level(o, 4);
    rocksdb_destroy_db(o, path, &err);
    rocksdb_options_destroy(o);
    rc = q_status_from_rocksdb(err);
  }
  pthread_mutex_unlock(&registry_lock);
  free(key);
  return rc;
}

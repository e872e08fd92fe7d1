/* db.c: opening and closing databases (modes, families, the process-wide registry of open paths),
 * children tracking, the guards every operation starts with, the failed state, destroy/list. */
#include "files.h" /* q_lock_holder */

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- process-wide registry of engines ------------------------------------------------------
 * Every open engine is listed under its normalised path: destroy refuses while one is there, and
 * a read_write open joins the read_write engine of its path instead of opening RocksDB again.
 * The lock is held while an engine opens or closes, so these never race each other. */
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static q_engine *registry;

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

/* The first engine of key with this mode (-1: any mode); registry lock held. */
static q_engine *registry_find_locked(const char *key, int mode) {
  q_engine *e;
  for (e = registry; e; e = e->next)
    if (strcmp(e->key, key) == 0 && (mode < 0 || e->mode == mode))
      return e;
  return NULL;
}

static void registry_remove_locked(q_engine *eng) {
  q_engine **pp;
  for (pp = &registry; *pp; pp = &(*pp)->next) {
    if (*pp == eng) {
      *pp = eng->next;
      break;
    }
  }
}

void q_registry_lock(void) { pthread_mutex_lock(&registry_lock); }
void q_registry_unlock(void) { pthread_mutex_unlock(&registry_lock); }

int q_path_open_here_locked(const char *path) {
  char *key = normalise_path(path);
  q_engine *e;
  int modes = 0;
  if (key == NULL)
    return 0;
  for (e = registry; e; e = e->next)
    if (strcmp(e->key, key) == 0)
      modes |= 1 << e->mode;
  free(key);
  return modes;
}

int q_path_open_here(const char *path) {
  int modes;
  pthread_mutex_lock(&registry_lock);
  modes = q_path_open_here_locked(path);
  pthread_mutex_unlock(&registry_lock);
  return modes;
}

int q_engine_handles(q_engine *eng) {
  int n;
  pthread_mutex_lock(&registry_lock);
  n = eng->refs;
  pthread_mutex_unlock(&registry_lock);
  return n;
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
  c->be = db->be;
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

/* What is not a write but needs a read_write handle (checkpoint, backup): a read_only or
 * secondary handle is refused naming op, why (" (...)" or "") and what to do instead, not with
 * q_db_check_write's "writes are not allowed"; then q_db_check_write (closed, failed state). */
int q_db_check_read_write(quarry_db *db, const char *op, const char *why, const char *todo) {
  int rc = q_db_check(db, op);
  if (rc)
    return rc;
  if (db->mode != Q_MODE_READ_WRITE)
    return q_fail(QUARRY_ENOTSUPPORTED,
                  "%s needs a database opened read_write%s; this one is opened %s: %s with a "
                  "read_write handle, in the process that has the database open for writing if "
                  "there is one",
                  op, why, q_mode_name(db->mode), todo);
  return q_db_check_write(db, op);
}

int q_db_check_write(quarry_db *db, const char *op) {
  int rc = q_db_check(db, op), failed;
  if (rc)
    return rc;
  if (db->mode != Q_MODE_READ_WRITE)
    return q_fail(QUARRY_ENOTSUPPORTED, "database opened %s: writes are not allowed",
                  q_mode_name(db->mode));
  failed = atomic_load(&db->eng->failed);
  if (failed) {
    char msg[sizeof db->eng->failed_msg];
    pthread_mutex_lock(&db->eng->lock);
    memcpy(msg, db->eng->failed_msg, sizeof msg);
    pthread_mutex_unlock(&db->eng->lock);
    return q_fail(failed,
                  "the database handle is in a failed state after a write error (%s); close and "
                  "reopen it (every handle on it in this process; nothing acknowledged was lost)",
                  msg);
  }
  return 0;
}

int q_db_write_failed(quarry_db *db, int code) {
  q_engine *eng = db->eng;
  char msg[sizeof eng->failed_msg];
  if (code != QUARRY_EIO && code != QUARRY_ENOSPC)
    return code;
  snprintf(msg, sizeof msg, "%s", quarry_last_error());
  pthread_mutex_lock(&eng->lock);
  if (!atomic_load(&eng->failed)) {
    memcpy(eng->failed_msg, msg, sizeof msg);
    atomic_store(&eng->failed, code);
  }
  pthread_mutex_unlock(&eng->lock);
  q_fail(code, "%s; the database handle is now in a failed state: close and reopen it", msg);
  return code;
}

void q_write_mode(const quarry_db *db, const quarry_write_options *w, int *sync, int *wal) {
  *sync = db->opts->sync != 0;
  *wal = db->opts->wal != 0;
  if (w) {
    if (w->sync >= 0)
      *sync = w->sync != 0;
    if (w->wal >= 0)
      *wal = w->wal != 0;
  }
}

int q_write_syncs(const quarry_db *db, const quarry_write_options *w) {
  int sync, wal;
  q_write_mode(db, w, &sync, &wal);
  return sync && wal;
}

void q_db_wal_synced(quarry_db *db) { q_count(db->m, Q_C_WAL_SYNCED, 1); }

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

/* QUARRY_EINVAL when path exists and is not a directory (a regular file given as --db): saying
 * "does not exist" there, or RocksDB's mkdir error, misleads. 0 otherwise (missing included). */
static int check_not_file(const char *path) {
  struct stat st;
  if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode))
    return q_fail(QUARRY_EINVAL, "cannot open database %s: it is a %s, not a database directory",
                  path, S_ISREG(st.st_mode) ? "file" : "special file");
  return 0;
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
  if ((rc = check_not_file(path)) != 0 || (rc = add_name(out, n, "default")) != 0)
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

/* ---- engines --------------------------------------------------------------------------------- */
int q_engine_add_family_locked(q_engine *eng, const char *name, rocksdb_column_family_handle_t *h,
                               q_family **out) {
  q_family *fam;
  if (eng->nfams == eng->capfams) {
    size_t cap = eng->capfams ? eng->capfams * 2 : 8;
    q_family **grown = realloc(eng->fams, cap * sizeof *grown);
    if (grown == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    eng->fams = grown;
    eng->capfams = cap;
  }
  if ((fam = calloc(1, sizeof *fam)) == NULL || (fam->name = strdup(name)) == NULL) {
    free(fam);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  fam->h = h;
  eng->fams[eng->nfams++] = fam;
  *out = fam;
  return 0;
}

q_family *q_engine_find_live_locked(q_engine *eng, const char *name) {
  size_t i;
  for (i = 0; i < eng->nfams; i++)
    if (eng->fams[i]->h && strcmp(eng->fams[i]->name, name) == 0)
      return eng->fams[i];
  return NULL;
}

/* Frees an engine whose RocksDB instance is closed (or was never opened). */
static void engine_free(q_engine *eng) {
  size_t i;
  for (i = 0; i < eng->nfams; i++) {
    free(eng->fams[i]->name);
    free(eng->fams[i]);
  }
  free(eng->fams);
  if (eng->ropts)
    rocksdb_options_destroy(eng->ropts);
  if (eng->cache)
    rocksdb_cache_destroy(eng->cache);
  quarry_options_free(eng->opts);
  free(eng->key);
  pthread_mutex_destroy(&eng->lock);
  free(eng);
}

/* Closes the RocksDB instance (every handle onto it is closed) and frees the engine. */
static void engine_close(q_engine *eng) {
  size_t i;
  /* docs/design.md#f1: a family handle alive at rocksdb_close aborts the process. */
  for (i = 0; i < eng->nfams; i++) {
    q_family *fam = eng->fams[i];
    if (fam->h)
      rocksdb_column_family_handle_destroy(fam->h);
    if (fam->dropped_h)
      rocksdb_column_family_handle_destroy(fam->dropped_h);
    fam->h = fam->dropped_h = NULL;
  }
  if (eng->rdb)
    rocksdb_close(eng->rdb);
  eng->rdb = NULL;
  engine_free(eng);
}

static int open_error(const char *path, char *err) {
  int code = q_status_code(err);
  char text[768];
  snprintf(text, sizeof text, "%s", err);
  rocksdb_free(err);
  if (code == QUARRY_ELOCKED) {
    if (strstr(text, "lock hold by current process"))
      return q_fail(code,
                    "database %s is already open in this process outside quarry's registry "
                    "(%s); to open it a second time use mode = \"read_only\" or mode = "
                    "\"secondary\"",
                    path, text);
    return q_fail(code,
                  "database %s is locked by another process (%s); to inspect a live database "
                  "open it with mode = \"read_only\" or mode = \"secondary\"",
                  path, text);
  }
  return q_fail(code, "cannot open database %s: %s", path, text);
}

/* docs/design.md#f14: a read-only open lists the table files of the MANIFEST it read, then opens
 * them and the WALs; a writer compacting or flushing meanwhile deletes some, and RocksDB answers
 * Corruption/IOError naming a missing .sst/.ldb/.log. Is err that race? */
static int missing_table_race(const char *err) {
  return (strstr(err, "Can't access") || strstr(err, "No such file")) &&
         (strstr(err, ".sst") || strstr(err, ".ldb") || strstr(err, ".log"));
}

#define Q_RO_ATTEMPTS 5

/* rocksdb_open_for_read_only_column_families, retried while it loses the race with a writer's
 * deletion of compacted files (20, 40, 80, 160 ms apart); then TryAgain saying so. */
static rocksdb_t *open_read_only(q_engine *eng, const char *path, char **names, size_t n,
                                 const rocksdb_options_t **cfopts,
                                 rocksdb_column_family_handle_t **handles, int *rc) {
  int attempt;
  *rc = 0;
  for (attempt = 1;; attempt++) {
    char *err = NULL;
    rocksdb_t *db = rocksdb_open_for_read_only_column_families(
        eng->ropts, path, (int)n, (const char *const *)names, cfopts, handles, 0, &err);
    if (err == NULL)
      return db;
    if (!missing_table_race(err)) {
      *rc = open_error(path, err);
      return NULL;
    }
    if (attempt == Q_RO_ATTEMPTS) {
      char text[512];
      snprintf(text, sizeof text, "%s", err);
      rocksdb_free(err);
      *rc = q_fail(QUARRY_ETRYAGAIN,
                   "database %s: %d read-only opens in a row found a file deleted by the "
                   "process writing it (compaction, flush) between reading the MANIFEST and opening the "
                   "file (%s); this is not damage: try again, or open it with mode = "
                   "\"secondary\", which follows a live writer",
                   path, Q_RO_ATTEMPTS, text);
      return NULL;
    }
    rocksdb_free(err);
    usleep(20000u << (attempt - 1));
  }
}

/* Opens a new RocksDB instance for path with opts (copied). Registry lock held. */
/* docs/design.md#f15: RocksDB starts its background threads (the flush and compaction pool, the
 * periodic task timer) during the open, and they inherit the opening thread's signal mask. With
 * the asynchronous signals a program catches blocked meanwhile, those threads never take a
 * Ctrl-C or a SIGTERM meant for the program's own handler; the main thread gets it, after the
 * open, as it would without RocksDB. */
static void block_async_signals(sigset_t *saved) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGQUIT);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, saved);
}

static int engine_open(const char *key, const char *path, const quarry_options *opts,
                       q_engine **out) {
  q_engine *eng;
  char **names = NULL, *err = NULL;
  size_t n = 0, i;
  const rocksdb_options_t **cfopts = NULL;
  rocksdb_column_family_handle_t **handles = NULL;
  sigset_t sigsaved;
  int rc;

  *out = NULL;
  /* The stripes are cache-line aligned: calloc does not promise 64 bytes. */
  if ((eng = aligned_alloc(_Alignof(q_engine), sizeof *eng)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  memset(eng, 0, sizeof *eng);
  pthread_mutex_init(&eng->lock, NULL);
  eng->mode = opts->mode;
  eng->opened_ns = q_now_ns();
  if ((rc = q_options_copy(opts, &eng->opts)) != 0) {
    engine_free(eng);
    return rc;
  }
  eng->metrics.on = eng->opts->metrics != 0;
  if ((eng->key = strdup(key)) == NULL) {
    engine_free(eng);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  eng->ropts = q_rocksdb_options(eng->opts, &eng->cache);

  if ((rc = family_names(eng->opts, path, eng->ropts, &names, &n)) != 0)
    goto fail;
  cfopts = calloc(n, sizeof *cfopts);
  handles = calloc(n, sizeof *handles);
  if (cfopts == NULL || handles == NULL) {
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
    goto fail;
  }
  for (i = 0; i < n; i++)
    cfopts[i] = eng->ropts;

  /* docs/design.md#f13: RocksDB's read-write open deletes the table files a damaged MANIFEST lost
   * the records of, and opens without their keys: look before it does. */
  block_async_signals(&sigsaved);
  if (eng->mode != Q_MODE_SECONDARY && file_exists(path, "CURRENT") &&
      (rc = q_manifest_check(path, eng->ropts, names, n)) != 0) {
    pthread_sigmask(SIG_SETMASK, &sigsaved, NULL);
    goto fail;
  }
  switch (eng->mode) {
  case Q_MODE_READ_ONLY:
    if ((eng->rdb = open_read_only(eng, path, names, n, cfopts, handles, &rc)) == NULL)
      goto fail;
    break;
  case Q_MODE_SECONDARY:
    eng->rdb = rocksdb_open_as_secondary_column_families(eng->ropts, path,
                                                         eng->opts->secondary_path, (int)n,
                                                         (const char *const *)names, cfopts,
                                                         handles, &err);
    break;
  default:
    eng->rdb = rocksdb_open_column_families(eng->ropts, path, (int)n,
                                            (const char *const *)names, cfopts, handles, &err);
    break;
  }
  pthread_sigmask(SIG_SETMASK, &sigsaved, NULL);
  if (err) {
    rc = open_error(path, err);
    eng->rdb = NULL;
    goto fail;
  }
  for (i = 0; i < n; i++) {
    q_family *fam;
    if ((rc = q_engine_add_family_locked(eng, names[i], handles[i], &fam)) != 0)
      goto fail_open;
    handles[i] = NULL;
  }
  quarry_free_names(names);
  free(cfopts);
  free(handles);
  *out = eng;
  return 0;

fail_open:
  for (i = 0; i < n; i++)
    if (handles[i])
      rocksdb_column_family_handle_destroy(handles[i]);
  quarry_free_names(names);
  free(cfopts);
  free(handles);
  engine_close(eng);
  return rc;
fail:
  quarry_free_names(names);
  free(cfopts);
  free(handles);
  engine_free(eng);
  return rc;
}

/* A handle joining an open engine: the families opts names must exist (created when the handle
 * is read_write). */
static int engine_join_families(q_engine *eng, const char *path, const quarry_options *opts) {
  size_t i;
  int rc = 0;
  pthread_mutex_lock(&eng->lock);
  for (i = 0; i < opts->ncfs && rc == 0; i++) {
    rocksdb_column_family_handle_t *h;
    q_family *fam;
    char *err = NULL;
    if (q_engine_find_live_locked(eng, opts->cfs[i]))
      continue;
    if (opts->mode != Q_MODE_READ_WRITE) {
      rc = q_fail(QUARRY_ENOTFOUND,
                  "column family '%s' does not exist in %s (families are only created in "
                  "read_write mode)",
                  opts->cfs[i], path);
      break;
    }
    h = rocksdb_create_column_family(eng->rdb, eng->ropts, opts->cfs[i], &err);
    if (err) {
      rc = q_status_from_rocksdb(err);
      break;
    }
    if ((rc = q_engine_add_family_locked(eng, opts->cfs[i], h, &fam)) != 0)
      rocksdb_column_family_handle_destroy(h); /* exists on disk: opened next time */
  }
  pthread_mutex_unlock(&eng->lock);
  return rc;
}

/* ---- handles --------------------------------------------------------------------------------- */
int q_db_view_locked(quarry_db *db, q_family *fam, quarry_cf **out) {
  quarry_cf *cf;
  size_t i;
  for (i = 0; i < db->ncfs; i++) {
    if (db->cfs[i]->fam == fam) {
      *out = db->cfs[i];
      return 0;
    }
  }
  if (db->ncfs == db->capcfs) {
    size_t cap = db->capcfs ? db->capcfs * 2 : 8;
    quarry_cf **grown = realloc(db->cfs, cap * sizeof *grown);
    if (grown == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    db->cfs = grown;
    db->capcfs = cap;
  }
  if ((cf = calloc(1, sizeof *cf)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  cf->db = db;
  cf->fam = fam;
  cf->name = fam->name;
  db->cfs[db->ncfs++] = cf;
  *out = cf;
  return 0;
}

int q_db_live_handles(quarry_db *db, rocksdb_column_family_handle_t ***out, size_t *n) {
  q_engine *eng = db->eng;
  size_t i;
  pthread_mutex_lock(&eng->lock);
  *out = malloc((eng->nfams ? eng->nfams : 1) * sizeof **out);
  *n = 0;
  for (i = 0; *out && i < eng->nfams; i++)
    if (eng->fams[i]->h)
      (*out)[(*n)++] = eng->fams[i]->h;
  pthread_mutex_unlock(&eng->lock);
  return *out ? 0 : q_fail(QUARRY_ENOMEM, "out of memory");
}

static void handle_free(quarry_db *db) {
  size_t i;
  int s, w;
  for (i = 0; i < db->ncfs; i++)
    free(db->cfs[i]);
  free(db->cfs);
  if (db->read_default)
    rocksdb_readoptions_destroy(db->read_default);
  if (atomic_load(&db->put_batch))
    rocksdb_writebatch_destroy(atomic_load(&db->put_batch));
  for (s = 0; s < 2; s++)
    for (w = 0; w < 2; w++)
      if (db->write_opts[s][w])
        rocksdb_writeoptions_destroy(db->write_opts[s][w]);
  quarry_options_free(db->opts);
  free(db->path);
  pthread_mutex_destroy(&db->lock);
  free(db);
}

/* A new handle onto eng. Its options are the engine's, except what is per handle: mode, sync,
 * wal and readahead_mb come from the caller's opts. Registry lock held (eng cannot close). */
static int handle_new(q_engine *eng, const char *path, const quarry_options *opts,
                      quarry_db **out) {
  quarry_db *db;
  size_t i;
  int rc, s, w;
  *out = NULL;
  if ((db = calloc(1, sizeof *db)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  pthread_mutex_init(&db->lock, NULL);
  db->children.next = db->children.prev = &db->children;
  db->be = &q_backend_rocksdb;
  db->eng = eng;
  db->m = &eng->metrics;
  db->mode = opts->mode;
  if ((rc = q_options_copy(eng->opts, &db->opts)) != 0) {
    handle_free(db);
    return rc;
  }
  db->opts->mode = opts->mode;
  db->opts->sync = opts->sync;
  db->opts->wal = opts->wal;
  db->opts->readahead_mb = opts->readahead_mb;
  if ((db->path = strdup(path)) == NULL) {
    handle_free(db);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  pthread_mutex_lock(&eng->lock);
  for (i = 0, rc = 0; i < eng->nfams && rc == 0; i++) {
    quarry_cf *cf;
    if (eng->fams[i]->h || i == 0)
      rc = q_db_view_locked(db, eng->fams[i], &cf);
  }
  pthread_mutex_unlock(&eng->lock);
  if (rc) {
    handle_free(db);
    return rc;
  }
  db->default_cf = db->cfs[0]; /* fams[0] is "default" (family_names puts it first) */
  db->read_default = rocksdb_readoptions_create();
  for (s = 0; s < 2; s++) {
    for (w = 0; w < 2; w++) {
      db->write_opts[s][w] = rocksdb_writeoptions_create();
      rocksdb_writeoptions_set_sync(db->write_opts[s][w], (unsigned char)s);
      rocksdb_writeoptions_disable_WAL(db->write_opts[s][w], !w);
    }
  }
  db->ropts_db = eng->ropts;
  db->cache = eng->cache;
  db->rdb = eng->rdb;
  *out = db;
  return 0;
}

int quarry_db_open(const char *path, const quarry_options *opts, quarry_db **out) {
  quarry_options *defaults = NULL;
  q_engine *eng = NULL;
  char *key = NULL;
  int rc = 0, created = 0;

  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "open: out is NULL");
  *out = NULL;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "open: the path must be a non-empty string");
  if (q_pg_is_url(path))
    return q_pg_open(path, opts, out);
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
  if ((key = normalise_path(path)) == NULL) {
    quarry_options_free(defaults);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  q_perf_counters_off();

  pthread_mutex_lock(&registry_lock);
  if (opts->mode != Q_MODE_SECONDARY && (eng = registry_find_locked(key, Q_MODE_READ_WRITE))) {
    int failed = atomic_load(&eng->failed);
    if (failed) {
      char msg[sizeof eng->failed_msg];
      pthread_mutex_lock(&eng->lock);
      memcpy(msg, eng->failed_msg, sizeof msg);
      pthread_mutex_unlock(&eng->lock);
      rc = q_fail(QUARRY_EBUSY,
                  "database %s is open in this process in a failed state after a write error "
                  "(%s); close every handle on it, then reopen it",
                  path, msg);
    } else {
      rc = engine_join_families(eng, path, opts);
    }
  } else {
    eng = NULL;
    if ((rc = engine_open(key, path, opts, &eng)) == 0) {
      created = 1;
      eng->next = registry;
      registry = eng;
    }
  }
  if (rc == 0 && (rc = handle_new(eng, path, opts, out)) != 0 && created) {
    registry_remove_locked(eng);
    engine_close(eng);
  } else if (rc == 0) {
    eng->refs++;
  }
  pthread_mutex_unlock(&registry_lock);
  free(key);
  quarry_options_free(defaults);
  return rc;
}

/* ---- close --------------------------------------------------------------------------------- */
int q_rdb_close(quarry_db *db) {
  q_engine *eng;
  int rc = 0;
  char *err = NULL;
  if (db == NULL)
    return 0;
  eng = db->eng;
  pthread_mutex_lock(&db->lock);
  /* docs/design.md#f1: an iterator alive at rocksdb_close aborts the process. */
  while (db->children.next != &db->children) {
    q_child *c = db->children.next;
    switch (c->kind) {
    case Q_CHILD_ITER: q_iter_release((quarry_iter *)(void *)c); break;
    case Q_CHILD_SNAPSHOT: q_snapshot_release((quarry_snapshot *)(void *)c); break;
    default: q_batch_release((quarry_batch *)(void *)c); break;
    }
  }
  /* docs/design.md#f5: rocksdb_close neither reports a status nor syncs the WAL. Every read_write
   * handle syncs at its close: what it wrote is durable even while other handles stay open.
   * Not once failed: syncing a WAL file whose append failed trips an assertion in 7.8
   * (WritableFileWriter::SyncWithoutFlush), and the failure was already reported. */
  if (eng->mode == Q_MODE_READ_WRITE && db->mode == Q_MODE_READ_WRITE &&
      !atomic_load(&eng->failed)) {
    rocksdb_flush_wal(eng->rdb, 1, &err);
    if (err)
      rc = q_status_from_rocksdb(err);
    else
      q_db_wal_synced(db);
  }
  db->rdb = NULL;
  pthread_mutex_unlock(&db->lock);

  pthread_mutex_lock(&registry_lock);
  if (--eng->refs == 0) {
    registry_remove_locked(eng);
    engine_close(eng);
  }
  pthread_mutex_unlock(&registry_lock);
  handle_free(db);
  return rc;
}

/* ---- accessors ----------------------------------------------------------------------------- */
const char *quarry_db_path(const quarry_db *db) { return db ? db->path : NULL; }
const char *quarry_db_mode(const quarry_db *db) { return db ? q_mode_name(db->mode) : NULL; }
const char *quarry_db_backend(const quarry_db *db) {
  return db ? (db->be ? db->be->name : q_backend_rocksdb.name) : NULL;
}
const quarry_options *quarry_db_options(const quarry_db *db) { return db ? db->opts : NULL; }

int q_rdb_is_failed(const quarry_db *db) {
  return db ? atomic_load(&db->eng->failed) : 0;
}

int q_rdb_catch_up(quarry_db *db) {
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
  if (q_pg_is_url(path))
    return q_pg_list_column_families(path, names);
  if ((rc = check_not_file(path)) != 0)
    return rc;
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

int quarry_destroy(const char *path) {
  char *key, *err = NULL;
  rocksdb_options_t *o;
  int rc = 0;
  if (path == NULL || *path == '\0')
    return q_fail(QUARRY_EINVAL, "destroy: the path must be a non-empty string");
  if (q_pg_is_url(path))
    return q_pg_destroy(path);
  if ((key = normalise_path(path)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  /* Held throughout so no open in this process can start in between. */
  pthread_mutex_lock(&registry_lock);
  if (registry_find_locked(key, -1)) {
    rc = q_fail(QUARRY_EBUSY, "database %s is open in this process; close it first", path);
  } else if (q_lock_holder(path) != 0) {
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

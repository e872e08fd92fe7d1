/* cf.c: column families of an open database: lookup, creation, drop, names, and resolving a
 * quarry_cf argument (NULL = "default") to a live RocksDB handle. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

int q_cf_resolve(quarry_db *db, quarry_cf *cf, const char *op,
                 rocksdb_column_family_handle_t **h) {
  rocksdb_column_family_handle_t *handle;
  int rc = q_db_check(db, op);
  *h = NULL;
  if (rc)
    return rc;
  if (cf == NULL)
    cf = db->default_cf;
  if (cf->db != db)
    return q_fail(QUARRY_EINVAL, "column family '%s' belongs to another database", cf->name);
  handle = q_cf_handle(cf);
  if (handle == NULL)
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' was dropped", cf->name);
  *h = handle;
  return 0;
}

int q_rdb_cf(quarry_db *db, const char *name, quarry_cf **out) {
  q_family *fam;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "cf: out is NULL");
  *out = NULL;
  if ((rc = q_db_check(db, "cf")) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "column family name is NULL");
  pthread_mutex_lock(&db->lock);
  pthread_mutex_lock(&db->eng->lock);
  fam = q_engine_find_live_locked(db->eng, name);
  pthread_mutex_unlock(&db->eng->lock);
  rc = fam ? q_db_view_locked(db, fam, out) : 0;
  pthread_mutex_unlock(&db->lock);
  if (fam == NULL)
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' does not exist", name);
  return rc;
}

int q_rdb_create_cf(quarry_db *db, const char *name, quarry_cf **out) {
  rocksdb_column_family_handle_t *h;
  q_engine *eng;
  q_family *fam;
  char *err = NULL;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "create_cf: out is NULL");
  *out = NULL;
  if ((rc = q_db_check_write(db, "create_column_family")) != 0)
    return rc;
  if (name == NULL || *name == '\0')
    return q_fail(QUARRY_EINVAL, "column family name must be a non-empty string");
  eng = db->eng;
  pthread_mutex_lock(&db->lock);
  pthread_mutex_lock(&eng->lock);
  if (q_engine_find_live_locked(eng, name)) {
    pthread_mutex_unlock(&eng->lock);
    pthread_mutex_unlock(&db->lock);
    return q_fail(QUARRY_EINVAL, "column family '%s' already exists", name);
  }
  h = rocksdb_create_column_family(db->rdb, db->ropts_db, name, &err);
  if (err) {
    pthread_mutex_unlock(&eng->lock);
    pthread_mutex_unlock(&db->lock);
    return q_status_from_rocksdb(err);
  }
  rc = q_engine_add_family_locked(eng, name, h, &fam);
  if (rc) /* out of memory: the family exists on disk, it is opened at the next open */
    rocksdb_column_family_handle_destroy(h);
  pthread_mutex_unlock(&eng->lock);
  if (rc == 0)
    rc = q_db_view_locked(db, fam, out);
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int q_rdb_drop_cf(quarry_db *db, const char *name) {
  q_engine *eng;
  q_family *fam;
  char *err = NULL;
  int rc;
  if ((rc = q_db_check_write(db, "drop_column_family")) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "column family name is NULL");
  if (strcmp(name, "default") == 0)
    return q_fail(QUARRY_EINVAL, "the column family 'default' cannot be dropped");
  eng = db->eng;
  pthread_mutex_lock(&eng->lock);
  fam = q_engine_find_live_locked(eng, name);
  if (fam == NULL) {
    pthread_mutex_unlock(&eng->lock);
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' does not exist", name);
  }
  rocksdb_drop_column_family(db->rdb, fam->h, &err);
  if (err) {
    pthread_mutex_unlock(&eng->lock);
    return q_status_from_rocksdb(err);
  }
  /* Another thread (or handle) may still hold the handle: keep it alive until the engine
   * closes. */
  fam->dropped_h = fam->h;
  __atomic_store_n(&fam->h, NULL, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&eng->lock);
  return 0;
}

int q_rdb_cf_names(quarry_db *db, char ***names) {
  q_engine *eng;
  char **res;
  size_t i, n = 0;
  int rc;
  if (names == NULL)
    return q_fail(QUARRY_EINVAL, "cf_names: names is NULL");
  *names = NULL;
  if ((rc = q_db_check(db, "column_families")) != 0)
    return rc;
  eng = db->eng;
  pthread_mutex_lock(&eng->lock);
  res = calloc(eng->nfams + 1, sizeof *res);
  for (i = 0; res && i < eng->nfams; i++) {
    if (eng->fams[i]->h == NULL)
      continue;
    if ((res[n] = strdup(eng->fams[i]->name)) == NULL) {
      quarry_free_names(res);
      res = NULL;
      break;
    }
    n++;
  }
  pthread_mutex_unlock(&eng->lock);
  if (res == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *names = res;
  return 0;
}

const char *quarry_cf_name(const quarry_cf *cf) { return cf ? cf->name : "default"; }

quarry_db *quarry_cf_db(const quarry_cf *cf) { return cf ? cf->db : NULL; }

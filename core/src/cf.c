/* cf.c: column families of an open database: lookup, creation, drop, names, and resolving a
 * quarry_cf argument (NULL = "default") to a live RocksDB handle. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* db->lock held. A live family named name, or NULL. */
static quarry_cf *find_live(quarry_db *db, const char *name) {
  size_t i;
  for (i = 0; i < db->ncfs; i++)
    if (db->cfs[i]->h && strcmp(db->cfs[i]->name, name) == 0)
      return db->cfs[i];
  return NULL;
}

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
  handle = __atomic_load_n(&cf->h, __ATOMIC_ACQUIRE);
  if (handle == NULL)
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' was dropped", cf->name);
  *h = handle;
  return 0;
}

int quarry_db_cf(quarry_db *db, const char *name, quarry_cf **out) {
  quarry_cf *cf;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "cf: out is NULL");
  *out = NULL;
  if ((rc = q_db_check(db, "cf")) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "column family name is NULL");
  pthread_mutex_lock(&db->lock);
  cf = find_live(db, name);
  pthread_mutex_unlock(&db->lock);
  if (cf == NULL)
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' does not exist", name);
  *out = cf;
  return 0;
}

int quarry_db_create_cf(quarry_db *db, const char *name, quarry_cf **out) {
  rocksdb_column_family_handle_t *h;
  char *err = NULL;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "create_cf: out is NULL");
  *out = NULL;
  if ((rc = q_db_check_write(db, "create_column_family")) != 0)
    return rc;
  if (name == NULL || *name == '\0')
    return q_fail(QUARRY_EINVAL, "column family name must be a non-empty string");
  pthread_mutex_lock(&db->lock);
  if (find_live(db, name)) {
    pthread_mutex_unlock(&db->lock);
    return q_fail(QUARRY_EINVAL, "column family '%s' already exists", name);
  }
  h = rocksdb_create_column_family(db->rdb, db->ropts_db, name, &err);
  if (err) {
    pthread_mutex_unlock(&db->lock);
    return q_status_from_rocksdb(err);
  }
  rc = q_db_add_cf_locked(db, name, h, out);
  if (rc) /* out of memory: the family exists on disk, it is opened at the next open */
    rocksdb_column_family_handle_destroy(h);
  pthread_mutex_unlock(&db->lock);
  return rc;
}

int quarry_db_drop_cf(quarry_db *db, const char *name) {
  quarry_cf *cf;
  char *err = NULL;
  int rc;
  if ((rc = q_db_check_write(db, "drop_column_family")) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "column family name is NULL");
  if (strcmp(name, "default") == 0)
    return q_fail(QUARRY_EINVAL, "the column family 'default' cannot be dropped");
  pthread_mutex_lock(&db->lock);
  cf = find_live(db, name);
  if (cf == NULL) {
    pthread_mutex_unlock(&db->lock);
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' does not exist", name);
  }
  rocksdb_drop_column_family(db->rdb, cf->h, &err);
  if (err) {
    pthread_mutex_unlock(&db->lock);
    return q_status_from_rocksdb(err);
  }
  /* Another thread may still hold the handle: keep it alive until close. */
  cf->dropped_h = cf->h;
  __atomic_store_n(&cf->h, NULL, __ATOMIC_RELEASE);
  pthread_mutex_unlock(&db->lock);
  return 0;
}

int quarry_db_cf_names(quarry_db *db, char ***names) {
  char **res;
  size_t i, n = 0;
  int rc;
  if (names == NULL)
    return q_fail(QUARRY_EINVAL, "cf_names: names is NULL");
  *names = NULL;
  if ((rc = q_db_check(db, "column_families")) != 0)
    return rc;
  pthread_mutex_lock(&db->lock);
  res = calloc(db->ncfs + 1, sizeof *res);
  for (i = 0; res && i < db->ncfs; i++) {
    if (db->cfs[i]->h == NULL)
      continue;
    if ((res[n] = strdup(db->cfs[i]->name)) == NULL) {
      quarry_free_names(res);
      res = NULL;
      break;
    }
    n++;
  }
  pthread_mutex_unlock(&db->lock);
  if (res == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *names = res;
  return 0;
}

const char *quarry_cf_name(const quarry_cf *cf) { return cf ? cf->name : "default"; }

quarry_db *quarry_cf_db(const quarry_cf *cf) { return cf ? cf->db : NULL; }

/* maintenance.c: flush, compaction, RocksDB properties, approximate sizes and the size of the
 * database directory on disk. */
#include "internal.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int q_rdb_flush(quarry_db *db, quarry_cf *cf) {
  rocksdb_flushoptions_t *fo;
  rocksdb_column_family_handle_t *h, **all = NULL;
  size_t i, n = 1;
  char *err = NULL;
  int rc;
  if ((rc = q_db_check_write(db, "flush")) != 0)
    return rc;
  if (cf) {
    if ((rc = q_cf_resolve(db, cf, "flush", &h)) != 0)
      return rc;
  } else if ((rc = q_db_live_handles(db, &all, &n)) != 0) {
    return rc;
  }
  fo = rocksdb_flushoptions_create();
  rocksdb_flushoptions_set_wait(fo, 1);
  for (i = 0; i < n && err == NULL; i++)
    rocksdb_flush_cf(db->rdb, fo, all ? all[i] : h, &err);
  rocksdb_flushoptions_destroy(fo);
  free(all);
  return err ? q_db_write_failed(db, q_status_from_rocksdb(err)) : 0;
}

int q_rdb_compact(quarry_db *db, quarry_cf *cf, const char *from, size_t flen, const char *to,
                      size_t tlen) {
  rocksdb_column_family_handle_t *h, **all = NULL;
  size_t i, n = 1;
  int rc;
  if ((rc = q_db_check_write(db, "compact")) != 0)
    return rc;
  if ((from && (rc = q_check_key("compact", flen)) != 0) ||
      (to && (rc = q_check_key("compact", tlen)) != 0))
    return rc;
  if (cf) {
    if ((rc = q_cf_resolve(db, cf, "compact", &h)) != 0)
      return rc;
  } else if ((rc = q_db_live_handles(db, &all, &n)) != 0) {
    return rc;
  }
  /* The 7.8 C API reports no status for a manual compaction. */
  for (i = 0; i < n; i++)
    rocksdb_compact_range_cf(db->rdb, all ? all[i] : h, from, from ? flen : 0, to, to ? tlen : 0);
  free(all);
  return 0;
}

int q_rdb_property(quarry_db *db, quarry_cf *cf, const char *name, char **out) {
  rocksdb_column_family_handle_t *h;
  char *v;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "property: out is NULL");
  *out = NULL;
  if ((rc = q_cf_resolve(db, cf, "property", &h)) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "property: name is NULL");
  v = rocksdb_property_value_cf(db->rdb, h, name);
  if (v == NULL)
    return 0;
  *out = strdup(v);
  rocksdb_free(v);
  return *out ? 0 : q_fail(QUARRY_ENOMEM, "out of memory");
}

int q_rdb_approximate_size(quarry_db *db, quarry_cf *cf, const char *from, size_t flen,
                               const char *to, size_t tlen, uint64_t *bytes) {
  rocksdb_column_family_handle_t *h;
  char *err = NULL, *end = NULL;
  uint64_t size = 0;
  size_t endlen = 0;
  int rc;
  if (bytes == NULL)
    return q_fail(QUARRY_EINVAL, "approximate_size: bytes is NULL");
  *bytes = 0;
  if ((rc = q_cf_resolve(db, cf, "approximate_size", &h)) != 0)
    return rc;
  if (from == NULL) {
    from = "";
    flen = 0;
  }
  if (to == NULL) { /* no upper bound: just past the last key */
    rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db->rdb, db->read_default, h);
    rocksdb_iter_seek_to_last(it);
    if (rocksdb_iter_valid(it)) {
      const char *k = rocksdb_iter_key(it, &endlen);
      if ((end = malloc(endlen + 1)) != NULL) {
        memcpy(end, k, endlen);
        end[endlen++] = '\0';
      }
    }
    rocksdb_iter_destroy(it);
    if (end == NULL)
      return endlen ? q_fail(QUARRY_ENOMEM, "out of memory") : 0;
    to = end;
    tlen = endlen;
  }
  if (q_key_cmp(from, flen, to, tlen) < 0)
    rocksdb_approximate_sizes_cf(db->rdb, h, 1, &from, &flen, &to, &tlen, &size, &err);
  free(end);
  if (err)
    return q_status_from_rocksdb(err);
  *bytes = size;
  return 0;
}

int q_rdb_size_on_disk(quarry_db *db, uint64_t *bytes) {
  DIR *d;
  struct dirent *e;
  struct stat st;
  char buf[PATH_MAX];
  uint64_t total = 0;
  int rc;
  if (bytes == NULL)
    return q_fail(QUARRY_EINVAL, "size_on_disk: bytes is NULL");
  *bytes = 0;
  if ((rc = q_db_check(db, "size_on_disk")) != 0)
    return rc;
  if ((d = opendir(db->path)) == NULL)
    return q_fail(QUARRY_EIO, "cannot read directory %s", db->path);
  while ((e = readdir(d)) != NULL) {
    snprintf(buf, sizeof buf, "%s/%s", db->path, e->d_name);
    /* files vanish while compactions run: skip what cannot be stat'ed */
    if (stat(buf, &st) == 0 && S_ISREG(st.st_mode))
      total += (uint64_t)st.st_size;
  }
  closedir(d);
  *bytes = total;
  return 0;
}

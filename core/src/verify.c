/* verify.c: full scans of a database at one snapshot: db verify (every key of every family read
 * with checksums verified, table files checked against the MANIFEST) and the content digest. */
#include "files.h"
#include "hash.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* One family to scan: its name (owned copy) and live RocksDB handle. */
typedef struct {
  char *name;
  rocksdb_column_family_handle_t *h;
} scan_target;

static int by_name(const void *a, const void *b) {
  return strcmp(((const scan_target *)a)->name, ((const scan_target *)b)->name);
}

static void free_targets(scan_target *t, size_t n) {
  size_t i;
  for (i = 0; t && i < n; i++)
    free(t[i].name);
  free(t);
}

/* The families to scan: cf alone, or every live family sorted by name. Only public calls and
 * q_cf_resolve, so this file does not depend on how db.c keeps its families. */
static int scan_targets(quarry_db *db, quarry_cf *cf, const char *op, scan_target **out,
                        size_t *n) {
  scan_target *t;
  char **names = NULL;
  size_t i, count = 0;
  int rc;
  *out = NULL;
  *n = 0;
  if (cf == NULL) {
    if ((rc = quarry_db_cf_names(db, &names)) != 0)
      return rc;
    while (names[count])
      count++;
  } else {
    count = 1;
  }
  if ((t = calloc(count ? count : 1, sizeof *t)) == NULL) {
    quarry_free_names(names);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  for (i = 0; i < count; i++) {
    quarry_cf *c = cf;
    if (c == NULL && (rc = quarry_db_cf(db, names[i], &c)) != 0)
      break;
    if ((rc = q_cf_resolve(db, c, op, &t[i].h)) != 0)
      break;
    if ((t[i].name = strdup(quarry_cf_name(c))) == NULL) {
      rc = q_fail(QUARRY_ENOMEM, "out of memory");
      break;
    }
  }
  quarry_free_names(names);
  if (i < count) {
    free_targets(t, count);
    return rc;
  }
  qsort(t, count, sizeof *t, by_name);
  *out = t;
  *n = count;
  return 0;
}

void quarry_scan_report_free(quarry_scan_report *r) {
  size_t i;
  if (r == NULL)
    return;
  for (i = 0; i < r->nfamilies; i++)
    free(r->families[i].name);
  free(r->families);
  free(r);
}

/* Up to 32 bytes of key as hex, "..." when longer (for messages). */
static void key_hex(const char *k, size_t klen, char *out, size_t cap) {
  size_t n = klen > 32 ? 32 : klen;
  if (cap < 2 * n + 4) {
    *out = '\0';
    return;
  }
  q_hex((const unsigned char *)k, n, out);
  if (n < klen)
    strcat(out, "...");
}

/* Table files of family name whose key range reaches past key (the ones a scan that failed
 * after key may have been reading), as ", "-separated names into buf. */
static void candidate_files(quarry_db *db, const char *family, const char *key, size_t klen,
                            int have_key, char *buf, size_t cap) {
  const rocksdb_livefiles_t *lf = rocksdb_livefiles(db->rdb);
  int i, n;
  size_t used = 0;
  buf[0] = '\0';
  if (lf == NULL)
    return;
  n = rocksdb_livefiles_count(lf);
  for (i = 0; i < n; i++) {
    size_t llen;
    const char *largest = rocksdb_livefiles_largestkey(lf, i, &llen);
    const char *cfname = rocksdb_livefiles_column_family_name(lf, i);
    int w;
    if (cfname == NULL || strcmp(cfname, family) != 0)
      continue;
    if (have_key && q_key_cmp(largest, llen, key, klen) <= 0)
      continue;
    w = snprintf(buf + used, cap - used, "%s%s%s", used ? ", " : "", db->path,
                 rocksdb_livefiles_name(lf, i));
    if (w < 0 || (size_t)w >= cap - used) {
      buf[used] = '\0';
      break;
    }
    used += (size_t)w;
  }
  rocksdb_livefiles_destroy(lf);
}

/* A failed scan: RocksDB's message (which names the table file for a damaged block), plus the
 * family and the last key read; when RocksDB's text names no file, the candidate files. */
static int scan_error(quarry_db *db, const char *family, char *err, const char *last,
                      size_t lastlen, int have_last) {
  char text[600], hex[80], files[300];
  int code = q_status_code(err);
  snprintf(text, sizeof text, "%s", err);
  rocksdb_free(err);
  if (have_last)
    key_hex(last, lastlen, hex, sizeof hex);
  files[0] = '\0';
  if (strstr(text, ".sst") == NULL && strstr(text, ".blob") == NULL)
    candidate_files(db, family, last, lastlen, have_last, files, sizeof files);
  return q_fail(code, "%s (family '%s', %s%s%s%s)", text, family,
                have_last ? "after key " : "at its first key", have_last ? hex : "",
                files[0] ? "; table files that may hold the damaged block: " : "", files);
}

/* Checks every live table file exists with the size the MANIFEST records; counts them. */
static int check_table_files(quarry_db *db, uint64_t *files, uint64_t *bytes) {
  const rocksdb_livefiles_t *lf = rocksdb_livefiles(db->rdb);
  char path[4096];
  struct stat st;
  int i, n, rc = 0;
  *files = *bytes = 0;
  if (lf == NULL)
    return 0;
  n = rocksdb_livefiles_count(lf);
  for (i = 0; i < n && rc == 0; i++) {
    size_t want = rocksdb_livefiles_size(lf, i);
    snprintf(path, sizeof path, "%s%s", db->path, rocksdb_livefiles_name(lf, i));
    if (stat(path, &st) != 0)
      rc = q_fail(QUARRY_ECORRUPTION, "table file %s of family '%s' is missing", path,
                  rocksdb_livefiles_column_family_name(lf, i));
    else if ((uint64_t)st.st_size != (uint64_t)want)
      rc = q_fail(QUARRY_ECORRUPTION,
                  "table file %s of family '%s' has %" PRIu64 " bytes, the MANIFEST records %zu",
                  path, rocksdb_livefiles_column_family_name(lf, i), (uint64_t)st.st_size, want);
    *files += 1;
    *bytes += (uint64_t)want;
  }
  rocksdb_livefiles_destroy(lf);
  return rc;
}

/* Reads every entry of one family at the snapshot in ro; fills fr (and its digest if hash). */
static int scan_family(quarry_db *db, const scan_target *t, rocksdb_readoptions_t *ro, int hash,
                       quarry_family_report *fr, unsigned char raw[32]) {
  rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db->rdb, ro, t->h);
  char *err = NULL, *last = NULL;
  size_t lastlen = 0, lastcap = 0;
  int have_last = 0, rc = 0;
  q_sha256 sha;
  if (hash)
    q_sha256_init(&sha);
  for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
    size_t klen, vlen;
    const char *k = rocksdb_iter_key(it, &klen), *v = rocksdb_iter_value(it, &vlen);
    fr->keys++;
    fr->bytes += klen + vlen;
    if (hash) {
      q_sha256_u64(&sha, klen);
      q_sha256_update(&sha, k, klen);
      q_sha256_u64(&sha, vlen);
      q_sha256_update(&sha, v, vlen);
    }
    if (klen > lastcap) { /* the last key read, for the message should a later block be bad */
      char *grown = realloc(last, klen);
      if (grown == NULL) {
        rc = q_fail(QUARRY_ENOMEM, "out of memory");
        break;
      }
      last = grown;
      lastcap = klen;
    }
    if (klen)
      memcpy(last, k, klen);
    lastlen = klen;
    have_last = 1;
  }
  if (rc == 0) {
    rocksdb_iter_get_error(it, &err);
    if (err)
      rc = scan_error(db, t->name, err, last, lastlen, have_last);
  }
  rocksdb_iter_destroy(it);
  free(last);
  if (rc == 0 && hash) {
    q_sha256_final(&sha, raw);
    q_hex(raw, 32, fr->digest);
  }
  return rc;
}

/* The scan behind quarry_db_verify and quarry_db_digest. */
static int scan(quarry_db *db, quarry_cf *cf, const quarry_snapshot *snap, int hash,
                const char *op, quarry_scan_report **out) {
  scan_target *targets = NULL;
  size_t n = 0, i;
  quarry_scan_report *r = NULL;
  const rocksdb_snapshot_t *own = NULL;
  rocksdb_readoptions_t *ro = NULL;
  q_sha256 total;
  int rc;

  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "%s: out is NULL", op);
  *out = NULL;
  if ((rc = q_db_check(db, op)) != 0)
    return rc;
  /* RocksDB 7.8's secondary instance refuses an iterator at a snapshot ("snapshot not supported
   * in secondary mode"): without this check that status would come out of the first family's
   * scan, reported like a damaged block with table files "that may hold" it. */
  if (db->mode == Q_MODE_SECONDARY)
    return q_fail(QUARRY_ENOTSUPPORTED,
                  "%s reads the database at one snapshot, and RocksDB cannot read a database "
                  "opened secondary at a snapshot; open the database with mode = \"read_only\" "
                  "and call %s there (that open takes no LOCK: it works while another process "
                  "writes, and sees the database as of the open)",
                  op, op);
  if (snap && (rc = q_snapshot_check(db, snap, op)) != 0)
    return rc;
  if ((rc = scan_targets(db, cf, op, &targets, &n)) != 0)
    return rc;
  r = calloc(1, sizeof *r);
  if (r == NULL || (r->families = calloc(n ? n : 1, sizeof *r->families)) == NULL) {
    free(r);
    free_targets(targets, n);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  for (i = 0; i < n; i++) { /* the report takes the names */
    r->families[i].name = targets[i].name;
    targets[i].name = NULL;
  }
  r->nfamilies = n;

  ro = rocksdb_readoptions_create();
  rocksdb_readoptions_set_verify_checksums(ro, 1);
  rocksdb_readoptions_set_fill_cache(ro, 0);     /* a full scan must not evict the working set */
  rocksdb_readoptions_set_total_order_seek(ro, 1);
  rocksdb_readoptions_set_readahead_size(ro, 2u << 20);
  if (snap) {
    rocksdb_readoptions_set_snapshot(ro, snap->snap);
    r->sequence = quarry_snapshot_sequence(snap);
  } else {
    /* One snapshot for every family: the report describes one state of the database. */
    own = rocksdb_create_snapshot(db->rdb);
    r->sequence = rocksdb_get_latest_sequence_number(db->rdb);
    if (own)
      rocksdb_readoptions_set_snapshot(ro, own);
  }

  if (hash)
    q_sha256_init(&total);
  for (i = 0; i < n && rc == 0; i++) {
    quarry_family_report *fr = &r->families[i];
    scan_target t = {fr->name, targets[i].h};
    unsigned char d[32];
    if ((rc = scan_family(db, &t, ro, hash, fr, d)) != 0)
      break;
    r->keys += fr->keys;
    r->bytes += fr->bytes;
    if (hash) { /* the database digest: name and raw family digest, family by family */
      q_sha256_u64(&total, strlen(fr->name));
      q_sha256_update(&total, fr->name, strlen(fr->name));
      q_sha256_update(&total, d, sizeof d);
    }
  }
  if (rc == 0 && !hash)
    rc = check_table_files(db, &r->table_files, &r->table_bytes);
  if (rc == 0 && hash) {
    if (cf) { /* one family: its own digest */
      memcpy(r->digest, r->families[0].digest, sizeof r->digest);
    } else {
      unsigned char d[32];
      q_sha256_final(&total, d);
      q_hex(d, sizeof d, r->digest);
    }
  }

  rocksdb_readoptions_destroy(ro);
  if (own)
    rocksdb_release_snapshot(db->rdb, own);
  free_targets(targets, n);
  if (rc) {
    quarry_scan_report_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

int q_rdb_verify(quarry_db *db, quarry_scan_report **out) {
  return scan(db, NULL, NULL, 0, "verify", out);
}

int q_rdb_digest(quarry_db *db, quarry_cf *cf, const quarry_snapshot *snap,
                     quarry_scan_report **out) {
  return scan(db, cf, snap, 1, "digest", out);
}

/* Reads every entry of family cf in [small, large] (inclusive) with the read options ro. */
static int scan_range(quarry_db *db, rocksdb_column_family_handle_t *h, rocksdb_readoptions_t *ro,
                      const char *small, size_t slen, const char *large, size_t llen,
                      char **err) {
  rocksdb_iterator_t *it = rocksdb_create_iterator_cf(db->rdb, ro, h);
  for (rocksdb_iter_seek(it, small, slen); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
    size_t klen;
    const char *k = rocksdb_iter_key(it, &klen);
    if (q_key_cmp(k, klen, large, llen) > 0)
      break;
  }
  rocksdb_iter_get_error(it, err);
  rocksdb_iter_destroy(it);
  return *err ? q_status_code(*err) : 0;
}

int q_verify_table_files(quarry_db *db, int (*wanted)(const char *name, void *ctx), void *ctx,
                         uint64_t *files, uint64_t *bytes) {
  const rocksdb_livefiles_t *lf;
  rocksdb_readoptions_t *ro;
  int i, n, rc;
  *files = *bytes = 0;
  if ((rc = q_db_check(db, "verify")) != 0)
    return rc;
  if ((lf = rocksdb_livefiles(db->rdb)) == NULL)
    return 0;
  ro = rocksdb_readoptions_create();
  rocksdb_readoptions_set_verify_checksums(ro, 1);
  rocksdb_readoptions_set_fill_cache(ro, 0);
  rocksdb_readoptions_set_total_order_seek(ro, 1);
  rocksdb_readoptions_set_ignore_range_deletions(ro, 1); /* covered entries are read too */
  rocksdb_readoptions_set_readahead_size(ro, 2u << 20);
  n = rocksdb_livefiles_count(lf);
  for (i = 0; i < n && rc == 0; i++) {
    const char *name = rocksdb_livefiles_name(lf, i);
    const char *family = rocksdb_livefiles_column_family_name(lf, i);
    const char *small, *large;
    size_t slen, llen;
    quarry_cf *cf;
    rocksdb_column_family_handle_t *h;
    char *err = NULL;
    if (name == NULL || family == NULL || !wanted(name, ctx))
      continue;
    if ((rc = quarry_db_cf(db, family, &cf)) != 0 || (rc = q_cf_resolve(db, cf, "verify", &h)) != 0)
      break;
    small = rocksdb_livefiles_smallestkey(lf, i, &slen);
    large = rocksdb_livefiles_largestkey(lf, i, &llen);
    if ((rc = scan_range(db, h, ro, small, slen, large, llen, &err)) != 0) {
      char text[600];
      snprintf(text, sizeof text, "%s", err);
      rocksdb_free(err);
      rc = q_fail(rc, "%s (family '%s', reading the key range of table file %s%s)", text, family,
                  db->path, name);
      break;
    }
    *files += 1;
    *bytes += (uint64_t)rocksdb_livefiles_size(lf, i);
  }
  rocksdb_readoptions_destroy(ro);
  rocksdb_livefiles_destroy(lf);
  return rc;
}

/* manifest.c: the open-time check that the MANIFEST has not lost the records of flushed table
 * files: orphan table files whose keys neither the database nor a WAL has (docs/design.md#f13). */
#include "files.h" /* q_lock_holder, q_remove_tree */

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A table file in the directory: its number and size. */
typedef struct {
  uint64_t number, size;
} table_file;

typedef struct {
  table_file *t;
  size_t n, cap;
  uint64_t wals[64]; /* the oldest WAL numbers, ascending after list_dir */
  size_t nwals;
} dir_listing;

/* "000123.sst" / "000123.log" -> 123 and the suffix; 0 if the name is not of that form. */
static int numbered(const char *name, const char *suffix, uint64_t *num) {
  char *end;
  unsigned long long v;
  if (name[0] < '0' || name[0] > '9')
    return 0;
  v = strtoull(name, &end, 10);
  if (strcmp(end, suffix) != 0)
    return 0;
  *num = (uint64_t)v;
  return 1;
}

static int list_dir(const char *path, dir_listing *out) {
  DIR *d = opendir(path);
  struct dirent *e;
  memset(out, 0, sizeof *out);
  if (d == NULL)
    return 0; /* RocksDB's open reports it */
  while ((e = readdir(d)) != NULL) {
    uint64_t num;
    if (numbered(e->d_name, ".log", &num)) {
      size_t k = out->nwals < 64 ? out->nwals++ : 63;
      if (k == 63 && out->wals[63] < num)
        continue;
      out->wals[k] = num;
      for (; k > 0 && out->wals[k - 1] > out->wals[k]; k--) {
        uint64_t t = out->wals[k];
        out->wals[k] = out->wals[k - 1];
        out->wals[k - 1] = t;
      }
    } else if (numbered(e->d_name, ".sst", &num)) {
      char buf[PATH_MAX + 260];
      struct stat st;
      if (out->n == out->cap) {
        size_t cap = out->cap ? out->cap * 2 : 32;
        table_file *grown = realloc(out->t, cap * sizeof *grown);
        if (grown == NULL) {
          closedir(d);
          return q_fail(QUARRY_ENOMEM, "out of memory");
        }
        out->t = grown;
        out->cap = cap;
      }
      snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
      out->t[out->n].number = num;
      out->t[out->n].size = stat(buf, &st) == 0 ? (uint64_t)st.st_size : 0;
      out->n++;
    }
  }
  closedir(d);
  return 0;
}

/* The sequence number of the first record of WAL file number num (UINT64_MAX when it has none):
 * a WAL record is a 7-byte header (CRC, length, type) and a write batch, whose first 8 bytes are
 * its sequence number (little-endian). */
static uint64_t wal_first_seq(const char *path, uint64_t num) {
  char buf[PATH_MAX + 32];
  unsigned char h[15];
  FILE *f;
  uint64_t seq = 0;
  int i;
  snprintf(buf, sizeof buf, "%s/%06" PRIu64 ".log", path, num);
  if ((f = fopen(buf, "rb")) == NULL)
    return UINT64_MAX;
  if (fread(h, 1, sizeof h, f) != sizeof h || (h[6] != 1 && h[6] != 2)) {
    fclose(f);
    return UINT64_MAX;
  }
  fclose(f);
  for (i = 7; i >= 0; i--)
    seq = seq << 8 | h[7 + i];
  return seq;
}

static int is_live(const rocksdb_livefiles_t *lf, uint64_t number) {
  int i, n = rocksdb_livefiles_count(lf);
  for (i = 0; i < n; i++) {
    const char *name = rocksdb_livefiles_name(lf, i); /* "/000123.sst" */
    uint64_t num;
    if (name && numbered(name + (name[0] == '/'), ".sst", &num) && num == number)
      return 1;
  }
  return 0;
}

/* The first sequence number the WALs hold (UINT64_MAX: none): that of the oldest WAL with a
 * record. */
static uint64_t wals_first_seq(const char *path, const dir_listing *d) {
  size_t i;
  for (i = 0; i < d->nwals; i++) {
    uint64_t s = wal_first_seq(path, d->wals[i]);
    if (s != UINT64_MAX)
      return s;
  }
  return UINT64_MAX;
}

/* What the orphans hold, read through a scratch database RocksDB's repair builds from links to
 * them: the newest sequence number, and how many of their keys the database does not have. */
typedef struct {
  uint64_t max_seq, keys, missing;
} orphan_content;

static int read_orphans(const char *path, const table_file *orphans, size_t n, rocksdb_t *real,
                        rocksdb_column_family_handle_t **real_h, char **real_names, size_t nreal,
                        orphan_content *c) {
  char scratch[PATH_MAX], from[PATH_MAX + 32], to[PATH_MAX + 32], *err = NULL, **names = NULL;
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_t *sdb = NULL;
  rocksdb_column_family_handle_t **h = NULL;
  const rocksdb_options_t **cfo = NULL;
  rocksdb_readoptions_t *ro = rocksdb_readoptions_create();
  size_t i, nn = 0, j;
  int rc = 0;
  memset(c, 0, sizeof *c);
  rocksdb_options_set_info_log_level(o, 4);
  rocksdb_options_set_create_if_missing(o, 1);
  snprintf(scratch, sizeof scratch, "%s/.quarry-orphans-XXXXXX", path);
  if (mkdtemp(scratch) == NULL) {
    rc = q_fail(QUARRY_EIO, "cannot create a scratch directory in %s to check its table files",
                path);
    goto out;
  }
  for (i = 0; i < n; i++) {
    snprintf(from, sizeof from, "%s/%06" PRIu64 ".sst", path, orphans[i].number);
    snprintf(to, sizeof to, "%s/%06" PRIu64 ".sst", scratch, orphans[i].number);
    if (link(from, to) != 0) {
      rc = q_fail(QUARRY_EIO, "cannot link %s into %s to check it", from, scratch);
      goto out;
    }
  }
  rocksdb_repair_db(o, scratch, &err);
  if (err)
    goto unreadable;
  names = rocksdb_list_column_families(o, scratch, &nn, &err);
  if (err)
    goto unreadable;
  h = calloc(nn, sizeof *h);
  cfo = calloc(nn, sizeof *cfo);
  if (h == NULL || cfo == NULL) {
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
    goto out;
  }
  for (i = 0; i < nn; i++)
    cfo[i] = o;
  sdb = rocksdb_open_for_read_only_column_families(o, scratch, (int)nn, (const char *const *)names,
                                                   cfo, h, 0, &err);
  if (err)
    goto unreadable;
  c->max_seq = rocksdb_get_latest_sequence_number(sdb);
  for (i = 0; i < nn; i++) {
    rocksdb_column_family_handle_t *rh = NULL;
    rocksdb_iterator_t *it;
    for (j = 0; j < nreal; j++)
      if (strcmp(real_names[j], names[i]) == 0)
        rh = real_h[j];
    it = rocksdb_create_iterator_cf(sdb, ro, h[i]);
    for (rocksdb_iter_seek_to_first(it); rocksdb_iter_valid(it); rocksdb_iter_next(it)) {
      size_t klen, vlen;
      const char *k = rocksdb_iter_key(it, &klen);
      char *v = NULL;
      c->keys++;
      if (rh)
        v = rocksdb_get_cf(real, ro, rh, k, klen, &vlen, &err);
      if (err) {
        rocksdb_free(err);
        err = NULL;
      }
      if (v == NULL)
        c->missing++;
      rocksdb_free(v);
    }
    rocksdb_iter_destroy(it);
  }
  goto out;
unreadable:
  /* A table file RocksDB cannot read holds nothing it could lose; the open reports damage. */
  rocksdb_free(err);
  memset(c, 0, sizeof *c);
out:
  if (sdb) {
    for (i = 0; i < nn; i++)
      if (h[i])
        rocksdb_column_family_handle_destroy(h[i]);
    rocksdb_close(sdb);
  }
  if (names)
    rocksdb_list_column_families_destroy(names, nn);
  free(h);
  free(cfo);
  rocksdb_readoptions_destroy(ro);
  rocksdb_options_destroy(o);
  if (strstr(scratch, "XXXXXX") == NULL)
    q_remove_tree(scratch);
  return rc;
}

static int refuse(const char *path, const table_file *orphans, size_t n,
                  const orphan_content *c) {
  char files[1024], manifest[64] = "the MANIFEST", *cur = NULL, pathbuf[PATH_MAX + 16];
  size_t used = 0, i, len;
  uint64_t bytes = 0;
  files[0] = '\0';
  for (i = 0; i < n; i++) {
    int w = snprintf(files + used, sizeof files - used, "%s%06" PRIu64 ".sst", i ? ", " : "",
                     orphans[i].number);
    bytes += orphans[i].size;
    if (w > 0 && (size_t)w < sizeof files - used)
      used += (size_t)w;
  }
  snprintf(pathbuf, sizeof pathbuf, "%s/CURRENT", path);
  if (q_read_file(pathbuf, &cur, &len) == 0) {
    cur[strcspn(cur, "\n")] = '\0';
    snprintf(manifest, sizeof manifest, "%s", cur);
    free(cur);
  }
  return q_fail(QUARRY_ECORRUPTION,
                "%s in %s lost the records of %s (%" PRIu64 " bytes, %" PRIu64
                " keys the database would not have, none of them in a WAL): opened, the "
                "database would be missing flushed data; the files are left as they are: restore "
                "from a backup, or copy the directory and run RocksDB's repair (ldb repair) on "
                "the copy (docs/design.md#f13)",
                manifest, path, files, bytes, c->missing);
}

int q_manifest_check(const char *path, const rocksdb_options_t *ropts, char **names, size_t n) {
  dir_listing d;
  table_file *orphans = NULL;
  rocksdb_t *db;
  rocksdb_column_family_handle_t **h = NULL;
  const rocksdb_options_t **cfo = NULL;
  const rocksdb_livefiles_t *lf;
  orphan_content c;
  char *err = NULL;
  size_t i, norphans = 0;
  int rc;
  if (q_lock_holder(path) != 0)
    return 0; /* a live writer: its open was checked; RocksDB answers Locked for another */
  if ((rc = list_dir(path, &d)) != 0 || d.n == 0) {
    free(d.t);
    return rc;
  }
  h = calloc(n, sizeof *h);
  cfo = calloc(n, sizeof *cfo);
  orphans = calloc(d.n, sizeof *orphans);
  if (h == NULL || cfo == NULL || orphans == NULL) {
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
    goto out;
  }
  for (i = 0; i < n; i++)
    cfo[i] = ropts;
  /* Read-only: it deletes nothing, so the orphans are still there to look at. */
  db = rocksdb_open_for_read_only_column_families(ropts, path, (int)n, (const char *const *)names,
                                                  cfo, h, 0, &err);
  if (err) { /* the read-write open reports it */
    rocksdb_free(err);
    goto out;
  }
  if ((lf = rocksdb_livefiles(db)) != NULL) {
    for (i = 0; i < d.n; i++)
      if (!is_live(lf, d.t[i].number))
        orphans[norphans++] = d.t[i];
    rocksdb_livefiles_destroy(lf);
  }
  if (norphans > 0 &&
      (rc = read_orphans(path, orphans, norphans, db, h, names, n, &c)) == 0 &&
      c.missing > 0 && c.max_seq < wals_first_seq(path, &d))
    rc = refuse(path, orphans, norphans, &c);
  for (i = 0; i < n; i++)
    if (h[i])
      rocksdb_column_family_handle_destroy(h[i]);
  rocksdb_close(db);
out:
  free(h);
  free(cfo);
  free(orphans);
  free(d.t);
  return rc;
}

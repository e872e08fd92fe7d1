/* test_backup.c: incremental backups share unchanged table files; each restore gives the digest
 * recorded when its backup was made; verify detects one flipped byte in any file (data, private,
 * meta) and names it; purge and max_backups keep exactly the newest N; restore targets are
 * checked (not empty, not a database, open, missing parent); one handle per directory. */
#include "check.h"

#include <stdarg.h>
#include <time.h>

#define CAP 2048

/* snprintf into a CAP-byte buffer; a truncated path fails the test. */
static void pathf(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pathf(char *buf, const char *fmt, ...) {
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(buf, CAP, fmt, ap);
  va_end(ap);
  CHECK(n >= 0 && n < CAP);
}

static quarry_db *open_db(const char *path, int wal) {
  quarry_options *o;
  quarry_db *db;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "blocks"));
  CHECK_OK(quarry_options_set_bool(o, "wal", wal));
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o);
  return db;
}

static void digest_of(quarry_db *db, char out[65]) {
  quarry_scan_report *r;
  CHECK_OK(quarry_db_digest(db, NULL, NULL, &r));
  memcpy(out, r->digest, 65);
  quarry_scan_report_free(r);
}

static void digest_at(const char *path, char out[65]) {
  quarry_db *db = open_db(path, 1);
  digest_of(db, out);
  CHECK_OK(quarry_db_close(db));
}

static void fill(quarry_db *db, int from, int to, const char *tag) {
  quarry_cf *blocks;
  char key[32], val[300];
  int i;
  CHECK_OK(quarry_db_cf(db, "blocks", &blocks));
  for (i = from; i < to; i++) {
    pathf(key, "h%08d", i);
    pathf(val, "%s %d %0200d", tag, i, i);
    CHECK_OK(quarry_put(db, blocks, NULL, key, strlen(key), val, strlen(val)));
  }
  CHECK_OK(quarry_db_flush(db, NULL));
}

/* The file names a backup's meta file lists (up to 64, static), and their count. */
static int meta_files(const char *bdir, uint32_t id, char names[64][256]) {
  char path[CAP], line[512];
  FILE *f;
  int n = 0;
  pathf(path, "%s/meta/%u", bdir, id);
  f = fopen(path, "r");
  CHECK(f != NULL);
  while (fgets(line, sizeof line, f) && n < 64) {
    char *sp = strstr(line, " crc32 ");
    if (sp == NULL)
      continue;
    *sp = '\0';
    CHECK(strlen(line) < 256);
    memcpy(names[n++], line, strlen(line) + 1);
  }
  fclose(f);
  return n;
}

static int count_dir(const char *dir) {
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  if (d == NULL)
    return 0;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

static void flip(const char *path, long off) {
  FILE *f = fopen(path, "r+b");
  int c;
  CHECK(f != NULL);
  if (off < 0) {
    fseek(f, 0, SEEK_END);
    off = ftell(f) / 2;
  }
  fseek(f, off, SEEK_SET);
  c = fgetc(f);
  CHECK(c != EOF);
  fseek(f, off, SEEK_SET);
  fputc(c ^ 0x01, f);
  fclose(f);
}

/* Verifying id must fail with Corruption naming file, then pass once the byte is flipped back. */
static void check_detects(quarry_backups *b, uint32_t id, const char *file, long off) {
  flip(file, off);
  CHECK_ERR(quarry_backups_verify(b, id, 0), QUARRY_ECORRUPTION);
  CHECK_CONTAINS(quarry_last_error(), file);
  printf("test_backup: flipped a byte in %s: %s\n", strrchr(file, '/') + 1, quarry_last_error());
  flip(file, off);
  CHECK_OK(quarry_backups_verify(b, id, 0));
}

/* What every case about one backup directory starts from: a source db and two backups of it,
 * the second incremental; d[1] and d[2] are the source's digests when each was made. */
typedef struct {
  const char *dir;
  char src[CAP], bdir[CAP], d[4][65];
  quarry_backups *b;
  quarry_db *db;
} fixture;

static void two_backups(fixture *f) {
  quarry_backups *b;
  quarry_db *db;
  uint32_t id;
  char (*d)[65] = f->d;
  const char *src = f->src, *bdir = f->bdir;

  f->dir = check_tmpdir(0, "backup");
  pathf(f->src, "%s/src", f->dir);
  pathf(f->bdir, "%s/backups", f->dir);
  /* ---- two backups, the second incremental ---- */
  db = open_db(src, 1);
  fill(db, 0, 4000, "first");
  CHECK_OK(quarry_backups_open(bdir, NULL, &b));
  CHECK_STR(quarry_backups_dir(b), bdir);
  CHECK_OK(quarry_backups_create(b, db, 1, &id));
  CHECK_EQ_INT(id, 1);
  digest_of(db, d[1]);
  fill(db, 4000, 5000, "second"); /* a new table file; the first one is unchanged */
  CHECK_OK(quarry_backups_create(b, db, 1, &id));
  CHECK_EQ_INT(id, 2);
  digest_of(db, d[2]);
  CHECK(strcmp(d[1], d[2]) != 0);
  f->b = b;
  f->db = db;
}

static void close_fixture(fixture *f) {
  quarry_backups_close(f->b);
  CHECK_NO_CHILDREN(f->db);
  CHECK_OK(quarry_db_close(f->db));
  check_rmrf(f->dir);
}

TEST(incremental_backups_share_table_files) {
  fixture f;
  const char *bdir;
  quarry_backups *b;
  char path[CAP], names1[64][256], names2[64][256];
  quarry_backup_info *list;
  size_t n;
  int i, j, n1, n2, shared, sst1, sst2;
  time_t now = time(NULL);

  two_backups(&f);
  bdir = f.bdir;
  b = f.b;

  n1 = meta_files(bdir, 1, names1);
  n2 = meta_files(bdir, 2, names2);
  shared = sst1 = sst2 = 0;
  for (i = 0; i < n1; i++)
    sst1 += strstr(names1[i], ".sst") != NULL;
  for (j = 0; j < n2; j++)
    sst2 += strstr(names2[j], ".sst") != NULL;
  for (i = 0; i < n1; i++)
    for (j = 0; j < n2; j++)
      if (strstr(names1[i], ".sst") && strcmp(names1[i], names2[j]) == 0)
        shared++;
  pathf(path, "%s/shared_checksum", bdir);
  printf("test_backup: backup 1 has %d table files, backup 2 has %d, %d shared; %d stored\n",
         sst1, sst2, shared, count_dir(path));
  CHECK(sst1 >= 1);
  CHECK_EQ_INT(shared, sst1);                 /* every table file of backup 1 is reused */
  CHECK(sst2 > sst1);                         /* and backup 2 added its new one(s) */
  CHECK_EQ_INT(count_dir(path), sst2);        /* each stored once */

  CHECK_OK(quarry_backups_list(b, &list, &n));
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(list[0].id, 1);
  CHECK_EQ_INT(list[1].id, 2);
  CHECK_EQ_INT(list[0].files, n1);
  CHECK_EQ_INT(list[1].files, n2);
  CHECK(list[1].size > list[0].size && list[0].size > 0);
  CHECK(list[0].timestamp >= now - 5 && list[1].timestamp <= time(NULL) + 5);
  free(list);

  close_fixture(&f);
}

TEST(restore_each_id) {
  fixture f;
  const char *dir;
  char (*d)[65];
  quarry_backups *b;
  char path[CAP], got[65];
  uint32_t id;

  two_backups(&f);
  dir = f.dir;
  d = f.d;
  b = f.b;
  /* ---- restore each id (and "latest") into new directories ---- */
  for (id = 1; id <= 2; id++) {
    pathf(path, "%s/restored%u", dir, id);
    CHECK_OK(quarry_backups_restore(b, id, path, NULL));
    digest_at(path, got);
    CHECK_STR(got, d[id]);
  }
  pathf(path, "%s/restored-latest", dir);
  CHECK_OK(quarry_backups_restore(b, QUARRY_BACKUP_LATEST, path, NULL));
  digest_at(path, got);
  CHECK_STR(got, d[2]);
  CHECK_ERR(quarry_backups_restore(b, 9, path, NULL), QUARRY_ENOTFOUND);

  close_fixture(&f);
}

TEST(restore_targets) {
  fixture f;
  const char *dir;
  char (*d)[65];
  quarry_backups *b;
  char path[CAP], other[CAP], file[CAP], got[65];
  quarry_restore_options ro = QUARRY_RESTORE_OPTIONS_INIT;
  quarry_db *r;

  two_backups(&f);
  dir = f.dir;
  d = f.d;
  b = f.b;
  pathf(path, "%s/restored1", dir);
  CHECK_OK(quarry_backups_restore(b, 1, path, NULL));
  /* ---- restore targets ---- */
  pathf(path, "%s/restored1", dir);
  CHECK_ERR(quarry_backups_restore(b, 2, path, NULL), QUARRY_EINVAL); /* not empty */
  CHECK_CONTAINS(quarry_last_error(), "is not empty");
  ro.overwrite = 1;
  CHECK_OK(quarry_backups_restore(b, 2, path, &ro)); /* replaces the database there */
  digest_at(path, got);
  CHECK_STR(got, d[2]);
  r = open_db(path, 1);
  CHECK_ERR(quarry_backups_restore(b, 1, path, &ro), QUARRY_EBUSY); /* open here */
  CHECK_CONTAINS(quarry_last_error(), "open in this process");
  CHECK_OK(quarry_db_close(r));
  pathf(other, "%s/not-a-db", dir);
  mkdir(other, 0755);
  pathf(file, "%s/notes.txt", other);
  fclose(fopen(file, "w"));
  CHECK_ERR(quarry_backups_restore(b, 1, other, &ro), QUARRY_EINVAL); /* overwrite, but no db */
  CHECK_CONTAINS(quarry_last_error(), "does not hold a database");
  CHECK(access(file, F_OK) == 0);
  ro.overwrite = 0;
  pathf(other, "%s/empty", dir);
  mkdir(other, 0755);
  CHECK_OK(quarry_backups_restore(b, 1, other, NULL)); /* an empty directory is fine */
  digest_at(other, got);
  CHECK_STR(got, d[1]);
  pathf(other, "%s/slash/", dir); /* a trailing slash: restored beside, not inside */
  CHECK_OK(quarry_backups_restore(b, 1, other, NULL));
  digest_at(other, got);
  CHECK_STR(got, d[1]);
  pathf(other, "%s/no/parent/db", dir);
  CHECK_ERR(quarry_backups_restore(b, 1, other, NULL), QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "does not exist");
  {
    char wal[CAP];
    pathf(other, "%s/split-db", dir);
    pathf(wal, "%s/split-wal", dir);
    ro.wal_dir = wal;
    CHECK_OK(quarry_backups_restore(b, 2, other, &ro));
    ro.wal_dir = NULL;
    digest_at(other, got);
    CHECK_STR(got, d[2]);
  }

  close_fixture(&f);
}

TEST(verify_detects_a_flipped_byte) {
  fixture f;
  const char *dir;
  const char *bdir;
  quarry_backups *b;
  char path[CAP], file[CAP], names2[64][256];
  int i, n2;

  two_backups(&f);
  dir = f.dir;
  bdir = f.bdir;
  b = f.b;
  n2 = meta_files(bdir, 2, names2);
  /* ---- verify: every file, by content ---- */
  CHECK_OK(quarry_backups_verify(b, 1, 0));
  CHECK_OK(quarry_backups_verify(b, QUARRY_BACKUP_LATEST, 1));
  CHECK_ERR(quarry_backups_verify(b, 7, 0), QUARRY_ENOTFOUND);
  for (i = 0; i < n2; i++) { /* a flipped byte in any file of backup 2 */
    pathf(file, "%s/%s", bdir, names2[i]);
    check_detects(b, 2, file, -1);
  }
  pathf(file, "%s/meta/2", bdir);
  check_detects(b, 2, file, 1); /* inside the timestamp: only the seal can tell */
  pathf(file, "%s/quarry-meta/2", bdir);
  check_detects(b, 2, file, 10);
  /* a damaged table file still fails the restore (RocksDB checks while copying) */
  pathf(file, "%s/%s", bdir, names2[0]);
  flip(file, -1);
  pathf(path, "%s/restore-damaged", dir);
  CHECK(quarry_backups_restore(b, 2, path, NULL) < 0);
  CHECK(access(path, F_OK) != 0); /* nothing half-restored left behind */
  flip(file, -1);

  close_fixture(&f);
}

TEST(one_handle_per_directory) {
  fixture f;
  const char *bdir;
  quarry_backups *b2;

  two_backups(&f);
  bdir = f.bdir;
  /* ---- one handle per directory ---- */
  CHECK_ERR(quarry_backups_open(bdir, NULL, &b2), QUARRY_EBUSY);
  CHECK(b2 == NULL);

  close_fixture(&f);
}

TEST(purge_and_max_backups) {
  fixture f;
  const char *dir;
  const char *bdir;
  char (*d)[65];
  quarry_backups *b;
  quarry_db *db;
  quarry_backup_options bo = QUARRY_BACKUP_OPTIONS_INIT;
  quarry_backup_info *list;
  char path[CAP];
  uint32_t id;
  size_t n;
  int i;

  two_backups(&f);
  dir = f.dir;
  bdir = f.bdir;
  d = f.d;
  b = f.b;
  db = f.db;
  /* ---- purge keeps exactly the newest N ---- */
  for (i = 0; i < 3; i++) {
    fill(db, 5000 + i * 100, 5100 + i * 100, "more");
    CHECK_OK(quarry_backups_create(b, db, 1, &id));
  }
  CHECK_EQ_INT(id, 5);
  CHECK_OK(quarry_backups_purge(b, 2));
  CHECK_OK(quarry_backups_list(b, &list, &n));
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(list[0].id, 4);
  CHECK_EQ_INT(list[1].id, 5);
  free(list);
  pathf(path, "%s/quarry-meta", bdir);
  CHECK_EQ_INT(count_dir(path), 2);
  CHECK_OK(quarry_backups_verify(b, 4, 0));
  quarry_backups_close(b);
  quarry_backups_close(NULL);
  f.b = NULL;

  /* ---- max_backups applied after each create ---- */
  bo.max_backups = 2;
  pathf(path, "%s/", bdir);
  CHECK_OK(quarry_backups_open(path, &bo, &b));
  CHECK_STR(quarry_backups_dir(b), bdir);
  fill(db, 9000, 9100, "retained");
  CHECK_OK(quarry_backups_create(b, db, 1, &id));
  CHECK_EQ_INT(id, 6);
  CHECK_OK(quarry_backups_list(b, &list, &n));
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(list[0].id, 5);
  CHECK_EQ_INT(list[1].id, 6);
  free(list);
  digest_of(db, d[3]);
  quarry_backups_close(b);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  check_rmrf(dir);
}

TEST(backup_without_wal_flushes) {
  const char *dir = check_tmpdir(0, "backup");
  char path[CAP], other[CAP], d[4][65], got[65];
  quarry_backups *b;
  quarry_db *db;
  uint32_t id;

  /* ---- without a WAL the backup flushes even when not asked to ---- */
  pathf(path, "%s/nowal", dir);
  pathf(other, "%s/nowal-backups", dir);
  db = open_db(path, 0);
  {
    quarry_cf *blocks;
    CHECK_OK(quarry_db_cf(db, "blocks", &blocks));
    PUT(db, blocks, "only-in-memtable", "yes");
  }
  digest_of(db, d[0]);
  CHECK_OK(quarry_backups_open(other, NULL, &b));
  CHECK_OK(quarry_backups_create(b, db, 0, &id));
  CHECK_OK(quarry_db_close(db));
  pathf(path, "%s/nowal-restored", dir);
  CHECK_OK(quarry_backups_restore(b, id, path, NULL));
  digest_at(path, got);
  CHECK_STR(got, d[0]);
  quarry_backups_close(b);

  check_rmrf(dir);
}

TEST(backup_directories) {
  const char *dir = check_tmpdir(0, "backup");
  quarry_backup_options bo = QUARRY_BACKUP_OPTIONS_INIT;
  char path[CAP], file[CAP];
  quarry_backups *b;
  uint32_t id;

  pathf(path, "%s/not-a-db", dir);
  mkdir(path, 0755);
  pathf(file, "%s/notes.txt", path);
  fclose(fopen(file, "w"));
  /* ---- directories ---- */
  bo.create_if_missing = 0;
  pathf(path, "%s/missing-backups", dir);
  CHECK_ERR(quarry_backups_open(path, &bo, &b), QUARRY_ENOTFOUND);
  CHECK_CONTAINS(quarry_last_error(), "does not exist");
  pathf(path, "%s/no/parent/backups", dir);
  CHECK_ERR(quarry_backups_open(path, NULL, &b), QUARRY_EIO);
  pathf(path, "%s/not-a-db", dir); /* not empty, not a backup directory */
  CHECK_ERR(quarry_backups_open(path, NULL, &b), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "is not a backup directory");
  CHECK_ERR(quarry_backups_open("", NULL, &b), QUARRY_EINVAL);
  CHECK_ERR(quarry_backups_create(NULL, NULL, 1, &id), QUARRY_ECLOSED);

  check_rmrf(dir);
}

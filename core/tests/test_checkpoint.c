/* test_checkpoint.c: checkpoints open with the source's digest (hard links on one filesystem,
 * copies across), keep memtable data with the WAL off, refuse existing targets and missing
 * parents, and, taken (like backups) while a writer thread commits batches across three
 * families, with the WAL on or off, hold every family at the same batch and equal the source at
 * the snapshot of that batch. */
#include "check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>

static quarry_db *open_db(const char *path, int wal, const char *mode) {
  quarry_options *o;
  quarry_db *db;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "blocks"));
  CHECK_OK(quarry_options_add_column_family(o, "undo"));
  CHECK_OK(quarry_options_set_bool(o, "wal", wal));
  if (mode)
    CHECK_OK(quarry_options_set_string(o, "mode", mode));
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o);
  return db;
}

static void digest_of(quarry_db *db, const quarry_snapshot *s, char out[65]) {
  quarry_scan_report *r;
  CHECK_OK(quarry_db_digest(db, NULL, s, &r));
  memcpy(out, r->digest, 65);
  quarry_scan_report_free(r);
}

static void fill(quarry_db *db, int from, int to) {
  quarry_cf *blocks, *undo;
  char key[32], val[200];
  int i;
  CHECK_OK(quarry_db_cf(db, "blocks", &blocks));
  CHECK_OK(quarry_db_cf(db, "undo", &undo));
  memset(val, 'b', sizeof val);
  for (i = from; i < to; i++) {
    snprintf(key, sizeof key, "h%08d", i);
    CHECK_OK(quarry_put(db, blocks, NULL, key, strlen(key), val, sizeof val));
    CHECK_OK(quarry_put(db, undo, NULL, key, strlen(key), "u", 1));
  }
}

/* Inode of the first .sst under dir (0 if none). */
static ino_t first_sst_inode(const char *dir, char *name, size_t cap) {
  DIR *d = opendir(dir);
  struct dirent *e;
  struct stat st;
  char buf[1024];
  ino_t ino = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL && ino == 0) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".sst") == 0) {
      snprintf(buf, sizeof buf, "%s/%s", dir, e->d_name);
      CHECK(stat(buf, &st) == 0);
      ino = st.st_ino;
      snprintf(name, cap, "%s", e->d_name);
    }
  }
  closedir(d);
  return ino;
}

static void test_basic(const char *dir) {
  const char *src = check_path(1, dir, "src");
  char cp[1024], d1[65], d2[65], name[256], buf[1400];
  quarry_db *db = open_db(src, 1, NULL), *c;
  struct stat st;
  ino_t ino;

  fill(db, 0, 3000);
  CHECK_OK(quarry_db_flush(db, NULL));
  fill(db, 3000, 4000); /* still in the memtables */
  snprintf(cp, sizeof cp, "%s/cp1", dir);
  CHECK_OK(quarry_db_checkpoint(db, cp));
  digest_of(db, NULL, d1);

  /* hard links on the same filesystem */
  ino = first_sst_inode(cp, name, sizeof name);
  CHECK(ino != 0);
  snprintf(buf, sizeof buf, "%s/%s", src, name);
  CHECK(stat(buf, &st) == 0);
  CHECK_EQ_INT(st.st_ino, ino);

  /* refusals */
  CHECK_ERR(quarry_db_checkpoint(db, cp), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "already exists; choose a new directory");
  CHECK_CONTAINS(quarry_last_error(), cp);
  snprintf(buf, sizeof buf, "%s/no/such/parent/cp", dir);
  CHECK_ERR(quarry_db_checkpoint(db, buf), QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "does not exist");
  CHECK_CONTAINS(quarry_last_error(), "/no/such/parent");
  CHECK_ERR(quarry_db_checkpoint(db, ""), QUARRY_EINVAL);
  snprintf(buf, sizeof buf, "%s/cp-slash/", dir); /* a trailing slash: still beside, not inside */
  CHECK_OK(quarry_db_checkpoint(db, buf));
  snprintf(buf, sizeof buf, "%s/cp-slash/CURRENT", dir);
  CHECK(access(buf, F_OK) == 0);
  CHECK_ERR(quarry_db_checkpoint(NULL, cp), QUARRY_ECLOSED);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));

  /* the checkpoint opens (read-write, as any database) with the same contents */
  c = open_db(cp, 1, NULL);
  digest_of(c, NULL, d2);
  CHECK_STR(d1, d2);
  CHECK_OK(quarry_db_close(c));

  /* read-only handles cannot checkpoint */
  db = open_db(src, 1, "read_only");
  snprintf(cp, sizeof cp, "%s/cp-ro", dir);
  CHECK_ERR(quarry_db_checkpoint(db, cp), QUARRY_ENOTSUPPORTED);
  CHECK_OK(quarry_db_close(db));
}

/* Without a WAL the memtables hold the only copy of recent writes: the checkpoint flushes. */
static void test_no_wal(const char *dir) {
  const char *src = check_path(1, dir, "nowal");
  char cp[1024], d1[65], d2[65];
  quarry_db *db = open_db(src, 0, NULL), *c;
  fill(db, 0, 500);
  digest_of(db, NULL, d1);
  snprintf(cp, sizeof cp, "%s/cp-nowal", dir);
  CHECK_OK(quarry_db_checkpoint(db, cp));
  CHECK_OK(quarry_db_close(db));
  c = open_db(cp, 0, NULL);
  digest_of(c, NULL, d2);
  CHECK_STR(d1, d2);
  CHECK_OK(quarry_db_close(c));
}

/* Across filesystems (/dev/shm is a tmpfs here) the table files are copied. */
static void test_cross_fs(const char *dir) {
  const char *src = check_path(1, dir, "xfs");
  char cp[1024], d1[65], d2[65], name[256], buf[1400];
  struct stat a, b;
  quarry_db *db, *c;
  if (stat("/dev/shm", &b) != 0 || stat(dir, &a) != 0 || a.st_dev == b.st_dev) {
    printf("test_checkpoint: no second filesystem at /dev/shm; cross-filesystem case skipped\n");
    return;
  }
  db = open_db(src, 1, NULL);
  fill(db, 0, 1000);
  CHECK_OK(quarry_db_flush(db, NULL));
  snprintf(cp, sizeof cp, "/dev/shm/quarry-cp-%ld", (long)getpid());
  check_rmrf(cp);
  CHECK_OK(quarry_db_checkpoint(db, cp));
  digest_of(db, NULL, d1);
  CHECK(first_sst_inode(cp, name, sizeof name) != 0);
  snprintf(buf, sizeof buf, "%s/%s", cp, name);
  CHECK(stat(buf, &b) == 0);
  snprintf(buf, sizeof buf, "%s/%s", src, name);
  CHECK(stat(buf, &a) == 0);
  CHECK(a.st_dev != b.st_dev);
  CHECK_EQ_INT(a.st_size, b.st_size);
  CHECK_OK(quarry_db_close(db));
  c = open_db(cp, 1, NULL);
  digest_of(c, NULL, d2);
  CHECK_STR(d1, d2);
  CHECK_OK(quarry_db_close(c));
  check_rmrf(cp);
}

/* ---- checkpoints and backups while another thread writes ------------------------------------
 * Each batch i puts key i into "blocks" and "undo", drops the undo record of batch i - 100, and
 * sets "tip" = i in every family (default, blocks, undo). A copy holds one state of the whole
 * database when the three tips agree (the invariant) and its digest equals the source's at the
 * snapshot taken right after that batch. With the WAL on, the copy also recovers to exactly that
 * batch's sequence number. With the WAL off the copy holds only what the flush wrote: before
 * atomic_flush (one flush per family, in turn) the families of one copy stood at different
 * batches. */
#define MAX_BATCHES 200000
#define N_COPIES 4

typedef struct {
  quarry_db *db;
  quarry_cf *blocks, *undo;
  quarry_snapshot **snaps; /* snaps[i]: the state right after batch i */
  uint64_t *seqs;
  _Atomic int stop;
  _Atomic int done; /* batches committed */
} writer_state;

static void *writer(void *arg) {
  writer_state *w = arg;
  quarry_batch *b;
  char key[32], val[64], tip[32];
  int i;
  CHECK_OK(quarry_batch_new(w->db, &b));
  for (i = 0; i < MAX_BATCHES && !atomic_load(&w->stop); i++) {
    CHECK_OK(quarry_batch_clear(b));
    snprintf(key, sizeof key, "h%08d", i);
    snprintf(val, sizeof val, "block %d", i);
    snprintf(tip, sizeof tip, "%d", i);
    CHECK_OK(quarry_batch_put(b, w->blocks, key, strlen(key), val, strlen(val)));
    CHECK_OK(quarry_batch_put(b, w->undo, key, strlen(key), val, strlen(val)));
    if (i >= 100) { /* undo records older than 100 batches are dropped */
      snprintf(key, sizeof key, "h%08d", i - 100);
      CHECK_OK(quarry_batch_delete(b, w->undo, key, strlen(key)));
    }
    CHECK_OK(quarry_batch_put(b, NULL, "tip", 3, tip, strlen(tip)));
    CHECK_OK(quarry_batch_put(b, w->blocks, "tip", 3, tip, strlen(tip)));
    CHECK_OK(quarry_batch_put(b, w->undo, "tip", 3, tip, strlen(tip)));
    CHECK_OK(quarry_db_write(w->db, b, NULL));
    /* only this thread writes: the snapshot's sequence is exactly this batch's last one */
    CHECK_OK(quarry_snapshot_new(w->db, &w->snaps[i]));
    w->seqs[i] = quarry_snapshot_sequence(w->snaps[i]);
    atomic_store(&w->done, i + 1);
  }
  quarry_batch_close(b);
  return NULL;
}

/* The batch whose tip the family (NULL: default) of db holds; -1 when it has none. */
static int tip_of(quarry_db *db, const char *family) {
  quarry_cf *cf = NULL;
  quarry_value *v;
  const char *p;
  size_t n;
  char buf[32];
  if (family)
    CHECK_OK(quarry_db_cf(db, family, &cf));
  CHECK_OK(quarry_get(db, cf, NULL, "tip", 3, &v));
  if (v == NULL)
    return -1;
  p = quarry_value_data(v, &n);
  CHECK(n < sizeof buf);
  memcpy(buf, p, n);
  buf[n] = '\0';
  quarry_value_free(v);
  return atoi(buf);
}

/* A copy (checkpoint or restored backup) of w's database holds one state of every family. */
static void check_copy(writer_state *w, const char *path, const char *what, int k, int wal, int n) {
  quarry_db *c = open_db(path, wal, NULL);
  char d1[65], d2[65];
  int t0 = tip_of(c, NULL), t1 = tip_of(c, "blocks"), t2 = tip_of(c, "undo"), i;
  if (t0 != t1 || t0 != t2)
    CHECK_FAIL_("%s %d (wal %d) is torn across families: tip of default %d, blocks %d, undo %d",
                what, k, wal, t0, t1, t2);
  CHECK(t0 >= 0 && t0 < n);
  if (wal) { /* recovered from the WAL: exactly the sequence of that batch */
    quarry_snapshot *s;
    uint64_t seq;
    CHECK_OK(quarry_snapshot_new(c, &s));
    seq = quarry_snapshot_sequence(s);
    quarry_snapshot_close(s);
    for (i = 0; i < n && w->seqs[i] != seq; i++)
      ;
    if (i == n)
      CHECK_FAIL_("%s %d recovered to sequence %llu, which is no batch boundary", what, k,
                  (unsigned long long)seq);
    CHECK_EQ_INT(i, t0);
  }
  digest_of(c, NULL, d2);
  digest_of(w->db, w->snaps[t0], d1);
  CHECK_STR(d1, d2);
  printf("test_checkpoint: %s %d (wal %d) = the source after batch %d, in every family\n", what, k,
         wal, t0);
  CHECK_OK(quarry_db_close(c));
}

/* Waits until the writer has committed `more` batches beyond what it had. */
static void let_write(writer_state *w, int more) {
  int before = atomic_load(&w->done);
  struct timespec ts = {0, 5 * 1000 * 1000};
  while (atomic_load(&w->done) < before + more)
    nanosleep(&ts, NULL);
}

static void test_concurrent(const char *dir, int wal) {
  const char *src = check_path(1, dir, wal ? "live" : "live-nowal");
  char cps[N_COPIES][1024], bdir[1024], rdir[1024];
  uint32_t ids[N_COPIES];
  quarry_backups *bk;
  writer_state w;
  pthread_t t;
  int k, i, n;
  memset(&w, 0, sizeof w);
  w.db = open_db(src, wal, NULL);
  CHECK_OK(quarry_db_cf(w.db, "blocks", &w.blocks));
  CHECK_OK(quarry_db_cf(w.db, "undo", &w.undo));
  w.snaps = calloc(MAX_BATCHES, sizeof *w.snaps);
  w.seqs = calloc(MAX_BATCHES, sizeof *w.seqs);
  CHECK(w.snaps && w.seqs);
  snprintf(bdir, sizeof bdir, "%s/%s-backups", dir, wal ? "live" : "live-nowal");
  CHECK_OK(quarry_backups_open(bdir, NULL, &bk));
  CHECK(pthread_create(&t, NULL, writer, &w) == 0);
  for (k = 0; k < N_COPIES; k++) {
    let_write(&w, 500);
    snprintf(cps[k], sizeof cps[k], "%s/%s-cp%d", dir, wal ? "live" : "live-nowal", k);
    CHECK_OK(quarry_db_checkpoint(w.db, cps[k]));
    let_write(&w, 500);
    CHECK_OK(quarry_backups_create(bk, w.db, 1, &ids[k]));
  }
  atomic_store(&w.stop, 1);
  CHECK(pthread_join(t, NULL) == 0);
  n = atomic_load(&w.done);
  printf("test_checkpoint: %d batches written (wal %d) during %d checkpoints and %d backups\n", n,
         wal, N_COPIES, N_COPIES);

  for (k = 0; k < N_COPIES; k++) {
    check_copy(&w, cps[k], "checkpoint", k, wal, n);
    snprintf(rdir, sizeof rdir, "%s/%s-restored%d", dir, wal ? "live" : "live-nowal", k);
    CHECK_OK(quarry_backups_restore(bk, ids[k], rdir, NULL));
    check_copy(&w, rdir, "backup", k, wal, n);
  }
  quarry_backups_close(bk);
  for (i = 0; i < n; i++)
    quarry_snapshot_close(w.snaps[i]);
  free(w.snaps);
  free(w.seqs);
  CHECK_NO_CHILDREN(w.db);
  CHECK_OK(quarry_db_close(w.db));
}

TEST(basic) {
  const char *dir = check_tmpdir(0, "checkpoint");
  test_basic(dir);
  check_rmrf(dir);
}

TEST(no_wal) {
  const char *dir = check_tmpdir(0, "checkpoint");
  test_no_wal(dir);
  check_rmrf(dir);
}

TEST(cross_filesystem) {
  const char *dir = check_tmpdir(0, "checkpoint");
  test_cross_fs(dir);
  check_rmrf(dir);
}

TEST(concurrent_writer_wal) {
  const char *dir = check_tmpdir(0, "checkpoint");
  test_concurrent(dir, 1);
  check_rmrf(dir);
}

TEST(concurrent_writer_no_wal) {
  const char *dir = check_tmpdir(0, "checkpoint");
  test_concurrent(dir, 0);
  check_rmrf(dir);
}

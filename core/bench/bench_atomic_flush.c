/* bench_atomic_flush.c: what RocksDB's atomic_flush costs a put-heavy load under Quarry's
 * options (q_rocksdb_options of a preset, exactly what quarry_db_open passes), with it off and
 * on, in alternating runs so both see the same machine noise.
 *
 *   chain: 4 families written in one batch per "block", as a chain store is (docs/chain-format.md):
 *          blocks (one 1,000-byte value), txidx (4 x 8 bytes under random 32-byte keys), utxo
 *          (4 x 40 bytes under random 36-byte keys), undo (one 200-byte value); incompressible
 *   one:   the default family alone, 1,300-byte values under sequential keys
 * Each run writes N batches (no sync; WAL on unless told), then waits until no flush or compaction
 * is pending or running. It prints the wall time of the writes and in all, the CPU time of the
 * process (every RocksDB thread included), the flushes (memtables written), the bytes flushes and
 * compactions wrote, and the L0 files left. write_buffer_mb is small (default 4) so a modest run
 * goes through many flushes.
 *
 *   bench_atomic_flush [batches [runs [dir [write_buffer_mb [wal]]]]]
 *     defaults: 200000 3 $QUARRY_TEST_TMP-or-/tmp 4 1
 *
 * docs/design.md quotes its output. A benchmark, not a test: CTest does not run it. */
#include "../src/internal.h" /* q_rocksdb_options */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_FAMS 5

static double clock_s(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void must(char *err, const char *what) {
  if (err) {
    fprintf(stderr, "bench_atomic_flush: %s: %s\n", what, err);
    exit(1);
  }
}

static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static void fill_random(char *p, size_t n) {
  size_t i;
  for (i = 0; i < n; i += 8) {
    uint64_t r = next_rand();
    memcpy(p + i, &r, n - i < 8 ? n - i : 8);
  }
}

/* One ticker (COUNT) or histogram count from RocksDB's statistics text. */
static uint64_t stat_of(const char *stats, const char *name) {
  char pat[128];
  const char *p;
  snprintf(pat, sizeof pat, "%s ", name);
  if ((p = strstr(stats, pat)) == NULL || (p = strstr(p, "COUNT : ")) == NULL)
    return 0;
  return strtoull(p + 8, NULL, 10);
}

static uint64_t int_prop(rocksdb_t *db, const char *name) {
  uint64_t v = 0;
  rocksdb_property_int(db, name, &v);
  return v;
}

typedef struct {
  double write_s, total_s, cpu_s;
  uint64_t flushes, flush_bytes, compact_bytes, l0_files;
} result;

static result run(const char *dir, int chain, int atomic, long batches, int wbmb, int wal) {
  static const char *const names[MAX_FAMS] = {"default", "blocks", "txidx", "utxo", "undo"};
  int nf = chain ? MAX_FAMS : 1, i, k;
  quarry_options *qo;
  rocksdb_options_t *o;
  rocksdb_cache_t *cache;
  const rocksdb_options_t *cfo[MAX_FAMS];
  rocksdb_column_family_handle_t *h[MAX_FAMS];
  rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
  rocksdb_writebatch_t *b = rocksdb_writebatch_create();
  rocksdb_t *db;
  char *err = NULL, *stats, key[40], val[1300];
  double w0, c0, w1;
  long n;
  result r;

  if (quarry_options_new("default", &qo) || quarry_options_set_int(qo, "write_buffer_mb", wbmb)) {
    fprintf(stderr, "bench_atomic_flush: options: %s\n", quarry_last_error());
    exit(1);
  }
  o = q_rocksdb_options(qo, &cache);
  rocksdb_writeoptions_disable_WAL(wo, !wal);
  rocksdb_options_set_atomic_flush(o, (unsigned char)atomic);
  rocksdb_options_enable_statistics(o);
  rocksdb_destroy_db(o, dir, &err);
  must(err, "destroy");
  for (i = 0; i < nf; i++)
    cfo[i] = o;
  db = rocksdb_open_column_families(o, dir, nf, names, cfo, h, &err);
  must(err, "open");

  w0 = clock_s(CLOCK_MONOTONIC);
  c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
  for (n = 0; n < batches; n++) {
    uint32_t be = __builtin_bswap32((uint32_t)n);
    rocksdb_writebatch_clear(b);
    if (chain) {
      fill_random(val, 1000);
      rocksdb_writebatch_put_cf(b, h[1], (const char *)&be, 4, val, 1000);
      for (k = 0; k < 4; k++) {
        fill_random(key, 36);
        fill_random(val, 40);
        rocksdb_writebatch_put_cf(b, h[2], key, 32, val, 8);
        rocksdb_writebatch_put_cf(b, h[3], key, 36, val, 40);
      }
      fill_random(val, 200);
      rocksdb_writebatch_put_cf(b, h[4], (const char *)&be, 4, val, 200);
    } else {
      fill_random(val, 1300);
      rocksdb_writebatch_put(b, (const char *)&be, 4, val, 1300);
    }
    rocksdb_write(db, wo, b, &err);
    must(err, "write");
  }
  w1 = clock_s(CLOCK_MONOTONIC);
  /* until the load's flushes and compactions are done: their cost is part of the load's */
  for (;;) {
    struct timespec ts = {0, 50 * 1000 * 1000};
    if (int_prop(db, "rocksdb.num-running-flushes") == 0 &&
        int_prop(db, "rocksdb.num-running-compactions") == 0 &&
        int_prop(db, "rocksdb.compaction-pending") == 0 &&
        int_prop(db, "rocksdb.mem-table-flush-pending") == 0)
      break;
    nanosleep(&ts, NULL);
  }
  r.write_s = w1 - w0;
  r.total_s = clock_s(CLOCK_MONOTONIC) - w0;
  r.cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
  stats = rocksdb_options_statistics_get_string(o);
  r.flushes = stat_of(stats, "rocksdb.db.flush.micros");
  r.flush_bytes = stat_of(stats, "rocksdb.flush.write.bytes");
  r.compact_bytes = stat_of(stats, "rocksdb.compact.write.bytes");
  rocksdb_free(stats);
  r.l0_files = 0;
  for (i = 0; i < nf; i++) {
    char *v = rocksdb_property_value_cf(db, h[i], "rocksdb.num-files-at-level0");
    r.l0_files += v ? strtoull(v, NULL, 10) : 0;
    rocksdb_free(v);
  }
  for (i = 0; i < nf; i++)
    rocksdb_column_family_handle_destroy(h[i]);
  rocksdb_close(db);
  rocksdb_destroy_db(o, dir, &err);
  must(err, "destroy");
  rocksdb_writebatch_destroy(b);
  rocksdb_writeoptions_destroy(wo);
  rocksdb_options_destroy(o);
  if (cache)
    rocksdb_cache_destroy(cache);
  quarry_options_free(qo);
  return r;
}

int main(int argc, char **argv) {
  long batches = argc > 1 ? atol(argv[1]) : 200000;
  int runs = argc > 2 ? atoi(argv[2]) : 3, chain, i, a;
  const char *tmp = argc > 3 ? argv[3] : getenv("QUARRY_TEST_TMP");
  int wbmb = argc > 4 ? atoi(argv[4]) : 4, wal = argc > 5 ? atoi(argv[5]) : 1;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/bench-atomic-flush-%ld", tmp ? tmp : "/tmp", (long)getpid());
  printf("%ld batches, write_buffer_mb %d, WAL %s\n", batches, wbmb, wal ? "on" : "off");
  printf("%-5s %-6s %3s %8s %8s %8s %8s %10s %10s %4s\n", "load", "atomic", "run", "write s",
         "total s", "cpu s", "flushes", "flush MB", "compact MB", "L0");
  for (chain = 1; chain >= 0; chain--) {
    double sum[2][3] = {{0}};
    uint64_t fl[2] = {0}, cb[2] = {0};
    for (i = 0; i < runs; i++) {
      for (a = 0; a < 2; a++) {
        int atomic = (i % 2) ? !a : a; /* alternate which setting goes first */
        result r = run(dir, chain, atomic, batches, wbmb, wal);
        printf("%-5s %-6s %3d %8.2f %8.2f %8.2f %8llu %10.1f %10.1f %4llu\n",
               chain ? "chain" : "one", atomic ? "on" : "off", i + 1, r.write_s, r.total_s,
               r.cpu_s, (unsigned long long)r.flushes, (double)r.flush_bytes / 1048576.0,
               (double)r.compact_bytes / 1048576.0, (unsigned long long)r.l0_files);
        fflush(stdout);
        sum[atomic][0] += r.write_s;
        sum[atomic][1] += r.total_s;
        sum[atomic][2] += r.cpu_s;
        fl[atomic] += r.flushes;
        cb[atomic] += r.compact_bytes;
      }
    }
    for (a = 0; a < 2; a++)
      printf("%-5s %-6s %3s %8.2f %8.2f %8.2f %8.1f %10s %10.1f  (mean of %d)\n",
             chain ? "chain" : "one", a ? "on" : "off", "-", sum[a][0] / runs, sum[a][1] / runs,
             sum[a][2] / runs, (double)fl[a] / runs, "", (double)cb[a] / runs / 1048576.0, runs);
  }
  return 0;
}

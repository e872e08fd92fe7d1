/* bench_metrics.c: what recording metrics costs, measured two ways.
 *
 * 1. End to end. The same work in small alternating chunks (5,000 operations, the order of each
 *    pair swapped every time) with recording on and off, so both sides see the same machine
 *    noise; the overhead is the median of the per-pair ratios. The switch is flipped on one
 *    database between chunks (two databases, one per setting, differ by more than 2% from their
 *    memory layout alone, either way from run to run); the two-database figure is printed too.
 *      get:   N x 1,000,000 point reads of 100,000 keys held in the memtable (pseudo-random)
 *      batch: N x 1,000,000 puts in batches of 100 (quarry_db_write, WAL on, no sync)
 * 2. The recording alone: the instructions quarry_get adds (two clock reads, one histogram
 *    observation, two counters) in a loop, per operation.
 * 3. What the open option statistics = true (RocksDB's statistics) costs gets from table files.
 * Times are the calling thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so a busy machine inflates
 * them less; the wall clock gives the same medians on an idle one.
 *
 *   bench_metrics [N] [dir]      (default N = 1, dir $QUARRY_TEST_TMP or /tmp)
 *
 * docs/metrics.md quotes its output. A benchmark, not a test: CTest does not run it. */
#include "../src/internal.h" /* the recording functions, for part 2 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_KEYS 100000
#define CHUNK 5000
#define BATCH 100

/* CPU time of this thread: time spent descheduled (other processes on a busy machine) does not
 * count, while the work of quarry and RocksDB in the calling thread (system calls included) does.
 * Background flushes run in other threads and are left out of both sides alike. */
static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void must(int rc, const char *what) {
  if (rc != 0) {
    fprintf(stderr, "bench_metrics: %s: %s: %s\n", what, quarry_err_name(rc), quarry_last_error());
    exit(1);
  }
}

static int key_of(char *buf, unsigned i) { return snprintf(buf, 32, "key%010u", i); }

static char value[100];

/* A chunk of gets; state carries the pseudo-random sequence. Returns seconds. */
static double chunk_gets(quarry_db *db, unsigned *state) {
  char key[32];
  unsigned i, x = *state;
  double t0 = now();
  for (i = 0; i < CHUNK; i++) {
    quarry_value *v;
    int n;
    x = x * 1103515245u + 12345u;
    n = key_of(key, (x >> 8) % N_KEYS);
    must(quarry_get(db, NULL, NULL, key, (size_t)n, &v), "get");
    if (v == NULL) {
      fprintf(stderr, "bench_metrics: key %s missing\n", key);
      exit(1);
    }
    quarry_value_free(v);
  }
  *state = x;
  return now() - t0;
}

/* A chunk of batch puts (CHUNK / BATCH commits). */
static double chunk_puts(quarry_db *db, quarry_batch *b, unsigned *next) {
  char key[32];
  unsigned i;
  double t0 = now();
  for (i = 0; i < CHUNK; i++) {
    int n = key_of(key, N_KEYS + (*next)++ % (4 * N_KEYS));
    must(quarry_batch_put(b, NULL, key, (size_t)n, value, sizeof value), "batch_put");
    if ((i + 1) % BATCH == 0) {
      must(quarry_db_write(db, b, NULL), "write");
      must(quarry_batch_clear(b), "clear");
    }
  }
  return now() - t0;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double quantile(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return v[(int)(q * (n - 1) + 0.5)];
}

static quarry_db *open_db_opts(const char *base, const char *name, int metrics, int statistics,
                               int fill) {
  char path[1024], key[32];
  quarry_options *o;
  quarry_db *db;
  unsigned i;
  snprintf(path, sizeof path, "%s/bench-metrics-%s", base, name);
  quarry_destroy(path);
  must(quarry_options_new(NULL, &o), "options");
  must(quarry_options_set_bool(o, "metrics", metrics), "options");
  must(quarry_options_set_bool(o, "statistics", statistics), "options");
  must(quarry_options_set_int(o, "write_buffer_mb", 512), "options"); /* keep it in memory */
  must(quarry_db_open(path, o, &db), "open");
  quarry_options_free(o);
  for (i = 0; fill && i < N_KEYS; i++) {
    int n = key_of(key, i);
    must(quarry_put(db, NULL, NULL, key, (size_t)n, value, sizeof value), "put");
  }
  if (fill > 1) /* the keys in table files (read through the block cache) */
    must(quarry_db_flush(db, NULL), "flush");
  return db;
}

static quarry_db *open_db(const char *base, const char *name, int metrics, int fill) {
  return open_db_opts(base, name, metrics, 0, fill);
}

static void close_db(quarry_db *db) {
  char path[1024];
  snprintf(path, sizeof path, "%s", quarry_db_path(db));
  must(quarry_db_close(db), "close");
  quarry_destroy(path);
}

/* Part 1 for one kind of work: pairs of chunks, off and on, alternating which runs first.
 * off == on: one database whose engine's switch (the open option metrics, fixed at open for
 * users) the benchmark flips between chunks, so both sides run on the very same memtable. */
static void measure(const char *what, int pairs, quarry_db *off, quarry_db *on, quarry_batch *boff,
                    quarry_batch *bon) {
  double *ratio = calloc((size_t)pairs, sizeof(double)), t[2], total[2] = {0, 0};
  unsigned state[2] = {1, 1}, next[2] = {0, 0};
  int p, k, flip = off == on, saved = off->m->on;
  for (p = 0; p < pairs; p++) {
    for (k = 0; k < 2; k++) {
      int which = k ^ (p & 1); /* 0: off, 1: on */
      quarry_db *db = which ? on : off;
      if (flip)
        db->m->on = which;
      t[which] = boff ? chunk_puts(db, which ? bon : boff, &next[flip ? 0 : which])
                      : chunk_gets(db, &state[flip ? 0 : which]);
      total[which] += t[which];
    }
    ratio[p] = t[1] / t[0];
  }
  if (flip)
    off->m->on = saved;
  printf("%-22s %9.0f ns %9.0f ns %+9.1f%%  [%+.1f%%, %+.1f%%]\n", what,
         total[0] / ((double)pairs * CHUNK) * 1e9, total[1] / ((double)pairs * CHUNK) * 1e9,
         (quantile(ratio, pairs, 0.5) - 1) * 100, (quantile(ratio, pairs, 0.25) - 1) * 100,
         (quantile(ratio, pairs, 0.75) - 1) * 100);
  free(ratio);
}

/* Part 2: the recording a get does, alone. */
static void recording_cost(void) {
  static q_metrics m; /* static: zeroed, aligned */
  const int n = 10000000;
  double t0, t1, t2;
  volatile uint64_t sink = 0;
  int i;
  m.on = 1;
  t0 = now();
  for (i = 0; i < n; i++) {
    uint64_t t = q_timer(&m);
    q_observe(&m, QUARRY_HISTOGRAM_GET, t);
    q_count2(&m, Q_C_KEYS_READ, 1, Q_C_READ_BYTES, 100);
  }
  t1 = now();
  m.on = 0;
  for (i = 0; i < n; i++) {
    uint64_t t = q_timer(&m);
    q_observe(&m, QUARRY_HISTOGRAM_GET, t);
    q_count2(&m, Q_C_KEYS_READ, 1, Q_C_READ_BYTES, 100);
    sink += t;
  }
  t2 = now();
  printf("%-22s %9.1f ns %9.1f ns   (the instructions a get adds, in a loop)\n",
         "recording alone", (t2 - t1) / n * 1e9, (t1 - t0) / n * 1e9);
  (void)sink;
}

int main(int argc, char **argv) {
  int millions = argc > 1 ? atoi(argv[1]) : 1, pairs;
  const char *base = argc > 2 ? argv[2] : getenv("QUARRY_TEST_TMP");
  quarry_db *off, *on;
  quarry_batch *boff;

  if (millions < 1)
    millions = 1;
  if (base == NULL || *base == '\0')
    base = "/tmp";
  pairs = millions * 1000000 / CHUNK;
  memset(value, 'v', sizeof value);
  printf("quarry %s, RocksDB %s: %d x 1M operations per side, in pairs of %d-operation chunks\n",
         quarry_version(), quarry_rocksdb_version(), millions, CHUNK);
  printf("%-22s %12s %12s %10s  %s\n", "per operation", "metrics off", "metrics on",
         "overhead", "[quartiles of the pairs]");

  off = open_db(base, "get", 1, 1);
  measure("get (memtable)", pairs, off, off, NULL, NULL);
  close_db(off);

  off = open_db(base, "put", 1, 0);
  must(quarry_batch_new(off, &boff), "batch");
  measure("batch put (per key)", pairs, off, off, boff, boff);
  quarry_batch_close(boff);
  close_db(off);

  /* the same with two databases, one opened metrics = false (as users switch it) */
  off = open_db(base, "get-off", 0, 1);
  on = open_db(base, "get-on", 1, 1);
  measure("get, 2 databases", pairs, off, on, NULL, NULL);
  close_db(off);
  close_db(on);

  recording_cost();

  /* 3. Why RocksDB statistics are off by default: gets from table files, statistics off / on
   *    (metrics on for both). */
  printf("%-22s %12s %12s %10s\n", "", "stats off", "stats on", "");
  off = open_db_opts(base, "sst-off", 1, 0, 2);
  on = open_db_opts(base, "sst-on", 1, 1, 2);
  measure("get (table files)", pairs, off, on, NULL, NULL);
  close_db(off);
  close_db(on);
  return 0;
}

/* test_metrics.c: counters and histogram counts equal the operations done (from one thread and
 * from four), latency buckets and quantiles, errors by code, the metrics/statistics options,
 * RocksDB figures per family, and the Prometheus text (names, namespace, labels, escaping). */
#include "check.h"
#include "../src/internal.h" /* q_bucket */

#include <math.h>
#include <pthread.h>

static double value(const quarry_metrics *m, quarry_metric id) {
  double v = -1;
  CHECK_OK(quarry_metrics_value(m, id, &v));
  return v;
}

static const quarry_histogram *hist(const quarry_metrics *m, quarry_histogram_id id) {
  const quarry_histogram *h = quarry_metrics_histogram(m, id);
  uint64_t sum = 0;
  size_t i;
  CHECK(h != NULL);
  for (i = 0; i < QUARRY_HISTOGRAM_BUCKETS; i++)
    sum += h->buckets[i];
  CHECK_EQ_INT(sum, h->count);
  CHECK(h->count == 0 || h->sum > 0);
  return h;
}

TEST(bucket_bounds) {
  size_t i;
  /* (bound(i-1), bound(i)] in nanoseconds: 1 us, 2 us, 4 us, ... */
  CHECK_EQ_INT(q_bucket(0), 0);
  CHECK_EQ_INT(q_bucket(1000), 0);
  CHECK_EQ_INT(q_bucket(1001), 1);
  CHECK_EQ_INT(q_bucket(2000), 1);
  CHECK_EQ_INT(q_bucket(2001), 2);
  CHECK_EQ_INT(q_bucket(4000), 2);
  CHECK_EQ_INT(q_bucket(4001), 3);
  CHECK_EQ_INT(q_bucket(1000000), 10);               /* 1 ms <= 1.024 ms */
  CHECK_EQ_INT(q_bucket(67108864000ull), 26);        /* 2^26 us */
  CHECK_EQ_INT(q_bucket(67108864001ull), 27);        /* +Inf */
  CHECK_EQ_INT(q_bucket(UINT64_MAX - 1000), 27);
  CHECK(fabs(quarry_histogram_bound(0) - 1e-6) < 1e-18);
  CHECK(fabs(quarry_histogram_bound(10) - 1.024e-3) < 1e-15);
  CHECK(isinf(quarry_histogram_bound(QUARRY_HISTOGRAM_BUCKETS - 1)));
  CHECK(quarry_histogram_bound(QUARRY_HISTOGRAM_BUCKETS) < 0);
  for (i = 1; i + 1 < QUARRY_HISTOGRAM_BUCKETS; i++)
    CHECK(quarry_histogram_bound(i) == 2 * quarry_histogram_bound(i - 1));
}

TEST(quantiles) {
  quarry_histogram h;
  memset(&h, 0, sizeof h);
  CHECK(quarry_histogram_quantile(&h, 0.5) == 0);
  CHECK(quarry_histogram_quantile(NULL, 0.5) == 0);
  /* 100 observations in (2 us, 4 us]: the median interpolates to 3 us */
  h.buckets[2] = 100;
  h.count = 100;
  CHECK(fabs(quarry_histogram_quantile(&h, 0.5) - 3e-6) < 1e-12);
  CHECK(fabs(quarry_histogram_quantile(&h, 1.0) - 4e-6) < 1e-12);
  /* 1 slow one in +Inf: p999 of 101 lands there and reports the largest finite bound */
  h.buckets[QUARRY_HISTOGRAM_BUCKETS - 1] = 1;
  h.count = 101;
  CHECK(quarry_histogram_quantile(&h, 0.999) == quarry_histogram_bound(QUARRY_HISTOGRAM_BUCKETS - 2));
  CHECK(quarry_histogram_quantile(&h, 0.5) < quarry_histogram_quantile(&h, 0.99));
  /* everything in bucket 0: interpolates from 0 */
  memset(&h, 0, sizeof h);
  h.buckets[0] = 10;
  h.count = 10;
  CHECK(fabs(quarry_histogram_quantile(&h, 0.5) - 0.5e-6) < 1e-12);
}

#define N_THREADS 4
#define N_PER_THREAD 5000
static quarry_db *shared_db;

static void *reader(void *arg) {
  int i;
  char key[32];
  (void)arg;
  for (i = 0; i < N_PER_THREAD; i++) {
    quarry_value *v;
    snprintf(key, sizeof key, "k%03d", i % 100);
    CHECK_OK(quarry_get(shared_db, NULL, NULL, key, strlen(key), &v));
    quarry_value_free(v);
  }
  return NULL;
}

/* The figures run_workload leaves for the checks. */
typedef struct {
  size_t written_bytes, read_bytes, steps_in_walk;
} workload;

/* A fresh db with the family "items"; *o stays for reopening (the case frees it). */
static quarry_db *open_items(const char *path, quarry_options **o, quarry_cf **items) {
  quarry_db *db;
  CHECK_OK(quarry_options_new(NULL, o));
  CHECK_OK(quarry_options_add_column_family(*o, "items"));
  CHECK_OK(quarry_db_open(path, *o, &db));
  CHECK_OK(quarry_db_cf(db, "items", items));
  return db;
}

/* The operations whose counts the cases check: 100 puts (10 synced), 30 deletes, 2 range
 * deletions, 7 batches of 5, 200 gets, 3 multi_gets, an iterator's seeks and steps, 3 errors. */
static void run_workload(quarry_db *db, quarry_cf *items, workload *w) {
  quarry_batch *b;
  quarry_iter *it;
  quarry_write_options sync = QUARRY_WRITE_OPTIONS_INIT;
  char key[32], val[64];
  size_t i, written_bytes = 0, read_bytes = 0;
  int rc;

  /* 100 puts (10 of them synced), 30 deletes, 2 range deletions */
  for (i = 0; i < 100; i++) {
    snprintf(key, sizeof key, "k%03zu", i);
    snprintf(val, sizeof val, "value-%zu", i);
    sync.sync = i < 10;
    CHECK_OK(quarry_put(db, NULL, &sync, key, strlen(key), val, strlen(val)));
    written_bytes += strlen(key) + strlen(val);
  }
  for (i = 0; i < 30; i++) {
    snprintf(key, sizeof key, "gone%02zu", i);
    CHECK_OK(quarry_delete(db, NULL, NULL, key, strlen(key)));
    written_bytes += strlen(key);
  }
  CHECK_OK(quarry_delete_range(db, items, NULL, "a", 1, "b", 1));
  CHECK_OK(quarry_delete_range(db, items, NULL, "x", 1, "zz", 2));
  written_bytes += 2 + 3;
  /* 7 batches of 5 entries across both families */
  CHECK_OK(quarry_batch_new(db, &b));
  for (i = 0; i < 7; i++) {
    size_t j, bytes;
    CHECK_OK(quarry_batch_clear(b));
    for (j = 0; j < 5; j++) {
      snprintf(key, sizeof key, "b%zu-%zu", i, j);
      CHECK_OK(quarry_batch_put(b, j % 2 ? items : NULL, key, strlen(key), "v", 1));
    }
    CHECK_OK(quarry_batch_data_size(b, &bytes));
    written_bytes += bytes;
    CHECK_OK(quarry_db_write(db, b, NULL));
  }
  quarry_batch_close(b);
  /* 200 gets: 150 hits, 50 misses */
  for (i = 0; i < 200; i++) {
    quarry_value *v;
    snprintf(key, sizeof key, i < 150 ? "k%03zu" : "missing%03zu", i % 100);
    CHECK_OK(quarry_get(db, NULL, NULL, key, strlen(key), &v));
    CHECK((v != NULL) == (i < 150));
    if (v) {
      size_t len;
      quarry_value_data(v, &len);
      read_bytes += len;
    }
    quarry_value_free(v);
  }
  /* 3 multi_gets of 4 keys, 2 found each */
  for (i = 0; i < 3; i++) {
    const char *keys[4] = {"k001", "nope1", "k002", "nope2"};
    size_t klens[4] = {4, 5, 4, 5}, j;
    quarry_value *vals[4];
    CHECK_OK(quarry_multi_get(db, NULL, NULL, 4, keys, klens, vals));
    for (j = 0; j < 4; j++) {
      if (vals[j]) {
        size_t len;
        quarry_value_data(vals[j], &len);
        read_bytes += len;
      }
      quarry_value_free(vals[j]);
    }
  }
  /* an iterator: 4 seeks, 9 explicit steps; then a walk of the whole family (1 seek + steps) */
  {
    quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
    const char *k, *v;
    size_t kl, vl, walked = 0, steps_in_walk = 0;
    CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
    CHECK_OK(quarry_iter_first(it));
    CHECK_OK(quarry_iter_last(it));
    CHECK_OK(quarry_iter_seek(it, "k050", 4));
    CHECK_OK(quarry_iter_seek_for_prev(it, "k050", 4));
    for (i = 0; i < 9; i++)
      CHECK_OK(quarry_iter_next(it));
    quarry_iter_close(it);
    io.from = "k";
    io.from_len = 1;
    io.to = "l";
    io.to_len = 1;
    CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
    while ((rc = quarry_iter_step(it, &k, &kl, &v, &vl)) == 1) {
      walked++;
      read_bytes += kl + vl;
    }
    CHECK_EQ_INT(rc, 0);
    steps_in_walk = walked; /* first step seeks; each later one steps, plus the last that ends */
    CHECK_EQ_INT(walked, 100);
    quarry_iter_close(it);

    /* errors: a key too large (InvalidArgument) twice, a step on an unpositioned iterator */
    {
      char *big = calloc(1, QUARRY_MAX_KEY_SIZE + 1);
      CHECK(big != NULL);
      CHECK_ERR(quarry_put(db, NULL, NULL, big, QUARRY_MAX_KEY_SIZE + 1, "v", 1), QUARRY_EINVAL);
      CHECK_ERR(quarry_get(db, NULL, NULL, big, QUARRY_MAX_KEY_SIZE + 1, &(quarry_value *){NULL}),
                QUARRY_EINVAL);
      free(big);
      CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
      CHECK_ERR(quarry_iter_next(it), QUARRY_EINVAL);
      quarry_iter_close(it);
    }
    w->steps_in_walk = steps_in_walk;
  }
  w->written_bytes = written_bytes;
  w->read_bytes = read_bytes;
}

/* A db after the workload, flushed and closed, for the cases that reopen it. */
static void make_db(const char *path, quarry_options **o) {
  quarry_cf *items;
  workload w;
  quarry_db *db = open_items(path, o, &items);
  run_workload(db, items, &w);
  CHECK_OK(quarry_db_flush(db, NULL));
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
}

TEST(fresh_engine) {
  const char *dir = check_tmpdir(0, "metrics");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_cf *items;
  quarry_db *db = open_items(path, &o, &items);
  quarry_metrics *m;

  /* a fresh engine: everything zero */
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK_EQ_INT(quarry_metrics_flags(m), 1);
  CHECK(value(m, QUARRY_METRIC_GETS) == 0);
  CHECK(value(m, QUARRY_METRIC_HANDLES) == 1);
  CHECK_EQ_INT(quarry_metrics_cf_count(m), 2);
  CHECK_STR(quarry_metrics_cf_name(m, 0), "default");
  CHECK_STR(quarry_metrics_cf_name(m, 1), "items");
  CHECK_ERR(quarry_metrics_value(m, QUARRY_METRIC_BLOCK_CACHE_HITS, NULL), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "statistics");
  quarry_metrics_free(m);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  quarry_options_free(o);
  check_rmrf(dir);
}

TEST(counters_and_histograms) {
  const char *dir = check_tmpdir(0, "metrics");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_cf *items;
  quarry_db *db = open_items(path, &o, &items);
  quarry_metrics *m;
  workload w;

  run_workload(db, items, &w);
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK(value(m, QUARRY_METRIC_PUTS) == 100);
  CHECK(value(m, QUARRY_METRIC_DELETES) == 30);
  CHECK(value(m, QUARRY_METRIC_DELETE_RANGES) == 2);
  CHECK(value(m, QUARRY_METRIC_WRITE_BATCHES) == 7);
  CHECK(value(m, QUARRY_METRIC_KEYS_WRITTEN) == 100 + 30 + 2 + 35);
  CHECK(value(m, QUARRY_METRIC_WRITTEN_BYTES) == (double)w.written_bytes);
  CHECK(value(m, QUARRY_METRIC_WAL_SYNCED) == 10);
  CHECK(value(m, QUARRY_METRIC_GETS) == 200); /* the refused one (key too large) is not a get */
  CHECK(value(m, QUARRY_METRIC_MULTI_GETS) == 3);
  CHECK(value(m, QUARRY_METRIC_MULTI_GET_KEYS) == 12);
  CHECK(value(m, QUARRY_METRIC_KEYS_READ) == 150 + 6 + 100);
  CHECK(value(m, QUARRY_METRIC_READ_BYTES) == (double)w.read_bytes);
  CHECK(value(m, QUARRY_METRIC_ITERATOR_SEEKS) == 4 + 1);
  CHECK(value(m, QUARRY_METRIC_ITERATOR_STEPS) == 9 + (double)w.steps_in_walk);
  CHECK(value(m, QUARRY_METRIC_ERRORS) == 3);
  CHECK_EQ_INT(quarry_metrics_errors(m, QUARRY_EINVAL), 3);
  CHECK_EQ_INT(quarry_metrics_errors(m, QUARRY_EIO), 0);
  CHECK_EQ_INT(hist(m, QUARRY_HISTOGRAM_GET)->count, 200);
  CHECK_EQ_INT(hist(m, QUARRY_HISTOGRAM_PUT)->count, 100);
  CHECK_EQ_INT(hist(m, QUARRY_HISTOGRAM_WRITE_BATCH)->count, 7);
  CHECK_EQ_INT(hist(m, QUARRY_HISTOGRAM_MULTI_GET)->count, 3);
  CHECK_EQ_INT(hist(m, QUARRY_HISTOGRAM_ITERATOR_SEEK)->count, 5);
  {
    const quarry_histogram *h = hist(m, QUARRY_HISTOGRAM_GET);
    double p50 = quarry_histogram_quantile(h, 0.5), p99 = quarry_histogram_quantile(h, 0.99),
           p999 = quarry_histogram_quantile(h, 0.999);
    CHECK(p50 > 0 && p50 <= p99 && p99 <= p999);
    CHECK(p999 < 1.0); /* memtable reads */
  }
  quarry_metrics_free(m);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  quarry_options_free(o);
  check_rmrf(dir);
}

TEST(rocksdb_figures_and_prometheus) {
  const char *dir = check_tmpdir(0, "metrics");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_cf *items;
  quarry_db *db = open_items(path, &o, &items);
  quarry_metrics *m;
  workload w;
  char *text;

  run_workload(db, items, &w);
  /* RocksDB figures: after a flush the families have table files and key estimates */
  CHECK_OK(quarry_db_flush(db, NULL));
  CHECK_OK(quarry_db_metrics(db, &m));
  {
    double keys = -1, sst = -1, total = 0, v;
    CHECK_OK(quarry_metrics_cf_value(m, 0, QUARRY_CF_METRIC_ESTIMATE_KEYS, &keys));
    CHECK(keys > 50); /* an estimate: RocksDB subtracts each tombstone twice */
    CHECK_OK(quarry_metrics_cf_value(m, 0, QUARRY_CF_METRIC_LIVE_SST_BYTES, &sst));
    CHECK(sst > 0);
    CHECK_OK(quarry_metrics_cf_value(m, 1, QUARRY_CF_METRIC_LIVE_SST_BYTES, &v));
    total = sst + v;
    CHECK(value(m, QUARRY_METRIC_LIVE_SST_BYTES) == total);
    CHECK_OK(quarry_metrics_cf_value(m, 0, QUARRY_CF_METRIC_L0_FILES, &v));
    CHECK(v >= 1);
    CHECK(value(m, QUARRY_METRIC_SIZE_BYTES) >= total);
    CHECK(value(m, QUARRY_METRIC_BLOCK_CACHE_CAPACITY_BYTES) == 256.0 * 1024 * 1024);
    CHECK(value(m, QUARRY_METRIC_COMPACTION_JOBS) >= 0);
    CHECK(value(m, QUARRY_METRIC_WRITE_STOPPED) == 0);
    CHECK(value(m, QUARRY_METRIC_FAILED) == 0);
    CHECK(value(m, QUARRY_METRIC_UPTIME_SECONDS) > 0);
    CHECK_ERR(quarry_metrics_cf_value(m, 9, QUARRY_CF_METRIC_L0_FILES, &v), QUARRY_EINVAL);
  }

  /* Prometheus text */
  CHECK_OK(quarry_metrics_prometheus(m, NULL, NULL, &text));
  CHECK_CONTAINS(text, "# HELP quarry_size_bytes ");
  CHECK_CONTAINS(text, "# TYPE quarry_size_bytes gauge\nquarry_size_bytes ");
  CHECK_CONTAINS(text, "# TYPE quarry_wal_synced_total counter\nquarry_wal_synced_total 10\n");
  CHECK_CONTAINS(text, "quarry_errors_total{code=\"InvalidArgument\"} 3\n");
  /* every code from the start, 0 until it happens; "Unknown" (two codes) once */
  CHECK_CONTAINS(text, "quarry_errors_total{code=\"Corruption\"} 0\n");
  CHECK_CONTAINS(text, "quarry_errors_total{code=\"NoSpace\"} 0\n");
  CHECK_CONTAINS(text, "quarry_errors_total{code=\"Unknown\"} 0\n");
  CHECK(strstr(strstr(text, "code=\"Unknown\"") + 5, "code=\"Unknown\"") == NULL);
  {
    char expect[160];
    snprintf(expect, sizeof expect,
             "# TYPE quarry_build_info gauge\nquarry_build_info{version=\"%s\",rocksdb_version=\"%s\"} 1\n",
             quarry_version(), quarry_rocksdb_version());
    CHECK_CONTAINS(text, expect);
  }
  CHECK_CONTAINS(text, "quarry_estimate_keys{cf=\"items\"} ");
  CHECK_CONTAINS(text, "# TYPE quarry_get_seconds histogram\n");
  CHECK_CONTAINS(text, "quarry_get_seconds_bucket{le=\"1e-06\"} ");
  CHECK_CONTAINS(text, "quarry_get_seconds_bucket{le=\"+Inf\"} 200\n");
  CHECK_CONTAINS(text, "quarry_get_seconds_count 200\n");
  CHECK_CONTAINS(text, "quarry_write_batch_seconds_count 7\n");
  CHECK(strstr(text, "quarry_gets_total") == NULL); /* the histogram's _count says it */
  CHECK(strstr(text, "block_cache_hits") == NULL);  /* statistics are off */
  free(text);
  {
    const char *labels[] = {"chain", "main", "node", "a\"b\\c\nd", NULL};
    CHECK_OK(quarry_metrics_prometheus(m, "node_db", labels, &text));
    CHECK_CONTAINS(text, "\nnode_db_size_bytes{chain=\"main\",node=\"a\\\"b\\\\c\\nd\"} ");
    CHECK_CONTAINS(text, "\nnode_db_write_batch_seconds_bucket{chain=\"main\",node=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 7\n");
    CHECK_CONTAINS(text, "\nnode_db_compaction_jobs{");
    CHECK_CONTAINS(text, "\nnode_db_wal_synced_total{");
    CHECK_CONTAINS(text, "\nnode_db_live_sst_bytes{chain=\"main\",node=\"a\\\"b\\\\c\\nd\",cf=\"default\"} ");
    CHECK(strstr(text, "quarry_") == NULL);
    CHECK_CONTAINS(text, "\nnode_db_build_info{chain=\"main\",node=\"a\\\"b\\\\c\\nd\",version=\"");
    free(text);
  }
  {
    const char *build[] = {"lua_version", "5.4.6", NULL}, *clash[] = {"chain", "x", NULL},
               *labels[] = {"chain", "main", NULL}, *version[] = {"version", "1", NULL};
    CHECK_OK(quarry_metrics_prometheus_ex(m, NULL, labels, build, &text));
    CHECK_CONTAINS(text, "\",lua_version=\"5.4.6\"} 1\n");
    free(text);
    CHECK_ERR(quarry_metrics_prometheus_ex(m, NULL, labels, clash, &text), QUARRY_EINVAL);
    CHECK_ERR(quarry_metrics_prometheus_ex(m, NULL, NULL, version, &text), QUARRY_EINVAL);
    CHECK_ERR(quarry_metrics_prometheus(m, NULL, version, &text), QUARRY_EINVAL);
  }
  CHECK_OK(quarry_metrics_prometheus(m, "", NULL, &text));
  CHECK(strncmp(text, "# HELP build_info ", 17) == 0);
  CHECK_CONTAINS(text, "\n# HELP multi_get_keys_total ");
  free(text);
  CHECK_ERR(quarry_metrics_prometheus(m, "9bad", NULL, &text), QUARRY_EINVAL);
  CHECK_ERR(quarry_metrics_prometheus(m, "bad-name", NULL, &text), QUARRY_EINVAL);
  {
    const char *le[] = {"le", "1", NULL}, *dunder[] = {"__x", "1", NULL},
               *twice[] = {"a", "1", "a", "2", NULL}, *nov[] = {"a", NULL},
               *badname[] = {"a-b", "1", NULL};
    CHECK_ERR(quarry_metrics_prometheus(m, NULL, le, &text), QUARRY_EINVAL);
    CHECK_ERR(quarry_metrics_prometheus(m, NULL, dunder, &text), QUARRY_EINVAL);
    CHECK_ERR(quarry_metrics_prometheus(m, NULL, twice, &text), QUARRY_EINVAL);
    CHECK_ERR(quarry_metrics_prometheus(m, NULL, nov, &text), QUARRY_EINVAL);
    CHECK_ERR(quarry_metrics_prometheus(m, NULL, badname, &text), QUARRY_EINVAL);
    CHECK(text == NULL);
  }
  quarry_metrics_free(m);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  quarry_options_free(o);
  check_rmrf(dir);
}

TEST(four_threads) {
  const char *dir = check_tmpdir(0, "metrics");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_cf *items;
  quarry_db *db = open_items(path, &o, &items);
  quarry_metrics *m;
  workload w;
  pthread_t th[N_THREADS];
  size_t i;

  run_workload(db, items, &w);
  /* four threads: no count is lost across the stripes */
  shared_db = db;
  for (i = 0; i < N_THREADS; i++)
    CHECK_EQ_INT(pthread_create(&th[i], NULL, reader, NULL), 0);
  for (i = 0; i < N_THREADS; i++)
    CHECK_EQ_INT(pthread_join(th[i], NULL), 0);
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK(value(m, QUARRY_METRIC_GETS) == 200 + N_THREADS * N_PER_THREAD);
  CHECK_EQ_INT(hist(m, QUARRY_HISTOGRAM_GET)->count, 200 + N_THREADS * N_PER_THREAD);
  CHECK(value(m, QUARRY_METRIC_KEYS_READ) == 256 + N_THREADS * N_PER_THREAD);
  quarry_metrics_free(m);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  CHECK_ERR(quarry_db_metrics(NULL, &m), QUARRY_ECLOSED);
  quarry_options_free(o);
  check_rmrf(dir);
}

TEST(metrics_off) {
  const char *dir = check_tmpdir(0, "metrics");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  quarry_metrics *m;

  make_db(path, &o);
  /* metrics = false: nothing is recorded, RocksDB figures are still there */
  CHECK_OK(quarry_options_set_bool(o, "metrics", 0));
  CHECK_OK(quarry_db_open(path, o, &db));
  PUT(db, NULL, "x", "1");
  CHECK_GET(db, NULL, "x", "1");
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK_EQ_INT(quarry_metrics_flags(m), 0);
  CHECK(value(m, QUARRY_METRIC_PUTS) == 0);
  CHECK(value(m, QUARRY_METRIC_GETS) == 0);
  CHECK(value(m, QUARRY_METRIC_SIZE_BYTES) > 0);
  quarry_metrics_free(m);
  CHECK_OK(quarry_db_close(db));
  quarry_options_free(o);
  check_rmrf(dir);
}

TEST(statistics_on) {
  const char *dir = check_tmpdir(0, "metrics");
  const char *path = check_path(0, dir, "db");
  quarry_options *o;
  quarry_db *db;
  quarry_metrics *m;
  char key[32], *text;
  size_t i;

  make_db(path, &o);
  /* statistics = true: block cache hits and misses */
  CHECK_OK(quarry_options_set_bool(o, "metrics", 1));
  CHECK_OK(quarry_options_set_bool(o, "statistics", 1));
  CHECK_OK(quarry_db_open(path, o, &db));
  for (i = 0; i < 50; i++) {
    quarry_value *v;
    snprintf(key, sizeof key, "k%03zu", i);
    CHECK_OK(quarry_get(db, NULL, NULL, key, strlen(key), &v));
    CHECK(v != NULL);
    quarry_value_free(v);
  }
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK_EQ_INT(quarry_metrics_flags(m), 3);
  CHECK(value(m, QUARRY_METRIC_BLOCK_CACHE_HITS) + value(m, QUARRY_METRIC_BLOCK_CACHE_MISSES) > 0);
  CHECK(value(m, QUARRY_METRIC_WRITE_STALL_SECONDS) >= 0);
  CHECK_OK(quarry_metrics_prometheus(m, NULL, NULL, &text));
  CHECK_CONTAINS(text, "# TYPE quarry_block_cache_hits_total counter\n");
  CHECK_CONTAINS(text, "# TYPE quarry_write_stall_seconds_total counter\n");
  free(text);
  quarry_metrics_free(m);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  quarry_options_free(o);
  check_rmrf(dir);
}

/* test_shared.c: one engine per path and process: a second read_write (or read_only) open gets a
 * handle onto the same RocksDB instance; families, writes and metrics are shared, children are
 * per handle, the engine closes with its last handle, destroy waits for every handle, read_only
 * and secondary instances of their own; four threads on two handles lose no write. */
#include "check.h"

#include <pthread.h>

#define N_THREADS 4
#define N_PUTS 5000

static quarry_db *handles[2];

static void *writer(void *arg) {
  int id = (int)(intptr_t)arg, i;
  quarry_db *db = handles[id % 2];
  char key[32], val[32];
  for (i = 0; i < N_PUTS; i++) {
    snprintf(key, sizeof key, "t%d-%06d", id, i);
    snprintf(val, sizeof val, "%d", i);
    if (i % 10 == 0) { /* some batches too, through the same handle */
      quarry_batch *b;
      CHECK_OK(quarry_batch_new(db, &b));
      CHECK_OK(quarry_batch_put(b, NULL, key, strlen(key), val, strlen(val)));
      CHECK_OK(quarry_db_write(db, b, NULL));
      quarry_batch_close(b);
    } else {
      CHECK_OK(quarry_put(db, NULL, NULL, key, strlen(key), val, strlen(val)));
    }
  }
  return NULL;
}

static double metric(quarry_db *db, quarry_metric id) {
  quarry_metrics *m;
  double v = -1;
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK_OK(quarry_metrics_value(m, id, &v));
  quarry_metrics_free(m);
  return v;
}

static size_t count_prefix(quarry_db *db, const char *prefix) {
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  quarry_iter *it;
  const char *k, *v;
  size_t kl, vl, n = 0;
  io.prefix = prefix;
  io.prefix_len = strlen(prefix);
  CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
  while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1)
    n++;
  quarry_iter_close(it);
  return n;
}

TEST(second_open_shares_the_engine) {
  const char *dir = check_tmpdir(0, "shared");
  const char *path = check_path(0, dir, "db");
  const char *other_spelling = check_path(1, dir, "./db/");
  const char *sec = check_path(2, dir, "secondary");
  quarry_db *a, *b, *ro, *sdb;
  quarry_cf *ca, *cb;
  quarry_options *o;
  quarry_iter *it;
  quarry_snapshot *snap;
  quarry_batch *batch;
  char **names;

  /* a second read_write open (another spelling of the path) shares the engine */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "blocks"));
  CHECK_OK(quarry_db_open(path, o, &a));
  quarry_options_free(o);
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_int(o, "write_buffer_mb", 7)); /* ignored: the engine's tuning */
  CHECK_OK(quarry_options_set_bool(o, "sync", 1));           /* per handle */
  CHECK_OK(quarry_options_add_column_family(o, "meta"));     /* created in the shared engine */
  CHECK_OK(quarry_db_open(other_spelling, o, &b));
  quarry_options_free(o);
  CHECK(a != b);
  CHECK_STR(quarry_db_path(b), other_spelling);
  CHECK_STR(quarry_db_mode(b), "read_write");
  {
    int64_t n;
    CHECK_OK(quarry_options_get(quarry_db_options(b), "write_buffer_mb", &n, NULL));
    CHECK_EQ_INT(n, 128);
    CHECK_OK(quarry_options_get(quarry_db_options(b), "sync", &n, NULL));
    CHECK_EQ_INT(n, 1);
    CHECK_OK(quarry_options_get(quarry_db_options(a), "sync", &n, NULL));
    CHECK_EQ_INT(n, 0);
  }
  CHECK(metric(a, QUARRY_METRIC_HANDLES) == 2);

  /* writes through one are read through the other; families are shared */
  PUT(a, NULL, "k", "from a");
  CHECK_GET(b, NULL, "k", "from a");
  CHECK_OK(quarry_db_cf(a, "meta", &ca)); /* created by b's open */
  CHECK_OK(quarry_db_cf(b, "blocks", &cb));
  PUT(b, cb, "h1", "block 1");
  CHECK_OK(quarry_db_cf(a, "blocks", &ca));
  CHECK_GET(a, ca, "h1", "block 1");
  CHECK(ca != cb); /* each handle has its own view of a family ... */
  CHECK(quarry_cf_db(ca) == a && quarry_cf_db(cb) == b);
  CHECK_ERR(quarry_put(a, cb, NULL, "x", 1, "y", 1), QUARRY_EINVAL); /* ... used through it */
  CHECK_CONTAINS(quarry_last_error(), "belongs to another database");
  CHECK_OK(quarry_db_create_cf(b, "later", &cb));
  CHECK_OK(quarry_db_cf(a, "later", &ca));
  PUT(a, ca, "l", "1");
  CHECK_GET(b, cb, "l", "1");
  CHECK_OK(quarry_db_cf_names(a, &names));
  CHECK_EQ_INT(check_count_names(names), 4);
  CHECK(check_has_name(names, "meta") && check_has_name(names, "later"));
  quarry_free_names(names);
  CHECK_OK(quarry_db_drop_cf(a, "later"));
  CHECK_ERR(quarry_put(b, cb, NULL, "x", 1, "y", 1), QUARRY_ENOTFOUND); /* dropped via a */
  CHECK_ERR(quarry_db_cf(b, "later", &cb), QUARRY_ENOTFOUND);
  CHECK_ERR(quarry_db_create_cf(b, "blocks", &cb), QUARRY_EINVAL);

  /* metrics are per engine: both handles' operations are in one snapshot */
  CHECK(metric(b, QUARRY_METRIC_PUTS) == 3);
  CHECK(metric(b, QUARRY_METRIC_GETS) == 3);

  /* children are per handle: closing b leaves a's iterator, snapshot and batch alive */
  CHECK_OK(quarry_iter_new(a, NULL, NULL, &it));
  CHECK_OK(quarry_iter_first(it));
  CHECK_OK(quarry_snapshot_new(a, &snap));
  CHECK_OK(quarry_batch_new(a, &batch));
  CHECK_EQ_INT(quarry_db_live_iterators(b), 0);
  CHECK_ERR(quarry_db_write(b, batch, NULL), QUARRY_EINVAL); /* a's batch */
  CHECK_ERR(quarry_destroy(path), QUARRY_EBUSY);
  CHECK_NO_CHILDREN(b);
  CHECK_OK(quarry_db_close(b));
  CHECK_ERR(quarry_destroy(path), QUARRY_EBUSY); /* a is still open */
  CHECK(quarry_iter_valid(it));
  CHECK_OK(quarry_iter_next(it));
  CHECK_EQ_INT(quarry_db_live_iterators(a), 1);
  CHECK(metric(a, QUARRY_METRIC_HANDLES) == 1);
  PUT(a, NULL, "after b", "1");
  quarry_iter_close(it);
  quarry_snapshot_close(snap);
  quarry_batch_close(batch);

  /* read_only while open read_write here: a handle on the same engine that sees new writes */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "read_only"));
  CHECK_OK(quarry_db_open(path, o, &ro));
  CHECK_STR(quarry_db_mode(ro), "read_only");
  PUT(a, NULL, "newer", "seen");
  CHECK_GET(ro, NULL, "newer", "seen");
  CHECK_ERR(quarry_put(ro, NULL, NULL, "x", 1, "y", 1), QUARRY_ENOTSUPPORTED);
  CHECK_ERR(quarry_db_create_cf(ro, "x", &cb), QUARRY_ENOTSUPPORTED);
  CHECK(metric(ro, QUARRY_METRIC_HANDLES) == 2);
  CHECK_OK(quarry_options_add_column_family(o, "nosuch"));
  CHECK_ERR(quarry_db_open(path, o, &b), QUARRY_ENOTFOUND); /* read_only never creates one */
  quarry_options_free(o);
  /* a secondary gets its own instance */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "secondary"));
  CHECK_OK(quarry_options_set_string(o, "secondary_path", sec));
  CHECK_OK(quarry_db_open(path, o, &sdb));
  quarry_options_free(o);
  CHECK(metric(sdb, QUARRY_METRIC_HANDLES) == 1);
  CHECK_GET(sdb, NULL, "k", "from a");
  CHECK_OK(quarry_db_close(sdb));
  /* the first opener closes first: the read_only handle keeps the engine */
  CHECK_OK(quarry_db_close(a));
  CHECK_GET(ro, NULL, "after b", "1");
  CHECK_ERR(quarry_destroy(path), QUARRY_EBUSY);
  CHECK_OK(quarry_db_close(ro));
  /* the engine is closed: RocksDB's LOCK is free (another process could open it now) */

  check_rmrf(dir);
}

TEST(read_only_first_gets_its_own_instance) {
  const char *dir = check_tmpdir(0, "shared");
  const char *path = check_path(0, dir, "db");
  quarry_db *a, *ro;
  quarry_options *o;

  CHECK_OK(quarry_db_open(path, NULL, &a)); /* a database to open read_only */
  CHECK_OK(quarry_db_close(a));
  /* read_only first: an instance of its own, as from another process; a writer opened next
   * gets another instance, and the read_only one keeps the view of its open */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "read_only"));
  CHECK_OK(quarry_db_open(path, o, &ro));
  quarry_options_free(o);
  CHECK(metric(ro, QUARRY_METRIC_HANDLES) == 1);
  CHECK_OK(quarry_db_open(path, NULL, &a));
  CHECK(metric(a, QUARRY_METRIC_HANDLES) == 1);
  PUT(a, NULL, "only for a", "1");
  CHECK_GET(ro, NULL, "only for a", NULL);
  CHECK_OK(quarry_db_close(a));
  CHECK_OK(quarry_db_close(ro));

  check_rmrf(dir);
}

TEST(four_threads_on_two_handles) {
  const char *dir = check_tmpdir(0, "shared");
  const char *path = check_path(0, dir, "db");
  quarry_db *a;
  int i;

  CHECK_OK(quarry_db_open(path, NULL, &a)); /* a write made before, durable after */
  PUT(a, NULL, "newer", "seen");
  CHECK_OK(quarry_db_close(a));
  /* four threads, two per handle, lose no write */
  CHECK_OK(quarry_db_open(path, NULL, &handles[0]));
  CHECK_OK(quarry_db_open(path, NULL, &handles[1]));
  {
    pthread_t th[N_THREADS];
    double puts0 = metric(handles[0], QUARRY_METRIC_PUTS);
    for (i = 0; i < N_THREADS; i++)
      CHECK_EQ_INT(pthread_create(&th[i], NULL, writer, (void *)(intptr_t)i), 0);
    for (i = 0; i < N_THREADS; i++)
      CHECK_EQ_INT(pthread_join(th[i], NULL), 0);
    for (i = 0; i < N_THREADS; i++) {
      char prefix[16];
      snprintf(prefix, sizeof prefix, "t%d-", i);
      CHECK_EQ_INT(count_prefix(handles[i % 2], prefix), N_PUTS);
      CHECK_EQ_INT(count_prefix(handles[(i + 1) % 2], prefix), N_PUTS);
    }
    CHECK(metric(handles[1], QUARRY_METRIC_PUTS) - puts0 == N_THREADS * (N_PUTS - N_PUTS / 10));
    CHECK(metric(handles[1], QUARRY_METRIC_WRITE_BATCHES) == N_THREADS * (N_PUTS / 10));
  }
  CHECK_NO_CHILDREN(handles[0]);
  CHECK_NO_CHILDREN(handles[1]);
  CHECK_OK(quarry_db_close(handles[1]));
  CHECK_OK(quarry_db_close(handles[0]));

  /* closed everywhere: everything is durable, destroy works */
  CHECK_OK(quarry_db_open(path, NULL, &a));
  CHECK_EQ_INT(count_prefix(a, "t"), N_THREADS * N_PUTS);
  CHECK_GET(a, NULL, "newer", "seen");
  CHECK_OK(quarry_db_close(a));
  CHECK_OK(quarry_destroy(path));
  check_rmrf(dir);
}

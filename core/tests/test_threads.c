/* test_threads.c: one db used from several threads at once: writers, readers, iterators,
 * snapshots and batches, while another thread creates and drops families. */
#include "check.h"

#include <pthread.h>

#define N_WORKERS 4
#define N_OPS 2000

static quarry_db *db;

static void *worker(void *arg) {
  int id = (int)(intptr_t)arg, i, n;
  char key[32], val[32];
  for (i = 0; i < N_OPS; i++) {
    snprintf(key, sizeof key, "w%d-%06d", id, i);
    snprintf(val, sizeof val, "%d", i);
    CHECK_OK(quarry_put(db, NULL, NULL, key, strlen(key), val, strlen(val)));
    CHECK_GET(db, NULL, key, val);
    if (i % 100 == 0) {
      quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
      quarry_iter *it;
      quarry_snapshot *s;
      quarry_batch *b;
      const char *k, *v;
      size_t kl, vl;
      char prefix[8];
      snprintf(prefix, sizeof prefix, "w%d-", id);
      CHECK_OK(quarry_snapshot_new(db, &s));
      io.prefix = prefix;
      io.prefix_len = strlen(prefix);
      io.snapshot = s;
      CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
      n = 0;
      while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1)
        n++;
      CHECK_EQ_INT(n, i + 1);
      quarry_iter_close(it);
      quarry_snapshot_close(s);
      CHECK_OK(quarry_batch_new(db, &b));
      CHECK_OK(quarry_batch_put(b, NULL, "shared", 6, val, strlen(val)));
      CHECK_OK(quarry_db_write(db, b, NULL));
      quarry_batch_close(b);
    }
  }
  return NULL;
}

static void *families(void *arg) {
  int i;
  char name[32];
  quarry_cf *cf;
  (void)arg;
  for (i = 0; i < 50; i++) {
    snprintf(name, sizeof name, "tmp%d", i);
    CHECK_OK(quarry_db_create_cf(db, name, &cf));
    CHECK_OK(quarry_put(db, cf, NULL, "k", 1, "v", 1));
    if (i % 2 == 0)
      CHECK_OK(quarry_db_drop_cf(db, name));
  }
  return NULL;
}

TEST(one_db_many_threads) {
  const char *dir = check_tmpdir(0, "threads");
  pthread_t t[N_WORKERS + 1];
  char **names;
  int i;

  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &db));
  for (i = 0; i < N_WORKERS; i++)
    CHECK_EQ_INT(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
  CHECK_EQ_INT(pthread_create(&t[N_WORKERS], NULL, families, NULL), 0);
  for (i = 0; i <= N_WORKERS; i++)
    CHECK_EQ_INT(pthread_join(t[i], NULL), 0);
  CHECK_OK(quarry_db_cf_names(db, &names));
  CHECK_EQ_INT(check_count_names(names), 1 + 25);
  quarry_free_names(names);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

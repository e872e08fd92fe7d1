/* test_rw_reuse.c: single puts and deletes write through a batch the handle reuses (rw.c):
 * nothing of one write leaks into the next, large values (which free the batch) and small ones
 * alternate, families mix, and several threads writing at once each see their own writes. */
#include "check.h"

#include <pthread.h>
#include <stdlib.h>

#define N_THREADS 4
#define N_OPS 3000

static quarry_db *db;

static void *writer(void *arg) {
  int id = (int)(intptr_t)arg, i;
  char key[32], val[32];
  for (i = 0; i < N_OPS; i++) {
    snprintf(key, sizeof key, "t%d-%05d", id, i);
    snprintf(val, sizeof val, "v%d", i);
    CHECK_OK(quarry_put(db, NULL, NULL, key, strlen(key), val, strlen(val)));
    if (i % 3 == 0)
      CHECK_OK(quarry_delete(db, NULL, NULL, key, strlen(key)));
  }
  for (i = 0; i < N_OPS; i++) {
    snprintf(key, sizeof key, "t%d-%05d", id, i);
    snprintf(val, sizeof val, "v%d", i);
    CHECK_GET(db, NULL, key, i % 3 == 0 ? NULL : val);
  }
  return NULL;
}

TEST(reused_write_batch) {
  const char *dir = check_tmpdir(0, "rw_reuse");
  size_t big_len = (size_t)3 << 20, i;
  char *big = malloc(big_len);
  quarry_cf *cf;
  quarry_value *v = NULL;
  const char *data;
  size_t len;
  pthread_t t[N_THREADS];

  CHECK(big != NULL);
  for (i = 0; i < big_len; i++)
    big[i] = (char)('a' + i % 26);
  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &db));
  CHECK_OK(quarry_db_create_cf(db, "other", &cf));

  /* Alternate small writes, a value larger than the batch kept between calls, deletes, and
   * another family: each write carries exactly its own operation. */
  CHECK_OK(quarry_put(db, NULL, NULL, "a", 1, "1", 1));
  CHECK_OK(quarry_put(db, cf, NULL, "a", 1, "other", 5));
  CHECK_OK(quarry_put(db, NULL, NULL, "big", 3, big, big_len));
  CHECK_OK(quarry_put(db, NULL, NULL, "b", 1, "2", 1));
  CHECK_OK(quarry_delete(db, NULL, NULL, "a", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "c", 1, "3", 1));
  CHECK_GET(db, NULL, "a", NULL);
  CHECK_GET(db, cf, "a", "other");
  CHECK_GET(db, NULL, "b", "2");
  CHECK_GET(db, NULL, "c", "3");
  CHECK_GET(db, cf, "b", NULL);
  CHECK_OK(quarry_get(db, NULL, NULL, "big", 3, &v));
  CHECK(v != NULL);
  data = quarry_value_data(v, &len);
  CHECK_MEM(data, len, big, big_len);
  quarry_value_free(v);

  /* A failed check writes nothing and leaves the batch usable. */
  CHECK_ERR(quarry_put(db, NULL, NULL, big, QUARRY_MAX_KEY_SIZE + 1, "x", 1), QUARRY_EINVAL);
  CHECK_OK(quarry_put(db, NULL, NULL, "d", 1, "4", 1));
  CHECK_GET(db, NULL, "d", "4");

  for (i = 0; i < N_THREADS; i++)
    CHECK_EQ_INT(pthread_create(&t[i], NULL, writer, (void *)(intptr_t)i), 0);
  for (i = 0; i < N_THREADS; i++)
    CHECK_EQ_INT(pthread_join(t[i], NULL), 0);

  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  free(big);
  check_rmrf(dir);
}

/* test_iter.c: iterator bounds (from/to, prefix with 0xFF edges), reverse, limit, keys_only,
 * seek/seek_for_prev, NUL bytes in keys, bounds copied from temporary buffers. */
#include "check.h"

/* Collects the keys quarry_iter_step yields into out ("k1,k2,..."), returns the count. */
static int walk(quarry_db *db, quarry_cf *cf, const quarry_iter_options *io, char *out,
                size_t cap) {
  quarry_iter *it;
  const char *k, *v;
  size_t kl, vl, used = 0;
  int n = 0, rc;
  CHECK_OK(quarry_iter_new(db, cf, io, &it));
  out[0] = '\0';
  while ((rc = quarry_iter_step(it, &k, &kl, &v, &vl)) == 1) {
    size_t i;
    if (io->keys_only)
      CHECK(v == NULL);
    else
      CHECK(v != NULL);
    if (n)
      out[used++] = ',';
    for (i = 0; i < kl && used + 4 < cap; i++) /* show NUL and 0xFF readably */
      used += (size_t)snprintf(out + used, cap - used, "%s",
                               k[i] == '\0' ? "\\0" : (unsigned char)k[i] == 0xFF ? "\\xff"
                                                                                  : (char[]){k[i], 0});
    out[used] = '\0';
    n++;
  }
  CHECK_EQ_INT(rc, 0);
  CHECK_EQ_INT(quarry_iter_step(it, &k, &kl, &v, &vl), 0); /* stays at the end */
  quarry_iter_close(it);
  return n;
}

/* A fresh db (its own directory) holding the fixture's 16 keys; *dir is the directory. */
static quarry_db *open_fixture(const char **dir) {
  static const char *const keys[] = {"a", "ab", "abc", "abd", "b", "ba", "c"};
  quarry_db *db;
  size_t i;
  *dir = check_tmpdir(0, "iter");
  CHECK_OK(quarry_db_open(check_path(0, *dir, "db"), NULL, &db));
  for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
    PUT(db, NULL, keys[i], "v");
  /* binary keys: 0xFF edges and NUL bytes */
  CHECK_OK(quarry_put(db, NULL, NULL, "\xff", 1, "v", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "\xff\xff", 2, "v", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "\xff\xff\x01", 3, "v", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "d\xff", 2, "v", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "d\xff\xff", 3, "v", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "e", 1, "v", 1));
  CHECK_OK(quarry_put(db, NULL, NULL, "n\0a", 3, "nul", 3));
  CHECK_OK(quarry_put(db, NULL, NULL, "n\0b", 3, "nul", 3));
  CHECK_OK(quarry_put(db, NULL, NULL, "n", 1, "n", 1));
  return db;
}

static void close_fixture(quarry_db *db, const char *dir) {
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

TEST(walk_all) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  char buf[512];

  /* everything */
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 16);

  close_fixture(db, dir);
}

TEST(from_to_reverse_limit) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  char buf[512];

  /* from (inclusive) / to (exclusive) */
  io.from = "ab"; io.from_len = 2; io.to = "b"; io.to_len = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  CHECK_STR(buf, "ab,abc,abd");

  /* reverse with bounds */
  io.reverse = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  CHECK_STR(buf, "abd,abc,ab");

  /* limit */
  io.limit = 2;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 2);
  CHECK_STR(buf, "abd,abc");
  io.reverse = 0;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 2);
  CHECK_STR(buf, "ab,abc");
  io.limit = 0;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 0);
  io.limit = -1;

  /* keys_only */
  io.keys_only = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  io.keys_only = 0;

  /* empty and inverted ranges */
  io.from = "b"; io.from_len = 1; io.to = "b"; io.to_len = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 0);
  io.from = "c"; io.to = "a";
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 0);
  io.from = io.to = NULL;

  close_fixture(db, dir);
}

TEST(prefix) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  char buf[512];

  /* prefix */
  io.prefix = "ab"; io.prefix_len = 2;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  CHECK_STR(buf, "ab,abc,abd");
  io.reverse = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  CHECK_STR(buf, "abd,abc,ab");
  io.reverse = 0;
  /* prefix combined with from/to: the tighter bound wins */
  io.from = "abc"; io.from_len = 3;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 2);
  CHECK_STR(buf, "abc,abd");
  io.from = "a"; io.from_len = 1; io.to = "abd"; io.to_len = 3;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 2);
  CHECK_STR(buf, "ab,abc");
  io.to = "zz"; io.to_len = 2;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  io.from = io.to = NULL;
  /* prefix ending in 0xFF: "d\xff" covers d\xff and d\xff\xff, not e */
  io.prefix = "d\xff"; io.prefix_len = 2;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 2);
  CHECK_STR(buf, "d\\xff,d\\xff\\xff");
  /* all-0xFF prefix: no upper bound exists */
  io.prefix = "\xff"; io.prefix_len = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  CHECK_STR(buf, "\\xff,\\xff\\xff,\\xff\\xff\x01");
  io.reverse = 1;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 3);
  io.reverse = 0;
  /* prefix with a NUL byte */
  io.prefix = "n\0"; io.prefix_len = 2;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 2);
  CHECK_STR(buf, "n\\0a,n\\0b");
  /* empty prefix: everything */
  io.prefix = ""; io.prefix_len = 0;
  CHECK_EQ_INT(walk(db, NULL, &io, buf, sizeof buf), 16);
  io.prefix = NULL;

  close_fixture(db, dir);
}

TEST(bounds_copied) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  char tmp[8];
  quarry_iter *it;
  const char *k, *v;
  size_t kl, vl;

  /* bounds are copied: the caller's buffer may change right after */
  memcpy(tmp, "b", 2);
  io.from = tmp; io.from_len = 1;
  CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
  memcpy(tmp, "a", 2);
  CHECK_EQ_INT(quarry_iter_step(it, &k, &kl, &v, &vl), 1);
  CHECK_MEM(k, kl, "b", 1);
  quarry_iter_close(it);
  io.from = NULL;

  close_fixture(db, dir);
}

TEST(seek_next_prev) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter *it;
  const char *k, *v;
  size_t kl, vl;

  /* explicit positioning: seek, seek_for_prev, next/prev, first/last */
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
  CHECK(!quarry_iter_valid(it));
  CHECK(quarry_iter_key(it, &kl) == NULL);
  CHECK_ERR(quarry_iter_next(it), QUARRY_EINVAL); /* not positioned: no RocksDB assertion */
  CHECK_OK(quarry_iter_seek(it, "abb", 3));
  CHECK(quarry_iter_valid(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "abc", 3);
  v = quarry_iter_value(it, &vl);
  CHECK_MEM(v, vl, "v", 1);
  CHECK_OK(quarry_iter_next(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "abd", 3);
  CHECK_OK(quarry_iter_seek_for_prev(it, "abb", 3));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "ab", 2);
  CHECK_OK(quarry_iter_prev(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "a", 1);
  CHECK_OK(quarry_iter_prev(it));
  CHECK(!quarry_iter_valid(it));
  /* step after seek returns the entry sought first, then moves */
  CHECK_OK(quarry_iter_seek(it, "n", 1));
  CHECK_EQ_INT(quarry_iter_step(it, &k, &kl, &v, &vl), 1);
  CHECK_MEM(k, kl, "n", 1);
  CHECK_EQ_INT(quarry_iter_step(it, &k, &kl, &v, &vl), 1);
  CHECK_MEM(k, kl, "n\0a", 3);
  CHECK_MEM(v, vl, "nul", 3);
  CHECK_OK(quarry_iter_last(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "\xff\xff\x01", 3);
  CHECK_OK(quarry_iter_first(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "a", 1);
  CHECK_ERR(quarry_iter_seek(it, NULL, 0), QUARRY_EINVAL);
  quarry_iter_close(it);

  close_fixture(db, dir);
}

TEST(seek_bounds) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  quarry_iter *it;
  const char *k;
  size_t kl;

  /* seek is clamped by the bounds */
  io.from = "b"; io.from_len = 1; io.to = "c"; io.to_len = 1;
  CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
  CHECK_OK(quarry_iter_seek(it, "a", 1));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "b", 1);
  CHECK_OK(quarry_iter_seek_for_prev(it, "z", 1));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "ba", 2);
  CHECK_OK(quarry_iter_seek(it, "c", 1));
  CHECK(!quarry_iter_valid(it));
  quarry_iter_close(it);
  quarry_iter_close(NULL);

  close_fixture(db, dir);
}

TEST(empty_range) {
  const char *dir;
  quarry_db *db = open_fixture(&dir);
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  quarry_iter *it;

  /* an iterator over an empty range never positions */
  io.from = "c"; io.from_len = 1; io.to = "a"; io.to_len = 1;
  CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
  CHECK_OK(quarry_iter_first(it));
  CHECK(!quarry_iter_valid(it));
  CHECK_OK(quarry_iter_seek(it, "b", 1));
  CHECK(!quarry_iter_valid(it));
  quarry_iter_close(it);

  close_fixture(db, dir);
}

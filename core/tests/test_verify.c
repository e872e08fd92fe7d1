/* test_verify.c: SHA-256 and CRC-32C against published vectors; the digest's documented format,
 * its independence from files and history, snapshots; db verify's report, and a flipped byte in
 * an SST data block: verify raises Corruption naming the file, reads never return altered data. */
#include "check.h"

#include "../src/hash.h"

static void sha_hex(const void *data, size_t len, char out[65]) {
  q_sha256 s;
  unsigned char d[32];
  q_sha256_init(&s);
  q_sha256_update(&s, data, len);
  q_sha256_final(&s, d);
  q_hex(d, 32, out);
}

static void test_vectors(int hw) {
  /* FIPS 180-2 appendix B examples, the empty message and a two-block message */
  static const struct {
    const char *msg, *hex;
  } v[] = {
    {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmno"
     "pqrsmnopqrstnopqrstu",
     "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
  };
  char hex[65], *million;
  size_t i, split;
  if (q_sha256_use_hw(hw) != hw)
    printf("test_verify: no SHA extensions on this CPU; the portable SHA-256 is tested twice\n");
  for (i = 0; i < sizeof v / sizeof v[0]; i++) {
    sha_hex(v[i].msg, strlen(v[i].msg), hex);
    CHECK_STR(hex, v[i].hex);
    /* the same message fed in two pieces, split everywhere */
    for (split = 0; split <= strlen(v[i].msg); split++) {
      q_sha256 s;
      unsigned char d[32];
      q_sha256_init(&s);
      q_sha256_update(&s, v[i].msg, split);
      q_sha256_update(&s, v[i].msg + split, strlen(v[i].msg) - split);
      q_sha256_final(&s, d);
      q_hex(d, 32, hex);
      CHECK_STR(hex, v[i].hex);
    }
  }
  million = malloc(1000000);
  CHECK(million != NULL);
  memset(million, 'a', 1000000);
  sha_hex(million, 1000000, hex);
  CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  /* CRC-32C check value (RFC 3720 / the Castagnoli check "123456789"), and continuation */
  CHECK_EQ_INT(q_crc32c(0, "123456789", 9), 0xE3069283u);
  CHECK_EQ_INT(q_crc32c(q_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
  CHECK_EQ_INT(q_crc32c(0, million, 1000000), q_crc32c(q_crc32c(0, million, 3), million + 3,
                                                        1000000 - 3));
  free(million);
}

TEST(sha256_portable) { test_vectors(0); }

/* The x86 SHA extensions, where the CPU has them (the default then). */
TEST(sha256_hw) { test_vectors(1); }

static quarry_db *open_db(const char *path, const char *mode) {
  quarry_options *o;
  quarry_db *db;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_add_column_family(o, "b"));
  CHECK_OK(quarry_options_add_column_family(o, "a"));
  CHECK_OK(quarry_options_set_string(o, "compression", "none"));
  CHECK_OK(quarry_options_set_string(o, "bottommost_compression", "none"));
  if (mode)
    CHECK_OK(quarry_options_set_string(o, "mode", mode));
  CHECK_OK(quarry_db_open(path, o, &db));
  quarry_options_free(o);
  return db;
}

static void digest_of(quarry_db *db, quarry_cf *cf, const quarry_snapshot *s, char out[65]) {
  quarry_scan_report *r;
  CHECK_OK(quarry_db_digest(db, cf, s, &r));
  memcpy(out, r->digest, 65);
  quarry_scan_report_free(r);
}

/* The documented format, computed by hand for a tiny database. */
TEST(digest_format) {
  const char *dir = check_tmpdir(0, "verify");
  quarry_db *db = open_db(check_path(1, dir, "fmt"), NULL);
  quarry_cf *a;
  quarry_scan_report *r;
  q_sha256 s;
  unsigned char fa[32], fb[32], fd[32], d[32];
  char hex[65];
  CHECK_OK(quarry_db_cf(db, "a", &a));
  CHECK_OK(quarry_put(db, a, NULL, "k", 1, "value", 5));
  CHECK_OK(quarry_put(db, a, NULL, "\0z", 2, "", 0));
  /* family a: ("\0z", ""), ("k", "value") in key order */
  q_sha256_init(&s);
  q_sha256_u64(&s, 2);
  q_sha256_update(&s, "\0z", 2);
  q_sha256_u64(&s, 0);
  q_sha256_u64(&s, 1);
  q_sha256_update(&s, "k", 1);
  q_sha256_u64(&s, 5);
  q_sha256_update(&s, "value", 5);
  q_sha256_final(&s, fa);
  q_sha256_init(&s); /* b and default are empty */
  q_sha256_final(&s, fb);
  memcpy(fd, fb, 32);
  q_sha256_init(&s); /* names in bytewise order: a, b, default */
  q_sha256_u64(&s, 1);
  q_sha256_update(&s, "a", 1);
  q_sha256_update(&s, fa, 32);
  q_sha256_u64(&s, 1);
  q_sha256_update(&s, "b", 1);
  q_sha256_update(&s, fb, 32);
  q_sha256_u64(&s, 7);
  q_sha256_update(&s, "default", 7);
  q_sha256_update(&s, fd, 32);
  q_sha256_final(&s, d);

  CHECK_OK(quarry_db_digest(db, NULL, NULL, &r));
  q_hex(d, 32, hex);
  CHECK_STR(r->digest, hex);
  CHECK_EQ_INT(r->nfamilies, 3);
  CHECK_STR(r->families[0].name, "a");
  CHECK_STR(r->families[1].name, "b");
  CHECK_STR(r->families[2].name, "default");
  q_hex(fa, 32, hex);
  CHECK_STR(r->families[0].digest, hex);
  CHECK_STR(r->families[1].digest,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK_EQ_INT(r->families[0].keys, 2);
  CHECK_EQ_INT(r->families[0].bytes, 1 + 5 + 2);
  CHECK_EQ_INT(r->keys, 2);
  quarry_scan_report_free(r);
  /* one family: its own digest */
  CHECK_OK(quarry_db_digest(db, a, NULL, &r));
  CHECK_STR(r->digest, hex);
  CHECK_EQ_INT(r->nfamilies, 1);
  quarry_scan_report_free(r);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

/* Same contents through different histories give the same digest; any change alters it. */
TEST(digest_determinism) {
  const char *dir = check_tmpdir(0, "verify");
  quarry_db *x = open_db(check_path(1, dir, "x"), NULL);
  quarry_db *y = open_db(check_path(2, dir, "y"), NULL);
  quarry_cf *xa, *ya, *xb;
  quarry_snapshot *snap;
  char key[32], val[64], dx[65], dy[65], ds[65];
  int i;
  CHECK_OK(quarry_db_cf(x, "a", &xa));
  CHECK_OK(quarry_db_cf(x, "b", &xb));
  CHECK_OK(quarry_db_cf(y, "a", &ya));
  for (i = 0; i < 3000; i++) { /* x: in order, flushed half way, then compacted */
    snprintf(key, sizeof key, "k%05d", i);
    snprintf(val, sizeof val, "v%d", i * 7);
    CHECK_OK(quarry_put(x, xa, NULL, key, strlen(key), val, strlen(val)));
    if (i == 1500)
      CHECK_OK(quarry_db_flush(x, NULL));
  }
  CHECK_OK(quarry_put(x, xb, NULL, "gone", 4, "soon", 4));
  CHECK_OK(quarry_delete(x, xb, NULL, "gone", 4));
  CHECK_OK(quarry_db_compact(x, NULL, NULL, 0, NULL, 0));
  for (i = 2999; i >= 0; i--) { /* y: in reverse, with overwrites, never flushed */
    snprintf(key, sizeof key, "k%05d", i);
    CHECK_OK(quarry_put(y, ya, NULL, key, strlen(key), "old", 3));
    snprintf(val, sizeof val, "v%d", i * 7);
    CHECK_OK(quarry_put(y, ya, NULL, key, strlen(key), val, strlen(val)));
  }
  digest_of(x, NULL, NULL, dx);
  digest_of(y, NULL, NULL, dy);
  CHECK_STR(dx, dy);
  digest_of(x, xa, NULL, dx);
  digest_of(y, ya, NULL, dy);
  CHECK_STR(dx, dy);

  /* a snapshot's digest does not move; the latest one does, for any one-byte change */
  digest_of(x, NULL, NULL, dx);
  CHECK_OK(quarry_snapshot_new(x, &snap));
  CHECK_OK(quarry_put(x, xa, NULL, "k01000", 6, "v7001", 5)); /* was v7000 */
  digest_of(x, NULL, snap, ds);
  CHECK_STR(ds, dx);
  digest_of(x, NULL, NULL, dy);
  CHECK(strcmp(dy, dx) != 0);
  CHECK_OK(quarry_put(x, xa, NULL, "k01000", 6, "v7000", 5));
  digest_of(x, NULL, NULL, dy);
  CHECK_STR(dy, dx);
  /* the same entry in another family is another database */
  CHECK_OK(quarry_delete(x, xa, NULL, "k01000", 6));
  CHECK_OK(quarry_put(x, xb, NULL, "k01000", 6, "v7000", 5));
  digest_of(x, NULL, NULL, dy);
  CHECK(strcmp(dy, dx) != 0);
  quarry_snapshot_close(snap);

  /* a snapshot of another database is refused */
  CHECK_OK(quarry_snapshot_new(y, &snap));
  {
    quarry_scan_report *r = NULL;
    CHECK_ERR(quarry_db_digest(x, NULL, snap, &r), QUARRY_EINVAL);
    CHECK(r == NULL);
  }
  quarry_snapshot_close(snap);
  CHECK_NO_CHILDREN(x);
  CHECK_OK(quarry_db_close(x));
  CHECK_OK(quarry_db_close(y));
  check_rmrf(dir);
}

/* Finds the single .sst file of dir (static buffer). */
static const char *only_sst(const char *dir) {
  static char path[1024];
  DIR *d = opendir(dir);
  struct dirent *e;
  int n = 0;
  CHECK(d != NULL);
  while ((e = readdir(d)) != NULL) {
    size_t l = strlen(e->d_name);
    if (l > 4 && strcmp(e->d_name + l - 4, ".sst") == 0) {
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      n++;
    }
  }
  closedir(d);
  CHECK_EQ_INT(n, 1);
  return path;
}

/* Flips one byte of path inside the first occurrence of needle; returns its offset. */
static long flip_in(const char *path, const char *needle) {
  FILE *f = fopen(path, "r+b");
  char *buf;
  long size, off = -1, i;
  size_t nl = strlen(needle);
  CHECK(f != NULL);
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  buf = malloc((size_t)size);
  CHECK(buf != NULL);
  fseek(f, 0, SEEK_SET);
  CHECK_EQ_INT(fread(buf, 1, (size_t)size, f), size);
  for (i = 0; i + (long)nl <= size; i++) {
    if (memcmp(buf + i, needle, nl) == 0) {
      off = i + (long)nl - 1;
      break;
    }
  }
  CHECK(off >= 0);
  buf[off] ^= 0x01;
  fseek(f, off, SEEK_SET);
  CHECK_EQ_INT(fwrite(buf + off, 1, 1, f), 1);
  fclose(f);
  free(buf);
  return off;
}

TEST(verify_report_and_corruption) {
  const char *dir = check_tmpdir(0, "verify");
  const char *path = check_path(1, dir, "v");
  quarry_db *db = open_db(path, NULL);
  quarry_cf *a, *b;
  quarry_scan_report *r;
  quarry_value *v = NULL;
  quarry_iter *it;
  char key[32], val[128];
  const char *sst;
  int i, rc;
  size_t n;

  CHECK_OK(quarry_db_cf(db, "a", &a));
  CHECK_OK(quarry_db_cf(db, "b", &b));
  for (i = 0; i < 2000; i++) {
    snprintf(key, sizeof key, "key%05d", i);
    snprintf(val, sizeof val, "value-%05d-%s", i, "padding-padding-padding-padding");
    CHECK_OK(quarry_put(db, a, NULL, key, strlen(key), val, strlen(val)));
  }
  PUT(db, b, "only", "one");
  CHECK_OK(quarry_db_flush(db, a));
  CHECK_OK(quarry_db_verify(db, &r));
  CHECK_EQ_INT(r->nfamilies, 3);
  CHECK_STR(r->families[0].name, "a");
  CHECK_EQ_INT(r->families[0].keys, 2000);
  CHECK_EQ_INT(r->families[0].bytes, 2000 * (8 + strlen(val)));
  CHECK_EQ_INT(r->families[1].keys, 1);
  CHECK_EQ_INT(r->families[1].bytes, 7);
  CHECK_EQ_INT(r->families[2].keys, 0);
  CHECK_EQ_INT(r->keys, 2001);
  CHECK_EQ_INT(r->table_files, 1);
  CHECK(r->table_bytes > 2000 * 40);
  CHECK_STR(r->digest, "");
  quarry_scan_report_free(r);
  CHECK_OK(quarry_db_close(db));

  /* read-only mode verifies too */
  db = open_db(path, "read_only");
  CHECK_OK(quarry_db_verify(db, &r));
  CHECK_EQ_INT(r->keys, 2001);
  quarry_scan_report_free(r);
  CHECK_OK(quarry_db_close(db));

  /* one flipped bit inside a value stored in the table file's first data block */
  sst = only_sst(path);
  flip_in(sst, "value-00005-padding");
  db = open_db(path, NULL);
  CHECK_OK(quarry_db_cf(db, "a", &a));
  rc = quarry_db_verify(db, &r);
  CHECK_EQ_INT(rc, QUARRY_ECORRUPTION);
  CHECK(r == NULL);
  CHECK_CONTAINS(quarry_last_error(), strrchr(sst, '/') + 1);
  CHECK_CONTAINS(quarry_last_error(), "family 'a'");
  fprintf(stderr, "verify: %s\n", quarry_last_error());
  /* plain reads of that block: an error, never the altered value */
  CHECK_ERR(quarry_get(db, a, NULL, "key00005", 8, &v), QUARRY_ECORRUPTION);
  CHECK(v == NULL);
  CHECK_CONTAINS(quarry_last_error(), strrchr(sst, '/') + 1);
  {
    const char *keys[2] = {"key00004", "key00006"};
    size_t klens[2] = {8, 8};
    quarry_value *vals[2];
    CHECK_ERR(quarry_multi_get(db, a, NULL, 2, keys, klens, vals), QUARRY_ECORRUPTION);
    CHECK(vals[0] == NULL && vals[1] == NULL);
  }
  CHECK_OK(quarry_iter_new(db, a, NULL, &it));
  n = 0;
  for (;;) {
    const char *k, *val2;
    size_t kl, vl;
    rc = quarry_iter_step(it, &k, &kl, &val2, &vl);
    if (rc <= 0)
      break;
    n++;
  }
  CHECK_EQ_INT(rc, QUARRY_ECORRUPTION);
  CHECK_EQ_INT(n, 0);
  quarry_iter_close(it);
  /* the digest reads with checksums too */
  CHECK_ERR(quarry_db_digest(db, NULL, NULL, &r), QUARRY_ECORRUPTION);
  CHECK_NO_CHILDREN(db);
  CHECK_OK(quarry_db_close(db));
  check_rmrf(dir);
}

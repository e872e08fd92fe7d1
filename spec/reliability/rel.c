/* rel.c: the numbered-batch layout (keys, values, the checker) and process helpers shared by the
 * reliability programs (rel_writer, rel_crashloop). */
#include "rel.h"

#include <ftw.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const rel_family_names[REL_FAMILIES] = {"f0", "f1", "f2", "f3"};

void rel_key(uint64_t n, char out[REL_KEY_LEN]) {
  int i;
  out[0] = 'b';
  for (i = 0; i < 8; i++)
    out[1 + i] = (char)(unsigned char)(n >> (56 - 8 * i));
}

int rel_parse_key(const char *key, size_t len, uint64_t *n) {
  uint64_t v = 0;
  int i;
  if (len != REL_KEY_LEN || key[0] != 'b')
    return 0;
  for (i = 0; i < 8; i++)
    v = (v << 8) | (unsigned char)key[1 + i];
  *n = v;
  return 1;
}

size_t rel_value(uint64_t n, int f, char *out) {
  uint64_t h = n * 0x9E3779B97F4A7C15ull ^ (uint64_t)(f + 1) * 0xC2B2AE3D27D4EB4Full;
  size_t len, pad, i;
  len = (size_t)snprintf(out, REL_VALUE_MAX, "batch %llu family %d:", (unsigned long long)n, f);
  pad = (size_t)(h % 256u);
  for (i = 0; i < pad; i++) {
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    out[len + i] = (char)('a' + (h >> 59));
  }
  return len + pad;
}

static int open_with(const char *path, const char *mode, int create, quarry_db **out) {
  quarry_options *o = NULL;
  int rc, i;
  *out = NULL;
  if ((rc = quarry_options_new("default", &o)) != 0)
    return rc;
  rc = quarry_options_set_int(o, "write_buffer_mb", 1);
  if (rc == 0)
    rc = quarry_options_set_int(o, "block_cache_mb", 8);
  if (rc == 0)
    rc = quarry_options_set_int(o, "max_background_jobs", 2);
  if (rc == 0 && mode != NULL)
    rc = quarry_options_set_string(o, "mode", mode);
  if (rc == 0 && !create)
    rc = quarry_options_set_bool(o, "create_if_missing", 0);
  for (i = 0; i < REL_FAMILIES && rc == 0; i++)
    rc = quarry_options_add_column_family(o, rel_family_names[i]);
  if (rc == 0)
    rc = quarry_db_open(path, o, out);
  quarry_options_free(o);
  return rc;
}

int rel_open(const char *path, const char *mode, quarry_db **out) {
  return open_with(path, mode, 1, out);
}

int rel_open_existing(const char *path, quarry_db **out) { return open_with(path, NULL, 0, out); }

/* A growable bitmap of batch numbers present in one family. */
typedef struct {
  unsigned char *bits;
  uint64_t cap; /* in bits */
} bitmap;

static void bm_set(bitmap *b, uint64_t n) {
  if (n >= b->cap) {
    uint64_t cap = b->cap ? b->cap : 4096;
    while (cap <= n)
      cap *= 2;
    b->bits = realloc(b->bits, (size_t)(cap / 8));
    if (b->bits == NULL) {
      perror("realloc");
      abort();
    }
    memset(b->bits + b->cap / 8, 0, (size_t)((cap - b->cap) / 8));
    b->cap = cap;
  }
  b->bits[n / 8] |= (unsigned char)(1u << (n % 8));
}

static int bm_get(const bitmap *b, uint64_t n) {
  return n < b->cap && (b->bits[n / 8] >> (n % 8)) & 1u;
}

int rel_check(const char *path, rel_check_result *r) { return rel_check_opts(path, 1, r); }

int rel_check_opts(const char *path, int create, rel_check_result *r) {
  quarry_db *db = NULL;
  bitmap bm[REL_FAMILIES];
  uint64_t fmax[REL_FAMILIES], n, last_val[REL_FAMILIES];
  int has_last[REL_FAMILIES], f, rc;
  char want[REL_VALUE_MAX];
  memset(r, 0, sizeof *r);
  memset(bm, 0, sizeof bm);
  memset(fmax, 0, sizeof fmax);
  memset(has_last, 0, sizeof has_last);
  if ((rc = open_with(path, NULL, create, &db)) != 0) {
    r->open_rc = rc;
    snprintf(r->open_msg, sizeof r->open_msg, "%s", quarry_last_error());
    return rc;
  }
  for (f = 0; f < REL_FAMILIES; f++) {
    quarry_cf *cf = NULL;
    quarry_iter *it = NULL;
    quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
    const char *k, *v;
    size_t kl, vl;
    if ((rc = quarry_db_cf(db, rel_family_names[f], &cf)) != 0 ||
        (rc = quarry_iter_new(db, cf, &io, &it)) != 0) {
      r->read_errors++;
      snprintf(r->read_msg, sizeof r->read_msg, "%s", quarry_last_error());
      continue;
    }
    while ((rc = quarry_iter_step(it, &k, &kl, &v, &vl)) == 1) {
      if (rel_parse_key(k, kl, &n)) {
        size_t wl = rel_value(n, f, want);
        if (wl != vl || memcmp(want, v, vl) != 0)
          r->altered++;
        bm_set(&bm[f], n);
        if (n > fmax[f])
          fmax[f] = n;
      } else if (kl == 4 && memcmp(k, "last", 4) == 0 && vl == 8) {
        int i;
        last_val[f] = 0;
        for (i = 0; i < 8; i++)
          last_val[f] = (last_val[f] << 8) | (unsigned char)v[i];
        has_last[f] = 1;
      } else {
        r->altered++;
      }
    }
    if (rc < 0) {
      r->read_errors++;
      snprintf(r->read_msg, sizeof r->read_msg, "%s", quarry_last_error());
    }
    quarry_iter_close(it);
  }
  for (f = 0; f < REL_FAMILIES; f++) {
    if (fmax[f] > r->max_present)
      r->max_present = fmax[f];
    if ((has_last[f] ? last_val[f] : 0) != fmax[f])
      r->bad_last++;
  }
  r->contiguous = 0;
  for (n = 1; n <= r->max_present; n++) {
    int present = 0;
    for (f = 0; f < REL_FAMILIES; f++)
      present += bm_get(&bm[f], n);
    if (present != 0 && present != REL_FAMILIES)
      r->torn++;
    if (present == 0)
      r->gaps++;
    if (present == REL_FAMILIES && r->contiguous == n - 1)
      r->contiguous = n;
  }
  for (f = 0; f < REL_FAMILIES; f++)
    free(bm[f].bits);
  rc = quarry_db_close(db);
  if (rc) {
    r->read_errors++;
    snprintf(r->read_msg, sizeof r->read_msg, "close: %s", quarry_last_error());
  }
  return r->read_errors ? QUARRY_EIO : 0;
}

double rel_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  remove(p);
  return 0;
}

void rel_mkdirs(const char *path) {
  char buf[4096];
  size_t i, n = strlen(path);
  if (n >= sizeof buf)
    return;
  memcpy(buf, path, n + 1);
  for (i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      mkdir(buf, 0755);
      buf[i] = c;
    }
  }
}

void rel_rmtree(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

uint64_t rel_rand(uint64_t *s) {
  uint64_t x = *s ? *s : 0x853c49e6748fea9bull;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  *s = x;
  return x * 0x2545F4914F6CDD1Dull;
}

/* check.h: assertion macros and helpers for the C tests: each failed check prints the file, the
 * line, the expression and both values, then aborts the test program (a non-zero exit). */
#ifndef QUARRY_CHECK_H
#define QUARRY_CHECK_H

#include "quarry.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHECK_FAIL_(...)                                                                       \
  do {                                                                                         \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                                            \
    fprintf(stderr, __VA_ARGS__);                                                              \
    fputc('\n', stderr);                                                                       \
    abort();                                                                                   \
  } while (0)

#define CHECK(expr)                                                                            \
  do {                                                                                         \
    if (!(expr))                                                                               \
      CHECK_FAIL_("check failed: %s", #expr);                                                  \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                                     \
  do {                                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                                        \
    if (a_ != b_)                                                                              \
      CHECK_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                                   \
  } while (0)

#define CHECK_NE_INT(a, b)                                                                     \
  do {                                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                                        \
    if (a_ == b_)                                                                              \
      CHECK_FAIL_("%s != %s: both %lld", #a, #b, a_);                                          \
  } while (0)

/* A quarry call that must succeed; prints the code's name and the last error otherwise. */
#define CHECK_OK(call)                                                                         \
  do {                                                                                         \
    int rc_ = (call);                                                                          \
    if (rc_ != 0)                                                                              \
      CHECK_FAIL_("%s failed: %d %s: %s", #call, rc_, quarry_err_name(rc_),                    \
                  quarry_last_error());                                                        \
  } while (0)

/* A quarry call that must fail with code. */
#define CHECK_ERR(call, code)                                                                  \
  do {                                                                                         \
    int rc_ = (call), want_ = (code);                                                          \
    if (rc_ != want_)                                                                          \
      CHECK_FAIL_("%s: expected %s (%d), got %s (%d): %s", #call, quarry_err_name(want_),      \
                  want_, quarry_err_name(rc_), rc_, rc_ ? quarry_last_error() : "");           \
  } while (0)

#define CHECK_STR(a, b)                                                                        \
  do {                                                                                         \
    const char *a_ = (a), *b_ = (b);                                                           \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                                       \
      CHECK_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)",                    \
                  b_ ? b_ : "(null)");                                                         \
  } while (0)

/* The haystack contains needle (e.g. an error message mentions a name). */
#define CHECK_CONTAINS(hay, needle)                                                            \
  do {                                                                                         \
    const char *h_ = (hay), *n_ = (needle);                                                    \
    if (h_ == NULL || strstr(h_, n_) == NULL)                                                  \
      CHECK_FAIL_("%s does not contain \"%s\": \"%s\"", #hay, n_, h_ ? h_ : "(null)");         \
  } while (0)

/* Binary-safe comparison of (ptr, len) with (ptr, len). */
#define CHECK_MEM(p, plen, q, qlen)                                                            \
  do {                                                                                         \
    const char *p_ = (p), *q_ = (q);                                                           \
    size_t pl_ = (plen), ql_ = (qlen);                                                         \
    if (p_ == NULL || pl_ != ql_ || (pl_ && memcmp(p_, q_, pl_) != 0))                         \
      CHECK_FAIL_("%s == %s: \"%.*s\" (%zu) != \"%.*s\" (%zu)", #p, #q, (int)pl_,              \
                  p_ ? p_ : "", pl_, (int)ql_, q_, ql_);                                       \
  } while (0)

/* The value stored under a C-string key, compared to a C-string (NULL: must be missing). */
#define CHECK_GET(db, cf, key, want)                                                           \
  do {                                                                                         \
    quarry_value *v_ = NULL;                                                                   \
    const char *w_ = (want);                                                                   \
    CHECK_OK(quarry_get((db), (cf), NULL, (key), strlen(key), &v_));                           \
    if (w_ == NULL) {                                                                          \
      if (v_ != NULL)                                                                          \
        CHECK_FAIL_("get(%s): expected missing, got a value", (const char *)(key));            \
    } else {                                                                                   \
      size_t l_ = 0;                                                                           \
      const char *d_;                                                                          \
      if (v_ == NULL)                                                                          \
        CHECK_FAIL_("get(%s): expected \"%s\", got missing", (const char *)(key), w_);         \
      d_ = quarry_value_data(v_, &l_);                                                         \
      CHECK_MEM(d_, l_, w_, strlen(w_));                                                       \
    }                                                                                          \
    quarry_value_free(v_);                                                                     \
  } while (0)

/* Every test ends with this: no child handle left open. */
#define CHECK_NO_CHILDREN(db)                                                                  \
  do {                                                                                         \
    CHECK_EQ_INT(quarry_db_live_iterators(db), 0);                                             \
    CHECK_EQ_INT(quarry_db_live_snapshots(db), 0);                                             \
    CHECK_EQ_INT(quarry_db_live_batches(db), 0);                                               \
  } while (0)

/* Puts a C-string pair into db/cf with default write options. */
#define PUT(db, cf, k, v) CHECK_OK(quarry_put((db), (cf), NULL, (k), strlen(k), (v), strlen(v)))

static inline int check_rmrf(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0)
    return errno == ENOENT ? 0 : -1;
  if (S_ISDIR(st.st_mode)) {
    DIR *d = opendir(path);
    struct dirent *e;
    char buf[4096];
    if (d == NULL)
      return -1;
    while ((e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
        continue;
      if (snprintf(buf, sizeof buf, "%s/%s", path, e->d_name) < (int)sizeof buf)
        check_rmrf(buf);
    }
    closedir(d);
    return rmdir(path);
  }
  return unlink(path);
}

/* A fresh directory under $QUARRY_TEST_TMP (fallback /tmp), named after the test. Returns a
 * static buffer per slot (0..3) so a test can hold a few at once. */
static inline const char *check_tmpdir(int slot, const char *name) {
  static char bufs[4][1024];
  const char *base = getenv("QUARRY_TEST_TMP");
  char *p = bufs[slot & 3];
  if (base == NULL || *base == '\0')
    base = "/tmp";
  mkdir(base, 0777);
  if (snprintf(p, sizeof bufs[0], "%s/quarry-%s-%ld-%d", base, name, (long)getpid(), slot) >=
      (int)sizeof bufs[0])
    CHECK_FAIL_("path too long under %s", base);
  check_rmrf(p);
  if (mkdir(p, 0777) != 0)
    CHECK_FAIL_("mkdir %s: %s", p, strerror(errno));
  return p;
}

/* A path under dir (static buffer per slot). */
static inline const char *check_path(int slot, const char *dir, const char *leaf) {
  static char bufs[4][1024];
  if (snprintf(bufs[slot & 3], sizeof bufs[0], "%s/%s", dir, leaf) >= (int)sizeof bufs[0])
    CHECK_FAIL_("path too long: %s/%s", dir, leaf);
  return bufs[slot & 3];
}

static inline size_t check_count_names(char **names) {
  size_t n = 0;
  while (names && names[n])
    n++;
  return n;
}

static inline int check_has_name(char **names, const char *name) {
  size_t i;
  for (i = 0; names && names[i]; i++)
    if (strcmp(names[i], name) == 0)
      return 1;
  return 0;
}

#endif

/* check.h: the C tests' framework: named cases, assertion macros that print both values, and
 * temporary directories. A test file is a list of cases; this header supplies its main.
 *
 *   TEST(seek_bounds) {
 *     ...
 *     CHECK_EQ_INT(n, 3);
 *   }
 *
 * The cases run in the order they are written, one after the other in one process. A failed
 * check prints `file:line: case NAME: ` and what it expected and got, and ends that case (a
 * longjmp back to the runner); the runner goes on with the next case, prints `N cases, N failed`
 * at the end and exits 1 if any failed. Arguments name the cases to run (`test_iter seek_bounds`);
 * `--list` prints the names.
 *
 * Each case starts from nothing: its own temporary directories (check_tmpdir names them after the
 * case) and its own databases. The runner tracks every database a case opens (quarry_db_open and
 * quarry_db_close are wrapped below): closing one while it still has live iterators, snapshots or
 * batches fails the case at that line, unless the case said CHECK_ALLOW_LIVE_CHILDREN() first
 * (test_children closes with children on purpose); a database still open when the case ends fails
 * it too. After a failed case the runner closes what it left open, so the next case starts clean.
 *
 * A check that fails in another thread, or in a child process a case forked, cannot return to the
 * runner: it prints the same line and aborts the process, as a failed check always did. Cases
 * join their threads before they check what the threads did. */
#ifndef QUARRY_CHECK_H
#define QUARRY_CHECK_H

#include "quarry.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the cases and the runner's state ------------------------------------------------------ */

typedef struct check_case {
  const char *name;
  const char *file;
  int line;
  void (*fn)(void);
} check_case;

#define CHECK_MAX_CASES 256
#define CHECK_MAX_DBS 64

static check_case check_cases_[CHECK_MAX_CASES]; /* filled by TEST's constructors */
static int check_ncases_;

static struct {
  const char *name;         /* the running case, NULL between cases */
  jmp_buf jump;             /* where a failed check returns to */
  pid_t pid;                /* the runner's process: a forked child aborts instead */
  int allow_children;       /* CHECK_ALLOW_LIVE_CHILDREN() was called */
  int ndbs;                 /* databases the case opened and has not closed */
  quarry_db *dbs[CHECK_MAX_DBS];
} check_state_;
static _Thread_local int check_in_runner_; /* set in the runner's thread while a case runs */

static inline void check_register_(const char *name, const char *file, int line,
                                   void (*fn)(void)) {
  if (check_ncases_ == CHECK_MAX_CASES) {
    fprintf(stderr, "%s:%d: more than %d cases in one file\n", file, line, CHECK_MAX_CASES);
    abort();
  }
  check_cases_[check_ncases_++] = (check_case){name, file, line, fn};
}

/* Defines the case `name`: a function registered (before main) in the order of the file. */
#define TEST(name)                                                                             \
  static void check_case_##name(void);                                                         \
  __attribute__((constructor)) static void check_register_##name(void) {                       \
    check_register_(#name, __FILE__, __LINE__, check_case_##name);                             \
  }                                                                                            \
  static void check_case_##name(void)

static inline void check_fail_begin_(const char *file, int line) {
  fflush(stdout);
  fprintf(stderr, "%s:%d: case %s: ", file, line,
          check_state_.name ? check_state_.name : "(no case)");
}

/* Ends the running case, or the process where the runner cannot be reached. */
_Noreturn static inline void check_fail_end_(void) {
  fputc('\n', stderr);
  fflush(stderr);
  if (check_in_runner_ && getpid() == check_state_.pid)
    longjmp(check_state_.jump, 1);
  fprintf(stderr, "(a failed check outside the runner's thread or process: aborting)\n");
  abort();
}

#define CHECK_FAIL_(...)                                                                       \
  do {                                                                                         \
    check_fail_begin_(__FILE__, __LINE__);                                                     \
    fprintf(stderr, __VA_ARGS__);                                                              \
    check_fail_end_();                                                                         \
  } while (0)

/* ---- assertions ----------------------------------------------------------------------------- */

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

/* No child handle of db left open (every close checks it too, see quarry_db_close below). */
#define CHECK_NO_CHILDREN(db)                                                                  \
  do {                                                                                         \
    CHECK_EQ_INT(quarry_db_live_iterators(db), 0);                                             \
    CHECK_EQ_INT(quarry_db_live_snapshots(db), 0);                                             \
    CHECK_EQ_INT(quarry_db_live_batches(db), 0);                                               \
  } while (0)

/* The running case closes databases with live children on purpose. */
#define CHECK_ALLOW_LIVE_CHILDREN() (check_state_.allow_children = 1)

/* Puts a C-string pair into db/cf with default write options. */
#define PUT(db, cf, k, v) CHECK_OK(quarry_put((db), (cf), NULL, (k), strlen(k), (v), strlen(v)))

/* ---- the databases a case opens ------------------------------------------------------------ */

static inline int check_db_open_(const char *path, const quarry_options *o, quarry_db **out) {
  int rc = quarry_db_open(path, o, out);
  if (rc == 0 && check_state_.name != NULL) {
    if (check_state_.ndbs == CHECK_MAX_DBS) {
      fprintf(stderr, "check.h: case %s holds more than %d databases open\n", check_state_.name,
              CHECK_MAX_DBS);
      abort();
    }
    check_state_.dbs[check_state_.ndbs++] = *out;
  }
  return rc;
}

static inline int check_db_close_(quarry_db *db, const char *file, int line) {
  int i, it, sn, ba;
  if (db == NULL)
    return quarry_db_close(db);
  it = quarry_db_live_iterators(db);
  sn = quarry_db_live_snapshots(db);
  ba = quarry_db_live_batches(db);
  if ((it || sn || ba) && !check_state_.allow_children && check_state_.name != NULL) {
    check_fail_begin_(file, line);
    fprintf(stderr, "closing %s with live children: %d iterators, %d snapshots, %d batches",
            quarry_db_path(db), it, sn, ba);
    check_fail_end_();
  }
  for (i = 0; i < check_state_.ndbs; i++)
    if (check_state_.dbs[i] == db) {
      check_state_.dbs[i] = check_state_.dbs[--check_state_.ndbs];
      break;
    }
  return quarry_db_close(db);
}

#define quarry_db_open(path, opts, out) check_db_open_((path), (opts), (out))
#define quarry_db_close(db) check_db_close_((db), __FILE__, __LINE__)

/* ---- temporary directories and small helpers ----------------------------------------------- */

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

/* A fresh directory under $QUARRY_TEST_TMP (fallback /tmp), named after the test and the running
 * case. Returns a static buffer per slot (0..3) so a case can hold a few at once. */
__attribute__((noinline, unused)) static const char *check_tmpdir(int slot, const char *name) {
  static char bufs[4][1024];
  const char *base = getenv("QUARRY_TEST_TMP");
  char *p = bufs[slot & 3];
  if (base == NULL || *base == '\0')
    base = "/tmp";
  mkdir(base, 0777);
  if (snprintf(p, sizeof bufs[0], "%s/quarry-%s-%s-%ld-%d", base, name,
               check_state_.name ? check_state_.name : "main", (long)getpid(),
               slot) >= (int)sizeof bufs[0])
    CHECK_FAIL_("path too long under %s", base);
  check_rmrf(p);
  if (mkdir(p, 0777) != 0)
    CHECK_FAIL_("mkdir %s: %s", p, strerror(errno));
  return p;
}

/* A path under dir (static buffer per slot). Both are out of line: inlined, gcc would size every
 * path a test builds from them by the whole static array and warn of truncations. */
__attribute__((noinline, unused)) static const char *check_path(int slot, const char *dir, const char *leaf) {
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

/* ---- the runner ------------------------------------------------------------------------------ */

/* Runs c; 1 when it failed. The only setjmp: nothing here changes between it and a longjmp. */
static inline int check_run_one_(const check_case *c) {
  check_state_.name = c->name;
  check_state_.allow_children = 0;
  check_state_.ndbs = 0;
  if (setjmp(check_state_.jump) != 0) {
    check_in_runner_ = 0;
    return 1;
  }
  check_in_runner_ = 1;
  c->fn();
  check_in_runner_ = 0;
  return 0;
}

/* After c: a database still open fails it (when nothing else did); each is closed either way. */
static inline int check_teardown_(const check_case *c, int failed) {
  while (check_state_.ndbs > 0) {
    quarry_db *db = check_state_.dbs[--check_state_.ndbs];
    if (!failed) {
      check_fail_begin_(c->file, c->line);
      fprintf(stderr, "%s left open (%d iterators, %d snapshots, %d batches)\n",
              quarry_db_path(db), quarry_db_live_iterators(db), quarry_db_live_snapshots(db),
              quarry_db_live_batches(db));
      failed = 1;
    }
    (quarry_db_close)(db);
  }
  check_state_.name = NULL;
  return failed;
}

/* Runs the cases of the table whose names are in names[0..nnames) (all of them when nnames is 0),
 * in table order. Returns the exit status: 0 all passed, 1 some failed, 2 an unknown name. */
static inline int check_run(const check_case *cases, int ncases, int nnames, char **names) {
  int i, j, run = 0, failed = 0;
  for (j = 0; j < nnames; j++) {
    for (i = 0; i < ncases && strcmp(cases[i].name, names[j]) != 0; i++)
      ;
    if (i == ncases) {
      fprintf(stderr, "no case named '%s'; the cases are:", names[j]);
      for (i = 0; i < ncases; i++)
        fprintf(stderr, " %s", cases[i].name);
      fputc('\n', stderr);
      return 2;
    }
  }
  check_state_.pid = getpid();
  for (i = 0; i < ncases; i++) {
    int f;
    for (j = 0; j < nnames && strcmp(cases[i].name, names[j]) != 0; j++)
      ;
    if (nnames > 0 && j == nnames)
      continue;
    f = check_teardown_(&cases[i], check_run_one_(&cases[i]));
    fflush(stderr);
    printf("%s %s\n", f ? "FAIL" : "ok  ", cases[i].name);
    fflush(stdout);
    run++;
    failed += f;
  }
  printf("%d cases, %d failed\n", run, failed);
  fflush(stdout);
  return failed ? 1 : 0;
}

/* The registered cases, in the order of the file (constructors may run in either order). */
static inline int check_main_(int argc, char **argv) {
  int i, j;
  for (i = 1; i < check_ncases_; i++) {
    check_case c = check_cases_[i];
    for (j = i; j > 0 && check_cases_[j - 1].line > c.line; j--)
      check_cases_[j] = check_cases_[j - 1];
    check_cases_[j] = c;
  }
  if (argc == 2 && strcmp(argv[1], "--list") == 0) {
    for (i = 0; i < check_ncases_; i++)
      printf("%s\n", check_cases_[i].name);
    return 0;
  }
  return check_run(check_cases_, check_ncases_, argc - 1, argv + 1);
}

#ifndef CHECK_NO_MAIN
int main(int argc, char **argv) { return check_main_(argc, argv); }
#endif

#endif

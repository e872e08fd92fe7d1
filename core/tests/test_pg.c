/* test_pg.c: the PostgreSQL backend (core/src/backend_postgresql.c) against a server the harness
 * starts: QUARRY_TEST_PG_URL (e.g. postgresql://postgres@127.0.0.1:55440/postgres, a superuser:
 * the tests create and drop their own schemas and terminate backends). Without it every case
 * prints "skipped: QUARRY_TEST_PG_URL is not set" (CTest reports the test as skipped).
 * QUARRY_TEST_PG_AUTH_URL, when set, is a URL with the right password of a role the server
 * authenticates by password: the wrong-password case uses it.
 * Each case works in its own schema (?schema=qt_<case>_<pid>), dropped at its end. The RocksDB
 * backend is the oracle of the iterator cases: the same operations on both, the same results. */
#include "check.h"

#include <libpq-fe.h>
#include <pthread.h>

static char url_buf[2048];

/* The case's URL (its own schema), or NULL when no server is given (then prints the skip). */
static const char *pg_url(const char *tag) {
  const char *base = getenv("QUARRY_TEST_PG_URL");
  if (base == NULL || *base == '\0') {
    const char *required = getenv("QUARRY_TEST_PG_REQUIRED"), *why = getenv("QUARRY_TEST_PG_ERROR");
    if (required && strcmp(required, "1") == 0) /* scripts/test.sh: the server must be there */
      CHECK_FAIL_("QUARRY_TEST_PG_REQUIRED=1 but QUARRY_TEST_PG_URL is not set (%s)",
                  why && *why ? why : "the harness did not start a server");
    printf("skipped: QUARRY_TEST_PG_URL is not set (case %s)\n", check_state_.name);
    return NULL;
  }
  /* application_name marks this process's connections: the cases that end connections on the
   * server end only those */
  snprintf(url_buf, sizeof url_buf, "%s%cschema=qt_%s_%ld&application_name=qt_%ld", base,
           strchr(base, '?') ? '&' : '?', tag, (long)getpid(), (long)getpid());
  return url_buf;
}

/* A superuser connection of the test itself (the second tool: plain libpq), in the database of
 * QUARRY_TEST_PG_URL: QUARRY_TEST_PG_ADMIN (a conninfo, as scripts/pg-server.sh env prints),
 * else QUARRY_TEST_PG_URL itself (then it must name a superuser). */
static PGconn *admin(void) {
  const char *adm = getenv("QUARRY_TEST_PG_ADMIN"), *url = getenv("QUARRY_TEST_PG_URL");
  char conninfo[2048];
  PGconn *c;
  if (adm && *adm) {
    PQconninfoOption *o = PQconninfoParse(url, NULL), *p;
    const char *dbname = NULL;
    for (p = o; p && p->keyword; p++)
      if (strcmp(p->keyword, "dbname") == 0)
        dbname = p->val;
    snprintf(conninfo, sizeof conninfo, "%s dbname='%s'", adm, dbname ? dbname : "postgres");
    PQconninfoFree(o);
  } else {
    snprintf(conninfo, sizeof conninfo, "%s", url);
  }
  c = PQconnectdb(conninfo);
  if (PQstatus(c) != CONNECTION_OK)
    CHECK_FAIL_("admin connection: %s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  return c;
}

static void sql(PGconn *c, const char *q) {
  PGresult *r = PQexec(c, q);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    CHECK_FAIL_("%s: %s", q, PQresultErrorMessage(r));
  PQclear(r);
}

/* Ends this process's quarry connections (application_name qt_<pid>) in the given state. */
static void terminate(PGconn *c, const char *state) {
  char q[512];
  snprintf(q, sizeof q,
           "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE state = '%s' AND "
           "application_name = 'qt_%ld' AND pid <> pg_backend_pid()",
           state, (long)getpid());
  sql(c, q);
}

static void drop_schema(const char *tag) {
  char q[256];
  PGconn *c = admin();
  snprintf(q, sizeof q, "DROP SCHEMA IF EXISTS qt_%s_%ld CASCADE", tag, (long)getpid());
  sql(c, q);
  PQfinish(c);
}

static quarry_db *open_pg(const char *url, int create) {
  quarry_options *o;
  quarry_db *db;
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_bool(o, "create_if_missing", create));
  CHECK_OK(quarry_db_open(url, o, &db));
  quarry_options_free(o);
  return db;
}

static double metric(quarry_db *db, quarry_metric id) {
  quarry_metrics *m;
  double v = -1;
  CHECK_OK(quarry_db_metrics(db, &m));
  CHECK_OK(quarry_metrics_value(m, id, &v));
  quarry_metrics_free(m);
  return v;
}

TEST(round_trip_of_every_operation) {
  const char *url = pg_url("rt");
  quarry_db *db;
  quarry_cf *cf, *cf2;
  quarry_value *v, *vals[4];
  quarry_batch *b;
  char **names;
  size_t n;
  const char *keys[4] = {"a", "zz", "b\0x", "c"};
  size_t klens[4] = {1, 2, 3, 1};
  if (url == NULL)
    return;
  drop_schema("rt");
  db = open_pg(url, 1);
  CHECK(strncmp(quarry_db_path(db), "postgres", 8) == 0);
  PUT(db, NULL, "a", "1");
  CHECK_OK(quarry_put(db, NULL, NULL, "b\0x", 3, "v\0w", 3));
  CHECK_GET(db, NULL, "a", "1");
  CHECK_OK(quarry_get(db, NULL, NULL, "b\0x", 3, &v));
  CHECK(v != NULL);
  {
    size_t len;
    const char *p = quarry_value_data(v, &len);
    CHECK_MEM(p, len, "v\0w", 3);
  }
  quarry_value_free(v);
  CHECK_OK(quarry_get(db, NULL, NULL, "nope", 4, &v));
  CHECK(v == NULL);
  PUT(db, NULL, "a", "2"); /* overwrite */
  CHECK_GET(db, NULL, "a", "2");
  CHECK_OK(quarry_multi_get(db, NULL, NULL, 4, keys, klens, vals));
  CHECK(vals[0] && vals[2] && !vals[1] && !vals[3]);
  {
    size_t len;
    const char *p = quarry_value_data(vals[0], &len);
    CHECK_MEM(p, len, "2", 1);
  }
  for (n = 0; n < 4; n++)
    quarry_value_free(vals[n]);
  CHECK_OK(quarry_delete(db, NULL, NULL, "a", 1));
  CHECK_GET(db, NULL, "a", NULL);
  /* families */
  CHECK_OK(quarry_db_create_cf(db, "blocks", &cf));
  CHECK_ERR(quarry_db_create_cf(db, "blocks", &cf2), QUARRY_EINVAL);
  CHECK_OK(quarry_db_cf_names(db, &names));
  CHECK_EQ_INT((int)check_count_names(names), 2);
  CHECK(check_has_name(names, "default") && check_has_name(names, "blocks"));
  quarry_free_names(names);
  PUT(db, cf, "k1", "x");
  PUT(db, cf, "k2", "y");
  PUT(db, cf, "k3", "z");
  CHECK_OK(quarry_delete_range(db, cf, NULL, "k1", 2, "k3", 2));
  CHECK_GET(db, cf, "k1", NULL);
  CHECK_GET(db, cf, "k2", NULL);
  CHECK_GET(db, cf, "k3", "z");
  CHECK_GET(db, NULL, "k3", NULL); /* families are separate tables */
  /* a batch across families, with a key written twice (the last wins) */
  CHECK_OK(quarry_batch_new(db, &b));
  CHECK_OK(quarry_batch_put(b, cf, "p", 1, "1", 1));
  CHECK_OK(quarry_batch_put(b, NULL, "q", 1, "1", 1));
  CHECK_OK(quarry_batch_put(b, cf, "p", 1, "2", 1));
  CHECK_OK(quarry_batch_put(b, cf, "r", 1, "3", 1));
  CHECK_OK(quarry_batch_delete(b, cf, "k3", 2));
  CHECK_OK(quarry_batch_delete_range(b, NULL, "b", 1, "c", 1));
  CHECK_OK(quarry_batch_count(b, &n));
  CHECK_EQ_INT((int)n, 6);
  CHECK_OK(quarry_db_write(db, b, NULL));
  quarry_batch_close(b);
  CHECK_GET(db, cf, "p", "2");
  CHECK_GET(db, cf, "r", "3");
  CHECK_GET(db, cf, "k3", NULL);
  CHECK_GET(db, NULL, "q", "1");
  CHECK_OK(quarry_get(db, NULL, NULL, "b\0x", 3, &v));
  CHECK(v == NULL);
  /* what has no meaning there */
  CHECK_ERR(quarry_db_checkpoint(db, "/tmp/x"), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "pg_basebackup");
  CHECK_ERR(quarry_db_compact(db, NULL, NULL, 0, NULL, 0), QUARRY_ENOTSUPPORTED);
  {
    char *p;
    CHECK_ERR(quarry_db_property(db, NULL, "rocksdb.stats", &p), QUARRY_ENOTSUPPORTED);
  }
  CHECK_OK(quarry_db_flush(db, NULL));
  /* sync writes */
  {
    quarry_write_options w = QUARRY_WRITE_OPTIONS_INIT;
    w.sync = 1;
    CHECK_OK(quarry_put(db, NULL, &w, "s", 1, "1", 1));
    CHECK(metric(db, QUARRY_METRIC_WAL_SYNCED) >= 1);
  }
  CHECK(metric(db, QUARRY_METRIC_ROUND_TRIPS) > 10);
  CHECK_EQ_INT((int)metric(db, QUARRY_METRIC_PUTS), 7);
  /* drop, then every use of the view is NotFound */
  CHECK_OK(quarry_db_drop_cf(db, "blocks"));
  CHECK_ERR(quarry_put(db, cf, NULL, "p", 1, "1", 1), QUARRY_ENOTFOUND);
  CHECK_OK(quarry_db_close(db));
  /* reopen: the data and the families are there */
  db = open_pg(url, 0);
  CHECK_GET(db, NULL, "q", "1");
  CHECK_ERR(quarry_db_cf(db, "blocks", &cf), QUARRY_ENOTFOUND);
  CHECK_OK(quarry_db_close(db));
  CHECK_OK(quarry_list_column_families(url, &names));
  CHECK_EQ_INT((int)check_count_names(names), 1);
  quarry_free_names(names);
  drop_schema("rt");
}

/* ---- the RocksDB backend as the oracle of iterators ------------------------------------------ */
static unsigned rnd(unsigned *s) {
  *s = *s * 1103515245u + 12345u;
  return (*s >> 16) & 0x7fff;
}

/* A random key over a small alphabet with NUL and 0xFF, 1..4 bytes. */
static size_t rkey(unsigned *s, char *k) {
  static const char alpha[] = {'\0', 'a', 'b', (char)0xFF};
  size_t n = 1 + rnd(s) % 4, i;
  for (i = 0; i < n; i++)
    k[i] = alpha[rnd(s) % 4];
  return n;
}

/* Everything an iterator yields through a sequence of moves, as one byte string. */
static size_t trace(quarry_db *db, const quarry_iter_options *io, unsigned seed, char *out,
                    size_t cap) {
  quarry_iter *it;
  size_t used = 0, i;
  unsigned s = seed;
  CHECK_OK(quarry_iter_new(db, NULL, io, &it));
  for (i = 0; i < 60; i++) {
    unsigned m = rnd(&s) % 6;
    char k[8];
    size_t kl = rkey(&s, k), len;
    int rc = 0;
    const char *p;
    if ((m == 4 || m == 5) && !quarry_iter_valid(it))
      m = rnd(&s) % 4;
    switch (m) {
    case 0: rc = quarry_iter_first(it); break;
    case 1: rc = quarry_iter_last(it); break;
    case 2: rc = quarry_iter_seek(it, k, kl); break;
    case 3: rc = quarry_iter_seek_for_prev(it, k, kl); break;
    case 4: rc = quarry_iter_next(it); break;
    default: rc = quarry_iter_prev(it); break;
    }
    CHECK_EQ_INT(rc, 0);
    if (used + 64 > cap)
      break;
    out[used++] = (char)('0' + m);
    if (quarry_iter_valid(it)) {
      p = quarry_iter_key(it, &len);
      memcpy(out + used, p, len);
      used += len;
      out[used++] = '=';
      p = quarry_iter_value(it, &len);
      memcpy(out + used, p, len);
      used += len;
    } else {
      out[used++] = '!';
    }
    out[used++] = ';';
  }
  /* and a whole walk with step, honouring reverse and limit */
  quarry_iter_close(it);
  CHECK_OK(quarry_iter_new(db, NULL, io, &it));
  {
    const char *k, *v;
    size_t kl, vl;
    int rc;
    while ((rc = quarry_iter_step(it, &k, &kl, &v, &vl)) == 1 && used + 64 < cap) {
      memcpy(out + used, k, kl);
      used += kl;
      out[used++] = '|';
    }
    CHECK(rc >= 0);
  }
  quarry_iter_close(it);
  return used;
}

static void fill_both(quarry_db *a, quarry_db *b, unsigned seed, int n) {
  unsigned s = seed;
  int i;
  quarry_batch *ba, *bb;
  CHECK_OK(quarry_batch_new(a, &ba));
  CHECK_OK(quarry_batch_new(b, &bb));
  for (i = 0; i < n; i++) {
    char k[8], v[16];
    size_t kl = rkey(&s, k);
    int vl = snprintf(v, sizeof v, "v%d", i);
    if (rnd(&s) % 5 == 0) {
      CHECK_OK(quarry_batch_delete(ba, NULL, k, kl));
      CHECK_OK(quarry_batch_delete(bb, NULL, k, kl));
    } else {
      CHECK_OK(quarry_batch_put(ba, NULL, k, kl, v, (size_t)vl));
      CHECK_OK(quarry_batch_put(bb, NULL, k, kl, v, (size_t)vl));
    }
  }
  CHECK_OK(quarry_db_write(a, ba, NULL));
  CHECK_OK(quarry_db_write(b, bb, NULL));
  quarry_batch_close(ba);
  quarry_batch_close(bb);
}

TEST(iterators_match_rocksdb) {
  const char *url = pg_url("it"), *dir;
  quarry_db *pg, *rdb;
  static char ta[65536], tb[65536];
  unsigned seed = 20261203u, round;
  if (url == NULL)
    return;
  drop_schema("it");
  dir = check_tmpdir(0, "pg-oracle");
  pg = open_pg(url, 1);
  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &rdb));
  fill_both(rdb, pg, seed, 400);
  for (round = 0; round < 80; round++) {
    quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
    unsigned s = seed + round;
    char from[8], to[8], prefix[8];
    size_t la, lb;
    if (rnd(&s) % 2) {
      io.from = from;
      io.from_len = rkey(&s, from);
    }
    if (rnd(&s) % 2) {
      io.to = to;
      io.to_len = rkey(&s, to);
    }
    if (rnd(&s) % 3 == 0) {
      io.prefix = prefix;
      io.prefix_len = rkey(&s, prefix) % 3; /* 0..2 bytes: the empty prefix too */
    }
    io.reverse = rnd(&s) % 2;
    io.limit = rnd(&s) % 4 == 0 ? (int64_t)(rnd(&s) % 10) : -1;
    io.keys_only = rnd(&s) % 4 == 0;
    la = trace(rdb, &io, s, ta, sizeof ta);
    lb = trace(pg, &io, s, tb, sizeof tb);
    if (la != lb || memcmp(ta, tb, la) != 0) {
      size_t i;
      for (i = 0; i < la && i < lb && ta[i] == tb[i]; i++)
        ;
      fprintf(stderr, "first difference at byte %zu of %zu/%zu\nrocksdb:    ", i, la, lb);
      for (size_t j = i > 40 ? i - 40 : 0; j < la && j < i + 40; j++)
        fprintf(stderr, ta[j] >= 32 && ta[j] < 127 ? "%c" : "\\x%02x", (unsigned char)ta[j]);
      fprintf(stderr, "\npostgresql: ");
      for (size_t j = i > 40 ? i - 40 : 0; j < lb && j < i + 40; j++)
        fprintf(stderr, tb[j] >= 32 && tb[j] < 127 ? "%c" : "\\x%02x", (unsigned char)tb[j]);
      fprintf(stderr, "\nfrom %d to %d prefix %d (%zu) reverse %d limit %lld keys_only %d\n",
              io.from != NULL, io.to != NULL, io.prefix != NULL, io.prefix_len, io.reverse,
              (long long)io.limit, io.keys_only);
      CHECK_FAIL_("seed %u round %u: the PostgreSQL iterator differs from RocksDB's", seed, round);
    }
  }
  CHECK_OK(quarry_db_close(rdb));
  CHECK_OK(quarry_db_close(pg));
  check_rmrf(dir);
  drop_schema("it");
}

/* More rows than one page (512) and pages cut by bytes: a full walk both ways and a step across a
 * page boundary against the keys written. */
TEST(iterator_pages) {
  const char *url = pg_url("pages");
  quarry_db *db;
  quarry_batch *b;
  quarry_iter *it;
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  static char big[300000];
  const char *k, *v;
  size_t kl, vl;
  int i, n;
  if (url == NULL)
    return;
  drop_schema("pages");
  db = open_pg(url, 1);
  CHECK_OK(quarry_batch_new(db, &b));
  memset(big, 'x', sizeof big);
  for (i = 0; i < 1500; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%05d", i);
    /* every 100th value is large: 20 of them (6 MB) make pages end by bytes */
    CHECK_OK(quarry_batch_put(b, NULL, key, strlen(key), big, i % 100 == 0 ? sizeof big : 3));
  }
  CHECK_OK(quarry_db_write(db, b, NULL));
  quarry_batch_close(b);
  for (int rev = 0; rev < 2; rev++) {
    io.reverse = rev;
    CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
    n = 0;
    while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1) {
      char want[16];
      int idx = rev ? 1499 - n : n;
      snprintf(want, sizeof want, "k%05d", idx);
      CHECK_MEM(k, kl, want, strlen(want));
      CHECK_EQ_INT((int)vl, idx % 100 == 0 ? (int)sizeof big : 3);
      n++;
    }
    CHECK_EQ_INT(n, 1500);
    quarry_iter_close(it);
  }
  /* next then prev across the first page's end */
  io.reverse = 0;
  CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
  CHECK_OK(quarry_iter_seek(it, "k00510", 6));
  for (i = 0; i < 10; i++)
    CHECK_OK(quarry_iter_next(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "k00520", 6);
  for (i = 0; i < 30; i++)
    CHECK_OK(quarry_iter_prev(it));
  k = quarry_iter_key(it, &kl);
  CHECK_MEM(k, kl, "k00490", 6);
  quarry_iter_close(it);
  CHECK_OK(quarry_db_close(db));
  drop_schema("pages");
}

TEST(batch_with_a_failing_op_leaves_nothing) {
  const char *url = pg_url("atom");
  quarry_db *db;
  quarry_cf *cf;
  quarry_batch *b;
  PGconn *c;
  char q[256];
  int rc;
  if (url == NULL)
    return;
  drop_schema("atom");
  db = open_pg(url, 1);
  CHECK_OK(quarry_db_create_cf(db, "gone", &cf));
  PUT(db, NULL, "keep", "old");
  CHECK_OK(quarry_batch_new(db, &b));
  CHECK_OK(quarry_batch_put(b, NULL, "keep", 4, "new", 3));
  CHECK_OK(quarry_batch_put(b, NULL, "x", 1, "1", 1));
  CHECK_OK(quarry_batch_put(b, cf, "y", 1, "1", 1));
  CHECK_OK(quarry_batch_put(b, NULL, "z", 1, "1", 1));
  /* another client drops the family's table: the batch's third statement fails */
  c = admin();
  snprintf(q, sizeof q, "DROP TABLE qt_atom_%ld.gone", (long)getpid());
  sql(c, q);
  rc = quarry_db_write(db, b, NULL);
  CHECK_EQ_INT(rc, QUARRY_ENOTFOUND);
  CHECK_CONTAINS(quarry_last_error(), "gone");
  CHECK_CONTAINS(quarry_last_error(), "nothing was written");
  quarry_batch_close(b);
  CHECK_GET(db, NULL, "keep", "old");
  CHECK_GET(db, NULL, "x", NULL);
  CHECK_GET(db, NULL, "z", NULL);
  /* the second tool agrees */
  snprintf(q, sizeof q, "SELECT count(*) FROM qt_atom_%ld.\"default\"", (long)getpid());
  {
    PGresult *r = PQexec(c, q);
    CHECK_STR(PQgetvalue(r, 0, 0), "1");
    PQclear(r);
  }
  PQfinish(c);
  CHECK_OK(quarry_db_close(db));
  drop_schema("atom");
}

TEST(snapshot_isolation) {
  const char *url = pg_url("snap");
  quarry_db *db;
  quarry_snapshot *s;
  quarry_iter *it, *it_latest;
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  quarry_read_options ro = QUARRY_READ_OPTIONS_INIT;
  const char *k, *v;
  size_t kl, vl;
  int n;
  if (url == NULL)
    return;
  drop_schema("snap");
  db = open_pg(url, 1);
  PUT(db, NULL, "a", "1");
  PUT(db, NULL, "b", "1");
  CHECK_OK(quarry_snapshot_new(db, &s));
  CHECK(quarry_snapshot_sequence(s) > 0);
  /* an iterator without a snapshot reads at its first positioning, and keeps that view */
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it_latest));
  CHECK_OK(quarry_iter_first(it_latest));
  PUT(db, NULL, "a", "2");
  PUT(db, NULL, "c", "2");
  CHECK_OK(quarry_delete(db, NULL, NULL, "b", 1));
  ro.snapshot = s;
  {
    quarry_value *val;
    CHECK_OK(quarry_get(db, NULL, &ro, "a", 1, &val));
    CHECK(val != NULL);
    CHECK_MEM(quarry_value_data(val, &vl), vl, "1", 1);
    quarry_value_free(val);
    CHECK_OK(quarry_get(db, NULL, &ro, "c", 1, &val));
    CHECK(val == NULL);
  }
  CHECK_GET(db, NULL, "a", "2");
  io.snapshot = s;
  for (int which = 0; which < 2; which++) {
    if (which == 0) {
      CHECK_OK(quarry_iter_new(db, NULL, &io, &it));
    } else {
      it = it_latest;
      CHECK_OK(quarry_iter_first(it)); /* placed again, after the writes: the same view */
    }
    n = 0;
    while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1) {
      CHECK_MEM(v, vl, "1", 1);
      n++;
    }
    CHECK_EQ_INT(n, 2); /* a=1, b=1 */
    quarry_iter_close(it);
  }
  quarry_snapshot_close(s);
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
  n = 0;
  while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1)
    n++;
  CHECK_EQ_INT(n, 2); /* a=2, c=2 */
  quarry_iter_close(it);
  CHECK_OK(quarry_db_close(db));
  drop_schema("snap");
}

/* ---- a deadlock provoked with a second client: the batch is retried and lands --------------- */
typedef struct {
  quarry_db *db;
  int rc;
} writer_arg;

static void *writer(void *p) {
  writer_arg *a = p;
  quarry_batch *b;
  a->rc = quarry_batch_new(a->db, &b);
  if (a->rc == 0) {
    /* three statements in this order (a delete between keeps the puts apart) */
    quarry_batch_put(b, NULL, "B", 1, "quarry", 6);
    quarry_batch_delete(b, NULL, "none", 4);
    quarry_batch_put(b, NULL, "A", 1, "quarry", 6); /* waits on the other client's A */
    a->rc = quarry_db_write(a->db, b, NULL);
    quarry_batch_close(b);
  }
  return NULL;
}

static int waiting_on_lock(PGconn *c, int want) {
  char q[256];
  PGresult *r;
  snprintf(q, sizeof q, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND "
           "application_name = 'qt_%ld'", (long)getpid());
  r = PQexec(c, q);
  int n = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return n >= want;
}

TEST(deadlock_is_retried) {
  const char *url = pg_url("dl");
  quarry_db *db;
  PGconn *t, *watch;
  pthread_t th;
  writer_arg a;
  char q[256];
  PGresult *r;
  int i;
  if (url == NULL)
    return;
  drop_schema("dl");
  db = open_pg(url, 1);
  t = admin();
  watch = admin();
  /* the other client detects deadlocks late: the quarry transaction (1 s) is the victim */
  sql(t, "SET deadlock_timeout = '60s'");
  sql(t, "BEGIN");
  snprintf(q, sizeof q, "INSERT INTO qt_dl_%ld.\"default\" VALUES ('A', 'other')", (long)getpid());
  sql(t, q);
  a.db = db;
  a.rc = 1;
  CHECK(pthread_create(&th, NULL, writer, &a) == 0);
  for (i = 0; i < 3000 && !waiting_on_lock(watch, 1); i++)
    usleep(10000);
  CHECK(waiting_on_lock(watch, 1));
  /* the other client now wants B, which the quarry transaction holds: a deadlock cycle */
  snprintf(q, sizeof q,
           "INSERT INTO qt_dl_%ld.\"default\" VALUES ('B', 'other') ON CONFLICT (k) DO UPDATE SET "
           "v = EXCLUDED.v",
           (long)getpid());
  r = PQexec(t, q);
  CHECK_EQ_INT((int)PQresultStatus(r), (int)PGRES_COMMAND_OK);
  PQclear(r);
  sql(t, "COMMIT");
  pthread_join(th, NULL);
  CHECK_EQ_INT(a.rc, 0);
  CHECK(metric(db, QUARRY_METRIC_RETRIES) >= 1);
  CHECK_GET(db, NULL, "A", "quarry");
  CHECK_GET(db, NULL, "B", "quarry");
  PQfinish(t);
  PQfinish(watch);
  CHECK_OK(quarry_db_close(db));
  drop_schema("dl");
}

/* ---- bad inputs --------------------------------------------------------------------------------- */
TEST(bad_url_refused_missing_and_redaction) {
  const char *url = pg_url("err");
  quarry_db *db = NULL;
  quarry_options *o;
  if (url == NULL)
    return;
  drop_schema("err");
  CHECK_ERR(quarry_db_open("postgresql://u:s3cr3t@[::1/x", NULL, &db), QUARRY_EINVAL);
  CHECK(strstr(quarry_last_error(), "s3cr3t") == NULL);
  CHECK_ERR(quarry_db_open("postgresql://h/db?schema=bad-name", NULL, &db), QUARRY_EINVAL);
  CHECK_CONTAINS(quarry_last_error(), "schema");
  /* nothing listens on port 1 */
  CHECK_ERR(quarry_db_open("postgresql://u:s3cr3t@127.0.0.1:1/db", NULL, &db), QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "cannot connect to postgresql://u:***@127.0.0.1:1/db");
  CHECK(strstr(quarry_last_error(), "s3cr3t") == NULL);
  CHECK_ERR(quarry_db_open("postgresql://127.0.0.1:1/db?password=s3cr3t&connect_timeout=2", NULL,
                           &db),
            QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "password=***");
  CHECK(strstr(quarry_last_error(), "s3cr3t") == NULL);
  /* a missing table, create_if_missing off */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_bool(o, "create_if_missing", 0));
  CHECK_ERR(quarry_db_open(url, o, &db), QUARRY_ENOTFOUND);
  CHECK_CONTAINS(quarry_last_error(), "\"default\"");
  CHECK_OK(quarry_options_add_column_family(o, "blocks"));
  quarry_options_free(o);
  /* secondary has no meaning */
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "secondary"));
  CHECK_OK(quarry_options_set_string(o, "secondary_path", "/tmp/x"));
  CHECK_ERR(quarry_db_open(url, o, &db), QUARRY_ENOTSUPPORTED);
  quarry_options_free(o);
  CHECK_ERR(quarry_destroy(url), QUARRY_ENOTSUPPORTED);
  CHECK_CONTAINS(quarry_last_error(), "DROP SCHEMA");
  /* a read_only handle refuses writes */
  quarry_db_close(open_pg(url, 1));
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_string(o, "mode", "read_only"));
  CHECK_OK(quarry_db_open(url, o, &db));
  quarry_options_free(o);
  CHECK_ERR(quarry_put(db, NULL, NULL, "a", 1, "b", 1), QUARRY_ENOTSUPPORTED);
  CHECK_STR(quarry_db_mode(db), "read_only");
  CHECK_OK(quarry_db_close(db));
  drop_schema("err");
}

TEST(wrong_password) {
  const char *auth = getenv("QUARRY_TEST_PG_AUTH_URL");
  const char *base = getenv("QUARRY_TEST_PG_URL");
  char bad[1024];
  const char *at, *colon;
  quarry_db *db = NULL;
  if (pg_url("pw") == NULL)
    return;
  if ((auth == NULL || *auth == '\0') && (at = strrchr(base, '@')) != NULL && at - base > 13 &&
      memchr(base + 13, ':', (size_t)(at - base - 13)))
    auth = base; /* pg-server.sh's URL: a password-authenticated role */
  if (auth == NULL || *auth == '\0' || (at = strrchr(auth, '@')) == NULL ||
      (colon = memchr(auth + 13, ':', (size_t)(at - auth - 13))) == NULL) {
    printf("wrong_password not run: neither QUARRY_TEST_PG_AUTH_URL nor QUARRY_TEST_PG_URL has "
           "user:password@\n");
    return;
  }
  /* the right URL opens; the same with another password is refused, the password never shown */
  CHECK_OK(quarry_db_open(auth, NULL, &db));
  CHECK(strstr(quarry_db_path(db), ":***@") != NULL);
  CHECK_OK(quarry_db_close(db));
  snprintf(bad, sizeof bad, "%.*s:Wr0ngPassw0rd%s", (int)(colon - auth), auth, at);
  CHECK_ERR(quarry_db_open(bad, NULL, &db), QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "password authentication failed");
  CHECK(strstr(quarry_last_error(), "Wr0ngPassw0rd") == NULL);
  /* a one-letter password is redacted as a word, not out of every word holding that letter */
  snprintf(bad, sizeof bad, "%.*s:e%s", (int)(colon - auth), auth, at);
  CHECK_ERR(quarry_db_open(bad, NULL, &db), QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "password authentication failed");
  CHECK_CONTAINS(quarry_last_error(), ":***@");
}

/* The server ends the iterator's connection between two pages: a clear error, no crash; the
 * handle goes on with new connections. */
TEST(connection_killed_mid_iterator) {
  const char *url = pg_url("kill");
  quarry_db *db;
  quarry_batch *b;
  quarry_iter *it;
  PGconn *c;
  const char *k, *v;
  size_t kl, vl;
  int i, rc;
  if (url == NULL)
    return;
  drop_schema("kill");
  db = open_pg(url, 1);
  CHECK_OK(quarry_batch_new(db, &b));
  for (i = 0; i < 1200; i++) {
    char key[16];
    snprintf(key, sizeof key, "k%05d", i);
    CHECK_OK(quarry_batch_put(b, NULL, key, strlen(key), "v", 1));
  }
  CHECK_OK(quarry_db_write(db, b, NULL));
  quarry_batch_close(b);
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
  for (i = 0; i < 100; i++)
    CHECK_EQ_INT(quarry_iter_step(it, &k, &kl, &v, &vl), 1);
  c = admin();
  terminate(c, "idle in transaction");
  PQfinish(c);
  while ((rc = quarry_iter_step(it, &k, &kl, &v, &vl)) == 1)
    i++;
  CHECK_EQ_INT(rc, QUARRY_EIO);
  CHECK_CONTAINS(quarry_last_error(), "lost while iterating");
  CHECK(i < 1200);
  CHECK_ERR(quarry_iter_next(it), QUARRY_EIO);
  quarry_iter_close(it);
  /* the pool's connections were not touched; new iterators and writes work */
  PUT(db, NULL, "after", "1");
  CHECK_GET(db, NULL, "after", "1");
  CHECK_OK(quarry_db_close(db));
  drop_schema("kill");
}

/* Pooled connections the server closed are replaced: the next operations succeed. */
TEST(pooled_connections_terminated) {
  const char *url = pg_url("pool");
  quarry_db *db;
  PGconn *c;
  if (url == NULL)
    return;
  drop_schema("pool");
  db = open_pg(url, 1);
  PUT(db, NULL, "a", "1");
  c = admin();
  terminate(c, "idle");
  PQfinish(c);
  usleep(100000); /* the termination notice reaches the idle sockets */
  PUT(db, NULL, "b", "2");
  CHECK_GET(db, NULL, "a", "1");
  CHECK_OK(quarry_db_close(db));
  drop_schema("pool");
}

/* Several threads on one handle, as with RocksDB: every write lands, every read sees its own. */
typedef struct {
  quarry_db *db;
  int id, failures;
} tharg;

static void *worker(void *p) {
  tharg *a = p;
  int i;
  for (i = 0; i < 50; i++) {
    char k[32], v[32];
    quarry_value *val = NULL;
    snprintf(k, sizeof k, "t%d-%d", a->id, i);
    snprintf(v, sizeof v, "%d", i * a->id);
    if (quarry_put(a->db, NULL, NULL, k, strlen(k), v, strlen(v)) != 0 ||
        quarry_get(a->db, NULL, NULL, k, strlen(k), &val) != 0 || val == NULL)
      a->failures++;
    quarry_value_free(val);
  }
  return NULL;
}

TEST(threads_share_a_handle) {
  const char *url = pg_url("thr");
  quarry_db *db;
  pthread_t th[4];
  tharg a[4];
  quarry_iter *it;
  const char *k, *v;
  size_t kl, vl;
  int i, n = 0;
  if (url == NULL)
    return;
  drop_schema("thr");
  db = open_pg(url, 1);
  for (i = 0; i < 4; i++) {
    a[i].db = db;
    a[i].id = i + 1;
    a[i].failures = 0;
    CHECK(pthread_create(&th[i], NULL, worker, &a[i]) == 0);
  }
  for (i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    CHECK_EQ_INT(a[i].failures, 0);
  }
  CHECK_OK(quarry_iter_new(db, NULL, NULL, &it));
  while (quarry_iter_step(it, &k, &kl, &v, &vl) == 1)
    n++;
  quarry_iter_close(it);
  CHECK_EQ_INT(n, 200);
  CHECK_OK(quarry_db_close(db));
  drop_schema("thr");
}

TEST(digest_matches_rocksdb) {
  const char *url = pg_url("dig"), *dir;
  quarry_db *pg, *rdb;
  quarry_scan_report *ra, *rb;
  quarry_cf *c1, *c2;
  if (url == NULL)
    return;
  drop_schema("dig");
  dir = check_tmpdir(0, "pg-digest");
  pg = open_pg(url, 1);
  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &rdb));
  fill_both(rdb, pg, 7u, 300);
  CHECK_OK(quarry_db_create_cf(rdb, "b", &c1));
  CHECK_OK(quarry_db_create_cf(pg, "b", &c2));
  PUT(rdb, c1, "x", "y");
  PUT(pg, c2, "x", "y");
  CHECK_OK(quarry_db_digest(rdb, NULL, NULL, &ra));
  CHECK_OK(quarry_db_digest(pg, NULL, NULL, &rb));
  CHECK_STR(ra->digest, rb->digest);
  CHECK_EQ_INT((int)ra->keys, (int)rb->keys);
  quarry_scan_report_free(ra);
  quarry_scan_report_free(rb);
  CHECK_OK(quarry_db_verify(pg, &rb));
  CHECK_EQ_INT((int)rb->nfamilies, 2);
  quarry_scan_report_free(rb);
  CHECK_OK(quarry_db_close(rdb));
  CHECK_OK(quarry_db_close(pg));
  check_rmrf(dir);
  drop_schema("dig");
}

/* Children of one backend given to the other: refused as another database's, never read as
 * their own layout. */
TEST(children_of_the_other_backend) {
  const char *url = pg_url("mix"), *dir;
  quarry_db *pg, *rdb;
  quarry_snapshot *ps, *rs;
  quarry_batch *pb, *rb;
  quarry_iter *it;
  quarry_value *v;
  quarry_read_options ro = QUARRY_READ_OPTIONS_INIT;
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  if (url == NULL)
    return;
  drop_schema("mix");
  dir = check_tmpdir(0, "pg-mix");
  pg = open_pg(url, 1);
  CHECK_OK(quarry_db_open(check_path(0, dir, "db"), NULL, &rdb));
  CHECK_STR(quarry_db_backend(pg), "postgresql");
  CHECK_STR(quarry_db_backend(rdb), "rocksdb");
  CHECK_OK(quarry_snapshot_new(pg, &ps));
  CHECK_OK(quarry_snapshot_new(rdb, &rs));
  CHECK_OK(quarry_batch_new(pg, &pb));
  CHECK_OK(quarry_batch_new(rdb, &rb));
  ro.snapshot = ps;
  CHECK_ERR(quarry_get(rdb, NULL, &ro, "a", 1, &v), QUARRY_EINVAL);
  ro.snapshot = rs;
  CHECK_ERR(quarry_get(pg, NULL, &ro, "a", 1, &v), QUARRY_EINVAL);
  io.snapshot = ps;
  CHECK_ERR(quarry_iter_new(rdb, NULL, &io, &it), QUARRY_EINVAL);
  io.snapshot = rs;
  CHECK_ERR(quarry_iter_new(pg, NULL, &io, &it), QUARRY_EINVAL);
  CHECK_ERR(quarry_db_write(rdb, pb, NULL), QUARRY_EINVAL);
  CHECK_ERR(quarry_db_write(pg, rb, NULL), QUARRY_EINVAL);
  CHECK_OK(quarry_batch_put(pb, NULL, "a", 1, "b", 1)); /* its own family: fine */
  quarry_snapshot_close(ps);
  quarry_snapshot_close(rs);
  quarry_batch_close(pb);
  quarry_batch_close(rb);
  CHECK_OK(quarry_db_close(rdb));
  CHECK_OK(quarry_db_close(pg));
  check_rmrf(dir);
  drop_schema("mix");
}

/* statement_timeout_ms: a write waiting on another client's lock past it is TimedOut, and
 * nothing of it is written; a URL asking for TLS of a server without it is a clear IOError. */
TEST(statement_timeout_and_sslmode) {
  const char *url = pg_url("tmo");
  char tls[2200], q[256];
  quarry_options *o;
  quarry_db *db;
  PGconn *c;
  if (url == NULL)
    return;
  drop_schema("tmo");
  quarry_db_close(open_pg(url, 1));
  CHECK_OK(quarry_options_new(NULL, &o));
  CHECK_OK(quarry_options_set_int(o, "statement_timeout_ms", 300));
  CHECK_OK(quarry_db_open(url, o, &db));
  quarry_options_free(o);
  c = admin();
  sql(c, "BEGIN");
  snprintf(q, sizeof q, "INSERT INTO qt_tmo_%ld.\"default\" VALUES ('held', 'other')",
           (long)getpid());
  sql(c, q);
  CHECK_ERR(quarry_put(db, NULL, NULL, "held", 4, "quarry", 6), QUARRY_ETIMEDOUT);
  CHECK_CONTAINS(quarry_last_error(), "57014");
  sql(c, "ROLLBACK");
  PQfinish(c);
  CHECK_GET(db, NULL, "held", NULL);
  PUT(db, NULL, "held", "quarry"); /* the lock gone, the same write lands */
  CHECK_GET(db, NULL, "held", "quarry");
  CHECK_OK(quarry_db_close(db));
  /* a TLS demand: this harness's server has none (if it had, the open would just work) */
  snprintf(tls, sizeof tls, "%s&sslmode=require", url);
  {
    int rc = quarry_db_open(tls, NULL, &db);
    if (rc == 0) {
      printf("the server accepts TLS: sslmode=require opened\n");
      CHECK_OK(quarry_db_close(db));
    } else {
      CHECK_EQ_INT(rc, QUARRY_EIO);
      CHECK_CONTAINS(quarry_last_error(), "SSL");
    }
  }
  drop_schema("tmo");
}

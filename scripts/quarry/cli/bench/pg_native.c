/* pg_native.c: quarry_pg_native, the native side of `quarry bench --db postgresql://...`: a plain
 * libpq program running the bench workloads with the statements the PostgreSQL backend
 * (core/src/backend_postgresql.c) sends for them, so that `quarry bench` over a URL can be
 * compared with what libpq alone does (docs/performance.md, "PostgreSQL backend").
 *
 *   quarry_pg_native URL WORKLOAD NUM [KEY_SIZE [VALUE_SIZE [BATCH [SEED]]]]
 *
 * URL: a libpq URL (the password, if any, is never printed). The workloads use the table
 * "native"."default" of that database (created if missing; emptied before a writing workload as
 * quarry bench empties its own).
 * Keys are db_bench's (the key number as 8 bytes big-endian, padded with '0' bytes); values are
 * value-sized pieces of a 1 MiB pool, half random printable bytes repeated (as the Lua side).
 * Every connection runs with synchronous_commit = off and statement_timeout = 60000, as the
 * backend's connections with the default options. Statements, as the backend issues them:
 *   fillseq, fillrandom   INSERT INTO t (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET
 *                         v = EXCLUDED.v, one per key (db:put: one statement, implicit transaction)
 *   fillbatch             INSERT INTO t (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON
 *                         CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, BATCH keys each (db:put_many)
 *   deleterandom          DELETE FROM t WHERE k = $1
 *   readrandom            SELECT v FROM t WHERE k = $1 (binary)
 *   multireadrandom       SELECT q.i, t.v FROM unnest($1::bytea[]) WITH ORDINALITY AS q(k, i)
 *                         JOIN t ON t.k = q.k, BATCH keys each
 *   readseq, readreverse  an iterator: BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY and its first
 *                         page in one pipelined round trip, then pages of 16 rows doubling to 512
 *                         (one more asked) cut at about 4 MiB by a running sum, ORDER BY k ASC or
 *                         DESC, each after the last key of the one before; ROLLBACK at the end
 *   seekrandom            db:seek(key): [the previous iterator's ROLLBACK,] BEGIN ... READ ONLY and
 *                         a first page of 16 rows from k >= $1, pipelined in one round trip
 * Prints one line: `workload ops seconds ops_per_s found`. Exit 0, or 1 with libpq's message. */
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TABLE "\"native\".\"default\""
#define PAGE_ROWS 512
#define PAGE_BYTES (4 << 20)

static PGconn *conn;
static uint64_t rng;

static uint64_t next_random(void) { /* splitmix64 */
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, PGresult *r) {
  fprintf(stderr, "quarry_pg_native: %s: %s", what, r ? PQresultErrorMessage(r) : PQerrorMessage(conn));
  PQclear(r);
  PQfinish(conn);
  exit(1);
}

static void command(const char *sql) {
  PGresult *r = PQexec(conn, sql);
  if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
    die(sql, r);
  PQclear(r);
}

static void make_key(char *out, uint64_t k, int key_size) {
  int i;
  for (i = 0; i < 8; i++)
    out[i] = (char)(k >> (56 - 8 * i));
  memset(out + 8, '0', (size_t)(key_size - 8));
}

static void put32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24);
  p[1] = (char)(v >> 16);
  p[2] = (char)(v >> 8);
  p[3] = (char)v;
}

/* A one-dimensional bytea[] in PostgreSQL's binary array format, as the backend builds it. */
static char *bytea_array(int n, char *const *ptrs, const int *lens, int *outlen) {
  size_t total = 20;
  int i;
  char *buf, *p;
  for (i = 0; i < n; i++)
    total += 4 + (size_t)lens[i];
  if ((buf = malloc(total)) == NULL) {
    fprintf(stderr, "quarry_pg_native: out of memory\n");
    exit(1);
  }
  put32(buf, 1);
  put32(buf + 4, 0);
  put32(buf + 8, 17);
  put32(buf + 12, (uint32_t)n);
  put32(buf + 16, 1);
  p = buf + 20;
  for (i = 0; i < n; i++) {
    put32(p, (uint32_t)lens[i]);
    memcpy(p + 4, ptrs[i], (size_t)lens[i]);
    p += 4 + lens[i];
  }
  *outlen = (int)total;
  return buf;
}

/* The page query of the backend's iterators (core/src/backend_postgresql.c, fetch). */
static void page_sql(char *sql, size_t size, int desc, const char *cond, int rows) {
  snprintf(sql, size,
           "SELECT k, v, run FROM (SELECT k, v AS v, sum(octet_length(k) + octet_length(v)) OVER "
           "(ORDER BY k %s ROWS UNBOUNDED PRECEDING) AS run, octet_length(k) + octet_length(v) "
           "AS len FROM " TABLE " WHERE true%s ORDER BY k %s LIMIT %d) p WHERE run - len < %d "
           "ORDER BY k %s",
           desc ? "DESC" : "ASC", cond, desc ? "DESC" : "ASC", rows + 1, PAGE_BYTES,
           desc ? "DESC" : "ASC");
}

/* An iterator's first round trip, pipelined: [ROLLBACK of the previous one,] BEGIN, the page. */
static PGresult *begin_and_page(int rollback, const char *sql, int n, const char *const *vals,
                                const int *lens) {
  const int formats[1] = {1};
  PGresult *r, *page = NULL;
  int i, expect = rollback ? 3 : 2, bad = 0;
  if (!PQenterPipelineMode(conn)) die("pipeline mode", NULL);
  if (rollback) PQsendQueryParams(conn, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0);
  PQsendQueryParams(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL, NULL,
                    NULL, 0);
  PQsendQueryParams(conn, sql, n, NULL, vals, lens, n ? formats : NULL, 1);
  if (!PQpipelineSync(conn)) die("pipeline sync", NULL);
  for (i = 0; i < expect; i++) {
    r = PQgetResult(conn);
    if (i == expect - 1) {
      page = r;
      if (PQresultStatus(r) != PGRES_TUPLES_OK) bad = 1;
    } else {
      if (PQresultStatus(r) != PGRES_COMMAND_OK) bad = 1;
      PQclear(r);
    }
    while ((r = PQgetResult(conn)) != NULL) PQclear(r); /* the NULL after each result */
  }
  r = PQgetResult(conn); /* PGRES_PIPELINE_SYNC */
  PQclear(r);
  PQexitPipelineMode(conn);
  if (bad) die("an iterator's first page", page);
  return page;
}

int main(int argc, char **argv) {
  const char *url, *w;
  long long num, ops = 0, found = 0, i;
  int key_size = 16, value_size = 100, batch = 1000, npool, j;
  char **pool, *key, *kbuf, **kp, **vp;
  int *kl, *vl;
  double t0, dt;
  const int formats[2] = {1, 1};
  if (argc < 4) {
    fprintf(stderr, "usage: quarry_pg_native URL WORKLOAD NUM [KEY_SIZE [VALUE_SIZE [BATCH [SEED]]]]\n");
    return 2;
  }
  url = argv[1];
  w = argv[2];
  num = atoll(argv[3]);
  if (argc > 4) key_size = atoi(argv[4]);
  if (argc > 5) value_size = atoi(argv[5]);
  if (argc > 6) batch = atoi(argv[6]);
  rng = argc > 7 ? (uint64_t)atoll(argv[7]) : 301;
  if (num <= 0 || key_size < 8 || value_size < 1 || batch < 1) {
    fprintf(stderr, "quarry_pg_native: NUM, BATCH and VALUE_SIZE must be positive, KEY_SIZE at least 8\n");
    return 2;
  }
  {
    const char *kw[] = {"dbname", "options", NULL};
    const char *vals[] = {url, "-c statement_timeout=60000 -c synchronous_commit=off", NULL};
    conn = PQconnectdbParams(kw, vals, 1);
  }
  if (PQstatus(conn) != CONNECTION_OK)
    die("connect", NULL);
  command("SET client_min_messages = warning");
  command("CREATE SCHEMA IF NOT EXISTS \"native\"");
  command("CREATE TABLE IF NOT EXISTS " TABLE
          " (k bytea NOT NULL, v bytea NOT NULL, PRIMARY KEY (k))");

  /* the value pool: about 1 MiB of value-sized pieces, half random printable bytes repeated */
  npool = (1 << 20) / value_size > 0 ? (1 << 20) / value_size : 1;
  pool = malloc((size_t)npool * sizeof *pool);
  for (j = 0; j < npool; j++) {
    int raw = value_size / 2 > 0 ? value_size / 2 : 1, b;
    pool[j] = malloc((size_t)value_size);
    for (b = 0; b < raw; b++)
      pool[j][b] = (char)(32 + next_random() % 95);
    for (b = raw; b < value_size; b++)
      pool[j][b] = pool[j][b % raw];
  }
  key = malloc((size_t)key_size);
  kbuf = malloc((size_t)key_size * (size_t)batch);
  kp = malloc((size_t)batch * sizeof *kp);
  vp = malloc((size_t)batch * sizeof *vp);
  kl = malloc((size_t)batch * sizeof *kl);
  vl = malloc((size_t)batch * sizeof *vl);

  /* a writing workload starts empty, emptied as quarry bench empties its side (delete_range over
   * every key up to the key size: DELETE ... WHERE k >= $1 AND k < $2), not by TRUNCATE, which
   * would also reset the table's statistics and so the planner's choices */
  if (strcmp(w, "fillseq") == 0 || strcmp(w, "fillrandom") == 0 || strcmp(w, "fillbatch") == 0) {
    char *hi = malloc((size_t)key_size + 1);
    const char *vals[2];
    int lens[2] = {0, key_size + 1};
    PGresult *r;
    memset(hi, 0xff, (size_t)key_size + 1);
    vals[0] = "";
    vals[1] = hi;
    r = PQexecParams(conn, "DELETE FROM " TABLE " WHERE k >= $1 AND k < $2", 2, NULL, vals, lens,
                     formats, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) die("empty the table", r);
    PQclear(r);
    free(hi);
  }

  t0 = now();
  if (strcmp(w, "fillseq") == 0 || strcmp(w, "fillrandom") == 0) {
    int rnd = w[4] == 'r';
    for (i = 0; i < num; i++) {
      const char *vals[2];
      int lens[2] = {key_size, value_size};
      PGresult *r;
      make_key(key, rnd ? next_random() % (uint64_t)num : (uint64_t)i, key_size);
      vals[0] = key;
      vals[1] = pool[i % npool];
      r = PQexecParams(conn, "INSERT INTO " TABLE " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO "
                             "UPDATE SET v = EXCLUDED.v",
                       2, NULL, vals, lens, formats, 0);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) die(w, r);
      PQclear(r);
    }
    ops = num;
  } else if (strcmp(w, "fillbatch") == 0) {
    for (i = 0; i < num; i += batch) {
      int n = (int)(num - i < batch ? num - i : batch), alen[2];
      const char *vals[2];
      char *arr[2];
      PGresult *r;
      for (j = 0; j < n; j++) {
        kp[j] = kbuf + (size_t)j * (size_t)key_size;
        make_key(kp[j], (uint64_t)(i + j), key_size);
        kl[j] = key_size;
        vp[j] = pool[(i + j) % npool];
        vl[j] = value_size;
      }
      arr[0] = bytea_array(n, kp, kl, &alen[0]);
      arr[1] = bytea_array(n, vp, vl, &alen[1]);
      vals[0] = arr[0];
      vals[1] = arr[1];
      r = PQexecParams(conn, "INSERT INTO " TABLE " (k, v) SELECT * FROM unnest($1::bytea[], "
                             "$2::bytea[]) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                       2, NULL, vals, alen, formats, 0);
      free(arr[0]);
      free(arr[1]);
      if (PQresultStatus(r) != PGRES_COMMAND_OK) die(w, r);
      PQclear(r);
    }
    ops = num;
  } else if (strcmp(w, "deleterandom") == 0 || strcmp(w, "readrandom") == 0) {
    int del = w[0] == 'd';
    for (i = 0; i < num; i++) {
      const char *vals[1];
      int lens[1] = {key_size};
      PGresult *r;
      make_key(key, next_random() % (uint64_t)num, key_size);
      vals[0] = key;
      if (del) {
        r = PQexecParams(conn, "DELETE FROM " TABLE " WHERE k = $1", 1, NULL, vals, lens, formats, 0);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) die(w, r);
      } else {
        r = PQexecParams(conn, "SELECT v FROM " TABLE " WHERE k = $1", 1, NULL, vals, lens, formats, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) die(w, r);
        found += PQntuples(r);
      }
      PQclear(r);
    }
    ops = num;
  } else if (strcmp(w, "multireadrandom") == 0) {
    for (i = 0; i < num; i += batch) {
      int n = (int)(num - i < batch ? num - i : batch), alen;
      const char *vals[1];
      char *arr;
      PGresult *r;
      for (j = 0; j < n; j++) {
        kp[j] = kbuf + (size_t)j * (size_t)key_size;
        make_key(kp[j], next_random() % (uint64_t)num, key_size);
        kl[j] = key_size;
      }
      arr = bytea_array(n, kp, kl, &alen);
      vals[0] = arr;
      r = PQexecParams(conn, "SELECT q.i, t.v FROM unnest($1::bytea[]) WITH ORDINALITY AS q(k, i) "
                             "JOIN " TABLE " t ON t.k = q.k",
                       1, NULL, vals, &alen, formats, 1);
      free(arr);
      if (PQresultStatus(r) != PGRES_TUPLES_OK) die(w, r);
      found += PQntuples(r);
      PQclear(r);
    }
    ops = num;
  } else if (strcmp(w, "readseq") == 0 || strcmp(w, "readreverse") == 0) {
    int desc = w[4] == 'r', rows = 16;
    char sql[1024], *last = NULL;
    int last_len = 0;
    while (ops < num) {
      const char *vals[1];
      int lens[1], got, use;
      PGresult *r;
      page_sql(sql, sizeof sql, desc, last ? (desc ? " AND k < $1" : " AND k > $1") : "", rows);
      vals[0] = last;
      lens[0] = last_len;
      if (!last) {
        r = begin_and_page(0, sql, 0, vals, lens);
      } else {
        r = PQexecParams(conn, sql, 1, NULL, vals, lens, formats, 1);
        if (PQresultStatus(r) != PGRES_TUPLES_OK) die(w, r);
      }
      got = PQntuples(r);
      use = got > rows ? rows : got;
      if (use > num - ops) use = (int)(num - ops);
      for (j = 0; j < use; j++)
        found += PQgetlength(r, j, 0) + PQgetlength(r, j, 1) > 0;
      ops += use;
      if (use > 0) {
        free(last);
        last_len = PQgetlength(r, use - 1, 0);
        last = malloc((size_t)last_len + 1);
        memcpy(last, PQgetvalue(r, use - 1, 0), (size_t)last_len);
      }
      PQclear(r);
      if (got <= rows) break;
      rows = rows * 2 > PAGE_ROWS ? PAGE_ROWS : rows * 2;
    }
    free(last);
    command("ROLLBACK");
  } else if (strcmp(w, "seekrandom") == 0) {
    char sql[1024];
    page_sql(sql, sizeof sql, 0, " AND k >= $1", 16);
    for (i = 0; i < num; i++) {
      const char *vals[1];
      int lens[1] = {key_size};
      PGresult *r;
      make_key(key, next_random() % (uint64_t)num, key_size);
      vals[0] = key;
      r = begin_and_page(i > 0, sql, 1, vals, lens);
      if (PQntuples(r) > 0 && PQgetlength(r, 0, 0) == key_size &&
          memcmp(PQgetvalue(r, 0, 0), key, (size_t)key_size) == 0)
        found++;
      PQclear(r);
    }
    command("ROLLBACK");
    ops = num;
  } else {
    fprintf(stderr, "quarry_pg_native: unknown workload '%s' (fillseq, fillrandom, fillbatch, "
                    "deleterandom, readrandom, multireadrandom, readseq, readreverse, seekrandom)\n", w);
    PQfinish(conn);
    return 2;
  }
  dt = now() - t0;
  printf("%s %lld %.6f %.0f %lld\n", w, ops, dt, dt > 0 ? (double)ops / dt : 0.0, found);
  for (j = 0; j < npool; j++)
    free(pool[j]);
  free(pool);
  free(key);
  free(kbuf);
  free(kp);
  free(vp);
  free(kl);
  free(vl);
  PQfinish(conn);
  return 0;
}

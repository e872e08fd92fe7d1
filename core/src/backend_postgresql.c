/* backend_postgresql.c: the PostgreSQL backend: a database given as a server URL
 * (postgresql://user[:password]@host[:port]/dbname[?param=value...]) served through libpq.
 *
 * The mapping (docs/scale-out.md#mapping has the table):
 *  - The families live in one schema: the URL's `schema` parameter (letters, digits, _), else the
 *    URL's database name, else the user name; the parameter is removed before libpq sees the URL.
 *    A family is a table "<schema>"."<family>" (k bytea PRIMARY KEY, v bytea NOT NULL), the key
 *    range-ordered (ASC); family names are at most 63 bytes (PostgreSQL's identifier limit).
 *  - Every write (put, delete, delete_range, a batch) is one transaction sent in libpq's pipeline
 *    mode: BEGIN, SET LOCAL synchronous_commit (on for sync = true, off otherwise), the
 *    statements (runs of puts as one INSERT ... SELECT FROM unnest(...) ON CONFLICT (k) DO UPDATE,
 *    runs of deletes as one DELETE ... WHERE k = ANY(...), ranges as DELETE ... WHERE k >= $1 AND
 *    k < $2), COMMIT: one round trip for up to Q_PG_SEGMENT statements. SQLSTATE 40001 and 40P01
 *    roll back and retry with bounded exponential backoff (Q_PG_ATTEMPTS attempts), then
 *    QUARRY_ETRYAGAIN. A connection lost before COMMIT was sent is QUARRY_EIO (nothing written);
 *    lost after COMMIT was sent and before its answer is QUARRY_EINCOMPLETE (outcome unknown).
 *    A write that is a single statement with the handle's own sync skips BEGIN/SET/COMMIT: the
 *    statement alone in its implicit transaction (connections start with synchronous_commit
 *    from the handle's sync option).
 *  - multi_get is one statement (unnest ... WITH ORDINALITY joined to the table).
 *  - An iterator holds a REPEATABLE READ READ ONLY transaction on its own connection (begun
 *    with its first page, in the same round trip: its view is that of its first positioning;
 *    or the snapshot it was given, imported with SET TRANSACTION SNAPSHOT at its creation) and
 *    reads pages of at most Q_PG_PAGE_ROWS rows and about Q_PG_PAGE_BYTES bytes in key order
 *    (ASC or DESC), the first page Q_PG_FIRST_PAGE_ROWS rows, doubling. Its close sends ROLLBACK
 *    in pipeline mode without waiting; the connection's next iterator pipelines its own BEGIN
 *    and first page after it (one round trip), any other user reads the answer first.
 *  - A snapshot is a REPEATABLE READ READ ONLY transaction on its own connection that exported
 *    its snapshot (pg_export_snapshot); gets read through that connection.
 *  - Connections: a pool of idle connections per handle (option pool_size); a connection that
 *    the server closed is noticed when taken from the pool and replaced. Passwords (in the URL's
 *    user info or its password parameter) are replaced by *** in the path, in every message.
 */
#include "backend.h"
#include "hash.h"

#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <unistd.h>

#define Q_PG_ATTEMPTS 8             /* tries of a transaction on 40001 / 40P01 */
#define Q_PG_BACKOFF_US 5000u       /* first backoff; doubles per attempt, capped below */
#define Q_PG_BACKOFF_MAX_US 500000u
#define Q_PG_SEGMENT 256            /* statements per pipeline sync */
#define Q_PG_RUN 10000              /* keys per INSERT/DELETE statement */
#define Q_PG_PAGE_ROWS 512          /* rows per iterator page, at most */
#define Q_PG_FIRST_PAGE_ROWS 16     /* rows of an iterator's first page; doubles per page after */
#define Q_PG_PAGE_BYTES (4 << 20)   /* about this many key+value bytes per page */

/* ---- state ------------------------------------------------------------------------------------ */
typedef struct {
  char *name;
  char *ident;       /* "schema"."table", quoted */
  _Atomic int dropped;
} q_pg_family;

typedef struct q_pg {
  char *redacted;    /* the URL with passwords as *** */
  char *password;    /* the password text, redacted from messages (NULL: none) */
  char **kw, **vals; /* libpq connection keywords, NULL-terminated (owned) */
  char *schema, *schema_ident;
  int read_only;
  int session_sync;  /* the connections' synchronous_commit: the handle's default sync */
  int64_t pool_size;
  pthread_mutex_t lock; /* idle[] and fams[] */
  PGconn **idle;
  int nidle;
  q_pg_family **fams;
  size_t nfams, capfams;
  uint64_t opened_ns;
  q_metrics *m;      /* aligned allocation */
} q_pg;

typedef struct {
  q_child child;     /* first: the dispatcher reads child.be */
  PGconn *conn;
  char id[128];      /* pg_export_snapshot() */
  uint64_t seq;
  pthread_mutex_t lock; /* one statement at a time on conn */
} q_pg_snapshot;

enum { OP_PUT = 1, OP_DEL = 2, OP_RANGE = 3 };
typedef struct {
  int kind;
  q_pg_family *fam;
  char *key;         /* key, then value (or the range end) in one allocation */
  size_t klen, vlen;
} q_pg_op;

typedef struct {
  q_child child;
  int closed;
  q_pg_op *ops;
  size_t n, cap, bytes;
} q_pg_batch;

typedef struct {
  q_child child;
  q_pg_family *fam;
  PGconn *conn;
  int closed, broken;
  char *lower, *upper;
  size_t lower_len, upper_len;
  int empty, reverse, keys_only, started;
  int64_t limit, seen;
  PGresult *page;
  int nrows, pos, desc, more;
  PGresult *lazy;    /* keys_only: the current entry's value, read when asked for */
  int begun;         /* its transaction is open (begun with its first page) */
  int pending, reused; /* its connection: has a ROLLBACK to read first; came from the pool */
  int page_rows;     /* rows of the next page: Q_PG_FIRST_PAGE_ROWS doubling to Q_PG_PAGE_ROWS */
} q_pg_iter;

static void pg_release_children_locked(quarry_db *db);

/* ---- redaction -------------------------------------------------------------------------------- */
/* Is c a character a word is made of (a password's text is replaced only as a whole word)? */
static int word_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Does the password occur at in (start: the beginning of the message) as a whole word: not in
 * the middle of a longer word ("x" is not redacted out of "expired", but is out of "user:x@")? */
static int password_at(const char *start, const char *in, const char *pw, size_t plen) {
  if (strncmp(in, pw, plen) != 0)
    return 0;
  if (in > start && word_char(pw[0]) && word_char(in[-1]))
    return 0;
  if (word_char(pw[plen - 1]) && word_char(in[plen]))
    return 0;
  return 1;
}

/* Copies in to out (cap bytes) with every whole-word occurrence of the password replaced by
 * *** (libpq's and the server's messages never quote it; this is the net under them). */
static void redact(const q_pg *pg, const char *in, char *out, size_t cap) {
  size_t o = 0, plen = pg && pg->password ? strlen(pg->password) : 0;
  const char *start = in;
  if (cap == 0)
    return;
  while (*in && o + 1 < cap) {
    if (plen && password_at(start, in, pg->password, plen)) {
      const char *s = "***";
      while (*s && o + 1 < cap)
        out[o++] = *s++;
      in += plen;
    } else {
      out[o++] = *in++;
    }
  }
  out[o] = '\0';
  while (o > 0 && (out[o - 1] == '\n' || out[o - 1] == ' '))
    out[--o] = '\0';
}

/* A failure whose message (formatted, then redacted) may hold libpq's or the server's text. */
static int pg_fail(const q_pg *pg, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int pg_fail(const q_pg *pg, int code, const char *fmt, ...) {
  char raw[1024], clean[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  redact(pg, raw, clean, sizeof clean);
  return q_fail(code, "%s", clean);
}

/* The URL with the password of its user info and its password= parameter replaced by ***. */
static char *redact_url(const char *url) {
  size_t n = strlen(url);
  char *out = malloc(n + 8), *o = out;
  const char *p = url, *scheme_end = strstr(url, "://"), *at, *colon, *slash;
  if (out == NULL)
    return NULL;
  if (scheme_end) {
    size_t sl = (size_t)(scheme_end + 3 - url);
    memcpy(o, url, sl);
    o += sl;
    p = scheme_end + 3;
    slash = strpbrk(p, "/?");
    at = memchr(p, '@', slash ? (size_t)(slash - p) : strlen(p));
    /* the first @ before the path, as libpq reads it (a password's own @ is %40) */
    if (at) {
      colon = memchr(p, ':', (size_t)(at - p));
      if (colon) {
        memcpy(o, p, (size_t)(colon - p + 1));
        o += colon - p + 1;
        memcpy(o, "***", 3);
        o += 3;
        p = at;
      }
    }
  }
  while (*p) {
    if (p > url && (p[-1] == '?' || p[-1] == '&') && strncmp(p, "password=", 9) == 0) {
      memcpy(o, "password=***", 12);
      o += 12;
      p += 9;
      while (*p && *p != '&')
        p++;
      continue;
    }
    *o++ = *p++;
  }
  *o = '\0';
  return out;
}

/* ---- connections ------------------------------------------------------------------------------ */
static void quiet_notices(void *arg, const char *message) {
  (void)arg;
  (void)message;
}

static int conn_lost(PGconn *c) { return c == NULL || PQstatus(c) != CONNECTION_OK; }

/* A new connection, or NULL with the failure recorded. */
static PGconn *pg_connect(q_pg *pg, int *rc) {
  PGconn *c = PQconnectdbParams((const char *const *)pg->kw, (const char *const *)pg->vals, 0);
  if (c == NULL) {
    *rc = q_fail(QUARRY_ENOMEM, "out of memory");
    return NULL;
  }
  if (PQstatus(c) != CONNECTION_OK) {
    *rc = pg_fail(pg, QUARRY_EIO, "cannot connect to %s: %s", pg->redacted, PQerrorMessage(c));
    PQfinish(c);
    return NULL;
  }
  PQsetNoticeProcessor(c, quiet_notices, NULL);
  q_count(pg->m, Q_C_ROUND_TRIPS, 1);
  *rc = 0;
  return c;
}

/* Reads what a connection given back by give_rolling_back still has to read: the answer of
 * its ROLLBACK and the pipeline's sync; leaves pipeline mode. */
static void settle(PGconn *c) {
  if (PQpipelineStatus(c) == PQ_PIPELINE_OFF)
    return;
  for (;;) {
    PGresult *r = PQgetResult(c);
    ExecStatusType st;
    if (r == NULL) {
      if (conn_lost(c))
        return;
      continue;
    }
    st = PQresultStatus(r);
    PQclear(r);
    if (st == PGRES_PIPELINE_SYNC || conn_lost(c))
      break;
  }
  if (!conn_lost(c))
    PQexitPipelineMode(c);
}

/* A connection from the pool (one the server closed meanwhile is dropped) or a new one.
 * *reused = 1 when it comes from the pool. pending NULL: the connection is settled (idle, out
 * of pipeline mode); else *pending = 1 when it is still in pipeline mode with a ROLLBACK's
 * answer to read (give_rolling_back), for a caller that pipelines its own statements after
 * it (begin_and_query). */
static PGconn *take(q_pg *pg, int *reused, int *pending, int *rc) {
  PGconn *c = NULL;
  *reused = 0;
  if (pending)
    *pending = 0;
  for (;;) {
    pthread_mutex_lock(&pg->lock);
    c = pg->nidle ? pg->idle[--pg->nidle] : NULL;
    pthread_mutex_unlock(&pg->lock);
    if (c == NULL)
      break;
    if (PQpipelineStatus(c) != PQ_PIPELINE_OFF) {
      if (pending && !conn_lost(c)) {
        *pending = 1;
        *reused = 1;
        *rc = 0;
        return c;
      }
      settle(c);
    }
    /* An idle connection receives nothing unasked but a termination notice and its EOF (the
     * server restarted or ended it): anything readable means it is gone. */
    struct pollfd pfd = {PQsocket(c), POLLIN, 0};
    if (PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE && pfd.fd >= 0 &&
        poll(&pfd, 1, 0) == 0) {
      *reused = 1;
      *rc = 0;
      return c;
    }
    PQfinish(c);
  }
  return pg_connect(pg, rc);
}

static PGconn *pg_take(q_pg *pg, int *reused, int *rc) { return take(pg, reused, NULL, rc); }

/* Gives a connection back: kept when healthy and idle and the pool has room, else closed. */
static void pg_give(q_pg *pg, PGconn *c) {
  if (c == NULL)
    return;
  if (PQpipelineStatus(c) != PQ_PIPELINE_OFF || conn_lost(c) ||
      PQtransactionStatus(c) != PQTRANS_IDLE) {
    PQfinish(c);
    return;
  }
  pthread_mutex_lock(&pg->lock);
  if (pg->nidle < pg->pool_size) {
    pg->idle[pg->nidle++] = c;
    c = NULL;
  }
  pthread_mutex_unlock(&pg->lock);
  if (c)
    PQfinish(c);
}

/* Gives back a connection in a read-only transaction: sends its ROLLBACK in pipeline mode
 * without waiting for the answer, so closing an iterator or a snapshot costs no round trip; the
 * next user reads the answer (settle), or pipelines its own statements after it. Closed instead
 * when the pool is full or the send fails. */
static void give_rolling_back(q_pg *pg, PGconn *c) {
  int kept = 0;
  if (c == NULL)
    return;
  if (!conn_lost(c) && PQtransactionStatus(c) == PQTRANS_IDLE) {
    pg_give(pg, c);
    return;
  }
  if (!conn_lost(c) && PQpipelineStatus(c) == PQ_PIPELINE_OFF &&
      PQtransactionStatus(c) == PQTRANS_INTRANS && PQenterPipelineMode(c) &&
      PQsendQueryParams(c, "ROLLBACK", 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c)) {
    pthread_mutex_lock(&pg->lock);
    if (pg->nidle < pg->pool_size) {
      pg->idle[pg->nidle++] = c;
      kept = 1;
    }
    pthread_mutex_unlock(&pg->lock);
  }
  if (!kept)
    PQfinish(c);
}

/* The code for a failed result (or connection). */
static int sqlstate_code(PGconn *c, const PGresult *r, const char **state_out) {
  const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  *state_out = st ? st : "";
  if (conn_lost(c) && (st == NULL || strncmp(st, "57P", 3) == 0 || strncmp(st, "08", 2) == 0))
    return QUARRY_EIO;
  if (st == NULL)
    return QUARRY_EIO;
  if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0)
    return QUARRY_ETRYAGAIN;
  if (strcmp(st, "42P01") == 0 || strcmp(st, "3F000") == 0)
    return QUARRY_ENOTFOUND;
  if (strcmp(st, "57014") == 0)
    return QUARRY_ETIMEDOUT;
  if (strcmp(st, "25006") == 0)
    return QUARRY_ENOTSUPPORTED;
  if (strcmp(st, "53100") == 0)
    return QUARRY_ENOSPC;
  if (strcmp(st, "53200") == 0)
    return QUARRY_ENOMEM;
  if (strcmp(st, "XX001") == 0 || strcmp(st, "XX002") == 0)
    return QUARRY_ECORRUPTION;
  if (strncmp(st, "22", 2) == 0 || strncmp(st, "42", 2) == 0)
    return QUARRY_EINVAL;
  return QUARRY_EIO;
}

static int result_fail(q_pg *pg, PGconn *c, const PGresult *r, const char *op, const char *what) {
  const char *st;
  int code = sqlstate_code(c, r, &st);
  const char *msg = r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r) : PQerrorMessage(c);
  if (code == QUARRY_EIO && conn_lost(c))
    return pg_fail(pg, code, "%s: the connection to %s was lost (%s)%s", op, pg->redacted, msg,
                   what ? what : "");
  return pg_fail(pg, code, "%s: %s%s%s%s (server %s)%s", op, msg, *st ? " [SQLSTATE " : "", st,
                 *st ? "]" : "", pg->redacted, what ? what : "");
}

/* One statement with binary parameters; the result (caller clears) or NULL with the failure
 * recorded in *rc. */
static PGresult *pg_exec(q_pg *pg, PGconn *c, const char *sql, int n, const char *const *vals,
                         const int *lens, int binary, const char *op, int *rc) {
  int formats[8] = {1, 1, 1, 1, 1, 1, 1, 1};
  PGresult *r = PQexecParams(c, sql, n, NULL, vals, lens, n ? formats : NULL, binary);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  q_count(pg->m, Q_C_ROUND_TRIPS, 1);
  if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
    *rc = 0;
    return r;
  }
  *rc = result_fail(pg, c, r, op, NULL);
  PQclear(r);
  return NULL;
}

/* A simple-protocol command (several statements allowed); 0 or the failure. */
static int pg_command(q_pg *pg, PGconn *c, const char *sql, const char *op) {
  PGresult *r = PQexec(c, sql);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  int rc = 0;
  q_count(pg->m, Q_C_ROUND_TRIPS, 1);
  if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
    rc = result_fail(pg, c, r, op, NULL);
  PQclear(r);
  return rc;
}

/* ---- URL -------------------------------------------------------------------------------------- */
int q_pg_is_url(const char *path) {
  return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
}

static int valid_schema_param(const char *s, size_t n) {
  size_t i;
  if (n == 0 || n > 63)
    return 0;
  for (i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'))
      return 0;
  }
  return 1;
}

/* Removes schema=NAME from the URL's parameters: *libpq_url (owned) is what libpq parses,
 * *schema (owned, NULL when absent) the name. */
static int split_schema(const char *url, const char *redacted, char **libpq_url, char **schema) {
  const char *q = strchr(url, '?');
  size_t n = strlen(url);
  char *out = malloc(n + 1), *o;
  const char *p;
  *libpq_url = NULL;
  *schema = NULL;
  if (out == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  if (q == NULL) {
    memcpy(out, url, n + 1);
    *libpq_url = out;
    return 0;
  }
  memcpy(out, url, (size_t)(q - url));
  o = out + (q - url);
  p = q + 1;
  while (*p) {
    const char *end = strchr(p, '&');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len >= 7 && strncmp(p, "schema=", 7) == 0) {
      if (!valid_schema_param(p + 7, len - 7)) {
        free(out);
        free(*schema);
        *schema = NULL;
        return q_fail(QUARRY_EINVAL,
                      "open: bad schema parameter in %s: 1 to 63 letters, digits or _ expected",
                      redacted);
      }
      free(*schema);
      if ((*schema = strndup(p + 7, len - 7)) == NULL) {
        free(out);
        return q_fail(QUARRY_ENOMEM, "out of memory");
      }
    } else {
      char sep = o == out + (q - url) ? '?' : '&';
      *o++ = sep;
      memcpy(o, p, len);
      o += len;
    }
    p += len + (end ? 1 : 0);
  }
  *o = '\0';
  *libpq_url = out;
  return 0;
}

static int push_kw(char ***kw, char ***vals, size_t *n, const char *k, const char *v) {
  char **k2 = realloc(*kw, (*n + 2) * sizeof *k2), **v2;
  if (k2 == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *kw = k2;
  if ((v2 = realloc(*vals, (*n + 2) * sizeof *v2)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *vals = v2;
  k2[*n] = strdup(k);
  v2[*n] = strdup(v);
  if (k2[*n] == NULL || v2[*n] == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  (*n)++;
  k2[*n] = v2[*n] = NULL;
  return 0;
}

static void free_strv(char **v) {
  size_t i;
  for (i = 0; v && v[i]; i++)
    free(v[i]);
  free(v);
}

static void pg_free(q_pg *pg) {
  size_t i;
  if (pg == NULL)
    return;
  for (i = 0; i < (size_t)pg->nidle; i++)
    PQfinish(pg->idle[i]);
  free(pg->idle);
  for (i = 0; i < pg->nfams; i++) {
    free(pg->fams[i]->name);
    free(pg->fams[i]->ident);
    free(pg->fams[i]);
  }
  free(pg->fams);
  free(pg->redacted);
  if (pg->password) {
    memset(pg->password, 0, strlen(pg->password));
    free(pg->password);
  }
  free_strv(pg->kw);
  free_strv(pg->vals);
  free(pg->schema);
  free(pg->schema_ident);
  free(pg->m);
  pthread_mutex_destroy(&pg->lock);
  free(pg);
}

/* Parses url into a new q_pg (no connection yet). */
static int pg_new(const char *url, const quarry_options *o, q_pg **out) {
  q_pg *pg;
  PQconninfoOption *info, *opt;
  char *libpq_url = NULL, *schema = NULL, *err = NULL, buf[64], *extra;
  const char *dbname = NULL, *user = NULL, *options = NULL;
  size_t nkw = 0;
  int rc, has_timeout = 0;
  *out = NULL;
  if ((pg = calloc(1, sizeof *pg)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  pthread_mutex_init(&pg->lock, NULL);
  pg->opened_ns = q_now_ns();
  pg->pool_size = o->pool_size;
  pg->read_only = o->mode == Q_MODE_READ_ONLY;
  pg->session_sync = o->sync != 0;
  if ((pg->m = aligned_alloc(_Alignof(q_metrics), sizeof *pg->m)) == NULL ||
      (pg->idle = calloc((size_t)o->pool_size, sizeof *pg->idle)) == NULL ||
      (pg->redacted = redact_url(url)) == NULL) {
    pg_free(pg);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  memset(pg->m, 0, sizeof *pg->m);
  pg->m->on = o->metrics != 0;
  {
    const char *a = strstr(url, "://"), *end, *at, *colon;
    if (a) {
      a += 3;
      end = strpbrk(a, "/?");
      at = memchr(a, '@', end ? (size_t)(end - a) : strlen(a));
      colon = at ? memchr(a, ':', (size_t)(at - a)) : NULL;
      if (colon && at > colon + 1 &&
          (pg->password = strndup(colon + 1, (size_t)(at - colon - 1))) == NULL) {
        pg_free(pg);
        return q_fail(QUARRY_ENOMEM, "out of memory");
      }
    }
  }
  if ((rc = split_schema(url, pg->redacted, &libpq_url, &schema)) != 0) {
    pg_free(pg);
    return rc;
  }
  info = PQconninfoParse(libpq_url, &err);
  free(libpq_url);
  if (info == NULL) {
    rc = pg_fail(pg, err ? QUARRY_EINVAL : QUARRY_ENOMEM, "open: bad PostgreSQL URL %s: %s",
                 pg->redacted, err ? err : "out of memory");
    PQfreemem(err);
    free(schema);
    pg_free(pg);
    return rc;
  }
  for (opt = info; opt->keyword && rc == 0; opt++) {
    if (opt->val == NULL)
      continue;
    if (strcmp(opt->keyword, "password") == 0 && *opt->val) {
      free(pg->password);
      if ((pg->password = strdup(opt->val)) == NULL)
        rc = q_fail(QUARRY_ENOMEM, "out of memory");
    }
    if (strcmp(opt->keyword, "dbname") == 0)
      dbname = opt->val;
    if (strcmp(opt->keyword, "user") == 0)
      user = opt->val;
    if (strcmp(opt->keyword, "connect_timeout") == 0)
      has_timeout = 1;
    if (strcmp(opt->keyword, "options") == 0) {
      options = opt->val;
      continue;
    }
    if (rc == 0)
      rc = push_kw(&pg->kw, &pg->vals, &nkw, opt->keyword, opt->val);
  }
  if (rc == 0 && !has_timeout) {
    snprintf(buf, sizeof buf, "%lld", (long long)o->connect_timeout);
    rc = push_kw(&pg->kw, &pg->vals, &nkw, "connect_timeout", buf);
  }
  /* statement_timeout (and read-only transactions for mode read_only) for every connection */
  if (rc == 0) {
    size_t len = (options ? strlen(options) : 0) + 128;
    if ((extra = malloc(len)) == NULL) {
      rc = q_fail(QUARRY_ENOMEM, "out of memory");
    } else {
      snprintf(extra, len, "%s%s-c statement_timeout=%lld -c synchronous_commit=%s%s",
               options ? options : "", options ? " " : "", (long long)o->statement_timeout_ms,
               o->sync ? "on" : "off", pg->read_only ? " -c default_transaction_read_only=on" : "");
      rc = push_kw(&pg->kw, &pg->vals, &nkw, "options", extra);
      free(extra);
    }
  }
  if (rc == 0 && schema == NULL)
    schema = strdup(dbname && *dbname ? dbname : user && *user ? user : "quarry");
  PQconninfoFree(info);
  if (rc == 0 && schema == NULL)
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
  if (rc == 0 && (strlen(schema) > 63 || *schema == '\0'))
    rc = q_fail(QUARRY_EINVAL, "open: the schema name '%s' of %s is longer than 63 bytes; give "
                "?schema=NAME", schema, pg->redacted);
  if (rc) {
    free(schema);
    pg_free(pg);
    return rc;
  }
  pg->schema = schema;
  *out = pg;
  return 0;
}

/* "schema"."name" for conn's escaping rules, or NULL. */
static char *qualified(PGconn *c, const char *schema, const char *name) {
  char *s = PQescapeIdentifier(c, schema, strlen(schema));
  char *t = PQescapeIdentifier(c, name, strlen(name)), *out = NULL;
  if (s && t && (out = malloc(strlen(s) + strlen(t) + 2)) != NULL)
    sprintf(out, "%s.%s", s, t);
  PQfreemem(s);
  PQfreemem(t);
  return out;
}

/* ---- families --------------------------------------------------------------------------------- */
static int check_family_name(const char *name) {
  if (name == NULL || *name == '\0')
    return q_fail(QUARRY_EINVAL, "column family name must be a non-empty string");
  if (strlen(name) > 63)
    return q_fail(QUARRY_EINVAL,
                  "column family name '%.63s...' is longer than 63 bytes, PostgreSQL's limit for a "
                  "table name",
                  name);
  return 0;
}

/* Adds a family (pg->lock held). */
static int fam_add_locked(q_pg *pg, PGconn *c, const char *name, q_pg_family **out) {
  q_pg_family *f;
  if (pg->nfams == pg->capfams) {
    size_t cap = pg->capfams ? pg->capfams * 2 : 8;
    q_pg_family **g = realloc(pg->fams, cap * sizeof *g);
    if (g == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    pg->fams = g;
    pg->capfams = cap;
  }
  if ((f = calloc(1, sizeof *f)) == NULL || (f->name = strdup(name)) == NULL ||
      (f->ident = qualified(c, pg->schema, name)) == NULL) {
    if (f)
      free(f->name);
    free(f);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  pg->fams[pg->nfams++] = f;
  *out = f;
  return 0;
}

static q_pg_family *fam_find_locked(q_pg *pg, const char *name) {
  size_t i;
  for (i = 0; i < pg->nfams; i++)
    if (!atomic_load(&pg->fams[i]->dropped) && strcmp(pg->fams[i]->name, name) == 0)
      return pg->fams[i];
  return NULL;
}

/* PostgreSQL's primary key is a B-tree, ordered ascending, and its grammar has no ASC there;
 * YugabyteDB (server_version "...-YB-...") hash-shards a first key column unless it is declared
 * ASC, and CockroachDB (which reports crdb_version) accepts ASC: those get PRIMARY KEY (k ASC). */
static int wants_asc(PGconn *c) {
  const char *v = PQparameterStatus(c, "server_version");
  return (v && strstr(v, "-YB-")) || PQparameterStatus(c, "crdb_version") != NULL;
}

static int create_table(q_pg *pg, PGconn *c, const char *ident, const char *op) {
  char sql[512];
  snprintf(sql, sizeof sql,
           "CREATE TABLE IF NOT EXISTS %s (k bytea NOT NULL, v bytea NOT NULL, PRIMARY KEY (k%s))",
           ident, wants_asc(c) ? " ASC" : "");
  return pg_command(pg, c, sql, op);
}

/* The tables of the schema, in name order. */
static int list_tables(q_pg *pg, PGconn *c, char ***names, size_t *n) {
  const char *vals[1] = {pg->schema};
  int lens[1] = {(int)strlen(pg->schema)}, rc, i;
  PGresult *r = pg_exec(pg, c,
                        "SELECT tablename::text FROM pg_catalog.pg_tables WHERE schemaname = "
                        "convert_from($1, 'UTF8') ORDER BY tablename COLLATE \"C\"",
                        1, vals, lens, 0, "open", &rc);
  *names = NULL;
  *n = 0;
  if (r == NULL)
    return rc;
  *names = calloc((size_t)PQntuples(r) + 1, sizeof **names);
  for (i = 0; *names && i < PQntuples(r); i++) {
    if (((*names)[i] = strdup(PQgetvalue(r, i, 0))) == NULL) {
      quarry_free_names(*names);
      *names = NULL;
      break;
    }
  }
  if (*names)
    *n = (size_t)PQntuples(r);
  PQclear(r);
  return *names ? 0 : q_fail(QUARRY_ENOMEM, "out of memory");
}

/* ---- views of families through a handle -------------------------------------------------------- */
static int view_locked(quarry_db *db, q_pg_family *f, quarry_cf **out) {
  quarry_cf *cf;
  size_t i;
  for (i = 0; i < db->ncfs; i++)
    if (db->cfs[i]->bf == f) {
      *out = db->cfs[i];
      return 0;
    }
  if (db->ncfs == db->capcfs) {
    size_t cap = db->capcfs ? db->capcfs * 2 : 8;
    quarry_cf **g = realloc(db->cfs, cap * sizeof *g);
    if (g == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    db->cfs = g;
    db->capcfs = cap;
  }
  if ((cf = calloc(1, sizeof *cf)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  cf->db = db;
  cf->bf = f;
  cf->name = f->name;
  db->cfs[db->ncfs++] = cf;
  *out = cf;
  return 0;
}

static int pg_check(const quarry_db *db, const char *op) {
  if (db == NULL || db->pg == NULL)
    return q_fail(QUARRY_ECLOSED, "%s: the database is closed", op);
  return 0;
}

static int pg_check_write(const quarry_db *db, const char *op) {
  int rc = pg_check(db, op);
  if (rc == 0 && db->mode != Q_MODE_READ_WRITE)
    rc = q_fail(QUARRY_ENOTSUPPORTED, "database opened %s: writes are not allowed",
                q_mode_name(db->mode));
  return rc;
}

static int resolve(quarry_db *db, quarry_cf *cf, const char *op, q_pg_family **f) {
  int rc = pg_check(db, op);
  *f = NULL;
  if (rc)
    return rc;
  if (cf == NULL)
    cf = db->default_cf;
  if (cf->db != db || cf->bf == NULL)
    return q_fail(QUARRY_EINVAL, "column family '%s' belongs to another database", cf->name);
  *f = cf->bf;
  if (atomic_load(&(*f)->dropped))
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' was dropped", cf->name);
  return 0;
}

/* ---- open / close ------------------------------------------------------------------------------ */
/* Opens the families: creates the schema and the tables (read_write and create_if_missing), or
 * checks them. */
static int open_families(q_pg *pg, PGconn *c, const quarry_options *o) {
  char **tables = NULL, sql[256];
  const char *want[1] = {"default"};
  size_t n = 0, i, j;
  int rc = 0, create = o->mode == Q_MODE_READ_WRITE && o->create_if_missing;
  q_pg_family *f;
  if ((pg->schema_ident = PQescapeIdentifier(c, pg->schema, strlen(pg->schema))) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  if (create) {
    snprintf(sql, sizeof sql, "CREATE SCHEMA IF NOT EXISTS %s", pg->schema_ident);
    if ((rc = pg_command(pg, c, sql, "open")) != 0)
      return rc;
  }
  for (i = 0; i < 1 + o->ncfs && rc == 0; i++) {
    const char *name = i == 0 ? want[0] : o->cfs[i - 1];
    if ((rc = check_family_name(name)) != 0)
      break;
    if (create || o->mode == Q_MODE_READ_WRITE) {
      char *ident = qualified(c, pg->schema, name);
      if (ident == NULL)
        return q_fail(QUARRY_ENOMEM, "out of memory");
      if (create || i > 0)
        rc = create_table(pg, c, ident, "open");
      free(ident);
    }
  }
  if (rc)
    return rc;
  if ((rc = list_tables(pg, c, &tables, &n)) != 0)
    return rc;
  for (j = 0; j < n && strcmp(tables[j], "default") != 0; j++)
    ;
  if (j == n) {
    rc = pg_fail(pg, QUARRY_ENOTFOUND,
                 "database %s does not exist: no table %s.\"default\" (%s)", pg->redacted,
                 pg->schema_ident,
                 o->mode != Q_MODE_READ_WRITE ? "a database is never created in read_only mode"
                                              : "create_if_missing is false");
    quarry_free_names(tables);
    return rc;
  }
  pthread_mutex_lock(&pg->lock);
  rc = fam_add_locked(pg, c, "default", &f);
  for (j = 0; j < n && rc == 0; j++)
    if (strcmp(tables[j], "default") != 0)
      rc = fam_add_locked(pg, c, tables[j], &f);
  for (i = 0; i < o->ncfs && rc == 0; i++)
    if (fam_find_locked(pg, o->cfs[i]) == NULL)
      rc = pg_fail(pg, QUARRY_ENOTFOUND,
                   "column family '%s' does not exist in %s: no table %s (families are only "
                   "created in read_write mode)",
                   o->cfs[i], pg->redacted, o->cfs[i]);
  pthread_mutex_unlock(&pg->lock);
  quarry_free_names(tables);
  return rc;
}

static void handle_free(quarry_db *db) {
  size_t i;
  for (i = 0; i < db->ncfs; i++)
    free(db->cfs[i]);
  free(db->cfs);
  quarry_options_free(db->opts);
  free(db->path);
  pthread_mutex_destroy(&db->lock);
  pg_free(db->pg);
  free(db);
}

int q_pg_open(const char *url, const quarry_options *opts, quarry_db **out) {
  quarry_options *defaults = NULL;
  quarry_db *db;
  PGconn *c;
  q_pg *pg = NULL;
  int rc;
  *out = NULL;
  if (opts == NULL) {
    if ((rc = quarry_options_new(NULL, &defaults)) != 0)
      return rc;
    if ((rc = quarry_options_apply_env(defaults)) != 0) {
      quarry_options_free(defaults);
      return rc;
    }
    opts = defaults;
  }
  if (opts->mode == Q_MODE_SECONDARY) {
    quarry_options_free(defaults);
    return q_fail(QUARRY_ENOTSUPPORTED,
                  "mode \"secondary\" has no meaning for a PostgreSQL database: open a streaming "
                  "standby's URL with mode = \"read_only\" instead");
  }
  if ((db = calloc(1, sizeof *db)) == NULL) {
    quarry_options_free(defaults);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  pthread_mutex_init(&db->lock, NULL);
  db->children.next = db->children.prev = &db->children;
  db->be = &q_backend_postgresql;
  db->mode = opts->mode;
  if ((rc = q_options_copy(opts, &db->opts)) != 0 || (rc = pg_new(url, opts, &pg)) != 0) {
    quarry_options_free(defaults);
    handle_free(db);
    return rc;
  }
  quarry_options_free(defaults);
  db->pg = pg;
  db->m = pg->m;
  if ((db->path = strdup(pg->redacted)) == NULL) {
    handle_free(db);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  if ((c = pg_connect(pg, &rc)) == NULL) {
    handle_free(db);
    return rc;
  }
  rc = open_families(pg, c, db->opts);
  pg_give(pg, c);
  if (rc == 0) {
    pthread_mutex_lock(&db->lock);
    pthread_mutex_lock(&pg->lock);
    rc = view_locked(db, pg->fams[0], &db->default_cf);
    pthread_mutex_unlock(&pg->lock);
    pthread_mutex_unlock(&db->lock);
  }
  if (rc) {
    handle_free(db);
    return rc;
  }
  *out = db;
  return 0;
}

static int pg_close(quarry_db *db) {
  if (db == NULL)
    return 0;
  pthread_mutex_lock(&db->lock);
  pg_release_children_locked(db);
  pthread_mutex_unlock(&db->lock);
  handle_free(db);
  return 0;
}

int q_pg_list_column_families(const char *url, char ***names) {
  quarry_options *o;
  quarry_db *db;
  int rc;
  *names = NULL;
  if ((rc = quarry_options_new(NULL, &o)) != 0)
    return rc;
  o->create_if_missing = 0;
  o->mode = Q_MODE_READ_ONLY;
  rc = q_pg_open(url, o, &db);
  quarry_options_free(o);
  if (rc)
    return rc;
  rc = quarry_db_cf_names(db, names);
  pg_close(db);
  return rc;
}

int q_pg_destroy(const char *url) {
  char *r = redact_url(url);
  int rc = q_fail(QUARRY_ENOTSUPPORTED,
                  "destroy: Quarry does not drop a PostgreSQL schema (%s): an operator does it "
                  "with DROP SCHEMA <schema> CASCADE, after pg_dump if the data matters",
                  r ? r : "the URL");
  free(r);
  return rc;
}

static int pg_is_failed(const quarry_db *db) { return 0; }

static int not_supported(const quarry_db *db, const char *op, const char *instead) {
  int rc = pg_check(db, op);
  if (rc)
    return rc;
  return q_fail(QUARRY_ENOTSUPPORTED, "%s is a RocksDB operation with no meaning for a PostgreSQL "
                "database (%s); %s", op, db->path, instead);
}

static int pg_catch_up(quarry_db *db) {
  return not_supported(db, "catch_up", "a streaming standby follows its primary by itself");
}

/* ---- families through the handle ----------------------------------------------------------------- */
static int pg_cf(quarry_db *db, const char *name, quarry_cf **out) {
  q_pg_family *f;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "cf: out is NULL");
  *out = NULL;
  if ((rc = pg_check(db, "cf")) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "column family name is NULL");
  pthread_mutex_lock(&db->lock);
  pthread_mutex_lock(&db->pg->lock);
  f = fam_find_locked(db->pg, name);
  pthread_mutex_unlock(&db->pg->lock);
  rc = f ? view_locked(db, f, out) : 0;
  pthread_mutex_unlock(&db->lock);
  if (f == NULL)
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' does not exist", name);
  return rc;
}

static int pg_create_cf(quarry_db *db, const char *name, quarry_cf **out) {
  q_pg *pg;
  q_pg_family *f = NULL;
  PGconn *c;
  char *ident;
  int rc, reused;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "create_cf: out is NULL");
  *out = NULL;
  if ((rc = pg_check_write(db, "create_column_family")) != 0 || (rc = check_family_name(name)) != 0)
    return rc;
  pg = db->pg;
  pthread_mutex_lock(&pg->lock);
  f = fam_find_locked(pg, name);
  pthread_mutex_unlock(&pg->lock);
  if (f)
    return q_fail(QUARRY_EINVAL, "column family '%s' already exists", name);
  if ((c = pg_take(pg, &reused, &rc)) == NULL)
    return rc;
  if ((ident = qualified(c, pg->schema, name)) == NULL) {
    pg_give(pg, c);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  rc = create_table(pg, c, ident, "create_column_family");
  free(ident);
  if (rc == 0) {
    pthread_mutex_lock(&db->lock);
    pthread_mutex_lock(&pg->lock);
    if ((f = fam_find_locked(pg, name)) == NULL)
      rc = fam_add_locked(pg, c, name, &f);
    pthread_mutex_unlock(&pg->lock);
    if (rc == 0)
      rc = view_locked(db, f, out);
    pthread_mutex_unlock(&db->lock);
  }
  pg_give(pg, c);
  return rc;
}

static int pg_drop_cf(quarry_db *db, const char *name) {
  q_pg *pg;
  q_pg_family *f;
  PGconn *c;
  char sql[300];
  int rc, reused;
  if ((rc = pg_check_write(db, "drop_column_family")) != 0)
    return rc;
  if (name == NULL)
    return q_fail(QUARRY_EINVAL, "column family name is NULL");
  if (strcmp(name, "default") == 0)
    return q_fail(QUARRY_EINVAL, "the column family 'default' cannot be dropped");
  pg = db->pg;
  pthread_mutex_lock(&pg->lock);
  f = fam_find_locked(pg, name);
  pthread_mutex_unlock(&pg->lock);
  if (f == NULL)
    return q_fail(QUARRY_ENOTFOUND, "column family '%s' does not exist", name);
  if ((c = pg_take(pg, &reused, &rc)) == NULL)
    return rc;
  snprintf(sql, sizeof sql, "DROP TABLE IF EXISTS %s", f->ident);
  rc = pg_command(pg, c, sql, "drop_column_family");
  pg_give(pg, c);
  if (rc == 0)
    atomic_store(&f->dropped, 1);
  return rc;
}

static int pg_cf_names(quarry_db *db, char ***names) {
  q_pg *pg;
  char **res;
  size_t i, n = 0;
  int rc;
  if (names == NULL)
    return q_fail(QUARRY_EINVAL, "cf_names: names is NULL");
  *names = NULL;
  if ((rc = pg_check(db, "column_families")) != 0)
    return rc;
  pg = db->pg;
  pthread_mutex_lock(&pg->lock);
  res = calloc(pg->nfams + 1, sizeof *res);
  for (i = 0; res && i < pg->nfams; i++) {
    if (atomic_load(&pg->fams[i]->dropped))
      continue;
    if ((res[n] = strdup(pg->fams[i]->name)) == NULL) {
      quarry_free_names(res);
      res = NULL;
      break;
    }
    n++;
  }
  pthread_mutex_unlock(&pg->lock);
  if (res == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *names = res;
  return 0;
}

/* ---- binary helpers --------------------------------------------------------------------------- */
static void put32(char *p, uint32_t v) {
  p[0] = (char)(v >> 24);
  p[1] = (char)(v >> 16);
  p[2] = (char)(v >> 8);
  p[3] = (char)v;
}

static uint64_t get64(const char *p) {
  uint64_t v = 0;
  int i;
  for (i = 0; i < 8; i++)
    v = v << 8 | (unsigned char)p[i];
  return v;
}

/* The binary form of a one-dimensional bytea[] of n elements. */
static char *bytea_array(size_t n, const char *const *ptrs, const size_t *lens, size_t *outlen) {
  size_t total = 20, i;
  char *buf, *p;
  for (i = 0; i < n; i++)
    total += 4 + lens[i];
  if (total > 0x3fffffff || (buf = malloc(total)) == NULL)
    return NULL;
  put32(buf, 1);
  put32(buf + 4, 0);
  put32(buf + 8, 17); /* bytea */
  put32(buf + 12, (uint32_t)n);
  put32(buf + 16, 1);
  p = buf + 20;
  for (i = 0; i < n; i++) {
    put32(p, (uint32_t)lens[i]);
    if (lens[i])
      memcpy(p + 4, ptrs[i], lens[i]);
    p += 4 + lens[i];
  }
  *outlen = total;
  return buf;
}

/* ---- reads ------------------------------------------------------------------------------------ */
static int snap_check(quarry_db *db, const quarry_snapshot *s, const char *op) {
  const q_pg_snapshot *ps = (const q_pg_snapshot *)(const void *)s;
  if (ps->child.be != &q_backend_postgresql)
    return q_fail(QUARRY_EINVAL, "%s: the snapshot belongs to another database", op);
  if (ps->conn == NULL || ps->child.db == NULL)
    return q_fail(QUARRY_ECLOSED, "%s: the snapshot is closed", op);
  if (ps->child.db != db)
    return q_fail(QUARRY_EINVAL, "%s: the snapshot belongs to another database", op);
  return 0;
}

/* Runs a read statement: on the snapshot's connection (under its lock) when snap is given, else
 * on a pooled connection, retried once on a new connection when a reused one turns out lost. */
static PGresult *read_exec(quarry_db *db, const quarry_snapshot *snap, const char *sql, int n,
                           const char *const *vals, const int *lens, const char *op, int *rc) {
  q_pg *pg = db->pg;
  PGresult *r;
  if (snap) {
    q_pg_snapshot *ps = (q_pg_snapshot *)(uintptr_t)(const void *)snap;
    pthread_mutex_lock(&ps->lock);
    r = pg_exec(pg, ps->conn, sql, n, vals, lens, 1, op, rc);
    pthread_mutex_unlock(&ps->lock);
    return r;
  }
  for (int attempt = 0;; attempt++) {
    int reused;
    PGconn *c = pg_take(pg, &reused, rc);
    if (c == NULL)
      return NULL;
    r = pg_exec(pg, c, sql, n, vals, lens, 1, op, rc);
    if (r == NULL && reused && attempt == 0 && conn_lost(c)) {
      PQfinish(c);
      continue;
    }
    pg_give(pg, c);
    return r;
  }
}

static int pg_get(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts, const char *key,
                  size_t klen, quarry_value **out) {
  q_pg_family *f;
  char sql[256];
  const char *vals[1];
  int lens[1], rc;
  uint64_t t0;
  PGresult *r;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "get: out is NULL");
  *out = NULL;
  if ((rc = resolve(db, cf, "get", &f)) != 0)
    return rc;
  if ((rc = q_check_key("get", klen)) != 0)
    return q_count_error(db->m, rc);
  if (ropts && ropts->snapshot && (rc = snap_check(db, ropts->snapshot, "get")) != 0)
    return q_count_error(db->m, rc);
  snprintf(sql, sizeof sql, "SELECT v FROM %s WHERE k = $1", f->ident);
  vals[0] = key ? key : "";
  lens[0] = (int)klen;
  t0 = q_timer(db->m);
  r = read_exec(db, ropts ? ropts->snapshot : NULL, sql, 1, vals, lens, "get", &rc);
  q_observe(db->m, QUARRY_HISTOGRAM_GET, t0);
  if (r == NULL)
    return q_count_error(db->m, rc);
  if (PQntuples(r) == 1) {
    size_t vlen = (size_t)PQgetlength(r, 0, 0);
    if ((*out = q_heap_value_new(PQgetvalue(r, 0, 0), vlen)) == NULL)
      rc = q_fail(QUARRY_ENOMEM, "out of memory");
    else
      q_count2(db->m, Q_C_KEYS_READ, 1, Q_C_READ_BYTES, vlen);
  }
  PQclear(r);
  return q_count_error(db->m, rc);
}

static int pg_multi_get(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts, size_t n,
                        const char *const *keys, const size_t *klens, quarry_value **values) {
  q_pg_family *f;
  char sql[384], *arr;
  const char *vals[1];
  int lens[1], rc, i;
  size_t alen, found = 0, bytes = 0, j;
  uint64_t t0;
  PGresult *r;
  if (values == NULL && n > 0)
    return q_fail(QUARRY_EINVAL, "multi_get: values is NULL");
  for (j = 0; j < n; j++)
    values[j] = NULL;
  if ((rc = resolve(db, cf, "multi_get", &f)) != 0)
    return rc;
  if (n == 0)
    return 0;
  if (keys == NULL || klens == NULL)
    return q_count_error(db->m, q_fail(QUARRY_EINVAL, "multi_get: keys or klens is NULL"));
  for (j = 0; j < n; j++)
    if ((rc = q_check_key("multi_get", klens[j])) != 0)
      return q_count_error(db->m, rc);
  if (ropts && ropts->snapshot && (rc = snap_check(db, ropts->snapshot, "multi_get")) != 0)
    return q_count_error(db->m, rc);
  if ((arr = bytea_array(n, keys, klens, &alen)) == NULL)
    return q_count_error(db->m, q_fail(QUARRY_ENOMEM, "multi_get: out of memory (or over 1 GiB "
                                                      "of keys)"));
  snprintf(sql, sizeof sql,
           "SELECT q.i, t.v FROM unnest($1::bytea[]) WITH ORDINALITY AS q(k, i) JOIN %s t ON t.k "
           "= q.k",
           f->ident);
  vals[0] = arr;
  lens[0] = (int)alen;
  t0 = q_timer(db->m);
  r = read_exec(db, ropts ? ropts->snapshot : NULL, sql, 1, vals, lens, "multi_get", &rc);
  q_observe(db->m, QUARRY_HISTOGRAM_MULTI_GET, t0);
  q_count(db->m, Q_C_MULTI_GET_KEYS, n);
  free(arr);
  if (r == NULL)
    return q_count_error(db->m, rc);
  for (i = 0; i < PQntuples(r) && rc == 0; i++) {
    uint64_t idx = get64(PQgetvalue(r, i, 0));
    size_t vlen = (size_t)PQgetlength(r, i, 1);
    if (idx < 1 || idx > n || values[idx - 1])
      continue;
    if ((values[idx - 1] = q_heap_value_new(PQgetvalue(r, i, 1), vlen)) == NULL)
      rc = q_fail(QUARRY_ENOMEM, "out of memory");
    found++;
    bytes += vlen;
  }
  PQclear(r);
  if (rc) {
    for (j = 0; j < n; j++) {
      quarry_value_free(values[j]);
      values[j] = NULL;
    }
    return q_count_error(db->m, rc);
  }
  if (found)
    q_count2(db->m, Q_C_KEYS_READ, found, Q_C_READ_BYTES, bytes);
  return 0;
}

/* ---- writes: one transaction per call ------------------------------------------------------------ */
typedef struct {
  char *sql;
  int n;
  char *bufs[2];
  const char *vals[2];
  int lens[2];
} stmt;

static void stmt_free(stmt *s) {
  free(s->sql);
  free(s->bufs[0]);
  free(s->bufs[1]);
}

typedef struct {
  const q_pg_op *op;
  size_t index;
} op_ref;

static int by_key_then_later(const void *a, const void *b) {
  const op_ref *x = a, *y = b;
  int c = q_key_cmp(x->op->key, x->op->klen, y->op->key, y->op->klen);
  if (c)
    return c;
  return x->index < y->index ? 1 : x->index > y->index ? -1 : 0;
}

/* The statements of ops[0..n): consecutive puts (deletes) of one family become one statement of
 * at most Q_PG_RUN keys; a put run keeps the last value of each key. */
static int build_statements(const q_pg_op *ops, size_t n, stmt **out, size_t *nout) {
  stmt *st = NULL;
  size_t ns = 0, cap = 0, i = 0;
  int rc = 0;
  while (i < n && rc == 0) {
    size_t j = i + 1, m, u, k;
    stmt *s;
    while (j < n && j - i < Q_PG_RUN && ops[j].kind == ops[i].kind && ops[i].kind != OP_RANGE &&
           ops[j].fam == ops[i].fam)
      j++;
    if (ns == cap) {
      stmt *g = realloc(st, (cap = cap ? cap * 2 : 16) * sizeof *g);
      if (g == NULL) {
        rc = q_fail(QUARRY_ENOMEM, "out of memory");
        break;
      }
      st = g;
    }
    s = &st[ns++];
    memset(s, 0, sizeof *s);
    m = j - i;
    s->sql = malloc(strlen(ops[i].fam->ident) + 200);
    if (s->sql == NULL) {
      rc = q_fail(QUARRY_ENOMEM, "out of memory");
      break;
    }
    if (ops[i].kind == OP_RANGE) {
      sprintf(s->sql, "DELETE FROM %s WHERE k >= $1 AND k < $2", ops[i].fam->ident);
      s->n = 2;
      s->vals[0] = ops[i].key;
      s->lens[0] = (int)ops[i].klen;
      s->vals[1] = ops[i].key + ops[i].klen;
      s->lens[1] = (int)ops[i].vlen;
    } else if (m == 1) {
      s->vals[0] = ops[i].key;
      s->lens[0] = (int)ops[i].klen;
      if (ops[i].kind == OP_PUT) {
        sprintf(s->sql,
                "INSERT INTO %s (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = "
                "EXCLUDED.v",
                ops[i].fam->ident);
        s->n = 2;
        s->vals[1] = ops[i].key + ops[i].klen;
        s->lens[1] = (int)ops[i].vlen;
      } else {
        sprintf(s->sql, "DELETE FROM %s WHERE k = $1", ops[i].fam->ident);
        s->n = 1;
      }
    } else {
      op_ref *refs = malloc(m * sizeof *refs);
      const char **kp = malloc(m * sizeof *kp), **vp = malloc(m * sizeof *vp);
      size_t *kl = malloc(m * sizeof *kl), *vl = malloc(m * sizeof *vl), alen;
      if (refs && kp && vp && kl && vl) {
        for (k = 0; k < m; k++) {
          refs[k].op = &ops[i + k];
          refs[k].index = k;
        }
        /* the last write of a key wins: sort by key, later first, keep the first of each */
        qsort(refs, m, sizeof *refs, by_key_then_later);
        for (k = 0, u = 0; k < m; k++) {
          if (u && q_key_cmp(refs[k].op->key, refs[k].op->klen, kp[u - 1], kl[u - 1]) == 0)
            continue;
          kp[u] = refs[k].op->key;
          kl[u] = refs[k].op->klen;
          vp[u] = refs[k].op->key + refs[k].op->klen;
          vl[u] = refs[k].op->vlen;
          u++;
        }
        s->bufs[0] = bytea_array(u, kp, kl, &alen);
        s->lens[0] = (int)alen;
        if (ops[i].kind == OP_PUT) {
          s->bufs[1] = bytea_array(u, vp, vl, &alen);
          s->lens[1] = (int)alen;
        }
      }
      if (s->bufs[0] == NULL || (ops[i].kind == OP_PUT && s->bufs[1] == NULL))
        rc = q_fail(QUARRY_ENOMEM, "write: out of memory (or over 1 GiB in one statement)");
      free(refs);
      free(kp);
      free(vp);
      free(kl);
      free(vl);
      s->vals[0] = s->bufs[0];
      s->vals[1] = s->bufs[1];
      if (ops[i].kind == OP_PUT) {
        sprintf(s->sql,
                "INSERT INTO %s (k, v) SELECT * FROM unnest($1::bytea[], $2::bytea[]) ON "
                "CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                ops[i].fam->ident);
        s->n = 2;
      } else {
        sprintf(s->sql, "DELETE FROM %s WHERE k = ANY($1::bytea[])", ops[i].fam->ident);
        s->n = 1;
      }
    }
    i = j;
  }
  if (rc) {
    for (i = 0; i < ns; i++)
      stmt_free(&st[i]);
    free(st);
    return rc;
  }
  *out = st;
  *nout = ns;
  return 0;
}

/* Reads the results of the nq queries sent since the last sync, then the sync. first_err gets the
 * first failure (PGresult kept for the message). *commit_acked = 1 when the last query was the
 * COMMIT and it succeeded. Returns -1 when the connection broke. */
static int read_segment(PGconn *c, int nq, int last_is_commit, PGresult **first_err,
                        int *commit_acked) {
  int i;
  for (i = 0; i < nq; i++) {
    PGresult *r = PQgetResult(c);
    if (r == NULL)
      return -1;
    ExecStatusType s = PQresultStatus(r);
    if (s == PGRES_FATAL_ERROR && *first_err == NULL)
      *first_err = r;
    else {
      if (last_is_commit && i == nq - 1 && s == PGRES_COMMAND_OK &&
          strcmp(PQcmdStatus(r), "COMMIT") == 0)
        *commit_acked = 1;
      PQclear(r);
    }
    if (s == PGRES_FATAL_ERROR && conn_lost(c))
      return -1;
    /* each query's results end with NULL */
    while ((r = PQgetResult(c)) != NULL) {
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) { /* cannot happen before the sync */
        PQclear(r);
        return -1;
      }
      PQclear(r);
    }
  }
  for (;;) {
    PGresult *r = PQgetResult(c);
    if (r == NULL) {
      if (conn_lost(c))
        return -1;
      continue;
    }
    ExecStatusType s = PQresultStatus(r);
    PQclear(r);
    if (s == PGRES_PIPELINE_SYNC)
      return 0;
    if (conn_lost(c))
      return -1;
  }
}

typedef enum { TX_OK, TX_FAILED, TX_RETRY, TX_LOST_BEFORE, TX_UNKNOWN } tx_outcome;

/* One attempt of the transaction on c. */
static tx_outcome tx_attempt(q_pg *pg, PGconn *c, const stmt *st, size_t ns, int sync,
                             const char *op, int *rc) {
  static const int formats[2] = {1, 1};
  PGresult *err = NULL;
  size_t i = 0;
  int commit_sent = 0, commit_acked = 0, broke = 0, first = 1;
  *rc = 0;
  if (!PQenterPipelineMode(c)) {
    *rc = result_fail(pg, c, NULL, op, NULL);
    return conn_lost(c) ? TX_LOST_BEFORE : TX_FAILED;
  }
  while (!broke && err == NULL && !commit_sent) {
    int nq = 0;
    if (first) {
      PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL, NULL, 0);
      PQsendQueryParams(c, sync ? "SET LOCAL synchronous_commit = on"
                                : "SET LOCAL synchronous_commit = off",
                        0, NULL, NULL, NULL, NULL, 0);
      nq = 2;
      first = 0;
    }
    for (; i < ns && nq < Q_PG_SEGMENT; i++, nq++)
      PQsendQueryParams(c, st[i].sql, st[i].n, NULL, st[i].vals, st[i].lens, formats, 0);
    if (i == ns) {
      PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0);
      nq++;
      commit_sent = 1;
    }
    if (!PQpipelineSync(c)) {
      broke = 1;
      break;
    }
    q_count(pg->m, Q_C_ROUND_TRIPS, 1);
    if (read_segment(c, nq, commit_sent, &err, &commit_acked) < 0)
      broke = 1;
  }
  if (broke || conn_lost(c)) {
    if (err)
      *rc = result_fail(pg, c, err, op, NULL);
    PQclear(err);
    if (commit_sent && !commit_acked) {
      *rc = pg_fail(pg, QUARRY_EINCOMPLETE,
                    "%s: the connection to %s was lost after COMMIT was sent and before the server "
                    "answered (%s): the transaction may or may not have been committed; read the "
                    "keys back to know",
                    op, pg->redacted, PQerrorMessage(c));
      return TX_UNKNOWN;
    }
    if (commit_acked)
      return TX_OK;
    if (*rc == 0 || *rc != QUARRY_EIO)
      *rc = pg_fail(pg, QUARRY_EIO,
                    "%s: the connection to %s was lost before COMMIT was sent (%s): nothing was "
                    "written",
                    op, pg->redacted, PQerrorMessage(c));
    return TX_LOST_BEFORE;
  }
  PQexitPipelineMode(c);
  if (err) {
    const char *state;
    int code = sqlstate_code(c, err, &state);
    *rc = result_fail(pg, c, err, op, "; nothing was written");
    PQclear(err);
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
      pg_command(pg, c, "ROLLBACK", op);
    return code == QUARRY_ETRYAGAIN ? TX_RETRY : TX_FAILED;
  }
  return commit_acked ? TX_OK : TX_FAILED;
}

/* One statement in its own (implicit) transaction, when the write is one statement and its
 * sync is the connections' synchronous_commit: PQexecParams returns once the server committed
 * (its ReadyForQuery follows the commit), so success is an acknowledged commit; a connection
 * lost before the answer leaves the outcome unknown. */
static tx_outcome tx_single(q_pg *pg, PGconn *c, const stmt *st, const char *op, int *rc) {
  static const int formats[2] = {1, 1};
  PGresult *r = PQexecParams(c, st->sql, st->n, NULL, st->vals, st->lens, formats, 0);
  ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  const char *state;
  int code;
  q_count(pg->m, Q_C_ROUND_TRIPS, 1);
  if (s == PGRES_COMMAND_OK) {
    PQclear(r);
    *rc = 0;
    return TX_OK;
  }
  if (conn_lost(c)) {
    *rc = pg_fail(pg, QUARRY_EINCOMPLETE,
                  "%s: the connection to %s was lost before the server answered the write (%s): "
                  "it may or may not have been committed; read the keys back to know",
                  op, pg->redacted, PQerrorMessage(c));
    PQclear(r);
    return TX_UNKNOWN;
  }
  code = sqlstate_code(c, r, &state);
  *rc = result_fail(pg, c, r, op, "; nothing was written");
  PQclear(r);
  return code == QUARRY_ETRYAGAIN ? TX_RETRY : TX_FAILED;
}

/* Commits ops as one transaction, with the retry policy of the file's header. */
static int pg_commit(quarry_db *db, const q_pg_op *ops, size_t n, const quarry_write_options *w,
                     const char *op) {
  q_pg *pg = db->pg;
  stmt *st = NULL;
  size_t ns = 0, i;
  int sync, wal, rc, attempt;
  char last[512] = "";
  q_write_mode(db, w, &sync, &wal);
  if (n == 0)
    return 0;
  if ((rc = build_statements(ops, n, &st, &ns)) != 0)
    return rc;
  for (attempt = 1;; attempt++) {
    int reused;
    tx_outcome o;
    PGconn *c = pg_take(pg, &reused, &rc);
    if (c == NULL)
      break;
    o = ns == 1 && sync == pg->session_sync ? tx_single(pg, c, st, op, &rc)
                                            : tx_attempt(pg, c, st, ns, sync, op, &rc);
    pg_give(pg, c);
    if (o == TX_OK || o == TX_FAILED || o == TX_UNKNOWN)
      break;
    if (o == TX_LOST_BEFORE) {
      if (reused && attempt == 1)
        continue; /* a stale pooled connection: nothing was sent that could commit */
      break;
    }
    /* TX_RETRY */
    snprintf(last, sizeof last, "%s", quarry_last_error());
    if (attempt == Q_PG_ATTEMPTS) {
      rc = q_fail(QUARRY_ETRYAGAIN,
                  "%s: gave up after %d attempts, each ended by a serialization failure or a "
                  "deadlock (SQLSTATE 40001/40P01) from the server; nothing was written; try again "
                  "(last: %s)",
                  op, Q_PG_ATTEMPTS, last);
      break;
    }
    q_count(pg->m, Q_C_RETRIES, 1);
    {
      unsigned us = Q_PG_BACKOFF_US << (attempt - 1);
      if (us > Q_PG_BACKOFF_MAX_US)
        us = Q_PG_BACKOFF_MAX_US;
      usleep(us / 2 + (unsigned)(q_now_ns() % (us / 2 + 1)));
    }
  }
  for (i = 0; i < ns; i++)
    stmt_free(&st[i]);
  free(st);
  if (rc == 0 && sync)
    q_count(db->m, Q_C_WAL_SYNCED, 1);
  return rc;
}

static int make_op(q_pg_op *o, int kind, q_pg_family *f, const char *key, size_t klen,
                   const char *val, size_t vlen) {
  o->kind = kind;
  o->fam = f;
  o->klen = klen;
  o->vlen = vlen;
  if ((o->key = malloc(klen + vlen + 1)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  if (klen)
    memcpy(o->key, key, klen);
  if (vlen)
    memcpy(o->key + klen, val, vlen);
  return 0;
}

/* A single write: its op on the stack, pointing at the caller's bytes (no copy). */
static int single_write(quarry_db *db, int kind, q_pg_family *f, const quarry_write_options *w,
                        const char *key, size_t klen, const char *val, size_t vlen,
                        const char *op) {
  q_pg_op o;
  int rc = make_op(&o, kind, f, key, klen, val, vlen);
  if (rc)
    return rc;
  rc = pg_commit(db, &o, 1, w, op);
  free(o.key);
  return rc;
}

static int pg_put(quarry_db *db, quarry_cf *cf, const quarry_write_options *w, const char *key,
                  size_t klen, const char *val, size_t vlen) {
  q_pg_family *f;
  uint64_t t0;
  int rc;
  if ((rc = resolve(db, cf, "put", &f)) != 0)
    return rc;
  if ((rc = pg_check_write(db, "put")) != 0 || (rc = q_check_key("put", klen)) != 0 ||
      (rc = q_check_value("put", vlen)) != 0)
    return q_count_error(db->m, rc);
  t0 = q_timer(db->m);
  rc = single_write(db, OP_PUT, f, w, key, klen, val, vlen, "put");
  q_observe(db->m, QUARRY_HISTOGRAM_PUT, t0);
  if (rc)
    return q_count_error(db->m, rc);
  q_count2(db->m, Q_C_KEYS_WRITTEN, 1, Q_C_WRITTEN_BYTES, klen + vlen);
  return 0;
}

static int pg_del(quarry_db *db, quarry_cf *cf, const quarry_write_options *w, const char *key,
                  size_t klen) {
  q_pg_family *f;
  int rc;
  if ((rc = resolve(db, cf, "delete", &f)) != 0)
    return rc;
  if ((rc = pg_check_write(db, "delete")) != 0 || (rc = q_check_key("delete", klen)) != 0)
    return q_count_error(db->m, rc);
  if ((rc = single_write(db, OP_DEL, f, w, key, klen, NULL, 0, "delete")) != 0)
    return q_count_error(db->m, rc);
  q_count(db->m, Q_C_DELETES, 1);
  q_count2(db->m, Q_C_KEYS_WRITTEN, 1, Q_C_WRITTEN_BYTES, klen);
  return 0;
}

static int pg_delete_range(quarry_db *db, quarry_cf *cf, const quarry_write_options *w,
                           const char *from, size_t flen, const char *to, size_t tlen) {
  q_pg_family *f;
  int rc;
  if ((rc = resolve(db, cf, "delete_range", &f)) != 0)
    return rc;
  if ((rc = pg_check_write(db, "delete_range")) != 0 ||
      (rc = q_check_range("delete_range", from, flen, to, tlen)) != 0)
    return q_count_error(db->m, rc);
  if ((rc = single_write(db, OP_RANGE, f, w, from, flen, to, tlen, "delete_range")) != 0)
    return q_count_error(db->m, rc);
  q_count(db->m, Q_C_DELETE_RANGES, 1);
  q_count2(db->m, Q_C_KEYS_WRITTEN, 1, Q_C_WRITTEN_BYTES, flen + tlen);
  return 0;
}

/* ---- batches ---------------------------------------------------------------------------------- */
static void batch_clear_ops(q_pg_batch *b) {
  size_t i;
  for (i = 0; i < b->n; i++)
    free(b->ops[i].key);
  b->n = 0;
  b->bytes = 0;
}

static int pg_batch_new(quarry_db *db, quarry_batch **out) {
  q_pg_batch *b;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "batch: out is NULL");
  *out = NULL;
  if ((rc = pg_check(db, "batch")) != 0)
    return rc;
  if ((b = calloc(1, sizeof *b)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  b->child.kind = Q_CHILD_BATCH;
  q_child_link(db, &b->child);
  *out = (quarry_batch *)(void *)b;
  return 0;
}

static void batch_release(q_pg_batch *b) {
  batch_clear_ops(b);
  free(b->ops);
  b->ops = NULL;
  b->cap = 0;
  b->closed = 1;
  q_child_unlink_locked(&b->child);
}

static void pg_batch_close(quarry_batch *qb) {
  q_pg_batch *b = (q_pg_batch *)(void *)qb;
  quarry_db *db;
  if (b == NULL)
    return;
  if ((db = b->child.db) != NULL) {
    pthread_mutex_lock(&db->lock);
    batch_release(b);
    pthread_mutex_unlock(&db->lock);
  }
  batch_clear_ops(b);
  free(b->ops);
  free(b);
}

static int pg_batch_is_closed(const quarry_batch *qb) {
  const q_pg_batch *b = (const q_pg_batch *)(const void *)qb;
  return b == NULL || b->closed || b->child.db == NULL;
}

static int batch_add(quarry_batch *qb, int kind, quarry_cf *cf, const char *key, size_t klen,
                     const char *val, size_t vlen, const char *op) {
  q_pg_batch *b = (q_pg_batch *)(void *)qb;
  q_pg_family *f;
  int rc;
  if (pg_batch_is_closed(qb))
    return q_fail(QUARRY_ECLOSED, "%s: the batch is closed", op);
  if ((rc = resolve(b->child.db, cf, op, &f)) != 0)
    return rc;
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    q_pg_op *g = realloc(b->ops, cap * sizeof *g);
    if (g == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    b->ops = g;
    b->cap = cap;
  }
  if ((rc = make_op(&b->ops[b->n], kind, f, key, klen, val, vlen)) != 0)
    return rc;
  b->n++;
  b->bytes += klen + vlen + 1; /* as RocksDB's record, roughly: a tag, the key and value */
  return 0;
}

static int pg_batch_put(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen,
                        const char *val, size_t vlen) {
  int rc;
  if ((rc = q_check_key("batch_put", klen)) != 0 || (rc = q_check_value("batch_put", vlen)) != 0)
    return rc;
  return batch_add(b, OP_PUT, cf, key, klen, val, vlen, "batch_put");
}

static int pg_batch_delete(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen) {
  int rc;
  if ((rc = q_check_key("batch_delete", klen)) != 0)
    return rc;
  return batch_add(b, OP_DEL, cf, key, klen, NULL, 0, "batch_delete");
}

static int pg_batch_delete_range(quarry_batch *b, quarry_cf *cf, const char *from, size_t flen,
                                 const char *to, size_t tlen) {
  int rc;
  if (pg_batch_is_closed(b))
    return q_fail(QUARRY_ECLOSED, "batch_delete_range: the batch is closed");
  if ((rc = q_check_range("batch_delete_range", from, flen, to, tlen)) != 0)
    return rc;
  return batch_add(b, OP_RANGE, cf, from, flen, to, tlen, "batch_delete_range");
}

static int pg_batch_count(const quarry_batch *qb, size_t *count) {
  const q_pg_batch *b = (const q_pg_batch *)(const void *)qb;
  if (count)
    *count = 0;
  if (pg_batch_is_closed(qb))
    return q_fail(QUARRY_ECLOSED, "batch_count: the batch is closed");
  if (count)
    *count = b->n;
  return 0;
}

static int pg_batch_data_size(const quarry_batch *qb, size_t *bytes) {
  const q_pg_batch *b = (const q_pg_batch *)(const void *)qb;
  if (bytes)
    *bytes = 0;
  if (pg_batch_is_closed(qb))
    return q_fail(QUARRY_ECLOSED, "batch_data_size: the batch is closed");
  if (bytes)
    *bytes = b->bytes;
  return 0;
}

static int pg_batch_clear(quarry_batch *qb) {
  if (pg_batch_is_closed(qb))
    return q_fail(QUARRY_ECLOSED, "batch_clear: the batch is closed");
  batch_clear_ops((q_pg_batch *)(void *)qb);
  return 0;
}

static int pg_write(quarry_db *db, quarry_batch *qb, const quarry_write_options *w) {
  q_pg_batch *b = (q_pg_batch *)(void *)qb;
  uint64_t t0;
  size_t i, bytes = 0;
  int rc;
  if ((rc = pg_check(db, "write")) != 0)
    return rc;
  if ((rc = pg_check_write(db, "write")) != 0)
    return q_count_error(db->m, rc);
  if (b != NULL && b->child.be != &q_backend_postgresql) /* another backend's: another layout */
    return q_count_error(db->m,
                         q_fail(QUARRY_EINVAL, "write: the batch belongs to another database"));
  if (b == NULL || pg_batch_is_closed(qb))
    return q_count_error(db->m, q_fail(QUARRY_ECLOSED, "write: the batch is closed"));
  if (b->child.db != db)
    return q_count_error(db->m,
                         q_fail(QUARRY_EINVAL, "write: the batch belongs to another database"));
  for (i = 0; i < b->n; i++)
    if (atomic_load(&b->ops[i].fam->dropped))
      return q_count_error(db->m, q_fail(QUARRY_ENOTFOUND,
                                         "write: column family '%s' was dropped; nothing was "
                                         "written",
                                         b->ops[i].fam->name));
  t0 = q_timer(db->m);
  rc = pg_commit(db, b->ops, b->n, w, "write");
  q_observe(db->m, QUARRY_HISTOGRAM_WRITE_BATCH, t0);
  if (rc)
    return q_count_error(db->m, rc);
  for (i = 0; i < b->n; i++)
    bytes += b->ops[i].klen + b->ops[i].vlen;
  q_count2(db->m, Q_C_KEYS_WRITTEN, b->n, Q_C_WRITTEN_BYTES, bytes);
  return 0;
}

/* ---- snapshots -------------------------------------------------------------------------------- */
static int pg_snapshot_new(quarry_db *db, quarry_snapshot **out) {
  q_pg_snapshot *s;
  PGresult *r;
  int rc, reused;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "snapshot: out is NULL");
  *out = NULL;
  if ((rc = pg_check(db, "snapshot")) != 0)
    return rc;
  if ((s = calloc(1, sizeof *s)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  if ((s->conn = pg_take(db->pg, &reused, &rc)) == NULL) {
    free(s);
    return rc;
  }
  if ((rc = pg_command(db->pg, s->conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                       "snapshot")) != 0 ||
      (r = pg_exec(db->pg, s->conn,
                   "SELECT pg_export_snapshot(), pg_snapshot_xmin(pg_current_snapshot())::text", 0,
                   NULL, NULL, 0, "snapshot", &rc)) == NULL) {
    PQfinish(s->conn);
    free(s);
    return rc;
  }
  snprintf(s->id, sizeof s->id, "%s", PQgetvalue(r, 0, 0));
  s->seq = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
  PQclear(r);
  pthread_mutex_init(&s->lock, NULL);
  s->child.kind = Q_CHILD_SNAPSHOT;
  q_child_link(db, &s->child);
  *out = (quarry_snapshot *)(void *)s;
  return 0;
}

static void snapshot_release(q_pg_snapshot *s) {
  if (s->conn && s->child.db) {
    give_rolling_back(s->child.db->pg, s->conn);
  } else if (s->conn) {
    PQfinish(s->conn);
  }
  s->conn = NULL;
  s->seq = 0;
  q_child_unlink_locked(&s->child);
}

static void pg_snapshot_close(quarry_snapshot *qs) {
  q_pg_snapshot *s = (q_pg_snapshot *)(void *)qs;
  quarry_db *db;
  if (s == NULL)
    return;
  if ((db = s->child.db) != NULL) {
    pthread_mutex_lock(&db->lock);
    snapshot_release(s);
    pthread_mutex_unlock(&db->lock);
  }
  pthread_mutex_destroy(&s->lock);
  free(s);
}

static uint64_t pg_snapshot_sequence(const quarry_snapshot *qs) {
  const q_pg_snapshot *s = (const q_pg_snapshot *)(const void *)qs;
  return s && s->conn ? s->seq : 0;
}

static int pg_snapshot_is_closed(const quarry_snapshot *qs) {
  const q_pg_snapshot *s = (const q_pg_snapshot *)(const void *)qs;
  return s == NULL || s->conn == NULL;
}

/* ---- iterators -------------------------------------------------------------------------------- */
static void iter_drop_page(q_pg_iter *it) {
  PQclear(it->lazy);
  it->lazy = NULL;
  PQclear(it->page);
  it->page = NULL;
  it->nrows = it->pos = 0;
  it->more = 0;
}

static void iter_release(q_pg_iter *it) {
  iter_drop_page(it);
  if (it->conn && it->child.db && !it->broken) {
    give_rolling_back(it->child.db->pg, it->conn);
  } else if (it->conn) {
    PQfinish(it->conn);
  }
  it->conn = NULL;
  it->closed = 1;
  q_child_unlink_locked(&it->child);
}

static int pg_iter_new(quarry_db *db, quarry_cf *cf, const quarry_iter_options *o,
                       quarry_iter **out) {
  static const quarry_iter_options defaults = QUARRY_ITER_OPTIONS_INIT;
  q_pg_family *f;
  q_pg_iter *it;
  int rc, reused;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "iterator: out is NULL");
  *out = NULL;
  if ((rc = resolve(db, cf, "iterator", &f)) != 0)
    return rc;
  if (o == NULL)
    o = &defaults;
  if (o->snapshot && (rc = snap_check(db, o->snapshot, "iterator")) != 0)
    return rc;
  if ((it = calloc(1, sizeof *it)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  it->fam = f;
  it->reverse = o->reverse != 0;
  it->keys_only = o->keys_only != 0;
  it->limit = o->limit;
  if ((rc = q_iter_bounds(o, &it->lower, &it->lower_len, &it->upper, &it->upper_len,
                          &it->empty)) != 0) {
    free(it);
    return rc;
  }
  /* Without a snapshot the transaction begins with the first page (one round trip for both);
   * with one, it is imported now, while the snapshot surely lives. */
  if ((it->conn = take(db->pg, &reused, o->snapshot ? NULL : &it->pending, &rc)) != NULL &&
      o->snapshot) {
    char sql[256];
    snprintf(sql, sizeof sql,
             "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '%s'",
             ((const q_pg_snapshot *)(const void *)o->snapshot)->id);
    if ((rc = pg_command(db->pg, it->conn, sql, "iterator")) != 0) {
      PQfinish(it->conn);
      it->conn = NULL;
    } else {
      it->begun = 1;
    }
  }
  it->reused = reused;
  if (it->conn == NULL) {
    free(it->lower);
    free(it->upper);
    free(it);
    return rc;
  }
  it->child.kind = Q_CHILD_ITER;
  q_child_link(db, &it->child);
  *out = (quarry_iter *)(void *)it;
  return 0;
}

static void pg_iter_close(quarry_iter *qi) {
  q_pg_iter *it = (q_pg_iter *)(void *)qi;
  quarry_db *db;
  if (it == NULL)
    return;
  if ((db = it->child.db) != NULL) {
    pthread_mutex_lock(&db->lock);
    iter_release(it);
    pthread_mutex_unlock(&db->lock);
  }
  iter_drop_page(it);
  free(it->lower);
  free(it->upper);
  free(it);
}

static int pg_iter_is_closed(const quarry_iter *qi) {
  const q_pg_iter *it = (const q_pg_iter *)(const void *)qi;
  return it == NULL || it->closed || it->child.db == NULL;
}

static int pg_iter_valid(const quarry_iter *qi) {
  const q_pg_iter *it = (const q_pg_iter *)(const void *)qi;
  return !pg_iter_is_closed(qi) && !it->empty && it->page && it->pos >= 0 && it->pos < it->nrows;
}

/* BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY and the query, pipelined: one round trip.
 * The query's result (the BEGIN's failure then makes it a PGRES_PIPELINE_ABORTED one, or NULL
 * when the connection broke). */
static PGresult *begin_and_query(PGconn *c, int pending, const char *sql, int n,
                                 const char *const *vals, const int *lens, const int *formats) {
  PGresult *r, *begin = NULL, *res = NULL;
  if (!pending && !PQenterPipelineMode(c))
    return NULL;
  if (!PQsendQueryParams(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL, NULL,
                         NULL, NULL, 0) ||
      !PQsendQueryParams(c, sql, n, NULL, vals, lens, n ? formats : NULL, 1) ||
      !PQpipelineSync(c))
    return NULL;
  if (pending) { /* the previous user's ROLLBACK, then its sync */
    for (;;) {
      if ((r = PQgetResult(c)) == NULL) {
        if (conn_lost(c))
          return NULL;
        continue;
      }
      ExecStatusType st = PQresultStatus(r);
      PQclear(r);
      if (st == PGRES_PIPELINE_SYNC)
        break;
      if (conn_lost(c))
        return NULL;
    }
  }
  begin = PQgetResult(c);
  while (begin && (r = PQgetResult(c)) != NULL)
    PQclear(r);
  if (begin && !conn_lost(c)) {
    res = PQgetResult(c);
    while (res && (r = PQgetResult(c)) != NULL)
      PQclear(r);
    if (res && !conn_lost(c) && (r = PQgetResult(c)) != NULL) /* the sync */
      PQclear(r);
  }
  if (begin && PQresultStatus(begin) == PGRES_FATAL_ERROR) { /* its message, not "aborted" */
    PQclear(res);
    res = begin;
    begin = NULL;
  }
  PQclear(begin);
  if (!conn_lost(c))
    PQexitPipelineMode(c);
  return res;
}

/* Fetches the page starting at from (NULL: the bound) in direction desc, inclusive or not. */
static int fetch(q_pg_iter *it, int desc, const char *from, size_t flen, int inclusive,
                 const char *op) {
  quarry_db *db = it->child.db;
  char sql[1024], cond[256];
  const char *vals[3];
  int lens[3], n = 0, rc, rows;
  size_t c = 0;
  PGresult *r;
  char *fromcopy = NULL;
  cond[0] = '\0';
  if (from) { /* from may point into the page about to be dropped */
    if ((fromcopy = malloc(flen ? flen : 1)) == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    memcpy(fromcopy, from, flen);
  }
  iter_drop_page(it);
  if (it->lower) {
    vals[n] = it->lower;
    lens[n++] = (int)it->lower_len;
    c += (size_t)snprintf(cond + c, sizeof cond - c, " AND k >= $%d", n);
  }
  if (it->upper) {
    vals[n] = it->upper;
    lens[n++] = (int)it->upper_len;
    c += (size_t)snprintf(cond + c, sizeof cond - c, " AND k < $%d", n);
  }
  if (fromcopy) {
    vals[n] = fromcopy;
    lens[n++] = (int)flen;
    c += (size_t)snprintf(cond + c, sizeof cond - c, " AND k %s $%d",
                          desc ? (inclusive ? "<=" : "<") : (inclusive ? ">=" : ">"), n);
  }
  /* a seek reads a few rows, a scan pages growing to Q_PG_PAGE_ROWS */
  rows = it->page_rows ? it->page_rows : Q_PG_FIRST_PAGE_ROWS;
  it->page_rows = rows * 2 > Q_PG_PAGE_ROWS ? Q_PG_PAGE_ROWS : rows * 2;
  /* pages: rows + 1 rows (one more tells that more follow), cut at about
   * Q_PG_PAGE_BYTES by a running sum the server computes while it reads in key order */
  snprintf(sql, sizeof sql,
           "SELECT k, v, run FROM (SELECT k, %s AS v, sum(octet_length(k)%s) OVER (ORDER BY k %s "
           "ROWS UNBOUNDED PRECEDING) AS run, octet_length(k)%s AS len FROM %s WHERE true%s "
           "ORDER BY k %s LIMIT %d) p WHERE run - len < %d ORDER BY k %s",
           it->keys_only ? "NULL::bytea" : "v", it->keys_only ? "" : " + octet_length(v)",
           desc ? "DESC" : "ASC", it->keys_only ? "" : " + octet_length(v)", it->fam->ident, cond,
           desc ? "DESC" : "ASC", rows + 1, Q_PG_PAGE_BYTES, desc ? "DESC" : "ASC");
  {
    int formats[3] = {1, 1, 1};
    if (it->begun) {
      r = PQexecParams(it->conn, sql, n, NULL, vals, lens, n ? formats : NULL, 1);
    } else {
      r = begin_and_query(it->conn, it->pending, sql, n, vals, lens, formats);
      it->pending = 0;
      if ((r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) && it->reused &&
          conn_lost(it->conn)) { /* a pooled connection the server had closed: nothing read */
        PGconn *fresh = pg_connect(db->pg, &rc);
        PQclear(r);
        r = NULL;
        it->reused = 0;
        if (fresh) {
          PQfinish(it->conn);
          it->conn = fresh;
          r = begin_and_query(it->conn, 0, sql, n, vals, lens, formats);
        }
      }
    }
    if (r && PQresultStatus(r) == PGRES_TUPLES_OK)
      it->begun = 1;
  }
  free(fromcopy);
  q_count(db->m, Q_C_ROUND_TRIPS, 1);
  if (r == NULL || PQresultStatus(r) != PGRES_TUPLES_OK) {
    if (conn_lost(it->conn)) {
      it->broken = 1;
      rc = pg_fail(db->pg, QUARRY_EIO,
                   "%s: the connection to %s was lost while iterating column family '%s' (%s); "
                   "the iterator's snapshot is gone: close it and open a new one",
                   op, db->pg->redacted, it->fam->name, PQerrorMessage(it->conn));
    } else {
      rc = result_fail(db->pg, it->conn, r, op, NULL);
    }
    PQclear(r);
    return rc;
  }
  it->page = r;
  it->desc = desc;
  it->nrows = PQntuples(r);
  it->pos = 0;
  if (it->nrows > rows) {
    it->nrows = rows;
    it->more = 1;
  } else if (it->nrows > 0) {
    /* cut by bytes when the last row's running sum reached the limit */
    it->more = get64(PQgetvalue(r, it->nrows - 1, 2)) >= (uint64_t)Q_PG_PAGE_BYTES;
  }
  return 0;
}

static const char *row_key(const q_pg_iter *it, size_t *len) {
  *len = (size_t)PQgetlength(it->page, it->pos, 0);
  return PQgetvalue(it->page, it->pos, 0);
}

typedef enum { M_FIRST, M_LAST, M_SEEK, M_SEEK_PREV, M_NEXT, M_PREV } move_kind;

static int move(q_pg_iter *it, move_kind m, const char *key, size_t klen, const char *op) {
  quarry_db *db;
  uint64_t t0;
  int rc = 0, step = m == M_NEXT || m == M_PREV;
  if (pg_iter_is_closed((quarry_iter *)(void *)it))
    return q_fail(QUARRY_ECLOSED, "%s: the iterator is closed", op);
  db = it->child.db;
  if (it->broken)
    return q_count_error(db->m, pg_fail(db->pg, QUARRY_EIO,
                                        "%s: the iterator lost its connection to %s earlier; "
                                        "close it and open a new one",
                                        op, db->pg->redacted));
  if (key && (rc = q_check_key(op, klen)) != 0)
    return q_count_error(db->m, rc);
  if (step && !pg_iter_valid((quarry_iter *)(void *)it))
    return q_count_error(
        db->m, q_fail(QUARRY_EINVAL, "%s: the iterator is not positioned on an entry", op));
  if (it->empty) {
    it->started = Q_IT_PLACED;
    return 0;
  }
  PQclear(it->lazy);
  it->lazy = NULL;
  t0 = step ? 0 : q_timer(db->m);
  switch (m) {
  case M_FIRST: rc = fetch(it, 0, NULL, 0, 1, op); break;
  case M_LAST: rc = fetch(it, 1, NULL, 0, 1, op); break;
  case M_SEEK: rc = fetch(it, 0, key, klen, 1, op); break;
  case M_SEEK_PREV: rc = fetch(it, 1, key, klen, 1, op); break;
  case M_NEXT:
  case M_PREV: {
    int forward = m == M_NEXT;
    size_t kl;
    const char *k;
    if (forward != !it->desc && it->pos > 0) { /* back along the page */
      it->pos--;
      break;
    }
    if (forward == !it->desc && it->pos + 1 < it->nrows) {
      it->pos++;
      break;
    }
    if (forward == !it->desc && !it->more) { /* past the last row of the range */
      it->pos = it->nrows;
      break;
    }
    k = row_key(it, &kl);
    rc = fetch(it, !forward, k, kl, 0, op);
    break;
  }
  }
  if (step)
    q_count(db->m, Q_C_ITER_STEPS, 1);
  else
    q_observe(db->m, QUARRY_HISTOGRAM_ITERATOR_SEEK, t0);
  it->started = step ? Q_IT_STEPPED : Q_IT_PLACED;
  return q_count_error(db->m, rc);
}

static int pg_iter_first(quarry_iter *it) {
  return move((q_pg_iter *)(void *)it, M_FIRST, NULL, 0, "iter_first");
}
static int pg_iter_last(quarry_iter *it) {
  return move((q_pg_iter *)(void *)it, M_LAST, NULL, 0, "iter_last");
}
static int pg_iter_next(quarry_iter *it) {
  return move((q_pg_iter *)(void *)it, M_NEXT, NULL, 0, "iter_next");
}
static int pg_iter_prev(quarry_iter *it) {
  return move((q_pg_iter *)(void *)it, M_PREV, NULL, 0, "iter_prev");
}

static int pg_iter_seek(quarry_iter *it, const char *key, size_t klen) {
  if (key == NULL)
    return q_fail(QUARRY_EINVAL, "iter_seek: key is NULL");
  return move((q_pg_iter *)(void *)it, M_SEEK, key, klen, "iter_seek");
}

static int pg_iter_seek_for_prev(quarry_iter *it, const char *key, size_t klen) {
  if (key == NULL)
    return q_fail(QUARRY_EINVAL, "iter_seek_for_prev: key is NULL");
  return move((q_pg_iter *)(void *)it, M_SEEK_PREV, key, klen, "iter_seek_for_prev");
}

static const char *pg_iter_key(const quarry_iter *qi, size_t *len) {
  const q_pg_iter *it = (const q_pg_iter *)(const void *)qi;
  size_t n = 0;
  const char *k = NULL;
  if (pg_iter_valid(qi))
    k = row_key(it, &n);
  if (len)
    *len = n;
  return k;
}

/* A keys_only iterator's pages hold no values (step returns none); the value of the current
 * entry, when asked for, is read in the iterator's own transaction (its snapshot) and kept until
 * the next move. */
static const char *lazy_value(q_pg_iter *it, size_t *len) {
  char sql[256];
  const char *vals[1];
  int lens[1], rc;
  size_t kl;
  if (it->lazy == NULL) {
    vals[0] = row_key(it, &kl);
    lens[0] = (int)kl;
    snprintf(sql, sizeof sql, "SELECT v FROM %s WHERE k = $1", it->fam->ident);
    it->lazy = pg_exec(it->child.db->pg, it->conn, sql, 1, vals, lens, 1, "iter_value", &rc);
    if (it->lazy == NULL || PQntuples(it->lazy) != 1)
      return NULL;
  }
  *len = (size_t)PQgetlength(it->lazy, 0, 0);
  return PQgetvalue(it->lazy, 0, 0);
}

static const char *pg_iter_value(const quarry_iter *qi, size_t *len) {
  q_pg_iter *it = (q_pg_iter *)(uintptr_t)(const void *)qi;
  size_t n = 0;
  const char *v = NULL;
  if (pg_iter_valid(qi))
    v = it->keys_only ? lazy_value(it, &n) : PQgetvalue(it->page, it->pos, 1);
  if (v && pg_iter_valid(qi) && !it->keys_only)
    n = (size_t)PQgetlength(it->page, it->pos, 1);
  if (len)
    *len = v ? n : 0;
  return v;
}

static int pg_iter_step(quarry_iter *qi, const char **key, size_t *klen, const char **val,
                        size_t *vlen) {
  q_pg_iter *it = (q_pg_iter *)(void *)qi;
  quarry_db *db;
  size_t kl = 0, vl = 0;
  int rc = 0;
  if (key)
    *key = NULL;
  if (klen)
    *klen = 0;
  if (val)
    *val = NULL;
  if (vlen)
    *vlen = 0;
  if (pg_iter_is_closed(qi))
    return q_fail(QUARRY_ECLOSED, "iter_step: the iterator is closed");
  db = it->child.db;
  if (it->limit >= 0 && it->seen >= it->limit)
    return 0;
  if (it->empty)
    return 0;
  switch (it->started) {
  case Q_IT_FRESH: rc = move(it, it->reverse ? M_LAST : M_FIRST, NULL, 0, "iter_step"); break;
  case Q_IT_STEPPED:
    if (!pg_iter_valid(qi))
      return 0;
    rc = move(it, it->reverse ? M_PREV : M_NEXT, NULL, 0, "iter_step");
    break;
  default: break;
  }
  it->started = Q_IT_STEPPED;
  if (rc)
    return rc;
  if (!pg_iter_valid(qi))
    return 0;
  it->seen++;
  {
    const char *k = pg_iter_key(qi, &kl);
    const char *v = it->keys_only ? NULL : pg_iter_value(qi, &vl);
    if (key)
      *key = k;
    if (klen)
      *klen = kl;
    if (val)
      *val = v;
    if (vlen)
      *vlen = vl;
  }
  q_count2(db->m, Q_C_KEYS_READ, 1, Q_C_READ_BYTES, kl + vl);
  return 1;
}

/* ---- what has no meaning here ---------------------------------------------------------------- */
static int pg_flush(quarry_db *db, quarry_cf *cf) {
  int rc = pg_check(db, "flush");
  (void)cf;
  return rc; /* every acknowledged write is already in the server's WAL: nothing to flush */
}

static int pg_compact(quarry_db *db, quarry_cf *cf, const char *from, size_t flen, const char *to,
                      size_t tlen) {
  return not_supported(db, "compact",
                       "the server reclaims space itself (autovacuum; VACUUM on a table)");
}

static int pg_property(quarry_db *db, quarry_cf *cf, const char *name, char **out) {
  if (out)
    *out = NULL;
  return not_supported(db, "property",
                       "RocksDB properties do not exist there: query the server's statistics views "
                       "(pg_stat_user_tables, pg_total_relation_size)");
}

static int pg_approximate_size(quarry_db *db, quarry_cf *cf, const char *from, size_t flen,
                               const char *to, size_t tlen, uint64_t *bytes) {
  if (bytes)
    *bytes = 0;
  return not_supported(db, "approximate_size", "use pg_total_relation_size on the family's table");
}

static int pg_size_on_disk(quarry_db *db, uint64_t *bytes) {
  if (bytes)
    *bytes = 0;
  return not_supported(db, "size_on_disk", "use pg_database_size or pg_total_relation_size");
}

static int pg_checkpoint(quarry_db *db, const char *dir) {
  return not_supported(db, "checkpoint",
                       "copy the server with pg_basebackup, or export one consistent state with "
                       "pg_dump --snapshot (a snapshot's pg_export_snapshot id)");
}

static int pg_backups_create(quarry_backups *b, quarry_db *db, int flush, uint32_t *id) {
  if (id)
    *id = 0;
  return not_supported(db, "backup create",
                       "back the server up with pg_basebackup (physical) or pg_dump (logical; "
                       "--snapshot for a given consistent state)");
}

/* verify and digest: every family read at one snapshot through the iterators above, hashed as
 * verify.c documents (quarry.h: quarry_db_digest); the server checks its own pages. */
static int scan(quarry_db *db, quarry_cf *only, const quarry_snapshot *snap, int digest,
                quarry_scan_report **out) {
  quarry_scan_report *r;
  quarry_snapshot *own = NULL;
  char **names = NULL;
  size_t n = 0, i;
  int rc;
  q_sha256 all;
  *out = NULL;
  if ((r = calloc(1, sizeof *r)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  if (only) {
    if ((names = calloc(2, sizeof *names)) == NULL || (names[0] = strdup(only->name)) == NULL) {
      quarry_free_names(names);
      free(r);
      return q_fail(QUARRY_ENOMEM, "out of memory");
    }
    n = 1;
  } else if ((rc = pg_cf_names(db, &names)) != 0) {
    free(r);
    return rc;
  } else {
    while (names[n])
      n++;
    /* bytewise name order */
    for (i = 1; i < n; i++)
      for (size_t j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
        char *t = names[j];
        names[j] = names[j - 1];
        names[j - 1] = t;
      }
  }
  if (snap == NULL) {
    if ((rc = pg_snapshot_new(db, &own)) != 0)
      goto done;
    snap = own;
  } else if ((rc = snap_check(db, snap, digest ? "digest" : "verify")) != 0) {
    goto done;
  }
  r->sequence = pg_snapshot_sequence(snap);
  if ((r->families = calloc(n ? n : 1, sizeof *r->families)) == NULL) {
    rc = q_fail(QUARRY_ENOMEM, "out of memory");
    goto done;
  }
  q_sha256_init(&all);
  for (i = 0; i < n && rc == 0; i++) {
    quarry_family_report *fr = &r->families[i];
    quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
    quarry_iter *it = NULL;
    quarry_cf *cf;
    const char *k, *v;
    size_t kl, vl;
    q_sha256 h;
    unsigned char d[32];
    fr->name = names[i];
    names[i] = NULL;
    r->nfamilies++;
    if ((rc = pg_cf(db, fr->name, &cf)) != 0)
      break;
    io.snapshot = snap;
    if ((rc = pg_iter_new(db, cf, &io, &it)) != 0)
      break;
    q_sha256_init(&h);
    while ((rc = pg_iter_step(it, &k, &kl, &v, &vl)) == 1) {
      fr->keys++;
      fr->bytes += kl + vl;
      if (digest) {
        q_sha256_u64(&h, kl);
        q_sha256_update(&h, k, kl);
        q_sha256_u64(&h, vl);
        q_sha256_update(&h, v, vl);
      }
    }
    pg_iter_close(it);
    if (rc < 0)
      break;
    rc = 0;
    r->keys += fr->keys;
    r->bytes += fr->bytes;
    if (digest) {
      q_sha256_final(&h, d);
      q_hex(d, 32, fr->digest);
      q_sha256_u64(&all, strlen(fr->name));
      q_sha256_update(&all, fr->name, strlen(fr->name));
      q_sha256_update(&all, d, 32);
    }
  }
  if (rc == 0 && digest) {
    unsigned char d[32];
    q_sha256_final(&all, d);
    if (only)
      memcpy(r->digest, r->families[0].digest, sizeof r->digest);
    else
      q_hex(d, 32, r->digest);
  }
done:
  pg_snapshot_close(own);
  quarry_free_names(names);
  if (rc) {
    quarry_scan_report_free(r);
    return rc;
  }
  *out = r;
  return 0;
}

static int pg_verify(quarry_db *db, quarry_scan_report **out) {
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "verify: out is NULL");
  *out = NULL;
  if ((rc = pg_check(db, "verify")) != 0)
    return rc;
  return scan(db, NULL, NULL, 0, out);
}

static int pg_digest(quarry_db *db, quarry_cf *cf, const quarry_snapshot *snap,
                     quarry_scan_report **out) {
  q_pg_family *f;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "digest: out is NULL");
  *out = NULL;
  if (cf && (rc = resolve(db, cf, "digest", &f)) != 0)
    return rc;
  if ((rc = pg_check(db, "digest")) != 0)
    return rc;
  return scan(db, cf, snap, 1, out);
}

static int pg_metrics(quarry_db *db, quarry_metrics **out) {
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "metrics: out is NULL");
  *out = NULL;
  if ((rc = pg_check(db, "metrics")) != 0)
    return rc;
  if ((rc = q_metrics_snapshot(db->pg->m, db->pg->m->on ? 1 : 0, out)) != 0)
    return rc;
  q_metrics_set(*out, QUARRY_METRIC_FAILED, 0);
  q_metrics_set(*out, QUARRY_METRIC_HANDLES, 1);
  q_metrics_set(*out, QUARRY_METRIC_UPTIME_SECONDS, (double)(q_now_ns() - db->pg->opened_ns) / 1e9);
  return 0;
}

/* Releases every child of db (db->lock held): their connections go back or are closed. */
static void pg_release_children_locked(quarry_db *db) {
  while (db->children.next != &db->children) {
    q_child *c = db->children.next;
    switch (c->kind) {
    case Q_CHILD_ITER: iter_release((q_pg_iter *)(void *)c); break;
    case Q_CHILD_SNAPSHOT: snapshot_release((q_pg_snapshot *)(void *)c); break;
    default: batch_release((q_pg_batch *)(void *)c); break;
    }
  }
}

const q_backend q_backend_postgresql = {
    "postgresql",
#define Q_ENTRY(ret, field, pub, params, args, obj) pg_##field,
#define Q_VENTRY(field, pub, params, args, obj) pg_##field,
    Q_BACKEND_OPS(Q_ENTRY) Q_BACKEND_VOID_OPS(Q_VENTRY)
#undef Q_ENTRY
#undef Q_VENTRY
};

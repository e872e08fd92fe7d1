/* metrics.c: reading an engine's metrics: the snapshot (stripes summed, RocksDB properties, the
 * block cache, statistics), quantiles, and the Prometheus text exposition format 0.0.4. */
#include "internal.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stripes ----------------------------------------------------------------------------------- */
_Thread_local unsigned q_tls_stripe Q_TLS_FAST;
static _Atomic unsigned next_stripe;

unsigned q_stripe_slow(void) {
  unsigned s = atomic_fetch_add_explicit(&next_stripe, 1, memory_order_relaxed) % Q_STRIPES;
  q_tls_stripe = s + 1;
  q_perf_counters_off(); /* a thread's first data operation (see internal.h) */
  return s;
}

/* ---- descriptions ------------------------------------------------------------------------------ */
#define Q_INFO(id, name, type, exposed, stats, help) \
  {name, QUARRY_METRIC_##type, exposed, stats, help},
static const quarry_metric_info metric_info[] = {QUARRY_METRIC_MAP(Q_INFO)};
static const quarry_metric_info cf_metric_info[] = {QUARRY_CF_METRIC_MAP(Q_INFO)};
static const quarry_metric_info histogram_info[] = {QUARRY_HISTOGRAM_MAP(Q_INFO)};
#undef Q_INFO

const quarry_metric_info *quarry_metric_list(size_t *count) {
  if (count)
    *count = QUARRY_METRIC_COUNT;
  return metric_info;
}

const quarry_metric_info *quarry_cf_metric_list(size_t *count) {
  if (count)
    *count = QUARRY_CF_METRIC_COUNT;
  return cf_metric_info;
}

const quarry_metric_info *quarry_histogram_list(size_t *count) {
  if (count)
    *count = QUARRY_HISTOGRAM_COUNT;
  return histogram_info;
}

double quarry_histogram_bound(size_t i) {
  if (i >= QUARRY_HISTOGRAM_BUCKETS)
    return -1;
  if (i == QUARRY_HISTOGRAM_BUCKETS - 1)
    return HUGE_VAL;
  return ldexp(1e-6, (int)i);
}

double quarry_histogram_quantile(const quarry_histogram *h, double q) {
  uint64_t seen = 0;
  double rank, lower = 0;
  size_t i;
  if (h == NULL || h->count == 0)
    return 0;
  if (q < 0)
    q = 0;
  if (q > 1)
    q = 1;
  rank = q * (double)h->count;
  for (i = 0; i < QUARRY_HISTOGRAM_BUCKETS; i++) {
    uint64_t n = h->buckets[i];
    if (n > 0 && (double)(seen + n) >= rank) {
      if (i == QUARRY_HISTOGRAM_BUCKETS - 1) /* +Inf: the largest finite bound */
        return quarry_histogram_bound(i - 1);
      return lower + (quarry_histogram_bound(i) - lower) * ((rank - (double)seen) / (double)n);
    }
    seen += n;
    if (i < QUARRY_HISTOGRAM_BUCKETS - 1)
      lower = quarry_histogram_bound(i);
  }
  return quarry_histogram_bound(QUARRY_HISTOGRAM_BUCKETS - 2);
}

/* ---- snapshots --------------------------------------------------------------------------------- */
typedef struct {
  char *name;
  double v[QUARRY_CF_METRIC_COUNT];
  unsigned char have[QUARRY_CF_METRIC_COUNT];
} cf_figures;

struct quarry_metrics {
  int flags;
  double v[QUARRY_METRIC_COUNT];
  unsigned char have[QUARRY_METRIC_COUNT];
  uint64_t errors[Q_ERROR_CODES];
  quarry_histogram hist[QUARRY_HISTOGRAM_COUNT];
  cf_figures *cfs;
  size_t ncfs;
};

void quarry_metrics_free(quarry_metrics *m) {
  size_t i;
  if (m == NULL)
    return;
  for (i = 0; i < m->ncfs; i++)
    free(m->cfs[i].name);
  free(m->cfs);
  free(m);
}

static void set(quarry_metrics *m, quarry_metric id, double v) {
  m->v[id] = v;
  m->have[id] = 1;
}

void q_metrics_set(quarry_metrics *m, quarry_metric id, double v) { set(m, id, v); }

/* Sums the stripes: every counter and histogram of the engine. */
static void read_stripes(q_metrics *qm, quarry_metrics *m, int server) {
  uint64_t c[Q_C_COUNT] = {0}, errors = 0;
  size_t s, h, b, i;
  for (s = 0; s < Q_STRIPES; s++) {
    q_stripe *st = &qm->stripe[s];
    for (h = 0; h < QUARRY_HISTOGRAM_COUNT; h++) {
      for (b = 0; b < QUARRY_HISTOGRAM_BUCKETS; b++)
        m->hist[h].buckets[b] += atomic_load_explicit(&st->h[h].n[b], memory_order_relaxed);
      m->hist[h].sum += (double)atomic_load_explicit(&st->h[h].sum_ns, memory_order_relaxed);
    }
    for (i = 0; i < Q_C_COUNT; i++)
      c[i] += atomic_load_explicit(&st->c[i], memory_order_relaxed);
    for (i = 0; i < Q_ERROR_CODES; i++)
      m->errors[i] += atomic_load_explicit(&st->errors[i], memory_order_relaxed);
  }
  for (h = 0; h < QUARRY_HISTOGRAM_COUNT; h++) {
    for (b = 0; b < QUARRY_HISTOGRAM_BUCKETS; b++)
      m->hist[h].count += m->hist[h].buckets[b];
    m->hist[h].sum /= 1e9;
  }
  for (i = 0; i < Q_ERROR_CODES; i++)
    errors += m->errors[i];
  set(m, QUARRY_METRIC_GETS, (double)m->hist[QUARRY_HISTOGRAM_GET].count);
  set(m, QUARRY_METRIC_MULTI_GETS, (double)m->hist[QUARRY_HISTOGRAM_MULTI_GET].count);
  set(m, QUARRY_METRIC_MULTI_GET_KEYS, (double)c[Q_C_MULTI_GET_KEYS]);
  set(m, QUARRY_METRIC_PUTS, (double)m->hist[QUARRY_HISTOGRAM_PUT].count);
  set(m, QUARRY_METRIC_DELETES, (double)c[Q_C_DELETES]);
  set(m, QUARRY_METRIC_DELETE_RANGES, (double)c[Q_C_DELETE_RANGES]);
  set(m, QUARRY_METRIC_WRITE_BATCHES, (double)m->hist[QUARRY_HISTOGRAM_WRITE_BATCH].count);
  set(m, QUARRY_METRIC_KEYS_READ, (double)c[Q_C_KEYS_READ]);
  set(m, QUARRY_METRIC_READ_BYTES, (double)c[Q_C_READ_BYTES]);
  set(m, QUARRY_METRIC_KEYS_WRITTEN, (double)c[Q_C_KEYS_WRITTEN]);
  set(m, QUARRY_METRIC_WRITTEN_BYTES, (double)c[Q_C_WRITTEN_BYTES]);
  set(m, QUARRY_METRIC_ITERATOR_SEEKS, (double)m->hist[QUARRY_HISTOGRAM_ITERATOR_SEEK].count);
  set(m, QUARRY_METRIC_ITERATOR_STEPS, (double)c[Q_C_ITER_STEPS]);
  set(m, QUARRY_METRIC_WAL_SYNCED, (double)c[Q_C_WAL_SYNCED]);
  set(m, QUARRY_METRIC_ERRORS, (double)errors);
  if (server) {
    set(m, QUARRY_METRIC_ROUND_TRIPS, (double)c[Q_C_ROUND_TRIPS]);
    set(m, QUARRY_METRIC_RETRIES, (double)c[Q_C_RETRIES]);
  }
}

/* The tickers of RocksDB's statistics text ("rocksdb.block.cache.hit COUNT : 12\n..."). */
static void read_statistics(q_engine *eng, quarry_metrics *m) {
  static const struct {
    const char *ticker;
    quarry_metric id;
    double scale;
  } tickers[] = {
    {"rocksdb.block.cache.hit", QUARRY_METRIC_BLOCK_CACHE_HITS, 1},
    {"rocksdb.block.cache.miss", QUARRY_METRIC_BLOCK_CACHE_MISSES, 1},
    {"rocksdb.stall.micros", QUARRY_METRIC_WRITE_STALL_SECONDS, 1e-6},
    {"rocksdb.compact.read.bytes", QUARRY_METRIC_COMPACTION_READ_BYTES, 1},
    {"rocksdb.compact.write.bytes", QUARRY_METRIC_COMPACTION_WRITTEN_BYTES, 1},
    {"rocksdb.flush.write.bytes", QUARRY_METRIC_FLUSH_WRITTEN_BYTES, 1},
  };
  char *text = rocksdb_options_statistics_get_string(eng->ropts), *line, *next;
  size_t i;
  if (text == NULL)
    return;
  for (line = text; line && *line; line = next) {
    char *sp;
    next = strchr(line, '\n');
    if (next)
      *next++ = '\0';
    if ((sp = strstr(line, " COUNT : ")) == NULL)
      continue;
    *sp = '\0';
    for (i = 0; i < sizeof tickers / sizeof tickers[0]; i++)
      if (strcmp(line, tickers[i].ticker) == 0)
        set(m, tickers[i].id, strtod(sp + 9, NULL) * tickers[i].scale);
  }
  rocksdb_free(text);
}

/* A numeric property: RocksDB's integer properties directly, others (e.g. num-files-at-level0)
 * parsed from their text. 0 when RocksDB does not know it. */
static int int_property(rocksdb_t *rdb, rocksdb_column_family_handle_t *h, const char *name,
                        double *v) {
  uint64_t n = 0;
  char *text, *end;
  if (rocksdb_property_int_cf(rdb, h, name, &n) == 0) {
    *v = (double)n;
    return 1;
  }
  if ((text = rocksdb_property_value_cf(rdb, h, name)) == NULL)
    return 0;
  *v = strtod(text, &end);
  n = end != text;
  rocksdb_free(text);
  return (int)n;
}

static const char *const cf_properties[QUARRY_CF_METRIC_COUNT] = {
  [QUARRY_CF_METRIC_ESTIMATE_KEYS] = "rocksdb.estimate-num-keys",
  [QUARRY_CF_METRIC_LIVE_SST_BYTES] = "rocksdb.live-sst-files-size",
  [QUARRY_CF_METRIC_SST_BYTES] = "rocksdb.total-sst-files-size",
  [QUARRY_CF_METRIC_MEMTABLE_BYTES] = "rocksdb.cur-size-all-mem-tables",
  [QUARRY_CF_METRIC_PENDING_COMPACTION_BYTES] = "rocksdb.estimate-pending-compaction-bytes",
  [QUARRY_CF_METRIC_L0_FILES] = "rocksdb.num-files-at-level0",
};

/* The db-wide sum of each per-family figure. */
static const struct {
  quarry_cf_metric cf;
  quarry_metric total;
} cf_totals[] = {
  {QUARRY_CF_METRIC_ESTIMATE_KEYS, QUARRY_METRIC_ESTIMATE_KEYS},
  {QUARRY_CF_METRIC_LIVE_SST_BYTES, QUARRY_METRIC_LIVE_SST_BYTES},
  {QUARRY_CF_METRIC_SST_BYTES, QUARRY_METRIC_SST_BYTES},
  {QUARRY_CF_METRIC_MEMTABLE_BYTES, QUARRY_METRIC_MEMTABLE_BYTES},
  {QUARRY_CF_METRIC_PENDING_COMPACTION_BYTES, QUARRY_METRIC_PENDING_COMPACTION_BYTES},
};

/* Figures of every live family. Handles are copied under the engine lock; a family dropped
 * meanwhile keeps its handle alive until the engine closes, so using it stays safe. */
static int read_families(quarry_db *db, quarry_metrics *m) {
  q_engine *eng = db->eng;
  rocksdb_column_family_handle_t **hs;
  size_t i, j, n = 0;
  pthread_mutex_lock(&eng->lock);
  hs = calloc(eng->nfams ? eng->nfams : 1, sizeof *hs);
  m->cfs = calloc(eng->nfams ? eng->nfams : 1, sizeof *m->cfs);
  for (i = 0; hs && m->cfs && i < eng->nfams; i++) {
    if (eng->fams[i]->h == NULL)
      continue;
    if ((m->cfs[n].name = strdup(eng->fams[i]->name)) == NULL)
      break;
    hs[n++] = eng->fams[i]->h;
  }
  m->ncfs = n;
  pthread_mutex_unlock(&eng->lock);
  if (hs == NULL || m->cfs == NULL || i < eng->nfams) {
    free(hs);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  for (i = 0; i < n; i++) {
    cf_figures *f = &m->cfs[i];
    for (j = 0; j < QUARRY_CF_METRIC_COUNT; j++)
      f->have[j] = (unsigned char)int_property(db->rdb, hs[i], cf_properties[j], &f->v[j]);
  }
  for (j = 0; j < sizeof cf_totals / sizeof cf_totals[0]; j++) {
    double total = 0;
    int any = 0;
    for (i = 0; i < n; i++) {
      if (m->cfs[i].have[cf_totals[j].cf]) {
        total += m->cfs[i].v[cf_totals[j].cf];
        any = 1;
      }
    }
    if (any)
      set(m, cf_totals[j].total, total);
  }
  free(hs);
  return 0;
}

int q_rdb_metrics(quarry_db *db, quarry_metrics **out) {
  quarry_metrics *m;
  q_engine *eng;
  uint64_t size = 0;
  double v;
  int rc;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "metrics: out is NULL");
  *out = NULL;
  if ((rc = q_db_check(db, "metrics")) != 0)
    return rc;
  eng = db->eng;
  if ((m = calloc(1, sizeof *m)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  m->flags = (eng->metrics.on ? 1 : 0) | (eng->opts->statistics ? 2 : 0);
  read_stripes(&eng->metrics, m, 0);
  if ((rc = read_families(db, m)) != 0) {
    quarry_metrics_free(m);
    return rc;
  }
  if (eng->opts->statistics)
    read_statistics(eng, m);
  if (quarry_db_size_on_disk(db, &size) == 0)
    set(m, QUARRY_METRIC_SIZE_BYTES, (double)size);
  if (int_property(db->rdb, q_cf_handle(db->default_cf), "rocksdb.num-running-compactions", &v))
    set(m, QUARRY_METRIC_COMPACTION_JOBS, v);
  if (int_property(db->rdb, q_cf_handle(db->default_cf), "rocksdb.num-running-flushes", &v))
    set(m, QUARRY_METRIC_FLUSH_JOBS, v);
  if (int_property(db->rdb, q_cf_handle(db->default_cf), "rocksdb.actual-delayed-write-rate", &v))
    set(m, QUARRY_METRIC_DELAYED_WRITE_RATE, v);
  if (int_property(db->rdb, q_cf_handle(db->default_cf), "rocksdb.is-write-stopped", &v))
    set(m, QUARRY_METRIC_WRITE_STOPPED, v);
  if (eng->cache) {
    set(m, QUARRY_METRIC_BLOCK_CACHE_CAPACITY_BYTES, (double)rocksdb_cache_get_capacity(eng->cache));
    set(m, QUARRY_METRIC_BLOCK_CACHE_USAGE_BYTES, (double)rocksdb_cache_get_usage(eng->cache));
    set(m, QUARRY_METRIC_BLOCK_CACHE_PINNED_BYTES,
        (double)rocksdb_cache_get_pinned_usage(eng->cache));
  }
  set(m, QUARRY_METRIC_FAILED, atomic_load(&eng->failed) ? 1 : 0);
  set(m, QUARRY_METRIC_HANDLES, (double)q_engine_handles(eng));
  set(m, QUARRY_METRIC_UPTIME_SECONDS, (double)(q_now_ns() - eng->opened_ns) / 1e9);
  *out = m;
  return 0;
}

int q_metrics_snapshot(q_metrics *qm, int flags, quarry_metrics **out) {
  quarry_metrics *m;
  *out = NULL;
  if ((m = calloc(1, sizeof *m)) == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  m->flags = flags;
  read_stripes(qm, m, 1);
  *out = m;
  return 0;
}

int quarry_metrics_value(const quarry_metrics *m, quarry_metric id, double *value) {
  if (value)
    *value = 0;
  if (m == NULL || (unsigned)id >= QUARRY_METRIC_COUNT)
    return q_fail(QUARRY_EINVAL, "metrics_value: no such metric");
  if (!m->have[id])
    return q_fail(QUARRY_ENOTSUPPORTED, "metric '%s' is not available%s", metric_info[id].name,
                  metric_info[id].statistics ? " (it needs the open option statistics = true)"
                                             : "");
  if (value)
    *value = m->v[id];
  return 0;
}

uint64_t quarry_metrics_errors(const quarry_metrics *m, int code) {
  if (m == NULL || code >= 0 || code < -Q_ERROR_CODES)
    return 0;
  return m->errors[-code - 1];
}

const quarry_histogram *quarry_metrics_histogram(const quarry_metrics *m, quarry_histogram_id id) {
  if (m == NULL || (unsigned)id >= QUARRY_HISTOGRAM_COUNT)
    return NULL;
  return &m->hist[id];
}

size_t quarry_metrics_cf_count(const quarry_metrics *m) { return m ? m->ncfs : 0; }

const char *quarry_metrics_cf_name(const quarry_metrics *m, size_t i) {
  return m && i < m->ncfs ? m->cfs[i].name : NULL;
}

int quarry_metrics_cf_value(const quarry_metrics *m, size_t i, quarry_cf_metric id,
                            double *value) {
  if (value)
    *value = 0;
  if (m == NULL || i >= m->ncfs || (unsigned)id >= QUARRY_CF_METRIC_COUNT)
    return q_fail(QUARRY_EINVAL, "metrics_cf_value: no such family or metric");
  if (!m->cfs[i].have[id])
    return q_fail(QUARRY_ENOTSUPPORTED, "metric '%s' of family '%s' is not available",
                  cf_metric_info[id].name, m->cfs[i].name);
  if (value)
    *value = m->cfs[i].v[id];
  return 0;
}

int quarry_metrics_flags(const quarry_metrics *m) { return m ? m->flags : 0; }

/* ---- Prometheus text format 0.0.4 -------------------------------------------------------------- */
typedef struct {
  char *p;
  size_t len, cap;
  int oom;
} buf;

static void put(buf *b, const char *s, size_t n) {
  if (b->oom)
    return;
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    char *grown;
    while (cap < b->len + n + 1)
      cap *= 2;
    if ((grown = realloc(b->p, cap)) == NULL) {
      b->oom = 1;
      return;
    }
    b->p = grown;
    b->cap = cap;
  }
  memcpy(b->p + b->len, s, n);
  b->len += n;
  b->p[b->len] = '\0';
}

static void puts_(buf *b, const char *s) { put(b, s, strlen(s)); }

static void putf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(buf *b, const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  int n;
  va_start(ap, fmt);
  n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n > 0)
    put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* A float in its shortest form that reads back exactly; integers without exponent. */
static void put_number(buf *b, double v) {
  char tmp[64];
  int p;
  if (isinf(v)) {
    puts_(b, v > 0 ? "+Inf" : "-Inf");
    return;
  }
  if (isnan(v)) {
    puts_(b, "NaN");
    return;
  }
  if (v == floor(v) && fabs(v) < 9007199254740992.0) {
    putf(b, "%.0f", v);
    return;
  }
  for (p = 15; p <= 17; p++) {
    snprintf(tmp, sizeof tmp, "%.*g", p, v);
    if (strtod(tmp, NULL) == v)
      break;
  }
  puts_(b, tmp);
}

/* A label value or HELP text, escaped: backslash and newline always, double quote in values. */
static void put_escaped(buf *b, const char *s, int quote) {
  for (; *s; s++) {
    if (*s == '\\')
      puts_(b, "\\\\");
    else if (*s == '\n')
      puts_(b, "\\n");
    else if (*s == '"' && quote)
      puts_(b, "\\\"");
    else
      put(b, s, 1);
  }
}

static int valid_name(const char *s, int colons, int allow_empty) {
  const char *p;
  if (*s == '\0')
    return allow_empty;
  for (p = s; *p; p++) {
    int c = (unsigned char)*p;
    int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colons && c == ':') ||
             (p != s && c >= '0' && c <= '9');
    if (!ok)
      return 0;
  }
  return 1;
}

typedef struct {
  buf *b;
  const char *ns;
  const char *const *labels;
} writer;

/* "# HELP" and "# TYPE" of a metric family; name = <ns>_<base><suffix>. */
static void family(writer *w, const char *base, const char *suffix, const char *type,
                   const char *help) {
  const char *sep = *w->ns ? "_" : "";
  putf(w->b, "# HELP %s%s%s%s ", w->ns, sep, base, suffix);
  put_escaped(w->b, help, 0);
  putf(w->b, "\n# TYPE %s%s%s%s %s\n", w->ns, sep, base, suffix, type);
}

/* One sample: name, the constant labels, then an extra label (NULL: none), then the value. */
static void sample(writer *w, const char *base, const char *suffix, const char *lname,
                   const char *lvalue, double v) {
  const char *const *l;
  int first = 1;
  putf(w->b, "%s%s%s%s", w->ns, *w->ns ? "_" : "", base, suffix);
  for (l = w->labels; l && l[0]; l += 2) {
    puts_(w->b, first ? "{" : ",");
    first = 0;
    putf(w->b, "%s=\"", l[0]);
    put_escaped(w->b, l[1], 1);
    puts_(w->b, "\"");
  }
  if (lname) {
    puts_(w->b, first ? "{" : ",");
    first = 0;
    putf(w->b, "%s=\"", lname);
    put_escaped(w->b, lvalue, 1);
    puts_(w->b, "\"");
  }
  if (!first)
    puts_(w->b, "}");
  puts_(w->b, " ");
  put_number(w->b, v);
  puts_(w->b, "\n");
}

static void histogram(writer *w, const quarry_metric_info *info, const quarry_histogram *h) {
  char base[128], le[64];
  uint64_t cumulative = 0;
  size_t i;
  snprintf(base, sizeof base, "%s_seconds", info->name);
  family(w, base, "", "histogram", info->help);
  for (i = 0; i < QUARRY_HISTOGRAM_BUCKETS; i++) {
    buf tmp = {0};
    cumulative += h->buckets[i];
    put_number(&tmp, quarry_histogram_bound(i));
    snprintf(le, sizeof le, "%s", tmp.p ? tmp.p : "");
    free(tmp.p);
    sample(w, base, "_bucket", "le", le, (double)cumulative);
  }
  sample(w, base, "_sum", NULL, NULL, h->sum);
  sample(w, base, "_count", NULL, NULL, (double)h->count);
}

/* Label names of <ns>_build_info that constant labels must not take. */
static int build_label_name(const char *name) {
  return strcmp(name, "version") == 0 || strcmp(name, "rocksdb_version") == 0;
}

/* <ns>_build_info{<constant labels>, version, rocksdb_version, <build labels>} 1. */
static void build_info(writer *w, const char *const *build) {
  const char *const *l;
  const char *sep = *w->ns ? "_" : "";
  int first = 1;
  family(w, "build_info", "", "gauge",
         "always 1: the versions of quarry and RocksDB (and the binding's language) in labels");
  putf(w->b, "%s%sbuild_info", w->ns, sep);
  for (l = w->labels; l && l[0]; l += 2) {
    puts_(w->b, first ? "{" : ",");
    first = 0;
    putf(w->b, "%s=\"", l[0]);
    put_escaped(w->b, l[1], 1);
    puts_(w->b, "\"");
  }
  puts_(w->b, first ? "{" : ",");
  puts_(w->b, "version=\"");
  put_escaped(w->b, quarry_version(), 1);
  puts_(w->b, "\",rocksdb_version=\"");
  put_escaped(w->b, quarry_rocksdb_version(), 1);
  puts_(w->b, "\"");
  for (l = build; l && l[0]; l += 2) {
    putf(w->b, ",%s=\"", l[0]);
    put_escaped(w->b, l[1], 1);
    puts_(w->b, "\"");
  }
  puts_(w->b, "} 1\n");
}

int quarry_metrics_prometheus(const quarry_metrics *m, const char *ns, const char *const *labels,
                              char **out) {
  return quarry_metrics_prometheus_ex(m, ns, labels, NULL, out);
}

int quarry_metrics_prometheus_ex(const quarry_metrics *m, const char *ns,
                                 const char *const *labels, const char *const *build_labels,
                                 char **out) {
  buf b = {0};
  writer w;
  const char *const *l;
  size_t i, j;
  int any;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "prometheus: out is NULL");
  *out = NULL;
  if (m == NULL)
    return q_fail(QUARRY_EINVAL, "prometheus: no metrics");
  if (ns == NULL)
    ns = "quarry";
  if (!valid_name(ns, 1, 1))
    return q_fail(QUARRY_EINVAL, "prometheus: namespace '%s' must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                  ns);
  for (l = labels; l && l[0]; l += 2) {
    const char *const *k;
    if (l[1] == NULL)
      return q_fail(QUARRY_EINVAL, "prometheus: label '%s' has no value", l[0]);
    if (!valid_name(l[0], 0, 0) || strncmp(l[0], "__", 2) == 0)
      return q_fail(QUARRY_EINVAL,
                    "prometheus: label name '%s' must match [a-zA-Z_][a-zA-Z0-9_]* and not start "
                    "with __",
                    l[0]);
    if (strcmp(l[0], "le") == 0 || strcmp(l[0], "cf") == 0 || strcmp(l[0], "code") == 0 ||
        build_label_name(l[0]))
      return q_fail(QUARRY_EINVAL,
                    "prometheus: label name '%s' is reserved (le, cf, code, version, "
                    "rocksdb_version)",
                    l[0]);
    for (k = labels; k != l; k += 2)
      if (strcmp(k[0], l[0]) == 0)
        return q_fail(QUARRY_EINVAL, "prometheus: label '%s' is given twice", l[0]);
  }
  for (l = build_labels; l && l[0]; l += 2) {
    const char *const *k;
    if (l[1] == NULL || !valid_name(l[0], 0, 0) || strncmp(l[0], "__", 2) == 0 ||
        build_label_name(l[0]))
      return q_fail(QUARRY_EINVAL, "prometheus: bad build label '%s'", l[0]);
    for (k = labels; k && k[0]; k += 2)
      if (strcmp(k[0], l[0]) == 0)
        return q_fail(QUARRY_EINVAL, "prometheus: label name '%s' is reserved for build_info",
                      l[0]);
    for (k = build_labels; k != l; k += 2)
      if (strcmp(k[0], l[0]) == 0)
        return q_fail(QUARRY_EINVAL, "prometheus: build label '%s' is given twice", l[0]);
  }
  w.b = &b;
  w.ns = ns;
  w.labels = labels;

  build_info(&w, build_labels);
  for (i = 0; i < QUARRY_METRIC_COUNT; i++) {
    const quarry_metric_info *info = &metric_info[i];
    int counter = info->type == QUARRY_METRIC_COUNTER;
    if (i == QUARRY_METRIC_ERRORS) {
      /* Every code from the start, at 0 until it happens (rate() and absent-series alerts need
       * the series before the first error); codes sharing a name (ENOMEM, EUNKNOWN: "Unknown")
       * are one series, their sum. */
      family(&w, info->name, "_total", "counter", "failed data operations, by error code");
      for (j = 0; j < Q_ERROR_CODES; j++) {
        const char *name = quarry_err_name(-(int)j - 1);
        uint64_t n = 0;
        size_t k;
        for (k = 0; k < j; k++)
          if (strcmp(quarry_err_name(-(int)k - 1), name) == 0)
            break;
        if (k < j)
          continue; /* counted with the first code of that name */
        for (k = j; k < Q_ERROR_CODES; k++)
          if (strcmp(quarry_err_name(-(int)k - 1), name) == 0)
            n += m->errors[k];
        sample(&w, info->name, "_total", "code", name, (double)n);
      }
      continue;
    }
    if (!info->exposed || !m->have[i])
      continue;
    family(&w, info->name, counter ? "_total" : "", counter ? "counter" : "gauge", info->help);
    sample(&w, info->name, counter ? "_total" : "", NULL, NULL, m->v[i]);
  }
  for (j = 0; j < QUARRY_CF_METRIC_COUNT; j++) {
    const quarry_metric_info *info = &cf_metric_info[j];
    for (i = 0, any = 0; i < m->ncfs; i++) {
      if (!m->cfs[i].have[j])
        continue;
      if (!any)
        family(&w, info->name, "", "gauge", info->help);
      any = 1;
      sample(&w, info->name, "", "cf", m->cfs[i].name, m->cfs[i].v[j]);
    }
  }
  for (i = 0; i < QUARRY_HISTOGRAM_COUNT; i++)
    histogram(&w, &histogram_info[i], &m->hist[i]);
  if (b.oom) {
    free(b.p);
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  *out = b.p;
  return 0;
}

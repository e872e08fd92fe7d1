/* options.c: open options: the option table, the presets, QUARRY_DB_* environment overrides,
 * explicit setters with validation, and the translation into RocksDB options. */
#include "internal.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How a value is stored and checked. */
enum { K_INT, K_BOOL, K_COMP, K_MODE, K_PATH };

/* name, public type, tuning, storage kind, field, min, max, doc. One table drives the public
 * list, the setters, the getter and the environment overrides. */
#define Q_OPTIONS(X)                                                                           \
  X(write_buffer_mb, QUARRY_OPT_INT, 1, K_INT, write_buffer_mb, 1, 65536,                      \
    "memtable size per column family, in MiB")                                                 \
  X(block_cache_mb, QUARRY_OPT_INT, 1, K_INT, block_cache_mb, 0, 1048576,                      \
    "shared LRU block cache, in MiB (0: no block cache)")                                      \
  X(max_open_files, QUARRY_OPT_INT, 1, K_INT, max_open_files, -1, 1048576,                     \
    "table files kept open (-1: all; RocksDB raises values below 20 to 20)")                   \
  X(compression, QUARRY_OPT_STRING, 1, K_COMP, compression, 0, 0,                              \
    "compression of every level but the bottommost: lz4, zstd or none")                        \
  X(bottommost_compression, QUARRY_OPT_STRING, 1, K_COMP, bottommost_compression, 0, 0,        \
    "compression of the bottommost level: lz4, zstd or none")                                  \
  X(bloom_bits, QUARRY_OPT_INT, 1, K_INT, bloom_bits, 0, 64,                                   \
    "bloom filter bits per key (0: no filter)")                                                \
  X(block_size_kb, QUARRY_OPT_INT, 1, K_INT, block_size_kb, 1, 65536,                          \
    "data block size, in KiB")                                                                 \
  X(max_background_jobs, QUARRY_OPT_INT, 1, K_INT, max_background_jobs, 1, 1024,              \
    "flush and compaction threads")                                                            \
  X(wal, QUARRY_OPT_BOOL, 1, K_BOOL, wal, 0, 1, "write-ahead log on by default for writes")    \
  X(sync, QUARRY_OPT_BOOL, 1, K_BOOL, sync, 0, 1, "fsync the WAL on every write by default")   \
  X(readahead_mb, QUARRY_OPT_INT, 1, K_INT, readahead_mb, 0, 1024,                             \
    "iterator readahead, in MiB (0: RocksDB's automatic readahead)")                           \
  X(level0_file_num_compaction_trigger, QUARRY_OPT_INT, 1, K_INT,                              \
    level0_file_num_compaction_trigger, 1, 1048576, "L0 files that trigger a compaction")      \
  X(level0_slowdown_writes_trigger, QUARRY_OPT_INT, 1, K_INT, level0_slowdown_writes_trigger,  \
    1, 1048576, "L0 files that slow writes down")                                              \
  X(level0_stop_writes_trigger, QUARRY_OPT_INT, 1, K_INT, level0_stop_writes_trigger, 1,       \
    1048576, "L0 files that stop writes")                                                      \
  X(target_file_size_mb, QUARRY_OPT_INT, 1, K_INT, target_file_size_mb, 1, 1048576,            \
    "target size of L1 table files, in MiB")                                                   \
  X(max_bytes_for_level_base_mb, QUARRY_OPT_INT, 1, K_INT, max_bytes_for_level_base_mb, 1,     \
    1048576, "total size of L1, in MiB")                                                       \
  X(create_if_missing, QUARRY_OPT_BOOL, 0, K_BOOL, create_if_missing, 0, 1,                    \
    "create the database when it does not exist")                                              \
  X(mode, QUARRY_OPT_STRING, 0, K_MODE, mode, 0, 0, "read_write, read_only or secondary")      \
  X(secondary_path, QUARRY_OPT_STRING, 0, K_PATH, secondary_path, 0, 0,                        \
    "directory for a secondary instance's own files (mode = secondary)")                       \
  X(metrics, QUARRY_OPT_BOOL, 0, K_BOOL, metrics, 0, 1,                                        \
    "record operation counters and latency histograms (db:metrics)")                           \
  X(statistics, QUARRY_OPT_BOOL, 0, K_BOOL, statistics, 0, 1,                                  \
    "RocksDB statistics: block cache hits, stall time, compaction bytes (slower reads)")        \
  X(connect_timeout, QUARRY_OPT_INT, 0, K_INT, connect_timeout, 1, 3600,                       \
    "server URLs: seconds a connection attempt may take (the URL's connect_timeout wins)")     \
  X(statement_timeout_ms, QUARRY_OPT_INT, 0, K_INT, statement_timeout_ms, 0, 86400000,         \
    "server URLs: milliseconds a statement may run on the server (0: no limit)")               \
  X(pool_size, QUARRY_OPT_INT, 0, K_INT, pool_size, 1, 64,                                     \
    "server URLs: idle connections a handle keeps for reuse")

static const quarry_option_info option_info[] = {
#define Q_INFO(name, type, tuning, kind, field, min, max, doc) {#name, type, tuning, doc},
  Q_OPTIONS(Q_INFO)
#undef Q_INFO
};

typedef struct {
  int kind;
  size_t offset;
  int64_t min, max;
} option_slot;

static const option_slot option_slots[] = {
#define Q_SLOT(name, type, tuning, kind, field, min, max, doc) \
  {kind, offsetof(quarry_options, field), min, max},
  Q_OPTIONS(Q_SLOT)
#undef Q_SLOT
};

#define N_OPTIONS (sizeof option_info / sizeof option_info[0])

const quarry_option_info *quarry_option_list(size_t *count) {
  if (count)
    *count = N_OPTIONS;
  return option_info;
}

static const char *const preset_names[] = {"default", "production", "development", NULL};

const char *const *quarry_preset_names(void) { return preset_names; }

static const char *const comp_names[] = {"none", "lz4", "zstd"};
static const char *const mode_names[] = {"read_write", "read_only", "secondary"};

const char *q_mode_name(int mode) {
  return mode >= 0 && mode <= Q_MODE_SECONDARY ? mode_names[mode] : "unknown";
}

static void preset_default(quarry_options *o) {
  memset(o, 0, sizeof *o);
  strcpy(o->preset, "default");
  o->write_buffer_mb = 128;
  o->block_cache_mb = 256;
  o->max_open_files = -1;
  o->compression = Q_COMP_LZ4;
  o->bottommost_compression = Q_COMP_LZ4;
  o->bloom_bits = 10;
  o->block_size_kb = 16;
  o->max_background_jobs = 4;
  o->wal = 1;
  o->sync = 0;
  o->readahead_mb = 0;
  o->level0_file_num_compaction_trigger = 4;
  o->level0_slowdown_writes_trigger = 20;
  o->level0_stop_writes_trigger = 36;
  o->target_file_size_mb = 64;
  o->max_bytes_for_level_base_mb = 256;
  o->create_if_missing = 1;
  o->mode = Q_MODE_READ_WRITE;
  o->metrics = 1;
  o->statistics = 0;
  o->connect_timeout = 10;
  o->statement_timeout_ms = 60000;
  o->pool_size = 4;
}

int quarry_options_new(const char *preset, quarry_options **out) {
  quarry_options *o;
  if (out == NULL)
    return q_fail(QUARRY_EINVAL, "options: out is NULL");
  *out = NULL;
  if (preset == NULL)
    preset = "default";
  if (strcmp(preset, "default") && strcmp(preset, "production") && strcmp(preset, "development"))
    return q_fail(QUARRY_EINVAL,
                  "unknown preset '%s' (expected \"default\", \"production\" or \"development\")",
                  preset);
  o = malloc(sizeof *o);
  if (o == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  preset_default(o);
  if (strcmp(preset, "production") == 0) {
    strcpy(o->preset, "production");
    o->write_buffer_mb = 256;
    o->block_cache_mb = 512;
    o->max_background_jobs = 8;
    o->bottommost_compression = Q_COMP_ZSTD;
    o->max_bytes_for_level_base_mb = 1024; /* ~ write buffer x L0 trigger */
  } else if (strcmp(preset, "development") == 0) {
    strcpy(o->preset, "development");
    o->write_buffer_mb = 64;
    o->block_cache_mb = 64;
    o->max_background_jobs = 2;
    o->wal = 0;
  }
  *out = o;
  return 0;
}

void quarry_options_free(quarry_options *opts) {
  size_t i;
  if (opts == NULL)
    return;
  for (i = 0; i < opts->ncfs; i++)
    free(opts->cfs[i]);
  free(opts->cfs);
  free(opts->secondary_path);
  free(opts);
}

int q_options_copy(const quarry_options *src, quarry_options **out) {
  quarry_options *o;
  size_t i;
  *out = NULL;
  o = malloc(sizeof *o);
  if (o == NULL)
    return q_fail(QUARRY_ENOMEM, "out of memory");
  *o = *src;
  o->secondary_path = NULL;
  o->cfs = NULL;
  o->ncfs = 0;
  if (src->secondary_path && (o->secondary_path = strdup(src->secondary_path)) == NULL)
    goto oom;
  if (src->ncfs) {
    o->cfs = calloc(src->ncfs, sizeof *o->cfs);
    if (o->cfs == NULL)
      goto oom;
    for (i = 0; i < src->ncfs; i++) {
      if ((o->cfs[i] = strdup(src->cfs[i])) == NULL)
        goto oom;
      o->ncfs++;
    }
  }
  *out = o;
  return 0;
oom:
  quarry_options_free(o);
  return q_fail(QUARRY_ENOMEM, "out of memory");
}

static int find_option(const char *name) {
  size_t i;
  if (name == NULL)
    return -1;
  for (i = 0; i < N_OPTIONS; i++)
    if (strcmp(option_info[i].name, name) == 0)
      return (int)i;
  return -1;
}

static int lookup(const quarry_options *opts, const char *name, int *idx) {
  if (opts == NULL)
    return q_fail(QUARRY_EINVAL, "options: NULL options");
  *idx = find_option(name);
  if (*idx < 0)
    return q_fail(QUARRY_EINVAL, "unknown option '%s'", name ? name : "(null)");
  return 0;
}

static const char *type_word(quarry_opt_type t) {
  return t == QUARRY_OPT_INT ? "an integer" : t == QUARRY_OPT_BOOL ? "a boolean" : "a string";
}

static int wrong_type(int idx) {
  return q_fail(QUARRY_EINVAL, "option '%s' expects %s", option_info[idx].name,
                type_word(option_info[idx].type));
}

#define SLOT_INT(o, i) ((int64_t *)(void *)((char *)(o) + option_slots[i].offset))
#define SLOT_FLAG(o, i) ((int *)(void *)((char *)(o) + option_slots[i].offset))
#define SLOT_STR(o, i) ((char **)(void *)((char *)(o) + option_slots[i].offset))
#define CSLOT_INT(o, i) ((const int64_t *)(const void *)((const char *)(o) + option_slots[i].offset))
#define CSLOT_FLAG(o, i) ((const int *)(const void *)((const char *)(o) + option_slots[i].offset))
#define CSLOT_STR(o, i) ((char *const *)(const void *)((const char *)(o) + option_slots[i].offset))

static int set_int_at(quarry_options *opts, int idx, int64_t value) {
  const option_slot *s = &option_slots[idx];
  if (option_info[idx].type != QUARRY_OPT_INT)
    return wrong_type(idx);
  if (value < s->min || value > s->max) {
    if (s->min == -1)
      return q_fail(QUARRY_EINVAL,
                    "option '%s' expects -1 or an integer from 1 to %lld, got %lld",
                    option_info[idx].name, (long long)s->max, (long long)value);
    return q_fail(QUARRY_EINVAL, "option '%s' expects an integer from %lld to %lld, got %lld",
                  option_info[idx].name, (long long)s->min, (long long)s->max,
                  (long long)value);
  }
  if (s->min == -1 && value == 0)
    return q_fail(QUARRY_EINVAL, "option '%s' expects -1 or an integer from 1 to %lld, got 0",
                  option_info[idx].name, (long long)s->max);
  *SLOT_INT(opts, idx) = value;
  return 0;
}

static int set_bool_at(quarry_options *opts, int idx, int value) {
  if (option_info[idx].type != QUARRY_OPT_BOOL)
    return wrong_type(idx);
  *SLOT_FLAG(opts, idx) = value ? 1 : 0;
  return 0;
}

static int pick(const char *value, const char *const *names, int n) {
  int i;
  for (i = 0; i < n; i++)
    if (strcmp(value, names[i]) == 0)
      return i;
  return -1;
}

static int set_string_at(quarry_options *opts, int idx, const char *value) {
  const option_slot *s = &option_slots[idx];
  int v;
  char *copy;
  if (option_info[idx].type != QUARRY_OPT_STRING)
    return wrong_type(idx);
  if (value == NULL && s->kind != K_PATH)
    return wrong_type(idx);
  switch (s->kind) {
  case K_COMP:
    if ((v = pick(value, comp_names, 3)) < 0)
      return q_fail(QUARRY_EINVAL,
                    "option '%s' expects \"lz4\", \"zstd\" or \"none\", got '%s'",
                    option_info[idx].name, value);
    *SLOT_FLAG(opts, idx) = v;
    return 0;
  case K_MODE:
    if ((v = pick(value, mode_names, 3)) < 0)
      return q_fail(QUARRY_EINVAL,
                    "option '%s' expects \"read_write\", \"read_only\" or \"secondary\", got '%s'",
                    option_info[idx].name, value);
    *SLOT_FLAG(opts, idx) = v;
    return 0;
  default: /* K_PATH: NULL or "" clears it */
    copy = NULL;
    if (value && *value && (copy = strdup(value)) == NULL)
      return q_fail(QUARRY_ENOMEM, "out of memory");
    free(*SLOT_STR(opts, idx));
    *SLOT_STR(opts, idx) = copy;
    return 0;
  }
}

int quarry_options_set_int(quarry_options *opts, const char *name, int64_t value) {
  int idx, rc = lookup(opts, name, &idx);
  return rc ? rc : set_int_at(opts, idx, value);
}

int quarry_options_set_bool(quarry_options *opts, const char *name, int value) {
  int idx, rc = lookup(opts, name, &idx);
  return rc ? rc : set_bool_at(opts, idx, value);
}

int quarry_options_set_string(quarry_options *opts, const char *name, const char *value) {
  int idx, rc = lookup(opts, name, &idx);
  return rc ? rc : set_string_at(opts, idx, value);
}

/* Parses text as the option's type. On a syntax error returns 1 (nothing set, no message). */
static int parse_int(const char *text, int64_t *v) {
  char *end;
  long long n;
  while (isspace((unsigned char)*text))
    text++;
  if (*text == '\0')
    return 1;
  errno = 0;
  n = strtoll(text, &end, 10);
  while (isspace((unsigned char)*end))
    end++;
  if (errno || *end != '\0')
    return 1;
  *v = n;
  return 0;
}

static int parse_bool(const char *text, int *v) {
  static const char *const yes[] = {"true", "1", "yes", "on"};
  static const char *const no[] = {"false", "0", "no", "off"};
  size_t i;
  for (i = 0; i < 4; i++) {
    if (strcasecmp(text, yes[i]) == 0) {
      *v = 1;
      return 0;
    }
    if (strcasecmp(text, no[i]) == 0) {
      *v = 0;
      return 0;
    }
  }
  return 1;
}

/* what: "option 'x'" or "environment variable QUARRY_DB_X". */
static int set_parse_at(quarry_options *opts, int idx, const char *text, const char *var) {
  int64_t n;
  int b, rc;
  if (text == NULL)
    return q_fail(QUARRY_EINVAL, "option '%s': NULL text", option_info[idx].name);
  switch (option_info[idx].type) {
  case QUARRY_OPT_INT:
    if (parse_int(text, &n)) {
      if (var)
        return q_fail(QUARRY_EINVAL, "environment variable %s: expected an integer, got '%s'",
                      var, text);
      return q_fail(QUARRY_EINVAL, "option '%s' expects an integer, got '%s'",
                    option_info[idx].name, text);
    }
    rc = set_int_at(opts, idx, n);
    break;
  case QUARRY_OPT_BOOL:
    if (parse_bool(text, &b)) {
      if (var)
        return q_fail(QUARRY_EINVAL,
                      "environment variable %s: expected a boolean (true/false/1/0), got '%s'",
                      var, text);
      return q_fail(QUARRY_EINVAL, "option '%s' expects a boolean (true/false/1/0), got '%s'",
                    option_info[idx].name, text);
    }
    rc = set_bool_at(opts, idx, b);
    break;
  default:
    rc = set_string_at(opts, idx, text);
    break;
  }
  if (rc && var) {
    char msg[512];
    snprintf(msg, sizeof msg, "%s", quarry_last_error());
    q_fail(rc, "environment variable %s: %s", var, msg);
  }
  return rc;
}

int quarry_options_set_parse(quarry_options *opts, const char *name, const char *text) {
  int idx, rc = lookup(opts, name, &idx);
  return rc ? rc : set_parse_at(opts, idx, text, NULL);
}

int quarry_options_apply_env(quarry_options *opts) {
  size_t i, j;
  char var[96];
  const char *text;
  int rc;
  if (opts == NULL)
    return q_fail(QUARRY_EINVAL, "options: NULL options");
  for (i = 0; i < N_OPTIONS; i++) {
    if (!option_info[i].tuning) /* open semantics (mode, paths) are never taken from env */
      continue;
    strcpy(var, "QUARRY_DB_");
    for (j = 0; option_info[i].name[j] && j + 11 < sizeof var; j++)
      var[10 + j] = (char)toupper((unsigned char)option_info[i].name[j]);
    var[10 + j] = '\0';
    text = getenv(var);
    if (text == NULL)
      continue;
    if ((rc = set_parse_at(opts, (int)i, text, var)) != 0)
      return rc;
  }
  return 0;
}

int quarry_options_add_column_family(quarry_options *opts, const char *name) {
  char **grown, *copy;
  size_t i;
  if (opts == NULL)
    return q_fail(QUARRY_EINVAL, "options: NULL options");
  if (name == NULL || *name == '\0')
    return q_fail(QUARRY_EINVAL, "column family name must be a non-empty string");
  for (i = 0; i < opts->ncfs; i++)
    if (strcmp(opts->cfs[i], name) == 0)
      return 0;
  copy = strdup(name);
  grown = realloc(opts->cfs, (opts->ncfs + 1) * sizeof *grown);
  if (copy == NULL || grown == NULL) {
    free(copy);
    if (grown)
      opts->cfs = grown;
    return q_fail(QUARRY_ENOMEM, "out of memory");
  }
  opts->cfs = grown;
  opts->cfs[opts->ncfs++] = copy;
  return 0;
}

int quarry_options_get(const quarry_options *opts, const char *name, int64_t *num,
                       const char **str) {
  int idx, rc;
  if (num)
    *num = 0;
  if (str)
    *str = NULL;
  if (opts && name && strcmp(name, "preset") == 0) {
    if (str)
      *str = opts->preset;
    return 0;
  }
  if ((rc = lookup(opts, name, &idx)) != 0)
    return rc;
  switch (option_slots[idx].kind) {
  case K_INT:
    if (num)
      *num = *CSLOT_INT(opts, idx);
    break;
  case K_BOOL:
    if (num)
      *num = *CSLOT_FLAG(opts, idx);
    break;
  case K_COMP:
    if (str)
      *str = comp_names[*CSLOT_FLAG(opts, idx)];
    break;
  case K_MODE:
    if (str)
      *str = mode_names[*CSLOT_FLAG(opts, idx)];
    break;
  default:
    if (str)
      *str = *CSLOT_STR(opts, idx);
    break;
  }
  return 0;
}

static int rocksdb_compression(int c) {
  return c == Q_COMP_LZ4 ? rocksdb_lz4_compression
         : c == Q_COMP_ZSTD ? rocksdb_zstd_compression
                            : rocksdb_no_compression;
}

rocksdb_options_t *q_rocksdb_options(const quarry_options *o, rocksdb_cache_t **cache_out) {
  rocksdb_options_t *r = rocksdb_options_create();
  rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
  rocksdb_cache_t *cache = NULL;
  int levels[7], i;
  const uint64_t mib = 1024u * 1024u;

  /* Database-wide. */
  rocksdb_options_set_create_if_missing(r, o->create_if_missing && o->mode == Q_MODE_READ_WRITE);
  rocksdb_options_set_create_missing_column_families(r, o->mode == Q_MODE_READ_WRITE);
  rocksdb_options_set_max_open_files(r, o->mode == Q_MODE_SECONDARY ? -1 : (int)o->max_open_files);
  rocksdb_options_set_max_background_jobs(r, (int)o->max_background_jobs);
  /* docs/design.md#f2: the info LOG in the db directory aborts the process on a full disk below FATAL. */
  rocksdb_options_set_info_log_level(r, 4);
  rocksdb_options_set_keep_log_file_num(r, 2);
  /* No max_log_file_size: a size-rolled LOG (AutoRollLogger) writes its header lines (the options
   * dump) whatever the level, and after one failed LOG write the next aborts the process
   * (docs/reliability.md, finding 1). At FATAL the plain LOG stays empty. */
  /* docs/design.md#f4: point-in-time recovery silently drops synced data on a damaged WAL. */
  rocksdb_options_set_wal_recovery_mode(r, 0);
  /* Without a WAL the table files are the only copy of a write, and a batch across families is
   * one state only if every family is flushed at the same point: atomic flush switches and
   * writes the memtables of every family together (automatic flushes, and the one checkpoints
   * and backups make). With the WAL on, recovery replays it, so the cost (3.5 x the compaction
   * writes of a 4-family load, bench_atomic_flush) is not paid there (docs/design.md). It
   * follows the wal option of the open that opens the engine. */
  rocksdb_options_set_atomic_flush(r, (unsigned char)(o->wal == 0));
  if (o->statistics) /* read back by metrics.c (rocksdb_options_statistics_get_string) */
    rocksdb_options_enable_statistics(r);

  /* Per family (the same options serve every family). */
  rocksdb_options_set_write_buffer_size(r, (size_t)o->write_buffer_mb * mib);
  rocksdb_options_set_level0_file_num_compaction_trigger(r, (int)o->level0_file_num_compaction_trigger);
  rocksdb_options_set_level0_slowdown_writes_trigger(r, (int)o->level0_slowdown_writes_trigger);
  rocksdb_options_set_level0_stop_writes_trigger(r, (int)o->level0_stop_writes_trigger);
  rocksdb_options_set_target_file_size_base(r, (uint64_t)o->target_file_size_mb * mib);
  rocksdb_options_set_max_bytes_for_level_base(r, (uint64_t)o->max_bytes_for_level_base_mb * mib);
  rocksdb_options_set_num_levels(r, 7);
  for (i = 0; i < 7; i++)
    levels[i] = rocksdb_compression(o->compression);
  rocksdb_options_set_compression(r, rocksdb_compression(o->compression));
  rocksdb_options_set_compression_per_level(r, levels, 7);
  rocksdb_options_set_bottommost_compression(r, rocksdb_compression(o->bottommost_compression));

  rocksdb_block_based_options_set_block_size(t, (size_t)o->block_size_kb * 1024u);
  if (o->block_cache_mb > 0) {
    cache = rocksdb_cache_create_lru((size_t)o->block_cache_mb * mib);
    rocksdb_block_based_options_set_block_cache(t, cache);
  } else {
    rocksdb_block_based_options_set_no_block_cache(t, 1);
  }
  if (o->bloom_bits > 0) /* the table options take ownership of the policy */
    rocksdb_block_based_options_set_filter_policy(
        t, rocksdb_filterpolicy_create_bloom_full((double)o->bloom_bits));
  rocksdb_options_set_block_based_table_factory(r, t); /* copies t */
  rocksdb_block_based_options_destroy(t);
  *cache_out = cache;
  return r;
}

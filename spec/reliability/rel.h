/* rel.h: what the reliability programs share: the numbered-batch layout written by rel_writer and
 * checked by rel_crashloop (and the other loops), and small process helpers. Not installed. */
#ifndef QUARRY_REL_H
#define QUARRY_REL_H

#include "quarry.h"

#include <stddef.h>
#include <stdint.h>

#define REL_FAMILIES 4
extern const char *const rel_family_names[REL_FAMILIES]; /* "f0".."f3" */

/* Key of batch n: "b" + 8 bytes big-endian (so byte order is numeric order). 9 bytes. */
#define REL_KEY_LEN 9
void rel_key(uint64_t n, char out[REL_KEY_LEN]);
/* 1 and *n set when key is a batch key. */
int rel_parse_key(const char *key, size_t len, uint64_t *n);
/* The value batch n writes into family f: deterministic text plus pseudo-random padding.
 * Writes at most REL_VALUE_MAX bytes into out and returns the length. */
#define REL_VALUE_MAX 320
size_t rel_value(uint64_t n, int f, char *out);
/* Opens the batch database (families f0..f3, 1 MiB memtables so flushes happen often). mode is
 * "read_write", "read_only" or NULL for read_write. */
int rel_open(const char *path, const char *mode, quarry_db **out);
/* rel_open in read-write mode that refuses to create a missing database. */
int rel_open_existing(const char *path, quarry_db **out);

/* What a check of the batch database found. */
typedef struct {
  int open_rc;           /* 0, or the code quarry_db_open returned */
  char open_msg[512];
  uint64_t max_present;  /* highest batch number present in any family */
  uint64_t contiguous;   /* every batch 1..contiguous is present in all families */
  uint64_t torn;         /* batches present in some families but not all */
  uint64_t gaps;         /* batches missing from every family below max_present */
  uint64_t altered;      /* values that differ from what the writer wrote */
  uint64_t bad_last;     /* families whose "last" key disagrees with their highest batch */
  uint64_t read_errors;  /* iteration errors (Corruption, IOError) */
  char read_msg[512];
} rel_check_result;

/* Opens the database at path (read-write, so WAL recovery runs as a real reopen would), reads
 * every family with checksums verified and fills r. Returns 0 when the database opened and was
 * read, else the failing code (also in r). */
int rel_check(const char *path, rel_check_result *r);
/* The same; with create 0 a missing database is an open failure (for checkpoints, restores). */
int rel_check_opts(const char *path, int create, rel_check_result *r);

/* Milliseconds since an arbitrary start (monotonic). */
double rel_now_ms(void);
/* Creates a directory and its missing parents (mkdir -p). */
void rel_mkdirs(const char *path);
/* Removes a directory tree (rm -rf). */
void rel_rmtree(const char *path);
/* Seeded xorshift64* generator. */
uint64_t rel_rand(uint64_t *state);

#endif

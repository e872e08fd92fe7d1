/* writer.c: rel_writer, the process the crash loops kill. It commits numbered atomic batches
 * across four families and prints each batch number on stdout (flushed) only after the write
 * returned: a printed number is an acknowledged batch.
 *
 * usage: rel_writer DB [--sync 0|1] [--pace-us N] [--count N] [--ckpt DIR | --backup DIR]
 *        [--every K]
 * With --ckpt, every K batches (default 200) a checkpoint goes to DIR/ckpt-<batch>, and
 * "ckpt <batch>" is printed once quarry_db_checkpoint returned; with --backup, a backup into the
 * backup directory DIR, then "backup <id> <batch>".
 * Batch n puts key "b"+n (8 bytes big-endian) into f0..f3 with a value derived from (n, family),
 * and sets "last" = n in each family. The first line is "ready S": S is the first new number. */
#include "rel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void die(const char *what, int rc) {
  fprintf(stderr, "rel_writer: %s: %s (%s)\n", what, quarry_err_name(rc), quarry_last_error());
  exit(3);
}

int main(int argc, char **argv) {
  const char *path;
  int sync = 1, rc, f, i;
  long pace_us = 0, every = 200;
  const char *ckpt = NULL, *backup = NULL;
  quarry_backups *bk = NULL;
  uint64_t count = 0, n, start;
  quarry_db *db = NULL;
  quarry_cf *cf[REL_FAMILIES];
  quarry_batch *b = NULL;
  quarry_write_options wo = QUARRY_WRITE_OPTIONS_INIT;
  quarry_iter *it = NULL;
  quarry_iter_options io = QUARRY_ITER_OPTIONS_INIT;
  const char *k, *v;
  size_t kl, vl;

  if (argc < 2) {
    fprintf(stderr, "usage: rel_writer DB [--sync 0|1] [--pace-us N] [--count N]\n");
    return 2;
  }
  path = argv[1];
  for (i = 2; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--sync") == 0)
      sync = atoi(argv[i + 1]);
    else if (strcmp(argv[i], "--pace-us") == 0)
      pace_us = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--ckpt") == 0)
      ckpt = argv[i + 1];
    else if (strcmp(argv[i], "--backup") == 0)
      backup = argv[i + 1];
    else if (strcmp(argv[i], "--every") == 0)
      every = atol(argv[i + 1]);
    else if (strcmp(argv[i], "--count") == 0)
      count = strtoull(argv[i + 1], NULL, 10);
    else {
      fprintf(stderr, "rel_writer: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  if ((rc = rel_open(path, NULL, &db)) != 0)
    die("open", rc);
  for (f = 0; f < REL_FAMILIES; f++)
    if ((rc = quarry_db_cf(db, rel_family_names[f], &cf[f])) != 0)
      die("cf", rc);
  /* Continue after the highest batch of f0 (the checker has verified the others agree). */
  io.prefix = "b";
  io.prefix_len = 1;
  io.reverse = 1;
  io.limit = 1;
  io.keys_only = 1;
  start = 1;
  if ((rc = quarry_iter_new(db, cf[0], &io, &it)) != 0)
    die("iterator", rc);
  rc = quarry_iter_step(it, &k, &kl, &v, &vl);
  if (rc < 0)
    die("last batch", rc);
  if (rc == 1 && rel_parse_key(k, kl, &n))
    start = n + 1;
  quarry_iter_close(it);
  if (backup && (rc = quarry_backups_open(backup, NULL, &bk)) != 0)
    die("backups_open", rc);
  printf("ready %llu\n", (unsigned long long)start);
  fflush(stdout);

  wo.sync = sync;
  wo.wal = 1;
  if ((rc = quarry_batch_new(db, &b)) != 0)
    die("batch", rc);
  for (n = start; count == 0 || n < start + count; n++) {
    char key[REL_KEY_LEN], val[REL_VALUE_MAX], last[8];
    for (i = 0; i < 8; i++)
      last[i] = (char)(unsigned char)(n >> (56 - 8 * i));
    rel_key(n, key);
    quarry_batch_clear(b);
    for (f = 0; f < REL_FAMILIES; f++) {
      size_t len = rel_value(n, f, val);
      if ((rc = quarry_batch_put(b, cf[f], key, sizeof key, val, len)) != 0 ||
          (rc = quarry_batch_put(b, cf[f], "last", 4, last, sizeof last)) != 0)
        die("batch put", rc);
    }
    if ((rc = quarry_db_write(db, b, &wo)) != 0)
      die("write", rc);
    printf("%llu\n", (unsigned long long)n);
    fflush(stdout);
    if (ckpt && every > 0 && n % (uint64_t)every == 0) {
      char dir[4096];
      snprintf(dir, sizeof dir, "%s/ckpt-%llu", ckpt, (unsigned long long)n);
      if ((rc = quarry_db_checkpoint(db, dir)) != 0)
        die("checkpoint", rc);
      printf("ckpt %llu\n", (unsigned long long)n);
      fflush(stdout);
    }
    if (bk && every > 0 && n % (uint64_t)every == 0) {
      uint32_t id = 0;
      if ((rc = quarry_backups_create(bk, db, 0, &id)) != 0)
        die("backup", rc);
      printf("backup %u %llu\n", id, (unsigned long long)n);
      fflush(stdout);
    }
    if (pace_us > 0)
      usleep((useconds_t)pace_us);
  }
  quarry_batch_close(b);
  quarry_backups_close(bk);
  rc = quarry_db_close(db);
  if (rc)
    die("close", rc);
  return 0;
}

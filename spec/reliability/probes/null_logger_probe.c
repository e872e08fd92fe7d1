/* null_logger_probe.c: shows finding 1 of docs/reliability.md and the null-logger fix.
 *   g++ -c null_logger.cc && gcc null_logger_probe.c null_logger.o -lrocksdb -lstdc++ -o probe
 *   LD_PRELOAD=build/librel_shim_fail.so QUARRY_FAIL_DIR=/tmp/p QUARRY_FAIL_OPS=write \
 *     QUARRY_FAIL_N=1 QUARRY_FAIL_PERSIST=1 ./probe /tmp/p          -> SIGABRT (LOG write)
 *   ... ./probe /tmp/p nolog    -> "open error: IO error: No space left on device ..." */
#include <rocksdb/c.h>
#include <stdio.h>

void q_null_logger(rocksdb_options_t *o);

int main(int argc, char **argv) {
  char *err = NULL;
  rocksdb_options_t *o = rocksdb_options_create();
  rocksdb_t *db;
  const char *names[2] = {"default", "blocks"};
  const rocksdb_options_t *cfo[2];
  rocksdb_column_family_handle_t *h[2];
  rocksdb_options_set_create_if_missing(o, 1);
  rocksdb_options_set_create_missing_column_families(o, 1);
  rocksdb_options_set_info_log_level(o, 4); /* FATAL, as core/src/options.c */
  if (argc > 2)
    q_null_logger(o);
  cfo[0] = cfo[1] = o;
  /* Creating a family dumps its options into the LOG whatever the level. */
  db = rocksdb_open_column_families(o, argv[1], 2, names, cfo, h, &err);
  if (err) {
    printf("open error: %s\n", err);
    return 1;
  }
  rocksdb_column_family_handle_destroy(h[0]);
  rocksdb_column_family_handle_destroy(h[1]);
  rocksdb_close(db);
  printf("opened and closed\n");
  return 0;
}

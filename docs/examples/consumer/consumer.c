/* consumer.c: the smallest C program over an installed libquarry: open, put, get, metrics.
 * Built by the install test with find_package(quarry) and with pkg-config. */
#include <quarry.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
  quarry_db *db;
  quarry_value *v;
  quarry_metrics *m;
  double puts = 0;
  size_t len;
  int rc;
  if (argc < 2) {
    fprintf(stderr, "usage: consumer DB_DIR\n");
    return 2;
  }
  if ((rc = quarry_db_open(argv[1], NULL, &db)) != 0) {
    fprintf(stderr, "open: %s: %s\n", quarry_err_name(rc), quarry_last_error());
    return 1;
  }
  if (quarry_put(db, NULL, NULL, "hello", 5, "world", 5) != 0)
    return 1;
  if (quarry_get(db, NULL, NULL, "hello", 5, &v) != 0 || v == NULL)
    return 1;
  {
    const char *data = quarry_value_data(v, &len);
    printf("quarry %s: hello = %.*s\n", quarry_version(), (int)len, data);
  }
  quarry_value_free(v);
  if (quarry_db_metrics(db, &m) == 0) {
    quarry_metrics_value(m, QUARRY_METRIC_PUTS, &puts);
    quarry_metrics_free(m);
  }
  printf("puts: %g\n", puts);
  quarry_db_close(db);
  return puts == 1 ? 0 : 1;
}

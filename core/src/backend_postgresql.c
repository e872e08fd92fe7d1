/* backend_postgresql.c: the PostgreSQL backend (a server URL as the database path). */
#include "backend.h"

#include <string.h>

int q_pg_is_url(const char *path) {
  return strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0;
}

int q_pg_open(const char *url, const quarry_options *opts, quarry_db **out) {
  (void)url;
  (void)opts;
  *out = NULL;
  return q_fail(QUARRY_ENOTSUPPORTED, "open: the PostgreSQL backend is not built yet");
}

int q_pg_list_column_families(const char *url, char ***names) {
  (void)url;
  *names = NULL;
  return q_fail(QUARRY_ENOTSUPPORTED, "list_column_families: the PostgreSQL backend is not built yet");
}

int q_pg_destroy(const char *url) {
  (void)url;
  return q_fail(QUARRY_ENOTSUPPORTED, "destroy: the PostgreSQL backend is not built yet");
}

/* status.c: error codes, their names and texts, the thread's last error message, and the one
 * function that maps RocksDB's status text to a QUARRY_E* code. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[1024];

const char *quarry_err_name(int code) {
  switch (code) {
  case 0: return "OK";
#define QUARRY_XX(sym, val, name, text) \
  case (val): return name;
    QUARRY_ERRNO_MAP(QUARRY_XX)
#undef QUARRY_XX
  default: return "Unknown";
  }
}

const char *quarry_strerror(int code) {
  switch (code) {
  case 0: return "success";
#define QUARRY_XX(sym, val, name, text) \
  case (val): return text;
    QUARRY_ERRNO_MAP(QUARRY_XX)
#undef QUARRY_XX
  default: return "unknown error";
  }
}

const char *quarry_last_error(void) { return last_error; }

int q_fail(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return code;
}

/* RocksDB's Status::ToString prefixes, in the order they are tested. */
static const struct {
  const char *prefix;
  int code;
} prefixes[] = {
  {"NotFound: ", QUARRY_ENOTFOUND},
  {"Corruption: ", QUARRY_ECORRUPTION},
  {"Not implemented: ", QUARRY_ENOTSUPPORTED},
  {"Invalid argument: ", QUARRY_EINVAL},
  {"IO error: ", QUARRY_EIO},
  {"Merge in progress: ", QUARRY_EBUSY},
  {"Result incomplete: ", QUARRY_EINCOMPLETE},
  {"Shutdown in progress: ", QUARRY_ESHUTDOWN},
  {"Operation timed out: ", QUARRY_ETIMEDOUT},
  {"Operation aborted: ", QUARRY_EABORTED},
  {"Resource busy: ", QUARRY_EBUSY},
  {"Operation expired: ", QUARRY_ETIMEDOUT},
  {"Operation failed. Try again.: ", QUARRY_ETRYAGAIN},
  {"Compaction too large: ", QUARRY_EABORTED},
  {"Column family dropped: ", QUARRY_ENOTFOUND},
};

static int is_lock_error(const char *msg) {
  if (strstr(msg, "lock hold by current process") || strstr(msg, "While lock file"))
    return 1;
  return strstr(msg, "lock") && strstr(msg, "Resource temporarily unavailable");
}

int q_status_code(const char *msg) {
  size_t i;
  int code = QUARRY_EUNKNOWN;
  if (msg == NULL)
    return 0;
  for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    if (strncmp(msg, prefixes[i].prefix, strlen(prefixes[i].prefix)) == 0) {
      code = prefixes[i].code;
      break;
    }
  }
  if (code == QUARRY_EIO) {
    if (strstr(msg, "No space left") || strstr(msg, "Space limit reached"))
      code = QUARRY_ENOSPC;
    else if (is_lock_error(msg))
      code = QUARRY_ELOCKED;
  }
  return code;
}

int q_status_from_rocksdb(char *err) {
  int code;
  if (err == NULL)
    return 0;
  code = q_status_code(err);
  q_fail(code, "%s", err);
  rocksdb_free(err);
  return code;
}

/* lapi.h: the quarry.h functions the storage binding (quarry.core) lends to the other C modules
 * (never installed). A process holds one libquarry, the one quarry.core links: its databases,
 * its engines, its thread-local error text and metrics stripes. A module that works on quarry.db
 * handles (bindings/chain: quarry.chain.fast) calls these pointers, found in the Lua registry
 * under QL_CORE_API (a light userdata) once quarry.core is loaded, instead of linking a second
 * libquarry (whose initial-exec TLS would not even load beside the first). */
#ifndef LAPI_H
#define LAPI_H

#include "quarry.h"

#define QL_CORE_API "quarry.core.api"
#define QL_CORE_API_VERSION 1

typedef struct ql_core_api {
  int version; /* QL_CORE_API_VERSION */
  int (*get)(quarry_db *db, quarry_cf *cf, const quarry_read_options *ropts, const char *key,
             size_t klen, quarry_value **out);
  const char *(*value_data)(const quarry_value *v, size_t *len);
  void (*value_free)(quarry_value *v);
  int (*batch_new)(quarry_db *db, quarry_batch **out);
  int (*batch_put)(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen, const char *val,
                   size_t vlen);
  int (*batch_delete)(quarry_batch *b, quarry_cf *cf, const char *key, size_t klen);
  int (*batch_clear)(quarry_batch *b);
  void (*batch_close)(quarry_batch *b);
  int (*db_write)(quarry_db *db, quarry_batch *b, const quarry_write_options *wopts);
  const char *(*last_error)(void);
  const char *(*err_name)(int code);
} ql_core_api;

#endif

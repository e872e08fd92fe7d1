/* version.c: the version strings of Quarry and of RocksDB, which it was built against
 * (pkg-config's version). LZ4 is not the core's: the JSON module reports its version. */
#include "internal.h"

/* rocksdb/version.h is C++ (it includes <string>), so a C file cannot read ROCKSDB_MAJOR/MINOR/
 * PATCH from it. The build passes pkg-config's version as QUARRY_ROCKSDB_VERSION; without it,
 * the version of Debian's librocksdb-dev this core was written and tested against. */
#ifndef QUARRY_ROCKSDB_VERSION
#define QUARRY_ROCKSDB_VERSION "7.8.3"
#endif

const char *quarry_version(void) { return QUARRY_VERSION; }

const char *quarry_rocksdb_version(void) { return QUARRY_ROCKSDB_VERSION; }

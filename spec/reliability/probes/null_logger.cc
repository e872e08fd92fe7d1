// null_logger.cc: a proposal for finding 1 of docs/reliability.md (not built by CMake). RocksDB
// 7.8's C API cannot create a Logger, and the info LOG in the database directory aborts the
// process once one of its writes failed. This gives RocksDB a Logger that drops everything, so
// no LOG file is written at all. rocksdb_logger_t is the C API's wrapper of a shared_ptr<Logger>
// (c.cc); the struct below must keep that layout.
#include <rocksdb/c.h>
#include <rocksdb/env.h>

#include <cstdarg>
#include <memory>

struct rocksdb_logger_t {
  std::shared_ptr<rocksdb::Logger> rep;
};

namespace {
class NullLogger : public rocksdb::Logger {
 public:
  using rocksdb::Logger::Logv;
  void Logv(const char *, va_list) override {}
};
}  // namespace

// Installs the null logger on o (RocksDB copies the shared_ptr).
extern "C" void q_null_logger(rocksdb_options_t *o) {
  rocksdb_logger_t l{std::make_shared<NullLogger>()};
  rocksdb_options_set_info_log(o, &l);
}

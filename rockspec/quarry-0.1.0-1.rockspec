-- Builds offline from a checkout: luarocks --lua-version 5.4 make rockspec/quarry-0.1.0-1.rockspec
-- Native libraries come from Debian (librocksdb-dev, liblz4-dev, libyajl-dev); they are listed as
-- external dependencies, not rocks. Lua libraries installed by apt (lua-argparse, lua-socket,
-- lua-readline) are not listed as rock dependencies.
rockspec_format = "3.0"
package = "quarry"
version = "0.1.0-1"
source = { url = "git+file:///dev/null" }
description = {
  summary = "A scriptable storage engine: RocksDB for Lua 5.4, with chain migration tools",
  detailed = [[
Quarry is a C library over RocksDB exposed as the Lua 5.4 module `quarry`: column families, atomic
batches across families, iterators, snapshots, checkpoints, backups and metrics, plus the `quarry`
command to migrate, verify, export and inspect blockchain stores.]],
  license = "MIT",
  labels = { "database", "rocksdb", "blockchain" },
}
dependencies = { "lua >= 5.4, < 5.5" }
external_dependencies = {
  ROCKSDB = { header = "rocksdb/c.h", library = "rocksdb" },
  LZ4 = { header = "lz4frame.h", library = "lz4" },
  YAJL = { header = "yajl/yajl_parse.h", library = "yajl" },
}
-- The project's CMake build is the one build: LuaRocks drives it and deploys what it installs
-- (quarry/core.so, quarry/json/core.so, quarry/sys.so and quarry/bytes.so under LIBDIR, quarry/*.lua
-- under LUADIR, the quarry command under bin).
build = {
  type = "cmake",
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    QUARRY_LUA_LIBDIR = "$(LIBDIR)",
    QUARRY_LUA_SHAREDIR = "$(LUADIR)",
    QUARRY_BUILD_TESTS = "OFF",
    QUARRY_INSTALL_C_LIBRARY = "OFF",
  },
}

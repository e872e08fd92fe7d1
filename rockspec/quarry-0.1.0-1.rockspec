-- The LuaRocks package of Quarry: the `quarry` Lua module (C modules over RocksDB) and the `quarry`
-- command. Three ways to build it (README, "As a rock"):
--   from a checkout:       luarocks --lua-version 5.4 make rockspec/quarry-0.1.0-1.rockspec
--                          (`make` builds the checkout in place: source.url is not used)
--   from the release tarball, in the directory that holds quarry-0.1.0.tar.gz:
--                          luarocks --lua-version 5.4 build rockspec/quarry-0.1.0-1.rockspec
--   from a source rock:    luarocks --lua-version 5.4 build quarry-0.1.0-1.src.rock
-- The release tarball is `git archive --prefix=quarry-0.1.0/ -o quarry-0.1.0.tar.gz v0.1.0`.
-- Quarry has no public download address yet, so source.url names the tarball itself, found in
-- the current directory by `luarocks build`. `luarocks pack` of a rockspec needs an absolute URL
-- (it resolves a relative one inside its own temporary directory): the release step writes the
-- published rockspec with `luarocks new_version rockspec/quarry-0.1.0-1.rockspec 0.1.0-1 URL`,
-- URL being where the tarball is published (file:///... or https://...), then packs that into
-- quarry-0.1.0-1.src.rock, which carries the tarball and builds anywhere, offline.
--
-- Dependencies: argparse (every command parses its arguments with it) and luasocket (`serve`,
-- `stats --every`) are required; spec/97-rock_spec.lua fails when the command
-- requires a third-party module not declared here. readline is not declared: the shell loads it
-- with pcall and falls back to a plain prompt (no history, no completion), and the readline rock
-- builds against libreadline and luaposix, a heavy requirement for one optional nicety of one
-- command; LuaRocks has no optional dependencies. Install it for the shell: `luarocks install
-- readline` or Debian's lua-readline.
-- On Debian, lua-argparse and lua-socket provide these modules outside LuaRocks: tell LuaRocks
-- with `rocks_provided` in its configuration (README) instead of fetching them again.
-- Native libraries come from the system (Debian: librocksdb-dev, liblz4-dev, libyajl-dev) and are
-- external dependencies, not rocks.
rockspec_format = "3.0"
package = "quarry"
version = "0.1.0-1"
source = {
  url = "quarry-0.1.0.tar.gz",
  dir = "quarry-0.1.0",
}
description = {
  summary = "A scriptable storage engine: RocksDB for Lua 5.4, with chain migration tools",
  detailed = [[
Quarry is a C library over RocksDB exposed as the Lua 5.4 module `quarry`: column families, atomic
batches across families, iterators, snapshots, checkpoints, backups and metrics, plus the `quarry`
command to migrate, verify, export and inspect blockchain stores.]],
  license = "MIT",
  labels = { "database", "rocksdb", "blockchain" },
}
dependencies = {
  "lua >= 5.4, < 5.5",
  "argparse >= 0.7",
  "luasocket >= 3.0",
}
external_dependencies = {
  ROCKSDB = { header = "rocksdb/c.h", library = "rocksdb" },
  LZ4 = { header = "lz4frame.h", library = "lz4" },
  YAJL = { header = "yajl/yajl_parse.h", library = "yajl" },
}
-- The project's CMake build is the one build: LuaRocks drives it and deploys what it installs
-- (quarry/core.so, quarry/json/core.so, quarry/sys.so, quarry/bytes.so and quarry/u256.so under
-- LIBDIR, quarry/*.lua under LUADIR, the quarry command under bin, which LuaRocks wraps to find
-- the tree's modules). README.md and LICENSE go to the rock's doc/ directory (LuaRocks's default
-- documents: there is no doc/ folder to copy instead).
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

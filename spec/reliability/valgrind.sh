#!/usr/bin/env bash
# valgrind.sh: memcheck over every C test of BUILD_DIR and a few Lua workloads through the module
# (the bad-input spec's operations via the property tester, the out-of-memory host): fails on
# any memory error or definitely-lost byte. Run by `cmake --build BUILD_DIR --target valgrind`.
set -uo pipefail
build=${1:?usage: valgrind.sh BUILD_DIR}
cd "$(dirname "$0")/../.."
VG=(valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=1
    --show-leak-kinds=definite)
export QUARRY_TEST_TMP="$build/tmp"
export LUA_PATH="$PWD/bindings/lua/?.lua;$PWD/bindings/lua/?/init.lua;$PWD/bindings/json/?.lua;$PWD/scripts/?.lua;$PWD/scripts/?/init.lua;;"
export LUA_CPATH="$build/lua/?.so;;"
mkdir -p "$build/tmp/valgrind"
pass=0; fail=0
run() { # name, command...
  local name=$1; shift
  if "${VG[@]}" "$@" >"$build/tmp/valgrind/$name.log" 2>&1; then
    echo "valgrind: $name: clean"; pass=$((pass + 1))
  else
    echo "valgrind: $name: FAILED (see $build/tmp/valgrind/$name.log)"; tail -20 "$build/tmp/valgrind/$name.log"
    fail=$((fail + 1))
  fi
}
for t in "$build"/test_*; do
  [ -x "$t" ] && run "$(basename "$t")" "$t"
done
run proptest lua5.4 spec/reliability/proptest.lua "$build/tmp/valgrind/prop" 8 1
run oomhost "$build/rel_oomhost" spec/reliability/oomworkload.lua "$build/tmp/valgrind/oom" --stride 10
run badinput lua5.4 -e 'local q = require("quarry")
  local db = q.open(arg and arg[1] or os.getenv("QUARRY_TEST_TMP") .. "/valgrind/bad", {column_families = {"x"}})
  local it, s, b = db:iterator(), db:snapshot(), db:batch()
  it:first(); b:put("k", "v")
  pcall(db.write, db, function(bb) bb:put("a", "b"); error("no") end)
  pcall(db.put, db, ("k"):rep(8 * 1024 * 1024 + 1), "v")
  db:close()
  pcall(it.next, it)
  local d2 = q.open(os.getenv("QUARRY_TEST_TMP") .. "/valgrind/bad")
  d2:put("x\0y", "\255"); local _ = d2:get("x\0y")
  d2 = nil; collectgarbage(); collectgarbage()'
echo "valgrind: $pass passed, $fail failed"
[ "$fail" -eq 0 ]

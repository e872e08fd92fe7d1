#!/usr/bin/env bash
# test.sh: the whole test suite. Installs what is missing and builds (scripts/setup.sh), runs every
# C test and busted spec through CTest with warnings as errors, then again under ASan + UBSan.
# Its last line is the summary of both runs: "N passed, N failed".
# One PostgreSQL server (scripts/pg-server.sh) serves the specs registered for the PostgreSQL
# backend (label pg) in both runs: started once after the first build (setup.sh installs it),
# stopped and removed on exit whatever happens. If it cannot start, those specs fail (they are
# told the server is required), they are not skipped.
set -uo pipefail
cd "$(dirname "$0")/.."

PG_DIR=""
stop_pg() {
  if [ -n "$PG_DIR" ]; then bash scripts/pg-server.sh stop "$PG_DIR" || true; PG_DIR=""; fi
}
trap stop_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_pg() {
  [ -z "${QUARRY_TEST_PG_REQUIRED:-}" ] || return 0 # started already
  export QUARRY_TEST_PG_REQUIRED=1
  local err
  err=$(mktemp)
  if PG_DIR=$(bash scripts/pg-server.sh start 2>"$err"); then
    QUARRY_TEST_PG_URL=$(bash scripts/pg-server.sh url "$PG_DIR")
    QUARRY_TEST_PG_ADMIN=$(bash scripts/pg-server.sh admin "$PG_DIR")
    export QUARRY_TEST_PG_URL QUARRY_TEST_PG_ADMIN
    echo "== PostgreSQL test server in $PG_DIR (port $(cat "$PG_DIR/port"))"
  else
    PG_DIR=""
    cat "$err" >&2
    QUARRY_TEST_PG_ERROR="scripts/pg-server.sh start failed: $(tail -n 1 "$err")"
    export QUARRY_TEST_PG_ERROR
    echo "== the PostgreSQL test server did not start: the PostgreSQL specs will fail"
  fi
  rm -f "$err"
}

total_pass=0; total_fail=0
run_suite() { # $1: build dir, rest: cmake args
  local dir=$1; shift
  QUARRY_BUILD_DIR=$dir QUARRY_CMAKE_ARGS="-DQUARRY_WERROR=ON $*" bash scripts/setup.sh --build-only || {
    echo "build in $dir failed"; total_fail=$((total_fail + 1)); return 1; }
  start_pg
  local log="$dir/ctest.log"
  (cd "$dir" && ctest --output-on-failure --timeout 900) 2>&1 | tee "$log"
  local line passed failed
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "no ctest summary in $dir"; total_fail=$((total_fail + 1)); return 1
  fi
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  passed=$(( $(echo "$line" | sed -E 's/.*out of ([0-9]+).*/\1/') - failed ))
  total_pass=$((total_pass + passed)); total_fail=$((total_fail + failed))
}

echo "== suite (build)"
run_suite build
if [ "${QUARRY_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== suite under AddressSanitizer + UndefinedBehaviorSanitizer (build-asan)"
  run_suite build-asan -DQUARRY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug
fi

echo
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]

#!/usr/bin/env bash
# test.sh: the whole test suite. Installs what is missing and builds (scripts/setup.sh), runs every
# C test and busted spec through CTest with warnings as errors, then again under ASan + UBSan.
# Its last line is the summary of both runs: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."

total_pass=0; total_fail=0
run_suite() { # $1: build dir, rest: cmake args
  local dir=$1; shift
  QUARRY_BUILD_DIR=$dir QUARRY_CMAKE_ARGS="-DQUARRY_WERROR=ON $*" bash scripts/setup.sh --build-only || {
    echo "build in $dir failed"; total_fail=$((total_fail + 1)); return 1; }
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

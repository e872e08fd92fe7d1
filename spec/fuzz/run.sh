#!/usr/bin/env bash
# run-fuzz.sh: builds the libFuzzer targets (clang, QUARRY_FUZZ=ON) in BUILD_DIR and runs each for
# SECONDS over spec/fuzz/corpus/<target> (new inputs go to BUILD_DIR/corpus-<target>, the kept
# corpus is not modified). Exit 0: no failure; 1: a failure (its input is in BUILD_DIR/crash-*);
# 77: clang is not installed (CTest counts it as skipped).
#   usage: spec/fuzz/run.sh BUILD_DIR [SECONDS] [TARGET...]
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:?usage: run.sh BUILD_DIR [SECONDS] [TARGET...]}
secs=${2:-30}
shift $(( $# >= 2 ? 2 : $# ))
targets=${*:-json chain keys http}
if ! command -v clang >/dev/null; then
  echo "SKIPPED: clang is not installed (scripts/setup.sh PACKAGES needs clang)"
  exit 77
fi
CC=clang CXX=clang++ cmake -S "$src" -B "$dir" -DQUARRY_FUZZ=ON -DQUARRY_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
# shellcheck disable=SC2086
cmake --build "$dir" -j"$(nproc)" $(for t in $targets; do echo --target fuzz_$t; done) >"$dir/build.log" 2>&1 || {
  tail -30 "$dir/build.log"; exit 1; }
for t in $targets; do
  work="$dir/corpus-$t"
  mkdir -p "$work"
  if ! "$dir/fuzz_$t" -detect_leaks=0 -max_total_time="$secs" -max_len=4096 -print_final_stats=1 \
      -artifact_prefix="$dir/crash-$t-" "$work" "$src/spec/fuzz/corpus/$t" 2>"$dir/fuzz-$t.log"; then
    echo "fuzz_$t: FAILURE"
    grep -E "FUZZ-BUG|ERROR|fuzz $t|Test unit written" "$dir/fuzz-$t.log" | head -20
    exit 1
  fi
  runs=$(awk '/^stat::number_of_executed_units/ {print $2}' "$dir/fuzz-$t.log")
  echo "fuzz_$t: $runs inputs in ${secs}s, no failure"
done

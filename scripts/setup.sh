#!/usr/bin/env bash
# setup.sh: installs the Debian packages Quarry needs (when run as root), builds it, and runs the
# main job on a small generated sample. `--build-only` stops after the build.
# Environment: QUARRY_BUILD_DIR (default build), QUARRY_CMAKE_ARGS (extra cmake arguments).
set -euo pipefail
cd "$(dirname "$0")/.."

# Everything comes from Debian 12's archive; nothing is vendored or downloaded.
PACKAGES=(
  cmake make gcc g++ pkg-config
  librocksdb-dev liblz4-dev libyajl-dev liblua5.4-dev lua5.4
  lua-busted lua-argparse lua-socket lua-readline lua-check luarocks
  rocksdb-tools tmux
  clang libclang-rt-14-dev
  valgrind gnuplot-nox time
  prometheus   # promtool: spec/50, 51, 54 check the exposition, the shipped rules and dashboard
  postgresql-15 libpq-dev   # the PostgreSQL backend and its tests (scripts/pg-server.sh)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # No default cluster: the tests start their own servers (scripts/pg-server.sh), and a
    # system cluster on port 5432 would only be a service nobody asked for. postgresql-common
    # reads this file when the postgresql-15 package is configured; it is only written here when
    # PostgreSQL is about to be installed, and an existing setting is replaced, not duplicated.
    if printf '%s\n' "${missing[@]}" | grep -q '^postgresql'; then
      conf=/etc/postgresql-common/createcluster.conf
      mkdir -p /etc/postgresql-common
      if [ -f "$conf" ] && grep -q '^[[:space:]]*create_main_cluster' "$conf"; then
        sed -i 's/^[[:space:]]*create_main_cluster.*/create_main_cluster = false/' "$conf"
      else
        echo "create_main_cluster = false" >>"$conf"
      fi
      # postgresql-common installs its createcluster.conf through ucf: keep ours.
      export UCF_FORCE_CONFFOLD=1
    fi
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing Debian packages. Run as root:" >&2
    echo "  apt-get update && apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

BUILD_DIR=${QUARRY_BUILD_DIR:-build}
# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo ${QUARRY_CMAKE_ARGS:-} >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)"

if [ "${1:-}" = "--build-only" ]; then
  exit 0
fi

# The main job on a small generated sample.
Q="$BUILD_DIR/quarry"
SAMPLE=${QUARRY_SAMPLE_DIR:-sample}
rm -rf "$SAMPLE" && mkdir -p "$SAMPLE"
if "$Q" migrate --help >/dev/null 2>&1; then
  echo; echo "== quarry gen: a 2,000-block synthetic chain"
  "$Q" gen --blocks 2000 --seed 42 --out "$SAMPLE/chain.json.lz4"
  echo; echo "== quarry migrate: JSON dump -> chain store, verified"
  "$Q" migrate --json "$SAMPLE/chain.json.lz4" --db "$SAMPLE/db" --verify
  echo; echo "== quarry verify: invariants and every block against the source"
  "$Q" verify --db "$SAMPLE/db" --json "$SAMPLE/chain.json.lz4"
  echo; echo "== quarry stats"
  "$Q" stats --db "$SAMPLE/db"
  # A real node's dump: an AuriumChain node's serde JSON (unmined blocks: every hash empty),
  # migrated into the node's own RocksDB layout, verified against the file, and written back.
  AURIUM=spec/fixtures/auriumchain/chain.json
  echo; echo "== quarry migrate --format auriumchain --layout auriumchain-node: a node's own file"
  "$Q" migrate --format auriumchain --layout auriumchain-node --json "$AURIUM" --db "$SAMPLE/aurium-node" --verify
  "$Q" export --layout auriumchain-node --db "$SAMPLE/aurium-node" --json "$SAMPLE/aurium-back.json"
  cmp "$AURIUM" "$SAMPLE/aurium-back.json" && echo "export: the same bytes as the node's file ($AURIUM)"
  # An account-model chain: eth_getBlockByNumber records with their receipts, indexed for
  # history and eth_getLogs-style queries (docs/account-chain.md).
  echo; echo "== quarry gen --format ethereum-rpc, migrate, and an eth_getLogs-style query"
  "$Q" gen --format ethereum-rpc --blocks 300 --seed 42 --out "$SAMPLE/eth.jsonl"
  "$Q" migrate --format ethereum-rpc --json "$SAMPLE/eth.jsonl" --db "$SAMPLE/eth-db" --verify
  "$Q" chain tip --db "$SAMPLE/eth-db"
  # ERC-20 Transfer events in blocks 100..110
  "$Q" chain logs --db "$SAMPLE/eth-db" --from 100 --to 110 \
    --topic0 0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef | tail -n 1
else
  "$Q" demo --db "$SAMPLE/demo-db"
fi

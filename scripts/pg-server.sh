#!/usr/bin/env bash
# pg-server.sh: a throwaway PostgreSQL 15 server for the tests (scripts/test.sh, the PostgreSQL
# specs, the failover spec and the benchmark). Nothing here touches a system cluster.
#
#   pg-server.sh start [--durable] [--sync-standby]   a new server; prints its directory
#   pg-server.sh standby PRIMARY_DIR                  a streaming standby of it (pg_basebackup -R)
#   pg-server.sh url DIR                              the test role's URL (with its password)
#   pg-server.sh admin DIR                            a libpq conninfo for the superuser (socket)
#   pg-server.sh env DIR                              QUARRY_TEST_PG_URL=... and _ADMIN=... lines
#   pg-server.sh promote DIR | kill DIR | stop DIR    promote a standby / SIGKILL the postmaster /
#                                                     stop it (fast) and remove DIR
#
# A server lives in a directory made by mktemp -d (mkdtemp: a new 0700 directory, never a planted
# link) under $QUARRY_PG_TMP (default /tmp: the postgres user must reach it), owned by the postgres
# user when run as root (initdb and pg_ctl run as that user), else by the caller. It listens on
# 127.0.0.1 and a free port (probed, retried if taken meanwhile) and on a unix socket in DIR.
# fsync=off unless --durable (initdb's own files are never synced: --no-sync; what --durable
# protects is the WAL of the commits that follow). Authentication: over TCP every role needs its password
# (scram-sha-256): the test role `quarry_test` (CREATEDB, random password kept in DIR/password,
# mode 0600); over the socket (DIR is 0700) the superuser `postgres` is trusted, for the harness,
# the specs' CREATE DATABASE and replication. --sync-standby: commits wait for a standby
# (synchronous_standby_names = '*', synchronous_commit = on).
set -euo pipefail
# The server programs are not the code under test: never run them with the sanitizer runtimes
# the ASan suite preloads into lua5.4 (initdb hangs under a preloaded libasan).
unset LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS

die() { echo "pg-server: $*" >&2; exit 1; }

# The PostgreSQL 15 programs: pg_config --bindir, else Debian's versioned directory. Not PATH:
# /usr/local/bin may hold other builds (they exist on some machines, not on CI).
bindir() {
  local d
  for d in "${QUARRY_PG_BINDIR:-}" "$(pg_config --bindir 2>/dev/null || true)" /usr/lib/postgresql/15/bin; do
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
  done
  die "no PostgreSQL server programs (initdb, pg_ctl) in pg_config --bindir or /usr/lib/postgresql/15/bin: install postgresql-15 (scripts/setup.sh does, as root)"
}

# Runs a command as the server's owner: the postgres user when we are root, else ourselves.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# A port nothing listens on now: the kernel's pick for a bind to port 0 (lua-socket), else a
# random one in 20000-59999 that refuses a connection.
free_port() {
  local p
  if p=$(lua5.4 -e 'local s = require("socket"); local t = assert(s.bind("127.0.0.1", 0));
    local _, port = t:getsockname(); t:close(); io.write(port)' 2>/dev/null) && [ -n "$p" ]; then
    echo "$p"; return 0
  fi
  for _ in $(seq 50); do
    p=$(( 20000 + RANDOM % 40000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found on 127.0.0.1"
}

check_dir() { # $1: a server directory made by start/standby
  [ -n "${1:-}" ] || die "missing the server directory (the one 'start' printed)"
  [ -f "$1/port" ] && [ -d "$1/data" ] || die "$1 is not a server directory made by pg-server.sh start"
}

new_dir() {
  local base=${QUARRY_PG_TMP:-/tmp} d
  d=$(mktemp -d "$base/quarry-pg.XXXXXXXX") || die "cannot create a directory under $base"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$d"; fi
  echo "$d"
}

# Starts the server in $1 on a free port, retrying with another port when the chosen one was
# taken between the probe and the bind. Waits until it accepts connections (pg_ctl -w, then
# pg_isready). On failure prints the end of the server log.
start_server() {
  local d=$1 bin port attempt
  bin=$(bindir)
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    as_owner sh -c "echo $port > '$d/port'"
    if as_owner "$bin/pg_ctl" -D "$d/data" -l "$d/server.log" -w -t 60 \
         -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories='$d'" start >/dev/null; then
      if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 30; then return 0; fi
    fi
    if ! grep -q -i 'could not bind\|address already in use' "$d/server.log" 2>/dev/null; then break; fi
    echo "pg-server: port $port was taken, retrying ($attempt)" >&2
  done
  echo "pg-server: the server in $d did not start; end of its log:" >&2
  tail -n 20 "$d/server.log" >&2 2>/dev/null || true
  return 1
}

write_hba() { # $1: data dir
  as_owner tee "$1/pg_hba.conf" >/dev/null <<'EOF'
# pg-server.sh: the socket (in a 0700 directory) trusts the superuser; TCP wants passwords.
local   all          postgres                  trust
local   replication  postgres                  trust
local   all          all                       scram-sha-256
host    all          all       127.0.0.1/32    scram-sha-256
host    replication  all       127.0.0.1/32    scram-sha-256
EOF
}

cmd_start() {
  local durable=0 syncstandby=0
  while [ $# -gt 0 ]; do
    case $1 in
      --durable) durable=1 ;;
      --sync-standby) syncstandby=1 ;;
      *) die "start: unknown option '$1' (known: --durable, --sync-standby)" ;;
    esac
    shift
  done
  local bin d pw
  bin=$(bindir)
  d=$(new_dir)
  # A random password for the test role, never printed except by `url`.
  pw=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  as_owner sh -c "umask 077; printf '%s' '$pw' > '$d/password'"
  if ! as_owner "$bin/initdb" -D "$d/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 --no-sync \
       --no-instructions >"$d/initdb.log" 2>&1; then
    cat "$d/initdb.log" >&2
    rm -rf "$d"
    die "initdb failed"
  fi
  write_hba "$d/data"
  {
    echo "# pg-server.sh"
    echo "fsync = $([ $durable = 1 ] && echo on || echo off)"
    echo "synchronous_commit = on"
    echo "full_page_writes = $([ $durable = 1 ] && echo on || echo off)"
    echo "password_encryption = scram-sha-256"
    echo "max_connections = 200"
    echo "shared_buffers = 64MB"
    echo "wal_level = replica"
    echo "max_wal_senders = 5"
    echo "wal_keep_size = 256MB"
    echo "logging_collector = off"
  } | as_owner tee -a "$d/data/postgresql.conf" >/dev/null
  if ! start_server "$d"; then rm -rf "$d"; exit 1; fi
  if ! "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$d" -p "$(cat "$d/port")" -U postgres -d postgres \
       -c "CREATE ROLE quarry_test LOGIN CREATEDB PASSWORD '$pw'" \
       -c "CREATE DATABASE quarry_test OWNER quarry_test" >/dev/null; then
    as_owner "$bin/pg_ctl" -D "$d/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$d"
    die "cannot create the test role"
  fi
  # Only now (the role's commit above would wait for a standby that does not exist yet).
  if [ $syncstandby = 1 ]; then
    echo "synchronous_standby_names = '*'" | as_owner tee -a "$d/data/postgresql.conf" >/dev/null
    as_owner "$bin/pg_ctl" -D "$d/data" reload >/dev/null
  fi
  echo "$d"
}

cmd_standby() {
  local p=${1:-} bin d port
  check_dir "$p"
  bin=$(bindir)
  d=$(new_dir)
  cp "$p/password" "$d/password"
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$d/password"; fi
  # -R: standby.signal and primary_conninfo (the primary's socket); -X stream: the WAL as well.
  if ! as_owner "$bin/pg_basebackup" -h "$p" -p "$(cat "$p/port")" -U postgres -D "$d/data" -R \
       -X stream -c fast >"$d/basebackup.log" 2>&1; then
    cat "$d/basebackup.log" >&2
    rm -rf "$d"
    die "pg_basebackup from $p failed"
  fi
  # The copy carries the primary's synchronous_standby_names: a standby has none of its own.
  echo "synchronous_standby_names = ''" | as_owner tee -a "$d/data/postgresql.conf" >/dev/null
  if ! start_server "$d"; then rm -rf "$d"; exit 1; fi
  echo "$d"
}

cmd_url() {
  check_dir "${1:-}"
  printf 'postgresql://quarry_test:%s@127.0.0.1:%s/quarry_test\n' "$(cat "$1/password")" "$(cat "$1/port")"
}

cmd_admin() {
  check_dir "${1:-}"
  printf 'host=%s port=%s user=postgres dbname=postgres\n' "$1" "$(cat "$1/port")"
}

cmd_promote() {
  check_dir "${1:-}"
  as_owner "$(bindir)/pg_ctl" -D "$1/data" -w -t 60 promote >/dev/null
}

# SIGKILL to the postmaster (a crash: no shutdown checkpoint, clients see the connection drop).
# Its children exit on their own once it is gone; the port is free when they are.
cmd_kill() {
  check_dir "${1:-}"
  local pid
  pid=$(head -1 "$1/data/postmaster.pid" 2>/dev/null) || die "no postmaster.pid in $1/data: not running"
  kill -9 "$pid"
  for _ in $(seq 100); do
    if ! pgrep -P "$pid" >/dev/null 2>&1 && ! kill -0 "$pid" 2>/dev/null; then break; fi
    sleep 0.1
  done
  # Children left behind (they notice the dead postmaster within a second or so).
  pkill -9 -P "$pid" 2>/dev/null || true
}

cmd_stop() {
  local d=${1:-}
  check_dir "$d"
  if [ -f "$d/data/postmaster.pid" ]; then
    as_owner "$(bindir)/pg_ctl" -D "$d/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      as_owner "$(bindir)/pg_ctl" -D "$d/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
  fi
  rm -rf "$d"
}

case ${1:-} in
  start) shift; cmd_start "$@" ;;
  standby) shift; cmd_standby "$@" ;;
  url) cmd_url "${2:-}" ;;
  admin) cmd_admin "${2:-}" ;;
  env) check_dir "${2:-}"; echo "QUARRY_TEST_PG_URL=$(cmd_url "$2")"; echo "QUARRY_TEST_PG_ADMIN=$(cmd_admin "$2")" ;;
  promote) cmd_promote "${2:-}" ;;
  kill) cmd_kill "${2:-}" ;;
  stop) cmd_stop "${2:-}" ;;
  *) echo "usage: pg-server.sh start [--durable] [--sync-standby] | standby DIR | url DIR | admin DIR | env DIR | promote DIR | kill DIR | stop DIR" >&2; exit 2 ;;
esac

-- spec/helpers.lua: what the specs share: temporary directories (under $QUARRY_TEST_TMP or
-- /tmp, removed recursively), the database location of the spec's backend (backend(): RocksDB or
-- PostgreSQL), small file and text helpers, the per-test teardown, quarry error
-- matchers, and child lua5.4 processes running with the same LUA_PATH / LUA_CPATH as the specs
-- (for locks, environment overrides, secondaries).
local M = {}

M.lua = os.getenv("LUA") or "lua5.4"

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end
M.shell_quote = shell_quote

local function run(cmd)
  local ok, how, code = os.execute(cmd)
  return ok == true, how, code
end

-- ---- random seeds -------------------------------------------------------------------------------
--- The seed of a randomized spec: $QUARRY_SPEC_SEED when set, else the spec's fixed default, so
--- a run is reproducible; put seed_note(seed) in the failure message.
function M.seed(default)
  return math.tointeger(tonumber(os.getenv("QUARRY_SPEC_SEED") or "")) or default
end

--- "(seed N; rerun with QUARRY_SPEC_SEED=N)", for failure messages.
function M.seed_note(seed)
  return ("(seed %d; rerun with QUARRY_SPEC_SEED=%d)"):format(seed, seed)
end

-- ---- temporary directories ----------------------------------------------------------------
local base = (os.getenv("QUARRY_TEST_TMP") or "/tmp") .. "/quarry-spec"
local counter = 0
local created = {}
local pg_databases = {} -- made by backend(), dropped by cleanup()

local function unique_suffix()
  counter = counter + 1
  -- os.tmpname gives a unique file name; its basename makes the directory unique across processes.
  local f = os.tmpname()
  os.remove(f)
  return (f:match("([^/]+)$") or tostring(os.time())) .. "-" .. counter
end

--- Creates and returns a fresh empty directory.
function M.tmpdir(tag)
  local dir = ("%s/%s-%s"):format(base, tag or "t", unique_suffix())
  assert(run("mkdir -p " .. shell_quote(dir)), "cannot create " .. dir)
  created[#created + 1] = dir
  return dir
end

--- Removes a directory and everything under it.
function M.rmrf(path)
  assert(path and #path > 1 and path ~= "/", "refusing to remove " .. tostring(path))
  run("rm -rf " .. shell_quote(path))
end

function M.exists(path)
  return run("test -e " .. shell_quote(path))
end

--- Removes every directory made by tmpdir and every database made by backend() so far.
function M.cleanup()
  for i = #pg_databases, 1, -1 do -- first: psql's output goes to a tmpdir removed below
    M.pg_admin_sql(("DROP DATABASE IF EXISTS %s WITH (FORCE)"):format(pg_databases[i]))
    pg_databases[i] = nil
  end
  for i = #created, 1, -1 do
    M.rmrf(created[i])
    created[i] = nil
  end
end

function M.write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

--- The names in a directory (as `ls` lists them: sorted, no dot files); {} when it cannot be
--- listed.
-- Every entry of dir, hidden ones too, sorted.
function M.ls_all(dir)
  local t = {}
  local p = assert(io.popen("ls -A " .. shell_quote(dir) .. " 2>/dev/null"))
  for name in p:lines() do t[#t + 1] = name end
  p:close()
  table.sort(t)
  return t
end

-- The permission bits of path, in octal text ("700").
function M.mode_of(path)
  local p = assert(io.popen("stat -c %a " .. shell_quote(path)))
  local m = p:read("l")
  p:close()
  return m
end

function M.ls(dir)
  local t = {}
  local p = assert(io.popen("ls " .. shell_quote(dir) .. " 2>/dev/null"))
  for name in p:lines() do t[#t + 1] = name end
  p:close()
  return t
end

--- The lines of text, each without its "\n"; a last line without a "\n" is not counted.
function M.lines(text)
  local out = {}
  for l in text:gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

-- ---- backends: one spec set over RocksDB and PostgreSQL --------------------------------------
-- $QUARRY_SPEC_BACKEND chooses (rocksdb, the default, or postgresql); CTest registers the
-- backend-neutral specs twice (the second time as spec-pg/NAME, label pg). The PostgreSQL server
-- is the one scripts/test.sh starts (scripts/pg-server.sh): $QUARRY_TEST_PG_URL (the test role,
-- with its password) and $QUARRY_TEST_PG_ADMIN (a libpq conninfo for the superuser on the
-- server's socket). Under test.sh ($QUARRY_TEST_PG_REQUIRED=1) a missing server fails the specs;
-- by hand, the specs report pending with the reason.
M.backend_name = os.getenv("QUARRY_SPEC_BACKEND") or "rocksdb"
assert(M.backend_name == "rocksdb" or M.backend_name == "postgresql",
  "QUARRY_SPEC_BACKEND must be rocksdb or postgresql, not " .. M.backend_name)
M.pg = M.backend_name == "postgresql"
M.rocksdb = not M.pg

local pg_url, pg_admin = os.getenv("QUARRY_TEST_PG_URL"), os.getenv("QUARRY_TEST_PG_ADMIN")
local pg_required = os.getenv("QUARRY_TEST_PG_REQUIRED") == "1"

--- The reason the specs of this backend cannot run (no test server was given), or nil.
--- Under scripts/test.sh the server is required: nil, and backend() raises instead.
function M.backend_unavailable()
  if M.rocksdb or (pg_url and pg_admin) or pg_required then return nil end
  return "QUARRY_SPEC_BACKEND=postgresql needs a server: run scripts/test.sh, or start one with "
    .. "scripts/pg-server.sh start and export QUARRY_TEST_PG_URL / QUARRY_TEST_PG_ADMIN from "
    .. "`scripts/pg-server.sh env DIR`"
end

--- At the top of a backend-neutral spec's describe block, given busted's pending: when the
--- backend cannot run, registers one pending test saying why and returns true (the caller
--- returns). `if helpers.backend_pending(pending) then return end`
function M.backend_pending(pending_fn)
  local why = M.backend_unavailable()
  if not why then return false end
  pending_fn(why)
  return true
end

--- The path of a PostgreSQL 15 program (psql, pg_isready...): pg_config --bindir, else Debian's
--- versioned directory (not PATH: other builds may be there).
local pg_bindir
function M.pg_bin(name)
  if not pg_bindir then
    local p = io.popen("pg_config --bindir 2>/dev/null")
    local d = p and p:read("l")
    if p then p:close() end
    for _, cand in ipairs({ d or "", "/usr/lib/postgresql/15/bin" }) do
      if cand ~= "" and M.exists(cand .. "/psql") then pg_bindir = cand break end
    end
    assert(pg_bindir, "psql not found (pg_config --bindir, /usr/lib/postgresql/15/bin): install postgresql-15")
  end
  return pg_bindir .. "/" .. name
end

--- Runs SQL with psql on the server of conninfo (a libpq conninfo or URL). Returns the output
--- (unaligned, tuples only, trailing blanks removed); raises with psql's message on failure.
function M.psql(conninfo, sql)
  local status, out, err = M.run(M.pg_bin("psql"), { "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
    "-d", conninfo, "-c", sql }, { env = { LD_PRELOAD = false } }) -- not the code under test
  assert(status == 0, ("psql failed (%s): %s"):format(sql, err))
  return (out:gsub("%s+$", ""))
end

--- Runs SQL as the test server's superuser ($QUARRY_TEST_PG_ADMIN), like psql(), in the
--- database dbname (default: the conninfo's, postgres).
function M.pg_admin_sql(sql, dbname)
  assert(pg_admin, os.getenv("QUARRY_TEST_PG_ERROR") or "no PostgreSQL test server: $QUARRY_TEST_PG_ADMIN is not set")
  local conninfo = pg_admin
  if dbname then conninfo = conninfo:gsub("dbname=%S+", "dbname=" .. dbname) end
  return M.psql(conninfo, sql)
end

--- The URL of the test server with another database name (and the test role's password).
function M.pg_url(dbname)
  assert(pg_url, os.getenv("QUARRY_TEST_PG_ERROR") or "no PostgreSQL test server: $QUARRY_TEST_PG_URL is not set")
  if not dbname then return pg_url end
  return (pg_url:gsub("/[^/?]*(%??[^/]*)$", "/" .. dbname .. "%1", 1))
end

--- The test role's password (to assert it never appears in messages).
function M.pg_password()
  return assert(pg_url and pg_url:match("^postgresql://[^:@/]+:([^@/]+)@"), "no password in the test URL")
end

--- A fresh, empty database location for the spec's backend: a path in a new temporary
--- directory (rocksdb), or the URL of a new empty database on the test server (postgresql),
--- dropped by cleanup(). tag names it (as tmpdir's).
function M.backend(tag)
  if M.rocksdb then return M.tmpdir(tag) .. "/db" end
  local name = ("q_%s_%s"):format(tag or "t", unique_suffix()):lower():gsub("[^a-z0-9_]", "_")
  M.pg_admin_sql(("CREATE DATABASE %s OWNER quarry_test"):format(name))
  pg_databases[#pg_databases + 1] = name
  return M.pg_url(name)
end

--- How the core shows a database location (db:path(), tostring, error messages): a directory
--- as given; a URL with its password replaced by *** (the password is never shown).
function M.shown(loc)
  local pw = loc:match("^postgres[a-z]*://[^:@/]+:([^@/]+)@")
  if not pw then return loc end
  return (loc:gsub(":" .. pw:gsub("%p", "%%%0") .. "@", ":***@", 1))
end

--- Asserts that db:path() (got) names the location opened (loc) as shown(loc) does, and that
--- no password of loc appears in it.
function M.assert_db_path(loc, got)
  local pw = loc:match("^postgres[a-z]*://[^:@/]+:([^@/]+)@")
  if pw then assert(not got:find(pw, 1, true), "db:path() shows the password") end
  assert(got == M.shown(loc), ("db:path() is %q, expected %q"):format(tostring(got), M.shown(loc)))
end

--- busted's it when the spec runs over backend ("rocksdb" or "postgresql"), else a function
--- that registers nothing: `local on_rocksdb = helpers.only("rocksdb", it)`. For the cases that
--- differ by backend; each RocksDB-only case has a PostgreSQL one asserting NotSupported.
function M.only(backend, it_fn)
  if backend == M.backend_name then return it_fn end
  return function() end
end

-- ---- teardown -------------------------------------------------------------------------------
--- Collects garbage twice (finalizers of the handles a test dropped run now; the second pass
--- frees what they released) and removes every directory made by tmpdir. Use it as
--- `after_each(helpers.collect_and_cleanup)`.
function M.collect_and_cleanup()
  collectgarbage()
  collectgarbage()
  M.cleanup()
end

--- Teardown for tests that share a database handle in an upvalue: closes db (unless the test
--- closed it already or left nil), then collect_and_cleanup(). Returns nil, to be stored back:
--- `db = helpers.close_and_cleanup(db)` (a closed handle's finalizer has nothing left to do).
function M.close_and_cleanup(db)
  if db then db:close() end
  M.collect_and_cleanup()
  return nil
end

-- ---- reads ----------------------------------------------------------------------------------
--- Every pair of target:pairs(iopts) (target: a db or a cf), as two lists in iteration order.
function M.collect_pairs(target, iopts)
  local keys, values = {}, {}
  for k, v in target:pairs(iopts) do
    keys[#keys + 1] = k
    values[#values + 1] = v
  end
  return keys, values
end

-- ---- errors ---------------------------------------------------------------------------------
--- Calls fn(...) expecting it to raise a quarry error; returns the error object.
function M.quarry_error(fn, ...)
  local quarry = require("quarry")
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected a quarry error, but the call succeeded")
  assert(quarry.is_error(err), "expected a quarry error, got: " .. tostring(err))
  return err
end

--- Asserts that fn(...) raises a quarry error with this code (and message matching pattern,
--- a plain substring, when given). Returns the error.
function M.raises_code(code, pattern, fn, ...)
  local err = M.quarry_error(fn, ...)
  assert(err.code == code, ("expected code %s, got %s (%s)"):format(code, err.code, tostring(err)))
  if pattern then
    assert(err.message:find(pattern, 1, true),
      ("expected message containing %q, got %q"):format(pattern, err.message))
  end
  return err
end

--- Asserts that fn(...) raises a plain (non-quarry) Lua error whose text contains pattern.
function M.raises_plain(pattern, fn, ...)
  local quarry = require("quarry")
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, but the call succeeded")
  assert(not quarry.is_error(err), "expected an argument error, got quarry error " .. tostring(err))
  assert(tostring(err):find(pattern, 1, true),
    ("expected error containing %q, got %q"):format(pattern, tostring(err)))
  return err
end

-- ---- programs and the quarry command -----------------------------------------------------------
--- The quarry command the specs run ($QUARRY_BIN, else the build tree's).
M.quarry_bin = os.getenv("QUARRY_BIN") or "build/quarry"

--- Runs program with args (a list of words, each quoted). opts: stdin (text fed to it; else
--- /dev/null), env (name -> value, or false to unset it). Returns the exit status (0 ok, the exit
--- code, or 128 + the signal), stdout and stderr.
function M.run(program, args, opts)
  opts = opts or {}
  local dir = M.tmpdir("run")
  local unset, set = {}, {} -- env(1) takes its -u options before any NAME=VALUE
  for name, v in pairs(opts.env or {}) do
    if v == false then
      unset[#unset + 1] = "-u " .. shell_quote(name)
    else
      set[#set + 1] = name .. "=" .. shell_quote(v)
    end
  end
  local parts = { "env", table.concat(unset, " "), table.concat(set, " ") }
  parts[#parts + 1] = shell_quote(program)
  for _, a in ipairs(args or {}) do parts[#parts + 1] = shell_quote(a) end
  local input = "/dev/null"
  if opts.stdin then
    input = shell_quote(dir .. "/in")
    M.write_file(dir .. "/in", opts.stdin)
  end
  local ok, how, code = os.execute(("%s <%s >%s 2>%s"):format(table.concat(parts, " "), input,
    shell_quote(dir .. "/out"), shell_quote(dir .. "/err")))
  local status = ok and 0 or (how == "exit" and code or 128 + (code or 0))
  return status, M.read_file(dir .. "/out") or "", M.read_file(dir .. "/err") or ""
end

--- Runs `quarry <args...>` (M.quarry_bin) like run. Returns status, stdout, stderr.
function M.run_quarry(args, opts)
  return M.run(M.quarry_bin, args, opts)
end

-- ---- child processes ------------------------------------------------------------------------
local function env_prefix(env)
  local parts = {}
  for _, name in ipairs({ "LUA_PATH", "LUA_CPATH", "LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS" }) do
    local v = os.getenv(name)
    if v then parts[#parts + 1] = name .. "=" .. shell_quote(v) end
  end
  for name, v in pairs(env or {}) do
    parts[#parts + 1] = name .. "=" .. shell_quote(v)
  end
  return "env " .. table.concat(parts, " ") .. " "
end

--- Runs a Lua chunk (source text) in a child lua5.4 with the specs' module paths and the extra
--- environment variables in env. Returns ok (exit status 0), stdout, stderr.
function M.run_lua(source, env)
  local dir = M.tmpdir("child")
  local script, errfile = dir .. "/child.lua", dir .. "/stderr"
  M.write_file(script, source)
  local p = assert(io.popen(("%s%s %s 2>%s"):format(env_prefix(env), M.lua, shell_quote(script),
    shell_quote(errfile))))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out, M.read_file(errfile) or ""
end

--- Runs the Lua script at path with arguments (a list of strings) in a child lua5.4, like
--- run_lua. Returns ok, stdout, stderr.
function M.run_lua_script(path, args, env)
  local dir = M.tmpdir("child")
  local errfile = dir .. "/stderr"
  local quoted = {}
  for i, a in ipairs(args or {}) do quoted[i] = shell_quote(a) end
  local p = assert(io.popen(("%s%s %s %s 2>%s"):format(env_prefix(env), M.lua, shell_quote(path),
    table.concat(quoted, " "), shell_quote(errfile))))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out, M.read_file(errfile) or ""
end

--- Starts a long-running child lua5.4 with the Lua chunk source. The child reads commands from
--- its stdin (io.read) and answers on its stdout (io.write + io.stdout:flush()), which reaches
--- the parent through a FIFO, so both sides block instead of polling.
--- Returns an object with send(line), recv() -> line|nil, and finish() -> ok, stderr.
function M.spawn_lua(source, env)
  local dir = M.tmpdir("child")
  local script, fifo, errfile = dir .. "/child.lua", dir .. "/out", dir .. "/stderr"
  M.write_file(script, source)
  assert(run("mkfifo " .. shell_quote(fifo)), "mkfifo failed")
  local stdin = assert(io.popen(("exec %s%s %s >%s 2>%s"):format(env_prefix(env), M.lua,
    shell_quote(script), shell_quote(fifo), shell_quote(errfile)), "w"))
  stdin:setvbuf("no")
  local out = assert(io.open(fifo, "r")) -- blocks until the child's shell opens the FIFO
  local child = {}
  function child.send(line)
    stdin:write(line, "\n")
    stdin:flush()
  end
  function child.recv()
    return out:read("l")
  end
  --- Closes the child's stdin (its io.read returns nil) and waits for it to exit.
  function child.finish()
    local ok = stdin:close() -- a popen handle's close waits for the process
    out:close()
    return ok == true, M.read_file(errfile) or ""
  end
  function child.stderr()
    return M.read_file(errfile) or ""
  end
  return child
end

return M

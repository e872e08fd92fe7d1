-- spec/helpers.lua: what the specs share: temporary directories (under $QUARRY_TEST_TMP or
-- /tmp, removed recursively), small file and text helpers, the per-test teardown, quarry error
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

--- Removes every directory made by tmpdir so far.
function M.cleanup()
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

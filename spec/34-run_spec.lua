-- 34-run: `quarry run SCRIPT.lua [ARGS]`: the script sees `arg` and `...` as lua5.4 sets them,
-- finds the quarry modules with no LUA_PATH from any directory, and its exit status, errors
-- ("quarry run: script.lua:LINE: message"), tracebacks, missing and stdin scripts behave as
-- docs/tools.md says. Oracles: a second process reading back what the first wrote; lua5.4's own
-- arg table for the same words.
local helpers = require("spec.helpers")

local q = helpers.shell_quote
local function absolute(p)
  if p:sub(1, 1) == "/" then return p end
  return os.getenv("PWD") .. "/" .. p
end
local BIN = absolute(os.getenv("QUARRY_BIN") or "build/quarry")

-- Runs a shell command line; returns exit code, stdout, stderr.
local function sh(cmdline)
  local dir = helpers.tmpdir("run-out")
  local p = assert(io.popen(("%s 2>%s"):format(cmdline, q(dir .. "/stderr"))))
  local out = p:read("a")
  local _, _, code = p:close()
  return code, out, helpers.read_file(dir .. "/stderr") or ""
end

-- `quarry run <words...>` from directory cwd (default: here), with options.stdin (text) and
-- options.clean_env (LUA_PATH and LUA_CPATH unset), options.bin (the command, shell-quoted).
local function run(words, options)
  options = options or {}
  local quoted = {}
  for i, a in ipairs(words) do quoted[i] = q(a) end
  local cmd = (options.bin or q(BIN)) .. " run " .. table.concat(quoted, " ")
  if options.clean_env then cmd = "env -u LUA_PATH -u LUA_CPATH -u LUA_PATH_5_4 -u LUA_CPATH_5_4 " .. cmd end
  if options.cwd then cmd = "cd " .. q(options.cwd) .. " && " .. cmd end
  if options.stdin then
    local dir = helpers.tmpdir("run-in")
    helpers.write_file(dir .. "/stdin", options.stdin)
    cmd = "(" .. cmd .. ") <" .. q(dir .. "/stdin")
  else
    cmd = "(" .. cmd .. ") </dev/null"
  end
  return sh(cmd)
end

-- A script printing its arg table (from the lowest index) and `...`, one "k=v" a line.
local SHOW_ARGS = [[
local lo = 0
while arg[lo - 1] ~= nil do lo = lo - 1 end
for k = lo, #arg do print("arg[" .. k .. "]=" .. tostring(arg[k])) end
local dots = table.pack(...)
print("#...=" .. dots.n)
for k = 1, dots.n do print("...[" .. k .. "]=" .. tostring(dots[k])) end
]]

local function parse_args(out)
  local a, dots, n = {}, {}, nil
  for line in out:gmatch("[^\n]+") do
    local k, v = line:match("^arg%[(%-?%d+)%]=(.*)$")
    if k then a[tonumber(k)] = v end
    local d, dv = line:match("^%.%.%.%[(%d+)%]=(.*)$")
    if d then dots[tonumber(d)] = dv end
    n = n or tonumber(line:match("^#%.%.%.=(%d+)$"))
  end
  return a, dots, n
end

describe("quarry run", function()
  local dir

  before_each(function() dir = helpers.tmpdir("run") end)
  after_each(helpers.collect_and_cleanup)

  -- Writes a script into dir and returns its name: the cases run from dir with the name as
  -- SCRIPT, so messages show it whole (Lua shortens a chunk name longer than 59 bytes, as
  -- lua5.4 does, to "..." and its end).
  local function script(name, text)
    helpers.write_file(dir .. "/" .. name, text)
    return name
  end
  local run_in = run
  local function run_here(words, options)
    options = options or {}
    options.cwd = options.cwd or dir
    return run_in(words, options)
  end

  it("gives the script arg and ... as lua5.4 does, options after SCRIPT included", function()
    local path = script("show.lua", SHOW_ARGS)
    local words = { "one", "two words", "--traceback", "-x", "" }
    local code, out, err = run_here({ path, table.unpack(words) })
    assert.are.equal(0, code, err)
    local a, dots, n = parse_args(out)
    -- the oracle: lua5.4 itself running the same script with the same words
    local lcode, lout = sh("cd " .. q(dir) .. " && " .. q(helpers.lua) .. " " .. q(path) .. " " .. (function()
      local t = {}
      for i, w in ipairs(words) do t[i] = q(w) end
      return table.concat(t, " ")
    end)())
    assert.are.equal(0, lcode)
    local la, ldots, ln = parse_args(lout)
    assert.are.equal(la[0], a[0])
    assert.are.equal(path, a[0])
    for i = 1, #words do
      assert.are.equal(words[i], a[i])
      assert.are.equal(la[i], a[i])
    end
    assert.is_nil(a[#words + 1])
    assert.are.equal(#words, n)
    assert.are.equal(ln, n)
    assert.are.same(ldots, dots)
    -- the words before the script: the interpreter lowest, the launcher, then "run"
    assert.are.equal("run", a[-1])
    assert.matches("quarry$", a[-2])
    assert.matches("lua", a[-3])
    assert.is_nil(a[-4])
  end)

  it("puts our --traceback before SCRIPT at arg[-1]", function()
    local path = script("show.lua", SHOW_ARGS)
    local code, out = run_here({ "--traceback", path, "a" })
    assert.are.equal(0, code)
    local a = parse_args(out)
    assert.are.equal("--traceback", a[-1])
    assert.are.equal("run", a[-2])
    assert.are.equal("a", a[1])
  end)

  it("writes through require 'quarry' in one process and reads it back in another", function()
    local db = dir .. "/db"
    local writer = script("write.lua", [[
      local quarry = require "quarry"
      local path, key, value = ...
      local db <close> = quarry.open(path, { column_families = { "notes" } })
      db:cf("notes"):put(key, value, { sync = true })
      print("wrote " .. key)
    ]])
    local reader = script("read.lua", [[
      local quarry = require "quarry"
      local db <close> = quarry.open(arg[1], { mode = "read_only" })
      io.write(tostring(db:cf("notes"):get(arg[2])), "\n")
    ]])
    local code, out, err = run_here({ writer, db, "key 1", "value " .. ("\255"):rep(3) })
    assert.are.equal(0, code, err)
    assert.are.equal("wrote key 1\n", out)
    local code2, out2, err2 = run_here({ reader, db, "key 1" })
    assert.are.equal(0, code2, err2)
    assert.are.equal("value " .. ("\255"):rep(3) .. "\n", out2)
  end)

  it("honours os.exit(n) and exits 0 at the end of the script", function()
    assert.are.equal(3, (run_here({ script("exit3.lua", "print('x') os.exit(3)") })))
    assert.are.equal(0, (run_here({ script("exittrue.lua", "os.exit(true)") })))
    assert.are.equal(0, (run_here({ script("end.lua", "local x = 1") })))
  end)

  it("exits 1 on an error with exactly 'quarry run: <script>:<line>: <message>'", function()
    local path = script("boom.lua", "local x = 1\n\nerror('boom ' .. x)\n")
    local code, _, err = run_here({ path })
    assert.are.equal(1, code)
    assert.are.equal("quarry run: " .. path .. ":3: boom 1\n", err)
  end)

  it("names the script's line, not Quarry's own files, for an error raised inside them", function()
    local path = script("own.lua", "local f = require('quarry.chain.formats')\nf.decode(nil, {})\n")
    local code, _, err = run_here({ path })
    assert.are.equal(1, code)
    assert.matches("^quarry run: " .. path:gsub("%p", "%%%0") .. ":2: ", err)
    assert.is_nil(err:find("scripts/quarry", 1, true), err)
    assert.is_nil(err:find("stack traceback", 1, true), err)
  end)

  it("prints a quarry error object as its tostring", function()
    local path = script("qerr.lua", [[
      local quarry = require "quarry"
      local ok, e = pcall(quarry.open, arg[1], { create_if_missing = false })
      io.write(tostring(e), "\n")
      error(e)
    ]])
    local code, out, err = run_here({ path, dir .. "/missing" })
    assert.are.equal(1, code)
    assert.are.equal("quarry run: " .. out, err)
  end)

  it("adds the Lua traceback with --traceback, and only then", function()
    local path = script("deep.lua", "local function f() error('deep') end\nf()\n")
    local code, _, err = run_here({ "--traceback", path })
    assert.are.equal(1, code)
    assert.matches("^quarry run: " .. path:gsub("%p", "%%%0") .. ":1: deep\nstack traceback:\n", err)
    assert.truthy(err:find(path .. ":2: in main chunk", 1, true), err)
    assert.is_nil(err:find("commands/run.lua", 1, true), err)
    local _, _, plain = run_here({ path })
    assert.is_nil(plain:find("stack traceback", 1, true))
    -- after SCRIPT, --traceback is the script's
    local _, _, theirs = run_here({ path, "--traceback" })
    assert.is_nil(theirs:find("stack traceback", 1, true))
  end)

  it("exits 2 naming a missing or unreadable script, 1 with file and line for a syntax error", function()
    local code, _, err = run_here({ "nope.lua" })
    assert.are.equal(2, code)
    assert.are.equal("quarry run: cannot open nope.lua: No such file or directory\n", err)
    local code_dir, _, err_dir = run_here({ dir })
    assert.are.equal(2, code_dir)
    assert.truthy(err_dir:find(dir, 1, true), err_dir)
    local bad = script("bad.lua", "local a = 1\nlocal b = = 2\n")
    local code2, _, err2 = run_here({ bad })
    assert.are.equal(1, code2)
    assert.matches("^quarry run: " .. bad:gsub("%p", "%%%0") .. ":2: ", err2)
    local code3, _, err3 = run_here({})
    assert.are.equal(2, code3)
    assert.truthy(err3:find("missing SCRIPT", 1, true), err3)
  end)

  it("skips a shebang line and keeps the line numbers", function()
    local path = script("shebang.lua", "#!/usr/bin/env quarry run\nprint('hi')\nerror('l3')\n")
    local code, out, err = run_here({ path })
    assert.are.equal(1, code)
    assert.are.equal("hi\n", out)
    assert.are.equal("quarry run: " .. path .. ":3: l3\n", err)
  end)

  it("finds the modules with LUA_PATH and LUA_CPATH unset, from another directory", function()
    -- Without LUA_CPATH the launcher takes the module of <tree>/build (scripts/bin/quarry): a
    -- tree with only another build directory (build-asan alone) has none to find.
    if not helpers.exists("build/lua/quarry/core.so") then
      pending("needs build/lua/quarry/core.so beside the sources (the launcher's default)")
      return
    end
    local elsewhere = helpers.tmpdir("elsewhere")
    helpers.write_file(elsewhere .. "/mods.lua", [[
      local quarry = require "quarry"
      local chain = require "quarry.chain"
      local json = require "quarry.json"
      local db <close> = quarry.open("here-db")
      db:put("k", json.encode({ 1, 2 }))
      print(quarry.version ~= nil, type(chain.open), db:get("k"))
    ]])
    local code, out, err = run_here({ "mods.lua" }, { cwd = elsewhere, clean_env = true })
    assert.are.equal(0, code, err)
    assert.are.equal("true\tfunction\t[1,2]\n", out)
    assert.is_true(helpers.exists(elsewhere .. "/here-db/CURRENT"))
    -- the launcher itself (what `cmake --install` installs), not the build tree's wrapper that
    -- sets LUA_PATH: it finds the source checkout's modules from its own path
    helpers.rmrf(elsewhere .. "/here-db")
    local launcher = q(helpers.lua) .. " " .. q(absolute("scripts/bin/quarry"))
    local code2, out2, err2 = run_here({ "mods.lua" }, { cwd = elsewhere, clean_env = true, bin = launcher })
    assert.are.equal(0, code2, err2)
    assert.are.equal("true\tfunction\t[1,2]\n", out2)
  end)

  it("reads the script from stdin with -", function()
    local code, out, err = run_here({ "-", "a", "b" }, { stdin = SHOW_ARGS })
    assert.are.equal(0, code, err)
    local a, dots, n = parse_args(out)
    assert.are.equal("-", a[0])
    assert.are.equal("a", a[1])
    assert.are.equal("b", a[2])
    assert.are.equal(2, n)
    assert.are.same({ "a", "b" }, dots)
    local code2, _, err2 = run_here({ "-" }, { stdin = "\nerror('from stdin')\n" })
    assert.are.equal(1, code2)
    assert.are.equal("quarry run: stdin:2: from stdin\n", err2)
  end)

  it("is listed by quarry --help", function()
    local code, out = sh(q(BIN) .. " --help")
    assert.are.equal(0, code)
    assert.matches("\n  run ", out)
  end)
end)

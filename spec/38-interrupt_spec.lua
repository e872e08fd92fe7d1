-- spec/38-interrupt_spec.lua: Ctrl-C (SIGINT) and SIGTERM sent to running `quarry` commands: exit
-- status 130 / 143, one line on stderr (`quarry <command>: interrupted`, no source position), and
-- an interrupted migration resumes to exactly the uninterrupted result (quarry.cli.interrupt).
-- The shell's Ctrl-C at the prompt is in spec/41-shell_spec.lua.
package.path = "spec/reliability/?.lua;" .. package.path
local helpers = require("spec.helpers")
local quarry = require("quarry")
local K = require("killmigrate") -- its content digest of every family

local q = helpers.shell_quote
local BIN = helpers.quarry_bin
local function sleep(s) os.execute(("sleep %.3f"):format(s)) end

-- Starts `quarry args...` in the background: stdout to a FIFO (stdout = true: read it through
-- p.out) or to a file. Returns p with pid, out, kill(signal), finish() -> status, stdout, stderr.
local function start(args, opts)
  opts = opts or {}
  local dir = helpers.tmpdir("interrupt")
  local words = {}
  for i, a in ipairs(args) do words[i] = q(a) end
  local env = {}
  for name, v in pairs(opts.env or {}) do env[#env + 1] = name .. "=" .. q(v) end
  local out = dir .. "/out"
  if opts.fifo then assert(os.execute("mkfifo " .. q(out))) end
  -- a subshell waits for the command and writes its status (the command's pid first)
  local cmd = ("(env %s %s %s >%s 2>%s & p=$!; echo $p >%s; wait $p; echo $? >%s) " ..
    "</dev/null >/dev/null 2>&1 &"):format(table.concat(env, " "), q(BIN), table.concat(words, " "),
    q(out), q(dir .. "/err"), q(dir .. "/pid"), q(dir .. "/status.tmp"))
  assert(os.execute(cmd))
  local p = {}
  for _ = 1, 200 do
    local text = helpers.read_file(dir .. "/pid")
    if text and text:match("%d+\n") then p.pid = tonumber(text:match("%d+")) break end
    sleep(0.02)
  end
  assert(p.pid, "the command did not start")
  if opts.fifo then p.out = assert(io.open(out, "r")) end
  function p.kill(signal) assert(os.execute(("kill -%s %d"):format(signal, p.pid))) end
  function p.finish()
    local rest = p.out and p.out:read("a") or nil
    if p.out then p.out:close() end
    local status
    for _ = 1, 1500 do
      local text = helpers.read_file(dir .. "/status.tmp")
      if text and text:match("%d+\n") then status = tonumber(text:match("%d+")) break end
      sleep(0.02)
    end
    assert(status, "the command did not exit")
    return status, rest or helpers.read_file(out) or "", helpers.read_file(dir .. "/err") or ""
  end
  return p
end

local function assert_interrupted(status, err, command, want_status)
  assert.are.equal(want_status or 130, status, "stderr: " .. err)
  assert.are.equal("quarry " .. command .. ": interrupted\n", err)
  assert.is_nil(err:find(".lua:", 1, true))
end

describe("interrupting a quarry command", function()
  local dir
  setup(function()
    dir = helpers.tmpdir("interrupt") .. "/db"
    local db <close> = quarry.open(dir, { column_families = { "blocks" } })
    local blocks = db:cf("blocks")
    for batch = 0, 19 do
      db:write(function(b)
        for i = 1, 2000 do b:put(blocks, string.pack(">I8", batch * 2000 + i), ("v"):rep(60)) end
      end)
    end
  end)
  teardown(helpers.cleanup)

  it("scan: SIGINT mid-way exits 130 with one line and no source position", function()
    local p = start({ "scan", "--db", dir, "--cf", "blocks" }, { fifo = true })
    for _ = 1, 20 do assert.is_not_nil(p.out:read("l")) end -- it is printing: the pipe holds it back
    p.kill("INT")
    local status, rest, err = p.finish()
    assert_interrupted(status, err, "scan")
    local _, lines = rest:gsub("\n", "")
    assert.is_true(lines < 40000 - 20, "the scan went to the end")
  end)

  it("scan: SIGTERM exits 143", function()
    local p = start({ "scan", "--db", dir, "--cf", "blocks" }, { fifo = true })
    for _ = 1, 20 do assert.is_not_nil(p.out:read("l")) end
    p.kill("TERM")
    local status, _, err = p.finish()
    assert_interrupted(status, err, "scan", 143)
  end)

  it("run: a script in a loop, SIGINT and SIGTERM", function()
    local script = helpers.tmpdir("interrupt") .. "/loop.lua"
    helpers.write_file(script, "io.write('looping\\n') io.stdout:flush() local n = 0 while true do n = n + 1 end\n")
    for sig, want in pairs({ INT = 130, TERM = 143 }) do
      local p = start({ "run", script }, { fifo = true })
      assert.are.equal("looping", p.out:read("l"))
      p.kill(sig)
      local status, _, err = p.finish()
      assert_interrupted(status, err, "run", want)
    end
  end)

  it("a script that catches signals itself keeps them (quarry.sys.catch_signals)", function()
    local script = helpers.tmpdir("interrupt") .. "/own.lua"
    helpers.write_file(script, [[
      local sigs = require("quarry.sys").catch_signals({ "INT" })
      io.write("ready\n") io.stdout:flush()
      while not sigs:caught() do end
      sigs:close()
      io.write("caught\n")
      os.exit(7)
    ]])
    local p = start({ "run", script }, { fifo = true })
    assert.are.equal("ready", p.out:read("l"))
    p.kill("INT")
    local status, rest, err = p.finish()
    assert.are.equal(7, status, err)
    assert.are.equal("caught\n", rest)
  end)
end)

describe("interrupting quarry migrate", function()
  local work, src, want
  setup(function()
    work = helpers.tmpdir("interrupt-migrate")
    src = work .. "/chain.json"
    local st, _, err = helpers.run_quarry({ "gen", "--blocks", "400", "--seed", "7", "--out", src })
    assert(st == 0, err)
    local ref = work .. "/ref"
    st, _, err = helpers.run_quarry({ "migrate", "--json", src, "--db", ref, "--group", "25", "--quiet" })
    assert(st == 0, err)
    want = K.digest(ref)
  end)
  teardown(helpers.cleanup)

  it("resumes after SIGINTs to exactly the uninterrupted store", function()
    local db = work .. "/db"
    local interrupted = 0
    -- 400 blocks at 5 ms each: about 2 s a run; interrupt three times at different points
    for i, delay in ipairs({ 0.45, 0.3, 0.6 }) do
      local args = { "migrate", "--json", src, "--db", db, "--group", "25", "--quiet" }
      if i > 1 then args[#args + 1] = "--resume" end
      local p = start(args, { env = { QUARRY_TEST_DELAY = "0.005" } })
      sleep(delay)
      p.kill("INT")
      local status, _, err = p.finish()
      if status == 130 then
        interrupted = interrupted + 1
        assert_interrupted(status, err, "migrate")
      else
        assert.are.equal(0, status, err) -- it had finished
      end
    end
    assert.is_true(interrupted > 0)
    local st, _, err = helpers.run_quarry({ "migrate", "--json", src, "--db", db, "--group", "25",
      "--quiet", "--resume" })
    assert.are.equal(0, st, err)
    st, _, err = helpers.run_quarry({ "verify", "--db", db, "--json", src })
    assert.are.equal(0, st, err)
    assert.are.equal(want, (K.digest(db)))
  end)

  it("SIGTERM: exit 143, and the store resumes", function()
    local db = work .. "/db-term"
    local p = start({ "migrate", "--json", src, "--db", db, "--group", "25", "--quiet" },
      { env = { QUARRY_TEST_DELAY = "0.005" } })
    sleep(0.5)
    p.kill("TERM")
    local status, _, err = p.finish()
    assert_interrupted(status, err, "migrate", 143)
    local st, _, rerr = helpers.run_quarry({ "migrate", "--json", src, "--db", db, "--group", "25",
      "--quiet", "--resume" })
    assert.are.equal(0, st, rerr)
    assert.are.equal(want, (K.digest(db)))
  end)
end)

describe("sigs:hold(fn)", function()
  local sys = require("quarry.sys")

  it("keeps a caught signal pending while fn runs, then delivers it to the catcher", function()
    local sigs <close> = sys.catch_signals({ "USR1" })
    local pid = sys.pid()
    local inside, a, b = sigs:hold(function(x, y)
      assert(os.execute("kill -USR1 " .. pid) == true)
      local t = sys.clock() + 0.2
      while sys.clock() < t do end -- a delivered signal would be in the pipe by now
      return sigs:caught(), x, y
    end, 1, 2)
    assert.is_nil(inside)
    assert.are.same({ 1, 2 }, { a, b })
    assert.are.equal("USR1", sigs:caught())
    assert.is_nil(sigs:caught())
    -- an error in fn goes on, with the signals unblocked again
    local ok, err = pcall(sigs.hold, sigs, function() error("boom", 0) end)
    assert.is_false(ok)
    assert.are.equal("boom", err)
    assert(os.execute("kill -USR1 " .. pid) == true)
    local t = sys.clock() + 5
    local got
    repeat got = sigs:caught() until got or sys.clock() > t
    assert.are.equal("USR1", got)
  end)
end)

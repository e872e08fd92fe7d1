-- 37-files: every file a tool writes goes through the core's quarry_file_* (issue 15, items 1-3
-- and the gen/checkpoint messages of item 11): a link planted at a temporary name never redirects
-- the write; an output that is a symbolic link is refused, its target untouched; "-", a FIFO and
-- a character device are streamed to, never replaced; scratch directories are new, mode 0700 and
-- removed at close; `quarry demo` refuses anything that exists; the messages say what to do.
-- Run as root on the test machine, but nothing here depends on root: every path is the spec's own.
local helpers = require("spec.helpers")
local sys = require("quarry.sys")

local q = helpers.shell_quote
local F_AURIUM = "spec/fixtures/auriumchain/chain.json"

local function run(...)
  return helpers.run_quarry({ ... })
end

local function expect(code, ...)
  local got, out, err = run(...)
  assert(got == code, ("quarry %s: exit %s, expected %d\nstdout: %s\nstderr: %s"):format(
    table.concat({ ... }, " "), tostring(got), code, out:sub(1, 2000), err))
  return out, err
end

local function sh(cmd)
  local ok = os.execute(cmd)
  assert(ok == true, "failed: " .. cmd)
end

local ls_all, mode_of = helpers.ls_all, helpers.mode_of

-- A quarry-chain store of 12 blocks and its dump; an auriumchain-node store of the fixture.
local base, dump, db, adb
local function fixture()
  if base then return end
  base = helpers.tmpdir("files")
  dump, db, adb = base .. "/chain.json", base .. "/db", base .. "/adb"
  expect(0, "gen", "--blocks", "12", "--out", dump)
  expect(0, "migrate", "--json", dump, "--db", db)
  expect(0, "migrate", "--format", "auriumchain", "--layout", "auriumchain-node", "--json", F_AURIUM,
    "--db", adb)
end

-- Every name a writer might predictably use beside out.
local function predictable_names(out)
  local dir, name = out:match("^(.*)/([^/]*)$")
  return { out .. ".tmp", out .. ".tmp-000000", out .. ".tmp-XXXXXX", out .. ".00000000.tmp",
    out .. ".new", out .. ".part", out .. "~", dir .. "/." .. name .. ".tmp", dir .. "/" .. name .. ".swp",
    out .. ".lz4.tmp" }
end

-- The ways a tool writes a dump: { label, args to write to OUT (a function of out), expected bytes }
-- Each describe's teardown: its temporary directories, and the fixture with them.
local function cleanup()
  helpers.cleanup()
  base = nil
end

local function writers()
  fixture()
  return {
    { "gen --out", function(out) return { "gen", "--blocks", "12", "--out", out } end,
      helpers.read_file(dump) },
    { "export --json (json.writer)", function(out) return { "export", "--db", db, "--json", out } end,
      helpers.read_file(dump) },
    { "export --json (the auriumchain writer)", function(out)
      return { "export", "--db", adb, "--layout", "auriumchain-node", "--json", out }
    end, helpers.read_file(F_AURIUM) },
  }
end

describe("outputs: a file a tool writes", function()
  teardown(cleanup)

  it("is never redirected by a symbolic link planted at a temporary name", function()
    for _, w in ipairs(writers()) do
      local dir = helpers.tmpdir("plant")
      local out, victim = dir .. "/out.json", dir .. "/victim"
      helpers.write_file(victim, "victim's own bytes\n")
      local links = predictable_names(out)
      for _, l in ipairs(links) do sh("ln -s " .. q(victim) .. " " .. q(l)) end
      expect(0, table.unpack(w[2](out)))
      assert.are.equal("victim's own bytes\n", helpers.read_file(victim), w[1] .. ": the link's target was written")
      assert.are.equal("file", sys.file_kind(out), w[1] .. ": the output is not a regular file")
      assert(helpers.read_file(out) == w[3], w[1] .. ": the output differs from the source")
      for _, l in ipairs(links) do
        assert.are.equal("link", sys.file_kind(l), w[1] .. ": " .. l .. " was replaced")
      end
      -- nothing left beside the output: the links, the victim and the output only
      assert.are.equal(#links + 2, #ls_all(dir), w[1] .. ": a stray file: " .. table.concat(ls_all(dir), " "))
    end
  end)

  it("that is a symbolic link is refused, naming it, and its target is untouched", function()
    local cases = writers()
    fixture()
    cases[#cases + 1] = { "stats --textfile", function(out) return { "stats", "--db", db, "--textfile", out } end }
    for _, w in ipairs(cases) do
      local dir = helpers.tmpdir("link")
      local out, victim = dir .. "/out.json", dir .. "/victim"
      helpers.write_file(victim, "victim\n")
      sh("ln -s " .. q(victim) .. " " .. q(out))
      local _, err = expect(2, table.unpack(w[2](out)))
      assert(err:find(out .. " is a symbolic link", 1, true), w[1] .. ": " .. err)
      assert(err:find("give the link's target explicitly", 1, true), w[1] .. ": " .. err)
      assert.are.equal("link", sys.file_kind(out), w[1] .. ": the link was replaced")
      assert.are.equal("victim\n", helpers.read_file(victim), w[1] .. ": the link's target was written")
      assert.are.equal(2, #ls_all(dir), w[1] .. ": a stray file: " .. table.concat(ls_all(dir), " "))
      -- a dangling link too: nothing is created at its target
      local dangling = dir .. "/dangling"
      sh("ln -s " .. q(dir .. "/nowhere") .. " " .. q(dangling))
      expect(2, table.unpack(w[2](dangling)))
      assert.is_nil(sys.file_kind(dir .. "/nowhere"), w[1] .. ": created through a dangling link")
    end
  end)

  it("that is a directory is refused", function()
    fixture()
    local _, err = expect(2, "gen", "--blocks", "3", "--out", base)
    assert(err:find(base .. " is a directory", 1, true), err)
  end)

  it("/dev/stdout and - stream to standard output and /dev/stdout stays what it was", function()
    for _, w in ipairs(writers()) do
      for _, target in ipairs({ "/dev/stdout", "-" }) do
        local kind = sys.file_kind("/dev/stdout")
        local out, err = expect(0, table.unpack(w[2](target)))
        assert(out == w[3], ("%s %s: stdout differs from the source (%d bytes)"):format(w[1], target, #out))
        assert(err:find("streamed", 1, true), w[1] .. ": the summary is not on stderr: " .. err)
        assert.are.equal(kind, sys.file_kind("/dev/stdout"), "/dev/stdout was replaced")
      end
    end
    assert.are.equal("link", sys.file_kind("/dev/stdout"))
    expect(0, "export", "--db", db, "--json", "/dev/null")
    assert.are.equal("char", sys.file_kind("/dev/null"), "/dev/null was replaced")
  end)

  it("that is a FIFO is streamed to (with a reader) and stays a FIFO", function()
    for _, w in ipairs(writers()) do
      local dir = helpers.tmpdir("fifo")
      local fifo, got = dir .. "/fifo", dir .. "/got"
      sh("mkfifo " .. q(fifo))
      local cmd = table.concat(w[2](fifo), "' '")
      sh(("timeout 60 cat %s > %s & timeout 60 %s '%s' >/dev/null 2>&1; rc=$?; wait; exit $rc"):format(
        q(fifo), q(got), q(helpers.quarry_bin), cmd))
      assert.are.equal("fifo", sys.file_kind(fifo), w[1] .. ": the FIFO was replaced")
      assert(helpers.read_file(got) == w[3], w[1] .. ": the reader did not get the dump")
      assert.are.same({ "fifo", "got" }, ls_all(dir))
    end
  end)

  it("in a directory that does not exist: a clear message, no Lua position", function()
    fixture()
    local out = base .. "/nodir/x.json"
    local _, err = expect(1, "gen", "--blocks", "3", "--out", out)
    assert(err:find("the directory " .. base .. "/nodir does not exist", 1, true), err)
    assert.is_nil(err:find("%.lua:%d+:"), err)
    assert.is_nil(err:find("json.writer", 1, true), err)
  end)
end)

describe("sys.output", function()
  teardown(cleanup)

  it("replaces a regular file on close, leaves it as it was on abort, streams to a FIFO", function()
    local dir = helpers.tmpdir("output")
    local path = dir .. "/f"
    helpers.write_file(path, "old")
    local o = sys.output(path)
    assert.is_false(o:streaming())
    o:write("new ", "bytes")
    assert.are.equal("old", helpers.read_file(path))
    o:close()
    assert.are.equal("new bytes", helpers.read_file(path))
    o = sys.output(path)
    o:write("dropped")
    o:abort()
    assert.are.equal("new bytes", helpers.read_file(path))
    assert.are.same({ "f" }, ls_all(dir))
    local o2 = sys.output("/dev/null")
    assert.is_true(o2:streaming())
    o2:write(("x"):rep(200000))
    o2:close()
  end)

  it("written to after close: a Closed error that names the output once", function()
    local dir = helpers.tmpdir("output")
    local o = sys.output(dir .. "/f")
    o:close()
    local ok, e = pcall(o.write, o, "late")
    assert.is_false(ok)
    assert.are.equal("Closed", e.code)
    local text = tostring(e)
    assert.matches("output: closed", text, 1, true)
    local _, n = text:gsub("output:", "")
    assert.are.equal(1, n, text)
  end)
end)

describe("scratch directories", function()
  teardown(cleanup)

  it("sys.mkdtemp makes a new directory, mode 0700, under $TMPDIR", function()
    local a, b = sys.mkdtemp(), sys.mkdtemp("quarry-x")
    assert.are_not.equal(a, b)
    assert.are.equal("700", mode_of(a))
    assert.are.equal("700", mode_of(b))
    assert(b:match("/quarry%-x%.%w%w%w%w%w%w$"), b)
    helpers.rmrf(a)
    helpers.rmrf(b)
    local tmp = helpers.tmpdir("tmpdir")
    local ok, out, err = helpers.run_lua([[io.write(require("quarry.sys").mkdtemp("p"))]], { TMPDIR = tmp })
    assert(ok, err)
    assert.are.equal(tmp .. "/p.", out:sub(1, #tmp + 3))
    helpers.raises_code("InvalidArgument", "must not contain", sys.mkdtemp, "a/b")
  end)

  it("of secondary instances (open_reader, stats) are mode 0700 and removed at close", function()
    fixture()
    local tmp = helpers.tmpdir("scratch")
    local ok, out, err = helpers.run_lua(([[
      local chain = require("quarry.chain")
      local function entries()
        local p = io.popen("ls -A %s") local t = p:read("a") p:close() return t
      end
      local store = chain.open_reader(%q, { secondary = true })
      local mode = io.popen("stat -c %%a " .. store.scratch):read("l")
      assert(store.scratch:sub(1, #%q) == %q, store.scratch)
      io.write(mode, " ", entries():gsub("%%s+", ""), " ")
      store:close()
      io.write("[", entries(), "]")
    ]]):format(q(tmp), db, tmp, tmp), { TMPDIR = tmp })
    assert(ok, err)
    assert(out:match("^700 quarry%-secondary%.%w+ %[%]$"), out)
    -- stats opens its secondary in a scratch directory of $TMPDIR: nothing is left there
    local status, _, serr = helpers.run_quarry({ "stats", "--db", db }, { env = { TMPDIR = tmp } })
    assert.are.equal(0, status, serr)
    assert.are.same({}, ls_all(tmp))
  end)
end)

describe("quarry demo --db", function()
  teardown(cleanup)

  it("refuses a chain store, a directory, a file and a link, and leaves them as they were", function()
    fixture()
    local dir = helpers.tmpdir("demo")
    helpers.write_file(dir .. "/file", "mine")
    sh("ln -s " .. q(dir .. "/nowhere") .. " " .. q(dir .. "/link"))
    local before = ls_all(db)
    for _, target in ipairs({ db, dir, dir .. "/file", dir .. "/link" }) do
      local _, err = expect(2, "demo", "--db", target)
      assert(err:find(target .. " already exists", 1, true), err)
    end
    assert.are.same(before, ls_all(db))
    expect(0, "verify", "--db", db, "--json", dump)
    assert.are.equal("mine", helpers.read_file(dir .. "/file"))
    assert.is_nil(sys.file_kind(dir .. "/nowhere"))
    expect(0, "demo", "--db", dir .. "/new")
  end)
end)

describe("messages", function()
  teardown(cleanup)

  it("gen --blocks -5 / 0: --blocks must be a positive integer (exit 2)", function()
    local dir = helpers.tmpdir("msg")
    for _, args in ipairs({ { "--blocks", "-5" }, { "--blocks=-5" }, { "--blocks", "0" } }) do
      local n = args[2] or args[1]:match("=(.*)")
      args = { "gen", table.unpack(args) }
      args[#args + 1], args[#args + 2] = "--out", dir .. "/x.json"
      local _, err = expect(2, table.unpack(args))
      assert(err:find("--blocks must be a positive integer, got " .. n, 1, true), err)
      assert.is_nil(err:find("Did you mean", 1, true), err)
    end
    assert.are.same({}, ls_all(dir))
  end)
end)

describe("quarry checkpoint --to DIR beside a stale or planted DIR.tmp", function()
  teardown(cleanup)

  it("works, and neither a stale DIR.tmp nor a link's target directory is touched", function()
    fixture()
    local dir = helpers.tmpdir("cp")
    -- a stale staging directory with someone's file in it
    sh("mkdir " .. q(dir .. "/cpx.tmp"))
    helpers.write_file(dir .. "/cpx.tmp/mine", "keep")
    -- a link planted at the staging name of another target, to a directory with a file
    sh("mkdir " .. q(dir .. "/victim"))
    helpers.write_file(dir .. "/victim/data", "precious")
    sh("ln -s " .. q(dir .. "/victim") .. " " .. q(dir .. "/cpy.tmp"))
    -- a file at the staging name of a third
    helpers.write_file(dir .. "/cpz.tmp", "x")
    for _, t in ipairs({ "cpx", "cpy", "cpz" }) do
      local out = expect(0, "checkpoint", "--db", db, "--to", dir .. "/" .. t)
      assert(out:find("checkpoint of", 1, true), out)
      expect(0, "verify", "--db", dir .. "/" .. t, "--json", dump)
    end
    assert.are.equal("keep", helpers.read_file(dir .. "/cpx.tmp/mine"))
    assert.are.equal("precious", helpers.read_file(dir .. "/victim/data"))
    assert.are.equal("link", sys.file_kind(dir .. "/cpy.tmp"))
    assert.are.equal("x", helpers.read_file(dir .. "/cpz.tmp"))
    assert.are.same({ "cpx", "cpx.tmp", "cpy", "cpy.tmp", "cpz", "cpz.tmp", "victim" }, ls_all(dir))
    local _, err = expect(1, "checkpoint", "--db", db, "--to", dir .. "/cpx")
    assert(err:find(dir .. "/cpx already exists", 1, true), err)
  end)
end)

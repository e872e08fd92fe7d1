-- 38-pipes: dumps read from `-` (stdin), pipes, /dev/stdin and FIFOs (docs/tools.md, "Inputs"):
-- every container (array, JSON Lines, an object holding the blocks), LZ4 told from the content, a
-- bitcoin-core dump; the store migrated from a pipe has the digest of the same migration from the
-- file; `verify --json -` and `migrate --verify` from a stream (against the digests of what was
-- read); an empty stdin; and `get --raw`, byte-exact with NUL bytes. Each check is paired with
-- a case where it must fail (a different dump, a different block, the default output).
local helpers = require("spec.helpers")
local json = require("quarry.json")
local quarry = require("quarry")

local q = helpers.shell_quote

-- Runs `sh -c "<feed> | quarry <args>"` (feed: a shell command writing the input; nil: no
-- pipe, stdin from /dev/null). Returns status, stdout, stderr.
local function sh(feed, args)
  local dir = helpers.tmpdir("pipe")
  local parts = { q(helpers.quarry_bin) }
  for _, a in ipairs(args) do parts[#parts + 1] = q(a) end
  local cmd = table.concat(parts, " ")
  if feed then cmd = feed .. " | " .. cmd else cmd = cmd .. " </dev/null" end
  local ok, how, code = os.execute(("%s >%s 2>%s"):format(cmd, q(dir .. "/out"), q(dir .. "/err")))
  local status = ok and 0 or (how == "exit" and code or 128 + (code or 0))
  return status, helpers.read_file(dir .. "/out") or "", helpers.read_file(dir .. "/err") or ""
end

local function ok_sh(feed, args)
  local status, out, err = sh(feed, args)
  assert(status == 0, ("%s | quarry %s: exit %d\n%s%s"):format(tostring(feed), table.concat(args, " "),
    status, out, err))
  return out, err
end

local function quarry_ok(args)
  return ok_sh(nil, args)
end

-- The database digest (`quarry digest`'s total line).
local function digest(db)
  local out = quarry_ok({ "digest", "--db", db })
  return assert(out:match("total (%x+)"), out)
end

local function gen(dir, name, seed, more)
  local path = dir .. "/" .. name
  local args = { "gen", "--blocks", "150", "--seed", tostring(seed), "--out", path }
  for _, a in ipairs(more or {}) do args[#args + 1] = a end
  quarry_ok(args)
  return path
end

after_each(function()
  helpers.collect_and_cleanup()
end)

describe("dumps from pipes", function()
  it("migrates every container from `-`, /dev/stdin and LZ4 content, into the file's digest", function()
    local dir = helpers.tmpdir("pipes")
    local obj = gen(dir, "obj.json", 7)
    local arr = gen(dir, "arr.json", 7, { "--format", "array" })
    local lines = gen(dir, "lines.jsonl", 7)
    -- LZ4 content without an .lz4 name: json.lz4_compress's frame, and the lz4 command's
    helpers.write_file(dir .. "/obj.bin", json.lz4_compress(helpers.read_file(obj)))
    local lz4_cmd = os.execute("command -v lz4 >/dev/null 2>&1") == true
    local cases = {
      { "object", obj, "cat " .. q(obj), "-" },
      { "array", arr, "cat " .. q(arr), "-" },
      { "jsonl", lines, "cat " .. q(lines), "/dev/stdin" },
      { "lz4_compress", obj, "cat " .. q(dir .. "/obj.bin"), "-" },
    }
    if lz4_cmd then cases[#cases + 1] = { "lz4 -c", arr, "lz4 -c " .. q(arr), "-" } end
    for i, c in ipairs(cases) do
      local name, file, feed, arg = c[1], c[2], c[3], c[4]
      local from_file, from_pipe = dir .. "/f" .. i, dir .. "/p" .. i
      quarry_ok({ "migrate", "--json", file, "--db", from_file })
      local out = ok_sh(feed, { "migrate", "--json", arg, "--db", from_pipe })
      assert.matches("migrated 150 blocks (0 already there) from " .. (arg == "-" and "stdin" or arg),
        out, 1, true)
      assert.matches("read from a stream", out, 1, true)
      assert.equal(digest(from_file), digest(from_pipe), name)
    end
    -- the digest tells stores apart: another chain, or the same blocks in another container
    quarry_ok({ "migrate", "--json", gen(dir, "other.json", 8), "--db", dir .. "/other" })
    assert.are_not.equal(digest(dir .. "/f1"), digest(dir .. "/other"))
    assert.are_not.equal(digest(dir .. "/f1"), digest(dir .. "/f2"))
  end)

  it("reads a FIFO once, as it comes", function()
    local dir = helpers.tmpdir("pipes")
    local lines = gen(dir, "lines.jsonl", 7)
    quarry_ok({ "migrate", "--json", lines, "--db", dir .. "/f" })
    assert(os.execute("mkfifo " .. q(dir .. "/fifo")))
    -- the writer waits for the reader: quarry opens the FIFO once
    assert(os.execute(("(cat %s > %s &)"):format(q(lines), q(dir .. "/fifo"))))
    local out = quarry_ok({ "migrate", "--json", dir .. "/fifo", "--db", dir .. "/p", "--verify" })
    assert.matches("every block equals the block read from the stream", out, 1, true)
    assert.equal(digest(dir .. "/f"), digest(dir .. "/p"))
  end)

  it("verifies against `-`, and finds another dump's blocks different", function()
    local dir = helpers.tmpdir("pipes")
    local obj = gen(dir, "obj.json", 7)
    quarry_ok({ "migrate", "--json", obj, "--db", dir .. "/db" })
    local out = ok_sh("cat " .. q(obj), { "verify", "--db", dir .. "/db", "--json", "-" })
    assert.matches("against stdin", out, 1, true)
    assert.matches("ok   source", out, 1, true)
    local status, out2 = sh("cat " .. q(gen(dir, "other.json", 8)), { "verify", "--db", dir .. "/db", "--json", "-" })
    assert.equal(1, status)
    assert.matches("FAIL source", out2, 1, true)
  end)

  it("migrate --verify from a pipe compares the store with the digests of what it read", function()
    local dir = helpers.tmpdir("pipes")
    local obj = gen(dir, "obj.json", 7)
    local out = ok_sh("cat " .. q(obj), { "migrate", "--json", "-", "--db", dir .. "/db", "--verify",
      "--report", "json" })
    local r = json.decode(out)
    assert.is_true(r.verify.ok)
    assert.is_true(r.verify.checks.source.ok)
    assert.is_true(r.stream)
    -- the same record, over a dump with one block changed, finds that block (and only it)
    local migrate = require("quarry.chain.migrate")
    local chain = require("quarry.chain")
    local function verify_with(change)
      local seen = migrate._new_seen()
      local reader = migrate.open_source(obj)
      for rec in reader:each() do
        if rec.index == 5 then change(rec) end
        migrate._see(seen, rec)
      end
      local store = chain.open_reader(dir .. "/db")
      local rep = store:verify({ source = migrate._seen_source(seen) })
      store:close()
      return rep
    end
    assert.is_true(verify_with(function() end).ok)
    local rep = verify_with(function(rec) rec.transactions[1].outputs[1].address = "someone else" end)
    assert.is_false(rep.ok)
    assert.equal(1, rep.checks.source.failures)
    assert.matches("block 5: the stored block differs from the block read from the stream",
      rep.checks.source.first[1], 1, true)
  end)

  it("migrates a bitcoin-core dump from a pipe, array and JSON Lines", function()
    local fx = require("spec.bitcoin_fixture")
    local chain = fx.generate({ seed = 38, blocks = 25 })
    local dir = helpers.tmpdir("pipes")
    for _, kind in ipairs({ "array", "jsonl" }) do
      local file = dir .. "/btc." .. (kind == "array" and "json" or "jsonl")
      helpers.write_file(file, chain[kind])
      quarry_ok({ "migrate", "--format", "bitcoin-core", "--json", file, "--db", dir .. "/f" .. kind })
      local out = ok_sh("cat " .. q(file), { "migrate", "--format", "bitcoin-core", "--json", "-",
        "--db", dir .. "/p" .. kind, "--verify" })
      assert.matches("integrity     ok", out, 1, true)
      assert.matches("utxos         " .. chain.expect.utxos .. "\n", out, 1, true)
      assert.equal(digest(dir .. "/f" .. kind), digest(dir .. "/p" .. kind))
    end
  end)

  it("migrates an auriumchain object from a pipe into the node's layout", function()
    local dir = helpers.tmpdir("pipes")
    local src = "spec/fixtures/auriumchain/chain.json"
    local doc = json.encode(json.object({ chain = json.decode(helpers.read_file(src)), difficulty = 2 }))
    helpers.write_file(dir .. "/wrapped.json", doc)
    for _, file in ipairs({ src, dir .. "/wrapped.json" }) do
      local out = ok_sh("cat " .. q(file), { "migrate", "--format", "auriumchain", "--layout",
        "auriumchain-node", "--json", "-", "--db", dir .. "/p", "--verify" })
      assert.matches("migrated 30 blocks", out, 1, true)
      assert.matches("integrity     ok", out, 1, true)
      helpers.rmrf(dir .. "/p")
    end
  end)

  it("calls an empty stdin an empty dump, and leaves nothing behind", function()
    local dir = helpers.tmpdir("pipes")
    for _, feed in ipairs({ "printf ''", false }) do
      local status, _, err = sh(feed or nil, { "migrate", "--json", "-", "--db", dir .. "/db" })
      assert.equal(1, status)
      assert.matches("quarry migrate: stdin holds no blocks (the input is empty): nothing to migrate", err, 1, true)
      assert.is_false(helpers.exists(dir .. "/db"))
    end
    local status, _, err = sh("printf '[]'", { "migrate", "--json", "-", "--db", dir .. "/db" })
    assert.equal(1, status)
    assert.matches("stdin holds no blocks (an empty array of blocks)", err, 1, true)
  end)

  it("names a stream whose first value is too large to keep", function()
    local formats = require("quarry.chain.formats")
    local text = '{"index": 0, "pad": "' .. string.rep("x", 5000) .. '"}\n{"index": 1}\n'
    local function input()
      local pos = 1
      return { path = "-", name = "stdin", stream = true,
        read = function()
          if pos > #text then return nil end
          local s = text:sub(pos, pos + 999)
          pos = pos + 1000
          return s
        end,
        rewind = function() return false end, close = function() end }
    end
    local fmt = formats.load("quarry")
    -- kept: the JSON Lines are read again from what was kept
    local r = formats.open_dump(fmt, input())
    assert.equal(0, r:next().index)
    assert.equal(1, r:next().index)
    assert.is_nil(r:next())
    assert.equal("jsonl", r:format())
    r:close()
    local limit = formats.PROBE_LIMIT
    formats.PROBE_LIMIT = 2000
    local ok, err = pcall(formats.open_dump, fmt, input())
    formats.PROBE_LIMIT = limit
    assert.is_false(ok)
    assert.matches("cannot tell where the blocks are in stdin", tostring(err), 1, true)
  end)
end)

describe("get --raw", function()
  it("writes the exact bytes of a binary value, nothing added", function()
    local dir = helpers.tmpdir("raw")
    local value = "\0bin\0ary\n\255\0" .. string.rep("\1\0", 100)
    local db = quarry.open(dir .. "/db", { create_if_missing = true })
    db:put("k", value)
    db:put("empty", "")
    db:close()
    quarry_ok({ "get", "--db", dir .. "/db", "--raw", "k" })
    local status = sh(nil, { "get", "--db", dir .. "/db", "--raw", "k" })
    assert.equal(0, status)
    -- through a pipe into a file
    local out_file = dir .. "/value.bin"
    local cmd = ("%s get --db %s --raw k | cat > %s"):format(q(helpers.quarry_bin), q(dir .. "/db"), q(out_file))
    assert(os.execute(cmd))
    assert.equal(value, helpers.read_file(out_file))
    assert.equal(#value, #helpers.read_file(out_file))
    local out = quarry_ok({ "get", "--db", dir .. "/db", "--raw", "empty" })
    assert.equal("", out)
    -- the default output is not the bytes (ldb's line, with its newline)
    local plain = quarry_ok({ "get", "--db", dir .. "/db", "k" })
    assert.are_not.equal(value, plain)
    -- a missing key: nothing on stdout, exit 1; two keys or --json: exit 2
    local st, o, e = sh(nil, { "get", "--db", dir .. "/db", "--raw", "nope" })
    assert.equal(1, st)
    assert.equal("", o)
    assert.matches("not found", e, 1, true)
    assert.equal(2, (sh(nil, { "get", "--db", dir .. "/db", "--raw", "k", "empty" })))
    assert.equal(2, (sh(nil, { "get", "--db", dir .. "/db", "--raw", "--json", "k" })))
  end)
end)

-- spec/42-ldb_compat_spec.lua: Quarry and RocksDB's own tools on the same databases: quarry
-- scan/get print what `ldb scan/get` print (same keys, order, bounds, hex forms, exit status);
-- a database Quarry wrote passes `ldb checkconsistency` and `sst_dump --command=verify`; databases
-- written by `ldb` and `db_bench` open in quarry's commands and shell with all their families.
local helpers = require("spec.helpers")
local quarry = require("quarry")

local pack = string.pack
local q = helpers.shell_quote

local function find_tool(...)
  for _, name in ipairs({ ... }) do
    local p = io.popen("command -v " .. name .. " 2>/dev/null")
    local path = p:read("l")
    p:close()
    if path and path ~= "" then return path end
  end
  return nil
end

-- Debian's rocksdb-tools installs ldb; other builds name it rocksdb_ldb.
local LDB = find_tool("ldb", "rocksdb_ldb")
local SST_DUMP = find_tool("sst_dump", "rocksdb_sst_dump")
local DB_BENCH = find_tool("db_bench", "rocksdb_db_bench")

-- Runs program with args (a list, each quoted). Returns exit status, stdout, stderr.
local function ldb(args) return helpers.run(LDB, args) end
local function quarry_cmd(args, stdin) return helpers.run_quarry(args, { stdin = stdin }) end

-- The same request to both tools: ldb <global options> <command> <options> and
-- quarry <command> <global options> <options>. Asserts equal output and exit status.
local function same(command, global, options)
  local largs, qargs = {}, { command }
  for _, a in ipairs(global) do
    largs[#largs + 1] = a
    qargs[#qargs + 1] = a
  end
  largs[#largs + 1] = command
  for _, a in ipairs(options or {}) do
    largs[#largs + 1] = a
    qargs[#qargs + 1] = a
  end
  local lst, lout, lerr = ldb(largs)
  local qst, qout, qerr = quarry_cmd(qargs)
  local what = table.concat(largs, " ")
  assert.are.equal(lout, qout, "output of " .. what)
  assert.are.equal(lst == 0, qst == 0, ("exit status of %s: ldb %d (%s), quarry %d (%s)"):format(what,
    lst, lerr, qst, qerr))
  return lout
end

local lines = helpers.lines

local function sst_files(dir)
  local p = io.popen("ls " .. q(dir))
  local n = 0
  for name in p:lines() do
    if name:match("%.sst$") then n = n + 1 end
  end
  p:close()
  return n
end

-- A database written by Quarry: text pairs in "default", binary pairs with NUL bytes in "bin",
-- 8-byte heights (NULs in the keys only) in "blocks"; flushed to SST files, with more writes left
-- in the WAL. ldb prints raw keys and values as C strings, cut at the first NUL byte (quarry
-- prints every byte), so raw output is compared only where there are no NULs.
local function quarry_db()
  local dir = helpers.tmpdir("ldb") .. "/db"
  local db <close> = quarry.open(dir, { column_families = { "bin", "blocks" } })
  for i = 1, 300 do db:put(("key%04d"):format(i * 3), ("value %d"):format(i)) end
  db:put("a", "first")
  db:put("zz", "last")
  db:put("with space", "v with space")
  local bin, blocks = db:cf("bin"), db:cf("blocks")
  for i = 0, 255, 5 do bin:put(string.char(i, 255 - i, 0, i), string.char(0, i, 10, 13)) end
  for h = 1, 500 do blocks:put(pack(">I8", h), ("block %d"):format(h) .. ("\7"):rep(h % 7)) end
  db:flush()
  db:flush(bin)
  db:flush(blocks)
  db:compact(blocks)
  for i = 301, 320 do db:put(("key%04d"):format(i * 3), ("late %d"):format(i)) end -- WAL only
  return dir
end

describe("quarry scan/get against ldb", function()
  if not LDB then
    it("needs ldb (Debian rocksdb-tools)", function() pending("ldb is not installed") end)
    return
  end

  local dir
  setup(function() dir = quarry_db() end)
  teardown(helpers.cleanup)

  it("scan: the same pairs in the same order, raw and in every hex form", function()
    local out = same("scan", { "--db=" .. dir })
    assert.are.equal(323, #lines(out))
    assert.are.equal("a : first", lines(out)[1])
    for _, flag in ipairs({ "--hex", "--key_hex", "--value_hex" }) do
      same("scan", { "--db=" .. dir, flag })
    end
    same("scan", { "--db=" .. dir, "--hex", "--column_family=bin" })
    same("scan", { "--db=" .. dir, "--hex", "--column_family=blocks" })
    same("scan", { "--db=" .. dir, "--key_hex", "--column_family=blocks" })
    assert.are.equal(52, #lines(same("scan", { "--db=" .. dir, "--hex", "--column_family=bin" })))
  end)

  it("scan bounds: --from inclusive, --to exclusive, whether or not the keys exist", function()
    local cases = {
      { "--from=key0300" }, { "--to=key0300" }, { "--from=key0300", "--to=key0600" },
      { "--from=key0301", "--to=key0599" }, { "--from=key0600", "--to=key0300" },
      { "--from=key0300", "--to=key0300" }, { "--from=" }, { "--from=zzz" }, { "--to=a" },
      { "--from=a", "--to=b" }, { "--from=with", "--to=zz" },
    }
    for _, c in ipairs(cases) do same("scan", { "--db=" .. dir }, c) end
    local out = same("scan", { "--db=" .. dir }, { "--from=key0300", "--to=key0600" })
    assert.are.equal(100, #lines(out))
    assert.are.equal("key0300 : value 100", lines(out)[1])
    assert.are.equal("key0597 : value 199", lines(out)[100])
  end)

  it("scan bounds in hex on binary keys", function()
    local global = { "--db=" .. dir, "--column_family=blocks", "--hex" }
    same("scan", global, { "--from=0x0000000000000064", "--to=0x00000000000000C8" })
    same("scan", global, { "--from=0x0000000000000064", "--to=0x00000000000000c8" })
    same("scan", global, { "--from=0x00000000000000", "--to=0x0000000000000001" })
    same("scan", global, { "--from=0x01" })
    same("scan", { "--db=" .. dir, "--column_family=bin", "--hex" }, { "--from=0x1E", "--to=0x80" })
    local out = same("scan", global, { "--from=0x0000000000000064", "--to=0x00000000000000C8" })
    assert.are.equal(100, #lines(out))
  end)

  it("scan --max_keys and --no_value", function()
    for _, n in ipairs({ 1, 2, 7, 400 }) do
      same("scan", { "--db=" .. dir }, { "--max_keys=" .. n })
      same("scan", { "--db=" .. dir, "--hex", "--column_family=blocks" }, { "--max_keys=" .. n, "--from=0x00000000000000FF" })
    end
    local out = same("scan", { "--db=" .. dir }, { "--no_value", "--max_keys=3" })
    assert.are.same({ "a", "key0003", "key0006" }, lines(out))
    same("scan", { "--db=" .. dir, "--hex", "--column_family=bin" }, { "--no_value" })
  end)

  it("get: the value, in hex, and status 1 for a missing key", function()
    assert.are.equal("value 100\n", same("get", { "--db=" .. dir }, { "key0300" }))
    same("get", { "--db=" .. dir }, { "with space" })
    same("get", { "--db=" .. dir }, { "key0301" })
    same("get", { "--db=" .. dir, "--hex" }, { "0x6B657930333030" })
    same("get", { "--db=" .. dir, "--value_hex" }, { "key0960" })
    same("get", { "--db=" .. dir, "--hex", "--column_family=blocks" }, { "0x0000000000000007" })
    same("get", { "--db=" .. dir, "--key_hex", "--column_family=blocks" }, { "0x0000000000000007" })
    same("get", { "--db=" .. dir, "--column_family=blocks", "--hex" }, { "0x0000000000000000" })
    local st = quarry_cmd({ "get", "--db=" .. dir, "key0301" })
    assert.are.equal(1, st)
  end)

  it("prints every byte where ldb cuts raw output at a NUL (documented difference)", function()
    local _, lout = ldb({ "--db=" .. dir, "--column_family=bin", "--value_hex", "scan", "--max_keys=1" })
    local _, qout = quarry_cmd({ "scan", "--db=" .. dir, "--column_family=bin", "--value_hex", "--max_keys=1" })
    assert.are.equal(" : 0x00000A0D\n", lout, "ldb stops the key at its first byte, a NUL")
    assert.are.equal(string.char(0, 255, 0, 0) .. " : 0x00000A0D\n", qout)
  end)

  it("lists the same column families", function()
    local _, out = ldb({ "--db=" .. dir, "list_column_families" })
    assert.matches("{default, bin, blocks}", out, 1, true)
    local _, qout = quarry_cmd({ "cfs", "--db", dir })
    assert.are.equal("default\nbin\nblocks\n", qout)
  end)
end)

describe("a database written by Quarry passes RocksDB's checks", function()
  teardown(helpers.cleanup)

  local function check(dir)
    assert.is_true(sst_files(dir) > 0, "the database has SST files")
    if LDB then
      local st, out, err = ldb({ "--db=" .. dir, "checkconsistency" })
      assert.are.equal(0, st, err)
      assert.are.equal("OK\n", out)
    end
    if SST_DUMP then
      local st, out, err = helpers.run(SST_DUMP, { "--file=" .. dir, "--command=verify" })
      assert.are.equal(0, st, err)
      local processed, ok = 0, 0
      for l in out:gmatch("[^\n]+") do
        if l:match("^Process ") then processed = processed + 1 end
        if l == "The file is ok" then ok = ok + 1 end
      end
      assert.are.equal(sst_files(dir), processed, out)
      assert.are.equal(processed, ok, out)
      assert.is_nil(out:find("Corruption", 1, true))
    end
  end

  it("ldb checkconsistency and sst_dump --command=verify", function()
    if not (LDB or SST_DUMP) then return pending("neither ldb nor sst_dump is installed") end
    check(quarry_db())
  end)

  it("also a chain store written by quarry migrate", function()
    local _, help = quarry_cmd({ "--help" })
    if not (help:find("\n  gen ", 1, true) and help:find("\n  migrate ", 1, true)) then
      return pending("quarry gen/migrate are not installed")
    end
    local work = helpers.tmpdir("chain")
    local st, _, err = quarry_cmd({ "gen", "--blocks", "200", "--out", work .. "/chain.json" })
    assert.are.equal(0, st, err)
    st, _, err = quarry_cmd({ "migrate", "--json", work .. "/chain.json", "--db", work .. "/db", "--quiet" })
    assert.are.equal(0, st, err)
    check(work .. "/db")
    if LDB then
      same("scan", { "--db=" .. work .. "/db", "--column_family=blocks", "--hex" }, { "--max_keys=5" })
      same("scan", { "--db=" .. work .. "/db", "--column_family=hashes", "--hex" })
      same("scan", { "--db=" .. work .. "/db", "--column_family=utxo", "--hex" }, { "--max_keys=20" })
      local cst, cout = quarry_cmd({ "count", "--db", work .. "/db", "--cf", "blocks" })
      assert.are.equal(0, cst)
      assert.are.equal("200\n", cout)
    end
  end)
end)

describe("databases written by RocksDB's tools open in quarry", function()
  teardown(helpers.cleanup)

  it("a database written by ldb, with its families", function()
    if not LDB then return pending("ldb is not installed") end
    local dir = helpers.tmpdir("byldb") .. "/db"
    assert.are.equal(0, (ldb({ "--db=" .. dir, "--create_if_missing", "put", "k", "v" })))
    assert.are.equal(0, (ldb({ "--db=" .. dir, "batchput", "a", "1", "b", "2" })))
    assert.are.equal(0, (ldb({ "--db=" .. dir, "create_column_family", "extra" })))
    assert.are.equal(0, (ldb({ "--db=" .. dir, "--column_family=extra", "put", "x", "y" })))
    assert.are.equal(0, (ldb({ "--db=" .. dir, "--column_family=extra", "--hex", "put", "0x00FF", "0x0102" })))

    local st, out = quarry_cmd({ "cfs", "--db", dir })
    assert.are.equal(0, st)
    assert.are.equal("default\nextra\n", out)
    same("scan", { "--db=" .. dir })
    same("scan", { "--db=" .. dir, "--column_family=extra", "--hex" })
    same("get", { "--db=" .. dir, "--column_family=extra" }, { "x" })
    st, out = quarry_cmd({ "count", "--db", dir, "--all" })
    assert.are.equal(0, st)
    assert.are.same({ "family   keys", "default     3", "extra       2" }, lines(out))

    local err
    st, out, err = quarry_cmd({ "shell", "--db", dir },
      '.cfs\ndb:get("k")\ndb:cf("extra"):get("x")\n.scan extra\n')
    assert.are.equal(0, st, err)
    assert.matches("^family%s+keys %(est%.%)%s+sst%s+memtables\ndefault%s", out)
    assert.matches("\nextra%s", out)
    assert.matches('\n"v"\n"y"\n0x00ff %(2 bytes%) : 0x0102 %(2 bytes%)\n"x" : "y"\n$', out)
  end)

  it("a database written by db_bench fillseq", function()
    if not DB_BENCH then return pending("db_bench is not installed") end
    local dir = helpers.tmpdir("bench") .. "/db"
    local st, _, err = helpers.run(DB_BENCH, { "--benchmarks=fillseq", "--num=1000", "--db=" .. dir })
    assert.are.equal(0, st, err)
    local out
    st, out = quarry_cmd({ "count", "--db", dir })
    assert.are.equal(0, st)
    assert.are.equal("1000\n", out)
    st, out = quarry_cmd({ "cfs", "--db", dir })
    assert.are.equal(0, st)
    assert.are.equal("default\n", out)
    if LDB then
      same("scan", { "--db=" .. dir, "--hex" })
      same("scan", { "--db=" .. dir, "--key_hex" }, { "--max_keys=10", "--no_value" })
    end
    st, out, err = quarry_cmd({ "shell", "--db", dir }, ".count\ndb:mode()\n")
    assert.are.equal(0, st, err)
    assert.are.equal('1000\n"read_only"\n', out)
  end)
end)

-- 22-verify: quarry verify finds what is wrong in a chain store (a tampered block, a missing index
-- entry, a wrong UTXO, a wrong supply, a block that differs from the source), exits 1 naming the
-- check and the first offending keys, exits 0 with a summary otherwise; it runs against a live
-- writer.
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")
local json = require("quarry.json")
local quarry = require("quarry")
local chain = require("quarry.chain")
local codec = require("quarry.chain.codec")

local base_dir, source, pristine

-- A fresh copy of the migrated database.
local function copy() return ch.copy_db(pristine, "vcopy") end

-- Runs fn(db, cf) on the database at path opened read-write through the quarry module.
local function tamper(path, fn)
  local db <close> = quarry.open(path)
  local cfs = {}
  for _, n in ipairs(chain.FAMILIES) do cfs[n] = db:cf(n) end
  fn(db, cfs)
end

local function verify_fails(path, check, pattern, more)
  local args = { "verify", "--db", path }
  for _, a in ipairs(more or {}) do args[#args + 1] = a end
  local ok, code, out, err = ch.quarry(args)
  assert.is_false(ok, "verify passed:\n" .. out)
  assert.equal(1, code, err)
  assert.matches("FAIL " .. check, out, 1, true)
  assert.matches(pattern, out, 1, true)
  assert.matches("FAILED", out, 1, true)
  return out
end

-- Whether a writer's temporary file (<path>.tmp-XXXXXX: the core's quarry_file_create) is there.
local function temp_beside(path)
  local ls = assert(io.popen("ls -d '" .. path .. "'.tmp-* 2>/dev/null"))
  local out = ls:read("a")
  ls:close()
  return out ~= ""
end

describe("quarry verify", function()
  setup(function()
    base_dir = helpers.tmpdir("verify")
    source = ch.gen(base_dir, "chain.json", 300)
    pristine = base_dir .. "/db"
    ch.ok({ "migrate", "--json", source, "--db", pristine })
  end)

  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  teardown(function() helpers.cleanup() end)

  it("exits 0 with a summary when every invariant holds", function()
    local out = ch.ok({ "verify", "--db", pristine, "--json", source })
    assert.matches("300 blocks (heights 0..299)", out, 1, true)
    assert.matches("all 13 checks passed", out, 1, true)
    local r = json.decode(ch.ok({ "verify", "--db", pristine, "--report", "json" }))
    assert.is_true(r.ok)
    assert.equal(300, r.summary.blocks)
    assert.equal(12, #r.checks)
  end)

  it("detects a tampered block value", function()
    local db = copy()
    local key = codec.hkey(100)
    tamper(db, function(d, cf)
      local v = cf.blocks:get(key)
      -- change one byte of the first transaction id: still decodes, but it is not the block appended
      local p = #v - 40
      cf.blocks:put(key, v:sub(1, p - 1) .. string.char((v:byte(p) + 1) % 256) .. v:sub(p + 1))
    end)
    verify_fails(db, "blocks", "block 100 (key " .. codec.tohex(key) .. ")")
  end)

  it("detects a block value that no longer decodes", function()
    local db = copy()
    tamper(db, function(d, cf)
      local key = codec.hkey(150)
      cf.blocks:put(key, cf.blocks:get(key):sub(1, 50))
    end)
    verify_fails(db, "blocks", "block 150 (key 0000000000000096): undecodable")
  end)

  it("leaves no partial file when export meets a damaged block", function()
    local db = copy()
    tamper(db, function(d, cf)
      local key = codec.hkey(150)
      cf.blocks:put(key, cf.blocks:get(key):sub(1, 50))
    end)
    local out = helpers.tmpdir("exp") .. "/back.json"
    local ok, code, _, err = ch.quarry({ "export", "--db", db, "--json", out })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("undecodable", err, 1, true)
    assert.is_false(helpers.exists(out))
    assert.is_false(temp_beside(out))
  end)

  it("detects a missing transaction index entry", function()
    local db = copy()
    local store = chain.open_reader(pristine)
    local id = store:block(120).transactions[1].id
    store:close()
    local key = codec.skey(id)
    tamper(db, function(d, cf) cf.txs:delete(key) end)
    verify_fails(db, "tx index", "block 120 tx " .. id .. ": no txs entry (key " .. codec.tohex(key) .. ")")
  end)

  it("detects a missing hash index entry and an extra one", function()
    local db = copy()
    local store = chain.open_reader(pristine)
    local hash = store:block(7).hash
    store:close()
    tamper(db, function(d, cf)
      cf.hashes:delete(codec.skey(hash))
      cf.hashes:put(codec.skey("feed"), codec.hashes_value(8, 0))
    end)
    local out = verify_fails(db, "hash index", "block 7: no hashes entry for " .. hash)
    assert.matches("hashes key 01feed does not name the hash of block 8", out, 1, true)
  end)

  it("detects a wrong UTXO amount, a missing UTXO and an extra one", function()
    local db = copy()
    local k1, k2
    tamper(db, function(d, cf)
      local n = 0
      for k, v in cf.utxo:pairs() do
        n = n + 1
        if n == 3 then k1 = k elseif n == 9 then k2 = k end
      end
      cf.utxo:put(k1, codec.uv(codec.parse_utxo_value(cf.utxo:get(k1)) + 1))
      cf.utxo:delete(k2)
      cf.utxo:put(codec.ukey(3, 0, 0), codec.uv(5)) -- spent long ago
    end)
    local out = verify_fails(db, "utxo", "utxo key " .. codec.tohex(k1) .. ": amount")
    assert.matches("utxo key " .. codec.tohex(k2), out, 1, true)
    assert.matches("missing: the replay has it unspent", out, 1, true)
    assert.matches("utxo key " .. codec.tohex(codec.ukey(3, 0, 0)) .. ": not unspent in the replay", out, 1, true)
  end)

  it("detects a wrong supply and wrong counters", function()
    local db = copy()
    tamper(db, function(d, cf)
      cf.meta:put("supply", codec.uv(12345))
      cf.meta:put("txs", codec.uv(1))
    end)
    local out = verify_fails(db, "supply", "meta supply is 12345")
    assert.matches("FAIL counts", out, 1, true)
    assert.matches("meta txs is 1", out, 1, true)
  end)

  it("detects a missing block (a gap) and a wrong undo record", function()
    local db = copy()
    local h = 250
    tamper(db, function(d, cf)
      cf.blocks:delete(codec.hkey(200))
      local u = codec.decode_undo(cf.undo:get(codec.hkey(h)), h)
      while #u == 0 do
        h = h + 1
        u = codec.decode_undo(cf.undo:get(codec.hkey(h)), h)
      end
      u[1][4] = u[1][4] + 1
      cf.undo:put(codec.hkey(h), codec.encode_undo(h, u))
    end)
    local out = verify_fails(db, "heights", "gap: blocks 200..200 missing")
    assert.matches("FAIL undo", out, 1, true)
    assert.matches("block " .. h .. " tx", out, 1, true)
  end)

  it("with --json, names the first block that differs from the source", function()
    local dir = helpers.tmpdir("vsrc")
    local blocks, header = ch.read_blocks(source)
    local out = blocks[43].transactions[1].outputs[1]
    out.amount = out.amount + 1
    blocks[44].nonce = 1
    local changed = ch.write_blocks(dir .. "/changed.json", blocks, header)
    local text = verify_fails(pristine, "source", "block 42: transactions[0].outputs[0].amount: source", { "--json", changed })
    assert.matches("block 43: nonce: source 1, store", text, 1, true)
    -- a source with fewer blocks
    local short = ch.write_blocks(dir .. "/short.json", table.move(blocks, 1, 10, 1, {}), header)
    verify_fails(pristine, "source", "block 10: the source has no more blocks", { "--json", short })
  end)

  it("accepts undo records pruned by quarry prune; rollback stops above them", function()
    local db = copy()
    ch.ok({ "prune", "--db", db, "--before", "100" })
    local out = ch.ok({ "verify", "--db", db })
    assert.matches("all 12 checks passed", out, 1, true)
    local store = chain.open(db)
    assert.equal(100, store:undo_floor())
    local ok, err = pcall(store.rollback, store, 50)
    assert.is_false(ok)
    assert.matches("cannot roll back to height 50: the undo records below 100 were pruned", err, 1, true)
    assert.equal(299, (store:tip()))
    assert.equal(200, store:rollback(99))
    assert.is_true(store:verify().ok)
    store:close()
    -- a record missing above the floor is still a failure
    local db2 = copy()
    ch.ok({ "prune", "--db", db2, "--before", "100" })
    tamper(db2, function(d, cf) cf.undo:delete(codec.hkey(150)) end)
    verify_fails(db2, "undo", "block 150: undo record missing")
  end)

  it("runs against a database a writer holds open", function()
    local db = copy()
    local writer = chain.open(db)
    local out = ch.ok({ "verify", "--db", db })
    assert.matches("all 12 checks passed", out, 1, true)
    out = ch.ok({ "verify", "--db", db, "--secondary" })
    assert.matches("opened secondary", out, 1, true)
    writer:close()
  end)

  it("fails clearly on a directory that is not a database", function()
    local ok, code, _, err = ch.quarry({ "verify", "--db", helpers.tmpdir("empty") .. "/nothing" })
    assert.is_false(ok)
    assert.equal(1, code)
    assert.matches("quarry verify:", err, 1, true)
  end)
end)

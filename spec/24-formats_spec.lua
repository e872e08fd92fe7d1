-- 24-formats: real nodes' dumps through `quarry migrate/verify/export --format`, with figures
-- from independent decoders (the Bitcoin fixture generator's own UTXO model, the AuriumChain
-- fixture's expected.json, a digit-string oracle for big amounts), never from the engine.
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")
local json = require("quarry.json")
local oracle = require("spec.bigdec_oracle")

-- Every record of a dump as compact JSON text (values: member order, number text).
local function records(path, format)
  local migrate = require("quarry.chain.migrate")
  local r = migrate.open_source(path, format)
  local t = {}
  for b in r:each() do t[#t + 1] = json.encode(b) end
  return t
end

local function report(args)
  local a = { "migrate", "--report", "json" }
  for _, x in ipairs(args) do a[#a + 1] = x end
  return json.decode(ch.ok(a))
end

local function fails(args)
  local ok, code, out, err = ch.quarry(args)
  assert.is_false(ok, "expected a failure: quarry " .. table.concat(args, " ") .. "\n" .. out)
  return code, err, out
end

describe("formats", function()
  after_each(function() collectgarbage(); collectgarbage() end)
  teardown(helpers.cleanup)

  describe("bitcoin-core", function()
    local fx = require("spec.bitcoin_fixture")
    local want = require("spec.fixtures.bitcoin_expect")
    local dir, paths
    setup(function()
      dir = helpers.tmpdir("btc")
      paths = fx.write(fx.generate(want.options), dir)
    end)

    for _, form in ipairs({ "array", "jsonl" }) do
      it("migrates getblock verbosity-2 output (" .. form .. ") with the generator's figures", function()
        local db = dir .. "/db-" .. form
        local r = report({ "--format", "bitcoin-core", "--json", paths[form], "--db", db, "--verify" })
        local e = want.expect
        assert.equal(e.blocks, r.blocks)
        assert.equal(e.tip_hash, r.tip_hash)
        assert.equal(e.txs, r.txs)
        assert.equal(e.utxos, r.utxos)
        assert.equal(e.supply, r.supply)
        assert.equal(e.unspendable_outputs, r.relaxed.unspendable)
        assert.equal(e.unspendable_value, r.relaxed.unspendable_amount)
        assert.is_true(r.verify.ok)
        -- verify against the original dump, and export back: the same JSON values
        local v = json.decode(ch.ok({ "verify", "--db", db, "--json", paths[form], "--report", "json" }))
        assert.is_true(v.ok)
        assert.equal("bitcoin-core", v.format)
        local out = dir .. "/export-" .. form .. (form == "jsonl" and ".jsonl" or ".json")
        ch.ok({ "export", "--db", db, "--json", out })
        assert.same(records(paths[form], "bitcoin-core"), records(out, "bitcoin-core"))
      end)
    end

    it("rolls back across unspendable outputs and keeps every check", function()
      local db = dir .. "/db-rollback"
      ch.ok({ "migrate", "--format", "bitcoin-core", "--json", paths.jsonl, "--db", db })
      local chain = require("quarry.chain")
      local store = chain.open(db)
      store:rollback(24)
      store:close()
      -- the oracle: the generator's model of the 25-block prefix of the same chain
      local opts = {}
      for k, x in pairs(want.options) do opts[k] = x end
      opts.blocks = 25
      local prefix = fx.generate(opts)
      local v = json.decode(ch.ok({ "verify", "--db", db, "--report", "json" }))
      assert.is_true(v.ok)
      assert.equal(prefix.expect.supply, v.summary.supply)
      assert.equal(prefix.expect.utxos, v.summary.utxos)
      assert.equal(prefix.expect.unspendable_outputs, v.relaxed.unspendable)
    end)

    it("refuses a value with more than 8 decimals, naming block, transaction and output", function()
      local lines = helpers.lines(helpers.read_file(paths.jsonl))
      local hit
      for i, l in ipairs(lines) do
        if i > 3 and l:find('"value":0.00012345', 1, true) then
          lines[i], hit = l:gsub('"value":0.00012345', '"value":0.000123456', 1), i
          break
        end
      end
      assert.truthy(hit, "the fixture has an output of 0.00012345")
      local bad = dir .. "/bad.jsonl"
      helpers.write_file(bad, table.concat(lines, "\n") .. "\n")
      local code, err = fails({ "migrate", "--format", "bitcoin-core", "--json", bad, "--db", dir .. "/db-bad" })
      assert.equal(1, code)
      assert.matches("block " .. (hit - 1) .. " tx %x+: output %d+: amount must be a non%-negative decimal with at most 8 decimals", err)
    end)
  end)

  describe("auriumchain", function()
    local fixture = "spec/fixtures/auriumchain/chain.json"
    local expected = json.decode(helpers.read_file("spec/fixtures/auriumchain/expected.json"))

    it("migrates a real node's file (every hash empty) with the relaxations counted", function()
      local dir = helpers.tmpdir("aur")
      local r = report({ "--format", "auriumchain", "--json", fixture, "--db", dir .. "/db", "--verify" })
      assert.equal(expected.blocks, r.blocks)
      assert.equal(expected.txs, r.txs)
      assert.equal(expected.utxos, r.utxos)
      assert.equal(tostring(expected.supply), r.supply) -- beyond 2^64: a decimal string
      assert.equal(expected.empty_hash_blocks, r.relaxed.empty_hash)
      assert.is_true(r.verify.ok)
      local out = ch.ok({ "verify", "--db", dir .. "/db", "--json", fixture })
      assert.matches(expected.blocks .. " blocks without a hash: not indexed", out, 1, true)
      -- export writes serde_json's pretty bytes back
      ch.ok({ "export", "--db", dir .. "/db", "--json", dir .. "/back.json" })
      assert.equal(helpers.read_file(fixture), helpers.read_file(dir .. "/back.json"))
    end)

    it("finds the blocks of the serde struct shape {\"chain\": [...], \"difficulty\": 4}", function()
      local dir = helpers.tmpdir("aur")
      local blocks = helpers.read_file(fixture)
      local struct = dir .. "/struct.json"
      helpers.write_file(struct, '{"chain": ' .. blocks .. ', "difficulty": 4}')
      -- the default format says where it looked and what to do
      local code, err = fails({ "migrate", "--json", struct, "--db", dir .. "/q" })
      assert.equal(1, code)
      assert.matches("no array of blocks in " .. struct .. " (members: chain, difficulty): use --key NAME or --format NAME", err, 1, true)
      assert.is_false(helpers.exists(dir .. "/q"))
      -- the format knows the member
      local r = report({ "--format", "auriumchain", "--json", struct, "--db", dir .. "/db" })
      assert.equal(expected.blocks, r.blocks)
    end)

    it("is strict under the quarry format (the genesis input spending \"0\":0 is refused)", function()
      local dir = helpers.tmpdir("aur")
      local plain = dir .. "/plain.json"
      -- the same blocks renamed to the quarry names by text substitution (independent of the format)
      local text = helpers.read_file(fixture):gsub('"prev_tx_id"', '"tx_id"'):gsub('"value"', '"amount"')
      helpers.write_file(plain, text)
      local code, err = fails({ "migrate", "--json", plain, "--db", dir .. "/db" })
      assert.equal(1, code)
      assert.matches("block 0 tx %x+ input 0: spend of a missing output 0:0 %(no such transaction%)", err)
    end)
  end)

  describe("exact amounts", function()
    local U64MAX = "18446744073709551615"
    local WEI = "120000000000000000000000000" -- 1.2e26 wei

    local function dump(amounts)
      local txs = {}
      for i, a in ipairs(amounts) do
        txs[i] = ('{"id":"c%d","inputs":[],"outputs":[{"address":"a","amount":%s}]}'):format(i, a)
      end
      local blocks = {}
      for i, t in ipairs(txs) do
        blocks[i] = ('{"index":%d,"hash":"h%d","previous_hash":"h%d","transactions":[%s]}'):format(i - 1, i, i - 1, t)
      end
      return "[" .. table.concat(blocks, ",") .. "]"
    end

    it("keeps a u64 of 2^64-1 and a 1.2e26 wei amount exactly, in the supply and back", function()
      local dir = helpers.tmpdir("big")
      local path = dir .. "/big.json"
      helpers.write_file(path, dump({ U64MAX, WEI, "5" }))
      local r = report({ "--json", path, "--db", dir .. "/db", "--verify" })
      assert.equal(oracle.add(oracle.add(U64MAX, WEI), "5"), r.supply)
      assert.is_true(r.verify.ok)
      ch.ok({ "export", "--db", dir .. "/db", "--json", dir .. "/back.json" })
      local back = helpers.read_file(dir .. "/back.json")
      assert.matches('"amount":' .. U64MAX, back, 1, true)
      assert.matches('"amount":' .. WEI, back, 1, true)
    end)

    it("reads 0x quantities with a format declaring them (a user's FILE.lua)", function()
      local dir = helpers.tmpdir("big")
      local fmt = dir .. "/wei.lua"
      helpers.write_file(fmt, 'return { name = "wei-test", amount = { unit = "quantity" } }')
      local path = dir .. "/wei.json"
      -- 1.2e26 = 0x6342fd08f00f6378000000, computed by the oracle, not by the module
      helpers.write_file(path, dump({ '"' .. oracle.hex(WEI) .. '"', '"0x1"' }))
      local r = report({ "--format", fmt, "--json", path, "--db", dir .. "/db", "--verify" })
      assert.equal(oracle.add(WEI, "1"), r.supply)
      assert.is_true(r.verify.ok)
    end)

    it("refuses a value beyond 2^256-1 and a negative one, naming block, transaction and output", function()
      local dir = helpers.tmpdir("big")
      local over = oracle.pow2(256)
      for _, case in ipairs({ { over, "block 1 tx c2: output 0: amount must be an integer in 0..2^256-1" },
        { "-3", "block 1 tx c2: output 0: amount must not be negative" } }) do
        local path = dir .. "/bad.json"
        helpers.write_file(path, dump({ "1", case[1] }))
        local code, err = fails({ "migrate", "--json", path, "--db", dir .. "/db" })
        assert.equal(1, code)
        assert.matches(case[2], err, 1, true)
      end
    end)
  end)

  describe("safety", function()
    it("refuses a --db holding another layout's data", function()
      local dir = helpers.tmpdir("safe")
      local quarry = require("quarry")
      local db = quarry.open(dir .. "/node")
      for i = 1, 7 do db:put("block:" .. i, "x") end
      db:close()
      local code, err = fails({ "migrate", "--json", "spec/fixtures/auriumchain/chain.json",
        "--format", "auriumchain", "--db", dir .. "/node" })
      assert.equal(1, code)
      assert.matches(dir .. "/node holds 7 keys in the default family and no chain store", err, 1, true)
    end)

    it("calls an empty dump an error, and leaves no store behind", function()
      local dir = helpers.tmpdir("safe")
      for _, text in ipairs({ "", "[]", '{"blocks": []}' }) do
        helpers.write_file(dir .. "/empty.json", text)
        local code, err = fails({ "migrate", "--json", dir .. "/empty.json", "--db", dir .. "/db" })
        assert.equal(1, code)
        assert.matches("holds no blocks", err, 1, true)
        assert.is_false(helpers.exists(dir .. "/db"))
      end
    end)

    it("leaves no empty store behind a refused first block", function()
      local dir = helpers.tmpdir("safe")
      helpers.write_file(dir .. "/bad.json", '[{"index": -1, "hash": "x"}]')
      local code = fails({ "migrate", "--json", dir .. "/bad.json", "--db", dir .. "/db" })
      assert.equal(1, code)
      assert.is_false(helpers.exists(dir .. "/db"))
    end)
  end)
end)

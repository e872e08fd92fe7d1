-- 76-bitcoin_core: the "bitcoin-core" format (scripts/quarry/chain/formats/bitcoin_core.lua) on
-- a generated regtest chain in `bitcoin-cli getblock <hash> 2` shape (spec/bitcoin_fixture.lua):
-- quarry.json reads and rewrites the text exactly, the format's renames, amounts, coinbase() and
-- unspendable() do what they declare, the figures a migration must find are those of the
-- generator's own model, and the generator and the rules agree with the blocks and the
-- getblockstats answers of a real regtest node (/work/shared/realdata/bitcoin-regtest).
local helpers = require("spec.helpers")
local json = require("quarry.json")
local fx = require("spec.bitcoin_fixture")
local raw = require("spec.bitcoin_raw")
local sha = require("spec.bitcoin_sha256")
local expect_file = require("spec.fixtures.bitcoin_expect")
local fmt = require("quarry.chain.formats.bitcoin_core")

local REALDATA = os.getenv("QUARRY_REALDATA") or "/work/shared/realdata"
local REGTEST = REALDATA .. "/bitcoin-regtest/rpc_getblockstats.json"

local chain = fx.generate(expect_file.options)

-- Member order of Bitcoin Core 23-28's getblock verbosity 2 (blockheaderToJSON, blockToJSON,
-- TxToUniv, ScriptToUniv), written from the research, not from the generator.
local BLOCK_KEYS = { "hash", "confirmations", "height", "version", "versionHex", "merkleroot", "time",
  "mediantime", "nonce", "bits", "difficulty", "chainwork", "nTx", "previousblockhash",
  "nextblockhash", "strippedsize", "size", "weight", "tx" }
local TX_KEYS = { "txid", "hash", "version", "size", "vsize", "weight", "locktime", "vin", "vout",
  "fee", "hex" }
local COINBASE_IN_KEYS = { "coinbase", "txinwitness", "sequence" }
local IN_KEYS = { "txid", "vout", "scriptSig", "txinwitness", "sequence" }
local OUT_KEYS = { "value", "n", "scriptPubKey" }
local SPK_KEYS = { "asm", "desc", "hex", "address", "type" }

-- The keys of a decoded object in document order, and a check that they are `list` in order with
-- only the members in `optional` possibly missing.
local function keys_of(o)
  local k = {}
  for i = 1, #o do k[i] = o[i] end
  return k
end
local function assert_keys(o, list, optional, where)
  local want = {}
  for _, k in ipairs(list) do
    if o[k] ~= nil or not optional[k] then want[#want + 1] = k end
  end
  assert.same(want, keys_of(o), where)
end

-- ---- a tiny rename helper (the engine has its own) ---------------------------------------------
-- Renames member `old` of object o to `new` in place, at the same position.
local function rename(o, old, new)
  if o[old] == nil then return end
  for i = 1, #o do
    if o[i] == old then o[i] = new; break end
  end
  o[new] = o[old]
  o[old] = nil
end

-- Applies (direction "decode": record -> model) or undoes ("encode") the format's renames on a
-- block, its transactions, their inputs and outputs.
local function apply_fields(block, fields, direction)
  local function each(o, level)
    for model, member in pairs(fields[level] or {}) do
      if direction == "decode" then rename(o, member, model) else rename(o, model, member) end
    end
  end
  local txs_name = direction == "decode" and "transactions" or (fields.block.transactions or "transactions")
  local names = direction == "decode"
    and { inputs = "inputs", outputs = "outputs" }
    or { inputs = fields.tx.inputs or "inputs", outputs = fields.tx.outputs or "outputs" }
  each(block, "block")
  for _, tx in ipairs(block[txs_name] or {}) do
    each(tx, "tx")
    for _, i in ipairs(tx[names.inputs] or {}) do each(i, "input") end
    for _, o in ipairs(tx[names.outputs] or {}) do each(o, "output") end
  end
  return block
end

local function decoded_blocks()
  local list = {}
  for i, b in ipairs(chain.blocks) do list[i] = json.decode(b.compact) end
  return list
end

local function models()
  local list = decoded_blocks()
  for _, b in ipairs(list) do apply_fields(b, fmt.fields, "decode") end
  return list
end

-- An amount in satoshis: ValueFromAmount always prints decimals, so every amount is a json.number.
local function scaled(v) return v:scaled(fmt.amount.scale) end

describe("bitcoin-core format", function()
  after_each(helpers.collect_and_cleanup)

  describe("the fixture text", function()
    it("decodes with quarry.json and re-encodes to the same bytes, compact and pretty", function()
      assert.is_true(#chain.blocks == expect_file.expect.blocks)
      for _, b in ipairs(chain.blocks) do
        local d = json.decode(b.compact)
        assert.equal(b.compact, json.encode(d))
        local p = json.decode(b.pretty)
        assert.equal(b.compact, json.encode(p))
        -- quarry.json's indent = 2 writes what UniValue's write(2), hence bitcoin-cli, prints
        assert.equal(b.pretty, json.encode(p, { indent = 2 }))
      end
    end)

    it("JSON Lines holds one compact block per line; the array form holds them in order", function()
      local n = 0
      for line in chain.jsonl:gmatch("([^\n]*)\n") do
        n = n + 1
        assert.equal(chain.blocks[n].compact, line)
      end
      assert.equal(#chain.blocks, n)
      local all = json.decode(chain.array)
      assert.equal(#chain.blocks, #all)
      for i, b in ipairs(all) do assert.equal(chain.blocks[i].compact, json.encode(b)) end
    end)

    it("both files stream through json.reader in the containers the format declares", function()
      local paths = fx.write(chain, helpers.tmpdir("btc"))
      assert.same({ "array", "jsonl" }, fmt.container)
      for kind, path in pairs(paths) do
        local n = 0
        local r = json.reader(path, { format = kind })
        for b in r:each() do
          n = n + 1
          assert.equal(chain.blocks[n].compact, json.encode(b))
        end
        assert.equal(#chain.blocks, n, kind)
        -- auto-detection finds the same container
        local auto = json.reader(path)
        assert.is_not_nil(auto:next())
        assert.equal(kind, auto:format())
        auto:close()
      end
    end)

    it("has Bitcoin Core's members in Bitcoin Core's order at every level", function()
      local tip = #chain.blocks - 1
      for _, b in ipairs(decoded_blocks()) do
        assert_keys(b, BLOCK_KEYS, { previousblockhash = b.height == 0, nextblockhash = b.height == tip },
          "block " .. b.height)
        assert.equal(b.height == 0, b.previousblockhash == nil)
        assert.equal(b.height == tip, b.nextblockhash == nil)
        assert.equal(#b.tx, b.nTx)
        for t, tx in ipairs(b.tx) do
          assert_keys(tx, TX_KEYS, { fee = t == 1 }, "tx")
          assert.equal(t == 1, tx.fee == nil) -- verbosity 2 prints fee for all but the coinbase
          for _, i in ipairs(tx.vin) do
            if t == 1 then
              assert_keys(i, COINBASE_IN_KEYS, { txinwitness = true }, "coinbase input")
            else
              assert_keys(i, IN_KEYS, { txinwitness = true }, "input")
              assert.same({ "asm", "hex" }, keys_of(i.scriptSig))
            end
          end
          for n, o in ipairs(tx.vout) do
            assert_keys(o, OUT_KEYS, {}, "output")
            assert.equal(n - 1, o.n)
            assert_keys(o.scriptPubKey, SPK_KEYS, { address = true }, "scriptPubKey")
          end
        end
      end
    end)

    it("prints numbers as Bitcoin Core does: amounts with exactly 8 decimals, the float difficulty", function()
      local seen = {}
      for _, b in ipairs(decoded_blocks()) do
        assert.equal("4.656542373906925e-10", b.difficulty.text)
        assert.equal("207fffff", b.bits)
        assert.equal(64, #b.chainwork)
        for _, tx in ipairs(b.tx) do
          for _, o in ipairs(tx.vout) do
            assert.equal("number", json.type(o.value))
            assert.is_truthy(o.value.text:match("^%d+%.%d%d%d%d%d%d%d%d$"), o.value.text)
            seen[o.value.text] = true
          end
          if tx.fee then assert.is_truthy(tx.fee.text:match("^%d+%.%d%d%d%d%d%d%d%d$")) end
        end
      end
      for _, text in ipairs({ "50.00000000", "0.00000000", "0.00012345", "0.00100000", "0.00000500" }) do
        assert.is_true(seen[text] == true, text .. " is in the fixture")
      end
    end)

    it("is real where it claims to be: txids, merkle roots, proof of work, links", function()
      local prev
      for _, b in ipairs(decoded_blocks()) do
        local ids = {}
        for t, tx in ipairs(b.tx) do
          local bytes = sha.fromhex(tx.hex)
          assert.equal(tx.size, #bytes)
          local d = raw.block(string.rep("00", 80) .. "01" .. tx.hex).tx[1]
          assert.equal(tx.txid, d.txid)
          assert.equal(tx.hash, d.wtxid)
          assert.equal(tx.weight, 3 * d.base_size + d.size)
          ids[t] = tx.txid
        end
        assert.equal(b.merkleroot, sha.display(fx.merkle_root(ids)))
        assert.is_true(b.hash <= fx.TARGET)
        if prev then assert.equal(prev, b.previousblockhash) end
        prev = b.hash
      end
    end)

    it("covers Bitcoin Core 29's target and 31's coinbase_tx, which the format leaves alone", function()
      for _, core in ipairs({ 29, 31 }) do
        local c = fx.generate({ seed = 7, blocks = 12, core = core })
        for _, b in ipairs(c.blocks) do
          local d = json.decode(b.compact)
          assert.equal(b.compact, json.encode(d))
          assert.equal(fx.TARGET, d.target)
          assert.equal("bits", d[10]); assert.equal("target", d[11]); assert.equal("difficulty", d[12])
          if core >= 31 then
            assert.equal("tx", d[#d]); assert.equal("coinbase_tx", d[#d - 1])
            assert.equal(d.tx[1].vin[1].coinbase, d.coinbase_tx.coinbase)
          else
            assert.is_nil(d.coinbase_tx)
          end
          apply_fields(d, fmt.fields, "decode")
          assert.is_true(fmt.coinbase(d.transactions[1], 1, d))
          apply_fields(d, fmt.fields, "encode")
          assert.equal(b.compact, json.encode(d))
        end
      end
    end)
  end)

  describe("the declarations", function()
    it("names the format and its amount unit as docs/formats.md requires", function()
      assert.equal("bitcoin-core", fmt.name)
      assert.equal("string", type(fmt.summary))
      assert.same({ unit = "decimal", scale = 8 }, fmt.amount)
      assert.same({}, fmt.relax)
      assert.is_nil(fmt.decode); assert.is_nil(fmt.encode)
    end)

    it("renames give the model's names at the same positions, and undoing them gives the record back", function()
      for i, m in ipairs(models()) do
        local record = json.decode(chain.blocks[i].compact)
        assert.equal("integer", math.type(m.index))
        assert.equal(record.height, m.index)
        assert.is_nil(m.height); assert.is_nil(m.tx)
        assert.equal(record.hash, m.hash)
        assert.equal(record.previousblockhash, m.previous_hash)
        for k = 1, #record do
          local want = record[k]
          for model, member in pairs(fmt.fields.block) do if member == want then want = model end end
          assert.equal(want, m[k])
        end
        for t, tx in ipairs(m.transactions) do
          assert.equal(record.tx[t].txid, tx.id)
          assert.is_nil(tx.vin); assert.is_nil(tx.vout); assert.is_nil(tx.txid)
          for n, o in ipairs(tx.outputs) do
            assert.equal(record.tx[t].vout[n].value, o.amount)
            assert.is_nil(o.value)
          end
          if t > 1 then
            for k, inp in ipairs(tx.inputs) do
              assert.equal(record.tx[t].vin[k].txid, inp.tx_id)
              assert.equal(record.tx[t].vin[k].vout, inp.output_index)
            end
          end
        end
        apply_fields(m, fmt.fields, "encode")
        assert.equal(chain.blocks[i].compact, json.encode(m))
      end
    end)

    it("reads amounts exactly with scale 8 (quarry.json's n:scaled as the oracle)", function()
      assert.equal(12345, json.decode("0.00012345"):scaled(fmt.amount.scale))
      assert.equal(5000000000, json.decode("50.00000000"):scaled(fmt.amount.scale))
      assert.equal(0, json.decode("0.00000000"):scaled(fmt.amount.scale))
      assert.equal(2099999997690000, json.decode("20999999.97690000"):scaled(fmt.amount.scale))
      assert.has_error(function() json.decode("0.000000001"):scaled(fmt.amount.scale) end)
      for i, m in ipairs(models()) do
        for t, tx in ipairs(m.transactions) do
          for n, o in ipairs(tx.outputs) do
            assert.equal(chain.blocks[i].txs[t].outputs[n].sats, scaled(o.amount))
          end
        end
      end
    end)

    it("coinbase() picks the first transaction, whose single input has a coinbase member", function()
      for i, m in ipairs(models()) do
        for t, tx in ipairs(m.transactions) do
          assert.equal(chain.blocks[i].txs[t].coinbase, fmt.coinbase(tx, t, m))
        end
      end
      -- on a record not yet renamed, too
      local record = json.decode(chain.blocks[2].compact)
      assert.is_true(fmt.coinbase(record.tx[1], 1, record))
      assert.is_false(fmt.coinbase(record.tx[1], 2, record))
      assert.is_false(fmt.coinbase({ inputs = { { tx_id = "ab", output_index = 0 } } }, 1, {}))
      assert.is_false(fmt.coinbase({ inputs = {} }, 1, {}))
      assert.is_false(fmt.coinbase({}, 1, {}))
    end)

    it("unspendable() marks what the generator's model kept out of the UTXO set", function()
      local marked = 0
      for i, m in ipairs(models()) do
        for t, tx in ipairs(m.transactions) do
          for n, o in ipairs(tx.outputs) do
            local want = chain.blocks[i].txs[t].outputs[n].unspendable
            assert.equal(want, fmt.unspendable(o, n, tx, t, m), ("block %d tx %d out %d"):format(i - 1, t, n))
            if want then marked = marked + 1 end
          end
        end
      end
      assert.equal(chain.expect.unspendable_outputs, marked)
      -- the genesis output is recognised only with the block: the extended signature matters
      local genesis = models()[1]
      assert.is_false(fmt.unspendable(genesis.transactions[1].outputs[1]))
    end)

    it("unspendable() follows CScript::IsUnspendable, whatever the type says", function()
      local cases = {
        { { hex = "6a24aa21a9ed" .. string.rep("00", 32), type = "nulldata" }, true, "witness commitment" },
        { { hex = "6aac", type = "nonstandard" }, true, "OP_RETURN then a non-push" },
        { { hex = "6A", type = "nonstandard" }, true, "upper-case hex" },
        { { type = "nulldata" }, true, "no hex, nulldata type" },
        { { hex = "51" .. string.rep("00", 10000), type = "nonstandard" }, true, "over 10,000 bytes" },
        { { hex = "51" .. string.rep("00", 9999), type = "nonstandard" }, false, "exactly 10,000 bytes" },
        { { hex = "0014" .. string.rep("ab", 20), type = "witness_v0_keyhash" }, false, "p2wpkh" },
        { { hex = "006a", type = "nonstandard" }, false, "OP_RETURN not first" },
        { { hex = "", type = "nonstandard" }, false, "empty script" },
      }
      for _, c in ipairs(cases) do
        assert.equal(c[2], fmt.unspendable({ scriptPubKey = c[1] }), c[3])
      end
      assert.is_false(fmt.unspendable({ value = 1 }))
      assert.is_false(fmt.unspendable({ scriptPubKey = "6a" }))
    end)
  end)

  describe("the figures a migration must find", function()
    -- A second, independent ledger: only the decoded JSON and the format's declarations.
    local function ledger(list)
      local utxo, e = {}, { txs = 0, utxos = 0, supply = 0, unspendable_outputs = 0, unspendable_value = 0 }
      for _, m in ipairs(list) do
        for t, tx in ipairs(m.transactions) do
          e.txs = e.txs + 1
          local cb = fmt.coinbase(tx, t, m)
          local in_sum, out_sum = 0, 0
          if not cb then
            for _, inp in ipairs(tx.inputs) do
              local key = inp.tx_id .. ":" .. inp.output_index
              local v = assert(utxo[key], "spends a missing output " .. key)
              utxo[key] = nil
              in_sum = in_sum + v
            end
          end
          for n, o in ipairs(tx.outputs) do
            local v = scaled(o.amount)
            out_sum = out_sum + v
            if fmt.unspendable(o, n, tx, t, m) then
              e.unspendable_outputs = e.unspendable_outputs + 1
              e.unspendable_value = e.unspendable_value + v
            else
              utxo[tx.id .. ":" .. (n - 1)] = v
            end
          end
          if not cb then assert.equal(in_sum - out_sum, scaled(tx.fee)) end
        end
      end
      for _, v in pairs(utxo) do e.utxos = e.utxos + 1; e.supply = e.supply + v end
      return e
    end

    it("the generator's model and a ledger over the format's declarations agree", function()
      local e = ledger(models())
      for _, k in ipairs({ "txs", "utxos", "supply", "unspendable_outputs", "unspendable_value" }) do
        assert.equal(chain.expect[k], e[k], k)
      end
      -- money is conserved: what was mined is in the UTXO set or left it through unspendable outputs
      assert.equal(chain.expect.subsidy, chain.expect.supply + chain.expect.unspendable_value)
    end)

    it("spec/fixtures/bitcoin_expect.lua holds the figures of the generated chain", function()
      assert.same(expect_file.expect, chain.expect)
    end)

    it("the subsidy halves at height 150 as on regtest", function()
      assert.equal(5000000000, fx.subsidy(149))
      assert.equal(2500000000, fx.subsidy(150))
      assert.equal(1250000000, fx.subsidy(300))
      assert.equal(0, fx.subsidy(150 * 64))
      local c = fx.generate({ seed = 5, blocks = 153 })
      local fees = 0
      for t, tx in ipairs(c.blocks[151].txs) do if t > 1 then fees = fees + tx.fee end end
      assert.equal(2500000000 + fees, c.blocks[151].txs[1].outputs[1].sats)
      assert.equal(150 * 5000000000 + 3 * 2500000000, c.expect.subsidy)
      assert.equal(c.expect.subsidy, c.expect.supply + c.expect.unspendable_value)
      local e = ledger((function()
        local list = {}
        for i, b in ipairs(c.blocks) do list[i] = apply_fields(json.decode(b.compact), fmt.fields, "decode") end
        return list
      end)())
      assert.equal(c.expect.supply, e.supply)
      assert.equal(c.expect.utxos, e.utxos)
    end)
  end)

  describe("against a real regtest node", function()
    local have = helpers.exists(REGTEST)
    local data, blocks
    local function load()
      if data then return end
      data = json.decode(helpers.read_file(REGTEST))
      blocks = {}
      for i, hex in ipairs(data.blocks) do blocks[i - 1] = raw.block(hex) end
    end
    local function real(name, fn)
      if have then it(name, function() load(); fn() end) else pending(name .. " (no " .. REGTEST .. ")") end
    end

    it("SHA-256 meets the FIPS 180-4 vectors; bech32 and descriptor checksums their BIPs' vectors", function()
      assert.equal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", sha.tohex(sha.sha256("abc")))
      assert.equal("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sha.tohex(sha.sha256("")))
      assert.equal("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
        sha.tohex(sha.sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")))
      assert.equal("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        fx.segwit_address("bc", 0, sha.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6")))
      assert.equal("raw(deadbeef)#89f8spxm", fx.descriptor("raw(deadbeef)"))
    end)

    real("the fixture's genesis is the node's: same hash, same transaction bytes", function()
      local g = json.decode(chain.blocks[1].compact)
      assert.equal(blocks[0].hash, g.hash)
      assert.equal(blocks[0].merkleroot, g.merkleroot)
      assert.equal(blocks[0].tx[1].hex, g.tx[1].hex)
      assert.equal(blocks[0].time, g.time)
      assert.equal(blocks[0].nonce, g.nonce)
    end)

    real("the node's blocks link, meet the regtest target and carry the coinbase the generator writes", function()
      for h = 0, #data.blocks - 1 do
        local b = blocks[h]
        assert.equal(fx.BITS, b.bits)
        assert.is_true(b.hash <= fx.TARGET)
        local ids = {}
        for t, tx in ipairs(b.tx) do ids[t] = tx.txid end
        assert.equal(b.merkleroot, sha.display(fx.merkle_root(ids)))
        if h > 0 then
          assert.equal(blocks[h - 1].hash, b.previousblockhash)
          local cb = b.tx[1]
          assert.equal(sha.tohex(fx.coinbase_script_sig(h)), sha.tohex(cb.vin[1].script_sig))
          local reserved = cb.vin[1].witness[1]
          local wtxids = {}
          for t, tx in ipairs(b.tx) do wtxids[t] = tx.wtxid end
          local commitment = "6a24aa21a9ed" .. sha.tohex(fx.witness_commitment(wtxids, reserved))
          assert.equal(commitment, sha.tohex(cb.vout[#cb.vout].script))
        end
      end
    end)

    real("getblockstats' figures follow from the format's rules: subsidy, outputs, UTXO increase, fees", function()
      local outputs = {}
      for h = 0, #data.blocks - 1 do
        for _, tx in ipairs(blocks[h].tx) do
          for n, o in ipairs(tx.vout) do outputs[tx.txid .. ":" .. (n - 1)] = o.sats end
        end
      end
      local times = {}
      for h = 0, #data.blocks - 1 do times[h] = blocks[h].time end
      for _, s in ipairs(data.stats) do
        local b = blocks[s.height]
        assert.equal(s.blockhash, b.hash)
        assert.equal(s.time, b.time)
        assert.equal(s.mediantime, fx.median_time_past(times, s.height))
        assert.equal(s.subsidy, fx.subsidy(s.height))
        local ins, outs, kept, total_out, fees = 0, 0, 0, 0, 0
        for t, tx in ipairs(b.tx) do
          local record = { vin = { t == 1 and { coinbase = "" } or { txid = tx.vin[1].prev_txid } } }
          assert.equal(t == 1, fmt.coinbase(record, t, {}))
          local in_sum, out_sum = 0, 0
          if t > 1 then
            for _, i in ipairs(tx.vin) do
              ins = ins + 1
              in_sum = in_sum + assert(outputs[i.prev_txid .. ":" .. i.n])
            end
          end
          for _, o in ipairs(tx.vout) do
            outs = outs + 1
            out_sum = out_sum + o.sats
            if not fmt.unspendable({ scriptPubKey = { hex = sha.tohex(o.script) } }) then kept = kept + 1 end
          end
          if t > 1 then total_out = total_out + out_sum; fees = fees + in_sum - out_sum end
          if t == 1 then assert.equal(s.subsidy + s.totalfee, out_sum) end
        end
        assert.equal(s.txs, #b.tx)
        assert.equal(s.ins, ins)
        assert.equal(s.outs, outs)
        assert.equal(s.utxo_increase, outs - ins)
        assert.equal(s.utxo_increase_actual, kept - ins) -- Core counts only IsUnspendable() == false
        assert.equal(s.total_out, total_out)
        assert.equal(s.totalfee, fees)
      end
    end)
  end)
end)

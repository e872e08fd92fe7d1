-- 75-auriumchain: the AuriumChain format and node layout against oracles written here from the
-- node's public definitions (Hicham60290/Auriumchain src/blockchain/block.rs:6-39 struct order,
-- bincode 1 fixed-width little-endian with u64 lengths, src/storage/db.rs key names), never by
-- the code under test: (a) the writer gives back the fixture's bytes (serde_json pretty text,
-- built by hand in spec/aurium_fixture.lua); (b) block bincode equals bytes packed here field by
-- field, and decodes back to the record; (c) UTXO accounting done here matches the fixture's
-- expectations and what the layout staged; (d) records bincode cannot hold are refused by name.
local helpers = require("spec.helpers")
local json = require("quarry.json")
local quarry = require("quarry")
local format = require("quarry.chain.formats.auriumchain")
local layout = require("quarry.chain.layouts.auriumchain_node")

local FIXTURE = "spec/fixtures/auriumchain/chain.json"
local EXPECTED = "spec/fixtures/auriumchain/expected.json"
local pack = string.pack

local function records_of(path, opts)
  local out = {}
  for b in json.reader(path, opts or { format = "array" }):each() do out[#out + 1] = b end
  return out
end

-- ---- oracle: decimal arithmetic in 10^9 limbs (the fixture generator uses digit strings) ----
local BASE = 1000000000
local function big(text)
  local limbs = {}
  for i = #text, 1, -9 do limbs[#limbs + 1] = tonumber(text:sub(math.max(1, i - 8), i)) end
  return limbs
end
local function big_add(a, b)
  local r, carry = {}, 0
  for i = 1, math.max(#a, #b) do
    local s = (a[i] or 0) + (b[i] or 0) + carry
    r[i], carry = s % BASE, s // BASE
  end
  if carry > 0 then r[#r + 1] = carry end
  return r
end
local function big_text(a)
  local parts = { ("%d"):format(a[#a] or 0) }
  for i = #a - 1, 1, -1 do parts[#parts + 1] = ("%09d"):format(a[i]) end
  return table.concat(parts)
end
local function text_of(v)
  if math.type(v) == "integer" then return ("%d"):format(v) end
  return v.text
end

-- ---- oracle: bincode 1 of the node's structs, field by field (block.rs:6-39) --------------
-- u64 from decimal text: eight divisions by 256, least significant byte first.
local function u64_bytes(v)
  if math.type(v) == "integer" then return pack("<i8", v) end
  local digits, out = v.text, {}
  for _ = 1, 8 do
    local q, r = {}, 0
    for i = 1, #digits do
      local d = r * 10 + (digits:byte(i) - 48)
      q[#q + 1] = string.char(48 + d // 256)
      r = d % 256
    end
    out[#out + 1] = string.char(r)
    digits = table.concat(q):gsub("^0+", "")
    if digits == "" then digits = "0" end
  end
  assert(digits == "0", "oracle: beyond u64")
  return table.concat(out)
end
local function str(s) return pack("<I8", #s) .. s end
local function vec(list, each)
  local out = { pack("<I8", #list) }
  for _, x in ipairs(list) do out[#out + 1] = each(x) end
  return table.concat(out)
end
local function tx_output(o) return u64_bytes(o.value) .. str(o.address) end
local function tx_input(i)
  return str(i.prev_tx_id) .. u64_bytes(i.output_index) .. str(i.signature) .. str(i.public_key)
end
local function transaction(t)
  return str(t.id) .. vec(t.inputs, tx_input) .. vec(t.outputs, tx_output)
    .. pack("<i8", t.timestamp) .. str(t.signature)
end
local function block_bytes(b)
  return u64_bytes(b.index) .. pack("<i8", b.timestamp) .. vec(b.transactions, transaction)
    .. str(b.previous_hash) .. str(b.hash) .. u64_bytes(b.nonce) .. pack("<I4", b.difficulty)
    .. str(b.miner_address) .. str(b.merkle_root)
end

-- ---- oracle: UTXO accounting and the engine's `info` ---------------------------------------
local function is_coinbase(tx)   -- block.rs is_coinbase, and the prev_tx_id "0" genesis
  return #tx.inputs == 0 or (#tx.inputs == 1 and tx.inputs[1].prev_tx_id == "0")
end

local function account(records)
  local utxo, infos, seen = {}, {}, {}
  local facts = { txs = 0, spends = 0, outputs = 0, minted = {}, coinbases = 0 }
  for _, b in ipairs(records) do
    local info = { height = b.index, hash_indexed = b.hash ~= "" and not seen[b.hash], txs = {} }
    if b.hash ~= "" then seen[b.hash] = true end
    for _, tx in ipairs(b.transactions) do
      facts.txs = facts.txs + 1
      local t = { id = tx.id, coinbase = is_coinbase(tx), spends = {}, outputs = {} }
      if t.coinbase then
        facts.coinbases = facts.coinbases + 1
      else
        for _, i in ipairs(tx.inputs) do
          local key = i.prev_tx_id .. ":" .. i.output_index
          assert(utxo[key], "oracle: fixture spends a missing output " .. key)
          t.spends[#t.spends + 1] = { tx_id = i.prev_tx_id, n = i.output_index, amount = utxo[key].amount }
          utxo[key] = nil
          facts.spends = facts.spends + 1
        end
      end
      for n, o in ipairs(tx.outputs) do
        facts.outputs = facts.outputs + 1
        utxo[tx.id .. ":" .. (n - 1)] = { amount = o.value, address = o.address }
        t.outputs[#t.outputs + 1] = { n = n - 1, amount = o.value, spendable = true, address = o.address }
        if t.coinbase then facts.minted = big_add(facts.minted, big(text_of(o.value))) end
      end
      info.txs[#info.txs + 1] = t
    end
    infos[#infos + 1] = info
  end
  local supply, count = {}, 0
  for _, u in pairs(utxo) do
    supply = big_add(supply, big(text_of(u.amount)))
    count = count + 1
  end
  facts.utxos, facts.supply, facts.minted = count, big_text(supply), big_text(facts.minted)
  return facts, utxo, infos
end

local function stage_all(db, records, infos)
  for i, r in ipairs(records) do
    db:write(function(b) layout.stage(db, b, r, r, infos[i]) end)
  end
end

describe("auriumchain format", function()
  after_each(helpers.collect_and_cleanup)

  it("the fixture is what spec/aurium_fixture.lua generates (deterministic)", function()
    local gen = dofile("spec/aurium_fixture.lua")
    local chain, expected = gen.generate()
    assert.are.equal(helpers.read_file(FIXTURE), chain)
    assert.are.equal(helpers.read_file(EXPECTED), expected)
  end)

  it("(a) the writer gives back the fixture byte for byte from records quarry.json decoded", function()
    local src = helpers.read_file(FIXTURE)
    local records = records_of(FIXTURE)
    assert.are.equal(30, #records)
    local dir = helpers.tmpdir("aur")
    local out = dir .. "/chain.json"
    local w = format.writer(out)
    for _, r in ipairs(records) do w:write(r) end
    assert.are.equal(30, w:count())
    w:close()
    local back = helpers.read_file(out)
    assert.are.equal(#src, #back)
    assert.is_true(src == back)
    assert.are.equal("]", back:sub(-1))          -- fs::write adds nothing: no trailing newline
    assert.are.same({ "chain.json" }, helpers.ls(dir))
  end)

  it("(a) the struct form {\"chain\": [...]} reads into the same records; export is the bare array", function()
    local src = helpers.read_file(FIXTURE)
    local dir = helpers.tmpdir("aur")
    local struct = dir .. "/struct.json"
    helpers.write_file(struct, '{\n  "chain": ' .. src:gsub("\n", "\n  ") .. ',\n  "difficulty": 4\n}')
    local records = records_of(struct, { format = "object", key = "chain" })
    assert.are.equal(30, #records)
    local w = format.writer(dir .. "/out.json")
    for _, r in ipairs(records) do w:write(r) end
    w:close()
    assert.is_true(helpers.read_file(dir .. "/out.json") == src)
    assert.are.same({ "array", { member = "chain" } }, format.container)
  end)

  -- Table-driven: each record and serde_json's text of the array holding it, written out here.
  local cases = {
    { name = "no blocks", records = {}, text = "[]" },
    { name = "empty vectors are [] and strings escape as serde_json does",
      records = { '{"index":0,"transactions":[],"s":"a\\"b\\\\c/d\\u0000\\u0008\\t\\n\\u000b\\f\\r\\u001f\\u007f\\u00e9"}' },
      text = '[\n  {\n    "index": 0,\n    "transactions": [],\n    "s": "a\\"b\\\\c/d\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\127é"\n  }\n]' },
    { name = "nested objects, u64 beyond int64, negative i64",
      records = { '{"a":[{"value":18446744073709551615,"t":-1}],"b":{}}', '{"c":[1,2]}' },
      text = '[\n  {\n    "a": [\n      {\n        "value": 18446744073709551615,\n        "t": -1\n      }\n    ],\n    "b": {}\n  },\n  {\n    "c": [\n      1,\n      2\n    ]\n  }\n]' },
  }
  for _, c in ipairs(cases) do
    it("(a) writer: " .. c.name, function()
      local out = helpers.tmpdir("aur") .. "/w.json"
      local w = format.writer(out)
      for _, r in ipairs(c.records) do w:write(json.decode(r)) end
      w:close()
      assert.are.equal(c.text, helpers.read_file(out))
    end)
  end

  it("(a) abort leaves the target as it was and no temporary file behind", function()
    local dir = helpers.tmpdir("aur")
    helpers.write_file(dir .. "/c.json", "old")
    local w = format.writer(dir .. "/c.json")
    w:write(json.decode('{"index":1}'))
    w:abort()
    assert.are.equal("old", helpers.read_file(dir .. "/c.json"))
    assert.are.same({ "c.json" }, helpers.ls(dir))
    assert.has_error(function() format.writer(dir .. "/d.json", { compress = "lz4" }) end)
  end)

  it("(a) a one-byte change in a record shows in the bytes (the oracle can fail)", function()
    local records = records_of(FIXTURE)
    records[10].transactions[1].signature = "x"
    local out = helpers.tmpdir("aur") .. "/m.json"
    local w = format.writer(out)
    for _, r in ipairs(records) do w:write(r) end
    w:close()
    assert.is_false(helpers.read_file(out) == helpers.read_file(FIXTURE))
  end)

  it("coinbase: no inputs, or one input spending \"0\"; renames as the model needs", function()
    local rule = {
      { {}, true },
      { { { tx_id = "0", output_index = 0 } }, true },
      { { { prev_tx_id = "0", output_index = 0 } }, true },
      { { { tx_id = "ab", output_index = 0 } }, false },
      { { { tx_id = "0", output_index = 0 }, { tx_id = "0", output_index = 1 } }, false },
    }
    for i, c in ipairs(rule) do
      assert.are.equal(c[2], format.coinbase({ inputs = c[1] }, 1, {}), "case " .. i)
    end
    assert.is_true(format.coinbase({}, 2, {}))
    assert.are.same({ input = { tx_id = "prev_tx_id" }, output = { amount = "value" } }, format.fields)
    assert.are.same({ unit = "integer" }, format.amount)
    assert.are.same({ empty_hash = true, duplicate_hash = true }, format.relax)
  end)
end)

describe("auriumchain-node layout", function()
  after_each(helpers.collect_and_cleanup)

  it("(b) bincode of a hand-made block equals the bytes packed here, field by field", function()
    local r = json.decode('{"index":7,"timestamp":-5,"transactions":[{"id":"t1","inputs":[{"prev_tx_id":"p",'
      .. '"output_index":3,"signature":"s","public_key":"k"}],"outputs":[{"value":18446744073709551615,'
      .. '"address":"A"},{"value":9223372036854775808,"address":""}],"timestamp":1,"signature":""}],'
      .. '"previous_hash":"","hash":"","nonce":0,"difficulty":4294967295,"miner_address":"m","merkle_root":"r"}')
    local expected = table.concat({
      "\7\0\0\0\0\0\0\0",                          -- index: u64
      "\251\255\255\255\255\255\255\255",          -- timestamp: i64 -5
      "\1\0\0\0\0\0\0\0",                          -- transactions: 1
      "\2\0\0\0\0\0\0\0t1",                        --   id
      "\1\0\0\0\0\0\0\0",                          --   inputs: 1
      "\1\0\0\0\0\0\0\0p", "\3\0\0\0\0\0\0\0",      --     prev_tx_id, output_index: usize = u64
      "\1\0\0\0\0\0\0\0s", "\1\0\0\0\0\0\0\0k",     --     signature, public_key
      "\2\0\0\0\0\0\0\0",                          --   outputs: 2
      "\255\255\255\255\255\255\255\255", "\1\0\0\0\0\0\0\0A",
      "\0\0\0\0\0\0\0\128", "\0\0\0\0\0\0\0\0",
      "\1\0\0\0\0\0\0\0", "\0\0\0\0\0\0\0\0",       --   timestamp 1, signature ""
      "\0\0\0\0\0\0\0\0", "\0\0\0\0\0\0\0\0",       -- previous_hash "", hash ""
      "\0\0\0\0\0\0\0\0", "\255\255\255\255",       -- nonce, difficulty: u32
      "\1\0\0\0\0\0\0\0m", "\1\0\0\0\0\0\0\0r",
    })
    assert.are.equal(expected, block_bytes(r))       -- the packer below agrees with the literal
    local bytes = layout.encode_block(r)
    assert.are.equal(expected, bytes)
    local back = layout.decode_block(bytes)
    assert.are.equal(json.encode(r), json.encode(back))
    local outs = back.transactions[1].outputs
    assert.are.equal(getmetatable(json.number("1")), getmetatable(outs[1].value))
    assert.are.equal("18446744073709551615", outs[1].value.text)
    assert.are.equal("9223372036854775808", outs[2].value.text)
    assert.are.equal("integer", math.type(back.timestamp))
    assert.are.equal(-5, back.timestamp)
  end)

  it("(b) every fixture block: bincode equals the packer's bytes and decodes back", function()
    for _, r in ipairs(records_of(FIXTURE)) do
      local bytes = layout.encode_block(r)
      assert.is_true(block_bytes(r) == bytes, "block " .. r.index)
      local back = layout.decode_block(bytes)
      assert.are.equal(json.encode(r), json.encode(back), "block " .. r.index)
      assert.are.same(json.keys(r), json.keys(back))
    end
  end)

  it("(b) the packer sees a changed field (the oracle can fail); bad bytes are refused", function()
    local r = records_of(FIXTURE)[14]
    local bytes = layout.encode_block(r)
    r.difficulty = 5
    assert.is_false(block_bytes(r) == bytes)
    assert.has_error(function() layout.decode_block(bytes:sub(1, -2)) end)
    assert.has_error(function() layout.decode_block(bytes .. "\0") end)
    assert.has_error(function() layout.decode_block(bytes:sub(1, 20)) end)
  end)

  it("(c) accounting here matches the fixture's expectations and the staged store", function()
    local records = records_of(FIXTURE)
    local facts, utxo, infos = account(records)
    local want = json.decode(helpers.read_file(EXPECTED))
    assert.are.equal(want.blocks, #records)
    assert.are.equal(want.txs, facts.txs)
    assert.are.equal(want.coinbases, facts.coinbases)
    assert.are.equal(want.spends, facts.spends)
    assert.are.equal(want.outputs, facts.outputs)
    assert.are.equal(want.utxos, facts.utxos)
    assert.are.equal(want.supply.text, facts.supply)
    assert.are.equal(want.minted.text, facts.minted)

    local dir = helpers.tmpdir("aur")
    local db <close> = quarry.open(dir .. "/db")
    assert.is_false((layout.detect(db)))
    assert.is_nil(layout.state(db))
    stage_all(db, records, infos)
    db:write(function(b)
      layout.stage_state(db, b, { base = 0, tip = 29, tip_hash = "", txs = facts.txs, utxos = facts.utxos,
        supply = json.number(facts.supply), marker = json.null, format = "auriumchain",
        relaxed = { empty_hash = 30, duplicate_hash = 29 } })
    end)

    -- the keys are the node's, plus the one meta key
    local utxo_keys, total, other = 0, {}, {}
    for k, v in db:pairs() do
      if k:sub(1, 5) == "utxo:" then
        utxo_keys = utxo_keys + 1
        local id, n = k:match("^utxo:(.+):(%d+)$")
        local u = utxo[id .. ":" .. n]
        assert.is_truthy(u, k)
        assert.are.equal(text_of(u.amount) .. ":" .. u.address, v)
        total = big_add(total, big(v:match("^(%d+):")))
      elseif not k:match("^block:%d+$") then
        other[#other + 1] = k
      end
    end
    assert.are.equal(want.utxos, utxo_keys)
    assert.are.equal(want.supply.text, big_text(total))
    assert.are.same({ "latest_index", "quarry:meta:state" }, other)   -- hashes are all "": none indexed
    assert.are.equal("29", db:get("latest_index"))
    -- the node's get_utxos_for_address walks from "utxo:" until the prefix ends: no meta key there
    local k = db:seek("utxo:")
    assert.are.equal("utxo:", k:sub(1, 5))
    assert.is_true("quarry:meta:state" < "utxo:")

    for i, r in ipairs(records) do
      assert.is_true(block_bytes(r) == db:get("block:" .. (i - 1)))
      assert.are.equal(json.encode(r), json.encode(layout.read(db, i - 1)))
      for _, t in ipairs(infos[i].txs) do
        for _, s in ipairs(t.spends) do assert.is_nil(layout.find_output(db, s.tx_id, s.n)) end
      end
    end
    assert.is_nil(layout.read(db, 30))
    local n = 0
    for h, r in layout.blocks(db) do
      n = n + 1
      assert.are.equal(h, r.index)
    end
    assert.are.equal(30, n)

    assert.are.equal("18446744073709551615", layout.find_output(db, "coinbase-17", 0).text)
    assert.is_nil(layout.find_output(db, "coinbase-17", 1))           -- spent at height 22
    local split = records[23].transactions[2].id
    assert.are.equal("9223372036854775808", layout.find_output(db, split, 0).text)
    assert.are.equal(9223372036854775807, layout.find_output(db, split, 1))
    assert.are.equal(5000000000, layout.find_output(db, "coinbase-22", 0))
    assert.is_nil(layout.find_output(db, "nope", 0))
    assert.is_nil(layout.find_hash(db, ""))

    local holds, desc = layout.detect(db)
    assert.is_true(holds)
    assert.are.equal(db:path() .. " holds 30 AuriumChain blocks (latest_index 29)", desc)
    local st = layout.state(db)
    assert.are.equal(facts.supply, st.supply.text)
    assert.are.equal(facts.utxos, st.utxos)
    assert.are.equal("auriumchain", st.format)
    assert.are.equal(29, st.relaxed.duplicate_hash)
  end)

  it("(c) the accounting sees a changed fixture (the oracle can fail)", function()
    local records = records_of(FIXTURE)
    records[30].transactions[1].outputs[1].value = 1
    local facts = account(records)
    local want = json.decode(helpers.read_file(EXPECTED))
    assert.are_not.equal(want.supply.text, facts.supply)
  end)

  it("hash:{hash} for indexed hashes only (non-empty, first occurrence), find_hash reads it", function()
    local records = {}
    for i, h in ipairs({ "aa", "", "bb", "aa" }) do
      records[i] = json.decode(('{"index":%d,"timestamp":0,"transactions":[],"previous_hash":"",'
        .. '"hash":"%s","nonce":0,"difficulty":4,"miner_address":"m","merkle_root":"r"}'):format(i - 1, h))
    end
    local _, _, infos = account(records)
    assert.are.same({ true, false, true, false }, { infos[1].hash_indexed, infos[2].hash_indexed,
      infos[3].hash_indexed, infos[4].hash_indexed })
    local db <close> = quarry.open(helpers.tmpdir("aur") .. "/db")
    stage_all(db, records, infos)
    assert.are.equal(0, layout.find_hash(db, "aa"))
    assert.are.equal(2, layout.find_hash(db, "bb"))
    assert.are.equal("0", db:get("hash:aa"))
    assert.is_nil(db:get("hash:"))
    assert.is_nil(layout.find_hash(db, "cc"))
    assert.are.equal("3", db:get("latest_index"))
  end)

  -- (d) Table-driven refusals: a change to fixture block 5 (its second transaction is a spend)
  -- and the words the error must hold.
  local refusals = {
    { "a missing field", function(b) b.transactions[2].signature = nil end,
      { "block 5", "transaction TX", "transactions%[2%]%.signature", "missing" } },
    { "an extra member", function(b) local t = b.transactions[2]; t[#t + 1] = "fee"; t.fee = 1 end,
      { "block 5", "transaction TX", "transactions%[2%]%.fee", "extra member" } },
    { "a value beyond u64", function(b) b.transactions[2].outputs[1].value = json.number("18446744073709551616") end,
      { "block 5", "transaction TX", "outputs%[1%]%.value", "beyond u64" } },
    { "a non-integer value", function(b) b.transactions[2].outputs[1].value = json.number("1.5") end,
      { "block 5", "transaction TX", "outputs%[1%]%.value", "not a u64" } },
    { "a float", function(b) b.transactions[2].outputs[1].value = 2.5 end,
      { "block 5", "transaction TX", "outputs%[1%]%.value", "float" } },
    { "a negative u64", function(b) b.transactions[2].inputs[1].output_index = -1 end,
      { "block 5", "transaction TX", "inputs%[1%]%.output_index", "negative" } },
    { "a timestamp beyond i64", function(b) b.transactions[2].timestamp = json.number("9223372036854775808") end,
      { "block 5", "transaction TX", "transactions%[2%]%.timestamp", "i64" } },
    { "a wrong type", function(b) b.hash = 5 end, { "block 5: hash", "string expected" } },
    { "difficulty beyond u32", function(b) b.difficulty = 4294967296 end, { "block 5: difficulty", "u32" } },
    { "a null string", function(b) b.transactions[2].outputs[1].address = json.null end,
      { "block 5", "transaction TX", "address", "string expected" } },
    { "an object for an array", function(b) b.transactions[2].inputs = json.object() end,
      { "block 5", "transaction TX", "inputs", "array expected" } },
  }
  for _, c in ipairs(refusals) do
    it("(d) refuses " .. c[1] .. ", naming the block, the transaction and the field", function()
      local b = records_of(FIXTURE)[6]
      local id = b.transactions[2].id
      c[2](b)
      local ok, err = pcall(layout.encode_block, b)
      assert.is_false(ok)
      for _, p in ipairs(c[3]) do
        assert.matches(p:gsub("TX", id), err)
      end
      -- stage refuses the same, and nothing of the batch is written
      local db <close> = quarry.open(helpers.tmpdir("aur") .. "/db")
      local ok2, err2 = pcall(db.write, db, function(batch)
        layout.stage(db, batch, b, b, { height = 5, hash_indexed = false, txs = {} })
      end)
      assert.is_false(ok2)
      assert.are.equal(err, err2)
      assert.is_nil(db:get("block:5"))
      assert.is_nil(db:get("latest_index"))
    end)
  end

  it("(d) refuses members out of the struct's order (bincode keeps no names)", function()
    local b = json.decode('{"timestamp":0,"index":1,"transactions":[],"previous_hash":"","hash":"",'
      .. '"nonce":0,"difficulty":4,"miner_address":"m","merkle_root":"r"}')
    local ok, err = pcall(layout.encode_block, b)
    assert.is_false(ok)
    assert.matches("block 1: index: out of order", err)
  end)
end)

-- 20-chain: the chain store library (quarry.chain): key and value encodings, append and queries,
-- every kind of invalid block refused with nothing written, groups, rollback, digests.
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")
local json = require("quarry.json")
local chain = require("quarry.chain")
local codec = require("quarry.chain.codec")

local function fixture_blocks()
  return ch.read_blocks(ch.fixtures .. "/small.json")
end

-- A store in a fresh directory with the first n fixture blocks appended.
local function store_with(n)
  local dir = helpers.tmpdir("chain")
  local store = chain.open(dir .. "/db")
  local blocks = fixture_blocks()
  for i = 1, n do store:append(blocks[i]) end
  return store, blocks, dir
end

local function digest(store) return (store:digest()) end

local function expect_invalid(fn, pattern)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected the block to be refused")
  assert.is_true(chain.is_invalid(err), "expected an InvalidChain error, got " .. tostring(err))
  assert.equal("InvalidChain", err.code)
  assert.truthy(tostring(err):find(pattern, 1, true),
    ("expected %q in %q"):format(pattern, tostring(err)))
  return err
end

describe("quarry.chain", function()
  after_each(helpers.collect_and_cleanup)

  describe("codec", function()
    it("varints round-trip every 64-bit value", function()
      for _, n in ipairs({ 0, 1, 127, 128, 255, 16383, 16384, 2097151, 2097152, 1 << 53, (1 << 53) + 1,
        math.maxinteger, -1, math.mininteger, -12345 }) do
        local s = codec.uv(n)
        local back, p = codec.ruv(s, 1)
        assert.equal(n, back)
        assert.equal(#s + 1, p)
      end
      assert.equal(1, #codec.uv(127))
      assert.equal(2, #codec.uv(128))
    end)

    it("varints from C (quarry.uvarint) equal the Lua reference's", function()
      assert.are_not.equal(codec.lua_uv, codec.uv) -- the C one is in use
      math.randomseed(7)
      local ns = { 0, 127, 128, 300, 16383, 16384, math.maxinteger, math.mininteger, -1 }
      for _ = 1, 2000 do ns[#ns + 1] = math.random(math.mininteger, math.maxinteger) >> math.random(0, 63) end
      for _, n in ipairs(ns) do
        assert.are.equal(codec.lua_uv(n), codec.uv(n), n)
        assert.are.equal(codec.lua_uv(n), require("quarry").uvarint(n), n)
      end
    end)

    it("hex in C (quarry.tohex/fromhex) gives the Lua reference's bytes and text", function()
      assert.are.equal(require("quarry").fromhex, codec.fromhex) -- the C one is in use
      math.randomseed(2026)
      for _, n in ipairs({ 0, 1, 2, 19, 20, 21, 31, 32, 33, 64, 100 }) do
        for _ = 1, 20 do
          local t = {}
          for i = 1, n do t[i] = string.char(math.random(0, 255)) end
          local raw = table.concat(t)
          local hex = codec.lua_tohex(raw)
          assert.are.equal(hex, codec.tohex(raw))
          assert.are.equal(raw, codec.fromhex(hex))
          assert.are.equal(codec.lua_fromhex(hex), codec.fromhex(hex))
          if n >= 32 then
            assert.are.equal(codec.lua_hex32_at(raw, 1), codec.hex32_at(raw, 1))
            assert.are.equal(codec.lua_hex32_at(raw, n - 31), codec.hex32_at(raw, n - 31))
          end
        end
      end
      -- hash and id keys: tag 1 + bytes for lowercase even-length hex, tag 0 + the text otherwise
      local h = string.rep("0123456789abcdef", 4)
      assert.are.equal("\1" .. codec.lua_fromhex(h), codec.skey(h))
      for _, text in ipairs({ "", "abc", "ABCD", "0g", "12 4", h:upper(), "z" .. h }) do
        assert.are.equal("\0" .. text, codec.skey(text), text)
        assert.are.equal(text, codec.string_of_skey(codec.skey(text)))
      end
      assert.are.equal(h, codec.string_of_skey(codec.skey(h)))
    end)

    it("order-preserving integers sort like numbers and round-trip", function()
      local ns = { 0, 1, 127, 128, 200, 16383, 16384, 2097151, 2097152, 268435455, 268435456,
        1 << 40, math.maxinteger }
      for i, n in ipairs(ns) do
        local s = codec.ov(n)
        assert.equal(n, (codec.rov(s, 1)))
        if i > 1 then assert.is_true(codec.ov(ns[i - 1]) < s) end
      end
      -- utxo keys sort like (height, tx, output)
      assert.is_true(codec.ukey(1, 300, 0) < codec.ukey(2, 0, 0))
      assert.is_true(codec.ukey(5, 1, 200) < codec.ukey(5, 2, 0))
      assert.same({ 70000, 3, 129 }, { codec.parse_ukey(codec.ukey(70000, 3, 129)) })
    end)

    it("hash keys store lowercase hex as bytes and keep every other string exactly", function()
      local cases = { "", "ab", "AB", "aB", "abc", "0x12", "zz", "\0a", "a\0",
        string.rep("0", 64), string.rep("f", 64), string.rep("F", 64), "01" }
      local seen = {}
      for _, s in ipairs(cases) do
        local k = codec.skey(s)
        assert.equal(s, codec.string_of_skey(k))
        assert.is_nil(seen[k], "two strings share a key: " .. s)
        seen[k] = true
      end
      assert.equal(33, #codec.skey(string.rep("a", 64)))
    end)

    -- Table-driven: any JSON value survives the generic encoding exactly.
    local values = {
      'null', 'true', 'false', '0', '-1', '9007199254740993', '-9223372036854775808',
      '9223372036854775807', '9223372036854775808', '123456789012345678901234567890',
      '-0', '0.0', '1.5', '1e400', '-2.5E-3', '1.50', '""', '"abc"', '"ABCD"', '"abc"',
      '"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"',
      '"0123456789abcdef0123456789abcdef01234567"', '"00"', '"0"',
      '"caf\\u00e9 \\ud83d\\ude00 \\"q\\" \\\\ \\n \\u0000"',
      '[]', '{}', '[1,[2,[3,[]]],{}]', '{"b":1,"a":2}', '{"index":1,"unknown key":[null]}',
      '{"amount":"12","address":5}', '[{"":0}]',
    }
    for _, text in ipairs(values) do
      it("keeps " .. text .. " exactly", function()
        local v = json.decode(text)
        local back = codec.decode_value(codec.encode_value(v))
        assert.equal(json.encode(v), json.encode(back))
      end)
    end

    it("refuses corrupt bytes with a decoding error", function()
      for _, s in ipairs({ "", "\99", "\7\5ab", "\3\128", "\12\1", "\6\3abc", "\6\0" }) do
        local ok, err = pcall(codec.decode_value, s)
        assert.is_false(ok)
        assert.is_true(err.corrupt)
      end
    end)
  end)

  describe("append and queries", function()
    it("keeps every block exactly, unknown fields and odd types included", function()
      local store, blocks = store_with(5)
      for h = 0, 4 do
        assert.equal(ch.encode(blocks[h + 1]), ch.encode(store:block(h)))
      end
      assert.is_nil(store:block(5))
      local tip, hash = store:tip()
      assert.equal(4, tip)
      assert.equal(blocks[5].hash, hash)
      store:close()
    end)

    it("answers block_by_hash, tx, utxo, supply", function()
      local store, blocks = store_with(5)
      local b, h = store:block_by_hash("0000000000000000000000000000000000000000000000000000000000000a02")
      assert.equal(2, h)
      assert.equal(ch.encode(blocks[3]), ch.encode(b))
      assert.is_nil(store:block_by_hash("nope"))
      local tx, th, tt = store:tx("ABCDEF0000000000000000000000000000000000000000000000000000000001")
      assert.equal(1, th)
      assert.equal(1, tt)
      assert.equal(ch.encode(blocks[2].transactions[2]), ch.encode(tx))
      -- coinbase-0:0 was spent in block 1; ABCDEF..01:0 is unspent
      assert.is_nil(store:utxo("coinbase-0", 0))
      local out, amount, oh = store:utxo("ABCDEF0000000000000000000000000000000000000000000000000000000001", 0)
      assert.equal(9007199254740000, amount)
      assert.equal(1, oh)
      assert.equal(ch.encode(blocks[2].transactions[2].outputs[1]), ch.encode(out))
      assert.is_nil(store:utxo("ABCDEF0000000000000000000000000000000000000000000000000000000001", 7))
      -- supply: the sum of the unspent amounts, exact beyond 2^53
      local sum = 0
      for _, e in ipairs({ { "ABCDEF0000000000000000000000000000000000000000000000000000000001", 0 },
        { "00000000000000000000000000000000000000000000000000000000000000c2", 0 },
        { "00000000000000000000000000000000000000000000000000000000000000d2", 1 },
        { "00000000000000000000000000000000000000000000000000000000000000c4", 0 },
        { "00000000000000000000000000000000000000000000000000000000000000e1", 0 } }) do
        local _, a = store:utxo(e[1], e[2])
        assert.is_not_nil(a, e[1])
        sum = sum + a
      end
      assert.equal(sum, store:supply())
      assert.same({ base = 0, tip = 4, tip_hash = blocks[5].hash, blocks = 5, txs = 8, utxos = 5,
        supply = sum }, store:stats())
      store:close()
    end)

    it("accepts blocks built in Lua from plain tables (json.array for empty arrays)", function()
      local dir = helpers.tmpdir("plain")
      local store = chain.open(dir .. "/db")
      local b = { index = 0, hash = "aa", previous_hash = json.null, transactions = json.array({
        { id = "t0", inputs = json.array(), outputs = { { address = "x", amount = 5 } } } }) }
      assert.equal(0, store:append(b))
      assert.equal(json.encode(b), json.encode(store:block(0)))
      assert.equal(5, store:supply())
      -- {} is an object for quarry.json, so not a list of transactions
      expect_invalid(function()
        store:append({ index = 1, hash = "bb", previous_hash = "aa", transactions = {} })
      end, "block 1: transactions must be an array, got {}")
      store:close()
    end)

    it("keeps its state across a reopen", function()
      local store, _, dir = store_with(3)
      local d = digest(store)
      local supply = store:supply()
      store:close()
      local again = chain.open(dir .. "/db")
      assert.equal(2, (again:tip()))
      assert.equal(supply, again:supply())
      assert.equal(d, digest(again))
      assert.is_true(again:verify().ok)
      again:close()
    end)

    it("opens read-only while a writer in this process holds the store (secondary fallback)", function()
      local store, _, dir = store_with(5)
      local reader = chain.open_reader(dir .. "/db")
      assert.equal(4, (reader:tip()))
      assert.is_true(reader:verify().ok)
      assert.has_error(function() reader:append({}) end)
      reader:close()
      store:close()
    end)

    it("refuses a database that is not a chain store", function()
      local dir = helpers.tmpdir("notchain")
      local quarry = require("quarry")
      local db = quarry.open(dir .. "/db", { column_families = { "blocks" } })
      db:put("x", "y")
      db:close()
      local ok, err = pcall(chain.open_reader, dir .. "/db")
      assert.is_false(ok)
      assert.matches("not a chain store", tostring(err))
    end)
  end)

  describe("invalid blocks", function()
    -- Each case: a change to a copy of fixture block 3 (or 4) and the message naming the block,
    -- transaction and input. The store holds blocks 0..2 (and 3 for the `after` cases).
    local C = ch.copy
    local function tx(id, ins, outs)
      local t = json.object()
      t[1], t[2], t[3] = "id", "inputs", "outputs"
      t.id = id
      t.inputs = json.array(ins or {})
      t.outputs = json.array(outs or {})
      return t
    end
    local function input(id, n)
      local i = json.object()
      i[1], i[2], i.tx_id, i.output_index = "tx_id", "output_index", id, n
      return i
    end
    local function output(a)
      local o = json.object()
      o[1], o[2], o.address, o.amount = "address", "amount", "aa", a
      return o
    end
    local D1 = "00000000000000000000000000000000000000000000000000000000000000d1"
    local D2 = "00000000000000000000000000000000000000000000000000000000000000d2"
    local C2 = "00000000000000000000000000000000000000000000000000000000000000c2"
    local cases = {
      { "a broken previous-hash link", function(b) b.previous_hash = string.rep("e", 64) end,
        "block 3: broken link: previous_hash \"eeee" },
      { "a gap", function(b) b.index = 5 end, "block 5: gap: expected height 3 after 2" },
      { "a duplicate height", function(b) b.index = 2 end,
        "block 2: duplicate height: the chain already holds heights up to 2" },
      { "a duplicate block hash", function(b) b.hash = "0000000000000000000000000000000000000000000000000000000000000a01" end,
        "block 3: duplicate block hash 0000000000000000000000000000000000000000000000000000000000000a01 (already block 1)" },
      { "an index that is not an integer", function(b) b.index = "3" end,
        "block 3: index must be a non-negative integer, got \"3\"" },
      { "a hash that is not a string", function(b) b.hash = 5 end, "block 3: hash must be a string" },
      { "transactions that are not an array", function(b) b.transactions = "none" end,
        "block 3: transactions must be an array" },
      { "a duplicate transaction id (earlier block)", function(b)
        b.transactions = json.array({ tx(D1, {}, { output(1) }) })
      end, "block 3 tx " .. D1 .. ": duplicate transaction id (already in block 2)" },
      { "a duplicate transaction id (same block)", function(b)
        b.transactions = json.array({ tx("x1", {}, { output(1) }), tx("x1", {}, {}) })
      end, "block 3 tx x1: duplicate transaction id (already in block 3)" },
      { "a spend of an already spent output", function(b)
        b.transactions = json.array({ tx("x1", { input("coinbase-0", 0) }, { output(1) }) })
      end, "block 3 tx x1 input 0: double spend of coinbase-0:0 (already spent)" },
      { "a double spend within a block", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input(C2, 0) }, { output(1) }),
          tx("x2", { input(C2, 0) }, { output(1) }) })
      end, "block 3 tx x2 input 0: double spend of " .. C2 .. ":0 (already spent by tx x1 in block 3)" },
      { "a double spend within a transaction", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input(C2, 0), input(C2, 0) }, { output(1) }) })
      end, "block 3 tx x1 input 1: double spend of " .. C2 .. ":0" },
      { "a spend of a missing transaction", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input("nope", 0) }, { output(1) }) })
      end, "block 3 tx x1 input 0: spend of a missing output nope:0 (no such transaction)" },
      { "a spend of a missing output index", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input(C2, 3) }, { output(1) }) })
      end, "block 3 tx x1 input 0: spend of a missing output " .. C2 .. ":3 (the transaction has 1 outputs)" },
      { "a spend of a later transaction of the same block", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input("x2", 0) }, { output(1) }),
          tx("x2", {}, { output(0) }) })
      end, "block 3 tx x1 input 0: spend of a missing output x2:0 (no such transaction)" },
      { "outputs exceeding inputs", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input(D2, 0) }, { output(4000000001) }) })
      end, "block 3 tx x1: outputs (4000000001) exceed inputs (4000000000)" },
      { "a second transaction without inputs creating money", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", {}, { output(1) }) })
      end, "block 3 tx x1: outputs (1) exceed inputs (0)" },
      { "a fractional amount", function(b)
        b.transactions = json.array({ tx("x0", {}, { output(json.number("1.5")) }) })
      end, "block 3 tx x0: output 0: amount must be an integer in 0..2^256-1, got 1.5" },
      { "an amount beyond 2^256-1", function(b)
        b.transactions = json.array({ tx("x0", {}, { output(json.number(
          "115792089237316195423570985008687907853269984665640564039457584007913129639936")) }) })
      end, "block 3 tx x0: output 0: amount must be an integer in 0..2^256-1, got 1157920892373161954235709850086879078532699846656405640394575840079131296399" },
      { "a negative amount", function(b)
        b.transactions = json.array({ tx("x0", {}, { output(-5) }) })
      end, "block 3 tx x0: output 0: amount must not be negative, got -5" },
      { "an amount as a string", function(b)
        b.transactions = json.array({ tx("x0", {}, { output("5") }) })
      end, "block 3 tx x0: output 0: amount must be an integer in 0..2^256-1, got \"5\"" },
      { "outputs summing beyond 2^256-1", function(b)
        local half = json.number("57896044618658097711785492504343953926634992332820282019728792003956564819968") -- 2^255
        b.transactions = json.array({ tx("x0", {}, { output(half), output(half) }) })
      end, "block 3 tx x0: the outputs' sum exceeds 2^256-1" },
      { "an output_index that is not an integer", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input(C2, json.number("0.0")) }, {}) })
      end, "block 3 tx x1 input 0: output_index must be a non-negative integer, got 0.0" },
      { "an input that is not an object", function(b)
        b.transactions = json.array({ tx("x0", {}, {}), tx("x1", { 5 }, {}) })
      end, "block 3 tx x1 input 0: an input must be an object, got 5" },
      { "a transaction without id", function(b)
        b.transactions = json.array({ json.object({ inputs = json.array() }) })
      end, "block 3: transaction 0: id must be a string, got null" },
    }
    for _, case in ipairs(cases) do
      it("refuses " .. case[1] .. " and writes nothing", function()
        local store, blocks = store_with(3)
        local before = digest(store)
        local bad = C(blocks[4])
        case[2](bad)
        expect_invalid(function() store:append(bad) end, case[3])
        assert.equal(before, digest(store))
        assert.equal(2, (store:tip()))
        -- the store is still consistent and accepts the right block
        store:append(blocks[4])
        store:append(blocks[5])
        assert.is_true(store:verify().ok)
        store:close()
      end)
    end

    it("refuses a value that is not a block", function()
      local store = store_with(1)
      expect_invalid(function() store:append("block") end, "block 1: a block must be a JSON object")
      expect_invalid(function() store:append(json.array({ 1 })) end, "a block must be a JSON object")
      store:close()
    end)

    it("refuses a double spend across the blocks of one group; nothing of the group is written", function()
      local store, blocks = store_with(3)
      local before = digest(store)
      local g = store:group()
      local b3 = C(blocks[4])
      b3.transactions = json.array({ tx("x0", {}, {}), tx("x1", { input(C2, 0) }, { output(1) }) })
      g:add(b3)
      local b4 = C(blocks[5])
      b4.transactions = json.array({ tx("x2", {}, {}), tx("x3", { input(C2, 0) }, { output(1) }) })
      expect_invalid(function() g:add(b4) end,
        "block 4 tx x3 input 0: double spend of " .. C2 .. ":0 (already spent by tx x1 in block 3)")
      assert.has_error(function() g:commit() end)
      g:discard()
      assert.equal(before, digest(store))
      assert.equal(2, (store:tip()))
      store:close()
    end)

    it("lets a block spend an output created earlier in its group", function()
      local store, blocks = store_with(3)
      local g = store:group()
      local b3 = C(blocks[4])
      b3.transactions = json.array({ tx("x0", {}, { output(10) }) })
      g:add(b3)
      local b4 = C(blocks[5])
      b4.transactions = json.array({ tx("x2", {}, {}), tx("x3", { input("x0", 0) }, { output(9) }) })
      g:add(b4)
      assert.equal(2, g:count())
      assert.equal(4, g:commit({ note = "hello" }))
      assert.equal("hello", store:meta("note"))
      assert.is_nil(store:utxo("x0", 0))
      assert.equal(9, select(2, store:utxo("x3", 0)))
      assert.is_true(store:verify().ok)
      store:close()
    end)
  end)

  describe("rollback", function()
    local function build(n, upto)
      local dir = helpers.tmpdir("rb")
      local store = chain.open(dir .. "/db")
      local blocks = ch.gen_blocks(n, 11)
      local g = store:group()
      for i = 1, upto or n do
        g:add(blocks[i])
        if g:count() == 50 then g:commit(); g = store:group() end
      end
      g:commit()
      return store, blocks
    end

    it("removes blocks with the undo records; re-appending them gives the same digest", function()
      local store, blocks = build(300)
      local full = digest(store)
      local supply = store:supply()
      assert.equal(149, store:rollback(150))
      assert.equal(150, (store:tip()))
      assert.is_true(store:verify().ok)
      -- the same as a store that only ever had blocks 0..150
      local prefix = build(300, 151)
      assert.equal(digest(prefix), digest(store))
      assert.equal(prefix:supply(), store:supply())
      prefix:close()
      for h = 151, 299 do store:append(blocks[h + 1]) end
      assert.equal(full, digest(store))
      assert.equal(supply, store:supply())
      store:close()
    end)

    it("rolls back below the first block to an empty chain, and rebuilds", function()
      local store, blocks = build(60)
      local full = digest(store)
      assert.equal(60, store:rollback(-1))
      assert.is_nil((store:tip()))
      assert.equal(0, store:supply())
      for _, name in ipairs(chain.FAMILIES) do
        assert.is_nil(chain.first_key(store.cf[name]), name .. " is not empty")
      end
      for i = 1, 60 do store:append(blocks[i]) end
      assert.equal(full, digest(store))
      assert.equal(0, store:rollback(59))
      store:close()
    end)

    it("rolls back blocks with spends inside the block and odd fields", function()
      local store, blocks = store_with(5)
      local d2 = nil
      store:rollback(2)
      d2 = digest(store)
      local again = store_with(3)
      assert.equal(digest(again), d2)
      again:close()
      store:append(blocks[4])
      store:append(blocks[5])
      assert.equal(ch.encode(blocks[5]), ch.encode(store:block(4)))
      assert.is_true(store:verify().ok)
      store:close()
    end)
  end)

  it("digests tell databases apart and ignore nothing", function()
    local a = store_with(5)
    local b = store_with(5)
    assert.equal(digest(a), digest(b))
    b:set_meta("x", "1")
    assert.are_not.equal(digest(a), digest(b))
    a:close()
    b:close()
  end)
end)

-- 27-fastpath: the C hot path of a migration (quarry.chain.fast, through quarry.chain.fastgroup)
-- against the Lua path (Group:add and quarry.chain.codec, the reference whose bytes spec/25 pins):
-- the same store, family by family (quarry.chain.digest), for generated quarry dumps of several
-- seeds, the Bitcoin fixture generator's chains and the AuriumChain fixtures; every refusal with
-- the same message and the same committed groups; the reader's errors; values the C path leaves
-- to Lua (amounts of 2^63 and more) taken exactly.
local helpers = require("spec.helpers")
local ch = require("spec.chain_helpers")
local json = require("quarry.json")
local chain = require("quarry.chain")
local migrate = require("quarry.chain.migrate")
local formats = require("quarry.chain.formats")

-- Migrates src into a new db through the given path ("c" or "lua"); returns the report (or nil,
-- the error and the failure record), and the db.
local function run(dir, src, path, format, extra)
  local db = helpers.tmpdir("fp-" .. path)
  local failure = {}
  local opts = { json = src, db = db .. "/db", format = format, path = path, failure = failure }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local ok, r = pcall(migrate.run, opts)
  if not ok then return nil, r, failure, db .. "/db" end
  return r, nil, nil, db .. "/db"
end

local function both(src, format, extra)
  local dir = helpers.tmpdir("fp")
  local rc, ec, fc, dbc = run(dir, src, "c", format, extra)
  local rl, el, fl, dbl = run(dir, src, "lua", format, extra)
  return { r = rc, err = ec, failure = fc, db = dbc }, { r = rl, err = el, failure = fl, db = dbl }
end

local function same_store(c, l, note)
  assert(c.r, "C path failed: " .. tostring(c.err) .. " " .. note)
  assert(l.r, "Lua path failed: " .. tostring(l.err) .. " " .. note)
  assert.equal("c", c.r.path, note)
  assert.equal("lua", l.r.path, note)
  local dc, pc = ch.digest(c.db)
  local dl, pl = ch.digest(l.db)
  assert.same(pl, pc, note)
  assert.equal(dl, dc, note)
  assert.equal(l.r.supply, c.r.supply, note)
  assert.same(l.r.relaxed, c.r.relaxed, note)
end

describe("the C hot path of a migration", function()
  after_each(helpers.collect_and_cleanup)

  it("gives the Lua path's store for generated dumps of several seeds and group sizes", function()
    local seed0 = helpers.seed(27)
    for i, blocks in ipairs({ 700, 1300, 2100 }) do
      local seed = seed0 + i
      local dir = helpers.tmpdir("gen")
      local src = dir .. "/chain.json"
      ch.ok({ "gen", "--blocks", tostring(blocks), "--seed", tostring(seed), "--out", src })
      for _, gb in ipairs({ 1000, 97 }) do
        local c, l = both(src, nil, { group_blocks = gb })
        same_store(c, l, ("%d blocks, groups of %d %s"):format(blocks, gb, helpers.seed_note(seed)))
      end
    end
  end)

  it("takes the quarry format, bitcoin-core and auriumchain; not a format with its own functions", function()
    local fg = require("quarry.chain.fastgroup")
    local layout = require("quarry.chain.layout").load(nil)
    for _, name in ipairs({ "quarry", "bitcoin-core", "auriumchain" }) do
      assert.equal("c", fg.path(formats.load(name), layout), name)
      assert.equal("lua", fg.path(formats.load(name), layout, "lua"), name)
    end
    -- bitcoin-core's rules as plain Lua functions (no `native` declaration): the Lua path
    local plain = {}
    for k, v in pairs(require("quarry.chain.formats.bitcoin_core")) do plain[k] = v end
    plain.native = nil
    assert.equal("lua", fg.path(formats.prepare(plain, "plain"), layout))
    -- a layout other than the chain store: Lua
    assert.equal("lua", fg.path(formats.load("quarry"), require("quarry.chain.layout").load("auriumchain-node")))
  end)

  it("gives the Lua path's store for the Bitcoin fixture chains (several seeds, both containers)", function()
    local fx = require("spec.bitcoin_fixture")
    local want = require("spec.fixtures.bitcoin_expect")
    local seed0 = helpers.seed(76)
    for i = 0, 2 do
      local o = {}
      for k, v in pairs(want.options) do o[k] = v end
      o.seed = seed0 + i
      o.blocks = 40 + 10 * i
      local dir = helpers.tmpdir("btc")
      local paths = fx.write(fx.generate(o), dir)
      for _, form in ipairs({ "array", "jsonl" }) do
        local c, l = both(paths[form], "bitcoin-core")
        same_store(c, l, form .. " " .. helpers.seed_note(o.seed))
        if i == 0 and form == "array" then -- the generator's own figures, not the engine's
          assert.equal(want.expect.supply, c.r.supply)
          assert.equal(want.expect.unspendable_outputs, c.r.relaxed.unspendable)
        end
      end
    end
  end)

  it("gives the Lua path's store for the AuriumChain fixtures", function()
    local gen = dofile("spec/aurium_fixture.lua")
    local dir = helpers.tmpdir("aur")
    local c, l = both("spec/fixtures/auriumchain/chain.json", "auriumchain")
    same_store(c, l, "spec/fixtures/auriumchain/chain.json")
    for _, n in ipairs({ 12, 45 }) do
      local text = gen.generate(n)
      local path = dir .. "/chain" .. n .. ".json"
      helpers.write_file(path, text)
      c, l = both(path, "auriumchain", { group_blocks = 7 })
      same_store(c, l, path)
    end
  end)

  -- A generated chain with block `at` changed by edit(block, blocks): both paths refuse it with the
  -- same message, leaving the same committed groups.
  local function refused(blocks_n, at, edit, expect)
    local dir = helpers.tmpdir("bad")
    local blocks = ch.gen_blocks(blocks_n, 5)
    edit(blocks[at + 1], blocks)
    local src = dir .. "/chain.json"
    ch.write_blocks(src, blocks)
    local c, l = both(src, nil, { group_blocks = 50 })
    assert.is_nil(c.r)
    assert.is_nil(l.r)
    assert.equal(tostring(l.err), tostring(c.err))
    assert.matches(expect, tostring(c.err), 1, true)
    assert.equal(l.failure.tip, c.failure.tip)
    assert.equal(l.failure.added, c.failure.added)
    if l.failure.tip then assert.equal(ch.digest(l.db), ch.digest(c.db)) end
  end

  it("refuses every invalid block with the Lua path's message and commits the same groups", function()
    local function tx_with_input(b)
      for t = 2, #b.transactions do
        if #b.transactions[t].inputs > 0 then return b.transactions[t] end
      end
    end
    refused(180, 130, function(b, all)
      local tx = tx_with_input(b)
      local other = tx_with_input(all[120])
      tx.inputs[1] = json.object({ tx_id = other.inputs[1].tx_id, output_index = other.inputs[1].output_index })
    end, "double spend")
    refused(180, 125, function(b) tx_with_input(b).inputs[1].tx_id = ("ab"):rep(32) end, "no such transaction")
    refused(180, 101, function(b) tx_with_input(b).inputs[1].output_index = 999 end, "the transaction has")
    refused(180, 77, function(b) tx_with_input(b).outputs[1].amount = 10 ^ 15 // 1 end, "exceed inputs")
    refused(180, 140, function(b) b.previous_hash = ("00"):rep(32) end, "broken link")
    refused(180, 60, function(b) b.index = 61 end, "gap")
    refused(180, 99, function(b, all) b.transactions[2].id = all[50].transactions[1].id end, "duplicate transaction id")
    refused(180, 150, function(b, all) b.hash = all[10].hash end, "duplicate block hash")
    refused(180, 33, function(b) b.transactions[1].outputs[1].amount = -5 end, "amount")
    refused(180, 66, function(b) b.transactions[1].outputs[1].amount = "12" end, "amount")
    refused(180, 111, function(b) b.transactions = json.object({}) end, "transactions must be an array")
  end)

  it("takes amounts beyond 64 bits, leaves those of 2^128 and more to Lua, storing both exactly", function()
    local fg = require("quarry.chain.fastgroup")
    local dir = helpers.tmpdir("big")
    local blocks = ch.gen_blocks(300, 9)
    -- a coinbase of 2^64 at block 120 (exact in C), one of 2^130 at block 200 (quarry.u256: the
    -- C path gives that group, blocks 200 to 239, to Lua; later spends burn it as fees)
    blocks[121].transactions[1].outputs[1].amount = json.number("18446744073709551616")
    blocks[201].transactions[1].outputs[1].amount = json.number("1361129467683753853853498429727072845824")
    local src = dir .. "/chain.json"
    ch.write_blocks(src, blocks)
    local open, runner = fg.open, nil
    fg.open = function(...) runner = open(...); return runner end
    local ok, c, l = pcall(both, src, nil, { group_blocks = 40 })
    fg.open = open
    assert(ok, c)
    same_store(c, l, "big amounts")
    assert.equal(260, runner.blocks) -- all but the group of block 200 through C
    assert.equal(1, runner.replayed)  -- block 200, the first of its group
  end)

  it("reports the reader's errors as the Lua path does, after the same committed groups", function()
    local dir = helpers.tmpdir("trunc")
    local src = ch.gen(dir, "chain.json", 400)
    local text = helpers.read_file(src)
    local cut = dir .. "/cut.json"
    helpers.write_file(cut, text:sub(1, #text * 3 // 4) .. "{\"index\": oops")
    local c, l = both(cut, nil, { group_blocks = 60 })
    assert.is_nil(c.r)
    assert.equal(tostring(l.err), tostring(c.err))
    assert.matches("parse error", tostring(c.err), 1, true)
    assert.equal(l.failure.tip, c.failure.tip)
    assert.equal(ch.digest(l.db), ch.digest(c.db))
  end)

  it("resumes a migration the Lua path began, and the Lua path resumes the C path's", function()
    local dir = helpers.tmpdir("resume")
    local blocks = ch.gen_blocks(500, 11)
    local head = {}
    for i = 1, 260 do head[i] = blocks[i] end
    local part, full = dir .. "/part.json", dir .. "/full.json"
    ch.write_blocks(part, head)
    ch.write_blocks(full, blocks)
    local ref = select(4, run(dir, full, "lua"))
    for _, order in ipairs({ { "lua", "c" }, { "c", "lua" } }) do
      local db = helpers.tmpdir("rs") .. "/db"
      assert(pcall(migrate.run, { json = part, db = db, path = order[1] }))
      local r = migrate.run({ json = full, db = db, path = order[2], resume = true })
      assert.equal(order[2], r.path)
      assert.equal(240, r.added)
      assert.equal(ch.digest(ref, ch.DATA), ch.digest(db, ch.DATA))
    end
  end)
end)

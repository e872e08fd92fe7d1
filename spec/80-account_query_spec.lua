-- 80-account-query: quarry.chain.account.query against the independent oracle
-- (spec/account_oracle.lua: answers computed by scanning the dump's records, never the store):
-- blocks and transactions as the dump gave them, address history in both orders paged through by
-- cursors, random eth_getLogs filters (fixed seed, printed on failure), the result bound, bad
-- input, cursors across appends, and the snapshot: a query running while a group commits sees
-- the whole group or none of it.
local helpers = require("spec.helpers")
local json = require("quarry.json")
local account = require("quarry.chain.account")
local query = require("quarry.chain.account.query")
local oracle = require("spec.account_oracle")
local gen = require("quarry.cli.gen.ethereum")

local NULL = json.null
local SEED = helpers.seed(8014)
local enc = json.encode

-- The records of a generated chain (heights 0 .. n-1).
local function chain(n, seed, options)
  local list = {}
  local o = { blocks = n, seed = seed, txs_per_block = 6, addresses = 60 }
  for k, v in pairs(options or {}) do o[k] = v end
  gen.chain(o, function(rec) list[#list + 1] = json.decode(enc(rec)) end)
  return list
end

-- A store holding records[first..last], committed in groups of `per` blocks.
local function load(store, records, first, last, per)
  per = per or 25
  local g
  for i = first, last do
    g = g or store:group()
    g:add(records[i])
    if g:count() == per or i == last then g:commit(); g = nil end
  end
end

local function fresh(records, upto)
  local dir = helpers.tmpdir("acct-query")
  local store = account.open(dir .. "/db")
  load(store, records, 1, upto or #records)
  return store, dir .. "/db"
end

-- Every address and topic the chain mentions, plus ones it does not.
local function population(o)
  local addrs, topics = oracle.addresses(o), oracle.topics(o)
  addrs[#addrs + 1] = ("0x%040x"):format(0xdead)
  topics[#topics + 1] = ("0x%064x"):format(0xbeef)
  return addrs, topics
end

-- All pages of a history query concatenated, and the number of pages.
local function all_pages(q, address, opts)
  local out, pages, after = {}, 0, nil
  repeat
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    o.after = after
    local p = q:history(address, o)
    pages = pages + 1
    assert.is_true(#p.entries <= (opts.limit or query.HISTORY_LIMIT))
    for _, e in ipairs(p.entries) do
      out[#out + 1] = { block_number = e.block_number, transaction_index = e.transaction_index,
        hash = e.hash, roles = table.concat(e.roles, ",") }
    end
    after = p.cursor ~= NULL and p.cursor or nil
    assert.is_true(pages < 10000)
  until after == nil
  return out, pages
end

-- The oracle's history of address in [from, to], oldest first, in the same shape.
local function expected_history(o, address, from, to, newest)
  local out = {}
  for _, e in ipairs(oracle.history(o, address, from, to)) do
    out[#out + 1] = { block_number = e.height, transaction_index = e.index, hash = e.hash:lower(),
      roles = table.concat(e.roles, ",") }
  end
  if newest then
    local r = {}
    for i = #out, 1, -1 do r[#r + 1] = out[i] end
    out = r
  end
  return out
end

-- A random eth_getLogs filter over a chain of heights 0..tip.
local function random_filter(rnd, tip, addrs, topics, hashes)
  local f = json.object()
  local function set(k, v) f[#f + 1] = k; f[k] = v end
  local kind = rnd(10)
  if kind == 1 then
    set("blockHash", hashes[rnd(#hashes)])
  else
    local a, b = rnd(tip + 1) - 1, rnd(tip + 1) - 1
    if a > b then a, b = b, a end
    local forms = { function(x) return x end, function(x) return ("0x%x"):format(x) end }
    if rnd(6) > 1 then set("fromBlock", rnd(8) == 1 and "earliest" or forms[rnd(2)](a)) end
    if rnd(6) > 1 then set("toBlock", rnd(8) == 1 and "latest" or forms[rnd(2)](b)) end
  end
  local ak = rnd(4)
  if ak == 2 then set("address", addrs[rnd(#addrs)])
  elseif ak == 3 then
    local l = json.array()
    for i = 1, rnd(3) do l[i] = addrs[rnd(#addrs)] end
    set("address", l)
  elseif ak == 4 and rnd(2) == 1 then
    set("address", json.array()) -- any
  end
  if rnd(3) > 1 then
    local t = json.array()
    for i = 1, rnd(4) do
      local c = rnd(4)
      if c == 1 then t[i] = NULL
      elseif c == 2 then
        local l = json.array()
        for j = 1, rnd(3) do l[j] = topics[rnd(#topics)] end
        t[i] = l
      else t[i] = topics[rnd(#topics)] end
    end
    set("topics", t)
  end
  return f
end

describe("account-chain queries", function()
  local records, o, store, path, q
  setup(function()
    records = chain(240, SEED)
    o = oracle.new(records)
    store, path = fresh(records)
    q = query.new(store)
  end)
  teardown(function()
    if store then store:close() end
    helpers.cleanup()
  end)

  it("return each block as eth_getBlockByNumber does, by number, hash and tag, with and without bodies", function()
    for h = 0, #records - 1 do
      local full = oracle.block(o, h, true)
      local bare = oracle.block(o, h, false)
      assert.are.equal(enc(bare), enc(q:block(h)), "block " .. h)
      assert.are.equal(enc(full), enc(q:block(h, true)), "block " .. h .. " full")
      assert.are.equal(enc(bare), enc(q:block(("0x%x"):format(h))))
      assert.are.equal(enc(full), enc(q:block(full.hash, true)), "block by hash " .. full.hash)
      assert.are.equal(enc(bare), enc(q:block("0x" .. full.hash:sub(3):upper())))
    end
    assert.are.equal(enc(oracle.block(o, #records - 1, true)), enc(q:block("latest", true)))
    assert.are.equal(enc(oracle.block(o, #records - 1, false)), enc(q:block("pending")))
    assert.are.equal(enc(oracle.block(o, 0, false)), enc(q:block("earliest")))
    assert.is_nil(q:block(#records))
    assert.is_nil(q:block(("0x%064x"):format(1)))
  end)

  it("return each transaction with its receipt exactly as the dump gave them", function()
    local n = 0
    for _, tx in ipairs(oracle.transactions(o)) do
      local r = q:tx(tx.hash)
      assert.are.equal(enc(tx), enc(r.transaction), tx.hash)
      local rc = oracle.receipt(o, tx.hash)
      assert.are.equal(rc and enc(rc) or enc(NULL), enc(r.receipt), tx.hash)
      assert.are.equal(oracle.quantity(tx.blockNumber), r.block_number)
      assert.are.equal(oracle.quantity(tx.transactionIndex), r.transaction_index)
      n = n + 1
    end
    assert.is_true(n > 500)
    assert.is_nil(q:tx(("0x%064x"):format(7)))
  end)

  it("page through every address's history in both orders, by cursor, equal to the oracle", function()
    local addrs = population(o)
    math.randomseed(SEED)
    local total = 0
    for n, a in ipairs(addrs) do
      local limit = math.random(1, 9)
      local want = expected_history(o, a, 0, #records - 1)
      local got, pages = all_pages(q, a, { limit = limit })
      assert.are.same(want, got, ("history of %s, limit %d %s"):format(a, limit, helpers.seed_note(SEED)))
      assert.are.equal(math.max(1, math.ceil(#want / limit)), pages)
      local back = all_pages(q, a, { limit = limit, order = "newest" })
      assert.are.same(expected_history(o, a, 0, #records - 1, true), back,
        ("newest first of %s %s"):format(a, helpers.seed_note(SEED)))
      -- a height range, with the address in upper case
      local lo = math.random(0, #records - 1)
      local hi = math.random(lo, #records - 1)
      local upper = "0x" .. a:sub(3):upper()
      assert.are.same(expected_history(o, a, lo, hi), (all_pages(q, upper, { from = lo, to = hi, limit = limit })),
        ("history of %s in %d..%d %s"):format(a, lo, hi, helpers.seed_note(SEED)))
      total = total + #want
      if n == 1 then assert.is_true(#want > 0) end
    end
    assert.is_true(total > 1000, "the chain has too few history entries to test: " .. total)
  end)

  it("answer random eth_getLogs filters as the oracle does, in chain order", function()
    local addrs, topics = population(o)
    local hashes = {}
    for h = 0, #records - 1 do hashes[#hashes + 1] = oracle.block(o, h, false).hash end
    math.randomseed(SEED)
    local rnd = math.random
    local nonempty, total = 0, 0
    for n = 1, 400 do
      local f = random_filter(rnd, #records - 1, addrs, topics, hashes)
      local want = oracle.logs(o, f)
      local got = q:logs(f, { max_results = 1000000 })
      assert.are.equal(enc(want), enc(got),
        ("filter %d %s %s"):format(n, enc(f), helpers.seed_note(SEED)))
      if #want > 0 then nonempty = nonempty + 1 end
      total = total + #want
    end
    assert.is_true(nonempty > 100, "too few filters matched anything: " .. nonempty)
    -- the whole chain, no address or topic: every log
    assert.are.equal(enc(oracle.logs(o, { fromBlock = "earliest" })),
      enc(q:logs({ fromBlock = "earliest" }, { max_results = 1000000 })))
  end)

  it("choose the most selective index and still answer the same", function()
    local addrs, topics = population(o)
    local f = { fromBlock = 0, toBlock = "latest", address = addrs[1], topics = { topics[1] } }
    local e = q:explain(f, { max_results = 1000000 })
    local na = #oracle.logs(o, { fromBlock = 0, address = addrs[1] })
    local nt = #oracle.logs(o, { fromBlock = 0, topics = { topics[1] } })
    assert.are.equal(na <= nt and "logs_by_address" or "logs_by_topic", e.index,
      ("address has %d logs, topic %d"):format(na, nt))
    assert.are.equal(math.min(na, nt), e.candidates)
    assert.are.equal("receipts", q:explain({ fromBlock = 0 }, { max_results = 1000000 }).index)
  end)

  it("refuse a query returning more than the bound, naming it", function()
    local all = #oracle.logs(o, { fromBlock = 0 })
    assert.is_true(all > 10)
    assert.are.equal(all, #q:logs({ fromBlock = 0 }, { max_results = all }))
    helpers.raises_plain("query returned more than " .. (all - 1) .. " results",
      q.logs, q, { fromBlock = 0 }, { max_results = all - 1 })
    local a = population(o)[1]
    local na = #oracle.logs(o, { fromBlock = 0, address = a })
    assert.is_true(na > 1)
    helpers.raises_plain("query returned more than " .. (na - 1) .. " results",
      q.logs, q, { fromBlock = 0, address = a }, { max_results = na - 1 })
  end)

  it("refuse bad input with the argument's name", function()
    local cases = {
      { { fromBlock = 9, toBlock = 3 }, "filter: fromBlock (9) is above toBlock (3)" },
      { { fromBlock = "0xzz" }, "filter.fromBlock must be" },
      { { toBlock = "newest" }, "filter.toBlock must be a block number" },
      { { fromBlock = "finalized" }, "filter.fromBlock: \"finalized\"" },
      { { address = "0x12" }, "filter.address must be 0x followed by 40 hex digits" },
      { { address = { ("0x%040x"):format(1), "0xg" } }, "filter.address[1] must be 0x" },
      { { topics = { "0x01" } }, "filter.topics[0] must be 0x followed by 64 hex digits" },
      { { topics = { NULL, { 5 } } }, "filter.topics[1][0] must be a hex string" },
      { { topics = { NULL, NULL, NULL, NULL, NULL } }, "filter.topics has 5 positions" },
      { { blockHash = ("0x%064x"):format(1), fromBlock = 1 }, "blockHash cannot be combined" },
      { { blockHash = ("0x%064x"):format(1) }, "no block with this hash" },
      { { frmBlock = 1 }, "unknown member \"frmBlock\"" },
      { "latest", "filter must be an object" },
    }
    for _, c in ipairs(cases) do
      helpers.raises_plain(c[2], q.logs, q, c[1])
    end
    helpers.raises_plain("address must be 0x followed by 40 hex digits", q.history, q, "0x1234")
    helpers.raises_plain("from (9) is above to (3)", q.history, q, ("0x%040x"):format(1), { from = 9, to = 3 })
    helpers.raises_plain("limit must be a positive integer", q.history, q, ("0x%040x"):format(1), { limit = 0 })
    helpers.raises_plain("after: \"bogus\" is not a cursor", q.history, q, ("0x%040x"):format(1), { after = "bogus" })
    local a = population(o)[1]
    local p = q:history(a, { limit = 1 })
    helpers.raises_plain("after: this cursor was returned for another address or order", q.history, q, a,
      { limit = 1, after = p.cursor, order = "newest" })
    helpers.raises_plain("after: this cursor was returned for another address or order", q.history, q,
      ("0x%040x"):format(1), { after = p.cursor })
    helpers.raises_plain("transaction hash must be 0x followed by 64 hex digits", q.tx, q, "0x1")
    helpers.raises_plain("block must be a block number", q.block, q, "tip")
    helpers.raises_plain("block must be a block number >= 0", q.block, q, -1)
  end)
end)

describe("account-chain queries across appends", function()
  after_each(helpers.collect_and_cleanup)

  local function ids(entries, into)
    into = into or {}
    for _, e in ipairs(entries) do into[#into + 1] = e.block_number .. ":" .. e.transaction_index end
    return into
  end
  local function oracle_ids(o, a, from, to)
    local t = {}
    for _, e in ipairs(oracle.history(o, a, from, to)) do t[#t + 1] = e.height .. ":" .. e.index end
    return t
  end

  it("continue a cursor exactly after its entry while blocks are appended", function()
    local records = chain(200, SEED + 1)
    local o = oracle.new(records)
    local store <close> = fresh(records, 100)
    local q = query.new(store)
    local addrs = population(o)
    math.randomseed(SEED + 1)
    -- before the append: up to two pages oldest first, one page newest first
    local st = {}
    for n, a in ipairs(addrs) do
      local s = { limit = math.random(1, 4), up = {}, down = {} }
      for _ = 1, 2 do
        local p = q:history(a, { limit = s.limit, after = s.after })
        ids(p.entries, s.up)
        s.after = p.cursor ~= NULL and p.cursor or nil
        if not s.after then break end
      end
      local p = q:history(a, { limit = s.limit, order = "newest" })
      ids(p.entries, s.down)
      s.down_after = p.cursor ~= NULL and p.cursor or nil
      st[n] = s
    end
    load(store, records, 101, 200)
    local continued = 0
    for n, a in ipairs(addrs) do
      local s = st[n]
      local old = oracle_ids(o, a, 0, 99)
      local note = ("%s, limit %d %s"):format(a, s.limit, helpers.seed_note(SEED + 1))
      if s.after then
        -- oldest first: the rest of the old blocks, then the appended ones
        while s.after do
          local p = q:history(a, { limit = s.limit, after = s.after })
          ids(p.entries, s.up)
          s.after = p.cursor ~= NULL and p.cursor or nil
        end
        assert.are.same(oracle_ids(o, a, 0, 199), s.up, note)
        continued = continued + 1
      else
        assert.are.same(old, s.up, note)
      end
      -- newest first: on downwards from the page's last entry, nothing appended in between
      if s.down_after then
        ids(q:history(a, { limit = 100000, order = "newest", after = s.down_after }).entries, s.down)
      end
      local r = {}
      for i = #old, 1, -1 do r[#r + 1] = old[i] end
      assert.are.same(r, s.down, note)
    end
    assert.is_true(continued > 5, "too few cursors crossed the append: " .. continued)
  end)

  it("see a group committed during a query wholly or not at all (one snapshot per call)", function()
    local records = chain(220, SEED + 2)
    local o = oracle.new(records)
    local store <close> = fresh(records, 60)
    local q = query.new(store)
    local addrs, topics = population(o)
    local pending = 60 -- the next height to commit
    -- the hook commits the next 20 blocks right after each query took its snapshot
    q._on_snapshot = function()
      if pending < #records then
        load(store, records, pending + 1, pending + 20, 20)
        pending = pending + 20
      end
    end
    -- a block committed during the call is not there, whole or in part
    assert.is_nil(q:block(pending, true))
    assert.are.equal(80, pending)
    local tx
    for h = pending, pending + 19 do
      local b = oracle.block(o, h, true)
      if #b.transactions > 0 then tx = b.transactions[1].hash; break end
    end
    assert.is_nil(q:tx(tx))
    -- "latest" is the tip of the call's view, with all its transactions
    local before = pending - 1
    assert.are.equal(enc(oracle.block(o, before, true)), enc(q:block("latest", true)))
    -- ranges past the view's tip end at it: nothing of the group committed meanwhile
    for i = 1, 2 do
      before = pending - 1
      local got = q:logs({ fromBlock = 0, toBlock = 1000000, topics = { topics[i] } }, { max_results = 1000000 })
      assert.are.equal(enc(oracle.logs(o, { fromBlock = 0, toBlock = before, topics = { topics[i] } })),
        enc(got), "logs of topic " .. topics[i])
      before = pending - 1
      local h = q:history(addrs[i], { to = 1000000, limit = 100000, order = "newest" })
      local gotl = {}
      for _, e in ipairs(h.entries) do
        gotl[#gotl + 1] = { block_number = e.block_number, transaction_index = e.transaction_index,
          hash = e.hash, roles = table.concat(e.roles, ",") }
      end
      assert.are.same(expected_history(o, addrs[i], 0, before, true), gotl, "history of " .. addrs[i])
      assert.is_true(pending - 1 > before)
    end
    q._on_snapshot = nil
    assert.are.equal(pending - 1, (q:tip()))
    assert.are.equal(enc(oracle.block(o, pending - 1, true)), enc(q:block("latest", true)))
  end)
end)

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
local targets = require("spec.account_targets")
local gen = require("quarry.cli.gen.ethereum")

local NULL = json.null
local SEED = helpers.seed(8014)
local enc = json.encode
local lower = string.lower

-- A generated chain (heights 0 .. n-1): its records, and the oracle over its dump file.
local function chain(n, seed, options)
  local list = {}
  local o = { blocks = n, seed = seed, txs_per_block = 6, addresses = 60 }
  for k, v in pairs(options or {}) do o[k] = v end
  local path = helpers.tmpdir("acct-dump") .. "/chain.jsonl"
  local w = json.writer(path, { format = "jsonl" })
  gen.chain(o, function(rec) w:write(rec) end)
  w:close()
  for rec in json.reader(path):each() do list[#list + 1] = rec end
  return list, oracle.open(path)
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

local population = targets.population

-- The role names of the oracle's role bits (the issue's contract: 1 from, 2 to, 4 created).
local function role_names(bits)
  local t = {}
  if bits & 1 ~= 0 then t[#t + 1] = "from" end
  if bits & 2 ~= 0 then t[#t + 1] = "to" end
  if bits & 4 ~= 0 then t[#t + 1] = "created" end
  return table.concat(t, ",")
end

local function entry(e)
  return { block_number = e.block_number, transaction_index = e.transaction_index, hash = e.hash,
    roles = table.concat(e.roles, ",") }
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
    for _, e in ipairs(p.entries) do out[#out + 1] = entry(e) end
    after = p.cursor ~= NULL and p.cursor or nil
    assert.is_true(pages < 10000)
  until after == nil
  return out, pages
end

-- The oracle's history of address in [from, to] in the same shape, oldest (or newest) first.
local function expected_history(o, address, from, to, newest)
  local out = {}
  for _, e in ipairs(o:address_txs(address, { from = from, to = to, order = newest and "desc" or "asc" })) do
    out[#out + 1] = { block_number = e.height, transaction_index = e.index, hash = lower(e.hash),
      roles = role_names(e.roles) }
  end
  return out
end

local function block_of(o, h, full) return (o:block(h, full)) end

local as_get_logs = targets.as_get_logs

-- The oracle's answer to filter f as eth_getLogs gives it: nil and the oracle's error when it
-- refuses the filter.
local function oracle_logs(o, f)
  local list, err = o:logs(f)
  if not list then return nil, err end
  local out = json.array()
  for i, log in ipairs(list) do out[i] = as_get_logs(log) end
  return out
end

-- The oracle's logs of filter f (an error when the oracle refuses it: the filter was meant valid).
local function expected_logs(o, f)
  local list, err = oracle_logs(o, f)
  assert(list, "the oracle refuses " .. enc(f) .. ": " .. tostring(err))
  return list
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
    if rnd(40) == 1 then b = tip + rnd(3) end -- past the tip: refused
    if rnd(40) == 1 then a, b = b + 1, a end -- reversed: refused
    local forms = { function(x) return x end, function(x) return ("0x%x"):format(x) end }
    if rnd(6) > 1 then set("fromBlock", rnd(8) == 1 and "earliest" or forms[rnd(2)](a)) end
    local tags = { "latest", "pending", "safe", "finalized" }
    if rnd(6) > 1 then set("toBlock", rnd(8) == 1 and tags[rnd(4)] or forms[rnd(2)](b)) end
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
    records, o = chain(240, SEED)
    store, path = fresh(records)
    q = query.new(store)
  end)
  teardown(function()
    if store then store:close() end
    helpers.cleanup()
  end)

  it("return each block as eth_getBlockByNumber does, by number, hash and tag, with and without bodies", function()
    for h = 0, #records - 1 do
      local full = block_of(o, h, true)
      local bare = block_of(o, h, false)
      assert.are.equal(enc(bare), enc(q:block(h)), "block " .. h)
      assert.are.equal(enc(full), enc(q:block(h, true)), "block " .. h .. " full")
      assert.are.equal(enc(bare), enc(q:block(("0x%x"):format(h))))
      assert.are.equal(enc(full), enc(q:block(full.hash, true)), "block by hash " .. full.hash)
      assert.are.equal(enc(bare), enc(q:block("0x" .. full.hash:sub(3):upper())))
    end
    assert.are.equal(enc(block_of(o, #records - 1, true)), enc(q:block("latest", true)))
    assert.are.equal(enc(block_of(o, #records - 1, false)), enc(q:block("pending")))
    assert.are.equal(enc(block_of(o, 0, false)), enc(q:block("earliest")))
    assert.are.equal(enc(block_of(o, #records - 1, false)), enc(q:block("finalized")))
    assert.are.equal(enc(block_of(o, #records - 1, false)), enc(q:block("safe")))
    assert.is_nil(q:block(#records))
    assert.is_nil(q:block(("0x%064x"):format(1)))
  end)

  it("open the store read-only beside its writer, and refuse what is no account-chain store", function()
    local r <close> = query.open(path)
    assert.are.equal(#records - 1, (r:tip()))
    assert.are.equal(enc(block_of(o, 7, true)), enc(r:block(7, true)))
    r:close()
    r:close()
    helpers.raises_plain("used after close()", r.tip, r)
    local dir = helpers.tmpdir("not-acct")
    local other = require("quarry").open(dir .. "/db", { column_families = { "blocks" } })
    other:close()
    helpers.raises_plain("is not an account-chain store (it has no family", query.open, dir .. "/db")
    helpers.raises_plain("does not exist", query.open, dir .. "/none")
    helpers.raises_plain("expected an account-chain store or a quarry database", query.new, 42)
  end)

  it("return each transaction with its receipt exactly as the dump gave them", function()
    local n = 0
    for _, rec in ipairs(records) do
      for _, t in ipairs((rec.block or rec).transactions) do
        local want = o:tx(t.hash)
        local r = q:tx(t.hash)
        assert.are.equal(enc(want.tx), enc(r.transaction), t.hash)
        assert.are.equal(want.receipt and enc(want.receipt) or enc(NULL), enc(r.receipt), t.hash)
        assert.are.equal(want.height, r.block_number)
        assert.are.equal(want.index, r.transaction_index)
        n = n + 1
      end
    end
    assert.is_true(n > 500)
    assert.is_nil(q:tx(("0x%064x"):format(7)))
  end)

  it("page through every address's history in both orders, by cursor, equal to the oracle", function()
    local addrs = population(records)
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
    local addrs, topics = population(records)
    local hashes = {}
    for h = 0, #records - 1 do hashes[#hashes + 1] = block_of(o, h, false).hash end
    math.randomseed(SEED)
    local rnd = math.random
    local nonempty, total, refused = 0, 0, 0
    for n = 1, 400 do
      local f = random_filter(rnd, #records - 1, addrs, topics, hashes)
      local want, err = oracle_logs(o, f)
      local note = ("filter %d %s %s"):format(n, enc(f), helpers.seed_note(SEED))
      if want then
        local got = q:logs(f, { max_results = 1000000 })
        assert.are.equal(enc(want), enc(got), note)
        if #want > 0 then nonempty = nonempty + 1 end
        total = total + #want
      else
        -- the oracle (a node) refuses it: so does the query
        local ok, qerr = pcall(q.logs, q, f, { max_results = 1000000 })
        assert.is_false(ok, note .. ": the oracle says " .. tostring(err))
        assert.is_string(qerr)
        refused = refused + 1
      end
    end
    assert.is_true(nonempty > 50, "too few filters matched anything: " .. nonempty)
    assert.is_true(refused > 5 and refused < 100, "refused filters: " .. refused)
    -- the whole chain, no address or topic: every log
    assert.are.equal(enc(expected_logs(o, { fromBlock = "earliest" })),
      enc((q:logs({ fromBlock = "earliest" }, { max_results = 1000000 }))))
  end)

  it("choose the most selective index and still answer the same", function()
    -- the address and topic0 of every 10th log: sometimes the address is rarer, sometimes the topic
    local seen, by = 0, { logs_by_address = 0, logs_by_topic = 0 }
    for _, rec in ipairs(records) do
      for _, r in ipairs(rec.receipts or {}) do
        for _, log in ipairs(r.logs) do
          seen = seen + 1
          if seen % 10 == 0 and #log.topics > 0 then
            local a, t = log.address, log.topics[1]
            local f = { fromBlock = 0, toBlock = "latest", address = a, topics = { t } }
            local e = q:explain(f, { max_results = 1000000 })
            local na = #expected_logs(o, { fromBlock = 0, address = a })
            local nt = #expected_logs(o, { fromBlock = 0, topics = { t } })
            assert.are.equal(math.min(na, nt), e.candidates, enc(f))
            if na ~= nt then
              assert.are.equal(na < nt and "logs_by_address" or "logs_by_topic", e.index,
                ("%s: address has %d logs, topic %d"):format(enc(f), na, nt))
            end
            by[e.index] = by[e.index] + 1
            assert.are.equal(enc(expected_logs(o, f)), enc((q:logs(f, { max_results = 1000000 }))))
          end
        end
      end
    end
    assert.is_true(by.logs_by_address > 0 and by.logs_by_topic > 0, enc(by))
    assert.are.equal("receipts", q:explain({ fromBlock = 0 }, { max_results = 1000000 }).index)
  end)

  it("refuse a query returning more than the bound, naming it", function()
    local all = #expected_logs(o, { fromBlock = 0 })
    assert.is_true(all > 10)
    assert.are.equal(all, #q:logs({ fromBlock = 0 }, { max_results = all }))
    helpers.raises_plain("query returned more than " .. (all - 1) .. " results",
      q.logs, q, { fromBlock = 0 }, { max_results = all - 1 })
    -- an address with several logs: the bound applies through the address index too
    local a, na
    for _, x in ipairs(population(records)) do
      na = #expected_logs(o, { fromBlock = 0, address = x })
      if na > 1 then a = x; break end
    end
    assert.is_truthy(a, "no address with two logs")
    helpers.raises_plain("query returned more than " .. (na - 1) .. " results",
      q.logs, q, { fromBlock = 0, address = a }, { max_results = na - 1 })
  end)

  it("refuse bad input with the argument's name", function()
    local cases = {
      { { fromBlock = 9, toBlock = 3 }, "filter: fromBlock (9) is above toBlock (3)" },
      { { fromBlock = "0xzz" }, "filter.fromBlock must be" },
      { { toBlock = "newest" }, "filter.toBlock must be a block number" },
      { { toBlock = 1000000 }, "filter: toBlock (1000000) is beyond the store's tip (239)" },
      { { fromBlock = 240 }, "filter: fromBlock (240) is above toBlock (239)" },
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
    local a = population(records)[1]
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

describe("account-chain queries on blocks with and without receipts", function()
  after_each(helpers.collect_and_cleanup)

  it("give json.null for a receipt the dump lacks and the oracle's logs, history and blocks", function()
    local records, o = chain(150, SEED + 3, { receipts = "mixed" })
    local store <close> = fresh(records)
    local q = query.new(store)
    local with, without = 0, 0
    for _, rec in ipairs(records) do
      for _, t in ipairs((rec.block or rec).transactions) do
        local want, got = o:tx(t.hash), q:tx(t.hash)
        if want.receipt then
          with = with + 1
          assert.are.equal(enc(want.receipt), enc(got.receipt))
        else
          without = without + 1
          assert.are.equal(NULL, got.receipt)
        end
        assert.are.equal(enc(want.tx), enc(got.transaction))
      end
    end
    assert.is_true(with > 50 and without > 50, with .. " with, " .. without .. " without")
    local addrs, topics = population(records)
    local hashes = {}
    for h = 0, #records - 1 do hashes[#hashes + 1] = block_of(o, h, false).hash end
    math.randomseed(SEED + 3)
    for n = 1, 150 do
      local f = random_filter(math.random, #records - 1, addrs, topics, hashes)
      local want = oracle_logs(o, f)
      if want then
        assert.are.equal(enc(want), enc((q:logs(f, { max_results = 1000000 }))),
          ("filter %d %s %s"):format(n, enc(f), helpers.seed_note(SEED + 3)))
      end
    end
    for _, a in ipairs(addrs) do
      assert.are.same(expected_history(o, a, 0, #records - 1), (all_pages(q, a, { limit = 4 })), a)
    end
    for h = 0, #records - 1 do
      assert.are.equal(enc(block_of(o, h, true)), enc(q:block(h, true)), "block " .. h)
    end
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
    for _, e in ipairs(o:address_txs(a, { from = from, to = to })) do t[#t + 1] = e.height .. ":" .. e.index end
    return t
  end

  it("continue a cursor exactly after its entry while blocks are appended", function()
    local records, o = chain(200, SEED + 1)
    local store <close> = fresh(records, 100)
    local q = query.new(store)
    local addrs = population(records)
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
    local records, o = chain(220, SEED + 2)
    local store <close> = fresh(records, 60)
    local q = query.new(store)
    local addrs, topics = population(records)
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
      local b = block_of(o, h, true)
      if #b.transactions > 0 then tx = b.transactions[1].hash; break end
    end
    assert.is_nil(q:tx(tx))
    -- "latest" is the tip of the call's view, with all its transactions
    local before = pending - 1
    assert.are.equal(enc(block_of(o, before, true)), enc(q:block("latest", true)))
    -- "latest" and ranges past the view's tip end at it: nothing of the group committed meanwhile
    for i = 1, 2 do
      before = pending - 1
      local got = q:logs({ fromBlock = 0, toBlock = "latest", topics = { topics[i] } }, { max_results = 1000000 })
      assert.are.equal(enc(expected_logs(o, { fromBlock = 0, toBlock = before, topics = { topics[i] } })),
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
    assert.are.equal(enc(block_of(o, pending - 1, true)), enc(q:block("latest", true)))
  end)
end)

describe("account-chain queries on recorded node answers", function()
  local fixture = require("spec.account_fixture")
  after_each(helpers.collect_and_cleanup)

  for _, name in ipairs(fixture.NAMES) do
    it("answer as the oracle does on " .. name, function()
      local dump = fixture.dumps()[name]
      local path = fixture.write(dump, helpers.tmpdir("acct-fix") .. "/dump.json")
      local o = oracle.open(path)
      local records = {}
      for rec in json.reader(path):each() do records[#records + 1] = rec end
      local store <close> = fresh(records)
      local q = query.new(store)
      local c = o:counts()
      local nlogs = 0
      for h = c.first, c.tip do
        local bare, receipts = o:block(h, false)
        assert.are.equal(enc(bare), enc(q:block(h)), name .. " block " .. h)
        assert.are.equal(enc(block_of(o, h, true)), enc(q:block(bare.hash, true)), name .. " block " .. h)
        for _, th in ipairs(bare.transactions) do
          local want, got = o:tx(th), q:tx(th)
          assert.are.equal(enc(want.tx), enc(got.transaction), th)
          assert.are.equal(want.receipt and enc(want.receipt) or enc(NULL), enc(got.receipt), th)
        end
        -- the logs of the block by hash, and by each log's address and each topic at its position
        assert.are.equal(enc(expected_logs(o, { blockHash = bare.hash })), enc((q:logs({ blockHash = bare.hash }))))
        for _, r in ipairs(receipts or {}) do
          for _, log in ipairs(r.logs) do
            nlogs = nlogs + 1
            local f = { fromBlock = "earliest", toBlock = "latest", address = log.address }
            assert.are.equal(enc(expected_logs(o, f)), enc((q:logs(f))), enc(f))
            for p = 1, #log.topics do
              local t = json.array()
              for i = 1, p - 1 do t[i] = NULL end
              t[p] = log.topics[p]
              f = { fromBlock = "earliest", topics = t }
              assert.are.equal(enc(expected_logs(o, f)), enc((q:logs(f))), enc(f))
            end
          end
        end
      end
      for _, a in ipairs((population(records))) do
        assert.are.same(expected_history(o, a, c.first, c.tip), (all_pages(q, a, { limit = 2 })), name .. " " .. a)
        assert.are.same(expected_history(o, a, c.first, c.tip, true), (all_pages(q, a, { limit = 3, order = "newest" })), a)
      end
      assert.are.equal(c.tip, (q:tip()))
      assert.are.equal(c.logs, nlogs)
    end)
  end
end)

-- 81-chain-command: `quarry chain block|tx|history|logs|tip` on a store made by `quarry gen
-- --format ethereum-rpc` and `quarry migrate --layout account-chain`, its JSON output against
-- the oracle's scan of the same dump (spec/account_oracle.lua), its readable output, and its exit
-- statuses: 0, 1 (not found, over the bound, not a store), 2 (bad hex, bad filter).
local helpers = require("spec.helpers")
local json = require("quarry.json")
local oracle = require("spec.account_oracle")
local targets = require("spec.account_targets")

local NULL = json.null
local SEED = helpers.seed(8115)
local enc = json.encode

local function q(args, opts) return helpers.run_quarry(args, opts) end

local function ok_json(args, opts)
  local status, out, err = q(args, opts)
  assert(status == 0, ("quarry %s: exit %d: %s"):format(table.concat(args, " "), status, err))
  return out, json.decode(out)
end

describe("quarry chain", function()
  local dir, dump, db, records, o
  setup(function()
    dir = helpers.tmpdir("chain-cmd")
    dump, db = dir .. "/chain.jsonl", dir .. "/db"
    local s, _, err = q({ "gen", "--format", "ethereum-rpc", "--blocks", "90", "--seed", tostring(SEED),
      "--addresses", "40", "--out", dump })
    assert(s == 0, err)
    s, _, err = q({ "migrate", "--format", "ethereum-rpc", "--layout", "account-chain", "--json", dump, "--db", db })
    assert(s == 0, err)
    records = {}
    for r in json.reader(dump):each() do records[#records + 1] = r end
    o = oracle.open(dump)
  end)
  teardown(helpers.cleanup)

  it("prints blocks as eth_getBlockByNumber does (--json), by number, hash and tag", function()
    for _, h in ipairs({ 0, 1, 17, 45, 89 }) do
      local full = o:block(h, true)
      assert.are.equal(enc((o:block(h, false))) .. "\n", (ok_json({ "chain", "block", "--db", db, tostring(h), "--json" })))
      assert.are.equal(enc(full) .. "\n", (ok_json({ "chain", "block", "--db", db, ("0x%x"):format(h), "--full", "--output", "json" })))
      assert.are.equal(enc(full) .. "\n", (ok_json({ "chain", "block", "--db", db, full.hash, "--full", "--json" })))
    end
    assert.are.equal(enc((o:block(89, false))) .. "\n", (ok_json({ "chain", "block", "--db", db, "latest", "--json" })))
    local status, out, err = q({ "chain", "block", "--db", db, "90", "--json" })
    assert.are.equal(1, status)
    assert.are.equal("", out)
    assert.matches("quarry chain: block 90: not in the store", err, 1, true)
  end)

  it("prints a transaction with its receipt", function()
    local n, i = 0, 0
    local txs = {}
    for _, rec in ipairs(records) do
      for _, tx in ipairs((rec.block or rec).transactions) do txs[#txs + 1] = tx end
    end
    for _, tx in ipairs(txs) do
      i = i + 1
      if i % 7 == 1 then
        local _, doc = ok_json({ "chain", "tx", "--db", db, tx.hash, "--json" })
        local want = o:tx(tx.hash)
        assert.are.equal(enc(want.tx), enc(doc.transaction))
        assert.are.equal(want.receipt and enc(want.receipt) or enc(NULL), enc(doc.receipt))
        assert.are.equal(want.height, doc.block_number)
        assert.are.equal(want.index, doc.transaction_index)
        local status, text = q({ "chain", "tx", "--db", db, tx.hash })
        assert.are.equal(0, status)
        assert.matches("transaction " .. tx.hash, text, 1, true)
        assert.matches("from       " .. tx.from, text, 1, true)
        n = n + 1
      end
    end
    assert.is_true(n > 10)
  end)

  it("pages through an address's history with the printed cursors, both orders", function()
    local addrs = targets.population(records)
    for k = 1, 6 do
      local a = addrs[k * 5]
      for _, newest in ipairs({ false, true }) do
        local got, after, pages = {}, nil, 0
        repeat
          local args = { "chain", "history", "--db", db, a, "--limit", "3", "--json" }
          if newest then args[#args + 1] = "--newest-first" end
          if after then args[#args + 1] = "--after"; args[#args + 1] = after end
          local _, page = ok_json(args)
          for _, e in ipairs(page.entries) do got[#got + 1] = e.block_number .. ":" .. e.transaction_index .. ":" .. e.hash end
          after = page.cursor ~= NULL and page.cursor or nil
          pages = pages + 1
        until after == nil or pages > 500
        local want = {}
        for _, e in ipairs(o:address_txs(a)) do
          want[#want + 1] = e.height .. ":" .. e.index .. ":" .. e.hash:lower()
        end
        if newest then
          local r = {}
          for i = #want, 1, -1 do r[#r + 1] = want[i] end
          want = r
        end
        assert.are.same(want, got, a .. (newest and " newest first" or ""))
      end
    end
    -- the readable form prints the cursor to continue with (an address with two entries at least)
    local a
    for _, x in ipairs(addrs) do
      if #o:address_txs(x) >= 2 then a = x; break end
    end
    local status, text = q({ "chain", "history", "--db", db, a, "--limit", "1" })
    assert.are.equal(0, status)
    local cursor = text:match("more: %-%-after (%S+)")
    assert.is_truthy(cursor, text)
    local _, page = ok_json({ "chain", "history", "--db", db, a, "--limit", "1", "--after", cursor, "--json" })
    local second = o:address_txs(a)[2]
    assert.are.equal(second.height, page.entries[1].block_number)
    assert.are.equal(second.index, page.entries[1].transaction_index)
  end)

  -- the oracle's logs of f as eth_getLogs gives them
  local function expected(f)
    local list, err = o:logs(f)
    assert(list, "the oracle refuses " .. enc(f) .. ": " .. tostring(err))
    local out = json.array()
    for i, log in ipairs(list) do out[i] = targets.as_get_logs(log) end
    return out
  end

  it("answers eth_getLogs filters given as options or as --filter JSON", function()
    local addrs, topics = targets.population(records)
    math.randomseed(SEED)
    for n = 1, 25 do
      local a1, a2 = addrs[math.random(#addrs)], addrs[math.random(#addrs)]
      local t0, t0b, t1 = topics[math.random(#topics)], topics[math.random(#topics)], topics[math.random(#topics)]
      local from = math.random(0, 60)
      local to = from + math.random(0, 29)
      local f = { fromBlock = from, toBlock = to }
      local args = { "chain", "logs", "--db", db, "--from", tostring(from), "--to", ("0x%x"):format(to), "--json" }
      local shape = n % 4
      if shape == 0 or shape == 1 then
        f.address = { a1, a2 }
        for _, w in ipairs({ "--address", a1, "--address", a2 }) do args[#args + 1] = w end
      end
      if shape == 1 or shape == 2 then
        f.topics = { { t0, t0b } }
        for _, w in ipairs({ "--topic0", t0 .. "," .. t0b }) do args[#args + 1] = w end
      end
      if shape == 2 or shape == 3 then
        f.topics = f.topics or { NULL }
        f.topics[2] = t1
        for _, w in ipairs({ "--topic1", t1 }) do args[#args + 1] = w end
      end
      local want = enc(expected(f)) .. "\n"
      assert.are.equal(want, (ok_json(args)), enc(f) .. " " .. helpers.seed_note(SEED))
      assert.are.equal(want, (ok_json({ "chain", "logs", "--db", db, "--filter", enc(f), "--json" })), enc(f))
    end
    local all = expected({ fromBlock = 0 })
    assert.are.equal(enc(all) .. "\n", (ok_json({ "chain", "logs", "--db", db, "--filter", "-", "--json" },
      { stdin = '{"fromBlock":"earliest","toBlock":"latest"}' })))
    local status, text = q({ "chain", "logs", "--db", db, "--from", "0" })
    assert.are.equal(0, status)
    assert.matches("\n" .. #all .. " logs\n$", text)
    -- over the bound: exit 1, the nodes' message
    local s2, out2, err2 = q({ "chain", "logs", "--db", db, "--from", "earliest", "--max-results", tostring(#all - 1) })
    assert.are.equal(1, s2)
    assert.are.equal("", out2)
    assert.matches("query returned more than " .. (#all - 1) .. " results", err2, 1, true)
  end)

  it("prints the tip and counts", function()
    local _, st = ok_json({ "chain", "tip", "--db", db, "--json" })
    assert.are.equal(89, st.tip)
    assert.are.equal(o:counts().tip_hash, st.tip_hash)
    assert.are.equal(o:counts().txs, st.counts.txs)
    assert.are.equal(o:counts().logs, st.counts.logs)
  end)

  it("refuses bad input with exit 2 naming the argument, and a missing store with exit 1", function()
    local cases = {
      { { "chain", "tx", "--db", db, "0x12" }, "hash must be 0x followed by 64 hex digits" },
      { { "chain", "block", "--db", db, "tip" }, "block (a number, a tag or a 0x hash of 64 hex digits) must be 0x" },
      { { "chain", "history", "--db", db, "0xabc" }, "address must be 0x followed by 40 hex digits" },
      { { "chain", "history", "--db", db, ("0x%040x"):format(1), "--from", "9", "--to", "3" }, "--from (9) is above --to (3)" },
      { { "chain", "logs", "--db", db, "--from", "9", "--to", "3" }, "--from (9) is above --to (3)" },
      { { "chain", "logs", "--db", db, "--topic0", "0x1" }, "filter.topics[0] must be 0x followed by 64 hex digits" },
      { { "chain", "logs", "--db", db, "--address", "0x1" }, "filter.address must be 0x followed by 40 hex digits" },
      { { "chain", "logs", "--db", db, "--filter", "{}", "--from", "1" }, "--filter gives the whole filter" },
      { { "chain", "logs", "--db", db, "--filter", "{\"fromBlok\":1}" }, "unknown member \"fromBlok\"" },
      { { "chain", "logs", "--db", db, "--filter", "[1" }, "--filter: not JSON" },
      { { "chain", "logs", "--db", db, "--from", "soon" }, "a block number (decimal or 0x hex) or latest" },
      { { "chain", "history", "--db", db, ("0x%040x"):format(1), "--limit", "0" }, "a positive integer expected" },
    }
    for _, c in ipairs(cases) do
      local status, out, err = q(c[1])
      assert.are.equal(2, status, table.concat(c[1], " ") .. ": " .. err)
      assert.are.equal("", out)
      assert.matches(c[2], err, 1, true)
    end
    local status, _, err = q({ "chain", "tip", "--db", dir .. "/nothing" })
    assert.are.equal(1, status)
    assert.matches("does not exist", err, 1, true)
    status, _, err = q({ "chain", "history", "--db", db, ("0x%040x"):format(1), "--after", "a1zz" })
    assert.are.equal(1, status)
    assert.matches("after: \"a1zz\" is not a cursor", err, 1, true)
  end)

  it("is listed with its subcommands in quarry --help and the man page", function()
    local _, out = q({ "--help" })
    assert.matches("\n  chain ", out, 1, true)
    local _, man = q({ "man" })
    for _, sub in ipairs({ "block", "tx", "history", "logs", "tip" }) do
      assert.matches(sub, man, 1, true)
    end
    assert.matches(".SS quarry chain", man, 1, true)
    assert.matches("\\fBquarry chain history\\fR", man, 1, true)
    assert.matches("\\-\\-newest\\-first", man, 1, true)
    local _, bash = q({ "completion", "bash" })
    assert.matches("--newest-first", bash, 1, true)
    assert.matches("--topic0", bash, 1, true)
  end)
end)

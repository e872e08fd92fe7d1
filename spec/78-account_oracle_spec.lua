-- 78-account_oracle: spec/account_oracle.lua on its own, before any store is judged by it.
-- The oracle of the oracle is a real node: the eth_getLogs answers geth recorded for
-- ethereum/execution-apis (spec/fixtures/ethereum/eth_getLogs, README there) are replayed on a dump
-- rebuilt from those answers, and the block, transaction, history and log answers on real
-- recorded blocks (/work/shared/realdata/ethereum) are checked against counts read off the
-- recorded text by hand (string matching, not the JSON the oracle decodes).
local helpers = require("spec.helpers")
local json = require("quarry.json")
local oracle = require("spec.account_oracle")

local REALDATA = (os.getenv("QUARRY_REALDATA") or "/work/shared/realdata") .. "/ethereum/raw"
local APIS = REALDATA .. "/ethereum+execution-apis/tests"
local NIMBUS = REALDATA .. "/status-im+nimbus-eth1/nimbus_verified_proxy/tests/data"
local GETLOGS = "spec/fixtures/ethereum/eth_getLogs"

-- The request and the answer of an execution-apis .io recording.
local function io_file(path)
  local text = assert(helpers.read_file(path), path)
  local req = json.decode((assert(text:match("\n>> ([^\n]+)"), path)))
  local ans = json.decode((assert(text:match("\n<< ([^\n]+)"), path)))
  return req, ans
end

local function write_jsonl(path, records)
  local w = json.writer(path, { format = "jsonl" })
  for _, r in ipairs(records) do w:write(r) end
  w:close()
end

local obj = require("quarry.cli.gen.ethereum").object -- an object with members in the order given

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local s, e = text:find(plain, at, true)
    if not s then return n end
    n, at = n + 1, e + 1
  end
end

-- The same hex in capitals (hex input is case-insensitive).
local function upper_hex(s) return "0x" .. s:sub(3):upper() end

-- A made-up 32-byte hash for the parts of the rebuilt chain no answer shows.
local function made_up(kind, a, b) return ("0x%02x%062x"):format(kind, a * 65536 + b) end

-- The dump of the hive chain's blocks 0..6 holding exactly the logs of the recorded answers
-- (no-topics: all logs of blocks 1-3; filter-with-blockHash: all logs of block 4).
local function rebuilt_dump(path)
  local logs, seen = {}, {}
  for name in io.popen("ls " .. GETLOGS .. "/*.io"):lines() do
    local _, ans = io_file(name)
    for _, log in ipairs(ans.result or {}) do
      local key = log.blockNumber .. "/" .. log.logIndex
      local text = json.encode(log)
      if seen[key] then
        assert(seen[key] == text, name .. ": log " .. key .. " differs between two recorded answers")
      else
        seen[key] = text
        logs[#logs + 1] = log
      end
    end
  end
  table.sort(logs, function(a, b)
    local ha, hb = oracle.quantity(a.blockNumber), oracle.quantity(b.blockNumber)
    if ha ~= hb then return ha < hb end
    return oracle.quantity(a.logIndex) < oracle.quantity(b.logIndex)
  end)
  local by_block = {}
  for _, log in ipairs(logs) do
    local h = oracle.quantity(log.blockNumber)
    by_block[h] = by_block[h] or { hash = log.blockHash, ts = log.blockTimestamp, txs = {} }
    local b = by_block[h]
    local i = oracle.quantity(log.transactionIndex)
    b.txs[i] = b.txs[i] or { hash = log.transactionHash, logs = json.array() }
    b.txs[i].logs[#b.txs[i].logs + 1] = log
  end
  local records, prev = {}, made_up(0, 0, 0)
  for h = 0, 6 do
    local known = by_block[h] or { txs = {} }
    local hash = known.hash or made_up(1, h, 0)
    local number = ("0x%x"):format(h)
    local ntx = 0
    for i in pairs(known.txs) do ntx = math.max(ntx, i + 1) end
    local txs, receipts = json.array(), json.array()
    for i = 0, ntx - 1 do
      local t = known.txs[i] or { hash = made_up(2, h, i), logs = json.array() }
      txs[i + 1] = obj("blockHash", hash, "blockNumber", number, "transactionIndex", ("0x%x"):format(i),
        "hash", t.hash, "from", "0x" .. string.rep("1", 40), "to", "0x" .. string.rep("2", 40))
      receipts[i + 1] = obj("blockHash", hash, "blockNumber", number, "logs", t.logs,
        "transactionHash", t.hash, "transactionIndex", ("0x%x"):format(i))
    end
    records[#records + 1] = obj("block", obj("number", number, "hash", hash, "parentHash", prev,
      "timestamp", known.ts or ("0x%x"):format(10 * h), "transactions", txs), "receipts", receipts)
    prev = hash
  end
  write_jsonl(path, records)
  return #logs
end

describe("account oracle", function()
  teardown(function() helpers.cleanup() end)

  describe("eth_getLogs, replaying geth's recorded answers (execution-apis)", function()
    local dir, path, nlogs
    setup(function()
      dir = helpers.tmpdir("oracle")
      path = dir .. "/hive.jsonl"
      nlogs = rebuilt_dump(path)
    end)

    it("rebuilds a dump of blocks 0..6 with the 22 recorded logs", function()
      assert.equal(22, nlogs)
      local c = oracle.open(path):counts()
      assert.same({ 7, 22, 0, 6 }, { c.blocks, c.logs, c.first, c.tip })
    end)

    for _, memory in ipairs({ true, false }) do
      it("gives each recorded answer, byte for byte (memory = " .. tostring(memory) .. ")", function()
        local d = oracle.open(path, { memory = memory })
        local n, errors = 0, 0
        for name in io.popen("ls " .. GETLOGS .. "/*.io"):lines() do
          local req, ans = io_file(name)
          assert.equal("eth_getLogs", req.method)
          local logs, err = d:logs(req.params[1])
          if ans.error then
            assert.is_nil(logs, name)
            assert.equal(ans.error.message, err, name)
            errors = errors + 1
          else
            assert.is_not_nil(logs, name .. ": " .. tostring(err))
            assert.equal(json.encode(ans.result), json.encode(logs), name)
            assert.is_true(#logs > 0, name)
          end
          n = n + 1
        end
        assert.equal(12, n)
        assert.equal(5, errors)
      end)
    end

    it("fails when its rule is changed: [] as 'no topic' instead of 'any' loses topic-wildcard", function()
      -- the same request with the empty list made a list of one topic that is nowhere
      local req, ans = io_file(GETLOGS .. "/topic-wildcard.io")
      local f = req.params[1]
      f.topics[1] = json.array({ "0x" .. string.rep("9", 64) })
      local logs = oracle.open(path):logs(f)
      assert.equal(0, #logs)
      assert.is_true(#ans.result > 0)
    end)
  end)

  describe("on real recorded blocks, counted by hand", function()
    local have = helpers.exists(APIS .. "/eth_getBlockByNumber/get-latest.io")
      and helpers.exists(NIMBUS .. "/22431080.json")
    local dir, geth, block_text, receipts_text
    local SENDER = "0x7435ed30a8b4aeb0877cef0c6e8cffe834eb865f"
    local CREATED = "0xb1917d669e2a9307d342d04ab74e68ea94c4d11c"
    local CALLED = "0x7dcd17433742f4c0ca53122ab541d0ba67fc27df"
    local function case(name, fn)
      if have then it(name, fn) else pending(name .. " (no recorded answers under " .. REALDATA .. ")") end
    end
    setup(function()
      if not have then return end
      dir = helpers.tmpdir("oracle-real")
      -- geth's block 0x36 of the hive chain and its receipts: one real record
      local _, b = io_file(APIS .. "/eth_getBlockByNumber/get-latest.io")
      local _, r = io_file(APIS .. "/eth_getBlockReceipts/get-block-receipts-latest.io")
      block_text = assert(helpers.read_file(APIS .. "/eth_getBlockByNumber/get-latest.io"))
      receipts_text = assert(helpers.read_file(APIS .. "/eth_getBlockReceipts/get-block-receipts-latest.io"))
      geth = dir .. "/geth.jsonl"
      write_jsonl(geth, { obj("block", b.result, "receipts", r.result) })
    end)

    case("counts, block by number and by hash, with and without bodies", function()
      local d = oracle.open(geth)
      local c = d:counts()
      -- by hand: 4 transaction hashes in the block answer, 4 receipts, 11 "logIndex" members
      assert.same({ 1, 4, 4, 11, 54 }, { c.blocks, c.txs, c.receipts, c.logs, c.tip })
      assert.equal(4, count(receipts_text, '"transactionHash"') - count(receipts_text, '"logIndex"'))
      assert.equal(11, count(receipts_text, '"logIndex"'))
      local hash = block_text:match('"hash":"(0x%x+)"')
      local b1, r1, h1 = d:block(54)
      local b2 = d:block(upper_hex(hash))
      local b3 = d:block("0x36")
      assert.equal(54, h1)
      assert.equal(4, #r1)
      assert.equal(json.encode(b1), json.encode(b2))
      assert.equal(json.encode(b1), json.encode(b3))
      -- the recorded text is the oracle's value, member order and hex text as given
      assert.equal(block_text:match('"result":(%b{})'), json.encode(b1))
      local bare = d:block(54, false)
      assert.equal(4, #bare.transactions)
      assert.equal("string", type(bare.transactions[1]))
      assert.equal(b1.transactions[3].hash, bare.transactions[3])
      assert.is_nil(d:block(55))
      assert.is_nil(d:block("0x" .. string.rep("0", 64)))
    end)

    case("a transaction with its receipt", function()
      local d = oracle.open(geth, { memory = false })
      local t = d:tx("0x492784ac4d441388c6f8415f41e1441f007ab20dc960a2e5edd80012d657d986")
      assert.same({ 54, 1 }, { t.height, t.index })
      assert.equal(CREATED, t.receipt.contractAddress)
      assert.equal(10, #t.receipt.logs)
      assert.equal(json.null, t.tx.to)
      assert.is_nil(d:tx("0x" .. string.rep("ab", 32)))
    end)

    case("address history: from, to, created contract; order, limit, continuation", function()
      local d = oracle.open(geth)
      -- by hand: four transactions, all from SENDER; 3 creations (to null), one call of CALLED
      assert.equal(4, count(block_text, '"from":"' .. SENDER .. '"'))
      local all = d:address_txs(SENDER)
      assert.equal(4, #all)
      for i, e in ipairs(all) do assert.same({ 54, i - 1, 1 }, { e.height, e.index, e.roles }) end
      assert.same({ { height = 54, index = 1, roles = 4, hash = all[2].hash } }, d:address_txs(upper_hex(CREATED)))
      assert.same({ 3, 2 }, { d:address_txs(CALLED)[1].index, d:address_txs(CALLED)[1].roles })
      local desc = d:address_txs(SENDER, { order = "desc", limit = 3 })
      assert.same({ 3, 2, 1 }, { desc[1].index, desc[2].index, desc[3].index })
      local next_page = d:address_txs(SENDER, { order = "desc", after = { 54, 1 } })
      assert.same({ 0 }, { next_page[1].index, next_page[2] })
      assert.same({}, d:address_txs(SENDER, { from = 55 }))
      -- without its receipt a creation is the sender's, roles 1 | 4
      local bare = dir .. "/bare.jsonl"
      write_jsonl(bare, { (d:block(54)) })
      local b = oracle.open(bare)
      assert.same({ 5, 5, 5, 1 }, { b:address_txs(SENDER)[1].roles, b:address_txs(SENDER)[2].roles,
        b:address_txs(SENDER)[3].roles, b:address_txs(SENDER)[4].roles })
      assert.same({}, b:address_txs(CREATED))
      local logs, missing = b:logs({ fromBlock = "0x36", toBlock = "0x36" })
      assert.same({ 0, 1 }, { #logs, missing })
    end)

    case("logs of the real block: by address, by topic, position rules", function()
      local d = oracle.open(geth)
      local by_created = d:logs({ address = CREATED })
      -- by hand: the created contract's address appears as a log address 10 times
      assert.equal(10, count(receipts_text, '"address":"' .. CREATED .. '"'))
      assert.equal(10, #by_created)
      for i, log in ipairs(by_created) do assert.equal(("0x%x"):format(i - 1), log.logIndex) end
      assert.equal(11, #d:logs({ address = { CREATED, CALLED } }))
      assert.equal(11, #d:logs({ fromBlock = "earliest", toBlock = "latest" }))
      assert.equal(11, #d:logs({}))
      local emit = "0x00000000000000000000000000000000000000000000000000000000656d6974"
      local t = d:logs({ topics = { emit } })
      assert.equal(1, #t)
      assert.equal("0xa", t[1].logIndex)
      -- two positions: only the log with two topics (the others have one), even with nulls
      assert.equal(1, #d:logs({ topics = json.array({ json.null, json.null }) }))
      assert.equal(11, #d:logs({ topics = json.array({ json.null }) }))
      -- OR inside a position
      local first = by_created[1].topics[1]
      assert.equal(1 + count(receipts_text, first), #d:logs({ topics = { { first, upper_hex(emit) } } }))
      local hash = block_text:match('"hash":"(0x%x+)"')
      assert.equal(11, #d:logs({ blockHash = hash }))
      assert.same({ nil, "unknown block" }, { d:logs({ blockHash = "0x" .. string.rep("0", 64) }) })
      assert.same({ nil, "exceed max topics" }, { d:logs({ topics = { emit, emit, emit, emit, emit } }) })
    end)

    case("eleven consecutive mainnet blocks without receipts (nimbus-eth1 recordings)", function()
      local recs, text = {}, {}
      for h = 22431080, 22431090 do
        local t = assert(helpers.read_file(NIMBUS .. "/" .. h .. ".json"))
        text[#text + 1] = t
        recs[#recs + 1] = json.decode(t)
      end
      local path = dir .. "/mainnet.jsonl"
      write_jsonl(path, recs)
      local all = table.concat(text)
      local d = oracle.open(path, { memory = false })
      local c = d:counts()
      -- by hand: every transaction has one "transactionIndex" member; no receipts
      assert.same({ 11, count(all, '"transactionIndex"'), 0, 0, 22431090 }, { c.blocks, c.txs, c.receipts, c.logs, c.tip })
      -- the busiest sender, counted in the text
      local senders = {}
      for a in all:gmatch('"from": "(0x%x+)"') do senders[a] = (senders[a] or 0) + 1 end
      local top, n = nil, 0
      for a, k in pairs(senders) do if k > n or (k == n and a < top) then top, n = a, k end end
      assert.is_true(n >= 3, "busiest sender sends " .. n)
      local hist = d:address_txs(top)
      local as_sender = 0
      for i, e in ipairs(hist) do
        if e.roles & 1 ~= 0 then as_sender = as_sender + 1 end
        if i > 1 then
          local p = hist[i - 1]
          assert.is_true(p.height < e.height or (p.height == e.height and p.index < e.index), "chain order")
        end
      end
      assert.equal(n, as_sender)
      local logs, missing = d:logs({ fromBlock = "0x1564568", toBlock = "latest" })
      assert.same({ 0, 11 }, { #logs, missing })
      assert.same({ nil, "block range extends beyond current head block" }, { d:logs({ fromBlock = "0x1564568", toBlock = "0x1564573" }) })
    end)
  end)

  describe("on a generated chain: answers that must agree with each other", function()
    it("the logs of every address add up to all logs; OR is the union of its topics", function()
      local dir = helpers.tmpdir("oracle-gen")
      local path = dir .. "/g.jsonl"
      local status, _, err = helpers.run_quarry({ "gen", "--format", "ethereum-rpc", "--blocks", "120", "--seed", "78",
        "--receipts", "mixed", "--out", path })
      assert.equal(0, status, err)
      local d = oracle.open(path)
      local c = d:counts()
      local all, missing = d:logs({ fromBlock = "earliest" })
      assert.equal(c.logs, #all)
      assert.equal(c.blocks - c.receipt_blocks, missing)
      local by_addr, topic0 = {}, {}
      for _, log in ipairs(all) do
        by_addr[log.address] = true
        if log.topics[1] then topic0[log.topics[1]] = (topic0[log.topics[1]] or 0) + 1 end
      end
      local sum = 0
      for a in pairs(by_addr) do sum = sum + #d:logs({ fromBlock = "earliest", address = a }) end
      assert.equal(#all, sum)
      local t = {}
      for k in pairs(topic0) do t[#t + 1] = k end
      table.sort(t)
      local a, b = t[1], t[2]
      assert.equal(topic0[a] + topic0[b], #d:logs({ fromBlock = "earliest", topics = { { a, b } } }))
      -- transactions of every address: each transaction once as sender
      local senders = {}
      d:each(function(block)
        for _, tx in ipairs(block.transactions) do senders[tx.from] = true end
      end)
      local n = 0
      for s in pairs(senders) do
        for _, e in ipairs(d:address_txs(s)) do if e.roles & 1 ~= 0 then n = n + 1 end end
      end
      assert.equal(c.txs, n)
    end)
  end)
end)

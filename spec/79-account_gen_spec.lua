-- 79-account_gen: `quarry gen --format ethereum-rpc`, the account-model generator. Its dumps are
-- read back with quarry.json's streaming reader and judged by a checker written here from the
-- JSON-RPC rules (not by the store, whose checks it feeds): heights, links, transaction and
-- receipt fields agreeing with their block, logIndex through the block, unique hashes, hex as
-- nodes print it. Its shape is compared with answers real nodes recorded
-- (/work/shared/realdata/ethereum: nimbus-eth1 mainnet blocks, geth's receipts in
-- ethereum/execution-apis): every member it writes is one a node writes, in the node's order,
-- except the few unknown members it adds on purpose.
local helpers = require("spec.helpers")
local json = require("quarry.json")
local ethereum = require("quarry.cli.gen.ethereum")

local REALDATA = (os.getenv("QUARRY_REALDATA") or "/work/shared/realdata") .. "/ethereum/raw"
local NIMBUS = REALDATA .. "/status-im+nimbus-eth1/nimbus_verified_proxy/tests/data"
local GETH_RECEIPTS = REALDATA .. "/ethereum+execution-apis/tests/eth_getBlockReceipts/get-block-receipts-latest.io"

local SEED = helpers.seed(20140)
local NOTE = helpers.seed_note(SEED)

local function gen(args)
  local status, out, err = helpers.run_quarry(args)
  assert(status == 0, ("quarry %s: exit %d\n%s%s"):format(table.concat(args, " "), status, out, err))
  return out .. err
end

local function records(path)
  local t = {}
  for r in json.reader(path):each() do t[#t + 1] = r end
  return t
end

-- ---- the checker -------------------------------------------------------------------------------
local QUANTITY = "^0x[1-9a-f][0-9a-f]*$"
local function is_quantity(s) return s == "0x0" or (type(s) == "string" and s:match(QUANTITY) ~= nil) end
local function is_data(s, bytes)
  return type(s) == "string" and #s == 2 + 2 * bytes and s:match("^0x[0-9a-f]*$") ~= nil
end
local function qnum(s) return math.tointeger(tonumber(s:sub(3), 16)) end -- small quantities only

-- Checks a dump (records in order); returns the facts the presence tests look at, or raises
-- naming the record. first: the expected first height.
local function check(recs, first)
  local f = { txs = 0, receipts = 0, logs = 0, creations = 0, calls_to_created = 0, topic_counts = {},
    big_values = 0, huge_values = 0, bare = 0, wrapped = 0, by_address = {}, unknown = {} }
  local tx_seen, block_seen, created_at, nonces = {}, {}, {}, {}
  local prev_hash
  for k, rec in ipairs(recs) do
    local where = "record " .. k
    local block, receipts = rec, nil
    if rec.block ~= nil then
      assert(#rec == 2 and rec[1] == "block" and rec[2] == "receipts", where .. ": a wrapper has block and receipts only")
      block, receipts = rec.block, rec.receipts
      f.wrapped = f.wrapped + 1
    else
      f.bare = f.bare + 1
    end
    assert(is_quantity(block.number), where .. ": number " .. tostring(block.number))
    local h = qnum(block.number)
    assert(h == first + k - 1, where .. ": height " .. h .. ", expected " .. (first + k - 1))
    where = "block " .. h
    assert(is_data(block.hash, 32) and is_data(block.parentHash, 32), where .. ": hash or parentHash")
    if prev_hash then assert(block.parentHash == prev_hash, where .. ": parentHash is not the previous hash") end
    assert(not block_seen[block.hash], where .. ": block hash repeated")
    block_seen[block.hash] = true
    prev_hash = block.hash
    for _, m in ipairs({ "gasUsed", "gasLimit", "timestamp", "baseFeePerGas", "size", "blobGasUsed", "excessBlobGas" }) do
      assert(is_quantity(block[m]), where .. ": " .. m)
    end
    assert(is_data(block.logsBloom, 256), where .. ": logsBloom")
    local txs = block.transactions
    assert(getmetatable(txs) == json.array_mt, where .. ": transactions is an array")
    for i, tx in ipairs(txs) do
      local tw = where .. " tx " .. (i - 1)
      assert(tx.blockHash == block.hash and tx.blockNumber == block.number, tw .. ": blockHash/blockNumber")
      assert(tx.transactionIndex == ("0x%x"):format(i - 1), tw .. ": transactionIndex " .. tostring(tx.transactionIndex))
      assert(is_data(tx.hash, 32) and not tx_seen[tx.hash], tw .. ": hash missing or repeated")
      tx_seen[tx.hash] = true
      assert(is_data(tx.from, 20), tw .. ": from")
      assert(tx.to == json.null or is_data(tx.to, 20), tw .. ": to")
      for _, m in ipairs({ "nonce", "value", "gas", "gasPrice", "type", "v", "r", "s" }) do
        assert(is_quantity(tx[m]), tw .. ": " .. m .. " " .. tostring(tx[m]))
      end
      -- a sender's nonces count up from 0
      local n = qnum(tx.nonce)
      assert(n == (nonces[tx.from] or 0), tw .. ": nonce " .. n .. " after " .. tostring(nonces[tx.from]))
      nonces[tx.from] = n + 1
      local digits = #tx.value - 2
      if digits > 16 then f.big_values = f.big_values + 1 end
      if digits == 64 then f.huge_values = f.huge_values + 1 end
      if tx.to ~= json.null and created_at[tx.to] then
        assert(created_at[tx.to] < h, tw .. ": calls a contract created in its own block or later")
        f.calls_to_created = f.calls_to_created + 1
      end
      for _, a in ipairs({ tx.from, tx.to ~= json.null and tx.to or nil }) do
        f.by_address[a] = (f.by_address[a] or 0) + 1
      end
      if tx.to == json.null then f.creations = f.creations + 1 end
    end
    f.txs = f.txs + #txs
    if receipts then
      assert(#receipts == #txs, where .. ": " .. #receipts .. " receipts for " .. #txs .. " transactions")
      local cumulative, log_index = 0, 0
      for i, r in ipairs(receipts) do
        local tx, rw = txs[i], where .. " receipt " .. (i - 1)
        assert(r.transactionHash == tx.hash and r.blockHash == block.hash and r.blockNumber == block.number
          and r.transactionIndex == tx.transactionIndex, rw .. ": does not match its transaction")
        assert(r.from == tx.from and r.to == tx.to and r.type == tx.type, rw .. ": from/to/type")
        local used = qnum(r.gasUsed)
        cumulative = cumulative + used
        assert(qnum(r.cumulativeGasUsed) == cumulative, rw .. ": cumulativeGasUsed")
        assert(r.status == "0x1" or r.status == "0x0", rw .. ": status")
        assert(is_data(r.logsBloom, 256), rw .. ": logsBloom")
        if tx.to == json.null then
          assert(is_data(r.contractAddress, 20), rw .. ": a creation without contractAddress")
          if r.status == "0x1" then created_at[r.contractAddress] = h end
        else
          assert(r.contractAddress == json.null, rw .. ": contractAddress of a call")
        end
        if r.status == "0x0" then assert(#r.logs == 0, rw .. ": a failed transaction with logs") end
        for j, log in ipairs(r.logs) do
          local lw = rw .. " log " .. (j - 1)
          assert(log.logIndex == ("0x%x"):format(log_index), lw .. ": logIndex " .. tostring(log.logIndex))
          log_index = log_index + 1
          assert(log.blockNumber == block.number and log.blockHash == block.hash and log.transactionHash == tx.hash
            and log.transactionIndex == tx.transactionIndex and log.blockTimestamp == block.timestamp, lw .. ": fields")
          assert(log.removed == false and is_data(log.address, 20), lw .. ": removed/address")
          -- only code logs: the address is a contract created before (or by this transaction)
          -- (known when every block so far came with its receipts)
          assert(f.bare > 0 or (created_at[log.address] and created_at[log.address] <= h),
            lw .. ": logged by a non-contract " .. log.address)
          assert(#log.topics <= 4, lw .. ": more than 4 topics")
          for _, t in ipairs(log.topics) do assert(is_data(t, 32), lw .. ": topic") end
          assert(log.data:match("^0x[0-9a-f]*$") and #log.data % 64 == 2, lw .. ": data")
          f.topic_counts[#log.topics] = (f.topic_counts[#log.topics] or 0) + 1
        end
        f.logs = f.logs + #r.logs
      end
      assert(qnum(block.gasUsed) == cumulative, where .. ": gasUsed is not the receipts' cumulativeGasUsed")
      f.receipts = f.receipts + #receipts
    end
  end
  return f
end

-- ---- the recorded shapes -------------------------------------------------------------------------
local function key_list(o) local t = {}; for i = 1, #o do t[i] = o[i] end; return t end

-- The member orders real nodes print, by kind: "block", "tx 0x0".., "receipt", "log", "withdrawal".
local function recorded_orders()
  local orders = {}
  local cancun = json.decode(assert(helpers.read_file(NIMBUS .. "/Cancun.json")))
  orders.block = key_list(cancun)
  orders.withdrawal = key_list(cancun.withdrawals[1])
  for _, name in ipairs({ "22431082.json", "22431084.json" }) do
    for _, tx in ipairs(json.decode(assert(helpers.read_file(NIMBUS .. "/" .. name))).transactions) do
      orders["tx " .. tx.type] = orders["tx " .. tx.type] or key_list(tx)
    end
  end
  local text = assert(helpers.read_file(GETH_RECEIPTS))
  local answer = json.decode(assert(text:match("\n<< (%b{})")))
  for _, r in ipairs(answer.result) do
    orders.receipt = orders.receipt or key_list(r)
    if #r.logs > 0 then orders.log = orders.log or key_list(r.logs[1]) end
  end
  return orders
end

-- The members of o not in the recorded order `ref`, and whether the others keep ref's order.
local function compare_order(o, ref)
  local pos = {}
  for i, k in ipairs(ref) do pos[k] = i end
  local extra, last, ordered = {}, 0, true
  for i = 1, #o do
    local p = pos[o[i]]
    if not p then extra[#extra + 1] = o[i]
    elseif p < last then ordered = false
    else last = p end
  end
  return extra, ordered
end

describe("quarry gen --format ethereum-rpc", function()
  local dir, dump, recs, facts
  setup(function()
    dir = helpers.tmpdir("acctgen")
    dump = dir .. "/chain.jsonl"
    gen({ "gen", "--format", "ethereum-rpc", "--blocks", "1500", "--seed", tostring(SEED), "--out", dump })
    recs = records(dump)
    facts = check(recs, 0)
  end)
  teardown(function() helpers.cleanup() end)

  it("is deterministic: same seed same bytes, another seed other bytes " .. NOTE, function()
    local again, other = dir .. "/again.jsonl", dir .. "/other.jsonl"
    gen({ "gen", "--format", "ethereum-rpc", "--blocks", "1500", "--seed", tostring(SEED), "--out", again })
    gen({ "gen", "--format", "ethereum-rpc", "--blocks", "1500", "--seed", tostring(SEED + 1), "--out", other })
    local a, b, c = helpers.read_file(dump), helpers.read_file(again), helpers.read_file(other)
    assert.is_true(a == b, "same seed, different bytes " .. NOTE)
    assert.is_false(a == c, "another seed, same bytes " .. NOTE)
    -- the Lua API emits the records the command writes, line for line
    local lines, i = helpers.lines(a), 0
    ethereum.chain({ blocks = 1500, seed = SEED }, function(r)
      i = i + 1
      if i <= 50 or i % 100 == 0 then assert.equal(lines[i], json.encode(r), "record " .. i) end
    end)
    assert.equal(#recs, i)
  end)

  it("passes the checker: links, fields agreeing with their block, receipts, logIndex " .. NOTE, function()
    assert.equal(1500, #recs)
    assert.equal(1500, facts.wrapped)
    assert.is_true(facts.txs > 1500, "transactions: " .. facts.txs)
    assert.equal(facts.txs, facts.receipts)
    -- the summary line counts what the checker counted
    local err = gen({ "gen", "--format", "ethereum-rpc", "--blocks", "1500", "--seed", tostring(SEED), "--out", dir .. "/s.jsonl" })
    assert.truthy(err:find(("wrote 1500 blocks (1500 with receipts), %d transactions (%d contract creations), %d logs in receipts to")
      :format(facts.txs, facts.creations, facts.logs), 1, true), err)
  end)

  it("the checker can fail: it refuses a broken link, a wrong index, a repeated hash, a skipped logIndex", function()
    local function broken(mutate)
      local copy = records(dump)
      mutate(copy)
      local ok, e = pcall(check, copy, 0)
      assert.is_false(ok)
      return tostring(e)
    end
    assert.truthy(broken(function(c) c[5].block.parentHash = c[3].block.hash end):find("block 4: parentHash", 1, true))
    assert.truthy(broken(function(c) table.remove(c, 7) end):find("height 7, expected 6", 1, true))
    local k = 1
    while #recs[k].block.transactions < 2 do k = k + 1 end
    assert.truthy(broken(function(c) c[k].block.transactions[2].transactionIndex = "0x0" end):find("transactionIndex"))
    assert.truthy(broken(function(c) c[k].block.transactions[2].hash = c[k].block.transactions[1].hash end):find("repeated"))
    assert.truthy(broken(function(c) c[k].receipts[2].transactionHash = c[k].receipts[1].transactionHash end):find("does not match"))
    local kl
    for j, r in ipairs(recs) do
      local n = 0
      for _, rc in ipairs(r.receipts) do n = n + #rc.logs end
      if n >= 2 then kl = j break end
    end
    assert.truthy(broken(function(c)
      for _, rc in ipairs(c[kl].receipts) do
        for _, log in ipairs(rc.logs) do log.logIndex = "0x7" end
      end
    end):find("logIndex"))
  end)

  it("has contract creations, calls to them later, logs of 0 to 4 topics, values beyond 2^64 " .. NOTE, function()
    assert.is_true(facts.creations >= 10, "creations: " .. facts.creations)
    assert.is_true(facts.calls_to_created >= 100, "calls to created contracts: " .. facts.calls_to_created)
    for n = 0, 4 do
      assert.is_true((facts.topic_counts[n] or 0) > 0, "no log with " .. n .. " topics")
    end
    assert.is_true(facts.big_values >= 100, "values above 2^64: " .. facts.big_values)
    assert.is_true(facts.huge_values >= 1, "values of 256 bits: " .. facts.huge_values)
    -- topics: the most frequent repeats a lot, and some appear once
    local count = {}
    for _, r in ipairs(recs) do
      for _, rc in ipairs(r.receipts) do
        for _, log in ipairs(rc.logs) do
          for _, t in ipairs(log.topics) do count[t] = (count[t] or 0) + 1 end
        end
      end
    end
    local top, once = 0, 0
    for _, c in pairs(count) do
      if c > top then top = c end
      if c == 1 then once = once + 1 end
    end
    assert.is_true(top > facts.logs // 10 and once > 50, ("top topic %d of %d logs, %d topics once"):format(top, facts.logs, once))
  end)

  it("gives addresses a skewed activity: heavy and light accounts " .. NOTE, function()
    local counts = {}
    for _, c in pairs(facts.by_address) do counts[#counts + 1] = c end
    table.sort(counts)
    local median, top = counts[#counts // 2 + 1], counts[#counts]
    assert.is_true(#counts > 500 and top >= 50 * median, ("%d addresses, top %d, median %d"):format(#counts, top, median))
  end)

  it("writes the members nodes write, in their order, plus a few unknown ones", function()
    if not helpers.exists(NIMBUS .. "/Cancun.json") or not helpers.exists(GETH_RECEIPTS) then
      return pending("no recorded answers under " .. REALDATA)
    end
    local orders = recorded_orders()
    -- members of Cancun receipts geth writes for blob transactions: not in the recorded answers
    local geth_blob = { blobGasPrice = true, blobGasUsed = true }
    local unknown = {}
    local function judge(kind, o, allowed)
      local extra, ordered = compare_order(o, assert(orders[kind], "no recorded " .. kind))
      assert.is_true(ordered, kind .. " members out of the node's order: " .. table.concat(key_list(o), ","))
      for _, m in ipairs(extra) do
        if not (allowed and allowed[m]) then unknown[kind .. "." .. m] = (unknown[kind .. "." .. m] or 0) + 1 end
      end
    end
    local types = {}
    for _, r in ipairs(recs) do
      judge("block", r.block)
      for _, w in ipairs(r.block.withdrawals) do judge("withdrawal", w) end
      for _, tx in ipairs(r.block.transactions) do
        types[tx.type] = true
        judge("tx " .. tx.type, tx)
      end
      for _, rc in ipairs(r.receipts) do
        judge("receipt", rc, geth_blob)
        for _, log in ipairs(rc.logs) do judge("log", log) end
      end
    end
    for _, t in ipairs({ "0x0", "0x1", "0x2", "0x3" }) do assert.is_true(types[t], "no transaction of type " .. t) end
    local names = {}
    for k in pairs(unknown) do names[#names + 1] = k end
    table.sort(names)
    -- exactly the unknown members the generator adds on purpose (docs/tools.md, gen)
    assert.same({ "block.vendorExtra", "receipt.l1Fee", "receipt.l1GasUsed", "tx 0x2.isSystemTx" }, names)
    assert.equal(1500 // 97, unknown["block.vendorExtra"])
    -- --plain leaves them out
    local plain = dir .. "/plain.jsonl"
    gen({ "gen", "--format", "ethereum-rpc", "--blocks", "300", "--seed", tostring(SEED), "--plain", "--out", plain })
    unknown = {}
    for _, r in ipairs(records(plain)) do
      judge("block", r.block)
      for _, tx in ipairs(r.block.transactions) do judge("tx " .. tx.type, tx) end
      for _, rc in ipairs(r.receipts) do judge("receipt", rc, geth_blob) end
    end
    assert.same({}, unknown)
  end)

  it("--receipts none|mixed, --start, --array, .lz4", function()
    local none, mixed, arr, lz = dir .. "/n.jsonl", dir .. "/m.jsonl", dir .. "/a.json", dir .. "/z.jsonl.lz4"
    local common = { "--format", "ethereum-rpc", "--blocks", "200", "--seed", tostring(SEED) }
    local function with(out, ...)
      local a = { "gen" }
      for _, x in ipairs(common) do a[#a + 1] = x end
      for _, x in ipairs({ ... }) do a[#a + 1] = x end
      a[#a + 1] = "--out"
      a[#a + 1] = out
      return gen(a)
    end
    with(none, "--receipts", "none", "--start", "1000")
    local f = check(records(none), 1000)
    assert.equal(0, f.wrapped)
    assert.equal(200, f.bare)
    with(mixed, "--receipts", "mixed")
    local m = records(mixed)
    f = check(m, 0)
    assert.is_true(f.wrapped > 20 and f.bare > 20, ("wrapped %d, bare %d"):format(f.wrapped, f.bare))
    -- the same blocks as with all receipts, wrapped or not
    for k, r in ipairs(m) do
      assert.equal(json.encode(recs[k].block), json.encode(r.block or r), "block " .. (k - 1))
      if r.receipts then assert.equal(json.encode(recs[k].receipts), json.encode(r.receipts)) end
    end
    with(arr, "--array")
    local text = helpers.read_file(arr)
    assert.equal("[", text:sub(1, 1))
    local r = json.reader(arr)
    local as_jsonl = helpers.lines(helpers.read_file(dump))
    local i = 0
    for rec in r:each() do
      i = i + 1
      assert.equal(as_jsonl[i], json.encode(rec)) -- the first 200 blocks of the 1500-block chain
    end
    assert.equal("array", r:format())
    assert.equal(200, i)
    with(lz)
    assert.equal("\x04\x22\x4d\x18", helpers.read_file(lz):sub(1, 4))
    local n = 0
    for rec in json.reader(lz):each() do n = n + 1; assert.equal(as_jsonl[n], json.encode(rec)) end
    assert.equal(200, n)
  end)

  it("refuses options of the other generator and bad sizes, naming the option", function()
    local cases = {
      { { "--max-txs", "3" }, "--max%-txs is an option of the UTXO formats" },
      { { "--txs-per-block", "-1" }, "--txs%-per%-block must be a non%-negative integer" },
      { { "--addresses", "1" }, "--addresses must be an integer of at least 2" },
      { { "--start", "-4" }, "--start must be a non%-negative integer" },
      { { "--txs-per-block", "10001" }, "--txs%-per%-block must be a non%-negative integer of at most 10000" },
      { { "--start", "9223372036854775806" }, "the last height would pass 2%^63%-1" },
      { { "--receipts", "some" }, "receipts" },
    }
    for _, c in ipairs(cases) do
      local args = { "gen", "--format", "ethereum-rpc", "--blocks", "3", "--out", dir .. "/x.jsonl" }
      for _, a in ipairs(c[1]) do args[#args + 1] = a end
      local status, _, err = helpers.run_quarry(args)
      assert.equal(2, status, err)
      assert.truthy(err:find(c[2]), err)
    end
    local status, _, err = helpers.run_quarry({ "gen", "--blocks", "3", "--receipts", "none", "--out", dir .. "/y.json" })
    assert.equal(2, status)
    assert.truthy(err:find("--receipts is an option of --format ethereum-rpc", 1, true), err)
    assert.is_false(helpers.exists(dir .. "/x.jsonl") or helpers.exists(dir .. "/y.json"))
  end)

  it("keeps its memory flat over 200,000 blocks (RSS from /proc, not timed)", function()
    if (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true) then
      -- AddressSanitizer keeps freed memory in quarantine (up to 256 MiB): RSS means nothing there
      return pending("AddressSanitizer's quarantine and shadow memory inflate the resident size")
    end
    -- The generator's state is bounded (nonces of at most --addresses senders, 1024 contracts);
    -- the RSS after 20,000 blocks and after 200,000 must stay within a few MiB.
    local ok, out, err = helpers.run_lua([[
      local json = require("quarry.json")
      local function rss()
        for line in io.lines("/proc/self/status") do
          local kb = line:match("^VmRSS:%s*(%d+)")
          if kb then return tonumber(kb) end
        end
      end
      local marks, n, bytes = {}, 0, 0
      require("quarry.cli.gen.ethereum").chain({ blocks = 200000, seed = ]] .. SEED .. [[, txs_per_block = 1,
        addresses = 100000 }, function(r)
        bytes = bytes + #json.encode(r)
        n = n + 1
        if n == 20000 or n == 200000 then collectgarbage("collect"); marks[#marks + 1] = rss() end
      end)
      print(marks[1], marks[2], bytes)
    ]])
    assert.is_true(ok, err)
    local at20k, at200k, bytes = out:match("(%d+)%s+(%d+)%s+(%d+)")
    at20k, at200k, bytes = tonumber(at20k), tonumber(at200k), tonumber(bytes)
    assert.is_true(bytes > 500 * 1024 * 1024 // 2, "only " .. bytes .. " bytes generated")
    assert.is_true(at200k - at20k < 8 * 1024, ("RSS %d KiB after 20,000 blocks, %d KiB after 200,000 %s"):format(at20k, at200k, NOTE))
  end)
end)

-- 77-account_store: the account-chain store (quarry.chain.account) over dumps assembled from
-- recorded node answers (spec/account_fixture.lua: execution-apis, ethereum-etl and nimbus
-- mainnet blocks from Frontier-era to blob transactions). Oracles independent of the engine:
-- the counts and index entries are computed here from the records (re-parsed with quarry.json),
-- the key bytes packed here with string.pack from the hex digits, and the store read with the
-- plain database API. Every refusal of the way in is provoked by a mutated record and its message
-- checked; nothing committed is lost on a refusal.
local helpers = require("spec.helpers")
local json = require("quarry.json")
local quarry = require("quarry")
local fx = require("spec.account_fixture")
local migrate = require("quarry.chain.migrate")
local account = require("quarry.chain.account")

local DUMPS = fx.dumps()

local unhex = require("spec.account_fixture").unhex -- an independent hex decoder
local function num(q) return math.tointeger(tonumber(q:sub(3), 16)) end

-- A fresh copy of a dump's records (decoded again from their text: mutations stay local).
local function copy(name)
  local d = DUMPS[name]
  local recs = {}
  for i, r in ipairs(d.records) do recs[i] = json.decode(json.encode(r)) end
  return { records = recs, container = d.container }
end

local function write(dump, dir, name)
  return fx.write(dump, dir .. "/" .. name .. (dump.container == "jsonl" and ".jsonl" or ".json"))
end

local function block_of(r) return r.block or r end

-- The refusal of migrating records (library call): returns the error and the options.
local function refusal(dump, extra)
  local dir = helpers.tmpdir("acct")
  local opts = { json = write(dump, dir, "d"), db = dir .. "/db", format = "ethereum-rpc" }
  for k, v in pairs(extra or {}) do opts[k] = v end
  local ok, err = pcall(migrate.run, opts)
  assert.is_false(ok, "the migration was expected to be refused")
  return err, opts
end

local function assert_refused(dump, pattern, extra)
  local err, opts = refusal(dump, extra)
  assert.is_true(require("quarry.chain").is_invalid(err), "not an InvalidChain error: " .. tostring(err))
  assert.truthy(tostring(err):find(pattern, 1, true), ("expected %q in %q"):format(pattern, tostring(err)))
  return err, opts
end

after_each(helpers.cleanup)

describe("account store: recorded dumps", function()
  for _, name in ipairs(fx.NAMES) do
    it(name .. " migrates, verifies against its dump and exports the same records", function()
      local dir = helpers.tmpdir("acct")
      local path = write(DUMPS[name], dir, name)
      local db = dir .. "/db"
      local code, out, err = helpers.run_quarry({ "migrate", "--format", "ethereum-rpc", "--json", path, "--db", db,
        "--report", "json" })
      assert.are.equal(0, code, err)
      local rep = json.decode(out)
      -- the oracle: counts from the dump's text, parsed again
      local recs, text = fx.read_dump(path, DUMPS[name].container)
      local ntx, nrc, nlog = 0, 0, 0
      for _, r in ipairs(recs) do
        ntx = ntx + #block_of(r).transactions
        if r.receipts then
          nrc = nrc + #r.receipts
          for _, rc in ipairs(r.receipts) do nlog = nlog + #rc.logs end
        end
      end
      assert.are.equal(#recs, rep.blocks)
      assert.are.equal(num(block_of(recs[1]).number), rep.base)
      assert.are.equal(block_of(recs[#recs]).hash, rep.tip_hash)
      assert.are.same({ ntx, nrc, nlog }, { rep.txs, rep.receipts, rep.logs })
      assert.are.equal("account-chain", rep.layout)
      assert.are.equal("hashes taken as given: no RLP or Keccak recomputation", rep.not_verified)
      code, out, err = helpers.run_quarry({ "verify", "--db", db, "--json", path })
      assert.are.equal(0, code, out .. err)
      assert.truthy(out:find("ok   source", 1, true), out)
      local back = dir .. "/back" .. (DUMPS[name].container == "jsonl" and ".jsonl" or ".json")
      code, _, err = helpers.run_quarry({ "export", "--db", db, "--json", back })
      assert.are.equal(0, code, err)
      -- the same JSON values, record by record (and, both being compact, the same bytes)
      local brecs, btext = fx.read_dump(back, DUMPS[name].container)
      assert.are.equal(#recs, #brecs)
      for i = 1, #recs do assert.are.equal(json.encode(recs[i]), json.encode(brecs[i]), "record " .. i) end
      assert.are.equal(text, btext)
    end)
  end

  it("keeps the members each fork brings and values beyond 2^64, text for text", function()
    local cancun = json.encode(DUMPS.cancun.records[1])
    for _, m in ipairs({ '"withdrawals":', '"blobGasUsed":', '"yParity":', '"accessList":' }) do
      assert.truthy(cancun:find(m, 1, true), m)
    end
    assert.truthy(json.encode(DUMPS.prague.records[1]):find('"blobVersionedHashes":', 1, true))
    -- Homestead: a transfer of 0x3cb71f51fc5580000 wei (above 2^64), stored as given
    local dir = helpers.tmpdir("acct")
    local d = copy("homestead")
    local tx = d.records[1].transactions[1]
    local big
    for _, t in ipairs(d.records[1].transactions) do
      if #t.value > 18 then big = t end
    end
    assert.truthy(big, "the Homestead block has a value beyond 2^64")
    tx.value = "0x" .. ("F"):rep(64) -- 2^256-1, upper case
    migrate.run({ json = write(d, dir, "h"), db = dir .. "/db", format = "ethereum-rpc" })
    local db = quarry.open(dir .. "/db", { mode = "read_only", column_families = account.FAMILIES })
    local function stored(t)
      local v = assert(db:cf("txs"):get(unhex(t.hash)))
      return json.decode(v:sub(13)).value
    end
    assert.are.equal(big.value, stored(big))
    assert.are.equal("0x" .. ("F"):rep(64), stored(tx))
    db:close()
  end)
end)

describe("account store: the families' bytes", function()
  it("holds exactly the entries computed from the records, packed independently", function()
    local dir = helpers.tmpdir("acct")
    local d = DUMPS.hive_latest
    migrate.run({ json = write(d, dir, "l"), db = dir .. "/db", format = "ethereum-rpc" })
    local expect = { blocks = {}, hashes = {}, txs = {}, receipts = {}, addr_txs = {}, logs_by_address = {},
      logs_by_topic = {} }
    local n = { blocks = 0, hashes = 0, txs = 0, receipts = 0, addr_txs = 0, logs_by_address = 0, logs_by_topic = 0 }
    local function put(f, k, v)
      if expect[f][k] == nil then n[f] = n[f] + 1 end
      expect[f][k] = v
    end
    for _, r in ipairs(d.records) do
      local b = r.block
      local h = num(b.number)
      put("hashes", unhex(b.hash), string.pack(">I8", h))
      put("blocks", string.pack(">I8", h), false) -- the value is checked through export
      for i, tx in ipairs(b.transactions) do
        local th = unhex(tx.hash)
        local rc = r.receipts[i]
        put("txs", th, false)
        put("receipts", th, json.encode(rc))
        local roles = {}
        local function role(a, bit)
          if a and a ~= json.null then roles[unhex(a)] = (roles[unhex(a)] or 0) | bit end
        end
        role(tx.from, 1)
        role(tx.to, 2)
        role(rc.contractAddress, 4)
        for a, bits in pairs(roles) do
          put("addr_txs", a .. string.pack(">I8", h) .. string.pack(">I4", i - 1), th .. string.char(bits))
        end
        for j, lg in ipairs(rc.logs) do
          local v = th .. string.pack(">I4", j - 1)
          local li = string.pack(">I4", num(lg.logIndex))
          put("logs_by_address", unhex(lg.address) .. string.pack(">I8", h) .. li, v)
          for k, t in ipairs(lg.topics) do
            put("logs_by_topic", unhex(t) .. string.char(k - 1) .. string.pack(">I8", h) .. li, v)
          end
        end
      end
    end
    assert.is_true(n.logs_by_topic > 0 and n.logs_by_address > 0)
    local db = quarry.open(dir .. "/db", { mode = "read_only", column_families = account.FAMILIES })
    for f, want in pairs(expect) do
      local got = 0
      for k, v in db:cf(f):pairs() do
        got = got + 1
        assert.is_true(want[k] ~= nil, f .. ": unexpected key " .. require("quarry.chain.account.keys").hex(k))
        if want[k] then assert.are.equal(want[k], v, f) end
      end
      assert.are.equal(n[f], got, f)
    end
    -- txs: be64(height) .. be32(index) .. the transaction's JSON
    local tx = d.records[1].block.transactions[2]
    assert.are.equal(string.pack(">I8", num(tx.blockNumber)) .. string.pack(">I4", 1) .. json.encode(tx),
      db:cf("txs"):get(unhex(tx.hash)))
    local st = json.decode(db:cf("meta"):get("state"))
    assert.are.same({ "layout", "format", "tip", "tip_hash", "counts", "receipts", "verified" },
      { st[1], st[2], st[3], st[4], st[5], st[6], st[7] })
    assert.are.equal(num(d.records[1].block.number), st.tip)
    assert.are.equal("all", st.receipts)
    db:close()
  end)

  it("verify finds an index entry removed or added behind its back (its oracle can fail)", function()
    local dir = helpers.tmpdir("acct")
    local path = write(DUMPS.hive_latest, dir, "l")
    migrate.run({ json = path, db = dir .. "/db", format = "ethereum-rpc" })
    local db = quarry.open(dir .. "/db", { column_families = account.FAMILIES })
    local first
    for key in db:cf("addr_txs"):pairs({ limit = 1, keys_only = true }) do first = key end
    db:cf("addr_txs"):delete(first)
    db:cf("logs_by_address"):put(("\7"):rep(20) .. ("\0"):rep(12), ("\1"):rep(36))
    db:close()
    local code, out = helpers.run_quarry({ "verify", "--db", dir .. "/db" })
    assert.are.equal(1, code, out)
    assert.truthy(out:find("FAIL addr_txs", 1, true), out)
    assert.truthy(out:find("FAIL logs", 1, true), out)
  end)

  it("verify finds a receipt or a transaction row gone, the counts off, and a source that differs", function()
    local dir = helpers.tmpdir("acct")
    local path = write(DUMPS.hive, dir, "h")
    migrate.run({ json = path, db = dir .. "/db", format = "ethereum-rpc" })
    local tx = DUMPS.hive.records[2].block.transactions[2]
    -- the source with one value changed (a hex digit's case: the text is compared, not the number)
    local d = copy("hive")
    d.records[2].block.transactions[3].value = d.records[2].block.transactions[3].value:upper():gsub("^0X", "0x")
    if d.records[2].block.transactions[3].value == DUMPS.hive.records[2].block.transactions[3].value then
      d.records[2].block.transactions[3].gas = "0x00" .. d.records[2].block.transactions[3].gas:sub(3)
    end
    local other = write(d, dir, "other")
    local code, out = helpers.run_quarry({ "verify", "--db", dir .. "/db", "--json", other })
    assert.are.equal(1, code, out)
    assert.truthy(out:find("FAIL source", 1, true), out)
    assert.truthy(out:find("block 1: the stored record differs from the source at byte", 1, true), out)
    local db = quarry.open(dir .. "/db", { column_families = account.FAMILIES })
    db:cf("receipts"):delete(unhex(tx.hash))
    db:close()
    code, out = helpers.run_quarry({ "verify", "--db", dir .. "/db" })
    assert.are.equal(1, code, out)
    assert.truthy(out:find("FAIL receipts", 1, true), out)
    assert.truthy(out:find("block 1 tx 1 (" .. tx.hash .. "): has no receipt, unlike transaction 0 of its block", 1, true), out)
    assert.truthy(out:find("FAIL counts", 1, true), out)
    assert.truthy(out:find("the state counts 4 receipts, the store holds 3", 1, true), out)
    db = quarry.open(dir .. "/db", { column_families = account.FAMILIES })
    db:cf("txs"):delete(unhex(tx.hash))
    db:close()
    code, out = helpers.run_quarry({ "verify", "--db", dir .. "/db" })
    assert.are.equal(1, code, out)
    assert.truthy(out:find("block 1 tx 1 (" .. tx.hash .. "): no txs row", 1, true), out)
  end)
end)

describe("account store: refusals", function()
  -- hive: block 0 (no transactions) then block 1 (4 transactions with receipts, no logs)
  local function hive() return copy("hive") end
  local function b1(d) return d.records[2].block end
  local function r1(d) return d.records[2].receipts end

  it("heights must be contiguous", function()
    local d = hive()
    b1(d).number = "0x2"
    assert_refused(d, "block 2: expected height 1 after block 0: heights must be contiguous (1 missing)")
  end)

  it("parentHash must be the previous block's hash", function()
    local d = hive()
    b1(d).parentHash = "0x" .. ("11"):rep(32)
    assert_refused(d, "block 1: parentHash 0x" .. ("11"):rep(32) .. " is not the hash of block 0 (" ..
      d.records[1].block.hash .. ")")
  end)

  it("a transaction's blockNumber, blockHash and transactionIndex agree with its block", function()
    local d = hive()
    local tx = b1(d).transactions[3]
    tx.blockNumber = "0x0"
    assert_refused(d, "block 1 tx 2 (" .. tx.hash .. "): blockNumber 0x0 is not the block's number 0x1")
    d = hive()
    tx = b1(d).transactions[2]
    tx.blockHash = d.records[1].block.hash
    assert_refused(d, "block 1 tx 1 (" .. tx.hash .. "): blockHash " .. tx.blockHash .. " is not the block's hash")
    d = hive()
    tx = b1(d).transactions[4]
    tx.transactionIndex = "0x2"
    assert_refused(d, "block 1 tx 3 (" .. tx.hash .. "): transactionIndex 0x2 is not its position 3 in the block")
  end)

  it("one receipt per transaction, with its hash, block and index", function()
    local d = hive()
    table.remove(r1(d))
    assert_refused(d, "block 1: 3 receipts for 4 transactions: one receipt per transaction, in order")
    d = hive()
    r1(d)[2].transactionHash = b1(d).transactions[1].hash
    assert_refused(d, "block 1 receipt 1 (tx " .. b1(d).transactions[2].hash .. "): transactionHash " ..
      b1(d).transactions[1].hash .. " is not the hash of transaction 1")
    d = hive()
    r1(d)[1].blockNumber = "0x5"
    assert_refused(d, "block 1 receipt 0 (tx " .. b1(d).transactions[1].hash .. "): blockNumber 0x5 is not the block's number 0x1")
    d = hive()
    r1(d)[3].transactionIndex = "0x0"
    assert_refused(d, "block 1 receipt 2 (tx " .. b1(d).transactions[3].hash .. "): transactionIndex 0x0 is not its position 2")
    d = hive()
    r1(d)[4].blockHash = "0x" .. ("22"):rep(32)
    assert_refused(d, "block 1 receipt 3 (tx " .. b1(d).transactions[4].hash .. "): blockHash 0x" .. ("22"):rep(32))
  end)

  it("logIndex increases through the block; a log's own block and transaction agree", function()
    -- hive_latest: block 0x36, its logs in several receipts
    local function latest() return copy("hive_latest") end
    local function logs_of(d)
      local t = {}
      for i, rc in ipairs(d.records[1].receipts) do
        for j, lg in ipairs(rc.logs) do t[#t + 1] = { i = i, j = j, log = lg, rc = rc } end
      end
      return t
    end
    local d = latest()
    local L = logs_of(d)
    assert.is_true(#L >= 3)
    local third = L[3]
    third.log.logIndex = L[2].log.logIndex
    assert_refused(d, ("block 54 receipt %d (tx %s) log %d: logIndex %s does not follow the previous log's %d")
      :format(third.i - 1, third.rc.transactionHash, third.j - 1, L[2].log.logIndex, num(L[2].log.logIndex)))
    d = latest()
    L = logs_of(d)
    L[1].log.transactionHash = "0x" .. ("33"):rep(32)
    assert_refused(d, ("log %d: transactionHash 0x%s is not its transaction's"):format(L[1].j - 1, ("33"):rep(32)))
    d = latest()
    L = logs_of(d)
    L[2].log.blockNumber = "0x35"
    assert_refused(d, ("log %d: blockNumber 0x35 is not the block's number 0x36"):format(L[2].j - 1))
    d = latest()
    L = logs_of(d)
    L[1].log.transactionIndex = "0x9"
    assert_refused(d, ("log %d: transactionIndex 0x9 is not its transaction's index %d"):format(L[1].j - 1, L[1].i - 1))
  end)

  it("no transaction hash twice, in a block or across groups (the txs family)", function()
    local d = hive()
    local txs = b1(d).transactions
    txs[3].hash = txs[1].hash
    r1(d)[3].transactionHash = txs[1].hash
    assert_refused(d, "block 1 tx 2 (" .. txs[1].hash .. "): transaction hash " .. txs[1].hash ..
      " repeats transaction 0 of block 1")
    -- ethereum-etl 47218, 47219: the second block repeats a hash of the first, a group apart
    d = copy("etl_47218")
    local first, second = d.records[1].block, d.records[2].block
    assert.is_true(#first.transactions > 0 and #second.transactions > 0)
    second.transactions[1].hash = first.transactions[1].hash
    d.records[2].receipts[1].transactionHash = first.transactions[1].hash
    local _, opts = assert_refused(d, "block 47219 tx 0 (" .. first.transactions[1].hash .. "): transaction hash " ..
      first.transactions[1].hash .. " repeats transaction 0 of block 47218", { group_blocks = 1 })
    -- the first group stays
    local s = account.open(opts.db, { mode = "read_only" })
    assert.are.equal(47218, s.tip_height)
    assert.are.equal(#first.transactions, s:stats().txs)
    s:close()
  end)

  it("no block hash twice (a block repeating its parent's hash and linking to it)", function()
    local d = hive()
    b1(d).hash = d.records[1].block.hash
    b1(d).parentHash = d.records[1].block.hash
    for _, tx in ipairs(b1(d).transactions) do tx.blockHash = b1(d).hash end
    for _, rc in ipairs(r1(d)) do rc.blockHash = b1(d).hash end
    assert_refused(d, "block 1: hash " .. b1(d).hash .. " is already the hash of block 0")
    assert_refused(d, "block 1: hash " .. b1(d).hash .. " is already the hash of block 0", { group_blocks = 1 })
  end)

  it("hex must be well-formed with the right number of bytes", function()
    local d = hive()
    b1(d).hash = "0x1234"
    assert_refused(d, "block 1: hash must be 0x followed by 64 hex digits (32 bytes), got \"0x1234\"")
    d = hive()
    b1(d).transactions[1].from = "0x" .. ("zz"):rep(20)
    assert_refused(d, "block 1 tx 0 (" .. b1(d).transactions[1].hash .. "): from must be 0x followed by 40 hex digits")
    d = hive()
    b1(d).transactions[2].to = "0x" .. ("ab"):rep(21)
    assert_refused(d, "block 1 tx 1 (" .. b1(d).transactions[2].hash .. "): to must be 0x followed by 40 hex digits (20 bytes), got")
    d = hive()
    b1(d).transactions[2].value = "12"
    assert_refused(d, "member \"value\" must be a 0x hex quantity, got \"12\"")
    d = hive()
    b1(d).transactions[1].input = "0xabc"
    assert_refused(d, "member \"input\" must be 0x hex bytes (an even number of digits)")
    d = hive()
    b1(d).number = "1"
    assert_refused(d, "number must be a 0x hex quantity below 2^63, got \"1\"")
  end)

  it("transactions as hashes only are refused, saying which call gives the bodies", function()
    local d = copy("cancun")
    local b = d.records[1]
    for i, tx in ipairs(b.transactions) do b.transactions[i] = tx.hash end
    assert_refused(d, "block 19426587 tx 0: transactions are hashes only: the dump needs full transaction objects " ..
      "(eth_getBlockByNumber(n, true))")
  end)

  it("a refused first group leaves no store; a later one keeps the groups before it", function()
    local d = hive()
    b1(d).transactions[1].blockNumber = "0x7"
    local _, opts = assert_refused(d, "block 1 tx 0")
    assert.is_false(helpers.exists(opts.db), "a refused migration into a new directory left " .. opts.db)
    _, opts = assert_refused(d, "block 1 tx 0", { group_blocks = 1 })
    local s = account.open(opts.db, { mode = "read_only" })
    assert.are.same({ 0, 0 }, { s.base, s.tip_height })
    s:close()
    -- the command says the same, and that the groups before are committed
    local code, _, err = helpers.run_quarry({ "migrate", "--format", "ethereum-rpc", "--json", opts.json,
      "--db", opts.db, "--resume" })
    assert.are.equal(1, code)
    assert.truthy(err:find("quarry migrate: invalid chain: block 1 tx 0 (", 1, true), err)
    assert.truthy(err:find("the groups before this block are committed", 1, true), err)
    local out
    code, out = helpers.run_quarry({ "migrate", "--format", "ethereum-rpc", "--json", opts.json,
      "--db", opts.db, "--resume", "--report", "json" })
    assert.are.equal(1, code)
    local rep = json.decode(out)
    assert.are.same({ "InvalidChain", 1, 0, "account-chain" }, { rep.error.code, rep.error.block, rep.tip, rep.layout })
  end)

  it("parentHash is checked across a resume", function()
    local dir = helpers.tmpdir("acct")
    local first = { records = { copy("hive").records[1] }, container = "jsonl" }
    local db = dir .. "/db"
    migrate.run({ json = write(first, dir, "first"), db = db, format = "ethereum-rpc" })
    local d = hive()
    b1(d).parentHash = "0x" .. ("44"):rep(32)
    local ok, err = pcall(migrate.run, { json = write(d, dir, "all"), db = db, format = "ethereum-rpc", resume = true })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("block 1: parentHash 0x" .. ("44"):rep(32) .. " is not the hash of block 0", 1, true),
      tostring(err))
    -- a dump of another chain at the heights already there is refused too
    d = hive()
    d.records[1].block.hash = "0x" .. ("55"):rep(32)
    ok, err = pcall(migrate.run, { json = write(d, dir, "other"), db = db, format = "ethereum-rpc", resume = true })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("--resume: block 0 of", 1, true), tostring(err))
    -- the right dump completes it
    local r = migrate.run({ json = write(hive(), dir, "good"), db = db, format = "ethereum-rpc", resume = true })
    assert.are.same({ 1, 1 }, { r.added, r.skipped })
  end)

  it("a UTXO format into account-chain, or ethereum-rpc into a UTXO layout, is refused", function()
    local dir = helpers.tmpdir("acct")
    local path = write(DUMPS.hive, dir, "h")
    local code, _, err = helpers.run_quarry({ "migrate", "--format", "ethereum-rpc", "--layout", "quarry-chain",
      "--json", path, "--db", dir .. "/a" })
    assert.are.equal(1, code)
    assert.truthy(err:find("format ethereum-rpc is an account-model chain: it goes into layout account-chain, not \"quarry-chain\"", 1, true), err)
    code, _, err = helpers.run_quarry({ "migrate", "--format", "quarry", "--layout", "account-chain",
      "--json", path, "--db", dir .. "/b" })
    assert.are.equal(1, code)
    assert.truthy(err:find("layout account-chain holds format ethereum-rpc only, not \"quarry\"", 1, true), err)
    assert.is_false(helpers.exists(dir .. "/a"))
    assert.is_false(helpers.exists(dir .. "/b"))
    -- the layout is the format's default, and the format the layout's
    code, _, err = helpers.run_quarry({ "migrate", "--layout", "account-chain", "--json", path, "--db", dir .. "/c" })
    assert.are.equal(0, code, err)
    code, _, err = helpers.run_quarry({ "verify", "--db", dir .. "/c", "--layout", "quarry-chain" })
    assert.are.equal(1, code)
    assert.truthy(err:find("is an account-chain store (format ethereum-rpc), not layout quarry-chain", 1, true), err)
  end)
end)

describe("account store: records as they came", function()
  it("a bare block among wrapped ones, and a wrapped block without transactions, export as they came", function()
    local dir = helpers.tmpdir("acct")
    -- hive: block 0 wrapped (no transactions), block 1 wrapped; then bare block 0 and wrapped block 1
    local d = copy("hive")
    local bare = { records = { d.records[1].block, d.records[2] }, container = "array" }
    for _, case in ipairs({ { "wrapped", d }, { "bare", bare } }) do
      local p = write(case[2], dir, case[1])
      migrate.run({ json = p, db = dir .. "/" .. case[1], format = "ethereum-rpc" })
      local s = account.open(dir .. "/" .. case[1], { mode = "read_only" })
      for i, r in ipairs(case[2].records) do
        assert.are.equal(json.encode(r), json.encode(s:record(i - 1)), case[1] .. " record " .. i)
      end
      s:close()
    end
    -- a bare block without transactions after a wrapped one: only a meta entry can tell
    d = copy("hive")
    local b = d.records[2].block
    b.transactions = json.array()
    d.records[2] = b
    local p = write(d, dir, "mixed")
    migrate.run({ json = p, db = dir .. "/mixed", format = "ethereum-rpc" })
    local code, _, err = helpers.run_quarry({ "export", "--db", dir .. "/mixed", "--json", dir .. "/mixed.back.jsonl" })
    assert.are.equal(0, code, err)
    assert.are.equal(helpers.read_file(p), helpers.read_file(dir .. "/mixed.back.jsonl"))
    local db = quarry.open(dir .. "/mixed", { mode = "read_only", column_families = account.FAMILIES })
    assert.are.equal("bare", db:cf("meta"):get("shape/" .. string.pack(">I8", 1)))
    db:close()
  end)
end)

-- quarry.chain.account: the account-chain store (docs/account-chain.md): Ethereum-style blocks,
-- transactions, receipts and logs with their address and topic indexes, in the families of
-- quarry.chain.account.keys. Opening a store, groups of blocks checked on the way in and committed
-- atomically with the state, rebuilding a dump record from the families, and the migration of an
-- `ethereum-rpc` dump (the same groups, resume, progress and report as quarry.chain.migrate).
local quarry = require("quarry")
local json = require("quarry.json")
local keys = require("quarry.chain.account.keys")

local getmetatable, rawget, type = getmetatable, rawget, type
local OBJ, ARR = json.object_mt, json.array_mt
local encode, decode = json.encode, json.decode
local kraw, quantity, is_quantity, is_data, show = keys.raw, keys.quantity, keys.is_quantity, keys.is_data, keys.show

local M = {}

M.keys = keys
M.FAMILIES = keys.FAMILIES
M.LAYOUT, M.FORMAT = keys.LAYOUT, keys.FORMAT

local function fail(fmt, ...) error(fmt:format(...), 0) end

---------------------------------------------------------------------------------------------------
-- Refusals: the chain engine's InvalidChain errors (quarry.chain.is_invalid), naming the block and
-- the transaction, receipt or log.
---------------------------------------------------------------------------------------------------

local ChainError = require("quarry.chain").ChainError

-- where: { h = height, tx = index, txhash = text, receipt = index, log = position }
local function where_text(w)
  local s = "block " .. tostring(w.h)
  if w.receipt ~= nil then
    s = s .. " receipt " .. w.receipt
    if w.txhash then s = s .. " (tx " .. w.txhash .. ")" end
  elseif w.tx ~= nil then
    s = s .. " tx " .. w.tx
    if w.txhash then s = s .. " (" .. w.txhash .. ")" end
  end
  if w.log ~= nil then s = s .. " log " .. w.log end
  return s
end

local function invalid(w, fmt, ...)
  local msg = where_text(w) .. ": " .. fmt:format(...)
  error(setmetatable({ code = "InvalidChain", message = msg, height = w.h, tx = w.tx,
    receipt = w.receipt, log = w.log }, ChainError), 0)
end
M._invalid = invalid

-- Reading members with the check, each raising naming where and which member.
local function is_obj(v) return getmetatable(v) == OBJ end
local function is_arr(v) return getmetatable(v) == ARR end

local function member_raw(w, obj, name, n)
  local v = rawget(obj, name)
  local ok, r = pcall(kraw, v, n, name)
  if not ok then
    if v == nil then invalid(w, "member %q is missing (%d-byte 0x hex expected)", name, n) end
    invalid(w, "%s", r)
  end
  return r
end

local function member_quantity(w, obj, name)
  local v = rawget(obj, name)
  if v == nil then invalid(w, "member %q is missing (a 0x hex quantity expected)", name) end
  local ok, r = pcall(quantity, v, name)
  if not ok then invalid(w, "%s", r) end
  return r
end

-- Optional members: when present, of the right shape.
local QUANTITIES = { "nonce", "gas", "gasPrice", "value", "maxFeePerGas", "maxPriorityFeePerGas",
  "maxFeePerBlobGas", "chainId", "type", "v" }
local RECEIPT_QUANTITIES = { "cumulativeGasUsed", "gasUsed", "effectiveGasPrice", "status", "type",
  "blobGasUsed", "blobGasPrice" }
local BLOCK_QUANTITIES = { "difficulty", "gasLimit", "gasUsed", "timestamp", "size", "baseFeePerGas",
  "blobGasUsed", "excessBlobGas", "totalDifficulty" }

local function check_quantities(w, obj, names)
  for _, name in ipairs(names) do
    local v = rawget(obj, name)
    if v ~= nil and v ~= json.null and not is_quantity(v) then
      invalid(w, "member %q must be a 0x hex quantity, got %s", name, show(v))
    end
  end
end

local function check_data(w, obj, name)
  local v = rawget(obj, name)
  if v ~= nil and not is_data(v) then
    invalid(w, "member %q must be 0x hex bytes (an even number of digits), got %s", name, show(v))
  end
end

-- An address member that may be null or absent (a creation's `to`, a receipt's contractAddress).
local function optional_address(w, obj, name)
  local v = rawget(obj, name)
  if v == nil or v == json.null then return nil end
  local ok, r = pcall(kraw, v, 20, name)
  if not ok then invalid(w, "%s (or null)", r) end
  return r
end

---------------------------------------------------------------------------------------------------
-- Records: a bare block, or {"block": ..., "receipts": [...]}
---------------------------------------------------------------------------------------------------

-- account.split(record, n) -> block, receipts (nil for a bare block). n numbers the record in
-- messages (0-based) when the record has no readable height.
function M.split(record, n)
  local w = { h = "#" .. tostring(n) .. " of the dump" }
  if not is_obj(record) then
    invalid(w, "a record must be a block object or {\"block\": ..., \"receipts\": [...]}, got %s", show(record))
  end
  if rawget(record, "number") == nil and rawget(record, "block") ~= nil then
    local b, r = rawget(record, "block"), rawget(record, "receipts")
    if #record ~= 2 or record[1] ~= "block" or record[2] ~= "receipts" then
      local names = {}
      for i = 1, #record do names[i] = tostring(record[i]) end
      invalid(w, "a wrapped record has exactly the members \"block\" then \"receipts\", got %s",
        table.concat(names, ", "))
    end
    if not is_obj(b) then invalid(w, "\"block\" must be a block object, got %s", show(b)) end
    if not is_arr(r) then invalid(w, "\"receipts\" must be an array of receipts, got %s", show(r)) end
    return b, r
  end
  return record, nil
end

-- account.height_of(record, n) -> the record's height (its block's `number`), raising naming it.
function M.height_of(record, n)
  local b = M.split(record, n)
  return member_quantity({ h = "#" .. tostring(n) .. " of the dump" }, b, "number")
end

---------------------------------------------------------------------------------------------------
-- Opening
---------------------------------------------------------------------------------------------------

local Store = {}
Store.__index = Store
Store.__name = "quarry.chain.account.store"
M.Store = Store

-- account.is_store(path) -> true when path holds the families of an account-chain store.
function M.is_store(path)
  local ok, names = pcall(quarry.list_column_families, path)
  if not ok then return false end
  local have = {}
  for _, n in ipairs(names) do have[n] = true end
  return have.addr_txs and have.logs_by_topic and have.receipts or false
end

-- account.open(path [, options]) -> store
-- options: mode ("read_write" default, "read_only", "secondary"), secondary_path, create (default
-- true), preset, db (more quarry.open options), sync (group commits synced, default true).
-- Raises naming the path when it holds another kind of store.
function M.open(path, options)
  options = options or {}
  local mode = options.mode or "read_write"
  local dbopts = {}
  for k, v in pairs(options.db or {}) do dbopts[k] = v end
  dbopts.mode = mode
  if options.preset then dbopts.preset = options.preset end
  if options.secondary_path then dbopts.secondary_path = options.secondary_path end
  local okl, names = pcall(quarry.list_column_families, path)
  if okl then
    local have, others = {}, {}
    for _, n in ipairs(names) do have[n] = true end
    local ours = { default = true }
    for _, f in ipairs(M.FAMILIES) do ours[f] = true end
    for _, n in ipairs(names) do if not ours[n] then others[#others + 1] = n end end
    if #others > 0 then
      local what = have.utxo and "a UTXO chain store (layout quarry-chain)" or "another store"
      fail("%s holds %s (column families %s), not an account-chain store: give an empty or new " ..
        "--db, or the layout it was written with", path, what, table.concat(others, ", "))
    end
  end
  if mode == "read_write" then
    dbopts.column_families = M.FAMILIES
    dbopts.create_if_missing = options.create ~= false
  end
  local db = quarry.open(path, dbopts)
  local self = setmetatable({ db = db, path = path, mode = mode, cf = {}, sync = options.sync ~= false },
    Store)
  local ok, err = pcall(function()
    local have = {}
    for _, n in ipairs(db:column_families()) do have[n] = true end
    for _, name in ipairs(M.FAMILIES) do
      if not have[name] then fail("%s is not an account-chain store (no column family %q)", path, name) end
      self.cf[name] = db:cf(name)
    end
    self:_load()
  end)
  if not ok then
    db:close()
    error(err, 0)
  end
  return self
end

-- account.open_reader(path) -> store opened read-only (a secondary in a scratch directory when a
-- writer holds the lock).
function M.open_reader(path, options)
  options = options or {}
  if not options.secondary then
    local ok, store = pcall(M.open, path, { mode = "read_only", create = false })
    if ok then return store end
    if not (quarry.is_error(store) and (store.code == "Locked" or store.code == "Busy")) then error(store, 0) end
  end
  local scratch = require("quarry.sys").mkdtemp("quarry-secondary")
  local ok, store = pcall(M.open, path, { mode = "secondary", secondary_path = scratch, create = false })
  if not ok then
    os.execute("rm -rf '" .. scratch:gsub("'", "'\\''") .. "'")
    error(store, 0)
  end
  store.scratch = scratch
  return store
end

local function zero_counts() return { blocks = 0, txs = 0, receipts = 0, logs = 0 } end

function Store:_load()
  local text = self.cf.meta:get(keys.META_STATE)
  if text == nil then
    self.state = nil
    self.tip_height, self.tip_hash, self.base = nil, nil, nil
    self.counts = zero_counts()
    self.shape = nil
    return
  end
  local st = keys.decode_meta(text)
  self.state = st
  self.tip_height = st.tip ~= json.null and st.tip or nil
  self.tip_hash = st.tip_hash ~= json.null and st.tip_hash or nil
  self.base = st.base
  local c = zero_counts()
  for k in pairs(c) do c[k] = st.counts and st.counts[k] or 0 end
  self.counts = c
  self.shape = st.records
end

-- Secondary mode: follow the primary's newer writes.
function Store:catch_up()
  self.db:catch_up()
  self:_load()
end

function Store:close()
  if self.db then
    self.db:close()
    self.db = nil
  end
  if self.scratch then
    os.execute("rm -rf '" .. self.scratch:gsub("'", "'\\''") .. "'")
    self.scratch = nil
  end
end
Store.__close = Store.close
Store.__gc = Store.close

-- store:tip() -> height, hash (nil when empty)
function Store:tip() return self.tip_height, self.tip_hash end

-- The receipts member of the state: "all", "none" or "some".
local function receipts_mode(c, records)
  if c.txs == 0 then return records == "wrapped" and "all" or "none" end
  if c.receipts == 0 then return "none" end
  if c.receipts == c.txs then return "all" end
  return "some"
end
M._receipts_mode = receipts_mode

-- store:stats() -> { blocks, base, tip, tip_hash, txs, receipts, logs, receipts_mode }
function Store:stats()
  local c = self.counts
  return { blocks = c.blocks, base = self.base, tip = self.tip_height, tip_hash = self.tip_hash,
    txs = c.txs, receipts = c.receipts, logs = c.logs, receipts_mode = receipts_mode(c, self.shape) }
end

-- store:meta(key) -> the state's member key (source_format, header), or the raw meta value.
function Store:meta(key)
  if self.state and (key == "source_format") then return self.state[key] end
  return self.cf.meta:get(key)
end

-- The meta key recording the shape of a record without transactions whose shape differs from
-- the store's first record (only then is it ambiguous: receipts say it for the others).
local function shape_key(h) return "shape/" .. keys.be64(h) end

-- store:record(height [, ropts]) -> the dump record of that height as it came (bare block, or
-- {"block", "receipts"}), rebuilt from the families; nil when the store has no such block.
function Store:record(h, ropts)
  local cf = self.cf
  local v = cf.blocks:get(keys.block_key(h), ropts)
  if v == nil then return nil end
  local block = decode(v)
  local hashes = rawget(block, "transactions")
  local txs = json.array()
  local receipts = json.array()
  local have_receipts = nil
  if is_arr(hashes) then
    for i = 1, #hashes do
      local th = keys.hash(hashes[i], "block " .. h .. " transaction hash")
      local tv = cf.txs:get(th, ropts)
      if tv == nil then fail("%s: block %d: transaction %s is missing from the txs family", self.path, h, hashes[i]) end
      local _, _, text = keys.decode_tx_value(tv)
      txs[i] = decode(text)
      local rv = cf.receipts:get(th, ropts)
      if have_receipts == nil then have_receipts = rv ~= nil end
      if have_receipts then
        if rv == nil then fail("%s: block %d: the receipt of %s is missing", self.path, h, hashes[i]) end
        receipts[i] = decode(rv)
      end
    end
    block.transactions = txs
  end
  if have_receipts == nil then
    local shape = self.shape
    local s = cf.meta:get(shape_key(h), ropts)
    if s then shape = s end
    have_receipts = shape == "wrapped"
  end
  if not have_receipts then return block end
  local r = json.object()
  r[1], r[2] = "block", "receipts"
  r.block, r.receipts = block, receipts
  return r
end

-- store:records([from [, to]]) -> iterator of height, record in chain order (to inclusive)
function Store:records(from, to)
  return require("quarry.chain").walk(from or self.base, to or self.tip_height,
    function(h) return self:record(h) end,
    function(h) fail("%s: block %d is missing", self.path, h) end)
end

---------------------------------------------------------------------------------------------------
-- Groups: checked blocks in one batch, committed with the state
---------------------------------------------------------------------------------------------------

local Group = {}
Group.__index = Group
Group.__name = "quarry.chain.account.group"
M.Group = Group

-- store:group() -> group over the store's current state
function Store:group()
  if not self.db then error("quarry.chain.account: the store is closed", 2) end
  if self.mode ~= "read_write" then error("quarry.chain.account: the store is open " .. self.mode, 2) end
  local c = {}
  for k, v in pairs(self.counts) do c[k] = v end
  return setmetatable({ store = self, batch = self.db:batch(), tip = self.tip_height,
    tip_hash = self.tip_hash, tip_raw = self.tip_hash and kraw(self.tip_hash, 32, "tip hash") or nil,
    base = self.base, counts = c, records = self.shape, txhashes = {}, hashes = {}, n = 0, bytes = 0,
    failed = false }, Group)
end

-- The block object with `transactions` replaced by the array of the transaction hashes' text.
local function block_skeleton(block, hashes)
  local b = json.object()
  for i = 1, #block do
    local k = block[i]
    local v = rawget(block, k)
    if v ~= nil then
      b[#b + 1] = k
      b[k] = k == "transactions" and hashes or v
    end
  end
  return b
end

-- Step 1: height, hash and the link to the previous block.
local function check_block(g, block)
  local h = member_quantity({ h = "?" }, block, "number")
  local w = { h = h }
  if g.tip and h ~= g.tip + 1 then
    if h <= g.tip then invalid(w, "height %d is already in the store (tip %d): heights must be contiguous", h, g.tip) end
    invalid(w, "expected height %d after block %d: heights must be contiguous (%d missing)", g.tip + 1, g.tip,
      h - g.tip - 1)
  end
  local hash = member_raw(w, block, "hash", 32)
  local parent = member_raw(w, block, "parentHash", 32)
  if g.tip_raw and parent ~= g.tip_raw then
    invalid(w, "parentHash %s is not the hash of block %d (%s)", rawget(block, "parentHash"), g.tip, g.tip_hash)
  end
  local earlier = g.hashes[hash]
  if earlier == nil and g.store.cf.hashes:get(hash) then earlier = keys.height_of_hash_value(g.store.cf.hashes:get(hash)) end
  if earlier then invalid(w, "hash %s is already the hash of block %d", block.hash, earlier) end
  check_quantities(w, block, BLOCK_QUANTITIES)
  local txs = rawget(block, "transactions")
  if not is_arr(txs) then invalid(w, "member \"transactions\" must be an array, got %s", show(txs)) end
  return h, hash, txs
end

-- Step 2: one transaction. Returns its hash raw and the raw of from and to (nil for a creation).
local function check_tx(g, block, h, hash, tx, i)
  local w = { h = h, tx = i - 1 }
  if not is_obj(tx) then
    if type(tx) == "string" then
      invalid(w, "transactions are hashes only: the dump needs full transaction objects " ..
        "(eth_getBlockByNumber(n, true))")
    end
    invalid(w, "a transaction must be an object, got %s", show(tx))
  end
  local th = member_raw(w, tx, "hash", 32)
  w.txhash = rawget(tx, "hash")
  if member_quantity(w, tx, "blockNumber") ~= h then
    invalid(w, "blockNumber %s is not the block's number %s", tx.blockNumber, block.number)
  end
  if member_raw(w, tx, "blockHash", 32) ~= hash then
    invalid(w, "blockHash %s is not the block's hash %s", tx.blockHash, block.hash)
  end
  if member_quantity(w, tx, "transactionIndex") ~= i - 1 then
    invalid(w, "transactionIndex %s is not its position %d in the block", tx.transactionIndex, i - 1)
  end
  local from = member_raw(w, tx, "from", 20)
  local to = optional_address(w, tx, "to")
  check_quantities(w, tx, QUANTITIES)
  check_data(w, tx, "input")
  if g.txhashes[th] then
    invalid(w, "transaction hash %s repeats transaction %d of block %d", w.txhash, g.txhashes[th][2], g.txhashes[th][1])
  end
  local prev = g.store.cf.txs:get(th)
  if prev then
    local ph, pi = keys.decode_tx_value(prev)
    invalid(w, "transaction hash %s repeats transaction %d of block %d", w.txhash, pi, ph)
  end
  g.txhashes[th] = { h, i - 1 }
  return th, from, to
end

-- Step 3: the receipt of transaction i, and its logs (logIndex strictly increasing through the
-- block: last is the previous logIndex). Returns the contract address raw (or nil), the logs and
-- the new last logIndex.
local function check_receipt(block, h, hash, tx, th, rc, i, last)
  local txhash = rawget(tx, "hash")
  local w = { h = h, receipt = i - 1, txhash = txhash }
  if not is_obj(rc) then invalid(w, "a receipt must be an object, got %s", show(rc)) end
  if member_raw(w, rc, "transactionHash", 32) ~= th then
    invalid(w, "transactionHash %s is not the hash of transaction %d (%s)", rc.transactionHash, i - 1, txhash)
  end
  if member_quantity(w, rc, "blockNumber") ~= h then
    invalid(w, "blockNumber %s is not the block's number %s", rc.blockNumber, block.number)
  end
  if rawget(rc, "blockHash") ~= nil and member_raw(w, rc, "blockHash", 32) ~= hash then
    invalid(w, "blockHash %s is not the block's hash %s", rc.blockHash, block.hash)
  end
  if member_quantity(w, rc, "transactionIndex") ~= i - 1 then
    invalid(w, "transactionIndex %s is not its position %d in the block", rc.transactionIndex, i - 1)
  end
  check_quantities(w, rc, RECEIPT_QUANTITIES)
  local created = optional_address(w, rc, "contractAddress")
  local logs = rawget(rc, "logs")
  if not is_arr(logs) then invalid(w, "member \"logs\" must be an array, got %s", show(logs)) end
  local out = {}
  for j = 1, #logs do
    local lg = logs[j]
    local lw = { h = h, receipt = i - 1, txhash = txhash, log = j - 1 }
    if not is_obj(lg) then invalid(lw, "a log must be an object, got %s", show(lg)) end
    local li = member_quantity(lw, lg, "logIndex")
    if last and li <= last then
      invalid(lw, "logIndex %s does not follow the previous log's %d: logIndex must increase through the block",
        lg.logIndex, last)
    end
    last = li
    local addr = member_raw(lw, lg, "address", 20)
    local topics = rawget(lg, "topics")
    if not is_arr(topics) or #topics > 4 then
      invalid(lw, "member \"topics\" must be an array of at most 4 topics, got %s", show(topics))
    end
    local traw = {}
    for k = 1, #topics do
      local ok, r = pcall(kraw, topics[k], 32, "topic " .. (k - 1))
      if not ok then invalid(lw, "%s", r) end
      traw[k] = r
    end
    check_data(lw, lg, "data")
    if rawget(lg, "blockNumber") ~= nil and member_quantity(lw, lg, "blockNumber") ~= h then
      invalid(lw, "blockNumber %s is not the block's number %s", lg.blockNumber, block.number)
    end
    if rawget(lg, "blockHash") ~= nil and member_raw(lw, lg, "blockHash", 32) ~= hash then
      invalid(lw, "blockHash %s is not the block's hash %s", lg.blockHash, block.hash)
    end
    if rawget(lg, "transactionHash") ~= nil and member_raw(lw, lg, "transactionHash", 32) ~= th then
      invalid(lw, "transactionHash %s is not its transaction's %s", lg.transactionHash, txhash)
    end
    if rawget(lg, "transactionIndex") ~= nil and member_quantity(lw, lg, "transactionIndex") ~= i - 1 then
      invalid(lw, "transactionIndex %s is not its transaction's index %d", lg.transactionIndex, i - 1)
    end
    out[j] = { index = li, address = addr, topics = traw }
  end
  return created, out, last
end

-- account.roles(from, to, created, has_receipt) -> { [addr_raw] = role bits } of one transaction
-- (from 1, to 2, created contract 4: the receipt's contractAddress, or, without a receipt, the
-- sender of a transaction without `to`). The one place the addr_txs entries are derived from.
function M.roles(from, to, created, has_receipt)
  local r = {}
  r[from] = keys.ROLE_FROM
  if to then r[to] = (r[to] or 0) | keys.ROLE_TO end
  if created then r[created] = (r[created] or 0) | keys.ROLE_CREATED
  elseif not to and not has_receipt then r[from] = r[from] | keys.ROLE_CREATED end
  return r
end

-- account.index_entries(h, tx, receipt) -> addr_txs entries { key, value }, and log entries
-- { family, key, value }: what one transaction (and its receipt, or nil) puts in the indexes.
-- The engine stages them; verify recomputes them from the stored rows.
function M.index_entries(h, i, tx, rc)
  local th = kraw(tx.hash, 32, "hash")
  local from = kraw(tx.from, 20, "from")
  local to = (tx.to ~= nil and tx.to ~= json.null) and kraw(tx.to, 20, "to") or nil
  local created
  if rc and rc.contractAddress ~= nil and rc.contractAddress ~= json.null then
    created = kraw(rc.contractAddress, 20, "contractAddress")
  end
  local at = {}
  for addr, roles in pairs(M.roles(from, to, created, rc ~= nil)) do
    at[#at + 1] = { keys.addr_tx_key(addr, h, i), keys.addr_tx_value(th, roles) }
  end
  local logs = {}
  if rc then
    for j, lg in ipairs(rc.logs) do
      local li = quantity(lg.logIndex, "logIndex")
      local v = keys.log_value(th, j - 1)
      logs[#logs + 1] = { "logs_by_address", keys.log_address_key(kraw(lg.address, 20, "address"), h, li), v }
      for k, t in ipairs(lg.topics) do
        logs[#logs + 1] = { "logs_by_topic", keys.log_topic_key(kraw(t, 32, "topic"), k - 1, h, li), v }
      end
    end
  end
  return at, logs
end

-- group:add(record [, n]) -> height. Checks the record (a bare block or {"block", "receipts"}; n
-- numbers it in messages) against the chain and the group and stages it. Raises an InvalidChain
-- error naming the block (and transaction, receipt, log); the group is then unusable: discard it.
function Group:add(record, n)
  if self.failed then error("quarry.chain.account: a block of this group was refused: discard the group", 2) end
  if self.done then error("quarry.chain.account: the group is already committed", 2) end
  self.failed = true
  local block, receipts = M.split(record, n or self.counts.blocks)
  local h, hash, txs = check_block(self, block)
  if receipts and #receipts ~= #txs then
    invalid({ h = h }, "%d receipts for %d transactions: one receipt per transaction, in order", #receipts, #txs)
  end
  local b, cf = self.batch, self.store.cf
  local hashes = json.array()
  local bytes, nlogs, last = 0, 0, nil
  for i = 1, #txs do
    local tx = txs[i]
    local th, from, to = check_tx(self, block, h, hash, tx, i)
    hashes[i] = tx.hash
    local rc, created, logs = receipts and receipts[i], nil, nil
    if rc then created, logs, last = check_receipt(block, h, hash, tx, th, rc, i, last) end
    local text = encode(tx)
    b:put(cf.txs, th, keys.tx_value(h, i - 1, text))
    bytes = bytes + #text + 44
    if rc then
      local rtext = encode(rc)
      b:put(cf.receipts, th, rtext)
      bytes = bytes + #rtext + 32
    end
    for addr, roles in pairs(M.roles(from, to, created, rc ~= nil)) do
      b:put(cf.addr_txs, keys.addr_tx_key(addr, h, i - 1), keys.addr_tx_value(th, roles))
      bytes = bytes + 65
    end
    if logs then
      for j, lg in ipairs(logs) do
        local v = keys.log_value(th, j - 1)
        b:put(cf.logs_by_address, keys.log_address_key(lg.address, h, lg.index), v)
        for k, t in ipairs(lg.topics) do
          b:put(cf.logs_by_topic, keys.log_topic_key(t, k - 1, h, lg.index), v)
        end
        bytes = bytes + 68 + 81 * #lg.topics
      end
      nlogs = nlogs + #logs
    end
  end
  local value = encode(block_skeleton(block, hashes))
  b:put(cf.blocks, keys.block_key(h), value)
  b:put(cf.hashes, hash, keys.hash_value(h))
  self.hashes[hash] = h
  -- the shape of a record without transactions, when it differs from the store's first record
  local shape = receipts and "wrapped" or "bare"
  if self.records == nil then self.records = shape
  elseif #txs == 0 and shape ~= self.records then
    b:put(cf.meta, shape_key(h), shape)
  end
  local c = self.counts
  c.blocks, c.txs, c.logs = c.blocks + 1, c.txs + #txs, c.logs + nlogs
  if receipts then c.receipts = c.receipts + #txs end
  if self.base == nil then self.base = h end
  self.tip, self.tip_raw, self.tip_hash = h, hash, block.hash
  self.n = self.n + 1
  self.bytes = self.bytes + bytes + #value + 48
  self.failed = false
  return h
end

-- The state the group commits (keys.meta_value), with the store's extra members.
local function state_of(g, extra)
  local st = g.store.state or {}
  local ex = json.object()
  local function put(k, v) ex[#ex + 1] = k; ex[k] = v end
  put("base", g.base == nil and json.null or g.base)
  put("records", g.records or json.null)
  local sf = extra and extra.source_format
  if sf == nil then sf = st.source_format end
  if sf ~= nil then put("source_format", sf) end
  return { tip = g.tip, tip_hash = g.tip_hash, counts = g.counts,
    receipts = receipts_mode(g.counts, g.records), extra = ex }
end

-- group:commit([extra]) -> tip: writes the group and the state in one atomic batch. extra:
-- source_format (the dump's container, kept in the state), migrate (the progress marker's JSON
-- text, or false to remove it).
function Group:commit(extra)
  if self.failed then error("quarry.chain.account: a block of this group was refused: discard the group", 2) end
  if self.done then error("quarry.chain.account: the group is already committed", 2) end
  local store = self.store
  local b, meta = self.batch, store.cf.meta
  b:put(meta, keys.META_STATE, keys.meta_value(state_of(self, extra)))
  if extra and extra.migrate ~= nil then
    if extra.migrate == false then b:delete(meta, "migrate") else b:put(meta, "migrate", extra.migrate) end
  end
  store.db:write(b, { sync = store.sync })
  self.done = true
  b:close()
  store:_load()
  return self.tip
end

-- group:discard(), group:count(), group:size() and store:append(record) (one record in its own
-- group) are the UTXO chain engine's: they use only self.batch, self.n, self.bytes and
-- self:group()/add/commit, which both engines' objects have.
local utxo = require("quarry.chain")
Group.discard, Group.count, Group.size = utxo.Group.discard, utxo.Group.count, utxo.Group.size
Store.append = utxo.Store.append

-- store:verify([options]) -> report (quarry.chain.account.verify)
function Store:verify(options) return require("quarry.chain.account.verify").run(self, options) end

---------------------------------------------------------------------------------------------------
-- Which engine: the account store is chosen by its format or layout name, or by the store itself
---------------------------------------------------------------------------------------------------

local function name_of(v) return type(v) == "table" and v.name or v end

-- account.route(layout, format [, db]) -> true when the account engine handles it: layout
-- "account-chain", format "ethereum-rpc", or (neither given) db an account-chain store. Raises
-- for a UTXO format into account-chain and ethereum-rpc into a UTXO layout.
function M.route(layout, format, db)
  local l, f = name_of(layout), name_of(format)
  if l == M.LAYOUT then
    if f ~= nil and f ~= M.FORMAT then
      fail("layout account-chain holds format ethereum-rpc only, not %q (give --format ethereum-rpc, " ..
        "or a UTXO layout such as quarry-chain for %s)", f, f)
    end
    return true
  end
  if f == M.FORMAT then
    if l ~= nil then
      fail("format ethereum-rpc is an account-model chain: it goes into layout account-chain, not %q " ..
        "(leave --layout out, or give --layout account-chain)", l)
    end
    return true
  end
  if l == nil and f == nil and db and M.is_store(db) then return true end
  if db and M.is_store(db) then
    fail("%s is an account-chain store (format ethereum-rpc), not %s: leave --layout and --format out, " ..
      "or give --layout account-chain", db, l and ("layout " .. l) or ("format " .. f))
  end
  return false
end

-- account.migrate(options) -> report (quarry.chain.account.migrate.run)
function M.migrate(options) return require("quarry.chain.account.migrate").run(options) end

return M

-- spec/account_oracle.lua: the answers an account-chain store must give, computed by a plain scan
-- of the dump with quarry.json's streaming reader. It never opens a store and never uses the
-- store's key encodings (quarry.chain.account.keys): the specs compare the store's answers with
-- these.
--
--   local oracle = require("spec.account_oracle")
--   local d = oracle.open("chain.jsonl")            -- records kept in memory (spec-sized dumps)
--   local d = oracle.open("big.jsonl", { memory = false }) -- every query streams the file again
--   d:counts()                    --> { blocks, txs, receipts, logs, receipt_blocks, first, tip, tip_hash }
--   d:block(id [, full])          --> block value, its receipts (or nil), height; id: height, quantity or hash
--   d:tx(hash)                    --> { tx, receipt (or nil), height, index, block_hash } or nil
--   d:address_txs(addr [, opts])  --> { {height, index, hash, roles}, ... } in chain order
--   d:logs(filter)                --> list of log values, or nil and the node's error message
--
-- Values are the dump's own decoded JSON values (member order and hex text as given): compare
-- them with json.encode. Hex input (addresses, hashes, topics) is compared case-insensitively.
--
-- eth_getLogs semantics, from the execution-apis Filter schema and geth's filter code:
-- - either blockHash, or fromBlock/toBlock (both: error); a block number is a quantity or a tag:
--   "earliest" is the first block of the dump, "latest", "safe", "finalized", "pending" (and an
--   absent bound) the tip; fromBlock > toBlock is an error, toBlock beyond the tip is an error;
--   an unknown blockHash is an error;
-- - address: absent or null = any, one address, or a list (OR; an empty list = any);
-- - topics: absent or null = any; else positional, each entry null or [] = any position, a topic,
--   or a list of topics (OR); a log with fewer topics than the filter has positions never matches
--   (even when the extra positions are null); more than 4 positions is an error;
-- - the result: matching logs in chain order (height, then logIndex, which is the order of the
--   receipts and of their logs). Blocks written without receipts have no logs to give: their
--   number is the second result of d:logs (the store cannot answer for them either).
local json = require("quarry.json")

local M = {}

local NULL = json.null
local lower = string.lower

local function is_null(v) return v == nil or v == NULL end

-- A small quantity ("0x1f") as an integer; nil when it is not one.
local function quantity(s)
  if type(s) ~= "string" or not s:match("^0[xX]%x+$") or #s > 17 then return nil end
  return math.tointeger(tonumber(s:sub(3), 16))
end
M.quantity = quantity

-- The records of a dump, one call each: fn(block, receipts or nil, position from 1).
local function stream(path, fn)
  local k = 0
  for rec in json.reader(path):each() do
    k = k + 1
    local block, receipts = rec, nil
    if type(rec) == "table" and rec.block ~= nil and rec.number == nil then block, receipts = rec.block, rec.receipts end
    if fn(block, receipts, k) == false then break end
  end
end

local Dump = {}
Dump.__index = Dump

--- oracle.open(path [, opts]): a dump to ask. opts.memory (default true): keep the decoded
--- records; false: every query reads the file again (memory bounded by one record).
function M.open(path, opts)
  local d = setmetatable({ path = path, memory = not (opts and opts.memory == false) }, Dump)
  if d.memory then
    local recs = {}
    stream(path, function(block, receipts) recs[#recs + 1] = { block, receipts } end)
    d.recs = recs
  end
  return d
end

-- fn(block, receipts, height) for every record in order; fn returning false stops.
function Dump:each(fn)
  if self.memory then
    for _, r in ipairs(self.recs) do
      if fn(r[1], r[2], quantity(r[1].number)) == false then return end
    end
  else
    stream(self.path, function(block, receipts) return fn(block, receipts, quantity(block.number)) end)
  end
end

--- d:counts(): blocks, txs, receipts, logs (in receipts), receipt_blocks (records with receipts),
--- first and tip heights, tip_hash (the last block's hash text).
function Dump:counts()
  if self._counts then return self._counts end
  local c = { blocks = 0, txs = 0, receipts = 0, logs = 0, receipt_blocks = 0 }
  self:each(function(block, receipts, h)
    c.blocks = c.blocks + 1
    c.first = c.first or h
    c.tip, c.tip_hash = h, block.hash
    c.txs = c.txs + #block.transactions
    if receipts then
      c.receipt_blocks = c.receipt_blocks + 1
      c.receipts = c.receipts + #receipts
      for _, r in ipairs(receipts) do c.logs = c.logs + #r.logs end
    end
  end)
  self._counts = c
  return c
end

-- A copy of block with each transaction object replaced by its hash (eth_getBlockByNumber(n, false)).
local function without_bodies(block)
  local b = setmetatable({}, json.object_mt)
  for i = 1, #block do
    local k = block[i]
    b[i] = k
    if k == "transactions" then
      local hashes = json.array()
      for j, tx in ipairs(block.transactions) do hashes[j] = type(tx) == "table" and tx.hash or tx end
      b[k] = hashes
    else
      b[k] = block[k]
    end
  end
  return b
end
M.without_bodies = without_bodies

--- d:block(id [, full]): the block with height id (an integer or a quantity) or hash id (a
--- 32-byte hex string), as in the dump (full = false: transactions as their hashes); its
--- receipts (nil when the record had none); its height. nil when no such block.
function Dump:block(id, full)
  local want_h, want_hash
  if math.type(id) == "integer" then want_h = id
  elseif type(id) == "string" and #id == 66 then want_hash = lower(id)
  else want_h = quantity(id) end
  local found, found_r, found_h
  self:each(function(block, receipts, h)
    if (want_h and h == want_h) or (want_hash and lower(block.hash) == want_hash) then
      found, found_r, found_h = block, receipts, h
      return false
    end
  end)
  if not found then return nil end
  if full == false then found = without_bodies(found) end
  return found, found_r, found_h
end

--- d:tx(hash): { tx = the transaction object, receipt = its receipt or nil, height, index (from
--- 0), block_hash }, or nil.
function Dump:tx(hash)
  hash = lower(hash)
  local found
  self:each(function(block, receipts, h)
    for i, tx in ipairs(block.transactions) do
      if lower(tx.hash) == hash then
        found = { tx = tx, receipt = receipts and receipts[i] or nil, height = h, index = i - 1, block_hash = block.hash }
        return false
      end
    end
  end)
  return found
end

-- The role bits of address a in transaction tx (with receipt r or nil): 1 from, 2 to, 4 the
-- created contract (the receipt's contractAddress; without a receipt the contract is unknown and
-- the sender of a creation, `to` absent or null, has 4 besides 1: the issue 14 contract).
local function roles(a, tx, r)
  local bits = 0
  if type(tx.from) == "string" and lower(tx.from) == a then bits = bits | 1 end
  if type(tx.to) == "string" and lower(tx.to) == a then bits = bits | 2 end
  if r then
    if type(r.contractAddress) == "string" and lower(r.contractAddress) == a then bits = bits | 4 end
  elseif is_null(tx.to) and bits & 1 ~= 0 then
    bits = bits | 4 -- a creation without its receipt: the sender's entry says so (the contract)
  end
  return bits
end
M.roles = roles

--- d:address_txs(address [, opts]): the transactions in which address is the sender, the
--- recipient or the created contract, as { height, index, hash (text as given), roles } in chain
--- order. opts: from, to (heights, inclusive), order ("asc" default, "desc"), limit, after
--- ({height, index}: start after that position, in the order asked).
--- Without a receipt, the created contract of a creation is unknown: such a transaction is
--- listed for its sender only, with roles 1 | 4.
function Dump:address_txs(address, opts)
  opts = opts or {}
  local a = lower(address)
  local list = {}
  self:each(function(block, receipts, h)
    if (opts.from and h < opts.from) or (opts.to and h > opts.to) then return end
    for i, tx in ipairs(block.transactions) do
      local bits = roles(a, tx, receipts and receipts[i])
      if bits ~= 0 then list[#list + 1] = { height = h, index = i - 1, hash = tx.hash, roles = bits } end
    end
  end)
  local desc = opts.order == "desc"
  if desc then
    local n = #list
    for i = 1, n // 2 do list[i], list[n + 1 - i] = list[n + 1 - i], list[i] end
  end
  local out = {}
  for _, e in ipairs(list) do
    local keep = true
    if opts.after then
      local ah, ai = opts.after[1] or opts.after.height, opts.after[2] or opts.after.index
      if desc then keep = e.height < ah or (e.height == ah and e.index < ai)
      else keep = e.height > ah or (e.height == ah and e.index > ai) end
    end
    if keep then
      if opts.limit and #out >= opts.limit then break end
      out[#out + 1] = e
    end
  end
  return out
end

-- A list of lowercase hex strings from a filter member: nil (any), or a set.
local function hex_set(v, what)
  if is_null(v) then return nil end
  if type(v) == "string" then return { [lower(v)] = true } end
  if type(v) ~= "table" then error(what .. " must be a string or a list") end
  if #v == 0 then return nil end
  local s = {}
  for _, x in ipairs(v) do
    if type(x) ~= "string" then error(what .. " lists a " .. type(x)) end
    s[lower(x)] = true
  end
  return s
end

-- The height a fromBlock/toBlock value names: a tag, a quantity or an integer.
local function bound(v, c, what)
  if is_null(v) or v == "latest" or v == "safe" or v == "finalized" or v == "pending" then return c.tip end
  if v == "earliest" then return c.first end
  if math.type(v) == "integer" then return v end
  local h = quantity(v)
  if not h then error(what .. ": not a block number or tag: " .. tostring(v)) end
  return h
end

--- d:logs(filter): the logs eth_getLogs answers for filter ({fromBlock, toBlock, blockHash,
--- address, topics}: the JSON-RPC filter object, decoded), in chain order, and the number of
--- blocks of the range written without receipts; or nil and the error message a node gives
--- (geth's text). Raises (a string naming the member) for a filter of the wrong shape: an
--- address or topic that is not a string, a block bound that is neither a quantity nor a tag.
function Dump:logs(filter)
  filter = filter or {}
  local c = self:counts()
  if c.blocks == 0 then return json.array(), 0 end
  local lo, hi, by_hash
  if not is_null(filter.blockHash) then
    if not is_null(filter.fromBlock) or not is_null(filter.toBlock) then
      return nil, "invalid argument 0: cannot specify both BlockHash and FromBlock/ToBlock, choose one or the other"
    end
    by_hash = lower(filter.blockHash)
  else
    lo, hi = bound(filter.fromBlock, c, "fromBlock"), bound(filter.toBlock, c, "toBlock")
    if lo > hi then return nil, "invalid block range params" end
    if hi > c.tip then return nil, "block range extends beyond current head block" end
  end
  local addresses = hex_set(filter.address, "address")
  local topics = {}
  if not is_null(filter.topics) then
    if type(filter.topics) ~= "table" then error("topics must be a list") end
    local n = filter.topics.n or #filter.topics
    if n > 4 then return nil, "exceed max topics" end
    for p = 1, n do topics[p] = hex_set(filter.topics[p], "topics[" .. (p - 1) .. "]") or false end
    topics.n = n
  end
  local out, missing, seen_hash = json.array(), 0, false
  self:each(function(block, receipts, h)
    if by_hash then
      if lower(block.hash) ~= by_hash then return end
      seen_hash = true
    elseif h < lo then return
    elseif h > hi then return false end
    if not receipts then
      missing = missing + 1
    else
      for _, r in ipairs(receipts) do
        for _, log in ipairs(r.logs) do
          local ok = not addresses or addresses[lower(log.address)]
          if ok and topics.n then
            if topics.n > #log.topics then ok = false end
            for p = 1, topics.n do
              if not ok then break end
              local set = topics[p]
              if set and not set[lower(log.topics[p])] then ok = false end
            end
          end
          if ok then out[#out + 1] = log end
        end
      end
    end
    if by_hash then return false end
  end)
  if by_hash and not seen_hash then return nil, "unknown block" end
  return out, missing
end

return M

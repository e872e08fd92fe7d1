-- quarry.chain.account.query: the read API of an account-chain store (docs/chain-api.md,
-- "quarry.chain.account.query"): blocks by number, tag or hash, a transaction with its receipt,
-- the transactions of an address page by page, and logs by an eth_getLogs filter. Every call
-- reads through one snapshot of the database, so it never sees part of a group.
local quarry = require("quarry")
local json = require("quarry.json")
local keys = require("quarry.chain.account.keys")
local jv = require("quarry.chain.jsonvalue")

local pack, unpack, sub, char = string.pack, string.unpack, string.sub, string.char
local mtype = math.type

local M = {}

-- The bound of a logs query when the caller gives none (as public nodes: Infura, Alchemy).
M.MAX_RESULTS = 10000
-- The page size of a history query when the caller gives none.
M.HISTORY_LIMIT = 1000
-- Index entries each candidate index may read before the cheapest one is chosen by size.
M.RACE_BUDGET = 4096

local Q = {}
Q.__index = Q
Q.__name = "quarry.chain.account.query"
M.Query = Q

local function fail(fmt, ...) error(fmt:format(...), 0) end
local show = keys.show

---------------------------------------------------------------------------------------------------
-- Opening
---------------------------------------------------------------------------------------------------

-- The family handles of db; raises naming the missing family when db is no account-chain store.
local function families(db, where)
  local have = {}
  for _, n in ipairs(db:column_families()) do have[n] = true end
  local cf = {}
  for _, n in ipairs(keys.FAMILIES) do
    if not have[n] then
      fail("%s is not an account-chain store (it has no family %q): migrate a dump with " ..
        "--format ethereum-rpc --layout account-chain first", where, n)
    end
    cf[n] = db:cf(n)
  end
  return cf
end

--- query.new(source) -> q: queries over an open store of quarry.chain.account (a table with its
--- database in `db`) or over an open quarry database. q does not close what it was given.
function M.new(source)
  local db = source
  if type(source) == "table" and source.db ~= nil then db = source.db end
  if not (type(db) == "userdata" or type(db) == "table") or type(db.snapshot) ~= "function" then
    fail("query.new: expected an account-chain store or a quarry database, got %s", type(source))
  end
  if db:mode() == "secondary" then
    fail("query.new: %s is open as a secondary, which cannot read at a snapshot: open it " ..
      "read-only (query.open) or read-write", tostring(db:path()))
  end
  return setmetatable({ db = db, cf = families(db, tostring(db:path())), own = false }, Q)
end

--- query.open(path [, options]) -> q: opens the store at path read-only (it must exist; a writer
--- may hold it: RocksDB's read-only mode takes no lock) and returns queries over it. options.db:
--- extra quarry.open options (tuning). q:close() closes the database.
function M.open(path, options)
  options = options or {}
  local dbopts = { mode = "read_only", create_if_missing = false }
  for k, v in pairs(options.db or {}) do dbopts[k] = v end
  local ok, db = pcall(quarry.open, path, dbopts)
  if not ok then
    if quarry.is_error(db) then fail("%s", db.message) end
    error(db, 0)
  end
  local okq, q = pcall(M.new, db)
  if not okq then
    db:close()
    error((tostring(q):gsub("^query%.new: ", "")), 0)
  end
  q.own = true
  q.path = path
  return q
end

--- q:close(): closes the database when query.open opened it; harmless twice.
function Q:close()
  if self.own and self.db then self.db:close() end
  self.db, self.cf = nil, nil
end
Q.__close = Q.close

local function check_open(self)
  if not self.db then fail("account query: used after close()") end
end

---------------------------------------------------------------------------------------------------
-- One view: a snapshot and what every query resolves against it
---------------------------------------------------------------------------------------------------

-- Runs fn(view, ...) over a fresh snapshot released when fn returns or raises.
local function with_view(self, fn, ...)
  check_open(self)
  local s <close> = self.db:snapshot()
  local v = { cf = self.cf, ro = { snapshot = s }, s = s, q = self }
  if self._on_snapshot then self._on_snapshot(v) end -- test hook (spec/80): a writer commits here
  return fn(v, ...)
end

-- The store's state (meta "state") in the view; nil for a store without blocks yet.
local function state(v)
  if v.state == nil then
    local text = v.cf.meta:get(keys.META_STATE, v.ro)
    v.state = text and keys.decode_meta(text) or false
  end
  return v.state or nil
end

local function tip(v)
  local st = state(v)
  if st and mtype(st.tip) == "integer" then return st.tip, st.tip_hash end
  return nil
end

local function earliest(v)
  local k = v.cf.blocks:seek("", { snapshot = v.s, keys_only = true })
  return k and keys.height_of_block_key(k) or nil
end

local TAGS = { latest = true, pending = true, safe = true, finalized = true, earliest = true }

-- A block number of the view: an integer >= 0, a 0x quantity or a tag ("latest", "pending",
-- "safe", "finalized": the tip, a dump having no pending block and no finality of its own;
-- "earliest": the lowest height). Returns nil for a tag on an empty store.
local function height_arg(v, x, what)
  if mtype(x) == "integer" then
    if x < 0 then fail("%s must be a block number >= 0, got %d", what, x) end
    return x
  end
  if type(x) == "string" then
    if TAGS[x] then
      if x == "earliest" then return earliest(v) end
      return (tip(v))
    end
    if sub(x, 1, 2) == "0x" then return keys.quantity(x, what) end
  end
  fail("%s must be a block number (an integer or a 0x hex quantity) or one of latest, earliest, " ..
    "pending, safe, finalized; got %s", what, show(x))
end

-- The decoded JSON of a stored value, raising naming the family and key when it is not JSON.
local function decode(text, what)
  local ok, val = pcall(json.decode, text)
  if not ok then fail("account store: %s is not JSON (%s): the store is damaged (quarry verify)", what, tostring(val)) end
  return val
end

local function block_at(v, h)
  local text = v.cf.blocks:get(keys.block_key(h), v.ro)
  return text and decode(text, ("block %d"):format(h)) or nil
end

-- The raw hashes of a stored block's `transactions` (their hex text), raising naming the block.
local function tx_raws(list, h)
  local raws = {}
  for i = 1, #list do
    raws[i] = keys.hash(list[i], ("account store: block %d transactions[%d]"):format(h, i - 1))
  end
  return raws
end

-- The transaction bodies of raw hashes (a sequence), decoded, in order; raises naming the block
-- when one is missing.
local function tx_bodies(v, raws, where)
  local vals = v.cf.txs:multi_get(raws, v.ro)
  local out = {}
  for i = 1, #raws do
    if vals[i] == nil then
      fail("account store: %s lists transaction %s that the txs family lacks: the store is " ..
        "damaged (quarry verify)", where, keys.hex(raws[i]))
    end
    local _, _, text = keys.decode_tx_value(vals[i])
    out[i] = decode(text, "transaction " .. keys.hex(raws[i]))
  end
  return out
end

---------------------------------------------------------------------------------------------------
-- Blocks and transactions
---------------------------------------------------------------------------------------------------

-- The height a block id names in the view, or nil when no block has it.
local function block_height(v, id, what)
  if type(id) == "string" and #id == 66 and sub(id, 1, 2) == "0x" then
    local hv = v.cf.hashes:get(keys.hash_key(keys.hash(id, what)), v.ro)
    return hv and keys.height_of_hash_value(hv) or nil
  end
  return height_arg(v, id, what)
end

local function block_view(v, id, full)
  local h = block_height(v, id, "block")
  if h == nil then return nil end
  local b = block_at(v, h)
  if b == nil or not full then return b end
  local list = b.transactions
  if jv.is_array(list) and #list > 0 then
    local bodies = tx_bodies(v, tx_raws(list, h), ("block %d"):format(h))
    for i = 1, #list do list[i] = bodies[i] end
  end
  return b
end

--- q:block(id [, full]) -> block|nil: the block named by id, as eth_getBlockByNumber(n, full)
--- (or eth_getBlockByHash) returns it: the stored JSON value (member order and hex text as
--- given), with `transactions` the hashes, or with full the transaction objects. id: an
--- integer, a 0x quantity, "latest", "pending", "earliest", or a 0x block hash (64 hex digits).
--- nil when the store has no such block.
function Q:block(id, full)
  return with_view(self, block_view, id, full)
end

local function tx_view(v, hash)
  local raw = keys.hash(hash, "transaction hash")
  local val = v.cf.txs:get(keys.tx_key(raw), v.ro)
  if val == nil then return nil end
  local h, i, text = keys.decode_tx_value(val)
  local rtext = v.cf.receipts:get(keys.receipt_key(raw), v.ro)
  local r = jv.object()
  jv.set(r, "transaction", decode(text, "transaction " .. hash))
  jv.set(r, "receipt", rtext and decode(rtext, "receipt " .. hash) or json.null)
  jv.set(r, "block_number", h)
  jv.set(r, "transaction_index", i)
  return r
end

--- q:tx(hash) -> {transaction, receipt, block_number, transaction_index}|nil: the transaction
--- object as stored (eth_getTransactionByHash) and its receipt (eth_getTransactionReceipt;
--- json.null when its block came without receipts), read at one snapshot.
function Q:tx(hash)
  return with_view(self, tx_view, hash)
end

--- q:tip() -> height, hash | nil: the highest block of the store and its hash text (meta "state").
function Q:tip()
  return with_view(self, tip)
end

--- q:state() -> table|nil: the store's state (meta "state": tip, tip_hash, counts, receipts).
function Q:state()
  return with_view(self, state)
end

---------------------------------------------------------------------------------------------------
-- Address history
---------------------------------------------------------------------------------------------------

local ROLES = { { keys.ROLE_FROM, "from" }, { keys.ROLE_TO, "to" }, { keys.ROLE_CREATED, "created" } }

--- query.roles(bits) -> { "from", "to", "created" }: the names of addr_txs role bits.
function M.roles(bits)
  local t = json.array()
  for _, r in ipairs(ROLES) do
    if bits & r[1] ~= 0 then t[#t + 1] = r[2] end
  end
  return t
end

-- Cursors: "a1" (history) then hex of address, height, index and the direction byte.
local function make_cursor(addr, h, i, newest)
  return "a1" .. quarry.tohex(addr .. pack(">I8>I4", h, i) .. (newest and "d" or "a"))
end

local function read_cursor(c, addr, newest)
  local raw = type(c) == "string" and sub(c, 1, 2) == "a1" and #c == 2 + 2 * 33 and quarry.fromhex(sub(c, 3):lower())
  if not raw then
    fail("after: %s is not a cursor of a history query (pass the cursor a previous page returned)", show(c))
  end
  if sub(raw, 1, 20) ~= addr or sub(raw, 33) ~= (newest and "d" or "a") then
    fail("after: this cursor was returned for another address or order (%s); start again without it",
      sub(raw, 33) == "d" and "newest first" or "oldest first")
  end
  return sub(raw, 1, 32)
end

local function positive(x, what)
  if mtype(x) ~= "integer" or x < 1 then fail("%s must be a positive integer, got %s", what, show(x)) end
  return x
end

local HISTORY_OPTS = { from = true, to = true, order = true, newest_first = true, limit = true,
  after = true, transactions = true }

local function history_view(v, address, o)
  local addr = keys.address(address, "address")
  for k in pairs(o) do
    if not HISTORY_OPTS[k] then fail("history: unknown option %s (from, to, order, limit, after, transactions)", show(k)) end
  end
  local newest = o.newest_first == true or o.order == "newest"
  if o.order ~= nil and o.order ~= "newest" and o.order ~= "oldest" then
    fail("order must be \"oldest\" or \"newest\", got %s", show(o.order))
  end
  local limit = o.limit == nil and M.HISTORY_LIMIT or positive(o.limit, "limit")
  local page = jv.object()
  local last = tip(v)
  local from
  if o.from ~= nil then from = height_arg(v, o.from, "from")
  elseif last ~= nil then from = earliest(v) end
  local to = o.to == nil and last or height_arg(v, o.to, "to")
  if from and to and from > to and o.from ~= nil and o.to ~= nil then
    fail("from (%d) is above to (%d)", from, to)
  end
  jv.set(page, "address", address)
  jv.set(page, "order", newest and "newest" or "oldest")
  jv.set(page, "from", from or json.null)
  jv.set(page, "to", to or json.null)
  local entries = json.array()
  jv.set(page, "entries", entries)
  jv.set(page, "cursor", json.null)
  if from == nil or to == nil or from > to then return page end
  local lo, hi = keys.addr_tx_key(addr, from, 0), addr .. keys.be64(to + 1)
  if o.after ~= nil then
    local at = read_cursor(o.after, addr, newest)
    if newest then
      if at < hi then hi = at end
    elseif at .. "\0" > lo then lo = at .. "\0" end
  end
  if lo >= hi then return page end
  local raws = {}
  local more = false
  for k, val in v.cf.addr_txs:pairs({ from = lo, to = hi, reverse = newest, limit = limit + 1, snapshot = v.s }) do
    if #entries == limit then more = true; break end
    local _, h, i = keys.decode_addr_tx_key(k)
    local txraw, bits = keys.decode_addr_tx_value(val)
    local e = jv.object()
    jv.set(e, "block_number", h)
    jv.set(e, "transaction_index", i)
    jv.set(e, "hash", keys.hex(txraw))
    jv.set(e, "roles", M.roles(bits))
    entries[#entries + 1] = e
    raws[#raws + 1] = txraw
  end
  if more then
    local e = entries[#entries]
    page.cursor = make_cursor(addr, e.block_number, e.transaction_index, newest)
  end
  if o.transactions and #raws > 0 then
    local bodies = tx_bodies(v, raws, "addr_txs of " .. address)
    for n, e in ipairs(entries) do jv.set(e, "transaction", bodies[n]) end
  end
  return page
end

--- q:history(address [, options]) -> page: the transactions of address (sender, recipient or
--- created contract) in chain order. options: from, to (block numbers or tags; default the
--- whole chain), order ("oldest", the default, or "newest"; or newest_first = true), limit (page
--- size, default query.HISTORY_LIMIT), after (the cursor of the previous page), transactions
--- (true: each entry also carries the transaction object). page: {address, order, from, to,
--- entries = {{block_number, transaction_index, hash, roles [, transaction]}...}, cursor} where
--- cursor is json.null on the last page, else the string to pass as `after`.
function Q:history(address, options)
  return with_view(self, history_view, address, options or {})
end

---------------------------------------------------------------------------------------------------
-- Logs: eth_getLogs
---------------------------------------------------------------------------------------------------

local FILTER = { fromBlock = true, toBlock = true, address = true, topics = true, blockHash = true }

local function present(x) return x ~= nil and x ~= json.null end

-- A list of raw values from one value or a list (nil for "any": absent, null, empty list).
local function alternatives(x, parse, what)
  if not present(x) then return nil end
  if type(x) == "string" then return { parse(x, what) } end
  if not jv.is_array(x) then fail("%s must be a hex string, a list of them or null, got %s", what, show(x)) end
  if #x == 0 then return nil end
  local seen, list = {}, {}
  for i = 1, #x do
    local w = ("%s[%d]"):format(what, i - 1)
    if type(x[i]) ~= "string" then fail("%s must be a hex string, got %s", w, show(x[i])) end
    local r = parse(x[i], w)
    if not seen[r] then seen[r] = true; list[#list + 1] = r end
  end
  return list
end

--- query.parse_filter(filter) -> the parsed filter: {from_tag, to_tag, block_hash, groups} where
--- each group is {kind = "address"|"topic", position, values = {raw...}}. Raises naming the
--- member for anything eth_getLogs would refuse (an unknown member, bad hex, a wrong length, more
--- than 4 topic positions, blockHash with fromBlock or toBlock).
function M.parse_filter(f)
  if f == nil then f = {} end
  if not jv.is_object(f) then fail("filter must be an object (eth_getLogs parameters), got %s", show(f)) end
  for _, k in ipairs(json.keys(f)) do
    if not FILTER[k] then
      fail("filter: unknown member %s (fromBlock, toBlock, address, topics, blockHash)", show(k))
    end
  end
  local p = { from = f.fromBlock, to = f.toBlock, groups = {}, min_topics = 0, constrained = 0 }
  if present(f.blockHash) then
    if present(f.fromBlock) or present(f.toBlock) then
      fail("filter: blockHash cannot be combined with fromBlock or toBlock (eth_getLogs)")
    end
    p.block_hash = f.blockHash
    keys.hash(f.blockHash, "filter.blockHash")
  end
  local addrs = alternatives(f.address, keys.address, "filter.address")
  if addrs then p.groups[#p.groups + 1] = { kind = "address", values = addrs } end
  if present(f.topics) then
    if not jv.is_array(f.topics) then fail("filter.topics must be a list, got %s", show(f.topics)) end
    local n = math.max(#f.topics, mtype(f.topics.n) == "integer" and f.topics.n or 0)
    if n > 4 then fail("filter.topics has %d positions: a log has at most 4 topics", n) end
    p.min_topics = n
    for i = 1, n do
      local list = alternatives(f.topics[i], keys.topic, ("filter.topics[%d]"):format(i - 1))
      if list then
        p.groups[#p.groups + 1] = { kind = "topic", position = i - 1, values = list }
        p.constrained = i
      end
    end
  end
  return p
end

-- The key prefix of one alternative of a group.
local function prefix_of(g, raw)
  if g.kind == "address" then return raw end
  return raw .. char(g.position)
end

-- The index family of a group.
local function family_of(v, g)
  return g.kind == "address" and v.cf.logs_by_address or v.cf.logs_by_topic
end

-- A stream of one group's entries in chain order within [from, to]: a merge of one range scan
-- per alternative (the alternatives of one group never name the same log). s:next() -> the
-- 12-byte (height, logIndex) suffix and the value, or nil at the end.
local function group_stream(v, g, from, to)
  local cf = family_of(v, g)
  local heads = {}
  for _, raw in ipairs(g.values) do
    local pre = prefix_of(g, raw)
    local it = cf:iterator({ from = pre .. keys.be64(from), to = pre .. keys.be64(to + 1), snapshot = v.s })
    heads[#heads + 1] = { it = it, plen = #pre, keys = {}, vals = {}, n = 0, i = 1 }
  end
  local s = { heads = heads, read = 0 }
  local function fill(hd)
    if hd.i > hd.n and hd.it then
      local _, _, n = hd.it:next_chunk(256, hd.keys, hd.vals)
      hd.n, hd.i = n, 1
      if n == 0 then hd.it:close(); hd.it = nil end
    end
    return hd.i <= hd.n
  end
  function s.next()
    local best, bk
    for _, hd in ipairs(heads) do
      if fill(hd) then
        local k = sub(hd.keys[hd.i], hd.plen + 1)
        if bk == nil or k < bk then best, bk = hd, k end
      end
    end
    if not best then return nil end
    local val = best.vals[best.i]
    best.i = best.i + 1
    s.read = s.read + 1
    return bk, val
  end
  function s.close()
    for _, hd in ipairs(heads) do if hd.it then hd.it:close(); hd.it = nil end end
  end
  -- the approximate bytes of its ranges (the tie-break of the race)
  function s.size()
    local n = 0
    for _, raw in ipairs(g.values) do
      local pre = prefix_of(g, raw)
      n = n + v.q.db:approximate_size(cf, pre .. keys.be64(from), pre .. keys.be64(to + 1))
    end
    return n
  end
  return s
end

-- Chooses the driving index: the groups read up to M.RACE_BUDGET entries each, in rounds of 256;
-- after the first round in which one ends, the one with the fewest entries drives, its entries
-- already read; when none ends, the one with the smallest approximate size on disk. Returns the
-- driver's number, its stream, the entries it read and whether it ended.
local function choose_driver(v, groups, from, to)
  local streams, buffers, done = {}, {}, {}
  for n, g in ipairs(groups) do streams[n], buffers[n] = group_stream(v, g, from, to), {} end
  if #groups == 1 then return 1, streams[1], {}, false end
  local step = 256
  local winner
  for _ = 1, M.RACE_BUDGET // step do
    -- one round: every index reads up to `step` more entries; the fewest among the ended wins
    for n, s in ipairs(streams) do
      local b = buffers[n]
      for _ = 1, step do
        local k, val = s.next()
        if k == nil then done[n] = true; break end
        b[#b + 1] = { k, val }
      end
    end
    for n in ipairs(streams) do
      if done[n] and (winner == nil or #buffers[n] < #buffers[winner]) then winner = n end
    end
    if winner then break end
  end
  if not winner then
    local best
    for n, s in ipairs(streams) do
      local size = s.size()
      if best == nil or size < best then best, winner = size, n end
    end
  end
  for n, s in ipairs(streams) do if n ~= winner then s.close() end end
  return winner, streams[winner], buffers[winner], done[winner] or false
end

-- The key in group g's index of the log at suffix (height, logIndex) for alternative raw.
local function member_key(g, raw, suffix) return prefix_of(g, raw) .. suffix end

-- Keeps the candidates (suffix, value) that every other group also indexes; appends them to out.
local function check_candidates(v, groups, driver, cands, out)
  if #cands == 0 then return end
  local ok = {}
  for i = 1, #cands do ok[i] = true end
  for n, g in ipairs(groups) do
    if n ~= driver then
      local ks, owner = {}, {}
      for i, c in ipairs(cands) do
        if ok[i] then
          for _, raw in ipairs(g.values) do
            ks[#ks + 1] = member_key(g, raw, c[1])
            owner[#ks] = i
          end
        end
      end
      local found = {}
      if #ks > 0 then
        local vals = family_of(v, g):multi_get(ks, v.ro)
        for j = 1, #ks do if vals[j] ~= nil then found[owner[j]] = true end end
      end
      for i = 1, #cands do ok[i] = ok[i] and found[i] == true end
    end
  end
  for i, c in ipairs(cands) do
    if ok[i] then out[#out + 1] = c end
  end
end

local function too_many(max)
  fail("query returned more than %d results: narrow the block range (fromBlock, toBlock), add an " ..
    "address or a topic, or raise the bound (max_results, --max-results)", max)
end

-- Members eth_getLogs gives every log, filled from the receipt (or its block) when the stored
-- log lacks them.
local FILL = { "blockHash", "blockNumber", "transactionHash", "transactionIndex" }

local function complete(v, log, receipt, h)
  for _, name in ipairs(FILL) do
    if log[name] == nil then
      local val = receipt[name]
      if val == nil and (name == "blockHash" or name == "blockNumber") then
        -- the last block read is kept (results come in chain order)
        local b = v.blocks and v.blocks[h] or block_at(v, h)
        v.blocks = { [h] = b }
        val = b and b[name == "blockHash" and "hash" or "number"]
      end
      if val ~= nil then jv.set(log, name, val) end
    end
  end
  if log.removed == nil then jv.set(log, "removed", false) end
  return log
end

-- The log objects of the index hits {suffix, txhash32 .. be32(position)} from hits[first] on,
-- each completed as eth_getLogs gives it, into c[3]: the receipts are read in chunks of 256
-- transactions and dropped once their logs are taken, so memory holds the results, not the
-- receipts.
local function resolve(v, hits, first)
  local n = first or 1
  while n <= #hits do
    local want, order, stop = {}, {}, n
    while stop <= #hits and #order < 256 do
      local tx = sub(hits[stop][2], 1, 32)
      if not want[tx] then want[tx] = true; order[#order + 1] = tx end
      stop = stop + 1
    end
    local vals = v.cf.receipts:multi_get(order, v.ro)
    local rc = {}
    for i, tx in ipairs(order) do
      if vals[i] == nil then
        fail("account store: a log index names transaction %s, which has no receipt: the store is " ..
          "damaged (quarry verify)", keys.hex(tx))
      end
      rc[tx] = decode(vals[i], "receipt " .. keys.hex(tx))
    end
    for j = n, stop - 1 do
      local c = hits[j]
      local tx, pos = keys.decode_log_value(c[2])
      local r = rc[tx]
      local log = jv.is_array(r.logs) and r.logs[pos + 1]
      if type(log) ~= "table" then
        fail("account store: a log index names log %d of the receipt of %s, which has no such " ..
          "log: the store is damaged (quarry verify)", pos, keys.hex(tx))
      end
      c[3] = complete(v, log, r, (unpack(">I8", c[1])))
    end
    n = stop
  end
end

-- The number of topics of a log (0 when it has none or no list).
local function ntopics(log) return jv.is_array(log.topics) and #log.topics or 0 end

-- The log objects of index hits, read from their receipts (from hits[first] on: those before
-- are resolved already), completed.
local function logs_of(v, hits, first)
  resolve(v, hits, first)
  local out = json.array()
  for i, c in ipairs(hits) do out[i] = c[3] end
  return out
end

-- No address and no topic: every receipt of the blocks in [from, to], in chain order (logs with
-- at least min_topics topics: a filter of null positions).
local function scan_receipts(v, from, to, max, min_topics)
  local out = json.array()
  for k, text in v.cf.blocks:pairs({ from = keys.block_key(from), to = keys.block_key(to + 1), snapshot = v.s }) do
    local h = keys.height_of_block_key(k)
    local b = decode(text, ("block %d"):format(h))
    local list = b.transactions
    if jv.is_array(list) and #list > 0 then
      local raws = tx_raws(list, h)
      local vals = v.cf.receipts:multi_get(raws, v.ro)
      for i = 1, #raws do
        if vals[i] ~= nil then
          local r = decode(vals[i], "receipt " .. list[i])
          if jv.is_array(r.logs) then
            for _, log in ipairs(r.logs) do
              if ntopics(log) >= min_topics then
                if #out == max then too_many(max) end
                v.blocks = { [h] = b }
                out[#out + 1] = complete(v, log, r, h)
              end
            end
          end
        end
      end
    end
  end
  return out
end

-- The block range of a parsed filter in the view: from, to; nil for an empty store.
local function filter_range(v, p)
  if p.block_hash then
    local hv = v.cf.hashes:get(keys.hash_key(keys.hash(p.block_hash, "filter.blockHash")), v.ro)
    if hv == nil then fail("filter.blockHash %s: no block with this hash in the store (unknown block)", p.block_hash) end
    local h = keys.height_of_hash_value(hv)
    return h, h
  end
  local last = tip(v)
  if last == nil then return nil end
  local from = present(p.from) and height_arg(v, p.from, "filter.fromBlock") or last
  local to = present(p.to) and height_arg(v, p.to, "filter.toBlock") or last
  if from > to then
    fail("filter: fromBlock (%d) is above toBlock (%d) (invalid block range params)", from, to)
  end
  if to > last then
    fail("filter: toBlock (%d) is beyond the store's tip (%d): block range extends beyond the " ..
      "current head block (use \"latest\" for the tip)", to, last)
  end
  return from, to
end

-- Which index a logs query of the view read: {index, position, values, candidates}.
local function plan_of(v)
  local r = jv.object()
  local g = v.plan and v.plan.driver
  jv.set(r, "index", g == nil and "receipts" or (g.kind == "address" and "logs_by_address" or "logs_by_topic"))
  if g and g.position then jv.set(r, "position", g.position) end
  jv.set(r, "values", g and #g.values or 0)
  jv.set(r, "candidates", v.plan and v.plan.candidates or json.null)
  return r
end

local function logs_view(v, filter, o)
  local max = o.max_results == nil and M.MAX_RESULTS or positive(o.max_results, "max_results")
  local p = M.parse_filter(filter)
  local from, to = filter_range(v, p)
  if from == nil then return json.array(), plan_of(v) end
  if #p.groups == 0 then return scan_receipts(v, from, to, max, p.min_topics), plan_of(v) end
  -- a trailing null position: the log must still have a topic there (read from its receipt)
  local need_len = p.min_topics > p.constrained
  local driver, stream, buffered, ended = choose_driver(v, p.groups, from, to)
  local hits, cands = {}, {}
  local function flush()
    local first = #hits + 1
    check_candidates(v, p.groups, driver, cands, hits)
    cands = {}
    if need_len and #hits >= first then
      resolve(v, hits, first)
      local n = first - 1
      for i = first, #hits do
        if ntopics(hits[i][3]) >= p.min_topics then n = n + 1; hits[n] = hits[i] end
      end
      for i = #hits, n + 1, -1 do hits[i] = nil end
    end
    if #hits > max then stream.close(); too_many(max) end
  end
  for _, e in ipairs(buffered) do
    cands[#cands + 1] = e
    if #cands == 256 then flush() end
  end
  if not ended then
    while true do
      local k, val = stream.next()
      if k == nil then break end
      cands[#cands + 1] = { k, val }
      if #cands == 256 then flush() end
    end
  end
  flush()
  stream.close()
  v.plan = { driver = p.groups[driver], candidates = stream.read }
  return logs_of(v, hits, need_len and #hits + 1 or 1), plan_of(v)
end

--- q:logs(filter [, options]) -> { log, ... }: the logs eth_getLogs returns for filter, in chain
--- order (block, logIndex), each the log object as stored in its receipt, plus the members
--- eth_getLogs adds when the stored log lacks them (blockHash, blockNumber, transactionHash,
--- transactionIndex from the receipt or block, removed = false). filter: {fromBlock, toBlock
--- (numbers or tags, default "latest"), address (one or a list), topics (up to 4 positions:
--- null = any, a hash, or a list = any of them), blockHash (instead of the range)}. options:
--- max_results (default query.MAX_RESULTS): more results raise "query returned more than N
--- results". The index read is the most selective of the filter's address and topic positions;
--- with neither, the receipts of the range are read. Second result: that plan (q:explain).
function Q:logs(filter, options)
  return with_view(self, logs_view, filter, options or {})
end

--- q:explain(filter [, options]) -> plan: the second result of q:logs(filter, options): which
--- index it read ("logs_by_address", "logs_by_topic" or "receipts") and how many entries.
function Q:explain(filter, options)
  return select(2, self:logs(filter, options))
end

return M

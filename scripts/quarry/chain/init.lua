-- quarry.chain: the chain store. A blockchain kept in six column families (blocks, hashes, txs,
-- utxo, undo, meta) of one quarry database; validates and appends blocks atomically, answers
-- queries, rolls back with undo records, verifies itself. Layout: quarry.chain.codec.
local quarry = require("quarry")
local codec = require("quarry.chain.codec")
local J = require("quarry.chain.jsonvalue")
local formats = require("quarry.chain.formats")
local u256 = require("quarry.u256")

local mtype, pack, unpack = math.type, string.pack, string.unpack
local uv, ruv = codec.uv, codec.ruv
local hkey, skey, ukey = codec.hkey, codec.skey, codec.ukey

local M = {}
M.FAMILIES = codec.FAMILIES
M.FORMAT = codec.FORMAT
M.codec = codec
-- meta key written by `quarry prune`: undo records below this height (8-byte big-endian) are gone.
M.UNDO_FLOOR_KEY = "undo_pruned_below"

---------------------------------------------------------------------------------------------------
-- Errors: a block the chain refuses. Fields: code = "InvalidChain", message, height, tx, input.
---------------------------------------------------------------------------------------------------

local copy_counts, counts_zero, encode_counts

local ChainError = { __name = "quarry.chain.error" }
ChainError.__index = ChainError
ChainError.__tostring = function(e) return "invalid chain: " .. e.message end
M.ChainError = ChainError

function M.is_invalid(e) return getmetatable(e) == ChainError end

-- Raises an InvalidChain error naming the block, and the transaction and input when known.
local function invalid(height, tx, input, fmt, ...)
  local where = "block " .. tostring(height)
  if tx ~= nil then where = where .. " tx " .. tostring(tx) end
  if input ~= nil then where = where .. " input " .. tostring(input) end
  local msg = where .. ": " .. fmt:format(...)
  error(setmetatable({ code = "InvalidChain", message = msg, height = height, tx = tx,
    input = input }, ChainError), 0)
end

local show = J.show
local OBJ, ARR = J.json.object_mt, J.json.array_mt -- fast paths of J.is_object / J.is_array
local EMPTY = setmetatable({}, { __newindex = function() error("read-only", 2) end })

---------------------------------------------------------------------------------------------------
-- Opening
---------------------------------------------------------------------------------------------------

-- The first key of a family (nil when empty).
function M.first_key(cf)
  for k in cf:pairs({ limit = 1, keys_only = true }) do return k end
  return nil
end

-- chain.walk(from, to, get, missing) -> iterator of height, get(height) for each height from
-- from to to (inclusive); none when from is nil; missing(height) is called (it raises) for a
-- height get has nothing for. The record walks of the layout and account stores.
function M.walk(from, to, get, missing)
  if from == nil then return function() return nil end end
  local h = from - 1
  return function()
    h = h + 1
    if h > to then return nil end
    local v = get(h)
    if v == nil then missing(h) end
    return h, v
  end
end

local Store = {}
Store.__index = Store
Store.__name = "quarry.chain.store"
M.Store = Store

local META_KEYS = { format = "format", base = "base", tip = "tip", supply = "supply",
  txs = "txs", utxos = "utxos", dump_format = "dump_format", relaxed = "relaxed" }
M.META_KEYS = META_KEYS

-- What the store's format does not check, counted (meta `relaxed`, JSON text): blocks whose
-- empty or repeated hash is not indexed, links not checked, unspendable outputs and their sum.
local COUNT_NAMES = { "empty_hash", "duplicate_hash", "unlinked", "unspendable", "unspendable_amount" }
local function new_counts()
  return { empty_hash = 0, duplicate_hash = 0, unlinked = 0, unspendable = 0, unspendable_amount = 0 }
end
copy_counts = function(c)
  local t = new_counts()
  for _, k in ipairs(COUNT_NAMES) do t[k] = c and c[k] or 0 end
  return t
end
counts_zero = function(c)
  for _, k in ipairs(COUNT_NAMES) do
    if c[k] ~= 0 then return false end
  end
  return true
end
encode_counts = function(c)
  local o = J.object()
  for _, k in ipairs(COUNT_NAMES) do
    local v = c[k]
    J.set(o, k, mtype(v) == "integer" and v or tostring(v))
  end
  return J.json.encode(o)
end
local function decode_counts(text)
  local c = new_counts()
  if not text then return c end
  local ok, o = pcall(J.json.decode, text)
  if not ok or type(o) ~= "table" then return c end
  for _, k in ipairs(COUNT_NAMES) do
    local v = o[k]
    if type(v) == "string" then v = u256.norm(u256.new(v)) end
    if mtype(v) == "integer" or u256.is(v) then c[k] = v end
  end
  return c
end
M._decode_counts = decode_counts

-- chain.open(path [, options]) -> store
-- options: mode ("read_write" default, "read_only", "secondary"), secondary_path, preset,
-- create (default true), db (a table of further quarry.open options), sync (group commits are
-- synced, default true).
function M.open(path, options)
  options = options or {}
  local dbopts = {}
  for k, v in pairs(options.db or {}) do dbopts[k] = v end
  local mode = options.mode or "read_write"
  dbopts.mode = mode
  if options.preset then dbopts.preset = options.preset end
  if options.secondary_path then dbopts.secondary_path = options.secondary_path end
  if mode == "read_write" then
    dbopts.column_families = M.FAMILIES
    dbopts.create_if_missing = options.create ~= false
  end
  local db = quarry.open(path, dbopts)
  local self = setmetatable({ db = db, path = path, mode = mode, cf = {},
    sync = options.sync ~= false, wanted_format = options.format }, Store)
  local ok, err = pcall(function()
    local names = {}
    for _, n in ipairs(db:column_families()) do names[n] = true end
    for _, name in ipairs(M.FAMILIES) do
      if not names[name] then
        error(("quarry.chain: %s is not a chain store (no column family %q)"):format(path, name), 0)
      end
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

-- chain.open_reader(path [, options]) -> store: opens for reading only, so it works against a
-- live writer: read_only first; when the database is locked, as a secondary (following the
-- primary) with its own files in a scratch directory removed at close. options.secondary forces
-- the secondary mode.
function M.open_reader(path, options)
  options = options or {}
  if not options.secondary then
    local ok, store = pcall(M.open, path, { mode = "read_only", db = options.db, format = options.format })
    if ok then return store end
    if not (quarry.is_error(store) and (store.code == "Locked" or store.code == "Busy")) then
      error(store, 0)
    end
  end
  local scratch = require("quarry.sys").mkdtemp("quarry-secondary") -- new, mode 0700
  local ok, store = pcall(M.open, path, { mode = "secondary", secondary_path = scratch,
    db = options.db, format = options.format })
  if not ok then
    os.execute("rm -rf '" .. scratch:gsub("'", "'\\''") .. "'")
    error(store, 0)
  end
  store.scratch = scratch
  return store
end

function Store:_load()
  local meta = self.cf.meta
  local fmt = meta:get("format")
  if fmt == nil then
    local k = M.first_key(self.cf.blocks)
    if k ~= nil then error("quarry.chain: " .. self.path .. ": blocks without a format record", 0) end
    self.tip_height, self.tip_hash, self.base = nil, nil, nil
    self.total_supply, self.ntxs, self.nutxos = 0, 0, 0
    self.relaxed = new_counts()
    self.format = self:_format(nil)
    return
  end
  if fmt ~= codec.FORMAT then
    error(("quarry.chain: %s has format %q; this version reads %q"):format(self.path, fmt,
      codec.FORMAT), 0)
  end
  local tip = meta:get("tip")
  if tip then
    self.tip_height = unpack(">I8", tip)
    self.base = ruv(meta:get("base") or "\0", 1)
    local v = self.cf.blocks:get(hkey(self.tip_height))
    if not v then error(("quarry.chain: %s: the tip block %d is missing"):format(self.path, self.tip_height), 0) end
    self.tip_hash = codec.block_hash(v)
  end
  self.total_supply = codec.read_amount(meta:get("supply") or "\0", 1)
  self.relaxed = decode_counts(meta:get("relaxed"))
  self.format = self:_format(meta:get("dump_format") or formats.DEFAULT)
  self.ntxs = ruv(meta:get("txs") or "\0", 1)
  self.nutxos = ruv(meta:get("utxos") or "\0", 1)
end

-- The store's dump format: the one it was migrated from (stored), or the one asked for
-- (options.format: a name, a file, or a prepared format) for an empty store. A store of one
-- format asked for another says which it holds.
function Store:_format(stored)
  local want = self.wanted_format
  if type(want) == "table" then
    if stored and stored ~= want.name then
      error(("quarry.chain: %s holds a chain migrated from format %q, not %q (give --format %s)")
        :format(self.path, stored, want.name, stored), 0)
    end
    return want
  end
  if stored and want and want ~= stored then
    local wf = formats.load(want)
    if wf.name ~= stored then
      error(("quarry.chain: %s holds a chain migrated from format %q, not %q (give --format %s)")
        :format(self.path, stored, wf.name, stored), 0)
    end
    return wf
  end
  local name = stored or want or formats.DEFAULT
  local ok, fmt = pcall(formats.load, name)
  if not ok then
    if not formats.is_builtin(name) then
      error(("quarry.chain: %s was migrated from format %q, which is not built in: give its file " ..
        "(--format FILE.lua)"):format(self.path, name), 0)
    end
    error(fmt, 0)
  end
  return fmt
end

-- store:format() -> the store's dump format (quarry.chain.formats)
function Store:format() return self.format end

-- store:relaxed() -> counts of what the format did not check: { empty_hash, duplicate_hash,
-- unlinked, unspendable, unspendable_amount }
function Store:relaxed_counts() return copy_counts(self.relaxed) end

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

function Store:_writable()
  if not self.db then error("quarry.chain: the store is closed", 3) end
  if self.mode ~= "read_write" then error("quarry.chain: the store is open " .. self.mode, 3) end
end

---------------------------------------------------------------------------------------------------
-- Groups: validated blocks held in an in-memory overlay and committed as one batch
---------------------------------------------------------------------------------------------------

local Group = {}
Group.__index = Group
Group.__name = "quarry.chain.group"
M.Group = Group

-- store:group() -> group: an empty group over the store's current state.
function Store:group()
  self:_writable()
  return setmetatable({
    store = self, batch = self.db:batch(), format = self.format,
    tip = self.tip_height, tip_hash = self.tip_hash, base = self.base,
    supply = self.total_supply, ntxs = self.ntxs, nutxos = self.nutxos,
    relaxed = copy_counts(self.relaxed),
    txs = {},      -- tx id -> { height, tx index, outputs } for transactions of this group
    hashes = {},   -- hash key -> height for blocks of this group
    created = {},  -- utxo key -> amount (created in the group) or false (then spent in the group)
    spent_db = {}, -- utxo key -> true: committed outputs spent by this group
    spent_by = {}, -- utxo key -> the ref of the input that spent it in the group (messages)
    n = 0, bytes = 0, failed = false, first_height = nil,
  }, Group)
end

local add, sub = u256.add, u256.sub
local MAXINT = math.maxinteger

-- a + b for amounts, in Lua integers while the sum fits below 2^63 (the common case, no call
-- into quarry.u256), else exactly through u256.add (which raises beyond 2^256-1).
local function addi(a, b)
  if mtype(a) == "integer" and mtype(b) == "integer" and a <= MAXINT - b then return a + b end
  return add(a, b)
end

-- Step 1: the block is an object whose index is the next height. Returns height, first.
local function check_height(g, block)
  local expect = g.tip and g.tip + 1 or 0
  if not J.is_object(block) then
    invalid(expect, nil, nil, "a block must be a JSON object, got %s", show(block))
  end
  local h = block.index
  if mtype(h) ~= "integer" or h < 0 then
    invalid(expect, nil, nil, "index must be a non-negative integer, got %s", show(h))
  end
  if g.tip ~= nil then
    if h <= g.tip then
      invalid(h, nil, nil, "duplicate height: the chain already holds heights up to %d", g.tip)
    elseif h > g.tip + 1 then
      invalid(h, nil, nil, "gap: expected height %d after %d", g.tip + 1, g.tip)
    end
  end
  return h, g.tip == nil
end

-- Step 2: the hash and the link to the previous block, with the format's relaxations.
-- Returns hash, hash key (nil when the hash is not indexed), linked (previous_hash is the
-- previous block's hash).
local function check_hash(g, block, h, first)
  local relax = g.format.relax
  local hash = block.hash
  if type(hash) ~= "string" then invalid(h, nil, nil, "hash must be a string, got %s", show(hash)) end
  local prev = block.previous_hash
  local linked = not first and prev == g.tip_hash
  if not first and not linked then
    if relax.empty_hash and (g.tip_hash == "" or prev == "") then
      g.relaxed.unlinked = g.relaxed.unlinked + 1
    else
      invalid(h, nil, nil, "broken link: previous_hash %s is not the hash %s of block %d",
        show(prev), show(g.tip_hash), h - 1)
    end
  end
  if hash == "" and relax.empty_hash then
    g.relaxed.empty_hash = g.relaxed.empty_hash + 1
    return hash, nil, linked
  end
  local hk = skey(hash)
  local other = g.hashes[hk] or g:_lookup_hash(hk, hash)
  if other then
    if relax.duplicate_hash then
      g.relaxed.duplicate_hash = g.relaxed.duplicate_hash + 1
      return hash, nil, linked
    end
    invalid(h, nil, nil, "duplicate block hash %s (already block %d)", hash, other)
  end
  return hash, hk, linked
end

-- An array member (absent = empty), or an InvalidChain error.
local function array_member(v, h, id, what)
  if v == nil then return EMPTY end
  if getmetatable(v) ~= ARR and not J.is_array(v) then
    invalid(h, id, nil, "%s must be an array, got %s", what, show(v))
  end
  return v
end

-- Step 3: the transaction's id is a string used by no earlier transaction. Returns id, its key.
local function check_tx_id(g, tx, h, t)
  if getmetatable(tx) ~= OBJ and not J.is_object(tx) then
    invalid(h, nil, nil, "transaction %d is not an object: %s", t - 1, show(tx))
  end
  local id = tx.id
  if type(id) ~= "string" then
    invalid(h, nil, nil, "transaction %d: id must be a string, got %s", t - 1, show(id))
  end
  local idk = skey(id)
  local dup = g.txs[id] or g:_lookup_tx(id, idk)
  if dup then invalid(h, id, nil, "duplicate transaction id (already in block %d)", dup[1]) end
  return id, idk
end

-- Step 4: every input spends an existing unspent output. Returns refs (one per input:
-- { height, tx index, output index, amount, spender id, spender height }) and their sum.
local function check_inputs(g, ins, h, id, spent, nspent)
  local created, spent_db, spent_by, txloc = g.created, g.spent_db, g.spent_by, g.txs
  local refs, sum_in = {}, 0
  for i = 1, #ins do
    local inp = ins[i]
    if getmetatable(inp) ~= OBJ and not J.is_object(inp) then
      invalid(h, id, i - 1, "an input must be an object, got %s", show(inp))
    end
    local rid, n = inp.tx_id, inp.output_index
    if type(rid) ~= "string" then invalid(h, id, i - 1, "tx_id must be a string, got %s", show(rid)) end
    if mtype(n) ~= "integer" or n < 0 then
      invalid(h, id, i - 1, "output_index must be a non-negative integer, got %s", show(n))
    end
    local loc = txloc[rid] or g:_lookup_tx(rid, skey(rid))
    if not loc and g.tx_index then
      invalid(h, id, i - 1, "spend of a missing output %s:%d (no such transaction)", rid, n)
    end
    if loc and n >= loc[3] then
      invalid(h, id, i - 1, "spend of a missing output %s:%d (the transaction has %d outputs)",
        rid, n, loc[3])
    end
    local pk = g:_output_key(rid, n, loc)
    local amount = created[pk]
    if amount == false or spent_db[pk] then
      local by = spent_by[pk] -- the ref of the earlier spend: {.., .., .., .., tx id, height}
      invalid(h, id, i - 1, "double spend of %s:%d (already spent by tx %s in block %d)", rid, n,
        by[5], by[6])
    elseif amount then
      created[pk] = false
    else
      amount = g:_lookup_output(pk, rid, n)
      if amount == nil then
        if loc then invalid(h, id, i - 1, "double spend of %s:%d (already spent)", rid, n) end
        invalid(h, id, i - 1, "spend of a missing or spent output %s:%d", rid, n)
      end
      spent_db[pk] = true
    end
    -- { output's height, tx index, output index, amount, spender id, spender height, spent id }
    local ref = loc and { loc[1], loc[2], n, amount, id, h, rid } or { false, false, n, amount, id, h, rid }
    spent_by[pk] = ref
    sum_in = addi(sum_in, amount)
    refs[i] = ref
    nspent = nspent + 1
    spent[nspent] = ref
  end
  return refs, sum_in, nspent
end

-- Step 5: every output is an object with an amount in the format's unit. Returns the amounts
-- (base units), which of them are spendable, and the sums of both kinds.
local function check_outputs(g, outs, h, id, tx, t, block)
  local fmt = g.format
  local read_amount, unspendable = fmt.read_amount, fmt.unspendable
  local amounts, sum_out, sum_burnt, nburnt = {}, 0, 0, 0
  local spendable = unspendable and {} or nil -- nil: every output is spendable
  for o = 1, #outs do
    local out = outs[o]
    if getmetatable(out) ~= OBJ and not J.is_object(out) then
      invalid(h, id, nil, "output %d is not an object: %s", o - 1, show(out))
    end
    local a = out.amount
    if mtype(a) ~= "integer" or a < 0 then
      local why
      a, why = read_amount(a)
      if a == nil then invalid(h, id, nil, "output %d: amount %s", o - 1, why) end
    end
    if mtype(sum_out) == "integer" and mtype(a) == "integer" and a <= MAXINT - sum_out then
      sum_out = sum_out + a
    else
      local ok, total = pcall(add, sum_out, a)
      if not ok then invalid(h, id, nil, "the outputs' sum exceeds 2^256-1") end
      sum_out = total
    end
    amounts[o] = a
    if spendable then
      local live = not unspendable(out, o, tx, t, block)
      spendable[o] = live
      if not live then
        sum_burnt = add(sum_burnt, a)
        nburnt = nburnt + 1
      end
    end
  end
  return amounts, spendable, sum_out, sum_burnt, nburnt
end

M._steps = { check_height = check_height, check_hash = check_hash, array_member = array_member,
  check_tx_id = check_tx_id, check_inputs = check_inputs, check_outputs = check_outputs,
  invalid = invalid, new_counts = new_counts, copy_counts = function(c) return copy_counts(c) end }

-- group:add(block) -> height. Validates the block (a model block: docs/formats.md) against the
-- chain and the group with the store's format rules, and adds it. Raises an InvalidChain error
-- naming the block (and tx and input); the group is then unusable: discard it (nothing of it
-- has been written).
function Group:add(block)
  if self.failed then error("quarry.chain: a block of this group was refused: discard the group", 2) end
  if self.done then error("quarry.chain: the group is already committed", 2) end
  self.failed = true -- until the block is fully added
  local h, first = check_height(self, block)
  local hash, hk, linked = check_hash(self, block, h, first)
  local txs = array_member(block.transactions, h, nil, "transactions")
  local coinbase = self.format.coinbase
  local created, txloc = self.created, self.txs
  local infos, spent, nspent = {}, {}, 0
  local supply, nutxos = self.supply, self.nutxos
  local ntx = #txs
  for t = 1, ntx do
    local tx = txs[t]
    local id, idk = check_tx_id(self, tx, h, t)
    local ins = array_member(tx.inputs, h, id, "inputs")
    local outs = array_member(tx.outputs, h, id, "outputs")
    local mints = coinbase(tx, t, block)
    local refs, sum_in = nil, 0
    if not mints or #ins == 0 then
      refs, sum_in, nspent = check_inputs(self, ins, h, id, spent, nspent)
    end
    local amounts, spendable, sum_out, sum_burnt, nburnt = check_outputs(self, outs, h, id, tx, t, block)
    local ints = mtype(sum_out) == "integer" and mtype(sum_in) == "integer"
    if not mints and (ints and sum_out > sum_in or not ints and u256.cmp(sum_out, sum_in) > 0) then
      invalid(h, id, nil, "outputs (%s) exceed inputs (%s)", tostring(sum_out), tostring(sum_in))
    end
    if ints and sum_burnt == 0 and mtype(supply) == "integer" and supply - sum_in <= MAXINT - sum_out then
      supply = supply - sum_in + sum_out
    else
      local ok, total = pcall(add, sub(supply, sum_in), sub(sum_out, sum_burnt))
      if not ok then invalid(h, id, nil, "the total supply exceeds 2^256-1") end
      supply = total
    end
    local nout = #outs
    nutxos = nutxos + (nout - nburnt) - (refs and #refs or 0)
    if nburnt > 0 then
      self.relaxed.unspendable = self.relaxed.unspendable + nburnt
      self.relaxed.unspendable_amount = add(self.relaxed.unspendable_amount, sum_burnt)
    end
    local loc = { h, t - 1, nout }
    txloc[id] = loc
    if self.tx_index and not spendable then -- the chain store, every output spendable
      for o = 1, nout do created[ukey(h, t - 1, o - 1)] = amounts[o] end
    else
      for o = 1, nout do
        if not spendable or spendable[o] then created[self:_output_key(id, o - 1, loc)] = amounts[o] end
      end
    end
    infos[t] = { id = id, idk = idk, refs = refs, nout = nout, coinbase = mints,
      amounts = amounts, spendable = spendable }
  end
  self:_stage(block, h, first, hash, hk, linked, infos, spent)
  self.supply, self.nutxos, self.ntxs = supply, nutxos, self.ntxs + ntx
  self.failed = false
  return h
end

-- The chain store's lookups (a layout's group has its own: quarry.chain.layout).
Group.tx_index = true
function Group:_lookup_hash(hk)
  local v = self.store.cf.hashes:get(hk)
  return v and (codec.parse_hashes_value(v)) or nil
end
function Group:_lookup_tx(_, idk)
  local v = self.store.cf.txs:get(idk)
  return v and { codec.parse_txs_value(v) } or nil
end
function Group:_output_key(_, n, loc) return ukey(loc[1], loc[2], n) end
function Group:_lookup_output(pk)
  local v = self.store.cf.utxo:get(pk)
  return v and codec.parse_utxo_value(v) or nil
end

-- Step 6: the block value, its index entries and its undo record into the group's batch.
function Group:_stage(block, h, first, hash, hk, linked, infos, spent)
  local store = self.store
  local value = codec.encode_block(block, { height = h, first = first, hash = hash, txs = infos,
    linked = linked })
  local b, cf = self.batch, store.cf
  local key = hkey(h)
  b:put(cf.blocks, key, value)
  if hk then
    b:put(cf.hashes, hk, codec.hashes_value(h, codec.fnv(value)))
    self.hashes[hk] = h
  end
  for t = 1, #infos do
    local info = infos[t]
    b:put(cf.txs, info.idk, codec.txs_value(h, t - 1, info.nout))
  end
  local undo = codec.encode_undo(h, spent)
  b:put(cf.undo, key, undo)
  if first then self.base = h end
  self.first_height = self.first_height or h
  self.tip, self.tip_hash = h, hash
  self.n = self.n + 1
  self.bytes = self.bytes + #value + #undo + 48 * (#infos + 1)
end

-- group:commit([meta]) -> tip height: writes the group (blocks, indexes, UTXO changes, undo
-- records, tip, supply, counters, and the extra meta entries given: key -> string, or false to
-- delete) in one atomic batch.
function Group:commit(extra)
  if self.failed then error("quarry.chain: a block of this group was refused: discard the group", 2) end
  if self.done then error("quarry.chain: the group is already committed", 2) end
  local store = self.store
  local b, cf = self.batch, store.cf
  for pk, a in pairs(self.created) do
    if a then b:put(cf.utxo, pk, codec.utxo_value(a)) end
  end
  for pk in pairs(self.spent_db) do b:delete(cf.utxo, pk) end
  local meta = cf.meta
  if self.n > 0 then
    if store.tip_height == nil then
      b:put(meta, "format", codec.FORMAT)
      b:put(meta, "base", uv(self.base))
      b:put(meta, "dump_format", self.format.name)
    end
    b:put(meta, "tip", pack(">I8", self.tip))
    b:put(meta, "supply", codec.amount_bytes(self.supply))
    b:put(meta, "txs", uv(self.ntxs))
    b:put(meta, "utxos", uv(self.nutxos))
    if not counts_zero(self.relaxed) then b:put(meta, "relaxed", encode_counts(self.relaxed)) end
  end
  for k, v in pairs(extra or {}) do
    if META_KEYS[k] then error("quarry.chain: meta key " .. k .. " is reserved", 2) end
    if v == false then b:delete(meta, k) else b:put(meta, k, v) end
  end
  store.db:write(b, { sync = store.sync })
  self.done = true
  b:close()
  store.tip_height, store.tip_hash, store.base = self.tip, self.tip_hash, self.base
  store.total_supply, store.ntxs, store.nutxos = self.supply, self.ntxs, self.nutxos
  store.relaxed = self.relaxed
  return self.tip
end

-- group:discard(): drops the group; nothing of it is written.
function Group:discard()
  self.done = true
  if self.batch then self.batch:close() end
end

function Group:count() return self.n end
function Group:size() return self.bytes end

-- store:append(block) -> height: validates and writes one block in one atomic batch.
function Store:append(block)
  local g = self:group()
  local ok, err = pcall(g.add, g, block)
  if not ok then
    g:discard()
    error(err, 0)
  end
  return g:commit()
end

---------------------------------------------------------------------------------------------------
-- Meta
---------------------------------------------------------------------------------------------------

function Store:meta(key) return self.cf.meta:get(key) end
function Store:set_meta(key, value)
  self:_writable()
  if META_KEYS[key] then error("quarry.chain: meta key " .. key .. " is reserved", 2) end
  if value == nil then self.cf.meta:delete(key) else self.cf.meta:put(key, value) end
end

---------------------------------------------------------------------------------------------------
-- Reading
---------------------------------------------------------------------------------------------------

-- A resolver (h, t) -> id of transaction t of block h, with a cache of recent block values.
function Store:_resolver(cache_size)
  local cache, n, limit = {}, 0, cache_size or 4096
  local blocks = self.cf.blocks
  local function value_at(h)
    local v = cache[h]
    if v then return v end
    v = blocks:get(hkey(h))
    if not v then codec.corrupt("reference to missing block " .. h) end
    n = n + 1
    if n > limit then cache, n = {}, 1 end
    cache[h] = v
    return v
  end
  local function resolve(h, t) return codec.block_txid(value_at(h), t) end
  local function remember(h, v)
    n = n + 1
    if n > limit then cache, n = {}, 1 end
    cache[h] = v
  end
  return resolve, remember
end

-- store:block(height) -> block (JSON object, exactly as appended) or nil.
function Store:block(height)
  if mtype(height) ~= "integer" then error("quarry.chain: block(height): integer expected", 2) end
  local v = self.cf.blocks:get(hkey(height))
  if not v then return nil end
  local prev
  if height ~= self.base then
    local pv = self.cf.blocks:get(hkey(height - 1))
    if not pv then codec.corrupt("block " .. (height - 1) .. " missing") end
    prev = codec.block_hash(pv)
  end
  local resolve = self:_resolver(64)
  return (codec.decode_block(v, height, prev, resolve, true))
end

-- store:height_of(hash) -> height or nil
function Store:height_of(hash)
  local v = self.cf.hashes:get(skey(hash))
  if not v then return nil end
  return (codec.parse_hashes_value(v))
end

-- store:block_by_hash(hash) -> block, height (or nil)
function Store:block_by_hash(hash)
  local h = self:height_of(hash)
  if not h then return nil end
  return self:block(h), h
end

-- store:tx(id) -> transaction, height, index in block (0-based) (or nil)
function Store:tx(id)
  local v = self.cf.txs:get(skey(id))
  if not v then return nil end
  local h, t = codec.parse_txs_value(v)
  local block = self:block(h)
  if not block then codec.corrupt("txs index points at missing block " .. h) end
  return block.transactions[t + 1], h, t
end

-- store:utxo(tx_id, n) -> output (JSON object), amount, height (or nil when spent or missing)
function Store:utxo(tx_id, n)
  local v = self.cf.txs:get(skey(tx_id))
  if not v then return nil end
  local h, t, nout = codec.parse_txs_value(v)
  if mtype(n) ~= "integer" or n < 0 or n >= nout then return nil end
  local a = self.cf.utxo:get(ukey(h, t, n))
  if not a then return nil end
  local block = self:block(h)
  return block.transactions[t + 1].outputs[n + 1], codec.parse_utxo_value(a), h
end

-- store:undo_floor() -> the lowest height whose undo record is kept after `quarry prune`
-- (meta undo_pruned_below), or nil when nothing was pruned
function Store:undo_floor()
  local v = self.cf.meta:get(M.UNDO_FLOOR_KEY)
  if v and #v == 8 then return (unpack(">I8", v)) end
  return nil
end

-- store:supply() -> sum of the unspent amounts
function Store:supply() return self.total_supply end

-- store:tip() -> height, hash (nil when the chain is empty)
function Store:tip() return self.tip_height, self.tip_hash end

-- store:stats() -> { base, tip, tip_hash, blocks, txs, utxos, supply }
function Store:stats()
  return {
    base = self.base, tip = self.tip_height, tip_hash = self.tip_hash,
    blocks = self.tip_height and (self.tip_height - self.base + 1) or 0,
    txs = self.ntxs, utxos = self.nutxos, supply = self.total_supply,
  }
end

-- store:blocks([from [, to]]) -> iterator of height, block, skeleton, value in chain order
-- (to inclusive). options.json = false skips building the JSON (the skeleton only).
function Store:blocks(from, to, options)
  local want_json = not (options and options.json == false)
  from = from or self.base
  local blocks = self.cf.blocks
  if from == nil then return function() return nil end end
  local prev
  if from ~= self.base then
    local pv = blocks:get(hkey(from - 1))
    if pv then prev = codec.block_hash(pv) end
  end
  local resolve, remember = self:_resolver(options and options.cache or 8192)
  local iopts = { from = hkey(from) }
  if to then iopts.to = hkey(to + 1) end
  local it = blocks:iterator(iopts)
  it:seek(hkey(from))
  local expect = from
  return function()
    if not it:valid() then
      it:close()
      return nil
    end
    local k, v = it:key(), it:value()
    local h = codec.height_of(k)
    if h ~= expect then
      it:close()
      codec.corrupt(("block %d missing (next is %d)"):format(expect, h))
    end
    local block, skel = codec.decode_block(v, h, prev, resolve, want_json)
    remember(h, v)
    prev = skel.hash
    expect = h + 1
    it:next()
    return h, block, skel, v
  end
end

---------------------------------------------------------------------------------------------------
-- Rollback
---------------------------------------------------------------------------------------------------

-- Removes block h's entry of the hash index, when it is h's (a relaxed format leaves empty and
-- repeated hashes unindexed: the entry is then another block's, or none).
function Store:_unindex_hash(b, hash, h, relaxed)
  if hash == "" and self.format.relax.empty_hash then
    relaxed.empty_hash = relaxed.empty_hash - 1
    return
  end
  local hk = skey(hash)
  local v = self.cf.hashes:get(hk)
  if v and codec.parse_hashes_value(v) == h then
    b:delete(self.cf.hashes, hk)
  else
    relaxed.duplicate_hash = relaxed.duplicate_hash - 1
  end
end

-- store:rollback(height) -> number of blocks removed. Removes every block above height, newest
-- first, one atomic batch per block, restoring the spent outputs from the undo records.
function Store:rollback(height)
  self:_writable()
  if mtype(height) ~= "integer" then error("quarry.chain: rollback(height): integer expected", 2) end
  local floor = self:undo_floor()
  if floor and self.tip_height and self.tip_height > height and height + 1 < floor then
    error(("quarry.chain: cannot roll back to height %d: the undo records below %d were pruned " ..
      "(quarry prune)"):format(height, floor), 2)
  end
  local removed = 0
  local cf = self.cf
  while self.tip_height and self.tip_height > height do
    local h = self.tip_height
    local key = hkey(h)
    local v = cf.blocks:get(key)
    local u = cf.undo:get(key)
    if not v or not u then codec.corrupt(("block or undo record %d missing"):format(h)) end
    local prev_hash = h ~= self.base and codec.block_hash(cf.blocks:get(hkey(h - 1))) or nil
    local block, skel = codec.decode_block(v, h, prev_hash, nil, true)
    local spent = codec.decode_undo(u, h)
    local b <close> = self.db:batch()
    local relaxed = copy_counts(self.relaxed)
    b:delete(cf.blocks, key)
    b:delete(cf.undo, key)
    self:_unindex_hash(b, skel.hash, h, relaxed)
    if h ~= self.base and block.previous_hash ~= prev_hash then relaxed.unlinked = relaxed.unlinked - 1 end
    local supply, nutxos = self.total_supply, self.nutxos
    local local_spent = {}
    for _, sp in ipairs(spent) do
      if sp[1] == h then local_spent[ukey(sp[1], sp[2], sp[3])] = true end
    end
    local read_amount = self.format.read_amount
    for t, tx in ipairs(skel.txs) do
      b:delete(cf.txs, skey(tx.id))
      for n = 1, tx.nout do
        local pk = ukey(h, t - 1, n - 1)
        local a = tx.amounts[n]
        if mtype(a) ~= "integer" then a = read_amount(a) end
        if not local_spent[pk] then
          if cf.utxo:get(pk) then -- spendable and unspent (every later block is rolled back)
            b:delete(cf.utxo, pk)
            supply = sub(supply, a)
            nutxos = nutxos - 1
          else -- unspendable: it never entered the UTXO set
            relaxed.unspendable = relaxed.unspendable - 1
            relaxed.unspendable_amount = sub(relaxed.unspendable_amount, a)
          end
        end
      end
    end
    for _, sp in ipairs(spent) do
      if sp[1] ~= h then
        b:put(cf.utxo, ukey(sp[1], sp[2], sp[3]), codec.amount_bytes(sp[4]))
        supply = add(supply, sp[4])
        nutxos = nutxos + 1
      end
    end
    local ntxs = self.ntxs - #skel.txs
    local tip, tip_hash = h - 1, nil
    if h == self.base then
      tip = nil
      for _, k in ipairs({ "tip", "base", "format", "dump_format", "relaxed" }) do b:delete(cf.meta, k) end
      relaxed = new_counts()
    else
      tip_hash = prev_hash
      b:put(cf.meta, "tip", pack(">I8", tip))
      if counts_zero(relaxed) then b:delete(cf.meta, "relaxed") else b:put(cf.meta, "relaxed", encode_counts(relaxed)) end
    end
    for k, x in pairs({ supply = supply, txs = ntxs, utxos = nutxos }) do
      if tip == nil then b:delete(cf.meta, k) else b:put(cf.meta, k, codec.amount_bytes(x)) end
    end
    self.relaxed = relaxed
    self.db:write(b, { sync = self.sync })
    self.tip_height, self.tip_hash, self.total_supply, self.nutxos, self.ntxs = tip, tip_hash, supply, nutxos, ntxs
    if tip == nil then self.base = nil end
    removed = removed + 1
  end
  return removed
end

---------------------------------------------------------------------------------------------------
-- Digest and verification
---------------------------------------------------------------------------------------------------

-- store:digest() -> hex digest of every family, { family = hex, ... }
function Store:digest() return require("quarry.chain.digest").store(self) end

-- store:verify([options]) -> report (see quarry.chain.verify)
function Store:verify(options) return require("quarry.chain.verify").run(self, options) end

return M

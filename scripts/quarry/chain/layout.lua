-- quarry.chain.layout: the registry of store layouts (docs/formats.md) and a store over a layout
-- module: the same groups, checks, resume and reports as the chain store (quarry.chain), with
-- the layout's own keys. `quarry-chain` is the chain store itself; the others are Lua modules
-- in quarry.chain.layouts.* or a user's FILE.lua.
local quarry = require("quarry")
local chain = require("quarry.chain")
local formats = require("quarry.chain.formats")
local u256 = require("quarry.u256")
local json = require("quarry.json")

local M = {}

M.BUILTIN = { "quarry-chain", "auriumchain-node", "account-chain" }
M.DEFAULT = "quarry-chain"
M.CHAIN = { name = "quarry-chain", summary = "the chain store: blocks, hashes, txs, utxo, undo, meta families",
  families = chain.FAMILIES, chain_store = true }

local function fail(fmt, ...) error(fmt:format(...), 0) end

local REQUIRED = { "detect", "state", "find_output", "find_hash", "stage", "stage_state", "read" }

-- Checks a layout table. Raises naming the layout and the field.
local function prepare(l, origin)
  if type(l) ~= "table" then fail("layout %s: the module must return a table", origin) end
  if type(l.name) ~= "string" or l.name == "" then fail("layout %s: `name` must be a string", origin) end
  for _, k in ipairs(l.account and {} or REQUIRED) do -- account-chain: quarry.chain.account's engine
    if type(l[k]) ~= "function" then fail("layout %s: `%s` must be a function", l.name, k) end
  end
  l.families = l.families or { "default" }
  l.origin = origin
  return l
end

local cache = {}

-- layout.load(name_or_file) -> layout: "quarry-chain" (the chain store), a built-in name, or a
-- path to a Lua file returning a layout table.
function M.load(spec)
  spec = spec or M.DEFAULT
  if spec == M.DEFAULT then return M.CHAIN end
  if cache[spec] then return cache[spec] end
  local l = require("quarry.chain.plugin").load("layout", spec, "quarry.chain.layouts", M.BUILTIN)
  l = prepare(l, spec)
  cache[spec] = l
  return l
end

-- layout.list() -> { layout, ... }: the built-in layouts.
function M.list()
  local t = {}
  for _, n in ipairs(M.BUILTIN) do t[#t + 1] = M.load(n) end
  return t
end

-- Amounts in the layout's state: JSON text of decimal strings beyond 2^63.
local function amount_json(v) return math.type(v) == "integer" and v or tostring(v) end
local function amount_of(v)
  if v == nil then return 0 end
  if math.type(v) == "integer" then return v end
  if type(v) == "table" and v.text then return u256.norm(u256.new(v.text)) end
  if type(v) == "string" then return u256.norm(u256.new(v)) end
  return v
end

---------------------------------------------------------------------------------------------------
-- A store over a layout module
---------------------------------------------------------------------------------------------------

local LStore = {}
LStore.__index = LStore
LStore.__name = "quarry.chain.layout.store"
M.LStore = LStore

local LGroup = setmetatable({}, { __index = chain.Group })
LGroup.__index = LGroup
LGroup.__name = "quarry.chain.layout.group"
LGroup.tx_index = false

-- layout.open(path, layout, options) -> store: the chain store for "quarry-chain", else a store
-- over the layout. options as chain.open (mode, format, create, db, sync).
function M.open(path, layout, options)
  options = options or {}
  if type(layout) ~= "table" then layout = M.load(layout) end
  if layout.chain_store then return chain.open(path, options) end
  local mode = options.mode or "read_write"
  local dbopts = { mode = mode, create_if_missing = mode == "read_write" and options.create ~= false }
  for k, v in pairs(options.db or {}) do dbopts[k] = v end
  if options.secondary_path then dbopts.secondary_path = options.secondary_path end
  if mode == "read_write" then dbopts.column_families = layout.families end
  local db = quarry.open(path, dbopts)
  local self = setmetatable({ db = db, path = path, mode = mode, layout = layout,
    sync = options.sync ~= false, wanted_format = options.format }, LStore)
  local ok, err = pcall(LStore._load, self)
  if not ok then
    db:close()
    error(err, 0)
  end
  return self
end

function LStore:_load()
  local st = self.layout.state(self.db)
  local stored_format = st and st.format or nil
  self.format = chain.Store._format(self, stored_format)
  if self.layout.formats then
    local okf = false
    for _, n in ipairs(self.layout.formats) do if n == self.format.name then okf = true end end
    if not okf then
      fail("layout %s holds blocks of format %s only, not %q", self.layout.name,
        table.concat(self.layout.formats, ", "), self.format.name)
    end
  end
  self.state = st
  if st and st.tip then
    self.tip_height, self.tip_hash, self.base = st.tip, st.tip_hash, st.base
  else
    self.tip_height, self.tip_hash, self.base = nil, nil, nil
  end
  self.total_supply = amount_of(st and st.supply)
  self.ntxs = st and st.txs or 0
  self.nutxos = st and st.utxos or 0
  local relaxed = chain._steps.new_counts()
  for k in pairs(relaxed) do
    if st and st.relaxed and st.relaxed[k] ~= nil then relaxed[k] = amount_of(st.relaxed[k]) end
  end
  self.relaxed = relaxed
end

-- store:foreign() -> nil, or a sentence when the database holds the layout's data that no
-- Quarry migration wrote (the node's own database).
function LStore:foreign()
  if self.state then return nil end
  local holds, what = self.layout.detect(self.db)
  if holds then return what end
  return nil
end

function LStore:close()
  if self.db then
    self.db:close()
    self.db = nil
  end
end
LStore.__close = LStore.close
LStore.__gc = LStore.close

function LStore:_writable()
  if not self.db then error("quarry.chain: the store is closed", 3) end
  if self.mode ~= "read_write" then error("quarry.chain: the store is open " .. self.mode, 3) end
end

LStore.stats = chain.Store.stats
LStore.relaxed_counts = chain.Store.relaxed_counts
function LStore:supply() return self.total_supply end
function LStore:tip() return self.tip_height, self.tip_hash end
function LStore:meta(key)
  local st = self.state
  if not st then return nil end
  if key == "source_format" then return st.source_format end
  if key == "header" then return st.header and require("quarry.chain.codec").encode_value(st.header) or nil end
  return nil
end

-- store:height_of(hash) -> height or nil
function LStore:height_of(hash) return self.layout.find_hash(self.db, hash) end

-- store:record(height) -> the record as the layout holds it (the format's own shape), or nil
function LStore:record(height) return self.layout.read(self.db, height) end

-- store:block(height) -> the model block, or nil
function LStore:block(height)
  local r = self.layout.read(self.db, height)
  if r == nil then return nil end
  return formats.decode(self.format, r, "block " .. height)
end

-- store:blocks([from [, to]]) -> iterator of height, model block in chain order (to inclusive)
function LStore:blocks(from, to)
  return chain.walk(from or self.base, to or self.tip_height, function(h) return self:block(h) end,
    function(h) fail("%s: block %d is missing (layout %s)", self.path, h, self.layout.name) end)
end

function LStore:group()
  self:_writable()
  local g = chain.Store.group(setmetatable({ db = self.db, format = self.format,
    tip_height = self.tip_height, tip_hash = self.tip_hash, base = self.base,
    total_supply = self.total_supply, ntxs = self.ntxs, nutxos = self.nutxos,
    relaxed = self.relaxed, mode = "read_write" }, { __index = chain.Store }))
  g.store = self
  return setmetatable(g, LGroup)
end

function LGroup:_lookup_hash(_, hash)
  if hash == "" then return nil end
  return self.store.layout.find_hash(self.store.db, hash)
end
function LGroup:_lookup_tx(id)
  local find = self.store.layout.find_tx
  if not find then return nil end
  local t = find(self.store.db, id)
  return t and { t.height, t.index, t.outputs } or nil
end
function LGroup:_output_key(id, n) return n .. ":" .. id end
function LGroup:_lookup_output(_, rid, n)
  local a = self.store.layout.find_output(self.store.db, rid, n)
  if a == nil then return nil end
  return amount_of(a)
end

-- The block into the layout's batch: the record (the model renamed back) and what the engine
-- derived (docs/formats.md).
function LGroup:_stage(model, h, first, hash, hk, linked, infos, spent)
  local store = self.store
  -- the block's model fields, kept before the record takes its own names back (the same table)
  local view = { index = h, hash = hash, previous_hash = model.previous_hash }
  local record = formats.encode(self.format, model)
  local txs = {}
  for t, info in ipairs(infos) do
    local spends = {}
    for i, ref in ipairs(info.refs or {}) do spends[i] = { tx_id = ref[7], n = ref[3], amount = ref[4] } end
    local outputs = {}
    for o = 1, info.nout do
      outputs[o] = { n = o - 1, amount = info.amounts[o], spendable = not info.spendable or info.spendable[o] }
    end
    txs[t] = { id = info.id, coinbase = info.coinbase and not info.refs, spends = spends, outputs = outputs }
  end
  store.layout.stage(store.db, self.batch, record, view, { height = h, hash_indexed = hk ~= nil,
    hash = hash, txs = txs })
  if hk then self.hashes[hk] = h end
  if first then self.base = h end
  self.first_height = self.first_height or h
  self.tip, self.tip_hash = h, hash
  self.n = self.n + 1
  self.bytes = self.bytes + 256 * (#infos + 1)
  -- the group's overlay needs the model names again for nothing: the record stays renamed
end

local function counts_json(c)
  local t = {}
  for k, v in pairs(c) do t[k] = amount_json(v) end
  return t
end

-- group:commit([extra]) -> tip: the group's batch with the engine's state (layout.stage_state),
-- in one atomic write. extra: migrate (the progress marker, or false), source_format, header.
function LGroup:commit(extra)
  if self.failed then error("quarry.chain: a block of this group was refused: discard the group", 2) end
  if self.done then error("quarry.chain: the group is already committed", 2) end
  local store = self.store
  extra = extra or {}
  local prev = store.state or {}
  local state = {
    format = self.format.name, layout = store.layout.name,
    base = self.base, tip = self.tip, tip_hash = self.tip_hash,
    txs = self.ntxs, utxos = self.nutxos, supply = amount_json(self.supply),
    relaxed = counts_json(self.relaxed),
    source_format = extra.source_format or prev.source_format,
    header = prev.header,
  }
  if extra.header then state.header = require("quarry.chain.codec").decode_value(extra.header) end
  if extra.migrate then state.marker = extra.migrate elseif extra.migrate == nil then state.marker = prev.marker end
  store.layout.stage_state(store.db, self.batch, state)
  store.db:write(self.batch, { sync = store.sync })
  self.done = true
  self.batch:close()
  store.state = state
  store.tip_height, store.tip_hash, store.base = self.tip, self.tip_hash, self.base
  store.total_supply, store.ntxs, store.nutxos = self.supply, self.ntxs, self.nutxos
  store.relaxed = self.relaxed
  return self.tip
end

---------------------------------------------------------------------------------------------------
-- Reading a layout's database as a source of records (--from-db DIR --from-layout NAME)
---------------------------------------------------------------------------------------------------

-- layout.source(path, layout, format) -> a reader (next, each, offset, compressed_offset, format,
-- header, size, close) of the records of a layout's database, in height order, opened read-only.
function M.source(path, layout, format)
  if type(layout) ~= "table" then layout = M.load(layout) end
  local db
  if layout.chain_store then
    local store = chain.open_reader(path)
    local fmt = store.format
    local it = store:blocks()
    local n = 0
    local r = { store = store }
    function r:next()
      local h, b = it()
      if h == nil then return nil end
      n = n + 1
      return formats.encode(fmt, b)
    end
    function r:offset() return n end
    function r:compressed_offset() return n end
    function r:format() return "array" end
    function r:header() return nil end
    function r:close() if store then store:close(); store = nil end end
    function r:each() return r.next, r, nil, setmetatable({}, { __close = function() r:close() end }) end
    r.total = store.tip_height and (store.tip_height - store.base + 1) or 0
    return r, fmt
  end
  db = quarry.open(path, { mode = "read_only", create_if_missing = false })
  local holds = layout.detect(db)
  if not holds then
    db:close()
    fail("%s holds no %s data (--from-layout %s)", path, layout.name, layout.name)
  end
  local n = 0
  local st = layout.state(db)
  local it = layout.blocks and layout.blocks(db) or nil
  local h = -1
  local r = {}
  function r:next()
    if not db then return nil end
    local rec
    if it then
      local _, x = it()
      rec = x
    else
      h = h + 1
      rec = layout.read(db, h)
    end
    if rec == nil then return nil end
    n = n + 1
    return rec
  end
  function r:offset() return n end
  function r:compressed_offset() return n end
  function r:format() return "array" end
  function r:header() return nil end
  function r:close() if db then db:close(); db = nil end end
  function r:each() return r.next, r, nil, setmetatable({}, { __close = function() r:close() end }) end
  r.total = st and st.tip and st.base and (st.tip - st.base + 1) or nil
  -- the format: the one asked for, else the one the store records, else the layout's first
  if format then return r, type(format) == "table" and format or formats.load(format) end
  local name = st and st.format or (layout.formats or { formats.DEFAULT })[1]
  local okf, fmt = pcall(formats.load, name)
  if not okf then
    r:close()
    fail("%s holds blocks of format %q: give its file (--format FILE.lua)", path, name)
  end
  return r, fmt
end

---------------------------------------------------------------------------------------------------
-- Verification of a layout's store: decode every block back, replay it through the chain
-- store's engine in a scratch directory, and compare the layout's state and UTXO entries with the
-- replay (and every block with the source).
---------------------------------------------------------------------------------------------------

M.CHECKS = {
  { "blocks", "every block decodes back from the layout's bytes" },
  { "chain", "the blocks read back pass every check of the chain engine (heights, links, spends, amounts)" },
  { "state", "the layout's recorded tip, counts and supply equal the replay" },
  { "utxo", "the layout's unspent outputs equal the replay's" },
}

local function scratch_dir()
  local ok, dir = pcall(require("quarry.sys").mkdtemp, "quarry-verify") -- new, mode 0700
  if not ok then fail("cannot create a scratch directory: " .. tostring(dir.message or dir)) end
  return dir
end

-- layout.verify(store [, options]) -> report shaped as quarry.chain.verify's.
-- options: source (a reader of the dump in the store's format), progress(height, tip).
function M.verify(store, options)
  options = options or {}
  local verify = require("quarry.chain.verify")
  local r = { checks = {}, order = {}, ok = true }
  for _, c in ipairs(M.CHECKS) do
    r.checks[c[1]] = { name = c[1], what = c[2], ok = true, failures = 0, first = {} }
    r.order[#r.order + 1] = c[1]
  end
  local function failc(name, fmt, ...)
    local c = r.checks[name]
    c.ok, r.ok = false, false
    c.failures = c.failures + 1
    if #c.first < 5 then c.first[#c.first + 1] = fmt:format(...) end
  end
  if options.source then
    r.checks.source = { name = "source", what = "every block equals the source exactly", ok = true, failures = 0, first = {} }
    r.order[#r.order + 1] = "source"
  end
  local dir = scratch_dir()
  local replay = chain.open(dir .. "/replay", { format = store.format, sync = false })
  local fmt = store.format
  local ok, err = pcall(function()
    local g = replay:group()
    local n = 0
    for h = store.base or 0, store.tip_height or -1 do
      local okr, rec = pcall(store.layout.read, store.db, h)
      if not okr or rec == nil then
        failc("blocks", "block %d: %s", h, okr and "missing" or tostring(rec))
        break
      end
      local src_text
      if options.source then
        local src = options.source:next()
        if src == nil then
          failc("source", "block %d: the source has no more blocks", h)
          options.source = nil
        elseif options.source.compare_block then -- digests of what a stream gave (migrate)
          local diff = options.source:compare_block(src, rec)
          if diff then failc("source", "block %d: %s", h, diff) end
        else
          local diff = verify.compare(src, rec)
          if diff then failc("source", "block %d: %s", h, diff) end
        end
      end
      local model = formats.decode(fmt, rec, "block " .. h)
      local oka, e = pcall(g.add, g, model)
      if not oka then
        failc("chain", "%s", tostring(e))
        g:discard()
        return
      end
      n = n + 1
      if g:count() >= 1000 then
        g:commit()
        g = replay:group()
      end
      if options.progress and n % 1000 == 0 then options.progress(h, store.tip_height) end
      local _ = src_text
    end
    g:commit()
    if options.source then
      local extra = options.source:next()
      if extra ~= nil then failc("source", "the source has more blocks than the store") end
    end
  end)
  if not ok then failc("chain", "%s", tostring(err)) end
  -- The layout's state against the replay.
  local st = replay:stats()
  local function same(name, a, b)
    if u256.cmp(a or 0, b or 0) ~= 0 then
      failc("state", "%s: the layout records %s, the replay gives %s", name, tostring(a), tostring(b))
    end
  end
  if store.tip_height ~= st.tip then
    failc("state", "tip: the layout records %s, the replay gives %s", tostring(store.tip_height), tostring(st.tip))
  end
  same("transactions", store.ntxs, st.txs)
  same("unspent outputs", store.nutxos, st.utxos)
  same("supply", store.total_supply, st.supply)
  -- The layout's UTXO entries against the replay's.
  if store.layout.utxos then
    local count = 0
    for tx_id, n, amount in store.layout.utxos(store.db) do
      count = count + 1
      local _, a = replay:utxo(tx_id, n)
      if a == nil then
        failc("utxo", "%s:%d is unspent in the layout, not in the replay", tx_id, n)
      elseif u256.cmp(amount_of(amount), a) ~= 0 then
        failc("utxo", "%s:%d: the layout says %s, the replay %s", tx_id, n, tostring(amount), tostring(a))
      end
    end
    if count ~= st.utxos then
      failc("utxo", "the layout holds %d unspent outputs, the replay %d", count, st.utxos)
    end
  end
  r.summary = { base = st.base, tip = st.tip, tip_hash = st.tip_hash, blocks = st.blocks,
    txs = st.txs, utxos = st.utxos, supply = st.supply }
  r.relaxed = replay:relaxed_counts()
  r.format = fmt.name
  r.layout = store.layout.name
  replay:close()
  os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'")
  return r
end

function LStore:verify(options) return M.verify(self, options) end
function LStore:digest() fail("digest: the %s layout has no digest (use verify)", self.layout.name) end

local _ = json
return M

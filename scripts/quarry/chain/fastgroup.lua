-- quarry.chain.fastgroup: groups of a migration into the chain store through the C hot path
-- (quarry.chain.fast, docs/chain-fast.md), with the interface of quarry.chain's Group (add,
-- count, size, tip, commit, discard) so that quarry.chain.migrate drives both the same way.
-- A block the C path does not take (a refusal, or a value beyond what it covers) voids the C
-- group; its blocks are then replayed through Group:add, which raises the refusal with its own
-- message (or takes the block), and the rest of that group goes through Lua.
local M = {}

-- The environment variable that forces the Lua path (the specs compare both).
M.ENV = "QUARRY_MIGRATE_PATH"

-- fastgroup.path(fmt, layout [, forced]) -> "c" or "lua": which path a migration of format fmt
-- into layout takes. forced ("lua" or "c", else QUARRY_MIGRATE_PATH) "lua" forces Lua; the C
-- path is taken only where it applies (a format declared as data into the chain store).
function M.path(fmt, layout, forced)
  forced = forced or os.getenv(M.ENV)
  if forced == "lua" then return "lua" end
  if forced ~= nil and forced ~= "" and forced ~= "c" then
    error(("%s=%s (or migrate option path): give lua or c"):format(M.ENV, forced), 0)
  end
  if not (layout == nil or layout.chain_store) or not fmt.fast_rules then return "lua" end
  local ok = pcall(require, "quarry.chain.fast")
  return ok and "c" or "lua"
end

local Runner = {}
Runner.__index = Runner

-- The store's fields a C commit changes, and putting them back.
local FIELDS = { "tip_height", "tip_hash", "base", "total_supply", "ntxs", "nutxos", "relaxed" }
local function snapshot(store)
  local t = {}
  for _, k in ipairs(FIELDS) do t[k] = store[k] end
  return t
end
local function restore(store, t)
  for _, k in ipairs(FIELDS) do store[k] = t[k] end
end

-- Calls m[method](m, ...): a write error of the group being written (raised by the next call)
-- puts the store's fields back to what is written (the state before that group).
local function call(r, method, ...)
  local ok, err = pcall(r.m[method], r.m, ...)
  if not ok then
    if r.before then restore(r.store, r.before) end
    r.before = nil
    error(err, 0)
  end
  return err
end


-- fastgroup.open(store, fmt [, reread]) -> runner: runner:group() gives groups; runner:close()
-- waits for the last write (raises its error) and frees the C state. The store must stay open
-- until then. reread(first, last) -> the models of records first..last of the source read again
-- (a file can be): a group then keeps none of its blocks for a replay; without it (a stream) the
-- group keeps them. The caller sets runner.record to the number of the record it adds.
function M.open(store, fmt, reread)
  local fast = require("quarry.chain.fast")
  local rules = {}
  for k, v in pairs(fmt.fast_rules) do rules[k] = v end
  rules.sync = store.sync
  local m = fast.new(store.db, store.cf, rules)
  return setmetatable({ store = store, m = m, fresh = true, blocks = 0, replayed = 0,
    reread = reread, record = 0 }, Runner)
end

local Group = {}
Group.__index = Group

local u256 = require("quarry.u256")

-- Amounts cross as Lua integers below 2^63, else as decimal text (quarry.u256 values in Lua).
local function text_of(v) return math.type(v) == "integer" and v or tostring(v) end
local function amount_of(v) return type(v) == "string" and u256.norm(u256.new(v)) or v end

local function store_state(store)
  local relaxed = {}
  for k, v in pairs(store.relaxed) do relaxed[k] = v end
  relaxed.unspendable_amount = text_of(relaxed.unspendable_amount)
  return { tip = store.tip_height, tip_hash = store.tip_hash, base = store.base,
    supply = text_of(store.total_supply), ntxs = store.ntxs, nutxos = store.nutxos,
    relaxed = relaxed, empty = store.tip_height == nil }
end

function Runner:group()
  local g = setmetatable({ runner = self, kept = not self.reread and {} or nil,
    tip = self.store.tip_height }, Group)
  if self.fresh then
    -- the C group continues from the store's state (after a Lua group, or at the start)
    self.fresh = false
    if not call(self, "begin", store_state(self.store)) then g.lua = self.store:group() end
  end
  if g.lua then self.fresh = true end
  return g
end

-- runner:wait(): returns once every committed group is written (raises a write error).
function Runner:wait()
  if self.m then call(self, "wait") end
end

function Runner:close()
  if self.m then
    local m = self.m
    local ok, err = pcall(m.close, m)
    self.m = nil
    if not ok then
      if self.before then restore(self.store, self.before) end
      error(err, 0)
    end
  end
end

-- Replays the blocks of the group before block (kept, or read again) and block through
-- Group:add.
local function to_lua(g, block)
  local r = g.runner
  call(r, "discard")
  r.fresh = true
  local lg = r.store:group()
  g.lua = lg
  local n = 0
  if g.kept then
    for i = 1, #g.kept do lg:add(g.kept[i]) end
    n = #g.kept
  elseif g.first_record and g.first_record < r.record then
    for model in r.reread(g.first_record, r.record - 1) do
      lg:add(model)
      n = n + 1
    end
  end
  r.replayed = r.replayed + n + 1
  g.kept = nil
  return lg:add(block)
end

-- g:add(block) -> height, like Group:add (its errors, its refusals).
function Group:add(block)
  if self.lua then
    local h = self.lua:add(block)
    self.tip = self.lua.tip
    return h
  end
  if self.runner.m:add(block) then
    local kept = self.kept
    if kept then kept[#kept + 1] = block end
    self.first_record = self.first_record or self.runner.record
    self.runner.blocks = self.runner.blocks + 1
    local h = rawget(block, "index")
    self.tip = h
    return h
  end
  local h = to_lua(self, block)
  self.tip = self.lua.tip
  return h
end

function Group:count()
  if self.lua then return self.lua:count() end
  return self.runner.m:count()
end

function Group:size()
  if self.lua then return self.lua:size() end
  return self.runner.m:size()
end

-- g:commit(extra): the group's batch to the writer thread (the group that removes the progress
-- marker, extra.migrate == false, waits for its write); the store's state follows.
function Group:commit(extra)
  if self.lua then return self.lua:commit(extra) end
  local r, store = self.runner, self.runner.store
  for k in pairs(extra or {}) do
    if require("quarry.chain").META_KEYS[k] then error("quarry.chain: meta key " .. k .. " is reserved", 2) end
  end
  local n = r.m:count()
  local before = snapshot(store)
  call(r, "commit", extra, extra ~= nil and extra.migrate == false)
  r.before = before -- what is written while this group's write is under way
  self.kept = nil
  if n > 0 then
    local st = r.m:state()
    store.tip_height, store.tip_hash, store.base = st.tip, st.tip_hash, st.base
    store.total_supply, store.ntxs, store.nutxos = amount_of(st.supply), st.ntxs, st.nutxos
    st.relaxed.unspendable_amount = amount_of(st.relaxed.unspendable_amount)
    store.relaxed = st.relaxed
  end
  return store.tip_height
end

function Group:discard()
  if self.lua then return self.lua:discard() end
  self.kept = nil
  self.runner.fresh = true
  call(self.runner, "discard")
end

return M

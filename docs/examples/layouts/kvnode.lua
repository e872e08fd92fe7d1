-- kvnode.lua: a store layout for "kvnode", a small made-up node (docs/formats.md, "Writing your own
-- layout"). kvnode keeps everything in the default column family, as text a person can read:
--
--   b/<height: 8 bytes big-endian>  the block record, compact JSON (so any format's record fits)
--   h/<hash>                        the block's height, decimal (blocks whose hash is indexed)
--   u/<tx_id>/<n>                   the amount of each spendable unspent output, decimal;
--                                   deleted when the output is spent
--   tip                             the tip's height, decimal
--   quarry/state                    the migration engine's state, JSON (kvnode never reads it)
--
-- Use it with `quarry migrate|verify|export --layout docs/examples/layouts/kvnode.lua` and
-- `quarry migrate --from-db DIR --from-layout docs/examples/layouts/kvnode.lua`.
local quarry = require("quarry")
local json = require("quarry.json")
local u256 = require("quarry.u256")

local M = {
  name = "kvnode",
  summary = "kvnode's keys: b/<be64 height> -> block JSON, h/<hash>, u/<tx_id>/<n> -> amount, tip",
  families = { "default" },
  -- no `formats`: a record of any format is stored as its JSON text
}

local STATE_KEY = "quarry/state"

local function block_key(height) return "b/" .. quarry.be64(height) end   -- sorts by height
local function utxo_key(tx_id, n) return "u/" .. tx_id .. "/" .. n end

-- An amount (a Lua integer, a quarry.u256, a json.number or decimal text) as decimal text, and
-- back: the amount convention (docs/amounts.md), a Lua integer when it fits in 63 bits.
local function decimal(a)
  if math.type(a) == "integer" then return string.format("%d", a) end
  if getmetatable(a) == json.number_mt then return a.text end
  return tostring(a)                                  -- a quarry.u256, or text already
end
local function amount(text, key)
  if type(text) ~= "string" or not text:match("^%d+$") then
    error(("kvnode: %s: %q is not a decimal amount"):format(key, tostring(text)), 0)
  end
  return u256.norm(u256.new(text))
end

-- detect(db) -> holds, description: does the database hold kvnode's data at all? The engine asks
-- when there is no engine state (a database kvnode wrote itself, which migrate refuses to
-- overwrite, and which --from-db accepts as a source).
function M.detect(db)
  local tip = db:get("tip")
  local first = db:seek("b/", { prefix = "b/", keys_only = true })
  if tip == nil and first == nil then return false, nil end
  return true, ("%s holds kvnode blocks (tip %s)"):format(db:path(), tip or "absent")
end

-- state(db) -> nil (nothing migrated yet) or the table stage_state wrote, its amounts read back.
function M.state(db)
  local text = db:get(STATE_KEY)
  if text == nil then return nil end
  local st = json.decode(text)
  st.supply = amount(st.supply, STATE_KEY .. " supply")
  for k, v in pairs(st.relaxed or {}) do st.relaxed[k] = amount(v, STATE_KEY .. " relaxed." .. k) end
  return st
end

-- stage_state(db, batch, state): the engine's state, in the same batch as the blocks of its group
-- (so blocks and state commit together). state = { base, tip, tip_hash, txs, utxos, supply,
-- relaxed, marker, format, layout, source_format, header }: counts are Lua integers; supply and
-- the relaxed counts are amounts, written as decimal text (JSON has no 256-bit integers).
function M.stage_state(db, batch, state)
  if state == nil then return batch:delete(STATE_KEY) end
  local t = {}
  for k, v in pairs(state) do t[k] = v end             -- a copy: the engine keeps its table
  t.supply = decimal(state.supply)
  t.relaxed = {}
  for k, v in pairs(state.relaxed or {}) do t.relaxed[k] = decimal(v) end
  batch:put(STATE_KEY, json.encode(t))
end

-- find_output(db, tx_id, n) -> the amount of unspent output n of tx_id, or nil (missing or spent).
-- The engine checks every input with it (the outputs of the current group it tracks itself).
function M.find_output(db, tx_id, n)
  local key = utxo_key(tx_id, n)
  local v = db:get(key)
  return v and amount(v, key)
end

-- find_hash(db, hash) -> the height of the block with that hash, or nil: the engine refuses a
-- block whose hash is already in the chain.
function M.find_hash(db, hash)
  local v = db:get("h/" .. hash)
  return v and math.tointeger(tonumber(v))
end

-- find_tx is optional and kvnode has no transaction index: without it the engine checks spends
-- with find_output alone (a repeated transaction id in a later group is caught by `verify`).

-- stage(db, batch, record, model, info): one block the engine accepted, into the group's batch.
-- record: the block in its format's own shape; model: the block's fields under the engine's
-- names (index, hash, previous_hash), whatever the format calls them; info = { height, hash, hash_indexed, txs = { { id,
-- coinbase, spends = { { tx_id, n, amount } }, outputs = { { n, amount, spendable } } } } }.
function M.stage(db, batch, record, model, info)
  local h = info.height
  batch:put(block_key(h), json.encode(record))
  if info.hash_indexed then                           -- not for a relaxed format's "" or repeats
    batch:put("h/" .. model.hash, tostring(h))
  end
  for _, tx in ipairs(info.txs) do
    -- in block order: an output created and spent in the same group is put, then deleted
    for _, s in ipairs(tx.spends) do batch:delete(utxo_key(s.tx_id, s.n)) end
    for _, o in ipairs(tx.outputs) do
      if o.spendable then batch:put(utxo_key(tx.id, o.n), decimal(o.amount)) end
    end
  end
  batch:put("tip", tostring(h))
end

-- read(db, height) -> the record of that height, exactly as staged, or nil.
function M.read(db, height)
  local v = db:get(block_key(height))
  return v and json.decode(v)
end

-- blocks(db [, from [, to]]): for h, record in blocks(db) do ... end, in height order from the
-- first block (or `from`) to the tip (or `to`), ending at the first missing one. --from-db reads
-- kvnode's database with it.
function M.blocks(db, from, to)
  if from == nil then
    local first = db:seek("b/", { prefix = "b/", keys_only = true })
    from = first and string.unpack(">I8", first, 3) or 0
  end
  to = to or math.tointeger(tonumber(db:get("tip") or "-1"))
  local h = from - 1
  return function()
    h = h + 1
    if h > to then return nil end
    local record = M.read(db, h)
    if record == nil then return nil end
    return h, record
  end
end

-- utxos(db): for tx_id, n, amount in utxos(db) do ... end over every u/ key: `verify` compares
-- them with a replay of the blocks.
function M.utxos(db)
  local step, it = db:pairs({ prefix = "u/" })
  return function()
    local k, v = step(it)
    if k == nil then return nil end
    local tx_id, n = k:match("^u/(.*)/(%d+)$")        -- the last "/": a tx id may hold one
    return tx_id, math.tointeger(tonumber(n)), amount(v, k)
  end, nil, nil, it                                   -- `it` closes when the loop ends
end

return M

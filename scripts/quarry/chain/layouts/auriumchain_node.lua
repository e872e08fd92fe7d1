-- quarry.chain.layouts.auriumchain_node: a store an AuriumChain node opens with --rocksdb-path:
-- its keys in the default family, blocks as bincode 1 of its Block struct, in pure Lua.
--
-- What it is built on (Hicham60290/Auriumchain, read, not copied; commits in docs/auriumchain.md):
--   src/storage/db.rs:13-24     DB::open(&opts, path): the default column family only
--   src/storage/db.rs:27-40     save_block: "block:{index}" -> bincode::serialize(block),
--                               "latest_index" -> index as decimal text, "hash:{hash}" -> index
--   src/storage/db.rs           save_utxo / remove_utxo / get_utxo: "utxo:{tx_id}:{output_index}"
--                               -> "{value}:{address}"; get_utxos_for_address walks "utxo:" keys
--                               and stops at the first key without that prefix
--   src/blockchain/block.rs:6-39  the struct field order and types that bincode follows
--   Cargo.toml                  bincode = "1.3": bincode::serialize is the fixed-width
--                               little-endian encoding, u64 lengths before strings and vectors
--                               (usize is written as a u64)
--   src/bin/migrate_to_rocksdb.rs  the node's own JSON -> RocksDB tool: save_blockchain, then a
--                               utxo key for every output (spent or not)
--
-- Keys it writes (all in the default family):
--   block:{index}          bincode of Block
--   hash:{hash}            index (decimal text), for blocks whose hash the engine indexes
--                          (non-empty, first occurrence)
--   latest_index           the tip's index (decimal text)
--   utxo:{tx_id}:{n}       "{value}:{address}" for each unspent output; deleted when spent
--   quarry:meta:state      the engine's progress (JSON): the node never reads it: it reads only
--                          exact keys and iterates from "utxo:" until the prefix ends, and
--                          "quarry:" sorts before "utxo:"
local json = require("quarry.json")

local pack, unpack, mtype, fmt = string.pack, string.unpack, math.type, string.format
local number_mt = json.number_mt

local M = {
  name = "auriumchain-node",
  summary = "the keys an AuriumChain node reads (--rocksdb-path): block:N as bincode, hash:, latest_index, utxo:",
  families = { "default" },
  formats = { "auriumchain" },
}

local STATE_KEY = "quarry:meta:state"
M.STATE_KEY = STATE_KEY

-- ---- the structs (block.rs:6-39), as data: member name and bincode type ---------------------

local TX_OUTPUT = { name = "TxOutput", { "value", "u64" }, { "address", "string" } }
local TX_INPUT = { name = "TxInput", { "prev_tx_id", "string" }, { "output_index", "u64" },
  { "signature", "string" }, { "public_key", "string" } }
local TRANSACTION = { name = "Transaction", { "id", "string" }, { "inputs", TX_INPUT, vec = true },
  { "outputs", TX_OUTPUT, vec = true }, { "timestamp", "i64" }, { "signature", "string" } }
local BLOCK = { name = "Block", { "index", "u64" }, { "timestamp", "i64" },
  { "transactions", TRANSACTION, vec = true }, { "previous_hash", "string" }, { "hash", "string" },
  { "nonce", "u64" }, { "difficulty", "u32" }, { "miner_address", "string" },
  { "merkle_root", "string" } }
M.STRUCTS = { Block = BLOCK, Transaction = TRANSACTION, TxInput = TX_INPUT, TxOutput = TX_OUTPUT }

-- ---- u64 values: Lua integers below 2^63, json.number (decimal text) above -----------------

local U64_MAX = "18446744073709551615"

--- The unsigned decimal text of the 64-bit pattern n.
local function udec(n)
  if n >= 0 then return fmt("%d", n) end
  local q = (n >> 1) // 5          -- n as unsigned, divided by 10 (the shift makes it non-negative)
  return fmt("%d%d", q, n - q * 10)
end
M.udec = udec

--- The 64-bit pattern of the decimal text s (digits only, at most 2^64-1), or nil.
local function parse_u64(s)
  if not s:match("^%d+$") or (#s > 1 and s:sub(1, 1) == "0") then return nil end
  if #s > #U64_MAX or (#s == #U64_MAX and s > U64_MAX) then return nil end
  local n = 0
  for i = 1, #s do n = n * 10 + (s:byte(i) - 48) end   -- wraps modulo 2^64: the bit pattern
  return n
end
M.parse_u64 = parse_u64

--- The value of u64 text for callers: a Lua integer when below 2^63, else a json.number.
local function u64_value(n)
  if n >= 0 then return n end
  return json.number(udec(n))
end

-- ---- encoding -----------------------------------------------------------------------------

-- Errors name the block, the transaction and the member: "block 7, transaction ab12: outputs[2]
-- .value: 18446744073709551616 is beyond u64 (bincode cannot hold it)".
local function refuse(ctx, path, what)
  local where = "block " .. tostring(ctx.block)
  if ctx.tx ~= nil then where = where .. ", transaction " .. tostring(ctx.tx) end
  error(("auriumchain-node: %s: %s: %s (bincode cannot hold it)"):format(where, path, what), 0)
end

local function shown(v)
  if type(v) == "table" and getmetatable(v) == number_mt then return v.text end
  if type(v) == "string" then return fmt("%q", #v > 40 and v:sub(1, 40) .. "..." or v) end
  return tostring(v)
end

local function int_bytes(ctx, path, kind, v)
  local n
  if mtype(v) == "integer" then
    n = v
    if kind ~= "i64" and n < 0 then refuse(ctx, path, shown(v) .. " is negative, " .. kind .. " expected") end
  elseif type(v) == "table" and getmetatable(v) == number_mt then
    if kind == "i64" then refuse(ctx, path, v.text .. " is not an i64 integer") end
    n = parse_u64(v.text)
    if n == nil then
      if v.text:match("^%d+$") then refuse(ctx, path, v.text .. " is beyond u64") end
      refuse(ctx, path, v.text .. " is not a " .. kind .. " integer")
    end
  elseif mtype(v) == "float" then
    refuse(ctx, path, shown(v) .. " is a float, " .. kind .. " expected")
  else
    refuse(ctx, path, json.type(v) and (json.type(v) .. " " .. shown(v) .. ", " .. kind .. " expected")
      or ("a " .. type(v) .. ", " .. kind .. " expected"))
  end
  if kind == "u32" then
    if n > 0xFFFFFFFF or n < 0 then refuse(ctx, path, udec(n) .. " is beyond u32") end
    return pack("<I4", n)
  end
  return pack("<i8", n)
end

local function is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return mt == json.array_mt or (mt == nil and next(v) == nil)
end

local encode_struct

local function encode_value(out, ctx, path, ty, v, vec)
  if vec then
    if not is_array(v) then refuse(ctx, path, "a " .. (json.type(v) or type(v)) .. ", an array expected") end
    local n = #v
    out[#out + 1] = pack("<I8", n)
    for i = 1, n do encode_value(out, ctx, path .. "[" .. i .. "]", ty, v[i], false) end
  elseif type(ty) == "table" then
    encode_struct(out, ctx, path, ty, v)
  elseif ty == "string" then
    if type(v) ~= "string" then
      refuse(ctx, path, (json.type(v) or type(v)) .. " " .. shown(v) .. ", a string expected")
    end
    if not utf8.len(v) then refuse(ctx, path, "a string that is not UTF-8 (a Rust String must be)") end
    out[#out + 1] = pack("<s8", v)
  else
    out[#out + 1] = int_bytes(ctx, path, ty, v)
  end
end

-- A struct: exactly its members, in its order (bincode keeps neither names nor order: a record
-- with other members, or the same in another order, would not come back as it was).
function encode_struct(out, ctx, path, st, v)
  local prefix = path == "" and "" or path .. "."
  if json.type(v) ~= "object" or getmetatable(v) == number_mt then
    refuse(ctx, path == "" and st.name or path, (json.type(v) or type(v)) .. ", a " .. st.name .. " object expected")
  end
  local outer_tx = ctx.tx
  if st == TRANSACTION and type(v.id) == "string" then ctx.tx = v.id end
  for i = 1, #st do
    local name = st[i][1]
    if v[name] == nil then refuse(ctx, prefix .. name, "missing (" .. st.name .. " has it)") end
  end
  local keys = json.keys(v)
  if #keys ~= #st then
    local known = {}
    for i = 1, #st do known[st[i][1]] = true end
    for _, k in ipairs(keys) do
      if not known[k] then refuse(ctx, prefix .. k, "an extra member (" .. st.name .. " has no such field)") end
    end
  end
  for i = 1, getmetatable(v) == json.object_mt and #st or 0 do  -- a plain table has no order
    if keys[i] ~= st[i][1] then
      refuse(ctx, prefix .. st[i][1], "out of order: " .. st.name .. " has it at position " .. i
        .. " (the record has " .. tostring(keys[i]) .. " there)")
    end
  end
  for i = 1, #st do
    local f = st[i]
    encode_value(out, ctx, prefix .. f[1], f[2], v[f[1]], f.vec)
  end
  ctx.tx = outer_tx
end

--- encode_block(record [, height]) -> the bincode bytes of the node's Block. Raises (a string)
--- naming the block, the transaction and the member when bincode cannot hold the record.
function M.encode_block(record, height)
  local idx = height
  if idx == nil and type(record) == "table" then
    local i = record.index
    idx = (type(i) == "table" and getmetatable(i) == number_mt) and i.text or i
  end
  local ctx = { block = idx == nil and "?" or idx }
  local out = {}
  encode_struct(out, ctx, "", BLOCK, record)
  return table.concat(out)
end

-- ---- decoding -----------------------------------------------------------------------------

local function corrupt(where, what)
  error(("auriumchain-node: %s: %s"):format(where, what), 0)
end

local decode_struct

local function decode_value(s, p, ty, vec, where)
  if vec then
    if p + 7 > #s then corrupt(where, "truncated bincode (a vector length)") end
    local n
    n, p = unpack("<i8", s, p)
    if n < 0 or n > #s - p + 1 then corrupt(where, "bincode vector length " .. udec(n) .. " beyond the value") end
    local a = setmetatable({}, json.array_mt)
    for i = 1, n do a[i], p = decode_value(s, p, ty, false, where) end
    return a, p
  elseif type(ty) == "table" then
    return decode_struct(s, p, ty, where)
  end
  local size = ty == "u32" and 4 or 8
  if p + size - 1 > #s then corrupt(where, "truncated bincode (a " .. ty .. ")") end
  if ty == "string" then
    local n = unpack("<i8", s, p)
    if n < 0 or n > #s - p - 7 then corrupt(where, "truncated bincode (a string of " .. udec(n) .. " bytes)") end
    local v = s:sub(p + 8, p + 7 + n)
    return v, p + 8 + n
  elseif ty == "u32" then
    return unpack("<I4", s, p)
  elseif ty == "i64" then
    return unpack("<i8", s, p)
  end
  local n
  n, p = unpack("<i8", s, p)
  return u64_value(n), p
end

function decode_struct(s, p, st, where)
  local o = setmetatable({}, json.object_mt)
  for i = 1, #st do
    local f = st[i]
    o[i] = f[1]
    o[f[1]], p = decode_value(s, p, f[2], f.vec, where)
  end
  return o, p
end

--- decode_block(bytes [, where]) -> the record: a quarry.json object with the members in struct
--- order, integers as Lua integers (u64 values from 2^63 as json.number with their decimal text).
function M.decode_block(s, where)
  where = where or "block"
  local o, p = decode_struct(s, 1, BLOCK, where)
  if p ~= #s + 1 then corrupt(where, (#s - p + 1) .. " bytes after the Block") end
  return o
end

-- ---- the layout functions -----------------------------------------------------------------

local function count_prefix(db, prefix)
  local n = 0
  for _ in db:pairs({ prefix = prefix, keys_only = true }) do n = n + 1 end
  return n
end

--- detect(db): true when the node's keys are there ("latest_index" or a "block:" key).
function M.detect(db)
  local latest = db:get("latest_index")
  local blocks = count_prefix(db, "block:")
  if latest == nil and blocks == 0 then return false, nil end
  return true, ("%s holds %d AuriumChain block%s (latest_index %s)"):format(db:path(), blocks,
    blocks == 1 and "" or "s", latest or "absent")
end

-- The state as JSON: amounts that are not Lua integers (quarry.u256, json.number) are written as
-- their decimal text, read back as Lua integers when they fit, else as json.number.
local function to_json(v)
  local t = type(v)
  if t == "table" then
    local mt = getmetatable(v)
    if mt == number_mt then return v end
    if mt == nil or mt == json.object_mt or mt == json.array_mt then
      local c = {}
      for k, x in next, v do
        if type(k) == "string" or mt == json.array_mt or mt == nil then c[k] = to_json(x) else c[k] = x end
      end
      return setmetatable(c, mt)
    end
    return json.number(tostring(v))        -- an amount type (quarry.u256): its decimal text
  elseif t == "userdata" and v ~= json.null then
    return json.number(tostring(v))
  end
  return v
end

--- state(db) -> nil (no engine state: an empty store, or one the node wrote itself) or the
--- table stage_state stored.
function M.state(db)
  local s = db:get(STATE_KEY)
  if s == nil then return nil end
  return json.decode(s)
end

--- stage_state(db, batch, state): the engine's progress, under a key the node never reads.
function M.stage_state(db, batch, state)
  if state == nil then
    batch:delete(STATE_KEY)
  else
    batch:put(STATE_KEY, json.encode(to_json(state)))
  end
end

--- find_output(db, tx_id, n) -> the amount of unspent output n of tx_id, or nil. The value is
--- "{value}:{address}" (db.rs save_utxo); the amount is a Lua integer, or a json.number from 2^63.
function M.find_output(db, tx_id, n)
  local v = db:get(("utxo:%s:%d"):format(tx_id, n))
  if v == nil then return nil end
  local text = v:match("^(%d+):")
  local bits = text and parse_u64(text)
  if bits == nil then corrupt("utxo:" .. tx_id .. ":" .. n, "value " .. fmt("%q", v) .. " is not {u64}:{address}") end
  return u64_value(bits)
end

--- find_hash(db, hash) -> the height indexed under "hash:{hash}", or nil.
function M.find_hash(db, hash)
  if hash == "" then return nil end
  local v = db:get("hash:" .. hash)
  if v == nil then return nil end
  local n = v:match("^%d+$") and math.tointeger(tonumber(v))
  if n == nil then corrupt("hash:" .. hash, "index " .. fmt("%q", v) .. " is not decimal") end
  return n
end

-- find_tx: none. The node keeps no transaction index (db.rs has only block:, hash:,
-- latest_index and utxo: keys), so the engine checks spends with find_output alone.
M.find_tx = nil

local function u64_text(v)
  if mtype(v) == "integer" then return fmt("%d", v) end
  return v.text -- a json.number encode_block accepted as u64
end

--- stage(db, batch, record, model, info): the block as the node stores it, with the UTXO keys.
function M.stage(db, batch, record, model, info)
  local h = info.height
  local bytes = M.encode_block(record, h)
  batch:put("block:" .. h, bytes)
  if info.hash_indexed and record.hash ~= "" then
    batch:put("hash:" .. record.hash, tostring(h))
  end
  batch:put("latest_index", tostring(h))
  local rtxs = record.transactions
  for t, tx in ipairs(info.txs or {}) do
    local rtx = rtxs[t]
    if not tx.coinbase then
      for _, s in ipairs(tx.spends or {}) do
        batch:delete(("utxo:%s:%d"):format(s.tx_id, s.n))
      end
    end
    for _, o in ipairs(tx.outputs or {}) do
      if o.spendable ~= false then
        local out = rtx.outputs[o.n + 1]
        local address = o.address
        if address == nil then address = out.address end
        batch:put(("utxo:%s:%d"):format(tx.id, o.n), u64_text(out.value) .. ":" .. address)
      end
    end
  end
end

--- utxos(db): for tx_id, n, amount in layout.utxos(db) do ... end over the "utxo:" keys (the
--- amount as find_output gives it).
function M.utxos(db)
  local it = db:iterator({ prefix = "utxo:" })
  it:first()
  return function()
    if not it:valid() then
      it:close()
      return nil
    end
    local k, v = it:key(), it:value()
    it:next()
    local tx_id, n = k:match("^utxo:(.*):(%d+)$")
    local text = v:match("^(%d+):")
    local bits = text and parse_u64(text)
    if not tx_id or bits == nil then corrupt(k, "not utxo:{tx_id}:{n} -> {u64}:{address}") end
    return tx_id, math.tointeger(tonumber(n)), u64_value(bits)
  end
end

--- read(db, height) -> the record decoded from "block:{height}", or nil.
function M.read(db, height)
  local s = db:get("block:" .. height)
  if s == nil then return nil end
  return M.decode_block(s, "block:" .. height)
end

--- blocks(db [, from [, to]]): for h, record in layout.blocks(db) do ... end, in height order
--- from `from` (default 0) to `to` (default latest_index), ending at the first missing block.
function M.blocks(db, from, to)
  from = from or 0
  if to == nil then
    local latest = db:get("latest_index")
    to = latest and math.tointeger(tonumber(latest)) or -1
  end
  local h = from - 1
  return function()
    h = h + 1
    if h > to then return nil end
    local r = M.read(db, h)
    if r == nil then return nil end
    return h, r
  end
end

return M

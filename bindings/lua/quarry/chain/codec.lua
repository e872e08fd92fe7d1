-- quarry.chain.codec: the byte layout of the chain store, in one place: key encodings, varints,
-- the typed generic encoding of any JSON value, and the block / undo / index value formats.
-- docs/chain-format.md describes every byte; change both together (and bump FORMAT).
local J = require("quarry.chain.jsonv")

local char, byte, sub, find = string.char, string.byte, string.sub, string.find
local pack, unpack = string.pack, string.unpack
local concat, mtype = table.concat, math.type

local M = {}

M.FORMAT = "quarry.chain/1"
M.FAMILIES = { "blocks", "hashes", "txs", "utxo", "undo", "meta" }
M.BLOCK_VERSION = 1

-- A decoding error: corrupt or foreign bytes. Callers (verify) turn it into a failed check.
local function corrupt(what, p)
  error({ corrupt = true, message = ("undecodable %s at byte %d"):format(what, p or 0) }, 0)
end
M.corrupt = corrupt

---------------------------------------------------------------------------------------------------
-- Varints
---------------------------------------------------------------------------------------------------

-- Unsigned LEB128 of a 64-bit integer (a negative Lua integer is taken as unsigned).
local function uv(n)
  if n >= 0 then
    if n < 0x80 then return char(n) end
    if n < 0x4000 then return char((n & 0x7f) | 0x80, n >> 7) end
    if n < 0x200000 then return char((n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14) end
  end
  local b, i = {}, 0
  repeat
    local low = n & 0x7f
    n = n >> 7 -- logical shift: terminates for "negative" (unsigned large) values too
    i = i + 1
    b[i] = n ~= 0 and (low | 0x80) or low
  until n == 0
  return char(table.unpack(b, 1, i))
end
M.uv = uv

-- Reads a varint at p; returns value, next position.
local function ruv(s, p)
  local b = byte(s, p)
  if not b then corrupt("varint", p) end
  if b < 0x80 then return b, p + 1 end
  local n, shift = b & 0x7f, 7
  p = p + 1
  while true do
    b = byte(s, p)
    if not b or shift > 63 then corrupt("varint", p) end
    n = n | ((b & 0x7f) << shift)
    p = p + 1
    if b < 0x80 then return n, p end
    shift = shift + 7
  end
end
M.ruv = ruv

-- Order-preserving, prefix-free variable-length unsigned integer (for keys: byte order of the
-- encoding is numeric order, and a concatenation sorts like the tuple).
local function ov(n)
  if n < 0x80 then return char(n) end
  if n < 0x4000 then return char(0x80 | (n >> 8), n & 0xff) end
  if n < 0x200000 then return char(0xC0 | (n >> 16), (n >> 8) & 0xff, n & 0xff) end
  if n < 0x10000000 then
    return char(0xE0 | (n >> 24), (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
  end
  return "\xF0" .. pack(">I8", n)
end
M.ov = ov

local function rov(s, p)
  local b = byte(s, p)
  if not b then corrupt("key", p) end
  if b < 0x80 then return b, p + 1 end
  if b < 0xC0 then
    local b2 = byte(s, p + 1) or corrupt("key", p)
    return ((b & 0x3f) << 8) | b2, p + 2
  end
  if b < 0xE0 then
    local b2, b3 = byte(s, p + 1, p + 2)
    if not b3 then corrupt("key", p) end
    return ((b & 0x1f) << 16) | (b2 << 8) | b3, p + 3
  end
  if b < 0xF0 then
    local b2, b3, b4 = byte(s, p + 1, p + 3)
    if not b4 then corrupt("key", p) end
    return ((b & 0x0f) << 24) | (b2 << 16) | (b3 << 8) | b4, p + 4
  end
  if b ~= 0xF0 or #s < p + 8 then corrupt("key", p) end
  return unpack(">I8", s, p + 1), p + 9
end
M.rov = rov

---------------------------------------------------------------------------------------------------
-- Hex
---------------------------------------------------------------------------------------------------

local TOHEX, FROMHEX = {}, {}
for i = 0, 255 do
  local c, h = char(i), ("%02x"):format(i)
  TOHEX[c], FROMHEX[h] = h, c
end

local function tohex(raw) return (raw:gsub(".", TOHEX)) end
local function fromhex(h) return (h:gsub("..", FROMHEX)) end
M.tohex, M.fromhex = tohex, fromhex

-- Lowercase, even-length hex (the only strings stored as raw bytes; anything else is kept as text).
local function is_hex(s) return #s % 2 == 0 and not find(s, "[^0-9a-f]") end
M.is_hex = is_hex

---------------------------------------------------------------------------------------------------
-- Keys
---------------------------------------------------------------------------------------------------

-- blocks / undo: 8-byte big-endian height (key order is chain order).
function M.hkey(h) return pack(">I8", h) end
function M.height_of(key)
  if #key ~= 8 then corrupt("height key", 1) end
  return (unpack(">I8", key))
end

-- hashes / txs: a hash or id string. Tag 1 + raw bytes for lowercase even-length hex, tag 0 +
-- the exact text for anything else, so every string round-trips.
function M.skey(s)
  if #s > 0 and is_hex(s) then return "\1" .. fromhex(s) end
  return "\0" .. s
end
function M.string_of_skey(k)
  local tag = byte(k, 1)
  if tag == 1 then return tohex(sub(k, 2)) end
  if tag == 0 then return sub(k, 2) end
  corrupt("hash key", 1)
end

-- utxo: the output's position (height, transaction index, output index), order-preserving.
local function ukey(h, t, n) return ov(h) .. ov(t) .. ov(n) end
M.ukey = ukey
function M.parse_ukey(k)
  local h, p = rov(k, 1)
  local t, n
  t, p = rov(k, p)
  n, p = rov(k, p)
  if p ~= #k + 1 then corrupt("utxo key", p) end
  return h, t, n
end

---------------------------------------------------------------------------------------------------
-- Index values
---------------------------------------------------------------------------------------------------

-- txs value: height, transaction index, number of outputs.
function M.txs_value(h, t, nout) return uv(h) .. uv(t) .. uv(nout) end
function M.parse_txs_value(v)
  local h, p = ruv(v, 1)
  local t, nout
  t, p = ruv(v, p)
  nout, p = ruv(v, p)
  if p ~= #v + 1 then corrupt("txs value", p) end
  return h, t, nout
end

-- hashes value: height, then the 8-byte checksum of the block value (so verify detects any
-- change of a block value that the indexes do not follow).
function M.hashes_value(h, sum) return uv(h) .. pack("<i8", sum) end
function M.parse_hashes_value(v)
  local h, p = ruv(v, 1)
  if #v ~= p + 7 then corrupt("hashes value", p) end
  return h, (unpack("<i8", v, p))
end

-- utxo value: the amount.
M.utxo_value = uv
function M.parse_utxo_value(v)
  local a, p = ruv(v, 1)
  if p ~= #v + 1 then corrupt("utxo value", p) end
  return a
end

-- 64-bit FNV-1a over the bytes of s, 8 bytes at a time (a word-wise variant: fast in Lua, and
-- enough to tell a changed value apart; not a cryptographic hash).
local FNV_PRIME = 0x100000001b3
local FNV_OFFSET = -3750763034362895579 -- 0xcbf29ce484222325
local function fnv(s, h)
  h = h or FNV_OFFSET
  local n = #s
  local p = 1
  while p + 7 <= n do
    h = (h ~ unpack("<i8", s, p)) * FNV_PRIME
    p = p + 8
  end
  while p <= n do
    h = (h ~ byte(s, p)) * FNV_PRIME
    p = p + 1
  end
  h = (h ~ n) * FNV_PRIME
  return h
end
M.fnv = fnv

---------------------------------------------------------------------------------------------------
-- The typed generic encoding of any JSON value
---------------------------------------------------------------------------------------------------

local T_NULL, T_FALSE, T_TRUE, T_UINT, T_NINT, T_FLOAT, T_NUM = 0, 1, 2, 3, 4, 5, 6
local T_STR, T_HEX, T_HEX32, T_HEX20, T_ARR, T_OBJ = 7, 8, 9, 10, 11, 12

-- Known object keys: stored as one varint instead of their text. Frozen with the format: append
-- only (a new key at the end keeps every stored value readable).
local DICT = {
  "index", "timestamp", "previous_hash", "hash", "nonce", "difficulty", "miner", "transactions",
  "id", "inputs", "outputs", "tx_id", "output_index", "address", "amount", "chain", "blocks",
  "version", "memo", "script", "sequence", "fee", "type", "data", "value", "name", "signature",
  "size", "weight", "merkle_root", "note", "extra", "time", "height", "vout", "txid", "coinbase",
  "witness", "locktime", "pubkey", "script_sig", "script_pubkey", "to", "from", "gas", "nbits",
  "bits", "target", "reward", "parent_hash", "state_root", "uncles",
}
M.DICT = DICT
local DICT_CODE = {}
for i, k in ipairs(DICT) do DICT_CODE[k] = uv((i - 1) * 2) end

local function put_key(b, n, k)
  local code = DICT_CODE[k]
  if code then
    b[n + 1] = code
    return n + 1
  end
  b[n + 1] = uv(#k * 2 + 1)
  b[n + 2] = k
  return n + 2
end

local function get_key(s, p)
  local code
  code, p = ruv(s, p)
  if code & 1 == 0 then
    local k = DICT[(code >> 1) + 1]
    if not k then corrupt("object key", p) end
    return k, p
  end
  local len = code >> 1
  local e = p + len - 1
  if e > #s then corrupt("object key", p) end
  return sub(s, p, e), e + 1
end

local put_value -- (b, n, v) -> n: appends the encoding of v to buffer b (n = last index used)

local function put_string(b, n, s)
  local len = #s
  if len > 0 and len % 2 == 0 and not find(s, "[^0-9a-f]") then
    if len == 64 then
      b[n + 1] = "\9"
    elseif len == 40 then
      b[n + 1] = "\10"
    else
      b[n + 1] = char(T_HEX) .. uv(len // 2)
    end
    b[n + 2] = fromhex(s)
    return n + 2
  end
  b[n + 1] = char(T_STR) .. uv(len)
  b[n + 2] = s
  return n + 2
end
M.put_string = put_string

local KIND = J.kind

put_value = function(b, n, v)
  local k = KIND(v)
  if k == "str" then return put_string(b, n, v) end
  if k == "int" then
    if v >= 0 then
      b[n + 1] = "\3" .. uv(v)
    else
      b[n + 1] = "\4" .. uv(-(v + 1))
    end
    return n + 1
  end
  if k == "obj" then
    local keys = J.keys(v)
    b[n + 1] = char(T_OBJ) .. uv(#keys)
    n = n + 1
    for i = 1, #keys do
      local key = keys[i]
      n = put_key(b, n, key)
      n = put_value(b, n, J.get(v, key))
    end
    return n
  end
  if k == "arr" then
    local len = J.len(v)
    b[n + 1] = char(T_ARR) .. uv(len)
    n = n + 1
    for i = 1, len do n = put_value(b, n, v[i]) end
    return n
  end
  if k == "null" then b[n + 1] = "\0"; return n + 1 end
  if k == "false" then b[n + 1] = "\1"; return n + 1 end
  if k == "true" then b[n + 1] = "\2"; return n + 1 end
  if k == "float" then b[n + 1] = "\5" .. pack("<d", v); return n + 1 end
  if k == "num" then
    local text = J.number_text(v)
    b[n + 1] = char(T_NUM) .. uv(#text)
    b[n + 2] = text
    return n + 2
  end
  error("quarry.chain: cannot encode a value of Lua type " .. type(v), 0)
end
M.put_value = put_value

local get_value
get_value = function(s, p)
  local tag = byte(s, p)
  if not tag then corrupt("value", p) end
  p = p + 1
  if tag == T_HEX32 or tag == T_HEX20 then
    local e = p + (tag == T_HEX32 and 31 or 19)
    if e > #s then corrupt("value", p) end
    return tohex(sub(s, p, e)), e + 1
  end
  if tag == T_UINT then return ruv(s, p) end
  if tag == T_STR or tag == T_HEX or tag == T_NUM then
    local len
    len, p = ruv(s, p)
    local e = p + len - 1
    if e > #s then corrupt("value", p) end
    local raw = sub(s, p, e)
    if tag == T_STR then return raw, e + 1 end
    if tag == T_HEX then return tohex(raw), e + 1 end
    return J.number(raw), e + 1
  end
  if tag == T_OBJ then
    local count
    count, p = ruv(s, p)
    local o = J.object()
    for _ = 1, count do
      local key
      key, p = get_key(s, p)
      local v
      v, p = get_value(s, p)
      J.set(o, key, v)
    end
    return o, p
  end
  if tag == T_ARR then
    local count
    count, p = ruv(s, p)
    local a = J.array()
    for i = 1, count do a[i], p = get_value(s, p) end
    return a, p
  end
  if tag == T_NULL then return J.null, p end
  if tag == T_FALSE then return false, p end
  if tag == T_TRUE then return true, p end
  if tag == T_NINT then
    local v
    v, p = ruv(s, p)
    return -v - 1, p
  end
  if tag == T_FLOAT then
    if p + 7 > #s then corrupt("value", p) end
    return (unpack("<d", s, p)), p + 8
  end
  corrupt("value tag " .. tag, p - 1)
end
M.get_value = get_value

-- Whole-value helpers (meta: the source header).
function M.encode_value(v)
  local b = {}
  local n = put_value(b, 0, v)
  return concat(b, "", 1, n)
end
function M.decode_value(s)
  local v, p = get_value(s, 1)
  if p ~= #s + 1 then corrupt("value (trailing bytes)", p) end
  return v
end

---------------------------------------------------------------------------------------------------
-- Blocks
--
-- A block value is
--   version byte (1)
--   the block hash (generic string encoding)
--   varint ntx*2 + F, F = 1 when every transaction id is 64-char lowercase hex
--   the transaction ids: ntx * 32 raw bytes when F = 1, else ntx generic strings
--   the block object (schema encoding below)
--
-- Schema encoding of an object whose expected keys are known (block, transaction, input, output):
--   varint 0, then each slot's payload, when the object has exactly the expected keys in the
--   expected order and each value has the expected type ("shaped");
--   else varint nkeys+1, then per key in the object's own order: varint i (the i-th slot, then
--   its payload) or varint 0 (then the key and its value, generic encoding). So unknown keys,
--   missing keys, other orders and values of unexpected types are all kept exactly.
-- Arrays of objects (transactions, inputs, outputs) start with varint count*2 + S, S = 1 when
-- every element is shaped (elements then carry no header).
-- Derived slots carry no payload: index (the key), previous_hash (the hash of block h-1, except
-- for the first block), hash (the header), id (the id table), tx_id and output_index (the spent
-- output's position, written before each input as varint dh = h - height, tx index, n).
---------------------------------------------------------------------------------------------------

-- Slot kinds. ok(v, c) says whether v can use the slot's compact form in context c.
local function ok_uint(v) return mtype(v) == "integer" and v >= 0 end
local function ok_true() return true end

local BLOCK_KEYS = { "index", "timestamp", "previous_hash", "hash", "nonce", "difficulty", "miner",
  "transactions" }
local TX_KEYS = { "id", "inputs", "outputs" }
local IN_KEYS = { "tx_id", "output_index" }
local OUT_KEYS = { "address", "amount" }

local function slot_index(keys)
  local t = {}
  for i, k in ipairs(keys) do t[k] = i end
  return t
end
local BLOCK_SLOT, TX_SLOT, IN_SLOT, OUT_SLOT =
  slot_index(BLOCK_KEYS), slot_index(TX_KEYS), slot_index(IN_KEYS), slot_index(OUT_KEYS)
M.BLOCK_KEYS, M.TX_KEYS, M.IN_KEYS, M.OUT_KEYS = BLOCK_KEYS, TX_KEYS, IN_KEYS, OUT_KEYS

-- Is object o shaped for the given slot keys, with acceptance function ok(slot, value)?
local function shaped(keys, expect, ok)
  local n = #expect
  if #keys ~= n then return false end
  for i = 1, n do
    if keys[i] ~= expect[i] then return false end
  end
  if ok then
    for i = 1, n do
      if not ok(i) then return false end
    end
  end
  return true
end

-- Encoders of each level. `info` is what validation computed (chain.lua): heights, refs, amounts.
-- Each returns the new buffer index.

local function put_output(b, n, out, keys, hdr)
  if hdr then
    b[n + 1] = uv(#keys + 1)
    n = n + 1
    for i = 1, #keys do
      local k = keys[i]
      local v = J.get(out, k)
      local slot = OUT_SLOT[k]
      if slot == 2 then -- amount: validated integer >= 0
        b[n + 1] = "\2" .. uv(v)
        n = n + 1
      elseif slot == 1 then
        b[n + 1] = "\1"
        n = put_value(b, n + 1, v)
      else
        b[n + 1] = "\0"
        n = put_key(b, n + 1, k)
        n = put_value(b, n, v)
      end
    end
    return n
  end
  n = put_value(b, n, J.get(out, "address"))
  b[n + 1] = uv(J.get(out, "amount"))
  return n + 1
end

local function put_input(b, n, inp, keys, hdr, ref, height)
  b[n + 1] = uv(height - ref[1]) .. uv(ref[2]) .. uv(ref[3])
  n = n + 1
  if hdr then
    b[n + 1] = uv(#keys + 1)
    n = n + 1
    for i = 1, #keys do
      local k = keys[i]
      local slot = IN_SLOT[k]
      if slot then
        b[n + 1] = slot == 1 and "\1" or "\2"
        n = n + 1
      else
        b[n + 1] = "\0"
        n = put_key(b, n + 1, k)
        n = put_value(b, n, J.get(inp, k))
      end
    end
  end
  return n
end

-- Array of objects with a per-element key list; put(b, n, elem, keys, hdr, i) encodes one.
local function put_objects(b, n, arr, expect, put)
  local len = J.len(arr)
  local keysets, all = {}, true
  for i = 1, len do
    local keys = J.keys(arr[i])
    keysets[i] = keys
    if all and not shaped(keys, expect) then all = false end
  end
  b[n + 1] = uv(len * 2 + (all and 1 or 0))
  n = n + 1
  for i = 1, len do n = put(b, n, arr[i], keysets[i], not all, i) end
  return n
end

local function put_tx(b, n, tx, keys, hdr, txinfo, height)
  local function inputs(bb, nn)
    return put_objects(bb, nn, J.get(tx, "inputs"), IN_KEYS, function(b2, n2, inp, k2, h2, i)
      return put_input(b2, n2, inp, k2, h2, txinfo.refs[i], height)
    end)
  end
  local function outputs(bb, nn)
    return put_objects(bb, nn, J.get(tx, "outputs"), OUT_KEYS, function(b2, n2, out, k2, h2)
      return put_output(b2, n2, out, k2, h2)
    end)
  end
  if not hdr then
    n = inputs(b, n)
    return outputs(b, n)
  end
  b[n + 1] = uv(#keys + 1)
  n = n + 1
  for i = 1, #keys do
    local k = keys[i]
    local slot = TX_SLOT[k]
    if slot == 1 then
      b[n + 1] = "\1"
      n = n + 1
    elseif slot == 2 then
      b[n + 1] = "\2"
      n = inputs(b, n + 1)
    elseif slot == 3 then
      b[n + 1] = "\3"
      n = outputs(b, n + 1)
    else
      b[n + 1] = "\0"
      n = put_key(b, n + 1, k)
      n = put_value(b, n, J.get(tx, k))
    end
  end
  return n
end

-- tx shaped: keys id, inputs, outputs in order (all validated: string, arrays).
-- info = { height, first (true for the chain's first block), hash, txs = { {id, refs}, ... } }
function M.encode_block(block, info)
  local b, n = {}, 0
  local height = info.height
  b[1] = char(M.BLOCK_VERSION)
  n = put_string(b, 1, info.hash)
  local txs = info.txs
  local ntx = #txs
  local fixed = true
  for i = 1, ntx do
    local id = txs[i].id
    if #id ~= 64 or find(id, "[^0-9a-f]") then fixed = false; break end
  end
  b[n + 1] = uv(ntx * 2 + (fixed and 1 or 0))
  n = n + 1
  for i = 1, ntx do
    if fixed then
      b[n + 1] = fromhex(txs[i].id)
      n = n + 1
    else
      n = put_string(b, n, txs[i].id)
    end
  end

  local keys = J.keys(block)
  local function ok(i)
    local k = BLOCK_KEYS[i]
    local v = J.get(block, k)
    if i == 2 or i == 5 or i == 6 then return ok_uint(v) end
    if i == 3 then return not info.first end
    return true
  end
  local function txs_payload(bb, nn)
    local arr = J.get(block, "transactions")
    return put_objects(bb, nn, arr, TX_KEYS, function(b2, n2, tx, k2, h2, i)
      return put_tx(b2, n2, tx, k2, h2, txs[i], height)
    end)
  end
  if shaped(keys, BLOCK_KEYS, ok) then
    b[n + 1] = "\0" .. uv(J.get(block, "timestamp"))
    n = n + 1
    b[n + 1] = uv(J.get(block, "nonce")) .. uv(J.get(block, "difficulty"))
    n = n + 1
    n = put_value(b, n, J.get(block, "miner"))
    n = txs_payload(b, n)
  else
    b[n + 1] = uv(#keys + 1)
    n = n + 1
    for i = 1, #keys do
      local k = keys[i]
      local slot = BLOCK_SLOT[k]
      local v = J.get(block, k)
      if slot and (slot == 1 or slot == 4 or slot == 7 or slot == 8 or
          ((slot == 2 or slot == 5 or slot == 6) and ok_uint(v)) or (slot == 3 and not info.first)) then
        b[n + 1] = char(slot)
        n = n + 1
        if slot == 2 or slot == 5 or slot == 6 then
          b[n + 1] = uv(v)
          n = n + 1
        elseif slot == 7 then
          n = put_value(b, n, v)
        elseif slot == 8 then
          n = txs_payload(b, n)
        end
      else
        b[n + 1] = "\0"
        n = put_key(b, n + 1, k)
        n = put_value(b, n, v)
      end
    end
  end
  return concat(b, "", 1, n)
end

-- Reads the header of a block value: hash, ntx, whether ids are fixed, position of the id table,
-- position after it.
local function block_header(v)
  if byte(v, 1) ~= M.BLOCK_VERSION then corrupt("block version", 1) end
  local hash, p = get_value(v, 2)
  if type(hash) ~= "string" then corrupt("block hash", 2) end
  local x
  x, p = ruv(v, p)
  local ntx, fixed = x >> 1, x & 1 == 1
  return hash, ntx, fixed, p
end

function M.block_hash(v)
  return (block_header(v))
end

-- The id of transaction t (0-based) of a block value.
function M.block_txid(v, t)
  local _, ntx, fixed, p = block_header(v)
  if t >= ntx then corrupt("transaction index", p) end
  if fixed then
    local s = p + 32 * t
    if s + 31 > #v then corrupt("id table", s) end
    return tohex(sub(v, s, s + 31))
  end
  local id
  for _ = 0, t do id, p = get_value(v, p) end
  return id
end

-- Decodes a block value. Returns the block (a JSON object exactly as appended) and its skeleton:
--   { hash, txs = { { id, nout, refs = { {h, t, n}, ... }, amounts = { ... } }, ... } }
-- prev_hash: the previous block's hash (nil for the chain's first block: then previous_hash is
-- stored); resolve(h, t) -> id of transaction t of block h (for refs to earlier blocks).
-- With want_json false only the skeleton is built (faster).
function M.decode_block(v, height, prev_hash, resolve, want_json)
  local hash, ntx, fixed, p = block_header(v)
  local txs = {}
  for i = 1, ntx do
    local id
    if fixed then
      if p + 31 > #v then corrupt("id table", p) end
      id = tohex(sub(v, p, p + 31))
      p = p + 32
    else
      id, p = get_value(v, p)
      if type(id) ~= "string" then corrupt("transaction id", p) end
    end
    txs[i] = { id = id, refs = {}, amounts = {}, nout = 0 }
  end
  local skel = { hash = hash, txs = txs }

  local function txid_of(dh, t)
    if dh == 0 then
      local tx = txs[t + 1]
      if not tx then corrupt("input reference", p) end
      return tx.id
    end
    if not resolve then return nil end
    return resolve(height - dh, t)
  end

  -- Reads one input (ref, then its object when hdr). Returns the input object (or nil).
  local function get_input(txi, i, hdr)
    local dh, t, n
    dh, p = ruv(v, p)
    t, p = ruv(v, p)
    n, p = ruv(v, p)
    if dh > height then corrupt("input reference", p) end
    txi.refs[i] = { height - dh, t, n }
    if not want_json then
      if hdr then
        local count
        count, p = ruv(v, p)
        for _ = 1, count - 1 do
          local slot
          slot, p = ruv(v, p)
          if slot == 0 then
            local _k
            _k, p = get_key(v, p)
            _k, p = get_value(v, p)
          elseif slot > 2 then corrupt("input slot", p) end
        end
      end
      return nil
    end
    local o = J.object()
    if not hdr then
      J.set(o, "tx_id", txid_of(dh, t))
      J.set(o, "output_index", n)
      return o
    end
    local count
    count, p = ruv(v, p)
    if count == 0 then corrupt("input header", p) end
    for _ = 1, count - 1 do
      local slot
      slot, p = ruv(v, p)
      if slot == 1 then
        J.set(o, "tx_id", txid_of(dh, t))
      elseif slot == 2 then
        J.set(o, "output_index", n)
      elseif slot == 0 then
        local k, x
        k, p = get_key(v, p)
        x, p = get_value(v, p)
        J.set(o, k, x)
      else
        corrupt("input slot", p)
      end
    end
    return o
  end

  local function get_output(txi, i, hdr)
    local o = want_json and J.object() or nil
    if not hdr then
      local addr, amount
      addr, p = get_value(v, p)
      amount, p = ruv(v, p)
      txi.amounts[i] = amount
      if o then
        J.set(o, "address", addr)
        J.set(o, "amount", amount)
      end
      return o
    end
    local count
    count, p = ruv(v, p)
    if count == 0 then corrupt("output header", p) end
    local seen_amount = false
    for _ = 1, count - 1 do
      local slot
      slot, p = ruv(v, p)
      if slot == 1 then
        local x
        x, p = get_value(v, p)
        if o then J.set(o, "address", x) end
      elseif slot == 2 then
        local a
        a, p = ruv(v, p)
        txi.amounts[i] = a
        seen_amount = true
        if o then J.set(o, "amount", a) end
      elseif slot == 0 then
        local k, x
        k, p = get_key(v, p)
        x, p = get_value(v, p)
        if o then J.set(o, k, x) end
      else
        corrupt("output slot", p)
      end
    end
    if not seen_amount then corrupt("output without amount", p) end
    return o
  end

  local function get_objects(get_one, txi)
    local x
    x, p = ruv(v, p)
    local len, all = x >> 1, x & 1 == 1
    local a = want_json and J.array() or nil
    for i = 1, len do
      local o = get_one(txi, i, not all)
      if a then a[i] = o end
    end
    return a, len
  end

  local function get_tx(i, hdr)
    local txi = txs[i]
    if not txi then corrupt("transaction count", p) end
    local o = want_json and J.object() or nil
    local ins, outs, nout
    if not hdr then
      ins = get_objects(get_input, txi)
      outs, nout = get_objects(get_output, txi)
      txi.nout = nout
      if o then
        J.set(o, "id", txi.id)
        J.set(o, "inputs", ins)
        J.set(o, "outputs", outs)
      end
      return o
    end
    local count
    count, p = ruv(v, p)
    if count == 0 then corrupt("transaction header", p) end
    for _ = 1, count - 1 do
      local slot
      slot, p = ruv(v, p)
      if slot == 1 then
        if o then J.set(o, "id", txi.id) end
      elseif slot == 2 then
        ins = get_objects(get_input, txi)
        if o then J.set(o, "inputs", ins) end
      elseif slot == 3 then
        outs, nout = get_objects(get_output, txi)
        txi.nout = nout
        if o then J.set(o, "outputs", outs) end
      elseif slot == 0 then
        local k, x
        k, p = get_key(v, p)
        x, p = get_value(v, p)
        if o then J.set(o, k, x) end
      else
        corrupt("transaction slot", p)
      end
    end
    return o
  end

  local ntx_seen
  local function get_txs()
    local x
    x, p = ruv(v, p)
    local len, all = x >> 1, x & 1 == 1
    if len ~= ntx then corrupt("transaction count", p) end
    ntx_seen = true
    local a = want_json and J.array() or nil
    for i = 1, len do
      local o = get_tx(i, not all)
      if a then a[i] = o end
    end
    return a
  end

  local block = want_json and J.object() or nil
  local function set(k, x) if block then J.set(block, k, x) end end
  local hdr
  hdr, p = ruv(v, p)
  if hdr == 0 then
    local ts, nonce, diff, miner
    ts, p = ruv(v, p)
    nonce, p = ruv(v, p)
    diff, p = ruv(v, p)
    miner, p = get_value(v, p)
    if not prev_hash then corrupt("first block without previous_hash", p) end
    set("index", height)
    set("timestamp", ts)
    set("previous_hash", prev_hash)
    set("hash", hash)
    set("nonce", nonce)
    set("difficulty", diff)
    set("miner", miner)
    set("transactions", get_txs())
  else
    for _ = 1, hdr - 1 do
      local slot
      slot, p = ruv(v, p)
      if slot == 0 then
        local k, x
        k, p = get_key(v, p)
        x, p = get_value(v, p)
        set(k, x)
      elseif slot == 1 then
        set("index", height)
      elseif slot == 2 or slot == 5 or slot == 6 then
        local x
        x, p = ruv(v, p)
        set(BLOCK_KEYS[slot], x)
      elseif slot == 3 then
        if not prev_hash then corrupt("first block without previous_hash", p) end
        set("previous_hash", prev_hash)
      elseif slot == 4 then
        set("hash", hash)
      elseif slot == 7 then
        local x
        x, p = get_value(v, p)
        set("miner", x)
      elseif slot == 8 then
        set("transactions", get_txs())
      else
        corrupt("block slot", p)
      end
    end
  end
  if ntx > 0 and not ntx_seen then corrupt("transactions missing", p) end
  if p ~= #v + 1 then corrupt("block value (trailing bytes)", p) end
  return block, skel
end

---------------------------------------------------------------------------------------------------
-- Undo records: what a rollback of block h restores. varint count, then per spent output in
-- input order: varint dh (= h - height of the output), tx index, output index, amount.
---------------------------------------------------------------------------------------------------

function M.encode_undo(height, spent)
  local b = { uv(#spent) }
  for i, s in ipairs(spent) do
    b[i + 1] = uv(height - s[1]) .. uv(s[2]) .. uv(s[3]) .. uv(s[4])
  end
  return concat(b)
end

function M.decode_undo(v, height)
  local count, p = ruv(v, 1)
  local spent = {}
  for i = 1, count do
    local dh, t, n, a
    dh, p = ruv(v, p)
    t, p = ruv(v, p)
    n, p = ruv(v, p)
    a, p = ruv(v, p)
    if dh > height then corrupt("undo reference", p) end
    spent[i] = { height - dh, t, n, a }
  end
  if p ~= #v + 1 then corrupt("undo record (trailing bytes)", p) end
  return spent
end

return M

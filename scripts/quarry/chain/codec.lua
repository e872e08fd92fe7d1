-- quarry.chain.codec: the byte layout of the chain store, in one place: key encodings, varints,
-- the typed generic encoding of any JSON value, and the block / undo / index value formats.
-- docs/chain-format.md describes every byte; change both together (and bump FORMAT).
local J = require("quarry.chain.jsonvalue")
local u256 = require("quarry.u256")
local core = require("quarry.bytes") -- uvarint, tohex, fromhex: the codec's byte helpers in C

local char, byte, sub, find = string.char, string.byte, string.sub, string.find
local pack, unpack = string.pack, string.unpack
local concat, mtype = table.concat, math.type

local M = {}

M.FORMAT = "quarry.chain/1"
M.FAMILIES = { "blocks", "hashes", "txs", "utxo", "undo", "meta" }
M.BLOCK_VERSION = 1

-- A decoding error: corrupt or foreign bytes. Callers (verify) turn it into a failed check.
-- A table { corrupt = true, message } printing as "quarry.chain: corrupt store: <message>".
local Corrupt = { __name = "quarry.chain.corrupt" }
Corrupt.__tostring = function(e) return "quarry.chain: corrupt store: " .. e.message end
M.Corrupt = Corrupt
local function corrupt(what, p)
  local message = p and ("undecodable %s at byte %d"):format(what, p) or what
  error(setmetatable({ corrupt = true, message = message }, Corrupt), 0)
end
M.corrupt = corrupt

---------------------------------------------------------------------------------------------------
-- Varints
---------------------------------------------------------------------------------------------------

-- Unsigned LEB128 of a 64-bit integer (a negative Lua integer is taken as unsigned): one byte
-- below 128 from a table, else quarry.uvarint.
local SMALL = {}
for i = 0, 127 do SMALL[i] = char(i) end
local c_uv = core.uvarint
local function uv(n)
  if n >= 0 and n < 0x80 then return SMALL[n] end
  return c_uv(n)
end
-- The reference spec/20 checks quarry.uvarint against: 7 bits at a time, the low ones first.
function M.lua_uv(n)
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
  local b2, b3, b4, b5 = byte(s, p + 1, p + 4)
  if b2 and b2 < 0x80 then return (b & 0x7f) | (b2 << 7), p + 2 end
  if b3 and b3 < 0x80 then return (b & 0x7f) | ((b2 & 0x7f) << 7) | (b3 << 14), p + 3 end
  if b4 and b4 < 0x80 then
    return (b & 0x7f) | ((b2 & 0x7f) << 7) | ((b3 & 0x7f) << 14) | (b4 << 21), p + 4
  end
  if b5 and b5 < 0x80 then
    return (b & 0x7f) | ((b2 & 0x7f) << 7) | ((b3 & 0x7f) << 14) | ((b4 & 0x7f) << 21) | (b5 << 28), p + 5
  end
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

-- Hex <-> bytes in C (quarry.tohex, quarry.fromhex: one call, no intermediate strings).
-- fromhex expects lowercase hex of even length (checked by the callers), or answers nil for
-- anything else when given a prefix (skey).
local c_tohex, c_fromhex = core.tohex, core.fromhex
local tohex, fromhex = c_tohex, c_fromhex
-- The 64 hex digits of the 32 bytes of s at p.
local function hex32_at(s, p) return c_tohex(s, p, p + 31) end
M.tohex, M.fromhex, M.hex32_at = tohex, fromhex, hex32_at

-- The references spec/20 checks the C ones against: a table lookup per byte.
local TOHEX, FROMHEX = {}, {}
for i = 0, 255 do
  local c, h = char(i), ("%02x"):format(i)
  TOHEX[c], FROMHEX[h] = h, c
end
function M.lua_tohex(raw) return (raw:gsub(".", TOHEX)) end
function M.lua_fromhex(h) return (h:gsub("..", FROMHEX)) end
function M.lua_hex32_at(s, p) return M.lua_tohex(sub(s, p, p + 31)) end

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
  if #s > 0 then
    local k = c_fromhex(s, "\1") -- nil unless lowercase even-length hex: the check and the bytes in one call
    if k then return k end
  end
  return "\0" .. s
end
function M.string_of_skey(k)
  local tag = byte(k, 1)
  if tag == 1 then return tohex(sub(k, 2)) end
  if tag == 0 then return sub(k, 2) end
  corrupt("hash key", 1)
end

-- utxo: the output's position (height, transaction index, output index), order-preserving.
local function ukey(h, t, n)
  if t < 0x80 and n < 0x80 then return ov(h) .. char(t, n) end -- the common case
  return ov(h) .. ov(t) .. ov(n)
end
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

-- Amounts (Lua integers below 2^63 or quarry.u256 values): unsigned LEB128 of any length up to
-- 2^256-1; below 2^63 the bytes are the 64-bit varint's.
local leb128, read_leb128 = u256.leb128, u256.read_leb128
local function amount_bytes(a)
  if mtype(a) == "integer" then return uv(a) end
  return leb128(a)
end
local function read_amount(s, p)
  local b = byte(s, p)
  if b and b < 0x80 then return b, p + 1 end
  local ok, a, q = pcall(read_leb128, s, p)
  if not ok then corrupt("amount", p) end
  return a, q
end
M.amount_bytes, M.read_amount = amount_bytes, read_amount

-- utxo value: the amount.
M.utxo_value = amount_bytes
function M.parse_utxo_value(v)
  local a, p = read_amount(v, 1)
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
  while p + 63 <= n do
    local w1, w2, w3, w4, w5, w6, w7, w8 = unpack("<i8i8i8i8i8i8i8i8", s, p)
    h = (h ~ w1) * FNV_PRIME
    h = (h ~ w2) * FNV_PRIME
    h = (h ~ w3) * FNV_PRIME
    h = (h ~ w4) * FNV_PRIME
    h = (h ~ w5) * FNV_PRIME
    h = (h ~ w6) * FNV_PRIME
    h = (h ~ w7) * FNV_PRIME
    h = (h ~ w8) * FNV_PRIME
    p = p + 64
  end
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
  if tag == T_HEX32 then
    if p + 31 > #s then corrupt("value", p) end
    return hex32_at(s, p), p + 32
  end
  if tag == T_HEX20 then
    if p + 19 > #s then corrupt("value", p) end
    return c_tohex(s, p, p + 19), p + 20
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
    local ok, num = pcall(J.number, raw)
    if not ok then corrupt("number text", p) end
    return num, e + 1
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

local function ok_uint(v) return mtype(v) == "integer" and v >= 0 end

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

local keys_of = J.keys

-- Does the key list have exactly the expected keys, in order?
local function shaped(keys, expect)
  local n = #expect
  if keys[n + 1] ~= nil then return false end
  for i = 1, n do
    if keys[i] ~= expect[i] then return false end
  end
  return true
end

-- Are all objects of arr shaped? (arr: a validated array of objects; k1..k3 the expected keys,
-- k3 nil for two)
local OBJ_MT = J.json.object_mt
local function all_shaped(arr, len, k1, k2, k3)
  for i = 1, len do
    local o = arr[i]
    if getmetatable(o) ~= OBJ_MT then o = keys_of(o) end
    if o[1] ~= k1 or o[2] ~= k2 or o[3] ~= k3 or (k3 and o[4] ~= nil) then return false end
  end
  return true
end

-- The encoders. `info` is what validation computed (chain.lua): heights, refs, amounts. Each
-- appends to buffer b after index n and returns the new last index. `keyed` is false for an
-- element of a shaped array (no header, slot payloads only), true otherwise.

-- A member kept as it is: key code 0, the key, the value (generic).
local function put_member(b, n, k, v)
  b[n + 1] = "\0"
  n = put_key(b, n + 1, k)
  return put_value(b, n, v)
end

-- The header of a keyed object: varint nkeys+1.
local function put_keyed_head(b, n, keys)
  b[n + 1] = uv(#keys + 1)
  return n + 1
end

-- An array of objects: varint len*2 + S (S = 1 when every_shaped: every element is shaped and has no
-- header), then put_one(b, n, arr[i], keyed, per[i], height) for each element. per (the inputs'
-- refs, the transactions' infos) and height may be nil.
local function put_array(b, n, arr, len, every_shaped, put_one, per, height)
  b[n + 1] = uv(len * 2 + (every_shaped and 1 or 0))
  n = n + 1
  local keyed = not every_shaped
  if per then
    for i = 1, len do n = put_one(b, n, arr[i], keyed, per[i], height) end
  else
    for i = 1, len do n = put_one(b, n, arr[i], keyed) end
  end
  return n
end

-- An output: in a shaped array, address (generic) and amount (varint); else keyed.
local function put_output(b, n, out, keyed)
  if not keyed then -- shaped: the amount is a Lua integer >= 0 (put_outputs checked)
    local a = out.address
    if type(a) == "string" and #a == 40 and not find(a, "[^0-9a-f]") then -- the common case
      b[n + 1] = "\10"
      b[n + 2] = fromhex(a)
      b[n + 3] = uv(out.amount)
      return n + 3
    end
    n = put_value(b, n, a)
    b[n + 1] = uv(out.amount)
    return n + 1
  end
  local keys = keys_of(out)
  n = put_keyed_head(b, n, keys)
  for i = 1, #keys do
    local k = keys[i]
    local slot = OUT_SLOT[k]
    if slot == 2 and mtype(out.amount) == "integer" then -- amount: a validated integer >= 0
      b[n + 1] = "\2"
      b[n + 2] = uv(out.amount)
      n = n + 2
    elseif slot == 1 then
      b[n + 1] = "\1"
      n = put_value(b, n + 1, out.address)
    else
      n = put_member(b, n, k, out[k])
    end
  end
  return n
end

-- An input: the spent output's position (dh, tx index, n), then when keyed its keys.
local function put_input(b, n, inp, keyed, ref, height)
  b[n + 1] = uv(height - ref[1])
  b[n + 2] = uv(ref[2])
  b[n + 3] = uv(ref[3])
  n = n + 3
  if keyed then
    local keys = keys_of(inp)
    n = put_keyed_head(b, n, keys)
    for i = 1, #keys do
      local k = keys[i]
      local slot = IN_SLOT[k]
      if slot then
        b[n + 1] = SMALL[slot]
        n = n + 1
      else
        n = put_member(b, n, k, inp[k])
      end
    end
  end
  return n
end

local function put_inputs(b, n, ins, refs, height)
  local len = #ins
  return put_array(b, n, ins, len, all_shaped(ins, len, "tx_id", "output_index"), put_input, refs, height)
end

-- Are all amounts of outs Lua integers (the shaped form writes them as varints)?
local function integer_amounts(outs, len)
  for i = 1, len do
    if mtype(outs[i].amount) ~= "integer" then return false end
  end
  return true
end

local function put_outputs(b, n, outs)
  local len = #outs
  return put_array(b, n, outs, len, all_shaped(outs, len, "address", "amount") and integer_amounts(outs, len),
    put_output)
end

-- A transaction: in a shaped array its inputs then outputs; else keyed (id derived). Inputs that
-- are not spends (txinfo.refs nil: a coinbase's) are kept as a generic member.
local function put_tx(b, n, tx, keyed, txinfo, height)
  if not keyed then
    n = put_inputs(b, n, tx.inputs, txinfo.refs, height)
    return put_outputs(b, n, tx.outputs)
  end
  local keys = keys_of(tx)
  n = put_keyed_head(b, n, keys)
  for i = 1, #keys do
    local k = keys[i]
    local slot = TX_SLOT[k]
    if slot == 1 then
      b[n + 1] = "\1"
      n = n + 1
    elseif slot == 2 and txinfo.refs then
      b[n + 1] = "\2"
      n = put_inputs(b, n + 1, tx.inputs, txinfo.refs, height)
    elseif slot == 3 then
      b[n + 1] = "\3"
      n = put_outputs(b, n + 1, tx.outputs)
    else
      n = put_member(b, n, k, tx[k])
    end
  end
  return n
end

-- Does every transaction spend through its inputs (no coinbase inputs, which are not spends)?
local function all_spending(infos, len)
  for i = 1, len do
    if not infos[i].refs then return false end
  end
  return true
end

local function put_txs(b, n, arr, infos, height)
  local len = #arr
  return put_array(b, n, arr, len, all_shaped(arr, len, "id", "inputs", "outputs") and all_spending(infos, len),
    put_tx, infos, height)
end

-- The id table: varint ntx*2 + F, then 32 raw bytes per id (F = 1: every id is 64-digit
-- lowercase hex) or a generic string per id.
local function put_ids(b, n, txs)
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
  return n
end

-- A block in the shaped form (varint 0, then timestamp, nonce, difficulty, miner, transactions),
-- or nil when it does not have that shape.
local function put_shaped_block(b, n, block, info, derived_prev)
  local ts, nonce, diff = block.timestamp, block.nonce, block.difficulty
  if not (shaped(keys_of(block), BLOCK_KEYS) and derived_prev and ok_uint(ts) and ok_uint(nonce)
      and ok_uint(diff)) then
    return nil
  end
  b[n + 1] = "\0"
  b[n + 2] = uv(ts)
  b[n + 3] = uv(nonce)
  b[n + 4] = uv(diff)
  n = put_value(b, n + 4, block.miner)
  return put_txs(b, n, block.transactions, info.txs, info.height)
end

-- A block keyed: per member its slot (derived ones without payload) or the member as it is.
local function put_keyed_block(b, n, block, info, derived_prev)
  local keys = keys_of(block)
  n = put_keyed_head(b, n, keys)
  for i = 1, #keys do
    local k = keys[i]
    local slot = BLOCK_SLOT[k]
    local v = block[k]
    if slot == 1 or slot == 4 or (slot == 3 and derived_prev) then -- derived
      b[n + 1] = SMALL[slot]
      n = n + 1
    elseif (slot == 2 or slot == 5 or slot == 6) and ok_uint(v) then
      b[n + 1] = SMALL[slot]
      b[n + 2] = uv(v)
      n = n + 2
    elseif slot == 7 then
      b[n + 1] = "\7"
      n = put_value(b, n + 1, v)
    elseif slot == 8 then
      b[n + 1] = "\8"
      n = put_txs(b, n + 1, v, info.txs, info.height)
    else
      n = put_member(b, n, k, v)
    end
  end
  return n
end

local VERSION_BYTE = char(M.BLOCK_VERSION)

-- The block value of a validated block.
-- info = { height, first (true for the chain's first block), linked (false when previous_hash is
-- not the previous block's hash: a format that relaxes links; it is then stored), hash,
-- txs = { {id, refs}, ... } } (refs nil: a coinbase's inputs, which spend nothing, stored as they are)
-- (the block's transactions, inputs and outputs are arrays of objects; ids, tx_ids, amounts,
-- output indexes have been checked by chain.lua).
function M.encode_block(block, info)
  local b = { VERSION_BYTE }
  local n = put_string(b, 1, info.hash)
  n = put_ids(b, n, info.txs)
  local derived_prev = not info.first and info.linked ~= false
  n = put_shaped_block(b, n, block, info, derived_prev) or put_keyed_block(b, n, block, info, derived_prev)
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
    return hex32_at(v, s)
  end
  local id
  for _ = 0, t do id, p = get_value(v, p) end
  return id
end

-- The decoders. Each reads at position p of the block value d.v and returns what it read (nil
-- when only the skeleton is built) and the position after it. d is the state of one decode_block:
-- v, height, prev_hash, resolve, json (want_json), hash, ntx, txs (the skeleton's transactions),
-- txs_seen.

-- The transaction id table: the skeleton's transactions (id, no refs, amounts, outputs yet).
local function get_ids(v, p, ntx, fixed)
  local txs = {}
  for i = 1, ntx do
    local id
    if fixed then
      if p + 31 > #v then corrupt("id table", p) end
      id = hex32_at(v, p)
      p = p + 32
    else
      id, p = get_value(v, p)
      if type(id) ~= "string" then corrupt("transaction id", p) end
    end
    txs[i] = { id = id, refs = {}, amounts = {}, nout = 0 }
  end
  return txs, p
end

-- A member kept as it is (after key code 0): key, value, position after them.
local function get_member(v, p)
  local k, x
  k, p = get_key(v, p)
  x, p = get_value(v, p)
  return k, x, p
end

-- The number of members of a keyed object (varint nkeys+1, never 0).
local function keyed_count(v, p, what)
  local count
  count, p = ruv(v, p)
  if count == 0 then corrupt(what, p) end
  return count - 1, p
end

local function set_if(o, k, x) if o then J.set(o, k, x) end end

-- An array of objects: varint len*2 + S; returns len, keyed (S = 0: each element has a header), p.
local function array_head(v, p)
  local x
  x, p = ruv(v, p)
  return x >> 1, x & 1 == 0, p
end

-- The len elements of an array, get_one(d, p, txi, i, keyed) -> object, p each.
local function get_elements(d, p, len, keyed, get_one, txi)
  local a = d.json and J.array() or nil
  for i = 1, len do
    local o
    o, p = get_one(d, p, txi, i, keyed)
    if a then a[i] = o end
  end
  return a, p
end

-- An array of objects (head and elements): the array, its length, p.
local function get_array(d, p, get_one, txi)
  local len, keyed
  len, keyed, p = array_head(d.v, p)
  local a
  a, p = get_elements(d, p, len, keyed, get_one, txi)
  return a, len, p
end

-- The id of transaction t of the block dh blocks below (0: this block; p for the error).
local function input_txid(d, dh, t, p)
  if dh == 0 then
    local tx = d.txs[t + 1]
    if not tx then corrupt("input reference", p) end
    return tx.id
  end
  if not d.resolve then return nil end
  return d.resolve(d.height - dh, t)
end

-- Skips the members of a keyed input (the skeleton needs none of them).
local function skip_input_members(v, p)
  local count
  count, p = ruv(v, p)
  for _ = 1, count - 1 do
    local slot
    slot, p = ruv(v, p)
    if slot == 0 then
      p = select(3, get_member(v, p))
    elseif slot > 2 then corrupt("input slot", p) end
  end
  return p
end

-- An input: the spent output's position (into txi.refs[i]), then when keyed its members.
local function get_input(d, p, txi, i, keyed)
  local v, height = d.v, d.height
  local dh, t, n
  dh, p = ruv(v, p)
  t, p = ruv(v, p)
  n, p = ruv(v, p)
  if dh > height then corrupt("input reference", p) end
  txi.refs[i] = { height - dh, t, n }
  if not d.json then
    if keyed then p = skip_input_members(v, p) end
    return nil, p
  end
  local o = J.object()
  if not keyed then
    J.set(o, "tx_id", input_txid(d, dh, t, p))
    J.set(o, "output_index", n)
    return o, p
  end
  local nkeys
  nkeys, p = keyed_count(v, p, "input header")
  for _ = 1, nkeys do
    local slot
    slot, p = ruv(v, p)
    if slot == 1 then
      J.set(o, "tx_id", input_txid(d, dh, t, p))
    elseif slot == 2 then
      J.set(o, "output_index", n)
    elseif slot == 0 then
      local k, x
      k, x, p = get_member(v, p)
      J.set(o, k, x)
    else
      corrupt("input slot", p)
    end
  end
  return o, p
end

-- An output: its amount into txi.amounts[i] (a json.number when it was not a Lua integer).
local function get_output(d, p, txi, i, keyed)
  local v = d.v
  local o = d.json and J.object() or nil
  if not keyed then
    local addr, amount
    addr, p = get_value(v, p)
    amount, p = ruv(v, p)
    txi.amounts[i] = amount
    if o then
      J.set(o, "address", addr)
      J.set(o, "amount", amount)
    end
    return o, p
  end
  local nkeys
  nkeys, p = keyed_count(v, p, "output header")
  local seen_amount = false
  for _ = 1, nkeys do
    local slot
    slot, p = ruv(v, p)
    if slot == 1 then
      local x
      x, p = get_value(v, p)
      set_if(o, "address", x)
    elseif slot == 2 then
      local a
      a, p = ruv(v, p)
      txi.amounts[i] = a
      seen_amount = true
      set_if(o, "amount", a)
    elseif slot == 0 then
      local k, x
      k, x, p = get_member(v, p)
      if k == "amount" then -- not a Lua integer: kept as the record had it
        txi.amounts[i] = x
        seen_amount = true
      end
      set_if(o, k, x)
    else
      corrupt("output slot", p)
    end
  end
  if not seen_amount then corrupt("output without amount", p) end
  return o, p
end

-- Transaction i: its inputs and outputs (refs, amounts and nout into the skeleton's d.txs[i]).
local function get_tx(d, p, _, i, keyed)
  local txi = d.txs[i]
  if not txi then corrupt("transaction count", p) end
  local v = d.v
  local o = d.json and J.object() or nil
  local ins, outs
  if not keyed then
    ins, _, p = get_array(d, p, get_input, txi)
    outs, txi.nout, p = get_array(d, p, get_output, txi)
    if o then
      J.set(o, "id", txi.id)
      J.set(o, "inputs", ins)
      J.set(o, "outputs", outs)
    end
    return o, p
  end
  local nkeys
  nkeys, p = keyed_count(v, p, "transaction header")
  for _ = 1, nkeys do
    local slot
    slot, p = ruv(v, p)
    if slot == 1 then
      set_if(o, "id", txi.id)
    elseif slot == 2 then
      ins, _, p = get_array(d, p, get_input, txi)
      set_if(o, "inputs", ins)
    elseif slot == 3 then
      outs, txi.nout, p = get_array(d, p, get_output, txi)
      set_if(o, "outputs", outs)
    elseif slot == 0 then
      local k, x
      k, x, p = get_member(v, p)
      set_if(o, k, x)
    else
      corrupt("transaction slot", p)
    end
  end
  return o, p
end

-- The transactions: an array of exactly as many as the id table has.
local function get_txs(d, p)
  local len, keyed
  len, keyed, p = array_head(d.v, p)
  if len ~= d.ntx then corrupt("transaction count", p) end
  d.txs_seen = true
  return get_elements(d, p, len, keyed, get_tx)
end

-- The previous block's hash (none for the chain's first block: there it is stored).
local function prev_hash_of(d, p)
  if not d.prev_hash then corrupt("first block without previous_hash", p) end
  return d.prev_hash
end

-- A shaped block (after its varint 0): timestamp, nonce, difficulty, miner, transactions.
local function get_shaped_block(d, p, block)
  local v = d.v
  local ts, nonce, diff, miner, txs
  ts, p = ruv(v, p)
  nonce, p = ruv(v, p)
  diff, p = ruv(v, p)
  miner, p = get_value(v, p)
  local prev = prev_hash_of(d, p)
  txs, p = get_txs(d, p)
  if block then
    J.set(block, "index", d.height)
    J.set(block, "timestamp", ts)
    J.set(block, "previous_hash", prev)
    J.set(block, "hash", d.hash)
    J.set(block, "nonce", nonce)
    J.set(block, "difficulty", diff)
    J.set(block, "miner", miner)
    J.set(block, "transactions", txs)
  end
  return p
end

-- A keyed block's nkeys members.
local function get_keyed_block(d, p, nkeys, block)
  local v = d.v
  for _ = 1, nkeys do
    local slot
    slot, p = ruv(v, p)
    if slot == 0 then
      local k, x
      k, x, p = get_member(v, p)
      set_if(block, k, x)
    elseif slot == 1 then
      set_if(block, "index", d.height)
    elseif slot == 2 or slot == 5 or slot == 6 then
      local x
      x, p = ruv(v, p)
      set_if(block, BLOCK_KEYS[slot], x)
    elseif slot == 3 then
      set_if(block, "previous_hash", prev_hash_of(d, p))
    elseif slot == 4 then
      set_if(block, "hash", d.hash)
    elseif slot == 7 then
      local x
      x, p = get_value(v, p)
      set_if(block, "miner", x)
    elseif slot == 8 then
      local txs
      txs, p = get_txs(d, p)
      set_if(block, "transactions", txs)
    else
      corrupt("block slot", p)
    end
  end
  return p
end

-- Decodes a block value. Returns the block (a JSON object exactly as appended) and its skeleton:
--   { hash, txs = { { id, nout, refs = { {h, t, n}, ... }, amounts = { ... } }, ... } }
-- prev_hash: the previous block's hash (nil for the chain's first block: then previous_hash is
-- stored); resolve(h, t) -> id of transaction t of block h (for refs to earlier blocks).
-- With want_json false only the skeleton is built (faster).
function M.decode_block(v, height, prev_hash, resolve, want_json)
  local hash, ntx, fixed, p = block_header(v)
  local txs
  txs, p = get_ids(v, p, ntx, fixed)
  local d = { v = v, height = height, prev_hash = prev_hash, resolve = resolve, json = want_json,
    hash = hash, ntx = ntx, txs = txs, txs_seen = false }
  local block = want_json and J.object() or nil
  local shape
  shape, p = ruv(v, p)
  if shape == 0 then
    p = get_shaped_block(d, p, block)
  else
    p = get_keyed_block(d, p, shape - 1, block)
  end
  if ntx > 0 and not d.txs_seen then corrupt("transactions missing", p) end
  if p ~= #v + 1 then corrupt("block value (trailing bytes)", p) end
  return block, { hash = hash, txs = txs }
end

---------------------------------------------------------------------------------------------------
-- Undo records: what a rollback of block h restores. varint count, then per spent output in
-- input order: varint dh (= h - height of the output), tx index, output index, amount.
---------------------------------------------------------------------------------------------------

function M.encode_undo(height, spent)
  local b = { uv(#spent) }
  for i, s in ipairs(spent) do
    b[i + 1] = uv(height - s[1]) .. uv(s[2]) .. uv(s[3]) .. amount_bytes(s[4])
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
    a, p = read_amount(v, p)
    if dh > height then corrupt("undo reference", p) end
    spent[i] = { height - dh, t, n, a }
  end
  if p ~= #v + 1 then corrupt("undo record (trailing bytes)", p) end
  return spent
end

return M

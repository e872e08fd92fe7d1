-- quarry.chain.account.keys: the byte encodings of the account-chain store (docs/account-chain.md,
-- "Families and encodings"): the key and value of each family, and hex text <-> raw bytes. Plain
-- functions, no storage: the engine (quarry.chain.account), the query API and the specs share
-- them, so one file says what the bytes are.
local json = require("quarry.json")
local bytes = require("quarry.bytes")

local pack, unpack, sub, byte, char = string.pack, string.unpack, string.sub, string.byte, string.char
local fromhex, tohex = bytes.fromhex, bytes.tohex
local find, lower = string.find, string.lower
local mtype = math.type

local M = {}

-- The families of an account-chain store, in the order they are created.
M.FAMILIES = { "blocks", "hashes", "txs", "receipts", "addr_txs", "logs_by_address", "logs_by_topic",
  "meta" }

-- Sizes of the raw values.
M.HASH_BYTES, M.ADDRESS_BYTES, M.TOPIC_BYTES = 32, 20, 32

-- addr_txs role bits.
M.ROLE_FROM, M.ROLE_TO, M.ROLE_CREATED = 1, 2, 4

-- The meta key of the store's state.
M.META_STATE = "state"
M.LAYOUT, M.FORMAT = "account-chain", "ethereum-rpc"
M.NOT_VERIFIED = "hashes taken as given: no RLP or Keccak recomputation"

local function fail(fmt, ...) error(fmt:format(...), 0) end

local function show(v)
  if type(v) == "string" then
    if #v > 80 then v = v:sub(1, 77) .. "..." end
    return ("%q"):format(v)
  end
  local ok, s = pcall(json.encode, v)
  if not ok then s = tostring(v) end
  if #s > 80 then s = s:sub(1, 77) .. "..." end
  return s
end
M.show = show

local function corrupt(what, got)
  fail("account store: corrupt %s (%d bytes: %s): the store was not written by this version, or " ..
    "is damaged (quarry verify --db DIR)", what, #got, tohex(got))
end

---------------------------------------------------------------------------------------------------
-- Hex
---------------------------------------------------------------------------------------------------

-- keys.raw(hex, n, what) -> the n raw bytes of "0x" followed by 2n hex digits (either case).
-- Raises "WHAT must be 0x followed by 2n hex digits (n bytes), got ...".
function M.raw(hex, n, what)
  if type(hex) == "string" and #hex == 2 + 2 * n and sub(hex, 1, 2) == "0x" then
    local r = fromhex(lower(sub(hex, 3)))
    if r then return r end
  end
  fail("%s must be 0x followed by %d hex digits (%d bytes), got %s", what or "value", 2 * n, n, show(hex))
end

-- keys.hash(hex, what) / keys.address(hex, what) / keys.topic(hex, what) -> raw bytes (32, 20, 32).
function M.hash(hex, what) return M.raw(hex, 32, what or "hash") end
function M.address(hex, what) return M.raw(hex, 20, what or "address") end
function M.topic(hex, what) return M.raw(hex, 32, what or "topic") end

-- keys.hex(raw) -> "0x" .. lowercase hex of raw.
function M.hex(raw)
  if raw == "" then return "0x" end
  return "0x" .. tohex(raw)
end

-- keys.is_data(s) -> true when s is "0x" followed by an even number of hex digits (byte data,
-- "0x" for none: a transaction's input, a log's data).
function M.is_data(s)
  return type(s) == "string" and sub(s, 1, 2) == "0x" and #s % 2 == 0 and not find(s, "[^0-9a-fA-F]", 3)
end

-- keys.is_quantity(s) -> true when s is "0x" followed by one or more hex digits (any size: a wei
-- amount may exceed 2^64; the text is kept as given).
function M.is_quantity(s)
  return type(s) == "string" and #s > 2 and sub(s, 1, 2) == "0x" and not find(s, "[^0-9a-fA-F]", 3)
end

-- keys.quantity(s, what) -> the Lua integer of a 0x quantity below 2^63 (a height, an index).
-- Raises "WHAT must be a 0x hex quantity below 2^63, got ...".
function M.quantity(s, what)
  if M.is_quantity(s) then
    local digits = sub(s, 3):gsub("^0+", "")
    if #digits < 16 or (#digits == 16 and find(digits, "^[0-7]")) then
      return digits == "" and 0 or math.tointeger(tonumber(digits, 16))
    end
  end
  fail("%s must be a 0x hex quantity below 2^63, got %s", what or "value", show(s))
end

---------------------------------------------------------------------------------------------------
-- Keys and values, family by family
---------------------------------------------------------------------------------------------------

local function be64(n) return pack(">I8", n) end
local function be32(n)
  if mtype(n) ~= "integer" or n < 0 or n > 0xffffffff then
    fail("account store: index %s does not fit in 4 bytes", tostring(n))
  end
  return pack(">I4", n)
end
M.be64, M.be32 = be64, be32

-- blocks: be64(height) -> the block's JSON text (transactions as their hashes).
function M.block_key(height) return be64(height) end
function M.height_of_block_key(k)
  if #k ~= 8 then corrupt("blocks key", k) end
  return (unpack(">I8", k))
end

-- hashes: hash32 -> be64(height).
function M.hash_key(hash_raw) return hash_raw end
function M.hash_value(height) return be64(height) end
function M.height_of_hash_value(v)
  if #v ~= 8 then corrupt("hashes value", v) end
  return (unpack(">I8", v))
end

-- txs: txhash32 -> be64(height) .. be32(transactionIndex) .. the transaction's JSON text.
function M.tx_key(txhash_raw) return txhash_raw end
function M.tx_value(height, index, text) return pack(">I8>I4", height, index) .. text end
-- keys.decode_tx_value(v) -> height, index, text
function M.decode_tx_value(v)
  if #v < 12 then corrupt("txs value", v) end
  local h, i = unpack(">I8>I4", v)
  return h, i, sub(v, 13)
end

-- receipts: txhash32 -> the receipt's JSON text (its logs inside).
function M.receipt_key(txhash_raw) return txhash_raw end

-- addr_txs: addr20 .. be64(height) .. be32(txIndex) -> txhash32 .. one byte of role bits.
function M.addr_tx_key(addr_raw, height, index) return addr_raw .. pack(">I8>I4", height, index) end
-- keys.decode_addr_tx_key(k) -> addr_raw, height, index
function M.decode_addr_tx_key(k)
  if #k ~= 32 then corrupt("addr_txs key", k) end
  local h, i = unpack(">I8>I4", k, 21)
  return sub(k, 1, 20), h, i
end
function M.addr_tx_value(txhash_raw, roles) return txhash_raw .. char(roles) end
-- keys.decode_addr_tx_value(v) -> txhash_raw, roles
function M.decode_addr_tx_value(v)
  if #v ~= 33 then corrupt("addr_txs value", v) end
  return sub(v, 1, 32), byte(v, 33)
end

-- logs_by_address: addr20 .. be64(height) .. be32(logIndex) -> txhash32 .. be32(position in logs).
function M.log_address_key(addr_raw, height, log_index)
  return addr_raw .. pack(">I8>I4", height, log_index)
end
-- keys.decode_log_address_key(k) -> addr_raw, height, log_index
function M.decode_log_address_key(k)
  if #k ~= 32 then corrupt("logs_by_address key", k) end
  local h, i = unpack(">I8>I4", k, 21)
  return sub(k, 1, 20), h, i
end

-- logs_by_topic: topic32 .. byte(position 0..3) .. be64(height) .. be32(logIndex) -> as above.
function M.log_topic_key(topic_raw, position, height, log_index)
  return topic_raw .. pack(">I1>I8>I4", position, height, log_index)
end
-- keys.decode_log_topic_key(k) -> topic_raw, position, height, log_index
function M.decode_log_topic_key(k)
  if #k ~= 45 then corrupt("logs_by_topic key", k) end
  local p, h, i = unpack(">I1>I8>I4", k, 33)
  return sub(k, 1, 32), p, h, i
end

-- The value of both log indexes: txhash32 .. be32(position of the log in its receipt's logs).
function M.log_value(txhash_raw, position) return txhash_raw .. pack(">I4", position) end
-- keys.decode_log_value(v) -> txhash_raw, position
function M.decode_log_value(v)
  if #v ~= 36 then corrupt("log index value", v) end
  return sub(v, 1, 32), (unpack(">I4", v, 33))
end

-- meta "state": the store's state as JSON, written in the batch of every group.
-- keys.meta_value(state) -> JSON text with the members in the documented order.
function M.meta_value(st)
  local o = json.object()
  local function put(k, v) o[#o + 1] = k; o[k] = v end
  put("layout", M.LAYOUT)
  put("format", M.FORMAT)
  put("tip", st.tip == nil and json.null or st.tip)
  put("tip_hash", st.tip_hash == nil and json.null or st.tip_hash)
  local c = json.object()
  for _, k in ipairs({ "blocks", "txs", "receipts", "logs" }) do
    c[#c + 1] = k
    c[k] = st.counts and st.counts[k] or 0
  end
  put("counts", c)
  put("receipts", st.receipts or "none")
  put("verified", M.NOT_VERIFIED)
  if st.extra then
    for _, k in ipairs(json.keys(st.extra)) do put(k, st.extra[k]) end
  end
  return json.encode(o)
end

-- keys.decode_meta(text) -> the state table (json.decode of it); raises naming the meta family.
function M.decode_meta(text)
  local ok, st = pcall(json.decode, text)
  if not ok or type(st) ~= "table" or st.layout ~= M.LAYOUT then
    fail("account store: the meta family's state is not an account-chain state (%s)", show(text))
  end
  return st
end

return M

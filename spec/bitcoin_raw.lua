-- spec/bitcoin_raw.lua: decodes serialized Bitcoin blocks (hex, as `getblock <hash> 0` prints them,
-- segwit included) into plain tables, for checking the fixture and the bitcoin-core format against
-- the blocks a real regtest node recorded (/work/shared/realdata/bitcoin-regtest).
local sha = require("spec.bitcoin_sha256")

local M = {}

local function reader(bytes)
  local pos = 1
  local r = {}
  function r.take(n)
    assert(pos + n - 1 <= #bytes, "truncated block")
    local s = bytes:sub(pos, pos + n - 1)
    pos = pos + n
    return s
  end
  function r.u(fmt) local v; v, pos = string.unpack(fmt, bytes, pos); return v end
  function r.varint()
    local b = r.u("B")
    if b < 0xfd then return b end
    return r.u(b == 0xfd and "<I2" or b == 0xfe and "<I4" or "<I8")
  end
  function r.bytes() return r.take(r.varint()) end
  function r.pos() return pos end
  function r.slice(from, to) return bytes:sub(from, to) end
  return r
end

-- One transaction; the txid hashes the serialization without marker, flag and witnesses.
local function read_tx(r)
  local start = r.pos()
  local tx = { version = r.u("<i4"), vin = {}, vout = {} }
  local body = r.pos()            -- where the inputs' count starts, in either serialization
  local nin = r.varint()
  local segwit = nin == 0         -- marker 0x00, then flag 0x01
  if segwit then
    assert(r.u("B") == 1, "bad segwit flag")
    body = r.pos()
    nin = r.varint()
  end
  for i = 1, nin do
    tx.vin[i] = { prev_txid = sha.display(r.take(32)), n = r.u("<I4"), script_sig = r.bytes(),
      sequence = r.u("<I4") }
  end
  for i = 1, r.varint() do tx.vout[i] = { sats = r.u("<i8"), script = r.bytes() } end
  local body_end = r.pos() - 1
  if segwit then
    for i = 1, nin do
      local stack = {}
      for k = 1, r.varint() do stack[k] = r.bytes() end
      tx.vin[i].witness = stack
    end
  end
  tx.locktime = r.u("<I4")
  local full = r.slice(start, r.pos() - 1)
  local stripped = r.slice(start, start + 3) .. r.slice(body, body_end) .. r.slice(r.pos() - 4, r.pos() - 1)
  tx.txid = sha.display(sha.dsha256(stripped))
  tx.wtxid = sha.display(sha.dsha256(full))
  tx.hex = sha.tohex(full)
  tx.size, tx.base_size = #full, #stripped
  return tx
end

--- Decodes one block from its hex serialization.
function M.block(hex)
  local bytes = sha.fromhex(hex)
  local r = reader(bytes)
  local b = { header = bytes:sub(1, 80) }
  b.version = r.u("<i4")
  b.previousblockhash = sha.display(r.take(32))
  b.merkleroot = sha.display(r.take(32))
  b.time, b.bits, b.nonce = r.u("<I4"), r.u("<I4"), r.u("<I4")
  b.hash = sha.display(sha.dsha256(b.header))
  b.tx = {}
  for i = 1, r.varint() do b.tx[i] = read_tx(r) end
  assert(r.pos() == #bytes + 1, "trailing bytes after the block")
  return b
end

return M

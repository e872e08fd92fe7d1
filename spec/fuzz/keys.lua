-- spec/fuzz/keys.lua: the chain store's key and small-value codecs on any bytes: each
-- parser returns or raises the codec's corrupt error; what the order-preserving varint reads
-- re-encodes to a key that reads back the same number, and encodings keep numeric order.
local codec = require("quarry.chain.codec")

local function guarded(name, f, ...)
  local ok, a, b = pcall(f, ...)
  if not ok and not (type(a) == "table" and a.corrupt) then
    error("FUZZ-BUG: " .. name .. " raised " .. tostring(a), 0)
  end
  return ok, a, b
end

return function(data)
  guarded("height_of", codec.height_of, data)
  guarded("parse_ukey", codec.parse_ukey, data)
  guarded("parse_txs_value", codec.parse_txs_value, data)
  guarded("parse_hashes_value", codec.parse_hashes_value, data)
  guarded("parse_utxo_value", codec.parse_utxo_value, data)
  guarded("string_of_skey", codec.string_of_skey, data)
  guarded("ruv", codec.ruv, data, 1)
  local ok, n = guarded("rov", codec.rov, data, 1)
  if ok and n >= 0 then
    local again = codec.rov(codec.ov(n), 1)
    if again ~= n then error(("FUZZ-BUG: rov(ov(%d)) = %d"):format(n, again), 0) end
    local m = n > 0 and n - 1 or 0
    if m < n and not (codec.ov(m) < codec.ov(n)) then
      error(("FUZZ-BUG: ov(%d) does not sort before ov(%d)"):format(m, n), 0)
    end
  end
  local okv, u = guarded("ruv", codec.ruv, data, 1)
  if okv and u >= 0 then
    local back = codec.ruv(codec.uv(u), 1)
    if back ~= u then error(("FUZZ-BUG: ruv(uv(%d)) = %d"):format(u, back), 0) end
  end
end

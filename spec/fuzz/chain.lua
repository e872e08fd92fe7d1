-- spec/fuzz/chain.lua: the chain store's value decoders (quarry.chain.codec) on any bytes.
-- A decoder may only return or raise the codec's own corrupt error ({corrupt = true}); any other
-- error (a Lua error inside the decoder) is a finding.
local codec = require("quarry.chain.codec")
local PREV = ("00"):rep(32)
local function resolve() codec.corrupt("unresolved reference", 0) end

-- Regression: decode_value's number tag once handed unchecked text to jsonv's json.number, which
-- raised a plain error (found here; fixed in codec.lua; its input is in the corpus).
local function guarded(name, f, ...)
  local ok, e = pcall(f, ...)
  if not ok and not (type(e) == "table" and e.corrupt) then
    error("FUZZ-BUG: " .. name .. " raised " .. tostring(e), 0)
  end
end

return function(data)
  local sel = data:byte(1) or 0
  local v = data:sub(2)
  if sel % 4 == 0 then
    guarded("decode_block", codec.decode_block, v, 7, PREV, resolve, true)
  elseif sel % 4 == 1 then
    guarded("decode_block(skeleton)", codec.decode_block, v, 7, PREV, nil, false)
  elseif sel % 4 == 2 then
    guarded("decode_undo", codec.decode_undo, v, 7)
  else
    guarded("decode_value", codec.decode_value, v)
  end
end

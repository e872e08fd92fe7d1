-- spec/fuzz/json.lua: the quarry.json.decode fuzz harness. Any input either decodes or
-- raises an error (a decode error is fine); a decoded value must encode, and decode(encode(v))
-- must encode to the same text (the exact round trip the chain tools rely on).
local json = require("quarry.json")
return function(data)
  local ok, v = pcall(json.decode, data)
  if not ok then
    assert(type(v) == "string" or type(v) == "table", "decode raised a " .. type(v))
    return
  end
  local ok2, text = pcall(json.encode, v)
  if not ok2 then error("FUZZ-BUG: decoded value does not encode: " .. tostring(text), 0) end
  local v2 = json.decode(text)
  local text2 = json.encode(v2)
  if text2 ~= text then
    error(("FUZZ-BUG: round trip differs: %q vs %q"):format(text, text2), 0)
  end
end

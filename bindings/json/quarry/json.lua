-- quarry.json: exact JSON for chain data (yajl-based decoder, own encoder, streaming reader and
-- writer, LZ4 frames). The C functions live in quarry.json.core; this file adds pure-Lua helpers.
local json = require("quarry.json.core")

local object_mt, array_mt = json.object_mt, json.array_mt

--- json.object([t]): marks t (or a new table) as a JSON object. Its existing string keys are
--- recorded in sorted order, so later additions come after them (also sorted).
function json.object(t)
  t = t or {}
  if getmetatable(t) ~= object_mt then
    local keys = {}
    for k in next, t do
      if type(k) ~= "string" then
        error("json.object: key of type " .. type(k) .. " (keys must be strings)", 2)
      end
      keys[#keys + 1] = k
    end
    table.sort(keys)
    for i, k in ipairs(keys) do rawset(t, i, k) end
    setmetatable(t, object_mt)
  end
  return t
end

--- json.array([t]): marks t (or a new table) as a JSON array (so {} encodes as []).
function json.array(t)
  return setmetatable(t or {}, array_mt)
end

--- json.type(v): "object", "array", "number", "string", "boolean" or "null"; nil for values that
--- have no JSON form.
function json.type(v)
  local t = type(v)
  if t == "table" then
    local mt = getmetatable(v)
    if mt == json.number_mt then return "number" end
    if mt == object_mt then return "object" end
    if mt == array_mt then return "array" end
    if next(v) == nil then return "object" end
    return rawget(v, 1) ~= nil and "array" or "object"
  elseif t == "number" or t == "string" or t == "boolean" then
    return t
  elseif v == nil or v == json.null then
    return "null"
  end
  return nil
end

--- n:scaled(places): the exact integer n * 10^places of a json.number or Lua integer, e.g.
--- json.decode("0.00010000"):scaled(8) == 10000. Raises when digits would be lost or int64 overflows.
local function scaled(n, places)
  local text = type(n) == "table" and n.text or nil
  if math.type(n) == "integer" then text = tostring(n) end
  if type(text) ~= "string" then error("json.scaled: json.number or integer expected", 2) end
  if math.type(places) ~= "integer" or places < 0 then
    error("json.scaled: places must be a non-negative integer", 2)
  end
  local sign, int, frac, exp = text:match("^(%-?)(%d+)%.?(%d*)[eE]?([-+]?%d*)$")
  if not sign then error("json.scaled: not a JSON number: " .. text, 2) end
  local shift = places + (tonumber(exp) or 0)
  local digits = int .. frac
  shift = shift - #frac
  if shift >= 0 then
    digits = digits .. string.rep("0", shift)
  else
    local cut = digits:sub(#digits + shift + 1)
    if cut:find("[1-9]") then
      error("json.scaled: " .. text .. " has more than " .. places .. " decimal places", 2)
    end
    digits = digits:sub(1, #digits + shift)
  end
  digits = digits:gsub("^0+", "")
  if digits == "" then return 0 end
  local limit = sign == "-" and "9223372036854775808" or "9223372036854775807"
  if #digits > #limit or (#digits == #limit and digits > limit) then
    error("json.scaled: " .. text .. " scaled by 10^" .. places .. " overflows int64", 2)
  end
  if sign == "-" and digits == limit then return math.mininteger end
  local v = math.tointeger(tonumber(digits))
  return sign == "-" and -v or v
end
json.scaled = scaled
json.number_mt.__index.scaled = scaled

return json

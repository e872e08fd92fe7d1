-- quarry.chain.jsonvalue: the JSON value model of quarry.json, as the chain store sees it.
-- Objects are tables with json.object_mt whose t[1..n] is the key order; arrays have
-- json.array_mt; json.number keeps the text of numbers Lua cannot hold exactly; json.null.
local json = require("quarry.json")

local getmetatable, setmetatable, type, rawget = getmetatable, setmetatable, type, rawget
local mtype = math.type

local OBJ, ARR, NUM = json.object_mt, json.array_mt, json.number_mt
local NULL = json.null

local M = { null = NULL, json = json }

-- One of "str", "int", "float", "num" (json.number), "obj", "arr", "null", "true", "false",
-- or the Lua type name for anything JSON cannot hold.
function M.kind(v)
  local t = type(v)
  if t == "string" then return "str" end
  if t == "number" then return mtype(v) == "integer" and "int" or "float" end
  if t == "table" then
    local mt = getmetatable(v)
    if mt == OBJ then return "obj" end
    if mt == ARR then return "arr" end
    if mt == NUM then return "num" end
    if mt == nil then -- a plain Lua table: as quarry.json sees it ({} is an object)
      if rawget(v, 1) ~= nil then return "arr" end
      return "obj"
    end
    return "table"
  end
  if t == "boolean" then return v and "true" or "false" end
  if v == NULL then return "null" end
  return t
end

-- The keys of an object in order. For a decoded object (or one built with M.object/M.set) the
-- object itself is its key list (o[1..n]); a plain table's keys come sorted from json.keys.
function M.keys(o)
  if getmetatable(o) == OBJ then return o end
  return json.keys(o)
end

function M.get(o, k) return rawget(o, k) end

function M.is_object(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return mt == OBJ or (mt == nil and rawget(v, 1) == nil)
end

function M.is_array(v)
  if type(v) ~= "table" then return false end
  local mt = getmetatable(v)
  return mt == ARR or (mt == nil and rawget(v, 1) ~= nil)
end

function M.object() return setmetatable({}, OBJ) end
function M.set(o, k, v)
  if rawget(o, k) == nil then o[#o + 1] = k end
  o[k] = v
end
function M.array() return setmetatable({}, ARR) end
function M.len(a) return #a end

function M.number(text) return json.number(text) end
function M.number_text(v) return v.text end

-- A short printable form of a value for error messages.
function M.show(v)
  local ok, s = pcall(json.encode, v)
  if not ok then s = tostring(v) end
  if #s > 80 then s = s:sub(1, 77) .. "..." end
  return s
end

return M

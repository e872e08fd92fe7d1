-- quarry.cli.inspect.pretty: values for human eyes (the shell's results, `--pretty` output): text as
-- an escaped Lua literal, binary as hex with its length, long strings cut, tables indented.
local M = {}

local byte, format, concat = string.byte, string.format, table.concat

-- Defaults: how many bytes of a string are shown before "... (N bytes)".
M.max_text = 120 -- text shown as a literal
M.max_hex = 48   -- binary shown as hex (96 digits)
M.max_items = 100 -- entries of one table
M.max_depth = 8
M.width = 78     -- a table fitting in this many columns prints on one line

-- Bytes that are not text: C0 controls other than \t \n \r, DEL, and (when s is not valid UTF-8)
-- every byte >= 0x80.
local function odd_bytes(s)
  local n = select(2, s:gsub("[%z\1-\8\11\12\14-\31\127]", ""))
  if not utf8.len(s) then n = n + select(2, s:gsub("[\128-\255]", "")) end
  return n
end

--- Is s shown as text (a literal) rather than hex? At most a quarter of its bytes are odd.
function M.is_text(s)
  return #s == 0 or odd_bytes(s) * 4 <= #s
end

-- A prefix of s at most n bytes long that does not cut a UTF-8 sequence.
local function cut_utf8(s, n)
  if #s <= n then return s end
  local i = n
  while i > 0 and i > n - 3 do
    local b = byte(s, i + 1)
    if not b or b < 0x80 or b >= 0xC0 then break end
    i = i - 1
  end
  return s:sub(1, i)
end

local escapes = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\t"] = "\\t", ["\r"] = "\\r" }

--- s as a Lua string literal: text kept, other bytes as \ddd (\0 \1 ...; three digits when a
--- digit follows). Valid UTF-8 stays readable.
function M.quote(s)
  local valid = utf8.len(s) ~= nil
  local pat = valid and '[%z\1-\31\127\\"]' or '[%z\1-\31\127-\255\\"]'
  local out = s:gsub("()(" .. pat .. ")", function(pos, c)
    if escapes[c] then return escapes[c] end
    local nxt = s:sub(pos + 1, pos + 1)
    if nxt:match("%d") then return format("\\%03d", byte(c)) end
    return "\\" .. byte(c)
  end)
  return '"' .. out .. '"'
end

--- Lowercase hex of s.
local function tohex(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end
M.tohex = tohex

--- A string for display. Text: "escaped literal"; binary (or opts.hex): 0x<hex> (N bytes).
--- Longer than opts.max (default max_text / max_hex) bytes: cut, followed by "... (N bytes)".
function M.bytes(s, opts)
  opts = opts or {}
  if not opts.hex and M.is_text(s) then
    local max = opts.max or M.max_text
    if #s <= max then return M.quote(s) end
    return M.quote(cut_utf8(s, max)) .. format("... (%d bytes)", #s)
  end
  local max = opts.max or M.max_hex
  if #s <= max then return format("0x%s (%d byte%s)", tohex(s), #s, #s == 1 and "" or "s") end
  return format("0x%s... (%d bytes)", tohex(s:sub(1, max)), #s)
end

-- ---- any Lua value -----------------------------------------------------------------------------

local function json_module()
  local ok, json = pcall(require, "quarry.json")
  if ok and type(json) == "table" then return json end
  return nil
end

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or repeat
  return then true until while]]):gmatch("%a+") do keywords[w] = true end

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") and not keywords[k]
end

local type_order = { number = 1, string = 2, boolean = 3 }

local function sort_keys(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then return (type_order[ta] or 9) < (type_order[tb] or 9) end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end

-- The entries of table t in display order: { {key, value} ... }, whether it is a plain array
-- (keys 1..n), and its name (the metatable's __name) when it has one.
local function entries(t, json)
  local mt = getmetatable(t)
  local list = {}
  if json and mt == json.object_mt then
    for _, k in ipairs(json.keys(t)) do list[#list + 1] = { k, t[k] } end
    return list, false
  end
  local n = rawlen(t)
  for i = 1, n do list[i] = { i, rawget(t, i) } end
  local others = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then others[#others + 1] = k end
  end
  table.sort(others, sort_keys)
  for _, k in ipairs(others) do list[#list + 1] = { k, rawget(t, k) } end
  return list, #others == 0 and not (json and mt == json.object_mt)
end

local function render(v, opts, depth, seen, json)
  if json and v == json.null then return "null" end
  local t = type(v)
  if t == "string" then return M.bytes(v, opts) end
  if t == "number" then
    if math.type(v) == "float" and v == math.floor(v) and v > -1e15 and v < 1e15 then
      return format("%.1f", v)
    end
    return tostring(v)
  end
  if t ~= "table" then return tostring(v) end
  local mt = getmetatable(v)
  if json and mt == json.number_mt then return tostring(v) end
  if mt and mt.__tostring then return tostring(v) end
  if seen[v] then return "<cycle: " .. tostring(v):gsub("^table: ", "") .. ">" end
  local name = mt and type(mt.__name) == "string" and mt.__name .. " " or ""
  if json and (mt == json.object_mt or mt == json.array_mt) then name = "" end
  if depth >= (opts.depth or M.max_depth) then return name .. "{...}" end
  seen[v] = true
  local list, is_array = entries(v, json)
  local parts, multiline = {}, false
  local limit = opts.items or M.max_items
  for i, kv in ipairs(list) do
    if i > limit then
      parts[#parts + 1] = format("... (%d more)", #list - limit)
      break
    end
    local k, val = kv[1], kv[2]
    local shown = render(val, opts, depth + 1, seen, json)
    if shown:find("\n") then multiline = true end
    if not is_array then
      local key = is_identifier(k) and k or "[" .. render(k, opts, depth + 1, seen, json) .. "]"
      shown = key .. " = " .. shown
    end
    parts[#parts + 1] = shown
  end
  seen[v] = nil
  if #parts == 0 then return name .. "{}" end
  local one = name .. "{ " .. concat(parts, ", ") .. " }"
  if not multiline and #one + depth * 2 <= (opts.width or M.width) then return one end
  -- children are rendered relative to column 0; each level indents its own lines by two
  local lines = { name .. "{" }
  for i, p in ipairs(parts) do
    lines[#lines + 1] = "  " .. p:gsub("\n", "\n  ") .. (i < #parts and "," or "")
  end
  lines[#lines + 1] = "}"
  return concat(lines, "\n")
end

--- Any value for display: strings as M.bytes, tables indented (sorted keys; one line when they
--- fit), JSON objects from quarry.json in their own key order, values with __tostring through
--- it. opts: max (bytes of a string), hex, items, depth, width.
function M.value(v, opts)
  return render(v, opts or {}, 0, {}, json_module())
end

--- An error for display: quarry errors and other values with __tostring through tostring,
--- strings as they are, anything else pretty-printed.
function M.error(e)
  if type(e) == "string" then return e end
  local mt = getmetatable(e)
  if mt and mt.__tostring then return tostring(e) end
  if type(e) == "table" and type(e.message) == "string" then return e.message end
  return M.value(e)
end

return M

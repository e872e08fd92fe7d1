-- quarry.cli.inspect.keys: keys as people type them (command line, shell built-ins, completion) and
-- keys as ldb prints them. One parser for every inspection tool; docs/shell.md lists the forms.
local M = {}

local byte, char, format = string.byte, string.char, string.format

-- ---- hex ---------------------------------------------------------------------------------------

--- Lowercase hex of s.
function M.tohex(s)
  return (s:gsub(".", function(c) return format("%02x", byte(c)) end))
end

--- Bytes of a hex string (either case, no prefix); nil, message when it is not hex.
function M.fromhex(h)
  if #h % 2 == 1 then return nil, "odd number of hex digits in '" .. h .. "'" end
  if h:find("[^0-9a-fA-F]") then return nil, "not a hex string: '" .. h .. "'" end
  return (h:gsub("..", function(x) return char(tonumber(x, 16)) end))
end

-- ---- quoted literals: the escapes of Lua's own string literals --------------------------------

local simple_escapes = { a = "\a", b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", v = "\v",
  ["\\"] = "\\", ['"'] = '"', ["'"] = "'", ["\n"] = "\n" }

--- Decodes a Lua-style quoted literal ("..." or '...', escapes \n \t \\ \" \' \xHH \ddd \z
--- \u{XXX}); nil, message when it is malformed.
function M.unquote(text)
  local q = text:sub(1, 1)
  if (q ~= '"' and q ~= "'") or #text < 2 or text:sub(-1) ~= q then
    return nil, "unterminated quoted key " .. text
  end
  local body, out, i = text:sub(2, -2), {}, 1
  while i <= #body do
    local c = body:sub(i, i)
    if c == q then return nil, "unescaped quote inside " .. text end
    if c ~= "\\" then
      out[#out + 1] = c
      i = i + 1
    else
      local e = body:sub(i + 1, i + 1)
      if simple_escapes[e] then
        out[#out + 1] = simple_escapes[e]
        i = i + 2
      elseif e == "x" then
        local h = body:match("^%x%x", i + 2)
        if not h then return nil, "bad \\x escape in " .. text end
        out[#out + 1] = char(tonumber(h, 16))
        i = i + 4
      elseif e:match("%d") then
        local d = body:match("^%d%d?%d?", i + 1)
        local n = tonumber(d)
        if n > 255 then return nil, "decimal escape too large in " .. text end
        out[#out + 1] = char(n)
        i = i + 1 + #d
      elseif e == "z" then
        i = (body:find("[^%s]", i + 2)) or (#body + 1)
      elseif e == "u" then
        local h = body:match("^{(%x+)}", i + 2)
        if not h then return nil, "bad \\u escape in " .. text end
        out[#out + 1] = utf8.char(tonumber(h, 16))
        i = i + 4 + #h
      else
        return nil, "invalid escape \\" .. e .. " in " .. text
      end
    end
  end
  return table.concat(out)
end

-- ---- the chain store's key encodings (quarry.chain.codec when it is installed) ----------------

local function chain_codec()
  local ok, codec = pcall(require, "quarry.chain.codec")
  if ok and type(codec) == "table" then return codec end
  return nil
end

local function uint(text, what)
  local n = text:match("^%d+$") and math.tointeger(tonumber(text))
  if not n then
    local h = text:match("^0[xX](%x+)$")
    n = h and #h <= 16 and math.tointeger(tonumber(h, 16))
  end
  if not n then return nil, what .. " must be a non-negative integer, got '" .. text .. "'" end
  return n
end

-- hash:/tx: the chain store's hashes and txs keys: tag 1 + raw bytes for even-length hex (stored
-- lowercase), tag 0 + the text otherwise (quarry.chain.codec.skey).
local function skey(text)
  local codec = chain_codec()
  if #text > 0 and #text % 2 == 0 and not text:find("[^0-9a-fA-F]") then text = text:lower() end
  if codec and codec.skey then return codec.skey(text) end
  if #text > 0 and #text % 2 == 0 and not text:find("[^0-9a-f]") then
    return "\1" .. M.fromhex(text)
  end
  return "\0" .. text
end

-- The prefixed forms: name -> function(rest) -> bytes | nil, message.
M.forms = {
  str = function(rest) return rest end,
  height = function(rest)
    local n, err = uint(rest, "height")
    if not n then return nil, err end
    return string.pack(">I8", n)
  end,
  hash = skey,
  tx = skey,
  utxo = function(rest)
    local h, t, n = rest:match("^([^:]+):([^:]+):([^:]+)$")
    if not h then return nil, "utxo key must be utxo:HEIGHT:TX:OUTPUT, got 'utxo:" .. rest .. "'" end
    local codec = chain_codec()
    if not (codec and codec.ukey) then return nil, "utxo: keys need quarry.chain.codec" end
    local vals = {}
    for i, part in ipairs({ h, t, n }) do
      local v, err = uint(part, "utxo field")
      if not v then return nil, err end
      vals[i] = v
    end
    return codec.ukey(vals[1], vals[2], vals[3])
  end,
}

--- Parses a key as typed. Forms, first match wins:
---   "..." or '...'   a Lua string literal (escapes \xHH, \ddd, \n ...): exactly those bytes
---   0x<hex>          hex bytes (either case; "0x" alone is the empty key)
---   str:<text>       the text after "str:" (to write a key that looks like another form)
---   height:<n>       8-byte big-endian integer (the chain store's blocks and undo families)
---   hash:<hex>, tx:<id>  the chain store's hashes / txs keys; utxo:<h>:<t>:<n> its utxo keys
---   anything else    the text itself
--- With opts.hex (ldb's --key_hex), text that is not a literal or a typed form (name:...) is
--- hex, with or without 0x: anything else there ("zz", odd digits) is refused, as ldb does.
--- Returns bytes, or nil and a message.
function M.parse(text, opts)
  if type(text) ~= "string" then return nil, "key expected, got " .. type(text) end
  local first = text:sub(1, 1)
  local typed = first == '"' or first == "'" or M.forms[text:match("^(%l+):") or ""] ~= nil
  if opts and opts.hex and not typed then
    return M.fromhex((text:gsub("^0[xX]", "")))
  end
  if first == '"' or first == "'" then return M.unquote(text) end
  local h = text:match("^0[xX](.*)$")
  if h then return M.fromhex(h) end
  local name, rest = text:match("^(%l+):(.*)$")
  if name and M.forms[name] then return M.forms[name](rest) end
  return text
end

--- Like parse, but raises the message (a plain error, no position).
function M.check(text, opts)
  local k, err = M.parse(text, opts)
  if k == nil then error(err, 0) end
  return k
end

--- A prefix as typed, for completion and --prefix: like parse, but an odd hex digit count is
--- allowed (the last digit then filters the candidates). Returns bytes, the partial digit or nil.
function M.parse_prefix(text)
  local h = text:match("^0[xX](%x*)$")
  if h then
    if #h % 2 == 1 then return M.fromhex(h:sub(1, -2)), h:sub(-1) end
    return M.fromhex(h)
  end
  return M.parse(text)
end

-- ---- keys as text ------------------------------------------------------------------------------

local function plain(s)
  -- printable ASCII, no blanks or quotes, and not mistakable for another form
  return #s > 0 and not s:find("[^\33-\126]") and not s:find("^[\"']")
    and not s:find("^0[xX]") and not (s:match("^(%l+):") and M.forms[s:match("^(%l+):")])
end

--- The shortest form parse() reads back to exactly s: the text itself when it is plain
--- printable ASCII, else 0x<hex>.
function M.typed(s)
  if plain(s) then return s end
  return "0x" .. M.tohex(s)
end

--- ldb's output form: with hex, "0x" and uppercase hex; else the bytes themselves.
function M.ldb(s, hex)
  if hex then return "0x" .. M.tohex(s):upper() end
  return s
end

--- For key completion inside a Lua string literal: s escaped for a "..." literal (without the
--- quotes).
function M.escape(s)
  return (s:gsub('[%c"\\\128-\255]', function(c)
    local b = byte(c)
    if c == "\\" then return "\\\\" end
    if c == '"' then return '\\"' end
    if c == "\n" then return "\\n" end
    if c == "\t" then return "\\t" end
    return format("\\x%02x", b)
  end))
end

return M

-- quarry.cli.inspect.complete: Tab completion for the shell: built-in commands, their options,
-- family names, keys (found by seeking in the family) and Lua names (methods after ':' or '.').
local keys = require("quarry.cli.inspect.keys")
local builtins = require("quarry.cli.inspect.builtins")

local M = {}

--- At most this many keys are offered for one completion.
M.max_keys = 50

local keywords = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while" }

local function sorted_unique(list)
  table.sort(list)
  local out = {}
  for _, v in ipairs(list) do
    if out[#out] ~= v then out[#out + 1] = v end
  end
  return out
end

local function starts(s, prefix) return s:sub(1, #prefix) == prefix end

-- ---- keys ----------------------------------------------------------------------------------------

-- Keys of handle (a db or cf) starting with what typed means, in the form typed uses:
--   "hex": 0x<hex> (typed starts with 0x); "text": keys.typed forms; "literal": escaped for a
--   Lua "..." literal (inside a string, or after an opening quote in a built-in).
local function key_candidates(handle, typed, form)
  local prefix, partial
  if form == "literal" then
    prefix = keys.unquote('"' .. typed .. '"')
    if not prefix then return {} end
  else
    local ok, p, nibble = pcall(keys.parse_prefix, typed)
    if not ok or p == nil then return {} end
    prefix, partial = p, nibble
    if typed:find("^0[xX]") then form = "hex" end
    if form ~= "hex" and p ~= typed then return {} end -- a height:/hash: form: nothing to extend
  end
  local out = {}
  local iopts = { keys_only = true, limit = M.max_keys * 4 }
  if #prefix > 0 then iopts.prefix = prefix end
  local upper = typed:find("^0[xX]%x*[A-F]") ~= nil
  for k in handle:pairs(iopts) do
    local shown
    if form == "hex" then
      shown = typed:sub(1, 2) .. keys.tohex(k)
      if upper then shown = typed:sub(1, 2) .. keys.tohex(k):upper() end
      if partial and shown:sub(#typed, #typed):lower() ~= partial:lower() then shown = nil end
    elseif form == "literal" then
      shown = keys.escape(k)
    else
      shown = keys.typed(k)
    end
    if shown and starts(shown, typed) then out[#out + 1] = shown end
    if #out >= M.max_keys then break end
  end
  return out
end
M.key_candidates = key_candidates

-- ---- Lua values ----------------------------------------------------------------------------------

-- The field name of v, looked up without running code: raw fields, then __index tables.
local function field(v, name)
  local seen = 0
  while v ~= nil and seen < 8 do
    seen = seen + 1
    if type(v) == "table" then
      local r = rawget(v, name)
      if r ~= nil then return r end
    end
    local mt = getmetatable(v)
    local idx = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(idx) ~= "table" then
      if type(v) == "string" then return string[name] end
      return nil
    end
    v = idx
  end
  return nil
end

-- Names reachable on v (raw fields and __index tables); only functions when methods.
local function names_of(v, methods)
  local out, seen = {}, 0
  if type(v) == "string" then v = string end
  while v ~= nil and seen < 8 do
    seen = seen + 1
    if type(v) == "table" then
      for k, x in next, v do
        if type(k) == "string" and k:match("^[%a_][%w_]*$") and (not methods or type(x) == "function") then
          out[#out + 1] = k
        end
      end
    end
    local mt = getmetatable(v)
    local idx = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(idx) ~= "table" then break end
    v = idx
  end
  return out
end

-- Parses an expression made of names, .field, :method and :cf("name") (the only call evaluated)
-- into steps. Returns steps or nil.
local function parse_path(s)
  local steps, i = {}, 1
  local name = s:match("^[%a_][%w_]*", i)
  if not name then return nil end
  steps[1] = { "name", name }
  i = i + #name
  while i <= #s do
    local sep = s:sub(i, i)
    if sep ~= "." and sep ~= ":" then return nil end
    local n = s:match("^[%a_][%w_]*", i + 1) or ""
    i = i + 1 + #n
    local call_arg = s:match('^%(%s*"([^"\\]*)"%s*%)', i) or s:match("^%(%s*'([^'\\]*)'%s*%)", i)
    if call_arg then
      if n ~= "cf" then return nil end
      steps[#steps + 1] = { "cf", call_arg }
      i = i + #s:match("^%b()", i)
    else
      steps[#steps + 1] = { sep, n }
    end
  end
  return steps
end

local function evaluate(steps, last, env)
  local v = field(env, steps[1][2])
  for i = 2, last do
    if v == nil then return nil end
    local kind, name = steps[i][1], steps[i][2]
    if kind == "cf" then
      local cf = field(v, "cf")
      if type(cf) ~= "function" then return nil end
      local ok, r = pcall(cf, v, name)
      v = ok and r or nil
    else
      v = field(v, name)
    end
  end
  return v
end

-- Completes a Lua path ending the text before the cursor. Returns candidates (each the whole
-- path, completed) and the position where the path starts, or nil.
local function complete_path(before, env)
  local tail = before:match("[%a_][%w_%.:%(%)\"' ]*$")
  if not tail then return nil end
  -- the shortest suffix that parses as a path ending in a (partial) name
  local start = #before - #tail + 1
  for s = start, #before do
    local piece = before:sub(s)
    if piece:match("^[%a_]") and (s == 1 or not before:sub(s - 1, s - 1):match("[%w_]")) then
      local steps = parse_path(piece)
      if steps and steps[#steps][1] ~= "cf" then
        local partial = steps[#steps][2]
        local out = {}
        if #steps == 1 then
          local names = names_of(env, false)
          for _, k in ipairs(keywords) do names[#names + 1] = k end
          for _, n in ipairs(names) do
            if starts(n, partial) then out[#out + 1] = n end
          end
        else
          local base = evaluate(steps, #steps - 1, env)
          if base == nil then return {}, s end
          local head = piece:sub(1, #piece - #partial)
          for _, n in ipairs(names_of(base, steps[#steps][1] == ":")) do
            if starts(n, partial) and (partial:sub(1, 1) == "_" or n:sub(1, 1) ~= "_") then
              out[#out + 1] = head .. n
            end
          end
        end
        return sorted_unique(out), s
      end
    end
  end
  return nil
end

-- Inside a string literal: the position of its opening quote, or nil.
local function open_string(before)
  local i, quote, qpos = 1, nil, nil
  while i <= #before do
    local c = before:sub(i, i)
    if quote then
      if c == "\\" then i = i + 1 elseif c == quote then quote = nil end
    elseif c == '"' or c == "'" then
      quote, qpos = c, i
    elseif c == "-" and before:sub(i, i + 1) == "--" then
      return nil
    end
    i = i + 1
  end
  return quote and qpos or nil
end

local key_methods = { get = true, put = true, delete = true, seek = true, seek_for_prev = true }

local function complete_in_string(before, qpos, ctx)
  local typed = before:sub(qpos + 1)
  local head = before:sub(1, qpos - 1)
  local obj, method = head:match("([%a_][%w_%.:%(%)\"']*)[:%.]([%a_]+)%s*%(%s*$")
  if not obj then return nil end
  local steps = parse_path(obj)
  if not steps then return nil end
  local target = evaluate(steps, #steps, ctx.env)
  if target == nil then return nil end
  if method == "cf" then
    local ok, names = pcall(function() return target:column_families() end)
    if not ok then return nil end
    local out = {}
    for _, n in ipairs(names) do
      if starts(n, typed) then out[#out + 1] = n end
    end
    return out, qpos + 1
  end
  if key_methods[method] and type(field(target, "pairs")) == "function" then
    return key_candidates(target, typed, "literal"), qpos + 1
  end
  return nil
end

-- ---- built-ins -----------------------------------------------------------------------------------

local takes_family = { scan = true, get = true, count = true, props = true, size = true, stats = true }

local function families(ctx)
  local ok, names = pcall(function() return ctx.session.db:column_families() end)
  return ok and names or {}
end

local function complete_builtin(before, ctx)
  local words = builtins.words(before)
  local current
  if #words == 0 or before:match("%s$") and not words[#words].open then
    current = { text = "", first = #before + 1 }
  else
    current = table.remove(words)
  end
  if #words == 0 then -- the command name
    local out = {}
    for _, n in ipairs(builtins.names()) do
      if starts("." .. n, current.text) then out[#out + 1] = "." .. n end
    end
    return out, current.first, " "
  end
  local name = words[1].text:match("^%.(.*)$")
  local spec = name and builtins.find(name)
  if not spec then return {}, current.first end
  if name == "help" then
    local out = {}
    for _, n in ipairs(builtins.names()) do
      if starts(n, current.text) then out[#out + 1] = n end
    end
    return out, current.first, " "
  end
  local prev = words[#words] and words[#words].text or ""
  local opt = prev:match("^%-%-([%w-]+)$")
  local positional, family = {}, nil
  do
    local i = 2
    while i <= #words do
      local o = words[i].text:match("^%-%-([%w-]+)$")
      if o and spec.options[o] and spec.options[o] ~= true then i = i + 1
      elseif not o then positional[#positional + 1] = words[i].text end
      i = i + 1
    end
  end
  local fams = families(ctx)
  local is_family = {}
  for _, n in ipairs(fams) do is_family[n] = true end
  if positional[1] and is_family[builtins.text_of(positional[1])] then family = builtins.text_of(positional[1]) end
  local handle = function()
    local ok, h = pcall(ctx.session.cf, ctx.session, family)
    return ok and h or nil
  end
  local function keys_here(typed, first)
    typed, first = typed or current.text, first or current.first
    local h = handle()
    if not h then return {}, first end
    if typed:match("^[\"']") then
      return key_candidates(h, typed:sub(2), "literal"), first + 1, ""
    end
    return key_candidates(h, typed, "text"), first, " "
  end
  if opt and spec.options[opt] == "key" then return keys_here() end
  local eq_opt, eq_value = current.text:match("^%-%-([%w-]+)=(.*)$")
  if eq_opt and spec.options[eq_opt] == "key" then -- --from=PREFIX
    return keys_here(eq_value, current.first + #eq_opt + 3)
  end
  if opt and spec.options[opt] and spec.options[opt] ~= true then return {}, current.first end
  if current.text:match("^%-") then
    local out = {}
    for o in pairs(spec.options) do
      if starts("--" .. o, current.text) then out[#out + 1] = "--" .. o end
    end
    return sorted_unique(out), current.first, " "
  end
  if takes_family[name] and #positional == 0 then
    local out = {}
    for _, n in ipairs(fams) do
      if starts(n, current.text) then out[#out + 1] = n end
    end
    if name == "get" or name == "size" then -- a key of the default family also fits here
      for _, k in ipairs((keys_here())) do out[#out + 1] = k end
    end
    return sorted_unique(out), current.first, " "
  end
  if (name == "get" or name == "size") and (family or name == "size") then return keys_here() end
  return {}, current.first
end

-- ---- the readline completer ----------------------------------------------------------------------

-- Candidates replace the text from position start to the cursor; readline replaces its own word
-- (from `from`): shift the candidates to that word and keep those that extend it.
local function relative(cands, start, line, from, to)
  local word = line:sub(from, to)
  local out = {}
  for _, c in ipairs(cands) do
    local r
    if start < from then
      local cut = line:sub(start, from - 1)
      if starts(c, cut) then r = c:sub(#cut + 1) end
    else
      r = line:sub(from, start - 1) .. c
    end
    if r and starts(r, word) then out[#out + 1] = r end
  end
  return out
end

--- Completions for line (readline's whole line), the word from..to (1-based, inclusive) ending at
--- the cursor. ctx: session, env, set_append(char) (readline's character after a unique match).
--- Returns a list of replacements for the word. Never raises.
function M.complete(ctx, line, from, to)
  local ok, res = pcall(function()
    local before = line:sub(1, to)
    local cands, start, append
    if before:match("^%s*%.") then
      local indent = #before:match("^%s*")
      cands, start, append = complete_builtin(before:sub(indent + 1), ctx)
      start = start + indent
    else
      local qpos = open_string(before)
      if qpos then
        cands, start = complete_in_string(before, qpos, ctx)
      else
        cands, start = complete_path(before, ctx.env)
      end
      append = ""
    end
    if not cands then return {} end
    if ctx.set_append then ctx.set_append(append or "") end
    return relative(cands, start, line, from, to)
  end)
  if ok then return res end
  return {}
end

return M

-- quarry.chain.formats: the registry of dump formats (docs/formats.md) and what every format
-- shares: loading one by name or file, the renames between a record and the model, reading an
-- amount in the format's unit, and opening a dump where its blocks are.
local json = require("quarry.json")
local u256 = require("quarry.u256")

local getmetatable, rawget, rawset, type = getmetatable, rawget, rawset, type
local mtype = math.type
local OBJ, ARR, NUM = json.object_mt, json.array_mt, json.number_mt

local M = {}

-- The built-in formats, in the order `quarry formats` lists them.
M.BUILTIN = { "quarry", "auriumchain", "bitcoin-core", "ethereum-rpc" }
M.DEFAULT = "quarry"

local LEVELS = { "block", "tx", "input", "output" }
local MODEL_FIELDS = {
  block = { index = true, hash = true, previous_hash = true, transactions = true },
  tx = { id = true, inputs = true, outputs = true },
  input = { tx_id = true, output_index = true },
  output = { amount = true, address = true },
}
local UNITS = { integer = true, decimal = true, quantity = true }

local function fail(fmt, ...) error(fmt:format(...), 0) end

-- The default coinbase rule: the first transaction, when it has no inputs.
local function default_coinbase(tx, t)
  if t ~= 1 then return false end
  local ins = rawget(tx, "inputs")
  return ins == nil or #ins == 0
end

-- Builds the record -> model and model -> record key maps of each level from `fields`.
local function key_maps(name, fields)
  local to_model, to_record = {}, {}
  local identity = true
  for _, level in ipairs(LEVELS) do
    local f = fields and fields[level] or {}
    local fwd, back = {}, {}
    for model_name, record_name in pairs(f) do
      if not MODEL_FIELDS[level][model_name] then
        fail("format %s: fields.%s.%s: not a model field (one of %s)", name, level,
          tostring(model_name), table.concat((function()
            local t = {}
            for k in pairs(MODEL_FIELDS[level]) do t[#t + 1] = k end
            table.sort(t)
            return t
          end)(), ", "))
      end
      if type(record_name) ~= "string" or record_name == "" then
        fail("format %s: fields.%s.%s must be a member name (a string)", name, level, model_name)
      end
      if record_name ~= model_name then
        fwd[record_name], back[model_name] = model_name, record_name
        identity = false
      end
    end
    to_model[level], to_record[level] = fwd, back
  end
  return to_model, to_record, identity
end

-- The rules quarry.chain.fast implements in C, by name (docs/chain-fast.md): a format's Lua
-- coinbase() or unspendable() may declare that it is one of them with `native = { coinbase =
-- NAME, unspendable = NAME }`; spec/27 migrates the fixtures both ways and compares the stores.
M.NATIVE_COINBASE = { ["first-without-inputs"] = true, auriumchain = true, ["bitcoin-core"] = true }
M.NATIVE_UNSPENDABLE = { ["bitcoin-core"] = true }

-- formats.native_rules(p [, fmt, origin]) -> the rules table quarry.chain.fast.new takes, or nil
-- when the prepared format p is not declared as data: its own decode() or encode(), a coinbase()
-- or unspendable() function without a native name, or a scale beyond 18 digits.
function M.native_rules(p, fmt, origin)
  fmt = fmt or p
  local native = fmt.native
  if native ~= nil then
    if type(native) ~= "table" then fail("format %s: `native` must be a table", tostring(p.name or origin)) end
    if native.coinbase ~= nil and not M.NATIVE_COINBASE[native.coinbase] then
      fail("format %s: native.coinbase %s is not a rule quarry.chain.fast knows", p.name, tostring(native.coinbase))
    end
    if native.unspendable ~= nil and not M.NATIVE_UNSPENDABLE[native.unspendable] then
      fail("format %s: native.unspendable %s is not a rule quarry.chain.fast knows", p.name,
        tostring(native.unspendable))
    end
  end
  native = native or {}
  if fmt.decode or fmt.encode then return nil end
  local coinbase = native.coinbase
  if fmt.coinbase == nil then coinbase = "first-without-inputs"
  elseif coinbase == nil then return nil end
  if fmt.unspendable ~= nil and native.unspendable == nil then return nil end
  local amount = p.amount
  if amount.unit == "decimal" and amount.scale > 18 then return nil end
  return { coinbase = coinbase, unspendable = native.unspendable, unit = amount.unit,
    scale = amount.scale or 0, empty_hash = p.relax.empty_hash == true,
    duplicate_hash = p.relax.duplicate_hash == true, dump_format = p.name,
    object_mt = OBJ, array_mt = ARR, number_mt = NUM }
end

-- Checks a format table and fills in the defaults. Raises naming the format and the field.
function M.prepare(fmt, origin)
  if type(fmt) ~= "table" then fail("format %s: the module must return a table", origin) end
  local name = fmt.name
  if type(name) ~= "string" or name == "" then fail("format %s: `name` must be a string", origin) end
  local amount = fmt.amount or { unit = "integer" }
  if type(amount) == "string" then amount = { unit = amount } end
  if not UNITS[amount.unit] then
    fail("format %s: amount.unit must be \"integer\", \"decimal\" or \"quantity\", got %s", name,
      tostring(amount.unit))
  end
  if amount.unit == "decimal" then
    local s = amount.scale
    if mtype(s) ~= "integer" or s < 0 or s > 77 then
      fail("format %s: amount.scale must be an integer in 0..77 for unit \"decimal\"", name)
    end
  end
  for _, k in ipairs({ "coinbase", "unspendable", "decode", "encode", "writer", "is_record" }) do
    if fmt[k] ~= nil and type(fmt[k]) ~= "function" then
      fail("format %s: `%s` must be a function", name, k)
    end
  end
  local p = {}
  for k, v in pairs(fmt) do p[k] = v end
  p.amount = amount
  p.origin = origin
  p.coinbase = fmt.coinbase or default_coinbase
  p.relax = fmt.relax or {}
  p.container = fmt.container or { "array", "jsonl" }
  p.to_model, p.to_record, p.identity = key_maps(name, fmt.fields)
  p.read_amount = M.amount_reader(amount)
  p.summary = fmt.summary or ""
  p.fast_rules = M.native_rules(p, fmt, origin)
  return p
end

local cache = {}

-- formats.load(name_or_file) -> format: a built-in name ("quarry", "auriumchain",
-- "bitcoin-core") or a path to a Lua file returning a format table.
function M.load(spec)
  spec = spec or M.DEFAULT
  if cache[spec] then return cache[spec] end
  local fmt = require("quarry.chain.plugin").load("format", spec, "quarry.chain.formats", M.BUILTIN)
  local origin = spec
  local p = M.prepare(fmt, origin)
  cache[spec] = p
  return p
end

-- formats.is_builtin(name) -> boolean
function M.is_builtin(name)
  for _, n in ipairs(M.BUILTIN) do if n == name then return true end end
  return false
end

-- formats.list() -> { format, ... }: the built-in formats.
function M.list()
  local t = {}
  for _, n in ipairs(M.BUILTIN) do t[#t + 1] = M.load(n) end
  return t
end

---------------------------------------------------------------------------------------------------
-- Amounts
---------------------------------------------------------------------------------------------------

local function show(v)
  local ok, s = pcall(json.encode, v)
  if not ok then s = tostring(v) end
  if #s > 80 then s = s:sub(1, 77) .. "..." end
  return s
end

-- formats.amount_reader(amount) -> read(raw) -> amount | nil, reason. An amount is a Lua integer
-- below 2^63 or a quarry.u256 (u256.norm); raw is the record's own JSON value.
function M.amount_reader(amount)
  local unit, scale = amount.unit, amount.scale
  local parse, new, norm = u256.parse, u256.new, u256.norm
  if unit == "integer" then
    return function(raw)
      if mtype(raw) == "integer" then
        if raw >= 0 then return raw end
        return nil, "must not be negative, got " .. raw
      end
      if getmetatable(raw) == NUM then
        local ok, v = pcall(new, raw.text)
        if ok then return norm(v) end
        return nil, "must be an integer in 0..2^256-1, got " .. raw.text
      end
      return nil, "must be an integer in 0..2^256-1, got " .. show(raw)
    end
  elseif unit == "decimal" then
    return function(raw)
      local text
      if mtype(raw) == "integer" then
        if raw < 0 then return nil, "must not be negative, got " .. raw end
        text = raw
      elseif getmetatable(raw) == NUM then
        text = raw.text
      else
        return nil, ("must be a decimal number with at most %d decimals, got %s"):format(scale,
          show(raw))
      end
      local ok, v = pcall(parse, text, scale)
      if ok then return norm(v) end
      return nil, ("must be a non-negative decimal with at most %d decimals, up to 2^256-1 " ..
        "units, got %s"):format(scale, tostring(text))
    end
  else -- quantity
    return function(raw)
      if type(raw) == "string" and raw:match("^0[xX]%x+$") then
        local ok, v = pcall(new, raw)
        if ok then return norm(v) end
        return nil, "must be a 0x quantity up to 2^256-1, got " .. raw
      end
      return nil, "must be a 0x hex quantity string, got " .. show(raw)
    end
  end
end

---------------------------------------------------------------------------------------------------
-- Renames: record <-> model, in place, member order kept
---------------------------------------------------------------------------------------------------

-- Renames the members of one object by map (from -> to), in place. Raises when the target name
-- is already a member (the record would be ambiguous).
local function rename(obj, map, where)
  if getmetatable(obj) ~= OBJ then return end
  for i = 1, #obj do
    local k = rawget(obj, i)
    local to = map[k]
    if to then
      if rawget(obj, to) ~= nil then
        fail("%s: members %q and %q both present (the format maps %q to %q)", where, k, to, k, to)
      end
      rawset(obj, i, to)
      rawset(obj, to, rawget(obj, k))
      rawset(obj, k, nil)
    end
  end
end

local function each(arr, fn)
  if type(arr) ~= "table" then return end
  local mt = getmetatable(arr)
  if mt ~= ARR and mt ~= nil then return end
  for i = 1, #arr do fn(arr[i], i) end
end

-- Applies the level maps to a block; names (model names after a decode, record names after an
-- encode) say where the nested arrays are once the level above is renamed.
local function walk(block, maps, where)
  if getmetatable(block) ~= OBJ then return block end
  rename(block, maps.block, where)
  local txs_name, ins_name, outs_name = maps.names.transactions, maps.names.inputs, maps.names.outputs
  each(rawget(block, txs_name), function(tx, t)
    if getmetatable(tx) ~= OBJ then return end
    local wt = where .. " transaction " .. (t - 1)
    rename(tx, maps.tx, wt)
    if next(maps.input) then
      each(rawget(tx, ins_name), function(inp, i) rename(inp, maps.input, wt .. " input " .. (i - 1)) end)
    end
    if next(maps.output) then
      each(rawget(tx, outs_name), function(out, o) rename(out, maps.output, wt .. " output " .. (o - 1)) end)
    end
  end)
  return block
end

local function maps_of(fmt, direction)
  local key = direction == "model" and "_to_model_maps" or "_to_record_maps"
  if fmt[key] then return fmt[key] end
  local src = direction == "model" and fmt.to_model or fmt.to_record
  local names = {}
  -- where the nested arrays are once their parent level is renamed
  local function name_in(level, model_name)
    if direction == "model" then return model_name end
    return fmt.to_record[level][model_name] or model_name
  end
  names.transactions = name_in("block", "transactions")
  names.inputs = name_in("tx", "inputs")
  names.outputs = name_in("tx", "outputs")
  local m = { block = src.block, tx = src.tx, input = src.input, output = src.output, names = names }
  fmt[key] = m
  return m
end

-- formats.decode(fmt, record, where) -> model (the record itself, renamed in place).
function M.decode(fmt, record, where)
  if fmt.decode then return fmt.decode(record, { where = where }) end
  if fmt.identity then return record end
  return walk(record, maps_of(fmt, "model"), where or "block")
end

-- formats.encode(fmt, model) -> record (the model itself, renamed back in place).
function M.encode(fmt, model)
  if fmt.encode then return fmt.encode(model, {}) end
  if fmt.identity then return model end
  return walk(model, maps_of(fmt, "record"), "block")
end

---------------------------------------------------------------------------------------------------
-- Dumps: where the blocks are
---------------------------------------------------------------------------------------------------

local function member_of(container)
  for _, c in ipairs(container) do
    if type(c) == "table" and c.member then return c.member end
  end
  return nil
end

-- The names of the top-level members of an object, as a list "a, b, c".
local function member_list(obj)
  local t = {}
  for i = 1, #obj do t[#t + 1] = tostring(rawget(obj, i)) end
  return table.concat(t, ", ")
end

-- Does an element look like a container of blocks rather than a block (no index field and at
-- least one member holding an array)?
local function looks_like_container(fmt, e)
  if getmetatable(e) ~= OBJ then return false end
  if fmt.is_record and fmt.is_record(e) then return false end -- the format knows its records
  local index_name = fmt.to_record.block.index or "index"
  if rawget(e, index_name) ~= nil then return false end
  for i = 1, #e do
    if getmetatable(rawget(e, rawget(e, i))) == ARR then return true end
  end
  return false
end

---------------------------------------------------------------------------------------------------
-- Inputs: a file, `-` (stdin), a pipe, a FIFO, a character device
---------------------------------------------------------------------------------------------------

local CHUNK = 64 * 1024
-- What a stream keeps of its start while the container is being detected (formats.open_dump).
M.PROBE_LIMIT = 16 * 1024 * 1024

-- formats.input(path) -> input: the dump at path opened once, read in chunks by input.read()
-- (nil at the end). input.name names it in messages ("stdin" for `-`); input.size is the size of a
-- regular file (seekable: input.rewind() goes back to its start), nil for a stream (`-`, a pipe
-- such as /dev/stdin, a FIFO, a character device), whose input.stream is true.
-- Raises "cannot open PATH[: reason]".
function M.input(path)
  local f, name, kind
  if path == "-" then
    f, name = io.stdin, "stdin"
  else
    local sys = require("quarry.sys")
    local why
    kind, why = sys.file_kind(path)
    if kind == nil then
      fail("cannot open %s: %s", path, why == "missing" and "No such file or directory" or tostring(why))
    end
    if kind == "directory" then fail("cannot open %s: it is a directory, not a dump", path) end
    local err
    f, err = io.open(path, "rb") -- a FIFO: waits for its writer, once
    if not f then fail("cannot open %s", tostring(err)) end
    name = path
  end
  local size
  if path ~= "-" and (kind == "file" or kind == "link") then
    size = f:seek("end") -- nil on a pipe, a FIFO, a terminal behind a link (/dev/stdin)
    if size then f:seek("set", 0) end
  end
  local input = { path = path, name = name, size = size, stream = size == nil }
  function input.read()
    local s, err = f:read(CHUNK)
    if s == nil and err then fail("cannot read %s: %s", name, tostring(err)) end
    return s
  end
  function input.rewind()
    if not size then return false end
    f:seek("set", 0)
    return true
  end
  function input.close()
    if f and f ~= io.stdin then f:close() end
    f = nil
  end
  return input
end

-- A source for json.reader over input that keeps what it hands out, up to PROBE_LIMIT bytes,
-- until stop(); rewind() then gives those bytes again before the rest (false when more were read:
-- a seekable input seeks back to its start instead).
local function probe_source(input)
  local kept, nkept, keeping, over = {}, 0, true, false
  local replay, ri
  local src = {}
  function src.read()
    if replay then
      local s = replay[ri]
      ri = ri + 1
      if ri > #replay then replay = nil end
      if s then return s end
    end
    local s = input.read()
    if keeping and s then
      nkept = nkept + #s
      if nkept > M.PROBE_LIMIT then keeping, over, kept = false, true, nil
      else kept[#kept + 1] = s end
    end
    return s
  end
  function src.stop() keeping, kept = false, nil end
  function src.rewind()
    if input.rewind() then
      keeping, kept, replay = false, nil, nil
      return true
    end
    if over or not kept then return false end
    replay, ri, keeping, kept = kept, 1, false, nil
    if #replay == 0 then replay = nil end
    return true
  end
  return src
end

-- A dump reader: a quarry.json reader over an input, with an element read ahead (the one the
-- container was detected from) given first, and the input's size.
local Dump = {}
Dump.__index = Dump
Dump.__close = function(self) self:close() end
Dump.__gc = function(self) self:close() end

local function new_dump(r, input, ahead, has_ahead)
  return setmetatable({ r = r, input = input, ahead = ahead, has_ahead = has_ahead,
    size0 = input.size }, Dump)
end

function Dump:next()
  if self.has_ahead then
    self.has_ahead = false
    local e = self.ahead
    self.ahead = nil
    return e
  end
  return self.r:next()
end
function Dump:each() return Dump.next, self, nil, self end
function Dump:offset()
  if self.has_ahead then return 0 end
  return self.r:offset()
end
function Dump:compressed_offset() return self.r:compressed_offset() end
function Dump:size() return self.size0 end
function Dump:header() return self.r:header() end
function Dump:format() return self.r:format() end
function Dump:complete() return self.r:complete() end
function Dump:name() return self.input.name end
function Dump:streaming() return self.input.stream end
function Dump:close()
  if self.r then self.r:close() end
  if self.input then self.input.close() end
end

-- formats.open_dump(fmt, path_or_input [, key]) -> reader (next, each, offset, compressed_offset,
-- size, header, format, complete, close) positioned before the first block; r:next() gives
-- records. path_or_input: a path, `-` or a formats.input. key: the member holding the blocks
-- (--key), overriding the format's. The container (an array, JSON Lines, an object holding the
-- blocks under the format's member or "blocks") and LZ4 are told from the content, the input
-- opened once: an element is read ahead, and a stream keeps its first bytes (PROBE_LIMIT) to read
-- them again when the format's member is not there. Raises "no array of blocks in F (members:
-- ...)" when the blocks are not found.
function M.open_dump(fmt, path, key)
  local input = type(path) == "table" and path or M.input(path)
  local name = input.name
  local ok, res = pcall(function()
    local base = input.path:gsub("%.lz4$", "")
    local jsonl = base:match("%.jsonl$") or base:match("%.ndjson$")
    if key then return new_dump(json.reader(input.read, { format = "object", key = key, name = name }), input) end
    if jsonl then return new_dump(json.reader(input.read, { format = "jsonl", name = name }), input) end
    local src = probe_source(input)
    local member = member_of(fmt.container)
    if member then
      local r = json.reader(src.read, { format = "auto", key = member, name = name })
      local okn, first = pcall(r.next, r)
      if okn then
        src.stop()
        return new_dump(r, input, first, true)
      end
      r:close()
      if not tostring(first):find("has no member", 1, true) then error(first, 0) end
      if not src.rewind() then
        error(("cannot tell where the blocks are in %s: its first top-level value has no member %q " ..
          "and is larger than %d MiB, too much to keep from a stream: use --key NAME or --format NAME")
          :format(name, member, M.PROBE_LIMIT // (1024 * 1024)), 0)
      end
    end
    -- An array, JSON Lines, or an object holding the blocks under "blocks".
    src.stop()
    local r = json.reader(src.read, { format = "auto", name = name })
    local okn, first = pcall(r.next, r)
    if not okn then
      r:close()
      error(first, 0)
    end
    if r:format() == "jsonl" and looks_like_container(fmt, first) then
      local members = member_list(first)
      r:close()
      error(("no array of blocks in %s (members: %s): use --key NAME or --format NAME"):format(
        name, members), 0)
    end
    return new_dump(r, input, first, true)
  end)
  if not ok then
    input.close()
    error(res, 0)
  end
  return res
end

-- formats.file_size(path) -> bytes of a regular file (nil for anything else: a stream, a
-- missing file).
function M.file_size(path)
  if path == "-" then return nil end
  local kind = require("quarry.sys").file_kind(path)
  if kind ~= "file" and kind ~= "link" then return nil end
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end


return M

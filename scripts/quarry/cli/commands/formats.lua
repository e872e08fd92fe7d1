-- quarry formats: lists the dump formats (--format) and the store layouts (--layout), or checks a
-- user's format file and prints what it declares (docs/formats.md, docs/tools.md).
local cli = require("quarry.cli")

local M = { summary = "list the dump formats and store layouts, or check a FILE.lua format" }

-- The built-in default layout: the chain store itself (quarry.chain), listed first.
M.DEFAULT_LAYOUT = {
  name = "quarry-chain",
  summary = "the chain store: blocks, hashes, txs, utxo, undo, meta families",
}

local function shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

---------------------------------------------------------------------------------------------------
-- Describing a format: each declaration as text and as JSON
---------------------------------------------------------------------------------------------------

-- Where the blocks are: "member chain", "array", "jsonl", in the order they are tried.
local function container_words(fmt)
  local t = {}
  for _, c in ipairs(fmt.container) do
    if type(c) == "table" then t[#t + 1] = "member " .. tostring(c.member) else t[#t + 1] = tostring(c) end
  end
  return t
end

local function amount_text(a)
  if a.unit == "decimal" then return ("decimal, scale %d"):format(a.scale) end
  if a.unit == "quantity" then return "quantity (0x hex)" end
  return a.unit
end

-- The relaxations a format declares, sorted: { "empty_hash", ... }.
local function relaxed(fmt)
  local t = {}
  for k, v in pairs(fmt.relax) do
    if v then t[#t + 1] = tostring(k) end
  end
  table.sort(t)
  return t
end

-- The renames of each level as "model=record" words, in level order then sorted.
local function rename_words(fmt)
  local t = {}
  for _, level in ipairs({ "block", "tx", "input", "output" }) do
    local names = {}
    for model_name, record_name in pairs(fmt.to_record[level] or {}) do
      names[#names + 1] = ("%s.%s=%s"):format(level, model_name, record_name)
    end
    table.sort(names)
    table.move(names, 1, #names, #t + 1, t)
  end
  return t
end

-- The optional functions a format gives instead of the defaults.
local HOOKS = { "coinbase", "unspendable", "decode", "encode", "writer" }

-- The functions the format's own table gives (formats.prepare always sets coinbase, the default
-- rule when the file has none, so the prepared format cannot tell).
local function hooks_of(declared)
  local t = {}
  for _, k in ipairs(HOOKS) do
    if declared[k] ~= nil then t[#t + 1] = k end
  end
  return t
end

local function json_object(pairs_list)
  local json = require("quarry.json")
  local o = json.object()
  for i = 1, #pairs_list, 2 do
    local k, v = pairs_list[i], pairs_list[i + 1]
    o[#o + 1] = k
    o[k] = v
  end
  return o
end

local function json_array(t)
  return require("quarry.json").array(t)
end

-- A format as a JSON object (the --output json element).
local function format_json(fmt, declared)
  local json = require("quarry.json")
  local container = {}
  for i, c in ipairs(fmt.container) do
    container[i] = type(c) == "table" and json_object({ "member", c.member }) or c
  end
  local amount = json_object({ "unit", fmt.amount.unit })
  if fmt.amount.scale ~= nil then
    amount[#amount + 1] = "scale"
    amount.scale = fmt.amount.scale
  end
  local relax = json.object()
  for _, k in ipairs(relaxed(fmt)) do relax[k] = true end
  local fields = json.object()
  for _, level in ipairs({ "block", "tx", "input", "output" }) do
    local m = json.object()
    for model_name, record_name in pairs(fmt.to_record[level] or {}) do m[model_name] = record_name end
    if next(m) ~= nil then
      fields[#fields + 1] = level
      fields[level] = m
    end
  end
  return json_object({
    "name", fmt.name, "summary", fmt.summary, "origin", tostring(fmt.origin),
    "container", json_array(container), "amount", amount, "relax", relax, "fields", fields,
    "functions", json_array(hooks_of(declared or fmt)),
  })
end

---------------------------------------------------------------------------------------------------
-- Layouts
---------------------------------------------------------------------------------------------------

-- The directory of the layout modules (next to the formats), or nil.
local function layouts_dir()
  local file = package.searchpath("quarry.chain.formats", package.path)
  if not file then return nil end
  local chain = file:match("^(.*)/formats/[^/]*$")
  return chain and chain .. "/layouts" or nil
end

-- The module names of scripts/quarry/chain/layouts/*.lua, sorted (init.lua, a registry, left out).
local function layout_modules()
  local dir = layouts_dir()
  if not dir then return {} end
  local p = io.popen("ls -1 -- " .. shell_quote(dir) .. " 2>/dev/null")
  local t = {}
  if p then
    for name in p:lines() do
      local base = name:match("^([%w_]+)%.lua$")
      if base and base ~= "init" then t[#t + 1] = base end
    end
    p:close()
  end
  table.sort(t)
  return t
end

-- The layouts: { { name, summary, default = bool } ... }, quarry-chain first, and the errors of
-- the layout modules that did not load ({ "module: message" ... }).
function M.layouts()
  local out, errors, seen = {}, {}, {}
  local function add(l, is_default)
    if seen[l.name] then return end
    seen[l.name] = true
    out[#out + 1] = { name = l.name, summary = l.summary or "", default = is_default }
  end
  local list = {}
  for _, base in ipairs(layout_modules()) do
    local modname = "quarry.chain.layouts." .. base
    local ok, mod = pcall(require, modname)
    if ok and type(mod) == "table" and type(mod.name) == "string" then
      list[#list + 1] = mod
    else
      errors[#errors + 1] = ("%s: %s"):format(modname,
        ok and "the module returns no table with a `name`" or tostring(mod))
    end
  end
  for _, mod in ipairs(list) do
    if mod.name == M.DEFAULT_LAYOUT.name then add(mod, true) end
  end
  add(M.DEFAULT_LAYOUT, true)
  for _, mod in ipairs(list) do add(mod, false) end
  return out, errors
end

---------------------------------------------------------------------------------------------------
-- Output
---------------------------------------------------------------------------------------------------

-- Rows as aligned columns (the last column is not padded).
local function columns(header, rows)
  local widths = {}
  for _, r in ipairs({ header, table.unpack(rows) }) do
    for i = 1, #r - 1 do widths[i] = math.max(widths[i] or 0, #r[i]) end
  end
  local lines = {}
  for _, r in ipairs({ header, table.unpack(rows) }) do
    local cells = {}
    for i = 1, #r - 1 do cells[i] = r[i] .. string.rep(" ", widths[i] - #r[i]) end
    cells[#r] = r[#r]
    lines[#lines + 1] = table.concat(cells, "  ")
  end
  return lines
end

local function list_text(formats, layouts)
  local rows = {}
  for i, f in ipairs(formats) do
    local rel = relaxed(f)
    rows[i] = { f.name, table.concat(container_words(f), ", "), amount_text(f.amount),
      #rel > 0 and table.concat(rel, ", ") or "-", f.summary }
  end
  local out = columns({ "format", "blocks", "amount", "relaxed", "summary" }, rows)
  out[#out + 1] = ""
  local lrows = {}
  for i, l in ipairs(layouts) do
    lrows[i] = { l.name .. (l.default and i == 1 and " (default)" or ""), l.summary }
  end
  for _, line in ipairs(columns({ "layout", "summary" }, lrows)) do out[#out + 1] = line end
  out[#out + 1] = ""
  out[#out + 1] = "--format NAME|FILE.lua, --layout NAME; `quarry formats FILE.lua` checks your own (docs/formats.md)."
  return table.concat(out, "\n")
end

-- The format table as its file or module returns it (before formats.prepare fills defaults), to
-- tell the format's own functions from the defaults.
local function declared_table(spec)
  local chunk
  if spec:find("/", 1, true) or spec:match("%.lua$") then
    chunk = loadfile(spec)
  else
    local ok, mod = pcall(require, "quarry.chain.formats." .. spec:gsub("%-", "_"))
    if ok and type(mod) == "table" then return mod end
  end
  if not chunk then return {} end
  local ok, t = pcall(chunk)
  return ok and type(t) == "table" and t or {}
end

local function list_json(formats, layouts)
  local fs, ls = {}, {}
  for i, f in ipairs(formats) do fs[i] = format_json(f, declared_table(f.name)) end
  for i, l in ipairs(layouts) do
    ls[i] = json_object({ "name", l.name, "summary", l.summary, "default", l.default and i == 1 })
  end
  return require("quarry.json").encode(json_object({ "formats", json_array(fs), "layouts",
    json_array(ls) }), { indent = 2 })
end

-- What one format declares, as lines of text.
local function describe_text(fmt, declared)
  local rel, ren, hooks = relaxed(fmt), rename_words(fmt), hooks_of(declared)
  local out = {}
  local function line(k, v) out[#out + 1] = ("%-12s %s"):format(k, v) end
  line("format", fmt.name)
  line("origin", tostring(fmt.origin))
  line("summary", fmt.summary ~= "" and fmt.summary or "-")
  line("blocks", table.concat(container_words(fmt), ", "))
  line("amount", amount_text(fmt.amount))
  line("renames", #ren > 0 and table.concat(ren, " ") or "- (the model's names)")
  line("coinbase", declared.coinbase and "the format's coinbase()"
    or "default: the first transaction, when it has no inputs")
  line("unspendable", declared.unspendable and "the format's unspendable()" or "default: none")
  line("relaxed", #rel > 0 and table.concat(rel, ", ") or "- (every check applies)")
  local others = {}
  for _, k in ipairs(hooks) do
    if k ~= "coinbase" and k ~= "unspendable" then others[#others + 1] = k .. "()" end
  end
  line("functions", #others > 0 and table.concat(others, ", ") or "-")
  return table.concat(out, "\n")
end

function M.run(argv)
  local p = cli.parser("formats", M.summary)
  p:argument("file", "A format to check: FILE.lua (or a built-in name): prints what it declares.")
    :args("?")
  cli.output_option(p)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local formats = require("quarry.chain.formats")

  if args.file then
    local ok, fmt = pcall(formats.load, args.file)
    if not ok then
      io.stderr:write("quarry formats: ", tostring(fmt), "\n")
      return cli.EXIT_FAILED
    end
    local declared = declared_table(args.file)
    if args.output == "json" then
      print(require("quarry.json").encode(format_json(fmt, declared), { indent = 2 }))
    else
      print(describe_text(fmt, declared))
    end
    return cli.EXIT_OK
  end

  local list = formats.list()
  local layouts, errors = M.layouts()
  if args.output == "json" then print(list_json(list, layouts)) else print(list_text(list, layouts)) end
  for _, e in ipairs(errors) do io.stderr:write("quarry formats: layout ", e, "\n") end
  return #errors == 0 and cli.EXIT_OK or cli.EXIT_FAILED
end

return M

-- quarry.cli.inspect.commands: what `quarry scan|get|count|cfs|props` and the shell's built-ins do,
-- written once: each operation takes an open session, plain options and a line writer.
local keys = require("quarry.cli.inspect.keys")
local pretty = require("quarry.cli.inspect.pretty")

local M = {}

-- ---- output formats ----------------------------------------------------------------------------

local function json_module()
  local ok, json = pcall(require, "quarry.json")
  if ok and type(json) == "table" and json.encode then return json end
  local q = require("quarry")
  if type(q.json) == "table" and q.json.encode then return q.json end
  error("--json needs quarry.json, which this installation lacks", 0)
end

-- Puts s into obj as obj[name] when it is text (valid UTF-8 without control characters other
-- than tab, newline and carriage return) and hex is not forced, else as obj[name .. "_hex"]
-- (lowercase hex): a reader tells the two apart by the field name.
local function json_field(obj, name, s, force_hex)
  if not force_hex and utf8.len(s) and not s:find("[%z\1-\8\11\12\14-\31\127]") then
    obj[name] = s
  else
    obj[name .. "_hex"] = keys.tohex(s)
  end
end
M.json_field = json_field

--- A formatter turns keys and values into output lines. opts:
---   style: "ldb" (default: ldb's `KEY : VALUE`, raw bytes or 0x + uppercase hex), "pretty"
---          (the shell's display: escaped text or hex with lengths, long values cut), "json"
---          (one JSON object per line)
---   hex, key_hex, value_hex: hex output (and, for ldb and json styles, hex key input)
---   max: for "pretty", bytes shown before a value is cut
function M.formatter(opts)
  opts = opts or {}
  local f = { style = opts.style or "ldb" }
  f.key_hex = opts.hex or opts.key_hex or false
  f.value_hex = opts.hex or opts.value_hex or false
  if f.style == "ldb" then
    function f.key(k) return keys.ldb(k, f.key_hex) end
    function f.value(v) return keys.ldb(v, f.value_hex) end
    function f.pair(k, v) return keys.ldb(k, f.key_hex) .. " : " .. keys.ldb(v, f.value_hex) end
  elseif f.style == "pretty" then
    local kopts = { hex = f.key_hex or nil, max = opts.max }
    local vopts = { hex = f.value_hex or nil, max = opts.max }
    function f.key(k) return pretty.bytes(k, kopts) end
    function f.value(v) return pretty.bytes(v, vopts) end
    function f.pair(k, v) return f.key(k) .. " : " .. f.value(v) end
  elseif f.style == "json" then
    local json = json_module()
    f.json = json
    function f.key(k)
      local o = {}
      json_field(o, "key", k, f.key_hex)
      return json.encode(o)
    end
    function f.value(v)
      local o = {}
      json_field(o, "value", v, f.value_hex)
      return json.encode(o)
    end
    function f.pair(k, v)
      local o = {}
      json_field(o, "key", k, f.key_hex)
      json_field(o, "value", v, f.value_hex)
      return json.encode(o)
    end
    --- A JSON document for any table (counts, property maps, family lists).
    function f.doc(t) return json.encode(t) end
  else
    error("unknown output style '" .. tostring(f.style) .. "'", 0)
  end
  return f
end

-- The family argument of db:property / db:approximate_size: nil for the default family.
local function cf_arg(session, cf)
  if cf == session.db then return nil end
  return cf
end

-- ---- scan --------------------------------------------------------------------------------------

--- Writes the pairs of a family in key order. o: cf (name), from (inclusive), to (exclusive),
--- prefix (bytes), max (number of pairs; nil = all), keys_only, reverse. Returns the number of
--- pairs written and whether more pairs follow the last one written (only known when max is set).
function M.scan(session, o, fmt, write)
  local cf = session:cf(o.cf)
  local iopts = { from = o.from, to = o.to, prefix = o.prefix, reverse = o.reverse or nil,
    keys_only = o.keys_only or nil }
  if o.max then iopts.limit = o.max + 1 end
  local n, more = 0, false
  for k, v in cf:pairs(iopts) do
    if o.max and n >= o.max then
      more = true
      break
    end
    n = n + 1
    if o.keys_only then write(fmt.key(k)) else write(fmt.pair(k, v)) end
  end
  return n, more
end

-- ---- get ---------------------------------------------------------------------------------------

--- Looks up each key of list (bytes) in family o.cf. With one key, writes its value alone (as ldb
--- does); with several, `KEY : VALUE` lines (json: {key, value} objects, value null when missing).
--- Returns the list of missing keys.
function M.get(session, o, list, fmt, write)
  local cf = session:cf(o.cf)
  local missing = {}
  for _, k in ipairs(list) do
    local v = cf:get(k)
    if v == nil then missing[#missing + 1] = k end
    if fmt.style == "json" then
      local obj = {}
      json_field(obj, "key", k, fmt.key_hex)
      if v == nil then obj.value = fmt.json.null else json_field(obj, "value", v, fmt.value_hex) end
      write(fmt.json.encode(obj))
    elseif v ~= nil then
      if #list == 1 then write(fmt.value(v)) else write(fmt.pair(k, v)) end
    end
  end
  return missing
end

-- ---- count -------------------------------------------------------------------------------------

--- The exact number of keys in family o.cf within from/to/prefix (reads every key), or with
--- o.estimate RocksDB's estimate (rocksdb.estimate-num-keys: no reading, may be off).
function M.count(session, o)
  local cf = session:cf(o.cf)
  if o.estimate then
    local v = session.db:property("rocksdb.estimate-num-keys", cf_arg(session, cf))
    return math.tointeger(tonumber(v or "0")) or 0
  end
  local n = 0
  for _ in cf:pairs({ from = o.from, to = o.to, prefix = o.prefix, keys_only = true }) do n = n + 1 end
  return n
end

-- ---- families, properties, sizes ---------------------------------------------------------------

local function int_property(db, name, cf)
  local ok, v = pcall(db.property, db, name, cf)
  return ok and v and math.tointeger(tonumber(v)) or nil
end

--- One row per family: { name, keys (estimate), sst_bytes, memtable_bytes }.
function M.families(session)
  local rows = {}
  for _, name in ipairs(session.db:column_families()) do
    local cf = cf_arg(session, session:cf(name))
    rows[#rows + 1] = {
      name = name,
      estimate_keys = int_property(session.db, "rocksdb.estimate-num-keys", cf),
      sst_bytes = int_property(session.db, "rocksdb.total-sst-files-size", cf),
      memtable_bytes = int_property(session.db, "rocksdb.size-all-mem-tables", cf),
    }
  end
  return rows
end

--- Rows of a table as aligned text lines.
function M.columns(header, rows)
  local widths = {}
  for i, h in ipairs(header) do widths[i] = #h end
  for _, r in ipairs(rows) do
    for i, c in ipairs(r) do widths[i] = math.max(widths[i], #tostring(c)) end
  end
  local lines = {}
  local function line(r)
    local parts = {}
    for i, c in ipairs(r) do
      local s = tostring(c)
      parts[i] = i == 1 and s .. (" "):rep(widths[i] - #s) or (" "):rep(widths[i] - #s) .. s
    end
    lines[#lines + 1] = (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  line(header)
  for _, r in ipairs(rows) do line(r) end
  return lines
end

--- The properties `props` shows when no name is given: one-line figures of a family.
M.default_properties = {
  "rocksdb.estimate-num-keys", "rocksdb.estimate-live-data-size", "rocksdb.total-sst-files-size",
  "rocksdb.live-sst-files-size", "rocksdb.num-files-at-level0", "rocksdb.num-files-at-level1",
  "rocksdb.num-files-at-level2", "rocksdb.num-files-at-level3", "rocksdb.num-files-at-level4",
  "rocksdb.num-files-at-level5", "rocksdb.num-files-at-level6", "rocksdb.cur-size-all-mem-tables",
  "rocksdb.size-all-mem-tables", "rocksdb.num-entries-active-mem-table",
  "rocksdb.num-entries-imm-mem-tables", "rocksdb.num-deletes-active-mem-table",
  "rocksdb.estimate-pending-compaction-bytes", "rocksdb.compaction-pending",
  "rocksdb.num-running-compactions", "rocksdb.num-running-flushes", "rocksdb.background-errors",
  "rocksdb.num-live-versions", "rocksdb.estimate-table-readers-mem", "rocksdb.block-cache-capacity",
  "rocksdb.block-cache-usage", "rocksdb.num-snapshots", "rocksdb.is-write-stopped",
  "rocksdb.actual-delayed-write-rate",
}

--- Property values of family o.cf: names (default M.default_properties; "rocksdb." may be left
--- out). Returns a list of {name, value} (value nil when RocksDB does not know the name).
function M.properties(session, o, names)
  local cf = cf_arg(session, session:cf(o.cf))
  if not names or #names == 0 then names = M.default_properties end
  local out = {}
  for _, name in ipairs(names) do
    if not name:find("^rocksdb%.") then name = "rocksdb." .. name end
    out[#out + 1] = { name = name, value = session.db:property(name, cf) }
  end
  return out
end

--- Approximate bytes of keys in [from, to) of family o.cf (RocksDB's estimate from SST metadata
--- and memtables).
function M.approximate_size(session, o, from, to)
  local cf = cf_arg(session, session:cf(o.cf))
  if cf then return session.db:approximate_size(cf, from, to) end
  return session.db:approximate_size(from, to)
end

--- Human bytes: 1536 -> "1.5 KiB" (quarry.cli.format.bytes).
M.human = require("quarry.cli.format").bytes

-- ---- command-line plumbing shared by the quarry scan|get|count|cfs|props commands ---------------

--- Adds --db, --read-only, --secondary, --secondary-path to an argparse parser.
function M.add_open_options(p)
  p:option("--db", "Database directory."):count(1)
  p:mutex(
    p:flag("--read-only", "Open read-only (a view as of opening; never takes the LOCK)."),
    p:flag("--secondary", "Open as a secondary instance that follows a live primary.")
  )
  p:option("--secondary-path", "Directory of the secondary instance (default: a scratch directory, removed at exit).")
end

--- Adds --cf (ldb: --column_family).
function M.add_cf_option(p)
  p:option("--cf --column_family --column-family", "Column family (default: default).")
end

--- Adds --hex, --key-hex, --value-hex (ldb spellings too), --pretty and --output (--json: jsonl).
function M.add_format_options(p)
  p:flag("--hex", "Keys and values in hex (0x + uppercase digits, like ldb; keys given in hex).")
  p:flag("--key-hex --key_hex", "Keys in hex (given and printed).")
  p:flag("--value-hex --value_hex", "Values printed in hex.")
  p:flag("--pretty", "The shell's display: escaped text, or hex with the length for binary; long values cut.")
  -- json: one array of {"key":..,"value":..} objects; jsonl: one object per line (the old --json)
  require("quarry.cli").output_option(p, { "text", "json", "jsonl" }, { flag = "--json", means = "jsonl" })
end

--- The session for parsed args (mode from --read-only / --secondary, else automatic).
function M.open_session(args)
  local mode = args.read_only and "read_only" or args.secondary and "secondary" or nil
  if args.secondary_path and not mode then mode = "secondary" end
  return require("quarry.cli.inspect.open").open(args.db, { mode = mode, secondary_path = args.secondary_path })
end

--- The formatter for parsed args.
function M.formatter_from_args(args)
  return M.formatter({
    style = args.json and "json" or args.pretty and "pretty" or "ldb",
    hex = args.hex, key_hex = args.key_hex, value_hex = args.value_hex,
    max = args.pretty and math.maxinteger or nil,
  })
end

--- A key argument: parsed with keys.parse (hex input with --hex / --key-hex, like ldb). what
--- names it in the message ("--from", "key"). Returns bytes, or nil and a usage message naming
--- the option and the value (the command exits 2).
function M.key_arg(args, text, what)
  local hex = args.hex or args.key_hex
  local k, err = keys.parse(text, { hex = hex })
  if k ~= nil then return k end
  if not hex then return nil, ("%s '%s' is not a valid key: %s"):format(what or "key", text, err) end
  return nil, ("%s '%s' is not hex%s (%s takes keys as hex digits, with or without 0x)"):format(
    what or "key", text, err:find("^odd") and ": odd number of digits" or "",
    args.hex and "--hex" or "--key-hex")
end

--- Every key argument of a command (name -> option word), parsed into o[name]; on a bad one,
--- prints "quarry <command>: <message>" and returns false (the command exits 2).
function M.key_options(command, args, names, o)
  for _, name in ipairs(names) do
    if args[name] then
      local k, err = M.key_arg(args, args[name], "--" .. name)
      if k == nil then
        io.stderr:write("quarry ", command, ": ", err, "\n")
        return false
      end
      o[name] = k
    end
  end
  return true
end

--- A line writer to stdout.
--- The line writer on stdout, and the function that ends the output: with args.output "json" the
--- lines (JSON objects) become one JSON array, one element a line.
function M.stdout_writer(args)
  if not (args and args.output == "json") then
    return function(line) io.stdout:write(line, "\n") end, function() end
  end
  local n = 0
  return function(line)
    io.stdout:write(n == 0 and "[" or ",\n", line)
    n = n + 1
  end, function() io.stdout:write(n == 0 and "[]\n" or "]\n") end
end

return M

-- quarry.cli.inspect.builtins: the shell's dot commands (.scan, .get, .cfs ...): their argument
-- syntax, help texts and actions over quarry.cli.inspect.commands. docs/shell.md documents each.
local keys = require("quarry.cli.inspect.keys")
local C = require("quarry.cli.inspect.commands")

local M = {}

--- How many pairs .scan shows when --max is not given.
M.scan_default_max = 50

-- ---- words ---------------------------------------------------------------------------------------

--- Splits a built-in's argument text into words: blanks separate, '...' and "..." group (the
--- quotes stay in the word: keys.parse reads them as Lua string literals). Returns a list of
--- { text =, first = position, last = position } and whether a quote is left open.
function M.words(line)
  local list, i, n = {}, 1, #line
  while i <= n do
    local s = line:find("%S", i)
    if not s then break end
    local j, quote = s, nil
    while j <= n do
      local c = line:sub(j, j)
      if quote then
        if c == "\\" then j = j + 1 elseif c == quote then quote = nil end
      elseif c == '"' or c == "'" then
        quote = c
      elseif c:match("%s") then
        break
      end
      j = j + 1
    end
    list[#list + 1] = { text = line:sub(s, j - 1), first = s, last = j - 1, open = quote ~= nil }
    i = j
    if quote then return list, true end
  end
  return list, false
end

-- A word as plain text (family names, property names, numbers): quoted words are unquoted.
local function text_of(word)
  local first = word:sub(1, 1)
  if first == '"' or first == "'" then return keys.check(word) end
  return word
end

-- ---- the commands --------------------------------------------------------------------------------
-- Each: usage, summary, options (name -> "key" | "int" | true for a flag), action(ctx, a) where
-- a = { positional words..., options by name with "-" as "_" }.

local commands = {}
M.commands = commands
M.order = { "cfs", "scan", "get", "count", "props", "size", "stats", "refresh", "help", "quit" }

local output_flags = { hex = true, ["key-hex"] = true, ["value-hex"] = true }

local function formatter(a)
  return C.formatter({ style = "pretty", hex = a.hex, key_hex = a.key_hex, value_hex = a.value_hex })
end

-- Which positional words are a family, by the number of positional words n:
--   "first"  (.scan, .count, .stats): the first word, if any
--   "get"    (.get [cf] KEY): the first of two
--   "size"   (.size [cf] [FROM TO]): the first of one or three
--   "named"  (.props [cf] [NAME...]): the first, when it names a family
local takes = {
  first = function(n) return n >= 1 end,
  get = function(n) return n >= 2 end,
  size = function(n) return n % 2 == 1 end,
  named = function(n, is_family) return n >= 1 and is_family end,
}

-- Removes the family name from the positional words a (by the rule above) and returns it (nil:
-- the default family). Raises "no column family ..." when it names none.
local function family(ctx, a, rule)
  local first = a[1]
  if first == nil then return nil end
  local name = text_of(first)
  local names = {}
  for _, n in ipairs(ctx.session.db:column_families()) do names[n] = true end
  if not takes[rule](#a, names[name] == true) then return nil end
  table.remove(a, 1)
  if not names[name] then ctx.session:cf(name) end -- raises "no column family ..."
  return name
end

local function key_option(a, name)
  if a[name] == nil then return nil end
  return keys.check(a[name])
end

commands.cfs = {
  usage = ".cfs",
  summary = "column families with estimated keys and sizes",
  options = {},
  action = function(ctx)
    local rows = {}
    for i, r in ipairs(C.families(ctx.session)) do
      rows[i] = { r.name, r.estimate_keys or "?", C.human(r.sst_bytes), C.human(r.memtable_bytes) }
    end
    for _, line in ipairs(C.columns({ "family", "keys (est.)", "sst", "memtables" }, rows)) do
      ctx.write(line)
    end
  end,
}

commands.scan = {
  usage = ".scan [cf] [--from K] [--to K] [--prefix P] [--max N] [--keys-only] [--reverse] "
    .. "[--hex|--key-hex|--value-hex]",
  summary = "pairs in key order (--from inclusive, --to exclusive; " .. M.scan_default_max .. " unless --max)",
  options = { from = "key", to = "key", prefix = "key", max = "int", ["keys-only"] = true,
    reverse = true, hex = true, ["key-hex"] = true, ["value-hex"] = true },
  action = function(ctx, a)
    local cf = family(ctx, a, "first")
    if #a > 0 then error(".scan: unexpected argument " .. a[1] .. " (usage: " .. commands.scan.usage .. ")", 0) end
    local o = { cf = cf, from = key_option(a, "from"), to = key_option(a, "to"),
      prefix = key_option(a, "prefix"), max = a.max or M.scan_default_max,
      keys_only = a.keys_only, reverse = a.reverse }
    local n, more = C.scan(ctx.session, o, formatter(a), ctx.write)
    if more then ctx.write(("-- %d shown, more follow (--max N shows more)"):format(n))
    elseif n == 0 then ctx.write("(no keys)") end
  end,
}

commands.get = {
  usage = ".get [cf] KEY [--hex|--value-hex]",
  summary = "the value of a key",
  options = { hex = true, ["key-hex"] = true, ["value-hex"] = true },
  action = function(ctx, a)
    local cf = family(ctx, a, "get")
    if #a ~= 1 then error(".get: one key expected (usage: " .. commands.get.usage .. ")", 0) end
    local v = ctx.session:cf(cf):get(keys.check(a[1]))
    if v == nil then ctx.write("(not found)") else ctx.write(formatter(a).value(v)) end
  end,
}

commands.count = {
  usage = ".count [cf] [--from K] [--to K] [--prefix P] [--estimate]",
  summary = "number of keys (exact: reads them all; --estimate: RocksDB's estimate)",
  options = { from = "key", to = "key", prefix = "key", estimate = true },
  action = function(ctx, a)
    local cf = family(ctx, a, "first")
    if #a > 0 then error(".count: unexpected argument " .. a[1], 0) end
    ctx.write(tostring(C.count(ctx.session, { cf = cf, from = key_option(a, "from"),
      to = key_option(a, "to"), prefix = key_option(a, "prefix"), estimate = a.estimate })))
  end,
}

commands.props = {
  usage = ".props [cf] [NAME...]",
  summary = "RocksDB properties (\"rocksdb.\" optional; default: the one-line figures)",
  options = {},
  action = function(ctx, a)
    local cf = family(ctx, a, "named")
    local names = {}
    for i, w in ipairs(a) do names[i] = text_of(w) end
    for _, pv in ipairs(C.properties(ctx.session, { cf = cf }, names)) do
      if pv.value == nil then ctx.write(pv.name .. ": (unknown property)")
      elseif pv.value:find("\n") then ctx.write(pv.name .. ":\n" .. pv.value:gsub("\n$", ""))
      else ctx.write(pv.name .. ": " .. pv.value) end
    end
  end,
}

commands.size = {
  usage = ".size [cf] [FROM TO]",
  summary = "approximate bytes of [FROM, TO), of a family, or of the database on disk",
  options = {},
  action = function(ctx, a)
    local cf = family(ctx, a, "size")
    if #a == 2 then
      local n = C.approximate_size(ctx.session, { cf = cf }, keys.check(a[1]), keys.check(a[2]))
      ctx.write(("%d bytes (%s)"):format(n, C.human(n)))
      return
    elseif #a ~= 0 then
      error(".size: FROM and TO expected together (usage: " .. commands.size.usage .. ")", 0)
    end
    local rows = {}
    for _, r in ipairs(C.families(ctx.session)) do
      if cf == nil or r.name == cf then
        rows[#rows + 1] = { r.name, C.human(r.sst_bytes), C.human(r.memtable_bytes) }
      end
    end
    for _, line in ipairs(C.columns({ "family", "sst", "memtables" }, rows)) do ctx.write(line) end
    if cf == nil then
      local n = ctx.session.db:size_on_disk()
      ctx.write(("on disk: %d bytes (%s, every file of the database)"):format(n, C.human(n)))
    end
  end,
}

commands.stats = {
  usage = ".stats [cf]",
  summary = "RocksDB's statistics report (rocksdb.stats: compactions, levels, stalls)",
  options = {},
  action = function(ctx, a)
    local cf = family(ctx, a, "first")
    if #a > 0 then error(".stats: unexpected argument " .. a[1], 0) end
    local list = C.properties(ctx.session, { cf = cf }, { "rocksdb.stats" })
    ctx.write(((list[1].value or "(no statistics)"):gsub("\n+$", "")))
  end,
}

commands.refresh = {
  usage = ".refresh",
  summary = "see newer writes (secondary: catch up with the primary; read-only: reopen)",
  options = {},
  action = function(ctx)
    local what = ctx.session:refresh()
    ctx.rebind()
    ctx.write(what)
  end,
}

commands.help = {
  usage = ".help [command]",
  summary = "this list, or one command's usage",
  options = {},
  action = function(ctx, a)
    if a[1] then
      local name = a[1]:gsub("^%.", "")
      local c = commands[name] or commands[M.aliases[name] or ""]
      if not c then error("no command ." .. name .. " (.help lists them)", 0) end
      ctx.write(c.usage)
      ctx.write("  " .. c.summary)
      return
    end
    for _, name in ipairs(M.order) do
      ctx.write(("  %-9s %s"):format("." .. name, commands[name].summary))
    end
    ctx.write("Anything else is Lua 5.4: `db` is the database" ..
      (ctx.session.chain and ", `chain` the chain store" or "") ..
      "; an expression prints its value (db:get(\"k\"), db:cf(\"blocks\"):get(K\"height:1\")).")
    ctx.write("Keys: text, 0x<hex>, \"\\x00 escapes\", height:N, hash:<hex>, str:<text>. "
      .. "Tab completes; .help CMD for one command.")
  end,
}

commands.quit = {
  usage = ".quit",
  summary = "leave the shell (also .exit or Ctrl-D)",
  options = {},
  action = function(ctx) ctx.quit = true end,
}

M.aliases = { exit = "quit", q = "quit", families = "cfs" }

--- The names of the commands, sorted, with their aliases.
function M.names()
  local list = {}
  for name in pairs(commands) do list[#list + 1] = name end
  for name in pairs(M.aliases) do list[#list + 1] = name end
  table.sort(list)
  return list
end

--- The command named name (or alias); nil if none.
function M.find(name)
  return commands[name] or commands[M.aliases[name] or ""]
end

-- Parses the words after the command name by its option table.
local function parse(name, spec, words)
  local a = {}
  local i = 1
  while i <= #words do
    local w = words[i].text
    local opt, value = w:match("^%-%-([%w-]+)=(.*)$")
    opt = opt or w:match("^%-%-([%w-]+)$")
    if opt then
      local kind = spec.options[opt]
      if kind == nil then error(("." .. name .. ": unknown option --%s (usage: %s)"):format(opt, spec.usage), 0) end
      if kind == true then
        if value then error(("." .. name .. ": --%s takes no value"):format(opt), 0) end
        value = true
      else
        if value == nil then
          i = i + 1
          if not words[i] then error(("." .. name .. ": --%s needs a value"):format(opt), 0) end
          value = words[i].text
        end
        if kind == "int" then
          local n = math.tointeger(tonumber(value))
          if not n or n < 0 then
            error(("." .. name .. ": --%s needs a non-negative integer, got %s"):format(opt, value), 0)
          end
          value = n
        end
      end
      a[opt:gsub("-", "_")] = value
    else
      a[#a + 1] = w
    end
    i = i + 1
  end
  return a
end

--- Runs a built-in line (".scan blocks --max 3"). ctx: session, write(line), rebind() (after the
--- database handles changed). Sets ctx.quit on .quit. Raises a plain message on bad usage.
function M.run(ctx, line)
  local name, rest = line:match("^%.([%a_]+)(.*)$")
  local spec = name and M.find(name)
  if not spec then error(("unknown command %s (.help lists the commands)"):format(line:match("^%S+")), 0) end
  local words, open = M.words(rest)
  if open then error("unterminated quote in: " .. line, 0) end
  local a = parse(name, spec, words)
  return spec.action(ctx, a)
end

M.output_flags = output_flags
M.text_of = text_of

return M

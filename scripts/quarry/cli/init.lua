-- quarry.cli: dispatches `quarry <command> [options]` to quarry.cli.commands.<command>.
-- What every command's run(argv) shares with it: the argparse parser and its usage errors (exit 2),
-- failures (exit 1), the error line. Shell quoting, pid and files: quarry.cli.system; human
-- figures: quarry.cli.format.
local M = {}

-- Commands in the order `quarry --help` lists them. A command whose module is missing is not listed.
M.commands = {
  "gen", "migrate", "verify", "export", "chain", "stats", "shell", "scan", "get", "count", "cfs", "props",
  "compact", "checkpoint", "backup", "digest", "prune", "serve", "bench", "demo", "run", "formats",
  "options", "completion", "man",
}

local function load_command(name)
  local ok, mod = pcall(require, "quarry.cli.commands." .. name)
  if ok then return mod end
  if type(mod) == "string" and mod:find("module 'quarry.cli.commands." .. name .. "' not found", 1, true) then
    return nil
  end
  error(mod, 0)
end

function M.usage(out)
  out = out or io.stdout
  out:write("usage: quarry <command> [options]\n\ncommands:\n")
  for _, name in ipairs(M.commands) do
    local mod = load_command(name)
    if mod then out:write(string.format("  %-11s %s\n", name, mod.summary or "")) end
  end
  out:write("\n`quarry help <command>` (or `quarry <command> --help`) documents each command.\n")
end

-- A usage error: the command's parser prints it; exit status 2.
M.EXIT_OK, M.EXIT_FAILED, M.EXIT_USAGE = 0, 1, 2

-- Builds an argparse parser for a command with the shared conventions.
function M.parser(name, description)
  local argparse = require("argparse")
  local p = argparse("quarry " .. name, description)
  p:add_help(true)
  return p
end

-- The tuning presets (quarry.presets), "default" first, then by name.
function M.preset_names()
  local names = {}
  for name in pairs(require("quarry").presets) do
    if name ~= "default" then names[#names + 1] = name end
  end
  table.sort(names)
  table.insert(names, 1, "default")
  return names
end

-- Adds --preset to parser p: an unknown preset is a usage error (exit 2) listing the presets.
function M.preset_option(p, description, default)
  local names = M.preset_names()
  return p:option("--preset", description, default):choices(names)
end

-- ---- machine output: --output FORMAT on every command with a machine form ---------------------

-- The --output declaration of each parser (weak keys: a parser lives for one run).
local OUTPUT = setmetatable({}, { __mode = "k" })

--- Adds `--output FORMAT` to parser p (choices, default first: { "text", "json" } unless given);
--- json is one JSON document on stdout. legacy is the old spelling, still accepted with a
--- deprecation note on stderr: { flag = "--json", means = "json" } (a flag meaning --output
--- means) or { option = "--report" } (an option taking the same values). After cli.parse the
--- body finds args.output, and the old field set as the old spelling would have set it
--- (args.json true for any output but the default; args.report = args.output), so a body written
--- for the old spelling works unchanged.
--- default: the value when neither is given (choices[1] unless given; false: none, args.output nil).
function M.output_option(p, choices, legacy, default)
  choices = choices or { "text", "json" }
  if default == nil then default = choices[1] end
  local spec = { choices = choices, default = default or nil }
  p:option("--output", ("Output on stdout: %s (default %s; json: one JSON document)")
    :format(table.concat(choices, ", "), default or choices[1])):choices(choices)
  if legacy then
    spec.old = legacy.flag or legacy.option
    spec.field = spec.old:sub(3):gsub("-", "_")
    if legacy.flag then
      spec.means = legacy.means or "json"
      p:flag(legacy.flag, "Deprecated: --output " .. spec.means):hidden(true)
    else
      p:option(legacy.option, "Deprecated: --output"):choices(choices):hidden(true)
    end
  end
  OUTPUT[p] = spec
  return p
end

-- Applies the --output declarations of the parsers args went through (p and its invoked commands).
local function apply_output(p, args)
  local spec = OUTPUT[p]
  if spec then
    if spec.old and args[spec.field] ~= nil and args[spec.field] ~= false then
      local means = spec.means or args[spec.field]
      if args.output == nil then args.output = means end
      io.stderr:write(p._name, ": ", spec.old, spec.means and "" or (" " .. means),
        " is deprecated: use --output ", means, "\n")
    end
    if args.output == nil then args.output = spec.default end
    if spec.old then
      if spec.means then args[spec.field] = args.output ~= nil and args.output ~= spec.choices[1]
      else args[spec.field] = args.output end
    end
  end
  for _, c in ipairs(p._commands or {}) do
    if args[c._name] then apply_output(c, args) end
  end
end

-- ---- tuning flags: --db-<option> for every tuning option of quarry.option_list -----------------

--- The tuning options of quarry.option_list ({name, type, tuning, doc}), in its order.
function M.tuning_list()
  local list = {}
  for _, o in ipairs(require("quarry").option_list) do
    if o.tuning then list[#list + 1] = o end
  end
  return list
end

--- The flag of a tuning option: "write_buffer_mb" -> "--db-write-buffer-mb".
function M.tuning_flag(name) return "--db-" .. name:gsub("_", "-") end
--- Its environment variable: "write_buffer_mb" -> "QUARRY_DB_WRITE_BUFFER_MB".
function M.tuning_env(name) return "QUARRY_DB_" .. name:upper() end

local BOOLS = { ["on"] = true, ["true"] = true, ["yes"] = true, ["1"] = true,
  ["off"] = false, ["false"] = false, ["no"] = false, ["0"] = false }

-- Text to the value of an option of type t; nil and a message when it is not one.
local function tuning_value(t, text)
  if t == "integer" then
    local n = math.tointeger(tonumber(text))
    if n == nil then return nil, ("expects an integer, got '%s'"):format(text) end
    return n
  elseif t == "boolean" then
    local b = BOOLS[text:lower()]
    if b == nil then return nil, ("expects on or off (true/false, yes/no, 1/0), got '%s'"):format(text) end
    return b
  end
  return text
end

local TUNED = setmetatable({}, { __mode = "k" })

--- Adds --db-<option> for every tuning option (precedence: the flag, then QUARRY_DB_<OPTION>, then
--- the preset), --print-options and, unless p has one, --preset, to parser p. cli.parse adds them
--- to every parser (and subcommand) that has a --db option, so a command declares nothing.
function M.tuning_options(p)
  if TUNED[p] then return p end
  local own_preset = false
  for _, o in ipairs(p._options) do
    for _, a in ipairs(o._aliases) do if a == "--preset" then own_preset = true end end
  end
  local opts = {}
  for _, o in ipairs(M.tuning_list()) do
    local f = M.tuning_flag(o.name)
    local meta = o.type == "boolean" and "on|off" or o.type == "integer" and "N" or "VALUE"
    opts[#opts + 1] = p:option(f, ("%s (%s)"):format(o.doc, M.tuning_env(o.name)))
      :argname("<" .. meta .. ">")
      :convert(function(text)
        local v, err = tuning_value(o.type, text)
        if v == nil then return nil, f .. " " .. err end
        return v
      end)
  end
  if not own_preset then
    opts[#opts + 1] = M.preset_option(p, "The tuning preset the values start from (default: default)")
  end
  opts[#opts + 1] = p:flag("--print-options",
    "Print the tuning values in effect at each open, with where each came from, on stderr")
  p:group("Tuning (flag, then QUARRY_DB_* environment, then preset; `quarry options`)",
    table.unpack(opts))
  TUNED[p] = { own_preset = own_preset }
  return p
end

local function has_option(p, name)
  for _, o in ipairs(p._options) do
    for _, a in ipairs(o._aliases) do if a == name then return true end end
  end
  return false
end

local function add_tuning(p)
  if has_option(p, "--db") then M.tuning_options(p) end
  for _, c in ipairs(p._commands or {}) do add_tuning(c) end
end

-- The tuning flags of this run: { flags = {name = value}, preset = name|nil, print = bool }.
M.tuning = { flags = {} }

local raw_open
-- Where each tuning value of an open with options o comes from: name -> "flag --db-x",
-- "command", "environment QUARRY_DB_X" or "preset NAME".
function M.tuning_sources(o)
  o = o or {}
  local src = {}
  for _, t in ipairs(M.tuning_list()) do
    local n = t.name
    if M.tuning.flags[n] ~= nil then src[n] = "flag " .. M.tuning_flag(n)
    elseif o[n] ~= nil then src[n] = "command"
    elseif o.env ~= false and os.getenv(M.tuning_env(n)) then src[n] = "environment " .. M.tuning_env(n)
    else src[n] = "preset " .. (o.preset or "default") end
  end
  return src
end

--- The tuning values an open with options o would have, computed without opening (the flags, the
--- command's options, the environment, the preset).
function M.tuning_values(o)
  o = o or {}
  local presets = require("quarry").presets
  local preset = presets[o.preset or "default"] or presets.default
  local v = {}
  for _, t in ipairs(M.tuning_list()) do
    local n, env = t.name, os.getenv(M.tuning_env(t.name))
    if M.tuning.flags[n] ~= nil then v[n] = M.tuning.flags[n]
    elseif o[n] ~= nil then v[n] = o[n]
    elseif o.env ~= false and env then v[n] = tuning_value(t.type, env)
    else v[n] = preset[n] end
  end
  return v
end

--- Rows {name, value, source} of tuning values (db:tuning() or cli.tuning_values) and sources.
function M.tuning_rows(values, sources)
  local rows = {}
  for _, t in ipairs(M.tuning_list()) do
    rows[#rows + 1] = { name = t.name, value = values[t.name], source = sources[t.name],
      flag = M.tuning_flag(t.name), env = M.tuning_env(t.name) }
  end
  return rows
end

--- Writes rows as a table to out.
function M.print_tuning(out, rows, title)
  if title then out:write(title, "\n") end
  for _, r in ipairs(rows) do
    local v = r.value
    if type(v) == "boolean" then v = v and "on" or "off" end
    out:write(("  %-36s %8s  %s\n"):format(r.name, tostring(v), r.source))
  end
end

-- quarry.open with the tuning flags as explicit options (they win over the environment and the
-- preset in the C core), the --preset of a command that has none of its own, and --print-options.
local function install_open()
  if raw_open then return end
  local quarry = require("quarry")
  raw_open = quarry.open
  quarry.open = function(path, options)
    local o = {}
    for k, v in pairs(options or {}) do o[k] = v end
    local sources = M.tuning_sources(o)
    for k, v in pairs(M.tuning.flags) do o[k] = v end
    if M.tuning.preset and o.preset == nil then o.preset = M.tuning.preset end
    if o.preset then
      for k, s in pairs(sources) do
        if s == "preset default" then sources[k] = "preset " .. o.preset end
      end
    end
    local db = raw_open(path, o)
    if M.tuning.print then
      M.print_tuning(io.stderr, M.tuning_rows(db:tuning(), sources),
        ("tuning of %s (%s):"):format(tostring(path), o.mode or "read_write"))
    end
    return db
  end
end

-- Takes the tuning flags of parsed args (p: the parser, with its invoked commands).
local function apply_tuning(p, args)
  local found = false
  local function walk(q)
    if TUNED[q] then
      found = true
      if not TUNED[q].own_preset and args.preset then M.tuning.preset = args.preset end
    end
    for _, c in ipairs(q._commands or {}) do if args[c._name] then walk(c) end end
  end
  walk(p)
  if not found then return end
  for _, t in ipairs(M.tuning_list()) do
    local v = args["db_" .. t.name]
    if v ~= nil then M.tuning.flags[t.name] = v end
  end
  M.tuning.print = args.print_options or nil
  install_open()
end

--- The tuning flags of this run as shell words (for a child process of the same command).
function M.tuning_argv()
  local sh = require("quarry.cli.system").shell_quote
  local words = {}
  for _, t in ipairs(M.tuning_list()) do
    local v = M.tuning.flags[t.name]
    if v ~= nil then
      if type(v) == "boolean" then v = v and "on" or "off" end
      words[#words + 1] = M.tuning_flag(t.name) .. " " .. sh(tostring(v))
    end
  end
  return table.concat(words, " ")
end

-- Parses argv with parser; on a usage error prints it and returns nil, 2.
function M.parse(parser, argv)
  add_tuning(parser)
  if M._capture then -- quarry.cli.docs_gen: the parser, not a run
    M._capture(parser)
    error(M, 0)
  end
  local ok, res = parser:pparse(argv)
  if not ok then
    io.stderr:write(parser:get_usage(), "\n\nerror: ", tostring(res), "\n")
    return nil, M.EXIT_USAGE
  end
  apply_output(parser, res)
  apply_tuning(parser, res)
  return res
end

-- Prints an error as "quarry <command>: <message>" on stderr.
function M.fail(name, err)
  io.stderr:write("quarry ", name, ": ", tostring(err), "\n")
end

function M.main(argv)
  local name = argv[1]
  if name == "help" and argv[2] ~= nil then
    -- `quarry help COMMAND [SUBCOMMAND]`: the command's own --help
    if not load_command(argv[2]) then
      io.stderr:write("quarry: unknown command '", argv[2], "'\n\n")
      M.usage(io.stderr)
      return M.EXIT_USAGE
    end
    local again = table.move(argv, 2, #argv, 1, {})
    again[#again + 1] = "--help"
    return M.main(again)
  end
  if name == nil or name == "-h" or name == "--help" or name == "help" then
    M.usage(name == nil and io.stderr or io.stdout)
    return name == nil and M.EXIT_USAGE or M.EXIT_OK
  end
  if name == "--version" then
    local q = require("quarry")
    print(string.format("quarry %s (RocksDB %s, LZ4 %s, %s)", q.version, q.rocksdb_version,
      q.lz4_version, _VERSION))
    return M.EXIT_OK
  end
  local mod = load_command(name)
  if not mod then
    io.stderr:write("quarry: unknown command '", name, "'\n\n")
    M.usage(io.stderr)
    return M.EXIT_USAGE
  end
  local rest = table.move(argv, 2, #argv, 1, {})
  -- Ctrl-C and SIGTERM: quarry.cli.interrupt (exit 130 or 143, one line, no source position)
  local interrupt = require("quarry.cli.interrupt")
  interrupt.start()
  local ok, status = xpcall(mod.run, function(e)
    if type(e) == "table" or interrupt.interrupted(e) or os.getenv("QUARRY_TRACEBACK") == nil then
      return e
    end
    return debug.traceback(e, 2)
  end, rest)
  interrupt.stop()
  local sig = interrupt.interrupted(not ok and status or nil)
  if sig then
    -- what the command opened and did not close: unreachable now, closed by its finalizer
    collectgarbage("collect")
    collectgarbage("collect")
    io.stdout:flush()
    M.fail(name, "interrupted")
    return interrupt.STATUS[sig] or 130
  end
  if not ok then
    M.fail(name, status)
    return M.EXIT_FAILED
  end
  return status or M.EXIT_OK
end

return M

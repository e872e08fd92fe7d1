-- quarry.cli: dispatches `quarry <command> [options]` to quarry.cli.commands.<command>.
-- What every command's run(argv) shares with it: the argparse parser and its usage errors (exit 2),
-- failures (exit 1), the error line. Shell quoting, pid and files: quarry.cli.system; human
-- figures: quarry.cli.format.
local M = {}

-- Commands in the order `quarry --help` lists them. A command whose module is missing is not listed.
M.commands = {
  "gen", "migrate", "verify", "export", "stats", "shell", "scan", "get", "count", "cfs", "props",
  "compact", "checkpoint", "backup", "digest", "prune", "serve", "bench", "demo", "run", "formats",
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

-- Parses argv with parser; on a usage error prints it and returns nil, 2.
function M.parse(parser, argv)
  local ok, res = parser:pparse(argv)
  if not ok then
    io.stderr:write(parser:get_usage(), "\n\nerror: ", tostring(res), "\n")
    return nil, M.EXIT_USAGE
  end
  apply_output(parser, res)
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
  local ok, status = xpcall(mod.run, function(e)
    if type(e) == "table" or os.getenv("QUARRY_TRACEBACK") == nil then return e end
    return debug.traceback(e, 2)
  end, rest)
  if not ok then
    M.fail(name, status)
    return M.EXIT_FAILED
  end
  return status or M.EXIT_OK
end

return M

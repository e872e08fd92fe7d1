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
  out:write("\n`quarry <command> --help` documents each command.\n")
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

-- Parses argv with parser; on a usage error prints it and returns nil, 2.
function M.parse(parser, argv)
  local ok, res = parser:pparse(argv)
  if not ok then
    io.stderr:write(parser:get_usage(), "\n\nerror: ", tostring(res), "\n")
    return nil, M.EXIT_USAGE
  end
  return res
end

-- Prints an error as "quarry <command>: <message>" on stderr.
function M.fail(name, err)
  io.stderr:write("quarry ", name, ": ", tostring(err), "\n")
end

function M.main(argv)
  local name = argv[1]
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

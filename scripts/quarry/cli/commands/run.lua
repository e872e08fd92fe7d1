-- quarry run: runs a user's Lua script in this lua5.4 process with Quarry's modules found, `arg`
-- and `...` as lua5.4 sets them; errors as "quarry run: script.lua:12: message" (docs/tools.md).
local M = { summary = "run a Lua script with Quarry's modules found (migrations, node glue)" }

-- Our options (parsed by hand: everything after SCRIPT is the script's), for the man page and the
-- completions (quarry.cli.docs_gen).
M.options = {
  { names = { "-h", "--help" }, doc = "Show this help message and exit." },
  { names = { "--traceback" }, doc = "On an error, also print the Lua traceback (the script's frames)." },
}

local EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

local USAGE = [[
Usage: quarry run [-h] [--traceback] [--] SCRIPT.lua|- [ARGS...]

Runs SCRIPT.lua (or a script read from stdin with `-`) in this lua5.4 process, with the quarry
modules on package.path/cpath. Everything after SCRIPT is the script's own: arg[1..n] and `...`.

Options:
   -h, --help     Show this help message and exit.
   --traceback    On an error, print the Lua traceback after the message.

Exit status: the script's os.exit(n); 0 when it ends; 1 on an error (or a syntax error);
2 when SCRIPT cannot be read or the options are wrong.
]]

local function usage_error(msg)
  io.stderr:write(USAGE:match("^(Usage:[^\n]*)\n"), "\n\nerror: ", msg, "\n")
  return EXIT_USAGE
end

-- Splits argv into our options, the script and its arguments: our options end at the first word
-- that is not one of them ("-" is the stdin script; "--" ends them explicitly).
local function parse(argv)
  local opts, i = { traceback = false }, 1
  while i <= #argv do
    local a = argv[i]
    if a == "--" then
      i = i + 1
      break
    elseif a == "-h" or a == "--help" then
      opts.help = true
    elseif a == "--traceback" then
      opts.traceback = true
    elseif a:sub(1, 1) == "-" and a ~= "-" then
      return nil, "unknown option '" .. a .. "' (options after SCRIPT go to the script)"
    else
      break
    end
    i = i + 1
  end
  opts.script_at = i
  return opts
end

-- The script's text and chunk name, or nil and the reason it cannot be read.
local function read_script(path)
  if path == "-" then
    local text, err = io.stdin:read("a")
    if not text then return nil, "cannot read stdin: " .. tostring(err) end
    return text, "=stdin"
  end
  local f, err = io.open(path, "rb")
  if not f then return nil, "cannot open " .. err end
  local text, rerr = f:read("a")
  f:close()
  if not text then return nil, "cannot read " .. path .. ": " .. tostring(rerr) end
  return text, "@" .. path
end

-- Compiles the text as lua5.4's loadfile does: a UTF-8 byte order mark and a first line starting
-- with '#' (a shebang) are skipped, the line numbers kept.
local function compile(text, chunkname)
  if text:sub(1, 3) == "\239\187\191" then text = text:sub(4) end
  if text:sub(1, 1) == "#" then text = text:gsub("^[^\n]*", "", 1) end
  return load(text, chunkname, "bt")
end

-- The global `arg` of the script, as lua5.4 builds it: arg[0] the script, arg[1..n] its
-- arguments, and the negative indices the words before the script on the process's command line
-- (the interpreter lowest, then the quarry launcher, "run" and our options).
local function script_arg(argv, script_at, launcher_arg)
  local before = {}
  if type(launcher_arg) == "table" then
    local lo = 0
    while launcher_arg[lo - 1] ~= nil do lo = lo - 1 end
    for k = lo, 0 do before[#before + 1] = launcher_arg[k] end
  else
    before[1] = "quarry"
  end
  before[#before + 1] = "run"
  for k = 1, script_at - 1 do before[#before + 1] = argv[k] end
  local a = {}
  for k = 1, #before do a[k - 1 - #before] = before[k] end
  for k = script_at, #argv do a[k - script_at] = argv[k] end
  return a
end

-- The directories holding Quarry's own Lua modules (source checkout or installed tree).
local function own_dirs()
  local dirs = {}
  for _, mod in ipairs({ "quarry", "quarry.cli", "quarry.chain" }) do
    local file = package.searchpath(mod, package.path)
    if file then dirs[#dirs + 1] = file:match("^(.*/)[^/]*$") end
  end
  return dirs
end

local function is_own(source, dirs)
  for _, d in ipairs(dirs) do
    if source:sub(1, #d) == d then return true end
  end
  return false
end

-- The current line of the innermost frame of the script (chunk name chunkname), from level on.
local function script_position(chunkname, level)
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then return nil end
    if info.source == chunkname and info.currentline and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline
    end
    level = level + 1
  end
end

-- Does the position "file:line" of a message name a line of Quarry's own files? Either a frame
-- on the stack from level on is at that line of one of them (the message's file name may be
-- shortened, as Lua shortens long paths), or the file is under one of their directories.
local function own_position(file, line, level, dirs)
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then break end
    if info.short_src == file and info.currentline == line then
      return info.source:sub(1, 1) == "@" and is_own(info.source:sub(2), dirs)
    end
    level = level + 1
  end
  return is_own(file, dirs)
end

-- The message of an error value: a string as it is, except that a position in one of Quarry's
-- own files becomes the script's line that led there; a quarry error (or any value with
-- __tostring) as its tostring; other values as lua5.4 names them.
local function message_of(e, chunkname, level)
  if type(e) == "string" then
    local file, line, rest = e:match("^([^\n]-):(%d+): (.*)$")
    if file and own_position(file, tonumber(line), level + 1, own_dirs()) then
      local pos = script_position(chunkname, level + 1)
      if pos then return pos .. ": " .. rest end
      return rest
    end
    return e
  end
  local mt = getmetatable(e)
  if type(mt) == "table" and mt.__tostring then return tostring(e) end
  if type(e) == "number" then return tostring(e) end
  return ("(error object is a %s value)"):format(type(e))
end

-- The traceback from level on, without the frames of this command and the dispatcher below the
-- script's main chunk.
local function traceback(level)
  local tb = debug.traceback("", level + 1)
  local out = {}
  for line in tb:gmatch("[^\n]+") do
    if line:find("in function 'xpcall'", 1, true) then break end
    out[#out + 1] = line
  end
  return table.concat(out, "\n")
end

-- Runs the script; returns its exit status (an os.exit in the script ends the process itself).
local function execute(chunk, chunkname, a, opts)
  local saved_arg = _G.arg
  _G.arg = a
  local interrupt = require("quarry.cli.interrupt")
  local ok, err = xpcall(chunk, function(e)
    if interrupt.interrupted(e) then return e end -- Ctrl-C: main reports it (exit 130)
    local msg = message_of(e, chunkname, 2)
    if opts.traceback then msg = msg .. "\n" .. traceback(2) end
    return msg
  end, table.unpack(a, 1, #a))
  _G.arg = saved_arg
  if ok then return EXIT_OK end
  interrupt.pass(err)
  io.stdout:flush()
  io.stderr:write("quarry run: ", err, "\n")
  return EXIT_FAILED
end

function M.run(argv)
  local opts, perr = parse(argv)
  if not opts then return usage_error(perr) end
  if opts.help then
    io.stdout:write(USAGE)
    return EXIT_OK
  end
  local path = argv[opts.script_at]
  if path == nil then return usage_error("missing SCRIPT (a Lua file, or - for stdin)") end
  local text, chunkname = read_script(path)
  if not text then
    local rerr = chunkname
    io.stderr:write("quarry run: ", rerr, "\n")
    return EXIT_USAGE
  end
  local chunk, cerr = compile(text, chunkname)
  if not chunk then
    io.stderr:write("quarry run: ", cerr, "\n")
    return EXIT_FAILED
  end
  local a = script_arg(argv, opts.script_at, _G.arg)
  local status = execute(chunk, chunkname, a, opts)
  -- As lua5.4 does at the end of a script: close the state, so that what the script left open
  -- (a database it did not close) is finalized before the process exits.
  io.stdout:flush()
  os.exit(status, true)
end

return M

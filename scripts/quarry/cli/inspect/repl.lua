-- quarry.cli.inspect.repl: the shell's read-eval-print loop: Lua 5.4 chunks and dot commands over an
-- open session; readline (line editing, history file, completion) on a terminal, plain lines
-- without prompts otherwise.
local pretty = require("quarry.cli.inspect.pretty")
local keys = require("quarry.cli.inspect.keys")
local builtins = require("quarry.cli.inspect.builtins")
local complete = require("quarry.cli.inspect.complete")

local M = {}

M.prompt, M.continuation = "quarry> ", ">> "
M.history_lines = 1000

-- ---- the environment chunks run in ---------------------------------------------------------------

--- The globals of the shell's chunks: db, chain, quarry, json, K (key parser), hex, unhex, pp,
--- session; everything else from _G. os.exit closes the session first.
function M.environment(session)
  local env = setmetatable({}, { __index = _G })
  env.quarry = require("quarry")
  local ok, json = pcall(require, "quarry.json")
  env.json = ok and json or nil
  env.session = session
  env.K = keys.check
  env.hex = keys.tohex
  env.unhex = function(h) return assert(keys.fromhex((h:gsub("^0[xX]", "")))) end
  env.pp = function(...)
    local parts = {}
    for i = 1, select("#", ...) do parts[i] = pretty.value((select(i, ...))) end
    print(table.concat(parts, "\t"))
  end
  env.os = setmetatable({ exit = function(...)
    pcall(session.close, session)
    os.exit(...)
  end }, { __index = os })
  env.db, env.chain = session.db, session.chain
  return env
end

-- ---- history -------------------------------------------------------------------------------------

--- The history file: $QUARRY_HISTORY (empty: none), else ~/.quarry_history (none without $HOME).
function M.history_path()
  local p = os.getenv("QUARRY_HISTORY")
  if p then return p ~= "" and p or nil end
  local home = os.getenv("HOME")
  if home and home ~= "" then return home .. "/.quarry_history" end
  return nil
end

-- Reads the last history_lines lines of the file (trimming the file when it is longer).
local function load_history(path)
  local f = io.open(path, "r")
  if not f then return {} end
  local lines = {}
  for l in f:lines() do lines[#lines + 1] = l end
  f:close()
  if #lines > M.history_lines then
    lines = table.move(lines, #lines - M.history_lines + 1, #lines, 1, {})
    local w = io.open(path, "w")
    if w then
      w:write(table.concat(lines, "\n"), "\n")
      w:close()
    end
  end
  return lines
end

-- ---- input ---------------------------------------------------------------------------------------

local function stdin_is_terminal()
  return os.execute("test -t 0") == true
end

-- Standard input, as socket.select wants it.
local STDIN = { getfd = function() return 0 end, dirty = function() return false end }

-- One line through readline's callback interface, waiting on standard input and the signal pipe
-- at once (socket.select): Ctrl-C at the prompt discards the line typed and shows a fresh prompt,
-- as readline does in bash. (readline() itself, given the signal back by its own handler, goes on
-- editing the same line.) Returns the line, or nil at the end of input.
local function read_discarding(RL, sigs, prompt)
  local socket = require("socket")
  local done, line = false, nil
  local function on_line(l)
    done, line = true, l
    RL.handler_remove()
  end
  RL.handler_install(prompt, on_line)
  local ok, err = pcall(function()
    while not done do
      socket.select({ STDIN, sigs }, nil)
      if sigs:caught() then
        -- the signal came while waiting: read_char runs with it held (sigs:hold), so readline's
        -- own SIGINT handler, which it installs inside read_char, never takes it (when it did,
        -- its cleanup raced this one, and about one Ctrl-C in four at the prompt was lost)
        RL.handler_remove()
        io.stdout:write("^C\n")
        io.stdout:flush()
        RL.handler_install(prompt, on_line) -- a fresh, empty line
      elseif sigs.hold then
        sigs:hold(RL.read_char)
      else
        RL.read_char()
      end
    end
  end)
  if not done then RL.handler_remove() end
  if not ok then error(err, 0) end
  if line then line = line:gsub(" $", "") end -- as RL.readline does with completion on
  return line
end

-- A line reader on a terminal: readline when it loads, else a prompt and io.read.
local function terminal_reader(ctx)
  local okrl, RL = pcall(require, "readline")
  local path = M.history_path()
  local last
  if not okrl then
    return function(prompt)
      io.stdout:write(prompt)
      io.stdout:flush()
      return io.read("l")
    end
  end
  RL.set_options({ histfile = "", auto_add = false, completion = true })
  RL.set_readline_name("quarry")
  local history = path and load_history(path) or {}
  for _, l in ipairs(history) do RL.add_history(l) end
  last = history[#history]
  ctx.set_append = RL.set_completion_append_character
  RL.set_complete_function(function(line, from, to)
    return complete.complete(ctx, line, from, to)
  end)
  return function(prompt)
    local ok, line
    if ctx.sigs and RL.handler_install and RL.sigcleanup and package.searchpath("socket", package.path) then
      ok, line = pcall(read_discarding, RL, ctx.sigs, prompt)
    else
      ok, line = pcall(RL.readline, prompt)
    end
    if not ok then
      -- Ctrl-C at the prompt: readline cleared the line and passed the signal on to lua5.4's
      -- handler, which stops at the next Lua instruction, so the line entered next is lost.
      if tostring(line):find("interrupted!$") then
        io.stderr:write("interrupted (Ctrl-C): that line was dropped, enter it again\n")
        return ""
      end
      error(line, 0)
    end
    if line and line:match("%S") and line ~= last then
      RL.add_history(line)
      last = line
      if path then
        local f = io.open(path, "a")
        if f then
          f:write(line, "\n")
          f:close()
        end
      end
    end
    return line
  end
end

-- ---- evaluation ----------------------------------------------------------------------------------

local function write_out(line)
  io.stdout:write(line, "\n")
end

local interrupt = require("quarry.cli.interrupt")

-- Prints an error on stderr. A Ctrl-C or SIGTERM caught by the command (a piped shell: the
-- interactive one catches Ctrl-C itself) ends the shell instead, as it ends every command.
local function report(e)
  if interrupt.signal then error(e, 0) end
  io.stdout:flush()
  io.stderr:write(pretty.error(e), "\n")
  io.stderr:flush()
end

-- Compiles src as an expression (its values are printed) or else as statements. Returns the
-- function, or nil and the message; incomplete is true when more lines could complete it.
local function compile(src, env)
  local expr = src:match("^%s*=(.*)$")
  if expr then src = "return " .. expr end
  local f, rerr = load("return " .. src, "=stdin", "t", env)
  if f then return f end
  local err
  f, err = load(src, "=stdin", "t", env)
  if f then return f end
  -- more lines may complete it, as an expression ("1 +") or as statements ("for i = 1, 2 do")
  return nil, err, err:find("<eof>$") ~= nil or rerr:find("<eof>$") ~= nil
end

-- ---- Ctrl-C ----------------------------------------------------------------------------------------
-- lua5.4 stops a running chunk on SIGINT once, then restores the default action (a second Ctrl-C
-- kills the process). With quarry.catch_signals (a self-pipe), SIGINT only leaves a byte behind;
-- a count hook polls it while a line runs and raises "interrupted!" there, every time.

local function interrupt_catcher()
  local ok, quarry = pcall(require, "quarry.sys")
  if not ok or type(quarry.catch_signals) ~= "function" then return nil end
  local okc, sigs = pcall(quarry.catch_signals, { "INT" })
  return okc and sigs or nil
end

M.hook_count = 10000 -- VM instructions between two looks at the pipe

-- xpcall(fn, ...) returning the error value unchanged; interruptible by Ctrl-C when sigs is set.
local function guarded(sigs, fn, ...)
  local handler = function(e) return e end
  if not sigs then return xpcall(fn, handler, ...) end
  sigs:caught() -- forget a Ctrl-C pressed at the prompt
  debug.sethook(function()
    if sigs:caught() then error("interrupted!", 2) end
  end, "", M.hook_count)
  local r = table.pack(xpcall(fn, handler, ...))
  debug.sethook()
  return table.unpack(r, 1, r.n)
end

local function run_chunk(f, sigs)
  local r = table.pack(guarded(sigs, f))
  if not r[1] then
    report(r[2])
    return false
  end
  if r.n > 1 then
    local parts = {}
    for i = 2, r.n do parts[#parts + 1] = pretty.value(r[i]) end
    write_out(table.concat(parts, "\t"))
  end
  return true
end

--- Runs the loop over session. options: lines (a list: run these and return, as when piped),
--- interactive (default: stdin is a terminal). Returns the number of failed entries.
function M.run(session, options)
  options = options or {}
  local env = M.environment(session)
  local ctx = { session = session, env = env, write = write_out }
  function ctx.rebind() env.db, env.chain = session.db, session.chain end
  local interactive = options.interactive
  if interactive == nil and not options.lines then interactive = stdin_is_terminal() end
  local read
  if options.lines then
    local i = 0
    read = function()
      i = i + 1
      return options.lines[i]
    end
  elseif interactive then
    read = terminal_reader(ctx)
  else
    read = function() return io.read("l") end
  end
  if interactive then
    write_out("quarry shell: " .. session:describe())
    local fams = session.db:column_families()
    local extra = ""
    if session.chain then
      local tip = session.chain.tip and session.chain:tip()
      extra = "; chain = the chain store" .. (tip and (" (tip " .. tip .. ")") or " (empty)")
    elseif session.chain_error then
      extra = "; the chain store did not open: " .. session.chain_error
    end
    write_out("families: " .. table.concat(fams, ", ") .. "; db = the database" .. extra)
    write_out(".help lists the commands; Tab completes; Ctrl-D leaves.")
  end
  local sigs = interactive and interrupt_catcher() or nil
  ctx.sigs = sigs
  local failures, buffer = 0, nil
  while not ctx.quit do
    local ok, err = xpcall(function()
      local line = read(buffer and M.continuation or M.prompt)
      if line == nil then
        ctx.quit = true
        if buffer then
          failures = failures + 1
          report(select(2, compile(buffer, env)))
        end
        if interactive then write_out("") end
        return
      end
      if buffer == nil and line:match("^%s*%.[%a_]") then
        local okb, e = guarded(sigs, builtins.run, ctx, (line:gsub("^%s+", "")))
        if not okb then
          failures = failures + 1
          report(e)
        end
        return
      end
      local src = buffer and (buffer .. "\n" .. line) or line
      if buffer == nil and not src:match("%S") then return end
      local f, msg, incomplete = compile(src, env)
      if not f and incomplete then
        buffer = src
        return
      end
      buffer = nil
      if not f then
        failures = failures + 1
        report(msg)
      elseif not run_chunk(f, sigs) then
        failures = failures + 1
      end
    end, function(e) return e end)
    if not ok then -- an interrupt (Ctrl-C) or an error outside the user's chunk
      buffer = nil
      failures = failures + 1
      report(err)
    end
    io.stdout:flush()
  end
  if sigs then sigs:close() end
  return failures
end

return M

-- quarry.cli.interrupt: Ctrl-C (SIGINT) and SIGTERM for every command. quarry.cli.main starts it
-- before a command runs: the signals are caught into quarry.sys's self-pipe, and a count hook looks
-- at the pipe every hook_count Lua instructions; on a signal it records which one (M.signal) and
-- raises the error M.ERROR where the VM is, once. The error unwinds the command (its `<close>`
-- variables are closed, its pcalls clean up what they opened); main then collects what is left
-- (database handles close in their finalizers), prints `quarry <command>: interrupted` and exits
-- 128 + the signal's number (130, 143). A C call (a compaction, a RocksDB scan in C) finishes
-- first: the hook runs between Lua instructions only.
--
-- A second signal while the command unwinds takes the default path (lua5.4's own handler for
-- SIGINT, the default action for SIGTERM): the first one closed the catcher.
--
-- A command or script that catches signals itself (quarry.sys.catch_signals: serve, stats
-- --every, the shell's prompt, a `quarry run` script) takes them over: the first such call
-- releases this catcher and its hook.
local M = {}

M.hook_count = 10000 -- Lua instructions between two looks at the pipe
M.ERROR = "interrupted" -- the error value the hook raises
M.STATUS = { INT = 130, TERM = 143 } -- 128 + SIGINT (2), 128 + SIGTERM (15)

local sys_mod, original, sigs

-- Closes the catcher and removes the hook (the previous handlers come back).
function M.release()
  if sigs then
    local s = sigs
    sigs = nil
    debug.sethook()
    pcall(s.close, s)
  end
end

local function hook()
  if not sigs then return end
  local name = sigs:caught()
  if name then
    M.signal = M.signal or name
    M.release()
    error(M.ERROR, 0)
  end
end

--- Catches SIGINT and SIGTERM for the command about to run. Returns true when they are caught
--- (false: quarry.sys or its catch_signals is missing, or signals are already caught).
function M.start()
  M.signal = nil
  local ok, sys = pcall(require, "quarry.sys")
  if not ok or type(sys) ~= "table" or type(sys.catch_signals) ~= "function" then return false end
  if sys_mod ~= sys then
    sys_mod, original = sys, sys.catch_signals
    -- whoever catches signals next takes them over from the command's catcher
    sys.catch_signals = function(...)
      M.release()
      return original(...)
    end
  end
  local okc, s = pcall(original, { "INT", "TERM" })
  if not okc then return false end
  sigs = s
  debug.sethook(hook, "", M.hook_count)
  return true
end

--- Stops catching (after the command returned). A signal that came since the last look counts.
function M.stop()
  if sigs then
    local name = sigs:caught()
    if name then M.signal = M.signal or name end
  end
  M.release()
end

--- The signal that interrupted the command ("INT", "TERM"), or nil. err (the command's error, if
--- any) also counts as an interrupt when it is lua5.4's own ("...: interrupted!", raised when
--- the catcher was not there).
function M.interrupted(err)
  if M.signal then return M.signal end
  if type(err) == "string" and (err == M.ERROR or err:find("interrupted!$")) then return "INT" end
  return nil
end

--- Raises err again when the command was interrupted: for a command that catches errors to
--- report them itself, so that an interrupt reaches main as one (one line, exit 130 or 143).
function M.pass(err)
  if M.interrupted(err) then error(err, 0) end
end

return M

-- spec/tmux_helpers.lua: a command in a real terminal of a given size (a detached tmux session on
-- a server of its own, as spec/41's shell terminal), its screen read with capture-pane. Used by
-- spec/44 (progress lines); spec/41 keeps its own shell-specific terminal.
local helpers = require("spec.helpers")
local q = helpers.shell_quote

local M = {}

M.available = os.execute("command -v tmux >/dev/null 2>&1") == true

--- Starts `sh -c cmd` in a width x height terminal; cmd's exit status is printed after it as
--- "__exit__ N". Returns t: t.screen() (the visible rows, as tmux shows them: a line wider than
--- the terminal is several rows), t.finished(), t.kill().
function M.start(cmd, width, height)
  local t = { socket = helpers.tmpdir("tmux") .. "/sock", width = width, height = height or 24 }
  local tmux = "tmux -S " .. q(t.socket) .. " -f /dev/null "
  function t.run(args) return os.execute(tmux .. args .. " >/dev/null 2>&1") == true end
  function t.screen()
    local p = io.popen(tmux .. "capture-pane -p 2>/dev/null")
    local s = p:read("a")
    p:close()
    return s
  end
  function t.finished(screen) return (screen or t.screen()):match("__exit__ (%d+)") end
  function t.kill() t.run("kill-server") end
  local full = cmd .. "; echo __exit__ $?; sleep 120"
  assert(t.run(("new-session -d -x %d -y %d %s"):format(width, t.height, q("sh -c " .. q(full)))),
    "tmux new-session failed")
  return t
end

--- Runs cmd in a width-column terminal until it exits (up to timeout seconds, default 60),
--- capturing the screen every 0.1 s. Returns the captures (the last one after the exit) and the
--- exit status.
function M.run(cmd, width, timeout)
  local t = M.start(cmd, width)
  local captures, status = {}, nil
  local deadline = os.time() + (timeout or 60)
  while os.time() <= deadline do
    local s = t.screen()
    captures[#captures + 1] = s
    status = t.finished(s)
    if status then break end
    os.execute("sleep 0.1")
  end
  t.kill()
  return captures, tonumber(status)
end

--- The exit status a screen of M.start shows, or nil while the command runs.
function M.finished(screen) return screen:match("__exit__ (%d+)") end

--- The non-empty rows of a screen.
function M.rows(screen)
  local rows = {}
  for row in (screen .. "\n"):gmatch("(.-)\n") do
    if row:match("%S") then rows[#rows + 1] = row end
  end
  return rows
end

return M

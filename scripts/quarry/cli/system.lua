-- quarry.cli.system: what the command asks of the operating system: shell quoting for the
-- command lines it runs, this process's id, file sizes, peak memory, whether stderr is a terminal.
local M = {}

--- s quoted for a POSIX shell: one word whatever it holds (every tool that builds a command line
--- uses this one).
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- This process's id, or nil. The one pid reader of the command: quarry.sys.pid() when the C
--- module is installed, else the first field of /proc/self/stat.
function M.pid()
  local ok, sys = pcall(require, "quarry.sys")
  if ok and type(sys) == "table" and sys.pid then return sys.pid() end
  local f = io.open("/proc/self/stat", "r")
  if not f then return nil end
  local pid = f:read("n")
  f:close()
  return math.tointeger(pid)
end

--- Size in bytes of the file at path, or nil when it cannot be opened.
function M.file_size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

--- Peak resident memory of this process in bytes (VmHWM), or nil.
function M.peak_rss()
  local f = io.open("/proc/self/status", "r")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  local kb = s:match("VmHWM:%s*(%d+)%s*kB")
  return kb and tonumber(kb) * 1024 or nil
end

--- Is stderr a terminal worth drawing on?
function M.stderr_is_terminal()
  local term = os.getenv("TERM")
  if term == nil or term == "" or term == "dumb" then return false end
  return os.execute("test -t 2") == true
end

return M

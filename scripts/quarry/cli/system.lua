-- quarry.cli.system: what the command asks of the operating system: shell quoting for the
-- command lines it runs and the command running this process, this process's id, file sizes, peak memory, whether stderr is a terminal.
local M = {}

--- s quoted for a POSIX shell: one word whatever it holds (every tool that builds a command line
--- uses this one).
function M.shell_quote(s)
  return "'" .. tostring(s):gsub("'", "'\\''") .. "'"
end

--- The quarry command running this process, quoted for a shell, for child processes of the same
--- command ("lua5.4 .../bin/quarry"); "quarry" when the interpreter or the script is unknown.
function M.self_command()
  local interp, script = arg and arg[-1], arg and arg[0]
  if interp and script then return M.shell_quote(interp) .. " " .. M.shell_quote(script) end
  return "quarry"
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

--- Size in bytes of the regular file at path, or nil when it is not one or cannot be opened
--- ("-", a FIFO, a device: opening a FIFO to measure it would block).
function M.file_size(path)
  if require("quarry.sys").file_kind(path) ~= "file" then return nil end
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

--- The stream a command's summary line goes to: stderr when the output itself is streamed to
--- stdout ("-", /dev/stdout), so that the data stays clean; stdout otherwise.
function M.summary_stream(out)
  if out == "-" or out == "/dev/stdout" or out == "/proc/self/fd/1" or out == "/dev/fd/1" then
    return io.stderr
  end
  return io.stdout
end

--- Reports an output that could not be opened (a quarry error from json.writer or
--- quarry.sys.output: a symbolic link, a directory, a missing parent directory...) as
--- "quarry <name>: <message>"; returns the exit status: 2 for a
--- refused path (InvalidArgument), 1 otherwise. Other errors are raised again.
function M.output_failed(name, err)
  local quarry = require("quarry")
  if not quarry.is_error(err) then error(err, 0) end
  local msg = tostring(err.message):gsub("^output: ", "")
  io.stderr:write("quarry ", name, ": ", msg, "\n")
  return err.code == "InvalidArgument" and 2 or 1
end

--- A path for a temporary file inside a new private directory (quarry.sys.mkdtemp: mode 0700,
--- a name no one else holds), so that no other user can plant a link there or read it;
--- M.remove_temp(path) removes the file and its directory.
function M.temp_file(name)
  return require("quarry.sys").mkdtemp("quarry-tmp") .. "/" .. (name or "file")
end

function M.remove_temp(path)
  local dir = path:match("^(.*)/[^/]*$")
  if dir and dir:match("/quarry%-tmp%.[%w]+$") then
    os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'")
  else
    os.remove(path)
  end
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

--- True when path is a server URL (postgresql:// or postgres://) rather than a database
--- directory: the core opens it with its PostgreSQL backend; no LOCK, CURRENT file or secondary.
function M.is_server_url(path)
  return type(path) == "string" and (path:find("^postgresql://") or path:find("^postgres://")) ~= nil
end

--- path as printed: a server URL's password (user info or password= parameter) as ***, as the
--- core's db:path() gives it; a directory unchanged. For messages printed before or without a
--- handle.
function M.display_path(path)
  if not M.is_server_url(path) then return path end
  local shown = path:gsub("^(%a+://[^:/@?]*):[^/?]*@", "%1:***@")
  shown = shown:gsub("([?&]password=)[^&]*", "%1***")
  return shown
end

return M

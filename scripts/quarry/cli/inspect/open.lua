-- quarry.cli.inspect.open: opens a database for looking at it, never taking the LOCK from a node.
-- Default: read_only, or secondary when another process holds the LOCK (docs/shell.md "Opening").
local quarry = require("quarry")

local M = {}

local system = require("quarry.cli.system")
local shell_quote = system.shell_quote

local function read_all(cmd)
  local p = io.popen(cmd, "r")
  if not p then return nil end
  local out = p:read("a")
  p:close()
  return out
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() return true end
  return false
end

-- ---- who holds the LOCK ------------------------------------------------------------------------

-- Device (major, minor) and inode of a file, from stat(1); nil when it cannot be read.
local function file_id(path)
  local out = read_all("stat -L -c '%D %i' " .. shell_quote(path) .. " 2>/dev/null")
  local dev, ino = (out or ""):match("^(%x+) (%d+)")
  if not dev then return nil end
  local d = tonumber(dev, 16)
  local major = ((d >> 8) & 0xfff) | ((d >> 32) & ~0xfff)
  local minor = (d & 0xff) | ((d >> 12) & ~0xff)
  return major, minor, tonumber(ino)
end

--- Is the LOCK file of the database at dir locked by a live process? Reads /proc/locks (which
--- lists every POSIX and flock lock with the owner's pid and the file's device:inode), so the
--- check itself never takes the lock. Returns held (boolean), pid (number or nil).
--- When the answer cannot be known (no /proc, no stat), returns true, nil: the caller then
--- chooses the mode that is safe either way.
function M.lock_holder(dir)
  local lock = dir .. "/LOCK"
  if not exists(lock) then return false end
  local major, minor, ino = file_id(lock)
  local f = io.open("/proc/locks", "r")
  if not (major and f) then
    if f then f:close() end
    return true, nil
  end
  local held, holder = false, nil
  for line in f:lines() do
    -- "1: POSIX  ADVISORY  WRITE 2345 fe:00:10953925 0 EOF"; waiters have "->" before the type
    if not line:find("->", 1, true) then
      local pid, maj, min, i = line:match("^%d+:%s+%u+%s+%u+%s+%u+%s+(%d+)%s+(%x+):(%x+):(%d+)")
      if pid and tonumber(i) == ino then
        -- the same inode on another device is a different file, unless the device numbers come
        -- from an overlay (then only the inode is comparable): only a device match is certain
        if tonumber(maj, 16) == major and tonumber(min, 16) == minor then
          held, holder = true, tonumber(pid)
          break
        end
        held, holder = true, holder or tonumber(pid)
      end
    end
  end
  f:close()
  return held, holder
end

-- ---- scratch directories for secondary instances -----------------------------------------------

local function remove_tree(dir)
  if dir and #dir > 1 and dir ~= "/" then os.execute("rm -rf " .. shell_quote(dir)) end
end

-- Scratch directories are named quarry-secondary-<pid>-XXXXXX. One whose process is gone (killed
-- before it could clean up: SIGKILL, a second Ctrl-C) is removed by the next one made.
local function remove_stale_scratch(base)
  if not exists("/proc/self/stat") then return end
  local p = io.popen("ls -A " .. shell_quote(base) .. " 2>/dev/null")
  if not p then return end
  for name in p:lines() do
    local pid = name:match("^quarry%-secondary%-(%d+)%-%w+$")
    if pid and not exists("/proc/" .. pid .. "/stat") then remove_tree(base .. "/" .. name) end
  end
  p:close()
end

local function make_scratch()
  local base = os.getenv("TMPDIR")
  if not base or base == "" then base = "/tmp" end
  remove_stale_scratch(base)
  local template = ("%s/quarry-secondary-%s-XXXXXX"):format(base, system.pid() or "0")
  local out = read_all("mktemp -d " .. shell_quote(template) .. " 2>/dev/null")
  local dir = out and out:match("^(%S+)")
  if not dir then error("cannot create a scratch directory for the secondary instance under " .. base, 0) end
  return dir
end

-- ---- the session -------------------------------------------------------------------------------

local Session = {}
Session.__index = Session
Session.__name = "quarry.cli.inspect.session"
M.Session = Session

--- The chain store's families, when quarry.chain is installed; nil otherwise.
local function chain_module()
  local ok, chain = pcall(require, "quarry.chain")
  if ok and type(chain) == "table" and type(chain.open) == "function" then return chain end
  return nil
end

local function is_chain_store(families, chain)
  if not chain or type(chain.FAMILIES) ~= "table" then return false end
  local have = {}
  for _, n in ipairs(families) do have[n] = true end
  for _, n in ipairs(chain.FAMILIES) do
    if not have[n] then return false end
  end
  return true
end

function Session:_open_handles()
  local opts = { mode = self.mode, create_if_missing = false }
  if self.mode == "secondary" then opts.secondary_path = self.secondary_path end
  self.chain, self.chain_error = nil, nil
  local chain = self.want_chain and chain_module()
  if chain and is_chain_store(self.families, chain) then
    local ok, store = pcall(chain.open, self.path, { mode = self.mode, secondary_path = opts.secondary_path,
      create = false })
    if ok then
      self.chain, self.db = store, store.db
      return
    end
    self.chain_error = tostring(store)
  end
  self.db = quarry.open(self.path, opts)
end

--- Opens the database at path for inspection. options:
---   mode: "read_only", "secondary", "read_write" (takes the LOCK) or nil (automatic: secondary
---         when another process holds the LOCK, else read_only)
---   secondary_path: the secondary instance's directory (default: a scratch directory under
---         $TMPDIR or /tmp, removed by session:close())
---   chain: false to skip opening the chain store (default: opened when the families are there)
--- Returns a session: fields db, chain (a quarry.chain store or nil), mode, path, families,
--- reason (why this mode), holder (pid holding the LOCK, when known). Raises a quarry error
--- (or a plain message) when the database cannot be opened.
function M.open(path, options)
  options = options or {}
  if type(path) ~= "string" or path == "" then error("no database directory given (--db DIR)", 0) end
  local url = system.is_server_url(path)
  if not url then path = path:gsub("(.)/+$", "%1") end
  if not url and not exists(path .. "/CURRENT") then
    -- a regular file: the core says so ("it is a file, not a database directory")
    local okl, err = pcall(quarry.list_column_families, path)
    if not okl and quarry.is_error(err) and err.code == "InvalidArgument" then error(err.message, 0) end
    error(("%s is not a RocksDB database (no CURRENT file)"):format(path), 0)
  end
  local self = setmetatable({ path = path, want_chain = options.chain ~= false }, Session)
  local mode = options.mode
  if mode == nil and url then
    mode = "read_only" -- a server has no LOCK; a read_only handle sees the latest commits
    self.reason = "a server URL"
  elseif mode == nil then
    local held, pid = M.lock_holder(path)
    self.holder = pid
    if held then
      mode = "secondary"
      self.reason = pid and ("the LOCK is held by process " .. pid) or "the LOCK may be held"
    else
      mode = "read_only"
      self.reason = "the LOCK is free"
    end
  else
    self.reason = "as asked"
  end
  if mode ~= "read_only" and mode ~= "secondary" and mode ~= "read_write" then
    error("unknown mode '" .. tostring(mode) .. "'", 0)
  end
  self.mode = mode
  if mode == "secondary" then
    if options.secondary_path then
      self.secondary_path = options.secondary_path
    else
      self.secondary_path = make_scratch()
      self.scratch = self.secondary_path
    end
  end
  local ok, err = pcall(function()
    self.families = quarry.list_column_families(path)
    self:_open_handles()
  end)
  if not ok then
    remove_tree(self.scratch)
    self.scratch = nil
    error(err, 0)
  end
  return self
end

--- The family handle for name (nil or "default": the default family, as db). Raises a plain
--- message naming the families when there is no such family.
function Session:cf(name)
  if name == nil or name == "default" then return self.db end
  for _, n in ipairs(self.db:column_families()) do
    if n == name then return self.db:cf(name) end
  end
  error(("no column family '%s' (families: %s)"):format(name,
    table.concat(self.db:column_families(), ", ")), 0)
end

--- Brings the view up to date: secondary catches up with the primary; read_only reopens (new
--- handles in self.db / self.chain: handles taken from the old ones are closed); read_write is
--- always current. Returns a sentence saying what was done.
function Session:refresh()
  if system.is_server_url(self.path) then
    return "a server URL: always current"
  elseif self.mode == "secondary" then
    if self.chain then self.chain:catch_up() else self.db:catch_up() end
    return "caught up with the primary"
  elseif self.mode == "read_only" then
    self:_close_handles()
    self.families = quarry.list_column_families(self.path)
    self:_open_handles()
    return "reopened read-only"
  end
  return "read-write: always current"
end

function Session:_close_handles()
  if self.chain then self.chain:close() end
  if self.db then self.db:close() end
  self.chain, self.db = nil, nil
end

--- Closes the database and removes the scratch secondary directory. Harmless twice.
function Session:close()
  local ok, err = pcall(self._close_handles, self)
  remove_tree(self.scratch)
  self.scratch = nil
  if not ok then error(err, 0) end
end
Session.__close = Session.close
Session.__gc = function(self) pcall(Session.close, self) end

--- One line describing the session: "DIR (mode: why)".
function Session:describe()
  local what = self.mode:gsub("_", "-")
  return ("%s (%s: %s)"):format(self.path, what, self.reason)
end

return M

-- quarry.cli.maintenance: what the durability commands (checkpoint, backup, compact, digest, prune) share:
-- opening a database with errors that say what to do, byte counts, family lookup.
local quarry = require("quarry")

local M = {}

--- Human byte count: "812 B", "12.4 MiB" (quarry.cli.format.bytes).
M.bytes = require("quarry.cli.format").bytes

-- What to do when another process holds the database, per command.
local LOCKED_HINT = {
  checkpoint = "stop the process using it, or take the checkpoint inside it with db:checkpoint(dir)",
  backup = "stop the process using it, or back it up inside it with quarry.backups(dir):create(db)",
  compact = "stop the process using it, or compact inside it with db:compact()",
  prune = "stop the process using it first",
}

--- Opens the database at path for command `what`. mode "read_write" (default) or "read_only".
--- Never creates a database. Raises a string error that names the directory and the remedy.
function M.open(path, what, mode)
  local ok, db = pcall(quarry.open, path, { create_if_missing = false, mode = mode })
  if ok then return db end
  local err = db
  if quarry.is_error(err) then
    if err.code == "NotFound" then
      error(("database %s does not exist"):format(path), 0)
    elseif err.code == "Locked" or err.code == "Busy" then
      local hint = LOCKED_HINT[what]
      if hint then
        error(("database %s is locked by another process; quarry %s needs it to itself: %s")
          :format(path, what, hint), 0)
      end
      error(err.message, 0)
    end
  end
  error(err, 0)
end

--- The family called name of db, or raises an error listing the families.
function M.family(db, name)
  for _, n in ipairs(db:column_families()) do
    if n == name then return db:cf(name) end
  end
  error(("database %s has no column family '%s' (families: %s)"):format(db:path(), name,
    table.concat(db:column_families(), ", ")), 0)
end

--- Runs fn(db) with db closed afterwards, whatever happens.
function M.with(db, fn)
  local ok, a, b, c = pcall(fn, db)
  db:close()
  if not ok then error(a, 0) end
  return a, b, c
end

--- Runs fn(...) for a command: a quarry error raised inside becomes its message alone, so the
--- command prints "quarry <command>: <message>" (cli.main) and exits with status 1.
function M.run(fn, ...)
  local ok, res = pcall(fn, ...)
  if ok then return res end
  if quarry.is_error(res) then error(res.message, 0) end
  error(res, 0)
end

--- UTC time of a Unix timestamp, ISO 8601.
function M.iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

return M

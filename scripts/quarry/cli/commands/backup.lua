-- quarry backup create|list|verify|restore|purge: incremental backups of a database into a
-- backup directory (RocksDB's BackupEngine), verified by content, restored into new directories.
-- docs/durability.md.
local cli = require("quarry.cli")

local M = { summary = "incremental backups: create, list, verify (by content), restore, purge" }

local function count(min)
  return function(s)
    local n = math.tointeger(tonumber(s))
    if not n or n < min then return nil, ("an integer >= %d expected, got '%s'"):format(min, s) end
    return n
  end
end

local function backup_id(s)
  if s == "latest" then return s end
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then return nil, ("a backup id (integer >= 1) or 'latest' expected, got '%s'"):format(s) end
  return n
end

local function parser()
  local p = cli.parser("backup", M.summary)
  p:command_target("command")
  p:require_command(true)
  local c = p:command("create", "Back up a database (incremental: unchanged table files are shared)")
  c:option("--db", "The database directory"):count(1)
  c:option("--backup-dir", "The backup directory (created if missing; its parent must exist)"):count(1)
  c:option("--max-backups", "Keep only the newest N backups after this one (0: keep all)")
    :convert(count(0))
  c:flag("--no-flush", "Do not flush the memtables first (the WAL is backed up instead; a database without WAL is always flushed)")
  local l = p:command("list", "List the backups: id, time, size, number of files")
  l:option("--backup-dir", "The backup directory"):count(1)
  cli.output_option(l) -- json: {"backup_dir", "backups": [{"id", "timestamp", "created", "size", "files"}]}
  local v = p:command("verify", "Check every byte of every file of a backup (or of all) against its checksum")
  v:option("--backup-dir", "The backup directory"):count(1)
  v:option("--id", "The backup to check: an id or 'latest' (default: every backup)"):convert(backup_id)
  v:mutex(
    v:flag("--deep", "Also restore into a scratch directory and read every key with checksums"),
    v:flag("--shallow", "Only check that every file is present with its recorded size (fast; does NOT detect corruption)")
  )
  local r = p:command("restore", "Restore a backup into a new (or empty) directory")
  r:option("--backup-dir", "The backup directory"):count(1)
  r:option("--db", "Where to restore (must not exist, or be empty; see --overwrite)"):count(1)
  r:option("--id", "The backup to restore: an id or 'latest'", "latest"):convert(backup_id)
  r:option("--wal-dir", "Put the WAL files in this directory")
  r:flag("--overwrite", "Replace the database at --db (it must hold a database and not be open)")
  local g = p:command("purge", "Delete all but the newest N backups")
  g:option("--backup-dir", "The backup directory"):count(1)
  g:option("--keep", "How many of the newest backups to keep (0 needs --force)"):count(1):convert(count(0))
  g:flag("--force", "Allow --keep 0: delete every backup")
  return p
end

local function open_backups(dir, opts)
  local quarry = require("quarry")
  local ok, b = pcall(quarry.backups, dir, opts)
  if ok then return b end
  if quarry.is_error(b) then error(b.message, 0) end
  error(b, 0)
end

local commands = {}

function commands.create(args, D)
  local b <close> = open_backups(args.backup_dir, { max_backups = args.max_backups })
  local db = D.open(args.db, "backup")
  local id = D.with(db, function()
    -- one blocking call (RocksDB's BackupEngine, no progress callback in its C API): a helper
    -- process redraws the bytes the backup directory gained so far (new files only: unchanged
    -- table files are shared) beside the database's size
    return require("quarry.cli.progress").during({ state = { label = "backup create" },
      measure = require("quarry.cli.system").shell_quote(args.backup_dir), total = db:size_on_disk() },
      b.create, b, db, { flush = not args.no_flush })
  end)
  for _, e in ipairs(b:list()) do
    if e.id == id then
      print(("backup %d of %s created in %s: %d files, %s"):format(id, args.db, args.backup_dir,
        e.files, D.bytes(e.size)))
    end
  end
  return cli.EXIT_OK
end

function commands.list(args, D)
  local b <close> = open_backups(args.backup_dir, { create_if_missing = false })
  local list = b:list()
  if args.output == "json" then
    local json = require("quarry.json")
    local rows = {}
    for _, e in ipairs(list) do
      rows[#rows + 1] = { id = e.id, timestamp = e.timestamp, created = D.iso(e.timestamp), size = e.size,
        files = e.files }
    end
    print(json.encode({ backup_dir = args.backup_dir, backups = json.array(rows) }))
    return cli.EXIT_OK
  end
  if #list == 0 then
    print(("no backups in %s"):format(args.backup_dir))
    return cli.EXIT_OK
  end
  print(("%6s  %-20s  %12s  %6s"):format("id", "created (UTC)", "size", "files"))
  for _, e in ipairs(list) do
    print(("%6d  %-20s  %12s  %6d"):format(e.id, D.iso(e.timestamp), D.bytes(e.size), e.files))
  end
  return cli.EXIT_OK
end

function commands.verify(args)
  local quarry = require("quarry")
  local b <close> = open_backups(args.backup_dir, { create_if_missing = false })
  local ids = {}
  if args.id then
    ids[1] = args.id
  else
    for _, e in ipairs(b:list()) do ids[#ids + 1] = e.id end
    if #ids == 0 then
      io.stderr:write(("quarry backup: no backups in %s to verify\n"):format(args.backup_dir))
      return cli.EXIT_FAILED
    end
  end
  local failed = 0
  for _, id in ipairs(ids) do
    local ok, res = pcall(b.verify, b, id, { deep = args.deep, shallow = args.shallow })
    if ok then
      print(("backup %d: ok (%s)"):format(res, args.shallow
        and "shallow: every file present with its recorded size; content not checked"
        or ("every file matches its checksum" ..
          (args.deep and "; restored copy read back with checksums" or ""))))
    elseif quarry.is_error(res) and (res.code == "Corruption" or res.code == "NotFound" or res.code == "IOError") then
      failed = failed + 1
      io.stderr:write(("quarry backup: backup %s: FAILED: %s\n"):format(tostring(id), res.message))
    else
      error(res, 0)
    end
  end
  return failed == 0 and cli.EXIT_OK or cli.EXIT_FAILED
end

function commands.restore(args, D)
  local b <close> = open_backups(args.backup_dir, { create_if_missing = false })
  local id = b:restore(args.id, args.db, args.wal_dir, { overwrite = args.overwrite })
  print(("backup %d restored into %s%s"):format(id, args.db,
    args.wal_dir and (" (WAL in " .. args.wal_dir .. ")") or ""))
  return cli.EXIT_OK
end

function commands.purge(args)
  if args.keep == 0 and not args.force then
    io.stderr:write(("quarry backup: purge --keep 0 deletes every backup in %s: add --force to do " ..
      "that, or keep at least one (--keep 1)\n"):format(args.backup_dir))
    return cli.EXIT_USAGE
  end
  local b <close> = open_backups(args.backup_dir, { create_if_missing = false })
  local before = #b:list()
  b:purge(args.keep)
  local after = b:list()
  local ids = {}
  for i, e in ipairs(after) do ids[i] = tostring(e.id) end
  print(("purged %d backup(s) from %s; kept %d: %s"):format(before - #after, args.backup_dir,
    #after, #ids > 0 and table.concat(ids, ", ") or "none"))
  return cli.EXIT_OK
end

function M.run(argv)
  local args, status = cli.parse(parser(), argv)
  if not args then return status end
  local D = require("quarry.cli.maintenance")
  return D.run(commands[args.command], args, D)
end

return M

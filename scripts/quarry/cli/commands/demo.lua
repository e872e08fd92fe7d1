-- quarry demo: writes, reads back, checkpoints and reopens a database, printing each step.
-- A short tour of the module; the chain tools (gen, migrate, verify) are the main job.
local cli = require("quarry.cli")

local M = { summary = "a short tour: write, read back, batch, iterate, snapshot, reopen" }

function M.run(argv)
  local p = cli.parser("demo", M.summary)
  p:option("--db", "Database directory (created; must not exist)", "demo-db")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local quarry = require("quarry")
  -- the demo writes its own keys: into an existing database (a chain store...) they would be
  -- garbage; whatever is there (a directory, a file, a link, even a dangling one) is refused
  local file_kind = require("quarry.sys").file_kind
  local kind = file_kind(args.db)
  if kind ~= nil then
    local what = kind == "directory" and (file_kind(args.db .. "/CURRENT") and "a database"
      or "a directory") or ("a " .. kind)
    io.stderr:write(("quarry demo: %s already exists (%s); the demo creates a new database: give "
      .. "a path that does not exist (--db NEW_DIR)\n"):format(args.db, what))
    return cli.EXIT_USAGE
  end

  print(("quarry %s over RocksDB %s"):format(quarry.version, quarry.rocksdb_version))
  do
    local db <close> = quarry.open(args.db, { column_families = { "blocks", "meta" } })
    print(("opened %s (%s), families: %s"):format(db:path(), db:mode(),
      table.concat(db:column_families(), ", ")))
    local blocks = db:cf("blocks")
    db:write(function(b)
      for h = 1, 1000 do
        b:put(blocks, string.pack(">I8", h), ("block %d"):format(h))
      end
      b:put(db:cf("meta"), "tip", string.pack(">I8", 1000))
    end, { sync = true })
    print("wrote 1,000 blocks and the tip in one atomic batch (synced)")
    local snap <close> = db:snapshot()
    db:put("note", "written after the snapshot")
    print(("get(height 42) = %q"):format(blocks:get(string.pack(">I8", 42))))
    print(("snapshot sees note: %s; latest sees note: %q"):format(
      tostring(db:get("note", { snapshot = snap })), db:get("note")))
    local n = 0
    for k, v in blocks:pairs({ from = string.pack(">I8", 10), to = string.pack(">I8", 15) }) do
      n = n + 1
      print(("  scan %d -> %s"):format(string.unpack(">I8", k), v))
    end
    print(("scanned %d blocks in [10, 15)"):format(n))
  end
  local db <close> = quarry.open(args.db)
  print(("reopened: tip = %d, families: %s"):format(
    string.unpack(">I8", db:cf("meta"):get("tip")), table.concat(db:column_families(), ", ")))
  return cli.EXIT_OK
end

return M

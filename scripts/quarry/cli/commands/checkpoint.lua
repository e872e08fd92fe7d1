-- quarry checkpoint: a consistent, openable copy of a database in a new directory (hard links on
-- the same filesystem, copies across), fsynced with its parent directory. docs/durability.md.
local cli = require("quarry.cli")

local M = { summary = "a consistent, openable copy of a database in a new directory" }

function M.run(argv)
  local p = cli.parser("checkpoint", M.summary)
  p:option("--db", "The database directory"):count(1)
  p:option("--to", "The checkpoint directory (must not exist; its parent must)"):count(1)
  cli.output_option(p) -- json: {"db", "to", "column_families"}
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local D = require("quarry.cli.maintenance")
  return D.run(function()
    local db = D.open(args.db, "checkpoint")
    D.with(db, function()
      -- one blocking call: a helper process redraws the bytes of the staging directory beside
      -- the target (core/src/checkpoint.c: hard links on one filesystem, copies across)
      local sh = require("quarry.cli.system").shell_quote
      local parent = args.to:match("^(.*)/[^/]+/*$") or "."
      require("quarry.cli.progress").during({ state = { label = "checkpoint" },
        measure = sh(parent == "" and "/" or parent) .. "/.quarry-checkpoint.*",
        total = db:size_on_disk() }, db.checkpoint, db, args.to)
    end)
    -- the copy opens: check it (read-only) and report what it holds
    local c = D.open(args.to, "checkpoint", "read_only")
    local nfam = D.with(c, function()
      return #c:column_families()
    end)
    if args.output == "json" then
      print(require("quarry.json").encode({ db = args.db, to = args.to, column_families = nfam }))
      return cli.EXIT_OK
    end
    print(("checkpoint of %s written to %s (%d column families)"):format(args.db, args.to, nfam))
    return cli.EXIT_OK
  end)
end

return M

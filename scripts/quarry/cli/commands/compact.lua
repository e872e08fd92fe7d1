-- quarry compact: compacts every family (or one) of a database and reports the size on disk
-- before and after. docs/durability.md.
local cli = require("quarry.cli")

local M = { summary = "compact a database (or one column family); sizes before and after" }

function M.run(argv)
  local p = cli.parser("compact", M.summary)
  p:option("--db", "The database directory"):count(1)
  p:option("--cf", "Only this column family")
  cli.output_option(p) -- json: {"db", "cf", "before", "after", "reclaimed"} (bytes)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local D = require("quarry.cli.maintenance")
  return D.run(function()
    local db = D.open(args.db, "compact")
    local before, after = D.with(db, function()
      local cf = args.cf and D.family(db, args.cf) or nil
      local b = db:size_on_disk()
      -- one blocking call per family (what db:compact(nil) does in turn): the line, redrawn by
      -- a helper process during each call, shows the family and how many are done
      local progress = require("quarry.cli.progress")
      local names = args.cf and { args.cf } or db:column_families()
      local start = progress.now()
      for k, name in ipairs(names) do
        progress.during({ start = start, state = { label = "compact", fraction = (k - 1) / #names,
          count = k - 1, total = #names, unit = "families", rate = false, detail = name } },
          db.compact, db, cf or db:cf(name))
      end
      return b, db:size_on_disk()
    end)
    if args.output == "json" then
      print(require("quarry.json").encode({ db = args.db, cf = args.cf, before = before, after = after,
        reclaimed = math.max(0, before - after) }))
      return cli.EXIT_OK
    end
    print(("compacted %s%s: %s -> %s on disk (%s reclaimed)"):format(args.db,
      args.cf and (" (family " .. args.cf .. ")") or "", D.bytes(before), D.bytes(after),
      D.bytes(math.max(0, before - after))))
    return cli.EXIT_OK
  end)
end

return M

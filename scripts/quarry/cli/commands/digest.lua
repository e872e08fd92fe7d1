-- quarry digest: the SHA-256 content digest of every column family and of the whole database
-- (db:digest), to prove two databases hold the same data. Opens read-only, so it also works on a
-- database another process has open. docs/durability.md.
local cli = require("quarry.cli")

local M = { summary = "SHA-256 digest of every family and of the database (same data, same digest)" }

function M.run(argv)
  local p = cli.parser("digest", M.summary)
  p:option("--db", "The database directory"):count(1)
  p:option("--cf", "Only this column family")
  p:epilog("Prints one line \"<family> <hex>\" per family in name order, then \"total <hex>\" " ..
    "(the database digest). With --cf, only that family's line.")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local D = require("quarry.cli.maintenance")
  return D.run(function()
    local db = D.open(args.db, "digest", "read_only")
    D.with(db, function()
      if args.cf then
        print(("%s %s"):format(args.cf, D.family(db, args.cf):digest()))
        return
      end
      local total, families = db:digest()
      local names = {}
      for name in pairs(families) do names[#names + 1] = name end
      table.sort(names)
      for _, name in ipairs(names) do print(("%s %s"):format(name, families[name])) end
      print(("total %s"):format(total))
    end)
    return cli.EXIT_OK
  end)
end

return M

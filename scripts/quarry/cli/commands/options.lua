-- quarry options: the tuning values in effect and where each comes from (a --db-<option> flag, a
-- QUARRY_DB_* variable, the preset), as `--print-options` prints them at each open of a command.
local cli = require("quarry.cli")

local M = { summary = "the tuning values in effect (--db-* flags, QUARRY_DB_*, preset) and where each comes from" }

function M.run(argv)
  local p = cli.parser("options", M.summary)
  p:option("--db", "Open this database read-only and print the values it opens with "
    .. "(default: the values, without opening a database)")
  cli.output_option(p) -- json: {"db", "preset", "options": [{"name", "value", "source", "flag", "env"}]}
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local o = { preset = cli.tuning.preset }
  local values
  if args.db then
    local D = require("quarry.cli.maintenance")
    cli.tuning.print = nil
    values = D.run(function()
      local db = D.open(args.db, "options", "read_only")
      return D.with(db, function() return db:tuning() end)
    end)
  else
    values = cli.tuning_values(o)
  end
  local rows = cli.tuning_rows(values, cli.tuning_sources(o))
  if args.output == "json" then
    local json = require("quarry.json")
    print(json.encode({ db = args.db and require("quarry.cli.system").display_path(args.db) or json.null, preset = o.preset or "default", options = json.array(rows) }))
  else
    cli.print_tuning(io.stdout, rows, args.db and ("tuning of %s (read_only):"):format(require("quarry.cli.system").display_path(args.db))
      or "tuning (no database opened):")
  end
  return cli.EXIT_OK
end

return M

-- quarry cfs: lists the column families of a database (no need to open it), or with --long
-- their estimated keys and sizes. docs/shell.md.
local cli = require("quarry.cli")
local C = require("quarry.cli.inspect.commands")

local M = { summary = "list the column families (--long: estimated keys and sizes)" }

function M.run(argv)
  local p = cli.parser("cfs", M.summary)
  C.add_open_options(p)
  p:flag("-l --long", "Estimated keys, SST bytes and memtable bytes of each family.")
  cli.output_option(p, nil, { flag = "--json" }) -- json: an array of names (of objects with --long)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local json = args.json and C.formatter({ style = "json" }) or nil
  if not args.long then
    local ok, names = pcall(require("quarry").list_column_families, args.db)
    if not ok then
      -- let the session report a missing database the way every inspection command does
      local session <close> = C.open_session(args)
      names = session.db:column_families()
    end
    if json then print(json.doc(json.json.array(names))) else
      for _, n in ipairs(names) do print(n) end
    end
    return cli.EXIT_OK
  end
  local session <close> = C.open_session(args)
  local rows = C.families(session)
  if json then
    print(json.doc(json.json.array(rows)))
    return cli.EXIT_OK
  end
  local text = {}
  for i, r in ipairs(rows) do
    text[i] = { r.name, r.estimate_keys or "?", C.human(r.sst_bytes), C.human(r.memtable_bytes) }
  end
  for _, line in ipairs(C.columns({ "family", "keys (est.)", "sst", "memtables" }, text)) do print(line) end
  return cli.EXIT_OK
end

return M

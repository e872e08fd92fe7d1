-- quarry count: the number of keys of a family (exact: reads every key; --estimate: RocksDB's
-- estimate). docs/shell.md.
local cli = require("quarry.cli")
local C = require("quarry.cli.inspect.commands")

local M = { summary = "count the keys of a family (exact, or --estimate)" }

function M.run(argv)
  local p = cli.parser("count", M.summary)
  C.add_open_options(p)
  C.add_cf_option(p)
  p:flag("--all", "Every family, one line each (\"NAME COUNT\").")
  p:option("--from", "First key (inclusive).")
  p:option("--to", "End key (exclusive).")
  p:option("--prefix", "Only keys starting with these bytes.")
  p:flag("--estimate", "RocksDB's estimate (rocksdb.estimate-num-keys) instead of reading every key.")
  p:flag("--hex --key-hex --key_hex", "Keys given in hex.")
  cli.output_option(p, nil, { flag = "--json" }) -- json: {"cf": NAME, "count": N} (an array with --all)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local o = { estimate = args.estimate }
  if not C.key_options("count", args, { "from", "to", "prefix" }, o) then return cli.EXIT_USAGE end
  local session <close> = C.open_session(args)
  local names = args.all and session.db:column_families() or { args.cf or "default" }
  local results = {}
  for i, name in ipairs(names) do
    o.cf = name
    results[i] = { cf = name, count = C.count(session, o) }
  end
  if args.json then
    local fmt = C.formatter({ style = "json" })
    print(fmt.doc(args.all and fmt.json.array(results) or results[1]))
  elseif args.all then
    local rows = {}
    for i, r in ipairs(results) do rows[i] = { r.cf, r.count } end
    for _, line in ipairs(C.columns({ "family", "keys" }, rows)) do print(line) end
  else
    print(results[1].count)
  end
  return cli.EXIT_OK
end

return M

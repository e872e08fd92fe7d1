-- quarry scan: prints the pairs of a column family in key order, with ldb's semantics
-- (--from inclusive, --to exclusive, --max-keys, --hex ...); --json for scripts. docs/shell.md.
local cli = require("quarry.cli")
local C = require("quarry.cli.inspect.commands")

local M = { summary = "print the keys and values of a family in order (like ldb scan)" }

function M.run(argv)
  local p = cli.parser("scan", M.summary)
  C.add_open_options(p)
  C.add_cf_option(p)
  p:option("--from", "First key (inclusive).")
  p:option("--to", "End key (exclusive).")
  p:option("--prefix", "Only keys starting with these bytes.")
  p:option("--max-keys --max_keys --max", "Print at most N pairs."):convert(tonumber)
  p:flag("--keys-only --no_value --no-value", "Keys only.")
  p:flag("--reverse", "From the last key down.")
  C.add_format_options(p)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if args.max_keys and (math.type(args.max_keys) ~= "integer" or args.max_keys < 0) then
    io.stderr:write("quarry scan: --max-keys must be a non-negative integer\n")
    return cli.EXIT_USAGE
  end
  local o = { cf = args.cf, max = args.max_keys, keys_only = args.keys_only, reverse = args.reverse }
  if not C.key_options("scan", args, { "from", "to", "prefix" }, o) then return cli.EXIT_USAGE end
  local fmt = C.formatter_from_args(args)
  local session <close> = C.open_session(args)
  local write, finish = C.stdout_writer(args)
  C.scan(session, o, fmt, write)
  finish()
  return cli.EXIT_OK
end

return M

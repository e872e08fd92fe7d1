-- quarry get: prints the value of each key (ldb get for one key); exit status 1 when a key is
-- missing. docs/shell.md.
local cli = require("quarry.cli")
local C = require("quarry.cli.inspect.commands")

local M = { summary = "print the values of keys (like ldb get); exit 1 when one is missing" }

function M.run(argv)
  local p = cli.parser("get", M.summary)
  C.add_open_options(p)
  C.add_cf_option(p)
  p:argument("key", "Keys: text, 0x<hex>, \"quoted\\x00\", height:N, hash:<hex> (docs/shell.md)."):args("+")
  C.add_format_options(p)
  p:flag("--raw", "The value's exact bytes on stdout, nothing added (no newline); one key.")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if args.raw and (#args.key ~= 1 or args.json or args.pretty or args.hex or args.value_hex) then
    cli.fail("get", #args.key ~= 1 and "--raw takes one key (the bytes of two values would run together)"
      or "--raw prints the value's bytes as they are: not with --json, --pretty, --hex or --value-hex")
    return cli.EXIT_USAGE
  end
  local list = {}
  for i, text in ipairs(args.key) do
    local k, err = C.key_arg(args, text, "key")
    if k == nil then
      cli.fail("get", err)
      return cli.EXIT_USAGE
    end
    list[i] = k
  end
  local fmt = C.formatter_from_args(args)
  local session <close> = C.open_session(args)
  local missing
  if args.raw then
    local v = session:cf(args.cf):get(list[1])
    if v == nil then missing = { list[1] } else missing = {}; io.stdout:write(v); io.stdout:flush() end
  else
    local write, finish = C.stdout_writer(args)
    missing = C.get(session, { cf = args.cf }, list, fmt, write)
    finish()
  end
  for _, k in ipairs(missing) do
    io.stderr:write("quarry get: not found: ", require("quarry.cli.inspect.keys").typed(k), "\n")
  end
  return #missing == 0 and cli.EXIT_OK or cli.EXIT_FAILED
end

return M

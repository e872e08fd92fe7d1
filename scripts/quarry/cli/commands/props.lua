-- quarry props: RocksDB properties of a family (the useful one-line figures by default, or the
-- names given: `quarry props --db D stats`, `levelstats`, `estimate-num-keys`). docs/shell.md.
local cli = require("quarry.cli")
local C = require("quarry.cli.inspect.commands")

local M = { summary = "print RocksDB properties of a family (like ldb get_property)" }

function M.run(argv)
  local p = cli.parser("props", M.summary)
  C.add_open_options(p)
  C.add_cf_option(p)
  p:argument("name", "Property names, \"rocksdb.\" optional (default: a set of one-line figures)."):args("*")
  cli.output_option(p, nil, { flag = "--json" }) -- json: one object name -> value (integers as numbers)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local session <close> = C.open_session(args)
  local list = C.properties(session, { cf = args.cf }, args.name)
  local unknown = 0
  if args.json then
    local fmt = C.formatter({ style = "json" })
    local obj = {}
    for _, pv in ipairs(list) do
      if pv.value == nil then obj[pv.name] = fmt.json.null
      elseif pv.value:match("^%d+$") then obj[pv.name] = math.tointeger(tonumber(pv.value)) or pv.value
      else obj[pv.name] = pv.value end
      if pv.value == nil then unknown = unknown + 1 end
    end
    print(fmt.doc(obj))
  else
    for _, pv in ipairs(list) do
      if pv.value == nil then
        unknown = unknown + 1
        io.stderr:write("quarry props: unknown property ", pv.name, "\n")
      elseif pv.value:find("\n") then
        io.stdout:write(pv.name, ":\n", pv.value, pv.value:sub(-1) == "\n" and "" or "\n")
      else
        print(pv.name .. ": " .. pv.value)
      end
    end
  end
  return unknown == 0 and cli.EXIT_OK or cli.EXIT_FAILED
end

return M

-- quarry export: writes a chain store back as a JSON dump (object, array or JSON Lines; LZ4 by
-- extension), streaming, atomically (a temporary file renamed at the end).
local cli = require("quarry.cli")

local M = { summary = "write a chain store back as a JSON dump (streaming, atomic)" }

-- M.export(store, path [, container]) -> blocks written, container (quarry.chain.export.run)
function M.export(store, path, container)
  return require("quarry.chain.export").run(store, path, { container = container })
end

function M.run(argv)
  local p = cli.parser("export", M.summary)
  p:option("--db", "The chain store directory"):count(1)
  p:option("--json --json-file", "Output file (.lz4: LZ4 frame; .jsonl: JSON Lines)"):count(1)
  p:option("--format", "The dump format (quarry, auriumchain, bitcoin-core, FILE.lua): the one the " ..
    "store was migrated from, the default")
  p:option("--layout", "The store's layout: quarry-chain (the default), auriumchain-node, account-chain " ..
    "(found by itself), or FILE.lua")
  p:option("--container", "object, array or jsonl (default: by extension, else as the migrated source)")
    :choices({ "object", "array", "jsonl" })
  local args, status = cli.parse(p, argv)
  if not args then return status end
  -- --format object|array|jsonl meant the container before formats existed: still accepted
  if args.format == "object" or args.format == "array" or args.format == "jsonl" then
    args.container, args.format = args.container or args.format, nil
  end
  local clock = require("quarry").clock
  local t0 = clock()
  if require("quarry.chain.account").route(args.layout, args.format, args.db) then -- an account-chain store
    local store = require("quarry.chain.account").open_reader(args.db)
    return M.write(store, args, t0, require("quarry.chain.account.export").run,
      function(container) return "ethereum-rpc, " .. container end)
  end
  local chain = require("quarry.chain")
  local layouts = require("quarry.chain.layout")
  local lay = layouts.load(args.layout)
  local store = lay.chain_store and chain.open_reader(args.db, { format = args.format })
    or layouts.open(args.db, lay, { mode = "read_only", create = false, format = args.format })
  return M.write(store, args, t0, require("quarry.chain.export").run, tostring)
end

-- M.write(store, args, t0, run, describe) -> exit status: runs run(store, args.json, options)
-- (quarry.chain.export.run or the account chain's) with a progress bar over the store's blocks,
-- closes the store, and prints the summary ("exported N blocks to F (describe(second result),
-- size) in S s") or the output's failure.
function M.write(store, args, t0, run, describe)
  local clock = require("quarry").clock
  -- progress: blocks of the store (its tip and base: the total is known), every 100 blocks
  local total = store.tip_height and (store.tip_height - (store.base or 0) + 1) or nil
  local bar = require("quarry.cli.progress").bar({ label = "export", total = total, unit = "blocks" })
  local ok, n, what = pcall(run, store, args.json,
    { format = args.format, container = args.container, on_progress = function(done)
      bar:update(total and total > 0 and done / total or nil, done)
    end })
  bar:done()
  store:close()
  local system = require("quarry.cli.system")
  if not ok then
    if require("quarry").is_error(n) and (n.op == "json.writer" or n.op == "output") then
      return system.output_failed("export", n)
    end
    error(n, 0)
  end
  local size = system.file_size(args.json)
  system.summary_stream(args.json):write(("exported %d blocks to %s (%s, %s) in %.2f s\n"):format(
    n, args.json, describe(what), size and require("quarry.cli.format").bytes(size) or "streamed",
    clock() - t0))
  return cli.EXIT_OK
end

return M

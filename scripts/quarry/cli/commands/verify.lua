-- quarry verify: checks a chain store's invariants (heights, links, both-way indexes, UTXO set
-- against a replay, undo records, supply, counters) and, with --json, every block against the
-- source dump. Opens read-only, or as a secondary when a writer holds the database.
local cli = require("quarry.cli")

local M = { summary = "check a chain store's invariants, and every block against the JSON dump" }

function M.run(argv)
  local p = cli.parser("verify", M.summary)
  p:option("--db", "The chain store directory"):count(1)
  p:option("--json --json-file", "The JSON dump to compare every block with (LZ4 or not), - for stdin, or a pipe")
  p:option("--format", "The dump's format (default: the one the store was migrated from)")
  p:option("--key", "The top-level member holding the array of blocks (overrides the format's)")
  p:option("--layout", "The store's layout: quarry-chain (the default), auriumchain-node, account-chain " ..
    "(found by itself), or FILE.lua")
  p:flag("--secondary", "Open as a secondary (follow a live writer) instead of read-only first")
  cli.output_option(p, nil, { option = "--report" })
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if require("quarry.chain.account").route(args.layout, args.format, args.db) then -- an account-chain store
    return require("quarry.cli.account").verify(args)
  end
  local chain = require("quarry.chain")
  local verify = require("quarry.chain.verify")
  local migrate = require("quarry.chain.migrate")
  local clock = require("quarry").clock

  local t0 = clock()
  local layouts = require("quarry.chain.layout")
  local lay = layouts.load(args.layout)
  local store
  if lay.chain_store then
    store = chain.open_reader(args.db, { secondary = args.secondary, format = args.format })
  else
    store = layouts.open(args.db, lay, { mode = "read_only", create = false, format = args.format })
  end
  local r, mode = M.check_store(store, function()
    return args.json and migrate.open_source(args.json, store.format, args.key) or nil
  end, lay.chain_store and verify.run or layouts.verify)
  local s = r.summary
  if args.report == "json" then
    local checks = {}
    for _, name in ipairs(r.order) do
      local c = r.checks[name]
      checks[#checks + 1] = { name = name, ok = c.ok, failures = c.failures, first = c.first }
    end
    local summary = {}
    for k, v in pairs(s) do summary[k] = math.type(v) == "integer" and v or (type(v) == "userdata" and tostring(v) or v) end
    local relaxed = {}
    for k, v in pairs(r.relaxed) do relaxed[k] = math.type(v) == "integer" and v or tostring(v) end
    print(require("quarry.json").encode({ ok = r.ok, db = require("quarry.cli.system").display_path(args.db), source = args.json, mode = mode,
      format = r.format, summary = summary, relaxed = relaxed, checks = checks,
      seconds = clock() - t0 }))
  else
    print(("verify %s (opened %s)%s"):format(require("quarry.cli.system").display_path(args.db), mode, args.json and (" against " .. (args.json == "-" and "stdin" or args.json)) or ""))
    if s.tip then
      print(("  %d blocks (heights %d..%d), %d transactions, %d utxos, supply %s (format %s)"):format(
        s.blocks, s.base, s.tip, s.txs, s.utxos, tostring(s.supply), r.format))
      for _, l in ipairs(require("quarry.cli.commands.migrate").relaxed_lines(r.relaxed)) do
        print("  " .. l)
      end
    else
      print("  empty chain")
    end
    M.print_checks(r, t0)
  end
  return r.ok and cli.EXIT_OK or cli.EXIT_FAILED
end

-- M.check_store(store, open_source, run) -> report, mode: opens the source (open_source()
-- returns it, or nil for none), runs run(store, { source, progress }) under a progress bar over
-- the store's heights, closes the source and the store whatever happens and raises what failed;
-- mode is the store's open mode. The UTXO chain's, a layout's and the account chain's verify.
function M.check_store(store, open_source, run)
  local oks, source = pcall(open_source)
  if not oks then
    store:close()
    error(source, 0)
  end
  local bar = require("quarry.cli.progress").bar({ label = "verify" })
  local ok, r = pcall(run, store, { source = source, progress = function(h, tip)
    local base = store.base or 0
    local total = tip and (tip - base + 1) or 0
    bar:update(total > 0 and (h - base + 1) / total or 1, h - base + 1, source and source:offset() or 0)
  end })
  bar:done()
  if source then source:close() end
  local mode = store.db and store.db:mode() or "?"
  store:close()
  if not ok then error(r, 0) end
  return r, mode
end

-- M.print_checks(report, t0): the table of a verify report's checks (quarry.chain.verify.format)
-- and its last line: "all N checks passed in S s" or "F of N checks FAILED".
function M.print_checks(r, t0)
  print(require("quarry.chain.verify").format(r))
  local failed = 0
  for _, name in ipairs(r.order) do
    if not r.checks[name].ok then failed = failed + 1 end
  end
  if r.ok then
    print(("all %d checks passed in %.2f s"):format(#r.order, require("quarry").clock() - t0))
  else
    print(("%d of %d checks FAILED"):format(failed, #r.order))
  end
end

return M

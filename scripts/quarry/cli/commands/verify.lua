-- quarry verify: checks a chain store's invariants (heights, links, both-way indexes, UTXO set
-- against a replay, undo records, supply, counters) and, with --json, every block against the
-- source dump. Opens read-only, or as a secondary when a writer holds the database.
local cli = require("quarry.cli")

local M = { summary = "check a chain store's invariants, and every block against the JSON dump" }

function M.run(argv)
  local p = cli.parser("verify", M.summary)
  p:option("--db", "The chain store directory"):count(1)
  p:option("--json", "The JSON dump to compare every block with (.lz4 or not)")
  p:flag("--secondary", "Open as a secondary (follow a live writer) instead of read-only first")
  p:option("--report", "text or json (on stdout)", "text"):choices({ "text", "json" })
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local chain = require("quarry.chain")
  local verify = require("quarry.chain.verify")
  local progress = require("quarry.cli.progress")
  local migrate = require("quarry.chain.migrate")
  local clock = require("quarry").clock

  local t0 = clock()
  local store = chain.open_reader(args.db, { secondary = args.secondary })
  local source = args.json and migrate.open_source(args.json) or nil
  local bar = progress.bar({ label = "verify" })
  local ok, r = pcall(verify.run, store, { source = source, progress = function(h, tip)
    local base = store.base or 0
    local total = tip and (tip - base + 1) or 0
    bar:update(total > 0 and (h - base + 1) / total or 1, h - base + 1, source and source:offset() or 0)
  end })
  bar:done()
  if source then source:close() end
  local mode = store.db and store.db:mode() or "?"
  store:close()
  if not ok then error(r, 0) end
  local s = r.summary
  if args.report == "json" then
    local checks = {}
    for _, name in ipairs(r.order) do
      local c = r.checks[name]
      checks[#checks + 1] = { name = name, ok = c.ok, failures = c.failures, first = c.first }
    end
    print(require("quarry.json").encode({ ok = r.ok, db = args.db, source = args.json, mode = mode,
      summary = s, checks = checks, seconds = clock() - t0 }))
  else
    print(("verify %s (opened %s)%s"):format(args.db, mode, args.json and (" against " .. args.json) or ""))
    if s.tip then
      print(("  %d blocks (heights %d..%d), %d transactions, %d utxos, supply %d"):format(
        s.blocks, s.base, s.tip, s.txs, s.utxos, s.supply))
    else
      print("  empty chain")
    end
    print(verify.format(r))
    local failed = 0
    for _, name in ipairs(r.order) do
      if not r.checks[name].ok then failed = failed + 1 end
    end
    if r.ok then
      print(("all %d checks passed in %.2f s"):format(#r.order, clock() - t0))
    else
      print(("%d of %d checks FAILED"):format(failed, #r.order))
    end
  end
  return r.ok and cli.EXIT_OK or cli.EXIT_FAILED
end

return M

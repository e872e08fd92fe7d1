-- quarry.cli.account: the account-chain side of `quarry migrate`, `verify` and `export`
-- (format ethereum-rpc, layout account-chain; docs/account-chain.md): the reports as text and
-- JSON. The commands hand over to it when quarry.chain.account.route says the store is one.
local cli = require("quarry.cli")

local M = {}

-- The migration report as lines of text.
function M.migrate_report(r)
  local bytes = require("quarry.cli.format").bytes
  local out = {}
  local function line(fmt, ...) out[#out + 1] = fmt:format(...) end
  local secs = math.max(r.load_seconds or 0, 1e-9)
  local source = r.source == "-" and "stdin" or r.source
  line("migrated %d blocks (%d already there) from %s in %.2f s: %.0f blocks/s, %.1f MB/s of JSON",
    r.added, r.skipped, source, r.load_seconds, r.added / secs, (r.json_bytes or 0) / secs / 1e6)
  if r.tip then
    line("  blocks        %d (heights %d..%d)", r.blocks, r.base, r.tip)
    line("  tip           %s", r.tip_hash)
  else
    line("  blocks        0")
  end
  line("  transactions  %d", r.txs)
  line("  receipts      %d (%s of the transactions)", r.receipts, r.receipts_mode)
  line("  logs          %d", r.logs)
  line("  not verified  %s", r.not_verified)
  if r.stream then
    line("  source        %s read from a stream, %s of JSON", bytes(r.source_size), bytes(r.json_bytes))
  else
    line("  source        %s on disk, %s of JSON", bytes(r.source_size), bytes(r.json_bytes))
  end
  line("  database      %s on disk (%s, layout %s): %.3f of the JSON, %.3f of the source file",
    bytes(r.db_size), r.db, r.layout, r.ratio or 0, r.ratio_to_file or 0)
  line("  elapsed       %.2f s (load %.2f s, then flush, compaction%s)", r.elapsed, r.load_seconds,
    r.verify and " and verification" or "")
  if r.verify then
    local v = r.verify
    if v.ok then
      line("  integrity     ok: %d checks passed, every record equals the %s", #v.order,
        r.stream and "record read from the stream (digests)" or "source")
    else
      line("  integrity     FAILED:")
      local verify = require("quarry.chain.account.verify")
      for l in (verify.format(v) .. "\n"):gmatch("(.-)\n") do
        if not l:match("^ok ") then line("    %s", l) end
      end
    end
  end
  return table.concat(out, "\n")
end

local function checks_table(v)
  local checks = {}
  for _, name in ipairs(v.order) do
    local c = v.checks[name]
    checks[#checks + 1] = { name = name, ok = c.ok, failures = c.failures, first = c.first }
  end
  return checks
end

-- The migration report as a JSON-ready table.
function M.migrate_table(r)
  local t = {}
  for _, k in ipairs({ "source", "source_size", "json_bytes", "db", "db_size", "ratio", "ratio_to_file",
    "blocks", "added", "skipped", "groups", "base", "tip", "tip_hash", "txs", "receipts", "logs",
    "receipts_mode", "not_verified", "load_seconds", "elapsed", "format", "layout", "stream" }) do
    t[k] = r[k]
  end
  if r.verify then t.verify = { ok = r.verify.ok, checks = checks_table(r.verify) } end
  return t
end

-- `quarry verify` of an account-chain store (args as the command parsed them).
function M.verify(args)
  local account = require("quarry.chain.account")
  local verify = require("quarry.chain.account.verify")
  local formats = require("quarry.chain.formats")
  local clock = require("quarry").clock
  local t0 = clock()
  local store = account.open_reader(args.db, { secondary = args.secondary })
  local r, mode = require("quarry.cli.commands.verify").check_store(store, function()
    return args.json and formats.open_dump(formats.load("ethereum-rpc"), args.json, args.key) or nil
  end, verify.run)
  local s = r.summary
  if args.report == "json" then
    print(require("quarry.json").encode({ ok = r.ok, db = args.db, source = args.json, mode = mode,
      format = r.format, layout = r.layout, summary = s, not_verified = r.not_verified,
      checks = checks_table(r), seconds = clock() - t0 }))
  else
    print(("verify %s (opened %s, layout account-chain)%s"):format(args.db, mode,
      args.json and (" against " .. (args.json == "-" and "stdin" or args.json)) or ""))
    if s.tip then
      print(("  %d blocks (heights %d..%d), %d transactions, %d receipts (%s), %d logs (format %s)"):format(
        s.blocks, s.base, s.tip, s.txs, s.receipts, s.receipts_mode, s.logs, r.format))
    else
      print("  empty chain")
    end
    print("  not verified  " .. r.not_verified)
    require("quarry.cli.commands.verify").print_checks(r, t0)
  end
  return r.ok and cli.EXIT_OK or cli.EXIT_FAILED
end

return M

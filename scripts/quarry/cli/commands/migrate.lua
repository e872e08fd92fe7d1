-- quarry migrate: streams a JSON chain dump into a chain store (quarry.chain), in atomic groups
-- with a progress marker, resumable; reports blocks, transactions, UTXOs, supply, size and ratio.
local cli = require("quarry.cli")

local M = { summary = "stream a JSON chain dump into a chain store (resumable, verified)" }

-- The final report as lines of text.
function M.format_report(r)
  local bytes = require("quarry.cli.format").bytes
  local out = {}
  local function line(fmt, ...) out[#out + 1] = fmt:format(...) end
  local secs = math.max(r.load_seconds or 0, 1e-9)
  line("migrated %d blocks (%d already there) from %s in %.2f s: %.0f blocks/s, %.1f MB/s of JSON",
    r.added, r.skipped, r.source, r.load_seconds, r.added / secs, (r.json_bytes or 0) / secs / 1e6)
  if r.tip then
    line("  blocks        %d (heights %d..%d)", r.blocks, r.base, r.tip)
    line("  tip           %s", r.tip_hash)
  else
    line("  blocks        0")
  end
  line("  transactions  %d", r.txs)
  line("  utxos         %d", r.utxos)
  line("  supply        %d", r.supply)
  line("  source        %s on disk, %s of JSON", bytes(r.source_size), bytes(r.json_bytes))
  line("  database      %s on disk (%s): %.3f of the JSON, %.3f of the source file",
    bytes(r.db_size), r.db, r.ratio or 0, r.ratio_to_file or 0)
  line("  elapsed       %.2f s (load %.2f s, then flush, compaction%s)", r.elapsed, r.load_seconds,
    r.verify and " and verification" or "")
  if r.verify then
    local v = r.verify
    if v.ok then
      local n = 0
      for _ in pairs(v.checks) do n = n + 1 end
      line("  integrity     ok: %d checks passed, every block equals the source", n)
    else
      line("  integrity     FAILED:")
      local verify = require("quarry.chain.verify")
      for l in (verify.format(v) .. "\n"):gmatch("(.-)\n") do
        if not l:match("^ok ") then line("    %s", l) end
      end
    end
  end
  return table.concat(out, "\n")
end

-- The report as a JSON-ready table.
function M.report_table(r)
  local t = {}
  for _, k in ipairs({ "source", "source_size", "json_bytes", "db", "db_size", "ratio",
    "ratio_to_file", "blocks", "added", "skipped", "groups", "base", "tip", "tip_hash", "txs",
    "utxos", "supply", "load_seconds", "elapsed" }) do
    t[k] = r[k]
  end
  if r.verify then
    local checks = {}
    for _, name in ipairs(r.verify.order) do
      local c = r.verify.checks[name]
      checks[name] = { ok = c.ok, failures = c.failures, first = c.first }
    end
    t.verify = { ok = r.verify.ok, checks = checks }
  end
  return t
end

function M.run(argv)
  local p = cli.parser("migrate", M.summary)
  p:option("--json", "The JSON dump (object with \"blocks\", array, or JSON Lines; .lz4 or not)"):count(1)
  p:option("--db", "The chain store directory (created when missing)"):count(1)
  p:option("--preset", "Tuning preset: default, production, development")
  p:flag("--verify", "After loading, check every invariant and compare every block with the source")
  p:flag("--resume", "Continue a migration into a non-empty store (after a crash or kill)")
  p:option("--group", "Blocks per atomic group", "1000"):convert(math.tointeger)
  p:option("--group-mb", "Largest group in MB (whichever limit comes first)", "32"):convert(math.tointeger)
  p:option("--report", "Print the final report as text or json (on stdout)", "text"):choices({ "text", "json" })
  p:flag("--quiet", "No progress bar even on a terminal")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if not args.group or args.group < 1 or not args.group_mb or args.group_mb < 1 then
    io.stderr:write("quarry migrate: --group and --group-mb must be positive integers\n")
    return cli.EXIT_USAGE
  end
  local chain = require("quarry.chain")
  local migrate = require("quarry.chain.migrate")
  local progress = require("quarry.cli.progress")
  local enabled -- nil: draw when stderr is a terminal
  if args.quiet then enabled = false end
  local bar = progress.bar({ label = "migrate", enabled = enabled })
  local ok, r = pcall(migrate.run, {
    json = args.json, db = args.db, preset = args.preset, resume = args.resume,
    verify = args.verify, group_blocks = args.group, group_mb = args.group_mb,
    on_progress = function(s) bar:update(s.fraction, s.blocks, s.bytes) end,
  })
  bar:done()
  if not ok then
    if chain.is_invalid(r) then
      io.stderr:write("quarry migrate: ", tostring(r), "\n",
        "quarry migrate: stopped; the groups before this block are committed, nothing of its group is " ..
        "(fix the dump, then run again with --resume)\n")
      return cli.EXIT_FAILED
    end
    error(r, 0)
  end
  if args.report == "json" then
    print(require("quarry.json").encode(M.report_table(r)))
  else
    print(M.format_report(r))
  end
  if r.verify and not r.verify.ok then return cli.EXIT_FAILED end
  return cli.EXIT_OK
end

return M

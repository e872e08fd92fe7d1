-- quarry migrate: streams a JSON chain dump into a chain store (quarry.chain), in atomic groups
-- with a progress marker, resumable; reports blocks, transactions, UTXOs, supply, size and ratio.
local cli = require("quarry.cli")

local M = { summary = "stream a JSON chain dump into a chain store (resumable, verified)" }

-- The final report as lines of text.
function M.format_report(r)
  if r.layout == "account-chain" then return require("quarry.cli.account").migrate_report(r) end
  local bytes = require("quarry.cli.format").bytes
  local out = {}
  local function line(fmt, ...) out[#out + 1] = fmt:format(...) end
  local secs = math.max(r.load_seconds or 0, 1e-9)
  local source = r.source == "-" and "stdin" or r.source
  if (r.json_bytes or 0) > 0 then
    line("migrated %d blocks (%d already there) from %s in %.2f s: %.0f blocks/s, %.1f MB/s of JSON",
      r.added, r.skipped, source, r.load_seconds, r.added / secs, r.json_bytes / secs / 1e6)
  else
    line("migrated %d blocks (%d already there) from %s in %.2f s: %.0f blocks/s",
      r.added, r.skipped, source, r.load_seconds, r.added / secs)
  end
  if r.tip then
    line("  blocks        %d (heights %d..%d)", r.blocks, r.base, r.tip)
    line("  tip           %s", r.tip_hash == "" and "(an empty hash)" or r.tip_hash)
  else
    line("  blocks        0")
  end
  line("  transactions  %d", r.txs)
  line("  utxos         %d", r.utxos)
  line("  supply        %s", tostring(r.supply))
  for _, l in ipairs(M.relaxed_lines(r.relaxed)) do line("  %s", l) end
  if not r.db_size then -- a server's store (PostgreSQL): no size on disk of its own
    line("  database      %s (layout %s)", r.db, r.layout or "quarry-chain")
  elseif (r.json_bytes or 0) > 0 then
    if r.stream then
      line("  source        %s read from a stream, %s of JSON", bytes(r.source_size), bytes(r.json_bytes))
    else
      line("  source        %s on disk, %s of JSON", bytes(r.source_size), bytes(r.json_bytes))
    end
  end
  if r.db_size == nil then -- a server URL: no directory to measure
    line("  database      on the server (%s, layout %s)", r.db, r.layout or "quarry-chain")
  elseif (r.json_bytes or 0) > 0 then
    line("  database      %s on disk (%s, layout %s): %.3f of the JSON, %.3f of the source file",
      bytes(r.db_size), r.db, r.layout or "quarry-chain", r.ratio or 0, r.ratio_to_file or 0)
  else
    line("  database      %s on disk (%s, layout %s)", bytes(r.db_size), r.db, r.layout or "quarry-chain")
  end
  line("  elapsed       %.2f s (load %.2f s, then flush, compaction%s)", r.elapsed, r.load_seconds,
    r.verify and " and verification" or "")
  if r.verify then
    local v = r.verify
    if v.ok then
      local n = 0
      for _ in pairs(v.checks) do n = n + 1 end
      line("  integrity     ok: %d checks passed, every block equals the %s", n,
        r.stream and "block read from the stream (digests)" or "source")
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

-- What the format did not check, as report lines ("800 blocks without a hash: not indexed, links
-- not checked"); empty when everything was checked.
function M.relaxed_lines(c)
  local out = {}
  if not c then return out end
  local function n(v) return math.type(v) == "integer" and v or tostring(v) end
  if c.empty_hash ~= 0 then
    out[#out + 1] = ("not checked   %s blocks without a hash: not indexed, links to them not checked"):format(n(c.empty_hash))
  end
  if c.duplicate_hash ~= 0 then
    out[#out + 1] = ("not checked   %s blocks repeating an earlier hash: not indexed"):format(n(c.duplicate_hash))
  end
  if c.unlinked ~= 0 then
    out[#out + 1] = ("not checked   %s links (previous_hash) next to an empty hash"):format(n(c.unlinked))
  end
  if c.unspendable ~= 0 then
    out[#out + 1] = ("unspendable   %s outputs (%s units) never entered the UTXO set"):format(n(c.unspendable),
      tostring(c.unspendable_amount))
  end
  return out
end

-- The report as a JSON-ready table.
function M.report_table(r)
  if r.layout == "account-chain" then return require("quarry.cli.account").migrate_table(r) end
  local t = {}
  for _, k in ipairs({ "source", "source_size", "json_bytes", "db", "db_size", "ratio",
    "ratio_to_file", "blocks", "added", "skipped", "groups", "base", "tip", "tip_hash", "txs",
    "utxos", "supply", "load_seconds", "elapsed", "format", "layout", "stream" }) do
    t[k] = r[k]
  end
  -- amounts beyond 2^63 are written as decimal strings (exact)
  if r.supply ~= nil and math.type(r.supply) ~= "integer" then t.supply = tostring(r.supply) end
  if r.relaxed then
    local c = {}
    for k, v in pairs(r.relaxed) do c[k] = math.type(v) == "integer" and v or tostring(v) end
    t.relaxed = c
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

-- The "error" member of a failed migration's JSON report: code, message, block (the height being
-- added when known).
function M.error_member(err, failure)
  local quarry = require("quarry")
  local e = { message = M.error_text(err) }
  if type(err) == "table" and err.code then e.code = err.code
  elseif quarry.is_error(err) then e.code = err.code
  else e.code = "Failed" end
  if failure.trailing then e.code = "TrailingBytes" end
  e.block = failure.block
  return e
end

-- The message of an error, without the library's own prefix or its advice to API callers.
function M.error_text(err)
  local quarry = require("quarry")
  local text = (quarry.is_error(err) or type(err) == "table") and err.message or tostring(err)
  return (tostring(text):gsub("; the database handle is now in a failed state: close and reopen it$", ""))
end

local function is_no_space(err)
  local quarry = require("quarry")
  if quarry.is_error(err) and err.code == "NoSpace" then return true end
  return tostring(type(err) == "table" and err.message or err):find("No space left on device", 1, true) ~= nil
end

-- "N blocks (heights a..b)" committed in the store, or "no block".
local function committed(f)
  if not f.opened then return "what earlier runs committed is" end
  if not f.tip then return "no block is committed, the store is" end
  return ("%d blocks (heights %d..%d) are committed and"):format(f.blocks, f.base or 0, f.tip)
end

-- The lines a failed migration prints on stderr: what happened, what is committed, what to do.
function M.failure_message(err, f)
  local chain = require("quarry.chain")
  local P = "quarry migrate: "
  if chain.is_invalid(err) then
    return P .. tostring(err) .. "\n" .. P .. "stopped; the groups before this block are committed, " ..
      "nothing of its group is (fix the dump, then run again with --resume)"
  end
  local text = M.error_text(err)
  if f.trailing then
    local where = text:match("parse error (at line .*)$") or text
    return P .. ("all %d blocks of %s are committed (heights %d..%d), but the dump has trailing bytes after its end, %s")
      :format(f.blocks, f.source, f.base or 0, f.tip or -1, where) .. "\n" ..
      P .. "the store is complete and consistent; remove what follows the blocks to make the dump valid JSON"
  end
  if is_no_space(err) then
    return P .. "the disk is full: " .. text .. "\n" .. P .. ("stopped; %s safe, nothing of the " ..
      "group being written is: free some space, then run the same command again with --resume"):format(committed(f))
  end
  return P .. text
end

-- The test hooks (specs only): QUARRY_TEST_KILL_AT=H kills the process with SIGKILL right after
-- block H is added (a crash in the middle of a group); QUARRY_TEST_DELAY=S sleeps S seconds
-- after each block. nil when neither is set.
function M.test_hooks()
  local kill_at = tonumber(os.getenv("QUARRY_TEST_KILL_AT") or "")
  local delay = tonumber(os.getenv("QUARRY_TEST_DELAY") or "")
  if not kill_at and not delay then return nil end
  local progress = require("quarry.cli.progress")
  return function(height)
    if kill_at and height == kill_at then os.execute("kill -KILL " .. require("quarry.cli.system").pid()) end
    if delay then progress.sleep(delay) end
  end
end

function M.run(argv)
  local p = cli.parser("migrate", M.summary)
  p:option("--json --json-file", "The JSON dump (object with \"blocks\", array, or JSON Lines; LZ4 or not), - for stdin, or a pipe")
  p:option("--format", "The dump's format: quarry (the default), auriumchain, bitcoin-core, ethereum-rpc, or FILE.lua (quarry formats)")
  p:option("--key", "The top-level member holding the array of blocks (overrides the format's)")
  p:option("--layout", "The store's layout: quarry-chain (the default; account-chain for ethereum-rpc), " ..
    "auriumchain-node, account-chain, or FILE.lua")
  p:option("--from-db", "Read the blocks from a database of --from-layout instead of a dump")
  p:option("--from-layout", "The layout of --from-db", "quarry-chain")
  p:option("--db --rocksdb-path", "The chain store directory (created when missing)"):count(1)
  cli.preset_option(p, "Tuning preset")
  p:flag("--verify", "After loading, check every invariant and compare every block with the source")
  p:flag("--resume", "Continue a migration into a non-empty store (after a crash or kill)")
  p:option("--group", "Blocks per atomic group", "1000"):convert(math.tointeger)
  p:option("--group-mb", "Largest group in MB (whichever limit comes first)", "32"):convert(math.tointeger)
  cli.output_option(p, nil, { option = "--report" }) -- the final report
  p:flag("--quiet", "No progress bar even on a terminal")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if (args.json == nil) == (args.from_db == nil) then
    io.stderr:write("quarry migrate: give the source as --json DUMP or --from-db DIR (one of them)\n")
    return cli.EXIT_USAGE
  end
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
  local failure = {}
  local ok, r = pcall(migrate.run, {
    failure = failure,
    json = args.json, db = args.db, preset = args.preset, resume = args.resume,
    verify = args.verify, group_blocks = args.group, group_mb = args.group_mb,
    format = args.format, key = args.key, layout = args.layout,
    from_db = args.from_db, from_layout = args.from_db and args.from_layout or nil,
    on_progress = function(s) bar:update(s.fraction, s.blocks, s.bytes) end,
    on_block = M.test_hooks(),
  })
  bar:done()
  if not ok then
    require("quarry.cli.interrupt").pass(r) -- Ctrl-C: main's one line, exit 130
    failure.source = failure.source or args.json or args.from_db
    failure.db = failure.db or args.db
    if args.report == "json" then
      local t = M.report_table(failure.report or failure)
      t.error = M.error_member(r, failure)
      print(require("quarry.json").encode(t))
    end
    io.stderr:write(M.failure_message(r, failure), "\n")
    return cli.EXIT_FAILED
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

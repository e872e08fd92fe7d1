-- quarry stats: a database's figures (families, sizes, RocksDB's compaction and cache figures,
-- and for a chain store its tip, blocks, transactions, UTXOs and supply) as text, JSON or
-- Prometheus text, optionally written atomically as a node_exporter textfile, once or every N
-- seconds. Opens the database as a secondary, so it works beside a live node. docs/metrics.md.
local cli = require("quarry.cli")

local M = {
  summary = "families, keys, sizes, RocksDB figures; a chain store's tip and supply (text, json, prometheus)",
}

function M.run(argv)
  local p = cli.parser("stats", M.summary .. ". Opens the database as a secondary (never takes "
    .. "its lock), so it works while a node has it open.")
  p:option("--db", "The database directory"):count(1)
  -- default: text, or nothing on stdout with --textfile
  cli.output_option(p, { "text", "json", "prometheus" }, { option = "--format" }, false)
  p:option("--textfile", "Also write the Prometheus text to this file, atomically (a temporary "
    .. "file in the same directory, fsync, rename): node_exporter's textfile collector")
  p:option("--namespace", "Prometheus metric name prefix", "quarry")
  p:option("--label", "A constant Prometheus label name=value (repeatable)"):count("*")
  p:option("--every", "Repeat every SECONDS (catching up with the primary each time) until "
    .. "SIGINT/SIGTERM or --count runs"):convert(tonumber)
  p:option("--count", "With --every: stop after COUNT runs"):convert(math.tointeger)
  p:option("--secondary-path", "Directory for the secondary instance's own files (default: a "
    .. "temporary directory removed at exit)")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  if args.every and args.every <= 0 then
    io.stderr:write("quarry stats: --every expects a positive number of seconds\n")
    return cli.EXIT_USAGE
  end
  local format = args.format or (args.textfile and "none" or "text")

  local quarry = require("quarry")
  local report = require("quarry.cli.metrics.report")
  local labels = report.parse_labels(args.label)
  local popts = { namespace = args.namespace, labels = labels }

  local h = report.open(args.db, args.secondary_path)
  local sigs
  local ok, err = pcall(function()
    local runs = 0
    if args.every then sigs = require("quarry.sys").catch_signals({ "INT", "TERM" }) end
    while true do
      h.refresh()
      local db = h.db
      local chain = report.chain(db)
      -- the prometheus text is validated by db:prometheus (namespace, labels) before any output
      local prom = (format == "prometheus" or args.textfile) and report.prometheus(db, chain, popts)
      if format == "text" then
        io.stdout:write(report.text(db:metrics(), chain))
      elseif format == "json" then
        io.stdout:write(report.json(db:metrics(), chain))
      elseif format == "prometheus" then
        io.stdout:write(prom)
      end
      io.stdout:flush()
      if args.textfile then require("quarry.sys").write_atomic(args.textfile, prom) end
      runs = runs + 1
      if not args.every or (args.count and runs >= args.count) then break end
      -- sleep, waking up at once on a signal
      local socket = require("socket")
      socket.select({ sigs }, nil, args.every)
      if sigs:caught() then break end
    end
  end)
  if sigs then sigs:close() end
  h.close()
  if not ok then
    if quarry.is_error(err) and err.code == "InvalidArgument" and err.op == "prometheus" then
      io.stderr:write("quarry stats: ", err.message, "\n")
      return cli.EXIT_USAGE
    end
    if quarry.is_error(err) and err.op == "write_atomic" then -- --textfile: a link, no directory...
      return require("quarry.cli.system").output_failed("stats", err)
    end
    error(err, 0)
  end
  return cli.EXIT_OK
end

return M

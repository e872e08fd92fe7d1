-- quarry shell: a Lua 5.4 REPL over a database (`db`, and `chain` for a chain store) with
-- ldb-like dot commands, line editing, history and completion. docs/shell.md is the guide.
local cli = require("quarry.cli")

local M = { summary = "interactive Lua shell over a database (db, chain, .scan, .get ...)" }

function M.run(argv)
  local p = cli.parser("shell", M.summary)
  p:option("--db", "Database directory."):count(1)
  p:mutex(
    p:flag("--read-only", "Open read-only: a view as of opening (.refresh reopens)."),
    p:flag("--secondary", "Open as a secondary instance following a live primary (.refresh catches up)."),
    p:flag("--read-write", "Open read-write (takes the LOCK: fails while a node holds it).")
  )
  p:option("--secondary-path", "Directory of the secondary instance (default: a scratch directory, removed at exit).")
  p:option("-c --command", "Run this line (Lua or a dot command) instead of reading input; repeatable.")
    :count("*")
  p:flag("--no-chain", "Do not open the chain store even when the families are there.")
  p:epilog("Without --read-only/--secondary/--read-write: secondary when another process holds " ..
    "the LOCK, else read-only. Lines come from the terminal (readline) or, when stdin is not " ..
    "a terminal, one per line without prompts. History: $QUARRY_HISTORY or ~/.quarry_history.")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local mode = args.read_only and "read_only" or args.secondary and "secondary"
    or args.read_write and "read_write" or (args.secondary_path and "secondary") or nil
  local session <close> = require("quarry.cli.inspect.open").open(args.db,
    { mode = mode, secondary_path = args.secondary_path, chain = not args.no_chain })
  local repl = require("quarry.cli.inspect.repl")
  local lines = #args.command > 0 and args.command or nil
  local failures = repl.run(session, { lines = lines })
  local interactive = lines == nil and os.execute("test -t 0") == true
  if failures > 0 and not interactive then return cli.EXIT_FAILED end
  return cli.EXIT_OK
end

return M

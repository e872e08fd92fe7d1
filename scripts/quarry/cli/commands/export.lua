-- quarry export: writes a chain store back as a JSON dump (object, array or JSON Lines; LZ4 by
-- extension), streaming, atomically (a temporary file renamed at the end).
local cli = require("quarry.cli")

local M = { summary = "write a chain store back as a JSON dump (streaming, atomic)" }

-- export.run(store, path [, format]) -> blocks written, format used
function M.export(store, path, format)
  local json = require("quarry.json")
  local codec = require("quarry.chain.codec")
  if not format then
    local base = path:gsub("%.lz4$", "")
    if base:match("%.jsonl$") or base:match("%.ndjson$") then
      format = "jsonl"
    else
      format = store:meta("source_format") or "object"
      if format ~= "object" and format ~= "array" and format ~= "jsonl" then format = "object" end
    end
  end
  local wopts = { format = format }
  if format == "object" then
    wopts.key = "blocks"
    local h = store:meta("header")
    if h then wopts.header = codec.decode_value(h) end
  end
  local w = json.writer(path, wopts)
  local n = 0
  local ok, err = pcall(function()
    for _, block in store:blocks() do
      w:write(block)
      n = n + 1
    end
  end)
  if not ok then
    w:abort()
    error(err, 0)
  end
  w:close()
  return n, format
end

function M.run(argv)
  local p = cli.parser("export", M.summary)
  p:option("--db", "The chain store directory"):count(1)
  p:option("--json", "Output file (.lz4: LZ4 frame; .jsonl: JSON Lines)"):count(1)
  p:option("--format", "object, array or jsonl (default: by extension, else as the migrated source)")
    :choices({ "object", "array", "jsonl" })
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local chain = require("quarry.chain")
  local clock = require("quarry").clock
  local t0 = clock()
  local store = chain.open_reader(args.db)
  local ok, n, format = pcall(M.export, store, args.json, args.format)
  store:close()
  if not ok then error(n, 0) end
  local secs = clock() - t0
  print(("exported %d blocks to %s (%s, %s) in %.2f s"):format(n, args.json, format,
    require("quarry.cli.format").bytes(require("quarry.cli.system").file_size(args.json)), secs))
  return cli.EXIT_OK
end

return M

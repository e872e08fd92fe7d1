-- quarry.chain.account.export: writes an account-chain store back as its ethereum-rpc dump: each
-- record as it came (a bare block or {"block", "receipts"}; member order and hex text as given),
-- in the container the dump came in (JSON Lines or an array) unless told, streaming and
-- atomically (json.writer: a temporary file renamed at the end).
local json = require("quarry.json")

local M = {}

M.CONTAINERS = { array = true, jsonl = true }

-- export.container(store, path [, container]) -> "jsonl" or "array": the one asked, else by the
-- file's extension for JSON Lines, else the dump's own (the state's source_format).
function M.container(store, path, container)
  if container then return container end
  local base = path:gsub("%.lz4$", "")
  if base:match("%.jsonl$") or base:match("%.ndjson$") then return "jsonl" end
  local c = store.state and store.state.source_format
  if not M.CONTAINERS[c] then c = "array" end
  return c
end

-- export.run(store, path [, options]) -> records written, container used
-- options: format (must be "ethereum-rpc" when given), container ("array" or "jsonl"),
-- on_progress(records) every 100 records.
function M.run(store, path, options)
  options = options or {}
  local f = options.format
  if f ~= nil and (type(f) == "table" and f.name or f) ~= "ethereum-rpc" then
    error(("%s is an account-chain store (format ethereum-rpc): it exports as \"ethereum-rpc\", not %q")
      :format(store.path, tostring(type(f) == "table" and f.name or f)), 0)
  end
  local container = M.container(store, path, options.container)
  if not M.CONTAINERS[container] then
    error(("container %q is not one of an ethereum-rpc dump's: array or jsonl"):format(tostring(container)), 0)
  end
  local w = json.writer(path, { format = container })
  local n = 0
  local on_progress = options.on_progress
  local ok, err = pcall(function()
    for _, record in store:records() do
      w:write(record)
      n = n + 1
      if on_progress and n % 100 == 0 then on_progress(n) end
    end
  end)
  if not ok then
    w:abort()
    error(err, 0)
  end
  w:close()
  return n, container
end

return M

-- quarry.chain.export: writes a chain store back as a dump in the format it was migrated from
-- (the same JSON values: members in the same order, the same number text; for a format with its
-- own writer, such as auriumchain, the node's exact bytes), streaming and atomically.
local formats = require("quarry.chain.formats")
local codec = require("quarry.chain.codec")

local M = {}

M.CONTAINERS = { object = true, array = true, jsonl = true }

-- The container of the output: by the file's extension for JSON Lines, else the one the dump
-- came in (meta source_format), else an object.
function M.container(store, path, container)
  if container then return container end
  local base = path:gsub("%.lz4$", "")
  if base:match("%.jsonl$") or base:match("%.ndjson$") then return "jsonl" end
  local c = store:meta("source_format") or "object"
  if not M.CONTAINERS[c] then c = "object" end
  return c
end

-- export.run(store, path [, options]) -> blocks written, container used
-- options: format (name or FILE.lua; it must be the store's: a dump is written back in the
-- format it came in), container ("object", "array", "jsonl"), on_progress(blocks) every 100 blocks.
function M.run(store, path, options)
  options = options or {}
  local fmt = store.format
  if options.format then
    local want = type(options.format) == "table" and options.format or formats.load(options.format)
    if want.name ~= fmt.name then
      error(("%s was migrated from format %q: it exports as %q (not %q)"):format(store.path,
        fmt.name, fmt.name, want.name), 0)
    end
  end
  local container = M.container(store, path, options.container)
  if not M.CONTAINERS[container] then
    error(("unknown container %q (object, array or jsonl)"):format(tostring(container)), 0)
  end
  local w
  if fmt.writer then
    w = fmt.writer(path, {})
  else
    local wopts = { format = container }
    if container == "object" then
      local member
      for _, c in ipairs(fmt.container) do
        if type(c) == "table" and c.member then member = c.member end
      end
      wopts.key = member or "blocks"
      local h = store:meta("header")
      if h then wopts.header = codec.decode_value(h) end
    end
    w = require("quarry.json").writer(path, wopts)
  end
  local n = 0
  local encode, on_progress = formats.encode, options.on_progress
  local ok, err = pcall(function()
    for _, block in store:blocks() do
      w:write(encode(fmt, block))
      n = n + 1
      if on_progress and n % 100 == 0 then on_progress(n) end
    end
  end)
  if not ok then
    w:abort()
    error(err, 0)
  end
  w:close()
  return n, fmt.writer and fmt.name or container
end

return M

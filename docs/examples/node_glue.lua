-- node_glue.lua: the Lua side of docs/examples/embed.c, a node that keeps its chain in Quarry.
-- The host loads this file in each of its Lua states and calls the functions of the table it
-- returns. Every state opens the same path: in one process they share one engine.
local quarry = require("quarry")

local pack, unpack = string.pack, string.unpack

local M = {}
local db, blocks, meta

--- Opens the node's database (families "blocks" and "meta").
function M.open(path)
  db = quarry.open(path, { column_families = { "blocks", "meta" } })
  blocks, meta = db:cf("blocks"), db:cf("meta")
end

--- Appends n blocks after the tip, in one atomic batch with the new tip. Returns the new tip.
function M.write_blocks(n)
  local tip = M.tip() or -1
  db:write(function(b)
    for h = tip + 1, tip + n do
      b:put(blocks, pack(">I8", h), ("block %d"):format(h))
    end
    b:put(meta, "tip", pack(">I8", tip + n))
  end, { sync = true })
  return tip + n
end

--- The block at height h, or nil.
function M.read_block(h)
  return blocks:get(pack(">I8", h))
end

--- The tip height, or nil for an empty chain.
function M.tip()
  local t = meta:get("tip")
  return t and unpack(">I8", t)
end

--- A value the host wrote through the C core.
function M.get(key)
  return db:get(key)
end

--- n puts under prefix (the host's threads call this, one Lua state each).
function M.hammer(prefix, n)
  for i = 1, n do
    db:put(("%s%06d"):format(prefix, i), "x")
  end
end

--- One line of the engine's metrics.
function M.summary()
  local m = db:metrics()
  local c, h = m.counters, m.histograms
  return ("handles %d, puts %d, gets %d (p99 %.1f us), batches %d (p99 %.1f us), keys %d"):format(
    m.handles, c.puts, c.gets, h.get.p99 * 1e6, c.write_batches, h.write_batch.p99 * 1e6,
    m.rocksdb.estimate_keys or 0)
end

--- The Prometheus text a node would serve, with its own names.
function M.prometheus()
  return db:prometheus({ namespace = "node_db", labels = { node = "example" } })
end

function M.close()
  if db then db:close() end
  db = nil
end

return M

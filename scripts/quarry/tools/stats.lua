-- quarry stats: a short text summary of a database: families with estimated keys and sizes, the
-- size on disk and, for a chain store, the tip, blocks, transactions, UTXOs and supply.
local cli = require("quarry.tools.cli")

local M = { summary = "families, keys, sizes; tip, blocks, transactions, UTXOs and supply of a chain store" }

function M.run(argv)
  local p = cli.parser("stats", M.summary)
  p:option("--db", "The database directory"):count(1)
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local quarry = require("quarry")
  local chain = require("quarry.chain")
  local progress = require("quarry.chain.progress")

  local db
  local ok, err = pcall(function() db = quarry.open(args.db, { mode = "read_only" }) end)
  local scratch
  if not ok then
    if not (quarry.is_error(err) and (err.code == "Locked" or err.code == "Busy")) then error(err, 0) end
    scratch = os.tmpname()
    os.remove(scratch)
    db = quarry.open(args.db, { mode = "secondary", secondary_path = scratch })
  end
  local okr, rerr = pcall(function()
    print(("database %s (%s), %s on disk"):format(args.db, db:mode(), progress.bytes(db:size_on_disk())))
    print(("  %-10s %12s %12s"):format("family", "keys (est.)", "sst size"))
    local names = db:column_families()
    for _, name in ipairs(names) do
      local cf = db:cf(name)
      local keys = db:property("rocksdb.estimate-num-keys", cf) or "?"
      local size = tonumber(db:property("rocksdb.total-sst-files-size", cf) or "")
      print(("  %-10s %12s %12s"):format(name, keys, progress.bytes(size)))
    end
    local is_chain = true
    for _, f in ipairs(chain.FAMILIES) do
      local found = false
      for _, n in ipairs(names) do if n == f then found = true end end
      is_chain = is_chain and found
    end
    if is_chain and db:cf("meta"):get("format") then
      local codec = chain.codec
      local meta = db:cf("meta")
      local tip = meta:get("tip")
      print(("chain store (%s)"):format(meta:get("format")))
      if tip then
        local h = string.unpack(">I8", tip)
        local base = codec.ruv(meta:get("base") or "\0", 1)
        local v = db:cf("blocks"):get(codec.hkey(h))
        print(("  tip           %d %s"):format(h, v and codec.block_hash(v) or "(missing)"))
        print(("  blocks        %d (heights %d..%d)"):format(h - base + 1, base, h))
      else
        print("  empty chain")
      end
      print(("  transactions  %d"):format(codec.ruv(meta:get("txs") or "\0", 1)))
      print(("  utxos         %d"):format(codec.ruv(meta:get("utxos") or "\0", 1)))
      print(("  supply        %d"):format(codec.ruv(meta:get("supply") or "\0", 1)))
      local m = meta:get("migrate")
      if m then print(("  migration     in progress or interrupted: %s (use migrate --resume)"):format(m)) end
    end
  end)
  db:close()
  if scratch then os.execute("rm -rf '" .. scratch .. "'") end
  if not okr then error(rerr, 0) end
  return cli.EXIT_OK
end

return M

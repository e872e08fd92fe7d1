-- quarry prune: drops the undo records of a chain store below a height (family `undo`, keys the
-- 8-byte big-endian height: docs/chain-format.md) with one delete_range, then compacts that range
-- and reports the bytes reclaimed. Blocks, indexes and UTXOs are never touched; rolling back
-- below the pruned height is no longer possible. docs/durability.md.
local cli = require("quarry.cli")

local M = { summary = "drop a chain store's undo records below a height; compact; bytes reclaimed" }

-- meta key recording the lowest height whose undo record is kept (8-byte big-endian)
M.MARKER = "undo_pruned_below"

local function height(s)
  local n = math.tointeger(tonumber(s))
  if not n or n < 0 then return nil, ("a height (integer >= 0) expected, got '%s'"):format(s) end
  return n
end

local function hkey(h) return string.pack(">I8", h) end

function M.run(argv)
  local p = cli.parser("prune", M.summary)
  p:option("--db", "The chain store's database directory"):count(1)
  p:option("--before", "Drop the undo records of every height below HEIGHT"):count(1)
    :convert(height)
  cli.output_option(p) -- json: {"db", "before", "pruned", "size_before", "size_after", "reclaimed"}
  local args, status = cli.parse(p, argv)
  if not args then return status end
  local D = require("quarry.cli.maintenance")
  return D.run(function()
    local db = D.open(args.db, "prune")
    return D.with(db, function()
      local undo = D.family(db, "undo")
      local meta
      for _, n in ipairs(db:column_families()) do
        if n == "meta" then meta = db:cf("meta") end
      end
      local tip = meta and meta:get("tip")
      tip = tip and #tip == 8 and string.unpack(">I8", tip) or nil
      if tip and args.before > tip + 1 then
        error(("--before %d is above the tip + 1 (%d): refusing to drop the undo record of "
          .. "every block"):format(args.before, tip + 1), 0)
      end
      local from, to = hkey(0), hkey(args.before)
      local n = 0
      if args.before > 0 then
        for _ in undo:pairs({ from = from, to = to, keys_only = true }) do n = n + 1 end
      end
      local size0 = db:size_on_disk()
      if n > 0 then
        db:write(function(b)
          b:delete_range(undo, from, to)
          if meta and (meta:get("format") or ""):match("^quarry%.chain/") then
            local old = meta:get(M.MARKER)
            old = old and #old == 8 and string.unpack(">I8", old) or 0
            b:put(meta, M.MARKER, hkey(math.max(old, args.before)))
          end
        end, { sync = true })
        db:flush(undo)
        db:compact(undo, from, to)
      end
      local size1 = db:size_on_disk()
      if args.output == "json" then
        print(require("quarry.json").encode({ db = args.db, before = args.before, pruned = n,
          size_before = size0, size_after = size1, reclaimed = math.max(0, size0 - size1) }))
        return cli.EXIT_OK
      end
      print(("pruned %d undo record(s) below height %d in %s; %s -> %s on disk (%s reclaimed)")
        :format(n, args.before, args.db, D.bytes(size0), D.bytes(size1),
          D.bytes(math.max(0, size0 - size1))))
      return cli.EXIT_OK
    end)
  end)
end

return M

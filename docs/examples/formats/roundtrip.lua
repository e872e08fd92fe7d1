-- roundtrip.lua: reads a chain store back through a dump format and compares every block with
-- the original dump; with OUT, also writes the dump back in that format.
--   quarry run roundtrip.lua FORMAT DB DUMP [OUT]
-- FORMAT is a built-in name or a FILE.lua (docs/formats.md, "Writing your own format").
-- Exit 0 when every block equals the dump, 1 otherwise.
local chain = require("quarry.chain")
local formats = require("quarry.chain.formats")
local json = require("quarry.json")

local format_spec, db_path, dump_path, out_path = ...
if not dump_path then
  io.stderr:write("usage: quarry run ", arg[0], " FORMAT DB DUMP [OUT]\n")
  os.exit(2)
end

local fmt = formats.load(format_spec)
local store <close> = chain.open(db_path, { mode = "read_only", format = format_spec })
local source <close> = formats.open_dump(fmt, dump_path)

-- The writer, opened at the first block: an object dump keeps its header (the members other
-- than the blocks, e.g. "node" and "version"), known once the first block was read.
local writer
local function write(record)
  if not out_path then return end
  if not writer then
    local member
    for _, c in ipairs(fmt.container) do
      if type(c) == "table" then member = member or c.member end
    end
    local header = source:header()
    writer = json.writer(out_path, header and { format = "object", key = member, header = header }
      or { format = source:format() })
  end
  writer:write(record)
end

local n, differ = 0, 0
for height, block in store:blocks() do
  local record = formats.encode(fmt, block)
  local original = source:next()
  if original == nil then error(("block %d: the dump has no more blocks"):format(height)) end
  if json.encode(record) ~= json.encode(original) then
    differ = differ + 1
    print(("block %d differs from the dump"):format(height))
  end
  write(record)
  n = n + 1
end
if source:next() ~= nil then error("the dump has more blocks than the store") end
if writer then writer:close() end
print(("%d blocks read back through format %s: %d equal to %s%s"):format(n, fmt.name,
  n - differ, dump_path, out_path and (", written to " .. out_path) or ""))
os.exit(differ == 0 and 0 or 1)

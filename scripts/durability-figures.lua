-- durability-figures.lua: measures the figures quoted in docs/durability.md on a database of N keys
-- (default 1,000,000; 16-byte keys, 100-byte incompressible values): db:verify and db:digest
-- throughput, checkpoint time, a full then an incremental backup (files shared, bytes copied),
-- backup verify (by content; deep), restore. A measurement, not a test.
--
-- Usage, from a source checkout after building into build/:
--   lua5.4 scripts/durability-figures.lua [--keys N] [--dir DIR]   (DIR default /tmp)
-- QUARRY_BUILD_DIR names another build directory.
do
  local here = (arg and arg[0] or ""):match("^(.*)/[^/]*$") or "."
  local root = here .. "/.."
  local build = os.getenv("QUARRY_BUILD_DIR") or (root .. "/build")
  package.path = root .. "/bindings/lua/?.lua;" .. root .. "/bindings/lua/?/init.lua;" .. root .. "/bindings/json/?.lua;" .. here
    .. "/?.lua;" .. here .. "/?/init.lua;" .. package.path
  package.cpath = build .. "/lua/?.so;" .. package.cpath
end

local quarry = require("quarry")

local keys, base = 1000000, "/tmp"
for i = 1, #arg do
  if arg[i] == "--keys" then keys = assert(math.tointeger(tonumber(arg[i + 1])), "--keys N") end
  if arg[i] == "--dir" then base = arg[i + 1] end
end

local function sh(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local function now()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("l"))
  p:close()
  return t
end

local function timed(fn)
  local t0 = now()
  local r = table.pack(fn())
  return now() - t0, table.unpack(r, 1, r.n)
end

local function du(path)
  local p = io.popen("du -sb " .. sh(path))
  local n = tonumber(p:read("l"):match("^(%d+)"))
  p:close()
  return n
end

local MB = 1024 * 1024
local dir = ("%s/quarry-durability-figures-%d"):format(base, os.time())
assert(os.execute("mkdir -p " .. sh(dir)))
print(("quarry %s, RocksDB %s; %d keys in %s"):format(quarry.version, quarry.rocksdb_version, keys, dir))

-- xorshift64 noise: values LZ4 cannot shrink
local x = 88172645463325252
local function value()
  local t = {}
  for i = 1, 13 do
    x = x ~ (x << 13)
    x = x ~ (x >> 7)
    x = x ~ (x << 17)
    t[i] = string.pack("<i8", x)
  end
  return table.concat(t):sub(1, 100)
end

local db = quarry.open(dir .. "/db", { column_families = { "blocks" }, sync = false })

-- Waits until no compaction runs or is pending: background compactions rewrite table files at
-- their own pace, and a file rewritten between two backups is copied again.
local function settle()
  for _ = 1, 600 do
    if db:property("rocksdb.num-running-compactions", db:cf("blocks")) == "0"
      and db:property("rocksdb.compaction-pending", db:cf("blocks")) == "0"
      and db:property("rocksdb.num-running-flushes") == "0" then
      return
    end
    os.execute("sleep 0.1")
  end
end
local blocks = db:cf("blocks")
local fill_s = timed(function()
  for i = 0, keys - 1, 1000 do
    db:write(function(b)
      for k = i, math.min(i + 999, keys - 1) do
        b:put(blocks, ("key%013d"):format(k), value())
      end
    end)
  end
  db:flush()
  db:compact()
  settle()
end)
print(("fill: %.1f s; %.1f MiB on disk"):format(fill_s, db:size_on_disk() / MB))

-- RocksDB rewrites bottommost files once no snapshot needs their sequence numbers (a released
-- snapshot, e.g. a first verify, marks them): let that happen before measuring.
db:verify()
settle()
local s, r = timed(function() return db:verify() end)
print(("db:verify(): %d keys, %.1f MiB of keys+values, %d table files (%.1f MiB) in %.2f s: %.0f MiB/s of table data, %.0f MiB/s of keys+values"):format(
  r.keys, r.bytes / MB, r.table_files, r.table_bytes / MB, s, r.table_bytes / MB / s, r.bytes / MB / s))
local digest
s, digest = timed(function() return db:digest() end)
print(("db:digest(): %.2f s, %.0f MiB/s of keys+values (%s)"):format(s, r.bytes / MB / s, digest))

s = timed(function() db:checkpoint(dir .. "/cp") end)
print(("db:checkpoint() (same filesystem, hard links): %.3f s"):format(s))

local backups = quarry.backups(dir .. "/backups")
local id1
settle()
s, id1 = timed(function() return backups:create(db) end)
local l1 = backups:list()[1]
print(("backup %d (full): %.2f s, %d files, %.1f MiB"):format(id1, s, l1.files, l1.size / MB))

-- 5 % more keys appended at the end (how a chain store grows)
local extra = keys // 20
for i = keys, keys + extra - 1, 1000 do
  db:write(function(b)
    for k = i, math.min(i + 999, keys + extra - 1) do
      b:put(blocks, ("key%013d"):format(k), value())
    end
  end)
end
local function ssts(id)
  local t = {}
  for line in io.lines(("%s/backups/meta/%d"):format(dir, id)) do
    local f = line:match("^(%S+%.sst) crc32")
    if f then t[f] = true end
  end
  return t
end
-- backup `id` after the one before: its table files, how many the previous one has, MiB copied
local function incremental(label, prev)
  db:flush()
  settle()
  local before = du(dir .. "/backups")
  local s2, id = timed(function() return backups:create(db) end)
  local copied = du(dir .. "/backups") - before
  local a, b = ssts(prev), ssts(id)
  local n, shared = 0, 0
  for f in pairs(b) do
    n = n + 1
    if a[f] then shared = shared + 1 end
  end
  local l = backups:list()
  l = l[#l]
  print(("backup %d (%s): %.2f s, %d files (%.1f MiB); %d of its %d table files shared with backup %d; %.1f MiB copied"):format(
    id, label, s2, l.files, l.size / MB, shared, n, prev, copied / MB))
  return id, l
end
local id2, l2 = incremental("after appending 5% more keys", id1)
db:compact() -- settled data is moved, not rewritten: the next backup copies nothing new
incremental("after db:compact()", id2)

s = timed(function() backups:verify(id2) end)
print(("backups:verify(%d) (CRC-32C of every byte): %.2f s, %.0f MiB/s"):format(id2, s, l2.size / MB / s))
s = timed(function() backups:verify(id2, { deep = true }) end)
print(("backups:verify(%d, {deep = true}) (restore + db:verify): %.2f s"):format(id2, s))
s = timed(function() backups:restore(id2, dir .. "/restored") end)
print(("backups:restore(%d): %.2f s"):format(id2, s))
local want = db:digest()
backups:close()
db:close()
local rdb = quarry.open(dir .. "/restored", { mode = "read_only" })
assert(rdb:digest() == want, "restored digest differs")
rdb:close()
print("restored digest equals the source's")
os.execute("rm -rf " .. sh(dir))

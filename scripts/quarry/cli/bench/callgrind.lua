-- quarry.cli.bench.callgrind: `quarry bench <workloads> --callgrind`: where the time goes, counted
-- instead of timed. Each side (the Lua workload in a child process, db_bench) runs under
-- valgrind's callgrind twice, with the requested operations and with one, and the difference
-- divided by the operations is the instructions per operation, split by the object that executed
-- them: RocksDB, compression, the C runtime (malloc/free, memcpy, thread-local storage), the Lua
-- interpreter, the quarry module, db_bench itself. Counts are repeatable whatever else the
-- machine does (docs/performance.md#where-the-time-goes), unlike times on a shared 2-core VM.
local M = {}

local sh = require("quarry.cli.system").shell_quote

M.components = { "rocksdb", "compression", "runtime", "lua", "quarry", "db_bench", "other" }

-- The component of a shared object's path.
function M.component(obj)
  if obj:find("librocksdb", 1, true) then return "rocksdb" end
  if obj:find("liblz4", 1, true) or obj:find("libsnappy", 1, true) or obj:find("libz", 1, true)
    or obj:find("libzstd", 1, true) or obj:find("libbz2", 1, true) then return "compression" end
  if obj:find("/libc.so", 1, true) or obj:find("ld-linux", 1, true) or obj:find("libstdc++", 1, true)
    or obj:find("libgcc", 1, true) or obj:find("/libm.so", 1, true) or obj:find("[vdso]", 1, true)
    or obj:find("libpthread", 1, true) then return "runtime" end
  if obj:find("lua5.4", 1, true) or obj:find("liblua", 1, true) then return "lua" end
  if obj:find("quarry", 1, true) then return "quarry" end
  if obj:find("db_bench", 1, true) then return "db_bench" end
  return "other"
end

function M.available()
  local ok1 = os.execute("command -v valgrind >/dev/null 2>&1")
  local ok2 = os.execute("command -v callgrind_annotate >/dev/null 2>&1")
  if (ok1 == true or ok1 == 0) and (ok2 == true or ok2 == 0) then return true end
  return nil, "valgrind is not installed (apt-get install valgrind)"
end

-- The command prefix running a program under callgrind into out_file.
function M.prefix(out_file)
  return ("valgrind --tool=callgrind --callgrind-out-file=%s --quiet"):format(sh(out_file))
end

-- Sums the instructions of a callgrind output file by component: { total, <component> = n }.
function M.read(out_file)
  local p = assert(io.popen("callgrind_annotate --threshold=100 " .. sh(out_file) .. " 2>/dev/null"))
  local sums = { total = 0 }
  for _, c in ipairs(M.components) do sums[c] = 0 end
  for line in p:lines() do
    local n, rest = line:match("^%s*([%d,]+) %(%s*[%d%.]+%%%)%s+(.*)$")
    if n and not rest:find("PROGRAM TOTALS", 1, true) then
      local v = tonumber((n:gsub(",", "")))
      local obj = rest:match("%[([^%]]+)%]%s*$") or ""
      local c = M.component(obj)
      sums[c] = sums[c] + v
      sums.total = sums.total + v
    end
  end
  p:close()
  return sums
end

-- Per-operation counts: (full - base) / ops, by component.
function M.per_op(full, base, ops)
  local r = {}
  for k, v in pairs(full) do r[k] = (v - (base[k] or 0)) / ops end
  return r
end

-- Text table of the results (rec.quarry_ir, rec.native_ir per workload).
function M.print(out, results, header)
  local cols = M.components
  if header ~= false then
    local head = ("%-16s %-9s %9s"):format("workload", "side", "instr/op")
    for _, c in ipairs(cols) do head = head .. (" %11s"):format(c) end
    out:write(head, "   ratio native/Lua\n")
  end
  for _, rec in ipairs(results) do
    for _, side in ipairs({ "quarry", "native" }) do
      local r = rec[side .. "_ir"]
      if r then
        local line = ("%-16s %-9s %9.0f"):format(side == "quarry" and rec.workload or "",
          side == "quarry" and "quarry" or "db_bench", r.total)
        for _, c in ipairs(cols) do line = line .. (" %11.0f"):format(r[c]) end
        if side == "quarry" and rec.ir_ratio then line = line .. ("   %5.2f"):format(rec.ir_ratio) end
        out:write(line, "\n")
      end
    end
  end
end

return M

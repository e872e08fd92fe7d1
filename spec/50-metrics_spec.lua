-- 50-metrics: db:metrics() counts exactly the operations done (counters, histogram counts,
-- bytes, errors by code), quantiles and buckets are consistent, the metrics and statistics
-- options, per-family figures; db:prometheus() text read back by a strict parser (and promtool
-- when it is installed), namespaces, labels and their escaping, argument errors.
local helpers = require("spec.helpers")
local prom = require("spec.prom_helpers")
local quarry = require("quarry")

describe("db:metrics()", function()
  local path, db

  before_each(function()
    path = helpers.tmpdir("metrics") .. "/db"
    db = quarry.open(path, { column_families = { "items" } })
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("starts at zero and names its parts", function()
    local m = db:metrics()
    assert.are.equal(path, m.path)
    assert.are.equal("read_write", m.mode)
    assert.is_true(m.enabled)
    assert.is_false(m.statistics)
    assert.is_false(m.failed)
    assert.are.equal(1, m.handles)
    assert.is_true(m.uptime_seconds >= 0)
    for name, v in pairs(m.counters) do
      assert.are.equal(0, v, name)
      assert.are.equal("integer", math.type(v), name)
    end
    for _, name in ipairs({ "get", "multi_get", "put", "write_batch", "iterator_seek" }) do
      local h = m.histograms[name]
      assert.are.same({ 0, 0, 0, 0, 0 }, { h.count, h.sum, h.p50, h.p99, h.p999 })
      assert.are.equal(28, #h.buckets)
      assert.are.equal(math.huge, h.buckets[28].le)
    end
    assert.are.same({}, m.errors)
    assert.is_table(m.families.default)
    assert.is_table(m.families.items)
    assert.is_nil(m.rocksdb.block_cache_hits) -- statistics are off
    assert.is_true(m.rocksdb.size_bytes > 0)
    assert.are.equal(256 * 1024 * 1024, m.rocksdb.block_cache_capacity_bytes)
  end)

  it("counts every operation, key and byte exactly", function()
    local items = db:cf("items")
    local written, read = 0, 0
    for i = 1, 120 do
      local k, v = ("k%03d"):format(i), ("value %d"):format(i)
      db:put(k, v, { sync = i <= 5 })
      written = written + #k + #v
    end
    for i = 1, 40 do
      db:delete(("gone%d"):format(i))
      written = written + #("gone%d"):format(i)
    end
    items:delete_range("a", "b")
    written = written + 2
    local bsize = 0
    for _ = 1, 6 do
      local b = db:batch()
      b:put(items, "x", "1")
      b:put("y", "2")
      b:delete(items, "z")
      bsize = bsize + b:data_size()
      db:write(b)
      b:close()
    end
    written = written + bsize
    for i = 1, 300 do
      local v = db:get(i <= 200 and ("k%03d"):format((i - 1) % 120 + 1) or ("miss%d"):format(i))
      if v then read = read + #v end
    end
    local vals = db:multi_get({ "k001", "nope", "k002" })
    read = read + #vals[1] + #vals[3]
    -- iterators: pairs walks (1 seek + steps), an iterator object seeks and steps
    local walked = 0
    for k, v in db:pairs({ prefix = "k" }) do
      walked = walked + 1
      read = read + #k + #v
    end
    assert.are.equal(120, walked)
    local it = db:iterator()
    it:seek("k050")
    it:next()
    it:next()
    it:seek_for_prev("k010")
    it:first()
    it:last()
    it:close()
    -- errors: a put on a read-only engine is not possible here; use bad arguments
    local big = ("x"):rep(8 * 1024 * 1024 + 1)
    helpers.raises_code("InvalidArgument", nil, db.put, db, big, "v")
    helpers.raises_code("InvalidArgument", nil, db.get, db, big)

    local m = db:metrics()
    local c = m.counters
    assert.are.equal(120, c.puts)
    assert.are.equal(40, c.deletes)
    assert.are.equal(1, c.delete_ranges)
    assert.are.equal(6, c.write_batches)
    assert.are.equal(120 + 40 + 1 + 18, c.keys_written)
    assert.are.equal(written, c.written_bytes)
    assert.are.equal(5, c.wal_synced)
    assert.are.equal(300, c.gets)
    assert.are.equal(1, c.multi_gets)
    assert.are.equal(3, c.multi_get_keys)
    assert.are.equal(200 + 2 + 120, c.keys_read)
    assert.are.equal(read, c.read_bytes)
    assert.are.equal(1 + 4, c.iterator_seeks)
    assert.are.equal(120 + 2, c.iterator_steps) -- the walk's 119 moves + the one that ends it
    assert.are.equal(2, c.errors)
    assert.are.same({ InvalidArgument = 2 }, m.errors)
    local h = m.histograms
    assert.are.equal(300, h.get.count)
    assert.are.equal(120, h.put.count)
    assert.are.equal(6, h.write_batch.count)
    assert.are.equal(1, h.multi_get.count)
    assert.are.equal(5, h.iterator_seek.count)
    for name, hist in pairs(h) do
      local prev = 0
      for _, b in ipairs(hist.buckets) do
        assert.is_true(b.count >= prev, name .. ": buckets are cumulative")
        prev = b.count
      end
      assert.are.equal(hist.count, prev, name .. ": the +Inf bucket is the count")
      assert.is_true(hist.p50 <= hist.p99 and hist.p99 <= hist.p999, name)
      if hist.count > 0 then assert.is_true(hist.sum > 0, name) end
    end
    assert.is_true(h.get.p999 < 1, "memtable gets take less than a second")
  end)

  it("reports RocksDB's figures per family", function()
    local items = db:cf("items")
    for i = 1, 500 do items:put(("i%04d"):format(i), ("v"):rep(100)) end
    db:flush()
    local m = db:metrics()
    local f = m.families.items
    assert.is_true(f.estimate_keys >= 400 and f.estimate_keys <= 600)
    assert.is_true(f.live_sst_bytes > 0)
    assert.is_true(f.sst_bytes >= f.live_sst_bytes)
    assert.are.equal(1, f.l0_files)
    assert.is_number(f.memtable_bytes)
    assert.is_number(f.pending_compaction_bytes)
    assert.are.equal(f.live_sst_bytes + m.families.default.live_sst_bytes, m.rocksdb.live_sst_bytes)
    assert.is_true(m.rocksdb.size_bytes >= m.rocksdb.live_sst_bytes)
    assert.are.equal(0, m.rocksdb.write_stopped)
    assert.is_true(m.rocksdb.compaction_jobs >= 0 and m.rocksdb.flush_jobs >= 0) -- may be running
    db:drop_column_family("items")
    assert.is_nil(db:metrics().families.items)
  end)

  it("records nothing with metrics = false, and adds RocksDB statistics with statistics = true", function()
    db:put("k", "v")
    db:flush()
    db:close()
    db = quarry.open(path, { metrics = false })
    db:put("a", "1")
    assert.are.equal("v", db:get("k"))
    local m = db:metrics()
    assert.is_false(m.enabled)
    assert.are.equal(0, m.counters.puts)
    assert.are.equal(0, m.histograms.get.count)
    assert.is_true(m.rocksdb.size_bytes > 0)
    db:close()
    db = quarry.open(path, { statistics = true })
    for _ = 1, 10 do assert.are.equal("v", db:get("k")) end
    m = db:metrics()
    assert.is_true(m.statistics)
    local r = m.rocksdb
    assert.is_true(r.block_cache_hits + r.block_cache_misses > 0)
    assert.is_true(r.block_cache_hit_rate > 0 and r.block_cache_hit_rate <= 1)
    assert.is_number(r.write_stall_seconds)
    assert.is_number(r.compaction_read_bytes)
    assert.is_true(r.flush_written_bytes >= 0)
  end)

  it("raises Closed on a closed database", function()
    db:close()
    helpers.raises_code("Closed", nil, db.metrics, db)
    helpers.raises_code("Closed", nil, db.prometheus, db)
    db = nil
  end)
end)

describe("db:prometheus()", function()
  local path, db

  before_each(function()
    path = helpers.tmpdir("prom") .. "/db"
    db = quarry.open(path, { column_families = { "blocks", "meta" } })
    for i = 1, 50 do db:cf("blocks"):put(string.pack(">I8", i), ("b"):rep(64)) end
    db:write(function(b) b:put(db:cf("meta"), "tip", "50") end, { sync = true })
    for i = 1, 20 do db:get(("k%d"):format(i)) end
    local it = db:iterator()
    it:seek("k")
    it:close()
  end)

  after_each(function()
    db = helpers.close_and_cleanup(db)
  end)

  it("is valid text exposition format 0.0.4 with base units and _total counters", function()
    local text = db:prometheus()
    local p = prom.parse(text)
    local f = p.families
    for name, fam in pairs(f) do
      assert.matches("^quarry_", name)
      if fam.type == "counter" then assert.matches("_total$", name) end
      if name:find("seconds") then
        assert.is_true(fam.type == "histogram" or name:find("_seconds_total$") ~= nil
          or name:find("_seconds$") ~= nil, name)
      end
      assert.is_nil(name:find("_ms") or name:find("_kb") or name:find("milli"), name)
    end
    assert.are.equal("histogram", f.quarry_get_seconds.type)
    assert.are.equal("histogram", f.quarry_write_batch_seconds.type)
    assert.are.equal("counter", f.quarry_wal_synced_total.type)
    assert.are.equal("gauge", f.quarry_size_bytes.type)
    assert.are.equal("gauge", f.quarry_compaction_jobs.type)
    assert.are.equal(20, prom.value(p, "quarry_get_seconds_count"))
    assert.are.equal(20, prom.value(p, "quarry_get_seconds_bucket", { le = "+Inf" }))
    assert.are.equal(1, prom.value(p, "quarry_write_batch_seconds_count"))
    assert.are.equal(1, prom.value(p, "quarry_wal_synced_total"))
    assert.are.equal(1, prom.value(p, "quarry_iterator_seek_seconds_count"))
    assert.is_true(prom.value(p, "quarry_estimate_keys", { cf = "blocks" }) > 0)
    assert.is_not_nil(prom.value(p, "quarry_live_sst_bytes", { cf = "meta" }))
    -- build_info: 1, the versions in labels
    local v, bl = prom.value(p, "quarry_build_info")
    assert.are.equal(1, v)
    assert.are.equal("gauge", f.quarry_build_info.type)
    assert.are.same({ "lua_version", "rocksdb_version", "version" },
      (function() local k = {} for n in pairs(bl) do k[#k + 1] = n end table.sort(k) return k end)())
    assert.are.equal(quarry.version, bl.version)
    assert.are.equal(quarry.rocksdb_version, bl.rocksdb_version)
    assert.matches("^%d+%.%d+%.%d+$", bl.lua_version)
    assert.are.equal(_VERSION:match("%d+%.%d+"), bl.lua_version:match("^%d+%.%d+"))
    -- every error code from the start, at 0 (no error happened here); "Unknown" once
    for _, code in ipairs({ "NotFound", "Corruption", "NotSupported", "InvalidArgument", "IOError",
      "NoSpace", "Busy", "Locked", "TimedOut", "Aborted", "TryAgain", "Incomplete",
      "ShutdownInProgress", "Closed", "Unknown" }) do
      assert.are.equal(0, prom.value(p, "quarry_errors_total", { code = code }), code)
    end
    assert.are.equal(15, #f.quarry_errors_total.samples)
    -- the only labels are cf (per family), le (buckets) and code (errors), and the versions on
    -- build_info
    for name, fam in pairs(f) do
      for _, s in ipairs(name == "quarry_build_info" and {} or fam.samples) do
        for k in pairs(s.labels) do
          assert.is_truthy(({ cf = 1, le = 1, code = 1 })[k], k)
        end
      end
    end
    local ok, out = prom.promtool(text, helpers.tmpdir("promtool"))
    if ok ~= nil then assert(ok, "promtool check metrics:\n" .. out) end
  end)

  it("takes a namespace and constant labels, escaped, sorted by name", function()
    local text = db:prometheus({
      namespace = "node_db",
      labels = { node = 'say "hi"\\\nbye', chain = "main", shard = 3 },
    })
    local p = prom.parse(text)
    for name in pairs(p.families) do assert.matches("^node_db_", name) end
    assert.is_not_nil(p.families.node_db_size_bytes)
    assert.is_not_nil(p.families.node_db_write_batch_seconds)
    assert.is_not_nil(p.families.node_db_compaction_jobs)
    assert.is_not_nil(p.families.node_db_wal_synced_total)
    local v, labels = prom.value(p, "node_db_size_bytes")
    assert.is_true(v > 0)
    assert.are.same({ node = 'say "hi"\\\nbye', chain = "main", shard = "3" }, labels)
    assert.matches('node_db_size_bytes{chain="main",node="say \\"hi\\"\\\\\\nbye",shard="3"} ',
      text, 1, true)
    local _, bl = prom.value(p, "node_db_get_seconds_bucket", { le = "1e-06" })
    assert.are.equal("main", bl.chain)
    -- an empty namespace: bare names
    assert.is_not_nil(prom.parse(db:prometheus({ namespace = "" })).families.size_bytes)
    local ok, out = prom.promtool(text, helpers.tmpdir("promtool"))
    if ok ~= nil then assert(ok, "promtool check metrics:\n" .. out) end
  end)

  it("counts errors by code with a code label", function()
    db:close()
    db = quarry.open(path, { mode = "read_only" })
    for _ = 1, 3 do pcall(db.put, db, "k", "v") end
    local p = prom.parse(db:prometheus())
    assert.are.equal(3, prom.value(p, "quarry_errors_total", { code = "NotSupported" }))
    assert.are.equal(3, db:metrics().errors.NotSupported)
  end)

  it("rejects bad namespaces, labels and options with InvalidArgument", function()
    helpers.raises_code("InvalidArgument", "namespace", db.prometheus, db, { namespace = "9x" })
    helpers.raises_code("InvalidArgument", "namespace", db.prometheus, db, { namespace = "a-b" })
    helpers.raises_code("InvalidArgument", "reserved", db.prometheus, db, { labels = { le = "1" } })
    helpers.raises_code("InvalidArgument", "reserved", db.prometheus, db, { labels = { cf = "x" } })
    helpers.raises_code("InvalidArgument", "__", db.prometheus, db, { labels = { __x = "1" } })
    helpers.raises_code("InvalidArgument", "label name", db.prometheus, db, { labels = { ["a b"] = "1" } })
    helpers.raises_code("InvalidArgument", "must be a string", db.prometheus, db, { labels = { a = {} } })
    helpers.raises_code("InvalidArgument", "must be strings", db.prometheus, db, { labels = { "x" } })
    helpers.raises_code("InvalidArgument", "must be a table", db.prometheus, db, { labels = "x" })
    helpers.raises_code("InvalidArgument", "unknown option", db.prometheus, db, { nmespace = "x" })
    helpers.raises_code("InvalidArgument", "must be a string", db.prometheus, db, { namespace = 1 })
  end)

  it("is read back by the strict parser, which rejects broken texts", function()
    local good = db:prometheus()
    prom.parse(good)
    local broken = {
      good:gsub("# TYPE quarry_size_bytes gauge\n", ""),                         -- no TYPE
      good .. "# HELP quarry_size_bytes again\n",                                -- HELP twice
      good:gsub('le="%+Inf"} (%d+)', 'le="+Inf"} 999999'),                       -- +Inf ~= count
      good .. good:match("(quarry_size_bytes %d+\n)"),                           -- duplicate
      good:gsub('{cf="blocks"}', '{cf="bl\\ocks"}'),                             -- bad escape
      good:gsub("quarry_wal_synced_total", "quarry_wal_synced"),                 -- counter name
      good .. "bad-name 1\n",
    }
    for i, text in ipairs(broken) do
      assert.is_false(pcall(prom.parse, text), "broken text " .. i .. " was accepted")
    end
  end)
end)

-- 51-serve: `quarry serve` answers GET /metrics, /status and /health over real HTTP on loopback
-- while another process appends blocks to the chain store (the secondary catches up on every
-- request), 404/405/HEAD, bad arguments, a clean stop on SIGTERM and SIGINT. `quarry stats`:
-- text, json and prometheus formats on a live database, and a --textfile that a reader in a
-- second process never sees half written while stats rewrites it over and over.
local helpers = require("spec.helpers")
local prom = require("spec.prom_helpers")
local quarry = require("quarry")
local json = require("quarry.json")
local http = require("socket.http")
local ltn12 = require("ltn12")

local BIN = helpers.quarry_bin
local q = helpers.shell_quote

-- A writer process holding a chain store open read-write; "append N" appends N blocks and
-- answers with the tip height.
local function chain_writer(path)
  local child = helpers.spawn_lua(([[
    local chain = require("quarry.chain")
    local blocks = {}
    require("quarry.cli.commands.gen").chain({ blocks = 400, seed = 11 }, function(b) blocks[#blocks + 1] = b end)
    local store = chain.open(%q)
    local next_block = 1
    io.write("ready\n") io.stdout:flush()
    for line in io.lines() do
      local n = tonumber(line:match("^append (%%d+)$"))
      for _ = 1, n do
        store:append(blocks[next_block])
        next_block = next_block + 1
      end
      io.write(("tip %%d\n"):format((store:tip()))) io.stdout:flush()
    end
    store:close()
  ]]):format(path))
  assert.are.equal("ready", child.recv())
  return child
end

-- Starts `quarry serve` in the background; returns {pid, port, url, finish = fn -> ok, stderr}.
local function start_serve(path, extra)
  local dir = helpers.tmpdir("serve")
  local errfile = dir .. "/stderr"
  local cmd = ("sh -c 'echo $$; exec \"$0\" \"$@\"' %s serve --db %s --listen 127.0.0.1:0 %s 2>%s")
    :format(q(BIN), q(path), extra or "", q(errfile))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  local line = p:read("l")
  assert(line, "quarry serve did not start: " .. (helpers.read_file(errfile) or ""))
  local port = tonumber(line:match("http://127%.0%.0%.1:(%d+)/metrics"))
  assert(port, line)
  local s = { pid = pid, port = port, url = ("http://127.0.0.1:%d"):format(port) }
  -- if the test fails first, stop the server (else closing the pipe would wait for it forever)
  finally(function() os.execute("kill " .. pid .. " 2>/dev/null") end)
  function s.finish()
    local rest = p:read("a")
    local ok, _, code = p:close()
    return ok == true, helpers.read_file(errfile) or "", code, rest
  end
  function s.stderr() return helpers.read_file(errfile) or "" end
  return s
end

local function get(url, method)
  local body = {}
  local _, code, headers = http.request({ url = url, method = method or "GET",
    sink = ltn12.sink.table(body) })
  return code, table.concat(body), headers
end

describe("quarry serve", function()
  after_each(helpers.collect_and_cleanup)

  it("serves /metrics, /status and /health of a live chain store while another process writes", function()
    local path = helpers.tmpdir("live") .. "/db"
    local writer = chain_writer(path)
    writer.send("append 20")
    assert.are.equal("tip 19", writer.recv())
    local s = start_serve(path, "--namespace node_db --label node=n1")

    local code, body, headers = get(s.url .. "/metrics")
    assert.are.equal(200, code)
    assert.are.equal("text/plain; version=0.0.4; charset=utf-8", headers["content-type"])
    local p = prom.parse(body)
    assert.are.equal(19, prom.value(p, "node_db_chain_tip_height", { node = "n1" }))
    assert.are.equal(20, prom.value(p, "node_db_chain_blocks"))
    assert.is_true(prom.value(p, "node_db_size_bytes", { node = "n1" }) > 0)
    assert.is_true(prom.value(p, "node_db_estimate_keys", { cf = "blocks", node = "n1" }) >= 1)
    assert.is_not_nil(p.families.node_db_write_batch_seconds)
    local ok, out = prom.promtool(body, helpers.tmpdir("promtool"))
    if ok ~= nil then assert(ok, "promtool check metrics:\n" .. out) end

    code, body, headers = get(s.url .. "/status")
    assert.are.equal(200, code)
    assert.are.equal("application/json", headers["content-type"])
    local st = json.decode(body, { numbers = "float" })
    assert.are.equal(path, st.path)
    assert.are.equal("secondary", st.mode)
    assert.are.equal(19, st.tip.height)
    assert.matches("^%x+$", st.tip.hash)
    assert.is_true(st.size_bytes > 0)
    assert.is_true(st.uptime_seconds >= 0)
    local names = {}
    for _, f in ipairs(st.families) do
      names[#names + 1] = f.name
      assert.is_number(f.estimate_keys)
    end
    assert.are.same({ "blocks", "default", "hashes", "meta", "txs", "undo", "utxo" }, names)

    -- the writer appends: each request catches up
    writer.send("append 30")
    assert.are.equal("tip 49", writer.recv())
    code, body = get(s.url .. "/status")
    assert.are.equal(200, code)
    assert.are.equal(49, json.decode(body, { numbers = "float" }).tip.height)
    code, body = get(s.url .. "/metrics")
    assert.are.equal(200, code)
    assert.are.equal(49, prom.value(prom.parse(body), "node_db_chain_tip_height"))

    code, body = get(s.url .. "/health")
    assert.are.equal(200, code)
    assert.are.equal("ok\n", body)

    -- other paths and methods
    assert.are.equal(404, (get(s.url .. "/")))
    assert.are.equal(404, (get(s.url .. "/metrics/x")))
    assert.are.equal(405, (get(s.url .. "/metrics", "POST")))
    assert.are.equal(405, (get(s.url .. "/status", "DELETE")))
    code, body, headers = get(s.url .. "/metrics", "HEAD")
    assert.are.equal(200, code)
    assert.are.equal("", body)
    assert.is_true(tonumber(headers["content-length"]) > 1000)
    assert.are.equal(200, (get(s.url .. "/metrics?x=1")))

    -- SIGTERM: a clean stop (exit 0), the secondary's scratch directory removed
    assert(os.execute("kill -TERM " .. s.pid))
    local okf, err = s.finish()
    assert(okf, "quarry serve failed: " .. err)
    assert.matches("stopped %(SIGTERM%)", err)
    local ok2, werr = writer.finish()
    assert(ok2, werr)
  end)

  it("stops on SIGINT and serves a database nobody else has open", function()
    local path = helpers.tmpdir("idle") .. "/db"
    local db = quarry.open(path)
    db:put("k", "v")
    db:close()
    local s = start_serve(path)
    local code, body = get(s.url .. "/metrics")
    assert.are.equal(200, code)
    local p = prom.parse(body)
    assert.are.equal(1, prom.value(p, "quarry_estimate_keys", { cf = "default" }))
    assert.is_nil(p.families.quarry_chain_tip_height) -- not a chain store
    code, body = get(s.url .. "/status")
    assert.are.equal(200, code)
    assert.are.equal(json.null, json.decode(body, { numbers = "float" }).tip)
    -- the database is not locked by serve: a writer can open it meanwhile
    db = quarry.open(path)
    db:put("k2", "v2")
    db:close()
    assert(os.execute("kill -INT " .. s.pid))
    local ok, err = s.finish()
    assert(ok, err)
    assert.matches("stopped %(SIGINT%)", err)
  end)

  it("refuses bad arguments with exit status 2", function()
    local path = helpers.tmpdir("args") .. "/db"
    quarry.open(path):close()
    local function run(args)
      local ok, _, code = os.execute(("%s serve --db %s %s >/dev/null 2>&1"):format(q(BIN), q(path), args))
      return ok, code
    end
    assert.are.same({ nil, 2 }, { run("--listen nowhere") })
    assert.are.same({ nil, 2 }, { run("--listen 127.0.0.1:0 --label le=1") })
    assert.are.same({ nil, 2 }, { run("--listen 127.0.0.1:0 --namespace 9x") })
    local ok, _, code = os.execute(("%s serve --db %s/missing --listen 127.0.0.1:0 >/dev/null 2>&1")
      :format(q(BIN), q(path)))
    assert.is_nil(ok)
    assert.are.equal(1, code)
  end)
end)

describe("quarry stats", function()
  after_each(helpers.collect_and_cleanup)

  local function stats(args)
    local p = assert(io.popen(("%s stats %s 2>&1"):format(q(BIN), args)))
    local out = p:read("a")
    local ok = p:close()
    return ok == true, out
  end

  it("prints text, json and prometheus for a chain store held open by another process", function()
    local path = helpers.tmpdir("stats") .. "/db"
    local writer = chain_writer(path)
    writer.send("append 25")
    assert.are.equal("tip 24", writer.recv())
    local ok, out = stats("--db " .. q(path))
    assert(ok, out)
    assert.matches("database .* %(secondary%)", out)
    assert.matches("\n  blocks +%d+", out)
    assert.matches("chain store %(quarry%.chain/1%)", out)
    assert.matches("\n  tip           24 %x+", out)
    assert.matches("\n  blocks        25 %(heights 0%.%.24%)", out)
    assert.matches("\n  supply        %d+", out)
    assert.matches("pending compaction", out)

    ok, out = stats("--db " .. q(path) .. " --output json")
    assert(ok, out)
    local doc = json.decode(out, { numbers = "float" })
    assert.are.equal(24, doc.chain.tip)
    assert.are.equal("secondary", doc.mode)
    assert.is_number(doc.families.blocks.estimate_keys)
    assert.are.equal("+Inf", doc.histograms.get.buckets[28].le)

    ok, out = stats("--db " .. q(path) .. " --output prometheus --namespace node_db --label chain=main")
    assert(ok, out)
    local p = prom.parse(out)
    assert.are.equal(24, prom.value(p, "node_db_chain_tip_height", { chain = "main" }))
    assert.is_true(prom.value(p, "node_db_chain_supply") > 0)

    ok, out = stats("--db " .. q(path) .. " --output prometheus --label le=1")
    assert.is_false(ok)
    assert.matches("reserved", out)
    assert(writer.finish())
  end)

  it("rewrites a textfile atomically: a reader in another process never sees it half written", function()
    local dir = helpers.tmpdir("textfile")
    local path, file, stop = dir .. "/db", dir .. "/out/quarry.prom", dir .. "/stop"
    assert(os.execute("mkdir -p " .. q(dir .. "/out")))
    local db = quarry.open(path, { column_families = { "a", "b", "c" } })
    for i = 1, 200 do db:put(("k%d"):format(i), ("v"):rep(i)) end
    db:close()
    -- the reader: reads the file as fast as it can until told to stop; every read must parse
    local reader = helpers.spawn_lua(([[
      local prom = require("spec.prom_helpers")
      local file, stop = %q, %q
      local reads, bad, last = 0, 0, nil
      io.write("ready\n") io.stdout:flush()
      while true do
        local f = io.open(file, "rb")
        if f then
          local text = f:read("a")
          f:close()
          reads = reads + 1
          local ok, err = pcall(prom.parse, text)
          if not ok then bad = bad + 1 last = err end
        end
        local s = io.open(stop, "r")
        if s then s:close() break end
      end
      io.write(("%%d %%d %%s\n"):format(reads, bad, tostring(last))) io.stdout:flush()
    ]]):format(file, stop))
    assert.are.equal("ready", reader.recv())
    local ok, out = stats(("--db %s --textfile %s --every 0.01 --count 150"):format(q(path), q(file)))
    assert(ok, out)
    assert.are.equal("", out) -- --textfile alone prints nothing
    helpers.write_file(stop, "")
    local reads, bad, last = reader.recv():match("^(%d+) (%d+) (.*)$")
    assert(reader.finish())
    assert.are.equal("0", bad, "half-written textfile seen: " .. last)
    assert.is_true(tonumber(reads) > 10, "the reader read " .. reads .. " times")
    -- the final file: valid, readable by node_exporter, no temporary file left behind
    local p = prom.parse(helpers.read_file(file))
    assert.are.equal(200, prom.value(p, "quarry_estimate_keys", { cf = "default" }))
    local ls = io.popen("ls -A " .. q(dir .. "/out") .. "; stat -c %a " .. q(file))
    assert.are.equal("quarry.prom\n644\n", ls:read("a"))
    ls:close()
  end)
end)

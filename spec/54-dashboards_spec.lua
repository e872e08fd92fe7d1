-- 54-dashboards: the Grafana dashboard (docs/grafana/quarry-dashboard.json) and the alert rules
-- (docs/prometheus/quarry-alerts.yml) use only metric names the exporter really emits, one
-- prefix: every name in their PromQL is looked up in a real scrape of `quarry serve` on a chain
-- store and of db:prometheus() with statistics on, so neither can drift from the exporter.
-- `promtool check rules` and `promtool test rules` on the rules (pending without promtool), the
-- dashboard's expressions checked as PromQL the same way. Also: quarry_build_info, every
-- errors_total series at 0 from the start, and serve's default port.
local helpers = require("spec.helpers")
local prom = require("spec.prom_helpers")
local quarry = require("quarry")
local json = require("quarry.json")
local http = require("socket.http")
local ltn12 = require("ltn12")

local DASHBOARD = "docs/grafana/quarry-dashboard.json"
local RULES = "docs/prometheus/quarry-alerts.yml"
local RULE_TESTS = "docs/prometheus/quarry-alerts.test.yml"
local q = helpers.shell_quote

local function have_promtool()
  return os.execute("command -v promtool >/dev/null 2>&1") == true
end

-- Runs a shell command; returns ok, its output (stdout and stderr).
local function sh(cmd)
  local p = assert(io.popen(cmd .. " 2>&1"))
  local out = p:read("a")
  return p:close() == true, out
end

-- PromQL words that are not metric names: functions, aggregations, keywords.
local PROMQL_WORDS = {}
for w in ([[abs absent absent_over_time and avg avg_over_time bool by ceil changes clamp_max
  clamp_min count count_over_time delta deriv exp floor group_left group_right
  histogram_quantile idelta ignoring increase irate label_replace label_values max
  max_over_time min min_over_time offset on or predict_linear quantile rate resets round
  scalar sort sort_desc sum sum_over_time time topk bottomk unless vector without]]):gmatch("%S+") do
  PROMQL_WORDS[w] = true
end

--- The metric names of a PromQL expression: identifiers outside strings, label matchers,
--- ranges and by/without lists that are not PromQL words.
local function metric_names(expr)
  local e = expr:gsub('"[^"]*"', '""')
  e = e:gsub("%b{}", " "):gsub("%b[]", " ")
  e = e:gsub("(%f[%w_]by%s*)%b()", " "):gsub("(%f[%w_]without%s*)%b()", " ")
  e = e:gsub("(%f[%w_]on%s*)%b()", " "):gsub("(%f[%w_]ignoring%s*)%b()", " ")
  local names = {}
  for word in e:gmatch("[%a_:][%w_:]*") do
    if not PROMQL_WORDS[word] and not word:match("^%d") then names[#names + 1] = word end
  end
  return names
end

-- Every string value of key `expr` (targets) or `definition` (variables) anywhere in t.
local function dashboard_exprs(t, out)
  out = out or {}
  for k, v in pairs(t) do
    if type(v) == "table" then
      dashboard_exprs(v, out)
    elseif (k == "expr" or k == "definition") and type(v) == "string" then
      out[#out + 1] = v
    end
  end
  return out
end

-- The dashboard's expressions as Prometheus would get them: variables replaced.
local function substituted(expr, prefix)
  return (expr:gsub("%${prefix}", prefix):gsub("%$__rate_interval", "5m")
    :gsub("%$instance", ".*"):gsub("label_values%((.-),%s*[%w_]+%)", "%1"))
end

-- The `expr:` values of a rules file (one line each, as the shipped file writes them).
local function rule_exprs(text)
  local out = {}
  for e in text:gmatch("\n%s+expr:%s*([^\n]+)") do out[#out + 1] = e end
  return out
end

local function get(url)
  local body = {}
  local _, code = http.request({ url = url, sink = ltn12.sink.table(body) })
  return code, table.concat(body)
end

-- A 20-block chain store at path (closed).
local function chain_store(path)
  local chain = require("quarry.chain")
  local store = chain.open(path)
  local n = 0
  require("quarry.cli.commands.gen").chain({ blocks = 20, seed = 5 }, function(b)
    store:append(b)
    n = n + 1
  end)
  store:close()
  assert.are.equal(20, n)
end

-- `quarry serve` on path (any free port, args extra): returns the body of one GET /metrics.
local function scrape_serve(path, extra)
  local dir = helpers.tmpdir("serve")
  local errfile = dir .. "/stderr"
  local cmd = ("sh -c 'echo $$; exec \"$0\" \"$@\"' %s serve --db %s --listen 127.0.0.1:0 %s 2>%s")
    :format(q(helpers.quarry_bin), q(path), extra or "", q(errfile))
  local p = assert(io.popen(cmd, "r"))
  local pid = tonumber(p:read("l"))
  -- the server is stopped whatever happens (closing the pipe waits for it)
  local ok, code, body = pcall(function()
    local line = assert(p:read("l"), helpers.read_file(errfile))
    local port = assert(tonumber(line:match("http://127%.0%.0%.1:(%d+)/metrics")), line)
    return get(("http://127.0.0.1:%d/metrics"):format(port))
  end)
  os.execute("kill -TERM " .. pid .. " 2>/dev/null")
  p:read("a")
  p:close()
  assert(ok, code)
  assert.are.equal(200, code)
  return body
end

-- Sample names of a scrape (histograms as _bucket/_sum/_count), as a set.
local function sample_names(text, into)
  into = into or {}
  for _, fam in pairs(prom.parse(text).families) do
    for _, s in ipairs(fam.samples) do into[s.name] = true end
  end
  return into
end

describe("shipped dashboard and alert rules", function()
  local emitted, serve_text

  setup(function()
    local dir = helpers.tmpdir("dash")
    chain_store(dir .. "/chain")
    serve_text = scrape_serve(dir .. "/chain")
    emitted = sample_names(serve_text)
    -- a node's own endpoint with statistics on: the cache hit and stall counters
    local db = quarry.open(dir .. "/stats", { statistics = true })
    db:put("k", "v")
    db:get("k")
    sample_names(db:prometheus(), emitted)
    db:close()
  end)

  teardown(helpers.collect_and_cleanup)

  it("the scrape has build_info and every errors_total series at 0", function()
    local p = prom.parse(serve_text)
    local v, labels = prom.value(p, "quarry_build_info")
    assert.are.equal(1, v)
    assert.are.equal(quarry.version, labels.version)
    assert.are.equal(quarry.rocksdb_version, labels.rocksdb_version)
    assert.matches("^5%.4%.%d+$", labels.lua_version)
    local codes = {}
    for _, s in ipairs(p.families.quarry_errors_total.samples) do
      assert.are.equal(0, s.value, s.labels.code)
      codes[#codes + 1] = s.labels.code
    end
    assert.are.equal(15, #codes)
    assert.truthy(p.families.quarry_chain_tip_height)
    local ok, out = prom.promtool(serve_text, helpers.tmpdir("promtool"))
    if ok ~= nil then assert(ok, "promtool check metrics:\n" .. out) end
  end)

  it("the dashboard's expressions name only emitted metrics, all through ${prefix}", function()
    local dash = json.decode(assert(helpers.read_file(DASHBOARD)), { numbers = "float" })
    assert.are.equal("quarry", dash.title:lower())
    local prefix_var
    for _, v in ipairs(dash.templating.list) do
      if v.name == "prefix" then prefix_var = v end
    end
    assert(prefix_var, "no ${prefix} variable")
    assert.are.equal("quarry", prefix_var.query)
    local exprs = dashboard_exprs(dash)
    assert.is_true(#exprs >= 20, #exprs .. " expressions")
    local used, missing = {}, {}
    for _, e in ipairs(exprs) do
      assert.is_nil(e:find("quarry_", 1, true), "a literal prefix in: " .. e)
      for _, name in ipairs(metric_names(substituted(e, "quarry"))) do
        used[name] = true
        if not emitted[name] then missing[#missing + 1] = name .. " (in " .. e .. ")" end
      end
    end
    assert.are.same({}, missing)
    -- what the dashboard is for: ops, latency, size, compaction, cache, errors, chain tip
    for _, name in ipairs({ "quarry_get_seconds_count", "quarry_get_seconds_bucket",
      "quarry_write_batch_seconds_bucket", "quarry_size_bytes", "quarry_pending_compaction_bytes",
      "quarry_block_cache_hits_total", "quarry_block_cache_misses_total",
      "quarry_block_cache_usage_bytes", "quarry_errors_total", "quarry_chain_tip_height",
      "quarry_build_info" }) do
      assert.is_true(used[name], name .. " is not on the dashboard")
    end
  end)

  it("the dashboard's expressions are valid PromQL (promtool check rules)", function()
    if not have_promtool() then return pending("promtool not installed (apt-get install prometheus)") end
    local dash = json.decode(assert(helpers.read_file(DASHBOARD)), { numbers = "float" })
    local lines = { "groups:", "  - name: dashboard", "    rules:" }
    for i, e in ipairs(dashboard_exprs(dash)) do
      local expr = substituted(e, "quarry")
      lines[#lines + 1] = ("      - record: dashboard:expr%d"):format(i)
      lines[#lines + 1] = "        expr: '" .. expr:gsub("'", "''") .. "'"
    end
    local file = helpers.tmpdir("promql") .. "/dashboard-rules.yml"
    helpers.write_file(file, table.concat(lines, "\n") .. "\n")
    local ok, out = sh("promtool check rules " .. q(file))
    assert(ok, out)
  end)

  it("the alert rules name only emitted metrics, one prefix", function()
    local text = assert(helpers.read_file(RULES))
    local exprs = rule_exprs(text)
    assert.is_true(#exprs >= 10, #exprs .. " rules")
    local used, missing = {}, {}
    for _, e in ipairs(exprs) do
      for _, name in ipairs(metric_names(e)) do
        used[name] = true
        if name ~= "up" and not emitted[name] then missing[#missing + 1] = name .. " (in " .. e .. ")" end
        assert.is_true(name == "up" or name:sub(1, 7) == "quarry_", "another prefix: " .. name)
      end
    end
    assert.are.same({}, missing)
    for _, name in ipairs({ "up", "quarry_write_stopped", "quarry_delayed_write_rate_bytes_per_second",
      "quarry_pending_compaction_bytes", "quarry_errors_total", "quarry_size_bytes" }) do
      assert.is_true(used[name], name .. " has no alert")
    end
  end)

  it("passes promtool check rules and promtool test rules, renamed too", function()
    if not have_promtool() then return pending("promtool not installed (apt-get install prometheus)") end
    local ok, out = sh("promtool check rules " .. q(RULES))
    assert(ok, out)
    ok, out = sh("cd docs/prometheus && promtool test rules " .. q(RULE_TESTS:match("[^/]+$")))
    assert(ok, out)
    -- the renaming docs/metrics.md gives, for a node's db:prometheus{namespace = "node_db"}
    local dir = helpers.tmpdir("rename")
    ok, out = sh(("sed -e 's/quarry_/node_db_/g' -e 's/job=\"quarry\"/job=\"node\"/' %s > %s/node.yml")
      :format(q(RULES), q(dir)))
    assert(ok, out)
    local renamed = helpers.read_file(dir .. "/node.yml")
    assert.is_nil(renamed:find("quarry_", 1, true))
    ok, out = sh("promtool check rules " .. q(dir .. "/node.yml"))
    assert(ok, out)
  end)
end)

describe("quarry serve's default port", function()
  it("is 9479, not node_exporter's 9100 nor another of the Prometheus stack's", function()
    local status, out = helpers.run_quarry({ "serve", "--help" })
    assert.are.equal(0, status)
    assert.matches("127.0.0.1:9479", out, 1, true)
    assert.is_nil(out:find("9100", 1, true))
    local doc = assert(helpers.read_file("docs/metrics.md"))
    assert.matches("9479", doc, 1, true)
    assert.is_nil(doc:find("127.0.0.1:9100", 1, true))
  end)
end)

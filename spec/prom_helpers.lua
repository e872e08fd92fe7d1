-- spec/prom_helpers.lua: a strict parser of Prometheus' text exposition format 0.0.4, used by the
-- metrics specs (50, 51) to read back what db:prometheus, quarry stats and quarry serve print.
-- It raises (with the line number) on anything the format does not allow or that Prometheus
-- would reject: a malformed line, a bad name or label, an escape other than \\ \" \n, HELP or
-- TYPE given twice or after the family's samples, samples of a family that are not contiguous,
-- a duplicate series, a counter not named *_total, a histogram whose buckets are not cumulative
-- or do not end with le="+Inf" equal to _count, a histogram without _sum or _count.
local M = {}

local NAME = "^[a-zA-Z_:][a-zA-Z0-9_:]*$"
local LABEL = "^[a-zA-Z_][a-zA-Z0-9_]*$"

-- A value as Go's strconv.ParseFloat reads it (what Prometheus uses).
local function number(s)
  if s == "+Inf" or s == "Inf" then return math.huge end
  if s == "-Inf" then return -math.huge end
  if s == "NaN" then return 0 / 0 end
  if not s:match("^[+-]?%d*%.?%d*[eE]?[+-]?%d*$") or not s:match("%d") then return nil end
  return tonumber(s)
end

-- Parses `{a="x",b="y"}` starting at position i of line; returns labels (name -> value), the
-- label names in order, and the position after the closing brace.
local function parse_labels(line, i, fail)
  local labels, order = {}, {}
  i = i + 1 -- past "{"
  while true do
    if line:sub(i, i) == "}" then return labels, order, i + 1 end
    local name = line:match("^[^=]*", i)
    if not name:match(LABEL) then fail("bad label name %q", name) end
    if name:sub(1, 2) == "__" then fail("reserved label name %q", name) end
    if labels[name] then fail("label %q given twice", name) end
    i = i + #name
    if line:sub(i, i + 1) ~= '="' then fail("expected =\" after label %s", name) end
    i = i + 2
    local value = {}
    while true do
      local c = line:sub(i, i)
      if c == "" then fail("unterminated label value") end
      if c == '"' then break end
      if c == "\\" then
        local e = line:sub(i + 1, i + 1)
        if e == "\\" then value[#value + 1] = "\\"
        elseif e == '"' then value[#value + 1] = '"'
        elseif e == "n" then value[#value + 1] = "\n"
        else fail("bad escape \\%s in a label value", e) end
        i = i + 2
      else
        value[#value + 1] = c
        i = i + 1
      end
    end
    labels[name] = table.concat(value)
    order[#order + 1] = name
    i = i + 1 -- past the closing quote
    local c = line:sub(i, i)
    if c == "," then
      i = i + 1
    elseif c ~= "}" then
      fail("expected , or } after a label value")
    end
  end
end

local function series_key(name, labels)
  local names = {}
  for k in pairs(labels) do names[#names + 1] = k end
  table.sort(names)
  local parts = { name }
  for _, k in ipairs(names) do parts[#parts + 1] = k .. "=" .. labels[k] end
  return table.concat(parts, "\0")
end

-- The family a sample belongs to: histogram samples carry _bucket/_sum/_count suffixes.
local function family_of(name, families)
  if families[name] then return name end
  for _, suffix in ipairs({ "_bucket", "_sum", "_count" }) do
    local base = name:sub(1, -#suffix - 1)
    if name:sub(-#suffix) == suffix and families[base] and families[base].type == "histogram" then
      return base, suffix
    end
  end
  return name
end

--- Parses text. Returns {families = {name -> {help, type, samples = {{name, labels, value}}}},
--- order = {family names in order}}. Raises on any violation.
function M.parse(text)
  local families, order, seen_series = {}, {}, {}
  local current -- the family whose samples are being read
  local closed = {} -- families whose samples ended (another family started)
  local n = 0
  assert(text:sub(-1) == "\n", "the text must end with a newline")
  for line in text:gmatch("([^\n]*)\n") do
    n = n + 1
    local function fail(fmt, ...)
      error(("line %d: %s: %q"):format(n, fmt:format(...), line), 0)
    end
    if line == "" then
      fail("empty line")
    elseif line:sub(1, 1) == "#" then
      local kind, name, rest = line:match("^# (%u+) (%S+) ?(.*)$")
      if kind == "HELP" then
        if not name:match(NAME) then fail("bad metric name") end
        families[name] = families[name] or { samples = {} }
        local f = families[name]
        if f.help then fail("HELP given twice for %s", name) end
        if #f.samples > 0 then fail("HELP after the samples of %s", name) end
        if rest:find("\\[^\\n]") then fail("bad escape in HELP") end
        f.help = rest
      elseif kind == "TYPE" then
        if not name:match(NAME) then fail("bad metric name") end
        families[name] = families[name] or { samples = {} }
        local f = families[name]
        if f.type then fail("TYPE given twice for %s", name) end
        if #f.samples > 0 then fail("TYPE after the samples of %s", name) end
        if not ({ counter = 1, gauge = 1, histogram = 1, summary = 1, untyped = 1 })[rest] then
          fail("unknown type %q", rest)
        end
        f.type = rest
      elseif line:match("^# HELP") or line:match("^# TYPE") then
        fail("malformed HELP/TYPE")
      end
      -- other comments are allowed
    else
      local name = line:match("^[^{ ]+")
      if not name or not name:match(NAME) then fail("bad metric name") end
      local i = #name + 1
      local labels = {}
      if line:sub(i, i) == "{" then
        local parsed, _, after = parse_labels(line, i, fail)
        labels, i = parsed, after
      end
      if line:sub(i, i) ~= " " then fail("expected a space before the value") end
      local value_text = line:sub(i + 1):match("^(%S+) ?%-?%d*$") -- an optional timestamp
      if not value_text then fail("bad value") end
      local value = number(value_text)
      if value == nil then fail("bad value %q", value_text) end
      local fam, suffix = family_of(name, families)
      local f = families[fam]
      if not f or not f.type then fail("sample of %s before its TYPE", fam) end
      if not f.help then fail("sample of %s before its HELP", fam) end
      if closed[fam] then fail("samples of %s are not contiguous", fam) end
      if current and current ~= fam then closed[current] = true end
      if current ~= fam then order[#order + 1] = fam end
      current = fam
      if f.type == "counter" then
        if name:sub(-6) ~= "_total" then fail("counter %s not named *_total", name) end
        if value < 0 then fail("negative counter") end
      end
      if f.type == "histogram" then
        if not suffix then fail("histogram sample without _bucket/_sum/_count") end
        if suffix == "_bucket" and labels.le == nil then fail("bucket without le") end
        if suffix ~= "_bucket" and labels.le ~= nil then fail("le outside a bucket") end
      end
      local key = series_key(name, labels)
      if seen_series[key] then fail("duplicate series") end
      seen_series[key] = true
      f.samples[#f.samples + 1] = { name = name, labels = labels, value = value, suffix = suffix }
    end
  end
  assert(n > 0, "no lines")
  -- histograms: per label set (le left out), cumulative buckets ending with +Inf == _count
  for name, f in pairs(families) do
    if f.type == "histogram" then
      local groups = {}
      for _, s in ipairs(f.samples) do
        local rest = {}
        for k, v in pairs(s.labels) do if k ~= "le" then rest[k] = v end end
        local key = series_key("", rest)
        groups[key] = groups[key] or { buckets = {} }
        local g = groups[key]
        if s.suffix == "_bucket" then
          local le = number(s.labels.le)
          assert(le, ("%s: bad le %q"):format(name, s.labels.le))
          g.buckets[#g.buckets + 1] = { le = le, count = s.value }
        elseif s.suffix == "_sum" then
          g.sum = s.value
        else
          g.count = s.value
        end
      end
      for _, g in pairs(groups) do
        assert(g.sum and g.count, name .. ": _sum or _count missing")
        assert(#g.buckets > 0, name .. ": no buckets")
        for i = 2, #g.buckets do
          assert(g.buckets[i].le > g.buckets[i - 1].le, name .. ": le not increasing")
          assert(g.buckets[i].count >= g.buckets[i - 1].count, name .. ": buckets not cumulative")
        end
        local last = g.buckets[#g.buckets]
        assert(last.le == math.huge, name .. ': the last bucket is not le="+Inf"')
        assert(last.count == g.count, name .. ": the +Inf bucket differs from _count")
      end
    end
  end
  for name, f in pairs(families) do
    assert(f.type, name .. ": HELP without TYPE")
    assert(f.help, name .. ": TYPE without HELP")
  end
  return { families = families, order = order }
end

--- The value of the sample name{labels} (labels: a subset that must match), or nil.
function M.value(parsed, name, labels)
  local fam = family_of(name, parsed.families)
  local f = parsed.families[fam]
  if not f then return nil end
  for _, s in ipairs(f.samples) do
    if s.name == name then
      local match = true
      for k, v in pairs(labels or {}) do
        if s.labels[k] ~= v then match = false end
      end
      if match then return s.value, s.labels end
    end
  end
  return nil
end

--- Runs `promtool check metrics` on text when promtool is on PATH. Returns nil when it is not,
--- else ok, output.
function M.promtool(text, dir)
  if not os.execute("command -v promtool >/dev/null 2>&1") then return nil end
  local file = dir .. "/metrics.prom"
  local f = assert(io.open(file, "wb"))
  f:write(text)
  f:close()
  local p = assert(io.popen(("promtool check metrics < '%s' 2>&1"):format(file)))
  local out = p:read("a")
  local ok = p:close()
  return ok == true, out
end

return M

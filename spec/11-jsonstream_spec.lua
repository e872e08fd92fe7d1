-- 11-jsonstream: json.reader and json.writer. Streaming must give what json.decode gives on
-- the whole document, whatever the chunking and compression, in memory bounded by one element.
local json = require("quarry.json")

local base = (os.getenv("QUARRY_TEST_TMP") or "/tmp") .. "/quarry-jsonstream"
os.execute("mkdir -p '" .. base .. "'")
local counter = 0
local function tmpfile(name)
  counter = counter + 1
  local unique = os.tmpname():match("([^/]+)$")
  os.remove("/tmp/" .. unique)
  return ("%s/%s-%d-%s"):format(base, unique, counter, name)
end

local function write_file(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

local function read_file(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- Whether a writer's temporary file (<path>.tmp-XXXXXX: the core's quarry_file_create) is there.
local function temp_beside(path)
  local ls = assert(io.popen("ls -d '" .. path .. "'.tmp-* 2>/dev/null"))
  local out = ls:read("a")
  ls:close()
  return out ~= ""
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

local function collect(r)
  local out = {}
  for v in r:each() do out[#out + 1] = v end
  return out
end

-- A source function giving s in pieces of n bytes.
local function chunked(s, n)
  local pos = 1
  return function()
    if pos > #s then return nil end
    local piece = s:sub(pos, pos + n - 1)
    pos = pos + n
    return piece
  end
end

local tricky = {
  '{"s":"esc \\" \\\\ \\/ \\n \\u0000 \\u00e9 \\ud83d\\ude00 end","n":9223372036854775808}',
  '{"k\\"ey":[1,2.50,-0,1e400,"\\\\\\""],"e":{},"a":[]}',
  '"\\\\"', '"a\\"b"', 'null', '[]', '{}', '12345678901234567890', '"' .. string.rep("x", 70000) .. '"',
  '{"deep":[[[[[[{"x":[null,true,false]}]]]]]]}',
}

describe("json.reader", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  local array_doc = "[" .. table.concat(tricky, ",\n ") .. "]\n"
  local object_doc = '{"chain":"btc","network":{"magic":1},"blocks":[' .. table.concat(tricky, ",")
    .. '],"tip":9007199254740993}'
  local lines_doc = table.concat(tricky, "\n") .. "\n\n"

  local function same_as_decode(doc, got, key)
    local whole = json.decode(doc)
    if key then whole = whole[key] end
    assert.equal(#whole, #got)
    for i = 1, #whole do
      assert.equal(json.encode(whole[i]), json.encode(got[i]))
    end
  end

  it("streams the top-level array like json.decode", function()
    local p = tmpfile("a.json")
    write_file(p, array_doc)
    local r = json.reader(p)
    local got = collect(r)
    same_as_decode(array_doc, got)
    assert.equal("array", r:format())
    assert.equal(#array_doc, r:size())
    assert.equal(#array_doc, r:offset()) -- read to the end: the closing "]\n" included
  end)

  -- offset() while streaming: the end of the last element returned; once next() has returned nil:
  -- every byte of the input (closing brackets, trailing members, blank lines, a byte order mark).
  it("offset() is the file size once the whole input was read", function()
    local docs = {
      array = "\239\187\191 [" .. table.concat(tricky, ",\n ") .. "]\n \n\t",
      object = '{"chain":"btc","blocks":[' .. table.concat(tricky, ",")
        .. '],"tip":9007199254740993,"more":{"x":[1,2]}}  \r\n',
      jsonl = table.concat(tricky, "\n") .. "\n\n  \n",
    }
    for format, doc in pairs(docs) do
      local p = tmpfile("offset." .. format)
      write_file(p, doc)
      local r = json.reader(p)
      local n, last = 0, 0
      for _ in r:each() do
        n = n + 1
        assert.is_true(r:offset() > last) -- each element ends further on
        last = r:offset()
      end
      assert.equal(#tricky, n)
      assert.equal(format, r:format())
      assert.is_true(last < #doc, format) -- the last element ends before the input does
      assert.equal(#doc, r:size())
      assert.equal(#doc, r:offset(), format)
      assert.equal(#doc, r:compressed_offset(), format)
      -- the same through next(), from a function source in small pieces, and LZ4-compressed
      r = json.reader(chunked(doc, 7))
      while r:next() do end
      assert.equal(#doc, r:offset(), format)
      assert.is_nil(r:next())
      assert.equal(#doc, r:offset(), format) -- stays there
      local z = tmpfile("offset." .. format .. ".lz4")
      write_file(z, json.lz4_compress(doc))
      r = json.reader(z)
      while r:next() do end
      assert.equal(#doc, r:offset(), format)                     -- decompressed bytes
      assert.equal(r:size(), r:compressed_offset(), format)      -- the file's bytes
    end
    -- whitespace only (JSON Lines: no element) and an empty file
    for _, doc in ipairs({ " \n\n ", "" }) do
      local p = tmpfile("blank.jsonl")
      write_file(p, doc)
      local r = json.reader(p)
      assert.is_nil(r:next())
      assert.equal(#doc, r:offset())
    end
  end)

  it("streams the array under a key and gives the other members as the header", function()
    local p = tmpfile("o.json")
    write_file(p, object_doc)
    local r = json.reader(p)
    local got = {}
    for v in r:each() do
      got[#got + 1] = v
      assert.equal("btc", r:header().chain) -- members before the key are there while streaming
    end
    same_as_decode(object_doc, got, "blocks")
    assert.equal('{"chain":"btc","network":{"magic":1},"tip":9007199254740993}',
      json.encode(r:header()))
    assert.equal("object", r:format())
  end)

  it("honours opts.key and opts.format = 'object'", function()
    local p = tmpfile("k.json")
    write_file(p, '{"meta":1,"items":[1,2,3]}')
    local got = collect(json.reader(p, { key = "items" }))
    assert.same({ 1, 2, 3 }, got)
    local ok, err = pcall(collect, json.reader(p, { format = "object" }))
    assert.is_false(ok)
    assert.matches('no member "blocks"', err, 1, true)
    ok, err = pcall(collect, json.reader(p, { key = "meta" }))
    assert.is_false(ok)
    assert.matches('member "meta" is not an array', err, 1, true)
  end)

  it("streams JSON Lines (blank lines skipped)", function()
    local p = tmpfile("l.jsonl")
    write_file(p, lines_doc)
    local r = json.reader(p)
    local got = collect(r)
    assert.equal(#tricky, #got)
    for i, line in ipairs(tricky) do
      assert.equal(json.encode(json.decode(line)), json.encode(got[i]))
    end
    assert.equal("jsonl", r:format())
    assert.is_nil(r:header())
    -- explicit format, and a one-object file without the key
    assert.equal(#tricky, #collect(json.reader(p, { format = "jsonl" })))
    write_file(p, '{"height":1}')
    got = collect(json.reader(p))
    assert.equal(1, #got)
    assert.equal(1, got[1].height)
  end)

  it("gives the same elements for every chunking of a source function", function()
    for _, doc in ipairs({ array_doc, object_doc, lines_doc }) do
      local want = collect(json.reader(chunked(doc, #doc)))
      for _, n in ipairs({ 1, 2, 3, 5, 7, 64, 4096 }) do
        local got = collect(json.reader(chunked(doc, n)))
        assert.equal(#want, #got)
        for i = 1, #want do
          assert.equal(json.encode(want[i]), json.encode(got[i]))
        end
      end
    end
  end)

  it("reads LZ4 frames, detected by magic number not extension", function()
    local p = tmpfile("z.data")
    write_file(p, json.lz4_compress(object_doc))
    local r = json.reader(p)
    local got = collect(r)
    same_as_decode(object_doc, got, "blocks")
    assert.equal(#object_doc, r:offset()) -- decompressed bytes, to the end of the input
    assert.equal(r:size(), r:compressed_offset())
    -- small pieces of a compressed stream
    got = collect(json.reader(chunked(json.lz4_compress(lines_doc), 3)))
    assert.equal(#tricky, #got)
  end)

  it("detects truncated LZ4 input", function()
    local p = tmpfile("t.json.lz4")
    local z = json.lz4_compress(array_doc)
    write_file(p, z:sub(1, #z - 6))
    local ok, err = pcall(collect, json.reader(p))
    assert.is_false(ok)
    assert.matches(p, err, 1, true)
  end)

  -- malformed input: file name, line, column, byte
  local bad = {
    { "[1,2,\n3,,4]", "line 2, column 3" },
    { '{"h":1}\n{"h":2}\n{"h":3,}\n', "line 3, column 8" },
    { '{"h":1}\n{"h":2} {"h":3}\n', "more than one value on line 2" },
    { "[1,2,3", "premature EOF" },
    { "[1] x", "trailing garbage" },
    { '{"blocks":[1]}\n{"blocks":[2]}', "more than one top-level value" },
    { '[1, "\\ud800"]', "lone surrogate" },
    { '["a\nb"]', "line 1, column 4" },
  }
  for i, c in ipairs(bad) do
    it(("names file and line for malformed input %d"):format(i), function()
      local p = tmpfile("bad.json")
      write_file(p, c[1])
      local r = json.reader(p)
      local ok, err = pcall(collect, r)
      assert.is_false(ok)
      assert.equal("json.reader", err.op)
      assert.matches("json: " .. p .. ": ", err.message, 1, true)
      assert.matches(c[2], err.message, 1, true)
    end)
  end

  it("counts lines across chunks", function()
    local lines = {}
    for i = 1, 20000 do
      lines[i] = ('{"height":%d,"hash":"%s"}'):format(i, string.rep("ab", 20))
    end
    lines[17777] = '{"height":17777,"hash":"x",}'
    local p = tmpfile("many.jsonl")
    write_file(p, table.concat(lines, "\n") .. "\n")
    local r = json.reader(p)
    local n = 0
    local ok, err = pcall(function()
      for _ in r:each() do n = n + 1 end
    end)
    assert.is_false(ok)
    assert.equal(17776, n)
    assert.matches("line 17777, column 28", err, 1, true)
    -- the same through LZ4
    write_file(p, json.lz4_compress(table.concat(lines, "\n")))
    ok, err = pcall(collect, json.reader(p))
    assert.is_false(ok)
    assert.matches("line 17777, column 28", err, 1, true)
  end)

  it("refuses a duplicate member name, after the elements before it", function()
    local lines = { '{"h":1,"amount":5}', '{"h":2,"x":{"amount":5,', '  "amount":6}}', '{"h":3}' }
    local p = tmpfile("dup.jsonl")
    write_file(p, table.concat(lines, "\n") .. "\n")
    local r = json.reader(p)
    assert.equal(1, r:next().h)
    local ok, err = pcall(r.next, r)
    assert.is_false(ok)
    assert.equal("InvalidArgument", err.code)
    assert.equal(("json: %s: duplicate member \"amount\" at line 3, column 3 (byte 45)"):format(p), err.message)
    -- every chunking of a source function and LZ4 name the same place
    local text = table.concat(lines, "\n")
    for _, size in ipairs({ 1, 7, 4096 }) do
      ok, err = pcall(collect, json.reader(chunked(text, size), { name = "d" }))
      assert.equal('json: d: duplicate member "amount" at line 3, column 3 (byte 45)', err.message)
    end
    write_file(p, json.lz4_compress(text))
    ok, err = pcall(collect, json.reader(p, { name = "d" }))
    assert.equal('json: d: duplicate member "amount" at line 3, column 3 (byte 45)', err.message)
    -- the options of json.decode
    assert.equal(6, collect(json.reader(chunked(text, 5), { duplicates = "last" }))[2].x.amount)
    assert.equal(5, collect(json.reader(chunked(text, 5), { duplicates = "first" }))[2].x.amount)
    -- a header member or a second array under the key
    ok, err = pcall(collect, json.reader(chunked('{"chain":"a","chain":"b","blocks":[1]}', 3), { name = "h" }))
    assert.equal('json: h: duplicate member "chain" at line 1, column 14 (byte 13)', err.message)
    ok, err = pcall(collect, json.reader(chunked('{"blocks":[1],"blocks":[2]}', 3), { name = "k" }))
    assert.equal('json: k: duplicate member "blocks" at line 1, column 15 (byte 14)', err.message)
  end)

  it("is unusable after an error, and closed after a loop", function()
    local p = tmpfile("c.json")
    write_file(p, "[1,2,]")
    local r = json.reader(p)
    assert.equal(1, r:next())
    assert.equal(2, r:next())
    local ok1, e1 = pcall(r.next, r)
    local ok2, e2 = pcall(r.next, r)
    assert.is_false(ok1)
    assert.is_false(ok2)
    assert.equal(e1, e2)
    write_file(p, "[1,2]")
    r = json.reader(p)
    for _ in r:each() do break end
    assert.has_error(function() r:next() end)
    r:close() -- idempotent
    -- a source function raising leaves the reader unusable
    r = json.reader(function() error("boom") end)
    assert.has_error(function() r:next() end)
    assert.has_error(function() r:next() end)
    -- dropping a reader mid-way is fine
    r = json.reader(chunked(array_doc, 10))
    r:next()
    r = nil
    collectgarbage()
    assert.has_error(function() json.reader(tmpfile("missing.json")) end)
    assert.has_error(function() json.reader(p, { format = "xml" }) end)
    assert.has_error(function() json.reader(p, { bogus = 1 }) end)
  end)

  it("handles empty input", function()
    local p = tmpfile("e.json")
    write_file(p, " \n")
    assert.same({}, collect(json.reader(p)))
    assert.same({}, collect(json.reader(p, { format = "jsonl" })))
    assert.has_error(function() collect(json.reader(p, { format = "array" })) end)
    write_file(p, "\xEF\xBB\xBF[1]")
    assert.same({ 1 }, collect(json.reader(p)))
  end)
end)

describe("json.writer", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  local values = { { h = 1, tx = json.array() }, json.decode('{"z":0.10,"a":9223372036854775808}'),
                   "s", json.null, 3 }

  for _, fmt in ipairs({ "array", "object", "jsonl" }) do
    for _, compress in ipairs({ "none", "lz4" }) do
      it(("writes %s (%s) that the reader reads back"):format(fmt, compress), function()
        local p = tmpfile("w." .. fmt .. (compress == "lz4" and ".lz4" or ""))
        local w = json.writer(p, { format = fmt, compress = compress,
                                   header = fmt == "object" and { chain = "x" } or nil })
        for _, v in ipairs(values) do w:write(v) end
        assert.equal(#values, w:count())
        assert.is_true(temp_beside(p))
        assert.is_false(exists(p))
        w:close()
        assert.is_false(temp_beside(p))
        local raw = read_file(p)
        if compress == "lz4" then
          assert.equal("\x04\x22\x4d\x18", raw:sub(1, 4))
          raw = json.lz4_decompress(raw)
        end
        if fmt ~= "jsonl" then
          local whole = json.decode(raw)
          if fmt == "object" then
            assert.equal("x", whole.chain)
            whole = whole.blocks
          end
          assert.equal(#values, #whole)
        end
        local r = json.reader(p)
        local got = collect(r)
        assert.equal(#values, #got)
        for i, v in ipairs(values) do
          assert.equal(json.encode(v), json.encode(got[i]))
        end
        if fmt == "object" then assert.equal("x", r:header().chain) end
      end)
    end
  end

  it("writes empty documents", function()
    local p = tmpfile("empty.json")
    json.writer(p):close()
    assert.equal("[]\n", read_file(p))
    json.writer(p, { format = "object", header = { a = 1 }, key = "items" }):close()
    assert.equal('{"a":1,"items":[]}\n', read_file(p))
    json.writer(p, { format = "jsonl" }):close()
    assert.equal("", read_file(p))
  end)

  it("chooses jsonl and lz4 from the extension", function()
    local p = tmpfile("x.jsonl.lz4")
    local w = json.writer(p)
    w:write({ a = 1 })
    w:write({ a = 2 })
    w:close()
    assert.equal('{"a":1}\n{"a":2}\n', json.lz4_decompress(read_file(p)))
  end)

  it("is atomic: abort, gc and errors leave the target untouched", function()
    local p = tmpfile("atomic.json")
    write_file(p, "[\"old\"]")
    local w = json.writer(p)
    w:write(1)
    w:abort()
    assert.is_false(temp_beside(p))
    assert.equal("[\"old\"]", read_file(p))
    w = json.writer(p)
    w:write(1)
    w = nil
    collectgarbage()
    collectgarbage()
    assert.is_false(temp_beside(p))
    assert.equal("[\"old\"]", read_file(p))
    local ok = pcall(function()
      local w2 <close> = json.writer(p)
      w2:write(1)
      error("failed midway")
    end)
    assert.is_false(ok)
    assert.is_false(temp_beside(p))
    assert.equal("[\"old\"]", read_file(p))
    do
      local w3 <close> = json.writer(p)
      w3:write(2)
    end
    assert.equal("[\n2\n]\n", read_file(p))
  end)

  it("drops an element whose encoding failed", function()
    local p = tmpfile("partial.json")
    local w = json.writer(p)
    w:write(1)
    assert.has_error(function() w:write({ 2, print }) end)
    w:write(3)
    w:close()
    assert.same({ 1, 3 }, json.decode(read_file(p)))
  end)

  it("rejects bad options", function()
    local p = tmpfile("opts.json")
    assert.has_error(function() json.writer(p, { format = "csv" }) end)
    assert.has_error(function() json.writer(p, { header = { a = 1 } }) end)
    assert.has_error(function() json.writer(p, { format = "jsonl", indent = 2 }) end)
    assert.has_error(function() json.writer(p, { format = "object", header = { blocks = 1 } }) end)
    assert.has_error(function() json.writer("/nonexistent-dir/x.json") end)
  end)
end)

describe("json streaming memory", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("streams 50 MB of JSON Lines in bounded memory without losing an element", function()
    local p = tmpfile("big.jsonl")
    local w = json.writer(p, { format = "jsonl" })
    local n, sum, bytes = 0, 0, 0
    local hash = string.rep("0123456789abcdef", 4)
    local tx = json.array()
    for i = 1, 8 do
      tx[i] = json.decode(('{"txid":"%s","vout":[{"value":0.00010000,"n":%d}],"hex":"%s"}')
        :format(hash, i, string.rep("ff", 100)))
    end
    while bytes < 50 * 1024 * 1024 do
      n = n + 1
      sum = sum + n
      w:write({ height = n, hash = hash, tx = tx })
      if n == 1 then
        bytes = #json.encode({ height = n, hash = hash, tx = tx }) + 1
      else
        bytes = bytes + #json.encode({ height = n, hash = hash, tx = tx }) + 1 - 0
      end
    end
    w:close()
    collectgarbage()
    collectgarbage()
    local r = json.reader(p)
    local count, total, peak = 0, 0, collectgarbage("count")
    for block in r:each() do
      count = count + 1
      total = total + block.height
      assert.equal(8, #block.tx)
      if count % 1000 == 0 then
        peak = math.max(peak, collectgarbage("count"))
      end
    end
    assert.equal(n, count)
    assert.equal(sum, total)
    assert.is_true(r:size() >= 50 * 1024 * 1024)
    assert.equal(r:size(), r:offset())
    -- the Lua heap stays far below the file size (KiB; about 400 KiB measured)
    assert.is_true(peak < 8 * 1024, ("peak Lua memory %.0f KiB"):format(peak))
    os.remove(p)
  end)
end)

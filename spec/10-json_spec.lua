-- 10-json: quarry.json decode/encode. Chain data must survive exactly: integers, big numbers,
-- decimals, key order, escapes; malformed input fails with line, column and byte offset.
local json = require("quarry.json")

local function roundtrip(text, opts)
  return json.encode(json.decode(text, opts))
end

describe("json.decode numbers", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  -- text, Lua type of the result ("integer" or "number" for json.number), integer value
  local cases = {
    { "0", "integer", 0 },
    { "-1", "integer", -1 },
    { "9007199254740992", "integer", 9007199254740992 },
    { "9007199254740993", "integer", 9007199254740993 },
    { "-9007199254740993", "integer", -9007199254740993 },
    { "9223372036854775807", "integer", math.maxinteger },
    { "-9223372036854775808", "integer", math.mininteger },
    { "9223372036854775808", "number" },
    { "-9223372036854775809", "number" },
    { "18446744073709551616", "number" },
    { "123456789012345678901234567890", "number" },
    { "-0", "number" },
    { "0.1", "number" },
    { "0.10", "number" },
    { "1.0", "number" },
    { "1e400", "number" },
    { "1E+2", "number" },
    { "2.5e-3", "number" },
    { "-0.0", "number" },
    { "0.00010000", "number" },
  }
  for _, c in ipairs(cases) do
    local text, kind, value = c[1], c[2], c[3]
    it(("%s decodes exactly and re-encodes to the same text"):format(text), function()
      local v = json.decode(text)
      if kind == "integer" then
        assert.equal("integer", math.type(v))
        assert.equal(value, v)
      else
        assert.equal(json.number_mt, getmetatable(v))
        assert.equal(text, v.text)
        assert.equal(text, tostring(v))
      end
      assert.equal(text, json.encode(v))
      assert.equal("[" .. text .. "]", roundtrip("[" .. text .. "]"))
    end)
  end

  it("json.number:value() converts to a Lua number", function()
    assert.equal(0.1, json.decode("0.1"):value())
    assert.equal(2^63, json.decode("9223372036854775808"):value())
    assert.equal(math.huge, json.decode("1e400"):value())
    assert.equal(100.0, json.decode("1E+2"):value())
  end)

  it("json.number objects compare by text", function()
    assert.equal(json.number("0.1"), json.decode("0.1"))
    assert.not_equal(json.number("0.10"), json.decode("0.1"))
  end)

  it("json.number(text | number) validates and formats", function()
    assert.equal("12", json.number(12).text)
    assert.equal("0.1", json.number(0.1).text)
    assert.equal("1e-7", json.encode(json.number("1e-7")))
    for _, bad in ipairs({ "01", "1.", ".5", "+1", "1e", "0x10", "NaN", "", "1 " }) do
      assert.has_error(function() json.number(bad) end)
    end
    assert.has_error(function() json.number(0 / 0) end)
  end)

  it("scaled() gives exact integers from decimals", function()
    assert.equal(10000, json.decode("0.00010000"):scaled(8))
    assert.equal(2100000000000000, json.decode("21000000.00000000"):scaled(8))
    assert.equal(-150, json.decode("-1.5"):scaled(2))
    assert.equal(100, json.decode("1E+2"):scaled(0))
    assert.equal(25, json.decode("2.5e-3"):scaled(4))
    assert.equal(0, json.decode("-0"):scaled(3))
    assert.equal(math.maxinteger, json.scaled(json.decode("9223372036854775807"), 0))
    assert.equal(1200, json.scaled(12, 2))
    assert.has_error(function() json.decode("0.123"):scaled(2) end)
    assert.has_error(function() json.decode("9223372036854775808"):scaled(0) end)
  end)

  it("opts.numbers = 'float' gives Lua floats (lossy, on request)", function()
    local v = json.decode("[0.1, 1e2, 9223372036854775808, 7]", { numbers = "float" })
    assert.equal(0.1, v[1])
    assert.equal("float", math.type(v[2]))
    assert.equal("float", math.type(v[3]))
    assert.equal("integer", math.type(v[4]))
  end)
end)

describe("json.decode strings", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  local cases = {
    { [["plain"]], "plain" },
    { [["a\nb"]], "a\nb" },
    { [["q\"q"]], 'q"q' },
    { [["b\\s"]], "b\\s" },
    { [["s\/s"]], "s/s" },
    { [["\b\f\r\t"]], "\b\f\r\t" },
    { [["nul\u0000inside"]], "nul\0inside" },
    { [["\u00e9\u20ac"]], "\xC3\xA9\xE2\x82\xAC" },
    { [["\ud83d\ude00"]], "\xF0\x9F\x98\x80" },
    { [["x\uD83D\uDE00y"]], "x\xF0\x9F\x98\x80y" },
    { [["\\\""]], '\\"' },
    { [["\\"]], "\\" },
    { '"raw \xC3\xA9"', "raw \xC3\xA9" },
    { [[""]], "" },
  }
  for _, c in ipairs(cases) do
    it(("decodes %s"):format(c[1]), function()
      assert.equal(c[2], json.decode(c[1]))
      assert.equal(c[2], json.decode("{" .. c[1] .. ":1}")[1])
    end)
  end

  it("re-encodes NUL and control characters as \\u00XX", function()
    assert.equal([["nul\u0000inside"]], json.encode("nul\0inside"))
    assert.equal('"\\u001f\127"', json.encode("\31\127"))
  end)

  -- lone surrogates: an error by default, U+FFFD with lone_surrogates = "replace"
  for _, text in ipairs({ [["\ud800"]], [["\udc00"]], [["\ud800x"]], [["\ud800\u0041"]],
                          [["\ud83d\ud83d"]] }) do
    it(("rejects the lone surrogate in %s"):format(text), function()
      local ok, err = pcall(json.decode, text)
      assert.is_false(ok)
      assert.matches("lone surrogate", err)
      local v = json.decode(text, { lone_surrogates = "replace" })
      assert.matches("\xEF\xBF\xBD", v, 1, true)
    end)
  end

  it("rejects invalid UTF-8 in the input", function()
    assert.has_error(function() json.decode('"\xff"') end)
    assert.has_error(function() json.decode('"\xC0\x80"') end)
  end)
end)

describe("json.decode structure", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("distinguishes {} and [] and keeps null", function()
    local v = json.decode('{"o":{},"a":[],"n":null,"l":[null,1,null]}')
    assert.equal(json.object_mt, getmetatable(v.o))
    assert.equal(json.array_mt, getmetatable(v.a))
    assert.equal(json.null, v.n)
    assert.equal(3, #v.l)
    assert.equal(json.null, v.l[3])
    assert.equal("object", json.type(v.o))
    assert.equal("array", json.type(v.a))
    assert.equal("null", json.type(v.n))
  end)

  it("records key order; pairs and json.keys follow it", function()
    local v = json.decode('{"z":1,"a":2,"m":{"y":1,"b":2}}')
    assert.same({ "z", "a", "m" }, json.keys(v))
    local seen = {}
    for k in pairs(v) do seen[#seen + 1] = k end
    assert.same({ "z", "a", "m" }, seen)
    v.a = nil
    v.c = 3
    v.b = 4
    assert.equal('{"z":1,"m":{"y":1,"b":2},"b":4,"c":3}', json.encode(v))
  end)

  -- duplicate member names: text, line, column, byte of the repeated name's opening quote, name
  local dups = {
    { '{"a":1,"b":2,"a":3}', 1, 14, 13, "a" },
    { '{"x":{"amount":1,\n  "amount":2}}', 2, 3, 20, "amount" },
    { '[{"k":1},{"k":1,"j":{},"k":2}]', 1, 24, 23, "k" },
    { '{"a\\u0041":1,"aA":2}', 1, 14, 13, "aA" },   -- the same name once unescaped
  }
  for _, c in ipairs(dups) do
    it(("refuses the duplicate member in %q by default"):format(c[1]), function()
      for _, opts in ipairs({ {}, { key_order = false } }) do
        local ok, err = pcall(json.decode, c[1], opts)
        assert.is_false(ok)
        assert.equal("InvalidArgument", err.code)
        assert.equal("json.decode", err.op)
        assert.equal(('json: duplicate member "%s" at line %d, column %d (byte %d)'):format(c[5], c[2], c[3], c[4]),
          err.message)
      end
    end)
  end

  it("duplicates = \"first\" keeps the first value, \"last\" the last, both at the first position", function()
    local doc = '{"a":1,"b":2,"a":{"deep":[1,{"a":0}]}}'
    for _, ko in ipairs({ true, false }) do
      assert.equal('{"a":1,"b":2}', roundtrip(doc, { duplicates = "first", key_order = ko }))
      assert.equal('{"a":{"deep":[1,{"a":0}]},"b":2}', roundtrip(doc, { duplicates = "last", key_order = ko }))
    end
    assert.same({ "a", "b" }, json.keys(json.decode(doc, { duplicates = "last" })))
    assert.has_error(function() json.decode("{}", { duplicates = "any" }) end)
  end)

  it("key_order = false skips the order (keys then sort)", function()
    assert.equal('{"a":2,"z":1}', roundtrip('{"z":1,"a":2}', { key_order = false }))
  end)

  local docs = {
    '{"hash":"00ab","height":9007199254740993,"tx":[{"v":0.00010000,"n":0},{"v":1e-8}],"x":{}}',
    '[]', '{}', '[[],{},[{}],{"":[]}]', '"s"', '1', '-0', 'true', 'false', 'null',
    '{"b":{"d":1,"c":2},"a":[1,2.50,-3e+5,null,true,false,"\\u0000\\n"]}',
    '[9223372036854775807,-9223372036854775808,9223372036854775808,1e400,0.1]',
    '{"\\u00e9":"\\ud83d\\ude00"}',
  }
  local expect = {
    ['{"\\u00e9":"\\ud83d\\ude00"}'] = '{"\xC3\xA9":"\xF0\x9F\x98\x80"}',
  }
  for _, doc in ipairs(docs) do
    it(("round trips %s exactly"):format(doc), function()
      assert.equal(expect[doc] or doc, roundtrip(doc))
      assert.equal(expect[doc] or doc, roundtrip(roundtrip(doc)))
    end)
  end

  it("whitespace is not kept, values are", function()
    assert.equal('{"a":[1,2]}', roundtrip(' {\n "a" : [ 1 ,\t2 ]\r\n} \n'))
  end)

  it("nesting to max_depth is fine, deeper is a clean error", function()
    local ok1000 = string.rep("[", 1000) .. string.rep("]", 1000)
    assert.equal(ok1000, roundtrip(ok1000))
    local ok, err = pcall(json.decode, string.rep("[", 1001) .. string.rep("]", 1001))
    assert.is_false(ok)
    assert.matches("nesting deeper than 1000", err, 1, true)
    ok, err = pcall(json.decode, string.rep('{"a":', 100000) .. "1" .. string.rep("}", 100000))
    assert.is_false(ok)
    assert.matches("nesting deeper than 1000", err, 1, true)
    ok, err = pcall(json.decode, string.rep("[", 100000))
    assert.is_false(ok)
    assert.matches("byte 1000", err, 1, true)
    local deep = string.rep("[", 5000) .. string.rep("]", 5000)
    assert.equal(deep, json.encode(json.decode(deep, { max_depth = 5000 }), { max_depth = 5000 }))
  end)
end)

describe("json.decode errors", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  -- input, line, column, byte, reason
  local cases = {
    { "[1,2", 1, 5, 4, "premature EOF" },
    { '{"a":1', 1, 7, 6, "premature EOF" },
    { '"abc', 1, 5, 4, "premature EOF" },
    { "", 1, 1, 0, "premature EOF" },
    { "[1,2] x", 1, 7, 6, "trailing garbage" },
    { "[1] [2]", 1, 5, 4, "trailing garbage" },
    { "[1,,2]", 1, 4, 3, "unallowed token" },
    { '{"a":1,\n"b":\n tru}', 3, 5, 17, "invalid string" },
    { '{"a" 1}', 1, 6, 5, "colon" },
    { "[01]", 1, 3, 2, "expect" },
    { '{"x":\n"\\ud800"}', 2, 8, 13, "lone surrogate" },
    { "\n\n   [1,\n2,]", 4, 3, 11, "unallowed token" },
    { "nul", 1, 4, 3, "invalid string" },
    { '["a\nb"]', 1, 4, 3, "invalid character inside string" },
  }
  for _, c in ipairs(cases) do
    it(("reports %q at line %d, column %d"):format(c[1], c[2], c[3]), function()
      local ok, err = pcall(json.decode, c[1])
      assert.is_false(ok)
      local want = ("json: parse error at line %d, column %d (byte %d): "):format(c[2], c[3], c[4])
      assert.equal("InvalidArgument", err.code) -- a quarry error object (docs/json.md)
      assert.equal("json.decode", err.op)
      assert.equal(want, err.message:sub(1, #want))
      assert.matches(c[5], err.message, 1, true)
    end)
  end

  it("rejects unknown options and bad option values", function()
    assert.has_error(function() json.decode("1", { max_dpeth = 3 }) end)
    assert.has_error(function() json.decode("1", { numbers = "big" }) end)
    assert.has_error(function() json.decode("1", { max_depth = 0 }) end)
  end)
end)

describe("json.encode", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  local cases = {
    { 1, "1" },
    { -0x7fffffffffffffff - 1, "-9223372036854775808" },
    { 0.1, "0.1" },
    { 1 / 3, "0.3333333333333333" },
    { 2.0, "2.0" },
    { -0.0, "-0.0" },
    { 1e300, "1e+300" },
    { 5e-324, "4.94065645841247e-324" },
    { 123456789.125, "123456789.125" },
    { "é", '"é"' },
    { "a/b", '"a/b"' },
    { true, "true" },
    { json.null, "null" },
    { nil, "null" },
    { {}, "{}" },
    { json.array(), "[]" },
    { json.object(), "{}" },
    { { 1, 2, 3 }, "[1,2,3]" },
    { { b = 1, a = 2, B = 3 }, '{"B":3,"a":2,"b":1}' },
    { table.pack(1, nil, 3), "[1,null,3]" },
    { table.pack(), "[]" },
    { json.array({ n = 2 }), "[null,null]" },
    { { a = { json.null, { x = false } } }, '{"a":[null,{"x":false}]}' },
  }
  for i, c in ipairs(cases) do
    it(("case %d encodes to %s"):format(i, c[2]), function()
      assert.equal(c[2], json.encode(c[1]))
    end)
  end

  it("floats read back to the same value", function()
    for _, d in ipairs({ 0.1, 0.2 + 0.1, math.pi, 1e-310, 2 ^ 60 + 0.0, -1.5e200, 1 / 7 }) do
      assert.equal(d, tonumber(json.encode(d)))
      assert.equal(d, json.decode(json.encode(d)):value())
    end
  end)

  local errors = {
    { 0 / 0, "NaN" },
    { math.huge, "infinity" },
    { -math.huge, "infinity" },
    { "\xff", "invalid UTF-8 at byte 0" },
    { "ok\xC3", "invalid UTF-8 at byte 2" },
    { "\xED\xA0\x80", "invalid UTF-8" }, -- an encoded surrogate
    { "\xC0\x80", "invalid UTF-8" },     -- overlong
    { { [1] = 1, [3] = 3 }, "sparse array" },
    { { 1, a = 2 }, "mixes integer and string keys" },
    { { [true] = 1 }, "key of type boolean" },
    { { [1.5] = 1 }, "key of type number" },
    { { a = { b = { print } } }, "cannot encode a function at $.a.b[1]" },
    { { x = io.stdout }, "cannot encode a userdata at $.x" },
    { setmetatable({ a = 1, [1] = "a", [5] = "b" }, json.object_mt), "key of type number" },
  }
  for i, c in ipairs(errors) do
    it(("error case %d: %s"):format(i, c[2]), function()
      local ok, err = pcall(json.encode, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end)
  end

  it("allow_invalid_utf8 passes bytes through", function()
    assert.equal('"a\xffb"', json.encode("a\xffb", { allow_invalid_utf8 = true }))
  end)

  it("detects cycles", function()
    local t = { a = {} }
    t.a.b = t
    local ok, err = pcall(json.encode, t)
    assert.is_false(ok)
    assert.matches("cycle", err)
    local arr = json.array()
    arr[1] = arr
    assert.has_error(function() json.encode(arr) end)
    -- the same table twice (not a cycle) is fine
    local shared = { 1 }
    assert.equal('{"x":[1],"y":[1]}', json.encode({ x = shared, y = shared }))
  end)

  it("indents on request", function()
    local v = json.decode('{"b":[1,{"c":[]}],"a":{}}')
    assert.equal('{\n  "b": [\n    1,\n    {\n      "c": []\n    }\n  ],\n  "a": {}\n}',
      json.encode(v, { indent = 2 }))
    assert.equal('[\n\t1\n]', json.encode({ 1 }, { indent = "\t" }))
    assert.same(v, json.decode(json.encode(v, { indent = 4 })))
  end)

  it("leaves no state behind after an error", function()
    assert.has_error(function() json.encode({ 1, 2, { 3, print } }) end)
    assert.equal("[1,2]", json.encode({ 1, 2 }))
  end)

  it("json.object records existing keys sorted", function()
    local o = json.object({ z = 1, a = 2 })
    o.m = 3
    assert.equal('{"a":2,"z":1,"m":3}', json.encode(o))
    assert.has_error(function() json.object({ 1 }) end)
  end)
end)

describe("json.lz4", function()
  it("round trips strings through the frame format", function()
    for _, s in ipairs({ "", "a", string.rep("block", 100000), json.encode({ x = 1 }) }) do
      local z = json.lz4_compress(s)
      assert.equal("\x04\x22\x4d\x18", z:sub(1, 4))
      assert.equal(s, json.lz4_decompress(z))
    end
    -- concatenated frames decompress to the concatenation
    assert.equal("abcdef", json.lz4_decompress(json.lz4_compress("abc") .. json.lz4_compress("def")))
  end)

  it("rejects corrupt and truncated frames", function()
    local z = json.lz4_compress(string.rep("x", 10000))
    assert.has_error(function() json.lz4_decompress(z:sub(1, #z - 3)) end)
    assert.has_error(function() json.lz4_decompress("not lz4 at all") end)
  end)
end)

-- 13-u256: quarry.u256, exact amounts up to 2^256-1. Every operation is checked against an
-- independent digit-string oracle (spec/bigdec_oracle.lua) on the edges (0, 2^63-1, 2^63, 2^64-1,
-- 2^64, 2^128, 2^256-1, Ethereum wei, u64 max) and a few thousand pseudo-random values; the seed
-- is 13 unless QUARRY_SPEC_SEED says otherwise, and every failure message names it.
local u256 = require("quarry.u256")
local json = require("quarry.json")
local quarry = require("quarry")
local O = require("spec.bigdec_oracle")

local SEED = math.tointeger(tonumber(os.getenv("QUARRY_SPEC_SEED") or "13"))
assert(SEED, "QUARRY_SPEC_SEED must be an integer")

-- xorshift64: the spec's own generator, so nothing else's use of math.random moves the values.
local state = SEED ~ 0x2545F4914F6CDD1D
local function rnd(n) -- 1..n
  state = state ~ (state << 13)
  state = state ~ (state >> 7)
  state = state ~ (state << 17)
  return (state >> 1) % n + 1
end

local P63, P64, P128, P256 = O.pow2(63), O.pow2(64), O.pow2(128), O.pow2(256)
local MAX = O.sub(P256, "1")
local WEI = "120000000000000000000000000" -- 1.2e26

local POW2 = { [0] = "1" }
for k = 1, 256 do POW2[k] = O.add(POW2[k - 1], POW2[k - 1]) end

local function random_value()
  while true do
    local kind, v = rnd(4), nil
    if kind == 1 then -- 1 to 20 digits: around the 63- and 64-bit limits
      local t = { tostring(rnd(9)) }
      for i = 2, rnd(20) do t[i] = tostring(rnd(10) - 1) end
      v = table.concat(t)
    elseif kind == 2 then -- 2^k - 2 .. 2^k + 2
      local p, d = POW2[rnd(257) - 1], rnd(5) - 3
      v = d >= 0 and O.add(p, tostring(d)) or O.sub(p, tostring(-d))
    else -- 1 to 78 digits
      local t = { tostring(rnd(9)) }
      for i = 2, rnd(78) do t[i] = tostring(rnd(10) - 1) end
      v = table.concat(t)
    end
    if v and O.cmp(v, MAX) <= 0 then return v end
  end
end

local EDGES = { "0", "1", "127", "128", "255", "256", "9223372036854775807", P63,
  "18446744073709551615", P64, O.sub(P128, "1"), P128, O.sub(MAX, "1"), MAX, WEI }
local VALUES = {}
for _, v in ipairs(EDGES) do VALUES[#VALUES + 1] = v end
for _ = 1, 2000 do VALUES[#VALUES + 1] = random_value() end

-- (a, b) pairs: every edge with every edge, then consecutive random values.
local PAIRS = {}
for _, a in ipairs(EDGES) do
  for _, b in ipairs(EDGES) do PAIRS[#PAIRS + 1] = { a, b } end
end
for i = #EDGES + 1, #VALUES - 1 do PAIRS[#PAIRS + 1] = { VALUES[i], VALUES[i + 1] } end

local function where(...)
  return ("seed %d: %s"):format(SEED, table.concat({ ... }, " "))
end

-- The canonical amount of a digit string, built without the module: a Lua integer below 2^63.
local function amount(v)
  if O.cmp(v, P63) < 0 then return math.tointeger(tonumber(v)) end
  return u256(v)
end

local function raises(fragment, fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, where("expected an error containing", ("%q"):format(fragment), "but the call succeeded"))
  assert(tostring(err):find(fragment, 1, true),
    where(("expected an error containing %q, got %q"):format(fragment, tostring(err))))
end

-- A result is canonical when it is a Lua integer exactly when it is below 2^63.
local function assert_canonical(expected, got, ...)
  assert.equal(expected, tostring(got), where(...))
  if O.cmp(expected, P63) < 0 then
    assert.equal("integer", math.type(got), where("a Lua integer expected for", expected, ...))
  else
    assert.is_true(u256.is(got), where("a u256 expected for", expected, ...))
  end
end

describe("the oracle", function()
  it("agrees with known values, so the module is checked against something right", function()
    assert.equal("18446744073709551616", P64)
    assert.equal("9223372036854775808", P63)
    assert.equal(tostring(math.maxinteger), O.sub(P63, "1"))
    assert.equal("340282366920938463463374607431768211456", P128)
    assert.equal("115792089237316195423570985008687907853269984665640564039457584007913129639935", MAX)
    assert.equal(tostring(123456789 * 987654321), O.mul("123456789", "987654321"))
    assert.equal("0x6342fd08f00f6378000000", O.hex(WEI))
    assert.equal("\172\2", O.leb128("300"))
    assert.equal("1.00000000", O.format("100000000", 8))
    assert.equal("0.00000001", O.format("1", 8))
  end)
end)

describe("u256 reads and writes", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("decimal, hex and json numbers, like the oracle", function()
    for _, v in ipairs(VALUES) do
      local x = u256(v)
      local hex = O.hex(v)
      assert.equal(v, tostring(x), where("tostring", v))
      assert.equal(hex, x:hex(), where("hex", v))
      assert.equal(v, tostring(u256(hex)), where("from hex", hex))
      assert.equal(v, tostring(u256("0X000" .. hex:sub(3):upper())), where("from 0X000 hex", hex))
      assert.equal(v, tostring(u256({ text = v })), where("from a table with text", v))
      assert.equal(v, tostring(u256(json.decode(v))), where("from json.decode", v))
      assert.equal(v, tostring(u256.new(v)), where("u256.new", v))
      assert_canonical(v, u256.norm(v), "norm")
      assert_canonical(v, u256.norm(x), "norm of u256")
      local int = u256.tointeger(x)
      if O.cmp(v, P63) < 0 then
        assert.equal(v, tostring(int), where("tointeger", v))
        assert.equal(v, tostring(u256(int)), where("from integer", v))
      else
        assert.is_nil(int, where("tointeger above 2^63", v))
      end
    end
  end)

  it("Ethereum wei and quantities, Rust u64 max", function()
    assert.equal("0x6342fd08f00f6378000000", u256(WEI):hex())
    assert.equal(WEI, tostring(u256("0x6342fd08f00f6378000000")))
    assert.is_true(u256("0x6342fd08f00f6378000000") == u256(WEI))
    assert.equal("0x0", u256("0x0"):hex())
    assert.equal(26, u256.norm("0x1a"))
    assert.equal("0xffffffffffffffff", u256("18446744073709551615"):hex())
    assert.equal("18446744073709551615", tostring(u256.max // u256(POW2[192])))
    assert.equal(MAX, tostring(u256.max))
    assert.equal("0", tostring(u256.zero))
  end)

  it("u256(x) and u256.new(x) give the same u256; norm gives integers below 2^63", function()
    assert.is_true(u256.is(u256(5)))
    assert.is_true(u256.is(u256.new(5)))
    assert.is_false(u256.is(5))
    assert.is_false(u256.is("5"))
    assert.equal("quarry.u256", getmetatable(u256(5)).__name)
    assert.equal(5, u256.norm(u256(5)))
    assert.equal("integer", math.type(u256.norm("0x10")))
    assert.equal(16, u256.norm("0x10"))
    assert.equal(1000, u256.norm("1e3"))
    assert.equal(1, u256.norm("1.0"))
  end)

  -- value, what the message must contain
  local refusals = {
    { -5, "u256: -5 is negative" },
    { "-5", 'u256: "-5" is negative' },
    { math.mininteger, "is negative" },
    { O.add(MAX, "1"), "u256: 1157...(78 digits) exceeds 2^256-1" },
    { "1" .. ("0"):rep(100), "(101 digits) exceeds 2^256-1" },
    { "1e78", '"1e78" exceeds 2^256-1' },
    { "0x1" .. ("0"):rep(64), "exceeds 2^256-1" },
    { "0x", '"0x" has no hex digits' },
    { "0X", '"0X" has no hex digits' },
    { "0x1g", '"0x1g" is not a hex quantity' },
    { "abc", '"abc" is not a number' },
    { "", '"" is empty' },
    { " 1", '" 1" has spaces' },
    { "1 ", '"1 " has spaces' },
    { "+1", '"+1" has a sign' },
    { "007", '"007" has leading zeros' },
    { "1.5", '"1.5" is not an integer' },
    { "1e-3", '"1e-3" is not an integer' },
    { "1.", '"1." is not a number' },
    { "1e", '"1e" is not a number' },
    { 1.5, "u256: 1.5 is a float" },
    { 2.0, "u256: 2.0 is a float" },
    { {}, "a table without a string field text" },
    { true, "a boolean is not an amount" },
  }
  for _, c in ipairs(refusals) do
    it(("refuses %s: %s"):format(type(c[1]) == "string" and ("%q"):format(c[1]:sub(1, 20))
      or tostring(c[1]), c[2]), function()
      raises(c[2], u256, c[1])
      raises(c[2], u256.new, c[1])
      raises(c[2], u256.norm, c[1])
    end)
  end
end)

describe("u256 arithmetic", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("adds, subtracts and multiplies like the oracle, raising past 2^256-1 and below zero", function()
    local seen = { add_over = 0, add = 0, sub_neg = 0, sub = 0, mul_over = 0, mul = 0 }
    for _, p in ipairs(PAIRS) do
      local a, b = p[1], p[2]
      local A, B, na, nb = u256(a), u256(b), amount(a), amount(b)
      local sum = O.add(a, b)
      if O.cmp(sum, MAX) <= 0 then
        seen.add = seen.add + 1
        assert.equal(sum, tostring(A + B), where(a, "+", b))
        assert.is_true(u256.is(na + B) and u256.is(A + nb), where("mixed", a, "+", b))
        assert.equal(sum, tostring(na + B), where("mixed", a, "+", b))
        assert.equal(sum, tostring(A + nb), where("mixed", a, "+", b))
        assert_canonical(sum, u256.add(na, nb), "u256.add", a, b)
        assert_canonical(sum, u256.add(A, B), "u256.add of u256", a, b)
      else
        seen.add_over = seen.add_over + 1
        raises("u256: overflow", function() return A + B end)
        raises("u256: overflow", u256.add, na, nb)
      end
      local diff = O.sub(a, b)
      if diff then
        seen.sub = seen.sub + 1
        assert.equal(diff, tostring(A - B), where(a, "-", b))
        assert.equal(diff, tostring(na - B), where("mixed", a, "-", b))
        assert_canonical(diff, u256.sub(na, nb), "u256.sub", a, b)
      else
        seen.sub_neg = seen.sub_neg + 1
        raises("u256: negative result (a - b with a < b)", function() return A - B end)
        raises("u256: negative result", u256.sub, na, nb)
      end
      local prod = O.mul(a, b)
      if O.cmp(prod, MAX) <= 0 then
        seen.mul = seen.mul + 1
        assert.equal(prod, tostring(A * B), where(a, "*", b))
        assert.equal(prod, tostring(A * nb), where("mixed", a, "*", b))
      else
        seen.mul_over = seen.mul_over + 1
        raises("u256: overflow", function() return A * B end)
      end
    end
    for name, n in pairs(seen) do
      assert(n >= 50, where("too few cases of", name, tostring(n)))
    end
  end)

  it("divides: q * b + r == a and r < b by the oracle", function()
    for _, p in ipairs(PAIRS) do
      local a, b = p[1], p[2]
      local A, B = u256(a), u256(b)
      if b == "0" then
        raises("u256: division by zero", function() return A // B end)
        raises("u256: division by zero", function() return A % 0 end)
      else
        local q, r = tostring(A // B), tostring(A % B)
        assert.equal(a, O.add(O.mul(q, b), r), where(a, "//", b, "=", q, "rem", r))
        assert.equal(-1, O.cmp(r, b), where(a, "%", b, "=", r))
      end
    end
  end)

  it("compares like the oracle: u256.cmp, <, <=, == on u256 and integers", function()
    for _, p in ipairs(PAIRS) do
      local a, b = p[1], p[2]
      local A, B, na, nb = u256(a), u256(b), amount(a), amount(b)
      local c = O.cmp(a, b)
      assert.equal(c, u256.cmp(A, B), where("cmp", a, b))
      assert.equal(c, u256.cmp(na, nb), where("cmp of amounts", a, b))
      assert.equal(c < 0, A < B, where(a, "<", b))
      assert.equal(c <= 0, A <= B, where(a, "<=", b))
      assert.equal(c < 0, na < B, where("mixed", a, "<", b))
      assert.equal(c <= 0, A <= nb, where("mixed", a, "<=", b))
      assert.equal(c == 0, A == B, where(a, "==", b))
    end
  end)

  it("== between a u256 and a number is false (Lua never asks __eq): use u256.cmp", function()
    assert.is_false(u256(5) == 5)
    assert.equal(0, u256.cmp(u256(5), 5))
    assert.is_true(u256(5) == u256.new("5"))
    assert.is_false(u256(5) == quarry) -- another table: no error
  end)

  it("concatenates as decimal text", function()
    assert.equal("x120000000000000000000000000", "x" .. u256(WEI))
    assert.equal("5 BTC", u256(5) .. " BTC")
    assert.equal("57", u256(5) .. 7)
    assert.equal("55", u256(5) .. u256(5))
  end)

  it("refuses operands that are not amounts", function()
    local v = u256(5)
    raises("u256: -1 is negative", function() return v + -1 end)
    raises("u256: -1 is negative", u256.add, 5, -1)
    raises("u256: -1 is negative", u256.cmp, -1, 5)
    raises("u256: 1.5 is a float", function() return v * 1.5 end)
    raises("u256: 1.5 is a float", u256.add, 1.5, 1)
    raises("a string is not an amount here", function() return v + "5" end)
    raises("a string is not an amount here", u256.sub, "5", 1)
    raises("u256: overflow", function() return u256.max + 1 end)
    raises("u256: overflow", function() return u256.max * 2 end)
    raises("u256: overflow", u256.add, u256.max, 1)
    raises("u256: negative result (a - b with a < b)", function() return u256(1) - 2 end)
    raises("u256: negative result (a - b with a < b)", u256.sub, 1, 2)
    raises("u256: division by zero", function() return v // 0 end)
    raises("u256: division by zero", function() return v % u256.zero end)
  end)

  it("u256.add on two integers returns an integer while the sum fits in 63 bits", function()
    assert.equal("integer", math.type(u256.add(5, 7)))
    assert.equal(12, u256.add(5, 7))
    assert.equal(math.maxinteger, u256.add(math.maxinteger - 1, 1))
    assert.equal(P63, tostring(u256.add(math.maxinteger, 1)))
    assert.is_true(u256.is(u256.add(math.maxinteger, 1)))
    assert.equal("integer", math.type(u256.sub(u256.add(math.maxinteger, 1), 1)))
  end)

  it("u256.add on integers makes no userdata (the migration's fast path)", function()
    collectgarbage()
    collectgarbage()
    collectgarbage("stop")
    local before = collectgarbage("count")
    local s = 0
    for i = 1, 100000 do s = u256.add(s, i) end
    local grown_kb = collectgarbage("count") - before
    collectgarbage("restart")
    assert.equal(5000050000, s)
    -- a userdata per call would be ~100,000 * 48 bytes: several MB
    assert(grown_kb < 64, ("100000 integer adds grew the heap by %.0f KB"):format(grown_kb))
  end)
end)

describe("u256 scaled decimals", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  -- text, scale, the exact integer
  local cases = {
    { "0.00012345", 8, "12345" },
    { "50.00000000", 8, "5000000000" },
    { "50", 8, "5000000000" },
    { "1e-8", 8, "1" },
    { "1E2", 8, "10000000000" },
    { "0.000000010", 8, "1" },
    { "21000000.00000000", 8, "2100000000000000" },
    { "0", 8, "0" },
    { "0.0", 0, "0" },
    { "0e-400", 8, "0" },
    { "1.5e1", 0, "15" },
    { "120000000.000000000000000000", 18, WEI },
    { "1.2e8", 18, WEI },
    { "1", 77, "1" .. ("0"):rep(77) },
  }
  for _, c in ipairs(cases) do
    it(("parses %s with scale %d as %s"):format(c[1], c[2], c[3]), function()
      assert_canonical(c[3], u256.parse(c[1], c[2]), "parse", c[1])
      assert_canonical(c[3], u256.parse(json.number(c[1]), c[2]), "parse json.number", c[1])
    end)
  end

  it("format and parse round-trip like the oracle, for every scale 0..77", function()
    for i, v in ipairs(VALUES) do
      local scale = (i - 1) % 78
      local text = O.format(v, scale)
      assert.equal(text, u256.format(u256(v), scale), where("format", v, scale))
      assert.equal(text, u256.format(amount(v), scale), where("format of amount", v, scale))
      assert_canonical(v, u256.parse(text, scale), "parse", text, scale)
      local scaled = v == "0" and "0" or v .. ("0"):rep(scale)
      if O.cmp(scaled, MAX) <= 0 then
        assert_canonical(scaled, u256.parse(v, scale), "parse integer text", v, scale)
        assert_canonical(scaled, u256.parse(amount(v), scale), "parse amount", v, scale)
      else
        raises("exceeds 2^256-1", u256.parse, v, scale)
        raises("exceeds 2^256-1", u256.parse, amount(v), scale)
      end
    end
  end)

  it("format writes exactly scale decimals", function()
    assert.equal("50.00000000", u256.format(5000000000, 8))
    assert.equal("0.00000001", u256.format(1, 8))
    assert.equal("0.00000000", u256.format(0, 8))
    assert.equal("12", u256.format(12, 0))
    assert.equal("120000000.000000000000000000", u256.format(u256(WEI), 18))
  end)

  -- arguments, what the message must contain
  local refusals = {
    { { "1.5", 0 }, 'u256.parse: "1.5" is not an integer' },
    { { "0.123456789", 8 }, 'u256.parse: "0.123456789" has more than 8 decimals' },
    { { "1e-9", 8 }, 'u256.parse: "1e-9" has more than 8 decimals' },
    { { "1e-400", 8 }, "has more than 8 decimals" },
    { { "-1", 8 }, 'u256.parse: "-1" is negative' },
    { { -1, 8 }, "u256: -1 is negative" },
    { { "1e80", 8 }, 'u256.parse: "1e80" scaled by 10^8 exceeds 2^256-1' },
    { { "0x1a", 8 }, '"0x1a" is not a decimal number' },
    { { "abc", 8 }, '"abc" is not a decimal number' },
    { { "01.5", 8 }, "has leading zeros" },
    { { 1.5, 8 }, "u256: 1.5 is a float" },
    { { "1", 78 }, "scale 78 is not in 0..77" },
    { { "1", -1 }, "scale -1 is not in 0..77" },
  }
  for _, c in ipairs(refusals) do
    it(("parse refuses %s, %s: %s"):format(tostring(c[1][1]), c[1][2], c[2]), function()
      raises(c[2], u256.parse, table.unpack(c[1]))
    end)
  end
end)

describe("u256 bytes", function()
  after_each(function()
    collectgarbage()
    collectgarbage()
  end)

  it("LEB128 like the oracle, read back from inside a string", function()
    for _, v in ipairs(VALUES) do
      local bytes = O.leb128(v)
      assert.equal(bytes, u256.leb128(u256(v)), where("leb128", v))
      assert.equal(bytes, u256.leb128(amount(v)), where("leb128 of amount", v))
      local value, nextpos = u256.read_leb128("\1\255" .. bytes .. "z", 3)
      assert_canonical(v, value, "read_leb128", v)
      assert.equal(3 + #bytes, nextpos, where("read_leb128 next position", v))
      local again = u256.read_leb128(bytes)
      assert_canonical(v, again, "read_leb128 at 1", v)
    end
  end)

  it("LEB128 below 2^64 is the store's 64-bit LEB128 (quarry.uvarint) byte for byte", function()
    local n = 0
    for _, v in ipairs(VALUES) do
      if O.cmp(v, P64) < 0 then
        -- quarry.uvarint takes the 64 bits as a Lua integer: values from 2^63 wrap to negatives
        local int = O.cmp(v, P63) < 0 and math.tointeger(tonumber(v))
          or math.mininteger + math.tointeger(tonumber(O.sub(v, P63)))
        assert.equal(quarry.uvarint(int), u256.leb128(u256(v)), where("uvarint", v))
        assert.equal(O.leb128(v), quarry.uvarint(int), where("uvarint against the oracle", v))
        n = n + 1
      end
    end
    assert(n >= 100, where("too few values below 2^64:", tostring(n)))
  end)

  it("refuses truncated, over-long and too-big LEB128", function()
    raises("u256.read_leb128: truncated encoding at position 1", u256.read_leb128, "\128")
    raises("truncated", u256.read_leb128, "")
    raises("truncated encoding at position 2", u256.read_leb128, "\1\255\255", 2)
    raises("truncated", u256.read_leb128, "\1", 2)
    raises("over-long encoding at position 1 (more than 37 bytes)", u256.read_leb128,
      ("\128"):rep(37) .. "\0")
    raises("exceeds 2^256-1", u256.read_leb128, ("\255"):rep(36) .. "\16")
    -- the largest: 36 full groups and 4 bits
    assert.equal(MAX, tostring(u256.read_leb128(("\255"):rep(36) .. "\15")))
  end)

  it("big-endian bytes like the oracle, with their minimal width", function()
    for _, v in ipairs(VALUES) do
      local x = u256(v)
      assert.equal(O.be(v, 32), u256.be(x), where("be", v))
      assert_canonical(v, u256.from_be(u256.be(x)), "from_be", v)
      local width = math.max(1, (#O.hex(v) - 1) // 2) -- hex digits, rounded up to bytes
      assert.equal(O.be(v, width), u256.be(amount(v), width), where("be", v, width))
      assert_canonical(v, u256.from_be(O.be(v, width)), "from_be minimal", v)
      if width > 1 then
        raises("does not fit in " .. (width - 1) .. " bytes", u256.be, x, width - 1)
      end
    end
    raises("u256.be: 256 does not fit in 1 bytes", u256.be, 256, 1)
    raises("u256.be: 33 bytes (1 to 32 expected)", u256.be, 1, 33)
    raises("u256.from_be: 33 bytes (1 to 32 expected)", u256.from_be, ("\0"):rep(33))
    raises("u256.from_be: 0 bytes", u256.from_be, "")
  end)
end)

-- spec/bigdec_oracle.lua: schoolbook arithmetic on decimal digit strings, the oracle the u256
-- spec checks quarry.u256 against. Values are non-negative integers written as canonical digit
-- strings ("0", "120000000000000000000000000": no sign, no leading zeros). Slow and obvious on
-- purpose: it shares nothing with the module (no limbs, no Lua integers beyond one digit's carry).
local M = {}

local byte, char, rep = string.byte, string.char, string.rep

local function strip(s)
  s = s:gsub("^0+", "")
  return s == "" and "0" or s
end
M.strip = strip

--- -1, 0 or 1 as a < b, a == b, a > b.
function M.cmp(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1 -- same length: byte order is numeric order
end

--- a + b.
function M.add(a, b)
  local out, carry = {}, 0
  local i, j = #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local d = carry + (i > 0 and byte(a, i) - 48 or 0) + (j > 0 and byte(b, j) - 48 or 0)
    out[#out + 1] = d % 10
    carry = d // 10
    i, j = i - 1, j - 1
  end
  local s = {}
  for k = #out, 1, -1 do s[#s + 1] = char(48 + out[k]) end
  return strip(table.concat(s))
end

--- a - b; nil when a < b.
function M.sub(a, b)
  if M.cmp(a, b) < 0 then return nil end
  local out, borrow = {}, 0
  local j = #b
  for i = #a, 1, -1 do
    local d = byte(a, i) - 48 - borrow - (j > 0 and byte(b, j) - 48 or 0)
    borrow = d < 0 and 1 or 0
    out[#out + 1] = d % 10
    j = j - 1
  end
  local s = {}
  for k = #out, 1, -1 do s[#s + 1] = char(48 + out[k]) end
  return strip(table.concat(s))
end

--- a * b: every digit of a times every digit of b, then the carries.
function M.mul(a, b)
  local na, nb = #a, #b
  local acc = {}
  for k = 1, na + nb do acc[k] = 0 end
  for i = 0, na - 1 do
    local da = byte(a, na - i) - 48
    if da ~= 0 then
      for j = 0, nb - 1 do
        acc[i + j + 1] = acc[i + j + 1] + da * (byte(b, nb - j) - 48)
      end
    end
  end
  local carry = 0
  for k = 1, na + nb do
    local d = acc[k] + carry
    acc[k] = d % 10
    carry = d // 10
  end
  local s = {}
  for k = na + nb, 1, -1 do s[#s + 1] = char(48 + acc[k]) end
  return strip(table.concat(s))
end

--- a divided by a small integer d (2..1000): quotient string, remainder integer.
function M.divsmall(a, d)
  local q, r = {}, 0
  for i = 1, #a do
    r = r * 10 + byte(a, i) - 48
    q[i] = char(48 + r // d)
    r = r % d
  end
  return strip(table.concat(q)), r
end

--- 2^k by doubling.
function M.pow2(k)
  local s = "1"
  for _ = 1, k do s = M.add(s, s) end
  return s
end

--- The minimal "0x" quantity (lowercase), by repeated division by 16.
function M.hex(a)
  if a == "0" then return "0x0" end
  local digits = {}
  while a ~= "0" do
    local r
    a, r = M.divsmall(a, 16)
    digits[#digits + 1] = ("0123456789abcdef"):sub(r + 1, r + 1)
  end
  return "0x" .. table.concat(digits):reverse()
end

--- Unsigned LEB128 bytes: base-128 digits, least significant first, high bit on all but the last.
function M.leb128(a)
  local out = {}
  repeat
    local r
    a, r = M.divsmall(a, 128)
    out[#out + 1] = char(a ~= "0" and (r + 128) or r)
  until a == "0"
  return table.concat(out)
end

--- n big-endian bytes (nil when a needs more).
function M.be(a, n)
  local out = {}
  for i = n, 1, -1 do
    local r
    a, r = M.divsmall(a, 256)
    out[i] = char(r)
  end
  if a ~= "0" then return nil end
  return table.concat(out)
end

--- The decimal text of a / 10^scale with exactly scale decimals ("50.00000000").
function M.format(a, scale)
  if scale == 0 then return a end
  if #a <= scale then a = rep("0", scale - #a + 1) .. a end
  return a:sub(1, #a - scale) .. "." .. a:sub(#a - scale + 1)
end

return M

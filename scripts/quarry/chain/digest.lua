-- quarry.chain.digest: a 128-bit digest of the content of column families (two independent
-- 64-bit FNV-1a-style lanes over length-framed keys and values, in key order). Equal content
-- gives equal digests; it tells databases apart in tests and tools, it is not cryptographic.
local unpack, byte, fmt = string.unpack, string.byte, string.format

local M = {}

local P1, P2 = 0x100000001b3, -7046029254386353131 -- FNV prime; 0x9E3779B97F4A7C15 (odd)
local O1, O2 = -3750763034362895579, 0x84222325cbf29ce4

-- Feeds s into both lanes, 8 bytes at a time, then its length.
local function feed(s, a, b)
  local n = #s
  local p = 1
  while p + 7 <= n do
    local w = unpack("<i8", s, p)
    a = (a ~ w) * P1
    b = (b ~ w) * P2
    b = b ~ (b >> 29)
    p = p + 8
  end
  while p <= n do
    local c = byte(s, p)
    a = (a ~ c) * P1
    b = ((b ~ c) * P2) ~ (b >> 31)
    p = p + 1
  end
  a = (a ~ n) * P1
  b = ((b ~ n) * P2) ~ (b >> 33)
  return a, b
end
M.feed = feed

local function hex(a, b) return fmt("%016x%016x", a, b) end

-- Digest of one family of db: hex string, number of keys.
function M.family(db, name)
  local a, b = feed(name, O1, O2)
  local n = 0
  for k, v in db:cf(name):pairs() do
    a, b = feed(k, a, b)
    a, b = feed(v, a, b)
    n = n + 1
  end
  a, b = feed(tostring(n), a, b)
  return hex(a, b), n
end

-- Digest of the given families (default: every family of db) -> hex, { name = hex }, { name = keys }
function M.db(db, families)
  families = families or db:column_families()
  local a, b = O1, O2
  local per, counts = {}, {}
  for _, name in ipairs(families) do
    local h, n = M.family(db, name)
    per[name], counts[name] = h, n
    a, b = feed(h, a, b)
  end
  return hex(a, b), per, counts
end

-- Digest of the six families of a chain store.
function M.store(store)
  return M.db(store.db, require("quarry.chain.codec").FAMILIES)
end

return M

-- spec/bitcoin_sha256.lua: SHA-256 in plain Lua 5.4 (64-bit integers), for the Bitcoin fixture and
-- the decoder of the recorded regtest blocks: block hashes, txids and merkle roots are real.
-- Slow and meant for specs only. Constants are derived, not typed: the first 32 bits of the
-- fractional parts of the square (H) and cube (K) roots of the first primes (FIPS 180-4).
local M = {}

local function primes(n)
  local list, k = {}, 2
  while #list < n do
    local prime = true
    for _, p in ipairs(list) do
      if p * p > k then break end
      if k % p == 0 then prime = false; break end
    end
    if prime then list[#list + 1] = k end
    k = k + 1
  end
  return list
end

-- floor(frac(p^(1/root)) * 2^32): a double carries about 50 fractional bits here, enough for
-- the 32 kept; spec/76 checks the result against the FIPS 180-4 test vectors.
local function frac_bits(p, root)
  local x = p ^ (1 / root)
  return math.floor((x - math.floor(x)) * 2 ^ 32) & 0xffffffff
end

local P = primes(64)
local H0, K = {}, {}
for i = 1, 8 do H0[i] = frac_bits(P[i], 2) end
for i = 1, 64 do K[i] = frac_bits(P[i], 3) end

local MASK = 0xffffffff
local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & MASK end

--- The 32-byte SHA-256 digest of string msg.
function M.sha256(msg)
  local len = #msg
  msg = msg .. "\128" .. string.rep("\0", (55 - len) % 64) .. string.pack(">I8", len * 8)
  local h1, h2, h3, h4, h5, h6, h7, h8 = table.unpack(H0)
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 1, 16 do w[i] = string.unpack(">I4", msg, chunk + (i - 1) * 4) end
    for i = 17, 64 do
      local a, b = w[i - 15], w[i - 2]
      local s0 = rotr(a, 7) ~ rotr(a, 18) ~ (a >> 3)
      local s1 = rotr(b, 17) ~ rotr(b, 19) ~ (b >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & MASK
    end
    local a, b, c, d, e, f, g, h = h1, h2, h3, h4, h5, h6, h7, h8
    for i = 1, 64 do
      local S1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
      local ch = (e & f) ~ (~e & g)
      local t1 = (h + S1 + ch + K[i] + w[i]) & MASK
      local S0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & MASK
      h, g, f, e, d, c, b, a = g, f, e, (d + t1) & MASK, c, b, a, (t1 + t2) & MASK
    end
    h1, h2, h3, h4 = (h1 + a) & MASK, (h2 + b) & MASK, (h3 + c) & MASK, (h4 + d) & MASK
    h5, h6, h7, h8 = (h5 + e) & MASK, (h6 + f) & MASK, (h7 + g) & MASK, (h8 + h) & MASK
  end
  return string.pack(">I4I4I4I4I4I4I4I4", h1, h2, h3, h4, h5, h6, h7, h8)
end

--- SHA-256 applied twice (Bitcoin's hash for headers, txids and merkle nodes).
function M.dsha256(msg) return M.sha256(M.sha256(msg)) end

function M.tohex(s) return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end)) end
function M.fromhex(h)
  assert(#h % 2 == 0 and not h:find("[^0-9a-fA-F]"), "not hex")
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end
--- Bitcoin's display order of a 32-byte hash: the bytes reversed, in hex.
function M.display(hash) return M.tohex(hash:reverse()) end

return M

-- quarry.cli.format: the command's human formatting, one function per kind of figure: byte
-- counts, elapsed times (progress bars) and latencies (metrics reports).
local M = {}

local UNITS = { "B", "KiB", "MiB", "GiB", "TiB" }

--- Human byte count: "812 B", "1.5 KiB", "12.4 MiB"; "?" for nil.
function M.bytes(n)
  if n == nil then return "?" end
  local i, v = 1, n
  while v >= 1024 and i < #UNITS do v, i = v / 1024, i + 1 end
  if i == 1 then return ("%d B"):format(n) end
  return ("%.1f %s"):format(v, UNITS[i])
end

--- Elapsed or remaining seconds as a clock: "4:07", "1:02:03"; "?" for nil, NaN or infinity.
function M.duration(s)
  if s == nil or s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%d:%02d:%02d"):format(s // 3600, s % 3600 // 60, s % 60) end
  return ("%d:%02d"):format(s // 60, s % 60)
end

--- A latency in seconds with the unit that reads best: "12.5 us", "3.20 ms", "1.50 s"; "?" for nil.
function M.latency(s)
  if s == nil then return "?" end
  if s < 1e-3 then return ("%.1f us"):format(s * 1e6) end
  if s < 1 then return ("%.2f ms"):format(s * 1e3) end
  return ("%.2f s"):format(s)
end

return M

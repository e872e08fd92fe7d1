-- spec/fuzz/http.lua: the request-head parser of `quarry serve` (quarry.cli.metrics.http) on any
-- bytes, with small limits so that they are reached: it returns a request, asks for more, or
-- refuses with 400, 414 or 431, never raises; the same bytes fed in two pieces (split where the
-- input's first byte says) and byte by byte give the same answer; want() stays within the limits.
local http = require("quarry.cli.metrics.http")

local LIMITS = { max_request_line = 64, max_header_bytes = 256, max_headers = 8 }
local STATUSES = { [400] = true, [414] = true, [431] = true }

local function bug(fmt, ...) error("FUZZ-BUG: " .. fmt:format(...), 0) end

-- Feeds the pieces; returns a comparable string of the answer.
local function answer(pieces)
  local p = http.parser(LIMITS)
  local req, status
  for _, piece in ipairs(pieces) do
    local want = p:want()
    if want < 1 or want > LIMITS.max_request_line + 2 + LIMITS.max_header_bytes then
      bug("want() = %d", want)
    end
    local ok, a, b = pcall(p.feed, p, piece)
    if not ok then bug("feed raised %s", tostring(a)) end
    req, status = a, b
    if req ~= nil then break end
  end
  if req == nil then return "more" end
  if req == false then
    if not STATUSES[status] then bug("status %s", tostring(status)) end
    return "status " .. status
  end
  if type(req) ~= "table" or type(req.method) ~= "string" or type(req.target) ~= "string" then
    bug("not a request: %s", tostring(req))
  end
  if req.header_count > LIMITS.max_headers then bug("%d headers", req.header_count) end
  local names = {}
  for k, v in pairs(req.headers) do names[#names + 1] = k .. "=" .. v end
  table.sort(names)
  return ("request %s %s %s [%s]"):format(req.method, req.target, req.version, table.concat(names, "|"))
end

return function(data)
  local whole = answer({ data })
  local k = #data > 0 and data:byte(1) % (#data + 1) or 0
  local two = answer({ data:sub(1, k), data:sub(k + 1) })
  if two ~= whole then bug("split at %d: %s, whole: %s", k, two, whole) end
  local bytes = {}
  for i = 1, #data do bytes[i] = data:sub(i, i) end
  local each = answer(bytes)
  if each ~= whole then bug("byte by byte: %s, whole: %s", each, whole) end
end

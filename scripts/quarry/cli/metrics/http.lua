-- quarry.cli.metrics.http: an incremental HTTP/1.x request-head parser with bounded buffers (the
-- request line, the headers' count and bytes), no socket in it: `quarry serve` feeds it. docs/metrics.md.
local M = {}

M.DEFAULTS = { max_request_line = 8192, max_header_bytes = 16384, max_headers = 100 }

-- token characters of RFC 9110 (method, header names)
local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"

local Parser = {}
Parser.__index = Parser

--- A parser for one request head. limits: max_request_line (bytes of the request line without
--- its line end), max_header_bytes (bytes of the header section after the request line, line ends
--- and the final empty line included), max_headers (header lines); M.DEFAULTS fill what is missing.
function M.parser(limits)
  limits = limits or {}
  local p = setmetatable({
    max_line = limits.max_request_line or M.DEFAULTS.max_request_line,
    max_bytes = limits.max_header_bytes or M.DEFAULTS.max_header_bytes,
    max_headers = limits.max_headers or M.DEFAULTS.max_headers,
    buf = "",        -- the bytes of the current, unfinished line
    phase = "line",  -- "line" (request line), "headers", "done", "error"
    header_bytes = 0, -- header bytes of the finished header lines
    req = nil,
  }, Parser)
  return p
end

local function fail(p, status, why)
  p.phase, p.status, p.why, p.buf = "error", status, why, ""
  return false, status, why
end

-- The request line: METHOD SP TARGET SP HTTP/1.x. Returns true or fails.
local function request_line(p, line)
  local method, target, version = line:match("^(%S+) (%S+) HTTP/(%d%.%d)$")
  if not method or not method:match(TOKEN) then return fail(p, 400, "malformed request line") end
  if target:find("[%c\128-\255]") then return fail(p, 400, "malformed request target") end
  if version ~= "1.1" and version ~= "1.0" then
    return fail(p, 400, "unsupported HTTP version " .. version)
  end
  p.req = { method = method, target = target, version = version, headers = {}, header_count = 0 }
  p.phase = "headers"
  return true
end

-- One header line (nbytes: with its line end); the empty line ends the head.
local function header_line(p, line, nbytes)
  p.header_bytes = p.header_bytes + nbytes
  if p.header_bytes > p.max_bytes then
    return fail(p, 431, "headers over " .. p.max_bytes .. " bytes")
  end
  if line == "" then
    p.phase = "done"
    return true
  end
  local req = p.req
  req.header_count = req.header_count + 1
  if req.header_count > p.max_headers then
    return fail(p, 431, "more than " .. p.max_headers .. " header lines")
  end
  local name, value = line:match("^([^:]*):[ \t]*(.-)[ \t]*$")
  if not name or not name:match(TOKEN) then return fail(p, 400, "malformed header line") end
  if value:find("[\0-\8\10-\31\127]") then return fail(p, 400, "malformed header value") end
  name = name:lower()
  local had = req.headers[name]
  req.headers[name] = had and (had .. ", " .. value) or value
  return true
end

-- What an unfinished line of n bytes already decides: n bytes that cannot end within the limit.
local function check_partial(p)
  local n = #p.buf
  if p.phase == "line" then
    -- the line end may still be CRLF: max_line + 1 bytes can still become a valid line
    if n > p.max_line + 1 then return fail(p, 414, "request line over " .. p.max_line .. " bytes") end
  elseif p.header_bytes + n > p.max_bytes then
    return fail(p, 431, "headers over " .. p.max_bytes .. " bytes")
  end
  return nil
end

--- Feeds the next bytes of the connection. Returns the request {method, target, version,
--- headers = {lower-case name = value (repeated headers joined with ", ")}, header_count} once the
--- head is complete; nil while more bytes are needed; false, status (400, 414 or 431), reason when
--- the head is refused. Once finished, further calls return the same answer; the bytes after the
--- head (a body, a pipelined request) are ignored. The result does not depend on how the bytes
--- are split between calls, and the parser never holds more than its limits plus one call's bytes.
function Parser:feed(data)
  if self.phase == "done" then return self.req end
  if self.phase == "error" then return false, self.status, self.why end
  local buf, pos = self.buf .. data, 1
  while true do
    local lf = buf:find("\n", pos, true)
    if not lf then break end
    local nbytes = lf - pos + 1
    local last = lf - 1 -- the line without its LF, nor the CR before it
    if last >= pos and buf:byte(last) == 13 then last = last - 1 end
    local line = buf:sub(pos, last)
    pos = lf + 1
    if self.phase == "line" then
      if #line > self.max_line then
        return fail(self, 414, "request line over " .. self.max_line .. " bytes")
      end
      if line == "" then return fail(self, 400, "empty request line") end
      if line:find("\r", 1, true) then return fail(self, 400, "bare CR in the request line") end
      if not request_line(self, line) then return false, self.status, self.why end
    else
      if line:find("\r", 1, true) then
        self.header_bytes = self.header_bytes + nbytes
        if self.header_bytes > self.max_bytes then
          return fail(self, 431, "headers over " .. self.max_bytes .. " bytes")
        end
        return fail(self, 400, "bare CR in a header line")
      end
      if not header_line(self, line, nbytes) then return false, self.status, self.why end
      if self.phase == "done" then
        self.buf = ""
        return self.req
      end
    end
  end
  self.buf = buf:sub(pos)
  local refused, status, why = check_partial(self)
  if refused == false then return false, status, why end
  return nil
end

--- How many more bytes the parser can take before it must decide (at least 1): a reader that
--- asks for no more than this never buffers more than the limits.
function Parser:want()
  if self.phase == "line" then return math.max(1, self.max_line + 2 - #self.buf) end
  if self.phase == "headers" then return math.max(1, self.max_bytes + 1 - self.header_bytes - #self.buf) end
  return 1
end

M.REASONS = {
  [200] = "OK", [400] = "Bad Request", [404] = "Not Found", [405] = "Method Not Allowed",
  [408] = "Request Timeout", [414] = "URI Too Long", [431] = "Request Header Fields Too Large",
  [500] = "Internal Server Error", [503] = "Service Unavailable",
}

--- The bytes of a response: status line, headers (Content-Length, Connection: close and the
--- extra "Name: value" strings), then body unless head_only.
function M.response(code, ctype, body, head_only, extra)
  local lines = {
    ("HTTP/1.1 %d %s"):format(code, M.REASONS[code] or "Error"),
    "Content-Type: " .. ctype,
    "Content-Length: " .. #body,
    "Cache-Control: no-store",
    "Connection: close",
  }
  for _, h in ipairs(extra or {}) do lines[#lines + 1] = h end
  return table.concat(lines, "\r\n") .. "\r\n\r\n" .. (head_only and "" or body)
end

return M

-- quarry chain block|tx|history|logs|tip: queries of an account-chain store (quarry.chain.account.query)
-- from the command line, read-only, each as readable text or one JSON document (--output json,
-- also spelled --json). docs/tools.md, "chain".
local cli = require("quarry.cli")

local M = { summary = "query an account-chain store: blocks, transactions, address history, eth_getLogs filters" }

local TAGS = { latest = true, earliest = true, pending = true, safe = true, finalized = true }

-- A block number argument: decimal digits, a 0x quantity or a tag (checked again by the query).
local function height(s)
  if s:match("^%d+$") then
    local n = math.tointeger(tonumber(s))
    if n then return n end
  elseif TAGS[s] or s:match("^0x%x+$") then
    return s
  end
  return nil, ("a block number (decimal or 0x hex) or latest, earliest, pending, safe, finalized expected, got '%s'"):format(s)
end

local function count(s)
  local n = math.tointeger(tonumber(s))
  if not n or n < 1 then return nil, ("a positive integer expected, got '%s'"):format(s) end
  return n
end

local function common(c)
  c:option("--db", "The account-chain store directory (opened read-only)"):count(1)
  cli.output_option(c)
  c:flag("--json", "The same as --output json")
end

local function parser()
  local p = cli.parser("chain", M.summary)
  p:command_target("command")
  p:require_command(true)
  local b = p:command("block", "A block by number, tag or hash, as eth_getBlockByNumber/Hash returns it")
  common(b)
  b:argument("block", "A number (decimal or 0x hex), latest, earliest, pending, or a 0x block hash")
  b:flag("--full", "With the transaction objects instead of their hashes (eth_getBlockByNumber(n, true))")
  local t = p:command("tx", "A transaction with its receipt")
  common(t)
  t:argument("hash", "The 0x transaction hash")
  local h = p:command("history", "The transactions of an address (sender, recipient, created contract), a page at a time")
  common(h)
  h:argument("address", "The 0x address (40 hex digits)")
  h:option("--from", "Lowest block (number, 0x hex or tag; default the first)"):convert(height)
  h:option("--to", "Highest block (default latest)"):convert(height)
  h:flag("--newest-first", "Newest transaction first (default oldest first)")
  h:option("--limit", "Entries per page", "100"):convert(count)
  h:option("--after", "The cursor a previous page printed: continue right after its last entry")
  h:flag("--transactions", "Include each transaction object (JSON output)")
  local l = p:command("logs", "Logs by an eth_getLogs filter, in chain order")
  common(l)
  l:option("--from", "fromBlock: number, 0x hex or tag (default latest)"):convert(height)
  l:option("--to", "toBlock (default latest)"):convert(height)
  l:option("--block-hash", "blockHash: the logs of this block only (instead of --from/--to)")
  l:option("--address", "An emitting address; repeat for any of several"):count("*")
  for i = 0, 3 do
    l:option("--topic" .. i, ("Topic position %d: a 0x topic, or several separated by commas (any of them)")
      :format(i))
  end
  l:option("--filter", "The whole filter as eth_getLogs's JSON object (instead of the options above), - for stdin")
  l:option("--max-results", "Refuse a query returning more logs than this", "10000"):convert(count)
  l:flag("--explain", "Also print which index was read and how many entries (on stderr)")
  local s = p:command("tip", "The store's highest block, its hash and counts")
  common(s)
  return p
end

local function usage(msg)
  cli.fail("chain", msg)
  return cli.EXIT_USAGE
end

-- The filter of the logs options, as eth_getLogs's JSON object.
local function logs_filter(args)
  local json = require("quarry.json")
  local jv = require("quarry.chain.jsonvalue")
  if args.filter then
    if args.from or args.to or args.block_hash or #args.address > 0 or args.topic0 or args.topic1
      or args.topic2 or args.topic3 then
      return nil, "--filter gives the whole filter: not with --from, --to, --block-hash, --address or --topicN"
    end
    local text = args.filter
    if text == "-" then text = io.read("a") end
    local ok, f = pcall(json.decode, text)
    if not ok then return nil, "--filter: not JSON: " .. tostring(f.message or f) end
    return f
  end
  local f = jv.object()
  if args.from ~= nil then jv.set(f, "fromBlock", args.from) end
  if args.to ~= nil then jv.set(f, "toBlock", args.to) end
  if args.block_hash then jv.set(f, "blockHash", args.block_hash) end
  if #args.address == 1 then jv.set(f, "address", args.address[1])
  elseif #args.address > 1 then jv.set(f, "address", json.array(args.address)) end
  local last = -1
  for i = 0, 3 do if args["topic" .. i] then last = i end end
  if last >= 0 then
    local topics = json.array()
    for i = 0, last do
      local t = args["topic" .. i]
      if t == nil or t == "" or t == "any" then topics[i + 1] = json.null
      elseif t:find(",", 1, true) then
        local list = json.array()
        for one in t:gmatch("[^,]+") do list[#list + 1] = one end
        topics[i + 1] = list
      else topics[i + 1] = t end
    end
    jv.set(f, "topics", topics)
  end
  return f
end

---------------------------------------------------------------------------------------------------
-- Readable output
---------------------------------------------------------------------------------------------------

-- A 0x quantity in decimal (exact: quarry.u256), or the value as it is.
local function dec(x)
  if type(x) ~= "string" or not x:match("^0[xX]%x+$") then return tostring(x) end
  return tostring(require("quarry.u256").norm(x))
end

local function line(fmt, ...) io.stdout:write(fmt:format(...), "\n") end

local function text_block(b, full)
  line("block %s  %s", dec(b.number), tostring(b.hash))
  line("  parent     %s", tostring(b.parentHash))
  if b.timestamp then
    local t = require("quarry.u256").norm(b.timestamp)
    line("  time       %s (%s UTC)", tostring(t), math.type(t) == "integer" and os.date("!%Y-%m-%d %H:%M:%S", t) or "?")
  end
  if b.miner then line("  miner      %s", b.miner) end
  if b.gasUsed then line("  gas        %s used of %s", dec(b.gasUsed), dec(b.gasLimit)) end
  local list = type(b.transactions) == "table" and b.transactions or {}
  line("  %d transaction%s", #list, #list == 1 and "" or "s")
  for i, tx in ipairs(list) do
    if full and type(tx) == "table" then
      line("  %4d  %s  %s -> %s  %s wei", i - 1, tostring(tx.hash), tostring(tx.from),
        tx.to == nil or tx.to == require("quarry.json").null and "(create)" or tostring(tx.to), dec(tx.value))
    else
      line("  %4d  %s", i - 1, tostring(tx))
    end
  end
end

local function text_logs(list, indent, number)
  for _, log in ipairs(list) do
    local topics = type(log.topics) == "table" and log.topics or {}
    local head = ("%s%8s %5s  %s  "):format(indent or "", log.blockNumber and dec(log.blockNumber) or number or "?",
      dec(log.logIndex), tostring(log.address))
    line("%s%s  tx %s", head, topics[1] and tostring(topics[1]) or "(no topics)", tostring(log.transactionHash))
    for i = 2, #topics do line("%s%s", (" "):rep(#head), tostring(topics[i])) end
  end
end

local function text_tx(r)
  local json = require("quarry.json")
  local tx, rc = r.transaction, r.receipt
  line("transaction %s", tostring(tx.hash))
  line("  block      %d (%s), index %d", r.block_number, tostring(tx.blockHash), r.transaction_index)
  line("  from       %s", tostring(tx.from))
  line("  to         %s", (tx.to == nil or tx.to == json.null) and "(contract creation)" or tostring(tx.to))
  if tx.value then line("  value      %s wei", dec(tx.value)) end
  if tx.nonce then line("  nonce      %s", dec(tx.nonce)) end
  if rc == json.null then
    line("  receipt    none (the block came without receipts)")
    return
  end
  line("  status     %s", rc.status and (rc.status == "0x1" and "success (0x1)" or "failed (" .. tostring(rc.status) .. ")") or "?")
  if rc.gasUsed then line("  gas used   %s", dec(rc.gasUsed)) end
  if rc.contractAddress and rc.contractAddress ~= json.null then line("  created    %s", rc.contractAddress) end
  local logs = type(rc.logs) == "table" and rc.logs or {}
  line("  %d log%s", #logs, #logs == 1 and "" or "s")
  text_logs(logs, "  ", tostring(r.block_number))
end

local function text_history(page)
  line("%s: %d transaction%s, blocks %s..%s, %s first", page.address, #page.entries,
    #page.entries == 1 and "" or "s", tostring(page.from), tostring(page.to), page.order)
  for _, e in ipairs(page.entries) do
    line("%10d %5d  %-14s %s", e.block_number, e.transaction_index, table.concat(e.roles, ","), e.hash)
  end
  if page.cursor ~= require("quarry.json").null then
    line("more: --after %s", page.cursor)
  end
end

---------------------------------------------------------------------------------------------------
-- Subcommands
---------------------------------------------------------------------------------------------------

local function emit_json(v)
  io.stdout:write(require("quarry.json").encode(v), "\n")
end

local commands = {}

function commands.block(q, args)
  local b = q:block(height(args.block) or args.block, args.full)
  if b == nil then
    cli.fail("chain", ("block %s: not in the store"):format(args.block))
    return cli.EXIT_FAILED
  end
  if args.output == "json" then emit_json(b) else text_block(b, args.full) end
  return cli.EXIT_OK
end

function commands.tx(q, args)
  local r = q:tx(args.hash)
  if r == nil then
    cli.fail("chain", ("transaction %s: not in the store"):format(args.hash))
    return cli.EXIT_FAILED
  end
  if args.output == "json" then emit_json(r) else text_tx(r) end
  return cli.EXIT_OK
end

function commands.history(q, args)
  local page = q:history(args.address, { from = args.from, to = args.to,
    order = args.newest_first and "newest" or "oldest", limit = args.limit, after = args.after,
    transactions = args.transactions or nil })
  if args.output == "json" then emit_json(page) else text_history(page) end
  return cli.EXIT_OK
end

function commands.logs(q, args, filter)
  local list, e = q:logs(filter, { max_results = args.max_results })
  if args.explain then
    io.stderr:write(("quarry chain logs: read %s%s (%d value%s), %s entries\n"):format(e.index,
      e.position and (" position " .. e.position) or "", e.values, e.values == 1 and "" or "s",
      tostring(e.candidates)))
  end
  if args.output == "json" then emit_json(list)
  else
    text_logs(list)
    line("%d log%s", #list, #list == 1 and "" or "s")
  end
  return cli.EXIT_OK
end

function commands.tip(q, args)
  local st = q:state()
  if args.output == "json" then emit_json(st or require("quarry.json").null); return cli.EXIT_OK end
  if not st or st.tip == nil or st.tip == require("quarry.json").null then
    line("%s: no blocks yet", args.db)
  else
    local c = st.counts or {}
    line("%s: tip %d %s; %s blocks, %s transactions, %s receipts, %s logs (receipts: %s)", args.db,
      st.tip, tostring(st.tip_hash), tostring(c.blocks), tostring(c.txs), tostring(c.receipts),
      tostring(c.logs), tostring(st.receipts))
  end
  return cli.EXIT_OK
end

-- Checks the arguments that need no store: bad hex and bad filters are usage errors (exit 2).
local function check_args(args)
  local keys = require("quarry.chain.account.keys")
  local query = require("quarry.chain.account.query")
  local filter
  local ok, err = pcall(function()
    if args.command == "tx" then keys.hash(args.hash, "hash") end
    if args.command == "block" and not height(args.block) then
      keys.hash(args.block, "block (a number, a tag or a 0x hash of 64 hex digits)")
    end
    if args.command == "history" then
      keys.address(args.address, "address")
      if args.from and args.to and math.type(args.from) == "integer" and math.type(args.to) == "integer"
        and args.from > args.to then
        error(("--from (%d) is above --to (%d)"):format(args.from, args.to), 0)
      end
    end
    if args.command == "logs" then
      if math.type(args.from) == "integer" and math.type(args.to) == "integer" and args.from > args.to then
        error(("--from (%d) is above --to (%d)"):format(args.from, args.to), 0)
      end
      local f, ferr = logs_filter(args)
      if not f then error(ferr, 0) end
      query.parse_filter(f)
      filter = f
    end
  end)
  if not ok then return nil, tostring(err) end
  return true, filter
end

function M.run(argv)
  local args, status = cli.parse(parser(), argv)
  if not args then return status end
  if args.json then args.output = "json" end
  local ok, filter = check_args(args)
  if not ok then return usage(filter) end
  local q <close> = require("quarry.chain.account.query").open(args.db)
  return commands[args.command](q, args, filter)
end

return M

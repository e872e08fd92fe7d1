-- quarry.chain.account.verify: the checks of an account-chain store (docs/account-chain.md,
-- "Verify"): every index both ways (each entry points at a real row and every row has its
-- entries), the counts of the state, and with a source every record against the dump. Bounded
-- memory: the forward checks look each expected entry up, the reverse ones walk each index and
-- look its row up; nothing is collected across blocks.
local json = require("quarry.json")
local keys = require("quarry.chain.account.keys")
local account = require("quarry.chain.account")

local decode, encode = json.decode, json.encode
local M = {}

M.CHECKS = {
  { "state", "the meta state is an account-chain state" },
  { "blocks", "heights base..tip, each block's parentHash is the previous block's hash" },
  { "hashes", "hashes <-> blocks, both ways" },
  { "txs", "txs <-> the transactions of the blocks (height, index, hash), both ways" },
  { "receipts", "receipts <-> transactions: one per transaction of a block with receipts, both ways" },
  { "addr_txs", "addr_txs <-> the from, to and created addresses of every transaction, both ways" },
  { "logs", "logs_by_address and logs_by_topic <-> the logs of every receipt, both ways" },
  { "counts", "blocks, txs, receipts and logs equal the state's counts" },
}
local base = require("quarry.chain.verify")
local new_report, fail = function() return base._new_report(M.CHECKS) end, base._fail

local hex = keys.hex

-- One block: its row, hashes entry, transactions, receipts and their index entries (forward).
local function check_block(st, h, v)
  local r, cf = st.r, st.cf
  local okd, block = pcall(decode, v)
  if not okd or type(block) ~= "table" then
    fail(r, "blocks", "block %d: the value is not JSON (%s)", h, tostring(block))
    return
  end
  local okh, hash = pcall(keys.hash, block.hash, "hash")
  if not okh then fail(r, "blocks", "block %d: %s", h, hash) return end
  local hv = cf.hashes:get(hash)
  if hv == nil then fail(r, "hashes", "block %d: its hash %s has no hashes entry", h, block.hash)
  elseif keys.height_of_hash_value(hv) ~= h then
    fail(r, "hashes", "block %d: the hashes entry of %s points at height %d", h, block.hash, keys.height_of_hash_value(hv))
  end
  if st.prev_hash then
    local okp, parent = pcall(keys.hash, block.parentHash, "parentHash")
    if not okp or parent ~= st.prev_hash then
      fail(r, "blocks", "block %d: parentHash %s is not the hash of block %d (%s)", h, tostring(block.parentHash),
        h - 1, hex(st.prev_hash))
    end
  end
  st.prev_hash = hash
  local txs = block.transactions
  if type(txs) ~= "table" then fail(r, "blocks", "block %d: no transactions array", h) return end
  local with_receipts
  for i = 1, #txs do
    local okt, th = pcall(keys.hash, txs[i], "transaction hash")
    if not okt then fail(r, "txs", "block %d tx %d: %s", h, i - 1, th) goto next end
    do
      local tv = cf.txs:get(th)
      if tv == nil then fail(r, "txs", "block %d tx %d (%s): no txs row", h, i - 1, txs[i]) goto next end
      local th_h, th_i, text = keys.decode_tx_value(tv)
      local tx = decode(text)
      if th_h ~= h or th_i ~= i - 1 then
        fail(r, "txs", "block %d tx %d (%s): the txs row says height %d index %d", h, i - 1, txs[i], th_h, th_i)
      end
      if tx.hash ~= txs[i] then
        fail(r, "txs", "block %d tx %d: the txs row's hash %s is not %s", h, i - 1, tostring(tx.hash), txs[i])
      end
      st.ntxs = st.ntxs + 1
      local rv = cf.receipts:get(th)
      if with_receipts == nil then with_receipts = rv ~= nil end
      local rc
      if rv then
        rc = decode(rv)
        st.nreceipts = st.nreceipts + 1
        if rc.transactionHash ~= nil and keys.raw(rc.transactionHash, 32, "transactionHash") ~= th then
          fail(r, "receipts", "block %d tx %d: the receipt's transactionHash %s is not %s", h, i - 1,
            tostring(rc.transactionHash), txs[i])
        end
      end
      if (rv ~= nil) ~= with_receipts then
        fail(r, "receipts", "block %d tx %d (%s): %s, unlike transaction 0 of its block", h, i - 1, txs[i],
          rv and "has a receipt" or "has no receipt")
      end
      local oki, at, logs = pcall(account.index_entries, h, i - 1, tx, rc)
      if not oki then fail(r, "addr_txs", "block %d tx %d: %s", h, i - 1, tostring(at)) goto next end
      for _, e in ipairs(at) do
        st.naddr = st.naddr + 1
        local got = cf.addr_txs:get(e[1])
        if got ~= e[2] then
          local addr = keys.decode_addr_tx_key(e[1])
          fail(r, "addr_txs", "block %d tx %d (%s): the entry of address %s is %s", h, i - 1, txs[i], hex(addr),
            got and ("wrong (" .. keys.hex(got) .. ")") or "missing")
        end
      end
      for _, e in ipairs(logs) do
        if e[1] == "logs_by_address" then st.nlogs = st.nlogs + 1 end
        st.nlogentries[e[1]] = st.nlogentries[e[1]] + 1
        local got = cf[e[1]]:get(e[2])
        if got ~= e[3] then
          fail(r, "logs", "block %d tx %d (%s): a %s entry (%s) is %s", h, i - 1, txs[i], e[1], hex(e[2]),
            got and "wrong" or "missing")
        end
      end
    end
    ::next::
  end
end

-- Reverse: every row of an index points at a real row that gives it.
local function reverse_hashes(st)
  local cf, r = st.cf, st.r
  local n = 0
  for k, v in cf.hashes:pairs() do
    n = n + 1
    local h = keys.height_of_hash_value(v)
    local bv = cf.blocks:get(keys.block_key(h))
    if bv == nil then fail(r, "hashes", "hash %s points at height %d: no such block", hex(k), h)
    else
      local b = decode(bv)
      if keys.hash(b.hash, "hash") ~= k then
        fail(r, "hashes", "hash %s points at block %d, whose hash is %s", hex(k), h, tostring(b.hash))
      end
    end
  end
  if n ~= st.nblocks then fail(r, "hashes", "%d hashes entries for %d blocks", n, st.nblocks) end
end

local function tx_at(cf, h, i)
  local bv = cf.blocks:get(keys.block_key(h))
  if bv == nil then return nil end
  local b = decode(bv)
  return b.transactions and b.transactions[i + 1]
end

local function reverse_txs(st)
  local cf, r = st.cf, st.r
  local n = 0
  for k, v in cf.txs:pairs() do
    n = n + 1
    local h, i = keys.decode_tx_value(v)
    local want = tx_at(cf, h, i)
    if want == nil or keys.hash(want, "transaction hash") ~= k then
      fail(r, "txs", "txs row %s says block %d index %d, which is %s", hex(k), h, i, tostring(want or "missing"))
    end
  end
  if n ~= st.ntxs then fail(r, "txs", "%d txs rows for %d transactions in the blocks", n, st.ntxs) end
  local nr = 0
  for k in cf.receipts:pairs({ keys_only = true }) do
    nr = nr + 1
    if cf.txs:get(k) == nil then fail(r, "receipts", "receipt %s has no transaction", hex(k)) end
  end
  if nr ~= st.nreceipts then fail(r, "receipts", "%d receipts rows for %d receipts of the blocks", nr, st.nreceipts) end
end

-- The transaction and receipt of a tx hash, decoded (nil when missing).
local function tx_and_receipt(cf, th)
  local tv = cf.txs:get(th)
  if tv == nil then return nil end
  local h, i, text = keys.decode_tx_value(tv)
  local rv = cf.receipts:get(th)
  return h, i, decode(text), rv and decode(rv) or nil
end

local function reverse_addr_txs(st)
  local cf, r = st.cf, st.r
  local n = 0
  for k, v in cf.addr_txs:pairs() do
    n = n + 1
    local addr, h, i = keys.decode_addr_tx_key(k)
    local th = keys.decode_addr_tx_value(v)
    local th_h, th_i, tx, rc = tx_and_receipt(cf, th)
    if th_h ~= h or th_i ~= i then
      fail(r, "addr_txs", "entry of %s at block %d index %d names tx %s, %s", hex(addr), h, i, hex(th),
        th_h and ("which is at block " .. th_h .. " index " .. th_i) or "which is not in txs")
    else
      local found = false
      for _, e in ipairs((account.index_entries(h, i, tx, rc))) do
        if e[1] == k then found = e[2] == v end
      end
      if not found then
        fail(r, "addr_txs", "entry of %s at block %d index %d: not an address of tx %s with these roles", hex(addr),
          h, i, hex(th))
      end
    end
  end
  if n ~= st.naddr then fail(r, "addr_txs", "%d addr_txs entries for %d addresses of the transactions", n, st.naddr) end
end

local function reverse_logs(st, family)
  local cf, r = st.cf, st.r
  local n = 0
  for k, v in cf[family]:pairs() do
    n = n + 1
    local th, pos = keys.decode_log_value(v)
    local h, i, tx, rc = tx_and_receipt(cf, th)
    local found = false
    if rc then
      local _, logs = account.index_entries(h, i, tx, rc)
      for _, e in ipairs(logs) do
        if e[1] == family and e[2] == k then found = e[3] == v end
      end
    end
    if not found then
      fail(r, "logs", "%s entry %s names log %d of tx %s, which does not give it", family, hex(k), pos, hex(th))
    end
  end
  if n ~= st.nlogentries[family] then
    fail(r, "logs", "%d %s entries for %d expected from the receipts", n, family, st.nlogentries[family])
  end
end

-- Source: every record of the dump equals the stored record of its height (JSON values: member
-- order, text), and the store has no other record.
local function compare_source(st, source)
  local store, r = st.store, st.r
  local n = 0
  while true do
    local rec = source.next(source)
    if rec == nil then break end
    local expect = (store.base or 0) + n
    n = n + 1
    local got = store:record(expect)
    if got == nil then
      fail(r, "source", "record %d of the source (height %d): not in the store", n - 1, expect)
    elseif source.compare_record then
      local d = source.compare_record(rec, got)
      if d then fail(r, "source", "block %d: %s", expect, d) end
    else
      local a, b = encode(rec), encode(got)
      if a ~= b then
        local p = 1
        while p <= #a and a:byte(p) == b:byte(p) do p = p + 1 end
        fail(r, "source", "block %d: the stored record differs from the source at byte %d: source %q, store %q",
          expect, p - 1, a:sub(math.max(1, p - 20), p + 40), b:sub(math.max(1, p - 20), p + 40))
      end
    end
    if st.progress then st.progress(expect, store.tip_height) end
  end
  if n ~= st.nblocks then
    fail(r, "source", "the source has %d records, the store %d blocks", n, st.nblocks)
  end
end

-- verify.run(store [, options]) -> report { ok, checks, order, summary, format }
-- options: source (a dump reader: next() gives records; compare_record(token, record) when it
-- gives digests instead), progress(height, tip).
function M.run(store, options)
  options = options or {}
  local r = new_report()
  if options.source then
    r.checks.source = { name = "source", what = "every record equals the source's, value for value", ok = true,
      failures = 0, first = {} }
    r.order[#r.order + 1] = "source" -- after the checks of the store, as quarry.chain.verify's
  end
  local st = { store = store, cf = store.cf, r = r, nblocks = 0, ntxs = 0, nreceipts = 0, naddr = 0, nlogs = 0,
    nlogentries = { logs_by_address = 0, logs_by_topic = 0 }, progress = options.progress }
  if store.state == nil then
    if store.cf.blocks:get(keys.block_key(0)) or require("quarry.chain").first_key(store.cf.blocks) then
      fail(r, "state", "blocks without a meta state")
    end
  elseif store.state.layout ~= keys.LAYOUT then
    fail(r, "state", "the state's layout is %s", tostring(store.state.layout))
  end
  -- blocks in key order: heights contiguous from base to tip
  local expect = store.base
  for k, v in store.cf.blocks:pairs() do
    local h = keys.height_of_block_key(k)
    if expect and h ~= expect then
      fail(r, "blocks", "height %d follows %d: heights must be contiguous", h, expect - 1)
      st.prev_hash = nil
    end
    expect = h + 1
    st.nblocks = st.nblocks + 1
    check_block(st, h, v)
    if st.progress and not options.source then st.progress(h, store.tip_height) end
  end
  if store.tip_height and expect ~= store.tip_height + 1 then
    fail(r, "blocks", "the last block is %s, the state's tip %d", tostring(expect and expect - 1), store.tip_height)
  end
  reverse_hashes(st)
  reverse_txs(st)
  reverse_addr_txs(st)
  reverse_logs(st, "logs_by_address")
  reverse_logs(st, "logs_by_topic")
  local c = store.counts
  for _, p in ipairs({ { "blocks", st.nblocks }, { "txs", st.ntxs }, { "receipts", st.nreceipts }, { "logs", st.nlogs } }) do
    if c[p[1]] ~= p[2] then fail(r, "counts", "the state counts %d %s, the store holds %d", c[p[1]], p[1], p[2]) end
  end
  if options.source then compare_source(st, options.source) end
  r.summary = store:stats()
  r.format = keys.FORMAT
  r.layout = keys.LAYOUT
  r.not_verified = keys.NOT_VERIFIED
  return r
end

-- verify.format(report) -> the report as lines of text (quarry.chain.verify.format).
M.format = function(r) return base.format(r) end

return M

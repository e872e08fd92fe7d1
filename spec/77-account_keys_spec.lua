-- 77-account_keys: the account-chain store's encodings (quarry.chain.account.keys) against the
-- table of docs/account-chain.md, each key and value built here byte by byte with string.pack
-- and string.char from the hex digits (not through keys.lua), so a change of an encoding fails
-- here before a store written by it is read by another version.
local keys = require("quarry.chain.account.keys")

local unhex = require("spec.account_fixture").unhex -- an independent hex decoder

local H1 = "0x" .. ("ab"):rep(16) .. ("0F"):rep(16) -- mixed case, as a node may write it
local A1 = "0x" .. ("12"):rep(20)
local T1 = "0x" .. ("00"):rep(31) .. "ff"

describe("account keys: hex", function()
  it("reads hashes, addresses and topics of either case into their raw bytes", function()
    assert.are.equal(unhex(H1), keys.hash(H1))
    assert.are.equal(32, #keys.hash(H1))
    assert.are.equal(unhex(A1), keys.address(A1))
    assert.are.equal(20, #keys.address(A1))
    assert.are.equal(unhex(T1), keys.topic(T1))
    assert.are.equal(H1:lower(), keys.hex(keys.hash(H1)))
  end)

  it("refuses wrong lengths, missing 0x and non-hex digits, naming the value", function()
    local cases = {
      { A1, "address" }, -- 20 bytes as a hash
      { "0x" .. ("ab"):rep(33), "too long" },
      { ("ab"):rep(32), "no 0x" },
      { "0x" .. ("zz"):rep(32), "non-hex" },
      { 12, "a number" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(keys.hash, c[1], "block 7 hash")
      assert.is_false(ok, c[2])
      assert.matches("^block 7 hash must be 0x followed by 64 hex digits %(32 bytes%), got", err, nil, c[2])
    end
    local ok, err = pcall(keys.address, H1, "transaction 0x01 from")
    assert.is_false(ok)
    assert.matches("transaction 0x01 from must be 0x followed by 40 hex digits %(20 bytes%)", err)
  end)

  it("tells quantities and data apart, and reads small quantities as integers", function()
    assert.are.equal(0, keys.quantity("0x0"))
    assert.are.equal(0x1b4, keys.quantity("0x1B4"))
    assert.are.equal(math.maxinteger, keys.quantity("0x7fffffffffffffff"))
    assert.are.equal(5, keys.quantity("0x00000000000000000005"))
    for _, bad in ipairs({ "0x", "0x8000000000000000", "12", "0xg", "" }) do
      local ok, err = pcall(keys.quantity, bad, "block number")
      assert.is_false(ok, bad)
      assert.matches("^block number must be a 0x hex quantity below 2%^63, got", err)
    end
    assert.is_true(keys.is_quantity("0x" .. ("f"):rep(64))) -- a 256-bit wei amount
    assert.is_false(keys.is_quantity("0x"))
    assert.is_true(keys.is_data("0x"))
    assert.is_true(keys.is_data("0xA9059cbb"))
    assert.is_false(keys.is_data("0xabc"))
  end)
end)

describe("account keys: the families", function()
  local hash, addr, topic = unhex(H1), unhex(A1), unhex(T1)

  it("blocks and hashes: 8-byte big-endian heights, sorting in chain order", function()
    assert.are.equal("\0\0\0\0\0\1\2\3", keys.block_key(0x010203))
    assert.are.equal(0x010203, keys.height_of_block_key("\0\0\0\0\0\1\2\3"))
    assert.is_true(keys.block_key(255) < keys.block_key(256))
    assert.are.equal(hash, keys.hash_key(hash))
    assert.are.equal("\0\0\0\0\0\0\1\0", keys.hash_value(256))
    assert.are.equal(256, keys.height_of_hash_value("\0\0\0\0\0\0\1\0"))
  end)

  it("txs: height, index, then the JSON text", function()
    local v = keys.tx_value(0x0102, 3, '{"a":1}')
    assert.are.equal("\0\0\0\0\0\0\1\2" .. "\0\0\0\3" .. '{"a":1}', v)
    local h, i, text = keys.decode_tx_value(v)
    assert.are.same({ 0x0102, 3, '{"a":1}' }, { h, i, text })
  end)

  it("addr_txs: address, height, index -> tx hash and role bits", function()
    local k = keys.addr_tx_key(addr, 9, 2)
    assert.are.equal(addr .. string.pack(">I8", 9) .. string.pack(">I4", 2), k)
    assert.are.equal(32, #k)
    local a, h, i = keys.decode_addr_tx_key(k)
    assert.are.same({ addr, 9, 2 }, { a, h, i })
    local v = keys.addr_tx_value(hash, keys.ROLE_FROM | keys.ROLE_CREATED)
    assert.are.equal(hash .. "\5", v)
    local th, roles = keys.decode_addr_tx_value(v)
    assert.are.same({ hash, 5 }, { th, roles })
    -- chain order inside one address: (height, index) as the bytes sort
    assert.is_true(keys.addr_tx_key(addr, 1, 300) < keys.addr_tx_key(addr, 2, 0))
  end)

  it("log indexes: address or topic and position, height, logIndex -> tx hash and position", function()
    local k = keys.log_address_key(addr, 7, 65536)
    assert.are.equal(addr .. "\0\0\0\0\0\0\0\7" .. "\0\1\0\0", k)
    assert.are.same({ addr, 7, 65536 }, { keys.decode_log_address_key(k) })
    local kt = keys.log_topic_key(topic, 3, 7, 1)
    assert.are.equal(topic .. "\3" .. "\0\0\0\0\0\0\0\7" .. "\0\0\0\1", kt)
    assert.are.same({ topic, 3, 7, 1 }, { keys.decode_log_topic_key(kt) })
    local v = keys.log_value(hash, 4)
    assert.are.equal(hash .. "\0\0\0\4", v)
    assert.are.same({ hash, 4 }, { keys.decode_log_value(v) })
  end)

  it("meta: the state with the documented members in order", function()
    local text = keys.meta_value({ tip = 5, tip_hash = H1, counts = { blocks = 6, txs = 2, receipts = 2,
      logs = 1 }, receipts = "all" })
    assert.are.equal('{"layout":"account-chain","format":"ethereum-rpc","tip":5,"tip_hash":"' .. H1 ..
      '","counts":{"blocks":6,"txs":2,"receipts":2,"logs":1},"receipts":"all","verified":' ..
      '"hashes taken as given: no RLP or Keccak recomputation"}', text)
    assert.are.equal(5, keys.decode_meta(text).tip)
    assert.matches('"tip":null', keys.meta_value({}))
  end)

  it("refuses values of the wrong size as corrupt, naming the family", function()
    local ok, err = pcall(keys.decode_addr_tx_value, "short")
    assert.is_false(ok)
    assert.matches("corrupt addr_txs value", err)
    ok, err = pcall(keys.decode_tx_value, "x")
    assert.is_false(ok)
    assert.matches("corrupt txs value", err)
  end)
end)

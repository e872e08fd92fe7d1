-- 23-chain-docs: every public function of quarry.chain (module, store, group) and of its
-- migrate / verify / digest modules, of quarry.chain.account (store, group, keys, migrate,
-- verify, export) and of quarry.chain.account.query has a heading in docs/chain-api.md.
local helpers = require("spec.helpers")

local function headings()
  local text = assert(helpers.read_file("docs/chain-api.md"), "docs/chain-api.md is missing")
  local set = {}
  for line in text:gmatch("[^\n]+") do
    local name = line:match("^### ([%w_%.:]+)%(")
    if name then set[name] = true end
  end
  return set
end

local function public_functions(prefix, t, out)
  for name, v in pairs(t) do
    if type(v) == "function" and type(name) == "string" and not name:match("^_") then
      out[#out + 1] = prefix .. name
    end
  end
end

describe("chain docs", function()
  it("have a heading for every public function", function()
    local chain = require("quarry.chain")
    local names = {}
    public_functions("chain.", chain, names)
    public_functions("chain:", chain.Store, names)
    public_functions("group:", chain.Group, names)
    public_functions("migrate.", require("quarry.chain.migrate"), names)
    public_functions("verify.", require("quarry.chain.verify"), names)
    public_functions("digest.", require("quarry.chain.digest"), names)
    public_functions("formats.", require("quarry.chain.formats"), names)
    local account = require("quarry.chain.account")
    public_functions("account.", account, names)
    public_functions("account:", account.Store, names)
    public_functions("account_group:", account.Group, names)
    public_functions("account.migrate.", require("quarry.chain.account.migrate"), names)
    public_functions("account.verify.", require("quarry.chain.account.verify"), names)
    public_functions("account.export.", require("quarry.chain.account.export"), names)
    public_functions("keys.", require("quarry.chain.account.keys"), names)
    public_functions("layout.", require("quarry.chain.layout"), names)
    public_functions("export.", require("quarry.chain.export"), names)
    public_functions("plugin.", require("quarry.chain.plugin"), names)
    local query = require("quarry.chain.account.query")
    public_functions("query.", query, names)
    public_functions("q:", query.Query, names)
    public_functions("fastgroup.", require("quarry.chain.fastgroup"), names)
    local have = headings()
    local missing = {}
    for _, n in ipairs(names) do
      if not have[n] then missing[#missing + 1] = n end
    end
    table.sort(missing)
    assert.same({}, missing)
    assert.is_true(#names > 30)
  end)
end)

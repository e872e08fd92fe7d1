-- 38-restore_staging: the leftovers of issue 15. json.writer's messages carry their prefix once.
local helpers = require("spec.helpers")

local q = helpers.shell_quote

local function sh(cmd)
  assert(os.execute(cmd) == true, "failed: " .. cmd)
end

describe("json.writer's messages", function()
  local json = require("quarry.json")

  it("carry their prefix once", function()
    local dir = helpers.tmpdir("writer-msg")
    sh("ln -s " .. q(dir .. "/nowhere") .. " " .. q(dir .. "/link.json"))
    local ok, err = pcall(json.writer, dir .. "/link.json")
    assert.is_false(ok)
    assert.are.equal("json.writer", err.op)
    assert.is_nil(err.message:find("json.writer", 1, true), err.message)
    local s = tostring(err)
    assert(s:find("^quarry: json%.writer: " .. dir:gsub("%p", "%%%0") .. "/link%.json is a symbolic link"), s)
    ok, err = pcall(json.writer, dir .. "/x.json", { format = "csv" })
    assert.is_false(ok)
    assert.are.equal("option format: \"array\", \"object\" or \"jsonl\"", err.message)
    local w = json.writer(dir .. "/x.json")
    w:close()
    ok, err = pcall(w.write, w, 1)
    assert.is_false(ok)
    assert.are.equal("Closed", err.code)
    assert.are.equal("quarry: json.writer: the writer is closed", tostring(err))
    -- and the command says it once, without the op
    local code, _, stderr = helpers.run_quarry({ "gen", "--blocks", "3", "--out", dir .. "/link.json" })
    assert.are.equal(2, code)
    assert(stderr:find("^quarry gen: " .. dir:gsub("%p", "%%%0") .. "/link%.json is a symbolic link"), stderr)
    assert.is_nil(stderr:find("json.writer", 1, true), stderr)
    helpers.rmrf(dir)
  end)
end)

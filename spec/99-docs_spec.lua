-- 99-docs: every public Lua name has a heading in docs/*.md and the presets table in
-- docs/lua-api.md matches the module (scripts/docscov.lua does the check).
local helpers = require("spec.helpers")

describe("docs", function()
  after_each(helpers.collect_and_cleanup)

  it("document every function of the module and every method of every handle", function()
    local ok, out, err = helpers.run_lua_script("scripts/docscov.lua")
    assert(ok, "scripts/docscov.lua failed:\n" .. err .. out)
    assert.matches("names documented", out)
  end)

  it("the check fails on an undocumented name", function()
    -- docs from an empty directory: every name is missing, so the check must fail
    local ok, _, err = helpers.run_lua_script("scripts/docscov.lua", {},
      { QUARRY_DOCS_DIR = helpers.tmpdir("nodocs") })
    assert.is_false(ok)
    assert.matches("db:get", err, 1, true)
    assert.matches("quarry.open", err, 1, true)
  end)
end)

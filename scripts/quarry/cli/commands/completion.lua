-- quarry completion bash|zsh: prints the shell completion, generated from the commands' parsers.
local cli = require("quarry.cli")

local M = { summary = "print the bash or zsh completion of quarry (generated from the commands' own options)" }

function M.run(argv)
  local p = cli.parser("completion", M.summary)
  p:argument("shell", "bash or zsh"):choices({ "bash", "zsh" })
  p:epilog("bash: `source <(quarry completion bash)`; zsh: put `quarry completion zsh` as _quarry in "
    .. "$fpath. CMake installs both (share/bash-completion/completions/quarry, share/zsh/site-functions/_quarry).")
  local args, status = cli.parse(p, argv)
  if not args then return status end
  io.stdout:write(require("quarry.cli.docs_gen")[args.shell]())
  return cli.EXIT_OK
end

return M

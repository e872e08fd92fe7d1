-- quarry.cli.docs_gen: the man page (quarry.1) and the bash and zsh completions, generated from
-- the argparse parsers of the commands themselves (cli.parse in capture mode), so they cannot
-- drift from what the commands accept. `quarry man`, `quarry completion bash|zsh`; CMake runs them
-- at build time and installs the results; spec/45 regenerates and compares.
local cli = require("quarry.cli")

local M = {}

local CAPTURED = {}

-- The options of an argparse parser: { names, takes_value, choices, doc }, hidden ones left out.
local function options_of(p)
  local list = {}
  for _, o in ipairs(p._options) do
    if not o._hidden then
      list[#list + 1] = { names = o._aliases, takes_value = (o._maxargs or 0) > 0,
        choices = o._choices, doc = o._description or "" }
    end
  end
  return list
end

local function commands_of(p)
  local list = {}
  for _, c in ipairs(p._commands or {}) do
    if not c._hidden then
      list[#list + 1] = { name = c._name, summary = c._summary or c._description or "",
        options = options_of(c) }
    end
  end
  return list
end

-- The parsers a command builds: run(argv) with cli.parse capturing instead of parsing.
local function capture(mod)
  local got = {}
  cli._capture = function(p) got[#got + 1] = p end
  local out, err = io.stdout, io.stderr
  local null = io.open("/dev/null", "w")
  io.output(null)
  local function quiet(argv)
    local saved = io.stderr
    io.stderr = null
    pcall(mod.run, argv)
    io.stderr = saved
  end
  quiet({})
  for _, name in ipairs(mod.order or {}) do quiet({ name }) end
  cli._capture = nil
  io.output(out)
  io.stderr = err
  null:close()
  return got
end

--- Every command's arguments: { {name, summary, options, commands} } in `quarry --help` order.
function M.describe()
  local list = {}
  for _, name in ipairs(cli.commands) do
    local ok, mod = pcall(require, "quarry.cli.commands." .. name)
    if ok and mod then
      local entry = { name = name, summary = mod.summary or "", options = {}, commands = {} }
      local seen = {}
      for _, p in ipairs(capture(mod)) do
        for _, o in ipairs(options_of(p)) do
          if not seen[o.names[1]] then seen[o.names[1]] = true; entry.options[#entry.options + 1] = o end
        end
        for _, c in ipairs(commands_of(p)) do
          if not seen[" " .. c.name] then seen[" " .. c.name] = true; entry.commands[#entry.commands + 1] = c end
        end
      end
      if #entry.options == 0 then -- a command that parses by hand declares its options
        for _, o in ipairs(mod.options or {}) do
          entry.options[#entry.options + 1] = { names = o.names, takes_value = o.takes_value or false,
            choices = o.choices, doc = o.doc }
        end
      end
      list[#list + 1] = entry
    end
  end
  return list
end

-- ---- man page ----------------------------------------------------------------------------------
local function roff(text)
  text = tostring(text):gsub("\\", "\\e"):gsub("%-", "\\-")
  return (text:gsub("\n([.'])", "\n\\&%1"):gsub("^([.'])", "\\&%1"))
end

local function man_options(buf, options)
  for _, o in ipairs(options) do
    local names = {}
    for _, n in ipairs(o.names) do names[#names + 1] = "\\fB" .. roff(n) .. "\\fR" end
    local head = table.concat(names, ", ")
    if o.takes_value then
      head = head .. " \\fI" .. (o.choices and roff(table.concat(o.choices, "|")) or "VALUE") .. "\\fR"
    end
    buf[#buf + 1] = ".TP\n" .. head .. "\n" .. roff(o.doc)
  end
end

function M.man()
  local q = require("quarry")
  local buf = {
    '.TH QUARRY 1 "" "quarry ' .. q.version .. '" "User Commands"',
    ".SH NAME", "quarry \\- move a blockchain JSON dump into RocksDB, verify it, inspect and serve the store",
    ".SH SYNOPSIS", ".B quarry", "\\fICOMMAND\\fR [\\fIOPTIONS\\fR]", ".br",
    ".B quarry help", "[\\fICOMMAND\\fR [\\fISUBCOMMAND\\fR]]",
    ".SH DESCRIPTION",
    roff("Each command documents itself with `quarry help COMMAND`. Machine output: --output json "
      .. "(one JSON document on stdout). Every command that opens a database takes the tuning "
      .. "flags --db-OPTION (over the QUARRY_DB_OPTION environment variables, over the preset) "
      .. "and --print-options. Exit status: 0 success, 1 a failed check or operation, 2 bad usage."),
    ".SH COMMANDS",
  }
  for _, c in ipairs(M.describe()) do
    buf[#buf + 1] = ".SS quarry " .. roff(c.name)
    buf[#buf + 1] = roff(c.summary)
    man_options(buf, c.options)
    for _, s in ipairs(c.commands) do
      buf[#buf + 1] = ".TP\n\\fBquarry " .. roff(c.name .. " " .. s.name) .. "\\fR\n" .. roff(s.summary)
      buf[#buf + 1] = ".RS"
      man_options(buf, s.options)
      buf[#buf + 1] = ".RE"
    end
  end
  buf[#buf + 1] = ".SH ENVIRONMENT"
  for _, t in ipairs(cli.tuning_list()) do
    buf[#buf + 1] = ".TP\n\\fB" .. roff(cli.tuning_env(t.name)) .. "\\fR\n" .. roff(t.doc)
  end
  buf[#buf + 1] = ".SH SEE ALSO\ndocs/tools.md, docs/shell.md, docs/metrics.md, docs/lua-api.md"
  return table.concat(buf, "\n") .. "\n"
end

-- ---- bash --------------------------------------------------------------------------------------
local function words(options)
  local w = {}
  for _, o in ipairs(options) do for _, n in ipairs(o.names) do w[#w + 1] = n end end
  return table.concat(w, " ")
end

local function bash_choices(buf, key, options)
  for _, o in ipairs(options) do
    if o.choices then
      for _, n in ipairs(o.names) do
        buf[#buf + 1] = ("    %s:%s) COMPREPLY=($(compgen -W %q -- \"$cur\")); return ;;")
          :format(key, n, table.concat(o.choices, " "))
      end
    end
  end
end

function M.bash()
  local list = M.describe()
  local names = { "help" }
  for _, c in ipairs(list) do names[#names + 1] = c.name end
  local buf = {
    "# bash completion for quarry (generated by quarry.cli.docs_gen: `quarry completion bash`)",
    "_quarry() {",
    '  local cur="${COMP_WORDS[COMP_CWORD]}" prev="${COMP_WORDS[COMP_CWORD-1]}"',
    '  local cmd="${COMP_WORDS[1]}" sub="${COMP_WORDS[2]}" opts=""',
    "  if [ \"$COMP_CWORD\" -eq 1 ]; then",
    ('    COMPREPLY=($(compgen -W "%s --help --version" -- "$cur")); return'):format(table.concat(names, " ")),
    "  fi",
    '  case "$cmd:$prev" in',
  }
  for _, c in ipairs(list) do
    bash_choices(buf, c.name, c.options)
    for _, s in ipairs(c.commands) do bash_choices(buf, c.name, s.options) end
  end
  buf[#buf + 1] = "  esac"
  buf[#buf + 1] = '  case "$cmd" in'
  for _, c in ipairs(list) do
    if #c.commands > 0 then
      local subs = {}
      for _, s in ipairs(c.commands) do subs[#subs + 1] = s.name end
      buf[#buf + 1] = ("    %s) case \"$sub\" in"):format(c.name)
      for _, s in ipairs(c.commands) do
        buf[#buf + 1] = ("      %s) opts=%q ;;"):format(s.name, words(s.options))
      end
      buf[#buf + 1] = ("      *) opts=%q ;;"):format(table.concat(subs, " ") .. " " .. words(c.options))
      buf[#buf + 1] = "    esac ;;"
    else
      buf[#buf + 1] = ("    %s) opts=%q ;;"):format(c.name, words(c.options))
    end
  end
  buf[#buf + 1] = ('    help) opts=%q ;;'):format(table.concat(names, " ", 2))
  buf[#buf + 1] = "  esac"
  buf[#buf + 1] = '  COMPREPLY=($(compgen -W "$opts" -- "$cur"))'
  buf[#buf + 1] = "}"
  buf[#buf + 1] = "complete -o default -F _quarry quarry"
  return table.concat(buf, "\n") .. "\n"
end

-- ---- zsh ---------------------------------------------------------------------------------------
local function zq(text)
  return (tostring(text):gsub("[%[%]:'\\`$]", ""):gsub("\n", " "):sub(1, 120))
end

local function zsh_args(buf, indent, options)
  local specs = {}
  for _, o in ipairs(options) do
    for _, n in ipairs(o.names) do
      local spec = "'" .. n .. "[" .. zq(o.doc) .. "]"
      if o.takes_value then
        spec = spec .. ":" .. zq(n:gsub("^%-+", "")) .. ":"
          .. (o.choices and ("(" .. table.concat(o.choices, " ") .. ")") or "_files")
      end
      specs[#specs + 1] = indent .. "  " .. spec .. "'"
    end
  end
  buf[#buf + 1] = indent .. "_arguments -s \\"
  buf[#buf + 1] = table.concat(specs, " \\\n") .. (#specs > 0 and " \\\n" or "") .. indent .. "  '*:file:_files'"
end

function M.zsh()
  local list = M.describe()
  local buf = {
    "#compdef quarry",
    "# zsh completion for quarry (generated by quarry.cli.docs_gen: `quarry completion zsh`)",
    "_quarry() {",
    "  local -a commands",
    "  commands=(",
    "    'help:print the help of a command'",
  }
  for _, c in ipairs(list) do buf[#buf + 1] = ("    '%s:%s'"):format(c.name, zq(c.summary)) end
  buf[#buf + 1] = "  )"
  buf[#buf + 1] = "  if (( CURRENT == 2 )); then _describe 'command' commands; return; fi"
  buf[#buf + 1] = "  local cmd=$words[2]"
  buf[#buf + 1] = "  shift words; (( CURRENT-- ))"
  buf[#buf + 1] = "  case $cmd in"
  for _, c in ipairs(list) do
    buf[#buf + 1] = "    " .. c.name .. ")"
    if #c.commands > 0 then
      buf[#buf + 1] = "      if (( CURRENT == 2 )); then"
      local subs = {}
      for _, s in ipairs(c.commands) do subs[#subs + 1] = ("'%s:%s'"):format(s.name, zq(s.summary)) end
      buf[#buf + 1] = "        local -a subs; subs=(" .. table.concat(subs, " ") .. ")"
      buf[#buf + 1] = "        _describe 'subcommand' subs"
      buf[#buf + 1] = "        if [[ $cmd != bench ]]; then return; fi"
      buf[#buf + 1] = "      fi"
      buf[#buf + 1] = "      case $words[2] in"
      for _, s in ipairs(c.commands) do
        buf[#buf + 1] = "        " .. s.name .. ")"
        zsh_args(buf, "          ", s.options)
        buf[#buf + 1] = "          ;;"
      end
      buf[#buf + 1] = "        *)"
      zsh_args(buf, "          ", c.options)
      buf[#buf + 1] = "          ;;"
      buf[#buf + 1] = "      esac"
    else
      zsh_args(buf, "      ", c.options)
    end
    buf[#buf + 1] = "      ;;"
  end
  buf[#buf + 1] = "    help) _describe 'command' commands ;;"
  buf[#buf + 1] = "  esac"
  buf[#buf + 1] = "}"
  buf[#buf + 1] = '_quarry "$@"'
  return table.concat(buf, "\n") .. "\n"
end

return M

/* l_signal.c: the quarry.signals type, sys.catch_signals: SIGINT/SIGTERM (...) caught into a self-pipe, so a Lua
 * accept loop (quarry serve) can wait on the pipe with socket.select and shut down cleanly. */
#include "lsys.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#define QL_SIGNALS "quarry.signals"

static const struct {
  const char *name;
  int sig;
} known[] = {
  {"INT", SIGINT}, {"TERM", SIGTERM}, {"HUP", SIGHUP}, {"QUIT", SIGQUIT},
  {"USR1", SIGUSR1}, {"USR2", SIGUSR2},
};
#define N_KNOWN (sizeof known / sizeof known[0])

/* One catcher per process: signal dispositions are process-wide. */
static int pipe_fds[2] = {-1, -1};

typedef struct {
  int active; /* 0 once closed */
  int caught[N_KNOWN];
  struct sigaction old[N_KNOWN];
} ql_signals;

static void on_signal(int sig) {
  int saved = errno;
  unsigned char c = (unsigned char)sig;
  if (pipe_fds[1] >= 0 && write(pipe_fds[1], &c, 1) < 0) {
    /* the pipe is full: a byte is already waiting, nothing is lost */
  }
  errno = saved;
}

static const char *name_of(int sig) {
  size_t i;
  for (i = 0; i < N_KNOWN; i++)
    if (known[i].sig == sig)
      return known[i].name;
  return "?";
}

static ql_signals *tosignals(lua_State *L) {
  return (ql_signals *)luaL_checkudata(L, 1, QL_SIGNALS);
}

static void restore(ql_signals *s) {
  size_t i;
  if (!s->active)
    return;
  s->active = 0;
  for (i = 0; i < N_KNOWN; i++)
    if (s->caught[i])
      sigaction(known[i].sig, &s->old[i], NULL);
  close(pipe_fds[0]);
  close(pipe_fds[1]);
  pipe_fds[0] = pipe_fds[1] = -1;
}

/* sys.catch_signals([names]) -> catcher. names: {"INT", "TERM"} by default. */
static int l_catch_signals(lua_State *L) {
  ql_signals *s;
  struct sigaction sa;
  size_t i;
  lua_settop(L, 1);
  if (!lua_isnil(L, 1))
    luaL_checktype(L, 1, LUA_TTABLE);
  s = (ql_signals *)lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, QL_SIGNALS);
  if (pipe_fds[0] >= 0)
    return ql_raisef(L, QUARRY_EBUSY, "catch_signals",
                     "signals are already caught in this process; close that catcher first");
  if (lua_isnil(L, 1)) {
    s->caught[0] = s->caught[1] = 1; /* INT, TERM */
  } else {
    lua_Integer k, n = (lua_Integer)lua_rawlen(L, 1);
    for (k = 1; k <= n; k++) {
      const char *name;
      int found = 0;
      if (lua_rawgeti(L, 1, k) != LUA_TSTRING)
        return ql_raisef(L, QUARRY_EINVAL, "catch_signals", "signal names must be strings");
      name = lua_tostring(L, -1);
      if (strncmp(name, "SIG", 3) == 0)
        name += 3;
      for (i = 0; i < N_KNOWN; i++)
        if (strcmp(known[i].name, name) == 0)
          s->caught[i] = found = 1;
      if (!found)
        return ql_raisef(L, QUARRY_EINVAL, "catch_signals",
                         "unknown signal '%s' (INT, TERM, HUP, QUIT, USR1, USR2)",
                         lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK) != 0) {
    pipe_fds[0] = pipe_fds[1] = -1;
    return ql_raisef(L, QUARRY_EIO, "catch_signals", "pipe: %s", strerror(errno));
  }
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  s->active = 1;
  for (i = 0; i < N_KNOWN; i++)
    if (s->caught[i])
      sigaction(known[i].sig, &sa, &s->old[i]);
  return 1;
}

/* catcher:getfd() -> the pipe's read end (socket.select waits on it). */
static int sig_getfd(lua_State *L) {
  ql_signals *s = tosignals(L);
  lua_pushinteger(L, s->active ? pipe_fds[0] : -1);
  return 1;
}

/* catcher:dirty() -> false (socket.select asks; nothing is buffered on our side). */
static int sig_dirty(lua_State *L) {
  tosignals(L);
  lua_pushboolean(L, 0);
  return 1;
}

/* catcher:caught() -> name of a signal received since the last call ("INT", ...), or nil. */
static int sig_caught(lua_State *L) {
  ql_signals *s = tosignals(L);
  unsigned char buf[64];
  ssize_t n;
  int first = 0;
  if (!s->active)
    return ql_closed(L, QL_SIGNALS, "caught", 0);
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0)
    if (!first)
      first = buf[0];
  if (first == 0)
    lua_pushnil(L);
  else
    lua_pushstring(L, name_of(first));
  return 1;
}

/* catcher:close(): restores the previous handlers and closes the pipe. */
static int sig_close(lua_State *L) {
  restore(tosignals(L));
  return 0;
}

static int sig_tostring(lua_State *L) {
  ql_signals *s = tosignals(L);
  lua_pushfstring(L, "%s (%s)", QL_SIGNALS, s->active ? "catching" : "closed");
  return 1;
}

/* sigs:hold(fn, ...) -> fn's results: calls fn with the caught signals blocked; one that comes
 * meanwhile is delivered, into the pipe, once fn has returned (or raised). For a library that
 * installs signal handlers of its own while it runs (readline's callback interface does, inside
 * read_char), so that the signal always reaches this catcher instead. */
static int sig_hold(lua_State *L) {
  ql_signals *s = tosignals(L);
  sigset_t set, old;
  size_t i;
  int rc, n;
  luaL_checktype(L, 2, LUA_TFUNCTION);
  n = lua_gettop(L) - 2;
  sigemptyset(&set);
  if (s->active)
    for (i = 0; i < N_KNOWN; i++)
      if (s->caught[i])
        sigaddset(&set, known[i].sig);
  sigprocmask(SIG_BLOCK, &set, &old);
  rc = lua_pcall(L, n, LUA_MULTRET, 0);
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (rc != LUA_OK)
    return lua_error(L);
  return lua_gettop(L) - 1;
}

static const luaL_Reg sig_methods[] = {
  {"hold", sig_hold},
  {"getfd", sig_getfd},
  {"dirty", sig_dirty},
  {"caught", sig_caught},
  {"close", sig_close},
  {NULL, NULL},
};

static const luaL_Reg sig_meta[] = {
  {"__gc", sig_close},
  {"__close", sig_close},
  {"__tostring", sig_tostring},
  {NULL, NULL},
};

void ql_signal_open(lua_State *L) {
  ql_newclass(L, QL_SIGNALS, sig_methods, sig_meta);
  lua_pushcfunction(L, l_catch_signals);
  lua_setfield(L, -2, "catch_signals");
}

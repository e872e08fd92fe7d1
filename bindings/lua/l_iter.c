/* l_iter.c: the quarry.iterator handle (child of a db), the iterator(iopts) and pairs(iopts)
 * data operations of db and cf, and the generic-for step function (one C call per pair). */
#include "lquarry.h"

ql_iter *ql_toiter(lua_State *L, int idx) { return (ql_iter *)luaL_checkudata(L, idx, QL_ITER); }

ql_iter *ql_checkiter(lua_State *L, int idx, const char *op) {
  ql_iter *u = ql_toiter(L, idx);
  if (u->it == NULL)
    ql_closed(L, QL_ITER, op, 0);
  if (quarry_iter_is_closed(u->it)) /* released by db:close() */
    ql_closed(L, QL_ITER, op, 1);
  return u;
}

/* The iterator's methods carry its metatable as upvalue 1 (ql_iter_open): the type check
 * is a metatable fetch and a pointer comparison, not a registry lookup by name. Same checks and
 * errors as ql_checkiter. */
static ql_iter *self_iter(lua_State *L, const char *op) {
  ql_iter *u = (ql_iter *)lua_touserdata(L, 1);
  if (u == NULL || !lua_getmetatable(L, 1))
    luaL_typeerror(L, 1, QL_ITER);
  if (!lua_rawequal(L, -1, lua_upvalueindex(1)))
    luaL_typeerror(L, 1, QL_ITER);
  lua_pop(L, 1);
  if (u->it == NULL)
    ql_closed(L, QL_ITER, op, 0);
  if (quarry_iter_is_closed(u->it)) /* released by db:close() */
    ql_closed(L, QL_ITER, op, 1);
  return u;
}

void ql_iter_push(lua_State *L, int iopts_idx, const char *op) {
  quarry_cf *cf;
  ql_db *d;
  ql_iter *u;
  quarry_iter_options io;
  int has_snapshot, rc;
  iopts_idx = lua_absindex(L, iopts_idx);
  d = ql_target(L, op, &cf);
  /* Bound strings point into the iopts table, which stays on the stack until quarry_iter_new
   * has copied them. */
  has_snapshot = ql_iter_options(L, iopts_idx, d, op, &io);
  u = (ql_iter *)lua_newuserdatauv(L, sizeof *u, 2);
  u->it = NULL;
  u->owner = d;
  u->done = 0;
  lua_pushvalue(L, lua_upvalueindex(3)); /* the iterator metatable */
  lua_setmetatable(L, -2);
  QL_PUSH_TARGET_OWNER(L, 1, cf);
  lua_setiuservalue(L, -2, 1);
  if (has_snapshot) { /* keep the snapshot alive while the iterator reads through it */
    lua_getfield(L, iopts_idx, "snapshot");
    lua_setiuservalue(L, -2, 2);
  }
  rc = quarry_iter_new(d->db, cf, &io, &u->it);
  if (rc < 0)
    ql_raise(L, rc, op);
}

static void close_iter(ql_iter *u) {
  quarry_iter *it = u->it;
  u->it = NULL; /* closed before destroyed */
  quarry_iter_close(it);
}

static int iter_close(lua_State *L) {
  close_iter(ql_toiter(L, 1));
  return 0;
}

static int iter_tostring(lua_State *L) {
  ql_iter *u = ql_toiter(L, 1);
  if (u->it == NULL || quarry_iter_is_closed(u->it))
    lua_pushfstring(L, "%s (closed)", QL_ITER);
  else
    lua_pushfstring(L, "%s (open, %s)", QL_ITER,
                    quarry_iter_valid(u->it) ? "valid" : "not positioned");
  return 1;
}

/* ---- iterator(iopts) and its methods ------------------------------------------------------- */
static int data_iterator(lua_State *L) {
  ql_iter_push(L, 2, "iterator");
  return 1;
}

/* Positioning methods return whether the iterator now stands on an entry. */
static int moved(lua_State *L, ql_iter *u, int rc, const char *op) {
  if (rc < 0)
    return ql_raise(L, rc, op);
  lua_pushboolean(L, quarry_iter_valid(u->it));
  return 1;
}

static int iter_first(lua_State *L) {
  ql_iter *u = self_iter(L, "first");
  return moved(L, u, quarry_iter_first(u->it), "first");
}

static int iter_last(lua_State *L) {
  ql_iter *u = self_iter(L, "last");
  return moved(L, u, quarry_iter_last(u->it), "last");
}

static int iter_seek(lua_State *L) {
  ql_iter *u = self_iter(L, "seek");
  size_t klen;
  const char *key = ql_checkbytes(L, 2, &klen);
  return moved(L, u, quarry_iter_seek(u->it, key, klen), "seek");
}

static int iter_seek_for_prev(lua_State *L) {
  ql_iter *u = self_iter(L, "seek_for_prev");
  size_t klen;
  const char *key = ql_checkbytes(L, 2, &klen);
  return moved(L, u, quarry_iter_seek_for_prev(u->it, key, klen), "seek_for_prev");
}

static int iter_next(lua_State *L) {
  ql_iter *u = self_iter(L, "next");
  return moved(L, u, quarry_iter_next(u->it), "next");
}

static int iter_prev(lua_State *L) {
  ql_iter *u = self_iter(L, "prev");
  return moved(L, u, quarry_iter_prev(u->it), "prev");
}

static int iter_valid(lua_State *L) {
  lua_pushboolean(L, quarry_iter_valid(self_iter(L, "valid")->it));
  return 1;
}

static int iter_key(lua_State *L) {
  size_t len;
  const char *k = quarry_iter_key(self_iter(L, "key")->it, &len);
  if (k == NULL)
    lua_pushnil(L);
  else
    lua_pushlstring(L, k, len);
  return 1;
}

static int iter_value(lua_State *L) {
  size_t len;
  const char *v = quarry_iter_value(self_iter(L, "value")->it, &len);
  if (v == NULL)
    lua_pushnil(L);
  else
    lua_pushlstring(L, v, len);
  return 1;
}

/* it:next_chunk(n [, keys [, values]]): up to n pairs in one call, walking as pairs does. Fills
 * keys[1..c] and values[1..c] (the tables given, else new ones), clears their entries after c,
 * and returns keys, values, c; c = 0 at the end. */
static int iter_next_chunk(lua_State *L) {
  ql_iter *u = self_iter(L, "next_chunk");
  lua_Integer n, i = 0, nv = 0, j, old;
  const char *k, *v;
  size_t klen, vlen;
  int rc = 0, t;
  int isint = 0;
  n = lua_tointegerx(L, 2, &isint);
  if (!isint || n < 1)
    return luaL_argerror(L, 2, "a positive integer expected");
  lua_settop(L, 4);
  for (t = 3; t <= 4; t++) {
    if (lua_isnil(L, t)) {
      lua_createtable(L, n < 1024 ? (int)n : 1024, 0);
      lua_replace(L, t);
    } else {
      luaL_checktype(L, t, LUA_TTABLE);
    }
  }
  while (i < n && (rc = quarry_iter_step(u->it, &k, &klen, &v, &vlen)) > 0) {
    i++;
    lua_pushlstring(L, k, klen);
    lua_rawseti(L, 3, i);
    if (v != NULL) { /* NULL with keys_only */
      lua_pushlstring(L, v, vlen);
      lua_rawseti(L, 4, i);
      nv = i;
    }
  }
  if (rc < 0)
    return ql_raise(L, rc, "next_chunk");
  /* Clear what an earlier, longer chunk left in the tables. */
  for (old = (lua_Integer)lua_rawlen(L, 3), j = i + 1; j <= old; j++) {
    lua_pushnil(L);
    lua_rawseti(L, 3, j);
  }
  for (old = (lua_Integer)lua_rawlen(L, 4), j = nv + 1; j <= old; j++) {
    lua_pushnil(L);
    lua_rawseti(L, 4, j);
  }
  lua_pushinteger(L, i);
  return 3;
}

/* ---- seek(key [, iopts]): one positioning, no iterator object ------------------------------ */
/* Returns the first entry at or after key (reverse: the last at or before it) within iopts'
 * bounds, as key, value (key only with keys_only), or nil. The core iterator lives only during
 * the call, parked in the db userdata while its entry is pushed (ql_release_pending). */
static int data_seek(lua_State *L) {
  quarry_cf *cf;
  ql_db *d = ql_target(L, "seek", &cf);
  size_t klen, vlen;
  const char *key = ql_checkbytes(L, 2, &klen), *k, *v;
  quarry_iter_options io;
  quarry_iter *it = NULL;
  int rc, n = 1;
  ql_iter_options(L, 3, d, "seek", &io); /* the iopts table anchors its strings and snapshot */
  ql_release_pending(d);
  if ((rc = quarry_iter_new(d->db, cf, &io, &it)) < 0)
    return ql_raise(L, rc, "seek");
  d->pending_iter = it;
  rc = io.reverse ? quarry_iter_seek_for_prev(it, key, klen) : quarry_iter_seek(it, key, klen);
  if (rc < 0) {
    ql_release_pending(d);
    return ql_raise(L, rc, "seek");
  }
  if ((k = quarry_iter_key(it, &klen)) == NULL) {
    lua_pushnil(L);
  } else {
    lua_pushlstring(L, k, klen);
    if (!io.keys_only && (v = quarry_iter_value(it, &vlen)) != NULL) {
      lua_pushlstring(L, v, vlen);
      n = 2;
    }
  }
  ql_release_pending(d);
  return n;
}

/* ---- pairs(iopts): for k, v in db:pairs{...} do ... end ------------------------------------- */
/* The step function, a closure over the iterator userdata (upvalue 1: no type check per step).
 * Returns key, value (key only with keys_only); at the end releases the iterator and returns
 * nothing, which ends the loop. */
static int iter_step(lua_State *L) {
  ql_iter *u = (ql_iter *)lua_touserdata(L, lua_upvalueindex(1));
  const char *k, *v;
  size_t klen, vlen;
  int rc;
  if (u->done)
    return 0;
  if (u->it == NULL)
    return ql_closed(L, QL_ITER, "pairs", 0);
  rc = quarry_iter_step(u->it, &k, &klen, &v, &vlen);
  if (rc == QUARRY_ECLOSED && quarry_iter_is_closed(u->it)) /* released by db:close() */
    return ql_closed(L, QL_ITER, "pairs", 1);
  if (rc > 0) {
    lua_pushlstring(L, k, klen);
    if (v == NULL)
      return 1;
    lua_pushlstring(L, v, vlen);
    return 2;
  }
  if (rc < 0)
    return ql_raise(L, rc, "pairs");
  u->done = 1;
  close_iter(u);
  return 0;
}

static int data_pairs(lua_State *L) {
  ql_iter_push(L, 2, "pairs");
  lua_pushvalue(L, -1);
  lua_pushcclosure(L, iter_step, 1);
  lua_pushvalue(L, -2); /* state */
  lua_pushnil(L);       /* initial control value */
  lua_pushvalue(L, -4); /* closing value: `break` closes the iterator */
  return 4;
}

static const luaL_Reg iter_methods[] = {
  {"first", iter_first},
  {"last", iter_last},
  {"seek", iter_seek},
  {"seek_for_prev", iter_seek_for_prev},
  {"next", iter_next},
  {"prev", iter_prev},
  {"valid", iter_valid},
  {"key", iter_key},
  {"value", iter_value},
  {"next_chunk", iter_next_chunk},
  {"close", iter_close},
  {NULL, NULL},
};

static const luaL_Reg iter_meta[] = {
  {"__gc", iter_close},
  {"__close", iter_close},
  {"__tostring", iter_tostring},
  {NULL, NULL},
};

static const luaL_Reg data_fns[] = {
  {"iterator", data_iterator},
  {"pairs", data_pairs},
  {"seek", data_seek},
  {NULL, NULL},
};

static const luaL_Reg no_methods[] = {{NULL, NULL}};

void ql_iter_open(lua_State *L) {
  ql_newclass(L, QL_ITER, no_methods, iter_meta);
  luaL_getmetatable(L, QL_ITER); /* the methods, with the metatable as upvalue (self_iter) */
  lua_getfield(L, -1, "__index");
  lua_pushvalue(L, -2);
  luaL_setfuncs(L, iter_methods, 1);
  lua_pop(L, 2);
  ql_add_target_fns(L, QL_DB, data_fns);
  ql_add_target_fns(L, QL_CF, data_fns);
}

/* l_batch.c: the quarry.batch handle (an atomic write batch, child of a db), db:batch() and
 * db:write(batch | function [, wopts]). */
#include "lquarry.h"

ql_batch *ql_tobatch(lua_State *L, int idx) {
  return (ql_batch *)luaL_checkudata(L, idx, QL_BATCH);
}

ql_batch *ql_checkbatch(lua_State *L, int idx, const char *op) {
  ql_batch *b = ql_tobatch(L, idx);
  if (b->b == NULL)
    ql_closed(L, QL_BATCH, op, 0);
  if (quarry_batch_is_closed(b->b)) /* released by db:close() */
    ql_closed(L, QL_BATCH, op, 1);
  return b;
}

ql_batch *ql_batch_push(lua_State *L, int db_idx, const char *op) {
  ql_db *d;
  ql_batch *b;
  int rc;
  db_idx = lua_absindex(L, db_idx);
  d = ql_checkdb(L, db_idx, op);
  b = (ql_batch *)lua_newuserdatauv(L, sizeof *b, 1);
  b->b = NULL;
  b->owner = d;
  luaL_setmetatable(L, QL_BATCH);
  lua_pushvalue(L, db_idx);
  lua_setiuservalue(L, -2, 1);
  rc = quarry_batch_new(d->db, &b->b);
  if (rc < 0)
    ql_raise(L, rc, op);
  return b;
}

static int db_batch(lua_State *L) {
  ql_batch_push(L, 1, "batch");
  return 1;
}

/* The optional family argument of batch operations: b:put([cf,] k, v). Sets *arg to the index
 * of the first argument after it. */
static quarry_cf *batch_cf(lua_State *L, const ql_batch *b, const char *op, int *arg) {
  ql_cf *c;
  *arg = 2;
  if (luaL_testudata(L, 2, QL_CF) == NULL)
    return NULL;
  c = ql_checkcf(L, 2, op);
  if (c->owner != b->owner)
    ql_raisef(L, QUARRY_EINVAL, op, "the column family belongs to another database");
  *arg = 3;
  return c->cf;
}

static int batch_put(lua_State *L) {
  ql_batch *b = ql_checkbatch(L, 1, "put");
  int arg, rc;
  quarry_cf *cf = batch_cf(L, b, "put", &arg);
  size_t klen, vlen;
  const char *key = ql_checkbytes(L, arg, &klen), *val = ql_checkbytes(L, arg + 1, &vlen);
  rc = quarry_batch_put(b->b, cf, key, klen, val, vlen);
  if (rc < 0)
    return ql_raise(L, rc, "put");
  lua_settop(L, 1);
  return 1;
}

static int batch_delete(lua_State *L) {
  ql_batch *b = ql_checkbatch(L, 1, "delete");
  int arg, rc;
  quarry_cf *cf = batch_cf(L, b, "delete", &arg);
  size_t klen;
  const char *key = ql_checkbytes(L, arg, &klen);
  rc = quarry_batch_delete(b->b, cf, key, klen);
  if (rc < 0)
    return ql_raise(L, rc, "delete");
  lua_settop(L, 1);
  return 1;
}

static int batch_delete_range(lua_State *L) {
  ql_batch *b = ql_checkbatch(L, 1, "delete_range");
  int arg, rc;
  quarry_cf *cf = batch_cf(L, b, "delete_range", &arg);
  size_t flen, tlen;
  const char *from = ql_checkbytes(L, arg, &flen), *to = ql_checkbytes(L, arg + 1, &tlen);
  rc = quarry_batch_delete_range(b->b, cf, from, flen, to, tlen);
  if (rc < 0)
    return ql_raise(L, rc, "delete_range");
  lua_settop(L, 1);
  return 1;
}

static int batch_count(lua_State *L) {
  size_t n = 0;
  int rc = quarry_batch_count(ql_checkbatch(L, 1, "count")->b, &n);
  if (rc < 0)
    return ql_raise(L, rc, "count");
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int batch_data_size(lua_State *L) {
  size_t n = 0;
  int rc = quarry_batch_data_size(ql_checkbatch(L, 1, "data_size")->b, &n);
  if (rc < 0)
    return ql_raise(L, rc, "data_size");
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

static int batch_clear(lua_State *L) {
  int rc = quarry_batch_clear(ql_checkbatch(L, 1, "clear")->b);
  if (rc < 0)
    return ql_raise(L, rc, "clear");
  lua_settop(L, 1);
  return 1;
}

static void close_batch(ql_batch *b) {
  quarry_batch *cb = b->b;
  b->b = NULL; /* closed before destroyed */
  quarry_batch_close(cb);
}

static int batch_close(lua_State *L) {
  close_batch(ql_tobatch(L, 1));
  return 0;
}

static int batch_tostring(lua_State *L) {
  ql_batch *b = ql_tobatch(L, 1);
  size_t n = 0;
  if (b->b == NULL || quarry_batch_is_closed(b->b) || quarry_batch_count(b->b, &n) < 0)
    lua_pushfstring(L, "%s (closed)", QL_BATCH);
  else
    lua_pushfstring(L, "%s (%d operations, open)", QL_BATCH, (int)n);
  return 1;
}

/* ---- db:write ------------------------------------------------------------------------------ */
/* The function form keeps its parsed wopts in the continuation context: (sync + 1) * 3 + wal + 1. */
static lua_KContext pack_wopts(const quarry_write_options *wo) {
  return (lua_KContext)((wo->sync + 1) * 3 + (wo->wal + 1));
}

static quarry_write_options unpack_wopts(lua_KContext ctx) {
  quarry_write_options wo;
  wo.sync = (int)(ctx / 3) - 1;
  wo.wal = (int)(ctx % 3) - 1;
  return wo;
}

/* Continuation of the function form: the user's function has returned or raised (status).
 * Stack: db, fn, wopts, batch [, error]. The temporary batch is closed in every case: here, or
 * (its slot is to-be-closed) when the function returns or raises, or when coroutine.close()
 * ends a coroutine suspended inside fn. */
static int write_fn_done(lua_State *L, int status, lua_KContext ctx) {
  ql_db *d = ql_todb(L, 1);
  ql_batch *b = ql_tobatch(L, 4);
  quarry_write_options wo = unpack_wopts(ctx);
  int rc;
  if (status != LUA_OK && status != LUA_YIELD) {
    close_batch(b);
    return lua_error(L); /* the function raised: nothing is written */
  }
  if (d->db == NULL) {
    close_batch(b);
    return ql_closed(L, QL_DB, "write", 0);
  }
  if (b->b == NULL || quarry_batch_is_closed(b->b)) /* the function closed it */
    return ql_closed(L, QL_BATCH, "write", 0);
  rc = quarry_db_write(d->db, b->b, &wo);
  close_batch(b);
  if (rc < 0)
    return ql_raise(L, rc, "write");
  return 0;
}

static int db_write(lua_State *L) {
  ql_db *d = ql_checkdb(L, 1, "write");
  quarry_write_options wo;
  ql_batch *b;
  int rc;
  if (lua_type(L, 2) == LUA_TFUNCTION) {
    lua_KContext ctx;
    ql_write_options(L, 3, "write", &wo); /* checked before the function runs */
    ctx = pack_wopts(&wo);
    lua_settop(L, 3);
    ql_batch_push(L, 1, "write"); /* index 4 */
    /* to-be-closed: coroutine.close() on a coroutine suspended inside fn closes it at once */
    lua_toclose(L, 4);
    lua_pushvalue(L, 2);
    lua_pushvalue(L, 4);
    return write_fn_done(L, lua_pcallk(L, 1, 0, 0, ctx, write_fn_done), ctx);
  }
  if (luaL_testudata(L, 2, QL_BATCH) == NULL)
    return luaL_typeerror(L, 2, "quarry.batch or function");
  b = ql_checkbatch(L, 2, "write");
  if (b->owner != d)
    return ql_raisef(L, QUARRY_EINVAL, "write", "the batch belongs to another database");
  ql_write_options(L, 3, "write", &wo);
  rc = quarry_db_write(d->db, b->b, &wo);
  if (rc < 0)
    return ql_raise(L, rc, "write");
  return 0;
}

static const luaL_Reg batch_methods[] = {
  {"put", batch_put},
  {"delete", batch_delete},
  {"delete_range", batch_delete_range},
  {"count", batch_count},
  {"data_size", batch_data_size},
  {"clear", batch_clear},
  {"close", batch_close},
  {NULL, NULL},
};

static const luaL_Reg batch_meta[] = {
  {"__gc", batch_close},
  {"__close", batch_close},
  {"__tostring", batch_tostring},
  {NULL, NULL},
};

static const luaL_Reg db_fns[] = {
  {"batch", db_batch},
  {"write", db_write},
  {NULL, NULL},
};

void ql_batch_open(lua_State *L) {
  ql_newclass(L, QL_BATCH, batch_methods, batch_meta);
  ql_add_methods(L, QL_DB, db_fns);
}

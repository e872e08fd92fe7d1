/* l_u256.c: quarry.u256, exact unsigned integers up to 2^256-1 for chain amounts: four 64-bit
 * limbs, decimal / 0x / scaled-decimal text, LEB128 and big-endian bytes, arithmetic metamethods. */
#include <lauxlib.h>
#include <lua.h>

#include <stdint.h>
#include <string.h>

#define U256_MT "quarry.u256"
#define U256_DIGITS 78 /* decimal digits of 2^256-1 */
#define U256_MAX_SCALE 77 /* 10^77 < 2^256 < 10^78 */
#define LEB_MAX_BYTES 37 /* ceil(256 / 7) */

#if defined(__GNUC__)
#define U_EXPORT __attribute__((visibility("default")))
#else
#define U_EXPORT
#endif
U_EXPORT int luaopen_quarry_u256(lua_State *L);

typedef unsigned __int128 u128;
typedef struct {
  uint64_t w[4]; /* least significant limb first */
} u256;

static const uint64_t pow10_64[20] = {
  1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL, 100000000ULL,
  1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL, 10000000000000ULL,
  100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL, 100000000000000000ULL,
  1000000000000000000ULL, 10000000000000000000ULL};

/* ---- limb arithmetic -------------------------------------------------------------------------- */

static u256 u_from64(uint64_t v) {
  u256 r = {{v, 0, 0, 0}};
  return r;
}

static int u_iszero(const u256 *a) {
  return (a->w[0] | a->w[1] | a->w[2] | a->w[3]) == 0;
}

/* Fits in a Lua integer (0 .. 2^63-1). */
static int u_fits63(const u256 *a) {
  return (a->w[1] | a->w[2] | a->w[3]) == 0 && a->w[0] <= (uint64_t)LUA_MAXINTEGER;
}

static int u_cmp(const u256 *a, const u256 *b) {
  for (int i = 3; i >= 0; i--)
    if (a->w[i] != b->w[i])
      return a->w[i] < b->w[i] ? -1 : 1;
  return 0;
}

/* r = a + b; returns the carry out (1: the true sum exceeds 2^256-1). */
static int u_add(u256 *r, const u256 *a, const u256 *b) {
  u128 c = 0;
  for (int i = 0; i < 4; i++) {
    c += (u128)a->w[i] + b->w[i];
    r->w[i] = (uint64_t)c;
    c >>= 64;
  }
  return (int)c;
}

/* r = a - b modulo 2^256; returns the borrow (1: a < b). */
static int u_sub(u256 *r, const u256 *a, const u256 *b) {
  uint64_t borrow = 0;
  for (int i = 0; i < 4; i++) {
    uint64_t x = a->w[i], y = b->w[i];
    uint64_t d = x - y - borrow;
    borrow = (x < y) || (x == y && borrow);
    r->w[i] = d;
  }
  return (int)borrow;
}

/* r = a * b; returns 1 when the true product exceeds 2^256-1 (r is then garbage). */
static int u_mul(u256 *r, const u256 *a, const u256 *b) {
  uint64_t t[4] = {0, 0, 0, 0};
  int over = 0;
  for (int i = 0; i < 4; i++) {
    if (a->w[i] == 0)
      continue;
    u128 c = 0;
    for (int j = 0; j < 4; j++) {
      if (i + j >= 4) {
        if (b->w[j] != 0)
          over = 1;
        continue;
      }
      c += (u128)a->w[i] * b->w[j] + t[i + j];
      t[i + j] = (uint64_t)c;
      c >>= 64;
    }
    if (c != 0)
      over = 1;
  }
  memcpy(r->w, t, sizeof t);
  return over;
}

/* a = a * m + add; returns 1 on overflow. */
static int u_muladd64(u256 *a, uint64_t m, uint64_t add) {
  u128 c = add;
  for (int i = 0; i < 4; i++) {
    c += (u128)a->w[i] * m;
    a->w[i] = (uint64_t)c;
    c >>= 64;
  }
  return c != 0;
}

/* q = a / d (d > 0); returns a % d. q may be a. */
static uint64_t u_divmod64(u256 *q, const u256 *a, uint64_t d) {
  u128 rem = 0;
  for (int i = 3; i >= 0; i--) {
    u128 cur = rem << 64 | a->w[i];
    q->w[i] = (uint64_t)(cur / d);
    rem = cur % d;
  }
  return (uint64_t)rem;
}

static int u_bits(const u256 *a) {
  for (int i = 3; i >= 0; i--)
    if (a->w[i])
      return i * 64 + 64 - __builtin_clzll(a->w[i]);
  return 0;
}

/* q = a / b, r = a % b (b > 0): one 64-bit division when b fits in a limb, else shift and
 * subtract over a's bits. */
static void u_divmod(u256 *q, u256 *r, const u256 *a, const u256 *b) {
  if ((b->w[1] | b->w[2] | b->w[3]) == 0) {
    *r = u_from64(u_divmod64(q, a, b->w[0]));
    return;
  }
  u256 quo = u_from64(0), rem = u_from64(0);
  for (int i = u_bits(a) - 1; i >= 0; i--) {
    int top = (int)(rem.w[3] >> 63);
    for (int k = 3; k > 0; k--)
      rem.w[k] = rem.w[k] << 1 | rem.w[k - 1] >> 63;
    rem.w[0] = rem.w[0] << 1 | ((a->w[i / 64] >> (i % 64)) & 1);
    /* with the shifted-out top bit set, 2*rem exceeds 2^256 > b: the wrapped difference is exact */
    if (top || u_cmp(&rem, b) >= 0) {
      u_sub(&rem, &rem, b);
      quo.w[i / 64] |= 1ULL << (i % 64);
    }
  }
  *q = quo;
  *r = rem;
}

/* ---- text forms ------------------------------------------------------------------------------- */

/* Writes the decimal digits of a ending at end (no terminator); returns the first digit. */
static char *u_decimal(const u256 *a, char *end) {
  u256 t = *a;
  char *p = end;
  do {
    uint64_t chunk = u_divmod64(&t, &t, pow10_64[19]);
    if (u_iszero(&t)) { /* the leading chunk: no padding, at least one digit */
      do {
        *--p = (char)('0' + chunk % 10);
        chunk /= 10;
      } while (chunk);
    } else {
      for (int k = 0; k < 19; k++) {
        *--p = (char)('0' + chunk % 10);
        chunk /= 10;
      }
    }
  } while (!u_iszero(&t));
  return p;
}

static void u_pushdecimal(lua_State *L, const u256 *a) {
  char buf[U256_DIGITS + 2];
  char *end = buf + sizeof buf, *p = u_decimal(a, end);
  lua_pushlstring(L, p, (size_t)(end - p));
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* Pushes a short printable form of s for an error message: "s" quoted when short, else its first
 * characters and its length: 1157...(78 digits). */
static const char *show(lua_State *L, const char *s, size_t len) {
  size_t digits = 0, k;
  int printable = 1;
  for (k = 0; k < len; k++) {
    unsigned char c = (unsigned char)s[k];
    digits += c >= '0' && c <= '9';
    if (c < 0x20 || c >= 0x7f || c == '"')
      printable = 0;
  }
  if (len <= 40 && printable)
    return lua_pushfstring(L, "\"%s\"", s);
  if (digits == len) /* a long run of digits: 1157...(78 digits) */
    return lua_pushfstring(L, "%c%c%c%c...(%d digits)", s[0], s[1], s[2], s[3], (int)len);
  char head[13];
  size_t n = len < 12 ? len : 12;
  for (k = 0; k < n; k++) {
    unsigned char c = (unsigned char)s[k];
    head[k] = (c < 0x20 || c >= 0x7f || c == '"') ? '?' : (char)c;
  }
  head[n] = '\0';
  return lua_pushfstring(L, "\"%s...\"(%d bytes)", head, (int)len);
}

/* Problems the parsers report: each reads after the shown value ("u256: "-5" is negative"). */
static const char P_EMPTY[] = "is empty", P_NEG[] = "is negative", P_SIGN[] = "has a sign",
                  P_SPACE[] = "has spaces", P_ZEROS[] = "has leading zeros",
                  P_NAN[] = "is not a number (decimal digits or a 0x quantity)",
                  P_NODEC[] = "is not a decimal number", P_NOHEX[] = "has no hex digits",
                  P_BADHEX[] = "is not a hex quantity", P_FRAC[] = "is not an integer",
                  P_DECIMALS[] = "has more decimals than the scale", P_BIG[] = "exceeds 2^256-1";

/* A "0x"/"0X" quantity (any leading zeros) into out; NULL or the problem. */
static const char *parse_hex(const char *s, size_t len, u256 *out) {
  size_t k = 2;
  if (len == 2)
    return P_NOHEX;
  for (size_t i = 2; i < len; i++)
    if (hexval((unsigned char)s[i]) < 0)
      return P_BADHEX;
  while (k < len && s[k] == '0')
    k++;
  if (len - k > 64)
    return P_BIG;
  *out = u_from64(0);
  for (size_t i = 0; k + i < len; i++) {
    size_t bit = (len - 1 - k - i) * 4; /* this digit's position from the right */
    out->w[bit / 64] |= (uint64_t)hexval((unsigned char)s[k + i]) << (bit % 64);
  }
  return NULL;
}

/* The digits of a decimal number seen as one run across its integer and fraction parts. */
typedef struct {
  const char *ip, *fp;
  size_t ni, nf;
} digit_run;

static char digit_at(const digit_run *d, size_t i) {
  return i < d->ni ? d->ip[i] : d->fp[i - d->ni];
}

/* A JSON-grammar decimal (no sign, no leading zeros, optional fraction and exponent) times
 * 10^scale into out, which must be exact. lost and nan: the problems to report for digits the
 * scale cannot hold and for text that is no number. NULL or the problem. */
static const char *parse_decimal(const char *s, size_t len, int scale, const char *lost,
                                 const char *nan, u256 *out) {
  const char *p = s, *end = s + len;
  digit_run d = {NULL, NULL, 0, 0};
  int64_t e10 = 0;
  int expneg = 0;
  if (len == 0)
    return P_EMPTY;
  if (memchr(s, ' ', len) || memchr(s, '\t', len) || memchr(s, '\n', len) || memchr(s, '\r', len))
    return P_SPACE;
  if (*p == '-')
    return len > 1 && p[1] >= '0' && p[1] <= '9' ? P_NEG : nan;
  if (*p == '+')
    return P_SIGN;
  d.ip = p;
  while (p < end && *p >= '0' && *p <= '9')
    p++;
  d.ni = (size_t)(p - d.ip);
  if (d.ni == 0)
    return nan;
  if (d.ni > 1 && d.ip[0] == '0')
    return P_ZEROS;
  if (p < end && *p == '.') {
    d.fp = ++p;
    while (p < end && *p >= '0' && *p <= '9')
      p++;
    d.nf = (size_t)(p - d.fp);
    if (d.nf == 0)
      return nan;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    const char *from;
    p++;
    if (p < end && (*p == '+' || *p == '-'))
      expneg = *p++ == '-';
    from = p;
    while (p < end && *p >= '0' && *p <= '9') {
      if (e10 < 1000000) /* saturate: past this the value is 0, too big or inexact anyway */
        e10 = e10 * 10 + (*p - '0');
      p++;
    }
    if (p == from)
      return nan;
  }
  if (p != end)
    return nan;

  /* value = significant digits * 10^shift */
  size_t n = d.ni + d.nf, first = 0;
  while (first < n && digit_at(&d, first) == '0')
    first++;
  *out = u_from64(0);
  if (first == n)
    return NULL; /* zero, whatever the exponent */
  int64_t shift = (expneg ? -e10 : e10) - (int64_t)d.nf + scale;
  size_t keep = n;
  if (shift < 0) {
    uint64_t cut = (uint64_t)-shift;
    if (cut >= n - first)
      return lost;
    keep = n - (size_t)cut;
    for (size_t i = keep; i < n; i++)
      if (digit_at(&d, i) != '0')
        return lost;
    shift = 0;
  }
  if ((int64_t)(keep - first) + shift > U256_DIGITS)
    return P_BIG;
  uint64_t chunk = 0;
  int nchunk = 0;
  for (size_t i = first; i < keep; i++) {
    chunk = chunk * 10 + (uint64_t)(digit_at(&d, i) - '0');
    if (++nchunk == 19 || i + 1 == keep) {
      if (u_muladd64(out, pow10_64[nchunk], chunk))
        return P_BIG;
      chunk = 0;
      nchunk = 0;
    }
  }
  while (shift > 0) {
    int k = shift > 19 ? 19 : (int)shift;
    if (u_muladd64(out, pow10_64[k], 0))
      return P_BIG;
    shift -= k;
  }
  return NULL;
}

/* ---- Lua values ------------------------------------------------------------------------------- */

static u256 *u_push(lua_State *L, const u256 *v) {
  u256 *p = (u256 *)lua_newuserdatauv(L, sizeof *p, 0);
  *p = *v;
  luaL_setmetatable(L, U256_MT);
  return p;
}

/* The canonical amount: a Lua integer below 2^63, a u256 above. */
static void u_pushnorm(lua_State *L, const u256 *v) {
  if (u_fits63(v))
    lua_pushinteger(L, (lua_Integer)v->w[0]);
  else
    u_push(L, v);
}

static const u256 *u_test(lua_State *L, int idx) {
  return (const u256 *)luaL_testudata(L, idx, U256_MT);
}

static int raise_problem(lua_State *L, const char *fname, const char *s, size_t len,
                         const char *problem, int scale) {
  const char *shown = show(L, s, len);
  if (problem == P_DECIMALS)
    return luaL_error(L, "%s: %s has more than %d decimals", fname, shown, scale);
  if (problem == P_BIG && scale > 0)
    return luaL_error(L, "%s: %s scaled by 10^%d exceeds 2^256-1", fname, shown, scale);
  return luaL_error(L, "%s: %s %s", fname, shown, problem);
}

/* The text of a string or of a table with a string field `text` (a quarry.json number); NULL for
 * other values. */
static const char *amount_text(lua_State *L, int idx, size_t *len) {
  if (lua_type(L, idx) == LUA_TSTRING)
    return lua_tolstring(L, idx, len);
  if (lua_type(L, idx) == LUA_TTABLE) {
    const char *s = NULL;
    if (lua_getfield(L, idx, "text") == LUA_TSTRING)
      s = lua_tolstring(L, -1, len); /* the table holds the string: safe after the pop */
    lua_pop(L, 1);
    if (!s)
      luaL_error(L, "u256: a table without a string field text is not an amount");
    return s;
  }
  return NULL;
}

/* An arithmetic operand: a u256 or a Lua integer >= 0. */
static u256 check_operand(lua_State *L, int idx) {
  const u256 *p = u_test(L, idx);
  if (p)
    return *p;
  if (lua_isinteger(L, idx)) {
    lua_Integer v = lua_tointeger(L, idx);
    if (v < 0)
      luaL_error(L, "u256: %I is negative", (LUAI_UACINT)v);
    return u_from64((uint64_t)v);
  }
  if (lua_type(L, idx) == LUA_TNUMBER)
    luaL_error(L, "u256: %f is a float, not an amount", (LUAI_UACNUMBER)lua_tonumber(L, idx));
  if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TTABLE)
    luaL_error(L, "u256: a %s is not an amount here (integer >= 0 or u256): convert it with u256(x)",
               luaL_typename(L, idx));
  luaL_error(L, "u256: a %s is not an amount (integer >= 0, u256, decimal or 0x text, json number)",
             luaL_typename(L, idx));
  return u_from64(0);
}

/* Anything u256(x) takes: operands, decimal or 0x strings, json numbers. */
static u256 check_amount(lua_State *L, int idx) {
  size_t len;
  const char *s = amount_text(L, idx, &len);
  u256 v;
  if (!s)
    return check_operand(L, idx);
  const char *problem = (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
                            ? parse_hex(s, len, &v)
                            : parse_decimal(s, len, 0, P_FRAC, P_NAN, &v);
  if (problem)
    raise_problem(L, "u256", s, len, problem, 0);
  return v;
}

static int check_scale(lua_State *L, int idx, const char *fname) {
  lua_Integer scale = luaL_checkinteger(L, idx);
  if (scale < 0 || scale > U256_MAX_SCALE)
    luaL_error(L, "%s: scale %I is not in 0..%d", fname, (LUAI_UACINT)scale, U256_MAX_SCALE);
  return (int)scale;
}

/* ---- constructors and conversions ------------------------------------------------------------- */

/* u256.new(x) and u256(x): always a u256 */
static int l_new(lua_State *L) {
  luaL_checkany(L, 1);
  if (u_test(L, 1)) {
    lua_settop(L, 1); /* values are immutable: the same one serves */
    return 1;
  }
  u256 v = check_amount(L, 1);
  u_push(L, &v);
  return 1;
}

static int l_call(lua_State *L) {
  lua_remove(L, 1); /* the module table */
  return l_new(L);
}

static int l_norm(lua_State *L) {
  luaL_checkany(L, 1);
  if (lua_isinteger(L, 1) && lua_tointeger(L, 1) >= 0) {
    lua_settop(L, 1);
    return 1;
  }
  u256 v = check_amount(L, 1);
  u_pushnorm(L, &v);
  return 1;
}

static int l_is(lua_State *L) {
  lua_pushboolean(L, u_test(L, 1) != NULL);
  return 1;
}

static int l_tointeger(lua_State *L) {
  u256 v = check_operand(L, 1);
  if (u_fits63(&v))
    lua_pushinteger(L, (lua_Integer)v.w[0]);
  else
    lua_pushnil(L);
  return 1;
}

/* u256.parse(text_or_number, scale): the canonical amount x * 10^scale, exact */
static int l_parse(lua_State *L) {
  int scale = check_scale(L, 2, "u256.parse");
  size_t len;
  const char *s = amount_text(L, 1, &len);
  u256 v;
  if (!s) {
    v = check_operand(L, 1);
    for (int k = scale; k > 0; k -= 19)
      if (u_muladd64(&v, pow10_64[k > 19 ? 19 : k], 0))
        return luaL_error(L, "u256.parse: %s scaled by 10^%d exceeds 2^256-1",
                          luaL_tolstring(L, 1, NULL), scale);
  } else {
    const char *problem =
        parse_decimal(s, len, scale, scale == 0 ? P_FRAC : P_DECIMALS, P_NODEC, &v);
    if (problem)
      return raise_problem(L, "u256.parse", s, len, problem, scale);
  }
  u_pushnorm(L, &v);
  return 1;
}

/* u256.format(v, scale): decimal text with exactly scale decimals */
static int l_format(lua_State *L) {
  u256 v = check_amount(L, 1);
  int scale = check_scale(L, 2, "u256.format");
  char buf[U256_DIGITS + U256_MAX_SCALE + 4];
  char *end = buf + sizeof buf, *p = u_decimal(&v, end);
  size_t n = (size_t)(end - p);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  if (scale == 0) {
    luaL_addlstring(&b, p, n);
  } else if (n <= (size_t)scale) {
    luaL_addstring(&b, "0.");
    for (size_t k = n; k < (size_t)scale; k++)
      luaL_addchar(&b, '0');
    luaL_addlstring(&b, p, n);
  } else {
    luaL_addlstring(&b, p, n - (size_t)scale);
    luaL_addchar(&b, '.');
    luaL_addlstring(&b, p + n - scale, (size_t)scale);
  }
  luaL_pushresult(&b);
  return 1;
}

static int l_tostring(lua_State *L) {
  u_pushdecimal(L, (const u256 *)luaL_checkudata(L, 1, U256_MT));
  return 1;
}

/* v:hex(): the minimal 0x quantity */
static int l_hex(lua_State *L) {
  const u256 *v = (const u256 *)luaL_checkudata(L, 1, U256_MT);
  static const char xd[] = "0123456789abcdef";
  char buf[2 + 64];
  int n = (u_bits(v) + 3) / 4, k = 2;
  buf[0] = '0';
  buf[1] = 'x';
  if (n == 0)
    buf[k++] = '0';
  for (int i = n - 1; i >= 0; i--)
    buf[k++] = xd[(v->w[i / 16] >> (i % 16 * 4)) & 0xf];
  lua_pushlstring(L, buf, (size_t)k);
  return 1;
}

/* ---- arithmetic ------------------------------------------------------------------------------- */

static int l_mm_add(lua_State *L) {
  u256 a = check_operand(L, 1), b = check_operand(L, 2), r;
  if (u_add(&r, &a, &b))
    return luaL_error(L, "u256: overflow");
  u_push(L, &r);
  return 1;
}

static int raise_negative(lua_State *L) {
  return luaL_error(L, "u256: negative result (a - b with a < b)");
}

static int l_mm_sub(lua_State *L) {
  u256 a = check_operand(L, 1), b = check_operand(L, 2), r;
  if (u_sub(&r, &a, &b))
    return raise_negative(L);
  u_push(L, &r);
  return 1;
}

static int l_mm_mul(lua_State *L) {
  u256 a = check_operand(L, 1), b = check_operand(L, 2), r;
  if (u_mul(&r, &a, &b))
    return luaL_error(L, "u256: overflow");
  u_push(L, &r);
  return 1;
}

static int divide(lua_State *L, int want_rem) {
  u256 a = check_operand(L, 1), b = check_operand(L, 2), q, r;
  if (u_iszero(&b))
    return luaL_error(L, "u256: division by zero");
  u_divmod(&q, &r, &a, &b);
  u_push(L, want_rem ? &r : &q);
  return 1;
}

static int l_mm_idiv(lua_State *L) {
  return divide(L, 0);
}

static int l_mm_mod(lua_State *L) {
  return divide(L, 1);
}

/* Lua calls __eq only when both operands are userdata (or both tables). */
static int l_mm_eq(lua_State *L) {
  const u256 *a = u_test(L, 1), *b = u_test(L, 2);
  lua_pushboolean(L, a && b && u_cmp(a, b) == 0);
  return 1;
}

static int l_mm_lt(lua_State *L) {
  u256 a = check_operand(L, 1), b = check_operand(L, 2);
  lua_pushboolean(L, u_cmp(&a, &b) < 0);
  return 1;
}

static int l_mm_le(lua_State *L) {
  u256 a = check_operand(L, 1), b = check_operand(L, 2);
  lua_pushboolean(L, u_cmp(&a, &b) <= 0);
  return 1;
}

static void push_concat_part(lua_State *L, int idx) {
  const u256 *v = u_test(L, idx);
  if (v)
    u_pushdecimal(L, v);
  else if (lua_type(L, idx) == LUA_TSTRING || lua_type(L, idx) == LUA_TNUMBER)
    luaL_tolstring(L, idx, NULL);
  else
    luaL_error(L, "u256: attempt to concatenate a %s value", luaL_typename(L, idx));
}

static int l_mm_concat(lua_State *L) {
  push_concat_part(L, 1);
  push_concat_part(L, 2);
  lua_concat(L, 2);
  return 1;
}

/* u256.add(a, b) and u256.sub(a, b): canonical results; two integers never make a userdata
 * unless the sum needs 64 bits. */
static int l_add(lua_State *L) {
  if (lua_isinteger(L, 1) && lua_isinteger(L, 2)) {
    lua_Integer a = lua_tointeger(L, 1), b = lua_tointeger(L, 2);
    if (a >= 0 && b >= 0 && a <= LUA_MAXINTEGER - b) {
      lua_pushinteger(L, a + b);
      return 1;
    }
  }
  u256 a = check_operand(L, 1), b = check_operand(L, 2), r;
  if (u_add(&r, &a, &b))
    return luaL_error(L, "u256: overflow");
  u_pushnorm(L, &r);
  return 1;
}

static int l_sub(lua_State *L) {
  if (lua_isinteger(L, 1) && lua_isinteger(L, 2)) {
    lua_Integer a = lua_tointeger(L, 1), b = lua_tointeger(L, 2);
    if (b >= 0 && a >= b) {
      lua_pushinteger(L, a - b);
      return 1;
    }
  }
  u256 a = check_operand(L, 1), b = check_operand(L, 2), r;
  if (u_sub(&r, &a, &b))
    return raise_negative(L);
  u_pushnorm(L, &r);
  return 1;
}

static int l_cmp(lua_State *L) {
  if (lua_isinteger(L, 1) && lua_isinteger(L, 2)) {
    lua_Integer a = lua_tointeger(L, 1), b = lua_tointeger(L, 2);
    if (a >= 0 && b >= 0) {
      lua_pushinteger(L, (a > b) - (a < b));
      return 1;
    }
  }
  u256 a = check_operand(L, 1), b = check_operand(L, 2);
  lua_pushinteger(L, u_cmp(&a, &b));
  return 1;
}

/* ---- bytes ------------------------------------------------------------------------------------ */

/* u256.leb128(x): unsigned LEB128, 7 bits a byte, least significant first */
static int l_leb128(lua_State *L) {
  u256 v = check_operand(L, 1);
  char buf[LEB_MAX_BYTES];
  int k = 0;
  do {
    unsigned char low = (unsigned char)(v.w[0] & 0x7f);
    for (int i = 0; i < 3; i++)
      v.w[i] = v.w[i] >> 7 | v.w[i + 1] << 57;
    v.w[3] >>= 7;
    buf[k++] = (char)(u_iszero(&v) ? low : (low | 0x80));
  } while (!u_iszero(&v));
  lua_pushlstring(L, buf, (size_t)k);
  return 1;
}

/* u256.read_leb128(s [, pos]): the canonical value and the position after it */
static int l_read_leb128(lua_State *L) {
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  lua_Integer pos = luaL_optinteger(L, 2, 1);
  u256 v = u_from64(0);
  if (pos < 1)
    return luaL_error(L, "u256.read_leb128: position %I is not >= 1", (LUAI_UACINT)pos);
  for (int i = 0;; i++) {
    if ((uint64_t)pos - 1 + (uint64_t)i >= len)
      return luaL_error(L, "u256.read_leb128: truncated encoding at position %I (%I bytes read)",
                        (LUAI_UACINT)pos, (LUAI_UACINT)i);
    unsigned b = s[pos - 1 + i];
    uint64_t g = b & 0x7f;
    int off = 7 * i;
    if (i == LEB_MAX_BYTES - 1) {
      if (b & 0x80)
        return luaL_error(L, "u256.read_leb128: over-long encoding at position %I (more than %d bytes)",
                          (LUAI_UACINT)pos, LEB_MAX_BYTES);
      if (g > 0x0f)
        return luaL_error(L, "u256.read_leb128: encoding at position %I exceeds 2^256-1",
                          (LUAI_UACINT)pos);
    }
    v.w[off / 64] |= g << (off % 64);
    if (off % 64 > 57 && off / 64 < 3)
      v.w[off / 64 + 1] |= g >> (64 - off % 64);
    if (!(b & 0x80)) {
      u_pushnorm(L, &v);
      lua_pushinteger(L, pos + i + 1);
      return 2;
    }
  }
}

/* u256.be(x [, n]): n big-endian bytes (default 32) */
static int l_be(lua_State *L) {
  u256 v = check_operand(L, 1);
  lua_Integer n = luaL_optinteger(L, 2, 32);
  unsigned char buf[32];
  if (n < 1 || n > 32)
    return luaL_error(L, "u256.be: %I bytes (1 to 32 expected)", (LUAI_UACINT)n);
  if (u_bits(&v) > 8 * n) {
    u_pushdecimal(L, &v);
    return luaL_error(L, "u256.be: %s does not fit in %I bytes", lua_tostring(L, -1),
                      (LUAI_UACINT)n);
  }
  for (int i = 0; i < n; i++)
    buf[n - 1 - i] = (unsigned char)(v.w[i / 8] >> (i % 8 * 8));
  lua_pushlstring(L, (const char *)buf, (size_t)n);
  return 1;
}

/* u256.from_be(s): the canonical value of 1 to 32 big-endian bytes */
static int l_from_be(lua_State *L) {
  size_t len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &len);
  u256 v = u_from64(0);
  if (len < 1 || len > 32)
    return luaL_error(L, "u256.from_be: %I bytes (1 to 32 expected)", (LUAI_UACINT)len);
  for (size_t i = 0; i < len; i++)
    v.w[i / 8] |= (uint64_t)s[len - 1 - i] << (i % 8 * 8);
  u_pushnorm(L, &v);
  return 1;
}

/* ---- the module ------------------------------------------------------------------------------- */

int luaopen_quarry_u256(lua_State *L) {
  static const luaL_Reg metamethods[] = {
    {"__tostring", l_tostring}, {"__add", l_mm_add},   {"__sub", l_mm_sub},
    {"__mul", l_mm_mul},        {"__idiv", l_mm_idiv}, {"__mod", l_mm_mod},
    {"__eq", l_mm_eq},          {"__lt", l_mm_lt},     {"__le", l_mm_le},
    {"__concat", l_mm_concat},  {NULL, NULL}};
  static const luaL_Reg methods[] = {{"hex", l_hex}, {NULL, NULL}};
  static const luaL_Reg functions[] = {
    {"new", l_new},         {"parse", l_parse},     {"format", l_format},
    {"tointeger", l_tointeger}, {"norm", l_norm},   {"is", l_is},
    {"add", l_add},         {"sub", l_sub},         {"cmp", l_cmp},
    {"leb128", l_leb128},   {"read_leb128", l_read_leb128},
    {"be", l_be},           {"from_be", l_from_be}, {NULL, NULL}};

  luaL_newmetatable(L, U256_MT); /* sets __name */
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);

  luaL_newlib(L, functions);
  u256 zero = u_from64(0), max = {{UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX}};
  u_push(L, &zero);
  lua_setfield(L, -2, "zero");
  u_push(L, &max);
  lua_setfield(L, -2, "max");
  lua_createtable(L, 0, 1); /* u256(x) */
  lua_pushcfunction(L, l_call);
  lua_setfield(L, -2, "__call");
  lua_setmetatable(L, -2);
  return 1;
}

/* hash.c: SHA-256 (the digest of a database's contents, the seal of a backup's meta file; the
 * x86 SHA extensions when the CPU has them) and CRC-32C (what BackupEngine records per file). */
#include "hash.h"

#include <pthread.h>
#include <string.h>

/* ---- SHA-256, FIPS 180-4 ------------------------------------------------------------------- */
/* First 32 bits of the fractional parts of the cube roots of the first 64 primes. */
static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static uint32_t load_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void compress_portable(uint32_t h[8], const unsigned char *block, size_t nblocks) {
  uint32_t w[64], a, b, c, d, e, f, g, k, t1, t2;
  int i;
  for (; nblocks > 0; nblocks--, block += 64) {
    for (i = 0; i < 16; i++)
      w[i] = load_be32(block + 4 * i);
    for (i = 16; i < 64; i++) {
      uint32_t s0 = ROTR(w[i - 15], 7) ^ ROTR(w[i - 15], 18) ^ (w[i - 15] >> 3);
      uint32_t s1 = ROTR(w[i - 2], 17) ^ ROTR(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (i = 0; i < 64; i++) {
      t1 = k + (ROTR(e, 6) ^ ROTR(e, 11) ^ ROTR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
      t2 = (ROTR(a, 2) ^ ROTR(a, 13) ^ ROTR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      k = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += k;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define Q_HAVE_SHA_NI 1

/* The x86 SHA extensions: the state lives in two registers, ABEF and CDGH; each
 * sha256rnds2 does two rounds; sha256msg1/msg2 compute the message schedule four words at a
 * time. Loop form: group i holds W[4i .. 4i+3]; slot m[i & 3] is reused for group i + 4. */
__attribute__((target("sha,sse4.1,ssse3"))) static void compress_sha_ni(uint32_t h[8],
                                                                         const unsigned char *p,
                                                                         size_t nblocks) {
  const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  __m128i s0, s1, t, abef, cdgh, m[4], msg;
  int i;
  t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&h[0]), 0xB1); /* BADC */
  s1 = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)(const void *)&h[4]), 0x1B); /* HGFE */
  s0 = _mm_alignr_epi8(t, s1, 8);     /* ABEF */
  s1 = _mm_blend_epi16(s1, t, 0xF0);  /* CDGH */
  for (; nblocks > 0; nblocks--, p += 64) {
    abef = s0;
    cdgh = s1;
    for (i = 0; i < 4; i++)
      m[i] = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * i)), bswap);
#pragma GCC unroll 16 /* constant slot indices: m[] stays in registers */
    for (i = 0; i < 16; i++) {
      msg = _mm_add_epi32(m[i & 3], _mm_loadu_si128((const __m128i *)(const void *)&K[4 * i]));
      s1 = _mm_sha256rnds2_epu32(s1, s0, msg);
      if (i >= 3 && i < 15) { /* finish group i + 1: + W[t-7..t-4], then the sigma1 terms */
        t = _mm_alignr_epi8(m[i & 3], m[(i + 3) & 3], 4);
        m[(i + 1) & 3] = _mm_sha256msg2_epu32(_mm_add_epi32(m[(i + 1) & 3], t), m[i & 3]);
      }
      msg = _mm_shuffle_epi32(msg, 0x0E);
      s0 = _mm_sha256rnds2_epu32(s0, s1, msg);
      if (i >= 1 && i < 13) /* start group i + 3 from group i - 1 (its rounds are done) */
        m[(i - 1) & 3] = _mm_sha256msg1_epu32(m[(i - 1) & 3], m[i & 3]);
    }
    s0 = _mm_add_epi32(s0, abef);
    s1 = _mm_add_epi32(s1, cdgh);
  }
  t = _mm_shuffle_epi32(s0, 0x1B);     /* FEBA */
  s1 = _mm_shuffle_epi32(s1, 0xB1);    /* DCHG */
  s0 = _mm_blend_epi16(t, s1, 0xF0);   /* DCBA */
  s1 = _mm_alignr_epi8(s1, t, 8);      /* HGFE */
  _mm_storeu_si128((__m128i *)(void *)&h[0], s0);
  _mm_storeu_si128((__m128i *)(void *)&h[4], s1);
}

static int cpu_has_sha_ni(void) {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 29))) /* SHA */
    return 0;
  if (!__get_cpuid(1, &a, &b, &c, &d))
    return 0;
  return (c & (1u << 19)) && (c & (1u << 9)); /* SSE4.1, SSSE3 */
}
#endif

typedef void (*compress_fn)(uint32_t h[8], const unsigned char *block, size_t nblocks);
static compress_fn compress = compress_portable;
static pthread_once_t sha_once = PTHREAD_ONCE_INIT;
static int sha_forced; /* q_sha256_use_hw was called: keep its choice */

static void sha_init(void) {
#ifdef Q_HAVE_SHA_NI
  if (!sha_forced && cpu_has_sha_ni())
    compress = compress_sha_ni;
#endif
}

int q_sha256_use_hw(int on) {
  pthread_once(&sha_once, sha_init);
  sha_forced = 1;
#ifdef Q_HAVE_SHA_NI
  if (on && cpu_has_sha_ni()) {
    compress = compress_sha_ni;
    return 1;
  }
#endif
  (void)on;
  compress = compress_portable;
  return 0;
}

void q_sha256_init(q_sha256 *s) {
  /* First 32 bits of the fractional parts of the square roots of the first 8 primes. */
  static const uint32_t h0[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  pthread_once(&sha_once, sha_init);
  memcpy(s->h, h0, sizeof h0);
  s->total = 0;
  s->nbuf = 0;
}

void q_sha256_update(q_sha256 *s, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  s->total += len;
  if (s->nbuf > 0) {
    size_t take = 64 - s->nbuf < len ? 64 - s->nbuf : len;
    memcpy(s->buf + s->nbuf, p, take);
    s->nbuf += take;
    p += take;
    len -= take;
    if (s->nbuf < 64)
      return;
    compress(s->h, s->buf, 1);
    s->nbuf = 0;
  }
  if (len >= 64) {
    compress(s->h, p, len / 64);
    p += len - len % 64;
    len %= 64;
  }
  if (len > 0) {
    memcpy(s->buf, p, len);
    s->nbuf = len;
  }
}

void q_sha256_u64(q_sha256 *s, uint64_t v) {
  unsigned char b[8];
  int i;
  for (i = 7; i >= 0; i--, v >>= 8)
    b[i] = (unsigned char)(v & 0xff);
  q_sha256_update(s, b, sizeof b);
}

void q_sha256_final(q_sha256 *s, unsigned char out[32]) {
  uint64_t bits = s->total * 8;
  int i;
  /* 0x80, zeros up to 56 mod 64, then the message length in bits, big-endian */
  s->buf[s->nbuf++] = 0x80;
  if (s->nbuf > 56) {
    memset(s->buf + s->nbuf, 0, 64 - s->nbuf);
    compress(s->h, s->buf, 1);
    s->nbuf = 0;
  }
  memset(s->buf + s->nbuf, 0, 56 - s->nbuf);
  for (i = 7; i >= 0; i--, bits >>= 8)
    s->buf[56 + i] = (unsigned char)(bits & 0xff);
  compress(s->h, s->buf, 1);
  for (i = 0; i < 8; i++) {
    out[4 * i] = (unsigned char)(s->h[i] >> 24);
    out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
    out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
    out[4 * i + 3] = (unsigned char)s->h[i];
  }
}

void q_hex(const unsigned char *bytes, size_t n, char *out) {
  static const char digits[] = "0123456789abcdef";
  size_t i;
  for (i = 0; i < n; i++) {
    out[2 * i] = digits[bytes[i] >> 4];
    out[2 * i + 1] = digits[bytes[i] & 15];
  }
  out[2 * n] = '\0';
}

/* ---- CRC-32C --------------------------------------------------------------------------------
 * Reflected polynomial 0x82F63B78, initial value and final xor ~0 (what RocksDB's crc32c::Value
 * computes and its backup meta files record, unmasked). Slicing-by-8 tables, built once. */
static uint32_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
  uint32_t i, c;
  int k;
  for (i = 0; i < 256; i++) {
    c = i;
    for (k = 0; k < 8; k++)
      c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    crc_table[0][i] = c;
  }
  for (i = 0; i < 256; i++)
    for (k = 1; k < 8; k++)
      crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^ crc_table[0][crc_table[k - 1][i] & 0xff];
}

uint32_t q_crc32c(uint32_t crc, const void *data, size_t len) {
  const unsigned char *p = (const unsigned char *)data;
  uint32_t c = ~crc;
  pthread_once(&crc_once, crc_init);
  while (len >= 8) {
    uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                       (uint32_t)p[3] << 24);
    c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
        crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^ crc_table[3][p[4]] ^
        crc_table[2][p[5]] ^ crc_table[1][p[6]] ^ crc_table[0][p[7]];
    p += 8;
    len -= 8;
  }
  while (len--)
    c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

/* hash.h: the hashes the core computes itself (hash.c): SHA-256 for digests and CRC-32C for
 * checking backups (private to the core). */
#ifndef QUARRY_HASH_H
#define QUARRY_HASH_H

#include <stddef.h>
#include <stdint.h>

/* ---- hash.c: SHA-256 (FIPS 180-4) and CRC-32C (Castagnoli, as RocksDB's backups record) ------ */
typedef struct {
  uint32_t h[8];
  uint64_t total;         /* bytes hashed so far */
  unsigned char buf[64];  /* pending partial block */
  size_t nbuf;
} q_sha256;

void q_sha256_init(q_sha256 *s);
void q_sha256_update(q_sha256 *s, const void *data, size_t len);
/* Writes the 32-byte digest; s must be re-initialised before reuse. */
void q_sha256_final(q_sha256 *s, unsigned char out[32]);
/* Hashes len as 8 bytes big-endian (the length prefix of the digest format). */
void q_sha256_u64(q_sha256 *s, uint64_t len);
/* Chooses the SHA-256 implementation: on != 0 the x86 SHA extensions when the CPU has them,
 * else the portable code. Returns 1 if the hardware path is now in use. (Tests run both.) Not
 * to be called while another thread hashes. */
int q_sha256_use_hw(int on);
/* Lowercase hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void q_hex(const unsigned char *bytes, size_t n, char *out);

/* Continues a CRC-32C: start with crc = 0; returns the CRC of everything fed so far. */
uint32_t q_crc32c(uint32_t crc, const void *data, size_t len);

#endif

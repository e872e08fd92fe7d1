/* durable.h: private helpers shared by the durability sources (checkpoint.c, backup.c, verify.c):
 * the hashes (hash.c) and the filesystem steps that make copies durable (files.c). */
#ifndef QUARRY_DURABLE_H
#define QUARRY_DURABLE_H

#include "internal.h"

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

/* ---- files.c ---------------------------------------------------------------------------------- */
/* fsyncs the directory path (opened O_RDONLY | O_DIRECTORY). QUARRY_EIO naming it on failure. */
int q_fsync_dir(const char *path);
/* fsyncs the directory that contains path (its parent; "." for a bare name). */
int q_fsync_parent(const char *path);
/* Copies path into buf (size cap) without its trailing slashes ("a/b//" -> "a/b"; "/" stays).
 * Returns 0, or QUARRY_EINVAL (naming path) if it does not fit. Directory names derived from a
 * path ("<dir>.tmp") must not land inside it. */
int q_trim_slashes(const char *path, char *buf, size_t cap);
/* Writes the parent directory of path into buf (size cap). Returns 0, or EINVAL if too long. */
int q_parent_dir(const char *path, char *buf, size_t cap);
/* Checks that path does not exist and that its parent is an existing directory. what names the
 * path in messages ("checkpoint target"). Existing: QUARRY_EINVAL "... already exists; choose a
 * new directory"; missing parent: QUARRY_EIO naming the parent. */
int q_check_new_dir(const char *path, const char *what);
/* 1 if path is a directory with no entries besides . and .., 0 if not, -1 if it does not exist. */
int q_dir_is_empty(const char *path);
/* Removes path and everything under it (no symlink is followed). Missing path: success. */
int q_remove_tree(const char *path);
/* Is the RocksDB LOCK file under dir held? 0: no (or no LOCK file), 1: by this process,
 * 2: by another process. Uses an open-file-description lock probe, which conflicts with the
 * POSIX lock RocksDB holds whoever holds it, and never drops that lock. */
int q_lock_holder(const char *dir);
/* Reads a whole small file into a malloc'd NUL-terminated buffer (*len without the NUL). */
int q_read_file(const char *path, char **out, size_t *len);

#endif

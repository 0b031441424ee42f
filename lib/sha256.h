/* SHA-256 (FIPS 180-4), used to check model files against an expected
 * digest before libtorch parses them. Internal; hidden. */
#ifndef BW_SHA256_H
#define BW_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct bw_sha256 {
    uint32_t h[8];
    uint64_t bytes;     /* total message length so far */
    uint8_t block[64];  /* pending partial block */
    size_t fill;
} bw_sha256;

void bw_sha256_init(bw_sha256 *s);
void bw_sha256_update(bw_sha256 *s, const void *data, size_t n);
void bw_sha256_final(bw_sha256 *s, uint8_t digest[32]);

/* One-shot digest as 64 lowercase hex digits plus NUL. */
void bw_sha256_hex(const void *data, size_t n, char hex[65]);

#endif /* BW_SHA256_H */

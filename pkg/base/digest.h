/* Message digests over OpenSSL EVP. Thread-safety: thread-safe. */
#ifndef DTK_BASE_DIGEST_H
#define DTK_BASE_DIGEST_H

#include <stddef.h>

#define DTK_DIGEST_SHA256_SIZE 32
/* 64 lowercase hex digits and the NUL. */
#define DTK_DIGEST_SHA256_HEX_SIZE 65

/* SHA-256 of data[0..len) as lowercase hex into out. Returns DTK_ERROR only
 * when OpenSSL fails (no SHA-256 provider). */
int dtk_digest_sha256_hex(char out[DTK_DIGEST_SHA256_HEX_SIZE],
                          const void *data,
                          size_t len);

#endif

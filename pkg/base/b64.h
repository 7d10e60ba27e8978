/* Base64 (RFC 4648 §4) over OpenSSL EVP. Thread-safety: thread-safe. */
#ifndef DTK_BASE_B64_H
#define DTK_BASE_B64_H

#include <stddef.h>

#include "pkg/base/buf.h"

/* Appends the standard encoding (with padding) of data to out. Returns
 * DTK_ETOOBIG when out's limit is reached. */
int dtk_b64_encode(dtk_buf *out, const void *data, size_t len);

/* Appends the decoded bytes of text[0..len) to out. Whitespace is not
 * accepted. Returns DTK_EINVALID for anything that is not canonical padded
 * base64. out stays NUL-terminated; the data may contain NULs. */
int dtk_b64_decode(dtk_buf *out, const char *text, size_t len);

#endif

/* Base64 (RFC 4648, standard alphabet, padded) through OpenSSL EVP.
 * Thread-safety: thread-safe.
 *
 * Used for kubeconfig *-data fields and Secret values. Decoding is strict
 * about the alphabet and padding (like Go's base64.StdEncoding, which is what
 * Kubernetes uses), but, like Go, ignores CR and LF so wrapped text decodes.
 */
#ifndef DTK_BASE_B64_H
#define DTK_BASE_B64_H

#include <stddef.h>

#include "pkg/base/buf.h"

/* Appends the base64 text of data[0..len) to out. Returns DTK_ETOOBIG when
 * out's limit would be exceeded. */
int dtk_b64_encode(dtk_buf *out, const void *data, size_t len);

/* Appends the URL-safe encoding (RFC 4648 section 5: "-" and "_" instead of
 * "+" and "/"), with padding, as Go's base64.URLEncoding writes it (Docker's
 * X-Registry-Auth header). Returns DTK_ETOOBIG when out's limit would be
 * exceeded. */
int dtk_b64_encode_url(dtk_buf *out, const void *data, size_t len);

/* Appends the bytes encoded by text[0..len) to out. Returns DTK_EINVALID
 * (message "not valid base64", never quoting the input) on a character
 * outside the alphabet, bad padding or a truncated group, DTK_ETOOBIG when
 * out's limit would be exceeded. On error out is left as it was. */
int dtk_b64_decode(dtk_buf *out, const char *text, size_t len);

#endif

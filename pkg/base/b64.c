#include "pkg/base/b64.h"

#include <stdint.h>

#include <openssl/evp.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

int dtk_b64_encode(dtk_buf *out, const void *data, size_t len)
{
    size_t enc_len = 4 * ((len + 2) / 3);
    unsigned char *tmp;
    int error;

    if (len > (size_t)INT32_MAX / 2) {
        dtk_error_set(DTK_ERRCLASS_NONE, "base64 input of %zu bytes is too "
                      "large", len);
        return DTK_ETOOBIG;
    }
    tmp = dtk_malloc(enc_len + 1);
    EVP_EncodeBlock(tmp, data, (int)len);
    error = dtk_buf_put(out, tmp, enc_len);
    dtk_free(tmp);
    return error;
}

static int is_b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

int dtk_b64_decode(dtk_buf *out, const char *text, size_t len)
{
    size_t pad = 0;
    unsigned char *tmp;
    int n;
    int error;

    if (len % 4 != 0 || len > (size_t)INT32_MAX / 2) {
        goto invalid;
    }
    /* EVP_DecodeBlock skips whitespace and accepts some junk: check the
     * alphabet and padding here so only canonical text passes. */
    while (pad < 2 && pad < len && text[len - 1 - pad] == '=') {
        pad++;
    }
    for (size_t i = 0; i < len - pad; i++) {
        if (!is_b64_char((unsigned char)text[i])) {
            goto invalid;
        }
    }
    if (len == 0) {
        return 0;
    }
    tmp = dtk_malloc(len);
    n = EVP_DecodeBlock(tmp, (const unsigned char *)text, (int)len);
    if (n < 0) {
        dtk_free(tmp);
        goto invalid;
    }
    error = dtk_buf_put(out, tmp, (size_t)n - pad);
    dtk_free(tmp);
    return error;
invalid:
    dtk_error_set(DTK_ERRCLASS_INVALID, "illegal base64 data");
    return DTK_EINVALID;
}

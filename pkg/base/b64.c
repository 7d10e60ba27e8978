/* Base64 through OpenSSL EVP (see b64.h).
 *
 * EVP_DecodeUpdate is lenient in ways Kubernetes is not: it skips spaces and
 * treats '-' as end of data (its PEM heritage). So the input is checked here
 * first (alphabet, padding only at the end, whole groups of four) and only
 * CR/LF are dropped before EVP_DecodeBlock, which then never fails.
 */
#include "pkg/base/b64.h"

#include <string.h>

#include <openssl/evp.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

int dtk_b64_encode(dtk_buf *out, const void *data, size_t len)
{
    size_t groups = (len + 2) / 3;
    size_t need = groups * 4;
    unsigned char *tmp = NULL;
    int error = 0;

    if (len == 0) {
        return dtk_buf_put(out, "", 0);
    }
    if (len > (size_t)1 << 30) {
        dtk_error_set(DTK_ERRCLASS_NONE, "base64 input exceeds 1 GiB");
        return DTK_ETOOBIG;
    }
    tmp = dtk_malloc(need + 1);
    /* EVP_EncodeBlock takes an int length; bounded above. */
    if ((size_t)EVP_EncodeBlock(tmp, data, (int)len) != need) {
        dtk_error_set(DTK_ERRCLASS_NONE, "base64 encoding failed");
        error = DTK_ERROR;
        goto out;
    }
    error = dtk_buf_put(out, tmp, need);
out:
    dtk_free(tmp);
    return error;
}

int dtk_b64_encode_url(dtk_buf *out, const void *data, size_t len)
{
    size_t start = out->len;
    int error = dtk_b64_encode(out, data, len);

    if (error < 0) {
        return error;
    }
    for (size_t i = start; i < out->len; i++) {
        if (out->ptr[i] == '+') {
            out->ptr[i] = '-';
        } else if (out->ptr[i] == '/') {
            out->ptr[i] = '_';
        }
    }
    return 0;
}

static int b64_char(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* The scratch copies may hold key material: wipe them before freeing. */
static void free_wiped(unsigned char *p, size_t len)
{
    if (p != NULL) {
        volatile unsigned char *v = p;

        for (size_t i = 0; i < len; i++) {
            v[i] = 0;
        }
        dtk_free(p);
    }
}

static int bad_input(void)
{
    dtk_error_set(DTK_ERRCLASS_INVALID, "not valid base64");
    return DTK_EINVALID;
}

int dtk_b64_decode(dtk_buf *out, const char *text, size_t len)
{
    unsigned char *clean = NULL;
    unsigned char *bytes = NULL;
    size_t n = 0;
    size_t pad = 0;
    int decoded;
    int error = 0;

    if (len > (size_t)1 << 30) {
        dtk_error_set(DTK_ERRCLASS_NONE, "base64 input exceeds 1 GiB");
        return DTK_ETOOBIG;
    }
    clean = dtk_malloc(len + 1);
    for (size_t i = 0; i < len && error == 0; i++) {
        unsigned char c = (unsigned char)text[i];

        if (c == '\r' || c == '\n') {
            continue;
        }
        if (c == '=') {
            pad++;
        } else if (!b64_char(c) || pad > 0) {
            /* outside the alphabet, or data after padding */
            error = bad_input();
        }
        clean[n++] = c;
    }
    if (error == 0 && (n % 4 != 0 || pad > 2)) {
        error = bad_input();
    }
    if (error < 0 || n == 0) {
        goto out;
    }
    bytes = dtk_malloc(n / 4 * 3 + 1);
    decoded = EVP_DecodeBlock(bytes, clean, (int)n);
    if (decoded < 0 || (size_t)decoded != n / 4 * 3) {
        error = bad_input();
        goto out;
    }
    /* EVP_DecodeBlock counts padding as zero bytes. */
    error = dtk_buf_put(out, bytes, (size_t)decoded - pad);
out:
    free_wiped(clean, len + 1);
    free_wiped(bytes, n / 4 * 3 + 1);
    return error;
}

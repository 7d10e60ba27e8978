#include "pkg/base/digest.h"

#include <openssl/evp.h>

#include "pkg/base/error.h"

int dtk_digest_sha256_hex(char out[DTK_DIGEST_SHA256_HEX_SIZE],
                          const void *data,
                          size_t len)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;

    out[0] = '\0';
    if (EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) != 1 ||
        md_len != DTK_DIGEST_SHA256_SIZE) {
        dtk_error_set(DTK_ERRCLASS_NONE, "sha-256 digest failed in openssl");
        return DTK_ERROR;
    }
    for (size_t i = 0; i < md_len; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * (size_t)md_len] = '\0';
    return 0;
}

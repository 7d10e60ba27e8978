/* Small ObjectMeta helpers for the API server. */
#include "cmd/dtk-apiserver/apiserver.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/clock.h"
#include "pkg/base/error.h"

void dtk_meta_now(char *out, size_t size)
{
    dtk_clock_rfc3339(out, size, 0);
}

/* A random (version 4) UUID from /dev/urandom. */
void dtk_meta_uid(char *out, size_t size)
{
    unsigned char b[16] = {0};
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

    if (fd < 0 || read(fd, b, sizeof(b)) != (ssize_t)sizeof(b)) {
        /* Not expected on Linux; uniqueness then comes from the clock. */
        int64_t t = dtk_clock_now_ms();

        memcpy(b, &t, sizeof(t));
    }
    if (fd >= 0) {
        close(fd);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    snprintf(out, size,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
             "%02x%02x%02x%02x%02x%02x",
             b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
             b[10], b[11], b[12], b[13], b[14], b[15]);
}

const char *dtk_meta_get(const dtk_json *obj, const char *field)
{
    return dtk_json_get_string(dtk_json_get(obj, "metadata"), field);
}

dtk_json *dtk_meta_of(dtk_json *obj)
{
    static const char *const path[] = {"metadata", NULL};

    return dtk_json_ensure_object(obj, path);
}

int64_t dtk_meta_rv(const dtk_json *obj)
{
    const char *rv = dtk_meta_get(obj, "resourceVersion");
    char *end = NULL;
    long long n;

    if (rv == NULL) {
        return 0;
    }
    n = strtoll(rv, &end, 10);
    return end && *end == '\0' ? (int64_t)n : -1;
}

int dtk_meta_is_dns_label(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && !(c == '-' && i > 0 && i < n - 1)) {
            return 0;
        }
    }
    return 1;
}

int dtk_meta_is_dns_subdomain(const char *s)
{
    size_t n = strlen(s);
    const char *label = s;

    if (n == 0 || n > 253) {
        return 0;
    }
    for (;;) {
        const char *dot = strchr(label, '.');
        size_t len = dot ? (size_t)(dot - label) : strlen(label);
        char part[64];

        if (len == 0 || len > 63) {
            return 0;
        }
        memcpy(part, label, len);
        part[len] = '\0';
        if (!dtk_meta_is_dns_label(part, 63)) {
            return 0;
        }
        if (dot == NULL) {
            return 1;
        }
        label = dot + 1;
    }
}


/* timegm is a BSD/GNU extension, not POSIX. */
#define _DEFAULT_SOURCE
#include "pkg/base/clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pkg/base/error.h"

int64_t dtk_clock_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void dtk_clock_format_rfc3339(char *out, size_t size, time_t when)
{
    struct tm tm;

    gmtime_r(&when, &tm);
    strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

void dtk_clock_rfc3339(char *out, size_t size, int micro)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    if (!micro) {
        strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return;
    }
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, size, "%s.%06ldZ", base, ts.tv_nsec / 1000);
}

static int digits(const char *p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }
        v = v * 10 + (p[i] - '0');
    }
    *out = v;
    return 0;
}

int dtk_clock_parse_rfc3339(time_t *out, const char *text)
{
    struct tm tm;
    int year, mon, day, hour, min, sec;
    const char *p = text;
    long offset = 0;

    memset(&tm, 0, sizeof(tm));
    if (strlen(text) < 20 || digits(p, 4, &year) || p[4] != '-' ||
        digits(p + 5, 2, &mon) || p[7] != '-' || digits(p + 8, 2, &day) ||
        (p[10] != 'T' && p[10] != 't') || digits(p + 11, 2, &hour) ||
        p[13] != ':' || digits(p + 14, 2, &min) || p[16] != ':' ||
        digits(p + 17, 2, &sec)) {
        goto invalid;
    }
    p += 19;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') {
            p++;
        }
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        int sign = *p == '-' ? -1 : 1;

        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om)) {
            goto invalid;
        }
        offset = sign * (oh * 3600L + om * 60L);
        p += 6;
    } else {
        goto invalid;
    }
    if (*p != '\0' || mon < 1 || mon > 12 || day < 1 || day > 31 ||
        hour > 23 || min > 59 || sec > 60) {
        goto invalid;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hour;
    tm.tm_min = min;
    tm.tm_sec = sec;
    *out = timegm(&tm) - offset;
    return 0;
invalid:
    dtk_error_set(DTK_ERRCLASS_INVALID, "'%.40s' is not an RFC 3339 time",
                  text);
    return DTK_EINVALID;
}

void dtk_clock_sleep_ms(int64_t ms)
{
    struct timespec ts;

    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

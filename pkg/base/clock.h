/* Time helpers. Thread-safety: thread-safe. */
#ifndef DTK_BASE_CLOCK_H
#define DTK_BASE_CLOCK_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds on the monotonic clock: for deadlines and durations. */
int64_t dtk_clock_now_ms(void);

/* Wall-clock now as RFC 3339 UTC with second precision
 * ("2026-11-23T10:00:00Z"), or with microseconds (Kubernetes MicroTime)
 * when micro is set. out must hold at least 32 bytes. */
void dtk_clock_rfc3339(char *out, size_t size, int micro);

/* Formats a given epoch second as RFC 3339 UTC. */
void dtk_clock_format_rfc3339(char *out, size_t size, time_t when);

/* Parses RFC 3339 ("Z" or "+hh:mm" offsets, optional fraction) into epoch
 * seconds. Returns DTK_EINVALID on anything else. */
int dtk_clock_parse_rfc3339(time_t *out, const char *text);

/* Sleeps for ms milliseconds (restarting after signals). */
void dtk_clock_sleep_ms(int64_t ms);

#endif

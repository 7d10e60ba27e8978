/* Rate limiting (client-go's default_rate_limiters.go):
 * - per key: ItemExponentialFailureRateLimiter, base * 2^failures capped at
 *   max, with the failure count kept in the key's entry until forget;
 * - overall (optional): a token bucket of qps tokens per second holding at
 *   most burst, reserved like golang.org/x/time/rate's Reserve().Delay():
 *   the bucket may go negative, and the delay is the time to pay it back.
 * The delay of a rate-limited add is the larger of the two (MaxOf).
 */
#include "pkg/workqueue/workqueue_int.h"

#include <limits.h>

#include "pkg/base/error.h"

int64_t dtk_workqueue__backoff_ns(dtk_workqueue *q,
                                  const dtk_workqueue__entry *e)
{
    unsigned exp = e != NULL ? e->failures : 0;
    int64_t base = q->base_delay_ns;

    if (exp >= 62 || base > (q->max_delay_ns >> exp)) {
        return q->max_delay_ns;
    }
    return base << exp;
}

int64_t dtk_workqueue__bucket_delay_ns(dtk_workqueue *q, int64_t now_ns)
{
    if (q->qps <= 0) {
        return 0;
    }
    if (now_ns > q->tokens_ns) {
        q->tokens += (double)(now_ns - q->tokens_ns) / 1e9 * q->qps;
        if (q->tokens > q->burst) {
            q->tokens = q->burst;
        }
        q->tokens_ns = now_ns;
    }
    q->tokens -= 1;
    if (q->tokens >= 0) {
        return 0;
    }
    return (int64_t)(-q->tokens / q->qps * 1e9);
}

int dtk_workqueue_add_rate_limited(dtk_workqueue *q, const char *key)
{
    int error = dtk_workqueue__check_key(q, key);
    dtk_workqueue__entry *e;
    int64_t now;
    int64_t delay;
    int64_t bucket;

    if (error < 0) {
        return error;
    }
    pthread_mutex_lock(&q->lock);
    if (q->shutting_down) {
        pthread_mutex_unlock(&q->lock);
        return dtk_workqueue__shutdown_error(q);
    }
    now = dtk_workqueue__now_ns();
    e = dtk_workqueue__lookup(q, key, 1);
    delay = dtk_workqueue__backoff_ns(q, e);
    if (e->failures < UINT_MAX) {
        e->failures++;
    }
    bucket = dtk_workqueue__bucket_delay_ns(q, now);
    if (bucket > delay) {
        delay = bucket;
    }
    dtk_metrics_counter_inc(q->m_retries);
    if (delay <= 0) {
        dtk_workqueue__add_locked(q, e);
    } else {
        dtk_workqueue__heap_schedule(q, e, now + delay);
    }
    pthread_mutex_unlock(&q->lock);
    return 0;
}

int64_t dtk_workqueue_backoff_ms(dtk_workqueue *q, const char *key)
{
    int64_t ns;

    pthread_mutex_lock(&q->lock);
    ns = dtk_workqueue__backoff_ns(
        q, key != NULL ? dtk_workqueue__lookup(q, key, 0) : NULL);
    pthread_mutex_unlock(&q->lock);
    return ns / DTK_WORKQUEUE__NS_PER_MS;
}

void dtk_workqueue_forget(dtk_workqueue *q, const char *key)
{
    dtk_workqueue__entry *e;

    if (key == NULL) {
        return;
    }
    pthread_mutex_lock(&q->lock);
    e = dtk_workqueue__lookup(q, key, 0);
    if (e != NULL) {
        e->failures = 0;
        dtk_workqueue__release(q, e);
    }
    pthread_mutex_unlock(&q->lock);
}

int dtk_workqueue_num_requeues(dtk_workqueue *q, const char *key)
{
    dtk_workqueue__entry *e;
    int n = 0;

    if (key == NULL) {
        return 0;
    }
    pthread_mutex_lock(&q->lock);
    e = dtk_workqueue__lookup(q, key, 0);
    if (e != NULL) {
        n = e->failures > INT_MAX ? INT_MAX : (int)e->failures;
    }
    pthread_mutex_unlock(&q->lock);
    return n;
}

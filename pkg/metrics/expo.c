/* Prometheus text exposition format 0.0.4 (see metrics.h for the ordering
 * and number format rules, which follow client_golang's expfmt).
 *
 * The registry lock is held only to copy the family list and each family's
 * lock only to copy its series list: families and series are never removed
 * while the registry lives, and values are read atomically, so updates go on
 * while a scrape writes.
 */
#include "pkg/metrics/metrics_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

/* A buffer writer with a sticky error, so the writing code reads straight
 * through and the status is checked once per family. */
typedef struct writer {
    dtk_buf *buf;
    int error;
} writer;

static void put(writer *w, const char *s, size_t n)
{
    if (w->error == 0) {
        w->error = dtk_buf_put(w->buf, s, n);
    }
}

static void put_str(writer *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Escapes backslash and newline (HELP text), plus the double quote when
 * quote is set (label values). */
static void put_escaped(writer *w, const char *s, int quote)
{
    const char *start = s;

    for (; *s != '\0'; s++) {
        const char *rep = NULL;

        if (*s == '\\') {
            rep = "\\\\";
        } else if (*s == '\n') {
            rep = "\\n";
        } else if (quote && *s == '"') {
            rep = "\\\"";
        }
        if (rep != NULL) {
            put(w, start, (size_t)(s - start));
            put_str(w, rep);
            start = s + 1;
        }
    }
    put(w, start, (size_t)(s - start));
}

/* Decimal exponent of a "%e" rendering ("1.5e-07" -> -7). */
static int exponent_of(const char *e_text)
{
    const char *p = strchr(e_text, 'e');
    int sign = 1;
    int exp = 0;

    dtk_assert(p != NULL);
    p++;
    if (*p == '-') {
        sign = -1;
        p++;
    } else if (*p == '+') {
        p++;
    }
    for (; *p >= '0' && *p <= '9'; p++) {
        exp = exp * 10 + (*p - '0');
    }
    return sign * exp;
}

/* v with prec significant digits in the exponent form ("1.5e-07"). A
 * double needs at most 24 characters here. */
static void format_e(char *out, size_t size, int prec, double v)
{
    int n = snprintf(out, size, "%.*e", prec - 1, v);

    dtk_assert(n > 0 && (size_t)n < size);
}

void dtk_metrics__format_double(char *out, size_t size, double v)
{
    char tmp[40];
    int prec;
    int exp;
    int n;

    if (isnan(v)) {
        n = snprintf(out, size, "NaN");
    } else if (isinf(v)) {
        n = snprintf(out, size, "%s", v > 0 ? "+Inf" : "-Inf");
    } else if (v == 0) {
        n = snprintf(out, size, "%s", signbit(v) ? "-0" : "0");
    } else {
        /* The shortest digit count that reads back as the same double
         * (17 always does). */
        for (prec = 1; prec < 17; prec++) {
            format_e(tmp, sizeof(tmp), prec, v);
            if (strtod(tmp, NULL) == v) {
                break;
            }
        }
        format_e(tmp, sizeof(tmp), prec, v);
        exp = exponent_of(tmp);
        /* Go's 'g' with shortest precision switches to the exponent form
         * below 1e-4 and from 1e+06 on (it decides with precision 6). */
        if (exp < -4 || exp >= 6) {
            n = snprintf(out, size, "%s", tmp);
        } else {
            int decimals = prec - 1 - exp;

            n = snprintf(out, size, "%.*f", decimals > 0 ? decimals : 0, v);
        }
    }
    dtk_assert(n > 0 && (size_t)n < size);
}

static void put_double(writer *w, double v)
{
    char num[40];

    dtk_metrics__format_double(num, sizeof(num), v);
    put_str(w, num);
}

static void put_uint(writer *w, uint64_t v)
{
    char num[32];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)v);

    dtk_assert(n > 0 && (size_t)n < sizeof(num));
    put(w, num, (size_t)n);
}

/* "{a="x",b="y",le="0.5"}" in label-name order, "le" last; nothing when
 * there are no labels at all. */
static void put_labels(writer *w, const dtk_metrics_series *s, const char *le)
{
    const dtk_metrics_family *f = s->family;
    size_t i;

    if (f->nlabels == 0 && le == NULL) {
        return;
    }
    put_str(w, "{");
    for (i = 0; i < f->nlabels; i++) {
        size_t idx = f->sorted[i];

        if (i > 0) {
            put_str(w, ",");
        }
        put_str(w, f->labels[idx]);
        put_str(w, "=\"");
        put_escaped(w, s->values[idx], 1);
        put_str(w, "\"");
    }
    if (le != NULL) {
        put_str(w, f->nlabels > 0 ? ",le=\"" : "le=\"");
        put_str(w, le);
        put_str(w, "\"");
    }
    put_str(w, "}");
}

static void put_sample_name(writer *w,
                            const dtk_metrics_family *f,
                            const char *suffix)
{
    put_str(w, f->name);
    put_str(w, suffix);
}

static void write_histogram(writer *w, const dtk_metrics_series *s)
{
    const dtk_metrics_family *f = s->family;
    uint64_t cumulative = 0;
    char le[40];
    size_t i;

    for (i = 0; i <= f->nbuckets; i++) {
        cumulative += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
        if (i < f->nbuckets) {
            dtk_metrics__format_double(le, sizeof(le), f->buckets[i]);
        } else {
            memcpy(le, "+Inf", 5);
        }
        put_sample_name(w, f, "_bucket");
        put_labels(w, s, le);
        put_str(w, " ");
        put_uint(w, cumulative);
        put_str(w, "\n");
    }
    put_sample_name(w, f, "_sum");
    put_labels(w, s, NULL);
    put_str(w, " ");
    put_double(w, dtk_metrics__load_double(&s->bits));
    put_str(w, "\n");
    /* The count is the +Inf bucket, so the two always agree. */
    put_sample_name(w, f, "_count");
    put_labels(w, s, NULL);
    put_str(w, " ");
    put_uint(w, cumulative);
    put_str(w, "\n");
}

static int compare_families(const void *a, const void *b)
{
    const dtk_metrics_family *fa = *(const dtk_metrics_family *const *)a;
    const dtk_metrics_family *fb = *(const dtk_metrics_family *const *)b;

    return strcmp(fa->name, fb->name);
}

static int compare_series(const void *a, const void *b)
{
    const dtk_metrics_series *sa = *(const dtk_metrics_series *const *)a;
    const dtk_metrics_series *sb = *(const dtk_metrics_series *const *)b;
    const dtk_metrics_family *f = sa->family;
    size_t i;

    for (i = 0; i < f->nlabels; i++) {
        int c = strcmp(sa->values[f->sorted[i]], sb->values[f->sorted[i]]);

        if (c != 0) {
            return c;
        }
    }
    return 0;
}

static const char *type_name(dtk_metrics_type type)
{
    switch (type) {
    case DTK_METRICS_COUNTER:
        return "counter";
    case DTK_METRICS_GAUGE:
        return "gauge";
    case DTK_METRICS_HISTOGRAM:
        return "histogram";
    }
    return "untyped";
}

static void write_family(writer *w, dtk_metrics_family *f)
{
    dtk_metrics_series **list = NULL;
    size_t n = 0;
    size_t i;

    pthread_mutex_lock(&f->lock);
    if (f->count > 0) {
        list = dtk_malloc(f->count * sizeof(dtk_metrics_series *));
        for (i = 0; i < f->table_size; i++) {
            dtk_metrics_series *s;

            for (s = f->table[i]; s != NULL; s = s->next) {
                list[n++] = s;
            }
        }
    }
    pthread_mutex_unlock(&f->lock);
    if (n == 0) {
        goto out;
    }
    qsort(list, n, sizeof(dtk_metrics_series *), compare_series);

    put_str(w, "# HELP ");
    put_str(w, f->name);
    put_str(w, " ");
    put_escaped(w, f->help, 0);
    put_str(w, "\n# TYPE ");
    put_str(w, f->name);
    put_str(w, " ");
    put_str(w, type_name(f->type));
    put_str(w, "\n");
    for (i = 0; i < n && w->error == 0; i++) {
        if (f->type == DTK_METRICS_HISTOGRAM) {
            write_histogram(w, list[i]);
            continue;
        }
        put_sample_name(w, f, "");
        put_labels(w, list[i], NULL);
        put_str(w, " ");
        put_double(w, dtk_metrics_value(list[i]));
        put_str(w, "\n");
    }
out:
    dtk_free(list);
}

int dtk_metrics_write(dtk_buf *out, dtk_metrics_registry *reg)
{
    dtk_metrics_family **families = NULL;
    writer w = {out, 0};
    dtk_metrics_family *f;
    size_t n = 0;
    size_t i;

    pthread_mutex_lock(&reg->lock);
    if (reg->count > 0) {
        families = dtk_malloc(reg->count * sizeof(dtk_metrics_family *));
        for (f = reg->families; f != NULL; f = f->next) {
            families[n++] = f;
        }
    }
    pthread_mutex_unlock(&reg->lock);
    if (n > 0) {
        qsort(families, n, sizeof(dtk_metrics_family *), compare_families);
    }
    for (i = 0; i < n && w.error == 0; i++) {
        write_family(&w, families[i]);
    }
    if (w.error < 0) {
        dtk_error_set(DTK_ERRCLASS_NONE,
                      "metrics exposition: larger than the buffer limit of "
                      "%zu bytes",
                      out->limit);
    }
    dtk_free(families);
    return w.error;
}

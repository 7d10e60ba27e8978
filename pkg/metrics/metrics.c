/* Metrics registry and series updates (see metrics.h).
 *
 * Locking: the registry mutex guards the family list; each family's mutex
 * guards its series hash table. Series are never removed before the registry
 * is freed, so a series pointer, once handed out, is used without any lock:
 * updates are relaxed atomics (the values are independent statistics; the
 * exposition needs no ordering between them).
 */
#include "pkg/metrics/metrics_int.h"

#include <math.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

const double dtk_metrics_reconcile_buckets[DTK_METRICS_RECONCILE_BUCKETS_LEN] =
    {0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3,  0.35,
     0.4,   0.45, 0.5,   0.6,  0.7, 0.8,  0.9, 1.0,  1.25, 1.5,
     1.75,  2.0,  2.5,   3.0,  3.5, 4.0,  4.5, 5,    6,    7,
     8,     9,    10,    15,   20,  25,   30,  40,   50,   60};

#define SERIES_TABLE_INITIAL 8

void dtk_metrics_exponential_buckets(double *out,
                                     double start,
                                     double factor,
                                     size_t count)
{
    size_t i;

    dtk_assert(start > 0 && factor > 1);
    for (i = 0; i < count; i++) {
        out[i] = start;
        start *= factor;
    }
}

/* ---- atomic doubles ---------------------------------------------------- */

static uint64_t double_bits(double v)
{
    uint64_t b;

    memcpy(&b, &v, sizeof(b));
    return b;
}

static double bits_double(uint64_t b)
{
    double v;

    memcpy(&v, &b, sizeof(v));
    return v;
}

double dtk_metrics__load_double(const _Atomic uint64_t *bits)
{
    /* atomic_load takes a non-const pointer in C11. */
    return bits_double(
        atomic_load_explicit((_Atomic uint64_t *)bits, memory_order_relaxed));
}

static void atomic_add_double(_Atomic uint64_t *bits, double v)
{
    uint64_t old = atomic_load_explicit(bits, memory_order_relaxed);
    uint64_t next;

    do {
        next = double_bits(bits_double(old) + v);
    } while (!atomic_compare_exchange_weak_explicit(
        bits, &old, next, memory_order_relaxed, memory_order_relaxed));
}

/* ---- validation -------------------------------------------------------- */

static int is_name_start(char c, int colon_ok)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
           (colon_ok && c == ':');
}

static int is_name_char(char c, int colon_ok)
{
    return is_name_start(c, colon_ok) || (c >= '0' && c <= '9');
}

/* Metric names: [a-zA-Z_:][a-zA-Z0-9_:]*; label names: [a-zA-Z_][a-zA-Z0-9_]*
 * (the data model's legacy character sets, valid in format 0.0.4). */
static int valid_name(const char *s, int colon_ok)
{
    size_t i;

    if (s == NULL || !is_name_start(s[0], colon_ok)) {
        return 0;
    }
    for (i = 1; s[i] != '\0'; i++) {
        if (!is_name_char(s[i], colon_ok)) {
            return 0;
        }
    }
    return 1;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned char c = *p;
        size_t n;
        uint32_t cp;
        size_t i;

        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        for (i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        /* Overlong forms, surrogates and values past U+10FFFF. */
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
            (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff)) {
            return 0;
        }
        p += n + 1;
    }
    return 1;
}

static size_t count_strings(const char *const *list)
{
    size_t n = 0;

    while (list != NULL && list[n] != NULL) {
        n++;
    }
    return n;
}

static int validate_desc(const dtk_metrics_desc *desc,
                         size_t nlabels,
                         size_t *nbuckets_out)
{
    const char *name = desc->name;
    size_t nbuckets = desc->nbuckets;
    size_t i;
    size_t j;

    if (name == NULL || name[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID, "metric name: must not be empty");
        return DTK_EINVALID;
    }
    if (!valid_name(name, 1)) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metric name '%s': must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                      name);
        return DTK_EINVALID;
    }
    if (desc->type != DTK_METRICS_COUNTER && desc->type != DTK_METRICS_GAUGE &&
        desc->type != DTK_METRICS_HISTOGRAM) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "metric '%s': unknown type %d",
                      name, (int)desc->type);
        return DTK_EINVALID;
    }
    if (!valid_utf8(desc->help)) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metric '%s': help must be valid UTF-8 text", name);
        return DTK_EINVALID;
    }
    if (nlabels > DTK_METRICS_MAX_LABELS) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metric '%s': %zu labels, at most %d allowed", name,
                      nlabels, DTK_METRICS_MAX_LABELS);
        return DTK_EINVALID;
    }
    for (i = 0; i < nlabels; i++) {
        const char *label = desc->labels[i];

        if (!valid_name(label, 0) || strncmp(label, "__", 2) == 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "metric '%s': label name '%s' must match "
                          "[a-zA-Z_][a-zA-Z0-9_]* and not start with '__'",
                          name, label);
            return DTK_EINVALID;
        }
        if (desc->type == DTK_METRICS_HISTOGRAM && strcmp(label, "le") == 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "metric '%s': label name 'le' is reserved for "
                          "histogram buckets",
                          name);
            return DTK_EINVALID;
        }
        for (j = 0; j < i; j++) {
            if (strcmp(label, desc->labels[j]) == 0) {
                dtk_error_set(DTK_ERRCLASS_INVALID,
                              "metric '%s': label name '%s' appears twice",
                              name, label);
                return DTK_EINVALID;
            }
        }
    }
    if (desc->type != DTK_METRICS_HISTOGRAM) {
        if (nbuckets != 0) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "metric '%s': buckets are only for histograms", name);
            return DTK_EINVALID;
        }
        *nbuckets_out = 0;
        return 0;
    }
    if (nbuckets > 0 && desc->buckets == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "metric '%s': buckets missing",
                      name);
        return DTK_EINVALID;
    }
    /* A trailing +Inf is implicit; accept it as client_golang does. */
    if (nbuckets > 0 && isinf(desc->buckets[nbuckets - 1]) &&
        desc->buckets[nbuckets - 1] > 0) {
        nbuckets--;
    }
    if (nbuckets == 0 || nbuckets > DTK_METRICS_MAX_BUCKETS) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metric '%s': histogram needs 1 to %d buckets, got %zu",
                      name, DTK_METRICS_MAX_BUCKETS, nbuckets);
        return DTK_EINVALID;
    }
    for (i = 0; i < nbuckets; i++) {
        double b = desc->buckets[i];

        if (isnan(b) || isinf(b) || (i > 0 && !(b > desc->buckets[i - 1]))) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "metric '%s': bucket %zu: upper bounds must be "
                          "finite and strictly increasing",
                          name, i);
            return DTK_EINVALID;
        }
    }
    *nbuckets_out = nbuckets;
    return 0;
}

/* ---- series table ------------------------------------------------------ */

/* FNV-1a over the values, with 0xff (never in UTF-8) between them. */
static uint64_t hash_values(const char *const *values, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    size_t i;

    for (i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)values[i];

        for (; *p != '\0'; p++) {
            h = (h ^ *p) * 1099511628211ULL;
        }
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    return h;
}

static int series_matches(const dtk_metrics_series *s,
                          uint64_t hash,
                          const char *const *values,
                          size_t n)
{
    size_t i;

    if (s->hash != hash) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (strcmp(s->values[i], values[i]) != 0) {
            return 0;
        }
    }
    return 1;
}

static void table_grow(dtk_metrics_family *f)
{
    size_t size = f->table_size * 2;
    dtk_metrics_series **table = dtk_calloc(size, sizeof(dtk_metrics_series *));
    size_t i;

    for (i = 0; i < f->table_size; i++) {
        dtk_metrics_series *s = f->table[i];

        while (s != NULL) {
            dtk_metrics_series *next = s->next;
            size_t slot = (size_t)(s->hash & (size - 1));

            s->next = table[slot];
            table[slot] = s;
            s = next;
        }
    }
    dtk_free(f->table);
    f->table = table;
    f->table_size = size;
}

static dtk_metrics_series *series_create(dtk_metrics_family *f,
                                         uint64_t hash,
                                         const char *const *values)
{
    dtk_metrics_series *s = dtk_calloc(1, sizeof(*s));
    size_t i;

    s->family = f;
    s->hash = hash;
    s->values = dtk_calloc(f->nlabels + 1, sizeof(char *));
    for (i = 0; i < f->nlabels; i++) {
        s->values[i] = dtk_strdup(values[i]);
    }
    atomic_init(&s->ival, 0);
    atomic_init(&s->bits, double_bits(0.0));
    if (f->type == DTK_METRICS_HISTOGRAM) {
        s->counts = dtk_calloc(f->nbuckets + 1, sizeof(*s->counts));
        for (i = 0; i <= f->nbuckets; i++) {
            atomic_init(&s->counts[i], 0);
        }
    }
    return s;
}

static void series_free(dtk_metrics_series *s, size_t nlabels)
{
    size_t i;

    for (i = 0; i < nlabels; i++) {
        dtk_free(s->values[i]);
    }
    dtk_free(s->values);
    dtk_free(s->counts);
    dtk_free(s);
}

/* Caller holds f->lock. */
static dtk_metrics_series *series_lookup(dtk_metrics_family *f,
                                         const char *const *values)
{
    uint64_t hash = hash_values(values, f->nlabels);
    size_t slot = (size_t)(hash & (f->table_size - 1));
    dtk_metrics_series *s;

    for (s = f->table[slot]; s != NULL; s = s->next) {
        if (series_matches(s, hash, values, f->nlabels)) {
            return s;
        }
    }
    if (f->count + 1 > f->table_size) {
        table_grow(f);
        slot = (size_t)(hash & (f->table_size - 1));
    }
    s = series_create(f, hash, values);
    s->next = f->table[slot];
    f->table[slot] = s;
    f->count++;
    return s;
}

/* ---- families ---------------------------------------------------------- */

static void family_free(dtk_metrics_family *f)
{
    size_t i;

    if (f == NULL) {
        return;
    }
    for (i = 0; i < f->table_size; i++) {
        dtk_metrics_series *s = f->table[i];

        while (s != NULL) {
            dtk_metrics_series *next = s->next;

            series_free(s, f->nlabels);
            s = next;
        }
    }
    dtk_free(f->table);
    for (i = 0; i < f->nlabels; i++) {
        dtk_free(f->labels[i]);
    }
    dtk_free(f->labels);
    dtk_free(f->sorted);
    dtk_free(f->buckets);
    dtk_free(f->name);
    dtk_free(f->help);
    pthread_mutex_destroy(&f->lock);
    dtk_free(f);
}

static dtk_metrics_family *family_create(const dtk_metrics_desc *desc,
                                         size_t nlabels,
                                         size_t nbuckets)
{
    dtk_metrics_family *f = dtk_calloc(1, sizeof(*f));
    size_t i;
    size_t j;

    f->type = desc->type;
    f->name = dtk_strdup(desc->name);
    f->help = dtk_strdup(desc->help);
    f->nlabels = nlabels;
    f->labels = dtk_calloc(nlabels + 1, sizeof(char *));
    f->sorted = dtk_calloc(nlabels + 1, sizeof(size_t));
    for (i = 0; i < nlabels; i++) {
        f->labels[i] = dtk_strdup(desc->labels[i]);
        f->sorted[i] = i;
    }
    /* Insertion sort of the label order by name: a handful of labels. */
    for (i = 1; i < nlabels; i++) {
        size_t cur = f->sorted[i];

        for (j = i;
             j > 0 && strcmp(f->labels[f->sorted[j - 1]], f->labels[cur]) > 0;
             j--) {
            f->sorted[j] = f->sorted[j - 1];
        }
        f->sorted[j] = cur;
    }
    if (nbuckets > 0) {
        f->buckets = dtk_calloc(nbuckets, sizeof(double));
        memcpy(f->buckets, desc->buckets, nbuckets * sizeof(double));
    }
    f->nbuckets = nbuckets;
    pthread_mutex_init(&f->lock, NULL);
    f->table_size = SERIES_TABLE_INITIAL;
    f->table = dtk_calloc(f->table_size, sizeof(dtk_metrics_series *));
    if (nlabels == 0) {
        /* The single series of a label-less family exists from the start. */
        (void)series_lookup(f, NULL);
    }
    return f;
}

static int family_same(const dtk_metrics_family *f,
                       const dtk_metrics_desc *desc,
                       size_t nlabels,
                       size_t nbuckets)
{
    size_t i;

    if (f->type != desc->type || strcmp(f->help, desc->help) != 0 ||
        f->nlabels != nlabels || f->nbuckets != nbuckets) {
        return 0;
    }
    for (i = 0; i < nlabels; i++) {
        if (strcmp(f->labels[i], desc->labels[i]) != 0) {
            return 0;
        }
    }
    for (i = 0; i < nbuckets; i++) {
        if (f->buckets[i] != desc->buckets[i]) {
            return 0;
        }
    }
    return 1;
}

/* ---- registry ---------------------------------------------------------- */

dtk_metrics_registry *dtk_metrics_registry_new(void)
{
    dtk_metrics_registry *reg = dtk_calloc(1, sizeof(*reg));

    pthread_mutex_init(&reg->lock, NULL);
    return reg;
}

void dtk_metrics_registry_free(dtk_metrics_registry *reg)
{
    dtk_metrics_family *f;

    if (reg == NULL) {
        return;
    }
    f = reg->families;
    while (f != NULL) {
        dtk_metrics_family *next = f->next;

        family_free(f);
        f = next;
    }
    pthread_mutex_destroy(&reg->lock);
    dtk_free(reg);
}

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static dtk_metrics_registry *default_registry;

static void default_create(void)
{
    default_registry = dtk_metrics_registry_new();
}

dtk_metrics_registry *dtk_metrics_default(void)
{
    pthread_once(&default_once, default_create);
    return default_registry;
}

int dtk_metrics_register(dtk_metrics_family **out,
                         dtk_metrics_registry *reg,
                         const dtk_metrics_desc *desc)
{
    size_t nlabels = count_strings(desc->labels);
    size_t nbuckets = 0;
    dtk_metrics_desc d = *desc;
    dtk_metrics_family *f;
    int error;

    *out = NULL;
    if (d.help == NULL) {
        d.help = "";
    }
    desc = &d; /* a NULL help is an empty one */
    error = validate_desc(desc, nlabels, &nbuckets);
    if (error < 0) {
        return error;
    }
    pthread_mutex_lock(&reg->lock);
    for (f = reg->families; f != NULL; f = f->next) {
        if (strcmp(f->name, desc->name) == 0) {
            break;
        }
    }
    if (f != NULL && !family_same(f, desc, nlabels, nbuckets)) {
        pthread_mutex_unlock(&reg->lock);
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metric '%s': already registered with a different "
                      "type, help, labels or buckets",
                      desc->name);
        return DTK_EEXISTS;
    }
    if (f == NULL) {
        f = family_create(desc, nlabels, nbuckets);
        f->next = reg->families;
        reg->families = f;
        reg->count++;
    }
    pthread_mutex_unlock(&reg->lock);
    *out = f;
    return 0;
}

static int register_simple(dtk_metrics_family **out,
                           dtk_metrics_registry *reg,
                           dtk_metrics_type type,
                           const char *name,
                           const char *help,
                           const char *const *labels)
{
    dtk_metrics_desc desc = DTK_METRICS_DESC_INIT;

    desc.type = type;
    desc.name = name;
    desc.help = help;
    desc.labels = labels;
    return dtk_metrics_register(out, reg, &desc);
}

int dtk_metrics_register_counter(dtk_metrics_family **out,
                                 dtk_metrics_registry *reg,
                                 const char *name,
                                 const char *help,
                                 const char *const *labels)
{
    return register_simple(out, reg, DTK_METRICS_COUNTER, name, help, labels);
}

int dtk_metrics_register_gauge(dtk_metrics_family **out,
                               dtk_metrics_registry *reg,
                               const char *name,
                               const char *help,
                               const char *const *labels)
{
    return register_simple(out, reg, DTK_METRICS_GAUGE, name, help, labels);
}

int dtk_metrics_register_histogram(dtk_metrics_family **out,
                                   dtk_metrics_registry *reg,
                                   const char *name,
                                   const char *help,
                                   const char *const *labels,
                                   const double *buckets,
                                   size_t nbuckets)
{
    dtk_metrics_desc desc = DTK_METRICS_DESC_INIT;

    desc.type = DTK_METRICS_HISTOGRAM;
    desc.name = name;
    desc.help = help;
    desc.labels = labels;
    desc.buckets = buckets;
    desc.nbuckets = nbuckets;
    return dtk_metrics_register(out, reg, &desc);
}

int dtk_metrics_with(dtk_metrics_series **out,
                     dtk_metrics_family *family,
                     const char *const *values)
{
    size_t n = count_strings(values);
    size_t i;

    *out = NULL;
    if (n != family->nlabels) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "metric '%s': expected %zu label values, got %zu",
                      family->name, family->nlabels, n);
        return DTK_EINVALID;
    }
    for (i = 0; i < n; i++) {
        if (!valid_utf8(values[i])) {
            dtk_error_set(DTK_ERRCLASS_INVALID,
                          "metric '%s': value of label '%s' is not valid "
                          "UTF-8",
                          family->name, family->labels[i]);
            return DTK_EINVALID;
        }
    }
    pthread_mutex_lock(&family->lock);
    *out = series_lookup(family, values);
    pthread_mutex_unlock(&family->lock);
    return 0;
}

/* ---- updates ----------------------------------------------------------- */

void dtk_metrics_counter_inc(dtk_metrics_series *s)
{
    if (s == NULL) {
        return;
    }
    dtk_assert(s->family->type == DTK_METRICS_COUNTER);
    atomic_fetch_add_explicit(&s->ival, 1, memory_order_relaxed);
}

void dtk_metrics_counter_add(dtk_metrics_series *s, double v)
{
    if (s == NULL) {
        return;
    }
    dtk_assert(s->family->type == DTK_METRICS_COUNTER);
    dtk_assert(v >= 0);
    /* Whole numbers take the integer fast path, as in client_golang. */
    if (v < 9007199254740992.0 && v == (double)(uint64_t)v) {
        atomic_fetch_add_explicit(&s->ival, (uint64_t)v, memory_order_relaxed);
    } else {
        atomic_add_double(&s->bits, v);
    }
}

void dtk_metrics_gauge_set(dtk_metrics_series *s, double v)
{
    if (s == NULL) {
        return;
    }
    dtk_assert(s->family->type == DTK_METRICS_GAUGE);
    atomic_store_explicit(&s->bits, double_bits(v), memory_order_relaxed);
}

void dtk_metrics_gauge_add(dtk_metrics_series *s, double v)
{
    if (s == NULL) {
        return;
    }
    dtk_assert(s->family->type == DTK_METRICS_GAUGE);
    atomic_add_double(&s->bits, v);
}

void dtk_metrics_gauge_inc(dtk_metrics_series *s)
{
    dtk_metrics_gauge_add(s, 1.0);
}

void dtk_metrics_gauge_dec(dtk_metrics_series *s)
{
    dtk_metrics_gauge_add(s, -1.0);
}

void dtk_metrics_histogram_observe(dtk_metrics_series *s, double v)
{
    const dtk_metrics_family *f;
    size_t lo = 0;
    size_t hi;

    if (s == NULL) {
        return;
    }
    f = s->family;
    dtk_assert(f->type == DTK_METRICS_HISTOGRAM);
    /* First bucket whose upper bound is >= v ("le" is inclusive); NaN and
     * values above the last bound land in +Inf. */
    hi = f->nbuckets;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (f->buckets[mid] >= v) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    if (isnan(v)) {
        lo = f->nbuckets;
    }
    atomic_fetch_add_explicit(&s->counts[lo], 1, memory_order_relaxed);
    atomic_add_double(&s->bits, v);
}

double dtk_metrics_value(const dtk_metrics_series *s)
{
    double v;

    if (s == NULL) {
        return 0;
    }
    v = dtk_metrics__load_double(&s->bits);
    if (s->family->type == DTK_METRICS_COUNTER) {
        v += (double)atomic_load_explicit((_Atomic uint64_t *)&s->ival,
                                          memory_order_relaxed);
    }
    return v;
}

uint64_t dtk_metrics_histogram_count(const dtk_metrics_series *s)
{
    uint64_t n = 0;
    size_t i;

    if (s == NULL || s->family->type != DTK_METRICS_HISTOGRAM) {
        return 0;
    }
    for (i = 0; i <= s->family->nbuckets; i++) {
        n += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
    }
    return n;
}

/* Strategic merge patch (see smp.h).
 *
 * A port of the apply half of k8s.io/apimachinery/pkg/util/strategicpatch
 * (mergeMap, mergeSlice, the directive handlers and the element-order
 * normalisation) with the server's options (MergeParallelList and
 * IgnoreUnmatchedNulls both true). The Go code's ordering rules are kept
 * exactly, including its stable sort with an inconsistent comparison, its
 * in-place deduplication and the merge of server-only and patch items,
 * because clients see the resulting list order (finalizers, owner
 * references). Results were checked against `kubectl patch --local`, which
 * links the same library.
 *
 * The patch is copied first and the copy is taken apart while merging; the
 * object is patched in a copy that replaces the caller's only on success.
 * Error texts are the library's, minus the Go map dumps it appends (they
 * would quote request values).
 *
 * Not done: the type lookup errors the Go code raises for members the Go
 * struct does not have ("unable to find api field"); unknown members merge
 * as plain maps and replace as lists here, which is what a client sending
 * valid patches observes.
 */
#include "cmd/dtk-apiserver/smp.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"

/* ---- schema tables ----------------------------------------------------- */

enum { SMP_NONE = 0, SMP_MERGE, SMP_REPLACE };

typedef struct smp_field smp_field;
struct smp_field {
    const char *name;
    int strategy;            /* SMP_NONE, SMP_MERGE or SMP_REPLACE */
    const char *merge_key;   /* lists of objects merged by this member */
    const char *elem_kind;   /* Go kind of list items, for one message */
    const smp_field *fields; /* members of the value, or of list items */
};

/* clang-format off */
static const smp_field object_meta[] = {
    {"ownerReferences", SMP_MERGE, "uid", "struct", NULL},
    {"finalizers", SMP_MERGE, NULL, "string", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const smp_field plain_kind[] = {
    {"metadata", SMP_NONE, NULL, NULL, object_meta},
    {NULL, 0, NULL, NULL, NULL},
};

static const smp_field namespace_status[] = {
    {"conditions", SMP_MERGE, "type", "struct", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static const smp_field namespace_kind[] = {
    {"metadata", SMP_NONE, NULL, NULL, object_meta},
    {"status", SMP_NONE, NULL, NULL, namespace_status},
    {NULL, 0, NULL, NULL, NULL},
};

static const smp_field service_account_kind[] = {
    {"metadata", SMP_NONE, NULL, NULL, object_meta},
    {"secrets", SMP_MERGE, "name", "struct", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

typedef struct smp_kind {
    const char *group;
    const char *kind;
    const smp_field *fields;
} smp_kind;

static const smp_kind kinds[] = {
    {"", "Secret", plain_kind},
    {"", "ConfigMap", plain_kind},
    {"", "Namespace", namespace_kind},
    {"", "ServiceAccount", service_account_kind},
    {"", "Event", plain_kind},
    {"coordination.k8s.io", "Lease", plain_kind},
    {"apps", "ControllerRevision", plain_kind},
    {"events.k8s.io", "Event", plain_kind},
};
/* clang-format on */

static const smp_kind *find_kind(const char *group, const char *kind)
{
    if (group == NULL) {
        group = "";
    }
    if (kind == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
        if (strcmp(kinds[i].group, group) == 0 &&
            strcmp(kinds[i].kind, kind) == 0) {
            return &kinds[i];
        }
    }
    return NULL;
}

/* The metadata of member name in schema; unknown members (and everything
 * below a member without a table) have none: maps merge, lists replace. */
static smp_field lookup(const smp_field *schema, const char *name)
{
    smp_field none = {NULL, SMP_NONE, NULL, NULL, NULL};

    for (; schema != NULL && schema->name != NULL; schema++) {
        if (strcmp(schema->name, name) == 0) {
            return *schema;
        }
    }
    return none;
}

/* ---- helpers ----------------------------------------------------------- */

static int fail(const char *message)
{
    dtk_error_set(DTK_ERRCLASS_INVALID, "%s", message);
    return DTK_EINVALID;
}

/* The Go code's list merging is quadratic (and worse while sorting); lists
 * beyond any real object's are refused rather than left to burn CPU. */
static int too_long(void)
{
    dtk_error_set(DTK_ERRCLASS_INVALID,
                  "strategic merge patch of a list with more than %d items",
                  DTK_SMP_MAX_LIST_ITEMS);
    return DTK_ETOOBIG;
}

/* Go's reflect kinds of decoded JSON values (integers decode as int64 in
 * the server, other numbers as float64). */
enum { K_NIL = 0, K_BOOL, K_INT, K_FLOAT, K_STRING, K_SLICE, K_MAP };

static int go_kind(const dtk_json *v)
{
    if (v == NULL) {
        return K_NIL;
    }
    switch (v->type) {
    case DTK_JSON_BOOL:
        return K_BOOL;
    case DTK_JSON_NUMBER:
        return dtk_json_is_integer(v) ? K_INT : K_FLOAT;
    case DTK_JSON_STRING:
        return K_STRING;
    case DTK_JSON_ARRAY:
        return K_SLICE;
    case DTK_JSON_OBJECT:
        return K_MAP;
    default:
        return K_NIL;
    }
}

/* The Go type of a decoded JSON value, as %s prints reflect.Type. */
static const char *go_type_name(int kind)
{
    static const char *const names[] = {
        "%!s(<nil>)",
        "bool",
        "int64",
        "float64",
        "string",
        "[]interface {}",
        "map[string]interface {}",
    };

    return names[kind];
}

/* Go's == on interface values holding decoded JSON scalars; an absent
 * member and a JSON null are both nil. Containers never compare equal (Go
 * would panic). */
static int go_equal(const dtk_json *a, const dtk_json *b)
{
    int ka = go_kind(a), kb = go_kind(b);

    if (ka != kb) {
        return 0;
    }
    switch (ka) {
    case K_NIL:
        return 1;
    case K_BOOL:
    case K_INT:
    case K_FLOAT:
    case K_STRING:
        return dtk_json_equal(a, b);
    default:
        return 0;
    }
}

/* Moves v's content into a new node and leaves v a null, so a value can be
 * taken out of the patch copy without reshaping its parent. */
static dtk_json *steal(dtk_json *v)
{
    dtk_json *n = dtk_malloc(sizeof(*n));

    *n = *v;
    memset(v, 0, sizeof(*v));
    v->type = DTK_JSON_NULL;
    return n;
}

static int is_directive_key(const char *key)
{
    return strcmp(key, "$retainKeys") == 0 ||
           strncmp(key, "$setElementOrder/", 17) == 0 ||
           strncmp(key, "$deleteFromPrimitiveList/", 25) == 0;
}

/* Prepares a value the patch adds where the object had nothing to merge
 * with: drops null members (discardNullValuesFromPatch), drops maps carrying
 * "$patch" (removeDirectives) and the other directive members (the Go
 * server loses them when decoding into its struct). Returns 0 when v itself
 * must be dropped. */
static int clean_added(dtk_json *v)
{
    size_t i = 0;

    if (v->type == DTK_JSON_OBJECT) {
        if (dtk_json_get(v, "$patch") != NULL) {
            return 0;
        }
        while (i < v->u.object.len) {
            dtk_json *m = v->u.object.values[i];

            if (m->type == DTK_JSON_NULL ||
                is_directive_key(v->u.object.keys[i]) || !clean_added(m)) {
                dtk_json_free(dtk_json_take(v, v->u.object.keys[i]));
                continue;
            }
            i++;
        }
    } else if (v->type == DTK_JSON_ARRAY) {
        while (i < v->u.array.len) {
            dtk_json *item = v->u.array.items[i];

            if (item->type != DTK_JSON_NULL && !clean_added(item)) {
                dtk_json_remove_at(v, i);
                continue;
            }
            i++;
        }
    }
    return 1;
}

/* Sets obj[key] to the cleaned patch value pv (taken out of the patch), or
 * removes obj[key] when the value is a directive. */
static void set_added(dtk_json *obj, const char *key, dtk_json *pv)
{
    dtk_json *v = steal(pv);

    if (clean_added(v)) {
        dtk_json_set(obj, key, v);
    } else {
        dtk_json_free(v);
        dtk_json_remove(obj, key);
    }
}

/* A growable array of borrowed or owned item pointers. */
typedef struct vec {
    dtk_json **v;
    size_t n, cap;
} vec;

static void vec_push(vec *a, dtk_json *item)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        a->v = dtk_realloc(a->v, a->cap * sizeof(dtk_json *));
    }
    a->v[a->n++] = item;
}

static void vec_free_items(vec *a)
{
    for (size_t i = 0; i < a->n; i++) {
        dtk_json_free(a->v[i]);
    }
    a->n = 0;
}

static vec view_of(const dtk_json *arr)
{
    vec a = {NULL, 0, 0};

    if (arr != NULL && arr->type == DTK_JSON_ARRAY) {
        a.v = arr->u.array.items;
        a.n = arr->u.array.len;
    }
    return a;
}

/* Moves arr's items into *out (appending) and leaves arr empty. */
static void take_items(vec *out, dtk_json *arr)
{
    for (size_t i = 0; i < arr->u.array.len; i++) {
        vec_push(out, arr->u.array.items[i]);
    }
    arr->u.array.len = 0;
}

/* Makes arr's items exactly items (ownership moves to arr). */
static void install_items(dtk_json *arr, vec *items)
{
    for (size_t i = 0; i < arr->u.array.len; i++) {
        dtk_json_free(arr->u.array.items[i]);
    }
    dtk_free(arr->u.array.items);
    arr->u.array.items = items->v;
    arr->u.array.len = items->n;
    arr->u.array.cap = items->cap;
    items->v = NULL;
    items->n = items->cap = 0;
}

/* The merge-key value of a list item (NULL when absent or not a map). */
static const dtk_json *key_of(const dtk_json *item, const char *merge_key)
{
    return dtk_json_get(item, merge_key);
}

/* Go's index(): position of val in l, by merge-key value for maps. */
static long index_of(vec l,
                     const dtk_json *val,
                     const char *merge_key,
                     int kind)
{
    for (size_t i = 0; i < l.n; i++) {
        int eq = kind == K_MAP ? go_equal(key_of(val, merge_key),
                                          key_of(l.v[i], merge_key))
                               : go_equal(val, l.v[i]);

        if (eq) {
            return (long)i;
        }
    }
    return -1;
}

static int err_no_merge_key(const char *merge_key)
{
    dtk_error_set(DTK_ERRCLASS_INVALID,
                  "map does not contain declared merge key: %s", merge_key);
    return DTK_EINVALID;
}

/* mergepatch.ErrBadArgType. */
static int err_bad_arg(int expected, const dtk_json *actual)
{
    dtk_error_set(DTK_ERRCLASS_INVALID, "expected a %s, but received a %s",
                  go_type_name(expected), go_type_name(go_kind(actual)));
    return DTK_EINVALID;
}

/* Go's sliceElementType over two lists. */
static int elem_kind(int *out, vec a, vec b)
{
    int prev = -1;

    for (int pass = 0; pass < 2; pass++) {
        vec l = pass == 0 ? a : b;

        for (size_t i = 0; i < l.n; i++) {
            int k = go_kind(l.v[i]);

            if (prev < 0) {
                if (k == K_SLICE) {
                    return fail("lists of lists are not supported");
                }
                if (k == K_NIL) {
                    /* Go crashes here; a null item is not a valid entry. */
                    return fail("list element types are not identical");
                }
                prev = k;
            } else if (k != prev) {
                return fail("list element types are not identical");
            }
        }
    }
    if (prev < 0) {
        return fail("no elements in any of the given slices");
    }
    *out = prev;
    return 0;
}

/* ---- ordering (normalizeElementOrder and friends) ---------------------- */

/* The sort state: each item's position in the order list, kept alongside
 * the items (index() depends on the item alone, so it is computed once per
 * item instead of once per comparison). */
typedef struct order_ctx {
    long *pos;
} order_ctx;

/* The comparison sort.SliceStable gets in normalizeSliceOrder: by position
 * in the order list when both are there, else "less" (sic). */
static int order_less(const order_ctx *c, size_t i, size_t j)
{
    if (c->pos[i] >= 0 && c->pos[j] >= 0) {
        return c->pos[i] < c->pos[j];
    }
    return 1;
}

static void swap_items(const order_ctx *c, vec *s, size_t i, size_t j)
{
    dtk_json *t = s->v[i];
    long p = c->pos[i];

    s->v[i] = s->v[j];
    s->v[j] = t;
    c->pos[i] = c->pos[j];
    c->pos[j] = p;
}

/* Go's sort.Stable (insertion-sorted blocks of 20, then SymMerge), kept
 * step for step: with this comparison the result depends on the steps. */
static void insertion_sort(const order_ctx *c, vec *s, size_t a, size_t b)
{
    for (size_t i = a + 1; i < b; i++) {
        for (size_t j = i; j > a && order_less(c, j, j - 1); j--) {
            swap_items(c, s, j, j - 1);
        }
    }
}

static void swap_range(const order_ctx *c, vec *s, size_t a, size_t b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        swap_items(c, s, a + i, b + i);
    }
}

static void rotate(const order_ctx *c, vec *s, size_t a, size_t m, size_t b)
{
    size_t i = m - a;
    size_t j = b - m;

    while (i != j) {
        if (i > j) {
            swap_range(c, s, m - i, m, j);
            i -= j;
        } else {
            swap_range(c, s, m - i, m + j - i, i);
            j -= i;
        }
    }
    swap_range(c, s, m - i, m, i);
}

static void sym_merge(const order_ctx *c, vec *s, size_t a, size_t m, size_t b)
{
    size_t mid, n, start, r, end, p;

    if (m - a == 1) {
        size_t i = m, j = b;

        while (i < j) {
            size_t h = (i + j) >> 1;

            if (order_less(c, h, a)) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for (size_t k = a; k + 1 < i; k++) {
            swap_items(c, s, k, k + 1);
        }
        return;
    }
    if (b - m == 1) {
        size_t i = a, j = m;

        while (i < j) {
            size_t h = (i + j) >> 1;

            if (!order_less(c, m, h)) {
                i = h + 1;
            } else {
                j = h;
            }
        }
        for (size_t k = m; k > i; k--) {
            swap_items(c, s, k, k - 1);
        }
        return;
    }
    mid = (a + b) >> 1;
    n = mid + m;
    if (m > mid) {
        start = n - b;
        r = mid;
    } else {
        start = a;
        r = m;
    }
    p = n - 1;
    while (start < r) {
        size_t cc = (start + r) >> 1;

        if (!order_less(c, p - cc, cc)) {
            start = cc + 1;
        } else {
            r = cc;
        }
    }
    end = n - start;
    if (start < m && m < end) {
        rotate(c, s, start, m, end);
    }
    if (a < start && start < mid) {
        sym_merge(c, s, a, start, mid);
    }
    if (mid < end && end < b) {
        sym_merge(c, s, mid, end, b);
    }
}

static void go_stable_sort(const order_ctx *c, vec *s)
{
    size_t n = s->n;
    size_t block = 20;
    size_t a = 0, b = block;

    while (b <= n) {
        insertion_sort(c, s, a, b);
        a = b;
        b += block;
    }
    insertion_sort(c, s, a, n);
    while (block < n) {
        a = 0;
        b = 2 * block;
        while (b <= n) {
            sym_merge(c, s, a, a + block, b);
            a = b;
            b += 2 * block;
        }
        if (a + block < n) {
            sym_merge(c, s, a, a + block, n);
        }
        block *= 2;
    }
}

static int is_delete_item(const dtk_json *item)
{
    const dtk_json *d = dtk_json_get(item, "$patch");

    return d != NULL && d->type == DTK_JSON_STRING &&
           strcmp(d->u.string.ptr, "delete") == 0;
}

/* Every item must be a map holding the merge key (validateMergeKeyInLists). */
static int check_merge_keys(vec l, const char *merge_key)
{
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i]->type != DTK_JSON_OBJECT) {
            return err_bad_arg(K_MAP, l.v[i]);
        }
        if (dtk_json_get(l.v[i], merge_key) == NULL) {
            return err_no_merge_key(merge_key);
        }
    }
    return 0;
}

/* normalizeSliceOrder: sorts s (in place) by order. */
static int normalize_slice(vec *s, vec order, const char *merge_key, int kind)
{
    order_ctx c = {NULL};
    vec keep = {NULL, 0, 0}, del = {NULL, 0, 0};
    int error = 0;

    if (kind == K_MAP) {
        error = check_merge_keys(*s, merge_key);
        if (error == 0) {
            error = check_merge_keys(order, merge_key);
        }
        if (error < 0) {
            return error;
        }
        for (size_t i = 0; i < s->n; i++) {
            vec_push(is_delete_item(s->v[i]) ? &del : &keep, s->v[i]);
        }
        s->n = 0;
        for (size_t i = 0; i < keep.n; i++) {
            vec_push(s, keep.v[i]);
        }
    }
    c.pos = dtk_calloc(s->n > 0 ? s->n : 1, sizeof(long));
    for (size_t i = 0; i < s->n; i++) {
        c.pos[i] = index_of(order, s->v[i], merge_key, kind);
    }
    go_stable_sort(&c, s);
    dtk_free(c.pos);
    for (size_t i = 0; i < del.n; i++) {
        vec_push(s, del.v[i]);
    }
    dtk_free(keep.v);
    dtk_free(del.v);
    return 0;
}

/* normalizeElementOrder: patch items in patch order, server-only items in
 * server order, then interleaved by mergeSortedSlice. *out receives the
 * (borrowed) items. */
static int normalize_order(vec *out,
                           vec *patch_items,
                           vec *server_only,
                           vec patch_order,
                           vec server_order,
                           const char *merge_key,
                           int kind)
{
    size_t i = 0, j = 0, total;
    int error;

    error = normalize_slice(patch_items, patch_order, merge_key, kind);
    if (error == 0) {
        error = normalize_slice(server_only, server_order, merge_key, kind);
    }
    if (error < 0) {
        return error;
    }
    total = patch_items->n + server_only->n;
    for (size_t k = 0; k < total; k++) {
        if (i >= server_only->n) {
            vec_push(out, patch_items->v[j++]);
        } else if (j >= patch_items->n) {
            vec_push(out, server_only->v[i++]);
        } else {
            long li =
                index_of(server_order, server_only->v[i], merge_key, kind);
            long ri =
                index_of(server_order, patch_items->v[j], merge_key, kind);

            if (li >= 0 && ri >= 0 && li < ri) {
                vec_push(out, server_only->v[i++]);
            } else {
                vec_push(out, patch_items->v[j++]);
            }
        }
    }
    return 0;
}

/* Splits items by presence in by (partitionPrimitivesByPresentInList and
 * partitionMapsByPresentInList). */
static int partition(
    vec *in_by, vec *rest, vec items, vec by, const char *merge_key)
{
    for (size_t i = 0; i < items.n; i++) {
        const dtk_json *item = items.v[i];
        int found = 0;

        if (merge_key != NULL) {
            const dtk_json *kv;

            if (item->type != DTK_JSON_OBJECT) {
                return err_bad_arg(K_MAP, item);
            }
            kv = dtk_json_get(item, merge_key);
            if (kv == NULL) {
                return err_no_merge_key(merge_key);
            }
            for (size_t j = 0; j < by.n && !found; j++) {
                if (by.v[j]->type != DTK_JSON_OBJECT) {
                    dtk_error_set(DTK_ERRCLASS_INVALID,
                                  "value for key %zu is not a map.", j);
                    return DTK_EINVALID;
                }
                found = dtk_json_get(by.v[j], merge_key) != NULL &&
                        go_equal(dtk_json_get(by.v[j], merge_key), kv);
            }
        } else {
            found = index_of(by, item, NULL, K_NIL) >= 0;
        }
        vec_push(found ? in_by : rest, items.v[i]);
    }
    return 0;
}

/* Go's deduplicateScalars, which moves the last item into each hole. */
static void go_dedup(vec *s)
{
    long length = (long)s->n - 1;

    for (long i = 0; i < length; i++) {
        for (long j = i + 1; j <= length; j++) {
            if (go_equal(s->v[i], s->v[j])) {
                dtk_json *dup = s->v[j];

                s->v[j] = s->v[length];
                s->n = (size_t)length;
                length--;
                j--;
                dtk_json_free(dup);
            }
        }
    }
}

/* ---- merging ----------------------------------------------------------- */

static int merge_map(dtk_json *orig, dtk_json *patch, const smp_field *schema);

/* Items of *merged are owned; on success they end up in arr in their final
 * order, on failure they are freed. */
static int finish_list(dtk_json *arr,
                       vec *merged,
                       vec partition_by,
                       vec patch_order,
                       vec server_order,
                       const char *merge_key,
                       int kind)
{
    vec in_patch = {NULL, 0, 0}, server_only = {NULL, 0, 0};
    vec out = {NULL, 0, 0};
    int error;

    error =
        partition(&in_patch, &server_only, *merged, partition_by, merge_key);
    if (error == 0) {
        error = normalize_order(&out, &in_patch, &server_only, patch_order,
                                server_order, merge_key, kind);
    }
    if (error < 0) {
        vec_free_items(merged);
    } else {
        install_items(arr, &out);
    }
    dtk_free(in_patch.v);
    dtk_free(server_only.v);
    dtk_free(out.v);
    dtk_free(merged->v);
    merged->v = NULL;
    merged->n = merged->cap = 0;
    return error;
}

/* mergeSlice for lists of scalars. */
static int merge_scalars(dtk_json *orig,
                         const dtk_json *patch,
                         int is_delete_list)
{
    vec merged = {NULL, 0, 0};
    vec pv = view_of(patch);
    dtk_json *server_order = NULL;
    int error;

    if (is_delete_list) {
        size_t i = 0;

        while (i < orig->u.array.len) {
            if (index_of(pv, orig->u.array.items[i], NULL, K_NIL) >= 0) {
                dtk_json_remove_at(orig, i);
            } else {
                i++;
            }
        }
        return 0;
    }
    server_order = dtk_json_copy(orig);
    take_items(&merged, orig);
    for (size_t i = 0; i < pv.n; i++) {
        vec_push(&merged, dtk_json_copy(pv.v[i]));
    }
    go_dedup(&merged);
    error = finish_list(orig, &merged, pv, pv, view_of(server_order), NULL,
                        K_STRING);
    dtk_json_free(server_order);
    return error;
}

static int unknown_patch_type(const dtk_json *directive)
{
    char *text = NULL;

    if (directive->type == DTK_JSON_STRING) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "unknown patch type: %s in map",
                      directive->u.string.ptr);
        return DTK_EINVALID;
    }
    text = dtk_json_to_string(directive);
    dtk_error_set(DTK_ERRCLASS_INVALID, "unknown patch type: %s in map",
                  text != NULL ? text : "?");
    dtk_free(text);
    return DTK_EINVALID;
}

/* mergeSlice for lists of maps with a merge key, including the special
 * "$patch" items (mergeSliceWithSpecialElements). */
static int merge_maps(dtk_json *orig, dtk_json *patch, const smp_field *f)
{
    const char *mk = f->merge_key;
    vec plain = {NULL, 0, 0}, merged = {NULL, 0, 0};
    dtk_json *server_order = NULL;
    int replace = 0;
    int error = 0;

    for (size_t i = 0; i < patch->u.array.len; i++) {
        dtk_json *item = patch->u.array.items[i];
        const dtk_json *d = dtk_json_get(item, "$patch");
        const dtk_json *kv;

        if (d == NULL) {
            vec_push(&plain, item);
            continue;
        }
        if (d->type != DTK_JSON_STRING) {
            error = unknown_patch_type(d);
            goto out;
        }
        if (strcmp(d->u.string.ptr, "delete") == 0) {
            size_t j = 0;

            kv = dtk_json_get(item, mk);
            if (kv == NULL) {
                error = err_no_merge_key(mk);
                goto out;
            }
            while (j < orig->u.array.len) {
                const dtk_json *o = orig->u.array.items[j];

                if (o->type != DTK_JSON_OBJECT) {
                    dtk_error_set(DTK_ERRCLASS_INVALID,
                                  "value for key %zu is not a map.", j);
                    error = DTK_EINVALID;
                    goto out;
                }
                if (dtk_json_get(o, mk) != NULL &&
                    go_equal(dtk_json_get(o, mk), kv)) {
                    dtk_json_remove_at(orig, j);
                } else {
                    j++;
                }
            }
        } else if (strcmp(d->u.string.ptr, "replace") == 0) {
            /* Other "$patch" items are still pruned. */
            replace = 1;
        } else if (strcmp(d->u.string.ptr, "merge") == 0) {
            error = fail("merging lists cannot yet be specified in the patch");
            goto out;
        } else {
            error = unknown_patch_type(d);
            goto out;
        }
    }
    if (replace) {
        /* The list becomes the plain patch items; nothing is merged. */
        for (size_t i = 0; i < orig->u.array.len; i++) {
            dtk_json_free(orig->u.array.items[i]);
        }
        orig->u.array.len = 0;
        for (size_t i = 0; i < plain.n; i++) {
            dtk_json *c = dtk_json_copy(plain.v[i]);

            clean_added(c);
            dtk_json_append(orig, c);
        }
        plain.n = 0;
    }
    server_order = dtk_json_copy(orig);
    /* mergeSliceWithoutSpecialElements: merge into the first item with the
     * same key, or append. */
    for (size_t i = 0; i < plain.n; i++) {
        const dtk_json *kv = dtk_json_get(plain.v[i], mk);
        dtk_json *target = NULL;

        if (kv == NULL) {
            error = err_no_merge_key(mk);
            goto out;
        }
        for (size_t j = 0; j < orig->u.array.len && target == NULL; j++) {
            dtk_json *o = orig->u.array.items[j];

            if (o->type != DTK_JSON_OBJECT) {
                dtk_error_set(DTK_ERRCLASS_INVALID,
                              "value for key %zu is not a map.", j);
                error = DTK_EINVALID;
                goto out;
            }
            if (dtk_json_get(o, mk) != NULL &&
                go_equal(dtk_json_get(o, mk), kv)) {
                target = o;
            }
        }
        if (target != NULL) {
            /* Merge a copy: the patch item stays whole as the order
             * reference. */
            dtk_json *c = dtk_json_copy(plain.v[i]);

            error = merge_map(target, c, f->fields);
            dtk_json_free(c);
            if (error < 0) {
                goto out;
            }
        } else {
            dtk_json *c = dtk_json_copy(plain.v[i]);

            clean_added(c);
            dtk_json_append(orig, c);
        }
    }
    take_items(&merged, orig);
    error = finish_list(orig, &merged, plain, plain, view_of(server_order), mk,
                        K_MAP);
out:
    dtk_json_free(server_order);
    dtk_free(plain.v);
    return error;
}

/* mergeSliceHandler + mergeSlice: orig and patch are arrays; orig is the
 * object's list and is changed in place. */
static int merge_slice(dtk_json *orig,
                       dtk_json *patch,
                       const smp_field *f,
                       int is_delete_list)
{
    int kind;
    int error;

    /* Deletion lists apply whatever the field's strategy. */
    if (f->strategy != SMP_MERGE && !is_delete_list) {
        dtk_json *v = steal(patch);

        clean_added(v);
        dtk_json_replace(orig, v);
        return 0;
    }
    if (orig->u.array.len == 0 && patch->u.array.len == 0) {
        return 0;
    }
    if (orig->u.array.len + patch->u.array.len > DTK_SMP_MAX_LIST_ITEMS) {
        return too_long();
    }
    error = elem_kind(&kind, view_of(orig), view_of(patch));
    if (error < 0) {
        return error;
    }
    if (kind != K_MAP) {
        return merge_scalars(orig, patch, is_delete_list);
    }
    if (f->merge_key == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "cannot merge lists without merge key for type %s",
                      f->elem_kind != NULL ? f->elem_kind : "struct");
        return DTK_EINVALID;
    }
    return merge_maps(orig, patch, f);
}

/* "$patch" in a map (handleDirectiveInMergeMap). */
static int map_directive(dtk_json *orig,
                         dtk_json *patch,
                         const dtk_json *directive)
{
    dtk_json *v;

    if (directive->type == DTK_JSON_STRING &&
        strcmp(directive->u.string.ptr, "replace") == 0) {
        dtk_json_remove(patch, "$patch");
        v = steal(patch);
        clean_added(v);
        dtk_json_replace(orig, v);
        return 0;
    }
    if (directive->type == DTK_JSON_STRING &&
        strcmp(directive->u.string.ptr, "delete") == 0) {
        dtk_json_replace(orig, dtk_json_new_object());
        return 0;
    }
    return unknown_patch_type(directive);
}

/* applyRetainKeysDirective. */
static int retain_keys(dtk_json *orig, dtk_json *patch)
{
    dtk_json *keys = dtk_json_take(patch, "$retainKeys");
    vec kv;
    size_t i = 0;
    int error = 0;

    if (keys == NULL) {
        return 0;
    }
    if (keys->type != DTK_JSON_ARRAY) {
        error = fail("invalid patch format of retainKeys");
        goto out;
    }
    kv = view_of(keys);
    for (size_t j = 0; j < patch->u.object.len; j++) {
        const char *k = patch->u.object.keys[j];
        dtk_json key = {DTK_JSON_STRING, {0}};

        if (patch->u.object.values[j]->type == DTK_JSON_NULL ||
            strncmp(k, "$deleteFromPrimitiveList", 24) == 0 ||
            strncmp(k, "$setElementOrder", 16) == 0) {
            continue;
        }
        key.u.string.ptr = (char *)k;
        key.u.string.len = strlen(k);
        if (index_of(kv, &key, NULL, K_NIL) < 0) {
            error = fail("invalid patch format of retainKeys");
            goto out;
        }
    }
    while (i < orig->u.object.len) {
        dtk_json key = {DTK_JSON_STRING, {0}};

        key.u.string.ptr = orig->u.object.keys[i];
        key.u.string.len = strlen(orig->u.object.keys[i]);
        if (index_of(kv, &key, NULL, K_NIL) < 0) {
            dtk_json_free(dtk_json_take(orig, orig->u.object.keys[i]));
        } else {
            i++;
        }
    }
out:
    dtk_json_free(keys);
    return error;
}

/* mergeKeyValueEqual. */
static int key_value_equal(int *out,
                           const dtk_json *left,
                           const dtk_json *right,
                           const char *merge_key)
{
    if (merge_key == NULL) {
        *out = go_equal(left, right);
        return 0;
    }
    if (left->type != DTK_JSON_OBJECT) {
        return err_bad_arg(K_MAP, left);
    }
    if (right->type != DTK_JSON_OBJECT) {
        return err_bad_arg(K_MAP, right);
    }
    if (dtk_json_get(left, merge_key) == NULL ||
        dtk_json_get(right, merge_key) == NULL) {
        return err_no_merge_key(merge_key);
    }
    *out =
        go_equal(dtk_json_get(left, merge_key), dtk_json_get(right, merge_key));
    return 0;
}

/* validatePatchWithSetOrderList: the patch list must follow the order
 * list. */
static int check_set_order(const dtk_json *list,
                           const dtk_json *order,
                           const char *merge_key)
{
    vec items = {NULL, 0, 0};
    vec ov = view_of(order);
    size_t p = 0, s = 0;
    int error = 0;

    if (list == NULL || list->u.array.len == 0 || ov.n == 0) {
        return 0;
    }
    for (size_t i = 0; i < list->u.array.len; i++) {
        dtk_json *item = list->u.array.items[i];

        if (merge_key != NULL) {
            if (item->type != DTK_JSON_OBJECT) {
                error = err_bad_arg(K_MAP, item);
                goto out;
            }
            if (is_delete_item(item)) {
                continue;
            }
        }
        vec_push(&items, item);
    }
    while (p < items.n && s < ov.n) {
        int eq = 0;

        if (items.v[p]->type == DTK_JSON_OBJECT &&
            dtk_json_get(items.v[p], "$patch") != NULL) {
            p++;
            continue;
        }
        error = key_value_equal(&eq, items.v[p], ov.v[s], merge_key);
        if (error < 0) {
            goto out;
        }
        if (eq) {
            p++;
        }
        s++;
    }
    if (p < items.n && s >= ov.n) {
        error = fail("The order in patch list doesn't match $setElementOrder "
                     "list");
    }
out:
    dtk_free(items.v);
    return error;
}

/* The server-side order reference of mergePatchIntoOriginal. The Go code
 * keeps a slice header of the original list while mergeSlice deletes from it
 * (append(s[:i], s[i+1:]...) shifts items inside the shared array) and
 * appends to it (in place while capacity lasts), so the reference it sorts
 * by afterwards is that shared array, not the list as it was. This replays
 * those steps on the merge keys and returns copies of the referenced items.
 * The capacity does not matter: after d deletions at most d appends land
 * inside the original length whatever it is (the apiserver's slices have
 * capacity == length, kubectl's decoded ones powers of two), and writes
 * beyond the original length are not seen.
 * ol and pl are the object's and the patch's lists before merging. */
static dtk_json *aliased_server_order(const dtk_json *ol,
                                      const dtk_json *pl,
                                      const char *mk)
{
    size_t len = ol->u.array.len;
    vec logical = {NULL, 0, 0};
    dtk_json **backing;
    dtk_json *view = dtk_json_new_array();
    int aliased = 1;
    int replace = 0;

    backing = dtk_calloc(len > 0 ? len : 1, sizeof(dtk_json *));
    for (size_t i = 0; i < len; i++) {
        backing[i] = ol->u.array.items[i];
        vec_push(&logical, ol->u.array.items[i]);
    }
    /* Deletions (mergeSliceWithSpecialElements), in patch order. */
    for (size_t p = 0; p < pl->u.array.len; p++) {
        const dtk_json *item = pl->u.array.items[p];
        const dtk_json *d = dtk_json_get(item, "$patch");
        const dtk_json *kv = dtk_json_get(item, mk);

        if (d == NULL || d->type != DTK_JSON_STRING) {
            continue;
        }
        if (strcmp(d->u.string.ptr, "replace") == 0) {
            replace = 1;
        }
        if (strcmp(d->u.string.ptr, "delete") != 0 || kv == NULL) {
            continue;
        }
        for (;;) {
            size_t i = 0;

            while (i < logical.n &&
                   !go_equal(dtk_json_get(logical.v[i], mk), kv)) {
                i++;
            }
            if (i == logical.n) {
                break;
            }
            memmove(logical.v + i, logical.v + i + 1,
                    (logical.n - i - 1) * sizeof(dtk_json *));
            logical.n--;
            /* The old last slot keeps its item, as in Go. */
            for (size_t k = i; k < logical.n; k++) {
                backing[k] = logical.v[k];
            }
        }
    }
    /* Appends (mergeSliceWithoutSpecialElements); after "$patch: replace"
     * the list is a new slice and nothing is shared any more. */
    for (size_t p = 0; p < pl->u.array.len && !replace; p++) {
        dtk_json *item = pl->u.array.items[p];
        const dtk_json *kv = dtk_json_get(item, mk);
        int found = 0;

        if (dtk_json_get(item, "$patch") != NULL || kv == NULL) {
            continue;
        }
        for (size_t i = 0; i < logical.n && !found; i++) {
            found = go_equal(dtk_json_get(logical.v[i], mk), kv);
        }
        if (found) {
            continue;
        }
        if (aliased && logical.n < len) {
            backing[logical.n] = item;
        } else {
            aliased = 0;
        }
        vec_push(&logical, item);
    }
    for (size_t i = 0; i < len; i++) {
        dtk_json_append(view, dtk_json_copy(backing[i]));
    }
    dtk_free(backing);
    dtk_free(logical.v);
    return view;
}

/* One "$setElementOrder/<list>" directive (mergePatchIntoOriginal). The
 * directive has been taken out of the patch; the list is merged here and
 * removed from the patch. */
static int set_element_order(dtk_json *orig,
                             dtk_json *patch,
                             const smp_field *schema,
                             const char *directive,
                             const dtk_json *order)
{
    const char *slash = strchr(directive, '/');
    const char *name;
    dtk_json *ol, *pl;
    dtk_json *server_order = NULL;
    smp_field f;
    vec merged = {NULL, 0, 0};
    const char *mk;
    int kind = 0;
    int error = 0;

    if (order->type != DTK_JSON_ARRAY) {
        return err_bad_arg(K_SLICE, order);
    }
    if (slash == NULL || slash - directive != 16) {
        return fail("invalid patch format of setElementOrder list");
    }
    name = slash + 1;
    ol = dtk_json_get(orig, name);
    pl = dtk_json_get(patch, name);
    if (ol != NULL && ol->type != DTK_JSON_ARRAY) {
        return err_bad_arg(K_SLICE, ol);
    }
    if (pl != NULL && pl->type != DTK_JSON_ARRAY) {
        return err_bad_arg(K_SLICE, pl);
    }
    if (dtk_json_len(ol) + dtk_json_len(pl) + dtk_json_len(order) >
        DTK_SMP_MAX_LIST_ITEMS) {
        return too_long();
    }
    f = lookup(schema, name);
    mk = f.merge_key;
    error = check_set_order(pl, order, mk);
    if (error < 0 || (ol == NULL && pl == NULL)) {
        return error;
    }
    error = elem_kind(&kind, view_of(ol), view_of(pl));
    if (error < 0) {
        return error;
    }
    if (kind == K_MAP && mk == NULL) {
        /* Go crashes hashing maps here; a list without a merge key cannot
         * be ordered by item. */
        return fail("invalid patch format of setElementOrder list");
    }
    if (ol == NULL) {
        /* The list is new: take it (without directives) from the patch. */
        dtk_json *v = steal(pl);

        clean_added(v);
        dtk_json_set(orig, name, v);
        ol = v;
        server_order = dtk_json_new_array();
    } else {
        if (pl != NULL && f.strategy == SMP_MERGE && kind == K_MAP) {
            server_order = aliased_server_order(ol, pl, mk);
        } else {
            server_order = dtk_json_copy(ol);
        }
        if (pl != NULL) {
            error = merge_slice(ol, pl, &f, 0);
            if (error < 0) {
                goto out;
            }
            /* merge_slice may have replaced ol's content, not ol itself. */
        }
    }
    take_items(&merged, ol);
    error = finish_list(ol, &merged, view_of(order), view_of(order),
                        view_of(server_order), mk, kind);
    if (error == 0) {
        dtk_json_remove(patch, name);
    }
out:
    dtk_json_free(server_order);
    return error;
}

static int set_element_orders(dtk_json *orig,
                              dtk_json *patch,
                              const smp_field *schema)
{
    for (;;) {
        char *directive = NULL;
        dtk_json *order;
        int error;

        for (size_t i = 0; i < patch->u.object.len; i++) {
            if (strncmp(patch->u.object.keys[i], "$setElementOrder", 16) == 0) {
                directive = dtk_strdup(patch->u.object.keys[i]);
                break;
            }
        }
        if (directive == NULL) {
            return 0;
        }
        order = dtk_json_take(patch, directive);
        error = set_element_order(orig, patch, schema, directive, order);
        dtk_json_free(order);
        dtk_free(directive);
        if (error < 0) {
            return error;
        }
    }
}

/* mergeMap: orig and patch are objects; orig is changed in place and the
 * patch is taken apart. Recursion follows the patch, whose depth parsing
 * bounds. */
static int merge_map(dtk_json *orig, dtk_json *patch, const smp_field *schema)
{
    const dtk_json *directive = dtk_json_get(patch, "$patch");
    int error;

    if (directive != NULL) {
        return map_directive(orig, patch, directive);
    }
    error = retain_keys(orig, patch);
    if (error == 0) {
        error = set_element_orders(orig, patch, schema);
    }
    if (error < 0) {
        return error;
    }
    for (size_t i = 0; i < patch->u.object.len; i++) {
        const char *key = patch->u.object.keys[i];
        dtk_json *pv = patch->u.object.values[i];
        dtk_json *ov;
        int is_delete_list = 0;
        smp_field f;

        if (strncmp(key, "$deleteFromPrimitiveList", 24) == 0) {
            const char *slash = strchr(key, '/');

            if (slash == NULL || slash - key != 24) {
                return fail("invalid patch format of primitive list");
            }
            key = slash + 1;
            is_delete_list = 1;
        }
        if (pv->type == DTK_JSON_NULL) {
            dtk_json_remove(orig, key);
            continue;
        }
        ov = dtk_json_get(orig, key);
        if (ov == NULL || go_kind(ov) != go_kind(pv)) {
            if (!is_delete_list) {
                set_added(orig, key, pv);
            }
            continue;
        }
        f = lookup(schema, key);
        if (ov->type == DTK_JSON_OBJECT) {
            if (f.strategy == SMP_REPLACE) {
                set_added(orig, key, pv);
            } else {
                error = merge_map(ov, pv, f.fields);
            }
        } else if (ov->type == DTK_JSON_ARRAY) {
            error = merge_slice(ov, pv, &f, is_delete_list);
        } else {
            set_added(orig, key, pv);
        }
        if (error < 0) {
            return error;
        }
    }
    return 0;
}

/* ---- public API -------------------------------------------------------- */

int dtk_smp_supported(const char *group, const char *kind)
{
    return find_kind(group, kind) != NULL;
}

int dtk_smp_apply(dtk_json **obj_inout,
                  const dtk_json *patch,
                  const char *group,
                  const char *kind)
{
    const smp_kind *k = find_kind(group, kind);
    dtk_json *work = NULL, *copy = NULL;
    int error = 0;

    if (k == NULL) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "strategic merge patch is not supported for %s%s%s",
                      kind != NULL ? kind : "", group && *group ? "." : "",
                      group && *group ? group : "");
        return DTK_EINVALID;
    }
    if (patch == NULL || patch->type == DTK_JSON_NULL) {
        return 0;
    }
    if (patch->type != DTK_JSON_OBJECT) {
        const char *t = patch->type == DTK_JSON_ARRAY    ? "array"
                        : patch->type == DTK_JSON_STRING ? "string"
                        : patch->type == DTK_JSON_NUMBER ? "number"
                                                         : "bool";

        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "json: cannot unmarshal %s into Go value of type "
                      "map[string]interface {}",
                      t);
        return DTK_EINVALID;
    }
    if (*obj_inout == NULL || (*obj_inout)->type != DTK_JSON_OBJECT) {
        return fail("object to patch is not a JSON object");
    }
    work = dtk_json_copy(*obj_inout);
    copy = dtk_json_copy(patch);
    error = merge_map(work, copy, k->fields);
    if (error < 0) {
        goto out;
    }
    dtk_json_free(*obj_inout);
    *obj_inout = work;
    work = NULL;
out:
    dtk_json_free(copy);
    dtk_json_free(work);
    return error;
}

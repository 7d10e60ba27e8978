/* Informer cache: packed refcounted objects, the store, its indexes and
 * replace (the relist diff), including readers running against a writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/informer/informer.h"
#include "pkg/json/json.h"

/* ---- helpers ------------------------------------------------------------ */

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

/* A namespaced object with spec.target and a resourceVersion. */
static dtk_object *thing(const char *ns,
                         const char *name,
                         const char *target,
                         const char *rv)
{
    char text[512];
    dtk_object *obj = NULL;

    snprintf(text, sizeof(text),
             "{\"kind\":\"Instance\",\"metadata\":{\"name\":\"%s\","
             "\"namespace\":\"%s\",\"resourceVersion\":\"%s\"},"
             "\"spec\":{\"target\":\"%s\"}}",
             name, ns, rv, target);
    assert_int_equal(dtk_object_new(&obj, parse(text)), 0);
    return obj;
}

static const char *target_of(const dtk_object *obj)
{
    static const char *const path[] = {"spec", "target", NULL};

    return dtk_json_string(dtk_json_path(dtk_object_json(obj), path));
}

static void by_target(dtk_index_values *out,
                      const dtk_object *obj,
                      void *payload)
{
    (void)payload;
    dtk_index_values_add(out, target_of(obj));
}

/* Every value of spec.targets (an array): a multi-valued index. */
static void by_each_target(dtk_index_values *out,
                           const dtk_object *obj,
                           void *payload)
{
    static const char *const path[] = {"spec", "targets", NULL};
    const dtk_json *arr = dtk_json_path(dtk_object_json(obj), path);

    (void)payload;
    for (size_t i = 0; i < dtk_json_len(arr); i++) {
        dtk_index_values_add(out, dtk_json_string(dtk_json_at(arr, i)));
    }
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(dtk_object_key(*(dtk_object *const *)a),
                  dtk_object_key(*(dtk_object *const *)b));
}

/* The keys of a list, sorted, space separated, into out. */
static const char *keys_of(char *out, size_t size, dtk_object_list *list)
{
    size_t used = 0;

    out[0] = '\0';
    if (list->len > 1) {
        qsort(list->items, list->len, sizeof(*list->items), cmp_keys);
    }
    for (size_t i = 0; i < list->len; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? " " : "",
                         dtk_object_key(list->items[i]));

        assert_true(n > 0 && (size_t)n < size - used);
        used += (size_t)n;
    }
    return out;
}

static const char *index_keys(char *out,
                              size_t size,
                              dtk_indexer *s,
                              const char *index,
                              const char *value)
{
    dtk_object_list l = DTK_OBJECT_LIST_INIT;

    assert_int_equal(dtk_indexer_by_index(&l, s, index, value), 0);
    keys_of(out, size, &l);
    dtk_object_list_dispose(&l);
    return out;
}

/* Puts obj, dropping the caller's reference and the replaced object. */
static void put(dtk_indexer *s, dtk_object *obj)
{
    dtk_indexer_put(NULL, s, obj);
    dtk_object_unref(obj);
}

/* ---- objects ------------------------------------------------------------ */

static void test_informer_store__object_packs_json_key_and_metadata(
    void **state)
{
    static const char text[] =
        "{\"apiVersion\":\"dtk.io/v1alpha1\",\"kind\":\"Target\","
        "\"metadata\":{\"name\":\"t1\",\"namespace\":\"team-a\","
        "\"resourceVersion\":\"42\",\"labels\":{\"app\":\"x\"}},"
        "\"spec\":{\"replicas\":3,\"ratio\":1.5,\"big\":9007199254740993,"
        "\"on\":true,\"off\":false,\"none\":null,\"empty\":{},\"list\":[],"
        "\"ports\":[{\"port\":80},{\"port\":443}],\"s\":\"a\\u0000b\"}}";
    dtk_json *orig = parse(text);
    dtk_object *obj = NULL;
    char *written;
    int64_t big = 0;
    const dtk_json *s;

    (void)state;
    assert_int_equal(dtk_object_new(&obj, dtk_json_copy(orig)), 0);
    assert_string_equal(dtk_object_key(obj), "team-a/t1");
    assert_string_equal(dtk_object_namespace(obj), "team-a");
    assert_string_equal(dtk_object_name(obj), "t1");
    assert_string_equal(dtk_object_resource_version(obj), "42");
    /* The packed tree reads like the original, byte for byte. */
    assert_true(dtk_json_equal(dtk_object_json(obj), orig));
    written = dtk_json_to_string(dtk_object_json(obj));
    assert_non_null(written);
    assert_string_equal(written, text);
    assert_int_equal(
        dtk_json_int(&big,
                     dtk_json_path(dtk_object_json(obj),
                                   (const char *const[]){"spec", "big", NULL})),
        0);
    assert_true(big == INT64_C(9007199254740993));
    s = dtk_json_path(dtk_object_json(obj),
                      (const char *const[]){"spec", "s", NULL});
    assert_int_equal(s->u.string.len, 3); /* the NUL inside is kept */
    assert_memory_equal(s->u.string.ptr, "a\0b", 3);
    dtk_free(written);
    dtk_json_free(orig);

    /* References: the last unref frees (ASan and LeakSanitizer check). */
    assert_ptr_equal(dtk_object_ref(obj), obj);
    dtk_object_unref(obj);
    assert_string_equal(dtk_object_key(obj), "team-a/t1");
    dtk_object_unref(obj);
    dtk_object_unref(NULL);
}

static void test_informer_store__object_keys_and_bad_objects(void **state)
{
    dtk_object *obj = NULL;

    (void)state;
    /* Cluster-scoped: the key is the name; no resourceVersion is fine. */
    assert_int_equal(
        dtk_object_new(&obj, parse("{\"metadata\":{\"name\":\"n1\"}}")), 0);
    assert_string_equal(dtk_object_key(obj), "n1");
    assert_null(dtk_object_namespace(obj));
    assert_null(dtk_object_resource_version(obj));
    dtk_object_unref(obj);
    assert_int_equal(dtk_object_new(&obj, parse("{\"metadata\":{\"name\":"
                                                "\"n2\",\"namespace\":\"\"}}")),
                     0);
    assert_string_equal(dtk_object_key(obj), "n2");
    dtk_object_unref(obj);

    obj = NULL;
    assert_int_equal(dtk_object_new(&obj, parse("{\"metadata\":{}}")),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "object: metadata.name: expected a non-empty string");
    assert_int_equal(dtk_object_new(&obj, parse("{\"metadata\":{\"name\":7}}")),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "object: metadata.name: expected a non-empty string");
    assert_int_equal(dtk_object_new(&obj, parse("[1,2]")), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "object: expected a JSON object");
    assert_int_equal(dtk_object_new(&obj, NULL), DTK_EINVALID);
    assert_null(obj);
}

/* ---- store -------------------------------------------------------------- */

static void test_informer_store__put_get_list_remove(void **state)
{
    dtk_indexer *s = dtk_indexer_new();
    dtk_object_list l = DTK_OBJECT_LIST_INIT;
    dtk_object *a = thing("ns", "a", "t1", "1");
    dtk_object *got = NULL;
    dtk_object *old = NULL;
    char buf[256];

    (void)state;
    dtk_indexer_put(&old, s, a);
    assert_null(old);
    assert_int_equal(dtk_indexer_get(&got, s, "ns/a"), 0);
    assert_ptr_equal(got, a);
    dtk_object_unref(got);
    assert_int_equal(dtk_indexer_get(&got, s, "ns/zz"), DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message, "ns/zz: not in the cache");

    /* Replacing hands back the old object, still valid for its holder. */
    got = thing("ns", "a", "t2", "2");
    dtk_indexer_put(&old, s, got);
    dtk_object_unref(got); /* the store keeps its own reference */
    assert_ptr_equal(old, a);
    dtk_object_unref(old);
    assert_string_equal(target_of(a), "t1");
    dtk_object_unref(a); /* the test's own reference: now freed */
    assert_int_equal(dtk_indexer_get(&got, s, "ns/a"), 0);
    assert_string_equal(target_of(got), "t2");
    assert_string_equal(dtk_object_resource_version(got), "2");

    put(s, thing("ns", "b", "t1", "3"));
    put(s, thing("other", "a", "t1", "4"));
    assert_int_equal(dtk_indexer_len(s), 3);
    dtk_indexer_list(&l, s);
    assert_string_equal(keys_of(buf, sizeof(buf), &l), "ns/a ns/b other/a");
    dtk_object_list_dispose(&l);

    /* A removed object stays readable through a reference taken before. */
    dtk_indexer_remove(&old, s, "ns/a");
    assert_ptr_equal(old, got);
    dtk_object_unref(old);
    assert_string_equal(dtk_object_key(got), "ns/a");
    dtk_object_unref(got);
    dtk_indexer_remove(&old, s, "ns/a");
    assert_null(old);
    assert_int_equal(dtk_indexer_len(s), 2);
    dtk_indexer_free(s);
    dtk_indexer_free(NULL);
}

static void test_informer_store__index_follows_updates(void **state)
{
    dtk_indexer *s = dtk_indexer_new();
    dtk_object_list l = DTK_OBJECT_LIST_INIT;
    char buf[1024];

    (void)state;
    assert_int_equal(dtk_indexer_add_index(s, "target", by_target, NULL), 0);
    assert_int_equal(
        dtk_indexer_add_index(s, "namespace", dtk_index_by_namespace, NULL), 0);
    put(s, thing("ns", "a", "t1", "1"));
    put(s, thing("ns", "b", "t1", "1"));
    put(s, thing("ns2", "c", "t2", "1"));
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t1"),
                        "ns/a ns/b");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t2"),
                        "ns2/c");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "namespace", "ns"),
                        "ns/a ns/b");

    /* a moves from t1 to t2; the t2 bucket hands out the new object. */
    put(s, thing("ns", "a", "t2", "2"));
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t1"),
                        "ns/b");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t2"),
                        "ns/a ns2/c");
    assert_int_equal(dtk_indexer_by_index(&l, s, "target", "t2"), 0);
    for (size_t i = 0; i < l.len; i++) {
        assert_string_equal(target_of(l.items[i]), "t2");
    }
    dtk_object_list_dispose(&l);

    /* An update that keeps the value repoints the bucket at the new
     * object. */
    put(s, thing("ns", "b", "t1", "7"));
    assert_int_equal(dtk_indexer_by_index(&l, s, "target", "t1"), 0);
    assert_int_equal(l.len, 1);
    assert_string_equal(dtk_object_resource_version(l.items[0]), "7");
    dtk_object_list_dispose(&l);

    /* Removal empties buckets; unknown values give an empty list. */
    dtk_indexer_remove(NULL, s, "ns/b");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t1"), "");
    assert_int_equal(dtk_indexer_by_index(&l, s, "target", "nope"), 0);
    assert_int_equal(l.len, 0);
    dtk_object_list_dispose(&l);
    assert_int_equal(dtk_indexer_by_index(&l, s, "bogus", "t1"), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "index 'bogus': unknown");
    dtk_indexer_free(s);
}

static void test_informer_store__large_buckets_and_multi_values(void **state)
{
    dtk_indexer *s = dtk_indexer_new();
    dtk_object_list l = DTK_OBJECT_LIST_INIT;
    dtk_object *obj = NULL;
    char name[32], buf[256];

    (void)state;
    assert_int_equal(dtk_indexer_add_index(s, "target", by_target, NULL), 0);
    /* 40 objects on one value (past the small-bucket size), then half
     * move away and back. */
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof(name), "o%02d", i);
        put(s, thing("ns", name, "big", "1"));
    }
    assert_int_equal(dtk_indexer_by_index(&l, s, "target", "big"), 0);
    assert_int_equal(l.len, 40);
    dtk_object_list_dispose(&l);
    for (int i = 0; i < 40; i += 2) {
        snprintf(name, sizeof(name), "o%02d", i);
        put(s, thing("ns", name, "small", "2"));
    }
    assert_int_equal(dtk_indexer_by_index(&l, s, "target", "big"), 0);
    assert_int_equal(l.len, 20);
    for (size_t i = 0; i < l.len; i++) {
        assert_string_equal(target_of(l.items[i]), "big");
    }
    dtk_object_list_dispose(&l);
    assert_int_equal(dtk_indexer_by_index(&l, s, "target", "small"), 0);
    assert_int_equal(l.len, 20);
    dtk_object_list_dispose(&l);

    /* An object with several values is in several buckets; one with none
     * in no bucket. A duplicate value counts once. */
    assert_int_equal(dtk_indexer_add_index(s, "targets", by_each_target, NULL),
                     0);
    assert_int_equal(
        dtk_object_new(&obj,
                       parse("{\"metadata\":{\"name\":\"m\",\"namespace\":"
                             "\"ns\"},\"spec\":{\"targets\":[\"x\",\"y\","
                             "\"x\"]}}")),
        0);
    put(s, obj);
    assert_string_equal(index_keys(buf, sizeof(buf), s, "targets", "x"),
                        "ns/m");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "targets", "y"),
                        "ns/m");
    assert_int_equal(
        dtk_object_new(&obj,
                       parse("{\"metadata\":{\"name\":\"m\",\"namespace\":"
                             "\"ns\"},\"spec\":{\"targets\":[\"y\"]}}")),
        0);
    put(s, obj);
    assert_string_equal(index_keys(buf, sizeof(buf), s, "targets", "x"), "");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "targets", "y"),
                        "ns/m");
    dtk_indexer_free(s);
}

static void test_informer_store__add_index_covers_existing_objects(void **state)
{
    dtk_indexer *s = dtk_indexer_new();
    char buf[256];

    (void)state;
    put(s, thing("ns", "a", "t1", "1"));
    put(s, thing("ns", "b", "t2", "1"));
    assert_int_equal(dtk_indexer_add_index(s, "target", by_target, NULL), 0);
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t1"),
                        "ns/a");
    assert_int_equal(dtk_indexer_add_index(s, "target", by_target, NULL),
                     DTK_EEXISTS);
    assert_string_equal(dtk_error_last()->message,
                        "index 'target': already exists");
    assert_int_equal(dtk_indexer_add_index(s, NULL, by_target, NULL),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "index: a name and a function are required");
    dtk_indexer_free(s);
}

static void test_informer_store__replace_reports_only_real_changes(void **state)
{
    dtk_indexer *s = dtk_indexer_new();
    dtk_indexer_changes ch = DTK_INDEXER_CHANGES_INIT;
    dtk_object *objs[3];
    dtk_object *kept = NULL, *got = NULL;
    dtk_object_list l = DTK_OBJECT_LIST_INIT;
    char buf[256];

    (void)state;
    assert_int_equal(dtk_indexer_add_index(s, "target", by_target, NULL), 0);
    put(s, thing("ns", "a", "t1", "1"));
    put(s, thing("ns", "b", "t1", "1"));
    put(s, thing("ns", "c", "t1", "1"));
    assert_int_equal(dtk_indexer_get(&kept, s, "ns/a"), 0);

    /* a: same version (unchanged, even with other content: versions
     * decide); b: newer; c: gone; d: new. */
    objs[0] = thing("ns", "a", "t9", "1");
    objs[1] = thing("ns", "b", "t2", "2");
    objs[2] = thing("ns", "d", "t2", "5");
    dtk_indexer_replace(&ch, s, objs, 3);
    assert_int_equal(ch.len, 3);
    assert_int_equal(ch.items[0].type, DTK_INDEXER_UPDATED);
    assert_string_equal(dtk_object_key(ch.items[0].new_obj), "ns/b");
    assert_string_equal(dtk_object_resource_version(ch.items[0].old_obj), "1");
    assert_string_equal(dtk_object_resource_version(ch.items[0].new_obj), "2");
    assert_int_equal(ch.items[1].type, DTK_INDEXER_ADDED);
    assert_string_equal(dtk_object_key(ch.items[1].new_obj), "ns/d");
    assert_null(ch.items[1].old_obj);
    assert_int_equal(ch.items[2].type, DTK_INDEXER_DELETED);
    assert_string_equal(dtk_object_key(ch.items[2].old_obj), "ns/c");
    assert_null(ch.items[2].new_obj);
    dtk_indexer_changes_dispose(&ch);

    /* The unchanged object is the very same one. */
    assert_int_equal(dtk_indexer_get(&got, s, "ns/a"), 0);
    assert_ptr_equal(got, kept);
    assert_string_equal(target_of(got), "t1");
    dtk_object_unref(got);
    dtk_object_unref(kept);
    dtk_indexer_list(&l, s);
    assert_string_equal(keys_of(buf, sizeof(buf), &l), "ns/a ns/b ns/d");
    dtk_object_list_dispose(&l);
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t1"),
                        "ns/a");
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t2"),
                        "ns/b ns/d");

    /* Without versions, content decides. Replacing with nothing empties
     * the store. */
    dtk_indexer_replace(&ch, s, NULL, 0);
    assert_int_equal(ch.len, 3);
    for (size_t i = 0; i < ch.len; i++) {
        assert_int_equal(ch.items[i].type, DTK_INDEXER_DELETED);
    }
    dtk_indexer_changes_dispose(&ch);
    assert_int_equal(dtk_indexer_len(s), 0);
    assert_int_equal(
        dtk_object_new(&objs[0], parse("{\"metadata\":{\"name\":\"x\"},"
                                       "\"data\":1}")),
        0);
    dtk_indexer_replace(&ch, s, objs, 1);
    assert_int_equal(ch.len, 1);
    dtk_indexer_changes_dispose(&ch);
    assert_int_equal(
        dtk_object_new(&objs[0], parse("{\"metadata\":{\"name\":\"x\"},"
                                       "\"data\":1}")),
        0);
    dtk_indexer_replace(&ch, s, objs, 1);
    assert_int_equal(ch.len, 0);
    dtk_indexer_changes_dispose(&ch);
    assert_int_equal(
        dtk_object_new(&objs[0], parse("{\"metadata\":{\"name\":\"x\"},"
                                       "\"data\":2}")),
        0);
    dtk_indexer_replace(&ch, s, objs, 1);
    assert_int_equal(ch.len, 1);
    assert_int_equal(ch.items[0].type, DTK_INDEXER_UPDATED);
    dtk_indexer_changes_dispose(&ch);
    assert_string_equal(index_keys(buf, sizeof(buf), s, "target", "t2"), "");
    dtk_indexer_free(s);
}

/* ---- readers against a writer ------------------------------------------- */

#define SNAP_KEYS 50
#define ROUNDS    400

typedef struct race {
    dtk_indexer *s;
    atomic_int done;
    atomic_long checks;
    char failure[256];
} race;

/* An object whose target is "gen-<g>" and whose data repeats g. */
static dtk_object *gen_thing(int key, int g)
{
    char text[256];
    dtk_object *obj = NULL;

    snprintf(text, sizeof(text),
             "{\"metadata\":{\"name\":\"k%02d\",\"namespace\":\"ns\","
             "\"resourceVersion\":\"%d\"},\"spec\":{\"target\":\"gen-%d\","
             "\"gen\":%d}}",
             key, g, g, g);
    if (dtk_object_new(&obj, parse(text)) < 0) {
        abort();
    }
    return obj;
}

static int gen_of(const dtk_object *obj)
{
    static const char *const path[] = {"spec", "gen", NULL};
    int64_t g = -1;

    dtk_json_int(&g, dtk_json_path(dtk_object_json(obj), path));
    return (int)g;
}

static void *reader(void *arg)
{
    race *r = arg;
    char value[32];

    while (!atomic_load(&r->done) && r->failure[0] == '\0') {
        dtk_object_list l = DTK_OBJECT_LIST_INIT;
        int g;

        /* A list is one snapshot: every replace swaps all keys at once. */
        dtk_indexer_list(&l, r->s);
        g = l.len > 0 ? gen_of(l.items[0]) : -1;
        for (size_t i = 0; i < l.len; i++) {
            if (l.len != SNAP_KEYS || gen_of(l.items[i]) != g) {
                snprintf(r->failure, sizeof(r->failure),
                         "torn list: %zu objects, gens %d and %d", l.len, g,
                         gen_of(l.items[i]));
            }
        }
        dtk_object_list_dispose(&l);
        /* Index entries always match the object they lead to. */
        snprintf(value, sizeof(value), "gen-%d", g);
        if (g >= 0 && dtk_indexer_by_index(&l, r->s, "target", value) == 0) {
            for (size_t i = 0; i < l.len; i++) {
                if (strcmp(target_of(l.items[i]), value) != 0) {
                    snprintf(r->failure, sizeof(r->failure),
                             "index '%s' led to an object of %s", value,
                             target_of(l.items[i]));
                }
            }
            dtk_object_list_dispose(&l);
        }
        atomic_fetch_add(&r->checks, 1);
    }
    return NULL;
}

static void test_informer_store__readers_never_see_a_torn_state(void **state)
{
    race r;
    pthread_t threads[2];
    dtk_object *objs[SNAP_KEYS];

    (void)state;
    memset(&r, 0, sizeof(r));
    r.s = dtk_indexer_new();
    assert_int_equal(dtk_indexer_add_index(r.s, "target", by_target, NULL), 0);
    for (int k = 0; k < SNAP_KEYS; k++) {
        objs[k] = gen_thing(k, 0);
    }
    {
        dtk_indexer_changes ch = DTK_INDEXER_CHANGES_INIT;

        dtk_indexer_replace(&ch, r.s, objs, SNAP_KEYS);
        dtk_indexer_changes_dispose(&ch);
    }
    for (int i = 0; i < 2; i++) {
        assert_int_equal(pthread_create(&threads[i], NULL, reader, &r), 0);
    }
    for (int g = 1; g <= ROUNDS; g++) {
        dtk_indexer_changes ch = DTK_INDEXER_CHANGES_INIT;

        for (int k = 0; k < SNAP_KEYS; k++) {
            objs[k] = gen_thing(k, g);
        }
        dtk_indexer_replace(&ch, r.s, objs, SNAP_KEYS);
        assert_int_equal(ch.len, SNAP_KEYS);
        dtk_indexer_changes_dispose(&ch);
    }
    atomic_store(&r.done, 1);
    for (int i = 0; i < 2; i++) {
        pthread_join(threads[i], NULL);
    }
    assert_string_equal(r.failure, "");
    assert_true(atomic_load(&r.checks) > 0);
    dtk_indexer_free(r.s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_informer_store__object_packs_json_key_and_metadata),
        cmocka_unit_test(test_informer_store__object_keys_and_bad_objects),
        cmocka_unit_test(test_informer_store__put_get_list_remove),
        cmocka_unit_test(test_informer_store__index_follows_updates),
        cmocka_unit_test(test_informer_store__large_buckets_and_multi_values),
        cmocka_unit_test(
            test_informer_store__add_index_covers_existing_objects),
        cmocka_unit_test(
            test_informer_store__replace_reports_only_real_changes),
        cmocka_unit_test(test_informer_store__readers_never_see_a_torn_state),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

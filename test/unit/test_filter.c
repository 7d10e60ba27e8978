/* Label and field selectors as dtk-apiserver evaluates them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "cmd/dtk-apiserver/apiserver.h"
#include "pkg/base/alloc.h"

static dtk_restype secrets = {.group = "", .version = "v1",
                              .resource = "secrets", .kind = "Secret"};

static int matches(const char *labels, const char *fields, const char *obj)
{
    dtk_filter *f = NULL;
    dtk_json *bad = NULL;
    dtk_json *o = NULL;
    int m;

    assert_int_equal(dtk_filter_parse(&f, &bad, &secrets, labels, fields), 0);
    assert_int_equal(dtk_json_parse(&o, obj, strlen(obj)), 0);
    m = dtk_filter_match(f, o);
    dtk_filter_free(f);
    dtk_json_free(o);
    return m;
}

static const char web[] = "{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\","
                          "\"labels\":{\"app\":\"web\",\"tier\":\"3\"}},"
                          "\"type\":\"Opaque\"}";
static const char bare[] = "{\"metadata\":{\"name\":\"b\"}}";

static void test_filter__label_operators(void **state)
{
    (void)state;
    assert_true(matches("app=web", NULL, web));
    assert_true(matches("app==web", NULL, web));
    assert_false(matches("app!=web", NULL, web));
    assert_true(matches("app!=web", NULL, bare));
    assert_true(matches("app in (db, web)", NULL, web));
    assert_false(matches("app in (db)", NULL, web));
    assert_false(matches("app in (web)", NULL, bare));
    assert_true(matches("app notin (db)", NULL, bare));
    assert_false(matches("app notin (db,web)", NULL, web));
    assert_true(matches("app", NULL, web));
    assert_false(matches("app", NULL, bare));
    assert_true(matches("!app", NULL, bare));
    assert_true(matches("tier>2,tier<4", NULL, web));
    assert_false(matches("tier>3", NULL, web));
    assert_true(matches("app in (x, web),tier!=1", NULL, web));
    assert_true(matches("", NULL, bare));
}

static void test_filter__field_selectors(void **state)
{
    (void)state;
    assert_true(matches(NULL, "metadata.name=a", web));
    assert_true(matches(NULL, "metadata.name==a,metadata.namespace=ns", web));
    assert_false(matches(NULL, "metadata.name!=a", web));
    assert_true(matches(NULL, "type=Opaque", web));
    assert_true(matches(NULL, "metadata.namespace=", bare));
}

static dtk_restype configmaps = {.group = "", .version = "v1",
                                 .resource = "configmaps",
                                 .kind = "ConfigMap"};

static void expect_bad(const dtk_restype *t, const char *labels,
                       const char *fields, const char *message)
{
    dtk_filter *f = NULL;
    dtk_json *bad = NULL;

    assert_int_equal(dtk_filter_parse(&f, &bad, t, labels, fields), -6);
    assert_null(f);
    assert_string_equal(dtk_json_get_string(bad, "reason"), "BadRequest");
    assert_string_equal(dtk_json_get(bad, "code")->u.number, "400");
    assert_string_equal(dtk_json_get_string(bad, "message"), message);
    dtk_json_free(bad);
}

/* The exact parser messages are tested in test_selector.c; here: which
 * fields each kind accepts, and that errors become 400 Status objects. */
static void test_filter__bad_selectors_are_explained(void **state)
{
    (void)state;
    expect_bad(&secrets, NULL, "spec.x=1",
               "field label not supported: spec.x");
    expect_bad(&configmaps, NULL, "type=Opaque",
               "\"type\" is not a known field selector: only "
               "\"metadata.name\", \"metadata.namespace\"");
    expect_bad(&secrets, NULL, "metadata.name",
               "invalid selector: 'metadata.name'; can't understand "
               "'metadata.name'");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filter__label_operators),
        cmocka_unit_test(test_filter__field_selectors),
        cmocka_unit_test(test_filter__bad_selectors_are_explained),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

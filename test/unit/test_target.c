/* Targets: the published catalog and the lookup of service offerings. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "controller/target/target.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static const char *catalog_text =
    "{\"services\":["
    "{\"id\":\"svc-a\",\"name\":\"alpha\",\"description\":\"A\","
    "\"bindable\":true,\"plan_updateable\":true,\"plans\":["
    "{\"id\":\"p1\",\"name\":\"small\",\"description\":\"s\"},"
    "{\"id\":\"p2\",\"name\":\"large\",\"description\":\"l\",\"free\":false,"
    "\"bindable\":false}]},"
    "{\"id\":\"svc-b\",\"name\":\"beta\",\"description\":\"B\","
    "\"bindable\":false,\"plans\":[{\"id\":\"p3\",\"name\":\"small\","
    "\"description\":\"s\"}]}]}";

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;
    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static dtk_json *status_with(const char *broker, const dtk_json *allowed)
{
    dtk_osb_catalog *cat = NULL;
    dtk_json *status = dtk_json_new_object(), *list = dtk_json_new_array();

    assert_int_equal(
        dtk_osb_catalog_parse(&cat, catalog_text, strlen(catalog_text)), 0);
    dtk_json_append(list, dtk_target_catalog_entry(broker, cat, allowed));
    dtk_json_set(status, "catalog", list);
    dtk_osb_catalog_free(cat);
    return status;
}

static void test_target__catalog_entry_keeps_allowed_services(void **state)
{
    dtk_json *allowed = parse("[\"beta\"]");
    dtk_json *status = status_with("main", allowed);
    static const char *const p[] = {"catalog", NULL};
    const dtk_json *entry = dtk_json_at(dtk_json_path(status, p), 0);
    const dtk_json *services = dtk_json_get(entry, "services");
    (void)state;

    assert_string_equal(dtk_json_get_string(entry, "broker"), "main");
    assert_int_equal(dtk_json_len(services), 1);
    assert_string_equal(
        dtk_json_get_string(dtk_json_at(services, 0), "name"), "beta");
    dtk_json_free(allowed);
    dtk_json_free(status);
}

static void test_target__catalog_entry_lists_plans(void **state)
{
    dtk_json *status = status_with("main", NULL);
    dtk_json *expected = parse(
        "{\"broker\":\"main\",\"services\":[{\"name\":\"alpha\",\"id\":"
        "\"svc-a\",\"description\":\"A\",\"bindable\":true,"
        "\"planUpdateable\":true,\"plans\":[{\"name\":\"small\",\"id\":\"p1\","
        "\"description\":\"s\",\"free\":true,\"bindable\":true},{\"name\":"
        "\"large\",\"id\":\"p2\",\"description\":\"l\",\"free\":false,"
        "\"bindable\":false}]},{\"name\":\"beta\",\"id\":\"svc-b\","
        "\"description\":\"B\",\"bindable\":false,\"planUpdateable\":false,"
        "\"plans\":[{\"name\":\"small\",\"id\":\"p3\",\"description\":\"s\","
        "\"free\":true,\"bindable\":false}]}]}");
    (void)state;

    assert_true(dtk_json_equal(
        dtk_json_at(dtk_json_get(status, "catalog"), 0), expected));
    dtk_json_free(expected);
    dtk_json_free(status);
}

static void test_target__find_offering_by_name_or_id(void **state)
{
    dtk_json *status = status_with("main", NULL);
    dtk_target_offering off;
    (void)state;

    assert_int_equal(
        dtk_target_find_offering(&off, status, NULL, "alpha", "large"), 0);
    assert_string_equal(off.broker, "main");
    assert_string_equal(off.service_id, "svc-a");
    assert_string_equal(off.plan_id, "p2");
    assert_false(off.bindable);
    assert_true(off.plan_updateable);
    assert_int_equal(
        dtk_target_find_offering(&off, status, "main", "svc-b", "p3"), 0);
    assert_string_equal(off.plan_id, "p3");
    dtk_json_free(status);
}

static void test_target__find_offering_names_what_is_missing(void **state)
{
    dtk_json *status = status_with("main", NULL);
    dtk_target_offering off;
    (void)state;

    assert_int_equal(
        dtk_target_find_offering(&off, status, NULL, "alpha", "huge"),
        DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "plan 'huge' of service class 'alpha' does not exist");
    assert_int_equal(
        dtk_target_find_offering(&off, status, "main", "gamma", "small"),
        DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "service class 'gamma' is not offered by broker "
                        "'main'");
    assert_int_equal(
        dtk_target_find_offering(&off, status, NULL, "gamma", "small"),
        DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "service class 'gamma' is not offered by any broker "
                        "of the target");
    assert_int_equal(
        dtk_target_find_offering(&off, status, "other", "alpha", "small"),
        DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "broker 'other' has no catalog in the target");
    dtk_json_free(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target__catalog_entry_keeps_allowed_services),
        cmocka_unit_test(test_target__catalog_entry_lists_plans),
        cmocka_unit_test(test_target__find_offering_by_name_or_id),
        cmocka_unit_test(test_target__find_offering_names_what_is_missing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "controller/common/conditions.h"
#include "pkg/base/alloc.h"

static void test_conditions__transition_time_moves_only_on_flip(void **state)
{
    dtk_json *status = dtk_json_new_object();
    const dtk_json *c;

    (void)state;
    assert_int_equal(dtk_conditions_set(status, "Ready", DTK_CONDITION_FALSE,
                                        "Provisioning", "waiting", 1,
                                        "2026-01-01T00:00:00Z"),
                     1);
    /* The same condition again changes nothing: no status write needed. */
    assert_int_equal(dtk_conditions_set(status, "Ready", DTK_CONDITION_FALSE,
                                        "Provisioning", "waiting", 1,
                                        "2026-01-01T00:05:00Z"),
                     0);
    /* A new message or generation changes it but keeps the time. */
    assert_int_equal(dtk_conditions_set(status, "Ready", DTK_CONDITION_FALSE,
                                        "Provisioning", "polling", 2,
                                        "2026-01-01T00:06:00Z"),
                     1);
    c = dtk_conditions_get(status, "Ready");
    assert_string_equal(dtk_json_get_string(c, "lastTransitionTime"),
                        "2026-01-01T00:00:00Z");
    assert_false(dtk_conditions_is_true(status, "Ready"));
    assert_int_equal(dtk_conditions_set(status, "Ready", DTK_CONDITION_TRUE,
                                        "Converged", "", 2,
                                        "2026-01-01T00:07:00Z"),
                     1);
    c = dtk_conditions_get(status, "Ready");
    assert_string_equal(dtk_json_get_string(c, "lastTransitionTime"),
                        "2026-01-01T00:07:00Z");
    assert_string_equal(dtk_json_get_string(c, "observedGeneration") == NULL
                            ? dtk_json_get(c, "observedGeneration")->u.number
                            : "",
                        "2");
    assert_true(dtk_conditions_is_true(status, "Ready"));
    assert_int_equal(dtk_conditions_remove(status, "Ready"), 1);
    assert_null(dtk_conditions_get(status, "Ready"));
    dtk_json_free(status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_conditions__transition_time_moves_only_on_flip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

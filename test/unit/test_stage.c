/* ServiceInstance staging: parameter precedence, validation, ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "controller/instance/stage.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static dtk_assembly *assembly(void)
{
    dtk_json *obj = parse(
        "{\"parameters\":[{\"name\":\"replicas\",\"type\":\"integer\","
        "\"default\":1},{\"name\":\"region\",\"default\":\"eu\"},"
        "{\"name\":\"size\",\"enum\":[\"s\",\"m\"],\"default\":\"s\"},"
        "{\"name\":\"adminPassword\",\"required\":true,\"sensitive\":true,"
        "\"enum\":[\"only-this\",\"or-that\"]}],"
        "\"components\":[{\"name\":\"web\",\"container\":{\"image\":\"x\"}}]}");
    dtk_assembly *a = NULL;
    dtk_buf problems = DTK_BUF_INIT(0);

    assert_int_equal(dtk_assembly_decode(&a, &problems, obj), 0);
    dtk_json_free(obj);
    dtk_buf_dispose(&problems);
    return a;
}

static void test_stage__precedence_defaults_target_parent_instance_secret(
    void **state)
{
    dtk_assembly *a = assembly();
    dtk_json *target = parse("{\"region\":\"us\",\"replicas\":2,\"zone\":\"b\"}");
    dtk_json *parent = parse("{\"replicas\":3}");
    dtk_json *inst = parse("{\"replicas\":4}");
    dtk_param_source from[] = {
        {"adminPassword", "only-this", 9},
        {"bundle", "{\"size\":\"m\"}", 12},
    };
    dtk_json *out = NULL;
    dtk_buf problems = DTK_BUF_INIT(0);
    char *text;

    (void)state;
    assert_int_equal(dtk_stage_parameters(&out, &problems, a, target, parent,
                                          inst, from, 2),
                     0);
    text = dtk_json_to_string(out);
    assert_string_equal(text, "{\"replicas\":4,\"region\":\"us\",\"size\":\"m\","
                              "\"adminPassword\":\"only-this\"}");
    dtk_free(text);
    {
        dtk_json *red = dtk_stage_redact(a, out);

        text = dtk_json_to_string(red);
        assert_null(strstr(text, "only-this"));
        assert_non_null(strstr(text, "\"adminPassword\":\"(sensitive)\""));
        dtk_free(text);
        dtk_json_free(red);
    }
    dtk_json_free(out);
    dtk_json_free(target);
    dtk_json_free(parent);
    dtk_json_free(inst);
    dtk_assembly_free(a);
    dtk_buf_dispose(&problems);
}

static void test_stage__problems_name_parameters_not_secrets(void **state)
{
    dtk_assembly *a = assembly();
    dtk_json *inst = parse("{\"replicas\":\"two\",\"colour\":\"red\"}");
    dtk_param_source from[] = {{"adminPassword", "hunter2", 7}};
    dtk_json *out = NULL;
    dtk_buf problems = DTK_BUF_INIT(0);

    (void)state;
    assert_int_equal(dtk_stage_parameters(&out, &problems, a, NULL, NULL, inst,
                                          from, 1),
                     DTK_EINVALID);
    assert_null(out);
    assert_string_equal(dtk_buf_cstr(&problems),
                        "spec.parameters.colour: parameter colour is not "
                        "declared by the assembly; parameter replicas: must be "
                        "an integer; parameter adminPassword: must be one of "
                        "the declared values");
    assert_null(strstr(dtk_error_last()->message, "hunter2"));
    dtk_buf_reset(&problems);
    assert_int_equal(dtk_stage_parameters(&out, &problems, a, NULL, NULL, NULL,
                                          NULL, 0),
                     DTK_EINVALID);
    assert_string_equal(dtk_buf_cstr(&problems),
                        "parameter adminPassword: required");
    dtk_json_free(inst);
    dtk_assembly_free(a);
    dtk_buf_dispose(&problems);
}

static void test_stage__external_ids_are_stable_and_distinct(void **state)
{
    char a[40], b[40], c[40], d[40];

    (void)state;
    assert_int_equal(dtk_stage_external_id(a, "uid-1", "db", "instance"), 0);
    assert_int_equal(dtk_stage_external_id(b, "uid-1", "db", "instance"), 0);
    assert_int_equal(dtk_stage_external_id(c, "uid-1", "db", "binding"), 0);
    assert_int_equal(dtk_stage_external_id(d, "uid-2", "db", "instance"), 0);
    assert_string_equal(a, b);
    assert_string_not_equal(a, c);
    assert_string_not_equal(a, d);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '5');
    assert_int_equal(a[8], '-');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(
            test_stage__precedence_defaults_target_parent_instance_secret),
        cmocka_unit_test(test_stage__problems_name_parameters_not_secrets),
        cmocka_unit_test(test_stage__external_ids_are_stable_and_distinct),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Assembly templates: expressions, validation, order and revision. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "controller/assembly/assembly.h"
#include "controller/common/expr.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static char *resolve(const char *value, const char *context, int *error)
{
    dtk_json *v = parse(value);
    dtk_json *ctx = parse(context);
    dtk_json *out = NULL;
    char *text = NULL;

    *error = dtk_expr_resolve(&out, v, ctx);
    if (*error == 0) {
        text = dtk_json_to_string(out);
    }
    dtk_json_free(v);
    dtk_json_free(ctx);
    dtk_json_free(out);
    return text;
}

static const char ctx[] =
    "{\"parameters\":{\"replicas\":2,\"name\":\"blog\"},"
    "\"components\":{\"db\":{\"credentials\":{\"host\":\"10.0.0.5\","
    "\"password\":\"s3cr3t\"}}}}";

static void test_assembly__expressions_keep_type_or_interpolate(void **state)
{
    int error;
    char *out;

    (void)state;
    out = resolve("{\"r\":\"${parameters.replicas}\",\"u\":\"http://"
                  "${components.db.credentials.host}:${parameters.replicas}/"
                  "$${not.this}\"}",
                  ctx, &error);
    assert_int_equal(error, 0);
    assert_string_equal(out, "{\"r\":2,\"u\":\"http://10.0.0.5:2/${not.this}\"}");
    dtk_free(out);
}

static void test_assembly__missing_value_names_path_not_secret(void **state)
{
    int error;
    char *out;

    (void)state;
    out = resolve("\"x${components.db.credentials.port}\"", ctx, &error);
    assert_null(out);
    assert_int_equal(error, DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "${components.db.credentials.port} is not available");
    out = resolve("\"${parameters.name\"", ctx, &error);
    assert_int_equal(error, DTK_EINVALID);
    assert_non_null(strstr(dtk_error_last()->message, "closing '}'"));
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
}

static const char wordpress[] =
    "{\"spec\":{\"parameters\":[{\"name\":\"replicas\",\"type\":\"integer\","
    "\"default\":1},{\"name\":\"dbPlan\",\"type\":\"string\",\"default\":"
    "\"small\",\"enum\":[\"small\",\"large\"]},{\"name\":\"adminPassword\","
    "\"required\":true,\"sensitive\":true}],"
    "\"components\":[{\"name\":\"web\",\"container\":{\"image\":"
    "\"wordpress:6\",\"replicas\":\"${parameters.replicas}\",\"env\":{"
    "\"DB_HOST\":\"${components.db.credentials.host}\"}}},"
    "{\"name\":\"cache\",\"container\":{\"image\":\"redis\"}},"
    "{\"name\":\"db\",\"service\":{\"class\":\"postgresql\",\"plan\":"
    "\"${parameters.dbPlan}\"},\"dependsOn\":[\"cache\"]}],"
    "\"outputs\":{\"url\":\"http://${components.web.host}:8080\"},"
    "\"actions\":[{\"name\":\"backup\",\"exec\":{\"component\":\"web\","
    "\"command\":[\"sh\"]}}]}}";

static void test_assembly__orders_by_references_and_depends_on(void **state)
{
    dtk_json *obj = parse(wordpress);
    dtk_assembly *a = NULL;
    dtk_buf problems = DTK_BUF_INIT(0);

    (void)state;
    assert_int_equal(dtk_assembly_decode(&a, &problems, obj), 0);
    assert_int_equal(a->component_count, 3);
    assert_string_equal(a->components[a->order[0]].name, "cache");
    assert_string_equal(a->components[a->order[1]].name, "db");
    assert_string_equal(a->components[a->order[2]].name, "web");
    assert_int_equal(strlen(a->revision), 10);
    assert_true(dtk_assembly_param(a, "adminPassword")->sensitive);
    dtk_assembly_free(a);
    dtk_json_free(obj);
    dtk_buf_dispose(&problems);
}

static void test_assembly__revision_ignores_key_order_not_content(void **state)
{
    dtk_json *a = parse("{\"x\":1,\"y\":{\"b\":2,\"a\":3}}");
    dtk_json *b = parse("{\"y\":{\"a\":3,\"b\":2},\"x\":1}");
    dtk_json *c = parse("{\"y\":{\"a\":3,\"b\":2},\"x\":2}");
    char ra[16], rb[16], rc[16];

    (void)state;
    assert_int_equal(dtk_assembly_revision(ra, a), 0);
    assert_int_equal(dtk_assembly_revision(rb, b), 0);
    assert_int_equal(dtk_assembly_revision(rc, c), 0);
    assert_string_equal(ra, rb);
    assert_string_not_equal(ra, rc);
    dtk_json_free(a);
    dtk_json_free(b);
    dtk_json_free(c);
}

static void expect_invalid(const char *spec, const char *message)
{
    dtk_json *obj = parse(spec);
    dtk_assembly *a = NULL;
    dtk_buf problems = DTK_BUF_INIT(0);

    assert_int_equal(dtk_assembly_decode(&a, &problems, obj), DTK_EINVALID);
    assert_null(a);
    assert_string_equal(dtk_buf_cstr(&problems), message);
    dtk_json_free(obj);
    dtk_buf_dispose(&problems);
}

static void test_assembly__cycle_is_named(void **state)
{
    (void)state;
    expect_invalid("{\"components\":[{\"name\":\"a\",\"container\":{\"image\":"
                   "\"x\"},\"dependsOn\":[\"b\"]},{\"name\":\"b\","
                   "\"container\":{\"image\":\"${components.c.host}\"}},"
                   "{\"name\":\"c\",\"container\":{\"image\":\"x\"},"
                   "\"dependsOn\":[\"a\"]}]}",
                   "dependency cycle: a -> b -> c -> a");
}

static void test_assembly__bad_references_are_named(void **state)
{
    (void)state;
    expect_invalid(
        "{\"components\":[{\"name\":\"web\",\"container\":{\"image\":"
        "\"${parameters.tag}\",\"env\":{\"X\":\"${components.db.password}\","
        "\"Y\":\"${secrets.x}\"}},\"dependsOn\":[\"nope\"]}],"
        "\"actions\":[{\"name\":\"a\",\"exec\":{\"component\":\"db\"}}]}",
        "component web: ${parameters.tag} refers to parameter tag, which is "
        "not declared; component web: ${components.db.password} refers to "
        "component db, which does not exist; component web: ${secrets.x} "
        "refers to nothing (expressions start with parameters., "
        "target.parameters., components. or parent.outputs.); component web: "
        "dependsOn 'nope' is not a component; action a: exec.component 'db' "
        "is not a container component");
}

static void test_assembly__parameter_declarations_are_checked(void **state)
{
    (void)state;
    expect_invalid("{\"parameters\":[{\"name\":\"size\",\"enum\":[\"s\","
                   "\"m\"],\"default\":\"xl\"},{\"name\":\"n\",\"type\":"
                   "\"float\"},{\"name\":\"size\"}],\"components\":[{\"name\":"
                   "\"Web\",\"container\":{\"image\":\"x\"}},{\"name\":\"db\","
                   "\"service\":{\"class\":\"pg\"},\"container\":{}}]}",
                   "spec.parameters[0].default: parameter size: must be one "
                   "of 's', 'm'; spec.parameters[1].type: 'float' is not one "
                   "of string, integer, number, boolean, object, array; "
                   "spec.parameters[2]: parameter size is declared twice; "
                   "spec.components[0].name: must be a lowercase RFC 1123 "
                   "label; spec.components[1]: component db needs exactly "
                   "one of service or container");
}

static void test_assembly__sensitive_values_are_not_echoed(void **state)
{
    dtk_json *enums = parse("[\"alpha\",\"beta\"]");
    dtk_json *value = parse("\"gamma\"");
    dtk_json *number = parse("3");
    dtk_asm_param open = {"mode", "string", NULL, enums, 0, 0};
    dtk_asm_param hidden = {"token", "string", NULL, enums, 0, 1};

    (void)state;
    assert_int_equal(dtk_assembly_check_value(&open, value), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "parameter mode: must be one of 'alpha', 'beta'");
    assert_int_equal(dtk_assembly_check_value(&hidden, value), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "parameter token: must be one of the declared values");
    assert_int_equal(dtk_assembly_check_value(&open, number), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "parameter mode: must be a string");
    dtk_json_free(enums);
    dtk_json_free(value);
    dtk_json_free(number);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assembly__expressions_keep_type_or_interpolate),
        cmocka_unit_test(test_assembly__missing_value_names_path_not_secret),
        cmocka_unit_test(test_assembly__orders_by_references_and_depends_on),
        cmocka_unit_test(test_assembly__revision_ignores_key_order_not_content),
        cmocka_unit_test(test_assembly__cycle_is_named),
        cmocka_unit_test(test_assembly__bad_references_are_named),
        cmocka_unit_test(test_assembly__parameter_declarations_are_checked),
        cmocka_unit_test(test_assembly__sensitive_values_are_not_echoed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "pkg/base/alloc.h"
#include "pkg/json/json.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

/* Renders one JSON value as the body of an Invalid error. */
static void assert_value_prints(const char *json, const char *expected)
{
    dtk_json *v = parse(json);
    dtk_buf out = DTK_BUF_INIT(0);

    dtk_fielderr_fmt_value(&out, v);
    assert_string_equal(dtk_buf_cstr(&out), expected);
    dtk_buf_dispose(&out);
    dtk_json_free(v);
}

static void assert_float_prints(double v, const char *expected)
{
    dtk_buf out = DTK_BUF_INIT(0);

    dtk_fielderr_fmt_float(&out, v);
    assert_string_equal(dtk_buf_cstr(&out), expected);
    dtk_buf_dispose(&out);
}

static void assert_one(const dtk_fielderr_list *list,
                       size_t i,
                       const char *reason,
                       const char *field,
                       const char *message)
{
    assert_true(i < list->len);
    assert_string_equal(list->items[i].reason, reason);
    assert_string_equal(list->items[i].field, field);
    assert_string_equal(list->items[i].message, message);
}

static void test_fielderr__invalid_prints_value_and_detail(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    dtk_json *zero = parse("0");
    dtk_json *name = parse("\"Foo\"");

    (void)state;
    dtk_fielderr_invalid(&list, "spec.replicas", zero, "must be positive");
    dtk_fielderr_invalid(&list, "metadata.name", name, NULL);
    dtk_fielderr_invalid(&list, DTK_FIELDERR_NIL_PATH, NULL,
                         "some validation rules were not checked because "
                         "the object was invalid; correct the existing "
                         "errors to complete validation");
    dtk_fielderr_invalid_string(&list, "spec", "object", "bad");
    assert_int_equal(list.len, 4);
    assert_one(&list, 0, "FieldValueInvalid", "spec.replicas",
               "Invalid value: 0: must be positive");
    assert_one(&list, 1, "FieldValueInvalid", "metadata.name",
               "Invalid value: \"Foo\"");
    assert_one(&list, 2, "FieldValueInvalid", "<nil>",
               "Invalid value: \"null\": some validation rules were not "
               "checked because the object was invalid; correct the "
               "existing errors to complete validation");
    assert_one(&list, 3, "FieldValueInvalid", "spec",
               "Invalid value: \"object\": bad");
    dtk_json_free(zero);
    dtk_json_free(name);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__type_invalid_reason_and_wording(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;

    (void)state;
    dtk_fielderr_type_invalid_string(
        &list, "spec.replicas", "string",
        "spec.replicas in body must be of type integer: \"string\"");
    assert_one(&list, 0, "FieldValueTypeInvalid", "spec.replicas",
               "Invalid value: \"string\": spec.replicas in body must be of "
               "type integer: \"string\"");
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__valueless_types(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;

    (void)state;
    dtk_fielderr_required(&list, "spec.name", "");
    dtk_fielderr_required(&list, "spec.items", "must be specified");
    dtk_fielderr_forbidden(&list, "spec.x", "may not be set");
    dtk_fielderr_internal(&list, "spec", "boom");
    assert_one(&list, 0, "FieldValueRequired", "spec.name", "Required value");
    assert_one(&list, 1, "FieldValueRequired", "spec.items",
               "Required value: must be specified");
    assert_one(&list, 2, "FieldValueForbidden", "spec.x",
               "Forbidden: may not be set");
    assert_one(&list, 3, "InternalError", "spec", "Internal error: boom");
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__too_long_never_prints_value(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    dtk_json *secret = parse("\"s3cr3t-value\"");

    (void)state;
    dtk_fielderr_too_long(&list, "spec.name", secret, 5);
    dtk_fielderr_too_long(&list, "spec.name", secret, -1);
    assert_one(&list, 0, "FieldValueTooLong", "spec.name",
               "Too long: may not be more than 5 bytes");
    assert_one(&list, 1, "FieldValueTooLong", "spec.name",
               "Too long: value is too long");
    dtk_json_free(secret);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__too_many_variants(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;

    (void)state;
    dtk_fielderr_too_many(&list, "spec.items", 3, 2);
    dtk_fielderr_too_many(&list, "spec.items", -1, 2);
    dtk_fielderr_too_many(&list, "spec.items", 4, -1);
    assert_one(&list, 0, "FieldValueTooMany", "spec.items",
               "Too many: 3: must have at most 2 items");
    assert_one(&list, 1, "FieldValueTooMany", "spec.items",
               "Too many: must have at most 2 items");
    assert_one(&list, 2, "FieldValueTooMany", "spec.items",
               "Too many: 4: has too many items");
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__not_supported_quotes_each_value(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    const char *supported[] = {"Always", "Never", "1"};
    dtk_json *v = parse("\"Sometimes\"");
    dtk_json *n = parse("3");

    (void)state;
    dtk_fielderr_not_supported(&list, "spec.policy", v, supported, 3);
    dtk_fielderr_not_supported(&list, "spec.n", n, supported + 2, 1);
    dtk_fielderr_not_supported(&list, "spec.x", n, NULL, 0);
    assert_one(&list, 0, "FieldValueNotSupported", "spec.policy",
               "Unsupported value: \"Sometimes\": supported values: "
               "\"Always\", \"Never\", \"1\"");
    assert_one(&list, 1, "FieldValueNotSupported", "spec.n",
               "Unsupported value: 3: supported values: \"1\"");
    assert_one(&list, 2, "FieldValueNotSupported", "spec.x",
               "Unsupported value: 3");
    dtk_json_free(v);
    dtk_json_free(n);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__duplicate_prints_go_syntax_map(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    dtk_json *key = parse("{\"port\":80,\"name\":\"http\"}");
    dtk_json *scalar = parse("\"a\"");

    (void)state;
    dtk_fielderr_duplicate(&list, "spec.ports[1]", key);
    dtk_fielderr_duplicate(&list, "spec.tags[2]", scalar);
    dtk_fielderr_not_found(&list, "spec.ref", scalar);
    assert_one(&list, 0, "FieldValueDuplicate", "spec.ports[1]",
               "Duplicate value: map[string]interface {}{\"name\":\"http\", "
               "\"port\":80}");
    assert_one(&list, 1, "FieldValueDuplicate", "spec.tags[2]",
               "Duplicate value: \"a\"");
    assert_one(&list, 2, "FieldValueNotFound", "spec.ref", "Not found: \"a\"");
    dtk_json_free(key);
    dtk_json_free(scalar);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__values_print_like_go(void **state)
{
    (void)state;
    assert_value_prints("42", "42");
    assert_value_prints("-7", "-7");
    assert_value_prints("9223372036854775807", "9223372036854775807");
    /* Past int64, Kubernetes decodes a float64. */
    assert_value_prints("9223372036854775808", "9.223372036854776e+18");
    assert_value_prints("1.0", "1");
    assert_value_prints("1.5", "1.5");
    assert_value_prints("1e3", "1000");
    assert_value_prints("true", "true");
    assert_value_prints("null", "\"null\"");
    assert_value_prints("\"a\\\"b\\\\c\\n\\t\\u0001\"",
                        "\"a\\\"b\\\\c\\n\\t\\x01\"");
    assert_value_prints("\"caf\\u00e9 \\u00a0\\u2028\"",
                        "\"caf\xc3\xa9 \\u00a0\\u2028\"");
    assert_value_prints("\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"");
    assert_value_prints("[1,\"x\",null,[true],{}]",
                        "[]interface {}{1, \"x\", interface {}(nil), "
                        "[]interface {}{true}, map[string]interface {}{}}");
    assert_value_prints("{\"b\":{\"z\":1.25},\"a\":[]}",
                        "map[string]interface {}{\"a\":[]interface {}{}, "
                        "\"b\":map[string]interface {}{\"z\":1.25}}");
}

static void test_fielderr__quote_escapes_invalid_utf8(void **state)
{
    dtk_buf out = DTK_BUF_INIT(0);

    (void)state;
    dtk_fielderr_fmt_quote(&out,
                           "a\xff"
                           "b\x00"
                           "c\x7f",
                           6);
    assert_string_equal(dtk_buf_cstr(&out), "\"a\\xffb\\x00c\\x7f\"");
    dtk_buf_dispose(&out);
}

static void test_fielderr__floats_print_like_go_v(void **state)
{
    (void)state;
    assert_float_prints(0, "0");
    assert_float_prints(-0.0, "-0");
    assert_float_prints(10, "10");
    assert_float_prints(123456, "123456");
    assert_float_prints(1e6, "1e+06");
    assert_float_prints(1234567, "1.234567e+06");
    assert_float_prints(0.0001, "0.0001");
    assert_float_prints(0.00001, "1e-05");
    assert_float_prints(0.1, "0.1");
    assert_float_prints(-2.5, "-2.5");
    assert_float_prints(1e21, "1e+21");
    assert_float_prints(1.7976931348623157e308, "1.7976931348623157e+308");
    assert_float_prints(5e-324, "5e-324");
    assert_float_prints(NAN, "NaN");
    assert_float_prints(INFINITY, "+Inf");
    assert_float_prints(-INFINITY, "-Inf");
}

static void test_fielderr__aggregate_brackets_and_dedups(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    char *s;

    (void)state;
    s = dtk_fielderr_list_string(&list);
    assert_string_equal(s, "");
    dtk_free(s);

    dtk_fielderr_required(&list, "spec.a", "");
    s = dtk_fielderr_list_string(&list);
    assert_string_equal(s, "spec.a: Required value");
    dtk_free(s);

    /* A repeated error is printed once; one distinct error, no brackets. */
    dtk_fielderr_required(&list, "spec.a", "");
    s = dtk_fielderr_list_string(&list);
    assert_string_equal(s, "spec.a: Required value");
    dtk_free(s);

    dtk_fielderr_forbidden(&list, "spec.b", "no");
    s = dtk_fielderr_list_string(&list);
    assert_string_equal(s, "[spec.a: Required value, spec.b: Forbidden: no]");
    dtk_free(s);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__status_one_error(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    dtk_json *st;
    char *text;

    (void)state;
    dtk_fielderr_required(&list, "spec.image", "");
    st = dtk_fielderr_status(&list, "Assembly", "dtk.example.com", "web");
    text = dtk_json_to_string(st);
    assert_string_equal(
        text,
        "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
        "\"status\":\"Failure\",\"message\":\"Assembly.dtk.example.com "
        "\\\"web\\\" is invalid: spec.image: Required value\","
        "\"reason\":\"Invalid\",\"details\":{\"name\":\"web\","
        "\"group\":\"dtk.example.com\",\"kind\":\"Assembly\",\"causes\":["
        "{\"reason\":\"FieldValueRequired\",\"message\":\"Required value\","
        "\"field\":\"spec.image\"}]},\"code\":422}");
    dtk_free(text);
    dtk_json_free(st);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__status_many_errors_keeps_every_cause(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    dtk_json *v = parse("-1");
    dtk_json *st;
    const dtk_json *causes;

    (void)state;
    dtk_fielderr_invalid(&list, "spec.replicas", v,
                         "spec.replicas in body should be greater than or "
                         "equal to 0");
    dtk_fielderr_required(&list, "spec.image", "");
    dtk_fielderr_required(&list, "spec.image", "");
    st = dtk_fielderr_status(&list, "Widget", "", "w1");
    assert_string_equal(
        dtk_json_get_string(st, "message"),
        "Widget \"w1\" is invalid: [spec.replicas: Invalid value: -1: "
        "spec.replicas in body should be greater than or equal to 0, "
        "spec.image: Required value]");
    causes = dtk_json_get(dtk_json_get(st, "details"), "causes");
    assert_int_equal(dtk_json_len(causes), 3);
    assert_null(dtk_json_get(dtk_json_get(st, "details"), "group"));
    assert_string_equal(dtk_json_get_string(dtk_json_at(causes, 0), "reason"),
                        "FieldValueInvalid");
    assert_string_equal(dtk_json_get_string(dtk_json_at(causes, 0), "field"),
                        "spec.replicas");
    dtk_json_free(st);
    dtk_json_free(v);
    dtk_fielderr_list_dispose(&list);
}

static void test_fielderr__status_empty_list_and_no_name(void **state)
{
    dtk_fielderr_list list = DTK_FIELDERR_LIST_INIT;
    dtk_json *st;
    char *text;

    (void)state;
    st = dtk_fielderr_status(&list, "Widget", "g.io", NULL);
    text = dtk_json_to_string(st);
    assert_string_equal(
        text, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
              "\"status\":\"Failure\",\"message\":\"Widget.g.io \\\"\\\" is "
              "invalid\",\"reason\":\"Invalid\",\"details\":{\"group\":"
              "\"g.io\",\"kind\":\"Widget\"},\"code\":422}");
    dtk_free(text);
    dtk_json_free(st);
}

static void test_fielderr__move_appends_and_empties_source(void **state)
{
    dtk_fielderr_list a = DTK_FIELDERR_LIST_INIT;
    dtk_fielderr_list b = DTK_FIELDERR_LIST_INIT;

    (void)state;
    dtk_fielderr_required(&a, "x", "");
    dtk_fielderr_forbidden(&b, "y", "z");
    dtk_fielderr_add(&b, "FieldValueInvalid", NULL, "Invalid value: 1");
    dtk_fielderr_list_move(&a, &b);
    assert_int_equal(a.len, 3);
    assert_int_equal(b.len, 0);
    assert_one(&a, 1, "FieldValueForbidden", "y", "Forbidden: z");
    assert_one(&a, 2, "FieldValueInvalid", "<nil>", "Invalid value: 1");
    dtk_fielderr_list_dispose(&a);
    dtk_fielderr_list_dispose(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fielderr__invalid_prints_value_and_detail),
        cmocka_unit_test(test_fielderr__type_invalid_reason_and_wording),
        cmocka_unit_test(test_fielderr__valueless_types),
        cmocka_unit_test(test_fielderr__too_long_never_prints_value),
        cmocka_unit_test(test_fielderr__too_many_variants),
        cmocka_unit_test(test_fielderr__not_supported_quotes_each_value),
        cmocka_unit_test(test_fielderr__duplicate_prints_go_syntax_map),
        cmocka_unit_test(test_fielderr__values_print_like_go),
        cmocka_unit_test(test_fielderr__quote_escapes_invalid_utf8),
        cmocka_unit_test(test_fielderr__floats_print_like_go_v),
        cmocka_unit_test(test_fielderr__aggregate_brackets_and_dedups),
        cmocka_unit_test(test_fielderr__status_one_error),
        cmocka_unit_test(test_fielderr__status_many_errors_keeps_every_cause),
        cmocka_unit_test(test_fielderr__status_empty_list_and_no_name),
        cmocka_unit_test(test_fielderr__move_appends_and_empties_source),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

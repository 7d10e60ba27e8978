#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;

    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static void assert_roundtrip(const char *in, const char *expected)
{
    dtk_json *v = parse(in);
    char *out = dtk_json_to_string(v);

    assert_string_equal(out, expected);
    dtk_free(out);
    dtk_json_free(v);
}

static void test_json__roundtrip_keeps_order_and_number_text(void **state)
{
    (void)state;
    assert_roundtrip("{\"b\":1,\"a\":[true,null,1.50,\"x\\u00e9\"],"
                     "\"big\":9223372036854775807}",
                     "{\"b\":1,\"a\":[true,null,1.50,\"x\xc3\xa9\"],"
                     "\"big\":9223372036854775807}");
}

static void test_json__rejects_deep_nesting_without_quoting_input(void **state)
{
    char deep[DTK_JSON_MAX_DEPTH + 10];
    dtk_json *v = NULL;

    (void)state;
    memset(deep, '[', sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = '\0';
    assert_int_equal(dtk_json_parse(&v, deep, strlen(deep)), DTK_EINVALID);
    assert_null(v);
    assert_string_equal(dtk_error_last()->message,
                        "JSON nesting deeper than 128 levels");
}

static void test_json__syntax_error_names_offset_not_content(void **state)
{
    const char *text = "{\"token\":\"s3cr3t\" x}";
    dtk_json *v = NULL;

    (void)state;
    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), DTK_EINVALID);
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
    assert_non_null(strstr(dtk_error_last()->message, "invalid JSON near byte"));
}

static void test_json__trailing_garbage_and_empty_are_errors(void **state)
{
    dtk_json *v = NULL;

    (void)state;
    assert_int_equal(dtk_json_parse(&v, "{} {}", 5), DTK_EINVALID);
    assert_int_equal(dtk_json_parse(&v, "", 0), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "empty JSON document");
    assert_int_equal(dtk_json_parse(&v, "\"\xff\"", 3), DTK_EINVALID);
}

static void test_json__set_get_take_and_path(void **state)
{
    dtk_json *v = parse("{\"metadata\":{\"name\":\"a\"}}");
    static const char *const name_path[] = {"metadata", "name", NULL};
    static const char *const labels_path[] = {"metadata", "labels", NULL};
    dtk_json *labels;
    char *out;

    (void)state;
    assert_string_equal(dtk_json_string(dtk_json_path(v, name_path)), "a");
    labels = dtk_json_ensure_object(v, labels_path);
    dtk_json_set(labels, "app", dtk_json_new_string("web"));
    dtk_json_set(labels, "app", dtk_json_new_string("db"));
    dtk_json_set(dtk_json_get(v, "metadata"), "generation",
                 dtk_json_new_int(-3));
    out = dtk_json_to_string(v);
    assert_string_equal(out, "{\"metadata\":{\"name\":\"a\",\"labels\":"
                             "{\"app\":\"db\"},\"generation\":-3}}");
    dtk_free(out);
    assert_int_equal(dtk_json_remove(dtk_json_get(v, "metadata"), "name"), 1);
    assert_null(dtk_json_path(v, name_path));
    dtk_json_free(v);
}

static void test_json__equal_ignores_member_order(void **state)
{
    dtk_json *a = parse("{\"x\":[1,{\"y\":2,\"z\":3}],\"n\":1.0}");
    dtk_json *b = parse("{\"n\":1.0,\"x\":[1,{\"z\":3,\"y\":2}]}");
    dtk_json *c = parse("{\"n\":1.0,\"x\":[{\"z\":3,\"y\":2},1]}");
    dtk_json *d = dtk_json_copy(a);

    (void)state;
    assert_true(dtk_json_equal(a, b));
    assert_false(dtk_json_equal(a, c));
    assert_true(dtk_json_equal(a, d));
    dtk_json_free(a);
    dtk_json_free(b);
    dtk_json_free(c);
    dtk_json_free(d);
}

static void test_json__integer_reads_are_checked(void **state)
{
    dtk_json *v = parse("[42,1.5,99999999999999999999]");
    int64_t n = 0;

    (void)state;
    assert_int_equal(dtk_json_int(&n, dtk_json_at(v, 0)), 0);
    assert_int_equal(n, 42);
    assert_int_equal(dtk_json_int(&n, dtk_json_at(v, 1)), DTK_EINVALID);
    assert_int_equal(dtk_json_int(&n, dtk_json_at(v, 2)), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "integer out of range");
    dtk_json_free(v);
}

static void test_json__write_respects_buffer_limit(void **state)
{
    dtk_json *v = parse("{\"a\":\"0123456789\"}");
    dtk_buf buf = DTK_BUF_INIT(8);

    (void)state;
    assert_int_equal(dtk_json_write(&buf, v), DTK_ETOOBIG);
    assert_int_equal(buf.len, 0);
    dtk_buf_dispose(&buf);
    dtk_json_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json__roundtrip_keeps_order_and_number_text),
        cmocka_unit_test(test_json__rejects_deep_nesting_without_quoting_input),
        cmocka_unit_test(test_json__syntax_error_names_offset_not_content),
        cmocka_unit_test(test_json__trailing_garbage_and_empty_are_errors),
        cmocka_unit_test(test_json__set_get_take_and_path),
        cmocka_unit_test(test_json__equal_ignores_member_order),
        cmocka_unit_test(test_json__integer_reads_are_checked),
        cmocka_unit_test(test_json__write_respects_buffer_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

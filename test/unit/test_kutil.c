/* Controller helpers: Secret values, metadata reads, binding Secret data,
 * poll delays. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "controller/common/kutil.h"
#include "controller/instance/instance_int.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

static dtk_json *parse(const char *text)
{
    dtk_json *v = NULL;
    assert_int_equal(dtk_json_parse(&v, text, strlen(text)), 0);
    return v;
}

static const char *secret_text =
    "{\"metadata\":{\"name\":\"auth\",\"generation\":3,\"annotations\":"
    "{\"a\":\"b\"},\"finalizers\":[\"x\",\"dtk.io/teardown\"]},"
    "\"data\":{\"username\":\"YnJva2Vy\",\"bad\":\"s3cr3t-not-b64!\"}}";

static void test_kutil__secret_value_decodes_base64(void **state)
{
    dtk_json *s = parse(secret_text);
    dtk_buf out = DTK_BUF_INIT(1024);
    (void)state;

    assert_int_equal(dtk_kutil_secret_value(&out, s, "username"), 0);
    assert_string_equal(dtk_buf_cstr(&out), "broker");
    dtk_buf_dispose(&out);
    dtk_json_free(s);
}

static void test_kutil__secret_value_errors_name_key_not_value(void **state)
{
    dtk_json *s = parse(secret_text);
    dtk_buf out = DTK_BUF_INIT(1024);
    (void)state;

    assert_int_equal(dtk_kutil_secret_value(&out, s, "password"),
                     DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "secret 'auth' has no key 'password'");
    assert_int_equal(dtk_kutil_secret_value(&out, s, "bad"), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "secret 'auth' key 'bad': not base64");
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
    dtk_buf_dispose(&out);
    dtk_json_free(s);
}

static void test_kutil__metadata_reads(void **state)
{
    dtk_json *s = parse(secret_text);
    (void)state;

    assert_string_equal(dtk_kutil_meta(s, "name"), "auth");
    assert_null(dtk_kutil_meta(s, "namespace"));
    assert_string_equal(dtk_kutil_annotation(s, "a"), "b");
    assert_null(dtk_kutil_annotation(s, "c"));
    assert_int_equal(dtk_kutil_generation(s), 3);
    assert_true(dtk_kutil_has_finalizer(s, "dtk.io/teardown"));
    assert_false(dtk_kutil_has_finalizer(s, "dtk.io/in-use"));
    dtk_json_free(s);
}

static void test_kutil__binding_secret_data_is_strings(void **state)
{
    dtk_json *creds = parse("{\"uri\":\"db://h\",\"port\":5432,"
                            "\"tls\":{\"on\":true}}");
    dtk_json *expected = parse(
        "{\"uri\":\"db://h\",\"port\":\"5432\",\"tls\":\"{\\\"on\\\":true}\","
        "\"type\":\"postgresql\",\"provider\":\"main\"}");
    dtk_json *data = dtk_instance_secret_data(creds, "postgresql", "main");
    dtk_json *own = parse("{\"type\":\"mysql\"}");
    dtk_json *data2 = dtk_instance_secret_data(own, "postgresql", "main");
    (void)state;

    assert_true(dtk_json_equal(data, expected));
    /* A type the broker sent wins. */
    assert_string_equal(dtk_json_get_string(data2, "type"), "mysql");
    dtk_json_free(creds);
    dtk_json_free(expected);
    dtk_json_free(data);
    dtk_json_free(own);
    dtk_json_free(data2);
}

static void test_kutil__poll_delay_honours_retry_after_and_caps(void **state)
{
    (void)state;
    assert_int_equal(dtk_instance_poll_delay_s(1, 7), 7);
    assert_int_equal(dtk_instance_poll_delay_s(1, 0), 1);
    assert_int_equal(dtk_instance_poll_delay_s(1, 3600), 60);
    assert_int_equal(dtk_instance_poll_delay_s(1, -1), 1);
    assert_int_equal(dtk_instance_poll_delay_s(2, -1), 2);
    assert_int_equal(dtk_instance_poll_delay_s(6, -1), 32);
    assert_int_equal(dtk_instance_poll_delay_s(7, -1), 60);
    assert_int_equal(dtk_instance_poll_delay_s(1000, -1), 60);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kutil__secret_value_decodes_base64),
        cmocka_unit_test(test_kutil__secret_value_errors_name_key_not_value),
        cmocka_unit_test(test_kutil__metadata_reads),
        cmocka_unit_test(test_kutil__binding_secret_data_is_strings),
        cmocka_unit_test(test_kutil__poll_delay_honours_retry_after_and_caps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

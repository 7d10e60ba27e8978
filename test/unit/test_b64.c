/* pkg/base/b64: RFC 4648 test vectors, the URL-safe alphabet, and strict
 * decoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "pkg/base/b64.h"
#include "pkg/base/error.h"

static void assert_encodes(const char *in, const char *std, const char *url)
{
    dtk_buf out = DTK_BUF_INIT(0);

    assert_int_equal(dtk_b64_encode(&out, in, strlen(in)), 0);
    assert_string_equal(dtk_buf_cstr(&out), std);
    dtk_buf_reset(&out);
    assert_int_equal(dtk_b64_encode_url(&out, in, strlen(in)), 0);
    assert_string_equal(dtk_buf_cstr(&out), url);
    dtk_buf_reset(&out);
    assert_int_equal(dtk_b64_decode(&out, std, strlen(std)), 0);
    assert_int_equal(out.len, strlen(in));
    assert_memory_equal(dtk_buf_cstr(&out), in, out.len);
    dtk_buf_dispose(&out);
}

static void test_b64__rfc4648_vectors(void **state)
{
    (void)state;
    assert_encodes("", "", "");
    assert_encodes("f", "Zg==", "Zg==");
    assert_encodes("fo", "Zm8=", "Zm8=");
    assert_encodes("foo", "Zm9v", "Zm9v");
    assert_encodes("foobar", "Zm9vYmFy", "Zm9vYmFy");
}

static void test_b64__url_variant_swaps_plus_and_slash(void **state)
{
    (void)state;
    /* 0xfb 0xff 0xbf encodes to "+/+/" in the standard alphabet. */
    assert_encodes("\xfb\xff\xbf", "+/+/", "-_-_");
    assert_encodes("robot:p>?~s", "cm9ib3Q6cD4/fnM=", "cm9ib3Q6cD4_fnM=");
}

static void test_b64__encode_appends_and_respects_the_limit(void **state)
{
    dtk_buf out = DTK_BUF_INIT(8);

    (void)state;
    assert_int_equal(dtk_buf_puts(&out, "x:"), 0);
    assert_int_equal(dtk_b64_encode_url(&out, "foo", 3), 0);
    assert_string_equal(dtk_buf_cstr(&out), "x:Zm9v");
    assert_int_equal(dtk_b64_encode_url(&out, "foo", 3), DTK_ETOOBIG);
    assert_string_equal(dtk_buf_cstr(&out), "x:Zm9v");
    dtk_buf_dispose(&out);
}

static void test_b64__decode_rejects_non_canonical_text(void **state)
{
    dtk_buf out = DTK_BUF_INIT(0);

    (void)state;
    assert_int_equal(dtk_b64_decode(&out, "Zm9", 3), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message, "not valid base64");
    assert_int_equal(dtk_b64_decode(&out, "Zm 9", 4), DTK_EINVALID);
    assert_int_equal(dtk_b64_decode(&out, "-_-_", 4), DTK_EINVALID);
    assert_int_equal(out.len, 0);
    dtk_buf_dispose(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64__rfc4648_vectors),
        cmocka_unit_test(test_b64__url_variant_swaps_plus_and_slash),
        cmocka_unit_test(test_b64__encode_appends_and_respects_the_limit),
        cmocka_unit_test(test_b64__decode_rejects_non_canonical_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

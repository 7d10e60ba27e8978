#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "cmd/dtk-apiserver/selector.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"

/* Label selector errors were checked against kubectl v1.32
 * (`kubectl set selector --local` runs apimachinery's labels.Parse). */

/* The validation texts Kubernetes appends (note the double spaces). */
#define NAME_REGEX                                                        \
    "must consist of alphanumeric characters, '-', '_' or '.', and must " \
    "start and end with an alphanumeric character (e.g. 'MyName',  or "   \
    "'my.name',  or '123-abc', regex used for validation is "             \
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define VALUE_REGEX                                                         \
    "a valid label must be an empty string or consist of alphanumeric "     \
    "characters, '-', '_' or '.', and must start and end with an "          \
    "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', " \
    "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"          \
    "[A-Za-z0-9])?')"

static dtk_json *js(const char *text)
{
    size_t len = strlen(text);
    char *copy = dtk_strdup(text);
    dtk_json *v = NULL;

    for (size_t i = 0; i < len; i++) {
        if (copy[i] == '\'') {
            copy[i] = '"';
        }
    }
    if (dtk_json_parse(&v, copy, len) < 0) {
        fail_msg("bad test JSON: %s", text);
    }
    dtk_free(copy);
    return v;
}

/* Parses sel and checks it against labels (written with '). */
static int label_match(const char *sel, const char *labels)
{
    dtk_labelsel *s = NULL;
    dtk_json *l = labels != NULL ? js(labels) : NULL;
    int m;

    if (dtk_labelsel_parse(&s, sel) != 0) {
        fail_msg("%s: %s", sel, dtk_error_last()->message);
    }
    m = dtk_labelsel_matches(s, l);
    dtk_labelsel_free(s);
    dtk_json_free(l);
    return m;
}

static void label_error(const char *sel, const char *message)
{
    dtk_labelsel *s = NULL;

    dtk_error_clear();
    assert_int_equal(dtk_labelsel_parse(&s, sel), DTK_EINVALID);
    assert_null(s);
    assert_string_equal(dtk_error_last()->message, message);
}

#define L "{'app':'web','tier':'front','n':'5','e':''}"

static void test_selector__label_equality_operators(void **state)
{
    (void)state;
    assert_true(label_match("app=web", L));
    assert_false(label_match("app=db", L));
    assert_false(label_match("missing=x", L));
    assert_true(label_match("app==web", L));
    assert_false(label_match("app==db", L));
    /* != matches objects that lack the key. */
    assert_true(label_match("app!=db", L));
    assert_false(label_match("app!=web", L));
    assert_true(label_match("missing!=x", L));
    /* An empty value is a value. */
    assert_true(label_match("e=", L));
    assert_true(label_match("e==", L));
    assert_false(label_match("missing=", L));
}

static void test_selector__label_set_and_existence_operators(void **state)
{
    (void)state;
    assert_true(label_match("app in (web,db)", L));
    assert_false(label_match("app in (db)", L));
    assert_false(label_match("missing in (x)", L));
    assert_true(label_match("app notin (db)", L));
    assert_false(label_match("app notin (db,web)", L));
    assert_true(label_match("missing notin (x)", L));
    /* "()" is the set holding the empty value. */
    assert_true(label_match("e in ()", L));
    assert_false(label_match("app in ()", L));
    assert_true(label_match("e in (,x)", L));
    assert_true(label_match("app", L));
    assert_false(label_match("missing", L));
    assert_true(label_match("!missing", L));
    assert_false(label_match("!app", L));
}

static void test_selector__label_integer_comparisons(void **state)
{
    (void)state;
    assert_true(label_match("n>4", L));
    assert_false(label_match("n>5", L));
    assert_true(label_match("n<6", L));
    assert_false(label_match("n<5", L));
    /* A value that is not an integer, or no value, never compares. */
    assert_false(label_match("app>1", L));
    assert_false(label_match("app<1", L));
    assert_false(label_match("missing>1", L));
}

static void test_selector__label_tricky_parses(void **state)
{
    (void)state;
    assert_true(label_match("a in (x, y),b!=c", "{'a':'y','b':'d'}"));
    assert_false(label_match("a in (x, y),b!=c", "{'a':'y','b':'c'}"));
    assert_false(label_match("a in (x, y),b!=c", "{'b':'d'}"));
    assert_true(label_match("a in (x, y),b!=c", "{'a':'x'}"));
    assert_true(label_match(" \tapp = web ,\ttier in ( front ) , !x \n", L));
    /* "in" and "notin" are values where values are expected. */
    assert_true(label_match("in in (in)", "{'in':'in'}"));
    assert_true(label_match("notin notin (in,notin)", "{'notin':'x'}"));
    assert_true(label_match("example.com/role=db,k8s.io/x",
                            "{'example.com/role':'db','k8s.io/x':''}"));
    assert_true(label_match("!a,!b", "{'c':'1'}"));
    assert_false(label_match("!a,!b", "{'b':'1'}"));
}

static void test_selector__empty_selector_matches_everything(void **state)
{
    static const char *const empties[] = {"", "   ", "\t\n"};
    dtk_labelsel *s = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(empties) / sizeof(empties[0]); i++) {
        assert_true(label_match(empties[i], L));
        assert_true(label_match(empties[i], NULL));
    }
    assert_int_equal(dtk_labelsel_parse(&s, NULL), 0);
    assert_true(dtk_labelsel_empty(s));
    assert_true(dtk_labelsel_matches(s, NULL));
    dtk_labelsel_free(s);
    assert_int_equal(dtk_labelsel_parse(&s, "a"), 0);
    assert_false(dtk_labelsel_empty(s));
    dtk_labelsel_free(s);
}

static void test_selector__label_match_reads_object_metadata(void **state)
{
    dtk_labelsel *s = NULL;
    dtk_json *with = js("{'metadata':{'name':'x','labels':{'app':'web',"
                        "'n':5}}}");
    dtk_json *without = js("{'metadata':{'name':'y'}}");

    (void)state;
    assert_int_equal(dtk_labelsel_parse(&s, "app=web,!n"), 0);
    /* A label whose value is not a string counts as absent. */
    assert_true(dtk_labelsel_matches_object(s, with));
    assert_false(dtk_labelsel_matches_object(s, without));
    assert_false(dtk_labelsel_matches_object(s, NULL));
    dtk_labelsel_free(s);
    assert_int_equal(dtk_labelsel_parse(&s, "!app"), 0);
    assert_false(dtk_labelsel_matches_object(s, with));
    assert_true(dtk_labelsel_matches_object(s, without));
    dtk_labelsel_free(s);
    dtk_json_free(with);
    dtk_json_free(without);
}

static void test_selector__label_grammar_errors(void **state)
{
    (void)state;
    label_error(",a", "found ',', expected: !, identifier, or 'end of "
                      "string'");
    label_error("a,", "found '', expected: identifier after ','");
    label_error("a=b=c", "found '=', expected: ',' or 'end of string'");
    label_error("!a=b", "found '=', expected: ',' or 'end of string'");
    label_error("a b", "unable to parse requirement: found 'b', expected: "
                       "in, notin, =, ==, !=, gt, lt");
    label_error("a!", "unable to parse requirement: found '!', expected: in, "
                      "notin, =, ==, !=, gt, lt");
    label_error("x notin", "unable to parse requirement: found '' expected: "
                           "'('");
    label_error("a in x", "unable to parse requirement: found 'x' expected: "
                          "'('");
    label_error("a in (x", "unable to parse requirement: found '', expected: "
                           "',' or ')'");
    label_error("a in (x y)", "unable to parse requirement: found 'y', "
                              "expected: ',' or ')'");
    label_error("a in (x,", "unable to parse requirement: found '', "
                            "expected: ',', or identifier");
    label_error("a in (=)", "unable to parse requirement: found '=', "
                            "expected: ',', ')' or identifier");
    label_error("a=(x)", "unable to parse requirement: found '(', expected: "
                         "identifier");
    label_error("a===b", "unable to parse requirement: found '=', expected: "
                         "identifier");
    label_error("!", "unable to parse requirement: found '', expected: "
                     "identifier");
    label_error("!!a", "unable to parse requirement: found '!', expected: "
                       "identifier");
}

static void test_selector__label_validation_errors(void **state)
{
    (void)state;
    label_error("a:", "unable to parse requirement: <nil>: Invalid value: "
                      "\"a:\": name part " NAME_REGEX);
    label_error("app=-x", "unable to parse requirement: values[0][app]: "
                          "Invalid value: \"-x\": " VALUE_REGEX);
    label_error("/a", "unable to parse requirement: <nil>: Invalid value: "
                      "\"/a\": prefix part must be non-empty");
    label_error("a/",
                "unable to parse requirement: <nil>: Invalid value: "
                "\"a/\": name part must be non-empty; name part " NAME_REGEX);
    label_error("a/b/c", "unable to parse requirement: <nil>: Invalid value: "
                         "\"a/b/c\": a qualified name " NAME_REGEX
                         " with an optional DNS subdomain prefix and '/' (e.g. "
                         "'example.com/MyName')");
    label_error("Example.com/a",
                "unable to parse requirement: <nil>: Invalid value: "
                "\"Example.com/a\": prefix part a lowercase RFC 1123 "
                "subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an "
                "alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]"
                "([-a-z0-9]*[a-z0-9])?)*')");
    label_error("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "aaaa",
                "unable to parse requirement: <nil>: Invalid value: "
                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                "aaaaaa\": name part must be no more than 63 characters");
    label_error("app=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                "bbbbbbb",
                "unable to parse requirement: values[0][app]: Invalid value: "
                "\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                "bbbbbb\": must be no more than 63 characters");
    label_error("x\"y", "unable to parse requirement: <nil>: Invalid value: "
                        "\"x\\\"y\": name part " NAME_REGEX);
    /* Integer operators; several errors print as a list. */
    label_error("a>x", "unable to parse requirement: values[0]: Invalid "
                       "value: \"x\": for 'Gt', 'Lt' operators, the value "
                       "must be an integer");
    label_error("a>-x",
                "unable to parse requirement: [values[0]: Invalid value: "
                "\"-x\": for 'Gt', 'Lt' operators, the value must be an "
                "integer, values[0][a]: Invalid value: \"-x\": " VALUE_REGEX
                "]");
    /* Set values are validated in sorted order, duplicates once. */
    label_error("a in (z,-y,-x)",
                "unable to parse requirement: [values[0][a]: Invalid value: "
                "\"-x\": " VALUE_REGEX ", values[1][a]: Invalid value: "
                "\"-y\": " VALUE_REGEX "]");
    label_error("a in (-x,-x)", "unable to parse requirement: values[0][a]: "
                                "Invalid value: \"-x\": " VALUE_REGEX);
}

static void test_selector__long_value_lists(void **state)
{
    dtk_buf sel = DTK_BUF_INIT(0);
    dtk_labelsel *s = NULL;
    dtk_json *l = js("{'k':'v09999'}");
    const char *msg;

    (void)state;
    /* 20000 values (each twice) parse as a set and match. */
    dtk_buf_puts(&sel, "k in (");
    for (int i = 0; i < 20000; i++) {
        dtk_buf_printf(&sel, "%sv%05d", i ? "," : "", i % 10000);
    }
    dtk_buf_puts(&sel, ")");
    assert_int_equal(dtk_labelsel_parse(&s, dtk_buf_cstr(&sel)), 0);
    assert_true(dtk_labelsel_matches(s, l));
    dtk_labelsel_free(s);
    /* 5000 invalid values: Kubernetes lists them all; the message keeps
     * the first ones (it is bounded) and the list form. */
    dtk_buf_reset(&sel);
    dtk_buf_puts(&sel, "k in (");
    for (int i = 0; i < 5000; i++) {
        dtk_buf_printf(&sel, "%s-%05d", i ? "," : "", i);
    }
    dtk_buf_puts(&sel, ")");
    assert_int_equal(dtk_labelsel_parse(&s, dtk_buf_cstr(&sel)), DTK_EINVALID);
    assert_null(s);
    msg = dtk_error_last()->message;
    assert_int_equal(strncmp(msg,
                             "unable to parse requirement: [values[0][k]: "
                             "Invalid value: \"-00000\": " VALUE_REGEX
                             ", values[1][k]: Invalid value: \"-00001\"",
                             strlen("unable to parse requirement: "
                                    "[values[0][k]: Invalid value: "
                                    "\"-00000\": " VALUE_REGEX
                                    ", values[1][k]: Invalid value: "
                                    "\"-00001\"")),
                     0);
    dtk_buf_dispose(&sel);
    dtk_json_free(l);
}

/* ---- field selectors ---------------------------------------------------- */

static const char *const secret_fields[] = {"type", NULL};
static const char *const no_fields[] = {NULL};

static int field_match(const char *sel,
                       const char *const *fields,
                       const char *obj)
{
    dtk_fieldsel *s = NULL;
    dtk_json *o = js(obj);
    int m;

    if (dtk_fieldsel_parse(&s, sel, fields) != 0) {
        fail_msg("%s: %s", sel, dtk_error_last()->message);
    }
    m = dtk_fieldsel_matches(s, o);
    dtk_fieldsel_free(s);
    dtk_json_free(o);
    return m;
}

static void field_error(const char *sel,
                        const char *const *fields,
                        const char *message)
{
    dtk_fieldsel *s = NULL;

    dtk_error_clear();
    assert_int_equal(dtk_fieldsel_parse(&s, sel, fields), DTK_EINVALID);
    assert_null(s);
    assert_string_equal(dtk_error_last()->message, message);
}

#define SECRET                                             \
    "{'metadata':{'name':'tls','namespace':'ns1'},'type':" \
    "'kubernetes.io/tls','spec':{'replicas':3,'paused':true}}"

static void test_selector__field_operators(void **state)
{
    static const char *const spec_fields[] = {"spec.replicas", "spec.paused",
                                              "spec.none", NULL};

    (void)state;
    assert_true(field_match("metadata.name=tls", NULL, SECRET));
    assert_true(field_match("metadata.name==tls", NULL, SECRET));
    assert_false(field_match("metadata.name=x", NULL, SECRET));
    assert_true(field_match("metadata.name!=x", NULL, SECRET));
    assert_false(field_match("metadata.name!=tls", NULL, SECRET));
    assert_true(
        field_match("metadata.name=tls,metadata.namespace=ns1", NULL, SECRET));
    assert_false(
        field_match("metadata.name=tls,metadata.namespace=ns2", NULL, SECRET));
    assert_true(field_match("type=kubernetes.io/tls", secret_fields, SECRET));
    assert_true(
        field_match("type!=Opaque,metadata.name=tls", secret_fields, SECRET));
    /* Numbers and booleans by their text; missing fields read "". */
    assert_true(
        field_match("spec.replicas=3,spec.paused=true", spec_fields, SECRET));
    assert_true(field_match("spec.none=", spec_fields, SECRET));
    assert_true(field_match("metadata.namespace=", NULL,
                            "{'metadata':{'name':'cluster-scoped'}}"));
    assert_false(field_match("metadata.namespace!=", NULL,
                             "{'metadata':{'name':'cluster-scoped'}}"));
    /* Escaped separators in values; empty terms are skipped. */
    assert_true(field_match("metadata.name=a\\,b", NULL,
                            "{'metadata':{'name':'a,b'}}"));
    assert_true(field_match("metadata.name=a\\=b", NULL,
                            "{'metadata':{'name':'a=b'}}"));
    assert_true(field_match("metadata.name=a\\\\b", NULL,
                            "{'metadata':{'name':'a\\\\b'}}"));
    assert_true(field_match("metadata.name=tls,", NULL, SECRET));
}

static void test_selector__field_empty_and_exact(void **state)
{
    dtk_fieldsel *s = NULL;
    dtk_json *o = js(SECRET);

    (void)state;
    assert_int_equal(dtk_fieldsel_parse(&s, NULL, NULL), 0);
    assert_true(dtk_fieldsel_empty(s));
    assert_true(dtk_fieldsel_matches(s, o));
    dtk_fieldsel_free(s);
    assert_int_equal(dtk_fieldsel_parse(&s, "", NULL), 0);
    assert_true(dtk_fieldsel_empty(s));
    dtk_fieldsel_free(s);
    assert_int_equal(dtk_fieldsel_parse(&s,
                                        "metadata.namespace!=x,"
                                        "metadata.name==tls",
                                        NULL),
                     0);
    assert_false(dtk_fieldsel_empty(s));
    assert_string_equal(dtk_fieldsel_exact(s, "metadata.name"), "tls");
    assert_null(dtk_fieldsel_exact(s, "metadata.namespace"));
    assert_null(dtk_fieldsel_exact(s, "type"));
    dtk_fieldsel_free(s);
    dtk_json_free(o);
}

static void test_selector__field_errors(void **state)
{
    (void)state;
    field_error("foo=bar", NULL,
                "\"foo\" is not a known field selector: only "
                "\"metadata.name\", \"metadata.namespace\"");
    field_error("foo=bar", secret_fields, "field label not supported: foo");
    field_error("foo=bar", no_fields, "field label not supported: foo");
    /* Names are not trimmed. */
    field_error(" metadata.name=x", NULL,
                "\" metadata.name\" is not a known field selector: only "
                "\"metadata.name\", \"metadata.namespace\"");
    field_error("metadata.name", NULL,
                "invalid selector: 'metadata.name'; can't understand "
                "'metadata.name'");
    /* Terms are sorted before parsing, so this one fails first. */
    field_error("zzz=1,metadata.name", NULL,
                "invalid selector: 'zzz=1,metadata.name'; can't understand "
                "'metadata.name'");
    /* Parse errors come before unknown-field errors. */
    field_error("aaa=1,metadata.name=a=b", NULL,
                "invalid field selector: unescaped character in value: 61");
    field_error("metadata.name=a\\x", NULL,
                "invalid field selector: invalid escape sequence: \\x");
    field_error("metadata.name=a\\", NULL,
                "invalid field selector: invalid escape sequence: \\");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selector__label_equality_operators),
        cmocka_unit_test(test_selector__label_set_and_existence_operators),
        cmocka_unit_test(test_selector__label_integer_comparisons),
        cmocka_unit_test(test_selector__label_tricky_parses),
        cmocka_unit_test(test_selector__empty_selector_matches_everything),
        cmocka_unit_test(test_selector__label_match_reads_object_metadata),
        cmocka_unit_test(test_selector__label_grammar_errors),
        cmocka_unit_test(test_selector__label_validation_errors),
        cmocka_unit_test(test_selector__long_value_lists),
        cmocka_unit_test(test_selector__field_operators),
        cmocka_unit_test(test_selector__field_empty_and_exact),
        cmocka_unit_test(test_selector__field_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

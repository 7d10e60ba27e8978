#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "cmd/dtk-apiserver/schema.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"

#define PREFIX "spec.versions[0].schema.openAPIV3Schema"

/* JSON written with ` for " so CEL rules can keep their single quotes. */
static dtk_json *J(const char *text)
{
    char *t = dtk_strdup(text);
    dtk_json *v = NULL;

    for (char *p = t; *p != '\0'; p++) {
        if (*p == '`') {
            *p = '"';
        }
    }
    assert_int_equal(dtk_json_parse(&v, t, strlen(t)), 0);
    dtk_free(t);
    return v;
}

static dtk_schema *compile_ok(const char *schema_text)
{
    dtk_json *j = J(schema_text);
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_schema *s = NULL;
    int error = dtk_schema_compile(&s, j, PREFIX, &errs);

    if (errs.len > 0) {
        print_error("unexpected CRD error: %s: %s\n", errs.items[0].field,
                    errs.items[0].message);
    }
    assert_int_equal(error, 0);
    assert_non_null(s);
    dtk_json_free(j);
    dtk_fielderr_list_dispose(&errs);
    return s;
}

/* "Reason field: body" lines. */
static char *render(const dtk_fielderr_list *l)
{
    dtk_buf b = DTK_BUF_INIT(0);

    for (size_t i = 0; i < l->len; i++) {
        (void)dtk_buf_printf(&b, "%s %s: %s\n", l->items[i].reason,
                             l->items[i].field, l->items[i].message);
    }
    return dtk_buf_detach(&b);
}

static void assert_errs(const dtk_fielderr_list *l, const char *expected)
{
    char *got = render(l);

    assert_string_equal(got, expected);
    dtk_free(got);
}

static void assert_status(const dtk_fielderr_list *l, const char *expected)
{
    dtk_json *st = dtk_fielderr_status(l, "Widget", "example.com", "w1");

    assert_string_equal(dtk_json_get_string(st, "message"), expected);
    assert_int_equal(
        dtk_json_len(dtk_json_get(dtk_json_get(st, "details"), "causes")),
        l->len);
    dtk_json_free(st);
}

/* Validates object text against a compiled schema and checks the causes
 * and the full Status message. */
static void check(const dtk_schema *s,
                  const char *obj,
                  const char *causes,
                  const char *status)
{
    dtk_json *o = J(obj);
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

    dtk_schema_validate(s, o, &errs);
    assert_errs(&errs, causes);
    if (status != NULL) {
        assert_status(&errs, status);
    }
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(o);
}

static void check_update(const dtk_schema *s,
                         const char *obj,
                         const char *old,
                         const char *causes,
                         const char *warnings)
{
    dtk_json *o = J(obj);
    dtk_json *p = J(old);
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_fielderr_list warns = DTK_FIELDERR_LIST_INIT;

    dtk_schema_validate_update(s, o, p, &errs, &warns);
    assert_errs(&errs, causes);
    assert_errs(&warns, warnings);
    dtk_fielderr_list_dispose(&errs);
    dtk_fielderr_list_dispose(&warns);
    dtk_json_free(o);
    dtk_json_free(p);
}

/* Compiles a schema expected to be rejected; checks the causes and the
 * CRD's 422 message. */
static void check_crd(const char *schema_text,
                      const char *causes,
                      const char *status)
{
    dtk_json *j = J(schema_text);
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_schema *s = NULL;

    assert_int_equal(dtk_schema_compile(&s, j, PREFIX, &errs), -6);
    assert_null(s);
    assert_errs(&errs, causes);
    if (status != NULL) {
        dtk_json *st =
            dtk_fielderr_status(&errs, "CustomResourceDefinition",
                                "apiextensions.k8s.io", "widgets.example.com");

        assert_string_equal(dtk_json_get_string(st, "message"), status);
        dtk_json_free(st);
    }
    assert_int_equal(dtk_schema_check_structural(j, PREFIX, &errs), -6);
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(j);
}

static void check_coerce(const dtk_schema *s,
                         const char *obj,
                         const char *expected,
                         const char *unknown)
{
    dtk_json *o = J(obj);
    dtk_json *paths = dtk_json_new_array();
    char *got;
    char *got_paths;
    dtk_json *want = J(expected);
    char *want_text = dtk_json_to_string(want);

    dtk_schema_coerce(s, o, paths);
    got = dtk_json_to_string(o);
    got_paths = dtk_json_to_string(paths);
    assert_string_equal(got, want_text);
    if (unknown != NULL) {
        assert_string_equal(got_paths, unknown);
    }
    dtk_free(got);
    dtk_free(got_paths);
    dtk_free(want_text);
    dtk_json_free(want);
    dtk_json_free(paths);
    dtk_json_free(o);
}

#define WIDGET(spec)                                                     \
    "{`apiVersion`:`example.com/v1`,`kind`:`Widget`,`metadata`:{`name`:" \
    "`w1`},`spec`:" spec "}"

/* ------------------------------------------------------------------ */
/* Types, null, required                                                */

static const char *types_schema =
    "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,`properties`:{"
    "`s`:{`type`:`string`},`i`:{`type`:`integer`},`n`:{`type`:`number`},"
    "`b`:{`type`:`boolean`},`o`:{`type`:`object`},"
    "`a`:{`type`:`array`,`items`:{`type`:`string`}},"
    "`ns`:{`type`:`string`,`nullable`:true}},`required`:[`s`,`i`]}}}";

static void test_schema__type_errors_are_worded_like_kube_openapi(void **st)
{
    dtk_schema *s = compile_ok(types_schema);

    (void)st;
    check(s,
          WIDGET("{`s`:5,`i`:`7`,`n`:true,`b`:`yes`,`o`:[],`a`:{},`ns`:null}"),
          "FieldValueTypeInvalid spec.s: Invalid value: \"integer\": spec.s "
          "in body must be of type string: \"integer\"\n"
          "FieldValueTypeInvalid spec.i: Invalid value: \"string\": spec.i "
          "in body must be of type integer: \"string\"\n"
          "FieldValueTypeInvalid spec.n: Invalid value: \"boolean\": spec.n "
          "in body must be of type number: \"boolean\"\n"
          "FieldValueTypeInvalid spec.b: Invalid value: \"string\": spec.b "
          "in body must be of type boolean: \"string\"\n"
          "FieldValueTypeInvalid spec.o: Invalid value: \"array\": spec.o "
          "in body must be of type object: \"array\"\n"
          "FieldValueTypeInvalid spec.a: Invalid value: \"object\": spec.a "
          "in body must be of type array: \"object\"\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__integer_accepts_whole_floats_only(void **st)
{
    dtk_schema *s = compile_ok(types_schema);

    (void)st;
    /* 1.0 decodes to a float64 that is a JSON integer: accepted. */
    check(s, WIDGET("{`s`:`x`,`i`:1.0,`n`:3}"), "", NULL);
    check(s, WIDGET("{`s`:`x`,`i`:1.5}"),
          "FieldValueTypeInvalid spec.i: Invalid value: \"number\": spec.i "
          "in body must be of type integer: \"number\"\n",
          "Widget.example.com \"w1\" is invalid: spec.i: Invalid value: "
          "\"number\": spec.i in body must be of type integer: \"number\"");
    dtk_schema_free(s);
}

static void test_schema__null_needs_nullable(void **st)
{
    dtk_schema *s = compile_ok(types_schema);

    (void)st;
    check(s, WIDGET("{`s`:null,`i`:1,`ns`:null}"),
          "FieldValueTypeInvalid spec.s: Invalid value: \"null\": spec.s in "
          "body must be of type string: \"null\"\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__required_fields(void **st)
{
    dtk_schema *s = compile_ok(types_schema);

    (void)st;
    check(s, WIDGET("{}"),
          "FieldValueRequired spec.s: Required value\n"
          "FieldValueRequired spec.i: Required value\n",
          "Widget.example.com \"w1\" is invalid: [spec.s: Required value, "
          "spec.i: Required value]");
    dtk_schema_free(s);
}

/* ------------------------------------------------------------------ */
/* Scalars                                                              */

static const char *scalar_schema =
    "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,`properties`:{"
    "`mode`:{`type`:`string`,`enum`:[`Always`,`Never`]},"
    "`level`:{`type`:`number`,`enum`:[1,2.5]},"
    "`replicas`:{`type`:`integer`,`minimum`:1,`maximum`:5},"
    "`ex`:{`type`:`integer`,`minimum`:0,`exclusiveMinimum`:true,"
    "`maximum`:10,`exclusiveMaximum`:true},"
    "`ratio`:{`type`:`number`,`minimum`:0.5,`maximum`:1e6,"
    "`multipleOf`:0.25},"
    "`even`:{`type`:`integer`,`multipleOf`:2},"
    "`name`:{`type`:`string`,`minLength`:3,`maxLength`:5,"
    "`pattern`:`^[a-z]+\\\\d*$`}}}}}";

static void test_schema__enum_is_unsupported_value(void **st)
{
    dtk_schema *s = compile_ok(scalar_schema);

    (void)st;
    check(s, WIDGET("{`mode`:`Sometimes`,`level`:3}"),
          "FieldValueNotSupported spec.mode: Unsupported value: "
          "\"Sometimes\": supported values: \"Always\", \"Never\"\n"
          "FieldValueNotSupported spec.level: Unsupported value: 3: "
          "supported values: \"1\", \"2.5\"\n",
          NULL);
    check(s, WIDGET("{`mode`:`Never`,`level`:2.5}"), "", NULL);
    dtk_schema_free(s);
}

static void test_schema__bounds_and_multiples(void **st)
{
    dtk_schema *s = compile_ok(scalar_schema);

    (void)st;
    check(s, WIDGET("{`replicas`:0,`ex`:10,`ratio`:0.3,`even`:3}"),
          "FieldValueInvalid spec.replicas: Invalid value: 0: spec.replicas "
          "in body should be greater than or equal to 1\n"
          "FieldValueInvalid spec.ex: Invalid value: 10: spec.ex in body "
          "should be less than 10\n"
          "FieldValueInvalid spec.ratio: Invalid value: 0.3: spec.ratio in "
          "body should be a multiple of 0.25\n"
          "FieldValueInvalid spec.ratio: Invalid value: 0.3: spec.ratio in "
          "body should be greater than or equal to 0.5\n"
          "FieldValueInvalid spec.even: Invalid value: 3: spec.even in body "
          "should be a multiple of 2\n",
          "Widget.example.com \"w1\" is invalid: [spec.replicas: Invalid "
          "value: 0: spec.replicas in body should be greater than or equal "
          "to 1, spec.ex: Invalid value: 10: spec.ex in body should be less "
          "than 10, spec.ratio: Invalid value: 0.3: spec.ratio in body "
          "should be a multiple of 0.25, spec.ratio: Invalid value: 0.3: "
          "spec.ratio in body should be greater than or equal to 0.5, "
          "spec.even: Invalid value: 3: spec.even in body should be a "
          "multiple of 2]");
    check(s, WIDGET("{`replicas`:6,`ex`:0,`ratio`:2e6}"),
          "FieldValueInvalid spec.replicas: Invalid value: 6: spec.replicas "
          "in body should be less than or equal to 5\n"
          "FieldValueInvalid spec.ex: Invalid value: 0: spec.ex in body "
          "should be greater than 0\n"
          "FieldValueInvalid spec.ratio: Invalid value: 2e+06: spec.ratio "
          "in body should be less than or equal to 1e+06\n",
          NULL);
    check(s, WIDGET("{`replicas`:5,`ex`:9,`ratio`:0.75,`even`:-4}"), "", NULL);
    dtk_schema_free(s);
}

static void test_schema__string_length_counts_code_points(void **st)
{
    dtk_schema *s = compile_ok(scalar_schema);

    (void)st;
    /* "ééé" is 6 bytes but 3 code points. */
    check(s, WIDGET("{`name`:`\xc3\xa9\xc3\xa9\xc3\xa9`}"),
          "FieldValueInvalid spec.name: Invalid value: "
          "\"\xc3\xa9\xc3\xa9\xc3\xa9\": spec.name in body should match "
          "'^[a-z]+\\d*$'\n",
          NULL);
    check(s, WIDGET("{`name`:`ab`}"),
          "FieldValueInvalid spec.name: Invalid value: \"ab\": spec.name in "
          "body should be at least 3 chars long\n",
          "Widget.example.com \"w1\" is invalid: spec.name: Invalid value: "
          "\"ab\": spec.name in body should be at least 3 chars long");
    /* Too long never prints the value (it may be a secret). */
    check(s, WIDGET("{`name`:`abcdef`}"),
          "FieldValueTooLong spec.name: Too long: may not be more than 5 "
          "bytes\n",
          NULL);
    check(s, WIDGET("{`name`:`abc12`}"), "", NULL);
    dtk_schema_free(s);
}

static void test_schema__formats(void **st)
{
    dtk_schema *s =
        compile_ok("{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
                   "`properties`:{`t`:{`type`:`string`,`format`:`date-time`},"
                   "`d`:{`type`:`string`,`format`:`date`},"
                   "`ip`:{`type`:`string`,`format`:`ipv4`},"
                   "`u`:{`type`:`string`,`format`:`uuid`},"
                   "`i32`:{`type`:`integer`,`format`:`int32`},"
                   "`free`:{`type`:`string`,`format`:`my-own`}}}}}");

    (void)st;
    check(s,
          WIDGET("{`t`:`yesterday`,`d`:`2024-02-30`,`ip`:`1.2.3.256`,"
                 "`u`:`xyz`,`i32`:9999999999,`free`:`anything`}"),
          "FieldValueTypeInvalid spec.t: Invalid value: \"yesterday\": "
          "spec.t in body must be of type date-time: \"yesterday\"\n"
          "FieldValueTypeInvalid spec.d: Invalid value: \"2024-02-30\": "
          "spec.d in body must be of type date: \"2024-02-30\"\n"
          "FieldValueTypeInvalid spec.ip: Invalid value: \"1.2.3.256\": "
          "spec.ip in body must be of type ipv4: \"1.2.3.256\"\n"
          "FieldValueTypeInvalid spec.u: Invalid value: \"xyz\": spec.u in "
          "body must be of type uuid: \"xyz\"\n",
          NULL);
    check(s,
          WIDGET("{`t`:`2024-02-29T10:20:30.5Z`,`d`:`2024-02-29`,"
                 "`ip`:`10.0.0.1`,`u`:`123e4567-e89b-12d3-a456-426614174000`}"),
          "", NULL);
    dtk_schema_free(s);
}

/* ------------------------------------------------------------------ */
/* Arrays, maps, objects                                                */

static void test_schema__items_and_counts(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`l`:{`type`:`array`,`minItems`:1,`maxItems`:2,"
        "`items`:{`type`:`object`,`required`:[`name`],`properties`:{"
        "`name`:{`type`:`string`}}}},"
        "`m`:{`type`:`object`,`minProperties`:1,`maxProperties`:2,"
        "`additionalProperties`:{`type`:`integer`}}}}}}");

    (void)st;
    check(s, WIDGET("{`l`:[],`m`:{}}"),
          "FieldValueInvalid spec.l: Invalid value: 0: spec.l in body "
          "should have at least 1 items\n"
          "FieldValueInvalid spec.m: Invalid value: 0: spec.m in body "
          "should have at least 1 properties\n",
          NULL);
    check(s,
          WIDGET("{`l`:[{`name`:`a`},{},{`name`:1}],"
                 "`m`:{`a`:1,`b`:2,`c`:3}}"),
          "FieldValueRequired spec.l[1].name: Required value\n"
          "FieldValueTypeInvalid spec.l[2].name: Invalid value: "
          "\"integer\": spec.l[2].name in body must be of type string: "
          "\"integer\"\n"
          "FieldValueTooMany spec.l: Too many: 3: must have at most 2 "
          "items\n"
          "FieldValueTooMany spec.m: Too many: 3: must have at most 2 "
          "items\n",
          NULL);
    /* Map values are named with a dot by kube-openapi. */
    check(s, WIDGET("{`m`:{`k`:`v`}}"),
          "FieldValueTypeInvalid spec.m.k: Invalid value: \"string\": "
          "spec.m.k in body must be of type integer: \"string\"\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__additional_properties_false(void **st)
{
    dtk_schema *s =
        compile_ok("{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
                   "`properties`:{`closed`:{`type`:`object`,"
                   "`additionalProperties`:false}}}}}");

    (void)st;
    check(s, WIDGET("{`closed`:{`x`:1}}"),
          "FieldValueInvalid spec.closed: Invalid value: \"x\": "
          "spec.closed.x in body is a forbidden property\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__junctors(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`a`:{`type`:`string`},`b`:{`type`:`string`},"
        "`n`:{`type`:`integer`,`not`:{`minimum`:10}},"
        "`v`:{`type`:`integer`,`allOf`:[{`minimum`:1},{`maximum`:3}]},"
        "`o`:{`type`:`integer`,`oneOf`:[{`minimum`:5},{`maximum`:10}]}},"
        "`anyOf`:[{`required`:[`a`]},{`required`:[`b`]}]}}}");

    (void)st;
    check(s, WIDGET("{`n`:11,`v`:7,`o`:7}"),
          "FieldValueInvalid <nil>: Invalid value: \"\": \"spec\" must "
          "validate at least one schema (anyOf)\n"
          "FieldValueRequired spec.a: Required value\n"
          "FieldValueInvalid <nil>: Invalid value: \"\": \"spec.n\" must not "
          "validate the schema (not)\n"
          "FieldValueInvalid spec.v: Invalid value: 7: spec.v in body "
          "should be less than or equal to 3\n"
          "FieldValueInvalid <nil>: Invalid value: \"\": \"spec.v\" must "
          "validate all the schemas (allOf)\n"
          "FieldValueInvalid <nil>: Invalid value: \"\": \"spec.o\" must "
          "validate one and only one schema (oneOf). Found 2 valid "
          "alternatives\n",
          NULL);
    check(s, WIDGET("{`b`:`x`,`n`:1,`v`:2,`o`:11}"), "", NULL);
    dtk_schema_free(s);
}

static void test_schema__int_or_string(void **st)
{
    dtk_schema *s =
        compile_ok("{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
                   "`properties`:{`port`:{`x-kubernetes-int-or-string`:true,"
                   "`anyOf`:[{`type`:`integer`},{`type`:`string`}],"
                   "`pattern`:`^[0-9]+%?$`}}}}}");

    (void)st;
    check(s, WIDGET("{`port`:80}"), "", NULL);
    check(s, WIDGET("{`port`:`50%`}"), "", NULL);
    check(s, WIDGET("{`port`:`half`}"),
          "FieldValueInvalid spec.port: Invalid value: \"half\": spec.port "
          "in body should match '^[0-9]+%?$'\n",
          NULL);
    check(s, WIDGET("{`port`:true}"),
          "FieldValueTypeInvalid spec.port: Invalid value: \"boolean\": "
          "spec.port in body must be of type integer,string: \"boolean\"\n"
          "FieldValueInvalid <nil>: Invalid value: \"\": \"spec.port\" must "
          "validate at least one schema (anyOf)\n"
          "FieldValueTypeInvalid spec.port: Invalid value: \"boolean\": "
          "spec.port in body must be of type integer: \"boolean\"\n",
          NULL);
    dtk_schema_free(s);
}

/* ------------------------------------------------------------------ */
/* List types and embedded resources                                    */

static const char *lists_schema =
    "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,`properties`:{"
    "`tags`:{`type`:`array`,`x-kubernetes-list-type`:`set`,"
    "`items`:{`type`:`string`}},"
    "`nums`:{`type`:`array`,`x-kubernetes-list-type`:`set`,"
    "`items`:{`type`:`number`}},"
    "`ports`:{`type`:`array`,`x-kubernetes-list-type`:`map`,"
    "`x-kubernetes-list-map-keys`:[`name`],`items`:{`type`:`object`,"
    "`properties`:{`name`:{`type`:`string`},`port`:{`type`:`integer`}}}},"
    "`routes`:{`type`:`array`,`x-kubernetes-list-type`:`map`,"
    "`x-kubernetes-list-map-keys`:[`host`,`path`],`items`:{`type`:`object`,"
    "`properties`:{`host`:{`type`:`string`},`path`:{`type`:`string`}}}},"
    "`groups`:{`type`:`object`,`additionalProperties`:{`type`:`array`,"
    "`x-kubernetes-list-type`:`set`,`items`:{`type`:`string`}}}}}}}";

static void test_schema__list_type_set_duplicates(void **st)
{
    dtk_schema *s = compile_ok(lists_schema);

    (void)st;
    /* Each duplicated value is reported once, at its second position; an
     * int 1 and a float 1.5 never collide. */
    check(s,
          WIDGET("{`tags`:[`a`,`b`,`a`,`a`,`b`],`nums`:[1,1.5,1.5],"
                 "`groups`:{`g`:[`x`,`x`]}}"),
          "FieldValueDuplicate spec.tags[2]: Duplicate value: \"a\"\n"
          "FieldValueDuplicate spec.tags[4]: Duplicate value: \"b\"\n"
          "FieldValueDuplicate spec.nums[2]: Duplicate value: 1.5\n"
          "FieldValueDuplicate spec.groups[g][1]: Duplicate value: \"x\"\n",
          "Widget.example.com \"w1\" is invalid: [spec.tags[2]: Duplicate "
          "value: \"a\", spec.tags[4]: Duplicate value: \"b\", "
          "spec.nums[2]: Duplicate value: 1.5, spec.groups[g][1]: Duplicate "
          "value: \"x\"]");
    dtk_schema_free(s);
}

static void test_schema__list_type_map_duplicates(void **st)
{
    dtk_schema *s = compile_ok(lists_schema);

    (void)st;
    check(s,
          WIDGET("{`ports`:[{`name`:`http`,`port`:80},{`port`:1},"
                 "{`name`:`http`,`port`:81},{`port`:2}],"
                 "`routes`:[{`host`:`a`,`path`:`/`},{`host`:`a`,`path`:`/x`},"
                 "{`path`:`/`,`host`:`a`}]}"),
          "FieldValueDuplicate spec.ports[2]: Duplicate value: "
          "map[string]interface {}{\"name\":\"http\"}\n"
          "FieldValueDuplicate spec.ports[3]: Duplicate value: "
          "map[string]interface {}{}\n"
          "FieldValueDuplicate spec.routes[2]: Duplicate value: "
          "map[string]interface {}{\"host\":\"a\", \"path\":\"/\"}\n",
          NULL);
    check(s, WIDGET("{`ports`:[{`name`:`a`},`b`]}"),
          "FieldValueTypeInvalid spec.ports[1]: Invalid value: \"string\": "
          "spec.ports[1] in body must be of type object: \"string\"\n"
          "FieldValueInvalid spec.ports[1]: Invalid value: \"b\": must be "
          "an object for an array of list-type map\n",
          NULL);
    dtk_schema_free(s);
}

static const char *embedded_schema =
    "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,`properties`:{"
    "`template`:{`type`:`object`,`x-kubernetes-embedded-resource`:true,"
    "`x-kubernetes-preserve-unknown-fields`:true},"
    "`typed`:{`type`:`object`,`x-kubernetes-embedded-resource`:true,"
    "`properties`:{`data`:{`type`:`string`}}}}}}}";

static void test_schema__embedded_resource_needs_type_meta(void **st)
{
    dtk_schema *s = compile_ok(embedded_schema);

    (void)st;
    check(s,
          WIDGET("{`template`:{`metadata`:{`name`:`..`}},"
                 "`typed`:{`apiVersion`:`a/b/c`,`kind`:`Not_A_Kind`}}"),
          "FieldValueRequired spec.template.apiVersion: Required value: "
          "must not be empty\n"
          "FieldValueRequired spec.template.kind: Required value: must not "
          "be empty\n"
          "FieldValueInvalid spec.template.metadata.name: Invalid value: "
          "\"..\": may not be '..'\n"
          "FieldValueInvalid spec.typed.apiVersion: Invalid value: "
          "\"a/b/c\": unexpected GroupVersion string: a/b/c\n"
          "FieldValueInvalid spec.typed.kind: Invalid value: \"Not_A_Kind\": "
          "may have mixed case, but should otherwise match: a DNS-1035 label "
          "must consist of lower case alphanumeric characters or '-', start "
          "with an alphabetic character, and end with an alphanumeric "
          "character (e.g. 'my-name',  or 'abc-123', regex used for "
          "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')\n",
          NULL);
    dtk_schema_free(s);
}

/* ------------------------------------------------------------------ */
/* CEL                                                                  */

static const char *cel_schema =
    "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
    "`x-kubernetes-validations`:["
    "{`rule`:`has(self.a) != has(self.b)`,"
    "`message`:`exactly one of a or b must be set`},"
    "{`rule`:`!has(self.min) || !has(self.max) || self.min <= self.max`},"
    "{`rule`:`!has(self.name) || self.name.startsWith('app-')`,"
    "`fieldPath`:`.name`,`reason`:`FieldValueForbidden`,"
    "`messageExpression`:`'name ' + self.name + ' must start with app-'`}],"
    "`properties`:{`a`:{`type`:`string`},`b`:{`type`:`string`},"
    "`min`:{`type`:`integer`},`max`:{`type`:`integer`},"
    "`name`:{`type`:`string`},"
    "`id`:{`type`:`string`,`x-kubernetes-validations`:[{`rule`:"
    "`self == oldSelf`,`message`:`id is immutable`}]},"
    "`items`:{`type`:`array`,`items`:{`type`:`string`},"
    "`x-kubernetes-validations`:[{`rule`:`self.all(x, x.matches('^[a-z]+$'))`,"
    "`message`:`items must be lowercase`},{`rule`:`size(self) <= 3`}]}}}}}";

static void test_schema__cel_mutual_exclusion(void **st)
{
    dtk_schema *s = compile_ok(cel_schema);

    (void)st;
    check(s, WIDGET("{`a`:`x`}"), "", NULL);
    check(s, WIDGET("{`a`:`x`,`b`:`y`}"),
          "FieldValueInvalid spec: Invalid value: \"object\": exactly one of "
          "a or b must be set\n",
          "Widget.example.com \"w1\" is invalid: spec: Invalid value: "
          "\"object\": exactly one of a or b must be set");
    check(s, WIDGET("{}"),
          "FieldValueInvalid spec: Invalid value: \"object\": exactly one of "
          "a or b must be set\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__cel_default_message_reason_and_field_path(void **st)
{
    dtk_schema *s = compile_ok(cel_schema);

    (void)st;
    check(s, WIDGET("{`a`:`x`,`min`:5,`max`:2,`name`:`web`}"),
          "FieldValueInvalid spec: Invalid value: \"object\": failed rule: "
          "!has(self.min) || !has(self.max) || self.min <= self.max\n"
          "FieldValueForbidden spec.name: Forbidden: name web must start "
          "with app-\n",
          "Widget.example.com \"w1\" is invalid: [spec: Invalid value: "
          "\"object\": failed rule: !has(self.min) || !has(self.max) || "
          "self.min <= self.max, spec.name: Forbidden: name web must start "
          "with app-]");
    dtk_schema_free(s);
}

static void test_schema__cel_lists_and_matches(void **st)
{
    dtk_schema *s = compile_ok(cel_schema);

    (void)st;
    check(s, WIDGET("{`a`:`x`,`items`:[`ok`,`Bad`,`x`,`y`]}"),
          "FieldValueInvalid spec.items: Invalid value: \"array\": items "
          "must be lowercase\n"
          "FieldValueInvalid spec.items: Invalid value: \"array\": failed "
          "rule: size(self) <= 3\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__cel_transition_rule(void **st)
{
    dtk_schema *s = compile_ok(cel_schema);

    (void)st;
    /* On create there is no old value: the rule does not run. */
    check(s, WIDGET("{`a`:`x`,`id`:`one`}"), "", NULL);
    check_update(s, WIDGET("{`a`:`x`,`id`:`two`}"),
                 WIDGET("{`a`:`x`,`id`:`one`}"),
                 "FieldValueInvalid spec.id: Invalid value: \"string\": id is "
                 "immutable\n",
                 "");
    check_update(s, WIDGET("{`a`:`x`,`id`:`one`,`b`:`y`}"),
                 WIDGET("{`a`:`x`,`id`:`one`}"),
                 "FieldValueInvalid spec: Invalid value: \"object\": exactly "
                 "one of a or b must be set\n",
                 "");
    /* A field added on update has no old value either. */
    check_update(s, WIDGET("{`a`:`x`,`id`:`new`}"), WIDGET("{`a`:`x`}"), "",
                 "");
    dtk_schema_free(s);
}

static void test_schema__ratcheting_keeps_unchanged_errors_as_warnings(
    void **st)
{
    dtk_schema *s =
        compile_ok("{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
                   "`properties`:{`a`:{`type`:`string`,`maxLength`:2},"
                   "`b`:{`type`:`string`,`maxLength`:2},"
                   "`c`:{`type`:`integer`,`x-kubernetes-validations`:[{`rule`:"
                   "`self < 10`}]}}}}}");

    (void)st;
    /* a was already too long and did not change: a warning. b changed. */
    check_update(s, WIDGET("{`a`:`long`,`b`:`long`,`c`:50}"),
                 WIDGET("{`a`:`long`,`b`:`ok`,`c`:50}"),
                 "FieldValueTooLong spec.b: Too long: may not be more than 2 "
                 "bytes\n"
                 "FieldValueInvalid <nil>: Invalid value: \"null\": some "
                 "validation rules were not checked because the object was "
                 "invalid; correct the existing errors to complete "
                 "validation\n",
                 "FieldValueTooLong spec.a: Too long: may not be more than 2 "
                 "bytes\n");
    check_update(s, WIDGET("{`a`:`ok`,`c`:50}"), WIDGET("{`a`:`ok`,`c`:50}"),
                 "",
                 "FieldValueInvalid spec.c: Invalid value: \"integer\": "
                 "failed rule: self < 10\n");
    check_update(s, WIDGET("{`a`:`ok`,`c`:51}"), WIDGET("{`a`:`ok`,`c`:50}"),
                 "FieldValueInvalid spec.c: Invalid value: \"integer\": "
                 "failed rule: self < 10\n",
                 "");
    dtk_schema_free(s);
}

static void test_schema__cel_blocked_by_schema_errors(void **st)
{
    dtk_schema *s = compile_ok(cel_schema);

    (void)st;
    check(s, WIDGET("{`a`:`x`,`b`:`y`,`min`:`five`}"),
          "FieldValueTypeInvalid spec.min: Invalid value: \"string\": "
          "spec.min in body must be of type integer: \"string\"\n"
          "FieldValueInvalid <nil>: Invalid value: \"null\": some "
          "validation rules were not checked because the object was "
          "invalid; correct the existing errors to complete validation\n",
          "Widget.example.com \"w1\" is invalid: [spec.min: Invalid value: "
          "\"string\": spec.min in body must be of type integer: "
          "\"string\", <nil>: Invalid value: \"null\": some validation "
          "rules were not checked because the object was invalid; correct "
          "the existing errors to complete validation]");
    dtk_schema_free(s);
}

static void test_schema__cel_root_rule_and_runtime_errors(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`x-kubernetes-validations`:["
        "{`rule`:`self.metadata.name.size() <= 5`,"
        "`message`:`name too long`},"
        "{`rule`:`self.spec.m['k'] > 0`},"
        "{`rule`:`self.spec.n / self.spec.d > 1`}],"
        "`properties`:{`spec`:{`type`:`object`,`properties`:{"
        "`m`:{`type`:`object`,`additionalProperties`:{`type`:`integer`}},"
        "`n`:{`type`:`integer`},`d`:{`type`:`integer`}}}}}");

    (void)st;
    /* Root rules have no field path: Kubernetes prints "<nil>". */
    check(s,
          "{`apiVersion`:`example.com/v1`,`kind`:`Widget`,`metadata`:"
          "{`name`:`toolong`},`spec`:{`m`:{},`n`:1,`d`:0}}",
          "FieldValueInvalid <nil>: Invalid value: \"object\": name too "
          "long\n"
          "FieldValueInvalid <nil>: Invalid value: \"object\": no such key: "
          "k evaluating rule: self.spec.m['k'] > 0\n"
          "FieldValueInvalid <nil>: Invalid value: \"object\": division by "
          "zero evaluating rule: self.spec.n / self.spec.d > 1\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__cel_expressions(void **st)
{
    /* Each rule must hold for the object below. */
    static const char *const rules[] = {
        "self.s.size() == 3 && size(self.s) == 3",
        "self.u.size() == 2", /* code points, not bytes */
        "self.s in ['abc', 'def'] && 'k' in self.m && !('z' in self.m)",
        "self.i > 1 ? self.s == 'abc' : false",
        "self.l.exists(x, x == 2) && self.l.exists_one(x, x > 2)",
        "self.l.map(x, x * 2) == [2, 4, 6] && self.l.filter(x, x > 1) == [2, "
        "3]",
        "self.m.all(k, k.startsWith('k'))",
        "self.s + '-' + string(self.i) == 'abc-7'",
        "self.s.endsWith('bc') && self.s.contains('b') && "
        "self.s.upperAscii() == 'ABC'",
        "self.d > 1 && self.d < 2.0 && self.i >= 7 && self.i != 8",
        "int('42') == 42 && double(1) == 1.0 && -self.i == -7",
        "self.s.matches('^a[b-c]+$') && !self.s.matches('\\\\\\\\d')",
        "self.i % 4 == 3 && self.i / 2 == 3",
        "[1, 2] + [3] == [1, 2, 3] && {'a': 1}['a'] == 1",
        "has(self.m.k) && !has(self.m.z)",
        "false || true && !false",
        "r'a\\\\b'.size() == 3 && \\\"x\\\\ty\\\".size() == 3 && "
        "'''q'''.size() == 1",
        "0x1F == 31 && 1e2 == 100.0",
        "self.l[0] == 1 && self.m['k'] == 'v'",
        "(self.i == 7 || 1 / 0 == 1) && (1 / 0 == 1 || self.i == 7)",
    };
    char schema[4096];
    dtk_buf rs = DTK_BUF_INIT(0);

    (void)st;
    for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
        (void)dtk_buf_printf(&rs, "%s{`rule`:`%s`}", i ? "," : "", rules[i]);
    }
    snprintf(schema, sizeof(schema),
             "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
             "`x-kubernetes-validations`:[%s],`properties`:{"
             "`s`:{`type`:`string`},`u`:{`type`:`string`},"
             "`i`:{`type`:`integer`},`d`:{`type`:`number`},"
             "`l`:{`type`:`array`,`items`:{`type`:`integer`}},"
             "`m`:{`type`:`object`,`additionalProperties`:{`type`:`string`}}"
             "}}}}",
             dtk_buf_cstr(&rs));
    dtk_buf_dispose(&rs);
    {
        dtk_schema *s = compile_ok(schema);

        check(s,
              WIDGET("{`s`:`abc`,`u`:`\xc3\xa9\xc3\xa9`,`i`:7,`d`:1.5,"
                     "`l`:[1,2,3],`m`:{`k`:`v`}}"),
              "", NULL);
        dtk_schema_free(s);
    }
}

static void test_schema__cel_runtime_limits(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`l`:{`type`:`array`,`items`:{`type`:`integer`},"
        "`x-kubernetes-validations`:[{`rule`:"
        "`self.all(a, self.all(b, self.all(c, a + b + c >= 0)))`},"
        "{`rule`:`size(self) > 0`}]},"
        "`big`:{`type`:`integer`,`x-kubernetes-validations`:[{`rule`:"
        "`self * 2 > 0`}]}}}}}");
    dtk_buf obj = DTK_BUF_INIT(0);

    (void)st;
    (void)dtk_buf_puts(&obj, "{`spec`:{`big`:1,`l`:[");
    for (int i = 0; i < 200; i++) {
        (void)dtk_buf_printf(&obj, "%s%d", i ? "," : "", i);
    }
    (void)dtk_buf_puts(&obj, "]}}");
    /* 200^3 steps exceed the per-call budget: the rule stops with
     * Kubernetes' wording and no further rules run. */
    check(s, dtk_buf_cstr(&obj),
          "FieldValueInvalid spec.l: Invalid value: \"array\": 'operation "
          "cancelled: actual cost limit exceeded': no further validation "
          "rules will be run due to call cost exceeds limit for rule: "
          "self.all(a, self.all(b, self.all(c, a + b + c >= 0)))\n",
          NULL);
    dtk_buf_dispose(&obj);
    check(s, WIDGET("{`big`:9223372036854775807}"),
          "FieldValueInvalid spec.big: Invalid value: \"integer\": integer "
          "overflow evaluating rule: self * 2 > 0\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__cel_outside_subset_rejected_at_crd(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`q`:{`type`:`string`,`x-kubernetes-validations`:["
        "{`rule`:`quantity(self).isGreaterThan(quantity('1'))`},"
        "{`rule`:`self.?x == 'a'`},"
        "{`rule`:`self == b'abc'`},"
        "{`rule`:`1u == 1u`},"
        "{`rule`:`timestamp(self) > timestamp('2020-01-01T00:00:00Z')`}]}}}}}",
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[q].x-kubernetes-validations[0].rule: "
        "Invalid value: apiextensions.ValidationRule{Rule:\"quantity(self)."
        "isGreaterThan(quantity('1'))\", Message:\"\", MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:1: function 'quantity' is not supported by this "
        "development API server\n"
        " | quantity(self).isGreaterThan(quantity('1'))\n"
        " | ^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[q].x-kubernetes-validations[1].rule: "
        "Invalid value: apiextensions.ValidationRule{Rule:\"self.?x == "
        "'a'\", Message:\"\", MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:5: optional field selection (.?) is not supported by "
        "this development API server\n"
        " | self.?x == 'a'\n"
        " | ....^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[q].x-kubernetes-validations[2].rule: "
        "Invalid value: apiextensions.ValidationRule{Rule:\"self == "
        "b'abc'\", Message:\"\", MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:9: bytes literals are not supported by this development "
        "API server\n"
        " | self == b'abc'\n"
        " | ........^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[q].x-kubernetes-validations[3].rule: "
        "Invalid value: apiextensions.ValidationRule{Rule:\"1u == 1u\", "
        "Message:\"\", MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:1: unsigned integer literals are not supported by this "
        "development API server\n"
        " | 1u == 1u\n"
        " | ^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[q].x-kubernetes-validations[4].rule: "
        "Invalid value: apiextensions.ValidationRule{Rule:\"timestamp(self) "
        "> timestamp('2020-01-01T00:00:00Z')\", Message:\"\", "
        "MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:1: function 'timestamp' is not supported by this "
        "development API server\n"
        " | timestamp(self) > timestamp('2020-01-01T00:00:00Z')\n"
        " | ^\n",
        NULL);
}

static void test_schema__cel_compile_errors_at_crd(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`x-kubernetes-validations`:[{`rule`:`self.nope == 1`},"
        "{`rule`:`self.n + 1`},{`rule`:`self.n + 'x' == 1`},"
        "{`rule`:`self.n ==`},{`rule`:`   `},"
        "{`rule`:`self.n > 0`,`reason`:`FieldValueOops`}],"
        "`properties`:{`n`:{`type`:`integer`},`l`:{`type`:`array`,"
        "`items`:{`type`:`string`,`x-kubernetes-validations`:[{`rule`:"
        "`self == oldSelf`}]}}}}}}",
        "FieldValueRequired " PREFIX
        ".properties[spec].x-kubernetes-validations[4].rule: Required "
        "value: rule is not specified\n"
        "FieldValueNotSupported " PREFIX
        ".properties[spec].x-kubernetes-validations[5].reason: Unsupported "
        "value: \"FieldValueOops\": supported values: \"FieldValueRequired\", "
        "\"FieldValueForbidden\", \"FieldValueInvalid\", "
        "\"FieldValueDuplicate\"\n",
        NULL);
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`x-kubernetes-validations`:[{`rule`:`self.nope == 1`},"
        "{`rule`:`self.n + 1`},{`rule`:`self.n + 'x' == 1`},"
        "{`rule`:`self.n ==`}],"
        "`properties`:{`n`:{`type`:`integer`},`l`:{`type`:`array`,"
        "`items`:{`type`:`string`,`x-kubernetes-validations`:[{`rule`:"
        "`self == oldSelf`}]}}}}}}",
        "FieldValueInvalid " PREFIX
        ".properties[spec].x-kubernetes-validations[0].rule: Invalid value: "
        "apiextensions.ValidationRule{Rule:\"self.nope == 1\", Message:\"\", "
        "MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:5: undefined field 'nope'\n"
        " | self.nope == 1\n"
        " | ....^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].x-kubernetes-validations[1].rule: Invalid value: "
        "apiextensions.ValidationRule{Rule:\"self.n + 1\", Message:\"\", "
        "MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: cel expression must evaluate to a "
        "bool\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].x-kubernetes-validations[2].rule: Invalid value: "
        "apiextensions.ValidationRule{Rule:\"self.n + 'x' == 1\", "
        "Message:\"\", MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:8: found no matching overload for '_+_' applied to "
        "'(int, string)'\n"
        " | self.n + 'x' == 1\n"
        " | .......^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].x-kubernetes-validations[3].rule: Invalid value: "
        "apiextensions.ValidationRule{Rule:\"self.n ==\", Message:\"\", "
        "MessageExpression:\"\", "
        "Reason:(*apiextensions.FieldValueErrorReason)(nil), FieldPath:\"\", "
        "OptionalOldSelf:(*bool)(nil)}: compilation failed: ERROR: "
        "<input>:1:10: Syntax error: mismatched input '<EOF>' expecting "
        "{'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, "
        "NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}\n"
        " | self.n ==\n"
        " | .........^\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[l].items.x-kubernetes-validations[0]."
        "rule: Invalid value: \"self == oldSelf\": oldSelf cannot be used on "
        "the uncorrelatable portion of the schema within " PREFIX
        ".properties[spec].properties[l]\n",
        NULL);
}

/* ------------------------------------------------------------------ */
/* Pruning and defaulting                                               */

static void test_schema__prune_keeps_root_meta_and_preserved_fields(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`known`:{`type`:`string`},"
        "`free`:{`type`:`object`,`x-kubernetes-preserve-unknown-fields`:true,"
        "`properties`:{`typed`:{`type`:`object`,`properties`:{"
        "`x`:{`type`:`integer`}}},`open`:{`type`:`object`,"
        "`x-kubernetes-preserve-unknown-fields`:true}}},"
        "`list`:{`type`:`array`,`items`:{`type`:`object`,`properties`:{"
        "`a`:{`type`:`string`}}}},"
        "`labels`:{`type`:`object`,`additionalProperties`:{`type`:`object`,"
        "`properties`:{`v`:{`type`:`string`}}}}}}}}");

    (void)st;
    check_coerce(
        s,
        "{`apiVersion`:`v1`,`kind`:`Widget`,`metadata`:{`name`:`w`,"
        "`whatever`:1},`spec`:{`known`:`k`,`junk`:1,"
        "`free`:{`any`:{`deep`:[1]},`typed`:{`x`:1,`y`:2},"
        "`open`:{`z`:{`zz`:1}}},`list`:[{`a`:`1`,`b`:2},{`c`:3}],"
        "`labels`:{`l1`:{`v`:`x`,`w`:`y`}}},`status`:{`phase`:`x`},"
        "`extra`:true}",
        "{`apiVersion`:`v1`,`kind`:`Widget`,`metadata`:{`name`:`w`,"
        "`whatever`:1},`spec`:{`known`:`k`,`free`:{`any`:{`deep`:[1]},"
        "`typed`:{`x`:1},`open`:{`z`:{`zz`:1}}},`list`:[{`a`:`1`},{}],"
        "`labels`:{`l1`:{`v`:`x`}}}}",
        "[\"extra\",\"spec.free.typed.y\",\"spec.junk\",\"spec.labels.l1.w\","
        "\"spec.list[0].b\",\"spec.list[1].c\",\"status\"]");
    dtk_schema_free(s);
}

static void test_schema__prune_embedded_resources(void **st)
{
    dtk_schema *s = compile_ok(embedded_schema);

    (void)st;
    check_coerce(
        s,
        WIDGET("{`template`:{`apiVersion`:`v1`,`kind`:`Pod`,`metadata`:{"
               "`name`:`p`,`labels`:{`a`:`b`},`bogus`:1},`spec`:{`x`:1}},"
               "`typed`:{`apiVersion`:`v1`,`kind`:`ConfigMap`,`data`:`d`,"
               "`other`:2}}"),
        WIDGET("{`template`:{`apiVersion`:`v1`,`kind`:`Pod`,`metadata`:{"
               "`name`:`p`,`labels`:{`a`:`b`}},`spec`:{`x`:1}},"
               "`typed`:{`apiVersion`:`v1`,`kind`:`ConfigMap`,`data`:`d`}}"),
        "[\"spec.template.metadata.bogus\",\"spec.typed.other\"]");
    dtk_schema_free(s);
}

static const char *defaults_schema =
    "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,`default`:{},"
    "`properties`:{`replicas`:{`type`:`integer`,`default`:1},"
    "`strategy`:{`type`:`object`,`default`:{`type`:`Rolling`},"
    "`properties`:{`type`:{`type`:`string`},"
    "`maxSurge`:{`type`:`integer`,`default`:25}}},"
    "`nullable`:{`type`:`string`,`nullable`:true,`default`:`n`},"
    "`notnull`:{`type`:`string`,`default`:`d`},"
    "`plain`:{`type`:`string`},"
    "`ports`:{`type`:`array`,`items`:{`type`:`object`,`properties`:{"
    "`protocol`:{`type`:`string`,`default`:`TCP`},"
    "`port`:{`type`:`integer`}}}},"
    "`envs`:{`type`:`object`,`additionalProperties`:{`type`:`object`,"
    "`properties`:{`value`:{`type`:`string`,`default`:`v`}}}}}}}}";

static void test_schema__defaults_recursive(void **st)
{
    dtk_schema *s = compile_ok(defaults_schema);

    (void)st;
    /* spec is defaulted to {} and then its own properties get defaults;
     * the strategy default object is itself defaulted. */
    check_coerce(s, "{`apiVersion`:`v1`,`kind`:`W`,`metadata`:{}}",
                 "{`apiVersion`:`v1`,`kind`:`W`,`metadata`:{},`spec`:{"
                 "`replicas`:1,`strategy`:{`type`:`Rolling`,`maxSurge`:25},"
                 "`nullable`:`n`,`notnull`:`d`}}",
                 "[]");
    check_coerce(s,
                 "{`spec`:{`replicas`:3,`nullable`:null,`notnull`:null,"
                 "`plain`:null,`ports`:[{`port`:80},{`protocol`:`UDP`}],"
                 "`envs`:{`A`:{},`B`:{`value`:`x`}}}}",
                 "{`spec`:{`replicas`:3,`nullable`:null,`notnull`:`d`,"
                 "`ports`:[{`port`:80,`protocol`:`TCP`},{`protocol`:`UDP`}],"
                 "`envs`:{`A`:{`value`:`v`},`B`:{`value`:`x`}},"
                 "`strategy`:{`type`:`Rolling`,`maxSurge`:25}}}",
                 "[]");
    dtk_schema_free(s);
}

static void test_schema__prune_and_default_apis_alone(void **st)
{
    dtk_schema *s = compile_ok(defaults_schema);
    dtk_json *o = J("{`spec`:{`x`:1,`plain`:null}}");
    char *text;

    (void)st;
    dtk_schema_prune(s, o, NULL);
    text = dtk_json_to_string(o);
    assert_string_equal(text, "{\"spec\":{\"plain\":null}}");
    dtk_free(text);
    dtk_schema_default(s, o);
    text = dtk_json_to_string(o);
    assert_string_equal(text, "{\"spec\":{\"plain\":null,\"replicas\":1,"
                              "\"strategy\":{\"type\":\"Rolling\","
                              "\"maxSurge\":25},\"nullable\":\"n\","
                              "\"notnull\":\"d\"}}");
    dtk_free(text);
    dtk_json_free(o);
    dtk_schema_free(s);
}

/* ------------------------------------------------------------------ */
/* CRD checks                                                           */

static void test_schema__crd_structural_errors_sorted(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`properties`:{"
        "`l`:{`type`:`array`},`x`:{}}},"
        "`metadata`:{`type`:`object`,`properties`:{`labels`:{`type`:"
        "`object`}}}}}",
        "FieldValueForbidden " PREFIX
        ".properties[metadata]: Forbidden: must not specify anything other "
        "than name and generateName, but metadata is implicitly specified\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[l].items: Required value: must be "
        "specified\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[x].type: Required value: must not be "
        "empty for specified object fields\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].type: Required value: must not be empty for "
        "specified object fields\n",
        "CustomResourceDefinition.apiextensions.k8s.io "
        "\"widgets.example.com\" is invalid: [" PREFIX
        ".properties[metadata]: Forbidden: must not specify anything other "
        "than name and generateName, but metadata is implicitly specified, " PREFIX
        ".properties[spec].properties[l].items: Required value: must "
        "be specified, " PREFIX
        ".properties[spec].properties[x].type: Required value: must not be "
        "empty for specified object fields, " PREFIX
        ".properties[spec].type: Required value: must not be empty for "
        "specified object fields]");
    check_crd("{`properties`:{}}",
              "FieldValueRequired " PREFIX
              ".type: Required value: must not be empty at the root\n",
              "CustomResourceDefinition.apiextensions.k8s.io "
              "\"widgets.example.com\" is invalid: " PREFIX
              ".type: Required value: must not be empty at the root");
    check_crd("{`type`:`array`,`items`:{`type`:`string`},`nullable`:true}",
              "FieldValueForbidden " PREFIX
              ".nullable: Forbidden: nullable cannot be true at the root\n"
              "FieldValueInvalid " PREFIX
              ".type: Invalid value: \"array\": must be object at the root\n",
              NULL);
}

static void test_schema__crd_keyword_errors(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`r`:{`$ref`:`#/definitions/x`,`type`:`string`},"
        "`u`:{`type`:`array`,`uniqueItems`:true,`items`:{`type`:`string`}},"
        "`m`:{`type`:`object`,`properties`:{`a`:{`type`:`string`}},"
        "`additionalProperties`:{`type`:`string`}},"
        "`t`:{`type`:`strng`},`n`:{`type`:`null`},"
        "`p`:{`type`:`object`,`x-kubernetes-preserve-unknown-fields`:false},"
        "`s`:{`type`:`array`,`x-kubernetes-list-type`:`map`,"
        "`items`:{`type`:`object`,`properties`:{`k`:{`type`:`string`}}}}}}}}",
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[r].$ref: Forbidden: $ref is not "
        "supported\n"
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[u].uniqueItems: Forbidden: "
        "uniqueItems cannot be set to true since the runtime complexity "
        "becomes quadratic\n"
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[m].additionalProperties: Forbidden: "
        "additionalProperties and properties are mutual exclusive\n"
        "FieldValueNotSupported " PREFIX
        ".properties[spec].properties[t].type: Unsupported value: "
        "\"strng\": supported values: \"array\", \"boolean\", \"integer\", "
        "\"number\", \"object\", \"string\"\n"
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[n].type: Forbidden: type cannot be "
        "set to null, use nullable as an alternative\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[p].x-kubernetes-preserve-unknown-"
        "fields: Invalid value: false: must be true or undefined\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[s].x-kubernetes-list-map-keys: "
        "Required value: must not be empty if x-kubernetes-list-type is "
        "map\n",
        NULL);
}

static void test_schema__crd_invalid_regex_is_rejected_not_crashing(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`a`:{`type`:`string`,`pattern`:`(abc`},"
        "`b`:{`type`:`string`,`pattern`:`abc)`},"
        "`c`:{`type`:`string`,`pattern`:`[a-`},"
        "`d`:{`type`:`string`,`pattern`:`*x`},"
        "`e`:{`type`:`string`,`pattern`:`x**`},"
        "`f`:{`type`:`string`,`pattern`:`(?=x)y`},"
        "`g`:{`type`:`string`,`pattern`:`a{1001}`},"
        "`h`:{`type`:`string`,`pattern`:`\\\\q`},"
        "`i`:{`type`:`string`,`pattern`:`[z-a]`},"
        "`j`:{`type`:`string`,`pattern`:`\\\\p{L}+`},"
        "`k`:{`type`:`string`,`pattern`:`\\\\u0041`},"
        "`l`:{`type`:`string`,`pattern`:`((a{100}){100}){100}`}}}}}",
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[a].pattern: Invalid value: \"(abc\": "
        "must be a valid regular expression, but isn't: error parsing "
        "regexp: missing closing ): `(abc`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[b].pattern: Invalid value: \"abc)\": "
        "must be a valid regular expression, but isn't: error parsing "
        "regexp: unexpected ): `abc)`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[c].pattern: Invalid value: \"[a-\": "
        "must be a valid regular expression, but isn't: error parsing "
        "regexp: missing closing ]: `[a-`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[d].pattern: Invalid value: \"*x\": "
        "must be a valid regular expression, but isn't: error parsing "
        "regexp: missing argument to repetition operator: `*`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[e].pattern: Invalid value: \"x**\": "
        "must be a valid regular expression, but isn't: error parsing "
        "regexp: invalid nested repetition operator: `**`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[f].pattern: Invalid value: "
        "\"(?=x)y\": must be a valid regular expression, but isn't: error "
        "parsing regexp: invalid or unsupported Perl syntax: `(?=`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[g].pattern: Invalid value: "
        "\"a{1001}\": must be a valid regular expression, but isn't: error "
        "parsing regexp: invalid repeat count: `{1001}`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[h].pattern: Invalid value: \"\\\\q\": "
        "must be a valid regular expression, but isn't: error parsing "
        "regexp: invalid escape sequence: `\\q`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[i].pattern: Invalid value: "
        "\"[z-a]\": must be a valid regular expression, but isn't: error "
        "parsing regexp: invalid character class range: `z-a`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[j].pattern: Invalid value: "
        "\"\\\\p{L}+\": cannot be used: a Unicode class (\\p{...}) is not "
        "supported by this development API server\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[k].pattern: Invalid value: "
        "\"\\\\u0041\": must be a valid regular expression, but isn't: "
        "error parsing regexp: invalid escape sequence: `\\u`\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[l].pattern: Invalid value: "
        "\"((a{100}){100}){100}\": must be a valid regular expression, but "
        "isn't: error parsing regexp: expression too large: "
        "`((a{100}){100}){100}`\n",
        NULL);
}

static void test_schema__crd_defaults_must_validate(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`n`:{`type`:`integer`,`default`:`abc`},"
        "`o`:{`type`:`object`,`default`:{`a`:1,`zz`:2},`properties`:{"
        "`a`:{`type`:`integer`}}},"
        "`c`:{`type`:`object`,`default`:{`a`:5},`properties`:{"
        "`a`:{`type`:`integer`,`maximum`:3}}},"
        "`r`:{`type`:`integer`,`default`:5,`x-kubernetes-validations`:[{"
        "`rule`:`self < 3`,`message`:`too big`}]}}}}}",
        "FieldValueTypeInvalid " PREFIX
        ".properties[spec].properties[n].default: Invalid value: "
        "\"string\":  in body must be of type integer: \"string\"\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[o].default: Invalid value: "
        "map[string]interface {}{\"a\":1, \"zz\":2}: must not have unknown "
        "fields\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[c].default.a: Invalid value: 5: a in "
        "body should be less than or equal to 3\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[r].default: Invalid value: "
        "\"integer\": too big\n",
        NULL);
}

static void test_schema__crd_metadata_and_embedded_rules(void **st)
{
    dtk_schema *s;

    (void)st;
    /* name and generateName may be constrained, and are validated. */
    s = compile_ok("{`type`:`object`,`properties`:{`metadata`:{`type`:"
                   "`object`,`properties`:{`name`:{`type`:`string`,"
                   "`maxLength`:3}}}}}");
    check(s, "{`metadata`:{`name`:`toolong`}}",
          "FieldValueTooLong metadata.name: Too long: may not be more than 3 "
          "bytes\n",
          NULL);
    dtk_schema_free(s);
    check_crd("{`type`:`object`,`additionalProperties`:{`type`:`string`},"
              "`properties`:{`spec`:{`type`:`object`}}}",
              "FieldValueForbidden " PREFIX
              ".additionalProperties: Forbidden: must not be used at the root\n"
              "FieldValueForbidden " PREFIX
              ".additionalProperties: Forbidden: additionalProperties and "
              "properties are mutual exclusive\n",
              NULL);
    check_crd(
        "{`type`:`object`,"
        "`properties`:{`spec`:{`type`:`object`,`properties`:{"
        "`e`:{`x-kubernetes-embedded-resource`:true},"
        "`f`:{`type`:`object`,`x-kubernetes-embedded-resource`:true},"
        "`g`:{`type`:`string`,`anyOf`:[{`type`:`string`,`properties`:{"
        "`metadata`:{`type`:`object`}}},{`properties`:{`zz`:{}}}]}}}}}",
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[e].properties: Required value: must "
        "not be empty if x-kubernetes-embedded-resource is true without "
        "x-kubernetes-preserve-unknown-fields\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[e].type: Required value: must be "
        "object if x-kubernetes-embedded-resource is true\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[f].properties: Required value: must "
        "not be empty if x-kubernetes-embedded-resource is true without "
        "x-kubernetes-preserve-unknown-fields\n"
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[g].anyOf[0].properties[metadata]."
        "type: Forbidden: must be empty to be structural\n"
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[g].anyOf[0].properties[metadata]: "
        "Forbidden: must not be specified in a nested context\n"
        "FieldValueForbidden " PREFIX
        ".properties[spec].properties[g].anyOf[0].type: Forbidden: must be "
        "empty to be structural\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[g].properties[metadata]: Required "
        "value: because it is defined in " PREFIX
        ".properties[spec].properties[g].anyOf[0].properties[metadata]\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[g].properties[zz]: Required value: "
        "because it is defined in " PREFIX
        ".properties[spec].properties[g].anyOf[1].properties[zz]\n",
        NULL);
}

/* ------------------------------------------------------------------ */
/* Patterns                                                             */

static void test_schema__pattern_translation(void **st)
{
    static const struct {
        const char *pattern;
        const char *ok;
        const char *bad;
    } cases[] = {
        {"^\\\\d{3}-\\\\w+$", "123-ab_c", "12-abc"},
        {"^[\\\\d\\\\-]+$", "1-2-3", "1_2"},
        {"^[^\\\\s]+$", "abc", "a c"},
        {"(?i)^abc$", "AbC", "abd"},
        {"^a.+?b$", "axxb", "ab"},
        {"^(?:ab)+$", "abab", "aba"},
        {"^[]a]+$", "]a]", "b"},
        {"^\\\\x41\\\\.$", "A.", "Ax"},
        {"^[[:alpha:]]+$", "abc", "a1"},
        {"^a{2,3}$", "aaa", "aaaa"},
        {"\\\\bword\\\\b", "a word here", "swordfish"},
        {"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
         "my.dns-name", "-bad"},
        {"a{,2}", "a{,2}", "aa"}, /* RE2: not a repeat, literal braces */
    };

    (void)st;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char schema[512];
        char ok[256];
        char bad[256];
        char expect[1024];
        dtk_schema *s;

        snprintf(schema, sizeof(schema),
                 "{`type`:`object`,`properties`:{`p`:{`type`:`string`,"
                 "`pattern`:`%s`}}}",
                 cases[i].pattern);
        s = compile_ok(schema);
        snprintf(ok, sizeof(ok), "{`p`:`%s`}", cases[i].ok);
        snprintf(bad, sizeof(bad), "{`p`:`%s`}", cases[i].bad);
        check(s, ok, "", NULL);
        {
            dtk_json *pj = J(schema);
            const char *pat = dtk_json_get_string(
                dtk_json_get(dtk_json_get(pj, "properties"), "p"), "pattern");

            snprintf(expect, sizeof(expect),
                     "FieldValueInvalid p: Invalid value: \"%s\": p in body "
                     "should match '%s'\n",
                     cases[i].bad, pat);
            check(s, bad, expect, NULL);
            dtk_json_free(pj);
        }
        dtk_schema_free(s);
    }
}

/* ------------------------------------------------------------------ */
/* Pathological input                                                   */

static void test_schema__deep_nesting_within_the_json_limit(void **st)
{
    dtk_buf schema = DTK_BUF_INIT(0);
    dtk_buf obj = DTK_BUF_INIT(0);
    const int depth = 60; /* schema nests 2 levels per object level */
    dtk_schema *s;
    dtk_json *o;
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

    (void)st;
    for (int i = 0; i < depth; i++) {
        (void)dtk_buf_puts(&schema, "{`type`:`object`,`properties`:{`a`:");
        (void)dtk_buf_puts(&obj, "{`a`:");
    }
    (void)dtk_buf_puts(&schema, "{`type`:`integer`,`maximum`:1}");
    (void)dtk_buf_puts(&obj, "5");
    for (int i = 0; i < depth; i++) {
        (void)dtk_buf_puts(&schema, "}}");
        (void)dtk_buf_puts(&obj, "}");
    }
    s = compile_ok(dtk_buf_cstr(&schema));
    o = J(dtk_buf_cstr(&obj));
    dtk_schema_validate(s, o, &errs);
    assert_int_equal(errs.len, 1);
    assert_string_equal(errs.items[0].reason, "FieldValueInvalid");
    assert_int_equal(strlen(errs.items[0].field), (size_t)(depth * 2 - 1));
    dtk_schema_coerce(s, o, NULL);
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(o);
    dtk_schema_free(s);
    dtk_buf_dispose(&schema);
    dtk_buf_dispose(&obj);
}

static void test_schema__huge_arrays(void **st)
{
    dtk_schema *s = compile_ok(lists_schema);
    dtk_buf obj = DTK_BUF_INIT(0);
    dtk_json *o;
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

    (void)st;
    (void)dtk_buf_puts(&obj, "{`spec`:{`ports`:[");
    for (int i = 0; i < 3000; i++) {
        (void)dtk_buf_printf(&obj, "%s{`name`:`p%d`,`port`:%d,`x`:1}",
                             i ? "," : "", i % 2999, i);
    }
    (void)dtk_buf_puts(&obj, "]}}");
    o = J(dtk_buf_cstr(&obj));
    dtk_schema_coerce(s, o, NULL);
    dtk_schema_validate(s, o, &errs);
    assert_errs(&errs, "FieldValueDuplicate spec.ports[2999]: Duplicate "
                       "value: map[string]interface {}{\"name\":\"p0\"}\n");
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(o);
    dtk_buf_dispose(&obj);
    dtk_schema_free(s);
}

static void test_schema__cel_nesting_limit(void **st)
{
    dtk_buf rule = DTK_BUF_INIT(0);
    dtk_buf schema = DTK_BUF_INIT(0);
    dtk_json *j;
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_schema *s = NULL;

    (void)st;
    for (int i = 0; i < 150; i++) {
        (void)dtk_buf_putc(&rule, '(');
    }
    (void)dtk_buf_puts(&rule, "true");
    for (int i = 0; i < 150; i++) {
        (void)dtk_buf_putc(&rule, ')');
    }
    (void)dtk_buf_printf(&schema,
                         "{`type`:`object`,`x-kubernetes-validations`:[{"
                         "`rule`:`%s`}]}",
                         dtk_buf_cstr(&rule));
    j = J(dtk_buf_cstr(&schema));
    assert_int_equal(dtk_schema_compile(&s, j, PREFIX, &errs), -6);
    assert_int_equal(errs.len, 1);
    assert_non_null(strstr(errs.items[0].message,
                           "expression recursion limit exceeded: 100"));
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(j);
    dtk_buf_dispose(&rule);
    dtk_buf_dispose(&schema);
}

static void test_schema__malformed_schema_keywords(void **st)
{
    (void)st;
    check_crd("{`type`:`object`,`properties`:{`spec`:{`type`:5,"
              "`maxLength`:-1,`required`:`x`}}}",
              "FieldValueRequired " PREFIX
              ".properties[spec].type: Required value: must not be empty for "
              "specified object fields\n"
              "FieldValueInvalid " PREFIX
              ".properties[spec].type: Invalid value: 5: must be a string\n"
              "FieldValueInvalid " PREFIX
              ".properties[spec].maxLength: Invalid value: -1: must be a "
              "non-negative integer\n"
              "FieldValueInvalid " PREFIX
              ".properties[spec].required: Invalid value: \"x\": must be a "
              "list of strings\n",
              NULL);
    check_crd("[]",
              "FieldValueInvalid " PREFIX
              ": Invalid value: []interface {}{}: must be a schema object\n",
              NULL);
}

/* ------------------------------------------------------------------ */
/* More API paths                                                       */

static void test_schema__status_subresource_validates_status_only(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`n`:{`type`:`integer`}}},"
        "`status`:{`type`:`object`,`properties`:{`phase`:{`type`:`string`,"
        "`enum`:[`Ready`,`Failed`]},`count`:{`type`:`integer`}}}}}");

    (void)st;
    /* spec is not looked at; status errors carry names relative to it. */
    {
        dtk_json *o = J("{`spec`:{`n`:`bad`},`status`:{`phase`:`Up`,"
                        "`count`:`x`}}");
        dtk_json *p = J("{`spec`:{`n`:`bad`},`status`:{`phase`:`Ready`}}");
        dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

        dtk_schema_validate_status_update(s, o, p, &errs, NULL);
        assert_errs(&errs,
                    "FieldValueNotSupported status.phase: Unsupported value: "
                    "\"Up\": supported values: \"Ready\", \"Failed\"\n"
                    "FieldValueTypeInvalid status.count: Invalid value: "
                    "\"string\": count in body must be of type integer: "
                    "\"string\"\n");
        dtk_fielderr_list_dispose(&errs);
        dtk_json_free(o);
        dtk_json_free(p);
    }
    dtk_schema_free(s);
}

static void test_schema__message_expression_and_map_field_path(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`x-kubernetes-validations`:["
        "{`rule`:`!('bad' in self.m)`,`fieldPath`:`.m['bad']`,"
        "`messageExpression`:`'key bad has ' + self.m['bad']`},"
        "{`rule`:`self.n > 0`,`message`:`fallback message`,"
        "`messageExpression`:`'   '`},"
        "{`rule`:`self.n > 1`,`messageExpression`:`self.m['nope']`}],"
        "`properties`:{`n`:{`type`:`integer`},`m`:{`type`:`object`,"
        "`additionalProperties`:{`type`:`string`}}}}}}");

    (void)st;
    /* An empty messageExpression result falls back to the message; one
     * that fails falls back to "failed rule: ...". */
    check(s, WIDGET("{`n`:0,`m`:{`bad`:`x`}}"),
          "FieldValueInvalid spec.m[bad]: Invalid value: \"object\": key bad "
          "has x\n"
          "FieldValueInvalid spec: Invalid value: \"object\": fallback "
          "message\n"
          "FieldValueInvalid spec: Invalid value: \"object\": failed rule: "
          "self.n > 1\n",
          NULL);
    dtk_schema_free(s);
}

static void test_schema__list_type_ratchets_on_update(void **st)
{
    dtk_schema *s = compile_ok(lists_schema);

    (void)st;
    /* The old object already had duplicates: not checked again. */
    check_update(s, WIDGET("{`tags`:[`a`,`a`,`b`,`b`]}"),
                 WIDGET("{`tags`:[`a`,`a`]}"), "", "");
    check_update(s, WIDGET("{`tags`:[`a`,`b`,`b`]}"), WIDGET("{`tags`:[`a`]}"),
                 "FieldValueDuplicate spec.tags[2]: Duplicate value: \"b\"\n",
                 "");
    /* An int and a float are different set members, as in Go. */
    check(s, WIDGET("{`nums`:[1,1.0]}"), "", NULL);
    dtk_schema_free(s);
}

static void test_schema__cel_metadata_exposes_name_only(void **st)
{
    (void)st;
    check_crd("{`type`:`object`,`x-kubernetes-validations`:[{`rule`:"
              "`size(self.metadata.labels) > 0`}]}",
              "FieldValueInvalid " PREFIX
              ".x-kubernetes-validations[0].rule: Invalid value: "
              "apiextensions.ValidationRule{Rule:\"size(self.metadata."
              "labels) > 0\", Message:\"\", MessageExpression:\"\", "
              "Reason:(*apiextensions.FieldValueErrorReason)(nil), "
              "FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation "
              "failed: ERROR: <input>:1:19: undefined field 'labels'\n"
              " | size(self.metadata.labels) > 0\n"
              " | ..................^\n",
              NULL);
}

static void test_schema__cel_total_cost_budget(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{`l`:{`type`:`array`,`items`:{`type`:`object`,"
        "`properties`:{`v`:{`type`:`array`,`items`:{`type`:`integer`},"
        "`x-kubernetes-validations`:[{`rule`:"
        "`self.all(a, self.all(b, a + b >= 0))`}]}}}}}}}}");
    dtk_buf obj = DTK_BUF_INIT(0);
    dtk_buf inner = DTK_BUF_INIT(0);
    dtk_json *o;
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    size_t budget_errors = 0;

    (void)st;
    /* 300^2 pairs cost about 0.55M steps per item: within the per-call
     * limit, but 20 items exceed the object's budget of 10M steps. */
    for (int i = 0; i < 300; i++) {
        (void)dtk_buf_printf(&inner, "%s%d", i ? "," : "", i);
    }
    (void)dtk_buf_puts(&obj, "{`spec`:{`l`:[");
    for (int i = 0; i < 20; i++) {
        (void)dtk_buf_printf(&obj, "%s{`v`:[%s]}", i ? "," : "",
                             dtk_buf_cstr(&inner));
    }
    (void)dtk_buf_puts(&obj, "]}}");
    o = J(dtk_buf_cstr(&obj));
    dtk_schema_validate(s, o, &errs);
    for (size_t i = 0; i < errs.len; i++) {
        if (strcmp(errs.items[i].message,
                   "Invalid value: \"array\": validation failed due to "
                   "running out of cost budget, no further validation rules "
                   "will be run") == 0) {
            budget_errors++;
        }
    }
    assert_int_equal(errs.len, 1);
    assert_int_equal(budget_errors, 1);
    assert_string_equal(errs.items[0].field, "spec.l[18].v");
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(o);
    dtk_buf_dispose(&obj);
    dtk_buf_dispose(&inner);
    dtk_schema_free(s);
}

static void test_schema__blocking_error_classes(void **st)
{
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    dtk_json *v = J("1");

    (void)st;
    dtk_fielderr_invalid(&errs, "a", v, "x");
    dtk_fielderr_duplicate(&errs, "b", v);
    dtk_fielderr_forbidden(&errs, "c", "x");
    assert_false(dtk_schema_has_blocking_error(&errs));
    dtk_fielderr_too_many(&errs, "d", 3, 2);
    assert_true(dtk_schema_has_blocking_error(&errs));
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(v);
}

static void test_schema__crd_list_type_checks(void **st)
{
    (void)st;
    check_crd(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`properties`:{"
        "`a`:{`type`:`array`,`x-kubernetes-list-type`:`map`,"
        "`x-kubernetes-list-map-keys`:[`name`,`missing`],`items`:{`type`:"
        "`object`,`properties`:{`name`:{`type`:`string`}}}},"
        "`b`:{`type`:`array`,`x-kubernetes-list-type`:`set`,`items`:{"
        "`type`:`object`,`properties`:{`x`:{`type`:`string`}}}},"
        "`c`:{`type`:`array`,`x-kubernetes-list-map-keys`:[`k`],`items`:{"
        "`type`:`object`,`properties`:{`k`:{`type`:`string`}}}},"
        "`d`:{`type`:`string`,`x-kubernetes-list-type`:`set`},"
        "`e`:{`type`:`array`,`x-kubernetes-list-type`:`bag`,`items`:{"
        "`type`:`string`}},"
        "`f`:{`type`:`array`,`x-kubernetes-list-type`:`map`,"
        "`x-kubernetes-list-map-keys`:[`k`,`k`],`items`:{`type`:`object`,"
        "`properties`:{`k`:{`type`:`string`}}}},"
        "`g`:{`type`:`array`,`x-kubernetes-list-type`:`map`,"
        "`x-kubernetes-list-map-keys`:[`o`],`items`:{`type`:`object`,"
        "`properties`:{`o`:{`type`:`object`}}}}}}}}",
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[a].x-kubernetes-list-map-keys: "
        "Invalid value: []string{\"name\", \"missing\"}: entries must all "
        "be names of item properties\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[b].items.x-kubernetes-map-type: "
        "Invalid value: \"null\": must be atomic as item of a list with "
        "x-kubernetes-list-type=set\n"
        "FieldValueRequired " PREFIX
        ".properties[spec].properties[c].x-kubernetes-list-type: Required "
        "value: must be map if x-kubernetes-list-map-keys is non-empty\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[d].type: Invalid value: \"string\": "
        "must be array if x-kubernetes-list-type is specified\n"
        "FieldValueNotSupported " PREFIX
        ".properties[spec].properties[e].x-kubernetes-list-type: "
        "Unsupported value: \"bag\": supported values: \"atomic\", \"set\", "
        "\"map\"\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[f].x-kubernetes-list-map-keys: "
        "Invalid value: []string{\"k\", \"k\"}: must not contain duplicate "
        "entries\n"
        "FieldValueInvalid " PREFIX
        ".properties[spec].properties[g].items.properties[o].type: Invalid "
        "value: \"object\": must be a scalar type if parent array's "
        "x-kubernetes-list-type is map\n",
        NULL);
}

static void test_schema__cel_cannot_see_unknown_fields(void **st)
{
    (void)st;
    /* preserve-unknown-fields keeps data, but rules are typed by the
     * schema: an undeclared field does not exist for CEL. */
    check_crd("{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
              "`x-kubernetes-preserve-unknown-fields`:true,"
              "`x-kubernetes-validations`:[{`rule`:`self.extra == 1`}]}}}",
              "FieldValueInvalid " PREFIX
              ".properties[spec].x-kubernetes-validations[0].rule: Invalid "
              "value: apiextensions.ValidationRule{Rule:\"self.extra == 1\", "
              "Message:\"\", MessageExpression:\"\", "
              "Reason:(*apiextensions.FieldValueErrorReason)(nil), "
              "FieldPath:\"\", OptionalOldSelf:(*bool)(nil)}: compilation "
              "failed: ERROR: <input>:1:5: undefined field 'extra'\n"
              " | self.extra == 1\n"
              " | ....^\n",
              NULL);
}

static void test_schema__leaves_the_error_state_alone(void **st)
{
    dtk_schema *s = compile_ok(
        "{`type`:`object`,`properties`:{`spec`:{`type`:`object`,"
        "`x-kubernetes-validations`:[{`rule`:`self.d > 0.5`}],"
        "`properties`:{`d`:{`type`:`number`},`i`:{`type`:`integer`}}}}}");
    dtk_json *o = J(WIDGET("{`d`:1.5,`i`:99999999999999999999}"));
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;

    (void)st;
    dtk_error_set(DTK_ERRCLASS_NONE, "caller's pending error");
    dtk_schema_coerce(s, o, NULL);
    dtk_schema_validate(s, o, &errs);
    /* 99999999999999999999 does not fit an int64: a float64 in Go. */
    assert_errs(&errs, "FieldValueTypeInvalid spec.i: Invalid value: "
                       "\"number\": spec.i in body must be of type integer: "
                       "\"number\"\n"
                       "FieldValueInvalid <nil>: Invalid value: \"null\": "
                       "some validation rules were not checked because the "
                       "object was invalid; correct the existing errors to "
                       "complete validation\n");
    assert_string_equal(dtk_error_last()->message, "caller's pending error");
    /* and through the CEL evaluator, which reads 1.5 as a double */
    check(s, WIDGET("{`d`:1.5}"), "", NULL);
    check(s, WIDGET("{`d`:0.25}"),
          "FieldValueInvalid spec: Invalid value: \"object\": failed rule: "
          "self.d > 0.5\n",
          NULL);
    assert_string_equal(dtk_error_last()->message, "caller's pending error");
    dtk_error_clear();
    dtk_fielderr_list_dispose(&errs);
    dtk_json_free(o);
    dtk_schema_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema__type_errors_are_worded_like_kube_openapi),
        cmocka_unit_test(test_schema__integer_accepts_whole_floats_only),
        cmocka_unit_test(test_schema__null_needs_nullable),
        cmocka_unit_test(test_schema__required_fields),
        cmocka_unit_test(test_schema__enum_is_unsupported_value),
        cmocka_unit_test(test_schema__bounds_and_multiples),
        cmocka_unit_test(test_schema__string_length_counts_code_points),
        cmocka_unit_test(test_schema__formats),
        cmocka_unit_test(test_schema__items_and_counts),
        cmocka_unit_test(test_schema__additional_properties_false),
        cmocka_unit_test(test_schema__junctors),
        cmocka_unit_test(test_schema__int_or_string),
        cmocka_unit_test(test_schema__list_type_set_duplicates),
        cmocka_unit_test(test_schema__list_type_map_duplicates),
        cmocka_unit_test(test_schema__embedded_resource_needs_type_meta),
        cmocka_unit_test(test_schema__cel_mutual_exclusion),
        cmocka_unit_test(
            test_schema__cel_default_message_reason_and_field_path),
        cmocka_unit_test(test_schema__cel_lists_and_matches),
        cmocka_unit_test(test_schema__cel_transition_rule),
        cmocka_unit_test(
            test_schema__ratcheting_keeps_unchanged_errors_as_warnings),
        cmocka_unit_test(test_schema__cel_blocked_by_schema_errors),
        cmocka_unit_test(test_schema__cel_root_rule_and_runtime_errors),
        cmocka_unit_test(test_schema__cel_expressions),
        cmocka_unit_test(test_schema__cel_runtime_limits),
        cmocka_unit_test(test_schema__cel_outside_subset_rejected_at_crd),
        cmocka_unit_test(test_schema__cel_compile_errors_at_crd),
        cmocka_unit_test(
            test_schema__prune_keeps_root_meta_and_preserved_fields),
        cmocka_unit_test(test_schema__prune_embedded_resources),
        cmocka_unit_test(test_schema__defaults_recursive),
        cmocka_unit_test(test_schema__prune_and_default_apis_alone),
        cmocka_unit_test(test_schema__crd_structural_errors_sorted),
        cmocka_unit_test(test_schema__crd_keyword_errors),
        cmocka_unit_test(
            test_schema__crd_invalid_regex_is_rejected_not_crashing),
        cmocka_unit_test(test_schema__crd_defaults_must_validate),
        cmocka_unit_test(test_schema__crd_metadata_and_embedded_rules),
        cmocka_unit_test(test_schema__pattern_translation),
        cmocka_unit_test(test_schema__deep_nesting_within_the_json_limit),
        cmocka_unit_test(test_schema__huge_arrays),
        cmocka_unit_test(test_schema__cel_nesting_limit),
        cmocka_unit_test(test_schema__malformed_schema_keywords),
        cmocka_unit_test(test_schema__status_subresource_validates_status_only),
        cmocka_unit_test(test_schema__message_expression_and_map_field_path),
        cmocka_unit_test(test_schema__list_type_ratchets_on_update),
        cmocka_unit_test(test_schema__cel_metadata_exposes_name_only),
        cmocka_unit_test(test_schema__cel_total_cost_budget),
        cmocka_unit_test(test_schema__blocking_error_classes),
        cmocka_unit_test(test_schema__crd_list_type_checks),
        cmocka_unit_test(test_schema__cel_cannot_see_unknown_fields),
        cmocka_unit_test(test_schema__leaves_the_error_state_alone),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Label and field selectors as kube-apiserver v1.32 parses and matches them
 * (k8s.io/apimachinery pkg/labels/selector.go Parse, pkg/fields
 * ParseSelector).
 * Thread-safety: a parsed selector is immutable; matching is thread-safe.
 *
 * Parse once per request, match many objects. Error messages are
 * Kubernetes' own texts (the server returns them in a 400 Status), e.g.
 *   unable to parse requirement: <nil>: Invalid value: "a:": name part must
 *   consist of alphanumeric characters, ... regex used for validation is
 *   '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')
 *   found ',', expected: !, identifier, or 'end of string'
 *   "foo" is not a known field selector: only "metadata.name",
 *   "metadata.namespace"
 */
#ifndef DTK_APISERVER_SELECTOR_H
#define DTK_APISERVER_SELECTOR_H

#include "pkg/json/json.h"

/* ---- label selectors ---------------------------------------------------- */

typedef struct dtk_labelsel dtk_labelsel;

/* Parses text (NULL or blank: the empty selector, which matches everything)
 * with the full syntax: "k=v", "k==v", "k!=v", "k in (a,b)", "k notin (a,b)",
 * "k", "!k", "k>1", "k<1", comma-separated requirements that must all hold,
 * blanks (space, tab, CR, LF) around tokens. Keys must be qualified names
 * (optional DNS subdomain prefix and '/', name part of at most 63
 * characters) and values valid label values (at most 63 characters).
 * *out is owned by the caller (dtk_labelsel_free).
 * Returns 0 or DTK_EINVALID with Kubernetes' message. */
int dtk_labelsel_parse(dtk_labelsel **out, const char *text);

/* 1 when labels (an object of string values, e.g. metadata.labels; NULL or
 * not an object means no labels) satisfies every requirement, else 0.
 * "!=" and "notin" match objects lacking the key; "=", "==", "in", ">" and
 * "<" require it (">"/"<" also need an integer value). Members whose value
 * is not a string count as absent. */
int dtk_labelsel_matches(const dtk_labelsel *sel, const dtk_json *labels);

/* dtk_labelsel_matches on obj's metadata.labels. */
int dtk_labelsel_matches_object(const dtk_labelsel *sel, const dtk_json *obj);

/* 1 when sel has no requirement (it matches everything). */
int dtk_labelsel_empty(const dtk_labelsel *sel);

void dtk_labelsel_free(dtk_labelsel *sel);

/* ---- field selectors ---------------------------------------------------- */

typedef struct dtk_fieldsel dtk_fieldsel;

/* Parses text (NULL or empty: matches everything): comma-separated terms
 * "field=value", "field==value" or "field!=value"; in values, '\' escapes
 * '\', ',' and '='. Fields are dotted paths. "metadata.name" and
 * "metadata.namespace" are always allowed; kind_fields, a NULL-terminated
 * list, adds the kind's own fields (e.g. "type" for Secrets).
 * An unknown field is refused with Kubernetes' wording for the case: with
 * kind_fields NULL (kinds without their own field list, custom resources
 * without selectable fields) "\"foo\" is not a known field selector: only
 * \"metadata.name\", \"metadata.namespace\""; with a list (even an empty
 * one) "field label not supported: foo".
 * *out is owned by the caller (dtk_fieldsel_free); kind_fields is borrowed
 * for the duration of the call.
 * Returns 0 or DTK_EINVALID, e.g. "invalid selector: 'a'; can't understand
 * 'a'", "invalid field selector: invalid escape sequence: \x",
 * "invalid field selector: unescaped character in value: 61" (Go prints the
 * character's code). */
int dtk_fieldsel_parse(dtk_fieldsel **out,
                       const char *text,
                       const char *const *kind_fields);

/* 1 when obj satisfies every term. A field's value is read along its dotted
 * path: strings as they are, numbers as their JSON text, booleans as
 * "true"/"false"; a missing, null or structured value reads as "" (so
 * "metadata.namespace=" matches cluster-scoped objects, as in Kubernetes). */
int dtk_fieldsel_matches(const dtk_fieldsel *sel, const dtk_json *obj);

/* 1 when sel has no term. */
int dtk_fieldsel_empty(const dtk_fieldsel *sel);

/* The value an "=" or "==" term requires for field, or NULL (Kubernetes'
 * RequiresExactMatch; lets a caller look one object up by name). Borrowed
 * from sel. */
const char *dtk_fieldsel_exact(const dtk_fieldsel *sel, const char *field);

void dtk_fieldsel_free(dtk_fieldsel *sel);

#endif

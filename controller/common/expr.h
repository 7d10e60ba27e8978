/* ${...} expressions in Assembly templates.
 * Thread-safety: none needed (pure functions over caller-owned trees).
 *
 * An expression is "${" path "}" where path is dot-separated segments of
 * [A-Za-z0-9_-]. "$${" is a literal "${". A string that is exactly one
 * expression takes the referenced value with its type (so
 * replicas: ${parameters.replicas} stays an integer); otherwise references
 * are interpolated into the string (numbers and booleans as text, objects
 * and arrays as compact JSON).
 *
 * Values are looked up in a context tree the caller builds:
 *   {"parameters": {...}, "target": {"parameters": {...}},
 *    "components": {"db": {"credentials": {...}, "outputs": {...}}},
 *    "parent": {"outputs": {...}}}
 * Resolved values may hold credentials: callers never log them, and error
 * messages here name only the path, never a value.
 */
#ifndef DTK_CONTROLLER_COMMON_EXPR_H
#define DTK_CONTROLLER_COMMON_EXPR_H

#include "pkg/json/json.h"

/* Called for each reference; path is borrowed for the call. Return < 0 to
 * stop (that code is returned). */
typedef int (*dtk_expr_ref_cb)(const char *path, void *payload);

/* Calls cb for every reference in text. Returns DTK_EINVALID for an
 * unterminated or malformed expression (message names it). */
int dtk_expr_scan(const char *text, dtk_expr_ref_cb cb, void *payload);

/* dtk_expr_scan over every string (not keys) in a JSON value. */
int dtk_expr_scan_json(const dtk_json *value, dtk_expr_ref_cb cb,
                       void *payload);

/* Resolves every expression in value against context into *out (a new
 * tree owned by the caller). Returns DTK_ENOTFOUND when a referenced value
 * is absent (message "${path} is not available"), DTK_EINVALID for a
 * malformed expression. */
int dtk_expr_resolve(dtk_json **out, const dtk_json *value,
                     const dtk_json *context);

/* Does text contain an expression? */
int dtk_expr_present(const char *text);

#endif

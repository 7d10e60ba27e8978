/* A small mutable JSON document model over yajl.
 * Thread-safety: none; one owner per tree. Distinct trees may be used from
 * distinct threads.
 *
 * yajl parses (callback API, so nesting depth is checked while parsing, never
 * by recursion over hostile input) and yajl_gen writes; this module owns the
 * tree in between. Numbers keep their text, so 64-bit integers round-trip
 * exactly and "1.0" stays "1.0". Object members keep their order (Kubernetes
 * clients expect stable output) and lookups are linear: objects here are
 * small.
 */
#ifndef DTK_JSON_JSON_H
#define DTK_JSON_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "pkg/base/buf.h"

#define DTK_JSON_MAX_DEPTH 128

typedef enum dtk_json_type {
    DTK_JSON_NULL = 0,
    DTK_JSON_BOOL,
    DTK_JSON_NUMBER,
    DTK_JSON_STRING,
    DTK_JSON_ARRAY,
    DTK_JSON_OBJECT,
} dtk_json_type;

typedef struct dtk_json dtk_json;

struct dtk_json {
    dtk_json_type type;
    union {
        int boolean;
        char *number; /* the literal text, e.g. "42" or "1.5e3" */
        struct {
            char *ptr;
            size_t len;
        } string;
        struct {
            dtk_json **items;
            size_t len, cap;
        } array;
        struct {
            char **keys;
            dtk_json **values;
            size_t len, cap;
        } object;
    } u;
};

/* Parses text[0..len) into a tree. On failure returns DTK_EINVALID (syntax,
 * depth) with a message that never quotes the input, only the byte offset.
 * Trailing content after the value is an error. *out is owned by the
 * caller. */
int dtk_json_parse(dtk_json **out, const char *text, size_t len);

/* Appends the compact JSON text of v to out. Returns DTK_ETOOBIG when out's
 * limit is reached, DTK_EINVALID for a string that is not UTF-8. */
int dtk_json_write(dtk_buf *out, const dtk_json *v);

/* Convenience: returns a newly allocated NUL-terminated text, or NULL when
 * v holds invalid UTF-8. */
char *dtk_json_to_string(const dtk_json *v);

void dtk_json_free(dtk_json *v);
dtk_json *dtk_json_copy(const dtk_json *v);

/* Deep equality; numbers compare by value when both are integers, else by
 * their double value. Member order does not matter. */
int dtk_json_equal(const dtk_json *a, const dtk_json *b);

/* Constructors: the caller owns the result. */
dtk_json *dtk_json_new_null(void);
dtk_json *dtk_json_new_bool(int value);
dtk_json *dtk_json_new_int(int64_t value);
dtk_json *dtk_json_new_double(double value);
dtk_json *dtk_json_new_number_text(const char *text);
dtk_json *dtk_json_new_string(const char *s);
dtk_json *dtk_json_new_stringn(const char *s, size_t len);
dtk_json *dtk_json_new_object(void);
dtk_json *dtk_json_new_array(void);

/* Object access. dtk_json_get returns a borrowed member or NULL (also when
 * obj is not an object). dtk_json_set steals value and replaces an existing
 * member in place. dtk_json_take detaches a member (the caller owns it);
 * dtk_json_remove frees it. Both return NULL/0 when absent. */
dtk_json *dtk_json_get(const dtk_json *obj, const char *key);
void dtk_json_set(dtk_json *obj, const char *key, dtk_json *value);
dtk_json *dtk_json_take(dtk_json *obj, const char *key);
int dtk_json_remove(dtk_json *obj, const char *key);

/* Follows a NULL-terminated key path through objects; borrowed or NULL. */
dtk_json *dtk_json_path(const dtk_json *v, const char *const *path);

/* Like dtk_json_path but creates missing objects on the way; returns the
 * innermost object (borrowed), or NULL when a non-object is in the way. */
dtk_json *dtk_json_ensure_object(dtk_json *v, const char *const *path);

/* Array access. dtk_json_append steals item. */
void dtk_json_append(dtk_json *arr, dtk_json *item);
size_t dtk_json_len(const dtk_json *v); /* array items or object members */
dtk_json *dtk_json_at(const dtk_json *arr, size_t i);
void dtk_json_remove_at(dtk_json *arr, size_t i);
/* Inserts at index i (0..len); steals item. */
void dtk_json_insert_at(dtk_json *arr, size_t i, dtk_json *item);

/* Typed reads; NULL or failure when the type differs. */
const char *dtk_json_string(const dtk_json *v); /* borrowed */
const char *dtk_json_get_string(const dtk_json *obj, const char *key);
int dtk_json_is_integer(const dtk_json *v);
/* Returns DTK_EINVALID when v is not an integer that fits int64. */
int dtk_json_int(int64_t *out, const dtk_json *v);
double dtk_json_double(const dtk_json *v);

const char *dtk_json_type_name(dtk_json_type type);

/* Sorts object members by key, recursively, so that equal documents write
 * identical text (content hashes). */
void dtk_json_sort_keys(dtk_json *v);

/* Replaces *slot's content with src's (stealing src's children); src is
 * freed. Used to swap a subtree without reallocating its parent. */
void dtk_json_replace(dtk_json *slot, dtk_json *src);

#endif

/* dtk_object: an immutable, reference-counted cached object.
 *
 * Memory is the informer's main cost (one object per cached resource), so
 * an object is ONE allocation: the header, the key, and the JSON tree packed
 * into an arena (nodes and pointer arrays first, then the bytes of every
 * string, number and member name). Measured on 1.1 KiB custom objects
 * (test/bench/bench_informer.c): as trees from dtk_json_parse they cost 3.7x
 * their JSON text in resident memory (a malloc'd node, key and string per
 * member, plus allocator overhead); packed, the whole cache costs 2.6x (the
 * 40-byte nodes are most of what remains), and freeing an object is one
 * call. The packed tree is an ordinary dtk_json for every reader
 * (get, path, string, write, copy, equal); only the mutating calls are
 * forbidden, which the immutability rule forbids anyway.
 *
 * Packing is a copy (measure, then place), done once per watch event or
 * listed item on the informer thread.
 */
#include <stdatomic.h>
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"
#include "pkg/informer/informer_int.h"

struct dtk_object {
    atomic_size_t refs;
    const dtk_json *json;         /* into the arena below */
    const char *ns;               /* into the arena, or NULL */
    const char *name;             /* into the arena */
    const char *resource_version; /* into the arena, or NULL */
    char key[];                   /* then padding, nodes, strings */
};

#define ALIGN8(n) (((n) + 7) & ~(size_t)7)

typedef struct packer {
    char *nodes; /* next node or pointer array */
    char *bytes; /* next string byte */
} packer;

/* Bytes needed for the nodes + pointer arrays (*nodes) and the strings
 * (*bytes) of v. The depth is bounded by the parser (DTK_JSON_MAX_DEPTH). */
static void measure(const dtk_json *v, size_t *nodes, size_t *bytes)
{
    *nodes += sizeof(dtk_json);
    switch (v->type) {
    case DTK_JSON_NUMBER:
        *bytes += strlen(v->u.number) + 1;
        break;
    case DTK_JSON_STRING:
        *bytes += v->u.string.len + 1;
        break;
    case DTK_JSON_ARRAY:
        *nodes += v->u.array.len * sizeof(dtk_json *);
        for (size_t i = 0; i < v->u.array.len; i++) {
            measure(v->u.array.items[i], nodes, bytes);
        }
        break;
    case DTK_JSON_OBJECT:
        *nodes += v->u.object.len * 2 * sizeof(void *);
        for (size_t i = 0; i < v->u.object.len; i++) {
            *bytes += strlen(v->u.object.keys[i]) + 1;
            measure(v->u.object.values[i], nodes, bytes);
        }
        break;
    default:
        break;
    }
}

static char *place_bytes(packer *p, const char *s, size_t len)
{
    char *out = p->bytes;

    memcpy(out, s, len);
    out[len] = '\0';
    p->bytes += len + 1;
    return out;
}

static void *place_array(packer *p, size_t count)
{
    void *out = count > 0 ? p->nodes : NULL;

    p->nodes += count * sizeof(void *);
    return out;
}

static dtk_json *place(packer *p, const dtk_json *v)
{
    dtk_json *n = (dtk_json *)(void *)p->nodes;

    p->nodes += sizeof(dtk_json);
    memset(n, 0, sizeof(*n));
    n->type = v->type;
    switch (v->type) {
    case DTK_JSON_BOOL:
        n->u.boolean = v->u.boolean;
        break;
    case DTK_JSON_NUMBER:
        n->u.number = place_bytes(p, v->u.number, strlen(v->u.number));
        break;
    case DTK_JSON_STRING:
        n->u.string.ptr = place_bytes(p, v->u.string.ptr, v->u.string.len);
        n->u.string.len = v->u.string.len;
        break;
    case DTK_JSON_ARRAY:
        n->u.array.len = n->u.array.cap = v->u.array.len;
        n->u.array.items = place_array(p, v->u.array.len);
        for (size_t i = 0; i < v->u.array.len; i++) {
            n->u.array.items[i] = place(p, v->u.array.items[i]);
        }
        break;
    case DTK_JSON_OBJECT:
        n->u.object.len = n->u.object.cap = v->u.object.len;
        n->u.object.keys = place_array(p, v->u.object.len);
        n->u.object.values = place_array(p, v->u.object.len);
        for (size_t i = 0; i < v->u.object.len; i++) {
            const char *k = v->u.object.keys[i];

            n->u.object.keys[i] = place_bytes(p, k, strlen(k));
            n->u.object.values[i] = place(p, v->u.object.values[i]);
        }
        break;
    default:
        break;
    }
    return n;
}

int dtk_object__key(dtk_buf *out, const char *ns, const char *name)
{
    if (ns != NULL && ns[0] != '\0') {
        return dtk_buf_printf(out, "%s/%s", ns, name);
    }
    return dtk_buf_puts(out, name);
}

int dtk_object_new(dtk_object **out, dtk_json *json)
{
    static const char *const name_path[] = {"metadata", "name", NULL};
    static const char *const ns_path[] = {"metadata", "namespace", NULL};
    static const char *const rv_path[] = {"metadata", "resourceVersion", NULL};
    dtk_buf key = DTK_BUF_INIT(0);
    dtk_object *obj = NULL;
    const char *name;
    const char *ns;
    size_t nodes = 0, bytes = 0, head;
    packer p;
    int error = 0;

    if (json == NULL || json->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "object: expected a JSON object");
        error = DTK_EINVALID;
        goto out;
    }
    name = dtk_json_string(dtk_json_path(json, name_path));
    ns = dtk_json_string(dtk_json_path(json, ns_path));
    if (name == NULL || name[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "object: metadata.name: expected a non-empty string");
        error = DTK_EINVALID;
        goto out;
    }
    if (dtk_object__key(&key, ns, name) < 0) {
        dtk_error_set(DTK_ERRCLASS_INVALID, "object: key exceeds its bound");
        error = DTK_EINVALID;
        goto out;
    }
    measure(json, &nodes, &bytes);
    head = ALIGN8(sizeof(dtk_object) + key.len + 1);
    obj = dtk_malloc(head + nodes + bytes);
    atomic_init(&obj->refs, 1);
    memcpy(obj->key, key.ptr, key.len + 1);
    p.nodes = (char *)obj + head;
    p.bytes = p.nodes + nodes;
    obj->json = place(&p, json);
    dtk_assert(p.nodes == (char *)obj + head + nodes);
    dtk_assert(p.bytes == (char *)obj + head + nodes + bytes);
    /* Pointers into the packed copy, not into json (freed below). */
    obj->name = dtk_json_string(dtk_json_path(obj->json, name_path));
    obj->ns = dtk_json_string(dtk_json_path(obj->json, ns_path));
    if (obj->ns != NULL && obj->ns[0] == '\0') {
        obj->ns = NULL;
    }
    obj->resource_version = dtk_json_string(dtk_json_path(obj->json, rv_path));
    *out = obj;
out:
    dtk_buf_dispose(&key);
    dtk_json_free(json);
    return error;
}

dtk_object *dtk_object_ref(dtk_object *obj)
{
    atomic_fetch_add_explicit(&obj->refs, 1, memory_order_relaxed);
    return obj;
}

void dtk_object_unref(dtk_object *obj)
{
    if (obj == NULL) {
        return;
    }
    if (atomic_fetch_sub_explicit(&obj->refs, 1, memory_order_acq_rel) == 1) {
        dtk_free(obj);
    }
}

const dtk_json *dtk_object_json(const dtk_object *obj)
{
    return obj->json;
}

const char *dtk_object_key(const dtk_object *obj)
{
    return obj->key;
}

const char *dtk_object_namespace(const dtk_object *obj)
{
    return obj->ns;
}

const char *dtk_object_name(const dtk_object *obj)
{
    return obj->name;
}

const char *dtk_object_resource_version(const dtk_object *obj)
{
    return obj->resource_version;
}

void dtk_object_list_dispose(dtk_object_list *list)
{
    for (size_t i = 0; i < list->len; i++) {
        dtk_object_unref(list->items[i]);
    }
    dtk_free(list->items);
    list->items = NULL;
    list->len = 0;
}

/* The controllers a real cluster runs in kube-controller-manager and
 * apiextensions-apiserver, reduced to what a development server needs:
 *
 * - garbage collection: an object whose every owner (by uid) is gone is
 *   deleted (Background propagation); dependents of an owner being deleted
 *   in the foreground are deleted first, then its foregroundDeletion
 *   finalizer is removed;
 * - namespace lifecycle: a Terminating namespace has its content deleted and
 *   disappears once empty;
 * - CRD cleanup: a deleted CRD has its objects deleted, then its finalizer
 *   removed and its resource unserved.
 *
 * One thread, woken by commits that may need work, running passes under the
 * store lock until a pass changes nothing. Writes go through the same store
 * functions as client requests, so watchers see every step.
 */
#include "cmd/dtk-apiserver/apiserver.h"

#include <string.h>
#include <time.h>

#include "pkg/base/alloc.h"
#include "pkg/base/log.h"

#define CRD_CLEANUP_FINALIZER "customresourcecleanup.apiextensions.k8s.io"

void dtk_housekeeping_kick(dtk_apiserver *s)
{
    s->housekeeping_wanted = 1;
    pthread_cond_signal(&s->housekeeping_cv);
}

static int being_deleted(const dtk_json *obj)
{
    return dtk_meta_get(obj, "deletionTimestamp") != NULL;
}

/* A copy of obj without the named finalizer (metadata.finalizers) or NULL
 * when it does not carry it. */
static dtk_json *without_finalizer(const dtk_json *obj, const char *name)
{
    const dtk_json *f = dtk_json_get(dtk_json_get(obj, "metadata"),
                                     "finalizers");
    dtk_json *copy;
    dtk_json *kept;
    int found = 0;

    for (size_t i = 0; i < dtk_json_len(f) && !found; i++) {
        const char *v = dtk_json_string(dtk_json_at(f, i));

        found = v != NULL && strcmp(v, name) == 0;
    }
    if (!found) {
        return NULL;
    }
    copy = dtk_json_copy(obj);
    kept = dtk_json_new_array();
    for (size_t i = 0; i < dtk_json_len(f); i++) {
        const char *v = dtk_json_string(dtk_json_at(f, i));

        if (v == NULL || strcmp(v, name) != 0) {
            dtk_json_append(kept, dtk_json_copy(dtk_json_at(f, i)));
        }
    }
    if (dtk_json_len(kept) == 0) {
        dtk_json_free(kept);
        dtk_json_remove(dtk_meta_of(copy), "finalizers");
    } else {
        dtk_json_set(dtk_meta_of(copy), "finalizers", kept);
    }
    return copy;
}

/* Commits obj (stolen) and, when it is being deleted without finalizers,
 * removes it. */
static void commit_or_remove(dtk_apiserver *s, dtk_bucket *b, dtk_json *obj)
{
    const char *ns = dtk_meta_get(obj, "namespace");
    char *name = dtk_strdup(dtk_meta_get(obj, "name"));
    char *nsc = ns ? dtk_strdup(ns) : NULL;
    int gone = being_deleted(obj) &&
               dtk_json_len(dtk_json_get(dtk_json_get(obj, "metadata"),
                                         "finalizers")) == 0;

    dtk_store_put(s, b, obj, DTK_EV_MODIFIED);
    if (gone) {
        dtk_store_delete(s, b, nsc, name);
    }
    dtk_free(name);
    dtk_free(nsc);
}

typedef struct ref {
    dtk_restype *t;
    char *ns;
    char *name;
} ref;

typedef struct refs {
    ref *v;
    size_t n;
} refs;

static void refs_add(refs *r, dtk_restype *t, const char *ns,
                     const char *name)
{
    r->v = dtk_realloc(r->v, (r->n + 1) * sizeof(ref));
    r->v[r->n].t = t;
    r->v[r->n].ns = ns ? dtk_strdup(ns) : NULL;
    r->v[r->n].name = dtk_strdup(name);
    r->n++;
}

static void refs_dispose(refs *r)
{
    for (size_t i = 0; i < r->n; i++) {
        dtk_free(r->v[i].ns);
        dtk_free(r->v[i].name);
    }
    dtk_free(r->v);
}

/* Deletes every object in r; returns how many changed something. */
static int delete_all(dtk_apiserver *s, refs *r)
{
    int changed = 0;

    for (size_t i = 0; i < r->n; i++) {
        dtk_stored *st = dtk_store_get(r->v[i].t->bucket,
                                       r->v[i].t->namespaced ? r->v[i].ns
                                                             : NULL,
                                       r->v[i].name);

        if (st == NULL || being_deleted(st->obj)) {
            continue;
        }
        if (dtk_apiserver_delete_locked(s, r->v[i].t, r->v[i].ns,
                                        r->v[i].name, "Background") >= 0) {
            changed++;
        }
    }
    return changed;
}

/* One garbage-collection pass. */
static int collect_garbage(dtk_apiserver *s)
{
    dtk_map uids = DTK_MAP_INIT; /* uid -> dtk_stored of live objects */
    refs doomed = {NULL, 0};
    int changed = 0;

    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        size_t iter = 0;
        void *value;

        if (!t->storage_version) {
            continue;
        }
        while (dtk_map_next(&t->bucket->objects, &iter, NULL, &value)) {
            dtk_stored *st = value;
            const char *uid = dtk_meta_get(st->obj, "uid");

            if (uid != NULL) {
                dtk_map_put(&uids, uid, st);
            }
        }
    }
    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        size_t iter = 0;
        void *value;

        if (!t->storage_version) {
            continue;
        }
        while (dtk_map_next(&t->bucket->objects, &iter, NULL, &value)) {
            dtk_stored *st = value;
            const dtk_json *owners = dtk_json_get(
                dtk_json_get(st->obj, "metadata"), "ownerReferences");
            size_t live = 0;
            int foreground_owner = 0;

            if (dtk_json_len(owners) == 0 || being_deleted(st->obj)) {
                continue;
            }
            for (size_t k = 0; k < dtk_json_len(owners); k++) {
                const char *uid =
                    dtk_json_get_string(dtk_json_at(owners, k), "uid");
                dtk_stored *owner = uid ? dtk_map_get(&uids, uid) : NULL;
                const char *owner_ns = owner ? dtk_meta_get(owner->obj,
                                                            "namespace")
                                             : NULL;
                const char *own_ns = dtk_meta_get(st->obj, "namespace");

                /* A namespaced owner in another namespace is no owner at
                 * all: Kubernetes deletes such dependents. */
                if (owner != NULL && owner_ns != NULL &&
                    (own_ns == NULL || strcmp(owner_ns, own_ns) != 0)) {
                    owner = NULL;
                }
                if (owner == NULL) {
                    continue;
                }
                live++;
                if (being_deleted(owner->obj)) {
                    const dtk_json *f = dtk_json_get(
                        dtk_json_get(owner->obj, "metadata"), "finalizers");

                    for (size_t j = 0; j < dtk_json_len(f); j++) {
                        const char *v = dtk_json_string(dtk_json_at(f, j));

                        foreground_owner |=
                            v != NULL && strcmp(v, "foregroundDeletion") == 0;
                    }
                }
            }
            if (live == 0 || foreground_owner) {
                refs_add(&doomed, t, dtk_meta_get(st->obj, "namespace"),
                         dtk_meta_get(st->obj, "name"));
            }
        }
    }
    changed += delete_all(s, &doomed);
    refs_dispose(&doomed);
    dtk_map_dispose(&uids);
    return changed;
}

/* Has any live object an ownerReference to uid? */
static int has_dependents(dtk_apiserver *s, const char *uid)
{
    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        size_t iter = 0;
        void *value;

        if (!t->storage_version) {
            continue;
        }
        while (dtk_map_next(&t->bucket->objects, &iter, NULL, &value)) {
            const dtk_json *owners = dtk_json_get(
                dtk_json_get(((dtk_stored *)value)->obj, "metadata"),
                "ownerReferences");

            for (size_t k = 0; k < dtk_json_len(owners); k++) {
                const char *u =
                    dtk_json_get_string(dtk_json_at(owners, k), "uid");

                if (u != NULL && strcmp(u, uid) == 0) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* Removes foregroundDeletion from owners whose dependents are all gone. */
static int finish_foreground(dtk_apiserver *s)
{
    int changed = 0;

    for (size_t i = 0; i < s->type_count; i++) {
        dtk_restype *t = s->types[i];
        size_t iter = 0;
        void *value;
        dtk_json **done = NULL;
        size_t ndone = 0;

        if (!t->storage_version) {
            continue;
        }
        while (dtk_map_next(&t->bucket->objects, &iter, NULL, &value)) {
            dtk_stored *st = value;
            dtk_json *updated;

            if (!being_deleted(st->obj) ||
                has_dependents(s, dtk_meta_get(st->obj, "uid"))) {
                continue;
            }
            updated = without_finalizer(st->obj, "foregroundDeletion");
            if (updated != NULL) {
                done = dtk_realloc(done, (ndone + 1) * sizeof(dtk_json *));
                done[ndone++] = updated;
            }
        }
        for (size_t k = 0; k < ndone; k++) {
            commit_or_remove(s, t->bucket, done[k]);
            changed++;
        }
        dtk_free(done);
    }
    return changed;
}

static int finalize_namespaces(dtk_apiserver *s)
{
    dtk_restype *nt = dtk_registry_find(s, "", "v1", "namespaces");
    size_t iter = 0;
    void *value;
    char **empty = NULL;
    size_t nempty = 0;
    int changed = 0;

    while (dtk_map_next(&nt->bucket->objects, &iter, NULL, &value)) {
        dtk_stored *ns = value;
        const char *name = dtk_meta_get(ns->obj, "name");
        refs content = {NULL, 0};
        size_t remaining = 0;

        if (!being_deleted(ns->obj)) {
            continue;
        }
        for (size_t i = 0; i < s->type_count; i++) {
            dtk_restype *t = s->types[i];
            size_t it2 = 0;
            void *ov;

            if (!t->namespaced || !t->storage_version) {
                continue;
            }
            while (dtk_map_next(&t->bucket->objects, &it2, NULL, &ov)) {
                const dtk_json *obj = ((dtk_stored *)ov)->obj;
                const char *ons = dtk_meta_get(obj, "namespace");

                if (ons != NULL && strcmp(ons, name) == 0) {
                    remaining++;
                    refs_add(&content, t, ons, dtk_meta_get(obj, "name"));
                }
            }
        }
        changed += delete_all(s, &content);
        refs_dispose(&content);
        if (remaining == 0) {
            empty = dtk_realloc(empty, (nempty + 1) * sizeof(char *));
            empty[nempty++] = dtk_strdup(name);
        }
    }
    for (size_t i = 0; i < nempty; i++) {
        dtk_store_delete(s, nt->bucket, NULL, empty[i]);
        dtk_free(empty[i]);
        changed++;
    }
    dtk_free(empty);
    return changed;
}

static int finalize_crds(dtk_apiserver *s)
{
    dtk_restype *ct = dtk_registry_find(s, "apiextensions.k8s.io", "v1",
                                        "customresourcedefinitions");
    size_t iter = 0;
    void *value;
    dtk_json **done = NULL;
    size_t ndone = 0;
    int changed = 0;

    while (dtk_map_next(&ct->bucket->objects, &iter, NULL, &value)) {
        dtk_stored *st = value;
        const char *crd_name = dtk_meta_get(st->obj, "name");
        refs content = {NULL, 0};
        dtk_restype *storage = NULL;

        if (!being_deleted(st->obj)) {
            continue;
        }
        for (size_t i = 0; i < s->type_count; i++) {
            if (s->types[i]->custom &&
                strcmp(s->types[i]->crd_name, crd_name) == 0 &&
                (storage == NULL || s->types[i]->storage_version)) {
                storage = s->types[i];
            }
        }
        if (storage != NULL) {
            size_t it2 = 0;
            void *ov;

            while (dtk_map_next(&storage->bucket->objects, &it2, NULL, &ov)) {
                const dtk_json *obj = ((dtk_stored *)ov)->obj;

                refs_add(&content, storage, dtk_meta_get(obj, "namespace"),
                         dtk_meta_get(obj, "name"));
            }
        }
        changed += delete_all(s, &content);
        if (content.n == 0) {
            dtk_json *updated = without_finalizer(st->obj,
                                                  CRD_CLEANUP_FINALIZER);

            if (updated != NULL) {
                done = dtk_realloc(done, (ndone + 1) * sizeof(dtk_json *));
                done[ndone++] = updated;
            }
        }
        refs_dispose(&content);
    }
    for (size_t i = 0; i < ndone; i++) {
        char *name = dtk_strdup(dtk_meta_get(done[i], "name"));

        commit_or_remove(s, ct->bucket, done[i]);
        if (dtk_store_get(ct->bucket, NULL, name) == NULL) {
            dtk_registry_remove_crd(s, name);
        }
        dtk_free(name);
        changed++;
    }
    dtk_free(done);
    return changed;
}

static void *housekeeper_main(void *arg)
{
    dtk_apiserver *s = arg;

    pthread_mutex_lock(&s->mu);
    while (!s->stopping) {
        if (!s->housekeeping_wanted) {
            pthread_cond_wait(&s->housekeeping_cv, &s->mu);
            continue;
        }
        s->housekeeping_wanted = 0;
        /* Passes until nothing changes; each change may unblock another
         * (a removed dependent lets its owner's finalizer go). */
        for (int pass = 0; pass < 100; pass++) {
            int changed = collect_garbage(s) + finish_foreground(s) +
                          finalize_namespaces(s) + finalize_crds(s);

            if (changed == 0) {
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int dtk_housekeeping_start(dtk_apiserver *s)
{
    if (pthread_create(&s->housekeeper, NULL, housekeeper_main, s) != 0) {
        return -1;
    }
    s->housekeeper_started = 1;
    return 0;
}

void dtk_housekeeping_stop(dtk_apiserver *s)
{
    if (!s->housekeeper_started) {
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->changed);
    pthread_cond_signal(&s->housekeeping_cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->housekeeper, NULL);
    s->housekeeper_started = 0;
}

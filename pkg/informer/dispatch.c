/* Handlers: registration before start, delivery on the informer thread,
 * and the periodic resync.
 *
 * Delivery happens after the store write and outside every lock, so a
 * handler that reads the store sees the state the event describes (or a
 * later one), and a handler may take as long as it likes without blocking
 * readers (it only delays this informer). The handler list is fixed once
 * the thread runs, so delivery reads it without a lock.
 */
#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/base/log.h"
#include "pkg/informer/informer_int.h"

int dtk_informer_add_handler(dtk_informer *inf,
                             const dtk_informer_handler *handler)
{
    int started;

    pthread_mutex_lock(&inf->mu);
    started = inf->started;
    pthread_mutex_unlock(&inf->mu);
    if (started) {
        dtk_error_set(DTK_ERRCLASS_INVALID,
                      "informer '%s': handlers must be added before start",
                      inf->name);
        return DTK_EINVALID;
    }
    inf->handlers = dtk_realloc(inf->handlers, (inf->handler_count + 1) *
                                                   sizeof(*inf->handlers));
    inf->handlers[inf->handler_count++] = *handler;
    return 0;
}

void dtk_informer__on_add(dtk_informer *inf, dtk_object *obj)
{
    for (size_t i = 0; i < inf->handler_count; i++) {
        const dtk_informer_handler *h = &inf->handlers[i];

        if (h->on_add != NULL) {
            h->on_add(obj, h->payload);
        }
    }
}

void dtk_informer__on_update(dtk_informer *inf,
                             dtk_object *old_obj,
                             dtk_object *new_obj)
{
    for (size_t i = 0; i < inf->handler_count; i++) {
        const dtk_informer_handler *h = &inf->handlers[i];

        if (h->on_update != NULL) {
            h->on_update(old_obj, new_obj, h->payload);
        }
    }
}

void dtk_informer__on_delete(dtk_informer *inf,
                             dtk_object *obj,
                             int final_state_unknown)
{
    for (size_t i = 0; i < inf->handler_count; i++) {
        const dtk_informer_handler *h = &inf->handlers[i];

        if (h->on_delete != NULL) {
            h->on_delete(obj, final_state_unknown, h->payload);
        }
    }
}

void dtk_informer__dispatch_changes(dtk_informer *inf,
                                    const dtk_indexer_changes *changes)
{
    for (size_t i = 0; i < changes->len && !inf->stopping; i++) {
        const dtk_indexer_change *c = &changes->items[i];

        switch (c->type) {
        case DTK_INDEXER_ADDED:
            dtk_informer__on_add(inf, c->new_obj);
            break;
        case DTK_INDEXER_UPDATED:
            dtk_informer__on_update(inf, c->old_obj, c->new_obj);
            break;
        case DTK_INDEXER_DELETED:
            dtk_informer__on_delete(inf, c->old_obj, 1);
            break;
        }
    }
}

void dtk_informer__maybe_resync(dtk_informer *inf)
{
    dtk_object_list all = DTK_OBJECT_LIST_INIT;
    int64_t now;

    if (inf->next_resync_ms == 0) {
        return;
    }
    now = dtk_clock_now_ms();
    if (now < inf->next_resync_ms) {
        return;
    }
    inf->next_resync_ms = now + inf->resync_ms;
    dtk_indexer_list(&all, inf->store);
    dtk_log(DTK_LOG_DEBUG, NULL, "Informer resync", "informer=%s objects=%zu",
            inf->name, all.len);
    for (size_t i = 0; i < all.len && !inf->stopping; i++) {
        dtk_informer__on_update(inf, all.items[i], all.items[i]);
    }
    dtk_object_list_dispose(&all);
    pthread_mutex_lock(&inf->mu);
    inf->stats.resyncs++;
    pthread_mutex_unlock(&inf->mu);
}

/* The ServiceInstance reconciler's shared state (semi-private).
 * Thread-safety: one ictx per reconcile, on one worker thread.
 */
#ifndef DTK_CONTROLLER_INSTANCE_INSTANCE_INT_H
#define DTK_CONTROLLER_INSTANCE_INSTANCE_INT_H

#include <stdint.h>

#include "controller/assembly/assembly.h"
#include "controller/operator_int.h"
#include "pkg/osb/osb.h"

/* What converging one component came to. */
typedef enum dtk_ic_state {
    DTK_IC_READY = 0,    /* converged */
    DTK_IC_PROGRESS,     /* an operation runs; requeue_after is set */
    DTK_IC_FAILED,       /* terminal for this generation */
    DTK_IC_UNSUPPORTED,  /* a container component (part 2) */
} dtk_ic_state;

typedef struct dtk_ictx {
    dtk_operator *op;
    const dtk_request *req;
    dtk_result *result;
    dtk_kube_client *kc;
    dtk_json *obj;    /* the instance as last read or written */
    dtk_json *status; /* the status being built */
    long long gen;
    int deleting;
    dtk_json *target;         /* the base Target object (copy) */
    dtk_json *parent_outputs; /* or NULL */
    dtk_assembly *assembly;   /* the pinned snapshot */
    dtk_json *params;         /* merged parameters */
    dtk_json *context;        /* expression context (holds credentials) */
    char fail_key[64];        /* "<generation>/<converge request>" */
} dtk_ictx;

/* status.components entry of name (created when absent); borrowed from
 * c->status. */
dtk_json *dtk_instance__entry(dtk_ictx *c, const char *name);

/* Writes c->status when it differs from the object's. */
int dtk_instance__flush(dtk_ictx *c);

/* Converges one service component; resolved is its resolved "service"
 * spec. Sets the entry's state and message. */
dtk_ic_state dtk_instance__converge_service(dtk_ictx *c, size_t index,
                                            const dtk_json *resolved,
                                            int *error);

/* Tears one component's broker resources down. Returns 1 when done, 0
 * when an operation runs (requeue_after set), < 0 on error. */
int dtk_instance__teardown_service(dtk_ictx *c, dtk_json *entry);

void dtk_instance__cap_requeue(dtk_ictx *c, int64_t delay_ms);

/* Seconds until the next last_operation poll after polls in-progress
 * answers: Retry-After when the broker sent one (retry_after_s >= 0),
 * else 1, 2, 4, ... 32 s, then 60 s; never more than 60 s. Pure. */
int64_t dtk_instance_poll_delay_s(int64_t polls, long retry_after_s);

/* The data of a component's binding Secret: every credential as a string
 * (strings as they are, other JSON values as compact JSON), plus the
 * servicebinding.io keys type and provider unless the broker sent them.
 * Pure; the caller owns the result. */
dtk_json *dtk_instance_secret_data(const dtk_json *creds, const char *type,
                                   const char *provider);

#endif

/* The Assembly reconciler: validates the template and publishes
 * status.revision (content hash of the spec), status.components (count),
 * the Ready condition (False with every problem, reason Invalid) and
 * observedGeneration. It writes status only when something changed and
 * never touches anything else: instances react to Assemblies on their own.
 */
#include <string.h>

#include "controller/assembly/assembly.h"
#include "controller/common/conditions.h"
#include "controller/common/kutil.h"
#include "controller/operator_int.h"
#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

int dtk_assembly_reconcile(dtk_result *result, const dtk_request *req,
                           void *payload)
{
    dtk_operator *op = payload;
    dtk_object *cached = NULL;
    dtk_json *obj = NULL, *status = NULL;
    dtk_assembly *a = NULL;
    dtk_buf problems = DTK_BUF_INIT(32 * 1024);
    dtk_kube_client *client = NULL;
    long long gen;
    int error;

    (void)result;
    error = dtk_operator__get(&cached, op, DTK_KIND_ASSEMBLY, req->namespace,
                              req->name);
    if (error == DTK_ENOTFOUND) {
        dtk_error_clear();
        error = 0;
        goto out;
    }
    if (error < 0) {
        goto out;
    }
    obj = dtk_json_copy(dtk_object_json(cached));
    gen = dtk_kutil_generation(obj);
    status = dtk_json_get(obj, "status")
                 ? dtk_json_copy(dtk_json_get(obj, "status"))
                 : dtk_json_new_object();
    error = dtk_assembly_decode(&a, &problems, obj);
    if (error == 0) {
        dtk_json_set(status, "revision", dtk_json_new_string(a->revision));
        dtk_json_set(status, "components",
                     dtk_json_new_int((int64_t)a->component_count));
        dtk_conditions_set(status, "Ready", DTK_CONDITION_TRUE, "Valid",
                           "the assembly is valid", gen, NULL);
    } else if (error == DTK_EINVALID) {
        char rev[16];
        const dtk_json *spec = dtk_json_get(obj, "spec");
        dtk_error_clear();
        if (spec != NULL && dtk_assembly_revision(rev, spec) == 0) {
            dtk_json_set(status, "revision", dtk_json_new_string(rev));
        }
        dtk_conditions_set(status, "Ready", DTK_CONDITION_FALSE, "Invalid",
                           dtk_buf_cstr(&problems), gen, NULL);
    } else {
        goto out;
    }
    dtk_json_set(status, "observedGeneration", dtk_json_new_int(gen));
    if (dtk_json_get(obj, "status") != NULL &&
        dtk_json_equal(dtk_json_get(obj, "status"), status)) {
        error = 0;
        goto out;
    }
    error = dtk_kube_client_new(&client, op->config);
    if (error < 0) {
        goto out;
    }
    error = dtk_kutil_write_status(&obj, client, &dtk_gvr_assemblies, status);
    if (error == 0) {
        int ready = dtk_conditions_is_true(status, "Ready");
        dtk_operator__event(op, obj, ready ? "Normal" : "Warning",
                            ready ? "Validated" : "Invalid", "%s",
                            ready ? "assembly is valid"
                                  : dtk_buf_cstr(&problems));
    }
out:
    dtk_kube_client_free(client);
    dtk_assembly_free(a);
    dtk_json_free(status);
    dtk_json_free(obj);
    dtk_object_unref(cached);
    dtk_buf_dispose(&problems);
    return error;
}

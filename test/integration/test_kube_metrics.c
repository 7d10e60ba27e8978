/* rest_client_* metrics of pkg/kube requests against dtk-apiserver. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/kube/kube.h"
#include "pkg/kube/meta.h"
#include "pkg/runtime/kube_metrics.h"
#include "test/support/apiserver.h"

static void test_kube_metrics__requests_are_counted_by_code(void **state)
{
    dtk_test_apiserver a;
    dtk_kube_config_options o = DTK_KUBE_CONFIG_OPTIONS_INIT;
    dtk_metrics_registry *reg = dtk_metrics_registry_new();
    dtk_kube_metrics *m = NULL;
    dtk_kube_config *cfg = NULL;
    dtk_kube_client *c = NULL;
    dtk_json *obj = NULL;
    dtk_buf text = DTK_BUF_INIT(0);
    char line[256];

    (void)state;
    assert_int_equal(dtk_test_apiserver_start(&a, NULL), 0);
    assert_int_equal(dtk_kube_metrics_install(&m, &o, reg), 0);
    assert_int_equal(dtk_kube_config_for_url(&cfg, a.url, NULL, &o), 0);
    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(dtk_kube_get(&obj, c, &dtk_kube_gvr_namespaces, NULL,
                                  "default", NULL),
                     0);
    dtk_json_free(obj);
    obj = NULL;
    assert_int_equal(dtk_kube_get(&obj, c, &dtk_kube_gvr_namespaces, NULL,
                                  "missing", NULL),
                     DTK_ENOTFOUND);
    assert_int_equal(dtk_metrics_write(&text, reg), 0);
    snprintf(line, sizeof(line),
             "rest_client_requests_total{code=\"200\",host=\"127.0.0.1:%d\","
             "method=\"GET\"} 1\n",
             a.port);
    assert_non_null(strstr(dtk_buf_cstr(&text), line));
    snprintf(line, sizeof(line),
             "rest_client_requests_total{code=\"404\",host=\"127.0.0.1:%d\","
             "method=\"GET\"} 1\n",
             a.port);
    assert_non_null(strstr(dtk_buf_cstr(&text), line));
    snprintf(line, sizeof(line),
             "rest_client_request_duration_seconds_count{host=\"127.0.0.1:%d\","
             "verb=\"GET\"} 2\n",
             a.port);
    assert_non_null(strstr(dtk_buf_cstr(&text), line));
    dtk_buf_dispose(&text);
    dtk_kube_client_free(c);
    dtk_kube_config_free(cfg);
    dtk_kube_metrics_free(m);
    dtk_metrics_registry_free(reg);
    dtk_test_apiserver_dispose(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kube_metrics__requests_are_counted_by_code),
    };
    int rc;

    dtk_http_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    dtk_http_global_cleanup();
    return rc;
}

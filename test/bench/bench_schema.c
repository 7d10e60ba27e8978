/* Speed of custom resource schema handling: compiling a typical CRD
 * schema, coercing (prune + default) and validating a ~1 KiB custom
 * resource against it, with CEL rules. Prints "name: value unit" lines.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "cmd/dtk-apiserver/schema.h"
#include "pkg/base/alloc.h"
#include "pkg/json/json.h"

static const char *schema_text =
    "{\"type\":\"object\",\"properties\":{"
    "\"apiVersion\":{\"type\":\"string\"},\"kind\":{\"type\":\"string\"},"
    "\"metadata\":{\"type\":\"object\"},"
    "\"spec\":{\"type\":\"object\",\"required\":[\"image\",\"replicas\"],"
    "\"x-kubernetes-validations\":["
    "{\"rule\":\"has(self.cpu) == has(self.memory)\","
    "\"message\":\"cpu and memory go together\"},"
    "{\"rule\":\"self.replicas <= 10 || self.tier == 'large'\"}],"
    "\"properties\":{"
    "\"image\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":256,"
    "\"pattern\":\"^[a-z0-9./:_-]+$\"},"
    "\"replicas\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100,"
    "\"default\":1},"
    "\"tier\":{\"type\":\"string\",\"enum\":[\"small\",\"medium\","
    "\"large\"],\"default\":\"small\"},"
    "\"cpu\":{\"x-kubernetes-int-or-string\":true},"
    "\"memory\":{\"x-kubernetes-int-or-string\":true},"
    "\"env\":{\"type\":\"array\",\"x-kubernetes-list-type\":\"map\","
    "\"x-kubernetes-list-map-keys\":[\"name\"],\"maxItems\":64,"
    "\"items\":{\"type\":\"object\",\"required\":[\"name\"],"
    "\"properties\":{\"name\":{\"type\":\"string\","
    "\"pattern\":\"^[A-Z_][A-Z0-9_]*$\"},\"value\":{\"type\":\"string\"}}}},"
    "\"ports\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"properties\":{\"name\":{\"type\":\"string\"},\"port\":{\"type\":"
    "\"integer\",\"minimum\":1,\"maximum\":65535},\"protocol\":{\"type\":"
    "\"string\",\"enum\":[\"TCP\",\"UDP\"],\"default\":\"TCP\"}}}},"
    "\"labels\":{\"type\":\"object\",\"additionalProperties\":{\"type\":"
    "\"string\",\"maxLength\":63}},"
    "\"broker\":{\"type\":\"object\",\"properties\":{\"url\":{\"type\":"
    "\"string\",\"format\":\"uri\"},\"plan\":{\"type\":\"string\"},"
    "\"params\":{\"type\":\"object\","
    "\"x-kubernetes-preserve-unknown-fields\":true}}}}},"
    "\"status\":{\"type\":\"object\",\"properties\":{\"phase\":{\"type\":"
    "\"string\"},\"observedGeneration\":{\"type\":\"integer\"}}}}}";

static const char *object_text =
    "{\"apiVersion\":\"dtk.example.com/v1\",\"kind\":\"Assembly\","
    "\"metadata\":{\"name\":\"web\",\"namespace\":\"default\","
    "\"labels\":{\"app\":\"web\"}},\"spec\":{"
    "\"image\":\"registry.example.com/team/web:1.2.3\",\"replicas\":3,"
    "\"tier\":\"medium\",\"cpu\":\"500m\",\"memory\":\"256Mi\","
    "\"env\":[{\"name\":\"MODE\",\"value\":\"production\"},"
    "{\"name\":\"LOG_LEVEL\",\"value\":\"info\"},"
    "{\"name\":\"FEATURE_X\",\"value\":\"on\"},"
    "{\"name\":\"REGION\",\"value\":\"eu-west-1\"},"
    "{\"name\":\"CACHE_SIZE\",\"value\":\"512\"},"
    "{\"name\":\"UPSTREAM_URL\",\"value\":\"http://api.internal:8080\"},"
    "{\"name\":\"TIMEOUT_SECONDS\",\"value\":\"30\"},"
    "{\"name\":\"RETRIES\",\"value\":\"5\"}],"
    "\"ports\":[{\"name\":\"http\",\"port\":8080},"
    "{\"name\":\"metrics\",\"port\":9090,\"protocol\":\"TCP\"}],"
    "\"labels\":{\"team\":\"platform\",\"cost-center\":\"42\","
    "\"tier\":\"frontend\",\"owner\":\"alice\",\"env\":\"prod\","
    "\"version\":\"1.2.3\"},\"broker\":{\"url\":\"https://broker.example.com"
    "/v2\",\"plan\":\"standard\",\"params\":{\"size\":\"m\",\"replicas\":2,"
    "\"backup\":{\"enabled\":true,\"schedule\":\"0 3 * * *\"}}},"
    "\"unknownField\":\"pruned\"}}";

static double now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

int main(void)
{
    dtk_json *schema = NULL;
    dtk_json *object = NULL;
    dtk_schema *s = NULL;
    dtk_fielderr_list errs = DTK_FIELDERR_LIST_INIT;
    const int n = 2000;
    double t0, t1;
    int rc = 1;

    if (dtk_json_parse(&schema, schema_text, strlen(schema_text)) < 0 ||
        dtk_json_parse(&object, object_text, strlen(object_text)) < 0) {
        fprintf(stderr, "bench_schema: bad fixture JSON\n");
        goto out;
    }
    t0 = now_us();
    for (int i = 0; i < 200; i++) {
        dtk_schema *tmp = NULL;

        if (dtk_schema_compile(&tmp, schema, "spec", &errs) < 0) {
            fprintf(stderr, "bench_schema: schema rejected: %s: %s\n",
                    errs.items[0].field, errs.items[0].message);
            goto out;
        }
        dtk_schema_free(tmp);
    }
    t1 = now_us();
    printf("schema_compile: %.1f us/op\n", (t1 - t0) / 200);
    if (dtk_schema_compile(&s, schema, "spec", &errs) < 0) {
        goto out;
    }
    printf("schema_object_size: %zu bytes\n", strlen(object_text));

    t0 = now_us();
    for (int i = 0; i < n; i++) {
        dtk_json *o = dtk_json_copy(object);

        dtk_schema_coerce(s, o, NULL);
        dtk_json_free(o);
    }
    t1 = now_us();
    printf("schema_coerce_1k: %.1f us/op\n", (t1 - t0) / n);

    dtk_schema_coerce(s, object, NULL);
    t0 = now_us();
    for (int i = 0; i < n; i++) {
        dtk_schema_validate(s, object, &errs);
        if (errs.len > 0) {
            fprintf(stderr, "bench_schema: unexpected error: %s: %s\n",
                    errs.items[0].field, errs.items[0].message);
            goto out;
        }
    }
    t1 = now_us();
    printf("schema_validate_1k: %.1f us/op\n", (t1 - t0) / n);

    t0 = now_us();
    for (int i = 0; i < n; i++) {
        dtk_schema_validate_update(s, object, object, &errs, NULL);
    }
    t1 = now_us();
    printf("schema_validate_update_1k: %.1f us/op\n", (t1 - t0) / n);
    rc = 0;
out:
    dtk_fielderr_list_dispose(&errs);
    dtk_schema_free(s);
    dtk_json_free(object);
    dtk_json_free(schema);
    return rc;
}

/* Kubeconfig loading: contexts, KUBECONFIG merge rules, relative paths,
 * *-data precedence, validation errors that name the field. Credentials are
 * checked where a user would see them: on the requests a stub API server
 * receives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/error.h"
#include "pkg/http/http.h"
#include "pkg/kube/kube.h"
#include "test/support/kube_stub.h"

typedef struct fixture {
    dtk_kstub *stub;
    char *dir;
} fixture;

static void echo(dtk_kstub *s,
                 dtk_httpserver_exchange *ex,
                 int hit,
                 void *payload)
{
    (void)s;
    (void)hit;
    (void)payload;
    dtk_kstub_configmap(ex, "echo");
}

static int setup(void **state)
{
    fixture *f = dtk_calloc(1, sizeof(*f));

    assert_int_equal(dtk_kstub_start(&f->stub, NULL, NULL, echo, NULL), 0);
    f->dir = dtk_kstub_tmpdir();
    assert_non_null(f->dir);
    unsetenv("KUBECONFIG");
    unsetenv("KUBERNETES_SERVICE_HOST");
    unsetenv("KUBERNETES_SERVICE_PORT");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    dtk_kstub_stop(f->stub);
    dtk_kstub_rmdir(f->dir);
    dtk_free(f);
    unsetenv("KUBECONFIG");
    return 0;
}

/* Writes a kubeconfig from a template where every "@SERVER@" becomes the
 * stub's URL. */
static char *write_kc(fixture *f, const char *name, const char *tmpl)
{
    dtk_buf text = DTK_BUF_INIT(0);
    char *path;

    for (const char *p = tmpl; *p;) {
        const char *at = strstr(p, "@SERVER@");

        if (at == NULL) {
            dtk_buf_puts(&text, p);
            break;
        }
        dtk_buf_put(&text, p, (size_t)(at - p));
        dtk_buf_puts(&text, f->stub->base);
        p = at + 8;
    }
    path = dtk_kstub_write(f->dir, name, dtk_buf_cstr(&text));
    dtk_buf_dispose(&text);
    assert_non_null(path);
    return path;
}

static int load_file(dtk_kube_config **cfg,
                     const char *path,
                     const char *context)
{
    dtk_kube_config_options o = DTK_KUBE_CONFIG_OPTIONS_INIT;

    o.kubeconfig = path;
    o.context = context;
    o.max_attempts = 1;
    return dtk_kube_config_load(cfg, &o);
}

/* The Authorization header the server saw for a GET made with cfg. */
static char *seen_auth(dtk_kube_config *cfg)
{
    static const char *const auth_path[] = {"data", "authorization", NULL};
    dtk_kube_client *c = NULL;
    dtk_json *obj = NULL;
    char *auth;

    assert_int_equal(dtk_kube_client_new(&c, cfg), 0);
    assert_int_equal(
        dtk_kube_get(&obj, c, &dtk_kube_gvr_configmaps, "default", "x", NULL),
        0);
    auth = dtk_strdup(dtk_json_string(dtk_json_path(obj, auth_path)));
    dtk_json_free(obj);
    dtk_kube_client_free(c);
    return auth;
}

static const char two_contexts[] =
    "apiVersion: v1\n"
    "kind: Config\n"
    "current-context: b\n"
    "clusters:\n"
    "- name: main\n"
    "  cluster:\n"
    "    server: @SERVER@/\n"
    "- name: other\n"
    "  cluster: {server: \"https://other.example:6443\"}\n"
    "users:\n"
    "- name: alice\n"
    "  user:\n"
    "    token: tok-alice\n"
    "- name: bob\n"
    "  user: {token: \"tok-bob\"}\n"
    "contexts:\n"
    "- name: a\n"
    "  context: {cluster: main, user: alice}\n"
    "- name: b\n"
    "  context:\n"
    "    cluster: main\n"
    "    user: bob\n"
    "    namespace: team-b\n"
    "- name: c\n"
    "  context: {cluster: other, user: alice, namespace: ~}\n";

static void test_kubeconfig__current_context_and_context_override(void **state)
{
    fixture *f = *state;
    char *path = write_kc(f, "config", two_contexts);
    dtk_kube_config *cfg = NULL;
    char *auth;
    char url[128];

    assert_int_equal(load_file(&cfg, path, NULL), 0);
    snprintf(url, sizeof(url), "%s", f->stub->base);
    assert_string_equal(dtk_kube_config_server(cfg), url);
    assert_string_equal(dtk_kube_config_context(cfg), "b");
    assert_string_equal(dtk_kube_config_namespace(cfg), "team-b");
    auth = seen_auth(cfg);
    assert_string_equal(auth, "Bearer tok-bob");
    dtk_free(auth);
    dtk_kube_config_free(cfg);

    assert_int_equal(load_file(&cfg, path, "a"), 0);
    assert_string_equal(dtk_kube_config_namespace(cfg), "default");
    auth = seen_auth(cfg);
    assert_string_equal(auth, "Bearer tok-alice");
    dtk_free(auth);
    dtk_kube_config_free(cfg);

    assert_int_equal(load_file(&cfg, path, "c"), 0);
    assert_string_equal(dtk_kube_config_server(cfg),
                        "https://other.example:6443");
    dtk_kube_config_free(cfg);

    assert_int_equal(load_file(&cfg, path, "nope"), DTK_ENOTFOUND);
    snprintf(url, sizeof(url), "kubeconfig %s: context 'nope' not found", path);
    assert_string_equal(dtk_error_last()->message, url);
    dtk_free(path);
}

static void test_kubeconfig__kubeconfig_list_first_file_wins(void **state)
{
    fixture *f = *state;
    char *first = write_kc(f, "first",
                           "current-context: one\n"
                           "clusters:\n"
                           "- name: main\n"
                           "  cluster: {server: \"@SERVER@\"}\n"
                           "users:\n"
                           "- name: shared\n"
                           "  user: {token: from-first}\n"
                           "contexts:\n"
                           "- name: one\n"
                           "  context: {cluster: main, user: shared}\n");
    char *second = write_kc(f, "second",
                            "current-context: two\n"
                            "clusters:\n"
                            "- name: main\n"
                            "  cluster: {server: \"https://ignored:1\"}\n"
                            "users:\n"
                            "- name: shared\n"
                            "  user: {token: from-second, username: x}\n"
                            "- name: extra\n"
                            "  user: {token: from-second-extra}\n"
                            "contexts:\n"
                            "- name: two\n"
                            "  context: {cluster: main, user: extra, "
                            "namespace: two-ns}\n");
    dtk_buf list = DTK_BUF_INIT(0);
    dtk_kube_config *cfg = NULL;
    char *auth;

    /* A missing file and an empty entry in the list are skipped. */
    dtk_buf_printf(&list, "%s/missing::%s:%s", f->dir, first, second);
    setenv("KUBECONFIG", dtk_buf_cstr(&list), 1);
    assert_int_equal(dtk_kube_config_load(&cfg, NULL), 0);
    /* current-context comes from the first file that sets it. */
    assert_string_equal(dtk_kube_config_context(cfg), "one");
    assert_string_equal(dtk_kube_config_server(cfg), f->stub->base);
    /* The whole "shared" user of the first file wins: the second file's
     * username would have made token+basic an error. */
    auth = seen_auth(cfg);
    assert_string_equal(auth, "Bearer from-first");
    dtk_free(auth);
    dtk_kube_config_free(cfg);

    /* A context of the second file uses the first file's "main" cluster. */
    {
        dtk_kube_config_options o = DTK_KUBE_CONFIG_OPTIONS_INIT;

        o.context = "two";
        assert_int_equal(dtk_kube_config_load(&cfg, &o), 0);
        assert_string_equal(dtk_kube_config_server(cfg), f->stub->base);
        assert_string_equal(dtk_kube_config_namespace(cfg), "two-ns");
        auth = seen_auth(cfg);
        assert_string_equal(auth, "Bearer from-second-extra");
        dtk_free(auth);
        dtk_kube_config_free(cfg);
    }

    /* Only missing files: not found. */
    dtk_buf_reset(&list);
    dtk_buf_printf(&list, "%s/a:%s/b", f->dir, f->dir);
    setenv("KUBECONFIG", dtk_buf_cstr(&list), 1);
    assert_int_equal(dtk_kube_config_load(&cfg, NULL), DTK_ENOTFOUND);
    assert_non_null(strstr(dtk_error_last()->message, "no such file"));
    dtk_buf_dispose(&list);
    dtk_free(first);
    dtk_free(second);
}

static void test_kubeconfig__explicit_missing_file_and_home_default(
    void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    char *missing = NULL;
    char want[600];
    char *home_kc;
    const char *old_home = getenv("HOME");
    char *saved_home = old_home ? dtk_strdup(old_home) : NULL;

    dtk_kube_config_options o = DTK_KUBE_CONFIG_OPTIONS_INIT;
    snprintf(want, sizeof(want), "%s/nope", f->dir);
    missing = dtk_strdup(want);
    o.kubeconfig = missing;
    assert_int_equal(dtk_kube_config_load(&cfg, &o), DTK_ENOTFOUND);
    snprintf(want, sizeof(want),
             "kubeconfig: cannot read '%s': No such file or directory",
             missing);
    assert_string_equal(dtk_error_last()->message, want);

    home_kc =
        write_kc(f, "home/.kube/config",
                 "current-context: h\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "contexts: [{name: h, context: {cluster: c}}]\n");
    snprintf(want, sizeof(want), "%s/home", f->dir);
    setenv("HOME", want, 1);
    assert_int_equal(dtk_kube_config_load(&cfg, NULL), 0);
    assert_string_equal(dtk_kube_config_context(cfg), "h");
    dtk_kube_config_free(cfg);
    if (saved_home != NULL) {
        setenv("HOME", saved_home, 1);
    } else {
        unsetenv("HOME");
    }
    dtk_free(saved_home);
    dtk_free(home_kc);
    dtk_free(missing);
}

static void test_kubeconfig__relative_paths_resolve_against_the_file(
    void **state)
{
    fixture *f = *state;
    char *ca = dtk_kstub_write(f->dir, "conf/sub/ca.pem",
                               "-----BEGIN CERTIFICATE-----\nMIIB\n"
                               "-----END CERTIFICATE-----\n");
    char *tok = dtk_kstub_write(f->dir, "conf/sub/token", "tok-from-file\n");
    char *path = write_kc(f, "conf/sub/config",
                          "current-context: x\n"
                          "clusters: [{name: c, cluster: {server: "
                          "\"@SERVER@\", certificate-authority: ca.pem}}]\n"
                          "users: [{name: u, user: {tokenFile: token}}]\n"
                          "contexts: [{name: x, context: {cluster: c, "
                          "user: u}}]\n");
    char *bad = write_kc(f, "conf/other/config",
                         "current-context: x\n"
                         "clusters: [{name: c, cluster: {server: "
                         "\"@SERVER@\", certificate-authority: "
                         "../sub/missing.pem}}]\n"
                         "contexts: [{name: x, context: {cluster: c}}]\n");
    dtk_kube_config *cfg = NULL;
    char want[700];
    char *auth;
    char cwd[512];

    /* Loading from another working directory. */
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(load_file(&cfg, path, NULL), 0);
    /* The CA is only used for https; the token file shows on requests. */
    auth = seen_auth(cfg);
    assert_string_equal(auth, "Bearer tok-from-file");
    dtk_free(auth);
    dtk_kube_config_free(cfg);

    assert_int_equal(load_file(&cfg, bad, NULL), DTK_EINVALID);
    snprintf(want, sizeof(want),
             "kubeconfig %s: clusters[0].cluster.certificate-authority: "
             "cannot read '%s/conf/other/../sub/missing.pem': No such file "
             "or directory",
             bad, f->dir);
    assert_string_equal(dtk_error_last()->message, want);
    assert_int_equal(chdir(cwd), 0);
    dtk_free(ca);
    dtk_free(tok);
    dtk_free(path);
    dtk_free(bad);
}

static char *b64(const char *s)
{
    dtk_buf b = DTK_BUF_INIT(0);

    assert_int_equal(dtk_b64_encode(&b, s, strlen(s)), 0);
    return dtk_buf_detach(&b);
}

static void test_kubeconfig__data_fields_override_paths(void **state)
{
    fixture *f = *state;
    char *cert = b64("-----BEGIN CERTIFICATE-----\nMIIB\n"
                     "-----END CERTIFICATE-----\n");
    char *key = b64("-----BEGIN PRIVATE KEY-----\nMIIE\n"
                    "-----END PRIVATE KEY-----\n");
    dtk_buf text = DTK_BUF_INIT(0);
    dtk_kube_config *cfg = NULL;
    char *path;

    /* The path forms point nowhere: the *-data forms must win and the
     * files must never be read. */
    dtk_buf_printf(&text,
                   "current-context: x\n"
                   "clusters:\n"
                   "- name: c\n"
                   "  cluster:\n"
                   "    server: \"@SERVER@\"\n"
                   "    certificate-authority: /nonexistent/ca.pem\n"
                   "    certificate-authority-data: %s\n"
                   "users:\n"
                   "- name: u\n"
                   "  user:\n"
                   "    client-certificate: /nonexistent/cert.pem\n"
                   "    client-certificate-data: %s\n"
                   "    client-key: /nonexistent/key.pem\n"
                   "    client-key-data: %s\n"
                   "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                   cert, cert, key);
    path = write_kc(f, "config", dtk_buf_cstr(&text));
    assert_int_equal(load_file(&cfg, path, NULL), 0);
    dtk_kube_config_free(cfg);
    dtk_buf_dispose(&text);
    dtk_free(cert);
    dtk_free(key);
    dtk_free(path);
}

static void expect_error(fixture *f,
                         const char *kc,
                         int code,
                         const char *field_and_problem)
{
    char *path = write_kc(f, "config", kc);
    dtk_kube_config *cfg = NULL;
    char want[800];

    assert_int_equal(load_file(&cfg, path, NULL), code);
    assert_null(cfg);
    snprintf(want, sizeof(want), "kubeconfig %s: %s", path, field_and_problem);
    assert_string_equal(dtk_error_last()->message, want);
    /* Secrets of the file never reach the message. */
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
    dtk_free(path);
}

static void test_kubeconfig__token_and_basic_together_is_an_error(void **state)
{
    expect_error(*state,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users: [{name: u, user: {token: s3cr3t-token, "
                 "username: admin, password: s3cr3t-pass}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[0].user: token and username/password cannot both "
                 "be set");
}

static void test_kubeconfig__exec_and_auth_provider_is_an_error(void **state)
{
    expect_error(*state,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users:\n"
                 "- name: u\n"
                 "  user:\n"
                 "    auth-provider: {name: oidc, config: {id-token: s3cr3t}}\n"
                 "    exec:\n"
                 "      apiVersion: client.authentication.k8s.io/v1\n"
                 "      command: get-token\n"
                 "      interactiveMode: Never\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[0].user: exec and auth-provider cannot both be set");
    expect_error(*state,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users:\n"
                 "- name: u\n"
                 "  user:\n"
                 "    auth-provider: {name: oidc, config: {id-token: s3cr3t}}\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[0].user.auth-provider: not supported (use an exec "
                 "credential plugin)");
}

static void test_kubeconfig__bad_field_is_named(void **state)
{
    fixture *f = *state;

    /* A bad base64 in a user that is not even used fails the file, as
     * client-go's decoder does. */
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users:\n"
                 "- name: u\n"
                 "  user: {token: t}\n"
                 "- name: broken\n"
                 "  user: {client-key-data: \"s3cr3t!!not-base64\"}\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[1].user.client-key-data: not valid base64");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\", "
                 "insecure-skip-tls-verify: maybe}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n",
                 DTK_EINVALID,
                 "clusters[0].cluster.insecure-skip-tls-verify: expected "
                 "true or false");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: [a, b]}}]\n",
                 DTK_EINVALID, "clusters[0].cluster.server: expected a string");
    expect_error(f, "users: {name: u}\n", DTK_EINVALID,
                 "users: expected a list");
    expect_error(f, "contexts: [{context: {cluster: c}}]\n", DTK_EINVALID,
                 "contexts[0].name: required");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n",
                 DTK_EINVALID, "clusters[0].cluster.server: required");
    expect_error(f,
                 "current-context: x\n"
                 "contexts: [{name: x, context: {cluster: gone}}]\n",
                 DTK_ENOTFOUND,
                 "contexts[0].context.cluster: cluster 'gone' not found");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: who}}]\n",
                 DTK_ENOTFOUND,
                 "contexts[0].context.user: user 'who' not found");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\", "
                 "insecure-skip-tls-verify: true, "
                 "certificate-authority: /ca.pem}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n",
                 DTK_EINVALID,
                 "clusters[0].cluster: insecure-skip-tls-verify cannot be "
                 "combined with certificate-authority");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\", "
                 "proxy-url: \"http://proxy:3128\"}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n",
                 DTK_EINVALID, "clusters[0].cluster.proxy-url: not supported");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users: [{name: u, user: {client-certificate-data: "
                 "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[0].user: client-key or client-key-data is required "
                 "with a client certificate");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users: [{name: u, user: {exec: {command: x, "
                 "apiVersion: client.authentication.k8s.io/v1}}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[0].user.exec.interactiveMode: required for "
                 "client.authentication.k8s.io/v1");
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: \"@SERVER@\"}}]\n"
                 "users: [{name: u, user: {exec: {command: x, "
                 "apiVersion: client.authentication.k8s.io/v1alpha1}}}]\n"
                 "contexts: [{name: x, context: {cluster: c, user: u}}]\n",
                 DTK_EINVALID,
                 "users[0].user.exec.apiVersion: "
                 "'client.authentication.k8s.io/v1alpha1' is not "
                 "client.authentication.k8s.io/v1 or v1beta1");
    expect_error(f, "clusters: [\n  {name: c\n", DTK_EINVALID,
                 "line 3 column 1: did not find expected ',' or '}'");
    expect_error(f, "current-context: x\n", DTK_ENOTFOUND,
                 "context 'x' not found");
    expect_error(f, "", DTK_ENOTFOUND, "current-context is not set");
}

static void test_kubeconfig__server_url_forms(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    char *path = write_kc(f, "config",
                          "current-context: x\n"
                          "clusters: [{name: c, cluster: {server: "
                          "\"kube.example:6443\"}}]\n"
                          "contexts: [{name: x, context: {cluster: c}}]\n");

    /* A bare host:port means https, like client-go. */
    assert_int_equal(load_file(&cfg, path, NULL), 0);
    assert_string_equal(dtk_kube_config_server(cfg),
                        "https://kube.example:6443");
    dtk_kube_config_free(cfg);
    dtk_free(path);
    /* Credentials in the URL are refused without being quoted. */
    expect_error(f,
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: "
                 "\"https://admin:s3cr3t@kube:6443\"}}]\n"
                 "contexts: [{name: x, context: {cluster: c}}]\n",
                 DTK_EINVALID,
                 "clusters[0].cluster: server: credentials in the URL are "
                 "not supported");
}

static void test_kubeconfig__basic_auth_and_impersonation_headers(void **state)
{
    fixture *f = *state;
    char *path =
        write_kc(f, "config",
                 "current-context: x\n"
                 "clusters: [{name: c, cluster: {server: "
                 "\"@SERVER@\"}}]\n"
                 "users: [{name: u, user: {username: admin, "
                 "password: \"p@ss word\", as: \"system:serviceaccount:"
                 "ns:robot\", as-groups: [devs]}}]\n"
                 "contexts: [{name: x, context: {cluster: c, "
                 "user: u}}]\n");
    dtk_kube_config *cfg = NULL;
    char *auth;
    char *want = b64("admin:p@ss word");
    char expected[128];

    assert_int_equal(load_file(&cfg, path, NULL), 0);
    auth = seen_auth(cfg);
    snprintf(expected, sizeof(expected), "Basic %s", want);
    assert_string_equal(auth, expected);
    assert_string_equal(f->stub->impersonate, "system:serviceaccount:ns:robot");
    assert_string_equal(f->stub->user_agent, "dtk-operator");
    dtk_free(auth);
    dtk_free(want);
    dtk_kube_config_free(cfg);
    dtk_free(path);
}

static void test_kubeconfig__yaml_aliases_and_json_form(void **state)
{
    fixture *f = *state;
    dtk_kube_config *cfg = NULL;
    char *auth;
    /* JSON is YAML: kubeconfigs written by tools sometimes are JSON. */
    char *json = write_kc(
        f, "config.json",
        "{\"current-context\":\"x\",\"clusters\":[{\"name\":\"c\","
        "\"cluster\":{\"server\":\"@SERVER@\",\"insecure-skip-tls-verify\":"
        "false}}],\"users\":[{\"name\":\"u\",\"user\":{\"token\":\"j\"}}],"
        "\"contexts\":[{\"name\":\"x\",\"context\":{\"cluster\":\"c\","
        "\"user\":\"u\"}}]}");
    char *alias = write_kc(f, "alias",
                           "current-context: x\n"
                           "clusters: [{name: c, cluster: &cl {server: "
                           "\"@SERVER@\"}}, {name: d, cluster: *cl}]\n"
                           "users: [{name: u, user: {token: al}}]\n"
                           "contexts: [{name: x, context: {cluster: d, "
                           "user: u}}]\n");

    assert_int_equal(load_file(&cfg, json, NULL), 0);
    auth = seen_auth(cfg);
    assert_string_equal(auth, "Bearer j");
    dtk_free(auth);
    dtk_kube_config_free(cfg);
    assert_int_equal(load_file(&cfg, alias, NULL), 0);
    assert_string_equal(dtk_kube_config_server(cfg), f->stub->base);
    dtk_kube_config_free(cfg);
    dtk_free(json);
    dtk_free(alias);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__current_context_and_context_override, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__kubeconfig_list_first_file_wins, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__explicit_missing_file_and_home_default, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__relative_paths_resolve_against_the_file, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__data_fields_override_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__token_and_basic_together_is_an_error, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__exec_and_auth_provider_is_an_error, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_kubeconfig__bad_field_is_named,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_kubeconfig__server_url_forms,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__basic_auth_and_impersonation_headers, setup,
            teardown),
        cmocka_unit_test_setup_teardown(
            test_kubeconfig__yaml_aliases_and_json_form, setup, teardown),
    };
    int rc;

    dtk_http_global_init();
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    dtk_http_global_cleanup();
    return rc;
}

/* Kubeconfig files (client-go tools/clientcmd semantics, see kube.h).
 *
 * Each file is parsed with libyaml's document API into a dtk_json tree
 * (scalars stay strings, plain null/~/empty become null; nesting depth and
 * the number of nodes are bounded, which also defuses alias bombs). Every
 * entry of every file is then decoded into a typed struct, so a malformed
 * field anywhere fails the load with its path, as client-go's decoder does
 * (for example a bad base64 in an unused user). Files are merged in
 * KUBECONFIG order: the first file to define a cluster, user or context
 * name wins the whole entry, and the first current-context wins. Only the
 * selected context, its cluster and its user are then validated for use
 * and turned into the dtk_kube_config; files they reference (CA,
 * certificates, keys, token files) are read at that point, into memory.
 *
 * Error messages: "kubeconfig <file>: <section>[<i>].<field>: <problem>",
 * never with a secret value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/error.h"
#include "pkg/kube/kube_int.h"

#define YAML_MAX_DEPTH 64
#define YAML_MAX_NODES 200000

/* ---- YAML -> dtk_json ---------------------------------------------- */

typedef struct yctx {
    const char *file;
    yaml_document_t *doc;
    size_t budget;
} yctx;

static int yaml_fail(const yctx *y, const yaml_node_t *node, const char *what)
{
    dtk_error_set(DTK_ERRCLASS_CONFIG, "kubeconfig %s: line %zu: %s", y->file,
                  node->start_mark.line + 1, what);
    return DTK_EINVALID;
}

static dtk_json *scalar_json(const yaml_node_t *node)
{
    const char *text = (const char *)node->data.scalar.value;
    size_t len = node->data.scalar.length;

    if (node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
        (len == 0 || strcmp(text, "~") == 0 || strcmp(text, "null") == 0 ||
         strcmp(text, "Null") == 0 || strcmp(text, "NULL") == 0)) {
        return dtk_json_new_null();
    }
    return dtk_json_new_stringn(text, len);
}

static int yaml_to_json(dtk_json **out, yctx *y, yaml_node_t *node, int depth)
{
    dtk_json *v = NULL;
    int error = 0;

    if (node == NULL) {
        *out = dtk_json_new_null();
        return 0;
    }
    if (depth > YAML_MAX_DEPTH) {
        return yaml_fail(y, node, "nested too deeply");
    }
    if (y->budget == 0) {
        return yaml_fail(y, node, "too many nodes (aliases expanded)");
    }
    y->budget--;
    switch (node->type) {
    case YAML_SCALAR_NODE:
        *out = scalar_json(node);
        return 0;
    case YAML_SEQUENCE_NODE:
        v = dtk_json_new_array();
        for (yaml_node_item_t *it = node->data.sequence.items.start;
             it < node->data.sequence.items.top && error == 0; it++) {
            dtk_json *item = NULL;

            error = yaml_to_json(&item, y, yaml_document_get_node(y->doc, *it),
                                 depth + 1);
            if (error == 0) {
                dtk_json_append(v, item);
            }
        }
        break;
    case YAML_MAPPING_NODE:
        v = dtk_json_new_object();
        for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
             p < node->data.mapping.pairs.top && error == 0; p++) {
            yaml_node_t *k = yaml_document_get_node(y->doc, p->key);
            dtk_json *value = NULL;
            char *key;

            if (k == NULL || k->type != YAML_SCALAR_NODE) {
                error = yaml_fail(y, node, "mapping keys must be scalars");
                break;
            }
            key = dtk_strndup((const char *)k->data.scalar.value,
                              k->data.scalar.length);
            if (dtk_json_get(v, key) != NULL) {
                dtk_error_set(DTK_ERRCLASS_CONFIG,
                              "kubeconfig %s: line %zu: duplicate key '%s'",
                              y->file, k->start_mark.line + 1, key);
                dtk_free(key);
                error = DTK_EINVALID;
                break;
            }
            error = yaml_to_json(
                &value, y, yaml_document_get_node(y->doc, p->value), depth + 1);
            if (error == 0) {
                dtk_json_set(v, key, value);
            }
            dtk_free(key);
        }
        break;
    default:
        return yaml_fail(y, node, "unsupported YAML node");
    }
    if (error < 0) {
        dtk_json_free(v);
        return error;
    }
    *out = v;
    return 0;
}

/* Parses one file. An empty file is an empty configuration. */
static int parse_file(dtk_json **out, const char *file)
{
    dtk_buf text = DTK_BUF_INIT(DTK_KUBE__FILE_LIMIT);
    yaml_parser_t parser;
    yaml_document_t doc;
    int parser_ready = 0;
    int doc_ready = 0;
    yctx y;
    dtk_json *root = NULL;
    int error;

    error = dtk_kube__read_file(&text, file, DTK_KUBE__FILE_LIMIT);
    if (error < 0) {
        dtk_error_prefix("kubeconfig");
        goto out;
    }
    if (!yaml_parser_initialize(&parser)) {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "cannot initialise libyaml");
        error = DTK_ERROR;
        goto out;
    }
    parser_ready = 1;
    yaml_parser_set_input_string(
        &parser, (const unsigned char *)dtk_buf_cstr(&text), text.len);
    if (!yaml_parser_load(&parser, &doc)) {
        /* libyaml's problem strings are constant text, never input. */
        dtk_error_set(
            DTK_ERRCLASS_CONFIG, "kubeconfig %s: line %zu column %zu: %s", file,
            parser.problem_mark.line + 1, parser.problem_mark.column + 1,
            parser.problem ? parser.problem : "invalid YAML");
        error = DTK_EINVALID;
        goto out;
    }
    doc_ready = 1;
    y.file = file;
    y.doc = &doc;
    y.budget = YAML_MAX_NODES;
    if (yaml_document_get_root_node(&doc) == NULL) {
        root = dtk_json_new_object();
    } else {
        error = yaml_to_json(&root, &y, yaml_document_get_root_node(&doc), 0);
        if (error < 0) {
            goto out;
        }
    }
    if (root->type == DTK_JSON_NULL) {
        dtk_json_free(root);
        root = dtk_json_new_object();
    }
    if (root->type != DTK_JSON_OBJECT) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "kubeconfig %s: expected a mapping at the top level",
                      file);
        error = DTK_EINVALID;
        goto out;
    }
    *out = root;
    root = NULL;
out:
    dtk_json_free(root);
    if (doc_ready) {
        yaml_document_delete(&doc);
    }
    if (parser_ready) {
        yaml_parser_delete(&parser);
    }
    if (text.ptr != NULL) {
        memset(text.ptr, 0, text.len); /* it holds credentials */
    }
    dtk_buf_dispose(&text);
    return error;
}

/* ---- Typed entries ---------------------------------------------------- */

typedef struct kc_loc {
    const char *file;
    const char *section; /* "clusters", "users", "contexts" */
    size_t index;
    const char *dir; /* for relative paths */
} kc_loc;

static int kc_fail(int code,
                   const kc_loc *loc,
                   const char *field,
                   const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));

static int kc_fail(
    int code, const kc_loc *loc, const char *field, const char *fmt, ...)
{
    dtk_buf what = DTK_BUF_INIT(0);
    va_list ap;

    va_start(ap, fmt);
    /* dtk_error_set bounds the final message. */
    (void)dtk_buf_vprintf(&what, fmt, ap);
    va_end(ap);
    if (field != NULL) {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "kubeconfig %s: %s[%zu].%s: %s",
                      loc->file, loc->section, loc->index, field,
                      dtk_buf_cstr(&what));
    } else {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "kubeconfig %s: %s[%zu]: %s",
                      loc->file, loc->section, loc->index, dtk_buf_cstr(&what));
    }
    dtk_buf_dispose(&what);
    return code;
}

/* Field paths are made of constant names and indexes, so they always fit;
 * a truncation would be a programming error. */
static const char *field_path(char *out, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *field_path(char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(out, size, fmt, ap);
    va_end(ap);
    dtk_assert(n >= 0 && (size_t)n < size);
    return out;
}

/* field: the path below the entry, e.g. "user.client-key-data". */
static int get_str(char **out,
                   const dtk_json *obj,
                   const char *key,
                   const kc_loc *loc,
                   const char *prefix)
{
    const dtk_json *v = dtk_json_get(obj, key);
    char field[128];

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_STRING) {
        field_path(field, sizeof(field), "%s.%s", prefix, key);
        return kc_fail(DTK_EINVALID, loc, field, "expected a string");
    }
    if (v->u.string.len > 0) {
        *out = dtk_strndup(v->u.string.ptr, v->u.string.len);
    }
    return 0;
}

static int get_bool(int *out,
                    const dtk_json *obj,
                    const char *key,
                    const kc_loc *loc,
                    const char *prefix)
{
    static const char *const yes[] = {"true", "True", "TRUE", "yes",
                                      "Yes",  "YES",  "on",   "On"};
    static const char *const no[] = {"false", "False", "FALSE", "no",
                                     "No",    "NO",    "off",   "Off"};
    const char *s = dtk_json_string(dtk_json_get(obj, key));
    char field[128];

    if (dtk_json_get(obj, key) == NULL ||
        dtk_json_get(obj, key)->type == DTK_JSON_NULL) {
        return 0;
    }
    for (size_t i = 0; s != NULL && i < sizeof(yes) / sizeof(*yes); i++) {
        if (strcmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    field_path(field, sizeof(field), "%s.%s", prefix, key);
    return kc_fail(DTK_EINVALID, loc, field, "expected true or false");
}

/* A *-data field: base64 of PEM text. */
static int get_data(char **out,
                    const dtk_json *obj,
                    const char *key,
                    const kc_loc *loc,
                    const char *prefix)
{
    char *text = NULL;
    dtk_buf bytes = DTK_BUF_INIT(DTK_KUBE__FILE_LIMIT);
    char field[128];
    int error = get_str(&text, obj, key, loc, prefix);

    if (error < 0 || text == NULL) {
        return error;
    }
    field_path(field, sizeof(field), "%s.%s", prefix, key);
    if (dtk_b64_decode(&bytes, text, strlen(text)) < 0) {
        error = kc_fail(DTK_EINVALID, loc, field, "not valid base64");
    } else if (memchr(dtk_buf_cstr(&bytes), '\0', bytes.len) != NULL) {
        error = kc_fail(DTK_EINVALID, loc, field, "not PEM text");
    } else {
        *out = dtk_buf_detach(&bytes);
    }
    dtk_kube__free_secret(text);
    if (bytes.ptr != NULL) {
        memset(bytes.ptr, 0, bytes.len);
    }
    dtk_buf_dispose(&bytes);
    return error;
}

static char *resolve(const char *dir, const char *path)
{
    dtk_buf b = DTK_BUF_INIT(0);

    if (path[0] == '/' || dir == NULL) {
        return dtk_strdup(path);
    }
    if (dtk_buf_printf(&b, "%s/%s", dir, path) < 0) {
        dtk_buf_dispose(&b);
        return dtk_strdup(path);
    }
    return dtk_buf_detach(&b);
}

static int get_path(char **out,
                    const dtk_json *obj,
                    const char *key,
                    const kc_loc *loc,
                    const char *prefix)
{
    char *raw = NULL;
    int error = get_str(&raw, obj, key, loc, prefix);

    if (error == 0 && raw != NULL) {
        *out = resolve(loc->dir, raw);
    }
    dtk_free(raw);
    return error;
}

static int get_list(char ***out,
                    size_t *count,
                    const dtk_json *obj,
                    const char *key,
                    const kc_loc *loc,
                    const char *prefix)
{
    const dtk_json *v = dtk_json_get(obj, key);
    char field[128];

    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_ARRAY) {
        field_path(field, sizeof(field), "%s.%s", prefix, key);
        return kc_fail(DTK_EINVALID, loc, field, "expected a list");
    }
    *out = dtk_calloc(dtk_json_len(v) + 1, sizeof(char *));
    for (size_t i = 0; i < dtk_json_len(v); i++) {
        const char *s = dtk_json_string(dtk_json_at(v, i));

        if (s == NULL) {
            field_path(field, sizeof(field), "%s.%s[%zu]", prefix, key, i);
            return kc_fail(DTK_EINVALID, loc, field, "expected a string");
        }
        (*out)[i] = dtk_strdup(s);
        *count = i + 1;
    }
    return 0;
}

static void free_list(char **list, size_t n, int secret)
{
    for (size_t i = 0; i < n; i++) {
        if (secret) {
            dtk_kube__free_secret(list[i]);
        } else {
            dtk_free(list[i]);
        }
    }
    dtk_free(list);
}

typedef struct kc_cluster {
    char *name;
    kc_loc loc;
    char *server;
    char *tls_server_name;
    char *ca_file;
    char *ca_data;
    char *proxy_url;
    int insecure;
    dtk_json *exec_config; /* extensions: client.authentication.k8s.io/exec */
} kc_cluster;

typedef struct kc_exec {
    char *command;
    char **args;
    size_t arg_count;
    char **env; /* NAME=value */
    size_t env_count;
    char *api_version;
    char *install_hint;
    char *interactive_mode;
    int provide_cluster_info;
} kc_exec;

typedef struct kc_user {
    char *name;
    kc_loc loc;
    char *cert_file;
    char *cert_data;
    char *key_file;
    char *key_data;
    char *token;
    char *token_file;
    char *username;
    char *password;
    char *as;
    char *as_uid;
    char **as_groups;
    size_t as_group_count;
    int has_auth_provider;
    kc_exec *exec;
} kc_user;

typedef struct kc_context {
    char *name;
    kc_loc loc;
    char *cluster;
    char *user;
    char *namespace;
} kc_context;

static void cluster_free(kc_cluster *c)
{
    if (c == NULL) {
        return;
    }
    dtk_free(c->name);
    dtk_free(c->server);
    dtk_free(c->tls_server_name);
    dtk_free(c->ca_file);
    dtk_free(c->ca_data);
    dtk_free(c->proxy_url);
    dtk_json_free(c->exec_config);
    dtk_free(c);
}

static void exec_conf_free(kc_exec *e)
{
    if (e == NULL) {
        return;
    }
    dtk_free(e->command);
    free_list(e->args, e->arg_count, 0);
    free_list(e->env, e->env_count, 1);
    dtk_free(e->api_version);
    dtk_free(e->install_hint);
    dtk_free(e->interactive_mode);
    dtk_free(e);
}

static void user_free(kc_user *u)
{
    if (u == NULL) {
        return;
    }
    dtk_free(u->name);
    dtk_free(u->cert_file);
    dtk_free(u->cert_data);
    dtk_free(u->key_file);
    dtk_kube__free_secret(u->key_data);
    dtk_kube__free_secret(u->token);
    dtk_free(u->token_file);
    dtk_free(u->username);
    dtk_kube__free_secret(u->password);
    dtk_free(u->as);
    dtk_free(u->as_uid);
    free_list(u->as_groups, u->as_group_count, 0);
    exec_conf_free(u->exec);
    dtk_free(u);
}

static void context_free(kc_context *c)
{
    if (c == NULL) {
        return;
    }
    dtk_free(c->name);
    dtk_free(c->cluster);
    dtk_free(c->user);
    dtk_free(c->namespace);
    dtk_free(c);
}

static int decode_cluster(kc_cluster *c, const dtk_json *body)
{
    const kc_loc *loc = &c->loc;
    const char *p = "cluster";
    const dtk_json *ext;
    int error = 0;

    if (error == 0) {
        error = get_str(&c->server, body, "server", loc, p);
    }
    if (error == 0) {
        error = get_str(&c->tls_server_name, body, "tls-server-name", loc, p);
    }
    if (error == 0) {
        error =
            get_bool(&c->insecure, body, "insecure-skip-tls-verify", loc, p);
    }
    if (error == 0) {
        error = get_path(&c->ca_file, body, "certificate-authority", loc, p);
    }
    if (error == 0) {
        error =
            get_data(&c->ca_data, body, "certificate-authority-data", loc, p);
    }
    if (error == 0) {
        error = get_str(&c->proxy_url, body, "proxy-url", loc, p);
    }
    ext = dtk_json_get(body, "extensions");
    for (size_t i = 0; error == 0 && ext != NULL &&
                       ext->type == DTK_JSON_ARRAY && i < dtk_json_len(ext);
         i++) {
        const dtk_json *e = dtk_json_at(ext, i);
        const char *name = dtk_json_get_string(e, "name");

        if (name != NULL &&
            strcmp(name, "client.authentication.k8s.io/exec") == 0 &&
            dtk_json_get(e, "extension") != NULL && c->exec_config == NULL) {
            c->exec_config = dtk_json_copy(dtk_json_get(e, "extension"));
        }
    }
    return error;
}

static int decode_exec(kc_exec **out, const dtk_json *body, const kc_loc *loc)
{
    const char *p = "user.exec";
    kc_exec *e = dtk_calloc(1, sizeof(*e));
    const dtk_json *env;
    int error = 0;

    if (body->type != DTK_JSON_OBJECT) {
        error = kc_fail(DTK_EINVALID, loc, p, "expected a mapping");
        goto out;
    }
    error = get_path(&e->command, body, "command", loc, p);
    if (error == 0 && e->command != NULL &&
        strchr(dtk_json_get_string(body, "command"), '/') == NULL) {
        /* A bare command name is looked up in PATH, not resolved. */
        dtk_free(e->command);
        e->command = dtk_strdup(dtk_json_get_string(body, "command"));
    }
    if (error == 0) {
        error = get_list(&e->args, &e->arg_count, body, "args", loc, p);
    }
    if (error == 0) {
        error = get_str(&e->api_version, body, "apiVersion", loc, p);
    }
    if (error == 0) {
        error = get_str(&e->install_hint, body, "installHint", loc, p);
    }
    if (error == 0) {
        error = get_str(&e->interactive_mode, body, "interactiveMode", loc, p);
    }
    if (error == 0) {
        error = get_bool(&e->provide_cluster_info, body, "provideClusterInfo",
                         loc, p);
    }
    env = dtk_json_get(body, "env");
    if (error == 0 && env != NULL && env->type != DTK_JSON_NULL) {
        if (env->type != DTK_JSON_ARRAY) {
            error =
                kc_fail(DTK_EINVALID, loc, "user.exec.env", "expected a list");
            goto out;
        }
        e->env = dtk_calloc(dtk_json_len(env) + 1, sizeof(char *));
        for (size_t i = 0; i < dtk_json_len(env) && error == 0; i++) {
            const dtk_json *item = dtk_json_at(env, i);
            const char *name = dtk_json_get_string(item, "name");
            const char *value = dtk_json_get_string(item, "value");
            char field[64];
            dtk_buf kv = DTK_BUF_INIT(0);

            field_path(field, sizeof(field), "user.exec.env[%zu]", i);
            if (name == NULL || name[0] == '\0' || strchr(name, '=')) {
                error = kc_fail(DTK_EINVALID, loc, field,
                                "name: required, without '='");
                break;
            }
            if (dtk_buf_printf(&kv, "%s=%s", name, value ? value : "") < 0) {
                dtk_buf_dispose(&kv);
                error = kc_fail(DTK_ETOOBIG, loc, field, "too long");
                break;
            }
            e->env[i] = dtk_buf_detach(&kv);
            e->env_count = i + 1;
        }
    }
out:
    if (error < 0) {
        exec_conf_free(e);
        return error;
    }
    *out = e;
    return 0;
}

static int decode_user(kc_user *u, const dtk_json *body)
{
    const kc_loc *loc = &u->loc;
    const char *p = "user";
    const dtk_json *v;
    int error = 0;

    error = get_path(&u->cert_file, body, "client-certificate", loc, p);
    if (error == 0) {
        error =
            get_data(&u->cert_data, body, "client-certificate-data", loc, p);
    }
    if (error == 0) {
        error = get_path(&u->key_file, body, "client-key", loc, p);
    }
    if (error == 0) {
        error = get_data(&u->key_data, body, "client-key-data", loc, p);
    }
    if (error == 0) {
        error = get_str(&u->token, body, "token", loc, p);
    }
    if (error == 0) {
        error = get_path(&u->token_file, body, "tokenFile", loc, p);
    }
    if (error == 0) {
        error = get_str(&u->username, body, "username", loc, p);
    }
    if (error == 0) {
        error = get_str(&u->password, body, "password", loc, p);
    }
    if (error == 0) {
        error = get_str(&u->as, body, "as", loc, p);
    }
    if (error == 0) {
        error = get_str(&u->as_uid, body, "as-uid", loc, p);
    }
    if (error == 0) {
        error = get_list(&u->as_groups, &u->as_group_count, body, "as-groups",
                         loc, p);
    }
    v = dtk_json_get(body, "auth-provider");
    u->has_auth_provider = v != NULL && v->type != DTK_JSON_NULL;
    v = dtk_json_get(body, "exec");
    if (error == 0 && v != NULL && v->type != DTK_JSON_NULL) {
        error = decode_exec(&u->exec, v, loc);
    }
    return error;
}

static int decode_context(kc_context *c, const dtk_json *body)
{
    int error = get_str(&c->cluster, body, "cluster", &c->loc, "context");

    if (error == 0) {
        error = get_str(&c->user, body, "user", &c->loc, "context");
    }
    if (error == 0) {
        error = get_str(&c->namespace, body, "namespace", &c->loc, "context");
    }
    return error;
}

/* ---- Merging ---------------------------------------------------------- */

typedef struct kc_set {
    kc_cluster **clusters;
    size_t cluster_count;
    kc_user **users;
    size_t user_count;
    kc_context **contexts;
    size_t context_count;
    char *current_context;
    char **files; /* owned copies of the file names, for kc_loc */
    size_t file_count;
} kc_set;

static void set_dispose(kc_set *s)
{
    for (size_t i = 0; i < s->cluster_count; i++) {
        cluster_free(s->clusters[i]);
    }
    for (size_t i = 0; i < s->user_count; i++) {
        user_free(s->users[i]);
    }
    for (size_t i = 0; i < s->context_count; i++) {
        context_free(s->contexts[i]);
    }
    dtk_free(s->clusters);
    dtk_free(s->users);
    dtk_free(s->contexts);
    dtk_free(s->current_context);
    free_list(s->files, s->file_count, 0);
    memset(s, 0, sizeof(*s));
}

/* The name of an entry (borrowed from it) and its body, or NULL with an
 * error naming the entry. */
static const char *entry_name(const dtk_json **body_out,
                              const dtk_json *entry,
                              const kc_loc *loc,
                              const char *body_key)
{
    const dtk_json *name;
    const dtk_json *body;

    if (entry->type != DTK_JSON_OBJECT) {
        kc_fail(DTK_EINVALID, loc, NULL, "expected a mapping");
        return NULL;
    }
    name = dtk_json_get(entry, "name");
    if (name == NULL || name->type != DTK_JSON_STRING ||
        name->u.string.ptr == NULL || name->u.string.len == 0) {
        kc_fail(DTK_EINVALID, loc, "name",
                name == NULL ? "required" : "expected a string");
        return NULL;
    }
    body = dtk_json_get(entry, body_key);
    if (body != NULL && body->type != DTK_JSON_OBJECT &&
        body->type != DTK_JSON_NULL) {
        kc_fail(DTK_EINVALID, loc, body_key, "expected a mapping");
        return NULL;
    }
    *body_out = body;
    return name->u.string.ptr;
}

static int section(const dtk_json **out,
                   const dtk_json *root,
                   const char *key,
                   const char *file)
{
    const dtk_json *v = dtk_json_get(root, key);

    *out = NULL;
    if (v == NULL || v->type == DTK_JSON_NULL) {
        return 0;
    }
    if (v->type != DTK_JSON_ARRAY) {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "kubeconfig %s: %s: expected a list",
                      file, key);
        return DTK_EINVALID;
    }
    *out = v;
    return 0;
}

static const kc_cluster *find_cluster(const kc_set *s, const char *name)
{
    for (size_t i = 0; i < s->cluster_count; i++) {
        if (strcmp(s->clusters[i]->name, name) == 0) {
            return s->clusters[i];
        }
    }
    return NULL;
}

static const kc_user *find_user(const kc_set *s, const char *name)
{
    for (size_t i = 0; i < s->user_count; i++) {
        if (strcmp(s->users[i]->name, name) == 0) {
            return s->users[i];
        }
    }
    return NULL;
}

static const kc_context *find_context(const kc_set *s, const char *name)
{
    for (size_t i = 0; i < s->context_count; i++) {
        if (strcmp(s->contexts[i]->name, name) == 0) {
            return s->contexts[i];
        }
    }
    return NULL;
}

static char *dir_of(const char *file)
{
    const char *slash = strrchr(file, '/');

    if (slash == NULL) {
        return dtk_strdup(".");
    }
    if (slash == file) {
        return dtk_strdup("/");
    }
    return dtk_strndup(file, (size_t)(slash - file));
}

static int merge_file(kc_set *s, const char *file, const dtk_json *root)
{
    const dtk_json *list;
    const char *fname;
    char *dir = dir_of(file);
    const dtk_json *cc;
    int error = 0;

    s->files = dtk_realloc(s->files, (s->file_count + 1) * sizeof(char *));
    s->files[s->file_count++] = dtk_strdup(file);
    fname = s->files[s->file_count - 1];

    cc = dtk_json_get(root, "current-context");
    if (cc != NULL && cc->type != DTK_JSON_NULL &&
        cc->type != DTK_JSON_STRING) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "kubeconfig %s: current-context: expected a string",
                      file);
        error = DTK_EINVALID;
        goto out;
    }
    if (s->current_context == NULL && cc != NULL &&
        cc->type == DTK_JSON_STRING && cc->u.string.len > 0) {
        s->current_context = dtk_strdup(cc->u.string.ptr);
    }

    error = section(&list, root, "clusters", file);
    for (size_t i = 0; error == 0 && list && i < dtk_json_len(list); i++) {
        kc_loc loc = {fname, "clusters", i, dir};
        const char *name = NULL;
        const dtk_json *body = NULL;
        kc_cluster *c;

        name = entry_name(&body, dtk_json_at(list, i), &loc, "cluster");
        if (name == NULL) {
            error = DTK_EINVALID;
            break;
        }
        c = dtk_calloc(1, sizeof(*c));
        c->name = dtk_strdup(name);
        c->loc = loc;
        error = body ? decode_cluster(c, body) : 0;
        c->loc.dir = NULL; /* freed below; paths are resolved by now */
        if (error < 0 || find_cluster(s, name) != NULL) {
            cluster_free(c);
            continue;
        }
        s->clusters = dtk_realloc(s->clusters, (s->cluster_count + 1) *
                                                   sizeof(kc_cluster *));
        s->clusters[s->cluster_count++] = c;
    }
    if (error == 0) {
        error = section(&list, root, "users", file);
    }
    for (size_t i = 0; error == 0 && list && i < dtk_json_len(list); i++) {
        kc_loc loc = {fname, "users", i, dir};
        const char *name = NULL;
        const dtk_json *body = NULL;
        kc_user *u;

        name = entry_name(&body, dtk_json_at(list, i), &loc, "user");
        if (name == NULL) {
            error = DTK_EINVALID;
            break;
        }
        u = dtk_calloc(1, sizeof(*u));
        u->name = dtk_strdup(name);
        u->loc = loc;
        error = body ? decode_user(u, body) : 0;
        u->loc.dir = NULL;
        if (error < 0 || find_user(s, name) != NULL) {
            user_free(u);
            continue;
        }
        s->users =
            dtk_realloc(s->users, (s->user_count + 1) * sizeof(kc_user *));
        s->users[s->user_count++] = u;
    }
    if (error == 0) {
        error = section(&list, root, "contexts", file);
    }
    for (size_t i = 0; error == 0 && list && i < dtk_json_len(list); i++) {
        kc_loc loc = {fname, "contexts", i, dir};
        const char *name = NULL;
        const dtk_json *body = NULL;
        kc_context *c;

        name = entry_name(&body, dtk_json_at(list, i), &loc, "context");
        if (name == NULL) {
            error = DTK_EINVALID;
            break;
        }
        c = dtk_calloc(1, sizeof(*c));
        c->name = dtk_strdup(name);
        c->loc = loc;
        error = body ? decode_context(c, body) : 0;
        c->loc.dir = NULL;
        if (error < 0 || find_context(s, name) != NULL) {
            context_free(c);
            continue;
        }
        s->contexts = dtk_realloc(s->contexts, (s->context_count + 1) *
                                                   sizeof(kc_context *));
        s->contexts[s->context_count++] = c;
    }
out:
    dtk_free(dir);
    return error;
}

/* ---- Building the configuration from the selected context ------------- */

static int is_pem(const char *text, const char *marker)
{
    return text != NULL && strstr(text, "-----BEGIN ") != NULL &&
           strstr(text, marker) != NULL;
}

/* Reads a file referenced by field into *out, naming the field on error. */
static int read_ref(char **out,
                    const char *path,
                    const kc_loc *loc,
                    const char *field)
{
    dtk_buf b = DTK_BUF_INIT(DTK_KUBE__FILE_LIMIT);
    int error = dtk_kube__read_file(&b, path, DTK_KUBE__FILE_LIMIT);

    if (error < 0) {
        char msg[DTK_ERROR_MESSAGE_MAX];

        memcpy(msg, dtk_error_last()->message, sizeof(msg));
        dtk_buf_dispose(&b);
        return kc_fail(DTK_EINVALID, loc, field, "%s", msg);
    }
    *out = dtk_buf_detach(&b);
    return 0;
}

static int use_cluster(dtk_kube_config *cfg, const kc_cluster *c)
{
    const kc_loc *loc = &c->loc;
    int error;

    if (c->server == NULL) {
        return kc_fail(DTK_EINVALID, loc, "cluster.server", "required");
    }
    error = dtk_kube__config_set_server(cfg, c->server);
    if (error < 0) {
        char msg[DTK_ERROR_MESSAGE_MAX];

        memcpy(msg, dtk_error_last()->message, sizeof(msg));
        /* msg starts with "server...": name the full path. */
        return kc_fail(DTK_EINVALID, loc, "cluster", "%s", msg);
    }
    if (c->proxy_url != NULL) {
        return kc_fail(DTK_EINVALID, loc, "cluster.proxy-url", "not supported");
    }
    if (c->insecure && (c->ca_data != NULL || c->ca_file != NULL)) {
        return kc_fail(DTK_EINVALID, loc, "cluster",
                       "insecure-skip-tls-verify cannot be combined with "
                       "certificate-authority");
    }
    if (c->ca_data != NULL) {
        cfg->ca_pem = dtk_strdup(c->ca_data);
        if (!is_pem(cfg->ca_pem, "CERTIFICATE-----")) {
            return kc_fail(DTK_EINVALID, loc,
                           "cluster.certificate-authority-data",
                           "not a PEM certificate");
        }
    } else if (c->ca_file != NULL) {
        error = read_ref(&cfg->ca_pem, c->ca_file, loc,
                         "cluster.certificate-authority");
        if (error < 0) {
            return error;
        }
        if (!is_pem(cfg->ca_pem, "CERTIFICATE-----")) {
            return kc_fail(DTK_EINVALID, loc, "cluster.certificate-authority",
                           "'%s' is not a PEM certificate", c->ca_file);
        }
    }
    cfg->insecure = c->insecure;
    cfg->tls_server_name = dtk_strdup(c->tls_server_name);
    return 0;
}

static int use_client_cert(dtk_kube_config *cfg, const kc_user *u)
{
    const kc_loc *loc = &u->loc;
    int has_cert = u->cert_data != NULL || u->cert_file != NULL;
    int has_key = u->key_data != NULL || u->key_file != NULL;
    int error = 0;

    if (!has_cert && !has_key) {
        return 0;
    }
    if (!has_key) {
        return kc_fail(DTK_EINVALID, loc, "user",
                       "client-key or client-key-data is required with a "
                       "client certificate");
    }
    if (!has_cert) {
        return kc_fail(DTK_EINVALID, loc, "user",
                       "client-certificate or client-certificate-data is "
                       "required with a client key");
    }
    if (u->cert_data != NULL) {
        cfg->cert_pem = dtk_strdup(u->cert_data);
    } else {
        error = read_ref(&cfg->cert_pem, u->cert_file, loc,
                         "user.client-certificate");
    }
    if (error == 0 && !is_pem(cfg->cert_pem, "CERTIFICATE-----")) {
        error = kc_fail(DTK_EINVALID, loc,
                        u->cert_data ? "user.client-certificate-data"
                                     : "user.client-certificate",
                        "not a PEM certificate");
    }
    if (error == 0 && u->key_data != NULL) {
        cfg->key_pem = dtk_strdup(u->key_data);
    } else if (error == 0) {
        error = read_ref(&cfg->key_pem, u->key_file, loc, "user.client-key");
    }
    if (error == 0 && !is_pem(cfg->key_pem, "PRIVATE KEY-----")) {
        error =
            kc_fail(DTK_EINVALID, loc,
                    u->key_data ? "user.client-key-data" : "user.client-key",
                    "not a PEM private key");
    }
    return error;
}

static char *exec_info_json(const kc_exec *e,
                            const kc_cluster *c,
                            const dtk_kube_config *cfg)
{
    dtk_json *info = dtk_json_new_object();
    dtk_json *spec = dtk_json_new_object();
    char *text;

    dtk_json_set(info, "apiVersion", dtk_json_new_string(e->api_version));
    dtk_json_set(info, "kind", dtk_json_new_string("ExecCredential"));
    dtk_json_set(spec, "interactive", dtk_json_new_bool(0));
    if (e->provide_cluster_info) {
        dtk_json *cl = dtk_json_new_object();

        dtk_json_set(cl, "server", dtk_json_new_string(cfg->server));
        if (c->tls_server_name != NULL) {
            dtk_json_set(cl, "tls-server-name",
                         dtk_json_new_string(c->tls_server_name));
        }
        if (c->insecure) {
            dtk_json_set(cl, "insecure-skip-tls-verify", dtk_json_new_bool(1));
        }
        if (cfg->ca_pem != NULL) {
            dtk_buf b64 = DTK_BUF_INIT(0);

            if (dtk_b64_encode(&b64, cfg->ca_pem, strlen(cfg->ca_pem)) == 0) {
                dtk_json_set(cl, "certificate-authority-data",
                             dtk_json_new_string(dtk_buf_cstr(&b64)));
            }
            dtk_buf_dispose(&b64);
        }
        if (c->exec_config != NULL) {
            dtk_json_set(cl, "config", dtk_json_copy(c->exec_config));
        }
        dtk_json_set(spec, "cluster", cl);
    }
    dtk_json_set(info, "spec", spec);
    text = dtk_json_to_string(info);
    dtk_json_free(info);
    return text != NULL ? text : dtk_strdup("{}");
}

static int use_exec(dtk_kube_config *cfg, const kc_user *u, const kc_cluster *c)
{
    const kc_exec *e = u->exec;
    const kc_loc *loc = &u->loc;
    dtk_kube__exec *x;
    int v1;

    if (e->command == NULL) {
        return kc_fail(DTK_EINVALID, loc, "user.exec.command", "required");
    }
    if (e->api_version == NULL) {
        return kc_fail(DTK_EINVALID, loc, "user.exec.apiVersion", "required");
    }
    v1 = strcmp(e->api_version, "client.authentication.k8s.io/v1") == 0;
    if (!v1 &&
        strcmp(e->api_version, "client.authentication.k8s.io/v1beta1") != 0) {
        return kc_fail(DTK_EINVALID, loc, "user.exec.apiVersion",
                       "'%s' is not client.authentication.k8s.io/v1 or "
                       "v1beta1",
                       e->api_version);
    }
    if (e->interactive_mode == NULL && v1) {
        return kc_fail(DTK_EINVALID, loc, "user.exec.interactiveMode",
                       "required for client.authentication.k8s.io/v1");
    }
    if (e->interactive_mode != NULL &&
        strcmp(e->interactive_mode, "Never") != 0 &&
        strcmp(e->interactive_mode, "IfAvailable") != 0) {
        if (strcmp(e->interactive_mode, "Always") == 0) {
            return kc_fail(DTK_EINVALID, loc, "user.exec.interactiveMode",
                           "Always needs a terminal, which an operator does "
                           "not have");
        }
        return kc_fail(DTK_EINVALID, loc, "user.exec.interactiveMode",
                       "'%s' is not Never, IfAvailable or Always",
                       e->interactive_mode);
    }
    x = dtk_calloc(1, sizeof(*x));
    x->command = dtk_strdup(e->command);
    x->argv = dtk_calloc(e->arg_count + 2, sizeof(char *));
    x->argv[0] = dtk_strdup(e->command);
    for (size_t i = 0; i < e->arg_count; i++) {
        x->argv[i + 1] = dtk_strdup(e->args[i]);
    }
    x->env = dtk_calloc(e->env_count + 1, sizeof(char *));
    for (size_t i = 0; i < e->env_count; i++) {
        x->env[i] = dtk_strdup(e->env[i]);
    }
    x->api_version = dtk_strdup(e->api_version);
    x->install_hint = dtk_strdup(e->install_hint);
    x->exec_info = exec_info_json(e, c, cfg);
    cfg->auth.exec = x;
    cfg->auth.kind = DTK_KUBE__AUTH_EXEC;
    return 0;
}

static int use_user(dtk_kube_config *cfg, const kc_user *u, const kc_cluster *c)
{
    const kc_loc *loc = &u->loc;
    int token = u->token != NULL || u->token_file != NULL;
    int basic = u->username != NULL || u->password != NULL;
    int error;

    if (token && basic) {
        return kc_fail(DTK_EINVALID, loc, "user",
                       "token and username/password cannot both be set");
    }
    if (u->exec != NULL && u->has_auth_provider) {
        return kc_fail(DTK_EINVALID, loc, "user",
                       "exec and auth-provider cannot both be set");
    }
    if (u->has_auth_provider) {
        return kc_fail(DTK_EINVALID, loc, "user.auth-provider",
                       "not supported (use an exec credential plugin)");
    }
    error = use_client_cert(cfg, u);
    if (error < 0) {
        return error;
    }
    if (u->as != NULL) {
        error = dtk_kube__config_add_header(cfg, "Impersonate-User", u->as);
    }
    if (error == 0 && u->as_uid != NULL) {
        error = dtk_kube__config_add_header(cfg, "Impersonate-Uid", u->as_uid);
    }
    for (size_t i = 0; error == 0 && i < u->as_group_count; i++) {
        error = dtk_kube__config_add_header(cfg, "Impersonate-Group",
                                            u->as_groups[i]);
    }
    if (error < 0) {
        return kc_fail(DTK_EINVALID, loc, "user",
                       "impersonation values must not contain line breaks");
    }
    if (basic) {
        cfg->username = dtk_strdup(u->username ? u->username : "");
        cfg->password = dtk_strdup(u->password ? u->password : "");
        return 0;
    }
    if (u->token_file != NULL) {
        dtk_kube__cred cred = {0};

        /* The file wins over a static token, which stays as the fallback
         * when the file cannot be read (client-go's BearerTokenFile). */
        cfg->auth.kind = DTK_KUBE__AUTH_TOKEN_FILE;
        cfg->auth.token_file = dtk_strdup(u->token_file);
        cfg->auth.token = dtk_strdup(u->token);
        error = dtk_kube__auth_get(&cfg->auth, &cred);
        dtk_kube__cred_dispose(&cred);
        if (error < 0) {
            char msg[DTK_ERROR_MESSAGE_MAX];

            memcpy(msg, dtk_error_last()->message, sizeof(msg));
            return kc_fail(DTK_EINVALID, loc, "user.tokenFile", "%s", msg);
        }
        return 0;
    }
    if (u->token != NULL) {
        cfg->auth.kind = DTK_KUBE__AUTH_TOKEN;
        cfg->auth.token = dtk_strdup(u->token);
        return 0;
    }
    if (u->exec != NULL) {
        return use_exec(cfg, u, c);
    }
    return 0;
}

static int build(dtk_kube_config *cfg,
                 const kc_set *s,
                 const char *source,
                 const char *want_context)
{
    const char *name = want_context ? want_context : s->current_context;
    const kc_context *ctx = NULL;
    const kc_cluster *cluster = NULL;
    const kc_user *user = NULL;
    int error;

    if (name == NULL || name[0] == '\0') {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "kubeconfig %s: current-context is not set", source);
        return DTK_ENOTFOUND;
    }
    ctx = find_context(s, name);
    if (ctx == NULL) {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "kubeconfig %s: context '%s' not found", source, name);
        return DTK_ENOTFOUND;
    }
    if (ctx->cluster == NULL) {
        return kc_fail(DTK_EINVALID, &ctx->loc, "context.cluster", "required");
    }
    cluster = find_cluster(s, ctx->cluster);
    if (cluster == NULL) {
        return kc_fail(DTK_ENOTFOUND, &ctx->loc, "context.cluster",
                       "cluster '%s' not found", ctx->cluster);
    }
    if (ctx->user != NULL) {
        user = find_user(s, ctx->user);
    }
    if (ctx->user != NULL && user == NULL) {
        return kc_fail(DTK_ENOTFOUND, &ctx->loc, "context.user",
                       "user '%s' not found", ctx->user);
    }
    error = use_cluster(cfg, cluster);
    if (error == 0 && user != NULL) {
        error = use_user(cfg, user, cluster);
    }
    if (error < 0) {
        return error;
    }
    cfg->context = dtk_strdup(name);
    cfg->namespace = dtk_strdup(ctx->namespace ? ctx->namespace : "default");
    return 0;
}

int dtk_kube__kubeconfig_load(dtk_kube_config *cfg,
                              const dtk_kube_config_options *options)
{
    const char *env = getenv("KUBECONFIG");
    const char *home = getenv("HOME");
    dtk_buf source = DTK_BUF_INIT(0);
    char *list = NULL;
    kc_set set;
    int explicit = options->kubeconfig != NULL;
    size_t loaded = 0;
    int error = 0;

    memset(&set, 0, sizeof(set));
    if (explicit) {
        list = dtk_strdup(options->kubeconfig);
    } else if (env != NULL && env[0] != '\0') {
        list = dtk_strdup(env);
    } else if (home != NULL && home[0] != '\0') {
        if (dtk_buf_printf(&source, "%s/.kube/config", home) < 0) {
            error = DTK_ETOOBIG;
            goto out;
        }
        list = dtk_buf_detach(&source);
    } else {
        dtk_error_set(DTK_ERRCLASS_CONFIG,
                      "no kubeconfig: KUBECONFIG and HOME are not set");
        error = DTK_ENOTFOUND;
        goto out;
    }
    /* An explicit file is one path even if it contains ':'. */
    for (char *p = list; p != NULL && error == 0;) {
        char *colon = explicit ? NULL : strchr(p, ':');
        dtk_json *root = NULL;
        int seen = 0;

        if (colon != NULL) {
            *colon = '\0';
        }
        for (size_t i = 0; i < set.file_count; i++) {
            seen |= strcmp(set.files[i], p) == 0;
        }
        if (p[0] != '\0' && !seen) {
            error = parse_file(&root, p);
            if (error == DTK_ENOTFOUND && !explicit) {
                /* client-go: missing files in the list are skipped. */
                dtk_error_clear();
                error = 0;
            } else if (error == 0) {
                error = merge_file(&set, p, root);
                loaded++;
            }
        }
        dtk_json_free(root);
        p = colon != NULL ? colon + 1 : NULL;
    }
    if (error < 0) {
        goto out;
    }
    /* Restore the separators for messages. */
    dtk_free(list);
    list = dtk_strdup(explicit             ? options->kubeconfig
                      : env && env[0]      ? env
                      : set.file_count > 0 ? set.files[0]
                                           : "~/.kube/config");
    if (loaded == 0) {
        dtk_error_set(DTK_ERRCLASS_CONFIG, "kubeconfig %s: no such file", list);
        error = DTK_ENOTFOUND;
        goto out;
    }
    error = build(cfg, &set, list, options->context);
out:
    set_dispose(&set);
    dtk_free(list);
    dtk_buf_dispose(&source);
    return error;
}

/* pkg/docker without an engine: the multiplexed stream decoder, names,
 * labels and the config hash, registry credentials, host parsing, and the
 * status mapping and X-Registry-Auth header against a stand-in engine (an
 * HTTP server on 127.0.0.1; the real engine cannot reach a registry here).
 * Against the real engine: test/integration/test_docker.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/docker/docker.h"
#include "pkg/http/http.h"
#include "pkg/httpserver/server.h"
#include "pkg/json/json.h"

/* ---- Multiplexed stream ----------------------------------------------------
 */

static void frame(dtk_buf *out, int stream, const char *data, size_t len)
{
    unsigned char h[8] = {(unsigned char)stream,
                          0,
                          0,
                          0,
                          (unsigned char)(len >> 24),
                          (unsigned char)(len >> 16),
                          (unsigned char)(len >> 8),
                          (unsigned char)len};

    assert_int_equal(dtk_buf_put(out, h, sizeof(h)), 0);
    assert_int_equal(dtk_buf_put(out, data, len), 0);
}

typedef struct sink {
    dtk_buf out;
    dtk_buf err;
    int calls;
} sink;

static int to_sink(int stream, const char *data, size_t len, void *payload)
{
    sink *s = payload;

    s->calls++;
    assert_int_equal(
        dtk_buf_put(stream == DTK_DOCKER_STREAM_STDOUT ? &s->out : &s->err,
                    data, len),
        0);
    return 0;
}

static void sample_stream(dtk_buf *wire, dtk_buf *big)
{
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(dtk_buf_printf(big, "line %04d\n", i), 0);
    }
    frame(wire, 1, "hello\n", 6);
    frame(wire, 2, "oops\n", 5);
    frame(wire, 1, "", 0); /* empty frames happen */
    frame(wire, 1, big->ptr, big->len);
    frame(wire, 2, "bye", 3);
}

static void test_docker__demux_reassembles_frames_split_anywhere(void **state)
{
    dtk_buf wire = DTK_BUF_INIT(0);
    dtk_buf big = DTK_BUF_INIT(0);
    dtk_buf want_out = DTK_BUF_INIT(0);

    (void)state;
    sample_stream(&wire, &big);
    assert_int_equal(dtk_buf_printf(&want_out, "hello\n%s", big.ptr), 0);
    /* Two reads, split at every offset of the first 100 bytes (which covers
     * splits inside headers and payloads) and around the big frame. */
    for (size_t cut = 0; cut <= wire.len; cut++) {
        dtk_docker_demux d = DTK_DOCKER_DEMUX_INIT;
        sink s = {DTK_BUF_INIT(0), DTK_BUF_INIT(0), 0};

        if (cut > 100 && cut < wire.len - 40 && cut % 997 != 0) {
            continue;
        }
        assert_int_equal(dtk_docker_demux_feed(&d, wire.ptr, cut, to_sink, &s),
                         0);
        assert_int_equal(dtk_docker_demux_feed(&d, wire.ptr + cut,
                                               wire.len - cut, to_sink, &s),
                         0);
        assert_int_equal(dtk_docker_demux_finish(&d), 0);
        assert_string_equal(dtk_buf_cstr(&s.out), want_out.ptr);
        assert_string_equal(dtk_buf_cstr(&s.err), "oops\nbye");
        dtk_buf_dispose(&s.out);
        dtk_buf_dispose(&s.err);
    }
    /* One byte per read. */
    {
        dtk_docker_demux d = DTK_DOCKER_DEMUX_INIT;
        sink s = {DTK_BUF_INIT(0), DTK_BUF_INIT(0), 0};

        for (size_t i = 0; i < wire.len; i++) {
            assert_int_equal(
                dtk_docker_demux_feed(&d, wire.ptr + i, 1, to_sink, &s), 0);
        }
        assert_int_equal(dtk_docker_demux_finish(&d), 0);
        assert_string_equal(dtk_buf_cstr(&s.out), want_out.ptr);
        assert_string_equal(dtk_buf_cstr(&s.err), "oops\nbye");
        dtk_buf_dispose(&s.out);
        dtk_buf_dispose(&s.err);
    }
    dtk_buf_dispose(&wire);
    dtk_buf_dispose(&big);
    dtk_buf_dispose(&want_out);
}

static void test_docker__demux_rejects_garbage_and_truncation(void **state)
{
    dtk_docker_demux d = DTK_DOCKER_DEMUX_INIT;
    dtk_docker_demux d2 = DTK_DOCKER_DEMUX_INIT;
    sink s = {DTK_BUF_INIT(0), DTK_BUF_INIT(0), 0};
    dtk_buf wire = DTK_BUF_INIT(0);

    (void)state;
    /* A TTY (raw) stream is not framed: "hello wo..." is not a header. */
    assert_int_equal(
        dtk_docker_demux_feed(&d, "hello world\n", 12, to_sink, &s),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "multiplexed stream: bad frame header (stream byte "
                        "104)");
    frame(&wire, 1, "abcdef", 6);
    assert_int_equal(
        dtk_docker_demux_feed(&d2, wire.ptr, wire.len - 2, to_sink, &s), 0);
    assert_int_equal(dtk_docker_demux_finish(&d2), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "multiplexed stream: ended inside a frame (2 bytes "
                        "missing)");
    dtk_buf_dispose(&s.out);
    dtk_buf_dispose(&s.err);
    dtk_buf_dispose(&wire);
}

static int stop_after_first(int stream,
                            const char *data,
                            size_t len,
                            void *payload)
{
    (void)stream;
    (void)data;
    (void)len;
    (*(int *)payload)++;
    return 7;
}

static void test_docker__demux_callback_can_stop(void **state)
{
    dtk_docker_demux d = DTK_DOCKER_DEMUX_INIT;
    dtk_buf wire = DTK_BUF_INIT(0);
    int calls = 0;

    (void)state;
    frame(&wire, 1, "a", 1);
    frame(&wire, 1, "b", 1);
    assert_int_equal(
        dtk_docker_demux_feed(&d, wire.ptr, wire.len, stop_after_first, &calls),
        7);
    assert_int_equal(calls, 1);
    dtk_buf_dispose(&wire);
}

/* ---- Names, labels, config hash --------------------------------------------
 */

static void assert_name(const char *expected, int rc, dtk_buf *b)
{
    assert_int_equal(rc, 0);
    assert_string_equal(dtk_buf_cstr(b), expected);
    dtk_buf_reset(b);
}

static void assert_valid_name(const char *name)
{
    size_t n = strlen(name);

    assert_true(n > 0 && n <= DTK_DOCKER_NAME_MAX);
    for (size_t i = 0; i < n; i++) {
        assert_true((name[i] >= 'a' && name[i] <= 'z') ||
                    (name[i] >= '0' && name[i] <= '9') || name[i] == '-');
    }
    assert_true(name[0] != '-' && name[n - 1] != '-');
}

static void test_docker__names_follow_the_convention(void **state)
{
    dtk_buf b = DTK_BUF_INIT(0);
    dtk_buf c = DTK_BUF_INIT(0);
    char long_name[200];

    (void)state;
    assert_name("dtk-shop-blog-web-0",
                dtk_docker_container_name(&b, "shop", "blog", "web", 0), &b);
    assert_name("dtk-shop-blog-web-12",
                dtk_docker_container_name(&b, "shop", "blog", "web", 12), &b);
    assert_name("dtk-shop-blog", dtk_docker_network_name(&b, "shop", "blog"),
                &b);
    assert_name("dtk-shop-blog-data",
                dtk_docker_volume_name(&b, "shop", "blog", "data"), &b);

    /* Too long: cut, hashed, replica kept, still a DNS label. */
    memset(long_name, 'x', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_int_equal(dtk_docker_container_name(&b, "production-eu-west",
                                               long_name, "web", 3),
                     0);
    assert_int_equal(b.len, DTK_DOCKER_NAME_MAX);
    assert_valid_name(b.ptr);
    assert_true(strncmp(b.ptr, "dtk-production-eu-west-xxx", 26) == 0);
    assert_string_equal(b.ptr + b.len - 2, "-3");
    /* The component does not fit any more, but still tells names apart. */
    assert_int_equal(
        dtk_docker_container_name(&c, "production-eu-west", long_name, "db", 3),
        0);
    assert_int_equal(c.len, DTK_DOCKER_NAME_MAX);
    assert_string_not_equal(b.ptr, c.ptr);
    /* Deterministic. */
    dtk_buf_reset(&c);
    assert_int_equal(dtk_docker_container_name(&c, "production-eu-west",
                                               long_name, "web", 3),
                     0);
    assert_string_equal(b.ptr, c.ptr);
    dtk_buf_reset(&b);
    dtk_buf_reset(&c);

    /* Characters outside [a-z0-9-] are replaced, and the hash keeps
     * "my.app" apart from "my-app". */
    assert_int_equal(dtk_docker_container_name(&b, "shop", "my.app", "web", 0),
                     0);
    assert_valid_name(b.ptr);
    assert_true(strncmp(b.ptr, "dtk-shop-my-app-web-", 20) == 0);
    assert_string_equal(b.ptr + b.len - 2, "-0");
    assert_int_equal(dtk_docker_container_name(&c, "shop", "my-app", "web", 0),
                     0);
    assert_string_equal(c.ptr, "dtk-shop-my-app-web-0");
    assert_string_not_equal(b.ptr, c.ptr);
    dtk_buf_dispose(&b);
    dtk_buf_dispose(&c);
}

static void test_docker__names_reject_bad_parts(void **state)
{
    dtk_buf b = DTK_BUF_INIT(0);

    (void)state;
    assert_int_equal(dtk_docker_container_name(&b, "shop", "", "web", 0),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "container name: part 2 must have 1 to 253 "
                        "characters");
    assert_int_equal(dtk_docker_container_name(&b, "shop", "blog", "web", -1),
                     DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "container name: replica -1 is negative");
    assert_int_equal(dtk_docker_network_name(&b, NULL, "blog"), DTK_EINVALID);
    assert_int_equal(b.len, 0);
    dtk_buf_dispose(&b);
}

static const char *const env_a[] = {"A=1", "B=2", "C=3", NULL};
static const char *const env_b[] = {"C=3", "A=1", "B=2", NULL};
static const char *const cmd_a[] = {"httpd", "-f", "-p", "80", NULL};
static const char *const cmd_b[] = {"httpd", "-p", "80", "-f", NULL};
static const char *const aliases_a[] = {"web", "www", NULL};
static const char *const aliases_b[] = {"www", "web", NULL};
static const dtk_docker_port ports_a[] = {{80, NULL, "127.0.0.1", 8080},
                                          {443, "tcp", NULL, 0}};
static const dtk_docker_port ports_b[] = {{443, NULL, NULL, 0},
                                          {80, "tcp", "127.0.0.1", 8080}};
static const dtk_docker_kv labels_a[] = {{"team", "blue"}, {"tier", "web"}};
static const dtk_docker_kv labels_b[] = {
    {"tier", "web"}, {DTK_DOCKER_LABEL_CONFIG_HASH, "stale"}, {"team", "blue"}};

static void base_spec(dtk_docker_container_spec *s)
{
    dtk_docker_container_spec init = DTK_DOCKER_CONTAINER_SPEC_INIT;

    *s = init;
    s->image = "busybox:1.36";
    s->env = env_a;
    s->cmd = cmd_a;
    s->ports = ports_a;
    s->port_count = 2;
    s->labels = labels_a;
    s->label_count = 2;
    s->network = "dtk-shop-blog";
    s->aliases = aliases_a;
    s->restart_policy = "unless-stopped";
}

static void hash_of(char out[DTK_DOCKER_CONFIG_HASH_SIZE],
                    const dtk_docker_container_spec *s)
{
    assert_int_equal(dtk_docker_config_hash(out, s), 0);
    assert_int_equal(strlen(out), 64);
}

static void test_docker__config_hash_is_canonical(void **state)
{
    dtk_docker_container_spec s;
    dtk_docker_owner owner = DTK_DOCKER_OWNER_INIT;
    char h0[DTK_DOCKER_CONFIG_HASH_SIZE];
    char h1[DTK_DOCKER_CONFIG_HASH_SIZE];

    (void)state;
    base_spec(&s);
    hash_of(h0, &s);
    /* Pinned: a change here recreates every container the operator runs,
     * so it must be deliberate (bump "v" in canonical_spec). */
    assert_string_equal(
        h0, "0231accc1110d53ac7cab6d74afe920a6681416920cdabcd7af2eaf3a06417ab");

    /* Order of set-like lists does not matter; identity does not count. */
    s.env = env_b;
    s.ports = ports_b;
    s.labels = labels_b;
    s.label_count = 3;
    s.aliases = aliases_b;
    s.name = "another-name";
    owner.namespace_name = "shop";
    owner.instance = "blog";
    owner.instance_uid = "uid-1";
    owner.component = "web";
    s.owner = &owner;
    hash_of(h1, &s);
    assert_string_equal(h0, h1);

    /* What shapes the container does. */
    base_spec(&s);
    s.cmd = cmd_b;
    hash_of(h1, &s);
    assert_string_not_equal(h0, h1);
    base_spec(&s);
    s.image = "busybox:1.37";
    hash_of(h1, &s);
    assert_string_not_equal(h0, h1);
    base_spec(&s);
    s.port_count = 1;
    hash_of(h1, &s);
    assert_string_not_equal(h0, h1);
    base_spec(&s);
    s.stop_grace_period_s = 5;
    hash_of(h1, &s);
    assert_string_not_equal(h0, h1);
    base_spec(&s);
    s.restart_policy = NULL;
    hash_of(h1, &s);
    assert_string_not_equal(h0, h1);
}

static void test_docker__owner_filter_and_drift(void **state)
{
    dtk_docker_owner_filter f;
    dtk_docker_label items[] = {{"io.dtk.config-hash", "abc"}};
    dtk_docker_labels labels = {items, 1};
    dtk_docker_labels none = {NULL, 0};

    (void)state;
    dtk_docker_owner_filter_init(&f, "uid-1", "web");
    assert_string_equal(f.labels[0], "io.dtk.managed-by=dtk-operator");
    assert_string_equal(f.labels[1], "io.dtk.instance-uid=uid-1");
    assert_string_equal(f.labels[2], "io.dtk.component=web");
    assert_null(f.labels[3]);
    dtk_docker_owner_filter_dispose(&f);
    dtk_docker_owner_filter_init(&f, "uid-1", NULL);
    assert_null(f.labels[2]);
    dtk_docker_owner_filter_dispose(&f);

    assert_int_equal(dtk_docker_container_drifted(&labels, "abc"), 0);
    assert_int_equal(dtk_docker_container_drifted(&labels, "abd"), 1);
    assert_int_equal(dtk_docker_container_drifted(&none, "abc"), 1);
    assert_string_equal(dtk_docker_labels_get(&labels, "io.dtk.config-hash"),
                        "abc");
    assert_null(dtk_docker_labels_get(&labels, "other"));
}

/* ---- Registry credentials --------------------------------------------------
 */

static void assert_registry(const char *image, const char *expected)
{
    dtk_buf b = DTK_BUF_INIT(0);

    assert_int_equal(dtk_docker_image_registry(&b, image), 0);
    assert_string_equal(dtk_buf_cstr(&b), expected);
    dtk_buf_dispose(&b);
}

static void test_docker__image_registry_like_the_engine(void **state)
{
    (void)state;
    assert_registry("nginx", "docker.io");
    assert_registry("nginx:1.25", "docker.io");
    assert_registry("library/nginx:1.25", "docker.io");
    assert_registry("bitnami/redis@sha256:abcd", "docker.io");
    assert_registry("localhost/app", "localhost");
    assert_registry("localhost:5000/app:1", "localhost:5000");
    assert_registry("registry.example.com/team/app:1", "registry.example.com");
    assert_registry("10.0.0.1:5000/app", "10.0.0.1:5000");
}

/* Decodes an X-Registry-Auth value (base64url, padded) into JSON. */
static dtk_json *decode_auth(const char *value)
{
    dtk_buf std = DTK_BUF_INIT(0);
    dtk_buf raw = DTK_BUF_INIT(0);
    dtk_json *doc = NULL;

    assert_null(strchr(value, '+'));
    assert_null(strchr(value, '/'));
    assert_int_equal(dtk_buf_puts(&std, value), 0);
    for (size_t i = 0; i < std.len; i++) {
        if (std.ptr[i] == '-') {
            std.ptr[i] = '+';
        } else if (std.ptr[i] == '_') {
            std.ptr[i] = '/';
        }
    }
    assert_int_equal(dtk_b64_decode(&raw, std.ptr, std.len), 0);
    assert_int_equal(dtk_json_parse(&doc, raw.ptr, raw.len), 0);
    dtk_buf_dispose(&std);
    dtk_buf_dispose(&raw);
    return doc;
}

/* "robot:p>?~s" encodes (standard) to "cm9ib3Q6cD4/fnM=", which has a '/':
 * the URL-safe alphabet must show up in the header. */
#define HUB_CONFIG                                                       \
    "{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":"             \
    "\"cm9ib3Q6cD4/fnM=\"},\"registry.example.com:5000\":{\"username\":" \
    "\"ci\",\"password\":\"s3cr3t-pw\"},\"bad.example.com\":{\"auth\":"  \
    "\"!!notbase64!!\"},\"token.example.com\":{\"username\":\"x\","      \
    "\"identitytoken\":\"tok-123\"}}}"

static void test_docker__registry_auth_from_dockerconfigjson(void **state)
{
    dtk_buf h = DTK_BUF_INIT(0);
    dtk_json *doc;
    char *text;

    (void)state;
    assert_int_equal(dtk_docker_registry_auth(&h, HUB_CONFIG, "nginx:1"), 0);
    doc = decode_auth(dtk_buf_cstr(&h));
    text = dtk_json_to_string(doc);
    assert_string_equal(text, "{\"username\":\"robot\",\"password\":\"p>?~s\","
                              "\"serveraddress\":"
                              "\"https://index.docker.io/v1/\"}");
    dtk_free(text);
    dtk_json_free(doc);
    dtk_buf_reset(&h);

    assert_int_equal(dtk_docker_registry_auth(
                         &h, HUB_CONFIG, "registry.example.com:5000/team/app"),
                     0);
    doc = decode_auth(dtk_buf_cstr(&h));
    text = dtk_json_to_string(doc);
    assert_string_equal(text, "{\"username\":\"ci\",\"password\":"
                              "\"s3cr3t-pw\",\"serveraddress\":"
                              "\"registry.example.com:5000\"}");
    dtk_free(text);
    dtk_json_free(doc);
    dtk_buf_reset(&h);

    assert_int_equal(
        dtk_docker_registry_auth(&h, HUB_CONFIG, "token.example.com/app"), 0);
    doc = decode_auth(dtk_buf_cstr(&h));
    assert_string_equal(dtk_json_get_string(doc, "identitytoken"), "tok-123");
    assert_null(dtk_json_get(doc, "password"));
    dtk_json_free(doc);
    dtk_buf_reset(&h);

    /* Legacy .dockercfg: no "auths" wrapper. */
    assert_int_equal(
        dtk_docker_registry_auth(&h,
                                 "{\"registry.example.com:5000\":{\"auth\":"
                                 "\"dTpw\"}}",
                                 "registry.example.com:5000/app"),
        0);
    doc = decode_auth(dtk_buf_cstr(&h));
    assert_string_equal(dtk_json_get_string(doc, "username"), "u");
    assert_string_equal(dtk_json_get_string(doc, "password"), "p");
    dtk_json_free(doc);
    dtk_buf_dispose(&h);
}

static void test_docker__registry_auth_errors_name_the_key_not_the_secret(
    void **state)
{
    dtk_buf h = DTK_BUF_INIT(0);

    (void)state;
    assert_int_equal(dtk_docker_registry_auth(&h, HUB_CONFIG, "quay.io/x/y"),
                     DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "dockerconfigjson: no credentials for registry "
                        "'quay.io'");
    assert_int_equal(
        dtk_docker_registry_auth(&h, HUB_CONFIG, "bad.example.com/app"),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "dockerconfigjson: auths['bad.example.com'].auth: "
                        "expected base64 of 'username:password'");
    assert_int_equal(dtk_docker_registry_auth(
                         &h,
                         "{\"auths\":{\"r.io\":{\"password\":\"hunter2\"}}}",
                         "r.io/app"),
                     DTK_EINVALID);
    assert_null(strstr(dtk_error_last()->message, "hunter2"));
    assert_string_equal(dtk_error_last()->message,
                        "dockerconfigjson: auths['r.io']: needs auth, "
                        "username and password, or identitytoken");
    assert_int_equal(
        dtk_docker_registry_auth(
            &h, "{\"auths\":{\"r.io\":{\"password\":\"hunter2\"", "r.io/app"),
        DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "dockerconfigjson: not a JSON object");
    assert_int_equal(h.len, 0);
    dtk_buf_dispose(&h);
}

/* ---- Client construction and unreachable engines ---------------------------
 */

static void test_docker__bad_hosts_are_rejected(void **state)
{
    dtk_docker *c = NULL;
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;

    (void)state;
    o.host = "ftp://example.com";
    assert_int_equal(dtk_docker_new(&c, &o), DTK_EINVALID);
    assert_null(c);
    assert_string_equal(dtk_error_last()->message,
                        "docker host 'ftp://example.com': expected unix://, "
                        "tcp://, http:// or https://");
    o.host = "unix://relative.sock";
    assert_int_equal(dtk_docker_new(&c, &o), DTK_EINVALID);
    o.host = "tcp://127.0.0.1:2376";
    o.cert_pem = "-----BEGIN CERTIFICATE-----";
    assert_int_equal(dtk_docker_new(&c, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "docker host 'tcp://127.0.0.1:2376': a client "
                        "certificate needs its key and the key its "
                        "certificate");
    o.cert_pem = NULL;
    o.api_version = "v1.41";
    assert_int_equal(dtk_docker_new(&c, &o), DTK_EINVALID);
    assert_string_equal(dtk_error_last()->message,
                        "api_version: expected MAJOR.MINOR, got 'v1.41'");
}

static void test_docker__engine_not_running_is_a_clear_error(void **state)
{
    dtk_docker *c = NULL;
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;
    dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
    char dir[] = "/tmp/dtk-docker-test-XXXXXX";
    char host[128];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(host, sizeof(host), "unix://%s/docker.sock", dir);
    o.host = host;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    assert_int_equal(dtk_docker_ping(c), DTK_EUNAVAIL);
    assert_non_null(strstr(dtk_error_last()->message, "ping: docker engine "
                                                      "'unix:///tmp/dtk-"));
    assert_non_null(
        strstr(dtk_error_last()->message, "Couldn't connect to server"));
    /* A versioned call fails the same way (negotiation cannot happen). */
    assert_int_equal(dtk_docker_container_inspect(c, &info, "web"),
                     DTK_EUNAVAIL);
    assert_non_null(
        strstr(dtk_error_last()->message, "get engine version: docker engine"));
    assert_null(dtk_docker_api_version(c));
    dtk_docker_free(c);

    o.host = "tcp://127.0.0.1:1";
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    assert_int_equal(dtk_docker_ping(c), DTK_EUNAVAIL);
    assert_non_null(
        strstr(dtk_error_last()->message, "docker engine 'tcp://127.0.0.1:1'"));
    dtk_docker_free(c);
    rmdir(dir);
}

static void test_docker__silent_engine_times_out(void **state)
{
    dtk_docker *c = NULL;
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;
    struct sockaddr_un addr;
    char dir[] = "/tmp/dtk-docker-test-XXXXXX";
    char host[160];
    int fd;
    int64_t start;

    (void)state;
    assert_non_null(mkdtemp(dir));
    /* Listens but never accepts: connections complete in the backlog and
     * the request is never answered, like a hung engine. */
    fd = socket(AF_UNIX, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    memset(&addr, 0, sizeof(addr));
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/docker.sock", dir);
    assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
    assert_int_equal(listen(fd, 8), 0);
    snprintf(host, sizeof(host), "unix://%s", addr.sun_path);
    o.host = host;
    o.timeout_ms = 300;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    start = dtk_clock_now_ms();
    assert_int_equal(dtk_docker_ping(c), DTK_ETIMEOUT);
    /* Bounded by the timeout, not by the engine (generous upper bound). */
    assert_true(dtk_clock_now_ms() - start < 10000);
    assert_non_null(strstr(dtk_error_last()->message, "timed out"));
    dtk_docker_free(c);
    close(fd);
    unlink(addr.sun_path);
    rmdir(dir);
}

/* ---- Against a stand-in engine ---------------------------------------------
 */

typedef struct fake_engine {
    dtk_httpserver *server;
    const char *api_version;
    pthread_mutex_t lock;
    char auth_header[1024];
    char from_image[256];
    char tag[128];
    char last_path[256];
    char host[64];
} fake_engine;

static void reply(dtk_httpserver_exchange *ex, int status, const char *body)
{
    dtk_httpserver_respond(ex, status, "application/json", body, strlen(body));
}

static void fake_handler(dtk_httpserver_exchange *ex, void *payload)
{
    fake_engine *f = payload;
    const char *path = dtk_httpserver_path(ex);
    const char *method = dtk_httpserver_method(ex);
    char body[256];

    pthread_mutex_lock(&f->lock);
    snprintf(f->last_path, sizeof(f->last_path), "%s %s", method, path);
    pthread_mutex_unlock(&f->lock);
    if (strcmp(path, "/version") == 0) {
        snprintf(body, sizeof(body),
                 "{\"Version\":\"99.0\",\"ApiVersion\":\"%s\","
                 "\"MinAPIVersion\":\"1.12\",\"Os\":\"linux\"}",
                 f->api_version);
        reply(ex, 200, body);
    } else if (strcmp(path, "/v1.41/images/create") == 0) {
        const char *h = dtk_httpserver_header(ex, "X-Registry-Auth");
        const char *from = dtk_httpserver_query(ex, "fromImage");
        const char *tag = dtk_httpserver_query(ex, "tag");
        static const char progress[] =
            "{\"status\":\"Pulling from team/app\",\"id\":\"1\"}\n"
            "{\"errorDetail\":{\"message\":\"manifest for "
            "registry.example.com:5000/team/app:2 not found: manifest "
            "unknown\"},\"error\":\"manifest unknown\"}\n";

        pthread_mutex_lock(&f->lock);
        snprintf(f->auth_header, sizeof(f->auth_header), "%s", h ? h : "");
        snprintf(f->from_image, sizeof(f->from_image), "%s", from ? from : "");
        snprintf(f->tag, sizeof(f->tag), "%s", tag ? tag : "");
        pthread_mutex_unlock(&f->lock);
        static const char denied[] =
            "{\"status\":\"Pulling from private/app\"}\n"
            "{\"error\":\"unauthorized: authentication required\"}";
        static const char ok[] =
            "{\"status\":\"Pulling from team/ok\"}\n"
            "{\"status\":\"Status: Downloaded newer image\"}\n";

        if (from != NULL && strcmp(from, "private/app") == 0) {
            /* The last line has no newline: it must still count. */
            dtk_httpserver_respond(ex, 200, "application/json", denied,
                                   strlen(denied));
        } else if (from != NULL && strcmp(from, "broken/app") == 0) {
            reply(ex, 500,
                  "{\"message\":\"Get https://r.io/v2/: unauthorized: "
                  "incorrect username or password\"}");
        } else if (from != NULL && strcmp(from, "team/ok") == 0) {
            dtk_httpserver_respond(ex, 200, "application/json", ok, strlen(ok));
        } else {
            dtk_httpserver_respond(ex, 200, "application/json", progress,
                                   strlen(progress));
        }
    } else if (strncmp(path, "/v1.41/containers/s", 19) == 0) {
        /* Container "s<code>" answers with that status. */
        int status = (int)strtol(path + 19, NULL, 10);

        snprintf(body, sizeof(body), "{\"message\":\"engine says %d\"}",
                 status);
        if (status == 304) {
            dtk_httpserver_respond(ex, 304, "text/plain", "", 0);
        } else {
            reply(ex, status, body);
        }
    } else if (strcmp(path, "/v1.41/containers/create") == 0) {
        reply(ex, 409,
              "{\"message\":\"Conflict. The container name \\\"/web\\\" is "
              "already in use\"}");
    } else if (strncmp(path, "/v1.41/containers/", 18) == 0) {
        reply(ex, 404, "{\"message\":\"No such container: nope\"}");
    } else {
        reply(ex, 404, "{\"message\":\"page not found\"}");
    }
}

static int fake_setup(void **state)
{
    fake_engine *f = dtk_calloc(1, sizeof(*f));
    dtk_httpserver_options so = DTK_HTTPSERVER_OPTIONS_INIT;

    pthread_mutex_init(&f->lock, NULL);
    f->api_version = "1.43";
    assert_int_equal(dtk_httpserver_start(&f->server, &so, fake_handler, f), 0);
    snprintf(f->host, sizeof(f->host), "tcp://127.0.0.1:%d",
             dtk_httpserver_port(f->server));
    *state = f;
    return 0;
}

static int fake_teardown(void **state)
{
    fake_engine *f = *state;

    dtk_httpserver_stop(f->server);
    pthread_mutex_destroy(&f->lock);
    dtk_free(f);
    return 0;
}

static dtk_docker *fake_client(fake_engine *f)
{
    dtk_docker *c = NULL;
    dtk_docker_options o = DTK_DOCKER_OPTIONS_INIT;

    o.host = f->host;
    o.timeout_ms = 5000;
    assert_int_equal(dtk_docker_new(&c, &o), 0);
    return c;
}

static void test_docker__version_is_negotiated_down_to_ours(void **state)
{
    fake_engine *f = *state;
    dtk_docker *c = fake_client(f);
    dtk_docker_version_info v = DTK_DOCKER_VERSION_INFO_INIT;
    dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;

    f->api_version = "1.43";
    assert_int_equal(dtk_docker_version(c, &v), 0);
    assert_string_equal(v.version, "99.0");
    assert_string_equal(v.api_version, "1.43");
    assert_string_equal(dtk_docker_api_version(c), "1.41");
    dtk_docker_version_info_dispose(&v);
    /* Versioned paths use the negotiated version. */
    assert_int_equal(dtk_docker_container_inspect(c, &info, "nope"),
                     DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "inspect container 'nope': No such container: nope");
    assert_string_equal(f->last_path, "GET /v1.41/containers/nope/json");
    dtk_docker_free(c);

    f->api_version = "1.38";
    c = fake_client(f);
    assert_int_equal(dtk_docker_container_inspect(c, &info, "nope"), DTK_ERROR);
    assert_non_null(strstr(dtk_error_last()->message,
                           "api version 1.38 is older than the oldest "
                           "supported, 1.40"));
    dtk_docker_free(c);
    f->api_version = "1.43";
}

static void test_docker__statuses_map_to_codes(void **state)
{
    fake_engine *f = *state;
    dtk_docker *c = fake_client(f);
    dtk_docker_container_spec spec = DTK_DOCKER_CONTAINER_SPEC_INIT;
    static const struct {
        int status;
        int code;
    } table[] = {{400, DTK_EINVALID},  {401, DTK_EAUTH},
                 {403, DTK_ECONFLICT}, {404, DTK_ENOTFOUND},
                 {409, DTK_ECONFLICT}, {500, DTK_ERROR},
                 {503, DTK_EUNAVAIL}};

    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        dtk_docker_container_info info = DTK_DOCKER_CONTAINER_INFO_INIT;
        char id[16];
        char msg[64];

        snprintf(id, sizeof(id), "s%d", table[i].status);
        snprintf(msg, sizeof(msg), "inspect container '%s': engine says %d", id,
                 table[i].status);
        assert_int_equal(dtk_docker_container_inspect(c, &info, id),
                         table[i].code);
        assert_string_equal(dtk_error_last()->message, msg);
        assert_null(info.id);
    }
    /* 409 on a create call means "exists". */
    spec.name = "web";
    spec.image = "busybox";
    assert_int_equal(dtk_docker_container_create(c, NULL, &spec), DTK_EEXISTS);
    assert_string_equal(dtk_error_last()->message,
                        "create container 'web': Conflict. The container "
                        "name \"/web\" is already in use");
    /* 304 on start is success. */
    dtk_error_clear();
    assert_int_equal(dtk_docker_container_start(c, "s304"), 0);
    assert_string_equal(dtk_error_last()->message, "");
    dtk_docker_free(c);
}

static void test_docker__pull_sends_registry_auth_and_reads_stream_errors(
    void **state)
{
    fake_engine *f = *state;
    dtk_docker *c = fake_client(f);
    dtk_docker_pull_options po = DTK_DOCKER_PULL_OPTIONS_INIT;
    dtk_json *auth;

    po.dockerconfigjson = HUB_CONFIG;
    assert_int_equal(
        dtk_docker_image_pull(c, "registry.example.com:5000/team/app:2", &po),
        DTK_ENOTFOUND);
    assert_string_equal(dtk_error_last()->message,
                        "pull image 'registry.example.com:5000/team/app:2': "
                        "manifest for registry.example.com:5000/team/app:2 "
                        "not found: manifest unknown");
    assert_null(strstr(dtk_error_last()->message, "s3cr3t"));
    assert_string_equal(f->from_image, "registry.example.com:5000/team/app");
    assert_string_equal(f->tag, "2");
    auth = decode_auth(f->auth_header);
    assert_string_equal(dtk_json_get_string(auth, "username"), "ci");
    assert_string_equal(dtk_json_get_string(auth, "password"), "s3cr3t-pw");
    assert_string_equal(dtk_json_get_string(auth, "serveraddress"),
                        "registry.example.com:5000");
    dtk_json_free(auth);

    /* No entry for the registry: anonymous, no header; default tag. */
    assert_int_equal(dtk_docker_image_pull(c, "quay.io/team/app", &po),
                     DTK_ENOTFOUND);
    assert_string_equal(f->auth_header, "");
    assert_string_equal(f->from_image, "quay.io/team/app");
    assert_string_equal(f->tag, "latest");
    /* A digest travels as the tag parameter. */
    assert_int_equal(dtk_docker_image_pull(c, "app@sha256:0123", NULL),
                     DTK_ENOTFOUND);
    assert_string_equal(f->from_image, "app");
    assert_string_equal(f->tag, "sha256:0123");

    /* Success is a stream without an error line. */
    assert_int_equal(dtk_docker_image_pull(c, "team/ok:3", NULL), 0);
    assert_string_equal(f->tag, "3");
    /* Refusals are told by their words, in the stream or in a 500. */
    assert_int_equal(dtk_docker_image_pull(c, "private/app", NULL), DTK_EAUTH);
    assert_string_equal(dtk_error_last()->message,
                        "pull image 'private/app': unauthorized: "
                        "authentication required");
    assert_int_equal(dtk_docker_image_pull(c, "broken/app", NULL), DTK_EAUTH);
    assert_string_equal(dtk_error_last()->message,
                        "pull image 'broken/app': Get https://r.io/v2/: "
                        "unauthorized: incorrect username or password");
    dtk_docker_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docker__demux_reassembles_frames_split_anywhere),
        cmocka_unit_test(test_docker__demux_rejects_garbage_and_truncation),
        cmocka_unit_test(test_docker__demux_callback_can_stop),
        cmocka_unit_test(test_docker__names_follow_the_convention),
        cmocka_unit_test(test_docker__names_reject_bad_parts),
        cmocka_unit_test(test_docker__config_hash_is_canonical),
        cmocka_unit_test(test_docker__owner_filter_and_drift),
        cmocka_unit_test(test_docker__image_registry_like_the_engine),
        cmocka_unit_test(test_docker__registry_auth_from_dockerconfigjson),
        cmocka_unit_test(
            test_docker__registry_auth_errors_name_the_key_not_the_secret),
        cmocka_unit_test(test_docker__bad_hosts_are_rejected),
        cmocka_unit_test(test_docker__engine_not_running_is_a_clear_error),
        cmocka_unit_test(test_docker__silent_engine_times_out),
        cmocka_unit_test(test_docker__version_is_negotiated_down_to_ours),
        cmocka_unit_test(test_docker__statuses_map_to_codes),
        cmocka_unit_test(
            test_docker__pull_sends_registry_auth_and_reads_stream_errors),
    };
    int rc;

    dtk_http_global_init();
    rc = cmocka_run_group_tests(tests, fake_setup, fake_teardown);
    dtk_http_global_cleanup();
    return rc;
}

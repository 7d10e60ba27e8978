/* Compares the patch and selector code with real kubectl (v1.32), which
 * links the libraries kube-apiserver uses: `kubectl patch --local` applies
 * JSON, merge and strategic merge patches to a file, and `kubectl set
 * selector --local` parses label selectors with labels.Parse. Each case runs
 * kubectl once (with a timeout) and the module under test once, and the
 * results (or error texts) must agree. Skipped when kubectl is not on PATH.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/dtk-apiserver/selector.h"
#include "cmd/dtk-apiserver/smp.h"
#include "pkg/base/alloc.h"
#include "pkg/base/buf.h"
#include "pkg/base/clock.h"
#include "pkg/base/error.h"
#include "pkg/json/json.h"
#include "pkg/json/patch.h"

#define KUBECTL_TIMEOUT_MS 30000

static char tmpdir[] = "/tmp/dtk-patch-kubectl-XXXXXX";

static dtk_json *js(const char *text)
{
    size_t len = strlen(text);
    char *copy = dtk_strdup(text);
    dtk_json *v = NULL;

    for (size_t i = 0; i < len; i++) {
        if (copy[i] == '\'') {
            copy[i] = '"';
        }
    }
    if (dtk_json_parse(&v, copy, len) < 0) {
        fail_msg("bad test JSON: %s", text);
    }
    dtk_free(copy);
    return v;
}

/* Runs argv with stdout and stderr captured; kills it after the timeout.
 * Returns the exit status, or -1 when it did not exit normally. */
static int run(dtk_buf *out, dtk_buf *err, char *const argv[])
{
    int opipe[2], epipe[2];
    int64_t deadline = dtk_clock_now_ms() + KUBECTL_TIMEOUT_MS;
    int open_fds = 2;
    int status = 0;
    pid_t pid;

    assert_int_equal(pipe(opipe), 0);
    assert_int_equal(pipe(epipe), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* Never outlive the test. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(opipe[1], 1);
        dup2(epipe[1], 2);
        close(opipe[0]);
        close(epipe[0]);
        close(opipe[1]);
        close(epipe[1]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(opipe[1]);
    close(epipe[1]);
    while (open_fds > 0) {
        struct pollfd fds[2] = {{opipe[0], POLLIN, 0}, {epipe[0], POLLIN, 0}};
        int64_t left = deadline - dtk_clock_now_ms();
        char chunk[4096];

        if (left <= 0) {
            kill(pid, SIGKILL);
            break;
        }
        if (poll(fds, 2, (int)left) < 0 && errno != EINTR) {
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
                ssize_t n = read(fds[i].fd, chunk, sizeof(chunk));

                if (n > 0) {
                    dtk_buf_put(i == 0 ? out : err, chunk, (size_t)n);
                } else {
                    close(fds[i].fd);
                    if (i == 0) {
                        opipe[0] = -1;
                    } else {
                        epipe[0] = -1;
                    }
                    open_fds--;
                }
            }
        }
    }
    if (opipe[0] >= 0) {
        close(opipe[0]);
    }
    if (epipe[0] >= 0) {
        close(epipe[0]);
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const dtk_json *v)
{
    char *text = dtk_json_to_string(v);
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    fclose(f);
    dtk_free(text);
}

/* kubectl's error line without "error: ". */
static const char *kubectl_error(dtk_buf *err)
{
    const char *e = dtk_buf_cstr(err);
    char *nl;

    if (strncmp(e, "error: ", 7) == 0) {
        e += 7;
    }
    nl = strchr(e, '\n');
    if (nl != NULL) {
        *nl = '\0';
    }
    return e;
}

typedef struct patch_case {
    const char *type; /* json, merge, strategic */
    const char *group;
    const char *kind;
    const char *doc;
    const char *patch;
    int same_message; /* errors: compare the texts too */
} patch_case;

/* *docp is patched in place (and may be replaced). */
static void compare(const patch_case *c, dtk_json **docp)
{
    dtk_json *doc = *docp;
    char path[128];
    dtk_buf out = DTK_BUF_INIT(0), err = DTK_BUF_INIT(0);
    dtk_json *patch = js(c->patch);
    char *patch_text = dtk_json_to_string(patch);
    char type_arg[32];
    char *argv[] = {"kubectl", "patch", "--local", "-f",       path, type_arg,
                    "-o",      "json",  "-p",      patch_text, NULL};
    dtk_json *theirs = NULL;
    int rc, error;

    snprintf(path, sizeof(path), "%s/doc.json", tmpdir);
    snprintf(type_arg, sizeof(type_arg), "--type=%s", c->type);
    write_file(path, doc);
    rc = run(&out, &err, argv);
    if (strcmp(c->type, "json") == 0) {
        error = dtk_json_patch_apply(&doc, patch);
    } else if (strcmp(c->type, "merge") == 0) {
        error = dtk_json_merge_patch(&doc, patch);
    } else {
        error = dtk_smp_apply(&doc, patch, c->group, c->kind);
    }
    if (rc == 0) {
        if (error != 0) {
            fail_msg("%s: kubectl applied it, we failed: %s", c->patch,
                     dtk_error_last()->message);
        }
        assert_int_equal(dtk_json_parse(&theirs, dtk_buf_cstr(&out), out.len),
                         0);
        if (!dtk_json_equal(theirs, doc)) {
            char *mine = dtk_json_to_string(doc);

            fail_msg("%s:\nkubectl %s\nours    %s", c->patch,
                     dtk_buf_cstr(&out), mine);
        }
    } else {
        if (error == 0) {
            fail_msg("%s: kubectl failed (%s), we applied it", c->patch,
                     dtk_buf_cstr(&err));
        }
        if (c->same_message) {
            assert_string_equal(dtk_error_last()->message, kubectl_error(&err));
        }
    }
    *docp = doc;
    dtk_json_free(theirs);
    dtk_free(patch_text);
    dtk_json_free(patch);
    dtk_buf_dispose(&out);
    dtk_buf_dispose(&err);
}

static int have_kubectl(void)
{
    dtk_buf out = DTK_BUF_INIT(0), err = DTK_BUF_INIT(0);
    char *argv[] = {"kubectl", "version", "--client", "-o", "json", NULL};
    int ok = run(&out, &err, argv) == 0;

    dtk_buf_dispose(&out);
    dtk_buf_dispose(&err);
    return ok;
}

static int setup(void **state)
{
    (void)state;
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char path[128];

    (void)state;
    snprintf(path, sizeof(path), "%s/doc.json", tmpdir);
    unlink(path);
    rmdir(tmpdir);
    return 0;
}

#define CM                                                           \
    "{'apiVersion':'v1','kind':'ConfigMap','metadata':{'name':'cm'," \
    "'annotations':{'a/b':'s','m~n':'t'},'finalizers':['f1','f0'],"  \
    "'labels':{'a':'1','b':'2'}},'data':{'a':'1','b':'2'}}"

#define SA                                                                 \
    "{'apiVersion':'v1','kind':'ServiceAccount','metadata':{'name':'sa',"  \
    "'finalizers':['f1','f0','f3'],'ownerReferences':[{'apiVersion':'v1'," \
    "'kind':'K','name':'o1','uid':'u1'},{'apiVersion':'v1','kind':'K',"    \
    "'name':'o2','uid':'u2','controller':true},{'apiVersion':'v1','kind':" \
    "'K','name':'o4','uid':'u4'}]},'secrets':[{'name':'s1'},{'name':'s2'," \
    "'namespace':'x'},{'name':'s5'}],'imagePullSecrets':[{'name':'p1'}]}"

#define NS                                                                   \
    "{'apiVersion':'v1','kind':'Namespace','metadata':{'name':'ns'},'spec':" \
    "{'finalizers':['kubernetes','x']},'status':{'phase':'Active',"          \
    "'conditions':[{'type':'A','status':'True'},{'type':'B','status':"       \
    "'False'},{'type':'C','status':'True'}]}}"

static const patch_case cases[] = {
    /* JSON patch */
    {"json", "", "", CM, "[{'op':'add','path':'/data/c','value':'3'}]", 1},
    {"json", "", "", CM,
     "[{'op':'add','path':'/metadata/finalizers/-1','value':'x'},"
     "{'op':'replace','path':'/metadata/finalizers/-3','value':'y'},"
     "{'op':'remove','path':'/metadata/annotations/a~1b'},"
     "{'op':'move','from':'/metadata/annotations/m~0n','path':'/data/m'},"
     "{'op':'copy','from':'/data/zz','path':'/data/n'}]",
     1},
    {"json", "", "", CM, "[{'op':'replace','path':'/data/zz','value':'x'}]", 1},
    {"json", "", "", CM, "[{'op':'test','path':'/data/a','value':'2'}]", 1},
    {"json", "", "", CM, "[{'op':'remove','path':'/data/zz'}]", 1},
    {"json", "", "", CM, "[{'op':'remove','path':'/spec/y'}]", 1},
    {"json", "", "", CM,
     "[{'op':'add','path':'/metadata/finalizers/x','value':'x'}]", 1},
    {"json", "", "", CM, "[{'op':'move','from':'/data/zz','path':'/data/c'}]",
     1},
    {"json", "", "", CM,
     "[{'op':'copy','from':'/metadata/finalizers/9','path':'/data/c'}]", 1},
    {"json", "", "", CM, "[{'op':'bogus','path':'/a'}]", 1},
    {"json", "", "", CM, "[{'op':'replace','path':1,'value':1}]", 1},
    {"json", "", "", CM, "{'op':'add'}", 1},
    /* merge patch */
    {"merge", "", "", CM,
     "{'metadata':{'labels':{'a':null,'c':'3'},'finalizers':['z']},"
     "'data':{'b':null,'n':{'x':null,'y':1}}}",
     1},
    /* strategic merge patch */
    {"strategic", "", "ServiceAccount", SA,
     "{'metadata':{'finalizers':['f2','f0']}}", 1},
    {"strategic", "", "ServiceAccount", SA,
     "{'metadata':{'$deleteFromPrimitiveList/finalizers':['f1'],"
     "'$setElementOrder/finalizers':['f2','f3','f0'],'finalizers':['f2']}}",
     1},
    {"strategic", "", "ServiceAccount", SA,
     "{'metadata':{'ownerReferences':[{'apiVersion':'v1','kind':'K','name':"
     "'o3','uid':'u3'},{'uid':'u2','name':'two'},{'$patch':'delete','uid':"
     "'u1'}],'$setElementOrder/ownerReferences':[{'uid':'u3'},{'uid':'u2'},"
     "{'uid':'u1'},{'uid':'u4'}]}}",
     1},
    {"strategic", "", "ServiceAccount", SA,
     "{'secrets':[{'$patch':'delete','name':'s2'},{'name':'s6'},"
     "{'name':'s5','namespace':'y'}],'$setElementOrder/secrets':[{'name':"
     "'s6'},{'name':'s1'},{'name':'s5'}],'imagePullSecrets':[{'name':'p2'}]}",
     1},
    {"strategic", "", "ServiceAccount", SA,
     "{'metadata':{'ownerReferences':[{'$patch':'replace'},{'apiVersion':"
     "'v1','kind':'K','name':'o9','uid':'u9'}]}}",
     1},
    {"strategic", "", "ConfigMap", CM,
     "{'metadata':{'labels':{'$patch':'replace','z':'1'},'annotations':"
     "{'$patch':'delete'}},'data':{'a':null,'c':'3'}}",
     1},
    {"strategic", "", "ConfigMap", CM,
     "{'metadata':{'$retainKeys':['name','labels'],'labels':{'q':'1'}}}", 1},
    {"strategic", "", "Namespace", NS,
     "{'spec':{'$deleteFromPrimitiveList/finalizers':['x']},'status':"
     "{'conditions':[{'type':'B','status':'True'},{'type':'D','status':"
     "'Unknown'},{'$patch':'delete','type':'A'}],"
     "'$setElementOrder/conditions':[{'type':'B'},{'type':'D'},{'type':"
     "'C'}]}}",
     1},
    {"strategic", "", "ConfigMap", CM,
     "{'metadata':{'$retainKeys':['name'],'labels':{'q':'1'}}}", 1},
    {"strategic", "", "ConfigMap", CM,
     "{'metadata':{'ownerReferences':[{'$patch':'merge'}]}}", 1},
    {"strategic", "", "ConfigMap", CM,
     "{'metadata':{'$deleteFromPrimitiveList':['f1']}}", 1},
    {"strategic", "", "ConfigMap", CM, "{'metadata':{'finalizers':[{'a':1}]}}",
     0},
    {"strategic", "", "ConfigMap", CM,
     "{'metadata':{'$setElementOrder/finalizers':['zz'],'finalizers':"
     "['q']}}",
     0},
};

static void test_patch_kubectl__patches_agree_with_kubectl(void **state)
{
    (void)state;
    if (!have_kubectl()) {
        skip();
    }
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        dtk_json *doc = js(cases[i].doc);

        compare(&cases[i], &doc);
        dtk_json_free(doc);
    }
}

/* The request bodies kubectl apply sent (test/fixtures/kubectl-apply),
 * applied to the objects its create left behind. */
static dtk_json *fixture(const char *name)
{
    char path[256];
    dtk_buf text = DTK_BUF_INIT(1 << 20);
    dtk_json *v = NULL;
    FILE *f;
    size_t n;
    char chunk[4096];

    snprintf(path, sizeof(path), "test/fixtures/kubectl-apply/%s.json", name);
    f = fopen(path, "rb");
    assert_non_null(f);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        dtk_buf_put(&text, chunk, n);
    }
    fclose(f);
    assert_int_equal(dtk_json_parse(&v, dtk_buf_cstr(&text), text.len), 0);
    dtk_buf_dispose(&text);
    return v;
}

static void test_patch_kubectl__apply_bodies_agree_with_kubectl(void **state)
{
    static const char *const pairs[][3] = {
        {"secret-data-create", "secret-data-patch", "Secret"},
        {"configmap-create", "configmap-remove-key-patch", "ConfigMap"},
        {"configmap-create", "configmap-labels-finalizers-patch", "ConfigMap"},
        {"serviceaccount-create", "serviceaccount-secrets-patch",
         "ServiceAccount"},
    };

    (void)state;
    if (!have_kubectl()) {
        skip();
    }
    for (size_t i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
        dtk_json *doc = fixture(pairs[i][0]);
        dtk_json *patch = fixture(pairs[i][1]);
        char *patch_text = dtk_json_to_string(patch);
        dtk_json *meta = dtk_json_get(doc, "metadata");
        patch_case c = {"strategic", "", pairs[i][2], NULL, NULL, 1};

        dtk_json_set(meta, "uid", dtk_json_new_string("u-1"));
        if (dtk_json_get(meta, "finalizers") != NULL) {
            dtk_json_append(dtk_json_get(meta, "finalizers"),
                            dtk_json_new_string("kubernetes.io/keep"));
        }
        /* compare() takes the patch as ' text; JSON without ' is fine. */
        assert_null(strchr(patch_text, '\''));
        c.patch = patch_text;
        compare(&c, &doc);
        dtk_free(patch_text);
        dtk_json_free(patch);
        dtk_json_free(doc);
    }
}

static void test_patch_kubectl__label_selector_errors_agree(void **state)
{
    static const char *const selectors[] = {
        "a:",
        "app=-x",
        "x notin",
        "a=b=c",
        "a,",
        ",a",
        "a b",
        "a>x",
        "a>-x",
        "a/b/c",
        "/a",
        "a/",
        "a in (x",
        "Example.com/a",
        "a in (z,-y,-x)",
        "!a=b",
        "a in (x y)",
        "!!a",
        "a in (x,",
        "k==v,k2=v2",
        "a==",
        "in in (in)",
        "a in ()",
        "a in (x, y),b in (c)",
    };
    char path[128];

    (void)state;
    if (!have_kubectl()) {
        skip();
    }
    snprintf(path, sizeof(path), "%s/doc.json", tmpdir);
    {
        dtk_json *svc = js("{'apiVersion':'v1','kind':'Service','metadata':"
                           "{'name':'s'},'spec':{'ports':[{'port':80}],"
                           "'selector':{'a':'b'}}}");

        write_file(path, svc);
        dtk_json_free(svc);
    }
    for (size_t i = 0; i < sizeof(selectors) / sizeof(selectors[0]); i++) {
        dtk_buf out = DTK_BUF_INIT(0), err = DTK_BUF_INIT(0);
        dtk_buf prefix = DTK_BUF_INIT(0);
        char *argv[] = {
            "kubectl", "set", "selector",           "--local", "-f", path, "-o",
            "json",    "--",  (char *)selectors[i], NULL};
        dtk_labelsel *sel = NULL;
        int error = dtk_labelsel_parse(&sel, selectors[i]);
        const char *e;

        run(&out, &err, argv);
        dtk_buf_printf(
            &prefix,
            "error: couldn't parse the selector string \"%s\": ", selectors[i]);
        e = dtk_buf_cstr(&err);
        if (strncmp(e, dtk_buf_cstr(&prefix), prefix.len) == 0) {
            char *nl = strchr(e + prefix.len, '\n');

            if (nl != NULL) {
                *nl = '\0';
            }
            if (error == 0) {
                fail_msg("%s: kubectl refused it, we parsed it", selectors[i]);
            }
            assert_string_equal(dtk_error_last()->message, e + prefix.len);
        } else if (error != 0) {
            /* kubectl parsed it (it may refuse the operator later). */
            fail_msg("%s: kubectl parsed it, we failed: %s", selectors[i],
                     dtk_error_last()->message);
        }
        dtk_labelsel_free(sel);
        dtk_buf_dispose(&prefix);
        dtk_buf_dispose(&out);
        dtk_buf_dispose(&err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patch_kubectl__patches_agree_with_kubectl),
        cmocka_unit_test(test_patch_kubectl__apply_bodies_agree_with_kubectl),
        cmocka_unit_test(test_patch_kubectl__label_selector_errors_agree),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

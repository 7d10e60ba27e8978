/* Test harness: the @sap/sbf test broker (test/broker/server.js) as a child
 * process on 127.0.0.1.
 * Thread-safety: none; start, use and stop from one thread.
 *
 * dtk_test_broker_start installs the broker's npm packages when they are
 * missing (test/broker/ensure.sh), starts `node test/broker/server.js` on a
 * free port with a random password, and waits until /health answers. The
 * child gets PR_SET_PDEATHSIG(SIGKILL) and also watches the parent's PID,
 * so it never outlives a crashed test. dtk_test_broker_stop ends it by PID
 * (SIGTERM, then SIGKILL) and removes its temporary directory. Tests run
 * from the repository root (run-tests.sh does).
 */
#ifndef DTK_TEST_SUPPORT_BROKER_H
#define DTK_TEST_SUPPORT_BROKER_H

#include "pkg/json/json.h"

typedef struct dtk_test_broker dtk_test_broker;

typedef struct dtk_test_broker_options {
    const char *bearer_token; /* also accept this bearer token */
    const char *tls_cert;     /* PEM file paths: serve HTTPS */
    const char *tls_key;
} dtk_test_broker_options;

/* clang-format off */
#define DTK_TEST_BROKER_OPTIONS_INIT { NULL, NULL, NULL }
/* clang-format on */

/* Returns DTK_EUNAVAIL with a message (and the broker log on stderr) when
 * the broker cannot be installed or started within 60 s. */
int dtk_test_broker_start(dtk_test_broker **out,
                          const dtk_test_broker_options *options);
void dtk_test_broker_stop(dtk_test_broker *broker);

/* "http://127.0.0.1:<port>" (or https); borrowed. */
const char *dtk_test_broker_url(const dtk_test_broker *broker);
const char *dtk_test_broker_username(const dtk_test_broker *broker);
/* The broker's random password, for the client under test only; never
 * print it. */
const char *dtk_test_broker_password(const dtk_test_broker *broker);

/* Calls a /test endpoint (no auth): method "GET", "POST" or "DELETE",
 * body JSON text or NULL. *out (may be NULL) receives the parsed answer.
 * Returns DTK_ERROR unless the answer is 200. */
int dtk_test_broker_call(dtk_test_broker *broker,
                         const char *method,
                         const char *path,
                         const char *body,
                         dtk_json **out);

/* POST /test/reset: forget instances, bindings, requests and faults. */
int dtk_test_broker_reset(dtk_test_broker *broker);

/* POST /test/faults with one rule (JSON text); see server.js. */
int dtk_test_broker_fault(dtk_test_broker *broker, const char *rule_json);

#endif

/*
 * The daemon's state across failures: acknowledged writes survive kill -9, an HSM that
 * disappears turns signing requests into 503 with Retry-After, and SIGHUP reloads the
 * role mapping while a connection stays open. Each test runs its own daemon.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"

static const char issue_body[] =
    "{\"subject\":\"MY-880101-14-5566\",\"audience\":\"" RP_ENTITY_ID "\","
    "\"assurance_level\":\"substantial\",\"validity_seconds\":600,"
    "\"attributes\":{\"given_name\":\"Aisyah\"}}";

static int setup(void **state)
{
    harness *h = calloc(1, sizeof(*h));

    if (h == NULL || harness_setup(h) != 0 || harness_start(h) != 0) {
        if (h != NULL)
            harness_teardown(h);
        free(h);
        return -1;
    }
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    harness *h = *state;

    harness_teardown(h);
    free(h);
    return 0;
}

/* Starts the daemon with the usual umask of a shell, 022, under which files are made
 * readable by everyone unless the daemon sets its own. */
static int setup_with_umask_022(void **state)
{
    mode_t previous = umask(022);
    int rc = setup(state);

    umask(previous);
    return rc;
}

/* Issues a credential and returns a copy of one member of the reply, such as
 * credential_id or assertion; the caller frees it. */
static char *issue_member(harness *h, const char *member)
{
    http_result result;
    char *value;

    assert_int_equal(harness_curl(h, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, &result),
                     0);
    if (result.status != 201)
        harness_dump_log(h);
    assert_int_equal(result.status, 201);
    value = strdup(json_string_value(json_object_get(result.json, member)));
    assert_non_null(value);
    http_result_clear(&result);
    return value;
}

static char *issue_credential(harness *h)
{
    return issue_member(h, "credential_id");
}

static const char *credential_status(harness *h, const char *id, http_result *result)
{
    char path[128];

    snprintf(path, sizeof(path), "/v1/credentials/%s", id);
    assert_int_equal(harness_curl(h, CLIENT_ISSUER, "GET", path, NULL, NULL, result), 0);
    assert_int_equal(result->status, 200);
    return json_string_value(json_object_get(result->json, "status"));
}

/* Fails unless the file at path exists and only its owner may read or write it. */
static void expect_private_file(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        fail_msg("%s: cannot stat the file", path);
    if ((st.st_mode & 077) != 0)
        fail_msg("%s: mode %03o, but the database holds claim values and must be 0600",
                 path, (unsigned)(st.st_mode & 0777));
}

/* The database and its WAL and shared-memory files hold claim values and the pseudonym
 * secret, so a fresh database is made 0600 whatever umask the daemon inherits. */
static void test_fresh_database_is_private(void **state)
{
    harness *h = *state;
    char path[PATH_MAX + 64];
    char *id = issue_credential(h);

    free(id);
    expect_private_file(h->db_path);
    snprintf(path, sizeof(path), "%s-wal", h->db_path);
    expect_private_file(path);
    snprintf(path, sizeof(path), "%s-shm", h->db_path);
    expect_private_file(path);
}

/* A database that others may read, as one made before the daemon set its umask, gets a
 * warning at start that names the file and the fix. */
static void test_readable_database_warned(void **state)
{
    harness *h = *state;
    char expected[PATH_MAX + 64];
    char *log;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(chmod(h->db_path, 0644), 0);
    assert_int_equal(harness_start(h), 0);
    snprintf(expected, sizeof(expected), "%s has mode 644", h->db_path);
    log = harness_wait_for_log(h, "\"database_permissions\"");
    assert_non_null(log);
    if (strstr(log, expected) == NULL)
        harness_dump_log(h);
    assert_non_null(strstr(log, "\"event\":\"database_permissions\""));
    assert_non_null(strstr(log, expected));
    assert_non_null(strstr(log, "Run chmod 600 on it"));
    free(log);
}

static void test_writes_survive_kill9(void **state)
{
    harness *h = *state;
    char *revoked = issue_credential(h);
    char *active = issue_credential(h);
    http_result result;
    char path[128];

    snprintf(path, sizeof(path), "/v1/credentials/%s/revocation", revoked);
    harness_curl(h, CLIENT_ISSUER, "POST", path, NULL, "{\"reason\":\"fraud\"}", &result);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);

    /* No clean shutdown: whatever was acknowledged must be on disk already. */
    assert_int_equal(harness_stop(h, SIGKILL), 128 + SIGKILL);
    assert_int_equal(harness_start(h), 0);

    assert_string_equal(credential_status(h, active, &result), "active");
    http_result_clear(&result);
    assert_string_equal(credential_status(h, revoked, &result), "revoked");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(result.json, "revocation"), "reason")),
                        "fraud");
    http_result_clear(&result);
    free(revoked);
    free(active);
}

static void test_lost_hsm_gives_503(void **state)
{
    harness *h = *state;
    char away[PATH_MAX + 64];
    raw_client *client = NULL;
    http_result result;

    /* Open the connection first: the TLS handshake needs the HSM too. */
    assert_int_equal(raw_connect(h, "NORMAL", CLIENT_ISSUER, &client), 0);
    assert_int_equal(raw_request(client, "GET", "/healthz", NULL, &result), 0);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);

    snprintf(away, sizeof(away), "%s.away", h->tokens_dir);
    assert_int_equal(rename(h->tokens_dir, away), 0);

    assert_int_equal(raw_request(client, "POST", "/v1/credentials", issue_body, &result), 0);
    if (result.status != 503)
        harness_dump_log(h);
    assert_int_equal(result.status, 503);
    assert_string_equal(http_result_code(&result), "hsm_unavailable");
    assert_non_null(strstr(result.headers, "Retry-After: 7"));
    http_result_clear(&result);
    raw_close(&client);

    assert_int_equal(rename(away, h->tokens_dir), 0);
}

static void test_sighup_reloads_roles(void **state)
{
    harness *h = *state;
    raw_client *client = NULL;
    http_result result;

    assert_int_equal(raw_connect(h, "NORMAL", CLIENT_STRANGER, &client), 0);
    assert_int_equal(raw_request(client, "GET", "/v1/issuers", NULL, &result), 0);
    assert_int_equal(result.status, 403);
    assert_string_equal(http_result_code(&result), "client_not_registered");
    http_result_clear(&result);

    assert_int_equal(harness_append_config(h, "\n[client " CLIENT_STRANGER "]\n"
                                              "role = regulator\nsubject_cn = "
                                              CLIENT_STRANGER "\n"),
                     0);
    assert_int_equal(kill(h->pid, SIGHUP), 0);

    /* The reload runs on the daemon's main thread; poll on the open connection. */
    for (int i = 0; i < 100; i++) {
        assert_int_equal(raw_request(client, "GET", "/v1/issuers", NULL, &result), 0);
        if (result.status == 200)
            break;
        http_result_clear(&result);
        usleep(50 * 1000);
    }
    assert_int_equal(result.status, 200);
    http_result_clear(&result);
    raw_close(&client);

    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

static void test_bad_reload_keeps_config(void **state)
{
    harness *h = *state;
    http_result result;

    assert_int_equal(harness_append_config(h, "\n[server]\nno_such_key = 1\n"), 0);
    assert_int_equal(kill(h->pid, SIGHUP), 0);
    usleep(300 * 1000);

    harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    char *log = test_read_file(h->log_path, NULL);
    assert_non_null(strstr(log, "\"event\":\"reload_failed\""));
    assert_non_null(strstr(log, "unknown key"));
    free(log);
}

/* Sends SIGHUP and waits for the log line of event after the ones already there. */
static char *reload_and_wait(harness *h, const char *event)
{
    char *log = test_read_file(h->log_path, NULL);
    size_t before = log != NULL ? strlen(log) : 0;

    free(log);
    assert_int_equal(kill(h->pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        log = test_read_file(h->log_path, NULL);
        if (log != NULL && strlen(log) > before && strstr(log + before, event) != NULL)
            return log;
        free(log);
        usleep(50 * 1000);
    }
    harness_dump_log(h);
    fail_msg("no %s after SIGHUP", event);
    return NULL;
}

static size_t count_text(const char *text, const char *needle)
{
    size_t count = 0;

    for (const char *at = text; (at = strstr(at, needle)) != NULL; at++)
        count++;
    return count;
}

/* Changing a key that is read only at start warns once for that key. */
static void test_sighup_warns_start_only_key(void **state)
{
    harness *h = *state;
    char command[PATH_MAX + 256];
    char *log;

    /* Each key is given once per section, so the test edits the lines in place. */
    snprintf(command, sizeof(command),
             "sed -i -e 's/^threads = 2$/threads = 3/' -e 's/^port = .*/port = 1/' "
             "-e 's|^entity_id = " NODE_ENTITY_ID "$|entity_id = https://other.example/idsvc|' "
             "'%s'",
             h->config_path);
    assert_int_equal(system(command), 0);
    log = reload_and_wait(h, "\"event\":\"reloaded\"");
    assert_int_equal(count_text(log, "\"event\":\"restart_required\""), 3);
    assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"server\","
                                "\"key\":\"entity_id\""));
    assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"server\","
                                "\"key\":\"port\""));
    assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"limits\","
                                "\"key\":\"threads\""));
    assert_non_null(strstr(log, "[server] port changed, but it is read only at start"));
    free(log);

    /* The node still listens on the port it started with, and still issues as the
     * entity it started as. */
    http_result result;

    harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    http_result_clear(&result);
    assert_int_equal(harness_curl(h, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  issue_body, &result),
                     0);
    assert_int_equal(result.status, 201);
    assert_non_null(strstr(json_string_value(json_object_get(result.json, "assertion")),
                           ">" NODE_ENTITY_ID "</saml:Issuer>"));
    http_result_clear(&result);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* A certificate written over the file that [tls] certificate names is a change too:
 * the reload reports it as start-only, though the path in the file is the same. */
static void test_sighup_warns_changed_certificate(void **state)
{
    harness *h = *state;
    char *log;

    assert_int_equal(harness_make_saml_certificate(h), 0);
    assert_int_equal(harness_run("cp '%s/tls.pem' '%s/tls-kept.pem' && "
                                 "cp '%s/saml-cert.pem' '%s/tls.pem'",
                                 h->token.dir, h->token.dir, h->token.dir, h->token.dir),
                     0);
    log = reload_and_wait(h, "\"event\":\"reloaded\"");
    assert_int_equal(count_text(log, "\"event\":\"restart_required\""), 1);
    assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"tls\","
                                "\"key\":\"certificate\""));
    free(log);
    assert_int_equal(harness_run("cp '%s/tls-kept.pem' '%s/tls.pem'", h->token.dir,
                                 h->token.dir),
                     0);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* Writes to target two files of the harness folder and then tail. With cut, only the
 * first three lines of the second file are written, which cuts its PEM block. */
static void join_files(harness *h, const char *first, const char *second, bool cut,
                       const char *tail, const char *target)
{
    char command[4 * PATH_MAX];

    snprintf(command, sizeof(command),
             "cd '%s' && { cat %s; %s %s; printf '%%s' '%s'; } > %s", h->token.dir, first,
             cut ? "head -n 3" : "cat", second, tail, target);
    assert_int_equal(system(command), 0);
}

static const json_t *find_issuer(const http_result *result, const char *id)
{
    size_t index;
    const json_t *issuer;

    json_array_foreach(json_object_get(result->json, "issuers"), index, issuer) {
        if (strcmp(json_string_value(json_object_get(issuer, "id")), id) == 0)
            return issuer;
    }
    return NULL;
}

/* An issuer file with a bad block after a good one fails the reload and names the
 * file; one with two certificates trusts both keys. */
static void test_reload_checks_trust_file(void **state)
{
    harness *h = *state;
    http_result result;
    char *log;

    join_files(h, "ca.pem", CLIENT_RP ".pem", true, "", "half.pem");
    assert_int_equal(harness_append_config(h, "\n[issuer half]\nentity_id = "
                                              "https://half.example\ncertificate = "
                                              "half.pem\n"),
                     0);
    log = reload_and_wait(h, "\"event\":\"reload_failed\"");
    assert_non_null(strstr(log, "[issuer half] certificate "));
    assert_non_null(strstr(log, "half.pem: line "));
    assert_non_null(strstr(log, "the CERTIFICATE block has no END line; the file is "
                                "truncated"));
    assert_null(strstr(log, "\"event\":\"reloaded\""));
    free(log);
    harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_null(find_issuer(&result, "half"));
    http_result_clear(&result);

    join_files(h, "ca.pem", CLIENT_RP ".pem", false, "trailing text\n", "half.pem");
    log = reload_and_wait(h, "text outside a PEM block");
    assert_non_null(strstr(log, "\"event\":\"reload_failed\""));
    free(log);

    join_files(h, "ca.pem", CLIENT_RP ".pem", false, "", "half.pem");
    free(reload_and_wait(h, "\"event\":\"reloaded\""));
    harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_non_null(find_issuer(&result, "half"));
    assert_int_equal(json_array_size(json_object_get(find_issuer(&result, "half"), "keys")),
                     2);
    http_result_clear(&result);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* A trust file or a configuration file that is a FIFO fails the reload with its reason.
 * Opening a FIFO for reading waits for a writer, which would hold the main thread, and
 * then the node would handle neither a later SIGHUP nor SIGTERM. */
static void test_reload_rejects_fifo(void **state)
{
    harness *h = *state;
    char pipe_path[PATH_MAX + 32];
    char saved_path[PATH_MAX + 48];
    http_result result;
    char *log;

    snprintf(pipe_path, sizeof(pipe_path), "%s/pipe.pem", h->token.dir);
    assert_int_equal(mkfifo(pipe_path, 0600), 0);
    assert_int_equal(harness_append_config(h, "\n[issuer pipe]\nentity_id = "
                                              "https://pipe.example\ncertificate = "
                                              "pipe.pem\n"),
                     0);
    log = reload_and_wait(h, "\"event\":\"reload_failed\"");
    assert_non_null(strstr(log, "pipe.pem: not a regular file"));
    free(log);

    snprintf(saved_path, sizeof(saved_path), "%s.saved", h->config_path);
    assert_int_equal(rename(h->config_path, saved_path), 0);
    assert_int_equal(mkfifo(h->config_path, 0600), 0);
    log = reload_and_wait(h, "idsvc.conf: not a regular file");
    assert_non_null(strstr(log, "\"event\":\"reload_failed\""));
    free(log);
    assert_int_equal(unlink(h->config_path), 0);
    assert_int_equal(rename(saved_path, h->config_path), 0);

    harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result);
    assert_int_equal(result.status, 200);
    assert_null(find_issuer(&result, "pipe"));
    http_result_clear(&result);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* Asserts that the start fails with start_failed and returns the daemon's log; the
 * caller frees it. */
static char *start_failure_log(harness *h)
{
    char *log;

    assert_int_equal(harness_start(h), -1);
    log = test_read_file(h->log_path, NULL);
    assert_non_null(log);
    assert_non_null(strstr(log, "\"event\":\"start_failed\""));
    return log;
}

/* A client CA file with text after its certificate stops the start. */
static void test_start_rejects_bad_client_ca(void **state)
{
    harness *h = *state;
    char *log;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    join_files(h, "ca.pem", "/dev/null", false, "-----BEGIN CERTIFICATE-----\nMIIB\n",
               "ca-cut.pem");
    assert_int_equal(harness_append_config(h, "\n[tls]\nclient_ca = ca-cut.pem\n"), 0);
    log = start_failure_log(h);
    assert_non_null(strstr(log, "[tls] client_ca "));
    assert_non_null(strstr(log, "ca-cut.pem: line "));
    assert_non_null(strstr(log, "has no END line; the file is truncated"));
    free(log);
}

/* A client CA file that is a pipe stops the start before it is read, with a message
 * naming it. A pipe reads empty the second time, which the reader of client CAs, which
 * reads each file twice, also rejects. */
static void test_start_rejects_client_ca_pipe(void **state)
{
    harness *h = *state;
    char *log;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_run("cd '%s' && mkfifo ca-pipe.pem", h->token.dir), 0);
    assert_int_equal(harness_append_config(h, "\n[tls]\nclient_ca = ca-pipe.pem\n"), 0);
    log = start_failure_log(h);
    assert_null(strstr(log, "AddressSanitizer"));
    assert_non_null(strstr(log, "ca-pipe.pem: not a regular file"));
    free(log);
}

/* A [saml] certificate of another key stops the start, and the message names both. */
static void test_start_rejects_other_saml_key(void **state)
{
    harness *h = *state;
    char *log;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    /* tls.pem certifies the TLS key, not the SAML key. */
    assert_int_equal(harness_append_config(h, "\n[saml]\ncertificate = tls.pem\n"), 0);
    log = start_failure_log(h);
    assert_non_null(strstr(log, "[saml] certificate "));
    assert_non_null(strstr(log,
                           "tls.pem does not contain the public key of [hsm] saml_key "
                           "pkcs11:token="));
    assert_non_null(strstr(log, "object=idsvc-saml"));
    free(log);
}

/* A [tls] certificate of another key stops the start, instead of a start that then fails
 * every handshake with a bad signature. */
static void test_start_rejects_other_tls_key(void **state)
{
    harness *h = *state;
    char *log;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_make_saml_certificate(h), 0);
    assert_int_equal(harness_run("cp '%s/saml-cert.pem' '%s/tls.pem'", h->token.dir,
                                 h->token.dir),
                     0);
    log = start_failure_log(h);
    assert_non_null(strstr(log, "[tls] certificate "));
    assert_non_null(strstr(log, "tls.pem does not contain the public key of [hsm] tls_key "
                                "pkcs11:token="));
    assert_non_null(strstr(log, "object=idsvc-tls"));
    free(log);
}

/* Issues a credential and returns its assertion; the caller frees it. */
static char *issue_assertion(harness *h)
{
    return issue_member(h, "assertion");
}

/* Posts assertion as the relying party and returns the status; code receives the
 * problem code, or "" for a success. */
static long verify_assertion(harness *h, const char *assertion, char *code, size_t code_size)
{
    json_t *doc = json_pack("{s:s, s:s, s:[s]}", "assertion", assertion, "purpose",
                            "account opening", "claims", "given_name");
    char *body = json_dumps(doc, JSON_COMPACT);
    http_result result;
    long status;

    assert_non_null(body);
    assert_int_equal(harness_curl(h, CLIENT_RP, "POST", "/v1/verifications", NULL, body,
                                  &result),
                     0);
    status = result.status;
    snprintf(code, code_size, "%s", http_result_code(&result));
    http_result_clear(&result);
    free(body);
    json_decref(doc);
    return status;
}

/* After a rotation of the SAML key, the credentials the old key signed fail, until
 * [saml] previous_certificate lists that key's public half. New credentials verify
 * either way. */
static void test_previous_saml_key_trusted(void **state)
{
    harness *h = *state;
    char *before = issue_assertion(h);
    char *again = strdup(before);
    char code[64];

    assert_non_null(again);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    setenv("GNUTLS_PIN", TEST_TOKEN_PIN, 1);
    assert_int_equal(harness_run("p11tool --provider %s --login --generate-privkey=rsa "
                                 "--bits 2048 --label idsvc-saml-2 --id 03 "
                                 "'pkcs11:token=" TEST_TOKEN_LABEL "' >/dev/null 2>&1",
                                 h->token.module_path),
                     0);
    assert_int_equal(harness_run("sed -i 's/object=idsvc-saml;/object=idsvc-saml-2;/' '%s'",
                                 h->config_path),
                     0);
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(verify_assertion(h, before, code, sizeof(code)), 422);
    assert_string_equal(code, "signature_invalid");

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_append_config(h, "\n[saml]\nprevious_certificate = saml.pub\n"),
                     0);
    assert_int_equal(harness_start(h), 0);
    /* The failed verification recorded nothing, so the same assertion is not a replay. */
    assert_int_equal(verify_assertion(h, again, code, sizeof(code)), 200);
    free(before);
    free(again);
    before = issue_assertion(h);
    assert_int_equal(verify_assertion(h, before, code, sizeof(code)), 200);
    free(before);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* A [saml] certificate of the SAML key passes the same check. */
static void test_start_accepts_saml_certificate(void **state)
{
    harness *h = *state;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_make_saml_certificate(h), 0);
    assert_int_equal(harness_append_config(h, "\n[saml]\ncertificate = saml-cert.pem\n"),
                     0);
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* ---- [saml] next_certificate -------------------------------------------------------- */

/* Generates the next SAML key, P-256 beside the current RSA key, with p11tool, and a
 * certificate of it signed in the token in next-cert.pem. */
static void make_next_saml_key(const harness *h)
{
    const char *admin = getenv("IDSVC_ADMIN");

    assert_non_null(admin);
    setenv("GNUTLS_PIN", TEST_TOKEN_PIN, 1);
    assert_int_equal(harness_run("p11tool --provider %s --login --generate-privkey=ecdsa "
                                 "--curve=secp256r1 --label idsvc-saml-next --id 04 "
                                 "'pkcs11:token=" TEST_TOKEN_LABEL "' --outfile %s/next.pub "
                                 ">/dev/null 2>&1",
                                 h->token.module_path, h->token.dir),
                     0);
    assert_int_equal(harness_run("'%s' keys certificate --key 'pkcs11:token=" TEST_TOKEN_LABEL
                                 ";object=idsvc-saml-next;type=private' --subject "
                                 "'/CN=idsvc test node next SAML' --days 2 --out "
                                 "'%s/next-cert.pem' --module '%s' --token " TEST_TOKEN_LABEL
                                 " --pin-file '%s' >/dev/null",
                                 admin, h->token.dir, h->token.module_path,
                                 h->token.pin_path),
                     0);
}

/* Returns the base64 body of the first PEM block of the file at path, on one line, as
 * the metadata writes a certificate. */
static char *pem_body(const char *path)
{
    char *text = test_read_file(path, NULL);
    char *body;
    char *out;
    char *end;

    assert_non_null(text);
    body = strstr(text, "-----\n");
    assert_non_null(body);
    body += 6;
    end = strstr(body, "-----END");
    assert_non_null(end);
    out = calloc(1, (size_t)(end - body) + 1);
    assert_non_null(out);
    for (char *c = body, *o = out; c < end; c++)
        if (*c != '\n')
            *o++ = *c;
    free(text);
    return out;
}

/* Runs `xmlsec1 --verify` on the metadata xml with only the certificate at cert_path;
 * returns its status. */
static int xmlsec_verify_metadata(const harness *h, const char *xml, const char *cert_path)
{
    char path[PATH_MAX + 32];
    FILE *file;

    snprintf(path, sizeof(path), "%s/metadata.xml", h->token.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(xml, file);
    assert_int_equal(fclose(file), 0);
    return harness_run("xmlsec1 --verify --id-attr:ID "
                       "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor "
                       "--pubkey-cert-pem '%s' '%s' >'%s/xmlsec1.out' 2>&1",
                       cert_path, path, h->token.dir);
}

/* The metadata lists the next key as a second signing KeyDescriptor, and its signature
 * verifies with the current key's certificate and not with the next one's, because the
 * node never signs with the next key. */
static void test_metadata_announces_next_key(void **state)
{
    harness *h = *state;
    char current_path[PATH_MAX + 32];
    char next_path[PATH_MAX + 32];
    http_result result;
    char *current;
    char *next;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_make_saml_certificate(h), 0);
    make_next_saml_key(h);
    assert_int_equal(harness_append_config(h, "\n[saml]\ncertificate = saml-cert.pem\n"
                                              "next_certificate = next-cert.pem\n"),
                     0);
    assert_int_equal(harness_start(h), 0);

    assert_int_equal(harness_curl(h, NULL, "GET", "/saml/metadata", NULL, NULL, &result), 0);
    assert_int_equal(result.status, 200);
    snprintf(current_path, sizeof(current_path), "%s/saml-cert.pem", h->token.dir);
    snprintf(next_path, sizeof(next_path), "%s/next-cert.pem", h->token.dir);
    current = pem_body(current_path);
    next = pem_body(next_path);
    assert_int_equal(count_text(result.body, "<md:KeyDescriptor use=\"signing\">"), 2);
    assert_non_null(strstr(result.body, current));
    assert_non_null(strstr(result.body, next));
    /* The current key's descriptor comes first. */
    assert_true(strstr(result.body, current) < strstr(result.body, next));
    assert_non_null(strstr(result.body, "xmldsig-more#rsa-sha256"));
    assert_null(strstr(result.body, "xmldsig-more#ecdsa-sha256"));

    assert_int_equal(xmlsec_verify_metadata(h, result.body, current_path), 0);
    assert_int_not_equal(xmlsec_verify_metadata(h, result.body, next_path), 0);
    free(current);
    free(next);
    http_result_clear(&result);

    /* A changed list is read only at start: a SIGHUP warns that it waits for a restart.
     * next.pub is the same key as a bare public key, so it replaces the certificate. */
    {
        char command[sizeof(h->config_path) + 96];

        snprintf(command, sizeof(command),
                 "sed -i 's/^next_certificate = next-cert.pem$/next_certificate = next.pub/' "
                 "'%s'", h->config_path);
        assert_int_equal(system(command), 0);
    }
    {
        char *log = reload_and_wait(h, "\"event\":\"reloaded\"");

        assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"saml\","
                                    "\"key\":\"next_certificate\""));
        free(log);
    }
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* The metadata announces the start's next key until a restart, so a SIGHUP that drops
 * the next_certificate line and lists that key for an [issuer] is rejected: relying
 * parties would take that issuer's key as the node's. */
static void test_reload_keeps_announced_key_own(void **state)
{
    harness *h = *state;
    char command[sizeof(h->config_path) + 64];
    http_result result;
    char *log;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    make_next_saml_key(h);
    assert_int_equal(harness_append_config(h, "\n[saml]\nnext_certificate = next-cert.pem\n"),
                     0);
    assert_int_equal(harness_start(h), 0);

    snprintf(command, sizeof(command), "sed -i '/^next_certificate = /d' '%s'",
             h->config_path);
    assert_int_equal(system(command), 0);
    assert_int_equal(harness_append_config(h, "\n[issuer partner]\n"
                                              "entity_id = https://partner.example/idp\n"
                                              "certificate = next-cert.pem\n"),
                     0);
    log = reload_and_wait(h, "\"event\":\"reload_failed\"");
    assert_non_null(strstr(log, "[issuer partner] trusts the key with SHA-256 "));
    assert_non_null(strstr(log, "which the metadata announces as the node's next SAML key "
                                "since the start"));
    free(log);

    assert_int_equal(harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result),
                     0);
    assert_int_equal(result.status, 200);
    assert_null(strstr(result.body, "partner"));
    http_result_clear(&result);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/* Runs `idsvc --check` on the harness's configuration; returns its status with its
 * output in output. */
static int check_config(const harness *h, char *output, size_t size)
{
    char command[2 * PATH_MAX];

    snprintf(command, sizeof(command), "'%s' --config '%s' --check", getenv("IDSVC_DAEMON"),
             h->config_path);
    return test_run_capture(command, output, size);
}

/* Expects the start and, unless check_passes, --check to fail with each of the messages.
 * The caller stopped the daemon and wrote the configuration. */
static void expect_next_rejected(harness *h, bool check_passes, const char *const *messages,
                                 size_t count)
{
    char output[4096];
    char *log;

    if (check_passes) {
        assert_int_equal(check_config(h, output, sizeof(output)), 0);
    } else {
        assert_int_equal(check_config(h, output, sizeof(output)), 1);
        assert_non_null(strstr(output, "\"event\":\"check_failed\""));
        for (size_t i = 0; i < count; i++) {
            if (strstr(output, messages[i]) == NULL)
                fprintf(stderr, "--check lacks \"%s\": %s\n", messages[i], output);
            assert_non_null(strstr(output, messages[i]));
        }
    }
    log = start_failure_log(h);
    for (size_t i = 0; i < count; i++) {
        if (strstr(log, messages[i]) == NULL)
            fprintf(stderr, "the start's log lacks \"%s\": %s\n", messages[i], log);
        assert_non_null(strstr(log, messages[i]));
    }
    free(log);
}

/* A next key that the node signs with already stops the start. --check has no HSM, so
 * it cannot know the current key. */
static void test_next_certificate_current_key(void **state)
{
    static const char *const messages[] = {
        "[saml] next_certificate ",
        "saml.pub holds the key with SHA-256 ",
        "which the node already trusts under its own entity ID",
    };
    harness *h = *state;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_append_config(h, "\n[saml]\nnext_certificate = saml.pub\n"), 0);
    expect_next_rejected(h, true, messages, sizeof(messages) / sizeof(messages[0]));
}

/* A file that is not PEM stops --check and the start with the reader's reason. */
static void test_next_certificate_bad_file(void **state)
{
    static const char *const messages[] = {
        "[saml] next_certificate ",
        "next-bad.pem",
        "text outside a PEM block",
    };
    harness *h = *state;
    char path[PATH_MAX + 32];
    FILE *file;

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    snprintf(path, sizeof(path), "%s/next-bad.pem", h->token.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs("not a certificate\n", file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(harness_append_config(h, "\n[saml]\nnext_certificate = next-bad.pem\n"),
                     0);
    expect_next_rejected(h, false, messages, sizeof(messages) / sizeof(messages[0]));
}

/* Makes the daemon sign with the token's key of the label from its next start on. */
static void use_saml_key(const harness *h, const char *label)
{
    assert_int_equal(harness_run("sed -i '/^saml_key = /s/;object=[^;]*;/;object=%s;/' "
                                 "'%s'",
                                 label, h->config_path),
                     0);
}

/* Removes each line of the configuration that starts with "key = ". */
static void remove_config_key(const harness *h, const char *key)
{
    assert_int_equal(harness_run("sed -i '/^%s = /d' '%s'", key, h->config_path), 0);
}

/* Returns the SHA-256 of the SubjectPublicKeyInfo in next.pub as hex, as GET
 * /v1/issuers lists a key. The caller frees it. */
static char *next_key_sha256(const harness *h)
{
    char command[PATH_MAX + 128];
    char output[256] = "";

    snprintf(command, sizeof(command),
             "openssl pkey -pubin -in '%s/next.pub' -outform DER | sha256sum",
             h->token.dir);
    assert_int_equal(test_run_capture(command, output, sizeof(output)), 0);
    output[strcspn(output, " \n")] = '\0';
    assert_int_equal(strlen(output), 64);
    return strdup(output);
}

/* Returns how many keys the "self" entry of GET /v1/issuers lists, and whether one of
 * them has the SHA-256 in sha256. */
static size_t self_key_count(harness *h, const char *sha256, bool *listed)
{
    http_result result;
    const json_t *keys;
    const json_t *key;
    size_t index;
    size_t count;

    assert_int_equal(
        harness_curl(h, CLIENT_RP, "GET", "/v1/issuers", NULL, NULL, &result), 0);
    assert_int_equal(result.status, 200);
    keys = json_object_get(find_issuer(&result, "self"), "keys");
    assert_non_null(keys);
    *listed = false;
    json_array_foreach(keys, index, key) {
        if (strcmp(json_string_value(json_object_get(key, "sha256")), sha256) == 0)
            *listed = true;
    }
    count = json_array_size(keys);
    http_result_clear(&result);
    return count;
}

/*
 * Runs the daemon as the first process of a node to restart onto the new SAML key in a
 * rotation: it signs with the next key (P-256) and trusts the old key as
 * previous_certificate. Issues count assertions into assertions, which the caller frees.
 * The daemon is stopped before and after, and the configuration is then back on the old
 * key without previous_certificate.
 */
static void issue_with_next_key(harness *h, char **assertions, size_t count)
{
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    make_next_saml_key(h);
    use_saml_key(h, "idsvc-saml-next");
    assert_int_equal(
        harness_append_config(h, "\n[saml]\nprevious_certificate = saml.pub\n"), 0);
    assert_int_equal(harness_start(h), 0);
    for (size_t i = 0; i < count; i++) {
        assertions[i] = issue_assertion(h);
        assert_non_null(strstr(assertions[i], "xmldsig-more#ecdsa-sha256"));
    }
    assert_int_equal(harness_stop(h, SIGTERM), 0);
    use_saml_key(h, "idsvc-saml");
    remove_config_key(h, "previous_certificate");
}

/*
 * While the processes of a node restart one by one onto a new SAML key, a process still
 * on the old key verifies a credential that a process on the new key issued. It does so
 * when [saml] next_certificate lists the new key, and rejects the credential without
 * that line. One daemon plays both processes in turn, on one token and one database. The
 * old process still signs with its current key only.
 */
static void test_next_saml_key_trusted(void **state)
{
    harness *h = *state;
    char *assertion = NULL;
    char *again;
    char *next_sha256;
    char *own;
    char code[64];
    bool listed = false;

    issue_with_next_key(h, &assertion, 1);
    again = strdup(assertion);
    assert_non_null(again);
    next_sha256 = next_key_sha256(h);

    assert_int_equal(harness_start(h), 0);
    assert_int_equal(verify_assertion(h, assertion, code, sizeof(code)), 422);
    assert_string_equal(code, "signature_invalid");
    assert_int_equal(self_key_count(h, next_sha256, &listed), 1);
    assert_false(listed);

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(
        harness_append_config(h, "\n[saml]\nnext_certificate = next-cert.pem\n"), 0);
    assert_int_equal(harness_start(h), 0);
    /* The failed verification recorded nothing, so the same assertion is not a replay. */
    assert_int_equal(verify_assertion(h, again, code, sizeof(code)), 200);
    assert_string_equal(code, "");
    assert_int_equal(self_key_count(h, next_sha256, &listed), 2);
    assert_true(listed);

    own = issue_assertion(h);
    assert_non_null(strstr(own, "xmldsig-more#rsa-sha256"));
    assert_null(strstr(own, "xmldsig-more#ecdsa-sha256"));
    assert_int_equal(verify_assertion(h, own, code, sizeof(code)), 200);
    free(own);
    free(assertion);
    free(again);
    free(next_sha256);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

/*
 * The next keys that the node trusts are those of the start, as the metadata announces
 * them: a SIGHUP that adds or removes the next_certificate line logs restart_required
 * and changes neither the verification nor GET /v1/issuers.
 */
static void test_next_saml_key_trust_start_only(void **state)
{
    harness *h = *state;
    char *assertions[2] = {NULL, NULL};
    char *next_sha256;
    char code[64];
    bool listed = false;
    char *log;

    issue_with_next_key(h, assertions, 2);
    next_sha256 = next_key_sha256(h);
    assert_int_equal(harness_start(h), 0);

    assert_int_equal(
        harness_append_config(h, "\n[saml]\nnext_certificate = next-cert.pem\n"), 0);
    log = reload_and_wait(h, "\"event\":\"reloaded\"");
    assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"saml\","
                                "\"key\":\"next_certificate\""));
    free(log);
    assert_int_equal(verify_assertion(h, assertions[0], code, sizeof(code)), 422);
    assert_string_equal(code, "signature_invalid");
    assert_int_equal(self_key_count(h, next_sha256, &listed), 1);
    assert_false(listed);

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_start(h), 0);
    remove_config_key(h, "next_certificate");
    log = reload_and_wait(h, "\"event\":\"reloaded\"");
    assert_non_null(strstr(log, "\"event\":\"restart_required\",\"section\":\"saml\","
                                "\"key\":\"next_certificate\""));
    free(log);
    assert_int_equal(verify_assertion(h, assertions[0], code, sizeof(code)), 200);
    assert_int_equal(self_key_count(h, next_sha256, &listed), 2);
    assert_true(listed);

    /* A reloaded file that moves the start's next key to previous_certificate lists the
     * key once. */
    assert_int_equal(
        harness_append_config(h, "\n[saml]\nprevious_certificate = next-cert.pem\n"), 0);
    free(reload_and_wait(h, "\"event\":\"reloaded\""));
    assert_int_equal(self_key_count(h, next_sha256, &listed), 2);
    assert_true(listed);
    remove_config_key(h, "previous_certificate");

    assert_int_equal(harness_stop(h, SIGTERM), 0);
    assert_int_equal(harness_start(h), 0);
    assert_int_equal(verify_assertion(h, assertions[1], code, sizeof(code)), 422);
    assert_string_equal(code, "signature_invalid");
    free(assertions[0]);
    free(assertions[1]);
    free(next_sha256);
    assert_int_equal(harness_stop(h, SIGTERM), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_fresh_database_is_private, setup_with_umask_022,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_readable_database_warned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_survive_kill9, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lost_hsm_gives_503, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reloads_roles, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_reload_keeps_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_warns_start_only_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_warns_changed_certificate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_reload_checks_trust_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_rejects_fifo, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_rejects_bad_client_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_rejects_client_ca_pipe, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_rejects_other_saml_key, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_accepts_saml_certificate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_start_rejects_other_tls_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_previous_saml_key_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_announces_next_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_keeps_announced_key_own, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_certificate_current_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_certificate_bad_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_saml_key_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_saml_key_trust_start_only, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

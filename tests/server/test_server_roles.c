/*
 * Role mapping from client certificates and the configuration checks behind it, against
 * the real daemon. The CN value is compared as the certificate carries it, and a subject
 * with several CNs maps to no role. A subject_cn or entity_id that the checks reject
 * stops --check, the start and a SIGHUP reload alike.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"

/* 64 characters of two bytes each in UTF-8 ("é"), the longest CN a certificate may
 * carry, and 65 ASCII characters, one more. */
#define E64 "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"
#define X65 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static harness server;
static char *original_config; /* the configuration the daemon started with */

/* Runs a shell command in the harness folder and fails the test when it fails. */
static void run_in_folder(const char *command)
{
    char line[4 * PATH_MAX];

    snprintf(line, sizeof(line), "cd '%s' && %s", server.token.dir, command);
    if (system(line) != 0)
        fail_msg("command failed: %s", line);
}

/* Makes NAME.pem and NAME.key: a client certificate of the harness CA with the subject
 * of openssl's -subj form, which can write a multi-valued RDN. */
static void make_openssl_client(const char *name, const char *subject)
{
    char command[2048];

    snprintf(command, sizeof(command),
             "printf 'extendedKeyUsage=clientAuth\\nbasicConstraints=CA:FALSE\\n' "
             "> roles.ext && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
             "-nodes -utf8 -keyout %s.key -subj '%s' -out %s.csr 2>/dev/null && "
             "openssl x509 -req -in %s.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile roles.ext -out %s.pem 2>/dev/null",
             name, subject, name, name, name);
    run_in_folder(command);
}

/* The same with certtool and a template line such as cn = "...", because openssl
 * refuses a CN longer than 64 characters. */
static void make_certtool_client(const char *name, const char *template_line)
{
    char command[2048];

    snprintf(command, sizeof(command),
             "certtool --generate-privkey --key-type ecdsa --outfile %s.key 2>/dev/null && "
             "printf '%%s\\nexpiration_days = 2\\ntls_www_client\\n' '%s' "
             "> roles.tmpl && certtool --generate-certificate --load-privkey %s.key "
             "--load-ca-certificate ca.pem --load-ca-privkey ca.key --template roles.tmpl "
             "--outfile %s.pem >/dev/null 2>&1",
             name, template_line, name, name);
    run_in_folder(command);
}

/* Reads the SHA-256 fingerprint of NAME.pem as hex with colons. */
static void read_fingerprint(const char *name, char *out, size_t size)
{
    char command[PATH_MAX + 128];
    char line[256] = "";
    FILE *pipe;

    snprintf(command, sizeof(command),
             "openssl x509 -in '%s/%s.pem' -noout -fingerprint -sha256", server.token.dir,
             name);
    pipe = popen(command, "r");
    assert_non_null(pipe);
    assert_non_null(fgets(line, sizeof(line), pipe));
    pclose(pipe);
    assert_non_null(strchr(line, '='));
    snprintf(out, size, "%s", strchr(line, '=') + 1);
    out[strcspn(out, "\n")] = '\0';
}

static int setup(void **state)
{
    char pinned[128];
    char ambiguous[128];
    char text[2048];

    (void)state;
    if (harness_setup(&server) != 0)
        return -1;
    make_openssl_client("acme", "/CN=Acme, Inc.");
    make_openssl_client("two-cn", "/CN=" CLIENT_ISSUER "/CN=" CLIENT_RP);
    make_openssl_client("two-cn-reversed", "/CN=" CLIENT_RP "/CN=" CLIENT_ISSUER);
    make_openssl_client("multi-valued", "/CN=" CLIENT_ISSUER "+CN=" CLIENT_RP);
    make_openssl_client("two-cn-pinned", "/CN=pinned-a/CN=pinned-b");
    make_openssl_client("e64", "/CN=" E64);
    make_certtool_client("x65", "cn = \"" X65 "\"");
    make_openssl_client("amb-bank", "/CN=amb-bank");
    read_fingerprint("two-cn-pinned", pinned, sizeof(pinned));
    read_fingerprint("amb-bank", ambiguous, sizeof(ambiguous));
    /* amb-bank.pem matches [rp amb-bank] by its CN and [rp amb-other] by its
     * fingerprint. */
    snprintf(
        text, sizeof(text),
        "\n[client acme]\nrole = node\nsubject_cn = Acme, Inc.\n"
        "[client e64]\nrole = node\nsubject_cn = " E64 "\n"
        "[client pinned]\nrole = regulator\nfingerprint = %s\n"
        "[rp amb-bank]\nentity_id = https://amb-bank.example/sp\njurisdiction = SG\n"
        "allowed_claims = given_name\nsubject_cn = amb-bank\n"
        "[rp amb-other]\nentity_id = https://amb-other.example/sp\njurisdiction = SG\n"
        "allowed_claims = given_name\nfingerprint = %s\n",
        pinned, ambiguous);
    if (harness_append_config(&server, text) != 0)
        return -1;
    original_config = test_read_file(server.config_path, NULL);
    return original_config != NULL && harness_start(&server) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    harness_teardown(&server);
    free(original_config);
    return 0;
}

/* Calls GET /v1/issuers, which every role may use, and expects status and code. */
static void expect_issuers(const char *client, long status, const char *code)
{
    http_result result;

    assert_int_equal(harness_curl(&server, client, "GET", "/v1/issuers", NULL, NULL, &result),
                     0);
    if (result.status != status)
        fprintf(stderr, "%s: HTTP %ld %s\n", client, result.status,
                result.body != NULL ? result.body : "");
    assert_int_equal(result.status, status);
    assert_string_equal(http_result_code(&result), code);
    http_result_clear(&result);
}

/* A CN with a comma matches as written; GnuTLS's DN string would read "Acme\, Inc.". */
static void test_cn_with_comma_maps(void **state)
{
    char *log;

    (void)state;
    expect_issuers("acme", 200, "");
    log = harness_wait_for_log(&server, "\"caller\":\"acme\"");
    assert_non_null(log);
    assert_non_null(strstr(log, "\"role\":\"node\",\"caller\":\"acme\""));
    free(log);
}

/* 64 characters that take 128 bytes in UTF-8 still match. */
static void test_utf8_cn_of_64_characters_maps(void **state)
{
    (void)state;
    expect_issuers("e64", 200, "");
}

/* A subject with two CNs, in either order or in one RDN, maps to no role, even for a
 * fingerprint mapping, and the log gives the reason. */
static void test_two_cns_map_no_role(void **state)
{
    static const char *const clients[] = {"two-cn", "two-cn-reversed", "multi-valued",
                                          "two-cn-pinned"};
    char *log;

    (void)state;
    for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++)
        expect_issuers(clients[i], 403, "client_not_registered");
    log = harness_wait_for_log(&server, "\"event\":\"client_certificate_cn_unusable\"");
    assert_non_null(log);
    assert_non_null(strstr(log, "the subject has more than one CN, so the certificate "
                                "maps to no role"));
    free(log);
}

/* A CN longer than 64 characters matches no subject_cn, and the log gives the reason. */
static void test_overlong_cn_logged(void **state)
{
    char *log;

    (void)state;
    expect_issuers("x65", 403, "client_not_registered");
    log = harness_wait_for_log(&server, "is longer than 64 characters, so no subject_cn "
                                        "matches it");
    assert_non_null(log);
    assert_non_null(strstr(log, "is longer than 64 characters, so no subject_cn matches it"));
    free(log);
}

/* A certificate that matches two sections gets no role, and the log names both. */
static void test_two_matching_sections_rejected(void **state)
{
    char *log;

    (void)state;
    expect_issuers("amb-bank", 403, "client_mapping_ambiguous");
    log = harness_wait_for_log(&server, "\"event\":\"client_certificate_ambiguous\"");
    assert_non_null(log);
    assert_non_null(
        strstr(log, "\"level\":\"error\",\"event\":\"client_certificate_ambiguous\""));
    assert_non_null(strstr(log,
                           "[rp amb-other] matches its fingerprint and [rp amb-bank] "
                           "its subject_cn, so the certificate gets no role"));
    free(log);
}

/* Writes the original configuration followed by extra to path. */
static void write_config(const char *path, const char *extra)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    fputs(original_config, file);
    fputs(extra, file);
    assert_int_equal(fclose(file), 0);
}

/* The same with the first line that starts with start replaced by line, because a key
 * may be given once per section. A leading line break in start matches only at the
 * beginning of a line. */
static void write_config_replacing(const char *path, const char *start, const char *line,
                                   const char *extra)
{
    const char *old = strstr(original_config, start);
    FILE *file = fopen(path, "w");

    assert_non_null(old);
    assert_non_null(file);
    if (*old == '\n')
        old++;
    fwrite(original_config, 1, (size_t)(old - original_config), file);
    fprintf(file, "%s\n", line);
    fputs(strchr(old, '\n') + 1, file);
    fputs(extra, file);
    assert_int_equal(fclose(file), 0);
}

/* Runs head (a shell command without the configuration), --config path and arguments,
 * and returns the exit status; output receives what it printed. */
static int run_with_config(const char *head, const char *path, const char *arguments,
                           char *output, size_t size)
{
    char command[3 * PATH_MAX + 64];
    size_t used = 0;
    FILE *pipe;
    int status;

    snprintf(command, sizeof(command), "%s --config '%s'%s 2>&1", head, path, arguments);
    pipe = popen(command, "r");
    assert_non_null(pipe);
    used = fread(output, 1, size - 1, pipe);
    output[used] = '\0';
    status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Runs the daemon on the configuration at path, with --check or without, and returns
 * its exit status; output receives what it printed. */
static int run_daemon(const char *path, bool check, char *output, size_t size)
{
    char head[PATH_MAX + 16];

    snprintf(head, sizeof(head), "'%s'", getenv("IDSVC_DAEMON"));
    return run_with_config(head, path, check ? " --check" : "", output, size);
}


/* Sends SIGHUP and waits for the reload_failed line after the ones already there;
 * returns the new part of the log. */
static char *reload_and_fail(void)
{
    char *log = test_read_file(server.log_path, NULL);
    size_t before = log != NULL ? strlen(log) : 0;

    free(log);
    assert_int_equal(kill(server.pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        log = test_read_file(server.log_path, NULL);
        if (log != NULL && strlen(log) > before &&
            strstr(log + before, "\"event\":\"reload_failed\"") != NULL) {
            memmove(log, log + before, strlen(log + before) + 1);
            return log;
        }
        free(log);
        usleep(50 * 1000);
    }
    harness_dump_log(&server);
    fail_msg("no reload_failed after SIGHUP");
    return NULL;
}

/* Writes extra into the configuration at path and asserts that --check rejects it
 * with check_failed and message. */
static void expect_check_rejects(const char *path, const char *extra, const char *message)
{
    char output[4096];

    write_config(path, extra);
    assert_int_equal(run_daemon(path, true, output, sizeof(output)), 1);
    if (strstr(output, message) == NULL)
        fprintf(stderr, "--check: expected \"%s\" in: %s\n", message, output);
    assert_non_null(strstr(output, "\"event\":\"check_failed\""));
    assert_non_null(strstr(output, message));
}

/* Writes extra into the running node's configuration and asserts that a SIGHUP rejects
 * it with message and that the node still serves the configuration it had. */
static void expect_reload_rejects(const char *extra, const char *message)
{
    char *log;

    write_config(server.config_path, extra);
    log = reload_and_fail();
    if (strstr(log, message) == NULL)
        fprintf(stderr, "SIGHUP: expected \"%s\" in: %s\n", message, log);
    assert_non_null(strstr(log, message));
    free(log);
    expect_issuers("acme", 200, "");
}

/* Each rejected file stops --check and a start with its message, and a SIGHUP keeps
 * the running configuration. */
static void test_configuration_rejections(void **state)
{
    static const struct {
        const char *extra;
        const char *message;
    } cases[] = {
        {"[client empty]\nrole = regulator\nsubject_cn =\n",
         "[client empty] subject_cn: the value is empty"},
        {"[rp long]\nentity_id = https://long.example/sp\njurisdiction = SG\n"
         "subject_cn = " X65 "\n",
         "[rp long] subject_cn: 65 characters, but a certificate's CN has at most 64"},
        {"[issuer self]\nentity_id = " NODE_ENTITY_ID "\ncertificate = ca.pem\n",
         "[issuer self] entity_id"},
        {"[issuer a]\nentity_id = https://agency.example\ncertificate = ca.pem\n"
         "[issuer b]\nentity_id = https://agency.example\ncertificate = ca.pem\n",
         "[issuer a] and [issuer b] have the same entity_id"},
        {"[rp bank-two]\nentity_id = " RP_ENTITY_ID "\njurisdiction = MY\n"
         "subject_cn = bank-two\n",
         "[rp " CLIENT_RP "] and [rp bank-two] have the same entity_id"},
        {"[server\n", "the section header has no closing ]"},
        {"[rp bank-two]\nentity_id\n",
         "the line is not a section header, a key = value line or a comment"},
    };
    char path[PATH_MAX + 32];
    char output[4096];

    (void)state;
    snprintf(path, sizeof(path), "%s/rejected.conf", server.token.dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_check_rejects(path, cases[i].extra, cases[i].message);
        assert_int_equal(run_daemon(path, false, output, sizeof(output)), 1);
        assert_non_null(strstr(output, "\"event\":\"start_failed\""));
        assert_non_null(strstr(output, cases[i].message));
        expect_reload_rejects(cases[i].extra, cases[i].message);
    }
    write_config(server.config_path, "");
}

/* A [saml] previous_certificate that a start rejects, such as another issuer's key or a
 * private key, stops --check, and a SIGHUP keeps the running configuration. The start
 * reads these files after it locks the database, which the running node has locked. */
static void test_previous_certificate_rejections(void **state)
{
    static const struct {
        const char *extra;
        const char *message;
    } cases[] = {
        /* Another issuer's key trusted as the node's own would sign in its name. */
        {"[saml]\nprevious_certificate = acme.pem\n[issuer acme-idp]\n"
         "entity_id = https://acme.example/idp\ncertificate = acme.pem\n",
         "[issuer acme-idp] trusts the key with SHA-256 "},
        {"[saml]\nprevious_certificate = acme.key\n",
         "[saml] previous_certificate "},
    };
    char path[PATH_MAX + 32];

    (void)state;
    snprintf(path, sizeof(path), "%s/rejected.conf", server.token.dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_check_rejects(path, cases[i].extra, cases[i].message);
        expect_reload_rejects(cases[i].extra, cases[i].message);
    }
    write_config(server.config_path, "");
}

/* A [saml] next_certificate that a start rejects, such as another issuer's key, which
 * the metadata would announce as the node's, stops --check, and a SIGHUP keeps the
 * running configuration. */
static void test_next_certificate_rejections(void **state)
{
    static const struct {
        const char *extra;
        const char *message;
    } cases[] = {
        {"[saml]\nnext_certificate = acme.pem\n[issuer acme-idp]\n"
         "entity_id = https://acme.example/idp\ncertificate = acme.pem\n",
         "acme.pem holds the key with SHA-256 "},
        {"[saml]\nnext_certificate = acme.pem\n[issuer acme-idp]\n"
         "entity_id = https://acme.example/idp\ncertificate = acme.pem\n",
         "which [issuer acme-idp] trusts, so the metadata would announce that issuer's key "
         "as the node's"},
        {"[saml]\nnext_certificate = acme.key\n", "[saml] next_certificate "},
        {"[saml]\nnext_certificate = gone.pem\n", "[saml] next_certificate "},
        {"[saml]\nnext_certificate = gone.pem\n", "gone.pem"},
        {"[saml]\nnext_certificate = acme.pem\nnext_certificate = acme.pem\n",
         "acme.pem holds the key with SHA-256 "},
        {"[saml]\nnext_certificate = acme.pem\nnext_certificate = acme.pem\n",
         " a second time, which the metadata would announce twice"},
        /* The node can neither sign SAML with an Ed25519 key nor verify with one. */
        {"[saml]\nnext_certificate = ed25519.pub\n",
         "ed25519.pub holds a key of type ED25519, but the node signs SAML only with RSA "
         "or EC keys"},
    };
    char path[PATH_MAX + 32];

    (void)state;
    run_in_folder("openssl genpkey -algorithm ed25519 2>/dev/null | "
                  "openssl pkey -pubout -out ed25519.pub");
    snprintf(path, sizeof(path), "%s/rejected.conf", server.token.dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_check_rejects(path, cases[i].extra, cases[i].message);
        expect_reload_rejects(cases[i].extra, cases[i].message);
    }
    write_config(server.config_path, "");
}

/* Writes count new P-256 public keys into the file name of the token folder. */
static void make_public_keys(const char *name, unsigned count)
{
    char command[256];

    snprintf(command, sizeof(command),
             "rm -f %s && for i in $(seq %u); do openssl genpkey -algorithm EC "
             "-pkeyopt ec_paramgen_curve:P-256 2>/dev/null | openssl pkey -pubout >> %s; "
             "done",
             name, count, name);
    run_in_folder(command);
}

/* A verification tries at most 16 keys of one issuer, so --check, the start and a SIGHUP
 * reject an issuer with more, the node itself included, whose [hsm] saml_key counts. A
 * SIGHUP keeps the next keys of the start, so only --check and a start count a changed
 * next_certificate. */
static void test_issuer_key_count_limited(void **state)
{
    static const struct {
        const char *extra;
        const char *message;
        bool reload_rejects;
    } cases[] = {
        {"[saml]\nprevious_certificate = sixteen.pub\n",
         "the node would trust 17 keys under its own entity ID", true},
        {"[saml]\nprevious_certificate = fifteen.pub\nnext_certificate = next.pub\n",
         "the node would trust 17 keys under its own entity ID", false},
        {"[issuer many]\nentity_id = https://many.example/idp\n"
         "certificate = seventeen.pub\n",
         "[issuer many] lists 17 keys, but a verification tries at most 16", true},
    };
    char path[PATH_MAX + 32];
    char output[4096];

    (void)state;
    make_public_keys("fifteen.pub", 15);
    make_public_keys("next.pub", 1);
    run_in_folder("cat fifteen.pub next.pub > sixteen.pub");
    make_public_keys("seventeen.pub", 17);
    snprintf(path, sizeof(path), "%s/rejected.conf", server.token.dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        expect_check_rejects(path, cases[i].extra, cases[i].message);
        if (cases[i].reload_rejects)
            expect_reload_rejects(cases[i].extra, cases[i].message);
    }

    /* Fifteen previous keys and the HSM key make 16, which a verification tries. */
    write_config(path, "[saml]\nprevious_certificate = fifteen.pub\n");
    if (run_daemon(path, true, output, sizeof(output)) != 0)
        fail_msg("--check rejected 16 keys of the node: %s", output);
    write_config(server.config_path, "");
}

/* --check reads the files a start reads without the HSM and the database, so a missing
 * key file or bundle fails it as it would fail the start. */
static void test_check_reads_files(void **state)
{
    static const struct {
        const char *extra;
        const char *message;
    } cases[] = {
        {"[issuer gone]\nentity_id = https://gone.example/saml\ncertificate = gone.pem\n",
         "[issuer gone] certificate"},
        {"[policy]\nbundle = gone.xml\n[regulator r]\nkey = ca.pem\nsigns = base\n",
         "[policy] bundle:"},
        {"[policy]\nbundle = gone.xml\n[regulator r]\nkey = gone-key.pem\nsigns = base\n",
         "[policy] regulator keys:"},
    };
    char path[PATH_MAX + 32];
    char output[4096];

    (void)state;
    snprintf(path, sizeof(path), "%s/checked.conf", server.token.dir);
    write_config(path, "");
    if (run_daemon(path, true, output, sizeof(output)) != 0)
        fprintf(stderr, "the valid file: %s\n", output);
    assert_int_equal(run_daemon(path, true, output, sizeof(output)), 0);
    assert_non_null(strstr(output, "the configuration is valid"));

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_check_rejects(path, cases[i].extra, cases[i].message);
}

/* --check makes the checks of a start that need no HSM, database or network: the listen
 * address, the PIN source, the module file and the database folder. A start fails with
 * the same message. */
static void test_check_matches_start(void **state)
{
    static const struct {
        const char *start; /* the beginning of the line to replace */
        const char *line;
        const char *message;
    } cases[] = {
        {"listen = ", "listen = localhost",
         "rejected.conf:3: [server] listen: \\\"localhost\\\" is not an IPv4 or IPv6 address"},
        {"pin_file = ", "pin_file = no-such-pin", "[hsm] pin_file: cannot open PIN file"},
        {"pin_file = ", "pin_env = IDSVC_TEST_EMPTY_PIN",
         "[hsm] pin_env: environment variable IDSVC_TEST_EMPTY_PIN, named for the PIN, is "
         "empty"},
        {"pin_file = ", "pin_env = IDSVC_TEST_UNSET_PIN",
         "[hsm] pin_env: environment variable IDSVC_TEST_UNSET_PIN, named for the PIN, is "
         "not set"},
        {"module = ", "module = no-such-module.so", "[hsm] module: "},
        {"path = idsvc.db", "path = no-such-folder/idsvc.db",
         "[database] path: the folder "},
    };
    char path[PATH_MAX + 32];
    char output[4096];

    (void)state;
    assert_int_equal(setenv("IDSVC_TEST_EMPTY_PIN", "", 1), 0);
    assert_int_equal(unsetenv("IDSVC_TEST_UNSET_PIN"), 0);
    snprintf(path, sizeof(path), "%s/rejected.conf", server.token.dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        write_config_replacing(path, cases[i].start, cases[i].line, "");
        assert_int_equal(run_daemon(path, true, output, sizeof(output)), 1);
        if (strstr(output, cases[i].message) == NULL)
            fprintf(stderr, "case %zu: %s\n", i, output);
        assert_non_null(strstr(output, "\"event\":\"check_failed\""));
        assert_non_null(strstr(output, cases[i].message));

        assert_int_equal(run_daemon(path, false, output, sizeof(output)), 1);
        if (strstr(output, cases[i].message) == NULL)
            fprintf(stderr, "case %zu at start: %s\n", i, output);
        assert_non_null(strstr(output, "\"event\":\"start_failed\""));
        if (strstr(output, cases[i].message) == NULL)
            fprintf(stderr, "case %zu: %s\n", i, output);
        assert_non_null(strstr(output, cases[i].message));
    }
}

/* An open-file limit too low for [limits] max_connections fails --check as it fails the
 * start, where the listeners open. */
static void test_check_reads_file_limit(void **state)
{
    char head[PATH_MAX + 64];
    char output[4096];

    (void)state;
    snprintf(head, sizeof(head), "ulimit -n 48 && '%s'", getenv("IDSVC_DAEMON"));
    assert_int_equal(run_with_config(head, server.config_path, " --check", output,
                                     sizeof(output)),
                     1);
    if (strstr(output, "the open-file limit (ulimit -n) is 48") == NULL)
        fprintf(stderr, "--check printed:\n%s\n", output);
    assert_non_null(strstr(output, "\"event\":\"check_failed\""));
    assert_non_null(strstr(output, "the open-file limit (ulimit -n) is 48"));
}

/* Returns the message of the last start_failed line in output, or "". */
static const char *last_start_failure(const char *output)
{
    const char *last = "";

    for (const char *at = strstr(output, "\"start_failed\""); at != NULL;
         at = strstr(at + 1, "\"start_failed\""))
        last = at;
    return last;
}

/* A PIN that the token rejects stops the start with a last line that names the cause
 * and where the PIN came from, not only the failed key import. */
static void test_wrong_pin_names_source(void **state)
{
    char path[PATH_MAX + 32];
    char pin_path[PATH_MAX + 32];
    char expected[2 * PATH_MAX + 128];
    char output[4096];
    FILE *file;

    (void)state;
    snprintf(pin_path, sizeof(pin_path), "%s/wrong-pin", server.token.dir);
    file = fopen(pin_path, "w");
    assert_non_null(file);
    fputs("not-the-pin\n", file);
    assert_int_equal(fclose(file), 0);
    assert_int_equal(chmod(pin_path, 0600), 0);

    snprintf(path, sizeof(path), "%s/wrong-pin.conf", server.token.dir);
    write_config_replacing(path, "pin_file = ", "pin_file = wrong-pin", "");
    assert_int_equal(run_daemon(path, false, output, sizeof(output)), 1);
    snprintf(expected, sizeof(expected),
             "the token '" TEST_TOKEN_LABEL "' rejected the PIN read from [hsm] pin_file "
             "%s (tls_pin_rejected)",
             pin_path);
    if (strstr(last_start_failure(output), expected) == NULL)
        fprintf(stderr, "the daemon logged:\n%s\n", output);
    assert_non_null(strstr(last_start_failure(output), expected));
}

/* Without SOFTHSM2_CONF, SoftHSM2 looks in its default token folder and finds no token.
 * The daemon and idsvc-admin audit anchor then name the variable. */
static void test_missing_softhsm_conf_named(void **state)
{
    char head[PATH_MAX + 64];
    char output[4096];

    (void)state;
    snprintf(head, sizeof(head), "env -u SOFTHSM2_CONF '%s'", getenv("IDSVC_DAEMON"));
    assert_int_equal(run_with_config(head, server.config_path, "", output, sizeof(output)),
                     1);
    if (strstr(last_start_failure(output), "SOFTHSM2_CONF is not set") == NULL)
        fprintf(stderr, "the daemon logged:\n%s\n", output);
    assert_non_null(strstr(last_start_failure(output), "SOFTHSM2_CONF is not set"));

    snprintf(head, sizeof(head), "env -u SOFTHSM2_CONF '%s' audit anchor show",
             getenv("IDSVC_ADMIN"));
    assert_int_equal(run_with_config(head, server.config_path, "", output, sizeof(output)),
                     1);
    if (strstr(output, "SOFTHSM2_CONF is not set") == NULL)
        fprintf(stderr, "idsvc-admin printed:\n%s\n", output);
    assert_non_null(strstr(output, "no initialised token with label '" TEST_TOKEN_LABEL "'"));
    assert_non_null(strstr(output, "SOFTHSM2_CONF is not set"));
}

/* A reload keeps the entity_id the node started with, so an [issuer] with that
 * entity_id fails the reload even when the file names another [server] entity_id. */
static void test_reload_checks_running_entity_id(void **state)
{
    static const char renamed[] = "entity_id = https://renamed.example/idsvc";
    static const char extra[] = "[issuer old-self]\nentity_id = " NODE_ENTITY_ID "\n"
                                "certificate = ca.pem\n";
    char path[PATH_MAX + 32];
    char output[4096];
    char *log;

    (void)state;
    snprintf(path, sizeof(path), "%s/renamed.conf", server.token.dir);
    write_config_replacing(path, "\nentity_id = ", renamed, extra);
    assert_int_equal(run_daemon(path, true, output, sizeof(output)), 0);

    write_config_replacing(server.config_path, "\nentity_id = ", renamed, extra);
    log = reload_and_fail();
    assert_non_null(strstr(log, "[issuer old-self] entity_id"));
    assert_non_null(strstr(log, "is the node's own [server] entity_id"));
    free(log);
    write_config(server.config_path, "");
    expect_issuers("acme", 200, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cn_with_comma_maps),
        cmocka_unit_test(test_utf8_cn_of_64_characters_maps),
        cmocka_unit_test(test_two_cns_map_no_role),
        cmocka_unit_test(test_overlong_cn_logged),
        cmocka_unit_test(test_two_matching_sections_rejected),
        cmocka_unit_test(test_configuration_rejections),
        cmocka_unit_test(test_previous_certificate_rejections),
        cmocka_unit_test(test_next_certificate_rejections),
        cmocka_unit_test(test_issuer_key_count_limited),
        cmocka_unit_test(test_check_reads_files),
        cmocka_unit_test(test_check_matches_start),
        cmocka_unit_test(test_check_reads_file_limit),
        cmocka_unit_test(test_wrong_pin_names_source),
        cmocka_unit_test(test_missing_softhsm_conf_named),
        cmocka_unit_test(test_reload_checks_running_entity_id),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

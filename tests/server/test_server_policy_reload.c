/*
 * SIGHUP reloads the regulator keys, their bindings and the policy bundles as one unit.
 * The daemon starts with the shipped base (signed by the key "regulator", bound to
 * base), residency-sg (key "sg-regulator", bound to SG) and residency-my (key
 * "my-regulator", bound to MY). The tests then add a TH regulator with a residency-th
 * bundle of their own, whose import rule withholds age_over_18 from relying parties in
 * TH, so that a verification by bank-th shows which set decided. A reload that fails
 * must keep both the old keys and the old bundles. The tests run in order, each from
 * the state the previous one left.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "server_harness.h"

#define TH_ENTITY_ID "https://bank.example.th/sp"
#define KEY_URI(label) "pkcs11:token=" TEST_TOKEN_LABEL ";object=" label ";type=private"
#define TH_RULE "th.import.age-withheld"

/* A residency bundle for TH whose one rule withholds age_over_18 from relying parties
 * in TH, so that its presence changes the decision for bank-th. */
static const char TH_BUNDLE[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"residency-th\" version=\"1\"\n"
    "    kind=\"residency\" jurisdiction=\"TH\" base=\"asean-cn-base\"\n"
    "    regulator=\"Test regulator for TH\"\n"
    "    effectiveFrom=\"2026-01-01T00:00:00Z\" effectiveUntil=\"2028-01-01T00:00:00Z\">\n"
    "  <Title>Import rules of a test regulator for TH</Title>\n"
    "  <Rules>\n"
    "    <Rule id=\"" TH_RULE "\">\n"
    "      <Match scope=\"cross-border\">\n"
    "        <RelyingParty>TH</RelyingParty>\n"
    "        <Claim>age_over_18</Claim>\n"
    "      </Match>\n"
    "      <Effect>withhold</Effect>\n"
    "      <LegalBasis instrument=\"Test instrument\" provision=\"s 1\"/>\n"
    "      <Summary>Relying parties in TH receive no age check from abroad.</Summary>\n"
    "    </Rule>\n"
    "  </Rules>\n"
    "</PolicyBundle>\n";

/* The relying party in TH that the verifications use. */
static const char RP_TH[] = "\n[rp bank-th]\nentity_id = " TH_ENTITY_ID
                            "\njurisdiction = TH\nallowed_claims = age_over_18\n"
                            "subject_cn = " CLIENT_STRANGER "\n";

#define BUNDLES "bundle = base.xml\nbundle = residency-sg.xml\n"
#define MY_BUNDLE "bundle = residency-my.xml\n"
#define TH_BUNDLE_LINE "bundle = residency-th.xml\n"
#define REGULATORS                                                                     \
    "\n[regulator asean]\nkey = asean.pem\nsigns = base\n"                             \
    "\n[regulator pdpc-sg]\nkey = sg.pem\nsigns = SG\n"
#define MY_REGULATOR "\n[regulator pdpc-my]\nkey = my.pem\nsigns = MY\n"
#define TH_REGULATOR(signs) "\n[regulator pdpc-th]\nkey = th.pem\nsigns = " signs "\n"

static harness server;
static char *base_config; /* the harness's configuration, before any [policy] */

static int run(const char *format, ...) __attribute__((format(printf, 1, 2)));

static int run(const char *format, ...)
{
    char command[8192];
    va_list args;
    int status;

    va_start(args, format);
    vsnprintf(command, sizeof(command), format, args);
    va_end(args);
    status = test_run(command);
    if (status != 0)
        fprintf(stderr, "command failed (%d): %s\n", status, command);
    return status;
}

/* Signs source into target, both in the folder of the test token, with a token key. */
static int sign_bundle(const char *source, const char *target, const char *key)
{
    const harness *h = &server;

    return run("cd '%s' && '%s' policy sign '%s' --key '%s' --module '%s' --token "
               TEST_TOKEN_LABEL " --pin-file '%s' --output '%s' >/dev/null",
               h->token.dir, getenv("IDSVC_ADMIN"), source, key, h->token.module_path,
               h->token.pin_path, target);
}

/* Generates a P-256 key in the test token and writes its public key to file. */
static int make_key(const char *label, const char *id, const char *file)
{
    const harness *h = &server;

    return run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
               "--generate-privkey=ecdsa --curve=secp256r1 --label %s --id %s "
               "'pkcs11:token=" TEST_TOKEN_LABEL "' --outfile '%s/%s' >/dev/null 2>&1",
               h->token.module_path, label, id, h->token.dir, file);
}

static int write_text(const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    FILE *file;

    snprintf(path, sizeof(path), "%s/%s", server.token.dir, name);
    file = fopen(path, "w");
    if (file == NULL)
        return -1;
    fputs(text, file);
    return fclose(file);
}

/* Makes the regulator keys and signs the bundles: the base twice, as version 1 and 2. */
static int make_bundles(void)
{
    const char *source = getenv("IDSVC_SOURCE_DIR");
    const char *dir = server.token.dir;
    char path[PATH_MAX + 64];

    if (make_key("regulator", "21", "asean.pem") != 0 ||
        make_key("sg-regulator", "22", "sg.pem") != 0 ||
        make_key("my-regulator", "23", "my.pem") != 0 ||
        make_key("th-regulator", "24", "th.pem") != 0)
        return -1;
    if (run("sed 's/version=\"1\"/version=\"2\"/' '%s/policies/asean-cn-base.xml' > "
            "'%s/base-v2-source.xml'",
            source, dir) != 0 ||
        write_text("residency-th-source.xml", TH_BUNDLE) != 0)
        return -1;

    snprintf(path, sizeof(path), "%s/policies/asean-cn-base.xml", source);
    if (sign_bundle(path, "base.xml", KEY_URI("regulator")) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/policies/residency-sg.xml", source);
    if (sign_bundle(path, "residency-sg.xml", KEY_URI("sg-regulator")) != 0)
        return -1;
    snprintf(path, sizeof(path), "%s/policies/residency-my.xml", source);
    if (sign_bundle(path, "residency-my.xml", KEY_URI("my-regulator")) != 0)
        return -1;
    if (sign_bundle("base-v2-source.xml", "base-v2.xml", KEY_URI("regulator")) != 0 ||
        sign_bundle("residency-th-source.xml", "residency-th.xml", KEY_URI("th-regulator")) !=
            0)
        return -1;
    return 0;
}

/* Writes the daemon's configuration: the harness's sections, bank-th, then a [policy]
 * section with bundles and the [regulator] sections. */
static void write_policy(const char *bundles, const char *regulators)
{
    FILE *file = fopen(server.config_path, "w");

    assert_non_null(file);
    fprintf(file, "%s%s\n[policy]\n%s%s", base_config, RP_TH, bundles, regulators);
    assert_int_equal(fclose(file), 0);
}

static int start_server(void **state)
{
    (void)state;
    if (getenv("IDSVC_SOURCE_DIR") == NULL || getenv("IDSVC_ADMIN") == NULL) {
        fprintf(stderr, "IDSVC_SOURCE_DIR and IDSVC_ADMIN must be set\n");
        return -1;
    }
    if (harness_setup(&server) != 0 || make_bundles() != 0)
        goto fail;
    base_config = test_read_file(server.config_path, NULL);
    if (base_config == NULL)
        goto fail;
    write_policy(BUNDLES MY_BUNDLE, REGULATORS MY_REGULATOR);
    if (harness_start(&server) != 0)
        goto fail;
    return 0;
fail:
    harness_dump_log(&server);
    harness_teardown(&server);
    return -1;
}

static int stop_server(void **state)
{
    int status;

    (void)state;
    status = harness_stop(&server, SIGTERM);
    if (status != 0)
        harness_dump_log(&server);
    harness_teardown(&server);
    free(base_config);
    return status == 0 ? 0 : -1;
}

/* ---- The daemon's log ------------------------------------------------------------- */

static int count_log_lines(const char *text)
{
    char *log = test_read_file(server.log_path, NULL);
    int count = 0;

    for (const char *at = log; at != NULL && (at = strstr(at, text)) != NULL; at++)
        count++;
    free(log);
    return count;
}

/* Sends SIGHUP and waits until the log contains one more line with event. */
static void reload_and_wait(const char *event)
{
    int before = count_log_lines(event);

    assert_int_equal(kill(server.pid, SIGHUP), 0);
    for (int i = 0; i < 100 && count_log_lines(event) == before; i++)
        usleep(100 * 1000);
    if (count_log_lines(event) == before)
        harness_dump_log(&server);
    assert_int_equal(count_log_lines(event), before + 1);
}

/* Returns a copy of the last line of the log that contains text; the caller frees it. */
static char *last_log_line(const char *text)
{
    char *log = test_read_file(server.log_path, NULL);
    const char *found = NULL;
    const char *end;
    char *line;

    assert_non_null(log);
    for (const char *at = log; (at = strstr(at, text)) != NULL; at++)
        found = at;
    assert_non_null(found);
    while (found > log && found[-1] != '\n')
        found--;
    end = strchr(found, '\n');
    line = strndup(found, end != NULL ? (size_t)(end - found) : strlen(found));
    free(log);
    return line;
}

/* Expects the last policy_reload_failed line to carry code and to contain text. */
static void expect_reload_failure(const char *code, const char *text)
{
    char *line = last_log_line("\"event\":\"policy_reload_failed\"");
    char expected[128];

    snprintf(expected, sizeof(expected), "\"code\":\"%s\"", code);
    if (strstr(line, expected) == NULL || strstr(line, text) == NULL)
        fprintf(stderr, "policy_reload_failed line: %s\n", line);
    assert_non_null(strstr(line, expected));
    assert_non_null(strstr(line, text));
    free(line);
}

/* ---- Verifications -------------------------------------------------------------- */

/* Issues a credential of this node (an SG subject) for bank-th; the caller frees it. */
static char *issue_for_th(void)
{
    static const char body[] =
        "{\"subject\":\"SG-SUBJECT-0077\",\"audience\":\"" TH_ENTITY_ID "\","
        "\"assurance_level\":\"high\",\"validity_seconds\":3600,"
        "\"attributes\":{\"given_name\":\"Mei\",\"date_of_birth\":\"1990-02-03\"}}";
    http_result result;
    char *assertion;

    assert_int_equal(harness_curl(&server, CLIENT_ISSUER, "POST", "/v1/credentials", NULL,
                                  body, &result),
                     0);
    if (result.status != 201)
        fprintf(stderr, "issuing failed: %ld %s\n", result.status, result.body);
    assert_int_equal(result.status, 201);
    assertion = strdup(json_string_value(json_object_get(result.json, "assertion")));
    http_result_clear(&result);
    assert_non_null(assertion);
    return assertion;
}

/* Returns the version of bundle in the decision's policy list, or 0 when the set that
 * decided has no such bundle. */
static long bundle_version(const http_result *result, const char *bundle)
{
    const json_t *item;
    size_t i;

    json_array_foreach(json_object_get(result->json, "policy"), i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "id")), bundle) == 0)
            return (long)json_integer_value(json_object_get(item, "version"));
    }
    return 0;
}

/* Returns the rule that decided age_over_18 in a verification by bank-th, or "" when
 * no rule did. The response stays in result for further checks. */
static const char *decide_age(http_result *result)
{
    char *assertion = issue_for_th();
    json_t *doc = json_pack("{s:s, s:s, s:[s], s:i}", "assertion", assertion, "purpose",
                            "age_check", "claims", "age_over_18", "retention_days", 30);
    char *body = json_dumps(doc, JSON_COMPACT);
    const json_t *decision;

    assert_non_null(body);
    assert_int_equal(harness_curl(&server, CLIENT_STRANGER, "POST", "/v1/verifications",
                                  NULL, body, result),
                     0);
    free(body);
    json_decref(doc);
    free(assertion);
    if (result->status != 200)
        fprintf(stderr, "verification: %ld %s\n", result->status, result->body);
    assert_int_equal(result->status, 200);
    decision = json_array_get(json_object_get(result->json, "decisions"), 0);
    assert_non_null(decision);
    assert_string_equal(json_string_value(json_object_get(decision, "claim")),
                        "age_over_18");
    return json_string_value(json_object_get(decision, "rule")) != NULL
               ? json_string_value(json_object_get(decision, "rule"))
               : "";
}

/* Expects residency-th, and its rule, to decide or not to decide, with this base. */
static void expect_th_rules(bool in_force, long base_version)
{
    http_result result;
    const char *rule = decide_age(&result);

    if (in_force) {
        assert_string_equal(rule, TH_RULE);
        assert_int_equal(bundle_version(&result, "residency-th"), 1);
    } else {
        assert_string_not_equal(rule, TH_RULE);
        assert_int_equal(bundle_version(&result, "residency-th"), 0);
    }
    assert_int_equal(bundle_version(&result, "asean-cn-base"), base_version);
    http_result_clear(&result);
}

/* Expects the set that decides to contain residency-my or not. */
static void expect_my_bundle(bool in_force)
{
    http_result result;

    decide_age(&result);
    assert_int_equal(bundle_version(&result, "residency-my"), in_force ? 1 : 0);
    http_result_clear(&result);
}

/* ---- Audit log ------------------------------------------------------------------ */

/* Returns the payload of the last audit entry of kind; the caller releases it. */
static json_t *last_audit_payload(const char *kind)
{
    char path[160] = "/v1/audit/entries?from=0";
    json_t *found = NULL;

    for (;;) {
        http_result r;
        const json_t *item;
        size_t i;

        assert_int_equal(
            harness_curl(&server, CLIENT_REGULATOR, "GET", path, NULL, NULL, &r), 0);
        assert_int_equal(r.status, 200);
        json_array_foreach(json_object_get(r.json, "entries"), i, item)
        {
            json_t *entry = json_loads(
                json_string_value(json_object_get(item, "entry")), 0, NULL);

            if (entry != NULL &&
                strcmp(json_string_value(json_object_get(entry, "kind")), kind) == 0) {
                json_decref(found);
                found = json_incref(json_object_get(entry, "payload"));
            }
            json_decref(entry);
        }
        if (json_object_get(r.json, "next") == NULL) {
            http_result_clear(&r);
            break;
        }
        snprintf(path, sizeof(path), "%s",
                 json_string_value(json_object_get(r.json, "next")));
        http_result_clear(&r);
    }
    assert_non_null(found);
    return found;
}

/* True when the bundle list of an audit payload names bundle. */
static bool lists_bundle(const json_t *bundles, const char *bundle)
{
    const json_t *item;
    size_t i;

    json_array_foreach(bundles, i, item)
    {
        if (strcmp(json_string_value(json_object_get(item, "id")), bundle) == 0)
            return true;
    }
    return false;
}

/* ---- Tests ---------------------------------------------------------------------- */

/* A new [regulator] section and a bundle signed by its key apply at SIGHUP, with no
 * restart_required warning. */
static void test_reload_adds_regulator_key(void **state)
{
    (void)state;
    expect_th_rules(false, 1);

    write_policy(BUNDLES MY_BUNDLE TH_BUNDLE_LINE, REGULATORS MY_REGULATOR TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reloaded\"");
    expect_th_rules(true, 1);
    assert_int_equal(count_log_lines("\"restart_required\""), 0);
}

/* Removing the key of a bundle that stays listed fails the reload with the loader's
 * code. Neither the keys nor the bundles change, so a new base in the same file does
 * not apply either. */
static void test_reload_keeps_key_of_listed_bundle(void **state)
{
    json_t *payload;

    (void)state;
    write_policy("bundle = base-v2.xml\nbundle = residency-sg.xml\n" MY_BUNDLE TH_BUNDLE_LINE,
                 REGULATORS MY_REGULATOR);
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("key_untrusted", "residency-th.xml");
    expect_th_rules(true, 1);

    payload = last_audit_payload("policy_reload_failed");
    assert_string_equal(json_string_value(json_object_get(payload, "code")),
                        "key_untrusted");
    assert_true(lists_bundle(json_object_get(payload, "kept"), "residency-th"));
    json_decref(payload);
    assert_int_equal(count_log_lines("\"restart_required\""), 0);
}

/* Removing a key together with its bundle applies. The key is gone, so the same
 * bundle listed again without it is rejected as key_untrusted. */
static void test_reload_removes_key_with_bundle(void **state)
{
    (void)state;
    expect_my_bundle(true);

    write_policy(BUNDLES TH_BUNDLE_LINE, REGULATORS TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reloaded\"");
    expect_my_bundle(false);
    expect_th_rules(true, 1);

    write_policy(BUNDLES MY_BUNDLE TH_BUNDLE_LINE, REGULATORS TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("key_untrusted", "residency-my.xml");
    expect_my_bundle(false);
}

/* A key bound at SIGHUP to other jurisdictions may no longer sign residency-th. The
 * reload that rebinds it while the bundle is listed fails and the old binding stays.
 * Once the rebinding applies, listing the bundle again fails too. */
static void test_reload_rebinds_key(void **state)
{
    (void)state;
    write_policy(BUNDLES TH_BUNDLE_LINE, REGULATORS TH_REGULATOR("VN"));
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("key_not_authorised",
                          "regulator pdpc-th, which may sign only residency bundles of VN");
    expect_th_rules(true, 1);

    write_policy(BUNDLES, REGULATORS TH_REGULATOR("VN"));
    reload_and_wait("\"policy_reloaded\"");
    expect_th_rules(false, 1);

    write_policy(BUNDLES TH_BUNDLE_LINE, REGULATORS TH_REGULATOR("VN"));
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("key_not_authorised",
                          "regulator pdpc-th, which may sign only residency bundles of VN");
    expect_th_rules(false, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_adds_regulator_key),
        cmocka_unit_test(test_reload_keeps_key_of_listed_bundle),
        cmocka_unit_test(test_reload_removes_key_with_bundle),
        cmocka_unit_test(test_reload_rebinds_key),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}

/*
 * SIGHUP reloads the regulator keys, their bindings and the policy bundles as one unit.
 * The daemon starts with the shipped base (signed by the key "regulator", bound to
 * base), residency-sg (key "sg-regulator", bound to SG) and residency-my (key
 * "my-regulator", bound to MY). The tests then add a TH regulator with a residency-th
 * bundle of their own, whose import rule withholds age_over_18 from relying parties in
 * TH, so that a verification by bank-th shows which set decided. A reload that fails
 * must keep both the old keys and the old bundles. The loader also runs the checks of
 * `idsvc-admin policy validate`: warnings are logged and errors reject the load, at
 * SIGHUP and at start. A regulator key file that cannot be read fails with io_error,
 * and one that was read but contains no valid key with trust_invalid. The tests run in
 * order, each from the state the previous one left.
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
#include <sqlite3.h>

#include "server_harness.h"

#define TH_ENTITY_ID "https://bank.example.th/sp"
#define KEY_URI(label) "pkcs11:token=" TEST_TOKEN_LABEL ";object=" label ";type=private"
#define TH_RULE "th.import.age-withheld"

/* A residency bundle for TH whose rule TH_RULE withholds age_over_18 from relying
 * parties in TH, so that its presence changes the decision for bank-th. The variants
 * add rules that `idsvc-admin policy validate` warns about or rejects. */
#define TH_BUNDLE_HEAD(version)                                                          \
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"                                       \
    "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"residency-th\" version=\"" version  \
    "\"\n"                                                                               \
    "    kind=\"residency\" jurisdiction=\"TH\" base=\"asean-cn-base\"\n"                \
    "    regulator=\"Test regulator for TH\"\n"                                          \
    "    effectiveFrom=\"2026-01-01T00:00:00Z\" "                                        \
    "effectiveUntil=\"2028-01-01T00:00:00Z\">\n"                                         \
    "  <Title>Import rules of a test regulator for TH</Title>\n"                         \
    "  <Rules>\n"
#define TH_BUNDLE_TAIL "  </Rules>\n</PolicyBundle>\n"
#define TH_RULE_TEXT(id, match, effect)                                                  \
    "    <Rule id=\"" id "\">\n"                                                         \
    "      <Match" match "      </Match>\n"                                              \
    "      " effect "\n"                                                                 \
    "      <LegalBasis instrument=\"Test instrument\" provision=\"s 1\"/>\n"             \
    "      <Summary>A rule of the reload tests.</Summary>\n"                             \
    "    </Rule>\n"
#define TH_IMPORT(claim)                                                                 \
    " scope=\"cross-border\">\n        <RelyingParty>TH</RelyingParty>\n"                \
    "        <Claim>" claim "</Claim>\n"
#define TH_AGE_RULE                                                                      \
    TH_RULE_TEXT(TH_RULE, TH_IMPORT("age_over_18"), "<Effect>withhold</Effect>")

static const char TH_BUNDLE[] = TH_BUNDLE_HEAD("1") TH_AGE_RULE TH_BUNDLE_TAIL;

/* Warnings only: a derive list on a withhold rule (derive_ignored), and a rule for SG
 * subjects and relying parties that a TH bundle never applies to (never_matches). */
#define TH_DERIVE_IGNORED_RULE                                                           \
    TH_RULE_TEXT("th.import.given-name", TH_IMPORT("given_name"),                        \
                 "<Effect derive=\"age_over_18\">withhold</Effect>")
#define TH_NEVER_MATCHES_RULE                                                            \
    TH_RULE_TEXT("th.sg-only",                                                           \
                 ">\n        <Subject>SG</Subject>\n"                                    \
                 "        <RelyingParty>SG</RelyingParty>\n",                            \
                 "<Effect>withhold</Effect>")

static const char TH_BUNDLE_WARNINGS[] = TH_BUNDLE_HEAD("1")
    TH_AGE_RULE TH_DERIVE_IGNORED_RULE TH_NEVER_MATCHES_RULE TH_BUNDLE_TAIL;

/* An error, in version 2: a purpose that the base bundle does not declare
 * (unknown_purpose). */
#define TH_UNKNOWN_PURPOSE_RULE                                                          \
    TH_RULE_TEXT("th.import.gambling",                                                   \
                 " scope=\"cross-border\">\n        <RelyingParty>TH</RelyingParty>\n"   \
                 "        <Purpose>gambling</Purpose>\n",                                \
                 "<Effect>withhold</Effect>")

static const char TH_BUNDLE_UNKNOWN_PURPOSE[] =
    TH_BUNDLE_HEAD("2") TH_AGE_RULE TH_UNKNOWN_PURPOSE_RULE TH_BUNDLE_TAIL;

/* An error that the set compiles with: the rule applies to address, so it can never
 * release age_over_18, which is derived from date_of_birth (derive_unreachable). */
#define TH_UNREACHABLE_RULE                                                              \
    TH_RULE_TEXT("th.import.address", TH_IMPORT("address"),                              \
                 "<Effect derive=\"age_over_18\">disclose-derived</Effect>")

static const char TH_BUNDLE_UNREACHABLE[] =
    TH_BUNDLE_HEAD("2") TH_AGE_RULE TH_UNREACHABLE_RULE TH_BUNDLE_TAIL;

/* The relying party in TH that the verifications use. */
static const char RP_TH[] = "\n[rp bank-th]\nentity_id = " TH_ENTITY_ID
                            "\njurisdiction = TH\nallowed_claims = age_over_18\n"
                            "subject_cn = " CLIENT_STRANGER "\n";

#define BUNDLES "bundle = base.xml\nbundle = residency-sg.xml\n"
#define MY_BUNDLE "bundle = residency-my.xml\n"
#define TH_BUNDLE_LINE "bundle = residency-th.xml\n"
#define REGULATORS                                                                       \
    "\n[regulator asean]\nkey = asean.pem\nsigns = base\n"                               \
    "\n[regulator pdpc-sg]\nkey = sg.pem\nsigns = SG\n"
#define MY_REGULATOR "\n[regulator pdpc-my]\nkey = my.pem\nsigns = MY\n"
#define TH_REGULATOR(signs) "\n[regulator pdpc-th]\nkey = th.pem\nsigns = " signs "\n"

static harness server;
static char *base_config; /* the harness's configuration, before any [policy] */

/* Signs source into target, both in the folder of the test token, with a token key. */
static int sign_bundle(const char *source, const char *target, const char *key)
{
    const harness *h = &server;

    return harness_run("cd '%s' && '%s' policy sign '%s' --key '%s' --module '%s' "
               "--token " TEST_TOKEN_LABEL " --pin-file '%s' --output '%s' >/dev/null",
               h->token.dir, getenv("IDSVC_ADMIN"), source, key, h->token.module_path,
               h->token.pin_path, target);
}

/* Generates a P-256 key in the test token and writes its public key to file. */
static int make_key(const char *label, const char *id, const char *file)
{
    const harness *h = &server;

    return harness_run("GNUTLS_PIN='" TEST_TOKEN_PIN "' p11tool --provider '%s' --login "
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

/* The TH bundles, each signed from NAME-source.xml into NAME.xml. */
static const char *const TH_VARIANTS[] = {
    "residency-th",
    "th-warnings",
    "th-unknown-purpose",
    "th-unreachable",
};

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
    if (harness_run(
            "sed 's/version=\"1\"/version=\"2\"/' '%s/policies/asean-cn-base.xml' > "
            "'%s/base-v2-source.xml'",
            source, dir) != 0 ||
        harness_run("sed -e '/code=\"SG\"/d' -e 's/version=\"1\"/version=\"3\"/' "
                    "'%s/policies/asean-cn-base.xml' > '%s/base-no-sg-source.xml'",
                    source, dir) != 0 ||
        write_text("residency-th-source.xml", TH_BUNDLE) != 0 ||
        write_text("th-warnings-source.xml", TH_BUNDLE_WARNINGS) != 0 ||
        write_text("th-unknown-purpose-source.xml", TH_BUNDLE_UNKNOWN_PURPOSE) != 0 ||
        write_text("th-unreachable-source.xml", TH_BUNDLE_UNREACHABLE) != 0)
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
        sign_bundle("base-no-sg-source.xml", "base-no-sg.xml", KEY_URI("regulator")) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(TH_VARIANTS) / sizeof(TH_VARIANTS[0]); i++) {
        char source_name[64];

        snprintf(source_name, sizeof(source_name), "%.40s-source.xml", TH_VARIANTS[i]);
        snprintf(path, sizeof(path), "%.40s.xml", TH_VARIANTS[i]);
        if (sign_bundle(source_name, path, KEY_URI("th-regulator")) != 0)
            return -1;
    }
    return 0;
}

/* Writes a configuration file: the harness's sections, bank-th, then a [policy]
 * section with bundles and the [regulator] sections. */
static void write_config_file(const char *path, const char *bundles,
                              const char *regulators)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    fprintf(file, "%s%s\n[policy]\n%s%s", base_config, RP_TH, bundles, regulators);
    assert_int_equal(fclose(file), 0);
}

/* Writes the daemon's configuration file. These tests swap variants of one bundle ID
 * and version back and forth. So this also clears the node's record of the versions it
 * loaded, and each reload is judged on its own. test_reload_rejects_older_version keeps
 * the record. */
static void write_policy(const char *bundles, const char *regulators)
{
    write_config_file(server.config_path, bundles, regulators);
    if (access(server.db_path, F_OK) == 0) /* none before the first start */
        assert_int_equal(harness_sql(&server, "DELETE FROM policy_versions"), 0);
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
    status = harness_finish(&server);
    free(base_config);
    return status;
}

/* ---- The daemon's log ------------------------------------------------------------- */

/* Sends SIGHUP and waits until the log contains one more line with event. */
static void reload_and_wait(const char *event)
{
    assert_int_equal(harness_reload_and_wait(&server, event), 0);
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

/* Returns the number of the first line of NAME, in the folder of the test token, that
 * contains text. */
static int line_of(const char *name, const char *text)
{
    char path[PATH_MAX + 64];
    char *content;
    const char *at;
    int line = 1;

    snprintf(path, sizeof(path), "%s/%s", server.token.dir, name);
    content = test_read_file(path, NULL);
    assert_non_null(content);
    at = strstr(content, text);
    assert_non_null(at);
    for (const char *c = content; c < at; c++)
        line += *c == '\n';
    free(content);
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
    char *assertion;

    assertion = harness_issue(&server, body);
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
            json_t *entry =
                json_loads(json_string_value(json_object_get(item, "entry")), 0, NULL);

            if (entry != NULL &&
                strcmp(json_string_value(json_object_get(entry, "kind")), kind) == 0) {
                json_decref(found);
                found = json_loads(json_string_value(json_object_get(item, "payload")), 0,
                                   NULL);
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

    write_policy(BUNDLES MY_BUNDLE TH_BUNDLE_LINE,
                 REGULATORS MY_REGULATOR TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reloaded\"");
    expect_th_rules(true, 1);
    assert_int_equal(harness_count_log(&server, "\"restart_required\""), 0);
}

/* Removing the key of a bundle that stays listed fails the reload with the loader's
 * code. Neither the keys nor the bundles change, so a new base in the same file does
 * not apply either. */
static void test_reload_keeps_key_of_listed_bundle(void **state)
{
    json_t *payload;

    (void)state;
    write_policy(
        "bundle = base-v2.xml\nbundle = residency-sg.xml\n" MY_BUNDLE TH_BUNDLE_LINE,
        REGULATORS MY_REGULATOR);
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("key_untrusted", "residency-th.xml");
    expect_th_rules(true, 1);

    payload = last_audit_payload("policy_reload_failed");
    assert_string_equal(json_string_value(json_object_get(payload, "code")),
                        "key_untrusted");
    assert_true(lists_bundle(json_object_get(payload, "kept"), "residency-th"));
    json_decref(payload);
    assert_int_equal(harness_count_log(&server, "\"restart_required\""), 0);
}

/* A bundle older than one the node loaded, or another bundle under a version it
 * loaded, is refused with the versions named, and the set in force stays. */
static void test_reload_rejects_older_version(void **state)
{
    (void)state;
    write_policy("bundle = base-v2.xml\nbundle = residency-sg.xml\n" MY_BUNDLE TH_BUNDLE_LINE,
                 REGULATORS MY_REGULATOR TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reloaded\"");

    write_config_file(server.config_path, BUNDLES MY_BUNDLE TH_BUNDLE_LINE,
                      REGULATORS MY_REGULATOR TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("bundle_version_rollback",
                          "bundle asean-cn-base version 1 is older than version 2, which "
                          "this node loaded before");
    expect_th_rules(true, 2);

    write_config_file(server.config_path,
                      "bundle = base-v2.xml\nbundle = residency-sg.xml\n" MY_BUNDLE
                      "bundle = th-warnings.xml\n",
                      REGULATORS MY_REGULATOR TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("bundle_version_reused",
                          "bundle residency-th version 1 differs from the version 1 that "
                          "this node loaded before");
    expect_th_rules(true, 2);
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
    expect_reload_failure(
        "key_not_authorised",
        "regulator pdpc-th, which may sign only residency bundles of VN");
    expect_th_rules(true, 1);

    write_policy(BUNDLES, REGULATORS TH_REGULATOR("VN"));
    reload_and_wait("\"policy_reloaded\"");
    expect_th_rules(false, 1);

    write_policy(BUNDLES TH_BUNDLE_LINE, REGULATORS TH_REGULATOR("VN"));
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure(
        "key_not_authorised",
        "regulator pdpc-th, which may sign only residency bundles of VN");
    expect_th_rules(false, 1);
}

/* Expects exactly one policy_check_warning line with code, naming file and line. */
static void expect_warning(const char *code, const char *file, int line)
{
    char code_field[64], file_field[64], line_field[32];
    char *text;

    snprintf(code_field, sizeof(code_field), "\"code\":\"%s\"", code);
    snprintf(file_field, sizeof(file_field), "/%s\"", file);
    snprintf(line_field, sizeof(line_field), "\"line\":\"%d\"", line);
    assert_int_equal(harness_count_log(&server, code_field), 1);
    text = last_log_line(code_field);
    if (strstr(text, file_field) == NULL || strstr(text, line_field) == NULL)
        fprintf(stderr, "warning line: %s\n", text);
    assert_non_null(strstr(text, "\"event\":\"policy_check_warning\""));
    assert_non_null(strstr(text, "\"level\":\"warn"));
    assert_non_null(strstr(text, file_field));
    assert_non_null(strstr(text, line_field));
    free(text);
}

/* A bundle that validate only warns about loads, and each warning is logged once with
 * its code, file and line. */
static void test_reload_logs_check_warnings(void **state)
{
    (void)state;
    write_policy(BUNDLES "bundle = th-warnings.xml\n", REGULATORS TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reloaded\"");
    expect_th_rules(true, 1);

    assert_int_equal(harness_count_log(&server, "\"event\":\"policy_check_warning\""), 2);
    expect_warning("derive_ignored", "th-warnings.xml",
                   line_of("th-warnings.xml", "<Rule id=\"th.import.given-name\""));
    expect_warning("never_matches", "th-warnings.xml",
                   line_of("th-warnings.xml", "<Rule id=\"th.sg-only\""));
}

/* A bundle that validate rejects fails the reload with the finding's code, file and
 * line, and version 1 of residency-th stays in force. */
static void test_reload_rejects_validate_error(void **state)
{
    char where[96];
    json_t *payload;

    (void)state;
    write_policy(BUNDLES "bundle = th-unknown-purpose.xml\n",
                 REGULATORS TH_REGULATOR("TH"));
    reload_and_wait("\"policy_reload_failed\"");
    snprintf(where, sizeof(where), "th-unknown-purpose.xml:%d: purpose gambling",
             line_of("th-unknown-purpose.xml", "<Purpose>gambling"));
    expect_reload_failure("unknown_purpose", where);
    expect_th_rules(true, 1);

    payload = last_audit_payload("policy_reload_failed");
    assert_string_equal(json_string_value(json_object_get(payload, "code")),
                        "unknown_purpose");
    json_decref(payload);
}

/* A base that no longer declares the node's own jurisdiction (SG) would leave every
 * credential of the node without a home, so the reload fails and the set stays. */
static void test_reload_rejects_set_without_home(void **state)
{
    json_t *payload;

    (void)state;
    write_policy("bundle = base-no-sg.xml\n" MY_BUNDLE, REGULATORS MY_REGULATOR);
    reload_and_wait("\"policy_reload_failed\"");
    expect_reload_failure("home_jurisdiction_unknown",
                          "[server] jurisdiction SG is not a jurisdiction of the bundles");
    expect_th_rules(true, 1);

    payload = last_audit_payload("policy_reload_failed");
    assert_string_equal(json_string_value(json_object_get(payload, "code")),
                        "home_jurisdiction_unknown");
    json_decref(payload);
}

/* Starts a second node with bundles and regulators, which must exit with status 1, and
 * returns its log; the caller frees it. The node has a database of its own, so the
 * running daemon's lock does not stop it first. */
static char *run_rejected_start(const char *bundles, const char *regulators)
{
    const char *dir = server.token.dir;
    char config_path[PATH_MAX + 64], log_path[PATH_MAX + 64];
    char command[3 * PATH_MAX + 256];
    char *log;

    snprintf(config_path, sizeof(config_path), "%s/rejected.conf", dir);
    snprintf(log_path, sizeof(log_path), "%s/rejected.log", dir);
    write_config_file(config_path, bundles, regulators);
    /* Another database under the same entity ID would meet the running node's audit
     * anchor in the token, so the rejected node gets an entity ID of its own. */
    assert_int_equal(
        harness_run("sed -i 's/^path = idsvc.db$/path = rejected.db/;"
                    " s|^entity_id = " NODE_ENTITY_ID "$|entity_id = "
                    "https://rejected.example/idsvc|' '%s'",
                    config_path),
        0);
    snprintf(command, sizeof(command), "timeout 30 '%s' --config '%s' > '%s' 2>&1",
             getenv("IDSVC_DAEMON"), config_path, log_path);
    assert_int_equal(test_run(command), 1);

    log = test_read_file(log_path, NULL);
    assert_non_null(log);
    return log;
}

/* A node whose bundles validate rejects, although they compile, does not start, and
 * its log names the file, the line and the code. */
static void test_start_rejects_validate_error(void **state)
{
    char where[96];
    char *log;

    (void)state;
    log = run_rejected_start(BUNDLES "bundle = th-unreachable.xml\n",
                             REGULATORS TH_REGULATOR("TH"));
    snprintf(where, sizeof(where), "th-unreachable.xml:%d: rule th.import.address",
             line_of("th-unreachable.xml", "derive=\"age_over_18\">disclose-derived"));
    if (strstr(log, where) == NULL || strstr(log, "(derive_unreachable)") == NULL)
        fprintf(stderr, "the rejected node logged:\n%s\n", log);
    assert_non_null(strstr(log, "\"start_failed\""));
    assert_non_null(strstr(log, where));
    assert_non_null(strstr(log, "(derive_unreachable)"));
    assert_null(strstr(log, "\"started\""));
    free(log);
}

/* Regulator key files of the TH regulator that fail to load, and the code of each. */
static const struct {
    const char *file;
    const char *code;
} KEY_FILE_FAULTS[] = {
    {"th-garbage.pem", "trust_invalid"},   /* no PEM block */
    {"th-cut.pem", "trust_invalid"},       /* a PEM block cut off after 100 bytes */
    {"th-private.pem", "trust_invalid"},   /* a PRIVATE KEY block */
    {"th-ed25519.pem", "trust_invalid"},   /* a key type the loader refuses */
    {"th-missing.pem", "io_error"},        /* no such file */
    {"th-folder.pem", "io_error"},         /* a folder, which cannot be read */
};

/* Writes the files of KEY_FILE_FAULTS, all but th-missing.pem. */
static void write_key_file_faults(void)
{
    const char *dir = server.token.dir;

    assert_int_equal(write_text("th-garbage.pem", "garbage\n"), 0);
    assert_int_equal(harness_run("head -c 100 '%s/th.pem' > '%s/th-cut.pem'", dir, dir), 0);
    assert_int_equal(harness_run("openssl genpkey -algorithm EC -pkeyopt "
                                 "ec_paramgen_curve:P-256 -out '%s/th-private.pem'",
                                 dir),
                     0);
    assert_int_equal(harness_run("openssl genpkey -algorithm ed25519 | openssl pkey -pubout "
                                 "-out '%s/th-ed25519.pem'",
                                 dir),
                     0);
    assert_int_equal(harness_run("mkdir -p '%s/th-folder.pem'", dir), 0);
}

/* Each bad key file fails the reload with its code, in the log and in the audit log,
 * and the keys and bundles in force stay. */
static void test_reload_names_key_file_fault(void **state)
{
    char regulators[256];
    json_t *payload;

    (void)state;
    write_key_file_faults();
    for (size_t i = 0; i < sizeof(KEY_FILE_FAULTS) / sizeof(KEY_FILE_FAULTS[0]); i++) {
        snprintf(regulators, sizeof(regulators),
                 REGULATORS "\n[regulator pdpc-th]\nkey = %s\nsigns = TH\n",
                 KEY_FILE_FAULTS[i].file);
        write_policy(BUNDLES TH_BUNDLE_LINE, regulators);
        reload_and_wait("\"policy_reload_failed\"");
        expect_reload_failure(KEY_FILE_FAULTS[i].code, KEY_FILE_FAULTS[i].file);

        payload = last_audit_payload("policy_reload_failed");
        assert_string_equal(json_string_value(json_object_get(payload, "code")),
                            KEY_FILE_FAULTS[i].code);
        json_decref(payload);
    }
    expect_th_rules(true, 1);
}

/* A node with a bad key file does not start, and start_failed names the code. */
static void test_start_names_key_file_fault(void **state)
{
    char regulators[256];
    char code[64];
    char *log;

    (void)state;
    for (size_t i = 0; i < sizeof(KEY_FILE_FAULTS) / sizeof(KEY_FILE_FAULTS[0]); i++) {
        snprintf(regulators, sizeof(regulators),
                 REGULATORS "\n[regulator pdpc-th]\nkey = %s\nsigns = TH\n",
                 KEY_FILE_FAULTS[i].file);
        log = run_rejected_start(BUNDLES TH_BUNDLE_LINE, regulators);
        snprintf(code, sizeof(code), "(%s)", KEY_FILE_FAULTS[i].code);
        if (strstr(log, code) == NULL || strstr(log, KEY_FILE_FAULTS[i].file) == NULL)
            fprintf(stderr, "the rejected node logged:\n%s\n", log);
        assert_non_null(strstr(log, "\"start_failed\""));
        assert_non_null(strstr(log, KEY_FILE_FAULTS[i].file));
        assert_non_null(strstr(log, code));
        free(log);
    }
}

/* A reload whose policy_loaded entry cannot be recorded keeps the set in force: the
 * versions recorded with that entry would otherwise be missing while the new set serves.
 * A trigger in the database rejects the entry, and only that entry. */
static void test_reload_needs_its_audit_entry(void **state)
{
    sqlite3 *db = NULL;

    (void)state;
    assert_int_equal(sqlite3_open(server.db_path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "CREATE TRIGGER reject_policy_loaded BEFORE INSERT ON"
                                  " audit_entries WHEN NEW.kind = 'policy_loaded'"
                                  " BEGIN SELECT RAISE(ABORT, 'rejected by the test'); END;",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    write_config_file(server.config_path,
                      "bundle = base-v2.xml\nbundle = residency-sg.xml\n" MY_BUNDLE,
                      REGULATORS MY_REGULATOR TH_REGULATOR("TH"));
    reload_and_wait("\"event\":\"policy_reload_failed\"");
    expect_reload_failure("audit_record_failed",
                          "the policy_loaded audit entry could not be recorded");
    expect_th_rules(true, 2);

    /* Without the trigger, the same reload applies. */
    assert_int_equal(sqlite3_exec(db, "DROP TRIGGER reject_policy_loaded", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    reload_and_wait("\"event\":\"policy_reloaded\"");
    expect_th_rules(false, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reload_adds_regulator_key),
        cmocka_unit_test(test_reload_keeps_key_of_listed_bundle),
        cmocka_unit_test(test_reload_removes_key_with_bundle),
        cmocka_unit_test(test_reload_rebinds_key),
        cmocka_unit_test(test_reload_logs_check_warnings),
        cmocka_unit_test(test_reload_rejects_validate_error),
        cmocka_unit_test(test_reload_rejects_set_without_home),
        cmocka_unit_test(test_start_rejects_validate_error),
        cmocka_unit_test(test_reload_names_key_file_fault),
        cmocka_unit_test(test_start_names_key_file_fault),
        /* It leaves version 2 of the base in force, and the next test removes TH. */
        cmocka_unit_test(test_reload_rejects_older_version),
        cmocka_unit_test(test_reload_needs_its_audit_entry),
    };

    return cmocka_run_group_tests(tests, start_server, stop_server);
}

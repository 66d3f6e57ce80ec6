/* The configuration reader: a complete file, and each kind of rejection with its line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "pem_file.h"
#include "test_token.h"

static const char base[] =
    "[server]\n"                                         /* 1 */
    "listen = 127.0.0.1\n"                               /* 2 */
    "port = 9443\n"                                      /* 3 */
    "entity_id = https://node.example/idsvc\n"           /* 4 */
    "jurisdiction = SG\n"                                /* 5 */
    "[hsm]\n"                                            /* 6 */
    "token_label = node\n"                               /* 7 */
    "pin_env = IDSVC_PIN\n"                              /* 8 */
    "tls_key = pkcs11:token=node;object=tls;type=private\n"
    "saml_key = pkcs11:token=node;object=saml;type=private\n"
    "[tls]\n"
    "certificate = tls.pem\n"
    "client_ca = ca-one.pem\n"
    "client_ca = /etc/ca-two.pem\n"
    "[database]\n"
    "path = idsvc.db\n";

static char folder[48]; /* short enough for the path buffers below */

static int make_folder(void **state)
{
    (void)state;
    return test_make_temp_dir(folder, sizeof(folder), "idsvc-config");
}

static int remove_folder(void **state)
{
    char command[64];

    (void)state;
    snprintf(command, sizeof(command), "rm -rf %s", folder);
    return system(command) == 0 ? 0 : -1;
}

/* Writes head followed by extra and loads it. */
static int load_after(const char *head, const char *extra, config **cfg, char *error,
                      size_t size)
{
    char path[128];
    FILE *file;

    snprintf(path, sizeof(path), "%s/idsvc.conf", folder);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(head, file);
    fputs(extra, file);
    fclose(file);
    error[0] = '\0';
    return config_load(path, cfg, error, size);
}

/* Writes base followed by extra and loads it. */
static int load(const char *extra, config **cfg, char *error, size_t size)
{
    return load_after(base, extra, cfg, error, size);
}

/* Loads base, with its line old replaced by line because a key may be given once per
 * section, followed by extra. */
static int load_replacing(const char *old, const char *line, const char *extra,
                          config **cfg, char *error, size_t size)
{
    char head[sizeof(base) + 256];
    const char *at = strstr(base, old);

    assert_non_null(at);
    assert_true(strlen(base) - strlen(old) + strlen(line) < sizeof(head));
    snprintf(head, sizeof(head), "%.*s%s%s", (int)(at - base), base, line, at + strlen(old));
    return load_after(head, extra, cfg, error, size);
}

/* A configuration that must not load: the text after the base file, and part of the
 * error message it must give. */
typedef struct load_case {
    const char *extra;
    const char *message;
} load_case;

/* Loads each case and checks that it fails with its message and leaves no config. */
static void expect_load_failures(const load_case *cases, size_t count)
{
    config *cfg = NULL;
    char error[512];

    for (size_t i = 0; i < count; i++) {
        assert_int_equal(load(cases[i].extra, &cfg, error, sizeof(error)), -1);
        if (strstr(error, cases[i].message) == NULL)
            fprintf(stderr, "case %zu: %s\n", i, error);
        assert_non_null(strstr(error, cases[i].message));
        assert_null(cfg);
    }
}

static void test_complete_file_loads(void **state)
{
    config *cfg = NULL;
    char error[512];
    char expected[160];
    unsigned char fingerprint[32];

    (void)state;
    assert_int_equal(load("[rp bank]\nentity_id = https://bank.example/sp\n"
                          "jurisdiction = SG\nallowed_claims = given_name, family_name\n"
                          "fingerprint = " "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
                          "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n"
                          "[client agency]\nrole = issuer\nsubject_cn = Agency\n"
                          "[issuer other]\nentity_id = https://other.example\n"
                          "certificate = a.pem\ncertificate = b.pem\n"
                          "[limits]\nthreads = 8\n",
                          &cfg, error, sizeof(error)),
                     0);
    assert_int_equal(cfg->port, 9443);
    assert_int_equal(cfg->limits.threads, 8);
    assert_int_equal(cfg->limits.max_json_depth, 8);
    assert_int_equal(cfg->client_ca_count, 2);
    snprintf(expected, sizeof(expected), "%s/ca-one.pem", folder);
    assert_string_equal(cfg->client_ca_files[0], expected);
    assert_string_equal(cfg->client_ca_files[1], "/etc/ca-two.pem");
    assert_int_equal(cfg->issuers[0].pem_count, 2);
    assert_int_equal(cfg->rps[0].allowed_count, 2);
    assert_true(config_rp_allows(&cfg->rps[0], "family_name"));
    assert_false(config_rp_allows(&cfg->rps[0], "email"));

    const config_client *agency = config_match_client(cfg, "Agency", fingerprint, NULL);
    assert_non_null(agency);
    assert_int_equal(agency->role, ROLE_ISSUER);
    assert_string_equal(agency->identity, "agency");

    for (size_t i = 0; i < 32; i++)
        fingerprint[i] = (unsigned char)((i % 16) * 0x11);
    const config_client *bank = config_match_client(cfg, "anything", fingerprint, NULL);
    assert_non_null(bank);
    assert_int_equal(bank->role, ROLE_RP);
    assert_string_equal(bank->identity, "bank");
    config_free(&cfg);
    assert_null(cfg);
}

/* A certificate that matches one section by its fingerprint and another by its CN
 * matches neither, and the two sections are returned. Two sections that name the same
 * fingerprint or CN do not load. */
static void test_two_matching_sections(void **state)
{
    static const load_case duplicates[] = {
        {"[rp a]\nentity_id = https://a.example\njurisdiction = SG\n"
         "fingerprint = "
         "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:"
         "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n"
         "[rp b]\nentity_id = https://b.example\njurisdiction = SG\n"
         "fingerprint = "
         "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
         "[rp a] and [rp b] map the same fingerprint"},
        {"[rp a]\nentity_id = https://a.example\njurisdiction = SG\nsubject_cn = bank\n"
         "[client b]\nrole = node\nsubject_cn = bank\n",
         "[rp a] and [client b] map the same subject_cn"},
    };
    unsigned char pinned[32];
    unsigned char other[32] = {0};
    const config_client *conflict[2];
    config *cfg = NULL;
    char error[512];
    char section[300];

    (void)state;
    for (size_t i = 0; i < 32; i++)
        pinned[i] = (unsigned char)((i % 16) * 0x11);
    assert_int_equal(
        load("[rp demo-bank]\nentity_id = https://bank.example\njurisdiction = SG\n"
             "subject_cn = demo-bank\n"
             "[rp other]\nentity_id = https://other.example\njurisdiction = SG\n"
             "fingerprint = "
             "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n",
             &cfg, error, sizeof(error)),
        0);

    assert_null(config_match_client(cfg, "demo-bank", pinned, conflict));
    assert_non_null(conflict[0]);
    assert_non_null(conflict[1]);
    assert_string_equal(config_client_section(conflict[0], section, sizeof(section)),
                        "rp other");
    assert_string_equal(config_client_section(conflict[1], section, sizeof(section)),
                        "rp demo-bank");
    assert_null(config_match_client(cfg, "demo-bank", pinned, NULL));

    /* Each section alone still matches, and conflict is cleared. */
    assert_string_equal(config_match_client(cfg, "demo-bank", other, conflict)->identity,
                        "demo-bank");
    assert_null(conflict[0]);
    assert_null(conflict[1]);
    assert_string_equal(config_match_client(cfg, "someone", pinned, conflict)->identity,
                        "other");
    assert_null(conflict[0]);
    config_free(&cfg);

    expect_load_failures(duplicates, sizeof(duplicates) / sizeof(duplicates[0]));
}

static void test_unknown_key_names_line(void **state)
{
    config *cfg = NULL;
    char error[512];

    (void)state;
    assert_int_equal(load("[limits]\nthreads = 2\nthread = 4\n", &cfg, error, sizeof(error)),
                     -1);
    assert_null(cfg);
    assert_non_null(strstr(error, "idsvc.conf:19:"));
    assert_non_null(strstr(error, "unknown key \"thread\""));
}

static void test_unknown_section_names_line(void **state)
{
    config *cfg = NULL;
    char error[512];

    (void)state;
    assert_int_equal(load("[listener]\nport = 1\n", &cfg, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "idsvc.conf:17: unknown section [listener]"));
    assert_null(cfg);
}

/* libinih calls no handler for a section without keys, so the header itself is checked. */
static void test_empty_unknown_section_rejected(void **state)
{
    static const load_case cases[] = {
        {"[limit]\n", "idsvc.conf:17: unknown section [limit]"},
        {"[limit]\n[limits]\nthreads = 2\n", "idsvc.conf:17: unknown section [limit]"},
        {"[rp]\n", "idsvc.conf:17: unknown section [rp]"},
        {"[ server ]\n", "idsvc.conf:17: unknown section [ server ]"},
    };

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A key that takes one value may be given once per section, even when the section is
 * opened again further down. The message names both lines. */
static void test_key_given_twice_rejected(void **state)
{
    static const load_case cases[] = {
        {"[server]\nport = 9444\n",
         "idsvc.conf:18: [server] port is given twice, first on line 3"},
        {"[limits]\nthreads = 2\nthreads = 8\n",
         "idsvc.conf:19: [limits] threads is given twice, first on line 18"},
        {"[hsm]\npin_env = OTHER_PIN\n",
         "idsvc.conf:18: [hsm] pin_env is given twice, first on line 8"},
        {"[rp bank]\nsubject_cn = bank\nsubject_cn = bank-two\n",
         "idsvc.conf:19: [rp bank] subject_cn is given twice, first on line 18"},
        {"[client x]\nrole = issuer\nrole = node\nsubject_cn = x\n",
         "idsvc.conf:19: [client x] role is given twice, first on line 18"},
        {"[regulator x]\nkey = x.pem\nsigns = base\nsigns = SG\n",
         "idsvc.conf:20: [regulator x] signs is given twice, first on line 19"},
        {"[audit]\nretention_days.MY = 30\nretention_days.MY = 60\n",
         "idsvc.conf:19: [audit] retention_days.MY is given twice, first on line 18"},
        /* The reader takes both headers as one section. */
        {"[regulator x]\nkey = x.pem\nsigns = base\n[regulator  x]\nsigns = SG\n",
         "idsvc.conf:21: [regulator x] signs is given twice, first on line 19"},
    };
    config *cfg = NULL;
    char error[512];

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    /* Repeatable keys add a value with each line, in one part of a section or several. */
    assert_int_equal(load("[tls]\nclient_ca = ca-three.pem\n"
                          "[issuer a]\nentity_id = https://a.example\ncertificate = a.pem\n"
                          "[issuer a]\ncertificate = b.pem\n",
                          &cfg, error, sizeof(error)),
                     0);
    assert_int_equal(cfg->client_ca_count, 3);
    assert_int_equal(cfg->issuers[0].pem_count, 2);
    config_free(&cfg);
}

static void test_syntax_errors_named(void **state)
{
    static const load_case cases[] = {
        {"[server\n", "idsvc.conf:17: the section header has no closing ]"},
        {"[rp bank ; comment]\n", "idsvc.conf:17: the section header has no closing ]"},
        {"[limits]\nthreads\n",
         "idsvc.conf:18: the line is not a section header, a key = value line or a comment"},
        {"[limits]\nthreads ; = 2\n",
         "idsvc.conf:18: the line is not a section header, a key = value line or a comment"},
    };
    config *cfg = NULL;
    char error[512];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(load(cases[i].extra, &cfg, error, sizeof(error)), -1);
        assert_null(cfg);
        if (strstr(error, cases[i].message) == NULL)
            fprintf(stderr, "case %zu: %s\n", i, error);
        assert_non_null(strstr(error, cases[i].message));
        assert_null(strstr(error, "libinih"));
    }

    /* Comments, blank lines and a ']' after the name still load. */
    assert_int_equal(load("; comment\n# comment\n\n  [limits] ; threads\nthreads = 2\n", &cfg,
                          error, sizeof(error)),
                     0);
    config_free(&cfg);
}

/* A relying party needs a certificate match, in its own section or in a [client] section
 * of role rp, as every [client] section does. */
static void test_rp_needs_certificate_match(void **state)
{
    static const load_case cases[] = {
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n",
         "idsvc.conf: [rp bank] needs subject_cn or fingerprint, or a [client NAME] section "
         "with role = rp and identity = bank"},
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n"
         "[client bank-app]\nrole = issuer\nidentity = bank\nsubject_cn = app\n",
         "[rp bank] needs subject_cn or fingerprint"},
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n"
         "subject_cn = same\n[client bank]\nrole = node\nsubject_cn = same\n",
         "[rp bank] and [client bank] map the same subject_cn"},
    };
    config *cfg = NULL;
    char error[512];

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    assert_int_equal(load("[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n"
                          "[client bank-app]\nrole = rp\nidentity = bank\nsubject_cn = app\n",
                          &cfg, error, sizeof(error)),
                     0);
    config_free(&cfg);
}

/* Without policy bundles, allowed_claims names claims of the SAML claims catalogue. */
static void test_allowed_claims_checked(void **state)
{
    static const char rp[] = "[rp bank]\nentity_id = https://bank.example/sp\n"
                             "jurisdiction = SG\nsubject_cn = bank\n";
    static const load_case cases[] = {
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n"
         "allowed_claims = given_name, givenname\nsubject_cn = bank\n",
         "idsvc.conf:20: [rp bank] allowed_claims: \"givenname\" is not a claim name of the "
         "claims catalogue"},
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n"
         "allowed_claims = age_over_18\nsubject_cn = bank\n",
         "\"age_over_18\" is not a claim name"},
    };
    char extra[512];
    config *cfg = NULL;
    char error[512];

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    /* The policy engine checks the names of its bundles' catalogue when it loads them. */
    snprintf(extra, sizeof(extra),
             "%sallowed_claims = given_name age_over_18\n[policy]\nbundle = base.xml\n"
             "[regulator r]\nkey = r.pem\nsigns = base\n",
             rp);
    assert_int_equal(load(extra, &cfg, error, sizeof(error)), 0);
    config_free(&cfg);
}

/* listen is an address literal, so a host name fails on its line instead of at the bind. */
static void test_listen_needs_address(void **state)
{
    config *cfg = NULL;
    char error[512];

    (void)state;
    assert_int_equal(load_replacing("listen = 127.0.0.1\n", "listen = localhost\n", "", &cfg,
                                    error, sizeof(error)),
                     -1);
    if (strstr(error, "idsvc.conf:2: [server] listen: \"localhost\"") == NULL)
        fprintf(stderr, "%s\n", error);
    assert_non_null(strstr(error, "idsvc.conf:2: [server] listen: \"localhost\" is not an "
                                  "IPv4 or IPv6 address"));
    assert_null(cfg);

    assert_int_equal(load_replacing("listen = 127.0.0.1\n", "listen = ::1\n", "", &cfg, error,
                                    sizeof(error)),
                     0);
    assert_string_equal(cfg->listen_address, "::1");
    config_free(&cfg);
}

static void test_invalid_values_rejected(void **state)
{
    static const load_case cases[] = {
        {"[server]\nport = 70000\n", "port"},
        {"[limits]\nmax_json_depth = many\n", "max_json_depth"},
        {"[client x]\nrole = admin\nsubject_cn = x\n", "is not one of issuer"},
        {"[client x]\nrole = issuer\nfingerprint = abc\n", "64 hex digits"},
        {"[client x]\nrole = issuer\n", "[client x] needs subject_cn or fingerprint"},
        {"[client x]\nrole = rp\nsubject_cn = x\nidentity = nobody\n", "[rp ID]"},
        {"[client a]\nrole = issuer\nsubject_cn = same\n"
         "[client b]\nrole = node\nsubject_cn = same\n",
         "[client a] and [client b] map the same subject_cn"},
        {"[issuer y]\nentity_id = https://y.example\n", "at least one certificate"},
        {"[hsm]\npin_file = pin\n", "exactly one of pin_file and pin_env"},
    };

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));
}

/* A signs line lists only officially assigned ISO 3166-1 alpha-2 codes: XX is
 * user-assigned and UK exceptionally reserved, while GB is the United Kingdom's code. */
static void test_signs_needs_assigned_code(void **state)
{
    static const char *const rejected[] = {"XX", "UK"};
    config *cfg = NULL;
    char error[512];
    char extra[160];
    char expected[160];

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        snprintf(extra, sizeof(extra), "[regulator x]\nkey = x.pem\nsigns = base, %s\n",
                 rejected[i]);
        snprintf(expected, sizeof(expected),
                 "[regulator x] signs: \"%s\" is not an officially assigned ISO 3166-1 "
                 "alpha-2 code",
                 rejected[i]);
        assert_int_equal(load(extra, &cfg, error, sizeof(error)), -1);
        if (strstr(error, expected) == NULL)
            fprintf(stderr, "%s: %s\n", rejected[i], error);
        assert_non_null(strstr(error, expected));
        assert_non_null(strstr(error, "idsvc.conf:"));
        assert_null(cfg);
    }

    assert_int_equal(load("[policy]\nbundle = base.xml\n"
                          "[regulator x]\nkey = x.pem\nsigns = base, GB\n",
                          &cfg, error, sizeof(error)),
                     0);
    assert_non_null(cfg);
    assert_int_equal(cfg->policy.regulators[0].jurisdiction_count, 1);
    assert_string_equal(cfg->policy.regulators[0].jurisdictions[0], "GB");
    config_free(&cfg);
}

/* The jurisdictions of [issuer], [rp] and [audit] retention_days.XX are assigned ISO
 * 3166-1 alpha-2 codes, as the bundles and [regulator] signs require. */
static void test_jurisdictions_need_assigned_code(void **state)
{
    static const load_case cases[] = {
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = UK\n",
         "idsvc.conf:19: [rp bank] jurisdiction: \"UK\" is not an assigned ISO 3166-1 "
         "alpha-2 code"},
        {"[issuer id]\nentity_id = https://id.example/saml\ncertificate = id.pem\n"
         "jurisdiction = sg\n",
         "idsvc.conf:20: [issuer id] jurisdiction: \"sg\" is not an assigned ISO 3166-1 "
         "alpha-2 code"},
        {"[audit]\nretention_days.XX = 30\n",
         "idsvc.conf:18: [audit] retention_days.XX: \"XX\" is not an assigned ISO 3166-1 "
         "alpha-2 code"},
    };
    config *cfg = NULL;
    char error[512];

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    /* [server] jurisdiction is checked on its own line too. */
    assert_int_equal(load_replacing("jurisdiction = SG\n", "jurisdiction = UK\n", "", &cfg,
                                    error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "idsvc.conf:5: [server] jurisdiction: \"UK\" is not an "
                                  "assigned ISO 3166-1 alpha-2 code"));
    assert_null(cfg);

    assert_int_equal(load("[rp bank]\nentity_id = https://bank.example/sp\n"
                          "jurisdiction = GB\nsubject_cn = bank\n"
                          "[audit]\nretention_days.GB = 30\n",
                          &cfg, error, sizeof(error)),
                     0);
    config_free(&cfg);
}

/* A subject_cn must be a CN that a certificate can carry: 1 to 64 characters of UTF-8.
 * The error names the line, the section and the key. */
static void test_subject_cn_checked(void **state)
{
    static const load_case cases[] = {
        {"[client x]\nrole = issuer\nsubject_cn =\n",
         "idsvc.conf:19: [client x] subject_cn: the value is empty"},
        {"[rp bank]\nentity_id = https://bank.example/sp\njurisdiction = SG\n"
         "subject_cn =\n",
         "idsvc.conf:20: [rp bank] subject_cn: the value is empty"},
        {"[client x]\nrole = issuer\nsubject_cn = "
         "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
         "[client x] subject_cn: 65 characters, but a certificate's CN has at most 64"},
        {"[client x]\nrole = issuer\nsubject_cn = caf\xc3\n",
         "[client x] subject_cn: \"caf\xc3\" is not valid UTF-8"},
    };
    config *cfg = NULL;
    char error[512];

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    /* 64 characters, of which 63 take two bytes each in UTF-8, and a CN with a comma. */
    char extra[512] = "[client long]\nrole = issuer\nsubject_cn = a";
    for (int i = 0; i < 63; i++)
        strcat(extra, "\xc3\xa9");
    strcat(extra, "\n[client acme]\nrole = node\nsubject_cn = Acme, Inc.\n");
    assert_int_equal(load(extra, &cfg, error, sizeof(error)), 0);
    assert_int_equal(config_utf8_characters(cfg->clients[0].subject_cn), 64);

    const unsigned char none[32] = {0};
    const config_client *acme = config_match_client(cfg, "Acme, Inc.", none, NULL);
    assert_non_null(acme);
    assert_string_equal(acme->name, "acme");
    assert_null(config_match_client(cfg, "Acme\\, Inc.", none, NULL));
    assert_null(config_match_client(cfg, "", none, NULL));
    config_free(&cfg);
}

/* libinih's default line buffer has 200 bytes, and the node reads lines up to 4096 bytes. */
static void test_long_value_loads_whole(void **state)
{
    char extra[1200] = "[rp bank]\njurisdiction = SG\nsubject_cn = bank\n"
                       "entity_id = https://bank.example/";
    size_t prefix = strlen("https://bank.example/");
    config *cfg = NULL;
    char error[512];

    (void)state;
    for (size_t i = prefix; i < 1000; i++)
        strcat(extra, i % 100 == 99 ? "X" : "a");
    strcat(extra, "\n");

    assert_int_equal(load(extra, &cfg, error, sizeof(error)), 0);
    assert_non_null(cfg);
    assert_int_equal(cfg->rp_count, 1);
    assert_int_equal(strlen(cfg->rps[0].entity_id), 1000);
    assert_memory_equal(cfg->rps[0].entity_id, "https://bank.example/", prefix);
    assert_int_equal(cfg->rps[0].entity_id[999], 'X');
    config_free(&cfg);
}

/* Appends a line of line_length bytes, its line break included: key, then "a" bytes up to
 * the last byte before tail, then tail and "\n". */
static void append_line(char *text, const char *key, const char *tail, size_t line_length)
{
    size_t start = strlen(text);
    size_t filler = line_length - strlen(key) - strlen(tail) - 1;

    strcpy(text + start, key);
    memset(text + start + strlen(key), 'a', filler);
    strcpy(text + start + strlen(key) + filler, tail);
    strcat(text, "\n");
}

/* A line longer than 4096 bytes stops the load at that line, and its tail is not parsed. */
static void test_line_over_limit_names_line(void **state)
{
    static const char head[] = "[rp bank]\njurisdiction = SG\n";
    static const char key[] = "entity_id = https://bank.example/";
    static char extra[5000];
    config *cfg = NULL;
    char error[512];

    (void)state;

    /* Line 19 is 4097 bytes with its line break, and its last bytes look like a key. */
    strcpy(extra, head);
    append_line(extra, key, "X=1", 4097);
    assert_int_equal(load(extra, &cfg, error, sizeof(error)), -1);
    assert_null(cfg);
    if (strstr(error, "idsvc.conf:19: the line is 4097 bytes long") == NULL)
        fprintf(stderr, "error: %s\n", error);
    assert_non_null(strstr(error, "idsvc.conf:19: the line is 4097 bytes long"));
    assert_non_null(strstr(error, "at most 4096 bytes"));
    assert_null(strstr(error, "unknown key"));

    /* A line of exactly 4096 bytes, the line break included, loads whole. */
    strcpy(extra, head);
    append_line(extra, key, "X", 4096);
    strcat(extra, "subject_cn = bank\n");
    assert_int_equal(load(extra, &cfg, error, sizeof(error)), 0);
    assert_non_null(cfg);
    assert_int_equal(strlen(cfg->rps[0].entity_id), 4095 - strlen("entity_id = "));
    assert_int_equal(cfg->rps[0].entity_id[4095 - strlen("entity_id = ") - 1], 'X');
    config_free(&cfg);
}

/* 64 characters of 4 bytes each make a 270-byte line, its line break included, which
 * libinih's default buffer cuts inside a character. */
static void test_subject_cn_four_byte_loads(void **state)
{
    char extra[512] = "[client smile]\nrole = issuer\nsubject_cn = ";
    config *cfg = NULL;
    char error[512];

    (void)state;
    for (int i = 0; i < 64; i++)
        strcat(extra, "\xf0\x9f\x98\x80"); /* U+1F600 */
    strcat(extra, "\n");

    assert_int_equal(load(extra, &cfg, error, sizeof(error)), 0);
    assert_non_null(cfg);
    assert_int_equal(strlen(cfg->clients[0].subject_cn), 256);
    assert_int_equal(config_utf8_characters(cfg->clients[0].subject_cn), 64);
    config_free(&cfg);
}

/* No [issuer] may use the node's entity_id, and no two [issuer] or [rp] sections may share
 * one. */
static void test_entity_ids_unique(void **state)
{
    static const load_case cases[] = {
        {"[issuer self]\nentity_id = https://node.example/idsvc\ncertificate = a.pem\n",
         "[issuer self] entity_id \"https://node.example/idsvc\" is the node's own "
         "[server] entity_id"},
        {"[issuer a]\nentity_id = https://agency.example\ncertificate = a.pem\n"
         "[issuer b]\nentity_id = https://agency.example\ncertificate = b.pem\n",
         "[issuer a] and [issuer b] have the same entity_id \"https://agency.example\""},
        {"[rp a]\nentity_id = https://bank.example/sp\njurisdiction = SG\nsubject_cn = a\n"
         "[rp b]\nentity_id = https://bank.example/sp\njurisdiction = MY\nsubject_cn = b\n",
         "[rp a] and [rp b] have the same entity_id \"https://bank.example/sp\""},
    };
    config *cfg = NULL;
    char error[512];

    (void)state;
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    /* An issuer and a relying party may share an entity_id; each list is checked alone. */
    assert_int_equal(load("[issuer a]\nentity_id = https://a.example\ncertificate = a.pem\n"
                          "[rp a]\nentity_id = https://a.example\njurisdiction = SG\n"
                          "subject_cn = a\n",
                          &cfg, error, sizeof(error)),
                     0);
    config_free(&cfg);
}

/* checkpoint_interval = 0 turns off the thread that purges payloads, so it must not come
 * with a retention period, and the error names the line of each. */
static void test_retention_needs_checkpoints(void **state)
{
    config *cfg = NULL;
    char error[512];

    (void)state;
    /* The base file has 16 lines, so [audit] is line 17. */
    assert_int_equal(load("[audit]\ncheckpoint_interval = 0\nretention_days = 30\n", &cfg,
                          error, sizeof(error)),
                     -1);
    assert_null(cfg);
    assert_non_null(strstr(error,
                           "idsvc.conf:18: [audit] checkpoint_interval = 0 turns off "
                           "the checkpoint thread"));
    assert_non_null(strstr(error, "retention_days = 30 on line 19 would never apply"));

    assert_int_equal(load("[audit]\nretention_days.MY = 7\ncheckpoint_interval = 0\n",
                          &cfg, error, sizeof(error)),
                     -1);
    assert_non_null(strstr(error, "idsvc.conf:19: [audit] checkpoint_interval = 0"));
    assert_non_null(strstr(error, "retention_days.MY = 7 on line 18 would never apply"));

    /* Either setting alone loads. */
    assert_int_equal(load("[audit]\ncheckpoint_interval = 0\nretention_days = 0\n", &cfg,
                          error, sizeof(error)),
                     0);
    config_free(&cfg);
    assert_int_equal(load("[audit]\ncheckpoint_interval = 60\nretention_days = 30\n",
                          &cfg, error, sizeof(error)),
                     0);
    config_free(&cfg);
}

/* Writes text into a file of the assets folder assets/ under the test folder. */
static void write_asset_text(const char *name, const char *text)
{
    char path[160];
    FILE *file;

    snprintf(path, sizeof(path), "%s/assets/%s", folder, name);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
}

static void write_asset(const char *name)
{
    write_asset_text(name, "x");
}

/* The RP ID and origins as a browser compares them, and the files of the assets folder:
 * a node with settings that break every ceremony or page does not load them. */
static void test_pages_settings_checked(void **state)
{
    static const load_case cases[] = {
        {"[webauthn]\nrp_id = https://localhost/\norigin = https://localhost\n",
         "rp_id \"https://localhost/\" must be a lower-case host name"},
        {"[webauthn]\nrp_id = ID.example.org\norigin = https://id.example.org\n",
         "rp_id \"ID.example.org\""},
        {"[webauthn]\nrp_id = 127.0.0.1\norigin = https://127.0.0.1\n", "rp_id \"127.0.0.1\""},
        {"[webauthn]\nrp_id = -bad.example\norigin = https://bad.example\n",
         "rp_id \"-bad.example\""},
        {"[webauthn]\nrp_id = 0x7f000001\norigin = https://0x7f000001:18444\n",
         "rp_id \"0x7f000001\""},
        {"[webauthn]\nrp_id = example.0x10\norigin = https://example.0x10\n",
         "rp_id \"example.0x10\""},
        {"[webauthn]\nrp_id = foo.0x\norigin = https://foo.0x\n", "rp_id \"foo.0x\""},
        {"[webauthn]\nrp_id = example.org\norigin = https://id.0x7f\n",
         "origin \"https://id.0x7f\" must be https://"},
        {"[webauthn]\nrp_id = localhost\norigin = localhost:18443\n",
         "origin \"localhost:18443\" must start with https://"},
        {"[webauthn]\nrp_id = localhost\norigin = http://localhost:18443\n",
         "must start with https://"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:18443/\n",
         "idsvc.conf:19: [webauthn] origin \"https://localhost:18443/\" ends with a slash"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost/\n",
         "idsvc.conf:19: [webauthn] origin \"https://localhost/\" ends with a slash"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:18443/enroll\n",
         "origin \"https://localhost:18443/enroll\" has a path, query or fragment"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost?x=1\n",
         "has a path, query or fragment"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:18x43\n",
         "has a port that is not a number"},
        {"[webauthn]\nrp_id = localhost\norigin = https://Localhost\n",
         "must be https:// and a lower-case host name"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:443\n",
         "names port 443"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:65536\n",
         "not a number from 1 to 65535"},
        {"[webauthn]\nrp_id = example.org\norigin = https://id.example.org\n"
         "origin = https://evil.example\n",
         "origin \"https://evil.example\" has a host that rp_id neither equals nor is a "
         "suffix of"},
        {"[webauthn]\nrp_id = example.org\norigin = https://badexample.org\n",
         "neither equals nor is a suffix of"},
        {"[webauthn]\nrp_id = org\norigin = https://example.org\n",
         "neither equals nor is a suffix of"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:8443\n"
         "[pages]\nassets = nonexistent\n",
         "/nonexistent/pages.js is missing"},
        {"[webauthn]\nrp_id = localhost\norigin = https://localhost:8443\n"
         "[pages]\nassets = assets\n",
         "/assets/i18n/en.json is missing"},
    };
    static const struct {
        const char *text;
        const char *message;
    } catalogues[] = {
        {"{not json", "/assets/i18n/en.json:1: "},
        {"[\"a\"]", "/assets/i18n/en.json must be a JSON object"},
        {"{\"a\": 1}", "the value of \"a\" is not a string"},
        {"{\"a\": \"x\", \"a\": \"y\"}", "duplicate object key"},
    };
    static const char pages_in_assets[] =
        "[webauthn]\nrp_id = localhost\norigin = https://localhost:8443\n"
        "[pages]\nassets = assets\n";
    config *cfg = NULL;
    char error[512];
    char path[160];

    (void)state;
    snprintf(path, sizeof(path), "%s/assets", folder);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof(path), "%s/assets/i18n", folder);
    assert_int_equal(mkdir(path, 0700), 0);
    write_asset("pages.js");
    write_asset("pages.css");
    expect_load_failures(cases, sizeof(cases) / sizeof(cases[0]));

    /* The English catalogue must read as the pages read it. */
    for (size_t i = 0; i < sizeof(catalogues) / sizeof(catalogues[0]); i++) {
        write_asset_text("i18n/en.json", catalogues[i].text);
        assert_int_equal(load(pages_in_assets, &cfg, error, sizeof(error)), -1);
        if (strstr(error, catalogues[i].message) == NULL)
            fprintf(stderr, "catalogue %zu: %s\n", i, error);
        assert_non_null(strstr(error, catalogues[i].message));
    }
    write_asset_text("i18n/en.json", "{\"title\": \"Sign in\"}");
    assert_int_equal(load(pages_in_assets, &cfg, error, sizeof(error)), 0);
    config_free(&cfg);

    /* A suffix RP ID, a subdomain origin with a port, and the default assets folder. */
    assert_int_equal(load("[webauthn]\nrp_id = example.org\norigin = https://example.org\n"
                          "origin = https://id.example.org:8443\n"
                          "origin = https://xn--80ak6aa92e.example.org\n",
                          &cfg, error, sizeof(error)),
                     0);
    config_free(&cfg);
    /* Without rp_id the pages are off, and nothing of theirs is read. */
    assert_int_equal(load("[pages]\nassets = nonexistent\n", &cfg, error, sizeof(error)), 0);
    config_free(&cfg);
}

static void test_missing_required_key(void **state)
{
    config *cfg = NULL;
    char error[512];
    char path[128];
    FILE *file;

    (void)state;
    snprintf(path, sizeof(path), "%s/short.conf", folder);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs("[server]\nlisten = 127.0.0.1\n", file);
    fclose(file);
    assert_int_equal(config_load(path, &cfg, error, sizeof(error)), -1);
    assert_non_null(strstr(error, "[server] entity_id is missing"));
}

static void test_sample_file_loads(void **state)
{
    const char *root = getenv("IDSVC_SOURCE_DIR");
    char path[4096];
    config *cfg = NULL;
    char error[512];

    (void)state;
    assert_non_null(root);
    snprintf(path, sizeof(path), "%s/etc/idsvc.conf.sample", root);
    if (config_load(path, &cfg, error, sizeof(error)) != 0)
        fprintf(stderr, "%s\n", error);
    assert_non_null(cfg);
    assert_true(cfg->rp_count > 0);
    config_free(&cfg);
}

/* Records the start-only keys that config_compare_start_only reports, as "[section] key"
 * lines. */
static void record_key(void *ctx, const char *section, const char *key)
{
    char *list = ctx;
    size_t used = strlen(list);

    snprintf(list + used, 512 - used, "[%s] %s\n", section, key);
}

static void test_start_only_keys_compared(void **state)
{
    static const char policy[] = "[policy]\nbundle = base.xml\n"
                                 "[regulator asean]\nkey = asean.pem\nsigns = base\n";
    config *running = NULL;
    config *loaded = NULL;
    char error[512];
    char changes[512] = "";

    (void)state;
    assert_int_equal(load(policy, &running, error, sizeof(error)), 0);

    /* The same file again, with reloadable sections added: nothing to report. */
    assert_int_equal(load("[client x]\nrole = issuer\nsubject_cn = x\n"
                          "[policy]\nbundle = base.xml\nbundle = residency-sg.xml\n"
                          "[regulator asean]\nkey = asean.pem\nsigns = base\n",
                          &loaded, error, sizeof(error)),
                     0);
    assert_int_equal(config_compare_start_only(running, loaded, record_key, changes), 0);
    assert_string_equal(changes, "");
    config_free(&loaded);

    /* Another port and other start-only keys, each changed key named once. The
     * regulator keys and trust_list reload with the bundles, so their changes are not
     * reported. */
    assert_int_equal(load_replacing("port = 9443\n", "port = 9444\n", "[limits]\nthreads = 16\n"
                          "[audit]\nretention_days.MY = 30\n"
                          "[policy]\nbundle = base.xml\ntrust_list = old-keys.pem\n"
                          "[regulator asean]\nkey = asean.pem\nkey = asean-2027.pem\n"
                          "signs = base\n"
                          "[regulator pdpc-sg]\nkey = sg.pem\nsigns = SG\n",
                          &loaded, error, sizeof(error)),
                     0);
    assert_int_equal(config_compare_start_only(running, loaded, record_key, changes), 3);
    assert_string_equal(changes, "[server] port\n"
                                 "[limits] threads\n"
                                 "[audit] retention_days.MY\n");
    config_free(&loaded);
    config_free(&running);
}

/* Writes text to NAME in the test folder and returns its path in path. */
static void write_test_file(const char *name, const char *text, char *path, size_t size)
{
    FILE *file;

    snprintf(path, size, "%s/%s", folder, name);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static char *read_test_file(const char *name)
{
    char path[128];
    char *text;
    long size;
    FILE *file;

    snprintf(path, sizeof(path), "%s/%s", folder, name);
    file = fopen(path, "r");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    size = ftell(file);
    rewind(file);
    text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    fclose(file);
    return text;
}

/* Every block of a trust file is loaded, and anything else in it is an error that names
 * the file and the line. */
static void test_trust_file_blocks(void **state)
{
    char command[512];
    char *cert_a, *cert_b, *pub_b, *key_b;
    char half[256];
    char text[16384];
    char path[160];
    char error[512];
    EVP_PKEY **keys = NULL;
    X509 **certs = NULL;
    size_t count = 0;

    (void)state;
    snprintf(command, sizeof(command),
             "cd %s && for n in a b; do openssl req -x509 -newkey ec -pkeyopt "
             "ec_paramgen_curve:P-256 -nodes -keyout $n.key -out $n.pem -subj /CN=$n "
             "-days 2 2>/dev/null || exit 1; done && openssl pkey -in b.key -pubout "
             "-out b.pub",
             folder);
    assert_int_equal(system(command), 0);
    cert_a = read_test_file("a.pem");
    cert_b = read_test_file("b.pem");
    pub_b = read_test_file("b.pub");
    key_b = read_test_file("b.key");

    /* Two certificates, and a certificate with a bare key: every key is returned. */
    snprintf(text, sizeof(text), "%s\n%s", cert_a, cert_b);
    write_test_file("two.pem", text, path, sizeof(path));
    assert_int_equal(pem_read_public_keys(path, &keys, &count, error, sizeof(error)), 0);
    assert_int_equal(count, 2);
    pem_keys_free(&keys, count);
    assert_int_equal(pem_read_certificates(path, &certs, &count, error, sizeof(error)), 0);
    assert_int_equal(count, 2);
    pem_certificates_free(&certs, count);
    snprintf(text, sizeof(text), "%s%s", cert_a, pub_b);
    write_test_file("mixed.pem", text, path, sizeof(path));
    assert_int_equal(pem_read_public_keys(path, &keys, &count, error, sizeof(error)), 0);
    assert_int_equal(count, 2);
    pem_keys_free(&keys, count);
    assert_int_equal(pem_read_certificates(path, &certs, &count, error, sizeof(error)),
                     PEM_FILE_INVALID);
    assert_non_null(strstr(error, "mixed.pem: line "));
    assert_non_null(strstr(error, "block 2 has the label PUBLIC KEY,"));

    /* The first three lines of b.pem: a block cut off in the middle. */
    snprintf(half, sizeof(half), "%.*s", (int)(strchr(strchr(strchr(cert_b, '\n') + 1,
                                                              '\n') + 1, '\n') - cert_b + 1),
             cert_b);
    const struct {
        const char *name;
        const char *first;
        const char *second;
        const char *message;
    } cases[] = {
        {"truncated.pem", cert_a, half, "the CERTIFICATE block has no END line; the file is "
                                        "truncated"},
        {"garbage.pem", cert_a, "left over from an editor\n", "text outside a PEM block"},
        {"leading.pem", "subject=CN = a\n", cert_a, "line 1: text outside a PEM block"},
        {"private.pem", cert_a, key_b, "has the label PRIVATE KEY,"},
        {"base64.pem", cert_a,
         "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
         "base64 body cannot be decoded"},
        {"nested.pem", half, cert_a, "no END line before the next BEGIN line"},
        {"empty.pem", "", "\n\n", "no PEM block found"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char expected[200];

        snprintf(text, sizeof(text), "%s%s", cases[i].first, cases[i].second);
        write_test_file(cases[i].name, text, path, sizeof(path));
        error[0] = '\0';
        assert_int_equal(pem_read_public_keys(path, &keys, &count, error, sizeof(error)),
                         PEM_FILE_INVALID);
        assert_null(keys);
        snprintf(expected, sizeof(expected), "%s: ", path);
        if (strstr(error, cases[i].message) == NULL || strstr(error, expected) != error)
            fprintf(stderr, "case %s: %s\n", cases[i].name, error);
        assert_ptr_equal(strstr(error, expected), error);
        assert_non_null(strstr(error, cases[i].message));
    }

    /* A file that cannot be opened gets another status than a file with bad content. */
    write_test_file("missing.pem", "", path, sizeof(path));
    assert_int_equal(remove(path), 0);
    assert_int_equal(pem_read_public_keys(path, &keys, &count, error, sizeof(error)),
                     PEM_FILE_UNREADABLE);
    assert_non_null(strstr(error, "cannot open the file"));
    assert_int_equal(pem_read_certificates(path, &certs, &count, error, sizeof(error)),
                     PEM_FILE_UNREADABLE);
    free(cert_a);
    free(cert_b);
    free(pub_b);
    free(key_b);
}

/* A PKCS#1 RSA PUBLIC KEY block loads as the same key as its SubjectPublicKeyInfo form,
 * beside other blocks, and a block of that label with a body that is no RSAPublicKey is
 * named as invalid. */
static void test_trust_file_pkcs1_key(void **state)
{
    char command[512];
    char *spki;
    char *pkcs1;
    char text[8192];
    char path[160];
    char error[512];
    EVP_PKEY **keys = NULL;
    EVP_PKEY **spki_keys = NULL;
    X509 **certs = NULL;
    size_t count = 0;
    size_t spki_count = 0;

    (void)state;
    snprintf(command, sizeof(command),
             "cd %s && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
             "-out r.key 2>/dev/null && openssl rsa -in r.key -pubout -out r.pub "
             "2>/dev/null && openssl rsa -in r.key -RSAPublicKey_out -out r.rsapub "
             "2>/dev/null",
             folder);
    assert_int_equal(system(command), 0);
    spki = read_test_file("r.pub");
    pkcs1 = read_test_file("r.rsapub");
    assert_non_null(strstr(pkcs1, "-----BEGIN RSA PUBLIC KEY-----"));

    write_test_file("spki.pem", spki, path, sizeof(path));
    assert_int_equal(pem_read_public_keys(path, &spki_keys, &spki_count, error, sizeof(error)),
                     0);
    snprintf(text, sizeof(text), "%s\n%s", spki, pkcs1);
    write_test_file("pkcs1.pem", text, path, sizeof(path));
    error[0] = '\0';
    assert_int_equal(pem_read_public_keys(path, &keys, &count, error, sizeof(error)), 0);
    assert_int_equal(count, 2);
    assert_int_equal(EVP_PKEY_get_base_id(keys[1]), EVP_PKEY_RSA);
    assert_int_equal(EVP_PKEY_get_bits(keys[1]), 2048);
    assert_int_equal(EVP_PKEY_eq(keys[1], spki_keys[0]), 1);
    pem_keys_free(&keys, count);
    pem_keys_free(&spki_keys, spki_count);

    /* A SubjectPublicKeyInfo body under the PKCS#1 label is no RSAPublicKey. */
    snprintf(text, sizeof(text), "-----BEGIN RSA PUBLIC KEY-----\n%.*s-----END RSA PUBLIC "
             "KEY-----\n",
             (int)(strstr(spki, "-----END") - strchr(spki, '\n') - 1), strchr(spki, '\n') + 1);
    write_test_file("mislabelled.pem", text, path, sizeof(path));
    assert_int_equal(pem_read_public_keys(path, &keys, &count, error, sizeof(error)),
                     PEM_FILE_INVALID);
    assert_null(keys);
    assert_non_null(strstr(error, "mislabelled.pem: line 1: the RSA PUBLIC KEY block "
                                  "(block 1) is not valid"));

    /* The certificate reader still takes only CERTIFICATE blocks. */
    write_test_file("pkcs1-only.pem", pkcs1, path, sizeof(path));
    assert_int_equal(pem_read_certificates(path, &certs, &count, error, sizeof(error)),
                     PEM_FILE_INVALID);
    assert_null(certs);
    assert_non_null(strstr(error, "block 1 has the label RSA PUBLIC KEY,"));

    free(spki);
    free(pkcs1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_complete_file_loads),
        cmocka_unit_test(test_two_matching_sections),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_unknown_section_names_line),
        cmocka_unit_test(test_empty_unknown_section_rejected),
        cmocka_unit_test(test_key_given_twice_rejected),
        cmocka_unit_test(test_syntax_errors_named),
        cmocka_unit_test(test_invalid_values_rejected),
        cmocka_unit_test(test_rp_needs_certificate_match),
        cmocka_unit_test(test_allowed_claims_checked),
        cmocka_unit_test(test_listen_needs_address),
        cmocka_unit_test(test_signs_needs_assigned_code),
        cmocka_unit_test(test_jurisdictions_need_assigned_code),
        cmocka_unit_test(test_subject_cn_checked),
        cmocka_unit_test(test_long_value_loads_whole),
        cmocka_unit_test(test_line_over_limit_names_line),
        cmocka_unit_test(test_subject_cn_four_byte_loads),
        cmocka_unit_test(test_entity_ids_unique),
        cmocka_unit_test(test_retention_needs_checkpoints),
        cmocka_unit_test(test_pages_settings_checked),
        cmocka_unit_test(test_missing_required_key),
        cmocka_unit_test(test_sample_file_loads),
        cmocka_unit_test(test_start_only_keys_compared),
        cmocka_unit_test(test_trust_file_blocks),
        cmocka_unit_test(test_trust_file_pkcs1_key),
    };

    return cmocka_run_group_tests(tests, make_folder, remove_folder);
}

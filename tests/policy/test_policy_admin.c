/*
 * idsvc-admin policy, run as a program on the real bundles. The tests cover help on every
 * subcommand, validate with lines, signing with a key in a fresh SoftHSM2 token, and
 * verification, also by the xmlsec1 command line as an independent verifier. They run
 * diff, explain, simulate and test too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <openssl/pem.h>

#include "p11.h"
#include "policy_internal.h"
#include "test_token.h"

typedef struct fixture {
    test_token token;
    char key_uri[1024];
    char other_key_uri[1024];
    char trust_path[PATH_MAX + 32];
    char other_trust_path[PATH_MAX + 32];
} fixture;

static const char *admin(void)
{
    return getenv("IDSVC_ADMIN");
}

static const char *source_dir(void)
{
    return getenv("IDSVC_SOURCE_DIR");
}

/* Runs a shell command, returns its standard output and error, and sets *status. */
static char *run(int *status, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static char *run(int *status, const char *format, ...)
{
    char command[8192];
    size_t len = 0, capacity = 4096;
    char *out = malloc(capacity);
    va_list args;
    FILE *pipe;
    int raw;

    va_start(args, format);
    vsnprintf(command, sizeof(command), format, args);
    va_end(args);
    strncat(command, " 2>&1", sizeof(command) - strlen(command) - 1);

    pipe = popen(command, "r");
    assert_non_null(pipe);
    for (;;) {
        size_t n;

        if (len + 1024 > capacity) {
            capacity *= 2;
            out = realloc(out, capacity);
        }
        n = fread(out + len, 1, capacity - len - 1, pipe);
        if (n == 0)
            break;
        len += n;
    }
    out[len] = '\0';
    raw = pclose(pipe);
    *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    return out;
}

static void assert_contains(const char *output, const char *part)
{
    if (strstr(output, part) == NULL)
        fail_msg("expected \"%s\" in the output:\n%s", part, output);
}

static void write_text(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    fputs(text, file);
    assert_int_equal(fclose(file), 0);
}

static void write_public(p11_key *key, const char *path)
{
    EVP_PKEY *pkey = p11_key_get_public(key, NULL);
    FILE *file = fopen(path, "w");

    assert_non_null(pkey);
    assert_non_null(file);
    assert_int_equal(PEM_write_PUBKEY(file, pkey), 1);
    fclose(file);
    EVP_PKEY_free(pkey);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    p11_config config = {0};
    p11_error err = {0};
    p11_token *token = NULL;
    p11_key *key = NULL, *other = NULL;
    unsigned char id = 7, other_id = 8;
    char *uri;

    if (f == NULL || test_token_create(&f->token) != 0)
        return -1;
    config.module_path = f->token.module_path;
    config.token_label = TEST_TOKEN_LABEL;
    config.pin_file = f->token.pin_path;
    if (p11_token_open(&config, &token, &err) != 0 ||
        p11_key_generate(token, P11_KEY_EC_P256, "regulator", &id, 1, &key, &err) != 0 ||
        p11_key_generate(token, P11_KEY_RSA_2048, "other", &other_id, 1, &other, &err) !=
            0) {
        print_error("token: %s\n", err.message);
        return -1;
    }
    uri = p11_key_get_uri(key);
    snprintf(f->key_uri, sizeof(f->key_uri), "%s", uri);
    free(uri);
    uri = p11_key_get_uri(other);
    snprintf(f->other_key_uri, sizeof(f->other_key_uri), "%s", uri);
    free(uri);
    snprintf(f->trust_path, sizeof(f->trust_path), "%s/trust.pem", f->token.dir);
    snprintf(f->other_trust_path, sizeof(f->other_trust_path), "%s/other.pem",
             f->token.dir);
    write_public(key, f->trust_path);
    write_public(other, f->other_trust_path);

    p11_key_free(&key);
    p11_key_free(&other);
    p11_token_close(&token);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    test_token_destroy(&f->token);
    free(f);
    return 0;
}

/* ---- Tests
 * ------------------------------------------------------------------------------------ */

static void test_help_on_every_subcommand(void **state)
{
    static const char *const subcommands[] = {
        "validate", "sign", "verify", "diff", "explain", "simulate", "test",
    };
    int status;
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++) {
        char expected[64];

        out = run(&status, "%s policy %s --help", admin(), subcommands[i]);
        assert_int_equal(status, 0);
        snprintf(expected, sizeof(expected), "usage: idsvc-admin policy %s",
                 subcommands[i]);
        assert_contains(out, expected);
        free(out);
    }
    out = run(&status, "%s policy frobnicate", admin());
    assert_int_equal(status, 2);
    assert_contains(out, "unknown subcommand 'frobnicate'");
    free(out);
}

static void test_validate_reports_lines(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 64];
    int status;
    char *out;

    out = run(&status, "%s policy validate %s/policies", admin(), source_dir());
    assert_int_equal(status, 0);
    assert_contains(out, "12 bundle(s), 0 finding(s): valid");
    free(out);

    snprintf(path, sizeof(path), "%s/bad.xml", f->token.dir);
    write_text(path,
               "<PolicyBundle xmlns='urn:idsvc:policy:1' ID='b' version='1' kind='base'\n"
               " regulator='r' effectiveFrom='2026-01-01T00:00:00Z'>\n"
               "<Title>t</Title>\n<Rules>\n<Rule id='x'>\n<Match/>\n"
               "<Effect>share</Effect>\n<Summary>s</Summary></Rule></Rules>"
               "</PolicyBundle>\n");
    out = run(&status, "%s policy validate %s", admin(), path);
    assert_int_equal(status, 1);
    assert_contains(out, "bad.xml:7: error: schema_invalid");
    free(out);

    out = run(&status, "%s policy validate %s/policies/residency-sg.xml", admin(),
              source_dir());
    assert_int_equal(status, 1);
    assert_contains(out, "no_base_bundle");
    free(out);
}

static void test_validate_warnings_and_strict(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 64];
    char *base, *changed;
    size_t len;
    int status;
    char *out;

    /* A copy of the base with a rule that a broader withholding rule always beats. */
    snprintf(path, sizeof(path), "%s/policies/asean-cn-base.xml", source_dir());
    base = test_read_file(path, &len);
    assert_non_null(base);
    changed = malloc(len + 1024);
    {
        const char *at = strstr(base, "  </Rules>");

        assert_non_null(at);
        sprintf(changed,
                "%.*s    <Rule id=\"base.sensitive.never-wins\"><Match>"
                "<ClaimClass>sensitive</ClaimClass></Match><Effect>disclose</Effect>"
                "<LegalBasis instrument=\"t\" provision=\"1\"/><Summary>s</Summary>"
                "</Rule>\n%s",
                (int)(at - base), base, at);
    }
    snprintf(path, sizeof(path), "%s/shadowed.xml", f->token.dir);
    write_text(path, changed);

    out = run(&status, "%s policy validate %s", admin(), path);
    assert_int_equal(status, 0);
    assert_contains(out,
                    "warning: shadowed: rule base.sensitive.never-wins never wins: rule "
                    "base.sensitive.withhold");
    free(out);
    out = run(&status, "%s policy validate --strict --json %s", admin(), path);
    assert_int_equal(status, 1);
    assert_contains(out, "\"code\": \"shadowed\"");
    free(out);
    free(base);
    free(changed);
}

static void test_sign_and_verify(void **state)
{
    fixture *f = *state;
    char signed_path[PATH_MAX + 64], tampered_path[PATH_MAX + 64];
    char *text, *at;
    size_t len;
    int status;
    char *out;

    snprintf(signed_path, sizeof(signed_path), "%s/base.signed.xml", f->token.dir);
    out = run(
        &status,
        "%s policy sign %s/policies/asean-cn-base.xml --key '%s' --module %s --token %s "
        "--pin-file %s --output %s",
        admin(), source_dir(), f->key_uri, f->token.module_path, TEST_TOKEN_LABEL,
        f->token.pin_path, signed_path);
    if (status != 0)
        fail_msg("sign failed: %s", out);
    free(out);

    out = run(&status, "%s policy verify %s --trust %s --at 2026-06-01T00:00:00Z",
              admin(), signed_path, f->trust_path);
    assert_int_equal(status, 0);
    assert_contains(out, "verified: bundle asean-cn-base version 1");
    free(out);

    /* An independent verifier: the xmlsec1 command line with the same public key. */
    out = run(&status,
              "xmlsec1 --verify --pubkey-pem %s --id-attr:ID "
              "urn:idsvc:policy:1:PolicyBundle %s",
              f->trust_path, signed_path);
    if (status != 0)
        fail_msg("xmlsec1 did not verify the signed bundle: %s", out);
    free(out);

    out = run(&status, "%s policy verify %s --trust %s --at 2026-06-01T00:00:00Z",
              admin(), signed_path, f->other_trust_path);
    assert_int_equal(status, 1);
    assert_contains(out, "key_untrusted");
    free(out);

    out = run(&status, "%s policy verify %s --trust %s --at 2028-06-01T00:00:00Z --json",
              admin(), signed_path, f->trust_path);
    assert_int_equal(status, 1);
    assert_contains(out, "\"error\": \"bundle_expired\"");
    free(out);

    out = run(&status, "%s policy verify %s/policies/asean-cn-base.xml --trust %s",
              admin(), source_dir(), f->trust_path);
    assert_int_equal(status, 1);
    assert_contains(out, "signature_missing");
    free(out);

    text = test_read_file(signed_path, &len);
    at = strstr(text, "<MaxRetentionDays>1825</MaxRetentionDays>");
    assert_non_null(at);
    memcpy(at, "<MaxRetentionDays>9825", strlen("<MaxRetentionDays>9825"));
    snprintf(tampered_path, sizeof(tampered_path), "%s/base.tampered.xml", f->token.dir);
    write_text(tampered_path, text);
    out = run(&status, "%s policy verify %s --trust %s --at 2026-06-01T00:00:00Z",
              admin(), tampered_path, f->trust_path);
    assert_int_equal(status, 1);
    assert_contains(out, "signature_invalid");
    free(out);
    free(text);

    out =
        run(&status, "%s policy sign %s --key '%s' --module %s --token %s --pin-file %s",
            admin(), signed_path, f->key_uri, f->token.module_path, TEST_TOKEN_LABEL,
            f->token.pin_path);
    assert_int_equal(status, 1);
    assert_contains(out, "bundle_already_signed: ");
    assert_contains(out, "already signed");
    assert_null(strstr(out, "signature_invalid"));
    free(out);

    out = run(&status, "%s policy sign %s/policies/asean-cn-base.xml --key '%s'", admin(),
              source_dir(), f->key_uri);
    assert_int_equal(status, 2);
    assert_contains(out, "no token given");
    free(out);
}

/* An enveloped-signature template in the node's profile, for xmlsec1 --sign. */
static const char signature_template[] =
    "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
    "<ds:CanonicalizationMethod Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>"
    "<ds:SignatureMethod "
    "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256\"/>"
    "<ds:Reference URI=\"#residency-sg\"><ds:Transforms>"
    "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
    "<ds:Transform "
    "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/></ds:Transforms>"
    "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
    "<ds:DigestValue/></ds:Reference></ds:SignedInfo><ds:SignatureValue/></ds:Signature>"
    "</PolicyBundle>";

/* Writes policies/residency-sg.xml with version into path, and with the signature
 * template when template is set. */
static void write_residency_version(const char *path, const char *version, bool template)
{
    char source[PATH_MAX + 64];
    char attribute[64];
    char *text, *at, *end, *out;
    size_t len;

    snprintf(source, sizeof(source), "%s/policies/residency-sg.xml", source_dir());
    text = test_read_file(source, &len);
    assert_non_null(text);
    at = strstr(text, "version=\"1\"");
    end = strstr(text, "</PolicyBundle>");
    assert_non_null(at);
    assert_non_null(end);
    snprintf(attribute, sizeof(attribute), "version=\"%s\"", version);
    len += strlen(attribute) + sizeof(signature_template);
    out = malloc(len);
    assert_non_null(out);
    snprintf(out, len, "%.*s%s%.*s%s", (int)(at - text), text, attribute,
             (int)(end - at - strlen("version=\"1\"")), at + strlen("version=\"1\""),
             template ? signature_template : "</PolicyBundle>\n");
    write_text(path, out);
    free(out);
    free(text);
}

/* Signs the bundle with xmlsec1 and a software key, so that a version the signer rejects
 * still reaches the verifier, and stores the signed file's path in signed_path. */
static void sign_with_xmlsec(const fixture *f, const char *version, char *signed_path,
                             size_t size)
{
    char template_path[PATH_MAX + 64];
    char *out;
    int status;

    snprintf(template_path, sizeof(template_path), "%s/v-%s.tmpl.xml", f->token.dir,
             version);
    snprintf(signed_path, size, "%s/v-%s.signed.xml", f->token.dir, version);
    write_residency_version(template_path, version, true);
    out = run(&status,
              "xmlsec1 --sign --privkey-pem %s/software.key --id-attr:ID "
              "urn:idsvc:policy:1:PolicyBundle --output %s %s",
              f->token.dir, signed_path, template_path);
    if (status != 0)
        fail_msg("xmlsec1 --sign failed: %s", out);
    free(out);
}

/* Versions above 2^63 - 1 are rejected by sign and verify instead of being clamped.
 * libxml2 gives the root the line where its start tag ends, line 9 of the source. */
static void test_version_out_of_range(void **state)
{
    static const char *const versions[] = {"9223372036854775808", "99999999999999999999"};
    fixture *f = *state;
    char path[PATH_MAX + 64];
    char expected[160];
    char *out;
    int status;

    out = run(&status,
              "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "
              "%s/software.key && openssl pkey -in %s/software.key -pubout -out "
              "%s/software.pem",
              f->token.dir, f->token.dir, f->token.dir);
    if (status != 0)
        fail_msg("openssl failed: %s", out);
    free(out);

    /* The largest version passes, so the route through xmlsec1 is sound. */
    sign_with_xmlsec(f, "9223372036854775807", path, sizeof(path));
    out = run(&status,
              "%s policy verify %s --trust %s/software.pem --at 2026-06-01T00:00:00Z",
              admin(), path, f->token.dir);
    assert_int_equal(status, 0);
    assert_contains(out, "verified: bundle residency-sg version 9223372036854775807,");
    free(out);

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        snprintf(expected, sizeof(expected),
                 "version \"%s\" is not a decimal integer from 1 "
                 "to 9223372036854775807 (2^63 - 1)",
                 versions[i]);

        snprintf(path, sizeof(path), "%s/v-%s.xml", f->token.dir, versions[i]);
        write_residency_version(path, versions[i], false);
        out = run(&status,
                  "%s policy sign %s --key '%s' --module %s --token %s --pin-file %s "
                  "--output %s.signed",
                  admin(), path, f->key_uri, f->token.module_path, TEST_TOKEN_LABEL,
                  f->token.pin_path, path);
        assert_int_equal(status, 1);
        assert_contains(out, "policy sign: schema_invalid: line 9: ");
        assert_contains(out, expected);
        free(out);

        sign_with_xmlsec(f, versions[i], path, sizeof(path));
        out = run(&status,
                  "%s policy verify %s --trust %s/software.pem --at 2026-06-01T00:00:00Z",
                  admin(), path, f->token.dir);
        assert_int_equal(status, 1);
        assert_contains(out, "not verified: schema_invalid: line ");
        assert_contains(out, expected);
        free(out);
    }
}

/* Signs policies/residency-sg.xml with the key at key_uri into the token's folder. */
static void sign_residency_sg(const fixture *f, const char *key_uri, const char *name,
                              char *signed_path, size_t size)
{
    int status;
    char *out;

    snprintf(signed_path, size, "%s/%s", f->token.dir, name);
    out = run(&status,
              "%s policy sign %s/policies/residency-sg.xml --key '%s' --module %s "
              "--token %s --pin-file %s --output %s",
              admin(), source_dir(), key_uri, f->token.module_path, TEST_TOKEN_LABEL,
              f->token.pin_path, signed_path);
    if (status != 0)
        fail_msg("sign failed: %s", out);
    free(out);
}

/* The message of policy_trust_authorise, which the node logs for the same bundle. */
#define TH_KEY_MESSAGE                                                                   \
    "residency bundle residency-sg version 1 for jurisdiction SG is signed by a key of " \
    "regulator pdpc-th, which may sign only residency bundles of TH"

/* A node configuration whose key paths are relative to its folder, as a node reads
 * them: the EC key (trust.pem) bound to TH and the RSA key (other.pem) to SG. */
static void write_node_config(const fixture *f, char *path, size_t size)
{
    char text[PATH_MAX + 2048];

    snprintf(path, size, "%s/node.conf", f->token.dir);
    snprintf(text, sizeof(text),
             "[server]\nlisten = 127.0.0.1\nport = 8443\n"
             "entity_id = https://id.node.example/idsvc\njurisdiction = SG\n"
             "[hsm]\ntoken_label = %s\npin_file = %s\n"
             "tls_key = pkcs11:token=%s;object=tls;type=private\n"
             "saml_key = pkcs11:token=%s;object=saml;type=private\n"
             "[tls]\ncertificate = tls.pem\nclient_ca = client-ca.pem\n"
             "[database]\npath = idsvc.db\n"
             "[policy]\nbundle = residency-sg.signed.xml\n"
             "[regulator pdpc-th]\nkey = trust.pem\nsigns = TH\n"
             "[regulator pdpc-sg]\nkey = other.pem\nsigns = SG\n",
             TEST_TOKEN_LABEL, f->token.pin_path, TEST_TOKEN_LABEL, TEST_TOKEN_LABEL);
    write_text(path, text);
}

static void test_verify_config_binding(void **state)
{
    fixture *f = *state;
    char th_signed[PATH_MAX + 64], sg_signed[PATH_MAX + 64], config[PATH_MAX + 64];
    int status;
    char *out;

    sign_residency_sg(f, f->key_uri, "sg-by-th-key.xml", th_signed, sizeof(th_signed));
    sign_residency_sg(f, f->other_key_uri, "sg-by-sg-key.xml", sg_signed,
                      sizeof(sg_signed));
    write_node_config(f, config, sizeof(config));

    out = run(&status, "%s policy verify %s --config %s --at 2026-06-01T00:00:00Z",
              admin(), th_signed, config);
    assert_int_equal(status, 1);
    assert_contains(out, "not verified: key_not_authorised");
    assert_contains(out, TH_KEY_MESSAGE);
    free(out);

    out = run(&status, "%s policy verify %s --config %s --at 2026-06-01T00:00:00Z",
              admin(), sg_signed, config);
    assert_int_equal(status, 0);
    assert_contains(out, "verified: bundle residency-sg version 1");
    assert_contains(out, "of regulator pdpc-sg");
    assert_null(strstr(out, "NOTE"));
    free(out);

    out = run(&status, "%s policy verify %s --config %s/missing.conf", admin(), sg_signed,
              f->token.dir);
    assert_int_equal(status, 1);
    assert_contains(out, "missing.conf: cannot open the file");
    free(out);
}

static void test_verify_regulator_binding(void **state)
{
    fixture *f = *state;
    char th_signed[PATH_MAX + 64];
    int status;
    char *out;

    sign_residency_sg(f, f->key_uri, "sg-by-th-key.xml", th_signed, sizeof(th_signed));

    out = run(&status,
              "%s policy verify %s --regulator pdpc-th=TH:%s --at 2026-06-01T00:00:00Z",
              admin(), th_signed, f->trust_path);
    assert_int_equal(status, 1);
    assert_contains(out, "not verified: key_not_authorised");
    assert_contains(out, TH_KEY_MESSAGE);
    free(out);

    out = run(&status,
              "%s policy verify %s --regulator pdpc-sg=base,SG:%s "
              "--regulator pdpc-th=TH:%s --at 2026-06-01T00:00:00Z --json",
              admin(), th_signed, f->trust_path, f->other_trust_path);
    assert_int_equal(status, 0);
    assert_contains(out, "\"verified\": true");
    assert_contains(out, "\"regulator\": \"pdpc-sg\"");
    free(out);

    out = run(&status, "%s policy verify %s --regulator pdpc-sg=sg:%s", admin(),
              th_signed, f->trust_path);
    assert_int_equal(status, 2);
    assert_contains(out, "\"sg\" is neither base nor an ISO 3166-1 alpha-2 code");
    free(out);

    out = run(&status, "%s policy verify %s --regulator pdpc-sg:%s", admin(), th_signed,
              f->trust_path);
    assert_int_equal(status, 2);
    assert_contains(out, "is not NAME=SIGNS:FILE");
    free(out);

    out = run(&status, "%s policy verify %s --regulator pdpc-sg=SG:%s --trust %s",
              admin(), th_signed, f->trust_path, f->trust_path);
    assert_int_equal(status, 2);
    assert_contains(out, "exactly one of --config, --regulator and --trust");
    free(out);
}

static void test_verify_trust_prints_note(void **state)
{
    fixture *f = *state;
    char th_signed[PATH_MAX + 64];
    int status;
    char *out;

    sign_residency_sg(f, f->key_uri, "sg-by-th-key.xml", th_signed, sizeof(th_signed));
    out = run(&status, "%s policy verify %s --trust %s --at 2026-06-01T00:00:00Z",
              admin(), th_signed, f->trust_path);
    assert_int_equal(status, 0);
    assert_contains(out, "verified: bundle residency-sg version 1");
    assert_contains(out, "NOTE: --trust does not check which bundles a key may sign");
    free(out);
}

/* Copies policies/ into a folder and changes the Singapore export rule to withhold. */
static void make_changed_copy(const fixture *f, char *folder, size_t size)
{
    char path[PATH_MAX + 64];
    char *text, *at;
    size_t len;
    int status;
    char *out;

    snprintf(folder, size, "%s/changed", f->token.dir);
    out = run(&status, "mkdir -p %s && cp %s/policies/*.xml %s/", folder, source_dir(),
              folder);
    assert_int_equal(status, 0);
    free(out);

    assert_true(snprintf(path, sizeof(path), "%s/residency-sg.xml", folder) <
                (int)sizeof(path));
    text = test_read_file(path, &len);
    at = strstr(text, "<Effect>disclose</Effect>");
    assert_non_null(at);
    memcpy(at, "<Effect>withhold</Effect>", strlen("<Effect>withhold</Effect>"));
    write_text(path, text);
    free(text);
}

static void test_diff_on_real_bundles(void **state)
{
    fixture *f = *state;
    char folder[PATH_MAX + 64];
    json_error_t error;
    json_t *doc;
    int status;
    char *out;

    out = run(&status, "%s policy diff %s/policies %s/policies", admin(), source_dir(),
              source_dir());
    assert_int_equal(status, 0);
    assert_contains(out, "Rules changed: 0");
    assert_contains(out, "Requests whose decision changes: 0");
    free(out);

    make_changed_copy(f, folder, sizeof(folder));
    out = run(&status, "%s policy diff %s/policies %s", admin(), source_dir(), folder);
    assert_int_equal(status, 1);
    assert_contains(out, "changed  sg.export.general (residency-sg)");
    assert_contains(out, "effect: disclose -> withhold");
    assert_contains(out, "SG       CN   account_opening        given_name");
    assert_contains(out, "withheld/rule/sg.export.general");
    free(out);

    out = run(&status, "%s policy diff --json %s/policies %s", admin(), source_dir(),
              folder);
    assert_int_equal(status, 1);
    doc = json_loads(out, 0, &error);
    assert_non_null(doc);
    {
        size_t i;
        json_t *item;
        size_t sg = 0;

        json_array_foreach(json_object_get(doc, "requests"), i, item)
        {
            /* Only Singapore residents leaving Singapore change. */
            assert_string_equal(json_string_value(json_object_get(item, "subject")),
                                "SG");
            assert_string_not_equal(
                json_string_value(json_object_get(item, "relying_party")), "SG");
            sg++;
        }
        assert_true(sg > 100);
    }
    json_decref(doc);
    free(out);

    /* A changed retention limit and a changed derive list show in the grid too. */
    out = run(&status,
              "rm -rf '%s/limits' && cp -r '%s/policies' '%s/limits' && "
              "sed -i -e 's/derive=\"age_over_18 age_over_21\"/derive=\"age_over_18\"/' "
              "-e 's|<MaxRetentionDays>3650</MaxRetentionDays>|<MaxRetentionDays>36500"
              "</MaxRetentionDays>|' "
              "'%s/limits/asean-cn-base.xml'",
              f->token.dir, source_dir(), f->token.dir, f->token.dir);
    assert_int_equal(status, 0);
    free(out);
    out = run(&status, "%s policy diff --json %s/policies '%s/limits'", admin(),
              source_dir(), f->token.dir);
    assert_int_equal(status, 1);
    assert_contains(out, "\"new\": \"derived/rule/base.age-check.date-of-birth age_over_18\"");
    assert_contains(out, "\"conditions\": \"all met, retention 36500 days\"");
    free(out);

    /* A decision time that is not one names the value, not an unknown option. */
    out = run(&status, "%s policy diff --at 2026-02-30T00:00:00Z %s/policies '%s/limits'",
              admin(), source_dir(), f->token.dir);
    assert_int_equal(status, 2);
    assert_contains(out, "diff: --at 2026-02-30T00:00:00Z is not a UTC time");
    free(out);
}

static void test_explain_shows_trace(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 64];
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/request.json", f->token.dir);
    write_text(
        path,
        "{\"subject_jurisdiction\": \"CN\", \"relying_party\": {\"id\": \"bank-sg\","
        " \"jurisdiction\": \"SG\", \"transfer_mechanisms\": [\"standard-contract\"]},"
        " \"purpose\": \"account_opening\", \"retention_days\": 365,"
        " \"assurance\": \"substantial\", \"consent\": [\"explicit\"],"
        " \"claims\": [\"given_name\", \"face_image\"],"
        " \"values\": {\"given_name\": \"Li\", \"face_image\": \"secret-face\"},"
        " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 0);
    assert_contains(
        out, "Outcome:  consent_required (separate-cross-border consent still required)");
    assert_contains(out, "given_name             withheld   consent_required             "
                         "cn.export.general");
    assert_contains(out,
                    "won                                    base.basic.cross-border");
    assert_contains(out, "scope_not_matched                      base.basic.domestic");
    assert_contains(
        out, "Withheld until the subject gives separate consent for the cross-border "
             "transfer, which rule cn.export.general");
    free(out);

    out = run(&status, "%s policy explain --json %s/policies %s", admin(), source_dir(),
              path);
    assert_int_equal(status, 0);
    assert_contains(out, "\"trace\"");
    assert_contains(out, "\"status\": \"won\"");
    assert_true(strstr(out, "secret-face") == NULL);
    free(out);
}

/* explain names the rule that withholds the source of a derived claim requested by its
 * own name, in the table, the sentence, the JSON decision and the trace. */
static void test_explain_names_source_rule(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 64];
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/stand-in.json", f->token.dir);
    write_text(path,
               "{\"subject_jurisdiction\": \"SG\", \"relying_party\": {\"jurisdiction\":"
               " \"SG\"}, \"purpose\": \"age_check\", \"retention_days\": 30,"
               " \"assurance\": \"high\", \"consent\": [\"explicit\"],"
               " \"claims\": [\"id_verified\", \"kyc_level\"],"
               " \"values\": {\"national_id\": \"S1234567A\"},"
               " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain %s/policies/asean-cn-base.xml %s", admin(),
              source_dir(), path);
    assert_int_equal(status, 0);
    assert_contains(out, "Outcome:  deny");
    assert_contains(out, "id_verified            withheld   rule                         "
                         "base.identifier.other-purposes");
    assert_contains(out, "kyc_level              withheld   rule                         "
                         "base.identifier.other-purposes");
    assert_contains(out,
                    "withholds national_id, the claim that kyc_level is derived from");
    assert_contains(out, "overridden_by_source_withhold          base.derived.domestic");
    assert_contains(
        out, "withholds_source                       base.identifier.other-purposes");
    free(out);

    out = run(&status, "%s policy explain --json %s/policies/asean-cn-base.xml %s",
              admin(), source_dir(), path);
    assert_int_equal(status, 0);
    assert_contains(out, "\"outcome\": \"deny\"");
    assert_contains(out, "\"rule\": \"base.identifier.other-purposes\"");
    assert_contains(out, "\"status\": \"withholds_source\"");
    assert_true(strstr(out, "\"decision\": \"derived\"") == NULL);
    assert_true(strstr(out, "S1234567A") == NULL);
    free(out);
}

/* Counts the occurrences of part in output. */
static size_t count_occurrences(const char *output, const char *part)
{
    size_t count = 0;

    for (const char *at = strstr(output, part); at != NULL; at = strstr(at + 1, part))
        count++;
    return count;
}

/* explain traces each rule once, with the status that the decision gave it. A
 * residency rule cannot release a claim that the base has no rule for, so it is not the
 * winner. A base rule that a residency rule overrides is listed only as overridden. */
static void test_explain_trace_matches_decision(void **state)
{
    static const char base[] =
        "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"b\" version=\"1\" kind=\"base\""
        " regulator=\"R\" effectiveFrom=\"2026-01-01T00:00:00Z\"><Title>T</Title>"
        "<Claims><Claim name=\"given_name\" class=\"basic\"/>"
        "<Claim name=\"date_of_birth\" class=\"basic\"/></Claims>"
        "<Jurisdictions><Jurisdiction code=\"SG\" name=\"Singapore\"/>"
        "<Jurisdiction code=\"TH\" name=\"Thailand\"/></Jurisdictions>"
        "<Purposes><Purpose id=\"kyc\" name=\"KYC\"/></Purposes><Rules>"
        "<Rule id=\"base.given-name\"><Match><Claim>given_name</Claim></Match>"
        "<Effect>disclose</Effect><LegalBasis instrument=\"I\" provision=\"P\"/>"
        "<Summary>S</Summary></Rule></Rules></PolicyBundle>\n";
    static const char residency[] =
        "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"r\" version=\"1\""
        " kind=\"residency\" jurisdiction=\"SG\" base=\"b\" regulator=\"R\""
        " effectiveFrom=\"2026-01-01T00:00:00Z\"><Title>T</Title><Rules>"
        "<Rule id=\"sg.date-of-birth\"><Match><Claim>date_of_birth</Claim></Match>"
        "<Effect>disclose</Effect><LegalBasis instrument=\"I\" provision=\"P\"/>"
        "<Summary>S</Summary></Rule></Rules></PolicyBundle>\n";
    fixture *f = *state;
    char base_path[PATH_MAX + 64], residency_path[PATH_MAX + 64];
    char path[PATH_MAX + 64];
    int status;
    char *out;

    snprintf(base_path, sizeof(base_path), "%s/trace-base.xml", f->token.dir);
    snprintf(residency_path, sizeof(residency_path), "%s/trace-sg.xml", f->token.dir);
    snprintf(path, sizeof(path), "%s/trace-request.json", f->token.dir);
    write_text(base_path, base);
    write_text(residency_path, residency);
    write_text(path, "{\"subject_jurisdiction\": \"SG\", \"relying_party\":"
                     " {\"jurisdiction\": \"TH\"}, \"purpose\": \"kyc\","
                     " \"assurance\": \"low\", \"claims\": [\"date_of_birth\"],"
                     " \"values\": {\"date_of_birth\": \"1990-01-01\"},"
                     " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain %s %s %s", admin(), base_path, residency_path,
              path);
    assert_int_equal(status, 0);
    assert_contains(out, "mechanisms none, retention none declared\n");
    assert_contains(out, "date_of_birth          withheld   no_rule");
    assert_contains(out, "base_has_no_rule                       sg.date-of-birth");
    assert_true(strstr(out, "won ") == NULL);
    free(out);

    snprintf(path, sizeof(path), "%s/trace-ph.json", f->token.dir);
    write_text(path, "{\"subject_jurisdiction\": \"PH\", \"relying_party\":"
                     " {\"jurisdiction\": \"SG\", \"transfer_mechanisms\":"
                     " [\"standard-contract\"]}, \"purpose\": \"account_opening\","
                     " \"retention_days\": 365, \"assurance\": \"substantial\","
                     " \"consent\": [\"explicit\"], \"claims\": [\"date_of_birth\"],"
                     " \"values\": {\"date_of_birth\": \"1990-01-01\"},"
                     " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 0);
    assert_contains(out, "date_of_birth          derived    rule                         "
                         "ph.export.age");
    assert_contains(out, "won                                    ph.export.age");
    assert_contains(out,
                    "overridden_by_other_bundle             base.basic.cross-border");
    assert_int_equal(count_occurrences(out, "base.basic.cross-border ("), 1);
    free(out);
}

/* explain lists the own rules of a stand-in released through the requested claim, so
 * that the rule a decision names for a stand-in's failed condition is in the trace. */
static void test_explain_traces_standin_rules(void **state)
{
    static const char base[] =
        "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"b\" version=\"1\" kind=\"base\""
        " regulator=\"R\" effectiveFrom=\"2026-01-01T00:00:00Z\"><Title>T</Title>"
        "<Claims><Claim name=\"date_of_birth\" class=\"basic\"/>"
        "<Claim name=\"age_over_18\" class=\"derived\" derivedFrom=\"date_of_birth\""
        " derivation=\"age-over\" years=\"18\"/></Claims>"
        "<Jurisdictions><Jurisdiction code=\"SG\" name=\"Singapore\"/>"
        "<Jurisdiction code=\"TH\" name=\"Thailand\"/></Jurisdictions>"
        "<Purposes><Purpose id=\"kyc\" name=\"KYC\"/></Purposes><Rules>"
        "<Rule id=\"base.dob\"><Match><Claim>date_of_birth</Claim></Match>"
        "<Effect>disclose-derived</Effect><LegalBasis instrument=\"I\" provision=\"P\"/>"
        "<Summary>S</Summary></Rule>"
        "<Rule id=\"base.age\"><Match><Claim>age_over_18</Claim></Match>"
        "<Effect>disclose</Effect><LegalBasis instrument=\"I\" provision=\"P\"/>"
        "<Summary>S</Summary></Rule></Rules></PolicyBundle>\n";
    static const char residency[] =
        "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"r\" version=\"1\""
        " kind=\"residency\" jurisdiction=\"TH\" base=\"b\" regulator=\"R\""
        " effectiveFrom=\"2026-01-01T00:00:00Z\"><Title>T</Title><Rules>"
        "<Rule id=\"th.import.age\"><Match><RelyingParty>TH</RelyingParty>"
        "<Claim>age_over_18</Claim></Match><Effect>disclose</Effect>"
        "<Conditions><MinAssurance>high</MinAssurance></Conditions>"
        "<LegalBasis instrument=\"I\" provision=\"P\"/>"
        "<Summary>S</Summary></Rule></Rules></PolicyBundle>\n";
    fixture *f = *state;
    char base_path[PATH_MAX + 64], residency_path[PATH_MAX + 64];
    char path[PATH_MAX + 64];
    int status;
    char *out;

    snprintf(base_path, sizeof(base_path), "%s/standin-base.xml", f->token.dir);
    snprintf(residency_path, sizeof(residency_path), "%s/standin-th.xml", f->token.dir);
    snprintf(path, sizeof(path), "%s/standin-request.json", f->token.dir);
    write_text(base_path, base);
    write_text(residency_path, residency);
    write_text(path, "{\"subject_jurisdiction\": \"SG\", \"relying_party\":"
                     " {\"jurisdiction\": \"TH\"}, \"purpose\": \"kyc\","
                     " \"assurance\": \"low\", \"claims\": [\"date_of_birth\"],"
                     " \"values\": {\"date_of_birth\": \"1990-01-01\"},"
                     " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain %s %s %s", admin(), base_path, residency_path,
              path);
    assert_int_equal(status, 0);
    assert_contains(out, "date_of_birth          withheld   assurance_too_low            "
                         "th.import.age");
    assert_contains(out, "won                                    base.dob");
    assert_contains(out, "adds_stand_in_conditions               th.import.age");
    assert_contains(out, "adds_stand_in_conditions               base.age");
    free(out);
}

/* A decision input is checked as the node checks it: a relying party's jurisdiction
 * that ISO has not assigned rejects the request, and a residence country that ISO has
 * not assigned derives no residency country. */
static void test_explain_checks_countries(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 64];
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/request-uk.json", f->token.dir);
    write_text(path, "{\"subject_jurisdiction\": \"SG\","
                     " \"relying_party\": {\"jurisdiction\": \"UK\"},"
                     " \"purpose\": \"age_check\", \"assurance\": \"high\","
                     " \"claims\": [\"age_over_18\"],"
                     " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 1);
    assert_contains(out, "explain: request_invalid: relying_party.jurisdiction UK is not "
                         "an officially assigned ISO 3166-1 alpha-2 code");
    assert_contains(out, "; field relying_party.jurisdiction");
    free(out);

    snprintf(path, sizeof(path), "%s/request-residence.json", f->token.dir);
    write_text(path, "{\"subject_jurisdiction\": \"SG\","
                     " \"relying_party\": {\"jurisdiction\": \"SG\"},"
                     " \"purpose\": \"account_opening\", \"assurance\": \"high\","
                     " \"consent\": [\"explicit\"], \"claims\": [\"residency_country\"],"
                     " \"values\": {\"address\": {\"country\": \"UK\"}},"
                     " \"time\": \"2026-06-01T00:00:00Z\"}");
    out = run(&status, "%s policy explain --json %s/policies %s", admin(), source_dir(),
              path);
    assert_int_equal(status, 0);
    assert_contains(out, "\"reason\": \"derivation_failed\"");
    assert_true(strstr(out, "\"UK\"") == NULL);
    free(out);
}

static void test_simulate_tabulates(void **state)
{
    fixture *f = *state;
    static const char *const codes[] = {"CN", "SG", "TH", "VN", "PH"};
    char path[PATH_MAX + 64];
    FILE *file;
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/requests.jsonl", f->token.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    for (size_t s = 0; s < 5; s++) {
        for (size_t r = 0; r < 5; r++) {
            fprintf(
                file,
                "{\"subject_jurisdiction\": \"%s\", \"relying_party\": "
                "{\"jurisdiction\": \"%s\","
                " \"transfer_mechanisms\": [\"asean-mcc\"]}, \"purpose\": \"payment\","
                " \"retention_days\": 90, \"assurance\": \"substantial\", \"consent\": "
                "[\"explicit\"], \"claims\": [\"given_name\", \"bank_account\"], "
                "\"values\": "
                "{\"given_name\": \"A\", \"bank_account\": \"B\"}, \"time\": "
                "\"2026-06-01T00:00:00Z\"}\n\n",
                codes[s], codes[r]);
        }
    }
    fclose(file);

    out = run(&status, "%s policy simulate %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 0);
    assert_contains(out, "SUBJECT  RP       PURPOSE");
    assert_contains(out,
                    "SG       TH       payment                base.basic.cross-border");
    assert_contains(out, "CN       SG       payment                cn.export.general");
    assert_contains(out, "25 request(s), 0 rejected as invalid");
    free(out);

    file = fopen(path, "a");
    fputs("{\"subject_jurisdiction\": \"XX\"}\n", file);
    fclose(file);
    out = run(&status, "%s policy simulate --json %s/policies %s", admin(), source_dir(),
              path);
    assert_int_equal(status, 1);
    assert_contains(out, "requests.jsonl:51: error: subject_jurisdiction XX");
    assert_contains(out, "\"invalid\": 1");
    free(out);
}

/* An expectation that is misspelt, mistyped or empty fails its case with the reason,
 * instead of passing or crashing. */
static void test_malformed_expectations_fail(void **state)
{
    static const struct {
        const char *expect;
        const char *reason;
    } cases[] = {
        {"{\"outcome\": 1}", "expect may hold only outcome, consent_required and error"},
        {"{\"outcom\": \"permit\"}", "expect may hold only outcome"},
        {"{}", "expect is empty, so the case would check nothing"},
        {"{\"claims\": {\"religion\": {\"decison\": \"withheld\"}}}",
         "each claim expectation must be"},
        {"{\"claims\": {\"religion\": {\"derived\": {\"age_over_18\": true}}}}",
         "each claim expectation must be"},
    };
    fixture *f = *state;
    char path[PATH_MAX + 64];
    char text[1024];
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/malformed.json", f->token.dir);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(text, sizeof(text),
                 "{\"defaults\": {\"time\": \"2026-06-01T00:00:00Z\", \"assurance\": "
                 "\"high\"}, \"cases\": [{\"name\": \"malformed\", \"request\": {"
                 "\"subject_jurisdiction\": \"SG\", \"relying_party\": "
                 "{\"jurisdiction\": \"SG\"}, \"purpose\": \"payment\", \"claims\": "
                 "[\"religion\"]}, \"expect\": %s}]}",
                 cases[i].expect);
        write_text(path, text);
        out = run(&status, "%s policy test %s/policies %s", admin(), source_dir(), path);
        assert_int_equal(status, 1);
        assert_contains(out, "FAIL");
        assert_contains(out, cases[i].reason);
        free(out);
    }
}

/* A derived expectation lists every derived value: an age check on date_of_birth also
 * releases age_over_21, so a case that expects only age_over_18 fails. */
static void test_derived_expectation_is_exact(void **state)
{
    static const char tests[] =
        "{\"defaults\": {\"time\": \"2026-06-01T00:00:00Z\", \"assurance\": \"high\","
        " \"subject_jurisdiction\": \"SG\", \"relying_party\": {\"jurisdiction\": \"SG\"},"
        " \"purpose\": \"age_check\", \"claims\": [\"date_of_birth\"],"
        " \"values\": {\"date_of_birth\": \"2000-04-01\"}},"
        " \"cases\": [{\"name\": \"one threshold\", \"request\": {}, \"expect\":"
        " {\"claims\": {\"date_of_birth\": {\"decision\": \"derived\","
        " \"derived\": {\"age_over_18\": \"true\"}}}}},"
        " {\"name\": \"both thresholds\", \"request\": {}, \"expect\":"
        " {\"claims\": {\"date_of_birth\": {\"decision\": \"derived\","
        " \"derived\": {\"age_over_18\": \"true\", \"age_over_21\": \"true\"}}}}}]}";
    fixture *f = *state;
    char path[PATH_MAX + 64];
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/derived-exact.json", f->token.dir);
    write_text(path, tests);
    out = run(&status, "%s policy test %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 1);
    assert_contains(out, "FAIL");
    assert_contains(out, "one threshold");
    assert_contains(out, "date_of_birth.derived.age_over_21: expected no value, got true");
    assert_true(strstr(out, "both thresholds") == NULL);
    free(out);
}

/* A test file needs no defaults, and a request that is not an object fails its case
 * with the reason instead of being dropped. */
static void test_cases_without_defaults(void **state)
{
    static const char request[] =
        "{\"subject_jurisdiction\": \"SG\", \"relying_party\": {\"jurisdiction\": \"SG\"},"
        " \"purpose\": \"payment\", \"assurance\": \"high\", \"claims\": [\"religion\"],"
        " \"time\": \"2026-06-01T00:00:00Z\"}";
    fixture *f = *state;
    char path[PATH_MAX + 64];
    char text[1024];
    int status;
    char *out;

    snprintf(path, sizeof(path), "%s/no-defaults.json", f->token.dir);
    snprintf(text, sizeof(text),
             "{\"cases\": [{\"name\": \"religion stays\", \"request\": %s,"
             " \"expect\": {\"outcome\": \"deny\"}}]}",
             request);
    write_text(path, text);
    out = run(&status, "%s policy test %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 0);
    assert_contains(out, "1 case(s), 0 failed");
    free(out);

    write_text(path, "{\"cases\": [{\"name\": \"list request\", \"request\": [],"
                     " \"expect\": {\"outcome\": \"deny\"}}]}");
    out = run(&status, "%s policy test %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 1);
    assert_contains(out, "FAIL");
    assert_contains(out, "request must be an object of request members");
    free(out);
}

/* test, explain, simulate and diff refuse a set that validate rejects and no node loads,
 * instead of deciding on it. */
static void test_commands_reject_invalid_set(void **state)
{
    fixture *f = *state;
    int status;
    char *out;

    out = run(&status,
              "rm -rf '%s/unreach' && cp -r '%s/policies' '%s/unreach' && "
              "sed -i 's/derive=\"age_over_18 age_over_21\"/derive=\"age_over_18 "
              "residency_country\"/' '%s/unreach/asean-cn-base.xml'",
              f->token.dir, source_dir(), f->token.dir, f->token.dir);
    assert_int_equal(status, 0);
    free(out);
    out = run(&status, "%s policy test '%s/unreach' '%s/policies/tests'", admin(),
              f->token.dir, source_dir());
    assert_int_equal(status, 1);
    assert_contains(out, "error: derive_unreachable: rule base.age-check.date-of-birth");
    assert_null(strstr(out, "0 failed"));
    free(out);
}

static void test_table_driven_cases(void **state)
{
    fixture *f = *state;
    char path[PATH_MAX + 64];
    int status;
    char *out;

    out = run(&status, "%s policy test %s/policies %s/policies/tests", admin(),
              source_dir(), source_dir());
    assert_int_equal(status, 0);
    assert_contains(out, "0 failed");
    free(out);

    /* The same cases against the base alone must fail where residency rules decide. */
    out = run(&status, "%s policy test %s/policies/asean-cn-base.xml %s/policies/tests",
              admin(), source_dir(), source_dir());
    assert_int_equal(status, 1);
    assert_contains(out, "FAIL");
    assert_contains(out, "expected transfer_mechanism_missing, got rule");
    free(out);

    snprintf(path, sizeof(path), "%s/wrong.json", f->token.dir);
    write_text(
        path,
        "{\"defaults\": {\"time\": \"2026-06-01T00:00:00Z\", \"assurance\": \"high\"},"
        " \"cases\": [{\"name\": \"wrong expectation\", \"request\": {"
        "\"subject_jurisdiction\": \"SG\", \"relying_party\": {\"jurisdiction\": \"SG\"},"
        " \"purpose\": \"payment\", \"claims\": [\"religion\"]},"
        " \"expect\": {\"claims\": {\"religion\": \"disclosed\"}}}]}");
    out = run(&status, "%s policy test %s/policies %s", admin(), source_dir(), path);
    assert_int_equal(status, 1);
    assert_contains(out, "FAIL");
    assert_contains(out, "religion.decision: expected disclosed, got withheld");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_on_every_subcommand),
        cmocka_unit_test(test_validate_reports_lines),
        cmocka_unit_test(test_validate_warnings_and_strict),
        cmocka_unit_test(test_sign_and_verify),
        cmocka_unit_test(test_version_out_of_range),
        cmocka_unit_test(test_verify_config_binding),
        cmocka_unit_test(test_verify_regulator_binding),
        cmocka_unit_test(test_verify_trust_prints_note),
        cmocka_unit_test(test_diff_on_real_bundles),
        cmocka_unit_test(test_explain_shows_trace),
        cmocka_unit_test(test_explain_checks_countries),
        cmocka_unit_test(test_explain_names_source_rule),
        cmocka_unit_test(test_explain_trace_matches_decision),
        cmocka_unit_test(test_explain_traces_standin_rules),
        cmocka_unit_test(test_simulate_tabulates),
        cmocka_unit_test(test_table_driven_cases),
        cmocka_unit_test(test_malformed_expectations_fail),
        cmocka_unit_test(test_derived_expectation_is_exact),
        cmocka_unit_test(test_cases_without_defaults),
        cmocka_unit_test(test_commands_reject_invalid_set),
    };

    if (admin() == NULL || source_dir() == NULL) {
        fputs(
            "IDSVC_ADMIN and IDSVC_SOURCE_DIR must be set; run this test through ctest\n",
            stderr);
        return 1;
    }
    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * `idsvc-admin saml sign` end to end: it signs with keys in a fresh SoftHSM2 token, its
 * output verifies in the xmlsec1 command line, and each input error gives its exit
 * status and sentence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "interop_files.h"
#include "interop_keys.h"

static interop_keys keys;
static interop_ca ca;
static char dir[PATH_MAX];
static char *rsa_uri;
static char *ec_uri;

static const char VALID_CLAIMS[] =
    "{\"subject\": \"TH-0042\", \"assurance\": \"urn:example:loa:high\",\n"
    " \"attributes\": {\"given_name\": \"สมชาย\", \"family_name\": \"ใจดี\",\n"
    "                \"nationality\": [\"TH\"], \"date_of_birth\": \"1985-07-14\",\n"
    "                \"document_type\": \"passport\", \"kyc_level\": \"full\"}}\n";

typedef struct admin_result {
    int status;
    char *out;
    char *err;
} admin_result;

static void path_in_dir(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static int write_text_file(const char *name, const char *text)
{
    char path[PATH_MAX + 64];

    path_in_dir(path, sizeof(path), name);
    return interop_write_file(path, text, strlen(text));
}

static int write_cert(p11_key *key, const char *name, X509 **cert_out)
{
    char path[PATH_MAX + 64];
    EVP_PKEY *public_key = p11_key_get_public(key, NULL);
    X509 *cert = public_key != NULL ? interop_ca_issue(&ca, public_key, name) : NULL;
    int result = -1;

    path_in_dir(path, sizeof(path), name);
    if (cert != NULL && interop_write_cert_pem(cert, path) == 0)
        result = 0;
    EVP_PKEY_free(public_key);
    if (cert_out != NULL && result == 0)
        *cert_out = cert;
    else
        X509_free(cert);
    return result;
}

/* The EC key gets a certificate stored beside it in the token; the RSA key gets none. */
static int store_ec_cert(void)
{
    X509 *cert = NULL;
    p11_error err = {0};
    int result;

    if (write_cert(keys.ec, "ec-stored-cert.pem", &cert) != 0)
        return -1;
    result = p11_cert_store(keys.token, keys.ec, cert, &err);
    if (result != 0)
        fprintf(stderr, "storing the certificate failed: %s\n", err.message);
    X509_free(cert);
    return result;
}

static int setup(void **state)
{
    char ca_path[PATH_MAX + 64];

    (void)state;
    if (getenv("IDSVC_ADMIN") == NULL) {
        fprintf(stderr, "IDSVC_ADMIN is not set; run this test through ctest\n");
        return -1;
    }
    if (interop_keys_create(&keys) != 0 || interop_ca_create(&ca) != 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s", keys.token_files.dir);
    rsa_uri = p11_key_get_uri(keys.rsa);
    ec_uri = p11_key_get_uri(keys.ec);
    if (rsa_uri == NULL || ec_uri == NULL)
        return -1;

    path_in_dir(ca_path, sizeof(ca_path), "ca.pem");
    if (interop_write_cert_pem(ca.cert, ca_path) != 0 ||
        write_cert(keys.rsa, "rsa-cert.pem", NULL) != 0 ||
        write_cert(keys.ec, "ec-cert.pem", NULL) != 0 || store_ec_cert() != 0)
        return -1;

    if (write_text_file("claims.json", VALID_CLAIMS) != 0 ||
        write_text_file(
            "unknown-claim.json",
            "{\"subject\": \"x\", \"attributes\": {\"shoe_size\": \"42\"}}") != 0 ||
        write_text_file("number-claim.json",
                        "{\"subject\": \"x\", \"attributes\": {\"kyc_level\": 2}}") !=
            0 ||
        write_text_file("not-json.json", "subject: x\n") != 0)
        return -1;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(rsa_uri);
    free(ec_uri);
    interop_ca_destroy(&ca);
    interop_keys_destroy(&keys);
    return 0;
}

/* Runs idsvc-admin saml sign with the token options first, then args. */
static admin_result run_sign(const char *args)
{
    char out_path[PATH_MAX + 64];
    char err_path[PATH_MAX + 64];
    char command[8 * PATH_MAX];
    admin_result result;
    int written;

    path_in_dir(out_path, sizeof(out_path), "admin.out");
    path_in_dir(err_path, sizeof(err_path), "admin.err");
    written =
        snprintf(command, sizeof(command),
                 "cd '%s' && '%s' saml sign --module '%s' --token %s --pin-file '%s' "
                 "%s >'%s' 2>'%s'",
                 dir, getenv("IDSVC_ADMIN"), keys.token_files.module_path,
                 TEST_TOKEN_LABEL, keys.token_files.pin_path, args, out_path, err_path);
    assert_true(written > 0 && (size_t)written < sizeof(command));
    result.status = test_run(command);
    result.out = test_read_file(out_path, NULL);
    result.err = test_read_file(err_path, NULL);
    assert_non_null(result.out);
    assert_non_null(result.err);
    return result;
}

static void admin_result_free(admin_result *result)
{
    free(result->out);
    free(result->err);
}

/* Verifies the command's output in xmlsec1 with the given key option, such as
 * "--trusted-pem" and the file name pem in the test folder. */
static void expect_xmlsec_accepts(const admin_result *result, const char *option,
                                  const char *pem)
{
    char xml_path[PATH_MAX + 64];
    char output_path[PATH_MAX + 64];
    char command[4 * PATH_MAX];
    char *output = NULL;
    int status;

    path_in_dir(xml_path, sizeof(xml_path), "admin-signed.xml");
    path_in_dir(output_path, sizeof(output_path), "xmlsec1.out");
    assert_int_equal(interop_write_file(xml_path, result->out, strlen(result->out)), 0);
    snprintf(
        command, sizeof(command),
        "xmlsec1 --verify --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "
        "%s '%s/%s' '%s'",
        option, dir, pem, xml_path);
    status = interop_run_captured(command, output_path, &output);
    if (status != 0 || strncmp(output, "OK", 2) != 0)
        fail_msg("xmlsec1 rejected the command's output (status %d):\n%s", status,
                 output);
    free(output);
}

static void expect_failure(const admin_result *result, int status, const char *reason)
{
    assert_int_equal(result->status, status);
    assert_string_equal(result->out, "");
    if (strstr(result->err, reason) == NULL)
        fail_msg("expected \"%s\" on stderr, got: %s", reason, result->err);
}

static void cli_signs_with_rsa(void **state)
{
    char args[4096];
    admin_result result;

    (void)state;
    snprintf(
        args, sizeof(args),
        "--key '%s' --issuer https://idp.example.th --audience https://bank.example.sg "
        "--claims claims.json --cert rsa-cert.pem --valid 120",
        rsa_uri);
    result = run_sign(args);
    if (result.status != 0)
        fail_msg("status %d: %s", result.status, result.err);
    assert_string_equal(result.err, "");
    assert_int_equal(strncmp(result.out, "<saml:Assertion ", 16), 0);
    assert_non_null(strstr(result.out, "xmldsig-more#rsa-sha256"));
    assert_non_null(strstr(result.out, "<ds:KeyName>saml-rsa</ds:KeyName>"));
    assert_non_null(strstr(result.out, "<ds:X509Certificate>"));
    assert_non_null(strstr(result.out, ">สมชาย</saml:AttributeValue>"));
    expect_xmlsec_accepts(&result, "--trusted-pem", "ca.pem");
    admin_result_free(&result);
}

/* Without --cert or --stored-cert, the stored certificate stays out of KeyInfo. */
static void cli_signs_with_ecdsa(void **state)
{
    char args[4096];
    admin_result result;

    (void)state;
    snprintf(
        args, sizeof(args),
        "--key '%s' --issuer https://idp.example.th --audience https://bank.example.sg "
        "--claims claims.json --key-name node-th-2026",
        ec_uri);
    result = run_sign(args);
    if (result.status != 0)
        fail_msg("status %d: %s", result.status, result.err);
    assert_non_null(strstr(result.out, "xmldsig-more#ecdsa-sha256"));
    assert_non_null(strstr(result.out, "<ds:KeyName>node-th-2026</ds:KeyName>"));
    assert_null(strstr(result.out, "X509Certificate"));
    admin_result_free(&result);
}

static void cli_adds_stored_certificate(void **state)
{
    char args[4096];
    admin_result result;

    (void)state;
    snprintf(
        args, sizeof(args),
        "--key '%s' --issuer https://idp.example.th --audience https://bank.example.sg "
        "--claims claims.json --stored-cert",
        ec_uri);
    result = run_sign(args);
    if (result.status != 0)
        fail_msg("status %d: %s", result.status, result.err);
    assert_non_null(strstr(result.out, "<ds:X509Certificate>"));
    expect_xmlsec_accepts(&result, "--trusted-pem", "ca.pem");
    admin_result_free(&result);
}

/* Makes a self-signed certificate in the token with `idsvc-admin keys certificate`. */
static void make_self_signed(const char *uri, const char *cn, const char *file)
{
    char command[8 * PATH_MAX];
    int written = snprintf(command, sizeof(command),
                           "cd '%s' && '%s' keys certificate --module '%s' --token %s "
                           "--pin-file '%s' --key '%s' --subject /CN=%s --out %s",
                           dir, getenv("IDSVC_ADMIN"), keys.token_files.module_path,
                           TEST_TOKEN_LABEL, keys.token_files.pin_path, uri, cn, file);

    assert_true(written > 0 && (size_t)written < sizeof(command));
    assert_int_equal(test_run(command), 0);
}

/*
 * A certificate signed by the HSM key itself is all xmlsec1 needs to verify. NOTE:
 * `keys certificate` starts the validity at the current second, and as a --trusted-pem
 * anchor xmlsec1 1.2.37 rejected it as "self-signed certificate" when run at once (it
 * passed after a two-second wait), so the CA-issued certificates cover --trusted-pem.
 */
static void cli_self_signed_certificate(void **state)
{
    const char *uris[] = {rsa_uri, ec_uri};
    const char *files[] = {"rsa-self.pem", "ec-self.pem"};

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        char args[4096];
        admin_result result;

        make_self_signed(uris[i], i == 0 ? "saml-rsa" : "saml-ec", files[i]);
        snprintf(args, sizeof(args),
                 "--key '%s' --issuer https://idp.example.th "
                 "--audience https://bank.example.sg --claims claims.json",
                 uris[i]);
        result = run_sign(args);
        if (result.status != 0)
            fail_msg("status %d: %s", result.status, result.err);
        expect_xmlsec_accepts(&result, "--pubkey-cert-pem", files[i]);
        admin_result_free(&result);
    }
}

static void cli_rejects_missing_stored_certificate(void **state)
{
    char args[4096];
    admin_result result;

    (void)state;
    snprintf(args, sizeof(args),
             "--key '%s' --issuer a --audience b --claims claims.json --stored-cert",
             rsa_uri);
    result = run_sign(args);
    expect_failure(&result, 1, "no certificate is stored beside the key");
    admin_result_free(&result);
}

static void cli_rejects_certificate_of_other_key(void **state)
{
    char args[4096];
    admin_result result;

    (void)state;
    snprintf(args, sizeof(args),
             "--key '%s' --issuer a --audience b --claims claims.json --cert ec-cert.pem",
             rsa_uri);
    result = run_sign(args);
    expect_failure(&result, 1, "the certificate ec-cert.pem is not for the key");
    admin_result_free(&result);
}

static void cli_rejects_bad_claims(void **state)
{
    static const struct {
        const char *file;
        const char *reason;
    } cases[] = {
        {"unknown-claim.json", "unknown-claim.json: unknown claim \"shoe_size\""},
        {"number-claim.json",
         "number-claim.json: claim \"kyc_level\" is a number, but claim values must be a "
         "string or an array of strings"},
        {"not-json.json", "cannot read the claims file not-json.json: line 1:"},
        {"absent.json", "cannot read the claims file absent.json"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char args[4096];
        admin_result result;

        snprintf(args, sizeof(args), "--key '%s' --issuer a --audience b --claims %s",
                 rsa_uri, cases[i].file);
        result = run_sign(args);
        expect_failure(&result, 1, cases[i].reason);
        admin_result_free(&result);
    }
}

static void cli_rejects_key_not_found(void **state)
{
    admin_result result;

    (void)state;
    result = run_sign("--key 'pkcs11:object=no-such-key;type=private' --issuer a "
                      "--audience b --claims claims.json");
    expect_failure(&result, 1, "cannot find the key");
    admin_result_free(&result);
}

static void cli_usage_errors(void **state)
{
    static const struct {
        const char *args;
        const char *reason;
    } cases[] = {
        {"--key k --issuer a --claims claims.json", "--audience is required"},
        {"--key k --issuer a --audience b --claims claims.json --valid 0",
         "--valid must be a number of seconds from 1 to 31622400, not \"0\""},
        {"--key k --issuer a --audience b --claims claims.json --valid 10s",
         "--valid must be a number of seconds"},
        {"--key k --issuer a --audience b --claims c --cert x --stored-cert",
         "give either --cert or --stored-cert, not both"},
        {"--key k --issuer a --audience b --claims c extra",
         "unexpected argument \"extra\""},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        admin_result result = run_sign(cases[i].args);

        print_message("case %zu\n", i);
        expect_failure(&result, 2, cases[i].reason);
        admin_result_free(&result);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cli_signs_with_rsa),
        cmocka_unit_test(cli_signs_with_ecdsa),
        cmocka_unit_test(cli_adds_stored_certificate),
        cmocka_unit_test(cli_self_signed_certificate),
        cmocka_unit_test(cli_rejects_missing_stored_certificate),
        cmocka_unit_test(cli_rejects_certificate_of_other_key),
        cmocka_unit_test(cli_rejects_bad_claims),
        cmocka_unit_test(cli_rejects_key_not_found),
        cmocka_unit_test(cli_usage_errors),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

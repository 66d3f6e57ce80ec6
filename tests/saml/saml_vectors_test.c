/*
 * The public SAML vectors in $IDSVC_VECTORS/saml, each with its right outcome and
 * reason. The issuer's key is pinned from the vector's PEM and the clock is fixed inside
 * each fixture's validity window, so old fixtures are judged on their signatures.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "saml.h"
#include "saml_test_util.h"
#include "test_token.h"

typedef struct vector_case {
    const char *pem;
    const char *at;
    unsigned flags;        /* SAML_TRUST_* for the pinned key */
    unsigned min_rsa_bits; /* 0 selects the default of 2048 */
    bool accept_signed_response;
} vector_case;

static time_t pinned_clock(void *ctx)
{
    return *(const time_t *)ctx;
}

/* Verifies one vector file and returns the status; *name_id gets the NameID on success. */
static saml_status verify_vector(const vector_case *c, const char *file, char **name_id)
{
    char path[4096];
    char detail[512];
    char error[256];
    saml_trust_store *store = saml_trust_store_new();
    saml_assertion *assertion = NULL;
    EVP_PKEY *key;
    time_t at;
    size_t len;
    char *xml;
    saml_status status;

    assert_non_null(test_vector_path(path, sizeof(path), c->pem));
    key = saml_load_public_pem(path, error, sizeof(error));
    if (key == NULL)
        fail_msg("%s", error);
    assert_int_equal(saml_trust_store_add(store, NULL, key, c->flags), 0);
    EVP_PKEY_free(key);
    assert_int_equal(saml_time_parse(c->at, &at), 0);

    assert_non_null(test_vector_path(path, sizeof(path), file));
    xml = test_read_file(path, &len);
    assert_non_null(xml);

    saml_verify_options options = {
        .clock = pinned_clock,
        .clock_ctx = &at,
        .min_rsa_bits = c->min_rsa_bits,
        .accept_signed_response = c->accept_signed_response,
    };
    status = saml_verify(store, &options, xml, len, &assertion, detail, sizeof(detail));
    print_message("    %s: %s: %s\n", file, saml_status_code(status), detail);

    if (name_id != NULL)
        *name_id = assertion != NULL ? strdup(assertion->name_id) : NULL;
    saml_assertion_free(&assertion);
    saml_trust_store_free(&store);
    free(xml);
    return status;
}

#define ADFS "saml/adfs-rsa-sha256/"
/* Inside both windows of the fixture: its Conditions run from 12:49:30 to 13:49:30, and
 * its bearer SubjectConfirmationData ends at 12:54:30. */
#define ADFS_AT "2011-06-22T12:52:00Z"

static void adfs_verifies_with_pinned_key(void **state)
{
    const vector_case c = { ADFS "idp-pubkey.pem", ADFS_AT, 0, 1024, false };
    char *name_id = NULL;

    (void)state;
    /* The KeyInfo certificate is malformed; it is never read, so it cannot crash or be
     * trusted, and the pinned key verifies. */
    assert_int_equal(verify_vector(&c, ADFS "adfs_response_sha256.xml", &name_id), SAML_OK);
    assert_string_equal(name_id, "hello@example.com");
    free(name_id);
}

static void adfs_pinned_certificate_verifies(void **state)
{
    const vector_case c = { ADFS "idp-cert.pem", ADFS_AT, 0, 1024, false };

    (void)state;
    assert_int_equal(verify_vector(&c, ADFS "adfs_response_sha256.xml", NULL), SAML_OK);
}

static void adfs_rejected_as_small_key(void **state)
{
    const vector_case c = { ADFS "idp-pubkey.pem", ADFS_AT, 0, 0, false };

    (void)state;
    assert_int_equal(verify_vector(&c, ADFS "adfs_response_sha256.xml", NULL),
                     SAML_ERR_KEY_TOO_SMALL);
}

static void adfs_rejected_when_expired(void **state)
{
    const vector_case c = { ADFS "idp-pubkey.pem", "2011-06-22T14:00:00Z", 0, 1024, false };

    (void)state;
    assert_int_equal(verify_vector(&c, ADFS "adfs_response_sha256.xml", NULL), SAML_ERR_EXPIRED);
}

static void adfs_rejected_after_bearer_window(void **state)
{
    const vector_case c = { ADFS "idp-pubkey.pem", "2011-06-22T13:00:00Z", 0, 1024, false };

    (void)state;
    /* The Conditions still hold at 13:00, but the bearer confirmation ended at 12:54:30. */
    assert_int_equal(verify_vector(&c, ADFS "adfs_response_sha256.xml", NULL),
                     SAML_ERR_CONFIRMATION_EXPIRED);
}

#define RSAU "saml/response-signed-assertion-unsigned/"
#define RSAU_FILE RSAU "response.root-signed.assertion-unsigned.xml"

static void signed_response_accepted_when_allowed(void **state)
{
    const vector_case c = { RSAU "idp-cert.pem", "2020-09-25T16:30:00Z", SAML_TRUST_ALLOW_SHA1,
                            0, true };
    char *name_id = NULL;

    (void)state;
    assert_int_equal(verify_vector(&c, RSAU_FILE, &name_id), SAML_OK);
    /* The NameID is indented in the file; the value is read without that white space. */
    assert_string_equal(name_id, "vincent.vega@evil-corp.com");
    free(name_id);
}

static void signed_response_rejected_by_default(void **state)
{
    const vector_case c = { RSAU "idp-cert.pem", "2020-09-25T16:30:00Z", SAML_TRUST_ALLOW_SHA1,
                            0, false };

    (void)state;
    assert_int_equal(verify_vector(&c, RSAU_FILE, NULL), SAML_ERR_SIGNATURE_MISSING);
}

static void signed_response_rejected_for_sha1(void **state)
{
    const vector_case c = { RSAU "idp-cert.pem", "2020-09-25T16:30:00Z", 0, 0, true };

    (void)state;
    assert_int_equal(verify_vector(&c, RSAU_FILE, NULL), SAML_ERR_SHA1_FORBIDDEN);
}

#define DVC "saml/digest-value-comment/"

static const vector_case feide = { DVC "idp-cert.pem", "2012-07-03T11:35:00Z",
                                   SAML_TRUST_ALLOW_SHA1, 1024, false };

static void digest_comment_control_verifies(void **state)
{
    char *name_id = NULL;

    (void)state;
    assert_int_equal(verify_vector(&feide, DVC "valid_saml.original-control.xml", &name_id),
                     SAML_OK);
    assert_string_equal(name_id, "_6c5dcaa3053321ff4d63785fbc3f67c59a129cde82");
    free(name_id);
}

static void digest_comment_rejected_as_mismatch(void **state)
{
    (void)state;
    /* The comment is skipped when DigestValue is read, so the digest is the original
     * one, and the altered NameID no longer matches it. */
    assert_int_equal(verify_vector(&feide, DVC "valid_saml_with_digest_comment.xml", NULL),
                     SAML_ERR_DIGEST_MISMATCH);
}

/* The control with its Response's SignedInfo cut out, as another verifier's public test
 * suite ships it. The Assertion's own signature still verifies, but a Signature without
 * SignedInfo breaks the XML-DSig form, so verification fails with signature_malformed,
 * not with the code of a signature that the key does not verify. */
static void response_signature_without_signed_info_malformed(void **state)
{
    char path[4096];
    char detail[512];
    saml_trust_store *store = saml_trust_store_new();
    saml_assertion *assertion = NULL;
    saml_status status;
    EVP_PKEY *key;
    time_t at;
    char *control;
    char *cut;

    (void)state;
    assert_non_null(test_vector_path(path, sizeof(path), feide.pem));
    key = saml_load_public_pem(path, detail, sizeof(detail));
    assert_non_null(key);
    assert_int_equal(saml_trust_store_add(store, NULL, key, feide.flags), 0);
    EVP_PKEY_free(key);
    assert_int_equal(saml_time_parse(feide.at, &at), 0);
    assert_non_null(test_vector_path(path, sizeof(path), DVC "valid_saml.original-control.xml"));
    control = test_read_file(path, NULL);
    assert_non_null(control);

    /* The first SignedInfo in the file is the Response's. */
    cut = st_cut(control, "<ds:SignedInfo>", "</ds:SignedInfo>");
    saml_verify_options options = {
        .clock = pinned_clock,
        .clock_ctx = &at,
        .min_rsa_bits = feide.min_rsa_bits,
    };
    status = saml_verify(store, &options, cut, strlen(cut), &assertion, detail, sizeof(detail));
    print_message("    %s: %s\n", saml_status_code(status), detail);
    assert_int_equal(status, SAML_ERR_SIGNATURE_MALFORMED);
    assert_string_equal(detail, "the Response's own Signature: the Signature has "
                                "<SignatureValue> where XML-DSig requires SignedInfo");
    assert_null(assertion);

    free(cut);
    free(control);
    saml_trust_store_free(&store);
}

static void duplicate_id_wrapping_rejected(void **state)
{
    const vector_case c = { "saml/duplicate-id-wrapping/idp-cert.pem", "2012-07-03T11:35:00Z",
                            SAML_TRUST_ALLOW_SHA1, 1024, false };

    (void)state;
    assert_int_equal(verify_vector(&c, "saml/duplicate-id-wrapping/"
                                       "valid_saml_signature_wrapping.xml", NULL),
                     SAML_ERR_DUPLICATE_ID);
}

#define RSRA "saml/response-signature-references-assertion/"
#define RSRA_FILE RSRA "response.root-carries-assertion-signature.assertion-unsigned.xml"

static void response_signature_for_assertion_rejected(void **state)
{
    const vector_case assertion_signed = { RSRA "idp-cert.node-saml.pem", "2020-09-25T16:30:00Z",
                                           SAML_TRUST_ALLOW_SHA1, 0, false };
    const vector_case response_signed = { RSRA "idp-cert.node-saml.pem", "2020-09-25T16:30:00Z",
                                          SAML_TRUST_ALLOW_SHA1, 0, true };

    (void)state;
    /* The Assertion has no Signature; the Response's one references the Assertion, not
     * the Response that encloses it, so neither element is signed. */
    assert_int_equal(verify_vector(&assertion_signed, RSRA_FILE, NULL),
                     SAML_ERR_SIGNATURE_MISSING);
    assert_int_equal(verify_vector(&response_signed, RSRA_FILE, NULL),
                     SAML_ERR_REFERENCE_INVALID);
}

static void multiple_assertions_rejected(void **state)
{
    const vector_case c = { "saml/multiple-assertions/idp-cert.pem", "2012-04-04T07:35:00Z",
                            SAML_TRUST_ALLOW_SHA1, 1024, false };

    (void)state;
    assert_int_equal(verify_vector(&c, "saml/multiple-assertions/"
                                       "response_with_concealed_signed_assertion.xml", NULL),
                     SAML_ERR_ASSERTION_COUNT);
    assert_int_equal(verify_vector(&c, "saml/multiple-assertions/"
                                       "response_with_doubled_signed_assertion.xml", NULL),
                     SAML_ERR_ASSERTION_COUNT);
}

static void entity_attacks_rejected(void **state)
{
    static const char *const files[] = {
        "saml/entity-attacks/ruby-saml_attackxee_billion_laughs.xml",
        "saml/entity-attacks/php-saml_attackXXE_external_entity.xml",
        "saml/entity-attacks/php-saml_attackXEE_internal_entity.xml",
        "saml/entity-attacks/php-saml_xmlWithDTD_no_entities.xml",
    };
    const vector_case c = { ADFS "idp-pubkey.pem", "2011-06-22T13:00:00Z", 0, 1024, false };
    struct rusage before;
    struct rusage after;

    (void)state;
    assert_int_equal(getrusage(RUSAGE_SELF, &before), 0);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        assert_int_equal(verify_vector(&c, files[i], NULL), SAML_ERR_DOCTYPE_FORBIDDEN);
    assert_int_equal(getrusage(RUSAGE_SELF, &after), 0);

    /* Billion laughs expands to about 3 GB; rejected before expansion, the peak
     * resident size grows by far less than 64 MiB (ru_maxrss is in KiB on Linux). */
    assert_true(after.ru_maxrss - before.ru_maxrss < 64 * 1024);
}

/* The same reasons through idsvc-admin, which prints "rejected: CODE: sentence". */
static void cli_reports_reasons(void **state)
{
    const char *vectors = getenv("IDSVC_VECTORS");
    char args[8192];
    char line[1024];

    (void)state;
    assert_non_null(vectors);
    assert_non_null(getenv("IDSVC_ADMIN"));

    snprintf(args, sizeof(args), "%s saml verify --trust %s/" ADFS "idp-pubkey.pem "
             "--at " ADFS_AT " --min-rsa-bits 1024 %s/" ADFS
             "adfs_response_sha256.xml >/dev/null 2>&1",
             getenv("IDSVC_ADMIN"), vectors, vectors);
    assert_int_equal(test_run(args), 0);

    const struct {
        const char *pem;
        const char *options;
        const char *file;
        const char *prefix;
    } cases[] = {
        { ADFS "idp-pubkey.pem", "--at " ADFS_AT, ADFS "adfs_response_sha256.xml",
          "rejected: key_too_small: " },
        { ADFS "idp-pubkey.pem", "", "saml/entity-attacks/ruby-saml_attackxee_billion_laughs.xml",
          "rejected: doctype_forbidden: " },
        { DVC "idp-cert.pem", "--allow-sha1 --min-rsa-bits 1024 --at 2012-07-03T11:35:00Z",
          DVC "valid_saml_with_digest_comment.xml", "rejected: digest_mismatch: " },
        { RSAU "idp-cert.pem", "--allow-sha1 --at 2020-09-25T16:30:00Z", RSAU_FILE,
          "rejected: signature_missing: " },
        { RSAU "idp-cert.pem", "--accept-signed-response --at 2020-09-25T16:30:00Z", RSAU_FILE,
          "rejected: sha1_forbidden: " },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        snprintf(args, sizeof(args), "--trust %s/%s %s %s/%s", vectors, cases[i].pem,
                 cases[i].options, vectors, cases[i].file);
        assert_int_equal(st_run_cli(args, line, sizeof(line)), 1);
        print_message("    cli: %s\n", line);
        assert_memory_equal(line, cases[i].prefix, strlen(cases[i].prefix));
    }
}

static void cli_usage_error(void **state)
{
    char command[4096];

    (void)state;
    snprintf(command, sizeof(command), "%s saml verify nothing.xml 2>/dev/null",
             getenv("IDSVC_ADMIN"));
    assert_int_equal(test_run(command), 2);
    snprintf(command, sizeof(command),
             "%s saml verify --trust x.pem --min-rsa-bits many f.xml 2>/dev/null",
             getenv("IDSVC_ADMIN"));
    assert_int_equal(test_run(command), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adfs_verifies_with_pinned_key),
        cmocka_unit_test(adfs_pinned_certificate_verifies),
        cmocka_unit_test(adfs_rejected_as_small_key),
        cmocka_unit_test(adfs_rejected_when_expired),
        cmocka_unit_test(adfs_rejected_after_bearer_window),
        cmocka_unit_test(signed_response_accepted_when_allowed),
        cmocka_unit_test(signed_response_rejected_by_default),
        cmocka_unit_test(signed_response_rejected_for_sha1),
        cmocka_unit_test(digest_comment_control_verifies),
        cmocka_unit_test(digest_comment_rejected_as_mismatch),
        cmocka_unit_test(response_signature_without_signed_info_malformed),
        cmocka_unit_test(duplicate_id_wrapping_rejected),
        cmocka_unit_test(response_signature_for_assertion_rejected),
        cmocka_unit_test(multiple_assertions_rejected),
        cmocka_unit_test(entity_attacks_rejected),
        cmocka_unit_test(cli_reports_reasons),
        cmocka_unit_test(cli_usage_error),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

#define _GNU_SOURCE /* vasprintf */
#include "saml_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#define ST_NAMEID_FORMAT "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

static int st_make_file_key(saml_fixture *fixture, char *path, const char *name,
                            const char *genpkey_args)
{
    char command[PATH_MAX * 3];

    if (snprintf(path, PATH_MAX, "%s/%s.pem", fixture->dir, name) >= PATH_MAX)
        return -1;
    snprintf(command, sizeof(command),
             "openssl genpkey %s -out %s 2>/dev/null && "
             "openssl pkey -in %s -pubout -out %s.pub 2>/dev/null",
             genpkey_args, path, path, path);
    return test_run(command) == 0 ? 0 : -1;
}

static int st_trust_file(saml_fixture *fixture, const char *path)
{
    char pub[PATH_MAX + 8];
    char error[256];
    EVP_PKEY *key;
    int rc;

    snprintf(pub, sizeof(pub), "%s.pub", path);
    key = saml_load_public_pem(pub, error, sizeof(error));
    if (key == NULL)
        return -1;
    rc = saml_trust_store_add(fixture->store, ST_ISSUER, key, 0);
    EVP_PKEY_free(key);
    return rc;
}

static int st_trust_hsm(saml_fixture *fixture, p11_key *p11)
{
    p11_error err;
    EVP_PKEY *key = p11_key_get_public(p11, &err);
    int rc;

    if (key == NULL)
        return -1;
    rc = saml_trust_store_add(fixture->store, ST_ISSUER, key, 0);
    EVP_PKEY_free(key);
    return rc;
}

static int st_make_keys(saml_fixture *fixture)
{
    p11_config config = {
        .module_path = fixture->token.module_path,
        .token_label = TEST_TOKEN_LABEL,
        .pin_file = fixture->token.pin_path,
    };
    p11_error err;

    if (p11_token_open(&config, &fixture->p11, &err) != 0 ||
        p11_key_generate(fixture->p11, P11_KEY_RSA_2048, "issuer-rsa", NULL, 0, &fixture->rsa,
                         &err) != 0 ||
        p11_key_generate(fixture->p11, P11_KEY_RSA_2048, "issuer-rsa-next", NULL, 0,
                         &fixture->rsa_next, &err) != 0 ||
        p11_key_generate(fixture->p11, P11_KEY_EC_P256, "issuer-ec", NULL, 0, &fixture->ec,
                         &err) != 0) {
        print_error("SoftHSM2 key set-up failed: %s\n", err.message);
        return -1;
    }

    if (st_make_file_key(fixture, fixture->file_rsa, "rsa",
                         "-algorithm RSA -pkeyopt rsa_keygen_bits:2048") != 0 ||
        st_make_file_key(fixture, fixture->file_rsa1024, "rsa1024",
                         "-algorithm RSA -pkeyopt rsa_keygen_bits:1024") != 0 ||
        st_make_file_key(fixture, fixture->file_attacker, "attacker",
                         "-algorithm RSA -pkeyopt rsa_keygen_bits:2048") != 0 ||
        st_make_file_key(fixture, fixture->file_ec, "ec",
                         "-algorithm EC -pkeyopt ec_paramgen_curve:P-256") != 0) {
        print_error("openssl could not make the file keys\n");
        return -1;
    }
    return 0;
}

int st_fixture_create(saml_fixture *fixture)
{
    memset(fixture, 0, sizeof(*fixture));
    fixture->now = ST_NOW;

    if (test_token_create(&fixture->token) != 0)
        return -1;
    snprintf(fixture->dir, sizeof(fixture->dir), "%s", fixture->token.dir);
    if (st_make_keys(fixture) != 0)
        return -1;

    fixture->store = saml_trust_store_new();
    if (fixture->store == NULL || st_trust_hsm(fixture, fixture->rsa) != 0 ||
        st_trust_hsm(fixture, fixture->ec) != 0 || st_trust_file(fixture, fixture->file_rsa) != 0 ||
        st_trust_file(fixture, fixture->file_ec) != 0)
        return -1;
    return 0;
}

void st_fixture_destroy(saml_fixture *fixture)
{
    saml_trust_store_free(&fixture->store);
    p11_key_free(&fixture->rsa);
    p11_key_free(&fixture->rsa_next);
    p11_key_free(&fixture->ec);
    p11_token_close(&fixture->p11);
    test_token_destroy(&fixture->token);
}

char *st_build(const saml_fixture *fixture, p11_key *key, const char *name_id)
{
    static char *values[] = { "Alice" };
    const saml_attribute attribute = {
        .name = "urn:oid:2.5.4.42",
        .values = values,
        .value_count = 1,
    };
    const saml_assertion_spec spec = {
        .issuer = ST_ISSUER,
        .audience = ST_AUDIENCE,
        .name_id = name_id,
        .issue_instant = fixture->now - 60,
        .valid_seconds = 300,
        .attributes = &attribute,
        .attribute_count = 1,
    };
    const saml_signer signer = { .key = key, .key_name = "issuer-key" };
    char *xml = NULL;
    size_t len = 0;
    p11_error err;

    if (saml_build_signed(&spec, &signer, &xml, &len, &err) != 0)
        fail_msg("saml_build_signed failed: %s", err.message);
    return xml;
}

static void st_write_file(const char *path, const char *text)
{
    FILE *file = fopen(path, "w");

    assert_non_null(file);
    assert_int_equal(fputs(text, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
}

char *st_xmlsec_sign(const saml_fixture *fixture, const char *xml, const char *key_pem)
{
    char in[PATH_MAX + 16];
    char out[PATH_MAX + 16];
    char command[PATH_MAX * 4];
    char *signed_xml;

    snprintf(in, sizeof(in), "%s/template.xml", fixture->dir);
    snprintf(out, sizeof(out), "%s/signed.xml", fixture->dir);
    st_write_file(in, xml);
    remove(out);

    snprintf(command, sizeof(command),
             "xmlsec1 --sign --privkey-pem %s "
             "--id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "
             "--id-attr:ID urn:oasis:names:tc:SAML:2.0:protocol:Response "
             "--output %s %s 2>%s/xmlsec1.err",
             key_pem, out, in, fixture->dir);
    if (test_run(command) != 0)
        fail_msg("xmlsec1 --sign failed; see %s/xmlsec1.err", fixture->dir);

    signed_xml = test_read_file(out, NULL);
    assert_non_null(signed_xml);
    return signed_xml;
}

static char *st_format(const char *format, ...) __attribute__((format(printf, 1, 2)));

static char *st_format(const char *format, ...)
{
    va_list args;
    char *text = NULL;

    va_start(args, format);
    assert_int_not_equal(vasprintf(&text, format, args), -1);
    va_end(args);
    return text;
}

static void st_time(time_t value, char out[32])
{
    struct tm tm;

    gmtime_r(&value, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *st_template_xml(const saml_fixture *fixture, const st_template *spec)
{
    const char *id = spec->id != NULL ? spec->id : "_tmpl0001";
    char not_before[32];
    char not_after[32];
    char reference[128];

    st_time(fixture->now - 60, not_before);
    st_time(fixture->now + 240, not_after);
    snprintf(reference, sizeof(reference), "#%s", id);

    return st_format(
        "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"%s\" "
        "IssueInstant=\"%s\" Version=\"2.0\"><saml:Issuer>" ST_ISSUER "</saml:Issuer>"
        "<ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>"
        "<ds:CanonicalizationMethod Algorithm=\"%s\"/><ds:SignatureMethod Algorithm=\"%s\"/>"
        "<ds:Reference URI=\"%s\"><ds:Transforms>"
        "<ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"
        "<ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>%s"
        "</ds:Transforms><ds:DigestMethod Algorithm=\"%s\"/><ds:DigestValue></ds:DigestValue>"
        "</ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue>%s"
        "</ds:Signature><saml:Subject><saml:NameID Format=\"" ST_NAMEID_FORMAT "\">%s"
        "</saml:NameID><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">"
        "<saml:SubjectConfirmationData NotOnOrAfter=\"%s\"></saml:SubjectConfirmationData>"
        "</saml:SubjectConfirmation></saml:Subject>"
        "<saml:Conditions NotBefore=\"%s\" NotOnOrAfter=\"%s\">"
        "<saml:AudienceRestriction><saml:Audience>" ST_AUDIENCE "</saml:Audience>"
        "</saml:AudienceRestriction></saml:Conditions></saml:Assertion>",
        id, not_before,
        spec->c14n_method != NULL ? spec->c14n_method : "http://www.w3.org/2001/10/xml-exc-c14n#",
        spec->signature_method != NULL ? spec->signature_method
                                       : "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        spec->reference_uri != NULL ? spec->reference_uri : reference,
        spec->extra_transform != NULL ? spec->extra_transform : "",
        spec->digest_method != NULL ? spec->digest_method
                                    : "http://www.w3.org/2001/04/xmlenc#sha256",
        spec->key_info != NULL ? spec->key_info : "",
        spec->name_id != NULL ? spec->name_id : "alice@idsvc.test", not_after, not_before,
        not_after);
}

char *st_template_signed(const saml_fixture *fixture, const st_template *spec,
                         const char *key_pem)
{
    char *template = st_template_xml(fixture, spec);
    char *signed_xml = st_xmlsec_sign(fixture, template, key_pem);

    free(template);
    return signed_xml;
}

char *st_replace(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);

    if (at == NULL)
        fail_msg("\"%s\" is not in the document", from);
    return st_format("%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
}

static void st_find_slice(const char *text, const char *start, const char *end,
                          const char **from, const char **to)
{
    *from = strstr(text, start);
    if (*from == NULL)
        fail_msg("\"%s\" is not in the document", start);
    *to = strstr(*from, end);
    if (*to == NULL)
        fail_msg("\"%s\" does not follow \"%s\"", end, start);
    *to += strlen(end);
}

char *st_slice(const char *text, const char *start, const char *end)
{
    const char *from;
    const char *to;

    st_find_slice(text, start, end, &from, &to);
    return st_format("%.*s", (int)(to - from), from);
}

char *st_cut(const char *text, const char *start, const char *end)
{
    const char *from;
    const char *to;

    st_find_slice(text, start, end, &from, &to);
    return st_format("%.*s%s", (int)(from - text), text, to);
}

static time_t st_clock(void *ctx)
{
    return ((const saml_fixture *)ctx)->now;
}

saml_verify_options st_options(const saml_fixture *fixture)
{
    saml_verify_options options = {
        .clock = st_clock,
        .clock_ctx = (void *)fixture,
    };

    return options;
}

saml_status st_verify(const saml_fixture *fixture, const saml_verify_options *options,
                      const char *xml, saml_assertion **out)
{
    saml_verify_options defaults = st_options(fixture);
    saml_assertion *assertion = NULL;
    char detail[512];
    saml_status status;

    status = saml_verify(fixture->store, options != NULL ? options : &defaults, xml,
                         strlen(xml), &assertion, detail, sizeof(detail));
    print_message("    %s: %s\n", saml_status_code(status), detail);
    if (status == SAML_OK)
        assert_non_null(assertion);
    else
        assert_null(assertion);

    if (out != NULL)
        *out = assertion;
    else
        saml_assertion_free(&assertion);
    return status;
}

int st_run_cli(const char *args, char *err_line, size_t err_size)
{
    const char *admin = getenv("IDSVC_ADMIN");
    char command[8192];
    FILE *pipe;
    int status;

    assert_non_null(admin);
    err_line[0] = '\0';
    /* Standard error into the pipe, standard output discarded. */
    snprintf(command, sizeof(command), "%s saml verify %s 2>&1 >/dev/null", admin, args);
    pipe = popen(command, "r");
    assert_non_null(pipe);
    if (fgets(err_line, (int)err_size, pipe) != NULL)
        err_line[strcspn(err_line, "\n")] = '\0';
    while (fgetc(pipe) != EOF)
        ;
    status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Helpers for the SAML verification tests: assertions signed by idsvc's own signer with
 * keys in a fresh SoftHSM2 token, documents re-signed by the xmlsec1 command line with
 * throwaway file keys, and string edits for the attacks.
 */
#ifndef IDSVC_SAML_TEST_UTIL_H
#define IDSVC_SAML_TEST_UTIL_H

#include <limits.h>
#include <stddef.h>
#include <time.h>

#include "saml.h"
#include "test_token.h"

#define ST_ISSUER "https://issuer.idsvc.test"
#define ST_AUDIENCE "https://rp.idsvc.test"
#define ST_NOW ((time_t)1767225600) /* 2026-01-01T00:00:00Z, the tests' fixed clock */

typedef struct saml_fixture {
    test_token token;
    p11_token *p11;
    p11_key *rsa;          /* RSA-2048 in the token */
    p11_key *rsa_next;     /* a second RSA-2048 key of the same issuer, for rollover */
    p11_key *ec;           /* P-256 in the token */
    char dir[PATH_MAX];    /* temporary folder of the file keys below */
    char file_rsa[PATH_MAX];      /* RSA-2048 trusted for ST_ISSUER, used by xmlsec1 */
    char file_rsa1024[PATH_MAX];  /* RSA-1024 trusted for ST_ISSUER */
    char file_attacker[PATH_MAX]; /* RSA-2048 that nobody trusts */
    char file_ec[PATH_MAX];       /* P-256 trusted for ST_ISSUER */
    saml_trust_store *store; /* the HSM keys and the trusted file keys, for ST_ISSUER */
    time_t now;
} saml_fixture;

/* Creates the token, its keys, the file keys and the trust store. Returns 0 or -1. */
int st_fixture_create(saml_fixture *fixture);
void st_fixture_destroy(saml_fixture *fixture);

/* Builds and signs an assertion for name_id with idsvc's signer and key; the validity
 * runs from fixture->now - 60 for 300 seconds. Fails the test on error. */
char *st_build(const saml_fixture *fixture, p11_key *key, const char *name_id);

/* Signs the first Signature template in xml with the xmlsec1 command line and the PEM
 * private key; IDs are taken from ID attributes of Assertion and Response. */
char *st_xmlsec_sign(const saml_fixture *fixture, const char *xml, const char *key_pem);

/* An Assertion with a Signature template for xmlsec1. NULL arguments select the
 * defaults: rsa-sha256, sha256, the reference "#" + id, no extra transform. */
typedef struct st_template {
    const char *id;
    const char *name_id;
    const char *signature_method;
    const char *digest_method;
    const char *c14n_method;
    const char *extra_transform; /* inserted after the two usual transforms */
    const char *reference_uri;
    const char *key_info;        /* the KeyInfo element, or NULL for none */
} st_template;

char *st_template_xml(const saml_fixture *fixture, const st_template *spec);

/* Builds the template for spec and signs it with st_xmlsec_sign and key_pem. */
char *st_template_signed(const saml_fixture *fixture, const st_template *spec,
                         const char *key_pem);

/* Returns a copy of text with the first occurrence of from replaced by to; fails the
 * test when from is absent. */
char *st_replace(const char *text, const char *from, const char *to);

/* Returns a copy of the part of text from the first start to the end of the first
 * following end marker; fails the test when either is absent. */
char *st_slice(const char *text, const char *start, const char *end);

/* Returns a copy of text without the slice that st_slice would return. */
char *st_cut(const char *text, const char *start, const char *end);

/* Options with the fixture's clock, no skew and the default limits. */
saml_verify_options st_options(const saml_fixture *fixture);

/* Verifies xml and returns the status; frees the assertion unless out is given. */
saml_status st_verify(const saml_fixture *fixture, const saml_verify_options *options,
                      const char *xml, saml_assertion **out);

/* Runs "$IDSVC_ADMIN saml verify ARGS" and returns its exit status; the first line of
 * its standard error goes to err_line. */
int st_run_cli(const char *args, char *err_line, size_t err_size);

#endif

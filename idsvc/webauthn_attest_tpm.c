/*
 * The tpm attestation statement format (WebAuthn Level 3, section 8.3). certInfo and
 * pubArea are checked in webauthn_attest_tpm_info.c and the signature over certInfo in
 * webauthn_attest_tpm_sig.c, with OpenSSL for every supported alg. A statement with
 * alg RS1 then goes through libfido2 1.12 as well, which for RS1 also requires
 * objectAttributes with fixedTPM, fixedParent, sensitiveDataOrigin and sign, a SHA-256
 * nameAlg, clockInfo.safe set and RSA-2048 or P-256 structures of exact sizes.
 */
#include <ctype.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "webauthn_internal.h"

#define OID_TCG_KP_AIK_CERTIFICATE "2.23.133.8.3"
#define TPM_ALG_SHA256_ID 0x000bu /* TPM_ALG_SHA256 of the TPM 2.0 Library, Part 2 */

static bool has_extended_key_usage(X509 *cert, const char *oid)
{
    EXTENDED_KEY_USAGE *usages = X509_get_ext_d2i(cert, NID_ext_key_usage, NULL, NULL);
    ASN1_OBJECT *expected = OBJ_txt2obj(oid, 1);
    bool found = false;

    for (int i = 0; usages != NULL && expected != NULL && i < sk_ASN1_OBJECT_num(usages);
         i++) {
        if (OBJ_cmp(sk_ASN1_OBJECT_value(usages, i), expected) == 0)
            found = true;
    }
    ASN1_OBJECT_free(expected);
    EXTENDED_KEY_USAGE_free(usages);
    return found;
}

/* The attributes that the TCG EK Credential Profile for TPM Family 2.0 (section 3.2.9)
 * puts in a directoryName of the subject alternative name. */
static const struct {
    const char *oid;
    const char *name;
} tpm_san_attributes[] = {
    {"2.23.133.2.1", "tcg-at-tpmManufacturer"},
    {"2.23.133.2.2", "tcg-at-tpmModel"},
    {"2.23.133.2.3", "tcg-at-tpmVersion"},
};

/* Returns the first value of an attribute of type oid in a directoryName of names, or
 * NULL when there is none. */
static const ASN1_STRING *directory_names_find(const GENERAL_NAMES *names,
                                               const char *oid)
{
    ASN1_OBJECT *type = OBJ_txt2obj(oid, 1);
    const ASN1_STRING *value = NULL;

    for (int i = 0; type != NULL && value == NULL && i < sk_GENERAL_NAME_num(names);
         i++) {
        const GENERAL_NAME *name = sk_GENERAL_NAME_value(names, i);
        int index;

        if (name->type != GEN_DIRNAME)
            continue;
        index = X509_NAME_get_index_by_OBJ(name->d.directoryName, type, -1);
        if (index >= 0)
            value = X509_NAME_ENTRY_get_data(
                X509_NAME_get_entry(name->d.directoryName, index));
    }
    ASN1_OBJECT_free(type);
    return value;
}

/* Returns whether value is a TPM manufacturer in the form that AIK certificates carry:
 * "id:" and the 4-byte TCG vendor id in 8 hexadecimal digits, such as "id:4E544300". */
static bool tpm_manufacturer_valid(const ASN1_STRING *value)
{
    const unsigned char *text = ASN1_STRING_get0_data(value);

    if (ASN1_STRING_length(value) != 11 || memcmp(text, "id:", 3) != 0)
        return false;
    for (int i = 3; i < 11; i++) {
        if (!isxdigit(text[i]))
            return false;
    }
    return true;
}

/* Checks that the subject alternative name contains the TPM manufacturer, model and
 * version, as WebAuthn Level 3 (section 8.3.1) requires of the AIK certificate, and
 * that the manufacturer has the form of a TCG vendor id. The id is not compared with
 * the TCG TPM Vendor ID Registry, because under the CHAIN policy the AIK's issuer
 * vouches for the TPM, and without a chain a forged certificate could name any listed
 * vendor. */
static webauthn_code check_aik_san(X509 *leaf, webauthn_error *err)
{
    int critical = 0;
    GENERAL_NAMES *names = X509_get_ext_d2i(leaf, NID_subject_alt_name, &critical, NULL);
    webauthn_code code = WEBAUTHN_OK;

    /* X509_get_ext_d2i sets critical to -1 when the extension is absent and to -2
     * when the certificate has it more than once. */
    ERR_clear_error();
    if (names == NULL && critical == -1)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate has no subject alternative "
                             "name.");
    if (names == NULL)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate subject alternative name "
                             "is repeated or cannot be decoded.");
    for (size_t i = 0; i < sizeof(tpm_san_attributes) / sizeof(tpm_san_attributes[0]);
         i++) {
        if (directory_names_find(names, tpm_san_attributes[i].oid) == NULL) {
            code = webauthn_fail(
                err, WEBAUTHN_ATTESTATION_INVALID,
                "The TPM attestation certificate subject alternative name has no "
                "directoryName with %s (%s); it needs the TPM manufacturer, model and "
                "version.",
                tpm_san_attributes[i].name, tpm_san_attributes[i].oid);
            break;
        }
    }
    if (code == WEBAUTHN_OK &&
        !tpm_manufacturer_valid(directory_names_find(names, tpm_san_attributes[0].oid)))
        code =
            webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                          "The TPM attestation certificate's tcg-at-tpmManufacturer is "
                          "not \"id:\" and 8 hexadecimal digits of a TCG vendor id.");
    GENERAL_NAMES_free(names);
    return code;
}

/* TPM attestation certificate requirements (WebAuthn Level 3, section 8.3.1). */
static webauthn_code check_aik_cert(X509 *leaf, webauthn_error *err)
{
    webauthn_code code;

    if (X509_get_version(leaf) != X509_VERSION_3)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate is not X.509 version 3.");
    if (X509_NAME_entry_count(X509_get_subject_name(leaf)) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate subject is not empty.");
    code = check_aik_san(leaf, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (!has_extended_key_usage(leaf, OID_TCG_KP_AIK_CERTIFICATE))
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The TPM attestation certificate lacks the extended key usage "
            "tcg-kp-AIKCertificate (2.23.133.8.3).");
    if (X509_check_ca(leaf) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The TPM attestation certificate is a CA certificate.");
    return WEBAUTHN_OK;
}

/* Checks that an RSA credential key has the exponent 65537, the only exponent that
 * pubArea is accepted with. libfido2 1.12 takes only the field value 0, which TPM 2.0
 * defines as 65537. The modulus alone is then compared, so a credential key with
 * another exponent would pass as the key that the TPM attested. */
static webauthn_code check_tpm_exponent(const webauthn_attestation_input *in,
                                        webauthn_error *err)
{
    static const unsigned char f4[] = {0x01, 0x00, 0x01};
    const webauthn_sig_alg *credential_alg =
        webauthn_sig_alg_find(in->credential_key->alg);
    cbor_item_t *map = NULL;
    const cbor_item_t *e;
    webauthn_code code;

    if (credential_alg == NULL || credential_alg->curve_nid != NID_undef)
        return WEBAUTHN_OK;
    code = webauthn_cbor_load(in->auth_data->public_key, in->auth_data->public_key_len,
                              &map, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_int(map, -2, &e, err);
    if (code == WEBAUTHN_OK &&
        (e == NULL || !cbor_isa_bytestring(e) || cbor_bytestring_length(e) != 3 ||
         memcmp(cbor_bytestring_handle(e), f4, sizeof(f4)) != 0))
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The %s credential key's exponent is not 65537, the "
                             "exponent of the TPM key that pubArea describes.",
                             webauthn_cose_alg_name(in->credential_key->alg));
    if (map != NULL)
        cbor_decref(&map);
    return code;
}

/* The members of a tpm statement, all of which must be present. */
typedef struct tpm_statement {
    int64_t alg;
    const cbor_item_t *ver;
    const cbor_item_t *x5c;
    const cbor_item_t *sig;
    const cbor_item_t *cert_info;
    const cbor_item_t *pub_area;
} tpm_statement;

/* Reads the members of a tpm statement and checks ver. */
static webauthn_code read_statement(const cbor_item_t *att_stmt, tpm_statement *out,
                                    webauthn_error *err)
{
    const cbor_item_t *ver;
    webauthn_code code;

    code = webauthn_reject_ecdaa(att_stmt, "tpm", err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_member(att_stmt, "ver", &out->ver, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_int(att_stmt, "alg", &out->alg, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_member(att_stmt, "x5c", &out->x5c, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_sig(att_stmt, "tpm", &out->sig, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_member(att_stmt, "certInfo", &out->cert_info, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_member(att_stmt, "pubArea", &out->pub_area, err);
    if (code != WEBAUTHN_OK)
        return code;

    ver = out->ver;
    if (!cbor_isa_string(ver) || !cbor_string_is_definite(ver) ||
        cbor_string_length(ver) != 3 || memcmp(cbor_string_handle(ver), "2.0", 3) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The tpm attestation version is not \"2.0\".");
    return WEBAUTHN_OK;
}

/* Finds the statement algorithm, and rejects credential keys that pubArea cannot be
 * compared with. */
static webauthn_code find_alg(const webauthn_attestation_input *in, int64_t alg,
                              const webauthn_sig_alg **tpm_alg, webauthn_error *err)
{
    *tpm_alg = webauthn_sig_alg_find(alg);
    if (*tpm_alg == NULL)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
            "The tpm statement algorithm %lld (%s) is not supported; supported are RS1, "
            "RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384 and ES512.",
            (long long)alg, webauthn_cose_alg_name(alg));
    /* webauthn_attest_tpm_info.c compares pubArea only with ECDSA and RSA credential
     * keys; a TPM 2.0 has no Ed25519 keys. */
    if (in->credential_key->alg == WEBAUTHN_COSE_EDDSA)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
            "The tpm attestation is verified only over an ECDSA or RSA credential key; "
            "this one has the statement algorithm %lld (%s) and an %s credential key.",
            (long long)alg, (*tpm_alg)->name,
            webauthn_cose_alg_name(in->credential_key->alg));
    return WEBAUTHN_OK;
}

/* libfido2 1.12 takes an RS1 statement only with a SHA-256 nameAlg and reports any other
 * as FIDO_ERR_INTERNAL, so the nameAlg is named here first. pubArea has passed
 * webauthn_tpm_check_structures, so it is long enough to hold nameAlg. */
static webauthn_code check_libfido2_name_alg(const cbor_item_t *pub_area,
                                             webauthn_error *err)
{
    const unsigned char *bytes = cbor_bytestring_handle(pub_area);
    unsigned name_alg = (unsigned)bytes[2] << 8 | bytes[3];

    if (name_alg == TPM_ALG_SHA256_ID)
        return WEBAUTHN_OK;
    return webauthn_fail(err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                         "The tpm pubArea nameAlg is 0x%04x, but libfido2 1.12 verifies "
                         "RS1 statements over an ES256 or RS256 credential key only with "
                         "SHA-256 (0x000b).",
                         name_alg);
}

webauthn_code webauthn_attest_tpm(const webauthn_attestation_input *in,
                                  webauthn_attestation_output *out, webauthn_error *err)
{
    tpm_statement stmt;
    const webauthn_sig_alg *tpm_alg = NULL;
    X509 *aik;
    webauthn_code code;

    code = read_statement(in->att_stmt, &stmt, err);
    if (code == WEBAUTHN_OK)
        code = find_alg(in, stmt.alg, &tpm_alg, err);
    if (code == WEBAUTHN_OK)
        code = check_tpm_exponent(in, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_tpm_check_structures(in, tpm_alg, stmt.cert_info, stmt.pub_area,
                                             err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_x5c_parse(stmt.x5c, &out->x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    aik = sk_X509_value(out->x5c, 0);
    code = webauthn_tpm_verify_signature(tpm_alg, aik, stmt.cert_info, stmt.sig, err);
    /* RS1 is what Windows Hello sends, and libfido2 checks its structures more strictly
     * than WebAuthn requires (see the top of this file). libfido2 1.12 decodes only
     * ES256, EdDSA and RSA-2048 RS256 credential keys, so other keys get the checks
     * above only. */
    if (code == WEBAUTHN_OK && stmt.alg == WEBAUTHN_COSE_RS1 &&
        in->credential_key->libfido2_key) {
        code = check_libfido2_name_alg(stmt.pub_area, err);
        if (code == WEBAUTHN_OK)
            code = webauthn_fido_verify(in, err);
    }
    if (code != WEBAUTHN_OK)
        return code;

    code = check_aik_cert(aik, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_x509_check_aaguid(aik, in->auth_data->aaguid, err);
    if (code != WEBAUTHN_OK)
        return code;

    out->type = WEBAUTHN_ATTESTED_BASIC;
    return WEBAUTHN_OK;
}

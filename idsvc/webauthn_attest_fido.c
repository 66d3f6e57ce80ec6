/*
 * Attestation formats that libfido2 1.12 verifies: packed and fido-u2f, tpm with alg RS1
 * (after webauthn_attest_tpm.c has checked it), plus none, which has nothing to verify.
 * libfido2 checks the statement signature, except for packed statements with algorithms
 * it does not know, which webauthn_attest_signature.c verifies. The certificate
 * requirements and the AAGUID extension are checked here, and the chain in
 * webauthn_register.c.
 */
#include <stdlib.h>
#include <string.h>

#include <fido.h>
#include <openssl/x509v3.h>

#include "webauthn_internal.h"

/* Checks the types that libfido2 1.12 requires of the extension outputs it decodes, so
 * that a wrong one is named here rather than reported as undecodable authenticator
 * data. credProtect and minPinLength must be unsigned integers in one byte. */
static webauthn_code check_extension_types(const cbor_item_t *map, webauthn_error *err)
{
    static const struct {
        const char *name;
        bool boolean; /* false: an unsigned integer below 256 */
    } outputs[] = {
        {"credBlob", true},
        {"hmac-secret", true},
        {"credProtect", false},
        {"minPinLength", false},
    };

    for (size_t i = 0; i < sizeof(outputs) / sizeof(outputs[0]); i++) {
        const cbor_item_t *value;
        webauthn_code code = webauthn_cbor_map_text(map, outputs[i].name, &value, err);
        bool valid;

        if (code != WEBAUTHN_OK)
            return code;
        if (value == NULL)
            continue;
        valid = outputs[i].boolean
                    ? cbor_is_bool(value)
                    : cbor_isa_uint(value) && cbor_int_get_width(value) == CBOR_INT_8;
        if (!valid)
            return webauthn_fail(err, WEBAUTHN_MALFORMED,
                                 "The %s extension output in authenticator data is not "
                                 "%s.",
                                 outputs[i].name,
                                 outputs[i].boolean
                                     ? "a boolean"
                                     : "an unsigned integer below 256 in one byte");
    }
    return WEBAUTHN_OK;
}

/* Checks that credProtect, whose type check_extension_types has checked, is one of the
 * levels 1 to 3 that CTAP 2.1 defines. */
static webauthn_code check_cred_protect_level(const cbor_item_t *map, webauthn_error *err)
{
    const cbor_item_t *level;
    webauthn_code code = webauthn_cbor_map_text(map, "credProtect", &level, err);

    if (code != WEBAUTHN_OK || level == NULL)
        return code;
    if (cbor_get_int(level) < 1 || cbor_get_int(level) > 3)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The credProtect extension value %llu is not 1, 2 or 3.",
                             (unsigned long long)cbor_get_int(level));
    return WEBAUTHN_OK;
}

webauthn_code webauthn_check_extension_outputs(const webauthn_auth_data *ad,
                                               webauthn_error *err)
{
    cbor_item_t *map = NULL;
    webauthn_code code;

    if (ad->extensions == NULL)
        return WEBAUTHN_OK;
    code = webauthn_cbor_load(ad->extensions, ad->extensions_len, &map, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = check_extension_types(map, err);
    if (code == WEBAUTHN_OK)
        code = check_cred_protect_level(map, err);
    cbor_decref(&map);
    return code;
}

/* Sets the libfido2 extensions that the authenticator data reports, because
 * fido_cred_verify rejects any difference between requested and reported ones. */
static webauthn_code mirror_extensions(fido_cred_t *cred, const webauthn_auth_data *ad,
                                       webauthn_error *err)
{
    cbor_item_t *map = NULL;
    const cbor_item_t *value;
    int mask = 0;
    webauthn_code code;

    if (ad->extensions == NULL)
        return WEBAUTHN_OK;
    code = webauthn_cbor_load(ad->extensions, ad->extensions_len, &map, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = check_extension_types(map, err);
    if (code != WEBAUTHN_OK) {
        cbor_decref(&map);
        return code;
    }

    /* credBlob reports whether the authenticator stored the blob, and the blob itself is
     * not in authenticator data. */
    code = webauthn_cbor_map_text(map, "credBlob", &value, err);
    if (code == WEBAUTHN_OK && value != NULL && cbor_is_bool(value) &&
        cbor_get_bool(value))
        mask |= FIDO_EXT_CRED_BLOB;

    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_text(map, "hmac-secret", &value, err);
    if (code == WEBAUTHN_OK && value != NULL && cbor_is_bool(value) &&
        cbor_get_bool(value))
        mask |= FIDO_EXT_HMAC_SECRET;

    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_text(map, "credProtect", &value, err);
    if (code == WEBAUTHN_OK && value != NULL && cbor_isa_uint(value)) {
        uint64_t level = cbor_get_int(value);

        mask |= FIDO_EXT_CRED_PROTECT;
        /* CTAP 2.1 defines the levels 1 to 3, and fido_cred_set_prot takes 0 as "no
         * credProtect", so 0 must be caught here. */
        if (level < 1 || level > 3 || fido_cred_set_prot(cred, (int)level) != FIDO_OK)
            code = webauthn_fail(err, WEBAUTHN_MALFORMED,
                                 "The credProtect extension value %llu is not 1, 2 or 3.",
                                 (unsigned long long)level);
    }

    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_text(map, "minPinLength", &value, err);
    if (code == WEBAUTHN_OK && value != NULL && cbor_isa_uint(value)) {
        mask |= FIDO_EXT_MINPINLEN;
        if (fido_cred_set_pin_minlen(cred, (size_t)cbor_get_int(value)) != FIDO_OK)
            code = webauthn_fail(err, WEBAUTHN_MALFORMED,
                                 "The minPinLength extension value is not valid.");
    }

    if (code == WEBAUTHN_OK && fido_cred_set_extensions(cred, mask) != FIDO_OK)
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "libfido2 rejected the extension mask 0x%x.", mask);

    cbor_decref(&map);
    return code;
}

/* Encodes the attStmt members that libfido2 1.12 reads, in CTAP2 canonical order,
 * because libfido2 rejects a map in any other order. attStmt is not signed, so the
 * order carries no meaning; members libfido2 ignores are left out. */
static webauthn_code encode_att_stmt(const cbor_item_t *att_stmt, unsigned char **out,
                                     size_t *len, webauthn_error *err)
{
    static const char *const members[] = {"alg", "sig", "x5c", "pubArea", "certInfo"};
    cbor_item_t *map = cbor_new_definite_map(sizeof(members) / sizeof(members[0]));
    size_t size = 0;
    webauthn_code code = WEBAUTHN_OK;

    *out = NULL;
    *len = 0;
    if (map == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]) && code == WEBAUTHN_OK;
         i++) {
        const cbor_item_t *value;
        cbor_item_t *key;

        code = webauthn_cbor_map_text(att_stmt, members[i], &value, err);
        if (code != WEBAUTHN_OK || value == NULL)
            continue;
        key = cbor_build_string(members[i]);
        if (key == NULL ||
            !cbor_map_add(map, (struct cbor_pair){.key = cbor_move(key),
                                                  .value = (cbor_item_t *)value}))
            code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    }
    if (code == WEBAUTHN_OK) {
        *len = cbor_serialize_alloc(map, out, &size);
        if (*len == 0)
            code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    }
    cbor_decref(&map);
    return code;
}

/* Loads everything libfido2 needs into a new fido_cred_t. fido_cred_set_type must come
 * before the authenticator data, which libfido2 decodes for that key type. */
static webauthn_code load_cred(const webauthn_attestation_input *in, fido_cred_t **out,
                               webauthn_error *err)
{
    fido_cred_t *cred;
    const cbor_item_t *sig;
    unsigned char *att_stmt = NULL;
    size_t att_stmt_len = 0;
    const webauthn_verifier *verifier = in->verifier;
    webauthn_code code;

    /* libfido2 names no member when sig is missing or not a byte string. */
    *out = NULL;
    code = webauthn_att_stmt_sig(in->att_stmt, in->fmt, &sig, err);
    if (code != WEBAUTHN_OK)
        return code;
    cred = fido_cred_new();
    if (cred == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");

    if (fido_cred_set_type(cred, in->credential_key->alg) != FIDO_OK ||
        fido_cred_set_rp(cred, verifier->rp_id, NULL) != FIDO_OK ||
        fido_cred_set_clientdata_hash(cred, in->client_data_hash, 32) != FIDO_OK ||
        fido_cred_set_uv(cred, verifier->require_uv ? FIDO_OPT_TRUE : FIDO_OPT_OMIT) !=
            FIDO_OK) {
        code = webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "libfido2 rejected the credential parameters.");
        goto out;
    }

    /* libfido2 1.12 reads the credential key and the extensions only in CTAP2
     * canonical key order, which webauthn_register.c has required of both. */
    code = mirror_extensions(cred, in->auth_data, err);
    if (code != WEBAUTHN_OK)
        goto out;

    if (fido_cred_set_authdata_raw(cred, in->auth_data->raw, in->auth_data->raw_len) !=
        FIDO_OK) {
        code = webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "libfido2 could not decode the authenticator data for a %s key.",
            webauthn_cose_alg_name(in->credential_key->alg));
        goto out;
    }

    /* The attStmt map passed webauthn_cbor_check inside the attestation object, so
     * libfido2's own cbor_load of this re-encoding is bounded too. */
    code = encode_att_stmt(in->att_stmt, &att_stmt, &att_stmt_len, err);
    if (code != WEBAUTHN_OK)
        goto out;
    if (fido_cred_set_fmt(cred, in->fmt) != FIDO_OK ||
        fido_cred_set_attstmt(cred, att_stmt, att_stmt_len) != FIDO_OK) {
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "libfido2 could not decode the %s attestation statement.",
                             in->fmt);
        goto out;
    }

    *out = cred;
    cred = NULL;

out:
    free(att_stmt);
    fido_cred_free(&cred);
    return code;
}

static webauthn_code fido_result(int result, const char *fmt, webauthn_error *err)
{
    if (result == FIDO_OK)
        return WEBAUTHN_OK;
    if (result == FIDO_ERR_INVALID_SIG)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The %s attestation signature does not verify.", fmt);
    return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                         "libfido2 rejected the %s attestation statement: %s.", fmt,
                         fido_strerr(result));
}

webauthn_code webauthn_att_stmt_int(const cbor_item_t *att_stmt, const char *key,
                                    int64_t *out, webauthn_error *err)
{
    const cbor_item_t *value;
    webauthn_code code = webauthn_cbor_map_text(att_stmt, key, &value, err);

    if (code != WEBAUTHN_OK)
        return code;
    if (value == NULL || webauthn_cbor_int(value, out) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The attestation statement %s is missing or not an integer.",
                             key);
    return WEBAUTHN_OK;
}

webauthn_code webauthn_att_stmt_member(const cbor_item_t *att_stmt, const char *key,
                                       const cbor_item_t **value, webauthn_error *err)
{
    webauthn_code code = webauthn_cbor_map_text(att_stmt, key, value, err);

    if (code == WEBAUTHN_OK && *value == NULL)
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The attestation statement has no %s.", key);
    return code;
}

webauthn_code webauthn_reject_ecdaa(const cbor_item_t *att_stmt, const char *fmt,
                                    webauthn_error *err)
{
    const cbor_item_t *ecdaa;
    webauthn_code code = webauthn_cbor_map_text(att_stmt, "ecdaaKeyId", &ecdaa, err);

    if (code == WEBAUTHN_OK && ecdaa != NULL)
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED,
                             "The %s statement has an ecdaaKeyId, but ECDAA attestation "
                             "was removed from WebAuthn and is not supported.",
                             fmt);
    return code;
}

webauthn_code webauthn_attest_none(const webauthn_attestation_input *in,
                                   webauthn_attestation_output *out, webauthn_error *err)
{
    if (cbor_map_size(in->att_stmt) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The none attestation statement is not an empty map.");
    out->type = WEBAUTHN_ATTESTED_NONE;
    return WEBAUTHN_OK;
}

/* Checks whether the subject has an entry of the given NID, or the exact text when
 * text is not NULL. */
static bool subject_has(const X509 *cert, int nid, const char *text)
{
    const X509_NAME *subject = X509_get_subject_name(cert);
    int index = X509_NAME_get_index_by_NID(subject, nid, -1);
    const ASN1_STRING *value;

    if (index < 0)
        return false;
    if (text == NULL)
        return true;
    value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    return (size_t)ASN1_STRING_length(value) == strlen(text) &&
           memcmp(ASN1_STRING_get0_data(value), text, strlen(text)) == 0;
}

/* Packed attestation certificate requirements (WebAuthn Level 3, section 8.2.1). */
static webauthn_code check_packed_cert(const X509 *leaf, webauthn_error *err)
{
    if (X509_get_version(leaf) != X509_VERSION_3)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The packed attestation certificate is not X.509 version 3.");
    if (!subject_has(leaf, NID_countryName, NULL) ||
        !subject_has(leaf, NID_organizationName, NULL) ||
        !subject_has(leaf, NID_organizationalUnitName, "Authenticator Attestation") ||
        !subject_has(leaf, NID_commonName, NULL))
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The packed attestation certificate subject lacks C, O, CN or "
            "OU=Authenticator Attestation.");
    /* X509_check_ca returns 0 only for a certificate that cannot be a CA. */
    if (X509_check_ca((X509 *)leaf) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The packed attestation certificate is a CA certificate.");
    return WEBAUTHN_OK;
}

/* Returns true for the algorithms a packed statement may name: those of credential
 * keys, which RS1 is not. */
static bool credential_alg(int64_t alg)
{
    size_t count;
    const int64_t *algs = webauthn_credential_algorithms(&count);

    for (size_t i = 0; i < count; i++) {
        if (algs[i] == alg)
            return true;
    }
    return false;
}

/*
 * Verifies a packed statement signature by key (the credential key for self
 * attestation, else the x5c leaf key) under alg. libfido2 1.12 verifies it when alg is
 * ES256, RS256 or EdDSA and libfido2 decodes the credential key (libfido2_key), as it
 * did before other algorithms were accepted, because it also checks the authenticator
 * data on its own. Every other combination is verified with OpenSSL.
 */
static webauthn_code packed_signature(const webauthn_attestation_input *in, EVP_PKEY *key,
                                      int64_t alg, bool self, webauthn_error *err)
{
    fido_cred_t *cred = NULL;
    webauthn_code code;

    if (!webauthn_libfido2_alg(alg) || !in->credential_key->libfido2_key)
        return webauthn_verify_att_signature(in, key, alg, err);

    code = load_cred(in, &cred, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = fido_result(self ? fido_cred_verify_self(cred) : fido_cred_verify(cred),
                       in->fmt, err);
    fido_cred_free(&cred);
    return code;
}

static webauthn_code packed_full(const webauthn_attestation_input *in, int64_t alg,
                                 const cbor_item_t *x5c, webauthn_attestation_output *out,
                                 webauthn_error *err)
{
    X509 *leaf;
    webauthn_code code;

    if (!credential_alg(alg))
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                             "The packed attestation uses COSE algorithm %lld; supported "
                             "are %s.",
                             (long long)alg, WEBAUTHN_CREDENTIAL_ALG_NAMES);

    code = webauthn_x5c_parse(x5c, &out->x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    leaf = sk_X509_value(out->x5c, 0);
    /* libfido2 1.12 checks only the key type, so an ES256 signature by a P-384 or
     * secp256k1 key would verify there. */
    if (!webauthn_key_fits_alg(X509_get0_pubkey(leaf), alg))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The packed attestation certificate key does not fit alg "
                             "%lld (%s), which needs an EC key on its curve for ES256, "
                             "ES384 and ES512, an RSA key for the RS and PS algorithms "
                             "or an Ed25519 key for EdDSA.",
                             (long long)alg, webauthn_cose_alg_name(alg));

    code = packed_signature(in, X509_get0_pubkey(leaf), alg, false, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = check_packed_cert(leaf, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_x509_check_aaguid(leaf, in->auth_data->aaguid, err);
    if (code != WEBAUTHN_OK)
        return code;

    out->type = WEBAUTHN_ATTESTED_BASIC;
    return WEBAUTHN_OK;
}

static webauthn_code packed_self(const webauthn_attestation_input *in, int64_t alg,
                                 webauthn_attestation_output *out, webauthn_error *err)
{
    webauthn_code code;

    if (alg != in->credential_key->alg)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The self attestation names algorithm %lld, but the credential "
            "key is %s.",
            (long long)alg, webauthn_cose_alg_name(in->credential_key->alg));

    code = packed_signature(in, in->credential_key->pkey, alg, true, err);
    if (code != WEBAUTHN_OK)
        return code;

    out->type = WEBAUTHN_ATTESTED_SELF;
    return WEBAUTHN_OK;
}

webauthn_code webauthn_attest_packed(const webauthn_attestation_input *in,
                                     webauthn_attestation_output *out,
                                     webauthn_error *err)
{
    const cbor_item_t *x5c;
    int64_t alg;
    webauthn_code code;

    code = webauthn_att_stmt_int(in->att_stmt, "alg", &alg, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_reject_ecdaa(in->att_stmt, in->fmt, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_text(in->att_stmt, "x5c", &x5c, err);
    if (code != WEBAUTHN_OK)
        return code;

    if (x5c != NULL)
        return packed_full(in, alg, x5c, out, err);
    return packed_self(in, alg, out, err);
}

webauthn_code webauthn_attest_fido_u2f(const webauthn_attestation_input *in,
                                       webauthn_attestation_output *out,
                                       webauthn_error *err)
{
    const cbor_item_t *x5c;
    fido_cred_t *cred = NULL;
    webauthn_code code;

    code = webauthn_att_stmt_member(in->att_stmt, "x5c", &x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_x5c_parse(x5c, &out->x5c, err);
    if (code != WEBAUTHN_OK)
        return code;

    if (sk_X509_num(out->x5c) != 1)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The fido-u2f x5c holds %d certificates instead of one.",
                             sk_X509_num(out->x5c));
    /* A key size of 256 bits would also admit secp256k1 and brainpoolP256r1. */
    if (!webauthn_key_fits_alg(X509_get0_pubkey(sk_X509_value(out->x5c, 0)),
                               WEBAUTHN_COSE_ES256))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The fido-u2f attestation key is not an EC P-256 key.");
    if (in->credential_key->alg != WEBAUTHN_COSE_ES256)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "A fido-u2f credential key must be ES256.");
    /* The U2F signature does not cover the AAGUID, and the fido-u2f procedure of
     * WebAuthn Level 3 (section 8.6) does not read it, so any value passes unattested. */

    code = load_cred(in, &cred, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = fido_result(fido_cred_verify(cred), in->fmt, err);
    fido_cred_free(&cred);
    if (code != WEBAUTHN_OK)
        return code;

    out->type = WEBAUTHN_ATTESTED_BASIC;
    return WEBAUTHN_OK;
}

webauthn_code webauthn_fido_verify(const webauthn_attestation_input *in,
                                   webauthn_error *err)
{
    fido_cred_t *cred = NULL;
    webauthn_code code = load_cred(in, &cred, err);

    if (code != WEBAUTHN_OK)
        return code;
    code = fido_result(fido_cred_verify(cred), in->fmt, err);
    fido_cred_free(&cred);
    return code;
}

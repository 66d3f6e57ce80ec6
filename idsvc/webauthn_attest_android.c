/*
 * android-key attestation (WebAuthn Level 3, section 8.4), verified with OpenSSL because
 * libfido2 1.12 does not know the format. The Android Keystore attestation extension
 * (OID 1.3.6.1.4.1.11129.2.1.17) contains a KeyDescription:
 *
 *   KeyDescription ::= SEQUENCE {
 *     attestationVersion INTEGER, attestationSecurityLevel ENUMERATED,
 *     keyMintVersion INTEGER, keyMintSecurityLevel ENUMERATED,
 *     attestationChallenge OCTET STRING, uniqueId OCTET STRING,
 *     softwareEnforced AuthorizationList, hardwareEnforced AuthorizationList }
 *
 * where an AuthorizationList is a SEQUENCE of optional fields, each under an explicit
 * context tag: purpose [1] SET OF INTEGER, allApplications [600] NULL, origin [702]
 * INTEGER. Only the hardware-enforced (TEE or StrongBox) list is trusted for purpose and
 * origin, so keys that only software claims to protect are rejected. A security level of
 * Software (0) is rejected too, because a software keystore signs its own KeyDescription
 * and can fill in the hardware-enforced list as it likes.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

#include "webauthn_internal.h"

#define OID_ANDROID_KEY_DESCRIPTION "1.3.6.1.4.1.11129.2.1.17"
#define TAG_PURPOSE 1
#define TAG_ALL_APPLICATIONS 600
#define TAG_ORIGIN 702
#define KM_PURPOSE_SIGN 2
#define KM_ORIGIN_GENERATED 0
#define KM_SECURITY_LEVEL_SOFTWARE 0

typedef struct der_item {
    int tag;
    int tag_class;
    bool constructed;
    const unsigned char *content;
    long len;
} der_item;

static int der_read(const unsigned char **p, long *remaining, der_item *item)
{
    return webauthn_der_next(p, remaining, &item->tag, &item->tag_class,
                             &item->constructed, &item->content, &item->len);
}

static bool der_is(const der_item *item, int tag_class, int tag)
{
    return item->tag_class == tag_class && item->tag == tag;
}

/* Reads a small non-negative DER INTEGER or ENUMERATED body. */
static int der_small_int(const der_item *item, long *out)
{
    if (item->len < 1 || item->len > 4 || (item->content[0] & 0x80))
        return -1;
    *out = 0;
    for (long i = 0; i < item->len; i++)
        *out = (*out << 8) | item->content[i];
    return 0;
}

typedef struct authorization_list {
    bool all_applications;
    bool has_origin;
    long origin;
    bool purpose_sign;
} authorization_list;

static int parse_purpose(const der_item *field, authorization_list *out)
{
    const unsigned char *p = field->content;
    long remaining = field->len;
    der_item set, value;

    if (der_read(&p, &remaining, &set) != 0 ||
        !der_is(&set, V_ASN1_UNIVERSAL, V_ASN1_SET))
        return -1;
    p = set.content;
    remaining = set.len;
    while (remaining > 0) {
        long purpose;

        if (der_read(&p, &remaining, &value) != 0 ||
            !der_is(&value, V_ASN1_UNIVERSAL, V_ASN1_INTEGER) ||
            der_small_int(&value, &purpose) != 0)
            return -1;
        if (purpose == KM_PURPOSE_SIGN)
            out->purpose_sign = true;
    }
    return 0;
}

static int parse_origin(const der_item *field, authorization_list *out)
{
    const unsigned char *p = field->content;
    long remaining = field->len;
    der_item value;

    if (der_read(&p, &remaining, &value) != 0 ||
        !der_is(&value, V_ASN1_UNIVERSAL, V_ASN1_INTEGER) ||
        der_small_int(&value, &out->origin) != 0)
        return -1;
    out->has_origin = true;
    return 0;
}

static int parse_authorization_list(const der_item *list, authorization_list *out)
{
    const unsigned char *p = list->content;
    long remaining = list->len;
    der_item field;

    memset(out, 0, sizeof(*out));
    if (!der_is(list, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE))
        return -1;

    while (remaining > 0) {
        if (der_read(&p, &remaining, &field) != 0 ||
            field.tag_class != V_ASN1_CONTEXT_SPECIFIC)
            return -1;
        if (field.tag == TAG_PURPOSE && parse_purpose(&field, out) != 0)
            return -1;
        if (field.tag == TAG_ORIGIN && parse_origin(&field, out) != 0)
            return -1;
        if (field.tag == TAG_ALL_APPLICATIONS)
            out->all_applications = true;
    }
    return 0;
}

typedef struct key_description {
    long attestation_security_level;
    long key_security_level;
    const unsigned char *challenge;
    long challenge_len;
    authorization_list software;
    authorization_list hardware;
} key_description;

static int parse_key_description(const ASN1_OCTET_STRING *value, key_description *out)
{
    const unsigned char *p = ASN1_STRING_get0_data(value);
    long remaining = ASN1_STRING_length(value);
    der_item sequence, field;
    static const int leading_tags[] = {V_ASN1_INTEGER,      V_ASN1_ENUMERATED,
                                       V_ASN1_INTEGER,      V_ASN1_ENUMERATED,
                                       V_ASN1_OCTET_STRING, V_ASN1_OCTET_STRING};

    if (der_read(&p, &remaining, &sequence) != 0 ||
        !der_is(&sequence, V_ASN1_UNIVERSAL, V_ASN1_SEQUENCE) || remaining != 0)
        return -1;
    p = sequence.content;
    remaining = sequence.len;

    for (size_t i = 0; i < sizeof(leading_tags) / sizeof(leading_tags[0]); i++) {
        if (der_read(&p, &remaining, &field) != 0 ||
            !der_is(&field, V_ASN1_UNIVERSAL, leading_tags[i]))
            return -1;
        if (i == 1 && der_small_int(&field, &out->attestation_security_level) != 0)
            return -1;
        if (i == 3 && der_small_int(&field, &out->key_security_level) != 0)
            return -1;
        if (i == 4) {
            out->challenge = field.content;
            out->challenge_len = field.len;
        }
    }

    if (der_read(&p, &remaining, &field) != 0 ||
        parse_authorization_list(&field, &out->software) != 0)
        return -1;
    if (der_read(&p, &remaining, &field) != 0 ||
        parse_authorization_list(&field, &out->hardware) != 0)
        return -1;
    return 0;
}

static webauthn_code check_key_description(const X509 *leaf,
                                           const unsigned char *client_data_hash,
                                           webauthn_error *err)
{
    int critical;
    const ASN1_OCTET_STRING *value =
        webauthn_x509_extension(leaf, OID_ANDROID_KEY_DESCRIPTION, &critical);
    key_description description;

    if (value == NULL)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The android-key certificate has no key attestation extension "
            "(%s).",
            OID_ANDROID_KEY_DESCRIPTION);
    if (parse_key_description(value, &description) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key attestation extension is not a valid "
                             "KeyDescription.");

    if (description.challenge_len != 32 ||
        memcmp(description.challenge, client_data_hash, 32) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key attestationChallenge is not the SHA-256 of "
                             "clientDataJSON.");
    if (description.attestation_security_level == KM_SECURITY_LEVEL_SOFTWARE)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The android-key attestationSecurityLevel is Software (0), so "
            "its hardware-enforced list is not trusted.");
    if (description.key_security_level == KM_SECURITY_LEVEL_SOFTWARE)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key keyMintSecurityLevel is Software (0): no "
                             "TEE or StrongBox protects the key.");
    if (description.software.all_applications || description.hardware.all_applications)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key key is usable by all applications "
                             "(allApplications is set).");
    if (!description.hardware.has_origin ||
        description.hardware.origin != KM_ORIGIN_GENERATED)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key hardware-enforced origin is not "
                             "KM_ORIGIN_GENERATED.");
    if (!description.hardware.purpose_sign)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key hardware-enforced purpose does not include "
                             "KM_PURPOSE_SIGN.");
    return WEBAUTHN_OK;
}

/* Reads alg, sig and x5c, which an android-key statement must all have. */
static webauthn_code read_statement(const cbor_item_t *att_stmt, int64_t *alg,
                                    const cbor_item_t **sig, const cbor_item_t **x5c,
                                    webauthn_error *err)
{
    webauthn_code code = webauthn_att_stmt_int(att_stmt, "alg", alg, err);

    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_sig(att_stmt, "android-key", sig, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_att_stmt_member(att_stmt, "x5c", x5c, err);
    return code;
}

webauthn_code webauthn_attest_android_key(const webauthn_attestation_input *in,
                                          webauthn_attestation_output *out,
                                          webauthn_error *err)
{
    const cbor_item_t *sig, *x5c;
    const webauthn_auth_data *ad = in->auth_data;
    unsigned char *signed_data = NULL;
    int64_t alg;
    X509 *leaf;
    webauthn_code code;

    code = read_statement(in->att_stmt, &alg, &sig, &x5c, err);
    if (code != WEBAUTHN_OK)
        return code;

    code = webauthn_x5c_parse(x5c, &out->x5c, err);
    if (code != WEBAUTHN_OK)
        return code;
    leaf = sk_X509_value(out->x5c, 0);

    /* The statement signs authenticatorData || clientDataHash. */
    signed_data = malloc(ad->raw_len + 32);
    if (signed_data == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    memcpy(signed_data, ad->raw, ad->raw_len);
    memcpy(signed_data + ad->raw_len, in->client_data_hash, 32);
    code = webauthn_verify_signature(X509_get0_pubkey(leaf), alg, signed_data,
                                     ad->raw_len + 32, cbor_bytestring_handle(sig),
                                     cbor_bytestring_length(sig), err);
    free(signed_data);
    if (code == WEBAUTHN_SIGNATURE_INVALID)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-key attestation signature does not verify.");
    if (code != WEBAUTHN_OK)
        return code;

    if (in->credential_key->pkey == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "The credential key was parsed without an EVP_PKEY.");
    if (EVP_PKEY_eq(X509_get0_pubkey(leaf), in->credential_key->pkey) != 1)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The android-key certificate key is not the credential key.");

    code = check_key_description(leaf, in->client_data_hash, err);
    if (code != WEBAUTHN_OK)
        return code;

    out->type = WEBAUTHN_ATTESTED_BASIC;
    return WEBAUTHN_OK;
}

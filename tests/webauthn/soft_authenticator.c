/* The software authenticator for the WebAuthn tests; see soft_authenticator.h. */
#include "soft_authenticator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "soft_safetynet.h"
#include "webauthn.h"

char *soft_base64url(const unsigned char *data, size_t len)
{
    char *text = NULL;

    if (webauthn_base64url_encode(data, len, &text) != 0)
        return NULL;
    return text;
}

int soft_authenticator_init(soft_authenticator *auth, int alg)
{
    memset(auth, 0, sizeof(*auth));
    auth->alg = alg;
    if (alg == -7)
        auth->key = EVP_EC_gen("P-256");
    else if (alg == -35)
        auth->key = EVP_EC_gen("P-384");
    else if (alg == -36)
        auth->key = EVP_EC_gen("P-521");
    else if (alg == -257 || alg == -258 || alg == -259 || alg == -37 || alg == -38 ||
             alg == -39)
        auth->key = EVP_RSA_gen(2048);
    else if (alg == -8)
        auth->key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (auth->key == NULL)
        return -1;

    for (size_t i = 0; i < sizeof(auth->credential_id); i++)
        auth->credential_id[i] = (unsigned char)(0xa0 + i);
    for (size_t i = 0; i < sizeof(auth->aaguid); i++)
        auth->aaguid[i] = (unsigned char)(0x10 + i);
    return 0;
}

int soft_authenticator_init_rsa(soft_authenticator *auth, unsigned exponent)
{
    return soft_authenticator_init_rsa_bits(auth, -257, 2048, exponent);
}

int soft_authenticator_init_rsa_bits(soft_authenticator *auth, int alg, unsigned bits,
                                     unsigned exponent)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    BIGNUM *e = BN_new();
    int ok;

    if (soft_authenticator_init(auth, alg) != 0)
        return -1;
    EVP_PKEY_free(auth->key);
    auth->key = NULL;
    ok = ctx != NULL && e != NULL && BN_set_word(e, exponent) == 1 &&
         EVP_PKEY_keygen_init(ctx) == 1 &&
         EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) == 1 &&
         EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e) == 1 &&
         EVP_PKEY_keygen(ctx, &auth->key) == 1;
    BN_free(e);
    EVP_PKEY_CTX_free(ctx);
    return ok ? 0 : -1;
}

void soft_authenticator_clear(soft_authenticator *auth)
{
    EVP_PKEY_free(auth->key);
    memset(auth, 0, sizeof(*auth));
}

void soft_ceremony_defaults(soft_ceremony *ceremony)
{
    memset(ceremony, 0, sizeof(*ceremony));
    ceremony->origin = SOFT_ORIGIN;
    ceremony->rp_id = SOFT_RP_ID;
    ceremony->cross_origin = "false";
    for (size_t i = 0; i < sizeof(ceremony->challenge); i++)
        ceremony->challenge[i] = (unsigned char)(i * 7 + 1);
    ceremony->flags = 0x05; /* UP and UV */
    ceremony->format = SOFT_FORMAT_PACKED_SELF;
    ceremony->android_attestation_level = 1;
    ceremony->android_key_level = 1;
    ceremony->tpm_alg = -65535; /* RS1, as Windows Hello sends */
}

void soft_ceremony_apply(soft_ceremony *ceremony, const soft_change *change)
{
    if (change->type != NULL)
        ceremony->type = change->type;
    if (change->origin != NULL)
        ceremony->origin = change->origin;
    if (change->rp_id != NULL)
        ceremony->rp_id = change->rp_id;
    if (change->cross_origin != NULL)
        ceremony->cross_origin = change->cross_origin;
    if (change->flags != 0)
        ceremony->flags = change->flags;
    if (change->challenge_byte < sizeof(ceremony->challenge))
        ceremony->challenge[change->challenge_byte] ^= change->challenge_mask;
    if (change->other_raw_id)
        ceremony->other_raw_id = true;
    if (change->other_id_only)
        ceremony->other_id_only = true;
}

/* ---- Keys and signatures ---------------------------------------------------------- */

static void map_add(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value)
{
    cbor_map_add(map,
                 (struct cbor_pair){.key = cbor_move(key), .value = cbor_move(value)});
}

/* Adds sig to an attestation statement, or the fault that the ceremony names. */
static void map_add_sig(cbor_item_t *map, const soft_ceremony *ceremony,
                        const unsigned char *sig, size_t sig_len)
{
    switch (ceremony->sig_fault) {
    case SOFT_SIG_MISSING:
        return;
    case SOFT_SIG_EMPTY:
        map_add(map, cbor_build_string("sig"), cbor_build_bytestring(sig, 0));
        return;
    case SOFT_SIG_TEXT:
        map_add(map, cbor_build_string("sig"), cbor_build_string("sig"));
        return;
    default:
        map_add(map, cbor_build_string("sig"), cbor_build_bytestring(sig, sig_len));
    }
}

/* Adds the certificate array as x5c, or in its place an ecdaaKeyId of 32 zero bytes
 * when the ceremony sets ecdaa_key_id, as WebAuthn Level 2 allowed in packed and tpm
 * statements. */
static void map_add_x5c(cbor_item_t *map, const soft_ceremony *ceremony, cbor_item_t *x5c)
{
    static const unsigned char ecdaa_key_id[32] = {0};

    if (!ceremony->ecdaa_key_id) {
        map_add(map, cbor_build_string("x5c"), x5c);
        return;
    }
    cbor_decref(&x5c);
    map_add(map, cbor_build_string("ecdaaKeyId"),
            cbor_build_bytestring(ecdaa_key_id, sizeof(ecdaa_key_id)));
}

/* Returns a negative COSE algorithm as CBOR in its shortest form. */
static cbor_item_t *cose_alg_item(int alg)
{
    uint16_t value = (uint16_t)(-1 - alg);

    return value <= 0xff ? cbor_build_negint8((uint8_t)value)
                         : cbor_build_negint16(value);
}

/* Returns the COSE crv of an EC key by its size: P-256 (1), P-384 (2) or P-521 (3). */
static uint8_t ec_crv(const EVP_PKEY *key)
{
    int bits = EVP_PKEY_get_bits(key);

    if (bits == 256)
        return 1;
    if (bits == 384)
        return 2;
    return 3;
}

/* Adds kty and alg, or alg before kty when alg_first is set, which is out of CTAP2
 * canonical order. */
static void cose_kty_alg(cbor_item_t *map, uint8_t kty, int alg, bool alg_first)
{
    if (alg_first)
        map_add(map, cbor_build_uint8(3), cose_alg_item(alg));
    map_add(map, cbor_build_uint8(1), cbor_build_uint8(kty));
    if (!alg_first)
        map_add(map, cbor_build_uint8(3), cose_alg_item(alg));
}

/* Writes the EC2 parameters: crv by the key's curve, whatever auth->alg names, so that
 * a key labelled with the alg of another curve can be built. */
static void cose_ec2(cbor_item_t *map, const soft_authenticator *auth, bool alg_first)
{
    unsigned char point[1 + 2 * 66];
    size_t len = 0, coordinate_len;

    EVP_PKEY_get_octet_string_param(auth->key, OSSL_PKEY_PARAM_PUB_KEY, point,
                                    sizeof(point), &len);
    coordinate_len = (len - 1) / 2;
    cose_kty_alg(map, 2, auth->alg, alg_first);
    map_add(map, cbor_build_negint8(0), cbor_build_uint8(ec_crv(auth->key)));
    map_add(map, cbor_build_negint8(1), cbor_build_bytestring(point + 1, coordinate_len));
    map_add(map, cbor_build_negint8(2),
            cbor_build_bytestring(point + 1 + coordinate_len, coordinate_len));
}

static void cose_rsa(cbor_item_t *map, const soft_authenticator *auth, bool alg_first)
{
    BIGNUM *n = NULL, *e = NULL;
    unsigned char n_bytes[512], e_bytes[8];
    int n_len, e_len;

    EVP_PKEY_get_bn_param(auth->key, OSSL_PKEY_PARAM_RSA_N, &n);
    EVP_PKEY_get_bn_param(auth->key, OSSL_PKEY_PARAM_RSA_E, &e);
    /* RFC 8230 (section 4) encodes n and e in the minimum number of bytes. */
    n_len = BN_bn2bin(n, n_bytes);
    e_len = BN_bn2bin(e, e_bytes);
    cose_kty_alg(map, 3, auth->alg, alg_first);
    map_add(map, cbor_build_negint8(0), cbor_build_bytestring(n_bytes, (size_t)n_len));
    map_add(map, cbor_build_negint8(1), cbor_build_bytestring(e_bytes, (size_t)e_len));
    BN_free(n);
    BN_free(e);
}

/* Returns the COSE key of the credential, with alg before kty when alg_first is set. */
static cbor_item_t *cose_key_item(const soft_authenticator *auth, bool alg_first)
{
    cbor_item_t *map = cbor_new_definite_map(5);

    if (EVP_PKEY_is_a(auth->key, "EC")) {
        cose_ec2(map, auth, alg_first);
    } else if (EVP_PKEY_is_a(auth->key, "RSA")) {
        cose_rsa(map, auth, alg_first);
    } else {
        unsigned char x[32];
        size_t len = sizeof(x);

        EVP_PKEY_get_raw_public_key(auth->key, x, &len);
        cose_kty_alg(map, 1, -8, alg_first);
        map_add(map, cbor_build_negint8(0), cbor_build_uint8(6));
        map_add(map, cbor_build_negint8(1), cbor_build_bytestring(x, len));
    }
    return map;
}

static unsigned char *serialize(cbor_item_t *item, size_t *len)
{
    unsigned char *buffer = NULL;
    size_t size = 0;

    *len = cbor_serialize_alloc(item, &buffer, &size);
    cbor_decref(&item);
    return buffer;
}

unsigned char *soft_cose_key(const soft_authenticator *auth, size_t *len)
{
    return serialize(cose_key_item(auth, false), len);
}

/* Signs data with the key under a COSE algorithm (-7, -257, -8, or RS1 -65535); the
 * caller frees the signature. */
/* Returns the hash that a COSE algorithm employs: SHA-1 for RS1, SHA-384 and SHA-512
 * for the 384 and 512 variants of RS, PS and ES, none for EdDSA, else SHA-256. */
static const EVP_MD *alg_md(int alg)
{
    switch (alg) {
    case -8:
        return NULL;
    case -65535:
        return EVP_sha1();
    case -258:
    case -38:
    case -35:
        return EVP_sha384();
    case -259:
    case -39:
    case -36:
        return EVP_sha512();
    default:
        return EVP_sha256();
    }
}

/* Signs data by a COSE algorithm. PS256, PS384 and PS512 use MGF1 with the same hash
 * and the salt length pss_salt_len, which RFC 8230 sets to the hash length
 * (RSA_PSS_SALTLEN_DIGEST). */
static unsigned char *sign_pss_salt(EVP_PKEY *key, int alg, const unsigned char *data,
                                    size_t len, int pss_salt_len, size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pkey_ctx = NULL;
    unsigned char *sig = NULL;
    const EVP_MD *md = alg_md(alg);
    bool pss = alg == -37 || alg == -38 || alg == -39;

    if (EVP_DigestSignInit(ctx, &pkey_ctx, md, NULL, key) != 1)
        goto out;
    if (EVP_PKEY_is_a(key, "RSA"))
        EVP_PKEY_CTX_set_rsa_padding(pkey_ctx,
                                     pss ? RSA_PKCS1_PSS_PADDING : RSA_PKCS1_PADDING);
    if (pss && (EVP_PKEY_CTX_set_rsa_mgf1_md(pkey_ctx, md) != 1 ||
                EVP_PKEY_CTX_set_rsa_pss_saltlen(pkey_ctx, pss_salt_len) != 1))
        goto out;
    if (EVP_DigestSign(ctx, NULL, sig_len, data, len) != 1)
        goto out;
    sig = malloc(*sig_len);
    if (EVP_DigestSign(ctx, sig, sig_len, data, len) != 1) {
        free(sig);
        sig = NULL;
    }
out:
    EVP_MD_CTX_free(ctx);
    return sig;
}

static unsigned char *sign(EVP_PKEY *key, int alg, const unsigned char *data, size_t len,
                           size_t *sig_len)
{
    return sign_pss_salt(key, alg, data, len, RSA_PSS_SALTLEN_DIGEST, sig_len);
}

/* Returns the algorithm the credential key signs with: signature_alg when set. */
static int soft_signature_alg(const soft_authenticator *auth)
{
    return auth->signature_alg != 0 ? auth->signature_alg : auth->alg;
}

/* ---- Certificates ----------------------------------------------------------------- */

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509_EXTENSION *ext;

    X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
    ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

static void add_aaguid_ext(X509 *cert, const unsigned char *aaguid)
{
    ASN1_OCTET_STRING *inner = ASN1_OCTET_STRING_new();
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.45724.1.1.4", 1);
    unsigned char *der = NULL;
    int der_len;
    X509_EXTENSION *ext;

    ASN1_OCTET_STRING_set(inner, aaguid, 16);
    der_len = i2d_ASN1_OCTET_STRING(inner, &der);
    ASN1_OCTET_STRING_set(value, der, der_len);
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
    X509_add_ext(cert, ext, -1);

    X509_EXTENSION_free(ext);
    OPENSSL_free(der);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    ASN1_OCTET_STRING_free(inner);
}

static X509 *new_cert(EVP_PKEY *key, const char *subject_text, long serial)
{
    X509 *cert = X509_new();
    X509_NAME *subject = X509_NAME_new();
    char copy[256];

    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 86400);
    X509_set_pubkey(cert, key);

    /* subject_text is "C=MY/O=.../CN=..." */
    snprintf(copy, sizeof(copy), "%s", subject_text);
    for (char *part = strtok(copy, "/"); part != NULL; part = strtok(NULL, "/")) {
        char *equals = strchr(part, '=');

        *equals = '\0';
        X509_NAME_add_entry_by_txt(subject, part, MBSTRING_UTF8,
                                   (const unsigned char *)equals + 1, -1, -1, 0);
    }
    X509_set_subject_name(cert, subject);
    X509_NAME_free(subject);
    return cert;
}

int soft_ca_init(soft_ca *ca, const unsigned char *cert_aaguid)
{
    return soft_ca_init_curve(ca, cert_aaguid, "P-256");
}

/* Makes the root certificate and the packed attestation certificate of a CA whose key
 * and hash are set. */
static int ca_issue_certs(soft_ca *ca, const unsigned char *cert_aaguid,
                          const char *attestation_curve)
{
    ca->attestation_key = strcmp(attestation_curve, "RSA") == 0
                              ? EVP_RSA_gen(2048)
                              : EVP_EC_gen(attestation_curve);
    if (ca->ca_key == NULL || ca->attestation_key == NULL)
        return -1;

    ca->ca_cert = new_cert(ca->ca_key, "C=MY/O=idsvc tests/CN=Soft Attestation Root", 1);
    X509_set_issuer_name(ca->ca_cert, X509_get_subject_name(ca->ca_cert));
    add_ext(ca->ca_cert, ca->ca_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca->ca_cert, ca->ca_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca->ca_cert, ca->ca_cert, NID_subject_key_identifier, "hash");
    X509_sign(ca->ca_cert, ca->ca_key, ca->ca_md);

    ca->attestation_cert = new_cert(ca->attestation_key,
                                    "C=MY/O=idsvc tests/OU=Authenticator Attestation/"
                                    "CN=Soft Authenticator",
                                    2);
    X509_set_issuer_name(ca->attestation_cert, X509_get_subject_name(ca->ca_cert));
    add_ext(ca->attestation_cert, ca->ca_cert, NID_basic_constraints,
            "critical,CA:FALSE");
    add_ext(ca->attestation_cert, ca->ca_cert, NID_authority_key_identifier, "keyid");
    if (cert_aaguid != NULL)
        add_aaguid_ext(ca->attestation_cert, cert_aaguid);
    X509_sign(ca->attestation_cert, ca->ca_key, ca->ca_md);
    return 0;
}

int soft_ca_init_curve(soft_ca *ca, const unsigned char *cert_aaguid,
                       const char *attestation_curve)
{
    memset(ca, 0, sizeof(*ca));
    ca->ca_key = EVP_EC_gen("P-256");
    ca->ca_md = EVP_sha256();
    return ca_issue_certs(ca, cert_aaguid, attestation_curve);
}

int soft_ca_init_sm2(soft_ca *ca, const unsigned char *cert_aaguid)
{
    memset(ca, 0, sizeof(*ca));
    ca->ca_key = EVP_PKEY_Q_keygen(NULL, NULL, "SM2");
    ca->ca_md = EVP_sm3();
    return ca_issue_certs(ca, cert_aaguid, "P-256");
}

/* Adds a critical subject alternative name holding a directory name with the TPM
 * manufacturer, model and version attributes (TCG OIDs 2.23.133.2.1 to 2.23.133.2.3). */
static void add_tpm_san(X509 *cert)
{
    static const char *const entries[][2] = {
        {"2.23.133.2.1", "id:FFFFF1D0"},
        {"2.23.133.2.2", "NPCT6xx"},
        {"2.23.133.2.3", "id:13"},
    };
    GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *name = GENERAL_NAME_new();
    X509_NAME *directory = X509_NAME_new();

    for (size_t i = 0; i < sizeof(entries) / sizeof(entries[0]); i++)
        X509_NAME_add_entry_by_txt(directory, entries[i][0], MBSTRING_UTF8,
                                   (const unsigned char *)entries[i][1], -1, -1, 0);
    GENERAL_NAME_set0_value(name, GEN_DIRNAME, directory);
    sk_GENERAL_NAME_push(names, name);
    X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 1, X509V3_ADD_DEFAULT);
    GENERAL_NAMES_free(names);
}

/* Issues the AIK certificate for key, which it takes over. */
static int add_aik(soft_ca *ca, EVP_PKEY *key)
{
    X509_free(ca->aik_cert);
    EVP_PKEY_free(ca->aik_key);
    ca->aik_cert = NULL;
    ca->aik_key = key;
    if (ca->aik_key == NULL)
        return -1;
    /* An empty subject text gives the empty subject that TPM attestation requires. */
    ca->aik_cert = new_cert(ca->aik_key, "", 3);
    X509_set_issuer_name(ca->aik_cert, X509_get_subject_name(ca->ca_cert));
    add_ext(ca->aik_cert, ca->ca_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(ca->aik_cert, ca->ca_cert, NID_ext_key_usage, "2.23.133.8.3");
    add_tpm_san(ca->aik_cert);
    X509_sign(ca->aik_cert, ca->ca_key, ca->ca_md);
    return 0;
}

int soft_ca_add_aik(soft_ca *ca)
{
    return soft_ca_add_aik_rsa(ca, 2048);
}

int soft_ca_add_aik_rsa(soft_ca *ca, unsigned bits)
{
    return add_aik(ca, EVP_RSA_gen(bits));
}

int soft_ca_add_aik_ec(soft_ca *ca, const char *curve)
{
    return add_aik(ca, EVP_EC_gen(curve));
}

void soft_ca_clear(soft_ca *ca)
{
    X509_free(ca->aik_cert);
    EVP_PKEY_free(ca->aik_key);
    X509_free(ca->attestation_cert);
    X509_free(ca->ca_cert);
    EVP_PKEY_free(ca->attestation_key);
    EVP_PKEY_free(ca->ca_key);
    memset(ca, 0, sizeof(*ca));
}

/* ---- Authenticator data and attestation ------------------------------------------- */

static cbor_item_t *extension_value(const soft_ceremony *ceremony)
{
    static const unsigned char zeros[32] = {0};

    if (ceremony->extension_true)
        return cbor_build_bool(true);
    if (ceremony->extension_text)
        return cbor_build_string("x");
    if (ceremony->extension_uint)
        return cbor_build_uint8(4);
    return cbor_build_bytestring(zeros, sizeof(zeros));
}

static unsigned char *auth_data(const soft_authenticator *auth,
                                const soft_ceremony *ceremony, bool with_credential,
                                size_t *len)
{
    unsigned char *cose = NULL, *extensions = NULL;
    size_t cose_len = 0, extensions_len = 0;
    unsigned char *out;
    size_t pos = 0;
    uint8_t flags = ceremony->flags;

    if (with_credential) {
        cose =
            serialize(cose_key_item(auth, ceremony->credential_key_unordered), &cose_len);
        flags |= 0x40;
        /* The last byte belongs to the last parameter: y for ES256, e for RS256. */
        if (ceremony->corrupt_credential_key)
            cose[cose_len - 1] ^= 0x01;
    }
    if (ceremony->credential_protect != NULL || ceremony->extension_name != NULL) {
        cbor_item_t *map = cbor_new_definite_map(2);

        if (ceremony->credential_protect != NULL)
            map_add(map, cbor_build_string("credProtect"),
                    cbor_build_uint8((uint8_t)atoi(ceremony->credential_protect)));
        if (ceremony->extension_name != NULL)
            map_add(map,
                    cbor_build_stringn(ceremony->extension_name,
                                       ceremony->extension_name_len),
                    extension_value(ceremony));
        extensions = serialize(map, &extensions_len);
        flags |= 0x80;
    }

    out = malloc(37 + 18 + sizeof(auth->credential_id) + cose_len + extensions_len +
                 ceremony->trailing_zero_bytes);
    SHA256((const unsigned char *)ceremony->rp_id, strlen(ceremony->rp_id), out);
    pos = 32;
    out[pos++] = flags;
    out[pos++] = (unsigned char)(ceremony->sign_count >> 24);
    out[pos++] = (unsigned char)(ceremony->sign_count >> 16);
    out[pos++] = (unsigned char)(ceremony->sign_count >> 8);
    out[pos++] = (unsigned char)ceremony->sign_count;
    if (with_credential) {
        memcpy(out + pos, auth->aaguid, 16);
        pos += 16;
        out[pos++] = 0;
        out[pos++] = sizeof(auth->credential_id);
        memcpy(out + pos, auth->credential_id, sizeof(auth->credential_id));
        pos += sizeof(auth->credential_id);
        memcpy(out + pos, cose, cose_len);
        pos += cose_len;
    }
    if (extensions != NULL) {
        memcpy(out + pos, extensions, extensions_len);
        pos += extensions_len;
    }
    memset(out + pos, 0, ceremony->trailing_zero_bytes);
    pos += ceremony->trailing_zero_bytes;

    free(cose);
    free(extensions);
    *len = pos;
    return out;
}

/* Returns authData || clientDataHash, the bytes every signature here covers. */
static unsigned char *signed_bytes(const unsigned char *ad, size_t ad_len,
                                   const unsigned char *client_data_hash)
{
    unsigned char *data = malloc(ad_len + 32);

    memcpy(data, ad, ad_len);
    memcpy(data + ad_len, client_data_hash, 32);
    return data;
}

/* Turns the uncompressed point 04 || x || y of key inside der into an invalid
 * encoding, which d2i_X509 still accepts but whose key OpenSSL cannot decode. */
static void corrupt_ec_point(EVP_PKEY *key, unsigned char *der, size_t der_len)
{
    unsigned char point[65];
    size_t len = 0;

    EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
                                    &len);
    for (size_t i = 0; i + len <= der_len; i++) {
        if (memcmp(der + i, point, len) == 0) {
            der[i] = 0x05;
            return;
        }
    }
}

/* Sets the unused-bits count of a DER certificate's signatureValue BIT STRING, the
 * third element of the outer SEQUENCE. */
static void set_signature_unused_bits(unsigned char *der, long der_len,
                                      unsigned char count)
{
    const unsigned char *p = der;
    long length;
    int tag, tag_class;

    ASN1_get_object(&p, &length, &tag, &tag_class, der_len); /* Certificate */
    for (int i = 0; i < 2; i++) { /* tbsCertificate, signatureAlgorithm */
        ASN1_get_object(&p, &length, &tag, &tag_class, der_len - (p - der));
        p += length;
    }
    ASN1_get_object(&p, &length, &tag, &tag_class, der_len - (p - der));
    der[p - der] = count;
}

/* Builds the x5c array with the attestation certificate. */
static cbor_item_t *x5c_item(const soft_ceremony *ceremony)
{
    cbor_item_t *array = cbor_new_definite_array(1);
    unsigned char *der = NULL;
    int der_len = i2d_X509(ceremony->ca->attestation_cert, &der);

    if (ceremony->corrupt_cert_key)
        corrupt_ec_point(ceremony->ca->attestation_key, der, (size_t)der_len);
    if (ceremony->cert_signature_unused_bits != 0)
        set_signature_unused_bits(der, der_len, ceremony->cert_signature_unused_bits);
    cbor_array_push(array, cbor_move(cbor_build_bytestring(der, (size_t)der_len)));
    OPENSSL_free(der);
    return array;
}

/* Builds a fido-u2f statement: the attestation key signs 0x00 || rpIdHash ||
 * clientDataHash || credentialId || the uncompressed credential point. */
static cbor_item_t *u2f_att_stmt(const soft_authenticator *auth,
                                 const soft_ceremony *ceremony, const unsigned char *ad,
                                 const unsigned char *client_data_hash)
{
    unsigned char data[1 + 32 + 32 + sizeof(auth->credential_id) + 65];
    size_t point_len = 0, sig_len = 0;
    unsigned char *sig;
    cbor_item_t *map = cbor_new_definite_map(2);

    data[0] = 0x00;
    memcpy(data + 1, ad, 32);
    memcpy(data + 33, client_data_hash, 32);
    memcpy(data + 65, auth->credential_id, sizeof(auth->credential_id));
    EVP_PKEY_get_octet_string_param(auth->key, OSSL_PKEY_PARAM_PUB_KEY,
                                    data + 65 + sizeof(auth->credential_id), 65,
                                    &point_len);
    sig = sign(ceremony->ca->attestation_key, -7, data, sizeof(data), &sig_len);
    if (ceremony->tamper_signature)
        sig[sig_len / 2] ^= 0x01;

    map_add_sig(map, ceremony, sig, sig_len);
    map_add(map, cbor_build_string("x5c"), x5c_item(ceremony));
    free(sig);
    return map;
}

/* Writes value big-endian in width bytes and returns the position after it. */
static unsigned char *put_be(unsigned char *p, uint64_t value, size_t width)
{
    for (size_t i = 0; i < width; i++)
        p[i] = (unsigned char)(value >> (8 * (width - 1 - i)));
    return p + width;
}

/* TPM_ALG_ID values of the TPM 2.0 Library, Part 2. */
#define SOFT_TPM_ALG_RSA 0x0001
#define SOFT_TPM_ALG_SHA256 0x000b
#define SOFT_TPM_ALG_NULL 0x0010
#define SOFT_TPM_ALG_ECC 0x0023

/* Returns the hash of a TPM_ALG_ID that may be a nameAlg, or NULL. */
static const EVP_MD *tpm_name_md(unsigned name_alg)
{
    switch (name_alg) {
    case 0x0004:
        return EVP_sha1();
    case 0x000b:
        return EVP_sha256();
    case 0x000c:
        return EVP_sha384();
    case 0x000d:
        return EVP_sha512();
    case 0x0012:
        return EVP_sm3();
    case 0x0027:
        return EVP_sha3_256();
    case 0x0028:
        return EVP_sha3_384();
    case 0x0029:
        return EVP_sha3_512();
    default:
        return NULL;
    }
}

/* Returns the TPM_ALG_ID of the hash that a credential key algorithm signs with. */
static unsigned tpm_hash_of_alg(int alg)
{
    switch (EVP_MD_get_type(alg_md(alg))) {
    case NID_sha384:
        return 0x000c;
    case NID_sha512:
        return 0x000d;
    default:
        return SOFT_TPM_ALG_SHA256;
    }
}

static unsigned tpm_name_alg(const soft_ceremony *ceremony)
{
    return ceremony->tpm_name_alg != 0 ? ceremony->tpm_name_alg : SOFT_TPM_ALG_SHA256;
}

/* Writes the scheme of TPMS_ECC_PARMS, curveID, kdf and the unique field of an ECC
 * TPMT_PUBLIC on P-256, P-384 or P-521 (TPM_ECC_NIST_P256 3, _P384 4, _P521 5). */
static unsigned char *tpm_ecc_key(const soft_authenticator *auth,
                                  const soft_ceremony *ceremony, unsigned char *p)
{
    unsigned char point[1 + 2 * 66];
    size_t len = 0, coordinate_len;
    unsigned curve = 2 + ec_crv(auth->key);

    if (ceremony->tpm_fault == SOFT_TPM_DECRYPT_SCHEME) {
        p = put_be(p, 0x0019, 2); /* TPM_ALG_ECDH */
        p = put_be(p, SOFT_TPM_ALG_SHA256, 2);
    } else if (ceremony->tpm_fault == SOFT_TPM_OTHER_SCHEME) {
        p = put_be(p, 0x001a, 2); /* TPM_ALG_ECDAA, with hashAlg and count */
        p = put_be(p, tpm_hash_of_alg(auth->alg), 2);
        p = put_be(p, 1, 2);
    } else if (ceremony->tpm_schemes || ceremony->tpm_fault == SOFT_TPM_SCHEME_HASH) {
        p = put_be(p, 0x0018, 2); /* TPM_ALG_ECDSA */
        p = put_be(p,
                   ceremony->tpm_fault == SOFT_TPM_SCHEME_HASH
                       ? 0x0004
                       : tpm_hash_of_alg(auth->alg),
                   2);
    } else {
        p = put_be(p, SOFT_TPM_ALG_NULL, 2);
    }
    EVP_PKEY_get_octet_string_param(auth->key, OSSL_PKEY_PARAM_PUB_KEY, point,
                                    sizeof(point), &len);
    coordinate_len = (len - 1) / 2;
    if (ceremony->tpm_fault == SOFT_TPM_CURVE)
        curve++;
    p = put_be(p, curve, 2); /* curveID */
    if (ceremony->tpm_schemes) {
        p = put_be(p, 0x0007, 2); /* kdf: TPM_ALG_MGF1 */
        p = put_be(p, SOFT_TPM_ALG_SHA256, 2);
    } else if (ceremony->tpm_fault == SOFT_TPM_KDF) {
        p = put_be(p, 0x0001, 2);
        p = put_be(p, SOFT_TPM_ALG_SHA256, 2);
    } else {
        p = put_be(p, SOFT_TPM_ALG_NULL, 2);
    }
    p = put_be(p, coordinate_len, 2);
    memcpy(p, point + 1, coordinate_len);
    p = put_be(p + coordinate_len, coordinate_len, 2);
    memcpy(p, point + 1 + coordinate_len, coordinate_len);
    return p + coordinate_len;
}

/* Writes the scheme of TPMS_RSA_PARMS, keyBits, exponent and the unique field of an
 * RSA TPMT_PUBLIC of the key's size, at most 4096 bits. A key that is not RSA, which no
 * TPM attests, gets a zero modulus of 2048 bits. */
static unsigned char *tpm_rsa_key(const soft_authenticator *auth,
                                  const soft_ceremony *ceremony, unsigned char *p)
{
    BIGNUM *n = NULL;
    bool rsa = EVP_PKEY_is_a(auth->key, "RSA");
    unsigned bits = rsa ? (unsigned)EVP_PKEY_get_bits(auth->key) : 2048;
    int n_len = (int)(bits + 7) / 8;

    bool pss = auth->alg == -37 || auth->alg == -38 || auth->alg == -39;

    if (ceremony->tpm_fault == SOFT_TPM_OTHER_SCHEME)
        pss = !pss;
    if (ceremony->tpm_fault == SOFT_TPM_DECRYPT_SCHEME) {
        p = put_be(p, 0x0015, 2); /* TPM_ALG_RSAES, which has no hash */
    } else if (ceremony->tpm_schemes || ceremony->tpm_fault == SOFT_TPM_OTHER_SCHEME ||
               ceremony->tpm_fault == SOFT_TPM_SCHEME_HASH) {
        p = put_be(p, pss ? 0x0016 : 0x0014, 2); /* TPM_ALG_RSAPSS or TPM_ALG_RSASSA */
        p = put_be(p,
                   ceremony->tpm_fault == SOFT_TPM_SCHEME_HASH
                       ? 0x0004
                       : tpm_hash_of_alg(auth->alg),
                   2);
    } else {
        p = put_be(p, SOFT_TPM_ALG_NULL, 2);
    }
    p = put_be(p, ceremony->tpm_fault == SOFT_TPM_KEY_BITS ? 1024 : bits,
               2); /* keyBits */
    /* exponent: 0 means 65537 */
    p = put_be(p, ceremony->tpm_fault == SOFT_TPM_EXPONENT ? 3 : 0, 4);
    p = put_be(p, (unsigned)n_len, 2);
    memset(p, 0, (size_t)n_len);
    if (rsa && EVP_PKEY_get_bn_param(auth->key, OSSL_PKEY_PARAM_RSA_N, &n) == 1)
        BN_bn2binpad(n, p, n_len);
    BN_free(n);
    return p + n_len;
}

/* Writes the TPMT_PUBLIC of the credential key as a TPM 2.0 would and returns its
 * length: an ECC or RSA-2048 signing key whose name is hashed with the ceremony's
 * nameAlg. */
static size_t tpm_pub_area(const soft_authenticator *auth, const soft_ceremony *ceremony,
                           unsigned char *out)
{
    unsigned char *p = out;
    bool ecc = EVP_PKEY_is_a(auth->key, "EC");
    unsigned type = ecc ? SOFT_TPM_ALG_ECC : SOFT_TPM_ALG_RSA;

    if (ceremony->tpm_fault == SOFT_TPM_PUB_AREA_TYPE)
        type = 0x0008; /* TPM_ALG_KEYEDHASH */
    p = put_be(p, type, 2);
    p = put_be(p, tpm_name_alg(ceremony), 2);
    p = put_be(p, 0x00060472, 4); /* objectAttributes: fixedTPM, sign and others */
    p = put_be(p, 32, 2);         /* authPolicy */
    memset(p, 0x11, 32);
    p += 32;
    if (ceremony->tpm_fault == SOFT_TPM_SYMMETRIC) {
        p = put_be(p, 0x0006, 2); /* TPM_ALG_AES */
        p = put_be(p, 128, 2);
        p = put_be(p, 0x0043, 2); /* TPM_ALG_CFB */
    } else {
        p = put_be(p, SOFT_TPM_ALG_NULL, 2);
    }
    p = ecc ? tpm_ecc_key(auth, ceremony, p) : tpm_rsa_key(auth, ceremony, p);
    return (size_t)(p - out);
}

/* Writes the TPMS_ATTEST of TPM2_Certify over pub_area, with extraData the hash md of
 * authData || clientDataHash and the attested name: name_alg followed by the hash of
 * pub_area by name_hash_alg. Returns its length. */
static size_t tpm_cert_info(const unsigned char *pub_area, size_t pub_area_len,
                            unsigned name_alg, unsigned name_hash_alg,
                            const unsigned char *signed_data, size_t signed_len,
                            const EVP_MD *md, unsigned char *out)
{
    unsigned char *p = out;
    unsigned int hash_len = (unsigned int)EVP_MD_get_size(md);
    const EVP_MD *name_md = tpm_name_md(name_hash_alg);
    unsigned int name_hash_len =
        name_md != NULL ? (unsigned int)EVP_MD_get_size(name_md) : SHA256_DIGEST_LENGTH;

    p = put_be(p, 0xff544347, 4); /* TPM_GENERATED_VALUE */
    p = put_be(p, 0x8017, 2);     /* TPM_ST_ATTEST_CERTIFY */
    p = put_be(p, 34, 2);         /* qualifiedSigner */
    p = put_be(p, 0x000b, 2);
    memset(p, 0x22, 32);
    p = put_be(p + 32, hash_len, 2); /* extraData */
    EVP_Digest(signed_data, signed_len, p, &hash_len, md, NULL);
    /* clockInfo: clock, resetCount, restartCount, safe */
    p = put_be(p + hash_len, 1234, 8);
    p = put_be(p, 1, 4);
    p = put_be(p, 2, 4);
    *p++ = 1;
    p = put_be(p, 5, 8);  /* firmwareVersion */
    /* The attested name: nameAlg and the hash of pubArea by nameAlg. For a nameAlg
     * that is no hash here, the name is 32 zero bytes. */
    p = put_be(p, 2 + name_hash_len, 2);
    p = put_be(p, name_alg, 2);
    memset(p, 0, name_hash_len);
    if (name_md != NULL)
        EVP_Digest(pub_area, pub_area_len, p, NULL, name_md, NULL);
    p = put_be(p + name_hash_len, 34, 2); /* qualifiedName */
    p = put_be(p, 0x000b, 2);
    memset(p, 0x33, 32);
    return (size_t)(p + 32 - out);
}

/* Builds a tpm statement: the AIK signs certInfo with tpm_signature_alg, or else with
 * tpm_alg, the algorithm the statement names. */
static cbor_item_t *tpm_att_stmt(const soft_authenticator *auth,
                                 const soft_ceremony *ceremony, const unsigned char *ad,
                                 size_t ad_len, const unsigned char *client_data_hash)
{
    int signature_alg = ceremony->tpm_signature_alg != 0 ? ceremony->tpm_signature_alg
                                                         : ceremony->tpm_alg;
    unsigned name_hash_alg = ceremony->tpm_name_hash_alg != 0
                                 ? ceremony->tpm_name_hash_alg
                                 : tpm_name_alg(ceremony);
    unsigned char pub_area[640], cert_info[256];
    unsigned char *data = signed_bytes(ad, ad_len, client_data_hash);
    size_t pub_area_len = tpm_pub_area(auth, ceremony, pub_area);
    size_t cert_info_len, sig_len = 0;
    unsigned char *sig;
    cbor_item_t *map = cbor_new_definite_map(6);
    cbor_item_t *array = cbor_new_definite_array(1);
    unsigned char *der = NULL;
    int der_len = i2d_X509(ceremony->ca->aik_cert, &der);

    if (ceremony->tpm_fault == SOFT_TPM_OTHER_KEY)
        pub_area[pub_area_len - 1] ^= 0x01; /* the last byte of y or of the modulus */
    if (ceremony->tpm_fault == SOFT_TPM_PUB_AREA_TRAILING)
        pub_area[pub_area_len++] = 0;
    cert_info_len =
        tpm_cert_info(pub_area, pub_area_len, tpm_name_alg(ceremony), name_hash_alg, data,
                      ad_len + 32, alg_md(ceremony->tpm_alg), cert_info);
    if (ceremony->tpm_fault == SOFT_TPM_MAGIC)
        cert_info[0] ^= 0x01;
    if (ceremony->tpm_fault == SOFT_TPM_TYPE)
        cert_info[5] ^= 0x01;
    if (ceremony->tpm_fault == SOFT_TPM_EXTRA_DATA)
        cert_info[44] ^= 0x01; /* the first byte of the extraData digest */
    if (ceremony->tpm_fault == SOFT_TPM_NAME)
        pub_area[5] ^= 0x01; /* objectAttributes, after certInfo named pubArea */
    if (ceremony->tpm_fault == SOFT_TPM_CERT_INFO_TRAILING)
        cert_info[cert_info_len++] = 0;
    sig = sign_pss_salt(ceremony->ca->aik_key, signature_alg, cert_info, cert_info_len,
                        ceremony->tpm_pss_max_salt ? RSA_PSS_SALTLEN_MAX
                                                   : RSA_PSS_SALTLEN_DIGEST,
                        &sig_len);
    if (ceremony->tamper_signature)
        sig[sig_len / 2] ^= 0x01;
    if (ceremony->tpm_pub_area_cut != 0)
        pub_area_len = ceremony->tpm_pub_area_cut;
    if (ceremony->tpm_cert_info_cut != 0)
        cert_info_len = ceremony->tpm_cert_info_cut;

    cbor_array_push(array, cbor_move(cbor_build_bytestring(der, (size_t)der_len)));
    map_add(map, cbor_build_string("ver"), cbor_build_string("2.0"));
    map_add(map, cbor_build_string("alg"), cose_alg_item(ceremony->tpm_alg));
    map_add_sig(map, ceremony, sig, sig_len);
    map_add_x5c(map, ceremony, array);
    map_add(map, cbor_build_string("pubArea"),
            cbor_build_bytestring(pub_area, pub_area_len));
    map_add(map, cbor_build_string("certInfo"),
            cbor_build_bytestring(cert_info, cert_info_len));
    OPENSSL_free(der);
    free(sig);
    free(data);
    return map;
}

/* The DER of an Android KeyDescription (version 3) with a zero challenge, an empty
 * software-enforced list and a hardware-enforced list with purpose SIGN and origin
 * GENERATED. android_key_cert fills in the security levels and the challenge. */
#define ANDROID_ATTESTATION_LEVEL_AT 7
#define ANDROID_KEY_LEVEL_AT 13
#define ANDROID_CHALLENGE_AT 16
/* clang-format off */
static const unsigned char android_key_description[68] = {
    0x30, 0x42,
    0x02, 0x01, 0x03,             /* attestationVersion */
    0x0a, 0x01, 0x01,             /* attestationSecurityLevel */
    0x02, 0x01, 0x04,             /* keyMintVersion */
    0x0a, 0x01, 0x01,             /* keyMintSecurityLevel */
    0x04, 0x20,                   /* attestationChallenge: 32 bytes */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0x04, 0x00,                   /* uniqueId */
    0x30, 0x00,                   /* softwareEnforced */
    0x30, 0x0e,                   /* hardwareEnforced */
    0xa1, 0x05, 0x31, 0x03, 0x02, 0x01, 0x02, /* [1] purpose: SET { SIGN } */
    0xbf, 0x85, 0x3e, 0x03, 0x02, 0x01, 0x00, /* [702] origin: GENERATED */
};
/* clang-format on */

#define ANDROID_SOFTWARE_LIST_AT 50
#define ANDROID_HARDWARE_LIST_AT 52
#define ANDROID_ORIGIN_AT 61
#define ANDROID_PURPOSE_VALUE_AT 60
#define ANDROID_ORIGIN_VALUE_AT 67

/* Inserts allApplications ([600] EXPLICIT NULL) into the software-enforced list (1) or
 * before origin in the hardware-enforced list (2) of a KeyDescription copied from
 * android_key_description, which has room for it. Returns the new length. */
static size_t add_all_applications(unsigned char *description, int list)
{
    static const unsigned char all_applications[] = {0xbf, 0x84, 0x58, 0x02, 0x05, 0x00};
    size_t len = sizeof(android_key_description);
    size_t at = list == 1 ? ANDROID_SOFTWARE_LIST_AT + 2 : ANDROID_ORIGIN_AT;
    size_t list_at = list == 1 ? ANDROID_SOFTWARE_LIST_AT : ANDROID_HARDWARE_LIST_AT;

    if (list != 1 && list != 2)
        return len;
    memmove(description + at + sizeof(all_applications), description + at, len - at);
    memcpy(description + at, all_applications, sizeof(all_applications));
    description[1] += sizeof(all_applications);
    description[list_at + 1] += sizeof(all_applications);
    return len + sizeof(all_applications);
}

/* Issues the android-key leaf: the credential key, certified by the CA, with the
 * KeyDescription extension (1.3.6.1.4.1.11129.2.1.17). */
static X509 *android_key_cert(const soft_authenticator *auth,
                              const soft_ceremony *ceremony,
                              const unsigned char *client_data_hash)
{
    unsigned char description[sizeof(android_key_description) + 6];
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.11129.2.1.17", 1);
    X509 *cert =
        new_cert(ceremony->android_key != NULL ? ceremony->android_key : auth->key,
                 "CN=Android Keystore Key", 4);
    X509_EXTENSION *ext;

    size_t description_len;

    memcpy(description, android_key_description, sizeof(android_key_description));
    description[ANDROID_ATTESTATION_LEVEL_AT] =
        (unsigned char)ceremony->android_attestation_level;
    description[ANDROID_KEY_LEVEL_AT] = (unsigned char)ceremony->android_key_level;
    memcpy(description + ANDROID_CHALLENGE_AT, client_data_hash, 32);
    if (ceremony->android_fault == SOFT_ANDROID_CHALLENGE)
        description[ANDROID_CHALLENGE_AT + 31] ^= 0x01;
    if (ceremony->android_fault == SOFT_ANDROID_ORIGIN_IMPORTED)
        description[ANDROID_ORIGIN_VALUE_AT] = 0x02;
    if (ceremony->android_fault == SOFT_ANDROID_PURPOSE_VERIFY)
        description[ANDROID_PURPOSE_VALUE_AT] = 0x03;
    description_len = add_all_applications(description, ceremony->android_all_applications);

    X509_set_issuer_name(cert, X509_get_subject_name(ceremony->ca->ca_cert));
    if (ceremony->android_description != NULL)
        ASN1_OCTET_STRING_set(value, ceremony->android_description,
                              (int)ceremony->android_description_len);
    else
        ASN1_OCTET_STRING_set(value, description, (int)description_len);
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
    if (!ceremony->android_no_description)
        X509_add_ext(cert, ext, -1);
    X509_sign(cert, ceremony->ca->ca_key, ceremony->ca->ca_md);

    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    return cert;
}

/* Builds an android-key statement: the credential key signs authData ||
 * clientDataHash, and x5c contains its certificate. */
static cbor_item_t *android_key_att_stmt(const soft_authenticator *auth,
                                         const soft_ceremony *ceremony,
                                         const unsigned char *ad, size_t ad_len,
                                         const unsigned char *client_data_hash)
{
    unsigned char *data = signed_bytes(ad, ad_len, client_data_hash);
    size_t sig_len = 0;
    EVP_PKEY *key = ceremony->android_key != NULL ? ceremony->android_key : auth->key;
    unsigned char *sig = sign(key, auth->alg, data, ad_len + 32, &sig_len);
    X509 *cert = android_key_cert(auth, ceremony, client_data_hash);
    cbor_item_t *map = cbor_new_definite_map(3);
    cbor_item_t *array = cbor_new_definite_array(1);
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);

    cbor_array_push(array, cbor_move(cbor_build_bytestring(der, (size_t)der_len)));
    map_add(map, cbor_build_string("alg"), cose_alg_item(auth->alg));
    map_add_sig(map, ceremony, sig, sig_len);
    map_add(map, cbor_build_string("x5c"), array);
    OPENSSL_free(der);
    X509_free(cert);
    free(sig);
    free(data);
    return map;
}

/* Issues the apple leaf for apple_certified_key, or else the credential key, with the
 * nonce extension 1.2.840.113635.100.8.2: SEQUENCE { [1] EXPLICIT OCTET STRING } over
 * SHA-256(authData || clientDataHash) (WebAuthn Level 3, section 8.8). */
static X509 *apple_cert(const soft_authenticator *auth, const soft_ceremony *ceremony,
                        const unsigned char *ad, size_t ad_len,
                        const unsigned char *client_data_hash)
{
    unsigned char nonce_der[6 + 32] = {0x30, 0x24, 0xa1, 0x22, 0x04, 0x20};
    unsigned char *data = signed_bytes(ad, ad_len, client_data_hash);
    EVP_PKEY *key =
        ceremony->apple_certified_key != NULL ? ceremony->apple_certified_key : auth->key;
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    ASN1_OBJECT *oid = OBJ_txt2obj("1.2.840.113635.100.8.2", 1);
    X509 *cert = new_cert(key, "CN=Apple Anonymous Test Credential/O=idsvc tests", 5);
    X509_EXTENSION *ext;

    SHA256(data, ad_len + 32, nonce_der + 6);
    X509_set_issuer_name(cert, X509_get_subject_name(ceremony->ca->ca_cert));
    if (ceremony->apple_nonce != NULL)
        ASN1_OCTET_STRING_set(value, ceremony->apple_nonce,
                              (int)ceremony->apple_nonce_len);
    else
        ASN1_OCTET_STRING_set(value, nonce_der, (int)sizeof(nonce_der));
    ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
    if (!ceremony->apple_no_nonce)
        X509_add_ext(cert, ext, -1);
    X509_sign(cert, ceremony->ca->ca_key, ceremony->ca->ca_md);

    X509_EXTENSION_free(ext);
    ASN1_OBJECT_free(oid);
    ASN1_OCTET_STRING_free(value);
    free(data);
    return cert;
}

/* Builds an apple statement, whose only member is x5c with the leaf. */
static cbor_item_t *apple_att_stmt(const soft_authenticator *auth,
                                   const soft_ceremony *ceremony, const unsigned char *ad,
                                   size_t ad_len, const unsigned char *client_data_hash)
{
    X509 *cert = apple_cert(auth, ceremony, ad, ad_len, client_data_hash);
    cbor_item_t *map = cbor_new_definite_map(1);
    cbor_item_t *array = cbor_new_definite_array(1);
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);

    cbor_array_push(array, cbor_move(cbor_build_bytestring(der, (size_t)der_len)));
    map_add(map, cbor_build_string("x5c"), array);
    OPENSSL_free(der);
    X509_free(cert);
    return map;
}

static cbor_item_t *att_stmt(const soft_authenticator *auth,
                             const soft_ceremony *ceremony, const unsigned char *ad,
                             size_t ad_len, const unsigned char *client_data_hash)
{
    cbor_item_t *map;
    unsigned char *data, *sig;
    size_t sig_len = 0;
    bool x5c = ceremony->format == SOFT_FORMAT_PACKED_X5C;
    int packed_alg = ceremony->packed_alg != 0 ? ceremony->packed_alg : -7;
    int alg = x5c ? packed_alg : auth->alg;

    if (ceremony->format == SOFT_FORMAT_NONE)
        return cbor_new_definite_map(0);
    if (ceremony->format == SOFT_FORMAT_FIDO_U2F)
        return u2f_att_stmt(auth, ceremony, ad, client_data_hash);
    if (ceremony->format == SOFT_FORMAT_TPM)
        return tpm_att_stmt(auth, ceremony, ad, ad_len, client_data_hash);
    if (ceremony->format == SOFT_FORMAT_ANDROID_KEY)
        return android_key_att_stmt(auth, ceremony, ad, ad_len, client_data_hash);
    if (ceremony->format == SOFT_FORMAT_APPLE)
        return apple_att_stmt(auth, ceremony, ad, ad_len, client_data_hash);
    if (ceremony->format == SOFT_FORMAT_ANDROID_SAFETYNET)
        return soft_safetynet_att_stmt(ceremony->safetynet, ad, ad_len, client_data_hash);

    data = signed_bytes(ad, ad_len, client_data_hash);
    sig = sign_pss_salt(
        x5c ? ceremony->ca->attestation_key : auth->key,
        x5c ? alg : soft_signature_alg(auth), data, ad_len + 32,
        ceremony->pss_max_salt ? RSA_PSS_SALTLEN_MAX : RSA_PSS_SALTLEN_DIGEST, &sig_len);
    if (ceremony->tamper_signature)
        sig[sig_len / 2] ^= 0x01;

    map = cbor_new_definite_map(3);
    if (ceremony->att_stmt_unordered)
        map_add_sig(map, ceremony, sig, sig_len);
    map_add(map, cbor_build_string("alg"), cose_alg_item(alg));
    if (!ceremony->att_stmt_unordered)
        map_add_sig(map, ceremony, sig, sig_len);
    if (x5c)
        map_add_x5c(map, ceremony, x5c_item(ceremony));
    free(sig);
    free(data);
    return map;
}

static const char *format_name(soft_format format)
{
    switch (format) {
    case SOFT_FORMAT_NONE:
        return "none";
    case SOFT_FORMAT_FIDO_U2F:
        return "fido-u2f";
    case SOFT_FORMAT_TPM:
        return "tpm";
    case SOFT_FORMAT_ANDROID_KEY:
        return "android-key";
    case SOFT_FORMAT_APPLE:
        return "apple";
    case SOFT_FORMAT_ANDROID_SAFETYNET:
        return "android-safetynet";
    default:
        return "packed";
    }
}

/* Replaces or removes the attStmt member that the ceremony names; consumes map. */
static cbor_item_t *edit_att_stmt(const soft_ceremony *ceremony, cbor_item_t *map)
{
    struct cbor_load_result result;
    cbor_item_t *edited, *value = NULL;
    struct cbor_pair *pairs = cbor_map_handle(map);
    const char *name = ceremony->att_stmt_member;

    if (name == NULL)
        return map;
    if (ceremony->att_stmt_value != NULL)
        value =
            cbor_load(ceremony->att_stmt_value, ceremony->att_stmt_value_len, &result);
    edited = cbor_new_definite_map(cbor_map_size(map) + 1);
    for (size_t i = 0; i < cbor_map_size(map); i++) {
        bool named = cbor_string_length(pairs[i].key) == strlen(name) &&
                     memcmp(cbor_string_handle(pairs[i].key), name, strlen(name)) == 0;

        if (!named)
            cbor_map_add(edited, pairs[i]);
    }
    if (value != NULL)
        map_add(edited, cbor_build_string(name), value);
    cbor_decref(&map);
    return edited;
}

unsigned char *soft_attestation_object(const soft_authenticator *auth,
                                       const soft_ceremony *ceremony,
                                       const unsigned char *client_data_hash, size_t *len)
{
    size_t ad_len = 0;
    unsigned char *ad = auth_data(auth, ceremony, true, &ad_len);
    cbor_item_t *map = cbor_new_definite_map(3);
    const char *fmt = format_name(ceremony->format);

    if (ceremony->format_name != NULL)
        fmt = ceremony->format_name;

    if (ceremony->attestation_object_unordered)
        map_add(map, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
    map_add(map, cbor_build_string("fmt"), cbor_build_string(fmt));
    map_add(
        map, cbor_build_string("attStmt"),
        edit_att_stmt(ceremony, att_stmt(auth, ceremony, ad, ad_len, client_data_hash)));
    if (!ceremony->attestation_object_unordered)
        map_add(map, cbor_build_string("authData"), cbor_build_bytestring(ad, ad_len));
    free(ad);
    return serialize(map, len);
}

/* ---- Client data and JSON --------------------------------------------------------- */

static char *client_data(const soft_ceremony *ceremony, const char *default_type)
{
    char *challenge = soft_base64url(ceremony->challenge, sizeof(ceremony->challenge));
    char *json = malloc(1024);

    snprintf(json, 1024,
             "%s{\"type\":\"%s\",\"challenge\":\"%s%s\",\"origin\":\"%s\"%s%s%s}",
             ceremony->client_data_prefix != NULL ? ceremony->client_data_prefix : "",
             ceremony->type != NULL ? ceremony->type : default_type, challenge,
             ceremony->challenge_suffix != NULL ? ceremony->challenge_suffix : "",
             ceremony->origin, ceremony->cross_origin != NULL ? ",\"crossOrigin\":" : "",
             ceremony->cross_origin != NULL ? ceremony->cross_origin : "",
             ceremony->client_data_members != NULL ? ceremony->client_data_members : "");
    free(challenge);
    return json;
}

static void set_b64(json_t *object, const char *key, const unsigned char *data,
                    size_t len)
{
    char *text = soft_base64url(data, len);

    json_object_set_new(object, key, json_string(text));
    free(text);
}

/* Adds id, rawId and type; the ids may be made to differ from authData. */
static void set_ids(json_t *root, const soft_authenticator *auth,
                    const soft_ceremony *ceremony)
{
    unsigned char id[sizeof(auth->credential_id)];

    memcpy(id, auth->credential_id, sizeof(id));
    if (ceremony->other_raw_id)
        id[0] ^= 0xff;
    set_b64(root, "rawId", id, sizeof(id));
    if (ceremony->other_id_only)
        id[1] ^= 0xff;
    set_b64(root, "id", id, sizeof(id));
    json_object_set_new(root, "type", json_string("public-key"));
    json_object_set_new(root, "clientExtensionResults", json_object());
}

static char *dump(json_t *root)
{
    char *text = json_dumps(root, JSON_COMPACT);

    json_decref(root);
    return text;
}

char *soft_register(const soft_authenticator *auth, const soft_ceremony *ceremony,
                    const unsigned char *attestation_object,
                    size_t attestation_object_len)
{
    char *cd = client_data(ceremony, "webauthn.create");
    unsigned char hash[32];
    unsigned char *built = NULL;
    size_t built_len = 0;
    json_t *root = json_object();
    json_t *response = json_object();

    SHA256((const unsigned char *)cd, strlen(cd), hash);
    if (attestation_object == NULL) {
        built = soft_attestation_object(auth, ceremony, hash, &built_len);
        attestation_object = built;
        attestation_object_len = built_len;
    }

    set_ids(root, auth, ceremony);
    set_b64(response, "clientDataJSON", (const unsigned char *)cd, strlen(cd));
    set_b64(response, "attestationObject", attestation_object, attestation_object_len);
    json_object_set_new(root, "response", response);

    free(built);
    free(cd);
    return dump(root);
}

char *soft_authenticate(const soft_authenticator *auth, const soft_ceremony *ceremony)
{
    char *cd = client_data(ceremony, "webauthn.get");
    unsigned char hash[32];
    size_t ad_len = 0, sig_len = 0;
    unsigned char *ad = auth_data(auth, ceremony, false, &ad_len);
    unsigned char *data, *sig;
    json_t *root = json_object();
    json_t *response = json_object();

    SHA256((const unsigned char *)cd, strlen(cd), hash);
    data = signed_bytes(ad, ad_len, hash);
    sig = sign_pss_salt(
        auth->key, soft_signature_alg(auth), data, ad_len + 32,
        ceremony->pss_max_salt ? RSA_PSS_SALTLEN_MAX : RSA_PSS_SALTLEN_DIGEST, &sig_len);
    if (ceremony->tamper_signature)
        sig[sig_len / 2] ^= 0x01;

    set_ids(root, auth, ceremony);
    set_b64(response, "clientDataJSON", (const unsigned char *)cd, strlen(cd));
    set_b64(response, "authenticatorData", ad, ad_len);
    set_b64(response, "signature", sig, sig_len);
    if (ceremony->user_handle != NULL)
        set_b64(response, "userHandle", ceremony->user_handle, ceremony->user_handle_len);
    if (ceremony->user_handle_json != NULL)
        json_object_set_new(
            response, "userHandle",
            json_loads(ceremony->user_handle_json, JSON_DECODE_ANY, NULL));
    json_object_set_new(root, "response", response);

    free(sig);
    free(data);
    free(ad);
    free(cd);
    return dump(root);
}

webauthn_code soft_register_verify(const soft_authenticator *auth,
                                   const soft_ceremony *ceremony,
                                   const unsigned char *attestation_object,
                                   size_t attestation_object_len,
                                   const webauthn_verifier *verifier,
                                   webauthn_registration **reg, webauthn_error *err)
{
    soft_ceremony defaults;
    char *json =
        soft_register(auth, ceremony, attestation_object, attestation_object_len);
    webauthn_code code;

    webauthn_registration_free(reg);
    if (json == NULL) {
        err->code = WEBAUTHN_INTERNAL_ERROR;
        snprintf(err->message, sizeof(err->message),
                 "the soft authenticator could not build the registration");
        return WEBAUTHN_INTERNAL_ERROR;
    }
    soft_ceremony_defaults(&defaults);
    code = webauthn_verify_registration(verifier, defaults.challenge,
                                        sizeof(defaults.challenge), json, strlen(json),
                                        reg, err);
    free(json);
    return code;
}

/* android-safetynet statements for the WebAuthn tests, described in soft_safetynet.h. */
#include "soft_safetynet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "soft_authenticator.h"

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

/* Makes a certificate for key with the subject O=idsvc tests, CN=common_name, valid
 * from a day ago for days days, not yet signed. */
static X509 *new_cert(EVP_PKEY *key, const char *common_name, long days, long serial)
{
    X509 *cert = X509_new();
    X509_NAME *subject = X509_NAME_new();

    X509_set_version(cert, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(cert), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert), -86400);
    X509_gmtime_adj(X509_getm_notAfter(cert), days * 86400);
    X509_set_pubkey(cert, key);
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                               (const unsigned char *)"idsvc tests", -1, -1, 0);
    X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                               (const unsigned char *)common_name, -1, -1, 0);
    X509_set_subject_name(cert, subject);
    X509_NAME_free(subject);
    return cert;
}

/* Signs cert as issued by issuer with issuer_key. */
static void issue(X509 *cert, X509 *issuer, EVP_PKEY *issuer_key)
{
    X509_set_issuer_name(cert, X509_get_subject_name(issuer));
    add_ext(cert, issuer, NID_authority_key_identifier, "keyid");
    X509_sign(cert, issuer_key, EVP_sha256());
}

int soft_safetynet_ca_init(soft_safetynet_ca *ca)
{
    static const soft_safetynet_leaf leaf = {"RSA", "attest.android.com",
                                             "attest.android.com", 90};

    memset(ca, 0, sizeof(*ca));
    ca->root_key = EVP_EC_gen("P-256");
    ca->intermediate_key = EVP_EC_gen("P-256");
    if (ca->root_key == NULL || ca->intermediate_key == NULL)
        return -1;

    ca->root = new_cert(ca->root_key, "Soft SafetyNet Root", 3650, 1);
    add_ext(ca->root, ca->root, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(ca->root, ca->root, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca->root, ca->root, NID_subject_key_identifier, "hash");
    X509_set_issuer_name(ca->root, X509_get_subject_name(ca->root));
    X509_sign(ca->root, ca->root_key, EVP_sha256());

    ca->intermediate = new_cert(ca->intermediate_key, "Soft SafetyNet CA", 3650, 2);
    add_ext(ca->intermediate, ca->root, NID_basic_constraints,
            "critical,CA:TRUE,pathlen:0");
    add_ext(ca->intermediate, ca->root, NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(ca->intermediate, ca->root, NID_subject_key_identifier, "hash");
    issue(ca->intermediate, ca->root, ca->root_key);
    return soft_safetynet_ca_set_leaf(ca, &leaf);
}

int soft_safetynet_ca_set_leaf(soft_safetynet_ca *ca, const soft_safetynet_leaf *leaf)
{
    char san[300];

    X509_free(ca->leaf);
    EVP_PKEY_free(ca->leaf_key);
    ca->leaf = NULL;
    ca->leaf_key = strcmp(leaf->key_type, "RSA") == 0 ? EVP_RSA_gen(2048)
                                                      : EVP_EC_gen(leaf->key_type);
    if (ca->leaf_key == NULL)
        return -1;

    ca->leaf = new_cert(ca->leaf_key, leaf->common_name, leaf->valid_days, 3);
    add_ext(ca->leaf, ca->intermediate, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(ca->leaf, ca->intermediate, NID_key_usage, "critical,digitalSignature");
    if (leaf->dns_name != NULL) {
        snprintf(san, sizeof(san), "DNS:%s", leaf->dns_name);
        add_ext(ca->leaf, ca->intermediate, NID_subject_alt_name, san);
    }
    issue(ca->leaf, ca->intermediate, ca->intermediate_key);
    return 0;
}

void soft_safetynet_ca_clear(soft_safetynet_ca *ca)
{
    X509_free(ca->leaf);
    X509_free(ca->intermediate);
    X509_free(ca->root);
    EVP_PKEY_free(ca->leaf_key);
    EVP_PKEY_free(ca->intermediate_key);
    EVP_PKEY_free(ca->root_key);
    memset(ca, 0, sizeof(*ca));
}

/* ---- The JWS ---------------------------------------------------------------------- */

/* Returns the standard base64 with padding of data; the caller frees it. */
static char *base64(const unsigned char *data, size_t len)
{
    char *text = malloc(len / 3 * 4 + 5);

    EVP_EncodeBlock((unsigned char *)text, data, (int)len);
    return text;
}

static json_t *cert_base64(X509 *cert)
{
    unsigned char *der = NULL;
    int der_len = i2d_X509(cert, &der);
    char *text = base64(der, (size_t)der_len);
    json_t *value = json_string(text);

    free(text);
    OPENSSL_free(der);
    return value;
}

/* Returns the JSON text of object with members, when not NULL, added at its end. */
static char *dump_with_members(json_t *object, const char *members)
{
    char *text = json_dumps(object, JSON_COMPACT);
    size_t len = strlen(text);
    char *out;

    if (members == NULL)
        return text;
    out = malloc(len + strlen(members) + 2);
    memcpy(out, text, len - 1); /* everything before the closing brace */
    sprintf(out + len - 1, ",%s}", members);
    free(text);
    return out;
}

static const char *header_alg(const soft_safetynet *statement)
{
    if (statement->alg != NULL)
        return statement->alg;
    return EVP_PKEY_is_a(statement->ca->leaf_key, "RSA") ? "RS256" : "ES256";
}

static char *header_json(const soft_safetynet *statement)
{
    json_t *header = json_object();
    json_t *x5c = json_array();
    char *text;

    if (header_alg(statement)[0] != '\0')
        json_object_set_new(header, "alg", json_string(header_alg(statement)));
    json_array_append_new(x5c, cert_base64(statement->ca->leaf));
    json_array_append_new(x5c, cert_base64(statement->ca->intermediate));
    if (statement->x5c_json != NULL) {
        json_decref(x5c);
        x5c = json_loads(statement->x5c_json, JSON_DECODE_ANY, NULL);
    }
    if (statement->no_x5c)
        json_decref(x5c);
    else
        json_object_set_new(header, "x5c", x5c);

    text = dump_with_members(header, statement->header_members);
    json_decref(header);
    return text;
}

/* Returns the nonce: the JSON text in nonce_json, or else the base64 of
 * SHA-256(authenticatorData || clientDataHash), or its base64url when asked. */
static json_t *nonce_value(const soft_safetynet *statement, const unsigned char *ad,
                           size_t ad_len, const unsigned char *client_data_hash)
{
    unsigned char hash[32];
    unsigned char *data = malloc(ad_len + 32);
    char *text;
    json_t *value;

    if (statement->nonce_json != NULL) {
        free(data);
        return json_loads(statement->nonce_json, JSON_DECODE_ANY, NULL);
    }
    memcpy(data, ad, ad_len);
    memcpy(data + ad_len, client_data_hash, 32);
    SHA256(data, ad_len + 32, hash);
    free(data);

    text = statement->nonce_base64url ? soft_base64url(hash, sizeof(hash))
                                      : base64(hash, sizeof(hash));
    value = json_string(text);
    free(text);
    return value;
}

static char *payload_json(const soft_safetynet *statement, const unsigned char *ad,
                          size_t ad_len, const unsigned char *client_data_hash)
{
    json_t *payload = json_object();
    const char *cts =
        statement->cts_profile_match != NULL ? statement->cts_profile_match : "true";
    char *text;

    json_object_set_new(payload, "nonce",
                        nonce_value(statement, ad, ad_len, client_data_hash));
    if (statement->timestamp_json != NULL && statement->timestamp_json[0] != '\0')
        json_object_set_new(payload, "timestampMs",
                            json_loads(statement->timestamp_json, JSON_DECODE_ANY, NULL));
    else if (statement->timestamp_json == NULL)
        json_object_set_new(payload, "timestampMs",
                            json_integer((json_int_t)time(NULL) * 1000));
    json_object_set_new(payload, "apkPackageName", json_string("com.google.android.gms"));
    if (cts[0] != '\0')
        json_object_set_new(payload, "ctsProfileMatch",
                            json_loads(cts, JSON_DECODE_ANY, NULL));
    json_object_set_new(payload, "basicIntegrity", json_true());
    json_object_set_new(payload, "evaluationType", json_string("BASIC,HARDWARE_BACKED"));

    text = dump_with_members(payload, statement->payload_members);
    json_decref(payload);
    return text;
}

/* Converts a DER ECDSA signature to the 64 bytes r || s of JWS ES256, in place. */
static void ecdsa_der_to_raw(unsigned char *sig, size_t *sig_len)
{
    const unsigned char *p = sig;
    ECDSA_SIG *parsed = d2i_ECDSA_SIG(NULL, &p, (long)*sig_len);
    const BIGNUM *r, *s;

    ECDSA_SIG_get0(parsed, &r, &s);
    BN_bn2binpad(r, sig, 32);
    BN_bn2binpad(s, sig + 32, 32);
    *sig_len = 64;
    ECDSA_SIG_free(parsed);
}

/* Signs the ASCII signing input with the leaf key by SHA-256: RSASSA-PKCS1-v1_5 for
 * an RSA key, ECDSA otherwise. */
static unsigned char *sign_input(const soft_safetynet *statement, const char *input,
                                 size_t *sig_len)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_PKEY *key = statement->ca->leaf_key;
    unsigned char *sig;

    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key);
    EVP_DigestSign(ctx, NULL, sig_len, (const unsigned char *)input, strlen(input));
    sig = malloc(*sig_len);
    EVP_DigestSign(ctx, sig, sig_len, (const unsigned char *)input, strlen(input));
    EVP_MD_CTX_free(ctx);

    if (EVP_PKEY_is_a(key, "EC") && !statement->der_signature)
        ecdsa_der_to_raw(sig, sig_len);
    if (statement->tamper_signature)
        sig[*sig_len / 2] ^= 0x01;
    return sig;
}

/* Returns header "." payload "." signature with the changes that statement sets. */
static char *compact_jws(const soft_safetynet *statement, const char *header,
                         const char *payload)
{
    char *header_part = soft_base64url((const unsigned char *)header, strlen(header));
    char *payload_part = soft_base64url((const unsigned char *)payload, strlen(payload));
    size_t input_len = strlen(header_part) + strlen(payload_part) + 1;
    char *jws = malloc(input_len + 1024);
    unsigned char *sig;
    char *sig_part;
    size_t sig_len = 0;

    sprintf(jws, "%s.%s", header_part, payload_part);
    sig = sign_input(statement, jws, &sig_len);
    sig_part = soft_base64url(sig, sig_len);

    if (statement->part_count != 2)
        sprintf(jws + input_len, ".%s", sig_part);
    if (statement->padding)
        for (size_t len = strlen(sig_part); len % 4 != 0; len++)
            strcat(jws, "=");
    if (statement->part_count == 4)
        strcat(jws, ".e30");

    free(sig_part);
    free(sig);
    free(payload_part);
    free(header_part);
    return jws;
}

static void map_add(cbor_item_t *map, const char *key, cbor_item_t *value)
{
    cbor_map_add(map, (struct cbor_pair){.key = cbor_move(cbor_build_string(key)),
                                         .value = cbor_move(value)});
}

cbor_item_t *soft_safetynet_att_stmt(const soft_safetynet *statement,
                                     const unsigned char *ad, size_t ad_len,
                                     const unsigned char *client_data_hash)
{
    char *header = header_json(statement);
    char *payload = payload_json(statement, ad, ad_len, client_data_hash);
    char *jws = compact_jws(statement, header, payload);
    cbor_item_t *map = cbor_new_definite_map(3);
    cbor_item_t *response;

    if (statement->response_text)
        response = cbor_build_string(jws);
    else
        response = cbor_build_bytestring((const unsigned char *)jws, strlen(jws));

    map_add(map, "ver",
            cbor_build_string(statement->ver != NULL ? statement->ver : "233713044"));
    map_add(map, "response", response);
    if (statement->extra_member)
        map_add(map, "x5c", cbor_new_definite_array(0));

    free(jws);
    free(payload);
    free(header);
    return map;
}

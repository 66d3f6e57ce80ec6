/*
 * android-safetynet attestation (WebAuthn Level 3, section 8.5), verified with OpenSSL
 * and jansson because libfido2 1.12 does not know the format. attStmt is
 * {ver: text, response: bytes}, and response is the UTF-8 text of a JWS in compact
 * serialization (RFC 7515, section 7.1) that Google's SafetyNet service signed:
 * base64url header "." payload "." signature, without padding. The header names alg and
 * carries the signing chain in x5c, standard base64 DER certificates, leaf first (RFC
 * 7515, section 4.1.6). The payload's nonce is the base64 of
 * SHA-256(authenticatorData || clientDataHash), which binds the response to this
 * ceremony's challenge.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "webauthn_internal.h"

#define SAFETYNET_HOST "attest.android.com"
#define JWS_PART_COUNT 3

/* The decoded parts of the JWS. Every pointer is owned. */
typedef struct safetynet_jws {
    char *text;               /* the compact serialization, NUL-terminated */
    size_t signing_input_len; /* the length of "header.payload" at the start of text */
    json_t *header;
    json_t *payload;
    unsigned char *signature;
    size_t signature_len;
} safetynet_jws;

static void jws_clear(safetynet_jws *jws)
{
    json_decref(jws->payload);
    json_decref(jws->header);
    free(jws->signature);
    free(jws->text);
    memset(jws, 0, sizeof(*jws));
}

/* Reads ver and response, the only two members an android-safetynet attStmt has. */
static webauthn_code read_statement(const cbor_item_t *att_stmt,
                                    const cbor_item_t **response, webauthn_error *err)
{
    const cbor_item_t *ver;
    webauthn_code code;

    code = webauthn_cbor_map_text(att_stmt, "ver", &ver, err);
    if (code == WEBAUTHN_OK)
        code = webauthn_cbor_map_text(att_stmt, "response", response, err);
    if (code != WEBAUTHN_OK)
        return code;

    if (ver == NULL || !cbor_isa_string(ver) || !cbor_string_is_definite(ver) ||
        cbor_string_length(ver) == 0)
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The android-safetynet attStmt ver is missing, empty or not a "
            "text string.");
    if (*response == NULL || !cbor_isa_bytestring(*response) ||
        !cbor_bytestring_is_definite(*response) || cbor_bytestring_length(*response) == 0)
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The android-safetynet attStmt response is missing, empty or "
            "not a byte string.");
    /* A map with ver and response found and two entries has no other member, because
     * webauthn_cbor_check rejected repeated keys. */
    if (cbor_map_size(att_stmt) != 2)
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The android-safetynet attStmt has %zu members; only ver and "
            "response are allowed.",
            cbor_map_size(att_stmt));
    return WEBAUTHN_OK;
}

/* Decodes one unpadded base64url part of the JWS and parses it as a JSON object. */
static webauthn_code decode_json_part(const char *part, size_t len, const char *what,
                                      json_t **out, webauthn_error *err)
{
    unsigned char *bytes = NULL;
    size_t bytes_len = 0;
    json_error_t json_error;

    if (webauthn_base64url_decode(part, len, &bytes, &bytes_len) != 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet JWS %s is not base64url (RFC 4648, "
                             "section 5).",
                             what);
    *out =
        json_loadb((const char *)bytes, bytes_len, JSON_REJECT_DUPLICATES, &json_error);
    free(bytes);
    if (*out == NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet JWS %s is not valid JSON: %s.", what,
                             json_error.text);
    if (!json_is_object(*out))
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet JWS %s is not a JSON object.", what);
    return WEBAUTHN_OK;
}

/* Splits the compact serialization into its three parts and decodes them. */
static webauthn_code split_jws(const cbor_item_t *response, safetynet_jws *jws,
                               webauthn_error *err)
{
    size_t len = cbor_bytestring_length(response);
    const char *parts[JWS_PART_COUNT];
    size_t lens[JWS_PART_COUNT];
    size_t count = 1;
    webauthn_code code;

    jws->text = malloc(len + 1);
    if (jws->text == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    memcpy(jws->text, cbor_bytestring_handle(response), len);
    jws->text[len] = '\0';
    if (strlen(jws->text) != len)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet response contains a NUL byte.");

    for (const char *dot = strchr(jws->text, '.'); dot != NULL;
         dot = strchr(dot + 1, '.'))
        count++;
    if (count != JWS_PART_COUNT)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet response has %zu JWS parts separated "
                             "by \".\", not the 3 of the compact serialization.",
                             count);
    if (strchr(jws->text, '=') != NULL)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet JWS has base64url padding (\"=\"), "
                             "which the compact serialization leaves out.");

    parts[0] = jws->text;
    parts[1] = strchr(parts[0], '.') + 1;
    parts[2] = strchr(parts[1], '.') + 1;
    lens[0] = (size_t)(parts[1] - parts[0]) - 1;
    lens[1] = (size_t)(parts[2] - parts[1]) - 1;
    lens[2] = len - (size_t)(parts[2] - parts[0]);
    jws->signing_input_len = (size_t)(parts[2] - parts[0]) - 1;

    code = decode_json_part(parts[0], lens[0], "header", &jws->header, err);
    if (code == WEBAUTHN_OK)
        code = decode_json_part(parts[1], lens[1], "payload", &jws->payload, err);
    if (code != WEBAUTHN_OK)
        return code;
    if (webauthn_base64url_decode(parts[2], lens[2], &jws->signature,
                                  &jws->signature_len) != 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet JWS signature is not base64url (RFC "
                             "4648, section 5).");
    return WEBAUTHN_OK;
}

/* Reads the header's alg. Google signs SafetyNet responses with RS256. ES256 is
 * accepted as well, because WebAuthn does not restrict the JWS alg and an ES256 key is
 * checked as strictly as an RSA key. */
static webauthn_code read_alg(const json_t *header, int64_t *alg, webauthn_error *err)
{
    const char *name = json_string_value(json_object_get(header, "alg"));

    if (name == NULL)
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The android-safetynet JWS header alg is missing or not a string.");
    if (strcmp(name, "RS256") == 0) {
        *alg = WEBAUTHN_COSE_RS256;
        return WEBAUTHN_OK;
    }
    if (strcmp(name, "ES256") == 0) {
        *alg = WEBAUTHN_COSE_ES256;
        return WEBAUTHN_OK;
    }
    if (strcmp(name, "none") == 0)
        return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                             "The android-safetynet JWS alg is \"none\", an unsigned "
                             "token; only RS256 and ES256 are accepted.");
    return webauthn_fail(err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
                         "The android-safetynet JWS alg \"%.32s\" is not supported; only "
                         "RS256 and ES256 are accepted.",
                         name);
}

/* Decodes standard base64 with padding (RFC 4648, section 4), the encoding of x5c. It
 * swaps the two characters that differ from base64url, then runs the base64url decoder.
 */
static int decode_base64(const char *text, size_t len, unsigned char **out,
                         size_t *out_len)
{
    char *url = malloc(len + 1);
    int result;

    *out = NULL;
    *out_len = 0;
    /* strcspn also stops at a NUL byte inside the text, which is then rejected. */
    if (url == NULL || len % 4 != 0 || strcspn(text, "-_") != len) {
        free(url);
        return -1;
    }
    for (size_t i = 0; i < len; i++) {
        url[i] = text[i];
        if (text[i] == '+')
            url[i] = '-';
        if (text[i] == '/')
            url[i] = '_';
    }
    url[len] = '\0';
    result = webauthn_base64url_decode_padded(url, len, out, out_len);
    free(url);
    return result;
}

/* Decodes the header's x5c into a CBOR array of DER byte strings, the form that
 * webauthn_x5c_parse reads for every other format. */
static webauthn_code x5c_to_cbor(const json_t *x5c, cbor_item_t **out,
                                 webauthn_error *err)
{
    size_t count = json_array_size(x5c);
    cbor_item_t *array;

    if (!json_is_array(x5c) || count == 0)
        return webauthn_fail(err, WEBAUTHN_MALFORMED,
                             "The android-safetynet JWS header has no x5c array of "
                             "certificates.");
    array = cbor_new_definite_array(count);
    if (array == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");

    for (size_t i = 0; i < count; i++) {
        const json_t *element = json_array_get(x5c, i);
        unsigned char *der = NULL;
        size_t der_len = 0;
        cbor_item_t *item;

        if (!json_is_string(element) ||
            decode_base64(json_string_value(element), json_string_length(element), &der,
                          &der_len) != 0 ||
            der_len == 0) {
            free(der);
            cbor_decref(&array);
            return webauthn_fail(err, WEBAUTHN_MALFORMED,
                                 "The android-safetynet JWS x5c element %zu is not "
                                 "standard base64 with padding (RFC 4648, section 4).",
                                 i);
        }
        item = cbor_build_bytestring(der, der_len);
        free(der);
        if (item == NULL || !cbor_array_push(array, cbor_move(item))) {
            cbor_decref(&array);
            return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
        }
    }
    *out = array;
    return WEBAUTHN_OK;
}

/* Parses the header's x5c into out, leaf first. */
static webauthn_code read_x5c(const json_t *header, STACK_OF(X509) * *out,
                              webauthn_error *err)
{
    cbor_item_t *array = NULL;
    webauthn_code code;

    code = x5c_to_cbor(json_object_get(header, "x5c"), &array, err);
    if (code != WEBAUTHN_OK)
        return code;
    code = webauthn_x5c_parse(array, out, err);
    cbor_decref(&array);
    return code;
}

/* Converts a JWS ES256 signature, the 64 bytes r || s (RFC 7518, section 3.4), to the
 * DER ECDSA-Sig-Value that OpenSSL verifies. */
static webauthn_code es256_to_der(const unsigned char *raw, size_t raw_len,
                                  unsigned char **der, int *der_len, webauthn_error *err)
{
    ECDSA_SIG *sig = NULL;
    BIGNUM *r = NULL, *s = NULL;

    *der = NULL;
    if (raw_len != 64)
        return webauthn_fail(
            err, WEBAUTHN_ATTESTATION_INVALID,
            "The android-safetynet ES256 JWS signature is %zu bytes, not "
            "the 64 of r || s (RFC 7518, section 3.4).",
            raw_len);
    sig = ECDSA_SIG_new();
    r = BN_bin2bn(raw, 32, NULL);
    s = BN_bin2bn(raw + 32, 32, NULL);
    if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    }
    /* The signature owns r and s now. */
    *der_len = i2d_ECDSA_SIG(sig, der);
    ECDSA_SIG_free(sig);
    if (*der_len <= 0)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not encode the ES256 signature.");
    return WEBAUTHN_OK;
}

/* Verifies the JWS signature over the ASCII bytes header "." payload with the leaf key
 * (RFC 7515, section 5.2). */
static webauthn_code verify_jws_signature(const safetynet_jws *jws, int64_t alg,
                                          X509 *leaf, webauthn_error *err)
{
    const unsigned char *signature = jws->signature;
    size_t signature_len = jws->signature_len;
    unsigned char *der = NULL;
    int der_len = 0;
    webauthn_code code;

    if (!webauthn_key_fits_alg(X509_get0_pubkey(leaf), alg))
        return webauthn_fail(
            err, WEBAUTHN_ALGORITHM_UNSUPPORTED,
            "The android-safetynet x5c leaf certificate key does not fit "
            "the JWS alg %s.",
            webauthn_cose_alg_name(alg));
    if (alg == WEBAUTHN_COSE_ES256) {
        code = es256_to_der(jws->signature, jws->signature_len, &der, &der_len, err);
        if (code != WEBAUTHN_OK)
            return code;
        signature = der;
        signature_len = (size_t)der_len;
    }
    code = webauthn_verify_signature(
        X509_get0_pubkey(leaf), alg, (const unsigned char *)jws->text,
        jws->signing_input_len, signature, signature_len, err);
    OPENSSL_free(der);

    if (code == WEBAUTHN_SIGNATURE_INVALID)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-safetynet JWS signature does not verify with "
                             "the x5c leaf certificate key (%s).",
                             webauthn_cose_alg_name(alg));
    return code;
}

/* Checks the leaf's host name as a TLS client would, without wildcards: a dNSName of
 * the subject alternative name, or the subject CN only when there is no dNSName. */
static webauthn_code check_host(X509 *leaf, webauthn_error *err)
{
    int result = X509_check_host(leaf, SAFETYNET_HOST, strlen(SAFETYNET_HOST),
                                 X509_CHECK_FLAG_NO_WILDCARDS, NULL);

    ERR_clear_error();
    if (result != 1)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-safetynet x5c leaf certificate is not issued "
                             "to the host name %s.",
                             SAFETYNET_HOST);
    return WEBAUTHN_OK;
}

/* Checks that nonce is the standard base64 with padding of SHA-256(authenticatorData ||
 * clientDataHash). */
static webauthn_code check_nonce(const webauthn_attestation_input *in,
                                 const json_t *payload, webauthn_error *err)
{
    const json_t *nonce = json_object_get(payload, "nonce");
    const webauthn_auth_data *ad = in->auth_data;
    unsigned char *data;
    unsigned char hash[32];
    unsigned char expected[45]; /* 4 * ceil(32 / 3) characters and a NUL */
    int hashed;

    if (!json_is_string(nonce))
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The android-safetynet JWS payload nonce is missing or not a string.");

    data = malloc(ad->raw_len + 32);
    if (data == NULL)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Out of memory.");
    memcpy(data, ad->raw, ad->raw_len);
    memcpy(data + ad->raw_len, in->client_data_hash, 32);
    hashed = webauthn_sha256(data, ad->raw_len + 32, hash);
    free(data);
    if (hashed != 0)
        return webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                             "OpenSSL could not hash the nonce.");
    EVP_EncodeBlock(expected, hash, sizeof(hash));

    if (json_string_length(nonce) != strlen((const char *)expected) ||
        memcmp(json_string_value(nonce), expected, sizeof(expected) - 1) != 0)
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-safetynet nonce is not the base64 of "
                             "SHA-256(authenticatorData || clientDataHash).");
    return WEBAUTHN_OK;
}

/* Checks that timestampMs, the time in milliseconds since the Unix epoch at which the
 * SafetyNet service signed the response, is a non-negative integer. It is not compared
 * with the verifier's time, because the nonce already proves that the response is newer
 * than this ceremony's challenge, and the JWS signature that it is Google's. */
static webauthn_code check_timestamp(const json_t *payload, webauthn_error *err)
{
    const json_t *timestamp = json_object_get(payload, "timestampMs");

    if (!json_is_integer(timestamp) || json_integer_value(timestamp) < 0)
        return webauthn_fail(
            err, WEBAUTHN_MALFORMED,
            "The android-safetynet JWS payload timestampMs is missing or "
            "not a non-negative integer.");
    return WEBAUTHN_OK;
}

static webauthn_code check_payload(const webauthn_attestation_input *in,
                                   const json_t *payload, webauthn_error *err)
{
    webauthn_code code;

    code = check_nonce(in, payload, err);
    if (code != WEBAUTHN_OK)
        return code;
    /* WebAuthn Level 2 and 3 (section 8.5) require ctsProfileMatch to be true: the
     * device passed Android compatibility testing. */
    if (!json_is_true(json_object_get(payload, "ctsProfileMatch")))
        return webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-safetynet ctsProfileMatch is missing or not "
                             "true, so the device did not pass Android compatibility "
                             "testing.");
    return check_timestamp(payload, err);
}

webauthn_code webauthn_attest_android_safetynet(const webauthn_attestation_input *in,
                                                webauthn_attestation_output *out,
                                                webauthn_error *err)
{
    const cbor_item_t *response;
    safetynet_jws jws;
    int64_t alg = 0;
    X509 *leaf;
    webauthn_code code;

    memset(&jws, 0, sizeof(jws));
    code = read_statement(in->att_stmt, &response, err);
    if (code == WEBAUTHN_OK)
        code = split_jws(response, &jws, err);
    if (code == WEBAUTHN_OK)
        code = read_alg(jws.header, &alg, err);
    if (code != WEBAUTHN_OK)
        goto out;

    /* RFC 7515 (section 4.1.11) requires a recipient to reject a JWS whose crit names
     * extensions that it does not process, and this one processes none. */
    if (json_object_get(jws.header, "crit") != NULL) {
        code = webauthn_fail(err, WEBAUTHN_ATTESTATION_INVALID,
                             "The android-safetynet JWS header has crit, but no JWS "
                             "extension is supported.");
        goto out;
    }
    code = read_x5c(jws.header, &out->x5c, err);
    if (code != WEBAUTHN_OK)
        goto out;
    leaf = sk_X509_value(out->x5c, 0);

    code = verify_jws_signature(&jws, alg, leaf, err);
    if (code == WEBAUTHN_OK)
        code = check_host(leaf, err);
    if (code == WEBAUTHN_OK)
        code = check_payload(in, jws.payload, err);
    if (code == WEBAUTHN_OK)
        out->type = WEBAUTHN_ATTESTED_BASIC;

out:
    jws_clear(&jws);
    return code;
}

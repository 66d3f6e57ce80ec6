/*
 * android-safetynet statements for the WebAuthn tests: a throwaway root, intermediate
 * and leaf made with OpenSSL, and a JWS that the leaf signs as Google's SafetyNet
 * service would. Each field of the JWS can be set wrong on purpose.
 */
#ifndef IDSVC_SOFT_SAFETYNET_H
#define IDSVC_SOFT_SAFETYNET_H

#include <stdbool.h>
#include <stddef.h>

#include <cbor.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* The SafetyNet signing chain: root, intermediate and leaf, each with its key. */
typedef struct soft_safetynet_ca {
    EVP_PKEY *root_key;
    X509 *root;
    EVP_PKEY *intermediate_key;
    X509 *intermediate;
    EVP_PKEY *leaf_key;
    X509 *leaf;
} soft_safetynet_ca;

/* The leaf that soft_safetynet_ca_set_leaf issues. */
typedef struct soft_safetynet_leaf {
    const char *key_type;    /* "RSA" (RSA-2048) or "P-256" */
    const char *common_name; /* the subject CN */
    const char *dns_name;    /* the subject alternative name dNSName, NULL for none */
    long valid_days;         /* notAfter in days from now, with notBefore a day ago */
} soft_safetynet_leaf;

/* Creates a P-256 root and intermediate, valid for ten years, and an RSA-2048 leaf for
 * attest.android.com (CN and dNSName) valid for 90 days. Returns 0 or -1. */
int soft_safetynet_ca_init(soft_safetynet_ca *ca);

/* Replaces the leaf with one issued by the intermediate as leaf describes. */
int soft_safetynet_ca_set_leaf(soft_safetynet_ca *ca, const soft_safetynet_leaf *leaf);

void soft_safetynet_ca_clear(soft_safetynet_ca *ca);

/* What one statement sends. A member left NULL, 0 or false keeps the valid value. */
typedef struct soft_safetynet {
    const soft_safetynet_ca *ca;
    const char *ver;    /* attStmt ver; NULL sends "233713044" */
    bool extra_member;  /* attStmt gets an "x5c" member as well */
    bool response_text; /* attStmt response is a text string, not a byte string */
    /* header alg; NULL sends RS256 or ES256 for the leaf key and "" leaves it out */
    const char *alg;
    bool no_x5c;            /* the header has no x5c */
    const char *x5c_json;   /* JSON text that replaces the header's x5c */
    const char *nonce_json; /* JSON text that replaces the right nonce */
    bool nonce_base64url;   /* the right nonce's bytes in base64url without padding */
    /* JSON text of ctsProfileMatch; NULL sends true and "" leaves it out */
    const char *cts_profile_match;
    /* JSON text of timestampMs; NULL sends the time now and "" leaves it out */
    const char *timestamp_json;
    /* JSON text of members added at the end of the header or payload, after a comma */
    const char *header_members;
    const char *payload_members;
    bool tamper_signature; /* flip a bit of the JWS signature */
    bool der_signature;    /* an ES256 signature in DER, not r || s */
    size_t part_count;     /* 2 drops the signature, 4 adds a part; 0 keeps 3 */
    bool padding;          /* base64url padding "=" on the signature part */
} soft_safetynet;

/* Builds the attStmt {ver, response} over authenticatorData || clientDataHash. */
cbor_item_t *soft_safetynet_att_stmt(const soft_safetynet *statement,
                                     const unsigned char *ad, size_t ad_len,
                                     const unsigned char *client_data_hash);

#endif

/*
 * The HSM layer: every private-key operation of idsvc goes through this interface.
 *
 * A p11_token is one PKCS#11 module, one token in it and one login. It may be shared by
 * threads: each thread gets its own session, because SoftHSM2 crashes when two threads
 * sign on one session. After fork() the child finalises, initialises and logs in again on
 * its next call. When the module reports a lost session or device, the call reopens the
 * session and logs in again, at most p11_config.max_reconnects times.
 *
 * Every function that can fail returns 0 on success and -1 on failure, and fills the
 * p11_error it was given (which may be NULL).
 */
#ifndef IDSVC_P11_H
#define IDSVC_P11_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <p11-kit/pkcs11.h>

/* The reason for a failure: the module's return value, and a sentence for people. */
typedef struct p11_error {
    CK_RV rv; /* CKR_OK when the failure did not come from the module */
    char message[256];
} p11_error;

/* Returns the symbolic name of a CKR_* value, such as "CKR_PIN_INCORRECT". */
const char *p11_rv_name(CK_RV rv);

/* Writes into hint, for a token that was not found, a sentence about SOFTHSM2_CONF when
 * module_path (NULL for the default) is SoftHSM2, which reads the token folder from the
 * file that variable names. Writes an empty string for other modules. */
void p11_softhsm_hint(const char *module_path, char *hint, size_t size);

typedef struct p11_config {
    const char *module_path; /* NULL selects the SoftHSM2 module */
    const char *token_label; /* the token is chosen by label, serial or both */
    const char *token_serial;
    const char *pin_file;    /* rejected when readable by group or others */
    const char *pin_env;     /* name of an environment variable holding the PIN;
                                with neither, the layer does not log in */
    unsigned max_reconnects; /* 0 selects the default of 3 */
} p11_config;

typedef struct p11_token p11_token;

int p11_token_open(const p11_config *config, p11_token **out, p11_error *err);
/* Closes every session, wipes the PIN and sets *token to NULL. Call it only once the
 * threads that used the token have stopped using it. */
void p11_token_close(p11_token **token);

/* Reads a PIN from a file that only its owner may read; strips one trailing newline. */
int p11_pin_read_file(const char *path, char *pin, size_t pin_size, p11_error *err);

/* Reads a PIN from the environment variable name. */
int p11_pin_read_env(const char *name, char *pin, size_t pin_size, p11_error *err);

/* The chosen token's label and serial number, without their space padding. */
const char *p11_token_get_label(const p11_token *token);
const char *p11_token_get_serial(const p11_token *token);

/*
 * Initialises a new token for development: C_InitToken on the first free slot of the
 * module (NULL selects SoftHSM2), then sets the user PIN with C_InitPIN. Refuses a label
 * that a token already has. The new token's serial is written to serial when not NULL.
 */
int p11_token_init(const char *module_path, const char *label, const char *so_pin,
                   const char *user_pin, char *serial, size_t serial_size,
                   p11_error *err);

typedef enum p11_key_type {
    P11_KEY_RSA_2048,
    P11_KEY_RSA_3072,
    P11_KEY_EC_P256,
    P11_KEY_EC_P384,
} p11_key_type;

typedef enum p11_sign_alg {
    P11_SIGN_RSA_PKCS1_SHA256, /* CKM_SHA256_RSA_PKCS */
    P11_SIGN_ECDSA_SHA256,     /* SHA-256 in OpenSSL, then CKM_ECDSA: raw r||s */
    P11_SIGN_ECDSA_SHA384,     /* SHA-384 in OpenSSL, then CKM_ECDSA: raw r||s */
} p11_sign_alg;

/* "rsa2048", "rsa3072", "p256" or "p384"; p11_key_type_parse reads them back. */
const char *p11_key_type_name(p11_key_type type);
int p11_key_type_parse(const char *name, p11_key_type *out);

/* A private key in the token, with its public half. */
typedef struct p11_key p11_key;

/* Finds one private key by an RFC 7512 URI; zero or several matches is an error. */
int p11_key_find(p11_token *token, const char *uri, p11_key **out, p11_error *err);

/*
 * Generates a key pair inside the token. The private half is CKA_SENSITIVE, not
 * CKA_EXTRACTABLE and may only sign. label and id (of id_len bytes) name the pair.
 */
int p11_key_generate(p11_token *token, p11_key_type type, const char *label,
                     const unsigned char *id, size_t id_len, p11_key **out,
                     p11_error *err);

void p11_key_free(p11_key **key);

p11_key_type p11_key_get_type(const p11_key *key);
const char *p11_key_get_label(const p11_key *key);
/* The key's CKA_ID (may be empty); owned by the key. */
const unsigned char *p11_key_get_id(const p11_key *key, size_t *len);

/* Formats the key's pkcs11: URI (token, object and type=private); caller frees. */
char *p11_key_get_uri(const p11_key *key);

/* Returns a new reference to the public half; the caller frees it with EVP_PKEY_free. */
EVP_PKEY *p11_key_get_public(const p11_key *key, p11_error *err);

/* The signature size in bytes: the modulus size for RSA, 2 * field size for ECDSA. */
size_t p11_key_signature_size(const p11_key *key);

/*
 * Signs data with the key. sig_len contains the buffer size on entry and the signature
 * size on return. ECDSA signatures are raw r||s, as XML-DSig wants them.
 */
int p11_sign(p11_key *key, p11_sign_alg alg, const unsigned char *data, size_t len,
             unsigned char *sig, size_t *sig_len, p11_error *err);

/* What p11_key_destroy removed. */
typedef struct p11_removed {
    bool private_key;
    size_t public_keys;
    size_t certificates;
    size_t kept; /* objects with the key's CKA_ID or label that hold another key */
} p11_removed;

/*
 * Destroys the key's private key object, then the public key objects and certificates
 * with its CKA_ID (with its label when it has no id) that hold its public key, and frees
 * *key either way. Those of another key pair with the same CKA_ID or label stay. The
 * private key goes first, so a failure never leaves a private key whose public half is
 * gone. removed records what was destroyed before a failure.
 */
int p11_key_destroy(p11_key **key, p11_removed *removed, p11_error *err);

/*
 * Checks that the key's public half is its own. An EC key's public half comes from a
 * public key object or certificate with its CKA_ID (its label when it has none), so when
 * another private key has the same CKA_ID, that object may be the other key's. Returns 0,
 * or -1 with the reason in err for such a key.
 */
int p11_key_check_companions(p11_key *key, p11_error *err);

/* Stores an X.509 certificate object with the key's label and CKA_ID. */
int p11_cert_store(p11_token *token, const p11_key *key, X509 *cert, p11_error *err);

/* Loads the certificate stored beside the key, or returns NULL with err->rv == CKR_OK
 * and an empty message when there is none. */
X509 *p11_cert_load(p11_token *token, const p11_key *key, p11_error *err);

/* The attributes that show whether a private key can leave the token. */
typedef struct p11_key_info {
    char *label;
    char *id_hex;
    char *uri;
    p11_key_type type;     /* meaningful only when supported */
    bool supported;        /* a type this layer signs with */
    const char *type_name; /* p11_key_type_name, or "unsupported" */
    bool sensitive;
    bool always_sensitive;
    bool extractable;
    bool never_extractable;
    bool can_sign;
    bool can_decrypt;
    bool has_certificate;
} p11_key_info;

int p11_key_list(p11_token *token, p11_key_info **out, size_t *count, p11_error *err);
void p11_key_info_free(p11_key_info *infos, size_t count);

/*
 * Private data objects: CKO_DATA token objects with CKA_PRIVATE true, so reading and
 * writing them needs the user's login. label (CKA_LABEL) and application
 * (CKA_APPLICATION) name them, and neither may be empty.
 */

/* Returns true when candidate is newer than current, for p11_data_read. */
typedef bool (*p11_data_newer_fn)(const unsigned char *candidate, size_t candidate_len,
                                  const unsigned char *current, size_t current_len,
                                  void *ctx);

/* Stores value as a new data object, then destroys the older objects of label and
 * application. A failure after the creation leaves the older objects beside the new
 * one. */
int p11_data_write(p11_token *token, const char *label, const char *application,
                   const unsigned char *value, size_t len, p11_error *err);

/*
 * Reads the value of the data object of label and application into *value (malloced,
 * *len bytes, not terminated). When several exist, the one that newer prefers is taken;
 * with newer NULL, the first one found. Returns 0 with *value NULL when there is none.
 */
int p11_data_read(p11_token *token, const char *label, const char *application,
                  p11_data_newer_fn newer, void *ctx, unsigned char **value, size_t *len,
                  p11_error *err);

/* Destroys every data object of label and application; none is not an error. */
int p11_data_remove(p11_token *token, const char *label, const char *application,
                    p11_error *err);

#endif

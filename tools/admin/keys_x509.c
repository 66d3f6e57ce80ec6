/*
 * idsvc-admin keys certificate and request: X.509 objects for a key that never leaves
 * the token. OpenSSL builds the to-be-signed part, the token signs its DER with
 * p11_sign, and the signed object is assembled and parsed back, then checked against
 * the public key.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "keys_internal.h"
#include "number_arg.h"
#include "token_options.h"

#define DAYS_DEFAULT 365
#define DAYS_MAX 3650

/* A failure that did not come from the module. */
static void fail(p11_error *err, const char *message)
{
    if (err == NULL)
        return;
    err->rv = CKR_OK;
    snprintf(err->message, sizeof(err->message), "%s", message);
}

X509_NAME *keys_parse_subject(const char *command, const char *text)
{
    X509_NAME *name = X509_NAME_new();
    char *copy = strdup(text);
    char *field = NULL;
    size_t out = 0;
    int entries = 0;

    if (name == NULL || copy == NULL)
        goto fail;
    if (text[0] != '/') {
        keys_error(command, "--subject must look like /CN=name/O=org, not '%s'", text);
        goto fail;
    }

    /* Splits at each '/' that is not escaped, in place. */
    for (size_t i = 1;; i++) {
        char c = text[i];

        if (c == '\\' && text[i + 1] != '\0') {
            copy[out++] = text[++i];
            continue;
        }
        if (c != '/' && c != '\0') {
            if (field == NULL) {
                field = copy;
                out = 0;
            }
            copy[out++] = c;
            continue;
        }
        if (field != NULL) {
            char *eq;

            copy[out] = '\0';
            eq = strchr(copy, '=');
            if (eq == NULL || eq == copy || eq[1] == '\0') {
                keys_error(command, "--subject part '%s' is not TYPE=value", copy);
                goto fail;
            }
            *eq = '\0';
            if (X509_NAME_add_entry_by_txt(name, copy, MBSTRING_UTF8,
                                           (const unsigned char *)eq + 1, -1, -1,
                                           0) != 1) {
                keys_error(command, "--subject has an unknown attribute type '%s'", copy);
                goto fail;
            }
            entries++;
            field = NULL;
        }
        if (c == '\0')
            break;
    }
    if (entries == 0) {
        keys_error(command, "--subject '%s' names nothing", text);
        goto fail;
    }
    free(copy);
    return name;

fail:
    free(copy);
    X509_NAME_free(name);
    return NULL;
}

/* The signature algorithm the key type signs X.509 objects with. */
static int signature_nid(p11_key_type type, p11_sign_alg *alg)
{
    switch (type) {
    case P11_KEY_EC_P256:
        *alg = P11_SIGN_ECDSA_SHA256;
        return NID_ecdsa_with_SHA256;
    case P11_KEY_EC_P384:
        *alg = P11_SIGN_ECDSA_SHA384;
        return NID_ecdsa_with_SHA384;
    default:
        *alg = P11_SIGN_RSA_PKCS1_SHA256;
        return NID_sha256WithRSAEncryption;
    }
}

/* sha256WithRSAEncryption carries a NULL parameter; the ECDSA ones carry none. */
static int set_algorithm(X509_ALGOR *alg, int nid)
{
    int ptype = nid == NID_sha256WithRSAEncryption ? V_ASN1_NULL : V_ASN1_UNDEF;

    return X509_ALGOR_set0(alg, OBJ_nid2obj(nid), ptype, NULL);
}

/* XML-DSig wants raw r||s, X.509 wants the DER ECDSA-Sig-Value. */
static int raw_to_der(const unsigned char *raw, size_t len, unsigned char **der,
                      size_t *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, (int)(len / 2), NULL);
    BIGNUM *s = BN_bin2bn(raw + len / 2, (int)(len / 2), NULL);
    int n = -1;

    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig now */
        n = i2d_ECDSA_SIG(sig, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    if (n <= 0)
        return -1;
    *der_len = (size_t)n;
    return 0;
}

/* Appends a DER tag and length to buf; returns the bytes written. */
static size_t der_header(unsigned char *buf, unsigned char tag, size_t len)
{
    size_t n = 0;

    buf[n++] = tag;
    if (len < 0x80) {
        buf[n++] = (unsigned char)len;
    } else {
        unsigned char bytes[sizeof(size_t)];
        size_t count = 0;

        for (size_t v = len; v > 0; v >>= 8)
            bytes[count++] = (unsigned char)(v & 0xff);
        buf[n++] = (unsigned char)(0x80 | count);
        while (count > 0)
            buf[n++] = bytes[--count];
    }
    return n;
}

/*
 * Signs tbs inside the token and returns the DER of SEQUENCE { tbs, algorithm,
 * BIT STRING signature }, the outer form of certificates and requests alike.
 */
static unsigned char *sign_outer(p11_key *key, const unsigned char *tbs, size_t tbs_len,
                                 int nid, p11_sign_alg alg, size_t *out_len,
                                 p11_error *err)
{
    unsigned char raw[512];
    size_t raw_len = sizeof(raw);
    unsigned char *der_sig = NULL;
    const unsigned char *sig;
    size_t sig_len;
    X509_ALGOR *algorithm = X509_ALGOR_new();
    unsigned char *alg_der = NULL;
    int alg_len;
    unsigned char head[16];
    unsigned char bit_head[16];
    size_t head_len, bit_head_len, body_len;
    unsigned char *out = NULL;

    if (algorithm == NULL || set_algorithm(algorithm, nid) != 1 ||
        (alg_len = i2d_X509_ALGOR(algorithm, &alg_der)) <= 0) {
        fail(err, "cannot encode the signature algorithm");
        goto out;
    }
    if (p11_sign(key, alg, tbs, tbs_len, raw, &raw_len, err) != 0)
        goto out;
    sig = raw;
    sig_len = raw_len;
    if (alg != P11_SIGN_RSA_PKCS1_SHA256) {
        if (raw_to_der(raw, raw_len, &der_sig, &sig_len) != 0) {
            fail(err, "cannot encode the ECDSA signature");
            goto out;
        }
        sig = der_sig;
    }

    /* BIT STRING: a leading byte of 0 unused bits, then the signature. */
    bit_head_len = der_header(bit_head, 0x03, sig_len + 1);
    body_len = tbs_len + (size_t)alg_len + bit_head_len + 1 + sig_len;
    head_len = der_header(head, 0x30, body_len);
    out = malloc(head_len + body_len);
    if (out == NULL) {
        fail(err, "out of memory");
        goto out;
    }
    {
        unsigned char *p = out;

        memcpy(p, head, head_len);
        p += head_len;
        memcpy(p, tbs, tbs_len);
        p += tbs_len;
        memcpy(p, alg_der, (size_t)alg_len);
        p += alg_len;
        memcpy(p, bit_head, bit_head_len);
        p += bit_head_len;
        *p++ = 0x00;
        memcpy(p, sig, sig_len);
    }
    *out_len = head_len + body_len;
out:
    OPENSSL_free(der_sig);
    OPENSSL_free(alg_der);
    X509_ALGOR_free(algorithm);
    return out;
}

static int add_extension(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    int ok = ext != NULL && X509_add_ext(cert, ext, -1) == 1;

    X509_EXTENSION_free(ext);
    return ok ? 0 : -1;
}

static int random_serial(X509 *cert)
{
    unsigned char bytes[16];
    BIGNUM *bn;
    int ok;

    /* 127 random bits: positive, and never zero in practice. */
    if (RAND_bytes(bytes, sizeof(bytes)) != 1)
        return -1;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x40;
    bn = BN_bin2bn(bytes, sizeof(bytes), NULL);
    ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

X509 *keys_self_signed_cert(p11_key *key, X509_NAME *subject, int days, p11_error *err)
{
    EVP_PKEY *pkey = p11_key_get_public(key, err);
    X509 *cert = X509_new();
    X509 *signed_cert = NULL;
    unsigned char *tbs = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t der_len = 0;
    int tbs_len;
    p11_sign_alg alg;
    int nid = signature_nid(p11_key_get_type(key), &alg);
    X509V3_CTX ctx;

    /* A peer whose clock runs a little behind must not see a certificate from the
     * future, and xmlsec1 1.2.37 rejects a trusted certificate made in the same second. */
    enum { NOT_BEFORE_BACKDATE_SECONDS = 300 };

    if (pkey == NULL || cert == NULL)
        goto out;
    if (X509_set_version(cert, X509_VERSION_3) != 1 || random_serial(cert) != 0 ||
        X509_set_subject_name(cert, subject) != 1 ||
        X509_set_issuer_name(cert, subject) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(cert), -NOT_BEFORE_BACKDATE_SECONDS) == NULL ||
        X509_time_adj_ex(X509_getm_notAfter(cert), days, 0, NULL) == NULL ||
        X509_set_pubkey(cert, pkey) != 1) {
        fail(err, "cannot fill the certificate");
        goto out;
    }

    X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
    if (add_extension(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_extension(cert, &ctx, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_extension(cert, &ctx, NID_subject_key_identifier, "hash") != 0) {
        fail(err, "cannot add the certificate's extensions");
        goto out;
    }

    /* The algorithm inside the signed part must equal the outer one. */
    if (set_algorithm((X509_ALGOR *)X509_get0_tbs_sigalg(cert), nid) != 1 ||
        (tbs_len = i2d_re_X509_tbs(cert, &tbs)) <= 0) {
        fail(err, "cannot encode the certificate to be signed");
        goto out;
    }
    der = sign_outer(key, tbs, (size_t)tbs_len, nid, alg, &der_len, err);
    if (der == NULL)
        goto out;
    p = der;
    signed_cert = d2i_X509(NULL, &p, (long)der_len);
    if (signed_cert == NULL || p != der + der_len) {
        fail(err, "the signed certificate does not parse");
        X509_free(signed_cert);
        signed_cert = NULL;
        goto out;
    }
    if (X509_verify(signed_cert, pkey) != 1) {
        fail(err, "the token's signature on the certificate does not verify");
        X509_free(signed_cert);
        signed_cert = NULL;
    }
out:
    free(der);
    OPENSSL_free(tbs);
    X509_free(cert);
    EVP_PKEY_free(pkey);
    return signed_cert;
}

X509_REQ *keys_cert_request(p11_key *key, X509_NAME *subject, p11_error *err)
{
    EVP_PKEY *pkey = p11_key_get_public(key, err);
    X509_REQ *req = X509_REQ_new();
    X509_REQ *signed_req = NULL;
    unsigned char *tbs = NULL;
    unsigned char *der = NULL;
    const unsigned char *p;
    size_t der_len = 0;
    int tbs_len;
    p11_sign_alg alg;
    int nid = signature_nid(p11_key_get_type(key), &alg);

    if (pkey == NULL || req == NULL)
        goto out;
    if (X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
        X509_REQ_set_subject_name(req, subject) != 1 ||
        X509_REQ_set_pubkey(req, pkey) != 1 ||
        (tbs_len = i2d_re_X509_REQ_tbs(req, &tbs)) <= 0) {
        fail(err, "cannot encode the request to be signed");
        goto out;
    }
    der = sign_outer(key, tbs, (size_t)tbs_len, nid, alg, &der_len, err);
    if (der == NULL)
        goto out;
    p = der;
    signed_req = d2i_X509_REQ(NULL, &p, (long)der_len);
    if (signed_req == NULL || p != der + der_len ||
        X509_REQ_verify(signed_req, pkey) != 1) {
        fail(err, "the token's signature on the request does not verify");
        X509_REQ_free(signed_req);
        signed_req = NULL;
    }
out:
    free(der);
    OPENSSL_free(tbs);
    X509_REQ_free(req);
    EVP_PKEY_free(pkey);
    return signed_req;
}

int keys_write_pem(const char *command, const char *path, X509 *cert, X509_REQ *req)
{
    FILE *file = stdout;
    int ok;

    if (path != NULL) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        file = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (file == NULL) {
            keys_error(command, "cannot write '%s': %s", path, strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
    }
    ok = cert != NULL ? PEM_write_X509(file, cert) : PEM_write_X509_REQ(file, req);
    if (path != NULL)
        ok = (fclose(file) == 0) && ok;
    else
        ok = (fflush(file) == 0) && ok;
    if (!ok) {
        keys_error(command, "cannot write '%s'", path != NULL ? path : "standard output");
        return -1;
    }
    return 0;
}

typedef struct x509_options {
    p11_config config;
    const char *uri;
    const char *subject;
    const char *out;
    int days;
    bool store;
} x509_options;

static int parse_options(const char *command, bool certificate, int argc, char **argv,
                         x509_options *o, int *code)
{
    static const struct option cert_options[] = {
        {"key", required_argument, NULL, OPTION_KEY},
        {"subject", required_argument, NULL, OPTION_SUBJECT},
        {"days", required_argument, NULL, OPTION_DAYS},
        {"out", required_argument, NULL, OPTION_OUT},
        {"store", no_argument, NULL, OPTION_STORE},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    static const struct option request_options[] = {
        {"key", required_argument, NULL, OPTION_KEY},
        {"subject", required_argument, NULL, OPTION_SUBJECT},
        {"out", required_argument, NULL, OPTION_OUT},
        {"help", no_argument, NULL, OPTION_HELP},
        TOKEN_OPTION_ENTRIES,
        REJECTED_PIN_ENTRIES,
        {NULL, 0, NULL, 0},
    };
    int option;

    memset(o, 0, sizeof(*o));
    o->days = DAYS_DEFAULT;
    while ((option = getopt_long(argc, argv, "",
                                 certificate ? cert_options : request_options, NULL)) !=
           -1) {
        if (option == OPTION_KEY) {
            o->uri = optarg;
        } else if (option == OPTION_SUBJECT) {
            o->subject = optarg;
        } else if (option == OPTION_OUT) {
            o->out = optarg;
        } else if (option == OPTION_STORE) {
            o->store = true;
        } else if (option == OPTION_DAYS) {
            char program[64];
            uint64_t days;

            snprintf(program, sizeof(program), "idsvc-admin keys %s", command);
            if (admin_parse_number(program, "--days", optarg, 1, DAYS_MAX, &days) != 0) {
                *code = KEYS_EXIT_USAGE;
                return -1;
            }
            o->days = (int)days;
        } else if (keys_common_option(command, option, &o->config, argv, code) != 0) {
            return -1;
        }
    }
    if (optind != argc || o->uri == NULL || o->subject == NULL) {
        keys_error(command, "--key URI and --subject /CN=... are required");
        *code = KEYS_EXIT_USAGE;
        return -1;
    }
    return 0;
}

static int run(const char *command, bool certificate, int argc, char **argv)
{
    x509_options o;
    X509_NAME *subject = NULL;
    p11_token *token = NULL;
    p11_key *key = NULL;
    X509 *cert = NULL;
    X509_REQ *req = NULL;
    p11_error err;
    int code = KEYS_EXIT_OK;

    if (parse_options(command, certificate, argc, argv, &o, &code) != 0)
        return code;
    subject = keys_parse_subject(command, o.subject);
    if (subject == NULL)
        return KEYS_EXIT_USAGE;

    code = keys_open_token(command, &o.config, &token);
    if (code == KEYS_EXIT_OK)
        code = keys_find_key(command, token, o.uri, &key);
    if (code != KEYS_EXIT_OK)
        goto out;

    memset(&err, 0, sizeof(err));
    if (certificate)
        cert = keys_self_signed_cert(key, subject, o.days, &err);
    else
        req = keys_cert_request(key, subject, &err);
    if (cert == NULL && req == NULL) {
        keys_error(command, "key %s: %s", o.uri, err.message);
        code = KEYS_EXIT_FAILED;
        goto out;
    }
    if (o.store && p11_cert_store(token, key, cert, &err) != 0) {
        keys_error(command, "storing the certificate beside %s: %s", o.uri, err.message);
        code = KEYS_EXIT_FAILED;
        goto out;
    }
    if (keys_write_pem(command, o.out, cert, req) != 0)
        code = KEYS_EXIT_FAILED;
out:
    X509_free(cert);
    X509_REQ_free(req);
    X509_NAME_free(subject);
    p11_key_free(&key);
    p11_token_close(&token);
    return code;
}

int keys_certificate_main(int argc, char **argv)
{
    return run("certificate", true, argc, argv);
}

int keys_request_main(int argc, char **argv)
{
    return run("request", false, argc, argv);
}

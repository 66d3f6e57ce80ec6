#include "interop_files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "test_token.h"

static int add_extension(X509 *cert, X509 *issuer, int nid, const char *value)
{
    X509V3_CTX context;
    X509_EXTENSION *extension;
    int result;

    X509V3_set_ctx(&context, issuer, cert, NULL, NULL, 0);
    extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL)
        return -1;
    result = X509_add_ext(cert, extension, -1) == 1 ? 0 : -1;
    X509_EXTENSION_free(extension);
    return result;
}

/* Makes an unsigned certificate valid from one hour ago for one day. */
static X509 *new_cert(EVP_PKEY *public_key, const char *cn, long serial)
{
    X509 *cert = X509_new();
    X509_NAME *name = X509_get_subject_name(cert);

    if (X509_set_version(cert, 2) != 1 ||
        ASN1_INTEGER_set(X509_get_serialNumber(cert), serial) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(cert), -3600) == NULL ||
        X509_gmtime_adj(X509_getm_notAfter(cert), 86400) == NULL ||
        X509_set_pubkey(cert, public_key) != 1 ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn,
                                   -1, -1, 0) != 1) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

int interop_ca_create(interop_ca *ca)
{
    memset(ca, 0, sizeof(*ca));
    ca->key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    if (ca->key == NULL)
        return -1;
    ca->cert = new_cert(ca->key, "idsvc interop test CA", 1);
    if (ca->cert == NULL ||
        X509_set_issuer_name(ca->cert, X509_get_subject_name(ca->cert)) != 1 ||
        add_extension(ca->cert, ca->cert, NID_basic_constraints, "critical,CA:TRUE") !=
            0 ||
        add_extension(ca->cert, ca->cert, NID_key_usage, "critical,keyCertSign") != 0 ||
        X509_sign(ca->cert, ca->key, EVP_sha256()) == 0) {
        interop_ca_destroy(ca);
        return -1;
    }
    return 0;
}

void interop_ca_destroy(interop_ca *ca)
{
    EVP_PKEY_free(ca->key);
    X509_free(ca->cert);
    memset(ca, 0, sizeof(*ca));
}

X509 *interop_ca_issue(const interop_ca *ca, EVP_PKEY *public_key, const char *cn)
{
    static long serial = 100;
    X509 *cert = new_cert(public_key, cn, serial++);

    if (cert == NULL)
        return NULL;
    if (X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) != 1 ||
        add_extension(cert, ca->cert, NID_key_usage, "critical,digitalSignature") != 0 ||
        X509_sign(cert, ca->key, EVP_sha256()) == 0) {
        X509_free(cert);
        return NULL;
    }
    return cert;
}

int interop_write_cert_pem(X509 *cert, const char *path)
{
    FILE *file = fopen(path, "w");
    int result = -1;

    if (file == NULL)
        return -1;
    if (PEM_write_X509(file, cert) == 1)
        result = 0;
    if (fclose(file) != 0)
        result = -1;
    return result;
}

int interop_write_file(const char *path, const char *data, size_t len)
{
    FILE *file = fopen(path, "wb");
    int result = -1;

    if (file == NULL)
        return -1;
    if (fwrite(data, 1, len, file) == len)
        result = 0;
    if (fclose(file) != 0)
        result = -1;
    return result;
}

int interop_run_captured(const char *command, const char *output_path, char **output)
{
    size_t size = strlen(command) + strlen(output_path) + 16;
    char *full = malloc(size);
    int status;

    *output = NULL;
    if (full == NULL)
        return -1;
    snprintf(full, size, "%s >%s 2>&1", command, output_path);
    status = test_run(full);
    free(full);

    *output = test_read_file(output_path, NULL);
    if (*output == NULL)
        *output = strdup("");
    return status;
}

/* The relying party's verification settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "pem_file.h"
#include "webauthn_internal.h"

webauthn_verifier *webauthn_verifier_new(const char *rp_id)
{
    webauthn_verifier *verifier;

    if (rp_id == NULL || rp_id[0] == '\0')
        return NULL;
    verifier = calloc(1, sizeof(*verifier));
    if (verifier == NULL)
        return NULL;

    verifier->rp_id = strdup(rp_id);
    verifier->roots = X509_STORE_new();
    if (verifier->rp_id == NULL || verifier->roots == NULL ||
        webauthn_sha256((const unsigned char *)rp_id, strlen(rp_id),
                        verifier->rp_id_hash) != 0) {
        webauthn_verifier_free(&verifier);
        return NULL;
    }
    verifier->policy = WEBAUTHN_ATTESTATION_ANY;
    return verifier;
}

void webauthn_verifier_free(webauthn_verifier **verifier_p)
{
    webauthn_verifier *verifier;

    if (verifier_p == NULL || (verifier = *verifier_p) == NULL)
        return;

    for (size_t i = 0; i < verifier->origin_count; i++)
        free(verifier->origins[i]);
    free(verifier->origins);
    X509_STORE_free(verifier->roots);
    free(verifier->algorithms);
    free(verifier->rp_id);
    free(verifier);
    *verifier_p = NULL;
}

int webauthn_verifier_add_origin(webauthn_verifier *verifier, const char *origin)
{
    char **origins;
    char *copy = strdup(origin);

    if (copy == NULL)
        return -1;
    origins = realloc(verifier->origins, (verifier->origin_count + 1) * sizeof(*origins));
    if (origins == NULL) {
        free(copy);
        return -1;
    }
    origins[verifier->origin_count++] = copy;
    verifier->origins = origins;
    return 0;
}

int webauthn_verifier_add_root(webauthn_verifier *verifier, X509 *root)
{
    /* X509_STORE_add_cert takes its own reference. */
    if (X509_STORE_add_cert(verifier->roots, root) != 1) {
        ERR_clear_error();
        return -1;
    }
    verifier->root_count++;
    return 0;
}

int webauthn_verifier_add_roots_file(webauthn_verifier *verifier, const char *path,
                                     webauthn_error *err)
{
    char detail[384] = "";
    X509 **certs = NULL;
    size_t count = 0;
    int result = 0;

    /* Every certificate of the file is a root, and one bad block rejects the file. */
    if (pem_read_certificates(path, &certs, &count, detail, sizeof(detail)) != 0) {
        webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR, "Cannot read the root file %s.",
                      detail);
        return -1;
    }
    for (size_t i = 0; i < count && result == 0; i++) {
        result = webauthn_verifier_add_root(verifier, certs[i]);
        if (result != 0)
            webauthn_fail(err, WEBAUTHN_INTERNAL_ERROR,
                          "Cannot add certificate %zu of %s to the trust store.", i + 1,
                          path);
    }
    pem_certificates_free(&certs, count);
    return result;
}

void webauthn_verifier_set_policy(webauthn_verifier *verifier,
                                  webauthn_attestation_policy policy)
{
    verifier->policy = policy;
}

void webauthn_verifier_set_require_uv(webauthn_verifier *verifier, bool require_uv)
{
    verifier->require_uv = require_uv;
}

void webauthn_verifier_set_allow_cross_origin(webauthn_verifier *verifier, bool allow)
{
    verifier->allow_cross_origin = allow;
}

void webauthn_verifier_set_time(webauthn_verifier *verifier, time_t at)
{
    verifier->at = at;
}

static const int64_t credential_algorithms[] = {
    WEBAUTHN_COSE_ES256, WEBAUTHN_COSE_RS256, WEBAUTHN_COSE_EDDSA, WEBAUTHN_COSE_ES384,
    WEBAUTHN_COSE_ES512, WEBAUTHN_COSE_PS256, WEBAUTHN_COSE_PS384, WEBAUTHN_COSE_PS512,
    WEBAUTHN_COSE_RS384, WEBAUTHN_COSE_RS512,
};

const int64_t *webauthn_credential_algorithms(size_t *count)
{
    *count = sizeof(credential_algorithms) / sizeof(credential_algorithms[0]);
    return credential_algorithms;
}

const char *webauthn_algorithm_name(int64_t alg)
{
    return webauthn_cose_alg_name(alg);
}

static bool credential_algorithm_known(int64_t alg)
{
    for (size_t i = 0;
         i < sizeof(credential_algorithms) / sizeof(credential_algorithms[0]); i++) {
        if (credential_algorithms[i] == alg)
            return true;
    }
    return false;
}

int webauthn_verifier_set_algorithms(webauthn_verifier *verifier, const int64_t *algs,
                                     size_t count)
{
    int64_t *copy;

    for (size_t i = 0; i < count; i++) {
        if (!credential_algorithm_known(algs[i]))
            return -1;
    }
    copy = calloc(count > 0 ? count : 1, sizeof(*copy));
    if (copy == NULL)
        return -1;
    if (count > 0)
        memcpy(copy, algs, count * sizeof(*copy));
    free(verifier->algorithms);
    verifier->algorithms = copy;
    verifier->algorithm_count = count;
    return 0;
}

bool webauthn_verifier_offers(const webauthn_verifier *verifier, int64_t alg)
{
    if (verifier->algorithms == NULL)
        return credential_algorithm_known(alg);
    for (size_t i = 0; i < verifier->algorithm_count; i++) {
        if (verifier->algorithms[i] == alg)
            return true;
    }
    return false;
}

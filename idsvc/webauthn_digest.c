/* SHA-256 and SM3, each with an implementation fetched once per process. */
#include <openssl/crypto.h>
#include <openssl/err.h>

#include "webauthn_internal.h"

/* OpenSSL 3.0 fetches the implementation on every SHA256() call and every digest
 * context set up with EVP_sha256(); on the small inputs here that fetch cost more than
 * the hashing itself. */
static EVP_MD *sha256_md;
static CRYPTO_ONCE sha256_once = CRYPTO_ONCE_STATIC_INIT;

static void sha256_init(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA2-256", NULL);
}

const EVP_MD *webauthn_sha256_md(void)
{
    if (CRYPTO_THREAD_run_once(&sha256_once, sha256_init) != 1)
        return NULL;
    return sha256_md;
}

int webauthn_sha256(const unsigned char *data, size_t len, unsigned char hash[32])
{
    const EVP_MD *md = webauthn_sha256_md();
    unsigned int hash_len = 0;

    if (md == NULL || EVP_Digest(data, len, hash, &hash_len, md, NULL) != 1 ||
        hash_len != 32)
        return -1;
    return 0;
}

static EVP_MD *sm3_md;
static CRYPTO_ONCE sm3_once = CRYPTO_ONCE_STATIC_INIT;

static void sm3_init(void)
{
    sm3_md = EVP_MD_fetch(NULL, WEBAUTHN_SM3_NAME, NULL);
    if (sm3_md == NULL)
        ERR_clear_error(); /* the failed fetch queued an error that nothing reads */
}

const EVP_MD *webauthn_sm3_md(void)
{
    if (CRYPTO_THREAD_run_once(&sm3_once, sm3_init) != 1)
        return NULL;
    return sm3_md;
}

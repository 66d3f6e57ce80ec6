/* Helpers shared by the HSM layer's tests. */
#ifndef IDSVC_P11_TEST_UTIL_H
#define IDSVC_P11_TEST_UTIL_H

#include <stdbool.h>

#include "p11.h"
#include "test_token.h"

/* A config for the test token: its label, its PIN file and the given module. */
p11_config p11_test_config(const test_token *token, const char *module_path);

/* Makes a fresh test token and opens it with the layer. Returns 0, or -1 after printing
 * why it failed and removing the token's folder. */
int p11_test_open_fresh(test_token *dir, p11_token **token);

/* Closes the token of p11_test_open_fresh and removes its folder. */
void p11_test_close_fresh(test_token *dir, p11_token **token);

/* The signature algorithm a key type uses by default. */
p11_sign_alg p11_test_default_alg(p11_key_type type);

/* Verifies a signature from p11_sign with OpenSSL; ECDSA raw r||s is turned into DER. */
bool p11_test_verify(EVP_PKEY *pkey, p11_sign_alg alg, const unsigned char *data,
                     size_t len, const unsigned char *sig, size_t sig_len);

/* Return the function list of a module this process has loaded already, and the slot of
 * the token with this label. Tests use them to check the token beside the layer. */
CK_FUNCTION_LIST_PTR p11_test_functions(const char *module_path);
CK_SLOT_ID p11_test_slot(CK_FUNCTION_LIST_PTR f, const char *label);

#endif

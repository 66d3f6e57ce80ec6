/*
 * Fuzzes the policy bundle parser (schema validation and the checks of one bundle) and
 * the compiler of a policy set made of that one bundle. The signature is not verified.
 */
#include <stdlib.h>

#include "fuzz_harness.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    policy_bundle *bundle = NULL;
    policy_set *set = NULL;
    policy_error err = {0};

    if (policy_bundle_parse((const char *)data, size, NULL, &bundle, &err) != 0) {
        if (bundle != NULL)
            abort();
        return 0;
    }
    if (policy_set_compile(&bundle, 1, &set, &err) == 0)
        policy_set_release(&set);
    policy_bundle_free(&bundle);
    return 0;
}

#include "config_trust.h"

#include <stdbool.h>
#include <stddef.h>

#include "policy_internal.h"

/* Adds the keys of each [regulator] section, bound to what it signs, then the keys of
 * trust_list that no section binds. */
static int add_regulators(policy_trust *trust, const config_policy *policy,
                          policy_error *err)
{
    for (size_t i = 0; i < policy->regulator_count; i++) {
        const config_regulator *regulator = &policy->regulators[i];
        policy_signer signer = {
            .regulator = regulator->name,
            .base = regulator->signs_base,
            .jurisdictions = (const char *const *)regulator->jurisdictions,
            .jurisdiction_count = regulator->jurisdiction_count,
        };

        for (size_t k = 0; k < regulator->key_count; k++) {
            if (policy_trust_add_pem(trust, regulator->key_files[k], &signer, err) != 0)
                return -1;
        }
    }
    if (policy->trust_file != NULL &&
        policy_trust_add_pem(trust, policy->trust_file, NULL, err) != 0)
        return -1;
    return 0;
}

int config_load_policy_trust(const config_policy *policy, policy_trust **out,
                             policy_error *err)
{
    policy_trust *trust = NULL;

    *out = NULL;
    if (policy->regulator_count == 0 && policy->trust_file == NULL)
        return policy_fail(
            err, POLICY_E_UNTRUSTED, 0,
            "no regulator key: add a [regulator NAME] section with key and "
            "signs");
    if (policy->regulator_count == 0)
        return policy_trust_load(policy->trust_file, out, err);

    if (policy_trust_create(&trust, err) != 0 ||
        add_regulators(trust, policy, err) != 0) {
        policy_trust_free(&trust);
        return -1;
    }
    *out = trust; /* ownership passes to the caller */
    return 0;
}

/*
 * The regulator trust list that a configuration describes, built the same way for the
 * node's policy store and for `idsvc-admin policy verify --config`.
 */
#ifndef IDSVC_CONFIG_TRUST_H
#define IDSVC_CONFIG_TRUST_H

#include "config.h"
#include "policy.h"

/*
 * Builds the trust list of policy's [regulator] sections and trust_list. Without
 * [regulator] sections, every key of trust_list may sign every bundle. With them, each
 * section's keys sign what its signs line lists, and a key of trust_list that no section
 * lists signs nothing. Fails with POLICY_E_UNTRUSTED when policy names no key, and with
 * the error of policy_trust_add_pem when a key file cannot be read or bound.
 */
int config_load_policy_trust(const config_policy *policy, policy_trust **out,
                             policy_error *err);

#endif

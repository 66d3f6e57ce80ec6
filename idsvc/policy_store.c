/*
 * The node's bundle loader. A load verifies every bundle against the regulator trust
 * list, checks that the verifying key may sign it and that its effective dates contain
 * the load time, runs the meaning checks of `idsvc-admin policy validate`, and compiles
 * a new set before it touches the current one. The swap
 * exchanges the set, and the trust list when the load brings a new one, under a mutex.
 * Sets are reference-counted, so evaluations in flight finish with the set they started
 * with. Only loads read the trust list, and they run one at a time.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_internal.h"

struct policy_store {
    policy_trust *trust;
    pthread_mutex_t lock;      /* guards current and trust */
    pthread_mutex_t load_lock; /* held for a whole load */
    policy_set *current;
};

int policy_store_create(policy_trust *trust, policy_store **out, policy_error *err)
{
    policy_store *store;

    *out = NULL;
    if (trust == NULL || policy_trust_count(trust) == 0)
        return policy_fail(
            err, POLICY_E_UNTRUSTED, 0,
            "a policy store needs a trust list with at least one regulator key");
    store = calloc(1, sizeof(*store));
    if (store == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory creating the store");
    if (pthread_mutex_init(&store->lock, NULL) != 0) {
        free(store);
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "cannot create the store's mutex");
    }
    if (pthread_mutex_init(&store->load_lock, NULL) != 0) {
        pthread_mutex_destroy(&store->lock);
        free(store);
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "cannot create the store's mutex");
    }
    store->trust = trust; /* ownership passes to the store */
    *out = store;
    return 0;
}

void policy_store_free(policy_store **store)
{
    if (store == NULL || *store == NULL)
        return;
    policy_set_release(&(*store)->current);
    policy_trust_free(&(*store)->trust);
    pthread_mutex_destroy(&(*store)->lock);
    pthread_mutex_destroy(&(*store)->load_lock);
    free(*store);
    *store = NULL;
}

static int check_dates(const policy_bundle *bundle, const char *path, time_t now,
                       policy_error *err)
{
    char when[32];

    if (now < bundle->effective_from) {
        policy_format_utc(bundle->effective_from, when, sizeof(when));
        return policy_fail(err, POLICY_E_NOT_YET, 0,
                           "%s: bundle %s version %ld takes effect "
                           "only at %s",
                           path, bundle->id, bundle->version, when);
    }
    if (bundle->effective_until != 0 && now >= bundle->effective_until) {
        policy_format_utc(bundle->effective_until, when, sizeof(when));
        return policy_fail(err, POLICY_E_EXPIRED, 0,
                           "%s: bundle %s version %ld expired at %s", path, bundle->id,
                           bundle->version, when);
    }
    return 0;
}

/* Reads, verifies and parses one bundle; the signature covers the very bytes parsed.
 * The kind and jurisdiction that the key must be bound to are read only after the
 * signature verified, so they are the signed ones. */
static int load_one(const policy_trust *trust, const char *path, time_t now,
                    policy_bundle **out, policy_error *err)
{
    char *xml = NULL;
    size_t len = 0;
    size_t key_index = 0;
    int rc = -1;

    if (policy_read_file(path, &xml, &len, err) != 0)
        return -1;
    if (policy_verify_document(xml, len, trust, &key_index, err) != 0) {
        char message[sizeof(err->message) + PATH_MAX];

        if (err != NULL) {
            snprintf(message, sizeof(message), "%s: %s", path, err->message);
            snprintf(err->message, sizeof(err->message), "%.*s",
                     (int)sizeof(err->message) - 1, message);
        }
        goto out;
    }
    if (policy_bundle_parse(xml, len, path, out, err) != 0)
        goto out;
    if (policy_trust_authorise(trust, key_index, *out, path, err) != 0 ||
        check_dates(*out, path, now, err) != 0) {
        policy_bundle_free(out);
        goto out;
    }
    rc = 0;

out:
    free(xml);
    return rc;
}

/* Fails the load with the first error finding: its code, file and line. */
static int fail_with_finding(const policy_findings *findings, policy_error *err)
{
    for (size_t i = 0; i < findings->count; i++) {
        const policy_finding *finding = &findings->items[i];
        bool set_finding = strcmp(finding->code, "no_base_bundle") == 0 ||
                           strcmp(finding->code, "duplicate_bundle_id") == 0;
        policy_error_code code = set_finding ? POLICY_E_SET : POLICY_E_SEMANTIC;

        if (!finding->error)
            continue;
        if (finding->line > 0)
            policy_fail(err, code, finding->line, "%s:%d: %s", finding->path,
                        finding->line, finding->message);
        else
            policy_fail(err, code, 0, "%s: %s", finding->path, finding->message);
        if (err != NULL)
            snprintf(err->check, sizeof(err->check), "%s", finding->code);
        return -1;
    }
    /* policy_findings_add drops a finding only when it runs out of memory. */
    return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory checking the bundles");
}

/* Runs the meaning checks and compiles the set. An error finding fails the load, and
 * each warning goes to input->warn once the set compiled. */
static int check_and_compile(policy_bundle *const *bundles,
                             const policy_load_input *input, policy_set **out,
                             policy_error *err)
{
    policy_findings findings = {0};
    int rc = -1;

    if (policy_check_names(bundles, input->count, &findings) != 0) {
        fail_with_finding(&findings, err);
        goto out;
    }
    if (policy_set_compile(bundles, input->count, out, err) != 0)
        goto out;
    policy_check_reach(*out, bundles, &findings);
    for (size_t i = 0; input->warn != NULL && i < findings.count; i++) {
        const policy_finding *finding = &findings.items[i];

        input->warn(input->warn_ctx, finding->code, finding->path, finding->line,
                    finding->message);
    }
    rc = 0;

out:
    policy_findings_clear(&findings);
    return rc;
}

/* Reads, verifies, checks and compiles every bundle of input with trust into *out. */
static int compile_bundles(const policy_trust *trust, const policy_load_input *input,
                           policy_set **out, policy_error *err)
{
    policy_bundle **bundles = calloc(input->count + 1, sizeof(*bundles));
    int rc = -1;

    if (bundles == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory loading bundles");

    for (size_t i = 0; i < input->count; i++) {
        if (load_one(trust, input->paths[i], input->now, &bundles[i], err) != 0)
            goto out;
    }
    rc = check_and_compile(bundles, input, out, err);

out:
    for (size_t i = 0; i < input->count; i++)
        policy_bundle_free(&bundles[i]);
    free(bundles);
    return rc;
}

/* Puts set, and trust when it is not NULL, in force, and frees what they replace. */
static void swap_in(policy_store *store, policy_set *set, policy_trust *trust)
{
    policy_trust *old_trust = NULL;
    policy_set *old_set;

    pthread_mutex_lock(&store->lock);
    old_set = store->current;
    store->current = set; /* the store now holds the compiled set's first reference */
    if (trust != NULL) {
        old_trust = store->trust;
        store->trust = trust;
    }
    pthread_mutex_unlock(&store->lock);
    policy_set_release(&old_set);
    policy_trust_free(&old_trust);
}

int policy_store_load_from(policy_store *store, const policy_load_input *input,
                           policy_error *err)
{
    policy_set *set = NULL;
    int rc = -1;

    if (input->trust != NULL && policy_trust_count(input->trust) == 0)
        return policy_fail(err, POLICY_E_UNTRUSTED, 0,
                           "the new trust list has no regulator key");

    pthread_mutex_lock(&store->load_lock);
    if (compile_bundles(input->trust != NULL ? input->trust : store->trust, input, &set,
                        err) == 0) {
        if (input->accept != NULL && input->accept(input->accept_ctx, set, err) != 0) {
            policy_set_release(&set);
        } else {
            swap_in(store, set, input->trust);
            rc = 0;
        }
    }
    pthread_mutex_unlock(&store->load_lock);
    return rc;
}

int policy_store_load(policy_store *store, const char *const *paths, size_t count,
                      time_t now, policy_error *err)
{
    const policy_load_input input = {.paths = paths, .count = count, .now = now};

    return policy_store_load_from(store, &input, err);
}

policy_set *policy_store_acquire(policy_store *store)
{
    policy_set *set;

    pthread_mutex_lock(&store->lock);
    set = policy_set_ref(store->current);
    pthread_mutex_unlock(&store->lock);
    return set;
}

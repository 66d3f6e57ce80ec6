/*
 * Loads the regulator keys of the [regulator] sections and [policy] trust_list, and the
 * policy bundles that [policy] names, into the node's policy store, at start and on
 * SIGHUP. The store verifies every bundle against those keys. It checks that the
 * verifying key is bound to the bundle's kind and jurisdiction and that the bundle's
 * effective dates contain the load time. Only then does it swap the keys and the
 * compiled set in together, so a failed reload leaves the node serving with the keys
 * and the set it had.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config_trust.h"
#include "policy_internal.h"
#include "http_policy.h"
#include "log.h"
#include "route_audit.h"
#include "store.h"

/* Writes the current set's bundles as "id vVERSION DIGEST, ..." for log lines. */
static void describe_set(policy_store *bundles, char *buf, size_t size)
{
    policy_set *set = policy_store_acquire(bundles);
    size_t used = 0;

    buf[0] = '\0';
    if (set == NULL) {
        snprintf(buf, size, "none");
        return;
    }
    for (size_t i = 0; i < policy_set_bundle_count(set); i++)
        used += (size_t)snprintf(buf + used, used < size ? size - used : 0, "%s%s v%ld %s",
                                 i > 0 ? ", " : "", policy_set_bundle_id(set, i),
                                 policy_set_bundle_version(set, i),
                                 policy_set_bundle_digest(set, i));
    policy_set_release(&set);
}

/* Returns a set's bundles as [{id, version, digest}] for audit entries. */
static json_t *set_bundle_list(const policy_set *set)
{
    json_t *list = json_array();

    for (size_t i = 0; set != NULL && list != NULL && i < policy_set_bundle_count(set); i++)
        json_array_append_new(list,
                              json_pack("{s:s, s:I, s:s}", "id", policy_set_bundle_id(set, i),
                                        "version",
                                        (json_int_t)policy_set_bundle_version(set, i),
                                        "digest", policy_set_bundle_digest(set, i)));
    return list;
}

/* Returns the bundles of the set in force as [{id, version, digest}]. */
static json_t *bundle_list(policy_store *bundles)
{
    policy_set *set = policy_store_acquire(bundles);
    json_t *list = set_bundle_list(set);

    policy_set_release(&set);
    return list;
}

/* Records the versions of the set ctx in the transaction of the policy_loaded entry (the
 * audit log's write_rows), so that the entry and the record commit together. */
static int write_versions(struct sqlite3 *db, void *ctx)
{
    const policy_set *set = ctx;
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < policy_set_bundle_count(set); i++)
        rc = store_sqlite_write_policy_version(db, policy_set_bundle_id(set, i),
                                               policy_set_bundle_version(set, i),
                                               policy_set_bundle_digest(set, i));
    return rc;
}

/* Records policy_loaded with the bundles of set, and their versions, which later loads
 * may not go below; reason is start or reload. Runs before the set is in force, so a set
 * whose entry fails is not loaded. */
static int audit_loaded(node *n, const char *reason, const policy_set *set,
                        policy_error *err)
{
    json_t *payload = json_pack("{s:s, s:o}", "reason", reason, "bundles",
                                set_bundle_list(set));
    audit_event event = {.kind = "policy_loaded", .payload = payload,
                         .write_rows = write_versions, .write_rows_ctx = (void *)set};
    audit_status status = payload != NULL ? audit_record(n->audit, &event, NULL)
                                          : AUDIT_ERR_NO_MEMORY;

    json_decref(payload);
    if (status == AUDIT_OK)
        return 0;
    log_message(LOG_ERROR, "audit_record_failed",
                "recording policy_loaded and the bundle versions failed: %s",
                audit_status_code(status));
    err->code = POLICY_E_SET;
    err->line = 0;
    snprintf(err->check, sizeof(err->check), "audit_record_failed");
    snprintf(err->message, sizeof(err->message),
             "the policy_loaded audit entry could not be recorded (%s), so the bundles "
             "were not loaded",
             audit_status_code(status));
    return -1;
}

/* Records policy_reload_failed with the stable code and the bundles kept. */
static void audit_reload_failed(node *n, const char *code, const char *error)
{
    /* The sentence may quote a path or a file's bytes that are not valid UTF-8. */
    char *clean = log_utf8_clean(error);

    route_audit_node_event(n, "policy_reload_failed",
                           json_pack("{s:s, s:s?, s:o}", "code", code, "error", clean, "kept",
                                     n->policy != NULL ? bundle_list(n->policy)
                                                       : json_array()));
    free(clean);
}

/* Warns about relying parties whose registry consent setting the engine replaces. */
static void warn_registry_consent(const config *cfg)
{
    for (size_t i = 0; i < cfg->rp_count; i++)
        if (cfg->rps[i].consent_always)
            log_message(LOG_WARN, "registry_consent_ignored",
                        "[rp %s] consent = always has no effect with [policy]: the policy "
                        "engine decides which verifications wait for consent",
                        cfg->rps[i].id);
}

static void log_loaded(node *n, const char *event)
{
    char bundles[1024];

    describe_set(n->policy, bundles, sizeof(bundles));
    log_field fields[] = {{"bundles", bundles}};
    log_event(LOG_INFO, event, fields, 1);
}

/* Returns whether the set declares jurisdiction, the way a request reads a subject's
 * home. */
static bool declares_jurisdiction(const policy_set *set, const char *jurisdiction)
{
    json_t *doc = json_pack("{s:s}", "subject_jurisdiction", jurisdiction);
    policy_request req;
    policy_error request_err = {0};
    bool declared;

    /* The reader checks subject_jurisdiction first, so a later field is at fault
     * whenever the jurisdiction is known. */
    declared = doc != NULL &&
               (policy_request_from_json(set, doc, &req, &request_err) == 0 ||
                strcmp(request_err.field, "subject_jurisdiction") != 0);
    json_decref(doc);
    return declared;
}

/* Accepts a compiled set only when it declares the node's jurisdiction (ctx). That is
 * the subject's home for every credential this node issued, so without it every
 * decision on them would fail. Runs at start and at each reload. */
static int accept_home(const char *jurisdiction, const policy_set *set, policy_error *err)
{
    if (declares_jurisdiction(set, jurisdiction))
        return 0;
    err->code = POLICY_E_SET;
    err->line = 0;
    snprintf(err->check, sizeof(err->check), "home_jurisdiction_unknown");
    snprintf(err->message, sizeof(err->message),
             "[server] jurisdiction %s is not a jurisdiction of the bundles, so no "
             "decision could be made for this node's own credentials",
             jurisdiction);
    return -1;
}

/* Logs each [issuer] whose jurisdiction the set does not declare. Its subjects have no
 * home the rules know, so each verification of its assertions fails with 422
 * subject_jurisdiction_unknown until a bundle declares it. */
static void warn_undeclared_issuer_homes(const config *cfg, const policy_set *set)
{
    for (size_t i = 0; i < cfg->issuer_count; i++) {
        const config_issuer *issuer = &cfg->issuers[i];

        if (issuer->jurisdiction == NULL ||
            declares_jurisdiction(set, issuer->jurisdiction))
            continue;
        log_message(LOG_WARN, "issuer_jurisdiction_undeclared",
                    "[issuer %s] jurisdiction %s is not a jurisdiction of the bundles, so "
                    "verifications of its assertions answer 422 "
                    "subject_jurisdiction_unknown; add a bundle that declares it",
                    issuer->id, issuer->jurisdiction);
    }
}

/* Accepts a compiled set only when its claims catalogue has every name that an [rp]
 * allowed_claims lists, so that a misspelt name stops the start instead of withholding
 * the claim from every verification. NOTE: a SIGHUP applies a new allowed_claims before
 * the bundles reload. When this check then fails, the bundles in force stay, and so does
 * the misspelt name, which is withheld as unknown_claim. */
static int accept_allowed_claims(const config *cfg, const policy_set *set,
                                 policy_error *err)
{
    for (size_t i = 0; i < cfg->rp_count; i++) {
        const config_rp *rp = &cfg->rps[i];

        for (size_t k = 0; k < rp->allowed_count; k++) {
            if (policy_set_find_claim(set, rp->allowed_claims[k]) >= 0)
                continue;
            err->code = POLICY_E_SET;
            err->line = 0;
            snprintf(err->check, sizeof(err->check), "unknown_claim");
            snprintf(err->message, sizeof(err->message),
                     "[rp %s] allowed_claims: \"%s\" is not a claim of the bundles' claims "
                     "catalogue",
                     rp->id, rp->allowed_claims[k]);
            return -1;
        }
    }
    return 0;
}

/*
 * Accepts a compiled set only when no bundle goes below the version recorded for its ID,
 * and none reuses a recorded version with other content. Without it, a replayed older
 * bundle, still validly signed, could undo a regulator's later rule. A regulator that
 * wants the old rules back signs them under a higher version.
 */
static int accept_versions(store *node_store, const policy_set *set, policy_error *err)
{
    for (size_t i = 0; i < policy_set_bundle_count(set); i++) {
        const char *id = policy_set_bundle_id(set, i);
        long version = policy_set_bundle_version(set, i);
        const char *digest = policy_set_bundle_digest(set, i);
        store_policy_version recorded;
        store_status status = node_store->ops->get_policy_version(node_store, id, &recorded);

        if (status == STORE_NOT_FOUND)
            continue;
        err->code = POLICY_E_SET;
        err->line = 0;
        if (status != STORE_OK) {
            snprintf(err->check, sizeof(err->check), "store_unavailable");
            snprintf(err->message, sizeof(err->message),
                     "the recorded version of bundle %s cannot be read", id);
            return -1;
        }
        if (version < recorded.version) {
            snprintf(err->check, sizeof(err->check), "bundle_version_rollback");
            snprintf(err->message, sizeof(err->message),
                     "bundle %s version %ld is older than version %ld, which this node "
                     "loaded before; ask the regulator for a bundle of a higher version",
                     id, version, recorded.version);
            return -1;
        }
        if (version == recorded.version && strcmp(digest, recorded.digest) != 0) {
            snprintf(err->check, sizeof(err->check), "bundle_version_reused");
            snprintf(err->message, sizeof(err->message),
                     "bundle %s version %ld differs from the version %ld that this node "
                     "loaded before (digest %.16s..., now %.16s...); a changed bundle "
                     "needs a higher version",
                     id, version, recorded.version, recorded.digest, digest);
            return -1;
        }
    }
    return 0;
}

/* What accept_set checks a compiled set against: the configuration, and the node's
 * store of loaded versions, which is NULL for --check. A set that passes is recorded
 * as policy_loaded with the reason, unless the node is NULL (--check). */
typedef struct accept_context {
    const config *cfg;
    store *node_store;
    node *n;
    const char *reason;
} accept_context;

/* Accepts a compiled set for the context ctx. Runs at start and at each reload. */
static int accept_set(void *ctx, const policy_set *set, policy_error *err)
{
    const accept_context *context = ctx;

    if (accept_home(context->cfg->jurisdiction, set, err) != 0)
        return -1;
    if (accept_allowed_claims(context->cfg, set, err) != 0)
        return -1;
    if (context->node_store != NULL && accept_versions(context->node_store, set, err) != 0)
        return -1;
    warn_undeclared_issuer_homes(context->cfg, set);
    return context->n != NULL ? audit_loaded(context->n, context->reason, set, err) : 0;
}

/*
 * Logs each key of trust that no [regulator] section binds. Without [regulator]
 * sections, every key of trust_list may sign every bundle, as before bindings existed.
 * With them, a key of trust_list that no section binds signs nothing.
 */
static void warn_unbound_keys(const config *cfg, const policy_trust *trust)
{
    bool bound = cfg->policy.regulator_count > 0;

    for (size_t i = 0; i < policy_trust_count(trust); i++) {
        if (policy_trust_key_regulator(trust, i) != NULL)
            continue;
        log_field fields[] = {
            {"key", policy_trust_key_source(trust, i)},
            {"trusted_for", bound ? "no bundle" : "every bundle"},
            {"fix", "bind the key to what it may sign in a [regulator NAME] section"},
        };
        log_event(LOG_WARN, "policy_key_unbound", fields, 3);
    }
}

/* Logs one warning of the loader's meaning checks, such as a rule that never matches,
 * with the code and line that `idsvc-admin policy validate` reports for it. */
static void log_check_warning(void *ctx, const char *code, const char *path, int line,
                              const char *message)
{
    char line_text[16];

    (void)ctx;
    snprintf(line_text, sizeof(line_text), "%d", line);
    log_field fields[] = {
        {"code", code},
        {"file", path},
        {"line", line_text},
        {"message", message},
    };
    log_event(LOG_WARN, "policy_check_warning", fields, 4);
}

/* Returns the load of the bundles that the context's configuration names, with the
 * store's keys. */
static policy_load_input bundle_input(accept_context *context)
{
    return (policy_load_input){
        .paths = (const char *const *)context->cfg->policy.bundle_files,
        .count = context->cfg->policy.bundle_count,
        .now = time(NULL),
        .warn = log_check_warning,
        .accept = accept_set,
        .accept_ctx = context,
    };
}

/*
 * Reads cfg's regulator keys and loads its bundles with them. The store puts the keys
 * and the set in force together, or keeps the ones it had when anything fails.
 */
static int load_keys_and_bundles(node *n, const config *cfg, policy_error *err)
{
    accept_context context = {cfg, n->store, n, "reload"};
    policy_load_input input = bundle_input(&context);

    if (config_load_policy_trust(&cfg->policy, &input.trust, err) != 0)
        return -1;
    if (policy_store_load_from(n->policy, &input, err) != 0) {
        policy_trust_free(&input.trust);
        return -1;
    }
    /* The store owns the list now. Only this thread loads, so it stays valid until
     * the next load. */
    warn_unbound_keys(cfg, input.trust);
    return 0;
}

int http_policy_check(const config *cfg, char *error, size_t error_size)
{
    policy_trust *trust = NULL;
    policy_store *scratch = NULL;
    accept_context context = {cfg, NULL, NULL, NULL};
    policy_load_input input = bundle_input(&context);
    policy_error err = {0};
    int rc = -1;

    if (cfg->policy.bundle_count == 0)
        return 0;
    if (config_load_policy_trust(&cfg->policy, &trust, &err) != 0 ||
        policy_store_create(trust, &scratch, &err) != 0) {
        policy_trust_free(&trust);
        snprintf(error, error_size, "[policy] regulator keys: %s (%s)", err.message,
                 policy_error_name(err.code));
        return -1;
    }
    if (policy_store_load_from(scratch, &input, &err) != 0)
        snprintf(error, error_size, "[policy] bundle: %s (%s)", err.message,
                 policy_error_code_of(&err));
    else
        rc = 0;
    policy_store_free(&scratch);
    return rc;
}

int http_policy_start(node *n, const config *cfg)
{
    accept_context context = {cfg, n->store, n, "start"};
    policy_trust *trust = NULL;
    policy_load_input input;
    policy_error err = {0};

    n->policy = NULL;
    if (cfg->policy.bundle_count == 0) {
        log_message(LOG_WARN, "policy_engine_off",
                    "[policy] names no bundle, so disclosures follow only each relying "
                    "party's allowed_claims");
        return 0;
    }

    if (config_load_policy_trust(&cfg->policy, &trust, &err) != 0 ||
        policy_store_create(trust, &n->policy, &err) != 0) {
        policy_trust_free(&trust);
        log_message(LOG_ERROR, "start_failed", "[policy] regulator keys: %s (%s)",
                    err.message, policy_error_name(err.code));
        return -1;
    }
    /* The store owns the trust list from here on. */
    warn_unbound_keys(cfg, trust);
    input = bundle_input(&context);
    if (policy_store_load_from(n->policy, &input, &err) != 0) {
        log_message(LOG_ERROR, "start_failed", "[policy] bundle: %s (%s)", err.message,
                    policy_error_code_of(&err));
        return -1;
    }
    log_loaded(n, "policy_loaded");
    warn_registry_consent(cfg);
    return 0;
}

void http_policy_reload(node *n, const config *cfg)
{
    policy_error err = {0};
    char kept[1024];

    /* Whether the engine runs is decided only at start. */
    if (n->policy == NULL) {
        if (cfg->policy.bundle_count > 0) {
            log_message(LOG_ERROR, "policy_reload_failed",
                        "[policy] names bundles, but the node started without the policy "
                        "engine; restart it to turn the engine on");
            audit_reload_failed(n, "restart_required",
                                "[policy] names bundles, but the node started without the "
                                "policy engine");
        }
        return;
    }
    if (cfg->policy.bundle_count == 0) {
        describe_set(n->policy, kept, sizeof(kept));
        log_message(LOG_ERROR, "policy_reload_failed",
                    "[policy] names no bundle; the engine cannot be turned off without a "
                    "restart, so the node keeps %s", kept);
        audit_reload_failed(n, "restart_required", "[policy] names no bundle");
        return;
    }

    if (load_keys_and_bundles(n, cfg, &err) != 0) {
        describe_set(n->policy, kept, sizeof(kept));
        log_field fields[] = {
            {"code", policy_error_code_of(&err)},
            {"error", err.message},
            {"kept", kept},
        };
        log_event(LOG_ERROR, "policy_reload_failed", fields, 3);
        audit_reload_failed(n, policy_error_code_of(&err), err.message);
        return;
    }
    log_loaded(n, "policy_reloaded");
}

void http_policy_stop(node *n)
{
    policy_store_free(&n->policy);
}

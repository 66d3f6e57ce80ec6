/*
 * GET /v1/verifications/{id}, for relying parties: the result of a verification that
 * waited for consent. A relying party sees only its own verifications. While consent
 * is pending it answers 202 with the consent link; after approval 200 with the claims,
 * a freshly signed result attestation and the consent reference, until the consent
 * request's expiry removes the held values (then 410 result_expired); after a refusal
 * or expiry 200 with decision "refused" or "expired" and no claims. While the
 * verification is pending or its approved result is held, each fetch checks the
 * credential again: a revoked or expired one ends the verification with 422
 * credential_revoked or expired (route_consent_recheck.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "route_common.h"
#include "web.h"
#include "web_consent.h"

/* The disclosed claims as attributes for the attestation; names and values point
 * into claims, which must outlive them. */
static saml_attribute *claims_to_attributes(const json_t *claims, size_t *count)
{
    saml_attribute *attributes = calloc(json_object_size(claims) + 1, sizeof(*attributes));
    const char *name;
    json_t *value;
    size_t n = 0;

    if (attributes == NULL)
        return NULL;
    json_object_foreach((json_t *)claims, name, value) {
        size_t values = json_is_array(value) ? json_array_size(value) : 1;
        char **list = calloc(values + 1, sizeof(*list));

        if (list == NULL)
            break;
        for (size_t i = 0; i < values; i++)
            list[i] = (char *)json_string_value(json_is_array(value)
                                                    ? json_array_get(value, i)
                                                    : value);
        attributes[n].name = (char *)name;
        attributes[n].values = list;
        attributes[n].value_count = values;
        n++;
    }
    *count = n;
    return attributes;
}

static void free_attributes(saml_attribute *attributes, size_t count)
{
    for (size_t i = 0; attributes != NULL && i < count; i++)
        free(attributes[i].values);
    free(attributes);
}

static const char *member(const json_t *doc, const char *name)
{
    return json_string_value(json_object_get(doc, name));
}

/* Sets the ProxyRestriction of spec from the one the credential carried, as the
 * deferral stored it. Returns 0, 1 when that one forbids the attestation (a registry
 * reload changed the relying party's entity ID), or -1 when out of memory. */
static int add_stored_proxy(const json_t *result, saml_assertion_spec *spec)
{
    const json_t *stored = json_object_get(result, "proxy_restriction");
    const json_t *audiences = json_object_get(stored, "audiences");
    const json_t *count = json_object_get(stored, "count");
    saml_proxy_restriction received = {.present = true, .count = -1};
    int rc;

    if (!json_is_object(stored))
        return 0;
    if (json_is_integer(count))
        received.count = (long)json_integer_value(count);
    received.audience_count = json_array_size(audiences);
    received.audiences = calloc(received.audience_count + 1, sizeof(*received.audiences));
    if (received.audiences == NULL)
        return -1;
    for (size_t i = 0; i < received.audience_count; i++)
        received.audiences[i] = (char *)json_string_value(json_array_get(audiences, i));
    rc = saml_spec_proxy_from(spec, &received) == 0 ? 0 : 1;
    free(received.audiences);
    return rc;
}

/* Signs the result attestation from the held values: the engine's attributes, or the
 * registry's disclosed claims by catalogue name. */
static int sign_result(http_request *request, const json_t *result, char **xml,
                       http_reply *reply)
{
    const config_rp *rp = config_find_rp(request->snapshot->cfg, request->caller.identity);
    const json_t *held = json_object_get(result, "held");
    const json_t *attributes_doc = json_object_get(held, "attributes");
    size_t count = 0;
    saml_attribute *attributes = claims_to_attributes(
        attributes_doc != NULL ? attributes_doc : json_object_get(held, "claims"), &count);
    saml_assertion_spec spec = {
        .issuer = request->snapshot->cfg->entity_id,
        .audience = rp != NULL ? rp->entity_id : NULL,
        .name_id = member(held, "name_id"),
        .name_id_format = member(result, "name_id_format"),
        .copies_verified = true,
        .sp_name_qualifier = member(held, "sp_name_qualifier"),
        .sp_provided_id = member(held, "sp_provided_id"),
        .assurance = member(result, "assurance"),
        .issue_instant = time(NULL),
        .authn_instant = (time_t)json_integer_value(json_object_get(result, "authn_instant")),
        /* null when the credential had no AuthnStatement */
        .has_authn_instant = json_is_integer(json_object_get(result, "authn_instant")),
        .valid_seconds = request->snapshot->cfg->result_validity_seconds,
        .attributes = attributes,
        .attribute_count = count,
    };
    /* Only the members that the saml_*_for_copy functions read. */
    saml_assertion verified = {
        .issuer = (char *)member(result, "issuer"),
        .name_id_format = (char *)member(result, "name_id_format"),
        .name_qualifier = (char *)member(held, "name_qualifier"),
    };
    int rc = -1;
    int proxy = attributes != NULL ? add_stored_proxy(result, &spec) : -1;

    if (verified.issuer != NULL)
        spec.name_qualifier = saml_name_qualifier_for_copy(&verified, spec.issuer);
    /* A result stored by an earlier version has no "authn_instant" member, and keeps the
     * AuthnInstant that version signed: the signing time. */
    if (json_object_get(result, "authn_instant") == NULL) {
        spec.authn_instant = spec.issue_instant;
        spec.has_authn_instant = true;
    }
    /* NOTE: the credential's own AuthenticatingAuthority list is not stored, because
     * only this node's credentials wait for consent, and its signer writes none. */
    verified.authn_instant = spec.authn_instant;
    verified.has_authn_statement = spec.has_authn_instant;
    if (verified.issuer != NULL)
        spec.authenticating_issuer = saml_authenticating_issuer_for_copy(&verified, spec.issuer);

    if (attributes == NULL || spec.audience == NULL || spec.name_id == NULL || proxy < 0)
        problem_internal(reply);
    else if (proxy > 0)
        problem_set(reply, 422, "proxy_restricted", "assertion",
                    "The credential's ProxyRestriction does not list the relying party's "
                    "entity ID among its Audiences, so the node cannot sign a result "
                    "attestation for it.");
    else
        rc = route_sign_assertion(request, &spec, xml, reply);
    free_attributes(attributes, count);
    return rc;
}

static json_t *consent_reference(const web_consent *consent, const char *state)
{
    char decided[32];

    route_format_time(consent->decided_at, decided);
    return json_pack("{s:s, s:s, s:s*}", "id", consent->id, "state", state, "decided_at",
                     consent->decided_at != 0 ? decided : NULL);
}

/* Adds the policy engine's members of the decision after consent. */
static void add_engine_members(json_t *doc, const json_t *result)
{
    const json_t *engine = json_object_get(result, "engine");

    if (engine == NULL)
        return;
    json_object_set(doc, "outcome", json_object_get(engine, "outcome"));
    json_object_set_new(doc, "consent_required", json_null());
    json_object_set(doc, "retention_days", json_object_get(engine, "retention_days"));
    json_object_set(doc, "decisions",
                    json_object_get(json_object_get(result, "held"), "decisions"));
    json_object_set(doc, "policy", json_object_get(engine, "policy"));
}

static void problem_result_expired(http_reply *reply)
{
    problem_set(reply, 410, "result_expired", NULL,
                "The approved claims were kept only until the consent request expired; "
                "the relying party must ask again.");
}

static void reply_approved(http_request *request, const web_verification *v,
                           const web_consent *consent, http_reply *reply)
{
    json_t *result = json_loads(v->result, 0, NULL);
    char *attestation = NULL;
    json_t *doc;

    if (result == NULL) {
        problem_internal(reply);
        return;
    }
    /* The values are held only while the consent request lives. */
    if (json_object_get(result, "held") == NULL || consent->expires_at <= time(NULL)) {
        problem_result_expired(reply);
        goto out;
    }
    if (sign_result(request, result, &attestation, reply) != 0)
        goto out;
    doc = json_pack("{s:s, s:s, s:s?, s:s?, s:s?, s:O?, s:O?, s:s, s:o}", "verification_id",
                    v->id, "decision", "accepted", "issuer", member(result, "issuer"),
                    "assertion_id", member(result, "assertion_id"), "purpose",
                    member(result, "purpose"), "claims",
                    json_object_get(json_object_get(result, "held"), "claims"), "withheld",
                    json_object_get(result, "withheld"), "attestation", attestation,
                    "consent", consent_reference(consent, "approved"));
    if (doc == NULL) {
        problem_internal(reply);
        goto out;
    }
    add_engine_members(doc, result);
    http_reply_json(reply, 200, doc);
out:
    free(attestation);
    json_decref(result);
}

static void reply_pending(const http_request *request, const web_verification *v,
                          const web_consent *consent, http_reply *reply)
{
    char url[512];
    char expires[32];

    /* A reload may have turned the pages off since the verification began. */
    if (!consent_available(request, reply))
        return;
    snprintf(url, sizeof(url), "%s/consent/%s", request->snapshot->cfg->web.origins[0],
             consent->id);
    route_format_time(consent->expires_at, expires);
    http_reply_json(reply, 202,
                    json_pack("{s:s, s:s, s:s, s:s, s:s}", "verification_id", v->id,
                              "status", "consent_pending", "consent_id", consent->id,
                              "consent_url", url, "expires_at", expires));
}

static void reply_closed(const web_verification *v, const web_consent *consent,
                         const char *decision, http_reply *reply)
{
    http_reply_json(reply, 200,
                    json_pack("{s:s, s:s, s:o}", "verification_id", v->id, "decision",
                              decision, "consent", consent_reference(consent, decision)));
}

/* Replies by the consent request's state. Only a verification that can still release
 * claims has its credential checked again. */
static void reply_by_state(http_request *request, const web_verification *v,
                           const web_consent *consent, http_reply *reply)
{
    bool approved = consent->state == WEB_CONSENT_APPROVED;

    if (consent->rejection[0] != '\0')
        consent_problem_rejected(reply, consent->rejection);
    else if (consent->state == WEB_CONSENT_REFUSED)
        reply_closed(v, consent, "refused", reply);
    else if (consent->expires_at <= time(NULL) && approved)
        problem_result_expired(reply);
    else if (consent->expires_at <= time(NULL))
        reply_closed(v, consent, "expired", reply);
    else if (!consent_recheck_credential(request, consent, v, reply))
        return;
    else if (approved)
        reply_approved(request, v, consent, reply);
    else
        reply_pending(request, v, consent, reply);
}

void route_verifications_get(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    web_verification v = {0};
    web_consent consent = {0};
    store_status status;

    status = s->ops->web->verification_get(s, request->params[0], request->caller.identity,
                                           &v);
    if (status == STORE_NOT_FOUND) {
        problem_set(reply, 404, "verification_not_found", NULL,
                    "No verification of this relying party has this id.");
        goto out;
    }
    if (status != STORE_OK ||
        s->ops->web->consent_get(s, v.consent_id, &consent) != STORE_OK) {
        log_message(LOG_ERROR, "verification_read_failed",
                    "request %s: the store could not read verification %s or its consent "
                    "request",
                    request->request_id, request->params[0]);
        problem_internal(reply);
        goto out;
    }
    reply_by_state(request, &v, &consent, reply);
out:
    web_consent_clear(&consent);
    web_verification_clear(&v);
}

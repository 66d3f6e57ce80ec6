/*
 * The consent hook of POST /v1/verifications and the disclosure history of verifications
 * that need no consent. Both act only on credentials this node issued, because only the
 * home node keeps a subject record; a verification of a foreign credential that needs
 * consent is rejected with consent_subject_unknown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "problem.h"
#include "route_audit.h"
#include "web.h"
#include "web_consent.h"

#define RETENTION_MAX_DAYS 36500

/* Finds the local subject of a verified assertion. Returns 1, 0 when the assertion is
 * not a credential of this node, or -1 on a store failure. */
static int local_subject(http_request *request, const saml_assertion *assertion,
                         int64_t *subject_id)
{
    store *s = request->node->store;
    store_status status;

    if (strcmp(assertion->issuer, request->snapshot->cfg->entity_id) != 0)
        return 0;
    status = s->ops->web->subject_of_assertion(s, assertion->id, subject_id);
    if (status == STORE_OK)
        return 1;
    return status == STORE_NOT_FOUND ? 0 : -1;
}

/* Reads the optional retention_days member of the request body; -1 when absent. */
static bool read_retention(const http_request *request, long *days, http_reply *reply)
{
    json_t *body = json_loadb(request->body, request->body_len, 0, NULL);
    const json_t *value = json_object_get(body, "retention_days");
    bool ok = true;

    *days = -1;
    if (value != NULL) {
        ok = json_is_integer(value) && json_integer_value(value) >= 0 &&
             json_integer_value(value) <= RETENTION_MAX_DAYS;
        if (ok)
            *days = (long)json_integer_value(value);
        else
            problem_set(reply, 400, "field_invalid", "retention_days",
                        "retention_days must be an integer from 0 to %d.",
                        RETENTION_MAX_DAYS);
    }
    json_decref(body);
    return ok;
}

/* Every disclosed claim goes in full, because the registry has no derived forms.
 * NOTE: the policy engine's decisions add the "derived" form here once it is wired. */
static json_t *claim_decisions(const json_t *disclosed)
{
    json_t *claims = json_array();
    const char *name;
    json_t *value;

    json_object_foreach((json_t *)disclosed, name, value)
        json_array_append_new(claims, json_pack("{s:s, s:s}", "claim", name, "form", "full"));
    return claims;
}

static json_t *result_document(const saml_assertion *assertion, const char *purpose,
                               const json_t *disclosed, const json_t *withheld)
{
    return json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s, s:O, s:O}", "issuer",
                     assertion->issuer, "assertion_id", assertion->id, "name_id",
                     assertion->name_id, "name_id_format", assertion->name_id_format,
                     "assurance", assertion->assurance, "purpose", purpose, "claims",
                     disclosed, "withheld", withheld);
}

void consent_defer_verification(http_request *request, const char *purpose,
                                const saml_assertion *assertion, const json_t *disclosed,
                                const json_t *withheld, http_reply *reply)
{
    const config_rp *rp = config_find_rp(request->snapshot->cfg, request->caller.identity);
    consent_input in = {.rp = rp, .purpose = purpose, .rule = "consent"};
    json_t *claims = NULL;
    json_t *result = NULL;
    int found = local_subject(request, assertion, &in.subject_id);

    if (found < 0 || rp == NULL) {
        problem_internal(reply);
        return;
    }
    if (found == 0) {
        problem_set(reply, 422, "consent_subject_unknown", "assertion",
                    "This verification needs the subject's consent, but the subject has no "
                    "account on this node.");
        return;
    }
    if (!read_retention(request, &in.retention_days, reply))
        return;
    claims = claim_decisions(disclosed);
    result = result_document(assertion, purpose, disclosed, withheld);
    if (claims == NULL || result == NULL) {
        problem_internal(reply);
        goto out;
    }
    in.claims = claims;
    in.result = result;
    consent_defer(request, &in, reply);

    /* The decision to wait for consent is a verification decision of its own; the 202
     * goes out only once it is in the audit log. */
    if (reply->status == 202)
        route_audit_verification_deferred(request, purpose, rp, assertion, disclosed,
                                          withheld, in.consent_id, reply);
out:
    json_decref(claims);
    json_decref(result);
}

bool consent_record_disclosure(http_request *request, const char *purpose,
                               const saml_assertion *assertion, const json_t *disclosed,
                               http_reply *reply)
{
    store *s = request->node->store;
    const config_rp *rp = config_find_rp(request->snapshot->cfg, request->caller.identity);
    json_t *names = json_array();
    const char *name;
    json_t *value;
    web_disclosure d = {0};
    int found = local_subject(request, assertion, &d.subject_id);
    bool ok = found == 0;

    if (found != 1 || rp == NULL || names == NULL)
        goto out;
    json_object_foreach((json_t *)disclosed, name, value)
        json_array_append_new(names, json_string(name));
    d.rp_id = rp->id;
    d.rp_name = rp->name != NULL ? rp->name : rp->id;
    d.rp_country = rp->jurisdiction;
    d.purpose = (char *)purpose;
    d.rule = "registry";
    d.disclosed_at = time(NULL);
    d.claims = json_dumps(names, JSON_COMPACT);
    ok = d.claims != NULL && s->ops->web->disclosure_add(s, &d) == STORE_OK;
    free(d.claims);
out:
    json_decref(names);
    if (!ok)
        problem_internal(reply);
    return ok;
}

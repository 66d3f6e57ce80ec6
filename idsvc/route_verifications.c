/*
 * POST /v1/verifications, for relying parties: verifies a SAML assertion and returns
 * the claims disclosed, the reason each other requested claim was withheld, and a
 * result attestation that the node signs in the HSM for that relying party.
 *
 * The checks run in this order: signature against the trust list, validity window and
 * audience (saml_verify), revocation of credentials this node issued, then replay. A
 * revoked credential therefore reports "credential_revoked" even when presented twice.
 *
 * An accepted verification records its assertion ID in the replay cache in the same
 * transaction as its audit entry: one commit, one fsync, and never one without the
 * other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "http_policy.h"
#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "route_common.h"
#include "web_consent.h"

#define PURPOSE_MAX 256
#define CLAIMS_MAX 64
#define REPLAY_FALLBACK_SECONDS (24 * 3600)

typedef struct verify_input {
    char *xml; /* decoded when the request sent base64 */
    size_t xml_len;
    const char *purpose;
    const json_t *claims;
    long retention_days; /* -1 when the relying party declared none */
} verify_input;

/* Decodes standard base64; returns NULL for invalid input. */
static char *decode_base64(const char *text, size_t len, size_t *out_len)
{
    EVP_ENCODE_CTX *ctx = EVP_ENCODE_CTX_new();
    unsigned char *out = malloc(len / 4 * 3 + 4);
    int written = 0;
    int final = 0;

    if (ctx == NULL || out == NULL || len > INT32_MAX)
        goto fail;
    EVP_DecodeInit(ctx);
    if (EVP_DecodeUpdate(ctx, out, &written, (const unsigned char *)text, (int)len) < 0 ||
        EVP_DecodeFinal(ctx, out + written, &final) != 1)
        goto fail;
    EVP_ENCODE_CTX_free(ctx);
    *out_len = (size_t)(written + final);
    out[*out_len] = '\0';
    return (char *)out;
fail:
    EVP_ENCODE_CTX_free(ctx);
    free(out);
    return NULL;
}

/* Checks the claim list; names_known is false when the policy engine checks the names
 * against its own catalogue. */
static bool read_claim_list(const json_t *claims, bool names_known, http_reply *reply)
{
    size_t index;
    const json_t *item;
    char field[32];

    if (!json_is_array(claims) || json_array_size(claims) == 0 ||
        json_array_size(claims) > CLAIMS_MAX) {
        problem_set(reply, 400, "field_invalid", "claims",
                    "claims must be an array of 1 to %d claim names.", CLAIMS_MAX);
        return false;
    }
    json_array_foreach(claims, index, item) {
        snprintf(field, sizeof(field), "claims[%zu]", index);
        if (!json_is_string(item) ||
            (names_known && saml_claim_by_name(json_string_value(item)) == NULL)) {
            problem_set(reply, 400, "claim_unknown", field,
                        "Each claim must be a name from the claims catalogue.");
            return false;
        }
    }
    return true;
}

static bool read_verify_input(const http_request *request, const json_t *body,
                              verify_input *in, http_reply *reply)
{
    static const char *const members[] = {"assertion", "claims", "purpose",
                                          "retention_days", NULL};
    const char *assertion;
    size_t skip;

    if (!http_json_known_members(body, members, reply))
        return false;
    assertion = http_json_string(body, "assertion", true,
                                 request->node->boot->limits.max_body_bytes, reply);
    if (assertion == NULL)
        return false;
    in->purpose = http_json_string(body, "purpose", true, PURPOSE_MAX, reply);
    if (in->purpose == NULL)
        return false;
    if (!verification_read_retention(body, &in->retention_days, reply))
        return false;
    in->claims = json_object_get(body, "claims");
    if (!read_claim_list(in->claims, request->node->policy == NULL, reply))
        return false;

    skip = strspn(assertion, " \t\r\n");
    if (assertion[skip] == '<') {
        in->xml_len = strlen(assertion);
        in->xml = strdup(assertion);
    } else {
        in->xml = decode_base64(assertion, strlen(assertion), &in->xml_len);
        if (in->xml == NULL) {
            problem_set(reply, 400, "assertion_encoding_invalid", "assertion",
                        "assertion must be SAML XML or its base64 encoding.");
            return false;
        }
    }
    if (in->xml == NULL) {
        problem_internal(reply);
        return false;
    }
    return true;
}

static void reject_assertion(http_reply *reply, saml_status status, const char *detail)
{
    if (status == SAML_ERR_INTERNAL) {
        log_message(LOG_ERROR, "verify_internal_error", "%s", detail);
        problem_internal(reply);
        return;
    }
    problem_set(reply, 422, saml_status_code(status), "assertion", "%s", detail);
}

/* Rejects an assertion in this node's name that is revoked or that no credential
 * record backs, such as a result attestation presented as a credential. */
static bool check_revocation(http_request *request, const saml_assertion *assertion,
                             http_reply *reply)
{
    store *s = request->node->store;
    store_credential credential;
    store_status status;

    if (strcmp(assertion->issuer, request->snapshot->cfg->entity_id) != 0)
        return true;

    status = s->ops->find_by_assertion(s, assertion->id, &credential);
    if (status == STORE_NOT_FOUND)
        problem_set(reply, 422, "credential_unknown", "assertion",
                    "The assertion names this node as issuer, but no credential of this "
                    "node has its ID.");
    else if (status != STORE_OK)
        problem_internal(reply);
    else if (credential.state == STORE_CREDENTIAL_REVOKED)
        problem_set(reply, 422, "credential_revoked", "assertion",
                    "The credential was revoked by its issuer.");
    store_credential_clear(&credential);
    return status == STORE_OK && reply->status == 0;
}

static const saml_attribute *find_attribute(const saml_assertion *assertion,
                                            const saml_claim *claim)
{
    for (size_t i = 0; i < assertion->attribute_count; i++)
        if (strcmp(assertion->attributes[i].name, claim->uri) == 0 ||
            strcmp(assertion->attributes[i].name, claim->name) == 0)
            return &assertion->attributes[i];
    return NULL;
}

static json_t *values_json(const saml_claim *claim, const saml_attribute *attribute)
{
    json_t *values;

    if (!claim->multi_valued && attribute->value_count == 1)
        return json_string(attribute->values[0]);
    values = json_array();
    for (size_t i = 0; i < attribute->value_count; i++)
        json_array_append_new(values, json_string(attribute->values[i]));
    return values;
}

/* Looks for name in a space-separated list. */
static bool list_contains(const char *list, const char *name)
{
    size_t len = strlen(name);

    while (*list != '\0') {
        size_t token = strcspn(list, " ");

        if (token == len && strncmp(list, name, len) == 0)
            return true;
        list += token;
        list += strspn(list, " ");
    }
    return false;
}

/* The decision without the policy engine ([policy] names no bundle): a claim is
 * disclosed when the credential carries it and the relying party's registry entry
 * allows it. No consent is asked. */
static int decide_claims(const verify_input *in, const store_rp *rp,
                         const saml_assertion *assertion, disclosure *out)
{
    size_t index;
    const json_t *item;

    out->disclosed = json_object();
    out->withheld = json_array();
    out->attributes = calloc(json_array_size(in->claims) + 1, sizeof(*out->attributes));
    if (out->disclosed == NULL || out->withheld == NULL || out->attributes == NULL)
        return -1;

    json_array_foreach(in->claims, index, item) {
        const saml_claim *claim = saml_claim_by_name(json_string_value(item));
        const saml_attribute *attribute = find_attribute(assertion, claim);
        const char *reason = NULL;

        if (!list_contains(rp->allowed_claims, claim->name))
            reason = "not_allowed_for_relying_party";
        else if (attribute == NULL)
            reason = "not_in_credential";
        else if (json_object_get(out->disclosed, claim->name) != NULL)
            continue;

        if (reason != NULL) {
            json_array_append_new(out->withheld,
                                  json_pack("{s:s, s:s}", "claim", claim->name, "reason",
                                            reason));
            continue;
        }
        json_object_set_new(out->disclosed, claim->name, values_json(claim, attribute));
        out->attributes[out->attribute_count].name = (char *)claim->name;
        out->attributes[out->attribute_count].values = attribute->values;
        out->attributes[out->attribute_count].value_count = attribute->value_count;
        out->attribute_count++;
    }
    return 0;
}

static int sign_attestation(http_request *request, const store_rp *rp,
                            const saml_assertion *assertion, const disclosure *d,
                            char **xml, http_reply *reply)
{
    saml_assertion_spec spec = {
        .issuer = request->snapshot->cfg->entity_id,
        .audience = rp->entity_id,
        .name_id = assertion->name_id,
        .name_id_format = assertion->name_id_format,
        .assurance = assertion->assurance,
        .issue_instant = time(NULL),
        .valid_seconds = request->snapshot->cfg->result_validity_seconds,
        .attributes = d->attributes,
        .attribute_count = d->attribute_count,
    };

    return route_sign_assertion(request, &spec, xml, reply);
}

/* How long the replay cache keeps an assertion's ID: until saml_verify would reject the
 * assertion as expired, which is NotOnOrAfter plus the allowed clock skew. */
static time_t replay_until(const http_request *request, const saml_assertion *assertion)
{
    if (assertion->not_on_or_after == 0)
        return time(NULL) + REPLAY_FALLBACK_SECONDS;
    return assertion->not_on_or_after + request->snapshot->cfg->clock_skew_seconds;
}

/* Records the assertion ID; a second presentation of one assertion is a replay. */
static bool check_replay(http_request *request, const saml_assertion *assertion,
                         http_reply *reply)
{
    saml_replay_cache cache = store_replay_cache(request->node->store);
    int rc = cache.check_and_store(cache.ctx, assertion->id, replay_until(request, assertion));

    if (rc == 1)
        return true;
    if (rc == 0)
        problem_set(reply, 422, saml_status_code(SAML_ERR_REPLAYED), "assertion",
                    "This assertion was presented before.");
    else
        problem_internal(reply);
    return false;
}

static void reply_accepted(http_request *request, const verify_input *in,
                           const saml_assertion *assertion, disclosure *d,
                           const char *attestation, http_reply *reply)
{
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:O, s:O}", "decision", "accepted",
                            "issuer", assertion->issuer, "assertion_id", assertion->id,
                            "purpose", in->purpose, "claims", d->disclosed, "withheld",
                            d->withheld);
    char disclosed[16];

    if (attestation != NULL)
        json_object_set_new(doc, "attestation", json_string(attestation));
    if (d->outcome != NULL)
        verification_policy_members(doc, d, in->retention_days);

    snprintf(disclosed, sizeof(disclosed), "%zu", d->attribute_count);
    log_field fields[] = {
        {"request_id", request->request_id},
        {"relying_party", request->caller.identity},
        {"issuer", assertion->issuer},
        {"assertion_id", assertion->id},
        {"claims_disclosed", disclosed},
        {"policy_outcome", d->outcome},
        {"policy", d->outcome != NULL ? d->policy_log : NULL},
    };
    log_event(LOG_INFO, "verification_accepted", fields, sizeof(fields) / sizeof(fields[0]));
    http_reply_json(reply, 200, doc);
}

/* Records the verification_decided entry of a verification decided at once, with the
 * assertion ID in the replay cache; a replay fails with 422 assertion_replayed. */
static bool audit_accepted(http_request *request, const char *purpose, const store_rp *rp,
                           const saml_assertion *assertion, const disclosure *d,
                           http_reply *reply)
{
    audit_verification v = {
        .decision = "accepted",
        .purpose = purpose,
        .issuer = assertion->issuer,
        .assertion_id = assertion->id,
        .replay_id = assertion->id,
        .replay_until = replay_until(request, assertion),
    };
    json_t *claims;
    bool ok;

    if (d->outcome != NULL) {
        claims = verification_audit_claims(d->decisions);
        v.rule = "policy";
        v.policy = d->policy;
    } else {
        claims = route_audit_claim_decisions(d->disclosed, d->withheld);
        v.rule = "registry_allowed_claims";
    }
    v.claims = claims;
    ok = route_audit_verification(request, &v, rp->id, rp->jurisdiction, assertion, reply);
    json_decref(claims);
    return ok;
}

static void verify_and_disclose(http_request *request, const verify_input *in,
                                const store_rp *rp, http_reply *reply)
{
    const config *cfg = request->snapshot->cfg;
    saml_verify_options options = {
        .clock_skew_seconds = cfg->clock_skew_seconds,
        .audience = rp->entity_id,
        .max_input_bytes = request->node->boot->limits.max_body_bytes,
    };
    saml_assertion *assertion = NULL;
    disclosure d = {0};
    char detail[256] = "";
    char *attestation = NULL;
    saml_status status;

    status = saml_verify(request->snapshot->trust, &options, in->xml, in->xml_len,
                         &assertion, detail, sizeof(detail));
    if (status != SAML_OK) {
        reject_assertion(reply, status, detail);
        goto out;
    }
    if (!check_revocation(request, assertion, reply))
        goto out;
    if (request->node->policy != NULL) {
        verification_terms terms = {in->purpose, in->retention_days, in->claims};

        if (verification_policy_decide(request, rp, assertion, &terms, &d, reply) != 0)
            goto out;
    } else if (decide_claims(in, rp, assertion, &d) != 0) {
        problem_internal(reply);
        goto out;
    }

    /* A verification that needs the subject's consent is stored and answered 202 with
     * the consent link, and nothing is disclosed yet. With the policy engine the
     * engine's decision says when; without it, the registry's consent setting. */
    if (request->node->policy != NULL
            ? d.consent_required
            : consent_required(request, config_find_rp(request->snapshot->cfg, rp->id))) {
        if (consent_available(request, reply) && check_replay(request, assertion, reply))
            consent_defer_verification(request, in->purpose, in->retention_days, assertion,
                                       &d, reply);
        goto out;
    }

    /* Sign before recording the ID, so an HSM failure leaves the assertion usable for
     * a retry; a concurrent second presentation still loses at the record. The
     * subject's disclosure history gets the entry only once the replay check passed. */
    if (sign_attestation(request, rp, assertion, &d, &attestation, reply) != 0)
        goto out;
    if (!audit_accepted(request, in->purpose, rp, assertion, &d, reply))
        goto out;
    if (!consent_record_disclosure(request, in->purpose, assertion, d.disclosed, reply))
        goto out;
    reply_accepted(request, in, assertion, &d, attestation, reply);
out:
    free(attestation);
    disclosure_clear(&d);
    saml_assertion_free(&assertion);
}

void route_verifications_create(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    json_t *body = http_parse_json_body(request, reply);
    verify_input in = {0};
    store_rp rp = {0};
    store_status status;

    if (body == NULL)
        return;
    if (!read_verify_input(request, body, &in, reply))
        goto out;

    status = s->ops->get_rp(s, request->caller.identity, &rp);
    if (status == STORE_NOT_FOUND) {
        problem_set(reply, 403, "relying_party_not_registered", NULL,
                    "The caller's relying-party entry is missing from the registry.");
        goto out;
    }
    if (status != STORE_OK) {
        problem_internal(reply);
        goto out;
    }
    verify_and_disclose(request, &in, &rp, reply);
    route_audit_rejection(request, in.purpose, &rp, reply);
out:
    store_rp_clear(&rp);
    free(in.xml);
    json_decref(body);
}

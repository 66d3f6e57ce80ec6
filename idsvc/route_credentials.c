/*
 * Credentials, for issuers: POST /v1/credentials issues one, GET /v1/credentials/{id}
 * shows its status, POST /v1/credentials/{id}/revocation revokes it. An issuer reads only
 * the credentials it issued. Another issuer's credential gets 404, like a missing one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <openssl/sha.h>

#include "claim_name.h"
#include "log.h"
#include "problem.h"
#include "route_audit.h"
#include "route_common.h"
#include "saml_build.h"

#define SUBJECT_MAX 256
#define AUDIENCE_MAX 1024
#define REASON_MAX 512
#define MIN_VALIDITY_SECONDS 60
#define MAX_VALIDITY_SECONDS (366L * 24 * 3600)

/* The eIDAS levels of assurance, accepted by name. */
static const struct {
    const char *name;
    const char *uri;
} assurance_levels[] = {
    {"low", "http://eidas.europa.eu/LoA/low"},
    {"substantial", "http://eidas.europa.eu/LoA/substantial"},
    {"high", "http://eidas.europa.eu/LoA/high"},
};

/* Base32 without I, L, O and U, so a person can read the code aloud and type it. */
static const char code_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/* Makes a one-time enrollment code such as "7Q2M-K9XD-..." with 100 random bits. */
static int make_enrollment_code(char out[25])
{
    unsigned char bytes[20];
    size_t pos = 0;

    if (gnutls_rnd(GNUTLS_RND_KEY, bytes, sizeof(bytes)) != 0)
        return -1;
    for (size_t i = 0; i < sizeof(bytes); i++) {
        if (i > 0 && i % 4 == 0)
            out[pos++] = '-';
        out[pos++] = code_alphabet[bytes[i] & 31];
    }
    out[pos] = '\0';
    explicit_bzero(bytes, sizeof(bytes));
    return 0;
}

static const char *resolve_assurance(const char *value)
{
    for (size_t i = 0; i < sizeof(assurance_levels) / sizeof(assurance_levels[0]); i++)
        if (strcmp(value, assurance_levels[i].name) == 0)
            return assurance_levels[i].uri;
    return strchr(value, ':') != NULL ? value : NULL;
}

static bool read_validity(const json_t *body, long *out, http_reply *reply)
{
    const json_t *value = json_object_get(body, "validity_seconds");

    if (value == NULL) {
        problem_set(reply, 400, "field_missing", "validity_seconds",
                    "The field validity_seconds is required.");
        return false;
    }
    if (!json_is_integer(value) || json_integer_value(value) < MIN_VALIDITY_SECONDS ||
        json_integer_value(value) > MAX_VALIDITY_SECONDS) {
        problem_set(reply, 400, "field_invalid", "validity_seconds",
                    "validity_seconds must be an integer from %d to %ld.",
                    MIN_VALIDITY_SECONDS, MAX_VALIDITY_SECONDS);
        return false;
    }
    *out = (long)json_integer_value(value);
    return true;
}

/* The parts of an issuance request after their checks. */
typedef struct issue_input {
    const char *subject;
    const char *assurance;
    const char *audience;
    long validity;
    json_t *attributes;
    bool claims_in_assertion; /* false: the node stores the values, the assertion has none */
} issue_input;

/* Reads the optional claims_in_assertion, true when absent. */
static bool read_claims_in_assertion(const json_t *body, bool *out, http_reply *reply)
{
    const json_t *value = json_object_get(body, "claims_in_assertion");

    *out = true;
    if (value == NULL)
        return true;
    if (!json_is_boolean(value)) {
        problem_set(reply, 400, "field_invalid", "claims_in_assertion",
                    "claims_in_assertion must be true or false.");
        return false;
    }
    *out = json_is_true(value);
    return true;
}

static bool read_issue_input(const json_t *body, issue_input *in, http_reply *reply)
{
    static const char *const members[] = {"subject",          "audience",
                                          "assurance_level",  "validity_seconds",
                                          "attributes",       "claims_in_assertion",
                                          NULL};
    const char *level;

    if (!http_json_known_members(body, members, reply))
        return false;
    in->subject = http_json_string(body, "subject", true, SUBJECT_MAX, reply);
    if (in->subject == NULL)
        return false;
    in->audience = http_json_string(body, "audience", true, AUDIENCE_MAX, reply);
    if (in->audience == NULL)
        return false;
    /* The verifier reads Audience as xs:anyURI, whose white space collapses, so an audience
     * of white space only would be empty there and match no relying party. */
    if (strspn(in->audience, " \t\r\n") == strlen(in->audience)) {
        problem_set(reply, 400, "field_invalid", "audience",
                    "audience contains only white space, which a verifier reads as an empty "
                    "Audience that matches no relying party.");
        return false;
    }
    level = http_json_string(body, "assurance_level", true, AUDIENCE_MAX, reply);
    if (level == NULL)
        return false;
    in->assurance = resolve_assurance(level);
    if (in->assurance == NULL) {
        problem_set(reply, 400, "field_invalid", "assurance_level",
                    "assurance_level must be low, substantial, high or a URI.");
        return false;
    }
    if (!read_validity(body, &in->validity, reply) ||
        !read_claims_in_assertion(body, &in->claims_in_assertion, reply))
        return false;
    in->attributes = json_object_get(body, "attributes");
    if (in->attributes == NULL || json_is_null(in->attributes)) {
        problem_set(reply, 400, "field_missing", "attributes",
                    "The field attributes is required.");
        return false;
    }
    if (!json_is_object(in->attributes) || json_object_size(in->attributes) == 0) {
        problem_set(reply, 400, "field_invalid", "attributes",
                    "attributes must be an object with at least one claim.");
        return false;
    }
    return true;
}

/*
 * Applies the signer's own rules to the whole spec, so that no request value reaches
 * the HSM and fails there as a fault of the node. The claims reader has checked the
 * subject, the assurance level and the attributes with the same rules, so of the
 * request's members only audience, which the reader does not see, can fail here.
 */
static bool check_spec(const saml_assertion_spec *spec, http_reply *reply)
{
    char error[256];

    switch (saml_spec_check(spec, error, sizeof(error))) {
    case SAML_SPEC_OK:
        return true;
    case SAML_SPEC_AUDIENCE:
        problem_set(reply, 400, "field_invalid", "audience",
                    "The field audience is invalid: %s.", error);
        return false;
    case SAML_SPEC_NAME_ID:
        problem_set(reply, 422, "claims_invalid", "subject", "%s", error);
        return false;
    case SAML_SPEC_ASSURANCE:
        problem_set(reply, 422, "claims_invalid", "assurance_level", "%s", error);
        return false;
    case SAML_SPEC_ATTRIBUTES:
        problem_set(reply, 422, "claims_invalid", "attributes", "%s", error);
        return false;
    default:
        /* The issuer comes from the configuration; validity_seconds was range-checked. */
        log_message(LOG_ERROR, "issue_spec_invalid", "%s", error);
        problem_internal(reply);
        return false;
    }
}

/* Checks the shape of every claim name before the claims reader looks it up. */
static bool check_claim_names(json_t *attributes, http_reply *reply)
{
    const char *name;
    json_t *values;
    char reason[512];

    json_object_foreach(attributes, name, values) {
        if (claim_name_check(name, reason, sizeof(reason)) == 0)
            continue;
        problem_set(reply, 422, "claims_invalid", "attributes", "%s", reason);
        return false;
    }
    return true;
}

/* Rejects two claims whose names are one URI to a relying party, such as "urn:example:a"
 * and "URN:EXAMPLE:a", because it would read their values as one claim's. The claims
 * reader has already rejected a catalogue claim given by its name and by its URI. */
static bool check_claims_distinct(const saml_assertion_spec *spec, http_reply *reply)
{
    for (size_t i = 1; i < spec->attribute_count; i++) {
        for (size_t j = 0; j < i; j++) {
            const char *earlier = spec->attributes[j].name;
            const char *name = spec->attributes[i].name;

            if (!claim_names_equivalent(earlier, name))
                continue;
            problem_set(reply, 422, "claims_invalid", "attributes",
                        "claim \"%.64s\" is the claim \"%.64s\" to a relying party, "
                        "which compares the scheme, a URN's namespace identifier and "
                        "the host of a URL without regard to case. Give the claim once",
                        name, earlier);
            return false;
        }
    }
    return true;
}

/* Returns the length of text without the XML white space (space, TAB, LF, CR) at its
 * ends, and sets *start to its first other character. */
static size_t xml_trimmed(const char *text, const char **start)
{
    static const char xml_space[] = " \t\n\r";
    size_t len;

    text += strspn(text, xml_space);
    len = strlen(text);
    while (len > 0 && strchr(xml_space, text[len - 1]) != NULL)
        len--;
    *start = text;
    return len;
}

/*
 * Rejects a value that repeats an earlier value of the same claim. A verifier reads each
 * AttributeValue without the XML white space at its ends (the node's does, in
 * saml_read_text), so values that differ only there count as one value. The node keeps
 * values as sent and applies no other normalisation, such as of letter case or Unicode.
 */
static bool check_values_unique(const saml_attribute *attribute, http_reply *reply)
{
    for (size_t k = 1; k < attribute->value_count; k++) {
        const char *value;
        size_t len = xml_trimmed(attribute->values[k], &value);

        for (size_t j = 0; j < k; j++) {
            const char *earlier;

            if (xml_trimmed(attribute->values[j], &earlier) != len ||
                memcmp(value, earlier, len) != 0)
                continue;
            problem_set(reply, 422, "claims_invalid", "attributes",
                        "claim \"%.64s\" value %zu repeats value %zu. A verifier reads a "
                        "value without the spaces, tabs and line breaks at its ends, so "
                        "both are one value. Send each value once",
                        attribute->name, k + 1, j + 1);
            return false;
        }
    }
    return true;
}

/* Checks every claim value with the rules of a new credential. */
static bool check_issued_values(const saml_assertion_spec *spec, http_reply *reply)
{
    char reason[128];

    for (size_t i = 0; i < spec->attribute_count; i++) {
        const saml_attribute *attribute = &spec->attributes[i];
        const saml_claim *claim = saml_claim_by_name(attribute->name);

        for (size_t k = 0; k < attribute->value_count; k++) {
            if (saml_claim_check_issued(claim, attribute->values[k], spec->issue_instant,
                                        reason, sizeof(reason)) == 0)
                continue;
            problem_set(reply, 422, "claims_invalid", "attributes",
                        "claim \"%.64s\" value %zu %s", attribute->name, k + 1, reason);
            return false;
        }
        if (!check_values_unique(attribute, reply))
            return false;
    }
    return true;
}

/* Builds the spec through the claims reader, which checks every claim against the
 * catalogue. claims_doc must outlive spec. */
static bool build_spec(const node_snapshot *snapshot, const issue_input *in,
                       json_t *claims_doc, saml_assertion_spec *spec,
                       saml_attribute **attributes, http_reply *reply)
{
    char error[256];

    memset(spec, 0, sizeof(*spec));
    json_object_set_new(claims_doc, "subject", json_string(in->subject));
    json_object_set_new(claims_doc, "assurance", json_string(in->assurance));
    json_object_set(claims_doc, "attributes", in->attributes);

    if (saml_spec_from_json(claims_doc, spec, attributes, error, sizeof(error)) != 0) {
        /* The reader names the member it rejects first, such as "subject". */
        problem_set(reply, 422, "claims_invalid",
                    strncmp(error, "\"subject\"", 9) == 0     ? "subject"
                    : strncmp(error, "\"assurance\"", 11) == 0 ? "assurance_level"
                                                                 : "attributes",
                    "%s", error);
        return false;
    }
    spec->issuer = snapshot->cfg->entity_id;
    spec->audience = in->audience;
    spec->issue_instant = time(NULL);
    spec->valid_seconds = in->validity;
    return check_claims_distinct(spec, reply) && check_issued_values(spec, reply) &&
           check_spec(spec, reply);
}

static void reply_issued(http_reply *reply, const store_issue *issue, const char *xml,
                         const char *code)
{
    char expires[32];

    route_format_time(issue->not_on_or_after, expires);
    http_reply_json(reply, 201,
                    json_pack("{s:s, s:s, s:s, s:s, s:b, s:s, s:s}", "credential_id",
                              issue->credential_id, "status", "active", "assertion_id",
                              issue->assertion_id, "not_on_or_after", expires,
                              "claims_in_assertion", issue->held_claims_json == NULL,
                              "enrollment_code", code, "assertion", xml));
}

static int write_issue(struct sqlite3 *db, void *ctx)
{
    return store_sqlite_write_issue(db, ctx);
}

/*
 * The node signs every credential and result attestation with its own key and Issuer,
 * so a relying party cannot tell which issuing client vouched for a NameID. One NameID
 * therefore names one subject on this node, whatever client issued it first.
 */
static void problem_subject_conflict(http_reply *reply)
{
    problem_set(reply, 409, "subject_conflict", "subject",
                "This NameID belongs to a subject of another issuer on this node; issue "
                "the credential under another identifier.");
}

/* Rejects a NameID of another issuer's subject before the HSM signs anything for it.
 * The store checks again in the transaction that stores the credential, which decides
 * when two issuers race for one NameID. */
static bool check_subject_free(const http_request *request, const char *subject,
                               http_reply *reply)
{
    store *s = request->node->store;

    switch (s->ops->check_name_id(s, subject, request->caller.identity)) {
    case STORE_OK:
        return true;
    case STORE_CONFLICT:
        problem_subject_conflict(reply);
        return false;
    default:
        problem_internal(reply);
        return false;
    }
}

static void store_and_reply(http_request *request, const issue_input *in,
                            const saml_assertion_spec *spec, const char *xml,
                            http_reply *reply)
{
    char credential_id[33];
    char assertion_id[80];
    char code[25];
    char *claims_text = json_dumps(in->attributes, JSON_COMPACT | JSON_SORT_KEYS);
    store_issue issue = {0};
    audit_status status;

    if (claims_text == NULL || route_random_hex(credential_id, 16) != 0 ||
        make_enrollment_code(code) != 0 ||
        route_assertion_id(xml, assertion_id, sizeof(assertion_id)) != 0) {
        problem_internal(reply);
        goto out;
    }

    issue.credential_id = credential_id;
    issue.issuer = request->caller.identity;
    issue.subject_name_id = in->subject;
    issue.subject_claims_json = claims_text;
    issue.held_claims_json = in->claims_in_assertion ? NULL : claims_text;
    issue.assertion_id = assertion_id;
    issue.assurance = in->assurance;
    issue.issued_at = spec->issue_instant;
    issue.not_on_or_after = spec->issue_instant + spec->valid_seconds;
    /* Only a digest of the code is stored; the code itself goes to the issuer once. */
    SHA256((const unsigned char *)code, strlen(code), issue.enrollment_code_hash);

    /* The credential and its entry commit together: a crash cannot leave an active
     * credential that the log lacks. */
    status = route_audit_issued(request, &issue, in->attributes, write_issue, &issue, reply);
    if (status == AUDIT_ERR_CONFLICT)
        problem_subject_conflict(reply);
    if (status != AUDIT_OK)
        goto out;
    log_field fields[] = {
        {"request_id", request->request_id},
        {"issuer", request->caller.identity},
        {"credential_id", credential_id},
        {"assertion_id", assertion_id},
    };
    log_event(LOG_INFO, "credential_issued", fields, sizeof(fields) / sizeof(fields[0]));
    reply_issued(reply, &issue, xml, code);
out:
    explicit_bzero(code, sizeof(code));
    free(claims_text);
}

/*
 * Rejects a signed assertion that POST /v1/verifications could not accept, because that
 * route reads the assertion as a JSON string of at most [limits] max_string_bytes. Each
 * value is within its own limit, but XML escaping can make the assertion several times
 * larger than the request, such as "&" written as "&amp;".
 * NOTE: the relying party's request body must also fit [limits] max_body_bytes, and the
 * escaping of its JSON encoder decides how much the assertion grows there. With the
 * defaults (128 KiB and 256 KiB) only values with many quotes, backslashes, tabs or line
 * breaks, or many non-ASCII characters from an encoder that writes \u escapes, can
 * exceed it.
 */
static bool check_assertion_size(const http_request *request, size_t len, bool unsigned_only,
                                 http_reply *reply)
{
    size_t max = request->node->boot->limits.max_string_bytes;

    if (len <= max)
        return true;
    problem_set(reply, 422, "claims_invalid", "attributes",
                "The %s would be %zu bytes, more than the %zu bytes of [limits] "
                "max_string_bytes that POST /v1/verifications accepts. Send fewer or shorter "
                "claim values, or set claims_in_assertion to false.",
                unsigned_only ? "assertion without its signature" : "signed assertion", len,
                max);
    return false;
}

/* Checks the assertion's length without its Signature before the HSM signs it. So an
 * assertion already too long costs no signature. check_assertion_size checks the signed
 * one again. A spec that fails to build here fails the signer's own checks later, which
 * name the reason. */
static bool check_unsigned_size(const http_request *request,
                                const saml_assertion_spec *spec, http_reply *reply)
{
    size_t len;

    if (saml_build_unsigned_size(spec, &len) != 0)
        return true;
    return check_assertion_size(request, len, true, reply);
}

void route_credentials_issue(http_request *request, http_reply *reply)
{
    json_t *body = http_parse_json_body(request, reply);
    json_t *claims_doc = json_object();
    saml_attribute *attributes = NULL;
    size_t attribute_count = 0;
    bool built;
    saml_assertion_spec spec = {0};
    issue_input in = {0};
    char *xml = NULL;

    if (body == NULL || claims_doc == NULL)
        goto out;
    if (!read_issue_input(body, &in, reply) || !check_claim_names(in.attributes, reply))
        goto out;
    built = build_spec(request->snapshot, &in, claims_doc, &spec, &attributes, reply);
    attribute_count = spec.attribute_count;
    if (!built)
        goto out;
    /* The claims were checked against the catalogue either way; a credential whose
     * values the node stores is signed without them. */
    if (!in.claims_in_assertion)
        spec.attribute_count = 0;
    if (!check_subject_free(request, in.subject, reply) ||
        !check_unsigned_size(request, &spec, reply) ||
        route_sign_assertion(request, &spec, &xml, reply) != 0 ||
        !check_assertion_size(request, strlen(xml), false, reply))
        goto out;

    store_and_reply(request, &in, &spec, xml, reply);
out:
    free(xml);
    saml_attributes_free(attributes, attribute_count);
    json_decref(claims_doc);
    json_decref(body);
}

/* Names the credential's status: revoked, then expired from its NotOnOrAfter on, else
 * active. Verification allows [saml] clock_skew past that time; the status does not. */
static const char *credential_status(const store_credential *credential, time_t now)
{
    if (credential->state == STORE_CREDENTIAL_REVOKED)
        return "revoked";
    return now >= credential->not_on_or_after ? "expired" : "active";
}

static void reply_credential(http_reply *reply, unsigned status,
                             const store_credential *credential)
{
    char issued[32];
    char expires[32];
    char revoked[32];
    json_t *doc;

    route_format_time(credential->issued_at, issued);
    route_format_time(credential->not_on_or_after, expires);
    doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "credential_id", credential->id,
                    "status", credential_status(credential, time(NULL)), "assertion_id",
                    credential->assertion_id, "assurance",
                    credential->assurance, "issued_at", issued, "not_on_or_after", expires,
                    "claims_in_assertion", credential->held_claims_json == NULL);
    if (doc != NULL && credential->state == STORE_CREDENTIAL_REVOKED) {
        route_format_time(credential->revoked_at, revoked);
        json_object_set_new(doc, "revocation",
                            json_pack("{s:s?, s:s}", "reason", credential->revocation_reason,
                                      "revoked_at", revoked));
    }
    http_reply_json(reply, status, doc);
}

static void problem_not_found(http_reply *reply)
{
    problem_set(reply, 404, "credential_not_found", "id",
                "No credential with this id was issued by the caller.");
}

void route_credentials_get(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    store_credential credential;
    store_status status = s->ops->get_credential(s, request->params[0], &credential);

    if (status == STORE_NOT_FOUND ||
        (status == STORE_OK && strcmp(credential.issuer, request->caller.identity) != 0))
        problem_not_found(reply);
    else if (status != STORE_OK)
        problem_internal(reply);
    else
        reply_credential(reply, 200, &credential);
    store_credential_clear(&credential);
}

static const char *const revocation_members[] = {"reason", NULL};

/* Reads the caller's credential. Another issuer's reads as missing. Returns false with a
 * problem in reply. */
static bool load_own_credential(http_request *request, store_credential *credential,
                                http_reply *reply)
{
    store *s = request->node->store;
    store_status status = s->ops->get_credential(s, request->params[0], credential);

    if (status == STORE_OK && strcmp(credential->issuer, request->caller.identity) != 0)
        status = STORE_NOT_FOUND;
    if (status == STORE_NOT_FOUND)
        problem_not_found(reply);
    else if (status != STORE_OK)
        problem_internal(reply);
    return status == STORE_OK;
}

static void reply_already_revoked(http_reply *reply)
{
    problem_set(reply, 409, "credential_already_revoked", "id",
                "The credential was revoked before.");
}

/*
 * Revokes the credential, with the sessions and keys its enrollment code created, and
 * records the entries in one transaction. A crash between two transactions could leave
 * a revocation in force that the log lacks, and the issuer's retry would then get 409
 * and never write the entry.
 */
static void revoke(http_request *request, store_credential *credential, const char *reason,
                   http_reply *reply)
{
    store *s = request->node->store;
    audit_status status = route_revocation_commit(request, credential, reason, time(NULL),
                                                  reply);

    if (status == AUDIT_ERR_CONFLICT) {
        reply_already_revoked(reply); /* a concurrent revocation committed first */
        return;
    }
    if (status != AUDIT_OK)
        return;
    log_field fields[] = {
        {"request_id", request->request_id},
        {"issuer", request->caller.identity},
        {"credential_id", credential->id},
    };
    log_event(LOG_INFO, "credential_revoked", fields, sizeof(fields) / sizeof(fields[0]));
    /* The revoked state is read again, by the path's id. */
    store_credential_clear(credential);
    if (s->ops->get_credential(s, request->params[0], credential) != STORE_OK) {
        problem_internal(reply);
        return;
    }
    reply_credential(reply, 200, credential);
}

void route_credentials_revoke(http_request *request, http_reply *reply)
{
    json_t *body = http_parse_json_body(request, reply);
    store_credential credential = {0};
    const char *reason;

    if (body == NULL)
        return;
    if (!http_json_known_members(body, revocation_members, reply))
        goto out;
    reason = http_json_string(body, "reason", true, REASON_MAX, reply);
    if (reason == NULL)
        goto out;
    /* The reason is the only record of why the credential ended, for the issuer and in
     * the audit log, so one that shows nothing counts as missing. */
    if (saml_text_is_blank(reason)) {
        problem_set(reply, 400, "field_invalid", "reason",
                    "reason contains only white space; say why the credential is revoked.");
        goto out;
    }
    if (!load_own_credential(request, &credential, reply))
        goto out;
    if (credential.state == STORE_CREDENTIAL_REVOKED)
        reply_already_revoked(reply);
    else
        revoke(request, &credential, reason, reply);
out:
    store_credential_clear(&credential);
    json_decref(body);
}

/*
 * Verification of a standalone Assertion, or of a Response with exactly one Assertion.
 *
 * The steps run in this order, and the first failure decides the reason. Safe parse, a
 * SAML root, absolute namespace names, unique IDs, exactly one Assertion, the choice of
 * the signed element, the SignedInfo checks, the bounds on canonicalisation work, the
 * issuer's trusted keys and the signature come first, then the content model of a
 * Response around the Assertion and text where a SAML schema allows only child elements.
 * The claims, the Response status, the order of the Conditions times, the validity
 * window, the other instants, the bearer confirmation, audience and replay check follow.
 * All are read from the signed element except the Response status and IssueInstant,
 * which can only reject. A Response that contains no assertion is rejected for its
 * status, when that reports a failure, before the count.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

#define SAML_DEFAULT_MAX_INPUT (256u * 1024u)

/* The start of the SAML 1.0 and 1.1 namespaces, such as
 * urn:oasis:names:tc:SAML:1.0:assertion, which SAML 1.1 keeps. */
#define SAML_NS_1X "urn:oasis:names:tc:SAML:1."

/* The nodes that verification works on; all point into one document. */
typedef struct saml_located {
    xmlNodePtr root;
    xmlNodePtr assertion;
    xmlNodePtr signed_node; /* the Assertion, or the Response that contains it */
    xmlNodePtr signature;   /* a direct child of signed_node */
    xmlNodePtr stray_text;  /* the first element with text its schema forbids, or NULL */
} saml_located;

static saml_status saml_from_xml_safe(xml_safe_status status)
{
    switch (status) {
    case XML_SAFE_OK: return SAML_OK;
    case XML_SAFE_TOO_LARGE: return SAML_ERR_INPUT_TOO_LARGE;
    case XML_SAFE_DOCTYPE: return SAML_ERR_DOCTYPE_FORBIDDEN;
    case XML_SAFE_MALFORMED: return SAML_ERR_XML_MALFORMED;
    case XML_SAFE_DUPLICATE_ID: return SAML_ERR_DUPLICATE_ID;
    case XML_SAFE_NO_MEMORY: return SAML_ERR_INTERNAL;
    case XML_SAFE_TOO_COMPLEX: return SAML_ERR_C14N_TOO_COMPLEX;
    case XML_SAFE_INVALID_ID: return SAML_ERR_NOT_SAML;
    case XML_SAFE_NAMESPACE_URI: return SAML_ERR_NAMESPACE_INVALID;
    }
    return SAML_ERR_INTERNAL;
}

static saml_status saml_check_root(xmlDocPtr doc, saml_located *loc, char *detail,
                                   size_t detail_size)
{
    const char *ns;

    loc->root = xmlDocGetRootElement(doc);
    if (xml_safe_is_element(loc->root, SAML_NS_ASSERTION, "Assertion") ||
        xml_safe_is_element(loc->root, SAML_NS_PROTOCOL, "Response"))
        return SAML_OK;

    /* The sentence names the namespace, so that a SAML 1.x document, or a prefix bound
     * to another URI, is not mistaken for a root of another name. */
    ns = loc->root->ns != NULL ? (const char *)loc->root->ns->href : "";
    if (strncmp(ns, SAML_NS_1X, sizeof(SAML_NS_1X) - 1) == 0)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "the root element <%.60s> is in the SAML 1.x namespace \"%.80s\"; "
                         "the node reads only SAML 2.0 Assertions and Responses",
                         loc->root->name, ns);
    return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                     "the root element <%.60s> %s%.80s%s is neither a SAML 2.0 Assertion "
                     "(" SAML_NS_ASSERTION ") nor a Response (" SAML_NS_PROTOCOL ")",
                     loc->root->name, ns[0] != '\0' ? "in the namespace \"" : "",
                     ns[0] != '\0' ? ns : "without a namespace", ns[0] != '\0' ? "\"" : "");
}

/*
 * Returns the next element after node, skipping the subtree of an Advice of an Assertion
 * and of an Evidence of an Assertion's AuthzDecisionStatement. SAML 2.0 Core lets an
 * issuer put other assertions in both. An Advice (section 2.6.1) carries evidence that a
 * relying party may ignore without changing the assertion's meaning or validity. An
 * Evidence (section 2.7.4.3) carries the assertions that an authorization decision
 * relied on. The verifier reads nothing from either, and the signature of the Assertion
 * or Response that encloses them covers them.
 */
static xmlNodePtr saml_next_outside_evidence(xmlNodePtr node, xmlNodePtr root)
{
    if (xml_safe_is_element(node, SAML_NS_ASSERTION, "Advice") &&
        xml_safe_is_element(node->parent, SAML_NS_ASSERTION, "Assertion"))
        return xml_safe_next_element_after(node, root);
    if (xml_safe_is_element(node, SAML_NS_ASSERTION, "Evidence") &&
        xml_safe_is_element(node->parent, SAML_NS_ASSERTION, "AuthzDecisionStatement") &&
        xml_safe_is_element(node->parent->parent, SAML_NS_ASSERTION, "Assertion"))
        return xml_safe_next_element_after(node, root);
    return xml_safe_next_element(node, root);
}

/* Counts every Assertion in the document outside an Advice or Evidence, also those
 * hidden inside unknown elements. The same walk notes the first element with characters
 * that its schema type forbids (saml_form_has_stray_text). saml_verify_doc rejects it
 * after the signatures, so that text added to a signed element keeps digest_mismatch. */
static saml_status saml_find_assertion(saml_located *loc, char *detail, size_t detail_size)
{
    size_t count = 0;
    size_t encrypted = 0;

    for (xmlNodePtr node = loc->root; node != NULL;
         node = saml_next_outside_evidence(node, loc->root)) {
        if (loc->stray_text == NULL && saml_form_has_stray_text(node))
            loc->stray_text = node;
        if (xml_safe_is_element(node, SAML_NS_ASSERTION, "Assertion")) {
            loc->assertion = node;
            count++;
        } else if (xml_safe_is_element(node, SAML_NS_ASSERTION, "EncryptedAssertion")) {
            encrypted++;
        }
    }

    /* A Response that reports a failed request carries no assertion, and its status is
     * the reason. The status is not signed, but it can only reject. */
    if (count == 0 && encrypted == 0) {
        saml_status status = saml_check_response_status(loc->root, detail, detail_size);

        if (status == SAML_ERR_STATUS_NOT_SUCCESS || status == SAML_ERR_INTERNAL)
            return status;
    }

    /* A lone EncryptedAssertion is valid SAML that the node cannot decrypt, like an
     * EncryptedID. Beside another assertion it is one assertion too many. */
    if (encrypted == 1 && count == 0)
        return saml_fail(detail, detail_size, SAML_ERR_CONTENT_UNSUPPORTED,
                         "the Response carries its assertion as an EncryptedAssertion, which "
                         "the node cannot decrypt; the issuer must send the Assertion "
                         "unencrypted");
    if (encrypted > 0)
        return saml_fail(detail, detail_size, SAML_ERR_ASSERTION_COUNT,
                         "the document holds %zu Assertion and %zu EncryptedAssertion "
                         "elements; exactly one assertion is required",
                         count, encrypted);
    if (count == 0)
        return saml_note_namesake(
            saml_fail(detail, detail_size, SAML_ERR_ASSERTION_COUNT,
                      "the document holds 0 Assertion elements; exactly one is required"),
            detail, detail_size, loc->root, "Assertion", true);
    if (count != 1)
        return saml_fail(detail, detail_size, SAML_ERR_ASSERTION_COUNT,
                         "the document holds %zu Assertion elements; exactly one is required",
                         count);
    if (loc->assertion != loc->root && loc->assertion->parent != loc->root)
        return saml_fail(detail, detail_size, SAML_ERR_ASSERTION_COUNT,
                         "the Assertion is not a direct child of the Response");
    return SAML_OK;
}

static xmlNodePtr saml_signature_child(xmlNodePtr node, size_t *count)
{
    xmlNodePtr found = NULL;

    *count = 0;
    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (xml_safe_is_element(child, SAML_NS_DSIG, "Signature")) {
            found = child;
            (*count)++;
        }
    }
    return found;
}

static saml_status saml_choose_signed(saml_located *loc, const saml_verify_options *options,
                                      char *detail, size_t detail_size)
{
    size_t count;
    bool is_response = loc->root != loc->assertion;
    xmlNodePtr signature = saml_signature_child(loc->assertion, &count);

    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_COUNT,
                         "the Assertion has %zu Signature children; exactly one is allowed",
                         count);
    /* A Signature of the Response around a signed Assertion is verified afterwards by
     * saml_verify_envelope. */
    if (count == 1) {
        loc->signed_node = loc->assertion;
        loc->signature = signature;
        return SAML_OK;
    }
    if (!is_response || !options->accept_signed_response)
        return saml_note_namesake_in(
            saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MISSING,
                      "the Assertion carries no Signature of its own"),
            detail, detail_size, loc->assertion, "Signature", SAML_NS_DSIG, false);

    signature = saml_signature_child(loc->root, &count);
    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_COUNT,
                         "the Response has %zu Signature children; exactly one is allowed",
                         count);
    if (count == 0)
        return saml_note_namesake_in(
            saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_MISSING,
                      "neither the Assertion nor the Response carries a Signature"),
            detail, detail_size, loc->assertion, "Signature", SAML_NS_DSIG, false);
    loc->signed_node = loc->root;
    loc->signature = signature;
    return SAML_OK;
}

/* Puts prefix before the sentence in detail, cutting the sentence's end if needed. */
static void saml_prefix_detail(char *detail, size_t detail_size, const char *prefix)
{
    size_t prefix_len = strlen(prefix);
    size_t len = strlen(detail);

    if (detail_size == 0 || prefix_len >= detail_size)
        return;
    if (len > detail_size - 1 - prefix_len)
        len = detail_size - 1 - prefix_len;
    memmove(detail + prefix_len, detail, len);
    memcpy(detail, prefix, prefix_len);
    detail[prefix_len + len] = '\0';
}

/* Reads the text of the only saml:Issuer child of node into *issuer (NULL when absent),
 * with the checks of saml_read_issuer. */
static saml_status saml_issuer_of(xmlNodePtr node, char **issuer, char *detail,
                                  size_t detail_size)
{
    xmlNodePtr found = NULL;
    size_t count = 0;
    saml_status status;

    *issuer = NULL;
    for (xmlNodePtr child = node->children; child != NULL; child = child->next) {
        if (xml_safe_is_element(child, SAML_NS_ASSERTION, "Issuer")) {
            found = child;
            count++;
        }
    }
    if (count == 0)
        return SAML_OK;
    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_SAML,
                         "<%.40s> has %zu Issuer elements; at most one is allowed", node->name,
                         count);

    status = saml_read_issuer(found, issuer, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if ((*issuer)[0] == '\0') {
        free(*issuer);
        *issuer = NULL;
        return saml_fail(detail, detail_size, SAML_ERR_ISSUER_MISSING,
                         "the Issuer of <%.40s> is empty or only white space", node->name);
    }
    return SAML_OK;
}

/*
 * Finds the keys trusted for the Assertion's Issuer. A Response around the Assertion
 * that carries an Issuer must name the same entity, signed or not: the Web Browser SSO
 * profile (saml-profiles-2.0-os, section 4.1.4.2) has it name the identity provider that
 * issued the assertion. So one issuer cannot vouch for another's assertion, and a
 * Response cannot claim a sender that its Assertion does not name. A signed Response
 * must carry an Issuer, which saml_check_signed_response_issuer checks later.
 */
static saml_status saml_find_keys(const saml_trust_store *store, const saml_located *loc,
                                  const saml_trust_key **keys, size_t *key_count, char *detail,
                                  size_t detail_size)
{
    char *issuer = NULL;
    char *response_issuer = NULL;
    saml_status status = saml_issuer_of(loc->assertion, &issuer, detail, detail_size);

    if (status != SAML_OK)
        goto out;
    if (issuer == NULL) {
        status = saml_note_namesake(saml_fail(detail, detail_size, SAML_ERR_ISSUER_MISSING,
                                              "the Assertion has no Issuer"),
                                    detail, detail_size, loc->assertion, "Issuer", false);
        goto out;
    }

    if (loc->root != loc->assertion) {
        status = saml_issuer_of(loc->root, &response_issuer, detail, detail_size);
        if (status != SAML_OK)
            goto out;
        if (response_issuer != NULL && strcmp(response_issuer, issuer) != 0) {
            status = saml_fail(detail, detail_size, SAML_ERR_ISSUER_UNTRUSTED,
                               "the %sResponse's Issuer \"%.100s\" differs from the "
                               "Assertion's Issuer \"%.100s\"",
                               loc->signed_node == loc->root ? "signed " : "",
                               response_issuer, issuer);
            goto out;
        }
    }

    *key_count = saml_trust_candidates(store, issuer, keys, SAML_TRUST_MAX_CANDIDATES);
    if (*key_count == 0)
        status = saml_fail(detail, detail_size, SAML_ERR_ISSUER_UNTRUSTED,
                           "no key is trusted for the issuer \"%.120s\"", issuer);

out:
    free(issuer);
    free(response_issuer);
    return status;
}

/* Checks the audience. When there are several AudienceRestriction elements, SAML 2.0
 * requires each of them to name the expected audience. An assertion without any is
 * rejected too: it is not bound to any relying party, and the SAML 2.0 Web Browser SSO
 * profile requires one in every bearer assertion. */
static saml_status saml_check_audience(xmlNodePtr assertion, const char *audience,
                                       char *detail, size_t detail_size)
{
    xmlNodePtr conditions = NULL;
    size_t restrictions = 0;

    for (xmlNodePtr child = assertion->children; child != NULL; child = child->next) {
        if (xml_safe_is_element(child, SAML_NS_ASSERTION, "Conditions"))
            conditions = child;
    }
    for (xmlNodePtr r = conditions != NULL ? conditions->children : NULL; r != NULL;
         r = r->next) {
        bool matched = false;

        if (!xml_safe_is_element(r, SAML_NS_ASSERTION, "AudienceRestriction"))
            continue;
        restrictions++;
        for (xmlNodePtr aud = r->children; aud != NULL && !matched; aud = aud->next) {
            char *value;
            saml_status status;

            if (!xml_safe_is_element(aud, SAML_NS_ASSERTION, "Audience"))
                continue;
            status = saml_read_text(aud, "an Audience", &value, detail, detail_size);
            if (status != SAML_OK)
                return status;
            matched = strcmp(value, audience) == 0;
            free(value);
        }
        if (!matched)
            return saml_fail(detail, detail_size, SAML_ERR_AUDIENCE_MISMATCH,
                             "an AudienceRestriction does not name the audience \"%.120s\"",
                             audience);
    }
    if (restrictions == 0)
        return saml_fail(detail, detail_size, SAML_ERR_AUDIENCE_MISMATCH,
                         "the assertion has no AudienceRestriction, so it is not bound to "
                         "the audience \"%.120s\"",
                         audience);
    return SAML_OK;
}

/* The verification time. A clock of whole seconds leaves the time anywhere from
 * earliest_ms to latest_ms and their picoseconds, while a clock in milliseconds gives it
 * exactly. */
typedef struct saml_now {
    time_t seconds;
    int64_t earliest_ms;
    int64_t earliest_ps;
    int64_t latest_ms;
    int64_t latest_ps;
} saml_now;

#define SAML_PS_MAX 999999999999LL /* the last picosecond of a millisecond */

/* Returns whether the time of a_ms and a_ps lies before that of b_ms and b_ps. */
static bool saml_time_before(int64_t a_ms, int64_t a_ps, int64_t b_ms, int64_t b_ps)
{
    return a_ms < b_ms || (a_ms == b_ms && a_ps < b_ps);
}

static saml_now saml_read_clock(const saml_verify_options *options)
{
    saml_now now;

    if (options->clock_ms != NULL) {
        int64_t ms = options->clock_ms(options->clock_ctx);

        int64_t ps = options->clock_ps;

        if (ps < 0 || ps > SAML_PS_MAX)
            ps = 0;
        now.seconds = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
        now.earliest_ms = ms;
        now.earliest_ps = ps;
        now.latest_ms = ms;
        now.latest_ps = ps;
        return now;
    }
    now.seconds =
        options->clock != NULL ? options->clock(options->clock_ctx) : time(NULL);
    now.earliest_ms = (int64_t)now.seconds * 1000;
    now.earliest_ps = 0;
    now.latest_ms = now.earliest_ms + 999;
    now.latest_ps = SAML_PS_MAX;
    return now;
}

/*
 * Checks the Conditions window to the picosecond, so that a NotBefore or NotOnOrAfter
 * with a fraction of a second is compared with the fraction of a clock in milliseconds
 * and picoseconds, and a time equal to the NotBefore passes. A clock of whole seconds
 * must pass at the earliest and the latest time within its second: a NotBefore with a
 * fraction counts from the next whole second, and a NotOnOrAfter ends its own whole
 * second.
 */
static saml_status saml_check_window(const saml_assertion *a, saml_now now, long skew,
                                     char *detail, size_t detail_size)
{
    int64_t skew_ms = (int64_t)skew * 1000;

    if (a->has_not_before && saml_time_before(now.earliest_ms + skew_ms, now.earliest_ps,
                                              a->not_before_ms, a->not_before_ps))
        return saml_fail(
            detail, detail_size, SAML_ERR_NOT_YET_VALID,
            "the assertion is not valid before NotBefore, %lld seconds from now",
            (long long)(a->not_before - now.seconds));
    if (!saml_time_before(now.latest_ms - skew_ms, now.latest_ps, a->not_on_or_after_ms,
                          a->not_on_or_after_ps))
        return saml_fail(detail, detail_size, SAML_ERR_EXPIRED,
                         "the assertion expired at NotOnOrAfter, %lld seconds ago",
                         (long long)(now.seconds - a->not_on_or_after));
    return SAML_OK;
}

/* The limit of the instant checks. An instant less than a second past limit_ms passes.
 * now, the verification time in whole seconds, and lead_ms, the part of the tolerance
 * that the issuer granted with its NotBefore, go into the sentences. */
typedef struct saml_instant_limit {
    int64_t limit_ms;
    time_t now;
    int64_t lead_ms;
} saml_instant_limit;

/* Fails, as not yet valid, for an instant a second or more past the limit. what and owner
 * name the instant, as in "the IssueInstant of the Assertion". */
static saml_status saml_check_not_future(time_t instant, int64_t instant_ms,
                                         const char *what, const char *owner,
                                         const saml_instant_limit *limit, char *detail,
                                         size_t detail_size)
{
    if (instant_ms < limit->limit_ms + 1000)
        return SAML_OK;
    if (limit->lead_ms > 0)
        return saml_fail(detail, detail_size, SAML_ERR_NOT_YET_VALID,
                         "the %s of the %s is in the future, %lld seconds from now, "
                         "beyond the clock skew and the %lld seconds by which the "
                         "NotBefore precedes the Assertion's IssueInstant",
                         what, owner, (long long)(instant - limit->now),
                         (long long)(limit->lead_ms / 1000));
    return saml_fail(detail, detail_size, SAML_ERR_NOT_YET_VALID,
                     "the %s of the %s is in the future, %lld seconds from now, beyond "
                     "the clock skew",
                     what, owner, (long long)(instant - limit->now));
}

/*
 * Returns how many milliseconds the Conditions' NotBefore precedes the Assertion's
 * IssueInstant, or 0. An issuer that dates NotBefore back, as OneLogin's toolkits and
 * SimpleSAMLphp do by 30 seconds and Keycloak by 2, declares the assertion valid to a
 * verifier whose clock is behind its own by that much. The window check honours that, so
 * the instant checks must too, or a verifier at the NotBefore would reject what the
 * issuer declared valid. Both are in milliseconds, like the window, so that where the
 * whole seconds fall between them does not matter.
 */
static int64_t saml_not_before_lead_ms(const saml_assertion *a)
{
    if (!a->has_not_before || a->issue_instant_ms <= a->not_before_ms)
        return 0;
    return a->issue_instant_ms - a->not_before_ms;
}

/*
 * Checks the instants outside the validity window against the clock, with the skew of
 * the window. An IssueInstant, of the Assertion or of a Response around it, and an
 * AuthnInstant name events that have happened. So one a second or more past the
 * earliest time of the clock plus the skew and the lead of a NotBefore dated back
 * (saml_not_before_lead_ms) is rejected as not yet valid. The second of grace covers
 * issuers that write the AuthnInstant or the Response's IssueInstant a few milliseconds
 * after the Assertion's IssueInstant. A SessionNotOnOrAfter at or before the latest time
 * of the clock minus the skew is rejected as expired, compared to the picosecond as in
 * saml_check_window. SAML 2.0 Core (section 2.7.2) has the issuer's session
 * with the subject considered ended then, and the result attestation would vouch for
 * that authentication. The Response is not always signed, but it can only reject.
 */
static saml_status saml_check_instants(const saml_located *loc, const saml_assertion *a,
                                       saml_now clock, long skew, char *detail,
                                       size_t detail_size)
{
    time_t now = clock.seconds;
    saml_instant_limit limit = {.now = now, .lead_ms = saml_not_before_lead_ms(a)};
    time_t response_instant;
    int64_t response_instant_ms;
    saml_status status;

    limit.limit_ms = clock.earliest_ms + (int64_t)skew * 1000 + limit.lead_ms;
    status = saml_check_not_future(a->issue_instant, a->issue_instant_ms, "IssueInstant",
                                   "Assertion", &limit, detail, detail_size);
    if (status == SAML_OK && a->has_authn_statement)
        status = saml_check_not_future(a->authn_instant, a->authn_instant_ms,
                                       "AuthnInstant", "AuthnStatement", &limit, detail,
                                       detail_size);
    if (status == SAML_OK && loc->root != loc->assertion) {
        status = saml_read_time(loc->root, "IssueInstant", true, &response_instant, NULL,
                                NULL, detail, detail_size);
        if (status == SAML_OK)
            status = saml_read_time_ms(loc->root, "IssueInstant", response_instant, false,
                                       &response_instant_ms, detail, detail_size);
        if (status == SAML_OK)
            status = saml_check_not_future(response_instant, response_instant_ms,
                                           "IssueInstant", "Response", &limit, detail,
                                           detail_size);
    }
    if (status == SAML_OK && a->has_session_not_on_or_after &&
        !saml_time_before(clock.latest_ms - (int64_t)skew * 1000, clock.latest_ps,
                          a->session_not_on_or_after_ms, a->session_not_on_or_after_ps))
        status = saml_fail(detail, detail_size, SAML_ERR_EXPIRED,
                           "the issuer's session with the subject ended at the "
                           "AuthnStatement's SessionNotOnOrAfter, %lld seconds ago",
                           (long long)(now - a->session_not_on_or_after));
    return status;
}

static saml_status saml_check_claims(const saml_located *loc, const saml_assertion *a,
                                     const saml_verify_options *options, char *detail,
                                     size_t detail_size)
{
    saml_now clock = saml_read_clock(options);
    time_t now = clock.seconds;
    long skew = options->clock_skew_seconds > 0 ? options->clock_skew_seconds : 0;
    saml_status status = saml_check_response_status(loc->root, detail, detail_size);

    if (status == SAML_OK)
        status = saml_check_conditions_order(a, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_window(a, clock, skew, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_instants(loc, a, clock, skew, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_bearer(loc->assertion, now, clock.latest_ms, clock.latest_ps,
                                   skew, detail, detail_size);
    if (status != SAML_OK)
        return status;
    if (options->audience != NULL) {
        status = saml_check_audience(loc->assertion, options->audience, detail, detail_size);
        if (status != SAML_OK)
            return status;
    }

    /* Last, so that only an assertion that passed every other check is remembered. */
    if (options->replay != NULL) {
        /* Kept as long as the skew lets the assertion pass the window check. */
        time_t keep_until = a->not_on_or_after + (options->clock_skew_seconds > 0
                                                      ? options->clock_skew_seconds
                                                      : 0);
        int seen = options->replay->check_and_store(options->replay->ctx, a->issuer, a->id,
                                                    keep_until);

        if (seen < 0)
            return saml_fail(detail, detail_size, SAML_ERR_INTERNAL,
                             "the replay cache failed to record the assertion ID");
        if (seen == 0)
            return saml_fail(detail, detail_size, SAML_ERR_REPLAYED,
                             "the assertion ID \"%.100s\" was already used", a->id);
    }
    return SAML_OK;
}

/*
 * Verifies the Signature of a Response around a signed Assertion, when the Response has
 * one, with the keys trusted for the same issuer. The claims come only from the
 * Assertion, but a signature that is present and fails means the document was changed
 * after signing, so verification fails closed.
 */
static saml_status saml_verify_envelope(const saml_trust_store *store,
                                        const saml_verify_options *options,
                                        const saml_located *loc, char *detail,
                                        size_t detail_size)
{
    const saml_trust_key *keys[SAML_TRUST_MAX_CANDIDATES];
    saml_located envelope = *loc;
    saml_dsig_info info;
    size_t key_count = 0;
    size_t count;
    saml_status status;

    if (loc->root == loc->assertion || loc->signed_node != loc->assertion)
        return SAML_OK;
    envelope.signature = saml_signature_child(loc->root, &count);
    if (count == 0)
        return SAML_OK;
    if (count > 1)
        return saml_fail(detail, detail_size, SAML_ERR_SIGNATURE_COUNT,
                         "the Response has %zu Signature children; exactly one is allowed",
                         count);

    envelope.signed_node = loc->root;
    status = saml_dsig_check(envelope.signature, envelope.signed_node, &info, detail,
                             detail_size);
    if (status == SAML_OK)
        status = saml_find_keys(store, &envelope, keys, &key_count, detail, detail_size);
    if (status == SAML_OK)
        status = saml_dsig_verify(envelope.signature, &info, keys, key_count, options, detail,
                                  detail_size);
    if (status != SAML_OK)
        saml_prefix_detail(detail, detail_size, "the Response's own Signature: ");
    return status;
}

/* The Web Browser SSO profile (saml-profiles-2.0-os, section 4.1.4.2) requires an Issuer
 * in a signed Response. Runs after the form check, which has placed any Issuer first. */
static saml_status saml_check_signed_response_issuer(const saml_located *loc, char *detail,
                                                     size_t detail_size)
{
    size_t count;

    if (loc->root == loc->assertion)
        return SAML_OK;
    (void)saml_signature_child(loc->root, &count);
    if (count == 0)
        return SAML_OK;
    for (xmlNodePtr child = loc->root->children; child != NULL; child = child->next) {
        if (xml_safe_is_element(child, SAML_NS_ASSERTION, "Issuer"))
            return SAML_OK;
    }
    return saml_fail(detail, detail_size, SAML_ERR_ISSUER_MISSING,
                     "the signed Response has no Issuer; the Web Browser SSO profile "
                     "(section 4.1.4.2) requires one");
}

static saml_status saml_verify_doc(const saml_trust_store *store,
                                   const saml_verify_options *options, xmlDocPtr doc,
                                   saml_assertion **out, char *detail, size_t detail_size)
{
    const saml_trust_key *keys[SAML_TRUST_MAX_CANDIDATES];
    saml_located loc = { 0 };
    saml_dsig_info info;
    size_t key_count = 0;
    saml_assertion *a = NULL;
    saml_status status;

    status = saml_check_root(doc, &loc, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_namespaces(doc, detail, detail_size);
    if (status != SAML_OK)
        return status;

    /* Before counting, so a forged copy of the signed Assertion is named for its ID. */
    status = saml_from_xml_safe(xml_safe_register_ids(doc, "ID", detail, detail_size));
    if (status != SAML_OK)
        return status;

    status = saml_find_assertion(&loc, detail, detail_size);
    if (status == SAML_OK)
        status = saml_choose_signed(&loc, options, detail, detail_size);
    if (status == SAML_OK)
        status = saml_dsig_check(loc.signature, loc.signed_node, &info, detail, detail_size);
    if (status == SAML_OK)
        status = saml_find_keys(store, &loc, keys, &key_count, detail, detail_size);
    if (status == SAML_OK)
        status = saml_dsig_verify(loc.signature, &info, keys, key_count, options, detail,
                                  detail_size);
    if (status == SAML_OK)
        status = saml_verify_envelope(store, options, &loc, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_response_form(loc.root, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_signed_response_issuer(&loc, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_element_text(loc.stray_text, detail, detail_size);
    if (status != SAML_OK)
        return status;

    /* Only the verified element is read from here on: the Assertion is the signed node
     * or the one Assertion directly inside the signed Response. */
    status = saml_assertion_read(loc.assertion, &a, detail, detail_size);
    if (status == SAML_OK)
        status = saml_check_claims(&loc, a, options, detail, detail_size);
    if (status != SAML_OK) {
        saml_assertion_free(&a);
        return status;
    }
    *out = a;
    detail[0] = '\0'; /* a key tried before the one that verified may have left a reason */
    return SAML_OK;
}

/* Returns the length of the valid UTF-8 sequence at text (1 to 4 bytes), or 0 when the
 * bytes there are invalid, overlong, a surrogate, above U+10FFFF or cut short. */
static size_t saml_utf8_length(const unsigned char *text)
{
    unsigned char c = text[0];
    size_t len;
    unsigned long code;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        code = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        code = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        code = c & 0x07u;
    } else {
        return 0;
    }

    for (size_t i = 1; i < len; i++) {
        if ((text[i] & 0xc0u) != 0x80u) /* also stops at the terminating NUL */
            return 0;
        code = (code << 6) | (text[i] & 0x3fu);
    }
    if ((len == 3 && code < 0x800) || (len == 4 && code < 0x10000) || code > 0x10ffff ||
        (code >= 0xd800 && code <= 0xdfff))
        return 0;
    return len;
}

/* Returns whether the UTF-8 sequence of len bytes at text is a C1 control character,
 * U+0080 to U+009F, such as U+0085 NEXT LINE, which some terminals take for a line end. */
static bool saml_is_c1_control(const unsigned char *text, size_t len)
{
    return len == 2 && text[0] == 0xc2 && text[1] <= 0x9f;
}

/*
 * Makes the detail sentence safe to print on one line and to put in JSON. It quotes
 * strings from the document, such as an issuer or an ID, and a %.Ns or the end of the
 * buffer may cut a multi-byte character. Control characters, C0 and C1, and bytes that
 * are not valid UTF-8 become '?'.
 */
static void saml_detail_sanitise(char *detail)
{
    unsigned char *p = (unsigned char *)detail;

    while (*p != '\0') {
        size_t len = saml_utf8_length(p);

        if (saml_is_c1_control(p, len)) {
            /* One '?' takes the place of the character's two bytes. */
            memmove(p + 1, p + 2, strlen((const char *)p + 2) + 1);
            len = 0;
        }
        if (len == 0 || (len == 1 && (*p < 0x20 || *p == 0x7f))) {
            *p = '?';
            len = 1;
        }
        p += len;
    }
}

saml_status saml_verify(const saml_trust_store *store, const saml_verify_options *options,
                        const char *xml, size_t len, saml_assertion **out, char *detail,
                        size_t detail_size)
{
    static const saml_verify_options defaults = { 0 };
    char scratch[256];
    xmlDocPtr doc = NULL;
    saml_status status = SAML_ERR_INTERNAL;

    *out = NULL;
    if (detail == NULL || detail_size == 0) {
        detail = scratch;
        detail_size = sizeof(scratch);
    }
    detail[0] = '\0';
    if (options == NULL)
        options = &defaults;

    if (saml_xmlsec_init() != 0)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL,
                         "libxmlsec1 could not be initialised");

    status = saml_from_xml_safe(xml_safe_parse(
        xml, len, options->max_input_bytes != 0 ? options->max_input_bytes : SAML_DEFAULT_MAX_INPUT,
        &doc, detail, detail_size));
    if (status != SAML_OK) {
        saml_detail_sanitise(detail);
        return status;
    }

    status = saml_verify_doc(store, options, doc, out, detail, detail_size);
    xmlFreeDoc(doc);
    saml_detail_sanitise(detail);
    return status;
}

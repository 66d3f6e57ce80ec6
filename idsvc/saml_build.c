/*
 * Writes a SAML 2.0 Assertion directly in exclusive-c14n canonical form, without its
 * Signature. The template fixes every element and attribute, so the writer can emit
 * them in canonical order:
 *
 *   - namespace declarations appear only on the elements that use them: saml on the
 *     Assertion, xs and xsi on each AttributeValue (xs through the InclusiveNamespaces
 *     PrefixList "xs" of the reference, because xs occurs only inside xsi:type);
 *   - attributes are sorted as c14n sorts them (unqualified ones by local name);
 *   - empty elements are written as a start tag and an end tag;
 *   - there is no whitespace between elements and no XML declaration;
 *   - text and attribute values are escaped as c14n escapes them.
 */
#include "saml_build.h"

#include <limits.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* The Attribute names, syntax and type that one spec attribute is written with. */
typedef struct resolved_attribute {
    const saml_attribute *attribute;
    const saml_claim *claim; /* NULL for a claim named by a URI outside the catalogue */
    const char *uri;
} resolved_attribute;

/* The validated spec with defaults applied and times formatted. */
typedef struct assertion_fields {
    const saml_assertion_spec *spec;
    const char *name_id_format;
    const char *assurance;
    char issue_instant[SAML_TIME_SIZE];
    char authn_instant[SAML_TIME_SIZE]; /* empty: no AuthnStatement */
    char not_on_or_after[SAML_TIME_SIZE];
} assertion_fields;

static int check_text_field(const char *field, const char *value, bool required, bool uri,
                            p11_error *err)
{
    char reason[128];

    if (value == NULL || value[0] == '\0') {
        if (!required)
            return 0;
        saml_set_error(err, "the %s is missing", field);
        return -1;
    }
    if (saml_text_check(value, reason, sizeof(reason)) != 0) {
        saml_set_error(err, "the %s %s", field, reason);
        return -1;
    }
    if (uri && !saml_text_is_uri(value)) {
        saml_set_error(err, "the %s is not an absolute URI", field);
        return -1;
    }
    return 0;
}

static int check_authorities(const saml_assertion_spec *spec, p11_error *err)
{
    if (check_text_field("AuthenticatingAuthority", spec->authenticating_issuer, false, false,
                         err) != 0)
        return -1;
    for (size_t i = 0; i < spec->authenticating_authority_count; i++) {
        if (check_text_field("AuthenticatingAuthority", spec->authenticating_authorities[i],
                             false, false, err) != 0)
            return -1;
    }
    return 0;
}

/* Returns the member of spec that breaks the signer's rules, or SAML_SPEC_OK. */
static saml_spec_field check_spec_fields(const saml_assertion_spec *spec, p11_error *err)
{
    if (check_text_field("issuer", spec->issuer, true, false, err) != 0)
        return SAML_SPEC_ISSUER;
    if (check_text_field("audience", spec->audience, true, false, err) != 0)
        return SAML_SPEC_AUDIENCE;
    if (check_text_field("subject NameID", spec->name_id, true, false, err) != 0)
        return SAML_SPEC_NAME_ID;
    if (check_text_field("NameID format", spec->name_id_format, false, true, err) != 0)
        return SAML_SPEC_NAME_ID_FORMAT;
    if (check_text_field("NameID NameQualifier", spec->name_qualifier, false, false, err) != 0 ||
        check_text_field("NameID SPNameQualifier", spec->sp_name_qualifier, false, false,
                         err) != 0 ||
        check_text_field("NameID SPProvidedID", spec->sp_provided_id, false, false, err) != 0)
        return SAML_SPEC_NAME_ID;
    if (check_text_field("assurance level", spec->assurance, false, true, err) != 0 ||
        check_authorities(spec, err) != 0)
        return SAML_SPEC_ASSURANCE;
    if (check_text_field("recipient", spec->recipient, false, true, err) != 0)
        return SAML_SPEC_RECIPIENT;

    if (spec->valid_seconds <= 0) {
        saml_set_error(err, "the validity period must be positive, not %ld seconds",
                       spec->valid_seconds);
        return SAML_SPEC_VALIDITY;
    }
    if (spec->attribute_count > 0 && spec->attributes == NULL) {
        saml_set_error(err, "the spec counts attributes but has none");
        return SAML_SPEC_ATTRIBUTES;
    }
    if (spec->proxy_restricted && spec->proxy_count < -1) {
        saml_set_error(err, "the ProxyRestriction Count must be -1 (none) or at least 0, "
                            "not %ld", spec->proxy_count);
        return SAML_SPEC_PROXY_RESTRICTION;
    }
    return SAML_SPEC_OK;
}

/*
 * Rejects a claim URI that differs from a catalogue claim's URI only in letter case.
 * RFC 8141 (section 3.1) compares the "urn" scheme and the namespace identifier without
 * regard to case. So a relying party may read "URN:OID:2.5.4.42" as given_name, which
 * the assertion would then carry twice. A case difference elsewhere makes a look-alike.
 */
static int check_uri_case(const char *name, p11_error *err)
{
    const saml_claim *claim = saml_claim_by_uri_ignoring_case(name);

    if (claim == NULL)
        return 0;
    saml_set_error(err, "attribute \"%.64s\" differs only in letter case from %s, the URI "
                        "of the catalogue claim %s; write that URI or the name %s",
                   name, claim->uri, claim->name, claim->name);
    return -1;
}

static int resolve_attribute(const saml_attribute *attribute, resolved_attribute *out,
                             p11_error *err)
{
    char reason[128];

    out->attribute = attribute;
    out->claim = attribute->name != NULL ? saml_claim_by_name(attribute->name) : NULL;
    if (out->claim != NULL) {
        out->uri = out->claim->uri;
    } else if (attribute->name != NULL && saml_text_is_uri(attribute->name) &&
               saml_text_check(attribute->name, reason, sizeof(reason)) == 0) {
        out->claim =
            saml_claim_by_uri(attribute->name); /* a catalogue claim by its URI */
        out->uri = attribute->name;
        if (out->claim == NULL && check_uri_case(attribute->name, err) != 0)
            return -1;
    } else {
        saml_set_error(err, "attribute \"%.64s\" is neither a catalogue claim nor a URI",
                       attribute->name != NULL ? attribute->name : "");
        return -1;
    }

    if (attribute->value_count == 0 || attribute->values == NULL) {
        saml_set_error(err, "attribute %.64s has no value", attribute->name);
        return -1;
    }
    if (out->claim != NULL && !out->claim->multi_valued && attribute->value_count > 1) {
        saml_set_error(err, "attribute %.64s takes one value, not %zu", attribute->name,
                       attribute->value_count);
        return -1;
    }
    for (size_t i = 0; i < attribute->value_count; i++) {
        if (saml_claim_check_value(out->claim, attribute->values[i], reason,
                                   sizeof(reason)) != 0) {
            saml_set_error(err, "attribute %.64s value %zu %s", attribute->name, i + 1,
                           reason);
            return -1;
        }
    }
    return 0;
}

/* Resolves every attribute and rejects two attributes with the same Name. */
static int resolve_attributes(const saml_assertion_spec *spec, resolved_attribute *out,
                              p11_error *err)
{
    for (size_t i = 0; i < spec->attribute_count; i++) {
        if (resolve_attribute(&spec->attributes[i], &out[i], err) != 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(out[j].uri, out[i].uri) == 0) {
                saml_set_error(err, "attribute %.64s appears twice", out[i].uri);
                return -1;
            }
        }
    }
    return 0;
}

/* A copy of a verified assertion without an AuthnStatement gets none, and any other
 * spec without has_authn_instant gets the issue instant. */
static int prepare_authn_instant(const saml_assertion_spec *spec, assertion_fields *fields,
                                 p11_error *err)
{
    fields->authn_instant[0] = '\0';
    if (!spec->has_authn_instant) {
        if (!spec->copies_verified)
            memcpy(fields->authn_instant, fields->issue_instant, SAML_TIME_SIZE);
        return 0;
    }
    if (saml_format_time(spec->authn_instant, fields->authn_instant) != 0) {
        saml_set_error(err, "the AuthnInstant is not a time between the years 0 and 9999");
        return -1;
    }
    return 0;
}

static int prepare_fields(const saml_assertion_spec *spec, assertion_fields *fields,
                          p11_error *err)
{
    fields->spec = spec;
    /* Only a NameID of the node's own making defaults to persistent: a copy without a
     * Format keeps none, so that unspecified stays in effect. */
    if (spec->name_id_format != NULL && spec->name_id_format[0] != '\0')
        fields->name_id_format = spec->name_id_format;
    else
        fields->name_id_format = spec->copies_verified ? NULL : SAML_NAMEID_PERSISTENT;
    fields->assurance = spec->assurance != NULL && spec->assurance[0] != '\0'
                            ? spec->assurance
                            : SAML_AUTHN_UNSPECIFIED;

    if (spec->issue_instant > LONG_MAX - spec->valid_seconds ||
        saml_format_time(spec->issue_instant, fields->issue_instant) != 0 ||
        saml_format_time(spec->issue_instant + spec->valid_seconds,
                         fields->not_on_or_after) != 0) {
        saml_set_error(err, "the issue instant or the end of validity is not a time "
                            "between the years 0 and 9999");
        return -1;
    }
    return prepare_authn_instant(spec, fields, err);
}

/* Writes name="value" after a space, unless value is NULL or empty. */
static void write_optional_attr(saml_buf *buf, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    saml_buf_puts(buf, " ");
    saml_buf_puts(buf, name);
    saml_buf_puts(buf, "=\"");
    saml_buf_put_attr(buf, value);
    saml_buf_puts(buf, "\"");
}

static void write_subject(saml_buf *buf, const assertion_fields *fields)
{
    const saml_assertion_spec *spec = fields->spec;

    /* c14n order: Format, NameQualifier, SPNameQualifier, SPProvidedID. */
    saml_buf_puts(buf, "<saml:Subject><saml:NameID");
    write_optional_attr(buf, "Format", fields->name_id_format);
    write_optional_attr(buf, "NameQualifier", spec->name_qualifier);
    write_optional_attr(buf, "SPNameQualifier", spec->sp_name_qualifier);
    write_optional_attr(buf, "SPProvidedID", spec->sp_provided_id);
    saml_buf_puts(buf, ">");
    saml_buf_put_text(buf, spec->name_id);
    saml_buf_puts(buf, "</saml:NameID>");

    /* Bearer confirmation bounded by the same end of validity as the Conditions. */
    saml_buf_puts(buf, "<saml:SubjectConfirmation Method=\"" SAML_CM_BEARER "\">"
                       "<saml:SubjectConfirmationData NotOnOrAfter=\"");
    saml_buf_puts(buf, fields->not_on_or_after);
    if (spec->recipient != NULL && spec->recipient[0] != '\0') {
        saml_buf_puts(buf, "\" Recipient=\"");
        saml_buf_put_attr(buf, spec->recipient);
    }
    saml_buf_puts(buf, "\"></saml:SubjectConfirmationData></saml:SubjectConfirmation>"
                       "</saml:Subject>");
}

static void write_proxy_restriction(saml_buf *buf, const saml_assertion_spec *spec)
{
    char count[32];

    if (!spec->proxy_restricted)
        return;
    saml_buf_puts(buf, "<saml:ProxyRestriction");
    if (spec->proxy_count >= 0) {
        snprintf(count, sizeof(count), " Count=\"%ld\"", spec->proxy_count);
        saml_buf_puts(buf, count);
    }
    saml_buf_puts(buf, ">");
    if (spec->proxy_to_audience) {
        saml_buf_puts(buf, "<saml:Audience>");
        saml_buf_put_text(buf, spec->audience);
        saml_buf_puts(buf, "</saml:Audience>");
    }
    saml_buf_puts(buf, "</saml:ProxyRestriction>");
}

static void write_conditions(saml_buf *buf, const assertion_fields *fields)
{
    saml_buf_puts(buf, "<saml:Conditions NotBefore=\"");
    saml_buf_puts(buf, fields->issue_instant);
    saml_buf_puts(buf, "\" NotOnOrAfter=\"");
    saml_buf_puts(buf, fields->not_on_or_after);
    saml_buf_puts(buf, "\"><saml:AudienceRestriction><saml:Audience>");
    saml_buf_put_text(buf, fields->spec->audience);
    saml_buf_puts(buf, "</saml:Audience></saml:AudienceRestriction>");
    write_proxy_restriction(buf, fields->spec);
    saml_buf_puts(buf, "</saml:Conditions>");
}

static void write_authority(saml_buf *buf, const char *authority)
{
    if (authority == NULL || authority[0] == '\0')
        return;
    saml_buf_puts(buf, "<saml:AuthenticatingAuthority>");
    saml_buf_put_text(buf, authority);
    saml_buf_puts(buf, "</saml:AuthenticatingAuthority>");
}

static void write_authn_statement(saml_buf *buf, const assertion_fields *fields)
{
    if (fields->authn_instant[0] == '\0')
        return;
    saml_buf_puts(buf, "<saml:AuthnStatement AuthnInstant=\"");
    saml_buf_puts(buf, fields->authn_instant);
    saml_buf_puts(buf, "\"><saml:AuthnContext><saml:AuthnContextClassRef>");
    saml_buf_put_text(buf, fields->assurance);
    saml_buf_puts(buf, "</saml:AuthnContextClassRef>");
    write_authority(buf, fields->spec->authenticating_issuer);
    for (size_t i = 0; i < fields->spec->authenticating_authority_count; i++)
        write_authority(buf, fields->spec->authenticating_authorities[i]);
    saml_buf_puts(buf, "</saml:AuthnContext></saml:AuthnStatement>");
}

static void write_attribute(saml_buf *buf, const resolved_attribute *resolved)
{
    const char *type =
        resolved->claim != NULL && resolved->claim->syntax == SAML_CLAIM_DATE
            ? "xs:date"
            : "xs:string";

    /* c14n order: FriendlyName, Name, NameFormat. */
    saml_buf_puts(buf, "<saml:Attribute ");
    if (resolved->claim != NULL) {
        saml_buf_puts(buf, "FriendlyName=\"");
        saml_buf_put_attr(buf, resolved->claim->friendly_name);
        saml_buf_puts(buf, "\" ");
    }
    saml_buf_puts(buf, "Name=\"");
    saml_buf_put_attr(buf, resolved->uri);
    saml_buf_puts(buf, "\" NameFormat=\"" SAML_NAME_FORMAT_URI "\">");

    for (size_t i = 0; i < resolved->attribute->value_count; i++) {
        saml_buf_puts(buf, "<saml:AttributeValue xmlns:xs=\"" SAML_NS_XS
                           "\" xmlns:xsi=\"" SAML_NS_XSI "\" xsi:type=\"");
        saml_buf_puts(buf, type);
        saml_buf_puts(buf, "\">");
        saml_buf_put_text(buf, resolved->attribute->values[i]);
        saml_buf_puts(buf, "</saml:AttributeValue>");
    }
    saml_buf_puts(buf, "</saml:Attribute>");
}

static void write_attribute_statement(saml_buf *buf, const resolved_attribute *resolved,
                                      size_t count)
{
    /* The schema requires at least one Attribute in an AttributeStatement. */
    if (count == 0)
        return;

    saml_buf_puts(buf, "<saml:AttributeStatement>");
    for (size_t i = 0; i < count; i++)
        write_attribute(buf, &resolved[i]);
    saml_buf_puts(buf, "</saml:AttributeStatement>");
}

static void write_assertion(saml_buf *buf, const assertion_fields *fields, const char *id,
                            const resolved_attribute *resolved, size_t *signature_offset)
{
    saml_buf_puts(buf, "<saml:Assertion xmlns:saml=\"" SAML_NS_ASSERTION "\" ID=\"");
    saml_buf_puts(buf, id);
    saml_buf_puts(buf, "\" IssueInstant=\"");
    saml_buf_puts(buf, fields->issue_instant);
    saml_buf_puts(buf, "\" Version=\"2.0\"><saml:Issuer>");
    saml_buf_put_text(buf, fields->spec->issuer);
    saml_buf_puts(buf, "</saml:Issuer>");

    /* The schema places the Signature right after the Issuer. */
    *signature_offset = buf->len;

    write_subject(buf, fields);
    write_conditions(buf, fields);
    write_authn_statement(buf, fields);
    write_attribute_statement(buf, resolved, fields->spec->attribute_count);
    saml_buf_puts(buf, "</saml:Assertion>");
}

int saml_build_canonical(const saml_assertion_spec *spec, saml_signed_parts *parts,
                         p11_error *err)
{
    assertion_fields fields;
    resolved_attribute *resolved = NULL;
    int result = -1;

    if (check_spec_fields(spec, err) != SAML_SPEC_OK || prepare_fields(spec, &fields, err) != 0)
        goto out;

    resolved = calloc(spec->attribute_count + 1, sizeof(*resolved));
    if (resolved == NULL) {
        saml_set_error(err, "out of memory");
        goto out;
    }
    if (resolve_attributes(spec, resolved, err) != 0)
        goto out;

    if (saml_new_id(parts->id) != 0) {
        saml_set_error(err, "the random generator failed to make an assertion ID");
        goto out;
    }

    write_assertion(&parts->assertion, &fields, parts->id, resolved,
                    &parts->signature_offset);
    if (parts->assertion.failed) {
        saml_set_error(err, "out of memory while writing the assertion");
        goto out;
    }
    result = 0;

out:
    free(resolved);
    return result;
}

saml_spec_field saml_spec_check(const saml_assertion_spec *spec, char *error,
                                size_t error_size)
{
    p11_error err = {0};
    assertion_fields fields;
    resolved_attribute *resolved;
    saml_spec_field field = check_spec_fields(spec, &err);

    if (field == SAML_SPEC_OK && prepare_fields(spec, &fields, &err) != 0)
        field = SAML_SPEC_VALIDITY;
    if (field == SAML_SPEC_OK) {
        resolved = calloc(spec->attribute_count + 1, sizeof(*resolved));
        if (resolved == NULL) {
            saml_set_error(&err, "out of memory");
            field = SAML_SPEC_NO_MEMORY;
        } else if (resolve_attributes(spec, resolved, &err) != 0) {
            field = SAML_SPEC_ATTRIBUTES;
        }
        free(resolved);
    }
    snprintf(error, error_size, "%s", field != SAML_SPEC_OK ? err.message : "");
    return field;
}

int saml_spec_proxy_from(saml_assertion_spec *spec, const saml_proxy_restriction *received)
{
    bool listed = false;

    if (!received->present)
        return 0;
    if (received->count == 0)
        return -1;
    for (size_t i = 0; i < received->audience_count && !listed; i++)
        listed = spec->audience != NULL && received->audiences[i] != NULL &&
                 strcmp(received->audiences[i], spec->audience) == 0;
    if (received->audience_count > 0 && !listed)
        return -1;

    /* SAML 2.0 Core (section 2.5.1.6) allows the new assertion only audiences that
     * received lists. Its own ProxyRestriction names only spec->audience, the
     * intersection of those with the new assertion's audience, so it widens nothing. */
    spec->proxy_restricted = true;
    spec->proxy_count = received->count > 0 ? received->count - 1 : -1;
    spec->proxy_to_audience = received->audience_count > 0;
    return 0;
}

void saml_signed_parts_free(saml_signed_parts *parts)
{
    saml_buf_free(&parts->assertion);
    saml_buf_free(&parts->signed_info);
    saml_buf_free(&parts->signature);
}

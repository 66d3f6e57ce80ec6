/* Reading policy bundles: safe parse, schema validation, then the in-memory model. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/c14n.h>
#include <libxml/xmlschemas.h>
#include <openssl/evp.h>

#include "pem_file.h"
#include "policy_internal.h"
#include "xml_safe.h"

/* The schema text, generated from schemas/policy.xsd at build time. */
extern const unsigned char policy_schema_text[];
extern const size_t policy_schema_text_len;

static pthread_once_t schema_once = PTHREAD_ONCE_INIT;
static xmlSchemaPtr schema;

static void schema_load(void)
{
    xmlSchemaParserCtxtPtr parser;

    xml_safe_init();
    parser = xmlSchemaNewMemParserCtxt((const char *)policy_schema_text,
                                       (int)policy_schema_text_len);
    if (parser == NULL)
        return;
    schema = xmlSchemaParse(parser);
    xmlSchemaFreeParserCtxt(parser);
}

/* The first schema error, with its line. */
typedef struct schema_errors {
    int count;
    int line;
    char message[400];
} schema_errors;

static void schema_on_error(void *ctx, xmlErrorPtr error)
{
    schema_errors *errors = ctx;

    if (errors->count++ > 0)
        return;
    errors->line = error->line;
    snprintf(errors->message, sizeof(errors->message), "%s",
             error->message != NULL ? error->message : "no message");
    errors->message[strcspn(errors->message, "\n")] = '\0';
}

/*
 * Reads the root's version attribute into *version. The schema type xs:positiveInteger
 * has no upper bound, but the node stores a version as a signed 64-bit integer, so a
 * larger value is rejected instead of being clamped, as strtol would clamp it.
 */
_Static_assert(LONG_MAX == INT64_MAX, "the version message names 2^63 - 1");

static int read_version(xmlNodePtr root, long *version, policy_error *err)
{
    xmlChar *text = xmlGetNoNsProp(root, (const xmlChar *)"version");
    const char *digits = text != NULL ? (const char *)text : "";
    char *end = NULL;
    long number;
    int line = (int)xmlGetLineNo(root);
    int rc = 0;

    errno = 0;
    number = strtol(digits, &end, 10);
    /* The schema collapses white space around an integer, as strtol skips it before. */
    end += strspn(end, " \t\r\n");
    if (end == digits || *end != '\0' || errno == ERANGE || number < 1)
        rc = policy_fail(err, POLICY_E_SCHEMA, line,
                         "line %d: version \"%.40s\" is not a decimal integer from 1 to "
                         "%ld (2^63 - 1). Give the bundle a version in that range",
                         line, digits, LONG_MAX);
    else
        *version = number;
    xmlFree(text);
    return rc;
}

int policy_parse_document(const char *xml, size_t len, xmlDocPtr *doc_out,
                          policy_error *err)
{
    schema_errors errors = {0, 0, ""};
    xmlSchemaValidCtxtPtr valid = NULL;
    xmlDocPtr doc = NULL;
    char detail[300];
    long version = 0;
    int rc = -1;

    *doc_out = NULL;
    if (xml_safe_parse(xml, len, POLICY_BUNDLE_MAX_BYTES, &doc, detail, sizeof(detail)) !=
        XML_SAFE_OK) {
        int line = 0;

        sscanf(strstr(detail, "(line ") != NULL ? strstr(detail, "(line ") : "",
               "(line %d", &line);
        return policy_fail(err, POLICY_E_MALFORMED, line, "%s", detail);
    }

    pthread_once(&schema_once, schema_load);
    if (schema == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0,
                    "the built-in policy schema failed to load");
        goto out;
    }
    valid = xmlSchemaNewValidCtxt(schema);
    if (valid == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0,
                    "out of memory creating the schema validator");
        goto out;
    }
    xmlSchemaSetValidStructuredErrors(valid, schema_on_error, &errors);
    if (xmlSchemaValidateDoc(valid, doc) != 0) {
        policy_fail(err, POLICY_E_SCHEMA, errors.line, "line %d: %s", errors.line,
                    errors.count > 0 ? errors.message
                                     : "the document does not match the schema");
        goto out;
    }
    if (read_version(xmlDocGetRootElement(doc), &version, err) != 0)
        goto out;

    *doc_out = doc; /* ownership passes to the caller */
    doc = NULL;
    rc = 0;

out:
    xmlSchemaFreeValidCtxt(valid);
    xmlFreeDoc(doc);
    return rc;
}

int policy_digest_document(xmlDocPtr doc, unsigned char digest[32], policy_error *err)
{
    xmlDocPtr copy = NULL;
    xmlNodePtr root = NULL;
    xmlChar *c14n = NULL;
    int c14n_len;
    int rc = -1;

    copy = xmlNewDoc((const xmlChar *)"1.0");
    if (copy == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory copying the bundle");
    root = xmlDocCopyNode(xmlDocGetRootElement(doc), copy, 1);
    if (root == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory copying the bundle");
        goto out;
    }
    xmlDocSetRootElement(copy, root);

    /* The enveloped-signature transform: the Signature element goes, nothing else. */
    for (xmlNodePtr child = root->children, next; child != NULL; child = next) {
        next = child->next;
        if (xml_safe_is_element(child, POLICY_DSIG_NS, "Signature")) {
            xmlUnlinkNode(child);
            xmlFreeNode(child);
        }
    }

    c14n_len = xmlC14NDocDumpMemory(copy, NULL, XML_C14N_EXCLUSIVE_1_0, NULL, 0, &c14n);
    if (c14n_len < 0) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0,
                    "exclusive canonicalisation of the bundle failed");
        goto out;
    }
    if (EVP_Digest(c14n, (size_t)c14n_len, digest, NULL, EVP_sha256(), NULL) != 1) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "SHA-256 of the bundle failed");
        goto out;
    }
    rc = 0;

out:
    xmlFree(c14n);
    xmlFreeDoc(copy);
    return rc;
}

/* ---- Building the model from a schema-valid document ------------------------------ */

static char *attr_dup(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *copy;

    if (value == NULL)
        return NULL;
    copy = strdup((const char *)value);
    xmlFree(value);
    return copy;
}

/* Returns the element's text with surrounding white space removed; the caller frees it.
 */
static char *text_dup(xmlNodePtr node)
{
    char *text = xml_safe_text(node);
    size_t start = 0;
    size_t end;

    if (text == NULL)
        return NULL;
    while (text[start] == ' ' || text[start] == '\t' || text[start] == '\n' ||
           text[start] == '\r')
        start++;
    end = strlen(text);
    while (end > start && strchr(" \t\r\n", text[end - 1]) != NULL)
        end--;
    memmove(text, text + start, end - start);
    text[end - start] = '\0';
    return text;
}

static bool is_policy(xmlNodePtr node, const char *name)
{
    return xml_safe_is_element(node, POLICY_NS, name);
}

static xmlNodePtr first_element(xmlNodePtr parent)
{
    xmlNodePtr child = parent->children;

    while (child != NULL && child->type != XML_ELEMENT_NODE)
        child = child->next;
    return child;
}

static xmlNodePtr next_element(xmlNodePtr node)
{
    node = node->next;
    while (node != NULL && node->type != XML_ELEMENT_NODE)
        node = node->next;
    return node;
}

static int line_of(xmlNodePtr node)
{
    return (int)xmlGetLineNo(node);
}

static int names_add(policy_names *names, char *value, int line)
{
    char **items = realloc(names->items, (names->count + 1) * sizeof(*items));
    int *lines;

    if (items == NULL) {
        free(value);
        return -1;
    }
    names->items = items;
    lines = realloc(names->lines, (names->count + 1) * sizeof(*lines));
    if (lines == NULL) {
        free(value);
        return -1;
    }
    names->lines = lines;
    names->items[names->count] = value;
    names->lines[names->count] = line;
    names->count++;
    return 0;
}

static void names_clear(policy_names *names)
{
    for (size_t i = 0; i < names->count; i++)
        free(names->items[i]);
    free(names->items);
    free(names->lines);
    memset(names, 0, sizeof(*names));
}

/* Splits a space-separated list attribute into names. */
static int names_from_list(policy_names *names, const char *list, int line)
{
    const char *p = list;

    while (*p != '\0') {
        size_t n;

        p += strspn(p, " \t\r\n");
        n = strcspn(p, " \t\r\n");
        if (n == 0)
            break;
        if (names_add(names, strndup(p, n), line) != 0)
            return -1;
        p += n;
    }
    return 0;
}

static int read_text_element(xmlNodePtr node, policy_names *names)
{
    char *value = text_dup(node);

    if (value == NULL)
        return -1;
    return names_add(names, value, line_of(node));
}

static int read_match(xmlNodePtr match, policy_src_rule *rule)
{
    char *scope = attr_dup(match, "scope");
    int rc = 0;

    rule->scope = POLICY_SCOPE_ANY;
    if (scope != NULL) {
        int value = policy_scope_from_name(scope);

        rule->scope = value < 0 ? POLICY_SCOPE_ANY : (policy_scope)value;
        free(scope);
    }

    for (xmlNodePtr node = first_element(match); node != NULL && rc == 0;
         node = next_element(node)) {
        if (is_policy(node, "Subject")) {
            rc = read_text_element(node, &rule->subjects);
        } else if (is_policy(node, "RelyingParty")) {
            rc = read_text_element(node, &rule->relying_parties);
        } else if (is_policy(node, "Purpose")) {
            rc = read_text_element(node, &rule->purposes);
        } else if (is_policy(node, "Claim")) {
            rc = read_text_element(node, &rule->claims);
        } else if (is_policy(node, "ClaimClass")) {
            char *name = text_dup(node);
            int klass = name != NULL ? policy_class_from_name(name) : -1;

            free(name);
            if (klass >= 0)
                rule->class_mask |= 1u << klass;
        }
    }
    return rc;
}

static int read_conditions(xmlNodePtr conditions, policy_src_rule *rule)
{
    for (xmlNodePtr node = first_element(conditions); node != NULL;
         node = next_element(node)) {
        char *text = NULL;

        if (is_policy(node, "TransferMechanisms")) {
            for (xmlNodePtr m = first_element(node); m != NULL; m = next_element(m)) {
                int bit;

                text = text_dup(m);
                bit = text != NULL ? policy_mechanism_from_name(text) : -1;
                free(text);
                if (bit > 0)
                    rule->mechanisms |= (unsigned)bit;
            }
            continue;
        }

        text = text_dup(node);
        if (text == NULL)
            return -1;
        if (is_policy(node, "Consent")) {
            int consent = policy_consent_from_name(text);

            rule->consent = consent < 0 ? POLICY_CONSENT_NONE : (policy_consent)consent;
        } else if (is_policy(node, "MinAssurance")) {
            int level = policy_assurance_from_name(text);

            rule->has_min_assurance = level >= 0;
            rule->min_assurance =
                level < 0 ? POLICY_ASSURANCE_LOW : (policy_assurance)level;
        } else if (is_policy(node, "MaxRetentionDays")) {
            rule->max_retention = strtol(text, NULL, 10);
        }
        free(text);
    }
    return 0;
}

static int read_legal_basis(xmlNodePtr node, policy_src_rule *rule)
{
    policy_legal_basis *bases =
        realloc(rule->bases, (rule->basis_count + 1) * sizeof(*bases));

    if (bases == NULL)
        return -1;
    rule->bases = bases;
    bases[rule->basis_count].instrument = attr_dup(node, "instrument");
    bases[rule->basis_count].provision = attr_dup(node, "provision");
    rule->basis_count++;
    if (bases[rule->basis_count - 1].instrument == NULL ||
        bases[rule->basis_count - 1].provision == NULL)
        return -1;
    return 0;
}

static int read_rule(xmlNodePtr node, policy_src_rule *rule)
{
    int rc = 0;

    memset(rule, 0, sizeof(*rule));
    rule->max_retention = -1;
    rule->line = line_of(node);
    rule->id = attr_dup(node, "id");
    if (rule->id == NULL)
        return -1;

    for (xmlNodePtr child = first_element(node); child != NULL && rc == 0;
         child = next_element(child)) {
        if (is_policy(child, "Match")) {
            rc = read_match(child, rule);
        } else if (is_policy(child, "Effect")) {
            char *effect = text_dup(child);
            char *derive = attr_dup(child, "derive");
            int value = effect != NULL ? policy_effect_from_name(effect) : -1;

            rule->effect = value < 0 ? POLICY_WITHHOLD : (policy_effect)value;
            if (derive != NULL)
                rc = names_from_list(&rule->derive, derive, line_of(child));
            free(effect);
            free(derive);
        } else if (is_policy(child, "Conditions")) {
            rc = read_conditions(child, rule);
        } else if (is_policy(child, "LegalBasis")) {
            rc = read_legal_basis(child, rule);
        } else if (is_policy(child, "Summary")) {
            rule->summary = text_dup(child);
            rc = rule->summary == NULL ? -1 : 0;
        } else if (is_policy(child, "Note")) {
            rule->note = text_dup(child);
            rc = rule->note == NULL ? -1 : 0;
        }
    }
    return rc;
}

static void rule_clear(policy_src_rule *rule)
{
    free(rule->id);
    names_clear(&rule->subjects);
    names_clear(&rule->relying_parties);
    names_clear(&rule->purposes);
    names_clear(&rule->claims);
    names_clear(&rule->derive);
    for (size_t i = 0; i < rule->basis_count; i++) {
        free(rule->bases[i].instrument);
        free(rule->bases[i].provision);
    }
    free(rule->bases);
    free(rule->summary);
    free(rule->note);
}

static size_t count_children(xmlNodePtr parent)
{
    size_t count = 0;

    for (xmlNodePtr node = first_element(parent); node != NULL; node = next_element(node))
        count++;
    return count;
}

static int read_claims(xmlNodePtr parent, policy_bundle *bundle)
{
    bundle->claims = calloc(count_children(parent) + 1, sizeof(*bundle->claims));
    if (bundle->claims == NULL)
        return -1;

    for (xmlNodePtr node = first_element(parent); node != NULL;
         node = next_element(node)) {
        policy_src_claim *claim = &bundle->claims[bundle->claim_count++];
        char *klass = attr_dup(node, "class");
        char *derivation = attr_dup(node, "derivation");
        char *years = attr_dup(node, "years");

        claim->line = line_of(node);
        claim->name = attr_dup(node, "name");
        claim->derived_from = attr_dup(node, "derivedFrom");
        claim->klass = klass != NULL && policy_class_from_name(klass) >= 0
                           ? (policy_class)policy_class_from_name(klass)
                           : POLICY_CLASS_BASIC;
        claim->derivation =
            derivation != NULL && policy_derivation_from_name(derivation) > 0
                ? (policy_derivation)policy_derivation_from_name(derivation)
                : POLICY_DERIVE_NONE;
        claim->years = years != NULL ? atoi(years) : 0;
        free(klass);
        free(derivation);
        free(years);
        if (claim->name == NULL)
            return -1;
    }
    return 0;
}

static int read_named(xmlNodePtr parent, const char *key, policy_src_named **out,
                      size_t *count)
{
    *out = calloc(count_children(parent) + 1, sizeof(**out));
    if (*out == NULL)
        return -1;

    for (xmlNodePtr node = first_element(parent); node != NULL;
         node = next_element(node)) {
        policy_src_named *item = &(*out)[(*count)++];

        item->line = line_of(node);
        item->id = attr_dup(node, key);
        item->name = attr_dup(node, "name");
        if (item->id == NULL || item->name == NULL)
            return -1;
    }
    return 0;
}

static int read_rules(xmlNodePtr parent, policy_bundle *bundle)
{
    bundle->rules = calloc(count_children(parent) + 1, sizeof(*bundle->rules));
    if (bundle->rules == NULL)
        return -1;

    for (xmlNodePtr node = first_element(parent); node != NULL;
         node = next_element(node)) {
        if (read_rule(node, &bundle->rules[bundle->rule_count++]) != 0)
            return -1;
    }
    return 0;
}

static int read_header(xmlNodePtr root, policy_bundle *bundle, policy_error *err)
{
    char *text;
    int rc = 0;

    bundle->id = attr_dup(root, "ID");
    bundle->regulator = attr_dup(root, "regulator");
    bundle->base_id = attr_dup(root, "base");
    if (bundle->id == NULL || bundle->regulator == NULL)
        return policy_fail(err, POLICY_E_NO_MEMORY, 0,
                           "out of memory reading the bundle");

    if (read_version(root, &bundle->version, err) != 0)
        return -1;

    text = attr_dup(root, "kind");
    bundle->kind = text != NULL && strcmp(text, "residency") == 0
                       ? POLICY_BUNDLE_RESIDENCY
                       : POLICY_BUNDLE_BASE;
    free(text);

    text = attr_dup(root, "jurisdiction");
    if (text != NULL)
        snprintf(bundle->jurisdiction, sizeof(bundle->jurisdiction), "%s", text);
    free(text);

    text = attr_dup(root, "effectiveFrom");
    if (text == NULL || policy_parse_utc(text, &bundle->effective_from) != 0)
        rc = policy_fail(err, POLICY_E_SCHEMA, line_of(root),
                         "effectiveFrom is not a UTC time");
    free(text);

    text = attr_dup(root, "effectiveUntil");
    if (text != NULL && policy_parse_utc(text, &bundle->effective_until) != 0)
        rc = policy_fail(err, POLICY_E_SCHEMA, line_of(root),
                         "effectiveUntil is not a UTC time");
    free(text);
    return rc;
}

/* Checks what one bundle can check alone: its kind's required parts and its dates. */
static int check_bundle_shape(const policy_bundle *bundle, int root_line,
                              policy_error *err)
{
    if (bundle->kind == POLICY_BUNDLE_BASE) {
        if (bundle->claim_count == 0 || bundle->jurisdiction_count == 0 ||
            bundle->purpose_count == 0)
            return policy_fail(
                err, POLICY_E_SEMANTIC, root_line,
                "line %d: a base bundle needs Claims, Jurisdictions and Purposes",
                root_line);
        if (bundle->jurisdiction[0] != '\0' || bundle->base_id != NULL)
            return policy_fail(
                err, POLICY_E_SEMANTIC, root_line,
                "line %d: a base bundle takes no jurisdiction or base attribute",
                root_line);
    } else {
        if (bundle->jurisdiction[0] == '\0' || bundle->base_id == NULL)
            return policy_fail(
                err, POLICY_E_SEMANTIC, root_line,
                "line %d: a residency bundle needs the jurisdiction and base "
                "attributes",
                root_line);
        if (bundle->claim_count != 0 || bundle->jurisdiction_count != 0 ||
            bundle->purpose_count != 0)
            return policy_fail(
                err, POLICY_E_SEMANTIC, root_line,
                "line %d: a residency bundle takes its Claims, Jurisdictions and "
                "Purposes from its base; remove them",
                root_line);
    }
    if (bundle->effective_until != 0 && bundle->effective_until <= bundle->effective_from)
        return policy_fail(err, POLICY_E_SEMANTIC, root_line,
                           "line %d: effectiveUntil is not after effectiveFrom",
                           root_line);
    return 0;
}

static int read_body(xmlNodePtr root, policy_bundle *bundle)
{
    int rc = 0;

    for (xmlNodePtr node = first_element(root); node != NULL && rc == 0;
         node = next_element(node)) {
        if (is_policy(node, "Title")) {
            bundle->title = text_dup(node);
            rc = bundle->title == NULL ? -1 : 0;
        } else if (is_policy(node, "Claims")) {
            rc = read_claims(node, bundle);
        } else if (is_policy(node, "Jurisdictions")) {
            rc = read_named(node, "code", &bundle->jurisdictions,
                            &bundle->jurisdiction_count);
        } else if (is_policy(node, "Purposes")) {
            rc = read_named(node, "id", &bundle->purposes, &bundle->purpose_count);
        } else if (is_policy(node, "Rules")) {
            rc = read_rules(node, bundle);
        } else if (xml_safe_is_element(node, POLICY_DSIG_NS, "Signature")) {
            bundle->has_signature = true;
        }
    }
    return rc;
}

int policy_bundle_parse(const char *xml, size_t len, const char *path,
                        policy_bundle **out, policy_error *err)
{
    policy_bundle *bundle = NULL;
    unsigned char digest[32];
    xmlDocPtr doc = NULL;
    xmlNodePtr root;
    int rc = -1;

    *out = NULL;
    if (policy_parse_document(xml, len, &doc, err) != 0)
        return -1;
    root = xmlDocGetRootElement(doc);

    bundle = calloc(1, sizeof(*bundle));
    if (bundle == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory reading the bundle");
        goto out;
    }
    bundle->path = strdup(path != NULL ? path : "(memory)");
    if (bundle->path == NULL || read_header(root, bundle, err) != 0)
        goto out;
    if (read_body(root, bundle) != 0) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory reading the bundle");
        goto out;
    }
    if (check_bundle_shape(bundle, line_of(root), err) != 0 ||
        policy_bundle_check_countries(bundle, line_of(root), err) != 0)
        goto out;

    if (policy_digest_document(doc, digest, err) != 0)
        goto out;
    for (size_t i = 0; i < sizeof(digest); i++)
        snprintf(bundle->digest + 2 * i, 3, "%02x", digest[i]);

    *out = bundle; /* ownership passes to the caller */
    bundle = NULL;
    rc = 0;

out:
    policy_bundle_free(&bundle);
    xmlFreeDoc(doc);
    return rc;
}

int policy_read_file(const char *path, char **out, size_t *out_len, policy_error *err)
{
    char open_error[PATH_MAX + 128];
    FILE *file = pem_file_open_regular(path, open_error, sizeof(open_error));
    char *data = NULL;
    size_t len;
    int rc = -1;

    *out = NULL;
    if (file == NULL)
        return policy_fail(err, POLICY_E_IO, 0, "%s", open_error);

    data = malloc(POLICY_BUNDLE_MAX_BYTES + 1);
    if (data == NULL) {
        policy_fail(err, POLICY_E_NO_MEMORY, 0, "out of memory reading %s", path);
        goto out;
    }
    len = fread(data, 1, POLICY_BUNDLE_MAX_BYTES + 1, file);
    if (ferror(file)) {
        policy_fail(err, POLICY_E_IO, 0, "%s: read failed", path);
        goto out;
    }
    if (len > POLICY_BUNDLE_MAX_BYTES) {
        policy_fail(err, POLICY_E_MALFORMED, 0, "%s: larger than the limit of %u bytes",
                    path, POLICY_BUNDLE_MAX_BYTES);
        goto out;
    }
    data[len] = '\0';
    *out = data; /* ownership passes to the caller */
    *out_len = len;
    data = NULL;
    rc = 0;

out:
    free(data);
    fclose(file);
    return rc;
}

int policy_bundle_load_file(const char *path, policy_bundle **out, policy_error *err)
{
    char *xml = NULL;
    size_t len = 0;
    int rc;

    *out = NULL;
    if (policy_read_file(path, &xml, &len, err) != 0)
        return -1;
    rc = policy_bundle_parse(xml, len, path, out, err);
    free(xml);
    return rc;
}

void policy_bundle_free(policy_bundle **bundle_ptr)
{
    policy_bundle *bundle = bundle_ptr != NULL ? *bundle_ptr : NULL;

    if (bundle == NULL)
        return;
    for (size_t i = 0; i < bundle->claim_count; i++) {
        free(bundle->claims[i].name);
        free(bundle->claims[i].derived_from);
    }
    free(bundle->claims);
    for (size_t i = 0; i < bundle->jurisdiction_count; i++) {
        free(bundle->jurisdictions[i].id);
        free(bundle->jurisdictions[i].name);
    }
    free(bundle->jurisdictions);
    for (size_t i = 0; i < bundle->purpose_count; i++) {
        free(bundle->purposes[i].id);
        free(bundle->purposes[i].name);
    }
    free(bundle->purposes);
    for (size_t i = 0; i < bundle->rule_count; i++)
        rule_clear(&bundle->rules[i]);
    free(bundle->rules);
    free(bundle->path);
    free(bundle->id);
    free(bundle->regulator);
    free(bundle->title);
    free(bundle->base_id);
    free(bundle);
    *bundle_ptr = NULL;
}

const char *policy_bundle_id(const policy_bundle *bundle)
{
    return bundle->id;
}

long policy_bundle_version(const policy_bundle *bundle)
{
    return bundle->version;
}

const char *policy_bundle_digest(const policy_bundle *bundle)
{
    return bundle->digest;
}

bool policy_bundle_is_signed(const policy_bundle *bundle)
{
    return bundle->has_signature;
}

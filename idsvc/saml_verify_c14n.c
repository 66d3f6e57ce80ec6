/*
 * Bounds on the work of exclusive canonicalisation, checked before xmlsec canonicalises
 * or digests anything.
 *
 * xmlsec 1.2.37 canonicalises a node set by handing the whole document to libxml2 2.9's
 * xmlC14NExecute with a visibility callback, so each c14n run (the Reference and the
 * SignedInfo) visits every element, also those outside the signed subtree. On each
 * element, exclusive c14n looks up the element's namespace, each attribute's and each
 * InclusiveNamespaces prefix. A lookup walks the ancestors and their namespace
 * declarations, the stack of declarations already rendered, and, in xmlsec's callback,
 * the ancestors once more. Attributes are sorted by insertion into a list, which is
 * quadratic in their number. Unbounded, an assertion of 122 KB with 2000 declarations on
 * its root, 9000 empty elements and a PrefixList naming all 2000 prefixes took about 70 s
 * of CPU in idsvc-admin saml verify before the digest check failed.
 *
 * Real documents stay far inside the bounds. This node's signer sends the PrefixList
 * "xs", and common identity providers are reported to send none, "xs" or
 * "#default saml ds xs xsi". The shared SAML vectors and the policy bundles of this
 * repository declare at most 5 namespaces in scope, nest at most 8 levels and score at
 * most 4,500 in the work estimate, against a limit of 4,000,000.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libxml/tree.h>

#include "saml_verify_internal.h"
#include "xml_safe.h"

/* The running sums of the work estimate of saml_c14n_check_document. */
typedef struct saml_c14n_work {
    uint64_t weighted; /* sum of (1 + other nodes) x (depth + declarations in scope) */
    uint64_t lookups;  /* sum of (depth + declarations in scope) */
    uint64_t prefixes; /* PrefixList entries of every InclusiveNamespaces */
} saml_c14n_work;

static bool saml_c14n_is_inclusive_namespaces(const xmlNode *node)
{
    return xml_safe_is_element(node, SAML_NS_EXC_C14N, "InclusiveNamespaces");
}

static size_t saml_c14n_count_ns_defs(const xmlNode *node)
{
    size_t count = 0;

    for (const xmlNs *ns = node->nsDef; ns != NULL; ns = ns->next)
        count++;
    return count;
}

static size_t saml_c14n_count_attributes(const xmlNode *node)
{
    size_t count = 0;

    for (const xmlAttr *attr = node->properties; attr != NULL; attr = attr->next)
        count++;
    return count;
}

/* Counts the text, CDATA, comment and processing-instruction children, each of which
 * xmlsec's visibility callback checks by walking the ancestors. */
static size_t saml_c14n_count_other_children(const xmlNode *node)
{
    size_t count = 0;

    for (const xmlNode *child = node->children; child != NULL; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            count++;
    }
    return count;
}

/* Returns true when entry equals one of the first count entries. */
static bool saml_c14n_prefix_seen(char *const *entries, size_t count, const char *entry)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(entries[i], entry) == 0)
            return true;
    }
    return false;
}

/* Checks one PrefixList entry against the entries before it. */
static saml_status saml_c14n_check_prefix(char *const *entries, size_t count,
                                          const char *entry, char *detail,
                                          size_t detail_size)
{
    if (entry[0] == '\0')
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the InclusiveNamespaces PrefixList has an empty entry, from a "
                         "leading space or two spaces in a row");
    if (strcmp(entry, "#default") != 0 && !xml_safe_is_ncname(entry, false))
        return saml_fail(
            detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
            "the InclusiveNamespaces PrefixList entry \"%.40s\" is neither an "
            "NCName nor #default",
            entry);
    if (saml_c14n_prefix_seen(entries, count, entry))
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the InclusiveNamespaces PrefixList names \"%.40s\" twice",
                         entry);
    return SAML_OK;
}

/*
 * Checks a PrefixList value, which splitting changes in place, and stores its number of
 * entries in *count. XML-DSig's exclusive c14n defines it as a white-space separated list
 * of NCNames and the token #default. It is split as xmlsec 1.2.37 splits it, at each
 * space, because xmlsec passes an empty entry between two spaces on to libxml2 as the
 * default namespace, so that a run of spaces would otherwise add prefixes unseen.
 */
static saml_status saml_c14n_check_prefix_list(char *list, size_t *count, char *detail,
                                               size_t detail_size)
{
    char *entries[SAML_C14N_MAX_PREFIXES];
    char *next;

    *count = 0;
    for (char *entry = list; entry != NULL && entry[0] != '\0'; entry = next) {
        saml_status status;

        next = strchr(entry, ' ');
        if (next != NULL)
            *next++ = '\0';

        if (*count == SAML_C14N_MAX_PREFIXES)
            return saml_fail(
                detail, detail_size, SAML_ERR_C14N_TOO_COMPLEX,
                "the InclusiveNamespaces PrefixList names more than %d prefixes",
                SAML_C14N_MAX_PREFIXES);
        status = saml_c14n_check_prefix(entries, *count, entry, detail, detail_size);
        if (status != SAML_OK)
            return status;
        entries[(*count)++] = entry;
    }
    return SAML_OK;
}

/*
 * Checks one InclusiveNamespaces element and adds its number of prefixes to *prefixes.
 * Its only attribute must be PrefixList without a namespace, because xmlsec reads it with
 * libxml2's xmlGetProp, which ignores namespaces and takes the first attribute of that
 * name.
 */
static saml_status saml_c14n_check_inclusive(const xmlNode *element, uint64_t *prefixes,
                                             char *detail, size_t detail_size)
{
    const xmlAttr *attr = element->properties;
    saml_status status;
    xmlChar *list;
    size_t count;

    if (attr == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "an InclusiveNamespaces element has no PrefixList attribute");
    if (attr->next != NULL || attr->ns != NULL ||
        strcmp((const char *)attr->name, "PrefixList") != 0)
        return saml_fail(
            detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
            "an InclusiveNamespaces element carries an attribute other than one "
            "PrefixList without a namespace");

    list = xmlNodeListGetString(element->doc, attr->children, 1);
    if (list == NULL)
        list = xmlStrdup((const xmlChar *)"");
    if (list == NULL)
        return saml_fail(detail, detail_size, SAML_ERR_INTERNAL,
                         "out of memory reading a PrefixList");
    status = saml_c14n_check_prefix_list((char *)list, &count, detail, detail_size);
    xmlFree(list);
    if (status == SAML_OK)
        *prefixes += count;
    return status;
}

saml_status saml_c14n_check_parameters(xmlNodePtr method, bool inclusive_allowed,
                                       char *detail, size_t detail_size)
{
    xmlNodePtr child = xmlFirstElementChild(method);
    uint64_t prefixes = 0;

    if (child == NULL)
        return SAML_OK;
    if (!inclusive_allowed)
        return saml_fail(detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
                         "the enveloped-signature <%.40s> contains <%.40s>; it takes no "
                         "parameters",
                         method->name, child->name);
    if (!saml_c14n_is_inclusive_namespaces(child) ||
        xmlNextElementSibling(child) != NULL)
        return saml_fail(
            detail, detail_size, SAML_ERR_TRANSFORM_FORBIDDEN,
            "the exclusive c14n <%.40s> contains <%.40s>; it may contain only "
            "one InclusiveNamespaces element in the exclusive c14n namespace",
            method->name, child->name);
    return saml_c14n_check_inclusive(child, &prefixes, detail, detail_size);
}

/* Checks the bounds of one element and adds its share to the work estimate. */
static saml_status saml_c14n_check_element(const xmlNode *node, size_t depth,
                                           size_t in_scope, saml_c14n_work *work,
                                           char *detail, size_t detail_size)
{
    size_t attributes = saml_c14n_count_attributes(node);
    size_t others;

    if (in_scope > SAML_C14N_MAX_NS_IN_SCOPE)
        return saml_fail(detail, detail_size, SAML_ERR_C14N_TOO_COMPLEX,
                         "<%.40s> has %zu namespace declarations in scope, counting its "
                         "ancestors'; at most %d are allowed",
                         node->name, in_scope, SAML_C14N_MAX_NS_IN_SCOPE);
    if (attributes > SAML_C14N_MAX_ATTRIBUTES)
        return saml_fail(detail, detail_size, SAML_ERR_C14N_TOO_COMPLEX,
                         "<%.40s> has %zu attributes; at most %d are allowed", node->name,
                         attributes, SAML_C14N_MAX_ATTRIBUTES);

    others = attributes + saml_c14n_count_other_children(node);
    work->weighted += (uint64_t)(1 + others) * (depth + in_scope);
    work->lookups += depth + in_scope;
    if (saml_c14n_is_inclusive_namespaces(node))
        return saml_c14n_check_inclusive(node, &work->prefixes, detail, detail_size);
    return SAML_OK;
}

/*
 * Visits every element in document order. The declarations in scope are kept as a
 * running sum: an element's own are added on entering it and taken away on leaving it,
 * so that no element's ancestors are walked again.
 */
static saml_status saml_c14n_walk(xmlNodePtr root, saml_c14n_work *work, char *detail,
                                  size_t detail_size)
{
    xmlNodePtr node = root;
    size_t depth = 1;
    size_t in_scope = saml_c14n_count_ns_defs(root);

    for (;;) {
        saml_status status =
            saml_c14n_check_element(node, depth, in_scope, work, detail, detail_size);
        xmlNodePtr next;

        if (status != SAML_OK)
            return status;

        next = xmlFirstElementChild(node);
        if (next != NULL) {
            depth++;
            in_scope += saml_c14n_count_ns_defs(next);
            node = next;
            continue;
        }
        while (node != root && (next = xmlNextElementSibling(node)) == NULL) {
            in_scope -= saml_c14n_count_ns_defs(node);
            depth--;
            node = node->parent;
        }
        if (node == root)
            return SAML_OK;
        in_scope =
            in_scope - saml_c14n_count_ns_defs(node) + saml_c14n_count_ns_defs(next);
        node = next;
    }
}

/*
 * Estimates the steps of the c14n runs as the sum over elements of
 * (1 + attributes + other child nodes + PrefixList entries) x (depth + declarations in
 * scope). The other child nodes are text, comments and processing instructions. The
 * entries are those of every InclusiveNamespaces in the document.
 *
 * With libxml2 2.9.14 and xmlsec 1.2.37, in idsvc-admin saml verify (Release build,
 * 2-core machine), attack documents cost about 6 ns per step of the estimate, and one
 * just under the limit took about 30 ms including start-up. NOTE: the verifier runs
 * xmlsec once per trusted key of the issuer until one verifies, and a correct DigestValue
 * needs no key, so the cost can repeat for each such key.
 */
saml_status saml_c14n_check_document(xmlDocPtr doc, char *detail, size_t detail_size)
{
    saml_c14n_work work = {0};
    uint64_t estimate;
    saml_status status =
        saml_c14n_walk(xmlDocGetRootElement(doc), &work, detail, detail_size);

    if (status != SAML_OK)
        return status;

    estimate = work.weighted + work.prefixes * work.lookups;
    if (estimate > SAML_C14N_MAX_WORK)
        return saml_fail(
            detail, detail_size, SAML_ERR_C14N_TOO_COMPLEX,
            "canonicalising the document would take an estimated %llu steps, more "
            "than the limit of %llu. It has too many nodes, nested too deep, or too "
            "many PrefixList entries",
            (unsigned long long)estimate, (unsigned long long)SAML_C14N_MAX_WORK);
    return SAML_OK;
}

/*
 * The bounds on exclusive c14n work. Each attack document is built in code with a
 * garbage DigestValue and SignatureValue and the trusted issuer, as an attacker without
 * a key would send it: the verifier must reject it for its shape, before xmlsec
 * canonicalises anything. Documents that stay inside the bounds are signed by the xmlsec1
 * command line with a file key the issuer trusts, and must still verify.
 */
#define _GNU_SOURCE /* open_memstream */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"
#include "xml_safe.h"
#include "saml_test_util.h"

#define EXC_C14N "http://www.w3.org/2001/10/xml-exc-c14n#"
#define EXC_C14N_TRANSFORM "<ds:Transform Algorithm=\"" EXC_C14N "\"/>"
#define EXC_C14N_METHOD "<ds:CanonicalizationMethod Algorithm=\"" EXC_C14N "\"/>"
#define SAML_NS_DECL "xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\""
#define GARBAGE_DIGEST "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static saml_fixture fixture;

static int setup(void **state)
{
    (void)state;
    return st_fixture_create(&fixture);
}

static int teardown(void **state)
{
    (void)state;
    st_fixture_destroy(&fixture);
    return 0;
}

/* A growing string on open_memstream. */
typedef struct text {
    char *data;
    size_t len;
    FILE *out;
} text;

static void text_open(text *t)
{
    t->data = NULL;
    t->out = open_memstream(&t->data, &t->len);
    assert_non_null(t->out);
}

static char *text_close(text *t)
{
    assert_int_equal(fclose(t->out), 0);
    return t->data;
}

/* Returns " xmlns:pFIRST=... " for count declarations, numbered from first. */
static char *ns_declarations(size_t first, size_t count)
{
    text t;

    text_open(&t);
    for (size_t i = first; i < first + count; i++)
        fprintf(t.out, " xmlns:p%zu=\"urn:example:p%zu\"", i, i);
    return text_close(&t);
}

/* Returns "p0 p1 ..." with count entries. */
static char *prefix_list(size_t count)
{
    text t;

    text_open(&t);
    for (size_t i = 0; i < count; i++)
        fprintf(t.out, "%sp%zu", i > 0 ? " " : "", i);
    return text_close(&t);
}

static char *inclusive_namespaces(const char *list)
{
    text t;

    text_open(&t);
    fprintf(t.out,
            "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"%s\"/>",
            list);
    return text_close(&t);
}

/* Replaces from with to in *doc, which it frees. */
static void edit(char **doc, const char *from, const char *to)
{
    char *edited = st_replace(*doc, from, to);

    free(*doc);
    *doc = edited;
}

/* Puts content into the exclusive c14n Transform of the Reference. */
static void set_transform_content(char **doc, const char *content)
{
    text t;

    text_open(&t);
    fprintf(t.out, "<ds:Transform Algorithm=\"" EXC_C14N "\">%s</ds:Transform>", content);
    char *transform = text_close(&t);

    edit(doc, EXC_C14N_TRANSFORM, transform);
    free(transform);
}

/* Declares count more namespaces on the Assertion, numbered from first. */
static void declare_on_assertion(char **doc, size_t first, size_t count)
{
    char *declarations = ns_declarations(first, count);
    char *with = NULL;

    assert_int_not_equal(asprintf(&with, SAML_NS_DECL "%s", declarations), -1);
    edit(doc, SAML_NS_DECL, with);
    free(declarations);
    free(with);
}

/* Adds an Advice after the Conditions with this content. */
static void add_advice(char **doc, const char *content)
{
    char *advice = NULL;

    assert_int_not_equal(
        asprintf(&advice, "</saml:Conditions><saml:Advice>%s</saml:Advice>", content),
        -1);
    edit(doc, "</saml:Conditions>", advice);
    free(advice);
}

/* Fills the empty DigestValue and SignatureValue with garbage, as an attacker without a
 * key would. An RSA-2048 value has 344 base64 characters. */
static void add_garbage_signature(char **doc)
{
    char value[345];

    memset(value, 'A', 344);
    value[344] = '\0';
    edit(doc, "<ds:DigestValue></ds:DigestValue>",
         "<ds:DigestValue>" GARBAGE_DIGEST "</ds:DigestValue>");
    {
        char *element = NULL;

        assert_int_not_equal(
            asprintf(&element, "<ds:SignatureValue>%s</ds:SignatureValue>", value), -1);
        edit(doc, "<ds:SignatureValue></ds:SignatureValue>", element);
        free(element);
    }
}

static char *template_doc(const char *id)
{
    const st_template spec = {.id = id};

    return st_template_xml(&fixture, &spec);
}

/* Signs doc with the trusted RSA file key and frees it. */
static char *sign(char *doc)
{
    char *signed_doc = st_xmlsec_sign(&fixture, doc, fixture.file_rsa);

    free(doc);
    return signed_doc;
}

static saml_status verify_garbage(char *doc)
{
    saml_status status;

    add_garbage_signature(&doc);
    status = st_verify(&fixture, NULL, doc, NULL);
    free(doc);
    return status;
}

static saml_status verify_signed(char *doc)
{
    char *signed_doc = sign(doc);
    saml_status status = st_verify(&fixture, NULL, signed_doc, NULL);

    free(signed_doc);
    return status;
}

/* The shape of the reported attack, scaled down: every declaration in the PrefixList
 * and many elements that each look all of them up. */
static void prefix_list_of_all_declarations(void **state)
{
    char *doc = template_doc("_pl1");
    char *list = prefix_list(300);
    char *inclusive = inclusive_namespaces(list);
    text elements;

    (void)state;
    text_open(&elements);
    for (int i = 0; i < 300; i++)
        fputs("<p0:e/>", elements.out);
    char *advice = text_close(&elements);

    declare_on_assertion(&doc, 0, 300);
    set_transform_content(&doc, inclusive);
    add_advice(&doc, advice);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);
    free(list);
    free(inclusive);
    free(advice);
}

/* 16 prefixes pass and a 17th is rejected, whether they are declared or not. */
static void prefix_list_limit(void **state)
{
    char *list16 = prefix_list(16);
    char *list17 = prefix_list(17);
    char *inclusive16 = inclusive_namespaces(list16);
    char *inclusive17 = inclusive_namespaces(list17);
    char *doc;

    (void)state;
    doc = template_doc("_pl16");
    declare_on_assertion(&doc, 0, 16);
    set_transform_content(&doc, inclusive16);
    assert_int_equal(verify_signed(doc), SAML_OK);

    doc = template_doc("_pl17");
    declare_on_assertion(&doc, 0, 17);
    set_transform_content(&doc, inclusive17);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);

    doc = template_doc("_pl17u");
    set_transform_content(&doc, inclusive17);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);

    free(list16);
    free(list17);
    free(inclusive16);
    free(inclusive17);
}

/* The SignedInfo's own CanonicalizationMethod takes an InclusiveNamespaces too. */
static void prefix_list_in_canonicalization_method(void **state)
{
    char *list = prefix_list(40);
    char *inclusive = inclusive_namespaces(list);
    char *method = NULL;
    char *doc = template_doc("_cm1");

    (void)state;
    assert_int_not_equal(asprintf(&method,
                                  "<ds:CanonicalizationMethod Algorithm=\"" EXC_C14N
                                  "\">%s</ds:CanonicalizationMethod>",
                                  inclusive),
                         -1);
    declare_on_assertion(&doc, 0, 40);
    edit(&doc, EXC_C14N_METHOD, method);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);
    free(list);
    free(inclusive);
    free(method);
}

/* What producers send: xs and xsi on the AttributeValue, "#default saml ds xs xsi". */
static void common_prefix_list_verifies(void **state)
{
    char *inclusive = inclusive_namespaces("#default saml ds xs xsi");
    char *doc = template_doc("_common1");
    saml_assertion *a = NULL;
    char *signed_doc;

    (void)state;
    set_transform_content(&doc, inclusive);
    edit(&doc, "</saml:Conditions>",
         "</saml:Conditions><saml:AttributeStatement><saml:Attribute "
         "Name=\"urn:oid:2.5.4.42\" "
         "NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">"
         "<saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
         "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"xs:string\">"
         "Alice</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>");
    signed_doc = sign(doc);
    assert_int_equal(st_verify(&fixture, NULL, signed_doc, &a), SAML_OK);
    assert_string_equal(a->name_id, "alice@idsvc.test");
    saml_assertion_free(&a);
    free(signed_doc);
    free(inclusive);
}

/* Malformed InclusiveNamespaces and transform parameters, each a transform_forbidden. */
static void transform_parameters_invalid(void **state)
{
    static const char *const contents[] = {
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"xs xs\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"1xs\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"a:b\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"#other\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\"/>",
        /* xmlsec splits at each space and passes the empty entries on as #default. */
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"xs  xsi\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\" xs\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"xs"
        "                                                                xsi\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"xs&#9;xsi\"/>",
        /* xmlsec would read the first PrefixList whatever its namespace. */
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" xmlns:x=\"urn:example:x\" "
        "x:PrefixList=\"p0 p1 p2 p3 p4 p5 p6 p7 p8 p9 p10 p11 p12 p13 p14 p15 p16\" "
        "PrefixList=\"xs\"/>",
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"xs\"/>"
        "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"xsi\"/>",
        "<x:Other xmlns:x=\"urn:example:x\"/>",
        "<InclusiveNamespaces PrefixList=\"xs\"/>",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        char *doc = template_doc("_tp1");

        print_message("    case %zu\n", i);
        set_transform_content(&doc, contents[i]);
        assert_int_equal(verify_garbage(doc), SAML_ERR_TRANSFORM_FORBIDDEN);
    }
}

#define ENVELOPED_TRANSFORM                                                              \
    "<ds:Transform "                                                                     \
    "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"

/* enveloped-signature takes no parameters, each transform may appear only once, and
 * exclusive c14n must come last: otherwise xmlsec adds inclusive c14n, which renders
 * every namespace in scope on every element. */
static void transform_list_outside_profile(void **state)
{
    static const char *const lists[] = {
        "<ds:Transforms>" ENVELOPED_TRANSFORM EXC_C14N_TRANSFORM EXC_C14N_TRANSFORM
        "</ds:Transforms>",
        "<ds:Transforms>" ENVELOPED_TRANSFORM "</ds:Transforms>",
        "<ds:Transforms>" EXC_C14N_TRANSFORM ENVELOPED_TRANSFORM "</ds:Transforms>",
        "",
    };
    char *doc;

    (void)state;
    for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
        print_message("    case %zu\n", i);
        doc = template_doc("_tr1");
        edit(&doc,
             "<ds:Transforms>" ENVELOPED_TRANSFORM EXC_C14N_TRANSFORM "</ds:Transforms>",
             lists[i]);
        assert_int_equal(verify_garbage(doc), SAML_ERR_TRANSFORM_FORBIDDEN);
    }

    /* XML-DSig requires at least one Transform in a Transforms element. */
    doc = template_doc("_tr3");
    edit(&doc, "<ds:Transforms>" ENVELOPED_TRANSFORM EXC_C14N_TRANSFORM "</ds:Transforms>",
         "<ds:Transforms></ds:Transforms>");
    assert_int_equal(verify_garbage(doc), SAML_ERR_SIGNATURE_MALFORMED);

    doc = template_doc("_tr2");
    edit(&doc, "xmldsig#enveloped-signature\"/>",
         "xmldsig#enveloped-signature\"><ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N
         "\" PrefixList=\"xs\"/></ds:Transform>");
    assert_int_equal(verify_garbage(doc), SAML_ERR_TRANSFORM_FORBIDDEN);
}

/* 64 declarations in scope pass, and 65 are rejected, on one element or spread over
 * ancestors. */
static void namespaces_in_scope_limit(void **state)
{
    char *nested = NULL;
    char *declarations = ns_declarations(40, 25);
    char *doc;

    (void)state;
    doc = template_doc("_ns64");
    declare_on_assertion(&doc, 0, 64 - 2); /* saml and, on the Signature, ds */
    assert_int_equal(verify_signed(doc), SAML_OK);

    doc = template_doc("_ns65");
    declare_on_assertion(&doc, 0, 64);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);

    /* 1 + 39 on the Assertion, 25 more on an element inside Advice. */
    doc = template_doc("_ns65n");
    declare_on_assertion(&doc, 0, 39);
    assert_int_not_equal(asprintf(&nested, "<x%s/>", declarations), -1);
    add_advice(&doc, nested);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);

    free(declarations);
    free(nested);
}

static void attributes_limit(void **state)
{
    text element;
    char *doc = template_doc("_at65");

    (void)state;
    text_open(&element);
    fputs("<x", element.out);
    for (int i = 0; i < 65; i++)
        fprintf(element.out, " a%d=\"\"", i);
    fputs("/>", element.out);
    char *advice = text_close(&element);

    add_advice(&doc, advice);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);
    free(advice);
}

/* Returns an element named x with count attributes. */
static char *element_with_attributes(int count)
{
    text element;

    text_open(&element);
    fputs("<x", element.out);
    for (int i = 0; i < count; i++)
        fprintf(element.out, " a%d=\"=\"", i);
    fputs("/>", element.out);
    return text_close(&element);
}

/* Verifies len bytes and checks the status and that the detail contains part. */
static void expect_rejection(const char *xml, size_t len, saml_status expected,
                             const char *part)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *assertion = NULL;
    char detail[512] = "";

    assert_int_equal(saml_verify(fixture.store, &options, xml, len, &assertion, detail,
                                 sizeof(detail)),
                     expected);
    assert_null(assertion);
    print_message("    %s\n", detail);
    assert_non_null(strstr(detail, part));
}

/* Returns doc in UTF-16LE with a byte order mark, for an ASCII doc. */
static char *utf16le(const char *doc, size_t *len)
{
    size_t chars = strlen(doc);
    char *out = calloc(2 * chars + 2, 1);

    assert_non_null(out);
    out[0] = (char)0xFF;
    out[1] = (char)0xFE;
    for (size_t i = 0; i < chars; i++)
        out[2 + 2 * i] = doc[i];
    *len = 2 * chars + 2;
    return out;
}

/* A start tag of more attributes than the bound is rejected before libxml2 parses it,
 * in UTF-8 and UTF-16 alike. The '=' inside each value must not count. */
static void start_tag_attribute_limit(void **state)
{
    char *doc = template_doc("_tag129");
    char *element = element_with_attributes(XML_SAFE_MAX_TAG_ATTRIBUTES + 1);
    size_t wide_len = 0;
    char *wide;

    (void)state;
    add_advice(&doc, element);
    add_garbage_signature(&doc);
    expect_rejection(doc, strlen(doc), SAML_ERR_C14N_TOO_COMPLEX, "start tag");

    wide = utf16le(doc, &wide_len);
    expect_rejection(wide, wide_len, SAML_ERR_C14N_TOO_COMPLEX, "start tag");
    free(wide);
    free(element);
    free(doc);
}

/* At the bound, the start tag passes the scan and meets the c14n check of 64. */
static void start_tag_attribute_bound(void **state)
{
    char *doc = template_doc("_tag128");
    char *element = element_with_attributes(XML_SAFE_MAX_TAG_ATTRIBUTES);

    (void)state;
    add_advice(&doc, element);
    add_garbage_signature(&doc);
    expect_rejection(doc, strlen(doc), SAML_ERR_C14N_TOO_COMPLEX, "at most 64");
    free(element);
    free(doc);
}

/* Comments, CDATA sections and processing instructions are skipped, so markup inside
 * them does not count as a start tag. */
static void start_tag_scan_skips_text(void **state)
{
    char *doc = template_doc("_tagtext");
    char *element = element_with_attributes(XML_SAFE_MAX_TAG_ATTRIBUTES + 1);
    char *hidden = NULL;

    (void)state;
    assert_int_not_equal(asprintf(&hidden, "<!--%s--><![CDATA[%s]]><?pi %s?>", element,
                                  element, element),
                         -1);
    add_advice(&doc, hidden);
    add_garbage_signature(&doc);
    expect_rejection(doc, strlen(doc), SAML_ERR_DIGEST_MISMATCH, "");
    free(hidden);
    free(element);
    free(doc);
}

/* UCS-4 cannot be scanned, so it is rejected as malformed. */
static void ucs4_rejected(void **state)
{
    static const char ucs4[] = {0, 0, 0, '<', 0, 0, 0, 'a', 0, 0, 0, '/', 0, 0, 0, '>'};

    (void)state;
    expect_rejection(ucs4, sizeof(ucs4), SAML_ERR_XML_MALFORMED, "UCS-4");
}

/* An encoding that writes '<' as other bytes, such as UTF-7, would hide every start tag
 * from the scan, so a declaration that names one is rejected before libxml2 reads it. A
 * single-byte set that keeps ASCII passes the scan. */
static void declared_encoding_checked(void **state)
{
    static const char *const unread[] = {"UTF-7", "utf-7", "ISO-2022-JP", "UTF-32",
                                         "EBCDIC-US", "ISO-8859-", "windows-"};
    char doc[256];

    (void)state;
    for (size_t i = 0; i < sizeof(unread) / sizeof(unread[0]); i++) {
        char expected[64];

        snprintf(doc, sizeof(doc),
                 "<?xml version=\"1.0\" encoding='%s'?>+ADw-a b=\"\"/+AD4-", unread[i]);
        snprintf(expected, sizeof(expected), "names the encoding \"%s\"", unread[i]);
        expect_rejection(doc, strlen(doc), SAML_ERR_XML_MALFORMED, expected);
    }
    /* ISO-8859-1 keeps ASCII, so the scan still finds the start tag of 129 attributes. */
    {
        char *element = element_with_attributes(XML_SAFE_MAX_TAG_ATTRIBUTES + 1);
        char *latin = NULL;

        assert_true(asprintf(&latin, "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>%s",
                             element) > 0);
        expect_rejection(latin, strlen(latin), SAML_ERR_C14N_TOO_COMPLEX, "start tag");
        free(latin);
        free(element);
    }
}

/* XML 1.0 allows any white space after "<?xml", between the pseudo-attributes and
 * around '=', so the scan reads the declaration by its grammar, not by one spelling. */
static void declaration_white_space_read(void **state)
{
    static const char *const hiding[] = {
        "<?xml\tversion=\"1.0\" encoding=\"UTF-7\"?>",
        "<?xml\nversion=\"1.0\"\r\nencoding = 'UTF-7' ?>",
        "<?xml version=\"1.0\"\tencoding\t=\t\"UTF-7\"?>",
        "<?xml\rversion='1.0' encoding='UTF-7'?>",
    };
    static const char *const malformed[] = {
        "<?xml version=\"1.0\"encoding=\"UTF-7\"?>",
        "<?xml version=\"1.0\" encoding=\"UTF-8\" encoding=\"UTF-7\"?>",
        "<?xml version=\"1.0\" encoding=UTF-7?>",
        "<?xml version=\"1.0\" encoding=\"UTF-7?>",
        "<?xml version=\"1.0\" encoding=\"\" encoding=\"UTF-7\"?>",
    };
    char *element = element_with_attributes(XML_SAFE_MAX_TAG_ATTRIBUTES + 1);
    char *doc = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(hiding) / sizeof(hiding[0]); i++) {
        assert_true(asprintf(&doc, "%s+ADw-a b=\"\"/+AD4-", hiding[i]) > 0);
        expect_rejection(doc, strlen(doc), SAML_ERR_XML_MALFORMED,
                         "the XML declaration names the encoding \"UTF-7\", which the node "
                         "does not read; send UTF-8 or UTF-16");
        free(doc);
    }
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
        assert_true(asprintf(&doc, "%s<a/>", malformed[i]) > 0);
        expect_rejection(doc, strlen(doc), SAML_ERR_XML_MALFORMED,
                         "the XML declaration is malformed");
        free(doc);
    }

    /* A declaration spelled with other white space still lets the scan reach the tag. */
    assert_true(asprintf(&doc, "<?xml\tversion = \"1.0\"\n encoding='ISO-8859-1'\t?>%s",
                         element) > 0);
    expect_rejection(doc, strlen(doc), SAML_ERR_C14N_TOO_COMPLEX, "start tag");
    free(doc);
    free(element);
}

/* Returns prefix in UTF-16 with a byte order mark, followed by the bytes of rest as they
 * are, and sets *len. prefix and rest are ASCII. */
static char *utf16_then_bytes(const char *prefix, bool big_endian, const char *rest,
                              size_t *len)
{
    size_t chars = strlen(prefix);
    size_t rest_len = strlen(rest);
    unsigned char *out = calloc(2 * chars + 2 + rest_len + 1, 1);

    assert_non_null(out);
    out[0] = big_endian ? 0xFE : 0xFF;
    out[1] = big_endian ? 0xFF : 0xFE;
    for (size_t i = 0; i < chars; i++)
        out[2 + 2 * i + (big_endian ? 1 : 0)] = (unsigned char)prefix[i];
    memcpy(out + 2 + 2 * chars, rest, rest_len);
    *len = 2 * chars + 2 + rest_len;
    return (char *)out;
}

/* Returns ascii in UTF-16 with a byte order mark, and sets *len. */
static char *utf16(const char *ascii, bool big_endian, size_t *len)
{
    return utf16_then_bytes(ascii, big_endian, "", len);
}

/* libxml2 2.9.14 switches to the declared encoding after the declaration. A name whose
 * code units differ in width or byte order from those the document starts in would let
 * it read the rest differently from the scan, which could then miss a start tag. */
static void declared_units_must_match(void **state)
{
    static const struct {
        const char *encoding;
        int start; /* 0: single bytes, 1: UTF-16LE, 2: UTF-16BE */
        const char *started;
    } mismatched[] = {
        {"ISO-8859-1", 1, "UTF-16LE"},
        {"windows-1252", 2, "UTF-16BE"},
        {"UTF-8", 1, "UTF-16LE"},
        {"UTF-16", 0, "an 8-bit encoding such as UTF-8"},
        {"UTF-16LE", 0, "an 8-bit encoding such as UTF-8"},
        {"utf-16be", 0, "an 8-bit encoding such as UTF-8"},
        {"UCS-2", 0, "an 8-bit encoding such as UTF-8"},
        {"ISO-10646-UCS-2", 0, "an 8-bit encoding such as UTF-8"},
        {"UTF-16LE", 2, "UTF-16BE"},
        {"UTF-16BE", 1, "UTF-16LE"},
        {"UCS-2", 2, "UTF-16BE"},
    };
    static const struct {
        const char *encoding;
        int start;
    } matched[] = {
        {"UTF-8", 0}, {"US-ASCII", 0},   {"ISO-8859-1", 0}, {"UTF-16", 1},
        {"UTF-16", 2}, {"UTF-16LE", 1}, {"UTF-16BE", 2},   {"UCS-2", 1},
    };
    char *element = element_with_attributes(XML_SAFE_MAX_TAG_ATTRIBUTES + 1);
    char declaration[128];
    char expected[256];
    char *doc = NULL;
    size_t len = 0;

    (void)state;
    for (size_t i = 0; i < sizeof(mismatched) / sizeof(mismatched[0]); i++) {
        snprintf(declaration, sizeof(declaration), "<?xml version=\"1.0\" encoding=\"%s\"?>",
                 mismatched[i].encoding);
        if (mismatched[i].start == 0) {
            assert_true(asprintf(&doc, "%s%s", declaration, element) > 0);
            len = strlen(doc);
        } else {
            /* The rest in single bytes, as libxml2 would read it after the switch. */
            doc = utf16_then_bytes(declaration, mismatched[i].start == 2, element, &len);
        }
        snprintf(expected, sizeof(expected),
                 "the XML declaration names the encoding \"%s\", but the document starts "
                 "in %s; declare the encoding that the document is written in",
                 mismatched[i].encoding, mismatched[i].started);
        expect_rejection(doc, len, SAML_ERR_XML_MALFORMED, expected);
        free(doc);
    }

    /* A declaration that ends in the other code units names its encoding before it ends,
     * and the name, not the ending, is reported. */
    {
        char *rest = NULL;
        static const char wide_end[] = "<?xml version=\"1.0\" encoding=\"UTF-16LE\"?\0>\0<\0a\0/\0>\0";

        assert_true(asprintf(&rest, "?>%s", element) > 0);
        doc = utf16_then_bytes("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"  ", false, rest,
                               &len);
        expect_rejection(doc, len, SAML_ERR_XML_MALFORMED,
                         "names the encoding \"ISO-8859-1\", but the document starts in "
                         "UTF-16LE");
        expect_rejection(wide_end, sizeof(wide_end) - 1, SAML_ERR_XML_MALFORMED,
                         "names the encoding \"UTF-16LE\", but the document starts in an "
                         "8-bit encoding such as UTF-8");
        free(doc);
        free(rest);
    }

    /* A name of the same code units passes, and the scan then finds the start tag. */
    for (size_t i = 0; i < sizeof(matched) / sizeof(matched[0]); i++) {
        char *ascii = NULL;

        assert_true(asprintf(&ascii, "<?xml version=\"1.0\" encoding=\"%s\"?>%s",
                             matched[i].encoding, element) > 0);
        if (matched[i].start == 0) {
            doc = ascii;
            len = strlen(doc);
        } else {
            doc = utf16(ascii, matched[i].start == 2, &len);
            free(ascii);
        }
        expect_rejection(doc, len, SAML_ERR_C14N_TOO_COMPLEX, "start tag");
        free(doc);
    }
    free(element);
}

/* Returns 200 nested elements around count copies of leaf. */
static char *deep_content(const char *leaf, int count)
{
    text content;

    text_open(&content);
    for (int i = 0; i < 200; i++)
        fputs("<d>", content.out);
    for (int i = 0; i < count; i++)
        fputs(leaf, content.out);
    for (int i = 0; i < 200; i++)
        fputs("</d>", content.out);
    return text_close(&content);
}

/* Within every per-element bound, deep nesting times many nodes still exceeds the work
 * estimate: elements with 16 prefixes, or processing instructions without any, each of
 * which xmlsec checks by walking its ancestors. */
static void work_estimate_limit(void **state)
{
    char *list = prefix_list(16);
    char *inclusive = inclusive_namespaces(list);
    char *elements = deep_content("<e/>", 2000);
    char *instructions = deep_content("<?a?>", 25000);
    char *doc = template_doc("_wk1");

    (void)state;
    declare_on_assertion(&doc, 0, 16);
    set_transform_content(&doc, inclusive);
    add_advice(&doc, elements);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);

    doc = template_doc("_wk2");
    add_advice(&doc, instructions);
    assert_int_equal(verify_garbage(doc), SAML_ERR_C14N_TOO_COMPLEX);

    free(list);
    free(inclusive);
    free(elements);
    free(instructions);
}

/* xmlsec would digest each Manifest Reference of an Object, even after the signed
 * Reference failed, although its outcome never counts. The verifier sets xmlsec's flag
 * to skip them. The XPath transform, which the hardened context does not enable, shows
 * that the Manifest is not read, because reading it would fail the verification. */
static void manifest_references_not_processed(void **state)
{
    char *doc = template_doc("_mf1");

    (void)state;
    edit(&doc, "</ds:SignatureValue>",
         "</ds:SignatureValue><ds:Object><ds:Manifest><ds:Reference URI=\"#_mf1\">"
         "<ds:Transforms><ds:Transform Algorithm=\"http://www.w3.org/TR/1999/REC-xpath-"
         "19991116\"><ds:XPath>true()</ds:XPath></ds:Transform></ds:Transforms>"
         "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"
         "<ds:DigestValue></ds:DigestValue></ds:Reference></ds:Manifest></ds:Object>");
    assert_int_equal(verify_signed(doc), SAML_OK);
}

/* idsvc-admin saml verify runs the same checks. */
static void cli_reports_code(void **state)
{
    char *doc = template_doc("_cli1");
    char *list = prefix_list(17);
    char *inclusive = inclusive_namespaces(list);
    char path[PATH_MAX + 16];
    char args[PATH_MAX * 2 + 64];
    char line[512];
    FILE *file;

    (void)state;
    set_transform_content(&doc, inclusive);
    add_garbage_signature(&doc);
    snprintf(path, sizeof(path), "%s/c14n.xml", fixture.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(doc, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);

    snprintf(args, sizeof(args), "--trust %s.pub %s", fixture.file_rsa, path);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 1);
    print_message("    cli: %s\n", line);
    assert_non_null(strstr(line, "rejected: c14n_too_complex: "));
    free(doc);
    free(list);
    free(inclusive);
}

/* A PolicyBundle with a garbage signature. Its two %s are the PrefixList and the
 * SignatureValue. */
#define POLICY_BUNDLE_FORMAT                                                             \
    "<PolicyBundle xmlns=\"urn:idsvc:policy:1\" ID=\"_pb1\">"                            \
    "<ds:Signature "                                                                     \
    "xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:SignedInfo>" EXC_C14N_METHOD    \
    "<ds:SignatureMethod "                                                               \
    "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>"                  \
    "<ds:Reference URI=\"#_pb1\"><ds:Transforms>"                                        \
    "<ds:Transform "                                                                     \
    "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>"              \
    "<ds:Transform Algorithm=\"" EXC_C14N "\">"                                          \
    "<ec:InclusiveNamespaces xmlns:ec=\"" EXC_C14N "\" PrefixList=\"%s\"/>"              \
    "</ds:Transform></ds:Transforms>"                                                    \
    "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>"           \
    "<ds:DigestValue>" GARBAGE_DIGEST "</ds:DigestValue></ds:Reference></ds:SignedInfo>" \
    "<ds:SignatureValue>%s</ds:SignatureValue></ds:Signature></PolicyBundle>"

/* The policy bundle verifier shares saml_dsig_check, so it gets the same bounds. */
static void policy_bundle_prefix_list(void **state)
{
    char *list = prefix_list(17);
    char *doc = NULL;
    char pub[PATH_MAX + 8];
    policy_trust *trust = NULL;
    policy_error err = {0};
    size_t key_index = 0;
    char value[345];

    (void)state;
    memset(value, 'A', 344);
    value[344] = '\0';
    assert_int_not_equal(asprintf(&doc, POLICY_BUNDLE_FORMAT, list, value), -1);
    snprintf(pub, sizeof(pub), "%s.pub", fixture.file_rsa);
    assert_int_equal(policy_trust_load(pub, &trust, &err), 0);

    assert_int_equal(policy_verify_document(doc, strlen(doc), trust, &key_index, &err),
                     -1);
    print_message("    policy: %s\n", err.message);
    assert_int_equal(err.code, POLICY_E_SIGNATURE);
    assert_non_null(strstr(err.message, "PrefixList names more than 16 prefixes"));

    policy_trust_free(&trust);
    free(list);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(prefix_list_of_all_declarations),
        cmocka_unit_test(prefix_list_limit),
        cmocka_unit_test(prefix_list_in_canonicalization_method),
        cmocka_unit_test(common_prefix_list_verifies),
        cmocka_unit_test(transform_parameters_invalid),
        cmocka_unit_test(transform_list_outside_profile),
        cmocka_unit_test(namespaces_in_scope_limit),
        cmocka_unit_test(attributes_limit),
        cmocka_unit_test(start_tag_attribute_limit),
        cmocka_unit_test(start_tag_attribute_bound),
        cmocka_unit_test(start_tag_scan_skips_text),
        cmocka_unit_test(ucs4_rejected),
        cmocka_unit_test(declared_encoding_checked),
        cmocka_unit_test(declaration_white_space_read),
        cmocka_unit_test(declared_units_must_match),
        cmocka_unit_test(work_estimate_limit),
        cmocka_unit_test(manifest_references_not_processed),
        cmocka_unit_test(cli_reports_code),
        cmocka_unit_test(policy_bundle_prefix_list),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

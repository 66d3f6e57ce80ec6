/*
 * The policy engine against the real rule set in policies/ and against small bundles
 * written here. The tests cover schema rejections with their line, meaning checks, and
 * properties over generated requests: withhold overrides disclose, a withheld value
 * never appears in any output, and a decision never depends on the order of rules or
 * bundles.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "policy_internal.h"
#include "test_token.h"

static const char *const bundle_names[] = {
    "asean-cn-base", "residency-bn", "residency-cn", "residency-id",
    "residency-kh",  "residency-la", "residency-mm", "residency-my",
    "residency-ph",  "residency-sg", "residency-th", "residency-vn",
};
#define BUNDLE_COUNT (sizeof(bundle_names) / sizeof(bundle_names[0]))

/* A small deterministic generator, so that a failing request can be reproduced. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

static size_t rng_below(size_t n)
{
    return rng_next() % n;
}

static char *read_bundle_text(const char *name, size_t *len)
{
    char path[4096];

    snprintf(path, sizeof(path), "%s/policies/%s.xml", getenv("IDSVC_SOURCE_DIR"), name);
    return test_read_file(path, len);
}

static policy_bundle *parse_text(const char *xml, const char *name)
{
    policy_bundle *bundle = NULL;
    policy_error err = {0};

    if (policy_bundle_parse(xml, strlen(xml), name, &bundle, &err) != 0)
        fail_msg("%s: %s (line %d)", name, err.message, err.line);
    return bundle;
}

/* Loads the real rule set; with shuffle, the Rule elements of each bundle and the
 * bundles themselves come in a random order. */
static policy_set *load_rule_set(bool shuffle)
{
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = NULL;
    policy_error err = {0};

    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        size_t len = 0;
        char *xml = read_bundle_text(bundle_names[i], &len);

        assert_non_null(xml);
        if (shuffle) {
            xmlDocPtr doc = xmlReadMemory(xml, (int)len, NULL, NULL, XML_PARSE_NONET);
            xmlNodePtr rules = NULL, items[256];
            size_t count = 0;
            xmlChar *out = NULL;
            int out_len = 0;

            for (xmlNodePtr n = xmlDocGetRootElement(doc)->children; n != NULL;
                 n = n->next) {
                if (n->type == XML_ELEMENT_NODE &&
                    strcmp((const char *)n->name, "Rules") == 0)
                    rules = n;
            }
            assert_non_null(rules);
            for (xmlNodePtr n = rules->children; n != NULL; n = n->next) {
                if (n->type == XML_ELEMENT_NODE)
                    items[count++] = n;
            }
            for (size_t k = 0; k < count; k++)
                xmlUnlinkNode(items[k]);
            for (size_t k = count; k > 1; k--) {
                size_t j = rng_below(k);
                xmlNodePtr t = items[k - 1];

                items[k - 1] = items[j];
                items[j] = t;
            }
            for (size_t k = 0; k < count; k++)
                xmlAddChild(rules, items[k]);
            xmlDocDumpMemory(doc, &out, &out_len);
            free(xml);
            xml = strndup((const char *)out, (size_t)out_len);
            xmlFree(out);
            xmlFreeDoc(doc);
        }
        bundles[i] = parse_text(xml, bundle_names[i]);
        free(xml);
    }
    if (shuffle) {
        for (size_t k = BUNDLE_COUNT; k > 1; k--) {
            size_t j = rng_below(k);
            policy_bundle *t = bundles[k - 1];

            bundles[k - 1] = bundles[j];
            bundles[j] = t;
        }
    }
    if (policy_set_compile(bundles, BUNDLE_COUNT, &set, &err) != 0)
        fail_msg("compile: %s", err.message);
    for (size_t i = 0; i < BUNDLE_COUNT; i++)
        policy_bundle_free(&bundles[i]);
    return set;
}

/* ---- Generated requests
 * ------------------------------------------------------------------ */

static const char *const mechanism_names[] = {
    "adequacy",
    "standard-contract",
    "certification",
    "binding-corporate-rules",
    "security-assessment",
    "asean-mcc",
};
static const char *const consent_names[] = {"explicit", "separate-cross-border"};
static const char *const assurance_names[] = {"low", "substantial", "high"};

/* Values unique to each claim and run, so that finding one in an output proves a leak. */
static json_t *unique_values(const policy_set *set, unsigned serial)
{
    json_t *values = json_object();

    for (size_t c = 0; c < set->claim_count; c++) {
        char text[96];

        if (set->claims[c].source >= 0)
            continue;
        if (strcmp(set->claims[c].name, "date_of_birth") == 0)
            snprintf(text, sizeof(text), "19%02u-0%u-1%u", 50 + serial % 50,
                     1 + serial % 9, serial % 10);
        else
            snprintf(text, sizeof(text), "secret-%s-%u", set->claims[c].name, serial);
        if (strcmp(set->claims[c].name, "address") == 0)
            json_object_set_new(values, "address",
                                json_pack("{s:s, s:s}", "street", text, "country", "SG"));
        else
            json_object_set_new(values, set->claims[c].name, json_string(text));
    }
    return values;
}

static json_t *random_request(const policy_set *set, unsigned serial)
{
    json_t *claims = json_array(), *mechanisms = json_array(), *consent = json_array();
    size_t claim_count = 1 + rng_below(10);
    const char *rp = rng_below(12) == 0
                         ? "US"
                         : set->jurisdictions[rng_below(set->jurisdiction_count)];

    for (size_t i = 0; i < claim_count; i++) {
        const char *name = set->claims[rng_below(set->claim_count)].name;
        bool seen = false;
        size_t k;
        json_t *item;

        json_array_foreach(claims, k, item) seen =
            seen || strcmp(json_string_value(item), name) == 0;
        if (!seen)
            json_array_append_new(claims, json_string(name));
    }
    for (size_t i = 0; i < 6; i++) {
        if (rng_below(3) == 0)
            json_array_append_new(mechanisms, json_string(mechanism_names[i]));
    }
    if (rng_below(4) != 0)
        json_array_append_new(consent, json_string(consent_names[rng_below(2)]));

    return json_pack(
        "{s:s, s:{s:s, s:s, s:o}, s:s, s:i, s:s, s:o, s:o, s:o, s:s}",
        "subject_jurisdiction", set->jurisdictions[rng_below(set->jurisdiction_count)],
        "relying_party", "id", "rp-generated", "jurisdiction", rp, "transfer_mechanisms",
        mechanisms, "purpose", set->purposes[rng_below(set->purpose_count)],
        "retention_days", (int)(rng_below(4) == 0 ? 4000 : 30 + rng_below(1500)),
        "assurance", assurance_names[rng_below(3)], "consent", consent, "claims", claims,
        "values", unique_values(set, serial), "time", "2026-06-01T00:00:00Z");
}

static char *decide_to_text(const policy_set *set, const json_t *doc,
                            policy_decision *decision)
{
    policy_request req;
    policy_error err = {0};
    json_t *out;
    char *text;

    if (policy_request_from_json(set, doc, &req, &err) != 0 ||
        policy_evaluate(&req, decision, &err) != 0)
        fail_msg("evaluation failed: %s", err.message);
    out = policy_decision_to_json(decision, &req);
    /* The policy digests differ between a shuffled and an ordered set only if the bytes
     * differ, which they do after re-serialisation; compare the decisions alone. */
    json_object_del(out, "policy");
    text = json_dumps(out, JSON_SORT_KEYS);
    json_decref(out);
    return text;
}

/* ---- Properties
 * ---------------------------------------------------------------------------- */

static void test_rule_order_never_matters(void **state)
{
    policy_set *ordered = load_rule_set(false);

    (void)state;
    for (int round = 0; round < 5; round++) {
        policy_set *shuffled = load_rule_set(true);

        for (unsigned i = 0; i < 400; i++) {
            json_t *doc = random_request(ordered, i);
            policy_decision a, b;
            char *text_a = decide_to_text(ordered, doc, &a);
            char *text_b = decide_to_text(shuffled, doc, &b);

            if (strcmp(text_a, text_b) != 0)
                fail_msg(
                    "round %d request %u decides differently after shuffling:\n%s\n%s",
                    round, i, text_a, text_b);
            free(text_a);
            free(text_b);
            json_decref(doc);
        }
        policy_set_release(&shuffled);
    }
    policy_set_release(&ordered);
}

static void assert_not_in(const char *haystack, const char *needle, const char *claim)
{
    if (needle != NULL && strstr(haystack, needle) != NULL)
        fail_msg("the value of withheld claim %s appears in the output: %s", claim,
                 haystack);
}

static void test_withheld_value_never_leaves(void **state)
{
    policy_set *set = load_rule_set(false);
    size_t withheld = 0;

    (void)state;
    for (unsigned i = 0; i < 3000; i++) {
        json_t *doc = random_request(set, i);
        const json_t *values = json_object_get(doc, "values");
        policy_decision decision;
        policy_request req;
        policy_error err = {0};
        char *text = decide_to_text(set, doc, &decision);
        char sentence[1024];

        assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
        for (size_t c = 0; c < decision.claim_count; c++) {
            const policy_claim_decision *d = &decision.claims[c];
            const json_t *value = json_object_get(values, d->claim);
            const char *secret = json_is_object(value)
                                     ? json_string_value(json_object_get(value, "street"))
                                     : json_string_value(value);

            if (d->outcome == POLICY_DISCLOSED)
                continue;
            if (d->outcome == POLICY_WITHHELD) {
                withheld++;
                assert_null(d->value);
                assert_int_equal(d->derived_count, 0);
            }
            /* Neither a withheld nor a derived claim's own value may appear, in the
             * decision document or in any sentence. */
            assert_not_in(text, secret, d->claim);
            policy_claim_sentence(d, &req, sentence, sizeof(sentence));
            assert_not_in(sentence, secret, d->claim);
        }
        free(text);
        json_decref(doc);
    }
    assert_true(withheld > 1000); /* the generator does reach the withholding paths */
    policy_set_release(&set);
}

/* A bundle with one claim class and the rules given, for targeted properties. */
static const char bundle_head[] =
    "<PolicyBundle xmlns='urn:idsvc:policy:1' ID='t-base' version='1' kind='base'"
    " regulator='test' effectiveFrom='2026-01-01T00:00:00Z'>\n"
    "<Title>test</Title>\n"
    "<Claims><Claim name='given_name' class='basic'/><Claim name='national_id' "
    "class='identifier'/>"
    "<Claim name='date_of_birth' class='basic'/>"
    "<Claim name='age_over_18' class='derived' derivedFrom='date_of_birth' "
    "derivation='age-over'"
    " years='18'/></Claims>\n"
    "<Jurisdictions><Jurisdiction code='SG' name='Singapore'/><Jurisdiction code='TH'"
    " name='Thailand'/></Jurisdictions>\n"
    "<Purposes><Purpose id='payment' name='Payment'/><Purpose id='travel' name='Travel'/>"
    "</Purposes>\n<Rules>\n";

static char *make_bundle(const char *rules)
{
    size_t len = strlen(bundle_head) + strlen(rules) + 64;
    char *xml = malloc(len);

    snprintf(xml, len, "%s%s</Rules></PolicyBundle>\n", bundle_head, rules);
    return xml;
}

static const char *const match_variants[] = {
    "<Match/>",
    "<Match scope='cross-border'/>",
    "<Match><Subject>SG</Subject></Match>",
    "<Match><RelyingParty>TH</RelyingParty></Match>",
    "<Match><Purpose>payment</Purpose></Match>",
    "<Match><ClaimClass>basic</ClaimClass></Match>",
    "<Match><Claim>given_name</Claim></Match>",
    "<Match scope='cross-border'><Subject>SG</Subject><Purpose>payment</Purpose>"
    "<Claim>given_name</Claim></Match>",
};

static const char rule_tail[] =
    "<LegalBasis instrument='test' provision='1'/><Summary>s</Summary></Rule>\n";

static void test_withhold_overrides_disclose(void **state)
{
    (void)state;

    /* The same match written twice, once to disclose and once to withhold, in both
     * orders: every request both match is withheld by the withholding rule. */
    for (size_t m = 0; m < sizeof(match_variants) / sizeof(match_variants[0]); m++) {
        for (int order = 0; order < 2; order++) {
            char rules[2048];
            const char *a = order == 0 ? "disclose" : "withhold";
            const char *b = order == 0 ? "withhold" : "disclose";
            policy_bundle *bundle;
            policy_set *set = NULL;
            policy_error err = {0};
            char *xml;

            snprintf(rules, sizeof(rules),
                     "<Rule id='r.a'>%s<Effect>%s</Effect>%s<Rule "
                     "id='r.b'>%s<Effect>%s</Effect>%s",
                     match_variants[m], a, rule_tail, match_variants[m], b, rule_tail);
            xml = make_bundle(rules);
            bundle = parse_text(xml, "withhold-test");
            assert_int_equal(policy_set_compile(&bundle, 1, &set, &err), 0);

            for (unsigned i = 0; i < 200; i++) {
                json_t *doc =
                    json_pack("{s:s, s:{s:s}, s:s, s:[s], s:s, s:s, s:{s:s}}",
                              "subject_jurisdiction", rng_below(2) ? "SG" : "TH",
                              "relying_party", "jurisdiction", rng_below(2) ? "SG" : "TH",
                              "purpose", rng_below(2) ? "payment" : "travel", "claims",
                              "given_name", "assurance", "high", "time",
                              "2026-06-01T00:00:00Z", "values", "given_name", "Mei");
                policy_decision decision;
                policy_request req;

                assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
                assert_int_equal(policy_evaluate(&req, &decision, &err), 0);
                if (decision.claims[0].rule != NULL) {
                    assert_int_equal(decision.claims[0].outcome, POLICY_WITHHELD);
                    assert_string_equal(policy_rule_id(decision.claims[0].rule),
                                        order == 0 ? "r.b" : "r.a");
                } else {
                    assert_int_equal(decision.claims[0].reason, POLICY_REASON_NO_RULE);
                }
                json_decref(doc);
            }
            policy_set_release(&set);
            policy_bundle_free(&bundle);
            free(xml);
        }
    }
}

/* A withholding rule added to Singapore's bundle, as specific as its export rule, wins
 * over every disclosing rule of the base for Singapore residents leaving Singapore. */
/* Compiles the shipped bundles with extra rules added at the end of the rules of the
 * bundle named target. */
static policy_set *set_with_rules(const char *target, const char *extra,
                                  policy_bundle *bundles[BUNDLE_COUNT])
{
    policy_set *set = NULL;
    policy_error err = {0};

    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        size_t len = 0;
        char *xml = read_bundle_text(bundle_names[i], &len);

        if (strcmp(bundle_names[i], target) == 0) {
            const char *at = strstr(xml, "  </Rules>");
            char *changed = malloc(len + strlen(extra) + 1);

            assert_non_null(at);
            assert_non_null(changed);
            sprintf(changed, "%.*s%s%s", (int)(at - xml), xml, extra, at);
            free(xml);
            xml = changed;
        }
        bundles[i] = parse_text(xml, bundle_names[i]);
        free(xml);
    }
    if (policy_set_compile(bundles, BUNDLE_COUNT, &set, &err) != 0)
        fail_msg("compile: %s", err.message);
    return set;
}

static void free_bundles(policy_bundle *bundles[BUNDLE_COUNT])
{
    for (size_t i = 0; i < BUNDLE_COUNT; i++)
        policy_bundle_free(&bundles[i]);
}

static void test_residency_withhold_overrides_base(void **state)
{
    static const char extra[] =
        "    <Rule id=\"sg.test.withhold\"><Match "
        "scope=\"cross-border\"><Subject>SG</Subject>"
        "<ClaimClass>basic</ClaimClass><ClaimClass>contact</ClaimClass>"
        "<ClaimClass>identifier</ClaimClass><ClaimClass>financial</ClaimClass>"
        "<ClaimClass>derived</ClaimClass></Match><Effect>withhold</Effect>"
        "<LegalBasis instrument=\"t\" provision=\"1\"/><Summary>s</Summary></Rule>\n";
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = set_with_rules("residency-sg", extra, bundles);
    size_t checked = 0;

    (void)state;

    for (unsigned i = 0; i < 2000; i++) {
        json_t *doc = random_request(set, i);
        policy_decision decision;
        char *text;

        json_object_set_new(doc, "subject_jurisdiction", json_string("SG"));
        if (strcmp(json_string_value(json_object_get(
                       json_object_get(doc, "relying_party"), "jurisdiction")),
                   "SG") == 0) {
            json_decref(doc);
            continue;
        }
        text = decide_to_text(set, doc, &decision);
        for (size_t c = 0; c < decision.claim_count; c++) {
            const policy_claim_decision *d = &decision.claims[c];

            if (d->reason == POLICY_REASON_UNKNOWN_CLAIM)
                continue;
            assert_int_equal(d->outcome, POLICY_WITHHELD);
            assert_int_equal(d->reason, POLICY_REASON_RULE);
            checked++;
        }
        free(text);
        json_decref(doc);
    }
    assert_true(checked > 1000);

    policy_set_release(&set);
    free_bundles(bundles);
}

static void test_more_specific_rule_wins(void **state)
{
    char *xml = make_bundle(
        "<Rule id='general'><Match/><Effect>withhold</Effect>"
        "<LegalBasis instrument='t' provision='1'/><Summary>s</Summary></Rule>"
        "<Rule id='specific'><Match><Claim>given_name</Claim></Match>"
        "<Effect>disclose</Effect><LegalBasis instrument='t' provision='2'/>"
        "<Summary>s</Summary></Rule>");
    policy_bundle *bundle = parse_text(xml, "specific-test");
    policy_set *set = NULL;
    policy_error err = {0};
    json_t *doc = json_pack(
        "{s:s, s:{s:s}, s:s, s:[s, s], s:s, s:s, s:{s:s, s:s}}", "subject_jurisdiction",
        "SG", "relying_party", "jurisdiction", "TH", "purpose", "payment", "claims",
        "given_name", "national_id", "assurance", "low", "time", "2026-06-01T00:00:00Z",
        "values", "given_name", "Mei", "national_id", "N1");
    policy_decision decision;
    policy_request req;

    (void)state;
    assert_int_equal(policy_set_compile(&bundle, 1, &set, &err), 0);
    assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
    assert_int_equal(policy_evaluate(&req, &decision, &err), 0);
    assert_int_equal(decision.claims[0].outcome, POLICY_DISCLOSED);
    assert_string_equal(policy_rule_id(decision.claims[0].rule), "specific");
    assert_int_equal(decision.claims[1].outcome, POLICY_WITHHELD);
    assert_string_equal(policy_rule_id(decision.claims[1].rule), "general");
    assert_int_equal(decision.overall, POLICY_PARTIAL);

    json_decref(doc);
    policy_set_release(&set);
    policy_bundle_free(&bundle);
    free(xml);
}

/* ---- Rejections with their line
 * --------------------------------------------------------------- */

typedef struct malformed_case {
    const char *name;
    const char *rules; /* placed inside Rules */
    policy_error_code code;
    int line; /* 0: any line */
} malformed_case;

static void test_malformed_bundles_rejected(void **state)
{
    /* bundle_head ends on line 6, so the first rule starts on line 7. */
    static const malformed_case cases[] = {
        {"unknown effect",
         "<Rule id='x'>\n<Match/>\n<Effect>publish</Effect>\n"
         "<Summary>s</Summary></Rule>",
         POLICY_E_SCHEMA, 9},
        {"unknown element",
         "<Rule id='x'>\n<Match/>\n<Effect>disclose</Effect>\n<Colour/>\n"
         "<Summary>s</Summary></Rule>",
         POLICY_E_SCHEMA, 10},
        {"rule id with capitals",
         "\n<Rule id='Bad Id'><Match/><Effect>disclose</Effect>"
         "<Summary>s</Summary></Rule>",
         POLICY_E_SCHEMA, 8},
        {"lower-case country",
         "<Rule id='x'><Match>\n<Subject>sg</Subject></Match>"
         "<Effect>disclose</Effect><Summary>s</Summary></Rule>",
         POLICY_E_SCHEMA, 8},
        {"retention out of range",
         "<Rule id='x'><Match/><Effect>disclose</Effect>\n"
         "<Conditions><MaxRetentionDays>99999</MaxRetentionDays></Conditions>"
         "<Summary>s</Summary></Rule>",
         POLICY_E_SCHEMA, 8},
        {"missing summary", "<Rule id='x'><Match/>\n<Effect>disclose</Effect></Rule>",
         POLICY_E_SCHEMA, 7},
        {"claim and class together",
         "<Rule id='x'><Match><Claim>given_name</Claim>\n"
         "<ClaimClass>basic</ClaimClass></Match><Effect>disclose</Effect><Summary>s</"
         "Summary>"
         "</Rule>",
         POLICY_E_SCHEMA, 8},
        {"not well-formed", "<Rule id='x'>\n<Match>\n</Rule>", POLICY_E_MALFORMED, 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = make_bundle(cases[i].rules);
        policy_bundle *bundle = NULL;
        policy_error err = {0};

        assert_int_equal(policy_bundle_parse(xml, strlen(xml), "bad.xml", &bundle, &err),
                         -1);
        assert_null(bundle);
        if (err.code != cases[i].code ||
            (cases[i].line != 0 && err.line != cases[i].line))
            fail_msg("%s: got %s at line %d (%s), expected %s at line %d", cases[i].name,
                     policy_error_name(err.code), err.line, err.message,
                     policy_error_name(cases[i].code), cases[i].line);
        free(xml);
    }
}

/* Returns text with the first occurrence of from replaced by to; the caller frees it. */
static char *replaced(const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    size_t len = strlen(text) - strlen(from) + strlen(to) + 1;
    char *out;

    assert_non_null(at);
    out = malloc(len);
    assert_non_null(out);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

#define VALID_RULE                                                                       \
    "<Rule id='x'><Match/><Effect>disclose</Effect><Summary>s</Summary></Rule>"

/* A version above 2^63 - 1 is rejected with its line, instead of being clamped to
 * 2^63 - 1, where it would collide with a bundle of that version. */
static void test_version_out_of_range_rejected(void **state)
{
    static const char *const versions[] = {"9223372036854775808", "99999999999999999999"};
    char *head = make_bundle(VALID_RULE);

    (void)state;
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        char attribute[64];
        char expected[160];
        char *xml;
        policy_bundle *bundle = NULL;
        policy_error err = {0};

        snprintf(attribute, sizeof(attribute), "version='%s'", versions[i]);
        xml = replaced(head, "version='1'", attribute);
        assert_int_equal(policy_bundle_parse(xml, strlen(xml), "big.xml", &bundle, &err),
                         -1);
        assert_null(bundle);
        assert_string_equal(policy_error_name(err.code), "schema_invalid");
        assert_int_equal(err.line, 1);
        snprintf(expected, sizeof(expected),
                 "line 1: version \"%s\" is not a decimal integer from 1 to "
                 "9223372036854775807 (2^63 - 1)",
                 versions[i]);
        assert_non_null(strstr(err.message, expected));
        free(xml);
    }
    free(head);
}

/* The largest version, 2^63 - 1, loads as itself. */
static void test_version_maximum_loads(void **state)
{
    char *head = make_bundle(VALID_RULE);
    char *xml = replaced(head, "version='1'", "version='9223372036854775807'");
    policy_bundle *bundle = NULL;
    policy_error err = {0};

    (void)state;
    if (policy_bundle_parse(xml, strlen(xml), "max.xml", &bundle, &err) != 0)
        fail_msg("%s", err.message);
    assert_true(policy_bundle_version(bundle) == INT64_MAX);
    policy_bundle_free(&bundle);
    free(xml);

    /* The schema's integer types allow white space on either side of the digits. */
    xml = replaced(head, "version='1'", "version=' 7 '");
    if (policy_bundle_parse(xml, strlen(xml), "spaced.xml", &bundle, &err) != 0)
        fail_msg("%s", err.message);
    assert_int_equal(policy_bundle_version(bundle), 7);
    policy_bundle_free(&bundle);
    free(xml);
    free(head);
}

/* Returns a residency bundle of t-base for jurisdiction code, with one rule whose
 * Subject is code too; the caller frees it. */
static char *make_residency(const char *code)
{
    static const char format[] =
        "<PolicyBundle xmlns='urn:idsvc:policy:1' ID='t-res' version='1'"
        " kind='residency' jurisdiction='%s' base='t-base' regulator='test'"
        " effectiveFrom='2026-01-01T00:00:00Z'>\n<Title>test</Title>\n<Rules>\n"
        "<Rule id='r'><Match><Subject>%s</Subject></Match><Effect>withhold</Effect>"
        "<LegalBasis instrument='test' provision='1'/><Summary>s</Summary></Rule>\n"
        "</Rules></PolicyBundle>\n";
    size_t len = sizeof(format) + 8;
    char *xml = malloc(len);

    assert_non_null(xml);
    snprintf(xml, len, format, code, code);
    return xml;
}

/* Jurisdiction codes must be officially assigned ISO 3166-1 alpha-2 codes: XX is
 * user-assigned and UK exceptionally reserved, so both are schema_invalid wherever a
 * bundle names a jurisdiction, and GB loads. */
static void test_unassigned_country_rejected(void **state)
{
    static const char subject_xx[] =
        "<Rule id='x'><Match>\n<Subject>XX</Subject></Match>"
        "<Effect>disclose</Effect><Summary>s</Summary></Rule>";
    static const char relying_party_uk[] =
        "<Rule id='x'><Match>\n<RelyingParty>UK</RelyingParty></Match>"
        "<Effect>disclose</Effect><Summary>s</Summary></Rule>";
    char *base = make_bundle("<Rule id='ok'><Match><Subject>SG</Subject></Match>"
                             "<Effect>withhold</Effect><Summary>s</Summary></Rule>");
    struct {
        const char *name;
        char *xml;
        const char *code;
        int line;
    } cases[] = {
        {"declared jurisdiction UK", replaced(base, "code='TH'", "code='UK'"), "UK", 4},
        {"rule subject XX", make_bundle(subject_xx), "XX", 8},
        {"rule relying party UK", make_bundle(relying_party_uk), "UK", 8},
        {"residency jurisdiction XX", make_residency("XX"), "XX", 1},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        policy_bundle *bundle = NULL;
        policy_error err = {0};
        char expected[96];

        snprintf(expected, sizeof(expected),
                 "%s is not an officially assigned ISO 3166-1 alpha-2 code",
                 cases[i].code);
        assert_int_equal(policy_bundle_parse(cases[i].xml, strlen(cases[i].xml),
                                             "bad.xml", &bundle, &err),
                         -1);
        assert_null(bundle);
        if (err.code != POLICY_E_SCHEMA || err.line != cases[i].line ||
            strstr(err.message, expected) == NULL)
            fail_msg("%s: got %s at line %d (%s)", cases[i].name,
                     policy_error_name(err.code), err.line, err.message);
        assert_string_equal(policy_error_name(err.code), "schema_invalid");
        free(cases[i].xml);
    }

    /* GB, the United Kingdom's assigned code, is accepted in the same places. */
    {
        char *gb_base = replaced(base, "code='TH'", "code='GB'");
        char *gb_residency = make_residency("GB");
        const char *valid[] = {gb_base, gb_residency};

        for (size_t i = 0; i < 2; i++) {
            policy_bundle *bundle = NULL;
            policy_error err = {0};

            if (policy_bundle_parse(valid[i], strlen(valid[i]), "gb.xml", &bundle,
                                    &err) != 0)
                fail_msg("GB case %zu: %s: %s", i, policy_error_name(err.code),
                         err.message);
            policy_bundle_free(&bundle);
        }
        free(gb_base);
        free(gb_residency);
    }
    free(base);
}

static void test_doctype_rejected(void **state)
{
    const char *xml = "<?xml version='1.0'?>\n<!DOCTYPE x [<!ENTITY e 'boom'>]>\n"
                      "<PolicyBundle xmlns='urn:idsvc:policy:1'/>";
    policy_bundle *bundle = NULL;
    policy_error err = {0};

    (void)state;
    assert_int_equal(policy_bundle_parse(xml, strlen(xml), "doctype.xml", &bundle, &err),
                     -1);
    assert_int_equal(err.code, POLICY_E_MALFORMED);
    assert_non_null(strstr(err.message, "DOCTYPE"));
}

/* A disclose-derived rule that applies neither to a derived claim nor to its source can
 * never release it, and the check reports derive_unreachable. */
static void test_derive_unreachable_found(void **state)
{
    char *xml = make_bundle(
        "<Rule id='wrong-source'><Match><ClaimClass>identifier</ClaimClass></Match>\n"
        "<Effect derive='age_over_18'>disclose-derived</Effect><LegalBasis instrument='t' "
        "provision='1'/><Summary>s</Summary></Rule>\n"
        "<Rule id='right-source'><Match><Claim>date_of_birth</Claim></Match>\n"
        "<Effect derive='age_over_18'>disclose-derived</Effect><LegalBasis instrument='t' "
        "provision='1'/><Summary>s</Summary></Rule>\n");
    policy_bundle *bundle = parse_text(xml, "derive.xml");
    policy_findings findings = {0};
    int unreachable = 0;

    (void)state;
    assert_int_equal(policy_check_bundles(&bundle, 1, &findings), -1);
    for (size_t i = 0; i < findings.count; i++) {
        const policy_finding *f = &findings.items[i];

        if (strcmp(f->code, "derive_unreachable") != 0)
            continue;
        unreachable++;
        assert_true(f->error);
        assert_non_null(strstr(f->message, "rule wrong-source derives age_over_18"));
        assert_non_null(strstr(f->message, "date_of_birth"));
    }
    assert_int_equal(unreachable, 1);
    policy_findings_clear(&findings);
    policy_bundle_free(&bundle);
    free(xml);
}

/* A name that the base declares twice is an error finding with its code, file and
 * line, as validate prints it, not only a compile failure without a file. */
static void test_duplicate_declarations_found(void **state)
{
    static const struct {
        const char *from, *to, *code;
        int line;
    } cases[] = {
        {"<Claim name='given_name' class='basic'/>",
         "<Claim name='given_name' class='basic'/>\n<Claim name='given_name' class='contact'/>",
         "duplicate_claim", 4},
        {"<Jurisdiction code='TH'", "<Jurisdiction code='SG'", "duplicate_jurisdiction", 4},
        {"<Purpose id='travel'", "<Purpose id='payment'", "duplicate_purpose", 5},
    };
    char *head = make_bundle("<Rule id='x'><Match/><Effect>disclose</Effect>"
                             "<LegalBasis instrument='t' provision='1'/>"
                             "<Summary>s</Summary></Rule>");

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = replaced(head, cases[i].from, cases[i].to);
        policy_bundle *bundle = parse_text(xml, "twice.xml");
        policy_findings findings = {0};

        assert_int_equal(policy_check_bundles(&bundle, 1, &findings), -1);
        assert_int_equal(findings.count, 1);
        assert_string_equal(findings.items[0].code, cases[i].code);
        assert_string_equal(findings.items[0].path, "twice.xml");
        assert_int_equal(findings.items[0].line, cases[i].line);
        assert_non_null(strstr(findings.items[0].message, "is declared twice"));
        policy_findings_clear(&findings);
        policy_bundle_free(&bundle);
        free(xml);
    }
    free(head);
}

/* A claim with more derived claims than a decision carries for it is an error: a
 * disclose-derived rule that releases all of them would always fail. */
static void test_too_many_derived_claims_found(void **state)
{
    char *head = make_bundle(
        "<Rule id='ages'><Match><Claim>date_of_birth</Claim></Match>\n"
        "<Effect>disclose-derived</Effect><LegalBasis instrument='t' "
        "provision='1'/><Summary>s</Summary></Rule>\n");
    char claims[2048] = "";
    char *xml;
    policy_bundle *bundle;
    policy_findings findings = {0};

    (void)state;
    for (int years = 10; years < 10 + POLICY_MAX_DERIVED; years++) {
        char claim[160];

        snprintf(claim, sizeof(claim),
                 "<Claim name='age_over_%d' class='derived' derivedFrom='date_of_birth' "
                 "derivation='age-over' years='%d'/>",
                 years, years);
        strcat(claims, claim);
    }
    strcat(claims, "</Claims>");
    xml = replaced(head, "</Claims>", claims);
    bundle = parse_text(xml, "ages.xml");
    assert_int_equal(policy_check_bundles(&bundle, 1, &findings), -1);
    assert_int_equal(findings.count, 1);
    assert_string_equal(findings.items[0].code, "too_many_derived_claims");
    assert_true(findings.items[0].error);
    assert_int_equal(findings.items[0].line, 3);
    assert_non_null(strstr(findings.items[0].message, "claim date_of_birth has 9 derived"));
    policy_findings_clear(&findings);
    policy_bundle_free(&bundle);
    free(xml);
    free(head);
}

static void test_meaning_findings_have_lines(void **state)
{
    char *xml = make_bundle(
        "<Rule id='unknown-claim'><Match>\n<Claim>shoe_size</Claim></Match>"
        "<Effect>disclose</Effect><LegalBasis instrument='t' "
        "provision='1'/><Summary>s</Summary>"
        "</Rule>\n"
        "<Rule "
        "id='no-basis'><Match><Claim>given_name</Claim></Match><Effect>disclose</Effect>"
        "<Summary>s</Summary></Rule>\n"
        "<Rule "
        "id='unknown-country'><Match>\n<Subject>US</Subject></Match><Effect>disclose"
        "</Effect><LegalBasis instrument='t' "
        "provision='1'/><Summary>s</Summary></Rule>\n");
    char *clean = make_bundle(
        "<Rule id='never'><Match scope='domestic'><Subject>SG</Subject><RelyingParty>TH"
        "</RelyingParty></Match><Effect>disclose</Effect><LegalBasis instrument='t'"
        " provision='1'/><Summary>s</Summary></Rule>\n"
        "<Rule "
        "id='broad'><Match><ClaimClass>basic</ClaimClass></Match><Effect>withhold</"
        "Effect>"
        "<LegalBasis instrument='t' provision='1'/><Summary>s</Summary></Rule>\n"
        "<Rule id='hidden'><Match><ClaimClass>basic</ClaimClass></Match><Effect>disclose"
        "</Effect><LegalBasis instrument='t' "
        "provision='1'/><Summary>s</Summary></Rule>\n");
    policy_bundle *bundle = parse_text(xml, "meaning.xml");
    policy_bundle *bundle2 = parse_text(clean, "reach.xml");
    policy_findings findings = {0};
    int found = 0;

    (void)state;
    assert_int_equal(policy_check_bundles(&bundle, 1, &findings), -1);
    for (size_t i = 0; i < findings.count; i++) {
        const policy_finding *f = &findings.items[i];

        if (strcmp(f->code, "unknown_claim") == 0 && f->line == 8)
            found |= 1;
        if (strcmp(f->code, "missing_legal_basis") == 0 && f->line == 9)
            found |= 2;
        if (strcmp(f->code, "unknown_jurisdiction") == 0 && f->line == 11)
            found |= 4;
        assert_true(f->error);
    }
    assert_int_equal(found, 7);
    policy_findings_clear(&findings);

    found = 0;
    assert_int_equal(policy_check_bundles(&bundle2, 1, &findings), 0);
    for (size_t i = 0; i < findings.count; i++) {
        const policy_finding *f = &findings.items[i];

        if (strcmp(f->code, "never_matches") == 0 && f->line == 7)
            found |= 1;
        if (strcmp(f->code, "shadowed") == 0 && f->line == 9 &&
            strstr(f->message, "broad"))
            found |= 2;
        assert_false(f->error);
    }
    assert_int_equal(found, 3);

    policy_findings_clear(&findings);
    policy_bundle_free(&bundle);
    policy_bundle_free(&bundle2);
    free(xml);
    free(clean);
}

static void test_rule_set_is_clean(void **state)
{
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_findings findings = {0};

    (void)state;
    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        size_t len = 0;
        char *xml = read_bundle_text(bundle_names[i], &len);

        bundles[i] = parse_text(xml, bundle_names[i]);
        free(xml);
    }
    assert_int_equal(policy_check_bundles(bundles, BUNDLE_COUNT, &findings), 0);
    for (size_t i = 0; i < findings.count; i++)
        print_message("%s:%d: %s: %s\n", findings.items[i].path, findings.items[i].line,
                      findings.items[i].code, findings.items[i].message);
    assert_int_equal(findings.count, 0);
    policy_findings_clear(&findings);
    for (size_t i = 0; i < BUNDLE_COUNT; i++)
        policy_bundle_free(&bundles[i]);
}

static void test_set_rejects_two_residency_bundles(void **state)
{
    policy_set *set = NULL;
    policy_bundle *bundles[3];
    policy_error err = {0};
    size_t len;
    char *xml;

    (void)state;
    xml = read_bundle_text("asean-cn-base", &len);
    bundles[0] = parse_text(xml, "base");
    free(xml);
    xml = read_bundle_text("residency-sg", &len);
    bundles[1] = parse_text(xml, "sg-1");
    bundles[2] = parse_text(xml, "sg-2");
    free(xml);

    assert_int_equal(policy_set_compile(bundles, 3, &set, &err), -1);
    assert_int_equal(err.code, POLICY_E_SET);
    assert_non_null(strstr(err.message, "second residency bundle for SG"));
    assert_int_equal(policy_set_compile(&bundles[1], 2, &set, &err), -1);
    assert_int_equal(err.code, POLICY_E_SET); /* no base */

    /* A residency bundle of another jurisdiction under the same ID. */
    policy_bundle_free(&bundles[2]);
    xml = read_bundle_text("residency-th", &len);
    memcpy(strstr(xml, "ID=\"residency-th\""), "ID=\"residency-sg\"", 17);
    bundles[2] = parse_text(xml, "th-as-sg");
    free(xml);
    assert_int_equal(policy_set_compile(bundles, 3, &set, &err), -1);
    assert_int_equal(err.code, POLICY_E_SET);
    assert_non_null(strstr(err.message, "bundle ID residency-sg"));

    for (size_t i = 0; i < 3; i++)
        policy_bundle_free(&bundles[i]);
}

/* Decides doc with the real rule set and returns the decision of claim. */
static const policy_claim_decision *decide_claim_in(const policy_set *set, const json_t *doc,
                                                   policy_decision *decision,
                                                   const char *claim)
{
    policy_request req;
    policy_error err = {0};

    if (policy_request_from_json(set, doc, &req, &err) != 0 ||
        policy_evaluate(&req, decision, &err) != 0)
        fail_msg("evaluation failed: %s", err.message);
    for (size_t i = 0; i < decision->claim_count; i++)
        if (strcmp(decision->claims[i].claim, claim) == 0)
            return &decision->claims[i];
    fail_msg("no decision for %s", claim);
    return NULL;
}

static void expect_reason(const policy_claim_decision *d, policy_outcome_kind outcome,
                          const char *reason)
{
    if (d->outcome != outcome || strcmp(policy_reason_name(d->reason), reason) != 0)
        fail_msg("%s: expected %s/%s, got %s/%s", d->claim, policy_outcome_name(outcome),
                 reason, policy_outcome_name(d->outcome), policy_reason_name(d->reason));
}

/*
 * Equally specific rules combine their transfer-mechanism lists, and every list counts,
 * however many rules there are: twelve rules ask for asean-mcc and the last one, which
 * sorts after them, for a security assessment that the relying party lacks. The engine
 * used to keep eight lists and drop the rest, and released the claim.
 */
static void test_every_mechanism_list_counts(void **state)
{
    char rules[8192] = "";
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = NULL;
    policy_error err = {0};
    policy_decision decision;
    const policy_claim_decision *d;
    json_t *doc;

    (void)state;
    for (int i = 1; i <= 13; i++) {
        size_t used = strlen(rules);

        snprintf(rules + used, sizeof(rules) - used,
                 "<Rule id=\"sg.many.%02d\"><Match scope=\"cross-border\"><Subject>SG</Subject>"
                 "<ClaimClass>basic</ClaimClass></Match><Effect>disclose</Effect><Conditions>"
                 "<TransferMechanisms><Mechanism>%s</Mechanism></TransferMechanisms>"
                 "</Conditions><LegalBasis instrument=\"t\" provision=\"1\"/>"
                 "<Summary>s</Summary></Rule>\n",
                 i, i == 13 ? "security-assessment" : "asean-mcc");
    }
    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        size_t len = 0;
        char *xml = read_bundle_text(bundle_names[i], &len);

        if (strcmp(bundle_names[i], "residency-sg") == 0) {
            const char *at = strstr(xml, "  </Rules>");
            char *changed = malloc(len + strlen(rules) + 1);

            assert_non_null(at);
            sprintf(changed, "%.*s%s%s", (int)(at - xml), xml, rules, at);
            free(xml);
            xml = changed;
        }
        bundles[i] = parse_text(xml, bundle_names[i]);
        free(xml);
    }
    assert_int_equal(policy_set_compile(bundles, BUNDLE_COUNT, &set, &err), 0);

    doc = json_pack("{s:s, s:{s:s, s:s, s:[s]}, s:s, s:[s], s:i, s:s, s:[s], s:{s:s}, s:s}",
                    "subject_jurisdiction", "SG", "relying_party", "id", "rp",
                    "jurisdiction", "TH", "transfer_mechanisms", "asean-mcc", "purpose",
                    "account_opening", "claims", "given_name", "retention_days", 30,
                    "assurance", "high", "consent", "explicit", "values", "given_name",
                    "Mei", "time", "2026-06-01T00:00:00Z");
    d = decide_claim_in(set, doc, &decision, "given_name");
    expect_reason(d, POLICY_WITHHELD, "transfer_mechanism_missing");
    assert_non_null(d->rule);
    assert_string_equal(d->rule->id, "sg.many.13");
    json_decref(doc);

    policy_set_release(&set);
    for (size_t i = 0; i < BUNDLE_COUNT; i++)
        policy_bundle_free(&bundles[i]);
}

/* age-over reads only real calendar dates, from year 1 as issuance and xs:date take
 * them: anything else fails the derivation, and the claim is withheld rather than
 * decided from a misread date. */
static void test_age_over_needs_calendar_date(void **state)
{
    static const char *const bad[] = {"1990-02-31", "1990-04-31", "2007-02-29", "+990-01-01",
                                      " 990-01-01", "1990-1-01",  "1990-01-011", "1990/01/01",
                                      "1990-00-10", "1990-13-01", "1990-01-00",
                                      "0000-01-01"};
    static const char *const good[] = {"2004-02-29", "1990-12-31", "2000-02-29",
                                       "0001-01-01"};
    policy_set *set = load_rule_set(false);
    policy_decision decision;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]) + sizeof(good) / sizeof(good[0]);
         i++) {
        bool is_bad = i < sizeof(bad) / sizeof(bad[0]);
        const char *date = is_bad ? bad[i] : good[i - sizeof(bad) / sizeof(bad[0])];
        json_t *doc = json_pack(
            "{s:s, s:{s:s, s:s, s:[]}, s:s, s:[s], s:i, s:s, s:[], s:{s:s}, s:s}",
            "subject_jurisdiction", "PH", "relying_party", "id", "rp", "jurisdiction", "PH",
            "transfer_mechanisms", "purpose", "age_check", "claims", "age_over_18",
            "retention_days", 30, "assurance", "high", "consent", "values",
            "date_of_birth", date, "time", "2026-06-01T00:00:00Z");
        const policy_claim_decision *d = decide_claim_in(set, doc, &decision, "age_over_18");

        if (is_bad)
            expect_reason(d, POLICY_WITHHELD, "derivation_failed");
        else
            assert_int_equal(d->outcome, POLICY_DERIVED);
        json_decref(doc);
    }
    policy_set_release(&set);
}

/* A claim whose credential value is in conflict releases nothing that reads the value,
 * whichever value comes first; derivations that read no value are unaffected. */
static void test_ambiguous_source_withheld(void **state)
{
    policy_set *set = load_rule_set(false);
    const char *const orders[][2] = {{"2015-01-01", "1990-01-01"},
                                     {"1990-01-01", "2015-01-01"}};
    policy_decision decision;

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        json_t *doc = json_pack(
            "{s:s, s:{s:s, s:s, s:[s]}, s:s, s:i, s:s, s:[s], s:[s,s,s,s,s,s], "
            "s:{s:[s,s], s:{s:[s,s]}, s:[s,s], s:s}, s:[s,s,s,s], s:s}",
            "subject_jurisdiction", "SG", "relying_party", "id", "bank", "jurisdiction",
            "SG", "transfer_mechanisms", "adequacy", "purpose", "account_opening",
            "retention_days", 30, "assurance", "substantial", "consent", "explicit",
            "claims", "date_of_birth", "age_over_18", "residency_country", "address",
            "id_verified", "given_name", "values", "date_of_birth", orders[i][0],
            orders[i][1], "address", "country", "SG", "MY", "national_id", "S1", "S2",
            "given_name", "Mei", "ambiguous", "date_of_birth", "address", "national_id",
            "not_in_catalogue", "time", "2026-06-01T00:00:00Z");

        expect_reason(decide_claim_in(set, doc, &decision, "date_of_birth"),
                      POLICY_WITHHELD, "source_ambiguous");
        expect_reason(decide_claim_in(set, doc, &decision, "age_over_18"), POLICY_WITHHELD,
                      "source_ambiguous");
        expect_reason(decide_claim_in(set, doc, &decision, "residency_country"),
                      POLICY_WITHHELD, "source_ambiguous");
        expect_reason(decide_claim_in(set, doc, &decision, "address"), POLICY_WITHHELD,
                      "source_ambiguous");
        /* present reads no value: the credential does carry national_id. */
        expect_reason(decide_claim_in(set, doc, &decision, "id_verified"), POLICY_DERIVED,
                      "rule");
        assert_string_equal(
            decide_claim_in(set, doc, &decision, "id_verified")->derived[0].value, "true");
        expect_reason(decide_claim_in(set, doc, &decision, "given_name"), POLICY_DISCLOSED,
                      "rule");

        /* An age check derives from the date of birth in place of disclosing it. */
        json_object_set_new(doc, "purpose", json_string("age_check"));
        expect_reason(decide_claim_in(set, doc, &decision, "date_of_birth"),
                      POLICY_WITHHELD, "source_ambiguous");
        expect_reason(decide_claim_in(set, doc, &decision, "age_over_18"), POLICY_WITHHELD,
                      "source_ambiguous");
        json_decref(doc);
    }
    policy_set_release(&set);
}

static void test_ambiguous_must_be_names(void **state)
{
    policy_set *set = load_rule_set(false);
    json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:[s], s:{s:s}, s:s, s:s}",
                            "subject_jurisdiction", "SG", "relying_party", "id", "bank",
                            "jurisdiction", "SG", "purpose", "age_check", "assurance",
                            "substantial", "claims", "age_over_18", "values",
                            "date_of_birth", "1990-01-01", "ambiguous", "date_of_birth",
                            "time", "2026-06-01T00:00:00Z");
    policy_request req;
    policy_error err = {0};

    (void)state;
    assert_int_equal(policy_request_from_json(set, doc, &req, &err), -1);
    assert_int_equal(err.code, POLICY_E_REQUEST);
    assert_string_equal(err.field, "ambiguous");
    json_decref(doc);
    policy_set_release(&set);
}

/* A relying party's jurisdiction must be an officially assigned ISO 3166-1 alpha-2 code
 * in capitals. UK, XX and EU have two capital letters, but ISO has not assigned them.
 * An assigned code outside the policy set, such as US, is "another jurisdiction". */
static void test_rp_jurisdiction_must_be_assigned(void **state)
{
    static const char *const rejected[] = {"UK", "XX", "EU", "AA", "gb", "Sg", "SGP", ""};
    static const char *const other[] = {"US", "GB"};
    policy_set *set = load_rule_set(false);
    json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:[s], s:s}",
                            "subject_jurisdiction", "SG", "relying_party", "id", "bank",
                            "jurisdiction", "SG", "purpose", "age_check", "assurance",
                            "substantial", "claims", "age_over_18", "time",
                            "2026-06-01T00:00:00Z");
    json_t *rp = json_object_get(doc, "relying_party");
    policy_request req;

    (void)state;
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        policy_error err = {0};
        char expected[96];

        json_object_set_new(rp, "jurisdiction", json_string(rejected[i]));
        snprintf(expected, sizeof(expected),
                 "relying_party.jurisdiction %s is not an officially assigned",
                 rejected[i]);
        assert_int_equal(policy_request_from_json(set, doc, &req, &err), -1);
        assert_string_equal(policy_error_name(err.code), "request_invalid");
        assert_string_equal(err.field, "relying_party.jurisdiction");
        if (strstr(err.message, expected) == NULL)
            fail_msg("\"%s\": expected \"%s\" in \"%s\"", rejected[i], expected,
                     err.message);
    }

    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        policy_error err = {0};

        json_object_set_new(rp, "jurisdiction", json_string(other[i]));
        assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
        assert_int_equal(req.relying_party, POLICY_OTHER_JURISDICTION);
        assert_string_equal(req.rp_country, other[i]);
    }
    json_decref(doc);
    policy_set_release(&set);
}

/* country-of derives a residency country only from an officially assigned code in
 * capitals. Any other country in the credential fails the derivation, so the claim is
 * withheld and no code that ISO has not assigned is released as a country. */
static void test_country_of_needs_assigned_code(void **state)
{
    static const char *const bad[] = {"UK", "XX", "EU", "AA", "sg", "Sg", "SGP", "S", ""};
    static const char *const good[] = {"SG", "GB", "US"};
    size_t bad_count = sizeof(bad) / sizeof(bad[0]);
    policy_set *set = load_rule_set(false);
    policy_decision decision;

    (void)state;
    for (size_t i = 0; i < bad_count + sizeof(good) / sizeof(good[0]); i++) {
        bool is_bad = i < bad_count;
        const char *country = is_bad ? bad[i] : good[i - bad_count];
        json_t *doc = json_pack(
            "{s:s, s:{s:s, s:s}, s:s, s:s, s:[s], s:[s], s:{s:{s:s, s:s}}, s:s}",
            "subject_jurisdiction", "SG", "relying_party", "id", "bank", "jurisdiction",
            "SG", "purpose", "account_opening", "assurance", "substantial", "consent",
            "explicit", "claims", "residency_country", "values", "address", "text",
            "1 Example Road", "country", country, "time", "2026-06-01T00:00:00Z");
        const policy_claim_decision *d =
            decide_claim_in(set, doc, &decision, "residency_country");

        print_message("    country \"%s\" -> %s/%s\n", country,
                      policy_outcome_name(d->outcome), policy_reason_name(d->reason));
        if (is_bad) {
            expect_reason(d, POLICY_WITHHELD, "derivation_failed");
            assert_int_equal(d->derived_count, 0);
        } else {
            expect_reason(d, POLICY_DERIVED, "rule");
            assert_int_equal(d->derived_count, 1);
            assert_string_equal(d->derived[0].value, country);
        }
        json_decref(doc);
    }
    policy_set_release(&set);
}

/* Decides claim alone with the rest of doc unchanged. The decision's claim name points
 * into a freed copy of doc, so callers read only its other members. */
static const policy_claim_decision *decide_alone(const policy_set *set, const json_t *doc,
                                                 policy_decision *decision,
                                                 const char *claim)
{
    json_t *alone = json_deep_copy(doc);
    const policy_claim_decision *d;

    json_object_set_new(alone, "claims", json_pack("[s]", claim));
    d = decide_claim_in(set, alone, decision, claim);
    json_decref(alone);
    return d;
}

/*
 * A derived claim is a stand-in for its source, so wherever a rule withholds the source,
 * the derived claim requested by its own name is withheld under that same rule, in every
 * bundle and for every pair of the catalogue. Elsewhere the derived claim keeps the
 * decision of its own rules.
 */
static void test_derived_follows_source_withhold(void **state)
{
    policy_set *set = load_rule_set(false);
    size_t covered = 0, released = 0;

    (void)state;
    for (unsigned i = 0; i < 3000; i++) {
        json_t *doc = random_request(set, i);
        policy_decision decision, alone;
        policy_request req;
        policy_error err = {0};

        free(decide_to_text(set, doc, &decision));
        assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
        for (size_t c = 0; c < decision.claim_count; c++) {
            const policy_claim_decision *d = &decision.claims[c];
            int index = policy_set_find_claim(set, d->claim);
            const policy_claim_decision *source;
            const char *source_name;
            char sentence[1024];

            if (set->claims[index].source < 0)
                continue;
            source_name = set->claims[set->claims[index].source].name;
            source = decide_alone(set, doc, &alone, source_name);
            policy_claim_sentence(d, &req, sentence, sizeof(sentence));
            if (source->outcome != POLICY_WITHHELD ||
                source->reason != POLICY_REASON_RULE) {
                assert_null(strstr(sentence, "the claim that"));
                released += d->outcome != POLICY_WITHHELD;
                continue;
            }
            if (d->outcome != POLICY_WITHHELD || d->reason != POLICY_REASON_RULE ||
                d->rule != source->rule)
                fail_msg("request %u: %s is %s/%s under %s, but rule %s withholds its "
                         "source %s",
                         i, d->claim, policy_outcome_name(d->outcome),
                         policy_reason_name(d->reason),
                         d->rule != NULL ? d->rule->id : "no rule", source->rule->id,
                         source_name);
            assert_int_equal(d->derived_count, 0);
            assert_non_null(strstr(sentence, source->rule->id));
            assert_non_null(strstr(sentence, source_name));
            covered++;
        }
        json_decref(doc);
    }
    /* The generator reaches both branches often. */
    assert_true(covered > 300);
    assert_true(released > 100);
    policy_set_release(&set);
}

/* Decides one claim of the real rule set for a request from subject to relying party
 * rp, which has the one transfer mechanism given, and checks its decision and rule. */
static void expect_stand_in(const policy_set *set, const char *subject, const char *rp,
                            const char *mechanism, const char *purpose, const char *claim,
                            policy_outcome_kind outcome, const char *rule)
{
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:[s]}, s:s, s:i, s:s, s:[s], s:[s], s:{s:s}, s:s}",
        "subject_jurisdiction", subject, "relying_party", "id", "rp", "jurisdiction", rp,
        "transfer_mechanisms", mechanism, "purpose", purpose, "retention_days", 30,
        "assurance", "high", "consent",
        strcmp(subject, "CN") == 0 ? "separate-cross-border" : "explicit", "claims",
        claim, "values", "national_id", "S1234567A", "time", "2026-06-01T00:00:00Z");
    policy_decision decision;
    policy_request req;
    policy_error err = {0};
    const policy_claim_decision *d = decide_claim_in(set, doc, &decision, claim);
    char sentence[1024];

    print_message("    %s -> %s %s %s: %s/%s %s\n", subject, rp, purpose, claim,
                  policy_outcome_name(d->outcome), policy_reason_name(d->reason),
                  d->rule != NULL ? d->rule->id : "-");
    expect_reason(d, outcome, "rule");
    assert_non_null(d->rule);
    assert_string_equal(d->rule->id, rule);
    assert_string_equal(d->rule->bundle_id, "asean-cn-base");
    if (outcome == POLICY_WITHHELD) {
        char expected[320];

        assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
        policy_claim_sentence(d, &req, sentence, sizeof(sentence));
        snprintf(expected, sizeof(expected),
                 "rule %s (ASEAN Framework on Personal Data Protection (2016), principle "
                 "of consent, notification and purpose) withholds national_id, the claim "
                 "that %s is derived from",
                 rule, claim);
        if (strstr(sentence, expected) == NULL)
            fail_msg("expected \"%s\" in \"%s\"", expected, sentence);
    }
    json_decref(doc);
}

/* The identity number's stand-ins follow the identity number: withheld with it for the
 * purposes that do not need it, at home and across a border, and released as before
 * where it may go. */
static void test_identifier_stand_ins_withheld(void **state)
{
    static const char *const stand_ins[] = {"id_verified", "kyc_level"};
    static const char *const domestic_only[] = {"payment",
                                                "credit_assessment",
                                                "insurance",
                                                "employment_screening",
                                                "telecom_registration",
                                                "government_service"};
    static const char withheld[] = "base.identifier.other-purposes";
    policy_set *set = load_rule_set(false);

    (void)state;
    for (size_t i = 0; i < 2; i++) {
        const char *claim = stand_ins[i];

        expect_stand_in(set, "SG", "SG", "asean-mcc", "age_check", claim, POLICY_WITHHELD,
                        withheld);
        expect_stand_in(set, "SG", "MY", "asean-mcc", "age_check", claim, POLICY_WITHHELD,
                        withheld);
        expect_stand_in(set, "CN", "TH", "security-assessment", "age_check", claim,
                        POLICY_WITHHELD, withheld);
        for (size_t p = 0; p < sizeof(domestic_only) / sizeof(domestic_only[0]); p++) {
            expect_stand_in(set, "SG", "MY", "asean-mcc", domestic_only[p], claim,
                            POLICY_WITHHELD, withheld);
            expect_stand_in(set, "SG", "SG", "asean-mcc", domestic_only[p], claim,
                            POLICY_DERIVED, "base.derived.domestic");
        }
        expect_stand_in(set, "SG", "MY", "asean-mcc", "account_opening", claim,
                        POLICY_DERIVED, "base.derived.cross-border");
    }
    policy_set_release(&set);
}

/* A residency bundle for t-base that withholds dates of birth of residents of SG from
 * relying parties abroad. */
static const char source_residency[] =
    "<PolicyBundle xmlns='urn:idsvc:policy:1' ID='t-res-sg' version='1'"
    " kind='residency' jurisdiction='SG' base='t-base' regulator='test'"
    " effectiveFrom='2026-01-01T00:00:00Z'>\n<Title>test</Title>\n<Rules>\n"
    "<Rule id='sg.birth.export'><Match scope='cross-border'><Subject>SG</Subject>"
    "<Claim>date_of_birth</Claim></Match><Effect>withhold</Effect>"
    "<LegalBasis instrument='test' provision='2'/><Summary>s</Summary></Rule>\n"
    "</Rules></PolicyBundle>\n";

typedef struct stand_in_case {
    const char *subject;
    const char *relying_party;
    const char *purpose;
    policy_outcome_kind outcome;
    const char *rule;
    const char *bundle;
} stand_in_case;

/*
 * The source's withhold verdict covers age_over_18 whichever bundle gives it: the base
 * withholds dates of birth for travel, and the residency bundle of SG withholds them
 * abroad. Where the source's verdict is to derive (domestic payment) or no rule matches
 * it (payment from TH), age_over_18 keeps the decision of its own rule.
 */
static void test_source_withhold_in_any_bundle(void **state)
{
    static const stand_in_case cases[] = {
        {"SG", "SG", "travel", POLICY_WITHHELD, "base.birth.travel", "t-base"},
        {"TH", "SG", "travel", POLICY_WITHHELD, "base.birth.travel", "t-base"},
        {"SG", "TH", "payment", POLICY_WITHHELD, "sg.birth.export", "t-res-sg"},
        {"SG", "SG", "payment", POLICY_DERIVED, "base.derived", "t-base"},
        {"TH", "SG", "payment", POLICY_DERIVED, "base.derived", "t-base"},
        {"TH", "TH", "payment", POLICY_DERIVED, "base.derived", "t-base"},
    };
    char *base = make_bundle(
        "<Rule id='base.birth.travel'><Match><Purpose>travel</Purpose>"
        "<Claim>date_of_birth</Claim></Match><Effect>withhold</Effect>"
        "<LegalBasis instrument='t' provision='1'/><Summary>s</Summary></Rule>\n"
        "<Rule id='base.birth.payment'><Match scope='domestic'><Purpose>payment</Purpose>"
        "<Claim>date_of_birth</Claim></Match>"
        "<Effect derive='age_over_18'>disclose-derived</Effect>"
        "<LegalBasis instrument='t' provision='1'/><Summary>s</Summary></Rule>\n"
        "<Rule id='base.derived'><Match><ClaimClass>derived</ClaimClass></Match>"
        "<Effect>disclose</Effect><LegalBasis instrument='t' provision='1'/>"
        "<Summary>s</Summary></Rule>\n");
    policy_bundle *bundles[2] = {parse_text(base, "base.xml"),
                                 parse_text(source_residency, "residency.xml")};
    policy_set *set = NULL;
    policy_error err = {0};

    (void)state;
    assert_int_equal(policy_set_compile(bundles, 2, &set, &err), 0);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const stand_in_case *c = &cases[i];
        json_t *doc = json_pack(
            "{s:s, s:{s:s}, s:s, s:[s], s:s, s:{s:s}, s:s}", "subject_jurisdiction",
            c->subject, "relying_party", "jurisdiction", c->relying_party, "purpose",
            c->purpose, "claims", "age_over_18", "assurance", "high", "values",
            "date_of_birth", "1990-04-01", "time", "2026-06-01T00:00:00Z");
        policy_decision decision;
        const policy_claim_decision *d =
            decide_claim_in(set, doc, &decision, "age_over_18");

        print_message("    %s -> %s %s: %s/%s %s\n", c->subject, c->relying_party,
                      c->purpose, policy_outcome_name(d->outcome),
                      policy_reason_name(d->reason), d->rule != NULL ? d->rule->id : "-");
        expect_reason(d, c->outcome, "rule");
        assert_non_null(d->rule);
        assert_string_equal(d->rule->id, c->rule);
        assert_string_equal(d->rule->bundle_id, c->bundle);
        if (c->outcome == POLICY_DERIVED)
            assert_string_equal(d->derived[0].value, "true");
        json_decref(doc);
    }
    policy_set_release(&set);
    policy_bundle_free(&bundles[0]);
    policy_bundle_free(&bundles[1]);
    free(base);
}

/* A stand-in that a rule of its own withholds does not leave through its source: the
 * date of birth of an MY subject is released as age_over_18 only, when a residency rule
 * keeps age_over_21 in MY. */
static void test_standin_withheld_by_own_rule(void **state)
{
    static const char extra[] =
        "    <Rule id=\"my.test.age-21\"><Match scope=\"cross-border\">"
        "<Subject>MY</Subject><Claim>age_over_21</Claim></Match>"
        "<Effect>withhold</Effect>"
        "<LegalBasis instrument=\"t\" provision=\"1\"/><Summary>s</Summary></Rule>\n";
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = set_with_rules("residency-my", extra, bundles);
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:[s]}, s:s, s:i, s:s, s:[s], s:[s, s], s:{s:s}, s:s}",
        "subject_jurisdiction", "MY", "relying_party", "id", "rp", "jurisdiction", "SG",
        "transfer_mechanisms", "adequacy", "purpose", "age_check", "retention_days", 30,
        "assurance", "substantial", "consent", "explicit", "claims", "age_over_21",
        "date_of_birth", "values", "date_of_birth", "2000-04-01", "time",
        "2026-06-01T00:00:00Z");
    policy_decision decision;
    const policy_claim_decision *d;

    (void)state;
    d = decide_claim_in(set, doc, &decision, "age_over_21");
    expect_reason(d, POLICY_WITHHELD, "rule");
    d = decide_claim_in(set, doc, &decision, "date_of_birth");
    expect_reason(d, POLICY_DERIVED, "rule");
    assert_int_equal(d->derived_count, 1);
    assert_string_equal(d->derived[0].name, "age_over_18");
    json_decref(doc);
    policy_set_release(&set);
    free_bundles(bundles);
}

/* A stand-in released through its source meets the conditions of its own rules too.
 * An import rule requires high assurance and separate consent before age_over_21
 * reaches Thailand. It also holds when the relying party requests date_of_birth, whose
 * age check rule has no condition. */
static void test_standin_meets_own_conditions(void **state)
{
    static const char extra[] =
        "    <Rule id=\"th.test.import-age-21\"><Match><RelyingParty>TH</RelyingParty>"
        "<Claim>age_over_21</Claim></Match><Effect>disclose</Effect>"
        "<Conditions><Consent>separate-cross-border</Consent>"
        "<MinAssurance>high</MinAssurance></Conditions>"
        "<LegalBasis instrument=\"t\" provision=\"1\"/><Summary>s</Summary></Rule>\n";
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = set_with_rules("residency-th", extra, bundles);
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:[s]}, s:s, s:i, s:s, s:[s], s:[s], s:{s:s}, s:s}",
        "subject_jurisdiction", "SG", "relying_party", "id", "rp", "jurisdiction", "TH",
        "transfer_mechanisms", "standard-contract", "purpose", "age_check",
        "retention_days", 30, "assurance", "substantial", "consent", "explicit", "claims",
        "date_of_birth", "values", "date_of_birth", "1990-01-01", "time",
        "2026-06-01T00:00:00Z");
    policy_decision decision;
    const policy_claim_decision *d;

    (void)state;
    d = decide_claim_in(set, doc, &decision, "date_of_birth");
    expect_reason(d, POLICY_WITHHELD, "assurance_too_low");
    assert_string_equal(d->rule->id, "th.test.import-age-21");
    assert_int_equal(d->derived_count, 0);

    json_object_set_new(doc, "assurance", json_string("high"));
    d = decide_claim_in(set, doc, &decision, "date_of_birth");
    expect_reason(d, POLICY_WITHHELD, "consent_required");
    assert_int_equal(d->consent_needed, POLICY_CONSENT_SEPARATE_CROSS_BORDER);
    assert_string_equal(d->rule->id, "th.test.import-age-21");

    json_object_set_new(doc, "consent", json_pack("[s]", "separate-cross-border"));
    d = decide_claim_in(set, doc, &decision, "date_of_birth");
    expect_reason(d, POLICY_DERIVED, "rule");
    assert_int_equal(d->derived_count, 2);
    json_decref(doc);
    policy_set_release(&set);
    free_bundles(bundles);
}

/* A disclose-derived rule's derive list limits the derived claims requested by name,
 * not only those released through their source. */
static void test_derive_list_limits_named_claims(void **state)
{
    static const char extra[] =
        "    <Rule id=\"ph.test.derived-only-18\"><Match scope=\"cross-border\">"
        "<Subject>PH</Subject><ClaimClass>derived</ClaimClass></Match>"
        "<Effect derive=\"age_over_18\">disclose-derived</Effect>"
        "<LegalBasis instrument=\"t\" provision=\"1\"/><Summary>s</Summary></Rule>\n";
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = set_with_rules("residency-ph", extra, bundles);
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:[s]}, s:s, s:i, s:s, s:[s], s:[s, s, s], s:{s:s}, s:s}",
        "subject_jurisdiction", "PH", "relying_party", "id", "rp", "jurisdiction", "SG",
        "transfer_mechanisms", "asean-mcc", "purpose", "travel", "retention_days", 30,
        "assurance", "substantial", "consent", "explicit", "claims", "age_over_18",
        "age_over_21", "kyc_level", "values", "date_of_birth", "2000-04-01", "time",
        "2026-06-01T00:00:00Z");
    policy_decision decision;
    const policy_claim_decision *d;

    (void)state;
    expect_reason(decide_claim_in(set, doc, &decision, "age_over_18"), POLICY_DERIVED,
                  "rule");
    expect_reason(decide_claim_in(set, doc, &decision, "age_over_21"), POLICY_WITHHELD,
                  "rule");
    expect_reason(decide_claim_in(set, doc, &decision, "kyc_level"), POLICY_WITHHELD,
                  "rule");

    /* Released through date_of_birth, age_over_21 is still kept by that list. */
    json_object_set_new(doc, "claims", json_pack("[s]", "date_of_birth"));
    d = decide_claim_in(set, doc, &decision, "date_of_birth");
    expect_reason(d, POLICY_DERIVED, "rule");
    assert_int_equal(d->derived_count, 1);
    assert_string_equal(d->derived[0].name, "age_over_18");
    json_decref(doc);
    policy_set_release(&set);
    free_bundles(bundles);
}

/* A decision time that the calendar lacks is rejected, not moved to another day, and
 * so is one with a sign or a space in place of a digit, which sscanf would read. */
static void test_decision_time_must_exist(void **state)
{
    static const char *const rejected[] = {
        "2026-02-30T12:00:00Z", "2026-04-31T00:00:00Z", "2026-06-01T12:00:60Z",
        "2025-02-29T00:00:00Z", "+026-06-01T00:00:00Z", "2026- 6-01T00:00:00Z",
        "2026-06-01T00:00:+1Z", "-026-06-01T00:00:00Z", "2026-06-01t00:00:00Z",
        "2026-06-01T00:00:00z"};
    policy_set *set = load_rule_set(false);
    json_t *doc = json_pack("{s:s, s:{s:s, s:s}, s:s, s:s, s:[s]}", "subject_jurisdiction",
                            "SG", "relying_party", "id", "bank", "jurisdiction", "SG",
                            "purpose", "age_check", "assurance", "substantial", "claims",
                            "age_over_18");
    policy_request req;
    policy_error err = {0};

    (void)state;
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        json_object_set_new(doc, "time", json_string(rejected[i]));
        assert_int_equal(policy_request_from_json(set, doc, &req, &err), -1);
        assert_string_equal(policy_error_name(err.code), "request_invalid");
        assert_string_equal(err.field, "time");
    }
    json_object_set_new(doc, "time", json_string("2028-02-29T23:59:59Z"));
    assert_int_equal(policy_request_from_json(set, doc, &req, &err), 0);
    json_decref(doc);
    policy_set_release(&set);
}

/* Without the base's catch-all for financial data, the base has no rule for a bank
 * account sent abroad for travel. A residency rule that would release it cannot widen
 * the base, so the claim is withheld with no_rule. */
static void test_residency_cannot_widen_base(void **state)
{
    policy_bundle *bundles[BUNDLE_COUNT];
    policy_set *set = NULL;
    policy_error err = {0};
    json_t *doc = json_pack(
        "{s:s, s:{s:s, s:s, s:[s]}, s:s, s:i, s:s, s:[s], s:[s], s:{s:s}, s:s}",
        "subject_jurisdiction", "SG", "relying_party", "id", "agency-th", "jurisdiction",
        "TH", "transfer_mechanisms", "adequacy", "purpose", "travel", "retention_days", 30,
        "assurance", "substantial", "consent", "explicit", "claims", "bank_account",
        "values", "bank_account", "SG-001-2345", "time", "2026-06-01T00:00:00Z");
    policy_decision decision;

    (void)state;
    for (size_t i = 0; i < BUNDLE_COUNT; i++) {
        size_t len = 0;
        char *xml = read_bundle_text(bundle_names[i], &len);
        char *start = strstr(xml, "    <Rule id=\"base.financial.other-purposes\">");

        if (start != NULL) {
            char *end = strstr(start, "</Rule>\n");

            assert_non_null(end);
            memmove(start, end + strlen("</Rule>\n"), strlen(end + strlen("</Rule>\n")) + 1);
        }
        bundles[i] = parse_text(xml, bundle_names[i]);
        free(xml);
    }
    if (policy_set_compile(bundles, BUNDLE_COUNT, &set, &err) != 0)
        fail_msg("compile: %s", err.message);
    expect_reason(decide_claim_in(set, doc, &decision, "bank_account"), POLICY_WITHHELD,
                  "no_rule");
    json_decref(doc);
    policy_set_release(&set);
    free_bundles(bundles);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rule_order_never_matters),
        cmocka_unit_test(test_withheld_value_never_leaves),
        cmocka_unit_test(test_withhold_overrides_disclose),
        cmocka_unit_test(test_residency_withhold_overrides_base),
        cmocka_unit_test(test_standin_withheld_by_own_rule),
        cmocka_unit_test(test_standin_meets_own_conditions),
        cmocka_unit_test(test_derive_list_limits_named_claims),
        cmocka_unit_test(test_decision_time_must_exist),
        cmocka_unit_test(test_residency_cannot_widen_base),
        cmocka_unit_test(test_more_specific_rule_wins),
        cmocka_unit_test(test_every_mechanism_list_counts),
        cmocka_unit_test(test_age_over_needs_calendar_date),
        cmocka_unit_test(test_malformed_bundles_rejected),
        cmocka_unit_test(test_version_out_of_range_rejected),
        cmocka_unit_test(test_version_maximum_loads),
        cmocka_unit_test(test_doctype_rejected),
        cmocka_unit_test(test_unassigned_country_rejected),
        cmocka_unit_test(test_meaning_findings_have_lines),
        cmocka_unit_test(test_too_many_derived_claims_found),
        cmocka_unit_test(test_duplicate_declarations_found),
        cmocka_unit_test(test_derive_unreachable_found),
        cmocka_unit_test(test_rule_set_is_clean),
        cmocka_unit_test(test_set_rejects_two_residency_bundles),
        cmocka_unit_test(test_ambiguous_source_withheld),
        cmocka_unit_test(test_ambiguous_must_be_names),
        cmocka_unit_test(test_rp_jurisdiction_must_be_assigned),
        cmocka_unit_test(test_country_of_needs_assigned_code),
        cmocka_unit_test(test_derived_follows_source_withhold),
        cmocka_unit_test(test_identifier_stand_ins_withheld),
        cmocka_unit_test(test_source_withhold_in_any_bundle),
    };

    if (getenv("IDSVC_SOURCE_DIR") == NULL) {
        fputs("IDSVC_SOURCE_DIR is not set; run this test through ctest\n", stderr);
        return 1;
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}

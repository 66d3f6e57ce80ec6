/* Shared between the files of the policy engine and idsvc-admin policy; not a stable API.
 */
#ifndef IDSVC_POLICY_INTERNAL_H
#define IDSVC_POLICY_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "policy.h"

#define POLICY_NS "urn:idsvc:policy:1"
#define POLICY_DSIG_NS "http://www.w3.org/2000/09/xmldsig#"

#define POLICY_MAX_JURISDICTIONS 15
#define POLICY_MAX_PURPOSES 64
/* The index of a relying party outside the declared jurisdictions. */
#define POLICY_OTHER_JURISDICTION POLICY_MAX_JURISDICTIONS

typedef enum policy_class {
    POLICY_CLASS_BASIC,
    POLICY_CLASS_CONTACT,
    POLICY_CLASS_IDENTIFIER,
    POLICY_CLASS_FINANCIAL,
    POLICY_CLASS_BIOMETRIC,
    POLICY_CLASS_SENSITIVE,
    POLICY_CLASS_DERIVED,
    POLICY_CLASS_COUNT,
} policy_class;

typedef enum policy_derivation {
    POLICY_DERIVE_NONE,
    POLICY_DERIVE_AGE_OVER,
    POLICY_DERIVE_COUNTRY_OF,
    POLICY_DERIVE_PRESENT,
    POLICY_DERIVE_ASSURANCE,
} policy_derivation;

typedef enum policy_scope {
    POLICY_SCOPE_ANY,
    POLICY_SCOPE_DOMESTIC,
    POLICY_SCOPE_CROSS_BORDER,
} policy_scope;

typedef enum policy_bundle_kind {
    POLICY_BUNDLE_BASE,
    POLICY_BUNDLE_RESIDENCY,
} policy_bundle_kind;

/* A list of names as written in the bundle, each with its line. */
typedef struct policy_names {
    char **items;
    int *lines;
    size_t count;
} policy_names;

typedef struct policy_src_claim {
    char *name;
    policy_class klass;
    char *derived_from; /* NULL for a claim the credential carries */
    policy_derivation derivation;
    int years;
    int line;
} policy_src_claim;

typedef struct policy_src_named {
    char *id; /* jurisdiction code or purpose id */
    char *name;
    int line;
} policy_src_named;

typedef struct policy_legal_basis {
    char *instrument;
    char *provision;
} policy_legal_basis;

/* A rule as written, before compilation. */
typedef struct policy_src_rule {
    char *id;
    int line;
    policy_scope scope;
    policy_names subjects;
    policy_names relying_parties;
    policy_names purposes;
    policy_names claims;
    unsigned class_mask; /* bits of policy_class; 0 with no claims means any claim */
    policy_effect effect;
    policy_names derive; /* the derived claims a disclose-derived rule releases */
    policy_consent consent;
    unsigned mechanisms;
    bool has_min_assurance;
    policy_assurance min_assurance;
    long max_retention; /* -1 when absent */
    policy_legal_basis *bases;
    size_t basis_count;
    char *summary;
    char *note;
} policy_src_rule;

struct policy_bundle {
    char *path;
    char *id;
    long version;
    policy_bundle_kind kind;
    char *regulator;
    char *title;
    char jurisdiction[3]; /* residency only */
    char *base_id;        /* residency only */
    time_t effective_from;
    time_t effective_until; /* 0 when open-ended */
    policy_src_claim *claims;
    size_t claim_count;
    policy_src_named *jurisdictions;
    size_t jurisdiction_count;
    policy_src_named *purposes;
    size_t purpose_count;
    policy_src_rule *rules;
    size_t rule_count;
    bool has_signature;
    char digest[65];
};

/* ---- Compiled form --------------------------------------------------------------- */

struct policy_rule {
    char *id;
    const char *bundle_id; /* points into the set's bundle table */
    int bundle;            /* index into the set's bundle table */
    int line;
    policy_scope scope;
    uint32_t subject_mask; /* bits of jurisdiction indexes; all ones for any */
    uint32_t rp_mask;
    uint64_t purpose_mask;
    bool claim_any;
    uint64_t claim_mask; /* bits of catalogue indexes named by the rule */
    unsigned class_mask;
    int specificity;
    policy_effect effect;
    uint64_t derive_mask; /* bits of catalogue indexes; all ones selects every stand-in */
    policy_consent consent;
    unsigned mechanisms;
    policy_assurance min_assurance;
    long max_retention;
    char *legal_basis;
    char *summary;
    char *note;
};

typedef struct policy_claim_def {
    char *name;
    policy_class klass;
    int source; /* catalogue index of the claim it derives from, or -1 */
    policy_derivation derivation;
    int years;
    uint64_t standins; /* bits of the derived claims computed from this one */
} policy_claim_def;

/* A list of rule indexes, in precedence order. */
typedef struct policy_rule_list {
    const policy_rule **rules;
    size_t count;
} policy_rule_list;

typedef struct policy_set_bundle {
    char *id;
    long version;
    char digest[65];
    policy_bundle_kind kind;
    int jurisdiction; /* residency only */
    time_t effective_from;
    time_t effective_until;
} policy_set_bundle;

/* The maximum number of claims in a catalogue, so that stand-ins fit a 64-bit mask. */
#define POLICY_MAX_CLAIMS 64

struct policy_set {
    atomic_long refcount;
    policy_set_bundle *bundles;
    size_t bundle_count;
    int residency_of[POLICY_MAX_JURISDICTIONS]; /* bundle index, or -1 */
    char jurisdictions[POLICY_MAX_JURISDICTIONS][3];
    size_t jurisdiction_count;
    char **purposes;
    size_t purpose_count;
    policy_claim_def *claims;
    size_t claim_count;
    policy_rule *rules;
    size_t rule_count;
    /* index[bundle][claim][subject]: the bundle's rules that can match, best first */
    policy_rule_list *index;
    time_t effective_from;  /* the latest effectiveFrom of the bundles */
    time_t effective_until; /* the earliest effectiveUntil, or 0 */
};

static inline const policy_rule_list *
policy_set_candidates(const policy_set *set, int bundle, int claim, int subject)
{
    size_t slot =
        ((size_t)bundle * set->claim_count + (size_t)claim) * POLICY_MAX_JURISDICTIONS +
        (size_t)subject;

    return &set->index[slot];
}

/* ---- Helpers shared by the files ----------------------------------------------------
 */

/* Fills err (when not NULL) and returns -1. */
int policy_fail(policy_error *err, policy_error_code code, int line, const char *format,
                ...) __attribute__((format(printf, 4, 5)));

/* Name tables; each returns -1 for an unknown name. */
int policy_class_from_name(const char *name);
const char *policy_class_name(policy_class klass);
int policy_effect_from_name(const char *name);
int policy_consent_from_name(const char *name);
int policy_assurance_from_name(const char *name);
int policy_mechanism_from_name(const char *name); /* returns the bit */
int policy_scope_from_name(const char *name);
const char *policy_scope_name(policy_scope scope);
int policy_derivation_from_name(const char *name);

/* Parses "YYYY-MM-DDTHH:MM:SSZ"; returns -1 when malformed. */
int policy_parse_utc(const char *text, time_t *out);
void policy_format_utc(time_t t, char *buf, size_t size);

/* Finds a jurisdiction, purpose or claim of a set by name; -1 when absent. */
int policy_set_find_jurisdiction(const policy_set *set, const char *code);
int policy_set_find_purpose(const policy_set *set, const char *id);
int policy_set_find_claim(const policy_set *set, const char *name);

/* Computes the canonical digest of a bundle document without its Signature. */
int policy_digest_document(xmlDocPtr doc, unsigned char digest[32], policy_error *err);

/* The trust list's keys as SAML verification stores them, in the order of the list, so
 * that policy_verify_document's key index is the index of the list. */
struct saml_trust_store *policy_trust_store(const policy_trust *trust);

/* Checks that key key_index may sign bundle, which was read from path. Fails with
 * POLICY_E_NOT_AUTHORISED naming the bundle, its jurisdiction and the key's regulator. */
int policy_trust_authorise(const policy_trust *trust, size_t key_index,
                           const policy_bundle *bundle, const char *path,
                           policy_error *err);

/* Checks that every jurisdiction code of a parsed bundle is an officially assigned
 * ISO 3166-1 alpha-2 code. Fails with POLICY_E_SCHEMA and the line of the first other
 * code. root_line is the line of the PolicyBundle element. */
int policy_bundle_check_countries(const policy_bundle *bundle, int root_line,
                                  policy_error *err);

/* Reads a whole file of at most POLICY_BUNDLE_MAX_BYTES; the caller frees *out. */
int policy_read_file(const char *path, char **out, size_t *out_len, policy_error *err);

/* Parses and schema-validates a bundle document; the caller frees *doc_out. */
int policy_parse_document(const char *xml, size_t len, xmlDocPtr *doc_out,
                          policy_error *err);

/* ---- Tracing, for idsvc-admin policy explain ----------------------------------------
 */

typedef enum policy_trace_status {
    POLICY_TRACE_WON,               /* the winning rule */
    POLICY_TRACE_COMBINED,          /* equally specific, same effect: conditions merged */
    POLICY_TRACE_OVERRIDDEN_EFFECT, /* equally specific, weaker effect */
    POLICY_TRACE_LESS_SPECIFIC,     /* matched, but a more specific rule won */
    POLICY_TRACE_OVERRIDDEN_BY_BUNDLE, /* won in its bundle, another bundle's stronger
                                          effect won */
    POLICY_TRACE_WITHHOLDS_SOURCE,     /* withholds the source of the requested derived
                                          claim, and so the derived claim too */
    POLICY_TRACE_OVERRIDDEN_BY_SOURCE, /* won for the derived claim, but a rule withholds
                                          its source */
    POLICY_TRACE_NO_BASE_RULE,         /* won in a residency bundle, but the base has no
                                          rule for the claim, so it stays withheld */
    POLICY_TRACE_STANDIN_CONDITIONS,   /* a rule of a stand-in released through the
                                          requested claim, whose conditions apply too */
    POLICY_TRACE_WITHHOLDS_STANDIN,    /* a rule of a stand-in that keeps it out of the
                                          requested claim's derived values */
    POLICY_TRACE_NO_RELYING_PARTY,     /* did not match: relying party jurisdiction */
    POLICY_TRACE_NO_SCOPE,             /* did not match: domestic or cross-border */
    POLICY_TRACE_NO_PURPOSE,           /* did not match: purpose */
} policy_trace_status;

typedef void (*policy_trace_fn)(void *ctx, size_t claim_index, const policy_rule *rule,
                                policy_trace_status status);

/* policy_evaluate with a callback for every candidate rule of every claim. */
int policy_evaluate_traced(const policy_request *req, policy_decision *out,
                           policy_trace_fn trace, void *ctx, policy_error *err);
const char *policy_trace_status_name(policy_trace_status status);

/* ---- Meaning checks, for idsvc-admin policy validate and the node's loader ----------
 */

typedef struct policy_finding {
    bool error; /* false for a warning */
    const char *path;
    int line;
    char code[40];
    char message[400];
} policy_finding;

typedef struct policy_findings {
    policy_finding *items;
    size_t count;
    size_t capacity;
} policy_findings;

/* Checks the bundles as one set: declared names, legal bases, rules that can never
 * match, rules shadowed by another rule of the same bundle. */
int policy_check_bundles(policy_bundle *const *bundles, size_t count,
                         policy_findings *out);

/* The two halves of policy_check_bundles. policy_check_names checks what must hold
 * before the bundles can compile: a base bundle, unique rule ids, declared names, legal
 * bases and derive lists. It returns -1 when it adds an error finding. */
int policy_check_names(policy_bundle *const *bundles, size_t count, policy_findings *out);
/* Adds a warning for each rule of the set compiled from bundles that can never match or
 * never win. bundles must be in the order they were compiled in. */
void policy_check_reach(const policy_set *set, policy_bundle *const *bundles,
                        policy_findings *out);
void policy_findings_clear(policy_findings *findings);
void policy_findings_add(policy_findings *findings, bool error, const char *path,
                         int line, const char *code, const char *format, ...)
    __attribute__((format(printf, 6, 7)));

/* ---- Signing --------------------------------------------------------------------------
 */

struct p11_key;

/* Signs a bundle document with a key in the HSM and returns the signed document in
 * *out (malloc'd, NUL-terminated). key_name goes to KeyInfo/KeyName and may be NULL. */
int policy_sign_document(const char *xml, size_t len, struct p11_key *key,
                         const char *key_name, char **out, size_t *out_len,
                         policy_error *err);

#endif

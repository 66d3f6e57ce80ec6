/*
 * The policy engine: signed policy bundles in, one deterministic decision per claim out.
 *
 * A policy set is one base bundle (claims catalogue, jurisdictions, purposes, harmonised
 * rules) plus at most one residency bundle per jurisdiction, compiled at load time into
 * per-claim, per-jurisdiction rule lists, so that an evaluation never searches all rules.
 * docs/policy-language.md defines the language and the conflict resolution.
 *
 * Functions that can fail return 0 on success and -1 on failure, and fill the
 * policy_error they were given (which may be NULL).
 */
#ifndef IDSVC_POLICY_H
#define IDSVC_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

/* Stable codes of failures; policy_error_name gives their wire names. */
typedef enum policy_error_code {
    POLICY_E_NONE = 0,
    POLICY_E_IO,        /* "io_error": a file could not be read or written */
    POLICY_E_MALFORMED, /* "malformed_xml": not well-formed, DOCTYPE, too large */
    POLICY_E_SCHEMA,    /* "schema_invalid": rejected by schemas/policy.xsd */
    POLICY_E_SEMANTIC,  /* "bundle_invalid": an undeclared name, a missing legal basis */
    POLICY_E_UNSIGNED,  /* "signature_missing" */
    POLICY_E_SIGNATURE, /* "signature_invalid": bad form, digest or value */
    POLICY_E_SIGNED,    /* "bundle_already_signed": signing a bundle that has a Signature */
    POLICY_E_UNTRUSTED, /* "key_untrusted": no key of the trust list verifies it */
    /* "key_not_authorised": the key that verifies it is not bound to the bundle's kind
     * or jurisdiction */
    POLICY_E_NOT_AUTHORISED,
    /* "trust_invalid": a regulator key or binding that cannot be used. Examples: a key
     * file that was read but holds no valid PEM key, or a key type or size the loader
     * rejects. Also no regulator name, a code that is not an officially assigned ISO
     * 3166-1 alpha-2 code, or one key bound to two regulators. */
    POLICY_E_TRUST,
    POLICY_E_NOT_YET,   /* "bundle_not_yet_effective" */
    POLICY_E_EXPIRED,   /* "bundle_expired" */
    POLICY_E_SET,       /* "policy_set_invalid": no base, two residency bundles */
    POLICY_E_REQUEST,   /* "request_invalid": a request field is missing or unknown */
    POLICY_E_HSM,       /* "hsm_error": the HSM refused to sign */
    POLICY_E_NO_MEMORY, /* "no_memory" */
} policy_error_code;

typedef struct policy_error {
    policy_error_code code;
    int line;          /* the line in the bundle at fault, or 0 */
    char field[64];    /* the request field at fault, or empty */
    char message[512]; /* a sentence for people */
    /* the code of the meaning check that rejected a set, such as unknown_claim, as
     * `idsvc-admin policy validate` reports it, or empty for other failures */
    char check[40];
} policy_error;

const char *policy_error_name(policy_error_code code);

/* Returns the stable code of a failure: err->check when a meaning check failed, and
 * otherwise the name of err->code. */
const char *policy_error_code_of(const policy_error *err);

/* ---- Bundles ----------------------------------------------------------------- */

typedef struct policy_bundle policy_bundle;

/*
 * Parses a bundle document and validates it against the schema and the checks that a
 * single bundle allows. The signature, when present, is kept but not verified here.
 * path names the bundle in messages and may be NULL.
 */
int policy_bundle_parse(const char *xml, size_t len, const char *path,
                        policy_bundle **out, policy_error *err);
int policy_bundle_load_file(const char *path, policy_bundle **out, policy_error *err);
void policy_bundle_free(policy_bundle **bundle);

const char *policy_bundle_id(const policy_bundle *bundle);
long policy_bundle_version(const policy_bundle *bundle);
/* The SHA-256 of the exclusive canonical form of the bundle without its signature,
 * as 64 lower-case hex digits: the digest a signature over the bundle covers. */
const char *policy_bundle_digest(const policy_bundle *bundle);
bool policy_bundle_is_signed(const policy_bundle *bundle);

/* The largest bundle document accepted. */
#define POLICY_BUNDLE_MAX_BYTES (4u * 1024 * 1024)

/* ---- Trust list and signature verification ------------------------------------- */

typedef struct policy_trust policy_trust;

/* Loads the regulator trust list: a PEM file of public keys or certificates. Only the
 * public keys are used; the certificates' other fields are ignored. Each key may sign
 * every bundle, so this suits checking a signature, not binding keys to regulators. */
int policy_trust_load(const char *pem_path, policy_trust **out, policy_error *err);

/* Creates an empty trust list for policy_trust_add_pem. */
int policy_trust_create(policy_trust **out, policy_error *err);

/* The bundles that the keys of one regulator may sign. */
typedef struct policy_signer {
    const char *regulator;            /* the regulator's name in messages */
    bool base;                        /* the base bundle */
    const char *const *jurisdictions; /* residency bundles of these ISO 3166-1 alpha-2
                                       * codes */
    size_t jurisdiction_count;
} policy_signer;

/*
 * Adds every public key of a PEM file to the list, bound to signer. A key with signer
 * NULL is unbound: it may sign no bundle, and a load that finds a bundle signed with it
 * names the key. A key that is already in the list is not added twice: an unbound copy
 * takes the binding, and a key bound to one regulator cannot be bound to another
 * (POLICY_E_TRUST). A file that cannot be read fails with POLICY_E_IO, and one that was
 * read but is not a valid key file, or contains a key of an unsupported type, with
 * POLICY_E_TRUST.
 */
int policy_trust_add_pem(policy_trust *trust, const char *pem_path,
                         const policy_signer *signer, policy_error *err);

void policy_trust_free(policy_trust **trust);
size_t policy_trust_count(const policy_trust *trust);

/* Returns the regulator that key i is bound to, or NULL for an unbound key or a key of
 * policy_trust_load. */
const char *policy_trust_key_regulator(const policy_trust *trust, size_t i);

/* Returns "FILE key N (SHA-256 HEX)" for key i: its PEM file, its place in the file and
 * the SHA-256 of its SubjectPublicKeyInfo. */
const char *policy_trust_key_source(const policy_trust *trust, size_t i);

/*
 * Verifies the enveloped signature of a bundle document with the keys of the trust
 * list, never with a key from KeyInfo. Fails closed. On success *key_index is the index
 * of the trusted key that verified it.
 */
int policy_verify_document(const char *xml, size_t len, const policy_trust *trust,
                           size_t *key_index, policy_error *err);

/* ---- Policy sets --------------------------------------------------------------- */

typedef struct policy_set policy_set;

/*
 * Compiles bundles into a policy set. The set takes no ownership of the bundles and
 * does not point into them. Fails with POLICY_E_SET or POLICY_E_SEMANTIC when the
 * bundles do not form one set (no base, a residency bundle for another base, two
 * residency bundles for one jurisdiction, two bundles with one ID, a duplicate rule id,
 * an undeclared name).
 */
int policy_set_compile(policy_bundle *const *bundles, size_t count, policy_set **out,
                       policy_error *err);

/* Takes another reference; the set is freed when the last reference is released. */
policy_set *policy_set_ref(policy_set *set);
void policy_set_release(policy_set **set);

/* The bundles of a set, for audit records: id, version and digest. */
size_t policy_set_bundle_count(const policy_set *set);
const char *policy_set_bundle_id(const policy_set *set, size_t i);
long policy_set_bundle_version(const policy_set *set, size_t i);
const char *policy_set_bundle_digest(const policy_set *set, size_t i);

/* The earliest effectiveUntil of the set's bundles, or 0 when none expires. */
time_t policy_set_expires(const policy_set *set);

/* ---- The node's loader --------------------------------------------------------- */

/*
 * The bundles a node serves. policy_store_load reads, verifies against the trust list,
 * checks that the verifying key may sign each bundle's kind and jurisdiction
 * (POLICY_E_NOT_AUTHORISED otherwise), checks the effective dates, runs the meaning
 * checks of `idsvc-admin policy validate` and compiles a new set, then swaps it in
 * atomically. An error finding of those checks fails the load with its code in
 * policy_error.check (code POLICY_E_SEMANTIC, or POLICY_E_SET for no_base_bundle).
 * Evaluations that hold the old set finish with it. When anything fails the store
 * keeps the set it had. There is no way to load an unsigned bundle into a store.
 * policy_store_create takes ownership of trust.
 */
typedef struct policy_store policy_store;

int policy_store_create(policy_trust *trust, policy_store **out, policy_error *err);
void policy_store_free(policy_store **store);
int policy_store_load(policy_store *store, const char *const *paths, size_t count,
                      time_t now, policy_error *err);

/* Receives one warning finding of the loader's meaning checks: its code (such as
 * shadowed), the bundle file and line, and a sentence. */
typedef void (*policy_warning_fn)(void *ctx, const char *code, const char *path, int line,
                                  const char *message);

/* The input of policy_store_load_from. */
typedef struct policy_load_input {
    const char *const *paths; /* the bundle files */
    size_t count;
    time_t now; /* the load time, which each bundle's effective dates must contain */
    /* The regulator keys and bindings to verify the bundles with, or NULL to use the
     * store's. The store takes ownership of a new list when the load succeeds; after a
     * failure the caller still owns it. */
    policy_trust *trust;
    /* Called for each warning finding of a load that succeeds, before the new set is
     * in force; NULL drops them. */
    policy_warning_fn warn;
    void *warn_ctx;
    /* Called with the compiled set before it is put in force. A non-zero return rejects
     * the load, and the function fills err in. NULL accepts every set that compiles. */
    int (*accept)(void *ctx, const policy_set *set, policy_error *err);
    void *accept_ctx;
} policy_load_input;

/*
 * Loads bundles as policy_store_load does, optionally with a new trust list. The new
 * keys, their bindings and the compiled set replace the old ones together, under one
 * lock, and only when every bundle verifies and the set compiles. Otherwise the store
 * keeps its keys and its set. Loads into one store run one at a time.
 */
int policy_store_load_from(policy_store *store, const policy_load_input *input,
                           policy_error *err);
/* Returns a new reference to the current set, or NULL when none was loaded. */
policy_set *policy_store_acquire(policy_store *store);

/* ---- Requests and decisions ---------------------------------------------------- */

typedef enum policy_effect {
    POLICY_DISCLOSE = 0,
    POLICY_DISCLOSE_DERIVED = 1,
    POLICY_WITHHOLD = 2,
} policy_effect;

typedef enum policy_consent {
    POLICY_CONSENT_NONE = 0,
    POLICY_CONSENT_EXPLICIT = 1,
    POLICY_CONSENT_SEPARATE_CROSS_BORDER = 2,
} policy_consent;

typedef enum policy_assurance {
    POLICY_ASSURANCE_LOW = 0,
    POLICY_ASSURANCE_SUBSTANTIAL = 1,
    POLICY_ASSURANCE_HIGH = 2,
} policy_assurance;

/* Transfer mechanisms a relying party can have on record, as bits. */
enum {
    POLICY_MECH_ADEQUACY = 1u << 0,
    POLICY_MECH_STANDARD_CONTRACT = 1u << 1,
    POLICY_MECH_CERTIFICATION = 1u << 2,
    POLICY_MECH_BCR = 1u << 3,
    POLICY_MECH_SECURITY_ASSESSMENT = 1u << 4,
    POLICY_MECH_ASEAN_MCC = 1u << 5,
};
#define POLICY_MECH_COUNT 6

#define POLICY_REQUEST_MAX_CLAIMS 64

/* One request, with the names already resolved against a set (policy_request_resolve).
 * Resolving once lets a caller evaluate many times without any string lookup. */
typedef struct policy_request {
    const policy_set *set;
    int subject;       /* jurisdiction index */
    int relying_party; /* jurisdiction index; outside the federation is its own index */
    char rp_country[3];
    const char *rp_id;
    unsigned mechanisms;
    int purpose;
    long retention_days; /* -1 when the relying party declared none */
    policy_assurance assurance;
    policy_consent consent; /* the strongest consent on record for this request */
    size_t claim_count;
    int claims[POLICY_REQUEST_MAX_CLAIMS]; /* catalogue index, -1 when unknown */
    const char *claim_names[POLICY_REQUEST_MAX_CLAIMS]; /* as requested */
    const json_t *values; /* object: claim name -> value from the verified credential */
    /* Bit i: catalogue claim i has conflicting values in the credential, so neither it
     * nor a value derived from it is released (source_ambiguous). */
    uint64_t ambiguous;
    time_t time;          /* the decision time */
} policy_request;

/*
 * Reads a request document (docs/policy-language.md, "Requests") and resolves it
 * against the set. The request borrows strings and values from doc, which must outlive
 * it. An unknown requested claim is not an error: it is withheld as unknown_claim.
 */
int policy_request_from_json(const policy_set *set, const json_t *doc,
                             policy_request *req, policy_error *err);

/*
 * Checks the claims and the purpose of a request as policy_request_from_json reads
 * them, without the rest of a request document: claims must be an array of 1 to 64
 * distinct strings, and the set must declare the purpose. A claim outside the catalogue
 * is no error, as there; *unknown receives the index of the first one, or -1. Returns
 * 0, or -1 with err->field "claims" or "purpose" ("" when out of memory).
 */
int policy_check_terms(const policy_set *set, const char *purpose, const json_t *claims,
                       long *unknown, policy_error *err);

/* Why a claim was decided as it was; policy_reason_name gives the stable wire names. */
typedef enum policy_reason {
    POLICY_REASON_RULE = 0,           /* "rule": the winning rule's effect applied */
    POLICY_REASON_NO_RULE,            /* "no_rule": no rule matched, so withheld */
    POLICY_REASON_UNKNOWN_CLAIM,      /* "unknown_claim" */
    POLICY_REASON_CONSENT_REQUIRED,   /* "consent_required": disclosable after consent */
    POLICY_REASON_MECHANISM_MISSING,  /* "transfer_mechanism_missing" */
    POLICY_REASON_ASSURANCE_TOO_LOW,  /* "assurance_too_low" */
    POLICY_REASON_RETENTION_TOO_LONG, /* "retention_too_long" */
    POLICY_REASON_VALUE_MISSING,     /* "value_missing": the credential lacks the claim */
    POLICY_REASON_DERIVATION_FAILED, /* "derivation_failed" */
    POLICY_REASON_SOURCE_AMBIGUOUS,  /* "source_ambiguous": conflicting values */
} policy_reason;

typedef enum policy_outcome_kind {
    POLICY_DISCLOSED = 0,
    POLICY_DERIVED = 1,
    POLICY_WITHHELD = 2,
} policy_outcome_kind;

#define POLICY_MAX_DERIVED 8

typedef struct policy_rule policy_rule;

/* One derived value computed at decision time. */
typedef struct policy_derived_value {
    const char *name;  /* the derived claim's catalogue name */
    const char *value; /* points into text, a static string or the catalogue */
    char text[8];
} policy_derived_value;

typedef struct policy_claim_decision {
    const char *claim; /* the requested name */
    policy_outcome_kind outcome;
    policy_reason reason;
    const policy_rule *rule; /* the winning rule, NULL for no_rule and unknown_claim */
    /* The catalogue name of the source claim whose withhold rule also withheld this
     * derived claim, and then rule is that source's rule. NULL for other decisions. */
    const char *withheld_source;
    policy_consent consent_needed; /* for consent_required */
    unsigned mechanisms_needed;    /* for transfer_mechanism_missing: any one of these */
    policy_assurance assurance_needed;
    long retention_max;  /* for retention_too_long */
    const json_t *value; /* disclosed only; NULL otherwise */
    size_t derived_count;
    policy_derived_value derived[POLICY_MAX_DERIVED];
} policy_claim_decision;

typedef enum policy_overall {
    POLICY_PERMIT = 0,      /* "permit": every claim disclosed or derived */
    POLICY_PARTIAL,         /* "partial": some withheld, none waits for consent */
    POLICY_CONSENT_PENDING, /* "consent_required": some wait for the subject's consent */
    POLICY_DENY,            /* "deny": every claim withheld */
} policy_overall;

typedef struct policy_decision {
    const policy_set *set;
    policy_overall overall;
    policy_consent consent_required; /* the consent still needed, or NONE */
    size_t claim_count;
    policy_claim_decision claims[POLICY_REQUEST_MAX_CLAIMS];
} policy_decision;

/*
 * Evaluates a resolved request. Deterministic: the result depends only on the set and
 * the request, never on the order of rules in a file or on the clock. Fails with
 * POLICY_E_EXPIRED or POLICY_E_NOT_YET when the decision time is outside a bundle's
 * effective dates.
 */
int policy_evaluate(const policy_request *req, policy_decision *out, policy_error *err);

/* Writes a sentence a person can read about one claim's decision. */
void policy_claim_sentence(const policy_claim_decision *claim, const policy_request *req,
                           char *buf, size_t size);

/* Builds the decision document (docs/policy-language.md, "Decisions"). Withheld claims
 * carry no value. Returns NULL on allocation failure. */
json_t *policy_decision_to_json(const policy_decision *decision,
                                const policy_request *req);

/* Rule accessors, for decisions and traces. */
const char *policy_rule_id(const policy_rule *rule);
const char *policy_rule_bundle(const policy_rule *rule);
const char *policy_rule_summary(const policy_rule *rule);
/* "Instrument, provision; Instrument, provision" */
const char *policy_rule_legal_basis(const policy_rule *rule);
int policy_rule_line(const policy_rule *rule);

/* Wire names. */
const char *policy_reason_name(policy_reason reason);
const char *policy_outcome_name(policy_outcome_kind outcome);
const char *policy_overall_name(policy_overall overall);
const char *policy_consent_name(policy_consent consent);
const char *policy_assurance_name(policy_assurance assurance);
const char *policy_effect_name(policy_effect effect);
const char *policy_mechanism_name(unsigned bit);

#endif

#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <ini.h>

#include "config_internal.h"
#include "pem_file.h"
#include "iso3166.h"
#include "policy.h"
#include "saml.h"

#include "webauthn.h"

/* A key that may be given once per section, and the line that gave it. */
typedef struct seen_key {
    char *section;
    char *key;
    int line;
} seen_key;

typedef struct parse_state {
    config *cfg;
    char *dir; /* the configuration file's folder, for relative paths */
    const line_reader *reader; /* its line_number is the line being handled */
    seen_key *seen;
    size_t seen_count;
    int error_line; /* for a check after the whole file: the line at fault, or 0 */
    char error[512];
} parse_state;

const char *config_role_name(unsigned role)
{
    switch (role) {
    case ROLE_ISSUER:
        return "issuer";
    case ROLE_RP:
        return "rp";
    case ROLE_REGULATOR:
        return "regulator";
    case ROLE_NODE:
        return "node";
    default:
        return "none";
    }
}

static int fail(parse_state *state, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(parse_state *state, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(state->error, sizeof(state->error), format, args);
    va_end(args);
    return 0;
}

static int set_string(char **slot, const char *value)
{
    char *copy = strdup(value);

    if (copy == NULL)
        return -1;
    free(*slot);
    *slot = copy;
    return 0;
}

/* Resolves a path relative to the configuration file's folder. */
static int set_path(parse_state *state, char **slot, const char *value)
{
    char joined[PATH_MAX];

    if (value[0] == '/' || state->dir == NULL)
        return set_string(slot, value);
    if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", state->dir, value) >=
        sizeof(joined))
        return -1;
    return set_string(slot, joined);
}

static int append_string(char ***list, size_t *count, const char *value)
{
    char **grown = realloc(*list, (*count + 1) * sizeof(**list));

    if (grown == NULL)
        return -1;
    *list = grown;
    grown[*count] = strdup(value);
    if (grown[*count] == NULL)
        return -1;
    (*count)++;
    return 0;
}

static int append_path(parse_state *state, char ***list, size_t *count, const char *value)
{
    char *resolved = NULL;
    int rc;

    if (set_path(state, &resolved, value) != 0)
        return -1;
    rc = append_string(list, count, resolved);
    free(resolved);
    return rc;
}

static int parse_unsigned(const char *value, unsigned long min, unsigned long max,
                          unsigned long *out)
{
    char *end = NULL;
    unsigned long number = 0;

    if (value[0] == '\0' || value[0] == '-')
        return -1;
    errno = 0;
    number = strtoul(value, &end, 10);
    if (errno != 0 || *end != '\0' || number < min || number > max)
        return -1;
    *out = number;
    return 0;
}

/* Accepts 64 hex digits, optionally separated by colons. */
static int parse_fingerprint(const char *value, unsigned char out[32])
{
    size_t n = 0;

    for (const char *p = value; *p != '\0';) {
        if (*p == ':') {
            p++;
            continue;
        }
        if (n == 32 || !isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]))
            return -1;
        char byte[3] = {p[0], p[1], '\0'};
        out[n++] = (unsigned char)strtoul(byte, NULL, 16);
        p += 2;
    }
    return n == 32 ? 0 : -1;
}

static bool is_alpha2(const char *code)
{
    return strlen(code) == 2 && isupper((unsigned char)code[0]) &&
           isupper((unsigned char)code[1]);
}

/* Fails unless a jurisdiction given in the file is an assigned ISO 3166-1 alpha-2 code,
 * as the policy bundles and the [regulator] sections require. */
static int check_jurisdiction(parse_state *state, const char *code, const char *where)
{
    if (is_alpha2(code) && iso3166_is_assigned(code))
        return 1;
    return fail(state,
                "%s: \"%s\" is not an assigned ISO 3166-1 alpha-2 code in capitals. Use "
                "the code that ISO assigns, such as SG, or GB for the United Kingdom",
                where, code);
}

/* Accepts an IPv4 or IPv6 literal, as the listening socket takes it. */
static int set_listen(parse_state *state, const char *value)
{
    unsigned char address[sizeof(struct in6_addr)];

    if (inet_pton(AF_INET, value, address) != 1 && inet_pton(AF_INET6, value, address) != 1)
        return fail(state,
                    "[server] listen: \"%s\" is not an IPv4 or IPv6 address. Write an "
                    "address such as 127.0.0.1 or ::1, not a host name",
                    value);
    return set_string(&state->cfg->listen_address, value) == 0;
}

static int handle_number(parse_state *state, const char *section, const char *name,
                         const char *value, unsigned long min, unsigned long max,
                         unsigned long *out)
{
    if (parse_unsigned(value, min, max, out) != 0)
        return fail(state, "[%s] %s: \"%s\" is not a number from %lu to %lu", section,
                    name, value, min, max);
    return 1;
}

static int handle_server(parse_state *state, const char *name, const char *value)
{
    config *cfg = state->cfg;
    unsigned long number = 0;

    if (strcmp(name, "listen") == 0)
        return set_listen(state, value);
    if (strcmp(name, "port") == 0) {
        if (!handle_number(state, "server", name, value, 1, 65535, &number))
            return 0;
        cfg->port = (unsigned)number;
        return 1;
    }
    if (strcmp(name, "public_port") == 0) {
        if (!handle_number(state, "server", name, value, 1, 65535, &number))
            return 0;
        cfg->public_port = (unsigned)number;
        return 1;
    }
    if (strcmp(name, "entity_id") == 0)
        return set_string(&cfg->entity_id, value) == 0;
    if (strcmp(name, "public_url") == 0)
        return set_string(&cfg->public_url, value) == 0;
    if (strcmp(name, "jurisdiction") == 0)
        return check_jurisdiction(state, value, "[server] jurisdiction") &&
               set_string(&cfg->jurisdiction, value) == 0;
    return fail(state, "[server]: unknown key \"%s\"", name);
}

static int handle_hsm(parse_state *state, const char *name, const char *value)
{
    config *cfg = state->cfg;
    unsigned long number = 0;

    if (strcmp(name, "module") == 0)
        return set_path(state, &cfg->module_path, value) == 0;
    if (strcmp(name, "token_label") == 0)
        return set_string(&cfg->token_label, value) == 0;
    if (strcmp(name, "pin_file") == 0)
        return set_path(state, &cfg->pin_file, value) == 0;
    if (strcmp(name, "pin_env") == 0)
        return set_string(&cfg->pin_env, value) == 0;
    if (strcmp(name, "tls_key") == 0)
        return set_string(&cfg->tls_key_uri, value) == 0;
    if (strcmp(name, "saml_key") == 0)
        return set_string(&cfg->saml_key_uri, value) == 0;
    if (strcmp(name, "retry_after") == 0) {
        if (!handle_number(state, "hsm", name, value, 1, 3600, &number))
            return 0;
        cfg->retry_after_seconds = (unsigned)number;
        return 1;
    }
    return fail(state, "[hsm]: unknown key \"%s\"", name);
}

static int handle_tls(parse_state *state, const char *name, const char *value)
{
    config *cfg = state->cfg;

    if (strcmp(name, "certificate") == 0)
        return set_path(state, &cfg->certificate_file, value) == 0;
    if (strcmp(name, "client_ca") == 0)
        return append_path(state, &cfg->client_ca_files, &cfg->client_ca_count, value) == 0;
    return fail(state, "[tls]: unknown key \"%s\"", name);
}

static int handle_saml(parse_state *state, const char *name, const char *value)
{
    config *cfg = state->cfg;
    unsigned long number = 0;

    if (strcmp(name, "certificate") == 0)
        return set_path(state, &cfg->saml_certificate_file, value) == 0;
    if (strcmp(name, "previous_certificate") == 0)
        return append_path(state, &cfg->saml_previous_files, &cfg->saml_previous_count,
                           value) == 0;
    if (strcmp(name, "next_certificate") == 0)
        return append_path(state, &cfg->saml_next_files, &cfg->saml_next_count, value) == 0;
    if (strcmp(name, "result_validity") == 0) {
        if (!handle_number(state, "saml", name, value, 10, 86400, &number))
            return 0;
        cfg->result_validity_seconds = (long)number;
        return 1;
    }
    if (strcmp(name, "clock_skew") == 0) {
        if (!handle_number(state, "saml", name, value, 0, CONFIG_CLOCK_SKEW_MAX, &number))
            return 0;
        cfg->clock_skew_seconds = (long)number;
        return 1;
    }
    return fail(state, "[saml]: unknown key \"%s\"", name);
}

static int handle_limits(parse_state *state, const char *name, const char *value)
{
    config_limits *limits = &state->cfg->limits;
    unsigned long number = 0;

    if (strcmp(name, "max_body_bytes") == 0) {
        if (!handle_number(state, "limits", name, value, 1024, 16ul << 20, &number))
            return 0;
        limits->max_body_bytes = number;
    } else if (strcmp(name, "max_json_depth") == 0) {
        if (!handle_number(state, "limits", name, value, 2, 64, &number))
            return 0;
        limits->max_json_depth = (unsigned)number;
    } else if (strcmp(name, "max_string_bytes") == 0) {
        if (!handle_number(state, "limits", name, value, 16, 1ul << 20, &number))
            return 0;
        limits->max_string_bytes = number;
    } else if (strcmp(name, "threads") == 0) {
        if (!handle_number(state, "limits", name, value, 1, 256, &number))
            return 0;
        limits->threads = (unsigned)number;
    } else if (strcmp(name, "connection_timeout") == 0) {
        if (!handle_number(state, "limits", name, value, 1, 3600, &number))
            return 0;
        limits->connection_timeout_seconds = (unsigned)number;
    } else if (strcmp(name, "max_connections") == 0) {
        if (!handle_number(state, "limits", name, value, 1, 100000, &number))
            return 0;
        limits->max_connections = (unsigned)number;
    } else {
        return fail(state, "[limits]: unknown key \"%s\"", name);
    }
    return 1;
}

static config_issuer *find_or_add_issuer(config *cfg, const char *id)
{
    config_issuer *grown;

    for (size_t i = 0; i < cfg->issuer_count; i++)
        if (strcmp(cfg->issuers[i].id, id) == 0)
            return &cfg->issuers[i];

    grown = realloc(cfg->issuers, (cfg->issuer_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    cfg->issuers = grown;
    memset(&grown[cfg->issuer_count], 0, sizeof(*grown));
    grown[cfg->issuer_count].id = strdup(id);
    if (grown[cfg->issuer_count].id == NULL)
        return NULL;
    return &grown[cfg->issuer_count++];
}

static config_rp *find_or_add_rp(config *cfg, const char *id)
{
    config_rp *grown;

    for (size_t i = 0; i < cfg->rp_count; i++)
        if (strcmp(cfg->rps[i].id, id) == 0)
            return &cfg->rps[i];

    grown = realloc(cfg->rps, (cfg->rp_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    cfg->rps = grown;
    memset(&grown[cfg->rp_count], 0, sizeof(*grown));
    grown[cfg->rp_count].id = strdup(id);
    if (grown[cfg->rp_count].id == NULL)
        return NULL;
    return &grown[cfg->rp_count++];
}

/* Finds or adds the mapping of a [client NAME] section, or of an [rp ID] section when
 * from_rp is set, so that [client rp x] and [rp x] stay apart. */
static config_client *find_or_add_client(config *cfg, const char *name, bool from_rp)
{
    config_client *grown;

    for (size_t i = 0; i < cfg->client_count; i++)
        if (cfg->clients[i].from_rp_section == from_rp &&
            strcmp(cfg->clients[i].name, name) == 0)
            return &cfg->clients[i];

    grown = realloc(cfg->clients, (cfg->client_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    cfg->clients = grown;
    memset(&grown[cfg->client_count], 0, sizeof(*grown));
    grown[cfg->client_count].from_rp_section = from_rp;
    grown[cfg->client_count].name = strdup(name);
    if (grown[cfg->client_count].name == NULL)
        return NULL;
    return &grown[cfg->client_count++];
}

static int handle_issuer(parse_state *state, const char *id, const char *name,
                         const char *value)
{
    config_issuer *issuer = find_or_add_issuer(state->cfg, id);

    if (issuer == NULL)
        return 0;
    if (strcmp(name, "entity_id") == 0)
        return set_string(&issuer->entity_id, value) == 0;
    if (strcmp(name, "certificate") == 0)
        return append_path(state, &issuer->pem_files, &issuer->pem_count, value) == 0;
    if (strcmp(name, "jurisdiction") == 0) {
        char where[160];

        snprintf(where, sizeof(where), "[issuer %.100s] jurisdiction", id);
        return check_jurisdiction(state, value, where) &&
               set_string(&issuer->jurisdiction, value) == 0;
    }
    return fail(state, "[issuer %s]: unknown key \"%s\"", id, name);
}

static int set_claims(config_rp *rp, const char *value)
{
    char *copy = strdup(value);
    char *saveptr = NULL;
    int rc = 0;

    if (copy == NULL)
        return -1;
    for (char *claim = strtok_r(copy, " \t,", &saveptr); claim != NULL;
         claim = strtok_r(NULL, " \t,", &saveptr)) {
        if (append_string(&rp->allowed_claims, &rp->allowed_count, claim) != 0) {
            rc = -1;
            break;
        }
    }
    free(copy);
    return rc;
}

/* Accepts a CN that a certificate can carry, so that the mapping can match: 1 to
 * CONFIG_CN_MAX_CHARS characters of UTF-8. An empty one would match every certificate
 * whose CN cannot be read. */
static int set_subject_cn(parse_state *state, const char *section, const char *id,
                          config_client *client, const char *value)
{
    long characters = config_utf8_characters(value);

    if (value[0] == '\0')
        return fail(state, "[%s %s] subject_cn: the value is empty; give the CN of the "
                    "client certificate, or use fingerprint", section, id);
    if (characters < 0)
        return fail(state, "[%s %s] subject_cn: \"%s\" is not valid UTF-8", section, id,
                    value);
    if (characters > CONFIG_CN_MAX_CHARS)
        return fail(state, "[%s %s] subject_cn: %ld characters, but a certificate's CN has "
                    "at most %d (RFC 5280 ub-common-name), so no certificate can match it",
                    section, id, characters, CONFIG_CN_MAX_CHARS);
    return set_string(&client->subject_cn, value) == 0;
}

static int set_match(parse_state *state, const char *section, const char *id,
                     config_client *client, const char *name, const char *value)
{
    if (strcmp(name, "subject_cn") == 0)
        return set_subject_cn(state, section, id, client, value);

    if (parse_fingerprint(value, client->fingerprint) != 0)
        return fail(state, "[%s %s] fingerprint: expected 64 hex digits of a SHA-256 "
                    "digest, got \"%s\"", section, id, value);
    client->has_fingerprint = true;
    return 1;
}

/* Reads a list of transfer mechanism names, separated by spaces or commas. */
static int set_mechanisms(parse_state *state, const char *id, config_rp *rp,
                          const char *value)
{
    char *copy = strdup(value);
    char *saveptr = NULL;
    int rc = 1;

    if (copy == NULL)
        return 0;
    rp->transfer_mechanisms = 0;
    for (char *name = strtok_r(copy, " \t,", &saveptr); name != NULL && rc == 1;
         name = strtok_r(NULL, " \t,", &saveptr)) {
        unsigned bit = 0;

        for (unsigned i = 0; i < POLICY_MECH_COUNT; i++)
            if (strcmp(policy_mechanism_name(1u << i), name) == 0)
                bit = 1u << i;
        if (bit == 0)
            rc = fail(state,
                      "[rp %s] transfer_mechanisms: \"%s\" is not adequacy, "
                      "standard-contract, certification, binding-corporate-rules, "
                      "security-assessment or asean-mcc",
                      id, name);
        rp->transfer_mechanisms |= bit;
    }
    free(copy);
    return rc;
}

static int handle_policy(parse_state *state, const char *name, const char *value)
{
    config_policy *policy = &state->cfg->policy;

    if (strcmp(name, "trust_list") == 0)
        return set_path(state, &policy->trust_file, value) == 0;
    if (strcmp(name, "bundle") == 0)
        return append_path(state, &policy->bundle_files, &policy->bundle_count, value) == 0;
    return fail(state, "[policy]: unknown key \"%s\"", name);
}

static config_regulator *find_or_add_regulator(config *cfg, const char *name)
{
    config_policy *policy = &cfg->policy;
    config_regulator *grown;

    for (size_t i = 0; i < policy->regulator_count; i++)
        if (strcmp(policy->regulators[i].name, name) == 0)
            return &policy->regulators[i];

    grown = realloc(policy->regulators, (policy->regulator_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return NULL;
    policy->regulators = grown;
    memset(&grown[policy->regulator_count], 0, sizeof(*grown));
    grown[policy->regulator_count].name = strdup(name);
    if (grown[policy->regulator_count].name == NULL)
        return NULL;
    return &grown[policy->regulator_count++];
}

int config_regulator_add_signs(config_regulator *regulator, const char *value,
                               char *error, size_t error_size)
{
    char *copy = strdup(value);
    char *saveptr = NULL;
    int rc = 0;

    if (copy == NULL) {
        snprintf(error, error_size, "out of memory");
        return -1;
    }
    for (char *item = strtok_r(copy, " \t,", &saveptr); item != NULL && rc == 0;
         item = strtok_r(NULL, " \t,", &saveptr)) {
        if (strcmp(item, "base") == 0) {
            regulator->signs_base = true;
        } else if (!is_alpha2(item)) {
            snprintf(error, error_size,
                     "\"%s\" is neither base nor an ISO 3166-1 alpha-2 code in capitals, "
                     "such as SG",
                     item);
            rc = -1;
        } else if (!iso3166_is_assigned(item)) {
            snprintf(error, error_size,
                     "\"%s\" is not an officially assigned ISO 3166-1 alpha-2 code. Use "
                     "the code that ISO assigns, such as GB for the United Kingdom",
                     item);
            rc = -1;
        } else if (append_string(&regulator->jurisdictions,
                                 &regulator->jurisdiction_count, item) != 0) {
            snprintf(error, error_size, "out of memory");
            rc = -1;
        }
    }
    free(copy);
    return rc;
}

/* Reads the one signs line of a [regulator] section; note_key rejects a second one. */
static int set_signs(parse_state *state, const char *name, config_regulator *regulator,
                     const char *value)
{
    char error[256];

    if (config_regulator_add_signs(regulator, value, error, sizeof(error)) != 0)
        return fail(state, "[regulator %s] signs: %s", name, error);
    return 1;
}

static int handle_regulator(parse_state *state, const char *name, const char *key,
                            const char *value)
{
    config_regulator *regulator = find_or_add_regulator(state->cfg, name);

    if (regulator == NULL)
        return 0;
    if (strcmp(key, "key") == 0) {
        int rc = append_path(state, &regulator->key_files, &regulator->key_count, value);

        return rc == 0;
    }
    if (strcmp(key, "signs") == 0)
        return set_signs(state, name, regulator, value);
    return fail(state, "[regulator %s]: unknown key \"%s\"", name, key);
}

static int handle_rp(parse_state *state, const char *id, const char *name,
                     const char *value)
{
    config_rp *rp = find_or_add_rp(state->cfg, id);
    config_client *client;

    if (rp == NULL)
        return 0;
    if (strcmp(name, "entity_id") == 0)
        return set_string(&rp->entity_id, value) == 0;
    if (strcmp(name, "jurisdiction") == 0) {
        char where[160];

        snprintf(where, sizeof(where), "[rp %.100s] jurisdiction", id);
        return check_jurisdiction(state, value, where) &&
               set_string(&rp->jurisdiction, value) == 0;
    }
    if (strcmp(name, "allowed_claims") == 0) {
        rp->allowed_claims_line = state->reader->line_number;
        return set_claims(rp, value) == 0;
    }
    if (strcmp(name, "transfer_mechanisms") == 0)
        return set_mechanisms(state, id, rp, value);
    if (strcmp(name, "name") == 0)
        return set_string(&rp->name, value) == 0;
    if (strcmp(name, "consent") == 0) {
        /* Used only on a node without [policy]; with bundles loaded, the engine's
         * consent_required decides and this setting is ignored. */
        if (strcmp(value, "always") != 0 && strcmp(value, "never") != 0)
            return fail(state, "[rp %s] consent: \"%s\" is not always or never", id, value);
        rp->consent_always = strcmp(value, "always") == 0;
        return 1;
    }
    if (strcmp(name, "subject_cn") != 0 && strcmp(name, "fingerprint") != 0)
        return fail(state, "[rp %s]: unknown key \"%s\"", id, name);

    /* A relying party's certificate match becomes a role mapping named "rp ID". */
    char client_name[256];
    snprintf(client_name, sizeof(client_name), "rp %s", id);
    client = find_or_add_client(state->cfg, client_name, true);
    if (client == NULL)
        return 0;
    client->role = ROLE_RP;
    if (set_string(&client->identity, id) != 0)
        return 0;
    return set_match(state, "rp", id, client, name, value);
}

static unsigned parse_role(const char *value)
{
    static const unsigned roles[] = {ROLE_ISSUER, ROLE_RP, ROLE_REGULATOR, ROLE_NODE};

    for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
        if (strcmp(value, config_role_name(roles[i])) == 0)
            return roles[i];
    return ROLE_NONE;
}

static int handle_client(parse_state *state, const char *name_in_section, const char *name,
                         const char *value)
{
    config_client *client = find_or_add_client(state->cfg, name_in_section, false);

    if (client == NULL)
        return 0;
    if (strcmp(name, "role") == 0) {
        client->role = parse_role(value);
        if (client->role == ROLE_NONE)
            return fail(state, "[client %s] role: \"%s\" is not one of issuer, rp, "
                        "regulator, node", name_in_section, value);
        return 1;
    }
    if (strcmp(name, "identity") == 0)
        return set_string(&client->identity, value) == 0;
    if (strcmp(name, "subject_cn") == 0 || strcmp(name, "fingerprint") == 0)
        return set_match(state, "client", name_in_section, client, name, value);
    return fail(state, "[client %s]: unknown key \"%s\"", name_in_section, name);
}

/* Adds an origin and its line, which a message about the origin names. */
static int add_origin(parse_state *state, config_web *web, const char *value)
{
    int *grown = realloc(web->origin_lines, (web->origin_count + 1) * sizeof(*grown));

    if (grown == NULL)
        return 0;
    web->origin_lines = grown;
    grown[web->origin_count] = state->reader->line_number;
    return append_string(&web->origins, &web->origin_count, value) == 0;
}

static int handle_webauthn(parse_state *state, const char *name, const char *value)
{
    config_web *web = &state->cfg->web;
    unsigned long number = 0;

    if (strcmp(name, "rp_id") == 0)
        return set_string(&web->rp_id, value) == 0;
    if (strcmp(name, "origin") == 0)
        return add_origin(state, web, value);
    if (strcmp(name, "attestation_root") == 0)
        return append_path(state, &web->root_files, &web->root_count, value) == 0;
    if (strcmp(name, "challenge_timeout") == 0) {
        if (!handle_number(state, "webauthn", name, value, 10, 600, &number))
            return 0;
        web->challenge_seconds = (unsigned)number;
        return 1;
    }
    if (strcmp(name, "max_signin_challenges") == 0) {
        if (!handle_number(state, "webauthn", name, value, 1, 100000, &number))
            return 0;
        web->max_signin_challenges = (unsigned)number;
        return 1;
    }
    if (strcmp(name, "attestation") != 0)
        return fail(state, "[webauthn]: unknown key \"%s\"", name);
    if (strcmp(value, "none") == 0)
        web->attestation = WEBAUTHN_ATTESTATION_ANY;
    else if (strcmp(value, "self") == 0)
        web->attestation = WEBAUTHN_ATTESTATION_SELF;
    else if (strcmp(value, "chain") == 0)
        web->attestation = WEBAUTHN_ATTESTATION_CHAIN;
    else
        return fail(state, "[webauthn] attestation: \"%s\" is not none, self or chain",
                    value);
    return 1;
}

static int handle_pages(parse_state *state, const char *name, const char *value)
{
    config_web *web = &state->cfg->web;
    unsigned long number = 0;

    if (strcmp(name, "assets") == 0)
        return set_path(state, &web->assets_dir, value) == 0;
    if (strcmp(name, "session_timeout") == 0) {
        if (!handle_number(state, "pages", name, value, 60, 3600, &number))
            return 0;
        web->session_seconds = (unsigned)number;
        return 1;
    }
    if (strcmp(name, "consent_timeout") == 0) {
        if (!handle_number(state, "pages", name, value, 60, 7 * 86400, &number))
            return 0;
        web->consent_seconds = (unsigned)number;
        return 1;
    }
    return fail(state, "[pages]: unknown key \"%s\"", name);
}

/* Reads "retention_days" (the default rule) or "retention_days.XX" (jurisdiction XX). */
static int handle_audit_retention(parse_state *state, const char *name, const char *value)
{
    config_audit *audit = &state->cfg->audit;
    const char *jurisdiction = name[strlen("retention_days")] == '.'
                                   ? name + strlen("retention_days") + 1
                                   : NULL;
    config_retention *grown;
    unsigned long number = 0;

    if (audit->retention_count == 0)
        return 0; /* set_defaults ran out of memory */
    if (!handle_number(state, "audit", name, value, 0, 100 * 366, &number))
        return 0;
    if (jurisdiction == NULL) {
        audit->retention[0].days = (unsigned)number;
        audit->retention[0].line = state->reader->line_number;
        return 1;
    }
    if (jurisdiction[0] == '\0')
        return fail(state, "[audit] %s: name a jurisdiction after the dot", name);
    if (!check_jurisdiction(state, jurisdiction, "[audit] retention_days.XX"))
        return 0;
    grown = realloc(audit->retention, (audit->retention_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return 0;
    audit->retention = grown;
    grown[audit->retention_count].days = (unsigned)number;
    grown[audit->retention_count].line = state->reader->line_number;
    grown[audit->retention_count].jurisdiction = strdup(jurisdiction);
    if (grown[audit->retention_count].jurisdiction == NULL)
        return 0;
    audit->retention_count++;
    return 1;
}

static int handle_audit(parse_state *state, const char *name, const char *value)
{
    unsigned long number = 0;

    if (strcmp(name, "checkpoint_interval") == 0) {
        if (!handle_number(state, "audit", name, value, 0, 86400, &number))
            return 0;
        state->cfg->audit.checkpoint_interval_seconds = (unsigned)number;
        state->cfg->audit.checkpoint_interval_line = state->reader->line_number;
        return 1;
    }
    if (strcmp(name, "retention_days") == 0 ||
        strncmp(name, "retention_days.", strlen("retention_days.")) == 0)
        return handle_audit_retention(state, name, value);
    return fail(state, "[audit]: unknown key \"%s\"", name);
}

/* Splits "kind NAME" section headers; returns NULL when section is not of that kind. */
static const char *section_argument(const char *section, const char *kind)
{
    size_t len = strlen(kind);

    if (strncmp(section, kind, len) != 0 || section[len] != ' ')
        return NULL;
    section += len;
    while (*section == ' ')
        section++;
    return *section != '\0' ? section : NULL;
}

bool config_section_known(const char *section)
{
    static const char *const fixed[] = {"server", "hsm",      "tls",   "saml",   "limits",
                                        "webauthn", "pages",  "audit", "policy", "database"};
    static const char *const named[] = {"issuer", "rp", "client", "regulator"};

    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(section, fixed[i]) == 0)
            return true;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (section_argument(section, named[i]) != NULL)
            return true;
    return false;
}

/* Whether each line of key adds a value, as for [tls] client_ca, instead of setting it. */
static bool key_repeatable(const char *section, const char *key)
{
    static const struct {
        const char *section; /* the section, or the kind of a named section */
        const char *key;
    } repeatable[] = {
        {"tls", "client_ca"},   {"policy", "bundle"},       {"webauthn", "origin"},
        {"webauthn", "attestation_root"}, {"issuer", "certificate"}, {"regulator", "key"},
        {"saml", "previous_certificate"}, {"saml", "next_certificate"},
    };
    size_t kind_length = strcspn(section, " ");

    for (size_t i = 0; i < sizeof(repeatable) / sizeof(repeatable[0]); i++)
        if (strlen(repeatable[i].section) == kind_length &&
            strncmp(section, repeatable[i].section, kind_length) == 0 &&
            strcmp(key, repeatable[i].key) == 0)
            return true;
    return false;
}

/* Rejects a second line of a key that takes one value, which would otherwise replace the
 * first value without notice. A section may be opened again further down, and its key
 * still counts once over all of its parts. */
static int note_key(parse_state *state, const char *raw_section, const char *key)
{
    char section[512];
    size_t kind_length = strcspn(raw_section, " ");
    const char *argument = raw_section + kind_length + strspn(raw_section + kind_length, " ");
    seen_key *grown;
    seen_key *added;

    /* The reader takes "[rp  bank]" as "[rp bank]", so the check must too. */
    if (*argument != '\0')
        snprintf(section, sizeof(section), "%.*s %s", (int)kind_length, raw_section,
                 argument);
    else
        snprintf(section, sizeof(section), "%s", raw_section);
    if (key_repeatable(section, key))
        return 1;
    for (size_t i = 0; i < state->seen_count; i++)
        if (strcmp(state->seen[i].section, section) == 0 &&
            strcmp(state->seen[i].key, key) == 0)
            return fail(state,
                        "[%s] %s is given twice, first on line %d. Give each key once per "
                        "section, and delete the line whose value you do not want",
                        section, key, state->seen[i].line);

    grown = realloc(state->seen, (state->seen_count + 1) * sizeof(*grown));
    if (grown == NULL)
        return 0;
    state->seen = grown;
    added = &grown[state->seen_count];
    added->section = strdup(section);
    added->key = strdup(key);
    added->line = state->reader->line_number;
    state->seen_count++; /* counted before the check, so that the free covers it */
    return added->section != NULL && added->key != NULL;
}

static void free_seen_keys(parse_state *state)
{
    for (size_t i = 0; i < state->seen_count; i++) {
        free(state->seen[i].section);
        free(state->seen[i].key);
    }
    free(state->seen);
    state->seen = NULL;
    state->seen_count = 0;
}

static int handle_entry(void *user, const char *section, const char *name,
                        const char *value)
{
    parse_state *state = user;
    const char *argument;

    if (!note_key(state, section, name))
        return 0;
    if (strcmp(section, "server") == 0)
        return handle_server(state, name, value);
    if (strcmp(section, "hsm") == 0)
        return handle_hsm(state, name, value);
    if (strcmp(section, "tls") == 0)
        return handle_tls(state, name, value);
    if (strcmp(section, "saml") == 0)
        return handle_saml(state, name, value);
    if (strcmp(section, "limits") == 0)
        return handle_limits(state, name, value);
    if (strcmp(section, "webauthn") == 0)
        return handle_webauthn(state, name, value);
    if (strcmp(section, "pages") == 0)
        return handle_pages(state, name, value);
    if (strcmp(section, "audit") == 0)
        return handle_audit(state, name, value);
    if (strcmp(section, "policy") == 0)
        return handle_policy(state, name, value);
    if (strcmp(section, "database") == 0) {
        if (strcmp(name, "path") == 0)
            return set_path(state, &state->cfg->database_path, value) == 0;
        return fail(state, "[database]: unknown key \"%s\"", name);
    }
    if ((argument = section_argument(section, "issuer")) != NULL)
        return handle_issuer(state, argument, name, value);
    if ((argument = section_argument(section, "rp")) != NULL)
        return handle_rp(state, argument, name, value);
    if ((argument = section_argument(section, "client")) != NULL)
        return handle_client(state, argument, name, value);
    if ((argument = section_argument(section, "regulator")) != NULL)
        return handle_regulator(state, argument, name, value);
    return fail(state, "unknown section [%s]", section);
}

static void set_defaults(config *cfg)
{
    /* The default retention rule always exists, so that [audit] can overwrite it. */
    cfg->audit.retention = calloc(1, sizeof(*cfg->audit.retention));
    cfg->audit.retention_count = cfg->audit.retention != NULL ? 1 : 0;
    cfg->audit.checkpoint_interval_seconds = 300;
    cfg->port = 8443;
    cfg->retry_after_seconds = 30;
    cfg->result_validity_seconds = 300;
    cfg->clock_skew_seconds = 60;
    cfg->limits.max_body_bytes = 256 * 1024;
    cfg->limits.max_json_depth = 8;
    cfg->limits.max_string_bytes = 128 * 1024;
    cfg->limits.threads = 4;
    cfg->limits.connection_timeout_seconds = 30;
    cfg->limits.max_connections = 1024;
    cfg->web.attestation = WEBAUTHN_ATTESTATION_SELF;
    cfg->web.challenge_seconds = 120;
    cfg->web.max_signin_challenges = 1000;
    cfg->web.session_seconds = 600;
    cfg->web.consent_seconds = 900;
}

static int check_required(parse_state *state)
{
    const config *cfg = state->cfg;
    const struct {
        const char *value;
        const char *name;
    } required[] = {
        {cfg->listen_address, "[server] listen"},
        {cfg->entity_id, "[server] entity_id"},
        {cfg->jurisdiction, "[server] jurisdiction"},
        {cfg->token_label, "[hsm] token_label"},
        {cfg->tls_key_uri, "[hsm] tls_key"},
        {cfg->saml_key_uri, "[hsm] saml_key"},
        {cfg->certificate_file, "[tls] certificate"},
        {cfg->database_path, "[database] path"},
    };

    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (required[i].value == NULL)
            return fail(state, "%s is missing", required[i].name);
    if ((cfg->pin_file == NULL) == (cfg->pin_env == NULL))
        return fail(state, "[hsm] needs exactly one of pin_file and pin_env");
    if (cfg->client_ca_count == 0)
        return fail(state, "[tls] client_ca is missing: mutual TLS needs at least one CA");
    if (cfg->public_port == cfg->port)
        return fail(state, "[server] public_port must differ from port");
    if (cfg->policy.bundle_count > 0 && cfg->policy.trust_file == NULL &&
        cfg->policy.regulator_count == 0)
        return fail(state, "[policy] bundle needs regulator keys: add a [regulator NAME] "
                           "section with key and signs");
    if (cfg->policy.bundle_count == 0 &&
        (cfg->policy.trust_file != NULL || cfg->policy.regulator_count > 0))
        return fail(state, "[policy] trust_list and [regulator] sections need at least "
                           "one [policy] bundle");
    if (cfg->web.rp_id != NULL && cfg->web.origin_count == 0)
        return fail(state, "[webauthn] rp_id needs at least one origin");
    if (cfg->web.attestation == WEBAUTHN_ATTESTATION_CHAIN && cfg->web.root_count == 0)
        return fail(state, "[webauthn] attestation = chain needs an attestation_root");
    if (strncmp(cfg->tls_key_uri, "pkcs11:", 7) != 0 ||
        strncmp(cfg->saml_key_uri, "pkcs11:", 7) != 0)
        return fail(state, "[hsm] tls_key and saml_key must be pkcs11: URIs");
    return 1;
}

/* Whether a certificate can reach relying party id: through the subject_cn or
 * fingerprint of its own section, or a [client] of role rp with identity id. */
static bool rp_has_match(const config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->client_count; i++)
        if (cfg->clients[i].role == ROLE_RP && cfg->clients[i].identity != NULL &&
            strcmp(cfg->clients[i].identity, id) == 0)
            return true;
    return false;
}

/* Rejects an [rp ID] section that no certificate maps to, because that relying party
 * could never call. A [client] section without subject_cn or fingerprint is rejected
 * for the same reason. */
static int check_rp_matches(parse_state *state)
{
    const config *cfg = state->cfg;

    for (size_t i = 0; i < cfg->rp_count; i++)
        if (!rp_has_match(cfg, cfg->rps[i].id))
            return fail(state,
                        "[rp %s] needs subject_cn or fingerprint, or a [client NAME] "
                        "section with role = rp and identity = %s, so that its client "
                        "certificate maps to it",
                        cfg->rps[i].id, cfg->rps[i].id);
    return 1;
}

/* Rejects a name in allowed_claims that is not in the claims catalogue, when no policy
 * bundle is loaded. With bundles the names are those of the bundles' catalogue, which
 * the policy engine checks when it loads them. */
static int check_claim_names(parse_state *state)
{
    const config *cfg = state->cfg;

    if (cfg->policy.bundle_count > 0)
        return 1;
    for (size_t i = 0; i < cfg->rp_count; i++) {
        const config_rp *rp = &cfg->rps[i];

        for (size_t k = 0; k < rp->allowed_count; k++) {
            if (saml_claim_by_name(rp->allowed_claims[k]) != NULL)
                continue;
            state->error_line = rp->allowed_claims_line;
            return fail(state,
                        "[rp %s] allowed_claims: \"%s\" is not a claim name of the claims "
                        "catalogue, such as given_name, family_name or date_of_birth "
                        "(docs/saml-profile.md lists them)",
                        rp->id, rp->allowed_claims[k]);
        }
    }
    return 1;
}

static int check_sections(parse_state *state)
{
    const config *cfg = state->cfg;

    for (size_t i = 0; i < cfg->issuer_count; i++)
        if (cfg->issuers[i].entity_id == NULL || cfg->issuers[i].pem_count == 0)
            return fail(state, "[issuer %s] needs entity_id and at least one certificate",
                        cfg->issuers[i].id);

    for (size_t i = 0; i < cfg->rp_count; i++)
        if (cfg->rps[i].entity_id == NULL || cfg->rps[i].jurisdiction == NULL)
            return fail(state, "[rp %s] needs entity_id and jurisdiction", cfg->rps[i].id);

    for (size_t i = 0; i < cfg->policy.regulator_count; i++) {
        const config_regulator *regulator = &cfg->policy.regulators[i];

        if (regulator->key_count == 0)
            return fail(state, "[regulator %s] needs at least one key", regulator->name);
        if (!regulator->signs_base && regulator->jurisdiction_count == 0)
            return fail(state,
                        "[regulator %s] signs is missing: list base, jurisdiction "
                        "codes or both",
                        regulator->name);
    }

    for (size_t i = 0; i < cfg->client_count; i++) {
        const config_client *client = &cfg->clients[i];
        char section[300];

        if (client->role == ROLE_NONE)
            return fail(state, "[client %s] role is missing", client->name);
        if (client->subject_cn == NULL && !client->has_fingerprint)
            return fail(state, "[%s] needs subject_cn or fingerprint",
                        config_client_section(client, section, sizeof(section)));
        if (client->role == ROLE_RP &&
            (client->identity == NULL || config_find_rp(cfg, client->identity) == NULL))
            return fail(state, "[client %s] has role rp, so identity must name an "
                        "[rp ID] section", client->name);
    }
    return check_rp_matches(state);
}

/* Rejects two mappings for one certificate, which would make the role ambiguous. */
static int check_unique_clients(parse_state *state)
{
    const config *cfg = state->cfg;

    for (size_t i = 0; i < cfg->client_count; i++) {
        for (size_t j = i + 1; j < cfg->client_count; j++) {
            const config_client *a = &cfg->clients[i];
            const config_client *b = &cfg->clients[j];

            char first[300];
            char second[300];

            config_client_section(a, first, sizeof(first));
            config_client_section(b, second, sizeof(second));
            if (a->has_fingerprint && b->has_fingerprint &&
                memcmp(a->fingerprint, b->fingerprint, 32) == 0)
                return fail(state, "[%s] and [%s] map the same fingerprint", first, second);
            if (a->subject_cn != NULL && b->subject_cn != NULL &&
                strcmp(a->subject_cn, b->subject_cn) == 0)
                return fail(state, "[%s] and [%s] map the same subject_cn", first, second);
        }
    }
    return 1;
}

static int fill_identities(config *cfg)
{
    for (size_t i = 0; i < cfg->client_count; i++)
        if (cfg->clients[i].identity == NULL &&
            set_string(&cfg->clients[i].identity, cfg->clients[i].name) != 0)
            return -1;
    return 0;
}

static char *folder_of(const char *path)
{
    char *copy = strdup(path);
    char *slash;

    if (copy == NULL)
        return NULL;
    slash = strrchr(copy, '/');
    if (slash == NULL) {
        free(copy);
        return NULL;
    }
    if (slash == copy)
        slash[1] = '\0';
    else
        *slash = '\0';
    return copy;
}

/*
 * Rejects retention_days above 0 with checkpoint_interval = 0. The audit log purges
 * payloads on its checkpoint thread, and that thread does not run without an interval,
 * so the retention rule would never apply.
 */
static int check_audit_retention(parse_state *state)
{
    const config_audit *audit = &state->cfg->audit;

    if (audit->checkpoint_interval_seconds > 0)
        return 1;
    for (size_t i = 0; i < audit->retention_count; i++) {
        const config_retention *rule = &audit->retention[i];

        if (rule->days == 0)
            continue;
        state->error_line = audit->checkpoint_interval_line;
        return fail(
            state,
            "[audit] checkpoint_interval = 0 turns off the checkpoint thread, which "
            "also purges payloads, so retention_days%s%s = %u on line %d would "
            "never apply. Set checkpoint_interval above 0, or retention_days to 0",
            rule->jurisdiction != NULL ? "." : "",
            rule->jurisdiction != NULL ? rule->jurisdiction : "", rule->days, rule->line);
    }
    return 1;
}

/* Runs the checks that need the whole file, such as a missing required key. Returns 0,
 * or -1 with the error in state. */
static int check_whole_file(parse_state *state)
{
    if (!check_required(state) || !check_sections(state) || !check_claim_names(state) ||
        !check_unique_clients(state) || !check_audit_retention(state))
        return -1;
    if (fill_identities(state->cfg) != 0) {
        snprintf(state->error, sizeof(state->error), "out of memory");
        return -1;
    }
    if (config_check_entity_ids(state->cfg, state->error, sizeof(state->error)) != 0 ||
        config_check_web(&state->cfg->web, &state->error_line, state->error,
                         sizeof(state->error)) != 0)
        return -1;
    return 0;
}

/* Formats the error of check_whole_file with the file name, and the line when one value
 * is at fault. */
static void report_whole_file_error(const parse_state *state, const char *path,
                                    char *error, size_t error_size)
{
    const char *message = state->error[0] != '\0' ? state->error : "out of memory";

    if (state->error_line > 0)
        snprintf(error, error_size, "%s:%d: %s", path, state->error_line, message);
    else
        snprintf(error, error_size, "%s: %s", path, message);
}

int config_load(const char *path, config **out, char *error, size_t error_size)
{
    parse_state state = {0};
    line_reader reader = {0};
    int line;
    int rc = -1;

    *out = NULL;
    state.cfg = calloc(1, sizeof(*state.cfg));
    if (state.cfg == NULL || (state.cfg->path = strdup(path)) == NULL) {
        snprintf(error, error_size, "out of memory");
        goto out;
    }
    set_defaults(state.cfg);
    state.dir = folder_of(path);

    /* These settings of libinih are process-wide, and only configuration loading uses it.
     * With the heap buffer and realloc off, libinih r55 allocates ini_initial_alloc bytes
     * and ignores ini_max_line. The extra byte is for the terminating NUL. */
    ini_use_stack = false;
    ini_allow_realloc = false;
    ini_initial_alloc = CONFIG_MAX_LINE + 1;
    ini_max_line = CONFIG_MAX_LINE + 1;
    ini_allow_multiline = false;
    ini_stop_on_first_error = true;

    reader.file = pem_file_open_regular(path, error, error_size);
    if (reader.file == NULL)
        goto out;
    state.reader = &reader;
    line = ini_parse_stream(config_read_line, &reader, handle_entry, &state);
    if (reader.error[0] != '\0') {
        snprintf(error, error_size, "%s:%s", path, reader.error);
        goto out;
    }
    if (line == -2) {
        snprintf(error, error_size, "%s: out of memory", path);
        goto out;
    }
    if (line != 0) {
        snprintf(error, error_size, "%s:%d: %s", path, line,
                 state.error[0] != '\0' ? state.error
                                          : "libinih rejected the line, or memory ran out");
        goto out;
    }

    if (check_whole_file(&state) != 0) {
        report_whole_file_error(&state, path, error, error_size);
        goto out;
    }
    config_digest_start_files(state.cfg);

    *out = state.cfg; /* ownership passes to the caller */
    state.cfg = NULL;
    rc = 0;
out:
    if (reader.file != NULL)
        fclose(reader.file);
    free(reader.line);
    config_free(&state.cfg);
    free(state.dir);
    free_seen_keys(&state);
    return rc;
}

static void free_list(char **list, size_t count)
{
    for (size_t i = 0; i < count; i++)
        free(list[i]);
    free(list);
}

void config_free(config **cfg_ptr)
{
    config *cfg;

    if (cfg_ptr == NULL || *cfg_ptr == NULL)
        return;
    cfg = *cfg_ptr;

    free(cfg->path);
    free(cfg->listen_address);
    free(cfg->entity_id);
    free(cfg->public_url);
    free(cfg->jurisdiction);
    free(cfg->policy.trust_file);
    free_list(cfg->policy.bundle_files, cfg->policy.bundle_count);
    for (size_t i = 0; i < cfg->policy.regulator_count; i++) {
        free(cfg->policy.regulators[i].name);
        free_list(cfg->policy.regulators[i].key_files,
                  cfg->policy.regulators[i].key_count);
        free_list(cfg->policy.regulators[i].jurisdictions,
                  cfg->policy.regulators[i].jurisdiction_count);
    }
    free(cfg->policy.regulators);
    free(cfg->module_path);
    free(cfg->token_label);
    free(cfg->pin_file);
    free(cfg->pin_env);
    free(cfg->tls_key_uri);
    free(cfg->saml_key_uri);
    free(cfg->certificate_file);
    free_list(cfg->client_ca_files, cfg->client_ca_count);
    free(cfg->saml_certificate_file);
    free_list(cfg->saml_previous_files, cfg->saml_previous_count);
    free_list(cfg->saml_next_files, cfg->saml_next_count);
    free(cfg->database_path);
    for (size_t i = 0; i < cfg->audit.retention_count; i++)
        free(cfg->audit.retention[i].jurisdiction);
    free(cfg->audit.retention);
    free(cfg->web.rp_id);
    free_list(cfg->web.origins, cfg->web.origin_count);
    free(cfg->web.origin_lines);
    free_list(cfg->web.root_files, cfg->web.root_count);
    free(cfg->web.assets_dir);

    for (size_t i = 0; i < cfg->issuer_count; i++) {
        free(cfg->issuers[i].id);
        free(cfg->issuers[i].entity_id);
        free(cfg->issuers[i].jurisdiction);
        free_list(cfg->issuers[i].pem_files, cfg->issuers[i].pem_count);
    }
    free(cfg->issuers);

    for (size_t i = 0; i < cfg->rp_count; i++) {
        free(cfg->rps[i].id);
        free(cfg->rps[i].entity_id);
        free(cfg->rps[i].jurisdiction);
        free(cfg->rps[i].name);
        free_list(cfg->rps[i].allowed_claims, cfg->rps[i].allowed_count);
    }
    free(cfg->rps);

    for (size_t i = 0; i < cfg->client_count; i++) {
        free(cfg->clients[i].name);
        free(cfg->clients[i].identity);
        free(cfg->clients[i].subject_cn);
    }
    free(cfg->clients);

    free(cfg);
    *cfg_ptr = NULL;
}

const char *config_client_section(const config_client *client, char *buffer, size_t size)
{
    if (client->from_rp_section)
        snprintf(buffer, size, "%s", client->name);
    else
        snprintf(buffer, size, "client %s", client->name);
    return buffer;
}

const config_rp *config_find_rp(const config *cfg, const char *id)
{
    for (size_t i = 0; i < cfg->rp_count; i++)
        if (strcmp(cfg->rps[i].id, id) == 0)
            return &cfg->rps[i];
    return NULL;
}

static const config_client *match_fingerprint(const config *cfg,
                                              const unsigned char fingerprint[32])
{
    for (size_t i = 0; i < cfg->client_count; i++)
        if (cfg->clients[i].has_fingerprint &&
            memcmp(cfg->clients[i].fingerprint, fingerprint, 32) == 0)
            return &cfg->clients[i];
    return NULL;
}

static const config_client *match_subject_cn(const config *cfg, const char *subject_cn)
{
    if (subject_cn == NULL || subject_cn[0] == '\0')
        return NULL;
    /* A mapping that names a fingerprint never matches by CN alone. */
    for (size_t i = 0; i < cfg->client_count; i++)
        if (!cfg->clients[i].has_fingerprint && cfg->clients[i].subject_cn != NULL &&
            strcmp(cfg->clients[i].subject_cn, subject_cn) == 0)
            return &cfg->clients[i];
    return NULL;
}

const config_client *config_match_client(const config *cfg, const char *subject_cn,
                                         const unsigned char fingerprint[32],
                                         const config_client *conflict[2])
{
    const config_client *by_fingerprint = match_fingerprint(cfg, fingerprint);
    const config_client *by_cn = match_subject_cn(cfg, subject_cn);

    if (conflict != NULL) {
        conflict[0] = NULL;
        conflict[1] = NULL;
    }
    /* config_load rejects two sections with the same fingerprint or the same CN, so
     * each search finds at most one section, and only the pair can disagree. */
    if (by_fingerprint != NULL && by_cn != NULL && by_fingerprint != by_cn) {
        if (conflict != NULL) {
            conflict[0] = by_fingerprint;
            conflict[1] = by_cn;
        }
        return NULL;
    }
    return by_fingerprint != NULL ? by_fingerprint : by_cn;
}

bool config_rp_allows(const config_rp *rp, const char *claim)
{
    for (size_t i = 0; i < rp->allowed_count; i++)
        if (strcmp(rp->allowed_claims[i], claim) == 0)
            return true;
    return false;
}

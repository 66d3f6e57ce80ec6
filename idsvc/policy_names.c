/* Wire names of the policy engine's enums, errors and times. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "policy_internal.h"

static int find_name(const char *const *names, size_t count, const char *name)
{
    for (size_t i = 0; i < count; i++) {
        if (names[i] != NULL && strcmp(names[i], name) == 0)
            return (int)i;
    }
    return -1;
}

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))

static const char *const error_names[] = {
    [POLICY_E_NONE] = "none",
    [POLICY_E_IO] = "io_error",
    [POLICY_E_MALFORMED] = "malformed_xml",
    [POLICY_E_SCHEMA] = "schema_invalid",
    [POLICY_E_SEMANTIC] = "bundle_invalid",
    [POLICY_E_UNSIGNED] = "signature_missing",
    [POLICY_E_SIGNATURE] = "signature_invalid",
    [POLICY_E_SIGNED] = "bundle_already_signed",
    [POLICY_E_UNTRUSTED] = "key_untrusted",
    [POLICY_E_NOT_AUTHORISED] = "key_not_authorised",
    [POLICY_E_TRUST] = "trust_invalid",
    [POLICY_E_NOT_YET] = "bundle_not_yet_effective",
    [POLICY_E_EXPIRED] = "bundle_expired",
    [POLICY_E_SET] = "policy_set_invalid",
    [POLICY_E_REQUEST] = "request_invalid",
    [POLICY_E_HSM] = "hsm_error",
    [POLICY_E_NO_MEMORY] = "no_memory",
};

const char *policy_error_name(policy_error_code code)
{
    if ((size_t)code >= COUNT(error_names))
        return "unknown";
    return error_names[code];
}

const char *policy_error_code_of(const policy_error *err)
{
    return err->check[0] != '\0' ? err->check : policy_error_name(err->code);
}

static const char *const class_names[] = {
    "basic", "contact", "identifier", "financial", "biometric", "sensitive", "derived",
};
static const char *const effect_names[] = {"disclose", "disclose-derived", "withhold"};
static const char *const consent_names[] = {"none", "explicit", "separate-cross-border"};
static const char *const assurance_names[] = {"low", "substantial", "high"};
static const char *const mechanism_names[] = {
    "adequacy",
    "standard-contract",
    "certification",
    "binding-corporate-rules",
    "security-assessment",
    "asean-mcc",
};
static const char *const scope_names[] = {"any", "domestic", "cross-border"};
static const char *const derivation_names[] = {
    NULL, "age-over", "country-of", "present", "assurance-level",
};
static const char *const reason_names[] = {
    "rule",
    "no_rule",
    "unknown_claim",
    "consent_required",
    "transfer_mechanism_missing",
    "assurance_too_low",
    "retention_too_long",
    "value_missing",
    "derivation_failed",
    "source_ambiguous",
};
static const char *const outcome_names[] = {"disclosed", "derived", "withheld"};
static const char *const overall_names[] = {"permit", "partial", "consent_required",
                                            "deny"};
static const char *const trace_names[] = {
    "won",
    "combined",
    "overridden_by_stronger_effect",
    "overridden_by_more_specific",
    "overridden_by_other_bundle",
    "withholds_source",
    "overridden_by_source_withhold",
    "base_has_no_rule",
    "adds_stand_in_conditions",
    "withholds_stand_in",
    "relying_party_not_matched",
    "scope_not_matched",
    "purpose_not_matched",
};

int policy_class_from_name(const char *name)
{
    return find_name(class_names, COUNT(class_names), name);
}

const char *policy_class_name(policy_class klass)
{
    return (size_t)klass < COUNT(class_names) ? class_names[klass] : "unknown";
}

int policy_effect_from_name(const char *name)
{
    return find_name(effect_names, COUNT(effect_names), name);
}

const char *policy_effect_name(policy_effect effect)
{
    return (size_t)effect < COUNT(effect_names) ? effect_names[effect] : "unknown";
}

int policy_consent_from_name(const char *name)
{
    return find_name(consent_names, COUNT(consent_names), name);
}

const char *policy_consent_name(policy_consent consent)
{
    return (size_t)consent < COUNT(consent_names) ? consent_names[consent] : "unknown";
}

int policy_assurance_from_name(const char *name)
{
    return find_name(assurance_names, COUNT(assurance_names), name);
}

const char *policy_assurance_name(policy_assurance assurance)
{
    return (size_t)assurance < COUNT(assurance_names) ? assurance_names[assurance]
                                                      : "unknown";
}

int policy_mechanism_from_name(const char *name)
{
    int index = find_name(mechanism_names, COUNT(mechanism_names), name);

    return index < 0 ? -1 : (int)(1u << index);
}

const char *policy_mechanism_name(unsigned bit)
{
    for (size_t i = 0; i < COUNT(mechanism_names); i++) {
        if (bit == (1u << i))
            return mechanism_names[i];
    }
    return "unknown";
}

int policy_scope_from_name(const char *name)
{
    return find_name(scope_names, COUNT(scope_names), name);
}

const char *policy_scope_name(policy_scope scope)
{
    return (size_t)scope < COUNT(scope_names) ? scope_names[scope] : "unknown";
}

int policy_derivation_from_name(const char *name)
{
    return find_name(derivation_names, COUNT(derivation_names), name);
}

const char *policy_reason_name(policy_reason reason)
{
    return (size_t)reason < COUNT(reason_names) ? reason_names[reason] : "unknown";
}

const char *policy_outcome_name(policy_outcome_kind outcome)
{
    return (size_t)outcome < COUNT(outcome_names) ? outcome_names[outcome] : "unknown";
}

const char *policy_overall_name(policy_overall overall)
{
    return (size_t)overall < COUNT(overall_names) ? overall_names[overall] : "unknown";
}

const char *policy_trace_status_name(policy_trace_status status)
{
    return (size_t)status < COUNT(trace_names) ? trace_names[status] : "unknown";
}

int policy_fail(policy_error *err, policy_error_code code, int line, const char *format,
                ...)
{
    va_list args;

    if (err == NULL)
        return -1;
    err->code = code;
    err->line = line;
    err->field[0] = '\0';
    err->check[0] = '\0';
    va_start(args, format);
    vsnprintf(err->message, sizeof(err->message), format, args);
    va_end(args);
    return -1;
}

/* Converts tm with timegm, and returns -1 when timegm had to normalise it: a day that
 * the month lacks, such as 30 February, a leap second, or a negative field. */
static int timegm_exact(const struct tm *tm, time_t *out)
{
    struct tm copy = *tm;
    struct tm back;
    time_t t = timegm(&copy);

    if (gmtime_r(&t, &back) == NULL || back.tm_year != tm->tm_year ||
        back.tm_mon != tm->tm_mon || back.tm_mday != tm->tm_mday ||
        back.tm_hour != tm->tm_hour || back.tm_min != tm->tm_min ||
        back.tm_sec != tm->tm_sec)
        return -1;
    *out = t;
    return 0;
}

/* Tells whether text has the form YYYY-MM-DDTHH:MM:SSZ: digits where digits belong, so
 * that no sign, space or other padding passes for a digit. */
static bool is_utc_form(const char *text)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";

    if (strlen(text) != sizeof(pattern) - 1)
        return false;
    for (size_t i = 0; pattern[i] != '\0'; i++) {
        bool digit = text[i] >= '0' && text[i] <= '9';

        if (pattern[i] == 'd' ? !digit : text[i] != pattern[i])
            return false;
    }
    return true;
}

int policy_parse_utc(const char *text, time_t *out)
{
    struct tm tm;

    memset(&tm, 0, sizeof(tm));
    if (!is_utc_form(text) ||
        sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
               &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
        return -1;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -1;

    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return timegm_exact(&tm, out);
}

void policy_format_utc(time_t t, char *buf, size_t size)
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

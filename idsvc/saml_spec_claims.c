/*
 * The claims catalogue: each claim's JSON key, SAML Attribute Name and FriendlyName,
 * and the syntax its values must have. docs/saml-profile.md describes the same table.
 *
 * Claims with a standard attribute use its OID: X.500 (2.5.4.x), the RFC 3739 personal
 * data attributes (1.3.6.1.5.5.7.9.x) and the COSINE mail attribute. The others are
 * this profile's own URNs under urn:idsvc:claim:.
 */
#include "saml_build.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "iso3166.h"

#define IDSVC_CLAIM(key) "urn:idsvc:claim:" key

static const saml_claim CATALOGUE[] = {
    {"given_name", "urn:oid:2.5.4.42", "givenName", SAML_CLAIM_TEXT, false, false},
    {"family_name", "urn:oid:2.5.4.4", "sn", SAML_CLAIM_TEXT, false, false},
    {"full_name", "urn:oid:2.5.4.3", "cn", SAML_CLAIM_TEXT, false, false},
    {"date_of_birth", "urn:oid:1.3.6.1.5.5.7.9.1", "dateOfBirth", SAML_CLAIM_DATE, false,
     true},
    {"place_of_birth", "urn:oid:1.3.6.1.5.5.7.9.2", "placeOfBirth", SAML_CLAIM_TEXT,
     false, false},
    {"nationality", "urn:oid:1.3.6.1.5.5.7.9.4", "countryOfCitizenship",
     SAML_CLAIM_COUNTRY, true, false},
    {"residence_country", "urn:oid:1.3.6.1.5.5.7.9.5", "countryOfResidence",
     SAML_CLAIM_COUNTRY, false, false},
    {"email", "urn:oid:0.9.2342.19200300.100.1.3", "mail", SAML_CLAIM_TEXT, false, false},
    {"phone_number", "urn:oid:2.5.4.20", "telephoneNumber", SAML_CLAIM_TEXT, false, false},
    {"residential_address", IDSVC_CLAIM("residential_address"), "residentialAddress",
     SAML_CLAIM_TEXT, false, false},
    {"document_type", IDSVC_CLAIM("document_type"), "documentType", SAML_CLAIM_TEXT,
     false, false},
    {"document_number", IDSVC_CLAIM("document_number"), "documentNumber", SAML_CLAIM_TEXT,
     false, false},
    {"document_country", IDSVC_CLAIM("document_country"), "documentCountry",
     SAML_CLAIM_COUNTRY, false, false},
    {"document_expiry", IDSVC_CLAIM("document_expiry"), "documentExpiry", SAML_CLAIM_DATE,
     false, false},
    {"kyc_level", IDSVC_CLAIM("kyc_level"), "kycLevel", SAML_CLAIM_TEXT, false, false},
    {"kyc_method", IDSVC_CLAIM("kyc_method"), "kycMethod", SAML_CLAIM_TEXT, true, false},
    {"kyc_date", IDSVC_CLAIM("kyc_date"), "kycDate", SAML_CLAIM_DATE, false, true},
};

#define CATALOGUE_SIZE (sizeof(CATALOGUE) / sizeof(CATALOGUE[0]))

const saml_claim *saml_claim_by_name(const char *name)
{
    for (size_t i = 0; i < CATALOGUE_SIZE; i++) {
        if (strcmp(CATALOGUE[i].name, name) == 0)
            return &CATALOGUE[i];
    }
    return NULL;
}

const saml_claim *saml_claim_by_uri(const char *uri)
{
    for (size_t i = 0; i < CATALOGUE_SIZE; i++) {
        if (strcmp(CATALOGUE[i].uri, uri) == 0)
            return &CATALOGUE[i];
    }
    return NULL;
}

const saml_claim *saml_claim_by_uri_ignoring_case(const char *uri)
{
    for (size_t i = 0; i < CATALOGUE_SIZE; i++) {
        if (strcasecmp(CATALOGUE[i].uri, uri) == 0)
            return &CATALOGUE[i];
    }
    return NULL;
}

static bool is_leap_year(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

/* Accepts YYYY-MM-DD with a real calendar day; xs:date time zones are not used. */
static bool is_date(const char *value)
{
    static const int days_in_month[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int year;
    int month;
    int day;
    int max_day;

    if (strlen(value) != 10 || value[4] != '-' || value[7] != '-')
        return false;
    for (size_t i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (value[i] < '0' || value[i] > '9'))
            return false;
    }

    year = (value[0] - '0') * 1000 + (value[1] - '0') * 100 + (value[2] - '0') * 10 +
           (value[3] - '0');
    month = (value[5] - '0') * 10 + (value[6] - '0');
    day = (value[8] - '0') * 10 + (value[9] - '0');
    if (year < 1 || month < 1 || month > 12 || day < 1)
        return false;

    max_day = days_in_month[month - 1];
    if (month == 2 && is_leap_year(year))
        max_day = 29;
    return day <= max_day;
}

int saml_claim_check_value(const saml_claim *claim, const char *value, char *reason,
                           size_t reason_size)
{
    if (saml_text_check(value, reason, reason_size) != 0)
        return -1;
    if (value[0] == '\0') {
        snprintf(reason, reason_size, "is empty");
        return -1;
    }
    if (claim == NULL)
        return 0;

    if (claim->syntax == SAML_CLAIM_DATE && !is_date(value)) {
        snprintf(reason, reason_size, "is not a date in the form YYYY-MM-DD");
        return -1;
    }
    if (claim->syntax == SAML_CLAIM_COUNTRY && !iso3166_is_assigned(value)) {
        snprintf(reason, reason_size,
                 "is not an officially assigned ISO 3166-1 alpha-2 code in capitals, "
                 "such as GB");
        return -1;
    }
    return 0;
}

/* Returns whether the code point has Unicode's White_Space property, such as U+00A0
 * NO-BREAK SPACE and U+3000 IDEOGRAPHIC SPACE. */
static bool is_unicode_space(unsigned long c)
{
    return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Returns how many continuation bytes follow a UTF-8 lead byte. */
static size_t utf8_continuations(unsigned char lead)
{
    if (lead < 0x80)
        return 0;
    if (lead < 0xE0)
        return 1;
    if (lead < 0xF0)
        return 2;
    return 3;
}

bool saml_text_is_blank(const char *text)
{
    const unsigned char *p = (const unsigned char *)text;

    while (*p != '\0') {
        unsigned long c = *p;
        size_t extra = utf8_continuations(*p);

        if (extra > 0)
            c &= 0x3F >> extra;
        for (size_t i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false; /* not UTF-8, which saml_text_check rejects anyway */
            c = c << 6 | (p[i] & 0x3F);
        }
        if (!is_unicode_space(c))
            return false;
        p += extra + 1;
    }
    return true;
}

int saml_claim_check_issued(const saml_claim *claim, const char *value, time_t now,
                            char *reason, size_t reason_size)
{
    char latest[16];
    struct tm day;
    time_t tomorrow = now + 24 * 60 * 60;

    if (saml_text_is_blank(value)) {
        snprintf(reason, reason_size, "contains only white space");
        return -1;
    }
    if (claim == NULL || !claim->past_date)
        return 0;
    /* Tomorrow in UTC is today somewhere east of UTC, up to UTC+14. */
    if (gmtime_r(&tomorrow, &day) == NULL ||
        strftime(latest, sizeof(latest), "%Y-%m-%d", &day) != 10) {
        snprintf(reason, reason_size, "cannot be compared with the node's clock");
        return -1;
    }
    /* Both are YYYY-MM-DD, so the text order is the order of the days. */
    if (strcmp(value, latest) > 0) {
        snprintf(
            reason, reason_size,
            "is a date after tomorrow in UTC, the latest day of issue in any time zone");
        return -1;
    }
    return 0;
}

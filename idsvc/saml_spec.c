/*
 * Reads the claims JSON document that `idsvc-admin saml sign --claims` takes into an
 * assertion spec. docs/saml-profile.md describes the format; every rejection names the
 * key or claim at fault.
 */
#include "saml_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Caps on one claims document, far above any real identity record. */
#define CLAIMS_MAX_ATTRIBUTES 64
#define CLAIMS_MAX_VALUES 16

/* Short names accepted for name_id_format, each mapped to its SAML URI. */
static const struct {
    const char *name;
    const char *uri;
} NAME_ID_FORMATS[] = {
    {"persistent", "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"},
    {"transient", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"},
    {"unspecified", "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"},
    {"email", "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"},
};

static int reject(char *error, size_t error_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

static int reject(char *error, size_t error_size, const char *format, ...)
{
    va_list args;

    va_start(args, format);
    vsnprintf(error, error_size, format, args);
    va_end(args);
    return -1;
}

static const char *json_type_name(const json_t *value)
{
    switch (json_typeof(value)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "an unknown JSON type";
}

/* Reads an optional text member; a present member must be a non-empty valid string. */
static int read_text(json_t *claims, const char *key, bool required, bool uri,
                     const char **out, char *error, size_t error_size)
{
    json_t *value = json_object_get(claims, key);
    const char *text;
    char reason[128];

    *out = NULL;
    if (value == NULL) {
        if (required)
            return reject(error, error_size, "the claims document has no \"%s\"", key);
        return 0;
    }
    if (!json_is_string(value))
        return reject(error, error_size, "\"%s\" must be a string, not %s", key,
                      json_type_name(value));

    text = json_string_value(value);
    if (strlen(text) != json_string_length(value))
        return reject(error, error_size, "\"%s\" contains a NUL character", key);
    if (text[0] == '\0')
        return reject(error, error_size, "\"%s\" is empty", key);
    if (saml_text_check(text, reason, sizeof(reason)) != 0)
        return reject(error, error_size, "\"%s\" %s", key, reason);
    if (uri && !saml_text_is_uri(text))
        return reject(error, error_size,
                      "\"%s\" must be an absolute URI such as "
                      "urn:example:value, not \"%.64s\"",
                      key, text);
    *out = text;
    return 0;
}

/* The verifier reads the NameID with its surrounding white space trimmed (XML white
 * space: space, tab, CR, LF). A subject with such white space would come back as another
 * value, or as none, so it is rejected here. A subject of other white space only, such
 * as U+3000, identifies no one, so it is rejected as well. */
static int check_name_id(const char *name_id, char *error, size_t error_size)
{
    static const char xml_space[] = " \t\r\n";
    size_t len = strlen(name_id);

    if (saml_text_is_blank(name_id))
        return reject(error, error_size, "\"subject\" contains only white space");
    if (strchr(xml_space, name_id[0]) != NULL || strchr(xml_space, name_id[len - 1]) != NULL)
        return reject(error, error_size,
                      "\"subject\" starts or ends with white space, which a NameID loses");
    return 0;
}

static int read_name_id_format(json_t *claims, const char **out, char *error,
                               size_t error_size)
{
    const char *text;

    if (read_text(claims, "name_id_format", false, false, &text, error, error_size) != 0)
        return -1;
    *out = text;
    if (text == NULL)
        return 0;

    for (size_t i = 0; i < sizeof(NAME_ID_FORMATS) / sizeof(NAME_ID_FORMATS[0]); i++) {
        if (strcmp(text, NAME_ID_FORMATS[i].name) == 0) {
            *out = NAME_ID_FORMATS[i].uri;
            return 0;
        }
    }
    if (!saml_text_is_uri(text))
        return reject(error, error_size,
                      "\"name_id_format\" must be persistent, "
                      "transient, unspecified, email or a URI, not \"%.64s\"",
                      text);
    return 0;
}

static int check_top_level_keys(json_t *claims, char *error, size_t error_size)
{
    static const char *const known[] = {"subject", "name_id_format", "assurance",
                                        "recipient", "attributes"};
    const char *key;
    json_t *value;

    json_object_foreach(claims, key, value) {
        bool found = false;

        for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
            found = found || strcmp(key, known[i]) == 0;
        if (!found)
            return reject(error, error_size,
                          "unknown key \"%.64s\" in the claims "
                          "document; the keys are subject, name_id_format, assurance, "
                          "recipient and attributes",
                          key);
    }
    return 0;
}

/* Copies one JSON value of a claim into *out after checking it against the claim. */
static int read_claim_value(const char *key, const saml_claim *claim, json_t *value,
                            size_t index, char **out, char *error, size_t error_size)
{
    const char *text;
    char reason[128];

    if (!json_is_string(value))
        return reject(error, error_size,
                      "claim \"%.64s\" value %zu is %s, but claim "
                      "values must be strings",
                      key, index + 1, json_type_name(value));

    text = json_string_value(value);
    if (strlen(text) != json_string_length(value))
        return reject(error, error_size,
                      "claim \"%.64s\" value %zu contains a NUL "
                      "character",
                      key, index + 1);
    if (saml_claim_check_value(claim, text, reason, sizeof(reason)) != 0)
        return reject(error, error_size, "claim \"%.64s\" value %zu %s", key, index + 1,
                      reason);

    *out = strdup(text);
    if (*out == NULL)
        return reject(error, error_size, "out of memory");
    return 0;
}

/* Reads a claim's values, given as one string or as an array of strings. */
static int read_claim_values(const char *key, const saml_claim *claim, json_t *json,
                             saml_attribute *attribute, char *error, size_t error_size)
{
    size_t count = json_is_array(json) ? json_array_size(json) : 1;

    if (!json_is_array(json) && !json_is_string(json))
        return reject(error, error_size,
                      "claim \"%.64s\" is %s, but claim values must "
                      "be a string or an array of strings",
                      key, json_type_name(json));
    if (count == 0)
        return reject(error, error_size, "claim \"%.64s\" has an empty array of values",
                      key);
    if (count > CLAIMS_MAX_VALUES)
        return reject(error, error_size,
                      "claim \"%.64s\" has %zu values, but at most "
                      "%d are allowed",
                      key, count, CLAIMS_MAX_VALUES);
    if (claim != NULL && !claim->multi_valued && count > 1)
        return reject(error, error_size, "claim \"%.64s\" takes one value, not %zu", key,
                      count);

    attribute->values = calloc(count, sizeof(char *));
    if (attribute->values == NULL)
        return reject(error, error_size, "out of memory");
    for (size_t i = 0; i < count; i++) {
        json_t *value = json_is_array(json) ? json_array_get(json, i) : json;

        if (read_claim_value(key, claim, value, i, &attribute->values[i], error,
                             error_size) != 0)
            return -1;
        attribute->value_count = i + 1;
    }
    return 0;
}

/*
 * Resolves a claim key to its catalogue entry, or accepts it as a URI outside the
 * catalogue (claim NULL). Sets *name to what saml_attribute.name will hold.
 */
static int resolve_claim_key(const char *key, const saml_claim **claim, const char **name,
                             char *error, size_t error_size)
{
    char reason[128];

    *claim = saml_claim_by_name(key);
    if (*claim == NULL && saml_text_is_uri(key)) {
        if (saml_text_check(key, reason, sizeof(reason)) != 0)
            return reject(error, error_size, "claim name \"%.64s\" %s", key, reason);
        *claim = saml_claim_by_uri(key);
        *name = *claim != NULL ? (*claim)->name : key;
        return 0;
    }
    if (*claim == NULL)
        return reject(error, error_size,
                      "unknown claim \"%.64s\": use a name from the "
                      "claims catalogue in docs/saml-profile.md or a URI",
                      key);
    *name = (*claim)->name;
    return 0;
}

/* Rejects a claim given twice, for example once by name and once by its URI. */
static int check_not_repeated(const saml_attribute *attributes, size_t count,
                              const char *key, const char *name, char *error,
                              size_t error_size)
{
    for (size_t i = 0; i < count; i++) {
        if (strcmp(attributes[i].name, name) == 0)
            return reject(error, error_size,
                          "claim \"%.64s\" repeats the claim "
                          "\"%.64s\"",
                          key, name);
    }
    return 0;
}

static int read_attributes(json_t *claims, saml_attribute **out, size_t *count_out,
                           char *error, size_t error_size)
{
    json_t *object = json_object_get(claims, "attributes");
    saml_attribute *attributes = NULL;
    size_t count = 0;
    const char *key;
    json_t *values;

    *out = NULL;
    *count_out = 0;
    if (object == NULL)
        return 0;
    if (!json_is_object(object))
        return reject(error, error_size, "\"attributes\" must be an object, not %s",
                      json_type_name(object));
    if (json_object_size(object) > CLAIMS_MAX_ATTRIBUTES)
        return reject(error, error_size,
                      "\"attributes\" has %zu claims, but at most %d "
                      "are allowed",
                      json_object_size(object), CLAIMS_MAX_ATTRIBUTES);

    /* One extra slot keeps calloc's result non-NULL for an empty object. */
    attributes = calloc(json_object_size(object) + 1, sizeof(*attributes));
    if (attributes == NULL)
        return reject(error, error_size, "out of memory");

    json_object_foreach(object, key, values) {
        const saml_claim *claim = NULL;
        const char *name = NULL;

        if (resolve_claim_key(key, &claim, &name, error, error_size) != 0 ||
            check_not_repeated(attributes, count, key, name, error, error_size) != 0)
            goto fail;
        attributes[count].name = strdup(name);
        count++;
        if (attributes[count - 1].name == NULL) {
            reject(error, error_size, "out of memory");
            goto fail;
        }
        if (read_claim_values(key, claim, values, &attributes[count - 1], error,
                              error_size) != 0)
            goto fail;
    }

    *out = attributes; /* ownership passes to the caller */
    *count_out = count;
    return 0;

fail:
    saml_attributes_free(attributes, count);
    return -1;
}

int saml_spec_from_json(json_t *claims, saml_assertion_spec *spec,
                        saml_attribute **attributes_out, char *error, size_t error_size)
{
    saml_attribute *attributes = NULL;
    size_t count = 0;
    const char *name_id;
    const char *name_id_format;
    const char *assurance;
    const char *recipient;

    *attributes_out = NULL;
    if (claims == NULL || !json_is_object(claims))
        return reject(error, error_size,
                      "the claims document must be a JSON object, "
                      "not %s",
                      claims != NULL ? json_type_name(claims) : "empty");

    if (check_top_level_keys(claims, error, error_size) != 0 ||
        read_text(claims, "subject", true, false, &name_id, error, error_size) != 0 ||
        check_name_id(name_id, error, error_size) != 0 ||
        read_name_id_format(claims, &name_id_format, error, error_size) != 0 ||
        read_text(claims, "assurance", false, true, &assurance, error, error_size) != 0 ||
        read_text(claims, "recipient", false, true, &recipient, error, error_size) != 0 ||
        read_attributes(claims, &attributes, &count, error, error_size) != 0)
        return -1;

    spec->name_id = name_id;
    spec->name_id_format = name_id_format;
    spec->assurance = assurance;
    spec->recipient = recipient;
    spec->attributes = attributes;
    spec->attribute_count = count;
    *attributes_out = attributes; /* ownership passes to the caller */
    return 0;
}

void saml_attributes_free(saml_attribute *attributes, size_t count)
{
    if (attributes == NULL)
        return;
    for (size_t i = 0; i < count; i++) {
        for (size_t j = 0; j < attributes[i].value_count; j++)
            free(attributes[i].values[j]);
        free(attributes[i].values);
        free(attributes[i].name);
    }
    free(attributes);
}

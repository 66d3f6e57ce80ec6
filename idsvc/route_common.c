#include "route_common.h"

#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>

#include "log.h"
#include "problem.h"

void route_format_time(time_t t, char out[32])
{
    struct tm utc;

    /* Only an edited database holds a time that gmtime_r cannot convert, or one past
     * year 9999, so such a time is written as the empty string, not as garbage. */
    if (gmtime_r(&t, &utc) == NULL || utc.tm_year > 9999 - 1900 ||
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &utc) == 0)
        out[0] = '\0';
}

int route_random_hex(char *out, size_t bytes)
{
    unsigned char buffer[64];

    if (bytes > sizeof(buffer) || gnutls_rnd(GNUTLS_RND_RANDOM, buffer, bytes) != 0)
        return -1;
    for (size_t i = 0; i < bytes; i++)
        snprintf(out + 2 * i, 3, "%02x", buffer[i]);
    return 0;
}

int route_sign_assertion(http_request *request, const saml_assertion_spec *spec,
                         char **xml_out, http_reply *reply)
{
    node *n = request->node;
    saml_signer signer = {n->saml_key, NULL, n->saml_cert, n->saml_cert_base64};
    p11_error err = {0};
    size_t len = 0;
    uint64_t cpu_started_ns = metrics_thread_cpu_ns();
    int rc;

    rc = saml_build_signed(spec, &signer, xml_out, &len, &err);
    metrics_record_operation(n->metrics, METRICS_OPERATION_SAML_SIGN, cpu_started_ns);
    metrics_record_hsm(n->metrics, METRICS_HSM_SAML_SIGN, rc == 0);
    if (rc == 0)
        return 0;

    log_field fields[] = {
        {"request_id", request->request_id},
        {"ckr", err.rv != CKR_OK ? p11_rv_name(err.rv) : NULL},
        {"message", err.message},
    };
    log_event(LOG_ERROR, "saml_sign_failed", fields, sizeof(fields) / sizeof(fields[0]));

    /* A failure the module reported means the HSM is unwell, not that the request was. */
    if (err.rv != CKR_OK)
        problem_hsm_unavailable(reply, n->boot->retry_after_seconds);
    else
        problem_internal(reply);
    return -1;
}

int route_check_result_values(http_request *request, const saml_assertion_spec *spec,
                              http_reply *reply)
{
    static const struct {
        saml_spec_field field;
        const char *code;
    } codes[] = {
        {SAML_SPEC_NAME_ID, "name_id_invalid"},
        {SAML_SPEC_NAME_ID_FORMAT, "name_id_format_invalid"},
        {SAML_SPEC_ASSURANCE, "assurance_invalid"},
        {SAML_SPEC_ATTRIBUTES, "attribute_value_invalid"},
    };
    char error[256];
    saml_spec_field field = saml_spec_check(spec, error, sizeof(error));

    if (field == SAML_SPEC_OK)
        return 0;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (codes[i].field == field) {
            problem_set(reply, 422, codes[i].code, "assertion",
                        "The node cannot copy this value of the assertion into its result "
                        "attestation: %s.",
                        error);
            return -1;
        }
    }

    /* The issuer, audience and validity come from the configuration, not the request. */
    log_field fields[] = {
        {"request_id", request->request_id},
        {"message", error},
    };
    log_event(LOG_ERROR, "result_values_invalid", fields, sizeof(fields) / sizeof(fields[0]));
    problem_internal(reply);
    return -1;
}

int route_assertion_id(const char *xml, char *out, size_t out_size)
{
    /* The signer writes the Assertion as the root element with ID as its first
     * attribute after the namespace declaration, so the first ID attribute is the
     * root's. The input is this node's own output, never a peer's. */
    const char *start = strstr(xml, " ID=\"");
    size_t len;

    if (start == NULL)
        return -1;
    start += 5;
    len = strcspn(start, "\"");
    if (start[len] != '"' || len == 0 || len >= out_size)
        return -1;
    memcpy(out, start, len);
    out[len] = '\0';
    return 0;
}

int route_append_new_values(json_t *list, const saml_attribute *attribute)
{
    for (size_t k = 0; k < attribute->value_count; k++) {
        bool seen = false;

        for (size_t j = 0; j < json_array_size(list) && !seen; j++)
            seen = strcmp(json_string_value(json_array_get(list, j)), attribute->values[k]) ==
                   0;
        if (!seen && json_array_append_new(list, json_string(attribute->values[k])) != 0)
            return -1;
    }
    return 0;
}

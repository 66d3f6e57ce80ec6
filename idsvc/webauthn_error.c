/* Stable names of the WebAuthn rejection codes, and the helper that fills an error. */
#include <stdarg.h>
#include <stdio.h>

#include "webauthn_internal.h"

const char *webauthn_code_name(webauthn_code code)
{
    switch (code) {
    case WEBAUTHN_OK:
        return "ok";
    case WEBAUTHN_MALFORMED:
        return "malformed";
    case WEBAUTHN_CBOR_MALFORMED:
        return "cbor_malformed";
    case WEBAUTHN_CLIENT_DATA_TYPE:
        return "client_data_type";
    case WEBAUTHN_CHALLENGE_MISMATCH:
        return "challenge_mismatch";
    case WEBAUTHN_ORIGIN_NOT_ALLOWED:
        return "origin_not_allowed";
    case WEBAUTHN_CROSS_ORIGIN:
        return "cross_origin";
    case WEBAUTHN_RP_ID_MISMATCH:
        return "rp_id_mismatch";
    case WEBAUTHN_USER_PRESENCE_MISSING:
        return "user_presence_missing";
    case WEBAUTHN_USER_VERIFICATION_MISSING:
        return "user_verification_missing";
    case WEBAUTHN_CREDENTIAL_ID_MISMATCH:
        return "credential_id_mismatch";
    case WEBAUTHN_USER_HANDLE_MISMATCH:
        return "user_handle_mismatch";
    case WEBAUTHN_BACKUP_ELIGIBILITY_MISMATCH:
        return "backup_eligibility_mismatch";
    case WEBAUTHN_ALGORITHM_UNSUPPORTED:
        return "algorithm_unsupported";
    case WEBAUTHN_ATTESTATION_FORMAT_UNSUPPORTED:
        return "attestation_format_unsupported";
    case WEBAUTHN_ATTESTATION_INVALID:
        return "attestation_invalid";
    case WEBAUTHN_ATTESTATION_CHAIN_INVALID:
        return "attestation_chain_invalid";
    case WEBAUTHN_ATTESTATION_REQUIRED:
        return "attestation_required";
    case WEBAUTHN_AAGUID_MISMATCH:
        return "aaguid_mismatch";
    case WEBAUTHN_SIGNATURE_INVALID:
        return "signature_invalid";
    case WEBAUTHN_COUNTER_REGRESSION:
        return "counter_regression";
    case WEBAUTHN_INTERNAL_ERROR:
        return "internal_error";
    case WEBAUTHN_ALGORITHM_NOT_OFFERED:
        return "algorithm_not_offered";
    case WEBAUTHN_TOKEN_BINDING_MISMATCH:
        return "token_binding_mismatch";
    }
    return "internal_error";
}

webauthn_code webauthn_fail(webauthn_error *err, webauthn_code code, const char *format,
                            ...)
{
    va_list args;

    if (err == NULL)
        return code;

    err->code = code;
    va_start(args, format);
    vsnprintf(err->message, sizeof(err->message), format, args);
    va_end(args);
    return code;
}

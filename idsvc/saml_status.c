#include "saml.h"

const char *saml_status_code(saml_status status)
{
    switch (status) {
    case SAML_OK: return "ok";
    case SAML_ERR_INPUT_TOO_LARGE: return "input_too_large";
    case SAML_ERR_XML_MALFORMED: return "xml_malformed";
    case SAML_ERR_DOCTYPE_FORBIDDEN: return "doctype_forbidden";
    case SAML_ERR_NOT_SAML: return "not_saml";
    case SAML_ERR_ASSERTION_COUNT: return "assertion_count";
    case SAML_ERR_DUPLICATE_ID: return "duplicate_id";
    case SAML_ERR_SIGNATURE_MISSING: return "signature_missing";
    case SAML_ERR_SIGNATURE_COUNT: return "signature_count";
    case SAML_ERR_REFERENCE_INVALID: return "reference_invalid";
    case SAML_ERR_TRANSFORM_FORBIDDEN: return "transform_forbidden";
    case SAML_ERR_ALGORITHM_FORBIDDEN: return "algorithm_forbidden";
    case SAML_ERR_SHA1_FORBIDDEN: return "sha1_forbidden";
    case SAML_ERR_KEY_TOO_SMALL: return "key_too_small";
    case SAML_ERR_SIGNATURE_ENCODING: return "signature_encoding";
    case SAML_ERR_ISSUER_MISSING: return "issuer_missing";
    case SAML_ERR_ISSUER_UNTRUSTED: return "issuer_untrusted";
    case SAML_ERR_DIGEST_MISMATCH: return "digest_mismatch";
    case SAML_ERR_SIGNATURE_INVALID: return "signature_invalid";
    case SAML_ERR_SUBJECT_MISSING: return "subject_missing";
    case SAML_ERR_CONDITIONS_MISSING: return "conditions_missing";
    case SAML_ERR_NOT_YET_VALID: return "not_yet_valid";
    case SAML_ERR_EXPIRED: return "expired";
    case SAML_ERR_AUDIENCE_MISMATCH: return "audience_mismatch";
    case SAML_ERR_REPLAYED: return "replayed";
    case SAML_ERR_NAMESPACE_INVALID: return "namespace_invalid";
    case SAML_ERR_STATUS_NOT_SUCCESS: return "status_not_success";
    case SAML_ERR_CONDITIONS_INVALID: return "conditions_invalid";
    case SAML_ERR_BEARER_MISSING: return "bearer_confirmation_missing";
    case SAML_ERR_CONFIRMATION_INVALID: return "subject_confirmation_invalid";
    case SAML_ERR_CONFIRMATION_EXPIRED: return "subject_confirmation_expired";
    case SAML_ERR_CONDITION_UNKNOWN: return "condition_unknown";
    case SAML_ERR_C14N_TOO_COMPLEX: return "c14n_too_complex";
    case SAML_ERR_CONTENT_UNSUPPORTED: return "content_unsupported";
    case SAML_ERR_SIGNATURE_MALFORMED: return "signature_malformed";
    case SAML_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}

/*
 * RFC 9457 problem details: every error the API returns is application/problem+json
 * with type, title, status, detail, a stable "code" and, where one input is at fault,
 * the "field" that names it. docs/api.md lists the codes.
 */
#ifndef IDSVC_PROBLEM_H
#define IDSVC_PROBLEM_H

#include "http.h"

/* Fills reply with a problem document; field may be NULL. */
void problem_set(http_reply *reply, unsigned status, const char *code, const char *field,
                 const char *format, ...) __attribute__((format(printf, 5, 6)));

/* 503 with Retry-After, for an HSM that failed or cannot be reached. */
void problem_hsm_unavailable(http_reply *reply, unsigned retry_after_seconds);

/* 500 for a fault of the node itself; the detail never carries internal messages. */
void problem_internal(http_reply *reply);

/* Returns the standard reason phrase of a status, such as "Not Found". */
const char *problem_status_title(unsigned status);

#endif

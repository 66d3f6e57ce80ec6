/*
 * Routes that carry no personal data: GET /healthz and GET /saml/metadata (public),
 * GET /v1/issuers (any role) and GET /metrics (regulator and node roles).
 */
#include <stdlib.h>
#include <string.h>

#include "problem.h"
#include "route_common.h"

void route_health_get(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    int version = 0;

    if (s->ops->schema_version(s, &version) != STORE_OK) {
        problem_set(reply, 503, "store_unavailable", NULL, "The database is not available.");
        reply->retry_after = request->node->boot->retry_after_seconds;
        return;
    }
    http_reply_json(reply, 200,
                    json_pack("{s:s, s:i}", "status", "ok", "schema_version", version));
}

void route_issuers_list(http_request *request, http_reply *reply)
{
    http_reply_json(reply, 200,
                    json_pack("{s:O}", "issuers", request->snapshot->issuers));
}

void route_metrics_get(http_request *request, http_reply *reply)
{
    size_t len = 0;
    char *text = metrics_render(request->node->metrics, &len);

    if (text == NULL) {
        problem_internal(reply);
        return;
    }
    http_reply_text(reply, 200, "text/plain; version=0.0.4", text, len);
    free(text);
}

void route_metadata_get(http_request *request, http_reply *reply)
{
    const char *xml = request->node->metadata_xml;

    http_reply_text(reply, 200, "application/samlmetadata+xml", xml, strlen(xml));
}

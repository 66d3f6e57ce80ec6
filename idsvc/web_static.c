/*
 * GET /static/pages.js and GET /static/pages.css: the one script and the one style
 * sheet of the citizen pages, read from the assets folder on each request, so that
 * the Content-Security-Policy can allow 'self' and nothing inline.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "problem.h"
#include "web.h"

#define ASSET_MAX_BYTES (512 * 1024)

static char *read_asset(const char *path, size_t *len)
{
    FILE *file = fopen(path, "rb");
    char *text = NULL;
    long size;

    if (file == NULL)
        return NULL;
    if (fseek(file, 0, SEEK_END) != 0 || (size = ftell(file)) < 0 ||
        size > ASSET_MAX_BYTES || fseek(file, 0, SEEK_SET) != 0)
        goto out;
    text = malloc((size_t)size + 1);
    if (text != NULL && fread(text, 1, (size_t)size, file) != (size_t)size) {
        free(text);
        text = NULL;
    }
    if (text != NULL) {
        text[size] = '\0';
        *len = (size_t)size;
    }
out:
    fclose(file);
    return text;
}

static void send_asset(http_request *request, http_reply *reply, const char *name,
                       const char *content_type)
{
    char path[4096];
    size_t len = 0;
    char *text;

    if (!web_enabled(request, reply))
        return;
    snprintf(path, sizeof(path), "%s/%s", web_assets_dir(request), name);
    text = read_asset(path, &len);
    if (text == NULL) {
        log_message(LOG_ERROR, "asset_missing", "%s: cannot read the page asset", path);
        problem_internal(reply);
        return;
    }
    http_reply_clear(reply);
    reply->status = 200;
    reply->content_type = content_type;
    reply->body = text; /* ownership passes to the reply */
    reply->body_len = len;
    web_security_headers(reply);
}

void route_static_script(http_request *request, http_reply *reply)
{
    send_asset(request, reply, "pages.js", "text/javascript; charset=utf-8");
}

void route_static_style(http_request *request, http_reply *reply)
{
    send_asset(request, reply, "pages.css", "text/css; charset=utf-8");
}

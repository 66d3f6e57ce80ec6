/*
 * GET /consent/{id}: the consent page. It states in plain words who asks, from which
 * country, for what, which claims go in full, which only as a derived value, which are
 * not shared, and how long they may be kept, then offers approval (with a security
 * key) and refusal. The
 * claim values themselves are never shown, because the link alone opens the page.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "problem.h"
#include "web.h"

static void write_row(web_html *page, const web_lang *lang, const char *key)
{
    web_html_raw(page, "<dt>");
    web_html_text(page, web_text(lang, key));
    web_html_raw(page, "</dt><dd>");
}

/* Lists the claims of one form ("full" or "derived"); returns how many it wrote. */
static size_t write_claims(web_html *page, const web_lang *lang, const json_t *claims,
                           const char *form)
{
    const json_t *claim;
    size_t index;
    size_t written = 0;
    char key[96];

    json_array_foreach(claims, index, claim) {
        const char *name = json_string_value(json_object_get(claim, "claim"));
        const char *derived = json_string_value(json_object_get(claim, "derived"));
        const char *claim_form = json_string_value(json_object_get(claim, "form"));

        if (name == NULL || claim_form == NULL || strcmp(claim_form, form) != 0)
            continue;
        web_html_raw(page, written == 0 ? "<ul>" : "");
        web_claim_key(derived != NULL ? derived : name, key, sizeof(key));
        web_html_raw(page, "<li>");
        web_html_isolated(page, web_text(lang, key));
        web_html_raw(page, "</li>");
        written++;
    }
    if (written > 0)
        web_html_raw(page, "</ul>");
    else
        web_html_text(page, web_text(lang, "consent.none"));
    return written;
}

static void write_retention(web_html *page, const web_lang *lang, const json_t *days)
{
    char number[32];

    if (!json_is_integer(days)) {
        web_html_text(page, web_text(lang, "consent.retention_unknown"));
        return;
    }
    snprintf(number, sizeof(number), "%lld", (long long)json_integer_value(days));
    web_html_text(page, number);
    web_html_raw(page, " ");
    web_html_text(page, web_text(lang, "consent.days"));
}

static void write_details(web_html *page, const web_lang *lang, const json_t *details,
                          const web_consent *consent)
{
    const json_t *rp = json_object_get(details, "relying_party");
    const json_t *claims = json_object_get(details, "claims");
    const char *name = json_string_value(json_object_get(rp, "name"));
    const char *country = json_string_value(json_object_get(rp, "country"));
    const char *purpose = json_string_value(json_object_get(details, "purpose"));
    char expires[32];

    web_html_raw(page, "<dl class=\"details\">");
    write_row(page, lang, "consent.who");
    web_html_isolated(page, name != NULL ? name : "");
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.country");
    web_html_country(page, lang, country != NULL ? country : "");
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.purpose");
    web_html_isolated(page, purpose != NULL ? purpose : "");
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.full");
    write_claims(page, lang, claims, "full");
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.derived");
    write_claims(page, lang, claims, "derived");
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.withheld");
    write_claims(page, lang, claims, "withheld");
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.retention");
    write_retention(page, lang, json_object_get(details, "retention_days"));
    web_html_raw(page, "</dd>");
    write_row(page, lang, "consent.expires");
    web_format_time(consent->expires_at, expires);
    web_html_text(page, expires);
    web_html_raw(page, "</dd></dl>\n");
}

/* Says so when the policy asks for separate consent to a transfer abroad, so that the
 * subject knows this approval is that consent. */
static void write_consent_kind(web_html *page, const web_lang *lang, const json_t *details)
{
    const char *level = json_string_value(json_object_get(details, "consent_required"));

    if (level == NULL || strcmp(level, "separate-cross-border") != 0)
        return;
    web_html_raw(page, "<p class=\"cross-border\" id=\"cross-border\">");
    web_html_text(page, web_text(lang, "consent.cross_border"));
    web_html_raw(page, "</p>\n");
}

static void write_actions(web_html *page, const web_lang *lang, const web_consent *consent)
{
    const char *state_key = NULL;

    if (consent->rejection[0] != '\0')
        state_key = "consent.state_rejected";
    else if (consent->state == WEB_CONSENT_APPROVED)
        state_key = "consent.state_approved";
    else if (consent->state == WEB_CONSENT_REFUSED)
        state_key = "consent.state_refused";
    else if (consent->expires_at <= time(NULL))
        state_key = "consent.state_expired";

    if (state_key != NULL) {
        web_html_raw(page, "<p class=\"decided\" id=\"decided\">");
        web_html_text(page, web_text(lang, state_key));
        web_html_raw(page, "</p>\n");
        return;
    }
    web_html_raw(page, "<p>");
    web_html_text(page, web_text(lang, "consent.explain"));
    web_html_format(page, "</p>\n<div class=\"actions\" data-consent=\"%s\">"
                          "<button type=\"button\" id=\"approve\">", consent->id);
    web_html_text(page, web_text(lang, "consent.approve"));
    web_html_raw(page, "</button> <button type=\"button\" id=\"refuse\" class=\"secondary\">");
    web_html_text(page, web_text(lang, "consent.refuse"));
    web_html_raw(page, "</button></div>\n");
}

/* Replies 404 consent_not_found: a page in the subject's language to a browser, and a
 * problem document to any other client. The code goes to the request log either way. */
static void send_not_found(http_request *request, const web_lang *lang, http_reply *reply)
{
    web_html page = {0};

    if (!web_accepts_html(request)) {
        problem_set(reply, 404, "consent_not_found", NULL, "No consent request has this id.");
        http_reply_header(reply, "Vary", "Accept");
        return;
    }
    web_page_begin(&page, request, lang, "consent", "consent.not_found_title");
    web_html_raw(&page, "<p>");
    web_html_text(&page, web_text(lang, "consent.not_found"));
    web_html_raw(&page, "</p>\n");
    web_page_end(&page, lang);
    web_page_send(&page, request, reply, 404);
    if (reply->status != 404)
        return; /* the page could not be built, and reply contains a 500 problem */
    reply->code = "consent_not_found";
    http_reply_header(reply, "Vary", "Accept");
}

void route_consent_page(http_request *request, http_reply *reply)
{
    store *s = request->node->store;
    web_consent consent = {0};
    web_html page = {0};
    const web_lang *lang;
    json_t *details = NULL;
    store_status status;

    if (!web_enabled(request, reply))
        return;
    lang = web_lang_choose(request);
    status = s->ops->web->consent_get(s, request->params[0], &consent);
    if (status == STORE_NOT_FOUND) {
        send_not_found(request, lang, reply);
        return;
    }
    details = status == STORE_OK ? json_loads(consent.details, 0, NULL) : NULL;
    if (details == NULL) {
        problem_internal(reply);
        goto out;
    }
    web_page_begin(&page, request, lang, "consent", "consent.title");
    web_html_raw(&page, "<p>");
    web_html_text(&page, web_text(lang, "consent.intro"));
    web_html_raw(&page, "</p>\n");
    write_consent_kind(&page, lang, details);
    write_details(&page, lang, details, &consent);
    write_actions(&page, lang, &consent);
    web_page_end(&page, lang);
    web_page_send(&page, request, reply, 200);
out:
    json_decref(details);
    web_consent_clear(&consent);
}

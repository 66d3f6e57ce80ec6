/*
 * GET /account: the subject's own page. Without a session it offers sign-in with a
 * security key; with one it lists the enrolled authenticators (with removal) and every
 * disclosure made about the subject: who, what, when and under which rule.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "problem.h"
#include "web.h"

#define DISCLOSURES_SHOWN 200

static void text_element(web_html *page, const char *tag, const web_lang *lang,
                         const char *key)
{
    web_html_format(page, "<%s>", tag);
    web_html_text(page, web_text(lang, key));
    web_html_format(page, "</%s>", tag);
}

static void write_signed_out(web_html *page, const web_lang *lang)
{
    text_element(page, "p", lang, "account.signin_intro");
    web_html_raw(page, "<p><button type=\"button\" id=\"signin\">");
    web_html_text(page, web_text(lang, "account.signin"));
    web_html_raw(page, "</button></p>\n<p><a href=\"/enroll\">");
    web_html_text(page, web_text(lang, "account.have_code"));
    web_html_raw(page, "</a></p>\n");
}

static void write_authenticator_row(web_html *page, const web_lang *lang,
                                    const web_authenticator *a)
{
    char created[32];
    char used[32];

    web_format_time(a->created_at, created);
    web_format_time(a->last_used_at, used);
    web_html_format(page, "<tr data-authenticator=\"%s\"><td>%s</td><td>%s</td><td>", a->id,
                    created, used);
    web_html_text(page, a->format);
    web_html_raw(page, "</td><td>");
    web_html_text(page, web_text(lang, a->possibly_cloned ? "account.key_cloned"
                                                          : "account.key_active"));
    web_html_format(page, "</td><td><button type=\"button\" class=\"remove\" "
                          "data-id=\"%s\" aria-label=\"", a->id);
    web_html_text(page, web_text(lang, "account.remove"));
    web_html_format(page, " %s\">", created);
    web_html_text(page, web_text(lang, "account.remove"));
    web_html_raw(page, "</button></td></tr>\n");
}

static void write_authenticators(web_html *page, const web_lang *lang,
                                 const web_authenticator *list, size_t count)
{
    static const char *const headings[] = {"account.key_added", "account.key_used",
                                           "account.key_format", "account.key_state",
                                           "account.key_action"};

    web_html_raw(page, "<section aria-labelledby=\"keys-heading\">\n<h2 id=\"keys-heading\">");
    web_html_text(page, web_text(lang, "account.keys"));
    web_html_raw(page, "</h2>\n");
    if (count == 0) {
        text_element(page, "p", lang, "account.no_keys");
    } else {
        web_html_raw(page, "<table id=\"keys\"><thead><tr>");
        for (size_t i = 0; i < sizeof(headings) / sizeof(headings[0]); i++) {
            web_html_raw(page, "<th scope=\"col\">");
            web_html_text(page, web_text(lang, headings[i]));
            web_html_raw(page, "</th>");
        }
        web_html_raw(page, "</tr></thead><tbody>\n");
        for (size_t i = 0; i < count; i++)
            write_authenticator_row(page, lang, &list[i]);
        web_html_raw(page, "</tbody></table>\n");
    }
    web_html_raw(page, "<p><button type=\"button\" id=\"register\">");
    web_html_text(page, web_text(lang, "account.add_key"));
    web_html_raw(page, "</button></p>\n</section>\n");
}

/* Writes the claim labels of a JSON array of claim names. */
static void write_claim_names(web_html *page, const web_lang *lang, const char *claims)
{
    json_t *names = json_loads(claims, 0, NULL);
    json_t *name;
    size_t index;
    char key[96];

    json_array_foreach(names, index, name) {
        if (!json_is_string(name))
            continue;
        if (index > 0)
            web_html_raw(page, ", ");
        web_claim_key(json_string_value(name), key, sizeof(key));
        web_html_isolated(page, web_text(lang, key));
    }
    json_decref(names);
}

/* Returns the catalogue key of what allowed a disclosure: the subject's consent, the
 * policy engine's rules, or the relying party's registry entry. */
static const char *rule_text_key(const char *rule)
{
    if (strcmp(rule, "consent") == 0)
        return "account.rule_consent";
    if (strcmp(rule, "policy") == 0)
        return "account.rule_policy";
    return "account.rule_registry";
}

static void write_disclosure_row(web_html *page, const web_lang *lang,
                                 const web_disclosure *d)
{
    char when[32];

    web_format_time(d->disclosed_at, when);
    web_html_format(page, "<tr><td>%s</td><td>", when);
    web_html_isolated(page, d->rp_name);
    web_html_raw(page, " (");
    web_html_country(page, lang, d->rp_country);
    web_html_raw(page, ")</td><td>");
    write_claim_names(page, lang, d->claims);
    web_html_raw(page, "</td><td>");
    web_html_isolated(page, d->purpose);
    web_html_raw(page, "</td><td>");
    web_html_text(page, web_text(lang, rule_text_key(d->rule)));
    web_html_raw(page, "</td></tr>\n");
}

static void write_disclosures(web_html *page, const web_lang *lang,
                              const web_disclosure *list, size_t count)
{
    static const char *const headings[] = {"account.when", "account.who", "account.what",
                                           "account.purpose", "account.rule"};

    web_html_raw(page, "<section aria-labelledby=\"disclosures-heading\">\n"
                       "<h2 id=\"disclosures-heading\">");
    web_html_text(page, web_text(lang, "account.disclosures"));
    web_html_raw(page, "</h2>\n");
    if (count == 0) {
        text_element(page, "p", lang, "account.no_disclosures");
        web_html_raw(page, "</section>\n");
        return;
    }
    web_html_raw(page, "<table id=\"disclosures\"><thead><tr>");
    for (size_t i = 0; i < sizeof(headings) / sizeof(headings[0]); i++) {
        web_html_raw(page, "<th scope=\"col\">");
        web_html_text(page, web_text(lang, headings[i]));
        web_html_raw(page, "</th>");
    }
    web_html_raw(page, "</tr></thead><tbody>\n");
    for (size_t i = 0; i < count; i++)
        write_disclosure_row(page, lang, &list[i]);
    web_html_raw(page, "</tbody></table>\n</section>\n");
}

static int write_signed_in(http_request *request, web_html *page, const web_lang *lang,
                           int64_t subject_id)
{
    store *s = request->node->store;
    web_authenticator *keys = NULL;
    web_disclosure *disclosures = NULL;
    size_t key_count = 0;
    size_t disclosure_count = 0;
    int rc = -1;

    if (s->ops->web->authenticator_list(s, subject_id, &keys, &key_count) != STORE_OK ||
        s->ops->web->disclosure_list(s, subject_id, DISCLOSURES_SHOWN, &disclosures,
                                     &disclosure_count) != STORE_OK)
        goto out;
    write_authenticators(page, lang, keys, key_count);
    write_disclosures(page, lang, disclosures, disclosure_count);
    web_html_raw(page, "<p><button type=\"button\" id=\"signout\">");
    web_html_text(page, web_text(lang, "account.signout"));
    web_html_raw(page, "</button></p>\n");
    rc = 0;
out:
    web_authenticators_free(&keys, key_count);
    web_disclosures_free(&disclosures, disclosure_count);
    return rc;
}

void route_subject_page(http_request *request, http_reply *reply)
{
    const web_lang *lang;
    web_html page = {0};
    int64_t subject_id = 0;
    int session;

    if (!web_enabled(request, reply))
        return;
    lang = web_lang_choose(request);
    session = web_session_subject(request, &subject_id);
    if (session < 0) {
        problem_internal(reply);
        return;
    }
    web_page_begin(&page, request, lang, session == 1 ? "account" : "signin",
                   "account.title");
    if (session == 0)
        write_signed_out(&page, lang);
    else if (write_signed_in(request, &page, lang, subject_id) != 0)
        page.failed = true;
    web_page_end(&page, lang);
    web_page_send(&page, request, reply, 200);
}

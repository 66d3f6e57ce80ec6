/*
 * Message catalogues of the citizen pages. Each web/i18n/TAG.json is one language: a
 * flat JSON object of message key -> text, which a translator edits without touching
 * code. Adding a file adds a language to the switch after a restart.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "web.h"

#define LANG_COOKIE "__Host-idsvc_lang"

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static bool loaded;
static web_lang langs[WEB_LANG_MAX];
static size_t lang_count;

static bool tag_valid(const char *tag, size_t len)
{
    if (len == 0 || len >= sizeof(langs[0].tag))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((tag[i] >= 'a' && tag[i] <= 'z') || (tag[i] >= 'A' && tag[i] <= 'Z') ||
              tag[i] == '-'))
            return false;
    return true;
}

/* Reads one catalogue; every value must be a string. */
static json_t *read_catalogue(const char *path)
{
    json_error_t error;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &error);
    const char *key;
    json_t *value;

    if (doc == NULL) {
        log_message(LOG_ERROR, "catalogue_invalid", "%s:%d: %s", path, error.line,
                    error.text);
        return NULL;
    }
    json_object_foreach(doc, key, value) {
        if (!json_is_string(value)) {
            log_message(LOG_ERROR, "catalogue_invalid", "%s: the value of \"%s\" is not a "
                        "string", path, key);
            json_decref(doc);
            return NULL;
        }
    }
    return doc;
}

static int compare_langs(const void *a, const void *b)
{
    const web_lang *x = a;
    const web_lang *y = b;

    /* English first, as the fallback; the others by tag, so the switch is stable. */
    if (strcmp(x->tag, "en") == 0)
        return -1;
    if (strcmp(y->tag, "en") == 0)
        return 1;
    return strcmp(x->tag, y->tag);
}

static void forget_catalogues(void)
{
    for (size_t i = 0; i < lang_count; i++)
        json_decref(langs[i].messages);
    memset(langs, 0, sizeof(langs));
    lang_count = 0;
}

static int load_folder(const char *folder)
{
    DIR *dir = opendir(folder);
    struct dirent *entry;
    char path[4096];

    if (dir == NULL) {
        log_message(LOG_ERROR, "catalogue_missing", "%s: cannot open the catalogue folder",
                    folder);
        return -1;
    }
    while ((entry = readdir(dir)) != NULL && lang_count < WEB_LANG_MAX) {
        size_t len = strlen(entry->d_name);
        json_t *messages;

        if (len < 6 || strcmp(entry->d_name + len - 5, ".json") != 0 ||
            !tag_valid(entry->d_name, len - 5))
            continue;
        if ((size_t)snprintf(path, sizeof(path), "%s/%s", folder, entry->d_name) >=
            sizeof(path))
            continue;
        messages = read_catalogue(path);
        if (messages == NULL)
            continue;
        memcpy(langs[lang_count].tag, entry->d_name, len - 5);
        langs[lang_count].tag[len - 5] = '\0';
        langs[lang_count].messages = messages;
        lang_count++;
    }
    closedir(dir);
    qsort(langs, lang_count, sizeof(langs[0]), compare_langs);
    if (lang_count == 0 || strcmp(langs[0].tag, "en") != 0) {
        log_message(LOG_ERROR, "catalogue_missing", "%s/en.json is missing; English is "
                    "the fallback of every other language", folder);
        return -1;
    }
    return 0;
}

int web_i18n_load(const char *assets_dir)
{
    char folder[4096];
    int rc = 0;

    pthread_mutex_lock(&load_lock);
    if (!loaded) {
        if ((size_t)snprintf(folder, sizeof(folder), "%s/i18n", assets_dir) >=
            sizeof(folder))
            rc = -1;
        else
            rc = load_folder(folder);
        loaded = rc == 0;
        if (!loaded)
            forget_catalogues(); /* the next page tries again from an empty list */
        if (rc == 0)
            log_message(LOG_INFO, "catalogues_loaded", "%zu languages from %s", lang_count,
                        folder);
    }
    pthread_mutex_unlock(&load_lock);
    return rc;
}

size_t web_lang_count(void)
{
    return lang_count;
}

const web_lang *web_lang_at(size_t index)
{
    return index < lang_count ? &langs[index] : NULL;
}

const char *web_text(const web_lang *lang, const char *key)
{
    const char *text = NULL;

    if (lang != NULL)
        text = json_string_value(json_object_get(lang->messages, key));
    if (text == NULL && lang_count > 0)
        text = json_string_value(json_object_get(langs[0].messages, key));
    return text != NULL ? text : key;
}

/* Finds a catalogue for a language range: the exact tag, else the same primary
 * subtag, so "zh-CN" finds "zh-Hans" and "ms-MY" finds "ms". */
static const web_lang *match_range(const char *range, size_t len)
{
    size_t primary = strcspn(range, "-");

    if (primary > len)
        primary = len;
    for (size_t i = 0; i < lang_count; i++)
        if (strlen(langs[i].tag) == len && strncasecmp(langs[i].tag, range, len) == 0)
            return &langs[i];
    /* "in" is the withdrawn code of Indonesian that old browsers still send. */
    if (primary == 2 && strncasecmp(range, "in", 2) == 0)
        range = "id";
    for (size_t i = 0; i < lang_count; i++)
        if (strncasecmp(langs[i].tag, range, primary) == 0 &&
            (langs[i].tag[primary] == '\0' || langs[i].tag[primary] == '-'))
            return &langs[i];
    return NULL;
}

/* Reads a qvalue of RFC 9110, section 12.4.2: "0" or "1", then up to three decimals
 * after a point, none of them above 0 after a "1". Returns the weight, or -1 for text
 * of another form, such as 1.5, 0.0001 or 1e0. */
static double read_qvalue(const char *text, size_t len)
{
    double value;
    double unit = 0.1;

    if (len == 0 || (text[0] != '0' && text[0] != '1'))
        return -1.0;
    value = text[0] - '0';
    if (len == 1)
        return value;
    if (text[1] != '.' || len > 5)
        return -1.0;
    for (size_t i = 2; i < len; i++, unit /= 10) {
        if (text[i] < '0' || text[i] > '9' || (text[0] == '1' && text[i] != '0'))
            return -1.0;
        value += unit * (text[i] - '0');
    }
    return value;
}

/* Reads the weight of one language range from its parameters, such as ";q=0.8" with
 * optional white space. Returns 1 without parameters, and -1 for any other parameter or
 * an invalid qvalue, so that such a range is never chosen. */
static double parse_quality(const char *params, size_t len)
{
    size_t i = 0;
    size_t end = len;

    while (i < len && (params[i] == ' ' || params[i] == '\t'))
        i++;
    if (i == len)
        return 1.0;
    if (params[i] != ';')
        return -1.0;
    i++;
    while (i < len && (params[i] == ' ' || params[i] == '\t'))
        i++;
    if (i + 2 > len || (params[i] != 'q' && params[i] != 'Q') || params[i + 1] != '=')
        return -1.0;
    while (end > i && (params[end - 1] == ' ' || params[end - 1] == '\t'))
        end--;
    return read_qvalue(params + i + 2, end - i - 2);
}

/* Picks the best catalogue for an Accept-Language value (RFC 9110, section 12.5.4). */
static const web_lang *from_accept_language(const char *header)
{
    const web_lang *best = NULL;
    double best_q = 0.0;

    while (header != NULL && *header != '\0') {
        size_t item = strcspn(header, ",");
        size_t range = strcspn(header, ";,");
        size_t skip = strspn(header, " ");
        double q = parse_quality(header + range, item - range);
        const web_lang *lang;

        range = range > skip ? range - skip : 0;
        while (range > 0 && header[skip + range - 1] == ' ')
            range--;
        lang = range > 0 ? match_range(header + skip, range) : NULL;
        if (lang != NULL && q > best_q) {
            best = lang;
            best_q = q;
        }
        header += item;
        if (*header == ',')
            header++;
    }
    return best;
}

static const web_lang *from_cookie(const http_request *request)
{
    size_t len = 0;
    const char *value = web_cookie_value(request, LANG_COOKIE, &len);

    return value != NULL ? match_range(value, len) : NULL;
}

const web_lang *web_lang_choose(const http_request *request)
{
    const char *query = http_request_query(request, "lang");
    const web_lang *lang = NULL;

    if (query != NULL)
        lang = match_range(query, strlen(query));
    if (lang == NULL)
        lang = from_cookie(request);
    if (lang == NULL)
        lang = from_accept_language(http_request_header(request, "Accept-Language"));
    return lang != NULL ? lang : web_lang_at(0);
}

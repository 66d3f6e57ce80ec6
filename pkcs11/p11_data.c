/*
 * Private CKO_DATA token objects named by CKA_LABEL and CKA_APPLICATION. Writing creates
 * the new object before it destroys the older ones, so a crash in between leaves at
 * least one object, and a reader may find several.
 */
#include <stdlib.h>
#include <string.h>

#include "p11_internal.h"

/* The template that finds the data objects of label and application. */
static CK_ULONG data_template(const char *label, const char *application,
                              CK_OBJECT_CLASS *cls, CK_BBOOL *yes, CK_ATTRIBUTE *tmpl)
{
    CK_ULONG n = 0;

    tmpl[n++] = (CK_ATTRIBUTE){CKA_CLASS, cls, sizeof(*cls)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_TOKEN, yes, sizeof(*yes)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_LABEL, (void *)label, strlen(label)};
    tmpl[n++] = (CK_ATTRIBUTE){CKA_APPLICATION, (void *)application, strlen(application)};
    return n;
}

/* Puts "data object 'label' of 'application': " before the layer's message. */
static int fail_with_name(p11_error *err, const char *label, const char *application)
{
    char inner[sizeof(err->message)];

    if (err == NULL)
        return -1;
    memcpy(inner, err->message, sizeof(inner));
    return p11_fail(err, err->rv, "data object '%s' of '%s': %s", label, application, inner);
}

static int check_names(const char *label, const char *application, p11_error *err)
{
    if (label == NULL || label[0] == '\0' || application == NULL || application[0] == '\0')
        return p11_fail(err, CKR_ARGUMENTS_BAD,
                        "a data object needs a non-empty label and application");
    return 0;
}

static int find_data(p11_token *token, const char *label, const char *application,
                     CK_OBJECT_HANDLE **found, CK_ULONG *count, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[4];
    CK_ULONG n = data_template(label, application, &cls, &yes, tmpl);

    if (p11_object_find_all(token, tmpl, n, found, count, err) != 0)
        return fail_with_name(err, label, application);
    return 0;
}

static int create_data(p11_token *token, const char *label, const char *application,
                       const unsigned char *value, size_t len, p11_error *err)
{
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_OBJECT_HANDLE created;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_LABEL, (void *)label, strlen(label)},
        {CKA_APPLICATION, (void *)application, strlen(application)},
        {CKA_VALUE, (void *)value, len},
    };

    if (p11_object_create(token, tmpl, sizeof(tmpl) / sizeof(tmpl[0]), &created, err) != 0)
        return fail_with_name(err, label, application);
    return 0;
}

static int destroy_all(p11_token *token, const char *label, const char *application,
                       const CK_OBJECT_HANDLE *objects, CK_ULONG count, p11_error *err)
{
    for (CK_ULONG i = 0; i < count; i++) {
        if (p11_object_destroy(token, objects[i], err) != 0)
            return fail_with_name(err, label, application);
    }
    return 0;
}

int p11_data_write(p11_token *token, const char *label, const char *application,
                   const unsigned char *value, size_t len, p11_error *err)
{
    CK_OBJECT_HANDLE *old = NULL;
    CK_ULONG old_count = 0;
    int rc = -1;

    p11_error_clear(err);
    if (check_names(label, application, err) != 0)
        return -1;

    /* The older objects are listed first, so the new one is never among them. */
    if (find_data(token, label, application, &old, &old_count, err) == 0 &&
        create_data(token, label, application, value, len, err) == 0 &&
        destroy_all(token, label, application, old, old_count, err) == 0)
        rc = 0;
    free(old);
    return rc;
}

int p11_data_read(p11_token *token, const char *label, const char *application,
                  p11_data_newer_fn newer, void *ctx, unsigned char **value, size_t *len,
                  p11_error *err)
{
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0;
    int rc = -1;

    *value = NULL;
    *len = 0;
    p11_error_clear(err);
    if (check_names(label, application, err) != 0 ||
        find_data(token, label, application, &found, &count, err) != 0)
        return -1;

    for (CK_ULONG i = 0; i < count; i++) {
        unsigned char *candidate = NULL;
        size_t candidate_len = 0;

        if (p11_object_get(token, found[i], CKA_VALUE, &candidate, &candidate_len, true,
                           err) != 0) {
            fail_with_name(err, label, application);
            goto out;
        }
        /* An empty value is kept as a zero-length buffer, so that it counts as found. */
        if (candidate == NULL && (candidate = malloc(1)) == NULL) {
            p11_fail(err, CKR_HOST_MEMORY, "out of memory");
            goto out;
        }
        if (*value == NULL || (newer != NULL && newer(candidate, candidate_len, *value,
                                                      *len, ctx))) {
            free(*value);
            *value = candidate;
            *len = candidate_len;
        } else {
            free(candidate);
        }
    }
    rc = 0;
out:
    if (rc != 0) {
        free(*value);
        *value = NULL;
        *len = 0;
    }
    free(found);
    return rc;
}

int p11_data_remove(p11_token *token, const char *label, const char *application,
                    p11_error *err)
{
    CK_OBJECT_HANDLE *found = NULL;
    CK_ULONG count = 0;
    int rc;

    p11_error_clear(err);
    if (check_names(label, application, err) != 0 ||
        find_data(token, label, application, &found, &count, err) != 0)
        return -1;
    rc = destroy_all(token, label, application, found, count, err);
    free(found);
    return rc;
}

/* schemas/openapi.json and the daemon's route table must list the same routes, with
 * the same methods and roles (the x-idsvc-roles extension). */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "http.h"

static json_t *load_document(void)
{
    const char *root = getenv("IDSVC_SOURCE_DIR");
    char path[4096];
    json_error_t error;
    json_t *doc;

    assert_non_null(root);
    snprintf(path, sizeof(path), "%s/schemas/openapi.json", root);
    doc = json_load_file(path, 0, &error);
    if (doc == NULL)
        fprintf(stderr, "%s:%d: %s\n", path, error.line, error.text);
    assert_non_null(doc);
    return doc;
}

static unsigned roles_of(const json_t *operation)
{
    const json_t *list = json_object_get(operation, "x-idsvc-roles");
    const json_t *item;
    size_t index;
    unsigned roles = 0;

    assert_true(json_is_array(list));
    json_array_foreach(list, index, item) {
        const char *name = json_string_value(item);
        unsigned role = ROLE_NONE;

        for (unsigned bit = ROLE_ISSUER; bit <= ROLE_NODE; bit <<= 1)
            if (name != NULL && strcmp(name, config_role_name(bit)) == 0)
                role = bit;
        if (role == ROLE_NONE)
            fprintf(stderr, "unknown role \"%s\"\n", name != NULL ? name : "");
        assert_int_not_equal(role, ROLE_NONE);
        roles |= role;
    }
    return roles;
}

static void lower(const char *in, char *out, size_t size)
{
    size_t i = 0;

    for (; in[i] != '\0' && i + 1 < size; i++)
        out[i] = (char)tolower((unsigned char)in[i]);
    out[i] = '\0';
}

static void test_document_routes_exist(void **state)
{
    json_t *doc = load_document();
    const char *path;
    json_t *item;
    size_t count;
    const http_route *routes = http_routes(&count);
    size_t operations = 0;

    (void)state;
    json_object_foreach(json_object_get(doc, "paths"), path, item) {
        const char *method;
        json_t *operation;

        json_object_foreach(item, method, operation) {
            const http_route *found = NULL;
            char wanted[16];

            for (size_t i = 0; i < count; i++) {
                lower(routes[i].method, wanted, sizeof(wanted));
                if (strcmp(routes[i].pattern, path) == 0 && strcmp(wanted, method) == 0)
                    found = &routes[i];
            }
            if (found == NULL)
                fprintf(stderr, "%s %s is documented but not served\n", method, path);
            assert_non_null(found);
            if (roles_of(operation) != found->roles)
                fprintf(stderr, "%s %s: the roles differ\n", method, path);
            assert_int_equal(roles_of(operation), found->roles);
            operations++;
        }
    }
    assert_int_equal(operations, count);
    json_decref(doc);
}

static void test_served_routes_documented(void **state)
{
    json_t *doc = load_document();
    size_t count;
    const http_route *routes = http_routes(&count);

    (void)state;
    for (size_t i = 0; i < count; i++) {
        json_t *item = json_object_get(json_object_get(doc, "paths"), routes[i].pattern);
        char method[16];

        lower(routes[i].method, method, sizeof(method));
        if (json_object_get(item, method) == NULL)
            fprintf(stderr, "%s %s is served but not documented\n", routes[i].method,
                    routes[i].pattern);
        assert_non_null(json_object_get(item, method));
    }
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_document_routes_exist),
        cmocka_unit_test(test_served_routes_documented),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* Private data objects by label and application: write, replace, read, remove. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "p11_test_util.h"

#define LABEL "test-anchor"
#define APPLICATION "https://node.example/idsvc"

static test_token token_dir;
static p11_token *token;

static int setup(void **state)
{
    (void)state;
    return p11_test_open_fresh(&token_dir, &token);
}

static int teardown(void **state)
{
    (void)state;
    p11_test_close_fresh(&token_dir, &token);
    return 0;
}

static int remove_objects(void **state)
{
    p11_error err;

    (void)state;
    if (p11_data_remove(token, LABEL, APPLICATION, &err) != 0 ||
        p11_data_remove(token, LABEL, "other application", &err) != 0) {
        print_error("p11_data_remove: %s\n", err.message);
        return -1;
    }
    return 0;
}

static void write_ok(const char *application, const char *text)
{
    p11_error err;

    if (p11_data_write(token, LABEL, application, (const unsigned char *)text,
                       strlen(text), &err) != 0)
        fail_msg("p11_data_write(%s): %s", text, err.message);
}

/* Reads the object as a string, or returns NULL when there is none. */
static char *read_text(const char *application, p11_data_newer_fn newer)
{
    unsigned char *value = NULL;
    size_t len = 0;
    p11_error err;
    char *text;

    if (p11_data_read(token, LABEL, application, newer, NULL, &value, &len, &err) != 0)
        fail_msg("p11_data_read: %s", err.message);
    if (value == NULL)
        return NULL;
    text = strndup((const char *)value, len);
    free(value);
    assert_non_null(text);
    return text;
}

/* Counts the data objects of LABEL and application with a session of its own, beside
 * the layer, and checks that each is private and a token object. */
static unsigned long count_objects(const char *application)
{
    CK_FUNCTION_LIST_PTR f = p11_test_functions(token_dir.module_path);
    CK_SLOT_ID slot = p11_test_slot(f, TEST_TOKEN_LABEL);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_LABEL, LABEL, strlen(LABEL)},
        {CKA_APPLICATION, (void *)application, strlen(application)},
    };
    CK_OBJECT_HANDLE found[16];
    CK_ULONG count = 0;
    CK_SESSION_HANDLE session;

    assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &session), CKR_OK);
    assert_int_equal(f->C_FindObjectsInit(session, tmpl, 3), CKR_OK);
    assert_int_equal(f->C_FindObjects(session, found, 16, &count), CKR_OK);
    assert_int_equal(f->C_FindObjectsFinal(session), CKR_OK);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_BBOOL is_private = CK_FALSE;
        CK_BBOOL is_token = CK_FALSE;
        CK_ATTRIBUTE flags[] = {
            {CKA_PRIVATE, &is_private, sizeof(is_private)},
            {CKA_TOKEN, &is_token, sizeof(is_token)},
        };

        assert_int_equal(f->C_GetAttributeValue(session, found[i], flags, 2), CKR_OK);
        assert_true(is_private);
        assert_true(is_token);
    }
    f->C_CloseSession(session);
    return count;
}

/* Creates one more object of LABEL and application behind the layer's back, as a
 * write that crashed before it destroyed the older object leaves it. */
static void create_extra(const char *text)
{
    CK_FUNCTION_LIST_PTR f = p11_test_functions(token_dir.module_path);
    CK_SLOT_ID slot = p11_test_slot(f, TEST_TOKEN_LABEL);
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    CK_ATTRIBUTE tmpl[] = {
        {CKA_CLASS, &cls, sizeof(cls)},
        {CKA_TOKEN, &yes, sizeof(yes)},
        {CKA_PRIVATE, &yes, sizeof(yes)},
        {CKA_LABEL, LABEL, strlen(LABEL)},
        {CKA_APPLICATION, APPLICATION, strlen(APPLICATION)},
        {CKA_VALUE, (void *)text, strlen(text)},
    };
    CK_OBJECT_HANDLE created;
    CK_SESSION_HANDLE session;

    /* The layer's login is per application, so this session is logged in too. */
    assert_int_equal(f->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL,
                                      &session),
                     CKR_OK);
    assert_int_equal(f->C_CreateObject(session, tmpl, 6, &created), CKR_OK);
    f->C_CloseSession(session);
}

/* Prefers the longer value, as a caller prefers the larger tree size. */
static bool longer_is_newer(const unsigned char *candidate, size_t candidate_len,
                            const unsigned char *current, size_t current_len, void *ctx)
{
    (void)candidate;
    (void)current;
    (void)ctx;
    return candidate_len > current_len;
}

static void test_absent_reads_null(void **state)
{
    (void)state;
    assert_null(read_text(APPLICATION, NULL));
    assert_int_equal(count_objects(APPLICATION), 0);
}

static void test_write_then_read(void **state)
{
    char *text;

    (void)state;
    write_ok(APPLICATION, "first value");
    text = read_text(APPLICATION, NULL);
    assert_string_equal(text, "first value");
    free(text);
    assert_int_equal(count_objects(APPLICATION), 1);
}

static void test_write_replaces_older(void **state)
{
    char *text;

    (void)state;
    write_ok(APPLICATION, "first value");
    write_ok(APPLICATION, "second");
    write_ok(APPLICATION, "third value, the longest of all");
    write_ok(APPLICATION, "fourth");
    assert_int_equal(count_objects(APPLICATION), 1);
    text = read_text(APPLICATION, longer_is_newer);
    assert_string_equal(text, "fourth");
    free(text);
}

static void test_application_separates(void **state)
{
    char *text;

    (void)state;
    write_ok(APPLICATION, "this node");
    write_ok("other application", "another node");
    write_ok(APPLICATION, "this node again");
    assert_int_equal(count_objects(APPLICATION), 1);
    assert_int_equal(count_objects("other application"), 1);
    text = read_text("other application", NULL);
    assert_string_equal(text, "another node");
    free(text);
    text = read_text(APPLICATION, NULL);
    assert_string_equal(text, "this node again");
    free(text);
}

static void test_several_caller_picks_newest(void **state)
{
    char *text;

    (void)state;
    write_ok(APPLICATION, "short");
    create_extra("a much longer value");
    create_extra("medium value");
    assert_int_equal(count_objects(APPLICATION), 3);
    text = read_text(APPLICATION, longer_is_newer);
    assert_string_equal(text, "a much longer value");
    free(text);

    /* The next write leaves only itself. */
    write_ok(APPLICATION, "after");
    assert_int_equal(count_objects(APPLICATION), 1);
    text = read_text(APPLICATION, longer_is_newer);
    assert_string_equal(text, "after");
    free(text);
}

static void test_remove_leaves_none(void **state)
{
    p11_error err;

    (void)state;
    write_ok(APPLICATION, "to remove");
    create_extra("another to remove");
    assert_int_equal(p11_data_remove(token, LABEL, APPLICATION, &err), 0);
    assert_int_equal(count_objects(APPLICATION), 0);
    assert_null(read_text(APPLICATION, NULL));
    assert_int_equal(p11_data_remove(token, LABEL, APPLICATION, &err), 0);
}

static void test_empty_names_rejected(void **state)
{
    unsigned char *value = (unsigned char *)"x";
    size_t len = 1;
    p11_error err;

    (void)state;
    assert_int_equal(p11_data_write(token, "", APPLICATION, value, 1, &err), -1);
    assert_non_null(strstr(err.message, "non-empty label and application"));
    assert_int_equal(p11_data_read(token, LABEL, "", NULL, NULL, &value, &len, &err), -1);
    assert_null(value);
    assert_int_equal(err.rv, CKR_ARGUMENTS_BAD);
}

/* A token opened without a PIN finds no private object and cannot create one. The login
 * is per process, so the logged-in token is closed for the time of the test. */
static void test_without_login_private(void **state)
{
    p11_config config = p11_test_config(&token_dir, NULL);
    p11_token *anonymous = NULL;
    unsigned char *value = NULL;
    size_t len = 0;
    p11_error err;

    (void)state;
    write_ok(APPLICATION, "private value");
    p11_token_close(&token);
    config.pin_file = NULL;
    config.max_reconnects = 1;
    assert_int_equal(p11_token_open(&config, &anonymous, &err), 0);
    assert_int_equal(p11_data_read(anonymous, LABEL, APPLICATION, NULL, NULL, &value, &len,
                                   &err),
                     0);
    assert_null(value);

    assert_int_equal(p11_data_write(anonymous, LABEL, APPLICATION,
                                    (const unsigned char *)"x", 1, &err),
                     -1);
    if (strstr(err.message, "C_CreateObject returned CKR_") == NULL)
        fail_msg("no function and CKR name in '%s'", err.message);
    assert_non_null(strstr(err.message, "data object '" LABEL "' of '" APPLICATION "'"));
    p11_token_close(&anonymous);

    config.pin_file = token_dir.pin_path;
    assert_int_equal(p11_token_open(&config, &token, &err), 0);
    assert_int_equal(count_objects(APPLICATION), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_absent_reads_null, remove_objects),
        cmocka_unit_test_setup(test_write_then_read, remove_objects),
        cmocka_unit_test_setup(test_write_replaces_older, remove_objects),
        cmocka_unit_test_setup(test_application_separates, remove_objects),
        cmocka_unit_test_setup(test_several_caller_picks_newest, remove_objects),
        cmocka_unit_test_setup(test_remove_leaves_none, remove_objects),
        cmocka_unit_test_setup(test_empty_names_rejected, remove_objects),
        cmocka_unit_test_setup(test_without_login_private, remove_objects),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * The log writer's escaping: well-formed UTF-8 stays readable, while controls, line
 * separators and invalid bytes are escaped, so every line is one valid JSON object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "log.h"

/* Logs value as the field "v" and returns the line written, read back from a file
 * that replaces stderr meanwhile. */
static char *log_line(const char *value)
{
    char path[] = "/tmp/idsvc-test-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    log_field field = {"v", value};
    static char line[4096];
    FILE *file;

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    log_event(LOG_INFO, "test", &field, 1);
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fd);

    file = fopen(path, "r");
    assert_non_null(file);
    assert_non_null(fgets(line, sizeof(line), file));
    fclose(file);
    unlink(path);
    return line;
}

/* Expects the line to hold "v":expected and to be one valid JSON object. */
static void expect_logged(const char *value, const char *expected)
{
    char *line = log_line(value);
    char member[1024];
    json_t *doc = json_loads(line, 0, NULL);

    snprintf(member, sizeof(member), "\"v\":%s", expected);
    if (strstr(line, member) == NULL)
        fprintf(stderr, "line: %s", line);
    assert_non_null(strstr(line, member));
    assert_non_null(doc);
    json_decref(doc);
}

static void utf8_copied_as_is(void **state)
{
    (void)state;
    expect_logged("\xc3\x89lodie", "\"\xc3\x89lodie\"");
    expect_logged("\xe4\xb8\xad\xe6\x96\x87 \xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2",
                 "\"\xe4\xb8\xad\xe6\x96\x87 \xe0\xb9\x84\xe0\xb8\x97\xe0\xb8\xa2\"");
    expect_logged("\xf0\x9f\x94\x91", "\"\xf0\x9f\x94\x91\"");
}

static void controls_escaped(void **state)
{
    (void)state;
    expect_logged("a\nb\"c\\", "\"a\\u000ab\\\"c\\\\\"");
    expect_logged("\xc2\x85", "\"\\u0085\"");
    expect_logged("a\xe2\x80\xa8" "b\xe2\x80\xa9", "\"a\\u2028b\\u2029\"");
}

static void invalid_utf8_replaced(void **state)
{
    (void)state;
    expect_logged("\xff", "\"\\ufffd\"");
    /* An overlong '/', a surrogate and a sequence cut by the end of the text. */
    expect_logged("\xc0\xaf", "\"\\ufffd\\ufffd\"");
    expect_logged("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
    expect_logged("x\xe4\xb8", "\"x\\ufffd\\ufffd\"");
}

/* The clean copy replaces what the log escapes as invalid, and JSON then carries it. */
static void utf8_clean_copy(void **state)
{
    static const struct {
        const char *in;
        const char *out;
    } cases[] = {
        {"plain", "plain"},
        {"\xe4\xb8\xad", "\xe4\xb8\xad"},
        {"a\xffz", "a\xef\xbf\xbdz"},
        {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd"},
        {"x\xe4\xb8", "x\xef\xbf\xbd\xef\xbf\xbd"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *clean = log_utf8_clean(cases[i].in);
        json_t *text;

        assert_non_null(clean);
        assert_string_equal(clean, cases[i].out);
        text = json_string(clean);
        assert_non_null(text);
        json_decref(text);
        free(clean);
    }
}

/* A message, the node's own sentence, keeps up to LOG_MESSAGE_MAX bytes, so that its
 * remedy at the end survives; other values stop at LOG_VALUE_MAX. */
static void message_cap_longer(void **state)
{
    char value[LOG_MESSAGE_MAX + 8];
    char path[] = "/tmp/idsvc-test-log-XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDERR_FILENO);
    char line[4 * LOG_MESSAGE_MAX];
    log_field fields[] = {{"message", value}, {"other", value}};
    FILE *file;

    (void)state;
    memset(value, 'm', LOG_MESSAGE_MAX - 1);
    memcpy(value + LOG_MESSAGE_MAX - 1, "!", 2);
    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
    log_event(LOG_INFO, "test", fields, 2);
    fflush(stderr);
    assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
    close(saved);
    close(fd);
    file = fopen(path, "r");
    assert_non_null(file);
    assert_non_null(fgets(line, sizeof(line), file));
    fclose(file);
    unlink(path);
    assert_non_null(strstr(line, "m!\",\"other\""));
    assert_non_null(strstr(line, "mmm...\"}"));
}

/* The cap never cuts a character in two. */
static void cap_keeps_characters_whole(void **state)
{
    char value[LOG_VALUE_MAX + 8];
    char expected[LOG_VALUE_MAX + 16];

    (void)state;
    memset(value, 'a', LOG_VALUE_MAX - 1);
    memcpy(value + LOG_VALUE_MAX - 1, "\xc3\x89", 3);
    snprintf(expected, sizeof(expected), "\"%.*s...\"", LOG_VALUE_MAX - 1, value);
    expect_logged(value, expected);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(utf8_copied_as_is),
        cmocka_unit_test(controls_escaped),
        cmocka_unit_test(invalid_utf8_replaced),
        cmocka_unit_test(utf8_clean_copy),
        cmocka_unit_test(message_cap_longer),
        cmocka_unit_test(cap_keeps_characters_whole),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

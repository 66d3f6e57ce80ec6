/* idsvc-webauthn-bench: the command line; see webauthn_bench.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "webauthn_bench.h"

static void usage(void)
{
    fprintf(stderr,
            "usage: idsvc-webauthn-bench prepare --vectors DIR --out CASES.json\n"
            "       idsvc-webauthn-bench list --cases CASES.json\n"
            "       idsvc-webauthn-bench run --cases CASES.json --case NAME\n"
            "                            [--seconds S] [--warmup S] [--parsed-key]\n"
            "\n"
            "prepare  writes the case file from DIR (the folder holding webauthn/) and\n"
            "         from keys made at start-up\n"
            "list     prints each case name\n"
            "run      verifies the case once, then times it on this thread for S\n"
            "         seconds (default 2) after a warm-up (default 0.3) and prints a\n"
            "         JSON line; exit 1 when the case is rejected. --parsed-key\n"
            "         makes assertions reuse one webauthn_public_key, as a server that\n"
            "         caches the parsed key per authenticator would\n");
}

/* Returns the value after a flag, or NULL when the flag is absent or has none. */
static const char *flag_value(int argc, char **argv, const char *flag)
{
    for (int i = 2; i + 1 < argc; i++) {
        if (strcmp(argv[i], flag) == 0)
            return argv[i + 1];
    }
    return NULL;
}

static int parse_seconds(const char *text, double fallback, double *out)
{
    char *end;

    if (text == NULL) {
        *out = fallback;
        return 0;
    }
    *out = strtod(text, &end);
    if (end == text || *end != '\0' || *out < 0 || *out > 3600) {
        fprintf(stderr, "idsvc-webauthn-bench: invalid number of seconds: %s\n", text);
        return -1;
    }
    return 0;
}

static json_t *load_cases(const char *path)
{
    json_error_t error;
    json_t *cases;

    if (path == NULL) {
        usage();
        return NULL;
    }
    cases = json_load_file(path, 0, &error);
    if (cases == NULL)
        fprintf(stderr, "idsvc-webauthn-bench: cannot read %s: %s\n", path, error.text);
    return cases;
}

static int run_case(int argc, char **argv)
{
    const char *name = flag_value(argc, argv, "--case");
    wabench_options options;
    const json_t *test_case;
    json_t *cases;
    int result;

    if (name == NULL) {
        usage();
        return 2;
    }
    options.parsed_key = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--parsed-key") == 0)
            options.parsed_key = 1;
    }
    if (parse_seconds(flag_value(argc, argv, "--seconds"), 2.0, &options.seconds) != 0 ||
        parse_seconds(flag_value(argc, argv, "--warmup"), 0.3, &options.warmup) != 0)
        return 2;
    if (options.seconds <= 0) {
        fprintf(stderr, "idsvc-webauthn-bench: --seconds must be greater than 0\n");
        return 2;
    }
    cases = load_cases(flag_value(argc, argv, "--cases"));
    if (cases == NULL)
        return 2;

    test_case = wabench_find_case(cases, name);
    if (test_case == NULL) {
        fprintf(stderr, "idsvc-webauthn-bench: no case named %s\n", name);
        json_decref(cases);
        return 2;
    }
    result = wabench_run(test_case, &options);
    json_decref(cases);
    return result < 0 ? 2 : result;
}

static int list_cases(int argc, char **argv)
{
    json_t *cases = load_cases(flag_value(argc, argv, "--cases"));
    const json_t *test_case;
    size_t i;

    if (cases == NULL)
        return 2;
    json_array_foreach(json_object_get(cases, "cases"), i, test_case)
    {
        printf("%s\n", json_string_value(json_object_get(test_case, "name")));
    }
    json_decref(cases);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage();
        return 2;
    }
    if (strcmp(argv[1], "prepare") == 0) {
        const char *vectors = flag_value(argc, argv, "--vectors");
        const char *out = flag_value(argc, argv, "--out");

        if (vectors == NULL || out == NULL) {
            usage();
            return 2;
        }
        return wabench_prepare(vectors, out) == 0 ? 0 : 2;
    }
    if (strcmp(argv[1], "list") == 0)
        return list_cases(argc, argv);
    if (strcmp(argv[1], "run") == 0)
        return run_case(argc, argv);
    usage();
    return 2;
}

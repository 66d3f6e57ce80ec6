/*
 * idsvc-policy-bench: decisions per second of the policy engine on one core.
 *
 * Loads every bundle of a folder (default: policies/), resolves a fixed mix of requests
 * of ten claims each (every subject and relying party jurisdiction pair, purposes in
 * turn), then evaluates them round robin on one thread for the given time. Request
 * parsing and bundle loading are outside the timed loop: the figure is the evaluation
 * alone, which is what the node repeats per request once a request is resolved.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policy_internal.h"

static const char *const bench_claims[] = {
    "given_name", "family_name", "date_of_birth", "address",     "national_id",
    "email",      "phone",       "nationality",   "age_over_18", "residency_country",
};
#define BENCH_CLAIM_COUNT (sizeof(bench_claims) / sizeof(bench_claims[0]))

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Loads the folder's *.xml bundles in name order and compiles them. */
static policy_set *load_set(const char *folder)
{
    policy_bundle *bundles[64];
    char *names[64];
    size_t count = 0;
    policy_set *set = NULL;
    policy_error err = {0};
    DIR *dir = opendir(folder);
    struct dirent *entry;

    if (dir == NULL) {
        fprintf(stderr, "idsvc-policy-bench: cannot open %s\n", folder);
        return NULL;
    }
    while ((entry = readdir(dir)) != NULL && count < 64) {
        size_t len = strlen(entry->d_name);

        if (len < 5 || strcmp(entry->d_name + len - 4, ".xml") != 0)
            continue;
        names[count] = malloc(strlen(folder) + len + 2);
        sprintf(names[count], "%s/%s", folder, entry->d_name);
        count++;
    }
    closedir(dir);
    qsort(names, count, sizeof(*names), compare_names);

    for (size_t i = 0; i < count; i++) {
        if (policy_bundle_load_file(names[i], &bundles[i], &err) != 0) {
            fprintf(stderr, "idsvc-policy-bench: %s\n", err.message);
            return NULL;
        }
    }
    if (policy_set_compile(bundles, count, &set, &err) != 0)
        fprintf(stderr, "idsvc-policy-bench: %s\n", err.message);
    for (size_t i = 0; i < count; i++) {
        policy_bundle_free(&bundles[i]);
        free(names[i]);
    }
    return set;
}

static void build_request(const policy_set *set, size_t s, size_t r, size_t p,
                          const json_t *values, policy_request *req)
{
    memset(req, 0, sizeof(*req));
    req->set = set;
    req->subject = (int)s;
    req->relying_party = (int)r;
    memcpy(req->rp_country, set->jurisdictions[r], 3);
    req->purpose = (int)p;
    req->mechanisms = POLICY_MECH_ASEAN_MCC | POLICY_MECH_STANDARD_CONTRACT;
    req->assurance = POLICY_ASSURANCE_SUBSTANTIAL;
    req->consent = POLICY_CONSENT_SEPARATE_CROSS_BORDER;
    req->retention_days = 365;
    req->values = values;
    policy_parse_utc("2026-06-01T00:00:00Z", &req->time);
    req->claim_count = BENCH_CLAIM_COUNT;
    for (size_t c = 0; c < BENCH_CLAIM_COUNT; c++) {
        req->claim_names[c] = bench_claims[c];
        req->claims[c] = policy_set_find_claim(set, bench_claims[c]);
    }
}

int main(int argc, char **argv)
{
    const char *folder = argc > 1 ? argv[1] : "policies";
    double seconds = argc > 2 ? atof(argv[2]) : 3.0;
    json_t *values =
        json_pack("{s:s, s:s, s:s, s:{s:s}, s:s, s:s, s:s, s:s}", "given_name", "Mei",
                  "family_name", "Tan", "date_of_birth", "1990-04-01", "address",
                  "country", "SG", "national_id", "ID-1", "email", "m@example.org",
                  "phone", "+6500000000", "nationality", "SG");
    policy_set *set = load_set(folder);
    policy_request *requests;
    size_t request_count, done = 0, released = 0;
    policy_decision decision;
    double start, elapsed;

    if (set == NULL || seconds <= 0)
        return 1;
    request_count =
        set->jurisdiction_count * set->jurisdiction_count * set->purpose_count;
    requests = calloc(request_count, sizeof(*requests));
    for (size_t s = 0, i = 0; s < set->jurisdiction_count; s++) {
        for (size_t r = 0; r < set->jurisdiction_count; r++) {
            for (size_t p = 0; p < set->purpose_count; p++)
                build_request(set, s, r, p, values, &requests[i++]);
        }
    }

    start = now_seconds();
    do {
        for (size_t i = 0; i < 1000; i++) {
            policy_evaluate(&requests[done % request_count], &decision, NULL);
            released += decision.claims[0].outcome != POLICY_WITHHELD;
            done++;
        }
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);

    printf("bundles: %zu, rules: %zu, distinct requests: %zu, claims per request: %zu\n",
           set->bundle_count, set->rule_count, request_count, BENCH_CLAIM_COUNT);
    printf("decisions: %zu in %.2f s on one thread: %.0f decisions/s, %.0f claim "
           "decisions/s\n",
           done, elapsed, (double)done / elapsed,
           (double)done * BENCH_CLAIM_COUNT / elapsed);
    printf("(first claim released in %zu of them)\n", released);

    free(requests);
    json_decref(values);
    policy_set_release(&set);
    return 0;
}

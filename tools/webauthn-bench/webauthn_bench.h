/*
 * idsvc-webauthn-bench: WebAuthn registrations and assertions verified per second by
 * idsvc's verifier on one thread, on the same inputs that bench.mjs gives to
 * @simplewebauthn/server.
 *
 * "prepare" writes a case file: the public vectors, plus packed self-attested
 * registrations and assertions made here by a software authenticator. "run" times one
 * case from that file. Both programs read the same file, so they verify the same bytes.
 */
#ifndef IDSVC_WEBAUTHN_BENCH_H
#define IDSVC_WEBAUTHN_BENCH_H

#include <jansson.h>

/* Writes the case file from the vectors folder (the one that contains webauthn/).
 * Returns 0, or -1 after printing the reason to standard error. */
int wabench_prepare(const char *vectors_dir, const char *out_path);

/* Timing of one case. */
typedef struct wabench_options {
    double seconds; /* timed part */
    double warmup;  /* untimed part before it */
    int parsed_key; /* assertions: parse the stored key once, as a route cache would */
} wabench_options;

/*
 * Verifies the case once and requires a success, then times verifications for
 * options->seconds and prints one JSON line with the operation count, the wall time
 * and the process CPU time. Returns 0, 1 when the case was rejected (nothing timed) or
 * -1 on a usage or internal error.
 */
int wabench_run(const json_t *test_case, const wabench_options *options);

/* Returns the case called name from a case file, or NULL; the file owns it. */
const json_t *wabench_find_case(const json_t *cases, const char *name);

#endif

/* idsvc-bench: rates of the raw operations and of idsvc's own, measured in one run. */
#ifndef IDSVC_BENCH_H
#define IDSVC_BENCH_H

#include <stddef.h>

/* One measured operation. setup runs once per thread before timing and returns the
 * thread's state (NULL on failure); run performs one operation and returns 0 on
 * success; teardown frees the state. */
typedef struct bench_op {
    const char *name;
    void *(*setup)(void *shared);
    int (*run)(void *state);
    void (*teardown)(void *state);
    void *shared;
} bench_op;

/* Runs op on `threads` threads for `seconds` and returns operations per second for the
 * whole process, or a negative value when an operation failed. */
double bench_measure(const bench_op *op, int threads, double seconds);

/* Raw PKCS#11 C_Sign on the module's own API, with nothing of idsvc in between. */
typedef struct bench_raw_sign {
    const char *module_path;
    const char *token_label;
    const char *pin;
    const char *key_label;
    int ecdsa; /* 1: CKM_ECDSA over a SHA-256 digest; 0: CKM_SHA256_RSA_PKCS */
    size_t data_len;
} bench_raw_sign;

int bench_raw_open(bench_raw_sign *raw);
void bench_raw_close(void);
extern const bench_op bench_raw_sign_op;

/* The bare verification loop: libxmlsec1 with the hardened settings and nothing else. */
typedef struct bench_xmlsec {
    const char *xml;
    size_t xml_len;
    const char *pubkey_pem;
    size_t pubkey_pem_len;
} bench_xmlsec;

extern const bench_op bench_xmlsec_verify_op;

/* Mean thread CPU times of one verification and one signature, in milliseconds. */
typedef struct bench_cpu_pair {
    double verify_ms;
    double sign_ms;
} bench_cpu_pair;

/* Measures verify and sign on the calling thread, for `seconds` each in a loop of its
 * own and then for `seconds` alternately, one of each in turn. Returns 0, or -1 when an
 * operation failed. */
int bench_alternate(const bench_op *verify, const bench_op *sign, double seconds,
                    bench_cpu_pair *alone, bench_cpu_pair *alternate);

#endif

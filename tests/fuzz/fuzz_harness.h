/* The libFuzzer entry point, which fuzz_replay.c also calls under GCC. */
#ifndef IDSVC_FUZZ_HARNESS_H
#define IDSVC_FUZZ_HARNESS_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif

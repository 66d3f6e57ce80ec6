/*
 * Writes the seeds of the WebAuthn harnesses: registrations of each attestation format
 * and assertions of each credential algorithm, made by the tests' software
 * authenticator for the fixed challenge, in the layout that fuzz_split reads.
 * Usage: fuzz_webauthn_seeds REGISTER_FOLDER ASSERT_FOLDER
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_webauthn.h"
#include "soft_authenticator.h"
#include "soft_safetynet.h"
#include "webauthn.h"

/* Appends a two-byte length and the bytes of the base64url member name of object, or
 * the bytes alone when last is set. Returns 0 or -1. */
static int write_member(FILE *file, const json_t *object, const char *name, bool last)
{
    const char *text = json_string_value(json_object_get(object, name));
    unsigned char *bytes = NULL;
    size_t length = 0;
    int failed;

    if (text == NULL || webauthn_base64url_decode(text, strlen(text), &bytes, &length) != 0)
        return -1;
    failed = length > 0xffff;
    if (!last && !failed)
        failed = fputc((int)(length >> 8), file) == EOF || fputc((int)(length & 0xff), file) == EOF;
    if (!failed)
        failed = fwrite(bytes, 1, length, file) != length;
    free(bytes);
    return failed ? -1 : 0;
}

/* Writes rawId and the named response members of response_json to folder/name, and
 * then key, as the last part, when it is not NULL. Returns 0 or -1. */
static int write_seed(const char *folder, const char *name, const char *response_json,
                      const char *const *members, size_t count, const unsigned char *key,
                      size_t key_len)
{
    char path[4096];
    json_t *root = json_loads(response_json, 0, NULL);
    json_t *response = json_object_get(root, "response");
    FILE *file;
    int failed;

    snprintf(path, sizeof(path), "%s/%s", folder, name);
    file = fopen(path, "wb");
    failed = root == NULL || file == NULL;
    if (!failed)
        failed = write_member(file, root, "rawId", false) != 0;
    for (size_t i = 0; i < count && !failed; i++)
        failed = write_member(file, response, members[i], key == NULL && i + 1 == count) != 0;
    if (!failed && key != NULL)
        failed = fwrite(key, 1, key_len, file) != key_len;
    if (file != NULL && fclose(file) != 0)
        failed = 1;
    json_decref(root);
    if (failed)
        fprintf(stderr, "fuzz_webauthn_seeds: cannot write %s\n", path);
    return failed ? -1 : 0;
}

static int write_registration(const char *folder, const char *name, int alg,
                              soft_format format, const soft_ca *ca,
                              const soft_safetynet *safetynet)
{
    static const char *const members[] = {"clientDataJSON", "attestationObject"};
    soft_authenticator auth;
    soft_ceremony ceremony;
    char *json;
    int result;

    if (soft_authenticator_init(&auth, alg) != 0)
        return -1;
    /* fido-u2f has no AAGUID, so its authenticator data carries zeros. */
    if (format == SOFT_FORMAT_FIDO_U2F)
        memset(auth.aaguid, 0, sizeof(auth.aaguid));
    soft_ceremony_defaults(&ceremony);
    ceremony.format = format;
    ceremony.ca = ca;
    ceremony.safetynet = safetynet;
    json = soft_register(&auth, &ceremony, NULL, 0);
    result = json == NULL ? -1 : write_seed(folder, name, json, members, 2, NULL, 0);
    free(json);
    soft_authenticator_clear(&auth);
    return result;
}

/* The assertion layout ends with the stored key, so the signature gets a length too. */
static int write_assertion(const char *folder, const char *name, int alg)
{
    static const char *const members[] = {"clientDataJSON", "authenticatorData",
                                          "signature"};
    soft_authenticator auth;
    soft_ceremony ceremony;
    unsigned char *key = NULL;
    size_t key_len = 0;
    char *json;
    int result = -1;

    if (soft_authenticator_init(&auth, alg) != 0)
        return -1;
    soft_ceremony_defaults(&ceremony);
    json = soft_authenticate(&auth, &ceremony);
    key = soft_cose_key(&auth, &key_len);
    if (json != NULL && key != NULL)
        result = write_seed(folder, name, json, members, 3, key, key_len);
    free(key);
    free(json);
    soft_authenticator_clear(&auth);
    return result;
}

static int write_registrations(const char *folder)
{
    soft_ca ca;
    soft_safetynet_ca safetynet_ca;
    soft_safetynet safetynet = {.ca = &safetynet_ca};
    int failed;

    if (soft_ca_init(&ca, NULL) != 0 || soft_ca_add_aik(&ca) != 0 ||
        soft_safetynet_ca_init(&safetynet_ca) != 0)
        return -1;
    failed = write_registration(folder, "none-es256", -7, SOFT_FORMAT_NONE, NULL, NULL) != 0;
    failed |= write_registration(folder, "packed-self-eddsa", -8, SOFT_FORMAT_PACKED_SELF, NULL, NULL) != 0;
    failed |= write_registration(folder, "packed-self-rs256", -257, SOFT_FORMAT_PACKED_SELF, NULL, NULL) != 0;
    failed |= write_registration(folder, "packed-x5c-es256", -7, SOFT_FORMAT_PACKED_X5C, &ca, NULL) != 0;
    failed |= write_registration(folder, "fido-u2f-es256", -7, SOFT_FORMAT_FIDO_U2F, &ca, NULL) != 0;
    failed |= write_registration(folder, "tpm-rs256", -257, SOFT_FORMAT_TPM, &ca, NULL) != 0;
    failed |= write_registration(folder, "android-key-es256", -7, SOFT_FORMAT_ANDROID_KEY, &ca, NULL) != 0;
    failed |= write_registration(folder, "apple-es256", -7, SOFT_FORMAT_APPLE, &ca, NULL) != 0;
    failed |= write_registration(folder, "android-safetynet-es256", -7, SOFT_FORMAT_ANDROID_SAFETYNET, NULL, &safetynet) != 0;
    soft_safetynet_ca_clear(&safetynet_ca);
    soft_ca_clear(&ca);
    return failed ? -1 : 0;
}

int main(int argc, char **argv)
{
    int failed;

    if (argc != 3) {
        fprintf(stderr, "usage: fuzz_webauthn_seeds REGISTER_FOLDER ASSERT_FOLDER\n");
        return 2;
    }
    /* The folders are made here, so that ctest needs no step of its own for them. */
    if ((mkdir(argv[1], 0755) != 0 && errno != EEXIST) ||
        (mkdir(argv[2], 0755) != 0 && errno != EEXIST)) {
        perror("fuzz_webauthn_seeds: mkdir");
        return 1;
    }
    failed = write_registrations(argv[1]) != 0;
    failed |= write_assertion(argv[2], "es256", -7) != 0;
    failed |= write_assertion(argv[2], "es384", -35) != 0;
    failed |= write_assertion(argv[2], "eddsa", -8) != 0;
    failed |= write_assertion(argv[2], "rs256", -257) != 0;
    failed |= write_assertion(argv[2], "ps256", -37) != 0;
    return failed ? 1 : 0;
}

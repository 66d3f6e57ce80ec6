/* The CBOR check on attestation objects and on the CBOR inside authenticator data. The
 * cases are the examples of RFC 8949 Appendix A, the not-well-formed inputs of its
 * Appendix F.1, each byte that starts a reserved or indefinite head, and the CTAP2
 * canonical rules (shortest heads, no indefinite lengths, no tags) with UTF-8 text and
 * unique map keys. Every input is built here at run time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cbor.h>
#include <cmocka.h>
#include <openssl/sha.h>

#include "soft_authenticator.h"
#include "webauthn.h"

typedef struct fixture {
    soft_authenticator auth;
    soft_ceremony ceremony;
    webauthn_verifier *verifier;
    webauthn_registration *reg;
    webauthn_error err;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));

    if (f == NULL || soft_authenticator_init(&f->auth, -7) != 0)
        return -1;
    soft_ceremony_defaults(&f->ceremony);
    f->verifier = webauthn_verifier_new(SOFT_RP_ID);
    if (f->verifier == NULL ||
        webauthn_verifier_add_origin(f->verifier, SOFT_ORIGIN) != 0)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;

    webauthn_registration_free(&f->reg);
    webauthn_verifier_free(&f->verifier);
    soft_authenticator_clear(&f->auth);
    free(f);
    return 0;
}

/* Verifies a registration whose attestationObject is the given bytes. */
static webauthn_code verify_object(fixture *f, const unsigned char *object, size_t len)
{
    char *json = soft_register(&f->auth, &f->ceremony, object, len);
    webauthn_code code;

    assert_non_null(json);
    webauthn_registration_free(&f->reg);
    code = webauthn_verify_registration(f->verifier, f->ceremony.challenge,
                                        sizeof(f->ceremony.challenge), json, strlen(json),
                                        &f->reg, &f->err);
    free(json);
    return code;
}

static size_t hex_decode(const char *hex, unsigned char *out, size_t size)
{
    size_t len = 0;

    for (; hex[0] != '\0' && hex[1] != '\0'; hex += 2) {
        unsigned value;

        assert_true(len < size);
        assert_int_equal(sscanf(hex, "%2x", &value), 1);
        out[len++] = (unsigned char)value;
    }
    return len;
}

/* Asserts that the CBOR check rejects the bytes as the attestation object, with a
 * message that contains reason when reason is not NULL. */
static void assert_cbor_rejected(fixture *f, const unsigned char *bytes, size_t len,
                                 const char *label, const char *reason)
{
    webauthn_code code = verify_object(f, bytes, len);

    if (code != WEBAUTHN_CBOR_MALFORMED)
        fail_msg("%s: expected cbor_malformed, got %s: %s", label,
                 webauthn_code_name(code), f->err.message);
    if (reason != NULL && strstr(f->err.message, reason) == NULL)
        fail_msg("%s: expected \"%s\" in: %s", label, reason, f->err.message);
}

/* Asserts that the bytes pass the CBOR check, so that the registration fails later,
 * because a well-formed item that is not an attestation object is malformed. */
static void assert_cbor_passed(fixture *f, const unsigned char *bytes, size_t len,
                               const char *label)
{
    webauthn_code code = verify_object(f, bytes, len);

    if (code != WEBAUTHN_MALFORMED)
        fail_msg("%s: expected malformed after the CBOR check, got %s: %s", label,
                 webauthn_code_name(code), f->err.message);
}

/* ---- RFC 8949 Appendix A ---------------------------------------------------------- */

/* Every example of RFC 8949 Appendix A, with whether it is inside this verifier's CBOR
 * subset. Tags, indefinite lengths and simple values other than false, true, null and
 * undefined are outside it. Floats are inside: CTAP2 never sends them, but they are
 * well formed and no rule here needs them gone. */
static const struct {
    const char *hex;
    bool in_subset;
} appendix_a[] = {
    {"00", true},
    {"01", true},
    {"0a", true},
    {"17", true},
    {"1818", true},
    {"1819", true},
    {"1864", true},
    {"1903e8", true},
    {"1a000f4240", true},
    {"1b000000e8d4a51000", true},
    {"1bffffffffffffffff", true},
    {"c249010000000000000000", false},
    {"3bffffffffffffffff", true},
    {"c349010000000000000000", false},
    {"20", true},
    {"29", true},
    {"3863", true},
    {"3903e7", true},
    {"f90000", true},
    {"f98000", true},
    {"f93c00", true},
    {"fb3ff199999999999a", true},
    {"f93e00", true},
    {"f97bff", true},
    {"fa47c35000", true},
    {"fa7f7fffff", true},
    {"fb7e37e43c8800759c", true},
    {"f90001", true},
    {"f90400", true},
    {"f9c400", true},
    {"fbc010666666666666", true},
    {"f97c00", true},
    {"f97e00", true},
    {"f9fc00", true},
    {"fa7f800000", true},
    {"fa7fc00000", true},
    {"faff800000", true},
    {"fb7ff0000000000000", true},
    {"fb7ff8000000000000", true},
    {"fbfff0000000000000", true},
    {"f4", true},
    {"f5", true},
    {"f6", true},
    {"f7", true},
    {"f0", false},
    {"f818", false},
    {"f8ff", false},
    {"c074323031332d30332d32315432303a30343a30305a", false},
    {"c11a514b67b0", false},
    {"c1fb41d452d9ec200000", false},
    {"d74401020304", false},
    {"d818456449455446", false},
    {"d82076687474703a2f2f7777772e6578616d706c652e636f6d", false},
    {"40", true},
    {"4401020304", true},
    {"60", true},
    {"6161", true},
    {"6449455446", true},
    {"62225c", true},
    {"62c3bc", true},
    {"63e6b0b4", true},
    {"64f0908591", true},
    {"80", true},
    {"83010203", true},
    {"8301820203820405", true},
    {"98190102030405060708090a0b0c0d0e0f101112131415161718181819", true},
    {"a0", true},
    {"a201020304", true},
    {"a26161016162820203", true},
    {"826161a161626163", true},
    {"a56161614161626142616361436164614461656145", true},
    {"5f42010243030405ff", false},
    {"7f657374726561646d696e67ff", false},
    {"9fff", false},
    {"9f018202039f0405ffff", false},
    {"9f01820203820405ff", false},
    {"83018202039f0405ff", false},
    {"83019f0203ff820405", false},
    {"9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff", false},
    {"bf61610161629f0203ffff", false},
    {"826161bf61626163ff", false},
    {"bf6346756ef563416d7421ff", false},
};

static void appendix_a_examples(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(appendix_a) / sizeof(appendix_a[0]); i++) {
        unsigned char bytes[64];
        size_t len = hex_decode(appendix_a[i].hex, bytes, sizeof(bytes));

        if (appendix_a[i].in_subset)
            assert_cbor_passed(f, bytes, len, appendix_a[i].hex);
        else
            assert_cbor_rejected(f, bytes, len, appendix_a[i].hex, NULL);
    }
}

/* ---- RFC 8949 Appendix F.1 -------------------------------------------------------- */

/* The examples of RFC 8949 Appendix F.1, which are not well formed. */
/* clang-format off: one line per group of the appendix */
static const char *const appendix_f[] = {
    /* End of input in a head */
    "18",
    "19",
    "1a",
    "1b",
    "1901",
    "1a0102",
    "1b01020304050607",
    "38",
    "58",
    "78",
    "98",
    "9a01ff00",
    "b8",
    "d8",
    "f8",
    "f900",
    "fa0000",
    "fb000000",
    /* Definite-length strings with short data */
    "41",
    "61",
    "5affffffff00",
    "5bffffffffffffffff010203",
    "7affffffff00",
    "7b7fffffffffffffff010203",
    /* Definite-length maps and arrays not closed with enough items */
    "81",
    "818181818181818181",
    "8200",
    "a1",
    "a20102",
    "a100",
    "a2000000",
    /* Tag number not followed by tag content */
    "c0",
    /* Indefinite-length strings not closed by a break stop code */
    "5f4100",
    "7f6100",
    /* Indefinite-length maps and arrays not closed by a break stop code */
    "9f",
    "9f0102",
    "bf",
    "bf01020102",
    "819f",
    "9f8000",
    "9f9f9f9f9fffffffff",
    "9f819f819f9fffffff",
    /* Reserved additional information values */
    "1c",
    "1d",
    "1e",
    "3c",
    "3d",
    "3e",
    "5c",
    "5d",
    "5e",
    "7c",
    "7d",
    "7e",
    "9c",
    "9d",
    "9e",
    "bc",
    "bd",
    "be",
    "dc",
    "dd",
    "de",
    "fc",
    "fd",
    "fe",
    /* Reserved two-byte encodings of simple values */
    "f800",
    "f801",
    "f818",
    "f81f",
    /* Indefinite-length string chunks not of the correct type */
    "5f00ff",
    "5f21ff",
    "5f6100ff",
    "5f80ff",
    "5fa0ff",
    "5fc000ff",
    "5fe0ff",
    "7f4100ff",
    /* Indefinite-length string chunks not definite length */
    "5f5f4100ffff",
    "7f7f6100ffff",
    /* Break occurring on its own outside of an indefinite-length item */
    "ff",
    /* Break occurring in a definite-length array or map or a tag */
    "81ff",
    "8200ff",
    "a1ff",
    "a1ff00",
    "a100ff",
    "a20000ff",
    "9f81ff",
    "9f829f819f9fffffffff",
    /* Break in an indefinite-length map that would lead to an odd number of items */
    "bf00ff",
    "bf000000ff",
    /* Major type 0, 1 or 6 with additional information 31 */
    "1f",
    "3f",
    "df",
};
/* clang-format on */

static void appendix_f_not_well_formed(void **state)
{
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(appendix_f) / sizeof(appendix_f[0]); i++) {
        unsigned char bytes[32];
        size_t len = hex_decode(appendix_f[i], bytes, sizeof(bytes));

        assert_cbor_rejected(f, bytes, len, appendix_f[i], NULL);
    }
}

/* Each initial byte that RFC 8949 reserves (additional information 28 to 30) or that
 * starts an indefinite length or a break, alone and followed by each possible byte. */
static void reserved_and_indefinite_heads(void **state)
{
    fixture *f = *state;

    for (unsigned major = 0; major < 8; major++) {
        for (unsigned info = 28; info <= 31; info++) {
            for (unsigned next = 0; next <= 0x100; next++) {
                unsigned char bytes[2] = {(unsigned char)(major << 5 | info),
                                          (unsigned char)next};
                char label[32];

                snprintf(label, sizeof(label), "%02x %02x", bytes[0], next);
                assert_cbor_rejected(f, bytes, next == 0x100 ? 1 : 2, label, NULL);
            }
        }
    }
}

/* Simple values 0 to 31 in the two-byte form are not well formed (RFC 8949, section
 * 3.3). The rest are unassigned, so both are outside the subset. */
static void two_byte_simple_values(void **state)
{
    fixture *f = *state;

    for (unsigned value = 0; value <= 0xff; value++) {
        unsigned char bytes[2] = {0xf8, (unsigned char)value};

        assert_cbor_rejected(f, bytes, sizeof(bytes), "f8 xx", "simple value");
    }
}

/* ---- CTAP2 canonical heads ------------------------------------------------------------
 */

/* A head of major type 0 to 6 whose argument would fit a shorter form, for each width:
 * the value 0 and the largest value of the next shorter form. The following bytes make
 * the item complete: string content, or elements that are zero. */
static void non_minimal_heads_rejected(void **state)
{
    static const uint64_t limits[] = {23, 0xff, 0xffff, 0xffffffffu};
    fixture *f = *state;
    unsigned char *bytes = calloc(1, 0x10000 * 2 + 16);

    assert_non_null(bytes);
    for (unsigned major = 0; major <= 6; major++) {
        for (unsigned step = 0; step < 4; step++) {
            size_t width = (size_t)1 << step;

            for (unsigned which = 0; which < 2; which++) {
                uint64_t value = which == 0 ? 0 : limits[step];
                size_t content = major >= 2 && major <= 5 ? (size_t)value : 0;
                char label[48];

                /* Strings, arrays and maps longer than 255 would not fit the 64 KiB
                 * input cap, so the wider forms are covered by the value 0. */
                if (major >= 2 && major <= 5 && value > 0xff)
                    continue;
                if (major == 5)
                    content *= 2;
                memset(bytes, 0, 0x10000 * 2 + 16);
                bytes[0] = (unsigned char)(major << 5 | (24 + step));
                for (size_t i = 0; i < width; i++)
                    bytes[1 + i] = (unsigned char)(value >> (8 * (width - 1 - i)));
                if (major == 3)
                    memset(bytes + 1 + width, 'a', content);
                if (major == 6)
                    content = 1; /* the tag content, 0 */
                snprintf(label, sizeof(label), "major %u, %zu-byte argument %llu", major,
                         width, (unsigned long long)value);
                assert_cbor_rejected(f, bytes, 1 + width + content, label,
                                     "shortest form");
            }
        }
    }
    free(bytes);
}

/* The shortest form of each width passes: 24, 256, 65536 and 2^32 as unsigned and
 * negative integers, and a byte string of 24 bytes. */
static void minimal_heads_accepted(void **state)
{
    static const char *const heads[] = {
        "1818", "190100", "1a00010000", "1b0000000100000000",
        "3818", "390100", "3a00010000", "3b0000000100000000",
    };
    fixture *f = *state;
    unsigned char bytes[32];

    for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
        size_t len = hex_decode(heads[i], bytes, sizeof(bytes));

        assert_cbor_passed(f, bytes, len, heads[i]);
    }
    memset(bytes, 0, sizeof(bytes));
    bytes[0] = 0x58;
    bytes[1] = 24;
    assert_cbor_passed(f, bytes, 26, "58 18 and 24 bytes");
}

/* ---- Text strings ---------------------------------------------------------------------
 */

static void invalid_utf8_rejected(void **state)
{
    static const char *const contents[] = {
        "c0ae",       /* overlong form of "." */
        "e080af",     /* overlong three-byte form */
        "f08080af",   /* overlong four-byte form */
        "eda080",     /* the surrogate U+D800 */
        "edbfbf",     /* the surrogate U+DFFF */
        "f4908080",   /* above U+10FFFF */
        "f888808080", /* a five-byte form */
        "80",         /* a continuation byte without a lead */
        "e282",       /* a three-byte form cut short */
        "ff",         /* never in UTF-8 */
        "61c3",       /* a two-byte form cut short at the end */
        "c328",       /* a lead followed by ASCII */
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        unsigned char bytes[16];
        size_t len = hex_decode(contents[i], bytes + 1, sizeof(bytes) - 1);

        bytes[0] = (unsigned char)(0x60 | len);
        assert_cbor_rejected(f, bytes, len + 1, contents[i], "not valid UTF-8");
    }
}

static void valid_utf8_accepted(void **state)
{
    static const char *const contents[] = {
        "c280", "dfbf", "e0a080", "ed9fbf", "ee8080", "efbfbf", "f0908080", "f48fbfbf",
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(contents) / sizeof(contents[0]); i++) {
        unsigned char bytes[16];
        size_t len = hex_decode(contents[i], bytes + 1, sizeof(bytes) - 1);

        bytes[0] = (unsigned char)(0x60 | len);
        assert_cbor_passed(f, bytes, len + 1, contents[i]);
    }
}

/* ---- Attestation objects built by hand ------------------------------------------------
 */

/* Appends bytes to a buffer of at least 4096 bytes. */
static void put(unsigned char *buf, size_t *len, const void *bytes, size_t n)
{
    assert_true(*len + n <= 4096);
    memcpy(buf + *len, bytes, n);
    *len += n;
}

/* Builds authenticator data for the fixture's credential with UP and AT set, the COSE
 * key cose and, when extensions is not NULL, ED and that extensions map. */
static size_t build_auth_data(const fixture *f, const unsigned char *cose,
                              size_t cose_len, const unsigned char *extensions,
                              size_t extensions_len, unsigned char *out)
{
    unsigned char header[37 + 18] = {0};
    size_t len = 0;

    SHA256((const unsigned char *)SOFT_RP_ID, strlen(SOFT_RP_ID), header);
    header[32] = extensions != NULL ? 0xc1 : 0x41;
    header[36] = 1; /* signCount */
    memcpy(header + 37, f->auth.aaguid, 16);
    header[54] = sizeof(f->auth.credential_id);
    put(out, &len, header, sizeof(header));
    put(out, &len, f->auth.credential_id, sizeof(f->auth.credential_id));
    put(out, &len, cose, cose_len);
    if (extensions != NULL)
        put(out, &len, extensions, extensions_len);
    return len;
}

/* Builds {"fmt": "none", "attStmt": {}, "authData": auth_data} and appends extra, a
 * series of further map entries, counted in extra_entries. */
static size_t build_none_object(const unsigned char *auth_data, size_t auth_data_len,
                                const unsigned char *extra, size_t extra_len,
                                unsigned extra_entries, unsigned char *out)
{
    static const unsigned char fmt[] = {0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e'};
    static const unsigned char att_stmt[] = {0x67, 'a', 't', 't', 'S',
                                             't',  'm', 't', 0xa0};
    static const unsigned char key[] = {0x68, 'a', 'u', 't', 'h', 'D', 'a', 't', 'a'};
    unsigned char map_head = (unsigned char)(0xa0 | (3 + extra_entries));
    unsigned char bytes_head[3] = {0x59, (unsigned char)(auth_data_len >> 8),
                                   (unsigned char)auth_data_len};
    size_t len = 0;

    assert_true(auth_data_len >= 256 && auth_data_len <= 0xffff);
    put(out, &len, &map_head, 1);
    put(out, &len, fmt, sizeof(fmt));
    put(out, &len, att_stmt, sizeof(att_stmt));
    put(out, &len, key, sizeof(key));
    put(out, &len, bytes_head, sizeof(bytes_head));
    put(out, &len, auth_data, auth_data_len);
    if (extra_len > 0)
        put(out, &len, extra, extra_len);
    return len;
}

/* Pads authenticator data past 255 bytes with an extensions map entry whose value is a
 * byte string, so that build_none_object can use one length form. */
static const unsigned char padding_extension[] = {
    0x63, 'p', 'a', 'd', 0x59, 0x01, 0x00, /* "pad": 256 bytes follow */
};

/* Verifies a format none registration with the given COSE key and an extensions map of
 * the padding entry followed by entries, which are entry_count map entries. */
static webauthn_code verify_none(fixture *f, const unsigned char *cose, size_t cose_len,
                                 const unsigned char *entries, size_t entries_len,
                                 unsigned entry_count)
{
    unsigned char extensions[1024] = {0};
    unsigned char auth_data[4096];
    unsigned char object[4096];
    size_t ext_len = 0, ad_len, object_len;

    extensions[ext_len++] = (unsigned char)(0xa0 | (entry_count + 1));
    memcpy(extensions + ext_len, padding_extension, sizeof(padding_extension));
    ext_len += sizeof(padding_extension) + 256;
    assert_true(ext_len + entries_len <= sizeof(extensions));
    if (entries_len > 0)
        memcpy(extensions + ext_len, entries, entries_len);
    ext_len += entries_len;

    ad_len = build_auth_data(f, cose, cose_len, extensions, ext_len, auth_data);
    object_len = build_none_object(auth_data, ad_len, NULL, 0, 0, object);
    return verify_object(f, object, object_len);
}

static void assert_code(fixture *f, webauthn_code code, webauthn_code expected,
                        const char *reason)
{
    if (code != expected)
        fail_msg("expected %s, got %s: %s", webauthn_code_name(expected),
                 webauthn_code_name(code), f->err.message);
    if (reason != NULL && strstr(f->err.message, reason) == NULL)
        fail_msg("expected \"%s\" in: %s", reason, f->err.message);
}

/* The hand-built registration passes when nothing is wrong, so that each rejection
 * below has one cause. */
static void hand_built_none_accepted(void **state)
{
    fixture *f = *state;
    size_t cose_len;
    unsigned char *cose = soft_cose_key(&f->auth, &cose_len);

    assert_code(f, verify_none(f, cose, cose_len, NULL, 0, 0), WEBAUTHN_OK, NULL);
    free(cose);
}

/* Appends entries to a COSE key and raises its map header by count. */
static unsigned char *extend_cose(const fixture *f, const unsigned char *entries,
                                  size_t entries_len, unsigned count, size_t *len)
{
    size_t cose_len;
    unsigned char *cose = soft_cose_key(&f->auth, &cose_len);
    unsigned char *out = malloc(cose_len + entries_len);

    assert_non_null(cose);
    assert_non_null(out);
    assert_true(cose[0] >= 0xa0 && cose[0] + count < 0xb8);
    memcpy(out, cose, cose_len);
    memcpy(out + cose_len, entries, entries_len);
    out[0] = (unsigned char)(out[0] + count);
    *len = cose_len + entries_len;
    free(cose);
    return out;
}

/* A COSE key parameter that this verifier does not read, twice. */
static void cose_key_unread_label_twice_rejected(void **state)
{
    static const unsigned char entries[] = {0x18, 0x63, 0x00, 0x18, 0x63, 0x01};
    fixture *f = *state;
    size_t len;
    unsigned char *cose = extend_cose(f, entries, sizeof(entries), 2, &len);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_CBOR_MALFORMED,
                "the same key twice");
    free(cose);
}

/* A COSE key whose extra label is written in two bytes where one would do. */
static void cose_key_long_label_rejected(void **state)
{
    static const unsigned char entries[] = {0x18, 0x05, 0x00};
    fixture *f = *state;
    size_t len;
    unsigned char *cose = extend_cose(f, entries, sizeof(entries), 1, &len);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_CBOR_MALFORMED,
                "shortest form");
    free(cose);
}

/* A COSE key with a text label that is not UTF-8. */
static void cose_key_text_label_not_utf8_rejected(void **state)
{
    static const unsigned char entries[] = {0x61, 0xff, 0x00};
    fixture *f = *state;
    size_t len;
    unsigned char *cose = extend_cose(f, entries, sizeof(entries), 1, &len);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_CBOR_MALFORMED,
                "not valid UTF-8");
    free(cose);
}

/* An extensions map in authenticator data with credProtect twice. */
static void extension_twice_rejected(void **state)
{
    static const unsigned char entries[] = {
        0x6b, 'c', 'r', 'e', 'd', 'P', 'r', 'o', 't', 'e', 'c', 't', 0x01,
        0x6b, 'c', 'r', 'e', 'd', 'P', 'r', 'o', 't', 'e', 'c', 't', 0x01,
    };
    fixture *f = *state;
    size_t cose_len;
    unsigned char *cose = soft_cose_key(&f->auth, &cose_len);

    assert_code(f, verify_none(f, cose, cose_len, entries, sizeof(entries), 2),
                WEBAUTHN_CBOR_MALFORMED, "the same key twice");
    free(cose);
}

/* An attestation object with a member that WebAuthn does not define, twice. */
static void object_member_twice_rejected(void **state)
{
    static const unsigned char extra[] = {0x61, 'x', 0x00, 0x61, 'x', 0x00};
    fixture *f = *state;
    size_t cose_len, ad_len, len;
    unsigned char *cose = soft_cose_key(&f->auth, &cose_len);
    unsigned char auth_data[4096], object[4096];
    unsigned char extensions[1 + sizeof(padding_extension) + 256] = {0xa1};

    memcpy(extensions + 1, padding_extension, sizeof(padding_extension));
    ad_len =
        build_auth_data(f, cose, cose_len, extensions, sizeof(extensions), auth_data);

    /* One extra member passes, so the second copy is the cause. */
    len = build_none_object(auth_data, ad_len, extra, 3, 1, object);
    assert_code(f, verify_object(f, object, len), WEBAUTHN_OK, NULL);
    len = build_none_object(auth_data, ad_len, extra, sizeof(extra), 2, object);
    assert_code(f, verify_object(f, object, len), WEBAUTHN_CBOR_MALFORMED,
                "the same key twice");
    free(cose);
}

/* Each member of the attestation object that the verifier reads, twice with the same
 * value, so that a parser that keeps the first copy and one that keeps the last would
 * agree, and the duplicate alone is the cause. */
static void object_read_member_twice_rejected(void **state)
{
    static const unsigned char fmt[] = {0x63, 'f', 'm', 't', 0x64, 'n', 'o', 'n', 'e'};
    static const unsigned char att_stmt[] = {0x67, 'a', 't', 't', 'S',
                                             't',  'm', 't', 0xa0};
    static const unsigned char auth_data_key[] = {0x68, 'a', 'u', 't', 'h',
                                                  'D',  'a', 't', 'a'};
    fixture *f = *state;
    size_t cose_len, ad_len, len, extra_len;
    unsigned char *cose = soft_cose_key(&f->auth, &cose_len);
    unsigned char auth_data[4096], object[4096], extra[4096];
    unsigned char bytes_head[3] = {0x59}; /* a byte string with a 2-byte length */
    unsigned char extensions[1 + sizeof(padding_extension) + 256] = {0xa1};

    memcpy(extensions + 1, padding_extension, sizeof(padding_extension));
    ad_len =
        build_auth_data(f, cose, cose_len, extensions, sizeof(extensions), auth_data);

    len = build_none_object(auth_data, ad_len, fmt, sizeof(fmt), 1, object);
    assert_code(f, verify_object(f, object, len), WEBAUTHN_CBOR_MALFORMED,
                "the same key twice");
    len = build_none_object(auth_data, ad_len, att_stmt, sizeof(att_stmt), 1, object);
    assert_code(f, verify_object(f, object, len), WEBAUTHN_CBOR_MALFORMED,
                "the same key twice");

    bytes_head[1] = (unsigned char)(ad_len >> 8);
    bytes_head[2] = (unsigned char)ad_len;
    extra_len = 0;
    put(extra, &extra_len, auth_data_key, sizeof(auth_data_key));
    put(extra, &extra_len, bytes_head, sizeof(bytes_head));
    put(extra, &extra_len, auth_data, ad_len);
    len = build_none_object(auth_data, ad_len, extra, extra_len, 1, object);
    assert_code(f, verify_object(f, object, len), WEBAUTHN_CBOR_MALFORMED,
                "the same key twice");
    free(cose);
}

/* Returns the attestation object of a packed self registration by the fixture's key,
 * decoded from the response JSON; the caller frees it with cbor_decref. */
static cbor_item_t *packed_object(fixture *f)
{
    char *json = soft_register(&f->auth, &f->ceremony, NULL, 0);
    const char *start, *end;
    unsigned char *bytes = NULL;
    size_t bytes_len = 0;
    struct cbor_load_result result;
    cbor_item_t *object;

    assert_non_null(json);
    start = strstr(json, "\"attestationObject\":\"");
    assert_non_null(start);
    start += strlen("\"attestationObject\":\"");
    end = strchr(start, '"');
    assert_non_null(end);
    assert_int_equal(
        webauthn_base64url_decode(start, (size_t)(end - start), &bytes, &bytes_len), 0);
    object = cbor_load(bytes, bytes_len, &result);
    assert_non_null(object);
    free(bytes);
    free(json);
    return object;
}

/* Encodes object with the attStmt member named key written twice. */
static unsigned char *with_att_stmt_member_twice(const cbor_item_t *object,
                                                 const char *key, size_t *len)
{
    cbor_item_t *copy = cbor_new_definite_map(cbor_map_size(object));
    struct cbor_pair *pairs = cbor_map_handle(object);
    unsigned char *out = NULL;
    size_t buffer_size = 0;

    for (size_t i = 0; i < cbor_map_size(object); i++) {
        cbor_item_t *value = pairs[i].value;
        bool is_att_stmt = cbor_string_length(pairs[i].key) == 7 &&
                           memcmp(cbor_string_handle(pairs[i].key), "attStmt", 7) == 0;

        if (is_att_stmt && key != NULL) {
            struct cbor_pair *members = cbor_map_handle(pairs[i].value);

            value = cbor_new_definite_map(cbor_map_size(pairs[i].value) + 1);
            for (size_t m = 0; m < cbor_map_size(pairs[i].value); m++) {
                bool twice =
                    cbor_string_length(members[m].key) == strlen(key) &&
                    memcmp(cbor_string_handle(members[m].key), key, strlen(key)) == 0;

                assert_true(cbor_map_add(value, members[m]));
                if (twice)
                    assert_true(cbor_map_add(value, members[m]));
            }
        } else {
            cbor_incref(value);
        }
        assert_true(cbor_map_add(copy, (struct cbor_pair){pairs[i].key, value}));
        cbor_decref(&value);
    }
    *len = cbor_serialize_alloc(copy, &out, &buffer_size);
    cbor_decref(&copy);
    return out;
}

/* A packed statement with alg or sig twice. The same object with each member once is
 * accepted, so the duplicate alone is the cause. */
static void att_stmt_member_twice_rejected(void **state)
{
    static const char *const members[] = {"alg", "sig"};
    fixture *f = *state;
    cbor_item_t *object = packed_object(f);
    unsigned char *bytes;
    size_t len;

    bytes = with_att_stmt_member_twice(object, NULL, &len);
    assert_code(f, verify_object(f, bytes, len), WEBAUTHN_OK, NULL);
    free(bytes);
    for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
        bytes = with_att_stmt_member_twice(object, members[i], &len);
        assert_code(f, verify_object(f, bytes, len), WEBAUTHN_CBOR_MALFORMED,
                    "the same key twice");
        free(bytes);
    }
    cbor_decref(&object);
}

/* A COSE key with its alg (3: -7) twice, a label that the verifier reads. */
static void cose_key_read_label_twice_rejected(void **state)
{
    static const unsigned char entries[] = {0x03, 0x26};
    fixture *f = *state;
    size_t len;
    unsigned char *cose = extend_cose(f, entries, sizeof(entries), 1, &len);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_CBOR_MALFORMED,
                "the same key twice");
    free(cose);
}

/* A credential public key that is well-formed CBOR but not a map is no COSE_Key. */
static void cose_key_not_map_rejected(void **state)
{
    static const unsigned char array[] = {0x83, 0x01, 0x02, 0x03};
    static const unsigned char integer[] = {0x05};
    fixture *f = *state;

    assert_code(f, verify_none(f, array, sizeof(array), NULL, 0, 0), WEBAUTHN_MALFORMED,
                "is not a CBOR map");
    assert_code(f, verify_none(f, integer, sizeof(integer), NULL, 0, 0),
                WEBAUTHN_MALFORMED, "is not a CBOR map");
}

/* An ES256 key labelled with the RSA key type. Its y (-3) is the label of the RSA
 * private exponent d, so the pairing of alg and kty must be checked first. */
static void cose_key_type_of_other_alg_rejected(void **state)
{
    fixture *f = *state;
    size_t len;
    unsigned char *cose = soft_cose_key(&f->auth, &len);

    assert_non_null(cose);
    assert_int_equal(cose[1], 0x01); /* kty */
    assert_int_equal(cose[2], 0x02); /* EC2 */
    cose[2] = 0x03;                  /* RSA */
    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_ALGORITHM_UNSUPPORTED,
                "key type 3");
    free(cose);
}

/* An RS256 key whose modulus has a leading zero byte. RFC 8230 (section 4) encodes n
 * and e in the minimum number of bytes. */
static void cose_rsa_modulus_leading_zero_rejected(void **state)
{
    /* {1: 3, 3: -257, -1: n of 257 bytes, -2: h'010001'} */
    static const unsigned char head[] = {0xa4, 0x01, 0x03, 0x03, 0x39, 0x01,
                                         0x00, 0x20, 0x59, 0x01, 0x01, 0x00};
    static const unsigned char tail[] = {0x21, 0x43, 0x01, 0x00, 0x01};
    unsigned char cose[sizeof(head) + 256 + sizeof(tail)];
    fixture *f = *state;

    memcpy(cose, head, sizeof(head));
    memset(cose + sizeof(head), 0xc5, 256);
    memcpy(cose + sizeof(head) + 256, tail, sizeof(tail));
    assert_code(f, verify_none(f, cose, sizeof(cose), NULL, 0, 0), WEBAUTHN_MALFORMED,
                "modulus starts with a zero byte");
}

/* Builds a COSE key: head, then for each label a byte string of lens[i] bytes of 0x5a
 * under the shortest CBOR head. Returns its length. */
static size_t build_cose(unsigned char *out, const unsigned char *head, size_t head_len,
                         const unsigned char *label, const size_t *lens, size_t count)
{
    size_t len = 0;

    put(out, &len, head, head_len);
    for (size_t i = 0; i < count; i++) {
        unsigned char bytes_head[3] = {0x59, (unsigned char)(lens[i] >> 8),
                                       (unsigned char)lens[i]};

        put(out, &len, &label[i], 1);
        if (lens[i] < 24) {
            bytes_head[0] = (unsigned char)(0x40 | lens[i]);
            put(out, &len, bytes_head, 1);
        } else if (lens[i] < 256) {
            bytes_head[0] = 0x58;
            bytes_head[1] = (unsigned char)lens[i];
            put(out, &len, bytes_head, 2);
        } else {
            put(out, &len, bytes_head, sizeof(bytes_head));
        }
        memset(out + len, 0x5a, lens[i]);
        len += lens[i];
    }
    return len;
}

/* EC2 and OKP keys with a crv that is missing or not an integer, or a coordinate that
 * is missing, empty or of the wrong size. */
static void cose_ec_parameter_faults_rejected(void **state)
{
    static const struct {
        const char *label;
        unsigned char cose[96];
        size_t len;
        webauthn_code code;
        const char *reason;
    } cases[] = {
        {"ES256 without crv",
         {0xa3, 0x01, 0x02, 0x03, 0x26, 0x21, 0x41, 0x00},
         8,
         WEBAUTHN_MALFORMED,
         "parameter -1 is missing or not an integer"},
        {"ES256 crv text",
         {0xa3, 0x01, 0x02, 0x03, 0x26, 0x20, 0x61, 'a'},
         8,
         WEBAUTHN_MALFORMED,
         "parameter -1 is missing or not an integer"},
        {"ES256 x of 1 byte",
         {0xa4, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x41, 0x00},
         10,
         WEBAUTHN_MALFORMED,
         "parameter -2 is missing or has the wrong size"},
        {"ES256 without x",
         {0xa3, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01},
         7,
         WEBAUTHN_MALFORMED,
         "parameter -2 is missing or has the wrong size"},
        {"EdDSA without crv",
         {0xa2, 0x01, 0x01, 0x03, 0x27},
         5,
         WEBAUTHN_MALFORMED,
         "parameter -1 is missing or not an integer"},
        {"EdDSA on X25519",
         {0xa3, 0x01, 0x01, 0x03, 0x27, 0x20, 0x04},
         7,
         WEBAUTHN_ALGORITHM_UNSUPPORTED,
         "curve 4; only Ed25519 (6)"},
        {"EdDSA x empty",
         {0xa4, 0x01, 0x01, 0x03, 0x27, 0x20, 0x06, 0x21, 0x40},
         9,
         WEBAUTHN_MALFORMED,
         "parameter -2 is missing or has the wrong size"},
    };
    fixture *f = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        webauthn_code code = verify_none(f, cases[i].cose, cases[i].len, NULL, 0, 0);

        if (code != cases[i].code || strstr(f->err.message, cases[i].reason) == NULL)
            fail_msg("%s: expected %s with \"%s\", got %s: %s", cases[i].label,
                     webauthn_code_name(cases[i].code), cases[i].reason,
                     webauthn_code_name(code), f->err.message);
    }
}

/* An ES256 key whose y is missing, or 31 bytes long. */
static void cose_ec_y_faults_rejected(void **state)
{
    static const unsigned char head[] = {0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01};
    static const unsigned char labels[] = {0x21, 0x22};
    unsigned char cose[128];
    size_t lens[] = {32, 31};
    fixture *f = *state;
    size_t len = build_cose(cose, head, sizeof(head), labels, lens, 2);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_MALFORMED,
                "parameter -3 is missing or has the wrong size");
    len = build_cose(cose, head, sizeof(head), labels, lens, 1);
    cose[0] = 0xa4;
    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_MALFORMED,
                "parameter -3 is missing or has the wrong size");
}

/* A P-384 point off its curve, and a P-521 point whose x is above p, are invalid. */
static void cose_ec_point_off_curve_rejected(void **state)
{
    static const unsigned char es384[] = {0xa5, 0x01, 0x02, 0x03, 0x38, 0x22, 0x20, 0x02};
    static const unsigned char es512[] = {0xa5, 0x01, 0x02, 0x03, 0x38, 0x23, 0x20, 0x03};
    static const unsigned char labels[] = {0x21, 0x22};
    unsigned char cose[256];
    size_t lens384[] = {48, 48}, lens521[] = {66, 66};
    fixture *f = *state;
    size_t len = build_cose(cose, es384, sizeof(es384), labels, lens384, 2);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_MALFORMED,
                "ES384 key is not a valid point on P-384");
    len = build_cose(cose, es512, sizeof(es512), labels, lens521, 2);
    /* 0x5a... is above the P-521 prime, whose top byte is 0x01. */
    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_MALFORMED,
                "ES512 key is not a valid point on P-521");
}

/* RS256 keys without e, with a 513-byte modulus, or with a 4-byte exponent. */
static void cose_rsa_parameter_faults_rejected(void **state)
{
    static const unsigned char head3[] = {0xa3, 0x01, 0x03, 0x03, 0x39, 0x01, 0x00};
    static const unsigned char head4[] = {0xa4, 0x01, 0x03, 0x03, 0x39, 0x01, 0x00};
    static const unsigned char labels[] = {0x20, 0x21};
    unsigned char cose[1024];
    size_t no_e[] = {256}, long_n[] = {513, 3}, long_e[] = {256, 4};
    fixture *f = *state;
    size_t len = build_cose(cose, head3, sizeof(head3), labels, no_e, 1);

    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_MALFORMED,
                "parameter -2 is missing or has the wrong size");
    len = build_cose(cose, head4, sizeof(head4), labels, long_n, 2);
    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_ALGORITHM_UNSUPPORTED,
                "513-byte modulus and a 3-byte exponent");
    len = build_cose(cose, head4, sizeof(head4), labels, long_e, 2);
    assert_code(f, verify_none(f, cose, len, NULL, 0, 0), WEBAUTHN_ALGORITHM_UNSUPPORTED,
                "256-byte modulus and a 4-byte exponent");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(appendix_a_examples, setup, teardown),
        cmocka_unit_test_setup_teardown(appendix_f_not_well_formed, setup, teardown),
        cmocka_unit_test_setup_teardown(reserved_and_indefinite_heads, setup, teardown),
        cmocka_unit_test_setup_teardown(two_byte_simple_values, setup, teardown),
        cmocka_unit_test_setup_teardown(non_minimal_heads_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(minimal_heads_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(invalid_utf8_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(valid_utf8_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(hand_built_none_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(cose_key_unread_label_twice_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cose_key_long_label_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(cose_key_text_label_not_utf8_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(extension_twice_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(object_member_twice_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(object_read_member_twice_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(att_stmt_member_twice_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(cose_key_read_label_twice_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cose_key_not_map_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(cose_key_type_of_other_alg_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cose_rsa_modulus_leading_zero_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cose_ec_parameter_faults_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cose_ec_y_faults_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(cose_ec_point_off_curve_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(cose_rsa_parameter_faults_rejected, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

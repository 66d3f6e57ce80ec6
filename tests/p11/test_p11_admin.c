/* 'idsvc-admin keys' end to end through the shell, on a token it initialises itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "p11_test_util.h"

static test_token token_dir; /* only its folder is used: the tool makes its own token */
static char e2e[PATH_MAX + 16];
static const char *admin;

static void write_text(const char *name, const char *text, mode_t mode)
{
    char path[PATH_MAX + 64];
    FILE *file;

    snprintf(path, sizeof(path), "%s/%s", e2e, name);
    file = fopen(path, "w");
    assert_non_null(file);
    fputs(text, file);
    fclose(file);
    assert_int_equal(chmod(path, mode), 0);
}

static int setup(void **state)
{
    char path[PATH_MAX + 64];
    char conf[PATH_MAX * 2];
    FILE *file;

    (void)state;
    admin = getenv("IDSVC_ADMIN");
    if (admin == NULL || test_token_create(&token_dir) != 0)
        return -1;

    /* A fresh token folder of its own, as an operator would make it. */
    snprintf(e2e, sizeof(e2e), "%s/e2e", token_dir.dir);
    snprintf(path, sizeof(path), "%s/tokens", e2e);
    if (mkdir(e2e, 0700) != 0 || mkdir(path, 0700) != 0)
        return -1;
    snprintf(conf, sizeof(conf),
             "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n",
             path);
    snprintf(path, sizeof(path), "%s/softhsm2.conf", e2e);
    file = fopen(path, "w");
    if (file == NULL)
        return -1;
    fputs(conf, file);
    fclose(file);
    return setenv("SOFTHSM2_CONF", path, 1);
}

static int teardown(void **state)
{
    (void)state;
    test_token_destroy(&token_dir);
    return 0;
}

/* Runs the command in the e2e folder with stdout and stderr in files; returns the exit
 * status. */
static int run(const char *format, ...)
{
    char args[2048];
    char command[4096 + PATH_MAX * 2];
    va_list list;

    va_start(list, format);
    vsnprintf(args, sizeof(args), format, list);
    va_end(list);
    snprintf(command, sizeof(command), "cd '%s' && %s >out.txt 2>err.txt", e2e, args);
    return test_run(command);
}

static char *output(const char *name)
{
    char path[PATH_MAX + 64];
    char *text;

    snprintf(path, sizeof(path), "%s/%s", e2e, name);
    text = test_read_file(path, NULL);
    assert_non_null(text);
    return text;
}

static void expect_in(const char *name, const char *needle)
{
    char *text = output(name);

    if (strstr(text, needle) == NULL)
        fail_msg("%s lacks '%s':\n%s", name, needle, text);
    free(text);
}

#define TOKEN_ARGS "--token e2e --pin-file pin"

static void test_init_token(void **state)
{
    (void)state;
    write_text("so-pin", "e2e-so-pin\n", 0600);
    write_text("pin", "e2e-user-pin\n", 0600);

    assert_int_equal(
        run("%s keys init-token --label e2e --so-pin-file so-pin --pin-file pin", admin),
        0);
    expect_in("out.txt", "initialised token 'e2e'");

    /* The label is taken now. */
    assert_int_equal(
        run("%s keys init-token --label e2e --so-pin-file so-pin --pin-file pin", admin),
        1);
    expect_in("err.txt", "exists already");
}

static void test_pin_never_on_command_line(void **state)
{
    (void)state;
    assert_int_equal(
        run("%s keys generate --type p256 --label x --token e2e --pin 1234", admin), 2);
    expect_in("err.txt", "never taken on the command line");

    write_text("open-pin", "e2e-user-pin\n", 0644);
    assert_int_equal(run("%s keys list --token e2e --pin-file open-pin", admin), 1);
    expect_in("err.txt", "mode 0644");

    write_text("wrong-pin", "nope\n", 0600);
    assert_int_equal(run("%s keys list --token e2e --pin-file wrong-pin", admin), 1);
    expect_in("err.txt", "CKR_PIN_INCORRECT");
}

static void test_generate(void **state)
{
    (void)state;
    assert_int_equal(run("%s keys generate --type p256 --label saml " TOKEN_ARGS, admin),
                     0);
    expect_in("out.txt", "pkcs11:");
    expect_in("out.txt", "object=saml");
    expect_in("out.txt", "type=private");

    assert_int_equal(
        run("%s keys generate --type rsa2048 --label rsa --id 0a0b " TOKEN_ARGS, admin),
        0);
    expect_in("out.txt", "id=%0A%0B");

    assert_int_equal(run("%s keys generate --type p521 --label bad " TOKEN_ARGS, admin),
                     2);
    expect_in("err.txt", "p521");
}

static void test_certificates(void **state)
{
    (void)state;
    assert_int_equal(run("%s keys certificate --key 'pkcs11:object=saml' --subject "
                         "'/CN=idsvc e2e/O=Example' --out ec.pem --store " TOKEN_ARGS,
                         admin),
                     0);
    assert_int_equal(
        run("openssl verify -check_ss_sig -partial_chain -CAfile ec.pem ec.pem"), 0);
    assert_int_equal(run("openssl x509 -in ec.pem -noout -text"), 0);
    expect_in("out.txt", "ecdsa-with-SHA256");
    expect_in("out.txt", "CN = idsvc e2e, O = Example");

    assert_int_equal(run("%s keys certificate --key 'pkcs11:id=%%0A%%0B' --subject "
                         "'/CN=rsa e2e' --days 30 " TOKEN_ARGS,
                         admin),
                     0);
    assert_int_equal(
        run("cp out.txt rsa.pem && openssl verify -check_ss_sig -partial_chain "
            "-CAfile rsa.pem rsa.pem"),
        0);

    assert_int_equal(run("%s keys request --key 'pkcs11:object=saml' --subject '/CN=req' "
                         "--out req.pem " TOKEN_ARGS,
                         admin),
                     0);
    assert_int_equal(run("openssl req -in req.pem -verify -noout"), 0);
}

static void test_list(void **state)
{
    (void)state;
    assert_int_equal(run("%s keys list " TOKEN_ARGS, admin), 0);
    expect_in("out.txt", "saml");
    expect_in("out.txt", "sensitive=true");
    expect_in("out.txt", "extractable=false");
    expect_in("out.txt", "never_extractable=true");
    expect_in("out.txt", "decrypt=false");
    expect_in("out.txt", "certificate: stored");

    assert_int_equal(run("%s keys list --json " TOKEN_ARGS, admin), 0);
    expect_in("out.txt", "\"sensitive\": true");
    expect_in("out.txt", "\"extractable\": false");
    expect_in("out.txt", "\"type\": \"rsa2048\"");
}

static void test_import_cert(void **state)
{
    (void)state;
    /* The certificate of the EC key does not belong to the RSA key. */
    assert_int_equal(
        run("%s keys import-cert --key 'pkcs11:object=rsa' --cert ec.pem " TOKEN_ARGS,
            admin),
        1);
    expect_in("err.txt", "not the public key of 'rsa'");
    expect_in("err.txt", "ec.pem");

    assert_int_equal(
        run("%s keys import-cert --key 'pkcs11:object=rsa' --cert rsa.pem " TOKEN_ARGS,
            admin),
        0);
    assert_int_equal(run("%s keys list --json " TOKEN_ARGS, admin), 0);
    {
        char *text = output("out.txt");
        char *first = strstr(text, "\"certificate\": true");

        /* Both keys have a certificate now. */
        assert_non_null(first);
        assert_non_null(strstr(first + 1, "\"certificate\": true"));
        free(text);
    }
}

/* The node configuration that the keys remove tests check keys against: tls and saml are
 * in use by URI, old-saml and next-saml as a previous and a next SAML key, and reg as a
 * regulator key. */
static const char node_conf[] =
    "[server]\n"
    "listen = 127.0.0.1\n"
    "port = 25001\n"
    "entity_id = https://node.example/idsvc\n"
    "jurisdiction = SG\n"
    "[hsm]\n"
    "token_label = e2e\n"
    "pin_file = pin\n"
    "tls_key = pkcs11:token=e2e;object=tls;type=private\n"
    "saml_key = pkcs11:token=e2e;object=saml;type=private\n"
    "[tls]\n"
    "certificate = tls.pem\n"
    "client_ca = tls.pem\n"
    "[saml]\n"
    "previous_certificate = old-saml.pem\n"
    "next_certificate = next-saml.pem\n"
    "[policy]\n"
    "bundle = base.bundle\n"
    "[regulator reg]\n"
    "key = reg.pem\n"
    "signs = base\n"
    "[database]\n"
    "path = idsvc.db\n";

/* Generates a P-256 key with label and writes a self-signed certificate of it to
 * LABEL.pem. */
static void generate_with_certificate(const char *label, const char *extra)
{
    assert_int_equal(run("%s keys generate --type p256 --label %s %s " TOKEN_ARGS, admin,
                         label, extra),
                     0);
    assert_int_equal(run("%s keys certificate --key 'pkcs11:object=%s' --subject '/CN=%s' "
                         "--out %s.pem --store " TOKEN_ARGS,
                         admin, label, label, label),
                     0);
}

/* Expects 'keys list' to show the label, or not. */
static void expect_listed(const char *label, bool listed)
{
    char needle[80];
    char *text;

    assert_int_equal(run("%s keys list --json " TOKEN_ARGS, admin), 0);
    snprintf(needle, sizeof(needle), "\"label\": \"%s\"", label);
    text = output("out.txt");
    if ((strstr(text, needle) != NULL) != listed)
        fail_msg("keys list %s '%s':\n%s", listed ? "lacks" : "still shows", label, text);
    free(text);
}

static void test_remove_guards(void **state)
{
    (void)state;
    generate_with_certificate("tls", "");
    generate_with_certificate("old-saml", "");
    generate_with_certificate("reg", "");
    generate_with_certificate("next-saml", "");
    write_text("node.conf", node_conf, 0600);

    /* Without --config the tool cannot tell a key in use, so it needs --force. */
    assert_int_equal(run("%s keys remove --label rsa --yes " TOKEN_ARGS, admin), 2);
    expect_in("err.txt", "--config FILE is required");
    assert_int_equal(run("%s keys remove --label rsa --id 0a0b --yes --config node.conf "
                         TOKEN_ARGS, admin),
                     2);
    expect_in("err.txt", "exactly one of --label L, --id HEX or --key URI");

    /* Every key that the configuration uses is refused, with where it is used. */
    assert_int_equal(run("%s keys remove --label tls --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     1);
    expect_in("err.txt", "private key 'tls' (id ");
    expect_in("err.txt", "is in use by node.conf: [hsm] tls_key, [tls] certificate (");
    assert_int_equal(run("%s keys remove --label saml --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     1);
    expect_in("err.txt", "is in use by node.conf: [hsm] saml_key");
    assert_int_equal(run("%s keys remove --label old-saml --yes --config node.conf "
                         TOKEN_ARGS, admin),
                     1);
    expect_in("err.txt", "in use by node.conf: [saml] previous_certificate (");
    assert_int_equal(run("%s keys remove --label reg --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     1);
    expect_in("err.txt", "in use by node.conf: [regulator reg] key (");
    assert_int_equal(run("%s keys remove --label next-saml --yes --config node.conf "
                         TOKEN_ARGS, admin),
                     1);
    expect_in("err.txt", "in use by node.conf: [saml] next_certificate (");
    expect_listed("tls", true);
    expect_listed("saml", true);
    expect_listed("old-saml", true);
    expect_listed("reg", true);
    expect_listed("next-saml", true);

    /* A configured file that cannot be read is not taken as naming no key. */
    assert_int_equal(run("mv reg.pem reg.pem.away"), 0);
    assert_int_equal(run("%s keys remove --label rsa --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     1);
    expect_in("err.txt", "[regulator reg] key cannot be checked");
    assert_int_equal(run("mv reg.pem.away reg.pem"), 0);
    expect_listed("rsa", true);
}

static void test_remove_confirmation(void **state)
{
    (void)state;
    /* Standard input is a file here, not a terminal, so only --yes confirms. */
    assert_int_equal(run("%s keys remove --id 0a0b --config node.conf " TOKEN_ARGS
                         " </dev/null", admin),
                     2);
    expect_in("err.txt", "standard input is not a terminal");
    expect_in("err.txt", "pass --yes");
    expect_listed("rsa", true);

    /* On a terminal, any reply but yes keeps the key. script(1) provides the terminal. */
    assert_int_equal(run("echo no | script -qec \"%s keys remove --id 0a0b --config "
                         "node.conf " TOKEN_ARGS "\" /dev/null",
                         admin),
                     1);
    expect_in("out.txt", "Type yes to remove it");
    expect_in("out.txt", "not confirmed; nothing was removed");
    expect_listed("rsa", true);

    assert_int_equal(run("echo yes | script -qec \"%s keys remove --id 0a0b --config "
                         "node.conf " TOKEN_ARGS "\" /dev/null",
                         admin),
                     0);
    expect_in("out.txt", "removed private key 'rsa' (id 0a0b, type rsa2048), 1 public key "
                         "and 1 certificate from token 'e2e'");
    expect_listed("rsa", false);
}

static void test_remove_by_label_and_force(void **state)
{
    (void)state;
    generate_with_certificate("spare", "--id 0c0d");
    assert_int_equal(run("%s keys remove --label spare --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     0);
    expect_in("out.txt", "removed private key 'spare' (id 0c0d, type p256), 1 public key "
                         "and 1 certificate from token 'e2e'");
    expect_listed("spare", false);

    /* pkcs11-tool, an independent PKCS#11 client, lists the other keys but no object
     * of the removed one. */
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --list-objects",
                         token_dir.module_path),
                     0);
    expect_in("out.txt", "old-saml");
    {
        char *text = output("out.txt");

        /* The ID is matched as a whole line, because the random serial numbers, IDs and
         * points of the other objects contain "0c0d" now and then. */
        if (strstr(text, "spare") != NULL || strstr(text, "ID:         0c0d\n") != NULL)
            fail_msg("pkcs11-tool still lists an object of the removed key:\n%s", text);
        free(text);
    }
    assert_int_equal(run("%s keys remove --label spare --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     1);
    expect_in("err.txt", "no private key on token 'e2e' matches 'pkcs11:object=spare;"
                         "type=private'");

    /* --force removes a key in use and prints a warning with its uses. */
    assert_int_equal(run("%s keys remove --label old-saml --yes --force --config node.conf "
                         TOKEN_ARGS, admin),
                     0);
    expect_in("err.txt", "warning: removing private key 'old-saml'");
    expect_in("err.txt", "although node.conf uses it: [saml] previous_certificate");
    expect_in("out.txt", "removed private key 'old-saml'");
    expect_listed("old-saml", false);
}

/* An issuer that shares the node's token, and a client CA whose key is there, are uses
 * too: their keys are found by public key in [issuer NAME] certificate and [tls]
 * client_ca. */
static void test_remove_issuer_and_client_ca(void **state)
{
    char conf[sizeof(node_conf) + 256];

    (void)state;
    generate_with_certificate("partner", "");
    generate_with_certificate("client-ca", "");
    snprintf(conf, sizeof(conf), "%s[tls]\nclient_ca = client-ca.pem\n"
             "[issuer partner]\nentity_id = https://partner.example/idp\n"
             "certificate = partner.pem\n", node_conf);
    write_text("shared.conf", conf, 0600);

    assert_int_equal(run("%s keys remove --label partner --yes --config shared.conf "
                         TOKEN_ARGS, admin),
                     1);
    expect_in("err.txt", "in use by shared.conf: [issuer partner] certificate (partner.pem)");
    assert_int_equal(run("%s keys remove --label client-ca --yes --config shared.conf "
                         TOKEN_ARGS, admin),
                     1);
    expect_in("err.txt", "in use by shared.conf: [tls] client_ca (client-ca.pem)");
    expect_listed("partner", true);
    expect_listed("client-ca", true);
}

/* A key pair that another tool made with the CKA_ID of a key of this tool is removed
 * alone: the public key and certificate of the other pair stay on the token. */
/* Two EC key pairs with one CKA_ID: a private EC key has no public point of its own, so
 * its public half comes from a public key object with its id, and here two such objects
 * hold different keys. Signing a certificate for either key must fail and name the
 * ambiguity, not put the other key's public half in the certificate. */
static void test_ambiguous_public_half_rejected(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                             "e2e-user-pin --keypairgen --key-type EC:prime256v1 --id 0d0e "
                             "--label ec-twin-%d",
                             token_dir.module_path, i),
                         0);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run("%s keys certificate --key 'pkcs11:object=ec-twin-%d' "
                             "--subject /CN=twin --out twin.pem " TOKEN_ARGS,
                             admin, i),
                         1);
        expect_in("err.txt", "2 public key objects with its CKA_ID hold different public "
                             "keys");
    }
}

/* Two EC key pairs with one CKA_ID, of which only the first kept its public key object:
 * the one public key object agrees with itself, but it belongs to one of two private
 * keys. Loading the second key must fail and name the ambiguity, not put the first
 * key's public half in the second key's certificate. */
static void test_lent_public_half_rejected(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++)
        assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                             "e2e-user-pin --keypairgen --key-type EC:prime256v1 --id 0a0b "
                             "--label ec-lent-%d",
                             token_dir.module_path, i),
                         0);
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --delete-object --type pubkey --label ec-lent-1",
                         token_dir.module_path),
                     0);

    for (int i = 0; i < 2; i++) {
        assert_int_equal(run("%s keys certificate --key 'pkcs11:object=ec-lent-%d' "
                             "--subject /CN=lent --out lent.pem " TOKEN_ARGS,
                             admin, i),
                         1);
        expect_in("err.txt", "more than one private key has its CKA_ID, so its public "
                             "half is ambiguous");
    }
}

/* Nine public key objects with the CKA_ID of an EC key: eight copies of the key's own
 * public key, then the public key of another key pair whose private key is gone. The
 * key's public half is ambiguous however many objects come before the odd one. */
static void test_ninth_public_key_compared(void **state)
{
    (void)state;
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --keypairgen --key-type EC:prime256v1 --id 0c0d "
                         "--label ec-ninth",
                         token_dir.module_path),
                     0);
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --read-object --type pubkey --id 0c0d "
                         "--output-file ninth.der",
                         token_dir.module_path),
                     0);
    for (int i = 0; i < 7; i++)
        assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                             "e2e-user-pin --write-object ninth.der --type pubkey --id 0c0d "
                             "--label ec-ninth-copy-%d",
                             token_dir.module_path, i),
                         0);
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --keypairgen --key-type EC:prime256v1 --id 0c0d "
                         "--label ec-other",
                         token_dir.module_path),
                     0);
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --delete-object --type privkey --label ec-other",
                         token_dir.module_path),
                     0);

    assert_int_equal(run("%s keys certificate --key 'pkcs11:object=ec-ninth;type=private' "
                         "--subject /CN=ninth --out ninth.pem " TOKEN_ARGS,
                         admin),
                     1);
    expect_in("err.txt", "9 public key objects with its CKA_ID hold different public keys");
}

/* An EC key without a public key object, beside a renewed certificate and a second
 * copy of the first one: the three certificates hold the same key, so it still loads. */
static void test_renewed_certificates_load(void **state)
{
    (void)state;
    generate_with_certificate("renewed", "--id 0f10");
    assert_int_equal(run("%s keys certificate --key 'pkcs11:object=renewed' --subject "
                         "'/CN=renewed again' --out renewed-again.pem --store " TOKEN_ARGS,
                         admin),
                     0);
    assert_int_equal(run("%s keys import-cert --key 'pkcs11:object=renewed' --cert "
                         "renewed.pem " TOKEN_ARGS,
                         admin),
                     0);
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --delete-object --type pubkey --label renewed",
                         token_dir.module_path),
                     0);

    assert_int_equal(run("%s keys certificate --key 'pkcs11:object=renewed;type=private' "
                         "--subject '/CN=renewed' --out renewed-third.pem " TOKEN_ARGS,
                         admin),
                     0);
}

/* A label with an escape sequence is shown with '?' for its control characters. */
static void test_remove_shows_label_safely(void **state)
{
    (void)state;
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --keypairgen --key-type rsa:2048 --id 0c0d "
                         "--label \"$(printf 'ctl\\033[2Jx')\"",
                         token_dir.module_path),
                     0);
    assert_int_equal(run("%s keys remove --id 0c0d --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     0);
    expect_in("out.txt", "removed private key 'ctl?[2Jx' (id 0c0d, type rsa2048)");
}

static void test_remove_keeps_shared_id(void **state)
{
    char *text;

    (void)state;
    generate_with_certificate("first", "--id 0e0f");
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --keypairgen --key-type rsa:2048 --id 0e0f "
                         "--label twin",
                         token_dir.module_path),
                     0);

    assert_int_equal(run("%s keys remove --label twin --yes --config node.conf " TOKEN_ARGS,
                         admin),
                     0);
    expect_in("out.txt", "removed private key 'twin' (id 0e0f, type rsa2048), 1 public key "
                         "and 0 certificates from token 'e2e'");
    expect_in("out.txt", "kept 2 public key or certificate objects with the same id or "
                         "label, because they hold another key");
    expect_listed("twin", false);

    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --list-objects",
                         token_dir.module_path),
                     0);
    text = output("out.txt");
    if (strstr(text, "Public Key Object; EC") == NULL ||
        strstr(text, "Certificate Object") == NULL || strstr(text, "twin") != NULL)
        fail_msg("pkcs11-tool should list the public key and certificate of 'first' and "
                 "no object of 'twin':\n%s", text);
    free(text);

    /* The remaining key still has its public half, so a certificate can be made. */
    assert_int_equal(run("%s keys certificate --key 'pkcs11:object=first' --subject "
                         "'/CN=first' --out first-again.pem " TOKEN_ARGS,
                         admin),
                     0);

    /* An EC key reads its public half from an object with its CKA_ID, so beside an EC
     * twin neither key's public half is certain: loading either key fails, and both
     * are kept, even with --force. */
    assert_int_equal(run("pkcs11-tool --module %s --token-label e2e --login --pin "
                         "e2e-user-pin --keypairgen --key-type EC:prime256v1 --id 0e0f "
                         "--label ec-twin",
                         token_dir.module_path),
                     0);
    assert_int_equal(run("%s keys remove --label first --yes --force --config node.conf "
                         TOKEN_ARGS, admin),
                     1);
    expect_in("err.txt", "key 'first': 2 public key objects with its CKA_ID hold different "
                         "public keys, so its public half is ambiguous");
    assert_int_equal(run("%s keys remove --label ec-twin --yes --force --config node.conf "
                         TOKEN_ARGS, admin),
                     1);
    expect_in("err.txt", "key 'ec-twin': 2 public key objects with its CKA_ID hold "
                         "different public keys");
    expect_listed("first", true);
    expect_listed("ec-twin", true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_token),
        cmocka_unit_test(test_pin_never_on_command_line),
        cmocka_unit_test(test_generate),
        cmocka_unit_test(test_certificates),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_import_cert),
        cmocka_unit_test(test_renewed_certificates_load),
        cmocka_unit_test(test_remove_guards),
        cmocka_unit_test(test_remove_confirmation),
        cmocka_unit_test(test_remove_by_label_and_force),
        cmocka_unit_test(test_remove_shows_label_safely),
        cmocka_unit_test(test_remove_keeps_shared_id),
        cmocka_unit_test(test_remove_issuer_and_client_ca),
        /* Last, because their key pairs of one CKA_ID stay in the token. */
        cmocka_unit_test(test_ambiguous_public_half_rejected),
        cmocka_unit_test(test_lent_public_half_rejected),
        cmocka_unit_test(test_ninth_public_key_compared),
    };

    return cmocka_run_group_tests_name("p11_admin", tests, setup, teardown);
}

/* idsvc-admin: the operators' and regulators' command line tool. */
#include <stdio.h>
#include <string.h>

#include "admin.h"

static void print_usage(FILE *out)
{
    fputs("usage: idsvc-admin COMMAND [ARGS]\n"
          "\n"
          "commands:\n"
          "  keys init-token|generate|certificate|request|list|import-cert|remove ...\n"
          "                   set up an HSM token and its keys (see docs/hsm.md)\n"
          "  saml sign ...    build and sign a SAML 2.0 Assertion with an HSM key\n"
          "  saml verify ...  verify a signed Assertion or Response\n"
          "  webauthn register|authenticate ...\n"
          "                   verify a WebAuthn registration or assertion response\n"
          "  policy validate|sign|verify|diff|explain|simulate|test ...\n"
          "                   write, sign and check policy bundles (see docs/policy-language.md)\n"
          "  audit export|verify|consistency|prove|show|anchor ...\n"
          "                   read the audit log and check it offline (see docs/audit-log.md)\n"
          "\n"
          "Run 'idsvc-admin COMMAND --help' for a command's options.\n",
          out);
}

static int run_saml(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "sign") == 0)
        return admin_saml_sign_main(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "verify") == 0)
        return admin_saml_verify_main(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0)) {
        fputs("usage: idsvc-admin saml sign|verify [OPTIONS]\n"
              "  sign    build and sign a SAML 2.0 Assertion with an HSM key\n"
              "  verify  verify a signed Assertion or Response\n"
              "Run 'idsvc-admin saml sign --help' or 'idsvc-admin saml verify --help' for\n"
              "their options.\n",
              stdout);
        return 0;
    }
    if (argc >= 2)
        fprintf(stderr, "idsvc-admin saml: unknown command '%s'\n", argv[1]);
    fputs("usage: idsvc-admin saml sign|verify [OPTIONS]\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "keys") == 0)
        return admin_keys_main(argc - 1, argv + 1);
    if (strcmp(argv[1], "saml") == 0)
        return run_saml(argc - 1, argv + 1);
#ifdef IDSVC_HAVE_POLICY
    if (strcmp(argv[1], "policy") == 0)
        return admin_policy_main(argc - 1, argv + 1);
#endif
#ifdef IDSVC_HAVE_AUDIT
    if (strcmp(argv[1], "audit") == 0)
        return admin_audit_main(argc - 1, argv + 1);
#endif
#ifdef IDSVC_HAVE_WEBAUTHN
    if (strcmp(argv[1], "webauthn") == 0)
        return admin_webauthn_main(argc - 1, argv + 1);
#endif

    fprintf(stderr, "idsvc-admin: unknown command '%s'\n", argv[1]);
    print_usage(stderr);
    return 2;
}

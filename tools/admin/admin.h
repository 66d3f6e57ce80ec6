/* Subcommands of idsvc-admin. Each takes the arguments after its own name and returns
 * the process exit status: 0 on success, 1 for a rejected input, 2 for a usage error. */
#ifndef IDSVC_ADMIN_H
#define IDSVC_ADMIN_H

int admin_keys_main(int argc, char **argv);
int admin_saml_sign_main(int argc, char **argv);
int admin_saml_verify_main(int argc, char **argv);
int admin_webauthn_main(int argc, char **argv);
int admin_policy_main(int argc, char **argv);
int admin_audit_main(int argc, char **argv);

#endif

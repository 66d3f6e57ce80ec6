/* Parts of 'idsvc-admin audit' shared by its subcommands. */
#ifndef IDSVC_ADMIN_AUDIT_CMD_H
#define IDSVC_ADMIN_AUDIT_CMD_H

#define AUDIT_EXIT_OK 0
#define AUDIT_EXIT_FAILED 1
#define AUDIT_EXIT_USAGE 2

int admin_audit_export_main(int argc, char **argv);
int admin_audit_show_main(int argc, char **argv);
int admin_audit_prove_main(int argc, char **argv);
int admin_audit_verify_main(int argc, char **argv);

#endif

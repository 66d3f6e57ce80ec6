/* Placeholder until the subcommand lands; replaced by its implementation. */
#include <stdio.h>

#include "admin.h"

int admin_saml_sign_main(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs("idsvc-admin: this command is not built yet\n", stderr);
    return 2;
}

#include "token_options.h"

int token_option_apply(p11_config *config, int option, const char *value)
{
    switch (option) {
    case TOKEN_OPTION_MODULE:
        config->module_path = value;
        return 1;
    case TOKEN_OPTION_TOKEN:
        config->token_label = value;
        return 1;
    case TOKEN_OPTION_SERIAL:
        config->token_serial = value;
        return 1;
    case TOKEN_OPTION_PIN_FILE:
        config->pin_file = value;
        return 1;
    case TOKEN_OPTION_PIN_ENV:
        config->pin_env = value;
        return 1;
    default:
        return 0;
    }
}

int token_options_check(const p11_config *config, const char *program)
{
    if (config->token_label == NULL && config->token_serial == NULL) {
        fprintf(stderr, "%s: no token given; use --token LABEL or --serial SERIAL\n",
                program);
        return -1;
    }
    if (config->pin_file == NULL && config->pin_env == NULL) {
        fprintf(stderr,
                "%s: no PIN source given; use --pin-file FILE or --pin-env NAME\n",
                program);
        return -1;
    }
    if (config->pin_file != NULL && config->pin_env != NULL) {
        fprintf(stderr, "%s: give either --pin-file or --pin-env, not both\n", program);
        return -1;
    }
    return 0;
}

void token_options_print_help(FILE *out)
{
    fputs(
        "token options:\n"
        "  --module PATH      PKCS#11 module (default: the SoftHSM2 module)\n"
        "  --token LABEL      token label\n"
        "  --serial SERIAL    token serial number (with or instead of --token)\n"
        "  --pin-file FILE    file holding the user PIN; must not be readable by group\n"
        "                     or others\n"
        "  --pin-env NAME     environment variable holding the user PIN\n",
        out);
}

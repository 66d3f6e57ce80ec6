/*
 * idsvc-admin audit anchor show|reset: the audit log's anchor in the node's HSM token
 * (idsvc/audit_anchor.h). Both read the node's configuration file for the module, the
 * token, the PIN source and the entity ID that names the anchor.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "audit_anchor.h"
#include "audit_cmd.h"
#include "config.h"
#include "p11.h"

#define ANCHOR_PROGRAM "idsvc-admin audit anchor"

static void print_anchor_usage(FILE *out)
{
    fputs("usage: idsvc-admin audit anchor show|reset --config FILE\n"
          "  show   print the anchor that the node's HSM token keeps for its audit log\n"
          "  reset  replace it with a reset marker that keeps the previous anchor, or\n"
          "         write one where the anchor is missing; the node records an\n"
          "         audit_anchor_reset entry at its next start. Stop the node first\n"
          "  --config FILE  the node's configuration file: its [hsm] settings and\n"
          "                 entity ID\n",
          out);
}

/* Opens the node's token as the node does; returns NULL after printing the reason. */
static p11_token *open_token(const config *cfg)
{
    p11_config p11 = {
        .module_path = cfg->module_path,
        .token_label = cfg->token_label,
        .pin_file = cfg->pin_file,
        .pin_env = cfg->pin_env,
    };
    p11_token *token = NULL;
    p11_error err = {0};

    if (p11_token_open(&p11, &token, &err) != 0) {
        fprintf(stderr, ANCHOR_PROGRAM ": HSM: %s\n", err.message);
        return NULL;
    }
    return token;
}

static int show(audit_anchor_p11 *anchor)
{
    char error[384];
    char *text = NULL;

    if (audit_anchor_p11_read(anchor, &text, error, sizeof(error)) != 0) {
        fprintf(stderr, ANCHOR_PROGRAM " show: %s\n", error);
        return AUDIT_EXIT_FAILED;
    }
    if (text == NULL) {
        fprintf(stderr, ANCHOR_PROGRAM " show: the token has no audit anchor for %s; the "
                "node writes one at its next start or checkpoint\n", anchor->application);
        return AUDIT_EXIT_FAILED;
    }
    fputs(text, stdout);
    free(text);
    return AUDIT_EXIT_OK;
}

/* Fails while a node holds the database's lock file, because the running node would
 * overwrite the reset marker at its next checkpoint. */
static int check_node_stopped(const config *cfg)
{
    char path[4096];
    int fd;
    int rc = 0;

    if (cfg->database_path == NULL ||
        snprintf(path, sizeof(path), "%s.lock", cfg->database_path) >= (int)sizeof(path))
        return 0;
    fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return 0; /* no node has run on this database since the lock file went */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, ANCHOR_PROGRAM " reset: a node is running on %s (it has locked "
                "%s); stop it first\n", cfg->database_path, path);
        rc = -1;
    }
    close(fd);
    return rc;
}

/* Writes the reset marker over previous; parsed is previous parsed, or NULL when
 * previous is not an anchor. */
static int write_marker(audit_anchor_p11 *anchor, const char *previous,
                        const audit_anchor *parsed)
{
    char error[384];
    /* After the anchor it replaces; an unreadable previous text had no generation. */
    uint64_t generation = parsed != NULL ? parsed->generation + 1 : 1;
    char *marker = audit_anchor_format_reset(previous, generation, time(NULL));

    if (marker == NULL || audit_anchor_p11_write(anchor, marker, error, sizeof(error)) != 0) {
        fprintf(stderr, ANCHOR_PROGRAM " reset: %s\n", marker == NULL ? "out of memory" : error);
        free(marker);
        return AUDIT_EXIT_FAILED;
    }
    free(marker);
    if (previous[0] == '\0')
        printf("The token had no audit anchor for %s. It now has a reset marker.\n",
               anchor->application);
    else if (parsed == NULL)
        printf("The audit anchor is now a reset marker over a text that is not an anchor.\n");
    else
        printf("The audit anchor is now a reset marker. It keeps the previous anchor: log "
               "ID %s, tree size %" PRIu64 ".\n", parsed->log_id, parsed->checkpoint.head.size);
    printf("At its next start the node records an audit_anchor_reset entry and writes a "
           "new anchor.\n");
    return AUDIT_EXIT_OK;
}

static int reset(audit_anchor_p11 *anchor)
{
    audit_anchor parsed = {0};
    char error[384];
    char *text = NULL;
    int rc = AUDIT_EXIT_FAILED;

    if (audit_anchor_p11_read(anchor, &text, error, sizeof(error)) != 0) {
        fprintf(stderr, ANCHOR_PROGRAM " reset: %s\n", error);
        return AUDIT_EXIT_FAILED;
    }
    if (text == NULL) {
        /* A missing anchor stops the start of a node whose log has entries; the marker
         * over an empty text lets it start and record previous_missing. */
        return write_marker(anchor, "", NULL);
    }
    if (audit_anchor_parse(text, &parsed) == 0 && parsed.reset) {
        printf("The audit anchor is a reset marker already; the node records it at its "
               "next start.\n");
        rc = AUDIT_EXIT_OK;
    } else {
        /* A text that is not an anchor is kept too, and the node's audit_anchor_reset
         * entry then has previous_invalid. */
        bool is_anchor = parsed.checkpoint.body != NULL;

        rc = write_marker(anchor, text, is_anchor ? &parsed : NULL);
    }
    audit_anchor_clear(&parsed);
    free(text);
    return rc;
}

/* Reads "show" or "reset" and --config; returns 0, or AUDIT_EXIT_USAGE. */
static int parse_anchor_args(int argc, char **argv, const char **command,
                             const char **config_path)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {NULL, 0, NULL, 0},
    };
    int option;

    *config_path = NULL;
    opterr = 0;
    while ((option = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (option != 'c') {
            fprintf(stderr, ANCHOR_PROGRAM ": unknown option, or an option without its "
                    "value: %s\n", argv[optind - 1]);
            return AUDIT_EXIT_USAGE;
        }
        *config_path = optarg;
    }
    if (optind + 1 != argc || *config_path == NULL)
        return AUDIT_EXIT_USAGE;
    *command = argv[optind];
    if (strcmp(*command, "show") != 0 && strcmp(*command, "reset") != 0)
        return AUDIT_EXIT_USAGE;
    return 0;
}

int admin_audit_anchor_main(int argc, char **argv)
{
    const char *command = NULL;
    const char *config_path = NULL;
    audit_anchor_p11 anchor = {0};
    config *cfg = NULL;
    char error[1024];
    int rc = AUDIT_EXIT_FAILED;

    if (parse_anchor_args(argc, argv, &command, &config_path) != 0) {
        print_anchor_usage(stderr);
        return AUDIT_EXIT_USAGE;
    }
    if (config_load(config_path, &cfg, error, sizeof(error)) != 0) {
        fprintf(stderr, ANCHOR_PROGRAM ": %s\n", error);
        return AUDIT_EXIT_USAGE;
    }
    if (strcmp(command, "reset") == 0 && check_node_stopped(cfg) != 0)
        goto out;
    anchor.application = cfg->entity_id;
    anchor.token = open_token(cfg);
    if (anchor.token == NULL)
        goto out;
    rc = strcmp(command, "show") == 0 ? show(&anchor) : reset(&anchor);
    p11_token_close(&anchor.token);
out:
    config_free(&cfg);
    return rc;
}

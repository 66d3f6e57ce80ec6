/*
 * Starts a real idsvc node for the browser test: the server test harness (SoftHSM2
 * token, demo CA and client certificates, SQLite file, TLS on 127.0.0.1) with the
 * citizen pages on RP ID "localhost". Prints one JSON line with the port and the folder
 * of the certificates, then keeps the node running until standard input closes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "server_harness.h"

int main(void)
{
    harness h;
    char config[512];
    char buffer[256];
    int status = 1;

    if (harness_setup(&h) != 0) {
        fprintf(stderr, "browser_node: the harness setup failed\n");
        goto out;
    }
    /* A relying-party id must be a host name, so the pages use localhost. */
    snprintf(config, sizeof(config),
             "\n[webauthn]\nrp_id = localhost\norigin = https://localhost:%u\n"
             "attestation = self\n"
             "[rp " CLIENT_RP "]\nconsent = always\nname = Bank One\n",
             h.port);
    if (harness_append_config(&h, config) != 0 || harness_start(&h) != 0) {
        fprintf(stderr, "browser_node: the daemon did not start\n");
        goto out;
    }
    printf("{\"port\": %u, \"dir\": \"%s\", \"log\": \"%s\"}\n", h.port, h.token.dir,
           h.log_path);
    fflush(stdout);

    while (read(STDIN_FILENO, buffer, sizeof(buffer)) > 0)
        continue;
    status = 0;
out:
    harness_teardown(&h);
    return status;
}

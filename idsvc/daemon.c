/*
 * idsvc: the node's daemon. Reads the configuration, opens the HSM and the database,
 * serves HTTPS until SIGTERM or SIGINT, and reloads the trust store, the relying-party
 * registry, the role mapping, the regulator keys and the policy bundles on SIGHUP
 * without dropping connections.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"
#include "http.h"
#include "http_listen.h"
#include "http_policy.h"
#include "log.h"
#include "monotonic_cond.h"
#include "route_audit.h"
#include "web_consent.h"

#define PIN_MAX 256

/* How often the main thread removes the claim values held for refused or expired
 * consent requests. */
#define HELD_VALUES_PURGE_SECONDS 60

static void usage(FILE *out)
{
    fputs("usage: idsvc --config FILE [--check] [--accept-clock-behind] [--debug]\n"
          "  --config FILE          the INI configuration (see etc/idsvc.conf.sample)\n"
          "  --check                read and check the configuration, then exit\n"
          "  --accept-clock-behind  start once although the wall clock is behind the\n"
          "                         newest time in the audit log by more than [saml]\n"
          "                         clock_skew, after a clock that ran ahead was set\n"
          "                         right; the audit log records it\n"
          "  --debug                also log debug lines\n", out);
}

/* Reads the user PIN from [hsm] pin_file or pin_env. An empty PIN is rejected here, so
 * that it never reaches the token. Returns 0, or -1 with a sentence in error. */
static int read_pin(const config *cfg, char *pin, size_t size, char *error,
                    size_t error_size)
{
    p11_error err = {0};
    int rc;

    if (cfg->pin_file != NULL)
        rc = p11_pin_read_file(cfg->pin_file, pin, size, &err);
    else
        rc = p11_pin_read_env(cfg->pin_env, pin, size, &err);
    if (rc != 0)
        snprintf(error, error_size, "[hsm] %s: %s",
                 cfg->pin_file != NULL ? "pin_file" : "pin_env", err.message);
    return rc;
}

/* Checks that the PKCS#11 module is a readable file, without loading it. */
static int check_module_file(const config *cfg, char *error, size_t error_size)
{
    const char *module = cfg->module_path != NULL ? cfg->module_path : TLS_DEFAULT_MODULE;
    struct stat st;

    if (stat(module, &st) != 0 || !S_ISREG(st.st_mode) || access(module, R_OK) != 0) {
        snprintf(error, error_size,
                 "[hsm] module: %s is missing, not a file or not readable%s", module,
                 cfg->module_path == NULL ? " (the default, as module is not set)" : "");
        return -1;
    }
    return 0;
}

/* Checks that the daemon can create the database, its -wal and -shm files and the lock
 * file in the database's folder. */
static int check_database_folder(const config *cfg, char *error, size_t error_size)
{
    char folder[4096];
    char *slash;

    snprintf(folder, sizeof(folder), "%s", cfg->database_path);
    slash = strrchr(folder, '/');
    if (slash == NULL)
        snprintf(folder, sizeof(folder), ".");
    else if (slash == folder)
        folder[1] = '\0';
    else
        *slash = '\0';
    if (access(folder, W_OK | X_OK) != 0) {
        snprintf(error, error_size,
                 "[database] path: the folder %.300s is missing or not writable: %s", folder,
                 strerror(errno));
        return -1;
    }
    return 0;
}

/* Runs the checks of a start that need neither the HSM, the database nor the network:
 * the PIN source, the module file, the database folder and the open-file limit, then
 * the files that a start reads and the policy bundles. */
static int check_configuration(const config *cfg, char *error, size_t error_size)
{
    char pin[PIN_MAX];
    unsigned fitted = 0;
    int rc = read_pin(cfg, pin, sizeof(pin), error, error_size);

    explicit_bzero(pin, sizeof(pin));
    if (rc != 0 || check_module_file(cfg, error, error_size) != 0 ||
        check_database_folder(cfg, error, error_size) != 0)
        return -1;
    /* The same test as the start's. It may raise this process's soft limit, which ends
     * with the check. */
    if (http_listen_fit_descriptors(cfg->limits.max_connections, cfg->public_port != 0 ? 2 : 1,
                                    cfg->limits.threads, &fitted, error, error_size) != 0)
        return -1;
    if (node_check_files(cfg, error, error_size) != 0 ||
        http_policy_check(cfg, error, error_size) != 0)
        return -1;
    return 0;
}

static void observe_key_import(void *ctx, bool ok)
{
    metrics_record_hsm(ctx, METRICS_HSM_TLS_KEY_IMPORT, ok);
}

static const char *const *route_patterns(void)
{
    static const char *patterns[64];
    size_t count;
    const http_route *routes = http_routes(&count);

    for (size_t i = 0; i < count && i < 64; i++)
        patterns[i] = routes[i].pattern;
    return patterns;
}

static X509 *load_certificate(const char *path)
{
    FILE *file = fopen(path, "r");
    X509 *cert;

    if (file == NULL)
        return NULL;
    cert = PEM_read_X509(file, NULL, NULL, NULL);
    fclose(file);
    return cert;
}

/*
 * Checks that the [saml] certificate contains the public key of [hsm] saml_key. The
 * metadata publishes that certificate, so a certificate of another key would make every
 * relying party reject the node's signatures. `--check` cannot run this, because it
 * needs the HSM.
 */
static int check_saml_certificate_key(node *n, const config *cfg)
{
    p11_error err = {0};
    EVP_PKEY *key = p11_key_get_public(n->saml_key, &err);
    int rc = -1;

    if (key == NULL)
        log_message(LOG_ERROR, "start_failed",
                    "cannot read the public key of [hsm] saml_key %s: %s",
                    cfg->saml_key_uri, err.message);
    else if (EVP_PKEY_eq(X509_get0_pubkey(n->saml_cert), key) != 1)
        log_message(
            LOG_ERROR, "start_failed",
            "[saml] certificate %s does not contain the public key of [hsm] saml_key "
            "%s. Make a certificate of that key with `idsvc-admin keys certificate`",
            cfg->saml_certificate_file, cfg->saml_key_uri);
    else
        rc = 0;
    EVP_PKEY_free(key);
    return rc;
}

/* Opens the HSM for SAML signing; the TLS layer has initialised the module already. */
static int open_hsm(node *n, const config *cfg)
{
    p11_config p11 = {
        .module_path = cfg->module_path,
        .token_label = cfg->token_label,
        .pin_file = cfg->pin_file,
        .pin_env = cfg->pin_env,
    };
    p11_error err = {0};

    if (p11_token_open(&p11, &n->token, &err) != 0 ||
        p11_key_find(n->token, cfg->saml_key_uri, &n->saml_key, &err) != 0) {
        log_message(LOG_ERROR, "start_failed", "HSM: %s", err.message);
        return -1;
    }
    if (cfg->saml_certificate_file != NULL) {
        n->saml_cert = load_certificate(cfg->saml_certificate_file);
        if (n->saml_cert == NULL) {
            log_message(LOG_ERROR, "start_failed", "%s: cannot read the SAML certificate",
                        cfg->saml_certificate_file);
            return -1;
        }
        n->saml_cert_base64 = saml_certificate_base64(n->saml_cert);
        if (n->saml_cert_base64 == NULL) {
            log_message(LOG_ERROR, "start_failed",
                        "%s: cannot DER-encode the SAML certificate for KeyInfo",
                        cfg->saml_certificate_file);
            return -1;
        }
        return check_saml_certificate_key(n, cfg);
    }
    return 0;
}

/* The lock file that keeps a second daemon off this node's database; held for life. */
static int database_lock_fd = -1;

/*
 * Takes an exclusive lock on DATABASE.lock before anything is written. The audit log
 * keeps its tree's frontier in memory, so a second daemon on the same file, even one
 * that then fails to start, would append behind the first one's back and break its log.
 */
static int lock_database(const config *cfg)
{
    char path[4096];

    if (snprintf(path, sizeof(path), "%s.lock", cfg->database_path) >= (int)sizeof(path)) {
        log_message(LOG_ERROR, "start_failed", "[database] path is too long");
        return -1;
    }
    database_lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (database_lock_fd < 0) {
        log_message(LOG_ERROR, "start_failed", "cannot open the lock file %s: %s", path,
                    strerror(errno));
        return -1;
    }
    if (flock(database_lock_fd, LOCK_EX | LOCK_NB) != 0) {
        log_message(LOG_ERROR, "start_failed",
                    "another idsvc process uses the database %s (it holds %s); stop it "
                    "first, or give this node a database of its own",
                    cfg->database_path, path);
        close(database_lock_fd);
        database_lock_fd = -1;
        return -1;
    }
    return 0;
}

/* Warns when an existing database may be read by others, as one made before the daemon
 * set its umask may be. The node still starts, because a backup job of the owner's group
 * can be the reason. */
static void warn_database_mode(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0 || (st.st_mode & 077) == 0)
        return;
    log_message(LOG_WARN, "database_permissions",
                "%s has mode %03o, so other users can read the claim values and the "
                "pseudonym secret in it. Run chmod 600 on it and on its -wal and -shm "
                "files",
                path, (unsigned)(st.st_mode & 0777));
}

/* The command line. */
typedef struct arguments {
    const char *config_path;
    bool check;
    bool accept_clock_behind; /* for this start only: never a configuration key */
} arguments;

static int start_node(node *n, config *cfg, const arguments *args)
{
    char error[512];
    char pin[PIN_MAX];
    size_t route_count;
    tls_hsm_observer observer;
    int rc;

    http_routes(&route_count);
    n->metrics = metrics_new(route_patterns(), route_count);
    if (n->metrics == NULL)
        return -1;
    observer.key_import = observe_key_import;
    observer.ctx = n->metrics;

    if (check_module_file(cfg, error, sizeof(error)) != 0 ||
        check_database_folder(cfg, error, sizeof(error)) != 0 ||
        read_pin(cfg, pin, sizeof(pin), error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, "start_failed", "%s", error);
        return -1;
    }
    rc = tls_context_new(cfg, pin, &observer, &n->tls, error, sizeof(error));
    explicit_bzero(pin, sizeof(pin));
    if (rc != 0) {
        log_message(LOG_ERROR, "start_failed", "TLS: %s", error);
        return -1;
    }
    if (open_hsm(n, cfg) != 0 || lock_database(cfg) != 0)
        return -1;

    warn_database_mode(cfg->database_path);
    n->store = store_sqlite_open(cfg->database_path, error, sizeof(error));
    if (n->store == NULL) {
        log_message(LOG_ERROR, "start_failed", "%s", error);
        return -1;
    }
    if (route_audit_open(n, cfg, args->accept_clock_behind) != 0)
        return -1;
    if (http_policy_start(n, cfg) != 0)
        return -1;
    return 0;
}

static int install_first_config(node *n, config *cfg)
{
    char error[512];

    if (node_install_config(n, cfg, error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, "start_failed", "%s", error);
        return -1;
    }
    n->boot_snapshot = node_acquire(n);
    n->boot = n->boot_snapshot->cfg;
    n->metadata_xml = route_metadata_build(n);
    if (n->metadata_xml == NULL) {
        log_message(LOG_ERROR, "start_failed", "cannot build the SAML metadata");
        return -1;
    }
    return 0;
}

static void collect_start_only_key(void *ctx, const char *section, const char *key)
{
    json_array_append_new(ctx, json_pack("{s:s, s:s}", "section", section, "key", key));
}

/* Logs one restart_required warning for each start-only key in changes. */
static void warn_start_only_keys(const json_t *changes)
{
    size_t index;
    const json_t *change;

    json_array_foreach(changes, index, change) {
        const char *section = json_string_value(json_object_get(change, "section"));
        const char *key = json_string_value(json_object_get(change, "key"));
        char message[256];

        snprintf(message, sizeof(message),
                 "[%s] %s changed, but it is read only at start: the node keeps the value "
                 "it started with until a restart",
                 section, key);
        log_field fields[] = {
            {"section", section},
            {"key", key},
            {"message", message},
        };
        log_event(LOG_WARN, "restart_required", fields, sizeof(fields) / sizeof(fields[0]));
    }
}

/* Replaces *value with a copy of running when they differ. Returns -1 when out of
 * memory. */
static int keep_value(char **value, const char *running)
{
    char *kept;

    if ((*value == NULL && running == NULL) ||
        (*value != NULL && running != NULL && strcmp(*value, running) == 0))
        return 0;
    kept = running != NULL ? strdup(running) : NULL;
    if (running != NULL && kept == NULL)
        return -1;
    free(*value);
    *value = kept;
    return 0;
}

/* [server] entity_id and jurisdiction are read only at start, but requests read them
 * from the configuration in force. They are the issuer of the node's assertions, its own
 * trust-store entry, and its subjects' home, which the start checked against the policy
 * bundles. The reloaded configuration keeps the running values, so a changed file
 * cannot half-apply them. Returns -1 when out of memory. */
static int keep_server_identity(const node *n, config *cfg)
{
    if (keep_value(&cfg->entity_id, n->boot->entity_id) != 0 ||
        keep_value(&cfg->jurisdiction, n->boot->jurisdiction) != 0)
        return -1;
    return 0;
}

static void reload(node *n)
{
    char error[512] = "out of memory";
    char *clean_error;
    config *cfg = NULL;
    json_t *start_only = json_array();

    if (config_load(n->boot->path, &cfg, error, sizeof(error)) == 0) {
        config_compare_start_only(n->boot, cfg, collect_start_only_key, start_only);
        if (keep_server_identity(n, cfg) != 0)
            config_free(&cfg);
    }
    if (cfg == NULL || node_install_config(n, cfg, error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, "reload_failed", "kept the previous configuration: %s",
                    error);
        clean_error = log_utf8_clean(error); /* may quote a path of other bytes */
        route_audit_node_event(n, "admin_action",
                               json_pack("{s:s, s:s, s:s?}", "action", "reload_configuration",
                                         "outcome", "failed", "error", clean_error));
        free(clean_error);
        json_decref(start_only);
        return;
    }
    warn_start_only_keys(start_only);
    log_message(LOG_INFO, "reloaded", "trust store, relying parties and roles reloaded");
    route_audit_node_event(n, "admin_action",
                           json_pack("{s:s, s:s, s:o}", "action", "reload_configuration",
                                     "outcome", "applied", "restart_required", start_only));
}

/* Reloads the regulator keys and the policy bundles that the configuration in force
 * names, even when the configuration itself failed to reload. */
static void reload_policy(node *n)
{
    node_snapshot *snapshot = node_acquire(n);

    http_policy_reload(n, snapshot->cfg);
    node_release(&snapshot);
}

static void stop_node(node *n)
{
    free(n->metadata_xml);
    node_release(&n->boot_snapshot);
    node_release(&n->snapshot);
    route_audit_close(n);
    http_policy_stop(n);
    store_close(&n->store);
    X509_free(n->saml_cert);
    free(n->saml_cert_base64);
    p11_key_free(&n->saml_key);
    p11_token_close(&n->token);
    tls_context_free(&n->tls);
    metrics_free(&n->metrics);
    pthread_mutex_destroy(&n->snapshot_lock);
    if (database_lock_fd >= 0)
        close(database_lock_fd);
    database_lock_fd = -1;
}

/*
 * A thread that removes, every HELD_VALUES_PURGE_SECONDS, the claim values that
 * verifications held for consent requests that were refused or expired. The approval
 * routes refuse expired requests themselves, so this only bounds how long the values
 * stay on disk. It runs apart from the main thread, so a purge that waits for a locked
 * database cannot delay a signal.
 */
typedef struct housekeeper {
    node *node;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool started;
} housekeeper;

static void *housekeeping_main(void *arg)
{
    housekeeper *h = arg;
    struct timespec next;

    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        pthread_mutex_unlock(&h->lock);
        consent_purge_held_values(h->node->store, time(NULL));
        clock_gettime(CLOCK_MONOTONIC, &next);
        next.tv_sec += HELD_VALUES_PURGE_SECONDS;
        pthread_mutex_lock(&h->lock);
        while (!h->stop && pthread_cond_timedwait(&h->wake, &h->lock, &next) != ETIMEDOUT)
            ;
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

static void housekeeping_start(housekeeper *h, node *n)
{
    *h = (housekeeper){.node = n};
    pthread_mutex_init(&h->lock, NULL);
    monotonic_cond_init(&h->wake);
    h->started = pthread_create(&h->thread, NULL, housekeeping_main, h) == 0;
    if (!h->started)
        log_message(LOG_WARN, "housekeeping_failed",
                    "the purge thread did not start; held claim values are removed only "
                    "when a consent request is decided");
}

/* Stops the purge thread. A purge in progress is waited for, which a locked database
 * can hold for up to the busy timeout. */
static void housekeeping_stop(housekeeper *h)
{
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_signal(&h->wake);
    pthread_mutex_unlock(&h->lock);
    if (h->started)
        pthread_join(h->thread, NULL);
    pthread_cond_destroy(&h->wake);
    pthread_mutex_destroy(&h->lock);
}

/* Waits for signals on the main thread; workers inherit the blocked mask. */
static void serve(node *n, const sigset_t *signals)
{
    int signal_number = 0;

    for (;;) {
        if (sigwait(signals, &signal_number) != 0)
            continue;
        if (signal_number == SIGHUP) {
            reload(n);
            reload_policy(n);
            continue;
        }
        log_message(LOG_INFO, "stopping", "received %s; draining requests",
                    signal_number == SIGTERM ? "SIGTERM" : "SIGINT");
        return;
    }
}

static int parse_arguments(int argc, char **argv, arguments *args)
{
    static const struct option options[] = {
        {"config", required_argument, NULL, 'c'},
        {"check", no_argument, NULL, 'k'},
        {"accept-clock-behind", no_argument, NULL, 'a'},
        {"debug", no_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int option;

    while ((option = getopt_long(argc, argv, "c:", options, NULL)) != -1) {
        switch (option) {
        case 'c':
            args->config_path = optarg;
            break;
        case 'k':
            args->check = true;
            break;
        case 'a':
            args->accept_clock_behind = true;
            break;
        case 'd':
            log_set_level(LOG_DEBUG);
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (args->config_path == NULL || optind != argc) {
        usage(stderr);
        return -1;
    }
    if (args->check && args->accept_clock_behind) {
        fputs("idsvc: --accept-clock-behind applies to a start, and --check starts "
              "nothing; pass only one of them\n", stderr);
        return -1;
    }
    return 0;
}

/* Checks the configuration for --check, prints the verdict and frees it. Returns the
 * exit status. */
static int run_check(const arguments *args, config **cfg)
{
    char error[512];
    int rc = check_configuration(*cfg, error, sizeof(error)) == 0 ? 0 : 1;

    if (rc == 0)
        printf("%s: the configuration is valid\n", args->config_path);
    else
        log_message(LOG_ERROR, "check_failed", "%s", error);
    config_free(cfg);
    return rc;
}

/* Blocks the signals that serve() waits for. Called before any thread starts, so that
 * only sigwait receives them. */
static void block_signals(sigset_t *signals)
{
    sigemptyset(signals);
    sigaddset(signals, SIGTERM);
    sigaddset(signals, SIGINT);
    sigaddset(signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
    node n = {.snapshot_lock = PTHREAD_MUTEX_INITIALIZER};
    http_server *server = NULL;
    housekeeper keeper;
    arguments args = {0};
    config *cfg = NULL;
    sigset_t signals;
    char error[512];
    int status = 1;
    int rc;

    /* The database and its -wal and -shm files hold claim values and the pseudonym
     * secret, so every file the daemon makes is for its owner alone, whatever umask it
     * inherits. SQLite's unix VFS gives -wal and -shm the mode of the database file. */
    umask(077);
    if (parse_arguments(argc, argv, &args) != 0)
        return 2;
    if (config_load(args.config_path, &cfg, error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, args.check ? "check_failed" : "start_failed", "%s", error);
        return 1;
    }
    if (args.check)
        return run_check(&args, &cfg);

    block_signals(&signals);

    if (start_node(&n, cfg, &args) != 0)
        goto out;
    rc = install_first_config(&n, cfg);
    cfg = NULL; /* the node owns the configuration from here on */
    if (rc != 0)
        goto out;
    if (http_server_start(&n, &server, error, sizeof(error)) != 0) {
        log_message(LOG_ERROR, "start_failed", "%s", error);
        goto out;
    }

    log_field fields[] = {
        {"listen", n.boot->listen_address},
        {"entity_id", n.boot->entity_id},
        {"version", "0.1.0"},
    };
    log_event(LOG_INFO, "started", fields, sizeof(fields) / sizeof(fields[0]));
    housekeeping_start(&keeper, &n);
    serve(&n, &signals);
    http_server_stop(&server);
    housekeeping_stop(&keeper);
    status = 0;
out:
    config_free(&cfg);
    /* Closing the audit log signs its last checkpoint, so "stopped" comes after it. */
    stop_node(&n);
    if (status == 0)
        log_message(LOG_INFO, "stopped", "the node stopped cleanly");
    return status;
}

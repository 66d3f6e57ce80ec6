#define _GNU_SOURCE /* asprintf */
#include "server_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <sqlite3.h>

#define START_TIMEOUT_MS 20000

static int write_file(const char *path, const char *text, const char *mode)
{
    FILE *file = fopen(path, mode);

    if (file == NULL)
        return -1;
    fputs(text, file);
    return fclose(file);
}

int harness_run(const char *format, ...)
{
    char command[8192];
    va_list args;
    int status;

    va_start(args, format);
    vsnprintf(command, sizeof(command), format, args);
    va_end(args);
    status = test_run(command);
    if (status != 0)
        fprintf(stderr, "harness: command failed (%d): %s\n", status, command);
    return status == 0 ? 0 : -1;
}

static bool port_is_free(unsigned port)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool free_port;

    if (fd < 0)
        return false;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)port);
    free_port = bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
    close(fd);
    return free_port;
}

/* Parses IDSVC_TEST_PORTS, such as "23000-23999". Returns false when it is not set. */
static bool read_port_range(unsigned *first, unsigned *last)
{
    const char *range = getenv("IDSVC_TEST_PORTS");

    if (range == NULL || sscanf(range, "%u-%u", first, last) != 2)
        return false;
    return *first > 0 && *first <= *last && *last <= 65535;
}

/* A free port of the range, starting at one that depends on the process and the time,
 * so that parallel tests spread. Each call starts one further, so that two calls before
 * the first port is bound return two ports. */
static unsigned free_port_in_range(unsigned first, unsigned last)
{
    static unsigned calls;
    unsigned count = last - first + 1;
    unsigned start = (unsigned)getpid() * 7919u + (unsigned)time(NULL) + calls++;

    for (unsigned i = 0; i < count; i++) {
        unsigned port = first + (start + i) % count;

        if (port_is_free(port))
            return port;
    }
    return 0;
}

unsigned harness_free_port(void)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    socklen_t len = sizeof(address);
    unsigned first;
    unsigned last;
    int fd;
    unsigned port = 0;

    if (read_port_range(&first, &last))
        return free_port_in_range(first, last);

    fd = socket(AF_INET, SOCK_STREAM, 0);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&address, sizeof(address)) == 0 &&
        getsockname(fd, (struct sockaddr *)&address, &len) == 0)
        port = ntohs(address.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static int make_keys(harness *h)
{
    const char *dir = h->token.dir;

    setenv("GNUTLS_PIN", TEST_TOKEN_PIN, 1);
    if (harness_run(
            "p11tool --provider %s --login --generate-privkey=ecdsa --curve=secp256r1 "
            "--label idsvc-tls --id 01 'pkcs11:token=%s' --outfile %s/tls.pub "
            ">/dev/null 2>&1",
            h->token.module_path, TEST_TOKEN_LABEL, dir) != 0)
        return -1;
    return harness_run(
        "p11tool --provider %s --login --generate-privkey=rsa --bits 2048 "
        "--label idsvc-saml --id 02 'pkcs11:token=%s' --outfile %s/saml.pub "
        ">/dev/null 2>&1",
        h->token.module_path, TEST_TOKEN_LABEL, dir);
}

static int make_ca(const char *dir, const char *name)
{
    return harness_run(
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout %s/%s.key -out %s/%s.pem -days 2 -subj '/CN=idsvc test %s' "
        ">/dev/null 2>&1",
        dir, name, dir, name, name);
}

static int make_client(const char *dir, const char *name, const char *ca)
{
    if (harness_run("printf 'extendedKeyUsage=clientAuth\\nbasicConstraints=CA:FALSE\\n' "
                    "> %s/client.ext",
                    dir) != 0)
        return -1;
    return harness_run(
        "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-keyout %s/%s.key -subj '/CN=%s' -out %s/%s.csr >/dev/null 2>&1 && "
        "openssl x509 -req -in %s/%s.csr -CA %s/%s.pem -CAkey %s/%s.key "
        "-CAcreateserial -days 2 -extfile %s/client.ext -out %s/%s.pem "
        ">/dev/null 2>&1",
        dir, name, name, dir, name, dir, name, dir, ca, dir, ca, dir, dir, name);
}

static int make_tls_certificate(harness *h)
{
    const char *dir = h->token.dir;
    char path[PATH_MAX + 16];

    snprintf(path, sizeof(path), "%s/tls.tmpl", dir);
    if (write_file(path,
                   "cn = \"localhost\"\ndns_name = \"localhost\"\nip_address = "
                   "\"127.0.0.1\"\nexpiration_days = 2\ntls_www_server\nsigning_key\n",
                   "w") != 0)
        return -1;
    return harness_run("certtool --generate-certificate --load-pubkey %s/tls.pub "
                       "--load-ca-certificate %s/ca.pem --load-ca-privkey %s/ca.key "
                       "--template %s/tls.tmpl --outfile %s/tls.pem >/dev/null 2>&1",
                       dir, dir, dir, dir, dir);
}

/* Reads the SHA-256 fingerprint of a certificate as hex with colons. */
static int fingerprint(const char *dir, const char *name, char *out, size_t size)
{
    char command[PATH_MAX + 128];
    FILE *pipe;
    char line[256] = "";
    char *equals;

    snprintf(command, sizeof(command),
             "openssl x509 -in %s/%s.pem -noout -fingerprint -sha256", dir, name);
    pipe = popen(command, "r");
    if (pipe == NULL)
        return -1;
    if (fgets(line, sizeof(line), pipe) == NULL)
        line[0] = '\0';
    pclose(pipe);
    equals = strchr(line, '=');
    if (equals == NULL)
        return -1;
    snprintf(out, size, "%s", equals + 1);
    out[strcspn(out, "\n")] = '\0';
    return 0;
}

static int write_config(harness *h)
{
    const char *dir = h->token.dir;
    char regulator[128];
    char text[3 * PATH_MAX + 4096];

    if (fingerprint(dir, CLIENT_REGULATOR, regulator, sizeof(regulator)) != 0)
        return -1;
    snprintf(text, sizeof(text),
             "; written by the server test harness\n"
             "[server]\nlisten = 127.0.0.1\nport = %u\nentity_id = " NODE_ENTITY_ID "\n"
             "jurisdiction = SG\n\n"
             "[hsm]\nmodule = %s\ntoken_label = " TEST_TOKEN_LABEL "\npin_file = %s\n"
             "tls_key = pkcs11:token=" TEST_TOKEN_LABEL ";object=idsvc-tls;type=private\n"
             "saml_key = pkcs11:token=" TEST_TOKEN_LABEL ";object=idsvc-saml;type=private\n"
             "retry_after = 7\n\n"
             "[tls]\ncertificate = tls.pem\nclient_ca = ca.pem\n\n"
             "[database]\npath = idsvc.db\n\n"
             "[limits]\nmax_body_bytes = 65536\nmax_json_depth = 8\n"
             "max_string_bytes = 32768\nthreads = 2\n\n"
             "[rp " CLIENT_RP "]\nentity_id = " RP_ENTITY_ID "\njurisdiction = SG\n"
             "allowed_claims = given_name family_name nationality\n"
             "subject_cn = " CLIENT_RP "\n\n"
             "[client " CLIENT_ISSUER "]\nrole = issuer\nsubject_cn = " CLIENT_ISSUER "\n\n"
             "[client " CLIENT_ISSUER_TWO "]\nrole = issuer\nsubject_cn = "
             CLIENT_ISSUER_TWO "\n\n"
             "[client " CLIENT_REGULATOR "]\nrole = regulator\nfingerprint = %s\n",
             h->port, h->token.module_path, h->token.pin_path, regulator);
    return write_file(h->config_path, text, "w");
}

int harness_setup(harness *h)
{
    const char *dir;

    memset(h, 0, sizeof(*h));
    h->pid = -1;
    if (test_token_create(&h->token) != 0)
        return -1;
    dir = h->token.dir;
    snprintf(h->config_path, sizeof(h->config_path), "%s/idsvc.conf", dir);
    snprintf(h->db_path, sizeof(h->db_path), "%s/idsvc.db", dir);
    snprintf(h->log_path, sizeof(h->log_path), "%s/idsvc.log", dir);
    snprintf(h->tokens_dir, sizeof(h->tokens_dir), "%s/tokens", dir);
    h->port = harness_free_port();
    if (h->port == 0)
        return -1;

    if (make_keys(h) != 0 || make_ca(dir, "ca") != 0 || make_ca(dir, "rogue-ca") != 0 ||
        make_tls_certificate(h) != 0)
        return -1;
    if (make_client(dir, CLIENT_ISSUER, "ca") != 0 ||
        make_client(dir, CLIENT_ISSUER_TWO, "ca") != 0 ||
        make_client(dir, CLIENT_RP, "ca") != 0 ||
        make_client(dir, CLIENT_REGULATOR, "ca") != 0 ||
        make_client(dir, CLIENT_STRANGER, "ca") != 0 ||
        make_client(dir, CLIENT_ROGUE, "rogue-ca") != 0)
        return -1;
    return write_config(h);
}

int harness_append_config(harness *h, const char *text)
{
    return write_file(h->config_path, text, "a");
}

int harness_make_saml_certificate(const harness *h)
{
    const char *admin = getenv("IDSVC_ADMIN");
    char command[4 * PATH_MAX];

    if (admin == NULL) {
        fprintf(stderr, "IDSVC_ADMIN is not set\n");
        return -1;
    }
    snprintf(command, sizeof(command),
             "'%s' keys certificate --key 'pkcs11:token=" TEST_TOKEN_LABEL
             ";object=idsvc-saml;type=private' --subject '/CN=idsvc test node SAML' "
             "--days 2 --out '%s/saml-cert.pem' --module '%s' --token " TEST_TOKEN_LABEL
             " --pin-file '%s' >/dev/null",
             admin, h->token.dir, h->token.module_path, h->token.pin_path);
    return test_run(command);
}

static bool port_open(unsigned port)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool open;

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)port);
    open = fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof(address)) == 0;
    if (fd >= 0)
        close(fd);
    return open;
}

int harness_start(harness *h)
{
    const char *daemon = getenv("IDSVC_DAEMON");
    pid_t parent;
    int waited = 0;
    int status;

    if (daemon == NULL) {
        fprintf(stderr, "harness: IDSVC_DAEMON is not set\n");
        return -1;
    }
    parent = getpid();
    h->pid = fork();
    if (h->pid < 0)
        return -1;
    if (h->pid == 0) {
        int fd = open(h->log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);

        /* A test that dies without its teardown, such as on a sanitizer abort, must not
         * leave its daemon running: the daemon gets SIGTERM when the test exits. */
        if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)
            _exit(127);

        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
        }
        if (h->extra_argument != NULL)
            execl(daemon, "idsvc", "--config", h->config_path, h->extra_argument,
                  (char *)NULL);
        else
            execl(daemon, "idsvc", "--config", h->config_path, (char *)NULL);
        _exit(127);
    }

    while (waited < START_TIMEOUT_MS) {
        if (waitpid(h->pid, &status, WNOHANG) == h->pid) {
            fprintf(stderr, "harness: the daemon exited during start\n");
            harness_dump_log(h);
            h->pid = -1;
            return -1;
        }
        if (port_open(h->port))
            return 0;
        usleep(20 * 1000);
        waited += 20;
    }
    harness_dump_log(h);
    return -1;
}

/* Sets the daemon's environment for libfaketime, starts it, and removes the variables
 * again so that curl and the other helpers see the real clock. */
int harness_start_faketime(harness *h, const char *library, const char *offset_file)
{
    const char *asan = getenv("ASAN_OPTIONS");
    char *saved_asan = asan != NULL ? strdup(asan) : NULL;
    char options[1024];
    int rc;

    snprintf(options, sizeof(options), "%s:verify_asan_link_order=0",
             saved_asan != NULL ? saved_asan : "");
    setenv("ASAN_OPTIONS", options, 1);
    setenv("LD_PRELOAD", library, 1);
    setenv("FAKETIME_TIMESTAMP_FILE", offset_file, 1);
    setenv("FAKETIME_NO_CACHE", "1", 1);
    setenv("DONT_FAKE_MONOTONIC", "1", 1);
    rc = harness_start(h);
    unsetenv("LD_PRELOAD");
    unsetenv("FAKETIME_TIMESTAMP_FILE");
    unsetenv("FAKETIME_NO_CACHE");
    unsetenv("DONT_FAKE_MONOTONIC");
    if (saved_asan != NULL)
        setenv("ASAN_OPTIONS", saved_asan, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved_asan);
    return rc;
}

int harness_stop(harness *h, int sig)
{
    int status = 0;

    if (h->pid <= 0)
        return -1;
    kill(h->pid, sig);
    if (waitpid(h->pid, &status, 0) != h->pid)
        return -1;
    h->pid = -1;
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

void harness_teardown(harness *h)
{
    if (h->pid > 0)
        harness_stop(h, SIGKILL);
    test_token_destroy(&h->token);
}

int harness_sql(const harness *h, const char *sql)
{
    sqlite3 *db = NULL;
    char *message = NULL;
    int rc = -1;

    if (sqlite3_open(h->db_path, &db) == SQLITE_OK &&
        sqlite3_exec(db, sql, NULL, NULL, &message) == SQLITE_OK)
        rc = 0;
    else
        fprintf(stderr, "%s: %s\n", sql, message != NULL ? message : sqlite3_errmsg(db));
    sqlite3_free(message);
    sqlite3_close(db);
    return rc;
}

int harness_begin(harness *h)
{
    if (harness_setup(h) != 0 || harness_start(h) != 0) {
        harness_teardown(h);
        return -1;
    }
    return 0;
}

int harness_finish(harness *h)
{
    int status = harness_stop(h, SIGTERM);

    if (status != 0) {
        fprintf(stderr, "the daemon exited with status %d after SIGTERM\n", status);
        harness_dump_log(h);
    }
    harness_teardown(h);
    return status == 0 ? 0 : -1;
}

char *harness_wait_for_log(const harness *h, const char *text)
{
    char *log = NULL;

    for (int i = 0; i < 100; i++) {
        free(log);
        log = test_read_file(h->log_path, NULL);
        if (log != NULL && strstr(log, text) != NULL)
            break;
        usleep(20 * 1000);
    }
    return log;
}

void harness_dump_log(const harness *h)
{
    char *text = test_read_file(h->log_path, NULL);

    fprintf(stderr, "---- idsvc log ----\n%s---- end of log ----\n", text ? text : "");
    free(text);
}

char *harness_issue(harness *h, const char *body)
{
    const char *path = "/v1/credentials";
    const char *text = NULL;
    char *assertion = NULL;
    http_result result;

    if (harness_curl(h, CLIENT_ISSUER, "POST", path, NULL, body, &result) == 0 &&
        result.status == 201)
        text = json_string_value(json_object_get(result.json, "assertion"));
    if (text != NULL)
        assertion = strdup(text);
    if (assertion == NULL)
        fprintf(stderr, "issuing failed: %ld %s\n", result.status,
                result.body != NULL ? result.body : "");
    http_result_clear(&result);
    return assertion;
}

int harness_count_log(const harness *h, const char *text)
{
    char *log = test_read_file(h->log_path, NULL);
    int count = 0;

    for (const char *at = log; at != NULL && (at = strstr(at, text)) != NULL; at++)
        count++;
    free(log);
    return count;
}

int harness_reload_and_wait(const harness *h, const char *event)
{
    int before = harness_count_log(h, event);

    if (kill(h->pid, SIGHUP) != 0)
        return -1;
    for (int i = 0; i < 100 && harness_count_log(h, event) == before; i++)
        usleep(100 * 1000);
    if (harness_count_log(h, event) != before + 1) {
        harness_dump_log(h);
        return -1;
    }
    return 0;
}

void http_result_clear(http_result *result)
{
    free(result->headers);
    free(result->body);
    json_decref(result->json);
    memset(result, 0, sizeof(*result));
}

const char *http_result_code(const http_result *result)
{
    const char *code = json_string_value(json_object_get(result->json, "code"));

    return code != NULL ? code : "";
}

const char *http_result_field(const http_result *result)
{
    const char *field = json_string_value(json_object_get(result->json, "field"));

    return field != NULL ? field : "";
}

static void parse_body(http_result *out)
{
    if (out->body != NULL)
        out->json = json_loads(out->body, 0, NULL);
}

int harness_curl(harness *h, const char *client, const char *method, const char *path,
                 const char *content_type, const char *body, http_result *out)
{
    char header[256];
    const char *headers[] = {header, NULL};

    snprintf(header, sizeof(header), "Content-Type: %s",
             content_type != NULL ? content_type : "application/json");
    return harness_curl_headers(h, client, method, path, body != NULL ? headers : NULL,
                                body, out);
}

int harness_curl_headers(harness *h, const char *client, const char *method,
                         const char *path, const char *const *headers, const char *body,
                         http_result *out)
{
    const char *dir = h->token.dir;
    char body_path[PATH_MAX + 32];
    char out_path[PATH_MAX + 32];
    char header_path[PATH_MAX + 32];
    char cert[2 * PATH_MAX + 64] = "";
    char data[PATH_MAX + 128] = "";
    char extra[2048] = "";
    char command[12 * PATH_MAX];
    char code[16] = "";
    FILE *pipe;

    memset(out, 0, sizeof(*out));
    snprintf(body_path, sizeof(body_path), "%s/request.body", dir);
    snprintf(out_path, sizeof(out_path), "%s/response.body", dir);
    snprintf(header_path, sizeof(header_path), "%s/response.headers", dir);
    unlink(out_path);
    unlink(header_path);

    if (client != NULL)
        snprintf(cert, sizeof(cert), "--cert %s/%s.pem --key %s/%s.key", dir, client, dir,
                 client);
    if (body != NULL) {
        if (write_file(body_path, body, "w") != 0)
            return -1;
        snprintf(data, sizeof(data), "--data-binary @%s", body_path);
    }
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
        size_t used = strlen(extra);

        snprintf(extra + used, sizeof(extra) - used, " -H '%s'", headers[i]);
    }
    snprintf(command, sizeof(command),
             "curl -s --max-time 30 --cacert %s/ca.pem %s %s%s -X %s -o %s -D %s "
             "-w '%%{http_code}' 'https://127.0.0.1:%u%s'",
             dir, cert, data, extra, method, out_path, header_path, h->port, path);

    pipe = popen(command, "r");
    if (pipe == NULL)
        return -1;
    if (fgets(code, sizeof(code), pipe) == NULL)
        code[0] = '\0';
    out->transport_exit = WEXITSTATUS(pclose(pipe));
    out->status = strtol(code, NULL, 10);
    out->body = test_read_file(out_path, NULL);
    out->headers = test_read_file(header_path, NULL);
    parse_body(out);
    return 0;
}

struct raw_client {
    int fd;
    gnutls_session_t session;
    gnutls_certificate_credentials_t credentials;
};

static int tcp_connect(unsigned port)
{
    struct sockaddr_in address = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons((uint16_t)port);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

int raw_connect(harness *h, const char *priority, const char *client, raw_client **out)
{
    return raw_connect_port(h, h->port, priority, client, out);
}

int raw_read_end(raw_client *c)
{
    char buffer[256];
    ssize_t rc;

    do {
        rc = gnutls_record_recv(c->session, buffer, sizeof(buffer));
    } while (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED);
    return rc > 0 ? 0 : 1;
}

int raw_connect_port(harness *h, unsigned port, const char *priority, const char *client,
                     raw_client **out)
{
    raw_client *c = calloc(1, sizeof(*c));
    char ca[PATH_MAX + 16];
    char cert[PATH_MAX + 32];
    char key[PATH_MAX + 32];
    int rc;

    *out = NULL;
    if (c == NULL)
        return 1;
    c->fd = tcp_connect(port);
    if (c->fd < 0) {
        free(c);
        return 1;
    }
    snprintf(ca, sizeof(ca), "%s/ca.pem", h->token.dir);
    gnutls_certificate_allocate_credentials(&c->credentials);
    gnutls_certificate_set_x509_trust_file(c->credentials, ca, GNUTLS_X509_FMT_PEM);
    if (client != NULL) {
        snprintf(cert, sizeof(cert), "%s/%s.pem", h->token.dir, client);
        snprintf(key, sizeof(key), "%s/%s.key", h->token.dir, client);
        gnutls_certificate_set_x509_key_file(c->credentials, cert, key,
                                             GNUTLS_X509_FMT_PEM);
    }
    gnutls_init(&c->session, GNUTLS_CLIENT);
    gnutls_priority_set_direct(c->session, priority, NULL);
    gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->credentials);
    gnutls_session_set_verify_cert(c->session, "localhost", 0);
    gnutls_transport_set_int(c->session, c->fd);
    gnutls_handshake_set_timeout(c->session, 10000);

    do {
        rc = gnutls_handshake(c->session);
    } while (rc < 0 && gnutls_error_is_fatal(rc) == 0);
    *out = c;
    return rc < 0 ? rc : 0;
}

static int send_all(raw_client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t sent = gnutls_record_send(c->session, data, len);

        if (sent == GNUTLS_E_AGAIN || sent == GNUTLS_E_INTERRUPTED)
            continue;
        if (sent < 0)
            return -1;
        data += sent;
        len -= (size_t)sent;
    }
    return 0;
}

/* Waits up to timeout_ms for the connection to be readable. Returns true when it is. */
static bool wait_readable(raw_client *c, int timeout_ms)
{
    struct pollfd readable = {.fd = c->fd, .events = POLLIN};

    if (gnutls_record_check_pending(c->session) > 0)
        return true;
    return poll(&readable, 1, timeout_ms) > 0;
}

int raw_send(raw_client *c, const char *data, size_t len)
{
    return send_all(c, data, len);
}

int raw_wait_end(raw_client *c, int timeout_ms)
{
    if (!wait_readable(c, timeout_ms))
        return -2;
    return raw_read_end(c);
}

/* Reads until the headers and Content-Length bytes of body have arrived. The reply to
 * HEAD (head_only) has no body, whatever its Content-Length header. timeout_ms bounds
 * each wait for data, and -1 waits for good. Returns 0, -1 when the connection ended
 * first, or -2 when nothing arrived for timeout_ms. */
static int read_response(raw_client *c, bool head_only, int timeout_ms, http_result *out)
{
    char *buffer = NULL;
    size_t len = 0;
    char *end = NULL;
    size_t want = 0;

    for (;;) {
        char chunk[4096];
        ssize_t got;
        char *grown;

        if (!wait_readable(c, timeout_ms)) {
            free(buffer);
            return -2;
        }
        got = gnutls_record_recv(c->session, chunk, sizeof(chunk));
        if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
            continue;
        if (got <= 0)
            break;
        grown = realloc(buffer, len + (size_t)got + 1);
        if (grown == NULL)
            break;
        buffer = grown;
        memcpy(buffer + len, chunk, (size_t)got);
        len += (size_t)got;
        buffer[len] = '\0';
        end = strstr(buffer, "\r\n\r\n");
        if (end != NULL) {
            const char *length = strstr(buffer, "\r\nContent-Length:");

            want = (size_t)(end + 4 - buffer) +
                   (length != NULL && !head_only ? strtoul(length + 17, NULL, 10) : 0);
            if (len >= want)
                break;
        }
    }
    if (buffer == NULL || end == NULL) {
        free(buffer);
        return -1;
    }
    out->status = strtol(buffer + 9, NULL, 10);
    out->body = strdup(end + 4);
    *end = '\0';
    out->headers = buffer;
    parse_body(out);
    return 0;
}

int raw_request(raw_client *c, const char *method, const char *path, const char *body,
                http_result *out)
{
    char head[1024];

    memset(out, 0, sizeof(*out));
    snprintf(head, sizeof(head),
             "%s %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
             "Content-Length: %zu\r\n\r\n",
             method, path, body != NULL ? strlen(body) : 0);
    if (send_all(c, head, strlen(head)) != 0 ||
        (body != NULL && send_all(c, body, strlen(body)) != 0))
        return -1;
    return read_response(c, strcmp(method, "HEAD") == 0, -1, out);
}

int raw_exchange(raw_client *c, const char *text, http_result *out)
{
    memset(out, 0, sizeof(*out));
    if (send_all(c, text, strlen(text)) != 0)
        return -1;
    return read_response(c, false, -1, out);
}

int raw_exchange_timed(raw_client *c, const char *text, size_t len, bool head_only,
                       int timeout_ms, http_result *out)
{
    memset(out, 0, sizeof(*out));
    /* The node may reply before the whole body arrived, as to a body over the limit,
     * and close the connection, so a failed send still reads. */
    (void)send_all(c, text, len);
    return read_response(c, head_only, timeout_ms, out);
}

char *raw_exchange_bytes(raw_client *c, const char *text, size_t len, int timeout_ms,
                         bool *closed)
{
    char *received = calloc(1, 1);
    size_t received_len = 0;

    *closed = false;
    if (received == NULL)
        return NULL;
    (void)send_all(c, text, len);
    while (wait_readable(c, timeout_ms)) {
        char chunk[4096];
        ssize_t got = gnutls_record_recv(c->session, chunk, sizeof(chunk));
        char *grown;

        if (got == GNUTLS_E_AGAIN || got == GNUTLS_E_INTERRUPTED)
            continue;
        if (got <= 0) {
            *closed = true;
            break;
        }
        grown = realloc(received, received_len + (size_t)got + 1);
        if (grown == NULL) {
            free(received);
            return NULL;
        }
        received = grown;
        memcpy(received + received_len, chunk, (size_t)got);
        received_len += (size_t)got;
        received[received_len] = '\0';
    }
    return received;
}

const char *raw_protocol(const raw_client *c)
{
    return gnutls_protocol_get_name(gnutls_protocol_get_version(c->session));
}

void raw_close(raw_client **c)
{
    if (c == NULL || *c == NULL)
        return;
    gnutls_bye((*c)->session, GNUTLS_SHUT_WR);
    gnutls_deinit((*c)->session);
    gnutls_certificate_free_credentials((*c)->credentials);
    close((*c)->fd);
    free(*c);
    *c = NULL;
}

/* The assertion of harness_assertion_template. The arguments are the ID, the issue
 * instant, the issuer, the ID again (the Reference), the NameID start tag, NotOnOrAfter
 * of the bearer confirmation, NotBefore and NotOnOrAfter of the conditions, the
 * audience, extra condition elements, and the AuthnStatement. */
static const char ASSERTION_TEMPLATE[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<saml:Assertion xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"%s\" "
    "IssueInstant=\"%s\" Version=\"2.0\">\n"
    "  <saml:Issuer>%s</saml:Issuer>\n"
    "  <ds:Signature xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\">\n"
    "    <ds:SignedInfo>\n"
    "      <ds:CanonicalizationMethod "
    "Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
    "      <ds:SignatureMethod "
    "Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\n"
    "      <ds:Reference URI=\"#%s\">\n"
    "        <ds:Transforms>\n"
    "          <ds:Transform "
    "Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\n"
    "          <ds:Transform Algorithm=\"http://www.w3.org/2001/10/xml-exc-c14n#\"/>\n"
    "        </ds:Transforms>\n"
    "        <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n"
    "        <ds:DigestValue/>\n"
    "      </ds:Reference>\n"
    "    </ds:SignedInfo>\n"
    "    <ds:SignatureValue/>\n"
    "  </ds:Signature>\n"
    "  <saml:Subject>\n"
    "    %sMY-000123</saml:NameID>\n"
    "    <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\n"
    "      <saml:SubjectConfirmationData NotOnOrAfter=\"%s\"/>\n"
    "    </saml:SubjectConfirmation>\n"
    "  </saml:Subject>\n"
    "  <saml:Conditions NotBefore=\"%s\" NotOnOrAfter=\"%s\">\n"
    "    <saml:AudienceRestriction><saml:Audience>%s</saml:Audience>"
    "</saml:AudienceRestriction>%s\n"
    "  </saml:Conditions>\n"
    "  %s\n"
    "  <saml:AttributeStatement>\n"
    "    <saml:Attribute FriendlyName=\"givenName\" Name=\"urn:oid:2.5.4.42\" "
    "NameFormat=\"urn:oasis:names:tc:SAML:2.0:attrname-format:uri\">\n"
    "      <saml:AttributeValue xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" "
    "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "
    "xsi:type=\"xs:string\">Siti</saml:AttributeValue>\n"
    "    </saml:Attribute>\n"
    "  </saml:AttributeStatement>\n"
    "</saml:Assertion>\n";

void harness_format_time(time_t t, char out[32])
{
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *harness_assertion_template(const harness_assertion *spec)
{
    char now[32];
    char before[32];
    char after[32];
    char *document = NULL;

    harness_format_time(spec->issued, now);
    harness_format_time(spec->issued - 60, before);
    harness_format_time(spec->issued + spec->lifetime, after);
    if (asprintf(&document, ASSERTION_TEMPLATE, spec->id, now, spec->issuer, spec->id,
                 spec->name_id_tag, after, before, after, spec->audience,
                 spec->conditions, spec->authn_statement) < 0)
        return NULL;
    return document;
}

char *harness_xmlsec_sign(const harness *h, const char *key_file, const char *document)
{
    char path[PATH_MAX + 32];
    char command[4 * PATH_MAX];

    snprintf(path, sizeof(path), "%s/template.xml", h->token.dir);
    if (write_file(path, document, "w") != 0)
        return NULL;
    snprintf(
        command, sizeof(command),
        "xmlsec1 --sign --id-attr:ID urn:oasis:names:tc:SAML:2.0:assertion:Assertion "
        "--privkey-pem '%s/%s' --output '%s/signed.xml' '%s' >/dev/null 2>&1",
        h->token.dir, key_file, h->token.dir, path);
    if (test_run(command) != 0)
        return NULL;
    snprintf(path, sizeof(path), "%s/signed.xml", h->token.dir);
    return test_read_file(path, NULL);
}

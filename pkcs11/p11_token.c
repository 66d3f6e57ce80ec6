/* Opening a token: the module, the slot chosen by label or serial, the PIN, the login. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "p11_internal.h"

void p11_trim_field(char *out, const CK_UTF8CHAR *field, size_t size)
{
    size_t len = size;

    while (len > 0 && (field[len - 1] == ' ' || field[len - 1] == '\0'))
        len--;
    memcpy(out, field, len);
    out[len] = '\0';
}

int p11_check_field(const char *value, size_t field_size, const char *what, p11_error *err)
{
    size_t len = strlen(value);

    if (len == 0 || len > field_size)
        return p11_fail(err, CKR_ARGUMENTS_BAD, "a token %s has 1 to %zu bytes, not %zu",
                        what, field_size, len);
    /* PKCS#11 pads the field with spaces, so a trailing space cannot be stored or
     * distinguished from the padding. */
    if (value[len - 1] == ' ')
        return p11_fail(err, CKR_ARGUMENTS_BAD,
                        "the token %s '%s' ends with a space, which PKCS#11 padding "
                        "cannot keep; remove the trailing spaces",
                        what, value);
    return 0;
}

static void describe_wanted(const p11_token *token, char *out, size_t size)
{
    if (token->want_label != NULL && token->want_serial != NULL)
        snprintf(out, size, "label '%s' and serial '%s'", token->want_label,
                 token->want_serial);
    else if (token->want_label != NULL)
        snprintf(out, size, "label '%s'", token->want_label);
    else if (token->want_serial != NULL)
        snprintf(out, size, "serial '%s'", token->want_serial);
    else
        snprintf(out, size, "any label");
}

int p11_token_find_slot(p11_token *token, p11_error *err)
{
    CK_SLOT_ID *slots = NULL;
    CK_ULONG count = 0;
    CK_ULONG matches = 0;
    CK_TOKEN_INFO info;
    char wanted[128];
    char label[33];
    char serial[17];
    CK_RV rv;
    int ret = -1;

    describe_wanted(token, wanted, sizeof(wanted));
    rv = token->f->C_GetSlotList(CK_TRUE, NULL, &count);
    if (rv == CKR_OK && count > 0) {
        slots = calloc(count, sizeof(*slots));
        if (slots == NULL)
            return p11_fail(err, CKR_HOST_MEMORY, "out of memory listing slots");
        rv = token->f->C_GetSlotList(CK_TRUE, slots, &count);
    }
    if (rv != CKR_OK) {
        p11_fail_rv(err, rv, "C_GetSlotList", "cannot list the slots of '%s'",
                    token->module->path);
        goto out;
    }

    for (CK_ULONG i = 0; i < count; i++) {
        rv = token->f->C_GetTokenInfo(slots[i], &info);
        if (rv != CKR_OK || !(info.flags & CKF_TOKEN_INITIALIZED))
            continue;
        p11_trim_field(label, info.label, sizeof(info.label));
        p11_trim_field(serial, info.serialNumber, sizeof(info.serialNumber));
        if (token->want_label != NULL && strcmp(label, token->want_label) != 0)
            continue;
        if (token->want_serial != NULL && strcmp(serial, token->want_serial) != 0)
            continue;
        if (++matches == 1) {
            token->slot = slots[i];
            token->info = info;
            memcpy(token->label, label, sizeof(label));
            memcpy(token->serial, serial, sizeof(serial));
        }
    }

    if (matches == 0) {
        char hint[160];

        p11_softhsm_hint(token->module->path, hint, sizeof(hint));
        p11_fail(err, CKR_TOKEN_NOT_PRESENT,
                 "no initialised token with %s in PKCS#11 module '%s'.%s", wanted,
                 token->module->path, hint);
        goto out;
    }
    if (matches > 1) {
        p11_fail(err, CKR_OK,
                 "%lu tokens with %s in PKCS#11 module '%s'; choose one by %s",
                 (unsigned long)matches, wanted, token->module->path,
                 token->want_label != NULL ? "serial" : "label or serial");
        goto out;
    }
    ret = 0;
out:
    free(slots);
    return ret;
}

static int copy_option(const char *value, char **out, p11_error *err)
{
    *out = NULL;
    if (value == NULL || value[0] == '\0')
        return 0;
    *out = strdup(value);
    return *out == NULL ? p11_fail(err, CKR_HOST_MEMORY, "out of memory") : 0;
}

static int read_pin(const p11_config *config, p11_token *token, p11_error *err)
{
    char pin[P11_PIN_MAX + 1];
    int ret;

    if (config->pin_file != NULL && config->pin_env != NULL)
        return p11_fail(err, CKR_OK,
                        "give the PIN by a file or by an environment variable, "
                        "not both");
    if (config->pin_file != NULL)
        ret = p11_pin_read_file(config->pin_file, pin, sizeof(pin), err);
    else if (config->pin_env != NULL)
        ret = p11_pin_read_env(config->pin_env, pin, sizeof(pin), err);
    else
        return 0; /* no login: only public objects are visible */
    if (ret != 0)
        return -1;

    /* Kept while the token is open, because a lost session needs a new login. */
    token->pin_len = strlen(pin);
    token->pin = malloc(token->pin_len + 1);
    if (token->pin != NULL)
        memcpy(token->pin, pin, token->pin_len + 1);
    OPENSSL_cleanse(pin, sizeof(pin));
    return token->pin == NULL ? p11_fail(err, CKR_HOST_MEMORY, "out of memory") : 0;
}

static void session_destructor(void *value);

int p11_token_open(const p11_config *config, p11_token **out, p11_error *err)
{
    p11_token *token;
    bool have_key = false;

    p11_error_clear(err);
    *out = NULL;
    token = calloc(1, sizeof(*token));
    if (token == NULL)
        return p11_fail(err, CKR_HOST_MEMORY, "out of memory");
    token->max_reconnects =
        config->max_reconnects == 0 ? P11_DEFAULT_MAX_RECONNECTS : config->max_reconnects;
    atomic_init(&token->epoch, 1);
    atomic_init(&token->handle_epoch, 1);
    atomic_init(&token->pid, (int)getpid());

    if ((config->token_label != NULL && config->token_label[0] != '\0' &&
         p11_check_field(config->token_label, sizeof(token->info.label), "label", err) !=
             0) ||
        (config->token_serial != NULL && config->token_serial[0] != '\0' &&
         p11_check_field(config->token_serial, sizeof(token->info.serialNumber), "serial",
                         err) != 0))
        goto fail;
    if (copy_option(config->token_label, &token->want_label, err) != 0 ||
        copy_option(config->token_serial, &token->want_serial, err) != 0 ||
        read_pin(config, token, err) != 0)
        goto fail;

    if (p11_module_acquire(config->module_path, &token->module, err) != 0)
        goto fail;
    token->f = token->module->f;

    p11_lock();
    if (p11_token_find_slot(token, err) != 0) {
        p11_unlock();
        goto fail;
    }
    p11_unlock();

    if (pthread_key_create(&token->session_key, session_destructor) != 0) {
        p11_fail(err, CKR_HOST_MEMORY, "cannot create a thread key");
        goto fail;
    }
    have_key = true;

    if (p11_session_first(token, err) != 0)
        goto fail;
    *out = token;
    return 0;

fail:
    if (have_key) {
        p11_lock();
        p11_session_close_all(token);
        pthread_key_delete(token->session_key);
        p11_unlock();
    }
    p11_module_release(token->module);
    if (token->pin != NULL)
        OPENSSL_cleanse(token->pin, token->pin_len);
    free(token->pin);
    free(token->want_label);
    free(token->want_serial);
    free(token);
    return -1;
}

void p11_token_close(p11_token **tokenp)
{
    p11_token *token;

    if (tokenp == NULL || *tokenp == NULL)
        return;
    token = *tokenp;
    *tokenp = NULL;

    /* Deleting the key first means no thread's exit touches the sessions any more. */
    p11_lock();
    pthread_key_delete(token->session_key);
    p11_session_close_all(token);
    p11_unlock();
    p11_module_release(token->module);

    if (token->pin != NULL)
        OPENSSL_cleanse(token->pin, token->pin_len);
    free(token->pin);
    free(token->want_label);
    free(token->want_serial);
    free(token);
}

static void session_destructor(void *value)
{
    p11_thread_session *ts = value;
    p11_token *token = ts->token;

    /* A thread ends: its session goes back to the module. */
    p11_lock();
    if (ts->epoch != 0 && atomic_load(&token->pid) == (int)getpid() &&
        ts->epoch == atomic_load(&token->epoch))
        token->f->C_CloseSession(ts->handle);
    if (ts->prev != NULL)
        ts->prev->next = ts->next;
    else
        token->sessions = ts->next;
    if (ts->next != NULL)
        ts->next->prev = ts->prev;
    p11_unlock();
    free(ts);
}

const char *p11_token_get_label(const p11_token *token)
{
    return token->label;
}

const char *p11_token_get_serial(const p11_token *token)
{
    return token->serial;
}

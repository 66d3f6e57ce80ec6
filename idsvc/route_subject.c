/*
 * Signing in to the subject's own page. A subject signs in with a WebAuthn assertion
 * of one of their enrolled authenticators (user verification required; discoverable
 * credentials, so the page asks for no identifier), which starts a short-lived session
 * cookie. Redeeming an enrollment code starts one too.
 *
 * POST /account/signin/options   assertion options with an empty allowCredentials
 * POST /account/signin           {"response": AuthenticationResponseJSON}
 * POST /account/signout          {}
 */
#include <stdlib.h>

#include "log.h"
#include "problem.h"
#include "web.h"


void route_subject_signin_options(http_request *request, http_reply *reply)
{
    const config_web *web = &request->snapshot->cfg->web;
    json_t *body = web_begin_call(request, web_members_none, reply);
    web_challenge challenge;
    char *text = NULL;

    if (body == NULL ||
        web_challenge_issue(request, WEB_CEREMONY_SIGN_IN, 0, NULL, NULL, &challenge,
                            reply) != 0)
        goto out;
    text = web_base64url(challenge.bytes, WEB_CHALLENGE_LEN);
    if (text == NULL) {
        problem_internal(reply);
        goto out;
    }
    http_reply_json(reply, 200,
                    json_pack("{s:s, s:s, s:I, s:s, s:[]}", "challenge", text, "rpId",
                              web->rp_id, "timeout",
                              (json_int_t)web->challenge_seconds * 1000, "userVerification",
                              "required", "allowCredentials"));
out:
    free(text);
    json_decref(body);
}

void route_subject_signin(http_request *request, http_reply *reply)
{
    json_t *body = web_begin_call(request, web_members_response, reply);
    char *response = NULL;
    web_challenge challenge;
    web_authenticator authenticator = {0};

    if (body == NULL)
        goto out;
    response = web_response_text(body, reply);
    if (response == NULL ||
        !web_challenge_take(request, response, WEB_CEREMONY_SIGN_IN, &challenge, reply) ||
        !web_verify_assertion(request, &challenge, response, 0, &authenticator, reply))
        goto out;

    log_message(LOG_INFO, "subject_signed_in", "authenticator %s, request %s",
                authenticator.id, request->request_id);
    http_reply_json(reply, 200, json_pack("{s:b}", "signed_in", 1));
    /* The session descends from the credential that enrolled the key, so revoking that
     * credential ends it too, and so does removing the key. */
    web_session_start(request, reply, &authenticator);
out:
    web_authenticator_clear(&authenticator);
    free(response);
    json_decref(body);
}

void route_subject_signout(http_request *request, http_reply *reply)
{
    json_t *body = web_begin_call(request, web_members_none, reply);

    if (body == NULL)
        return;
    http_reply_json(reply, 200, json_pack("{s:b}", "signed_in", 0));
    web_session_end(request, reply);
    json_decref(body);
}

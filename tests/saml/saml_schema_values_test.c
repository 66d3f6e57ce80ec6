#define _GNU_SOURCE /* asprintf */
/*
 * The values that the verifier checks without using them. The IssueInstant of the
 * Assertion and of a Response and the AuthnInstant must not lie in the future, and the
 * SessionNotOnOrAfter must not have passed. The optional attributes of a Response and a
 * SubjectConfirmationData must be of their XML Schema types, and so must the xs:anyURI
 * values of the Assertion. A null AttributeValue must be empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "saml_test_util.h"

static saml_fixture fixture;
static char *genuine; /* signed in the HSM; IssueInstant and NotBefore are ST_NOW - 60 */

static int setup(void **state)
{
    (void)state;
    if (st_fixture_create(&fixture) != 0)
        return -1;
    genuine = st_build(&fixture, fixture.rsa, "alice@idsvc.test");
    return genuine != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(genuine);
    st_fixture_destroy(&fixture);
    return 0;
}

/* The template's IssueInstant and NotBefore, ST_NOW - 60. */
#define TEMPLATE_ISSUE_INSTANT "IssueInstant=\"2025-12-31T23:59:00Z\""

#define AUTHN_STATEMENT(attributes)                                                      \
    "</saml:Conditions><saml:AuthnStatement " attributes "><saml:AuthnContext>"          \
    "<saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"      \
    "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"

#define XSI "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" "

#define SUCCESS_STATUS                                                                   \
    "<samlp:Status><samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:"        \
    "Success\"/></samlp:Status>"

/* The xmlsec1 template changed by from -> to, signed with a file key that the issuer
 * trusts. */
static char *signed_variant(const char *from, const char *to)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *changed = st_replace(template, from, to);
    char *signed_xml = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);

    free(template);
    free(changed);
    return signed_xml;
}

/* assertion, without an XML declaration before it, inside an unsigned, successful
 * Response with these attributes besides Version. */
static char *wrap_in_response(const char *attributes, const char *assertion)
{
    char *xml = NULL;

    assertion = strstr(assertion, "<saml:Assertion");
    assert_non_null(assertion);
    assert_int_not_equal(
        asprintf(&xml,
                 "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:"
                 "protocol\" Version=\"2.0\" %s>" SUCCESS_STATUS "%s</samlp:Response>",
                 attributes, assertion),
        -1);
    return xml;
}

/* genuine inside an unsigned, successful Response with these attributes besides
 * Version. */
static char *in_response(const char *attributes)
{
    return wrap_in_response(attributes, genuine);
}

static time_t offset_clock(void *ctx)
{
    return ST_NOW + *(const long *)ctx;
}

/* Verifies xml at ST_NOW + offset with skew seconds of clock skew, and checks that the
 * outcome is expected and, when detail is not NULL, that its sentence is detail. */
static void expect_at(const char *xml, long offset, long skew, saml_status expected,
                      const char *detail)
{
    saml_verify_options options = st_options(&fixture);
    saml_assertion *a = NULL;
    char actual[512];
    saml_status status;

    options.clock = offset_clock;
    options.clock_ctx = &offset;
    options.clock_skew_seconds = skew;
    status = saml_verify(fixture.store, &options, xml, strlen(xml), &a, actual,
                         sizeof(actual));
    print_message("    %s: %s\n", saml_status_code(status), actual);
    saml_assertion_free(&a);
    if (status != expected)
        fail_msg("at %+ld with skew %ld: expected %s, got %s: %s", offset, skew,
                 saml_status_code(expected), saml_status_code(status), actual);
    if (detail != NULL)
        assert_string_equal(actual, detail);
}

/* The template's NotBefore, the same instant as its IssueInstant. */
#define TEMPLATE_NOT_BEFORE "NotBefore=\"2025-12-31T23:59:00Z\" "

/* The template changed by from -> to and without its NotBefore, so that only the
 * IssueInstant dates the Assertion, signed with a file key that the issuer trusts. */
static char *signed_without_not_before(const char *from, const char *to)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *changed = st_replace(template, from, to);
    char *without = st_replace(changed, TEMPLATE_NOT_BEFORE, "");
    char *signed_xml = st_xmlsec_sign(&fixture, without, fixture.file_rsa);

    free(template);
    free(changed);
    free(without);
    return signed_xml;
}

/* An Assertion without NotBefore issued after the verification time, beyond the skew,
 * is not valid yet. At the limit it passes, and so does a fraction of a second past it,
 * because an instant less than a second past the limit passes. */
static void future_issue_instant_rejected(void **state)
{
    char *at_now = signed_without_not_before(TEMPLATE_ISSUE_INSTANT,
                                             "IssueInstant=\"2026-01-01T00:00:00Z\"");
    char *later = signed_without_not_before(TEMPLATE_ISSUE_INSTANT,
                                            "IssueInstant=\"2026-01-01T00:01:00Z\"");
    char *fraction = signed_without_not_before(TEMPLATE_ISSUE_INSTANT,
                                               "IssueInstant=\"2026-01-01T00:00:00.900Z\"");

    (void)state;
    expect_at(at_now, 0, 0, SAML_OK, NULL);
    expect_at(
        at_now, -1, 0, SAML_ERR_NOT_YET_VALID,
        "the IssueInstant of the Assertion is in the future, 1 seconds from now, beyond "
        "the clock skew");
    expect_at(fraction, 0, 0, SAML_OK, NULL);
    expect_at(later, 0, 0, SAML_ERR_NOT_YET_VALID,
              "the IssueInstant of the Assertion is in the future, 60 seconds from now, "
              "beyond the clock skew");
    expect_at(later, 0, 60, SAML_OK, NULL);
    expect_at(later, -1, 60, SAML_ERR_NOT_YET_VALID, NULL);
    free(at_now);
    free(later);
    free(fraction);
}

/* The template with its IssueInstant 30 seconds after its NotBefore and
 * end_of_conditions in place of the Conditions' end tag, signed with a file key that the
 * issuer trusts. */
static char *signed_backdated(const char *end_of_conditions)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *issued = st_replace(template, TEMPLATE_ISSUE_INSTANT,
                              "IssueInstant=\"2025-12-31T23:59:30Z\"");
    char *changed = st_replace(issued, "</saml:Conditions>", end_of_conditions);
    char *signed_xml = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);

    free(template);
    free(issued);
    free(changed);
    return signed_xml;
}

/* An issuer that dates NotBefore 30 seconds before its IssueInstant, as OneLogin's
 * toolkits and SimpleSAMLphp do, declares the Assertion valid from that NotBefore. At
 * the NotBefore, without skew, the IssueInstant, an AuthnInstant and a Response's
 * IssueInstant equal to it pass. An instant later than the NotBefore's lead allows is
 * still rejected. */
static void backdated_not_before_accepted(void **state)
{
    char *issued = signed_backdated("</saml:Conditions>");
    char *authn = signed_backdated(AUTHN_STATEMENT("AuthnInstant=\"2025-12-31T23:59:30Z\""));
    char *late_authn =
        signed_backdated(AUTHN_STATEMENT("AuthnInstant=\"2025-12-31T23:59:31Z\""));
    char *response = wrap_in_response("ID=\"_r3\" IssueInstant=\"2025-12-31T23:59:30Z\"",
                                      issued);
    char *late_response =
        wrap_in_response("ID=\"_r4\" IssueInstant=\"2025-12-31T23:59:31Z\"", issued);

    (void)state;
    expect_at(issued, -60, 0, SAML_OK, NULL);
    expect_at(issued, -61, 0, SAML_ERR_NOT_YET_VALID,
              "the assertion is not valid before NotBefore, 1 seconds from now");
    expect_at(authn, -60, 0, SAML_OK, NULL);
    expect_at(response, -60, 0, SAML_OK, NULL);
    expect_at(late_authn, -60, 0, SAML_ERR_NOT_YET_VALID,
              "the AuthnInstant of the AuthnStatement is in the future, 31 seconds from "
              "now, beyond the clock skew and the 30 seconds by which the NotBefore "
              "precedes the Assertion's IssueInstant");
    expect_at(late_authn, -59, 0, SAML_OK, NULL);
    expect_at(late_response, -60, 0, SAML_ERR_NOT_YET_VALID, NULL);
    free(issued);
    free(authn);
    free(late_authn);
    free(response);
    free(late_response);
}

/* A document whose IssueInstant equals its NotBefore passes at the NotBefore, with or
 * without skew, as the node's own assertions do. So does one whose IssueInstant is a few
 * milliseconds after a NotBefore with a fraction, as ADFS writes them: the lead is those
 * milliseconds, and a clock of whole seconds passes the NotBefore at the next second. */
static void issue_instant_at_not_before_accepted(void **state)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *issued = st_replace(template, TEMPLATE_ISSUE_INSTANT,
                              "IssueInstant=\"2025-12-31T23:59:00.348Z\"");
    char *changed = st_replace(issued, "NotBefore=\"2025-12-31T23:59:00Z\"",
                               "NotBefore=\"2025-12-31T23:59:00.332Z\"");
    char *adfs_like = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);

    (void)state;
    expect_at(genuine, -60, 0, SAML_OK, NULL);
    expect_at(genuine, -120, 60, SAML_OK, NULL);
    expect_at(genuine, -121, 60, SAML_ERR_NOT_YET_VALID, NULL);
    expect_at(adfs_like, -59, 0, SAML_OK, NULL);
    expect_at(adfs_like, -60, 0, SAML_ERR_NOT_YET_VALID,
              "the assertion is not valid before NotBefore, 1 seconds from now");
    free(template);
    free(issued);
    free(changed);
    free(adfs_like);
}

static void future_authn_instant_rejected(void **state)
{
    char *later = signed_variant(
        "</saml:Conditions>", AUTHN_STATEMENT("AuthnInstant=\"2026-01-01T00:00:30Z\""));

    (void)state;
    expect_at(later, 30, 0, SAML_OK, NULL);
    expect_at(later, 0, 30, SAML_OK, NULL);
    expect_at(
        later, 29, 0, SAML_ERR_NOT_YET_VALID,
        "the AuthnInstant of the AuthnStatement is in the future, 1 seconds from now, "
        "beyond the clock skew");
    expect_at(later, 0, 29, SAML_ERR_NOT_YET_VALID, NULL);
    free(later);
}

/* A future IssueInstant of an unsigned Response rejects the document, as its Status can:
 * an unsigned part may make the verifier reject, never accept. */
static void future_response_issue_instant_rejected(void **state)
{
    char *at_now = in_response("ID=\"_r1\" IssueInstant=\"2026-01-01T00:00:00Z\"");
    char *later = in_response("ID=\"_r2\" IssueInstant=\"2026-01-01T01:00:00+01:00\"");

    (void)state;
    expect_at(at_now, 0, 0, SAML_OK, NULL);
    expect_at(
        at_now, -1, 0, SAML_ERR_NOT_YET_VALID,
        "the IssueInstant of the Response is in the future, 1 seconds from now, beyond "
        "the clock skew");
    expect_at(later, 0, 0, SAML_OK, NULL);
    expect_at(later, -10, 9, SAML_ERR_NOT_YET_VALID, NULL);
    expect_at(later, -10, 10, SAML_OK, NULL);
    free(at_now);
    free(later);
}

/* The CLI reports the code, as the node does. */
static void future_issue_instant_named_by_cli(void **state)
{
    char *later =
        signed_without_not_before(TEMPLATE_ISSUE_INSTANT,
                                  "IssueInstant=\"2026-01-01T00:01:00Z\"");
    char path[PATH_MAX + 32];
    char args[PATH_MAX * 2 + 128];
    char line[512];
    FILE *file;

    (void)state;
    snprintf(path, sizeof(path), "%s/future.xml", fixture.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(later, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    snprintf(args, sizeof(args), "--trust %s.pub --at 2026-01-01T00:00:00Z %s",
             fixture.file_rsa, path);
    assert_int_equal(st_run_cli(args, line, sizeof(line)), 1);
    assert_string_equal(line,
                        "rejected: not_yet_valid: the IssueInstant of the Assertion "
                        "is in the future, 60 seconds from now, beyond the clock skew");
    free(later);
}

/* Writes xml to a file and verifies it with the CLI at the time at. Returns the exit
 * status and the first line of standard error in line. */
static int cli_verify_at(const char *xml, const char *at, char *line, size_t line_size)
{
    char path[PATH_MAX + 32];
    char args[PATH_MAX * 2 + 128];
    FILE *file;

    snprintf(path, sizeof(path), "%s/window.xml", fixture.dir);
    file = fopen(path, "w");
    assert_non_null(file);
    assert_int_equal(fputs(xml, file) >= 0, 1);
    assert_int_equal(fclose(file), 0);
    snprintf(args, sizeof(args), "--trust %s.pub --at %s %s", fixture.file_rsa, at, path);
    return st_run_cli(args, line, line_size);
}

/*
 * Signs the template with NotBefore at 23:59:00 and NotOnOrAfter at 00:04:00, each
 * followed by its fraction, in the Conditions and in the bearer SubjectConfirmationData.
 * Then checks that the assertion is valid from the NotBefore exactly (not_before) until
 * the --at before_end, just before the NotOnOrAfter, and not at before_start or at the
 * NotOnOrAfter. A clock of whole seconds may be at any time within its second.
 */
static void check_fractional_window(const char *not_before_fraction,
                                    const char *not_on_or_after_fraction,
                                    const char *before_start, const char *before_end)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char not_before[64], not_on_or_after[64], bearer_end[80], window[160];
    char *bearer, *changed, *fractions;
    char line[512];

    snprintf(not_before, sizeof(not_before), "2025-12-31T23:59:00%sZ",
             not_before_fraction);
    snprintf(not_on_or_after, sizeof(not_on_or_after), "2026-01-01T00:04:00%sZ",
             not_on_or_after_fraction);
    snprintf(bearer_end, sizeof(bearer_end), "NotOnOrAfter=\"%s\">", not_on_or_after);
    snprintf(window, sizeof(window), "NotBefore=\"%s\" NotOnOrAfter=\"%s\"", not_before,
             not_on_or_after);
    bearer = st_replace(template, "NotOnOrAfter=\"2026-01-01T00:04:00Z\">", bearer_end);
    changed = st_replace(
        bearer,
        "NotBefore=\"2025-12-31T23:59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
        window);
    fractions = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);

    assert_int_equal(cli_verify_at(fractions, not_before, line, sizeof(line)), 0);
    assert_int_equal(cli_verify_at(fractions, before_start, line, sizeof(line)), 1);
    assert_string_equal(line,
                        "rejected: not_yet_valid: the assertion is not valid before "
                        "NotBefore, 1 seconds from now");
    assert_int_equal(cli_verify_at(fractions, before_end, line, sizeof(line)), 0);
    assert_int_equal(cli_verify_at(fractions, not_on_or_after, line, sizeof(line)), 1);
    assert_string_equal(line,
                        "rejected: expired: the assertion expired at NotOnOrAfter, 0 "
                        "seconds ago");

    expect_at(fractions, -60, 0, SAML_ERR_NOT_YET_VALID, NULL);
    expect_at(fractions, -59, 0, SAML_OK, NULL);
    expect_at(fractions, 239, 0, SAML_OK, NULL);
    expect_at(fractions, 240, 0, SAML_ERR_EXPIRED, NULL);
    free(template);
    free(bearer);
    free(changed);
    free(fractions);
}

/* Milliseconds, as Okta writes them, compared with an --at in milliseconds. */
static void window_compared_in_milliseconds(void **state)
{
    (void)state;
    check_fractional_window(".250", ".750", "2025-12-31T23:59:00.249Z",
                            "2026-01-01T00:04:00.749Z");
}

/* Seven digits of fraction, as .NET issuers such as Azure AD B2C write them, compared
 * with an --at of the same precision: valid until 100 ns before the NotOnOrAfter. */
static void window_compared_below_millisecond(void **state)
{
    (void)state;
    check_fractional_window(".4404567", ".4404567", "2025-12-31T23:59:00.4404566Z",
                            "2026-01-01T00:04:00.4404566Z");
}

/* A window of half a second within one second is a window, not an empty one. */
static void window_within_one_second(void **state)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *bearer = st_replace(template, "NotOnOrAfter=\"2026-01-01T00:04:00Z\">",
                              "NotOnOrAfter=\"2025-12-31T23:59:00.750Z\">");
    char *changed = st_replace(
        bearer,
        "NotBefore=\"2025-12-31T23:59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\"",
        "NotBefore=\"2025-12-31T23:59:00.250Z\" "
        "NotOnOrAfter=\"2025-12-31T23:59:00.750Z\"");
    char *short_window = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);
    char line[512];

    (void)state;
    assert_int_equal(
        cli_verify_at(short_window, "2025-12-31T23:59:00.500Z", line, sizeof(line)), 0);
    assert_int_equal(
        cli_verify_at(short_window, "2025-12-31T23:59:00.750Z", line, sizeof(line)), 1);
    assert_string_equal(line,
                        "rejected: expired: the assertion expired at NotOnOrAfter, 0 "
                        "seconds ago");
    free(template);
    free(bearer);
    free(changed);
    free(short_window);
}

/* The template issued 2 seconds after a NotBefore with a fraction, as Keycloak dates its
 * assertions, with an AuthnStatement of authn_instant, signed with a file key that the
 * issuer trusts. The IssueInstant, 23:59:02.998, lies 2 ms before a whole second. */
static char *signed_near_second(const char *authn_instant)
{
    const st_template spec = {0};
    char *template = st_template_xml(&fixture, &spec);
    char *issued = st_replace(template, TEMPLATE_ISSUE_INSTANT,
                              "IssueInstant=\"2025-12-31T23:59:02.998Z\"");
    char *dated = st_replace(issued, TEMPLATE_NOT_BEFORE,
                             "NotBefore=\"2025-12-31T23:59:00.998Z\" ");
    char *statement = NULL;
    char *changed;
    char *signed_xml;

    assert_int_not_equal(
        asprintf(&statement,
                 "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"%s\">"
                 "<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:"
                 "2.0:ac:classes:unspecified</saml:AuthnContextClassRef>"
                 "</saml:AuthnContext></saml:AuthnStatement>",
                 authn_instant),
        -1);
    changed = st_replace(dated, "</saml:Conditions>", statement);
    signed_xml = st_xmlsec_sign(&fixture, changed, fixture.file_rsa);
    free(template);
    free(issued);
    free(dated);
    free(statement);
    free(changed);
    return signed_xml;
}

/* Keycloak writes the AuthnInstant and the Response's IssueInstant a few milliseconds
 * after the Assertion's IssueInstant. At the NotBefore exactly, such instants pass
 * whether or not a whole second lies between them and the IssueInstant, because an
 * instant less than a second past the limit passes. One a second or more past it does
 * not. */
static void instants_near_second_accepted(void **state)
{
    char *authn = signed_near_second("2025-12-31T23:59:03.003Z");
    char *response = wrap_in_response(
        "ID=\"_r5\" IssueInstant=\"2025-12-31T23:59:03.001Z\"", authn);
    char *late_authn = signed_near_second("2025-12-31T23:59:03.998Z");
    char line[512];

    (void)state;
    assert_int_equal(cli_verify_at(authn, "2025-12-31T23:59:00.998Z", line, sizeof(line)),
                     0);
    assert_int_equal(
        cli_verify_at(response, "2025-12-31T23:59:00.998Z", line, sizeof(line)), 0);
    assert_int_equal(
        cli_verify_at(late_authn, "2025-12-31T23:59:00.998Z", line, sizeof(line)), 1);
    assert_string_equal(line,
                        "rejected: not_yet_valid: the AuthnInstant of the AuthnStatement "
                        "is in the future, 3 seconds from now, beyond the clock skew and "
                        "the 2 seconds by which the NotBefore precedes the Assertion's "
                        "IssueInstant");
    assert_int_equal(
        cli_verify_at(late_authn, "2025-12-31T23:59:00.999Z", line, sizeof(line)), 0);

    /* A clock of whole seconds first passes the NotBefore at 23:59:01. */
    expect_at(authn, -59, 0, SAML_OK, NULL);
    expect_at(response, -59, 0, SAML_OK, NULL);
    expect_at(late_authn, -59, 0, SAML_OK, NULL);
    free(authn);
    free(response);
    free(late_authn);
}

/* The session that the issuer reports ends at SessionNotOnOrAfter. From that time on,
 * with the skew applied, the assertion is expired. */
static void session_not_on_or_after_enforced(void **state)
{
    char *session =
        signed_variant("</saml:Conditions>",
                       AUTHN_STATEMENT("AuthnInstant=\"2025-12-31T23:59:00Z\" "
                                       "SessionNotOnOrAfter=\"2026-01-01T00:01:00Z\""));

    (void)state;
    expect_at(session, 59, 0, SAML_OK, NULL);
    expect_at(session, 60, 0, SAML_ERR_EXPIRED,
              "the issuer's session with the subject ended at the AuthnStatement's "
              "SessionNotOnOrAfter, 0 seconds ago");
    expect_at(session, 119, 60, SAML_OK, NULL);
    expect_at(session, 120, 60, SAML_ERR_EXPIRED, NULL);
    free(session);
}

/* A SessionNotOnOrAfter with a fraction ends there, not at its whole second. A clock in
 * milliseconds just before it passes. A clock of whole seconds may be at any time within
 * its second, so it is late at the second that contains the end. */
static void session_not_on_or_after_compared_below_second(void **state)
{
    char *session = signed_variant(
        "</saml:Conditions>",
        AUTHN_STATEMENT("AuthnInstant=\"2025-12-31T23:59:00Z\" "
                        "SessionNotOnOrAfter=\"2026-01-01T00:01:00.500Z\""));
    char line[512];

    (void)state;
    assert_int_equal(
        cli_verify_at(session, "2026-01-01T00:01:00.499Z", line, sizeof(line)), 0);
    assert_int_equal(
        cli_verify_at(session, "2026-01-01T00:01:00.500Z", line, sizeof(line)), 1);
    assert_string_equal(
        line, "rejected: expired: the issuer's session with the subject ended at "
              "the AuthnStatement's SessionNotOnOrAfter, 0 seconds ago");
    expect_at(session, 59, 0, SAML_OK, NULL);
    expect_at(session, 60, 0, SAML_ERR_EXPIRED, NULL);
    free(session);
}

/* A SessionNotOnOrAfter is read with the rules of every other time. */
static void session_not_on_or_after_parsed_strictly(void **state)
{
    static const struct {
        const char *value;
        const char *detail;
    } cases[] = {
        {"2026-01-01T00:01:00",
         "the SessionNotOnOrAfter \"2026-01-01T00:01:00\" of "
         "<AuthnStatement> is not a valid xs:dateTime: a real date "
         "and time, ending in Z or an offset"},
        {"2026-02-30T00:00:00Z",
         "the SessionNotOnOrAfter \"2026-02-30T00:00:00Z\" of "
         "<AuthnStatement> is not a valid xs:dateTime: a real date "
         "and time, ending in Z or an offset"},
        {"",
         "the SessionNotOnOrAfter \"\" of <AuthnStatement> is not a valid xs:dateTime: "
         "a real date and time, ending in Z or an offset"},
        {"10000-01-01T00:00:00Z", "the SessionNotOnOrAfter \"10000-01-01T00:00:00Z\" of "
                                  "<AuthnStatement> is outside the range the node reads, "
                                  "1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char statement[512];
        char *xml;

        snprintf(statement, sizeof(statement),
                 AUTHN_STATEMENT("AuthnInstant=\"2025-12-31T23:59:00Z\" "
                                 "SessionNotOnOrAfter=\"%s\""),
                 cases[i].value);
        xml = signed_variant("</saml:Conditions>", statement);
        expect_at(xml, 0, 0, SAML_ERR_NOT_SAML, cases[i].detail);
        free(xml);
    }
}

/* The optional attributes of a Response: InResponseTo is an xs:NCName, Destination and
 * Consent are xs:anyURI. XML white space around a value collapses, and XLink escapes
 * non-ASCII characters and spaces inside an xs:anyURI, so those pass. */
static void response_attribute_types_checked(void **state)
{
    static const char *const valid[] = {
        "InResponseTo=\"_fc4a34b0-7efb-012e-caae-782bcb13bb38\"",
        "InResponseTo=\" ONELOGIN_4fee3b04 \"",
        "InResponseTo=\"4fee3b04-6a3b-4a3c-9c3e-2f0c4b9a1d5e\"",
        "Destination=\"\"",
        "Destination=\"https://sp.example/acs?x=1&amp;y=%20#frag\"",
        "Destination=\"https://user:pw@[2001:db8::1]:8443/saml/acs\"",
        "Destination=\"https://[v1.fe80::a+en1]/acs\"",
        "Destination=\"https://192.0.2.7/a/b;c=d\"",
        "Destination=\"https://sp.example/caf\xc3\xa9 bar\"",
        "Destination=\"/relative/acs\"",
        "Destination=\"&#10; https://sp.example/acs\t\"",
        "Destination=\"https://sp.example \"",
        "Destination=\"https://u@sp.example&#10;\"",
        "Destination=\" //sp.example\t\"",
        "Consent=\"urn:oasis:names:tc:SAML:2.0:consent:unspecified\"",
    };
    static const struct {
        const char *attribute;
        const char *detail;
    } invalid[] = {
        {"InResponseTo=\"\"",
         "the InResponseTo \"\" of <Response> is not an xs:NCName: it "
         "must be a name without a colon or white space, the ID of the "
         "request it answers, as SAML 2.0 Core's schema requires"},
        {"InResponseTo=\"_a b\"", NULL},
        {"InResponseTo=\"p:_ab\"", NULL},
        {"InResponseTo=\"_a'b\"", NULL},
        {"Destination=\"https://sp.example/%zz\"",
         "the Destination \"https://sp.example/%zz\" of <Response> is not an xs:anyURI: "
         "it "
         "must be a URI reference, as SAML 2.0 Core's schema requires"},
        {"Destination=\"https://sp.example/a#b#c\"", NULL},
        {"Destination=\"https://sp.example:80x/acs\"", NULL},
        {"Destination=\"https://[2001:db8::g]/acs\"", NULL},
        {"Destination=\"https://[2001:db8::1/acs\"", NULL},
        {"Destination=\"https://sp.example/[x]\"", NULL},
        {"Destination=\"1https://sp.example/acs\"", NULL},
        {"Destination=\":acs\"", NULL},
        {"Consent=\"urn:oasis:names:tc:SAML:2.0:consent:%\"", NULL},
        {"Consent=\"-consent:unspecified\"", NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
        char attributes[256];
        char *xml;

        snprintf(attributes, sizeof(attributes),
                 "ID=\"_r1\" IssueInstant=\"2026-01-01T00:00:00Z\" %s", valid[i]);
        xml = in_response(attributes);
        expect_at(xml, 0, 0, SAML_OK, NULL);
        free(xml);
    }
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        char attributes[256];
        char *xml;

        snprintf(attributes, sizeof(attributes),
                 "ID=\"_r1\" IssueInstant=\"2026-01-01T00:00:00Z\" %s",
                 invalid[i].attribute);
        xml = in_response(attributes);
        expect_at(xml, 0, 0, SAML_ERR_NOT_SAML, invalid[i].detail);
        free(xml);
    }
}

/* A second SubjectConfirmation after the template's bearer one, with this method and
 * these SubjectConfirmationData attributes. */
#define SECOND_CONFIRMATION(method, data_attributes)                                     \
    "</saml:SubjectConfirmation><saml:SubjectConfirmation Method=\"urn:oasis:names:tc:"  \
    "SAML:2.0:cm:" method "\"><saml:SubjectConfirmationData " data_attributes            \
    "/></saml:SubjectConfirmation></saml:Subject>"
#define HOLDER_OF_KEY(data_attributes)                                                   \
    SECOND_CONFIRMATION("holder-of-key", data_attributes)

/* The optional attributes of a SubjectConfirmationData: InResponseTo is an xs:NCName,
 * Recipient an xs:anyURI and Address an xs:string, which any value is. Its times are
 * xs:dateTime in every confirmation, also in one that the node does not use, and in a
 * second bearer one when the first is met. */
static void confirmation_data_types_checked(void **state)
{
    static const char bearer_data[] = "<saml:SubjectConfirmationData ";
    static const char subject_end[] = "</saml:SubjectConfirmation></saml:Subject>";
    static const struct {
        const char *from;
        const char *to;
        saml_status status;
        const char *detail; /* of a rejection */
    } cases[] = {
        {bearer_data,
         "<saml:SubjectConfirmationData InResponseTo=\"_d766d16611ac0d14121b\" "
         "Recipient=\"https://sp.example/acs\" Address=\"not an address at all\" ",
         SAML_OK, NULL},
        {bearer_data, "<saml:SubjectConfirmationData Recipient=\"\" ", SAML_OK, NULL},
        {subject_end,
         HOLDER_OF_KEY(
             "NotBefore=\"2025-12-31T23:59:00Z\" NotOnOrAfter=\"2026-01-01T00:04:00Z\""),
         SAML_OK, NULL},
        {subject_end,
         SECOND_CONFIRMATION("bearer", "NotOnOrAfter=\"2026-01-01T00:04:00Z\""), SAML_OK,
         NULL},
        {bearer_data, "<saml:SubjectConfirmationData InResponseTo=\"a:b\" ",
         SAML_ERR_NOT_SAML,
         "the InResponseTo \"a:b\" of <SubjectConfirmationData> is not an xs:NCName: it "
         "must "
         "be a name without a colon or white space, the ID of the request it answers, as "
         "SAML 2.0 Core's schema requires"},
        {bearer_data,
         "<saml:SubjectConfirmationData Recipient=\"https://sp.example/a%g1\" ",
         SAML_ERR_NOT_SAML,
         "the Recipient \"https://sp.example/a%g1\" of <SubjectConfirmationData> is not "
         "an "
         "xs:anyURI: it must be a URI reference, as SAML 2.0 Core's schema requires"},
        {subject_end, HOLDER_OF_KEY("Recipient=\"https://sp.example/#a#b\""),
         SAML_ERR_NOT_SAML,
         "the Recipient \"https://sp.example/#a#b\" of <SubjectConfirmationData> is not "
         "an "
         "xs:anyURI: it must be a URI reference, as SAML 2.0 Core's schema requires"},
        {subject_end, HOLDER_OF_KEY("NotOnOrAfter=\"soon\""), SAML_ERR_NOT_SAML,
         "the NotOnOrAfter \"soon\" of <SubjectConfirmationData> is not a valid "
         "xs:dateTime: "
         "a real date and time, ending in Z or an offset"},
        {subject_end, HOLDER_OF_KEY("NotBefore=\"2026-01-01T00:00:00\""),
         SAML_ERR_NOT_SAML,
         "the NotBefore \"2026-01-01T00:00:00\" of <SubjectConfirmationData> is not a "
         "valid "
         "xs:dateTime: a real date and time, ending in Z or an offset"},
        {subject_end, SECOND_CONFIRMATION("bearer", "NotOnOrAfter=\"2026-01-01 00:04\""),
         SAML_ERR_CONFIRMATION_INVALID,
         "the NotOnOrAfter of the bearer SubjectConfirmationData is not a valid "
         "xs:dateTime: "
         "a real date and time, ending in Z or an offset"},
        {subject_end,
         SECOND_CONFIRMATION("bearer", "NotOnOrAfter=\"10000-01-01T00:00:00Z\""),
         SAML_ERR_CONFIRMATION_INVALID,
         "the NotOnOrAfter of the bearer SubjectConfirmationData is outside the range "
         "the "
         "node reads, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = signed_variant(cases[i].from, cases[i].to);

        expect_at(xml, 0, 0, cases[i].status, cases[i].detail);
        free(xml);
    }
}

/* XML Schema allows no character in a null element, white space included, while a
 * comment, a processing instruction or an empty CDATA section adds none. */
static void nil_white_space_rejected(void **state)
{
    static const struct {
        const char *content;
        const char *detail; /* NULL: the assertion verifies */
    } cases[] = {
        {"", NULL},
        {"\n  ",
         "a value of the Attribute \"urn:example:n\" is null (xsi:nil) but not empty; "
         "XML Schema allows no characters in it, not even white space"},
        {"<!-- none --><?pi x?><![CDATA[]]>", NULL},
        {" <!-- none -->\t",
         "a value of the Attribute \"urn:example:n\" is null (xsi:nil) "
         "but not empty; XML Schema allows no characters in it, not "
         "even white space"},
        {"<![CDATA[ ]]>",
         "a value of the Attribute \"urn:example:n\" is null (xsi:nil) but "
         "not empty; XML Schema allows no characters in it, not even white "
         "space"},
        {" x ",
         "a value of the Attribute \"urn:example:n\" is null (xsi:nil) but not empty"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char statement[512];
        char *xml;

        snprintf(statement, sizeof(statement),
                 "</saml:Conditions><saml:AttributeStatement><saml:Attribute "
                 "Name=\"urn:example:n\"><saml:AttributeValue " XSI "xsi:nil=\"true\">%s"
                 "</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>",
                 cases[i].content);
        xml = signed_variant("</saml:Conditions>", statement);
        expect_at(xml, 0, 0, cases[i].detail != NULL ? SAML_ERR_NOT_SAML : SAML_OK,
                  cases[i].detail);
        free(xml);
    }
}

/* An AuthnStatement whose AuthnContext contains these elements, after the Conditions. */
#define AUTHN_CONTEXT(content)                                                           \
    "</saml:Conditions><saml:AuthnStatement AuthnInstant=\"2025-12-31T23:59:00Z\">"      \
    "<saml:AuthnContext>" content "</saml:AuthnContext></saml:AuthnStatement>"

/* An AttributeStatement with one Attribute of this NameFormat, after the Conditions. */
#define NAME_FORMAT(format)                                                              \
    "</saml:Conditions><saml:AttributeStatement><saml:Attribute Name=\"mail\" "          \
    "NameFormat=\"" format "\"><saml:AttributeValue>a@idsvc.test</saml:AttributeValue>"  \
    "</saml:Attribute></saml:AttributeStatement>"

/* An AuthzDecisionStatement about this resource with an Action of this namespace, after
 * the Conditions. */
#define AUTHZ_DECISION(resource, action_namespace)                                       \
    "</saml:Conditions><saml:AuthzDecisionStatement Resource=\"" resource "\" "          \
    "Decision=\"Permit\"><saml:Action Namespace=\"" action_namespace "\">read"           \
    "</saml:Action></saml:AuthzDecisionStatement>"

#define NOT_ANY_URI                                                                      \
    " is not an xs:anyURI: it must be a URI reference, as SAML 2.0 Core's "              \
    "schema requires"

/* The xs:anyURI values that the verifier reads from the Assertion: the NameID Format,
 * the SubjectConfirmation Method, the Audience, the AuthnContext references and
 * authorities, the Attribute NameFormat, and the Resource and Action Namespace of an
 * AuthzDecisionStatement. XML white space around a value collapses,
 * and XLink escapes the braces of a placeholder such as {audience}, so those pass. The
 * inside of an Advice is not read, so it is not checked. A required Method or Resource
 * must be present. */
static void assertion_uri_values_checked(void **state)
{
    static const char audience[] = "<saml:Audience>" ST_AUDIENCE "</saml:Audience>";
    static const char format[] =
        "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress\"";
    static const char subject_end[] = "</saml:SubjectConfirmation></saml:Subject>";
    static const char conditions_end[] = "</saml:Conditions>";
    static const struct {
        const char *from;
        const char *to;
        const char *detail; /* of a not_saml rejection, or NULL for a valid value */
    } cases[] = {
        {audience, "<saml:Audience>\n  {audience}\n</saml:Audience>", NULL},
        {audience, "<saml:Audience>ForNodeJS</saml:Audience>", NULL},
        {format,
         "Format=\" urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress&#10;\"", NULL},
        {conditions_end,
         AUTHN_CONTEXT("<saml:AuthnContextClassRef>urn:federation:authentication:windows"
                       "</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>"
                       "https://idp.example/login</saml:AuthenticatingAuthority>"),
         NULL},
        {conditions_end, NAME_FORMAT("urn:oasis:names:tc:SAML:2.0:attrname-format:basic"),
         NULL},
        {conditions_end,
         "</saml:Conditions><saml:Advice><saml:AssertionURIRef>https://idp.example/#a#b"
         "</saml:AssertionURIRef></saml:Advice>",
         NULL},
        {format, "Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:%email\"",
         "the Format \"urn:oasis:names:tc:SAML:1.1:nameid-format:%email\" of "
         "<NameID>" NOT_ANY_URI},
        {subject_end, SECOND_CONFIRMATION("holder-of-key%", "Address=\"192.0.2.1\""),
         "the Method \"urn:oasis:names:tc:SAML:2.0:cm:holder-of-key%\" of "
         "<SubjectConfirmation>" NOT_ANY_URI},
        {audience, "<saml:Audience>" ST_AUDIENCE "/#a#b</saml:Audience>",
         "the Audience \"" ST_AUDIENCE "/#a#b\"" NOT_ANY_URI},
        {conditions_end,
         AUTHN_CONTEXT("<saml:AuthnContextClassRef>urn:example:loa:%zz"
                       "</saml:AuthnContextClassRef>"),
         "the AuthnContextClassRef \"urn:example:loa:%zz\"" NOT_ANY_URI},
        {conditions_end,
         AUTHN_CONTEXT("<saml:AuthnContextDeclRef>1urn:example:decl"
                       "</saml:AuthnContextDeclRef>"),
         "the AuthnContextDeclRef \"1urn:example:decl\"" NOT_ANY_URI},
        {conditions_end,
         AUTHN_CONTEXT("<saml:AuthnContextClassRef>urn:example:loa:2"
                       "</saml:AuthnContextClassRef><saml:AuthenticatingAuthority>"
                       "https://idp.example/[x]</saml:AuthenticatingAuthority>"),
         "the AuthenticatingAuthority \"https://idp.example/[x]\"" NOT_ANY_URI},
        {conditions_end, NAME_FORMAT("basic:%"),
         "the NameFormat \"basic:%\" of <Attribute>" NOT_ANY_URI},
        {conditions_end,
         AUTHZ_DECISION("https://rp.example/%",
                        "urn:oasis:names:tc:SAML:1.0:action:rwedc"),
         "the Resource \"https://rp.example/%\" of <AuthzDecisionStatement>" NOT_ANY_URI},
        {conditions_end, AUTHZ_DECISION("https://rp.example/", "urn:example:ns#a#b"),
         "the Namespace \"urn:example:ns#a#b\" of <Action>" NOT_ANY_URI},
        {subject_end,
         "</"
         "saml:SubjectConfirmation><saml:SubjectConfirmation><saml:"
         "SubjectConfirmationData "
         "Address=\"192.0.2.1\"/></saml:SubjectConfirmation></saml:Subject>",
         "the <SubjectConfirmation> has no Method attribute, which SAML 2.0 Core's "
         "schema "
         "requires"},
        {conditions_end,
         "</saml:Conditions><saml:AuthzDecisionStatement "
         "Decision=\"Permit\"><saml:Action "
         "Namespace=\"urn:oasis:names:tc:SAML:1.0:action:rwedc\">read</saml:Action>"
         "</saml:AuthzDecisionStatement>",
         "the <AuthzDecisionStatement> has no Resource attribute, which SAML 2.0 Core's "
         "schema requires"},
        {conditions_end,
         "<saml:ProxyRestriction><saml:Audience>https://rp.example:8x/</saml:Audience>"
         "</saml:ProxyRestriction></saml:Conditions>",
         "the Audience \"https://rp.example:8x/\"" NOT_ANY_URI},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = signed_variant(cases[i].from, cases[i].to);

        expect_at(xml, 0, 0, cases[i].detail != NULL ? SAML_ERR_NOT_SAML : SAML_OK,
                  cases[i].detail);
        free(xml);
    }
}

/* An AuthzDecisionStatement with these attributes and this content, after the
 * Conditions. */
#define AUTHZ_STATEMENT(attributes, content)                                             \
    "</saml:Conditions><saml:AuthzDecisionStatement "                                    \
    "Resource=\"https://rp.example/\" " attributes ">" content                           \
    "</saml:AuthzDecisionStatement>"

#define READ_ACTION                                                                      \
    "<saml:Action Namespace=\"urn:oasis:names:tc:SAML:1.0:action:rwedc\">"               \
    "read</saml:Action>"

/* The node does not read an AuthzDecisionStatement, but it accepts the assertion that
 * carries one, so the statement must follow its schema type. That type has one or more
 * Action elements of text content, an optional Evidence, and a Decision of Permit, Deny
 * or Indeterminate. White space around the Decision is not allowed, because xs:string
 * preserves it. */
static void authz_decision_form_checked(void **state)
{
    static const char conditions_end[] = "</saml:Conditions>";
    static const struct {
        const char *to;
        const char *detail; /* of a not_saml rejection, or NULL for a valid statement */
    } cases[] = {
        {AUTHZ_STATEMENT("Decision=\"Deny\"", READ_ACTION READ_ACTION
                         "<saml:Evidence><saml:AssertionIDRef>_x"
                         "</saml:AssertionIDRef></saml:Evidence>"),
         NULL},
        {AUTHZ_STATEMENT("Decision=\"Indeterminate\"", READ_ACTION), NULL},
        {AUTHZ_STATEMENT("Decision=\"Maybe\"", READ_ACTION),
         "the AuthzDecisionStatement has the Decision \"Maybe\", but SAML 2.0 Core "
         "allows "
         "only Permit, Deny and Indeterminate"},
        {AUTHZ_STATEMENT("Decision=\" Permit\"", READ_ACTION),
         "the AuthzDecisionStatement has the Decision \" Permit\", but SAML 2.0 Core "
         "allows only Permit, Deny and Indeterminate"},
        {AUTHZ_STATEMENT("", READ_ACTION),
         "the AuthzDecisionStatement has no Decision, but SAML 2.0 Core requires one"},
        {AUTHZ_STATEMENT("Decision=\"Permit\"", ""),
         "the AuthzDecisionStatement has no Action, but SAML 2.0 Core requires one"},
        {AUTHZ_STATEMENT("Decision=\"Permit\"",
                         "<saml:Evidence><saml:AssertionIDRef>_x</saml:AssertionIDRef>"
                         "</saml:Evidence>" READ_ACTION),
         "the AuthzDecisionStatement has the element <Evidence> "
         "(urn:oasis:names:tc:SAML:2.0:assertion) where SAML 2.0 Core requires Action"},
        {AUTHZ_STATEMENT("Decision=\"Permit\"",
                         "<saml:Action Namespace=\"urn:example:ns\"><b>read</b>"
                         "</saml:Action>"),
         "the Action contains the element <b> (no namespace), but SAML 2.0 Core's schema "
         "gives it text content, which allows no elements"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *xml = signed_variant(conditions_end, cases[i].to);

        expect_at(xml, 0, 0, cases[i].detail != NULL ? SAML_ERR_NOT_SAML : SAML_OK,
                  cases[i].detail);
        free(xml);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(future_issue_instant_rejected),
        cmocka_unit_test(backdated_not_before_accepted),
        cmocka_unit_test(issue_instant_at_not_before_accepted),
        cmocka_unit_test(future_authn_instant_rejected),
        cmocka_unit_test(future_response_issue_instant_rejected),
        cmocka_unit_test(future_issue_instant_named_by_cli),
        cmocka_unit_test(window_compared_in_milliseconds),
        cmocka_unit_test(window_compared_below_millisecond),
        cmocka_unit_test(window_within_one_second),
        cmocka_unit_test(instants_near_second_accepted),
        cmocka_unit_test(session_not_on_or_after_enforced),
        cmocka_unit_test(session_not_on_or_after_compared_below_second),
        cmocka_unit_test(session_not_on_or_after_parsed_strictly),
        cmocka_unit_test(response_attribute_types_checked),
        cmocka_unit_test(confirmation_data_types_checked),
        cmocka_unit_test(nil_white_space_rejected),
        cmocka_unit_test(assertion_uri_values_checked),
        cmocka_unit_test(authz_decision_form_checked),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}

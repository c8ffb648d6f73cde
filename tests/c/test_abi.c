/*
 * Calls every export of the C ABI against a running emulator, checks the envelopes, and frees
 * everything it is given. Built with -Wall -Wextra -Werror and run under valgrind by
 * tests/c_abi.rs.   usage: test_abi WEBHOOK_URL USER_GUID
 */
#include "bitrix24_1c.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
static int checks = 0;

#define CHECK(cond, what)                                                   \
    do {                                                                    \
        checks++;                                                           \
        if (!(cond)) {                                                      \
            failures++;                                                     \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, what);  \
        }                                                                   \
    } while (0)

/* Checks an envelope for a substring, then frees it. */
static void expect(char *envelope, const char *needle, const char *what) {
    CHECK(envelope != NULL, what);
    if (envelope == NULL) return;
    if (strstr(envelope, needle) == NULL) {
        fprintf(stderr, "  %s: %s lacks %s\n", what, envelope, needle);
        CHECK(0, what);
    } else {
        checks++;
    }
    b24_string_free(envelope);
}

/* Returns the integer `result` of a success envelope (0 when absent), then frees it. */
static int64_t take_id(char *envelope, const char *what) {
    long long id = 0;
    const char *p = envelope ? strstr(envelope, "\"result\":") : NULL;
    if (p == NULL || sscanf(p + 9, "%lld", &id) != 1 || id <= 0) {
        fprintf(stderr, "  %s: %s\n", what, envelope ? envelope : "(null)");
        CHECK(0, what);
    }
    b24_string_free(envelope);
    return (int64_t)id;
}

struct progress {
    int calls;
    uint64_t done;
    uint64_t total;
};

static void on_progress(void *user_data, uint64_t done, uint64_t total) {
    struct progress *p = (struct progress *)user_data;
    p->calls++;
    p->done = done;
    p->total = total;
}

static void on_status(void *user_data, uint64_t done, uint64_t total, const char *waiting) {
    struct progress *p = (struct progress *)user_data;
    p->calls++;
    p->done = done;
    p->total = total;
    /* No limit is hit here: nothing to wait for. */
    if (waiting != NULL) {
        p->calls = -1000;
    }
}

static void *hammer(void *arg) {
    const B24Client *client = (const B24Client *)arg;
    for (int i = 0; i < 10; i++) {
        char *r = b24_call(client, "scope", NULL);
        if (r == NULL || strstr(r, "\"ok\":true") == NULL) {
            __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
        }
        b24_string_free(r);
    }
    return NULL;
}

/* Outbound events: parsing needs no client and never echoes a token. */
#define EVENT_TOKEN "c-abi-event-token-0123456789"
static void check_events(void) {
    const char *body =
        "event=ONCRMCONTACTUPDATE&event_handler_id=5&data%5BFIELDS%5D%5BID%5D=123&ts=1700000000"
        "&auth%5Bdomain%5D=x.bitrix24.ru&auth%5Bmember_id%5D=m&auth%5Bapplication_token%5D=" EVENT_TOKEN;
    const char *needles[] = {"\"ok\":true", "\"event\":\"ONCRMCONTACTUPDATE\"", "\"id\":123", "\"token_ok\":true",
                             "\"data\":{\"FIELDS\":{\"ID\":\"123\"}}", "\"application_token\":\"***\""};
    char *r = b24_parse_event(body, "application/x-www-form-urlencoded", EVENT_TOKEN);
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++) {
        CHECK(r != NULL && strstr(r, needles[i]) != NULL, needles[i]);
    }
    CHECK(r != NULL && strstr(r, EVENT_TOKEN) == NULL, "b24_parse_event masks the token");
    b24_string_free(r);

    r = b24_parse_event(body, NULL, "a-forged-guess");
    CHECK(r != NULL && strstr(r, "INVALID_APPLICATION_TOKEN") && strstr(r, "\"kind\":\"auth\""), "wrong token refused");
    CHECK(r != NULL && strstr(r, EVENT_TOKEN) == NULL && strstr(r, "forged") == NULL, "refusal echoes no token");
    b24_string_free(r);

    expect(b24_parse_event("{\"event\":\"onCrmCompanyAdd\",\"data\":{\"FIELDS\":{\"ID\":\"7\"}}}", NULL, NULL),
           "\"token_ok\":false", "JSON body sniffed, token not checked");
    expect(b24_parse_event("event=X", "", ""), "not checked", "empty token: a warning");
    expect(b24_parse_event(NULL, NULL, NULL), "NULL_ARGUMENT", "NULL body");
    expect(b24_parse_event("event=\xff", NULL, NULL), "INVALID_UTF8", "non-UTF-8 body");
    expect(b24_parse_event("event=X", NULL, "\xff"), "INVALID_UTF8", "non-UTF-8 token");
    expect(b24_parse_event("data[FIELDS][ID]=1", NULL, NULL), "INVALID_EVENT", "no event name");
    expect(b24_parse_event("x", "multipart/form-data; boundary=z", NULL), "UNSUPPORTED_CONTENT_TYPE", "multipart");

    size_t n = (1u << 20) + 16;
    char *big = malloc(n + 1);
    CHECK(big != NULL, "malloc");
    if (big == NULL) return;
    memset(big, 'a', n);
    memcpy(big, "event=X&v=", 10);
    big[n] = '\0';
    expect(b24_parse_event(big, NULL, NULL), "EVENT_TOO_LARGE", "a body over 1 MiB");
    free(big);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s WEBHOOK_URL USER_GUID\n", argv[0]);
        return 2;
    }
    char config[512];
    snprintf(config, sizeof config, "{\"webhook_url\":\"%s\",\"rate_limit\":false}", argv[1]);

    CHECK(strcmp(b24_version(), B24_VERSION) == 0, "version matches the header");
    check_events();

    char *error = NULL;
    B24Client *bad = b24_client_new("{\"webhook_url\":\"ftp://x\"}", &error);
    CHECK(bad == NULL, "bad config gives NULL");
    expect(error, "INVALID_WEBHOOK_URL", "bad config error envelope");
    CHECK(b24_client_new(NULL, NULL) == NULL, "NULL config, NULL error pointer");

    error = NULL;
    B24Client *client = b24_client_new(config, &error);
    CHECK(client != NULL && error == NULL, "client created");
    if (client == NULL) return 1;

    expect(b24_call(client, "scope", NULL), "\"crm\"", "b24_call scope");
    expect(b24_call(client, "crm.contact.list", "{\"start\":-1}"), "\"ok\":true", "b24_call list");
    expect(b24_call(client, "../etc", NULL), "INVALID_METHOD", "method injection refused");
    expect(b24_get_user_by_guid(client, argv[2]), "\"ok\":true", "b24_get_user_by_guid");
    expect(b24_get_user_by_guid(client, "unknown-guid"), "USER_NOT_FOUND", "unknown GUID");

    expect(b24_company_fields(client), "\"TITLE\"", "b24_company_fields");
    expect(b24_contact_fields(client), "UF_CRM_1707822731302", "b24_contact_fields");

    int64_t company = take_id(b24_create_company(client,
        "{\"fields\":{\"TITLE\":\"Կազմակերպություն\",\"PHONE\":[{\"VALUE\":\"+37498888888\"}],"
        "\"UF_CRM_1707823223708\":[{\"fileData\":[\"test1.txt\",\"AA==\"]}]}}"), "b24_create_company");
    char fields[512];
    snprintf(fields, sizeof fields,
             "{\"fields\":{\"NAME\":\"Անուն\",\"LAST_NAME\":\"Фамилия\",\"COMPANY\":[\"%lld\"],"
             "\"PHONE\":[{\"VALUE\":\"+37498888888\"}],\"EMAIL\":[{\"VALUE\":\"test1@gmail.com\"}]}}",
             (long long)company);
    int64_t contact = take_id(b24_create_contact(client, fields), "b24_create_contact");

    expect(b24_get_contact(client, contact), "\"NAME\":\"Անուն\"", "b24_get_contact round-trips Armenian");
    expect(b24_update_contact(client, contact, "{\"LAST_NAME\":\"Ազգանուն\"}"), "\"result\":true", "b24_update_contact");
    expect(b24_get_contact(client, contact), "\"LAST_NAME\":\"Ազգանուն\"", "update visible");
    /* A contact type by its name, the responsible user by 1C GUID: both mapped before the write. */
    char by_name[256];
    snprintf(by_name, sizeof by_name,
             "{\"TYPE_ID\":\"Դիմորդ\",\"ASSIGNED_BY_ID\":{\"guid\":\"%s\"}}", argv[2]);
    expect(b24_update_contact(client, contact, by_name), "\"result\":true", "TYPE_ID by name, user by GUID");
    expect(b24_get_contact(client, contact), "\"TYPE_ID\":\"UC_DIUN9M\"", "the name went as its STATUS_ID");
    expect(b24_update_contact(client, contact, "{\"ASSIGNED_BY_ID\":{\"guid\":\"no-such-guid\"}}"),
           "no user has the 1C GUID", "an unknown user GUID is a warning");
    /* Phones exactly as 1C has them: the formatted one the portal holds is the same number. */
    expect(b24_update_contact(client, contact,
                              "{\"fields\":{\"PHONE\":[\"+37499111111\"]},\"exact\":[\"PHONE\"]}"),
           "\"result\":true", "exact PHONE");
    expect(b24_update_contact(client, contact,
                              "{\"fields\":{\"PHONE\":[\"+374 99 111111\"]},\"exact\":[\"PHONE\"]}"),
           "\"result\":true", "exact PHONE again");
    expect(b24_get_contact(client, contact), "\"PHONE\":[{\"ID\"", "exact PHONE kept one item");
    expect(b24_get_company(client, company), "\"TITLE\":\"Կազմակերպություն\"", "b24_get_company");
    expect(b24_update_company(client, company, "{\"fields\":{\"TITLE\":\"Новое\"}}"), "\"result\":true", "b24_update_company");

    expect(b24_batch(client, "{\"a\":\"scope\",\"b\":\"crm.contact.get?id=999999\"}", false),
           "\"failed\":1", "b24_batch reports a per-command error");
    expect(b24_batch(client, "[\"scope\",\"scope\"]", true), "\"not_executed\":[]", "b24_batch array form");

    /* Sync at scale. */
    expect(b24_upsert_contact(client, "{\"NAME\":\"Upsert\",\"UF_CRM_1723100443089\":\"c-guid-1\"}"),
           "\"created\":true", "b24_upsert_contact creates");
    expect(b24_upsert_contact(client, "{\"NAME\":\"Upsert 2\",\"UF_CRM_1723100443089\":\"c-guid-1\"}"),
           "\"created\":false", "b24_upsert_contact updates");
    expect(b24_upsert_company(client, "{\"TITLE\":\"Upsert Co\",\"UF_CRM_1723100288587\":\"co-guid-1\"}"),
           "\"created\":true", "b24_upsert_company");
    expect(b24_set_contact_multifield(client, contact, "PHONE", "[\"+37411111111\",\"+37422222222\"]"),
           "\"changed\":1", "b24_set_contact_multifield");
    expect(b24_set_company_multifield(client, company, "EMAIL", "[\"a@example.com\"]"),
           "\"added\":1", "b24_set_company_multifield");
    expect(b24_set_contact_multifield(client, contact, "NAME", "[]"), "INVALID_FIELD", "multifield name checked");
    struct progress seen = {0, 0, 0};
    expect(b24_bulk_upsert_contacts(client,
               "[{\"NAME\":\"B1\",\"UF_CRM_1723100443089\":\"b-1\"},{\"NAME\":\"B2\",\"UF_CRM_1723100443089\":\"b-2\"}]",
               on_progress, &seen),
           "\"summary\":{\"created\":2,\"updated\":0,\"failed\":0,\"unknown\":0}", "b24_bulk_upsert_contacts");
    CHECK(seen.calls > 0 && seen.done == 2 && seen.total == 2, "progress callback saw the end");
    expect(b24_bulk_upsert_companies(client, "[{\"TITLE\":\"BC\",\"UF_CRM_1723100288587\":\"bc-1\"}]", NULL, NULL),
           "\"created\":1", "b24_bulk_upsert_companies without callback");
    struct progress status = {0, 0, 0};
    expect(b24_bulk_upsert_contacts_ex(client,
               "[{\"ID\":999999,\"NAME\":\"B1x\",\"UF_CRM_1723100443089\":\"b-1\"}]", on_status, &status),
           "\"created\":false", "b24_bulk_upsert_contacts_ex (a stale ID falls back to the GUID)");
    CHECK(status.calls > 0 && status.done == 1 && status.total == 1, "status callback saw the end, no wait");
    expect(b24_bulk_upsert_companies_ex(client, "[{\"TITLE\":\"BC2\",\"UF_CRM_1723100288587\":\"bc-1\"}]", NULL, NULL),
           "\"created\":false", "b24_bulk_upsert_companies_ex without callback");
    /* Matching without a GUID: a company entered by hand (tax ID, no GUID) is adopted. */
    expect(b24_create_company(client, "{\"TITLE\":\"Manual\",\"UF_CRM_1707823114526\":\"c-tax-1\"}"),
           "\"ok\":true", "b24_create_company without a GUID");
    expect(b24_upsert_company(client,
               "{\"fields\":{\"UF_CRM_1707823114526\":\"c-tax-1\",\"UF_CRM_1723100288587\":\"c-m-1\"},"
               "\"match\":[{\"field\":\"UF_CRM_1707823114526\"}],\"dry_run\":true}"),
           "\"action\":\"adopt\"", "b24_upsert_company dry run");
    expect(b24_bulk_upsert_companies(client,
               "{\"records\":[{\"TITLE\":\"M\",\"UF_CRM_1707823114526\":\"c-tax-1\",\"UF_CRM_1723100288587\":\"c-m-1\"}],"
               "\"match\":[{\"field\":\"UF_CRM_1707823114526\"},{\"comm\":\"PHONE\"}]}", NULL, NULL),
           "\"adopted\":true", "b24_bulk_upsert_companies with match rules adopts");
    expect(b24_export(client, "crm.contact.list", "{\"select\":[\"NAME\"]}", NULL, 0), "\"NAME\":\"B2\"", "b24_export");
    expect(b24_export(client, "crm.contact.get", NULL, NULL, 1), "INVALID_METHOD", "b24_export needs a list method");
    expect(b24_pull(client, "crm.contact.list", NULL, "{\"select\":[\"NAME\"]}", NULL, 1), "\"deleted\":[]",
           "b24_pull (first pull, reconcile)");
    expect(b24_pull(client, "crm.contact.list", "not-a-cursor", NULL, NULL, 0), "INVALID_CURSOR",
           "b24_pull refuses a garbage cursor");

    /* Bad input: clear envelopes, no crash. */
    expect(b24_create_contact(NULL, "{}"), "NULL_ARGUMENT", "NULL client");
    expect(b24_create_contact(client, NULL), "NULL_ARGUMENT", "NULL fields");
    expect(b24_create_contact(client, "{\"NAME\":\"\xff\"}"), "INVALID_UTF8", "non-UTF-8");
    expect(b24_create_contact(client, "{oops"), "INVALID_JSON", "invalid JSON");
    expect(b24_get_company(client, 0), "INVALID_ID", "id 0");
    expect(b24_delete_contact(client, -7), "INVALID_ID", "negative id");

    /* One client, several threads. */
    pthread_t threads[4];
    for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, hammer, client);
    for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);

    expect(b24_delete_contact(client, contact), "\"result\":true", "b24_delete_contact");
    expect(b24_delete_company(client, company), "\"result\":true", "b24_delete_company");
    expect(b24_get_contact(client, contact), "\"kind\":\"not_found\"", "deleted contact is gone");

    /* The journal: off by default; with "lines", one line per request (JSON escapes the tabs). */
    expect(b24_journal(client), "{\"ok\":true,\"result\":\"\"}", "b24_journal off by default");
    expect(b24_journal(NULL), "NULL_ARGUMENT", "b24_journal NULL client");
    char journaled[600];
    snprintf(journaled, sizeof journaled,
             "{\"webhook_url\":\"%s\",\"rate_limit\":false,\"journal\":{\"lines\":5}}", argv[1]);
    B24Client *with_journal = b24_client_new(journaled, NULL);
    CHECK(with_journal != NULL, "client with a journal");
    if (with_journal != NULL) {
        expect(b24_call(with_journal, "scope", NULL), "\"crm\"", "a call to journal");
        expect(b24_journal(with_journal), "Z\\tscope\\t200\\t-\\t1\\t", "b24_journal has the call");
        b24_client_free(with_journal);
    }

    b24_client_free(client);
    b24_client_free(NULL);
    b24_string_free(NULL);

    printf("c_abi: %d passed, %d failed\n", checks - failures, failures);
    return failures == 0 ? 0 : 1;
}

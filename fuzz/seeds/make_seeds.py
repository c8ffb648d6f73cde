#!/usr/bin/env python3
"""Writes the hand-made seed inputs of the four fuzz targets into fuzz/seeds/<target>/.

Seeds follow the wire shapes of shared/reference/bitrix24-rest.md (envelopes, errors, batch
answers, list pages). Formats: see fuzz/README.md. Run from anywhere; it rewrites the seed dirs.
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
SECRET = "ZZsecretTOKEN4242"
HOOK = f"http://127.0.0.1:9/rest/1/{SECRET}/"
PORTAL_HOOK = f"https://portal.example.bitrix24.ru/rest/16/{SECRET}/"
CG = "UF_CRM_1723100443089"  # contact GUID field
KG = "UF_CRM_1723100288587"  # company GUID field
UG = "UF_USR_1722587885970"  # user GUID field
RS = "\x1e"  # separates scripted answers


def j(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def write(target, seeds):
    d = os.path.join(HERE, target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for name, data in seeds.items():
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


# --- config: the JSON of b24_client_new ---------------------------------------------------
full = {
    "webhook_url": PORTAL_HOOK,
    "connect_timeout_secs": 10,
    "timeout_secs": 60,
    "max_retries": 5,
    "rate_limit": {"burst": 50, "per_second": 2},
    "proxy": "http://127.0.0.1:3128",
    "guid_fields": {"user": UG, "contact": CG, "company": KG},
    "strict_fields": True,
    "bulk_concurrency": 8,
}
config = {
    "minimal": j({"webhook_url": HOOK}),
    "full": j(full),
    "no-rate-limit": j({"webhook_url": HOOK, "rate_limit": False}),
    "enterprise": j({"webhook_url": HOOK, "rate_limit": {"burst": 250, "per_second": 5}}),
    "rate-limit-null": j({"webhook_url": HOOK, "rate_limit": None, "proxy": ""}),
    "socks5": j({"webhook_url": HOOK, "proxy": "socks5://127.0.0.1:1080"}),
    "socks5h-auth": j({"webhook_url": HOOK, "proxy": "socks5h://user:pass@127.0.0.1:1080"}),
    "https-proxy": j({"webhook_url": HOOK, "proxy": "https://user:p%40ss@127.0.0.1:8443/"}),
    "ipv6-loopback": j({"webhook_url": f"http://[::1]:8080/rest/1/{SECRET}/"}),
    "localhost-login": j({"webhook_url": f"http://localhost/rest/admin.user@x/{SECRET}"}),
    "http-remote": j({"webhook_url": f"http://portal.example.com/rest/1/{SECRET}/"}),
    "ftp": j({"webhook_url": f"ftp://portal.example.com/rest/1/{SECRET}/"}),
    "no-user": j({"webhook_url": f"https://portal.example.com/rest/{SECRET}/"}),
    "method-in-url": j({"webhook_url": f"https://portal.example.com/rest/1/{SECRET}/user.get"}),
    "credentials": j({"webhook_url": f"https://u:p@portal.example.com/rest/1/{SECRET}/"}),
    "query": j({"webhook_url": f"https://portal.example.com/rest/1/{SECRET}/?x=1"}),
    "short-secret": j({"webhook_url": "https://portal.example.com/rest/1/abc/"}),
    "encoded-secret": j({"webhook_url": "https://portal.example.com/rest/1/ab%2F1234/"}),
    "no-scheme": j({"webhook_url": f"portal.example.com/rest/1/{SECRET}/"}),
    "timeout-string": j({"webhook_url": HOOK, "timeout_secs": "x"}),
    "timeout-zero": j({"webhook_url": HOOK, "timeout_secs": 0, "connect_timeout_secs": -1}),
    "timeout-huge": j({"webhook_url": HOOK, "timeout_secs": 1e300}),
    "timeout-tiny": j({"webhook_url": HOOK, "connect_timeout_secs": 1e-9}),
    "retries": j({"webhook_url": HOOK, "max_retries": 4294967295, "bulk_concurrency": 0}),
    "retries-negative": j({"webhook_url": HOOK, "max_retries": -1}),
    "concurrency-big": j({"webhook_url": HOOK, "bulk_concurrency": 18446744073709551615}),
    "rate-zero": j({"webhook_url": HOOK, "rate_limit": {"burst": 0, "per_second": 2}}),
    "rate-extra-key": j({"webhook_url": HOOK, "rate_limit": {"burst": 50, "per_second": 2, "x": 1}}),
    "rate-string": j({"webhook_url": HOOK, "rate_limit": {"burst": "fifty", "per_second": 2}}),
    "guid-user-crm": j({"webhook_url": HOOK, "guid_fields": {"user": "UF_CRM_1"}}),
    "guid-lower": j({"webhook_url": HOOK, "guid_fields": {"contact": "uf_crm_1"}}),
    "guid-long": j({"webhook_url": HOOK, "guid_fields": {"company": "UF_" + "1" * 70}}),
    "unknown-key": j({"webhook_url": HOOK, "bogus": 1}),
    "duplicate-key": '{"webhook_url":"%s","webhook_url":"%s"}' % (HOOK, PORTAL_HOOK),
    "ca-missing": j({"webhook_url": HOOK, "ca_cert_path": "/nonexistent/b24-fuzz/ca.pem"}),
    "proxy-ftp": j({"webhook_url": HOOK, "proxy": "ftp://127.0.0.1:21"}),
    "proxy-no-host": j({"webhook_url": HOOK, "proxy": "http://"}),
    "proxy-bad-port": j({"webhook_url": HOOK, "proxy": "http://127.0.0.1:99999"}),
    "proxy-path": j({"webhook_url": HOOK, "proxy": "http://127.0.0.1:3128/path?q=1"}),
    "proxy-not-url": j({"webhook_url": HOOK, "proxy": "not a url"}),
    "array": "[]",
    "string": j(PORTAL_HOOK),
    "null": "null",
    "truncated": '{"webhook_url":"%s","timeout_secs":' % HOOK,
    "not-utf8": b'{"webhook_url":"\xff\xfe"}',
    "escaped": '{"webhook\\u005furl":"http:\\/\\/127.0.0.1:9\\/rest\\/1\\/%s\\/"}' % SECRET,
}

# --- fields: selector byte + the JSON a caller passes ----------------------------------------
contact = {
    "fields": {
        "NAME": "Иван",
        "LAST_NAME": "Петров",
        "PHONE": [{"VALUE": "+37498888888", "VALUE_TYPE": "WORK"}],
        "EMAIL": [{"VALUE": "ivan@example.com", "VALUE_TYPE": "HOME"}],
        "COMPANY": ["62"],
        "BIRTHDATE": "2001-11-11T02:00:00+02:00",
        "OPENED": "Y",
        CG: "0b9a6c1e-1111-2222-3333-444455556666",
    },
    "params": {"REGISTER_SONET_EVENT": "N"},
}
company = {
    "TITLE": "ООО «Ромашка» & Co",
    "CONTACT": "720",
    KG: "c-guid-1",
    "LOGO": {"filePath": "/tmp/logo.png", "fileName": "logo.png"},
    "UF_CRM_FILES": [{"filePath": "/tmp/a.pdf"}, {"id": 5, "remove": "Y"}],
}
records = [
    {"NAME": "A", CG: "g-1"},
    {"fields": {"NAME": "B", CG: "g-2", "COMPANY": 62}, "params": {"REGISTER_SONET_EVENT": "Y"}},
    {"NAME": "no guid"},
    {"PHOTO": {"filePath": "/tmp/x.jpg"}, CG: "g-3"},
    {"NAME": "number guid", CG: 12345},
    5,
    [],
]
fields = {
    "create-contact": "0" + j(contact),
    "create-company": "1" + j(company),
    "update-contact-multifield-ops": "2" + j({"fields": {"PHONE": [{"ID": "156", "VALUE": ""}, {"ID": "157", "DELETE": "Y"}, {"VALUE": "+1 555", "VALUE_TYPE": "MOBILE"}]}}),
    "update-company-null-links": "3" + j({"COMPANY": None, "CONTACT": None, "CONTACT_ID": [1, 2]}),
    "upsert-contact": "4" + j({"NAME": "A", CG: "g-1", "COMPANY_IDS": ["1"], "COMPANY": ["2"]}),
    "upsert-company-number-guid": "5" + j({"TITLE": "T", KG: 42}),
    "upsert-no-guid": "4" + j({"NAME": "A"}),
    "bulk-contacts": "6" + j(records),
    "bulk-companies": "7" + j([{"TITLE": "T1", KG: "k-1"}, {"TITLE": "T2", KG: "k-1"}]),
    "bulk-not-array": "6" + j({"NAME": "A"}),
    "multifield-phone": "8" + j(["+37498888888", {"VALUE": "+37477000000", "VALUE_TYPE": "MOBILE"}, "+37498888888"]),
    "multifield-company-email": "9" + j([{"VALUE": "x@y.z"}, {"VALUE": " spaced ", "VALUE_TYPE": ""}]),
    "multifield-empty-value": "8" + j([""]),
    "multifield-bad-item": "8" + j([1, None]),
    "multifield-email-id0": chr(ord("0") + 18) + j(["a@b.c"]),
    "update-id0": chr(ord("0") + 12) + j({"NAME": "x"}),
    "update-id-negative": chr(ord("0") + 22) + j({"NAME": "x"}),
    "update-id-max": chr(ord("0") + 32) + j({"NAME": "x"}),
    "fields-not-object": "0" + j({"fields": []}),
    "fields-extra-key": "0" + j({"fields": {"NAME": "x"}, "extra": 1}),
    "params-not-object": "0" + j({"fields": {"NAME": "x"}, "params": 1}),
    "lowercase-keys": "0" + j({"name": "x", "Phone": [], "UF_CRM_X[1]": "y", "a.b c": None}),
    "deep": "0" + j({"UF_CRM_DEEP": [[[[[{"filePath": "/tmp/deep"}]]]]]}),
    "file-empty-path": "0" + j({"PHOTO": {"filePath": ""}}),
    "file-not-string": "0" + j({"PHOTO": {"filePath": 5}}),
    "secret-in-value": "0" + j({"NAME": HOOK, "COMMENTS": f"see {PORTAL_HOOK}"}),
    "secret-in-multifield-name": "8" + j([HOOK]),
    "not-json": "0{\"NAME\":",
    "array": "0[1]",
    "not-utf8": b'0{"NAME":"\xc3\x28"}',
    "big-numbers": "0" + '{"ID":-9223372036854775808,"X":18446744073709551615,"Y":0.1,"Z":-0.0}',
}

# --- batch: the commands JSON of b24_batch ------------------------------------------------
sixty = {f"c{i}": f"crm.contact.get?id={i + 1}" for i in range(60)}
sixty_ref = dict(sixty)
sixty_ref["late"] = "crm.contact.get?id=$result[c0][ID]"
batch = {
    "mixed": j({"a": "crm.contact.get?id=1", "b": {"method": "user.get", "params": {"ID": 1}}}),
    "array": j(["scope", "user.get"]),
    "list-filter": j({"list": {"method": "crm.contact.list", "params": {"filter": {">ID": 0, "@" + CG: ["g-1", "g-2"]}, "select": ["ID", "NAME", CG], "order": {"ID": "ASC"}, "start": -1}}}),
    "chained": j({"get": "crm.contact.get?id=1", "next": "crm.contact.get?id=$result[get][ID]"}),
    "add-encoded": j({"add": {"method": "crm.contact.add", "params": {"fields": {"NAME": "Имя & «Ко»", "PHONE": [{"VALUE": "+374 98", "VALUE_TYPE": "WORK"}], "X": None, "B": True, "N": 1.5}}}}),
    "fifty": j({f"c{i}": "scope" for i in range(50)}),
    "sixty": j(sixty),
    "sixty-cross-reference": j(sixty_ref),
    "array-55": j(["user.get?ID=%d" % i for i in range(55)]),
    "nested-batch": j({"a": "batch?cmd[x]=scope"}),
    "path-escape": j({"a": "../x"}),
    "empty": "{}",
    "empty-array": "[]",
    "number-command": j({"a": 5}),
    "bad-name": j({"a[": "scope"}),
    "params-array": j({"a": {"method": "user.get", "params": [1]}}),
    "params-null": j({"a": {"method": "user.get", "params": None}}),
    "no-method": j({"a": {"params": {"ID": 1}}}),
    "unicode-name": j({"контакт": "crm.contact.get?id=1", "a b": "scope"}),
    "long-name": j({"n" * 101: "scope"}),
    "secret-as-name": j({SECRET: "scope"}),
    "secret-in-query": j({"a": f"crm.contact.get?comment={SECRET}"}),
    "not-json": '{"a":',
    "not-utf8": b'{"a":"scope\xff"}',
}

# --- answers: op byte + scripted answers ("STATUS BODY", separated by 0x1E) ---------------
def ans(*parts):
    return RS.join(parts)


TIME = {"start": 1723800000.1, "finish": 1723800000.2, "duration": 0.1, "processing": 0.05,
        "date_start": "2024-08-16T10:00:00+03:00", "date_finish": "2024-08-16T10:00:00+03:00",
        "operating_reset_at": 1723800600, "operating": 0}
contact_obj = {"ID": "1", "NAME": "Иван", "HAS_PHONE": "Y", CG: "g-1",
               "PHONE": [{"ID": "156", "VALUE_TYPE": "WORK", "VALUE": "+1 555 0100", "TYPE_ID": "PHONE"},
                         {"ID": "157", "VALUE_TYPE": "HOME", "VALUE": "+1 555 0111", "TYPE_ID": "PHONE"}]}
rows = lambda a, b: [{"ID": str(i), "NAME": f"n{i}"} for i in range(a, b)]
batch_ok = {"result": {"result": {"a": contact_obj, "c": [{"ID": "1", UG: "guid-1"}]},
                       "result_error": {"b": {"error": "insufficient_scope", "error_description": ""}},
                       "result_total": {"c": 1}, "result_next": [],
                       "result_time": {"a": TIME}}, "time": TIME}
batch_php_lists = {"result": {"result": [True, True, True], "result_error": [], "result_total": [],
                              "result_next": [], "result_time": []}}
batch_echo = {"result": {"result": {"a": True}, "result_error": {"b": {"error": "ERROR_CORE", "error_description": f"bad url {PORTAL_HOOK}crm.contact.list"}}, "result_total": [], "result_next": [], "result_time": []}}
chunk1 = {"result": {"result": {f"c{i}": {"ID": str(i)} for i in range(50)}, "result_error": [], "result_total": [], "result_next": [], "result_time": []}}
chunk2_err = {"result": {"result": {f"c{i}": {"ID": str(i)} for i in range(50, 59)}, "result_error": {"c59": {"error": "", "error_description": "Not found"}}, "result_total": [], "result_next": [], "result_time": []}}
lookup = {"result": {"result": {"g0": [{"ID": "10", CG: "g-1"}]}, "result_error": [], "result_total": {"g0": 1}, "result_next": [], "result_time": []}}
writes = {"result": {"result": {"r0": True, "r1": 11}, "result_error": [], "result_total": [], "result_next": [], "result_time": []}}
lookup2 = {"result": {"result": {"g0": [{"ID": "10", CG: "g-1"}]}, "result_error": [], "result_total": {"g0": 1}, "result_next": [], "result_time": []}}
writes2 = {"result": {"result": {"r3": True}, "result_error": [], "result_total": [], "result_next": [], "result_time": []}}
writes_err = {"result": {"result": [], "result_error": {"r0": {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}, "r1": {"error": "ERROR_CORE", "error_description": "The field Work e-mail contains an invalid address"}}, "result_total": [], "result_next": [], "result_time": []}}
pages3 = {"result": {"result": {"p0": rows(1, 51), "p1": rows(51, 101), "p2": rows(101, 103)}, "result_error": [], "result_total": {"p0": 0, "p1": 0, "p2": 0}, "result_next": [], "result_time": []}}
answers = {
    "call-ok": "c" + ans("200 " + j({"result": contact_obj, "time": TIME})),
    "call-list-total": "c" + ans("200 " + j({"result": rows(1, 3), "total": "120", "next": 50, "time": TIME})),
    "call-not-found": "c" + ans("400 " + j({"error": "", "error_description": "Not found"})),
    "call-query-limit": "c" + ans("503 " + j({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})),
    "call-operating": "c" + ans("429 " + j({"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked due to operation time limit."})),
    "call-credentials": "c" + ans("401 " + j({"error": "INVALID_CREDENTIALS", "error_description": "Invalid request credentials"})),
    "call-scope": "c" + ans("401 " + j({"error": "insufficient_scope", "error_description": "The request requires higher privileges than provided by the webhook token"})),
    "call-https": "c" + ans("401 " + j({"error": "INVALID_REQUEST", "error_description": "Https required."})),
    "call-method-not-found": "c" + ans("404 " + j({"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"})),
    "call-html-502": "c" + ans("502 <html><body><h1>502 Bad Gateway</h1>\n<p>nginx</p></body></html>"),
    "call-empty": "c" + ans("200 "),
    "call-sql": "c" + ans("500 " + j({"error": "ERROR_CORE", "error_description": "SQL query error!"})),
    "call-argument": "c" + ans("400 " + j({"error": "ERROR_ARGUMENT", "error_description": "Argument 'filter' is not valid", "argument": "filter"})),
    "call-wrong-encoding": "c" + ans("200 " + j({"error": "WRONG_ENCODING", "error_description": "Wrong request encoding"})),
    "call-redirect": "c" + ans("302 "),
    "call-no-result": "c" + ans("200 " + j({"time": TIME})),
    "call-array": "c" + ans("200 [1,2]"),
    "call-error-null": "c" + ans("400 " + j({"error": None, "error_description": {"ru": "Ошибка"}})),
    "call-portal-deleted": "c" + ans("403 " + j({"error": "PORTAL_DELETED", "error_description": "Portal was deleted"})),
    "call-error-echo-masked": "c" + ans("400 " + j({"error": SECRET, "error_description": f"bad {PORTAL_HOOK}"})),
    "call-html-echo-masked": "c" + ans(f"504 <html>timeout for /rest/1/{SECRET}/crm.contact.get</html>"),
    "get-contact": "g" + ans("200 " + j({"result": contact_obj})),
    "batch-ok": "b" + ans("200 " + j(batch_ok)),
    "batch-php-lists": "b" + ans("200 " + j(batch_php_lists)),
    "batch-halt": "h" + ans("200 " + j({"result": {"result": {"a": True}, "result_error": {"b": {"error": "ERROR_CORE", "error_description": "x"}}, "result_total": [], "result_next": [], "result_time": []}})),
    "batch-not-object": "b" + ans("200 " + j({"result": True})),
    "batch-overflow": "b" + ans("200 " + j({"result": {"result": {}, "result_error": {"c": {"error": "ERROR_BATCH_LENGTH_EXCEEDED", "error_description": "Max batch length exceeded"}}}})),
    "batch60-ok": "B" + ans("200 " + j(chunk1), "200 " + j(chunk2_err)),
    "batch60-second-fails": "B" + ans("200 " + j(chunk1), "503 " + j({"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"})),
    "export-short": "e" + ans("200 " + j({"result": rows(1, 4), "total": 0, "time": TIME})),
    "export-two-pages": "e" + ans("200 " + j({"result": rows(1, 51), "total": 0}), "200 " + j({"result": rows(51, 53), "total": 0})),
    "export-stale": "e" + ans("200 " + j({"result": rows(1, 51)}), "200 " + j({"result": rows(1, 51)})),
    "export-no-id": "e" + ans("200 " + j({"result": [{"NAME": "x"}]})),
    "export-empty-map": "e" + ans("200 " + j({"result": {}})),
    "export-batch-pages": "E" + ans("200 " + j(pages3)),
    "export-batch-error": "E" + ans("200 " + j({"result": {"result": [], "result_error": {"p0": {"error": "ACCESS_DENIED", "error_description": "Access denied."}}}})),
    "user-found": "u" + ans("200 " + j({"result": [{"ID": "1", "ACTIVE": True, UG: "guid-1"}], "total": 1})),
    "user-none": "u" + ans("200 " + j({"result": []})),
    "user-field-invisible": "u" + ans("200 " + j({"result": [{"ID": "1"}, {"ID": "2"}], "total": 2})),
    "user-two": "u" + ans("200 " + j({"result": [{"ID": "1", UG: "GUID-1 "}, {"ID": "2", UG: ["x", "guid-1"]}]})),
    "bulk": "k" + ans("200 " + j(lookup), "200 " + j(writes), "200 " + j(lookup2), "200 " + j(writes2)),
    "bulk-write-errors": "k" + ans("200 " + j(lookup), "200 " + j(writes_err)),
    "bulk-lookup-fails": "k" + ans("401 " + j({"error": "insufficient_scope", "error_description": ""})),
    "multifield": "m" + ans("200 " + j({"result": contact_obj}), "200 " + j({"result": True})),
    "multifield-no-phone": "m" + ans("200 " + j({"result": {"ID": "5", "HAS_PHONE": "N"}}), "200 " + j({"result": True})),
    "scope": "s" + ans("200 " + j({"result": ["crm", "user", "task"], "time": TIME})),
    "scope-no-user": "s" + ans("200 " + j({"result": ["crm"]})),
    "scope-not-list": "s" + ans("200 " + j({"result": {"crm": True}})),
    "upsert-add": "p" + ans("200 " + j({"result": [], "total": 0}), "200 " + j({"result": 15})),
    "upsert-update": "p" + ans("200 " + j({"result": [{"ID": "7", CG: "g-1"}]}), "200 " + j({"result": True})),
    "upsert-ambiguous": "p" + ans("200 " + j({"result": [{"ID": "7", CG: "g-1"}, {"ID": "8", CG: "g-1"}]})),
    "upsert-filter-ignored": "p" + ans("200 " + j({"result": [{"ID": "7", CG: "other"}]})),
}

write("config", config)
write("fields", fields)
write("batch", batch)
write("answers", answers)
print({t: len(s) for t, s in [("config", config), ("fields", fields), ("batch", batch), ("answers", answers)]})

//! The C ABI: a thin shim over [`crate::api`]. Every export runs inside [`guard`], which
//! catches panics, and checks its pointers and UTF-8 before any logic runs. No logic lives here.
//!
//! Conventions (also in the generated header): inputs are NUL-terminated UTF-8; every returned
//! `char *` is a new JSON envelope the caller releases with `b24_string_free`; a `B24Client`
//! may be used by several threads at once and is released with `b24_client_free`.

mod crm;
mod sync;

pub use crm::*;
pub use sync::*;

use crate::api::{self, Reply};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

/// An opaque client handle. Create with `b24_client_new`, release with `b24_client_free`.
pub struct B24Client {
    client: Client,
}

/// Runs `f`, turning a panic into an error envelope, and returns the envelope as a new C string.
fn guard(f: impl FnOnce() -> Reply) -> *mut c_char {
    let reply = catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|_| Err(panic_error()));
    into_c_string(api::envelope(&reply))
}

fn panic_error() -> Error {
    Error::new(
        ErrorKind::Server,
        "INTERNAL_PANIC",
        "the library hit an internal error; the call was abandoned",
    )
}

fn into_c_string(s: String) -> *mut c_char {
    // serde_json escapes NUL as \u0000, so an envelope never holds an interior NUL.
    CString::new(s)
        .map(CString::into_raw)
        .unwrap_or(ptr::null_mut())
}

/// Borrows a C string argument as UTF-8.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that outlives the call.
unsafe fn arg_str<'a>(p: *const c_char, name: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::invalid_input(
            "NULL_ARGUMENT",
            format!("{name} is NULL"),
        ));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract above.
    unsafe { CStr::from_ptr(p) }.to_str().map_err(|e| {
        Error::invalid_input(
            "INVALID_UTF8",
            format!("{name} is not valid UTF-8 (byte {})", e.valid_up_to()),
        )
    })
}

/// Like [`arg_str`], but NULL means "not given".
///
/// # Safety
/// As [`arg_str`].
unsafe fn opt_str<'a>(p: *const c_char, name: &str) -> Result<Option<&'a str>, Error> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { arg_str(p, name) }.map(Some)
    }
}

/// Borrows the client behind a handle.
///
/// # Safety
/// `p` must be NULL or a live handle from `b24_client_new`.
unsafe fn arg_client<'a>(p: *const B24Client) -> Result<&'a Client, Error> {
    // SAFETY: a live handle per the caller's contract; only shared access is taken.
    unsafe { p.as_ref() }
        .map(|h| &h.client)
        .ok_or_else(|| Error::invalid_input("NULL_ARGUMENT", "client is NULL"))
}

/// Creates a client from a JSON configuration.
///
/// `config_json`: `{"webhook_url": "https://PORTAL/rest/USER_ID/SECRET/", "timeout_secs": 60,
/// "connect_timeout_secs": 10, "max_retries": 5, "rate_limit": {"burst": 50, "per_second": 2}
/// (or false), "proxy": "http://..." (or https://, socks5://, socks5h://), "ca_cert_path":
/// "/path/ca.pem", "strict_fields": false, "bulk_concurrency": 4, "deadline_secs": 241 (one
/// bound on a whole single operation; default 3 × timeout_secs + execution_limit_secs + 1), "max_response_mb": 64 (larger
/// answers fail with RESPONSE_TOO_LARGE), "execution_limit_secs": 60 (how long the portal may
/// still run a request whose answer was lost; a lookup proves it absent only after that),
/// "share_across_processes": true (pacing and GUID claims shared by every process of the host
/// through files in the temp directory; false: by this process only), "operating_limit_secs":
/// 480 (the portal's operating-time budget per method per 10 minutes; calls slow down from 80 %
/// of it), "operating_window_secs": 600 (the window it is billed in; change only for a test
/// portal), "bulk_deadline_secs": 21600 (the longest a bulk upsert waits for the limits; 0: no
/// bound; records left then are TIME_LIMITED), "batch_target_secs": 20 (server time one bulk
/// write batch should take; batches shrink when writes are slow), "guid_fields": {"user": "UF_USR_...", "contact":
/// "UF_CRM_...", "company": "UF_CRM_..."}, "journal": {"lines": 200, "file": "/path/b24.log"}
/// (the request journal, off by default; see `b24_journal`)}`; only `webhook_url` is required. A bad value of any key (an unusable proxy included) fails here, not per call.
///
/// Returns a new handle, or NULL on failure. When `error_json` is not NULL it receives NULL on
/// success, or on failure a failure envelope `{"ok":false,"error":{...}}` that the caller frees
/// with `b24_string_free`. A NULL or non-UTF-8 `config_json` is a failure, not a crash.
/// Thread-safe.
///
/// # Safety
/// `config_json` must be NULL or a NUL-terminated string; `error_json` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn b24_client_new(
    config_json: *const c_char,
    error_json: *mut *mut c_char,
) -> *mut B24Client {
    let made = catch_unwind(AssertUnwindSafe(|| {
        let cfg = unsafe { arg_str(config_json, "config_json") }?;
        api::new_client(cfg)
    }))
    .unwrap_or_else(|_| Err(panic_error()));
    let (handle, err) = match made {
        Ok(client) => (
            Box::into_raw(Box::new(B24Client { client })),
            ptr::null_mut(),
        ),
        Err(e) => (ptr::null_mut(), into_c_string(api::envelope(&Err(e)))),
    };
    if error_json.is_null() {
        if !err.is_null() {
            // SAFETY: `err` came from CString::into_raw just above and is not shared.
            drop(unsafe { CString::from_raw(err) });
        }
    } else {
        // SAFETY: the caller promised a writable `char **`.
        unsafe { *error_json = err };
    }
    handle
}

/// Releases a client. NULL is ignored. Must not race with calls on the same handle, and a
/// handle must be freed only once. Pooled connections stay with the process for reuse.
///
/// # Safety
/// `client` must be NULL or a live handle from `b24_client_new`.
#[no_mangle]
pub unsafe extern "C" fn b24_client_free(client: *mut B24Client) {
    if client.is_null() {
        return;
    }
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: a live handle from Box::into_raw, freed once per the contract.
        drop(unsafe { Box::from_raw(client) });
    }));
}

/// Releases a string returned by this library. NULL is ignored. Never pass other pointers.
///
/// # Safety
/// `s` must be NULL or a string returned by this library and not yet freed.
#[no_mangle]
pub unsafe extern "C" fn b24_string_free(s: *mut c_char) {
    if s.is_null() {
        return;
    }
    // SAFETY: the string came from CString::into_raw in this library, freed once per contract.
    let _ = catch_unwind(AssertUnwindSafe(|| drop(unsafe { CString::from_raw(s) })));
}

/// The library version, e.g. `"0.1.0"`. A static string: do not free it. Thread-safe.
#[no_mangle]
pub extern "C" fn b24_version() -> *const c_char {
    static VERSION_C: &str = concat!(env!("CARGO_PKG_VERSION"), "\0");
    VERSION_C.as_ptr().cast()
}

/// The request journal of a client: `{"ok":true,"result":"<lines>"}`, the lines of its
/// in-memory ring joined with `\n`, newest last, `""` when the journal is off (the default).
///
/// The journal is asked for in `b24_client_new`'s configuration: `"journal": {"lines": 200,
/// "file": "/var/log/b24.log"}`, both optional; `lines` (0..10000, 0: no ring) is how many of
/// the newest lines are kept in memory, `file` a file one line per request is appended to
/// (several processes may share it). One line per HTTP request, every retry, batch, lookup and
/// upload included, tab-separated: the time it was sent (UTC, ms:
/// `2026-12-02T08:41:56.123Z`), the REST method (`batch` for a batch), the HTTP status (`-`: no
/// answer), the Bitrix error code (`-`: none; `not_sent`, `lost`, `timeout` or `too_large` for
/// a transport failure), the attempt number (1 = first send), the duration (`37ms`) and the
/// request/answer bytes (`512/230`; `512/-` without an answer). The webhook secret never
/// appears. A failed write to the file never fails a request: after the lines, a note
/// `# journal_write_errors<TAB>N<TAB>last error` says how many failed. A NULL client gives a
/// `NULL_ARGUMENT` envelope. Free the result with `b24_string_free`. Thread-safe.
///
/// # Safety
/// `client` must be NULL or a live handle from `b24_client_new`.
#[no_mangle]
pub unsafe extern "C" fn b24_journal(client: *const B24Client) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        Ok(api::Success {
            result: serde_json::Value::String(c.journal_text()).into(),
            ..api::Success::default()
        })
    })
}

/// Calls any REST method. `method` like `"crm.contact.list"` (validated: letters, digits, `_`,
/// `.`); `params_json` a JSON object, or NULL for none. Returns an envelope:
/// `{"ok":true,"result":...,"total"?,"next"?}` or `{"ok":false,"error":{"code","description",
/// "kind","http_status","retryable"}}`. `result` is the portal's JSON text, passed through
/// (the webhook secret masked). A method that is not safe to repeat (`*.add` and other writes)
/// is never re-sent once it may have run: a lost, late, 5xx or garbled answer gives error code
/// `OUTCOME_UNKNOWN` (`details.cause` says which). Free the result with `b24_string_free`.
///
/// # Safety
/// Pointers must be NULL or valid as described; NULL client or method gives an error envelope.
#[no_mangle]
pub unsafe extern "C" fn b24_call(
    client: *const B24Client,
    method: *const c_char,
    params_json: *const c_char,
) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        let m = unsafe { arg_str(method, "method") }?;
        let p = unsafe { opt_str(params_json, "params_json") }?;
        api::call(c, m, p)
    })
}

/// Runs a batch. `commands_json`: `{"name": "method?query", "other": {"method": "...",
/// "params": {...}}}` or an array of such commands. More than 50 commands are split into several
/// requests (references like `$result[name]` must stay within one group of 50). With `halt`, the
/// first failing command stops the rest. Returns `{"ok":true,"result":{"result":{...},
/// "result_error":{name:{"error","error_description","kind"}},"result_total":{...},
/// "result_next":{...},"result_time":{...}},"failed":N,"not_executed":[names]}`, or a failure
/// envelope. The portal expands `$result[`, `$next[`, `$total[`, `$time[`, `$error[` anywhere in
/// a batch value, so a `{"method","params"}` command whose params hold such text is refused
/// (`INVALID_COMMANDS`); write references in `"method?query"` commands. A batch holding a write
/// whose answer was lost or garbled is `OUTCOME_UNKNOWN`, never re-sent. Free with
/// `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_batch(
    client: *const B24Client,
    commands_json: *const c_char,
    halt: bool,
) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        api::batch(c, unsafe { arg_str(commands_json, "commands_json") }?, halt)
    })
}

/// Finds the Bitrix24 user whose 1C GUID field (default `UF_USR_1722587885970`) equals
/// `guid`, and verifies the match. `result` is the user object (`result.ID` is the user ID).
/// No match: `not_found`/`USER_NOT_FOUND`; several: `conflict`/`AMBIGUOUS_GUID` with
/// `details.ids`; field invisible (webhook lacks the `user` scope): `access`/`FIELD_NOT_VISIBLE`.
/// Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_get_user_by_guid(
    client: *const B24Client,
    guid: *const c_char,
) -> *mut c_char {
    guard(|| {
        api::get_user_by_guid(unsafe { arg_client(client) }?, unsafe {
            arg_str(guid, "guid")
        }?)
    })
}

/// Parses an outbound event call: the body the portal POSTs to a handler URL registered with
/// `event.bind` or as an outgoing webhook (`event=ONCRMCONTACTUPDATE&data[FIELDS][ID]=123&...
/// &auth[application_token]=...`, form-encoded with PHP brackets; a JSON object body is read
/// too). Needs no client and sends nothing.
///
/// `body`: the request body, UTF-8, at most 1 MiB, at most 64 bracket levels and 10000 pairs.
/// `content_type`: the request's `Content-Type`, or NULL (or `""`) to tell form from JSON by
/// the body. `expected_token`: the application token of the handler (shown in the outgoing
/// webhook's settings), or NULL (or `""`) not to check it.
///
/// Returns a new envelope; free it with `b24_string_free`. Success: `{"ok":true,"result":
/// {"event":"ONCRMCONTACTUPDATE","id":123,"token_ok":true,"payload":{"event":...,
/// "event_handler_id":"5","data":{"FIELDS":{"ID":"123"}},"ts":"...","auth":{"domain":...,
/// "application_token":"***"}}},"warnings"?:[...]}`: `event` upper-cased; `id` is
/// `data[FIELDS][ID]` as a number, or null; the values of a form body are strings, as sent;
/// `auth.application_token`, `access_token` and `refresh_token`, when present, are `"***"`.
/// `token_ok` is true when `expected_token` was given and matched (compared in constant time),
/// false when it was not given (then a warning says so). When `expected_token` is given, a body
/// whose token differs or is missing is a failure of kind `auth`, code
/// `INVALID_APPLICATION_TOKEN`, holding nothing of the body. A malformed body is `INVALID_EVENT`; over the bounds `EVENT_TOO_LARGE`
/// or `EVENT_TOO_DEEP`; multipart `UNSUPPORTED_CONTENT_TYPE`; a NULL `body` `NULL_ARGUMENT`.
/// No output ever holds either token. Thread-safe.
///
/// # Safety
/// Each pointer must be NULL or a NUL-terminated string that outlives the call.
#[no_mangle]
pub unsafe extern "C" fn b24_parse_event(
    body: *const c_char,
    content_type: *const c_char,
    expected_token: *const c_char,
) -> *mut c_char {
    guard(|| {
        let b = unsafe { arg_str(body, "body") }?;
        let c = unsafe { opt_str(content_type, "content_type") }?;
        let t = unsafe { opt_str(expected_token, "expected_token") }?;
        api::parse_event(b, c, t)
    })
}

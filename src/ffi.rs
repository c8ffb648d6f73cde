//! The C ABI: a thin shim over [`crate::api`]. Every export runs inside [`guard`], which
//! catches panics, and checks its pointers and UTF-8 before any logic runs. No logic lives here.
//!
//! Conventions (also in the generated header): inputs are NUL-terminated UTF-8; every returned
//! `char *` is a new JSON envelope the caller releases with `b24_string_free`; a `B24Client`
//! may be used by several threads at once and is released with `b24_client_free`.

use crate::api::{self, Entity, Reply};
use crate::client::Client;
use crate::error::{Error, ErrorKind};
use std::ffi::{c_char, c_void, CStr, CString};
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
/// "UF_CRM_...", "company": "UF_CRM_..."}}`; only `webhook_url` is required. A bad value of any key (an unusable proxy included) fails here, not per call.
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

/// Shared body of the create functions.
unsafe fn create(
    client: *const B24Client,
    fields_json: *const c_char,
    entity: Entity,
) -> *mut c_char {
    guard(|| {
        api::create(unsafe { arg_client(client) }?, entity, unsafe {
            arg_str(fields_json, "fields_json")
        }?)
    })
}

/// Shared body of the update functions.
unsafe fn update(
    client: *const B24Client,
    id: i64,
    fields_json: *const c_char,
    entity: Entity,
) -> *mut c_char {
    guard(|| {
        api::update(unsafe { arg_client(client) }?, entity, id, unsafe {
            arg_str(fields_json, "fields_json")
        }?)
    })
}

/// Shared body of get/delete.
unsafe fn by_id(
    client: *const B24Client,
    id: i64,
    entity: Entity,
    f: fn(&Client, Entity, i64) -> Reply,
) -> *mut c_char {
    guard(|| f(unsafe { arg_client(client) }?, entity, id))
}

/// Creates a contact (`crm.contact.add`). `fields_json` is the spec's body
/// `{"fields":{...},"params":{...}}` or just the fields object. `"COMPANY": [ids]` is sent as
/// `COMPANY_IDS` (the real field). A `null` value clears the field (it is sent as `""`); `null`
/// for a multi-field (PHONE, EMAIL, WEB, IM, LINK) is `INVALID_FIELDS`. Keys the portal would
/// drop are named in `warnings` (an error with `strict_fields`); with `params.IMPORT` the system
/// fields DATE_CREATE, DATE_MODIFY, CREATED_BY_ID, MODIFY_BY_ID are writable and not reported.
/// `result` is the new ID (a number). Never re-sent once it may have run:
/// a lost, late, 5xx or garbled answer, or one without a positive ID, gives `OUTCOME_UNKNOWN`.
/// Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_create_contact(
    client: *const B24Client,
    fields_json: *const c_char,
) -> *mut c_char {
    unsafe { create(client, fields_json, Entity::Contact) }
}

/// Updates contact `id` (> 0; else `invalid_input`). `fields_json` as for
/// `b24_create_contact`; in PHONE/EMAIL items, an `ID` changes that item, no `ID` adds one, an
/// `ID` with empty `VALUE` deletes it. `result` is `true`. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_update_contact(
    client: *const B24Client,
    id: i64,
    fields_json: *const c_char,
) -> *mut c_char {
    unsafe { update(client, id, fields_json, Entity::Contact) }
}

/// Deletes contact `id` (> 0). `result` is `true`; an unknown ID is `not_found`. Free with
/// `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_delete_contact(client: *const B24Client, id: i64) -> *mut c_char {
    unsafe { by_id(client, id, Entity::Contact, api::delete) }
}

/// Reads contact `id` (> 0). `result` is the contact object (values mostly strings; PHONE and
/// EMAIL items carry their `ID`s). Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_get_contact(client: *const B24Client, id: i64) -> *mut c_char {
    unsafe { by_id(client, id, Entity::Contact, api::get) }
}

/// Describes the contact fields (`crm.contact.fields`: code → `{type, isRequired, isReadOnly,
/// isMultiple, title, items?...}`; enumeration options such as banks are in `items`). Cached for
/// ten minutes per webhook. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_contact_fields(client: *const B24Client) -> *mut c_char {
    guard(|| api::fields(unsafe { arg_client(client) }?, Entity::Contact))
}

/// Creates a company (`crm.company.add`); as `b24_create_contact`, with `"CONTACT": [ids]` sent
/// as `CONTACT_ID`. `result` is the new ID. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_create_company(
    client: *const B24Client,
    fields_json: *const c_char,
) -> *mut c_char {
    unsafe { create(client, fields_json, Entity::Company) }
}

/// Updates company `id` (> 0); as `b24_update_contact`. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_update_company(
    client: *const B24Client,
    id: i64,
    fields_json: *const c_char,
) -> *mut c_char {
    unsafe { update(client, id, fields_json, Entity::Company) }
}

/// Deletes company `id` (> 0). Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_delete_company(client: *const B24Client, id: i64) -> *mut c_char {
    unsafe { by_id(client, id, Entity::Company, api::delete) }
}

/// Reads company `id` (> 0). Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_get_company(client: *const B24Client, id: i64) -> *mut c_char {
    unsafe { by_id(client, id, Entity::Company, api::get) }
}

/// Describes the company fields (`crm.company.fields`), cached for ten minutes. Free with
/// `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_company_fields(client: *const B24Client) -> *mut c_char {
    guard(|| api::fields(unsafe { arg_client(client) }?, Entity::Company))
}

/// Upserts a contact by its 1C GUID: the fields (as for `b24_create_contact`) must carry the
/// GUID in the contact GUID field (default `UF_CRM_1723100443089`). The GUID is trimmed and
/// lower-cased, and written in that form; the portal's filter compares case-insensitively, so
/// GUIDs differing only in case or surrounding spaces are one contact. Finds the contact by that
/// GUID, updates it if found, adds it if not. `"create_only": ["ASSIGNED_BY_ID", ...]` beside
/// `"fields"` names keys sent only when the contact is added (an update leaves them as they are
/// in Bitrix24). An `ID` among the fields is the Bitrix ID of the last sync: that contact is read
/// by ID and updated if it still carries the GUID, without a GUID lookup. `result` is `{"id": N, "created": bool}`.
/// Idempotent: the same upsert twice gives one contact; concurrent upserts of one GUID in this
/// process are serialised; an add whose answer was lost is resolved by looking the GUID up
/// again. Several contacts with the GUID: `conflict`/`AMBIGUOUS_GUID` with `details.ids`. Free
/// with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_upsert_contact(
    client: *const B24Client,
    fields_json: *const c_char,
) -> *mut c_char {
    guard(|| {
        api::upsert(unsafe { arg_client(client) }?, Entity::Contact, unsafe {
            arg_str(fields_json, "fields_json")
        }?)
    })
}

/// Upserts a company by its 1C GUID (default field `UF_CRM_1723100288587`); as
/// `b24_upsert_contact`. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_upsert_company(
    client: *const B24Client,
    fields_json: *const c_char,
) -> *mut c_char {
    guard(|| {
        api::upsert(unsafe { arg_client(client) }?, Entity::Company, unsafe {
            arg_str(fields_json, "fields_json")
        }?)
    })
}

unsafe fn set_multifield(
    client: *const B24Client,
    id: i64,
    field: *const c_char,
    values_json: *const c_char,
    entity: Entity,
) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        let f = unsafe { arg_str(field, "field") }?;
        api::set_multifield(c, entity, id, f, unsafe {
            arg_str(values_json, "values_json")
        }?)
    })
}

/// Makes a multi-field of contact `id` exactly the given list. `field`: `PHONE`, `EMAIL`,
/// `WEB`, `IM` or `LINK`; `values_json`: `["+37498888888", {"VALUE": "+37477000000",
/// "VALUE_TYPE": "MOBILE"}]` (VALUE_TYPE defaults to WORK). One get and one update that
/// overwrites, adds and deletes items by ID. `result` is `{"kept","changed","added","deleted"}`.
/// Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_set_contact_multifield(
    client: *const B24Client,
    id: i64,
    field: *const c_char,
    values_json: *const c_char,
) -> *mut c_char {
    unsafe { set_multifield(client, id, field, values_json, Entity::Contact) }
}

/// Makes a multi-field of company `id` exactly the given list; as
/// `b24_set_contact_multifield`. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_set_company_multifield(
    client: *const B24Client,
    id: i64,
    field: *const c_char,
    values_json: *const c_char,
) -> *mut c_char {
    unsafe { set_multifield(client, id, field, values_json, Entity::Company) }
}

/// Progress of a bulk operation: `done` of `total` records have an outcome. Called on the
/// thread that called the bulk function, with the `user_data` it was given.
pub type B24ProgressFn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, done: u64, total: u64)>;

/// Progress of a bulk operation, with what it waits for: as `B24ProgressFn`, plus `waiting`:
/// NULL while the job works; while it waits for a portal limit to free up, a JSON object
/// `{"reason": "the portal's operating-time limit for crm.contact.add", "until_unix": 1764641234.5,
/// "in_secs": 42}` (UTF-8, NUL-terminated), valid only during the call: copy it to keep it.
/// Called at least once a second during a wait.
pub type B24BulkStatusFn = Option<
    unsafe extern "C" fn(user_data: *mut c_void, done: u64, total: u64, waiting: *const c_char),
>;

unsafe fn bulk(
    client: *const B24Client,
    records_json: *const c_char,
    progress: B24ProgressFn,
    user_data: *mut c_void,
    entity: Entity,
) -> *mut c_char {
    let mut report = |p: &api::Progress| {
        if let Some(f) = progress {
            // SAFETY: the caller's callback, called on the caller's thread with its own data.
            unsafe { f(user_data, p.done as u64, p.total as u64) };
        }
    };
    unsafe { bulk_with(client, records_json, &mut report, entity) }
}

unsafe fn bulk_status(
    client: *const B24Client,
    records_json: *const c_char,
    status: B24BulkStatusFn,
    user_data: *mut c_void,
    entity: Entity,
) -> *mut c_char {
    let mut report = |p: &api::Progress| {
        let Some(f) = status else { return };
        let waiting = p.waiting.as_ref().map(waiting_json);
        let ptr = waiting.as_ref().map_or(std::ptr::null(), |w| w.as_ptr());
        // SAFETY: the caller's callback, on the caller's thread with its own data; `ptr` is
        // NULL or a NUL-terminated string that outlives the call.
        unsafe { f(user_data, p.done as u64, p.total as u64, ptr) };
    };
    unsafe { bulk_with(client, records_json, &mut report, entity) }
}

/// A wait as the status callback's JSON.
fn waiting_json(w: &api::Waiting) -> CString {
    let now = std::time::SystemTime::now();
    let unix = |t: std::time::SystemTime| {
        t.duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    };
    let in_secs = w.until.duration_since(now).map_or(0, |d| d.as_secs());
    let text =
        serde_json::json!({"reason": w.reason, "until_unix": unix(w.until), "in_secs": in_secs});
    // JSON text escapes control characters, so it holds no NUL.
    CString::new(text.to_string()).unwrap_or_default()
}

unsafe fn bulk_with(
    client: *const B24Client,
    records_json: *const c_char,
    report: &mut dyn FnMut(&api::Progress),
    entity: Entity,
) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        let records = unsafe { arg_str(records_json, "records_json") }?;
        api::bulk_upsert(c, entity, records, report)
    })
}

/// Upserts many contacts by 1C GUID. `records_json` is a JSON array of field objects (or
/// `{"fields","params","create_only"}` objects), each carrying its GUID, or
/// `{"records": [...], "create_only": [keys]}` to name create-only keys for every record. GUIDs are looked up with few
/// requests, writes go 50 per `batch` request with several requests in flight, all paced by the
/// portal's shared bucket. `result` has one entry per record, in input order:
/// `{"guid","id","created"}` or `{"guid","error":{...}}`; `summary` is
/// `{"created","updated","failed","unknown"}`: `failed` records were not written; `unknown`
/// ones (`OUTCOME_UNKNOWN`) may have been and were not sent again (check them by GUID). A
/// failed command is never re-sent; commands that did not run are sent again, and a write that
/// may have run only after a GUID lookup made once it can no longer be running
/// (`execution_limit_secs`). Commands a portal limit refused (rate, operating time) go again once
/// it frees up, within `bulk_deadline_secs`; records left past it are `TIME_LIMITED` (not
/// written). An `ID` among a record's fields is the Bitrix ID of its last sync: confirmed by ID
/// instead of a GUID lookup, and the GUID lookup is used if it is gone or holds another GUID.
/// `progress` may be NULL. Files by path are not supported here. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`; `progress`, when not NULL, must be callable with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn b24_bulk_upsert_contacts(
    client: *const B24Client,
    records_json: *const c_char,
    progress: B24ProgressFn,
    user_data: *mut c_void,
) -> *mut c_char {
    unsafe { bulk(client, records_json, progress, user_data, Entity::Contact) }
}

/// Upserts many companies by 1C GUID; as `b24_bulk_upsert_contacts`. Free with
/// `b24_string_free`.
///
/// # Safety
/// As `b24_bulk_upsert_contacts`.
#[no_mangle]
pub unsafe extern "C" fn b24_bulk_upsert_companies(
    client: *const B24Client,
    records_json: *const c_char,
    progress: B24ProgressFn,
    user_data: *mut c_void,
) -> *mut c_char {
    unsafe { bulk(client, records_json, progress, user_data, Entity::Company) }
}

/// `b24_bulk_upsert_contacts` with a status callback that also says what the job waits for
/// (see `B24BulkStatusFn`): a bulk job bound by the portal's limits waits for them to free up,
/// within `bulk_deadline_secs`. `status` may be NULL. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`; `status`, when not NULL, must be callable with `user_data`.
#[no_mangle]
pub unsafe extern "C" fn b24_bulk_upsert_contacts_ex(
    client: *const B24Client,
    records_json: *const c_char,
    status: B24BulkStatusFn,
    user_data: *mut c_void,
) -> *mut c_char {
    unsafe { bulk_status(client, records_json, status, user_data, Entity::Contact) }
}

/// `b24_bulk_upsert_companies` with a status callback; as `b24_bulk_upsert_contacts_ex`. Free
/// with `b24_string_free`.
///
/// # Safety
/// As `b24_bulk_upsert_contacts_ex`.
#[no_mangle]
pub unsafe extern "C" fn b24_bulk_upsert_companies_ex(
    client: *const B24Client,
    records_json: *const c_char,
    status: B24BulkStatusFn,
    user_data: *mut c_void,
) -> *mut c_char {
    unsafe { bulk_status(client, records_json, status, user_data, Entity::Company) }
}

/// Lists every row of a `*.list` method (e.g. `crm.contact.list`) with the ID cursor
/// (`order ID ASC`, `filter >ID`, `start=-1`): no duplicates, no holes, no row counting.
/// `params_json` (may be NULL): `filter` and `select` as for the method. For a
/// `crm.<entity>.list`, filter keys the portal would drop are fixed or reported: a key whose field
/// the list knows in upper case is sent upper-cased (`"name"` → `"NAME"`, `">id"` → `">ID"`);
/// any other unknown key is named in `warnings` (the portal would ignore that condition), or
/// refused with `UNKNOWN_FIELDS` under `strict_fields`. `file_path` NULL:
/// `result` is the array of rows; otherwise the rows are written to that file as a JSON array
/// and `result` is `{"path","count"}`. `pages_per_batch` 1..50 chains that many pages in one
/// `batch` request (0 means 1). `total` is the row count. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_export(
    client: *const B24Client,
    method: *const c_char,
    params_json: *const c_char,
    file_path: *const c_char,
    pages_per_batch: u32,
) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        let m = unsafe { arg_str(method, "method") }?;
        let p = unsafe { opt_str(params_json, "params_json") }?;
        let f = unsafe { opt_str(file_path, "file_path") }?;
        api::export(c, m, p, f, pages_per_batch.max(1) as usize)
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

/// Rows of a legacy `crm.<entity>.list` (`crm.contact.list`, `crm.company.list`, ...) changed
/// since `cursor`, in (DATE_MODIFY, ID) order, each once. `cursor` NULL or empty: every row (the
/// first pull). Envelope: `{"ok":true,"result":[rows],"cursor":"...","deleted":[ids],"total":N}`;
/// store `cursor` and pass it to the next pull (an opaque string; one that was cut or edited is
/// `INVALID_CURSOR`, kind `invalid_input`). Rows modified in the last `settle_secs` seconds
/// (default 2) before the pull's start, by the portal's clock, come in the next pull.
/// `params_json` (may be NULL): `filter` and `select` as for the method, plus `settle_secs`
/// (0..300); the pull sets `order`, `start` and the DATE_MODIFY/ID conditions itself. `date`
/// fields come as `YYYY-MM-DD`, datetimes as the portal wrote them (ISO 8601 with its offset).
/// `reconcile` nonzero: also lists every ID (`select ID` only) and puts the IDs the previous
/// cursor knew that are gone into `deleted`. `file_path` NULL: `result` is the array of rows;
/// otherwise the rows are written to that file as a JSON array and `result` is
/// `{"path","count"}`. One client may pull from several threads; each pull's cursor is its
/// own. Free with `b24_string_free`.
///
/// # Safety
/// As `b24_call`.
#[no_mangle]
pub unsafe extern "C" fn b24_pull(
    client: *const B24Client,
    method: *const c_char,
    cursor: *const c_char,
    params_json: *const c_char,
    file_path: *const c_char,
    reconcile: i32,
) -> *mut c_char {
    guard(|| {
        let c = unsafe { arg_client(client) }?;
        let m = unsafe { arg_str(method, "method") }?;
        let cur = unsafe { opt_str(cursor, "cursor") }?;
        let p = unsafe { opt_str(params_json, "params_json") }?;
        let f = unsafe { opt_str(file_path, "file_path") }?;
        api::pull(c, m, cur, p, f, reconcile != 0)
    })
}

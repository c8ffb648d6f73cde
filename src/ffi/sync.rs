//! The C ABI of sync at scale: upsert by GUID, multi-field replace, bulk upsert with progress,
//! export, and incremental pull.

use super::{arg_client, arg_str, guard, opt_str, B24Client};
use crate::api::{self, Entity};
use std::ffi::{c_char, c_void, CString};

/// Upserts a contact by its 1C GUID: the fields (as for `b24_create_contact`) must carry the
/// GUID in the contact GUID field (default `UF_CRM_1723100443089`). The GUID is trimmed and
/// lower-cased, and written in that form; the portal's filter compares case-insensitively, so
/// GUIDs differing only in case or surrounding spaces are one contact. Finds the contact by that
/// GUID, updates it if found, adds it if not. `"create_only": ["ASSIGNED_BY_ID", ...]` beside
/// `"fields"` names keys sent only when the contact is added (an update leaves them as they are
/// in Bitrix24). `"exact": ["PHONE", "EMAIL"]` makes those multi-fields hold exactly the given
/// lists (items holding a wanted value are kept; phones compared by digits); an empty list
/// deletes only with `"exact_clears": true`. An `ID` among the fields is the Bitrix ID of the last sync: that contact is read
/// by ID and updated if it still carries the GUID, without a GUID lookup. `result` is `{"id": N, "created": bool}`.
/// Idempotent: the same upsert twice gives one contact; concurrent upserts of one GUID in this
/// process are serialised; an add whose answer was lost is resolved by looking the GUID up
/// again. Several contacts with the GUID: `conflict`/`AMBIGUOUS_GUID` with `details.ids`.
///
/// Matching without a GUID (first sync): `"match": [{"field": "UF_CRM_…"}, {"comm": "PHONE"},
/// {"comm": "EMAIL"}, {"fields": ["NAME", "LAST_NAME"]}]` beside `"fields"` (default: the
/// configuration's `"match": {"contact": [...], "company": [...]}`; `[]` turns it off). When the
/// GUID is not found the rules are tried in order; `comm` rules use `crm.duplicate.findbycomm`
/// (phones compared as the portal normalises them). The first rule that finds exactly one
/// entity with an empty GUID field adopts it: it is updated with the fields, the GUID among them,
/// and `result` is `{"id": N, "created": false, "adopted": true}`. Several: `conflict` /
/// `MATCH_CONFLICT` with `details` `{"ids", "rule"}`, nothing written. Entities carrying another
/// GUID are never adopted (named in `warnings`). `"dry_run": true` writes nothing and returns
/// `{"guid", "action": "create"|"update"|"adopt"|"conflict", "id", "rule", "conflict":
/// {"ids","rule"}, "other_guid_ids"}`. Free with `b24_string_free`.
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
/// `{"fields","params","create_only","exact","exact_clears"}` objects), each carrying its GUID,
/// or `{"records": [...], "create_only": [keys], "exact": [multi-fields], "exact_clears": bool}`
/// to give those for every record. Exact multi-fields of updates are resolved against the
/// current items, read in batched `@ID` lists (not a get per record). GUIDs are looked up with few
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
/// Values given by name or by user GUID are mapped as for `b24_create_contact`, with one
/// `crm.status.list` per list type and one batch of `user.get` for the job's distinct user
/// GUIDs; a record whose value fails (strict) or whose user GUID several users hold fails alone.
/// `progress` may be NULL. Files by path are not supported here.
///
/// Matching without a GUID: `{"records": [...], "match": [rules], "dry_run": false}` (rules as
/// for `b24_upsert_contact`; default: the configuration's `"match"`). Records whose GUID is not
/// found are matched in batched lookups (`@` list filters of 50 values, findbycomm commands of
/// 20, 50 commands per request); an adopted record is `{"guid","id","created":false,
/// "adopted":true,"rule"}`, several candidates (or an entity an earlier record of the call
/// adopted) a per-record `MATCH_CONFLICT` error with `details.ids`; `other_guid_ids` names
/// matching entities left alone because they carry another GUID; `summary` gains `adopted`.
/// With `"dry_run": true` nothing is written: each record is `{"guid","action":"create"|
/// "update"|"adopt"|"conflict","id"}` and `summary` is `{"create","update","adopt","conflict",
/// "failed"}`. Free with `b24_string_free`.
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

//! The C ABI of the CRM operations: create, update, get, delete and describe contacts and
//! companies.

use super::{arg_client, arg_str, guard, B24Client};
use crate::api::{self, Entity, Reply};
use crate::client::Client;
use std::ffi::c_char;

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
/// A list (enumeration) field may be given by its item's name: it is sent as the item's ID; a
/// value the field's items do not hold is named in `warnings` (`INVALID_VALUE` with
/// `strict_fields`, nothing sent). A reference-list field (`crm_status`: TYPE_ID, SOURCE_ID,
/// COMPANY_TYPE...) may be given by its item's name (`"TYPE_ID": "Դիմորդ"` → `"UC_DIUN9M"`, from
/// `crm.status.list`, cached 10 min, fetched only when such a field holds a value); a value
/// that is neither a STATUS_ID nor a name is named in `warnings` likewise (`INVALID_VALUE`
/// with `strict_fields`). A user field may be given by the user's 1C GUID,
/// `"ASSIGNED_BY_ID": {"guid": "…"}`, looked up (one `user.get`) before anything is sent: no
/// such user is a warning and the field is left out (`INVALID_VALUE` with `strict_fields`),
/// several are `conflict`/`AMBIGUOUS_GUID` with `details.ids`, nothing sent.
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
/// `ID` with empty `VALUE` deletes it; or `{"fields": {...}, "exact": ["PHONE", ...]}` makes the
/// named multi-fields exactly the given lists (one `get` first; an empty list deletes only with
/// `"exact_clears": true`). `result` is `true`. Free with `b24_string_free`.
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

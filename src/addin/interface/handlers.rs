//! The handlers the method table names: each reads its parameters, then calls [`crate::api`].

use super::Args;
use crate::api::{self, Entity, Reply};
use crate::client::Client;
use crate::error::{Error, ErrorKind};

/// The error of a call made before `Connect`.
pub fn not_connected() -> Error {
    Error::new(
        ErrorKind::InvalidInput,
        "NOT_CONNECTED",
        "not connected: call Connect (Подключить) or set WebhookURL (АдресВебхука) first",
    )
}

// Handlers read (and so validate) their parameters before asking for the client, so bad input is
// reported as such even before Connect.
pub(super) fn connected(c: Option<&Client>) -> Result<&Client, Error> {
    c.ok_or_else(not_connected)
}

pub(super) fn check_connection(c: Option<&Client>, _: &Args) -> Reply {
    api::check_connection(connected(c)?)
}

pub(super) fn call(c: Option<&Client>, a: &Args) -> Reply {
    let (method, params) = (a.string(0)?, a.opt_string(1)?);
    api::call(connected(c)?, &method, params.as_deref())
}

pub(super) fn batch(c: Option<&Client>, a: &Args) -> Reply {
    let (commands, halt) = (a.string(0)?, a.flag(1)?);
    api::batch(connected(c)?, &commands, halt)
}

pub(super) fn user_by_guid(c: Option<&Client>, a: &Args) -> Reply {
    let guid = a.string(0)?;
    api::get_user_by_guid(connected(c)?, &guid)
}

pub(super) fn create(c: Option<&Client>, a: &Args, e: Entity) -> Reply {
    let fields = a.string(0)?;
    api::create(connected(c)?, e, &fields)
}

pub(super) fn update(c: Option<&Client>, a: &Args, e: Entity) -> Reply {
    let (id, fields) = (a.id(0)?, a.string(1)?);
    api::update(connected(c)?, e, id, &fields)
}

pub(super) fn delete(c: Option<&Client>, a: &Args, e: Entity) -> Reply {
    let id = a.id(0)?;
    api::delete(connected(c)?, e, id)
}

pub(super) fn get(c: Option<&Client>, a: &Args, e: Entity) -> Reply {
    let id = a.id(0)?;
    api::get(connected(c)?, e, id)
}

pub(super) fn fields(c: Option<&Client>, e: Entity) -> Reply {
    api::fields(connected(c)?, e)
}

pub(super) fn upsert(c: Option<&Client>, a: &Args, e: Entity) -> Reply {
    let fields = a.string(0)?;
    api::upsert(connected(c)?, e, &fields)
}

pub(super) fn set_multifield(c: Option<&Client>, a: &Args, e: Entity) -> Reply {
    let (id, field, values) = (a.id(0)?, a.string(1)?, a.string(2)?);
    api::set_multifield(connected(c)?, e, id, &field, &values)
}

pub(super) fn bulk_upsert(
    c: Option<&Client>,
    a: &Args,
    progress: &mut dyn FnMut(&api::Progress),
    cancel: &api::Cancel,
    e: Entity,
) -> Reply {
    let records = a.string(0)?;
    api::bulk_upsert_with(connected(c)?, e, &records, progress, cancel)
}

pub(super) fn export(
    c: Option<&Client>,
    a: &Args,
    _: &mut dyn FnMut(&api::Progress),
    cancel: &api::Cancel,
) -> Reply {
    let (method, params, path) = (a.string(0)?, a.opt_string(1)?, a.opt_string(2)?);
    let pages = a.opt_count(3, 1, 50)?;
    let (params, path) = (params.as_deref(), path.as_deref());
    api::export_with(connected(c)?, &method, params, path, pages, cancel)
}

/// `ParseEvent`: the body as a String, or as `ДвоичныеДанные` (`ПолучитьТелоКакДвоичныеДанные`).
pub(super) fn parse_event(_: Option<&Client>, a: &Args) -> Reply {
    let body = a.bytes(0)?;
    let body = String::from_utf8(body).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        Error::invalid_input(
            "INVALID_UTF8",
            format!("Body is not valid UTF-8 (byte {at})"),
        )
    })?;
    let (content_type, token) = (a.opt_string(1)?, a.opt_string(2)?);
    api::parse_event(&body, content_type.as_deref(), token.as_deref())
}

/// `PullChanges`: an empty `Cursor` is the first pull (every row).
pub(super) fn pull_changes(c: Option<&Client>, a: &Args) -> Reply {
    let (method, cursor) = (a.string(0)?, a.opt_string(1)?);
    let (params, path, reconcile) = (a.opt_string(2)?, a.opt_string(3)?, a.flag(4)?);
    api::pull(
        connected(c)?,
        &method,
        cursor.as_deref(),
        params.as_deref(),
        path.as_deref(),
        reconcile,
    )
}

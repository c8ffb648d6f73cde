//! The table: for each of the library's own error codes, its Russian lead and its (English,
//! Russian) description patterns, in one file per area. Data only; [`super`] matches and fills
//! them.

mod addin;
mod input;
mod operations;
mod wire;

/// The Russian texts of one code.
pub(in crate::error::ru) struct Entry {
    pub(in crate::error::ru) code: &'static str,
    pub(in crate::error::ru) lead: &'static str,
    /// (English pattern, Russian pattern), tried in order: put the specific before the general.
    pub(in crate::error::ru) patterns: &'static [(&'static str, &'static str)],
}

pub(super) const fn e(
    code: &'static str,
    lead: &'static str,
    patterns: &'static [(&'static str, &'static str)],
) -> Entry {
    Entry {
        code,
        lead,
        patterns,
    }
}

/// The answer that is not Bitrix's envelope, whatever its code (`HTTP_502`, `EMPTY_RESPONSE`,
/// `INVALID_RESPONSE`).
pub(super) const NON_JSON: [(&str, &str); 3] = [
    ("HTTP {} with an empty body", "HTTP {}, пустое тело ответа"),
    (
        "HTTP {} with a non-JSON body: {}",
        "HTTP {}, тело ответа не в формате JSON: {}",
    ),
    (
        "HTTP {} without an error object",
        "HTTP {} без объекта ошибки",
    ),
];

/// The codes that start with `HTTP_` and end with the status.
const HTTP: Entry = e("HTTP_", "портал ответил ошибкой HTTP", &NON_JSON);
/// Every area's entries.
const PARTS: [&[Entry]; 4] = [addin::TABLE, input::TABLE, operations::TABLE, wire::TABLE];

/// All entries, area by area.
pub(in crate::error::ru) fn all() -> impl Iterator<Item = &'static Entry> {
    PARTS.into_iter().flatten()
}

/// The entry of `code`: its own, or the one of every `HTTP_<status>`.
pub(in crate::error::ru) fn entry(code: &str) -> Option<&'static Entry> {
    if let Some(status) = code.strip_prefix("HTTP_") {
        if !status.is_empty() && status.bytes().all(|b| b.is_ascii_digit()) {
            return Some(&HTTP);
        }
    }
    all().find(|e| e.code == code)
}

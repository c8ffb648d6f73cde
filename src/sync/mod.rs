//! Sync at scale: idempotent upsert by 1C GUID, multi-field replace, bulk upsert at the portal's
//! rate ceiling, and full export by ID cursor.
//!
//! - [`guid`]: GUID claims (one upsert of a GUID at a time in this process) and lookups;
//! - [`upsert`]: one record;
//! - `matching`: finding a record's entity without its GUID (first sync), by match rules;
//! - [`multifield`]: make a PHONE/EMAIL/... list exact;
//! - [`bulk`]: many records through `batch`;
//! - `cancel`: stopping a long job from another thread;
//! - [`export`]: every row of a list by ID cursor;
//! - [`pull`]: the rows changed since a cursor, and the IDs deleted since.

mod bulk;
mod cancel;
mod export;
mod guid;
mod matching;
mod multifield;
mod pull;
mod settle;
mod upsert;

pub use bulk::{bulk_upsert, BulkOptions, Progress, Waiting};
pub use cancel::{cancelled, Cancel};
pub use export::export;
pub use guid::find_by_guid;
pub use matching::{parse_rules, Comm, MatchOptions, MatchRules, Rule};
pub use multifield::{replace_multifield, Replaced, MULTI_FIELDS};
pub use pull::{pull, PullOptions, Pulled, MAX_IDS};
pub use upsert::{plan_upsert, upsert, upsert_with, Upserted};

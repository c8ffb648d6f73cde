//! The 1C:Enterprise Native API component: a thin shim over [`crate::api`].
//!
//! BSL usage:
//! ```text
//! ПодключитьВнешнююКомпоненту("ОбщийМакет.Bitrix24", "B24", ТипВнешнейКомпоненты.Native);
//! Клиент = Новый("AddIn.B24.Bitrix24");
//! Ответ = Клиент.Подключить("https://portal.bitrix24.ru/rest/1/secret/");
//! ```
//!
//! Layout of the module:
//! - [`interface`]: the one table of methods and properties (names, parameters, handlers);
//! - `component`: the per-object state and behaviour, safe Rust;
//! - `value`, `text`: safe conversions of parameters and UTF-16 text;
//! - `raw`: the ABI (`tVariant`, vtables, exports) — the only `unsafe` code of the layer.
//!
//! The exported functions (`GetClassNames`, `GetClassObject`, `DestroyObject`,
//! `SetPlatformCapabilities`, `GetAttachType`) are defined in `raw` and re-exported here.

mod component;
pub mod interface;
mod jobs;
mod raw;
pub mod text;
pub mod value;

pub use raw::{
    DestroyObject, GetAttachType, GetClassNames, GetClassObject, SetPlatformCapabilities,
};

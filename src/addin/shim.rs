//! TEMPORARY stand-ins until the core's Lang and in-memory files land (removed at merge).
#![allow(dead_code)]
use crate::api::Reply;
use crate::error::Error;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Ru,
}
impl Lang {
    pub fn from_locale(l: &str) -> Lang {
        if l.to_lowercase().starts_with("ru") {
            Lang::Ru
        } else {
            Lang::En
        }
    }
}
pub fn envelope_in(r: &Reply, _l: Lang) -> String {
    crate::api::envelope(r)
}
pub trait ErrExt {
    fn last_error_text_in(&self, l: Lang) -> String;
}
impl ErrExt for Error {
    fn last_error_text_in(&self, _l: Lang) -> String {
        self.last_error_text()
    }
}
pub struct StoredFile {
    pub token: String,
    pub name: String,
    pub size: usize,
}
pub fn store(name: String, bytes: Vec<u8>) -> Result<StoredFile, Error> {
    Ok(StoredFile {
        token: "mem:0".into(),
        name,
        size: bytes.len(),
    })
}
pub fn release(_t: &[String]) {}

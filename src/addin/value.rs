//! Values crossing the boundary, in safe owned form.
//!
//! [`Value`] is what a `tVariant` parameter held (read by the `raw` module); [`Out`] is what the
//! component hands back. The conversions here are the tolerant readings the interface promises:
//! strings from PWSTR or UTF-8 PSTR, IDs from any integral number or a string of digits, flags
//! from BOOL or a number.

use super::text;
use crate::error::Error;

/// A parameter or property value as read from a `tVariant`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `VTYPE_EMPTY` (BSL `Неопределено`; for an optional parameter it means "the default").
    Empty,
    /// `VTYPE_NULL`.
    Null,
    /// `VTYPE_BOOL`.
    Bool(bool),
    /// Any signed integer type (I1, I2, I4, INT, I8, ERROR).
    Int(i64),
    /// Any unsigned integer type (UI1, UI2, UI4, UINT, UI8).
    UInt(u64),
    /// R4 or R8.
    Float(f64),
    /// `VTYPE_PWSTR`: UTF-16 units, without terminator (length from `wstrLen`).
    Utf16(Vec<u16>),
    /// `VTYPE_PSTR`: bytes taken as UTF-8 (length from `strLen`).
    Utf8(Vec<u8>),
    /// `VTYPE_BLOB`: `ДвоичныеДанные`, bytes (length from `strLen`).
    Blob(Vec<u8>),
    /// A type the interface does not accept (its `vt` code).
    Unsupported(u16),
    /// The variant itself was unusable (null pointer, null data with a nonzero length...).
    Malformed(&'static str),
}

/// A value handed back to 1C.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    /// A string (written as PWSTR allocated with the platform's memory manager).
    Str(String),
    /// A shared string (the last envelope, kept for `LastResponse` without a copy).
    Shared(std::sync::Arc<str>),
    /// A boolean.
    Bool(bool),
    /// A number.
    F64(f64),
}

impl Out {
    /// The text of a string value.
    pub fn text(&self) -> Option<&str> {
        match self {
            Out::Str(s) => Some(s),
            Out::Shared(s) => Some(s),
            _ => None,
        }
    }
}

fn wrong_type(name: &str, wanted: &str, got: &Value) -> Error {
    Error::invalid_input(
        "WRONG_PARAM_TYPE",
        format!("{name} must be {wanted}, got {}", got.type_name()),
    )
}

fn missing(name: &str) -> Error {
    Error::invalid_input("MISSING_PARAM", format!("{name} is required"))
}

impl Value {
    /// A short human name of the value's type, for error messages.
    pub fn type_name(&self) -> String {
        match self {
            Value::Empty => "Undefined".into(),
            Value::Null => "Null".into(),
            Value::Bool(_) => "Boolean".into(),
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => "Number".into(),
            Value::Utf16(_) | Value::Utf8(_) => "String".into(),
            Value::Blob(_) => "BinaryData".into(),
            Value::Unsupported(vt) => format!("an unsupported type (vt {vt})"),
            Value::Malformed(why) => format!("a malformed value ({why})"),
        }
    }

    /// The value as text if it is a string; `None` for Empty/Null; an error otherwise.
    pub fn text(&self, name: &str) -> Result<Option<String>, Error> {
        match self {
            Value::Empty | Value::Null => Ok(None),
            Value::Utf16(u) => text::from_utf16(u).map(Some),
            Value::Utf8(b) => String::from_utf8(b.clone()).map(Some).map_err(|e| {
                Error::invalid_input(
                    "INVALID_UTF8",
                    format!(
                        "{name} is not valid UTF-8 (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                )
            }),
            other => Err(wrong_type(name, "a String", other)),
        }
    }

    /// A required string parameter.
    pub fn required_string(&self, name: &str) -> Result<String, Error> {
        self.text(name)?.ok_or_else(|| missing(name))
    }

    /// An optional string parameter: Empty, Null and `""` all mean "not given".
    pub fn optional_string(&self, name: &str) -> Result<Option<String>, Error> {
        Ok(self.text(name)?.filter(|s| !s.is_empty()))
    }

    /// An entity ID: any integral number (I*, UI*, or an R4/R8 without fraction) or a string of
    /// ASCII digits (surrounding spaces allowed).
    pub fn id(&self, name: &str) -> Result<i64, Error> {
        let bad = |what: String| Error::invalid_input("INVALID_ID", format!("{name}: {what}"));
        match self {
            Value::Int(i) => Ok(*i),
            Value::UInt(u) => i64::try_from(*u).map_err(|_| bad(format!("{u} is too large"))),
            Value::Float(f) => {
                // 2^63 is exact in f64; anything at or past it does not fit i64.
                const TWO_63: f64 = 9_223_372_036_854_775_808.0;
                if f.is_finite() && f.fract() == 0.0 && *f >= -TWO_63 && *f < TWO_63 {
                    Ok(*f as i64)
                } else {
                    Err(bad(format!("{f} is not an integer")))
                }
            }
            Value::Utf16(_) | Value::Utf8(_) => {
                let s = self.required_string(name)?;
                let t = s.trim();
                if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad(format!("{s:?} is not a number")));
                }
                t.parse::<i64>()
                    .map_err(|_| bad(format!("{t} is too large")))
            }
            Value::Empty | Value::Null => Err(missing(name)),
            other => Err(wrong_type(name, "a Number or a String of digits", other)),
        }
    }

    /// Bytes: `ДвоичныеДанные` as they are, or a string's UTF-8; Empty/Null give `None`.
    pub fn bytes(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        match self {
            Value::Blob(b) => Ok(Some(b.clone())),
            other => Ok(other.text(name)?.map(String::into_bytes)),
        }
    }

    /// Required bytes (see [`Value::bytes`]).
    pub fn required_bytes(&self, name: &str) -> Result<Vec<u8>, Error> {
        self.bytes(name)?.ok_or_else(|| missing(name))
    }

    /// A flag: BOOL, or a number (nonzero is true); Empty/Null give `default`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, Error> {
        match self {
            Value::Empty | Value::Null => Ok(default),
            Value::Bool(b) => Ok(*b),
            Value::Int(i) => Ok(*i != 0),
            Value::UInt(u) => Ok(*u != 0),
            Value::Float(f) if !f.is_nan() => Ok(*f != 0.0),
            other => Err(wrong_type(name, "a Boolean", other)),
        }
    }

    /// A number of seconds: any number, finite and not negative.
    pub fn seconds(&self, name: &str) -> Result<f64, Error> {
        let secs = match self {
            Value::Int(i) => *i as f64,
            Value::UInt(u) => *u as f64,
            Value::Float(f) => *f,
            other => return Err(wrong_type(name, "a Number", other)),
        };
        if secs.is_finite() && secs >= 0.0 {
            Ok(secs)
        } else {
            Err(Error::invalid_input(
                "INVALID_TIMEOUT",
                format!("{name} must be a finite, non-negative number of seconds, got {secs}"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn w(s: &str) -> Value {
        Value::Utf16(s.encode_utf16().collect())
    }

    #[test]
    fn strings_from_pwstr_and_pstr() {
        assert_eq!(w("Привет").required_string("X").unwrap(), "Привет");
        assert_eq!(
            Value::Utf8("Բարև".as_bytes().to_vec())
                .required_string("X")
                .unwrap(),
            "Բարև"
        );
        assert_eq!(
            Value::Empty.required_string("X").unwrap_err().code,
            "MISSING_PARAM"
        );
        assert_eq!(
            Value::Int(1).required_string("X").unwrap_err().code,
            "WRONG_PARAM_TYPE"
        );
        assert_eq!(
            Value::Utf8(vec![0xFF])
                .required_string("X")
                .unwrap_err()
                .code,
            "INVALID_UTF8"
        );
        let e = Value::Utf16(vec![0x41, 0xD800])
            .required_string("X")
            .unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_str()),
            (ErrorKind::InvalidInput, "INVALID_UTF16")
        );
        assert_eq!(w("").optional_string("X").unwrap(), None);
        assert_eq!(Value::Empty.optional_string("X").unwrap(), None);
        assert_eq!(w("{}").optional_string("X").unwrap().as_deref(), Some("{}"));
        assert!(Value::Bool(true).optional_string("X").is_err());
    }

    #[test]
    fn ids_from_numbers_and_digit_strings() {
        assert_eq!(Value::Int(42).id("ID").unwrap(), 42);
        assert_eq!(Value::Int(5_000_000_000).id("ID").unwrap(), 5_000_000_000);
        assert_eq!(Value::UInt(7).id("ID").unwrap(), 7);
        assert_eq!(Value::Float(12.0).id("ID").unwrap(), 12);
        assert_eq!(Value::Float(3e9).id("ID").unwrap(), 3_000_000_000);
        assert_eq!(w(" 123 ").id("ID").unwrap(), 123);
        assert_eq!(Value::Utf8(b"77".to_vec()).id("ID").unwrap(), 77);
        for bad in [
            Value::Float(1.5),
            Value::Float(f64::NAN),
            Value::Float(1e19),
            Value::UInt(u64::MAX),
            w("12a"),
            w(""),
            w("-5"),
            w("99999999999999999999"),
        ] {
            assert_eq!(bad.id("ID").unwrap_err().code, "INVALID_ID", "{bad:?}");
        }
        assert_eq!(Value::Empty.id("ID").unwrap_err().code, "MISSING_PARAM");
        assert_eq!(
            Value::Bool(true).id("ID").unwrap_err().code,
            "WRONG_PARAM_TYPE"
        );
        assert_eq!(
            Value::Unsupported(9).id("ID").unwrap_err().kind,
            ErrorKind::InvalidInput
        );
    }

    #[test]
    fn flags_and_seconds() {
        assert!(!Value::Empty.flag("Halt", false).unwrap());
        assert!(Value::Empty.flag("Halt", true).unwrap());
        assert!(Value::Bool(true).flag("Halt", false).unwrap());
        assert!(Value::Int(1).flag("Halt", false).unwrap());
        assert!(!Value::Float(0.0).flag("Halt", true).unwrap());
        assert!(w("true").flag("Halt", false).is_err());
        assert_eq!(Value::Int(30).seconds("Timeout").unwrap(), 30.0);
        assert_eq!(Value::Float(2.5).seconds("Timeout").unwrap(), 2.5);
        assert_eq!(
            Value::Float(-1.0).seconds("Timeout").unwrap_err().code,
            "INVALID_TIMEOUT"
        );
        assert_eq!(
            Value::Float(f64::INFINITY)
                .seconds("Timeout")
                .unwrap_err()
                .code,
            "INVALID_TIMEOUT"
        );
        assert_eq!(
            w("5").seconds("Timeout").unwrap_err().code,
            "WRONG_PARAM_TYPE"
        );
    }
}

//! UTF-16 text and member names: the pure, safe half of string handling.
//!
//! 1C passes text as UTF-16 (`WCHAR_T`, 2 bytes on every platform). Conversion is exact: a
//! surrogate pair becomes one scalar value, and an unpaired surrogate is an `invalid_input`
//! error rather than a silent U+FFFD, so what reaches Bitrix is exactly what 1C sent.

use crate::error::Error;

/// Decodes UTF-16 units (no terminator) into a `String`.
///
/// An unpaired surrogate gives an `invalid_input` error with code `INVALID_UTF16` that names the
/// offending unit and its position.
pub fn from_utf16(units: &[u16]) -> Result<String, Error> {
    let mut out = String::with_capacity(units.len());
    let mut pos = 0usize;
    for item in char::decode_utf16(units.iter().copied()) {
        match item {
            Ok(c) => {
                out.push(c);
                pos += c.len_utf16();
            }
            Err(e) => {
                return Err(Error::invalid_input(
                    "INVALID_UTF16",
                    format!(
                        "the string has an unpaired UTF-16 surrogate 0x{:04X} at position {pos}",
                        e.unpaired_surrogate()
                    ),
                ))
            }
        }
    }
    Ok(out)
}

/// Encodes `s` as UTF-16 units followed by a NUL terminator.
pub fn to_utf16z(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

/// An ASCII string as a NUL-terminated UTF-16 array, at compile time (for static names).
///
/// `N` must be `s.len() + 1`; anything else, or a non-ASCII byte, fails const evaluation.
pub const fn ascii_utf16z<const N: usize>(s: &str) -> [u16; N] {
    let bytes = s.as_bytes();
    assert!(bytes.len() + 1 == N, "N must be the length plus one");
    let mut out = [0u16; N];
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i] < 0x80, "ASCII only");
        out[i] = bytes[i] as u16;
        i += 1;
    }
    out
}

/// True when two member names are equal ignoring case, with full Unicode case folding by
/// lower-casing (so Cyrillic `СоздатьКонтакт` matches `создатьконтакт` and `СОЗДАТЬКОНТАКТ`).
///
/// 1C's own sample compares case-sensitively, but BSL itself is case-insensitive and whether the
/// platform normalises names before `FindMethod` is not documented, so be lenient.
pub fn names_match(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// Finds `name` among `(en, ru)` pairs, returning the index of the first pair that matches either
/// name case-insensitively.
pub fn find_name<'a>(
    name: &str,
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Option<usize> {
    pairs
        .into_iter()
        .position(|(en, ru)| names_match(name, en) || names_match(name, ru))
}

/// The status line 1C shows while a bulk method runs: the count, and while the job waits for a
/// portal limit, which limit and when the next attempt goes.
pub fn status_line(p: &crate::api::Progress) -> String {
    let count = format!("Bitrix24: {} / {}", p.done, p.total);
    match &p.waiting {
        None => count,
        Some(w) => {
            let left = w
                .until
                .duration_since(std::time::SystemTime::now())
                .map_or(0, |d| d.as_secs());
            format!(
                "{count}, waiting for {}: next attempt in {left} s",
                w.reason
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn units(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn round_trips_cyrillic_armenian_and_astral() {
        for s in [
            "",
            "Иванов Пётр Ёжиков",
            "Արամ Պետրոսյան",
            "😀 𝄞 mixed Ж",
            "a\u{0}b",
        ] {
            let u = units(s);
            assert_eq!(from_utf16(&u).unwrap(), s);
            let z = to_utf16z(s);
            assert_eq!(z.last(), Some(&0));
            assert_eq!(&z[..z.len() - 1], &u[..]);
        }
        // A surrogate pair is one char of two units.
        assert_eq!(units("😀"), vec![0xD83D, 0xDE00]);
        assert_eq!(from_utf16(&[0xD83D, 0xDE00]).unwrap(), "😀");
    }

    #[test]
    fn unpaired_surrogates_are_invalid_input() {
        for bad in [
            vec![0xD800u16],
            vec![0x41, 0xDC00, 0x42],
            vec![0xD83D, 0x41],
            vec![0xDE00, 0xD83D],
        ] {
            let e = from_utf16(&bad).unwrap_err();
            assert_eq!(e.kind, ErrorKind::InvalidInput);
            assert_eq!(e.code, "INVALID_UTF16");
        }
        let e = from_utf16(&[0x41, 0x42, 0xDC00]).unwrap_err();
        assert!(e.description.contains("0xDC00"), "{}", e.description);
        assert!(e.description.contains("position 2"), "{}", e.description);
    }

    #[test]
    fn ascii_const_conversion() {
        const N: [u16; 4] = ascii_utf16z("B24");
        assert_eq!(N, [0x42, 0x32, 0x34, 0]);
    }

    #[test]
    fn names_match_ignoring_case_in_both_alphabets() {
        assert!(names_match("CreateContact", "CREATECONTACT"));
        assert!(names_match("createcontact", "CreateContact"));
        assert!(names_match("СоздатьКонтакт", "создатьконтакт"));
        assert!(names_match("СОЗДАТЬКОНТАКТ", "СоздатьКонтакт"));
        assert!(names_match(
            "ПолучитьПользователяПоGUID",
            "получитьпользователяпоguid"
        ));
        assert!(names_match("ЁЖ", "ёж"));
        assert!(!names_match("CreateContact", "CreateContacts"));
        assert!(!names_match("Ёж", "Еж"));
        assert!(!names_match("", "x"));
        let pairs = [("Connect", "Подключить"), ("Call", "Вызвать")];
        assert_eq!(find_name("вызвать", pairs), Some(1));
        assert_eq!(find_name("CONNECT", pairs), Some(0));
        assert_eq!(find_name("Nope", pairs), None);
    }
}

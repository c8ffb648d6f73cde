//! Russian texts of the library's own errors, keyed by error code.
//!
//! Each code has a lead (what went wrong, in one Russian phrase) and the English descriptions it
//! is built with, as patterns: `{}` stands for a specific (a field name, a count, a path, the
//! cause's text) that the English description carries. A description that matches one of its
//! code's patterns becomes the Russian sentence with the same specifics, taken from the English
//! text in order. One that matches none (a description built from a list of warnings, or a
//! pattern not written yet) becomes the lead followed by the English description, so the
//! specifics are never lost. The Russian text is built only from the description, which is
//! masked before it leaves the library, and from the static texts here: it cannot carry the
//! webhook secret when the English text does not.
//!
//! A hole in a Russian pattern written `{CODE}` takes the same specific translated as a
//! description of the library's error `CODE` (the wrapped error of `match.contact: ...`, say).
//!
//! `{CAUSE}` takes `CODE: description` of the error an unknown outcome came from, translated
//! only when that error was the library's own (a portal's text stays as sent).
//!
//! A test walks the sources and fails when an error code has no entry here.

mod table;

use table::entry;

/// True when `code` has a Russian text.
pub fn has_text(code: &str) -> bool {
    entry(code).is_some()
}

/// The Russian description of the library's own error `code` whose English description is
/// `english`; `None` when the code has no Russian text.
pub fn describe(code: &str, english: &str) -> Option<String> {
    describe_error(code, english, false)
}

/// [`describe`] for an error that quotes another (`{CAUSE}`): `own_cause` says that one is the
/// library's own too, so its text may be translated.
pub(crate) fn describe_error(code: &str, english: &str, own_cause: bool) -> Option<String> {
    describe_at(
        code,
        english,
        Fill {
            depth: 0,
            own_cause,
        },
    )
}

/// What a fill may do with the holes.
#[derive(Clone, Copy)]
struct Fill {
    /// Levels inside another description (bounded, whatever the table says).
    depth: usize,
    /// `{CAUSE}` may be translated.
    own_cause: bool,
}

fn describe_at(code: &str, english: &str, how: Fill) -> Option<String> {
    let entry = entry(code)?;
    for (en, ru) in entry.patterns {
        if let Some(holes) = capture(en, english) {
            return Some(fill(ru, &holes, how));
        }
    }
    Some(if english.is_empty() {
        entry.lead.to_string()
    } else {
        format!("{}: {english}", entry.lead)
    })
}

/// The specifics of `text` at the `{}` holes of `pattern`, or `None` when it does not match.
/// A hole takes the shortest text up to the next literal part; the last one, everything up
/// to the pattern's literal ending.
fn capture<'t>(pattern: &str, text: &'t str) -> Option<Vec<&'t str>> {
    let mut parts = pattern.split("{}");
    let first = parts.next().unwrap_or("");
    let mut rest = text.strip_prefix(first)?;
    let parts: Vec<&str> = parts.collect();
    let mut holes = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            let hole = rest.strip_suffix(part)?;
            holes.push(hole);
            rest = "";
        } else {
            let at = rest.find(part)?;
            holes.push(&rest[..at]);
            rest = &rest[at + part.len()..];
        }
    }
    rest.is_empty().then_some(holes)
}

/// A piece of a Russian pattern.
#[derive(Debug, PartialEq)]
enum Piece<'p> {
    Text(&'p str),
    /// `{}`, or `{CODE}`: the next specific, as it is or translated as a description of `CODE`.
    Hole(Option<&'p str>),
}

/// Splits a Russian pattern into text and holes. A `{` that opens neither `{}` nor `{CODE}`
/// (JSON in the text, as in `{"field": F}`) is text.
fn pieces(pattern: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let (mut text_from, mut i) = (0, 0);
    let b = pattern.as_bytes();
    while i < b.len() {
        if b[i] == b'{' {
            let name_len = b[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
                .count();
            if b.get(i + 1 + name_len) == Some(&b'}') {
                out.push(Piece::Text(&pattern[text_from..i]));
                let name = &pattern[i + 1..i + 1 + name_len];
                out.push(Piece::Hole((!name.is_empty()).then_some(name)));
                i += name_len + 2;
                text_from = i;
                continue;
            }
        }
        i += 1;
    }
    out.push(Piece::Text(&pattern[text_from..]));
    out
}

/// `pattern` with its holes filled in order.
fn fill(pattern: &str, holes: &[&str], how: Fill) -> String {
    let mut out =
        String::with_capacity(pattern.len() + holes.iter().map(|h| h.len()).sum::<usize>());
    let mut holes = holes.iter();
    for piece in pieces(pattern) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole(code) => {
                let hole = holes.next().copied().unwrap_or("");
                let inner = Fill {
                    depth: how.depth + 1,
                    own_cause: false,
                };
                match code.filter(|_| how.depth < 2) {
                    Some("CAUSE") if how.own_cause => out.push_str(&translate_cause(hole, inner)),
                    Some("CAUSE") | None => out.push_str(hole),
                    Some(code) => out.push_str(
                        &describe_at(code, hole, inner).unwrap_or_else(|| hole.to_string()),
                    ),
                }
            }
        }
    }
    out
}

/// `CODE: description` of the library's own error, with the description translated.
fn translate_cause(hole: &str, how: Fill) -> String {
    let Some((code, english)) = hole.split_once(": ") else {
        return hole.to_string();
    };
    match describe_at(code, english, how) {
        Some(ru) => format!("{code}: {ru}"),
        None => hole.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Error, ErrorKind, Lang};

    #[test]
    fn patterns_agree_on_holes() {
        // Every Russian pattern fills exactly the holes its English pattern captures, and each
        // code is listed once.
        let table: Vec<_> = table::all().collect();
        for (i, e) in table.iter().enumerate() {
            assert!(
                !table[..i].iter().any(|o| o.code == e.code),
                "{} twice",
                e.code
            );
            assert!(!e.lead.is_empty(), "{}", e.code);
            for (en, ru) in e.patterns {
                let holes = pieces(ru)
                    .iter()
                    .filter(|p| matches!(p, Piece::Hole(_)))
                    .count();
                assert_eq!(en.matches("{}").count(), holes, "{}: {en}", e.code);
                for p in pieces(ru) {
                    if let Piece::Hole(Some(code)) = p {
                        assert!(code == "CAUSE" || has_text(code), "{}: {code}", e.code);
                    }
                }
                assert!(!en.contains("{}{}"), "adjacent holes cannot be split: {en}");
            }
        }
    }

    #[test]
    fn specifics_are_kept() {
        assert_eq!(
            describe("INVALID_ID", "ID must be a positive integer, got -3").unwrap(),
            "ID должен быть положительным целым числом, передано: -3"
        );
        assert_eq!(
            describe(
                "WRONG_PARAM_COUNT",
                "CallMethod takes 2 parameter(s), got 3"
            )
            .unwrap(),
            "CallMethod: ожидается параметров: 2, передано: 3"
        );
        assert_eq!(
            describe("HTTP_502", "HTTP 502 with a non-JSON body: <h1>Bad</h1>").unwrap(),
            "HTTP 502, тело ответа не в формате JSON: <h1>Bad</h1>"
        );
        // No pattern: the lead, then the English specifics.
        assert_eq!(
            describe("UNKNOWN_FIELDS", "UF_X: no such field").unwrap(),
            "неизвестные поля: UF_X: no such field"
        );
        assert_eq!(describe("NO_SUCH_CODE_HERE", "x"), None);
        // A wrapped error of the library is translated too.
        assert_eq!(
            describe("INVALID_CONFIG", "match.contact: at most 10 match rules").unwrap(),
            "match.contact: не больше 10 правил сопоставления"
        );
        assert_eq!(
            describe(
                "INVALID_COMMANDS",
                "command \"a\": method name \"x/y\" is not a Bitrix24 method name (letters, digits, '_' and '.')"
            )
            .unwrap(),
            "команда \"a\": \"x/y\" не является именем метода Битрикс24 (буквы, цифры, '_' и '.')"
        );
        assert_eq!(describe("HTTP_", "x"), None);
        // The cause of an unknown outcome, and the note of a write that was not sent again.
        let cause = Error::new(
            ErrorKind::Transport,
            "CONNECTION_LOST",
            "the connection broke: eof",
        );
        let e = Error::outcome_unknown(cause);
        assert_eq!(
            e.description_in(Lang::Ru),
            "запрос отправлен и, возможно, выполнен на портале (CONNECTION_LOST: соединение \
             прервалось: eof); проверьте (например, по GUID 1С), прежде чем отправлять его снова"
        );
        // A portal's cause stays as the portal wrote it, even with a code the library uses too.
        let portal = crate::client::bitrix_error(500, "INVALID_RESPONSE", "a listed row has no ID");
        let e3 = Error::outcome_unknown(portal);
        assert!(e3
            .description_in(Lang::Ru)
            .contains("(INVALID_RESPONSE: a listed row has no ID); проверьте"));
        let mut e2 = e.clone();
        e2.description = format!("{} [not sent again: job over]", e2.description);
        assert!(e2
            .description_in(Lang::Ru)
            .ends_with("снова [повторно не отправлен: job over]"));
    }

    #[test]
    fn capture_edges() {
        assert_eq!(capture("a {} b {}", "a x b y"), Some(vec!["x", "y"]));
        assert_eq!(capture("{} is NULL", "p is NULL"), Some(vec!["p"]));
        assert_eq!(capture("exact", "exact"), Some(vec![]));
        assert_eq!(capture("exact", "exactly"), None);
        assert_eq!(capture("{} is NULL", "is NUL"), None);
        assert_eq!(capture("a{}b", "ab"), Some(vec![""]));
        let how = Fill {
            depth: 0,
            own_cause: false,
        };
        assert_eq!(fill("x{}y{}", &["1"], how), "x1y");
        assert_eq!(
            pieces("{\"a\": {}} {B_2}{"),
            vec![
                Piece::Text("{\"a\": "),
                Piece::Hole(None),
                Piece::Text("} "),
                Piece::Hole(Some("B_2")),
                Piece::Text("{"),
            ]
        );
    }
}

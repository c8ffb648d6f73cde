//! Parsing JSON from the network into a tree, bounded. A `serde_json::Value` costs up to ~80
//! bytes per value (`[{},{},…]` is 3 bytes a value on the wire), so an answer's size alone does
//! not bound the memory its tree takes. The values are counted first, in one pass without
//! allocating, and a text with more than [`MAX_VALUES`] is refused instead of parsed.

use crate::error::{Error, ErrorKind};
use serde_json::Value;

/// The most values a tree built from network input may hold (≈ 200 MB at the worst). A real
/// answer holds far fewer: a full batch of 50 list pages of 50 rows of 60 fields is ≈ 300,000.
pub const MAX_VALUES: usize = 2_500_000;

/// Parses `text` into a tree if it holds at most [`MAX_VALUES`] values.
pub fn parse_bounded(text: &str) -> Result<Value, Error> {
    if count_values(text.as_bytes(), MAX_VALUES).is_none() {
        return Err(Error::new(
            ErrorKind::Protocol,
            "RESPONSE_TOO_LARGE",
            format!("the answer holds more than {MAX_VALUES} JSON values"),
        ));
    }
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            ErrorKind::Protocol,
            "INVALID_RESPONSE",
            format!("the answer is not valid JSON: {}", error_category(&e)),
        )
    })
}

/// Counts the values in JSON text (every `[`, `{`, `,` and `:` outside strings starts one, plus
/// the first), stopping early once past `max`. `None` means more than `max`.
pub(crate) fn count_values(text: &[u8], max: usize) -> Option<usize> {
    let (mut n, mut in_str, mut esc) = (1usize, false, false);
    for &b in text {
        if in_str {
            match (esc, b) {
                (true, _) => esc = false,
                (false, b'\\') => esc = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' | b',' | b':' => {
                n += 1;
                if n > max {
                    return None;
                }
            }
            _ => {}
        }
    }
    Some(n)
}

/// serde's category only: its message could quote the text.
pub fn error_category(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "read error",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "unexpected data",
        serde_json::error::Category::Eof => "cut short",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_bounds() {
        assert_eq!(count_values(br#"{"a":[1,2],"b":"x,[:{"}"#, 100), Some(7));
        assert_eq!(count_values(br#""\",[""#, 100), Some(1));
        assert!(count_values(b"[{},{},{},{}]", 5).is_none());
        let many = format!("[{}0]", "0,".repeat(MAX_VALUES));
        assert_eq!(parse_bounded(&many).unwrap_err().code, "RESPONSE_TOO_LARGE");
        assert_eq!(parse_bounded("[1,2]").unwrap(), serde_json::json!([1, 2]));
    }
}

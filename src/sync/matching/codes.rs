//! The portal's match codes for phones and e-mails. `crm.duplicate.findbycomm` answers with the
//! union of the entities found for all the values of a command, not per value, so the library
//! reads the candidates' phones back and attributes them to records by the same codes the
//! portal compares (`crm/lib/integrity/duplicatecommunicationcriterion.php prepareCodes`,
//! `normalizePhone`; `main/tools.php NormalizePhone`).

use super::Comm;

/// A value's code: a phone normalised, an e-mail trimmed and lower-cased; `None` when nothing
/// is left (the portal registers no code for it).
pub(crate) fn code(comm: Comm, value: &str) -> Option<String> {
    let c = match comm {
        Comm::Phone => normalize_phone(value),
        Comm::Email => value.trim().to_lowercase(),
    };
    (!c.is_empty()).then_some(c)
}

/// `DuplicateCommunicationCriterion::normalizePhone`: `NormalizePhone($v, 1)`, the bare digits
/// when that gives nothing, then extensions (`;`, `#` and what follows a run of digits) cut.
pub(crate) fn normalize_phone(value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    let n = match normalize_main(value) {
        n if !n.is_empty() => n,
        _ => sanitize(value),
    };
    drop_extensions(&n)
}

/// `NormalizePhone($number, 1)` of `main/tools.php`: international prefixes cut, a Russian
/// trunk `8` made `7`.
fn normalize_main(number: &str) -> String {
    let mut n = number.to_string();
    if n.chars().count() >= 10 && n.starts_with("+8") {
        n = format!("00{}", &n[1..]);
    }
    let n = sanitize(&n);
    if n.len() < 10 || ["80", "81", "82"].iter().any(|p| n.starts_with(p)) {
        return n;
    }
    if let Some(r) = n.strip_prefix("00") {
        r.to_string()
    } else if let Some(r) = n.strip_prefix("011") {
        r.to_string()
    } else if let Some(r) = n.strip_prefix('8') {
        format!("7{r}")
    } else if let Some(r) = n.strip_prefix('0') {
        r.to_string()
    } else {
        n
    }
}

/// Keeps `0-9 # * , ;` only.
fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_digit() || "#*,;".contains(*c))
        .collect()
}

/// `preg_replace('/(\d+)([;#]*)([\d,]*)/', '$1', $s)`.
fn drop_extensions(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let (mut out, mut i) = (String::new(), 0);
    while i < c.len() {
        if !c[i].is_ascii_digit() {
            out.push(c[i]);
            i += 1;
            continue;
        }
        while i < c.len() && c[i].is_ascii_digit() {
            out.push(c[i]);
            i += 1;
        }
        while i < c.len() && matches!(c[i], ';' | '#') {
            i += 1;
        }
        while i < c.len() && (c[i].is_ascii_digit() || c[i] == ',') {
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_as_the_portal_codes_them() {
        assert_eq!(normalize_phone("+374 (98) 88-88-88"), "37498888888");
        assert_eq!(normalize_phone("8 (916) 123-45-67"), "79161234567");
        assert_eq!(normalize_phone("0037498888888"), "37498888888");
        assert_eq!(normalize_phone("+37498888888#123"), "37498888888");
        assert_eq!(normalize_phone("098888888"), "098888888");
        assert_eq!(code(Comm::Phone, "n/a"), None);
        assert_eq!(code(Comm::Email, " Ann@X.am "), Some("ann@x.am".into()));
    }
}

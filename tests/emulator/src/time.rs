//! Date/time helpers without external crates. The emulated portal runs in a fixed zone, +04:00
//! (the customer's spec shows `+04:00` timestamps), so datetimes round-trip unchanged.

use std::time::{SystemTime, UNIX_EPOCH};

/// Offset of the emulated portal's time zone, seconds east of UTC.
pub const TZ_OFFSET: i64 = 4 * 3600;

pub fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub fn now_secs() -> i64 {
    now_f64() as i64
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn offset_str(off: i64) -> String {
    let sign = if off < 0 { '-' } else { '+' };
    let a = off.abs();
    format!("{}{:02}:{:02}", sign, a / 3600, (a % 3600) / 60)
}

/// `YYYY-MM-DDThh:mm:ss+04:00` for a Unix timestamp, in the portal zone.
pub fn iso(epoch: i64) -> String {
    let local = epoch + TZ_OFFSET;
    let days = local.div_euclid(86400);
    let secs = local.rem_euclid(86400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}",
        y,
        m,
        d,
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60,
        offset_str(TZ_OFFSET)
    )
}

/// Bitrix's odd output for `date` fields: the time part equals the zone offset (§6.1).
pub fn iso_date(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    let h = TZ_OFFSET / 3600;
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:00{}",
        y,
        m,
        d,
        h.rem_euclid(24),
        (TZ_OFFSET % 3600) / 60,
        offset_str(TZ_OFFSET)
    )
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        None
    } else {
        s.parse().ok()
    }
}

/// A small `strtotime` subset: ISO 8601 (`T` or space, optional seconds/fraction/zone),
/// `DD.MM.YYYY[ hh:mm[:ss]]`, `@epoch`. Zone-less values are in the portal zone.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(e) = s.strip_prefix('@') {
        return e.parse().ok();
    }
    let (date, rest) = match s.find(['T', 't', ' ']) {
        Some(p) => (&s[..p], s[p + 1..].trim()),
        None => (s, ""),
    };
    let (y, m, d) = if date.contains('-') {
        let p: Vec<&str> = date.split('-').collect();
        if p.len() != 3 || p[0].len() != 4 {
            return None;
        }
        (num(p[0])?, num(p[1])?, num(p[2])?)
    } else if date.contains('.') {
        let p: Vec<&str> = date.split('.').collect();
        if p.len() != 3 || p[2].len() != 4 {
            return None;
        }
        (num(p[2])?, num(p[1])?, num(p[0])?)
    } else {
        return None;
    };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let mut secs = 0;
    let mut off = TZ_OFFSET;
    if !rest.is_empty() {
        // split zone designator
        let (time, zone) = match rest.find(['+', '-', 'Z', 'z']) {
            Some(p) => (&rest[..p], Some(&rest[p..])),
            None => (rest, None),
        };
        let time = time.trim();
        let time = time.split('.').next().unwrap_or("");
        let t: Vec<&str> = time.split(':').collect();
        if t.len() < 2 || t.len() > 3 {
            return None;
        }
        let h = num(t[0])?;
        let mi = num(t[1])?;
        let se = if t.len() == 3 { num(t[2])? } else { 0 };
        if h > 23 || mi > 59 || se > 60 {
            return None;
        }
        secs = h * 3600 + mi * 60 + se;
        if let Some(z) = zone {
            let z = z.trim();
            if z.eq_ignore_ascii_case("z") {
                off = 0;
            } else {
                let sign = if z.starts_with('-') { -1 } else { 1 };
                let body = z[1..].replace(':', "");
                if body.len() != 4 && body.len() != 2 {
                    return None;
                }
                let hh = num(&body[..2])?;
                let mm = if body.len() == 4 { num(&body[2..])? } else { 0 };
                off = sign * (hh * 3600 + mm * 60);
            }
        }
    }
    Some(days_from_civil(y, m, d) * 86400 + secs - off)
}

/// Parse a date (day resolution) the way a `date` field would keep it: days since epoch of the
/// local calendar day.
pub fn parse_date_days(s: &str) -> Option<i64> {
    let e = parse_datetime(s)?;
    Some((e + TZ_OFFSET).div_euclid(86400))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 {
                29
            } else {
                28
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let e = parse_datetime("2024-08-08T14:05:21+04:00").unwrap();
        assert_eq!(iso(e), "2024-08-08T14:05:21+04:00");
        assert_eq!(
            iso(parse_datetime("2024-08-08T10:05:21Z").unwrap()),
            "2024-08-08T14:05:21+04:00"
        );
        assert_eq!(
            iso(parse_datetime("11.11.2001").unwrap()),
            "2001-11-11T00:00:00+04:00"
        );
        assert_eq!(
            iso_date(parse_date_days("2001-11-11").unwrap()),
            "2001-11-11T04:00:00+04:00"
        );
        assert!(parse_datetime("garbage").is_none());
        assert!(parse_datetime("2024-02-30").is_none());
    }
}

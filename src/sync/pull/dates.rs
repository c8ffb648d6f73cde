//! The portal's ISO 8601 timestamps: parsed to compare rows, shifted within their own offset for
//! the settle bound, and `date` fields turned into the `YYYY-MM-DD` 1C reads.
//!
//! The portal writes every value with its own zone's offset (`CRestUtil::ConvertDateTime`,
//! `date('c', …)`), and reads a filter value back with `strtotime`, so a text it produced can be
//! sent back as is. Nothing here moves a timestamp into another zone.

/// A timestamp as the portal wrote it: seconds since the epoch and its offset east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub epoch: i64,
    /// The offset the text carried, in seconds east of UTC.
    pub offset: i64,
}

/// Parses `YYYY-MM-DDThh:mm:ss[.fraction](Z|±hh:mm|±hhmm)`. A text without an offset is refused:
/// its zone would be a guess, and a wrong guess would move the cursor by hours.
pub fn parse(s: &str) -> Option<Stamp> {
    let b = s.trim().as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let n = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |a, d| a * 10 + i64::from(d - b'0')))
    };
    let (y, mo, d) = (n(0, 4)?, n(5, 2)?, n(8, 2)?);
    let (h, mi, se) = (n(11, 2)?, n(14, 2)?, n(17, 2)?);
    if !(1..=12).contains(&mo) || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 60
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        // Bounded by the text's length; the fraction is dropped (the portal keeps seconds).
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, om) = match rest {
                [_, _, b':', _, _] | [_, _, _, _] => {
                    let digits: Vec<u8> = rest.iter().copied().filter(|c| *c != b':').collect();
                    if !digits.iter().all(u8::is_ascii_digit) {
                        return None;
                    }
                    let v = |k: usize| {
                        i64::from(digits[k] - b'0') * 10 + i64::from(digits[k + 1] - b'0')
                    };
                    (v(0), v(2))
                }
                _ => return None,
            };
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 3600 + om * 60;
            if *sign == b'-' {
                -off
            } else {
                off
            }
        }
        _ => return None,
    };
    let local = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + se.min(59);
    Some(Stamp {
        epoch: local - offset,
        offset,
    })
}

/// `YYYY-MM-DDThh:mm:ss±hh:mm` of `epoch` in the zone `offset` (the portal's `date('c')` form).
pub fn format(epoch: i64, offset: i64) -> String {
    let local = epoch + offset;
    let (y, m, d) = civil_from_days(local.div_euclid(86_400));
    let secs = local.rem_euclid(86_400);
    let sign = if offset < 0 { '-' } else { '+' };
    let a = offset.abs();
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{sign}{:02}:{:02}",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        a / 3600,
        a % 3600 / 60
    )
}

/// The text `secs` seconds before `s`, in `s`'s own offset; `None` when `s` does not parse.
pub fn earlier(s: &str, secs: i64) -> Option<String> {
    let st = parse(s)?;
    Some(format(st.epoch - secs, st.offset))
}

/// A `date` field's value as `YYYY-MM-DD`. The portal writes a date as local midnight plus the
/// zone offset (`CRestUtil::ConvertDate`: `date('c', MakeTimeStamp($dt) + date("Z"))`), so the
/// wall clock shows the offset as its time (`2001-11-11T04:00:00+04:00`) and, west of UTC, the
/// day before (`2001-11-10T19:00:00-05:00`). Taking the offset off again gives the day; a value
/// already at midnight is taken as it is; anything else keeps its own calendar day.
pub fn date_only(s: &str) -> Option<String> {
    let st = parse(s)?;
    let shifted = st.epoch; // wall clock minus the offset, i.e. the local midnight as UTC
    let day = |t: i64| {
        let (y, m, d) = civil_from_days(t.div_euclid(86_400));
        format!("{y:04}-{m:02}-{d:02}")
    };
    if shifted.rem_euclid(86_400) == 0 {
        return Some(day(shifted));
    }
    Some(day(st.epoch + st.offset))
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_own_offset() {
        let s = "2026-12-01T10:00:00+03:00";
        let st = parse(s).unwrap();
        assert_eq!(st.offset, 3 * 3600);
        assert_eq!(format(st.epoch, st.offset), s);
        assert_eq!(earlier(s, 2).unwrap(), "2026-12-01T09:59:58+03:00");
        assert_eq!(
            earlier("2026-01-01T00:00:00-05:30", 1).unwrap(),
            "2025-12-31T23:59:59-05:30"
        );
        assert_eq!(parse("2026-12-01T07:00:00Z").unwrap().epoch, st.epoch);
        assert_eq!(
            parse("2026-12-01T10:00:00.123+0300").unwrap().epoch,
            st.epoch
        );
        for bad in [
            "",
            "2026-12-01",
            "2026-12-01T10:00:00",
            "2026-02-30T10:00:00+03:00",
            "garbage-that-is-long",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_lose_the_offset_hours() {
        assert_eq!(
            date_only("2001-11-11T04:00:00+04:00").unwrap(),
            "2001-11-11"
        );
        assert_eq!(
            date_only("2001-11-10T19:00:00-05:00").unwrap(),
            "2001-11-11"
        );
        assert_eq!(
            date_only("2001-11-11T00:00:00+03:00").unwrap(),
            "2001-11-11"
        );
        assert_eq!(date_only("2001-11-11T00:00:00Z").unwrap(), "2001-11-11");
        assert_eq!(
            date_only("2001-11-11T13:30:00+03:00").unwrap(),
            "2001-11-11"
        );
        assert_eq!(date_only("x"), None);
    }
}

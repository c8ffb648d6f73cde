//! The request journal: one tab-separated line per HTTP request, kept in a bounded in-memory
//! ring and/or appended to a file. Off unless the configuration's `journal` key asks for it.
//!
//! A line: `2026-12-02T08:41:56.123Z\tcrm.contact.add\t200\t-\t1\t37ms\t512/230` = the time the
//! request was sent (UTC, ms), the REST method, the HTTP status (`-`: no answer), the Bitrix
//! error code (`-`: none; a transport failure's tag such as `timeout`), the attempt number
//! (1 = first send), the duration, and the request/answer bytes (`-`: no answer read).
//!
//! Nothing in a line may carry the webhook secret: the URL is never written, and the line as a
//! whole passes through [`Webhook::mask`] (the method is caller input, the code is the portal's).

use crate::config::{JournalConfig, Webhook};
use std::collections::VecDeque;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest line kept or written, in bytes. Real lines are far shorter (the method is at most
/// 128 bytes, the code is cut to 64 characters); the bound keeps the ring's memory fixed.
pub const MAX_LINE: usize = 512;
/// The longest error code written, in characters.
const MAX_CODE: usize = 64;

/// One HTTP request, as the journal records it.
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    /// When the request was sent.
    pub sent_at: SystemTime,
    /// The REST method (`batch` for a batch).
    pub method: &'a str,
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// The Bitrix error code, or a transport failure's tag; `None` for a success.
    pub code: Option<&'a str>,
    /// 1 for the first send of a call, 2 for the first retry, ...
    pub attempt: u32,
    /// How long the request took, answer read included.
    pub took: Duration,
    /// Request body bytes.
    pub request_bytes: usize,
    /// Answer body bytes, when an answer was read.
    pub answer_bytes: Option<usize>,
}

impl Entry<'_> {
    /// The tab-separated line, secret not yet masked (see [`Journal::record`]).
    fn line(&self) -> String {
        let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        let code = self.code.map(clean_code).filter(|c| !c.is_empty());
        format!(
            "{}\t{}\t{}\t{}\t{}\t{}ms\t{}/{}",
            rfc3339_millis(self.sent_at),
            self.method,
            dash(self.status.map(|s| s.to_string())),
            dash(code),
            self.attempt,
            self.took.as_millis(),
            self.request_bytes,
            dash(self.answer_bytes.map(|n| n.to_string())),
        )
    }
}

/// A code as one short field: the portal's text could hold tabs or line breaks, which would
/// forge fields or lines.
fn clean_code(code: &str) -> String {
    code.chars()
        .take(MAX_CODE)
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// A client's journal. Shared by the client's clones and threads.
#[derive(Debug)]
pub struct Journal {
    /// The newest lines, oldest first; `None` when the ring is off (`lines` 0).
    ring: Option<Mutex<VecDeque<String>>>,
    capacity: usize,
    file: Option<String>,
    /// File writes that failed (never a request's failure): shown by [`Journal::text`].
    write_errors: AtomicU64,
    last_write_error: Mutex<Option<std::io::ErrorKind>>,
}

impl Journal {
    /// A journal for the configuration, or `None` when it records nothing.
    pub fn new(cfg: &JournalConfig) -> Option<Journal> {
        if cfg.lines == 0 && cfg.file.is_none() {
            return None;
        }
        Some(Journal {
            ring: (cfg.lines > 0).then(|| Mutex::new(VecDeque::with_capacity(cfg.lines))),
            capacity: cfg.lines,
            file: cfg.file.clone(),
            write_errors: AtomicU64::new(0),
            last_write_error: Mutex::new(None),
        })
    }

    /// Records one request: the line is masked with `webhook`, cut to [`MAX_LINE`], kept in the
    /// ring and appended to the file. Never fails.
    pub fn record(&self, entry: &Entry<'_>, webhook: &Webhook) {
        let mut line = webhook.mask(&entry.line());
        truncate(&mut line, MAX_LINE);
        if let Some(path) = &self.file {
            if let Err(e) = append_line(path, &line) {
                self.write_errors.fetch_add(1, Ordering::Relaxed);
                *lock(&self.last_write_error) = Some(e.kind());
            }
        }
        if let Some(ring) = &self.ring {
            let mut ring = lock(ring);
            if ring.len() >= self.capacity {
                ring.pop_front();
            }
            ring.push_back(line);
        }
    }

    /// The ring's lines joined with `\n`, newest last, then a `# journal_write_errors` note
    /// when appending to the file failed (the count and the last error's kind, no path).
    pub fn text(&self) -> String {
        let mut out = match &self.ring {
            Some(ring) => lock(ring)
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join("\n"),
            None => String::new(),
        };
        let errors = self.write_errors.load(Ordering::Relaxed);
        if errors > 0 {
            if !out.is_empty() {
                out.push('\n');
            }
            let kind = lock(&self.last_write_error).map(|k| k.to_string());
            out.push_str(&format!(
                "# journal_write_errors\t{errors}\t{}",
                kind.unwrap_or_default()
            ));
        }
        out
    }

    /// How many file writes failed so far.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Cuts `s` to at most `max` bytes on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

/// Appends one line with one `write` on a file opened for appending: the OS places each such
/// write at the end whole, so lines of several processes sharing the file never interleave.
/// The file is opened per line, so a rotated log is followed at once.
fn append_line(path: &str, line: &str) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // A FIFO without a reader would block the request forever; non-blocking, it fails.
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let mut buf = Vec::with_capacity(line.len() + 1);
    buf.extend_from_slice(line.as_bytes());
    buf.push(b'\n');
    let mut f = opts.open(path)?;
    let n = f.write(&buf)?;
    if n != buf.len() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::WriteZero,
            "short write",
        ));
    }
    Ok(())
}

/// The last instant RFC 3339's four-digit year can show: 9999-12-31T23:59:59.999Z.
const MAX_SECS: u64 = 253_402_300_799;

/// `t` as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC). Times before 1970 show as the epoch, times after
/// 9999 as its last millisecond.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let (secs, ms) = match since.as_secs() {
        s if s > MAX_SECS => (MAX_SECS, 999),
        s => (s, since.subsec_millis()),
    };
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_date(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The Gregorian date `days` after 1970-01-01. Counts in 400-year eras of 146 097 days that
/// start on 1 March, so the leap day is the last day of a year and needs no special case.
fn civil_date(days: u64) -> (u64, u64, u64) {
    // 1970-01-01 is day 719 468 counted from 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March: 0 = March ... 11 = February; 153 days per five months.
    let march_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * march_month + 2) / 5 + 1;
    let month = if march_month < 10 {
        march_month + 3
    } else {
        march_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64, ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(ms)
    }

    #[test]
    fn utc_times_on_known_epochs() {
        for (secs, ms, want) in [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (946_684_799, 999, "1999-12-31T23:59:59.999Z"),
            (951_868_799, 5, "2000-02-29T23:59:59.005Z"),
            (1_796_200_916, 123, "2026-12-02T08:41:56.123Z"),
            (4_107_542_400, 0, "2100-03-01T00:00:00.000Z"),
            (MAX_SECS, 999, "9999-12-31T23:59:59.999Z"),
        ] {
            assert_eq!(rfc3339_millis(at(secs, ms)), want, "{secs}");
        }
        assert_eq!(
            rfc3339_millis(at(MAX_SECS + 86_400 * 400, 0)),
            "9999-12-31T23:59:59.999Z"
        );
        assert_eq!(
            rfc3339_millis(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00.000Z"
        );
    }

    #[test]
    fn every_day_follows_the_previous() {
        // Walks 1970..2400 day by day: each date is the day after the one before.
        let mut prev = civil_date(0);
        assert_eq!(prev, (1970, 1, 1));
        for days in 1..(430 * 366) {
            let (y, m, d) = civil_date(days);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let last = [
                31,
                if leap { 29 } else { 28 },
                31,
                30,
                31,
                30,
                31,
                31,
                30,
                31,
                30,
                31,
            ];
            let (py, pm, pd) = prev;
            let next = if pd < last[(pm - 1) as usize] {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            // `last` is y's; it differs from py's only in February, when y == py.
            assert_eq!((y, m, d), next, "day {days}");
            prev = (y, m, d);
        }
    }

    fn webhook() -> Webhook {
        Webhook::parse("https://p.example.com/rest/1/TopSecret42/").unwrap()
    }

    fn entry<'a>(method: &'a str, code: Option<&'a str>) -> Entry<'a> {
        Entry {
            sent_at: at(1_796_200_916, 123),
            method,
            status: Some(200),
            code,
            attempt: 1,
            took: Duration::from_millis(37),
            request_bytes: 512,
            answer_bytes: Some(230),
        }
    }

    fn ring(lines: usize) -> Journal {
        Journal::new(&JournalConfig { lines, file: None }).unwrap()
    }

    #[test]
    fn line_format() {
        let j = ring(5);
        j.record(&entry("crm.contact.add", None), &webhook());
        let mut failed = entry("batch", Some("lost"));
        (failed.status, failed.answer_bytes, failed.attempt) = (None, None, 3);
        j.record(&failed, &webhook());
        assert_eq!(
            j.text(),
            "2026-12-02T08:41:56.123Z\tcrm.contact.add\t200\t-\t1\t37ms\t512/230\n\
             2026-12-02T08:41:56.123Z\tbatch\t-\tlost\t3\t37ms\t512/-"
        );
    }

    #[test]
    fn codes_are_one_masked_field() {
        let j = ring(5);
        j.record(
            &entry("TopSecret42", Some("X\tTopSecret42\nforged line")),
            &webhook(),
        );
        let text = j.text();
        assert!(!text.contains("TopSecret42"), "{text}");
        assert_eq!(text.lines().count(), 1, "{text}");
        assert_eq!(text.split('\t').count(), 7, "{text}");
        assert!(text.contains("\t***\t200\tX_***_forged_line\t"), "{text}");
        let long = "E".repeat(1000);
        j.record(&entry("user.get", Some(&long)), &webhook());
        let last = j.text().lines().last().unwrap().to_string();
        assert!(
            last.contains(&format!("\t{}\t", "E".repeat(MAX_CODE))),
            "{last}"
        );
        assert!(last.len() <= MAX_LINE);
    }

    #[test]
    fn ring_keeps_the_newest() {
        let j = ring(3);
        for i in 1..=10 {
            let mut e = entry("user.get", None);
            e.attempt = i;
            j.record(&e, &webhook());
        }
        let text = j.text();
        let attempts: Vec<&str> = text
            .lines()
            .map(|l| l.split('\t').nth(4).unwrap())
            .collect();
        assert_eq!(attempts, ["8", "9", "10"]);
    }

    #[test]
    fn off_and_file_errors() {
        assert!(Journal::new(&JournalConfig::default()).is_none());
        let dir = std::env::temp_dir().join(format!("b24-journal-unit-{}", std::process::id()));
        let j = Journal::new(&JournalConfig {
            lines: 2,
            file: Some(dir.join("no/such/dir/j.log").to_string_lossy().into_owned()),
        })
        .unwrap();
        j.record(&entry("user.get", None), &webhook());
        j.record(&entry("user.get", None), &webhook());
        assert_eq!(j.write_errors(), 2);
        let text = j.text();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(
            text.ends_with("# journal_write_errors\t2\tentity not found"),
            "{text}"
        );
        assert!(!text.contains("no/such"), "no path in the note: {text}");
    }
}

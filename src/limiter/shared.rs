//! The bucket state shared by every process of the host that talks to one portal: a 24-byte
//! file, `<host dir>/<origin key>.bucket`, holding the GCRA "theoretical arrival time" as
//! wall-clock nanoseconds (an `Instant` means nothing to another process), read and rewritten
//! under an OS lock held only for that read-modify-write.
//!
//! Nothing here may stall a call: the lock is waited for at most [`LOCK_SPIN`] (and then left
//! alone for [`HELD_BACKOFF`]), a file that cannot be opened is not tried again for
//! [`RETRY_AFTER`], and every failure is an `Err` on
//! which the caller paces by its process-local state instead.

use crate::host;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The longest wait for another process's read-modify-write (which takes microseconds; a
/// longer hold means that process is stopped or starved, and this call goes on without it).
pub(super) const LOCK_SPIN: Duration = Duration::from_millis(50);
/// How long a file that could not be opened is left alone (no syscalls per request for a
/// temp directory that is missing or not ours).
const RETRY_AFTER: Duration = Duration::from_secs(10);
/// How long calls pace alone after the lock stayed held through a whole [`LOCK_SPIN`].
const HELD_BACKOFF: Duration = Duration::from_secs(1);
/// Open handles are renewed this often, so a file removed by a temp cleaner is recreated and
/// shared again instead of this process pacing alone on an unlinked copy.
const REOPEN_AFTER: Duration = Duration::from_secs(30);

const MAGIC: &[u8; 8] = b"B24TAT02";
/// Magic, the arrival time and the wall-clock time of the write (u64 LE, ns since the Unix
/// epoch), and FNV-1a of the 24 bytes before it (u64 LE), so a torn or foreign file is
/// recognised and rewritten instead of trusted.
pub(super) const RECORD_LEN: usize = 32;

/// The file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Record {
    /// The bucket's "theoretical arrival time", ns since the Unix epoch.
    pub(super) tat: u64,
    /// When it was written (same clock): a later time than now means the clock went back.
    pub(super) written: u64,
}

impl Record {
    /// The arrival time as of `wall`, bounded to `max_ahead` after it. A clock that went back
    /// since the write moves the time back with it (what was 1 s ahead stays 1 s ahead), and a
    /// value still absurdly far ahead is cut, so neither can stall anyone.
    pub(super) fn tat_at(&self, wall: u64, max_ahead: u64) -> u64 {
        let tat = self.tat.saturating_sub(self.written.saturating_sub(wall));
        tat.min(wall.saturating_add(max_ahead))
    }

    /// Encodes the record.
    pub(super) fn encode(&self) -> [u8; RECORD_LEN] {
        let mut r = [0u8; RECORD_LEN];
        r[..8].copy_from_slice(MAGIC);
        r[8..16].copy_from_slice(&self.tat.to_le_bytes());
        r[16..24].copy_from_slice(&self.written.to_le_bytes());
        let sum = host::fnv1a64(&r[..24]);
        r[24..].copy_from_slice(&sum.to_le_bytes());
        r
    }

    /// The record in `r`; `None` for an empty, short, foreign or damaged one.
    pub(super) fn decode(r: &[u8]) -> Option<Record> {
        if r.len() != RECORD_LEN || &r[..8] != MAGIC {
            return None;
        }
        let word = |i: usize| r[i..i + 8].try_into().ok().map(u64::from_le_bytes);
        if word(24)? != host::fnv1a64(&r[..24]) {
            return None;
        }
        Some(Record {
            tat: word(8)?,
            written: word(16)?,
        })
    }
}

/// Wall-clock now in ns since the Unix epoch (`None` before 1970 or past 2554: no sharing then).
pub(super) fn wall_now() -> Option<u64> {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    u64::try_from(d.as_nanos()).ok()
}

/// One process's handle on a portal's shared bucket file. Used under the portal's in-process
/// mutex, so at most one thread per process touches the file at a time.
#[derive(Debug)]
pub(super) struct SharedBucket {
    path: PathBuf,
    file: Option<(File, Instant)>,
    retry_at: Option<Instant>,
}

impl SharedBucket {
    /// The bucket file of the portal at `origin`.
    pub(super) fn for_origin(origin: &str) -> SharedBucket {
        SharedBucket::at(host::dir().join(format!("{}.bucket", host::origin_key(origin))))
    }

    /// A bucket file at `path` (tests).
    pub(super) fn at(path: PathBuf) -> SharedBucket {
        SharedBucket {
            path,
            file: None,
            retry_at: None,
        }
    }

    /// Runs `f` on the stored record (`None`: a new or unreadable file) under the host-wide
    /// lock, and stores the record `f` returns, if any (so `f` reads the clock under the lock,
    /// after any other process's write). `Err`: the file cannot be used
    /// for this call.
    pub(super) fn update<R>(
        &mut self,
        f: impl FnOnce(Option<Record>) -> (Option<Record>, R),
    ) -> io::Result<R> {
        let file = self.file()?;
        if !lock(file)? {
            // Its holder is stopped or starved: the next calls pace alone for a while rather
            // than each wait out the spin again.
            self.retry_at = Some(Instant::now() + HELD_BACKOFF);
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "bucket file held too long",
            ));
        }
        let r = read_modify_write(file, f);
        let unlocked = host::unlock_range(file, 0, 1);
        if r.is_err() || unlocked.is_err() {
            // Start again from a fresh handle next time (and never keep a lock we failed to drop:
            // closing the handle releases it).
            self.file = None;
        }
        r
    }

    fn file(&mut self) -> io::Result<&File> {
        let now = Instant::now();
        if self.retry_at.is_some_and(|t| now < t) {
            return Err(io::Error::other("bucket file unusable; retried later"));
        }
        let stale = self
            .file
            .as_ref()
            .is_none_or(|(_, at)| now.duration_since(*at) > REOPEN_AFTER);
        if stale {
            self.file = None;
            let opened = self
                .path
                .parent()
                .map_or(Ok(()), host::ensure_dir)
                .and_then(|()| host::open_rw(&self.path));
            match opened {
                Ok(f) => {
                    self.retry_at = None;
                    self.file = Some((f, now));
                }
                Err(e) => {
                    self.retry_at = Some(now + RETRY_AFTER);
                    return Err(e);
                }
            }
        }
        match &self.file {
            Some((f, _)) => Ok(f),
            None => Err(io::Error::other("no bucket file")),
        }
    }
}

/// Waits at most [`LOCK_SPIN`] for the file's lock; false when it stayed held.
fn lock(file: &File) -> io::Result<bool> {
    let give_up = Instant::now() + LOCK_SPIN;
    let mut pause = Duration::from_micros(50);
    loop {
        if host::try_lock_range(file, 0, 1)? {
            return Ok(true);
        }
        if Instant::now() >= give_up {
            return Ok(false);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(2));
    }
}

fn read_modify_write<R>(
    mut file: &File,
    f: impl FnOnce(Option<Record>) -> (Option<Record>, R),
) -> io::Result<R> {
    let mut buf = [0u8; RECORD_LEN + 1];
    file.seek(SeekFrom::Start(0))?;
    let n = read_up_to(file, &mut buf)?;
    let (write, r) = f(Record::decode(&buf[..n]));
    if let Some(record) = write {
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&record.encode())?;
        if n > RECORD_LEN {
            // A longer (foreign) file: cut it to the record so it decodes next time.
            file.set_len(RECORD_LEN as u64)?;
        }
    }
    Ok(r)
}

/// Reads until `buf` is full or the file ends (bounded by the buffer's length).
fn read_up_to(mut file: &File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_damage() {
        let rec = Record {
            tat: 1_700_000_000_123_456_789,
            written: 1_700_000_000_000_000_000,
        };
        let r = rec.encode();
        assert_eq!(Record::decode(&r), Some(rec));
        assert_eq!(Record::decode(&[]), None);
        assert_eq!(Record::decode(&r[..RECORD_LEN - 1]), None);
        let mut torn = r;
        torn[10] ^= 1;
        assert_eq!(
            Record::decode(&torn),
            None,
            "a changed time fails the checksum"
        );
        let mut foreign = r;
        foreign[0] = b'X';
        assert_eq!(Record::decode(&foreign), None);
    }

    #[test]
    fn clock_jumps_and_absurd_times_are_bounded() {
        let s = 1_000_000_000;
        let rec = Record {
            tat: 1_000 * s + 3 * s,
            written: 1_000 * s,
        };
        assert_eq!(
            rec.tat_at(1_001 * s, 60 * s),
            1_003 * s,
            "time went on: kept"
        );
        assert_eq!(
            rec.tat_at(400 * s, 60 * s),
            403 * s,
            "clock went back: still 3 s ahead"
        );
        assert_eq!(rec.tat_at(1_000 * s, 2 * s), 1_002 * s, "cut to the bound");
        let absurd = Record {
            tat: u64::MAX,
            written: 0,
        };
        assert_eq!(absurd.tat_at(5 * s, 60 * s), 65 * s);
    }

    #[test]
    fn an_unusable_path_is_an_error_and_not_retried_at_once() {
        let base = std::env::temp_dir().join(format!("b24-shared-test-{}", std::process::id()));
        std::fs::create_dir_all(&base).unwrap();
        let blocker = base.join("not-a-dir");
        std::fs::write(&blocker, b"x").unwrap();
        let mut b = SharedBucket::at(blocker.join("x.bucket"));
        let t = Instant::now();
        assert!(b.update(|_| (None, ())).is_err());
        assert!(b.update(|_| (None, ())).is_err());
        assert!(b.retry_at.is_some());
        assert!(t.elapsed() < Duration::from_millis(100), "never waits");
        let _ = std::fs::remove_dir_all(&base);
    }
}

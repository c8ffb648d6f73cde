//! Host-wide GUID claims: two processes upserting one GUID must not both decide "absent, add".
//!
//! A claim is an exclusive lock on one byte of a per-portal file, at an offset hashed from
//! (entity, GUID): `<host dir>/claims/<origin key>/<shard>.lock`, [`SHARDS`] files per portal,
//! opened once per process and kept open (closing a file would drop the process's POSIX locks
//! on it). The file stays empty; only its locks matter, and the OS drops them when a process
//! dies. Claims of different GUIDs never wait for each other (a 35-bit hash), however many a
//! bulk upsert holds, and the descriptors open are bounded by [`SHARDS`] per portal.

use super::{ensure_dir, open_rw, try_lock_range, unlock_range};
use once_cell::sync::Lazy;
use std::collections::HashMap;
use std::fs::File;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Files per portal: spreads the locks, so the kernel's per-file lock list stays short when
/// several processes each hold thousands of claims.
const SHARDS: u64 = 16;
/// Offsets stay below 2^31 (a 32-bit `off_t` on i686 Linux).
const OFFSETS: u64 = (1 << 31) - 1;
/// How long a portal whose claim files cannot be opened is left alone.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// One lock: (shard, offset).
type Slot = (u8, u32);

/// A portal's claim files in this process, and how many of this process's claims hold each
/// slot: the OS lock is taken when the first claim of a slot starts and dropped when the last
/// ends, so two claims in one process whose keys share a slot (a hash collision) neither wait
/// for each other nor release each other's lock.
struct Files {
    files: Vec<File>,
    held: Mutex<HashMap<Slot, u32>>,
}

enum Opened {
    Ready(Arc<Files>),
    Unusable(Instant),
}

static PORTALS: Lazy<Mutex<HashMap<String, Opened>>> = Lazy::new(|| Mutex::new(HashMap::new()));

/// What [`take`] got.
pub(crate) enum Taken {
    /// Every key is claimed host-wide until the claim is dropped.
    Held(HostClaim),
    /// Another process held one of the keys until the deadline; nothing is held.
    Busy,
    /// The files cannot be used; nothing is held, and the caller relies on its process-local
    /// claims alone.
    Unusable,
}

/// Host-wide claims of some keys, released on drop.
pub(crate) struct HostClaim {
    files: Arc<Files>,
    slots: Vec<Slot>,
}

/// Claims `(entity, guid)` keys of the portal at `origin` host-wide, waiting for other
/// processes' claims at most until `deadline`. Slots are locked in ascending order, so two
/// claimers of overlapping sets cannot deadlock.
pub(crate) fn take<'a>(
    origin: &str,
    keys: impl IntoIterator<Item = (&'a str, &'a str)>,
    deadline: Instant,
) -> Taken {
    let Some(files) = files_of(origin) else {
        return Taken::Unusable;
    };
    let mut slots: Vec<Slot> = keys.into_iter().map(|(e, g)| slot_of(e, g)).collect();
    slots.sort_unstable();
    slots.dedup();
    let mut claim = HostClaim {
        files,
        slots: Vec::with_capacity(slots.len()),
    };
    for slot in slots {
        let mut pause = Duration::from_millis(1);
        loop {
            match claim.files.enter(slot) {
                Ok(true) => break,
                // `claim` drops what it holds on every early return.
                Ok(false) if Instant::now() >= deadline => return Taken::Busy,
                Ok(false) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(_) => return Taken::Unusable,
            }
        }
        claim.slots.push(slot);
    }
    Taken::Held(claim)
}

impl Drop for HostClaim {
    fn drop(&mut self) {
        for slot in &self.slots {
            self.files.leave(*slot);
        }
    }
}

impl Files {
    /// Joins this process's hold of `slot`, taking the OS lock if it is the first; false when
    /// another process holds it.
    fn enter(&self, slot: Slot) -> std::io::Result<bool> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = held.get_mut(&slot) {
            *n += 1;
            return Ok(true);
        }
        let got = try_lock_range(&self.files[usize::from(slot.0)], slot.1, 1)?;
        if got {
            held.insert(slot, 1);
        }
        Ok(got)
    }

    /// Leaves this process's hold of `slot`, dropping the OS lock with the last holder.
    fn leave(&self, slot: Slot) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let last = match held.get_mut(&slot) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => true,
            None => false,
        };
        if last {
            held.remove(&slot);
            // An unlock cannot fail on a range this process locked; if it somehow did, the
            // lock lasts until the process ends, which only makes other processes wait.
            let _ = unlock_range(&self.files[usize::from(slot.0)], slot.1, 1);
        }
    }
}

/// The lock of one key: a hash of the entity and the GUID's normal form.
fn slot_of(entity: &str, guid: &str) -> Slot {
    let mut bytes = Vec::with_capacity(entity.len() + guid.len() + 1);
    bytes.extend_from_slice(entity.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(guid.as_bytes());
    let h = super::fnv1a64(&bytes);
    ((h % SHARDS) as u8, ((h / SHARDS) % OFFSETS) as u32)
}

/// The portal's claim files, opened on first use; `None` when they cannot be used.
fn files_of(origin: &str) -> Option<Arc<Files>> {
    let key = super::origin_key(origin);
    let mut all = PORTALS.lock().unwrap_or_else(|p| p.into_inner());
    let now = Instant::now();
    if let Some(Opened::Ready(f)) = all.get(&key) {
        return Some(f.clone());
    }
    if let Some(Opened::Unusable(retry_at)) = all.get(&key) {
        if now < *retry_at {
            return None;
        }
    }
    match open_files(&key) {
        Ok(f) => {
            let f = Arc::new(f);
            all.insert(key, Opened::Ready(f.clone()));
            Some(f)
        }
        Err(_) => {
            all.insert(key, Opened::Unusable(now + RETRY_AFTER));
            None
        }
    }
}

fn open_files(key: &str) -> std::io::Result<Files> {
    let root = super::dir();
    ensure_dir(&root)?;
    let claims = root.join("claims");
    ensure_dir(&claims)?;
    let dir = claims.join(key);
    ensure_dir(&dir)?;
    let files = (0..SHARDS)
        .map(|i| open_rw(&dir.join(format!("{i}.lock"))))
        .collect::<std::io::Result<Vec<File>>>()?;
    Ok(Files {
        files,
        held: Mutex::new(HashMap::new()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_and_are_stable() {
        let a = slot_of("contact", "0b2f7a1e-0000-0000-0000-000000000001");
        assert_eq!(
            a,
            slot_of("contact", "0b2f7a1e-0000-0000-0000-000000000001")
        );
        assert_ne!(
            a,
            slot_of("company", "0b2f7a1e-0000-0000-0000-000000000001")
        );
        let slots: std::collections::HashSet<Slot> = (0..10_000)
            .map(|i| slot_of("contact", &format!("guid-{i}")))
            .collect();
        assert!(slots.len() >= 9_990, "{}", slots.len());
        assert!(slots
            .iter()
            .all(|(s, o)| u64::from(*s) < SHARDS && u64::from(*o) < OFFSETS));
    }

    #[test]
    fn claims_in_one_process_share_a_slot_without_waiting() {
        let origin = format!("http://127.0.0.1:1/claims-test-{}", std::process::id());
        let deadline = Instant::now() + Duration::from_secs(1);
        let Taken::Held(a) = take(&origin, [("contact", "g1"), ("contact", "g2")], deadline) else {
            // A machine whose temp directory is unusable: the degraded path is tested elsewhere.
            return;
        };
        let Taken::Held(b) = take(&origin, [("contact", "g1")], deadline) else {
            panic!("the same process joins its own hold");
        };
        let slot = slot_of("contact", "g1");
        assert_eq!(a.files.held.lock().unwrap().get(&slot), Some(&2));
        drop(a);
        assert_eq!(b.files.held.lock().unwrap().get(&slot), Some(&1));
        drop(b);
        let files = files_of(&origin).unwrap();
        assert!(files.held.lock().unwrap().is_empty());
    }
}

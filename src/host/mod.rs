//! Coordination between the processes of one host: 1C's server runs several worker processes
//! (and loads add-ins out of process since 8.3.21), while the portal counts all of them against
//! one bucket and the GUID claims must hold across all of them too.
//!
//! The state lives in small files under the temp directory, guarded by OS byte-range locks that
//! the OS drops when a process dies, so a crash never leaves anything held. Everything here is
//! best effort: a caller that gets an error goes on with its process-local state instead.

pub(crate) mod claims;
mod lock;

pub(crate) use lock::{try_lock_range, unlock_range};

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The directory of the host-wide files: `<temp>/bitrix24-1c` (on Unix `bitrix24-1c-<uid>`, as
/// `/tmp` is shared by every user and another user's directory would be unusable or unsafe).
pub(crate) fn dir() -> PathBuf {
    std::env::temp_dir().join(dir_name())
}

#[cfg(unix)]
fn dir_name() -> String {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    format!("bitrix24-1c-{uid}")
}

#[cfg(not(unix))]
fn dir_name() -> String {
    "bitrix24-1c".into()
}

/// Creates `dir` if needed and checks that it is ours to use: a directory owned by this user and
/// writable by no one else (another user could otherwise plant files or links in it).
pub(crate) fn ensure_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        // Private from the start, whatever the umask (which could leave it group-writable).
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        return Err(io::Error::other("not a directory"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: as above.
        let uid = unsafe { libc::geteuid() };
        if meta.uid() != uid || meta.mode() & 0o022 != 0 {
            return Err(io::Error::other(
                "owned by another user or writable by others",
            ));
        }
    }
    Ok(())
}

/// Opens (creating) a state file for reading and writing.
pub(crate) fn open_rw(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// A stable name for a portal origin (`scheme://host[:port]`, never a secret): the same in every
/// process and every build, unlike `std`'s hasher, whose algorithm may change between releases.
pub(crate) fn origin_key(origin: &str) -> String {
    format!("{:016x}", fnv1a64(origin.as_bytes()))
}

/// FNV-1a, 64 bit: small, stable and good enough to spread names and keys.
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_keys_are_stable() {
        // Fixed values: every process and every build of the library must agree on them.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(origin_key("https://p.bitrix24.ru").len(), 16);
        assert_ne!(
            origin_key("https://p.bitrix24.ru"),
            origin_key("https://q.bitrix24.ru")
        );
    }

    #[test]
    fn a_file_in_place_of_the_directory_is_refused() {
        let base = std::env::temp_dir().join(format!("b24-host-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).unwrap();
        let not_dir = base.join("file");
        std::fs::write(&not_dir, b"x").unwrap();
        assert!(ensure_dir(&not_dir).is_err());
        assert!(ensure_dir(&base.join("fresh")).is_ok());
        let _ = std::fs::remove_dir_all(&base);
    }
}

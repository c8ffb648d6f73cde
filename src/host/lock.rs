//! Non-blocking exclusive byte-range locks on a file, the one OS primitive the host-wide state
//! needs. A range lock (unlike a whole-file lock) lets one file carry a lock per GUID, so claims
//! of different GUIDs never wait for each other, and no lock file is ever created per key.
//!
//! Unix: POSIX `fcntl(F_SETLK)`. Its locks belong to the process, not to the descriptor, and
//! closing any descriptor of the file drops all of the process's locks on it: so each locked
//! file is opened once per process and kept open, and offsets stay below 2^31 (a 32-bit `off_t`
//! on i686). Windows: `LockFileEx` with `LOCKFILE_FAIL_IMMEDIATELY`. Either way the OS releases
//! a dead process's locks.

use std::fs::File;
use std::io;

/// Takes an exclusive lock on `len` bytes at `start` (past the end of the file is fine).
/// `Ok(false)`: someone else holds part of it. Never waits.
#[cfg(unix)]
pub(crate) fn try_lock_range(file: &File, start: u32, len: u32) -> io::Result<bool> {
    match set_lock(file, libc::F_WRLCK, start, len) {
        Ok(()) => Ok(true),
        Err(e) if busy(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Releases a lock taken by [`try_lock_range`].
#[cfg(unix)]
pub(crate) fn unlock_range(file: &File, start: u32, len: u32) -> io::Result<()> {
    set_lock(file, libc::F_UNLCK, start, len)
}

#[cfg(unix)]
fn set_lock(file: &File, kind: libc::c_int, start: u32, len: u32) -> io::Result<()> {
    use std::os::unix::io::AsRawFd;
    let (start, len) = (start.min(i32::MAX as u32), len.min(i32::MAX as u32));
    // SAFETY: an all-zero `flock` is a valid value of the plain C struct; the fields that
    // matter are set below.
    let mut fl: libc::flock = unsafe { std::mem::zeroed() };
    fl.l_type = kind as _;
    fl.l_whence = libc::SEEK_SET as _;
    fl.l_start = start as libc::off_t;
    fl.l_len = len as libc::off_t;
    // SAFETY: the descriptor is open for as long as `file` is borrowed, and `fl` outlives the
    // call; F_SETLK never blocks.
    let r = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_SETLK, &fl as *const libc::flock) };
    if r == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(unix)]
fn busy(e: &io::Error) -> bool {
    // EINTR too: the caller polls again, which is all a busy answer asks of it.
    matches!(
        e.raw_os_error(),
        Some(libc::EACCES) | Some(libc::EAGAIN) | Some(libc::EINTR)
    )
}

#[cfg(windows)]
use windows_sys::Win32::{Foundation, Storage::FileSystem, System::IO::OVERLAPPED};

/// Takes an exclusive lock on `len` bytes at `start` (past the end of the file is fine).
/// `Ok(false)`: someone else holds part of it. Never waits.
#[cfg(windows)]
pub(crate) fn try_lock_range(file: &File, start: u32, len: u32) -> io::Result<bool> {
    use std::os::windows::io::AsRawHandle;
    let mut ov = overlapped(start);
    // SAFETY: the handle is open for as long as `file` is borrowed; the handle is synchronous
    // (std never opens with FILE_FLAG_OVERLAPPED), so `ov` is not used after the call returns.
    let ok = unsafe {
        FileSystem::LockFileEx(
            file.as_raw_handle() as _,
            FileSystem::LOCKFILE_EXCLUSIVE_LOCK | FileSystem::LOCKFILE_FAIL_IMMEDIATELY,
            0,
            len,
            0,
            &mut ov,
        )
    };
    if ok != 0 {
        return Ok(true);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error().map(|c| c as u32) {
        Some(Foundation::ERROR_LOCK_VIOLATION) | Some(Foundation::ERROR_IO_PENDING) => Ok(false),
        _ => Err(e),
    }
}

/// Releases a lock taken by [`try_lock_range`].
#[cfg(windows)]
pub(crate) fn unlock_range(file: &File, start: u32, len: u32) -> io::Result<()> {
    use std::os::windows::io::AsRawHandle;
    let mut ov = overlapped(start);
    // SAFETY: as in try_lock_range.
    let ok = unsafe { FileSystem::UnlockFileEx(file.as_raw_handle() as _, 0, len, 0, &mut ov) };
    if ok != 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(windows)]
fn overlapped(start: u32) -> OVERLAPPED {
    // SAFETY: OVERLAPPED is a plain C struct for which all-zero is the documented initial value.
    let mut ov: OVERLAPPED = unsafe { std::mem::zeroed() };
    ov.Anonymous.Anonymous.Offset = start;
    ov
}

/// No byte-range locks on this platform: every caller falls back to process-local state.
#[cfg(not(any(unix, windows)))]
pub(crate) fn try_lock_range(_file: &File, _start: u32, _len: u32) -> io::Result<bool> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// See the Unix and Windows versions.
#[cfg(not(any(unix, windows)))]
pub(crate) fn unlock_range(_file: &File, _start: u32, _len: u32) -> io::Result<()> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

//! The few OS calls the benchmark needs (Linux, 64-bit): `getrusage`, the current RSS, and
//! `dlopen`/`dlsym`, declared here so the benchmark adds no dependency.

use std::ffi::{c_char, c_int, c_long, c_void, CStr, CString};
use std::path::Path;

#[repr(C)]
struct Timeval {
    sec: c_long,
    usec: c_long,
}

/// `struct rusage` on 64-bit Linux: two timevals, then 14 longs (`ru_maxrss` first).
#[repr(C)]
struct Rusage {
    utime: Timeval,
    stime: Timeval,
    maxrss: c_long,
    _rest: [c_long; 13],
}

const RUSAGE_SELF: c_int = 0;
const RTLD_NOW: c_int = 2;

extern "C" {
    fn getrusage(who: c_int, usage: *mut Rusage) -> c_int;
    fn dlopen(filename: *const c_char, flag: c_int) -> *mut c_void;
    fn dlsym(handle: *mut c_void, symbol: *const c_char) -> *mut c_void;
    fn dlerror() -> *mut c_char;
}

/// CPU time and peak RSS of this process (all its threads) so far.
#[derive(Clone, Copy, Debug)]
pub struct Usage {
    /// User CPU seconds.
    pub user: f64,
    /// System CPU seconds.
    pub sys: f64,
    /// Peak resident set size, KiB (`ru_maxrss`).
    pub maxrss_kib: i64,
}

impl Usage {
    /// This process's usage now (`getrusage(RUSAGE_SELF)`).
    pub fn now() -> Usage {
        let mut r = std::mem::MaybeUninit::<Rusage>::zeroed();
        // SAFETY: `r` is a writable rusage of the kernel's layout on 64-bit Linux.
        let rc = unsafe { getrusage(RUSAGE_SELF, r.as_mut_ptr()) };
        assert_eq!(rc, 0, "getrusage failed");
        // SAFETY: zero-initialised and filled by the kernel.
        let r = unsafe { r.assume_init() };
        let secs = |t: &Timeval| t.sec as f64 + t.usec as f64 / 1e6;
        Usage {
            user: secs(&r.utime),
            sys: secs(&r.stime),
            maxrss_kib: r.maxrss,
        }
    }

    /// User + system CPU seconds.
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }
}

/// A `kB` line of `/proc/self/status`, in KiB.
fn status_kib(key: &str) -> i64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.split_whitespace().next()?.parse().ok())
        })
        .unwrap_or(-1)
}

/// The current resident set size in KiB (`VmRSS`).
pub fn current_rss_kib() -> i64 {
    status_kib("VmRSS:")
}

/// The peak resident set size of this process image in KiB (`VmHWM`). Unlike `ru_maxrss`, it
/// does not inherit the parent's peak across `fork`/`exec`.
pub fn peak_rss_kib() -> i64 {
    status_kib("VmHWM:")
}

/// A shared library loaded with `dlopen`, as a C program or 1C loads the cdylib. Never closed.
pub struct Lib(*mut c_void);

impl Lib {
    /// Loads the library at `path`.
    pub fn open(path: &Path) -> Result<Lib, String> {
        let c = CString::new(path.to_string_lossy().into_owned()).map_err(|e| e.to_string())?;
        // SAFETY: a NUL-terminated path; loading runs the library's initialisers, which a Rust
        // cdylib has none of beyond the standard runtime's.
        let h = unsafe { dlopen(c.as_ptr(), RTLD_NOW) };
        if h.is_null() {
            // SAFETY: dlerror returns NULL or a NUL-terminated message.
            let e = unsafe { dlerror() };
            let msg = if e.is_null() {
                "dlopen failed".to_string()
            } else {
                // SAFETY: see above.
                unsafe { CStr::from_ptr(e) }.to_string_lossy().into_owned()
            };
            return Err(msg);
        }
        Ok(Lib(h))
    }

    /// The address of export `name` as a function pointer of type `F`.
    ///
    /// # Safety
    /// `F` must be a function pointer type matching the export's real signature.
    pub unsafe fn sym<F: Copy>(&self, name: &str) -> F {
        assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<*mut c_void>());
        let c = CString::new(name).expect("symbol name");
        // SAFETY: a live handle and a NUL-terminated name.
        let p = unsafe { dlsym(self.0, c.as_ptr()) };
        assert!(!p.is_null(), "the library does not export {name}");
        // SAFETY: a non-null code address of the export; the caller vouches for `F`.
        unsafe { std::mem::transmute_copy::<*mut c_void, F>(&p) }
    }
}

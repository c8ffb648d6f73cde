//! The platform's interfaces the component calls: `IMemoryManager` and `IAddInDefBase`.

use super::super::text;
use std::ffi::{c_long, c_ulong, c_void};

/// Destructor slots at the head of every vtable: 2 under the Itanium ABI, 1 under MSVC.
pub(super) const DTOR_SLOTS: usize = if cfg!(windows) { 1 } else { 2 };

/// `IMemoryManager`.
#[repr(C)]
pub(crate) struct MemoryManager {
    pub(super) vtable: *const MemoryManagerVtable,
}

#[repr(C)]
pub(super) struct MemoryManagerVtable {
    pub(super) _dtors: [*const c_void; DTOR_SLOTS],
    // `bool` returns are taken as a byte so a non-0/1 value from the host is not UB.
    pub(super) alloc:
        unsafe extern "system" fn(*mut MemoryManager, *mut *mut c_void, c_ulong) -> u8,
    pub(super) free: unsafe extern "system" fn(*mut MemoryManager, *mut *mut c_void),
}

/// `IAddInDefBase` (only the part we call).
#[repr(C)]
pub(crate) struct AddInDefBase {
    vtable: *const AddInDefBaseVtable,
}

#[repr(C)]
struct AddInDefBaseVtable {
    _dtors: [*const c_void; DTOR_SLOTS],
    add_error:
        unsafe extern "system" fn(*mut AddInDefBase, u16, *const u16, *const u16, c_long) -> u8,
    // Slots in the header's order; the unused ones are never called.
    _read: *const c_void,
    _write: *const c_void,
    _register_profile_as: *const c_void,
    set_event_buffer_depth: unsafe extern "system" fn(*mut AddInDefBase, c_long) -> u8,
    _get_event_buffer_depth: *const c_void,
    external_event:
        unsafe extern "system" fn(*mut AddInDefBase, *const u16, *const u16, *const u16) -> u8,
    _clean_event_buffer: *const c_void,
    set_status_line: unsafe extern "system" fn(*mut AddInDefBase, *const u16) -> u8,
    reset_status_line: unsafe extern "system" fn(*mut AddInDefBase),
}

/// `ADDIN_E_FAIL`: shown as an error, and with a nonzero `scode` the platform raises it.
const ADDIN_E_FAIL: u16 = 1006;
/// Nonzero `scode` (the official sample passes -1 on failure).
const ADDIN_SCODE_FAIL: c_long = -1;

/// The source name of our errors and external events.
pub(crate) const SOURCE: &str = "Bitrix24";

/// The platform's connection given to `Init`, or nothing before it (every call is then a no-op).
#[derive(Clone, Copy)]
pub(super) struct Conn(*mut AddInDefBase);

// SAFETY: the platform's IAddInDefBase may be called from any thread for ExternalEvent (its
// documented use: events from a component's own threads). The worker threads that hold a
// `Conn` are joined in `Done`, before the connection can go away.
unsafe impl Send for Conn {}
unsafe impl Sync for Conn {}

impl Conn {
    /// Wraps the pointer `Init` received (null: no connection).
    pub(super) fn new(p: *mut AddInDefBase) -> Conn {
        Conn(p)
    }

    /// The live interface, if any.
    fn get(&self) -> Option<*mut AddInDefBase> {
        (!self.0.is_null()).then_some(self.0)
    }

    /// Reports `descr` through `AddError`, so BSL raises it as an exception.
    pub(super) fn add_error(&self, descr: &str) {
        let Some(conn) = self.get() else { return };
        let (source, descr) = (text::to_utf16z(SOURCE), text::to_utf16z(descr));
        // SAFETY: `conn` is the live IAddInDefBase given to Init (valid until Done); both
        // strings are NUL-terminated and outlive the call (the platform copies them).
        unsafe {
            ((*(*conn).vtable).add_error)(
                conn,
                ADDIN_E_FAIL,
                source.as_ptr(),
                descr.as_ptr(),
                ADDIN_SCODE_FAIL,
            );
        }
    }

    /// Shows `text` in the status line (the server ignores it, per the platform's docs).
    pub(super) fn set_status_line(&self, text: &str) {
        let Some(conn) = self.get() else { return };
        let text = text::to_utf16z(text);
        // SAFETY: as in add_error.
        unsafe { ((*(*conn).vtable).set_status_line)(conn, text.as_ptr()) };
    }

    /// Clears the status line.
    pub(super) fn reset_status_line(&self) {
        let Some(conn) = self.get() else { return };
        // SAFETY: as in add_error.
        unsafe { ((*(*conn).vtable).reset_status_line)(conn) }
    }

    /// Queues an external event for `ОбработкаВнешнегоСобытия`; false when the platform
    /// refused it (its buffer is full).
    pub(super) fn external_event(&self, event: &str, data: &str) -> bool {
        let Some(conn) = self.get() else { return false };
        let source = text::to_utf16z(SOURCE);
        let (event, data) = (text::to_utf16z(event), text::to_utf16z(data));
        // SAFETY: as in add_error; callable from a worker thread (see the Send impl).
        unsafe {
            ((*(*conn).vtable).external_event)(conn, source.as_ptr(), event.as_ptr(), data.as_ptr())
                != 0
        }
    }

    /// Asks the platform to keep up to `depth` undelivered events (its default is 1).
    pub(super) fn set_event_buffer_depth(&self, depth: c_long) {
        let Some(conn) = self.get() else { return };
        // SAFETY: as in add_error.
        unsafe { ((*(*conn).vtable).set_event_buffer_depth)(conn, depth) };
    }
}

impl super::super::jobs::Events for Conn {
    fn emit(&self, event: &str, data: &str) -> bool {
        self.external_event(event, data)
    }
}

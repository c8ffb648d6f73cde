//! The raw Native API ABI: `tVariant`, the four vtables, the platform's interfaces and the
//! exported functions. All of the layer's `unsafe` lives here.
//!
//! Facts used (see the project's Native API reference):
//! - the object starts with 4 vptrs (IInitDoneBase, ILanguageExtenderBase, LocaleBase,
//!   UserLanguageBase); a method of base *k* gets `this = object + k * sizeof(void*)`;
//! - every interface with a virtual destructor starts its vtable with 2 destructor slots under
//!   the Itanium C++ ABI (Linux, macOS) and 1 (the scalar deleting destructor) under MSVC
//!   (1C on Windows);
//! - methods are `ADDIN_API` (`__stdcall` on Windows, the default elsewhere): `extern "system"`;
//!   the header's `long` is `c_long` (8 bytes on Linux x86_64, 4 elsewhere);
//! - strings and values returned to 1C are allocated with its `IMemoryManager`, never malloc.
//!
//! Every vtable entry and export runs its body inside [`guard`], so no panic unwinds into C++.

use super::component::{Addin, Verdict};
use super::interface::{find_method, find_property, METHODS, PROPERTIES};
use super::text;
use super::value::{Out, Value};
use crate::error::Error;
#[cfg(windows)]
use std::ffi::c_uint;
use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use std::mem::{offset_of, size_of};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::{self, addr_of, addr_of_mut};
use std::sync::atomic::{AtomicPtr, Ordering};

/// Runs `f`, turning a panic into `default`: the one guard of every entry point.
pub(crate) fn guard<R>(default: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            // Dropping a payload can itself panic; keep that inside too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            default
        }
    }
}

// ---------------------------------------------------------------------------------------------
// tVariant

/// `VTYPE_*` codes of `types.h`.
pub(crate) mod vt {
    pub const EMPTY: u16 = 0;
    pub const NULL: u16 = 1;
    pub const I2: u16 = 2;
    pub const I4: u16 = 3;
    pub const R4: u16 = 4;
    pub const R8: u16 = 5;
    pub const PSTR: u16 = 8;
    pub const ERROR: u16 = 10;
    pub const BOOL: u16 = 11;
    pub const I1: u16 = 13;
    pub const UI1: u16 = 14;
    pub const UI2: u16 = 15;
    pub const UI4: u16 = 16;
    pub const I8: u16 = 17;
    pub const UI8: u16 = 18;
    pub const INT: u16 = 19;
    pub const UINT: u16 = 20;
    pub const PWSTR: u16 = 22;
}

/// C `struct tm` (glibc adds `tm_gmtoff` and `tm_zone`; MSVC has the 9 ints only).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct Tm {
    fields: [c_int; 9],
    #[cfg(not(windows))]
    gmtoff: c_long,
    #[cfg(not(windows))]
    zone: *const c_char,
}

/// `{ char* pstrVal; uint32_t strLen; }` (length in bytes).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct StrVal {
    pub ptr: *mut c_char,
    pub len: u32,
}

/// `{ WCHAR_T* pwstrVal; uint32_t wstrLen; }` (length in UTF-16 units, no terminator).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct WStrVal {
    pub ptr: *mut u16,
    pub len: u32,
}

/// `{ void* pInterfaceVal; IID InterfaceID; }` (only for the union's size).
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) struct IfaceVal {
    ptr: *mut c_void,
    iid: (u32, u16, u16, [u8; 8]),
}

/// The anonymous union of `tVariant`.
#[repr(C)]
#[derive(Clone, Copy)]
pub(crate) union VariantData {
    pub i8: i8,
    pub i16: i16,
    pub i32: i32,
    pub i64: i64,
    pub u8: u8,
    pub u16: u16,
    pub u32: u32,
    pub u64: u64,
    pub f32: f32,
    pub f64: f64,
    pub bool: bool,
    pub str: StrVal,
    pub wstr: WStrVal,
    tm: Tm,
    iface: IfaceVal,
}

/// `tVariant` of `types.h`.
#[repr(C)]
pub(crate) struct TVariant {
    pub data: VariantData,
    pub cb_elements: u32,
    pub vt: u16,
}

// The layout 1C expects, per target (measured with the real header under g++ and clang/MSVC).
macro_rules! assert_layout {
    ($size:expr, $cb:expr, $vt:expr, $len:expr) => {
        const _: () = {
            assert!(size_of::<TVariant>() == $size);
            assert!(offset_of!(TVariant, cb_elements) == $cb);
            assert!(offset_of!(TVariant, vt) == $vt);
            assert!(offset_of!(WStrVal, len) == $len);
            assert!(offset_of!(StrVal, len) == $len);
        };
    };
}
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
assert_layout!(64, 56, 60, 8);
#[cfg(all(target_os = "linux", target_arch = "x86"))]
assert_layout!(52, 44, 48, 4);
#[cfg(all(windows, target_arch = "x86_64"))]
assert_layout!(48, 40, 44, 8);
#[cfg(all(windows, target_arch = "x86"))]
assert_layout!(48, 40, 44, 4);

/// Reads a parameter into an owned [`Value`].
///
/// # Safety
/// `v` is null or points at a readable `tVariant` whose string/blob pointer, if any, is valid for
/// the stated length (the platform's contract).
unsafe fn read_variant(v: *const TVariant) -> Value {
    if v.is_null() {
        return Value::Malformed("null variant");
    }
    // SAFETY: `v` is readable (contract above). Fields are read as the plain integers they are
    // stored as; `bool` is read as a byte so a stray value is not UB.
    unsafe {
        let d = addr_of!((*v).data).read_unaligned();
        match addr_of!((*v).vt).read_unaligned() {
            vt::EMPTY => Value::Empty,
            vt::NULL => Value::Null,
            vt::BOOL => Value::Bool(d.u8 != 0),
            vt::I1 => Value::Int(d.i8.into()),
            vt::I2 => Value::Int(d.i16.into()),
            vt::I4 | vt::INT | vt::ERROR => Value::Int(d.i32.into()),
            vt::I8 => Value::Int(d.i64),
            vt::UI1 => Value::UInt(d.u8.into()),
            vt::UI2 => Value::UInt(d.u16.into()),
            vt::UI4 | vt::UINT => Value::UInt(d.u32.into()),
            vt::UI8 => Value::UInt(d.u64),
            vt::R4 => Value::Float(d.f32.into()),
            vt::R8 => Value::Float(d.f64),
            vt::PWSTR => match (d.wstr.ptr.is_null(), d.wstr.len) {
                (_, 0) => Value::Utf16(Vec::new()),
                (true, _) => Value::Malformed("null string with a nonzero length"),
                (false, n) => {
                    Value::Utf16(std::slice::from_raw_parts(d.wstr.ptr, n as usize).to_vec())
                }
            },
            vt::PSTR => match (d.str.ptr.is_null(), d.str.len) {
                (_, 0) => Value::Utf8(Vec::new()),
                (true, _) => Value::Malformed("null string with a nonzero length"),
                (false, n) => Value::Utf8(
                    std::slice::from_raw_parts(d.str.ptr.cast::<u8>(), n as usize).to_vec(),
                ),
            },
            other => Value::Unsupported(other),
        }
    }
}

/// Reads `count` parameters from the array 1C passes.
///
/// # Safety
/// `params` is null or points at `count` readable `tVariant`s.
unsafe fn read_params(params: *const TVariant, count: c_long) -> Result<Vec<Value>, Error> {
    let n = usize::try_from(count).map_err(|_| {
        Error::invalid_input(
            "WRONG_PARAM_COUNT",
            format!("negative parameter count {count}"),
        )
    })?;
    if n == 0 {
        return Ok(Vec::new());
    }
    if params.is_null() {
        return Err(Error::invalid_input(
            "NULL_PARAMS",
            format!("{n} parameter(s) announced but none passed"),
        ));
    }
    // SAFETY: `params` points at `n` variants (contract above).
    Ok((0..n)
        .map(|i| unsafe { read_variant(params.add(i)) })
        .collect())
}

/// Reads a NUL-terminated UTF-16 name (at most `MAX_NAME` units, so a missing NUL cannot run
/// away) and decodes it.
///
/// # Safety
/// `p` is null or points at a NUL-terminated UTF-16 string.
unsafe fn read_name(p: *const u16) -> Option<String> {
    const MAX_NAME: usize = 1024;
    if p.is_null() {
        return None;
    }
    let mut units = Vec::new();
    for i in 0..MAX_NAME {
        // SAFETY: within the string up to and including its NUL (contract above).
        let u = unsafe { p.add(i).read_unaligned() };
        if u == 0 {
            return text::from_utf16(&units).ok();
        }
        units.push(u);
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The platform's interfaces (called by us)

const DTOR_SLOTS: usize = if cfg!(windows) { 1 } else { 2 };

/// `IMemoryManager`.
#[repr(C)]
pub(crate) struct MemoryManager {
    vtable: *const MemoryManagerVtable,
}

#[repr(C)]
struct MemoryManagerVtable {
    _dtors: [*const c_void; DTOR_SLOTS],
    // `bool` returns are taken as a byte so a non-0/1 value from the host is not UB.
    alloc: unsafe extern "system" fn(*mut MemoryManager, *mut *mut c_void, c_ulong) -> u8,
    free: unsafe extern "system" fn(*mut MemoryManager, *mut *mut c_void),
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
    // Slots between AddError and SetStatusLine, in the header's order; never called.
    _read: *const c_void,
    _write: *const c_void,
    _register_profile_as: *const c_void,
    _set_event_buffer_depth: *const c_void,
    _get_event_buffer_depth: *const c_void,
    _external_event: *const c_void,
    _clean_event_buffer: *const c_void,
    set_status_line: unsafe extern "system" fn(*mut AddInDefBase, *const u16) -> u8,
    reset_status_line: unsafe extern "system" fn(*mut AddInDefBase),
}

/// `ADDIN_E_FAIL`: shown as an error, and with a nonzero `scode` the platform raises it.
const ADDIN_E_FAIL: u16 = 1006;
/// Nonzero `scode` (the official sample passes -1 on failure).
const ADDIN_SCODE_FAIL: c_long = -1;

/// Allocates `s` as a NUL-terminated UTF-16 buffer with the platform's memory manager.
/// Returns the buffer and its length in units (without the NUL), or `None` when there is no
/// memory manager or it refused.
///
/// # Safety
/// `mem` is null or a live `IMemoryManager`.
unsafe fn alloc_wstr(mem: *mut MemoryManager, s: &str) -> Option<(*mut u16, u32)> {
    if mem.is_null() {
        return None;
    }
    let units = text::to_utf16z(s);
    let len = u32::try_from(units.len() - 1).ok()?;
    let bytes = c_ulong::try_from(units.len().checked_mul(2)?).ok()?;
    let mut p: *mut c_void = ptr::null_mut();
    // SAFETY: `mem` is a live IMemoryManager whose vtable has the layout above; on success it
    // hands back a buffer of `bytes` bytes, which we fill exactly.
    unsafe {
        let ok = ((*(*mem).vtable).alloc)(mem, &mut p, bytes);
        if ok == 0 || p.is_null() {
            return None;
        }
        ptr::copy_nonoverlapping(units.as_ptr(), p.cast::<u16>(), units.len());
    }
    Some((p.cast(), len))
}

/// Writes `out` into the variant 1C passed (a return value or property value).
/// Returns false when a string could not be allocated.
///
/// # Safety
/// `v` is null or a writable `tVariant`; `mem` as in [`alloc_wstr`].
unsafe fn write_out(mem: *mut MemoryManager, v: *mut TVariant, out: &Out) -> bool {
    if v.is_null() {
        return false;
    }
    // SAFETY: `v` is writable (contract above); the previous content belongs to 1C and is not
    // freed here (1C passes fresh variants for return values).
    unsafe {
        match out {
            Out::Str(s) => {
                let Some((p, len)) = alloc_wstr(mem, s) else {
                    return false;
                };
                addr_of_mut!((*v).data.wstr).write_unaligned(WStrVal { ptr: p, len });
                addr_of_mut!((*v).vt).write_unaligned(vt::PWSTR);
            }
            Out::Bool(b) => {
                addr_of_mut!((*v).data.bool).write_unaligned(*b);
                addr_of_mut!((*v).vt).write_unaligned(vt::BOOL);
            }
            Out::F64(f) => {
                addr_of_mut!((*v).data.f64).write_unaligned(*f);
                addr_of_mut!((*v).vt).write_unaligned(vt::R8);
            }
        }
    }
    true
}

// ---------------------------------------------------------------------------------------------
// Our object and its vtables

/// One component object: four vptrs exactly where C++ puts them, then our data.
#[repr(C)]
pub(crate) struct Component {
    init_done: &'static InitDoneVtable,
    lang: &'static LangVtable,
    locale: &'static LocaleVtable,
    user_lang: &'static UserLangVtable,
    mem: AtomicPtr<MemoryManager>,
    conn: AtomicPtr<AddInDefBase>,
    addin: Addin,
}

const PTR: usize = size_of::<*const c_void>();
const _: () = {
    assert!(offset_of!(Component, lang) == PTR);
    assert!(offset_of!(Component, locale) == 2 * PTR);
    assert!(offset_of!(Component, user_lang) == 3 * PTR);
};

/// Base subobject numbers (the index of the vptr a call comes through).
const INIT_DONE: usize = 0;
const LANG: usize = 1;
const LOCALE: usize = 2;
const USER_LANG: usize = 3;

/// Recovers the object pointer from the `this` of base `base` (null stays null).
fn object_ptr(this: *mut c_void, base: usize) -> *mut Component {
    if this.is_null() {
        return ptr::null_mut();
    }
    // Pure address arithmetic; dereferencing is the callers' business.
    this.cast::<u8>().wrapping_sub(base * PTR).cast()
}

/// Recovers the object from the `this` of base `base`.
///
/// # Safety
/// `this` is null or was produced from a live `Component` by adding `base * PTR`, which is what
/// the platform's C++ calls do.
unsafe fn object<'a>(this: *mut c_void, base: usize) -> Option<&'a Component> {
    // SAFETY: see the contract; only shared references are made, all mutation is interior.
    unsafe { object_ptr(this, base).as_ref() }
}

impl Component {
    fn new_boxed() -> *mut Component {
        Box::into_raw(Box::new(Component {
            init_done: &INIT_DONE_VTABLE,
            lang: &LANG_VTABLE,
            locale: &LOCALE_VTABLE,
            user_lang: &USER_LANG_VTABLE,
            mem: AtomicPtr::new(ptr::null_mut()),
            conn: AtomicPtr::new(ptr::null_mut()),
            addin: Addin::default(),
        }))
    }

    fn mem(&self) -> *mut MemoryManager {
        self.mem.load(Ordering::Acquire)
    }

    /// Reports `descr` through the platform's `AddError` (nothing happens before `Init`).
    fn add_error(&self, descr: &str) {
        let conn = self.conn.load(Ordering::Acquire);
        if conn.is_null() {
            return;
        }
        let source = text::to_utf16z("Bitrix24");
        let descr = text::to_utf16z(descr);
        // SAFETY: `conn` is the live IAddInDefBase given to Init (it outlives the object until
        // Done, which clears it); both strings are NUL-terminated and outlive the call.
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

    /// Shows `text` in the platform's status line (nothing happens before `Init`; the server
    /// ignores it, per the platform's documentation).
    fn set_status_line(&self, text: &str) {
        let conn = self.conn.load(Ordering::Acquire);
        if conn.is_null() {
            return;
        }
        let text = text::to_utf16z(text);
        // SAFETY: as in add_error; the platform copies the NUL-terminated text during the call.
        unsafe {
            ((*(*conn).vtable).set_status_line)(conn, text.as_ptr());
        }
    }

    /// Clears the status line set by [`Component::set_status_line`].
    fn reset_status_line(&self) {
        let conn = self.conn.load(Ordering::Acquire);
        if conn.is_null() {
            return;
        }
        // SAFETY: as in add_error.
        unsafe { ((*(*conn).vtable).reset_status_line)(conn) }
    }

    /// Applies a verdict: raises through AddError when asked; returns what the entry returns.
    fn conclude(&self, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Ok => true,
            Verdict::Fail => false,
            Verdict::Raise(text) => {
                self.add_error(&text);
                false
            }
        }
    }
}

/// Frees an object made by [`Component::new_boxed`].
///
/// # Safety
/// `p` came from `new_boxed` and is not used again.
unsafe fn free_object(p: *mut Component) {
    // SAFETY: contract above.
    drop(unsafe { Box::from_raw(p) });
}

// Destructor slots. 1C destroys objects through DestroyObject, but hosts that `delete` the
// interface pointer (OneScript does) call these, so they are real and free exactly once.

/// Itanium D1 (complete object destructor): releases what the object holds but not its memory.
#[cfg(not(windows))]
unsafe extern "C" fn dtor_complete<const BASE: usize>(this: *mut c_void) {
    guard((), || {
        // SAFETY: the platform calls the slot with the `this` of base BASE.
        if let Some(c) = unsafe { object(this, BASE) } {
            c.addin.done();
        }
    })
}

/// Itanium D0 (deleting destructor): destroys and frees.
#[cfg(not(windows))]
unsafe extern "C" fn dtor_deleting<const BASE: usize>(this: *mut c_void) {
    guard((), || {
        let p = object_ptr(this, BASE);
        if !p.is_null() {
            // SAFETY: `delete` through our vtable: the object is live and not used afterwards.
            unsafe { free_object(p) };
        }
    })
}

/// MSVC scalar deleting destructor: destroys, and frees when `flags & 1`. `__thiscall` on x86.
#[cfg(all(windows, target_arch = "x86"))]
unsafe extern "thiscall" fn dtor_scalar<const BASE: usize>(
    this: *mut c_void,
    flags: c_uint,
) -> *mut c_void {
    scalar_deleting(this, BASE, flags)
}

/// MSVC scalar deleting destructor (x64 has one calling convention).
#[cfg(all(windows, not(target_arch = "x86")))]
unsafe extern "C" fn dtor_scalar<const BASE: usize>(
    this: *mut c_void,
    flags: c_uint,
) -> *mut c_void {
    scalar_deleting(this, BASE, flags)
}

#[cfg(windows)]
fn scalar_deleting(this: *mut c_void, base: usize, flags: c_uint) -> *mut c_void {
    guard(this, || {
        let p = object_ptr(this, base);
        if !p.is_null() && flags & 1 != 0 {
            // SAFETY: `delete` through our vtable: the object is live and not used afterwards.
            unsafe { free_object(p) };
        } else if !p.is_null() {
            // SAFETY: the platform calls the slot with the `this` of a live object.
            unsafe { (*p).addin.done() };
        }
        this
    })
}

#[cfg(not(windows))]
type Dtors = [unsafe extern "C" fn(*mut c_void); 2];
#[cfg(not(windows))]
const fn dtors<const BASE: usize>() -> Dtors {
    [dtor_complete::<BASE>, dtor_deleting::<BASE>]
}
#[cfg(all(windows, target_arch = "x86"))]
type Dtors = [unsafe extern "thiscall" fn(*mut c_void, c_uint) -> *mut c_void; 1];
#[cfg(all(windows, not(target_arch = "x86")))]
type Dtors = [unsafe extern "C" fn(*mut c_void, c_uint) -> *mut c_void; 1];
#[cfg(windows)]
const fn dtors<const BASE: usize>() -> Dtors {
    [dtor_scalar::<BASE>]
}

type This = *mut c_void;

#[repr(C)]
struct InitDoneVtable {
    dtors: Dtors,
    init: unsafe extern "system" fn(This, *mut c_void) -> bool,
    set_mem_manager: unsafe extern "system" fn(This, *mut c_void) -> bool,
    get_info: unsafe extern "system" fn(This) -> c_long,
    done: unsafe extern "system" fn(This),
}

#[repr(C)]
struct LangVtable {
    dtors: Dtors,
    register_extension_as: unsafe extern "system" fn(This, *mut *mut u16) -> bool,
    get_n_props: unsafe extern "system" fn(This) -> c_long,
    find_prop: unsafe extern "system" fn(This, *const u16) -> c_long,
    get_prop_name: unsafe extern "system" fn(This, c_long, c_long) -> *const u16,
    get_prop_val: unsafe extern "system" fn(This, c_long, *mut TVariant) -> bool,
    set_prop_val: unsafe extern "system" fn(This, c_long, *mut TVariant) -> bool,
    is_prop_readable: unsafe extern "system" fn(This, c_long) -> bool,
    is_prop_writable: unsafe extern "system" fn(This, c_long) -> bool,
    get_n_methods: unsafe extern "system" fn(This) -> c_long,
    find_method: unsafe extern "system" fn(This, *const u16) -> c_long,
    get_method_name: unsafe extern "system" fn(This, c_long, c_long) -> *const u16,
    get_n_params: unsafe extern "system" fn(This, c_long) -> c_long,
    get_param_def_value: unsafe extern "system" fn(This, c_long, c_long, *mut TVariant) -> bool,
    has_ret_val: unsafe extern "system" fn(This, c_long) -> bool,
    call_as_proc: unsafe extern "system" fn(This, c_long, *mut TVariant, c_long) -> bool,
    call_as_func:
        unsafe extern "system" fn(This, c_long, *mut TVariant, *mut TVariant, c_long) -> bool,
}

#[repr(C)]
struct LocaleVtable {
    dtors: Dtors,
    set_locale: unsafe extern "system" fn(This, *const u16),
}

#[repr(C)]
struct UserLangVtable {
    dtors: Dtors,
    set_user_interface_language_code: unsafe extern "system" fn(This, *const u16),
}

static INIT_DONE_VTABLE: InitDoneVtable = InitDoneVtable {
    dtors: dtors::<INIT_DONE>(),
    init,
    set_mem_manager,
    get_info,
    done,
};

static LANG_VTABLE: LangVtable = LangVtable {
    dtors: dtors::<LANG>(),
    register_extension_as,
    get_n_props,
    find_prop,
    get_prop_name,
    get_prop_val,
    set_prop_val,
    is_prop_readable,
    is_prop_writable,
    get_n_methods,
    find_method: find_method_entry,
    get_method_name,
    get_n_params,
    get_param_def_value,
    has_ret_val,
    call_as_proc,
    call_as_func,
};

static LOCALE_VTABLE: LocaleVtable = LocaleVtable {
    dtors: dtors::<LOCALE>(),
    set_locale,
};

static USER_LANG_VTABLE: UserLangVtable = UserLangVtable {
    dtors: dtors::<USER_LANG>(),
    set_user_interface_language_code,
};

/// The class (and extension) name: `GetClassNames` and `RegisterExtensionAs` give the same, so
/// `Новый("AddIn.B24.Bitrix24")` works in 1C and in hosts that use the class name.
pub(crate) const CLASS_NAME: &str = "Bitrix24";
static CLASS_NAME_Z: [u16; 9] = text::ascii_utf16z(CLASS_NAME);

/// A table index from 1C's `long`, if it is one.
fn index(n: c_long, len: usize) -> Option<usize> {
    usize::try_from(n).ok().filter(|&i| i < len)
}

/// A count as 1C's `long`.
fn count(n: usize) -> c_long {
    c_long::try_from(n).unwrap_or(0)
}

// IInitDoneBase ---------------------------------------------------------------------------------

unsafe extern "system" fn init(this: This, disp: *mut c_void) -> bool {
    guard(false, || {
        // SAFETY (every entry below): `this` comes from the platform through our vtable of the
        // named base, so `object` recovers our live Component.
        let Some(c) = (unsafe { object(this, INIT_DONE) }) else {
            return false;
        };
        c.conn.store(disp.cast(), Ordering::Release);
        true
    })
}

unsafe extern "system" fn set_mem_manager(this: This, mem: *mut c_void) -> bool {
    guard(false, || {
        let Some(c) = (unsafe { object(this, INIT_DONE) }) else {
            return false;
        };
        c.mem.store(mem.cast(), Ordering::Release);
        !mem.is_null()
    })
}

unsafe extern "system" fn get_info(_this: This) -> c_long {
    // "Technology version 2.0"; 1000 would select the legacy behaviour.
    guard(0, || 2000)
}

unsafe extern "system" fn done(this: This) {
    guard((), || {
        if let Some(c) = unsafe { object(this, INIT_DONE) } {
            c.addin.done();
            // The connection may go away after Done; never call AddError through it again.
            c.conn.store(ptr::null_mut(), Ordering::Release);
        }
    })
}

// ILanguageExtenderBase -------------------------------------------------------------------------

unsafe extern "system" fn register_extension_as(this: This, name: *mut *mut u16) -> bool {
    guard(false, || {
        let Some(c) = (unsafe { object(this, LANG) }) else {
            return false;
        };
        if name.is_null() {
            return false;
        }
        // SAFETY: the memory manager is the platform's; `name` is a writable out-pointer.
        match unsafe { alloc_wstr(c.mem(), CLASS_NAME) } {
            Some((p, _)) => {
                unsafe { name.write_unaligned(p) };
                true
            }
            None => false,
        }
    })
}

unsafe extern "system" fn get_n_props(_this: This) -> c_long {
    guard(0, || count(PROPERTIES.len()))
}

unsafe extern "system" fn find_prop(_this: This, name: *const u16) -> c_long {
    guard(-1, || {
        // SAFETY: 1C passes a NUL-terminated name.
        let name = unsafe { read_name(name) };
        name.and_then(|n| find_property(&n)).map_or(-1, count)
    })
}

/// The name of a table entry as an allocated string (alias 0 = English, 1 = Russian).
fn entry_name(this: This, en_ru: Option<(&str, &str)>, alias: c_long) -> *const u16 {
    let Some(c) = (unsafe { object(this, LANG) }) else {
        return ptr::null();
    };
    let name = match (en_ru, alias) {
        (Some((en, _)), 0) => en,
        (Some((_, ru)), 1) => ru,
        _ => return ptr::null(),
    };
    // SAFETY: the memory manager is the platform's.
    unsafe { alloc_wstr(c.mem(), name) }.map_or(ptr::null(), |(p, _)| p.cast_const())
}

unsafe extern "system" fn get_prop_name(this: This, num: c_long, alias: c_long) -> *const u16 {
    guard(ptr::null(), || {
        let def = index(num, PROPERTIES.len()).map(|i| (PROPERTIES[i].en, PROPERTIES[i].ru));
        entry_name(this, def, alias)
    })
}

unsafe extern "system" fn get_prop_val(this: This, num: c_long, val: *mut TVariant) -> bool {
    guard(false, || {
        let Some(c) = (unsafe { object(this, LANG) }) else {
            return false;
        };
        let Some(out) = index(num, PROPERTIES.len()).and_then(|i| c.addin.get_prop(i)) else {
            return false;
        };
        // SAFETY: `val` is the platform's variant to fill.
        unsafe { write_out(c.mem(), val, &out) }
    })
}

unsafe extern "system" fn set_prop_val(this: This, num: c_long, val: *mut TVariant) -> bool {
    guard(false, || {
        let Some(c) = (unsafe { object(this, LANG) }) else {
            return false;
        };
        let Some(i) = index(num, PROPERTIES.len()) else {
            return false;
        };
        // SAFETY: `val` is null or the platform's readable variant.
        let value = match unsafe { read_variant(val) } {
            Value::Malformed(why) => Err(Error::invalid_input("MALFORMED_VALUE", why)),
            v => Ok(v),
        };
        c.conclude(c.addin.set_prop(i, value))
    })
}

unsafe extern "system" fn is_prop_readable(_this: This, num: c_long) -> bool {
    guard(false, || {
        index(num, PROPERTIES.len()).is_some_and(|i| PROPERTIES[i].readable)
    })
}

unsafe extern "system" fn is_prop_writable(_this: This, num: c_long) -> bool {
    guard(false, || {
        index(num, PROPERTIES.len()).is_some_and(|i| PROPERTIES[i].writable)
    })
}

unsafe extern "system" fn get_n_methods(_this: This) -> c_long {
    guard(0, || count(METHODS.len()))
}

unsafe extern "system" fn find_method_entry(_this: This, name: *const u16) -> c_long {
    guard(-1, || {
        // SAFETY: 1C passes a NUL-terminated name.
        let name = unsafe { read_name(name) };
        name.and_then(|n| find_method(&n)).map_or(-1, count)
    })
}

unsafe extern "system" fn get_method_name(this: This, num: c_long, alias: c_long) -> *const u16 {
    guard(ptr::null(), || {
        let def = index(num, METHODS.len()).map(|i| (METHODS[i].en, METHODS[i].ru));
        entry_name(this, def, alias)
    })
}

unsafe extern "system" fn get_n_params(_this: This, num: c_long) -> c_long {
    guard(0, || {
        index(num, METHODS.len()).map_or(0, |i| count(METHODS[i].params))
    })
}

unsafe extern "system" fn get_param_def_value(
    this: This,
    num: c_long,
    param: c_long,
    val: *mut TVariant,
) -> bool {
    guard(false, || {
        let Some(c) = (unsafe { object(this, LANG) }) else {
            return false;
        };
        if val.is_null() {
            return false;
        }
        let default = index(num, METHODS.len())
            .zip(usize::try_from(param).ok())
            .and_then(|(m, p)| METHODS[m].default_of(p));
        match default {
            // SAFETY: `val` is the platform's variant to fill.
            Some(d) => unsafe { write_out(c.mem(), val, &d.to_out()) },
            None => {
                // A required parameter has no default: say so with EMPTY and false, like the
                // official sample.
                unsafe { addr_of_mut!((*val).vt).write_unaligned(vt::EMPTY) };
                false
            }
        }
    })
}

unsafe extern "system" fn has_ret_val(_this: This, num: c_long) -> bool {
    guard(false, || index(num, METHODS.len()).is_some())
}

/// Runs method `num`; writes the envelope into `ret` when given.
fn run_method(
    this: This,
    num: c_long,
    ret: *mut TVariant,
    params: *mut TVariant,
    n: c_long,
) -> bool {
    let Some(c) = (unsafe { object(this, LANG) }) else {
        return false;
    };
    let Some(i) = index(num, METHODS.len()) else {
        return false;
    };
    // SAFETY: `params` is null or the platform's array of `n` variants.
    let values = unsafe { read_params(params, n) };
    let mut shown = false;
    let mut progress = |p: &crate::api::Progress| {
        shown = true;
        c.set_status_line(&crate::addin::text::status_line(p));
    };
    let (envelope, verdict) = c.addin.call(i, values, &mut progress);
    if shown {
        c.reset_status_line();
    }
    if let (Some(text), false) = (envelope, ret.is_null()) {
        // SAFETY: `ret` is the platform's variant to fill.
        if !unsafe { write_out(c.mem(), ret, &Out::Str(text)) } {
            return false;
        }
    }
    c.conclude(verdict)
}

unsafe extern "system" fn call_as_proc(
    this: This,
    num: c_long,
    params: *mut TVariant,
    n: c_long,
) -> bool {
    guard(false, || run_method(this, num, ptr::null_mut(), params, n))
}

unsafe extern "system" fn call_as_func(
    this: This,
    num: c_long,
    ret: *mut TVariant,
    params: *mut TVariant,
    n: c_long,
) -> bool {
    guard(false, || run_method(this, num, ret, params, n))
}

// LocaleBase / UserLanguageBase: messages are bilingual already, so the locale is not used.

unsafe extern "system" fn set_locale(_this: This, _locale: *const u16) {
    guard((), || ())
}

unsafe extern "system" fn set_user_interface_language_code(_this: This, _lang: *const u16) {
    guard((), || ())
}

// ---------------------------------------------------------------------------------------------
// Exports

/// `AppCapabilities` the component supports (`eAppCapabilitiesLast` of the current SDK).
const APP_CAPABILITIES_LAST: c_int = 3;
/// `eCanAttachAny`: isolated or not, as the administrator chooses.
const CAN_ATTACH_ANY: c_int = 3;

/// Native API export: the `|`-separated list of class names (one class, `Bitrix24`).
///
/// # Safety
/// None beyond being called by a Native API host; the result is static and must not be freed.
#[no_mangle]
pub unsafe extern "C" fn GetClassNames() -> *const u16 {
    guard(ptr::null(), || CLASS_NAME_Z.as_ptr())
}

/// Native API export: creates an object of class `name` into `*out`. Returns nonzero on success.
///
/// # Safety
/// `name` is null or a NUL-terminated UTF-16 string; `out` is null or writable.
#[no_mangle]
pub unsafe extern "C" fn GetClassObject(name: *const u16, out: *mut *mut c_void) -> c_long {
    guard(0, || {
        if out.is_null() {
            return 0;
        }
        // SAFETY: contract above.
        let matches = unsafe { read_name(name) }.is_some_and(|n| text::names_match(&n, CLASS_NAME));
        if !matches {
            return 0;
        }
        unsafe { out.write_unaligned(Component::new_boxed().cast()) };
        1
    })
}

/// Native API export: destroys the object in `*obj` and nulls it. Returns 0 on success.
///
/// # Safety
/// `obj` is null or points at null or at an object from [`GetClassObject`] not yet destroyed.
#[no_mangle]
pub unsafe extern "C" fn DestroyObject(obj: *mut *mut c_void) -> c_long {
    guard(-1, || {
        if obj.is_null() {
            return -1;
        }
        // SAFETY: contract above.
        let p = unsafe { obj.read_unaligned() };
        if p.is_null() {
            return -1;
        }
        unsafe {
            obj.write_unaligned(ptr::null_mut());
            free_object(p.cast());
        }
        0
    })
}

/// Native API export: takes the platform's capabilities and returns the component's.
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn SetPlatformCapabilities(_capabilities: c_int) -> c_int {
    guard(APP_CAPABILITIES_LAST, || APP_CAPABILITIES_LAST)
}

/// Native API export: the attach modes supported (`eCanAttachAny`).
///
/// # Safety
/// None.
#[no_mangle]
pub unsafe extern "C" fn GetAttachType() -> c_int {
    guard(CAN_ATTACH_ANY, || CAN_ATTACH_ANY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    fn variant(vt: u16, fill: impl FnOnce(&mut VariantData)) -> TVariant {
        // SAFETY: all-zero bytes are a valid (EMPTY) variant.
        let mut v: TVariant = unsafe { std::mem::zeroed() };
        v.vt = vt;
        fill(&mut v.data);
        v
    }

    fn read(v: &TVariant) -> Value {
        // SAFETY: `v` is a live variant whose string pointers (if any) are valid.
        unsafe { read_variant(v) }
    }

    #[test]
    fn reads_every_accepted_type() {
        let mut text: Vec<u16> = "Ժ😀".encode_utf16().collect();
        let mut bytes = b"ok".to_vec();
        assert_eq!(read(&variant(vt::EMPTY, |_| {})), Value::Empty);
        assert_eq!(read(&variant(vt::NULL, |_| {})), Value::Null);
        assert_eq!(read(&variant(vt::I2, |d| d.i16 = -7)), Value::Int(-7));
        assert_eq!(read(&variant(vt::I4, |d| d.i32 = 42)), Value::Int(42));
        assert_eq!(
            read(&variant(vt::I8, |d| d.i64 = 1 << 40)),
            Value::Int(1 << 40)
        );
        assert_eq!(
            read(&variant(vt::UI4, |d| d.u32 = u32::MAX)),
            Value::UInt(u32::MAX.into())
        );
        assert_eq!(read(&variant(vt::R4, |d| d.f32 = 3.0)), Value::Float(3.0));
        assert_eq!(read(&variant(vt::R8, |d| d.f64 = 2.5)), Value::Float(2.5));
        // A BOOL byte other than 0/1 is read as a byte, not as an (invalid) Rust bool.
        assert_eq!(read(&variant(vt::BOOL, |d| d.u8 = 7)), Value::Bool(true));
        assert_eq!(read(&variant(vt::BOOL, |d| d.u8 = 0)), Value::Bool(false));
        let w = variant(vt::PWSTR, |d| {
            d.wstr = WStrVal {
                ptr: text.as_mut_ptr(),
                len: text.len() as u32,
            }
        });
        assert_eq!(read(&w), Value::Utf16(text.clone()));
        let s = variant(vt::PSTR, |d| {
            d.str = StrVal {
                ptr: bytes.as_mut_ptr().cast(),
                len: 2,
            }
        });
        assert_eq!(read(&s), Value::Utf8(b"ok".to_vec()));
    }

    #[test]
    fn malformed_and_unsupported_variants() {
        // SAFETY: a null variant pointer is allowed.
        assert!(matches!(
            unsafe { read_variant(ptr::null()) },
            Value::Malformed(_)
        ));
        let w = variant(vt::PWSTR, |d| {
            d.wstr = WStrVal {
                ptr: ptr::null_mut(),
                len: 5,
            }
        });
        assert!(matches!(read(&w), Value::Malformed(_)));
        let w = variant(vt::PWSTR, |d| {
            d.wstr = WStrVal {
                ptr: ptr::null_mut(),
                len: 0,
            }
        });
        assert_eq!(read(&w), Value::Utf16(Vec::new()));
        assert_eq!(
            read(&variant(0x2000 | vt::I4, |_| {})),
            Value::Unsupported(0x2003)
        );
        assert_eq!(read(&variant(9, |_| {})), Value::Unsupported(9));
    }

    #[test]
    fn params_array_checks() {
        // SAFETY: null arrays are allowed by the function.
        unsafe {
            assert_eq!(read_params(ptr::null(), 0).unwrap(), vec![]);
            assert_eq!(read_params(ptr::null(), 2).unwrap_err().code, "NULL_PARAMS");
            assert_eq!(
                read_params(ptr::null(), -1).unwrap_err().code,
                "WRONG_PARAM_COUNT"
            );
        }
        let vs = [
            variant(vt::I4, |d| d.i32 = 1),
            variant(vt::BOOL, |d| d.u8 = 1),
        ];
        // SAFETY: two live variants.
        let got = unsafe { read_params(vs.as_ptr(), 2) }.unwrap();
        assert_eq!(got, vec![Value::Int(1), Value::Bool(true)]);
    }

    // A memory manager in Rust that records its live blocks.
    #[repr(C)]
    struct FakeMem {
        base: MemoryManager,
    }

    thread_local! {
        static LIVE: RefCell<HashMap<usize, usize>> = RefCell::new(HashMap::new());
    }

    unsafe extern "system" fn fake_alloc(
        _m: *mut MemoryManager,
        p: *mut *mut c_void,
        n: c_ulong,
    ) -> u8 {
        let block = Box::into_raw(vec![0u8; n as usize].into_boxed_slice()).cast::<u8>();
        LIVE.with(|l| l.borrow_mut().insert(block as usize, n as usize));
        // SAFETY: `p` is the caller's out-pointer.
        unsafe { *p = block.cast() };
        1
    }

    unsafe extern "system" fn fake_free(_m: *mut MemoryManager, p: *mut *mut c_void) {
        // SAFETY: `p` points at a block from fake_alloc.
        unsafe {
            let n = LIVE
                .with(|l| l.borrow_mut().remove(&(*p as usize)))
                .expect("own block");
            drop(Box::from_raw(ptr::slice_from_raw_parts_mut(
                (*p).cast::<u8>(),
                n,
            )));
            *p = ptr::null_mut();
        }
    }

    #[test]
    fn writes_strings_through_the_memory_manager() {
        let vtable = MemoryManagerVtable {
            _dtors: [ptr::null(); DTOR_SLOTS],
            alloc: fake_alloc,
            free: fake_free,
        };
        let mut mem = FakeMem {
            base: MemoryManager { vtable: &vtable },
        };
        let mem_ptr: *mut MemoryManager = &mut mem.base;
        let mut v = variant(vt::EMPTY, |_| {});
        // SAFETY: `v` is writable and `mem_ptr` a live manager.
        assert!(unsafe { write_out(mem_ptr, &mut v, &Out::Str("Ёж😀".into())) });
        assert_eq!(v.vt, vt::PWSTR);
        // SAFETY: just written: a live block of len + 1 units.
        let (p, len) = unsafe { (v.data.wstr.ptr, v.data.wstr.len as usize) };
        assert_eq!(len, 4);
        assert_eq!(
            LIVE.with(|l| l.borrow().get(&(p as usize)).copied()),
            Some((len + 1) * 2)
        );
        // SAFETY: as above.
        let units = unsafe { std::slice::from_raw_parts(p, len + 1) };
        assert_eq!(units[len], 0);
        assert_eq!(text::from_utf16(&units[..len]).unwrap(), "Ёж😀");
        let mut raw = p.cast::<c_void>();
        // SAFETY: freeing the block the way 1C does.
        unsafe { fake_free(mem_ptr, &mut raw) };
        assert!(LIVE.with(|l| l.borrow().is_empty()));

        // Without a memory manager nothing is allocated and the write fails.
        let mut v = variant(vt::EMPTY, |_| {});
        // SAFETY: `v` is writable; a null manager is allowed.
        assert!(!unsafe { write_out(ptr::null_mut(), &mut v, &Out::Str("x".into())) });
        assert_eq!(v.vt, vt::EMPTY);
        assert!(unsafe { write_out(ptr::null_mut(), &mut v, &Out::Bool(true)) });
        assert_eq!((v.vt, unsafe { v.data.u8 }), (vt::BOOL, 1));
        assert!(unsafe { write_out(ptr::null_mut(), &mut v, &Out::F64(1.5)) });
        assert_eq!((v.vt, unsafe { v.data.f64 }), (vt::R8, 1.5));
    }
}

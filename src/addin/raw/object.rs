//! Our object: four vptrs where C++ puts them, then the state; its vtables and destructors.

use super::super::component::{Addin, Verdict};
use super::entries::*;
use super::guard;
use super::platform::{AddInDefBase, Conn, MemoryManager};
use super::variant::TVariant;
#[cfg(windows)]
use std::ffi::c_uint;
use std::ffi::{c_long, c_void};
use std::mem::{offset_of, size_of};
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};

/// One component object: four vptrs exactly where C++ puts them, then our data.
#[repr(C)]
pub(crate) struct Component {
    init_done: &'static InitDoneVtable,
    lang: &'static LangVtable,
    locale: &'static LocaleVtable,
    user_lang: &'static UserLangVtable,
    pub(super) mem: AtomicPtr<MemoryManager>,
    pub(super) conn: AtomicPtr<AddInDefBase>,
    pub(super) addin: Addin,
}

const PTR: usize = size_of::<*const c_void>();
const _: () = {
    assert!(offset_of!(Component, lang) == PTR);
    assert!(offset_of!(Component, locale) == 2 * PTR);
    assert!(offset_of!(Component, user_lang) == 3 * PTR);
};

/// Base subobject numbers (the index of the vptr a call comes through).
pub(super) const INIT_DONE: usize = 0;
pub(super) const LANG: usize = 1;
pub(super) const LOCALE: usize = 2;
pub(super) const USER_LANG: usize = 3;

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
pub(super) unsafe fn object<'a>(this: *mut c_void, base: usize) -> Option<&'a Component> {
    // SAFETY: see the contract; only shared references are made, all mutation is interior.
    unsafe { object_ptr(this, base).as_ref() }
}

impl Component {
    pub(super) fn new_boxed() -> *mut Component {
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

    pub(super) fn mem(&self) -> *mut MemoryManager {
        self.mem.load(Ordering::Acquire)
    }

    /// The platform's connection (a no-op one before `Init` and after `Done`).
    pub(super) fn conn(&self) -> Conn {
        Conn::new(self.conn.load(Ordering::Acquire))
    }

    /// Applies a verdict: raises through AddError when asked; returns what the entry returns.
    pub(super) fn conclude(&self, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Ok => true,
            Verdict::Fail => false,
            Verdict::Raise(text) => {
                self.conn().add_error(&text);
                false
            }
        }
    }
}

/// Frees an object made by [`Component::new_boxed`].
///
/// # Safety
/// `p` came from `new_boxed` and is not used again.
pub(super) unsafe fn free_object(p: *mut Component) {
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

pub(super) type This = *mut c_void;

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

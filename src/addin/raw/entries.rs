//! The vtable functions: each recovers the object from `this` and calls the safe component.

use super::super::interface::{find_method, find_property, METHODS, PROPERTIES};
use super::super::text;
use super::super::value::{Out, Value};
use super::guard;
use super::object::{object, This, INIT_DONE, LANG, LOCALE, USER_LANG};
use super::variant::{alloc_wstr, read_name, read_params, read_variant, vt, write_out, TVariant};
use crate::error::Error;
use std::ffi::{c_long, c_void};
use std::ptr::{self, addr_of_mut};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Undelivered external events the platform keeps for us.
const EVENT_BUFFER_DEPTH: c_long = 100;

/// The class (and extension) name: `GetClassNames` and `RegisterExtensionAs` give the same, so
/// `Новый("AddIn.B24.Bitrix24")` works in 1C and in hosts that use the class name.
pub(crate) const CLASS_NAME: &str = "Bitrix24";
pub(super) static CLASS_NAME_Z: [u16; 9] = text::ascii_utf16z(CLASS_NAME);

/// A table index from 1C's `long`, if it is one.
fn index(n: c_long, len: usize) -> Option<usize> {
    usize::try_from(n).ok().filter(|&i| i < len)
}

/// A count as 1C's `long`.
fn count(n: usize) -> c_long {
    c_long::try_from(n).unwrap_or(0)
}

// IInitDoneBase ---------------------------------------------------------------------------------

pub(super) unsafe extern "system" fn init(this: This, disp: *mut c_void) -> bool {
    guard(false, || {
        // SAFETY (every entry below): `this` comes from the platform through our vtable of the
        // named base, so `object` recovers our live Component.
        let Some(c) = (unsafe { object(this, INIT_DONE) }) else {
            return false;
        };
        c.conn.store(disp.cast(), Ordering::Release);
        // Progress events of a job may queue up while the form is busy; the default depth
        // (1) would drop all but one. 100, as a large production add-in's base class sets in Init.
        c.conn().set_event_buffer_depth(EVENT_BUFFER_DEPTH);
        c.addin.set_events(Arc::new(c.conn()));
        true
    })
}

pub(super) unsafe extern "system" fn set_mem_manager(this: This, mem: *mut c_void) -> bool {
    guard(false, || {
        let Some(c) = (unsafe { object(this, INIT_DONE) }) else {
            return false;
        };
        c.mem.store(mem.cast(), Ordering::Release);
        !mem.is_null()
    })
}

pub(super) unsafe extern "system" fn get_info(_this: This) -> c_long {
    // "Technology version 2.0"; 1000 would select the legacy behaviour.
    guard(0, || 2000)
}

pub(super) unsafe extern "system" fn done(this: This) {
    guard((), || {
        if let Some(c) = unsafe { object(this, INIT_DONE) } {
            c.addin.done();
            // The connection may go away after Done; never call AddError through it again.
            c.conn.store(ptr::null_mut(), Ordering::Release);
        }
    })
}

// ILanguageExtenderBase -------------------------------------------------------------------------

pub(super) unsafe extern "system" fn register_extension_as(
    this: This,
    name: *mut *mut u16,
) -> bool {
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

pub(super) unsafe extern "system" fn get_n_props(_this: This) -> c_long {
    guard(0, || count(PROPERTIES.len()))
}

pub(super) unsafe extern "system" fn find_prop(_this: This, name: *const u16) -> c_long {
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

pub(super) unsafe extern "system" fn get_prop_name(
    this: This,
    num: c_long,
    alias: c_long,
) -> *const u16 {
    guard(ptr::null(), || {
        let def = index(num, PROPERTIES.len()).map(|i| (PROPERTIES[i].en, PROPERTIES[i].ru));
        entry_name(this, def, alias)
    })
}

pub(super) unsafe extern "system" fn get_prop_val(
    this: This,
    num: c_long,
    val: *mut TVariant,
) -> bool {
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

pub(super) unsafe extern "system" fn set_prop_val(
    this: This,
    num: c_long,
    val: *mut TVariant,
) -> bool {
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

pub(super) unsafe extern "system" fn is_prop_readable(_this: This, num: c_long) -> bool {
    guard(false, || {
        index(num, PROPERTIES.len()).is_some_and(|i| PROPERTIES[i].readable)
    })
}

pub(super) unsafe extern "system" fn is_prop_writable(_this: This, num: c_long) -> bool {
    guard(false, || {
        index(num, PROPERTIES.len()).is_some_and(|i| PROPERTIES[i].writable)
    })
}

pub(super) unsafe extern "system" fn get_n_methods(_this: This) -> c_long {
    guard(0, || count(METHODS.len()))
}

pub(super) unsafe extern "system" fn find_method_entry(_this: This, name: *const u16) -> c_long {
    guard(-1, || {
        // SAFETY: 1C passes a NUL-terminated name.
        let name = unsafe { read_name(name) };
        name.and_then(|n| find_method(&n)).map_or(-1, count)
    })
}

pub(super) unsafe extern "system" fn get_method_name(
    this: This,
    num: c_long,
    alias: c_long,
) -> *const u16 {
    guard(ptr::null(), || {
        let def = index(num, METHODS.len()).map(|i| (METHODS[i].en, METHODS[i].ru));
        entry_name(this, def, alias)
    })
}

pub(super) unsafe extern "system" fn get_n_params(_this: This, num: c_long) -> c_long {
    guard(0, || {
        index(num, METHODS.len()).map_or(0, |i| count(METHODS[i].params))
    })
}

pub(super) unsafe extern "system" fn get_param_def_value(
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

pub(super) unsafe extern "system" fn has_ret_val(_this: This, num: c_long) -> bool {
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
        c.conn()
            .set_status_line(&crate::addin::text::status_line(p));
    };
    let (envelope, verdict) = c.addin.call(i, values, &mut progress);
    if shown {
        c.conn().reset_status_line();
    }
    if let (Some(text), false) = (envelope, ret.is_null()) {
        // SAFETY: `ret` is the platform's variant to fill.
        if !unsafe { write_out(c.mem(), ret, &Out::Str(text)) } {
            return false;
        }
    }
    c.conclude(verdict)
}

pub(super) unsafe extern "system" fn call_as_proc(
    this: This,
    num: c_long,
    params: *mut TVariant,
    n: c_long,
) -> bool {
    guard(false, || run_method(this, num, ptr::null_mut(), params, n))
}

pub(super) unsafe extern "system" fn call_as_func(
    this: This,
    num: c_long,
    ret: *mut TVariant,
    params: *mut TVariant,
    n: c_long,
) -> bool {
    guard(false, || run_method(this, num, ret, params, n))
}

// LocaleBase / UserLanguageBase: the language of the library's own messages.

pub(super) unsafe extern "system" fn set_locale(this: This, locale: *const u16) {
    guard((), || {
        let Some(c) = (unsafe { object(this, LOCALE) }) else {
            return;
        };
        // SAFETY: 1C passes a NUL-terminated name.
        if let Some(l) = unsafe { read_name(locale) } {
            c.addin.set_locale(&l);
        }
    })
}

pub(super) unsafe extern "system" fn set_user_interface_language_code(
    this: This,
    lang: *const u16,
) {
    guard((), || {
        let Some(c) = (unsafe { object(this, USER_LANG) }) else {
            return;
        };
        // SAFETY: 1C passes a NUL-terminated code.
        if let Some(l) = unsafe { read_name(lang) } {
            c.addin.set_locale(&l);
        }
    })
}

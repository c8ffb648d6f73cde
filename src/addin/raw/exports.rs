//! The DLL's exported functions, as the Native API loader looks them up.

use super::super::text;
use super::entries::{CLASS_NAME, CLASS_NAME_Z};
use super::guard;
use super::object::{free_object, Component};
use super::variant::read_name;
use std::ffi::{c_int, c_long, c_void};
use std::ptr;

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

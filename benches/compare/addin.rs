//! The add-in measurement: loads the cdylib with `dlopen` and creates objects the way 1C does
//! for each new session (`GetClassObject`, `setMemManager`, `Init`, `GetInfo`,
//! `RegisterExtensionAs`, `FindMethod("Connect")`, `CallAsFunc(Connect, webhook)`), then
//! destroys them (`Done`, `DestroyObject`). The interfaces are declared by hand with the
//! Itanium layout (two destructor slots per vtable) that `tests/host/host.cpp` checks with a C++
//! compiler.

use crate::sys::Lib;
use serde_json::{json, Value};
use std::ffi::{c_long, c_ulong, c_void};
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const VT_EMPTY: u16 = 0;
const VT_PWSTR: u16 = 22;

/// `tVariant` on 64-bit Linux: a 56-byte union (the largest member is `struct tm`), then
/// `cbElements` and `vt`; 64 bytes in all.
#[repr(C)]
struct TVariant {
    data: [u64; 7],
    cb_elements: u32,
    vt: u16,
}

const _: () = assert!(std::mem::size_of::<TVariant>() == 64);

impl TVariant {
    fn empty() -> TVariant {
        TVariant {
            data: [0; 7],
            cb_elements: 0,
            vt: VT_EMPTY,
        }
    }

    /// A host-owned string parameter.
    fn wstr(units: &mut [u16]) -> TVariant {
        let mut v = TVariant::empty();
        v.data[0] = units.as_mut_ptr() as u64;
        v.data[1] = (units.len() - 1) as u64; // without the NUL
        v.vt = VT_PWSTR;
        v
    }
}

fn utf16z(s: &str) -> Vec<u16> {
    s.encode_utf16().chain(std::iter::once(0)).collect()
}

// ---------------------------------------------------------------------------------------------
// The platform side: a memory manager on malloc and a connection that counts AddError.

extern "C" {
    fn malloc(size: usize) -> *mut c_void;
    fn free(p: *mut c_void);
}

#[repr(C)]
struct MemoryManager {
    vtable: &'static MemoryManagerVtable,
}

#[repr(C)]
struct MemoryManagerVtable {
    _dtors: [usize; 2],
    alloc: unsafe extern "C" fn(*mut MemoryManager, *mut *mut c_void, c_ulong) -> bool,
    free: unsafe extern "C" fn(*mut MemoryManager, *mut *mut c_void),
}

unsafe extern "C" fn mem_alloc(_this: *mut MemoryManager, p: *mut *mut c_void, n: c_ulong) -> bool {
    // SAFETY: `p` is the add-in's writable out-pointer.
    unsafe {
        let m = malloc((n as usize).max(1));
        *p = m;
        !m.is_null()
    }
}

unsafe extern "C" fn mem_free(_this: *mut MemoryManager, p: *mut *mut c_void) {
    // SAFETY: `*p` is NULL or came from `mem_alloc`.
    unsafe {
        if !p.is_null() {
            free(*p);
            *p = ptr::null_mut();
        }
    }
}

static MEMORY_VTABLE: MemoryManagerVtable = MemoryManagerVtable {
    _dtors: [0; 2],
    alloc: mem_alloc,
    free: mem_free,
};

#[repr(C)]
struct Connection {
    vtable: &'static ConnectionVtable,
}

type Ptr = *mut c_void;

/// `IAddInDefBaseEx`: every slot filled, though the add-in calls only `AddError`.
#[repr(C)]
struct ConnectionVtable {
    _dtors: [usize; 2],
    add_error: unsafe extern "C" fn(Ptr, u16, *const u16, *const u16, c_long) -> bool,
    read: unsafe extern "C" fn(Ptr, *mut u16, Ptr, *mut c_long, *mut *mut u16) -> bool,
    write: unsafe extern "C" fn(Ptr, *mut u16, Ptr) -> bool,
    register_profile_as: unsafe extern "C" fn(Ptr, *mut u16) -> bool,
    set_event_buffer_depth: unsafe extern "C" fn(Ptr, c_long) -> bool,
    get_event_buffer_depth: unsafe extern "C" fn(Ptr) -> c_long,
    external_event: unsafe extern "C" fn(Ptr, *mut u16, *mut u16, *mut u16) -> bool,
    clean_event_buffer: unsafe extern "C" fn(Ptr),
    set_status_line: unsafe extern "C" fn(Ptr, *mut u16) -> bool,
    reset_status_line: unsafe extern "C" fn(Ptr),
    get_interface: unsafe extern "C" fn(Ptr, i32) -> Ptr,
}

static ADD_ERRORS: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" fn add_error(_: Ptr, _: u16, _: *const u16, _: *const u16, _: c_long) -> bool {
    ADD_ERRORS.fetch_add(1, Ordering::Relaxed);
    true
}
unsafe extern "C" fn read(_: Ptr, _: *mut u16, _: Ptr, _: *mut c_long, _: *mut *mut u16) -> bool {
    false
}
unsafe extern "C" fn write(_: Ptr, _: *mut u16, _: Ptr) -> bool {
    false
}
unsafe extern "C" fn register_profile_as(_: Ptr, _: *mut u16) -> bool {
    false
}
unsafe extern "C" fn set_event_buffer_depth(_: Ptr, _: c_long) -> bool {
    true
}
unsafe extern "C" fn get_event_buffer_depth(_: Ptr) -> c_long {
    1
}
unsafe extern "C" fn external_event(_: Ptr, _: *mut u16, _: *mut u16, _: *mut u16) -> bool {
    true
}
unsafe extern "C" fn clean_event_buffer(_: Ptr) {}
unsafe extern "C" fn set_status_line(_: Ptr, _: *mut u16) -> bool {
    true
}
unsafe extern "C" fn reset_status_line(_: Ptr) {}
unsafe extern "C" fn get_interface(_: Ptr, _: i32) -> Ptr {
    ptr::null_mut()
}

static CONNECTION_VTABLE: ConnectionVtable = ConnectionVtable {
    _dtors: [0; 2],
    add_error,
    read,
    write,
    register_profile_as,
    set_event_buffer_depth,
    get_event_buffer_depth,
    external_event,
    clean_event_buffer,
    set_status_line,
    reset_status_line,
    get_interface,
};

// ---------------------------------------------------------------------------------------------
// The component side: the first two of its four vptrs.

#[repr(C)]
struct InitDoneVtable {
    _dtors: [usize; 2],
    init: unsafe extern "C" fn(Ptr, Ptr) -> bool,
    set_mem_manager: unsafe extern "C" fn(Ptr, Ptr) -> bool,
    get_info: unsafe extern "C" fn(Ptr) -> c_long,
    done: unsafe extern "C" fn(Ptr),
}

#[repr(C)]
struct LangVtable {
    _dtors: [usize; 2],
    register_extension_as: unsafe extern "C" fn(Ptr, *mut *mut u16) -> bool,
    _props: [usize; 8],
    find_method: unsafe extern "C" fn(Ptr, *const u16) -> c_long,
    _names_params: [usize; 5],
    call_as_func: unsafe extern "C" fn(Ptr, c_long, *mut TVariant, *mut TVariant, c_long) -> bool,
}

type GetClassObject = unsafe extern "C" fn(*const u16, *mut Ptr) -> c_long;
type DestroyObject = unsafe extern "C" fn(*mut Ptr) -> c_long;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `addin LIB WEBHOOK N`: N objects created, connected and destroyed one after another.
pub fn run(args: &[String]) -> Value {
    let [lib, webhook, n] = args else {
        panic!("usage: addin LIB WEBHOOK N")
    };
    let n: usize = n.parse().expect("N");
    let lib = Lib::open(Path::new(lib)).unwrap_or_else(|e| panic!("dlopen: {e}"));
    // SAFETY: the Native API export signatures (see tests/host/host.cpp).
    let (get_class_object, destroy_object): (GetClassObject, DestroyObject) =
        unsafe { (lib.sym("GetClassObject"), lib.sym("DestroyObject")) };
    let mut mem = MemoryManager {
        vtable: &MEMORY_VTABLE,
    };
    let mut conn = Connection {
        vtable: &CONNECTION_VTABLE,
    };
    let class = utf16z("Bitrix24");
    let connect = utf16z("Connect");
    let mut url = utf16z(webhook);
    let mut settings = utf16z("");
    let mut create = Vec::with_capacity(n);
    let mut destroy = Vec::with_capacity(n);
    let mut failures = 0u64;
    for _ in 0..n {
        let t0 = Instant::now();
        let mut obj: Ptr = ptr::null_mut();
        // SAFETY (this block): the calls follow the Native API contract; `obj` is the object's
        // IInitDoneBase pointer, its ILanguageExtenderBase vptr is the next pointer-sized slot,
        // and every string the add-in allocates is freed with our memory manager.
        unsafe {
            assert_eq!(get_class_object(class.as_ptr(), &mut obj), 1);
            let init_done = &**(obj as *const &'static InitDoneVtable);
            let lang_this: Ptr = obj.cast::<u8>().add(std::mem::size_of::<Ptr>()).cast();
            let lang = &**(lang_this as *const &'static LangVtable);
            assert!((init_done.set_mem_manager)(
                obj,
                (&mut mem as *mut MemoryManager).cast()
            ));
            assert!((init_done.init)(obj, (&mut conn as *mut Connection).cast()));
            assert_eq!((init_done.get_info)(obj), 2000);
            let mut name: *mut u16 = ptr::null_mut();
            assert!((lang.register_extension_as)(lang_this, &mut name));
            mem_free(&mut mem, (&mut name as *mut *mut u16).cast());
            let m = (lang.find_method)(lang_this, connect.as_ptr());
            assert!(m >= 0, "Connect not found");
            let mut params = [TVariant::wstr(&mut url), TVariant::wstr(&mut settings)];
            let mut ret = TVariant::empty();
            let called = (lang.call_as_func)(lang_this, m, &mut ret, params.as_mut_ptr(), 2);
            if !called || ret.vt != VT_PWSTR {
                failures += 1;
            } else {
                let p = ret.data[0] as *mut u16;
                let len = ret.data[1] as u32 as usize;
                let text = String::from_utf16_lossy(std::slice::from_raw_parts(p, len));
                if !text.starts_with(r#"{"ok":true"#) {
                    failures += 1;
                }
                let mut pv: *mut c_void = p.cast();
                mem_free(&mut mem, &mut pv);
            }
            let t1 = Instant::now();
            (init_done.done)(obj);
            assert_eq!(destroy_object(&mut obj), 0);
            let t2 = Instant::now();
            create.push((t1 - t0).as_secs_f64() * 1e6);
            destroy.push((t2 - t1).as_secs_f64() * 1e6);
        }
    }
    let first = create[0];
    let mut rest = create[1..].to_vec();
    rest.sort_by(f64::total_cmp);
    let mut destroyed = destroy[1..].to_vec();
    destroyed.sort_by(f64::total_cmp);
    json!({
        "n": n,
        "failures": failures,
        "add_errors": ADD_ERRORS.load(Ordering::Relaxed),
        "first_us": first,
        "median_us": percentile(&rest, 0.5),
        "p99_us": percentile(&rest, 0.99),
        "max_us": rest.last().copied().unwrap_or(f64::NAN),
        "destroy_median_us": percentile(&destroyed, 0.5),
    })
}

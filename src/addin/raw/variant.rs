//! `tVariant` of `types.h`: its layout, reading parameters and writing results.

use super::super::text;
use super::super::value::{Out, Value};
use super::platform::MemoryManager;
use crate::error::Error;
use std::ffi::{c_char, c_int, c_long, c_ulong, c_void};
use std::mem::{offset_of, size_of};
use std::ptr::{self, addr_of, addr_of_mut};

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
    pub const BLOB: u16 = 23;
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
pub(super) unsafe fn read_variant(v: *const TVariant) -> Value {
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
            vt::PSTR => read_bytes(d.str).map_or(MALFORMED, Value::Utf8),
            vt::BLOB => read_bytes(d.str).map_or(MALFORMED, Value::Blob),
            other => Value::Unsupported(other),
        }
    }
}

const MALFORMED: Value = Value::Malformed("null data with a nonzero length");

/// The bytes of a PSTR or BLOB (`None` for null data with a nonzero length).
///
/// # Safety
/// A non-null `s.ptr` is valid for `s.len` bytes (the platform's contract).
unsafe fn read_bytes(s: StrVal) -> Option<Vec<u8>> {
    match (s.ptr.is_null(), s.len) {
        (_, 0) => Some(Vec::new()),
        (true, _) => None,
        // SAFETY: contract above.
        (false, n) => {
            Some(unsafe { std::slice::from_raw_parts(s.ptr.cast::<u8>(), n as usize) }.to_vec())
        }
    }
}

/// Reads `count` parameters from the array 1C passes.
///
/// # Safety
/// `params` is null or points at `count` readable `tVariant`s.
pub(super) unsafe fn read_params(
    params: *const TVariant,
    count: c_long,
) -> Result<Vec<Value>, Error> {
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
pub(super) unsafe fn read_name(p: *const u16) -> Option<String> {
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

/// Allocates `s` as a NUL-terminated UTF-16 buffer with the platform's memory manager.
/// Returns the buffer and its length in units (without the NUL), or `None` when there is no
/// memory manager or it refused.
///
/// # Safety
/// `mem` is null or a live `IMemoryManager`.
pub(super) unsafe fn alloc_wstr(mem: *mut MemoryManager, s: &str) -> Option<(*mut u16, u32)> {
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
pub(super) unsafe fn write_out(mem: *mut MemoryManager, v: *mut TVariant, out: &Out) -> bool {
    if v.is_null() {
        return false;
    }
    // SAFETY: `v` is writable (contract above); the previous content belongs to 1C and is not
    // freed here (1C passes fresh variants for return values).
    unsafe {
        match out {
            Out::Str(_) | Out::Shared(_) => {
                let Some((p, len)) = alloc_wstr(mem, out.text().unwrap_or_default()) else {
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

#[cfg(test)]
mod tests {
    use super::super::platform::{MemoryManagerVtable, DTOR_SLOTS};
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
        let mut blob = vec![0u8, 255, 10];
        let b = variant(vt::BLOB, |d| {
            d.str = StrVal {
                ptr: blob.as_mut_ptr().cast(),
                len: 3,
            }
        });
        assert_eq!(read(&b), Value::Blob(vec![0, 255, 10]));
        let b = variant(vt::BLOB, |d| {
            d.str = StrVal {
                ptr: ptr::null_mut(),
                len: 3,
            }
        });
        assert!(matches!(read(&b), Value::Malformed(_)));
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

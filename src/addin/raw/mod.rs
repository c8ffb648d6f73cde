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
//!
//! Layout: `variant` (tVariant, reading parameters, writing results), `platform` (the
//! platform's interfaces we call: memory manager, AddError, status line, external events),
//! `object` (our object, its vtables and destructors), `entries` (the vtable functions) and
//! `exports` (the DLL's exported functions).

mod entries;
mod exports;
mod object;
mod platform;
mod variant;

pub use exports::{
    DestroyObject, GetAttachType, GetClassNames, GetClassObject, SetPlatformCapabilities,
};

use std::panic::{catch_unwind, AssertUnwindSafe};

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

#![no_main]
//! cargo-fuzz entry point; the body (and its properties) is `b24_fuzz::batch` in targets/common.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| b24_fuzz::batch(data));

#![no_main]
//! cargo-fuzz entry point; the body (and its properties) is `b24_fuzz::answers` in targets/common.rs.

libfuzzer_sys::fuzz_target!(|data: &[u8]| b24_fuzz::answers(data));

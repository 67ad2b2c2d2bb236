#![no_main]
//! libzmq's C API (`oxmq-capi`) under arbitrary call sequences: see `oxmq_fuzz_harness::capi_calls`.

libfuzzer_sys::fuzz_target!(|data: &[u8]| oxmq_fuzz_harness::capi_calls(data));

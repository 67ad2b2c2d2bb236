#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oxmq_fuzz_harness::curve_server(data));

#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oxmq_fuzz_harness::plain_server(data));

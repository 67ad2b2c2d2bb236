#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oxmq_core::fuzzing::frame_decoder(data));

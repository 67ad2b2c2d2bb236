#![no_main]
//! `OXMQ_FUZZ_SOCKET_TYPE=N` (0–11, libzmq numbering) pins the socket type: byte 0 of each
//! input is then ignored, so a crash replays without the variable once its byte 0 is set to N.

use std::sync::OnceLock;

fn pinned_type() -> Option<u8> {
    static PINNED: OnceLock<Option<u8>> = OnceLock::new();
    *PINNED.get_or_init(|| {
        std::env::var("OXMQ_FUZZ_SOCKET_TYPE")
            .ok()
            .and_then(|v| v.parse().ok())
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| match (pinned_type(), data.split_first()) {
    (Some(kind), Some((_, ops))) => oxmq_fuzz_harness::socket_of(kind, ops),
    _ => oxmq_fuzz_harness::socket(data),
});

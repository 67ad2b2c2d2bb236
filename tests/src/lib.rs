//! oxmq's cross-crate tests: interop against real libzmq (in `tests/`), and, to come, the
//! conformance suite over every front-end and the perf harness.

pub mod front;
pub mod pyzmq;
pub mod signals;
pub mod soak;

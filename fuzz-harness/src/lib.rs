//! # oxmq-fuzz-harness
//!
//! The entry points of the fuzz targets in `fuzz/`: each target is a one-line call to one of
//! these functions. They live in a crate of their own, outside `oxmq-core`'s shipped API, and
//! use only that API, so the shipped crate carries no harness.
//!
//! The mechanism targets (`plain_server`, `plain_client`, `curve_server`, `curve_client`) put
//! the fuzzer on the wire between a fuzzed engine and a real counterpart, CURVE with
//! oxmq-core's no-crypto provider (the `fuzzing` feature) so that boxes are no obstacle.
//!
//! Each function feeds arbitrary bytes to one parser or state machine and checks the
//! invariants that must hold whatever the input: no panic, lengths respected, nothing after
//! `Closed`; for a socket, no message duplicated, split, or lost where ZeroMQ promises delivery.
//! The frame decoder and greeting targets take the bytes as they are; the engine and socket
//! targets read them with [`arbitrary`] as a sequence of operations (enums deriving
//! `Arbitrary`), which the fuzzer mutates as structure rather than as a byte format.
//!
//! ## Seeds
//!
//! `seeds/<target>/` holds the committed seed inputs of each target. `cargo test` replays every
//! one of them (`tests/seeds.rs`), so a seed that once found a bug stays a regression test.
//! cargo-fuzz reads them as a second corpus folder, and writes what it finds into its own
//! (uncommitted) `fuzz/corpus/<target>/`:
//!
//! ```sh
//! cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run engine corpus/engine ../fuzz-harness/seeds/engine
//! ```
//!
//! The seeds are in the byte layout of `arbitrary` 1.x's derive, which both lockfiles pin;
//! a test reads one back op by op, so a change of layout shows up as a failure, not as seeds
//! quietly turned into other inputs.
//!
//! To keep an input the fuzzer found (a crash, once fixed, or a new path worth keeping), copy
//! it into `seeds/<target>/` under a name starting `seed-` that says what it exercises.
//!
//! ```ignore
//! // A ZMTP 3.0 greeting offering NULL, decoded prefix by prefix (`tests/seeds.rs` runs
//! // this: a doc-test here would link oxmq-capi, whose cdylib build leaves an unhashed
//! // rlib beside clippy's hashed one, and rustdoc refuses the pair with E0460).
//! let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0];
//! greeting.extend_from_slice(b"NULL");
//! greeting.resize(64, 0);
//! oxmq_fuzz_harness::greeting(&greeting);
//! ```
#![forbid(unsafe_code)]

mod capi;
mod codec;
mod engine;
mod mechanism;
mod socket;

pub use capi::{capi_calls, capi_seeded};
pub use codec::{frame_decoder, greeting};
pub use engine::engine;
pub use mechanism::{curve_client, curve_server, plain_client, plain_server};
pub use socket::{socket, socket_of};

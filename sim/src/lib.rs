//! # oxmq-sim
//!
//! The seeded deterministic network simulator for `oxmq-core` (virtual clock, virtual TCP/IPC
//! byte streams, fault injection, per-pattern oracles, seed sweeps) is not built yet; it is
//! the subject of its own issue. This crate holds its place in the workspace and enables the
//! core's `sim` feature, which will carry the simulator's hooks. It has no API today.
#![forbid(unsafe_code)]

//! # oxmq-core
//!
//! ZeroMQ as pure state machines: the ZMTP 3.x codec, security mechanisms, the engine that runs
//! one ZMTP connection, and (to come) pipes and socket patterns. Nothing in this crate opens a
//! socket, reads a clock, spawns a thread or draws global randomness: time and bytes are inputs,
//! bytes and events are outputs. Drivers — the simulator, the mio and Tokio shells, a fuzzer —
//! feed it.
#![forbid(unsafe_code)]

pub mod codec;
pub mod engine;
pub mod error;
pub mod mechanism;
pub mod message;
pub mod socket_type;
pub mod time;

pub use engine::{Engine, EngineConfig, Event, PeerInfo};
pub use error::ConnectionError;
pub use message::Message;
pub use socket_type::SocketType;
pub use time::Instant;

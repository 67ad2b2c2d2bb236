//! # oxmq-core
//!
//! ZeroMQ as pure state machines: the ZMTP 3.x codec, security mechanisms, the engine that runs
//! one ZMTP connection, pipes with high-water marks, the lb/fq/dist schedulers, subscription
//! tries, every stable socket pattern behind [`Socket`], endpoints, and the object tree's
//! termination handshake. Nothing in this crate opens a
//! socket, reads a clock, spawns a thread or draws global randomness: time and bytes are inputs,
//! bytes and events are outputs. Drivers — the simulator, the mio and Tokio shells, a fuzzer —
//! feed it. A socket is two halves, [`base::SocketHalf`] and a [`session::Session`] per
//! connection; [`driver`] says what a driver calls and when, with a minimal single-threaded
//! driver, and [`base::SocketBase`] is a ready-made one.
//!
//! ```
//! use oxmq_core::{Engine, EngineConfig, Event, Instant, Message, SocketType};
//!
//! // Two engines joined in memory: whatever one transmits, the other receives.
//! let now = Instant::ZERO;
//! let mut push = Engine::new(EngineConfig::new(SocketType::Push), now);
//! let mut pull = Engine::new(EngineConfig::new(SocketType::Pull), now);
//! let mut pump = |a: &mut Engine, b: &mut Engine| {
//!     while let Some(bytes) = a.poll_transmit() {
//!         b.handle_input(&bytes, now);
//!     }
//! };
//! // Drivers drain events after every input: decoding (and the replies it causes) happens there.
//! let mut pull_events: Vec<Event> = Vec::new();
//! for _ in 0..3 {
//!     pump(&mut push, &mut pull);
//!     pull_events.extend(std::iter::from_fn(|| pull.poll_event()));
//!     pump(&mut pull, &mut push);
//!     while push.poll_event().is_some() {}
//! }
//! push.send(&Message::from_frames(["hello", "world"])).unwrap();
//! pump(&mut push, &mut pull);
//! pull_events.extend(std::iter::from_fn(|| pull.poll_event()));
//! assert!(matches!(&pull_events[0], Event::HandshakeSucceeded(_)));
//! assert_eq!(pull_events[1], Event::Message(Message::from_frames(["hello", "world"])));
//! ```
#![forbid(unsafe_code)]

pub mod base;
pub mod codec;
pub mod context;
pub mod driver;
pub mod endpoint;
pub mod engine;
pub mod error;
pub mod inproc;
pub mod mechanism;
pub mod message;
pub mod monitor;
pub mod options;
pub mod pattern;
pub mod pipe;
pub mod proxy;
pub mod rng;
pub mod sched;
pub mod session;
pub mod socket;
pub mod socket_type;
pub(crate) mod subscription;
pub mod time;
pub mod tree;

pub use engine::{Engine, EngineConfig, Event, PeerInfo};
pub use error::{ConnectionError, OsError};
pub use mechanism::{MechanismConfig, ZapReply, ZapReplyError, ZapRequest};
pub use message::{Frame, Message};
pub use options::{DriverOptions, OptionError, SocketOption, SocketOptionName};
pub use pattern::options::SocketOptions;
pub use pipe::{PipeId, PipeItem};
pub use rng::{RandomSource, SecureRandom};
pub use socket::{
    AttachError, InboundError, PipePeer, RecvError, SendErrorKind, Socket, SocketEvent,
};
pub use socket_type::SocketType;
pub use time::Instant;

//! # oxmq-mio
//!
//! The mio front-end for `oxmq-core`. Today it holds the thinnest driver there is: a
//! [`Connection`] that runs one ZMTP engine over one TCP stream on a mio poll loop, with the
//! engine's heartbeats and handshake timer on real time. The libzmq-shaped `Context` / `Socket`
//! API, IPC and inproc, `poll` and `proxy` are still to come (see the project issues).
//!
//! ```no_run
//! use oxmq_core::{EngineConfig, Message, SocketType};
//! use oxmq_mio::Connection;
//! use std::time::Duration;
//!
//! let mut conn = Connection::connect("127.0.0.1:5555".parse().unwrap(),
//!                                    EngineConfig::new(SocketType::Dealer))?;
//! conn.wait_ready(Duration::from_secs(5))?;
//! conn.send(&Message::from_frames(["", "hello"]))?;
//! let reply = conn.recv(Duration::from_secs(5))?;
//! # Ok::<(), oxmq_mio::DriverError>(())
//! ```

mod connection;

pub use connection::{Connection, DriverError};

//! # oxmq-mio
//!
//! The mio front-end for `oxmq-core`: a libzmq-shaped blocking API — [`Context`] and
//! [`Socket`] over tcp, ipc and inproc — with one I/O thread per context driving the core's
//! state machines, with [`poll`] across sockets and the [`proxy`] devices.
//!
//! ```
//! use oxmq_mio::Context;
//! use oxmq_core::{Message, SocketType};
//!
//! let ctx = Context::new()?;
//! let rep = ctx.socket(SocketType::Rep)?;
//! let endpoint = rep.bind("tcp://127.0.0.1:*")?;
//! let req = ctx.socket(SocketType::Req)?;
//! req.connect(&endpoint)?;
//! req.send("hello")?;
//! assert_eq!(rep.recv()?, Message::from("hello"));
//! rep.send("world")?;
//! assert_eq!(req.recv()?, Message::from("world"));
//! # Ok::<(), oxmq_mio::Error>(())
//! ```
//!
//! Options go through one call each way, as `zmq_setsockopt` and `zmq_getsockopt` do:
//! [`Socket::set`] takes any [`SocketOption`](oxmq_core::SocketOption) (pattern, lifecycle,
//! timeout or TCP option, in libzmq's units), [`Socket::get`] reads one back by its
//! [`SocketOptionName`](oxmq_core::SocketOptionName). [`Context::set`] and [`Context::get`]
//! do the same for the [`ContextOption`]s of `zmq_ctx_set`.
//!
//! ```
//! use oxmq_core::{SocketOption, SocketOptionName, SocketType};
//! use oxmq_mio::Context;
//!
//! let ctx = Context::new()?;
//! let pull = ctx.socket(SocketType::Pull)?;
//! pull.set(SocketOption::RcvHwm(10))?;
//! pull.set(SocketOption::Linger(0))?;
//! assert_eq!(pull.get(SocketOptionName::RcvHwm)?, SocketOption::RcvHwm(10));
//! assert_eq!(pull.get(SocketOptionName::Type)?, SocketOption::Type(SocketType::Pull));
//! # Ok::<(), oxmq_mio::Error>(())
//! ```
//!
//! The crate also keeps [`Connection`], a single ZMTP engine on one TCP stream, the thinnest
//! driver there is, used by the interop tests:
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
mod context;
mod error;
mod io;
mod net;
mod poll;
mod shared;
mod sleep;
mod socket;
mod zap;

pub use connection::{Connection, DriverError};
pub use context::{Context, ContextOption, ContextOptionName};
pub use error::Error;
pub use oxmq_core::rng::os_random;
pub use poll::{poll, proxy, proxy_steerable, PollItem, ProxyStats, POLLIN, POLLOUT};
pub use socket::{Monitor, Socket};

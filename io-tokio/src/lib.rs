//! # oxmq-tokio
//!
//! The async front-end for `oxmq-core` on Tokio: [`Context`] and [`Socket`] for every socket
//! type the core has, over tcp, ipc and inproc, with `send(msg).await` / `recv().await`,
//! frame by frame or whole multipart messages, received messages as a
//! [`Stream`](futures_core::Stream) and sending as a [`Sink`](futures_sink::Sink), monitor
//! events as a stream ([`Monitor`]), and close with LINGER; [`Context::term`] closes every
//! socket of a context and waits until what they queued has gone (`zmq_ctx_term`).
//!
//! ```
//! use oxmq_tokio::{Context, Message, SocketType};
//!
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), oxmq_tokio::Error> {
//!     let ctx = Context::new()?;
//!     let rep = ctx.socket(SocketType::Rep)?;
//!     let endpoint = rep.bind("tcp://127.0.0.1:*").await?; // also ipc://…, inproc://…
//!     let req = ctx.socket(SocketType::Req)?;
//!     req.connect(&endpoint).await?;
//!     req.send("Hello").await?;
//!     assert_eq!(rep.recv().await?, Message::from("Hello"));
//!     rep.send("World").await?;
//!     assert_eq!(req.recv().await?, Message::from("World"));
//!     Ok(())
//! }
//! ```
//!
//! # How it runs
//!
//! A socket is the core's two halves (see `oxmq_core::driver`). The socket half lives with
//! the [`Socket`] handle behind a lock of its own — there is no context-wide lock — and a
//! call that must wait (a `recv` with nothing queued, a `send` at SNDHWM) registers its task's
//! waker with the socket and sleeps. Each session (one per connection or connect) is a Tokio
//! task spawned on the runtime the [`Context`] was made on, owning its stream and its session
//! half; timers are Tokio's. Messages cross between the two in lock-free pipes; the halves'
//! commands travel through per-session mailboxes and the socket's lock. It runs on
//! current-thread and multi-thread runtimes alike, and `Socket` is `Send` and `Sync`.
//!
//! Back-pressure is ZeroMQ's: a `send` waits while the pipes are at their high-water mark,
//! and a session stops reading its stream while its pipe to the socket is full, so nothing
//! is buffered without bound.
//!
//! # Cancel safety
//!
//! Every future of a [`Socket`] may be dropped at any await point without losing or
//! duplicating a message: a receive takes a message only in the poll that returns it, a send
//! queues its message only in the poll that returns `Ready`. `tokio::time::timeout` around
//! `recv` and `tokio::select!` against other branches are safe. See [`Socket`] for each call.
//!
//! Options are libzmq's, as in `oxmq-mio`: [`Socket::set`] takes any [`SocketOption`],
//! [`Socket::get`] reads one back by its [`SocketOptionName`]. SNDTIMEO and RCVTIMEO bound
//! `send` and `recv` ([`Error::WouldBlock`] when they run out). The TCP options (SNDBUF, RCVBUF,
//! the TCP_KEEPALIVE family, TOS, TCP_MAXRT, BINDTODEVICE, BACKLOG, IPV6) are applied as
//! libzmq applies them, by the same code as `oxmq-mio`'s (`oxmq-net`); TCP_NODELAY is set.
//!
//! ```
//! use oxmq_tokio::{Context, SocketOption, SocketOptionName, SocketType};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), oxmq_tokio::Error> {
//! let ctx = Context::new()?;
//! let push = ctx.socket(SocketType::Push)?;
//! push.set(SocketOption::SndHwm(10))?;
//! assert_eq!(push.get(SocketOptionName::SndHwm)?, SocketOption::SndHwm(10));
//! // No peer yet: a PUSH cannot take a message now, and hands it back.
//! let (err, back) = push.try_send("kept").unwrap_err();
//! assert!(matches!(err, oxmq_tokio::Error::WouldBlock));
//! assert_eq!(back, oxmq_tokio::Message::from("kept"));
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod context;
mod error;
mod net;
mod proxy;
mod session;
mod shared;
mod socket;
mod zap;

pub use context::Context;
pub use error::Error;
pub use oxmq_core::monitor::{MonitorEvent, MonitorEventKind};
pub use oxmq_core::rng::os_random;
pub use oxmq_core::{Message, SocketOption, SocketOptionName, SocketType};
pub use proxy::{proxy, proxy_steerable, ProxyStats};
pub use socket::{Monitor, Socket};

//! The driver contract: what a driver calls, and when, to run ZeroMQ sockets on the core.
//!
//! The core does no I/O, keeps no clock and starts no thread. A *driver* (the simulator,
//! `oxmq-mio`, `oxmq-tokio`, or your own event loop) owns the sockets, the streams, the time
//! and the threads, and moves what the core asks for. A socket is two halves, split where
//! libzmq splits its threads:
//!
//! | | [`SocketHalf`] (libzmq's `socket_base_t`) | [`Session`] (libzmq's `session_base_t` + engine) |
//! |---|---|---|
//! | one per | socket | connection, or connect endpoint |
//! | runs | where the application calls `send` and `recv` | on an I/O thread (or task, or actor) |
//! | holds | the pattern, options, the socket's pipe ends, endpoints, monitor, object tree | the engine, reconnection and backoff, heartbeats, the session's pipe end |
//! | application inputs | `bind`, `connect`, `unbind`, `disconnect`, `send`, `recv`, `recv_many_from` (a batch, each message with its pipe; it may hold fewer than asked while more wait, and only a failure means nothing is there until the next wake-up; after a `disconnect`, and after an option that `SocketOption::changes_filter` (SUBSCRIBE, UNSUBSCRIBE, INVERT_MATCHING), a driver holding messages taken ahead calls `drop_undeliverable`, which drops those from the pipes the disconnect let go of and those the socket no longer admits), `set_option`, `get_option`, `close` | — |
//! | driver inputs | `handle_listening`, `handle_bind_failed`, `handle_accepted`, `handle_accept_failed`, `handle_close_failed`, `handle_inproc_*`, `handle_timeout` | `handle_dial_result`, `handle_input` (or `read_buffer` then `handle_read`), `handle_eof`, `handle_timeout` |
//! | commands in | [`ToSocket`] by `handle_command(from, cmd)` | [`ToSession`] by `handle_command(cmd)` |
//! | actions out | `poll_action`: `Listen`, `CloseListener`, `InprocBind`, `InprocConnect`, `Close` (inproc) | `poll_action`: `Dial`, `Close` |
//! | commands out | `poll_command` → `(session, ToSession)` | `poll_command` → [`ToSocket`] |
//! | bytes out | — | `take_transmit_ready`, then `poll_transmit` until `None`; `set_unwritten` with what was taken but not yet written (LINGER waits for it) |
//! | back-pressure | — | read the stream only while `wants_input` |
//! | memory | — | `shrink_idle` when a read did not fill what it offered: an idle connection then holds no buffers (optional) |
//! | other outputs | `poll_monitor`, `poll_inproc_command`, `poll_timeout` | `poll_timeout`, `is_finished` |
//!
//! The rules:
//! 1. **Drain after every input.** After any call on a half, take everything it produced:
//!    actions (carry them out, answering with the matching `handle_*`), commands (post them to
//!    the destination's mailbox), bytes (write them), monitor events, and its next deadline.
//! 2. **Mailboxes are FIFO per destination.** Commands for one session are delivered in the
//!    order they were posted, and so are the commands for the socket half; the two mailboxes
//!    may interleave with each other and with network events in any order (the simulator draws
//!    it from its seed). A new session arrives as [`ToSession::Launch`], the first command of
//!    its mailbox: the driver installs it and delivers the rest to it.
//! 3. **Messages cross in pipes, not commands.** The pipes' storage is the driver's choice:
//!    [`Storage::Local`] when both halves run under one thread or lock,
//!    [`Storage::Threads`] (lock-free) when they do not. A pipe's wake-ups and read reports
//!    travel as [`ToSocket::Pipe`] and [`ToSession::Pipe`].
//!    A session looks at its pipe without going to sleep while it has bytes for the driver,
//!    so that the socket owes no wake-up for messages written during a write; only the
//!    `poll_transmit` that returns `None` lets the pipe sleep. A driver that stops calling
//!    before `None` must come back (when the stream is writable again), or the socket's next
//!    messages wait unseen.
//! 4. **Time is an input.** Every call that may arm or fire a timer takes `now`; call
//!    `handle_timeout(now)` once `poll_timeout()` has passed.
//! 5. **Never hold two halves at once** when they may run on different threads: deliver a
//!    command after letting go of the half that produced it (inproc joins two socket halves:
//!    [`SocketHalf::handle_inproc_connected`] on one, then
//!    [`SocketHalf::handle_inproc_accepted`] with the pipe end it returned on the other).
//!    Whom to join, the links made and the commands to hold while a join is under way are
//!    kept by [`inproc::Registry`](crate::inproc::Registry), one per context; a threaded
//!    driver joins through [`inproc::join`](crate::inproc::join), which takes the locks in
//!    the one order that loses no command.
//! 6. **A session is done when [`Session::is_finished`]**: drop it after draining its last
//!    outputs (the `Close` of its stream).
//!
//! [`SocketBase`] is the ready-made single-threaded driver of one socket half and its
//! sessions (rules 1, 2 and 6 with [`Storage::Local`]): the simulator and the core's tests
//! drive it, and leave only streams and time to you. `oxmq-mio` drives the halves on threads:
//! each socket half behind its own lock on the application's side, the sessions on I/O
//! threads over lock-free pipes.
//!
//! # A minimal single-threaded driver
//!
//! A PUSH and a PULL socket in one thread, the "network" a pair of byte queues: the driver
//! carries out their actions, moves the bytes each connection transmits to the other side,
//! and lets the application send and receive.
//!
//! ```
//! use std::collections::VecDeque;
//! use oxmq_core::base::{Action, BaseConfig, ConnId, SocketBase};
//! use oxmq_core::{Instant, Message, SocketType};
//!
//! let now = Instant::ZERO;
//! let mut pull = SocketBase::new(SocketType::Pull, BaseConfig::default(), 1).unwrap();
//! let mut push = SocketBase::new(SocketType::Push, BaseConfig::default(), 2).unwrap();
//! pull.bind("tcp://127.0.0.1:5555", now).unwrap();
//! push.connect("tcp://127.0.0.1:5555", now).unwrap();
//! // Connect-before-handshake: the message waits in the connect's queue.
//! push.send(Message::from("hello"), now).unwrap();
//!
//! // One connection: (the PUSH's id for it, the PULL's id for it).
//! let mut link: Option<(ConnId, ConnId)> = None;
//! let mut listener = None;
//! for _round in 0..10 {
//!     // Rule 1: carry out what each socket asks.
//!     while let Some(a) = pull.poll_action() {
//!         if let Action::Listen { listener: l, .. } = a {
//!             pull.handle_listening(l, "tcp://127.0.0.1:5555", now);
//!             listener = Some(l);
//!         }
//!     }
//!     while let Some(a) = push.poll_action() {
//!         if let Action::Dial { conn, .. } = a {
//!             // "Connect": the listener accepts, and the dial succeeds.
//!             let theirs = pull.handle_accepted(listener.unwrap(), now).unwrap();
//!             push.handle_dial_result(conn, Ok(()), now);
//!             link = Some((conn, theirs));
//!         }
//!     }
//!     // Move the bytes each side transmits to the other.
//!     if let Some((mine, theirs)) = link {
//!         let mut wire = VecDeque::new();
//!         while let Some(c) = push.poll_transmit_ready() {
//!             while let Some(b) = push.poll_transmit(c, now) {
//!                 wire.push_back(b);
//!             }
//!         }
//!         for b in wire.drain(..) {
//!             pull.handle_input(theirs, &b, now);
//!         }
//!         while let Some(c) = pull.poll_transmit_ready() {
//!             while let Some(b) = pull.poll_transmit(c, now) {
//!                 wire.push_back(b);
//!             }
//!         }
//!         for b in wire.drain(..) {
//!             push.handle_input(mine, &b, now);
//!         }
//!     }
//! }
//! assert_eq!(pull.recv(now).unwrap(), Message::from("hello"));
//! ```
//!
//! [`SocketHalf`]: crate::base::SocketHalf
//! [`SocketHalf::handle_inproc_connected`]: crate::base::SocketHalf::handle_inproc_connected
//! [`SocketHalf::handle_inproc_accepted`]: crate::base::SocketHalf::handle_inproc_accepted
//! [`SocketBase`]: crate::base::SocketBase
//! [`Session`]: crate::session::Session
//! [`Session::is_finished`]: crate::session::Session::is_finished
//! [`ToSocket`]: crate::session::ToSocket
//! [`ToSocket::Pipe`]: crate::session::ToSocket::Pipe
//! [`ToSession`]: crate::session::ToSession
//! [`ToSession::Launch`]: crate::session::ToSession::Launch
//! [`ToSession::Pipe`]: crate::session::ToSession::Pipe
//! [`Storage::Local`]: crate::pipe::Storage::Local
//! [`Storage::Threads`]: crate::pipe::Storage::Threads

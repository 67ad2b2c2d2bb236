//! `poll` across sockets (like `zmq_poll`) and the proxies built on it.

use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

pub use oxmq_core::options::{POLLIN, POLLOUT};
pub use oxmq_core::proxy::ProxyStats;
use oxmq_core::proxy::{ProxyCommand, ProxySteering};
use oxmq_core::SocketType;

use crate::shared::Waited;
use crate::{Error, Socket};

/// One socket to watch, the events wanted, and (after [`poll`]) the events that happened.
pub struct PollItem<'a> {
    /// The socket.
    pub socket: &'a Socket,
    /// [`POLLIN`] and/or [`POLLOUT`].
    pub events: u8,
    /// What is ready, set by [`poll`].
    pub revents: u8,
}

impl<'a> PollItem<'a> {
    /// Watches `socket` for `events`.
    pub fn new(socket: &'a Socket, events: u8) -> Self {
        PollItem {
            socket,
            events,
            revents: 0,
        }
    }

    /// Whether the socket had a message to read.
    pub fn is_readable(&self) -> bool {
        self.revents & POLLIN != 0
    }

    /// Whether the socket could send.
    pub fn is_writable(&self) -> bool {
        self.revents & POLLOUT != 0
    }
}

/// Waits until one of the sockets is ready for what its item asks, or `timeout` passes
/// (`None`: forever). Returns how many items are ready. The sockets may come from different
/// contexts; a poll over one context sleeps until one of its sockets changes, a poll over
/// several looks again every millisecond.
pub fn poll(items: &mut [PollItem<'_>], timeout: Option<Duration>) -> Result<usize, Error> {
    let Some(first) = items.first() else {
        return Ok(0);
    };
    let shared = Arc::clone(&first.socket.shared);
    let one_context = items.iter().all(|i| Arc::ptr_eq(&i.socket.shared, &shared));
    let deadline = timeout.map(|t| StdInstant::now() + t);
    loop {
        if items.iter().any(|i| i.socket.shared.is_terminating()) {
            return Err(Error::Terminated);
        }
        // Watch before looking, so that a change made after a socket was looked at is seen.
        let seen = shared.watch();
        let mut ready = 0;
        for item in items.iter_mut() {
            let (r, w) = item.socket.events();
            item.revents = ((u8::from(r) * POLLIN) | (u8::from(w) * POLLOUT)) & item.events;
            ready += usize::from(item.revents != 0);
        }
        if ready > 0 {
            shared.unwatch();
            return Ok(ready);
        }
        let until = if one_context {
            deadline
        } else {
            let slice = StdInstant::now() + Duration::from_millis(1);
            Some(deadline.map_or(slice, |d| d.min(slice)))
        };
        match shared.wait_change(seen, until) {
            Waited::Interrupted => return Err(Error::Interrupted),
            Waited::Expired if deadline.is_some_and(|d| d <= StdInstant::now()) => return Ok(0),
            _ => {}
        }
    }
}

/// Moves messages both ways between `frontend` and `backend`, copying each to `capture` if
/// given, until the context is terminated (`zmq_proxy`; QUEUE, FORWARDER and STREAMER are
/// this with ROUTER/DEALER, XSUB/XPUB and PULL/PUSH).
pub fn proxy(frontend: &Socket, backend: &Socket, capture: Option<&Socket>) -> Result<(), Error> {
    run_proxy(frontend, backend, capture, None).map(|_| ())
}

/// [`proxy`], steered by commands on `control`: `PAUSE`, `RESUME`, `TERMINATE` and
/// `STATISTICS` (answered with eight 8-byte counters, see [`ProxyStats`]). A REP control
/// socket gets an empty reply to the other commands, to keep its lockstep. Returns `Ok` on
/// `TERMINATE`.
pub fn proxy_steerable(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: &Socket,
) -> Result<ProxyStats, Error> {
    run_proxy(frontend, backend, capture, Some(control))
}

fn run_proxy(
    frontend: &Socket,
    backend: &Socket,
    capture: Option<&Socket>,
    control: Option<&Socket>,
) -> Result<ProxyStats, Error> {
    let mut steer = ProxySteering::default();
    loop {
        // As libzmq: read a side only while the other can take a message, and otherwise
        // wait for the other to become writable. A proxy whose backend blocks then leaves its
        // frontend's messages queued, and keeps listening to its control socket.
        let (mut front_interest, mut back_interest) = (0, 0);
        if !steer.paused && std::ptr::eq(frontend, backend) {
            // One socket as both ends (a REP answering its own requests): read it and send
            // back on it; whether it can send is only known once it has read.
            front_interest = POLLIN;
        } else if !steer.paused {
            if writable(backend)? {
                front_interest |= POLLIN;
            } else {
                back_interest |= POLLOUT;
            }
            if writable(frontend)? {
                back_interest |= POLLIN;
            } else {
                front_interest |= POLLOUT;
            }
        }
        let mut items = vec![
            PollItem::new(frontend, front_interest),
            PollItem::new(backend, back_interest),
        ];
        if let Some(c) = control {
            items.push(PollItem::new(c, POLLIN));
        }
        poll(&mut items, None)?;
        let (front_ready, back_ready) = (items[0].is_readable(), items[1].is_readable());
        let control_ready = items.get(2).is_some_and(PollItem::is_readable);
        drop(items);
        if let (true, Some(c)) = (control_ready, control) {
            let msg = c.recv_dontwait()?;
            let (cmd, reply) = steer.control(&msg, c.socket_type() == SocketType::Rep);
            if let Some(reply) = reply {
                c.send(reply)?;
            }
            match cmd {
                ProxyCommand::Terminate => return Ok(steer.stats),
                ProxyCommand::Statistics => continue,
                _ => {}
            }
        }
        if front_ready && !steer.paused {
            forward(frontend, backend, capture, &mut steer.stats, true)?;
        }
        if back_ready && !steer.paused {
            forward(backend, frontend, capture, &mut steer.stats, false)?;
        }
    }
}

/// ZMQ_EVENTS has POLLOUT: a send would not block.
fn writable(s: &Socket) -> Result<bool, Error> {
    match s.get(oxmq_core::SocketOptionName::Events)? {
        oxmq_core::SocketOption::Events(e) => Ok(e & POLLOUT != 0),
        _ => Ok(true),
    }
}

fn forward(
    from: &Socket,
    to: &Socket,
    capture: Option<&Socket>,
    stats: &mut ProxyStats,
    front_to_back: bool,
) -> Result<(), Error> {
    let msg = match from.recv_dontwait() {
        Ok(m) => m,
        Err(Error::WouldBlock) => return Ok(()),
        Err(e) => return Err(e),
    };
    let bytes = msg.byte_len() as u64;
    if let Some(c) = capture {
        // As libzmq's proxy: a blocking send (a PUSH capture waits for a peer), and its
        // failure ends the proxy.
        c.send(msg.clone())?;
    }
    to.send(msg)?;
    stats.record(front_to_back, bytes);
    Ok(())
}

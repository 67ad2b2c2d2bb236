//! `Socket`: a libzmq-shaped blocking socket over the core's `SocketBase`.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use oxmq_core::base::{EndpointOpError, SocketBase};
use oxmq_core::context::SocketId;
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::options::{POLLIN, POLLOUT};
use oxmq_core::socket::SendErrorKind;
use oxmq_core::{Message, SocketOption, SocketOptionName, SocketType};

use crate::io::{Shared, State, Want};
use crate::Error;

/// A ZeroMQ socket. Calls block like libzmq's, up to SNDTIMEO / RCVTIMEO; the `_dontwait`
/// variants return [`Error::WouldBlock`] at once instead. Like a libzmq socket it may move
/// between threads but is used by one at a time.
///
/// Options are set with [`Socket::set`] and read with [`Socket::get`], one
/// [`SocketOption`] at a time, as with `zmq_setsockopt` and `zmq_getsockopt`:
///
/// ```
/// use oxmq_core::{SocketOption, SocketOptionName, SocketType};
/// use oxmq_mio::Context;
///
/// let ctx = Context::new()?;
/// let s = ctx.socket(SocketType::Dealer)?;
/// assert_eq!(s.get(SocketOptionName::Linger)?, SocketOption::Linger(-1));
/// s.set(SocketOption::Linger(0))?;
/// s.set(SocketOption::RcvTimeo(100))?;
/// assert!(matches!(s.recv(), Err(oxmq_mio::Error::WouldBlock)));
/// # Ok::<(), oxmq_mio::Error>(())
/// ```
pub struct Socket {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: SocketId,
    kind: SocketType,
    /// SNDTIMEO and RCVTIMEO as the core keeps them, at hand without the lock.
    sndtimeo: Cell<Option<Duration>>,
    rcvtimeo: Cell<Option<Duration>>,
    /// Frames given with `more` (SNDMORE), sent as one message with the last.
    out_parts: RefCell<Vec<Bytes>>,
    /// The rest of a message being read frame by frame (RCVMORE while non-empty).
    in_parts: RefCell<VecDeque<Bytes>>,
    /// Messages taken from the core ahead of `recv` calls, for socket types whose receive
    /// changes no state (see [`PREFETCH`]).
    prefetched: RefCell<VecDeque<Message>>,
    prefetch: usize,
    /// How many messages the last receive found: one means sparse traffic, and a receive
    /// that must wait then spins before sleeping (see [`Shared::wait_on`]).
    last_batch: std::cell::Cell<usize>,
}

/// How many messages one `recv` may take from the core at once, so that a stream of
/// receives takes the context's lock once per batch rather than once per message. Only for
/// PULL, SUB, DEALER, ROUTER and PAIR, whose receive is a plain dequeue; REQ and REP keep
/// one message at a time because their receive moves their state machine. The batch adds at
/// most this many messages to what RCVHWM holds back, within libzmq's own slack.
const PREFETCH: usize = 256;

impl Socket {
    pub(crate) fn new(shared: Arc<Shared>, id: SocketId, kind: SocketType) -> Socket {
        Socket {
            shared,
            id,
            kind,
            sndtimeo: Cell::new(None),
            rcvtimeo: Cell::new(None),
            out_parts: RefCell::new(Vec::new()),
            in_parts: RefCell::new(VecDeque::new()),
            prefetched: RefCell::new(VecDeque::new()),
            prefetch: match kind {
                SocketType::Pull
                | SocketType::Sub
                | SocketType::Dealer
                | SocketType::Router
                | SocketType::Pair => PREFETCH,
                _ => 1,
            },
            last_batch: std::cell::Cell::new(1),
        }
    }

    /// Sends one frame (ZMQ_SNDMORE when `more`); the message goes out, whole, with its last
    /// frame. As in libzmq, the first frame of a message is where the socket decides whether
    /// the message may start: it fails there ([`Error::NotSupported`], [`Error::BadState`],
    /// ROUTER_MANDATORY's [`Error::HostUnreachable`]) or waits up to SNDTIMEO for room.
    pub fn send_frame(&self, frame: impl Into<Bytes>, more: bool) -> Result<(), Error> {
        let frame = frame.into();
        let starts = self.out_parts.borrow().is_empty();
        if starts && more {
            self.start_message(&frame, deadline(self.sndtimeo.get()))?;
        }
        self.out_parts.borrow_mut().push(frame);
        if more {
            return Ok(());
        }
        let frames = std::mem::take(&mut *self.out_parts.borrow_mut());
        self.send(Message::from_frames(frames))
    }

    /// Waits, at most until `deadline`, until a message starting with `first` may be sent.
    fn start_message(&self, first: &[u8], deadline: Option<StdInstant>) -> Result<(), Error> {
        let mut st = self.shared.lock();
        loop {
            let Some(s) = st.socket(self.id) else {
                return Err(Error::Terminated);
            };
            match s.check_send_start(first) {
                Ok(()) => return Ok(()),
                Err(SendErrorKind::WouldBlock) => {}
                Err(kind) => return Err(Error::from(kind)),
            }
            let (g, more) = self
                .shared
                .wait_on(st, deadline, self.id, Want::Send, false);
            st = g;
            if !more {
                return Err(Error::WouldBlock);
            }
        }
    }

    /// Receives one frame and whether more of the same message follow (ZMQ_RCVMORE).
    pub fn recv_frame(&self) -> Result<(Bytes, bool), Error> {
        if self.in_parts.borrow().is_empty() {
            let m = self.recv()?;
            self.in_parts.borrow_mut().extend(m.into_frames());
        }
        let mut parts = self.in_parts.borrow_mut();
        let frame = parts.pop_front().unwrap_or_default();
        Ok((frame, !parts.is_empty()))
    }

    /// ZMQ_EVENTS under the lock: (readable, writable).
    pub(crate) fn events_locked(&self, st: &mut State) -> (bool, bool) {
        let buffered = !self.in_parts.borrow().is_empty() || !self.prefetched.borrow().is_empty();
        match st.socket(self.id) {
            Some(s) => {
                let (r, w) = s.readiness();
                (buffered || r, w)
            }
            None => (false, false),
        }
    }

    /// How many sessions the socket holds: one per connect, and one per accepted connection
    /// until it has ended. For diagnostics: a connection that is never let go shows here.
    pub fn session_count(&self) -> usize {
        let mut st = self.shared.lock();
        st.socket(self.id).map_or(0, |s| s.session_count())
    }

    /// This socket's type (ZMQ_TYPE).
    pub(crate) fn socket_type(&self) -> SocketType {
        self.kind
    }

    /// Runs `f` on the core socket under the lock, then processes what it produced.
    fn with<R>(&self, f: impl FnOnce(&mut State) -> Result<R, Error>) -> Result<R, Error> {
        let mut st = self.shared.lock();
        if st.core.get(self.id).is_none() {
            return Err(Error::Terminated);
        }
        let r = f(&mut st);
        self.shared.after_change(&mut st);
        r
    }

    /// Binds to `endpoint` and returns it as bound (the port picked for `tcp://…:*`).
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        let id = self.id;
        self.with(|st| {
            let now = st.now();
            let s = st.socket(id).ok_or(Error::Terminated)?;
            let listener = s.bind(endpoint, now)?;
            st.process();
            if let Some(Err(e)) = st.bind_results.remove(&(id, listener)) {
                return Err(Error::Io(e));
            }
            // inproc binds are settled by the core context: a taken name leaves no listener.
            st.socket(id)
                .and_then(|s| s.bound_endpoint(listener).map(str::to_owned))
                .ok_or_else(|| Error::Io(std::io::ErrorKind::AddrInUse.into()))
        })
    }

    /// Connects to `endpoint`; the connection is made (and remade) in the background.
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|s, now| s.connect(endpoint, now))
    }

    /// Stops listening on `endpoint` (as bound).
    pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|s, now| s.unbind(endpoint, now))
    }

    /// Ends the connection made by `connect(endpoint)`.
    pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|s, now| s.disconnect(endpoint, now))
    }

    fn endpoint_op(
        &self,
        op: impl FnOnce(&mut SocketBase, oxmq_core::Instant) -> Result<(), EndpointOpError>,
    ) -> Result<(), Error> {
        let id = self.id;
        self.with(|st| {
            let now = st.now();
            Ok(op(st.socket(id).ok_or(Error::Terminated)?, now)?)
        })
    }

    /// Sets an option (`zmq_setsockopt`). Pattern options (HWMs, subscriptions, routing ids,
    /// ROUTER/XPUB/REQ flags) apply at once; LINGER at once; SNDTIMEO and RCVTIMEO from the
    /// next call; reconnection, heartbeat and TCP options to the connections made or accepted
    /// from now on, and to the next binds. A read-only option, one this socket type does not
    /// have, or a value out of range fails with [`Error::Option`] (libzmq's `EINVAL`).
    pub fn set(&self, opt: SocketOption) -> Result<(), Error> {
        let id = self.id;
        let timeouts = self.with(|st| {
            let now = st.now();
            let s = st.socket(id).ok_or(Error::Terminated)?;
            s.set_option(opt, now).map_err(Error::Option)?;
            let d = s.driver_options();
            Ok((d.send_timeout, d.recv_timeout))
        })?;
        self.sndtimeo.set(timeouts.0);
        self.rcvtimeo.set(timeouts.1);
        Ok(())
    }

    /// Reads an option back (`zmq_getsockopt`): every option [`Socket::set`] takes except
    /// SUBSCRIBE and UNSUBSCRIBE, and the read-only TYPE, RCVMORE, EVENTS, LAST_ENDPOINT,
    /// MECHANISM and THREAD_SAFE. A fresh socket answers libzmq's defaults. An option this
    /// socket type does not have fails with [`Error::Option`] (libzmq's `EINVAL`).
    pub fn get(&self, name: SocketOptionName) -> Result<SocketOption, Error> {
        match name {
            SocketOptionName::RcvMore => {
                Ok(SocketOption::RcvMore(!self.in_parts.borrow().is_empty()))
            }
            SocketOptionName::Events => {
                let (r, w) = self.events();
                Ok(SocketOption::Events(
                    (u8::from(r) * POLLIN) | (u8::from(w) * POLLOUT),
                ))
            }
            _ => {
                let mut st = self.shared.lock();
                let s = st.socket(self.id).ok_or(Error::Terminated)?;
                s.get_option(name).map_err(Error::Option)
            }
        }
    }

    /// Subscribes a SUB socket to messages starting with `topic`: `set(Subscribe(topic))`.
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.set(SocketOption::Subscribe(Bytes::copy_from_slice(topic)))
    }

    /// ZMQ_FD: a file descriptor that becomes readable when this socket's events may have
    /// changed, for a user's own poll loop. After it wakes, read ZMQ_EVENTS with
    /// [`Socket::get`] (which also empties it) and act on what that says; as with libzmq, do
    /// not rely on the fd alone.
    pub fn readiness_fd(&self) -> Result<std::os::fd::RawFd, Error> {
        use std::os::fd::AsRawFd;
        let mut st = self.shared.lock();
        if let Some(sig) = st.signallers.get(&self.id) {
            return Ok(sig.read.as_raw_fd());
        }
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let fd = read.as_raw_fd();
        st.signallers.insert(
            self.id,
            crate::io::Signaller {
                write,
                read,
                last: (false, false),
            },
        );
        self.shared.after_change(&mut st);
        Ok(fd)
    }

    /// ZMQ_EVENTS: whether a message can be read now, and whether one can be sent now.
    fn events(&self) -> (bool, bool) {
        let mut st = self.shared.lock();
        if let Some(sig) = st.signallers.get(&self.id) {
            let mut sink = [0u8; 64];
            while matches!((&sig.read).read(&mut sink), Ok(n) if n > 0) {}
        }
        self.events_locked(&mut st)
    }

    /// Sends a whole message, waiting up to SNDTIMEO while no peer can take it.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.send_until(msg.into(), deadline(self.sndtimeo.get()))
    }

    /// Sends a whole message or fails with [`Error::WouldBlock`] at once (ZMQ_DONTWAIT).
    pub fn send_dontwait(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.send_until(msg.into(), Some(StdInstant::now()))
    }

    fn send_until(&self, mut msg: Message, deadline: Option<StdInstant>) -> Result<(), Error> {
        let mut st = self.shared.lock();
        loop {
            let now = st.now();
            let Some(s) = st.socket(self.id) else {
                return Err(Error::Terminated);
            };
            match s.send(msg, now) {
                Ok(()) => {
                    self.shared.after_io(&mut st, self.id, now);
                    return Ok(());
                }
                Err(e) => {
                    let err = Error::from(&e);
                    if !matches!(err, Error::WouldBlock) {
                        return Err(err);
                    }
                    msg = e.message;
                }
            }
            self.shared.after_io(&mut st, self.id, now);
            let (g, more) = self
                .shared
                .wait_on(st, deadline, self.id, Want::Send, false);
            st = g;
            if !more {
                return Err(Error::WouldBlock);
            }
        }
    }

    /// Receives a whole message, waiting up to RCVTIMEO.
    pub fn recv(&self) -> Result<Message, Error> {
        self.recv_until(deadline(self.rcvtimeo.get()))
    }

    /// Receives a whole message or fails with [`Error::WouldBlock`] at once.
    pub fn recv_dontwait(&self) -> Result<Message, Error> {
        self.recv_until(Some(StdInstant::now()))
    }

    /// Receives a whole message, waiting at most `timeout`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Message, Error> {
        self.recv_until(Some(StdInstant::now() + timeout))
    }

    fn recv_until(&self, deadline: Option<StdInstant>) -> Result<Message, Error> {
        if let Some(m) = self.prefetched.borrow_mut().pop_front() {
            return Ok(m);
        }
        let mut st = self.shared.lock();
        let mut q = self.prefetched.borrow_mut();
        loop {
            let now = st.now();
            let Some(s) = st.socket(self.id) else {
                return Err(Error::Terminated);
            };
            match s.recv_many(&mut q, self.prefetch, now) {
                Ok(n) => {
                    self.last_batch.set(n);
                    // Room freed: paused connections may be read again.
                    self.shared.after_io(&mut st, self.id, now);
                    return Ok(q.pop_front().expect("recv_many took one"));
                }
                Err(e) => {
                    let err = Error::from(e);
                    if !matches!(err, Error::WouldBlock) {
                        return Err(err);
                    }
                }
            }
            let spin = self.last_batch.get() <= 1;
            let (g, more) = self.shared.wait_on(st, deadline, self.id, Want::Recv, spin);
            st = g;
            if !more {
                return Err(Error::WouldBlock);
            }
        }
    }

    /// Starts keeping this socket's monitor events for [`Socket::recv_monitor_event`].
    pub fn monitor(&self) {
        self.shared.lock().monitors.entry(self.id).or_default();
    }

    /// The next monitor event, waiting at most `timeout`.
    pub fn recv_monitor_event(&self, timeout: Duration) -> Option<MonitorEvent> {
        let deadline = StdInstant::now() + timeout;
        let mut st = self.shared.lock();
        loop {
            if let Some(ev) = st.monitors.get_mut(&self.id).and_then(|q| q.pop_front()) {
                return Some(ev);
            }
            let (g, more) = self.shared.wait(st, Some(deadline));
            st = g;
            if !more {
                return None;
            }
        }
    }
}

/// When a call that may wait `timeout` (`None`: forever) and starts now must give up.
fn deadline(timeout: Option<Duration>) -> Option<StdInstant> {
    timeout.map(|t| StdInstant::now() + t)
}

impl Drop for Socket {
    /// `zmq_close`: returns at once; queued messages keep flowing for up to LINGER in the
    /// background.
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.open_sockets -= 1;
        let now = st.now();
        if let Some(s) = st.socket(self.id) {
            s.close(now);
        }
        self.shared.after_change(&mut st);
    }
}

//! `Socket`: a libzmq-shaped blocking socket over the core's `SocketBase`.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use oxmq_core::base::{BaseConfig, EndpointOpError, SocketBase};
use oxmq_core::context::SocketId;
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::{Message, SocketOption, SocketType};

use crate::io::{Shared, State, TcpOptions, Want};
use crate::Error;

/// A ZeroMQ socket. Calls block like libzmq's, up to SNDTIMEO / RCVTIMEO; the `_dontwait`
/// variants return [`Error::WouldBlock`] at once instead. Like a libzmq socket it may move
/// between threads but is used by one at a time.
pub struct Socket {
    pub(crate) shared: Arc<Shared>,
    pub(crate) id: SocketId,
    kind: SocketType,
    sndtimeo: Option<Duration>,
    rcvtimeo: Option<Duration>,
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
            sndtimeo: None,
            rcvtimeo: None,
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
    /// frame.
    pub fn send_frame(&self, frame: impl Into<Bytes>, more: bool) -> Result<(), Error> {
        self.out_parts.borrow_mut().push(frame.into());
        if more {
            return Ok(());
        }
        let frames = std::mem::take(&mut *self.out_parts.borrow_mut());
        self.send(Message::from_frames(frames))
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

    /// Whether frames of a message being read frame by frame remain (ZMQ_RCVMORE).
    pub fn has_more(&self) -> bool {
        !self.in_parts.borrow().is_empty()
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

    /// This socket's type.
    pub fn socket_type(&self) -> SocketType {
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

    /// ZMQ_LAST_ENDPOINT.
    pub fn last_endpoint(&self) -> Option<String> {
        let mut st = self.shared.lock();
        st.socket(self.id)
            .and_then(|s| s.last_endpoint().map(str::to_owned))
    }

    /// Sets a pattern option (HWMs, subscriptions, routing ids, ROUTER/XPUB/REQ flags …).
    pub fn set_option(&self, opt: SocketOption) -> Result<(), Error> {
        let id = self.id;
        self.with(|st| {
            let now = st.now();
            st.socket(id)
                .ok_or(Error::Terminated)?
                .set_option(opt, now)
                .map_err(Error::Option)
        })
    }

    /// Subscribes a SUB socket to messages starting with `topic`.
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.set_option(SocketOption::Subscribe(Bytes::copy_from_slice(topic)))
    }

    /// Changes the lifecycle options (LINGER, RECONNECT_IVL, IMMEDIATE, heartbeats …).
    pub fn configure(&self, f: impl FnOnce(&mut BaseConfig)) -> Result<(), Error> {
        let id = self.id;
        self.with(|st| {
            let s = st.socket(id).ok_or(Error::Terminated)?;
            let mut c = s.config().clone();
            f(&mut c);
            s.set_config(c);
            Ok(())
        })
    }

    /// TCP options for the connections this socket makes or accepts from now on, and for its
    /// next binds.
    pub fn set_tcp_options(&self, opts: TcpOptions) -> Result<(), Error> {
        let id = self.id;
        self.with(|st| {
            st.tcp_options.insert(id, opts);
            Ok(())
        })
    }

    /// ZMQ_FD: a file descriptor that becomes readable when this socket's events may have
    /// changed, for a user's own poll loop. After it wakes, call [`Socket::events`] (which
    /// also empties it) and act on what that says; as with libzmq, do not rely on the fd
    /// alone.
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
    pub fn events(&self) -> (bool, bool) {
        let mut st = self.shared.lock();
        if let Some(sig) = st.signallers.get(&self.id) {
            let mut sink = [0u8; 64];
            while matches!((&sig.read).read(&mut sink), Ok(n) if n > 0) {}
        }
        self.events_locked(&mut st)
    }

    /// ZMQ_SNDTIMEO (`None` = block forever).
    pub fn set_send_timeout(&mut self, t: Option<Duration>) {
        self.sndtimeo = t;
    }

    /// ZMQ_RCVTIMEO (`None` = block forever).
    pub fn set_recv_timeout(&mut self, t: Option<Duration>) {
        self.rcvtimeo = t;
    }

    /// Sends a whole message, waiting up to SNDTIMEO while no peer can take it.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.send_until(msg.into(), self.sndtimeo.map(|t| StdInstant::now() + t))
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
        self.recv_until(self.rcvtimeo.map(|t| StdInstant::now() + t))
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

impl Drop for Socket {
    /// `zmq_close`: returns at once; queued messages keep flowing for up to LINGER in the
    /// background.
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        let now = st.now();
        if let Some(s) = st.socket(self.id) {
            s.close(now);
        }
        self.shared.after_change(&mut st);
    }
}

//! `Socket`: a libzmq-shaped blocking socket over the core's socket half, which lives with
//! the handle; its sessions run on the context's I/O threads.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::{Arc, MutexGuard};
use std::time::{Duration, Instant as StdInstant};

use bytes::Bytes;
use oxmq_core::base::{EndpointOpError, SocketHalf};
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::options::{POLLIN, POLLOUT};
use oxmq_core::socket::SendErrorKind;
use oxmq_core::{Frame, Message, PipeId, SocketOption, SocketOptionName, SocketType};

use crate::shared::{wait_on, HalfState, Shared, Signaller, SocketCell, Waited};
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
    pub(crate) cell: Arc<SocketCell>,
    kind: SocketType,
    /// SNDTIMEO and RCVTIMEO as the core keeps them, at hand without the lock.
    sndtimeo: Cell<Option<Duration>>,
    rcvtimeo: Cell<Option<Duration>>,
    /// Frames given with `more` (SNDMORE), sent as one message with the last.
    out_parts: RefCell<Vec<Frame>>,
    /// The rest of a message being read frame by frame (RCVMORE while non-empty).
    in_parts: RefCell<VecDeque<Frame>>,
    /// Messages taken from the core ahead of `recv` calls, for socket types whose receive
    /// changes no state (see [`PREFETCH`]), with the pipe each came from.
    prefetched: RefCell<VecDeque<(PipeId, Message)>>,
    /// How many messages the last receive found: one means sparse traffic, and a receive
    /// that must wait then spins before sleeping (see [`wait_on`](crate::shared::wait_on)).
    last_batch: std::cell::Cell<usize>,
}

/// How many messages one `recv` may take from the core at once, so that a stream of
/// receives takes the socket's lock once per batch rather than once per message; the socket
/// half keeps it within RCVHWM's slack ([`SocketHalf::receive_batch`]).
const PREFETCH: usize = 256;

impl Socket {
    pub(crate) fn new(shared: Arc<Shared>, cell: Arc<SocketCell>, kind: SocketType) -> Socket {
        Socket {
            shared,
            cell,
            kind,
            sndtimeo: Cell::new(None),
            rcvtimeo: Cell::new(None),
            out_parts: RefCell::new(Vec::new()),
            in_parts: RefCell::new(VecDeque::new()),
            prefetched: RefCell::new(VecDeque::new()),
            last_batch: std::cell::Cell::new(1),
        }
    }

    /// Sends one frame (ZMQ_SNDMORE when `more`); the message goes out, whole, with its last
    /// frame. As in libzmq, the first frame of a message is where the socket decides whether
    /// the message may start: it fails there ([`Error::NotSupported`], [`Error::BadState`],
    /// ROUTER_MANDATORY's [`Error::HostUnreachable`]) or waits up to SNDTIMEO for room.
    pub fn send_frame(&self, frame: impl Into<Frame>, more: bool) -> Result<(), Error> {
        self.send_frame_until(frame.into(), more, deadline(self.sndtimeo.get()))
            .map_err(|(e, _)| e)
    }

    /// [`Socket::send_frame`] that fails with [`Error::WouldBlock`] at once instead of
    /// waiting (ZMQ_DONTWAIT). When the last frame fails, the frames before it stay queued,
    /// so the caller can send the last one again, as with libzmq.
    pub fn send_frame_dontwait(&self, frame: impl Into<Frame>, more: bool) -> Result<(), Error> {
        self.send_frame_until(frame.into(), more, Some(StdInstant::now()))
            .map_err(|(e, _)| e)
    }

    /// [`Socket::send_frame`] (or, with `dontwait`, [`Socket::send_frame_dontwait`]) that
    /// hands the frame back when it could not be sent, as `zmq_msg_send` leaves the caller
    /// its message: a caller can keep its only reference to the bytes and still retry.
    pub fn try_send_frame(
        &self,
        frame: Frame,
        more: bool,
        dontwait: bool,
    ) -> Result<(), (Error, Frame)> {
        let until = if dontwait {
            Some(StdInstant::now())
        } else {
            deadline(self.sndtimeo.get())
        };
        self.send_frame_until(frame, more, until)
    }

    #[inline]
    fn send_frame_until(
        &self,
        frame: Frame,
        more: bool,
        deadline: Option<StdInstant>,
    ) -> Result<(), (Error, Frame)> {
        if !more && self.out_parts.borrow().is_empty() {
            // A single-frame message, the common case: straight to the send, with no list of
            // parts to build (inline, so each caller skips the frame-by-frame path's call).
            return self
                .send_until(Message::single(frame), deadline)
                .map_err(|(e, m)| (e, m.into_frames().pop().unwrap_or_default()));
        }
        self.send_part_until(frame, more, deadline)
    }

    /// [`Socket::send_frame_until`] for a frame of a multi-frame message.
    fn send_part_until(
        &self,
        frame: Frame,
        more: bool,
        deadline: Option<StdInstant>,
    ) -> Result<(), (Error, Frame)> {
        let starts = self.out_parts.borrow().is_empty();
        // As libzmq's STREAM: the frame after the routing id ends the message, MORE or not.
        // (A frame that starts a message without MORE went out whole before this.)
        let more = more && (starts || self.kind != SocketType::Stream);
        if starts {
            if let Err(e) = self.start_message(&frame, deadline) {
                return Err((e, frame));
            }
        }
        self.out_parts.borrow_mut().push(frame);
        if more {
            return Ok(());
        }
        let frames = std::mem::take(&mut *self.out_parts.borrow_mut());
        self.send_until(Message::from_frames(frames), deadline)
            .map_err(|(e, back)| {
                let mut frames = back.into_frames();
                let last = frames.pop().unwrap_or_default();
                if matches!(e, Error::WouldBlock | Error::Interrupted) {
                    *self.out_parts.borrow_mut() = frames;
                }
                (e, last)
            })
    }

    /// Sleeps on this socket's changes with its lock `st`, at most until `deadline` (see
    /// [`wait_on`]): fails with [`Error::WouldBlock`] once that has passed, and with
    /// [`Error::Interrupted`] when a signal handler ended the sleep in an interruptible
    /// context.
    fn wait<'a>(
        &'a self,
        st: MutexGuard<'a, HalfState>,
        deadline: Option<StdInstant>,
        spin: bool,
    ) -> (MutexGuard<'a, HalfState>, Result<(), Error>) {
        let spin = if spin {
            self.shared.spin()
        } else {
            Duration::ZERO
        };
        let (st, waited) = wait_on(
            &self.cell,
            st,
            deadline,
            spin,
            self.shared.is_interruptible(),
        );
        let r = match waited {
            Waited::Look => Ok(()),
            Waited::Expired => Err(Error::WouldBlock),
            Waited::Interrupted => Err(Error::Interrupted),
        };
        (st, r)
    }

    /// Waits, at most until `deadline`, until a message starting with `first` may be sent.
    fn start_message(&self, first: &[u8], deadline: Option<StdInstant>) -> Result<(), Error> {
        let mut st = self.cell.lock();
        loop {
            if self.shared.is_terminating() {
                return Err(Error::Terminated);
            }
            match st.half.check_send_start(first) {
                Ok(()) => return Ok(()),
                Err(SendErrorKind::WouldBlock) => {}
                Err(kind) => return Err(Error::from(kind)),
            }
            let (g, waited) = self.wait(st, deadline, false);
            st = g;
            waited?;
        }
    }

    /// Receives one frame and whether more of the same message follow (ZMQ_RCVMORE).
    pub fn recv_frame(&self) -> Result<(Frame, bool), Error> {
        if self.in_parts.borrow().is_empty() {
            let m = self.recv()?;
            self.in_parts.borrow_mut().extend(m.into_frames());
        }
        let mut parts = self.in_parts.borrow_mut();
        let frame = parts.pop_front().unwrap_or_default();
        Ok((frame, !parts.is_empty()))
    }

    /// How many sessions the socket holds: one per connect, and one per accepted connection
    /// until it has ended. For diagnostics: a connection that is never let go shows here.
    pub fn session_count(&self) -> usize {
        self.cell.lock().half.link_count()
    }

    /// This socket's type (ZMQ_TYPE).
    pub(crate) fn socket_type(&self) -> SocketType {
        self.kind
    }

    /// Runs `f` on the socket half under its lock, then carries out what it produced.
    fn with<R>(
        &self,
        f: impl FnOnce(&mut SocketHalf, oxmq_core::Instant) -> Result<R, Error>,
    ) -> Result<R, Error> {
        if self.shared.is_terminating() {
            return Err(Error::Terminated);
        }
        self.shared
            .with_half(&self.cell, |st, now| f(&mut st.half, now))
    }

    /// Binds to `endpoint` and returns it as bound (the port picked for `tcp://…:*`).
    pub fn bind(&self, endpoint: &str) -> Result<String, Error> {
        if self.shared.is_terminating() {
            return Err(Error::Terminated);
        }
        let mut later = Vec::new();
        let r = {
            let mut st = self.cell.lock();
            let now = self.shared.now();
            let r = st.half.bind(endpoint, now);
            // Draining carries out the listen, so its outcome is known here.
            self.shared
                .drain(&self.cell, &mut st, now, &mut later, &mut None);
            match r {
                Err(e) => Err(Error::from(e)),
                Ok(listener) => match st.bind_errors.remove(&listener) {
                    Some(e) => Err(Error::Io(e)),
                    None => st
                        .half
                        .bound_endpoint(listener)
                        .map(str::to_owned)
                        .ok_or_else(|| Error::Io(std::io::ErrorKind::AddrInUse.into())),
                },
            }
        };
        self.shared.run_later(later);
        r
    }

    /// Connects to `endpoint`; the connection is made (and remade) in the background.
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|s, now| s.connect(endpoint, now))
    }

    /// Stops listening on `endpoint` (as bound).
    pub fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|s, now| s.unbind(endpoint, now))
    }

    /// Ends the connection made by `connect(endpoint)`. As in libzmq, what it delivered and
    /// the application has not read is dropped; what was sent to it still goes out as
    /// LINGER allows.
    pub fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        self.with(|h, now| {
            h.disconnect(endpoint, now)?;
            // Messages taken ahead from the pipes it let go of are not returned either.
            h.drop_undeliverable(&mut self.prefetched.borrow_mut());
            Ok(())
        })
    }

    fn endpoint_op(
        &self,
        op: impl FnOnce(&mut SocketHalf, oxmq_core::Instant) -> Result<(), EndpointOpError>,
    ) -> Result<(), Error> {
        self.with(|h, now| Ok(op(h, now)?))
    }

    /// Sets an option (`zmq_setsockopt`). Pattern options (HWMs, subscriptions, routing ids,
    /// ROUTER/XPUB/REQ flags) apply at once; LINGER at once; SNDTIMEO and RCVTIMEO from the
    /// next call; reconnection, heartbeat and TCP options to the connections made or accepted
    /// from now on, and to the next binds. A read-only option, one this socket type does not
    /// have, or a value out of range fails with [`Error::Option`] (libzmq's `EINVAL`).
    pub fn set(&self, opt: SocketOption) -> Result<(), Error> {
        let filters = opt.changes_filter();
        let timeouts = self.with(|h, now| {
            h.set_option(opt, now).map_err(Error::Option)?;
            if filters {
                // What a receive took ahead passed the subscriptions as they were; a SUB
                // filters as it hands a message up, so drop what they now exclude.
                h.drop_undeliverable(&mut self.prefetched.borrow_mut());
            }
            let d = h.driver_options();
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
            _ => self
                .cell
                .lock()
                .half
                .get_option(name)
                .map_err(Error::Option),
        }
    }

    /// Subscribes a SUB socket to messages starting with `topic`: `set(Subscribe(topic))`.
    pub fn subscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.set(SocketOption::Subscribe(Bytes::copy_from_slice(topic)))
    }

    /// Cancels one earlier subscription to `topic`: `set(Unsubscribe(topic))`.
    pub fn unsubscribe(&self, topic: &[u8]) -> Result<(), Error> {
        self.set(SocketOption::Unsubscribe(Bytes::copy_from_slice(topic)))
    }

    /// ZMQ_FD: a file descriptor that becomes readable when this socket's events may have
    /// changed, for a user's own poll loop. After it wakes, read ZMQ_EVENTS with
    /// [`Socket::get`] (which also empties it) and act on what that says; as with libzmq, do
    /// not rely on the fd alone.
    pub fn readiness_fd(&self) -> Result<std::os::fd::RawFd, Error> {
        use std::os::fd::AsRawFd;
        let mut st = self.cell.lock();
        if let Some(sig) = &st.signaller {
            return Ok(sig.read.as_raw_fd());
        }
        let (read, write) = std::os::unix::net::UnixStream::pair()?;
        read.set_nonblocking(true)?;
        write.set_nonblocking(true)?;
        let fd = read.as_raw_fd();
        st.signaller = Some(Signaller {
            write,
            read,
            last: (false, false),
        });
        drop(st);
        // The first drain writes the current events.
        self.shared.with_half(&self.cell, |_, _| {});
        Ok(fd)
    }

    /// ZMQ_EVENTS: whether a message can be read now, and whether one can be sent now.
    pub(crate) fn events(&self) -> (bool, bool) {
        let mut st = self.cell.lock();
        if let Some(sig) = &st.signaller {
            let mut sink = [0u8; 64];
            while matches!((&sig.read).read(&mut sink), Ok(n) if n > 0) {}
        }
        let buffered = !self.in_parts.borrow().is_empty() || !self.prefetched.borrow().is_empty();
        let (r, w) = st.half.readiness();
        (buffered || r, w)
    }

    /// Sends a whole message, waiting up to SNDTIMEO while no peer can take it.
    pub fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.send_until(msg.into(), deadline(self.sndtimeo.get()))
            .map_err(|(e, _)| e)
    }

    /// Sends a whole message or fails with [`Error::WouldBlock`] at once (ZMQ_DONTWAIT).
    pub fn send_dontwait(&self, msg: impl Into<Message>) -> Result<(), Error> {
        self.try_send(msg).map_err(|(e, _)| e)
    }

    /// Sends a whole message, or fails at once and hands the message back with the reason
    /// (as `zmq_msg_send` leaves the message with its caller on EAGAIN): a caller that gets
    /// [`Error::WouldBlock`] can keep the message and try again later without a copy.
    ///
    /// ```
    /// use oxmq_core::{Message, SocketType};
    /// use oxmq_mio::{Context, Error};
    ///
    /// let ctx = Context::new()?;
    /// let push = ctx.socket(SocketType::Push)?; // no peer: nothing can take a message
    /// let (err, back) = push.try_send("kept").unwrap_err();
    /// assert!(matches!(err, Error::WouldBlock));
    /// assert_eq!(back, Message::from("kept"));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), (Error, Message)> {
        self.send_until(msg.into(), Some(StdInstant::now()))
    }

    fn send_until(
        &self,
        mut msg: Message,
        deadline: Option<StdInstant>,
    ) -> Result<(), (Error, Message)> {
        let mut later = Vec::new();
        let mut st = self.cell.lock();
        let r = loop {
            if self.shared.is_terminating() {
                break Err((Error::Terminated, msg));
            }
            let now = self.shared.coarse_now();
            self.cell.take_mail(&mut st, now);
            let r = st.half.send(msg, now);
            self.shared
                .drain(&self.cell, &mut st, now, &mut later, &mut None);
            match r {
                Ok(()) => break Ok(()),
                Err(e) => {
                    let err = Error::from(&e);
                    if !matches!(err, Error::WouldBlock) {
                        break Err((err, e.message));
                    }
                    msg = e.message;
                }
            }
            if !later.is_empty() {
                // What waits for other sockets may be what frees this one.
                drop(st);
                self.shared.run_later(std::mem::take(&mut later));
                st = self.cell.lock();
                if deadline.is_some_and(|d| d <= StdInstant::now()) {
                    break Err((Error::WouldBlock, msg));
                }
                continue;
            }
            let (g, waited) = self.wait(st, deadline, false);
            st = g;
            if let Err(e) = waited {
                break Err((e, msg));
            }
        };
        drop(st);
        self.shared.run_later(later);
        r
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
        if let Some((_, m)) = self.prefetched.borrow_mut().pop_front() {
            return Ok(m);
        }
        let _receiving = self.cell.receiving(&self.shared);
        let mut later = Vec::new();
        let mut q = self.prefetched.borrow_mut();
        let mut st = self.cell.lock();
        let r = loop {
            if self.shared.is_terminating() {
                break Err(Error::Terminated);
            }
            let now = self.shared.coarse_now();
            self.cell.take_mail(&mut st, now);
            let batch = st.half.receive_batch(PREFETCH);
            let r = st.half.recv_many_from(&mut q, batch, now);
            self.shared
                .drain(&self.cell, &mut st, now, &mut later, &mut None);
            match r {
                Ok(n) => {
                    self.last_batch.set(n);
                    break Ok(q.pop_front().expect("recv_many_from took one").1);
                }
                Err(e) => {
                    let err = Error::from(e);
                    if !matches!(err, Error::WouldBlock) {
                        break Err(err);
                    }
                }
            }
            if !later.is_empty() {
                drop(st);
                self.shared.run_later(std::mem::take(&mut later));
                st = self.cell.lock();
                if deadline.is_some_and(|d| d <= StdInstant::now()) {
                    break Err(Error::WouldBlock);
                }
                continue;
            }
            let spin = self.last_batch.get() <= 1;
            let (g, waited) = self.wait(st, deadline, spin);
            st = g;
            if let Err(e) = waited {
                break Err(e);
            }
        };
        drop(st);
        self.shared.run_later(later);
        r
    }

    /// Starts keeping this socket's monitor events (`zmq_socket_monitor`), and returns a
    /// handle that reads them. The handle outlives the socket: after `close` it still reads
    /// the last events, up to `MONITOR_STOPPED`, as libzmq's monitor socket does.
    pub fn monitor(&self) -> Monitor {
        self.cell.lock().monitor.get_or_insert_with(VecDeque::new);
        Monitor {
            cell: Arc::clone(&self.cell),
        }
    }

    /// The next monitor event, waiting at most `timeout` (after [`Socket::monitor`]).
    pub fn recv_monitor_event(&self, timeout: Duration) -> Option<MonitorEvent> {
        next_event(&self.cell, timeout)
    }
}

/// Reads one socket's monitor events, made by [`Socket::monitor`]; it may move to another
/// thread and stays readable after the socket is closed.
pub struct Monitor {
    cell: Arc<SocketCell>,
}

impl Monitor {
    /// The next monitor event, waiting at most `timeout`; `None` once it has passed, and
    /// at once after `MONITOR_STOPPED` has been read.
    pub fn recv(&self, timeout: Duration) -> Option<MonitorEvent> {
        next_event(&self.cell, timeout)
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor")
            .field("socket", &self.cell.id)
            .finish()
    }
}

fn next_event(cell: &SocketCell, timeout: Duration) -> Option<MonitorEvent> {
    let deadline = StdInstant::now() + timeout;
    let mut st = cell.lock();
    loop {
        if let Some(ev) = st.monitor.as_mut().and_then(VecDeque::pop_front) {
            return Some(ev);
        }
        if st.monitor_stopped {
            return None;
        }
        let (g, waited) = wait_on(cell, st, Some(deadline), Duration::ZERO, false);
        st = g;
        if waited == Waited::Expired {
            return None;
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
        self.shared
            .open_sockets
            .fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
        self.shared.with_half(&self.cell, |st, now| {
            st.dropped = true;
            st.half.close(now);
        });
    }
}

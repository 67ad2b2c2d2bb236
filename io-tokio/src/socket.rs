//! `Socket`: an async ZeroMQ socket over the core's socket half, which lives with the handle
//! (behind its own lock); its sessions are tasks on the application's runtime.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use oxmq_core::monitor::MonitorEvent;
use oxmq_core::options::{POLLIN, POLLOUT};
use oxmq_core::socket::SendErrorKind;
use oxmq_core::{Frame, Message, PipeId, RecvError, SocketOption, SocketOptionName, SocketType};

use crate::shared::{lock, HalfState, SocketCell};
use crate::Error;

/// An async ZeroMQ socket, made by [`Context::socket`](crate::Context::socket).
///
/// Its methods take `&self`, and a `Socket` is `Send` and `Sync`: one task may wait in
/// [`recv`](Socket::recv) while another sends on the same socket (a DEALER, say). Like a
/// libzmq socket, it sees one message at a time: two tasks receiving at once each get whole
/// messages, in no promised order between them.
///
/// # Cancel safety
///
/// Every future here may be dropped at any `.await` point (by `tokio::select!`,
/// `tokio::time::timeout`, or simply dropping it) without losing or duplicating a message and
/// without leaving the socket in a state that stalls it:
///
/// - [`recv`](Socket::recv) and [`recv_frame`](Socket::recv_frame) take a message from the
///   socket only in the poll that returns it; dropped before that, the message stays in the
///   socket for the next receive.
/// - [`send`](Socket::send) and [`send_frame`](Socket::send_frame) queue the message only in
///   the poll that returns `Ready`; dropped before that, nothing of it was queued (the message
///   is dropped with the future; [`try_send`](Socket::try_send) hands it back instead). The
///   frames of a message built with `send_frame(…, true)` stay buffered across a cancelled
///   final `send_frame`.
/// - [`close`](Socket::close) dropped midway leaves the socket closing in the background,
///   exactly as dropping the socket does.
///
/// A waiting call registers its task's waker with the socket; a dropped future leaves at most
/// one stale waker per task, which the next change of the socket wakes and forgets.
pub struct Socket {
    cell: Arc<SocketCell>,
    kind: SocketType,
    local: Mutex<Local>,
    /// SNDTIMEO in nanoseconds ([`NO_TIMEOUT`]: none), at hand without a lock.
    sndtimeo: AtomicU64,
}

const NO_TIMEOUT: u64 = u64::MAX;

/// How many messages one receive may take from the socket half at once, so that a stream of
/// receives takes the half's lock once per batch (as `oxmq-mio` does); the half keeps it
/// within RCVHWM's slack, and to one message for socket types whose receive moves their
/// state (`SocketHalf::receive_batch`). Messages taken ahead stay in the handle for the next
/// receive, whatever is cancelled.
const PREFETCH: usize = 64;

/// What the handle keeps besides the half: frame-by-frame state, the `Sink`'s slot, and
/// SNDTIMEO / RCVTIMEO at hand.
#[derive(Default)]
struct Local {
    /// Frames given with `more` (SNDMORE), sent as one message with the last.
    out_parts: Vec<Frame>,
    /// The rest of a message being read frame by frame (RCVMORE while non-empty).
    in_parts: VecDeque<Frame>,
    /// Messages taken from the half ahead of receives (see [`PREFETCH`]), with the pipe
    /// each came from.
    prefetched: VecDeque<(PipeId, Message)>,
    /// The message `Sink::start_send` took, until the socket takes it.
    sink: Option<Message>,
    rcvtimeo: Option<Duration>,
}

impl Socket {
    pub(crate) fn new(cell: Arc<SocketCell>, kind: SocketType) -> Socket {
        Socket {
            cell,
            kind,
            local: Mutex::new(Local::default()),
            sndtimeo: AtomicU64::new(NO_TIMEOUT),
        }
    }

    #[cfg(test)]
    pub(crate) fn cell_for_tests(&self) -> Arc<SocketCell> {
        Arc::clone(&self.cell)
    }

    fn local(&self) -> MutexGuard<'_, Local> {
        lock(&self.local)
    }

    /// Whether the context is terminating, so that every call but `close` fails with
    /// [`Error::Terminated`]. A call that may wait reads it under the half's lock, in its
    /// closure: the termination raises it before it takes each half's lock and wakes its
    /// waiters, so a call either sees it or is woken.
    fn terminating(&self) -> bool {
        self.cell.shared.is_terminating()
    }

    /// Runs `f` on the half ([`SocketCell::with`]), or fails with [`Error::Terminated`] once
    /// the context is terminating (read under the half's lock).
    fn live<R>(
        &self,
        f: impl FnOnce(&mut HalfState, oxmq_core::Instant) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.cell.with(|st, now| {
            if self.terminating() {
                return Err(Error::Terminated);
            }
            f(st, now)
        })
    }

    /// [`Socket::live`] for a call that may wait ([`SocketCell::poll_with`]).
    fn poll_live<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut HalfState, oxmq_core::Instant) -> Poll<Result<R, Error>>,
    ) -> Poll<Result<R, Error>> {
        self.cell.poll_with(cx, |st, now| {
            if self.terminating() {
                return Poll::Ready(Err(Error::Terminated));
            }
            f(st, now)
        })
    }

    /// This socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.kind
    }

    /// Binds to `endpoint` (`tcp://host:port`, `tcp://127.0.0.1:*` for a port picked by the
    /// system, `ipc://path`, `ipc://@abstract`, `ipc://*`, `inproc://name`) and returns it as
    /// bound. Completes at once (cancel-safe).
    pub async fn bind(&self, endpoint: &str) -> Result<String, Error> {
        self.bind_now(endpoint)
    }

    fn bind_now(&self, endpoint: &str) -> Result<String, Error> {
        // Draining the bind carries out the listen, so its outcome is known when it returns.
        let listener = self.live(|st, now| Ok(st.half.bind(endpoint, now)?))?;
        let mut st = self.cell.lock();
        match st.bind_errors.remove(&listener) {
            Some(e) => Err(Error::Io(e)),
            None => st
                .half
                .bound_endpoint(listener)
                .map(str::to_owned)
                .ok_or_else(|| Error::Io(std::io::ErrorKind::AddrInUse.into())),
        }
    }

    /// Connects to `endpoint`; the connection is made (and remade after it is lost) by a task
    /// in the background, and messages sent meanwhile wait for it (unless IMMEDIATE). Completes
    /// at once (cancel-safe).
    pub async fn connect(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|h, now| h.connect(endpoint, now))
    }

    /// Stops listening on `endpoint` (as bound, or as given to `bind`) and ends the
    /// connections accepted there. Completes at once (cancel-safe).
    pub async fn unbind(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint_op(|h, now| h.unbind(endpoint, now))
    }

    fn endpoint_op(
        &self,
        op: impl FnOnce(
            &mut oxmq_core::base::SocketHalf,
            oxmq_core::Instant,
        ) -> Result<(), oxmq_core::base::EndpointOpError>,
    ) -> Result<(), Error> {
        self.live(|st, now| Ok(op(&mut st.half, now)?))
    }

    /// Ends the connection made by `connect(endpoint)`. Completes at once (cancel-safe).
    pub async fn disconnect(&self, endpoint: &str) -> Result<(), Error> {
        let mut local = self.local();
        self.endpoint_op(|h, now| {
            h.disconnect(endpoint, now)?;
            // As in libzmq, nothing more is returned from the pipes it let go of, not even
            // what was taken ahead.
            h.drop_undeliverable(&mut local.prefetched);
            Ok(())
        })
    }

    /// Sends a whole message, waiting while no peer can take it (at SNDHWM, or no peer yet
    /// for patterns that wait for one), up to SNDTIMEO if set ([`Error::WouldBlock`] then).
    ///
    /// Cancel-safe: the message is queued only if this returns `Ok`; dropped before, it was
    /// not sent. A message is independent of one being built with
    /// [`send_frame`](Socket::send_frame).
    pub async fn send(&self, msg: impl Into<Message>) -> Result<(), Error> {
        let mut msg = Some(msg.into());
        let timeout = match self.sndtimeo.load(Ordering::Relaxed) {
            NO_TIMEOUT => None,
            ns => Some(Duration::from_nanos(ns)),
        };
        let send = poll_fn(|cx| self.poll_send_msg(cx, &mut msg).map_err(|(e, _)| e));
        match timeout {
            None => send.await,
            Some(d) => tokio::time::timeout(d, send)
                .await
                .unwrap_or(Err(Error::WouldBlock)),
        }
    }

    /// Sends a whole message now, or fails and hands it back with the reason
    /// ([`Error::WouldBlock`] where [`send`](Socket::send) would wait).
    pub fn try_send(&self, msg: impl Into<Message>) -> Result<(), (Error, Message)> {
        let msg = msg.into();
        self.cell.with_coarse(|st, now| {
            if self.terminating() {
                return Err((Error::Terminated, msg));
            }
            st.half
                .send(msg, now)
                .map_err(|e| (Error::from(&e), e.message))
        })
    }

    /// Polls to send the message in `msg`: `Ready(Ok)` once the socket took it (`msg` is then
    /// `None`); `Pending` with the message back in `msg`, the task to be woken when the socket
    /// changes; `Ready(Err)` with the message on any other failure.
    fn poll_send_msg(
        &self,
        cx: &mut Context<'_>,
        msg: &mut Option<Message>,
    ) -> Poll<Result<(), (Error, Message)>> {
        self.cell.poll_with(cx, |st, now| {
            let Some(m) = msg.take() else {
                return Poll::Ready(Ok(()));
            };
            if self.terminating() {
                return Poll::Ready(Err((Error::Terminated, m)));
            }
            match st.half.send(m, now) {
                Ok(()) => Poll::Ready(Ok(())),
                Err(e) if e.kind == SendErrorKind::WouldBlock => {
                    *msg = Some(e.message);
                    Poll::Pending
                }
                Err(e) => Poll::Ready(Err((Error::from(&e), e.message))),
            }
        })
    }

    /// Sends one frame (`more`: ZMQ_SNDMORE); the message goes out, whole, with its last frame.
    /// As in libzmq, the first frame is where the socket decides whether a message may start:
    /// it fails there ([`Error::NotSupported`], [`Error::BadState`], ROUTER_MANDATORY's
    /// [`Error::HostUnreachable`]) or waits for room; the last frame waits as
    /// [`send`](Socket::send) does.
    ///
    /// Cancel-safe: a frame is taken only if this returns `Ok`; the frames before it stay
    /// buffered if a final `send_frame` is dropped while it waits.
    pub async fn send_frame(&self, frame: impl Into<Frame>, more: bool) -> Result<(), Error> {
        let frame = frame.into();
        poll_fn(|cx| self.poll_send_frame(cx, &frame, more)).await
    }

    fn poll_send_frame(
        &self,
        cx: &mut Context<'_>,
        frame: &Frame,
        more: bool,
    ) -> Poll<Result<(), Error>> {
        let mut local = self.local();
        // As libzmq's STREAM: the frame after the routing id ends the message, MORE or not.
        let more = more && (local.out_parts.is_empty() || self.kind != SocketType::Stream);
        if more {
            if local.out_parts.is_empty() {
                let start = self.poll_live(cx, |st, _| match st.half.check_send_start(frame) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(SendErrorKind::WouldBlock) => Poll::Pending,
                    Err(kind) => Poll::Ready(Err(Error::from(kind))),
                });
                match start {
                    Poll::Ready(Ok(())) => {}
                    other => return other,
                }
            }
            local.out_parts.push(frame.clone());
            return Poll::Ready(Ok(()));
        }
        let mut frames = std::mem::take(&mut local.out_parts);
        frames.push(frame.clone());
        let mut msg = Some(Message::from_frames(frames));
        match self.poll_send_msg(cx, &mut msg) {
            Poll::Ready(r) => Poll::Ready(r.map_err(|(e, _)| e)),
            Poll::Pending => {
                // Not sent: the frames before this one wait for the next try.
                let mut frames = msg.map(Message::into_frames).unwrap_or_default();
                frames.pop();
                local.out_parts = frames;
                Poll::Pending
            }
        }
    }

    /// Receives a whole message, waiting for one, up to RCVTIMEO if set
    /// ([`Error::WouldBlock`] then). If a message was partly read with
    /// [`recv_frame`](Socket::recv_frame), its remaining frames come first.
    ///
    /// Cancel-safe: a message is taken from the socket only in the poll that returns it.
    pub async fn recv(&self) -> Result<Message, Error> {
        let timeout = self.local().rcvtimeo;
        let recv = poll_fn(|cx| self.poll_recv(cx));
        match timeout {
            None => recv.await,
            Some(d) => tokio::time::timeout(d, recv)
                .await
                .unwrap_or(Err(Error::WouldBlock)),
        }
    }

    /// Receives a whole message now, or fails with [`Error::WouldBlock`].
    pub fn try_recv(&self) -> Result<Message, Error> {
        if self.terminating() {
            return Err(Error::Terminated);
        }
        let mut local = self.local();
        if !local.in_parts.is_empty() {
            return Ok(Message::from_frames(local.in_parts.drain(..)));
        }
        if let Some((_, m)) = local.prefetched.pop_front() {
            return Ok(m);
        }
        let q = &mut local.prefetched;
        self.cell.with_coarse(|st, now| {
            if self.terminating() {
                return Err(Error::Terminated);
            }
            let max = st.half.receive_batch(PREFETCH);
            Ok(st.half.recv_many_from(q, max, now)?)
        })?;
        Ok(q.pop_front().expect("recv_many_from took one").1)
    }

    /// Polls for the next message from those taken ahead, or from the half (taking up to
    /// its receive batch at once), with the handle's lock held.
    fn poll_take(&self, local: &mut Local, cx: &mut Context<'_>) -> Poll<Result<Message, Error>> {
        if let Some((_, m)) = local.prefetched.pop_front() {
            return Poll::Ready(Ok(m));
        }
        let q = &mut local.prefetched;
        self.poll_live(cx, |st, now| {
            let max = st.half.receive_batch(PREFETCH);
            match st.half.recv_many_from(q, max, now) {
                Ok(_) => Poll::Ready(Ok(q.pop_front().expect("recv_many_from took one").1)),
                Err(RecvError::WouldBlock) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e.into())),
            }
        })
    }

    /// Polls for the next whole message: the building block of [`recv`](Socket::recv) and of
    /// the `Stream` implementation, for hand-written futures. `Pending` registers the task to
    /// be woken when the socket changes.
    pub fn poll_recv(&self, cx: &mut Context<'_>) -> Poll<Result<Message, Error>> {
        if self.terminating() {
            return Poll::Ready(Err(Error::Terminated));
        }
        let mut local = self.local();
        if !local.in_parts.is_empty() {
            return Poll::Ready(Ok(Message::from_frames(local.in_parts.drain(..))));
        }
        self.poll_take(&mut local, cx)
    }

    /// Polls until a whole message could be sent without waiting (ZMQ_EVENTS has POLLOUT),
    /// or the context is terminating (a send then fails at once). `Pending` registers the
    /// task to be woken when the socket changes.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<()> {
        self.cell.poll_with(cx, |st, _| {
            if self.terminating() || st.half.readiness().1 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }

    /// Receives one frame and whether more of the same message follow (ZMQ_RCVMORE).
    ///
    /// Cancel-safe: the message is taken from the socket only in the poll that returns its
    /// first frame; its other frames wait in the handle for the next calls.
    pub async fn recv_frame(&self) -> Result<(Frame, bool), Error> {
        poll_fn(|cx| {
            if self.terminating() {
                return Poll::Ready(Err(Error::Terminated));
            }
            let mut local = self.local();
            if local.in_parts.is_empty() {
                match self.poll_take(&mut local, cx) {
                    Poll::Ready(Ok(m)) => local.in_parts.extend(m.into_frames()),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let frame = local.in_parts.pop_front().unwrap_or_default();
            Poll::Ready(Ok((frame, !local.in_parts.is_empty())))
        })
        .await
    }

    /// Sets an option (`zmq_setsockopt`), as `oxmq_mio::Socket::set` does: pattern options
    /// (HWMs, subscriptions, routing ids, ROUTER/XPUB/REQ flags) and LINGER apply at once;
    /// SNDTIMEO and RCVTIMEO bound the next `send` / `recv`; reconnection, heartbeat and TCP
    /// options apply to the connections made from now on. A read-only option, one this socket
    /// type does not have, or a value out of range fails with [`Error::Option`].
    pub fn set(&self, opt: SocketOption) -> Result<(), Error> {
        let filters = opt.changes_filter();
        let mut local = self.local();
        let (snd, rcv) = self.live(|st, now| {
            st.half.set_option(opt, now).map_err(Error::Option)?;
            if filters {
                // What a receive took ahead passed the subscriptions as they were; a SUB
                // filters as it hands a message up, so drop what they now exclude.
                st.half.drop_undeliverable(&mut local.prefetched);
            }
            let d = st.half.driver_options();
            Ok::<_, Error>((d.send_timeout, d.recv_timeout))
        })?;
        local.rcvtimeo = rcv;
        let snd = snd.map_or(NO_TIMEOUT, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(NO_TIMEOUT - 1)
        });
        self.sndtimeo.store(snd, Ordering::Relaxed);
        Ok(())
    }

    /// Reads an option back (`zmq_getsockopt`): every option [`Socket::set`] takes except
    /// SUBSCRIBE and UNSUBSCRIBE, and the read-only TYPE, RCVMORE, EVENTS, LAST_ENDPOINT,
    /// MECHANISM and THREAD_SAFE.
    pub fn get(&self, name: SocketOptionName) -> Result<SocketOption, Error> {
        if self.terminating() {
            return Err(Error::Terminated);
        }
        let (more, buffered) = {
            let local = self.local();
            let more = !local.in_parts.is_empty();
            (more, more || !local.prefetched.is_empty())
        };
        match name {
            SocketOptionName::RcvMore => Ok(SocketOption::RcvMore(more)),
            SocketOptionName::Events => {
                let (r, w) = self.cell.with(|st, _| st.half.readiness());
                Ok(SocketOption::Events(
                    (u8::from(r || buffered) * POLLIN) | (u8::from(w) * POLLOUT),
                ))
            }
            _ => self
                .cell
                .with(|st, _| st.half.get_option(name))
                .map_err(Error::Option),
        }
    }

    /// Subscribes a SUB socket to messages starting with `topic` (`set(Subscribe(topic))`).
    pub fn subscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.set(SocketOption::Subscribe(Bytes::copy_from_slice(
            topic.as_ref(),
        )))
    }

    /// Cancels one earlier subscription to `topic` (`set(Unsubscribe(topic))`).
    pub fn unsubscribe(&self, topic: impl AsRef<[u8]>) -> Result<(), Error> {
        self.set(SocketOption::Unsubscribe(Bytes::copy_from_slice(
            topic.as_ref(),
        )))
    }

    /// This socket's monitor events (`zmq_socket_monitor`), from now on, as a stream that
    /// ends after the socket has closed (its last event is `MonitorStopped`). A socket keeps
    /// one queue of events: two monitors of one socket share it, each event going to one.
    pub fn monitor(&self) -> Monitor {
        self.cell.lock().monitor.get_or_insert_with(VecDeque::new);
        Monitor {
            cell: Arc::clone(&self.cell),
        }
    }

    /// How many sessions and inproc links the socket holds: one per connect, one per
    /// accepted connection until it has ended. For diagnostics.
    pub fn session_count(&self) -> usize {
        self.cell.lock().half.link_count()
    }

    /// Closes the socket (`zmq_close`) and waits until it is done: what was queued keeps
    /// flowing for up to LINGER, then every connection and listener is closed.
    ///
    /// Cancel-safe: dropped midway, the socket goes on closing in the background, as when a
    /// socket is dropped.
    pub async fn close(self) {
        self.cell.with(|st, now| {
            st.dropped = true;
            st.half.close(now);
        });
        poll_fn(|cx| {
            let mut st = self.cell.lock();
            if st.half.is_closed() {
                Poll::Ready(())
            } else {
                st.register(cx.waker());
                Poll::Pending
            }
        })
        .await;
    }

    /// Polls the `Sink`'s slot into the socket.
    fn poll_flush_slot(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut slot = self.local().sink.take();
        if slot.is_none() {
            return Poll::Ready(Ok(()));
        }
        match self.poll_send_msg(cx, &mut slot) {
            Poll::Ready(r) => Poll::Ready(r.map_err(|(e, _)| e)),
            Poll::Pending => {
                self.local().sink = slot;
                Poll::Pending
            }
        }
    }
}

impl Drop for Socket {
    /// `zmq_close`: returns at once; queued messages keep flowing for up to LINGER in the
    /// background, on the runtime's tasks.
    fn drop(&mut self) {
        self.cell.with(|st, now| {
            st.dropped = true;
            st.half.close(now);
        });
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket").field("type", &self.kind).finish()
    }
}

/// Received messages as a stream (cancel-safe as [`Socket::recv`]); it yields an error where
/// `recv` would fail, and ends once the socket is closed.
impl Stream for Socket {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.poll_recv(cx) {
            Poll::Ready(Err(Error::Terminated)) => Poll::Ready(None),
            other => other.map(Some),
        }
    }
}

/// Sending as a sink: `poll_ready` waits for room as [`Socket::send`] does (at SNDHWM, say),
/// and a flush is done once the socket has taken the message (it is queued for its peers).
/// Closing the sink does not close the socket.
impl Sink<Message> for Socket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_slot(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        let mut local = self.local();
        debug_assert!(local.sink.is_none(), "start_send without poll_ready");
        local.sink = Some(item);
        Ok(())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_slot(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.poll_flush_slot(cx)
    }
}

/// A socket's monitor events, from [`Socket::monitor`].
pub struct Monitor {
    cell: Arc<SocketCell>,
}

impl Stream for Monitor {
    type Item = MonitorEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MonitorEvent>> {
        let mut st = self.cell.lock();
        if let Some(ev) = st.monitor.as_mut().and_then(VecDeque::pop_front) {
            return Poll::Ready(Some(ev));
        }
        if st.half.is_closed() {
            return Poll::Ready(None);
        }
        st.register(cx.waker());
        Poll::Pending
    }
}

impl std::fmt::Debug for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Monitor").finish_non_exhaustive()
    }
}

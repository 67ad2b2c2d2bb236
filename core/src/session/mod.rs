//! The session half (libzmq's `session_base_t` with its engine): one per connection a listener
//! accepted, or per connect endpoint. It owns the engine, reconnection with backoff, and the
//! session's end of the pipe to the socket half; it runs wherever the driver puts it (an I/O
//! thread, a task, one actor of the simulator).
//!
//! A session never touches its socket. What it has to say goes out as a [`ToSocket`] command
//! for the socket half's mailbox ([`Session::poll_command`]); what the socket says comes in as a
//! [`ToSession`] ([`Session::handle_command`]). Messages cross in the pipe, whose wake-ups and
//! read reports are pipe commands inside those two. The driver delivers each mailbox in FIFO
//! order; it may interleave the two mailboxes, and its own network events, however it likes.
//!
//! The conversation, from the session's side:
//! - after its engine's handshake, a session asks for its pipe ([`ToSocket::Handshake`]) and
//!   reads nothing more from the peer until [`ToSession::Attached`] or [`ToSession::Refused`]
//!   comes back;
//! - a connection lost or refused is reported as monitor events; a connect session redials
//!   after RECONNECT_IVL (doubling up to RECONNECT_IVL_MAX), an accepted one asks to end
//!   ([`ToSocket::TermReq`]);
//! - told to linger ([`ToSession::Linger`]), it answers [`ToSocket::Drained`] once its queue
//!   and its engine's output are empty; told to end ([`ToSession::Destroy`]), it closes its
//!   connection and is finished ([`Session::is_finished`]).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::base::{Action, Backoff, ConnId};
use crate::endpoint::Endpoint;
use crate::engine::{Engine, EngineConfig, Event, PeerInfo};
use crate::error::{ConnectionError, OsError};
use crate::mechanism::{ZapReply, ZapRequest};
use crate::message::Message;
use crate::monitor::{MonitorEvent, MonitorEventKind};
use crate::pipe::{PipeCommand, PipeEnd, PipeId, PipeItem};
use crate::time::Instant;
use crate::tree::NodeId;

/// Stop pulling messages into an engine once this many bytes wait to be written.
const OUT_BATCH: usize = 256 * 1024;

/// A command from a session to its socket half.
#[derive(Debug)]
pub enum ToSocket {
    /// A command from the session's end of pipe `PipeId` to the socket's end.
    Pipe(PipeId, PipeCommand),
    /// The handshake succeeded with `peer`: attach a pipe for it (or make ready the one made
    /// at connect time). Answered with [`ToSession::Attached`] or [`ToSession::Refused`].
    Handshake(PeerInfo),
    /// The session let go of its end of this pipe: the socket's end ends, keeping what was
    /// received readable.
    PipeEnded(PipeId),
    /// A monitor event.
    Event(MonitorEvent),
    /// The session wants to end (its connection is gone for good): the object tree's
    /// `term_req`.
    TermReq,
    /// The session lingered and has flushed everything.
    Drained,
}

/// A command from the socket half to one of its sessions.
#[derive(Debug)]
pub enum ToSession {
    /// A new session for the driver to run (the first command of every session's mailbox).
    Launch(Box<Session>),
    /// A command from the socket's end of the session's pipe.
    Pipe(PipeCommand),
    /// The socket took the peer: messages may flow. `end` is the session's end of a new pipe,
    /// or `None` when the session holds it already (a connect's queue).
    Attached {
        /// The pipe.
        pipe: PipeId,
        /// The session's end of a new pipe.
        end: Option<PipeEnd>,
    },
    /// The socket's pattern refused the peer (a second PAIR peer, a duplicate routing id).
    Refused,
    /// The pattern wants this connection gone.
    Drop,
    /// Flush what is queued, then answer [`ToSocket::Drained`].
    Linger,
    /// End now: close the connection and drop the queue.
    Destroy,
}

/// The interval a connect waits before it retries, if it retries at all: libzmq reconnects
/// only with a positive RECONNECT_IVL (`reconnect_ivl > 0` in its session and connecter),
/// so 0 is as −1 (`None`).
pub(crate) fn reconnect_interval(ivl: Option<Duration>) -> Option<Duration> {
    ivl.filter(|d| !d.is_zero())
}

/// What a session needs to know of its socket's options, fixed when it is made (libzmq's
/// session copies the socket's options too).
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The engine's settings (socket type, routing id, handshake and heartbeat timers).
    pub engine: EngineConfig,
    /// ZMQ_RECONNECT_IVL; `None` is −1: never reconnect. Zero never reconnects either, as
    /// in libzmq.
    pub reconnect_ivl: Option<Duration>,
    /// ZMQ_RECONNECT_IVL_MAX.
    pub reconnect_ivl_max: Duration,
    /// ZMQ_IMMEDIATE: a connect's queue lives only while a connection is up.
    pub immediate: bool,
}

#[derive(Debug)]
enum Role {
    /// A session that dials `endpoint` and redials it.
    Connect {
        /// Boxed: an accepted session's role is then no bigger than this variant's rest.
        endpoint: Box<Endpoint>,
        backoff: Backoff,
        state: ConnectState,
        /// Dials so far: each gets its own connection id.
        dials: u32,
    },
    /// A session for a connection accepted by a listener; it ends with its connection.
    Accepted,
}

#[derive(Debug, PartialEq, Eq)]
enum ConnectState {
    Dialing,
    Connected,
    Waiting(Instant),
    /// No more attempts (RECONNECT_IVL −1).
    Idle,
}

/// Where the session's pipe stands with the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Attach {
    /// No peer: nothing flows (a connect's queue only fills from the socket's side).
    None,
    /// The handshake is reported; waiting for the socket's answer.
    Waiting,
    /// The socket took the peer: messages flow both ways.
    Ready,
}

/// One session half. See the [module docs](self).
#[derive(Debug)]
pub struct Session {
    node: NodeId,
    /// The endpoint, as monitor events name it.
    endpoint: String,
    role: Role,
    /// Shared with the session's engine (one copy per session, not two).
    engine_config: Arc<EngineConfig>,
    reconnect_ivl: Option<Duration>,
    immediate: bool,
    conn: Option<ConnId>,
    engine: Option<Engine>,
    handshaken: bool,
    /// The engine reported its handshake failed ([`Event::HandshakeFailed`]) and idles:
    /// its close reports no second failure.
    handshake_failed: bool,
    attach: Attach,
    pipe: Option<PipeId>,
    /// The session's end of its pipe: the only way messages reach the socket.
    end: Option<PipeEnd>,
    /// An inbound message the pipe refused at its HWM, to write again when it has room.
    held: Option<Message>,
    lingering: bool,
    /// Bytes the driver took from the engine and has not written yet
    /// ([`Session::set_unwritten`]).
    unwritten: usize,
    finished: bool,
    /// The engine may have bytes to write.
    transmit: bool,
    rng: u64,
    actions: VecDeque<Action>,
    out: VecDeque<ToSocket>,
    /// What the engine asks the driver's ZAP handler, waiting to be taken.
    zap: VecDeque<(ConnId, ZapRequest)>,
}

impl Session {
    fn new(node: NodeId, endpoint: String, role: Role, config: SessionConfig, seed: u64) -> Self {
        Session {
            node,
            endpoint,
            role,
            engine_config: Arc::new(config.engine),
            reconnect_ivl: reconnect_interval(config.reconnect_ivl),
            immediate: config.immediate,
            conn: None,
            engine: None,
            handshaken: false,
            handshake_failed: false,
            attach: Attach::None,
            pipe: None,
            end: None,
            held: None,
            lingering: false,
            unwritten: 0,
            finished: false,
            transmit: false,
            rng: seed,
            actions: VecDeque::new(),
            out: VecDeque::new(),
            zap: VecDeque::new(),
        }
    }

    /// A session that dials `endpoint` now (its first action) and redials as configured.
    /// `queue` is the pipe the socket made at connect time (none with IMMEDIATE).
    pub fn connect(
        node: NodeId,
        name: String,
        endpoint: Endpoint,
        config: SessionConfig,
        queue: Option<(PipeId, PipeEnd)>,
        seed: u64,
    ) -> Session {
        let backoff = Backoff::new(
            config.reconnect_ivl.unwrap_or_default(),
            config.reconnect_ivl_max,
        );
        let role = Role::Connect {
            endpoint: Box::new(endpoint),
            backoff,
            state: ConnectState::Idle,
            dials: 0,
        };
        let mut s = Session::new(node, name, role, config, seed);
        if let Some((pipe, end)) = queue {
            s.pipe = Some(pipe);
            s.end = Some(end);
        }
        s.dial();
        s
    }

    /// A session for connection `conn`, just accepted on a listener bound at `name`.
    pub fn accepted(
        node: NodeId,
        name: String,
        conn: ConnId,
        config: SessionConfig,
        now: Instant,
        seed: u64,
    ) -> Session {
        let mut s = Session::new(node, name, Role::Accepted, config, seed);
        s.engine = Some(Engine::with_config(Arc::clone(&s.engine_config), now));
        s.conn = Some(conn);
        s.transmit = true;
        // A raw (STREAM) engine is through its handshake at once.
        s.run(now);
        s
    }

    /// The session's node in its socket's object tree: the address of its mailbox.
    pub fn node(&self) -> NodeId {
        self.node
    }

    /// Its connection, while it has one.
    pub fn conn(&self) -> Option<ConnId> {
        self.conn
    }

    /// The session's end of its pipe, while it has one.
    pub fn pipe_end(&self) -> Option<(PipeId, &PipeEnd)> {
        Some((self.pipe?, self.end.as_ref()?))
    }

    /// Whether the session has ended: the driver drops it once its outputs are drained.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    // ----- inputs -------------------------------------------------------------------------

    /// The remote address of the connection being dialled (its IP, as libzmq gives it), for
    /// ZAP requests and the `Peer-Address` property; call before
    /// [`Session::handle_dial_result`].
    pub fn set_peer_address(&mut self, address: String) {
        Arc::make_mut(&mut self.engine_config).peer_address = address;
    }

    /// The dial of the session's connection finished: connected, or failed.
    pub fn handle_dial_result(&mut self, result: Result<(), OsError>, now: Instant) {
        let Some(conn) = self.conn else {
            return;
        };
        match result {
            Ok(()) => {
                if let Role::Connect { backoff, state, .. } = &mut self.role {
                    backoff.reset();
                    *state = ConnectState::Connected;
                }
                self.engine = Some(Engine::with_config(Arc::clone(&self.engine_config), now));
                self.handshaken = false;
                self.transmit = true;
                self.event(MonitorEventKind::Connected, conn.0);
            }
            Err(_) => {
                self.conn = None;
                self.schedule_reconnect(now);
            }
        }
        self.run(now);
    }

    /// Bytes arrived on the connection.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if let Some(e) = self.engine.as_mut() {
            e.handle_input(data, now);
            self.transmit = true;
        }
        self.run(now);
    }

    /// The engine's receive buffer, for a driver that reads the stream straight into it
    /// (then [`Session::handle_read`]); `None` without a connection.
    pub fn read_buffer(&mut self) -> Option<&mut bytes::BytesMut> {
        self.engine.as_mut().map(Engine::read_buffer)
    }

    /// The connection went quiet: gives back the memory kept for traffic — an emptied
    /// receive buffer and emptied queues — so that an idle connection holds none of it.
    /// A driver calls it when a read did not fill what it offered and the session took
    /// every byte; the next traffic allocates again. A streaming connection, whose reads
    /// fill, keeps its buffers.
    pub fn shrink_idle(&mut self) {
        if let Some(e) = self.engine.as_mut() {
            e.shrink_idle();
        }
        shrink_if_empty(&mut self.actions);
        shrink_if_empty(&mut self.out);
        shrink_if_empty(&mut self.zap);
    }

    /// How many bytes the frame being received still lacks (0 when none is under way):
    /// [`Engine::bytes_wanted`]. Announced by the peer: cap what is reserved for it.
    pub fn bytes_wanted(&self) -> usize {
        self.engine.as_ref().map_or(0, Engine::bytes_wanted)
    }

    /// Bytes were appended to [`Session::read_buffer`] at `now`.
    pub fn handle_read(&mut self, now: Instant) {
        if let Some(e) = self.engine.as_mut() {
            e.handle_read(now);
            self.transmit = true;
        }
        self.run(now);
    }

    /// How many bytes the driver has taken from the engine ([`Session::poll_transmit`]) and
    /// not yet written to the stream. LINGER waits for them as for the engine's own: a
    /// session that ended with them still in the driver's hands cut its stream short.
    pub fn set_unwritten(&mut self, bytes: usize, now: Instant) {
        let was = self.unwritten;
        self.unwritten = bytes;
        if was > 0 && bytes == 0 && self.lingering {
            self.run(now);
        }
    }

    /// The peer closed the connection (or it was reset).
    pub fn handle_eof(&mut self, now: Instant) {
        if let Some(e) = self.engine.as_mut() {
            e.handle_eof(now);
        }
        self.run(now);
    }

    /// Fires the session's timers due at `now` (the engine's, a redial).
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(e) = self.engine.as_mut() {
            if e.poll_timeout().is_some_and(|t| t <= now) {
                e.handle_timeout(now);
                self.transmit = true;
            }
        }
        if matches!(&self.role, Role::Connect { state: ConnectState::Waiting(t), .. } if *t <= now)
        {
            self.dial();
        }
        self.run(now);
    }

    /// A command from the socket half.
    pub fn handle_command(&mut self, cmd: ToSession, now: Instant) {
        match cmd {
            // The driver's business; a session never gets it.
            ToSession::Launch(_) => {}
            ToSession::Pipe(cmd) => {
                if let Some(end) = self.end.as_mut() {
                    end.handle_command(cmd);
                    self.route_end();
                }
            }
            ToSession::Attached { pipe, end } => self.on_attached(pipe, end),
            ToSession::Refused => {
                if self.attach == Attach::Waiting {
                    self.attach = Attach::None;
                    self.drop_connection(now);
                }
            }
            ToSession::Drop => {
                if self.attach == Attach::Ready {
                    self.drop_connection(now);
                }
            }
            ToSession::Linger => self.lingering = true,
            ToSession::Destroy => {
                // The socket already ended its side of the pipe.
                self.pipe = None;
                self.end = None;
                self.close_connection(false);
                self.finished = true;
            }
        }
        self.run(now);
    }

    // ----- outputs ------------------------------------------------------------------------

    /// The next thing the driver must do for this session (dial, close).
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next command for the socket half's mailbox.
    pub fn poll_command(&mut self) -> Option<ToSocket> {
        self.out.pop_front()
    }

    /// A question for the driver's ZAP handler (RFC 27), raised only when the engine's
    /// settings say there is one ([`EngineConfig::zap_handler`]). The handshake waits for
    /// [`Session::handle_zap_reply`], which may come at any later time.
    /// The request is tagged with its connection, to be given back with the answer.
    pub fn poll_zap_request(&mut self) -> Option<(ConnId, ZapRequest)> {
        self.zap.pop_front()
    }

    /// The handler's answer to the request this session raised: the handshake goes on to
    /// READY, or ends with ERROR and HANDSHAKE_FAILED_AUTH. An answer for a connection that
    /// has gone meanwhile is ignored.
    pub fn handle_zap_reply(&mut self, conn: ConnId, reply: ZapReply, now: Instant) {
        if self.conn != Some(conn) {
            return;
        }
        if let Some(e) = self.engine.as_mut() {
            e.handle_zap_reply(reply, now);
            self.transmit = true;
        }
        self.run(now);
    }

    /// Whether the connection may have bytes to write since this was last asked; if so,
    /// call [`Session::poll_transmit`].
    pub fn take_transmit_ready(&mut self) -> bool {
        std::mem::take(&mut self.transmit) && self.conn.is_some()
    }

    /// The next bytes to write on the connection, refilled from the pipe as the engine
    /// empties.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Bytes> {
        self.refill();
        let out = self.engine.as_mut()?.poll_transmit();
        if out.is_some() {
            // The engine may take more from the pipe; a lingering session may be done.
            self.run(now);
        }
        out
    }

    /// When [`Session::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let redial = match &self.role {
            Role::Connect {
                state: ConnectState::Waiting(t),
                ..
            } => Some(*t),
            _ => None,
        };
        let engine = self.engine.as_ref().and_then(Engine::poll_timeout);
        engine.into_iter().chain(redial).min()
    }

    /// Whether the driver should keep reading the connection: false while the pipe to the
    /// socket is full, or the socket has not yet answered the handshake (back-pressure).
    pub fn wants_input(&self) -> bool {
        if self.held.is_some() || self.attach == Attach::Waiting {
            return false;
        }
        self.attach != Attach::Ready || self.end.as_ref().is_none_or(PipeEnd::has_room_for_message)
    }

    // ----- internals ----------------------------------------------------------------------

    fn event(&mut self, kind: MonitorEventKind, value: u64) {
        self.out.push_back(ToSocket::Event(MonitorEvent {
            kind,
            endpoint: self.endpoint.clone(),
            value,
        }));
    }

    fn random(&mut self) -> u64 {
        crate::base::splitmix64(&mut self.rng)
    }

    /// Moves everything that can move: the engine's events into the pipe, the pipe into the
    /// engine; then answers a linger that is done.
    fn run(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        loop {
            let a = self.drain_engine(now);
            let b = self.refill();
            if !a && !b {
                break;
            }
        }
        if self.lingering && !self.has_pending() {
            self.lingering = false;
            self.out.push_back(ToSocket::Drained);
        }
    }

    /// Feeds the engine's events to the pipe, then publishes them to the reader with one
    /// flush (libzmq's per-read batching: the reader is woken, and the queue's atomic
    /// operation paid, once per pass rather than once per message); true if anything
    /// happened.
    fn drain_engine(&mut self, now: Instant) -> bool {
        let progress = self.engine_to_pipe(now);
        if let Some(end) = self.end.as_mut() {
            end.flush();
        }
        self.route_end();
        progress
    }

    fn engine_to_pipe(&mut self, now: Instant) -> bool {
        let mut progress = false;
        loop {
            if let Some(held) = self.held.take() {
                let Some(end) = self.end.as_mut() else {
                    return progress;
                };
                if let Err(m) = end.write(held) {
                    self.held = Some(m);
                    return progress;
                }
                progress = true;
                continue;
            }
            // After the handshake, the peer's messages wait in the engine until the socket
            // has answered with a pipe.
            if self.attach == Attach::Waiting {
                return progress;
            }
            let Some(ev) = self.engine.as_mut().and_then(Engine::poll_event) else {
                return progress;
            };
            progress = true;
            match ev {
                Event::HandshakeSucceeded(peer) => {
                    self.handshaken = true;
                    self.event(MonitorEventKind::HandshakeSucceeded, 0);
                    self.attach = Attach::Waiting;
                    self.out.push_back(ToSocket::Handshake(*peer));
                }
                Event::Message(m) => self.inbound(PipeItem::Message(m)),
                Event::Subscribe(t) => self.inbound(PipeItem::Subscribe(t)),
                Event::Cancel(t) => self.inbound(PipeItem::Cancel(t)),
                Event::Closed(err) => self.on_engine_closed(err, now),
                Event::HandshakeFailed(err) => {
                    let (kind, value) = err.handshake_failure();
                    self.event(kind, value);
                    self.handshake_failed = true;
                }
                Event::ZapRequest(req) => {
                    if let Some(conn) = self.conn {
                        self.zap.push_back((conn, *req));
                    }
                }
            }
        }
    }

    fn inbound(&mut self, item: PipeItem) {
        let Some(end) = self.end.as_mut().filter(|_| self.attach == Attach::Ready) else {
            return;
        };
        match end.write_item(item) {
            // Published by `drain_engine`'s flush, with the rest of this pass.
            Ok(()) => {}
            Err(PipeItem::Message(m)) => self.held = Some(m),
            // Only messages are refused at HWM.
            Err(_) => {}
        }
    }

    /// Posts the commands the session's end of its pipe produced.
    fn route_end(&mut self) {
        let (Some(p), Some(end)) = (self.pipe, self.end.as_mut()) else {
            return;
        };
        while let Some(cmd) = end.poll_command() {
            self.out.push_back(ToSocket::Pipe(p, cmd));
        }
    }

    fn on_attached(&mut self, pipe: PipeId, end: Option<PipeEnd>) {
        if self.attach != Attach::Waiting {
            // The connection went while the answer travelled: a new pipe goes back at once.
            if end.is_some() {
                self.out.push_back(ToSocket::PipeEnded(pipe));
            }
            return;
        }
        if let Some(end) = end {
            self.pipe = Some(pipe);
            self.end = Some(end);
        }
        self.attach = Attach::Ready;
        // The socket's end may have written (or slept) before the session's end was here.
        self.route_end();
    }

    /// Moves queued messages from the pipe into the engine, up to a batch; true if any moved.
    fn refill(&mut self) -> bool {
        if self.attach != Attach::Ready {
            return false;
        }
        let Some(end) = self.end.as_mut() else {
            return false;
        };
        let Some(engine) = self.engine.as_mut().filter(|e| e.is_ready()) else {
            return false;
        };
        let mut moved = false;
        while engine.pending_transmit() < OUT_BATCH {
            // While there are bytes for the driver to take, look without sleeping: what the
            // socket writes meanwhile is found by the driver's next `poll_transmit`, and costs
            // the socket no wake-up command (libzmq's engine, pacing itself on POLLOUT, seldom
            // drains its pipe for the same reason). Only a look that finds nothing with
            // nothing left to send puts the reader to sleep; the driver calls until `None`.
            let item = match end.try_read() {
                Some(item) => item,
                None if moved || engine.pending_transmit() > 0 => break,
                None => match end.read() {
                    Some(item) => item,
                    None => break,
                },
            };
            moved = true;
            // The engine is ready, so these cannot fail.
            let _ = match item {
                PipeItem::Message(m) => engine.send(&m),
                PipeItem::Subscribe(t) => engine.send_subscribe(&t),
                PipeItem::Cancel(t) => engine.send_cancel(&t),
            };
        }
        if moved {
            self.transmit = true;
            self.route_end();
        }
        moved
    }

    /// Whether the session still holds messages its linger protects.
    fn has_pending(&mut self) -> bool {
        let queued = self.end.as_mut().is_some_and(PipeEnd::has_unread);
        let unsent = self
            .engine
            .as_ref()
            .is_some_and(|e| e.pending_transmit() > 0);
        queued || unsent || self.unwritten > 0
    }

    fn dial(&mut self) {
        let node = self.node;
        let Role::Connect {
            endpoint,
            state,
            dials,
            ..
        } = &mut self.role
        else {
            return;
        };
        *state = ConnectState::Dialing;
        *dials += 1;
        let conn = ConnId((u64::from(node.0) << 32) | u64::from(*dials));
        self.conn = Some(conn);
        let endpoint = Endpoint::clone(endpoint);
        self.actions.push_back(Action::Dial { conn, endpoint });
        self.event(MonitorEventKind::ConnectDelayed, 0);
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let random = self.random();
        let ivl = self.reconnect_ivl;
        let Role::Connect { backoff, state, .. } = &mut self.role else {
            return;
        };
        if ivl.is_none() {
            *state = ConnectState::Idle;
            return;
        }
        let wait = backoff.next_wait(random);
        *state = ConnectState::Waiting(now + wait);
        self.event(
            MonitorEventKind::ConnectRetried,
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        );
    }

    fn on_engine_closed(&mut self, err: ConnectionError, now: Instant) {
        let conn = self.conn.map_or(0, |c| c.0);
        if !self.handshaken && !self.handshake_failed {
            let (kind, value) = err.handshake_failure();
            self.event(kind, value);
        }
        self.event(MonitorEventKind::Disconnected, conn);
        // libzmq: a protocol error or the peer's ERROR ends a connect for good; a lost
        // connection or a timeout is retried.
        // With RECONNECT_IVL = -1, libzmq's session ends its endpoint (`term_endpoint`):
        // the pipe goes with it, and the socket no longer counts the peer as there.
        let retry = !err.is_fatal() && self.reconnect_ivl.is_some();
        match self.role {
            Role::Connect { .. } if retry => {
                self.close_connection(self.ends_pipe_on_disconnect());
                self.schedule_reconnect(now);
            }
            _ => {
                self.close_connection(true);
                self.out.push_back(ToSocket::TermReq);
            }
        }
    }

    /// Closes the connection on our side (the pattern refused or dropped the peer) and
    /// reacts as to any lost connection.
    fn drop_connection(&mut self, now: Instant) {
        let conn = self.conn.map_or(0, |c| c.0);
        self.event(MonitorEventKind::Disconnected, conn);
        match self.role {
            Role::Connect { .. } if self.reconnect_ivl.is_some() => {
                self.close_connection(self.ends_pipe_on_disconnect());
                self.schedule_reconnect(now);
            }
            _ => {
                self.close_connection(true);
                self.out.push_back(ToSocket::TermReq);
            }
        }
    }

    /// Drops the engine and asks the driver to close the stream. With `end_pipe` the pipe
    /// ends too (the socket keeps what was received readable); without it (a connect
    /// without IMMEDIATE) messages wait in it for the next connection.
    fn close_connection(&mut self, end_pipe: bool) {
        let mut engine = self.engine.take();
        self.unwritten = 0;
        // Questions about this connection no longer need asking.
        self.zap.clear();
        if let Some(conn) = self.conn.take() {
            let mut last = Vec::new();
            if let Some(e) = engine.as_mut() {
                while let Some(b) = e.poll_transmit() {
                    last.extend_from_slice(&b);
                }
            }
            self.actions.push_back(Action::Close {
                conn,
                last_bytes: Bytes::from(last),
            });
        }
        self.handshaken = false;
        self.handshake_failed = false;
        self.transmit = false;
        if self.attach == Attach::Ready {
            self.attach = Attach::None;
        }
        if end_pipe {
            self.held = None;
            self.end = None;
            if let Some(p) = self.pipe.take() {
                self.out.push_back(ToSocket::PipeEnded(p));
            }
        }
    }

    /// Only a connect session without IMMEDIATE keeps its queue across connections.
    fn ends_pipe_on_disconnect(&self) -> bool {
        self.immediate || matches!(self.role, Role::Accepted)
    }
}

/// Drops `q`'s allocation if it holds nothing.
pub(crate) fn shrink_if_empty<T>(q: &mut VecDeque<T>) {
    if q.is_empty() && q.capacity() > 0 {
        *q = VecDeque::new();
    }
}

#[cfg(test)]
mod tests;

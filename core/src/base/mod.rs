//! A socket with its sessions, driven on one thread: the [`SocketHalf`] and its
//! [`Session`]s, joined by the two mailboxes that a threaded driver would put between threads.
//! [`SocketBase`] is the single-threaded driver of the two halves: it delivers every command
//! in FIFO order per mailbox, at once, and is what the tests, the simulator and the core's
//! `Context` drive.
//!
//! Its own driver opens listeners and connections when asked ([`Action`]), reports what happened
//! (`handle_listening`, `handle_accepted`, `handle_dial_result`, `handle_input`,
//! `handle_eof`, `handle_timeout`), writes out what [`SocketBase::poll_transmit`] yields for
//! each connection [`SocketBase::poll_transmit_ready`] names, and reads monitor events from
//! [`SocketBase::poll_monitor`]. The application calls `bind`, `connect`, `send`, `recv`,
//! `disconnect`, `unbind` and `close`.
//!
//! Behaviour follows libzmq: a connect creates its queue at once (unless IMMEDIATE) so messages
//! wait for the peer (connect-before-bind); failed dials and lost connections retry after
//! RECONNECT_IVL with jitter, doubling up to RECONNECT_IVL_MAX; a handshake that fails on a
//! protocol error or an ERROR from the peer ends that connect for good; close lingers up to
//! LINGER while queued messages still flow.

mod backoff;
mod half;
mod options;
#[cfg(test)]
mod tests;

pub use backoff::Backoff;
pub use half::SocketHalf;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::endpoint::{Endpoint, EndpointError};
use crate::engine::DEFAULT_HANDSHAKE_IVL;
use crate::error::OsError;
use crate::mechanism::{ZapReply, ZapRequest};
use crate::message::Message;
use crate::monitor::MonitorEvent;
#[cfg(test)]
use crate::monitor::MonitorEventKind;
use crate::pipe::{PipeCommand, PipeEnd, PipeId, Storage};
use crate::session::{Session, ToSession, ToSocket};
use crate::socket::{PipeStats, RecvError, SendError, Socket, UnsupportedSocketType};
use crate::socket_type::SocketType;
use crate::time::Instant;
use crate::tree::{Linger, NodeId};

/// A connection the driver holds (one TCP or IPC stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// A listening endpoint the driver holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ListenerId(pub u64);

/// What the socket asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Bind and listen on `endpoint`; answer with `handle_listening` or `handle_bind_failed`.
    Listen {
        /// The listener this becomes.
        listener: ListenerId,
        /// Where to listen.
        endpoint: Endpoint,
    },
    /// Stop listening and close the listening socket.
    CloseListener {
        /// Which.
        listener: ListenerId,
    },
    /// Open a connection to `endpoint`; answer with `handle_dial_result`.
    Dial {
        /// The connection this becomes.
        conn: ConnId,
        /// Where to connect.
        endpoint: Endpoint,
    },
    /// Register `name` for inproc connections; answer with `handle_listening` (bound as
    /// `inproc://name`) or `handle_bind_failed`.
    InprocBind {
        /// The listener this becomes.
        listener: ListenerId,
        /// The inproc name.
        name: String,
    },
    /// Join the socket bound at inproc `name`, now or whenever it binds; answer with
    /// `handle_inproc_connected`.
    InprocConnect {
        /// The connection this becomes.
        conn: ConnId,
        /// The inproc name.
        name: String,
    },
    /// Write `last_bytes` (often empty; an ERROR command, say), then close the connection.
    Close {
        /// Which.
        conn: ConnId,
        /// Bytes to write before closing.
        last_bytes: Bytes,
    },
}

/// Lifecycle options (the part of libzmq's options that is not the pattern's).
#[derive(Clone, Debug)]
pub struct BaseConfig {
    /// ZMQ_LINGER (default: forever).
    pub linger: Linger,
    /// ZMQ_RECONNECT_IVL; `None` is −1: never reconnect (default 100 ms). Zero never
    /// reconnects either ([`BaseConfig::reconnects`]).
    pub reconnect_ivl: Option<Duration>,
    /// ZMQ_RECONNECT_IVL_MAX (default 0: no backoff).
    pub reconnect_ivl_max: Duration,
    /// ZMQ_IMMEDIATE: queue only on connections whose handshake completed.
    pub immediate: bool,
    /// ZMQ_HANDSHAKE_IVL.
    pub handshake_ivl: Duration,
    /// ZMQ_HEARTBEAT_IVL.
    pub heartbeat_ivl: Duration,
    /// ZMQ_HEARTBEAT_TIMEOUT (`None` = the interval).
    pub heartbeat_timeout: Option<Duration>,
    /// ZMQ_HEARTBEAT_TTL.
    pub heartbeat_ttl: Duration,
    /// ZMQ_MAXMSGSIZE.
    pub max_msg_size: Option<u64>,
    /// Simulator hook (BUGGIFY): every engine holds its READY this long after the greeting.
    #[cfg(feature = "sim")]
    pub sim_ready_delay: Duration,
    /// Simulator hook: a bug injected into the pipe command protocol, to show that the
    /// simulator's sweep catches it.
    #[cfg(feature = "sim")]
    pub sim_command_fault: CommandFault,
    /// Simulator hook: with a seed, the socket's mailboxes are delivered in an order drawn
    /// from it (FIFO per mailbox), and now and then left for a moment, as threads would.
    #[cfg(feature = "sim")]
    pub sim_mailbox_shuffle: Option<u64>,
}

/// A bug the simulator injects into the pipe command protocol between socket and sessions.
#[cfg(feature = "sim")]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommandFault {
    /// No bug.
    #[default]
    None,
    /// Every report of reads (`ActivateWrite`) is lost: a writer that reaches its HWM
    /// never learns that the reader made room.
    LoseReadReports,
    /// Every wake-up of a sleeping reader (`ActivateRead`) is lost.
    LoseReadWakeups,
    /// A session's answer to the order to linger (`Drained`, its term ack) is lost.
    LoseTermAcks,
    /// Every report of reads carries one message too few.
    ShortReadCounts,
}

#[cfg(feature = "sim")]
impl CommandFault {
    /// Whether this bug swallows `cmd`.
    fn loses(self, cmd: PipeCommand) -> bool {
        matches!(
            (self, cmd),
            (CommandFault::LoseReadReports, PipeCommand::ActivateWrite(_))
                | (CommandFault::LoseReadWakeups, PipeCommand::ActivateRead)
        )
    }

    /// What this bug makes of a session's command for its socket: `None` if it is lost.
    fn garble(self, cmd: ToSocket) -> Option<ToSocket> {
        match (self, cmd) {
            (CommandFault::LoseTermAcks, ToSocket::Drained) => None,
            (_, ToSocket::Pipe(_, c)) if self.loses(c) => None,
            (CommandFault::ShortReadCounts, ToSocket::Pipe(p, PipeCommand::ActivateWrite(n))) => {
                Some(ToSocket::Pipe(
                    p,
                    PipeCommand::ActivateWrite(n.saturating_sub(1)),
                ))
            }
            (_, cmd) => Some(cmd),
        }
    }

    /// What this bug makes of the socket's command for a session: `None` if it is lost.
    fn garble_down(self, cmd: PipeCommand) -> Option<PipeCommand> {
        match (self, cmd) {
            (_, c) if self.loses(c) => None,
            (CommandFault::ShortReadCounts, PipeCommand::ActivateWrite(n)) => {
                Some(PipeCommand::ActivateWrite(n.saturating_sub(1)))
            }
            (_, c) => Some(c),
        }
    }
}

impl BaseConfig {
    /// Whether a connect retries a lost or failed connection: libzmq does only with a
    /// positive RECONNECT_IVL (its `reconnect_ivl > 0`), so 0 is as −1.
    pub fn reconnects(&self) -> bool {
        crate::session::reconnect_interval(self.reconnect_ivl).is_some()
    }
}

impl Default for BaseConfig {
    fn default() -> Self {
        BaseConfig {
            linger: Linger::Forever,
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: Duration::ZERO,
            immediate: false,
            handshake_ivl: DEFAULT_HANDSHAKE_IVL,
            heartbeat_ivl: Duration::ZERO,
            heartbeat_timeout: None,
            heartbeat_ttl: Duration::ZERO,
            max_msg_size: None,
            #[cfg(feature = "sim")]
            sim_ready_delay: Duration::ZERO,
            #[cfg(feature = "sim")]
            sim_command_fault: CommandFault::None,
            #[cfg(feature = "sim")]
            sim_mailbox_shuffle: None,
        }
    }
}

/// Why an endpoint operation failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndpointOpError {
    /// The endpoint string is bad or its transport unsupported.
    Endpoint(EndpointError),
    /// `unbind` / `disconnect` of an endpoint that is not bound / connected (ENOENT).
    NotFound(String),
    /// The socket is closing or closed (ETERM).
    Terminated,
}

impl std::fmt::Display for EndpointOpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EndpointOpError::Endpoint(e) => e.fmt(f),
            EndpointOpError::NotFound(e) => write!(f, "endpoint {e:?} is not in use"),
            EndpointOpError::Terminated => f.write_str("socket is closed"),
        }
    }
}

impl std::error::Error for EndpointOpError {}

impl From<EndpointError> for EndpointOpError {
    fn from(e: EndpointError) -> Self {
        EndpointOpError::Endpoint(e)
    }
}

/// What one side of an inproc connection tells the other in place of a ZMTP handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InprocPeer {
    /// Its socket type.
    pub socket_type: SocketType,
    /// Its routing id (ROUTING_ID), if set.
    pub routing_id: Option<Bytes>,
    /// Its SNDHWM and RCVHWM: an inproc pipe's HWM each way is the writer's SNDHWM plus the
    /// reader's RCVHWM.
    pub hwms: (usize, usize),
}

/// A socket half with its sessions, each command delivered at once. See the [module
/// docs](self).
#[derive(Debug)]
pub struct SocketBase {
    half: SocketHalf,
    sessions: BTreeMap<NodeId, Session>,
    /// The connections of the sessions (inproc links are the half's).
    conns: BTreeMap<ConnId, NodeId>,
    actions: VecDeque<Action>,
    /// The half's commands for inproc peers and its monitor events, taken with its other
    /// outputs (see [`SocketBase::collect`]).
    inproc_out: VecDeque<(ConnId, PipeCommand)>,
    monitor: VecDeque<MonitorEvent>,
    /// The socket half's mailbox.
    to_socket: VecDeque<(NodeId, ToSocket)>,
    /// Each session's mailbox.
    to_sessions: BTreeMap<NodeId, VecDeque<ToSession>>,
    /// Mail left for a moment later (the simulator's interleaving): when to come back.
    deferred: Option<Instant>,
    /// The simulator's seed for the order of deliveries.
    #[cfg(feature = "sim")]
    shuffle: Option<u64>,
    /// Connections whose peer the pattern refused, for the simulator's oracles.
    #[cfg(feature = "sim")]
    refused: Vec<ConnId>,
    transmit_ready: BTreeSet<ConnId>,
    /// Questions for the driver's ZAP handler, from every session, in the order asked.
    zap_out: VecDeque<(ConnId, ZapRequest)>,
    /// Every session's next deadline (engine timer or redial), ordered by time, so that
    /// neither `poll_timeout` nor `handle_timeout` scans the sessions.
    timers: BTreeSet<(Instant, NodeId)>,
    /// The deadline each session has in `timers`.
    deadlines: BTreeMap<NodeId, Instant>,
    /// Session calls so far, for tests of what a message or a timer costs.
    #[cfg(test)]
    visits: usize,
}

impl SocketBase {
    /// A socket of `kind`. `seed` feeds everything random: reconnect jitter, generated ids.
    pub fn new(
        kind: SocketType,
        config: BaseConfig,
        seed: u64,
    ) -> Result<SocketBase, UnsupportedSocketType> {
        // The sessions run under this object: their pipes need no lock-free storage.
        #[cfg(feature = "sim")]
        let shuffle = config.sim_mailbox_shuffle;
        let half = SocketHalf::new(kind, config, seed, Storage::Local)?;
        Ok(SocketBase {
            half,
            sessions: BTreeMap::new(),
            conns: BTreeMap::new(),
            actions: VecDeque::new(),
            inproc_out: VecDeque::new(),
            monitor: VecDeque::new(),
            to_socket: VecDeque::new(),
            to_sessions: BTreeMap::new(),
            deferred: None,
            #[cfg(feature = "sim")]
            shuffle,
            #[cfg(feature = "sim")]
            refused: Vec::new(),
            transmit_ready: BTreeSet::new(),
            zap_out: VecDeque::new(),
            timers: BTreeSet::new(),
            deadlines: BTreeMap::new(),
            #[cfg(test)]
            visits: 0,
        })
    }

    /// The pattern socket, for options and state.
    pub fn socket(&self) -> &Socket {
        self.half.socket()
    }

    /// ZMQ_EVENTS: whether a receive would find a message, and whether a send would be
    /// taken.
    pub fn readiness(&mut self) -> (bool, bool) {
        self.half.readiness()
    }

    /// The pattern socket. To change options once connections exist, use
    /// [`SocketBase::set_option`], which also moves what the change queued (a SUBSCRIBE).
    pub fn socket_mut(&mut self) -> &mut Socket {
        self.half.socket_mut()
    }

    /// The lifecycle options.
    pub fn config(&self) -> &BaseConfig {
        self.half.config()
    }

    /// Changes lifecycle options; they apply to connections made from now on (LINGER at once).
    pub fn set_config(&mut self, config: BaseConfig) {
        self.half.set_config(config);
    }

    /// ZMQ_LAST_ENDPOINT: the endpoint of the last successful bind, as bound.
    pub fn last_endpoint(&self) -> Option<&str> {
        self.half.last_endpoint()
    }

    /// The endpoint `listener` is bound to, once it is listening.
    pub fn bound_endpoint(&self, listener: ListenerId) -> Option<&str> {
        self.half.bound_endpoint(listener)
    }

    /// Whether close has finished: every session and listener is gone. The half finishes
    /// first; its sessions then still have their last commands (`Destroy`) to take, and only
    /// once they have (closing their connections) is the socket closed.
    pub fn is_closed(&self) -> bool {
        self.half.is_closed() && self.sessions.is_empty() && !self.has_mail()
    }

    /// Whether the socket half has finished closing: the application's calls fail with
    /// `Terminated` from here on, though sessions may still be taking their last commands
    /// ([`SocketBase::is_closed`] waits for those too).
    pub fn is_terminated(&self) -> bool {
        self.half.is_closed()
    }

    /// How many sessions have not been told to end (no `Destroy` in their mailbox). Once
    /// the half has finished closing this must be none: the socket ends only after every
    /// session it owned has ended its lingering (libzmq's reaper waits for every term ack).
    /// For the simulator's oracles.
    #[cfg(feature = "sim")]
    pub fn sessions_not_ended(&self) -> usize {
        let told = |node: &NodeId| {
            self.to_sessions
                .get(node)
                .is_some_and(|inbox| inbox.iter().any(|c| matches!(c, ToSession::Destroy)))
        };
        let launching = self
            .to_sessions
            .iter()
            .filter(|(node, inbox)| {
                !self.sessions.contains_key(node)
                    && inbox.iter().any(|c| matches!(c, ToSession::Launch(_)))
            })
            .map(|(node, _)| node);
        self.sessions
            .keys()
            .chain(launching)
            .filter(|node| !told(node))
            .count()
    }

    // ----- application API ----------------------------------------------------------------

    /// Binds `endpoint`: asks the driver to listen there.
    pub fn bind(&mut self, endpoint: &str, now: Instant) -> Result<ListenerId, EndpointOpError> {
        let r = self.half.bind(endpoint, now);
        self.pump(now);
        r
    }

    /// Connects to `endpoint`: a session that dials now and redials as needed. Unless
    /// IMMEDIATE, its queue exists at once, so messages wait for the peer.
    pub fn connect(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        let r = self.half.connect(endpoint, now);
        self.pump(now);
        r
    }

    /// Ends the connect sessions for `endpoint` (as written in `connect`).
    pub fn disconnect(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        let r = self.half.disconnect(endpoint, now);
        self.pump(now);
        r
    }

    /// Stops listening on `endpoint` (as bound, or as given to `bind`) and ends the
    /// connections accepted there.
    pub fn unbind(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        let r = self.half.unbind(endpoint, now);
        self.pump(now);
        r
    }

    /// Sends a message through the pattern (never blocks: `WouldBlock` means wait).
    pub fn send(&mut self, msg: Message, now: Instant) -> Result<(), SendError> {
        let r = self.half.send(msg, now);
        self.pump(now);
        r
    }

    /// Receives a message through the pattern (never blocks).
    pub fn recv(&mut self, now: Instant) -> Result<Message, RecvError> {
        self.receive(now, |h, now| h.recv(now))
    }

    /// Runs a receive on the half and pumps. A receive that found nothing may have made room
    /// for messages a session held back at RCVHWM (a SUB dropping the ones it does not want,
    /// say), and the pump may deliver commands that make a message readable (a STREAM's
    /// connect notice, an XPUB's cancel for a subscriber whose pipe ended): if any command
    /// came in meanwhile, it looks again rather than report would-block, as libzmq's
    /// receive processes its commands before it looks.
    fn receive<T>(
        &mut self,
        now: Instant,
        mut f: impl FnMut(&mut SocketHalf, Instant) -> Result<T, RecvError>,
    ) -> Result<T, RecvError> {
        loop {
            let before = self.half.delivered();
            let r = f(&mut self.half, now);
            self.pump(now);
            if !matches!(r, Err(RecvError::WouldBlock)) || self.half.delivered() == before {
                return r;
            }
        }
    }

    /// Receives up to `max` messages into `out` (never blocks), each with the pipe it came
    /// from, pumping once for the lot: the batch form of [`SocketBase::recv`] for drivers
    /// that buffer on the caller's side (see [`SocketHalf::recv_many_from`]). Fails only when
    /// not even one message was there.
    pub fn recv_many_from(
        &mut self,
        out: &mut VecDeque<(PipeId, Message)>,
        max: usize,
        now: Instant,
    ) -> Result<usize, RecvError> {
        self.receive(now, |h, now| h.recv_many_from(out, max, now))
    }

    /// How many messages a receive may take ahead: see [`SocketHalf::receive_batch`].
    pub fn receive_batch(&self, max: usize) -> usize {
        self.half.receive_batch(max)
    }

    /// The pipes the last disconnect let go of: see [`SocketHalf::disconnected_pipes`].
    pub fn disconnected_pipes(&self) -> &[PipeId] {
        self.half.disconnected_pipes()
    }

    /// Drops what a receive would no longer hand up from messages a driver took ahead: see
    /// [`SocketHalf::drop_undeliverable`].
    pub fn drop_undeliverable(&self, taken: &mut VecDeque<(PipeId, Message)>) {
        self.half.drop_undeliverable(taken);
    }

    /// Closes the socket: no more sends; queued messages keep flowing for up to LINGER; then
    /// every session and listener ends. Watch [`SocketBase::is_closed`].
    pub fn close(&mut self, now: Instant) {
        self.half.close(now);
        self.pump(now);
    }

    // ----- driver inputs ------------------------------------------------------------------

    /// The listener is bound; `bound` is the endpoint as bound (the port chosen, say).
    pub fn handle_listening(&mut self, listener: ListenerId, bound: &str, now: Instant) {
        self.half.handle_listening(listener, bound, now);
        self.pump(now);
    }

    /// The bind failed (address in use, say).
    pub fn handle_bind_failed(&mut self, listener: ListenerId, error: OsError, now: Instant) {
        self.half.handle_bind_failed(listener, error, now);
        self.pump(now);
    }

    /// Accepting a connection on `listener` failed (too many open files, say).
    pub fn handle_accept_failed(&mut self, listener: ListenerId, error: OsError) {
        self.half.handle_accept_failed(listener, error);
    }

    /// Closing a connection or listener failed at the operating system.
    pub fn handle_close_failed(&mut self, endpoint: &str, error: OsError) {
        self.half.handle_close_failed(endpoint, error);
    }

    /// A connection arrived on `listener`. Returns its id, or `None` if the driver should
    /// close it at once (the listener is gone or the socket is closing).
    pub fn handle_accepted(&mut self, listener: ListenerId, now: Instant) -> Option<ConnId> {
        let conn = self.half.handle_accepted(listener, now);
        self.pump(now);
        conn
    }

    /// Whether a connection arriving on `listener` would be taken (it exists and neither it
    /// nor the socket is closing).
    pub fn accepts_on(&self, listener: ListenerId) -> bool {
        self.half.accepts_on(listener)
    }

    /// The dial of `conn` finished: connected, or failed.
    pub fn handle_dial_result(&mut self, conn: ConnId, result: Result<(), OsError>, now: Instant) {
        let Some(&node) = self.conns.get(&conn) else {
            return;
        };
        if result.is_err() {
            self.conns.remove(&conn);
        }
        if let Some(s) = self.sessions.get_mut(&node) {
            s.handle_dial_result(result, now);
        }
        self.after_session(node);
        self.pump(now);
    }

    /// Bytes arrived on `conn`.
    pub fn handle_input(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        let Some(&node) = self.conns.get(&conn) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&node) {
            s.handle_input(data, now);
        }
        self.after_session(node);
        self.pump(now);
    }

    /// The peer closed `conn` (or it was reset).
    pub fn handle_eof(&mut self, conn: ConnId, now: Instant) {
        if let Some(&node) = self.conns.get(&conn) {
            if let Some(s) = self.sessions.get_mut(&node) {
                s.handle_eof(now);
            }
            self.after_session(node);
        } else if self.half.is_inproc(conn) {
            // An inproc peer went away: there is no session to report it.
            self.half.handle_inproc_closed(conn, now);
        }
        self.pump(now);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<NodeId> = self
            .timers
            .range(..=(now, NodeId(u32::MAX)))
            .map(|&(_, node)| node)
            .collect();
        for node in due {
            if let Some(s) = self.sessions.get_mut(&node) {
                s.handle_timeout(now);
            }
            self.after_session(node);
        }
        self.half.handle_timeout(now);
        self.pump(now);
    }

    /// What this socket tells an inproc peer about itself.
    pub fn inproc_peer(&self) -> InprocPeer {
        self.half.inproc_peer()
    }

    /// A socket connected to our inproc listener and handed over `end`, the far end of its
    /// pipe (see [`SocketHalf::handle_inproc_accepted`]).
    pub fn handle_inproc_accepted(
        &mut self,
        listener: ListenerId,
        peer: InprocPeer,
        end: PipeEnd,
        now: Instant,
    ) -> Option<ConnId> {
        let conn = self.half.handle_inproc_accepted(listener, peer, end, now);
        self.pump(now);
        conn
    }

    /// Our inproc connect reached its peer (see [`SocketHalf::handle_inproc_connected`]).
    pub fn handle_inproc_connected(
        &mut self,
        conn: ConnId,
        peer: InprocPeer,
        now: Instant,
    ) -> Option<PipeEnd> {
        let end = self.half.handle_inproc_connected(conn, peer, now);
        self.pump(now);
        end
    }

    /// A pipe command from the inproc peer of `conn`.
    pub fn handle_inproc_command(&mut self, conn: ConnId, cmd: PipeCommand, now: Instant) {
        self.half.handle_inproc_command(conn, cmd, now);
        self.pump(now);
    }

    /// The pipe of inproc connection `conn`, once it has one.
    pub fn inproc_pipe(&self, conn: ConnId) -> Option<PipeId> {
        self.half.inproc_pipe(conn)
    }

    /// The next pipe command for the inproc peer of a connection.
    pub fn poll_inproc_command(&mut self) -> Option<(ConnId, PipeCommand)> {
        self.collect();
        self.inproc_out.pop_front()
    }

    // ----- driver outputs -----------------------------------------------------------------

    /// The next thing the driver must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.collect();
        self.actions.pop_front()
    }

    /// The next monitor event.
    pub fn poll_monitor(&mut self) -> Option<MonitorEvent> {
        self.collect();
        self.monitor.pop_front()
    }

    /// Whether any of the `poll_*` queues above (actions, inproc commands, monitor events)
    /// holds something, as [`SocketHalf::has_output`] says for the half's: after a driver
    /// has taken all three, this is false.
    pub fn has_output(&self) -> bool {
        !(self.actions.is_empty() && self.inproc_out.is_empty() && self.monitor.is_empty())
            || self.half.has_output()
    }

    /// When [`SocketBase::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = self.timers.first().map(|&(t, _)| t);
        sessions
            .into_iter()
            .chain(self.half.poll_timeout())
            .chain(self.deferred)
            .min()
    }

    /// A connection that may have bytes to write; call [`SocketBase::poll_transmit`] on it.
    pub fn poll_transmit_ready(&mut self) -> Option<ConnId> {
        self.transmit_ready.pop_first()
    }

    /// The next bytes to write on `conn`, refilled from its pipe as the engine empties.
    pub fn poll_transmit(&mut self, conn: ConnId, now: Instant) -> Option<Bytes> {
        let node = *self.conns.get(&conn)?;
        let out = self.sessions.get_mut(&node)?.poll_transmit(now);
        self.after_session(node);
        self.pump(now);
        out
    }

    /// Whether the driver should keep reading `conn` (false while the socket's queue for it
    /// is full: back-pressure).
    pub fn wants_input(&self, conn: ConnId) -> bool {
        self.conns
            .get(&conn)
            .and_then(|n| self.sessions.get(n))
            .is_some_and(Session::wants_input)
    }

    /// `conn` went quiet (a read did not fill what it offered): its session gives back the
    /// memory kept for traffic ([`Session::shrink_idle`]).
    pub fn shrink_idle(&mut self, conn: ConnId) {
        if let Some(s) = self.conns.get(&conn).and_then(|n| self.sessions.get_mut(n)) {
            s.shrink_idle();
        }
    }

    /// What pipe `id` holds each way, from the socket's end and its session's end (`None`
    /// for an unknown pipe, or an inproc one whose far end is another socket's).
    pub fn pipe(&self, id: PipeId) -> Option<PipeStats> {
        let socket_end = self.half.socket().pipe_end(id)?;
        if let Some(end) = self.half.inproc_held_end(id) {
            // An inproc connect still waiting for its binder holds the far end itself.
            return Some(PipeStats::of(socket_end, end));
        }
        let session = self.sessions.get(&self.half.pipe_owner(id)?)?;
        let (p, end) = session.pipe_end()?;
        (p == id).then_some(())?;
        Some(PipeStats::of(socket_end, end))
    }

    /// The connection pipe `id` runs over (a session's, or an inproc link's), for a driver's
    /// diagnostics: which peer a pipe leads to.
    pub fn pipe_conn(&self, id: PipeId) -> Option<ConnId> {
        if let Some(c) = self.half.inproc_conn_of(id) {
            return Some(c);
        }
        self.sessions.get(&self.half.pipe_owner(id)?)?.conn()
    }

    /// The next question for the driver's ZAP handler (only after
    /// [`SocketBase::set_zap_handler`]), with the connection it is about; answer it with
    /// [`SocketBase::handle_zap_reply`], now or later.
    pub fn poll_zap_request(&mut self) -> Option<(ConnId, ZapRequest)> {
        self.zap_out.pop_front()
    }

    /// The ZAP handler's answer about connection `conn` (ignored if it has gone).
    pub fn handle_zap_reply(&mut self, conn: ConnId, reply: ZapReply, now: Instant) {
        let Some(&node) = self.conns.get(&conn) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&node) {
            s.handle_zap_reply(conn, reply, now);
            self.after_session(node);
        }
        self.pump(now);
    }

    /// How many sessions the socket holds: one per connect, and one per accepted connection
    /// until it has ended (inproc links included). For diagnostics: a session that never
    /// ends shows here.
    pub fn session_count(&self) -> usize {
        self.sessions.len() + self.half.inproc_count()
    }

    /// How many sessions and inproc links the socket half holds: once the mailboxes are
    /// empty, as many as [`SocketBase::session_count`] (a link the half kept after its
    /// session ended would be a leak on the socket's side).
    pub fn link_count(&self) -> usize {
        self.half.link_count()
    }

    /// The live connections.
    pub fn conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys().copied().chain(self.half.inproc_conns())
    }

    // ----- internals ----------------------------------------------------------------------

    /// Takes what session `node` produced: its actions (keeping the connection index), its
    /// commands for the socket half's mailbox, its readiness to write and its next deadline;
    /// drops it once it has finished.
    fn after_session(&mut self, node: NodeId) {
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        #[cfg(test)]
        {
            self.visits += 1;
        }
        while let Some(a) = s.poll_action() {
            match &a {
                Action::Dial { conn, .. } => {
                    self.conns.insert(*conn, node);
                }
                Action::Close { conn, .. } => {
                    self.conns.remove(conn);
                    self.transmit_ready.remove(conn);
                }
                _ => {}
            }
            self.actions.push_back(a);
        }
        while let Some(req) = s.poll_zap_request() {
            self.zap_out.push_back(req);
        }
        while let Some(cmd) = s.poll_command() {
            #[cfg(feature = "sim")]
            let Some(cmd) = self.half.config().sim_command_fault.garble(cmd) else {
                continue;
            };
            self.to_socket.push_back((node, cmd));
        }
        if s.take_transmit_ready() {
            if let Some(c) = s.conn() {
                self.transmit_ready.insert(c);
            }
        }
        let finished = s.is_finished();
        let next = if finished { None } else { s.poll_timeout() };
        if finished {
            self.sessions.remove(&node);
        }
        self.reschedule(node, next);
    }

    /// Delivers the mailboxes until they are empty: the socket half's commands to each
    /// session (launching new ones), the sessions' to the socket half. Each mailbox is FIFO;
    /// which one goes next is fixed (sessions in order, then the socket), or drawn from a
    /// seed in the simulator, which may also leave the rest for a moment later, so that
    /// network events come in between as they do between threads.
    fn pump(&mut self, now: Instant) {
        self.half.pump(now);
        self.deferred = None;
        loop {
            self.collect();
            let Some(to) = self.next_mailbox() else {
                return;
            };
            match to {
                None => {
                    let (node, cmd) = self.to_socket.pop_front().expect("chosen as non-empty");
                    self.half.handle_command(node, cmd, now);
                }
                Some(node) => {
                    let mut inbox = self.to_sessions.remove(&node).unwrap_or_default();
                    let cmd = inbox.pop_front().expect("chosen as non-empty");
                    if !inbox.is_empty() {
                        self.to_sessions.insert(node, inbox);
                    }
                    self.deliver(node, cmd, now);
                }
            }
            #[cfg(feature = "sim")]
            if self.shuffle.is_some() && self.draw(4) == 0 && self.has_mail() {
                // Later: the driver comes back at the next tick. What the half produced
                // is in the mailboxes meanwhile, as a threaded driver's would be.
                self.collect();
                self.deferred = Some(now + Duration::from_micros(1));
                return;
            }
        }
    }

    /// Takes the half's outputs into this object's queues and the sessions' mailboxes, as
    /// the threaded drivers do: only when [`SocketHalf::has_output`] says there are some.
    fn collect(&mut self) {
        if !self.half.has_output() {
            return;
        }
        while let Some(a) = self.half.poll_action() {
            self.actions.push_back(a);
        }
        while let Some((node, cmd)) = self.half.poll_command() {
            self.to_sessions.entry(node).or_default().push_back(cmd);
        }
        while let Some(c) = self.half.poll_inproc_command() {
            self.inproc_out.push_back(c);
        }
        while let Some(m) = self.half.poll_monitor() {
            self.monitor.push_back(m);
        }
    }

    /// Which mailbox to deliver from next: `Some(node)` for a session's, `None` for the
    /// socket half's; nothing if all are empty.
    fn next_mailbox(&mut self) -> Option<Option<NodeId>> {
        #[cfg(feature = "sim")]
        if self.shuffle.is_some() {
            let count = self.to_sessions.len() + usize::from(!self.to_socket.is_empty());
            if count == 0 {
                return None;
            }
            let k = self.draw(count as u64) as usize;
            return Some(self.to_sessions.keys().nth(k).copied());
        }
        match self.to_sessions.keys().next() {
            Some(&node) => Some(Some(node)),
            None if !self.to_socket.is_empty() => Some(None),
            None => None,
        }
    }

    /// The connections whose peer the pattern refused since the last call (a second PAIR
    /// peer, a duplicate routing id): what the peer sent or will send on them is lost, as
    /// with libzmq. For the simulator's oracles.
    #[cfg(feature = "sim")]
    pub fn take_refused(&mut self) -> Vec<ConnId> {
        std::mem::take(&mut self.refused)
    }

    /// Commands the socket half has taken from its sessions so far: a receive that found a
    /// message without this moving found one that was there before it began.
    pub fn delivered(&self) -> u64 {
        self.half.delivered()
    }

    /// Whether commands between the socket half and its sessions wait to be delivered (only
    /// ever between calls in the simulator's interleavings): a pipe's counts then run ahead
    /// of what its writer has been told.
    pub fn has_mail(&self) -> bool {
        !self.to_sessions.is_empty() || !self.to_socket.is_empty()
    }

    /// Whether some connection may have bytes to write ([`SocketBase::poll_transmit_ready`]
    /// would name one).
    pub fn has_transmit_ready(&self) -> bool {
        !self.transmit_ready.is_empty()
    }

    /// A number below `n` from the simulator's seed.
    #[cfg(feature = "sim")]
    fn draw(&mut self, n: u64) -> u64 {
        let Some(state) = self.shuffle.as_mut() else {
            return 0;
        };
        splitmix64(state) % n.max(1)
    }

    /// Delivers one command to session `node`.
    fn deliver(&mut self, node: NodeId, cmd: ToSession, now: Instant) {
        match cmd {
            ToSession::Launch(s) => {
                if let Some(c) = s.conn() {
                    self.conns.insert(c, node);
                }
                self.sessions.insert(node, *s);
            }
            cmd => {
                #[cfg(feature = "sim")]
                let cmd = match cmd {
                    ToSession::Pipe(c) => {
                        match self.half.config().sim_command_fault.garble_down(c) {
                            Some(c) => ToSession::Pipe(c),
                            None => return self.after_session(node),
                        }
                    }
                    cmd => cmd,
                };
                if let Some(s) = self.sessions.get_mut(&node) {
                    #[cfg(feature = "sim")]
                    if let (ToSession::Refused, Some(c)) = (&cmd, s.conn()) {
                        self.refused.push(c);
                    }
                    s.handle_command(cmd, now);
                }
            }
        }
        self.after_session(node);
    }

    /// Puts the session's next deadline in the index, or takes it out.
    fn reschedule(&mut self, node: NodeId, next: Option<Instant>) {
        let old = self.deadlines.get(&node).copied();
        if old == next {
            return;
        }
        if let Some(t) = old {
            self.timers.remove(&(t, node));
            self.deadlines.remove(&node);
        }
        if let Some(t) = next {
            self.timers.insert((t, node));
            self.deadlines.insert(node, t);
        }
    }
}

/// The next number of a SplitMix64 stream with state `state`: a small, well-mixed generator
/// over a seed the driver gave (reconnect jitter, ids, the simulator's delivery orders).
pub(crate) fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

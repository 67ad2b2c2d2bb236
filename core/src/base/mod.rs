//! The socket base (libzmq's `socket_base_t`): a pattern [`Socket`] plus its endpoints, one
//! session per connection, reconnection, linger and the object tree — still without I/O.
//!
//! The driver opens listeners and connections when asked ([`Action`]), reports what happened
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
mod options;
#[cfg(test)]
mod tests;

pub use backoff::Backoff;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::endpoint::{Endpoint, EndpointError};
use crate::engine::{Engine, EngineConfig, Event, PeerInfo, DEFAULT_HANDSHAKE_IVL};
use crate::error::ConnectionError;
use crate::message::Message;
use crate::monitor::{MonitorEvent, MonitorEventKind};
use crate::options::DriverOptions;
use crate::pipe::{Activation, PipeCommand, PipeEnd, PipeId, PipeItem, Storage};
use crate::socket::{
    PipePeer, PipeStats, RecvError, SendError, SendErrorKind, Socket, SocketEvent,
    UnsupportedSocketType,
};
use crate::socket_type::SocketType;
use crate::time::Instant;
use crate::tree::{Linger, NodeId, Tree, TreeEvent};

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
    /// ZMQ_RECONNECT_IVL; `None` is −1: never reconnect (default 100 ms).
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

fn inproc_peer_info(peer: InprocPeer) -> PeerInfo {
    PeerInfo {
        version: crate::codec::ZmtpVersion::V3_1,
        socket_type: Some(peer.socket_type),
        routing_id: peer.routing_id,
        metadata: crate::codec::Metadata::new(),
    }
}

/// Stop pulling messages into an engine once this many bytes wait to be written.
const OUT_BATCH: usize = 256 * 1024;

#[derive(Debug)]
enum Role {
    /// A session that dials `endpoint` and redials it.
    Connect {
        endpoint: Endpoint,
        backoff: Backoff,
        state: ConnectState,
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

#[derive(Debug)]
struct Session {
    endpoint: String,
    role: Role,
    conn: Option<ConnId>,
    engine: Option<Engine>,
    handshaken: bool,
    pipe: Option<PipeId>,
    /// The session's end of that pipe: the only way messages reach the socket's pattern.
    end: Option<PipeEnd>,
    /// The pipe's peer is known: it may carry messages both ways.
    pipe_ready: bool,
    connect_routing_id: Option<Bytes>,
    /// An inbound message the socket refused at RCVHWM, to push again when it resumes.
    held: Option<Message>,
    lingering: bool,
    /// An inproc connection: items pass straight from our pipe to the peer's, one at a time
    /// and only while the peer's pipe has room, so the two HWMs add up as libzmq's inproc HWM
    /// is the sum of both sides.
    inproc: bool,
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

impl Session {
    fn new(endpoint: String, role: Role) -> Session {
        Session {
            endpoint,
            role,
            conn: None,
            engine: None,
            handshaken: false,
            pipe: None,
            end: None,
            pipe_ready: false,
            connect_routing_id: None,
            held: None,
            lingering: false,
            inproc: false,
        }
    }
}

#[derive(Debug)]
struct Listener {
    node: NodeId,
    endpoint: Endpoint,
    bound: Option<String>,
    /// The listening socket is closed (unbind or close): its address is free again, though
    /// the sessions it accepted may still linger.
    closed: bool,
}

/// A socket with its endpoints and sessions.
#[derive(Debug)]
pub struct SocketBase {
    socket: Socket,
    config: BaseConfig,
    tree: Tree,
    root: NodeId,
    listeners: BTreeMap<ListenerId, Listener>,
    listener_nodes: BTreeMap<NodeId, ListenerId>,
    sessions: BTreeMap<NodeId, Session>,
    conns: BTreeMap<ConnId, NodeId>,
    pipes: BTreeMap<PipeId, NodeId>,
    actions: VecDeque<Action>,
    monitor: VecDeque<MonitorEvent>,
    transmit_ready: BTreeSet<ConnId>,
    /// Messages sessions have written into their pipes so far.
    moved_in: u64,
    /// Pipe commands for inproc peers, whose pipes join two patterns directly.
    inproc_out: VecDeque<(ConnId, PipeCommand)>,
    /// Every session's next deadline (engine timer or redial), ordered by time, so that
    /// neither `poll_timeout` nor `handle_timeout` scans the sessions.
    timers: BTreeSet<(Instant, NodeId)>,
    /// The deadline each session has in `timers`.
    deadlines: BTreeMap<NodeId, Instant>,
    /// Reused by `pump` for its walk over the sessions, so a call allocates nothing.
    scratch_nodes: Vec<NodeId>,
    /// Sessions the next pump must visit: their engine, pipe or drain state changed.
    dirty: BTreeSet<NodeId>,
    /// The next pump visits every session (after control operations, timers and the
    /// object tree's commands, whose effects are not tracked per session).
    walk_all: bool,
    /// Sessions visited by pumps so far, for tests of the walk's cost.
    #[cfg(test)]
    visits: usize,
    rng: u64,
    next_id: u64,
    last_endpoint: Option<String>,
    closing: bool,
    /// Options the driver applies (timeouts, TCP); the core only keeps them.
    driver: DriverOptions,
}

impl SocketBase {
    /// A socket of `kind`. `seed` feeds everything random: reconnect jitter, generated ids.
    pub fn new(
        kind: SocketType,
        config: BaseConfig,
        seed: u64,
    ) -> Result<SocketBase, UnsupportedSocketType> {
        let mut socket = Socket::new(kind, (seed >> 32) as u32 ^ seed as u32)?;
        // The sessions run under this object: their pipes need no lock-free storage. Reads
        // are reported every low-water mark, as libzmq does, not one command per message.
        socket.set_session_pipes(Storage::Local, false);
        let (mut tree, root) = Tree::new();
        tree.set_linger(root, config.linger);
        Ok(SocketBase {
            socket,
            config,
            tree,
            root,
            listeners: BTreeMap::new(),
            listener_nodes: BTreeMap::new(),
            sessions: BTreeMap::new(),
            conns: BTreeMap::new(),
            pipes: BTreeMap::new(),
            actions: VecDeque::new(),
            monitor: VecDeque::new(),
            transmit_ready: BTreeSet::new(),
            inproc_out: VecDeque::new(),
            moved_in: 0,
            timers: BTreeSet::new(),
            deadlines: BTreeMap::new(),
            scratch_nodes: Vec::new(),
            dirty: BTreeSet::new(),
            walk_all: true,
            #[cfg(test)]
            visits: 0,
            rng: seed,
            next_id: 1,
            last_endpoint: None,
            closing: false,
            driver: DriverOptions::default(),
        })
    }

    /// The pattern socket, for options and state.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// ZMQ_EVENTS: whether a receive would find a message, and whether a send would be
    /// taken (what [`Socket::can_recv`] and [`Socket::can_send`] say, without the full walk of
    /// the sessions that [`SocketBase::socket_mut`] costs the next pump).
    pub fn readiness(&mut self) -> (bool, bool) {
        (self.socket.can_recv(), self.socket.can_send())
    }

    /// The pattern socket. To change options once connections exist, use
    /// [`SocketBase::set_option`], which also moves what the change queued (a SUBSCRIBE).
    /// The next pump visits every session, since what changed is not known.
    pub fn socket_mut(&mut self) -> &mut Socket {
        self.walk_all = true;
        &mut self.socket
    }

    /// The lifecycle options.
    pub fn config(&self) -> &BaseConfig {
        &self.config
    }

    /// Changes lifecycle options; they apply to connections made from now on (LINGER at once).
    pub fn set_config(&mut self, config: BaseConfig) {
        self.walk_all = true;
        self.tree.set_linger(self.root, config.linger);
        self.config = config;
    }

    /// ZMQ_LAST_ENDPOINT: the endpoint of the last successful bind, as bound.
    pub fn last_endpoint(&self) -> Option<&str> {
        self.last_endpoint.as_deref()
    }

    /// The endpoint `listener` is bound to, once it is listening.
    pub fn bound_endpoint(&self, listener: ListenerId) -> Option<&str> {
        self.listeners.get(&listener)?.bound.as_deref()
    }

    /// Whether close has finished: every session and listener is gone.
    pub fn is_closed(&self) -> bool {
        !self.tree.is_alive(self.root)
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn random(&mut self) -> u64 {
        // SplitMix64: a small, well-mixed generator over the seed we were given.
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn event(&mut self, kind: MonitorEventKind, endpoint: &str, value: u64) {
        self.monitor.push_back(MonitorEvent {
            kind,
            endpoint: endpoint.to_owned(),
            value,
        });
    }

    // ----- application API ----------------------------------------------------------------

    /// Binds `endpoint`: asks the driver to listen there.
    pub fn bind(&mut self, endpoint: &str, now: Instant) -> Result<ListenerId, EndpointOpError> {
        self.walk_all = true;
        if self.closing {
            return Err(EndpointOpError::Terminated);
        }
        let ep = Endpoint::parse_bind(endpoint)?;
        let node = self
            .tree
            .launch(self.root)
            .ok_or(EndpointOpError::Terminated)?;
        let listener = ListenerId(self.id());
        self.listeners.insert(
            listener,
            Listener {
                node,
                endpoint: ep.clone(),
                bound: None,
                closed: false,
            },
        );
        self.listener_nodes.insert(node, listener);
        self.actions.push_back(match ep {
            Endpoint::Inproc(name) => Action::InprocBind { listener, name },
            endpoint => Action::Listen { listener, endpoint },
        });
        self.pump(now);
        Ok(listener)
    }

    /// Connects to `endpoint`: a session that dials now and redials as needed. Unless
    /// IMMEDIATE, its queue exists at once, so messages wait for the peer.
    pub fn connect(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        self.walk_all = true;
        if self.closing {
            return Err(EndpointOpError::Terminated);
        }
        let ep = Endpoint::parse_connect(endpoint)?;
        let node = self
            .tree
            .launch(self.root)
            .ok_or(EndpointOpError::Terminated)?;
        let connect_routing_id = self.socket.take_connect_routing_id();
        let mut session = Session::new(
            endpoint.to_owned(),
            Role::Connect {
                endpoint: ep,
                backoff: Backoff::new(
                    self.config.reconnect_ivl.unwrap_or_default(),
                    self.config.reconnect_ivl_max,
                ),
                state: ConnectState::Idle,
            },
        );
        session.connect_routing_id = connect_routing_id.clone();
        if !self.config.immediate {
            let pipe = PipeId(self.id());
            // A fresh id cannot collide, but the pattern may refuse another pipe (a PAIR whose
            // old pipe still drains): the session then attaches one after its handshake, as
            // libzmq's session does when it has no pipe.
            if let Ok(end) = self
                .socket
                .attach_pending_session_pipe(pipe, connect_routing_id)
            {
                session.pipe = Some(pipe);
                session.end = Some(end);
                self.pipes.insert(pipe, node);
            }
        }
        self.sessions.insert(node, session);
        self.dial(node);
        self.pump(now);
        Ok(())
    }

    /// Ends the connect sessions for `endpoint` (as written in `connect`).
    pub fn disconnect(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        self.walk_all = true;
        let nodes: Vec<NodeId> = self
            .sessions
            .iter()
            .filter(|(_, s)| matches!(s.role, Role::Connect { .. }) && s.endpoint == endpoint)
            .map(|(n, _)| *n)
            .collect();
        if nodes.is_empty() {
            return Err(EndpointOpError::NotFound(endpoint.to_owned()));
        }
        for n in nodes {
            self.tree.terminate(n, self.config.linger, now);
        }
        self.pump(now);
        Ok(())
    }

    /// Stops listening on `endpoint` (as bound, or as given to `bind`) and ends the
    /// connections accepted there.
    pub fn unbind(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        self.walk_all = true;
        let found: Vec<(ListenerId, NodeId)> = self
            .listeners
            .iter()
            .filter(|(_, l)| {
                !l.closed
                    && (l.bound.as_deref() == Some(endpoint) || l.endpoint.to_string() == endpoint)
            })
            .map(|(id, l)| (*id, l.node))
            .collect();
        if found.is_empty() {
            return Err(EndpointOpError::NotFound(endpoint.to_owned()));
        }
        for (listener, node) in found {
            // libzmq's listener closes its socket as it processes the unbind; only the
            // sessions it accepted linger.
            self.close_listener(listener);
            self.tree.terminate(node, Linger::For(Duration::ZERO), now);
        }
        self.pump(now);
        Ok(())
    }

    /// Sends a message through the pattern (never blocks: `WouldBlock` means wait).
    pub fn send(&mut self, msg: Message, now: Instant) -> Result<(), SendError> {
        if self.closing {
            return Err(SendError::new(SendErrorKind::Terminated, msg));
        }
        let r = self.socket.send(msg);
        self.pump(now);
        r
    }

    /// Receives a message through the pattern (never blocks).
    pub fn recv(&mut self, now: Instant) -> Result<Message, RecvError> {
        if self.is_closed() {
            return Err(RecvError::Terminated);
        }
        loop {
            let before = self.moved_in;
            let r = self.socket.recv();
            self.pump(now);
            // A receive that found nothing may have made room for messages a session held
            // back at RCVHWM (a SUB dropping the ones it does not want, say): if the pump
            // moved any in, look again rather than report would-block.
            if !matches!(r, Err(RecvError::WouldBlock)) || self.moved_in == before {
                return r;
            }
        }
    }

    /// Receives up to `max` messages into `out` (never blocks), pumping once for the lot:
    /// the batch form of [`SocketBase::recv`] for drivers that buffer on the caller's side.
    /// Fails only when not even one message was there.
    pub fn recv_many(
        &mut self,
        out: &mut std::collections::VecDeque<Message>,
        max: usize,
        now: Instant,
    ) -> Result<usize, RecvError> {
        if self.is_closed() {
            return Err(RecvError::Terminated);
        }
        let mut n = 0;
        while n < max {
            let before = self.moved_in;
            match self.socket.recv() {
                Ok(m) => {
                    out.push_back(m);
                    n += 1;
                }
                Err(e) if n == 0 => {
                    self.pump(now);
                    // As in `recv`: look again if the pump moved held messages in.
                    if self.moved_in == before || !matches!(e, RecvError::WouldBlock) {
                        return Err(e);
                    }
                }
                Err(_) => break,
            }
        }
        self.pump(now);
        Ok(n)
    }

    /// Closes the socket: no more sends; queued messages keep flowing for up to LINGER; then
    /// every session and listener ends. Watch [`SocketBase::is_closed`].
    pub fn close(&mut self, now: Instant) {
        self.walk_all = true;
        if self.closing {
            return;
        }
        self.closing = true;
        // The listening sockets close at once; only sessions linger.
        let listeners: Vec<ListenerId> = self.listeners.keys().copied().collect();
        for listener in listeners {
            self.close_listener(listener);
        }
        self.tree.terminate(self.root, self.config.linger, now);
        self.pump(now);
    }

    /// Asks the driver to close `listener`'s listening socket (once) and reports it.
    fn close_listener(&mut self, listener: ListenerId) {
        let Some(l) = self.listeners.get_mut(&listener).filter(|l| !l.closed) else {
            return;
        };
        l.closed = true;
        let ep = l.bound.clone().unwrap_or_else(|| l.endpoint.to_string());
        self.actions.push_back(Action::CloseListener { listener });
        self.event(MonitorEventKind::Closed, &ep, listener.0);
    }

    // ----- driver inputs ------------------------------------------------------------------

    /// The listener is bound; `bound` is the endpoint as bound (the port chosen, say).
    pub fn handle_listening(&mut self, listener: ListenerId, bound: &str, now: Instant) {
        self.walk_all = true;
        if let Some(l) = self.listeners.get_mut(&listener) {
            l.bound = Some(bound.to_owned());
            self.last_endpoint = Some(bound.to_owned());
            self.event(MonitorEventKind::Listening, bound, listener.0);
        }
        self.pump(now);
    }

    /// The bind failed (address in use, say).
    pub fn handle_bind_failed(&mut self, listener: ListenerId, errno: u64, now: Instant) {
        self.walk_all = true;
        // The listener never existed for the user: no CLOSED follows.
        if let Some(l) = self.listeners.remove(&listener) {
            self.listener_nodes.remove(&l.node);
            self.event(MonitorEventKind::BindFailed, &l.endpoint.to_string(), errno);
            self.tree
                .terminate(l.node, Linger::For(Duration::ZERO), now);
        }
        self.pump(now);
    }

    /// Accepting a connection on `listener` failed (too many open files, say).
    pub fn handle_accept_failed(&mut self, listener: ListenerId, errno: u64) {
        if let Some(l) = self.listeners.get(&listener) {
            let ep = l.bound.clone().unwrap_or_else(|| l.endpoint.to_string());
            self.event(MonitorEventKind::AcceptFailed, &ep, errno);
        }
    }

    /// Closing a connection or listener failed at the operating system.
    pub fn handle_close_failed(&mut self, endpoint: &str, errno: u64) {
        self.event(MonitorEventKind::CloseFailed, endpoint, errno);
    }

    /// A connection arrived on `listener`. Returns its id, or `None` if the driver should
    /// close it at once (the listener is gone or the socket is closing).
    pub fn handle_accepted(&mut self, listener: ListenerId, now: Instant) -> Option<ConnId> {
        let engine = Engine::new(self.engine_config(), now);
        let (node, conn, ep) = self.accept_session(listener, Some(engine))?;
        self.dirty.insert(node);
        self.event(MonitorEventKind::Accepted, &ep, conn.0);
        self.transmit_ready.insert(conn);
        self.pump(now);
        Some(conn)
    }

    /// Whether a connection arriving on `listener` would be taken (it exists and neither it
    /// nor the socket is closing).
    pub fn accepts_on(&self, listener: ListenerId) -> bool {
        self.listeners
            .get(&listener)
            .is_some_and(|l| !l.closed && !self.closing && !self.tree.is_terminating(l.node))
    }

    /// A session for a connection accepted on `listener`: (its node, its connection, the
    /// listener's endpoint), or `None` if the listener is gone or the socket is closing.
    fn accept_session(
        &mut self,
        listener: ListenerId,
        engine: Option<Engine>,
    ) -> Option<(NodeId, ConnId, String)> {
        let l = self.listeners.get(&listener)?;
        let (lnode, ep) = (
            l.node,
            l.bound.clone().unwrap_or_else(|| l.endpoint.to_string()),
        );
        if self.closing || l.closed || self.tree.is_terminating(lnode) {
            return None;
        }
        let node = self.tree.launch(lnode)?;
        let conn = ConnId(self.id());
        let mut session = Session::new(ep.clone(), Role::Accepted);
        session.conn = Some(conn);
        session.inproc = engine.is_none();
        session.engine = engine;
        self.sessions.insert(node, session);
        self.conns.insert(conn, node);
        Some((node, conn, ep))
    }

    /// The dial of `conn` finished: connected, or failed with an error number.
    pub fn handle_dial_result(&mut self, conn: ConnId, result: Result<(), u64>, now: Instant) {
        let Some(&node) = self.conns.get(&conn) else {
            return;
        };
        self.dirty.insert(node);
        let config = self.engine_config();
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let endpoint = s.endpoint.clone();
        match result {
            Ok(()) => {
                if let Role::Connect { backoff, state, .. } = &mut s.role {
                    backoff.reset();
                    *state = ConnectState::Connected;
                }
                s.engine = Some(Engine::new(config, now));
                s.handshaken = false;
                self.transmit_ready.insert(conn);
                self.event(MonitorEventKind::Connected, &endpoint, conn.0);
            }
            Err(_) => {
                self.conns.remove(&conn);
                s.conn = None;
                self.schedule_reconnect(node, now);
            }
        }
        self.pump(now);
    }

    /// Bytes arrived on `conn`.
    pub fn handle_input(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        self.touch(conn);
        if let Some(e) = self.engine_mut(conn) {
            e.handle_input(data, now);
        }
        self.transmit_ready.insert(conn);
        self.pump(now);
    }

    /// The peer closed `conn` (or it was reset).
    pub fn handle_eof(&mut self, conn: ConnId, now: Instant) {
        self.touch(conn);
        if let Some(e) = self.engine_mut(conn) {
            e.handle_eof(now);
        } else if let Some(&node) = self.conns.get(&conn) {
            // An inproc peer went away: there is no engine to report it.
            self.on_engine_closed(node, ConnectionError::PeerClosed, now);
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
            self.dirty.insert(node);
            let Some(s) = self.sessions.get_mut(&node) else {
                continue;
            };
            if let Some(e) = s.engine.as_mut() {
                if e.poll_timeout().is_some_and(|t| t <= now) {
                    e.handle_timeout(now);
                    if let Some(c) = s.conn {
                        self.transmit_ready.insert(c);
                    }
                }
            }
            if matches!(&s.role, Role::Connect { state: ConnectState::Waiting(t), .. } if *t <= now)
            {
                self.dial(node);
            }
        }
        if self.tree.poll_timeout().is_some_and(|t| t <= now) {
            // A linger ran out: what it ends is not tracked per session.
            self.walk_all = true;
            self.tree.handle_timeout(now);
        }
        self.pump(now);
    }

    /// What this socket tells an inproc peer about itself.
    pub fn inproc_peer(&self) -> InprocPeer {
        let o = self.socket.options();
        InprocPeer {
            socket_type: self.socket.socket_type(),
            routing_id: o.routing_id.clone(),
            hwms: (o.sndhwm, o.rcvhwm),
        }
    }

    /// A socket connected to our inproc listener and handed over `end`, the far end of its
    /// pipe: our pattern reads and writes it directly, with no session between (libzmq's
    /// inproc). Returns the connection's id, or `None` if the listener is gone or the socket
    /// closing.
    pub fn handle_inproc_accepted(
        &mut self,
        listener: ListenerId,
        peer: InprocPeer,
        end: PipeEnd,
        now: Instant,
    ) -> Option<ConnId> {
        let (node, conn, _) = self.accept_session(listener, None)?;
        self.dirty.insert(node);
        self.on_handshake(node, inproc_peer_info(peer), Some(end), now);
        self.pump(now);
        Some(conn)
    }

    /// Our inproc connect reached its peer, which told us who it is. Returns the far end of
    /// the connection's pipe, for [`SocketBase::handle_inproc_accepted`] on the peer (`None`
    /// if our pattern refused the peer: the connection is closed). Each way, the pipe's HWM
    /// becomes the writer's SNDHWM plus the reader's RCVHWM (unlimited if either is 0).
    pub fn handle_inproc_connected(
        &mut self,
        conn: ConnId,
        peer: InprocPeer,
        now: Instant,
    ) -> Option<PipeEnd> {
        let &node = self.conns.get(&conn)?;
        self.dirty.insert(node);
        let (peer_snd, peer_rcv) = peer.hwms;
        if let Some(s) = self.sessions.get_mut(&node) {
            s.inproc = true;
            if let Role::Connect { state, .. } = &mut s.role {
                *state = ConnectState::Connected;
            }
        }
        self.on_handshake(node, inproc_peer_info(peer), None, now);
        let s = self.sessions.get_mut(&node)?;
        let (p, mut end) = (s.pipe?, s.end.take()?);
        let o = self.socket.options();
        let sum = |a: usize, b: usize| if a == 0 || b == 0 { 0 } else { a + b };
        let (out, inb) = (sum(o.sndhwm, peer_rcv), sum(peer_snd, o.rcvhwm));
        // Two sockets that may live on two threads: reads are reported every low-water mark,
        // as libzmq does (the peer's end also learns its HWMs from the command this sends).
        end.set_exact(false, out);
        self.socket.set_pipe_hwms(p, out, inb, false);
        self.pump(now);
        Some(end)
    }

    /// A pipe command from the inproc peer of `conn`.
    pub fn handle_inproc_command(&mut self, conn: ConnId, cmd: PipeCommand, now: Instant) {
        let Some(p) = self
            .conns
            .get(&conn)
            .and_then(|n| self.sessions.get(n))
            .and_then(|s| s.pipe)
        else {
            return;
        };
        self.socket.handle_pipe_command(p, cmd);
        self.pump(now);
    }

    /// The next pipe command for the inproc peer of a connection.
    pub fn poll_inproc_command(&mut self) -> Option<(ConnId, PipeCommand)> {
        self.inproc_out.pop_front()
    }

    // ----- driver outputs -----------------------------------------------------------------

    /// The next thing the driver must do.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next monitor event.
    pub fn poll_monitor(&mut self) -> Option<MonitorEvent> {
        self.monitor.pop_front()
    }

    /// When [`SocketBase::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let sessions = self.timers.first().map(|&(t, _)| t);
        sessions.into_iter().chain(self.tree.poll_timeout()).min()
    }

    /// A connection that may have bytes to write; call [`SocketBase::poll_transmit`] on it.
    pub fn poll_transmit_ready(&mut self) -> Option<ConnId> {
        self.transmit_ready.pop_first()
    }

    /// The next bytes to write on `conn`, refilled from its pipe as the engine empties.
    pub fn poll_transmit(&mut self, conn: ConnId, now: Instant) -> Option<Bytes> {
        let node = *self.conns.get(&conn)?;
        self.refill(node);
        let out = self.engine_mut(conn)?.poll_transmit();
        if out.is_some() {
            self.dirty.insert(node);
            // The engine may now take more from the pipe; a lingering session may be done.
            self.pump(now);
        }
        out
    }

    /// Whether the driver should keep reading `conn` (false while the socket's queue for it
    /// is full: back-pressure).
    pub fn wants_input(&self, conn: ConnId) -> bool {
        let Some(s) = self.conns.get(&conn).and_then(|n| self.sessions.get(n)) else {
            return false;
        };
        let room = s
            .end
            .as_ref()
            .filter(|_| s.pipe_ready)
            .is_none_or(PipeEnd::has_room_for_message);
        s.held.is_none() && room
    }

    /// What pipe `id` holds each way, from the socket's end and its session's end (`None`
    /// for an unknown pipe, or an inproc one whose far end is another socket's).
    pub fn pipe(&self, id: PipeId) -> Option<PipeStats> {
        let session = self.pipes.get(&id).and_then(|n| self.sessions.get(n))?;
        Some(PipeStats::of(
            self.socket.pipe_end(id)?,
            session.end.as_ref()?,
        ))
    }

    /// How many sessions the socket holds: one per connect, and one per accepted connection
    /// until it has ended. For diagnostics: a session that never ends shows here.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// The live connections.
    pub fn conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.conns.keys().copied()
    }

    // ----- internals ----------------------------------------------------------------------

    fn engine_config(&self) -> EngineConfig {
        let mut c = EngineConfig::new(self.socket.socket_type());
        c.routing_id = self.socket.options().routing_id.clone();
        c.handshake_ivl = self.config.handshake_ivl;
        c.heartbeat_ivl = self.config.heartbeat_ivl;
        c.heartbeat_timeout = self.config.heartbeat_timeout;
        c.heartbeat_ttl = self.config.heartbeat_ttl;
        c.max_msg_size = self.config.max_msg_size;
        self.driver.security.apply_to(&mut c);
        #[cfg(feature = "sim")]
        {
            c.sim_ready_delay = self.config.sim_ready_delay;
        }
        c
    }

    /// Marks `conn`'s session for the next pump.
    fn touch(&mut self, conn: ConnId) {
        if let Some(&node) = self.conns.get(&conn) {
            self.dirty.insert(node);
        }
    }

    fn engine_mut(&mut self, conn: ConnId) -> Option<&mut Engine> {
        let node = self.conns.get(&conn)?;
        self.sessions.get_mut(node)?.engine.as_mut()
    }

    fn dial(&mut self, node: NodeId) {
        let conn = ConnId(self.id());
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let Role::Connect {
            endpoint, state, ..
        } = &mut s.role
        else {
            return;
        };
        *state = ConnectState::Dialing;
        s.conn = Some(conn);
        let (endpoint, name) = (endpoint.clone(), s.endpoint.clone());
        self.conns.insert(conn, node);
        match endpoint {
            Endpoint::Inproc(name) => self.actions.push_back(Action::InprocConnect { conn, name }),
            endpoint => {
                self.actions.push_back(Action::Dial { conn, endpoint });
                self.event(MonitorEventKind::ConnectDelayed, &name, 0);
            }
        }
    }

    fn schedule_reconnect(&mut self, node: NodeId, now: Instant) {
        let random = self.random();
        let ivl = self.config.reconnect_ivl;
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let Role::Connect { backoff, state, .. } = &mut s.role else {
            return;
        };
        if ivl.is_none() {
            *state = ConnectState::Idle;
            return;
        }
        let wait = backoff.next_wait(random);
        *state = ConnectState::Waiting(now + wait);
        let name = s.endpoint.clone();
        self.event(
            MonitorEventKind::ConnectRetried,
            &name,
            u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
        );
    }

    /// Moves everything that can move until nothing does. It visits the sessions marked
    /// dirty (by a driver input on their connection, or a pattern event on their pipe), or
    /// all of them after a control operation: a busy socket with many idle connections pays
    /// per message for the one connection that moved, not for all of them.
    fn pump(&mut self, now: Instant) {
        // Nested calls (an event handler pumping) find the scratch taken and allocate.
        let mut nodes = std::mem::take(&mut self.scratch_nodes);
        loop {
            let mut progress = false;
            nodes.clear();
            if std::mem::take(&mut self.walk_all) {
                self.dirty.clear();
                nodes.extend(self.sessions.keys().copied());
            } else {
                while let Some(n) = self.dirty.pop_first() {
                    nodes.push(n);
                }
            }
            #[cfg(test)]
            {
                self.visits += nodes.len();
            }
            for &node in &nodes {
                if self.drain_engine(node, now) {
                    progress = true;
                    self.dirty.insert(node);
                }
            }
            while let Some(ev) = self.socket.poll_event() {
                progress = true;
                self.on_socket_event(ev, now);
            }
            if self.route_socket() {
                progress = true;
            }
            // Pattern events just marked more sessions: refill those now too.
            for &n in &self.dirty {
                if nodes.binary_search(&n).is_err() {
                    nodes.push(n);
                }
            }
            nodes.sort_unstable();
            for &node in &nodes {
                if self.refill(node) {
                    progress = true;
                    self.dirty.insert(node);
                }
                self.check_drained(node, now);
                self.reschedule(node);
            }
            while let Some(env) = self.tree.poll_command() {
                progress = true;
                self.dirty.insert(env.from);
                self.dirty.insert(env.to);
                // Single-threaded: deliver in order at once. The handshake never addresses
                // a destroyed object (proven in tree::tests).
                let _ = self.tree.deliver(env, now);
            }
            while let Some(ev) = self.tree.poll_event() {
                progress = true;
                let (TreeEvent::Linger(node, _) | TreeEvent::Destroyed(node)) = &ev;
                self.dirty.insert(*node);
                self.on_tree_event(ev, now);
            }
            if !progress && !self.walk_all && self.dirty.is_empty() {
                self.scratch_nodes = nodes;
                return;
            }
        }
    }

    /// Feeds the engine's events to the socket; true if anything happened.
    fn drain_engine(&mut self, node: NodeId, now: Instant) -> bool {
        let mut progress = false;
        loop {
            let Some(s) = self.sessions.get_mut(&node) else {
                return progress;
            };
            if let Some(held) = s.held.take() {
                if let Some(end) = s.end.as_mut() {
                    if let Err(m) = end.write(held) {
                        s.held = Some(m);
                        return progress;
                    }
                    end.flush();
                    self.moved_in += 1;
                    progress = true;
                    self.route_session(node);
                    continue;
                }
            }
            let Some(ev) = s.engine.as_mut().and_then(Engine::poll_event) else {
                return progress;
            };
            progress = true;
            match ev {
                Event::HandshakeSucceeded(peer) => self.on_handshake(node, peer, None, now),
                Event::Message(m) => self.inbound(node, PipeItem::Message(m)),
                Event::Subscribe(t) => self.inbound(node, PipeItem::Subscribe(t)),
                Event::Cancel(t) => self.inbound(node, PipeItem::Cancel(t)),
                Event::Closed(err) => self.on_engine_closed(node, err, now),
                // The socket layer does not route ZAP requests yet, and engines are told of a
                // handler only when it does: answer as a handler that failed would.
                Event::ZapRequest(_) => {
                    if let Some(e) = self.sessions.get_mut(&node).and_then(|s| s.engine.as_mut()) {
                        e.handle_zap_reply(crate::mechanism::ZapReply::deny(500), now);
                    }
                }
            }
        }
    }

    fn inbound(&mut self, node: NodeId, item: PipeItem) {
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let Some(end) = s.end.as_mut().filter(|_| s.pipe_ready) else {
            return;
        };
        match end.write_item(item) {
            Ok(()) => {
                end.flush();
                self.moved_in += 1;
                self.route_session(node);
            }
            Err(PipeItem::Message(m)) => s.held = Some(m),
            // Only messages are refused at HWM.
            Err(_) => {}
        }
    }

    /// Delivers the commands the session's end of its pipe produced to the socket's end.
    fn route_session(&mut self, node: NodeId) {
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let (Some(p), Some(end)) = (s.pipe, s.end.as_mut()) else {
            return;
        };
        while let Some(cmd) = end.poll_command() {
            #[cfg(feature = "sim")]
            if self.config.sim_command_fault.loses(cmd) {
                continue;
            }
            self.socket.handle_pipe_command(p, cmd);
        }
    }

    /// Delivers the commands the socket's ends of pipes produced to the sessions' ends; true
    /// if there were any.
    fn route_socket(&mut self) -> bool {
        let mut any = false;
        while let Some((p, cmd)) = self.socket.poll_pipe_command() {
            any = true;
            #[cfg(feature = "sim")]
            if self.config.sim_command_fault.loses(cmd) {
                continue;
            }
            let Some(&node) = self.pipes.get(&p) else {
                continue;
            };
            let Some(s) = self.sessions.get_mut(&node) else {
                continue;
            };
            if s.inproc && s.end.is_none() {
                // The far end is the inproc peer's pattern.
                if let Some(c) = s.conn {
                    self.inproc_out.push_back((c, cmd));
                }
                continue;
            }
            let Some(end) = s.end.as_mut().filter(|_| s.pipe == Some(p)) else {
                continue;
            };
            // Items to transmit (Read) or room for a held message (Write): the pump refills
            // or pushes again.
            if end.handle_command(cmd) != Activation::None {
                self.dirty.insert(node);
            }
            // A report may have just unblocked nothing, but the session's own end may answer.
            self.route_session(node);
        }
        any
    }

    /// The peer is known: the session's pipe may carry messages. `given` is an inproc peer's
    /// end of a pipe, attached in place of one of our own.
    fn on_handshake(&mut self, node: NodeId, peer: PeerInfo, given: Option<PipeEnd>, now: Instant) {
        let kind = self.socket.socket_type();
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        s.handshaken = true;
        let name = s.endpoint.clone();
        let mut pp = PipePeer::from_handshake(kind, &peer);
        pp.connect_routing_id = s.connect_routing_id.clone();
        let attached = match (s.pipe, given) {
            (_, Some(end)) => {
                let p = PipeId(self.next_id + 1);
                self.next_id += 1;
                let r = self.socket.attach_peer_end(p, end, pp);
                if r.is_ok() {
                    s.pipe = Some(p);
                    self.pipes.insert(p, node);
                }
                r
            }
            (Some(p), None) => self.socket.peer_ready(p, pp),
            (None, None) => {
                let p = PipeId(self.next_id + 1);
                self.next_id += 1;
                match self.socket.attach_session_pipe(p, pp) {
                    Ok(end) => {
                        s.pipe = Some(p);
                        s.end = Some(end);
                        self.pipes.insert(p, node);
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let inproc = self.sessions.get(&node).is_some_and(|s| s.inproc);
        if !inproc {
            self.event(MonitorEventKind::HandshakeSucceeded, &name, 0);
        }
        match attached {
            Ok(()) => {
                if let Some(s) = self.sessions.get_mut(&node) {
                    s.pipe_ready = true;
                }
            }
            // The pattern refused this peer (a second PAIR peer, a duplicate routing id):
            // the connection goes, as in libzmq.
            Err(_) => self.drop_connection(node, now),
        }
    }

    fn on_engine_closed(&mut self, node: NodeId, err: ConnectionError, now: Instant) {
        let Some(s) = self.sessions.get(&node) else {
            return;
        };
        let name = s.endpoint.clone();
        let conn = s.conn.map_or(0, |c| c.0);
        if s.inproc {
            // libzmq neither reports nor redials inproc connections: the peer closed for good.
            self.close_connection(node, true);
            self.tree.terminate(node, self.config.linger, now);
            return;
        }
        if !s.handshaken {
            let (kind, value) = err.handshake_failure();
            self.event(kind, &name, value);
        }
        self.event(MonitorEventKind::Disconnected, &name, conn);
        // libzmq: a protocol error or the peer's ERROR ends a connect for good; a lost
        // connection or a timeout is retried.
        let fatal = err.is_fatal();
        self.close_connection(node, self.ends_pipe_on_disconnect(node));
        let Some(s) = self.sessions.get(&node) else {
            return;
        };
        match s.role {
            Role::Accepted => self.tree.terminate(node, self.config.linger, now),
            Role::Connect { .. } if fatal => self.tree.terminate(node, self.config.linger, now),
            Role::Connect { .. } => self.schedule_reconnect(node, now),
        }
    }

    /// Closes the session's connection on our side (the pattern refused the peer) and lets
    /// the session react as to any lost connection.
    fn drop_connection(&mut self, node: NodeId, now: Instant) {
        let Some(s) = self.sessions.get(&node) else {
            return;
        };
        let name = s.endpoint.clone();
        let conn = s.conn.map_or(0, |c| c.0);
        self.event(MonitorEventKind::Disconnected, &name, conn);
        self.close_connection(node, self.ends_pipe_on_disconnect(node));
        match self.sessions.get(&node).map(|s| &s.role) {
            Some(Role::Accepted) => self.tree.terminate(node, self.config.linger, now),
            Some(Role::Connect { .. }) => self.schedule_reconnect(node, now),
            None => {}
        }
    }

    /// Drops the engine and asks the driver to close the stream. With `end_pipe` the pipe
    /// ends too, keeping what was received readable; without it (a connect session without
    /// IMMEDIATE) messages wait in it for the next connection.
    fn close_connection(&mut self, node: NodeId, end_pipe: bool) {
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let mut engine = s.engine.take();
        s.inproc = false;
        if let Some(conn) = s.conn.take() {
            self.conns.remove(&conn);
            self.transmit_ready.remove(&conn);
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
        s.handshaken = false;
        if !end_pipe {
            s.pipe_ready = false;
        } else if let Some(p) = s.pipe.take() {
            s.pipe_ready = false;
            s.held = None;
            s.end = None;
            self.pipes.remove(&p);
            self.socket.terminate_pipe(p);
        }
    }

    /// Only a connect session without IMMEDIATE keeps its queue across connections.
    fn ends_pipe_on_disconnect(&self, node: NodeId) -> bool {
        self.config.immediate
            || !matches!(
                self.sessions.get(&node).map(|s| &s.role),
                Some(Role::Connect { .. })
            )
    }

    fn on_socket_event(&mut self, ev: SocketEvent, now: Instant) {
        match ev {
            // Only pipes the pattern hosts raise these; ours carry their wake-ups as pipe
            // commands (`route_socket`).
            SocketEvent::OutboundReady(_) | SocketEvent::InboundResumed(_) => {}
            SocketEvent::ClosePipe(p) => {
                if let Some(&node) = self.pipes.get(&p) {
                    self.drop_connection(node, now);
                }
            }
        }
    }

    /// Moves queued messages from the session's pipe into its engine, up to a batch; true if
    /// any moved.
    fn refill(&mut self, node: NodeId) -> bool {
        let Some(s) = self.sessions.get_mut(&node) else {
            return false;
        };
        let (Some(end), true) = (s.end.as_mut(), s.pipe_ready) else {
            return false;
        };
        let Some(engine) = s.engine.as_mut().filter(|e| e.is_ready()) else {
            return false;
        };
        let mut moved = false;
        while engine.pending_transmit() < OUT_BATCH {
            let Some(item) = end.read() else {
                break;
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
            if let Some(c) = s.conn {
                self.transmit_ready.insert(c);
            }
            self.route_session(node);
        }
        moved
    }

    /// Puts the session's next deadline (its engine's timer or its redial) in the index, or
    /// takes it out once it has none or is gone.
    fn reschedule(&mut self, node: NodeId) {
        let next = self.sessions.get(&node).and_then(|s| {
            let redial = match &s.role {
                Role::Connect {
                    state: ConnectState::Waiting(t),
                    ..
                } => Some(*t),
                _ => None,
            };
            let engine = s.engine.as_ref().and_then(Engine::poll_timeout);
            engine.into_iter().chain(redial).min()
        });
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

    /// Whether the session still holds messages its linger protects.
    fn has_pending(s: &mut Session) -> bool {
        let queued = s.end.as_mut().is_some_and(PipeEnd::has_unread);
        let unsent = s.engine.as_ref().is_some_and(|e| e.pending_transmit() > 0);
        queued || unsent
    }

    fn check_drained(&mut self, node: NodeId, now: Instant) {
        let Some(s) = self.sessions.get_mut(&node) else {
            return;
        };
        let pending = Self::has_pending(s);
        if s.lingering && !pending {
            s.lingering = false;
            self.tree.drained(node, now);
        } else if !s.lingering {
            self.tree.set_pending(node, pending, now);
        }
    }

    fn on_tree_event(&mut self, ev: TreeEvent, _now: Instant) {
        match ev {
            TreeEvent::Linger(node, _) => {
                if let Some(s) = self.sessions.get_mut(&node) {
                    s.lingering = true;
                }
            }
            TreeEvent::Destroyed(node) => {
                if self.sessions.contains_key(&node) {
                    // Ending the session ends its queue, whatever its role.
                    self.close_connection(node, true);
                    self.sessions.remove(&node);
                } else if let Some(listener) = self.listener_nodes.remove(&node) {
                    self.close_listener(listener);
                    self.listeners.remove(&listener);
                } else if node == self.root {
                    self.event(MonitorEventKind::MonitorStopped, "", 0);
                }
            }
        }
    }
}

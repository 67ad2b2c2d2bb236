//! The socket half (libzmq's `socket_base_t`): the pattern, its options, the socket's ends of
//! its pipes, endpoints, monitor events and the object tree. It runs where the application
//! calls `send` and `recv` and answers them at once; its sessions run elsewhere and speak to
//! it only through pipes and the commands of [`crate::session`].
//!
//! inproc needs no session: a connect's pipe joins the two sockets' patterns directly, and the
//! half keeps the link itself (libzmq's design).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;

use crate::endpoint::{Endpoint, IpcAddr, Port, TcpAddr};
use crate::engine::{EngineConfig, PeerInfo};
use crate::error::OsError;
use crate::message::Message;
use crate::monitor::{MonitorEvent, MonitorEventKind};
use crate::options::DriverOptions;
use crate::pipe::{PipeCommand, PipeEnd, PipeId, Storage};
use crate::session::{Session, SessionConfig, ToSession, ToSocket};
use crate::socket::{
    PipePeer, RecvError, SendError, SendErrorKind, Socket, SocketEvent, UnsupportedSocketType,
};
use crate::socket_type::SocketType;
use crate::time::Instant;
use crate::tree::{Linger, NodeId, Tree, TreeEvent};

use super::{Action, BaseConfig, ConnId, EndpointOpError, InprocPeer, ListenerId};

fn inproc_peer_info(peer: InprocPeer) -> PeerInfo {
    PeerInfo {
        version: crate::codec::ZmtpVersion::V3_1,
        socket_type: Some(peer.socket_type),
        routing_id: peer.routing_id,
        metadata: crate::codec::Metadata::new(),
        properties: None,
    }
}

#[derive(Debug)]
pub(super) struct Listener {
    pub(super) node: NodeId,
    pub(super) endpoint: Endpoint,
    pub(super) bound: Option<String>,
    /// The listening socket is closed (unbind or close): its address is free again, though
    /// the sessions it accepted may still linger.
    pub(super) closed: bool,
}

/// What the socket half knows of one of its sessions or inproc links.
#[derive(Debug)]
struct Link {
    /// The endpoint, as connected or as the listener is bound.
    endpoint: String,
    /// Made by `connect` (so `disconnect` ends it).
    connect: bool,
    pipe: Option<PipeId>,
    connect_routing_id: Option<Bytes>,
    /// An inproc link: its connection, and our end of the pipe until it is handed over.
    inproc: Option<Box<Inproc>>,
}

#[derive(Debug)]
struct Inproc {
    conn: Option<ConnId>,
    end: Option<PipeEnd>,
}

/// The socket half. See the [module docs](crate::base) for what the halves are.
#[derive(Debug)]
pub struct SocketHalf {
    socket: Socket,
    config: BaseConfig,
    tree: Tree,
    root: NodeId,
    listeners: BTreeMap<ListenerId, Listener>,
    listener_nodes: BTreeMap<NodeId, ListenerId>,
    links: BTreeMap<NodeId, Link>,
    /// The connections of inproc links.
    inproc_conns: BTreeMap<ConnId, NodeId>,
    pipes: BTreeMap<PipeId, NodeId>,
    actions: VecDeque<Action>,
    monitor: VecDeque<MonitorEvent>,
    /// MONITOR_STOPPED went out: the socket's last event, nothing follows it.
    monitor_stopped: bool,
    /// Commands for the sessions' mailboxes.
    outbox: VecDeque<(NodeId, ToSession)>,
    /// Pipe commands for inproc peers, whose pipes join two patterns directly.
    inproc_out: VecDeque<(ConnId, PipeCommand)>,
    /// Pipe commands taken from sessions so far (a receive that found nothing looks again if
    /// some arrived meanwhile).
    delivered: u64,
    rng: u64,
    next_id: u64,
    last_endpoint: Option<String>,
    /// The pipes the last `disconnect` let go of.
    disconnected: Vec<PipeId>,
    closing: bool,
    /// Options the driver applies (timeouts, TCP); the core only keeps them.
    pub(super) driver: DriverOptions,
}

impl SocketHalf {
    /// A socket of `kind`. `seed` feeds everything random: reconnect jitter, generated ids.
    /// `storage` is what the pipes to its sessions are made of: [`Storage::Local`] when the
    /// sessions run on the socket's thread, [`Storage::Threads`] when they run elsewhere.
    pub fn new(
        kind: SocketType,
        config: BaseConfig,
        seed: u64,
        storage: Storage,
    ) -> Result<SocketHalf, UnsupportedSocketType> {
        let mut socket = Socket::new(kind, (seed >> 32) as u32 ^ seed as u32)?;
        // Reads are reported every low-water mark, as libzmq does, not one command per
        // message.
        socket.set_session_pipes(storage, false);
        let (mut tree, root) = Tree::new();
        tree.set_linger(root, config.linger);
        Ok(SocketHalf {
            socket,
            config,
            tree,
            root,
            listeners: BTreeMap::new(),
            listener_nodes: BTreeMap::new(),
            links: BTreeMap::new(),
            inproc_conns: BTreeMap::new(),
            pipes: BTreeMap::new(),
            actions: VecDeque::new(),
            monitor: VecDeque::new(),
            monitor_stopped: false,
            outbox: VecDeque::new(),
            inproc_out: VecDeque::new(),
            delivered: 0,
            rng: seed,
            next_id: 1,
            last_endpoint: None,
            disconnected: Vec::new(),
            closing: false,
            driver: DriverOptions::default(),
        })
    }

    /// The pattern socket, for options and state.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The pattern socket, to change it directly; what the change queued for the pipes goes
    /// out with the half's next call.
    pub fn socket_mut(&mut self) -> &mut Socket {
        &mut self.socket
    }

    /// ZMQ_EVENTS: whether a receive would find a message, and whether a send would be
    /// taken.
    pub fn readiness(&mut self) -> (bool, bool) {
        (self.socket.can_recv(), self.socket.can_send())
    }

    /// The lifecycle options.
    pub fn config(&self) -> &BaseConfig {
        &self.config
    }

    /// Changes lifecycle options; they apply to sessions made from now on (LINGER at once).
    pub fn set_config(&mut self, config: BaseConfig) {
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

    /// Whether `close` was called.
    pub fn is_closing(&self) -> bool {
        self.closing
    }

    /// Commands taken from sessions so far: a receive that failed while this moved may find
    /// a message if it looks again.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }

    /// How many inproc links the socket holds.
    pub fn inproc_count(&self) -> usize {
        self.links.values().filter(|l| l.inproc.is_some()).count()
    }

    /// The connections of the inproc links.
    pub fn inproc_conns(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.inproc_conns.keys().copied()
    }

    /// The pipe of inproc link `conn`, once it has one.
    pub fn inproc_pipe(&self, conn: ConnId) -> Option<PipeId> {
        self.links.get(self.inproc_conns.get(&conn)?)?.pipe
    }

    /// The far end of inproc pipe `id` while its link still holds it (a connect waiting for
    /// its binder).
    pub fn inproc_held_end(&self, id: PipeId) -> Option<&PipeEnd> {
        let link = self.links.get(self.pipes.get(&id)?)?;
        link.inproc
            .as_ref()?
            .end
            .as_ref()
            .filter(|_| link.pipe == Some(id))
    }

    /// The inproc connection pipe `id` runs over, if it is an inproc pipe.
    pub fn inproc_conn_of(&self, id: PipeId) -> Option<ConnId> {
        self.links.get(self.pipes.get(&id)?)?.inproc.as_ref()?.conn
    }

    /// The session or inproc link that owns pipe `id`.
    pub fn pipe_owner(&self, id: PipeId) -> Option<NodeId> {
        self.pipes.get(&id).copied()
    }

    fn id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn random(&mut self) -> u64 {
        crate::base::splitmix64(&mut self.rng)
    }

    /// Reports a monitor event, unless the monitor has stopped: a driver's report that
    /// comes after the close finished (a listener whose close failed at the operating
    /// system, the last thing a close does) has no monitor left to go to, as in libzmq.
    /// Nothing is reported about an inproc endpoint: libzmq's inproc bind registers a name
    /// and its connections are bare pipes, with no listener or engine to report anything
    /// (not LISTENING, not CLOSED, not a refused peer's DISCONNECTED).
    fn event(&mut self, kind: MonitorEventKind, endpoint: &str, value: u64) {
        if endpoint.starts_with("inproc://") {
            return;
        }
        self.push_event(MonitorEvent {
            kind,
            endpoint: endpoint.to_owned(),
            value,
        });
    }

    /// The one way into the monitor queue, for the half's own events and its sessions'.
    fn push_event(&mut self, ev: MonitorEvent) {
        if self.monitor_stopped {
            return;
        }
        self.monitor_stopped = ev.kind == MonitorEventKind::MonitorStopped;
        self.monitor.push_back(ev);
    }

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

    fn session_config(&self) -> SessionConfig {
        SessionConfig {
            engine: self.engine_config(),
            reconnect_ivl: self.config.reconnect_ivl,
            reconnect_ivl_max: self.config.reconnect_ivl_max,
            immediate: self.config.immediate,
        }
    }

    /// Hands a new session to the driver: it is the first command of its mailbox. Until it
    /// lingers, the tree counts it as holding messages, so that ending it always asks it.
    fn launch(&mut self, session: Session, link: Link, now: Instant) {
        let node = session.node();
        self.tree.set_pending(node, true, now);
        self.links.insert(node, link);
        self.outbox
            .push_back((node, ToSession::Launch(Box::new(session))));
    }

    // ----- application API ----------------------------------------------------------------

    /// Binds `endpoint`: asks the driver to listen there.
    pub fn bind(&mut self, endpoint: &str, now: Instant) -> Result<ListenerId, EndpointOpError> {
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

    /// Connects to `endpoint`: a session that dials now and redials as needed (inproc: a
    /// link to the socket bound there, now or once it binds). Unless IMMEDIATE, its queue
    /// exists at once, so messages wait for the peer.
    pub fn connect(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        if self.closing {
            return Err(EndpointOpError::Terminated);
        }
        let ep = Endpoint::parse_connect(endpoint)?;
        let node = self
            .tree
            .launch(self.root)
            .ok_or(EndpointOpError::Terminated)?;
        let connect_routing_id = self.socket.take_connect_routing_id();
        let mut queue = None;
        if !self.config.immediate {
            let pipe = PipeId(self.id());
            // A fresh id cannot collide, but the pattern may refuse another pipe (a PAIR whose
            // old pipe still drains): the session then asks for one after its handshake, as
            // libzmq's session does when it has no pipe.
            if let Ok(end) = self
                .socket
                .attach_pending_session_pipe(pipe, connect_routing_id.clone())
            {
                self.pipes.insert(pipe, node);
                queue = Some((pipe, end));
            }
        }
        let mut link = Link {
            endpoint: endpoint.to_owned(),
            connect: true,
            pipe: queue.as_ref().map(|(p, _)| *p),
            connect_routing_id,
            inproc: None,
        };
        match ep {
            Endpoint::Inproc(name) => {
                let conn = ConnId((u64::from(node.0) << 32) | 1);
                // A queue waiting for the binder holds what LINGER protects.
                self.tree.set_pending(node, queue.is_some(), now);
                link.inproc = Some(Box::new(Inproc {
                    conn: Some(conn),
                    end: queue.map(|(_, end)| end),
                }));
                self.links.insert(node, link);
                self.inproc_conns.insert(conn, node);
                self.actions.push_back(Action::InprocConnect { conn, name });
            }
            ep => {
                let seed = self.random();
                let session = Session::connect(
                    node,
                    endpoint.to_owned(),
                    ep,
                    self.session_config(),
                    queue,
                    seed,
                );
                self.launch(session, link, now);
            }
        }
        self.pump(now);
        Ok(())
    }

    /// Ends the connects made to `endpoint` (as written in `connect`).
    pub fn disconnect(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        let nodes: Vec<NodeId> = self
            .links
            .iter()
            .filter(|(n, l)| l.connect && l.endpoint == endpoint && !self.tree.is_terminating(**n))
            .map(|(n, _)| *n)
            .collect();
        if nodes.is_empty() {
            return Err(EndpointOpError::NotFound(endpoint.to_owned()));
        }
        self.disconnected.clear();
        for n in nodes {
            // As libzmq's `term_endpoint`, which terminates the socket's end of the pipe
            // without delay: nothing more is routed to it, and what the application has not
            // read from it is dropped (a later receive never returns a message from an
            // endpoint it disconnected). What was sent before stays in the pipe for the
            // session, which flushes it as LINGER allows.
            if let Some(p) = self.links.get(&n).and_then(|l| l.pipe) {
                self.socket.detach_pipe(p);
                self.disconnected.push(p);
            }
            self.tree.terminate(n, self.config.linger, now);
        }
        self.pump(now);
        Ok(())
    }

    /// The pipes the last [`disconnect`](Self::disconnect) let go of: messages a driver took
    /// ahead from them ([`recv_many_from`](Self::recv_many_from)) are to be dropped.
    pub fn disconnected_pipes(&self) -> &[PipeId] {
        &self.disconnected
    }

    /// Drops from `taken` (messages a driver took ahead with
    /// [`recv_many_from`](Self::recv_many_from)) what a receive would no longer hand up:
    /// those from the pipes the last [`disconnect`](Self::disconnect) let go of, and those
    /// the socket no longer admits (a SUB after SUBSCRIBE, UNSUBSCRIBE or INVERT_MATCHING,
    /// [`SocketOption::changes_filter`](crate::SocketOption::changes_filter)). A driver calls
    /// it after either.
    pub fn drop_undeliverable(&self, taken: &mut VecDeque<(PipeId, Message)>) {
        taken.retain(|(p, m)| !self.disconnected.contains(p) && self.socket.admits(m));
    }

    /// Stops listening on `endpoint` (as bound, or as given to `bind`) and ends the
    /// connections accepted there.
    pub fn unbind(&mut self, endpoint: &str, now: Instant) -> Result<(), EndpointOpError> {
        // As libzmq, a listener answers to the endpoint as bound, or as written when that
        // names one address; never to a wildcard port or path (`tcp://…:*`, `ipc://*`),
        // which names no listener in particular (ENOENT).
        let ephemeral = matches!(
            Endpoint::parse(endpoint),
            Ok(Endpoint::Tcp {
                addr: TcpAddr {
                    port: Port::Ephemeral,
                    ..
                },
                ..
            } | Endpoint::Ipc(IpcAddr::Ephemeral))
        );
        let found: Vec<(ListenerId, NodeId)> = self
            .listeners
            .iter()
            .filter(|(_, l)| {
                !l.closed
                    && (l.bound.as_deref() == Some(endpoint)
                        || (!ephemeral && l.endpoint.to_string() == endpoint))
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
        let r = self.socket.recv();
        self.pump(now);
        r
    }

    /// How many messages a driver's receive may take at once ([`SocketHalf::recv_many_from`]),
    /// given the most it would like, `max`. A message taken ahead counts as read, so its
    /// pipe's writer may send that many more than RCVHWM holds back: the batch stays within
    /// an eighth of RCVHWM, and a small RCVHWM (below 16) is honoured exactly, one message at
    /// a time, as libzmq honours it (its `test_proxy_hwm` counts them). Only PULL, SUB,
    /// DEALER, ROUTER and PAIR take ahead at all: their receive is a plain dequeue, where
    /// the others' moves their state.
    pub fn receive_batch(&self, max: usize) -> usize {
        match self.socket.socket_type() {
            SocketType::Pull
            | SocketType::Sub
            | SocketType::Dealer
            | SocketType::Router
            | SocketType::Pair => match self.socket.options().rcvhwm {
                0 => max,
                hwm => (hwm / 8).clamp(1, max.max(1)),
            },
            _ => 1,
        }
    }

    /// Receives up to `max` messages into `out` (never blocks), each with the pipe it came
    /// from, with one pass over the pipes' commands for the lot. Fails only when not even one
    /// message was there; may take fewer than `max` while more are there (see
    /// [`Socket::recv_many`](crate::Socket::recv_many)), so only a failure means look again
    /// after the next wake-up. A driver that holds messages taken ahead drops those of the pipes a
    /// `disconnect` let go of ([`disconnected_pipes`](Self::disconnected_pipes)), which
    /// libzmq never returns, and those the socket no longer admits
    /// ([`drop_undeliverable`](Self::drop_undeliverable)).
    pub fn recv_many_from(
        &mut self,
        out: &mut VecDeque<(PipeId, Message)>,
        max: usize,
        now: Instant,
    ) -> Result<usize, RecvError> {
        if self.is_closed() {
            return Err(RecvError::Terminated);
        }
        let r = self.socket.recv_many(out, max);
        self.pump(now);
        r
    }

    /// How many sessions and inproc links the socket holds (a session that has ended here
    /// may still be finishing on its thread).
    pub fn link_count(&self) -> usize {
        self.links.len()
    }

    /// Closes the socket: no more sends; queued messages keep flowing for up to LINGER; then
    /// every session and listener ends. Watch [`SocketHalf::is_closed`].
    pub fn close(&mut self, now: Instant) {
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
        if let Some(l) = self.listeners.get_mut(&listener) {
            l.bound = Some(bound.to_owned());
            self.last_endpoint = Some(bound.to_owned());
            self.event(MonitorEventKind::Listening, bound, listener.0);
        }
        self.pump(now);
    }

    /// The bind failed (address in use, say).
    pub fn handle_bind_failed(&mut self, listener: ListenerId, error: OsError, now: Instant) {
        // The listener never existed for the user: no CLOSED follows.
        if let Some(l) = self.listeners.remove(&listener) {
            self.listener_nodes.remove(&l.node);
            let value = error.event_value();
            self.event(MonitorEventKind::BindFailed, &l.endpoint.to_string(), value);
            self.tree
                .terminate(l.node, Linger::For(Duration::ZERO), now);
        }
        self.pump(now);
    }

    /// Accepting a connection on `listener` failed (too many open files, say).
    pub fn handle_accept_failed(&mut self, listener: ListenerId, error: OsError) {
        if let Some(l) = self.listeners.get(&listener) {
            let ep = l.bound.clone().unwrap_or_else(|| l.endpoint.to_string());
            self.event(MonitorEventKind::AcceptFailed, &ep, error.event_value());
        }
    }

    /// Closing a connection or listener failed at the operating system.
    pub fn handle_close_failed(&mut self, endpoint: &str, error: OsError) {
        self.event(MonitorEventKind::CloseFailed, endpoint, error.event_value());
    }

    /// Whether a connection arriving on `listener` would be taken (it exists and neither it
    /// nor the socket is closing).
    pub fn accepts_on(&self, listener: ListenerId) -> bool {
        self.listeners
            .get(&listener)
            .is_some_and(|l| !l.closed && !self.closing && !self.tree.is_terminating(l.node))
    }

    /// A node for a connection accepted on `listener`, with the listener's endpoint; `None`
    /// if the listener is gone or the socket is closing.
    fn accept_node(&mut self, listener: ListenerId) -> Option<(NodeId, String)> {
        if !self.accepts_on(listener) {
            return None;
        }
        let l = self.listeners.get(&listener)?;
        let ep = l.bound.clone().unwrap_or_else(|| l.endpoint.to_string());
        let node = self.tree.launch(l.node)?;
        Some((node, ep))
    }

    /// A connection arrived on `listener`: its session goes to the sessions' mailboxes.
    /// Returns the connection's id, or `None` if the driver should close it at once (the
    /// listener is gone or the socket is closing).
    pub fn handle_accepted(&mut self, listener: ListenerId, now: Instant) -> Option<ConnId> {
        self.handle_accepted_from(listener, String::new(), now)
    }

    /// [`SocketHalf::handle_accepted`] for a peer at `peer_address` (its IP, as libzmq gives
    /// it), which goes to ZAP requests and the `Peer-Address` property.
    pub fn handle_accepted_from(
        &mut self,
        listener: ListenerId,
        peer_address: String,
        now: Instant,
    ) -> Option<ConnId> {
        let (node, ep) = self.accept_node(listener)?;
        let conn = ConnId(u64::from(node.0) << 32);
        let seed = self.random();
        let mut config = self.session_config();
        config.engine.peer_address = peer_address;
        let session = Session::accepted(node, ep.clone(), conn, config, now, seed);
        let link = Link {
            endpoint: ep.clone(),
            connect: false,
            pipe: None,
            connect_routing_id: None,
            inproc: None,
        };
        self.event(MonitorEventKind::Accepted, &ep, conn.0);
        self.launch(session, link, now);
        self.pump(now);
        Some(conn)
    }

    /// A command from session `from`.
    pub fn handle_command(&mut self, from: NodeId, cmd: ToSocket, now: Instant) {
        // Any of them may make a message readable: a pipe command, a handshake (STREAM's
        // connect notice), a pipe's end (XPUB's cancel for a departed subscriber).
        self.delivered += 1;
        match cmd {
            ToSocket::Pipe(p, cmd) => {
                if self.pipes.get(&p) == Some(&from) {
                    self.socket.handle_pipe_command(p, cmd);
                }
            }
            ToSocket::Handshake(peer) => self.on_handshake(from, peer),
            ToSocket::PipeEnded(p) => {
                if self.pipes.get(&p) == Some(&from) {
                    self.end_pipe(from);
                }
            }
            ToSocket::Event(ev) => self.push_event(ev),
            ToSocket::TermReq => self.tree.terminate(from, self.config.linger, now),
            ToSocket::Drained => self.tree.drained(from, now),
        }
        self.pump(now);
    }

    /// A session's handshake succeeded: attach its pipe, or refuse the peer.
    fn on_handshake(&mut self, node: NodeId, peer: PeerInfo) {
        if !self.tree.is_alive(node) {
            // Ended while the handshake travelled: its Destroy is on the way.
            return;
        }
        let kind = self.socket.socket_type();
        let Some(link) = self.links.get(&node) else {
            return;
        };
        let mut pp = PipePeer::from_handshake(kind, &peer);
        pp.connect_routing_id = link.connect_routing_id.clone();
        let answer = match link.pipe {
            // Disconnected before its handshake: the socket let go of its end, and the
            // lingering session only flushes what was queued.
            Some(p) if !self.socket.has_pipe(p) && self.tree.is_terminating(node) => {
                ToSession::Attached { pipe: p, end: None }
            }
            Some(p) => match self.socket.peer_ready(p, pp) {
                Ok(()) => ToSession::Attached { pipe: p, end: None },
                Err(_) => ToSession::Refused,
            },
            None => {
                let p = PipeId(self.id());
                match self.socket.attach_session_pipe(p, pp) {
                    Ok(end) => {
                        self.pipes.insert(p, node);
                        if let Some(link) = self.links.get_mut(&node) {
                            link.pipe = Some(p);
                        }
                        ToSession::Attached {
                            pipe: p,
                            end: Some(end),
                        }
                    }
                    Err(_) => ToSession::Refused,
                }
            }
        };
        self.outbox.push_back((node, answer));
    }

    /// Ends the socket's end of `node`'s pipe, keeping what was received readable.
    fn end_pipe(&mut self, node: NodeId) {
        if let Some(p) = self.links.get_mut(&node).and_then(|l| l.pipe.take()) {
            self.pipes.remove(&p);
            self.socket.terminate_pipe(p);
        }
    }

    /// Fires the object tree's linger deadlines due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.tree.poll_timeout().is_some_and(|t| t <= now) {
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

    /// Whether `conn` is one of our inproc links.
    pub fn is_inproc(&self, conn: ConnId) -> bool {
        self.inproc_conns.contains_key(&conn)
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
        let (node, ep) = self.accept_node(listener)?;
        let conn = ConnId(u64::from(node.0) << 32);
        let p = PipeId(self.id());
        let (peer_snd, peer_rcv) = peer.hwms;
        let mut pp = PipePeer::from_handshake(self.socket.socket_type(), &inproc_peer_info(peer));
        pp.inproc = true;
        self.links.insert(
            node,
            Link {
                endpoint: ep,
                connect: false,
                pipe: None,
                connect_routing_id: None,
                inproc: Some(Box::new(Inproc {
                    conn: Some(conn),
                    end: None,
                })),
            },
        );
        self.inproc_conns.insert(conn, node);
        if self.socket.attach_peer_end(p, end, pp).is_ok() {
            // Our own HWM changes keep the peer's share (the connecter set the sums).
            self.socket.set_pipe_boost(p, peer_snd, peer_rcv);
            self.pipes.insert(p, node);
            if let Some(l) = self.links.get_mut(&node) {
                l.pipe = Some(p);
            }
        } else {
            // The pattern refused the peer (a second PAIR peer): the link goes, as in libzmq.
            self.drop_inproc(node, now);
        }
        self.pump(now);
        Some(conn)
    }

    /// Our inproc connect reached its peer, which told us who it is. Returns the far end of
    /// the link's pipe, for [`SocketHalf::handle_inproc_accepted`] on the peer (`None` if our
    /// pattern refused the peer: the link is closed). Each way, the pipe's HWM becomes the
    /// writer's SNDHWM plus the reader's RCVHWM (unlimited if either is 0).
    pub fn handle_inproc_connected(
        &mut self,
        conn: ConnId,
        peer: InprocPeer,
        now: Instant,
    ) -> Option<PipeEnd> {
        let &node = self.inproc_conns.get(&conn)?;
        let (peer_snd, peer_rcv) = peer.hwms;
        let kind = self.socket.socket_type();
        let link = self.links.get_mut(&node)?;
        if link.pipe.is_some_and(|p| !self.socket.has_pipe(p)) {
            // Disconnected before its binder came: the pattern let go of the pipe, but what
            // was sent before stays for the peer as LINGER allows (libzmq delivers it too).
            // The queue is handed over, nothing more is routed to it, and the link ends.
            let mut end = link.inproc.as_mut().and_then(|i| i.end.take())?;
            let o = self.socket.options();
            end.set_exact(false, crate::socket::hwm_sum(o.sndhwm, peer_rcv));
            self.tree.drained(node, now);
            self.pump(now);
            return Some(end);
        }
        let mut pp = PipePeer::from_handshake(kind, &inproc_peer_info(peer));
        pp.connect_routing_id = link.connect_routing_id.clone();
        pp.inproc = true;
        let attached = match link.pipe {
            Some(p) => self.socket.peer_ready(p, pp).map(|()| p),
            None => {
                self.next_id += 1;
                let p = PipeId(self.next_id);
                self.socket.attach_session_pipe(p, pp).map(|end| {
                    link.pipe = Some(p);
                    if let Some(i) = link.inproc.as_mut() {
                        i.end = Some(end);
                    }
                    self.pipes.insert(p, node);
                    p
                })
            }
        };
        let Ok(p) = attached else {
            self.drop_inproc(node, now);
            self.pump(now);
            return None;
        };
        let mut end = self
            .links
            .get_mut(&node)
            .and_then(|l| l.inproc.as_mut())
            .and_then(|i| i.end.take())?;
        let o = self.socket.options();
        let out = crate::socket::hwm_sum(o.sndhwm, peer_rcv);
        // Two sockets that may live on two threads: reads are reported every low-water mark,
        // as libzmq does (the peer's end also learns its HWMs from the command this sends).
        end.set_exact(false, out);
        self.socket.set_pipe_boost(p, peer_snd, peer_rcv);
        // What was queued is the peer's now: a linger waiting for it is over.
        self.tree.drained(node, now);
        self.pump(now);
        Some(end)
    }

    /// A pipe command from the inproc peer of `conn`.
    pub fn handle_inproc_command(&mut self, conn: ConnId, cmd: PipeCommand, now: Instant) {
        let Some(p) = self
            .inproc_conns
            .get(&conn)
            .and_then(|n| self.links.get(n))
            .and_then(|l| l.pipe)
        else {
            return;
        };
        self.socket.handle_pipe_command(p, cmd);
        self.pump(now);
    }

    /// The inproc peer of `conn` went away: the link ends (libzmq neither reports nor
    /// redials inproc connections).
    pub fn handle_inproc_closed(&mut self, conn: ConnId, now: Instant) {
        if let Some(&node) = self.inproc_conns.get(&conn) {
            self.close_inproc(node);
            self.tree.terminate(node, self.config.linger, now);
            // What was queued for the peer can never reach it now: a linger waiting for it
            // (a connect whose binder never came, say) is over.
            self.tree.drained(node, now);
        }
        self.pump(now);
    }

    /// Ends an inproc link on our side: the driver tells the peer, the pipe ends.
    fn close_inproc(&mut self, node: NodeId) {
        let Some(link) = self.links.get_mut(&node) else {
            return;
        };
        if let Some(i) = link.inproc.as_mut() {
            i.end = None;
        }
        if let Some(conn) = link.inproc.as_mut().and_then(|i| i.conn.take()) {
            self.inproc_conns.remove(&conn);
            self.actions.push_back(Action::Close {
                conn,
                last_bytes: Bytes::new(),
            });
        }
        self.end_pipe(node);
    }

    /// The pattern refused or dropped an inproc peer.
    fn drop_inproc(&mut self, node: NodeId, now: Instant) {
        if !self.links.contains_key(&node) {
            return;
        }
        // No event: libzmq's pattern terminates the pipe and says nothing (see `event`).
        self.close_inproc(node);
        self.tree.terminate(node, self.config.linger, now);
    }

    // ----- outputs ------------------------------------------------------------------------

    /// Whether any of the `poll_*` queues (actions, session commands, inproc commands,
    /// monitor events) holds something: a driver's check that lets it skip draining them
    /// after an operation that produced nothing, such as most sends and receives.
    pub fn has_output(&self) -> bool {
        !(self.actions.is_empty()
            && self.outbox.is_empty()
            && self.inproc_out.is_empty()
            && self.monitor.is_empty())
    }

    /// The next thing the driver must do (listen, close a listener, inproc bind/connect,
    /// close an inproc link).
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// The next command for a session's mailbox.
    pub fn poll_command(&mut self) -> Option<(NodeId, ToSession)> {
        self.outbox.pop_front()
    }

    /// The next pipe command for the inproc peer of a connection.
    pub fn poll_inproc_command(&mut self) -> Option<(ConnId, PipeCommand)> {
        self.inproc_out.pop_front()
    }

    /// The next monitor event.
    pub fn poll_monitor(&mut self) -> Option<MonitorEvent> {
        self.monitor.pop_front()
    }

    /// When [`SocketHalf::handle_timeout`] should next be called (a linger deadline).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.tree.poll_timeout()
    }

    // ----- internals ----------------------------------------------------------------------

    /// Moves what the pattern and the tree produced to where it goes, until nothing moves.
    pub(super) fn pump(&mut self, now: Instant) {
        loop {
            let mut progress = false;
            while let Some(ev) = self.socket.poll_event() {
                progress = true;
                self.on_socket_event(ev, now);
            }
            while let Some((p, cmd)) = self.socket.poll_pipe_command() {
                progress = true;
                let Some(&node) = self.pipes.get(&p) else {
                    continue;
                };
                match self.links.get(&node).map(|l| &l.inproc) {
                    Some(Some(i)) => {
                        if let Some(c) = i.conn {
                            self.inproc_out.push_back((c, cmd));
                        }
                    }
                    Some(None) => self.outbox.push_back((node, ToSession::Pipe(cmd))),
                    None => {}
                }
            }
            while let Some(env) = self.tree.poll_command() {
                progress = true;
                // The tree is the socket's own: its commands are delivered here, in order.
                // The handshake never addresses a destroyed object (proven in tree::tests).
                let _ = self.tree.deliver(env, now);
            }
            while let Some(ev) = self.tree.poll_event() {
                progress = true;
                self.on_tree_event(ev, now);
            }
            if !progress {
                return;
            }
        }
    }

    fn on_socket_event(&mut self, ev: SocketEvent, now: Instant) {
        match ev {
            // Only pipes the pattern hosts raise these; ours carry their wake-ups as pipe
            // commands.
            SocketEvent::OutboundReady(_) | SocketEvent::InboundResumed(_) => {}
            SocketEvent::ClosePipe(p) => {
                let Some(&node) = self.pipes.get(&p) else {
                    return;
                };
                if self.links.get(&node).is_some_and(|l| l.inproc.is_some()) {
                    self.drop_inproc(node, now);
                } else {
                    self.outbox.push_back((node, ToSession::Drop));
                }
            }
        }
    }

    fn on_tree_event(&mut self, ev: TreeEvent, now: Instant) {
        match ev {
            TreeEvent::Linger(node, _) => {
                let Some(link) = self.links.get_mut(&node) else {
                    return;
                };
                match link.inproc.as_mut() {
                    None => self.outbox.push_back((node, ToSession::Linger)),
                    // An inproc connect still waiting for its binder lingers while its queue
                    // holds anything; the hand-over ends the linger.
                    Some(i) => {
                        if !i.end.as_mut().is_some_and(PipeEnd::has_unread) {
                            self.tree.drained(node, now);
                        }
                    }
                }
            }
            TreeEvent::Destroyed(node) => {
                if let Some(link) = self.links.get(&node) {
                    let inproc = link.inproc.is_some();
                    if inproc {
                        self.close_inproc(node);
                    } else {
                        // Ending the session ends its queue, whatever its role.
                        self.end_pipe(node);
                        self.outbox.push_back((node, ToSession::Destroy));
                    }
                    self.links.remove(&node);
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

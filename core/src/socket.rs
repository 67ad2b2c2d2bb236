//! The socket: one pattern, its options and its pipes, driven without I/O.
//!
//! Two parties talk to a [`Socket`]:
//!
//! - the **application** calls [`send`](Socket::send) and [`recv`](Socket::recv), which never
//!   block: they return `WouldBlock` and the shell waits;
//! - the **driver** (one session per peer connection) calls
//!   [`attach_pipe`](Socket::attach_pipe) once the peer's handshake is done (or
//!   [`attach_pending_pipe`](Socket::attach_pending_pipe) at connect time, then
//!   [`peer_ready`](Socket::peer_ready) after each handshake),
//!   [`handle_inbound`](Socket::handle_inbound) for each message or subscription the engine
//!   decoded, [`poll_outbound`](Socket::poll_outbound) to take what the engine must send, and
//!   [`detach_pipe`](Socket::detach_pipe) when the connection is gone.
//!
//! After any call, the driver drains [`poll_event`](Socket::poll_event): `OutboundReady(p)`
//! means pipe `p` has something for `poll_outbound` (drain it until `None`: the event is owed
//! only to a session that found the pipe empty, as libzmq's ypipe wakes only a sleeping reader);
//! `InboundResumed(p)` means a session refused at RCVHWM may push again; `ClosePipe(p)` asks the
//! driver to close that connection and then detach it. Events may name a pipe that has since
//! been detached; ignore those.
//!
//! Those calls host the session's end of each pipe inside the socket. A driver whose sessions
//! run elsewhere (another object, another thread) takes that end instead, with
//! [`attach_session_pipe`](Socket::attach_session_pipe) or
//! [`attach_pending_session_pipe`](Socket::attach_pending_session_pipe), reads and writes it
//! itself ([`crate::pipe::PipeEnd`]), and carries the pipe commands between the two ends:
//! [`poll_pipe_command`](Socket::poll_pipe_command) out of the socket,
//! [`handle_pipe_command`](Socket::handle_pipe_command) into it. inproc joins two sockets'
//! patterns with one pipe ([`attach_peer_end`](Socket::attach_peer_end)).
//!
//! When a connection ends, [`terminate_pipe`](Socket::terminate_pipe) keeps what was already
//! received readable (libzmq delivers it) and detaches the pipe once drained;
//! [`detach_pipe`](Socket::detach_pipe) drops everything at once. Pipe ids are never reused.
//!
//! ```
//! use oxmq_core::{Message, PipePeer, PipeId, PipeItem, Socket, SocketEvent, SocketType};
//!
//! // Two sockets, one connection between them: a session on each side would move items
//! // between its pipe and its engine; here they are handed across directly.
//! let mut push = Socket::new(SocketType::Push, 0).unwrap();
//! let mut pull = Socket::new(SocketType::Pull, 0).unwrap();
//! let (p, q) = (PipeId(1), PipeId(1));
//! push.attach_pipe(p, PipePeer::new(SocketType::Pull)).unwrap();
//! pull.attach_pipe(q, PipePeer::new(SocketType::Push)).unwrap();
//!
//! push.send(Message::from("hello")).unwrap();
//! assert_eq!(push.poll_event(), Some(SocketEvent::OutboundReady(p)));
//! while let Some(item) = push.poll_outbound(p) {
//!     // An engine would encode `item` as ZMTP frames here.
//!     pull.handle_inbound(q, item).unwrap();
//! }
//! assert_eq!(pull.recv(), Ok(Message::from("hello")));
//! # let _ = PipeItem::Subscribe(Default::default());
//! ```

use std::collections::VecDeque;

use bytes::Bytes;

use crate::message::Message;
use crate::options::{OptionError, SocketOption, SocketOptionName};
use crate::pattern::options::{valid_routing_id, SocketOptions};
use crate::pattern::{self, Core, PipeEntry};
use crate::pipe::{pipe_pair, Activation, PipeCommand, PipeEnd, PipeId, PipeItem, Storage};
use crate::socket_type::SocketType;

/// What the socket knows about the peer behind a pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PipePeer {
    /// The peer's socket type, from its READY `Socket-Type`.
    pub socket_type: SocketType,
    /// The peer's `Identity` property, if it sent a non-empty one.
    pub routing_id: Option<Bytes>,
    /// The id this socket chose for the connection (CONNECT_ROUTING_ID at connect time).
    pub connect_routing_id: Option<Bytes>,
    /// A socket of this process over inproc: libzmq does not check socket types there (a
    /// PAIR may feed a PULL), and neither does the socket.
    pub inproc: bool,
    /// What the peer's messages carry as properties, where the pattern makes messages of its
    /// own about the peer (a STREAM socket's connect and disconnect notices: `Peer-Address`;
    /// the subscription changes an XPUB hands up, as libzmq's carry their message's
    /// metadata: `User-Id`, ZAP metadata); `None` for every other socket type.
    pub properties: Option<std::sync::Arc<crate::codec::Metadata>>,
}

impl PipePeer {
    /// What the socket needs from an engine's handshake. A peer that named no socket type
    /// (libzmq does not insist on one) is taken to be the first type ours may talk to.
    pub fn from_handshake(ours: SocketType, peer: &crate::engine::PeerInfo) -> PipePeer {
        let socket_type = peer.socket_type.unwrap_or_else(|| {
            SocketType::ALL
                .into_iter()
                .find(|t| ours.is_compatible_with(*t))
                .unwrap_or(ours)
        });
        PipePeer {
            socket_type,
            routing_id: peer.routing_id.clone(),
            connect_routing_id: None,
            inproc: false,
            // Only STREAM and XPUB make messages of their own about a peer: no other socket
            // keeps the connection's properties (shared with its engine) for its life.
            properties: matches!(ours, SocketType::Stream | SocketType::XPub)
                .then(|| peer.properties.clone())
                .flatten(),
        }
    }

    /// A peer of this type with no routing id.
    pub fn new(socket_type: SocketType) -> Self {
        PipePeer {
            socket_type,
            routing_id: None,
            connect_routing_id: None,
            inproc: false,
            properties: None,
        }
    }

    /// Sets the peer's own `Identity`; an empty one counts as none.
    pub fn with_routing_id(mut self, id: impl Into<Bytes>) -> Self {
        let id = id.into();
        self.routing_id = (!id.is_empty()).then_some(id);
        self
    }

    /// Sets the id this side chose for the connection.
    pub fn with_connect_routing_id(mut self, id: impl Into<Bytes>) -> Self {
        self.connect_routing_id = Some(id.into());
        self
    }
}

/// Where the ends of a pipe being attached come from.
enum Ends {
    /// A new pipe whose session end the socket keeps ([`Socket::handle_inbound`]).
    Hosted,
    /// A new pipe whose session end goes to the caller.
    Remote,
    /// The far end of a pipe another socket made.
    Given(PipeEnd),
}

/// What a pipe holds each way (see [`Socket::pipe`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeStats {
    outbound: usize,
    outbound_items: usize,
    inbound: usize,
    inbound_has_room: bool,
}

impl PipeStats {
    /// What a pipe holds, from its socket's end and its session's end.
    pub fn of(socket: &PipeEnd, session: &PipeEnd) -> PipeStats {
        PipeStats {
            outbound: (socket.msgs_kept() - session.msgs_read()) as usize,
            outbound_items: (socket.items_kept() - session.items_read()) as usize,
            inbound: (session.msgs_kept() - socket.msgs_read()) as usize,
            inbound_has_room: session.has_room_for_message(),
        }
    }

    /// Messages waiting to be transmitted.
    pub fn outbound_len(&self) -> usize {
        self.outbound
    }

    /// Whether nothing (no message, no subscription change) waits to be transmitted.
    pub fn outbound_is_empty(&self) -> bool {
        self.outbound_items == 0
    }

    /// Messages waiting to be read by the application.
    pub fn inbound_len(&self) -> usize {
        self.inbound
    }

    /// Whether the session may push a message now (RCVHWM not reached).
    pub fn inbound_has_room(&self) -> bool {
        self.inbound_has_room
    }
}

/// What the driver must act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketEvent {
    /// The pipe has items to transmit: call [`Socket::poll_outbound`] until it returns `None`.
    OutboundReady(PipeId),
    /// The pipe refused an inbound message at RCVHWM and now has room again.
    InboundResumed(PipeId),
    /// The socket wants this connection closed (STREAM empty send, ROUTER_HANDOVER); the
    /// driver closes it and calls [`Socket::detach_pipe`].
    ClosePipe(PipeId),
}

/// Why a send failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendErrorKind {
    /// No peer can take the message now (`EAGAIN`).
    WouldBlock,
    /// ROUTER_MANDATORY / STREAM: no peer has that routing id (`EHOSTUNREACH`).
    HostUnreachable,
    /// The pattern's state forbids sending now, e.g. REQ awaiting a reply (`EFSM`).
    BadState,
    /// This socket type never sends (`ENOTSUP`).
    NotSupported,
    /// The socket is closed or its context terminated (`ETERM`).
    Terminated,
}

/// A failed send; the message comes back untouched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// Why it failed.
    pub kind: SendErrorKind,
    /// The message the application tried to send.
    pub message: Message,
}

impl SendError {
    /// A send error of `kind` carrying `message` back.
    pub fn new(kind: SendErrorKind, message: Message) -> Self {
        SendError { kind, message }
    }
    pub(crate) fn would_block(message: Message) -> Self {
        Self::new(SendErrorKind::WouldBlock, message)
    }
    pub(crate) fn bad_state(message: Message) -> Self {
        Self::new(SendErrorKind::BadState, message)
    }
    pub(crate) fn not_supported(message: Message) -> Self {
        Self::new(SendErrorKind::NotSupported, message)
    }
    pub(crate) fn host_unreachable(message: Message) -> Self {
        Self::new(SendErrorKind::HostUnreachable, message)
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "send failed: {:?}", self.kind)
    }
}

impl std::error::Error for SendError {}

/// Why a receive failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecvError {
    /// Nothing to receive now (`EAGAIN`).
    WouldBlock,
    /// The pattern's state forbids receiving now, e.g. REP owing a reply (`EFSM`).
    BadState,
    /// This socket type never receives (`ENOTSUP`).
    NotSupported,
    /// The socket is closed or its context terminated (`ETERM`).
    Terminated,
}

impl std::fmt::Display for RecvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "receive failed: {self:?}")
    }
}

impl std::error::Error for RecvError {}

/// Why a pipe could not be attached; the driver should close that connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttachError {
    /// A pipe with this id is already attached.
    DuplicatePipe,
    /// The peer's socket type may not talk to this one.
    IncompatiblePeer(SocketType),
    /// ROUTER without ROUTER_HANDOVER: another peer already holds this routing id.
    DuplicateRoutingId(Bytes),
    /// PAIR already has its one peer.
    AlreadyPaired,
    /// No such pipe is attached.
    UnknownPipe,
}

impl std::fmt::Display for AttachError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachError::DuplicatePipe => f.write_str("pipe id already attached"),
            AttachError::IncompatiblePeer(t) => write!(f, "incompatible peer socket type {t}"),
            AttachError::DuplicateRoutingId(_) => f.write_str("routing id already in use"),
            AttachError::AlreadyPaired => f.write_str("PAIR socket already has a peer"),
            AttachError::UnknownPipe => f.write_str("no such pipe"),
        }
    }
}

impl std::error::Error for AttachError {}

/// Why the socket refused an item from a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundError {
    /// The pipe is at RCVHWM: hold this message, stop reading from the engine, and push it
    /// again after [`SocketEvent::InboundResumed`].
    Full(Message),
    /// No such pipe is attached.
    UnknownPipe,
}

/// This socket type is not implemented (the draft types).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnsupportedSocketType(pub SocketType);

impl std::fmt::Display for UnsupportedSocketType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} sockets are not supported", self.0)
    }
}

impl std::error::Error for UnsupportedSocketType {}

/// Whether `name`, if it is one of the options every pattern keeps, applies to `kind` (the
/// pattern-specific ones are left to the pattern).
fn shared_option_applies(kind: SocketType, name: SocketOptionName) -> bool {
    use SocketType::*;
    match name {
        SocketOptionName::Conflate => matches!(kind, Pub | Sub | Push | Pull | Dealer),
        SocketOptionName::ProbeRouter => matches!(kind, Router | Dealer | Req),
        SocketOptionName::InvertMatching => matches!(kind, Pub | XPub | Sub),
        _ => true,
    }
}

/// A ZeroMQ socket of one stable type, as a state machine over its pipes.
#[derive(Debug)]
pub struct Socket {
    kind: SocketType,
    core: Core,
    pattern: Box<dyn pattern::Pattern>,
    /// How pipes for sessions the socket does not host are made.
    session_pipes: (Storage, bool),
}

impl Socket {
    /// A socket of `kind`. `seed` starts the counters a socket draws ids from (ROUTER's
    /// generated routing ids, REQ_CORRELATE's request ids); pass a random value.
    pub fn new(kind: SocketType, seed: u32) -> Result<Socket, UnsupportedSocketType> {
        let pattern = pattern::for_type(kind, seed).ok_or(UnsupportedSocketType(kind))?;
        Ok(Socket {
            kind,
            core: Core::new(),
            pattern,
            session_pipes: (Storage::Threads, false),
        })
    }

    /// This socket's type.
    pub fn socket_type(&self) -> SocketType {
        self.kind
    }

    /// The shared options (HWMs, routing id…).
    pub fn options(&self) -> &SocketOptions {
        &self.core.options
    }

    /// Sets one of the pattern's options (libzmq's `zmq_setsockopt`). The others — linger,
    /// reconnection, heartbeats, timeouts, TCP — are [`SocketBase`](crate::base::SocketBase)'s,
    /// and refused here as not applicable.
    pub fn set_option(&mut self, opt: SocketOption) -> Result<(), OptionError> {
        let kind = self.kind;
        let name = opt.name();
        if name.is_read_only() {
            return Err(OptionError::ReadOnly(name));
        }
        let not_applicable = Err(OptionError::NotApplicable(kind));
        if !shared_option_applies(kind, name) {
            return not_applicable;
        }
        let o = &mut self.core.options;
        match &opt {
            SocketOption::SndHwm(v) => {
                o.sndhwm = *v;
                self.apply_hwms();
            }
            SocketOption::RcvHwm(v) => {
                o.rcvhwm = *v;
                self.apply_hwms();
            }
            SocketOption::Conflate(v) => o.conflate = *v,
            SocketOption::RoutingId(id) => {
                if !valid_routing_id(id) {
                    return Err(OptionError::InvalidValue);
                }
                o.routing_id = Some(id.clone());
            }
            SocketOption::ConnectRoutingId(id) => {
                if !valid_routing_id(id) {
                    return Err(OptionError::InvalidValue);
                }
                o.connect_routing_id = Some(id.clone());
            }
            SocketOption::ProbeRouter(v) => o.probe_router = *v,
            SocketOption::InvertMatching(v) => o.invert_matching = *v,
            _ => {
                if !self.pattern.set_option(&mut self.core, &opt)? {
                    return not_applicable;
                }
            }
        }
        Ok(())
    }

    /// Reads one of the pattern's options back (libzmq's `zmq_getsockopt`), and ZMQ_TYPE. The
    /// others are [`SocketBase`](crate::base::SocketBase)'s, and not applicable here.
    pub fn get_option(&self, name: SocketOptionName) -> Result<SocketOption, OptionError> {
        use SocketOption as O;
        use SocketOptionName as N;
        let kind = self.kind;
        if name.is_write_only() {
            return Err(OptionError::WriteOnly(name));
        }
        if !shared_option_applies(kind, name) {
            return Err(OptionError::NotApplicable(kind));
        }
        let o = &self.core.options;
        Ok(match name {
            N::Type => O::Type(kind),
            N::SndHwm => O::SndHwm(o.sndhwm),
            N::RcvHwm => O::RcvHwm(o.rcvhwm),
            N::Conflate => O::Conflate(o.conflate),
            N::RoutingId => O::RoutingId(o.routing_id.clone().unwrap_or_default()),
            N::ConnectRoutingId => {
                O::ConnectRoutingId(o.connect_routing_id.clone().unwrap_or_default())
            }
            N::ProbeRouter => O::ProbeRouter(o.probe_router),
            N::InvertMatching => O::InvertMatching(o.invert_matching),
            n => self
                .pattern
                .get_option(n)
                .ok_or(OptionError::NotApplicable(kind))?,
        })
    }

    /// Whether a message whose first frame is `first` may be started now: the checks libzmq
    /// makes when a message's first frame is sent, for a driver that takes a message frame by
    /// frame and sends it whole with the last. `NotSupported` (PULL, SUB), `BadState` (REQ
    /// awaiting a reply, REP owing none), `HostUnreachable` (ROUTER_MANDATORY or STREAM and
    /// an unknown routing id) fail the frame; `WouldBlock` means wait, as a whole-message
    /// send would. Changes nothing.
    pub fn check_send_start(&mut self, first: &[u8]) -> Result<(), SendErrorKind> {
        self.pattern.check_send_start(&mut self.core, first)
    }

    /// Applies the current HWMs to every attached pipe (and, through a command, to the
    /// session's end), reactivating writers a raise released.
    fn apply_hwms(&mut self) {
        let (snd, rcv) = (self.core.options.sndhwm, self.core.options.rcvhwm);
        let ids: Vec<PipeId> = self.core.pipes.keys().copied().collect();
        for id in ids {
            let Some(entry) = self.core.pipes.get_mut(&id) else {
                continue;
            };
            let writable = match entry.boost {
                // inproc: this end changes here, and the peer socket, told our own HWMs,
                // works out its end from them and its own (each Hwm carrying both
                // directions could cross the peer's and leave a reader's report step above
                // its writer's HWM).
                Some((out, inb)) => {
                    let w = entry
                        .pipe
                        .set_hwms_here(hwm_sum(snd, out), hwm_sum(rcv, inb));
                    self.core
                        .outbox
                        .push_back((id, PipeCommand::PeerHwms { snd, rcv }));
                    w
                }
                None => entry.pipe.set_hwms(snd, rcv),
            } == Activation::Write;
            let closing = entry.closing;
            self.core.route(id);
            if writable && !closing {
                self.pattern.write_activated(&mut self.core, id);
            }
        }
    }

    /// A command from the session's end of pipe `id` (a session the socket does not host).
    pub fn handle_pipe_command(&mut self, id: PipeId, cmd: PipeCommand) {
        self.take_command(id, cmd);
        self.detach_drained();
    }

    /// Applies a command from the session's end to the socket's end of pipe `id`, and tells
    /// the pattern what it means.
    fn take_command(&mut self, id: PipeId, cmd: PipeCommand) {
        let (snd, rcv) = (self.core.options.sndhwm, self.core.options.rcvhwm);
        let Some(entry) = self.core.pipes.get_mut(&id) else {
            return;
        };
        let activation = match cmd {
            PipeCommand::PeerHwms {
                snd: peer_snd,
                rcv: peer_rcv,
            } => {
                entry.boost = Some((peer_rcv, peer_snd));
                entry
                    .pipe
                    .set_hwms_here(hwm_sum(snd, peer_rcv), hwm_sum(peer_snd, rcv))
            }
            cmd => entry.pipe.handle_command(cmd),
        };
        let closing = entry.closing;
        self.core.route(id);
        match activation {
            Activation::Read => self.pattern.read_activated(&mut self.core, id),
            Activation::Write if !closing => self.pattern.write_activated(&mut self.core, id),
            _ => {}
        }
    }

    /// The next command for the session's end of a pipe the socket does not host.
    pub fn poll_pipe_command(&mut self) -> Option<(PipeId, PipeCommand)> {
        self.core.outbox.pop_front()
    }

    /// Delivers what the hosted session end of pipe `id` produced to the socket's end.
    fn deliver_from_local(&mut self, id: PipeId) {
        while let Some(cmd) = self
            .core
            .pipes
            .get_mut(&id)
            .and_then(|e| e.local.as_mut())
            .and_then(PipeEnd::poll_command)
        {
            self.take_command(id, cmd);
        }
        self.detach_drained();
    }

    /// Takes the CONNECT_ROUTING_ID set for the next connection; the driver passes it back in
    /// [`PipePeer::connect_routing_id`] when that connection's pipe is attached.
    pub fn take_connect_routing_id(&mut self) -> Option<Bytes> {
        self.core.options.connect_routing_id.take()
    }

    /// Adds a pipe to a peer whose handshake is complete. On error nothing is attached.
    pub fn attach_pipe(&mut self, id: PipeId, peer: PipePeer) -> Result<(), AttachError> {
        self.check_peer(&peer)?;
        let cid = peer.connect_routing_id.clone();
        self.attach(id, Some(peer), cid, Ends::Hosted).map(drop)
    }

    /// Adds a pipe for an outgoing connection before its handshake completes, so messages
    /// queue on it meanwhile (libzmq without IMMEDIATE; RFC 28–31 "SHALL create a queue when
    /// initiating an outgoing connection"). Call [`peer_ready`](Self::peer_ready) after each
    /// handshake on it.
    pub fn attach_pending_pipe(
        &mut self,
        id: PipeId,
        connect_routing_id: Option<Bytes>,
    ) -> Result<(), AttachError> {
        self.attach(id, None, connect_routing_id, Ends::Hosted)
            .map(drop)
    }

    /// The handshake on a pipe from [`attach_pending_pipe`](Self::attach_pending_pipe) completed
    /// (again, after a reconnect). On error the pipe stays; the driver closes the connection.
    pub fn peer_ready(&mut self, id: PipeId, peer: PipePeer) -> Result<(), AttachError> {
        self.check_peer(&peer)?;
        let Some(entry) = self.core.pipes.get_mut(&id).filter(|e| !e.closing) else {
            return Err(AttachError::UnknownPipe);
        };
        let reconnected = entry.peer.replace(peer).is_some();
        self.pattern.peer_ready(&mut self.core, id)?;
        if reconnected {
            self.pattern.hiccuped(&mut self.core, id);
        }
        Ok(())
    }

    fn check_peer(&self, peer: &PipePeer) -> Result<(), AttachError> {
        if self.kind != SocketType::Stream
            && !peer.inproc
            && !self.kind.is_compatible_with(peer.socket_type)
        {
            return Err(AttachError::IncompatiblePeer(peer.socket_type));
        }
        Ok(())
    }

    fn attach(
        &mut self,
        id: PipeId,
        peer: Option<PipePeer>,
        connect_routing_id: Option<Bytes>,
        ends: Ends,
    ) -> Result<Option<PipeEnd>, AttachError> {
        if self.core.pipes.contains_key(&id) {
            return Err(AttachError::DuplicatePipe);
        }
        let (pipe, local, remote) = match ends {
            Ends::Given(end) => (end, None, None),
            Ends::Hosted | Ends::Remote => {
                let o = &self.core.options;
                let hosted = matches!(ends, Ends::Hosted);
                let (storage, exact) = if hosted {
                    (Storage::Local, true)
                } else {
                    self.session_pipes
                };
                let (mut pipe, mut session) = pipe_pair(o.sndhwm, o.rcvhwm, o.conflate, storage);
                if exact {
                    // One owner drives both ends: exact credits keep both HWMs exact.
                    pipe.set_exact(true, o.rcvhwm);
                    session.set_exact(true, o.sndhwm);
                }
                if hosted {
                    (pipe, Some(session), None)
                } else {
                    (pipe, None, Some(session))
                }
            }
        };
        let entry = PipeEntry {
            pipe,
            local,
            peer,
            connect_routing_id,
            closing: false,
            boost: None,
        };
        self.core.pipes.insert(id, entry);
        if let Err(e) = self.pattern.attach(&mut self.core, id) {
            self.core.pipes.remove(&id);
            self.core.outbox.retain(|(p, _)| *p != id);
            return Err(e);
        }
        if self.core.options.probe_router {
            // libzmq: the probe is best effort, a full new pipe cannot happen.
            let _ = self.core.write(id, Message::single(Bytes::new()));
        }
        // A given end may hold messages written before it reached us, whose wake-up went
        // elsewhere: look once.
        if self
            .core
            .pipes
            .get_mut(&id)
            .is_some_and(|e| e.local.is_none() && e.pipe.check_read())
        {
            self.pattern.read_activated(&mut self.core, id);
        }
        Ok(remote)
    }

    /// Attaches `end`, the far end of a pipe that another socket attached as a session pipe,
    /// as pipe `id` to that socket (inproc: libzmq joins two sockets with one pipe and no
    /// session). Commands between the two ends then travel through each socket's
    /// [`poll_pipe_command`](Self::poll_pipe_command) to the other's
    /// [`handle_pipe_command`](Self::handle_pipe_command).
    pub fn attach_peer_end(
        &mut self,
        id: PipeId,
        end: PipeEnd,
        peer: PipePeer,
    ) -> Result<(), AttachError> {
        self.check_peer(&peer)?;
        let cid = peer.connect_routing_id.clone();
        self.attach(id, Some(peer), cid, Ends::Given(end)).map(drop)
    }

    /// Makes pipe `id` an inproc pipe to a peer with SNDHWM `peer_snd` and RCVHWM
    /// `peer_rcv`: each way its HWM is the writer's SNDHWM plus the reader's RCVHWM
    /// (unlimited if either is 0), now and after every later change of ours, and reads are
    /// reported every low-water mark.
    pub fn set_pipe_boost(&mut self, id: PipeId, peer_snd: usize, peer_rcv: usize) {
        let (snd, rcv) = (self.core.options.sndhwm, self.core.options.rcvhwm);
        let Some(entry) = self.core.pipes.get_mut(&id) else {
            return;
        };
        entry.boost = Some((peer_rcv, peer_snd));
        let (out_hwm, in_hwm) = (hwm_sum(snd, peer_rcv), hwm_sum(rcv, peer_snd));
        entry.pipe.set_exact(false, in_hwm);
        let writable = entry.pipe.set_hwms(out_hwm, in_hwm) == Activation::Write;
        let closing = entry.closing;
        self.core.route(id);
        if writable && !closing {
            self.pattern.write_activated(&mut self.core, id);
        }
    }

    /// Like [`attach_pipe`](Self::attach_pipe), for a session the socket does not host:
    /// returns the session's end of the new pipe. Commands between the ends then travel
    /// through [`poll_pipe_command`](Self::poll_pipe_command) and
    /// [`handle_pipe_command`](Self::handle_pipe_command).
    pub fn attach_session_pipe(
        &mut self,
        id: PipeId,
        peer: PipePeer,
    ) -> Result<PipeEnd, AttachError> {
        self.check_peer(&peer)?;
        let cid = peer.connect_routing_id.clone();
        let end = self.attach(id, Some(peer), cid, Ends::Remote)?;
        Ok(end.expect("a pipe not hosted has its session end returned"))
    }

    /// Like [`attach_pending_pipe`](Self::attach_pending_pipe), for a session the socket does
    /// not host: returns the session's end of the new pipe.
    pub fn attach_pending_session_pipe(
        &mut self,
        id: PipeId,
        connect_routing_id: Option<Bytes>,
    ) -> Result<PipeEnd, AttachError> {
        let end = self.attach(id, None, connect_routing_id, Ends::Remote)?;
        Ok(end.expect("a pipe not hosted has its session end returned"))
    }

    /// How pipes for sessions the socket does not host are made from now on: their storage,
    /// and whether reads are reported to the writer one by one (`exact`, so HWMs are exact)
    /// or every low-water mark as libzmq does. The default, lock-free storage and libzmq's
    /// reports, suits sessions on other threads; a driver that runs its sessions under the
    /// socket's own lock takes [`Storage::Local`]. Pipes the socket hosts are always local
    /// and exact.
    pub fn set_session_pipes(&mut self, storage: Storage, exact: bool) {
        self.session_pipes = (storage, exact);
    }

    /// Removes a pipe at once and discards whatever it still holds, both ways. False if it was
    /// not attached.
    pub fn detach_pipe(&mut self, id: PipeId) -> bool {
        if !self.core.pipes.contains_key(&id) {
            return false;
        }
        self.pattern.detach(&mut self.core, id);
        self.core.pipes.remove(&id);
        true
    }

    /// The peer's connection is gone (libzmq's pipe termination): unsent messages are
    /// discarded and nothing more is sent to it, but messages already received stay readable;
    /// the pipe detaches itself once the application has read them. The session forgets the
    /// pipe now and must not reuse its id. False if it was not attached.
    pub fn terminate_pipe(&mut self, id: PipeId) -> bool {
        let Some(entry) = self.core.pipes.get_mut(&id) else {
            return false;
        };
        entry.closing = true;
        // Drop what waits to be transmitted; nobody will take it.
        if let Some(local) = entry.local.as_mut() {
            while local.read().is_some() {}
        }
        // A pipe with no message left to read (subscription changes do not count) goes now.
        self.core.check_read(id);
        self.detach_drained();
        true
    }

    fn detach_drained(&mut self) {
        while let Some(id) = self.core.drained.pop() {
            self.detach_pipe(id);
        }
    }

    /// Sends a whole message (never blocks).
    pub fn send(&mut self, msg: Message) -> Result<(), SendError> {
        self.pattern.send(&mut self.core, msg)
    }

    /// Receives a whole message (never blocks).
    pub fn recv(&mut self) -> Result<Message, RecvError> {
        let got = self.pattern.recv(&mut self.core);
        self.detach_drained();
        got
    }

    /// Receives up to `max` whole messages into `out` (never blocks), each with the pipe it
    /// came from, in the order as many [`recv`](Self::recv)s would give them. Fails only
    /// when not even one message was there. It may take fewer than are there (a pattern's
    /// batch stops at the end of what one pipe holds without looking further); a receive
    /// that finds none has looked everywhere, and the pipes it found empty wait for their
    /// writers' wake-up.
    pub fn recv_many(
        &mut self,
        out: &mut VecDeque<(PipeId, Message)>,
        max: usize,
    ) -> Result<usize, RecvError> {
        let mut n = self.pattern.recv_batch(&mut self.core, out, max);
        if n > 0 {
            self.detach_drained();
            return Ok(n);
        }
        while n < max {
            match self.recv() {
                Ok(m) => {
                    out.push_back((self.core.last_read.unwrap_or(PipeId(0)), m));
                    n += 1;
                }
                Err(e) if n == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(n)
    }

    /// The pipe the last received message came from.
    pub fn last_recv_pipe(&self) -> Option<PipeId> {
        self.core.last_read
    }

    /// Whether a receive would hand `msg` up now (a SUB's subscriptions, as they stand):
    /// a driver that took messages ahead drops, after a subscription change, those this
    /// refuses, as libzmq's SUB filters when it hands a message up.
    pub fn admits(&self, msg: &Message) -> bool {
        self.pattern.admits(&self.core, msg)
    }

    /// The most pipe ids any one of the pattern's schedulers and routing tables holds
    /// (simulator hook: never more than [`pipe_ids`](Self::pipe_ids) counts).
    #[cfg(feature = "sim")]
    pub fn holdings(&self) -> usize {
        self.pattern.holdings()
    }

    /// The pipe the last message written went to (simulator hook: load-balancing is fair).
    #[cfg(feature = "sim")]
    pub fn last_send_pipe(&self) -> Option<PipeId> {
        self.core.last_written
    }

    /// Whether [`send`](Self::send) would not return `WouldBlock` (ZMQ_POLLOUT).
    pub fn can_send(&mut self) -> bool {
        self.pattern.can_send(&mut self.core)
    }

    /// Whether [`recv`](Self::recv) has a message (ZMQ_POLLIN).
    pub fn can_recv(&mut self) -> bool {
        let ready = self.pattern.can_recv(&mut self.core);
        self.detach_drained();
        ready
    }

    /// An item the session decoded from pipe `id`'s connection: a message, or a subscription
    /// change (ZMTP 3.1 command). ZMTP 3.0 `\x01`/`\x00` messages to PUB/XPUB are recognised
    /// here too.
    pub fn handle_inbound(&mut self, id: PipeId, item: PipeItem) -> Result<(), InboundError> {
        let Some(local) = self
            .core
            .pipes
            .get_mut(&id)
            .filter(|e| !e.closing)
            .and_then(|e| e.local.as_mut())
        else {
            return Err(InboundError::UnknownPipe);
        };
        if let Err(item) = local.write_item(item) {
            let PipeItem::Message(msg) = item else {
                unreachable!("only messages are refused at HWM");
            };
            return Err(InboundError::Full(msg));
        }
        local.flush();
        self.deliver_from_local(id);
        Ok(())
    }

    /// The next item the session must transmit on pipe `id`'s connection.
    pub fn poll_outbound(&mut self, id: PipeId) -> Option<PipeItem> {
        let item = self.core.pipes.get_mut(&id)?.local.as_mut()?.read();
        self.deliver_from_local(id);
        item
    }

    /// The next event for the driver.
    pub fn poll_event(&mut self) -> Option<SocketEvent> {
        self.core.events.pop_front()
    }

    /// What pipe `id` holds each way, for inspection; exact while the socket hosts the
    /// session's end, and `None` otherwise.
    pub fn pipe(&self, id: PipeId) -> Option<PipeStats> {
        let entry = self.core.pipes.get(&id)?;
        Some(PipeStats::of(&entry.pipe, entry.local.as_ref()?))
    }

    /// The socket's end of pipe `id`, for inspection (with the session's end, a driver can
    /// tell what the pipe holds: [`PipeStats::of`]).
    pub fn pipe_end(&self, id: PipeId) -> Option<&PipeEnd> {
        self.core.pipes.get(&id).map(|e| &e.pipe)
    }

    /// Whether pipe `id` is attached (closing pipes included).
    pub fn has_pipe(&self, id: PipeId) -> bool {
        self.core.pipes.contains_key(&id)
    }

    /// The attached pipes, in id order.
    pub fn pipe_ids(&self) -> impl Iterator<Item = PipeId> + '_ {
        self.core.pipes.keys().copied()
    }
}

/// Two HWMs added up, as libzmq adds an inproc peer's: 0 (no limit) if either is.
pub(crate) fn hwm_sum(a: usize, b: usize) -> usize {
    if a == 0 || b == 0 {
        0
    } else {
        a + b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::testkit::{attach, deliver, events, msg, socket};
    use SocketType::*;

    #[test]
    fn draft_types_are_refused() {
        assert_eq!(
            Socket::new(Client, 0).unwrap_err(),
            UnsupportedSocketType(Client)
        );
        for kind in SocketType::ALL.into_iter().filter(|t| !t.is_draft()) {
            assert_eq!(Socket::new(kind, 0).unwrap().socket_type(), kind);
        }
    }

    #[test]
    fn incompatible_peers_and_duplicate_pipes_are_refused() {
        let mut s = socket(Req);
        assert_eq!(
            s.attach_pipe(PipeId(1), PipePeer::new(Pub)),
            Err(AttachError::IncompatiblePeer(Pub))
        );
        attach(&mut s, 1, Rep);
        assert_eq!(
            s.attach_pipe(PipeId(1), PipePeer::new(Rep)),
            Err(AttachError::DuplicatePipe)
        );
    }

    #[test]
    fn options_are_checked_against_the_socket_type() {
        let mut s = socket(Push);
        assert_eq!(
            s.set_option(SocketOption::RouterMandatory(true)),
            Err(OptionError::NotApplicable(Push))
        );
        assert_eq!(
            s.set_option(SocketOption::Subscribe(Bytes::new())),
            Err(OptionError::NotApplicable(Push))
        );
        assert_eq!(
            socket(Req).set_option(SocketOption::Conflate(true)),
            Err(OptionError::NotApplicable(Req))
        );
        assert_eq!(
            s.set_option(SocketOption::RoutingId(Bytes::new())),
            Err(OptionError::InvalidValue)
        );
        assert_eq!(
            s.set_option(SocketOption::RoutingId(Bytes::from(vec![1; 256]))),
            Err(OptionError::InvalidValue)
        );
        s.set_option(SocketOption::RoutingId(Bytes::from_static(b"me")))
            .unwrap();
        assert_eq!(s.options().routing_id.as_deref(), Some(&b"me"[..]));
    }

    #[test]
    fn every_pattern_option_reads_back_what_was_set() {
        use SocketOption as O;
        let cases: &[(SocketType, SocketOption)] = &[
            (Push, O::SndHwm(7)),
            (Pull, O::RcvHwm(0)),
            (Dealer, O::Conflate(true)),
            (Dealer, O::RoutingId(Bytes::from_static(b"me"))),
            (Router, O::ConnectRoutingId(Bytes::from_static(b"next"))),
            (Router, O::RouterMandatory(true)),
            (Router, O::RouterHandover(true)),
            (Req, O::ProbeRouter(true)),
            (Req, O::ReqRelaxed(true)),
            (Req, O::ReqCorrelate(true)),
            (Stream, O::StreamNotify(false)),
            (XPub, O::XpubVerbose(true)),
            (XPub, O::XpubVerboser(true)),
            (XPub, O::XpubManual(true)),
            (XPub, O::XpubNodrop(true)),
            (XPub, O::XpubWelcomeMsg(Some(Bytes::from_static(b"hi")))),
            (Sub, O::InvertMatching(true)),
        ];
        for (kind, opt) in cases {
            let mut s = socket(*kind);
            s.set_option(opt.clone()).unwrap();
            assert_eq!(s.get_option(opt.name()).as_ref(), Ok(opt), "{kind}");
        }
    }

    #[test]
    fn reading_an_option_follows_the_rules_for_setting_it() {
        let s = socket(Push);
        assert_eq!(
            s.get_option(SocketOptionName::Type),
            Ok(SocketOption::Type(Push))
        );
        assert_eq!(
            s.get_option(SocketOptionName::RoutingId),
            Ok(SocketOption::RoutingId(Bytes::new())),
            "unset reads back empty, as in libzmq"
        );
        for name in [
            SocketOptionName::RouterMandatory,
            SocketOptionName::ProbeRouter,
        ] {
            assert_eq!(s.get_option(name), Err(OptionError::NotApplicable(Push)));
        }
        assert_eq!(
            socket(Sub).get_option(SocketOptionName::Subscribe),
            Err(OptionError::WriteOnly(SocketOptionName::Subscribe))
        );
        assert_eq!(
            socket(Pull).set_option(SocketOption::Type(Push)),
            Err(OptionError::ReadOnly(SocketOptionName::Type))
        );
    }

    #[test]
    fn a_message_start_is_checked_as_libzmq_checks_its_first_frame() {
        assert_eq!(
            socket(Pull).check_send_start(b"x"),
            Err(SendErrorKind::NotSupported)
        );
        assert_eq!(
            socket(Sub).check_send_start(b"x"),
            Err(SendErrorKind::NotSupported)
        );
        assert_eq!(
            socket(Rep).check_send_start(b"x"),
            Err(SendErrorKind::BadState)
        );
        assert_eq!(
            socket(Push).check_send_start(b"x"),
            Err(SendErrorKind::WouldBlock),
            "no peer yet"
        );
        assert_eq!(
            socket(Pub).check_send_start(b"x"),
            Ok(()),
            "PUB drops, never waits"
        );

        let mut req = socket(Req);
        attach(&mut req, 1, Rep);
        assert_eq!(req.check_send_start(b"q"), Ok(()));
        req.send(msg(&["q"])).unwrap();
        assert_eq!(req.check_send_start(b"q"), Err(SendErrorKind::BadState));

        let mut router = socket(Router);
        router
            .attach_pipe(PipeId(1), PipePeer::new(Dealer).with_routing_id("A"))
            .unwrap();
        assert_eq!(router.check_send_start(b"nobody"), Ok(()), "dropped later");
        router
            .set_option(SocketOption::RouterMandatory(true))
            .unwrap();
        assert_eq!(
            router.check_send_start(b"nobody"),
            Err(SendErrorKind::HostUnreachable)
        );
        assert_eq!(router.check_send_start(b"A"), Ok(()));
        router.set_option(SocketOption::SndHwm(1)).unwrap();
        router.send(msg(&["A", "fills it"])).unwrap();
        assert_eq!(
            router.check_send_start(b"A"),
            Err(SendErrorKind::WouldBlock)
        );

        let mut stream = socket(Stream);
        assert_eq!(
            stream.check_send_start(b"nobody"),
            Err(SendErrorKind::HostUnreachable)
        );

        let mut xpub = socket(XPub);
        xpub.set_option(SocketOption::XpubNodrop(true)).unwrap();
        xpub.set_option(SocketOption::SndHwm(1)).unwrap();
        let p = attach(&mut xpub, 1, Sub);
        xpub.handle_inbound(p, PipeItem::Subscribe(Bytes::from_static(b"t")))
            .unwrap();
        assert_eq!(xpub.check_send_start(b"t"), Ok(()));
        xpub.send(msg(&["t", "1"])).unwrap();
        assert_eq!(xpub.check_send_start(b"t"), Err(SendErrorKind::WouldBlock));
        assert_eq!(
            xpub.check_send_start(b"other"),
            Ok(()),
            "nobody to wait for"
        );
    }

    #[test]
    fn shall_create_a_queue_when_initiating_an_outgoing_connection() {
        let mut s = socket(Push);
        let p = PipeId(1);
        s.attach_pending_pipe(p, None).unwrap();
        s.send(msg(&["early"])).unwrap();
        assert_eq!(
            s.peer_ready(p, PipePeer::new(Pub)),
            Err(AttachError::IncompatiblePeer(Pub))
        );
        assert!(s.has_pipe(p), "the queue outlives a failed handshake");
        s.peer_ready(p, PipePeer::new(Pull)).unwrap();
        assert_eq!(s.poll_outbound(p), Some(PipeItem::Message(msg(&["early"]))));
        assert_eq!(
            s.peer_ready(PipeId(5), PipePeer::new(Pull)),
            Err(AttachError::UnknownPipe)
        );
    }

    #[test]
    fn a_pending_router_pipe_is_routable_once_named() {
        let mut s = socket(Router);
        s.set_option(SocketOption::RouterMandatory(true)).unwrap();
        s.attach_pending_pipe(PipeId(1), None).unwrap();
        s.attach_pending_pipe(PipeId(2), Some(Bytes::from_static(b"named")))
            .unwrap();
        s.send(msg(&["named", "x"])).unwrap();
        let e = s.send(msg(&["peer", "x"])).unwrap_err();
        assert_eq!(e.kind, SendErrorKind::HostUnreachable);
        s.peer_ready(PipeId(1), PipePeer::new(Dealer).with_routing_id("peer"))
            .unwrap();
        s.send(msg(&["peer", "y"])).unwrap();
        assert_eq!(
            s.poll_outbound(PipeId(1)),
            Some(PipeItem::Message(msg(&["y"])))
        );
    }

    #[test]
    fn hwm_changes_apply_to_attached_pipes() {
        let mut s = socket(Push);
        s.set_option(SocketOption::SndHwm(1)).unwrap();
        let p = attach(&mut s, 1, Pull);
        s.send(msg(&["1"])).unwrap();
        assert!(!s.can_send());
        s.set_option(SocketOption::SndHwm(2)).unwrap();
        s.send(msg(&["2"])).unwrap();
        assert_eq!(s.pipe(p).unwrap().outbound_len(), 2);
    }

    #[test]
    fn outbound_ready_fires_once_per_idle_to_busy_transition() {
        let mut s = socket(Push);
        let p = attach(&mut s, 1, Pull);
        s.send(msg(&["1"])).unwrap();
        s.send(msg(&["2"])).unwrap();
        assert_eq!(events(&mut s), vec![SocketEvent::OutboundReady(p)]);
        while s.poll_outbound(p).is_some() {}
        s.send(msg(&["3"])).unwrap();
        assert_eq!(events(&mut s), vec![SocketEvent::OutboundReady(p)]);
    }

    #[test]
    fn items_for_unknown_pipes_are_refused_not_panicked_on() {
        let mut s = socket(Pull);
        assert_eq!(
            s.handle_inbound(PipeId(9), PipeItem::Message(msg(&["x"]))),
            Err(InboundError::UnknownPipe)
        );
        assert_eq!(s.poll_outbound(PipeId(9)), None);
        assert!(!s.detach_pipe(PipeId(9)));
    }

    #[test]
    fn a_terminated_pipe_delivers_what_it_received_then_detaches() {
        let mut s = socket(Pull);
        let p = attach(&mut s, 1, Push);
        deliver(&mut s, p, msg(&["1"]));
        deliver(&mut s, p, msg(&["2"]));
        assert!(s.terminate_pipe(p));
        assert_eq!(
            s.handle_inbound(p, PipeItem::Message(msg(&["late"]))),
            Err(InboundError::UnknownPipe)
        );
        assert_eq!(s.recv(), Ok(msg(&["1"])));
        assert!(s.has_pipe(p));
        assert_eq!(s.recv(), Ok(msg(&["2"])));
        assert!(!s.has_pipe(p), "detached once drained");
        assert_eq!(s.recv(), Err(RecvError::WouldBlock));
    }

    #[test]
    fn a_terminated_pipe_takes_no_more_messages() {
        let mut s = socket(Dealer);
        let a = attach(&mut s, 1, Router);
        let b = attach(&mut s, 2, Router);
        deliver(&mut s, a, msg(&["pending reply"]));
        s.send(msg(&["unsent"])).unwrap();
        s.send(msg(&["unsent"])).unwrap();
        s.terminate_pipe(a);
        assert_eq!(s.poll_outbound(a), None, "unsent messages are discarded");
        for _ in 0..4 {
            s.send(msg(&["m"])).unwrap();
        }
        assert_eq!(s.pipe(b).unwrap().outbound_len(), 5);
        assert_eq!(s.recv(), Ok(msg(&["pending reply"])));
        assert!(!s.has_pipe(a));
        // An empty pipe detaches at once.
        s.terminate_pipe(b);
        assert!(!s.has_pipe(b));
    }

    #[test]
    fn subscription_commands_to_non_publishers_are_ignored() {
        let mut s = socket(Sub);
        let p = attach(&mut s, 1, Pub);
        s.handle_inbound(p, PipeItem::Subscribe(Bytes::from_static(b"x")))
            .unwrap();
        deliver(&mut s, p, msg(&["x"]));
        assert_eq!(
            s.recv(),
            Err(RecvError::WouldBlock),
            "SUB has no subscription"
        );
    }
}

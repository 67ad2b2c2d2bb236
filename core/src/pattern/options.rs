//! Socket options the patterns understand, named after libzmq's `ZMQ_*` constants.

use bytes::Bytes;

use crate::socket_type::SocketType;

/// One option to set, with its value (libzmq's `zmq_setsockopt`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketOption {
    /// `ZMQ_SNDHWM`: outbound queue limit per pipe, in messages (0 = unlimited).
    SndHwm(usize),
    /// `ZMQ_RCVHWM`: inbound queue limit per pipe, in messages (0 = unlimited).
    RcvHwm(usize),
    /// `ZMQ_CONFLATE`: keep only the latest message per pipe (PUB, SUB, PUSH, PULL, DEALER).
    Conflate(bool),
    /// `ZMQ_ROUTING_ID`: this socket's identity, sent to peers in READY (1 to 255 bytes).
    RoutingId(Bytes),
    /// `ZMQ_CONNECT_ROUTING_ID`: the id a ROUTER or STREAM gives its next outgoing connection.
    ConnectRoutingId(Bytes),
    /// `ZMQ_ROUTER_MANDATORY`: unroutable messages fail with `HostUnreachable`, full pipes with
    /// `WouldBlock`, instead of being dropped.
    RouterMandatory(bool),
    /// `ZMQ_ROUTER_HANDOVER`: a peer claiming a routing id in use takes it over.
    RouterHandover(bool),
    /// `ZMQ_PROBE_ROUTER`: send an empty message to each new peer (ROUTER, DEALER, REQ).
    ProbeRouter(bool),
    /// `ZMQ_REQ_RELAXED`: allow a new request before the reply to the last one.
    ReqRelaxed(bool),
    /// `ZMQ_REQ_CORRELATE`: prefix requests with a 4-byte id and accept only matching replies.
    ReqCorrelate(bool),
    /// `ZMQ_XPUB_VERBOSE`: pass every subscribe message up, duplicates too.
    XpubVerbose(bool),
    /// `ZMQ_XPUB_VERBOSER`: pass every subscribe and unsubscribe message up.
    XpubVerboser(bool),
    /// `ZMQ_XPUB_MANUAL`: the application decides subscriptions with SUBSCRIBE/UNSUBSCRIBE.
    XpubManual(bool),
    /// `ZMQ_XPUB_NODROP`: fail with `WouldBlock` instead of dropping at a subscriber's HWM.
    XpubNodrop(bool),
    /// `ZMQ_XPUB_WELCOME_MSG`: a message sent to every new subscriber (`None` = none).
    XpubWelcomeMsg(Option<Bytes>),
    /// `ZMQ_INVERT_MATCHING`: PUB/XPUB send to, and SUB delivers, the non-matching instead.
    InvertMatching(bool),
    /// `ZMQ_SUBSCRIBE`: SUB adds a topic prefix; XPUB_MANUAL subscribes the last pipe.
    Subscribe(Bytes),
    /// `ZMQ_UNSUBSCRIBE`: cancel one earlier SUBSCRIBE.
    Unsubscribe(Bytes),
    /// `ZMQ_STREAM_NOTIFY`: STREAM delivers an empty message on connect and disconnect.
    StreamNotify(bool),
}

/// Why an option was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionError {
    /// The option does not apply to this socket type (libzmq's `EINVAL`).
    NotApplicable(SocketType),
    /// The value is out of range (a routing id of 0 or more than 255 bytes).
    InvalidValue,
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionError::NotApplicable(t) => write!(f, "option does not apply to {t} sockets"),
            OptionError::InvalidValue => f.write_str("option value out of range"),
        }
    }
}

impl std::error::Error for OptionError {}

/// The options every pattern shares. Pattern-specific switches live in the patterns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOptions {
    /// Outbound queue limit per new pipe (libzmq default 1000).
    pub sndhwm: usize,
    /// Inbound queue limit per new pipe (libzmq default 1000).
    pub rcvhwm: usize,
    /// Keep only the latest message per pipe.
    pub conflate: bool,
    /// This socket's routing id, for the engine's READY.
    pub routing_id: Option<Bytes>,
    /// The id for the next outgoing connection of a ROUTER or STREAM.
    pub connect_routing_id: Option<Bytes>,
    /// Send an empty message to each new peer.
    pub probe_router: bool,
    /// Invert subscription matching.
    pub invert_matching: bool,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            sndhwm: 1000,
            rcvhwm: 1000,
            conflate: false,
            routing_id: None,
            connect_routing_id: None,
            probe_router: false,
            invert_matching: false,
        }
    }
}

/// Whether `id` is a valid routing id: 1 to 255 bytes (libzmq `zmq_setsockopt`).
pub(crate) fn valid_routing_id(id: &[u8]) -> bool {
    (1..=255).contains(&id.len())
}

//! Socket options, one variant per libzmq `ZMQ_*` option, set with `zmq_setsockopt` and read
//! back with `zmq_getsockopt`.
//!
//! [`SocketOption`] carries a value, [`SocketOptionName`] names one without. Values are in
//! libzmq's units and sentinels (milliseconds as `i32`, −1 for "forever" or "the OS
//! default"), so a libzmq user's numbers mean the same here. The core keeps every value: the
//! pattern's options in the pattern (`Socket`), the lifecycle ones in
//! [`BaseConfig`](crate::base::BaseConfig), and those only a driver acts on — the blocking
//! calls' timeouts and the stream sockets' settings — in [`DriverOptions`], which the driver
//! reads when it dials, binds, accepts or blocks.

use std::time::Duration;

use bytes::Bytes;

use crate::codec::MechanismName;
use crate::mechanism::{CurvePublicKey, CurveSecretKey, SecretBytes, SecurityOptions};
use crate::socket_type::SocketType;

/// ZMQ_EVENTS bit: a message can be received now (`ZMQ_POLLIN`).
pub const POLLIN: u8 = 1;
/// ZMQ_EVENTS bit: a message can be sent now (`ZMQ_POLLOUT`).
pub const POLLOUT: u8 = 2;

/// One option with its value: what `zmq_setsockopt` takes and `zmq_getsockopt` returns.
///
/// The variants marked read-only are only ever returned by a get; setting one fails with
/// [`OptionError::ReadOnly`]. SUBSCRIBE and UNSUBSCRIBE are actions with nothing to read
/// back ([`OptionError::WriteOnly`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketOption {
    // ----- queues and messages -----
    /// `ZMQ_SNDHWM`: outbound queue limit per pipe, in messages (0 = unlimited; default 1000).
    SndHwm(usize),
    /// `ZMQ_RCVHWM`: inbound queue limit per pipe, in messages (0 = unlimited; default 1000).
    RcvHwm(usize),
    /// `ZMQ_CONFLATE`: keep only the latest message per pipe (PUB, SUB, PUSH, PULL, DEALER).
    Conflate(bool),
    /// `ZMQ_LINGER`: how long, in ms, pending messages may hold up close (−1 = forever, the
    /// default; 0 = drop them at once).
    Linger(i32),
    /// `ZMQ_MAXMSGSIZE`: the largest inbound message, in bytes (−1 = unlimited, the default);
    /// a peer that sends a larger one is disconnected.
    MaxMsgSize(i64),
    /// `ZMQ_IMMEDIATE`: queue messages only on connections whose handshake completed.
    Immediate(bool),
    /// `ZMQ_SNDTIMEO`: how long, in ms, a blocking send waits (−1 = forever, the default).
    SndTimeo(i32),
    /// `ZMQ_RCVTIMEO`: how long, in ms, a blocking receive waits (−1 = forever, the default).
    RcvTimeo(i32),

    // ----- connection lifecycle -----
    /// `ZMQ_RECONNECT_IVL`: ms before a lost or failed connection is retried (default 100;
    /// −1 or 0 = never reconnect: libzmq retries only with a positive interval, and its
    /// session then ends with the connection it lost).
    ReconnectIvl(i32),
    /// `ZMQ_RECONNECT_IVL_MAX`: the cap, in ms, of the doubling reconnect interval (default 0:
    /// no doubling).
    ReconnectIvlMax(i32),
    /// `ZMQ_HANDSHAKE_IVL`: ms a ZMTP handshake may take (default 30000; 0 = no limit).
    HandshakeIvl(i32),
    /// `ZMQ_HEARTBEAT_IVL`: ms between PINGs on a quiet connection (default 0 = none).
    HeartbeatIvl(i32),
    /// `ZMQ_HEARTBEAT_TIMEOUT`: ms without traffic after a PING before the connection is
    /// dropped (default −1: the heartbeat interval).
    HeartbeatTimeout(i32),
    /// `ZMQ_HEARTBEAT_TTL`: the time to live, in ms, our PINGs ask the peer to apply (default
    /// 0; sent in deciseconds, so rounded down to 100 ms; at most 6553599).
    HeartbeatTtl(i32),

    // ----- TCP and IPC -----
    /// `ZMQ_SNDBUF`: SO_SNDBUF in bytes (−1 = the OS default, the default).
    SndBuf(i32),
    /// `ZMQ_RCVBUF`: SO_RCVBUF in bytes (−1 = the OS default, the default).
    RcvBuf(i32),
    /// `ZMQ_BACKLOG`: the listen queue of a TCP bind (default 100).
    Backlog(i32),
    /// `ZMQ_TCP_KEEPALIVE`: SO_KEEPALIVE (1 on, 0 off, −1 = the OS default, the default).
    TcpKeepalive(i32),
    /// `ZMQ_TCP_KEEPALIVE_IDLE`: TCP_KEEPIDLE in seconds (−1 = the OS default).
    TcpKeepaliveIdle(i32),
    /// `ZMQ_TCP_KEEPALIVE_INTVL`: TCP_KEEPINTVL in seconds (−1 = the OS default).
    TcpKeepaliveIntvl(i32),
    /// `ZMQ_TCP_KEEPALIVE_CNT`: TCP_KEEPCNT (−1 = the OS default).
    TcpKeepaliveCnt(i32),
    /// `ZMQ_TCP_MAXRT`: TCP_USER_TIMEOUT in ms (0 = the OS default, the default).
    TcpMaxrt(i32),
    /// `ZMQ_TOS`: the IP type-of-service byte (IPv6 traffic class) of TCP connections
    /// (default 0: left alone).
    Tos(i32),
    /// `ZMQ_IPV6`: resolve names to IPv6 addresses too, and bind `*` dual-stack on `[::]`.
    Ipv6(bool),
    /// `ZMQ_BINDTODEVICE`: use only this network interface (Linux SO_BINDTODEVICE; empty =
    /// any, the default).
    BindToDevice(String),

    // ----- identity and routing -----
    /// `ZMQ_ROUTING_ID`: this socket's identity, sent to peers in READY (1 to 255 bytes; reads
    /// back empty while unset).
    RoutingId(Bytes),
    /// `ZMQ_CONNECT_ROUTING_ID`: the id a ROUTER or STREAM gives its next outgoing connection
    /// (reads back empty once that connect has taken it).
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
    /// `ZMQ_STREAM_NOTIFY`: STREAM delivers an empty message on connect and disconnect
    /// (default on).
    StreamNotify(bool),

    // ----- publish-subscribe -----
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
    /// Write-only.
    Subscribe(Bytes),
    /// `ZMQ_UNSUBSCRIBE`: cancel one earlier SUBSCRIBE. Write-only.
    Unsubscribe(Bytes),

    // ----- security -----
    /// `ZMQ_PLAIN_SERVER`: be the PLAIN server (1), or go back to NULL (0).
    PlainServer(bool),
    /// `ZMQ_PLAIN_USERNAME`: be a PLAIN client with this username (at most 255 bytes; empty
    /// goes back to NULL).
    PlainUsername(Bytes),
    /// `ZMQ_PLAIN_PASSWORD`: be a PLAIN client with this password (at most 255 bytes; empty
    /// goes back to NULL). Never printed.
    PlainPassword(SecretBytes),
    /// `ZMQ_CURVE_SERVER`: be the CURVE server (1), or go back to NULL (0).
    CurveServer(bool),
    /// `ZMQ_CURVE_PUBLICKEY`: our long-term public key; chooses CURVE.
    CurvePublickey(CurvePublicKey),
    /// `ZMQ_CURVE_SECRETKEY`: our long-term secret key; chooses CURVE. Never printed.
    CurveSecretkey(CurveSecretKey),
    /// `ZMQ_CURVE_SERVERKEY`: the server's public key; makes this socket a CURVE client.
    CurveServerkey(CurvePublicKey),
    /// `ZMQ_ZAP_DOMAIN`: the domain sent in ZAP requests (at most 255 bytes); with NULL, ZAP
    /// is asked only when it is set.
    ZapDomain(Bytes),

    // ----- read-only -----
    /// `ZMQ_TYPE`: the socket's type. Read-only.
    Type(SocketType),
    /// `ZMQ_RCVMORE`: more frames of the message being received follow. Read-only.
    RcvMore(bool),
    /// `ZMQ_EVENTS`: [`POLLIN`] and/or [`POLLOUT`], what the socket could do now. Read-only.
    Events(u8),
    /// `ZMQ_LAST_ENDPOINT`: the endpoint of the last bind, as bound (empty if none).
    /// Read-only.
    LastEndpoint(String),
    /// `ZMQ_MECHANISM`: the security mechanism (NULL, PLAIN or CURVE). Read-only.
    Mechanism(MechanismName),
    /// `ZMQ_THREAD_SAFE`: whether the socket may be used from several threads at once (no:
    /// like libzmq's classic sockets, one thread at a time). Read-only.
    ThreadSafe(bool),
}

/// The name of a [`SocketOption`], without a value: what to ask `get` for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum SocketOptionName {
    /// `ZMQ_SNDHWM`.
    SndHwm,
    /// `ZMQ_RCVHWM`.
    RcvHwm,
    /// `ZMQ_CONFLATE`.
    Conflate,
    /// `ZMQ_LINGER`.
    Linger,
    /// `ZMQ_MAXMSGSIZE`.
    MaxMsgSize,
    /// `ZMQ_IMMEDIATE`.
    Immediate,
    /// `ZMQ_SNDTIMEO`.
    SndTimeo,
    /// `ZMQ_RCVTIMEO`.
    RcvTimeo,
    /// `ZMQ_RECONNECT_IVL`.
    ReconnectIvl,
    /// `ZMQ_RECONNECT_IVL_MAX`.
    ReconnectIvlMax,
    /// `ZMQ_HANDSHAKE_IVL`.
    HandshakeIvl,
    /// `ZMQ_HEARTBEAT_IVL`.
    HeartbeatIvl,
    /// `ZMQ_HEARTBEAT_TIMEOUT`.
    HeartbeatTimeout,
    /// `ZMQ_HEARTBEAT_TTL`.
    HeartbeatTtl,
    /// `ZMQ_SNDBUF`.
    SndBuf,
    /// `ZMQ_RCVBUF`.
    RcvBuf,
    /// `ZMQ_BACKLOG`.
    Backlog,
    /// `ZMQ_TCP_KEEPALIVE`.
    TcpKeepalive,
    /// `ZMQ_TCP_KEEPALIVE_IDLE`.
    TcpKeepaliveIdle,
    /// `ZMQ_TCP_KEEPALIVE_INTVL`.
    TcpKeepaliveIntvl,
    /// `ZMQ_TCP_KEEPALIVE_CNT`.
    TcpKeepaliveCnt,
    /// `ZMQ_TCP_MAXRT`.
    TcpMaxrt,
    /// `ZMQ_TOS`.
    Tos,
    /// `ZMQ_IPV6`.
    Ipv6,
    /// `ZMQ_BINDTODEVICE`.
    BindToDevice,
    /// `ZMQ_ROUTING_ID`.
    RoutingId,
    /// `ZMQ_CONNECT_ROUTING_ID`.
    ConnectRoutingId,
    /// `ZMQ_ROUTER_MANDATORY`.
    RouterMandatory,
    /// `ZMQ_ROUTER_HANDOVER`.
    RouterHandover,
    /// `ZMQ_PROBE_ROUTER`.
    ProbeRouter,
    /// `ZMQ_REQ_RELAXED`.
    ReqRelaxed,
    /// `ZMQ_REQ_CORRELATE`.
    ReqCorrelate,
    /// `ZMQ_STREAM_NOTIFY`.
    StreamNotify,
    /// `ZMQ_XPUB_VERBOSE`.
    XpubVerbose,
    /// `ZMQ_XPUB_VERBOSER`.
    XpubVerboser,
    /// `ZMQ_XPUB_MANUAL`.
    XpubManual,
    /// `ZMQ_XPUB_NODROP`.
    XpubNodrop,
    /// `ZMQ_XPUB_WELCOME_MSG`.
    XpubWelcomeMsg,
    /// `ZMQ_INVERT_MATCHING`.
    InvertMatching,
    /// `ZMQ_SUBSCRIBE`.
    Subscribe,
    /// `ZMQ_UNSUBSCRIBE`.
    Unsubscribe,
    /// `ZMQ_PLAIN_SERVER`.
    PlainServer,
    /// `ZMQ_PLAIN_USERNAME`.
    PlainUsername,
    /// `ZMQ_PLAIN_PASSWORD`.
    PlainPassword,
    /// `ZMQ_CURVE_SERVER`.
    CurveServer,
    /// `ZMQ_CURVE_PUBLICKEY`.
    CurvePublickey,
    /// `ZMQ_CURVE_SECRETKEY`.
    CurveSecretkey,
    /// `ZMQ_CURVE_SERVERKEY`.
    CurveServerkey,
    /// `ZMQ_ZAP_DOMAIN`.
    ZapDomain,
    /// `ZMQ_TYPE`.
    Type,
    /// `ZMQ_RCVMORE`.
    RcvMore,
    /// `ZMQ_EVENTS`.
    Events,
    /// `ZMQ_LAST_ENDPOINT`.
    LastEndpoint,
    /// `ZMQ_MECHANISM`.
    Mechanism,
    /// `ZMQ_THREAD_SAFE`.
    ThreadSafe,
}

impl SocketOptionName {
    /// Every option, in declaration order.
    pub const ALL: [SocketOptionName; 55] = {
        use SocketOptionName::*;
        [
            SndHwm,
            RcvHwm,
            Conflate,
            Linger,
            MaxMsgSize,
            Immediate,
            SndTimeo,
            RcvTimeo,
            ReconnectIvl,
            ReconnectIvlMax,
            HandshakeIvl,
            HeartbeatIvl,
            HeartbeatTimeout,
            HeartbeatTtl,
            SndBuf,
            RcvBuf,
            Backlog,
            TcpKeepalive,
            TcpKeepaliveIdle,
            TcpKeepaliveIntvl,
            TcpKeepaliveCnt,
            TcpMaxrt,
            Tos,
            Ipv6,
            BindToDevice,
            RoutingId,
            ConnectRoutingId,
            RouterMandatory,
            RouterHandover,
            ProbeRouter,
            ReqRelaxed,
            ReqCorrelate,
            StreamNotify,
            XpubVerbose,
            XpubVerboser,
            XpubManual,
            XpubNodrop,
            XpubWelcomeMsg,
            InvertMatching,
            Subscribe,
            Unsubscribe,
            PlainServer,
            PlainUsername,
            PlainPassword,
            CurveServer,
            CurvePublickey,
            CurveSecretkey,
            CurveServerkey,
            ZapDomain,
            Type,
            RcvMore,
            Events,
            LastEndpoint,
            Mechanism,
            ThreadSafe,
        ]
    };

    /// Whether the option can only be read (`ZMQ_TYPE`, `ZMQ_EVENTS` …).
    pub fn is_read_only(self) -> bool {
        use SocketOptionName::*;
        matches!(
            self,
            Type | RcvMore | Events | LastEndpoint | Mechanism | ThreadSafe
        )
    }

    /// Whether the option is an action with nothing to read back (SUBSCRIBE, UNSUBSCRIBE).
    pub fn is_write_only(self) -> bool {
        matches!(
            self,
            SocketOptionName::Subscribe | SocketOptionName::Unsubscribe
        )
    }
}

impl SocketOption {
    /// Whether setting it may change which messages a SUB hands up (SUBSCRIBE, UNSUBSCRIBE,
    /// INVERT_MATCHING): a driver holding messages taken ahead filters them again
    /// ([`Socket::admits`](crate::Socket::admits)).
    pub fn changes_filter(&self) -> bool {
        matches!(
            self,
            SocketOption::Subscribe(_)
                | SocketOption::Unsubscribe(_)
                | SocketOption::InvertMatching(_)
        )
    }

    /// This option's name.
    pub fn name(&self) -> SocketOptionName {
        use SocketOption as O;
        use SocketOptionName as N;
        match self {
            O::SndHwm(_) => N::SndHwm,
            O::RcvHwm(_) => N::RcvHwm,
            O::Conflate(_) => N::Conflate,
            O::Linger(_) => N::Linger,
            O::MaxMsgSize(_) => N::MaxMsgSize,
            O::Immediate(_) => N::Immediate,
            O::SndTimeo(_) => N::SndTimeo,
            O::RcvTimeo(_) => N::RcvTimeo,
            O::ReconnectIvl(_) => N::ReconnectIvl,
            O::ReconnectIvlMax(_) => N::ReconnectIvlMax,
            O::HandshakeIvl(_) => N::HandshakeIvl,
            O::HeartbeatIvl(_) => N::HeartbeatIvl,
            O::HeartbeatTimeout(_) => N::HeartbeatTimeout,
            O::HeartbeatTtl(_) => N::HeartbeatTtl,
            O::SndBuf(_) => N::SndBuf,
            O::RcvBuf(_) => N::RcvBuf,
            O::Backlog(_) => N::Backlog,
            O::TcpKeepalive(_) => N::TcpKeepalive,
            O::TcpKeepaliveIdle(_) => N::TcpKeepaliveIdle,
            O::TcpKeepaliveIntvl(_) => N::TcpKeepaliveIntvl,
            O::TcpKeepaliveCnt(_) => N::TcpKeepaliveCnt,
            O::TcpMaxrt(_) => N::TcpMaxrt,
            O::Tos(_) => N::Tos,
            O::Ipv6(_) => N::Ipv6,
            O::BindToDevice(_) => N::BindToDevice,
            O::RoutingId(_) => N::RoutingId,
            O::ConnectRoutingId(_) => N::ConnectRoutingId,
            O::RouterMandatory(_) => N::RouterMandatory,
            O::RouterHandover(_) => N::RouterHandover,
            O::ProbeRouter(_) => N::ProbeRouter,
            O::ReqRelaxed(_) => N::ReqRelaxed,
            O::ReqCorrelate(_) => N::ReqCorrelate,
            O::StreamNotify(_) => N::StreamNotify,
            O::XpubVerbose(_) => N::XpubVerbose,
            O::XpubVerboser(_) => N::XpubVerboser,
            O::XpubManual(_) => N::XpubManual,
            O::XpubNodrop(_) => N::XpubNodrop,
            O::XpubWelcomeMsg(_) => N::XpubWelcomeMsg,
            O::InvertMatching(_) => N::InvertMatching,
            O::Subscribe(_) => N::Subscribe,
            O::Unsubscribe(_) => N::Unsubscribe,
            O::PlainServer(_) => N::PlainServer,
            O::PlainUsername(_) => N::PlainUsername,
            O::PlainPassword(_) => N::PlainPassword,
            O::CurveServer(_) => N::CurveServer,
            O::CurvePublickey(_) => N::CurvePublickey,
            O::CurveSecretkey(_) => N::CurveSecretkey,
            O::CurveServerkey(_) => N::CurveServerkey,
            O::ZapDomain(_) => N::ZapDomain,
            O::Type(_) => N::Type,
            O::RcvMore(_) => N::RcvMore,
            O::Events(_) => N::Events,
            O::LastEndpoint(_) => N::LastEndpoint,
            O::Mechanism(_) => N::Mechanism,
            O::ThreadSafe(_) => N::ThreadSafe,
        }
    }
}

/// Why an option was refused (libzmq's `EINVAL`, whichever the cause).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OptionError {
    /// The option does not apply to this socket type.
    NotApplicable(SocketType),
    /// The value is out of range (a routing id of 0 or more than 255 bytes, a negative
    /// interval …).
    InvalidValue,
    /// The option can only be read.
    ReadOnly(SocketOptionName),
    /// The option is an action with nothing to read back.
    WriteOnly(SocketOptionName),
}

impl std::fmt::Display for OptionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OptionError::NotApplicable(t) => write!(f, "option does not apply to {t} sockets"),
            OptionError::InvalidValue => f.write_str("option value out of range"),
            OptionError::ReadOnly(n) => write!(f, "option {n:?} is read-only"),
            OptionError::WriteOnly(n) => write!(f, "option {n:?} cannot be read"),
        }
    }
}

impl std::error::Error for OptionError {}

/// The options a driver applies: the blocking calls' timeouts and the settings of each TCP
/// (and IPC) stream and listener. The core only validates and keeps them. The security
/// options ride here too, since the driver also supplies what they need (the random source,
/// the ZAP handler); the engine's settings take them from [`SecurityOptions::apply_to`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DriverOptions {
    /// ZMQ_SNDTIMEO (`None` = block forever).
    pub send_timeout: Option<Duration>,
    /// ZMQ_RCVTIMEO (`None` = block forever).
    pub recv_timeout: Option<Duration>,
    /// ZMQ_SNDBUF: SO_SNDBUF in bytes (`None` = the OS default).
    pub send_buffer: Option<usize>,
    /// ZMQ_RCVBUF: SO_RCVBUF in bytes (`None` = the OS default).
    pub recv_buffer: Option<usize>,
    /// ZMQ_BACKLOG: the listen queue length.
    pub backlog: u32,
    /// ZMQ_TCP_KEEPALIVE: SO_KEEPALIVE on or off (`None` = the OS default).
    pub keepalive: Option<bool>,
    /// ZMQ_TCP_KEEPALIVE_IDLE: TCP_KEEPIDLE, idle time before the first probe.
    pub keepalive_idle: Option<Duration>,
    /// ZMQ_TCP_KEEPALIVE_INTVL: TCP_KEEPINTVL, time between probes.
    pub keepalive_interval: Option<Duration>,
    /// ZMQ_TCP_KEEPALIVE_CNT: TCP_KEEPCNT, probes before the connection is dropped.
    pub keepalive_count: Option<u32>,
    /// ZMQ_TCP_MAXRT: TCP_USER_TIMEOUT (`None` = the OS default).
    pub max_retransmit: Option<Duration>,
    /// ZMQ_TOS: the IP type of service, or IPv6 traffic class (0 = left alone).
    pub tos: u32,
    /// ZMQ_IPV6: resolve names to IPv6 too, and bind `*` dual-stack on `[::]`.
    pub ipv6: bool,
    /// ZMQ_BINDTODEVICE: use only this network interface.
    pub bind_to_device: Option<String>,
    /// PLAIN_*, CURVE_*, ZAP_DOMAIN, and the driver's random source and ZAP handler.
    pub security: SecurityOptions,
}

impl Default for DriverOptions {
    /// libzmq's defaults.
    fn default() -> Self {
        DriverOptions {
            send_timeout: None,
            recv_timeout: None,
            send_buffer: None,
            recv_buffer: None,
            backlog: 100,
            keepalive: None,
            keepalive_idle: None,
            keepalive_interval: None,
            keepalive_count: None,
            max_retransmit: None,
            tos: 0,
            ipv6: false,
            bind_to_device: None,
            security: SecurityOptions::default(),
        }
    }
}

/// The longest interface name SO_BINDTODEVICE takes (IFNAMSIZ less its NUL).
const MAX_DEVICE_NAME: usize = 15;

impl DriverOptions {
    /// Takes `opt` if it is one of the driver's; `Ok(false)` if it is not.
    pub(crate) fn set(&mut self, opt: &SocketOption) -> Result<bool, OptionError> {
        use SocketOption as O;
        match opt {
            O::SndTimeo(ms) => self.send_timeout = millis_or_forever(*ms)?,
            O::RcvTimeo(ms) => self.recv_timeout = millis_or_forever(*ms)?,
            O::SndBuf(n) => self.send_buffer = count_or_default(*n)?,
            O::RcvBuf(n) => self.recv_buffer = count_or_default(*n)?,
            O::Backlog(n) => {
                self.backlog = u32::try_from(*n).map_err(|_| OptionError::InvalidValue)?;
            }
            O::TcpKeepalive(v) => {
                self.keepalive = match v {
                    -1 => None,
                    0 => Some(false),
                    1 => Some(true),
                    _ => return Err(OptionError::InvalidValue),
                }
            }
            O::TcpKeepaliveIdle(s) => {
                self.keepalive_idle = count_or_default(*s)?.map(|s| Duration::from_secs(s as u64));
            }
            O::TcpKeepaliveIntvl(s) => {
                self.keepalive_interval =
                    count_or_default(*s)?.map(|s| Duration::from_secs(s as u64));
            }
            O::TcpKeepaliveCnt(n) => {
                self.keepalive_count = count_or_default(*n)?.map(|n| n as u32);
            }
            O::TcpMaxrt(ms) => {
                let ms = u64::try_from(*ms).map_err(|_| OptionError::InvalidValue)?;
                self.max_retransmit = (ms > 0).then(|| Duration::from_millis(ms));
            }
            O::Tos(v) => self.tos = u32::try_from(*v).map_err(|_| OptionError::InvalidValue)?,
            O::Ipv6(v) => self.ipv6 = *v,
            O::BindToDevice(name) => {
                if name.len() > MAX_DEVICE_NAME || name.contains('\0') {
                    return Err(OptionError::InvalidValue);
                }
                self.bind_to_device = (!name.is_empty()).then(|| name.clone());
            }
            _ => return self.security.set(opt),
        }
        Ok(true)
    }

    /// The value of option `name` if it is one of the driver's.
    pub(crate) fn get(&self, name: SocketOptionName) -> Option<SocketOption> {
        use SocketOption as O;
        use SocketOptionName as N;
        let count = |v: Option<usize>| v.map_or(-1, saturating_i32);
        let seconds = |d: Option<Duration>| d.map_or(-1, |d| saturating_i32(d.as_secs()));
        Some(match name {
            N::SndTimeo => O::SndTimeo(millis_or_minus_one(self.send_timeout)),
            N::RcvTimeo => O::RcvTimeo(millis_or_minus_one(self.recv_timeout)),
            N::SndBuf => O::SndBuf(count(self.send_buffer)),
            N::RcvBuf => O::RcvBuf(count(self.recv_buffer)),
            N::Backlog => O::Backlog(saturating_i32(self.backlog)),
            N::TcpKeepalive => O::TcpKeepalive(self.keepalive.map_or(-1, i32::from)),
            N::TcpKeepaliveIdle => O::TcpKeepaliveIdle(seconds(self.keepalive_idle)),
            N::TcpKeepaliveIntvl => O::TcpKeepaliveIntvl(seconds(self.keepalive_interval)),
            N::TcpKeepaliveCnt => {
                O::TcpKeepaliveCnt(self.keepalive_count.map_or(-1, saturating_i32))
            }
            N::TcpMaxrt => O::TcpMaxrt(self.max_retransmit.map_or(0, millis)),
            N::Tos => O::Tos(saturating_i32(self.tos)),
            N::Ipv6 => O::Ipv6(self.ipv6),
            N::BindToDevice => O::BindToDevice(self.bind_to_device.clone().unwrap_or_default()),
            _ => return self.security.get(name),
        })
    }
}

/// A libzmq count or size where −1 means "the default": `None` for −1, `Err` below it.
fn count_or_default(v: i32) -> Result<Option<usize>, OptionError> {
    match v {
        -1 => Ok(None),
        v => usize::try_from(v)
            .map(Some)
            .map_err(|_| OptionError::InvalidValue),
    }
}

/// libzmq milliseconds where −1 means "forever" (or "never"): `None` for −1.
pub(crate) fn millis_or_forever(ms: i32) -> Result<Option<Duration>, OptionError> {
    match ms {
        -1 => Ok(None),
        ms => u64::try_from(ms)
            .map(|ms| Some(Duration::from_millis(ms)))
            .map_err(|_| OptionError::InvalidValue),
    }
}

/// Non-negative libzmq milliseconds.
pub(crate) fn millis_at_least_zero(ms: i32) -> Result<Duration, OptionError> {
    u64::try_from(ms)
        .map(Duration::from_millis)
        .map_err(|_| OptionError::InvalidValue)
}

/// A duration as libzmq's `int` milliseconds, saturating.
pub(crate) fn millis(d: Duration) -> i32 {
    saturating_i32(d.as_millis())
}

/// [`millis`], with `None` as −1.
pub(crate) fn millis_or_minus_one(d: Option<Duration>) -> i32 {
    d.map_or(-1, millis)
}

fn saturating_i32<T: TryInto<i32>>(v: T) -> i32 {
    v.try_into().unwrap_or(i32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once() {
        let mut seen = std::collections::BTreeSet::new();
        for n in SocketOptionName::ALL {
            assert!(seen.insert(n), "{n:?} twice");
        }
    }

    #[test]
    fn driver_options_read_back_what_was_set() {
        let mut d = DriverOptions::default();
        for opt in [
            SocketOption::SndTimeo(250),
            SocketOption::RcvTimeo(0),
            SocketOption::SndBuf(65536),
            SocketOption::RcvBuf(0),
            SocketOption::Backlog(7),
            SocketOption::TcpKeepalive(0),
            SocketOption::TcpKeepaliveIdle(30),
            SocketOption::TcpKeepaliveIntvl(5),
            SocketOption::TcpKeepaliveCnt(3),
            SocketOption::TcpMaxrt(1500),
            SocketOption::Tos(0x28),
            SocketOption::Ipv6(true),
            SocketOption::BindToDevice("lo".into()),
        ] {
            assert_eq!(d.set(&opt), Ok(true), "{opt:?}");
            assert_eq!(d.get(opt.name()), Some(opt));
        }
    }

    #[test]
    fn driver_options_refuse_values_libzmq_refuses() {
        let mut d = DriverOptions::default();
        for opt in [
            SocketOption::SndTimeo(-2),
            SocketOption::SndBuf(-5),
            SocketOption::Backlog(-1),
            SocketOption::TcpKeepalive(2),
            SocketOption::TcpMaxrt(-1),
            SocketOption::Tos(-1),
            SocketOption::BindToDevice("a-name-far-too-long".into()),
        ] {
            assert_eq!(d.set(&opt), Err(OptionError::InvalidValue), "{opt:?}");
        }
        assert_eq!(d, DriverOptions::default(), "nothing changed");
    }
}

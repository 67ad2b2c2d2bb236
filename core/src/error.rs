//! Why a ZMTP connection ends, split by cause (in the manner of rustls): bytes that are not ZMTP,
//! a peer that breaks the protocol, a peer we cannot talk to, an ERROR from the peer, timeouts,
//! and the peer going away. Every one of these costs only the connection it happened on.

use bytes::Bytes;

use crate::codec::greeting::MechanismName;
use crate::monitor::{protocol_error, MonitorEventKind};
use crate::socket_type::SocketType;

/// The reason a connection ended or cannot continue.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// The peer sent bytes that do not parse as ZMTP.
    Malformed(Malformed),
    /// The peer sent well-formed ZMTP at a moment or in a form the protocol forbids.
    Protocol(ProtocolViolation),
    /// The peer speaks ZMTP but we cannot talk to it.
    Incompatible(Incompatible),
    /// The peer sent an ERROR command; RFC 23 says not to reconnect with the same credentials.
    PeerError {
        /// The reason text the peer gave (for ZAP failures, the status code).
        reason: Bytes,
    },
    /// A frame is larger than MAXMSGSIZE allows.
    MessageTooLarge {
        /// The frame size the peer announced.
        size: u64,
        /// The configured maximum.
        max: u64,
    },
    /// The greeting and handshake did not finish within HANDSHAKE_IVL.
    HandshakeTimeout,
    /// Nothing arrived within HEARTBEAT_TIMEOUT after one of our PINGs.
    HeartbeatTimeout,
    /// Nothing arrived within the TTL the peer announced in its PING.
    HeartbeatTtlExpired,
    /// The peer closed the byte stream.
    PeerClosed,
    /// Our ZAP handler refused the peer (RFC 27 status code 300, 400 or 500). The peer is
    /// sent ERROR with the code, except for 300 (a temporary failure): then it is just
    /// disconnected, as libzmq does.
    AuthFailed {
        /// The ZAP status code.
        status_code: u16,
    },
    /// Our ZAP handler's reply could not be used (a status code RFC 27 does not define, a
    /// wrong version or request id, too many or too few frames, bad metadata). libzmq
    /// reports it as a protocol failure and closes without ERROR.
    BadZapReply(crate::mechanism::ZapReplyError),
    /// A PLAIN client asked to be let in, and no ZAP handler is there to ask: libzmq's PLAIN
    /// server refuses the client then (it reports `HANDSHAKE_FAILED_NO_DETAIL` with EFAULT).
    NoZapHandler,
    /// Our own settings cannot run this mechanism (CURVE without keys, without a random
    /// source, or without the `curve` feature).
    Misconfigured(&'static str),
}

/// Bytes that are not ZMTP.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// A frame announces a length this platform cannot hold.
    FrameTooLong(u64),
    /// A command frame carries the MORE flag (RFC 23: commands are single frames).
    CommandWithMore,
    /// A command frame has no name, or its name runs past the frame.
    BadCommandName,
    /// A metadata property's name or value runs past the command.
    TruncatedProperty,
    /// A command's body does not fit its layout.
    BadCommandBody(&'static str),
}

/// Well-formed ZMTP used against the protocol's rules.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A message frame arrived before the handshake completed.
    MessageBeforeHandshake,
    /// A command arrived that is not allowed at this stage of the handshake.
    UnexpectedCommand(Bytes),
    /// The peer sent READY twice, or another handshake command after READY.
    DuplicateReady,
    /// The peer's Identity (routing id) property is longer than 255 bytes.
    RoutingIdTooLong(usize),
    /// A CURVE box did not open: wrong keys, or the bytes were tampered with. Names the box.
    Cryptographic(&'static str),
    /// A CURVE short nonce did not increase (a replayed or reordered command or message).
    NonceNotIncreasing {
        /// The nonce received.
        got: u64,
        /// The last nonce accepted from the peer.
        last: u64,
    },
    /// A CURVE cookie or vouch does not name the keys of this handshake (a replayed INITIATE).
    BadCookieOrVouch,
}

/// A peer speaking a ZMTP we will not talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incompatible {
    /// The peer speaks ZMTP 1.0 or 2.0 (the revision byte it sent, 0 for ZMTP 1.0).
    Version {
        /// The major version (revision) the peer announced.
        major: u8,
    },
    /// The peer uses another security mechanism.
    Mechanism {
        /// Ours.
        ours: MechanismName,
        /// The peer's.
        theirs: MechanismName,
    },
    /// The peer's CURVE HELLO names a version other than 1.0.
    CurveVersion {
        /// The major version sent.
        major: u8,
        /// The minor version sent.
        minor: u8,
    },
    /// The peer's socket type cannot talk to ours.
    SocketType {
        /// Ours.
        ours: SocketType,
        /// The peer's, as it named it.
        theirs: Bytes,
    },
}

impl ConnectionError {
    /// Whether this ended the connection during the greeting or handshake in a way that
    /// libzmq reports as a protocol failure (`HANDSHAKE_FAILED_PROTOCOL`) rather than
    /// no-detail or authentication.
    pub fn is_protocol_failure(&self) -> bool {
        matches!(
            self,
            ConnectionError::Malformed(_)
                | ConnectionError::Protocol(_)
                | ConnectionError::Incompatible(_)
                | ConnectionError::MessageTooLarge { .. }
        )
    }

    /// The monitor event libzmq raises when this ends a handshake, with its value:
    /// `HANDSHAKE_FAILED_AUTH` with the ZAP status code (ours refused the peer, or the
    /// peer's ERROR carried one), `HANDSHAKE_FAILED_PROTOCOL` with a `ZMQ_PROTOCOL_ERROR_*`
    /// code, or `HANDSHAKE_FAILED_NO_DETAIL` (timeouts, a lost connection).
    pub fn handshake_failure(&self) -> (MonitorEventKind, u64) {
        use protocol_error as p;
        let protocol = |code: u32| (MonitorEventKind::HandshakeFailedProtocol, u64::from(code));
        match self {
            ConnectionError::AuthFailed { status_code } => (
                MonitorEventKind::HandshakeFailedAuth,
                u64::from(*status_code),
            ),
            // libzmq reads a status code out of the peer's ERROR when there is one.
            ConnectionError::PeerError { reason } => (
                MonitorEventKind::HandshakeFailedAuth,
                zap_status_in(reason).map_or(0, u64::from),
            ),
            ConnectionError::BadZapReply(e) => protocol(e.protocol_error()),
            ConnectionError::Malformed(m) => protocol(match m {
                Malformed::BadCommandBody("HELLO") => p::ZMTP_MALFORMED_COMMAND_HELLO,
                Malformed::BadCommandBody("WELCOME") => p::ZMTP_MALFORMED_COMMAND_WELCOME,
                Malformed::BadCommandBody("INITIATE") => p::ZMTP_MALFORMED_COMMAND_INITIATE,
                Malformed::BadCommandBody("READY") => p::ZMTP_MALFORMED_COMMAND_READY,
                Malformed::BadCommandBody("ERROR") => p::ZMTP_MALFORMED_COMMAND_ERROR,
                Malformed::BadCommandBody("MESSAGE") => p::ZMTP_MALFORMED_COMMAND_MESSAGE,
                Malformed::TruncatedProperty => p::ZMTP_INVALID_METADATA,
                _ => p::ZMTP_MALFORMED_COMMAND_UNSPECIFIED,
            }),
            ConnectionError::Protocol(v) => protocol(match v {
                ProtocolViolation::Cryptographic(_) | ProtocolViolation::BadCookieOrVouch => {
                    p::ZMTP_CRYPTOGRAPHIC
                }
                ProtocolViolation::NonceNotIncreasing { .. } => p::ZMTP_INVALID_SEQUENCE,
                ProtocolViolation::RoutingIdTooLong(_) => p::ZMTP_INVALID_METADATA,
                _ => p::ZMTP_UNEXPECTED_COMMAND,
            }),
            ConnectionError::Incompatible(i) => protocol(match i {
                Incompatible::Mechanism { .. } => p::ZMTP_MECHANISM_MISMATCH,
                Incompatible::SocketType { .. } => p::ZMTP_INVALID_METADATA,
                _ => p::ZMTP_UNSPECIFIED,
            }),
            ConnectionError::MessageTooLarge { .. } => protocol(p::ZMTP_UNSPECIFIED),
            ConnectionError::NoZapHandler => (MonitorEventKind::HandshakeFailedNoDetail, EFAULT),
            // libzmq's read of an ended stream sets EPIPE, and the event carries errno.
            ConnectionError::PeerClosed => (MonitorEventKind::HandshakeFailedNoDetail, EPIPE),
            ConnectionError::HandshakeTimeout
            | ConnectionError::HeartbeatTimeout
            | ConnectionError::HeartbeatTtlExpired
            | ConnectionError::Misconfigured(_) => (MonitorEventKind::HandshakeFailedNoDetail, 0),
        }
    }

    /// Whether this failure means "do not redial with the same settings": a protocol
    /// failure, the peer's ERROR, or a refusal by our ZAP handler.
    pub fn is_fatal(&self) -> bool {
        self.is_protocol_failure()
            || matches!(
                self,
                ConnectionError::PeerError { .. }
                    | ConnectionError::AuthFailed { .. }
                    | ConnectionError::BadZapReply(_)
                    | ConnectionError::Misconfigured(_)
            )
    }

    /// The reason we put in an ERROR command before closing, if this failure warrants one.
    pub(crate) fn wire_reason(&self) -> Option<&'static str> {
        match self {
            ConnectionError::Incompatible(Incompatible::SocketType { .. }) => {
                Some("Invalid socket type")
            }
            // RFC 27: 300 is a temporary failure; libzmq drops the peer without an ERROR.
            ConnectionError::AuthFailed { status_code: 400 } => Some("400"),
            ConnectionError::AuthFailed { status_code: 500 } => Some("500"),
            _ => None,
        }
    }
}

/// The errno libzmq reports with `HANDSHAKE_FAILED_NO_DETAIL` when PLAIN has no ZAP handler.
const EFAULT: u64 = 14;
/// The errno libzmq reports with `HANDSHAKE_FAILED_NO_DETAIL` when the peer closed the stream
/// during the handshake (Linux's EPIPE).
const EPIPE: u64 = 32;

/// The ZAP status code an ERROR reason carries, if it is exactly "300", "400" or "500".
fn zap_status_in(reason: &[u8]) -> Option<u16> {
    match reason {
        [d @ b'3'..=b'5', b'0', b'0'] => Some(u16::from(d - b'0') * 100),
        _ => None,
    }
}

impl From<Malformed> for ConnectionError {
    fn from(m: Malformed) -> Self {
        ConnectionError::Malformed(m)
    }
}

impl From<ProtocolViolation> for ConnectionError {
    fn from(p: ProtocolViolation) -> Self {
        ConnectionError::Protocol(p)
    }
}

impl From<Incompatible> for ConnectionError {
    fn from(i: Incompatible) -> Self {
        ConnectionError::Incompatible(i)
    }
}

impl std::fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnectionError::Malformed(m) => write!(f, "malformed ZMTP from peer: {m}"),
            ConnectionError::Protocol(p) => write!(f, "peer broke the ZMTP protocol: {p}"),
            ConnectionError::Incompatible(i) => write!(f, "incompatible peer: {i}"),
            ConnectionError::PeerError { reason } => {
                write!(f, "peer sent ERROR: {}", String::from_utf8_lossy(reason))
            }
            ConnectionError::MessageTooLarge { size, max } => {
                write!(f, "frame of {size} bytes exceeds MAXMSGSIZE {max}")
            }
            ConnectionError::HandshakeTimeout => f.write_str("handshake timed out"),
            ConnectionError::HeartbeatTimeout => {
                f.write_str("no traffic after PING (heartbeat timeout)")
            }
            ConnectionError::HeartbeatTtlExpired => f.write_str("peer's heartbeat TTL expired"),
            ConnectionError::PeerClosed => f.write_str("peer closed the connection"),
            ConnectionError::AuthFailed { status_code } => {
                write!(f, "ZAP handler refused the peer (status {status_code})")
            }
            ConnectionError::BadZapReply(e) => {
                write!(f, "ZAP handler's reply could not be used: {e:?}")
            }
            ConnectionError::Misconfigured(what) => write!(f, "security settings: {what}"),
            ConnectionError::NoZapHandler => {
                f.write_str("PLAIN client refused: no ZAP handler to authenticate it")
            }
        }
    }
}

impl std::fmt::Display for Malformed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Malformed::FrameTooLong(n) => write!(f, "frame length {n} is not addressable"),
            Malformed::CommandWithMore => f.write_str("command frame with MORE flag"),
            Malformed::BadCommandName => f.write_str("bad command name"),
            Malformed::TruncatedProperty => f.write_str("truncated metadata property"),
            Malformed::BadCommandBody(what) => write!(f, "bad {what} command body"),
        }
    }
}

impl std::fmt::Display for ProtocolViolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProtocolViolation::MessageBeforeHandshake => {
                f.write_str("message frame before the handshake completed")
            }
            ProtocolViolation::UnexpectedCommand(name) => write!(
                f,
                "unexpected command {:?} during handshake",
                String::from_utf8_lossy(name)
            ),
            ProtocolViolation::DuplicateReady => f.write_str("READY received twice"),
            ProtocolViolation::RoutingIdTooLong(n) => {
                write!(f, "routing id of {n} bytes (maximum 255)")
            }
            ProtocolViolation::Cryptographic(what) => write!(f, "CURVE {what} box did not open"),
            ProtocolViolation::NonceNotIncreasing { got, last } => {
                write!(f, "CURVE nonce {got} does not follow {last}")
            }
            ProtocolViolation::BadCookieOrVouch => {
                f.write_str("CURVE INITIATE does not belong to this handshake")
            }
        }
    }
}

impl std::fmt::Display for Incompatible {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incompatible::Version { major: 0 } => {
                f.write_str("peer speaks ZMTP 1.0; only ZMTP 3.x is supported")
            }
            Incompatible::Version { major: 1 } => {
                f.write_str("peer speaks ZMTP 2.0; only ZMTP 3.x is supported")
            }
            Incompatible::Version { major } => {
                write!(
                    f,
                    "peer speaks ZMTP revision {major}; only ZMTP 3.x is supported"
                )
            }
            Incompatible::Mechanism { ours, theirs } => {
                write!(f, "peer uses mechanism {theirs}, we use {ours}")
            }
            Incompatible::CurveVersion { major, minor } => {
                write!(
                    f,
                    "peer speaks CURVE {major}.{minor}; only 1.0 is supported"
                )
            }
            Incompatible::SocketType { ours, theirs } => write!(
                f,
                "peer socket type {} cannot talk to {ours}",
                String::from_utf8_lossy(theirs)
            ),
        }
    }
}

impl std::error::Error for ConnectionError {}
impl std::error::Error for Malformed {}
impl std::error::Error for ProtocolViolation {}
impl std::error::Error for Incompatible {}

/// What the operating system answered a driver's bind, dial, accept or close with, by cause.
/// The monitor event it leads to carries [`OsError::errno`], as libzmq's does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum OsError {
    /// EADDRINUSE: the address is taken.
    AddrInUse,
    /// EADDRNOTAVAIL: the address is not this host's.
    AddrNotAvailable,
    /// ECONNREFUSED: nothing listens there.
    ConnectionRefused,
    /// ECONNRESET: the peer reset the connection.
    ConnectionReset,
    /// ETIMEDOUT: no answer in time.
    TimedOut,
    /// EHOSTUNREACH: no route to the host.
    HostUnreachable,
    /// ENETUNREACH: no route to the network.
    NetworkUnreachable,
    /// EMFILE: out of file descriptors.
    TooManyFiles,
    /// EACCES: not allowed (a privileged port, a protected path).
    PermissionDenied,
    /// Anything else, with its error number (0 if it had none).
    Other(i32),
}

/// The error numbers of this target (Linux's elsewhere: a simulated host is a Linux one).
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
mod errno {
    pub const EADDRINUSE: i32 = 48;
    pub const EADDRNOTAVAIL: i32 = 49;
    pub const ECONNREFUSED: i32 = 61;
    pub const ECONNRESET: i32 = 54;
    pub const ETIMEDOUT: i32 = 60;
    pub const EHOSTUNREACH: i32 = 65;
    pub const ENETUNREACH: i32 = 51;
    pub const EMFILE: i32 = 24;
    pub const EACCES: i32 = 13;
}
#[cfg(not(any(target_os = "macos", target_os = "ios", target_os = "freebsd")))]
mod errno {
    pub const EADDRINUSE: i32 = 98;
    pub const EADDRNOTAVAIL: i32 = 99;
    pub const ECONNREFUSED: i32 = 111;
    pub const ECONNRESET: i32 = 104;
    pub const ETIMEDOUT: i32 = 110;
    pub const EHOSTUNREACH: i32 = 113;
    pub const ENETUNREACH: i32 = 101;
    pub const EMFILE: i32 = 24;
    pub const EACCES: i32 = 13;
}

impl OsError {
    /// The error with number `n`.
    pub fn from_errno(n: i32) -> OsError {
        use errno::*;
        match n {
            EADDRINUSE => OsError::AddrInUse,
            EADDRNOTAVAIL => OsError::AddrNotAvailable,
            ECONNREFUSED => OsError::ConnectionRefused,
            ECONNRESET => OsError::ConnectionReset,
            ETIMEDOUT => OsError::TimedOut,
            EHOSTUNREACH => OsError::HostUnreachable,
            ENETUNREACH => OsError::NetworkUnreachable,
            EMFILE => OsError::TooManyFiles,
            EACCES => OsError::PermissionDenied,
            n => OsError::Other(n),
        }
    }

    /// Its error number, as libzmq's monitor events report it.
    pub fn errno(self) -> i32 {
        use errno::*;
        match self {
            OsError::AddrInUse => EADDRINUSE,
            OsError::AddrNotAvailable => EADDRNOTAVAIL,
            OsError::ConnectionRefused => ECONNREFUSED,
            OsError::ConnectionReset => ECONNRESET,
            OsError::TimedOut => ETIMEDOUT,
            OsError::HostUnreachable => EHOSTUNREACH,
            OsError::NetworkUnreachable => ENETUNREACH,
            OsError::TooManyFiles => EMFILE,
            OsError::PermissionDenied => EACCES,
            OsError::Other(n) => n,
        }
    }

    /// The value a monitor event carries for it.
    pub(crate) fn event_value(self) -> u64 {
        u64::try_from(self.errno()).unwrap_or(0)
    }
}

impl From<&std::io::Error> for OsError {
    fn from(e: &std::io::Error) -> OsError {
        match e.raw_os_error() {
            Some(n) => OsError::from_errno(n),
            None => match e.kind() {
                std::io::ErrorKind::AddrInUse => OsError::AddrInUse,
                std::io::ErrorKind::AddrNotAvailable => OsError::AddrNotAvailable,
                std::io::ErrorKind::ConnectionRefused => OsError::ConnectionRefused,
                std::io::ErrorKind::ConnectionReset => OsError::ConnectionReset,
                std::io::ErrorKind::TimedOut => OsError::TimedOut,
                std::io::ErrorKind::PermissionDenied => OsError::PermissionDenied,
                _ => OsError::Other(0),
            },
        }
    }
}

impl std::fmt::Display for OsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OsError::AddrInUse => f.write_str("address in use"),
            OsError::AddrNotAvailable => f.write_str("address not available"),
            OsError::ConnectionRefused => f.write_str("connection refused"),
            OsError::ConnectionReset => f.write_str("connection reset by peer"),
            OsError::TimedOut => f.write_str("timed out"),
            OsError::HostUnreachable => f.write_str("host unreachable"),
            OsError::NetworkUnreachable => f.write_str("network unreachable"),
            OsError::TooManyFiles => f.write_str("too many open files"),
            OsError::PermissionDenied => f.write_str("permission denied"),
            OsError::Other(n) => write!(f, "operating system error {n}"),
        }
    }
}

impl std::error::Error for OsError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::ZapReplyError;

    /// The events and values libzmq 4.3's `test_security_zap` expects.
    #[test]
    fn handshake_failures_carry_libzmqs_values() {
        use MonitorEventKind::*;
        let cases = [
            (ConnectionError::PeerClosed, HandshakeFailedNoDetail, 32),
            (ConnectionError::NoZapHandler, HandshakeFailedNoDetail, 14),
            (
                ConnectionError::AuthFailed { status_code: 300 },
                HandshakeFailedAuth,
                300,
            ),
            (
                ConnectionError::BadZapReply(ZapReplyError::Malformed),
                HandshakeFailedProtocol,
                0x2000_0001,
            ),
            (
                ConnectionError::BadZapReply(ZapReplyError::BadRequestId),
                HandshakeFailedProtocol,
                0x2000_0002,
            ),
            (
                ConnectionError::BadZapReply(ZapReplyError::BadVersion),
                HandshakeFailedProtocol,
                0x2000_0003,
            ),
            (
                ConnectionError::BadZapReply(ZapReplyError::InvalidStatusCode),
                HandshakeFailedProtocol,
                0x2000_0004,
            ),
            (
                ConnectionError::BadZapReply(ZapReplyError::InvalidMetadata),
                HandshakeFailedProtocol,
                0x2000_0005,
            ),
        ];
        for (err, kind, value) in cases {
            assert_eq!(err.handshake_failure(), (kind, value), "{err:?}");
        }
        assert!(ConnectionError::BadZapReply(ZapReplyError::Malformed)
            .wire_reason()
            .is_none());
    }
}

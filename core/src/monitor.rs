//! Socket monitor events, with libzmq's names, numbers and meanings (`zmq_socket_monitor`).

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum MonitorEventKind {
    /// A connection to a remote endpoint was established (value: connection id).
    Connected,
    /// A connect is in progress and will complete or fail later.
    ConnectDelayed,
    /// A failed connect will be retried (value: the interval in ms).
    ConnectRetried,
    /// A bind succeeded (value: listener id).
    Listening,
    /// A bind failed.
    BindFailed,
    /// A connection was accepted on a bound endpoint (value: connection id).
    Accepted,
    /// Accepting a connection failed.
    AcceptFailed,
    /// A listener or connection was closed (value: its id).
    Closed,
    /// Closing failed.
    CloseFailed,
    /// An established connection ended (value: connection id).
    Disconnected,
    /// The monitor is stopping: no more events follow.
    MonitorStopped,
    /// The handshake failed for a reason libzmq does not detail (timeout, connection lost).
    HandshakeFailedNoDetail,
    /// The ZMTP handshake completed.
    HandshakeSucceeded,
    /// The handshake failed on a protocol error (malformed, incompatible, unexpected command).
    HandshakeFailedProtocol,
    /// The handshake failed on authentication (the peer sent ERROR, or ZAP refused).
    HandshakeFailedAuth,
}

impl MonitorEventKind {
    /// libzmq's event bit (`ZMQ_EVENT_*`).
    pub const fn code(self) -> u32 {
        match self {
            MonitorEventKind::Connected => 0x0001,
            MonitorEventKind::ConnectDelayed => 0x0002,
            MonitorEventKind::ConnectRetried => 0x0004,
            MonitorEventKind::Listening => 0x0008,
            MonitorEventKind::BindFailed => 0x0010,
            MonitorEventKind::Accepted => 0x0020,
            MonitorEventKind::AcceptFailed => 0x0040,
            MonitorEventKind::Closed => 0x0080,
            MonitorEventKind::CloseFailed => 0x0100,
            MonitorEventKind::Disconnected => 0x0200,
            MonitorEventKind::MonitorStopped => 0x0400,
            MonitorEventKind::HandshakeFailedNoDetail => 0x0800,
            MonitorEventKind::HandshakeSucceeded => 0x1000,
            MonitorEventKind::HandshakeFailedProtocol => 0x2000,
            MonitorEventKind::HandshakeFailedAuth => 0x4000,
        }
    }
}

/// One monitor event: what, where, and a value whose meaning depends on the kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorEvent {
    /// What happened.
    pub kind: MonitorEventKind,
    /// The endpoint it happened on, as the user wrote it or as it was bound.
    pub endpoint: String,
    /// The kind's value (a connection or listener id, an interval in ms, 0 when none).
    pub value: u64,
}

/// libzmq's `ZMQ_PROTOCOL_ERROR_*` values, carried by `HANDSHAKE_FAILED_PROTOCOL`.
pub mod protocol_error {
    /// A ZMTP error without more detail.
    pub const ZMTP_UNSPECIFIED: u32 = 0x1000_0000;
    /// A command not allowed at this point.
    pub const ZMTP_UNEXPECTED_COMMAND: u32 = 0x1000_0001;
    /// A CURVE nonce out of sequence.
    pub const ZMTP_INVALID_SEQUENCE: u32 = 0x1000_0002;
    /// The key exchange failed.
    pub const ZMTP_KEY_EXCHANGE: u32 = 0x1000_0003;
    /// A malformed command of no particular kind.
    pub const ZMTP_MALFORMED_COMMAND_UNSPECIFIED: u32 = 0x1000_0011;
    /// A malformed MESSAGE.
    pub const ZMTP_MALFORMED_COMMAND_MESSAGE: u32 = 0x1000_0012;
    /// A malformed HELLO.
    pub const ZMTP_MALFORMED_COMMAND_HELLO: u32 = 0x1000_0013;
    /// A malformed INITIATE.
    pub const ZMTP_MALFORMED_COMMAND_INITIATE: u32 = 0x1000_0014;
    /// A malformed ERROR.
    pub const ZMTP_MALFORMED_COMMAND_ERROR: u32 = 0x1000_0015;
    /// A malformed READY.
    pub const ZMTP_MALFORMED_COMMAND_READY: u32 = 0x1000_0016;
    /// A malformed WELCOME.
    pub const ZMTP_MALFORMED_COMMAND_WELCOME: u32 = 0x1000_0017;
    /// Metadata that breaks the rules (a bad socket type, a routing id too long).
    pub const ZMTP_INVALID_METADATA: u32 = 0x1000_0018;
    /// A box that did not open.
    pub const ZMTP_CRYPTOGRAPHIC: u32 = 0x1100_0001;
    /// The peer uses another mechanism.
    pub const ZMTP_MECHANISM_MISMATCH: u32 = 0x1100_0002;
    /// The ZAP handler's reply was not seven frames behind an empty delimiter.
    pub const ZAP_MALFORMED_REPLY: u32 = 0x2000_0001;
    /// The ZAP handler's reply named another request.
    pub const ZAP_BAD_REQUEST_ID: u32 = 0x2000_0002;
    /// The ZAP handler's reply was not version 1.0.
    pub const ZAP_BAD_VERSION: u32 = 0x2000_0003;
    /// The ZAP handler answered a status code RFC 27 does not define.
    pub const ZAP_INVALID_STATUS_CODE: u32 = 0x2000_0004;
    /// The ZAP handler's metadata did not parse.
    pub const ZAP_INVALID_METADATA: u32 = 0x2000_0005;
}

#[cfg(test)]
mod tests {
    use super::MonitorEventKind::*;

    #[test]
    fn codes_are_libzmqs_distinct_bits() {
        let all = [
            Connected,
            ConnectDelayed,
            ConnectRetried,
            Listening,
            BindFailed,
            Accepted,
            AcceptFailed,
            Closed,
            CloseFailed,
            Disconnected,
            MonitorStopped,
            HandshakeFailedNoDetail,
            HandshakeSucceeded,
            HandshakeFailedProtocol,
            HandshakeFailedAuth,
        ];
        for (i, k) in all.iter().enumerate() {
            assert_eq!(k.code(), 1 << i, "{k:?}");
        }
    }
}

//! ZAP, the ZeroMQ Authentication Protocol (RFC 27): what a server asks its handler about a
//! peer, and the handler's answer. The engine raises a [`ZapRequest`] as an event and takes
//! the [`ZapReply`] as an input; a driver may answer from a callback, or forward the request
//! to a handler bound at `inproc://zeromq.zap.01` with [`ZapRequest::to_frames`] and read its
//! answer with [`ZapReply::parse`].

use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{MechanismName, Metadata};
use crate::error::ConnectionError;
use crate::message::Frame;

/// The version every ZAP request and reply carries (RFC 27).
pub const ZAP_VERSION: &[u8] = b"1.0";

/// The questions the server asks about one peer.
#[derive(Clone, PartialEq, Eq)]
pub struct ZapRequest {
    /// ZAP_DOMAIN of the server socket (empty when unset).
    pub domain: Bytes,
    /// The peer's address, as the driver gave it in the engine's settings.
    pub address: String,
    /// The routing id of the server socket itself, as libzmq sends it.
    pub routing_id: Bytes,
    /// NULL, PLAIN or CURVE.
    pub mechanism: MechanismName,
    /// PLAIN: username and password; CURVE: the client's long-term public key; NULL: none.
    pub credentials: Vec<Bytes>,
}

impl std::fmt::Debug for ZapRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A PLAIN password is a credential: show only how many there are.
        f.debug_struct("ZapRequest")
            .field("domain", &self.domain)
            .field("address", &self.address)
            .field("routing_id", &self.routing_id)
            .field("mechanism", &self.mechanism)
            .field("credentials", &self.credentials.len())
            .finish()
    }
}

impl ZapRequest {
    /// The request as RFC 27 frames (after the empty delimiter a REQ-style socket adds):
    /// version, request id, domain, address, identity, mechanism, credentials.
    pub fn to_frames(&self, request_id: &[u8]) -> Vec<Bytes> {
        let mut frames = vec![
            Bytes::from_static(ZAP_VERSION),
            Bytes::copy_from_slice(request_id),
            self.domain.clone(),
            Bytes::copy_from_slice(self.address.as_bytes()),
            self.routing_id.clone(),
            Bytes::copy_from_slice(self.mechanism.trimmed()),
        ];
        frames.extend(self.credentials.iter().cloned());
        frames
    }
}

/// The handler's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZapReply {
    /// 200 (accept), 300 (temporary failure), 400 (refused) or 500 (handler error).
    pub status_code: u16,
    /// The user id the handler gives the peer, reaching messages as `User-Id`.
    pub user_id: Bytes,
    /// Properties the handler adds to every message from this peer.
    pub metadata: Metadata,
    /// Set when the handler's reply could not be read: the handshake then fails as a
    /// protocol error (see [`ZapReply::invalid`]).
    invalid: Option<ZapReplyError>,
}

/// Why a handler's reply cannot be used; each is a `ZMQ_PROTOCOL_ERROR_ZAP_*` code in the
/// `HANDSHAKE_FAILED_PROTOCOL` event, as libzmq reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ZapReplyError {
    /// Not seven frames, or no empty delimiter first (`ZAP_MALFORMED_REPLY`).
    Malformed,
    /// The request id is not the request's (`ZAP_BAD_REQUEST_ID`).
    BadRequestId,
    /// The version is not "1.0" (`ZAP_BAD_VERSION`).
    BadVersion,
    /// The status code is not 200, 300, 400 or 500 (`ZAP_INVALID_STATUS_CODE`).
    InvalidStatusCode,
    /// The metadata frame does not parse (`ZAP_INVALID_METADATA`).
    InvalidMetadata,
}

impl ZapReplyError {
    /// libzmq's `ZMQ_PROTOCOL_ERROR_ZAP_*` code.
    pub fn protocol_error(self) -> u32 {
        use crate::monitor::protocol_error as p;
        match self {
            ZapReplyError::Malformed => p::ZAP_MALFORMED_REPLY,
            ZapReplyError::BadRequestId => p::ZAP_BAD_REQUEST_ID,
            ZapReplyError::BadVersion => p::ZAP_BAD_VERSION,
            ZapReplyError::InvalidStatusCode => p::ZAP_INVALID_STATUS_CODE,
            ZapReplyError::InvalidMetadata => p::ZAP_INVALID_METADATA,
        }
    }
}

impl ZapReply {
    /// An acceptance naming `user_id`.
    pub fn accept(user_id: impl Into<Bytes>) -> Self {
        ZapReply {
            status_code: 200,
            user_id: user_id.into(),
            metadata: Metadata::new(),
            invalid: None,
        }
    }

    /// A refusal with `status_code` (300, 400 or 500).
    pub fn deny(status_code: u16) -> Self {
        ZapReply {
            status_code,
            user_id: Bytes::new(),
            metadata: Metadata::new(),
            invalid: None,
        }
    }

    /// A reply that could not be read, for the session that asked: its handshake fails with
    /// `HANDSHAKE_FAILED_PROTOCOL` and the error's code, without an ERROR to the peer.
    pub fn invalid(error: ZapReplyError) -> Self {
        ZapReply {
            invalid: Some(error),
            ..ZapReply::deny(500)
        }
    }

    /// Reads a whole RFC 27 reply as it comes from a handler's socket — empty delimiter,
    /// version, request id, status code, status text, user id, metadata — checking it in
    /// libzmq's order (frame count and delimiter, version, request id, status code,
    /// metadata). The error names the first check that failed.
    pub fn parse(frames: &[Frame], request_id: &[u8]) -> Result<ZapReply, ZapReplyError> {
        let [delimiter, version, id, code, _text, user_id, metadata] = frames else {
            return Err(ZapReplyError::Malformed);
        };
        if !delimiter.is_empty() {
            return Err(ZapReplyError::Malformed);
        }
        if &version[..] != ZAP_VERSION {
            return Err(ZapReplyError::BadVersion);
        }
        if &id[..] != request_id {
            return Err(ZapReplyError::BadRequestId);
        }
        let status_code = match &code[..] {
            [d @ b'2'..=b'5', b'0', b'0'] => u16::from(d - b'0') * 100,
            _ => return Err(ZapReplyError::InvalidStatusCode),
        };
        let metadata =
            Metadata::parse(metadata.to_bytes()).map_err(|_| ZapReplyError::InvalidMetadata)?;
        Ok(ZapReply {
            status_code,
            user_id: user_id.to_bytes(),
            metadata,
            invalid: None,
        })
    }

    /// The user id and metadata of an acceptance; the error a refusal closes with.
    pub(crate) fn outcome(self) -> Result<(Bytes, Metadata), ConnectionError> {
        if let Some(error) = self.invalid {
            return Err(ConnectionError::BadZapReply(error));
        }
        match self.status_code {
            200 => Ok((self.user_id, self.metadata)),
            300 | 400 | 500 => Err(ConnectionError::AuthFailed {
                status_code: self.status_code,
            }),
            _ => Err(ConnectionError::BadZapReply(
                ZapReplyError::InvalidStatusCode,
            )),
        }
    }
}

/// For a driver that relays many sessions' requests over one socket to a handler (libzmq's
/// `inproc://zeromq.zap.01`), numbering them 1, 2, … as their request ids: takes the
/// request `frames` answers out of `pending` and reads the reply for it. A reply whose id
/// names no pending request — or that is too short to name one — answers the oldest, as a
/// REP handler answers in order; it then fails with the check libzmq's session would fail
/// it with (libzmq gives each session its own pipe, so every reply there is for it).
/// `None` when nothing is pending.
pub fn take_relayed_reply<T>(
    pending: &mut std::collections::BTreeMap<u64, T>,
    frames: &[Frame],
) -> Option<(T, ZapReply)> {
    let named = frames
        .get(2)
        .and_then(|id| std::str::from_utf8(id).ok())
        .and_then(|id| id.parse::<u64>().ok())
        .filter(|id| frames[2][..] == *id.to_string().as_bytes() && pending.contains_key(id));
    let (id, asker) = match named {
        Some(id) => pending.remove_entry(&id)?,
        None => pending.pop_first()?,
    };
    let reply =
        ZapReply::parse(frames, id.to_string().as_bytes()).unwrap_or_else(ZapReply::invalid);
    Some((asker, reply))
}

/// What a completed handshake learned about the peer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Authenticated {
    /// The peer's metadata from READY or INITIATE.
    pub peer: Metadata,
    /// The user id from ZAP (empty without).
    pub user_id: Bytes,
    /// Properties from ZAP.
    pub zap_metadata: Metadata,
}

/// The property naming the user a ZAP handler authenticated.
pub const PROP_USER_ID: &str = "User-Id";
/// The property naming the peer's address.
pub const PROP_PEER_ADDRESS: &str = "Peer-Address";

impl Authenticated {
    /// The properties inbound messages carry: the peer's metadata, then ZAP's, then
    /// `User-Id` and `Peer-Address` when known (libzmq's order of precedence for lookups
    /// is ZAP's first; ours matches since names are looked up in order and ZAP's come
    /// before the peer's).
    pub fn message_properties(&self, peer_address: &str) -> Arc<Metadata> {
        // Sized exactly: the list lives as long as the connection (the Vec's doubling would
        // leave a quarter to a half of it unused).
        let n = self.zap_metadata.iter().count()
            + self.peer.iter().count()
            + usize::from(!self.user_id.is_empty())
            + usize::from(!peer_address.is_empty());
        let mut m = Metadata::with_capacity(n);
        for (name, value) in self.zap_metadata.iter().chain(self.peer.iter()) {
            m.push_parsed(name.clone(), value.clone());
        }
        if !self.user_id.is_empty() {
            m.push_parsed(
                Bytes::from_static(PROP_USER_ID.as_bytes()),
                self.user_id.clone(),
            );
        }
        if !peer_address.is_empty() {
            m.push_parsed(
                Bytes::from_static(PROP_PEER_ADDRESS.as_bytes()),
                Bytes::copy_from_slice(peer_address.as_bytes()),
            );
        }
        Arc::new(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_reply_frames_follow_rfc_27() {
        let req = ZapRequest {
            domain: Bytes::from_static(b"global"),
            address: "127.0.0.1".into(),
            routing_id: Bytes::new(),
            mechanism: MechanismName::PLAIN,
            credentials: vec![Bytes::from_static(b"admin"), Bytes::from_static(b"secret")],
        };
        let frames = req.to_frames(b"7");
        assert_eq!(frames.len(), 8);
        assert_eq!(&frames[5][..], b"PLAIN");
        assert!(!format!("{req:?}").contains("secret"));
        let mut meta = Metadata::new();
        meta.push("Hello", "World").unwrap();
        let mut encoded = bytes::BytesMut::new();
        meta.encode(&mut encoded);
        let reply: [Frame; 7] = [
            Frame::new(),
            Frame::from(b"1.0"),
            Frame::from(b"7"),
            Frame::from(b"200"),
            Frame::from(b"OK"),
            Frame::from(b"admin"),
            encoded.freeze().into(),
        ];
        let r = ZapReply::parse(&reply, b"7").unwrap();
        assert_eq!(r.status_code, 200);
        assert_eq!(r.metadata.get("Hello").unwrap(), "World");
        let with = |i: usize, v: &'static [u8]| {
            let mut f = reply.to_vec();
            f[i] = Frame::from(v);
            f
        };
        use ZapReplyError as E;
        for (frames, err) in [
            (reply[..6].to_vec(), E::Malformed),
            ([&reply[..], &[Frame::new()]].concat(), E::Malformed),
            (with(0, b"x"), E::Malformed),
            (with(1, b"2.0"), E::BadVersion),
            (with(2, b"8"), E::BadRequestId),
            (with(3, b"201"), E::InvalidStatusCode),
            (with(3, b"invalid"), E::InvalidStatusCode),
            (with(3, b"600"), E::InvalidStatusCode),
            (with(6, b"\x05Hello\x00\x00"), E::InvalidMetadata),
        ] {
            assert_eq!(ZapReply::parse(&frames, b"7"), Err(err), "{frames:?}");
        }
        // libzmq's order: the version is checked before the request id.
        let mut both = with(1, b"2.0");
        both[2] = Frame::from(b"8");
        assert_eq!(ZapReply::parse(&both, b"7"), Err(E::BadVersion));
        for code in [b"300", b"400", b"500"] {
            assert_eq!(
                ZapReply::parse(&with(3, code), b"7").unwrap().status_code,
                std::str::from_utf8(code).unwrap().parse::<u16>().unwrap()
            );
        }
    }

    #[test]
    fn a_relayed_reply_answers_its_request_or_else_the_oldest() {
        let reply = |id: &'static [u8], code: &'static [u8]| {
            [b"" as &[u8], b"1.0", id, code, b"", b"", b""].map(Frame::from)
        };
        let mut pending: std::collections::BTreeMap<u64, &str> =
            [(3, "c"), (9, "i"), (10, "j")].into_iter().collect();
        let (who, r) = take_relayed_reply(&mut pending, &reply(b"10", b"400")).unwrap();
        assert_eq!((who, r.status_code), ("j", 400));
        assert_eq!(
            r.outcome(),
            Err(ConnectionError::AuthFailed { status_code: 400 })
        );
        // "09" is not how request 9 was named: the oldest gets a bad request id.
        let (who, r) = take_relayed_reply(&mut pending, &reply(b"09", b"200")).unwrap();
        assert_eq!(who, "c");
        assert_eq!(
            r.outcome(),
            Err(ConnectionError::BadZapReply(ZapReplyError::BadRequestId))
        );
        let (who, r) = take_relayed_reply(&mut pending, &[Frame::new()]).unwrap();
        assert_eq!(who, "i");
        assert_eq!(
            r.outcome(),
            Err(ConnectionError::BadZapReply(ZapReplyError::Malformed))
        );
        assert!(take_relayed_reply(&mut pending, &reply(b"9", b"200")).is_none());
    }

    #[test]
    fn outcomes_by_status_code() {
        assert!(ZapReply::accept("u").outcome().is_ok());
        for code in [300, 400, 500] {
            assert_eq!(
                ZapReply::deny(code).outcome(),
                Err(ConnectionError::AuthFailed { status_code: code })
            );
        }
        assert_eq!(
            ZapReply::deny(404).outcome(),
            Err(ConnectionError::BadZapReply(
                ZapReplyError::InvalidStatusCode
            ))
        );
        assert_eq!(
            ZapReply::invalid(ZapReplyError::BadVersion).outcome(),
            Err(ConnectionError::BadZapReply(ZapReplyError::BadVersion))
        );
    }
}

//! ZAP, the ZeroMQ Authentication Protocol (RFC 27): what a server asks its handler about a
//! peer, and the handler's answer. The engine raises a [`ZapRequest`] as an event and takes
//! the [`ZapReply`] as an input; a driver may answer from a callback, or forward the request
//! to a handler bound at `inproc://zeromq.zap.01` with [`ZapRequest::to_frames`] and read its
//! answer with [`ZapReply::from_frames`].

use std::sync::Arc;

use bytes::Bytes;

use crate::codec::{MechanismName, Metadata};
use crate::error::ConnectionError;

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
}

impl ZapReply {
    /// An acceptance naming `user_id`.
    pub fn accept(user_id: impl Into<Bytes>) -> Self {
        ZapReply {
            status_code: 200,
            user_id: user_id.into(),
            metadata: Metadata::new(),
        }
    }

    /// A refusal with `status_code` (300, 400 or 500).
    pub fn deny(status_code: u16) -> Self {
        ZapReply {
            status_code,
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        }
    }

    /// Reads an RFC 27 reply (after the delimiter): version, request id, status code, status
    /// text, user id, metadata. `None` if the frames are not a reply to `request_id`.
    pub fn from_frames(frames: &[Bytes], request_id: &[u8]) -> Option<ZapReply> {
        let [version, id, code, _text, user_id, metadata] = frames else {
            return None;
        };
        if &version[..] != ZAP_VERSION || &id[..] != request_id {
            return None;
        }
        let status_code = std::str::from_utf8(code).ok()?.parse().ok()?;
        Some(ZapReply {
            status_code,
            user_id: user_id.clone(),
            metadata: Metadata::parse(metadata.clone()).ok()?,
        })
    }

    /// The user id and metadata of an acceptance; the error a refusal closes with.
    pub(crate) fn outcome(self) -> Result<(Bytes, Metadata), ConnectionError> {
        match self.status_code {
            200 => Ok((self.user_id, self.metadata)),
            300 | 400 | 500 => Err(ConnectionError::AuthFailed {
                status_code: self.status_code,
            }),
            other => Err(ConnectionError::BadZapReply { status_code: other }),
        }
    }
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
        let mut m = Metadata::new();
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
        let reply = [
            Bytes::from_static(b"1.0"),
            Bytes::from_static(b"7"),
            Bytes::from_static(b"200"),
            Bytes::from_static(b"OK"),
            Bytes::from_static(b"admin"),
            encoded.freeze(),
        ];
        let r = ZapReply::from_frames(&reply, b"7").unwrap();
        assert_eq!(r.status_code, 200);
        assert_eq!(r.metadata.get("Hello").unwrap(), "World");
        assert!(
            ZapReply::from_frames(&reply, b"8").is_none(),
            "another request"
        );
        assert!(ZapReply::from_frames(&reply[..5], b"7").is_none());
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
            Err(ConnectionError::BadZapReply { status_code: 404 })
        );
    }
}

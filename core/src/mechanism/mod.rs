//! Security mechanisms: the handshake that runs after the greeting, and the transform every
//! frame goes through once it is done. NULL (RFC 23) and PLAIN (RFC 24) leave frames as they
//! are; CURVE (RFC 25/26, the `curve` feature) boxes each one. A server-side handshake may
//! pause to ask a ZAP handler (RFC 27) about the peer; the engine raises the question as an
//! event and resumes when the driver answers.

mod keys;
mod null;
mod options;
mod plain;
pub mod z85;
pub mod zap;

#[cfg(feature = "curve")]
pub mod curve;

pub use keys::{CurvePublicKey, CurveSecretKey, SecretBytes, CURVE_KEY_LEN};
pub use null::NullMechanism;
pub use options::SecurityOptions;
pub use zap::{take_relayed_reply, ZapReply, ZapReplyError, ZapRequest};

use bytes::Bytes;

use crate::codec::{Command, MechanismName, Metadata, WireFrame};
use crate::error::{ConnectionError, ProtocolViolation};
use crate::rng::SecureRandom;
use zap::Authenticated;

/// Which mechanism a connection uses, in which role, and its credentials.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MechanismConfig {
    /// No security (RFC 23 §"The NULL Security Mechanism").
    #[default]
    Null,
    /// PLAIN client (RFC 24): sends a username and password in clear.
    PlainClient {
        /// PLAIN_USERNAME (at most 255 bytes).
        username: Bytes,
        /// PLAIN_PASSWORD (at most 255 bytes).
        password: SecretBytes,
    },
    /// PLAIN server (RFC 24): accepts whoever its ZAP handler accepts; without a handler,
    /// nobody (as libzmq 4.3).
    PlainServer,
    /// CURVE client (RFC 26): our long-term key pair and the server's public key.
    CurveClient {
        /// CURVE_PUBLICKEY.
        public: CurvePublicKey,
        /// CURVE_SECRETKEY.
        secret: CurveSecretKey,
        /// CURVE_SERVERKEY.
        server: CurvePublicKey,
    },
    /// CURVE server (RFC 26): our long-term key pair.
    CurveServer {
        /// CURVE_PUBLICKEY.
        public: CurvePublicKey,
        /// CURVE_SECRETKEY.
        secret: CurveSecretKey,
    },
}

impl MechanismConfig {
    /// The name this mechanism announces in the greeting.
    pub fn name(&self) -> MechanismName {
        match self {
            MechanismConfig::Null => MechanismName::NULL,
            MechanismConfig::PlainClient { .. } | MechanismConfig::PlainServer => {
                MechanismName::PLAIN
            }
            MechanismConfig::CurveClient { .. } | MechanismConfig::CurveServer { .. } => {
                MechanismName::CURVE
            }
        }
    }

    /// Whether this is the server side of PLAIN or CURVE, the side that asks ZAP.
    pub fn is_server(&self) -> bool {
        matches!(
            self,
            MechanismConfig::PlainServer | MechanismConfig::CurveServer { .. }
        )
    }

    /// A fresh handshake for one connection.
    pub(crate) fn start(&self, setup: Setup) -> Result<Box<dyn Mechanism>, ConnectionError> {
        Ok(match self {
            MechanismConfig::Null => Box::new(NullMechanism::new(setup.ours, setup.zap)),
            MechanismConfig::PlainClient { username, password } => Box::new(
                plain::PlainClient::new(setup.ours, username.clone(), password.clone()),
            ),
            MechanismConfig::PlainServer => {
                Box::new(plain::PlainServer::new(setup.ours, setup.zap))
            }
            #[cfg(feature = "curve")]
            MechanismConfig::CurveClient {
                public,
                secret,
                server,
            } => Box::new(curve::CurveClient::new(
                setup.ours,
                curve::ClientKeys {
                    public: *public,
                    secret: secret.clone(),
                    server: *server,
                },
                setup.random.ok_or(NO_RANDOM)?,
                setup.crypto,
            )?),
            #[cfg(feature = "curve")]
            MechanismConfig::CurveServer { public, secret } => Box::new(curve::CurveServer::new(
                setup.ours,
                *public,
                secret.clone(),
                setup.zap,
                setup.random.ok_or(NO_RANDOM)?,
                setup.crypto,
            )?),
            #[cfg(not(feature = "curve"))]
            MechanismConfig::CurveClient { .. } | MechanismConfig::CurveServer { .. } => {
                return Err(ConnectionError::Misconfigured(
                    "CURVE needs oxmq-core's `curve` feature",
                ))
            }
        })
    }
}

#[cfg(feature = "curve")]
const NO_RANDOM: ConnectionError =
    ConnectionError::Misconfigured("CURVE needs a random source in the engine's settings");

/// What a mechanism starts from.
pub(crate) struct Setup {
    /// The metadata we announce.
    pub ours: Metadata,
    /// Whether a ZAP handler is there to ask.
    pub zap: bool,
    /// This connection's random stream, if the driver gave a source.
    #[cfg_attr(not(feature = "curve"), allow(dead_code))]
    pub random: Option<Box<dyn SecureRandom>>,
    /// The CURVE crypto provider.
    #[cfg(feature = "curve")]
    pub crypto: &'static dyn curve::CurveCrypto,
}

/// Where a handshake stands after an input.
#[derive(Debug)]
pub(crate) enum Progress {
    /// More commands are needed.
    Continue,
    /// Ask the ZAP handler about the peer with these credentials; the handshake waits.
    AskZap(Vec<Bytes>),
    /// The handshake is complete.
    Done(Authenticated),
}

/// One side of a mechanism: its handshake and then its frame transform.
pub(crate) trait Mechanism: Send {
    /// Runs once the greetings are exchanged, queueing our first commands.
    fn start(&mut self, out: &mut Vec<Command>) -> Result<Progress, ConnectionError>;

    /// Handles the body of one command frame from the peer during the handshake.
    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError>;

    /// Handles the ZAP handler's answer to the question this mechanism asked.
    fn handle_zap_reply(
        &mut self,
        reply: ZapReply,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError>;

    /// Whether frames are transformed after the handshake (only CURVE's are).
    fn encrypts(&self) -> bool {
        false
    }

    /// Wraps one outgoing frame (a message part, or a command's body when `command`) into the
    /// body of the frame that goes on the wire. Called only when [`Mechanism::encrypts`].
    fn wrap(&mut self, body: &[u8], more: bool, command: bool) -> Bytes {
        let _ = (more, command);
        Bytes::copy_from_slice(body)
    }

    /// Unwraps one incoming frame. Called only when [`Mechanism::encrypts`].
    fn unwrap(&mut self, frame: WireFrame) -> Result<WireFrame, ConnectionError> {
        Ok(frame)
    }
}

/// The peer's ERROR, or an unexpected-command violation naming `cmd`.
pub(crate) fn refuse(cmd: Command) -> ConnectionError {
    match cmd {
        Command::Error(reason) => ConnectionError::PeerError { reason },
        other => ProtocolViolation::UnexpectedCommand(Bytes::copy_from_slice(other.name())).into(),
    }
}

/// A command our mechanism sends that the codec has no variant for (HELLO, WELCOME …).
pub(crate) fn command(name: &'static str, data: Bytes) -> Command {
    Command::Unknown {
        name: Bytes::from_static(name.as_bytes()),
        data,
    }
}

/// The refusal for a ZAP reply that nothing asked for.
pub(crate) fn unasked_zap_reply() -> ConnectionError {
    ProtocolViolation::UnexpectedCommand(Bytes::from_static(b"ZAP reply")).into()
}

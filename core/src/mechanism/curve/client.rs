//! The CURVE client (RFC 26): HELLO, then INITIATE once WELCOME has given the server's
//! short-term key and cookie, then READY from the server ends the handshake.

use bytes::Bytes;

use super::{
    keypair, nonce, open_box, seal_box, split_command, unexpected, Cipher, CurveCrypto, Traffic,
    HELLO_PREFIX, INITIATE_PREFIX, MESSAGE_FROM_CLIENT, MESSAGE_FROM_SERVER, READY_PREFIX, TAG_LEN,
    VOUCH_PREFIX, WELCOME_PREFIX,
};
use crate::codec::{Command, Metadata, WireFrame};
use crate::error::{ConnectionError, Malformed, ProtocolViolation};
use crate::mechanism::keys::{CurvePublicKey, CurveSecretKey};
use crate::mechanism::zap::{Authenticated, ZapReply};
use crate::mechanism::{command, unasked_zap_reply, Mechanism, Progress};
use crate::rng::SecureRandom;

/// HELLO's body: `05 HELLO`, version 1.0, 72 bytes of padding, C', short nonce, an 80-byte
/// box (libzmq sends 200 bytes, not RFC 26's 198).
pub(super) const HELLO_LEN: usize = 200;
/// WELCOME's body: `07 WELCOME`, a 16-byte nonce and a 144-byte box.
pub(super) const WELCOME_LEN: usize = 168;
/// READY's body at least: `05 READY`, a short nonce and a tag.
pub(super) const READY_MIN: usize = 6 + 8 + TAG_LEN;

/// The client's long-term keys and the server's public key.
pub(crate) struct ClientKeys {
    pub public: CurvePublicKey,
    pub secret: CurveSecretKey,
    pub server: CurvePublicKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitWelcome,
    AwaitReady,
    Done,
}

/// One CURVE client handshake, then its traffic.
pub(crate) struct CurveClient {
    ours: Metadata,
    keys: ClientKeys,
    crypto: &'static dyn CurveCrypto,
    random: Box<dyn SecureRandom>,
    /// Our short-term key pair (C', c').
    short_public: CurvePublicKey,
    short_secret: CurveSecretKey,
    /// The box between c' and S', once WELCOME has named S'.
    session: Option<Box<dyn Cipher>>,
    state: State,
    /// The short nonce of our next command.
    next_nonce: u64,
    traffic: Option<Traffic>,
}

impl CurveClient {
    pub(crate) fn new(
        ours: Metadata,
        keys: ClientKeys,
        mut random: Box<dyn SecureRandom>,
        crypto: &'static dyn CurveCrypto,
    ) -> Result<Self, ConnectionError> {
        if keys.secret.is_unset() || keys.server == CurvePublicKey::default() {
            return Err(ConnectionError::Misconfigured(
                "a CURVE client needs CURVE_SECRETKEY and CURVE_SERVERKEY",
            ));
        }
        let mut keys = keys;
        if keys.public == CurvePublicKey::default() {
            keys.public = crypto.public_key(&keys.secret);
        }
        let (short_public, short_secret) = keypair(crypto, random.as_mut());
        Ok(CurveClient {
            ours,
            keys,
            crypto,
            random,
            short_public,
            short_secret,
            session: None,
            state: State::AwaitWelcome,
            next_nonce: 1,
            traffic: None,
        })
    }

    fn take_nonce(&mut self) -> [u8; 8] {
        let n = self.next_nonce.to_be_bytes();
        self.next_nonce += 1;
        n
    }

    /// WELCOME → INITIATE (RFC 26 §"WELCOME Command", §"INITIATE Command").
    fn on_welcome(&mut self, body: &Bytes, out: &mut Vec<Command>) -> Result<(), ConnectionError> {
        if body.len() != WELCOME_LEN {
            return Err(Malformed::BadCommandBody("WELCOME").into());
        }
        let to_server = self
            .crypto
            .box_cipher(&self.keys.server, &self.short_secret);
        let opened = open_box(
            to_server.as_ref(),
            &nonce(WELCOME_PREFIX, &body[8..24]),
            &body[24..],
        )
        .ok_or(ProtocolViolation::Cryptographic("WELCOME"))?;
        // S' (32) then the cookie (16-byte nonce, 80-byte box) we hand back untouched.
        let server_short = CurvePublicKey(opened[..32].try_into().expect("32 bytes"));
        let cookie = &opened[32..128];
        let session = self.crypto.box_cipher(&server_short, &self.short_secret);

        // The vouch: Box[C' + S](C->S'), under a long nonce of our own.
        let mut vouch_nonce = [0u8; 16];
        self.random.fill_bytes(&mut vouch_nonce);
        let mut vouch_plain = [0u8; 64];
        vouch_plain[..32].copy_from_slice(&self.short_public.0);
        vouch_plain[32..].copy_from_slice(&self.keys.server.0);
        let long_term = self.crypto.box_cipher(&server_short, &self.keys.secret);
        let vouch = seal_box(
            long_term.as_ref(),
            &nonce(VOUCH_PREFIX, &vouch_nonce),
            &vouch_plain,
        );

        let mut plain = Vec::with_capacity(128 + self.ours.encoded_len());
        plain.extend_from_slice(&self.keys.public.0);
        plain.extend_from_slice(&vouch_nonce);
        plain.extend_from_slice(&vouch);
        let mut meta = bytes::BytesMut::new();
        self.ours.encode(&mut meta);
        plain.extend_from_slice(&meta);
        let short = self.take_nonce();
        let boxed = seal_box(session.as_ref(), &nonce(INITIATE_PREFIX, &short), &plain);

        let mut data = Vec::with_capacity(96 + 8 + boxed.len());
        data.extend_from_slice(cookie);
        data.extend_from_slice(&short);
        data.extend_from_slice(&boxed);
        out.push(command("INITIATE", Bytes::from(data)));
        self.session = Some(session);
        self.state = State::AwaitReady;
        Ok(())
    }

    /// READY ends the handshake (RFC 26 §"READY Command").
    fn on_ready(&mut self, body: &Bytes) -> Result<Progress, ConnectionError> {
        if body.len() < READY_MIN {
            return Err(Malformed::BadCommandBody("READY").into());
        }
        let short = &body[6..14];
        let session = self.session.take().expect("set with the INITIATE we sent");
        let plain = open_box(session.as_ref(), &nonce(READY_PREFIX, short), &body[14..])
            .ok_or(ProtocolViolation::Cryptographic("READY"))?;
        let peer = Metadata::parse(Bytes::from(plain))?;
        self.traffic = Some(Traffic::new(
            session,
            MESSAGE_FROM_CLIENT,
            MESSAGE_FROM_SERVER,
            self.next_nonce,
            u64::from_be_bytes(short.try_into().expect("8 bytes")),
        ));
        self.state = State::Done;
        Ok(Progress::Done(Authenticated {
            peer,
            ..Authenticated::default()
        }))
    }
}

impl Mechanism for CurveClient {
    fn start(&mut self, out: &mut Vec<Command>) -> Result<Progress, ConnectionError> {
        // HELLO: Box[64 zero bytes](C'->S), proving we know S.
        let to_server = self
            .crypto
            .box_cipher(&self.keys.server, &self.short_secret);
        let short = self.take_nonce();
        let signature = seal_box(to_server.as_ref(), &nonce(HELLO_PREFIX, &short), &[0u8; 64]);
        let mut data = Vec::with_capacity(HELLO_LEN - 6);
        data.extend_from_slice(&[1, 0]);
        data.extend_from_slice(&[0; 72]);
        data.extend_from_slice(&self.short_public.0);
        data.extend_from_slice(&short);
        data.extend_from_slice(&signature);
        out.push(command("HELLO", Bytes::from(data)));
        Ok(Progress::Continue)
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        let (name, _) = split_command(&body).ok_or(Malformed::BadCommandName)?;
        match (self.state, name) {
            (State::AwaitWelcome, b"WELCOME") => {
                self.on_welcome(&body, out)?;
                Ok(Progress::Continue)
            }
            (State::AwaitReady, b"READY") => self.on_ready(&body),
            _ => Err(unexpected(body)),
        }
    }

    fn handle_zap_reply(
        &mut self,
        _reply: ZapReply,
        _out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        Err(unasked_zap_reply())
    }

    fn encrypts(&self) -> bool {
        true
    }

    fn wrap(&mut self, body: &[u8], more: bool, command: bool) -> Bytes {
        self.traffic
            .as_mut()
            .expect("the engine wraps only after the handshake")
            .wrap(body, more, command)
    }

    fn unwrap(&mut self, frame: WireFrame) -> Result<WireFrame, ConnectionError> {
        self.traffic
            .as_mut()
            .expect("the engine unwraps only after the handshake")
            .unwrap(frame)
    }
}

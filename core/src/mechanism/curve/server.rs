//! The CURVE server (RFC 26): HELLO → WELCOME with a cookie, INITIATE → (ZAP) → READY.
//!
//! The cookie key is drawn fresh for each connection when WELCOME is sent and wiped once
//! INITIATE has been checked, as libzmq does: a cookie opens only on the connection that
//! issued it, and only once, so a replayed INITIATE — on this connection or another — is
//! refused. That is stricter than RFC 26's "rotate the cookie key every minute", and needs
//! no shared clock.

use bytes::Bytes;

use super::client::{HELLO_LEN, WELCOME_LEN};
use super::{
    keypair, nonce, open_box, same_secret, seal_box, split_command, unexpected, Cipher,
    CurveCrypto, Traffic, COOKIE_PREFIX, HELLO_PREFIX, INITIATE_PREFIX, MESSAGE_FROM_CLIENT,
    MESSAGE_FROM_SERVER, READY_PREFIX, VOUCH_PREFIX, WELCOME_PREFIX,
};
use crate::codec::{Command, Metadata, WireFrame};
use crate::error::{ConnectionError, Incompatible, Malformed, ProtocolViolation};
use crate::mechanism::keys::{wipe, CurvePublicKey, CurveSecretKey, CURVE_KEY_LEN};
use crate::mechanism::zap::{Authenticated, ZapReply};
use crate::mechanism::{command, unasked_zap_reply, Mechanism, Progress};
use crate::rng::SecureRandom;

/// INITIATE's body at least: `08 INITIATE`, the 96-byte cookie, a short nonce, and a box of
/// C, the vouch's nonce and its 80-byte box.
const INITIATE_MIN: usize = 9 + 96 + 8 + 16 + 128;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    AwaitHello,
    AwaitInitiate,
    AwaitZap,
    Done,
}

/// One CURVE server handshake, then its traffic.
pub(crate) struct CurveServer {
    ours: Option<Metadata>,
    public: CurvePublicKey,
    secret: CurveSecretKey,
    zap: bool,
    crypto: &'static dyn CurveCrypto,
    random: Box<dyn SecureRandom>,
    state: State,
    /// The client's short-term public key (C'), from HELLO.
    client_short: CurvePublicKey,
    /// Our short-term key pair (S', s'), made for WELCOME.
    short_public: CurvePublicKey,
    short_secret: CurveSecretKey,
    /// The key the cookie was boxed under; zero once used.
    cookie_key: [u8; CURVE_KEY_LEN],
    /// The short nonce of the client's HELLO (INITIATE's must follow it).
    hello_nonce: u64,
    /// The box between s' and C', once INITIATE checked out.
    session: Option<Box<dyn Cipher>>,
    /// What the handshake learned, held while ZAP decides.
    pending: Authenticated,
    peer_nonce: u64,
    traffic: Option<Traffic>,
}

impl Drop for CurveServer {
    fn drop(&mut self) {
        wipe(&mut self.cookie_key);
    }
}

impl CurveServer {
    pub(crate) fn new(
        ours: Metadata,
        public: CurvePublicKey,
        secret: CurveSecretKey,
        zap: bool,
        random: Box<dyn SecureRandom>,
        crypto: &'static dyn CurveCrypto,
    ) -> Result<Self, ConnectionError> {
        if secret.is_unset() {
            return Err(ConnectionError::Misconfigured(
                "a CURVE server needs CURVE_SECRETKEY",
            ));
        }
        let public = if public == CurvePublicKey::default() {
            crypto.public_key(&secret)
        } else {
            public
        };
        Ok(CurveServer {
            ours: Some(ours),
            public,
            secret,
            zap,
            crypto,
            random,
            state: State::AwaitHello,
            client_short: CurvePublicKey::default(),
            short_public: CurvePublicKey::default(),
            short_secret: CurveSecretKey::default(),
            cookie_key: [0; CURVE_KEY_LEN],
            hello_nonce: 0,
            session: None,
            pending: Authenticated::default(),
            peer_nonce: 0,
            traffic: None,
        })
    }

    /// HELLO → WELCOME (RFC 26 §"HELLO Command", §"WELCOME Command").
    fn on_hello(&mut self, body: &Bytes, out: &mut Vec<Command>) -> Result<(), ConnectionError> {
        if body.len() != HELLO_LEN {
            return Err(Malformed::BadCommandBody("HELLO").into());
        }
        if body[6..8] != [1, 0] {
            return Err(Incompatible::CurveVersion {
                major: body[6],
                minor: body[7],
            }
            .into());
        }
        let client_short = CurvePublicKey(body[80..112].try_into().expect("32 bytes"));
        let short = &body[112..120];
        let from_client = self.crypto.box_cipher(&client_short, &self.secret);
        let signature = open_box(
            from_client.as_ref(),
            &nonce(HELLO_PREFIX, short),
            &body[120..],
        )
        .ok_or(ProtocolViolation::Cryptographic("HELLO"))?;
        if signature != [0u8; 64] {
            return Err(ProtocolViolation::Cryptographic("HELLO").into());
        }
        self.client_short = client_short;
        self.hello_nonce = u64::from_be_bytes(short.try_into().expect("8 bytes"));

        (self.short_public, self.short_secret) = keypair(self.crypto, self.random.as_mut());
        self.random.fill_bytes(&mut self.cookie_key);
        // The cookie: Box[C' + s'](K), so that we need keep nothing per client (RFC 26);
        // libzmq keeps it per connection all the same, and so do we.
        let mut cookie_nonce = [0u8; 16];
        self.random.fill_bytes(&mut cookie_nonce);
        let mut cookie_plain = [0u8; 64];
        cookie_plain[..32].copy_from_slice(&self.client_short.0);
        cookie_plain[32..].copy_from_slice(self.short_secret.expose());
        let cookie_box = seal_box(
            self.crypto.secretbox_cipher(&self.cookie_key).as_ref(),
            &nonce(COOKIE_PREFIX, &cookie_nonce),
            &cookie_plain,
        );
        wipe(&mut cookie_plain);

        let mut plain = Vec::with_capacity(128);
        plain.extend_from_slice(&self.short_public.0);
        plain.extend_from_slice(&cookie_nonce);
        plain.extend_from_slice(&cookie_box);
        let mut welcome_nonce = [0u8; 16];
        self.random.fill_bytes(&mut welcome_nonce);
        let boxed = seal_box(
            from_client.as_ref(),
            &nonce(WELCOME_PREFIX, &welcome_nonce),
            &plain,
        );
        let mut data = Vec::with_capacity(WELCOME_LEN - 8);
        data.extend_from_slice(&welcome_nonce);
        data.extend_from_slice(&boxed);
        out.push(command("WELCOME", Bytes::from(data)));
        self.state = State::AwaitInitiate;
        Ok(())
    }

    /// INITIATE: the cookie must be ours, the vouch must tie C to C' and S.
    fn on_initiate(&mut self, body: &Bytes) -> Result<Progress, ConnectionError> {
        if body.len() < INITIATE_MIN {
            return Err(Malformed::BadCommandBody("INITIATE").into());
        }
        let cookie_cipher = self.crypto.secretbox_cipher(&self.cookie_key);
        // One cookie per key: this connection takes no second INITIATE, and no other
        // connection's cookie opens under this key.
        wipe(&mut self.cookie_key);
        let mut cookie = open_box(
            cookie_cipher.as_ref(),
            &nonce(COOKIE_PREFIX, &body[9..25]),
            &body[25..105],
        )
        .ok_or(ProtocolViolation::BadCookieOrVouch)?;
        let ours = same_secret(&cookie[..32], &self.client_short.0)
            && same_secret(&cookie[32..], self.short_secret.expose());
        wipe(&mut cookie);
        if !ours {
            return Err(ProtocolViolation::BadCookieOrVouch.into());
        }
        let short = &body[105..113];
        let got = u64::from_be_bytes(short.try_into().expect("8 bytes"));
        if got <= self.hello_nonce {
            return Err(ProtocolViolation::NonceNotIncreasing {
                got,
                last: self.hello_nonce,
            }
            .into());
        }
        let session = self
            .crypto
            .box_cipher(&self.client_short, &self.short_secret);
        let plain = open_box(
            session.as_ref(),
            &nonce(INITIATE_PREFIX, short),
            &body[113..],
        )
        .ok_or(ProtocolViolation::Cryptographic("INITIATE"))?;
        let client_long = CurvePublicKey(plain[..32].try_into().expect("32 bytes"));
        let vouch_cipher = self.crypto.box_cipher(&client_long, &self.short_secret);
        let vouch = open_box(
            vouch_cipher.as_ref(),
            &nonce(VOUCH_PREFIX, &plain[32..48]),
            &plain[48..128],
        )
        .ok_or(ProtocolViolation::Cryptographic("vouch"))?;
        if vouch[..32] != self.client_short.0 || vouch[32..] != self.public.0 {
            return Err(ProtocolViolation::BadCookieOrVouch.into());
        }
        let peer = Metadata::parse(Bytes::from(plain).slice(128..))?;
        self.peer_nonce = got;
        self.session = Some(session);
        self.pending.peer = peer;
        if self.zap {
            self.state = State::AwaitZap;
            // RFC 27: CURVE passes one credential, the client's long-term public key.
            return Ok(Progress::AskZap(vec![Bytes::copy_from_slice(
                &client_long.0,
            )]));
        }
        Ok(Progress::Continue)
    }

    /// READY with our metadata (RFC 26 §"READY Command"); the handshake is done.
    fn ready(&mut self, out: &mut Vec<Command>) -> Progress {
        let session = self
            .session
            .take()
            .expect("set by the INITIATE that led here");
        let mut meta = bytes::BytesMut::new();
        self.ours.take().unwrap_or_default().encode(&mut meta);
        let short = 1u64.to_be_bytes();
        let boxed = seal_box(session.as_ref(), &nonce(READY_PREFIX, &short), &meta);
        let mut data = Vec::with_capacity(8 + boxed.len());
        data.extend_from_slice(&short);
        data.extend_from_slice(&boxed);
        out.push(command("READY", Bytes::from(data)));
        self.traffic = Some(Traffic::new(
            session,
            MESSAGE_FROM_SERVER,
            MESSAGE_FROM_CLIENT,
            2,
            self.peer_nonce,
        ));
        self.state = State::Done;
        Progress::Done(std::mem::take(&mut self.pending))
    }
}

impl Mechanism for CurveServer {
    fn start(&mut self, _out: &mut Vec<Command>) -> Result<Progress, ConnectionError> {
        Ok(Progress::Continue)
    }

    fn handle_command(
        &mut self,
        body: Bytes,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        let (name, _) = split_command(&body).ok_or(Malformed::BadCommandName)?;
        match (self.state, name) {
            (State::AwaitHello, b"HELLO") => {
                self.on_hello(&body, out)?;
                Ok(Progress::Continue)
            }
            (State::AwaitInitiate, b"INITIATE") => match self.on_initiate(&body)? {
                Progress::Continue => Ok(self.ready(out)),
                ask => Ok(ask),
            },
            _ => Err(unexpected(body)),
        }
    }

    fn handle_zap_reply(
        &mut self,
        reply: ZapReply,
        out: &mut Vec<Command>,
    ) -> Result<Progress, ConnectionError> {
        if self.state != State::AwaitZap {
            return Err(unasked_zap_reply());
        }
        (self.pending.user_id, self.pending.zap_metadata) = reply.outcome()?;
        Ok(self.ready(out))
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

//! The mechanism targets: one engine running a PLAIN or CURVE handshake (client or server)
//! against a real counterpart engine, with the fuzzer standing on the wire between them. It
//! decides how bytes travel — in pieces, corrupted, dropped, replayed, or replaced by bytes
//! of its own — when the ZAP handler answers and what, and what each side sends.
//!
//! CURVE runs with oxmq-core's no-crypto provider and fixed keys, so the boxes are plaintext
//! behind a zero tag: the fuzzer reaches every state of the handshake and the traffic after
//! it without breaking X25519.
//!
//! Checked whatever the input: no panic, nothing after `Closed`, no message or ZAP request
//! out of turn, transmit accounting. And when the fuzzer left the bytes alone and ZAP said
//! yes: both sides connect, and every message arrives whole and in order.

use std::time::Duration;

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use oxmq_core::mechanism::curve::INSECURE_NO_CRYPTO;
use oxmq_core::mechanism::{
    CurvePublicKey, CurveSecretKey, MechanismConfig, SecretBytes, ZapReply,
};
use oxmq_core::{
    Engine, EngineConfig, Event, Instant, Message, RandomSource, SecureRandom, SocketType,
};

/// Which side of which mechanism the fuzzed engine plays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    PlainServer,
    PlainClient,
    CurveServer,
    CurveClient,
}

/// The PLAIN server target.
pub fn plain_server(data: &[u8]) {
    run(Role::PlainServer, data);
}

/// The PLAIN client target.
pub fn plain_client(data: &[u8]) {
    run(Role::PlainClient, data);
}

/// The CURVE server target.
pub fn curve_server(data: &[u8]) {
    run(Role::CurveServer, data);
}

/// The CURVE client target.
pub fn curve_client(data: &[u8]) {
    run(Role::CurveClient, data);
}

fn run(role: Role, data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = Setup::arbitrary(&mut u) else {
        return;
    };
    let mut wire = Wire::new(role, setup);
    while !u.is_empty() {
        let Ok(op) = Op::arbitrary(&mut u) else {
            break;
        };
        wire.step(op);
    }
    wire.finish();
}

#[derive(Arbitrary, Debug)]
struct Setup {
    /// Whether the server side has a ZAP handler (answered by `Op::Zap`).
    zap: bool,
    /// Which of two passwords the PLAIN client sends (the handler is the fuzzer either way).
    right_password: bool,
}

/// One thing that happens on the wire or at either end.
#[derive(Arbitrary, Debug)]
enum Op {
    /// Up to this many of the peer's bytes reach the fuzzed engine.
    Deliver(u16),
    /// Everything the fuzzed engine wrote reaches the peer.
    Return,
    /// Flips one bit of the peer's next undelivered bytes.
    Corrupt { at: u16, bit: u8 },
    /// Bytes of the fuzzer's own reach the fuzzed engine.
    Inject(#[arbitrary(with = short_bytes)] Vec<u8>),
    /// The last bytes delivered arrive again.
    Replay,
    /// This many of the peer's bytes are lost.
    Drop(u16),
    /// The ZAP handler answers the oldest question.
    Zap(ZapAnswer),
    /// The peer sends a message of 1–3 frames.
    PeerSends(#[arbitrary(with = frame_count)] usize, u8),
    /// The fuzzed engine sends a message of 1–3 frames.
    Sends(#[arbitrary(with = frame_count)] usize, u8),
    /// The fuzzed engine subscribes (its peer may be anything; a refusal is fine).
    Subscribe(u8),
    /// The clock moves this many milliseconds.
    Elapse(u8),
    /// The peer closes its side of the stream.
    Eof,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
enum ZapAnswer {
    Accept,
    Temporary,
    Refuse,
    Failure,
    Nonsense,
}

fn short_bytes(u: &mut Unstructured) -> Result<Vec<u8>> {
    let len = usize::from(u8::arbitrary(u)?).min(u.len());
    Ok(u.bytes(len)?.to_vec())
}

fn frame_count(u: &mut Unstructured) -> Result<usize> {
    u.int_in_range(1..=3)
}

/// A counter, not a random stream: the fuzzer needs repeatable runs, and with the
/// no-crypto provider nothing depends on the bytes being unpredictable.
struct Counter(u8);

impl SecureRandom for Counter {
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for b in dst {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

const SERVER_KEY: [u8; 32] = [1; 32];
const CLIENT_KEY: [u8; 32] = [2; 32];

fn configs(role: Role, setup: &Setup) -> (EngineConfig, EngineConfig) {
    let mut client = EngineConfig::new(SocketType::Dealer);
    let mut server = EngineConfig::new(SocketType::Router);
    match role {
        Role::PlainServer | Role::PlainClient => {
            let password = if setup.right_password {
                "secret"
            } else {
                "guess"
            };
            client.mechanism = MechanismConfig::PlainClient {
                username: Bytes::from_static(b"admin"),
                password: SecretBytes::new(password),
            };
            server.mechanism = MechanismConfig::PlainServer;
        }
        Role::CurveServer | Role::CurveClient => {
            // With the no-crypto provider a public key is its secret key.
            client.mechanism = MechanismConfig::CurveClient {
                public: CurvePublicKey(CLIENT_KEY),
                secret: CurveSecretKey::from_bytes(CLIENT_KEY),
                server: CurvePublicKey(SERVER_KEY),
            };
            server.mechanism = MechanismConfig::CurveServer {
                public: CurvePublicKey(SERVER_KEY),
                secret: CurveSecretKey::from_bytes(SERVER_KEY),
            };
        }
    }
    for (c, seed) in [(&mut client, 0u8), (&mut server, 128u8)] {
        c.curve_crypto = &INSECURE_NO_CRYPTO;
        c.random = Some(RandomSource::new(move || Box::new(Counter(seed))));
        c.max_msg_size = Some(64 * 1024);
        c.heartbeat_ivl = Duration::from_millis(100);
    }
    server.zap_handler = setup.zap;
    server.zap_domain = Bytes::from_static(b"fuzz");
    match role {
        Role::PlainServer | Role::CurveServer => (server, client),
        Role::PlainClient | Role::CurveClient => (client, server),
    }
}

/// One end: its engine and what its events said.
struct End {
    engine: Engine,
    handshaken: bool,
    closed: bool,
    messages: Vec<Message>,
    zap_asked: usize,
    is_server: bool,
    zap: bool,
}

impl End {
    fn new(config: EngineConfig) -> End {
        let is_server = config.mechanism.is_server();
        let zap = config.zap_handler;
        End {
            engine: Engine::new(config, Instant::ZERO),
            handshaken: false,
            closed: false,
            messages: Vec::new(),
            zap_asked: 0,
            is_server,
            zap,
        }
    }

    fn drain(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            assert!(!self.closed, "an event after Closed: {event:?}");
            match event {
                Event::Closed(_) => self.closed = true,
                Event::HandshakeSucceeded(_) => {
                    assert!(!self.handshaken, "a second handshake");
                    self.handshaken = true;
                }
                Event::Message(m) => {
                    assert!(self.handshaken, "a message before the handshake");
                    self.messages.push(m);
                }
                Event::Subscribe(_) | Event::Cancel(_) => {
                    assert!(self.handshaken, "a subscription before the handshake");
                }
                Event::ZapRequest(req) => {
                    assert!(
                        self.is_server && self.zap,
                        "a ZAP request nobody configured"
                    );
                    assert!(!self.handshaken, "a ZAP request after the handshake");
                    assert!(req.credentials.len() <= 2);
                    self.zap_asked += 1;
                }
                Event::HandshakeFailed(e) => {
                    assert!(self.is_server && self.zap, "a ZAP refusal nobody asked for");
                    assert!(!self.handshaken, "a refusal after the handshake");
                    assert_eq!(
                        e,
                        oxmq_core::ConnectionError::AuthFailed { status_code: 300 }
                    );
                }
            }
        }
        assert_eq!(self.engine.is_closed(), self.closed);
        assert_eq!(self.engine.is_ready(), self.handshaken && !self.closed);
    }

    fn take_output(&mut self) -> Vec<u8> {
        let pending = self.engine.pending_transmit();
        let mut out = Vec::with_capacity(pending);
        while let Some(chunk) = self.engine.poll_transmit() {
            out.extend_from_slice(&chunk);
        }
        assert_eq!(
            out.len(),
            pending,
            "poll_transmit and pending_transmit disagree"
        );
        out
    }
}

/// The fuzzed engine, its real counterpart, and the bytes in flight between them.
struct Wire {
    fuzzed: End,
    peer: End,
    /// What the peer wrote that the fuzzed engine has not been given yet.
    to_fuzzed: Vec<u8>,
    last_delivered: Vec<u8>,
    now: Instant,
    /// Whether the fuzzer touched the bytes, the verdicts or the clock: then nothing is
    /// promised.
    meddled: bool,
    zap_answered: usize,
    sent_by_peer: Vec<Message>,
    sent_by_fuzzed: Vec<Message>,
}

impl Wire {
    fn new(role: Role, setup: Setup) -> Wire {
        let (fuzzed, peer) = configs(role, &setup);
        let mut w = Wire {
            fuzzed: End::new(fuzzed),
            peer: End::new(peer),
            to_fuzzed: Vec::new(),
            last_delivered: Vec::new(),
            now: Instant::ZERO,
            meddled: false,
            zap_answered: 0,
            sent_by_peer: Vec::new(),
            sent_by_fuzzed: Vec::new(),
        };
        w.settle();
        w
    }

    /// Collects what the peer wrote, and gives the peer what the fuzzed engine wrote only
    /// on `Return`.
    fn settle(&mut self) {
        self.fuzzed.drain();
        self.peer.drain();
        let out = self.peer.take_output();
        self.to_fuzzed.extend_from_slice(&out);
    }

    fn deliver(&mut self, n: usize) {
        let n = n.min(self.to_fuzzed.len());
        let chunk: Vec<u8> = self.to_fuzzed.drain(..n).collect();
        self.fuzzed.engine.handle_input(&chunk, self.now);
        if !chunk.is_empty() {
            self.last_delivered = chunk;
        }
    }

    fn give_back(&mut self) {
        let out = self.fuzzed.take_output();
        self.peer.engine.handle_input(&out, self.now);
    }

    fn answer_zap(&mut self, answer: ZapAnswer) {
        if self.zap_answered >= self.fuzzed.zap_asked.max(self.peer.zap_asked) {
            return;
        }
        self.zap_answered += 1;
        let reply = match answer {
            ZapAnswer::Accept => ZapReply::accept("fuzz-user"),
            ZapAnswer::Temporary => ZapReply::deny(300),
            ZapAnswer::Refuse => ZapReply::deny(400),
            ZapAnswer::Failure => ZapReply::deny(500),
            ZapAnswer::Nonsense => ZapReply::deny(999),
        };
        if !matches!(answer, ZapAnswer::Accept) {
            self.meddled = true;
        }
        let server = if self.fuzzed.is_server {
            &mut self.fuzzed
        } else {
            &mut self.peer
        };
        server.engine.handle_zap_reply(reply, self.now);
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Deliver(n) => self.deliver(usize::from(n)),
            Op::Return => self.give_back(),
            Op::Corrupt { at, bit } => {
                if !self.to_fuzzed.is_empty() {
                    let i = usize::from(at) % self.to_fuzzed.len();
                    self.to_fuzzed[i] ^= 1 << (bit % 8);
                    self.meddled = true;
                }
            }
            Op::Inject(bytes) => {
                self.meddled |= !bytes.is_empty();
                self.fuzzed.engine.handle_input(&bytes, self.now);
            }
            Op::Replay => {
                self.meddled |= !self.last_delivered.is_empty();
                self.fuzzed
                    .engine
                    .handle_input(&self.last_delivered, self.now);
            }
            Op::Drop(n) => {
                let n = usize::from(n).min(self.to_fuzzed.len());
                self.meddled |= n > 0;
                self.to_fuzzed.drain(..n);
            }
            Op::Zap(answer) => self.answer_zap(answer),
            Op::PeerSends(frames, byte) => {
                let m = message(frames, byte);
                if self.peer.engine.send(&m).is_ok() {
                    self.sent_by_peer.push(m);
                }
            }
            Op::Sends(frames, byte) => {
                let m = message(frames, byte);
                let result = self.fuzzed.engine.send(&m);
                assert_eq!(result.is_ok(), self.fuzzed.engine.is_ready());
                if result.is_ok() {
                    self.sent_by_fuzzed.push(m);
                }
            }
            Op::Subscribe(topic) => {
                let _ = self.fuzzed.engine.send_subscribe(&[topic]);
            }
            Op::Elapse(ms) => {
                // Time may expire a heartbeat or the handshake: no promise after it.
                self.meddled |= ms > 0;
                self.now = self.now + Duration::from_millis(u64::from(ms));
                self.fuzzed.engine.handle_timeout(self.now);
                self.peer.engine.handle_timeout(self.now);
            }
            Op::Eof => {
                self.meddled = true;
                self.fuzzed.engine.handle_eof(self.now);
            }
        }
        self.settle();
    }

    /// The network heals: everything in flight arrives, ZAP says yes to whatever is still
    /// waiting, until nothing moves. Then, if nothing was meddled with, the promise holds.
    fn finish(mut self) {
        for _ in 0..64 {
            if self.fuzzed.zap_asked.max(self.peer.zap_asked) > self.zap_answered {
                self.answer_zap(ZapAnswer::Accept);
            }
            let before = (self.to_fuzzed.len(), self.fuzzed.engine.pending_transmit());
            self.deliver(usize::MAX);
            self.give_back();
            self.settle();
            let quiet = before == (0, 0)
                && self.to_fuzzed.is_empty()
                && self.fuzzed.engine.pending_transmit() == 0
                && self.fuzzed.zap_asked.max(self.peer.zap_asked) == self.zap_answered;
            if quiet {
                break;
            }
        }
        if self.meddled {
            return;
        }
        let plain = matches!(
            self.fuzzed.engine.config().mechanism,
            MechanismConfig::PlainClient { .. } | MechanismConfig::PlainServer
        );
        if plain && !(self.fuzzed.zap || self.peer.zap) {
            // libzmq's rule: no ZAP handler, no PLAIN client gets in.
            let server = if self.fuzzed.is_server {
                &self.fuzzed
            } else {
                &self.peer
            };
            assert!(
                server.closed && !server.handshaken,
                "PLAIN let a client in without ZAP"
            );
            return;
        }
        assert!(
            self.fuzzed.handshaken && self.peer.handshaken,
            "an untouched handshake did not complete"
        );
        assert!(!self.fuzzed.closed && !self.peer.closed);
        assert_eq!(self.fuzzed.messages, self.sent_by_peer, "peer to fuzzed");
        assert_eq!(self.peer.messages, self.sent_by_fuzzed, "fuzzed to peer");
        if self.fuzzed.is_server && self.fuzzed.zap {
            for m in &self.fuzzed.messages {
                assert_eq!(
                    m.property("User-Id").map(|b| &b[..]),
                    Some(&b"fuzz-user"[..])
                );
            }
        }
    }
}

fn message(frames: usize, byte: u8) -> Message {
    // Frame sizes around the short/long header boundary.
    let len = usize::from(byte) + 100;
    Message::from_frames(vec![Bytes::from(vec![byte; len]); frames])
}

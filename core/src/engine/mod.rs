//! The engine: one ZMTP connection, from greeting through handshake to traffic, with
//! heartbeats — as a state machine fed bytes and time.
//!
//! # Driving an engine
//!
//! 1. Create it with [`Engine::new`]; it queues our greeting at once. A CURVE engine needs a
//!    [`RandomSource`] in its settings: the driver's CSPRNG, or a seeded stream in a
//!    simulation.
//! 2. Whenever bytes arrive, pass them to [`Engine::handle_input`] (or read straight into
//!    [`Engine::read_buffer`] and call [`Engine::handle_read`]); on end of stream call
//!    [`Engine::handle_eof`].
//! 3. Drain [`Engine::poll_event`] until it returns `None`. Decoding happens here, lazily, so a
//!    driver that stops draining (its pipe is full) applies back-pressure: undrained bytes stay
//!    in the read buffer and the driver stops reading its socket. An [`Event::ZapRequest`]
//!    (only raised when [`EngineConfig::zap_handler`] says there is a handler) is answered,
//!    now or later, with [`Engine::handle_zap_reply`]; the handshake waits meanwhile.
//! 4. Write out what [`Engine::transmit_slices`] offers and report it with
//!    [`Engine::advance_transmit`] (or take chunks with [`Engine::poll_transmit`]).
//! 5. Call [`Engine::handle_timeout`] once [`Engine::poll_timeout`] is due.
//!
//! After [`Event::Closed`] the engine is finished: flush what is left to transmit (it may hold
//! an ERROR command for the peer), then close the connection.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::codec::command::{PROP_IDENTITY, PROP_SOCKET_TYPE};
use crate::codec::greeting::GREETING_LEN;
use crate::codec::{
    Command, Decoded, Encoder, FrameDecoder, Greeting, Metadata, WireFrame, ZmtpVersion,
};
use crate::error::{ConnectionError, Incompatible, ProtocolViolation};
use crate::mechanism::zap::Authenticated;
use crate::mechanism::{Mechanism, MechanismConfig, NullMechanism, Progress, Setup};
use crate::mechanism::{ZapReply, ZapRequest};
use crate::message::{Frame, Message};
use crate::rng::RandomSource;
use crate::socket_type::SocketType;
use crate::time::{Instant, TimerTable};

#[cfg(test)]
mod tests;

/// Default HANDSHAKE_IVL, as libzmq's.
pub const DEFAULT_HANDSHAKE_IVL: Duration = Duration::from_secs(30);

/// The settings one connection runs with (a subset of the socket's options).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Our socket type, announced in READY and checked against the peer's.
    pub socket_type: SocketType,
    /// Our routing id (ROUTING_ID, 1–255 bytes), announced as `Identity` by REQ, DEALER and
    /// ROUTER as libzmq does. The socket layer validates it.
    pub routing_id: Option<Bytes>,
    /// The security mechanism, its role and credentials.
    pub mechanism: MechanismConfig,
    /// Whether the driver has a ZAP handler (RFC 27) to ask. A PLAIN or CURVE server asks it
    /// about every client, NULL only when `zap_domain` is set. Without one, libzmq 4.3's
    /// rules apply: CURVE and NULL let the peer in, PLAIN refuses it.
    pub zap_handler: bool,
    /// ZAP_DOMAIN, sent in ZAP requests.
    pub zap_domain: Bytes,
    /// The peer's address, for ZAP requests and the `Peer-Address` message property (empty
    /// when the driver has none to give).
    pub peer_address: String,
    /// Where this connection draws randomness from (CURVE needs it).
    pub random: Option<RandomSource>,
    /// The CURVE crypto provider: RustCrypto's, unless a fuzzer swaps in the no-crypto one.
    #[cfg(feature = "curve")]
    pub curve_crypto: &'static dyn crate::mechanism::curve::CurveCrypto,
    /// Application metadata (ZMQ_METADATA) added to READY, in order.
    pub metadata: Metadata,
    /// HANDSHAKE_IVL: greeting and handshake must finish within this; zero disables it.
    pub handshake_ivl: Duration,
    /// HEARTBEAT_IVL: send a PING this often once connected; zero disables heartbeats.
    pub heartbeat_ivl: Duration,
    /// HEARTBEAT_TIMEOUT: close if nothing arrives this long after a PING; `None` = the interval.
    pub heartbeat_timeout: Option<Duration>,
    /// HEARTBEAT_TTL: the time-to-live announced in our PINGs (tenths of a second on the wire).
    pub heartbeat_ttl: Duration,
    /// MAXMSGSIZE: the largest frame accepted from the peer; `None` for no limit.
    pub max_msg_size: Option<u64>,
    /// Simulator hook (BUGGIFY): hold our side of the handshake (READY) this long after the
    /// greeting, so peers see a slow handshake; messages wait meanwhile.
    #[cfg(feature = "sim")]
    pub sim_ready_delay: Duration,
    /// Raw mode, for STREAM sockets: no ZMTP at all. Each batch of received bytes is one
    /// message, each frame sent is written as it is, and the connection is ready at once.
    pub raw: bool,
}

impl EngineConfig {
    /// libzmq's defaults for a socket of type `socket_type`.
    pub fn new(socket_type: SocketType) -> Self {
        EngineConfig {
            socket_type,
            routing_id: None,
            mechanism: MechanismConfig::Null,
            zap_handler: false,
            zap_domain: Bytes::new(),
            peer_address: String::new(),
            random: None,
            #[cfg(feature = "curve")]
            curve_crypto: &crate::mechanism::curve::RUST_CRYPTO,
            metadata: Metadata::new(),
            handshake_ivl: DEFAULT_HANDSHAKE_IVL,
            heartbeat_ivl: Duration::ZERO,
            heartbeat_timeout: None,
            heartbeat_ttl: Duration::ZERO,
            max_msg_size: None,
            raw: socket_type == SocketType::Stream,
            #[cfg(feature = "sim")]
            sim_ready_delay: Duration::ZERO,
        }
    }

    /// The TTL field of our PINGs: deciseconds, saturating at the u16 maximum as libzmq caps it.
    fn ttl_deciseconds(&self) -> u16 {
        u16::try_from(self.heartbeat_ttl.as_millis() / 100).unwrap_or(u16::MAX)
    }

    fn our_metadata(&self) -> Metadata {
        let mut m = Metadata::new();
        // Both names are fixed and valid; values are short (socket type) or ≤ 255 bytes.
        let _ = m.push(
            PROP_SOCKET_TYPE,
            Bytes::from_static(self.socket_type.as_str().as_bytes()),
        );
        if self.socket_type.sends_identity() {
            let _ = m.push(PROP_IDENTITY, self.routing_id.clone().unwrap_or_default());
        }
        for (name, value) in self.metadata.iter() {
            // Already validated when the application added them.
            let _ = m.push(&String::from_utf8_lossy(name), value.clone());
        }
        m
    }
}

/// What we learned about the peer in its handshake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerInfo {
    /// The ZMTP revision spoken.
    pub version: ZmtpVersion,
    /// The peer's socket type, if it sent one (libzmq does not insist).
    pub socket_type: Option<SocketType>,
    /// The peer's routing id, if it sent a non-empty `Identity`.
    pub routing_id: Option<Bytes>,
    /// All of the peer's metadata properties.
    pub metadata: Metadata,
    /// What the peer's messages carry as properties (its metadata, `User-Id`, ZAP
    /// metadata, `Peer-Address`): [`Engine::properties`] once the handshake is done.
    pub properties: Option<Arc<Metadata>>,
}

/// What an engine tells its driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The handshake completed; messages may flow. (Boxed, as is [`Event::ZapRequest`]:
    /// once per connection, they would otherwise make every message's event three times
    /// its size.)
    HandshakeSucceeded(Box<PeerInfo>),
    /// A whole message arrived.
    Message(Message),
    /// The peer subscribed to a topic with a ZMTP 3.1 SUBSCRIBE command.
    Subscribe(Bytes),
    /// The peer cancelled a subscription with a ZMTP 3.1 CANCEL command.
    Cancel(Bytes),
    /// The handshake waits for the ZAP handler's verdict on the peer: answer with
    /// [`Engine::handle_zap_reply`]. Raised only when the settings say there is a handler.
    ZapRequest(Box<ZapRequest>),
    /// Our ZAP handler answered 300 (a temporary failure). As libzmq, the engine reports it
    /// at once (`HANDSHAKE_FAILED_AUTH` 300), sends nothing more — no ERROR, so the peer
    /// may try again — and leaves the connection open until the handshake timer, the peer
    /// closing, or anything more from the peer ends it with [`Event::Closed`].
    HandshakeFailed(ConnectionError),
    /// The connection is over; flush pending transmit bytes, then close it.
    Closed(ConnectionError),
}

/// Why the engine would not take a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The handshake has not completed yet.
    NotReady,
    /// The connection has ended.
    Closed,
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::NotReady => f.write_str("handshake not complete"),
            SendError::Closed => f.write_str("connection closed"),
        }
    }
}

impl std::error::Error for SendError {}

/// Counters kept by an engine.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EngineStats {
    /// PINGs we sent.
    pub pings_sent: u64,
    /// PINGs the peer sent us.
    pub pings_received: u64,
    /// PONGs the peer sent us.
    pub pongs_received: u64,
    /// Whole messages received.
    pub messages_received: u64,
    /// Whole messages queued for sending.
    pub messages_sent: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Greeting,
    Handshake,
    Traffic,
    Closed,
}

/// The engine's timers, one slot each in its [`TimerTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    Handshake = 0,
    HeartbeatIvl = 1,
    HeartbeatTimeout = 2,
    HeartbeatTtl = 3,
    /// The simulator's delayed READY (the `sim` feature).
    #[cfg_attr(not(feature = "sim"), allow(dead_code))]
    SimReady = 4,
}

/// One ZMTP connection.
pub struct Engine {
    config: Arc<EngineConfig>,
    phase: Phase,
    version: Option<ZmtpVersion>,
    mechanism: Box<dyn Mechanism>,
    /// Whether traffic goes through the mechanism's transform (CURVE, once connected).
    encrypting: bool,
    /// Whether the handshake waits for a ZAP reply (input stays buffered meanwhile).
    zap_pending: bool,
    /// Our ZAP handler answered 300: the handshake has failed but the connection idles
    /// (see [`Event::HandshakeFailed`]); the error it closes with in the end.
    refused: Option<ConnectionError>,
    /// The properties every inbound message carries, once the handshake is done.
    properties: Option<Arc<Metadata>>,
    decoder: FrameDecoder,
    rx: BytesMut,
    tx: Encoder,
    timers: TimerTable<5>,
    events: VecDeque<Event>,
    /// Frames of a message whose last frame has not arrived yet.
    partial: Vec<Frame>,
    /// The latest time any input told us.
    now: Instant,
    eof: bool,
    stats: EngineStats,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("socket_type", &self.config.socket_type)
            .field("phase", &self.phase)
            .field("version", &self.version)
            .field("rx", &self.rx.len())
            .field("tx", &self.tx.pending())
            .finish()
    }
}

impl Engine {
    /// A new connection at time `now`; our greeting is queued for transmission at once.
    pub fn new(config: EngineConfig, now: Instant) -> Engine {
        Engine::with_config(Arc::new(config), now)
    }

    /// [`Engine::new`] with a configuration shared with its owner (a session keeps it to
    /// make the next connection's engine): one copy, not two.
    pub fn with_config(config: Arc<EngineConfig>, now: Instant) -> Engine {
        let mut tx = Encoder::default();
        let mut timers = TimerTable::default();
        let mut events = VecDeque::new();
        // A raw (STREAM) connection's only property is the peer's address, as in libzmq; its
        // connect notice and every chunk carry it.
        let raw_properties = (config.raw && !config.peer_address.is_empty()).then(|| {
            crate::mechanism::zap::Authenticated::default().message_properties(&config.peer_address)
        });
        let phase = if config.raw {
            events.push_back(Event::HandshakeSucceeded(Box::new(PeerInfo {
                version: ZmtpVersion::V3_1,
                socket_type: None,
                routing_id: None,
                metadata: raw_properties.as_deref().cloned().unwrap_or_default(),
                properties: raw_properties.clone(),
            })));
            Phase::Traffic
        } else {
            tx.raw(&Greeting::ours(config.mechanism.name(), false).encode());
            if !config.handshake_ivl.is_zero() {
                timers.set(Timer::Handshake as usize, now + config.handshake_ivl);
            }
            Phase::Greeting
        };
        let setup = Setup {
            ours: config.our_metadata(),
            zap: config.zap_handler
                && (config.mechanism.is_server()
                    || (config.mechanism == MechanismConfig::Null
                        && !config.zap_domain.is_empty())),
            // Only CURVE draws randomness: other mechanisms open no stream.
            random: config
                .random
                .as_ref()
                .filter(|_| config.mechanism.name() == crate::codec::MechanismName::CURVE)
                .map(RandomSource::stream),
            #[cfg(feature = "curve")]
            crypto: config.curve_crypto,
        };
        let (mechanism, refused) = match config.mechanism.start(setup) {
            Ok(m) => (m, None),
            Err(e) => (
                Box::new(NullMechanism::new(Metadata::new(), false)) as Box<dyn Mechanism>,
                Some(e),
            ),
        };
        let mut engine = Engine {
            mechanism,
            encrypting: false,
            zap_pending: false,
            refused: None,
            properties: raw_properties,
            decoder: FrameDecoder::new(config.max_msg_size),
            config,
            phase,
            version: None,
            rx: BytesMut::new(),
            tx,
            timers,
            events,
            partial: Vec::new(),
            now,
            eof: false,
            stats: EngineStats::default(),
        };
        if let Some(e) = refused {
            engine.fail(e);
        }
        engine
    }

    /// The properties inbound messages carry (peer metadata, `User-Id`, ZAP metadata,
    /// `Peer-Address`), once the handshake is done.
    pub fn properties(&self) -> Option<&Arc<Metadata>> {
        self.properties.as_ref()
    }

    /// The settings this engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The negotiated ZMTP revision, once the peer's greeting is in.
    pub fn version(&self) -> Option<ZmtpVersion> {
        self.version
    }

    /// Whether the handshake has completed and the connection is still up.
    pub fn is_ready(&self) -> bool {
        self.phase == Phase::Traffic
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// Counters.
    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    // ----- inputs -------------------------------------------------------------------------

    /// Bytes received from the peer at `now`.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        if self.phase == Phase::Closed || data.is_empty() {
            return;
        }
        self.rx.extend_from_slice(data);
        self.handle_read(now);
    }

    /// The buffer a driver may read into directly; call [`Engine::handle_read`] after.
    pub fn read_buffer(&mut self) -> &mut BytesMut {
        &mut self.rx
    }

    /// Gives back an emptied receive buffer, event queue and send batch (see
    /// [`Session::shrink_idle`]).
    ///
    /// [`Session::shrink_idle`]: crate::session::Session::shrink_idle
    pub fn shrink_idle(&mut self) {
        if self.rx.is_empty() && self.rx.capacity() > 0 {
            self.rx = BytesMut::new();
        }
        crate::session::shrink_if_empty(&mut self.events);
        self.tx.shrink_idle();
        if self.partial.is_empty() && self.partial.capacity() > 0 {
            self.partial = Vec::new();
        }
    }

    /// How many bytes the frame at the front of the receive buffer still lacks, once its
    /// header is in (0 otherwise): a driver may size its next read to take a large body in
    /// one piece. The peer announced this size, so a driver caps what it reserves for it.
    pub fn bytes_wanted(&self) -> usize {
        match self.phase {
            Phase::Handshake | Phase::Traffic => self.decoder.bytes_missing(&self.rx).unwrap_or(0),
            Phase::Greeting | Phase::Closed => 0,
        }
    }

    /// Reports that the driver appended received bytes to [`Engine::read_buffer`] at `now`.
    pub fn handle_read(&mut self, now: Instant) {
        self.advance_clock(now);
        if self.phase == Phase::Traffic {
            // libzmq: any traffic from the peer resets the heartbeat timeout and the TTL.
            self.timers.stop(Timer::HeartbeatTimeout as usize);
            self.timers.stop(Timer::HeartbeatTtl as usize);
        }
    }

    /// The peer closed its side of the byte stream.
    pub fn handle_eof(&mut self, now: Instant) {
        self.advance_clock(now);
        self.eof = true;
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.advance_clock(now);
        if self.phase == Phase::Closed {
            return;
        }
        if self.timers.take_expired(Timer::Handshake as usize, now) {
            return self.fail(ConnectionError::HandshakeTimeout);
        }
        if self
            .timers
            .take_expired(Timer::HeartbeatTimeout as usize, now)
        {
            return self.fail(ConnectionError::HeartbeatTimeout);
        }
        if self.timers.take_expired(Timer::HeartbeatTtl as usize, now) {
            return self.fail(ConnectionError::HeartbeatTtlExpired);
        }
        if self.timers.take_expired(Timer::HeartbeatIvl as usize, now) {
            self.send_ping(now);
        }
        if self.timers.take_expired(Timer::SimReady as usize, now) {
            if let Err(e) = self.start_mechanism() {
                self.fail(e);
            }
        }
    }

    /// The ZAP handler's verdict on the peer, answering [`Event::ZapRequest`]. A reply that
    /// nothing waits for (the connection ended meanwhile) is ignored. A refusal ends the
    /// connection with [`ConnectionError::AuthFailed`].
    pub fn handle_zap_reply(&mut self, reply: ZapReply, now: Instant) {
        self.advance_clock(now);
        if !self.zap_pending || self.phase != Phase::Handshake {
            return;
        }
        self.zap_pending = false;
        let mut out = Vec::new();
        let result = self.mechanism.handle_zap_reply(reply, &mut out);
        match result.and_then(|p| self.on_progress(p, out)) {
            Ok(()) => {}
            Err(e @ ConnectionError::AuthFailed { status_code: 300 }) => {
                self.events.push_back(Event::HandshakeFailed(e.clone()));
                self.refused = Some(e);
                // What the peer sent while the verdict was pending (a NULL client's READY)
                // is done with; only what comes after counts as more.
                self.rx.clear();
            }
            Err(e) => self.fail(e),
        }
    }

    /// Queues a whole message for the peer.
    pub fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        self.check_can_send()?;
        if self.config.raw {
            for f in msg.frames() {
                match f.as_shared() {
                    Some(b) => self.tx.bytes(b),
                    None => self.tx.raw(f),
                }
            }
            self.stats.messages_sent += 1;
            return Ok(());
        }
        let frames = msg.frames();
        let last = frames.len() - 1;
        for (i, f) in frames.iter().enumerate() {
            self.put_frame(f, i < last);
        }
        self.stats.messages_sent += 1;
        Ok(())
    }

    /// Queues one message frame, through the mechanism's transform if it has one.
    fn put_frame(&mut self, body: &Frame, more: bool) {
        if self.encrypting {
            // libzmq sends a CURVE MESSAGE as a plain frame; MORE travels inside the box.
            let boxed = self.mechanism.wrap(body, more, false);
            self.tx.frame(&boxed, false);
        } else {
            match body.as_shared() {
                Some(b) => self.tx.frame(b, more),
                None => self.tx.frame_copied(body, more),
            }
        }
    }

    /// Queues one command after the handshake, through the mechanism's transform if it has
    /// one (libzmq boxes PING, PONG, SUBSCRIBE and CANCEL with the COMMAND flag inside).
    fn put_command(&mut self, cmd: &Command) {
        if self.encrypting {
            let mut body = BytesMut::with_capacity(cmd.body_len());
            cmd.encode_body(&mut body);
            let boxed = self.mechanism.wrap(&body, false, true);
            self.tx.frame(&boxed, false);
        } else {
            self.tx.command(cmd);
        }
    }

    /// Asks the peer for messages starting with `topic`: a SUBSCRIBE command to a ZMTP 3.1
    /// peer, a message `01 topic` to a 3.0 peer (RFC 29 / RFC 37).
    pub fn send_subscribe(&mut self, topic: &[u8]) -> Result<(), SendError> {
        self.send_subscription(topic, true)
    }

    /// Cancels one subscription to `topic`, in the form the peer understands.
    pub fn send_cancel(&mut self, topic: &[u8]) -> Result<(), SendError> {
        self.send_subscription(topic, false)
    }

    fn send_subscription(&mut self, topic: &[u8], subscribe: bool) -> Result<(), SendError> {
        self.check_can_send()?;
        let topic = Bytes::copy_from_slice(topic);
        if self.version.is_some_and(ZmtpVersion::has_commands_3_1) {
            let cmd = if subscribe {
                Command::Subscribe(topic)
            } else {
                Command::Cancel(topic)
            };
            self.put_command(&cmd);
        } else {
            let mut body = Vec::with_capacity(1 + topic.len());
            body.push(u8::from(subscribe));
            body.extend_from_slice(&topic);
            self.put_frame(&Frame::from(body), false);
        }
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), SendError> {
        match self.phase {
            Phase::Traffic => Ok(()),
            Phase::Closed => Err(SendError::Closed),
            Phase::Greeting | Phase::Handshake => Err(SendError::NotReady),
        }
    }

    // ----- outputs ------------------------------------------------------------------------

    /// The next event, decoding buffered input as needed. See the module docs for the order.
    pub fn poll_event(&mut self) -> Option<Event> {
        // The common case first: a one-frame message in plain traffic is handed out as it is
        // decoded, without a trip through the event queue. Only with the queue empty, so
        // that nothing overtakes an event already in it.
        if self.events.is_empty() && self.plain_traffic() {
            match self.decoder.decode_message(&mut self.rx) {
                Ok(Some(Decoded::Short { more: false, body })) if self.partial.is_empty() => {
                    return Some(Event::Message(self.single_message(body)));
                }
                Ok(Some(Decoded::Frame(f))) if !f.command && !f.more && self.partial.is_empty() => {
                    return Some(Event::Message(self.single_message(Frame::from(f.body))));
                }
                Ok(Some(decoded)) => {
                    if let Err(e) = self.on_decoded(decoded) {
                        self.fail(e);
                    }
                }
                // No whole frame: the loop below looks again, and sees an end of input.
                Ok(None) => {}
                Err(e) => self.fail(e),
            }
        }
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            if self.phase == Phase::Closed {
                return None;
            }
            match self.step() {
                Ok(true) => {}
                Ok(false) if self.eof => self.fail(ConnectionError::PeerClosed),
                Ok(false) => return None,
                Err(e) => self.fail(e),
            }
        }
    }

    /// When [`Engine::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Bytes waiting to be written to the peer.
    pub fn pending_transmit(&self) -> usize {
        self.tx.pending()
    }

    /// Fills `dst` with the bytes waiting to be written, in order; returns the slice count.
    pub fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        self.tx.io_slices(dst)
    }

    /// Reports that the first `n` bytes offered by [`Engine::transmit_slices`] were written.
    pub fn advance_transmit(&mut self, n: usize) {
        self.tx.advance(n.min(self.tx.pending()));
    }

    /// Takes the next chunk of bytes to write; the driver owns writing all of it.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.tx.pop_chunk()
    }

    // ----- internals ----------------------------------------------------------------------

    fn advance_clock(&mut self, now: Instant) {
        self.now = self.now.max(now);
    }

    /// ZMTP frames after the handshake, neither encrypted nor refused, on a connection that
    /// is not raw: what [`FrameDecoder::decode_message`] cuts.
    fn plain_traffic(&self) -> bool {
        self.phase == Phase::Traffic
            && !self.encrypting
            && !self.config.raw
            && self.refused.is_none()
    }

    /// Decodes one unit of input; `Ok(false)` means more bytes are needed.
    fn step(&mut self) -> Result<bool, ConnectionError> {
        if self.config.raw {
            if self.rx.is_empty() {
                return Ok(false);
            }
            let chunk = self.rx.split().freeze();
            self.stats.messages_received += 1;
            let mut msg = Message::single(chunk);
            msg.set_properties(self.properties.clone());
            self.events.push_back(Event::Message(msg));
            return Ok(true);
        }
        if let Some(e) = &self.refused {
            // libzmq: any command after the refusal is a protocol error, reported already.
            return if self.rx.is_empty() {
                Ok(false)
            } else {
                Err(e.clone())
            };
        }
        if self.phase == Phase::Greeting {
            let Some(greeting) = Greeting::decode(&self.rx)? else {
                return Ok(false);
            };
            let _ = self.rx.split_to(GREETING_LEN);
            self.on_greeting(greeting)?;
            return Ok(true);
        }
        // While our delayed READY is held back, or ZAP has not answered, the peer's handshake
        // waits in the buffer.
        if self.phase == Phase::Handshake
            && (self.zap_pending || self.timers.is_set(Timer::SimReady as usize))
        {
            return Ok(false);
        }
        if self.plain_traffic() {
            // A short message frame is copied out of the buffer: no share of it to count.
            return match self.decoder.decode_message(&mut self.rx)? {
                None => Ok(false),
                Some(decoded) => {
                    self.on_decoded(decoded)?;
                    Ok(true)
                }
            };
        }
        match self.decoder.decode(&mut self.rx)? {
            None => Ok(false),
            Some(frame) => {
                self.on_frame(frame)?;
                Ok(true)
            }
        }
    }

    fn on_greeting(&mut self, g: Greeting) -> Result<(), ConnectionError> {
        self.version = Some(ZmtpVersion::negotiate(g.major, g.minor)?);
        let ours = self.config.mechanism.name();
        if g.mechanism != ours {
            return Err(Incompatible::Mechanism {
                ours,
                theirs: g.mechanism,
            }
            .into());
        }
        self.phase = Phase::Handshake;
        #[cfg(feature = "sim")]
        if !self.config.sim_ready_delay.is_zero() {
            let at = self.now + self.config.sim_ready_delay;
            self.timers.set(Timer::SimReady as usize, at);
            return Ok(());
        }
        self.start_mechanism()
    }

    fn start_mechanism(&mut self) -> Result<(), ConnectionError> {
        let mut out = Vec::new();
        let progress = self.mechanism.start(&mut out)?;
        self.on_progress(progress, out)
    }

    /// Sends the handshake commands a mechanism queued, then acts on where it stands.
    fn on_progress(
        &mut self,
        progress: Progress,
        out: Vec<Command>,
    ) -> Result<(), ConnectionError> {
        for cmd in &out {
            self.tx.command(cmd);
        }
        match progress {
            Progress::Continue => Ok(()),
            Progress::AskZap(credentials) => {
                self.zap_pending = true;
                self.events
                    .push_back(Event::ZapRequest(Box::new(ZapRequest {
                        domain: self.config.zap_domain.clone(),
                        address: self.config.peer_address.clone(),
                        routing_id: self.config.routing_id.clone().unwrap_or_default(),
                        mechanism: self.config.mechanism.name(),
                        credentials,
                    })));
                Ok(())
            }
            Progress::Done(auth) => self.on_handshake_done(auth),
        }
    }

    fn on_frame(&mut self, frame: WireFrame) -> Result<(), ConnectionError> {
        match self.phase {
            Phase::Handshake => {
                if !frame.command {
                    return Err(ProtocolViolation::MessageBeforeHandshake.into());
                }
                let mut out = Vec::new();
                let progress = self.mechanism.handle_command(frame.body, &mut out)?;
                self.on_progress(progress, out)
            }
            Phase::Traffic => {
                let frame = if self.encrypting {
                    self.mechanism.unwrap(frame)?
                } else {
                    frame
                };
                self.on_traffic_frame(frame)
            }
            Phase::Greeting | Phase::Closed => Ok(()),
        }
    }

    /// A whole frame in the traffic phase, in the clear: a command or part of a message.
    #[inline(always)]
    fn on_traffic_frame(&mut self, frame: WireFrame) -> Result<(), ConnectionError> {
        if frame.command {
            return self.on_command(Command::parse(frame.body)?);
        }
        self.on_message_frame(frame.more, Frame::from(frame.body));
        Ok(())
    }

    /// A frame [`FrameDecoder::decode_message`] cut in plain traffic.
    fn on_decoded(&mut self, decoded: Decoded) -> Result<(), ConnectionError> {
        match decoded {
            Decoded::Short { more, body } => {
                self.on_message_frame(more, body);
                Ok(())
            }
            Decoded::Frame(frame) => self.on_traffic_frame(frame),
        }
    }

    /// A message frame in the traffic phase: kept until the message's last, which hands the
    /// whole message up.
    #[inline(always)]
    fn on_message_frame(&mut self, more: bool, body: Frame) {
        if more {
            self.partial.push(body);
            return;
        }
        let msg = if self.partial.is_empty() {
            self.single_message(body)
        } else {
            self.stats.messages_received += 1;
            self.partial.push(body);
            let mut msg = Message::from_frames(std::mem::take(&mut self.partial));
            msg.set_properties(self.properties.clone());
            msg
        };
        self.events.push_back(Event::Message(msg));
    }

    /// A message of the one frame `body`: the common case, with no list of parts to build.
    fn single_message(&mut self, body: Frame) -> Message {
        self.stats.messages_received += 1;
        let mut msg = Message::single(body);
        msg.set_properties(self.properties.clone());
        msg
    }

    fn on_handshake_done(&mut self, auth: Authenticated) -> Result<(), ConnectionError> {
        let meta = &auth.peer;
        let ours = self.config.socket_type;
        let socket_type = match meta.get(PROP_SOCKET_TYPE) {
            None => None,
            Some(name) => match SocketType::from_name(name) {
                Some(t) if ours.is_compatible_with(t) => Some(t),
                _ => {
                    return Err(Incompatible::SocketType {
                        ours,
                        theirs: name.clone(),
                    }
                    .into())
                }
            },
        };
        let routing_id = match meta.get(PROP_IDENTITY) {
            Some(id) if id.len() > 255 => {
                return Err(ProtocolViolation::RoutingIdTooLong(id.len()).into())
            }
            Some(id) if !id.is_empty() => Some(id.clone()),
            _ => None,
        };
        let version = self.version.unwrap_or(ZmtpVersion::V3_1);
        self.properties = Some(auth.message_properties(&self.config.peer_address));
        self.encrypting = self.mechanism.encrypts();
        self.phase = Phase::Traffic;
        self.timers.stop(Timer::Handshake as usize);
        // libzmq arms its heartbeat whatever the peer's minor version: a ZMTP 3.0 peer gets
        // PINGs too (libzmq's `test_heartbeats` checks it with a 3.0 mock peer).
        if !self.config.heartbeat_ivl.is_zero() {
            self.timers.set(
                Timer::HeartbeatIvl as usize,
                self.now + self.config.heartbeat_ivl,
            );
        }
        self.events
            .push_back(Event::HandshakeSucceeded(Box::new(PeerInfo {
                version,
                socket_type,
                routing_id,
                metadata: auth.peer,
                properties: self.properties.clone(),
            })));
        Ok(())
    }

    fn on_command(&mut self, cmd: Command) -> Result<(), ConnectionError> {
        match cmd {
            Command::Subscribe(topic) => self.events.push_back(Event::Subscribe(topic)),
            Command::Cancel(topic) => self.events.push_back(Event::Cancel(topic)),
            Command::Ping {
                ttl_deciseconds,
                context,
            } => {
                self.stats.pings_received += 1;
                // RFC 37: a PING with a TTL means "close if you hear nothing for that long".
                let ttl = Duration::from_millis(u64::from(ttl_deciseconds) * 100);
                let slot = Timer::HeartbeatTtl as usize;
                if !ttl.is_zero() && !self.timers.is_set(slot) {
                    self.timers.set(slot, self.now + ttl);
                }
                self.put_command(&Command::Pong(context));
            }
            Command::Pong(_) => self.stats.pongs_received += 1,
            Command::Error(reason) => return Err(ConnectionError::PeerError { reason }),
            // libzmq drops anything else after the handshake, a repeated READY included.
            Command::Ready(_) | Command::Unknown { .. } => {}
        }
        Ok(())
    }

    fn send_ping(&mut self, now: Instant) {
        self.put_command(&Command::Ping {
            ttl_deciseconds: self.config.ttl_deciseconds(),
            context: Bytes::new(),
        });
        self.stats.pings_sent += 1;
        let timeout = self
            .config
            .heartbeat_timeout
            .unwrap_or(self.config.heartbeat_ivl);
        let slot = Timer::HeartbeatTimeout as usize;
        if !timeout.is_zero() && !self.timers.is_set(slot) {
            self.timers.set(slot, now + timeout);
        }
        self.timers.set(
            Timer::HeartbeatIvl as usize,
            now + self.config.heartbeat_ivl,
        );
    }

    fn fail(&mut self, error: ConnectionError) {
        if self.phase == Phase::Closed {
            return;
        }
        // After a refusal with 300 the connection ends with that, whatever ends it.
        let error = self.refused.take().unwrap_or(error);
        if let Some(reason) = error.wire_reason() {
            if self.phase == Phase::Handshake {
                self.tx
                    .command(&Command::Error(Bytes::from_static(reason.as_bytes())));
            }
        }
        self.phase = Phase::Closed;
        self.zap_pending = false;
        self.timers.clear();
        self.partial.clear();
        self.rx.clear();
        self.events.push_back(Event::Closed(error));
    }
}

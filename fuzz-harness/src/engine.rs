//! The engine target: one ZMTP connection fed whatever a peer might send, and driven through
//! whatever a driver and the application may do in between.

use std::io::IoSlice;
use std::time::Duration;

use arbitrary::{Arbitrary, Result, Unstructured};
use bytes::Bytes;
use oxmq_core::engine::SendError;
use oxmq_core::{Engine, EngineConfig, Event, Instant, Message, SocketType};

/// Runs one engine on arbitrary input: `arbitrary` reads an `EngineSetup`, then
/// `EngineInput`s until the bytes run out; then the peer closes the stream. After every
/// input the driver drains the events and checks that nothing follows `Closed`, that `send`
/// and the engine's state agree with the events, and that the transmit queue accounts for
/// every byte.
pub fn engine(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let Ok(setup) = EngineSetup::arbitrary(&mut u) else {
        return;
    };
    let mut run = EngineRun::new(setup);
    while !u.is_empty() {
        // Short input reads as zeros, so an input fails only on a malformed derive; end there.
        let Ok(input) = EngineInput::arbitrary(&mut u) else {
            break;
        };
        run.step(input);
    }
    run.finish();
}

/// The connection's settings.
#[derive(Arbitrary, Debug)]
struct EngineSetup {
    #[arbitrary(with = socket_type)]
    socket_type: SocketType,
    /// HEARTBEAT_IVL 100 ms and HEARTBEAT_TTL 1 s, or no heartbeats.
    heartbeats: bool,
}

/// One thing that happens to a connection.
#[derive(Arbitrary, Debug)]
enum EngineInput {
    /// Bytes from the peer, through `handle_input`.
    Input(#[arbitrary(with = peer_bytes)] Vec<u8>),
    /// Bytes from the peer, read straight into `read_buffer`, then `handle_read`.
    Read(#[arbitrary(with = peer_bytes)] Vec<u8>),
    /// The clock moves this many milliseconds, and the driver fires the timers.
    Elapse(u8),
    /// The clock moves to the engine's next deadline, if it has one, and the timers fire.
    Deadline,
    /// The application sends a message of `frames` frames (1–3) of `len` bytes (0–300, so
    /// both the short and the long frame header).
    Send {
        #[arbitrary(with = frame_count)]
        frames: usize,
        #[arbitrary(with = frame_len)]
        len: usize,
    },
    /// The application subscribes or cancels, as SUB and XSUB do.
    Subscription { subscribe: bool, topic: u8 },
    /// The driver writes everything queued, chunk by chunk.
    Transmit,
    /// The driver writes at most this many bytes with one vectored write.
    WriteSome(u16),
    /// The peer closes its side of the stream.
    Eof,
}

fn socket_type(u: &mut Unstructured) -> Result<SocketType> {
    u.choose(&SocketType::ALL).copied()
}

/// Up to 255 bytes, the count first.
fn peer_bytes(u: &mut Unstructured) -> Result<Vec<u8>> {
    let len = usize::from(u8::arbitrary(u)?).min(u.len());
    Ok(u.bytes(len)?.to_vec())
}

fn frame_count(u: &mut Unstructured) -> Result<usize> {
    u.int_in_range(1..=3)
}

fn frame_len(u: &mut Unstructured) -> Result<usize> {
    u.int_in_range(0..=300)
}

/// The engine, its clock, and what its events said so far.
struct EngineRun {
    engine: Engine,
    socket_type: SocketType,
    now: Instant,
    handshaken: bool,
    closed: bool,
    /// Bytes queued for the peer when `Closed` came out; a closed engine queues no more.
    pending_at_close: usize,
}

impl EngineRun {
    fn new(setup: EngineSetup) -> Self {
        let mut config = EngineConfig::new(setup.socket_type);
        config.max_msg_size = Some(64 * 1024);
        if setup.heartbeats {
            config.heartbeat_ivl = Duration::from_millis(100);
            config.heartbeat_ttl = Duration::from_secs(1);
        }
        let now = Instant::ZERO;
        let mut run = EngineRun {
            engine: Engine::new(config, now),
            socket_type: setup.socket_type,
            now,
            handshaken: false,
            closed: false,
            pending_at_close: 0,
        };
        run.settle();
        run
    }

    fn step(&mut self, input: EngineInput) {
        let engine = &mut self.engine;
        match input {
            EngineInput::Input(bytes) => engine.handle_input(&bytes, self.now),
            EngineInput::Read(bytes) => {
                engine.read_buffer().extend_from_slice(&bytes);
                engine.handle_read(self.now);
            }
            EngineInput::Elapse(ms) => {
                self.now = self.now + Duration::from_millis(u64::from(ms));
                engine.handle_timeout(self.now);
            }
            EngineInput::Deadline => {
                if let Some(at) = engine.poll_timeout() {
                    self.now = self.now.max(at);
                    engine.handle_timeout(self.now);
                    // Every timer due now fired; a live engine's next deadline is later.
                    assert!(
                        engine.is_closed() || engine.poll_timeout().is_none_or(|t| t > self.now),
                        "a timer due at {at:?} stayed due after handle_timeout"
                    );
                }
            }
            EngineInput::Send { frames, len } => {
                let frame = Bytes::from(vec![b'x'; len]);
                let msg = Message::from_frames(vec![frame; frames]);
                let result = engine.send(&msg);
                self.check_send(result);
            }
            EngineInput::Subscription { subscribe, topic } => {
                let topic = [topic];
                let result = if subscribe {
                    engine.send_subscribe(&topic)
                } else {
                    engine.send_cancel(&topic)
                };
                self.check_send(result);
            }
            EngineInput::Transmit => {
                let pending = engine.pending_transmit();
                let mut written = 0;
                while let Some(chunk) = engine.poll_transmit() {
                    assert!(!chunk.is_empty(), "poll_transmit offered an empty chunk");
                    written += chunk.len();
                }
                assert_eq!(
                    written, pending,
                    "poll_transmit and pending_transmit disagree"
                );
                assert_eq!(engine.pending_transmit(), 0);
            }
            EngineInput::WriteSome(max) => {
                let pending = engine.pending_transmit();
                let mut slices = [IoSlice::new(&[]); 4];
                let count = engine.transmit_slices(&mut slices);
                let offered: usize = slices[..count].iter().map(|s| s.len()).sum();
                assert!(
                    offered <= pending && (offered > 0) == (pending > 0),
                    "transmit_slices offered {offered} of {pending} pending bytes"
                );
                let n = offered.min(usize::from(max));
                engine.advance_transmit(n);
                assert_eq!(engine.pending_transmit(), pending - n);
            }
            EngineInput::Eof => engine.handle_eof(self.now),
        }
        self.settle();
    }

    /// `send` succeeds exactly while the events say the connection is up.
    fn check_send(&self, result: std::result::Result<(), SendError>) {
        let expected = if self.closed {
            Err(SendError::Closed)
        } else if !self.handshaken {
            Err(SendError::NotReady)
        } else {
            Ok(())
        };
        assert_eq!(result, expected, "send disagrees with the events");
    }

    /// What a driver does after every input: drain the events, then the checks.
    fn settle(&mut self) {
        while let Some(event) = self.engine.poll_event() {
            assert!(!self.closed, "an event after Closed: {event:?}");
            match event {
                Event::Closed(_) => {
                    self.closed = true;
                    self.pending_at_close = self.engine.pending_transmit();
                }
                Event::Message(m) => {
                    assert!(self.handshaken, "a message before the handshake");
                    assert!(!m.frames().is_empty());
                }
                Event::HandshakeSucceeded(p) => {
                    assert!(!self.handshaken, "a second handshake");
                    self.handshaken = true;
                    if let Some(t) = p.socket_type {
                        assert!(self.socket_type.is_compatible_with(t));
                    }
                }
                Event::Subscribe(_) | Event::Cancel(_) => {
                    assert!(self.handshaken, "a subscription before the handshake");
                }
                Event::ZapRequest(_) => panic!("a ZAP request with no ZAP handler configured"),
                Event::HandshakeFailed(_) => panic!("a ZAP refusal with no ZAP handler"),
            }
        }
        let engine = &self.engine;
        assert_eq!(engine.is_closed(), self.closed, "is_closed disagrees");
        assert_eq!(
            engine.is_ready(),
            self.handshaken && !self.closed,
            "is_ready disagrees"
        );
        if self.closed {
            // What was queued before the end may still go out; nothing new is queued.
            let pending = engine.pending_transmit();
            assert!(
                pending <= self.pending_at_close,
                "a closed engine queued more bytes"
            );
            self.pending_at_close = pending;
        }
    }

    /// The peer hangs up: whatever state it was in, the engine must end.
    fn finish(&mut self) {
        self.engine.handle_eof(self.now);
        self.settle();
        assert!(self.closed, "end of input must close the engine");
    }
}

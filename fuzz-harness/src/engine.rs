//! The engine target: one ZMTP connection fed whatever a peer might send.

use std::time::Duration;

use oxmq_core::{Engine, EngineConfig, Event, Instant, Message, SocketType};

/// Runs one engine on arbitrary input. Byte 0 picks the socket type, byte 1 the read size and
/// whether heartbeats are on; from then on the input is what the peer sent, with the clock
/// moving a little at every piece.
pub fn engine(data: &[u8]) {
    let [kind, knobs, rest @ ..] = data else {
        return;
    };
    let socket_type = SocketType::ALL[usize::from(*kind) % SocketType::ALL.len()];
    let mut config = EngineConfig::new(socket_type);
    config.max_msg_size = Some(64 * 1024);
    if knobs & 0x80 != 0 {
        config.heartbeat_ivl = Duration::from_millis(100);
        config.heartbeat_ttl = Duration::from_secs(1);
    }
    let step = usize::from(knobs & 0x3F) + 1;
    let mut now = Instant::ZERO;
    let mut engine = Engine::new(config, now);
    let mut closed = false;
    for piece in rest.chunks(step) {
        now = now + Duration::from_millis(u64::from(piece[0] % 64));
        engine.handle_input(piece, now);
        engine.handle_timeout(now);
        while let Some(event) = engine.poll_event() {
            assert!(!closed, "an event after Closed");
            match event {
                Event::Closed(_) => closed = true,
                Event::Message(m) => assert!(!m.frames().is_empty()),
                Event::HandshakeSucceeded(p) => {
                    if let Some(t) = p.socket_type {
                        assert!(socket_type.is_compatible_with(t));
                    }
                }
                Event::Subscribe(_) | Event::Cancel(_) => {}
            }
        }
        // Whatever the peer says, we may reply; a closed engine has nothing more to say
        // but what it already queued.
        let _ = engine.send(&Message::single("x"));
        while engine.poll_transmit().is_some() {}
    }
    engine.handle_eof(now);
    while let Some(event) = engine.poll_event() {
        assert!(!closed, "an event after Closed");
        closed = matches!(event, Event::Closed(_));
    }
    assert!(
        closed && engine.is_closed(),
        "end of input must close the engine"
    );
}

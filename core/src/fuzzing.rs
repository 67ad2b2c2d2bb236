//! Entry points for the fuzz targets in `fuzz/` (each target is one call to one of these), kept
//! in the crate so the committed seed corpora also run as ordinary tests.
//!
//! Each function feeds arbitrary bytes to one parser or state machine and checks the
//! invariants that must hold whatever the input: no panic, lengths respected, nothing after
//! `Closed`.

use bytes::{Bytes, BytesMut};

use crate::codec::{Command, FrameDecoder, Greeting};
use crate::engine::{Engine, EngineConfig, Event};
use crate::socket_type::SocketType;
use crate::time::Instant;
use std::time::Duration;

/// Decodes frames from `data` fed in pieces whose sizes the first byte picks, and parses every
/// command frame. Checks that whole-input and piecewise decoding agree.
pub fn frame_decoder(data: &[u8]) {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let decoder = FrameDecoder::new(Some(1 << 20));
    let whole = decode_all(&decoder, rest, rest.len().max(1));
    let piecewise = decode_all(&decoder, rest, usize::from(split % 16) + 1);
    assert_eq!(whole, piecewise, "splitting the input changed the frames");
}

fn decode_all(
    decoder: &FrameDecoder,
    data: &[u8],
    step: usize,
) -> (Vec<(bool, bool, Bytes)>, bool) {
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in data.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(f)) => {
                    if f.command {
                        let _ = Command::parse(f.body.clone());
                    }
                    frames.push((f.more, f.command, f.body));
                }
                Ok(None) => break,
                Err(_) => return (frames, true),
            }
        }
    }
    (frames, false)
}

/// Decodes a greeting from every prefix of `data`; a prefix that is refused must stay refused
/// and a complete greeting must re-encode to a valid greeting.
pub fn greeting(data: &[u8]) {
    let mut refused = false;
    for end in 0..=data.len().min(64) {
        match Greeting::decode(&data[..end]) {
            Ok(None) => assert!(!refused, "a refused prefix was accepted when longer"),
            Ok(Some(g)) => {
                assert_eq!(end, 64);
                let again = Greeting::decode(&g.encode()).expect("our own greeting decodes");
                assert_eq!(
                    again.map(|a| (a.major, a.mechanism)),
                    Some((g.major, g.mechanism))
                );
            }
            Err(_) => refused = true,
        }
    }
}

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
        let _ = engine.send(&crate::Message::single("x"));
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

#[cfg(test)]
mod tests {
    /// Runs every committed seed of every fuzz target as a plain test.
    #[test]
    fn committed_fuzz_corpora_run_clean() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus");
        type Target = fn(&[u8]);
        let targets: [(&str, Target); 3] = [
            ("frame_decoder", super::frame_decoder),
            ("greeting", super::greeting),
            ("engine", super::engine),
        ];
        for (name, run) in targets {
            let dir = std::path::Path::new(root).join(name);
            let mut seeds = 0;
            for entry in std::fs::read_dir(&dir).expect("corpus folder") {
                let bytes = std::fs::read(entry.expect("entry").path()).expect("seed");
                run(&bytes);
                seeds += 1;
            }
            assert!(seeds > 0, "no seeds for {name}");
        }
    }
}
